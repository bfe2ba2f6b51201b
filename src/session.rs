//! The plumbing the commands share: the runtime, connecting to the account (credentials,
//! region, endpoint → a [`Client`]), the live walk with its progress spinner, the audit of an
//! inventory and the exit gate. In: the parsed flags and the config file. Out: clients,
//! inventories, reports and an [`Outcome`]. It never prints a result; `output` does.

use crate::cli::{self, AccountArgs, OutputArgs, WalkArgs};
use crate::client::{Client, ClientConfig, Endpoint};
use crate::config::Config;
use crate::inventory::walk::{self, WalkOptions};
use crate::inventory::{self, Inventory, RegionId};
use crate::output::progress;
use crate::report::{self, Report};
use crate::rules::{self, AuditContext, Catalog};
use crate::selection::{Selection, Selector};
use crate::{account, graph, regions, Error, Outcome};
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

/// The tokio runtime the network commands run on.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)
}

/// An environment variable, when set and not blank.
pub(crate) fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Credentials, region and endpoint → a client for the live account. The config file's
/// defaults (region, profile, qps) apply where no flag or variable was given.
pub(crate) async fn connect(
    account: &AccountArgs,
    walk: &WalkArgs,
) -> Result<(Client, RegionId), Error> {
    let config = load_config(account.config.as_ref(), &Catalog::builtin())?;
    let target = target_of(account, &config).await?;
    for warning in &target.resolved.warnings {
        eprintln!("warning: {warning}");
    }
    tracing::info!(
        source = %target.resolved.source,
        access_key = %target.resolved.credentials.masked_key_id(),
        region = %target.region,
        endpoint = %target.endpoint.url,
        "connecting"
    );
    let mut client_config = client_config(target.endpoint, walk);
    if let (false, Some(qps)) = (account.qps_given, config.defaults.qps) {
        client_config.qps = qps;
    }
    // The config file's timeouts, where no flag gave one.
    let defaults = &config.defaults;
    for (flag, default, field) in [
        (
            walk.connect_timeout,
            defaults.connect_timeout,
            &mut client_config.connect_timeout,
        ),
        (
            walk.idle_timeout,
            defaults.idle_timeout,
            &mut client_config.read_timeout,
        ),
        (
            walk.attempt_timeout,
            defaults.attempt_timeout,
            &mut client_config.attempt_timeout,
        ),
    ] {
        if let (None, Some(value)) = (flag, default) {
            *field = value;
        }
    }
    let client =
        Client::with_provider(client_config, target.resolved.provider()).map_err(Box::new)?;
    Ok((client, RegionId::from(target.region)))
}

/// Several regions: one client per region (its endpoint from [`regions::endpoint_for`]), all
/// sharing the first region's rate limiter, concurrency cap and retry budget. `all` asks
/// DescribeRegions through the default region's endpoint ([`regions::FALLBACK_REGION`] when
/// none is configured).
pub(crate) async fn connect_regions(
    account: &AccountArgs,
    walk: &WalkArgs,
    wanted: regions::Wanted,
) -> Result<Vec<(Client, RegionId)>, Error> {
    let mut first = account.clone();
    first.region = match &wanted {
        regions::Wanted::Several(list) => list.first().map(ToString::to_string),
        regions::Wanted::All => None,
    };
    let (client, _) = match connect(&first, walk).await {
        Err(Error::MissingRegion) if wanted == regions::Wanted::All => {
            first.region = Some(regions::FALLBACK_REGION.to_owned());
            connect(&first, walk).await?
        }
        connected => connected?,
    };
    let ids = match wanted {
        regions::Wanted::Several(list) => list,
        regions::Wanted::All => {
            let answer = client
                .read(&grantguard_wire::actions::DescribeRegions)
                .await
                .map_err(Box::new)?;
            let mut ids: Vec<RegionId> = Vec::new();
            for region in answer.regions.items {
                Endpoint::for_region(&region.region_id)?;
                if !ids.iter().any(|id| id.as_str() == region.region_id) {
                    ids.push(RegionId::from(region.region_id.as_str()));
                }
            }
            if ids.is_empty() {
                return Err(regions::RegionsError::NoneListed.into());
            }
            tracing::info!(regions = ids.len(), "DescribeRegions listed the regions");
            ids
        }
    };
    let env = |name: &str| env_var(name);
    ids.into_iter()
        .map(|id| {
            let endpoint = regions::endpoint_for(id.as_str(), account.endpoint.as_deref(), &env)?;
            Ok((client.for_endpoint(endpoint).map_err(Box::new)?, id))
        })
        .collect()
}

/// Walks every region at once (within the clients' one shared rate limit), reusing and then
/// replacing each region's cache in `cache_dir` when given, and settles the results
/// ([`regions::settle`]).
pub(crate) async fn walk_regions(
    clients: &[(Client, RegionId)],
    output: &OutputArgs,
    walk_args: &WalkArgs,
    cache_dir: Option<&Path>,
) -> Result<Vec<regions::RegionInventory>, Error> {
    let options = walk_options(
        output,
        walk_args,
        &format!("reading {} regions", clients.len()),
    );
    let walks = clients.iter().map(|(client, region)| {
        let options = &options;
        async move {
            let cache = cache_dir.and_then(|dir| inventory::cache::load_or_warn(dir, region));
            walk::walk_with_cache(client, region, options, cache.as_ref()).await
        }
    });
    let results = futures::future::join_all(walks).await;
    // The region clients share one set of counters, so the first one's are the run's.
    if let Some((client, _)) = clients.first() {
        walk_finished(&options, client);
    }
    let settled = regions::settle(results)?;
    if let Some(dir) = cache_dir {
        for region in settled.iter().filter(|r| !r.failed) {
            if let Err(error) = inventory::cache::store(dir, &region.inventory) {
                tracing::warn!("the cache was not updated: {error}");
            }
        }
    }
    Ok(settled)
}

/// Credentials, region and endpoint from the flags, the environment, the config file's
/// defaults and the user's home, in that order of precedence.
pub(crate) async fn target_of(
    account: &AccountArgs,
    config: &Config,
) -> Result<account::Target, Error> {
    let home = dirs::home_dir();
    account::target(account, &config.defaults, &env_var, home.as_deref()).await
}

/// The client's configuration from the walk flags.
pub(crate) fn client_config(endpoint: Endpoint, walk: &WalkArgs) -> ClientConfig {
    let mut config = ClientConfig::new(endpoint);
    config.qps = walk.qps;
    config.concurrency = walk.concurrency;
    config.max_attempts = walk.max_attempts;
    config.max_throttled_attempts = walk.max_throttled_attempts;
    config.max_response_bytes = walk.max_response_bytes;
    config.connect_timeout = walk.connect_timeout.unwrap_or(config.connect_timeout);
    config.read_timeout = walk.idle_timeout.unwrap_or(config.read_timeout);
    config.attempt_timeout = walk.attempt_timeout.unwrap_or(config.attempt_timeout);
    config
}

/// A live walk with a progress spinner; `cache` (an earlier inventory) lets the walk reuse what
/// the live listings prove unchanged.
pub(crate) async fn walk_live(
    client: &Client,
    region: &RegionId,
    output: &OutputArgs,
    walk_args: &WalkArgs,
    cache: Option<&Inventory>,
) -> Result<Inventory, Error> {
    let options = walk_options(output, walk_args, &format!("reading {region}"));
    let result = walk::walk_with_cache(client, region, &options, cache).await;
    walk_finished(&options, client);
    let inventory = result?;
    tracing::info!(gaps = inventory.gaps.len(), "inventory of {region}");
    Ok(inventory)
}

/// The walk's options, with a progress spinner when someone is watching.
pub(crate) fn walk_options(output: &OutputArgs, walk_args: &WalkArgs, what: &str) -> WalkOptions {
    WalkOptions {
        history_depth: walk_args.history_depth,
        progress: progress(output, what),
    }
}

/// Clears the spinner and logs what the walk cost.
pub(crate) fn walk_finished(options: &WalkOptions, client: &Client) {
    if let Some(bar) = &options.progress {
        bar.finish_and_clear();
    }
    let stats = client.stats();
    tracing::info!(
        requests = stats.requests,
        throttled = stats.throttled,
        retries = stats.retries,
        "walk finished"
    );
}

/// `--config FILE`, else `./grantguard.json` when present, else the defaults.
pub(crate) fn load_config(path: Option<&PathBuf>, catalog: &Catalog) -> Result<Config, Error> {
    match path {
        Some(path) => Ok(Config::load(path, catalog)?),
        None => {
            let default = Path::new("grantguard.json");
            if default.exists() {
                Ok(Config::load(default, catalog)?)
            } else {
                Ok(Config::default())
            }
        }
    }
}

/// Inventory → report, with the config and selector the user gave.
pub fn audit(
    inventory: &Inventory,
    selector: Option<&Selector>,
    config: &Config,
    catalog: &Catalog,
) -> Report {
    let graph = graph::build(inventory);
    let selection = Selection::resolve(selector, &inventory.grants);
    rules::evaluate(
        &graph,
        catalog,
        &selection,
        config,
        &AuditContext {
            now: OffsetDateTime::now_utc(),
        },
    )
}

/// Clear when every audited grant is safe.
pub(crate) fn outcome_of(report: &Report) -> Outcome {
    if report.all_safe() {
        Outcome::Clear
    } else {
        Outcome::Held
    }
}

/// The CI gate: held when [`outcome_of`] holds, or when an unsuppressed finding reaches
/// `min_severity` (`--min-severity warn` fails on warnings too). Blocked and unknown grants
/// always hold, whatever the level: an unread account is never a pass.
pub fn gate(report: &Report, min_severity: cli::MinSeverity) -> Outcome {
    let floor = match min_severity {
        cli::MinSeverity::Deny => rules::Severity::Deny,
        cli::MinSeverity::Warn => rules::Severity::Warn,
        cli::MinSeverity::Info => rules::Severity::Info,
    };
    let reaches = |f: &report::Finding| f.suppressed.is_none() && f.severity >= floor;
    let any = report.findings.iter().any(reaches)
        || report.grants.iter().any(|g| g.findings.iter().any(reaches));
    match outcome_of(report) {
        Outcome::Clear if any => Outcome::Held,
        outcome => outcome,
    }
}

//! The plumbing the commands share: the runtime, connecting to the account (credentials,
//! region, endpoint → a [`Client`]), the live walk with its progress spinner, the audit of an
//! inventory and the exit gate. In: [`Settings`] and the output flags. Out: clients,
//! inventories, reports and an [`Outcome`]. It never prints a result; `output` does.

use crate::cli::{self, OutputArgs, Qps};
use crate::client::{Client, ClientConfig, Endpoint};
use crate::config::Config;
use crate::inventory::walk::{self, WalkOptions};
use crate::inventory::{self, Inventory, RegionId};
use crate::output::progress;
use crate::rules::{self, Catalog};
use crate::selection::Selector;
use crate::settings::{Setting, Settings, Source, PROBE_START_QPS};
use crate::verdict::{Report, RuleId, Standing};
use crate::{account, regions, Error, Outcome};
use std::path::Path;

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

/// Credentials, region and endpoint → a client for the live account, configured by
/// `settings` (resolved once, config file included, before this is called).
pub(crate) async fn connect(settings: &Settings) -> Result<(Client, RegionId), Error> {
    let target = target_of(settings).await?;
    for warning in &target.resolved.warnings {
        eprintln!("warning: {warning}");
    }
    tracing::info!(
        source = %target.resolved.source,
        access_key = %target.resolved.credentials.masked_key_id(),
        region = %target.region,
        endpoint = %target.endpoint.url,
        qps = %settings.qps.value,
        qps_from = %settings.qps.source,
        max_qps = settings.max_qps.value,
        max_qps_from = %settings.max_qps.source,
        "connecting"
    );
    let client_config = client_config(target.endpoint, settings);
    let client =
        Client::with_provider(client_config, target.resolved.provider()).map_err(Box::new)?;
    Ok((client, RegionId::from(target.region)))
}

/// Several regions: one client per region (its endpoint from [`regions::endpoint_for`]), all
/// sharing the first region's rate limiter, concurrency cap and retry budget. `all` asks
/// DescribeRegions through the default region's endpoint ([`regions::FALLBACK_REGION`] when
/// none is configured).
pub(crate) async fn connect_regions(
    settings: &Settings,
    wanted: regions::Wanted,
) -> Result<Vec<(Client, RegionId)>, Error> {
    let (client, _) = match &wanted {
        regions::Wanted::Several(list) => {
            let first = list.first().map(|id| id.to_string());
            let first = first.map(|id| Setting {
                value: id,
                source: Source::Flag("--region"),
            });
            connect(&Settings {
                region: first.or_else(|| settings.region.clone()),
                ..settings.clone()
            })
            .await?
        }
        regions::Wanted::All => match connect(settings).await {
            Err(Error::MissingRegion) => {
                let fallback = Setting {
                    value: regions::FALLBACK_REGION.to_owned(),
                    source: Source::Default,
                };
                connect(&settings.for_region(fallback)).await?
            }
            connected => connected?,
        },
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
            let flag = settings.endpoint.as_ref().map(|e| e.value.as_str());
            let endpoint = regions::endpoint_for(id.as_str(), flag, &env)?;
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
    history_depth: usize,
    cache_dir: Option<&Path>,
) -> Result<Vec<regions::RegionInventory>, Error> {
    let options = walk_options(
        output,
        history_depth,
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

/// Credentials, region and endpoint from the settings, the environment and the user's home.
pub(crate) async fn target_of(settings: &Settings) -> Result<account::Target, Error> {
    let home = dirs::home_dir();
    account::target(settings, &env_var, home.as_deref()).await
}

/// The client's configuration from the settings.
pub(crate) fn client_config(endpoint: Endpoint, settings: &Settings) -> ClientConfig {
    let mut config = ClientConfig::new(endpoint);
    match settings.qps.value {
        Qps::Auto => {
            config.qps = PROBE_START_QPS;
            config.max_qps = Some(settings.max_qps.value);
        }
        Qps::Fixed(qps) => config.qps = qps,
    }
    config.concurrency = settings.concurrency.value;
    config.max_attempts = settings.max_attempts;
    config.max_throttled_attempts = settings.max_throttled_attempts;
    config.max_response_bytes = settings.max_response_bytes;
    config.connect_timeout = settings.connect_timeout.value;
    config.read_timeout = settings.idle_timeout.value;
    config.attempt_timeout = settings.attempt_timeout.value;
    config
}

/// A live walk with a progress spinner; `cache` (an earlier inventory) lets the walk reuse what
/// the live listings prove unchanged.
pub(crate) async fn walk_live(
    client: &Client,
    region: &RegionId,
    output: &OutputArgs,
    history_depth: usize,
    cache: Option<&Inventory>,
) -> Result<Inventory, Error> {
    let options = walk_options(output, history_depth, &format!("reading {region}"));
    let result = walk::walk_with_cache(client, region, &options, cache).await;
    walk_finished(&options, client);
    let inventory = result?;
    tracing::info!(gaps = inventory.gaps.len(), "inventory of {region}");
    Ok(inventory)
}

/// The walk's options, with a progress spinner when someone is watching.
pub(crate) fn walk_options(output: &OutputArgs, history_depth: usize, what: &str) -> WalkOptions {
    WalkOptions {
        history_depth,
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
        rate = client.rate(),
        still_probing = client.is_probing(),
        "walk finished"
    );
}

/// The CI gate: held when a grant is not safe, when a finding about no single grant holds, or
/// when an unsuppressed finding reaches `min_severity` (`--min-severity warn` fails on
/// warnings too). Blocked and unknown grants always hold, whatever the level: an unread
/// account is never a pass.
pub fn gate(report: &Report, min_severity: cli::MinSeverity) -> Outcome {
    gate_standing(&Standing::of(report), min_severity)
}

/// [`gate`] from what a report written as it was judged kept of it.
pub fn gate_standing(standing: &Standing, min_severity: cli::MinSeverity) -> Outcome {
    let floor = match min_severity {
        cli::MinSeverity::Deny => crate::verdict::Severity::Deny,
        cli::MinSeverity::Warn => crate::verdict::Severity::Warn,
        cli::MinSeverity::Info => crate::verdict::Severity::Info,
    };
    if !standing.all_safe() || standing.worst.is_some_and(|worst| worst >= floor) {
        Outcome::Held
    } else {
        Outcome::Clear
    }
}

/// One region's report, and whether its walk failed outright.
#[derive(Debug, Clone)]
pub struct RegionReport {
    /// The region's report.
    pub report: Report,
    /// True when not even the grants could be listed.
    pub failed: bool,
}

/// Audits each region. The selector applies to every region that was read; a grant lives in
/// one region, so GG301 (no such grant) is kept only when no region holds a selected grant.
pub fn audit_each_region(
    regions: &[regions::RegionInventory],
    terraform: &crate::terraform::Terraform,
    selector: Option<&Selector>,
    config: &Config,
    catalog: &Catalog,
) -> Vec<RegionReport> {
    let mut reports: Vec<RegionReport> = regions
        .iter()
        .map(|region| RegionReport {
            // A failed region has no grant to select; its gap is the whole story.
            report: rules::audit(
                &region.inventory,
                terraform,
                selector.filter(|_| !region.failed),
                config,
                catalog,
            ),
            failed: region.failed,
        })
        .collect();
    if selector.is_some() && reports.iter().any(|r| !r.report.grants.is_empty()) {
        for region in reports.iter_mut().filter(|r| r.report.grants.is_empty()) {
            region.report.findings.retain(|f| f.rule != RuleId::GG301);
        }
    }
    reports
}

/// Held when any region holds by [`gate`], or any region failed.
pub fn gate_each_region(reports: &[RegionReport], min_severity: cli::MinSeverity) -> Outcome {
    let held = reports
        .iter()
        .any(|r| r.failed || gate(&r.report, min_severity) == Outcome::Held);
    if held {
        Outcome::Held
    } else {
        Outcome::Clear
    }
}

//! grantguard: audit who still depends on an API Gateway VPC grant before removing it.
//!
//! `run` hands one parsed command to its module in `commands`, which sends it through the
//! stages: credentials → client → walk → inventory → graph → rules → report. Each stage lives
//! in its own module; this file owns only the plumbing the commands share (runtime, logging,
//! progress, connecting to the account, output).

// Errors carry the text they point into (miette source code) so diagnostics can show it; they
// are built once per failed run, never on a hot path, so their size does not matter.
#![allow(clippy::result_large_err)]

pub mod account;
pub mod auth;
pub mod cli;
pub mod client;
mod commands;
pub mod config;
pub mod credentials;
pub mod demo;
pub mod error;
pub mod excerpt;
pub mod failpoints;
pub mod graph;
pub mod interrupt;
pub mod inventory;
pub mod policy;
pub mod regions;
pub mod removal;
pub mod report;
pub mod rules;
pub mod selection;
pub mod shell;
pub mod verdict;

use cli::{
    AccountArgs, Cli, ColorChoice, Command, OutputArgs, ReportFormat, SelectorArgs, WalkArgs,
};
use client::{Client, ClientConfig, Endpoint};
use config::Config;
pub use error::Error;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use inventory::walk::{self, WalkOptions};
use inventory::{GrantKey, Inventory, RegionId, VpcAccessId};
use report::{Format, RenderOptions};
use rules::{AuditContext, Catalog};
use selection::{Selection, Selector};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;
use time::OffsetDateTime;
use verdict::Report;

/// How a command ended, when it could do its job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every audited grant is safe, or the command had nothing to judge.
    Clear,
    /// At least one grant is blocked or unknown, or something was incomplete.
    Held,
}

/// Runs one command.
pub fn run(cli: Cli) -> Result<Outcome, Error> {
    init_logging(&cli.output);
    let Cli {
        account,
        output,
        command,
    } = cli;
    // Only audit and scan read several regions; a grant lives in one.
    let single = match &command {
        Command::Graph(_) => Some("graph"),
        Command::Remove(_) => Some("remove"),
        Command::Restore(_) => Some("restore"),
        Command::Journal(_) => Some("journal"),
        Command::Whoami => Some("whoami"),
        _ => None,
    };
    if let Some(name) = single {
        regions::require_single(account.region.as_deref(), name)?;
    }
    match command {
        Command::Rules(args) => commands::rules::rules_command(args, &mut std::io::stdout().lock()),
        Command::Sim(args) => runtime()?.block_on(commands::sim::sim_command(args)),
        Command::Scan(args) => {
            runtime()?.block_on(commands::scan::scan_command(&account, &output, args))
        }
        Command::Audit(args) => {
            runtime()?.block_on(commands::audit::audit_command(&account, &output, args))
        }
        Command::Graph(args) => {
            runtime()?.block_on(commands::audit::graph_command(&account, &output, args))
        }
        Command::Demo(args) => runtime()?.block_on(demo::demo_command(&output, args)),
        Command::Remove(args) => {
            runtime()?.block_on(commands::removal::remove_command(&account, &output, args))
        }
        Command::Restore(args) => {
            runtime()?.block_on(commands::removal::restore_command(&account, args))
        }
        Command::Journal(args) => {
            runtime()?.block_on(commands::removal::journal_command(&account, args))
        }
        Command::Policy(args) => {
            let text = policy::render(args.with_removal);
            emit(None, |out| out.write_all(text.as_bytes()))?;
            Ok(Outcome::Clear)
        }
        Command::Whoami => runtime()?.block_on(commands::whoami::whoami_command(&account)),
        Command::Completions(args) => {
            emit(None, |out| shell::completions(args.shell, out))?;
            Ok(Outcome::Clear)
        }
        Command::Man => {
            emit(None, shell::man)?;
            Ok(Outcome::Clear)
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)
}

fn init_logging(output: &OutputArgs) {
    let default = match (output.quiet, output.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        (false, _) => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("grantguard={default}")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .with_target(false)
        .try_init();
}

/// A spinner counting calls on stderr, only for people watching a terminal.
fn progress(output: &OutputArgs, what: &str) -> Option<ProgressBar> {
    if output.quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg}: {pos} calls, {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(what.to_owned());
    bar.enable_steady_tick(Duration::from_millis(120));
    Some(bar)
}

fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
        }
    }
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Credentials, region and endpoint → a client for the live account. The config file's
/// defaults (region, profile, qps) apply where no flag or variable was given.
async fn connect(account: &AccountArgs, walk: &WalkArgs) -> Result<(Client, RegionId), Error> {
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
async fn connect_regions(
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
async fn walk_regions(
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
async fn target_of(account: &AccountArgs, config: &Config) -> Result<account::Target, Error> {
    let home = dirs::home_dir();
    account::target(account, &config.defaults, &env_var, home.as_deref()).await
}

fn client_config(endpoint: Endpoint, walk: &WalkArgs) -> ClientConfig {
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
async fn walk_live(
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
fn walk_options(output: &OutputArgs, walk_args: &WalkArgs, what: &str) -> WalkOptions {
    WalkOptions {
        history_depth: walk_args.history_depth,
        progress: progress(output, what),
    }
}

/// Clears the spinner and logs what the walk cost.
fn walk_finished(options: &WalkOptions, client: &Client) {
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

fn selector_of(args: &SelectorArgs) -> Option<Selector> {
    if let (Some(vpc_id), Some(instance_id), Some(port)) =
        (&args.vpc_id, &args.instance_id, args.port)
    {
        return Some(Selector::Key(GrantKey {
            vpc_id: vpc_id.as_str().into(),
            instance_id: instance_id.as_str().into(),
            port,
        }));
    }
    if let Some(name) = &args.name {
        return Some(Selector::Name(name.clone()));
    }
    args.vpc_access_id
        .as_ref()
        .map(|id| Selector::Id(VpcAccessId::from(id.as_str())))
}

/// `--config FILE`, else `./grantguard.json` when present, else the defaults.
fn load_config(path: Option<&PathBuf>, catalog: &Catalog) -> Result<Config, Error> {
    match path {
        Some(path) => Ok(Config::load(path, catalog.docs())?),
        None => {
            let default = Path::new("grantguard.json");
            if default.exists() {
                Ok(Config::load(default, catalog.docs())?)
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

fn format_of(format: ReportFormat) -> Format {
    match format {
        ReportFormat::Human => Format::Human,
        ReportFormat::Json => Format::Json,
        ReportFormat::Sarif => Format::Sarif,
    }
}

fn outcome_of(report: &Report) -> Outcome {
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
        cli::MinSeverity::Deny => verdict::Severity::Deny,
        cli::MinSeverity::Warn => verdict::Severity::Warn,
        cli::MinSeverity::Info => verdict::Severity::Info,
    };
    let reaches = |f: &verdict::Finding| f.suppressed.is_none() && f.severity >= floor;
    let any = report.findings.iter().any(reaches)
        || report.grants.iter().any(|g| g.findings.iter().any(reaches));
    match outcome_of(report) {
        Outcome::Clear if any => Outcome::Held,
        outcome => outcome,
    }
}

/// Writes through `write` to `path`, or to stdout.
fn emit(
    path: Option<&PathBuf>,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), Error> {
    let result = match path {
        Some(path) => std::fs::File::create(path).and_then(|file| {
            let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
            write(&mut out)?;
            out.flush()?;
            out.into_inner().map_err(|e| e.into_error())?.sync_all()
        }),
        None => {
            let mut out = std::io::stdout().lock();
            write(&mut out).and_then(|()| out.flush())
        }
    };
    result.map_err(|source| Error::output(path, source))
}

pub use demo::DEMO_FIXTURE;

//! grantguard: audit who still depends on an API Gateway VPC grant before removing it.
//!
//! `run` sends one parsed command through the stages: credentials → client → walk →
//! inventory → graph → rules → report. Each stage lives in its own module; this file only
//! connects them and owns nothing but the plumbing (runtime, logging, progress, output).

// Errors carry the text they point into (miette source code) so diagnostics can show it; they
// are built once per failed run, never on a hot path, so their size does not matter.
#![allow(clippy::result_large_err)]

pub mod account;
pub mod cli;
pub mod client;
pub mod config;
pub mod credentials;
pub mod demo;
pub mod error;
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
pub mod sim;
pub mod wire;

use cli::{
    AccountArgs, Cli, ColorChoice, Command, OutputArgs, ReportFormat, SelectorArgs, WalkArgs,
};
use client::{Client, ClientConfig, Endpoint};
use config::Config;
pub use error::Error;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use inventory::walk::{self, WalkOptions};
use inventory::{GrantKey, Inventory, RegionId, VpcAccessId};
use report::{Format, RenderOptions, Report};
use rules::{AuditContext, Catalog};
use selection::{Selection, Selector};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;
use time::OffsetDateTime;

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
        Command::Rules(args) => rules_command(args, &mut std::io::stdout().lock()),
        Command::Sim(args) => runtime()?.block_on(sim_command(args)),
        Command::Scan(args) => runtime()?.block_on(scan_command(&account, &output, args)),
        Command::Audit(args) => runtime()?.block_on(audit_command(&account, &output, args)),
        Command::Graph(args) => runtime()?.block_on(graph_command(&account, &output, args)),
        Command::Demo(args) => runtime()?.block_on(demo::demo_command(&output, args)),
        Command::Remove(args) => runtime()?.block_on(remove_command(&account, &output, args)),
        Command::Restore(args) => runtime()?.block_on(restore_command(&account, args)),
        Command::Journal(args) => runtime()?.block_on(journal_command(&account, args)),
        Command::Policy(args) => {
            let text = policy::render(args.with_removal);
            emit(None, |out| out.write_all(text.as_bytes()))?;
            Ok(Outcome::Clear)
        }
        Command::Whoami => runtime()?.block_on(whoami_command(&account)),
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
                .read(&wire::actions::DescribeRegions)
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
    let bar = progress(output, &format!("reading {} regions", clients.len()));
    let options = WalkOptions {
        history_depth: walk_args.history_depth,
        progress: bar.clone(),
    };
    let walks = clients.iter().map(|(client, region)| {
        let options = &options;
        async move {
            let cache = cache_dir.and_then(|dir| inventory::cache::load_or_warn(dir, region));
            walk::walk_with_cache(client, region, options, cache.as_ref()).await
        }
    });
    let results = futures::future::join_all(walks).await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if let Some((client, _)) = clients.first() {
        let stats = client.stats();
        tracing::info!(
            regions = clients.len(),
            requests = stats.requests,
            throttled = stats.throttled,
            retries = stats.retries,
            "walk finished"
        );
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

/// `whoami`: where the credentials come from, masked; never the secret.
async fn whoami_command(account: &AccountArgs) -> Result<Outcome, Error> {
    let config = load_config(account.config.as_ref(), &Catalog::builtin())?;
    let target = target_of(account, &config).await?;
    let text = account::describe(&target);
    emit(None, |out| out.write_all(text.as_bytes()))?;
    Ok(Outcome::Clear)
}

fn client_config(endpoint: Endpoint, walk: &WalkArgs) -> ClientConfig {
    let mut config = ClientConfig::new(endpoint);
    config.qps = walk.qps;
    config.concurrency = walk.concurrency;
    config.max_attempts = walk.max_attempts;
    config.max_throttled_attempts = walk.max_throttled_attempts;
    config.max_response_bytes = walk.max_response_bytes;
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
    let bar = progress(output, &format!("reading {region}"));
    let options = WalkOptions {
        history_depth: walk_args.history_depth,
        progress: bar.clone(),
    };
    let result = walk::walk_with_cache(client, region, &options, cache).await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let inventory = result?;
    let stats = client.stats();
    tracing::info!(
        requests = stats.requests,
        throttled = stats.throttled,
        retries = stats.retries,
        gaps = inventory.gaps.len(),
        "walk finished"
    );
    Ok(inventory)
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

/// Writes through `write` to `path`, or to stdout.
fn emit(
    path: Option<&PathBuf>,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), Error> {
    let result = match path {
        Some(path) => std::fs::File::create(path).and_then(|file| {
            let mut out = std::io::BufWriter::new(file);
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

fn rules_command(args: cli::RulesArgs, out: &mut dyn Write) -> Result<Outcome, Error> {
    let catalog = Catalog::builtin();
    let result = match args.command {
        None => {
            let mut text = String::new();
            for doc in catalog.docs() {
                text.push_str(&format!(
                    "{}  {:<28} {:<5} {}\n",
                    doc.id,
                    doc.name,
                    doc.default_severity.as_str(),
                    doc.summary
                ));
            }
            text.push_str("\nRun `grantguard rules explain ID` for what a rule finds, why it matters and what to do.\n");
            out.write_all(text.as_bytes())
        }
        Some(cli::RulesCommand::Explain { id }) => {
            let doc = catalog.get(&id).ok_or_else(|| Error::UnknownRule {
                id: id.clone(),
                known: catalog
                    .docs()
                    .map(|d| d.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
            out.write_all(
                format!(
                    "{} {} ({})\n{}\n\n{}\n",
                    doc.id,
                    doc.name,
                    doc.default_severity.as_str(),
                    doc.summary,
                    doc.explanation.trim_end()
                )
                .as_bytes(),
            )
        }
    };
    result.map_err(|source| Error::output(None, source))?;
    Ok(Outcome::Clear)
}

async fn scan_command(
    account: &AccountArgs,
    output: &OutputArgs,
    args: cli::ScanArgs,
) -> Result<Outcome, Error> {
    // Ctrl-C exits 130 at once; the snapshot is only ever written whole, at the end.
    interrupt::install();
    if let Some(wanted) = regions::wanted(account.region.as_deref())? {
        return scan_regions(account, output, args, wanted).await;
    }
    let (client, region) = connect(account, &args.walk).await?;
    let inventory = walk_live(&client, &region, output, &args.walk, None).await?;
    inventory::snapshot::save(&inventory, &args.output)?;
    if !output.quiet {
        report_scan(&args.output, &inventory);
    }
    Ok(if inventory.is_complete() {
        Outcome::Clear
    } else {
        Outcome::Held
    })
}

/// `scan` of several regions: one snapshot per region, named by [`regions::snapshot_path`];
/// a region where nothing could be listed gets no snapshot and holds the run.
async fn scan_regions(
    account: &AccountArgs,
    output: &OutputArgs,
    args: cli::ScanArgs,
    wanted: regions::Wanted,
) -> Result<Outcome, Error> {
    let clients = connect_regions(account, &args.walk, wanted).await?;
    let settled = walk_regions(&clients, output, &args.walk, None).await?;
    let mut outcome = Outcome::Clear;
    for region in &settled {
        let inventory = &region.inventory;
        if region.failed {
            if let Some(gap) = inventory.gaps.first() {
                eprintln!(
                    "{}: no snapshot written: {} failed ({}): {}",
                    inventory.region, gap.action, gap.code, gap.message
                );
            }
            outcome = Outcome::Held;
            continue;
        }
        let path = regions::snapshot_path(&args.output, &inventory.region);
        inventory::snapshot::save(inventory, &path)?;
        if !output.quiet {
            report_scan(&path, inventory);
        }
        if !inventory.is_complete() {
            outcome = Outcome::Held;
        }
    }
    Ok(outcome)
}

/// The line `scan` prints on stderr for each snapshot it wrote.
fn report_scan(path: &Path, inventory: &Inventory) {
    eprintln!(
        "wrote {}: {} grants, {} groups, {} drafts, {} deployments, {} historical versions, {} backends, {} gaps",
        path.display(),
        inventory.grants.len(),
        inventory.groups.len(),
        inventory.drafts.len(),
        inventory.deployments.len(),
        inventory.history.len(),
        inventory.backends.len(),
        inventory.gaps.len(),
    );
}

async fn inventory_for(
    account: &AccountArgs,
    output: &OutputArgs,
    snapshot: Option<&PathBuf>,
    walk_args: &WalkArgs,
) -> Result<Inventory, Error> {
    match snapshot {
        Some(path) => Ok(inventory::snapshot::load(path)?),
        None => {
            let (client, region) = connect(account, walk_args).await?;
            walk_live(&client, &region, output, walk_args, None).await
        }
    }
}

/// A live walk that reuses what the cache in `dir` proves unchanged, then replaces the cache.
/// A cache that cannot be written costs the next run time, not this run's answer: a warning.
async fn audit_walk_cached(
    account: &AccountArgs,
    output: &OutputArgs,
    walk_args: &WalkArgs,
    dir: &Path,
) -> Result<Inventory, Error> {
    let (client, region) = connect(account, walk_args).await?;
    let cache = inventory::cache::load_or_warn(dir, &region);
    let inventory = walk_live(&client, &region, output, walk_args, cache.as_ref()).await?;
    drop(cache);
    if let Err(error) = inventory::cache::store(dir, &inventory) {
        tracing::warn!("the cache was not updated: {error}");
    }
    Ok(inventory)
}

async fn audit_command(
    account: &AccountArgs,
    output: &OutputArgs,
    args: cli::AuditArgs,
) -> Result<Outcome, Error> {
    let catalog = Catalog::builtin();
    // The config is read before the walk so a typo in it costs no API calls.
    let config = load_config(account.config.as_ref(), &catalog)?;
    if args.inventory.is_none() {
        if let Some(wanted) = regions::wanted(account.region.as_deref())? {
            return audit_regions(account, output, args, wanted, &config, &catalog).await;
        }
    }
    let inventory = match &args.cache {
        Some(dir) => audit_walk_cached(account, output, &args.walk, dir).await?,
        None => inventory_for(account, output, args.inventory.as_ref(), &args.walk).await?,
    };
    let report = audit(
        &inventory,
        selector_of(&args.selector).as_ref(),
        &config,
        &catalog,
    );
    let options = RenderOptions {
        color: args.output.is_none() && use_color(output.color),
        ..RenderOptions::default()
    };
    emit(args.output.as_ref(), |out| {
        report::render(&report, format_of(args.format), out, options)
    })?;
    let min_severity = args
        .min_severity
        .or(config.defaults.min_severity)
        .unwrap_or(cli::MinSeverity::Deny);
    Ok(gate(&report, min_severity))
}

/// `audit` of several regions, walked in parallel: one report per region, rendered together
/// ([`report::render_regions`]); held when any region holds or failed.
async fn audit_regions(
    account: &AccountArgs,
    output: &OutputArgs,
    args: cli::AuditArgs,
    wanted: regions::Wanted,
    config: &Config,
    catalog: &Catalog,
) -> Result<Outcome, Error> {
    let clients = connect_regions(account, &args.walk, wanted).await?;
    let settled = walk_regions(&clients, output, &args.walk, args.cache.as_deref()).await?;
    let audited = regions::audit(
        &settled,
        selector_of(&args.selector).as_ref(),
        config,
        catalog,
    );
    let reports: Vec<Report> = audited.iter().map(|r| r.report.clone()).collect();
    let options = RenderOptions {
        color: args.output.is_none() && use_color(output.color),
        ..RenderOptions::default()
    };
    emit(args.output.as_ref(), |out| {
        report::render_regions(&reports, format_of(args.format), out, options)
    })?;
    let min_severity = args
        .min_severity
        .or(config.defaults.min_severity)
        .unwrap_or(cli::MinSeverity::Deny);
    Ok(regions::gate(&audited, min_severity))
}

async fn graph_command(
    account: &AccountArgs,
    output: &OutputArgs,
    args: cli::GraphArgs,
) -> Result<Outcome, Error> {
    let inventory = inventory_for(account, output, args.inventory.as_ref(), &args.walk).await?;
    let graph = graph::build(&inventory);
    let selector = selector_of(&args.selector);
    let selection = selector
        .as_ref()
        .map(|s| Selection::resolve(Some(s), &inventory.grants));
    let format = match args.format {
        cli::GraphFormat::Dot => graph::render::GraphFormat::Dot,
        cli::GraphFormat::Mermaid => graph::render::GraphFormat::Mermaid,
    };
    let text = graph::render::render(&graph, format, selection.as_ref());
    emit(None, |out| out.write_all(text.as_bytes()))?;
    Ok(Outcome::Clear)
}

async fn sim_command(args: cli::SimArgs) -> Result<Outcome, Error> {
    let args = match args.command {
        cli::SimCommand::Serve(args) => args,
        cli::SimCommand::Generate(args) => return sim_generate_command(args),
    };
    let fixture = sim::Fixture::from_path(&args.fixture)?;
    let faults = sim::Faults {
        latency_ms: args.latency_ms,
        qps: args.qps,
        throttle_rate: args.throttle_rate,
        error_rate: args.error_rate,
        seed: args.seed,
        max_consecutive_faults: args.max_consecutive_faults,
        clock_offset_secs: args.clock_offset,
        sts_expire_after: args.sts_expire_after,
        fail: fault_rules("fail", &args.fail)?,
        corrupt: fault_rules("corrupt", &args.corrupt)?,
        oversize: fault_rules("oversize", &args.oversize)?,
        reset: fault_rules("reset", &args.reset)?,
    };
    let options = sim::SimOptions {
        faults,
        log_path: args.log.clone(),
        ..sim::SimOptions::default()
    };
    let serve = sim::serve(fixture, options, args.listen, |addr| {
        let mut out = std::io::stdout().lock();
        // Tests and scripts read this first line to find the port.
        let _ = writeln!(out, "listening on http://{addr}");
        let _ = out.flush();
    });
    tokio::select! {
        result = serve => result?,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(Outcome::Clear)
}

/// Parses the `--FLAG ACTION[:ID]=VALUE` rules of `sim serve`.
fn fault_rules<T>(flag: &'static str, rules: &[String]) -> Result<Vec<T>, Error>
where
    T: std::str::FromStr<Err = sim::faults::RuleError>,
{
    rules
        .iter()
        .map(|rule| {
            rule.parse()
                .map_err(|e: sim::faults::RuleError| Error::FaultRule {
                    flag,
                    rule: rule.clone(),
                    message: e.to_string(),
                })
        })
        .collect()
}

pub use demo::DEMO_FIXTURE;

/// `sim generate`: a synthetic fixture (or, hidden, the snapshot a walk of it would read).
fn sim_generate_command(args: cli::SimGenerateArgs) -> Result<Outcome, Error> {
    let options = sim::generate::GenerateOptions {
        groups: args.groups,
        apis_per_group: args.apis_per_group,
        stages: usize::from(args.stages),
        grants: args.grants,
        vpc_share: args.vpc_share,
        seed: args.seed,
    };
    if args.snapshot {
        let inventory = sim::generate::inventory(&options);
        return match &args.output {
            Some(path) => {
                inventory::snapshot::save(&inventory, path)?;
                Ok(Outcome::Clear)
            }
            None => {
                emit(None, |out| {
                    serde_json::to_writer_pretty(&mut *out, &inventory)
                        .map_err(std::io::Error::other)?;
                    out.write_all(b"\n")
                })?;
                Ok(Outcome::Clear)
            }
        };
    }
    let text = sim::generate::fixture_json(&options);
    emit(args.output.as_ref(), |out| out.write_all(text.as_bytes()))?;
    Ok(Outcome::Clear)
}

async fn remove_command(
    account: &AccountArgs,
    output: &OutputArgs,
    args: cli::RemoveArgs,
) -> Result<Outcome, Error> {
    // Ctrl-C exits 130, but never between a removal's pending record and its outcome.
    interrupt::install();
    let catalog = Catalog::builtin();
    let config = load_config(account.config.as_ref(), &catalog)?;
    let (client, region) = connect(account, &args.walk).await?;
    let context = removal::Context {
        client,
        region,
        config,
        catalog,
        walk: WalkOptions {
            history_depth: args.walk.history_depth,
            progress: None,
        },
        color: use_color(output.color),
    };
    let selector = selector_of(&args.selector);
    Ok(removal::remove_command(&context, &args, selector).await?)
}

async fn restore_command(account: &AccountArgs, args: cli::RestoreArgs) -> Result<Outcome, Error> {
    let path = removal::journal::resolve_path(args.journal.as_deref())?;
    let (client, _) = connect(account, &args.walk).await?;
    Ok(removal::restore::restore_command(&client, &path, args.id.as_deref()).await?)
}

async fn journal_command(account: &AccountArgs, args: cli::JournalArgs) -> Result<Outcome, Error> {
    let path = removal::journal::resolve_path(args.journal.as_deref())?;
    let mut connected: Option<Error> = None;
    let outcome = removal::restore::journal_command(&path, || async {
        match connect(account, &args.walk).await {
            Ok((client, _)) => Ok(client),
            Err(error) => {
                connected = Some(error);
                Err(removal::RemovalError::NoEntry {
                    message: "cannot reconcile pending entries without a connection".into(),
                })
            }
        }
    })
    .await;
    match (outcome, connected) {
        (Err(_), Some(error)) => Err(error),
        (outcome, _) => Ok(outcome?),
    }
}

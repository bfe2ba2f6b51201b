//! `grantguard audit` and `grantguard graph`: inventory (live, cached or a snapshot) →
//! graph → rules → a rendered report, and the exit the report deserves.

use super::selector_of;
use crate::cli::{self, AccountArgs, OutputArgs, WalkArgs};
use crate::config::Config;
use crate::inventory::{self, Inventory};
use crate::output::{emit, format_of, use_color};
use crate::report::{self, RenderOptions, Report};
use crate::rules::Catalog;
use crate::selection::Selection;
use crate::session::{audit, connect, connect_regions, gate, load_config, walk_live, walk_regions};
use crate::{graph, regions, Error, Outcome};
use std::path::{Path, PathBuf};

pub(crate) async fn inventory_for(
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
pub(crate) async fn audit_walk_cached(
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

pub(crate) async fn audit_command(
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
    let outcome = gate(&report, min_severity);
    // The process ends with this command: handing a large account's hundreds of thousands
    // of records back to the allocator one by one would cost a tenth of the audit for nothing.
    std::mem::forget(report);
    std::mem::forget(inventory);
    Ok(outcome)
}

/// `audit` of several regions, walked in parallel: one report per region, rendered together
/// ([`report::render_regions`]); held when any region holds or failed.
pub(crate) async fn audit_regions(
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

pub(crate) async fn graph_command(
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

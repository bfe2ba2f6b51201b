//! `grantguard audit` and `grantguard graph`: inventory (live, cached or a snapshot) →
//! graph → rules → a rendered report, and the exit the report deserves.

use super::selector_of;
use crate::cli::{self, AccountArgs, Given, OutputArgs};
use crate::inventory::{self, Inventory};
use crate::output::{emit, format_of, render_options};
use crate::report::{self, Layout};
use crate::rules::{self, audit, Catalog};
use crate::selection::Selection;
use crate::session::{
    audit_each_region, connect, connect_regions, gate, gate_each_region, gate_standing, walk_live,
    walk_regions,
};
use crate::settings::{Flags, Settings};
use crate::verdict::Report;
use crate::{graph, regions, Error, Outcome};
use std::path::Path;

/// A live walk of the one region `settings` name.
pub(crate) async fn walk_once(
    settings: &Settings,
    output: &OutputArgs,
) -> Result<Inventory, Error> {
    let (client, region) = connect(settings).await?;
    walk_live(&client, &region, output, settings.history_depth, None).await
}

/// A live walk that reuses what the cache in `dir` proves unchanged, then replaces the cache.
/// A cache that cannot be written costs the next run time, not this run's answer: a warning.
pub(crate) async fn audit_walk_cached(
    settings: &Settings,
    output: &OutputArgs,
    dir: &Path,
) -> Result<Inventory, Error> {
    let (client, region) = connect(settings).await?;
    let cache = inventory::cache::load_or_warn(dir, &region);
    let inventory = walk_live(
        &client,
        &region,
        output,
        settings.history_depth,
        cache.as_ref(),
    )
    .await?;
    drop(cache);
    if let Err(error) = inventory::cache::store(dir, &inventory) {
        tracing::warn!("the cache was not updated: {error}");
    }
    Ok(inventory)
}

pub(crate) async fn audit_command(
    account: &AccountArgs,
    given: &Given,
    output: &OutputArgs,
    args: cli::AuditArgs,
) -> Result<Outcome, Error> {
    if let Some(path) = &args.output {
        crate::output::check_writable(path)?;
    }
    let catalog = Catalog::builtin();
    // The settings (config file included) are read before the walk so a typo in them costs
    // no API calls.
    let flags = Flags {
        account,
        walk: Some(&args.walk),
        call: None,
        min_severity: args.min_severity,
        given,
    };
    let settings = Settings::load(&flags, &catalog)?;
    let terraform = settings.load_terraform(&args.terraform)?;
    if args.inventory.is_none() {
        if let Some(wanted) = regions::wanted(account.region.as_deref())? {
            return audit_regions(&settings, output, args, wanted, &catalog, &terraform).await;
        }
    }
    let inventory = match (&args.cache, &args.inventory) {
        (_, Some(path)) => {
            let inventory = inventory::snapshot::load(path)?;
            check_snapshot_region(&settings, path, &inventory)?;
            inventory
        }
        (Some(dir), None) => audit_walk_cached(&settings, output, dir).await?,
        (None, None) => walk_once(&settings, output).await?,
    };
    let selector = selector_of(&args.selector);
    let options = report::RenderOptions {
        layout: layout_of(&args),
        ..render_options(output.color, args.output.is_none())
    };
    // JSON is written as the grants are judged: a large account's report is never held whole
    // (docs/performance.md). The other formats need all of it first (the human report's
    // summary table, SARIF's rule list).
    if args.format == cli::ReportFormat::Json {
        let mut standing = None;
        let json = report::json::StreamedJson::new(options.layout);
        emit(args.output.as_ref(), |out| {
            let judged = rules::audit_streaming(
                &inventory,
                &terraform,
                selector.as_ref(),
                &settings.config,
                &catalog,
                |share| json.write_share(share),
                |head, shares| json.render(&head, shares, out),
            )?;
            standing = Some(judged);
            Ok(())
        })?;
        let standing = standing.expect("written");
        // As below: the process is about to exit, and freeing the records one by one would
        // cost a tenth of the audit for nothing.
        std::mem::forget(inventory);
        return Ok(gate_standing(&standing, settings.min_severity.value));
    }
    let report = audit(
        &inventory,
        &terraform,
        selector.as_ref(),
        &settings.config,
        &catalog,
    );
    emit(args.output.as_ref(), |out| {
        report::render(&report, format_of(args.format), out, options)
    })?;
    let outcome = gate(&report, settings.min_severity.value);
    // The process ends with this command: handing a large account's hundreds of thousands
    // of records back to the allocator one by one would cost a tenth of the audit for nothing.
    std::mem::forget(report);
    std::mem::forget(inventory);
    Ok(outcome)
}

/// The JSON report's layout `--compact` asks for.
fn layout_of(args: &cli::AuditArgs) -> Layout {
    if args.compact {
        Layout::Compact
    } else {
        Layout::Pretty
    }
}

/// `audit` of several regions, walked in parallel: one report per region, rendered together
/// ([`report::render_regions`]); held when any region holds or failed.
pub(crate) async fn audit_regions(
    settings: &Settings,
    output: &OutputArgs,
    args: cli::AuditArgs,
    wanted: regions::Wanted,
    catalog: &Catalog,
    terraform: &crate::terraform::Terraform,
) -> Result<Outcome, Error> {
    let clients = connect_regions(settings, wanted).await?;
    let settled = walk_regions(
        &clients,
        output,
        settings.history_depth,
        args.cache.as_deref(),
    )
    .await?;
    let audited = audit_each_region(
        &settled,
        terraform,
        selector_of(&args.selector).as_ref(),
        &settings.config,
        catalog,
    );
    let reports: Vec<Report> = audited.iter().map(|r| r.report.clone()).collect();
    let options = report::RenderOptions {
        layout: layout_of(&args),
        ..render_options(output.color, args.output.is_none())
    };
    emit(args.output.as_ref(), |out| {
        report::render_regions(&reports, format_of(args.format), out, options)
    })?;
    Ok(gate_each_region(&audited, settings.min_severity.value))
}

pub(crate) async fn graph_command(
    account: &AccountArgs,
    given: &Given,
    output: &OutputArgs,
    args: cli::GraphArgs,
) -> Result<Outcome, Error> {
    if let Some(path) = &args.output {
        crate::output::check_writable(path)?;
    }
    let flags = Flags {
        account,
        walk: Some(&args.walk),
        call: None,
        min_severity: None,
        given,
    };
    // The config file decides the verdicts the picture colours, as in `audit`.
    let catalog = Catalog::builtin();
    let settings = Settings::load(&flags, &catalog)?;
    let inventory = match &args.inventory {
        Some(path) => inventory::snapshot::load(path)?,
        None => walk_once(&settings, output).await?,
    };
    let graph = graph::build(&inventory);
    let selector = selector_of(&args.selector);
    let selection = selector
        .as_ref()
        .map(|s| Selection::resolve(Some(s), &inventory.grants));
    let format = match args.format {
        cli::GraphFormat::Dot => graph::render::GraphFormat::Dot,
        cli::GraphFormat::Mermaid => graph::render::GraphFormat::Mermaid,
    };
    // The graph reads no Terraform input: its colours are the account's verdicts alone.
    let report = audit(
        &inventory,
        &crate::terraform::Terraform::default(),
        selector.as_ref(),
        &settings.config,
        &catalog,
    );
    // A selector that names no grant is GG301, as in `audit`: said on stderr, exit 1, and no
    // empty picture on stdout that a script could take for "nothing depends on it".
    if selection
        .as_ref()
        .is_some_and(|s| s.grants().next().is_none())
    {
        for finding in &report.findings {
            eprintln!(
                "{} {}: {}",
                finding.rule, finding.rule_name, finding.message
            );
        }
        return Ok(Outcome::Held);
    }
    let look = graph::render::Look {
        shades: report
            .grants
            .iter()
            .map(|g| (g.grant.id.clone(), shade_of(g)))
            .collect(),
        all: args.all,
    };
    let text = graph::render::render(&graph, format, selection.as_ref(), &look);
    emit(args.output.as_ref(), |out| out.write_all(text.as_bytes()))?;
    Ok(Outcome::Clear)
}

/// The colour of a grant's verdict in the graph.
fn shade_of(grant: &crate::verdict::GrantReport) -> graph::render::Shade {
    use crate::verdict::Verdict;
    use graph::render::Shade;
    match grant.verdict {
        Verdict::Blocked => Shade::Blocked,
        Verdict::Unknown => Shade::Unknown,
        Verdict::Safe if grant.is_clean() => Shade::Safe,
        Verdict::Safe => Shade::Warned,
    }
}

/// `--region X --inventory FILE`: a snapshot of another region is refused rather than audited
/// under a name it does not have. A region from the environment or the config file is only
/// a default for live walks, so it does not count.
fn check_snapshot_region(
    settings: &Settings,
    path: &Path,
    inventory: &Inventory,
) -> Result<(), Error> {
    match &settings.region {
        Some(region)
            if matches!(region.source, crate::settings::Source::Flag(_))
                && region.value != inventory.region.as_str() =>
        {
            Err(Error::SnapshotRegion {
                path: path.display().to_string(),
                snapshot: inventory.region.to_string(),
                given: region.value.clone(),
            })
        }
        _ => Ok(()),
    }
}

//! `grantguard scan`: a live walk written as one snapshot per region, atomically.

use crate::cli::{self, AccountArgs, Given, OutputArgs};
use crate::inventory::{self, Inventory};
use crate::rules::Catalog;
use crate::session::{connect, connect_regions, walk_live, walk_regions};
use crate::settings::{Flags, Settings};
use crate::{interrupt, regions, Error, Outcome};
use std::path::Path;

pub(crate) async fn scan_command(
    account: &AccountArgs,
    given: &Given,
    output: &OutputArgs,
    args: cli::ScanArgs,
) -> Result<Outcome, Error> {
    // Several regions write next to this path, in the same folder: one check covers them.
    crate::output::check_writable(&args.output)?;
    // Ctrl-C exits 130 at once; the snapshot is only ever written whole, at the end.
    interrupt::install();
    let wanted = regions::wanted(account.region.as_deref())?;
    let flags = Flags {
        account,
        walk: Some(&args.walk),
        call: None,
        min_severity: None,
        given,
    };
    let settings = Settings::load(&flags, &Catalog::builtin())?;
    if let Some(wanted) = wanted {
        return scan_regions(&settings, output, args, wanted).await;
    }
    let (client, region) = connect(&settings).await?;
    let inventory = walk_live(&client, &region, output, settings.history_depth, None).await?;
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
pub(crate) async fn scan_regions(
    settings: &Settings,
    output: &OutputArgs,
    args: cli::ScanArgs,
    wanted: regions::Wanted,
) -> Result<Outcome, Error> {
    let clients = connect_regions(settings, wanted).await?;
    let settled = walk_regions(&clients, output, settings.history_depth, None).await?;
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
pub(crate) fn report_scan(path: &Path, inventory: &Inventory) {
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

//! `grantguard demo`: the emulator in-process with the bundled example account, a live audit
//! of it, then "More checks" — the audits an unselected live audit cannot show (a selector
//! that matches nothing, a name two grants share, a snapshot older than the configured age) —
//! and a few lines on what to try next. In: the output flags and the report format. Out: text
//! on stdout, the emulator's address on stderr. It never reads credentials or the network
//! beyond the loopback emulator it started, and every finding it prints comes from a real run
//! of the rules over what the walk read: nothing is written by hand.

use crate::cli::{self, OutputArgs, ReportFormat};
use crate::client::{Client, ClientConfig, Endpoint};
use crate::config::Config;
use crate::error::EmulatorError;
use crate::inventory::{snapshot, Inventory, RegionId};
use crate::output::{emit, format_of, render_options};
use crate::report;
use crate::rules::audit;
use crate::rules::Catalog;
use crate::selection::Selector;
use crate::session::walk_live;
use crate::settings::DEFAULT_HISTORY_DEPTH;
use crate::terraform::Terraform;
use crate::verdict::{Report, RuleId};
use crate::{Error, Outcome};
use grantguard_sim as sim;
use std::io::{self, Write};
use std::path::Path;

/// The example account `demo` serves.
pub const DEMO_FIXTURE: &str = include_str!("../tests/fixtures/demo-account.json");

/// The Terraform folder the demo audits with the account, as `--terraform demo-terraform`
/// would read it: `(path inside the folder, text)`.
pub const DEMO_TERRAFORM: &[(&str, &str)] = &[
    (
        "main.tf",
        include_str!("../tests/fixtures/demo-terraform/main.tf"),
    ),
    (
        "modules/billing/main.tf",
        include_str!("../tests/fixtures/demo-terraform/modules/billing/main.tf"),
    ),
];
/// The local state of [`DEMO_TERRAFORM`] (`terraform.tfstate` in the folder).
pub const DEMO_TERRAFORM_STATE: &str =
    include_str!("../tests/fixtures/demo-terraform/terraform.tfstate");

/// What the demo's Terraform folder declares, read exactly as `--terraform` reads a folder.
pub fn demo_terraform() -> Result<Terraform, Error> {
    let folder = crate::terraform::Folder {
        shown_as: "demo-terraform".into(),
        files: DEMO_TERRAFORM
            .iter()
            .map(|(path, text)| ((*path).to_owned(), (*text).to_owned()))
            .collect(),
    };
    let mut terraform = crate::terraform::read_configuration(&folder)?;
    terraform.extend(crate::terraform::read_state(
        "demo-terraform/terraform.tfstate",
        DEMO_TERRAFORM_STATE,
    )?);
    Ok(terraform)
}

/// A name no grant of the demo account has (one letter off `orders-slb-80`): GG301.
pub const MISSING_NAME: &str = "orders-slb-8O";
/// The name two grants of the demo account share: GG302.
pub const SHARED_NAME: &str = "shared-cache-6379";
/// The grant the stale-snapshot check audits (one grant keeps the output short): GG202.
pub const STALE_GRANT: &str = "legacy-unused-443";
/// The demo config of the stale-snapshot check: any snapshot is older than zero seconds.
pub const STALE_CONFIG: &str = r#"{ "max_inventory_age": "0s" }"#;

/// What the demo prints after the report, in human format. Every `grantguard` line is a
/// command that works after `cargo install`: the account comes from the binary, and the
/// credentials from the export line `sim serve` prints (a test runs each of them).
pub const DEMO_NEXT_STEPS: &str = "
What to try next:
  grantguard rules                        the rule catalog
  grantguard rules explain GG102          why a backend model blocks a grant
  grantguard demo --format json           the report other tools read (grantguard.report/v1)

  Serve this account and use grantguard on it as on your own:
  grantguard sim serve --demo             leave it running; run its second line (export ...)
                                          in another shell, then there:
  grantguard audit --name orders-slb-80   one grant: blocked, and by whom
  grantguard audit --format json -o demo-report.json
  grantguard graph --all -o demo.dot      the graph, for Graphviz (dot -Tsvg demo.dot)
  grantguard remove --name legacy-unused-443 --dry-run
                                          the exact call a removal would make; changes nothing
";

/// One extra audit of the demo's inventory, and what it found.
#[derive(Debug, Clone)]
pub struct ExtraCheck {
    /// The rule the check is there to show.
    pub rule: RuleId,
    /// What the check shows, for people.
    pub title: &'static str,
    /// The command line that runs the same audit against the served account.
    pub command: String,
    /// The report of the audit.
    pub report: Report,
}

/// The audits an unselected live audit cannot show, run over the demo's own `inventory`.
pub fn more_checks(
    inventory: &Inventory,
    terraform: &Terraform,
    catalog: &Catalog,
) -> Result<Vec<ExtraCheck>, Error> {
    let missing = Selector::Name(MISSING_NAME.to_owned());
    let shared = Selector::Name(SHARED_NAME.to_owned());
    let stale = Selector::Name(STALE_GRANT.to_owned());
    let defaults = Config::default();

    // The stale check goes through the same path as `scan --output` + `audit --inventory`:
    // the inventory is written as a snapshot, parsed back, and audited under a config file.
    let snapshot_name = Path::new("demo-scan.json");
    let text =
        serde_json::to_string_pretty(inventory).map_err(|e| Error::output(None, e.into()))?;
    let saved = snapshot::parse(&text, snapshot_name)?;
    let config = Config::parse(STALE_CONFIG, "demo-grantguard.json", catalog.docs())?;

    Ok(vec![
        ExtraCheck {
            rule: RuleId::GG301,
            title: "a selector that matches no grant",
            command: format!("grantguard audit {missing}"),
            report: audit(inventory, terraform, Some(&missing), &defaults, catalog),
        },
        ExtraCheck {
            rule: RuleId::GG302,
            title: "a name two grants share",
            command: format!("grantguard audit {shared}"),
            report: audit(inventory, terraform, Some(&shared), &defaults, catalog),
        },
        ExtraCheck {
            rule: RuleId::GG202,
            title: "a snapshot older than the configured max_inventory_age",
            command: format!(
                "grantguard scan --output demo-scan.json, then grantguard --config {} audit --inventory demo-scan.json {stale}",
                "demo-grantguard.json"
            ),
            report: audit(&saved, terraform, Some(&stale), &config, catalog),
        },
    ])
}

/// Writes the "More checks" section: per check its command, each finding of the rule it is
/// there to show on one line, and how many other findings (already in the report) it had.
pub fn render_more_checks(
    checks: &[ExtraCheck],
    out: &mut dyn Write,
    width: Option<usize>,
) -> io::Result<()> {
    use crate::report::human::write_paragraph;
    writeln!(
        out,
        "\nMore checks (audits a plain live audit cannot show):"
    )?;
    for check in checks {
        writeln!(out, "\n  {}:", check.title)?;
        write_paragraph(out, width, "  $ ", "      ", &check.command)?;
        let (shown, others): (Vec<_>, Vec<_>) = check
            .report
            .findings
            .iter()
            .chain(check.report.grants.iter().flat_map(|g| g.findings.iter()))
            .partition(|f| f.rule == check.rule);
        if shown.is_empty() {
            writeln!(out, "    no {} finding", check.rule)?;
        }
        for finding in shown {
            let text = format!(
                "{} {} ({}): {}",
                finding.rule, finding.rule_name, finding.severity, finding.message
            );
            write_paragraph(out, width, "    ", "      ", &text)?;
        }
        let s = &check.report.summary;
        let text = format!(
            "{} grant{} audited: {} safe, {} blocked, {} unknown; {} other findings, as in the report above",
            s.grants,
            if s.grants == 1 { "" } else { "s" },
            s.safe,
            s.blocked,
            s.unknown,
            others.len()
        );
        write_paragraph(out, width, "    ", "      ", &text)?;
    }
    Ok(())
}

/// Runs the demo.
pub(crate) async fn demo_command(
    output: &OutputArgs,
    args: cli::DemoArgs,
) -> Result<Outcome, Error> {
    let fixture = sim::Fixture::from_json(DEMO_FIXTURE).map_err(EmulatorError::new)?;
    let Some(credential) = fixture.credentials.first().cloned() else {
        unreachable!("the bundled demo fixture has credentials (checked by a test)")
    };
    let region = RegionId::from(fixture.region.clone());
    let (grants, apis) = (fixture.grants.len(), fixture.apis.len());
    let options = sim::SimOptions {
        env_credentials: false,
        ..sim::SimOptions::default()
    };
    let sim = sim::Sim::start(fixture, options).map_err(EmulatorError::new)?;
    if !output.quiet {
        eprintln!(
            "grantguard demo: emulator on {} serving an example account ({grants} grants, {apis} APIs)\n",
            sim.url()
        );
    }
    let endpoint = Endpoint::parse(&sim.url())?;
    let credentials = crate::credentials::Credentials::new(
        credential.access_key_id.clone(),
        credential.access_key_secret.clone(),
        credential.security_token.clone(),
    );
    // Loopback and nobody else's quota: no rate limit, and more calls in flight than the
    // defaults allow a real account.
    let mut client_config = ClientConfig::new(endpoint);
    client_config.qps = 0.0;
    client_config.concurrency = 8;
    let client = Client::new(client_config, credentials).map_err(Box::new)?;
    if args.repoint {
        return repoint_demo(client, region).await;
    }
    let inventory = walk_live(&client, &region, output, DEFAULT_HISTORY_DEPTH, None).await?;
    drop(sim);

    let catalog = Catalog::builtin();
    let terraform = demo_terraform()?;
    let report = audit(&inventory, &terraform, None, &Config::default(), &catalog);
    let extra = match args.format {
        ReportFormat::Human => more_checks(&inventory, &terraform, &catalog)?,
        _ => Vec::new(),
    };
    let options = render_options(output.color, true);
    emit(None, |out| {
        report::render(&report, format_of(args.format), out, options)?;
        if args.format == ReportFormat::Human {
            render_more_checks(&extra, out, options.width)?;
            out.write_all(DEMO_NEXT_STEPS.as_bytes())?;
        }
        Ok(())
    })?;
    // The demo succeeded when it could show the report; blocked grants are its point.
    Ok(Outcome::Clear)
}

/// The grant `demo --repoint` moves (blocked: two stages route through it).
pub const REPOINT_GRANT: &str = "orders-slb-80";
/// Where `demo --repoint` moves it: the SLB that replaces the old one, same VPC and port.
pub const REPOINT_INSTANCE: &str = "lb-uf6replacement0xxx";

/// `demo --repoint`: the same `repoint` a user runs, confirmed with `--yes`, journaled in a
/// file of its own that is deleted afterwards.
async fn repoint_demo(client: Client, region: RegionId) -> Result<Outcome, Error> {
    use crate::removal::repoint::{repoint_command, RepointRequest, TargetSpec};
    let journal = std::env::temp_dir().join(format!(
        "grantguard-demo-{}-journal.jsonl",
        std::process::id()
    ));
    let context = crate::removal::Context {
        client,
        region,
        config: Config::default(),
        catalog: Catalog::builtin(),
        // The repoint tour shows the protocol; the Terraform findings are the audit's.
        terraform: Terraform::default(),
        walk: crate::inventory::walk::WalkOptions {
            history_depth: DEFAULT_HISTORY_DEPTH,
            progress: None,
        },
        render: crate::report::RenderOptions::default(),
    };
    println!(
        "grantguard demo: the emulator runs `repoint --name {REPOINT_GRANT} --instance-id {REPOINT_INSTANCE} --port 80 --yes`\n"
    );
    let request = RepointRequest {
        selector: Selector::Name(REPOINT_GRANT.to_owned()),
        target: TargetSpec {
            vpc_id: None,
            instance_id: REPOINT_INSTANCE.to_owned(),
            port: 80,
            host: None,
        },
        dry_run: false,
        yes: true,
        reason: None,
        journal: Some(journal.clone()),
        format: crate::removal::ResultFormat::Human,
        output: None,
        task_timeout: crate::removal::TASK_TIMEOUT,
    };
    let outcome = repoint_command(&context, request).await;
    let _ = std::fs::remove_file(&journal);
    let _ = std::fs::remove_file(crate::removal::journal::lock_path(&journal));
    println!("(the demo's emulator and journal end with it; on your own account, `restore` undoes a repoint)");
    Ok(outcome?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_account_fits_the_more_checks() {
        let fixture = sim::Fixture::from_json(DEMO_FIXTURE).expect("demo fixture parses");
        assert!(
            !fixture.credentials.is_empty(),
            "demo_command relies on one"
        );
        let named = |name: &str| fixture.grants.iter().filter(|g| g.name == name).count();
        assert_eq!(named(MISSING_NAME), 0, "GG301 needs a name nobody has");
        assert_eq!(named(SHARED_NAME), 2, "GG302 needs a shared name");
        assert_eq!(named(STALE_GRANT), 1);
        let config =
            Config::parse(STALE_CONFIG, "demo", Catalog::builtin().docs()).expect("parses");
        assert_eq!(config.max_inventory_age, std::time::Duration::ZERO);
    }
}

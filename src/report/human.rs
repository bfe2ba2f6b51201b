//! The report for people: per grant a verdict line, then each finding as a miette diagnostic
//! (rule id, message, dependency path, help with the fix), then a summary line. In: a report
//! and [`RenderOptions`]. Colour only when the caller asks for it; tests render without
//! colour at a fixed width.

use super::RenderOptions;
use crate::verdict::{Finding, GrantReport, Report, RuleId, Severity, Summary, Verdict};
use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme};
use std::fmt;
use std::io;

/// One finding as miette sees it.
struct FindingDiagnostic<'a> {
    finding: &'a Finding,
    help: Option<String>,
}

impl fmt::Debug for FindingDiagnostic<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FindingDiagnostic")
            .field("rule", &self.finding.rule)
            .finish()
    }
}

impl fmt::Display for FindingDiagnostic<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.finding.message)?;
        if let Some(source) = &self.finding.source {
            write!(f, "\nat: {source}")?;
        }
        if self.finding.path.len() > 1 {
            write!(f, "\npath: {}", self.finding.path_joined(" ← "))?;
        }
        if let Some(justification) = &self.finding.suppressed {
            write!(f, "\nsuppressed: {justification}")?;
        }
        Ok(())
    }
}

impl std::error::Error for FindingDiagnostic<'_> {}

impl Diagnostic for FindingDiagnostic<'_> {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(format!(
            "{} {} ({})",
            self.finding.rule, self.finding.rule_name, self.finding.severity
        )))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match (self.finding.severity, &self.finding.suppressed) {
            (_, Some(_)) | (Severity::Info, _) => miette::Severity::Advice,
            (Severity::Warn, _) => miette::Severity::Warning,
            (Severity::Deny, _) => miette::Severity::Error,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
}

fn handler(options: RenderOptions) -> GraphicalReportHandler {
    let theme = if options.color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    // Lines wrap at spaces only: a grant name, an id or a path is never cut at a hyphen.
    GraphicalReportHandler::new_themed(theme)
        .with_width(options.width)
        .with_links(false)
        .with_word_separator(textwrap::WordSeparator::AsciiSpace)
        .with_word_splitter(textwrap::WordSplitter::NoHyphenation)
        .with_break_words(false)
}

/// Writes `findings`, each rule's fix with the first of its findings only; `grant` fills in
/// the NAME the fixes say.
fn write_findings(
    report: &Report,
    findings: &[Finding],
    grant: Option<&str>,
    handler: &GraphicalReportHandler,
    out: &mut dyn io::Write,
) -> io::Result<()> {
    let mut helped: Vec<RuleId> = Vec::new();
    for finding in findings {
        let help = (!helped.contains(&finding.rule))
            .then(|| report.rule(finding.rule))
            .flatten()
            .map(|r| match grant {
                Some(name) => r.help().replace("NAME", name),
                None => r.help().to_owned(),
            });
        helped.push(finding.rule);
        writeln!(out)?;
        write_finding(finding, help, handler, out)?;
    }
    Ok(())
}

/// Writes one finding; `help` is the rule's fix, given once per grant and rule.
fn write_finding(
    finding: &Finding,
    help: Option<String>,
    handler: &GraphicalReportHandler,
    out: &mut dyn io::Write,
) -> io::Result<()> {
    let diagnostic = FindingDiagnostic { finding, help };
    let mut text = String::new();
    handler
        .render_report(&mut text, &diagnostic)
        .map_err(io::Error::other)?;
    writeln!(out, "{}", text.trim_end())
}

/// The headline of a grant: "nothing depends on it" only for a clean grant, never above a
/// list of warnings (a draft, a rollback target or a backend model still refers to it); an
/// `unknown` one says what made it so.
fn verdict_word(grant: &GrantReport) -> String {
    match grant.verdict {
        Verdict::Safe => match grant.warnings().count() {
            0 => "SAFE     nothing depends on it".to_owned(),
            n => format!(
                "SAFE, {n} warning{}  nothing live breaks, but something below still refers to it",
                if n == 1 { "" } else { "s" }
            ),
        },
        Verdict::Blocked => "BLOCKED  something depends on it".to_owned(),
        Verdict::Unknown => format!("UNKNOWN  {}", unknown_cause(grant)),
    }
}

/// Why nobody can tell: the coverage findings that hold the grant, by what they mean.
fn unknown_cause(grant: &GrantReport) -> String {
    let holds = |rule: RuleId| grant.findings.iter().any(|f| f.rule == rule && f.holds());
    let mut causes = Vec::new();
    if holds(RuleId::GG201) {
        causes.push("part of the account was not read");
    }
    if holds(RuleId::GG106) {
        causes.push("the service's index lists a user the walk did not find");
    }
    if holds(RuleId::GG306) {
        causes.push("a reference spells its name only nearly like this grant's");
    }
    if causes.is_empty() {
        causes.push("part of the account was not read");
    }
    causes.join("; ")
}

/// Summary-table order: blocked, unknown, safe with warnings, clean.
fn rank(grant: &GrantReport) -> u8 {
    match grant.verdict {
        Verdict::Blocked => 0,
        Verdict::Unknown => 1,
        Verdict::Safe if !grant.is_clean() => 2,
        Verdict::Safe => 3,
    }
}

/// The one-line reason in the summary table.
fn main_reason(grant: &GrantReport) -> String {
    let more = |n: usize| {
        if n > 1 {
            format!(" (+{} more)", n - 1)
        } else {
            String::new()
        }
    };
    match grant.verdict {
        Verdict::Blocked => {
            let holding: Vec<&Finding> = grant
                .findings
                .iter()
                .filter(|f| f.holds() && !f.rule.is_coverage())
                .collect();
            let what = match holding.first() {
                Some(first) => match first.user() {
                    Some(user) => format!("{} {}", first.rule, user),
                    None => format!("{} {}", first.rule, first.rule_name),
                },
                None => "something depends on it".to_owned(),
            };
            format!("{what}{}", more(holding.len()))
        }
        Verdict::Unknown => unknown_cause(grant),
        Verdict::Safe => {
            let mut names: Vec<&str> = Vec::new();
            for f in grant.warnings() {
                if !names.contains(&&*f.rule_name) {
                    names.push(&f.rule_name);
                }
            }
            match grant.warnings().count() {
                0 => "nothing depends on it".to_owned(),
                n => format!(
                    "{n} warning{}: {}",
                    if n == 1 { "" } else { "s" },
                    names.join(", ")
                ),
            }
        }
    }
}

/// One line per grant, worst first: verdict, name, tuple, finding counts, main reason.
fn write_summary_table(report: &Report, out: &mut dyn io::Write) -> io::Result<()> {
    let mut grants: Vec<&GrantReport> = report.grants.iter().collect();
    grants.sort_by_key(|g| rank(g));
    let count = |g: &GrantReport, severity: Severity| {
        g.findings
            .iter()
            .filter(|f| f.severity == severity && f.suppressed.is_none())
            .count()
    };
    let verdict = |g: &GrantReport| match (g.verdict, g.is_clean()) {
        (Verdict::Safe, false) => "SAFE+WARN",
        (v, _) => match v {
            Verdict::Safe => "SAFE",
            Verdict::Blocked => "BLOCKED",
            Verdict::Unknown => "UNKNOWN",
        },
    };
    let name_width = grants
        .iter()
        .map(|g| g.grant.name.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let key_width = grants
        .iter()
        .map(|g| g.grant.key.to_string().len())
        .max()
        .unwrap_or(5)
        .max(5);
    writeln!(
        out,
        "{:<9}  {:<name_width$}  {:<key_width$}  DENY  WARN  INFO  WHY",
        "VERDICT", "GRANT", "TUPLE"
    )?;
    for g in grants {
        writeln!(
            out,
            "{:<9}  {:<name_width$}  {:<key_width$}  {:>4}  {:>4}  {:>4}  {}",
            verdict(g),
            g.grant.name,
            g.grant.key.to_string(),
            count(g, Severity::Deny),
            count(g, Severity::Warn),
            count(g, Severity::Info),
            main_reason(g)
        )?;
    }
    Ok(())
}

/// For a permission gap, the RAM action the caller lacks (the same codes the client treats
/// as permission errors), so the operator knows what to grant.
fn ram_hint(gap: &crate::inventory::Gap) -> String {
    if gap.code.starts_with("Forbidden") || gap.code == "NoPermission" {
        format!("; missing RAM action apigateway:{}", gap.action)
    } else {
        String::new()
    }
}

/// Writes the human report of `report`.
pub fn render(report: &Report, out: &mut dyn io::Write, options: RenderOptions) -> io::Result<()> {
    let handler = handler(options);
    writeln!(
        out,
        "grantguard audit of {}{}",
        report.region,
        if report.complete {
            ""
        } else {
            " (incomplete scan)"
        }
    )?;
    if !report.grants.is_empty() {
        writeln!(out)?;
        write_summary_table(report, out)?;
    }
    // A gap narrowed to a grant this report does not show concerns nobody here.
    let concerns = |gap: &&crate::inventory::Gap| {
        gap.grant
            .as_ref()
            .is_none_or(|id| report.grants.iter().any(|g| g.grant.id == *id))
    };
    if report.gaps.iter().any(|gap| concerns(&gap)) && !report.grants.is_empty() {
        writeln!(out)?;
    }
    for gap in report.gaps.iter().filter(concerns) {
        writeln!(
            out,
            "  gap: {} on {} ({}): {}{}",
            gap.action,
            gap.scope,
            gap.code,
            gap.message,
            ram_hint(gap)
        )?;
    }
    let denied = |code: &str| code.starts_with("Forbidden") || code == "NoPermission";
    if report.gaps.iter().any(|gap| denied(&gap.code)) {
        writeln!(
            out,
            "  hint: grant the missing apigateway:<Action> above; `grantguard policy` prints the RAM policy with every action the audit needs"
        )?;
    }
    for grant in &report.grants {
        writeln!(out)?;
        writeln!(
            out,
            "grant {} ({}) {}: {}",
            grant.grant.name,
            grant.grant.id,
            grant.grant.key,
            verdict_word(grant)
        )?;
        // Each rule's fix is said once per grant, with the grant's name filled in.
        write_findings(
            report,
            &grant.findings,
            Some(&grant.grant.name),
            &handler,
            out,
        )?;
    }
    if !report.findings.is_empty() {
        writeln!(out)?;
        writeln!(out, "not tied to an audited grant:")?;
        write_findings(report, &report.findings, None, &handler, out)?;
    }
    let s = report.summary;
    writeln!(out)?;
    writeln!(
        out,
        "{} grant{} audited: {} safe, {} blocked, {} unknown",
        s.grants,
        if s.grants == 1 { "" } else { "s" },
        s.safe,
        s.blocked,
        s.unknown
    )
}

/// Writes several regions' reports: each region's report under its own heading (the
/// `grantguard audit of REGION` line), in the order given, then the totals over every region.
pub fn render_regions(
    reports: &[Report],
    out: &mut dyn io::Write,
    options: RenderOptions,
) -> io::Result<()> {
    for (n, report) in reports.iter().enumerate() {
        if n > 0 {
            writeln!(out)?;
        }
        render(report, out, options)?;
    }
    let s = Summary::total(reports.iter().map(|r| &r.summary));
    let incomplete = reports.iter().filter(|r| !r.complete).count();
    writeln!(out)?;
    writeln!(
        out,
        "{} regions, {} grant{} audited: {} safe, {} blocked, {} unknown{}",
        reports.len(),
        s.grants,
        if s.grants == 1 { "" } else { "s" },
        s.safe,
        s.blocked,
        s.unknown,
        match incomplete {
            0 => String::new(),
            1 => "; 1 region incomplete".to_owned(),
            n => format!("; {n} regions incomplete"),
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(report: &Report) -> String {
        let mut out = Vec::new();
        let options = RenderOptions {
            color: false,
            width: 100,
        };
        render(report, &mut out, options).expect("render to memory");
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn the_human_report_snapshot() {
        insta::assert_snapshot!(rendered(&super::super::tests::report()));
    }

    /// The audit of `inventory` as of the moment it was taken (no stale-inventory finding).
    fn audited(inventory: &crate::inventory::Inventory, selector: Option<&str>) -> Report {
        let selector = selector.map(|name| crate::selection::Selector::Name(name.into()));
        let graph = crate::graph::build(inventory);
        let selection = crate::selection::Selection::resolve(selector.as_ref(), &inventory.grants);
        crate::rules::evaluate(
            &graph,
            &crate::rules::Catalog::builtin(),
            &selection,
            &crate::config::Config::default(),
            &crate::rules::AuditContext {
                now: inventory.taken_at,
            },
        )
    }

    #[test]
    fn the_summary_table_lists_the_worst_first_with_counts_and_the_main_reason() {
        let mut inventory = crate::inventory::testing::account();
        inventory
            .grants
            .push(crate::inventory::testing::grant("apv-2", "spare", 9100));
        inventory.drafts.push(crate::inventory::testing::draft(
            "api-9",
            crate::inventory::testing::vpc_by_name("spare"),
        ));
        inventory
            .grants
            .push(crate::inventory::testing::grant("apv-3", "idle", 9200));
        let text = rendered(&audited(&inventory, None));
        let table: Vec<&str> = text
            .lines()
            .skip_while(|l| !l.starts_with("VERDICT"))
            .take(4)
            .collect();
        assert!(
            table[1].starts_with("BLOCKED") && table[1].contains("orders-vpc"),
            "{text}"
        );
        assert!(table[1].contains("GG101 orders/getOrder"), "{text}");
        assert!(
            table[2].starts_with("SAFE+WARN")
                && table[2].contains("1 warning: draft-api-uses-grant"),
            "{text}"
        );
        assert!(
            table[3].starts_with("SAFE ") && table[3].contains("nothing depends on it"),
            "{text}"
        );
        assert!(table[2].contains("vpc-1/i-1:9100"), "the tuple: {text}");
    }

    #[test]
    fn a_rule_help_is_said_once_per_grant_with_the_grant_name_filled_in() {
        let mut inventory = crate::inventory::testing::account();
        // A second deployment through the same grant: two GG101 findings.
        inventory
            .deployments
            .push(crate::inventory::testing::deployment(
                crate::inventory::testing::api("api-2", "listOrders", "GET", "/orders"),
                crate::inventory::Stage::Pre,
                crate::inventory::testing::vpc_by_name("orders-vpc"),
            ));
        let text = rendered(&audited(&inventory, None));
        assert_eq!(
            text.matches("GG101 deployed-api-uses-grant").count(),
            2,
            "{text}"
        );
        assert_eq!(text.matches("help: ").count(), 1, "{text}");
        assert!(
            text.contains("grantguard audit --name orders-vpc"),
            "{text}"
        );
        assert!(!text.contains("--name NAME"), "{text}");
    }

    #[test]
    fn an_unknown_headline_names_its_cause_and_a_one_grant_audit_shows_only_its_gaps() {
        let mut inventory = crate::inventory::testing::account();
        inventory
            .grants
            .push(crate::inventory::testing::grant("apv-2", "other", 9100));
        inventory
            .gaps
            .push(crate::inventory::testing::gap(Some("apv-2")));
        let text = rendered(&audited(&inventory, Some("other")));
        assert!(
            text.contains("UNKNOWN  part of the account was not read"),
            "{text}"
        );
        assert!(text.contains("gap: DescribeApis on group:grp-2"), "{text}");
        let text = rendered(&audited(&inventory, Some("orders-vpc")));
        assert!(!text.contains("gap:"), "a gap of another grant: {text}");
    }

    #[test]
    fn no_colour_unless_asked() {
        let text = rendered(&super::super::tests::report());
        assert!(!text.contains('\u{1b}'));
        assert!(text.contains("3 grants audited: 1 safe, 2 blocked, 0 unknown"));
    }

    #[test]
    fn a_suppressed_finding_shows_its_justification_and_the_verdict_ignores_it() {
        let inventory = crate::inventory::testing::account();
        let graph = crate::graph::build(&inventory);
        let selection = crate::selection::Selection::all(graph.grants());
        let mut config = crate::config::Config::default();
        config.suppress.push(crate::config::Suppression {
            rule: crate::verdict::RuleId::GG101,
            grant: "orders-vpc".into(),
            api: None,
            justification: "the API is retired in change 42".into(),
        });
        let report = crate::rules::evaluate(
            &graph,
            &crate::rules::Catalog::builtin(),
            &selection,
            &config,
            &crate::rules::AuditContext {
                now: inventory.taken_at,
            },
        );
        let text = rendered(&report);
        assert!(
            text.contains("suppressed: the API is retired in change 42"),
            "{text}"
        );
        assert!(text.contains("SAFE"), "{text}");
        assert!(report.all_safe());
    }

    #[test]
    fn a_permission_gap_names_the_missing_ram_action() {
        // Regression: the gap line gave the code but not the RAM action to grant.
        let mut report = super::super::tests::report();
        report.complete = false;
        report.gaps.push(crate::inventory::Gap {
            scope: "group:grp-2".into(),
            action: "DescribeApis".into(),
            code: "Forbidden.RAM".into(),
            message: "the caller is not authorized".into(),
            grant: None,
        });
        report.gaps.push(crate::inventory::Gap {
            scope: "group:grp-3".into(),
            action: "DescribeDeployedApis".into(),
            code: "ServiceUnavailable".into(),
            message: "try later".into(),
            grant: None,
        });
        let text = rendered(&report);
        assert!(
            text.contains("(Forbidden.RAM): the caller is not authorized; missing RAM action apigateway:DescribeApis"),
            "{text}"
        );
        assert!(!text.contains("apigateway:DescribeDeployedApis"), "{text}");
    }
}

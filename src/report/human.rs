//! The report for people: per grant a verdict line, then each finding as a miette diagnostic
//! (rule id, message, dependency path, help with the fix), then a summary line. In: a report
//! and [`RenderOptions`]. Colour only when the caller asks for it; tests render without
//! colour at a fixed width.

use super::RenderOptions;
use crate::verdict::{Finding, GrantReport, Report, Severity, Summary, Verdict};
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
    GraphicalReportHandler::new_themed(theme)
        .with_width(options.width)
        .with_links(false)
}

fn write_finding(
    report: &Report,
    finding: &Finding,
    handler: &GraphicalReportHandler,
    out: &mut dyn io::Write,
) -> io::Result<()> {
    let diagnostic = FindingDiagnostic {
        finding,
        help: report.rule(finding.rule).map(|r| r.help().to_owned()),
    };
    let mut text = String::new();
    handler
        .render_report(&mut text, &diagnostic)
        .map_err(io::Error::other)?;
    writeln!(out, "{}", text.trim_end())
}

/// The headline of a grant: "nothing depends on it" only for a clean grant, never above a
/// list of warnings (a draft, a rollback target or a backend model still refers to it).
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
        Verdict::Unknown => "UNKNOWN  part of the account was not read".to_owned(),
    }
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
    for gap in &report.gaps {
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
        for finding in &grant.findings {
            writeln!(out)?;
            write_finding(report, finding, &handler, out)?;
        }
    }
    if !report.findings.is_empty() {
        writeln!(out)?;
        writeln!(out, "not tied to an audited grant:")?;
        for finding in &report.findings {
            writeln!(out)?;
            write_finding(report, finding, &handler, out)?;
        }
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

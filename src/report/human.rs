//! The report for people: a summary table, one line per grant, worst first; then per grant
//! that has findings its headline and its findings grouped by rule (the rule named once, each
//! finding one line, the rule's fix once); then the summary line. In: a report and
//! [`RenderOptions`]. Colour only when the caller asks for it; text wraps only at the width
//! the caller gives (a terminal's), and never inside a word, so an identifier stays whole.

use super::RenderOptions;
use crate::verdict::{Finding, GrantReport, Report, RuleId, Severity, Summary, Verdict};
use owo_colors::OwoColorize;
use std::io;

/// Where the report's paragraphs go: wrapped to `width` (hanging indent, breaks at spaces
/// only), or one line per paragraph when there is no width (a pipe or a file, read by tools
/// such as grep that want a finding on one line).
struct Paragraphs<'a> {
    out: &'a mut dyn io::Write,
    width: Option<usize>,
    color: bool,
}

impl Paragraphs<'_> {
    /// Writes `text` after `indent`; wrapped lines continue under `hanging`.
    fn write(&mut self, indent: &str, hanging: &str, text: &str) -> io::Result<()> {
        write_paragraph(self.out, self.width, indent, hanging, text)
    }

    /// A blank line.
    fn blank(&mut self) -> io::Result<()> {
        writeln!(self.out)
    }

    /// `word` in the colour of `verdict`, when colour is on.
    fn verdict(&self, word: &str, verdict: Verdict, clean: bool) -> String {
        if !self.color {
            return word.to_owned();
        }
        match (verdict, clean) {
            (Verdict::Blocked, _) => word.red().bold().to_string(),
            (Verdict::Unknown, _) => word.magenta().bold().to_string(),
            (Verdict::Safe, false) => word.yellow().bold().to_string(),
            (Verdict::Safe, true) => word.green().bold().to_string(),
        }
    }

    /// The mark of a finding's severity (× deny, ⚠ warn, ☞ info or suppressed).
    fn mark(&self, finding: &Finding) -> String {
        let (mark, severity) = match (finding.severity, &finding.suppressed) {
            (_, Some(_)) | (Severity::Info, _) => ("☞", Severity::Info),
            (Severity::Warn, _) => ("⚠", Severity::Warn),
            (Severity::Deny, _) => ("×", Severity::Deny),
        };
        match (self.color, severity) {
            (false, _) => mark.to_owned(),
            (true, Severity::Deny) => mark.red().to_string(),
            (true, Severity::Warn) => mark.yellow().to_string(),
            (true, Severity::Info) => mark.cyan().to_string(),
        }
    }
}

/// Writes `text` after `indent` as one line, or, given a `width`, wrapped at spaces only (an
/// identifier longer than the line stays whole) with the lines after the first under
/// `hanging`.
pub fn write_paragraph(
    out: &mut dyn io::Write,
    width: Option<usize>,
    indent: &str,
    hanging: &str,
    text: &str,
) -> io::Result<()> {
    let Some(width) = width else {
        return writeln!(out, "{indent}{text}");
    };
    let options = textwrap::Options::new(width)
        .initial_indent(indent)
        .subsequent_indent(hanging)
        .word_separator(textwrap::WordSeparator::AsciiSpace)
        .word_splitter(textwrap::WordSplitter::NoHyphenation)
        .break_words(false);
    for line in textwrap::wrap(text, options) {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// The fixes said so far, with the grant they were said for, so that a fix repeated word for
/// word (a rule whose help does not name the grant) points back instead of being said again.
#[derive(Default)]
struct SaidFixes(Vec<(String, String)>);

/// Writes `findings` grouped by rule and severity: the rule once, each finding on its own
/// line, then the rule's fix once, with `grant`'s name filled in where the fix says NAME.
fn write_findings(
    report: &Report,
    findings: &[Finding],
    grant: Option<&GrantReport>,
    said: &mut SaidFixes,
    out: &mut Paragraphs<'_>,
) -> io::Result<()> {
    let grant_step = grant.map(|g| format!("grant {} ({})", g.grant.name, g.grant.id));
    let mut rest = findings;
    while let Some(first) = rest.first() {
        let len = rest
            .iter()
            .take_while(|f| f.rule == first.rule && f.severity == first.severity)
            .count();
        let (group, tail) = rest.split_at(len);
        rest = tail;
        let heading = format!(
            "{} {} {} ({})",
            out.mark(first),
            first.rule,
            first.rule_name,
            first.severity
        );
        // One finding goes on its rule's line; several go one per line below it.
        if group.len() > 1 {
            out.write("  ", "      ", &heading)?;
        }
        for finding in group {
            let mut line = finding.message.clone();
            if let Some(via) = untold_path(finding, &line, grant_step.as_deref()) {
                line.push_str("; via ");
                line.push_str(&via);
            }
            match group.len() {
                1 => out.write("  ", "      ", &format!("{heading}: {line}"))?,
                _ => out.write("    - ", "      ", &line)?,
            }
            if let Some(source) = &finding.source {
                out.write("      at: ", "        ", &source.to_string())?;
            }
            if let Some(justification) = &finding.suppressed {
                out.write("      suppressed: ", "        ", justification)?;
            }
        }
        let Some(rule) = report.rule(first.rule) else {
            continue;
        };
        let owner = grant.map_or("", |g| g.grant.name.as_str());
        let help = match grant {
            Some(g) => rule.help().replace("NAME", &g.grant.name),
            None => rule.help().to_owned(),
        };
        match said.0.iter().find(|(text, _)| *text == help) {
            Some((_, earlier)) if earlier == owner => {}
            Some((_, earlier)) => {
                let text = match earlier.as_str() {
                    "" => "as above".to_owned(),
                    name => format!("as for {name} above"),
                };
                out.write("    help: ", "      ", &text)?;
            }
            None => {
                out.write("    help: ", "      ", &help)?;
                said.0.push((help, owner.to_owned()));
            }
        }
    }
    Ok(())
}

/// The steps of the finding's dependency path that neither the grant's headline nor the
/// message names (a backend in the middle, a missing grant), or `None` when every step is
/// already said.
fn untold_path(finding: &Finding, message: &str, grant_step: Option<&str>) -> Option<String> {
    let untold: Vec<String> = finding
        .path_steps()
        .map(|s| s.to_string())
        .enumerate()
        .filter(|(n, step)| {
            let the_headlines = *n == 0 && grant_step == Some(step.as_str());
            !the_headlines && !message.contains(step.as_str())
        })
        .map(|(_, step)| step)
        .collect();
    (!untold.is_empty()).then(|| untold.join(" ← "))
}

/// The verdict as the table and the headlines say it: a safe grant with warnings is
/// `SAFE+WARN`.
fn verdict_label(grant: &GrantReport) -> &'static str {
    match (grant.verdict, grant.is_clean()) {
        (Verdict::Safe, false) => "SAFE+WARN",
        (Verdict::Safe, true) => "SAFE",
        (Verdict::Blocked, _) => "BLOCKED",
        (Verdict::Unknown, _) => "UNKNOWN",
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

/// The grants in summary-table order (worst first; the sort is stable, so report order
/// within a rank).
fn worst_first(report: &Report) -> Vec<&GrantReport> {
    let mut grants: Vec<&GrantReport> = report.grants.iter().collect();
    grants.sort_by_key(|g| rank(g));
    grants
}

/// One line per grant, worst first: verdict, name, tuple, finding counts, main reason. On a
/// terminal too narrow for a row, the row continues under the reason's column (or under the
/// name's, when even that is too far right).
fn write_summary_table(report: &Report, out: &mut Paragraphs<'_>) -> io::Result<()> {
    let grants = worst_first(report);
    let count = |g: &GrantReport, severity: Severity| {
        g.findings
            .iter()
            .filter(|f| f.severity == severity && f.suppressed.is_none())
            .count()
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
    // On a terminal too narrow for the tuples, they are left to the grants' headlines.
    let fits = |columns: usize| out.width.is_none_or(|width| columns + 40 <= width);
    let with_tuple = fits(9 + 2 + name_width + 2 + key_width + 2 + 18);
    let (tuple_heading, key_width) = match with_tuple {
        true => ("TUPLE  ", key_width + 2),
        false => ("", 0),
    };
    let why_column = 9 + 2 + name_width + 2 + key_width + 18;
    let hanging = match out.width {
        Some(width) if why_column + 24 > width => " ".repeat(11),
        _ => " ".repeat(why_column),
    };
    let heading = format!(
        "{:<9}  {:<name_width$}  {:<key_width$}DENY  WARN  INFO  WHY",
        "VERDICT", "GRANT", tuple_heading
    );
    out.write("", &hanging, &heading)?;
    for g in grants {
        let tuple = match with_tuple {
            true => g.grant.key.to_string(),
            false => String::new(),
        };
        let row = format!(
            "{}  {:<name_width$}  {:<key_width$}{:>4}  {:>4}  {:>4}  {}",
            out.verdict(&format!("{:<9}", verdict_label(g)), g.verdict, g.is_clean()),
            g.grant.name,
            tuple,
            count(g, Severity::Deny),
            count(g, Severity::Warn),
            count(g, Severity::Info),
            main_reason(g)
        );
        out.write("", &hanging, &row)?;
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
    let out = &mut Paragraphs {
        out,
        width: options.width,
        color: options.color,
    };
    let incomplete = if report.complete {
        ""
    } else {
        " (incomplete scan)"
    };
    out.write(
        "",
        "",
        &format!("grantguard audit of {}{incomplete}", report.region),
    )?;
    if !report.grants.is_empty() {
        out.blank()?;
        write_summary_table(report, out)?;
    }
    // A gap narrowed to a grant this report does not show concerns nobody here.
    let concerns = |gap: &&crate::inventory::Gap| {
        gap.grant
            .as_ref()
            .is_none_or(|id| report.grants.iter().any(|g| g.grant.id == *id))
    };
    if report.gaps.iter().any(|gap| concerns(&gap)) && !report.grants.is_empty() {
        out.blank()?;
    }
    for gap in report.gaps.iter().filter(concerns) {
        let text = format!(
            "{} on {} ({}): {}{}",
            gap.action,
            gap.scope,
            gap.code,
            gap.message,
            ram_hint(gap)
        );
        out.write("  gap: ", "       ", &text)?;
    }
    let denied = |code: &str| code.starts_with("Forbidden") || code == "NoPermission";
    if report
        .gaps
        .iter()
        .filter(concerns)
        .any(|gap| denied(&gap.code))
    {
        out.write(
            "  hint: ",
            "        ",
            "grant the missing apigateway:<Action> above; `grantguard policy` prints the RAM policy with every action the audit needs",
        )?;
    }
    let mut said = SaidFixes::default();
    let grants = worst_first(report);
    let (quiet, told): (Vec<&GrantReport>, Vec<&GrantReport>) = grants
        .into_iter()
        .partition(|g| g.findings.is_empty() && g.verdict == Verdict::Safe);
    for grant in told {
        out.blank()?;
        // The table gave the reason already; an unknown verdict's cause is said again, since
        // it decides what to do next.
        let cause = match grant.verdict {
            Verdict::Unknown => format!(": {}", unknown_cause(grant)),
            _ => String::new(),
        };
        let headline = format!(
            "{} {} ({}) {}{cause}",
            out.verdict(verdict_label(grant), grant.verdict, grant.is_clean()),
            grant.grant.name,
            grant.grant.id,
            grant.grant.key,
        );
        out.write("", "  ", &headline)?;
        // Each rule's fix is said once per grant, with the grant's name filled in.
        write_findings(report, &grant.findings, Some(grant), &mut said, out)?;
    }
    if !quiet.is_empty() {
        out.blank()?;
        let label = out.verdict("SAFE", Verdict::Safe, true);
        out.write(
            "",
            "",
            &format!("{label}, no finding, nothing depends on these:"),
        )?;
        for g in quiet {
            let line = format!("{} ({}) {}", g.grant.name, g.grant.id, g.grant.key);
            out.write("  - ", "    ", &line)?;
        }
    }
    if !report.findings.is_empty() {
        out.blank()?;
        out.write("", "", "not tied to an audited grant:")?;
        write_findings(report, &report.findings, None, &mut said, out)?;
    }
    let s = report.summary;
    out.blank()?;
    let summary = format!(
        "{} grant{} audited: {} safe, {} blocked, {} unknown",
        s.grants,
        if s.grants == 1 { "" } else { "s" },
        s.safe,
        s.blocked,
        s.unknown
    );
    out.write("", "", &summary)
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
            ..RenderOptions::default()
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
    fn a_rule_is_named_and_its_help_said_once_per_grant_with_the_grant_name_filled_in() {
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
            1,
            "{text}"
        );
        assert_eq!(text.matches("\n    - ").count(), 2, "one line each: {text}");
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
            text.contains(
                "\nUNKNOWN other (apv-2) vpc-1/i-1:9100: part of the account was not read"
            ),
            "{text}"
        );
        assert!(text.contains("gap: DescribeApis on group:grp-2"), "{text}");
        let text = rendered(&audited(&inventory, Some("orders-vpc")));
        assert!(!text.contains("gap:"), "a gap of another grant: {text}");
        // Regression: the RAM hint still pointed "above" at the gap left out.
        assert!(
            !text.contains("hint:"),
            "a hint about a gap not shown: {text}"
        );
    }

    /// The same report at a terminal's width: every line fits unless it is one word, and no
    /// word is cut (below the table, which leaves the tuples to the headlines when narrow, the
    /// words are those of the one-line-per-paragraph rendering).
    #[test]
    fn a_terminal_width_wraps_at_spaces_and_a_pipe_gets_one_line_per_paragraph() {
        let report = super::super::tests::report();
        let mut wrapped = Vec::new();
        let options = RenderOptions {
            color: false,
            width: Some(48),
            ..RenderOptions::default()
        };
        render(&report, &mut wrapped, options).expect("render to memory");
        let wrapped = String::from_utf8(wrapped).expect("utf-8");
        let piped = rendered(&report);
        assert!(wrapped.lines().count() > piped.lines().count(), "{wrapped}");
        for line in wrapped.lines() {
            assert!(
                line.chars().count() <= 48 || !line.trim().contains(' '),
                "{line:?} is longer than 48 columns"
            );
        }
        let words = |text: &str| -> Vec<String> {
            let details = text
                .find("\nBLOCKED orders-vpc (apv-1)")
                .expect("a headline");
            text[details..]
                .split_whitespace()
                .map(str::to_owned)
                .collect()
        };
        assert!(
            !wrapped.contains("TUPLE"),
            "too narrow for tuples: {wrapped}"
        );
        assert_eq!(
            words(&wrapped),
            words(&piped),
            "only the line breaks differ"
        );
        assert!(
            piped.lines().any(|l| l.len() > 150),
            "a pipe gets whole paragraphs: {piped}"
        );
    }

    #[test]
    fn a_fix_repeated_word_for_word_for_another_grant_points_back() {
        let mut inventory = crate::inventory::testing::account();
        inventory
            .grants
            .push(crate::inventory::testing::grant("apv-2", "spare", 9100));
        for (id, grant) in [("api-8", "orders-vpc"), ("api-9", "spare")] {
            inventory.drafts.push(crate::inventory::testing::draft(
                id,
                crate::inventory::testing::vpc_by_name(grant),
            ));
        }
        let text = rendered(&audited(&inventory, None));
        assert_eq!(text.matches("help: Edit the draft").count(), 1, "{text}");
        assert!(text.contains("help: as for orders-vpc above"), "{text}");
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

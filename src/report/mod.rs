//! The audit's renderings. In: a [`Report`] (the `verdict` types, built by `rules::evaluate`). Out:
//! text in one [`Format`] — human (miette diagnostics), JSON (the `grantguard.report/v1`
//! contract) or SARIF 2.1.0. Renderers see only the report; they never consult the graph,
//! the clock or the environment (colour is the caller's decision, in [`RenderOptions`]).

pub mod human;
pub mod json;
pub mod sarif;

use crate::verdict::Report;
use std::io;

/// An output format for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Diagnostics for people (the default).
    #[default]
    Human,
    /// The `grantguard.report/v1` JSON contract.
    Json,
    /// SARIF 2.1.0.
    Sarif,
}

/// How the JSON report is laid out; the fields are the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// Indented, one field a line: for people and diffs (the default).
    #[default]
    Pretty,
    /// One line without whitespace (`--compact`): about a quarter fewer bytes.
    Compact,
}

/// How to render; the default is plain text with no wrapping (a pipe or a file) and pretty JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RenderOptions {
    /// Use colour (the caller decides: a terminal and no `NO_COLOR`).
    pub color: bool,
    /// Line width for wrapping (a terminal's); `None` writes each paragraph on one line.
    pub width: Option<usize>,
    /// The layout of the JSON report.
    pub layout: Layout,
}

/// Writes `report` to `out` in `format`.
pub fn render(
    report: &Report,
    format: Format,
    out: &mut dyn io::Write,
    options: RenderOptions,
) -> io::Result<()> {
    match format {
        Format::Human => human::render(report, out, options),
        Format::Json => json::render(report, out, options.layout),
        Format::Sarif => sarif::render(report, out),
    }
}

/// Writes the reports of several regions to `out` in `format`. One report is written exactly
/// as [`render`] writes it; with more, human output has one section per region and a totals
/// line, JSON is the multi-region document ([`json::render_regions`]) and SARIF one run with
/// every region's results ([`sarif::render_regions`]).
pub fn render_regions(
    reports: &[Report],
    format: Format,
    out: &mut dyn io::Write,
    options: RenderOptions,
) -> io::Result<()> {
    if let [report] = reports {
        return render(report, format, out, options);
    }
    match format {
        Format::Human => human::render_regions(reports, out, options),
        Format::Json => json::render_regions(reports, out, options.layout),
        Format::Sarif => sarif::render_regions(reports, out),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::config::Config;
    use crate::inventory::testing::*;
    use crate::rules::{evaluate, AuditContext, Catalog};
    use crate::selection::Selection;
    use crate::verdict::{GrantReport, Report, RuleId};

    /// The report of [`rich_account`], audited at the moment it was taken.
    pub fn report() -> Report {
        let inventory = rich_account();
        let graph = crate::graph::build(&inventory);
        let selection = Selection::all(graph.grants());
        let context = AuditContext {
            now: inventory.taken_at,
        };
        evaluate(
            &graph,
            &Catalog::builtin(),
            &selection,
            &Config::default(),
            &context,
        )
    }

    #[test]
    fn the_small_account_gets_one_verdict_of_each_kind_it_can() {
        let report = report();
        let verdicts: Vec<_> = report.grants.iter().map(|g| g.verdict.as_str()).collect();
        assert_eq!(verdicts, ["blocked", "blocked", "safe"]);
        assert_eq!(report.summary.blocked, 2);
        assert!(!report.all_safe());
    }

    /// The digest computed independently, from a JSON tree per grant printed compactly: the
    /// streamed digest must equal it, or saved `--plan` reports stop matching.
    fn digest_by_tree(g: &GrantReport) -> String {
        use sha2::{Digest, Sha256};
        let findings: Vec<serde_json::Value> = g
            .findings
            .iter()
            .filter(|f| f.rule != crate::verdict::RuleId::GG202)
            .map(|f| {
                serde_json::json!([
                    f.rule,
                    f.severity.as_str(),
                    f.message,
                    f.group_id(),
                    f.api_id(),
                    f.stage(),
                    f.suppressed
                ])
            })
            .collect();
        let canonical = serde_json::json!({
            "vpc_access_id": g.grant.id,
            "name": g.grant.name,
            "vpc_id": g.grant.key.vpc_id,
            "instance_id": g.grant.key.instance_id,
            "port": g.grant.key.port,
            "verdict": g.verdict.as_str(),
            "findings": findings,
        });
        hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
    }

    #[test]
    fn a_snapshot_audited_later_keeps_its_digest() {
        // Regression: GG202's age text was part of the digest, so a snapshot audited a
        // second later had another digest and a `--plan` made from it never matched.
        let inventory = rich_account();
        let graph = crate::graph::build(&inventory);
        let selection = Selection::all(graph.grants());
        let at = |seconds: i64| {
            evaluate(
                &graph,
                &Catalog::builtin(),
                &selection,
                &Config::default(),
                &AuditContext {
                    now: inventory.taken_at
                        + time::Duration::days(3)
                        + time::Duration::seconds(seconds),
                },
            )
        };
        let (first, later) = (at(0), at(61));
        assert!(first.grants[0]
            .findings
            .iter()
            .any(|f| f.rule == crate::verdict::RuleId::GG202));
        for (a, b) in first.grants.iter().zip(&later.grants) {
            assert_eq!(a.digest, b.digest);
        }
    }

    #[test]
    fn digests_are_the_values_plans_already_cite() {
        let mut report = report();
        // A suppression and a quote in a message exercise the nullable and escaped fields.
        report.grants[0].findings[0].suppressed = Some("change \"42\"".into());
        for g in &report.grants {
            assert_eq!(g.compute_digest(), digest_by_tree(g), "{}", g.grant.name);
        }
        assert!(report.grants.iter().any(|g| g.findings.len() > 1));
    }

    proptest::proptest! {
        #[test]
        fn any_grant_digests_as_its_tree_does(
            g in crate::verdict::strategies::grant_report(6)
        ) {
            proptest::prop_assert_eq!(g.compute_digest(), digest_by_tree(&g));
        }
    }

    #[test]
    fn a_grant_whose_canonical_form_is_hashed_in_pieces_digests_as_its_tree_does() {
        // Far more than one 64 KiB piece of canonical text, with escapes across the seams.
        let mut g = report().grants[0].clone();
        let model = g.findings[0].clone();
        g.findings = (0..3000)
            .map(|n| {
                let mut f = model.clone();
                f.message = format!("{n} \"quoted\" {}", "x".repeat(n % 97));
                f
            })
            .collect();
        assert!(
            serde_json::to_string(&g.findings.iter().map(|f| &f.message).collect::<Vec<_>>())
                .unwrap()
                .len()
                > 3 * 64 * 1024
        );
        assert_eq!(g.compute_digest(), digest_by_tree(&g));
    }

    #[test]
    fn digests_are_stable_and_differ_per_grant() {
        let (a, b) = (report(), report());
        assert_eq!(a.grants[0].digest, b.grants[0].digest);
        assert_ne!(a.grants[0].digest, a.grants[1].digest);
        assert_eq!(a.grants[0].digest.len(), 64);
    }

    #[test]
    fn a_top_level_deny_holds_even_with_no_grants() {
        let inventory = account();
        let graph = crate::graph::build(&inventory);
        let selector = crate::selection::Selector::Name("nope".into());
        let selection = Selection::resolve(Some(&selector), graph.grants());
        let context = AuditContext {
            now: inventory.taken_at,
        };
        let report = evaluate(
            &graph,
            &Catalog::builtin(),
            &selection,
            &Config::default(),
            &context,
        );
        assert!(report.grants.is_empty());
        assert_eq!(report.findings[0].rule, RuleId::GG301);
        assert!(!report.all_safe());
    }
}

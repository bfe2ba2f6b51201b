//! The audit's result and its renderings. In: a [`Report`] built by `rules::evaluate`. Out:
//! text in one [`Format`] — human (miette diagnostics), JSON (the `grantguard.report/v1`
//! contract) or SARIF 2.1.0. Renderers see only the report; they never consult the graph,
//! the clock or the environment (colour is the caller's decision, in [`RenderOptions`]).

pub mod human;
pub mod json;
pub mod sarif;

use crate::graph::Subject;
use crate::inventory::{ApiId, Gap, Grant, GroupId, RegionId, Stage};
use crate::rules::{Hit, Rule, RuleDoc, RuleId, Severity};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::io;
use std::sync::Arc;
use time::OffsetDateTime;

/// The judgement on one grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// No deny finding and nothing missing: it can go.
    Safe,
    /// A deny finding other than coverage: something depends on it.
    Blocked,
    /// Only coverage findings (or gaps): nobody can tell.
    Unknown,
}

impl Verdict {
    /// Judges a grant from its findings and whether a gap affects it. Suppressed findings do
    /// not count; a gap always prevents `safe` (DESIGN.md "Verdicts and fail-closed rule").
    pub fn judge(findings: &[Finding], gap_affects: bool) -> Verdict {
        let denies = findings
            .iter()
            .filter(|f| f.severity == Severity::Deny && f.suppressed.is_none());
        let mut coverage = false;
        for finding in denies {
            if !crate::rules::is_coverage(&finding.rule) {
                return Verdict::Blocked;
            }
            coverage = true;
        }
        if coverage || gap_affects {
            Verdict::Unknown
        } else {
            Verdict::Safe
        }
    }

    /// `safe`, `blocked` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Safe => "safe",
            Verdict::Blocked => "blocked",
            Verdict::Unknown => "unknown",
        }
    }
}

/// One step of a finding's dependency path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathStep {
    /// Text, shared where it repeats (a grant's step is the same in all its findings).
    Text(Arc<str>),
    /// The finding's user, written the way [`Finding::user`] is.
    User,
}

/// One rule match, with its severity after the config and who it is about. What repeats
/// across findings (rule, API identity, the grant's path step) is shared, not copied: a large
/// account's report has hundreds of thousands of findings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Rule id.
    pub rule: RuleId,
    /// Rule name.
    pub rule_name: Arc<str>,
    /// Severity after the config.
    pub severity: Severity,
    /// What was found.
    pub message: String,
    /// Who: an API in a stage (or a draft, or a version), or a backend model.
    pub subject: Option<Subject>,
    /// Dependency path, grant first.
    pub path: Vec<PathStep>,
    /// The justification, when the config suppressed the finding.
    pub suppressed: Option<String>,
}

impl Finding {
    /// A finding of `rule` at `severity` from `hit`, whose path the caller has made.
    pub fn new(
        rule: &Rule,
        severity: Severity,
        hit: Hit,
        path: Vec<PathStep>,
        suppressed: Option<String>,
    ) -> Finding {
        let mut message = hit.message;
        message.shrink_to_fit();
        Finding {
            rule: rule.id.clone(),
            rule_name: rule.name.clone(),
            severity,
            message,
            subject: hit.user.as_ref().map(|u| u.to_subject()),
            path,
            suppressed,
        }
    }

    /// Who: `GroupName/ApiName (METHOD /path) @ STAGE`, or the backend (a `Display`).
    pub fn user(&self) -> Option<&Subject> {
        self.subject.as_ref()
    }

    /// Group id of the user.
    pub fn group_id(&self) -> Option<&GroupId> {
        Some(&self.subject.as_ref()?.api.as_ref()?.group_id)
    }

    /// API id of the user.
    pub fn api_id(&self) -> Option<&ApiId> {
        Some(&self.subject.as_ref()?.api.as_ref()?.api_id)
    }

    /// Stage of the user.
    pub fn stage(&self) -> Option<Stage> {
        self.subject.as_ref()?.stage
    }

    /// Version id, when the user is a historical version.
    pub fn version(&self) -> Option<&str> {
        self.subject.as_ref()?.version.as_deref()
    }

    /// The dependency path's steps as text.
    pub fn path_steps(&self) -> impl Iterator<Item = StepText<'_>> {
        self.path.iter().map(move |step| StepText {
            step,
            subject: self.subject.as_ref(),
        })
    }

    /// The dependency path joined with `separator`.
    pub fn path_joined(&self, separator: &str) -> String {
        let steps: Vec<String> = self.path_steps().map(|s| s.to_string()).collect();
        steps.join(separator)
    }

    /// True when the finding counts toward the verdict at deny level.
    pub fn holds(&self) -> bool {
        self.severity == Severity::Deny && self.suppressed.is_none()
    }
}

/// One path step as text (a `Display`, so a renderer writes it without building a string).
#[derive(Debug, Clone, Copy)]
pub struct StepText<'a> {
    step: &'a PathStep,
    subject: Option<&'a Subject>,
}

impl std::fmt::Display for StepText<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.step, self.subject) {
            (PathStep::Text(text), _) => f.write_str(text),
            (PathStep::User, Some(subject)) => subject.fmt(f),
            (PathStep::User, None) => f.write_str("unknown user"),
        }
    }
}

impl Serialize for StepText<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// One audited grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantReport {
    /// The grant.
    pub grant: Grant,
    /// Its verdict.
    pub verdict: Verdict,
    /// Its findings, in rule order.
    pub findings: Vec<Finding>,
    /// sha256 hex of the grant's key and canonical findings; a removal plan cites it.
    pub digest: String,
}

impl GrantReport {
    /// The findings that keep a `safe` grant from being clean: unsuppressed, at `warn` or
    /// above after the config (DESIGN.md: removal needs a clean report).
    pub fn warnings(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity >= Severity::Warn && f.suppressed.is_none())
    }

    /// `safe` with no finding at `warn` or above: the only grant removed without an override.
    pub fn is_clean(&self) -> bool {
        self.verdict == Verdict::Safe && self.warnings().next().is_none()
    }

    /// The digest of the grant's identity, verdict and findings; stable across runs over the
    /// same account (no times in it). The canonical form is compact JSON with sorted keys,
    /// `{"findings":[[rule,severity,message,group_id,api_id,stage,suppressed],…],
    /// "instance_id",…,"vpc_id"}`, streamed straight into the hash rather than built as a
    /// tree first (a large account has hundreds of thousands of findings).
    pub fn compute_digest(&self) -> String {
        /// Field order is the sorted key order the canonical form has always used.
        #[derive(Serialize)]
        struct Canonical<'r> {
            findings: Vec<CanonicalFinding<'r>>,
            instance_id: &'r crate::inventory::InstanceId,
            name: &'r str,
            port: u16,
            verdict: &'static str,
            vpc_access_id: &'r crate::inventory::VpcAccessId,
            vpc_id: &'r crate::inventory::VpcId,
        }
        type CanonicalFinding<'r> = (
            &'r str,
            &'static str,
            &'r str,
            Option<&'r GroupId>,
            Option<&'r ApiId>,
            Option<Stage>,
            &'r Option<String>,
        );
        /// Feeds what is written into the hash.
        struct Hasher(Sha256);
        impl io::Write for Hasher {
            fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
                self.0.update(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let canonical = Canonical {
            findings: self
                .findings
                .iter()
                .map(|f| {
                    (
                        f.rule.as_str(),
                        f.severity.as_str(),
                        f.message.as_str(),
                        f.group_id(),
                        f.api_id(),
                        f.stage(),
                        &f.suppressed,
                    )
                })
                .collect(),
            instance_id: &self.grant.key.instance_id,
            name: &self.grant.name,
            port: self.grant.key.port,
            verdict: self.verdict.as_str(),
            vpc_access_id: &self.grant.id,
            vpc_id: &self.grant.key.vpc_id,
        };
        let mut hasher = io::BufWriter::with_capacity(64 * 1024, Hasher(Sha256::new()));
        serde_json::to_writer(&mut hasher, &canonical).expect("hashing cannot fail");
        let Ok(Hasher(sha)) = hasher.into_inner() else {
            unreachable!("flushing into a hash cannot fail")
        };
        hex::encode(sha.finalize())
    }
}

/// How many grants got which verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Summary {
    /// Audited grants.
    pub grants: usize,
    /// Safe ones.
    pub safe: usize,
    /// Blocked ones.
    pub blocked: usize,
    /// Unknown ones.
    pub unknown: usize,
}

impl Summary {
    /// Counts the verdicts of `grants`.
    pub fn count(grants: &[GrantReport]) -> Summary {
        let of = |v| grants.iter().filter(|g| g.verdict == v).count();
        Summary {
            grants: grants.len(),
            safe: of(Verdict::Safe),
            blocked: of(Verdict::Blocked),
            unknown: of(Verdict::Unknown),
        }
    }

    /// The sum of several summaries (the totals of a multi-region run).
    pub fn total<'a>(summaries: impl IntoIterator<Item = &'a Summary>) -> Summary {
        summaries
            .into_iter()
            .fold(Summary::default(), |sum, s| Summary {
                grants: sum.grants + s.grants,
                safe: sum.safe + s.safe,
                blocked: sum.blocked + s.blocked,
                unknown: sum.unknown + s.unknown,
            })
    }
}

/// The result of one audit.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The region audited.
    pub region: RegionId,
    /// True when the inventory had no gap.
    pub complete: bool,
    /// Everything that could not be read or resolved.
    pub gaps: Vec<Gap>,
    /// One entry per selected grant.
    pub grants: Vec<GrantReport>,
    /// Findings about no single grant (GG301, GG302, GG304).
    pub findings: Vec<Finding>,
    /// Verdict counts.
    pub summary: Summary,
    /// When the audit ran.
    pub generated_at: OffsetDateTime,
    /// When the inventory was taken.
    pub taken_at: OffsetDateTime,
    /// The catalog's documents, for help text and SARIF rules.
    pub rules: Vec<RuleDoc>,
}

impl Report {
    /// True when every audited grant is safe and no finding outside a grant holds (exit 0).
    pub fn all_safe(&self) -> bool {
        self.grants.iter().all(|g| g.verdict == Verdict::Safe)
            && !self.findings.iter().any(Finding::holds)
    }

    /// The document of rule `id`.
    pub fn rule(&self, id: &str) -> Option<&RuleDoc> {
        self.rules.iter().find(|r| r.id == id)
    }
}

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

/// How to render for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderOptions {
    /// Use colour (the caller decides: a terminal and no `NO_COLOR`).
    pub color: bool,
    /// Line width for wrapping.
    pub width: usize,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            color: false,
            width: 100,
        }
    }
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
        Format::Json => json::render(report, out),
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
        Format::Json => json::render_regions(reports, out),
        Format::Sarif => sarif::render_regions(reports, out),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::config::Config;
    use crate::inventory::{IndexedUse, Inventory, Route, Stage};
    use crate::rules::testing::*;
    use crate::rules::{evaluate, AuditContext, Catalog};
    use crate::selection::Selection;

    /// One small account that fires most rules: a deployment, a backend with an idle stage,
    /// a draft, an old version, a dangling reference, a spare grant and a gap-free scan.
    pub fn inventory() -> Inventory {
        let mut inventory = account();
        inventory.grants.push(grant("apv-2", "payments-vpc", 8080));
        inventory.grants.push(grant("apv-3", "spare-vpc", 9000));
        inventory
            .deployments
            .push(crate::rules::testing::deployment(
                api("api-2", "pay", "POST", "/pay"),
                Stage::Release,
                Route::Backend {
                    backend_id: "be-1".into(),
                },
            ));
        inventory.backends.push(backend(
            "be-1",
            &[
                (Stage::Release, "payments-vpc"),
                (Stage::Pre, "payments-vpc"),
            ],
        ));
        inventory
            .drafts
            .push(draft("api-3", vpc_by_name("orders-vpc")));
        inventory
            .drafts
            .push(draft("api-4", vpc_by_name("orders-old")));
        inventory.history.push(version(
            api("api-1", "getOrder", "GET", "/orders/[id]"),
            Stage::Release,
            "20250101000000000",
            false,
            vpc_by_tuple("vpc-1", "i-1", 80),
        ));
        inventory.index.push(IndexedUse {
            grant: "apv-1".into(),
            group_id: "grp-1".into(),
            group_name: "orders".into(),
            api_id: "api-1".into(),
            api_name: "getOrder".into(),
            stage: Stage::Release,
        });
        inventory
    }

    /// The report of [`inventory`], audited at the moment it was taken.
    pub fn report() -> super::Report {
        let inventory = inventory();
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

    /// The digest as it was first defined: a JSON tree per grant, printed compactly.
    fn digest_by_tree(g: &super::GrantReport) -> String {
        use sha2::{Digest, Sha256};
        let findings: Vec<serde_json::Value> = g
            .findings
            .iter()
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
    fn digests_are_the_values_plans_already_cite() {
        let mut report = report();
        // A suppression and a quote in a message exercise the nullable and escaped fields.
        report.grants[0].findings[0].suppressed = Some("change \"42\"".into());
        for g in &report.grants {
            assert_eq!(g.compute_digest(), digest_by_tree(g), "{}", g.grant.name);
        }
        assert!(report.grants.iter().any(|g| g.findings.len() > 1));
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
        assert_eq!(report.findings[0].rule, "GG301");
        assert!(!report.all_safe());
    }
}

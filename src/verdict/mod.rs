//! The audit's results, in one home: [`Verdict`], [`Finding`], [`GrantReport`] and [`Report`],
//! with the rule's [`RuleId`], [`Severity`] and [`RuleDoc`] they name. In: what `rules`
//! produces. Out: the values `report` renders, `config` adjusts and `removal` acts on. It
//! depends on no stage after `graph` (a finding's [`Subject`] is the graph's owned user) and
//! renders nothing: no text format, no clock, no I/O but the digest's hashing.

mod rule;
#[cfg(test)]
pub(crate) mod strategies;

pub use rule::{RuleDoc, RuleId, Severity, UnknownRuleId};

use crate::graph::Subject;
use crate::inventory::{ApiId, Gap, Grant, GroupId, RegionId, Stage};
use crate::json_text::JsonText;
use serde::Serialize;
use sha2::{Digest, Sha256};
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
    /// not count; a gap always prevents `safe` (docs/architecture.md "Verdicts and fail-closed rule").
    pub fn judge(findings: &[Finding], gap_affects: bool) -> Verdict {
        let denies = findings
            .iter()
            .filter(|f| f.severity == Severity::Deny && f.suppressed.is_none());
        let mut coverage = false;
        for finding in denies {
            if !finding.rule.is_coverage() {
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
    /// Rule id (the enum is `Copy`, so findings share it for free).
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
    /// The Terraform file and line the finding is about, when it is about one.
    pub source: Option<crate::terraform::SourceLine>,
}

impl Finding {
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

/// A path's user step when the finding names no user.
pub const UNKNOWN_USER: &str = "unknown user";

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
            (PathStep::User, None) => f.write_str(UNKNOWN_USER),
        }
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

/// The rule ids of `findings`, each once, in the order they first appear (rule order, for a
/// grant's findings).
pub fn rule_ids<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> Vec<RuleId> {
    let mut ids: Vec<RuleId> = Vec::new();
    for f in findings {
        if !ids.contains(&f.rule) {
            ids.push(f.rule);
        }
    }
    ids
}

impl GrantReport {
    /// The findings that keep a `safe` grant from being clean: unsuppressed, at `warn` or
    /// above after the config (docs/architecture.md: removal needs a clean report).
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
    /// "instance_id",…,"vpc_id"}`, written by hand (it is as many findings as the report
    /// holds, hashed on the judging threads) and hashed a piece at a time rather than built
    /// whole first (a large account has hundreds of thousands of findings).
    pub fn compute_digest(&self) -> String {
        /// How much canonical text is hashed at a time.
        const PIECE: usize = 64 * 1024;
        let mut sha = Sha256::new();
        // Room for the grant and its findings (about 200 bytes each), up to a piece and the
        // finding that ends it.
        let room = (256 + 200 * self.findings.len()).min(PIECE + 4096);
        let mut text = JsonText::with_capacity(false, room);
        text.begin_object();
        text.key(true, "findings");
        text.begin_array();
        let mut none = true;
        // GG202 says how old the inventory is, which changes every second: it is about the
        // audit, not about who depends on the grant, and would make a snapshot's digest (and
        // so a `--plan` made from it) never match twice.
        for f in self.findings.iter().filter(|f| f.rule != RuleId::GG202) {
            text.element(none);
            none = false;
            text.begin_array();
            text.element(true);
            text.string(f.rule.as_str());
            text.element(false);
            text.string(f.severity.as_str());
            text.element(false);
            text.string(&f.message);
            text.element(false);
            text.optional_string(f.group_id().map(|g| g.as_str()));
            text.element(false);
            text.optional_string(f.api_id().map(|a| a.as_str()));
            text.element(false);
            text.optional_string(f.stage().map(Stage::as_str));
            text.element(false);
            text.optional_string(f.suppressed.as_deref());
            text.end_array(false);
            if text.len() >= PIECE {
                sha.update(text.as_bytes());
                text.clear();
            }
        }
        text.end_array(none);
        text.key(false, "instance_id");
        text.string(self.grant.key.instance_id.as_str());
        text.key(false, "name");
        text.string(&self.grant.name);
        text.key(false, "port");
        text.number(self.grant.key.port.into());
        text.key(false, "verdict");
        text.string(self.verdict.as_str());
        text.key(false, "vpc_access_id");
        text.string(self.grant.id.as_str());
        text.key(false, "vpc_id");
        text.string(self.grant.key.vpc_id.as_str());
        text.end_object(false);
        sha.update(text.as_bytes());
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
        let mut summary = Summary::default();
        for grant in grants {
            summary.add(grant.verdict);
        }
        summary
    }

    /// Counts one more grant with `verdict`.
    pub fn add(&mut self, verdict: Verdict) {
        self.grants += 1;
        match verdict {
            Verdict::Safe => self.safe += 1,
            Verdict::Blocked => self.blocked += 1,
            Verdict::Unknown => self.unknown += 1,
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

/// A share of the selected grants, judged: their reports in selection order, and the findings
/// about no single grant (GG301, GG302, GG304), which only the first share of an audit keeps.
#[derive(Debug)]
pub struct Judged {
    /// The grants' reports.
    pub grants: Vec<GrantReport>,
    /// Findings about no single grant.
    pub findings: Vec<Finding>,
}

/// What an audit's exit status depends on: the verdict counts, whether a finding about no
/// single grant holds, and the highest severity of an unsuppressed finding. A report written
/// as it is judged keeps this instead of its findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Standing {
    /// Verdict counts.
    pub summary: Summary,
    /// True when a finding about no single grant holds.
    global_holds: bool,
    /// The highest severity of an unsuppressed finding, if there is one.
    pub worst: Option<Severity>,
}

impl Standing {
    /// The standing of a whole report.
    pub fn of(report: &Report) -> Standing {
        let mut standing = Standing::default();
        for grant in &report.grants {
            standing.add_grant(grant);
        }
        standing.add_global(&report.findings);
        standing
    }

    /// Counts one grant's verdict and findings in.
    pub fn add_grant(&mut self, grant: &GrantReport) {
        self.summary.add(grant.verdict);
        self.add_findings(&grant.findings);
    }

    /// Counts in another part of the audit's standing (a share's grants).
    pub fn add(&mut self, other: &Standing) {
        self.summary = Summary::total([&self.summary, &other.summary]);
        self.global_holds |= other.global_holds;
        self.worst = self.worst.max(other.worst);
    }

    /// Counts the findings about no single grant in.
    pub fn add_global(&mut self, findings: &[Finding]) {
        self.global_holds |= findings.iter().any(Finding::holds);
        self.add_findings(findings);
    }

    fn add_findings(&mut self, findings: &[Finding]) {
        let unsuppressed = findings.iter().filter(|f| f.suppressed.is_none());
        self.worst = self.worst.max(unsuppressed.map(|f| f.severity).max());
    }

    /// True when every audited grant is safe and no finding outside a grant holds
    /// ([`Report::all_safe`]).
    pub fn all_safe(&self) -> bool {
        self.summary.safe == self.summary.grants && !self.global_holds
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
    pub fn rule(&self, id: RuleId) -> Option<&RuleDoc> {
        self.rules.iter().find(|r| r.id == id)
    }
}

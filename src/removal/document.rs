//! `remove --format json`: the `grantguard.removal/v1` document (schemas/removal.v1.schema.json).
//! In: what the protocol ended with for each grant it handled (a finished removal, a dry run,
//! a refusal, or in `--all-safe` a grant kept or not attempted). Out: one JSON value with a
//! stable shape: every per-grant field is always present (null or empty when it does not
//! apply), so scripts can read `unexpected_apis` or `restore_command` without probing.
//! It never holds a secret: only grant attributes, audit findings, journal ids and API ids.

use super::journal::{
    ApiStage, ApiTaskResult, GrantRecord, OverriddenFinding, Override, RecheckFacts, State,
};
use super::steps::{Call, DryRun, Finished, Refusal};
use crate::inventory::Grant;
use crate::report::json::FindingJson;
use crate::verdict::{Finding, GrantReport, RuleId};
use serde::Serialize;
use std::io::{self, Write};

/// The schema tag of the removal document.
pub const SCHEMA: &str = "grantguard.removal/v1";

/// The whole result of one `remove` run.
#[derive(Debug, Serialize)]
pub struct Document {
    schema: &'static str,
    region: String,
    action: &'static str,
    dry_run: bool,
    all_safe: bool,
    journal: String,
    grants: Vec<Handled>,
    summary: Summary,
}

/// Counts over `grants`.
#[derive(Debug, Serialize)]
struct Summary {
    grants: usize,
    removed: usize,
    unexpected: usize,
}

impl Document {
    /// A document for `grants`, handled with `action` in `region`, journaled in `journal`.
    pub fn new(
        region: &str,
        action: &'static str,
        dry_run: bool,
        all_safe: bool,
        journal: &std::path::Path,
        grants: Vec<Handled>,
    ) -> Document {
        let summary = Summary {
            grants: grants.len(),
            removed: grants.iter().filter(|g| g.removed).count(),
            unexpected: grants
                .iter()
                .filter(|g| g.outcome == State::DoneUnexpected.as_str())
                .count(),
        };
        Document {
            schema: SCHEMA,
            region: region.to_owned(),
            action,
            dry_run,
            all_safe,
            journal: journal.display().to_string(),
            grants,
            summary,
        }
    }

    /// Writes the document as pretty JSON and a newline.
    pub fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, self)?;
        writeln!(out)?;
        out.flush()
    }
}

/// What happened to one grant.
#[derive(Debug, Serialize)]
pub struct Handled {
    grant: Option<GrantView>,
    outcome: &'static str,
    removed: bool,
    journal_id: Option<String>,
    audit: Option<AuditView>,
    findings: Vec<serde_json::Value>,
    refusal: Option<RefusalView>,
    reason: Option<String>,
    recheck_gap_ms: Option<f64>,
    recheck_window_ms: Option<f64>,
    recheck: Option<RecheckFacts>,
    predicted_apis: Vec<ApiView>,
    response_apis: Vec<ApiView>,
    unexpected_apis: Vec<ApiView>,
    missing_apis: Vec<ApiView>,
    appeared_apis: Vec<ApiView>,
    appeared_findings: Vec<OverriddenFinding>,
    accepted_warnings: Vec<OverriddenFinding>,
    abolished: Vec<AbolishedView>,
    calls: Vec<CallView>,
    request_id: Option<String>,
    #[serde(rename = "override")]
    forced: Option<Override>,
    restore_command: Option<String>,
}

#[derive(Debug, Serialize)]
struct GrantView {
    vpc_access_id: String,
    name: String,
    vpc_id: String,
    instance_id: String,
    port: u16,
}

impl From<&Grant> for GrantView {
    fn from(g: &Grant) -> Self {
        GrantView {
            vpc_access_id: g.id.to_string(),
            name: g.name.clone(),
            vpc_id: g.key.vpc_id.to_string(),
            instance_id: g.key.instance_id.to_string(),
            port: g.key.port,
        }
    }
}

impl From<&GrantRecord> for GrantView {
    fn from(g: &GrantRecord) -> Self {
        GrantView {
            vpc_access_id: g.vpc_access_id.clone(),
            name: g.name.clone(),
            vpc_id: g.vpc_id.clone(),
            instance_id: g.instance_id.clone(),
            port: g.port,
        }
    }
}

#[derive(Debug, Serialize)]
struct AuditView {
    verdict: String,
    digest: String,
}

#[derive(Debug, Serialize)]
struct RefusalView {
    kind: &'static str,
    message: String,
    rules: Vec<RuleId>,
}

#[derive(Debug, Serialize)]
struct ApiView {
    group_id: String,
    api_id: String,
    api_name: String,
    stage: String,
}

impl From<&ApiStage> for ApiView {
    fn from(a: &ApiStage) -> Self {
        ApiView {
            group_id: a.group_id.clone(),
            api_id: a.api_id.clone(),
            api_name: a.api_name.clone(),
            stage: a.stage.clone(),
        }
    }
}

fn apis(list: &[ApiStage]) -> Vec<ApiView> {
    list.iter().map(ApiView::from).collect()
}

#[derive(Debug, Serialize)]
struct AbolishedView {
    #[serde(flatten)]
    api: ApiView,
    status: String,
    error: String,
}

impl From<&ApiTaskResult> for AbolishedView {
    fn from(a: &ApiTaskResult) -> Self {
        AbolishedView {
            api: ApiView::from(&a.api),
            status: a.status.clone(),
            error: a.error.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
struct CallView {
    action: &'static str,
    params: Params,
    mutating: bool,
}

/// Parameters as a JSON object in wire order.
#[derive(Debug)]
struct Params(Vec<(&'static str, String)>);

impl Serialize for Params {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

impl From<&Call> for CallView {
    fn from(c: &Call) -> Self {
        CallView {
            action: c.action,
            params: Params(c.params.clone()),
            mutating: c.mutating,
        }
    }
}

pub(super) fn findings(list: &[Finding]) -> Vec<serde_json::Value> {
    list.iter()
        .map(|f| serde_json::to_value(FindingJson(f)).expect("a finding always serializes"))
        .collect()
}

/// The rule ids of the findings that hold (unsuppressed deny, or what makes a verdict), once each.
fn holding_rules<'a>(list: impl IntoIterator<Item = &'a Finding>) -> Vec<RuleId> {
    crate::verdict::rule_ids(list.into_iter().filter(|f| f.holds()))
}

/// `grantguard restore --id ID`.
pub fn restore_command_line(id: &str) -> String {
    format!("grantguard restore --id {id}")
}

impl Handled {
    fn empty(outcome: &'static str) -> Handled {
        Handled {
            grant: None,
            outcome,
            removed: false,
            journal_id: None,
            audit: None,
            findings: Vec::new(),
            refusal: None,
            reason: None,
            recheck_gap_ms: None,
            recheck_window_ms: None,
            recheck: None,
            predicted_apis: Vec::new(),
            response_apis: Vec::new(),
            unexpected_apis: Vec::new(),
            missing_apis: Vec::new(),
            appeared_apis: Vec::new(),
            appeared_findings: Vec::new(),
            accepted_warnings: Vec::new(),
            abolished: Vec::new(),
            calls: Vec::new(),
            request_id: None,
            forced: None,
            restore_command: None,
        }
    }

    fn of_report(outcome: &'static str, g: &GrantReport) -> Handled {
        Handled {
            grant: Some(GrantView::from(&g.grant)),
            audit: Some(AuditView {
                verdict: g.verdict.as_str().to_owned(),
                digest: g.digest.clone(),
            }),
            findings: findings(&g.findings),
            ..Handled::empty(outcome)
        }
    }

    /// A removal that was attempted: its journaled outcome (`done`, `done-unexpected`,
    /// `not-removed`, or `pending` when the outcome could not be decided).
    pub fn finished(f: &Finished) -> Handled {
        let removed = matches!(f.state, State::Done | State::DoneUnexpected);
        Handled {
            grant: Some(GrantView::from(&f.grant)),
            outcome: f.state.as_str(),
            removed,
            journal_id: Some(f.id.clone()),
            audit: Some(AuditView {
                verdict: f.verdict.clone(),
                digest: f.digest.clone(),
            }),
            findings: findings(&f.findings),
            refusal: None,
            reason: f.detail.reason.clone(),
            recheck_gap_ms: f.detail.recheck_gap_ms,
            recheck_window_ms: f.detail.recheck_window_ms,
            recheck: f.detail.recheck,
            predicted_apis: apis(&f.predicted),
            response_apis: apis(&f.detail.response_apis),
            unexpected_apis: apis(&f.detail.unexpected_apis),
            missing_apis: apis(&f.detail.missing_apis),
            appeared_apis: apis(&f.detail.appeared),
            appeared_findings: f.detail.appeared_findings.clone(),
            accepted_warnings: f.accepted_warnings.clone(),
            abolished: f.detail.abolished.iter().map(AbolishedView::from).collect(),
            calls: vec![CallView::from(&f.call)],
            request_id: f.detail.request_id.clone(),
            forced: f.forced.clone(),
            restore_command: removed.then(|| restore_command_line(&f.id)),
        }
    }

    /// `--dry-run`: the grant would be removed with `calls`.
    pub fn dry_run(d: &DryRun) -> Handled {
        Handled {
            grant: Some(GrantView::from(&d.grant)),
            audit: Some(AuditView {
                verdict: d.verdict.as_str().to_owned(),
                digest: d.digest.clone(),
            }),
            findings: findings(&d.findings),
            predicted_apis: apis(&d.predicted),
            calls: d.calls.iter().map(CallView::from).collect(),
            ..Handled::empty("dry-run")
        }
    }

    /// Nothing was removed on purpose: `refused`, or `aborted` when the re-check stopped a
    /// journaled removal.
    pub fn refused(refusal: &Refusal) -> Handled {
        let report = refusal.report();
        let kind = match refusal {
            Refusal::Unresolved(_) => "unresolved",
            Refusal::NotSafe(_) => "not-safe",
            Refusal::Warnings(_) => "warnings",
            Refusal::PlanMismatch(..) => "plan-mismatch",
            Refusal::NotConfirmed(..) => "not-confirmed",
            Refusal::Changed(_) => "recheck-changed",
            Refusal::Target(..) => "target",
        };
        let mut handled = match (refusal, report.grants.as_slice()) {
            (Refusal::Unresolved(_), _) | (_, []) => {
                // No single grant: the selector's findings (GG301/GG302) and any candidates'.
                let all: Vec<Finding> = report
                    .findings
                    .iter()
                    .chain(report.grants.iter().flat_map(|g| g.findings.iter()))
                    .cloned()
                    .collect();
                Handled {
                    findings: findings(&all),
                    ..Handled::empty("refused")
                }
            }
            (_, [g, ..]) => Handled::of_report("refused", g),
        };
        let rules = match refusal {
            Refusal::Unresolved(_) => holding_rules(
                report
                    .findings
                    .iter()
                    .chain(report.grants.iter().flat_map(|g| g.findings.iter())),
            ),
            Refusal::Warnings(_) => {
                crate::verdict::rule_ids(report.grants.iter().flat_map(|g| g.warnings()))
            }
            _ => holding_rules(report.grants.iter().flat_map(|g| g.findings.iter())),
        };
        handled.refusal = Some(RefusalView {
            kind,
            message: refusal.why(),
            rules,
        });
        if let Refusal::Changed(aborted) = refusal {
            handled.outcome = State::NotRemoved.as_str();
            handled.journal_id = Some(aborted.id.clone());
            handled.predicted_apis = apis(&aborted.predicted);
            handled.appeared_apis = apis(&aborted.appeared);
            handled.appeared_findings = aborted.appeared_findings.clone();
            handled.recheck = Some(aborted.recheck);
        }
        handled
    }

    /// `--all-safe`: a grant the overview audit did not find safe (never attempted).
    pub fn not_safe(g: &GrantReport) -> Handled {
        let mut handled = Handled::of_report("refused", g);
        handled.refusal = Some(RefusalView {
            kind: "not-safe",
            message: format!("the verdict is {}", g.verdict.as_str()),
            rules: holding_rules(&g.findings),
        });
        handled
    }

    /// `--all-safe`: a safe grant kept because its report is not clean (no `--accept-warnings`).
    pub fn warnings(g: &GrantReport) -> Handled {
        let mut handled = Handled::of_report("refused", g);
        let rules = crate::verdict::rule_ids(g.warnings());
        let count = g.warnings().count();
        handled.refusal = Some(RefusalView {
            kind: "warnings",
            message: format!(
                "the verdict is safe, with {count} warning{}; removal needs a clean report or --accept-warnings",
                if count == 1 { "" } else { "s" }
            ),
            rules,
        });
        handled
    }

    /// `--all-safe`: a safe grant that was not attempted (`--max` reached, or the batch stopped).
    pub fn skipped(g: &GrantReport, why: &str) -> Handled {
        Handled {
            reason: Some(why.to_owned()),
            ..Handled::of_report("skipped", g)
        }
    }

    /// `--all-safe`: the tool failed on this grant (the run exits 2 after the document).
    pub fn error(g: &GrantReport, error: &str) -> Handled {
        Handled {
            reason: Some(error.to_owned()),
            ..Handled::of_report("error", g)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::removal::journal::Detail;

    fn api(id: &str) -> ApiStage {
        ApiStage {
            api_id: id.into(),
            api_name: String::new(),
            group_id: "grp-1".into(),
            stage: "RELEASE".into(),
        }
    }

    fn finished(state: State, unexpected: Vec<ApiStage>) -> Finished {
        let grant = crate::inventory::testing::grant("apv-1", "legacy", 443);
        Finished {
            id: "20250101T000000Z-abcdef".into(),
            grant: GrantRecord {
                name: grant.name.clone(),
                vpc_id: grant.key.vpc_id.to_string(),
                instance_id: grant.key.instance_id.to_string(),
                port: grant.key.port,
                description: String::new(),
                vpc_target_host_name: String::new(),
                vpc_access_id: grant.id.to_string(),
                region: "cn-hangzhou".into(),
            },
            state,
            detail: Detail {
                response_apis: unexpected.clone(),
                unexpected_apis: unexpected,
                recheck_gap_ms: Some(0.5),
                ..Detail::default()
            },
            error: None,
            call: Call {
                action: "RemoveVpcAccess",
                params: vec![("Port", "443".into())],
                mutating: true,
            },
            verdict: "safe".into(),
            digest: "d1".into(),
            findings: Vec::new(),
            predicted: Vec::new(),
            forced: None,
            accepted_warnings: Vec::new(),
            target: None,
            live_users: Vec::new(),
        }
    }

    #[test]
    fn only_a_removal_carries_a_restore_command_and_the_summary_counts_unexpected_ones() {
        let unexpected = Handled::finished(&finished(State::DoneUnexpected, vec![api("API_NEW")]));
        let kept = Handled::finished(&finished(State::NotRemoved, Vec::new()));
        let document = Document::new(
            "cn-hangzhou",
            "RemoveVpcAccess",
            false,
            false,
            std::path::Path::new("/j"),
            vec![unexpected, kept],
        );
        let value = serde_json::to_value(&document).unwrap();
        assert_eq!(value["schema"], SCHEMA);
        let [first, second] = value["grants"].as_array().unwrap().as_slice() else {
            panic!("two entries")
        };
        assert_eq!(first["outcome"], "done-unexpected");
        assert_eq!(first["removed"], true);
        assert_eq!(first["unexpected_apis"][0]["api_id"], "API_NEW");
        assert_eq!(
            first["unexpected_apis"][0]["api_name"], "",
            "always present"
        );
        assert_eq!(
            first["restore_command"],
            "grantguard restore --id 20250101T000000Z-abcdef"
        );
        assert_eq!(first["calls"][0]["params"]["Port"], "443");
        assert_eq!(second["outcome"], "not-removed");
        assert_eq!(second["removed"], false);
        assert!(second["restore_command"].is_null());
        assert_eq!(
            value["summary"],
            serde_json::json!({"grants": 2, "removed": 1, "unexpected": 1})
        );
        // Every entry has every field, whatever its outcome (the contract's stability).
        let keys =
            |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        let skipped = serde_json::to_value(Handled::empty("skipped")).unwrap();
        assert_eq!(keys(first), keys(&skipped));
        assert_eq!(keys(first).len(), 23);
    }
}

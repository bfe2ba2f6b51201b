//! `repoint --format json`: the `grantguard.repoint/v1` document
//! (schemas/repoint.v1.schema.json). In: how the repoint ended. Out: one JSON value with a
//! stable shape (every field present, null or empty when it does not apply), so a script can
//! read `summary.not_verified` or `restore_command` without probing. It holds no secret: grant
//! attributes, audit findings, journal ids, API and backend ids.

use super::journal::{Check, CheckResult, Override, State, Target};
use super::repoint::{Ended, PlannedUser};
use super::steps::Refusal;
use crate::verdict::Finding;
use serde::Serialize;
use std::io::{self, Write};

/// The schema tag of the repoint document.
pub const SCHEMA: &str = "grantguard.repoint/v1";

/// The whole result of one `repoint` run.
#[derive(Debug, Serialize)]
pub struct Document {
    schema: &'static str,
    region: String,
    dry_run: bool,
    journal: String,
    /// `moved`, `moved-unverified`, `not-moved`, `pending`, `dry-run` or `refused`.
    outcome: &'static str,
    grant: Option<GrantView>,
    target: Option<TargetView>,
    verdict: Option<String>,
    digest: Option<String>,
    findings: Vec<serde_json::Value>,
    refusal: Option<RefusalView>,
    reason: Option<String>,
    #[serde(rename = "override")]
    forced: Option<Override>,
    journal_id: Option<String>,
    request_id: Option<String>,
    operation_id: Option<String>,
    timed_out: bool,
    users: Vec<UserView>,
    checks: Vec<CheckView>,
    calls: Vec<CallView>,
    restore_command: Option<String>,
    summary: Summary,
}

#[derive(Debug, Serialize)]
struct GrantView {
    vpc_access_id: String,
    name: String,
    vpc_id: String,
    instance_id: String,
    port: u16,
    vpc_target_host_name: String,
}

#[derive(Debug, Serialize)]
struct TargetView {
    vpc_id: String,
    instance_id: String,
    port: u16,
    vpc_target_host_name: String,
}

impl From<&Target> for TargetView {
    fn from(t: &Target) -> Self {
        TargetView {
            vpc_id: t.vpc_id.clone(),
            instance_id: t.instance_id.clone(),
            port: t.port,
            vpc_target_host_name: t.vpc_target_host_name.clone(),
        }
    }
}

/// One live user's check after the call, flat.
#[derive(Debug, Serialize)]
struct CheckView {
    result: &'static str,
    stage: String,
    api_id: String,
    api_name: String,
    group_id: String,
    backend_id: Option<String>,
    service_status: Option<String>,
    service_message: String,
    note: String,
}

impl From<&Check> for CheckView {
    fn from(c: &Check) -> Self {
        CheckView {
            result: c.result.as_str(),
            stage: c.user.api.stage.clone(),
            api_id: c.user.api.api_id.clone(),
            api_name: c.user.api.api_name.clone(),
            group_id: c.user.api.group_id.clone(),
            backend_id: c.user.backend_id.clone(),
            service_status: c.service_status.clone(),
            service_message: c.service_message.clone(),
            note: c.note.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
struct RefusalView {
    kind: &'static str,
    message: String,
}

#[derive(Debug, Serialize)]
struct UserView {
    kind: &'static str,
    rule: String,
    stage: Option<String>,
    subject: String,
    api_id: Option<String>,
    api_name: Option<String>,
    group_id: Option<String>,
    backend_id: Option<String>,
    backend_name: Option<String>,
    live: bool,
    updated_by_service: bool,
    follow_up: Option<String>,
    message: String,
}

impl From<&PlannedUser> for UserView {
    fn from(u: &PlannedUser) -> Self {
        UserView {
            kind: u.kind.as_str(),
            rule: u.rule.as_str().to_owned(),
            stage: u.stage.map(|s| s.as_str().to_owned()),
            subject: u.who.clone(),
            api_id: u.api.as_ref().map(|a| a.api_id.clone()),
            api_name: u.api.as_ref().map(|a| a.api_name.clone()),
            group_id: u.api.as_ref().map(|a| a.group_id.clone()),
            backend_id: u.backend.as_ref().map(|b| b.0.clone()),
            backend_name: u.backend.as_ref().map(|b| b.1.clone()),
            live: u.kind.is_live(),
            updated_by_service: u.kind.promised(),
            follow_up: u.follow_up(),
            message: u.message.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
struct CallView {
    action: &'static str,
    params: serde_json::Map<String, serde_json::Value>,
    mutating: bool,
}

/// Counts over the users and checks.
#[derive(Debug, Default, Serialize)]
struct Summary {
    live_users: usize,
    updated: usize,
    failed: usize,
    not_verified: usize,
    follow_ups: usize,
}

fn grant_view(g: &crate::inventory::Grant) -> GrantView {
    GrantView {
        vpc_access_id: g.id.to_string(),
        name: g.name.clone(),
        vpc_id: g.key.vpc_id.to_string(),
        instance_id: g.key.instance_id.to_string(),
        port: g.key.port,
        vpc_target_host_name: g.vpc_target_host_name.clone(),
    }
}

fn findings(list: &[Finding]) -> Vec<serde_json::Value> {
    super::document::findings(list)
}

impl Document {
    /// The document of one repoint in `region`, journaled in `journal`.
    pub fn new(region: &str, dry_run: bool, journal: &std::path::Path, ended: &Ended) -> Document {
        let mut doc = Document {
            schema: SCHEMA,
            region: region.to_owned(),
            dry_run,
            journal: journal.display().to_string(),
            outcome: "refused",
            grant: None,
            target: None,
            verdict: None,
            digest: None,
            findings: Vec::new(),
            refusal: None,
            reason: None,
            forced: None,
            journal_id: None,
            request_id: None,
            operation_id: None,
            timed_out: false,
            users: Vec::new(),
            checks: Vec::new(),
            calls: Vec::new(),
            restore_command: None,
            summary: Summary::default(),
        };
        let mut users: &[PlannedUser] = &[];
        match ended {
            Ended::DryRun(planned) | Ended::Refused(_, Some(planned)) => {
                doc.grant = Some(grant_view(&planned.grant));
                doc.target = Some(TargetView::from(&planned.target));
                doc.verdict = Some(planned.verdict.clone());
                doc.digest = Some(planned.digest.clone());
                doc.findings = findings(&planned.findings);
                users = &planned.users;
                doc.calls = planned
                    .calls
                    .iter()
                    .map(|c| CallView {
                        action: c.action,
                        params: c
                            .params
                            .iter()
                            .map(|(k, v)| ((*k).to_owned(), serde_json::Value::String(v.clone())))
                            .collect(),
                        mutating: c.mutating,
                    })
                    .collect();
                if matches!(ended, Ended::DryRun(_)) {
                    doc.outcome = "dry-run";
                }
            }
            Ended::Refused(_, None) | Ended::Finished(_) => {}
        }
        if let Ended::Refused(refusal, _) = ended {
            let report = refusal.report();
            if doc.grant.is_none() {
                if let Some(g) = report.grants.first() {
                    doc.grant = Some(grant_view(&g.grant));
                    doc.verdict = Some(g.verdict.as_str().to_owned());
                    doc.digest = Some(g.digest.clone());
                    doc.findings = findings(&g.findings);
                } else {
                    doc.findings = findings(&report.findings);
                }
            }
            doc.refusal = Some(RefusalView {
                kind: match refusal {
                    Refusal::Unresolved(_) => "unresolved",
                    Refusal::NotSafe(_) => "incomplete",
                    Refusal::Target(..) => "target",
                    Refusal::NotConfirmed(..) => "not-confirmed",
                    Refusal::Changed(_) => "recheck-changed",
                    Refusal::Warnings(_) | Refusal::PlanMismatch(..) => "other",
                },
                message: match refusal {
                    Refusal::NotSafe(_) => super::repoint::INCOMPLETE.to_owned(),
                    other => other.why(),
                },
            });
            if let Refusal::Changed(aborted) = refusal {
                doc.outcome = "not-moved";
                doc.journal_id = Some(aborted.id.clone());
            }
        }
        if let Ended::Finished(moved) = ended {
            let f = &moved.finished;
            users = &moved.users;
            let g = f.grant.clone();
            doc.grant = Some(GrantView {
                vpc_access_id: g.vpc_access_id,
                name: g.name,
                vpc_id: g.vpc_id,
                instance_id: g.instance_id,
                port: g.port,
                vpc_target_host_name: g.vpc_target_host_name,
            });
            doc.target = f.target.as_ref().map(TargetView::from);
            doc.verdict = Some(f.verdict.clone());
            doc.digest = Some(f.digest.clone());
            doc.findings = findings(&f.findings);
            doc.outcome = f
                .state
                .label(super::journal::Action::ModifyVpcAccessAndUpdateApis);
            doc.reason = f.detail.reason.clone();
            doc.forced = f.forced.clone();
            doc.journal_id = Some(f.id.clone());
            doc.request_id = f.detail.request_id.clone();
            doc.operation_id = f.detail.operation_id.clone();
            doc.timed_out = f.detail.timed_out;
            doc.checks = f.detail.checks.iter().map(CheckView::from).collect();
            if matches!(f.state, State::Done | State::DoneUnexpected) {
                doc.restore_command = Some(super::document::restore_command_line(&f.id));
            }
        }
        doc.users = users.iter().map(UserView::from).collect();
        doc.summary = Summary {
            live_users: users.iter().filter(|u| u.kind.is_live()).count(),
            updated: count(&doc.checks, CheckResult::Updated),
            failed: count(&doc.checks, CheckResult::Failed),
            not_verified: count(&doc.checks, CheckResult::NotVerified),
            follow_ups: users.iter().filter(|u| !u.kind.is_live()).count(),
        };
        doc
    }

    /// Writes the document as pretty JSON and a newline.
    pub fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, self)?;
        writeln!(out)?;
        out.flush()
    }
}

fn count(checks: &[CheckView], result: CheckResult) -> usize {
    checks
        .iter()
        .filter(|c| c.result == result.as_str())
        .count()
}

//! `grantguard repoint`: moves every user of a grant to a new target in place with
//! ModifyVpcAccessAndUpdateApis, guarded like a removal (docs/repoint.md). In: a connected
//! [`Context`] and a [`RepointRequest`]. Out: an [`Outcome`] (every live user verified on the
//! new target → `Clear`, anything else → `Held`) or a [`RemovalError`] (exit 2), with the
//! plan, the per-user result and the undo command on stdout (or the `grantguard.repoint/v1`
//! document) and every step in the journal.
//!
//! It reuses the removal's steps (resolve, fresh audit, confirmation, write-ahead record,
//! re-check, one mutating call, following the task); what is its own is the clearing policy
//! (a `blocked` verdict is the normal case: moving users is the point), the list of users the
//! service promises to move and those it does not, and the check afterwards: each live user's
//! deployed definition (or backend model) is read again and must route to the new target.

use super::journal::{
    self, ApiStage, ApiTaskResult, Check, CheckResult, Detail, Entry, Journal, LiveUser, Record,
    State, Target,
};
use super::repoint_document::Document;
use super::steps::{self, Confirm, Recheck, Refusal, Stop};
use super::{print_report, say, write_result, Context, RemovalError, ResultFormat, Sink};
use crate::client::Client;
use crate::inventory::{Inventory, Route, Stage};
use crate::selection::Selector;
use crate::verdict::{Finding, GrantReport, RuleId};
use crate::Outcome;
use grantguard_wire::actions::{DescribeBackendInfo, DescribeDeployedApi};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The new target as the command line gives it: what is not given stays as the grant has it.
#[derive(Debug, Clone)]
pub struct TargetSpec {
    /// `--vpc-id`; the grant's VPC when `None`.
    pub vpc_id: Option<String>,
    /// `--instance-id`.
    pub instance_id: String,
    /// `--port`.
    pub port: u16,
    /// `--target-host-name`; the grant's host header when `None`.
    pub host: Option<String>,
}

impl TargetSpec {
    fn resolve(&self, grant: &crate::inventory::Grant) -> Target {
        Target {
            vpc_id: self
                .vpc_id
                .clone()
                .unwrap_or_else(|| grant.key.vpc_id.to_string()),
            instance_id: self.instance_id.clone(),
            port: self.port,
            vpc_target_host_name: self
                .host
                .clone()
                .unwrap_or_else(|| grant.vpc_target_host_name.clone()),
        }
    }
}

/// What `repoint` was asked to do. The command line builds one.
#[derive(Debug, Clone)]
pub struct RepointRequest {
    /// The grant (by name or VpcAccessId: the tuple flags name the new target).
    pub selector: Selector,
    /// Where to.
    pub target: TargetSpec,
    /// Run every check and print the call; change nothing.
    pub dry_run: bool,
    /// Confirmed in advance.
    pub yes: bool,
    /// `--force --reason`: proceed on an `unknown` verdict.
    pub reason: Option<String>,
    /// The journal file; `None` is the default.
    pub journal: Option<PathBuf>,
    /// The result's format.
    pub format: ResultFormat,
    /// Where the result goes; `None` is standard output.
    pub output: Option<PathBuf>,
    /// How long to follow DescribeUpdateVpcInfoTask.
    pub task_timeout: Duration,
}

/// How one kind of user is moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserKind {
    /// An API whose deployed definition names the grant: the service updates it.
    Deployed,
    /// A deployed API that reaches the grant through a backend service's stage model.
    ViaBackend,
    /// A draft that names the grant.
    Draft,
    /// A rollback target that names the grant.
    History,
    /// A backend model no deployed API uses.
    IdleBackend,
}

impl UserKind {
    /// `deployed`, `via-backend`, `draft`, `history`, `idle-backend`.
    pub fn as_str(self) -> &'static str {
        match self {
            UserKind::Deployed => "deployed",
            UserKind::ViaBackend => "via-backend",
            UserKind::Draft => "draft",
            UserKind::History => "history",
            UserKind::IdleBackend => "idle-backend",
        }
    }

    /// Whether live traffic goes through it now.
    pub fn is_live(self) -> bool {
        matches!(self, UserKind::Deployed | UserKind::ViaBackend)
    }

    /// Whether ModifyVpcAccessAndUpdateApis with `NeedBatchWork=true` promises to update it.
    pub fn promised(self) -> bool {
        self == UserKind::Deployed
    }

    fn of(rule: RuleId) -> Option<UserKind> {
        Some(match rule {
            RuleId::GG101 => UserKind::Deployed,
            RuleId::GG102 => UserKind::ViaBackend,
            RuleId::GG103 => UserKind::Draft,
            RuleId::GG104 => UserKind::History,
            RuleId::GG105 => UserKind::IdleBackend,
            _ => return None,
        })
    }
}

/// One user of the grant the audit found, and how the repoint treats it.
#[derive(Debug, Clone)]
pub struct PlannedUser {
    /// What it is.
    pub kind: UserKind,
    /// The finding's rule.
    pub rule: RuleId,
    /// Who, as the audit writes it.
    pub who: String,
    /// Its stage, when it has one.
    pub stage: Option<Stage>,
    /// The API and stage, for live users.
    pub api: Option<ApiStage>,
    /// The backend service (id, name), for backend users.
    pub backend: Option<(String, String)>,
    /// The audit's message.
    pub message: String,
}

impl PlannedUser {
    fn live_user(&self) -> Option<LiveUser> {
        self.kind.is_live().then(|| LiveUser {
            api: self.api.clone().unwrap_or_else(|| ApiStage {
                api_id: String::new(),
                api_name: String::new(),
                group_id: String::new(),
                stage: self
                    .stage
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
            }),
            backend_id: self.backend.as_ref().map(|(id, _)| id.clone()),
            backend_name: self
                .backend
                .as_ref()
                .map(|(_, name)| name.clone())
                .unwrap_or_default(),
        })
    }

    /// What the user must still do about a user the service does not promise to move.
    pub fn follow_up(&self) -> Option<String> {
        let backend = self.backend.as_ref().map_or("", |(_, name)| name.as_str());
        let stage = self.stage.map_or("", |s| s.as_str());
        Some(match self.kind {
            UserKind::Deployed => return None,
            UserKind::ViaBackend => format!(
                "backend {backend}'s {stage} model: point its VPC config at the new target (the check after the call says whether the service did)"
            ),
            UserKind::Draft => {
                "may still name the old target: check its VPC config before its next publish".into()
            }
            UserKind::History => {
                "a rollback to this version may bring the old target back: do not roll back to it".into()
            }
            UserKind::IdleBackend => format!(
                "backend {backend}'s {stage} model: point its VPC config at the new target before an API uses it there"
            ),
        })
    }
}

/// The users of the grant in `report`, from its GG101–GG105 findings, with the backend each
/// backend user goes through (from the audit's inventory).
pub fn planned_users(report: &GrantReport, inventory: &Inventory) -> Vec<PlannedUser> {
    let mut users: Vec<PlannedUser> = report
        .findings
        .iter()
        .filter_map(|f| planned(f, inventory))
        .collect();
    users.sort_by(|a, b| (a.stage, a.kind as u8, &a.who).cmp(&(b.stage, b.kind as u8, &b.who)));
    users
}

fn planned(f: &Finding, inventory: &Inventory) -> Option<PlannedUser> {
    let kind = UserKind::of(f.rule)?;
    let stage = f.stage();
    let api = match (f.api_id(), stage) {
        (Some(api_id), Some(stage)) if kind.is_live() => Some(ApiStage {
            api_id: api_id.to_string(),
            api_name: f
                .subject
                .as_ref()
                .and_then(|s| s.api.as_ref())
                .map(|a| a.api_name.clone())
                .unwrap_or_default(),
            group_id: f.group_id().map(ToString::to_string).unwrap_or_default(),
            stage: stage.as_str().to_owned(),
        }),
        _ => None,
    };
    let backend_id = match kind {
        UserKind::ViaBackend => inventory
            .deployments
            .iter()
            .find(|d| Some(&d.api.api_id) == f.api_id() && Some(d.stage) == stage)
            .and_then(|d| match &d.route {
                Route::Backend { backend_id } => Some(backend_id.to_string()),
                _ => None,
            }),
        UserKind::IdleBackend => f
            .subject
            .as_ref()
            .and_then(|s| s.backend.as_ref())
            .map(|b| b.0.to_string()),
        _ => None,
    };
    let backend = backend_id.map(|id| {
        let name = inventory
            .backends
            .iter()
            .find(|b| b.id.as_str() == id)
            .map(|b| b.name.clone())
            .unwrap_or_default();
        (id, name)
    });
    Some(PlannedUser {
        kind,
        rule: f.rule,
        who: f
            .subject
            .as_ref()
            .map_or_else(|| f.message.clone(), ToString::to_string),
        stage,
        api,
        backend,
        message: f.message.clone(),
    })
}

/// The live users of the grant in `report` (deployed APIs, directly or through a backend):
/// what must be verified on the new target after the call.
pub fn live_users(report: &GrantReport, inventory: &Inventory) -> Vec<LiveUser> {
    let mut users: Vec<LiveUser> = planned_users(report, inventory)
        .iter()
        .filter_map(PlannedUser::live_user)
        .collect();
    // Stage by stage in the service's order (RELEASE, PRE, TEST), then by API.
    let rank = |u: &LiveUser| Stage::ALL.iter().position(|s| s.as_str() == u.api.stage);
    users.sort_by(|a, b| (rank(a), a).cmp(&(rank(b), b)));
    users.dedup();
    users
}

/// The plan for people: the move, every user per stage with what the service promises for
/// it, and the follow-ups.
pub fn plan_text(
    grant: &crate::inventory::Grant,
    verdict: &str,
    target: &Target,
    users: &[PlannedUser],
) -> String {
    let mut text = format!(
        "repoint grant {} ({}): {}/{}:{} → {target}; verdict {verdict}{}\n",
        grant.name,
        grant.id,
        grant.key.vpc_id,
        grant.key.instance_id,
        grant.key.port,
        if verdict == "blocked" {
            " (its live users are what a repoint moves)"
        } else {
            ""
        }
    );
    let live: Vec<&PlannedUser> = users.iter().filter(|u| u.kind.is_live()).collect();
    if live.is_empty() {
        text.push_str("No live user: only the grant moves.\n");
    } else {
        text.push_str("Live users, per stage (each is read again after the call):\n");
        for stage in Stage::ALL {
            let here: Vec<&&PlannedUser> = live.iter().filter(|u| u.stage == Some(stage)).collect();
            if here.is_empty() {
                continue;
            }
            text.push_str(&format!("  {stage}\n"));
            for u in here {
                let how = match (&u.kind, &u.backend) {
                    (UserKind::ViaBackend, Some((_, name))) => format!(
                        "via backend {name}: the service does NOT promise to update backend models"
                    ),
                    (UserKind::ViaBackend, None) => {
                        "via a backend service: the service does NOT promise to update backend models".into()
                    }
                    _ => "deployed: the service updates it (NeedBatchWork=true)".into(),
                };
                text.push_str(&format!("    {}  [{how}]\n", u.who));
            }
        }
    }
    let follow_ups: Vec<(&PlannedUser, String)> = users
        .iter()
        .filter_map(|u| Some((u, u.follow_up()?)))
        .collect();
    if !follow_ups.is_empty() {
        text.push_str(
            "Follow-ups: the service does not promise to update these; after the repoint, do it yourself:\n",
        );
        for (u, what) in follow_ups {
            text.push_str(&format!("  - {}: {what}\n", u.who));
        }
    }
    text
}

/// How a repoint ended, for the human text and the document.
#[derive(Debug)]
pub enum Ended {
    /// The call was made (or its outcome read back).
    Finished(Box<Moved>),
    /// `--dry-run`.
    DryRun(Box<Planned>),
    /// Nothing was changed, on purpose.
    Refused(Refusal, Option<Box<Planned>>),
}

/// What a dry run (or a refusal after the audit) knows.
#[derive(Debug)]
pub struct Planned {
    /// The grant.
    pub grant: crate::inventory::Grant,
    /// The new target.
    pub target: Target,
    /// The verdict.
    pub verdict: String,
    /// The digest.
    pub digest: String,
    /// The findings.
    pub findings: Vec<Finding>,
    /// The users and how each is moved.
    pub users: Vec<PlannedUser>,
    /// The plan for people.
    pub text: String,
    /// The calls a real run makes (dry run only).
    pub calls: Vec<steps::Call>,
}

/// A repoint whose call was made.
#[derive(Debug)]
pub struct Moved {
    /// What the journal says.
    pub finished: steps::Finished,
    /// The users and how each is moved.
    pub users: Vec<PlannedUser>,
}

/// `grantguard repoint`.
pub async fn repoint_command(
    ctx: &Context,
    request: RepointRequest,
) -> Result<Outcome, RemovalError> {
    let path = journal::resolve_path(request.journal.as_deref())?;
    let mut journal = if request.dry_run {
        None
    } else {
        Some(Journal::open(&path)?)
    };
    let mut sink = match (request.format, &request.output) {
        (ResultFormat::Json, _) => Sink::Silent,
        (ResultFormat::Human, Some(_)) => Sink::Buffer(String::new()),
        (ResultFormat::Human, None) => Sink::Stdout,
    };
    let ended = repoint_one(ctx, journal.as_mut(), &path, &request, &mut sink).await?;
    let (outcome, error) = match &ended {
        Ended::DryRun(planned) => {
            sink.say(&dry_run_text(planned, &path));
            (Outcome::Clear, None)
        }
        Ended::Refused(refusal, _) => {
            print_refusal(ctx, &mut sink, refusal);
            (Outcome::Held, None)
        }
        Ended::Finished(moved) => report_moved(&mut sink, moved),
    };
    let output = request.output.as_deref();
    match (request.format, sink) {
        (ResultFormat::Json, _) => {
            let document = Document::new(ctx.region.as_str(), request.dry_run, &path, &ended);
            write_result(output, |out| document.write(out))?;
        }
        (ResultFormat::Human, Sink::Buffer(text)) => {
            write_result(output, |out| out.write_all(text.as_bytes()))?
        }
        (ResultFormat::Human, _) => {}
    }
    match error {
        Some(error) => Err(error),
        None => Ok(outcome),
    }
}

fn print_refusal(ctx: &Context, sink: &mut Sink, refusal: &Refusal) {
    match refusal {
        Refusal::Unresolved(report) => {
            print_report(ctx, sink, report);
            sink.say(
                "repoint refused: the selector must name exactly one grant; nothing was changed\n",
            );
        }
        Refusal::NotSafe(report) => {
            print_report(ctx, sink, report);
            sink.say(&format!("repoint refused: {INCOMPLETE}; nothing was changed (override only with --force --reason TEXT)\n"));
        }
        Refusal::Changed(aborted) => sink.say(&format!(
            "repoint {}; nothing was changed (journaled as not-moved, entry {})\n",
            aborted.why, aborted.id
        )),
        other => sink.say(&format!("repoint refused: {}\n", other.why())),
    }
}

/// Why a repoint refuses an audit that could not read everything.
pub const INCOMPLETE: &str = "part of the account that may use the grant was not read (the verdict is unknown, or blocked with coverage findings), so not every user can be listed and checked";

fn dry_run_text(planned: &Planned, journal: &Path) -> String {
    let mut text = planned.text.clone();
    text.push_str(&format!(
        "dry run: nothing was changed. A real run would append a pending record to {}, re-check the account, then call:\n",
        journal.display()
    ));
    for call in planned.calls.iter().filter(|c| c.mutating) {
        let params: Vec<String> = call
            .params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        text.push_str(&format!("  {} {}\n", call.action, params.join(" ")));
    }
    text.push_str("  then follow DescribeUpdateVpcInfoTask until every API is final, and read each live user's deployed definition (DescribeDeployedApi) or backend model (DescribeBackendInfo) to check it routes to the new target\n");
    text
}

/// The protocol for one grant: the removal's steps with the repoint's clearing and check.
async fn repoint_one(
    ctx: &Context,
    journal: Option<&mut Journal>,
    path: &Path,
    request: &RepointRequest,
    sink: &mut Sink,
) -> Result<Ended, RemovalError> {
    let refused = |stop: Stop, planned: Option<Box<Planned>>| match stop {
        Stop::Refused(refusal) => Ok(Ended::Refused(refusal, planned)),
        Stop::Failed(error) => Err(error),
    };
    let audited = match steps::resolve(ctx, &request.selector).await {
        Ok(resolved) => steps::audit(ctx, resolved).await,
        Err(stop) => Err(stop),
    };
    let audited = match audited {
        Ok(a) => a,
        Err(stop) => return refused(stop, None),
    };
    let target = request.target.resolve(audited.grant());
    let cleared = match steps::clear_repoint(audited, request.reason.as_deref(), target.clone()) {
        Ok(c) => c,
        Err(stop) => return refused(stop, None),
    };
    let users = planned_users(cleared.grant_report(), cleared.inventory());
    let verdict = cleared.verdict().as_str().to_owned();
    let text = plan_text(cleared.grant(), &verdict, &target, &users);
    let planned = |calls| {
        Box::new(Planned {
            grant: cleared.grant().clone(),
            target: target.clone(),
            verdict: verdict.clone(),
            digest: cleared.grant_report().digest.clone(),
            findings: cleared.grant_report().findings.clone(),
            users: users.clone(),
            text: text.clone(),
            calls,
        })
    };
    let action = journal::Action::ModifyVpcAccessAndUpdateApis;
    let Some(journal) = journal.filter(|_| !request.dry_run) else {
        let calls = cleared.dry_run(action, path).calls;
        return Ok(Ended::DryRun(planned(calls)));
    };
    sink.say(&text);
    let stdin = std::io::stdin();
    let how = Confirm {
        yes: request.yes,
        terminal: stdin.is_terminal(),
        input: &mut stdin.lock(),
        prompt: &mut std::io::stderr(),
    };
    let kept = planned(Vec::new());
    let confirmed = match steps::confirm(cleared, action, how) {
        Ok(c) => c,
        Err(stop) => return refused(stop, Some(kept)),
    };
    // From the pending record to the journaled outcome, Ctrl-C waits (docs/fault-model.md A14).
    let _critical = crate::interrupt::Critical::enter();
    crate::failpoints::point(crate::failpoints::names::BEFORE_JOURNAL);
    let entry = match steps::write_ahead(journal, ctx.region.as_str(), confirmed) {
        Ok(e) => e,
        Err(stop) => return refused(stop, Some(kept)),
    };
    crate::failpoints::point(crate::failpoints::names::AFTER_JOURNAL_FSYNC);
    let rechecked = match steps::recheck(ctx, entry).await {
        Ok(Recheck::Unchanged(rechecked)) => rechecked,
        Ok(Recheck::Changed(changed)) => match changed.override_with_force() {
            Ok(rechecked) => {
                eprintln!("warning: the re-check found a change; --force --reason proceeds and the journal records it");
                rechecked
            }
            Err(changed) => {
                let (record, aborted) = changed.into_record();
                journal.append(&record)?;
                return Ok(Ended::Refused(
                    Refusal::Changed(Box::new(aborted)),
                    Some(kept),
                ));
            }
        },
        Err((entry, error)) => {
            let record = Record::outcome(
                entry.id(),
                State::NotRemoved,
                Detail {
                    reason: Some(format!("aborted: the re-check could not run: {error}")),
                    ..Detail::default()
                },
            );
            journal.append(&record)?;
            return Err(error);
        }
    };
    if let Some(why) = rechecked.target_taken() {
        let (record, refusal) = rechecked.abort(why);
        journal.append(&record)?;
        return Ok(Ended::Refused(refusal, Some(kept)));
    }
    let mut moved = steps::mutate(&ctx.client, rechecked).await;
    crate::failpoints::point(crate::failpoints::names::AFTER_RESPONSE);
    if moved.operation_id().is_some() {
        let mut progress = |done: usize, all: usize| {
            eprintln!("updating APIs: {done}/{all} final (DescribeUpdateVpcInfoTask)")
        };
        if let Err(error) =
            steps::follow_task(&ctx.client, &mut moved, request.task_timeout, &mut progress).await
        {
            eprintln!("warning: cannot follow the update operation: {error}");
        }
    }
    if moved.changed() {
        let target = moved.target().cloned().expect("a repoint has a target");
        let checks = check_users(
            &ctx.client,
            moved.live_users(),
            &target,
            moved.task_results(),
            moved.timed_out(),
        )
        .await;
        moved.record_checks(checks);
    }
    let finished = steps::finish(journal, moved)?;
    Ok(Ended::Finished(Box::new(Moved { finished, users })))
}

/// Reads where each live user routes now and compares it with `target`, together with what
/// the task said about it: `updated` only when the read shows the target.
pub async fn check_users(
    client: &Client,
    users: &[LiveUser],
    target: &Target,
    task: &[ApiTaskResult],
    timed_out: bool,
) -> Vec<Check> {
    let mut backends: BTreeMap<String, Result<grantguard_wire::models::BackendInfo, String>> =
        BTreeMap::new();
    let mut checks = Vec::new();
    for user in users {
        let said = task
            .iter()
            .find(|r| r.api.api_id == user.api.api_id && r.api.stage == user.api.stage);
        let read = match &user.backend_id {
            None => read_deployed(client, &user.api).await,
            Some(id) => {
                if !backends.contains_key(id) {
                    let info = client
                        .read(&DescribeBackendInfo {
                            backend_id: id.clone(),
                        })
                        .await
                        .map(|r| r.backend_info)
                        .map_err(|e| e.to_string());
                    backends.insert(id.clone(), info);
                }
                backend_model(&backends[id], id, &user.api.stage)
            }
        };
        checks.push(judge(user, target, said, read, timed_out));
    }
    checks
}

/// Where a user routes now: `Ok(Some((vpc, instance, port)))`, `Ok(None)` when it names no
/// VPC target, or the read's error.
type Read = Result<Option<(String, String, u16)>, String>;

async fn read_deployed(client: &Client, api: &ApiStage) -> Read {
    let definition = client
        .read(&DescribeDeployedApi {
            group_id: api.group_id.clone(),
            api_id: api.api_id.clone(),
            stage_name: api.stage.clone(),
        })
        .await
        .map_err(|e| e.to_string())?;
    Ok(definition
        .service_config
        .and_then(|s| s.vpc_config)
        .and_then(tuple_of))
}

fn tuple_of(v: grantguard_wire::models::VpcConfig) -> Option<(String, String, u16)> {
    Some((v.vpc_id?, v.instance_id?, v.port?))
}

fn backend_model(
    info: &Result<grantguard_wire::models::BackendInfo, String>,
    id: &str,
    stage: &str,
) -> Read {
    let info = info.as_ref().map_err(Clone::clone)?;
    let model = info
        .backend_models
        .iter()
        .find(|m| m.stage_name == stage)
        .ok_or_else(|| format!("backend {id} has no {stage} model"))?;
    Ok(model.backend_config.vpc_config.clone().and_then(tuple_of))
}

fn judge(
    user: &LiveUser,
    target: &Target,
    said: Option<&ApiTaskResult>,
    read: Read,
    timed_out: bool,
) -> Check {
    let where_ = if user.backend_id.is_some() {
        "its backend model"
    } else {
        "its deployed definition"
    };
    let failed = said.filter(|r| {
        let status = r.status.to_ascii_uppercase();
        steps::is_final(&status) && !status.starts_with("SUCC")
    });
    let (result, note) = match &read {
        Ok(Some((v, i, p))) if target.is(v, i, *p) => (
            CheckResult::Updated,
            format!("{where_} routes to {v}/{i}:{p}"),
        ),
        _ if failed.is_some() => (CheckResult::Failed, describe_read(where_, &read)),
        _ => {
            let mut note = describe_read(where_, &read);
            if user.backend_id.is_some() {
                note.push_str("; the service does not promise to update backend models: point the model at the new target");
            } else if timed_out && said.is_some_and(|r| !steps::is_final(&r.status)) {
                note.push_str("; the task was still running when grantguard stopped waiting");
            } else if said.is_none() {
                note.push_str("; the task did not name it");
            }
            (CheckResult::NotVerified, note)
        }
    };
    Check {
        user: user.clone(),
        result,
        service_status: said.map(|r| r.status.clone()),
        service_message: said.map(|r| r.error.clone()).unwrap_or_default(),
        note,
    }
}

fn describe_read(where_: &str, read: &Read) -> String {
    match read {
        Ok(Some((v, i, p))) => format!("{where_} still routes to {v}/{i}:{p}"),
        Ok(None) => format!("{where_} names no VPC target"),
        Err(e) => format!("reading {where_} failed: {e}"),
    }
}

/// The result table: one line per live user and stage.
pub fn checks_table(checks: &[Check]) -> String {
    let who = |c: &Check| {
        let api = &c.user.api;
        let name = if api.api_name.is_empty() {
            api.api_id.clone()
        } else {
            format!("{} ({})", api.api_name, api.api_id)
        };
        match (&c.user.backend_id, c.user.backend_name.as_str()) {
            (Some(id), "") => format!("{name} via backend {id}"),
            (Some(_), backend) => format!("{name} via backend {backend}"),
            (None, _) => name,
        }
    };
    let width = checks
        .iter()
        .map(|c| who(c).len())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut text = format!(
        "{:<12}  {:<7}  {:<width$}  {:<8}  CHECK\n",
        "RESULT", "STAGE", "USER", "SERVICE"
    );
    for c in checks {
        let service = c.service_status.as_deref().unwrap_or("-");
        let service = service.split(' ').next().unwrap_or(service);
        let mut check = c.note.clone();
        if !c.service_message.is_empty() {
            check = format!("service: {}; {check}", c.service_message);
        }
        text.push_str(&format!(
            "{:<12}  {:<7}  {:<width$}  {:<8}  {check}\n",
            c.result.as_str(),
            c.user.api.stage,
            who(c),
            service
        ));
    }
    text
}

fn report_moved(sink: &mut Sink, moved: &Moved) -> (Outcome, Option<RemovalError>) {
    let f = &moved.finished;
    let undo = super::document::restore_command_line(&f.id);
    let mut text = String::new();
    if let Some(facts) = f.detail.recheck {
        text.push_str(&format!(
            "re-check: {} calls, {} definitions reused, {:.1} ms\n",
            facts.calls, facts.reused, facts.ms
        ));
    }
    let target = f
        .target
        .as_ref()
        .map_or_else(String::new, ToString::to_string);
    match f.state {
        State::Done | State::DoneUnexpected => {
            if !f.detail.checks.is_empty() {
                text.push_str(&checks_table(&f.detail.checks));
            }
            let verified = f
                .detail
                .checks
                .iter()
                .filter(|c| c.result == CheckResult::Updated)
                .count();
            let all = f.detail.checks.len();
            if f.detail.timed_out {
                text.push_str(&format!(
                    "TIMEOUT: DescribeUpdateVpcInfoTask did not report every API final in time; the journal records it (entry {})\n",
                    f.id
                ));
            }
            if f.state == State::Done {
                text.push_str(&format!(
                    "repointed grant {} to {target} (journal entry {}): {verified} of {all} live users verified on the new target\n",
                    f.grant.name, f.id
                ));
            } else {
                text.push_str(&format!(
                    "grant {} now points at {target}, but only {verified} of {all} live users are verified there (journal entry {}, moved-unverified)\n",
                    f.grant.name, f.id
                ));
            }
            let follow_ups: Vec<String> = moved
                .users
                .iter()
                .filter(|u| !u.kind.is_live())
                .filter_map(|u| Some(format!("  - {}: {}\n", u.who, u.follow_up()?)))
                .collect();
            if !follow_ups.is_empty() {
                text.push_str("still to do by hand (the service does not promise these):\n");
                text.extend(follow_ups);
            }
            text.push_str(&format!("undo with: {undo}\n"));
            sink.say(&text);
            let outcome = if f.state == State::Done {
                Outcome::Clear
            } else {
                Outcome::Held
            };
            (outcome, None)
        }
        State::NotRemoved => {
            sink.say(&text);
            let error = RemovalError::NotMoved {
                grant: f.grant.describe(),
                id: f.id.clone(),
                source: Box::new(f.error.clone().expect("not-moved comes from a failed call")),
            };
            (Outcome::Held, Some(error))
        }
        _ => {
            sink.say(&text);
            let error = RemovalError::Unclear {
                action: journal::Action::ModifyVpcAccessAndUpdateApis.as_str(),
                grant: f.grant.describe(),
                id: f.id.clone(),
                source: Box::new(f.error.clone().expect("pending comes from a failed call")),
            };
            (Outcome::Held, Some(error))
        }
    }
}

/// `grantguard restore --id ENTRY` of a repoint: moves the grant back to the old target with
/// ModifyVpcAccessAndUpdateApis, follows the task and checks every live user on the old
/// target. `restored` only when all are back; otherwise `restore-failed` (the entry stays
/// restorable) and exit 1.
pub async fn restore(
    client: &Client,
    journal: &mut Journal,
    entry: &Entry,
    timeout: Duration,
) -> Result<Outcome, RemovalError> {
    let grant = &entry.intent.grant;
    let back = Target::of(grant);
    let call = |e| RemovalError::Call(Box::new(e));
    let listed = client
        .pages(grantguard_wire::actions::DescribeVpcAccesses::default())
        .await
        .map_err(call)?;
    if !listed.iter().any(|g| g.name == grant.name) {
        say(&format!(
            "restore refused: no grant is named {} any more; nothing was changed\n",
            grant.name
        ));
        return Ok(Outcome::Held);
    }
    if let Some(other) = listed
        .iter()
        .find(|g| g.name != grant.name && back.is(&g.vpc_id, &g.instance_id, g.port))
    {
        say(&format!(
            "restore refused: grant {} ({}) holds the old target {back}; nothing was changed\n",
            other.name, other.vpc_access_id
        ));
        return Ok(Outcome::Held);
    }
    journal.append(&Record::outcome(
        &entry.id,
        State::RestorePending,
        Detail::default(),
    ))?;
    let answer = client.write(&steps::modify_call(&grant.name, &back)).await;
    let operation = match answer {
        Ok(r) => r.operation_id,
        Err(error) => {
            // Never resent: where the grant is now decides.
            let state = steps::reconcile_repoint(client, grant, &back).await;
            let moved_back = state == Some(State::DoneUnexpected);
            let message = format!(
                "{error}; the grant {}",
                if moved_back {
                    "is on the old target again, its users unchecked"
                } else {
                    "was not moved back"
                }
            );
            return Err(super::restore::restore_failed(journal, entry, message)?);
        }
    };
    let mut progress = |done: usize, all: usize| {
        eprintln!("updating APIs: {done}/{all} final (DescribeUpdateVpcInfoTask)")
    };
    let action = journal::Action::ModifyVpcAccessAndUpdateApis;
    let followed = match steps::follow(client, action, &operation, timeout, &mut progress).await {
        Ok(followed) => followed,
        Err(error) => {
            eprintln!("warning: cannot follow the update operation: {error}");
            steps::Followed::default()
        }
    };
    let checks = check_users(
        client,
        &entry.intent.live_users,
        &back,
        &followed.results,
        followed.timed_out,
    )
    .await;
    let all = checks.iter().all(|c| c.result == CheckResult::Updated) && !followed.timed_out;
    let state = if all {
        State::Restored
    } else {
        State::RestoreFailed
    };
    let detail = Detail {
        operation_id: Some(operation),
        updated: followed.results,
        timed_out: followed.timed_out,
        reason: (!all).then(|| "not every live user was verified on the old target".to_owned()),
        checks: checks.clone(),
        ..Detail::default()
    };
    journal.append(&Record::outcome(&entry.id, state, detail))?;
    let mut text = checks_table(&checks);
    if all {
        text.push_str(&format!(
            "moved grant {} back to {back}: {} of {} live users verified there (journal entry {})\n",
            grant.name,
            checks.len(),
            checks.len(),
            entry.id
        ));
        say(&text);
        Ok(Outcome::Clear)
    } else {
        text.push_str(&format!(
            "grant {} is back on {back}, but not every live user is verified there (journal entry {} is restore-failed; run the same restore again when the cause is fixed)\n",
            grant.name, entry.id
        ));
        say(&text);
        Ok(Outcome::Held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(backend: Option<&str>) -> LiveUser {
        LiveUser {
            api: ApiStage {
                api_id: "api-1".into(),
                api_name: "getOrder".into(),
                group_id: "grp-1".into(),
                stage: "PRE".into(),
            },
            backend_id: backend.map(Into::into),
            backend_name: String::new(),
        }
    }

    fn target() -> Target {
        Target {
            vpc_id: "vpc-1".into(),
            instance_id: "lb-new".into(),
            port: 80,
            vpc_target_host_name: String::new(),
        }
    }

    fn said(status: &str, error: &str) -> ApiTaskResult {
        ApiTaskResult {
            api: user(None).api,
            status: status.into(),
            error: error.into(),
        }
    }

    fn at(instance: &str) -> Read {
        Ok(Some(("vpc-1".into(), instance.into(), 80)))
    }

    #[test]
    fn only_a_read_on_the_target_is_updated_whatever_the_service_said() {
        let check = judge(
            &user(None),
            &target(),
            Some(&said("FAILED", "x")),
            at("lb-new"),
            false,
        );
        assert_eq!(check.result, CheckResult::Updated);
        let check = judge(
            &user(None),
            &target(),
            Some(&said("SUCCESS", "")),
            at("lb-old"),
            false,
        );
        assert_eq!(check.result, CheckResult::NotVerified, "{check:?}");
        assert!(
            check.note.contains("still routes to vpc-1/lb-old:80"),
            "{}",
            check.note
        );
    }

    #[test]
    fn a_failure_keeps_the_service_message_and_what_the_read_showed() {
        let check = judge(
            &user(None),
            &target(),
            Some(&said("Failed", "quota")),
            at("lb-old"),
            false,
        );
        assert_eq!(check.result, CheckResult::Failed);
        assert_eq!(check.service_message, "quota");
        assert!(check.note.contains("lb-old"), "{}", check.note);
    }

    #[test]
    fn an_unknown_status_at_the_timeout_and_a_failed_read_are_not_verified() {
        let running = said("QUEUED (still running when grantguard stopped waiting)", "");
        let check = judge(&user(None), &target(), Some(&running), at("lb-old"), true);
        assert_eq!(check.result, CheckResult::NotVerified);
        assert!(check.note.contains("still running"), "{}", check.note);
        let check = judge(
            &user(None),
            &target(),
            None,
            Err("Forbidden.RAM".into()),
            false,
        );
        assert_eq!(check.result, CheckResult::NotVerified);
        assert!(
            check
                .note
                .contains("reading its deployed definition failed"),
            "{}",
            check.note
        );
    }

    #[test]
    fn a_backend_model_left_alone_says_the_service_does_not_promise_it() {
        let check = judge(&user(Some("be-1")), &target(), None, at("lb-old"), false);
        assert_eq!(check.result, CheckResult::NotVerified);
        assert!(
            check
                .note
                .contains("does not promise to update backend models"),
            "{}",
            check.note
        );
    }
}

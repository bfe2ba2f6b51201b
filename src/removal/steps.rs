//! The steps of the guarded-removal protocol (docs/architecture.md "Guarded removal protocol"), one
//! function per step. Each step consumes the previous step's value, and every value's fields
//! are private to this module, so the caller in `mod.rs` cannot build one without running the
//! step that makes it: skipping or reordering a step is a compile error (docs/architecture.md "Code style").
//!
//! In: a [`Context`] (client, region, config, catalog) and a selector. Out: a [`Finished`]
//! removal, or a [`Stop`] saying why nothing (more) happened. The only mutating calls are in
//! [`remove`], and they take a [`Rechecked`], which only exists after a journaled `pending`
//! record and a re-check.

use super::journal::{
    self, Action, ApiStage, ApiTaskResult, Check, CheckResult, Detail, GrantRecord, Intent,
    Journal, LiveUser, OverriddenFinding, Override, RecheckFacts, Record, State, Target,
};
use super::{Context, RemovalError};
use crate::client::{CallError, Client};
use crate::inventory::{Grant, GrantKey, Inventory, Stage};
use crate::selection::Selector;
use crate::verdict::{Finding, GrantReport, Report, RuleId, Verdict};
use grantguard_wire::actions::{
    DescribeAbolishApiTask, DescribeUpdateVpcInfoTask, DescribeVpcAccesses,
    ModifyVpcAccessAndUpdateApis, RemoveVpcAccess, RemoveVpcAccessAndAbolishApis,
};
use grantguard_wire::models::VpcAccessAttribute;
use std::collections::BTreeSet;
use std::io::{BufRead, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// Why the protocol stopped early: a refusal (exit 1) or a failure (exit 2).
#[derive(Debug)]
pub enum Stop {
    /// Nothing was removed, on purpose.
    Refused(Refusal),
    /// The tool could not do its job.
    Failed(RemovalError),
}

impl From<RemovalError> for Stop {
    fn from(error: RemovalError) -> Self {
        Stop::Failed(error)
    }
}

fn call_failed(error: CallError) -> Stop {
    Stop::Failed(RemovalError::Call(Box::new(error)))
}

/// Why a removal was refused.
#[derive(Debug)]
pub enum Refusal {
    /// The selector matched no grant or several (GG301/GG302), or the grant vanished.
    Unresolved(Box<Report>),
    /// The verdict is not `safe` and there was no `--force --reason`.
    NotSafe(Box<Report>),
    /// The verdict is `safe` but the report is not clean (warnings), and there was no
    /// `--accept-warnings` or `--force --reason`.
    Warnings(Box<Report>),
    /// `--plan` does not match the fresh audit (the fresh audit's report of the grant).
    PlanMismatch(String, Box<Report>),
    /// The typed confirmation did not match.
    NotConfirmed(String, Box<Report>),
    /// The re-check found a change (journaled `aborted`).
    Changed(Box<Aborted>),
    /// A repoint's new target is the current one, or another grant holds it (GG305 would
    /// follow).
    Target(String, Box<Report>),
}

impl Refusal {
    /// Why, in one line (the human output's wording).
    pub fn why(&self) -> String {
        match self {
            Refusal::Unresolved(_) => "the selector must name exactly one grant".into(),
            Refusal::NotSafe(report) => format!(
                "the verdict is {}",
                report
                    .grants
                    .first()
                    .map_or("not safe", |g| g.verdict.as_str())
            ),
            Refusal::Warnings(report) => {
                let warnings = || report.grants.iter().flat_map(|g| g.warnings());
                let count = warnings().count();
                format!(
                    "the verdict is safe, with {count} warning{} ({}); removal needs a clean report or --accept-warnings",
                    if count == 1 { "" } else { "s" },
                    super::joined(&crate::verdict::rule_ids(warnings()))
                )
            }
            Refusal::PlanMismatch(why, _)
            | Refusal::NotConfirmed(why, _)
            | Refusal::Target(why, _) => why.clone(),
            Refusal::Changed(aborted) => aborted.why.clone(),
        }
    }

    /// The fresh audit the refusal is based on.
    pub fn report(&self) -> &Report {
        match self {
            Refusal::Unresolved(report)
            | Refusal::NotSafe(report)
            | Refusal::Warnings(report)
            | Refusal::PlanMismatch(_, report)
            | Refusal::NotConfirmed(_, report)
            | Refusal::Target(_, report) => report,
            Refusal::Changed(aborted) => &aborted.report,
        }
    }
}

/// A removal the re-check stopped: what it found, and the journal entry it closed as `aborted`.
#[derive(Debug)]
pub struct Aborted {
    /// What changed, for people.
    pub why: String,
    /// The journal entry (`pending`, then `aborted`).
    pub id: String,
    /// What the re-check found that the audit had not seen.
    pub appeared: Vec<ApiStage>,
    /// Every new finding and unread part, as journaled.
    pub appeared_findings: Vec<OverriddenFinding>,
    /// The (API, stage) pairs the audit predicted.
    pub predicted: Vec<ApiStage>,
    /// What the re-check read.
    pub recheck: RecheckFacts,
    /// The fresh audit the removal was cleared on.
    pub report: Box<Report>,
}

/// Step 1: the selector names exactly this grant, in the live list.
#[derive(Debug)]
pub struct Resolved {
    grant: Grant,
}

fn grant_of(v: VpcAccessAttribute) -> Grant {
    Grant {
        id: v.vpc_access_id.into(),
        name: v.name,
        key: GrantKey {
            vpc_id: v.vpc_id.into(),
            instance_id: v.instance_id.into(),
            port: v.port,
        },
        description: v.description,
        vpc_target_host_name: v.vpc_target_host_name,
        created_time: v.created_time,
    }
}

/// Step 1: resolves `selector` against the live grant list (GG301/GG302 refuse).
pub async fn resolve(ctx: &Context, selector: &Selector) -> Result<Resolved, Stop> {
    let listed = ctx
        .client
        .pages(DescribeVpcAccesses::default())
        .await
        .map_err(call_failed)?;
    let grants: Vec<Grant> = listed.into_iter().map(grant_of).collect();
    let matching: Vec<&Grant> = grants.iter().filter(|g| selector.matches(g)).collect();
    if let [grant] = matching[..] {
        return Ok(Resolved {
            grant: grant.clone(),
        });
    }
    // GG301 and GG302 come from the rule catalog, so the refusal reads like any audit.
    let mut inventory = Inventory::new(ctx.region.clone());
    inventory.grants = grants;
    let report = crate::rules::audit(
        &inventory,
        &ctx.terraform,
        Some(selector),
        &ctx.config,
        &ctx.catalog,
    );
    Err(Stop::Refused(Refusal::Unresolved(Box::new(report))))
}

/// Step 2: a fresh live audit of the resolved grant.
#[derive(Debug)]
pub struct Audited {
    grant_report: GrantReport,
    report: Report,
    inventory: Inventory,
}

/// Step 2: walks the live account (never a snapshot) and audits the resolved grant.
pub async fn audit(ctx: &Context, resolved: Resolved) -> Result<Audited, Stop> {
    let inventory = crate::inventory::walk::walk(&ctx.client, &ctx.region, &ctx.walk)
        .await
        .map_err(RemovalError::Walk)?;
    audit_from(ctx, resolved, inventory)
}

/// Step 2 in `--all-safe`: audits the resolved grant in `inventory`, a live walk made moments
/// ago (the batch's own walk, or the previous grant's re-check), instead of walking again.
pub fn audit_from(
    ctx: &Context,
    resolved: Resolved,
    inventory: Inventory,
) -> Result<Audited, Stop> {
    let selector = Selector::Id(resolved.grant.id.clone());
    let report = crate::rules::audit(
        &inventory,
        &ctx.terraform,
        Some(&selector),
        &ctx.config,
        &ctx.catalog,
    );
    let found = report
        .grants
        .iter()
        .find(|g| g.grant.id == resolved.grant.id && g.grant.key == resolved.grant.key)
        .cloned();
    match found {
        Some(grant_report) => Ok(Audited {
            grant_report,
            report,
            inventory,
        }),
        None => Err(Stop::Refused(Refusal::Unresolved(Box::new(report)))),
    }
}

/// Step 1 in `--all-safe`: the grant with `id` in the batch's live inventory.
pub fn resolve_in(inventory: &Inventory, id: &crate::inventory::VpcAccessId) -> Option<Resolved> {
    let mut matching = inventory.grants.iter().filter(|g| g.id == *id);
    match (matching.next(), matching.next()) {
        (Some(grant), None) => Some(Resolved {
            grant: grant.clone(),
        }),
        _ => None,
    }
}

impl Audited {
    /// The grant.
    pub fn grant(&self) -> &Grant {
        &self.grant_report.grant
    }

    /// The grant's verdict.
    pub fn verdict(&self) -> Verdict {
        self.grant_report.verdict
    }

    /// `--plan REPORT.json`: proceeds only when the plan's digest for this grant equals the
    /// fresh audit's, so the reviewed plan is what runs.
    pub fn check_plan(self, plan: &Path) -> Result<Audited, Stop> {
        let unreadable = |message: String| {
            Stop::Failed(RemovalError::Plan {
                path: plan.display().to_string(),
                message,
            })
        };
        let text = std::fs::read_to_string(plan).map_err(|e| unreadable(e.to_string()))?;
        let document: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| unreadable(e.to_string()))?;
        let grants = document["grants"].as_array().ok_or_else(|| {
            unreadable("no \"grants\" array: is it an audit --format json report?".into())
        })?;
        let id = self.grant().id.as_str();
        let planned = grants
            .iter()
            .find(|g| g["vpc_access_id"] == id)
            .and_then(|g| g["digest"].as_str());
        match planned {
            None => Err(Stop::Refused(Refusal::PlanMismatch(
                format!(
                    "the plan {} does not cover grant {} ({id})",
                    plan.display(),
                    self.grant().name
                ),
                Box::new(self.report),
            ))),
            Some(digest) if digest != self.grant_report.digest => {
                Err(Stop::Refused(Refusal::PlanMismatch(
                    format!(
                        "the account changed since the plan was made: plan digest {digest}, fresh audit {}; review a new plan",
                        self.grant_report.digest
                    ),
                    Box::new(self.report),
                )))
            }
            Some(_) => Ok(self),
        }
    }
}

/// Step 3: the verdict allows removal, or an override with a reason does.
#[derive(Debug)]
pub struct Cleared {
    audited: Audited,
    forced: Option<Override>,
    accepted: Vec<OverriddenFinding>,
    /// A repoint's new target.
    target: Option<Target>,
}

/// The overrides step 3 may apply, from the command line.
#[derive(Debug, Clone, Copy, Default)]
pub struct Overrides<'a> {
    /// `--force --reason TEXT`: removes whatever the verdict.
    pub reason: Option<&'a str>,
    /// `--accept-warnings`: removes a `safe` grant that is not clean.
    pub accept_warnings: bool,
}

fn journaled(finding: &Finding) -> OverriddenFinding {
    OverriddenFinding {
        rule: finding.rule,
        severity: finding.severity.as_str().to_owned(),
        message: finding.message.clone(),
    }
}

/// Step 3: a clean report; or `safe` with warnings and `--accept-warnings`; or `--force
/// --reason`. Each override is journaled with the findings it overrides.
pub fn clear(audited: Audited, overrides: Overrides<'_>) -> Result<Cleared, Stop> {
    let forced = overrides.reason.map(|reason| Override {
        reason: reason.to_owned(),
        verdict: audited.verdict().as_str().to_owned(),
        findings: audited
            .grant_report
            .findings
            .iter()
            .map(journaled)
            .collect(),
    });
    if forced.is_none() {
        if audited.verdict() != Verdict::Safe {
            return Err(Stop::Refused(Refusal::NotSafe(Box::new(audited.report))));
        }
        if !audited.grant_report.is_clean() && !overrides.accept_warnings {
            return Err(Stop::Refused(Refusal::Warnings(Box::new(audited.report))));
        }
    }
    let accepted = if forced.is_none() {
        audited.grant_report.warnings().map(journaled).collect()
    } else {
        Vec::new()
    };
    Ok(Cleared {
        audited,
        forced,
        accepted,
        target: None,
    })
}

/// Step 3 of a repoint: moving users is the point, so `blocked` and warnings are the normal
/// case; only `unknown` (users that could not be listed) needs `--force --reason`. The target
/// must differ from the grant's current one, and no other grant may hold its tuple (the two
/// would share it, GG305).
pub fn clear_repoint(
    audited: Audited,
    reason: Option<&str>,
    target: Target,
) -> Result<Cleared, Stop> {
    let g = audited.grant();
    let current = Target {
        vpc_id: g.key.vpc_id.to_string(),
        instance_id: g.key.instance_id.to_string(),
        port: g.key.port,
        vpc_target_host_name: g.vpc_target_host_name.clone(),
    };
    if target == current {
        let why = format!("the new target {target} is the grant's current one; nothing to repoint");
        return Err(Stop::Refused(Refusal::Target(
            why,
            Box::new(audited.report),
        )));
    }
    let holder = audited.inventory.grants.iter().find(|other| {
        other.id != g.id
            && target.is(
                other.key.vpc_id.as_str(),
                other.key.instance_id.as_str(),
                other.key.port,
            )
    });
    if let Some(other) = holder {
        let why = format!(
            "grant {} ({}) already holds {}/{}:{}; two grants on one tuple are ambiguous (GG305), so nothing was changed",
            other.name, other.id, target.vpc_id, target.instance_id, target.port
        );
        return Err(Stop::Refused(Refusal::Target(
            why,
            Box::new(audited.report),
        )));
    }
    let forced = reason.map(|reason| Override {
        reason: reason.to_owned(),
        verdict: audited.verdict().as_str().to_owned(),
        findings: audited
            .grant_report
            .findings
            .iter()
            .map(journaled)
            .collect(),
    });
    // A `blocked` grant can still have unread parts (a blocking finding outranks coverage in
    // the verdict); a repoint must list every user, so those count like `unknown`.
    let unread = audited
        .grant_report
        .findings
        .iter()
        .any(|f| f.holds() && f.rule.is_coverage());
    if forced.is_none() && (audited.verdict() == Verdict::Unknown || unread) {
        return Err(Stop::Refused(Refusal::NotSafe(Box::new(audited.report))));
    }
    Ok(Cleared {
        audited,
        forced,
        accepted: Vec::new(),
        target: Some(target),
    })
}

impl Cleared {
    /// The grant.
    pub fn grant(&self) -> &Grant {
        self.audited.grant()
    }

    /// The verdict that was cleared.
    pub fn verdict(&self) -> Verdict {
        self.audited.verdict()
    }

    /// The fresh audit's report of the grant.
    pub fn grant_report(&self) -> &GrantReport {
        &self.audited.grant_report
    }

    /// The fresh audit's inventory.
    pub fn inventory(&self) -> &Inventory {
        &self.audited.inventory
    }

    /// A repoint's new target.
    pub fn target(&self) -> Option<&Target> {
        self.target.as_ref()
    }

    /// `--force --reason`, when given.
    pub fn forced(&self) -> Option<&Override> {
        self.forced.as_ref()
    }

    /// The (API, stage) pairs that route through the grant now (GG101/GG102 findings,
    /// suppressed or not): what RemoveVpcAccess should name, and what abolishing unpublishes.
    pub fn predicted(&self) -> Vec<ApiStage> {
        let inventory = &self.audited.inventory;
        let set: BTreeSet<ApiStage> = self
            .audited
            .grant_report
            .findings
            .iter()
            .filter(|f| matches!(f.rule, RuleId::GG101 | RuleId::GG102))
            .filter_map(|f| {
                let api_id = f.api_id()?;
                let stage = f.stage()?;
                Some(ApiStage {
                    api_id: api_id.to_string(),
                    api_name: inventory
                        .deployments
                        .iter()
                        .find(|d| d.api.api_id == *api_id)
                        .map(|d| d.api.api_name.clone())
                        .unwrap_or_default(),
                    group_id: f.group_id().map(ToString::to_string).unwrap_or_default(),
                    stage: stage.as_str().to_owned(),
                })
            })
            .collect();
        set.into_iter().collect()
    }

    /// What `--dry-run` reports: the text for people and the facts for the JSON document.
    pub fn dry_run(&self, action: Action, journal: &Path) -> DryRun {
        let g = self.grant();
        let read = |name: &'static str, params: Vec<(&'static str, String)>| Call {
            action: name,
            params,
            mutating: false,
        };
        DryRun {
            text: self.plan(action, journal),
            grant: g.clone(),
            verdict: self.verdict(),
            digest: self.audited.grant_report.digest.clone(),
            findings: self.audited.grant_report.findings.clone(),
            predicted: self.predicted(),
            // The re-check is a re-walk; these are its fixed reads (the per-group, per-stage
            // and per-backend ones depend on what the listings then say).
            calls: vec![
                read("DescribeVpcAccesses", Vec::new()),
                read("DescribeApiGroups", Vec::new()),
                read("DescribeBackendList", Vec::new()),
                read("DescribeApisByVpcAccess", vec![("VpcName", g.name.clone())]),
                mutating_call(action, g, self.target.as_ref()),
            ],
        }
    }

    /// The exact calls a run would make, for `--dry-run`.
    pub fn plan(&self, action: Action, journal: &Path) -> String {
        let g = self.grant();
        let params = params_text(&mutating_call(action, g, self.target.as_ref()).params);
        let predicted = self.predicted();
        let mut text = format!(
            "dry run: nothing was changed. For grant {} ({}) a real run would:\n  1. append a pending record to {}\n  2. re-check: re-walk the grants, every group's stages, deployments, drafts and history, every backend and the APIs on it, and the service's index (DescribeApisByVpcAccess VpcName={}), reusing a definition only where its listing proves it unchanged\n  3. call {} {}\n",
            g.name,
            g.id,
            journal.display(),
            g.name,
            action.as_str(),
            params
        );
        if predicted.is_empty() {
            text.push_str("  and expect the response to name no API\n");
        } else {
            let verb = match action {
                Action::RemoveVpcAccess => "expect the response to name",
                Action::RemoveVpcAccessAndAbolishApis => {
                    "unpublish, then follow with DescribeAbolishApiTask:"
                }
                Action::ModifyVpcAccessAndUpdateApis => {
                    "follow DescribeUpdateVpcInfoTask until every API is final, then re-read where each live user routes:"
                }
            };
            text.push_str(&format!("  and {verb}\n"));
            for api in &predicted {
                text.push_str(&format!("     {api}\n"));
            }
        }
        text
    }
}

/// What `--dry-run` found: the cleared grant and the calls a real run would make.
#[derive(Debug)]
pub struct DryRun {
    /// The human text (journal, re-check reads, the mutating call, the expected answer).
    pub text: String,
    /// The grant.
    pub grant: Grant,
    /// The fresh audit's verdict.
    pub verdict: Verdict,
    /// The fresh audit's digest for the grant.
    pub digest: String,
    /// The fresh audit's findings for the grant.
    pub findings: Vec<Finding>,
    /// The (API, stage) pairs the service is expected to name.
    pub predicted: Vec<ApiStage>,
    /// The re-check reads, then the mutating call, in order.
    pub calls: Vec<Call>,
}

/// One API call with the parameters grantguard sets (signing and paging parameters aside).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The action name.
    pub action: &'static str,
    /// Its parameters, in wire order.
    pub params: Vec<(&'static str, String)>,
    /// Whether it changes the account.
    pub mutating: bool,
}

/// The mutating call `action` makes for grant `g` (moving it to `target`, for a repoint),
/// with its exact wire parameters.
fn mutating_call(action: Action, g: &Grant, target: Option<&Target>) -> Call {
    use grantguard_wire::actions::Action as _;
    let params = match (action, target) {
        (Action::RemoveVpcAccess, _) => remove_call(g).0.params(),
        (Action::RemoveVpcAccessAndAbolishApis, _) => abolish_call(g).0.params(),
        (Action::ModifyVpcAccessAndUpdateApis, Some(target)) => {
            modify_call(&g.name, target).params()
        }
        (Action::ModifyVpcAccessAndUpdateApis, None) => Vec::new(),
    };
    Call {
        action: action.as_str(),
        params,
        mutating: true,
    }
}

fn remove_call(g: &Grant) -> (RemoveVpcAccess, String) {
    let call = RemoveVpcAccess {
        vpc_id: g.key.vpc_id.to_string(),
        instance_id: g.key.instance_id.to_string(),
        port: g.key.port,
    };
    let params = params_text(&grantguard_wire::actions::Action::params(&call));
    (call, params)
}

fn abolish_call(g: &Grant) -> (RemoveVpcAccessAndAbolishApis, String) {
    let call = RemoveVpcAccessAndAbolishApis {
        vpc_id: g.key.vpc_id.to_string(),
        instance_id: g.key.instance_id.to_string(),
        port: g.key.port,
    };
    let params = params_text(&grantguard_wire::actions::Action::params(&call));
    (call, params)
}

/// ModifyVpcAccessAndUpdateApis moving the grant named `name` to `target`, with its published
/// APIs (`NeedBatchWork=true`).
pub fn modify_call(name: &str, target: &Target) -> ModifyVpcAccessAndUpdateApis {
    ModifyVpcAccessAndUpdateApis {
        name: name.to_owned(),
        vpc_id: target.vpc_id.clone(),
        instance_id: target.instance_id.clone(),
        port: target.port,
        vpc_target_host_name: Some(target.vpc_target_host_name.clone()).filter(|h| !h.is_empty()),
        need_batch_work: true,
    }
}

fn params_text(params: &[(&'static str, String)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// How the operator confirms.
pub struct Confirm<'a> {
    /// `--yes`.
    pub yes: bool,
    /// Standard input is a terminal.
    pub terminal: bool,
    /// Where the typed name comes from.
    pub input: &'a mut dyn BufRead,
    /// Where the prompt goes (standard error).
    pub prompt: &'a mut dyn Write,
}

/// `apis` as one indented line per stage that has any: `  RELEASE: API a, API b`.
fn per_stage(apis: &[ApiStage]) -> String {
    let mut text = String::new();
    for stage in Stage::ALL {
        let names: Vec<String> = apis
            .iter()
            .filter(|a| a.stage == stage.as_str())
            .map(ToString::to_string)
            .collect();
        if !names.is_empty() {
            text.push_str(&format!("  {stage}: {}\n", names.join(", ")));
        }
    }
    text
}

/// Step 4: the operator agreed to this exact removal.
#[derive(Debug)]
pub struct Confirmed {
    cleared: Cleared,
    action: Action,
}

/// Step 4: on a terminal the operator types the grant's name; otherwise `--yes` is needed.
/// Abolishing always needs the typed name, or `--yes` together with `--force --reason`.
pub fn confirm(cleared: Cleared, action: Action, how: Confirm<'_>) -> Result<Confirmed, Stop> {
    let abolish = action == Action::RemoveVpcAccessAndAbolishApis;
    let yes_is_enough = how.yes && (!abolish || cleared.forced.is_some());
    if !yes_is_enough {
        if !how.terminal {
            return Err(Stop::Failed(RemovalError::NeedsConfirmation { abolish }));
        }
        let name = cleared.grant().name.clone();
        let mut prompt = format!(
            "About to call {} for grant {} ({}) {} — verdict {}{}.\n",
            action.as_str(),
            name,
            cleared.grant().id,
            cleared.grant().key,
            cleared.verdict().as_str(),
            match (cleared.forced.is_some(), cleared.accepted.len()) {
                (true, _) => ", overridden with --force".to_owned(),
                (false, 0) => String::new(),
                (false, n) => format!(", {n} warning{} accepted", if n == 1 { "" } else { "s" }),
            }
        );
        let findings = &cleared.audited.grant_report.findings;
        if !findings.is_empty() {
            prompt.push_str("Findings:\n");
            for f in findings {
                prompt.push_str(&format!(
                    "  {} {:<4} {}{}\n",
                    f.rule,
                    f.severity.as_str(),
                    f.message,
                    if f.suppressed.is_some() {
                        " (suppressed)"
                    } else {
                        ""
                    }
                ));
            }
        }
        if let Some(target) = &cleared.target {
            prompt.push_str(&format!(
                "It moves the grant to {target}; these live users move with it:\n"
            ));
            prompt.push_str(&per_stage(&cleared.predicted()));
        } else if cleared.forced.is_some() && !abolish {
            let predicted = cleared.predicted();
            if !predicted.is_empty() {
                prompt.push_str("These live users break when the grant goes:\n");
                prompt.push_str(&per_stage(&predicted));
            }
        }
        if abolish {
            prompt.push_str("These APIs will be unpublished:\n");
            prompt.push_str(&per_stage(&cleared.predicted()));
        }
        prompt.push_str(&format!("Type the grant's name ({name}) to proceed: "));
        let _ = how.prompt.write_all(prompt.as_bytes());
        let _ = how.prompt.flush();
        let mut typed = String::new();
        how.input
            .read_line(&mut typed)
            .map_err(|source| RemovalError::Prompt { source })?;
        if typed.trim() != name {
            return Err(Stop::Refused(Refusal::NotConfirmed(
                format!(
                    "the typed name {:?} is not {name:?}; nothing was {}",
                    typed.trim(),
                    if cleared.target.is_some() {
                        "changed"
                    } else {
                        "removed"
                    }
                ),
                Box::new(cleared.audited.report),
            )));
        }
    }
    Ok(Confirmed { cleared, action })
}

/// Step 5: the removal is on disk as `pending` before anything is called.
#[derive(Debug)]
pub struct JournalEntry {
    id: String,
    intent: Intent,
    confirmed: Confirmed,
}

impl JournalEntry {
    /// The entry id.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// Step 5: writes the `pending` record (fsync'd) and returns the proof that it exists.
pub fn write_ahead(
    journal: &mut Journal,
    region: &str,
    confirmed: Confirmed,
) -> Result<JournalEntry, Stop> {
    let g = confirmed.cleared.grant();
    let intent = Intent {
        action: confirmed.action,
        grant: GrantRecord {
            name: g.name.clone(),
            vpc_id: g.key.vpc_id.to_string(),
            instance_id: g.key.instance_id.to_string(),
            port: g.key.port,
            description: g.description.clone(),
            vpc_target_host_name: g.vpc_target_host_name.clone(),
            vpc_access_id: g.id.to_string(),
            region: region.to_owned(),
        },
        digest: confirmed.cleared.audited.grant_report.digest.clone(),
        verdict: confirmed.cleared.verdict().as_str().to_owned(),
        forced: confirmed.cleared.forced.clone(),
        accepted_warnings: confirmed.cleared.accepted.clone(),
        predicted: confirmed.cleared.predicted(),
        target: confirmed.cleared.target.clone(),
        live_users: if confirmed.cleared.target.is_some() {
            super::repoint::live_users(
                &confirmed.cleared.audited.grant_report,
                &confirmed.cleared.audited.inventory,
            )
        } else {
            Vec::new()
        },
        pid: std::process::id(),
        host: journal::host_name(),
    };
    let id = journal::new_id();
    journal.append(&Record {
        id: id.clone(),
        at: journal::now(),
        state: State::Pending,
        intent: Some(intent.clone()),
        detail: Detail::default(),
    })?;
    Ok(JournalEntry {
        id,
        intent,
        confirmed,
    })
}

/// Step 6: nothing that could use the grant appeared since the audit (or the override covers
/// it), and the grant is still the one audited.
#[derive(Debug)]
pub struct Rechecked {
    entry: JournalEntry,
    found: Found,
    fresh: Inventory,
    at: Instant,
}

/// What the re-check found when it found something.
#[derive(Debug)]
pub struct Changed {
    entry: JournalEntry,
    found: Found,
    fresh: Inventory,
}

/// The re-check's answer.
#[derive(Debug)]
pub enum Recheck {
    /// As audited.
    Unchanged(Rechecked),
    /// Something appeared, a part could not be read, or the grant changed.
    Changed(Changed),
}

/// What the re-walk found that the audit had not: the comparison of two audits of one grant.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Found {
    /// New findings about the grant, as journaled (rule, severity, message).
    pub findings: Vec<OverriddenFinding>,
    /// The (API, stage) pairs among them.
    pub apis: Vec<ApiStage>,
    /// Parts of the account that could reference the grant and were not read this time.
    pub unread: Vec<String>,
    /// The grant is gone, or is no longer the audited one.
    pub grant_problem: Option<String>,
    /// What the re-walk cost.
    pub facts: Option<RecheckFacts>,
}

impl Found {
    fn is_empty(&self) -> bool {
        self.findings.is_empty() && self.unread.is_empty() && self.grant_problem.is_none()
    }

    /// What changed, for people: every new user and every unread part, by name.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(problem) = &self.grant_problem {
            parts.push(problem.clone());
        }
        let users: Vec<&OverriddenFinding> = self
            .findings
            .iter()
            .filter(|f| f.rule != RuleId::GG201)
            .collect();
        if !users.is_empty() {
            let list: Vec<String> = users
                .iter()
                .map(|f| format!("{} {}", f.rule, f.message))
                .collect();
            parts.push(format!(
                "since the audit, {} appeared that use{} the grant: {}",
                if list.len() == 1 {
                    "a user".to_owned()
                } else {
                    format!("{} users", list.len())
                },
                if list.len() == 1 { "s" } else { "" },
                list.join("; ")
            ));
        }
        if !self.unread.is_empty() {
            parts.push(format!(
                "the re-check could not read {} (fail closed)",
                self.unread.join("; ")
            ));
        }
        parts.join("; ")
    }
}

/// Compares the audit the removal was cleared on with the re-check's audit of the same grant.
/// A finding is new when no audited finding has its rule and message (messages name the user,
/// its stage and how it routes); a gap is new when no audited gap has its scope, action and
/// code (a retried read's message may differ). Findings that went away are no danger.
pub fn compare(
    audited: &GrantReport,
    audited_inventory: &Inventory,
    fresh: Option<&GrantReport>,
    fresh_inventory: &Inventory,
) -> Found {
    let grant = &audited.grant;
    let Some(fresh) = fresh else {
        let holder = fresh_inventory.grants.iter().find(|g| g.key == grant.key);
        return Found {
            grant_problem: Some(match holder {
                Some(other) => format!(
                    "the tuple {} now belongs to grant {} ({}), not the audited {} ({})",
                    grant.key, other.name, other.id, grant.name, grant.id
                ),
                None => format!(
                    "grant {} ({}) is no longer listed: someone else removed it",
                    grant.name, grant.key
                ),
            }),
            ..Found::default()
        };
    };
    let mut found = Found::default();
    if fresh.grant.name != grant.name || fresh.grant.key != grant.key {
        found.grant_problem = Some(format!(
            "grant {} changed since the audit: now {} {}",
            grant.id, fresh.grant.name, fresh.grant.key
        ));
    }
    let sharing = fresh_inventory
        .grants
        .iter()
        .filter(|g| g.key == grant.key)
        .count();
    if sharing > 1 && found.grant_problem.is_none() {
        found.grant_problem = Some(format!(
            "the tuple {} matches {sharing} grants (GG305): RemoveVpcAccess addresses a grant by its tuple, so it could take another one",
            grant.key
        ));
    }
    let known: BTreeSet<(RuleId, &str)> = audited
        .findings
        .iter()
        .map(|f| (f.rule, f.message.as_str()))
        .collect();
    for finding in &fresh.findings {
        // Unread parts are compared as gaps below; a gap's message may differ between reads.
        if finding.rule == RuleId::GG201
            || known.contains(&(finding.rule, finding.message.as_str()))
        {
            continue;
        }
        found.findings.push(journaled(finding));
        if let (Some(api_id), Some(stage)) = (finding.api_id(), finding.stage()) {
            found.apis.push(ApiStage {
                api_id: api_id.to_string(),
                api_name: finding
                    .subject
                    .as_ref()
                    .and_then(|s| s.api.as_ref())
                    .map(|a| a.api_name.clone())
                    .unwrap_or_default(),
                group_id: finding
                    .group_id()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                stage: stage.as_str().to_owned(),
            });
        }
    }
    let affects =
        |gap: &&crate::inventory::Gap| gap.grant.as_ref().is_none_or(|id| *id == grant.id);
    let known_gaps: BTreeSet<(&str, &str, &str)> = audited_inventory
        .gaps
        .iter()
        .filter(affects)
        .map(|g| (g.scope.as_str(), g.action.as_str(), g.code.as_str()))
        .collect();
    for gap in fresh_inventory.gaps.iter().filter(affects) {
        if known_gaps.contains(&(gap.scope.as_str(), gap.action.as_str(), gap.code.as_str())) {
            continue;
        }
        found
            .unread
            .push(format!("{} on {} ({})", gap.action, gap.scope, gap.code));
        found.findings.push(OverriddenFinding {
            rule: RuleId::GG201,
            severity: "deny".to_owned(),
            message: format!(
                "{} on {} was not read ({}: {})",
                gap.action, gap.scope, gap.code, gap.message
            ),
        });
    }
    found.apis.sort();
    found.apis.dedup();
    found
}

impl Changed {
    /// What changed, for people.
    pub fn describe(&self) -> String {
        self.found.describe()
    }

    /// With `--force --reason`, new users are accepted (and journaled); a grant that is gone
    /// or no longer the audited one is never removed, and neither is one the re-check could
    /// not read in full where the audit could (fail closed).
    pub fn override_with_force(self) -> Result<Rechecked, Changed> {
        let forced = self.entry.intent.forced.is_some();
        if forced && self.found.grant_problem.is_none() && self.found.unread.is_empty() {
            Ok(Rechecked {
                entry: self.entry,
                found: self.found,
                fresh: self.fresh,
                at: Instant::now(),
            })
        } else {
            Err(self)
        }
    }

    /// The re-check's fresh inventory (`--all-safe` audits the next grant from it).
    pub fn take_fresh(&mut self) -> Inventory {
        take_inventory(&mut self.fresh)
    }

    /// The `not-removed` record for the journal, and the refusal to report.
    pub fn into_record(self) -> (Record, Aborted) {
        let why = format!("aborted by the re-check: {}", self.describe());
        let record = Record::outcome(
            &self.entry.id,
            State::NotRemoved,
            Detail {
                reason: Some(why.clone()),
                appeared: self.found.apis.clone(),
                appeared_findings: self.found.findings.clone(),
                recheck: self.found.facts,
                ..Detail::default()
            },
        );
        let aborted = Aborted {
            why,
            id: self.entry.id,
            appeared: self.found.apis,
            appeared_findings: self.found.findings,
            predicted: self.entry.intent.predicted,
            recheck: self.found.facts.unwrap_or(RecheckFacts {
                calls: 0,
                reused: 0,
                ms: 0.0,
            }),
            report: Box::new(self.entry.confirmed.cleared.audited.report),
        };
        (record, aborted)
    }
}

impl Rechecked {
    /// The re-check's fresh inventory (`--all-safe` audits the next grant from it).
    pub fn take_fresh(&mut self) -> Inventory {
        take_inventory(&mut self.fresh)
    }

    /// For a repoint: why the move must not happen now that the re-check has read the grants
    /// again (another grant took the new tuple since the audit), if it must not.
    pub fn target_taken(&self) -> Option<String> {
        let target = self.entry.confirmed.cleared.target.as_ref()?;
        let own = &self.entry.confirmed.cleared.grant().id;
        self.fresh
            .grants
            .iter()
            .find(|g| g.id != *own && target.is(g.key.vpc_id.as_str(), g.key.instance_id.as_str(), g.key.port))
            .map(|g| {
                format!(
                    "aborted by the re-check: grant {} ({}) took {}/{}:{} since the audit (GG305 would follow)",
                    g.name, g.id, target.vpc_id, target.instance_id, target.port
                )
            })
    }

    /// Closes the entry as not changed, for `why`: the journal record and the refusal.
    pub fn abort(self, why: String) -> (Record, Refusal) {
        let record = Record::outcome(
            &self.entry.id,
            State::NotRemoved,
            Detail {
                reason: Some(why.clone()),
                recheck: self.found.facts,
                ..Detail::default()
            },
        );
        let report = Box::new(self.entry.confirmed.cleared.audited.report);
        (record, Refusal::Target(why, report))
    }
}

/// Moves `inventory` out, leaving an empty one of the same region.
fn take_inventory(inventory: &mut Inventory) -> Inventory {
    let region = inventory.region.clone();
    std::mem::replace(inventory, Inventory::new(region))
}

/// Step 6: an incremental re-walk of everything that can reference the grant, just before
/// the call. It reuses a definition from the audit only where a live listing proves it
/// unchanged (the `--cache` rules) and reads the rest again: the grant list, every group's
/// stages, deployments, drafts and history, every backend with its stage models and the APIs
/// on it, and the service's index. The grant is then audited again and compared with the
/// audit it was cleared on ([`compare`]). A walk that cannot run is returned with the entry
/// so the caller can journal `not-removed`.
pub async fn recheck(
    ctx: &Context,
    entry: JournalEntry,
) -> Result<Recheck, (JournalEntry, RemovalError)> {
    let started = Instant::now();
    let calls_before = ctx.client.stats().requests;
    let options = crate::inventory::walk::WalkOptions {
        progress: None,
        ..ctx.walk.clone()
    };
    let audited = &entry.confirmed.cleared.audited;
    let walked = crate::inventory::walk::walk_incrementally(
        &ctx.client,
        &ctx.region,
        &options,
        Some(&audited.inventory),
    )
    .await;
    let walked = match walked {
        Ok(walked) => walked,
        Err(error) => return Err((entry, RemovalError::Walk(error))),
    };
    let fresh = walked.inventory;
    let grant = audited.grant().clone();
    let report = crate::rules::audit(
        &fresh,
        &ctx.terraform,
        Some(&Selector::Id(grant.id.clone())),
        &ctx.config,
        &ctx.catalog,
    );
    let fresh_report = report.grants.iter().find(|g| g.grant.id == grant.id);
    let mut found = compare(
        &audited.grant_report,
        &audited.inventory,
        fresh_report,
        &fresh,
    );
    found.facts = Some(RecheckFacts {
        calls: ctx.client.stats().requests - calls_before,
        reused: walked.reused,
        ms: millis(started.elapsed()),
    });
    if found.is_empty() {
        Ok(Recheck::Unchanged(Rechecked {
            entry,
            found,
            fresh,
            at: Instant::now(),
        }))
    } else {
        Ok(Recheck::Changed(Changed {
            entry,
            found,
            fresh,
        }))
    }
}

/// Milliseconds with microsecond resolution.
fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0
}

/// Step 7: the call was made (once) and its outcome decided, by the answer or by reading.
#[derive(Debug)]
pub struct Removed {
    entry: JournalEntry,
    state: State,
    detail: Detail,
    error: Option<CallError>,
}

/// Step 7: RemoveVpcAccess, RemoveVpcAccessAndAbolishApis or (a repoint)
/// ModifyVpcAccessAndUpdateApis, sent once through `Client::write`; an unclear failure is
/// reconciled by reading the grant back, never resent.
pub async fn mutate(client: &Client, rechecked: Rechecked) -> Removed {
    let Rechecked {
        entry, found, at, ..
    } = rechecked;
    let appeared = found.apis.clone();
    let grant = entry.confirmed.cleared.grant().clone();
    let mut detail = Detail {
        appeared: found.apis,
        appeared_findings: found.findings,
        recheck: found.facts,
        ..Detail::default()
    };
    // From the end of the re-check to the request handed to the client: our own overhead.
    detail.recheck_gap_ms = Some(millis(at.elapsed()));
    let answer = match entry.intent.action {
        Action::RemoveVpcAccess => client
            .write(&remove_call(&grant).0)
            .await
            .map(|r| (r.request_id, Some(r.apis.items), None)),
        Action::RemoveVpcAccessAndAbolishApis => client
            .write(&abolish_call(&grant).0)
            .await
            .map(|r| (r.request_id, None, Some(r.operation_id))),
        Action::ModifyVpcAccessAndUpdateApis => {
            let target = entry
                .intent
                .target
                .as_ref()
                .expect("a repoint has a target");
            client
                .write(&modify_call(&grant.name, target))
                .await
                .map(|r| (r.request_id, None, Some(r.operation_id)))
        }
    };
    // The window in which a change can slip past the re-check: from its end to the answer,
    // with the rate limiter, a credential refresh and the round trip on the path.
    detail.recheck_window_ms = Some(millis(at.elapsed()));
    match answer {
        Ok((request_id, apis, operation_id)) => {
            detail.request_id = Some(request_id).filter(|r| !r.is_empty());
            detail.operation_id = operation_id;
            let mut state = State::Done;
            if let Some(apis) = apis {
                let inventory = &entry.confirmed.cleared.audited.inventory;
                let returned: Vec<ApiStage> = apis
                    .into_iter()
                    .map(|a| name_stage(inventory, a.api_id, a.group_id, &a.stage_id))
                    .collect();
                let mut expected: Vec<ApiStage> = entry.intent.predicted.clone();
                expected.extend(appeared);
                let key = |a: &ApiStage| (a.api_id.clone(), a.stage.clone());
                let expected_keys: BTreeSet<_> = expected.iter().map(key).collect();
                let returned_keys: BTreeSet<_> = returned.iter().map(key).collect();
                detail.unexpected_apis = returned
                    .iter()
                    .filter(|a| !expected_keys.contains(&key(a)))
                    .cloned()
                    .collect();
                detail.missing_apis = expected
                    .iter()
                    .filter(|a| !returned_keys.contains(&key(a)))
                    .cloned()
                    .collect();
                detail.response_apis = returned;
                if !detail.unexpected_apis.is_empty() {
                    state = State::DoneUnexpected;
                }
            }
            Removed {
                entry,
                state,
                detail,
                error: None,
            }
        }
        Err(error) => {
            let state = reconcile(client, &entry.intent).await;
            detail.reconciled = true;
            let repoint = entry.intent.target.is_some();
            detail.reason = Some(match state {
                Some(State::Done | State::DoneUnexpected) if repoint => {
                    format!("{error}; but the grant has the new target")
                }
                Some(_) if repoint => format!("{error}; the grant still has its old target"),
                Some(State::Done) => format!("{error}; but the grant is gone"),
                Some(_) => format!("{error}; the grant is still there"),
                None => format!("{error}; reading the grant back failed too"),
            });
            Removed {
                entry,
                state: state.unwrap_or(State::Pending),
                detail,
                error: Some(error),
            }
        }
    }
}

/// Names a returned (API, group, stage id) with the stage names the walk saw.
fn name_stage(inventory: &Inventory, api_id: String, group_id: String, stage_id: &str) -> ApiStage {
    let stage = inventory
        .groups
        .iter()
        .flat_map(|g| g.stages.iter())
        .find(|s| s.id == stage_id)
        .map(|s| s.stage.as_str().to_owned())
        .unwrap_or_else(|| stage_id.to_owned());
    let api_name = inventory
        .deployments
        .iter()
        .map(|d| &d.api)
        .chain(inventory.drafts.iter().map(|d| &d.api))
        .find(|a| a.api_id.as_str() == api_id)
        .map(|a| a.api_name.clone())
        .unwrap_or_default();
    ApiStage {
        api_id,
        api_name,
        group_id,
        stage,
    }
}

/// Reads the live account to decide a `pending` entry: [`reconcile_removal`] for a removal,
/// [`reconcile_repoint`] for a repoint.
pub async fn reconcile(client: &Client, intent: &Intent) -> Option<State> {
    match &intent.target {
        Some(target) => reconcile_repoint(client, &intent.grant, target).await,
        None => reconcile_removal(client, &intent.grant).await,
    }
}

/// Reads where the grant of a repoint points: `not-removed` (not moved) on its old tuple;
/// on the new one `done-unexpected` (moved, its users not verified: the task was never
/// followed); `None` when the read failed or the grant has neither (the entry stays `pending`).
pub async fn reconcile_repoint(
    client: &Client,
    grant: &GrantRecord,
    target: &Target,
) -> Option<State> {
    let listed = client
        .pages(DescribeVpcAccesses::by_name(&grant.name))
        .await
        .ok()?;
    let live = listed.iter().find(|g| g.name == grant.name)?;
    if target.is(&live.vpc_id, &live.instance_id, live.port) {
        Some(State::DoneUnexpected)
    } else if Target::of(grant).is(&live.vpc_id, &live.instance_id, live.port) {
        Some(State::NotRemoved)
    } else {
        None
    }
}

/// Reads whether a grant's tuple is still listed: `done` when gone, `not-removed` when
/// present, `None` when the read failed (the entry stays `pending`).
pub async fn reconcile_removal(client: &Client, grant: &GrantRecord) -> Option<State> {
    let listed = client
        .pages(DescribeVpcAccesses::by_tuple(
            &grant.vpc_id,
            &grant.instance_id,
            grant.port,
        ))
        .await
        .ok()?;
    Some(if listed.is_empty() {
        State::Done
    } else {
        State::NotRemoved
    })
}

/// Step 7 for the asynchronous actions (`--abolish-apis`, `repoint`): follows the call's
/// operation ([`follow`]); the per-API results land in the outcome's detail (`abolished` or
/// `updated`), a timeout in `timed_out`.
pub async fn follow_task(
    client: &Client,
    removed: &mut Removed,
    timeout: Duration,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(), CallError> {
    let Some(operation) = removed.detail.operation_id.clone() else {
        return Ok(());
    };
    let action = removed.entry.intent.action;
    let followed = follow(client, action, &operation, timeout, progress).await?;
    removed.detail.timed_out = followed.timed_out;
    match action {
        Action::ModifyVpcAccessAndUpdateApis => removed.detail.updated = followed.results,
        _ => removed.detail.abolished = followed.results,
    }
    Ok(())
}

/// What following an operation saw last.
#[derive(Debug, Clone, Default)]
pub struct Followed {
    /// Per-API results; a status that is not final says grantguard stopped waiting.
    pub results: Vec<ApiTaskResult>,
    /// Not every API was final when `timeout` passed.
    pub timed_out: bool,
}

/// Polls the task that follows `action` (DescribeAbolishApiTask, DescribeUpdateVpcInfoTask)
/// for `operation` until every API has a final status or `timeout` passes, backing off from
/// 100 ms to 2 s between polls. Unknown statuses mean "not finished".
pub async fn follow(
    client: &Client,
    action: Action,
    operation: &str,
    timeout: Duration,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Followed, CallError> {
    let started = Instant::now();
    let mut wait = Duration::from_millis(100);
    loop {
        let results = poll_task(client, action, operation).await?;
        let finished = results.iter().filter(|r| is_final(&r.status)).count();
        progress(finished, results.len());
        let timed_out = finished < results.len() && started.elapsed() >= timeout;
        if finished == results.len() || timed_out {
            let results = results
                .into_iter()
                .map(|mut r| {
                    if !is_final(&r.status) {
                        r.status = format!(
                            "{} (still running when grantguard stopped waiting)",
                            r.status
                        );
                    }
                    r
                })
                .collect();
            return Ok(Followed { results, timed_out });
        }
        tokio::time::sleep(wait.min(timeout.saturating_sub(started.elapsed()))).await;
        wait = (wait * 2).min(Duration::from_secs(2));
    }
}

/// One poll of the task that follows `action`, as per-API results.
async fn poll_task(
    client: &Client,
    action: Action,
    operation: &str,
) -> Result<Vec<ApiTaskResult>, CallError> {
    let result = |api_uid, api_name, group_id, stage_name, status, error| ApiTaskResult {
        api: ApiStage {
            api_id: api_uid,
            api_name,
            group_id,
            stage: stage_name,
        },
        status,
        error,
    };
    let operation_uid = operation.to_owned();
    Ok(match action {
        Action::RemoveVpcAccess => Vec::new(),
        Action::RemoveVpcAccessAndAbolishApis => client
            .read(&DescribeAbolishApiTask { operation_uid })
            .await?
            .api_abolish_results
            .items
            .into_iter()
            .map(|r| {
                result(
                    r.api_uid,
                    r.api_name,
                    r.group_id,
                    r.stage_name,
                    r.abolish_status,
                    r.error_msg,
                )
            })
            .collect(),
        Action::ModifyVpcAccessAndUpdateApis => client
            .read(&DescribeUpdateVpcInfoTask { operation_uid })
            .await?
            .api_update_vpc_info_results
            .items
            .into_iter()
            .map(|r| {
                result(
                    r.api_uid,
                    r.api_name,
                    r.group_id,
                    r.stage_name,
                    r.update_status,
                    r.error_msg,
                )
            })
            .collect(),
    })
}

/// Whether a task status is final.
pub fn is_final(status: &str) -> bool {
    // The vocabulary is undocumented (docs/cloudapi-notes.md §3.15a): only these count as finished.
    matches!(
        status.to_ascii_uppercase().as_str(),
        "SUCCESS" | "SUCCEED" | "SUCCEEDED" | "FAILED" | "FAIL" | "FAILURE" | "ERROR"
    )
}

/// Step 8: what the journal now says about the removal.
#[derive(Debug)]
pub struct Finished {
    /// Entry id.
    pub id: String,
    /// The grant.
    pub grant: GrantRecord,
    /// The outcome.
    pub state: State,
    /// Its detail.
    pub detail: Detail,
    /// The call's error, when it failed.
    pub error: Option<CallError>,
    /// The mutating call that was sent.
    pub call: Call,
    /// The fresh audit's verdict and digest the removal acted on.
    pub verdict: String,
    /// The fresh audit's digest for the grant.
    pub digest: String,
    /// The fresh audit's findings for the grant.
    pub findings: Vec<Finding>,
    /// The (API, stage) pairs the audit predicted.
    pub predicted: Vec<ApiStage>,
    /// `--force --reason`, when given.
    pub forced: Option<Override>,
    /// The warnings `--accept-warnings` accepted.
    pub accepted_warnings: Vec<OverriddenFinding>,
    /// A repoint's new target.
    pub target: Option<Target>,
    /// A repoint's live users.
    pub live_users: Vec<LiveUser>,
}

impl Removed {
    /// The call's OperationId, for the asynchronous actions that answered.
    pub fn operation_id(&self) -> Option<&str> {
        self.detail.operation_id.as_deref()
    }

    /// Whether the grant was changed (or read back changed): the outcome is `done` or
    /// `done-unexpected`.
    pub fn changed(&self) -> bool {
        matches!(self.state, State::Done | State::DoneUnexpected)
    }

    /// A repoint's live users, as journaled before the call.
    pub fn live_users(&self) -> &[LiveUser] {
        &self.entry.intent.live_users
    }

    /// A repoint's new target.
    pub fn target(&self) -> Option<&Target> {
        self.entry.intent.target.as_ref()
    }

    /// Per-API results of the followed task.
    pub fn task_results(&self) -> &[ApiTaskResult] {
        &self.detail.updated
    }

    /// Whether the task was still running when grantguard stopped waiting.
    pub fn timed_out(&self) -> bool {
        self.detail.timed_out
    }

    /// Records a repoint's checks: the grant moved, so the outcome is `done` when every live
    /// user is on the new target and `done-unexpected` otherwise (the report says who).
    pub fn record_checks(&mut self, checks: Vec<Check>) {
        let all = checks.iter().all(|c| c.result == CheckResult::Updated);
        if self.changed() {
            self.state = if all && !self.detail.timed_out {
                State::Done
            } else {
                State::DoneUnexpected
            };
        }
        if self.detail.timed_out && self.detail.reason.is_none() {
            self.detail.reason = Some(format!(
                "{} did not report every API final before grantguard stopped waiting",
                self.entry.intent.action.task().unwrap_or("the task")
            ));
        }
        self.detail.checks = checks;
    }
}

/// Step 8: appends the outcome (`done`, `done-unexpected`, `not-removed`); an outcome that
/// could not be decided leaves the entry `pending` for `grantguard journal`.
pub fn finish(journal: &mut Journal, removed: Removed) -> Result<Finished, RemovalError> {
    let Removed {
        entry,
        state,
        detail,
        error,
    } = removed;
    if state != State::Pending {
        journal.append(&Record::outcome(&entry.id, state, detail.clone()))?;
    }
    let JournalEntry {
        id,
        intent,
        confirmed,
    } = entry;
    let grant_report = confirmed.cleared.audited.grant_report;
    Ok(Finished {
        id,
        call: mutating_call(intent.action, &grant_report.grant, intent.target.as_ref()),
        grant: intent.grant,
        state,
        detail,
        error,
        verdict: intent.verdict,
        digest: intent.digest,
        findings: grant_report.findings,
        predicted: intent.predicted,
        forced: intent.forced,
        accepted_warnings: intent.accepted_warnings,
        target: intent.target,
        live_users: intent.live_users,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::inventory::testing::{
        self, api, backend, deployment, draft, gap, grant, vpc_by_name,
    };
    use crate::inventory::Route;
    use crate::rules::Catalog;

    /// The audit of grant `apv-9` (`spare`) in `inventory`.
    fn judged(inventory: &Inventory) -> Option<GrantReport> {
        let selector = Selector::Id("apv-9".into());
        let report = crate::rules::audit(
            inventory,
            &Default::default(),
            Some(&selector),
            &Config::default(),
            &Catalog::builtin(),
        );
        report.grants.into_iter().next()
    }

    /// The test account plus a grant `spare` that only an idle PRE backend model uses (GG105).
    fn account() -> Inventory {
        let mut inventory = testing::account();
        inventory.grants.push(grant("apv-9", "spare", 9100));
        inventory
            .backends
            .push(backend("be-1", &[(Stage::Pre, "spare")]));
        inventory
    }

    fn found(before: &Inventory, after: &Inventory) -> Found {
        let audited = judged(before).expect("audited");
        compare(&audited, before, judged(after).as_ref(), after)
    }

    #[test]
    fn the_same_account_finds_nothing() {
        let before = account();
        assert!(found(&before, &before.clone()).is_empty());
    }

    #[test]
    fn a_deployment_through_the_idle_backend_is_a_new_user_with_its_stage() {
        let before = account();
        let mut after = before.clone();
        let user = api("api-2", "newOnSpare", "GET", "/new");
        after.deployments.push(deployment(
            user,
            Stage::Pre,
            Route::Backend {
                backend_id: "be-1".into(),
            },
        ));
        let found = found(&before, &after);
        assert!(
            found.findings.iter().any(|f| f.rule == RuleId::GG102),
            "{found:?}"
        );
        assert_eq!(found.apis.len(), 1, "{found:?}");
        assert_eq!(found.apis[0].stage, "PRE");
        assert!(
            found.describe().contains("newOnSpare"),
            "{}",
            found.describe()
        );
    }

    #[test]
    fn a_new_draft_is_new_even_at_warn() {
        let before = account();
        let mut after = before.clone();
        after.drafts.push(draft("api-3", vpc_by_name("spare")));
        let found = found(&before, &after);
        assert_eq!(found.findings.len(), 1, "{found:?}");
        assert_eq!(found.findings[0].rule, RuleId::GG103);
        assert!(found.apis.is_empty(), "a draft has no stage");
    }

    #[test]
    fn a_new_gap_is_unread_but_a_known_one_is_not() {
        let mut before = account();
        before.gaps.push(gap(Some("apv-9")));
        let mut after = before.clone();
        // Same scope, action and code, another message (a retried read's RequestId differs).
        after.gaps[0].message = "another request id".into();
        assert!(found(&before, &after).unread.is_empty());
        let mut other = gap(None);
        other.scope = "backend:be-7".into();
        after.gaps.push(other);
        let found = found(&before, &after);
        assert_eq!(found.unread.len(), 1, "{found:?}");
        assert!(found.unread[0].contains("backend:be-7"));
        assert!(found.describe().contains("could not read"));
    }

    #[test]
    fn a_gap_narrowed_to_another_grant_does_not_concern_this_one() {
        let before = account();
        let mut after = before.clone();
        after.gaps.push(gap(Some("apv-1")));
        assert!(found(&before, &after).is_empty());
    }

    #[test]
    fn a_grant_gone_or_replaced_is_a_grant_problem() {
        let before = account();
        let mut gone = before.clone();
        gone.grants.retain(|g| g.id.as_str() != "apv-9");
        let problem = found(&before, &gone).grant_problem.unwrap();
        assert!(problem.contains("no longer listed"), "{problem}");

        let mut replaced = gone.clone();
        replaced.grants.push(grant("apv-10", "spare-new", 9100));
        let problem = found(&before, &replaced).grant_problem.unwrap();
        assert!(
            problem.contains("now belongs to grant spare-new"),
            "{problem}"
        );
    }

    #[test]
    fn a_second_grant_on_the_tuple_is_a_grant_problem() {
        let before = account();
        let mut after = before.clone();
        after.grants.push(grant("apv-11", "twin", 9100));
        let problem = found(&before, &after).grant_problem.unwrap();
        assert!(problem.contains("matches 2 grants"), "{problem}");
    }
}

//! The removal's re-check sees every kind of user the audit sees (docs/fault-model.md R9c): a user that
//! appears after the `pending` record, through a backend, a backend model, a direct publish, a
//! draft or a redeployed version, stops the removal, for `remove` and `remove --all-safe`.
//! Witnesses: the emulator's call log (no RemoveVpcAccess for the grant), the exit code and
//! the journal (`not-removed` with the reason).

mod common;

use common::*;
use grantguard_sim::faults::{FailRule, Faults};
use grantguard_sim::fixture::{BackendRoute, BackendVpc, Deployment, Route, VpcRoute};
use grantguard_sim::Account;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

const FIXTURE: &str = "recheck-account.json";
/// Used only by spare-backend's PRE model: safe with GG105.
const IDLE_MODEL: &str = "spare-9100";
/// Nothing uses it: clean.
const CLEAN: &str = "target-7000";
/// Only an offline RELEASE version of legacyApi uses it: safe with GG104.
const ROLLBACK: &str = "rollback-7100";

/// A change someone makes to the account while grantguard is between its `pending` record and
/// the removal.
type Change = fn(&mut Account);

/// Runs `change` once, on the first call the re-check of `grant` makes: the first
/// DescribeVpcAccesses served after the journal holds a `pending` record for `grant`. The audit's
/// calls come before any record exists, so the change is exactly "after the pending record,
/// before the call".
fn after_pending(
    sim: &TestSim,
    journal: PathBuf,
    grant: &'static str,
    change: Change,
) -> Arc<AtomicBool> {
    let fired = Arc::new(AtomicBool::new(false));
    let flag = fired.clone();
    sim.before("DescribeVpcAccesses", move |_, account| {
        if flag.load(Ordering::SeqCst) || last_pending(&journal).as_deref() != Some(grant) {
            return;
        }
        flag.store(true, Ordering::SeqCst);
        change(account);
    });
    fired
}

/// The grant name of the journal's last record when that record is `pending`.
fn last_pending(journal: &Path) -> Option<String> {
    let records = journal_records(journal);
    let last = records.last()?;
    (last["state"] == "pending")
        .then(|| last["intent"]["grant"]["Name"].as_str().map(str::to_owned))?
}

/// The fixture's grant names end with their port (and a removed grant is no longer in the
/// emulator's state to look up).
fn port_of(grant: &str) -> &str {
    grant.rsplit('-').next().unwrap()
}

/// The Port of every removal call the emulator serves from now on (calls address a grant by
/// its tuple; the ports in the fixture are distinct).
fn watch_removals(sim: &TestSim) -> Arc<Mutex<Vec<String>>> {
    let ports = Arc::new(Mutex::new(Vec::new()));
    for action in ["RemoveVpcAccess", "RemoveVpcAccessAndAbolishApis"] {
        let ports = ports.clone();
        sim.before(action, move |call, _| {
            ports
                .lock()
                .unwrap()
                .push(call.param("Port").unwrap_or_default().to_owned());
        });
    }
    ports
}

/// How many removal calls named `grant`'s port.
fn removals_of(ports: &Mutex<Vec<String>>, grant: &str) -> usize {
    ports
        .lock()
        .unwrap()
        .iter()
        .filter(|p| p.as_str() == port_of(grant))
        .count()
}

fn remove(sim: &TestSim, home: &Home, args: &[&str]) -> std::process::Output {
    grantguard(sim, home)
        .arg("remove")
        .args(args)
        .arg("--journal")
        .arg(home.journal())
        .output()
        .unwrap()
}

/// The journal's outcome records for `grant`'s entries.
fn outcomes_of(journal: &Path, grant: &str) -> Vec<Value> {
    let records = journal_records(journal);
    let ids: Vec<&Value> = records
        .iter()
        .filter(|r| r["intent"]["grant"]["Name"] == grant)
        .map(|r| &r["id"])
        .collect();
    records
        .iter()
        .filter(|r| r["state"] != "pending" && ids.contains(&&r["id"]))
        .cloned()
        .collect()
}

fn grant_vpc(account: &Account, name: &str) -> BackendVpc {
    let g = account.grant_named(name).unwrap();
    BackendVpc {
        vpc_access_id: Some(g.vpc_access_id.clone()),
        name: Some(g.name.clone()),
        vpc_id: Some(g.vpc_id.clone()),
        instance_id: Some(g.instance_id.clone()),
        port: Some(g.port),
        vpc_scheme: "HTTP".into(),
        vpc_target_host_name: String::new(),
    }
}

fn vpc_route(account: &Account, name: &str) -> Route {
    let g = account.grant_named(name).unwrap();
    Route::Vpc(VpcRoute {
        name: Some(g.name.clone()),
        vpc_id: Some(g.vpc_id.clone()),
        instance_id: Some(g.instance_id.clone()),
        port: Some(g.port),
        enabled: true,
    })
}

/// (1) An API using spare-backend is published to PRE, whose model routes through spare-9100.
fn publish_on_the_idle_backend(account: &mut Account) {
    let id = account.add_api(
        "shop",
        "newOnSpare",
        Route::Backend(BackendRoute {
            id: "spare-backend".into(),
        }),
    );
    account.publish(&id, "PRE", None, "2024-06-01T00:00:00Z");
}

/// (2) busy-backend's RELEASE model, which busyApi uses live, is re-pointed at target-7000.
fn repoint_the_busy_backend(account: &mut Account) {
    let vpc = grant_vpc(account, CLEAN);
    let backend = account
        .backends
        .iter_mut()
        .find(|b| b.name == "busy-backend")
        .unwrap();
    backend.modified_time = "2024-06-01T00:00:00Z".into();
    let model = backend
        .models
        .iter_mut()
        .find(|m| m.stage == "RELEASE")
        .unwrap();
    model.vpc = Some(vpc);
    model.modified_time = "2024-06-01T00:00:00Z".into();
}

/// (3) A new API is published straight to PRE with a VpcConfig on target-7000.
fn publish_directly_in_pre(account: &mut Account) {
    let route = vpc_route(account, CLEAN);
    let id = account.add_api("shop", "directPre", route);
    account.publish(&id, "PRE", None, "2024-06-01T00:00:00Z");
}

/// (4) plainApi's draft is edited to route through target-7000 (not published).
fn edit_a_draft(account: &mut Account) {
    let route = vpc_route(account, CLEAN);
    let api = account
        .apis
        .iter_mut()
        .find(|a| a.name == "plainApi")
        .unwrap();
    api.route = route;
    api.modified_time = "2024-06-01T00:00:00Z".into();
}

/// (5) legacyApi's old RELEASE version, which routed through rollback-7100, is redeployed.
fn redeploy_an_old_version(account: &mut Account) {
    let api = account
        .apis
        .iter()
        .find(|a| a.name == "legacyApi")
        .unwrap()
        .id
        .clone();
    let old = account
        .history
        .iter()
        .find(|h| h.api == api && h.version == "20240301000000000")
        .unwrap()
        .clone();
    let live = account
        .deployments
        .iter()
        .position(|d| d.api == api && d.stage == "RELEASE")
        .unwrap();
    let retired = account.deployments.remove(live);
    account.history.push(grantguard_sim::fixture::HistoryEntry {
        api: retired.api,
        stage: retired.stage,
        version: retired.version,
        deployed_time: retired.deployed_time,
        route: retired.route,
    });
    account.history.retain(|h| h.version != old.version);
    account.deployments.push(Deployment {
        api,
        stage: "RELEASE".into(),
        deployed_time: "2024-06-01T00:00:00Z".into(),
        version: old.version,
        route: old.route,
    });
}

/// One kind of new user: which grant it lands on, what it takes to clear that grant, what
/// the re-check must name.
struct Case {
    grant: &'static str,
    accept_warnings: bool,
    change: Change,
    names: &'static [&'static str],
}

const CASES: [Case; 5] = [
    Case {
        grant: IDLE_MODEL,
        accept_warnings: true,
        change: publish_on_the_idle_backend,
        names: &["GG102", "newOnSpare", "PRE"],
    },
    Case {
        grant: CLEAN,
        accept_warnings: false,
        change: repoint_the_busy_backend,
        names: &["GG102", "busyApi", "RELEASE"],
    },
    Case {
        grant: CLEAN,
        accept_warnings: false,
        change: publish_directly_in_pre,
        names: &["GG101", "directPre", "PRE"],
    },
    Case {
        grant: CLEAN,
        accept_warnings: false,
        change: edit_a_draft,
        names: &["GG103", "plainApi"],
    },
    Case {
        grant: ROLLBACK,
        accept_warnings: true,
        change: redeploy_an_old_version,
        names: &["GG101", "legacyApi", "RELEASE"],
    },
];

fn check_aborted(
    sim: &TestSim,
    home: &Home,
    case: &Case,
    ports: &Mutex<Vec<String>>,
    out: &std::process::Output,
) {
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}\n{}",
        stdout(out),
        stderr(out)
    );
    assert_eq!(removals_of(ports, case.grant), 0);
    let text = stdout(out);
    for name in case.names {
        assert!(text.contains(name), "{name} not named:\n{text}");
    }
    let outcomes = outcomes_of(&home.journal(), case.grant);
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    let outcome = &outcomes[0];
    assert_eq!(outcome["state"], "not-removed", "{outcome}");
    let reason = outcome["detail"]["reason"].as_str().unwrap();
    assert!(reason.contains("re-check"), "{reason}");
    for name in case.names {
        assert!(
            reason.contains(name),
            "{name} not in the journal's reason: {reason}"
        );
    }
    assert!(outcome["detail"]["recheck"]["calls"].as_u64().unwrap() > 0);
    assert!(sim.state().has_grant_named(case.grant));
}

#[test]
fn each_kind_of_new_user_after_the_pending_record_stops_remove() {
    for case in &CASES {
        let sim = start(FIXTURE);
        let home = Home::new();
        let ports = watch_removals(&sim);
        let fired = after_pending(&sim, home.journal(), case.grant, case.change);
        let mut args = vec!["--name", case.grant, "--yes"];
        if case.accept_warnings {
            args.push("--accept-warnings");
        }
        let out = remove(&sim, &home, &args);
        assert!(fired.load(Ordering::SeqCst), "the change was never made");
        check_aborted(&sim, &home, case, &ports, &out);
    }
}

#[test]
fn each_kind_of_new_user_after_the_pending_record_stops_all_safe() {
    for case in &CASES {
        let sim = start(FIXTURE);
        let home = Home::new();
        let ports = watch_removals(&sim);
        let fired = after_pending(&sim, home.journal(), case.grant, case.change);
        let mut args = vec!["--all-safe", "--yes"];
        if case.accept_warnings {
            args.push("--accept-warnings");
        }
        let out = remove(&sim, &home, &args);
        assert!(fired.load(Ordering::SeqCst), "the change was never made");
        check_aborted(&sim, &home, case, &ports, &out);
        // The batch stopped there: nothing after the aborted grant was attempted.
        assert!(
            stdout(&out).contains("not attempted") || case.grant == CLEAN,
            "{}",
            stdout(&out)
        );
    }
}

#[test]
fn without_a_change_the_recheck_passes_and_reports_its_cost_and_window() {
    let sim = start(FIXTURE);
    let home = Home::new();
    let ports = watch_removals(&sim);
    let out = remove(&sim, &home, &["--name", CLEAN, "--yes", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let document = json(&out);
    let g = &document["grants"][0];
    assert_eq!(g["outcome"], "done");
    assert!(g["recheck"]["calls"].as_u64().unwrap() > 0, "{g}");
    assert!(g["recheck_window_ms"].as_f64().unwrap() > 0.0, "{g}");
    assert!(g["appeared_findings"].as_array().unwrap().is_empty());
    assert_eq!(removals_of(&ports, CLEAN), 1);
}

/// A backend created after the pending record whose DescribeBackendInfo is refused.
const LATE_BACKEND: &str = "0123456789abcdef0123456789abcdef";

fn create_an_unreadable_backend(account: &mut Account) {
    let mut backend = account.backends[0].clone();
    backend.id = LATE_BACKEND.into();
    backend.name = "late-backend".into();
    account.backends.push(backend);
}

#[test]
fn a_read_the_recheck_cannot_make_aborts_even_under_force() {
    let sim = faulted(
        FIXTURE,
        Faults {
            fail: vec![FailRule {
                action: "DescribeBackendInfo".into(),
                scope: Some(LATE_BACKEND.into()),
                code: "Forbidden.RAM".into(),
            }],
            ..Faults::default()
        },
    );
    let home = Home::new();
    let ports = watch_removals(&sim);
    let fired = after_pending(&sim, home.journal(), CLEAN, create_an_unreadable_backend);
    let out = remove(
        &sim,
        &home,
        &["--name", CLEAN, "--yes", "--force", "--reason", "test"],
    );
    assert!(fired.load(Ordering::SeqCst));
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(removals_of(&ports, CLEAN), 0);
    let outcomes = outcomes_of(&home.journal(), CLEAN);
    assert_eq!(outcomes[0]["state"], "not-removed");
    let reason = outcomes[0]["detail"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("could not read") && reason.contains(LATE_BACKEND),
        "{reason}"
    );
}

#[test]
fn force_proceeds_past_a_new_user_and_journals_it() {
    let sim = start(FIXTURE);
    let home = Home::new();
    let ports = watch_removals(&sim);
    let fired = after_pending(&sim, home.journal(), CLEAN, publish_directly_in_pre);
    let out = remove(
        &sim,
        &home,
        &[
            "--name",
            CLEAN,
            "--yes",
            "--force",
            "--reason",
            "retiring it anyway",
        ],
    );
    assert!(fired.load(Ordering::SeqCst));
    assert_eq!(removals_of(&ports, CLEAN), 1);
    let outcomes = outcomes_of(&home.journal(), CLEAN);
    let detail = &outcomes[0]["detail"];
    let appeared = detail["appeared_findings"].as_array().unwrap();
    assert!(
        appeared
            .iter()
            .any(|f| f["rule"] == "GG101" && f["message"].as_str().unwrap().contains("directPre")),
        "{detail}"
    );
    assert_eq!(detail["appeared"][0]["stage"], "PRE", "{detail}");
    // The service named directPre, which the re-check had found: not unexpected.
    assert_eq!(outcomes[0]["state"], "done", "{}", stdout(&out));
}

//! Guarded removal through the real binary against the emulator; the emulator's call log and
//! account state are the witnesses (issue 4; docs/fault-model.md R8, R9, R10, A9, A11, A13).

mod common;

use common::*;
use grantguard_sim::fixture::{Route, VpcRoute};
use grantguard_sim::{Account, Fixture, SimOptions};
use serde_json::Value;
use std::sync::mpsc;
use std::time::Duration;

const SAFE: &str = "legacy-unused-443";
const BLOCKED: &str = "orders-slb-80";
const MUTATING: [&str; 3] = [
    "RemoveVpcAccess",
    "RemoveVpcAccessAndAbolishApis",
    "SetVpcAccess",
];

fn mutations(sim: &TestSim) -> usize {
    MUTATING.iter().map(|a| sim.calls(a)).sum()
}

fn remove(sim: &TestSim, home: &Home, args: &[&str]) -> std::process::Output {
    let journal = home.journal();
    grantguard(sim, home)
        .arg("remove")
        .args(args)
        .arg("--journal")
        .arg(&journal)
        .output()
        .unwrap()
}

fn run(sim: &TestSim, home: &Home, args: &[&str]) -> std::process::Output {
    grantguard(sim, home)
        .args(args)
        .arg("--journal")
        .arg(home.journal())
        .output()
        .unwrap()
}

/// The binary as a plain `std::process::Command` (for spawning, killing and pseudo-terminals),
/// with the same environment as the harness's `grantguard`.
fn std_command(sim: &TestSim, home: &Home) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_grantguard"));
    let (id, secret, _) = credential(sim);
    cmd.env_clear()
        .env("HOME", home.path())
        .env("NO_COLOR", "1")
        .env("GRANTGUARD_QPS", "0")
        // Never let the credential chain reach the real metadata address from a test.
        .env("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", id)
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", secret)
        .env("ALIBABA_CLOUD_REGION_ID", "cn-hangzhou")
        .env("GRANTGUARD_ENDPOINT", sim.url())
        .current_dir(home.path());
    cmd
}

/// Makes the `nth` served call of `action` for `VpcName == name` wait until the returned
/// sender is used (or dropped): the test then knows exactly where the child process is.
fn pause_at(
    sim: &TestSim,
    action: &str,
    name: &'static str,
    nth: usize,
    after: bool,
) -> (mpsc::Receiver<()>, mpsc::Sender<()>) {
    let (arrived_tx, arrived_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let mut seen = 0;
    let hook = move |call: &grantguard_sim::HookCall, _: &mut Account| {
        let about_it = call.param("VpcName") == Some(name)
            || call.param("Port") == Some("443") && call.action.starts_with("Remove");
        if !about_it {
            return;
        }
        seen += 1;
        if seen == nth {
            let _ = arrived_tx.send(());
            let _ = release_rx.recv_timeout(Duration::from_secs(20));
        }
    };
    if after {
        sim.after(action, hook);
    } else {
        sim.before(action, hook);
    }
    (arrived_rx, release_tx)
}

#[test]
fn a_safe_grant_is_removed_journaled_and_restored() {
    let sim = start("basic-account.json");
    let home = Home::new();
    let before = sim.state().grant_named(SAFE).unwrap().clone();
    let out = remove(&sim, &home, &["--name", SAFE, "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!sim.state().has_grant_named(SAFE));
    assert_eq!(sim.calls("RemoveVpcAccess"), 1);
    let journal = home.journal();
    assert_eq!(journal_states(&journal), ["pending", "done"]);
    let grant = &journal_records(&journal)[0]["intent"]["grant"];
    assert_eq!(grant["Name"], SAFE);
    assert_eq!(grant["VpcId"], before.vpc_id.as_str());
    assert_eq!(grant["InstanceId"], before.instance_id.as_str());
    assert_eq!(grant["Port"], before.port);
    assert_eq!(grant["Description"], before.description.as_str());
    assert_eq!(grant["VpcTargetHostName"], "");
    assert_eq!(grant["VpcAccessId"], before.vpc_access_id.as_str());
    assert_eq!(grant["Region"], "cn-hangzhou");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&journal).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    // I3: the mutating call came after the pending record and after the re-check, which is a
    // re-walk (the grant list, groups, backends and the index read again), not an index probe.
    let log = sim.log();
    let removal = log
        .iter()
        .position(|r| r.action == "RemoveVpcAccess")
        .unwrap();
    let before_removal =
        |action: &str| log[..removal].iter().filter(|r| r.action == action).count();
    // Resolve, audit, re-check.
    assert_eq!(before_removal("DescribeVpcAccesses"), 3);
    assert_eq!(before_removal("DescribeApiGroups"), 2);
    assert_eq!(before_removal("DescribeBackendList"), 2);
    let done = &journal_records(&journal)[1]["detail"];
    assert!(done["recheck"]["calls"].as_u64().unwrap() > 0, "{done}");
    assert!(done["recheck_window_ms"].as_f64().unwrap() > 0.0, "{done}");
    let text = stdout(&out);
    assert!(
        text.contains("re-check end → RemoveVpcAccess answer"),
        "{text}"
    );
    assert!(text.contains("re-check: "), "{text}");

    let restored = run(&sim, &home, &["restore"]);
    assert_eq!(restored.status.code(), Some(0), "{}", stderr(&restored));
    let after = sim.state().grant_named(SAFE).unwrap().clone();
    assert_eq!(
        (
            &after.vpc_id,
            &after.instance_id,
            after.port,
            &after.description
        ),
        (
            &before.vpc_id,
            &before.instance_id,
            before.port,
            &before.description
        )
    );
    assert_ne!(
        after.vpc_access_id, before.vpc_access_id,
        "a restore gets a new id"
    );
    let last = journal_records(&journal).last().unwrap().clone();
    assert_eq!(last["state"], "restored");
    assert_eq!(
        last["detail"]["vpc_access_id"],
        after.vpc_access_id.as_str()
    );

    // A13: restoring what exists is a no-op, not a second SetVpcAccess.
    let again = run(&sim, &home, &["restore"]);
    assert_eq!(again.status.code(), Some(0));
    assert!(stdout(&again).contains("already exists"));
    assert_eq!(sim.calls("SetVpcAccess"), 1);
    let text = std::fs::read_to_string(&journal).unwrap();
    assert_no_secret(
        &sim,
        &[&stdout(&out), &stderr(&out), &stdout(&restored), &text],
    );
}

#[test]
fn a_blocked_grant_is_refused_with_no_mutating_call() {
    let sim = start("basic-account.json");
    let home = Home::new();
    let out = remove(&sim, &home, &["--name", BLOCKED, "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stdout(&out).contains("GG101"));
    assert!(stdout(&out).contains("removal refused"));
    assert_eq!(mutations(&sim), 0);
    assert!(sim.state().has_grant_named(BLOCKED));
    assert!(journal_records(&home.journal()).is_empty());
}

#[test]
fn force_without_reason_is_a_usage_error() {
    let sim = start("basic-account.json");
    let home = Home::new();
    let out = remove(&sim, &home, &["--name", BLOCKED, "--yes", "--force"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--reason"));
    assert!(sim.log().is_empty(), "no call at all");
}

#[test]
fn a_dry_run_prints_the_exact_call_and_mutates_nothing() {
    let sim = start("basic-account.json");
    let home = Home::new();
    let out = remove(&sim, &home, &["--name", SAFE, "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("RemoveVpcAccess InstanceId=i-bp1legacy000000000xxx Port=443 VpcId=vpc-bp1legacy00000000xxx"),
        "{text}"
    );
    assert_eq!(mutations(&sim), 0);
    assert!(!home.journal().exists(), "a dry run writes no journal");
}

#[test]
fn without_a_terminal_yes_is_required() {
    let sim = start("basic-account.json");
    let home = Home::new();
    let out = remove(&sim, &home, &["--name", SAFE]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    assert_eq!(mutations(&sim), 0);
}

#[test]
fn an_ambiguous_selector_is_refused_without_a_prompt() {
    let fixture = Fixture::from_json(
        r#"{"credentials": [{"access_key_id": "LTAI5tTestAccessKeyId", "access_key_secret": "TestSecretKeyValue0123456789abc"}],
            "grants": [{"name": "svc", "vpc_id": "vpc-1", "instance_id": "i-1", "port": 80},
                       {"name": "svc", "vpc_id": "vpc-1", "instance_id": "i-1", "port": 81}]}"#,
    )
    .unwrap();
    let sim = start_with(fixture, SimOptions::default());
    let home = Home::new();
    let out = remove(&sim, &home, &["--name", "svc"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stdout(&out).contains("GG302"), "{}", stdout(&out));
    assert!(stdout(&out).contains("--vpc-access-id"));
    assert!(!stderr(&out).contains("Type the grant's name"));
    assert_eq!(mutations(&sim), 0);
}

#[test]
fn an_api_published_before_the_recheck_aborts_the_removal() {
    let sim = start("basic-account.json");
    let home = Home::new();
    let mut seen = 0;
    sim.before("DescribeApisByVpcAccess", move |call, account| {
        if call.param("VpcName") == Some(SAFE) {
            seen += 1;
            // The first call is the audit's; the second is the re-check's.
            if seen == 2 {
                publish_new_api(account, SAFE);
            }
        }
    });
    let out = remove(&sim, &home, &["--name", SAFE, "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("aborted") && text.contains("apiNew") && text.contains("RELEASE"),
        "{text}"
    );
    assert_eq!(mutations(&sim), 0);
    assert_eq!(journal_states(&home.journal()), ["pending", "not-removed"]);
}

#[test]
fn an_unpredicted_api_in_the_answer_is_reported_with_the_restore_command() {
    let sim = start("basic-account.json");
    let home = Home::new();
    sim.before("RemoveVpcAccess", |_, account| {
        publish_new_api(account, SAFE);
    });
    let out = remove(&sim, &home, &["--name", SAFE, "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    let new_api = sim
        .state()
        .apis
        .iter()
        .find(|a| a.name == "apiNew")
        .unwrap()
        .id
        .clone();
    assert!(
        text.contains("UNEXPECTED") && text.contains(&new_api),
        "{text}"
    );
    let journal = home.journal();
    assert_eq!(journal_states(&journal), ["pending", "done-unexpected"]);
    assert!(!journal_records(&journal)[1]["detail"]["unexpected_apis"]
        .as_array()
        .unwrap()
        .is_empty());
    // Run the printed command, exactly.
    let command = text
        .lines()
        .find_map(|l| {
            l.trim()
                .trim_start_matches("!!")
                .trim()
                .strip_prefix("grantguard restore --id ")
        })
        .expect("restore command printed")
        .to_owned();
    let restored = run(&sim, &home, &["restore", "--id", &command]);
    assert_eq!(restored.status.code(), Some(0), "{}", stderr(&restored));
    assert!(sim.state().has_grant_named(SAFE));
}

#[test]
fn a_crash_after_the_journal_write_is_reconciled_as_not_removed() {
    let sim = start("basic-account.json");
    let home = Home::new();
    let journal = home.journal();
    // The second DescribeApisByVpcAccess for the grant is the re-check, which only runs
    // after the pending record is fsync'd: kill the process while it waits there (K2).
    let (arrived, release) = pause_at(&sim, "DescribeApisByVpcAccess", SAFE, 2, false);
    let mut child = std_command(&sim, &home)
        .args(["remove", "--name", SAFE, "--yes", "--journal"])
        .arg(&journal)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    arrived
        .recv_timeout(Duration::from_secs(30))
        .expect("reached the re-check");
    child.kill().unwrap();
    child.wait().unwrap();
    drop(release);
    assert_eq!(journal_states(&journal), ["pending"]);
    assert_eq!(sim.calls("RemoveVpcAccess"), 0);

    let listed = run(&sim, &home, &["journal"]);
    assert_eq!(listed.status.code(), Some(0), "{}", stderr(&listed));
    assert!(
        stdout(&listed).contains("not-removed"),
        "{}",
        stdout(&listed)
    );
    assert_eq!(journal_states(&journal), ["pending", "not-removed"]);
    assert!(sim.state().has_grant_named(SAFE));

    // Running the removal again after the crash works, once.
    let again = remove(&sim, &home, &["--name", SAFE, "--yes"]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert_eq!(sim.calls("RemoveVpcAccess"), 1);
}

#[test]
fn a_crash_after_the_service_applied_the_removal_is_reconciled_as_done() {
    let sim = start("basic-account.json");
    let home = Home::new();
    let journal = home.journal();
    // K3: the emulator applies RemoveVpcAccess, then holds the answer while the process dies.
    let (arrived, release) = pause_at(&sim, "RemoveVpcAccess", SAFE, 1, true);
    let mut child = std_command(&sim, &home)
        .args(["remove", "--name", SAFE, "--yes", "--journal"])
        .arg(&journal)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    arrived
        .recv_timeout(Duration::from_secs(30))
        .expect("reached the removal");
    child.kill().unwrap();
    child.wait().unwrap();
    drop(release);
    assert_eq!(journal_states(&journal), ["pending"]);
    let listed = run(&sim, &home, &["journal"]);
    assert_eq!(listed.status.code(), Some(0), "{}", stderr(&listed));
    assert_eq!(journal_states(&journal), ["pending", "done"]);
    assert_eq!(sim.calls("RemoveVpcAccess"), 1);
    // I4: a done record is restorable.
    let restored = run(&sim, &home, &["restore"]);
    assert_eq!(restored.status.code(), Some(0), "{}", stderr(&restored));
    assert!(sim.state().has_grant_named(SAFE));
}

#[test]
fn a_second_concurrent_remove_exits_2_naming_the_holder() {
    let sim = start("basic-account.json");
    let home = Home::new();
    let journal = home.journal();
    let (arrived, release) = pause_at(&sim, "DescribeApisByVpcAccess", SAFE, 2, false);
    let mut first = std_command(&sim, &home)
        .args(["remove", "--name", SAFE, "--yes", "--journal"])
        .arg(&journal)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    arrived
        .recv_timeout(Duration::from_secs(30))
        .expect("first run holds the lock");
    let second = remove(&sim, &home, &["--name", SAFE, "--yes"]);
    release.send(()).unwrap();
    let status = first.wait().unwrap();
    assert_eq!(second.status.code(), Some(2));
    let err = stderr(&second);
    assert!(err.contains(&format!("pid {}", first.id())), "{err}");
    assert!(err.contains("since"), "{err}");
    assert_eq!(status.code(), Some(0));
    assert_eq!(sim.calls("RemoveVpcAccess"), 1);
}

#[test]
fn an_unwritable_journal_means_nothing_is_removed() {
    let sim = start("basic-account.json");
    let home = Home::new();
    // ENOTDIR: the journal's parent is a regular file.
    let file = home.path().join("plain-file");
    std::fs::write(&file, "x").unwrap();
    let out = grantguard(&sim, &home)
        .args(["remove", "--name", SAFE, "--yes", "--journal"])
        .arg(file.join("journal.jsonl"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("plain-file"), "{}", stderr(&out));
    assert_eq!(mutations(&sim), 0);
    assert!(sim.state().has_grant_named(SAFE));
    // A full or failing disk under the journal is tests/failpoints.rs's
    // a_journal_write_or_fsync_that_fails_means_nothing_is_removed.
}

#[test]
fn the_typed_name_confirms_on_a_terminal() {
    let sim = start("basic-account.json");
    let home = Home::new();
    let journal = home.journal();
    let mut wrong = std_command(&sim, &home);
    wrong
        .args(["remove", "--name", SAFE, "--journal"])
        .arg(&journal);
    let mut session = rexpect::session::spawn_command(wrong, Some(30_000)).unwrap();
    session.exp_string("Type the grant's name").unwrap();
    session.send_line("something-else").unwrap();
    session.exp_string("nothing was removed").unwrap();
    session.exp_eof().unwrap();
    assert_eq!(mutations(&sim), 0);

    let mut right = std_command(&sim, &home);
    right
        .args(["remove", "--name", SAFE, "--journal"])
        .arg(&journal);
    let mut session = rexpect::session::spawn_command(right, Some(30_000)).unwrap();
    session.exp_string("Type the grant's name").unwrap();
    session.send_line(SAFE).unwrap();
    session.exp_string("removed grant").unwrap();
    session.exp_eof().unwrap();
    assert!(!sim.state().has_grant_named(SAFE));
    assert_eq!(sim.calls("RemoveVpcAccess"), 1);
}

#[test]
fn all_safe_removes_safe_grants_up_to_max_and_prints_a_table() {
    let sim = start("basic-account.json");
    let home = Home::new();
    let out = remove(
        &sim,
        &home,
        &["--all-safe", "--max", "1", "--yes", "--accept-warnings"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("RESULT"), "{text}");
    assert!(text.contains("--max 1 reached"), "{text}");
    assert!(text.contains("blocked (GG101)"), "{text}");
    assert_eq!(sim.calls("RemoveVpcAccess"), 1);
    assert_eq!(sim.state().grants.len(), 4);
}

#[test]
fn all_safe_stops_at_the_first_unexpected_outcome() {
    let sim = start("basic-account.json");
    let home = Home::new();
    // legacy-unused-443 sorts first; its removal answers with an API nobody predicted.
    sim.before("RemoveVpcAccess", |call, account| {
        if call.nth == 1 {
            publish_new_api(account, SAFE);
        }
    });
    let out = remove(&sim, &home, &["--all-safe", "--yes", "--accept-warnings"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("UNEXPECTED") && text.contains("grantguard restore --id"),
        "{text}"
    );
    assert!(text.contains("not attempted"), "{text}");
    assert_eq!(sim.calls("RemoveVpcAccess"), 1);
    assert!(sim.state().has_grant_named("orders-ecs-8080"));
}

#[test]
fn abolish_needs_force_with_yes_and_reports_each_api() {
    let sim = start("basic-account.json");
    let home = Home::new();
    let refused = remove(&sim, &home, &["--name", BLOCKED, "--abolish-apis", "--yes"]);
    assert_eq!(refused.status.code(), Some(1), "blocked without --force");
    let out = remove(
        &sim,
        &home,
        &[
            "--name",
            BLOCKED,
            "--abolish-apis",
            "--yes",
            "--force",
            "--reason",
            "retiring getOrder",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("unpublished API getOrder"), "{text}");
    assert_eq!(sim.calls("RemoveVpcAccessAndAbolishApis"), 1);
    assert!(sim.calls("DescribeAbolishApiTask") >= 2);
    assert!(stderr(&out).contains("abolishing APIs"));
    let state = sim.state();
    assert!(!state.has_grant_named(BLOCKED));
    let get_order = state
        .apis
        .iter()
        .find(|a| a.name == "getOrder")
        .unwrap()
        .id
        .clone();
    assert!(!state.is_deployed(&get_order, "RELEASE"));
    let journal = journal_records(&home.journal());
    let intent = &journal[0]["intent"];
    assert_eq!(intent["action"], "RemoveVpcAccessAndAbolishApis");
    assert_eq!(intent["override"]["reason"], "retiring getOrder");
    assert_eq!(
        intent["predicted"].as_array().unwrap().len(),
        2,
        "RELEASE and TEST"
    );
}

#[test]
fn a_plan_runs_only_while_its_digest_holds() {
    let sim = start("basic-account.json");
    let home = Home::new();
    let plan = home.path().join("plan.json");
    let audit = grantguard(&sim, &home)
        .args([
            "audit",
            "--name",
            "orders-ecs-8080",
            "--format",
            "json",
            "--output",
        ])
        .arg(&plan)
        .output()
        .unwrap();
    assert_eq!(audit.status.code(), Some(0), "{}", stderr(&audit));
    // A new draft that uses the grant changes the findings (GG103 warn) but not the verdict.
    sim.mutate(|account| {
        account.add_api(
            "orders",
            "draftUser",
            Route::Vpc(VpcRoute {
                name: Some("orders-ecs-8080".into()),
                vpc_id: None,
                instance_id: None,
                port: None,
                enabled: true,
            }),
        )
    });
    let plan_arg = plan.to_str().unwrap();
    let stale = remove(
        &sim,
        &home,
        &[
            "--name",
            "orders-ecs-8080",
            "--yes",
            "--accept-warnings",
            "--plan",
            plan_arg,
        ],
    );
    assert_eq!(stale.status.code(), Some(1), "{}", stderr(&stale));
    assert!(stdout(&stale).contains("digest"), "{}", stdout(&stale));
    assert_eq!(mutations(&sim), 0);

    let fresh = grantguard(&sim, &home)
        .args([
            "audit",
            "--name",
            "orders-ecs-8080",
            "--format",
            "json",
            "--output",
        ])
        .arg(&plan)
        .output()
        .unwrap();
    assert_eq!(fresh.status.code(), Some(0));
    let ok = remove(
        &sim,
        &home,
        &[
            "--name",
            "orders-ecs-8080",
            "--yes",
            "--accept-warnings",
            "--plan",
            plan_arg,
        ],
    );
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    assert_eq!(sim.calls("RemoveVpcAccess"), 1);
}

#[test]
fn the_default_journal_lives_under_the_xdg_state_directory() {
    let sim = start("basic-account.json");
    let home = Home::new();
    let out = grantguard(&sim, &home)
        .args(["remove", "--name", SAFE, "--yes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let path = home.path().join(".local/state/grantguard/journal.jsonl");
    assert_eq!(journal_states(&path), ["pending", "done"]);
    let listed = grantguard(&sim, &home).arg("journal").output().unwrap();
    assert_eq!(listed.status.code(), Some(0));
    assert!(stdout(&listed).contains("done"));
}

fn with_faults(fail: &[&str], corrupt: &[&str]) -> TestSim {
    let faults = grantguard_sim::Faults {
        fail: fail.iter().map(|r| r.parse().unwrap()).collect(),
        corrupt: corrupt.iter().map(|r| r.parse().unwrap()).collect(),
        ..grantguard_sim::Faults::default()
    };
    start_with(
        fixture("basic-account.json"),
        SimOptions {
            faults,
            ..SimOptions::default()
        },
    )
}

#[test]
fn a_failed_removal_is_not_resent_and_reconciled_as_not_removed() {
    let sim = with_faults(&["RemoveVpcAccess=InternalError"], &[]);
    let home = Home::new();
    let out = remove(&sim, &home, &["--name", SAFE, "--yes"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("not removed"), "{}", stderr(&out));
    assert_eq!(
        sim.calls("RemoveVpcAccess"),
        1,
        "a 500 on a mutation is never resent"
    );
    assert_eq!(journal_states(&home.journal()), ["pending", "not-removed"]);
    assert!(sim.state().has_grant_named(SAFE));
}

#[test]
fn an_answer_lost_after_the_removal_is_reconciled_as_done() {
    let sim = with_faults(&[], &["RemoveVpcAccess=truncated-json"]);
    let home = Home::new();
    let out = remove(&sim, &home, &["--name", SAFE, "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(sim.calls("RemoveVpcAccess"), 1);
    let journal = home.journal();
    assert_eq!(journal_states(&journal), ["pending", "done"]);
    assert_eq!(journal_records(&journal)[1]["detail"]["reconciled"], true);
    assert!(!sim.state().has_grant_named(SAFE));
}

#[test]
fn a_failed_restore_leaves_the_removal_restorable() {
    let sim = with_faults(&["SetVpcAccess=InternalError"], &[]);
    let home = Home::new();
    let out = remove(&sim, &home, &["--name", SAFE, "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let restore = run(&sim, &home, &["restore"]);
    assert_eq!(restore.status.code(), Some(2), "{}", stderr(&restore));
    assert_eq!(sim.calls("SetVpcAccess"), 1);
    let journal = home.journal();
    assert_eq!(
        journal_states(&journal),
        ["pending", "done", "restore-pending", "restore-failed"]
    );
    let listed = run(&sim, &home, &["journal"]);
    assert!(
        stdout(&listed).contains("grantguard restore --id"),
        "{}",
        stdout(&listed)
    );
}

/// `remove ARGS --format json`, and the document it printed (stdout must be only that).
fn remove_json(sim: &TestSim, home: &Home, args: &[&str]) -> (std::process::Output, Value) {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    let out = remove(sim, home, &all);
    let document = json(&out);
    assert_eq!(document["schema"], "grantguard.removal/v1");
    (out, document)
}

/// The one grant entry of a single-grant document.
fn only_grant(document: &Value) -> &Value {
    let grants = document["grants"].as_array().expect("grants array");
    assert_eq!(grants.len(), 1, "{document:#}");
    &grants[0]
}

#[test]
fn json_a_clean_removal_names_the_outcome_the_audit_and_the_undo() {
    let sim = start("basic-account.json");
    let home = Home::new();
    let before = sim.state().grant_named(SAFE).unwrap().clone();
    let (out, document) = remove_json(&sim, &home, &["--name", SAFE, "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let g = only_grant(&document);
    assert_eq!(g["outcome"], "done");
    assert_eq!(g["removed"], true);
    assert_eq!(g["grant"]["name"], SAFE);
    assert_eq!(g["grant"]["vpc_access_id"], before.vpc_access_id.as_str());
    assert_eq!(g["grant"]["vpc_id"], before.vpc_id.as_str());
    assert_eq!(g["grant"]["instance_id"], before.instance_id.as_str());
    assert_eq!(g["grant"]["port"], before.port);
    // The document cites the journal entry and the digest the pending record promised.
    let journal = journal_records(&home.journal());
    let id = journal[0]["id"].as_str().unwrap();
    assert_eq!(g["journal_id"], id);
    assert_eq!(g["audit"]["verdict"], "safe");
    assert_eq!(g["audit"]["digest"], journal[0]["intent"]["digest"]);
    assert_eq!(
        g["restore_command"],
        format!("grantguard restore --id {id}")
    );
    assert!(g["recheck_gap_ms"].as_f64().unwrap() >= 0.0);
    assert!(g["unexpected_apis"].as_array().unwrap().is_empty());
    assert_eq!(g["calls"][0]["action"], "RemoveVpcAccess");
    assert_eq!(g["calls"][0]["params"]["Port"], "443");
    assert_eq!(document["summary"]["removed"], 1);
    assert!(!stdout(&out).contains("re-check → "), "no human text");
    assert_no_secret(&sim, &[&stdout(&out), &stderr(&out)]);
}

#[test]
fn json_a_refusal_says_why_with_the_rules_that_hold() {
    let sim = start("basic-account.json");
    let home = Home::new();
    let (out, document) = remove_json(&sim, &home, &["--name", BLOCKED, "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let g = only_grant(&document);
    assert_eq!(g["outcome"], "refused");
    assert_eq!(g["removed"], false);
    assert_eq!(g["refusal"]["kind"], "not-safe");
    assert_eq!(g["refusal"]["message"], "the verdict is blocked");
    assert_eq!(g["refusal"]["rules"], serde_json::json!(["GG101"]));
    assert_eq!(g["audit"]["verdict"], "blocked");
    let rules: Vec<&str> = g["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"GG101"), "{rules:?}");
    assert!(g["journal_id"].is_null() && g["restore_command"].is_null());
    assert_eq!(mutations(&sim), 0);
    assert_no_secret(&sim, &[&stdout(&out), &stderr(&out)]);

    // A stale plan is refused for the digest, naming both.
    let plan = home.path().join("plan.json");
    std::fs::write(
        &plan,
        format!(
            r#"{{"grants":[{{"vpc_access_id":"{}","digest":"0000"}}]}}"#,
            sim.state().grant_named(SAFE).unwrap().vpc_access_id
        ),
    )
    .unwrap();
    let plan_arg = plan.to_str().unwrap();
    let (out, document) = remove_json(&sim, &home, &["--name", SAFE, "--yes", "--plan", plan_arg]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let g = only_grant(&document);
    assert_eq!(g["refusal"]["kind"], "plan-mismatch");
    assert!(g["refusal"]["message"]
        .as_str()
        .unwrap()
        .contains("plan digest 0000"));
    assert_eq!(g["audit"]["verdict"], "safe");
    assert_eq!(mutations(&sim), 0);
}

#[test]
fn json_a_dry_run_lists_the_exact_calls_and_output_writes_a_file() {
    let sim = start("basic-account.json");
    let home = Home::new();
    let (out, document) = remove_json(&sim, &home, &["--name", SAFE, "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(document["dry_run"], true);
    let g = only_grant(&document);
    assert_eq!(g["outcome"], "dry-run");
    assert!(g["journal_id"].is_null());
    let calls: Vec<(&str, bool)> = g["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["action"].as_str().unwrap(),
                c["mutating"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        calls,
        [
            ("DescribeVpcAccesses", false),
            ("DescribeApiGroups", false),
            ("DescribeBackendList", false),
            ("DescribeApisByVpcAccess", false),
            ("RemoveVpcAccess", true)
        ]
    );
    assert_eq!(
        g["calls"][3]["params"],
        serde_json::json!({"VpcName": SAFE})
    );
    assert_eq!(
        g["calls"][4]["params"],
        serde_json::json!({"InstanceId": "i-bp1legacy000000000xxx", "Port": "443", "VpcId": "vpc-bp1legacy00000000xxx"})
    );
    assert_eq!(mutations(&sim), 0);
    assert!(!home.journal().exists(), "a dry run writes no journal");

    // --output: stdout stays empty, the file holds the result, in either format.
    for (format, expect) in [
        ("json", "\"schema\": \"grantguard.removal/v1\""),
        ("human", "dry run: nothing was changed"),
    ] {
        let file = home.path().join(format!("result.{format}"));
        let out = remove(
            &sim,
            &home,
            &[
                "--name",
                SAFE,
                "--dry-run",
                "--format",
                format,
                "--output",
                file.to_str().unwrap(),
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(out.stdout.is_empty(), "{}", stdout(&out));
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.contains(expect), "{text}");
        assert_no_secret(&sim, &[&text, &stderr(&out)]);
    }
    assert_eq!(mutations(&sim), 0);
}

#[test]
fn json_an_unpredicted_api_is_in_unexpected_apis_with_a_restore_command_that_works() {
    // docs/fault-model.md R9(b): API_NEW is published as RemoveVpcAccess arrives, so the answer names it.
    let sim = start("basic-account.json");
    let home = Home::new();
    sim.before("RemoveVpcAccess", |_, account| {
        publish_new_api(account, SAFE);
    });
    let before = sim.state().grant_named(SAFE).unwrap().clone();
    let (out, document) = remove_json(&sim, &home, &["--name", SAFE, "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let new_api = sim
        .state()
        .apis
        .iter()
        .find(|a| a.name == "apiNew")
        .unwrap()
        .clone();
    let g = only_grant(&document);
    assert_eq!(g["outcome"], "done-unexpected");
    assert_eq!(g["removed"], true);
    let unexpected = g["unexpected_apis"].as_array().unwrap();
    assert_eq!(unexpected.len(), 1, "{document:#}");
    assert_eq!(unexpected[0]["api_id"], new_api.id.as_str());
    assert_eq!(unexpected[0]["stage"], "RELEASE");
    assert!(!unexpected[0]["group_id"].as_str().unwrap().is_empty());
    assert!(g["predicted_apis"].as_array().unwrap().is_empty());
    assert_eq!(document["summary"]["unexpected"], 1);
    let journal = journal_records(&home.journal());
    assert_eq!(journal[1]["state"], "done-unexpected");
    assert_eq!(g["journal_id"], journal[0]["id"]);
    assert!(g["recheck_gap_ms"].as_f64().is_some());

    // Run the restore command from the document, word for word.
    let command = g["restore_command"].as_str().expect("restore command");
    let words: Vec<&str> = command.split_whitespace().collect();
    assert_eq!(words[..3], ["grantguard", "restore", "--id"]);
    let restored = run(&sim, &home, &words[1..]);
    assert_eq!(restored.status.code(), Some(0), "{}", stderr(&restored));
    let after = sim.state().grant_named(SAFE).unwrap().clone();
    assert_eq!(
        (&after.vpc_id, &after.instance_id, after.port),
        (&before.vpc_id, &before.instance_id, before.port)
    );
    assert_eq!(
        journal_records(&home.journal()).last().unwrap()["state"],
        "restored"
    );
    assert_no_secret(
        &sim,
        &[
            &stdout(&out),
            &stderr(&out),
            &stdout(&restored),
            &stderr(&restored),
        ],
    );
}

#[test]
fn json_all_safe_has_one_entry_per_grant() {
    let sim = start("basic-account.json");
    let home = Home::new();
    let (out, document) = remove_json(
        &sim,
        &home,
        &["--all-safe", "--max", "1", "--yes", "--accept-warnings"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(document["all_safe"], true);
    let outcomes: std::collections::BTreeMap<String, String> = document["grants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["grant"]["name"].as_str().unwrap().to_owned(),
                g["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(outcomes.len(), 5, "{outcomes:?}");
    assert_eq!(outcomes[SAFE], "done");
    assert_eq!(outcomes[BLOCKED], "refused");
    assert!(outcomes.values().any(|o| o == "skipped"), "{outcomes:?}");
    assert_eq!(document["summary"]["removed"], 1);
    assert_eq!(sim.calls("RemoveVpcAccess"), 1);
}

#[test]
fn json_a_failed_removal_is_documented_before_exit_2() {
    let sim = with_faults(&["RemoveVpcAccess=InternalError"], &[]);
    let home = Home::new();
    let (out, document) = remove_json(&sim, &home, &["--name", SAFE, "--yes"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("not removed"), "{}", stderr(&out));
    let g = only_grant(&document);
    assert_eq!(g["outcome"], "not-removed");
    assert_eq!(g["removed"], false);
    assert!(g["restore_command"].is_null());
    assert_eq!(g["journal_id"], journal_records(&home.journal())[0]["id"]);
    assert!(
        g["reason"].as_str().unwrap().contains("still there"),
        "{g:#}"
    );
    assert_eq!(sim.calls("RemoveVpcAccess"), 1);
    assert_no_secret(&sim, &[&stdout(&out), &stderr(&out)]);
}

/// Safe, with one warning (GG104: an offline RELEASE version of getOrder routes through it).
const WARNED: &str = "orders-ecs-8080";

#[test]
fn a_safe_grant_with_warnings_is_kept_unless_they_are_accepted() {
    let sim = start("basic-account.json");
    let home = Home::new();
    let refused = remove(&sim, &home, &["--name", WARNED, "--yes"]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    let text = stdout(&refused);
    assert!(
        text.contains("SAFE+WARN") && text.contains("1 warning: history-uses-grant"),
        "{text}"
    );
    assert!(!text.contains("nothing depends on it"), "{text}");
    assert!(
        text.contains("GG104") && text.contains("--accept-warnings"),
        "{text}"
    );
    assert_eq!(mutations(&sim), 0);
    assert!(!home.journal().exists() || journal_states(&home.journal()).is_empty());

    let (json_out, document) = remove_json(&sim, &home, &["--name", WARNED, "--yes"]);
    assert_eq!(json_out.status.code(), Some(1));
    let g = only_grant(&document);
    assert_eq!(g["outcome"], "refused");
    assert_eq!(g["refusal"]["kind"], "warnings");
    assert_eq!(g["refusal"]["rules"], serde_json::json!(["GG104"]));

    let (accepted, document) = remove_json(
        &sim,
        &home,
        &["--name", WARNED, "--yes", "--accept-warnings"],
    );
    assert_eq!(accepted.status.code(), Some(0), "{}", stderr(&accepted));
    assert_eq!(sim.calls("RemoveVpcAccess"), 1);
    let g = only_grant(&document);
    assert_eq!(g["outcome"], "done");
    assert_eq!(g["accepted_warnings"][0]["rule"], "GG104", "{g}");
    let pending = &journal_records(&home.journal())[0];
    assert_eq!(
        pending["intent"]["accepted_warnings"][0]["rule"], "GG104",
        "{pending}"
    );
}

#[test]
fn a_warning_accepted_in_the_config_makes_the_report_clean() {
    let sim = start("basic-account.json");
    let home = Home::new();
    std::fs::write(
        home.path().join("grantguard.json"),
        r#"{"severity": {"GG104": "info"}}"#,
    )
    .unwrap();
    let out = remove(&sim, &home, &["--name", WARNED, "--yes"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(sim.calls("RemoveVpcAccess"), 1);
}

#[test]
fn all_safe_keeps_grants_with_warnings_and_says_which() {
    let sim = start("basic-account.json");
    let home = Home::new();
    let out = remove(&sim, &home, &["--all-safe", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let row = text
        .lines()
        .find(|l| l.starts_with(WARNED))
        .unwrap_or_else(|| panic!("no row for {WARNED}:\n{text}"));
    assert!(
        row.contains("kept")
            && row.contains("1 warning (GG104)")
            && row.contains("--accept-warnings"),
        "{row}"
    );
    assert!(sim.state().has_grant_named(WARNED));
    assert!(!sim.state().has_grant_named(SAFE));
    assert_eq!(sim.calls("RemoveVpcAccess"), 1);
}

#[test]
fn the_prompt_lists_every_finding_and_under_force_every_live_user() {
    let sim = start("basic-account.json");
    let home = Home::new();
    let journal = home.journal();
    let mut warned = std_command(&sim, &home);
    warned
        .args(["remove", "--name", WARNED, "--accept-warnings", "--journal"])
        .arg(&journal);
    let mut session = rexpect::session::spawn_command(warned, Some(30_000)).unwrap();
    session.exp_string("1 warning accepted").unwrap();
    session.exp_string("GG104 warn").unwrap();
    session.exp_string("Type the grant's name").unwrap();
    session.send_line("no").unwrap();
    session.exp_eof().unwrap();

    let mut forced = std_command(&sim, &home);
    forced
        .args([
            "remove",
            "--name",
            BLOCKED,
            "--force",
            "--reason",
            "test",
            "--journal",
        ])
        .arg(&journal);
    let mut session = rexpect::session::spawn_command(forced, Some(30_000)).unwrap();
    session.exp_string("GG101 deny").unwrap();
    session
        .exp_string("These live users break when the grant goes:")
        .unwrap();
    session.exp_string("RELEASE: ").unwrap();
    session.exp_string("getOrder").unwrap();
    session.exp_string("Type the grant's name").unwrap();
    session.send_line("no").unwrap();
    session.exp_eof().unwrap();
    assert_eq!(mutations(&sim), 0);
}

/// A removal's result sent to `/dev/null` (a pipeline that wants only the exit status): the
/// grant is removed and the run says so with exit 0. `/dev/null` refuses fsync; the result
/// once failed with "cannot write" and exit 2 after the grant was already gone.
#[test]
fn a_removal_result_can_go_to_dev_null() {
    let sim = start("basic-account.json");
    let home = Home::new();
    let out = remove(
        &sim,
        &home,
        &[
            "--name",
            SAFE,
            "--yes",
            "--format",
            "json",
            "-o",
            "/dev/null",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(sim.calls("RemoveVpcAccess"), 1);
}

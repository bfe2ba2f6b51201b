//! docs/fault-model.md R8's crash points K1–K5 (K2 and K3 also for a repoint), R12's forced
//! panic and a journal whose write or fsync fails (full or failing disk), through the binary
//! built with `--features failpoints` (`cargo test --features failpoints --test failpoints`;
//! plain `cargo test` skips this file). `FAILPOINTS=NAME=pause` stops the process at the
//! point, which says so on stderr, and the test SIGKILLs it there. K3 and K4 lose the
//! removal's answer first: the emulator applies it and drops the connection
//! (`apply_then_drop`), or drops it without applying (`drop_before_apply`). The emulator's log
//! and state and the journal are the witnesses. (K2 is tests/removal_cli.rs's kill while the
//! re-check is held.)

mod common;

use common::*;
use grantguard::failpoints::names;
use grantguard_sim::Faults;
use serde_json::Value;
use std::io::BufRead;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

const SAFE: &str = "legacy-unused-443";

/// `grantguard ARGS --journal J` with `failpoints` configured.
fn run(sim: &TestSim, home: &Home, failpoints: &str, args: &[&str]) -> std::process::Output {
    let mut cmd = grantguard(sim, home);
    if !failpoints.is_empty() {
        cmd.env("FAILPOINTS", failpoints);
    }
    cmd.args(args)
        .arg("--journal")
        .arg(home.journal())
        .output()
        .unwrap()
}

/// `remove --name SAFE --yes` paused at `point`, then killed there with SIGKILL.
fn kill_at(sim: &TestSim, home: &Home, point: &str) {
    kill_running_at(sim, home, point, &["remove", "--name", SAFE, "--yes"]);
}

/// `grantguard ARGS --journal J` paused at `point`, then killed there with SIGKILL.
fn kill_running_at(sim: &TestSim, home: &Home, point: &str, args: &[&str]) {
    let mut child = std_grantguard(sim, home)
        .env("FAILPOINTS", format!("{point}=pause"))
        .args(args)
        .arg("--journal")
        .arg(home.journal())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let marker = format!("failpoint {point} reached");
    // Keeps draining stderr, so the child never blocks on a full pipe.
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains(&marker) {
                let _ = tx.send(());
            }
            text.push_str(&line);
            text.push('\n');
        }
        text
    });
    let reached = rx.recv_timeout(Duration::from_secs(30));
    child.kill().unwrap();
    let status = child.wait().unwrap();
    let text = reader.join().unwrap();
    reached.unwrap_or_else(|_| panic!("never reached {point}:\n{text}"));
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{text}");
}
/// docs/fault-model.md R8: (the grant is present) XOR (the journal holds a `done` entry whose pending
/// record keeps every `SetVpcAccess` input).
fn assert_present_xor_done(sim: &TestSim, journal: &Path) {
    let all = journal_records(journal);
    let done: Vec<&Value> = all.iter().filter(|r| r["state"] == "done").collect();
    let restorable_done = done.iter().any(|d| {
        all.iter()
            .filter(|r| r["id"] == d["id"] && r["state"] == "pending")
            .any(|pending| {
                assert_restorable(pending);
                true
            })
    });
    let present = sim.state().has_grant_named(SAFE);
    assert!(
        present ^ restorable_done,
        "present {present}, done {restorable_done}: {all:?}"
    );
}

/// The grant's tuple (VpcId, InstanceId, Port) as `DescribeVpcAccesses` would list it.
fn tuple(sim: &TestSim) -> Option<(String, String, u16)> {
    sim.state()
        .grant_named(SAFE)
        .map(|g| (g.vpc_id.clone(), g.instance_id.clone(), g.port))
}

/// The pending record holds every input `SetVpcAccess` needs to bring the grant back (I4).
fn assert_restorable(record: &Value) {
    let grant = &record["intent"]["grant"];
    for field in [
        "Name",
        "VpcId",
        "InstanceId",
        "Port",
        "Description",
        "VpcTargetHostName",
    ] {
        assert!(
            grant.get(field).is_some(),
            "the pending record keeps {field}: {record}"
        );
    }
}

#[test]
fn k1_a_crash_before_the_journal_write_leaves_no_entry_and_the_grant() {
    let sim = start("basic-account.json");
    let home = Home::new();
    kill_at(&sim, &home, names::BEFORE_JOURNAL);
    let journal = home.journal();
    assert!(
        journal_records(&journal).is_empty(),
        "no entry: {:?}",
        journal_states(&journal)
    );
    assert_eq!(sim.calls("RemoveVpcAccess"), 0);
    assert!(sim.state().has_grant_named(SAFE));

    let listed = run(&sim, &home, "", &["journal"]);
    assert_eq!(listed.status.code(), Some(0), "{}", stderr(&listed));
    assert!(journal_records(&journal).is_empty());
    // Nothing was half-done: the removal simply runs again, once.
    let again = run(&sim, &home, "", &["remove", "--name", SAFE, "--yes"]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert_eq!(sim.calls("RemoveVpcAccess"), 1);
    assert_eq!(journal_states(&journal), ["pending", "done"]);
}

/// A full disk (the pending record's write fails with ENOSPC) or a failing one (its fsync
/// fails with EIO): the removal stops with exit 2 naming the journal and the error, before
/// any mutating call, and the grant stays.
#[test]
fn a_journal_write_or_fsync_that_fails_means_nothing_is_removed() {
    for (point, error) in [
        (names::JOURNAL_WRITE, "No space left on device"),
        (names::JOURNAL_FSYNC, "Input/output error"),
    ] {
        let sim = start("basic-account.json");
        let home = Home::new();
        let out = run(
            &sim,
            &home,
            &format!("{point}=return"),
            &["remove", "--name", SAFE, "--yes"],
        );
        let text = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{point}: {text}");
        assert!(
            text.contains(&format!("failpoint {point} reached")),
            "{text}"
        );
        assert!(text.contains(error), "{point}: {text}");
        assert!(text.contains("journal"), "{point}: {text}");
        for action in [
            "RemoveVpcAccess",
            "RemoveVpcAccessAndAbolishApis",
            "SetVpcAccess",
        ] {
            assert_eq!(sim.calls(action), 0, "{point}: {action} was called");
        }
        assert!(sim.state().has_grant_named(SAFE), "{point}");
    }
}

#[test]
fn k3_a_crash_after_the_service_applied_a_removal_whose_answer_was_lost_is_reconciled_as_done() {
    // The service applies RemoveVpcAccess and the connection drops before any answer; the
    // process is killed before it journals the outcome.
    let sim = faulted(
        "basic-account.json",
        Faults {
            apply_then_drop: vec!["RemoveVpcAccess=always".parse().unwrap()],
            ..Faults::default()
        },
    );
    let home = Home::new();
    let before = tuple(&sim).expect("the grant exists");
    kill_at(&sim, &home, names::AFTER_RESPONSE);
    let journal = home.journal();
    assert_eq!(journal_states(&journal), ["pending"]);
    assert_restorable(&journal_records(&journal)[0]);
    assert_eq!(sim.calls("RemoveVpcAccess"), 1);
    assert_eq!(tuple(&sim), None, "applied");

    let listed = run(&sim, &home, "", &["journal"]);
    assert_eq!(listed.status.code(), Some(0), "{}", stderr(&listed));
    assert_eq!(journal_states(&journal), ["pending", "done"]);
    assert_present_xor_done(&sim, &journal);
    assert_eq!(sim.calls("RemoveVpcAccess"), 1, "never resent");

    // I4: the done record brings the tuple back.
    let restored = run(&sim, &home, "", &["restore"]);
    assert_eq!(restored.status.code(), Some(0), "{}", stderr(&restored));
    assert_eq!(tuple(&sim), Some(before));
    assert_eq!(sim.calls("SetVpcAccess"), 1);
    assert_eq!(sim.calls("RemoveVpcAccess"), 1);
}

#[test]
fn k4_a_crash_after_a_removal_dropped_before_it_was_applied_is_reconciled_as_not_removed() {
    // The request reaches the service, which drops the connection without applying it; the
    // process is killed before it journals the outcome.
    let sim = faulted(
        "basic-account.json",
        Faults {
            drop_before_apply: vec!["RemoveVpcAccess=once".parse().unwrap()],
            ..Faults::default()
        },
    );
    let home = Home::new();
    kill_at(&sim, &home, names::AFTER_RESPONSE);
    let journal = home.journal();
    assert_eq!(journal_states(&journal), ["pending"]);
    assert_restorable(&journal_records(&journal)[0]);
    assert_eq!(sim.calls("RemoveVpcAccess"), 1);

    let listed = run(&sim, &home, "", &["journal"]);
    assert_eq!(listed.status.code(), Some(0), "{}", stderr(&listed));
    assert_eq!(journal_states(&journal), ["pending", "not-removed"]);
    // I3/I4: the grant is present, nothing was resent, no done record.
    assert_present_xor_done(&sim, &journal);
    assert!(sim.state().has_grant_named(SAFE));
    assert_eq!(sim.calls("RemoveVpcAccess"), 1);

    // Running the removal again works, with one more RemoveVpcAccess, not two.
    let again = run(&sim, &home, "", &["remove", "--name", SAFE, "--yes"]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert_eq!(sim.calls("RemoveVpcAccess"), 2);
    assert!(!sim.state().has_grant_named(SAFE));
}

#[test]
fn k5_a_crash_after_the_answer_before_the_outcome_is_reconciled_as_done_and_restorable() {
    let sim = start("basic-account.json");
    let home = Home::new();
    kill_at(&sim, &home, names::AFTER_RESPONSE);
    let journal = home.journal();
    assert_eq!(journal_states(&journal), ["pending"]);
    assert_restorable(&journal_records(&journal)[0]);
    assert_eq!(sim.calls("RemoveVpcAccess"), 1);
    assert!(!sim.state().has_grant_named(SAFE));

    let listed = run(&sim, &home, "", &["journal"]);
    assert_eq!(listed.status.code(), Some(0), "{}", stderr(&listed));
    assert_eq!(journal_states(&journal), ["pending", "done"]);
    assert_present_xor_done(&sim, &journal);

    // I4: the done record brings the tuple back.
    let restored = run(&sim, &home, "", &["restore"]);
    assert_eq!(restored.status.code(), Some(0), "{}", stderr(&restored));
    assert!(sim.state().has_grant_named(SAFE));
    assert_eq!(sim.calls("RemoveVpcAccess"), 1, "never removed twice");
    assert_eq!(sim.calls("SetVpcAccess"), 1);
}

/// `repoint` of the basic account's blocked grant to a free target.
const REPOINT: [&str; 8] = [
    "repoint",
    "--name",
    "orders-slb-80",
    "--instance-id",
    "lb-uf6replacement0xxx",
    "--port",
    "80",
    "--yes",
];

/// The repointed grant's (instance, port), as the service has it.
fn repointed(sim: &TestSim) -> (String, u16) {
    let state = sim.state();
    let g = state.grant_named("orders-slb-80").unwrap();
    (g.instance_id.clone(), g.port)
}

#[test]
fn k2_a_repoint_killed_between_its_journal_record_and_the_call_is_reconciled_as_not_moved() {
    let sim = start("basic-account.json");
    let home = Home::new();
    kill_running_at(&sim, &home, names::AFTER_JOURNAL_FSYNC, &REPOINT);
    let journal = home.journal();
    assert_eq!(journal_states(&journal), ["pending"]);
    let pending = &journal_records(&journal)[0];
    assert_eq!(
        pending["intent"]["grant"]["InstanceId"], "lb-uf6bzcg1pr4oh5jjmxxx",
        "the old target"
    );
    assert_eq!(
        pending["intent"]["target"]["InstanceId"],
        "lb-uf6replacement0xxx"
    );
    assert_eq!(sim.calls("ModifyVpcAccessAndUpdateApis"), 0);

    let listed = run(&sim, &home, "", &["journal"]);
    assert_eq!(listed.status.code(), Some(0), "{}", stderr(&listed));
    assert!(stdout(&listed).contains("not-moved"), "{}", stdout(&listed));
    assert_eq!(journal_states(&journal), ["pending", "not-removed"]);
    assert_eq!(repointed(&sim), ("lb-uf6bzcg1pr4oh5jjmxxx".into(), 80));
    // Nothing was half-done: the repoint runs again, once.
    let again = run(&sim, &home, "", &REPOINT);
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}{}",
        stdout(&again),
        stderr(&again)
    );
    assert_eq!(sim.calls("ModifyVpcAccessAndUpdateApis"), 1);
    assert_eq!(repointed(&sim), ("lb-uf6replacement0xxx".into(), 80));
}

#[test]
fn k3_a_repoint_applied_whose_answer_was_lost_is_reconciled_as_moved_unverified_and_restorable() {
    let sim = faulted(
        "basic-account.json",
        Faults {
            apply_then_drop: vec!["ModifyVpcAccessAndUpdateApis=once".parse().unwrap()],
            ..Faults::default()
        },
    );
    let home = Home::new();
    kill_running_at(&sim, &home, names::AFTER_RESPONSE, &REPOINT);
    let journal = home.journal();
    assert_eq!(journal_states(&journal), ["pending"]);
    assert_eq!(
        repointed(&sim),
        ("lb-uf6replacement0xxx".into(), 80),
        "applied"
    );

    let listed = run(&sim, &home, "", &["journal"]);
    assert_eq!(listed.status.code(), Some(0), "{}", stderr(&listed));
    assert!(
        stdout(&listed).contains("moved-unverified"),
        "{}",
        stdout(&listed)
    );
    assert_eq!(journal_states(&journal), ["pending", "done-unexpected"]);
    assert_eq!(sim.calls("ModifyVpcAccessAndUpdateApis"), 1, "never resent");

    let restored = run(&sim, &home, "", &["restore"]);
    assert_eq!(
        restored.status.code(),
        Some(0),
        "{}{}",
        stdout(&restored),
        stderr(&restored)
    );
    assert_eq!(repointed(&sim), ("lb-uf6bzcg1pr4oh5jjmxxx".into(), 80));
}

#[test]
fn r12_a_forced_panic_at_verbose_trace_prints_no_secret() {
    let sim = start("basic-account.json");
    let home = Home::new();
    let out = grantguard(&sim, &home)
        .env("FAILPOINTS", format!("{}=panic", names::AFTER_RESPONSE))
        .env("RUST_LOG", "trace")
        .env("RUST_BACKTRACE", "1")
        .args(["-vvv", "remove", "--name", SAFE, "--yes", "--journal"])
        .arg(home.journal())
        .output()
        .unwrap();
    let (out_text, err_text) = (stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(101), "a panic: {err_text}");
    assert!(err_text.contains("panicked"), "{err_text}");
    // I5 over both streams and every file the run wrote under HOME.
    let mut texts = vec![out_text, err_text];
    for entry in walk_files(home.path()) {
        texts.push(String::from_utf8_lossy(&std::fs::read(entry).unwrap()).into_owned());
    }
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    assert!(sim.log().iter().any(|r| r.signature.is_some()));
    assert_no_secret(&sim, &refs);
}

fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk_files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

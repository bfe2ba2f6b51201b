//! docs/fault-model.md A14: Ctrl-C (SIGINT) during a scan and during a removal, sent to the real binary
//! while the emulator holds one of its calls, so the test knows exactly where the process is.

mod common;

use common::*;
use grantguard_sim::{Account, HookCall};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const SAFE: &str = "legacy-unused-443";

/// Holds the first served call of `action` matching `wanted` (before the emulator acts on it)
/// until the returned sender is used or dropped.
fn hold_first(
    sim: &TestSim,
    action: &str,
    wanted: impl Fn(&HookCall) -> bool + Send + 'static,
) -> (mpsc::Receiver<()>, mpsc::Sender<()>) {
    let (arrived_tx, arrived_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let mut held = false;
    sim.before(action, move |call: &HookCall, _: &mut Account| {
        if held || !wanted(call) {
            return;
        }
        held = true;
        let _ = arrived_tx.send(());
        let _ = release_rx.recv_timeout(Duration::from_secs(20));
    });
    (arrived_rx, release_tx)
}

/// The binary as a child process with the harness's environment.
fn spawn(sim: &TestSim, home: &Home, args: &[&str]) -> Child {
    let (id, secret, _) = credential(sim);
    std::process::Command::new(env!("CARGO_BIN_EXE_grantguard"))
        .env_clear()
        .env("HOME", home.path())
        .env("NO_COLOR", "1")
        .env("GRANTGUARD_QPS", "0")
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", id)
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", secret)
        .env("ALIBABA_CLOUD_REGION_ID", "cn-hangzhou")
        .env("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
        .env("GRANTGUARD_ENDPOINT", sim.url())
        .current_dir(home.path())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn sigint(child: &Child) {
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill(1) runs");
    assert!(status.success());
}

#[test]
fn ctrl_c_during_a_scan_exits_130_and_leaves_no_snapshot() {
    let sim = start("basic-account.json");
    let home = Home::new();
    let out_dir = home.path().join("snapshots");
    std::fs::create_dir(&out_dir).unwrap();
    let snapshot = out_dir.join("inventory.json");
    let (arrived, release) = hold_first(&sim, "DescribeApis", |_| true);
    let child = spawn(
        &sim,
        &home,
        &["scan", "--output", snapshot.to_str().unwrap()],
    );
    arrived
        .recv_timeout(Duration::from_secs(30))
        .expect("the scan reached DescribeApis");
    sigint(&child);
    let out = child.wait_with_output().unwrap();
    drop(release);
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(stderr(&out).contains("interrupted"), "{}", stderr(&out));
    // No snapshot, complete or partial, and no temporary file beside it.
    let left: Vec<_> = std::fs::read_dir(&out_dir).unwrap().collect();
    assert!(left.is_empty(), "files left: {left:?}");
}

#[test]
fn ctrl_c_after_the_removal_was_sent_waits_for_the_answer_and_journals_it() {
    let sim = start("basic-account.json");
    let home = Home::new();
    let journal = home.path().join("journal.jsonl");
    let (arrived, release) = hold_first(&sim, "RemoveVpcAccess", |_| true);
    let child = spawn(
        &sim,
        &home,
        &[
            "remove",
            "--name",
            SAFE,
            "--yes",
            "--journal",
            journal.to_str().unwrap(),
        ],
    );
    arrived
        .recv_timeout(Duration::from_secs(30))
        .expect("the removal was sent");
    sigint(&child);
    // Give the handler time to see the signal while the call is still held.
    std::thread::sleep(Duration::from_millis(100));
    release.send(()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert_eq!(
        journal_states(&journal),
        ["pending", "done"],
        "{}",
        stderr(&out)
    );
    assert_eq!(sim.calls("RemoveVpcAccess"), 1);
    assert!(!sim.state().has_grant_named(SAFE));
    assert_no_secret(&sim, &[&stdout(&out), &stderr(&out)]);
}

#[test]
fn ctrl_c_before_the_journal_write_removes_nothing() {
    let sim = start("basic-account.json");
    let home = Home::new();
    let journal = home.path().join("journal.jsonl");
    // The first DescribeApisByVpcAccess for the grant is the audit's, before any record.
    let (arrived, release) = hold_first(&sim, "DescribeApisByVpcAccess", |c| {
        c.param("VpcName") == Some(SAFE)
    });
    let child = spawn(
        &sim,
        &home,
        &[
            "remove",
            "--name",
            SAFE,
            "--yes",
            "--journal",
            journal.to_str().unwrap(),
        ],
    );
    arrived
        .recv_timeout(Duration::from_secs(30))
        .expect("the audit reached the grant");
    sigint(&child);
    let out = child.wait_with_output().unwrap();
    drop(release);
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(journal_states(&journal).is_empty());
    assert_eq!(sim.calls("RemoveVpcAccess"), 0);
    assert!(sim.state().has_grant_named(SAFE));
}

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

/// What the binary says when Ctrl-C arrives during a removal's critical section.
const DEFERRED: &str =
    "interrupted: finishing the removal in flight and journaling its outcome first";

/// Takes `child`'s stderr: the receiver gets one message when a line contains `marker`; the
/// thread returns the whole text once the child closes it (it keeps draining, so the child
/// never blocks on a full pipe).
fn watch_stderr(
    child: &mut Child,
    marker: &'static str,
) -> (mpsc::Receiver<()>, std::thread::JoinHandle<String>) {
    use std::io::BufRead;
    let stderr = child.stderr.take().expect("stderr piped");
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains(marker) {
                let _ = tx.send(());
            }
            text.push_str(&line);
            text.push('\n');
        }
        text
    });
    (rx, reader)
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
    let mut child = spawn(
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
    let (deferred, err) = watch_stderr(&mut child, DEFERRED);
    arrived
        .recv_timeout(Duration::from_secs(30))
        .expect("the removal was sent");
    sigint(&child);
    // The call stays held until the handler has said it defers the exit.
    let seen = deferred.recv_timeout(Duration::from_secs(30));
    release.send(()).unwrap();
    let out = child.wait_with_output().unwrap();
    let err = err.join().unwrap();
    seen.unwrap_or_else(|_| panic!("no deferred-interrupt message:\n{err}"));
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        err.contains("interrupted: the outcome is journaled; exiting"),
        "{err}"
    );
    assert_eq!(journal_states(&journal), ["pending", "done"], "{err}");
    assert_eq!(sim.calls("RemoveVpcAccess"), 1);
    assert!(!sim.state().has_grant_named(SAFE));
    assert_no_secret(&sim, &[&stdout(&out), &err]);
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

//! A closed pipe ends a command quietly (docs/fault-model.md, row L2): `grantguard … | head -1`
//! must not print "Broken pipe", panic, or exit 2.

mod common;

use common::*;
use std::io::Read;
use std::process::Stdio;

/// Runs the binary with standard output a pipe whose reading end is closed after at most one
/// byte: every write after that fails with EPIPE.
fn with_closed_stdout(home: &Home, args: &[&str]) -> (Option<i32>, String) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_grantguard"))
        .args(args)
        .env_clear()
        .env("HOME", home.path())
        .env("NO_COLOR", "1")
        .current_dir(home.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 1];
    let _ = stdout.read(&mut first);
    drop(stdout);
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (child.wait().unwrap().code(), err)
}

#[test]
fn every_kind_of_output_ends_quietly_on_a_closed_pipe() {
    let home = Home::new();
    let snapshot = home.path().join("snap.json");
    let generated = bare(&home)
        .args([
            "sim",
            "generate",
            "--groups",
            "20",
            "--apis-per-group",
            "50",
        ])
        .args(["--grants", "10", "--seed", "1", "--snapshot", "--output"])
        .arg(&snapshot)
        .output()
        .unwrap();
    assert_eq!(generated.status.code(), Some(0), "{}", stderr(&generated));
    let snapshot = snapshot.to_str().unwrap();
    for args in [
        vec!["man"],
        vec!["audit", "--inventory", snapshot],
        vec!["audit", "--inventory", snapshot, "--format", "json"],
        vec!["audit", "--inventory", snapshot, "--format", "sarif"],
        vec!["graph", "--inventory", snapshot, "--format", "dot"],
    ] {
        let (code, err) = with_closed_stdout(&home, &args);
        assert!(
            code == Some(141) || code == Some(0) || code == Some(1),
            "{args:?}: exit {code:?}\n{err}"
        );
        assert!(!err.contains("Broken pipe"), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

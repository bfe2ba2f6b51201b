//! `--output` to something that is not a regular file: `/dev/null` (a CI step that wants only
//! the exit status) and a FIFO (`-o >(jq …)`). Only a regular file is fsync'd: the others
//! refuse fsync with EINVAL, which once turned a finished audit into "cannot write", exit 2.

mod common;

use common::*;
use std::io::Read;

fn snapshot(home: &Home) -> String {
    let path = home.path().join("snap.json");
    let generated = bare(home)
        .args(["sim", "generate", "--groups", "3", "--apis-per-group", "5"])
        .args(["--grants", "4", "--seed", "1", "--snapshot", "--output"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(generated.status.code(), Some(0), "{}", stderr(&generated));
    path.to_str().unwrap().to_owned()
}

/// Makes a FIFO at `path` and a thread that reads it whole, as `-o >(…)` would.
#[cfg(unix)]
fn read_fifo(path: &std::path::Path) -> std::thread::JoinHandle<String> {
    let c_path = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo only creates a file.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0, "mkfifo");
    let path = path.to_owned();
    std::thread::spawn(move || {
        let mut text = String::new();
        std::fs::File::open(path)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        text
    })
}

/// The reader's text once the command is done. Had the command never opened the FIFO, the
/// reader would wait in `open` forever: a writer that opens and closes it at once lets the
/// reader go with what it has, so the test fails on its text rather than hangs.
#[cfg(unix)]
fn text_read(fifo: &std::path::Path, reader: std::thread::JoinHandle<String>) -> String {
    use std::os::unix::fs::OpenOptionsExt;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !reader.is_finished() && std::time::Instant::now() < deadline {
        // A non-blocking open for writing fails (ENXIO) while no reader has the FIFO open.
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(fifo);
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    reader.join().unwrap()
}

#[test]
fn every_kind_of_output_goes_to_dev_null() {
    let home = Home::new();
    let snapshot = snapshot(&home);
    for args in [
        vec!["audit", "--inventory", &snapshot],
        vec!["audit", "--inventory", &snapshot, "--format", "json"],
        vec!["audit", "--inventory", &snapshot, "--format", "sarif"],
        vec!["graph", "--inventory", &snapshot, "--format", "dot"],
    ] {
        let out = bare(&home)
            .args(&args)
            .args(["-o", "/dev/null"])
            .output()
            .unwrap();
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{args:?}: exit {:?}\n{}",
            out.status.code(),
            stderr(&out)
        );
        assert_eq!(stderr(&out), "", "{args:?}");
    }
}

#[cfg(unix)]
#[test]
fn a_report_reaches_a_fifo_whole() {
    let home = Home::new();
    let snapshot = snapshot(&home);
    let fifo = home.path().join("report.fifo");
    let reader = read_fifo(&fifo);
    let out = bare(&home)
        .args(["audit", "--inventory", &snapshot, "--format", "json", "-o"])
        .arg(&fifo)
        .output()
        .unwrap();
    let text = text_read(&fifo, reader);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "exit {:?}\n{}",
        out.status.code(),
        stderr(&out)
    );
    let report: serde_json::Value = serde_json::from_str(&text).expect("a whole JSON report");
    assert_eq!(report["schema"], "grantguard.report/v1");
    assert_eq!(report["summary"]["grants"], 4);
}

/// A snapshot is saved atomically (a temporary file renamed over the path), but only over a
/// regular file: renamed over a FIFO it would replace the FIFO, and over `/dev/null`, as root,
/// the device itself. Anything else is written straight through.
#[cfg(unix)]
#[test]
fn a_snapshot_reaches_a_fifo_and_leaves_it_a_fifo() {
    use std::os::unix::fs::FileTypeExt;
    let home = Home::new();
    let fifo = home.path().join("snap.fifo");
    let reader = read_fifo(&fifo);
    let out = bare(&home)
        .args(["sim", "generate", "--groups", "2", "--apis-per-group", "3"])
        .args(["--grants", "2", "--seed", "1", "--snapshot", "--output"])
        .arg(&fifo)
        .output()
        .unwrap();
    let kind = std::fs::symlink_metadata(&fifo).unwrap().file_type();
    // Checked before joining: had the FIFO been replaced, its reader would wait forever.
    assert!(kind.is_fifo(), "the FIFO was replaced by {kind:?}");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = text_read(&fifo, reader);
    let snapshot: serde_json::Value = serde_json::from_str(&text).expect("a whole snapshot");
    assert_eq!(snapshot["schema"], "grantguard.inventory/v2");
}

//! docs/fault-model.md A3 (slowloris) and A4 (hung server) through the real binary, with the per-attempt
//! timeout set on the command line (`--attempt-timeout 2s`, as the row's test config says) and
//! two attempts per call, against one API only (an `ACTION:ID` scope), so the whole file runs
//! in about ten seconds. The emulator times every held answer from the request's arrival to
//! the moment the client gave the connection up ([`grantguard_sim::Sim::stalls`]). Also: the
//! config file's timeouts, and `sim serve` refusing a malformed raw-fault rule.

mod common;

use common::*;
use grantguard_sim::{Faults, Stall};
use serde_json::Value;
use std::time::{Duration, Instant};

/// The basic account's `getOrder` API.
const GET_ORDER: &str = "3b81fd160f5645e097cc8855d75a1cf6";
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
const ATTEMPTS: usize = 2;
/// docs/fault-model.md A3's tolerance on the end of each attempt.
const TOLERANCE: Duration = Duration::from_millis(500);
/// The most the client's backoff can add before the one retry: full jitter under the default
/// first ceiling of 1 s (no server hint: a timeout carries none).
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// `audit --format json` with two attempts of at most 2 s each; the exit code, the report, the
/// stderr and the wall time of the process.
fn audit(sim: &TestSim, extra: &[&str]) -> (Option<i32>, Value, String, Duration) {
    let started = Instant::now();
    let out = grantguard(sim, &Home::new())
        .args(["audit", "--format", "json", "--max-attempts", "2"])
        .args(["--attempt-timeout", "2s"])
        .args(extra)
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    (out.status.code(), json(&out), stderr(&out), elapsed)
}

fn clean() -> Value {
    let sim = start("basic-account.json");
    let out = grantguard(&sim, &Home::new())
        .args(["audit", "--format", "json"])
        .output()
        .unwrap();
    json(&out)
}

/// The gap the walk recorded for getOrder's definition.
fn timeout_gap(report: &Value) -> &Value {
    let gaps = report["gaps"].as_array().expect("gaps");
    let gap = gaps
        .iter()
        .find(|g| g["scope"] == format!("api:{GET_ORDER}"))
        .unwrap_or_else(|| panic!("no gap for getOrder: {gaps:?}"));
    assert_eq!(gap["code"], "Timeout", "{gap}");
    assert_eq!(gap["action"], "DescribeApi", "{gap}");
    gap
}

/// Every attempt the emulator held for getOrder, once the client has let go of them all.
fn held_attempts(sim: &TestSim) -> Vec<Stall> {
    // The process has exited, so every connection is closed; the emulator's runtime notices
    // within milliseconds.
    let deadline = Instant::now() + Duration::from_secs(5);
    while sim.stalls().iter().any(|s| s.held.is_none()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let stalls = sim.stalls();
    let sends = sim
        .log()
        .iter()
        .filter(|r| r.action == "DescribeApi" && r.api_id.as_deref() == Some(GET_ORDER))
        .count();
    assert_eq!(stalls.len(), sends, "every send of the call was held");
    assert_eq!(
        sends % ATTEMPTS,
        0,
        "each logical call took exactly --max-attempts"
    );
    stalls
}

fn check_invariants(sim: &TestSim, clean: &Value, report: &Value, code: Option<i32>, err: &str) {
    assert_eq!(code, Some(1), "{err}");
    assert_honest(report, code);
    assert_more_cautious(clean, report);
    assert_eq!(report["complete"], false);
    assert!(verdicts(report).values().all(|v| v != "safe"));
    assert_no_secret(sim, &[err, &report.to_string()]);
    assert_nonces_unique(sim);
}

#[test]
fn a3_a_slowloris_answer_is_cut_by_the_per_attempt_timeout_then_becomes_a_timeout_gap() {
    let clean = clean();
    // One byte every 500 ms: far inside the idle timeout (set to 10 s explicitly), so only
    // the total per-attempt timeout can end the attempt.
    let sim = faulted(
        "basic-account.json",
        Faults {
            slowloris: vec![format!("DescribeApi:{GET_ORDER}=500ms").parse().unwrap()],
            ..Faults::default()
        },
    );
    let (code, report, err, _) = audit(&sim, &["--idle-timeout", "10s"]);
    check_invariants(&sim, &clean, &report, code, &err);
    timeout_gap(&report);

    let stalls = held_attempts(&sim);
    eprintln!(
        "A3: attempts held {:?}, bytes trickled {:?}",
        stalls.iter().map(|s| s.held.unwrap()).collect::<Vec<_>>(),
        stalls.iter().map(|s| s.bytes_sent).collect::<Vec<_>>()
    );
    for stall in stalls {
        assert_eq!(stall.kind, "slowloris");
        let held = stall.held.expect("ended");
        assert!(
            held <= ATTEMPT_TIMEOUT + TOLERANCE,
            "an attempt ended within total + 0.5 s: {stall:?}"
        );
        assert!(
            held >= ATTEMPT_TIMEOUT - TOLERANCE,
            "the total timeout, not the idle one, ended it: {stall:?}"
        );
        // Bytes were still arriving when the attempt was cut: it was never idle.
        assert!(stall.bytes_sent >= 2, "{stall:?}");
    }
}

#[test]
fn a4_a_hung_server_costs_at_most_attempts_times_the_timeout_plus_backoff() {
    let clean = clean();
    let sim = faulted(
        "basic-account.json",
        Faults {
            hang: vec![format!("DescribeApi:{GET_ORDER}=always").parse().unwrap()],
            ..Faults::default()
        },
    );
    let (code, report, err, wall) = audit(&sim, &[]);
    check_invariants(&sim, &clean, &report, code, &err);
    timeout_gap(&report);

    let stalls = held_attempts(&sim);
    let bound = ATTEMPT_TIMEOUT * ATTEMPTS as u32 + MAX_BACKOFF;
    for call in stalls.chunks(ATTEMPTS) {
        assert!(call.iter().all(|s| s.kind == "hang"));
        for stall in call {
            let held = stall.held.expect("ended");
            assert!(held <= ATTEMPT_TIMEOUT + TOLERANCE, "{stall:?}");
        }
        // From the first attempt's arrival to the moment the last one was given up.
        let (first, last) = (&call[0], &call[ATTEMPTS - 1]);
        let span = last.arrived + last.held.unwrap() - first.arrived;
        eprintln!("A4: call took {span:?} (bound {bound:?}); run {wall:?}");
        assert!(
            span <= bound + TOLERANCE,
            "the call took {span:?}, over attempts × timeout + backoff = {bound:?}"
        );
    }
    // The whole run: the hung call plus a fast walk of the rest of the account.
    assert!(
        wall <= bound + Duration::from_secs(3),
        "the run took {wall:?}"
    );
}

#[test]
fn timeouts_come_from_the_config_file_when_no_flag_is_given() {
    let sim = faulted(
        "basic-account.json",
        Faults {
            hang: vec![format!("DescribeApi:{GET_ORDER}=always").parse().unwrap()],
            ..Faults::default()
        },
    );
    let home = Home::new();
    std::fs::write(
        home.path().join("grantguard.json"),
        r#"{"attempt_timeout": "1s", "idle_timeout": "1s", "connect_timeout": "1s"}"#,
    )
    .unwrap();
    let out = grantguard(&sim, &home)
        .args(["audit", "--format", "json", "--max-attempts", "2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    timeout_gap(&json(&out));
    for stall in held_attempts(&sim) {
        let held = stall.held.expect("ended");
        assert!(
            held <= Duration::from_secs(1) + TOLERANCE,
            "the config file's 1 s applied: {stall:?}"
        );
    }
}

#[test]
fn sim_serve_checks_the_raw_fault_flags_and_names_the_bad_one() {
    let home = Home::new();
    let fixture = fixture_path("basic-account.json");
    for (flag, bad) in [
        ("--slowloris", "DescribeApi=soon"),
        ("--hang", "DescribeApi=sometimes"),
        ("--drop-before-apply", "RemoveVpcAccess"),
        ("--apply-then-drop", "RemoveVpcAccess=twice"),
    ] {
        let out = bare(&home)
            .args(["sim", "serve", "--fixture"])
            .arg(&fixture)
            .args([flag, bad])
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{flag}: {err}");
        assert!(
            err.contains(flag.trim_start_matches("--")) && err.contains(bad),
            "{flag}: {err}"
        );
    }
}

//! docs/fault-model.md A3 (slowloris) and A4 (hung server) through the real binary, with the per-attempt
//! timeout set on the command line (`--attempt-timeout 2s`, as the row's test config says) and
//! two attempts per call, against one API only (an `ACTION:ID` scope). What is checked is
//! logical: which limit ended each attempt (the gap's message names it), that every attempt
//! was given up before its answer completed ([`grantguard_sim::Sim::stalls`]), how many
//! attempts each call took, and that the verdicts fail closed. How close to 2 s an attempt
//! ends in real time depends on the machine's load: `scripts/bench.sh` prints it
//! (`examples/timeout_precision.rs`). Also: the config file's timeouts, and `sim serve`
//! refusing a malformed raw-fault rule.

mod common;

use common::*;
use grantguard_sim::{Faults, Stall};
use serde_json::Value;
use std::time::{Duration, Instant};

/// The basic account's `getOrder` API.
const GET_ORDER: &str = "3b81fd160f5645e097cc8855d75a1cf6";
const ATTEMPTS: usize = 2;
/// What the gap says when the per-attempt limit of `--attempt-timeout 2s` ended the call.
const TOTAL_LIMIT_2S: &str = "no complete answer within the per-attempt limit of 2 s";

/// `audit --format json` with two attempts of at most 2 s each; the exit code, the report and
/// the stderr.
fn audit(sim: &TestSim, extra: &[&str]) -> (Option<i32>, Value, String) {
    let out = grantguard(sim, &Home::new())
        .args(["audit", "--format", "json", "--max-attempts", "2"])
        .args(["--attempt-timeout", "2s"])
        .args(extra)
        .output()
        .unwrap();
    (out.status.code(), json(&out), stderr(&out))
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
    // within milliseconds (the deadline only bounds a broken run).
    let deadline = Instant::now() + Duration::from_secs(30);
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
    let (code, report, err) = audit(&sim, &["--idle-timeout", "10s"]);
    check_invariants(&sim, &clean, &report, code, &err);
    let gap = timeout_gap(&report);
    // The total per-attempt limit ended it, not the idle one (that message says "stalled").
    assert!(
        gap["message"].as_str().unwrap().contains(TOTAL_LIMIT_2S),
        "{gap}"
    );

    let stalls = held_attempts(&sim);
    assert_eq!(stalls.len(), ATTEMPTS, "one call, every attempt held");
    // The emulator logs the whole body's size for a trickled answer.
    let body = sim
        .log()
        .iter()
        .find(|r| r.api_id.as_deref() == Some(GET_ORDER))
        .map(|r| r.response_bytes)
        .unwrap();
    for stall in stalls {
        assert_eq!(stall.kind, "slowloris");
        assert!(stall.held.is_some(), "the client let go: {stall:?}");
        // Bytes were still arriving when the attempt was cut (it was never idle), and the
        // client gave up before the answer was whole.
        assert!(stall.bytes_sent >= 1, "{stall:?}");
        assert!(stall.bytes_sent < body, "{stall:?} of {body} bytes");
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
    let (code, report, err) = audit(&sim, &[]);
    check_invariants(&sim, &clean, &report, code, &err);
    let gap = timeout_gap(&report);
    assert!(
        gap["message"].as_str().unwrap().contains(TOTAL_LIMIT_2S),
        "{gap}"
    );

    // At most attempts × timeout + backoff: the call took exactly --max-attempts sends, each
    // given up by the client (the emulator never answers, so only the timeout can end one).
    let stalls = held_attempts(&sim);
    assert_eq!(stalls.len(), ATTEMPTS, "one call, --max-attempts sends");
    for stall in &stalls {
        assert_eq!(stall.kind, "hang");
        assert!(stall.held.is_some(), "the client let go: {stall:?}");
    }
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
        // The idle limit well above the total one, so the gap's message can only name the
        // total limit the file set (the default is 30 s).
        r#"{"attempt_timeout": "1s", "idle_timeout": "20s", "connect_timeout": "1s"}"#,
    )
    .unwrap();
    let out = grantguard(&sim, &home)
        .args(["audit", "--format", "json", "--max-attempts", "2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = json(&out);
    let gap = timeout_gap(&report);
    assert!(
        gap["message"]
            .as_str()
            .unwrap()
            .contains("no complete answer within the per-attempt limit of 1 s"),
        "the config file's 1 s applied: {gap}"
    );
    for stall in held_attempts(&sim) {
        assert!(stall.held.is_some(), "{stall:?}");
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

//! docs/fault-model.md rows R1b (throttling with no consecutive cap and two attempts per call, through
//! the binary) and A18 (nonce uniqueness over 10,000 calls at concurrency 32), each checked
//! against its pass criteria and the invariants of tests/common (I1, I2, I5, I6).

mod common;
use common::*;
use grantguard::client::{Client, ClientConfig, Endpoint};
use grantguard::credentials::Credentials;
use grantguard::inventory::walk::{walk, WalkOptions};
use grantguard::inventory::RegionId;
use grantguard_sim::generate::{self, GenerateOptions};
use grantguard_sim::{CallRecord, Faults, Fixture, Sim, SimOptions};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};

/// `audit --format json` plus `extra` through the binary: exit code, stdout, stderr.
fn audit(sim: &TestSim, extra: &[&str]) -> (Option<i32>, String, String) {
    let out = grantguard(sim, &Home::new())
        .args(["audit", "--format", "json"])
        .args(extra)
        .output()
        .unwrap();
    (out.status.code(), stdout(&out), stderr(&out))
}

/// The request a log record belongs to, without what changes per attempt (nonce, signature).
fn request_key(r: &CallRecord) -> (String, [Option<String>; 6]) {
    (
        r.action.clone(),
        [
            r.group_id.clone(),
            r.api_id.clone(),
            r.stage_name.clone(),
            r.backend_id.clone(),
            r.vpc_name.clone(),
            r.page_number.clone(),
        ],
    )
}

/// The logical calls of the log that ran out of `max` attempts on throttling: `max` throttled
/// answers in a row for the same request, with no success in between.
fn exhausted_calls(log: &[CallRecord], max: usize) -> Vec<CallRecord> {
    let mut streak: BTreeMap<_, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for record in log {
        let key = request_key(record);
        if record.error_code.as_deref() == Some("Throttling.User") {
            let n = streak.entry(key).or_insert(0);
            *n += 1;
            if *n == max {
                *n = 0;
                out.push(record.clone());
            }
        } else {
            streak.remove(&key);
        }
    }
    out
}

/// The ids a record names, as the `ID` part of a gap scope such as `group:ID` or `api:ID`.
fn named_ids(r: &CallRecord) -> Vec<String> {
    [&r.group_id, &r.api_id, &r.backend_id, &r.vpc_name]
        .into_iter()
        .flatten()
        .cloned()
        .collect()
}

// ---- R1b: throttling that outlasts the attempts ----

#[test]
fn r1b_calls_that_run_out_of_attempts_on_throttling_become_gaps() {
    let clean_sim = start("basic-account.json");
    let (code, out, err) = audit(&clean_sim, &[]);
    let clean: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {err}"));
    assert_honest(&clean, code);

    let mut seeds_with_gaps = 0;
    let mut exhausted_total = 0;
    for seed in 1..=10u64 {
        let sim = start_with(
            fixture("basic-account.json"),
            SimOptions {
                faults: Faults {
                    throttle_rate: Some(0.3),
                    seed: Some(seed),
                    max_consecutive_faults: None,
                    ..Faults::default()
                },
                ..SimOptions::default()
            },
        );
        let (code, out, err) = audit(
            &sim,
            &["--max-attempts", "2", "--max-throttled-attempts", "2"],
        );
        assert_ne!(code, Some(101), "seed {seed}: no panic: {err}");
        assert_no_secret(&sim, &[&out, &err]);
        assert_nonces_unique(&sim);

        let log = sim.log();
        // I7: no logical call was sent more than twice.
        let exhausted = exhausted_calls(&log, 2);
        exhausted_total += exhausted.len();

        if out.trim().is_empty() {
            // Nothing could be listed: only acceptable when the grant listing itself ran out.
            assert_eq!(code, Some(2), "seed {seed}: no report means exit 2: {err}");
            assert!(
                exhausted.iter().any(|r| r.action == "DescribeVpcAccesses"),
                "seed {seed}: no report although the grant listing went through: {err}"
            );
            continue;
        }
        let report: Value = serde_json::from_str(&out).unwrap();
        // I1 and I2.
        assert_more_cautious(&clean, &report);
        assert_honest(&report, code);

        let gaps = report["gaps"].as_array().unwrap();
        // Judged by the report's gaps, not by `exhausted`: interleaved DescribeApiHistory
        // attempts at different versions can hide a run-out call from the log-based count.
        if gaps.is_empty() {
            assert_eq!(report, clean_with_time(&clean, &report), "seed {seed}");
            continue;
        }
        seeds_with_gaps += 1;
        assert_eq!(code, Some(1), "seed {seed}: incomplete means exit 1: {err}");
        // Every exhausted call appears in `gaps`, with the service's code. DescribeApiHistory
        // is left out: the log does not record HistoryVersion, so attempts at two versions of
        // one API cannot be told apart, and an unreadable online version legitimately falls
        // back to DescribeDeployedApi (a gap only when that fails too).
        for call in exhausted
            .iter()
            .filter(|c| c.action != "DescribeApiHistory")
        {
            let found = gaps
                .iter()
                .any(|g| g["code"] == "Throttling.User" && g_matches(g, call));
            assert!(
                found,
                "seed {seed}: exhausted {} {:?} has no gap in {gaps:#?}",
                call.action,
                named_ids(call)
            );
        }
        // And the converse: every throttling gap is a call that really ran out of attempts
        // (DescribeApiHistory again left out, for the same reason: its attempts at different
        // versions cannot be told apart in the log, so which one ran out is unknowable here).
        for gap in gaps
            .iter()
            .filter(|g| g["code"] == "Throttling.User" && g["action"] != "DescribeApiHistory")
        {
            assert!(
                exhausted.iter().any(|c| g_matches(gap, c)),
                "seed {seed}: {gap} without an exhausted call"
            );
        }
        // The affected grants are unknown: a gap scoped to one grant makes that grant
        // unknown; any other gap can hide a reference to any grant.
        let verdicts = verdicts(&report);
        for gap in gaps {
            match gap["grant"].as_str() {
                Some(id) => {
                    let grant = report["grants"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .find(|g| g["vpc_access_id"] == id)
                        .unwrap_or_else(|| panic!("seed {seed}: gap names unknown grant {id}"));
                    assert_ne!(grant["verdict"], "safe", "seed {seed}: {gap}");
                }
                None => assert!(
                    verdicts.values().all(|v| v != "safe"),
                    "seed {seed}: a grant stayed safe beside {gap}"
                ),
            }
        }
    }
    eprintln!(
        "R1b: {exhausted_total} exhausted calls over 10 seeds, {seeds_with_gaps} seeds with gaps"
    );
    assert!(
        seeds_with_gaps >= 3,
        "the seeds exercise the row: {seeds_with_gaps} seeds with gaps"
    );
}

/// Whether `gap` is about the call `c`: same action, and its scope names one of the call's ids.
fn g_matches(gap: &Value, c: &CallRecord) -> bool {
    let scope = gap["scope"].as_str().unwrap_or("");
    let ids = named_ids(c);
    gap["action"] == c.action.as_str()
        && (ids.is_empty() || ids.iter().any(|id| scope.contains(id.as_str())))
}

/// `clean` with the faulted report's timestamps, for an equality check.
fn clean_with_time(clean: &Value, faulted: &Value) -> Value {
    let mut clean = clean.clone();
    for key in ["generated_at", "taken_at"] {
        if let Some(v) = faulted.get(key) {
            clean[key] = v.clone();
        }
    }
    clean
}

// ---- A18: nonce uniqueness at scale ----

/// Requests A18 asks for.
const A18_CALLS: usize = 10_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a18_ten_thousand_calls_at_concurrency_32_never_reuse_a_nonce() {
    let fixture = Fixture::from_json(&generate::fixture_json(&GenerateOptions {
        groups: 10,
        apis_per_group: 40,
        stages: 3,
        grants: 20,
        vpc_share: 0.4,
        seed: 18,
    }))
    .unwrap();
    let sim = Sim::start(
        fixture,
        SimOptions {
            env_credentials: false,
            ..SimOptions::default()
        },
    )
    .unwrap();
    let mut config = ClientConfig::new(Endpoint::parse(&sim.url()).unwrap());
    config.qps = 0.0;
    config.concurrency = 32;
    let client = Client::new(
        config,
        Credentials::new(
            generate::ACCESS_KEY_ID.into(),
            generate::ACCESS_KEY_SECRET.into(),
            None,
        ),
    )
    .unwrap();

    let started = std::time::Instant::now();
    let mut walks = 0;
    while sim.log().len() < A18_CALLS {
        let inventory = walk(
            &client,
            &RegionId::from("cn-hangzhou"),
            &WalkOptions::default(),
        )
        .await
        .expect("the walk completes");
        assert!(inventory.is_complete(), "gaps: {:?}", inventory.gaps);
        walks += 1;
    }
    let log = sim.log();
    let nonces: HashSet<&str> = log.iter().filter_map(|r| r.nonce.as_deref()).collect();
    eprintln!(
        "A18: {} requests in {walks} walks, {} distinct nonces, {:?}",
        log.len(),
        nonces.len(),
        started.elapsed()
    );
    assert!(log.len() >= A18_CALLS);
    assert_eq!(nonces.len(), log.len(), "one distinct nonce per request");
    assert_eq!(
        client.stats().requests as usize,
        log.len(),
        "client and emulator agree"
    );
    assert_nonces_unique(&sim);
}

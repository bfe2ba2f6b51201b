//! docs/fault-model.md rows R5 (oversized body, with the child's peak RSS from `wait4`), R6 (connection
//! reset mid-body, a real TCP RST), R7 (clock skew), A5 (5xx storm and the retry budget), A6
//! (endpoint down) and A7 (STS token expiring mid-scan), each checked against its pass
//! criteria and the invariants of tests/common (I1, I2, I5, I6).

mod common;
use common::*;
use grantguard::client::{Client, ClientConfig, Endpoint, FailureClass};
use grantguard::config::Config;
use grantguard::credentials::Credentials;
use grantguard::inventory::walk::{self, WalkError, WalkOptions};
use grantguard::inventory::RegionId;
use grantguard::report::{self, Format, RenderOptions};
use grantguard::rules::Catalog;
use grantguard_sim::{Faults, Fixture, SimOptions};
use grantguard_wire::actions;
use serde_json::Value;
use std::time::Duration;

/// The basic account's `orders` group and its `getOrder` API.
const ORDERS: &str = "be6d2abcc0dd4f749fc2d2edd6567164";
const GET_ORDER: &str = "3b81fd160f5645e097cc8855d75a1cf6";
const MUTATING: [&str; 3] = [
    "RemoveVpcAccess",
    "RemoveVpcAccessAndAbolishApis",
    "SetVpcAccess",
];
fn mutations(sim: &TestSim) -> usize {
    MUTATING.iter().map(|a| sim.calls(a)).sum()
}

/// `audit --format json` plus `extra` through the binary: exit code, stdout, stderr.
fn audit(sim: &TestSim, extra: &[&str]) -> (Option<i32>, String, String) {
    let out = grantguard(sim, &Home::new())
        .args(["audit", "--format", "json"])
        .args(extra)
        .output()
        .unwrap();
    (out.status.code(), stdout(&out), stderr(&out))
}

/// [`audit`] through a spawned child reaped with `wait4`, which also returns that child's own
/// resource usage; the fourth value is its peak RSS in bytes (`ru_maxrss` is in KiB on Linux).
fn audit_with_rusage(sim: &TestSim, extra: &[&str]) -> (Option<i32>, String, String, u64) {
    let home = Home::new();
    let (out_path, err_path) = (home.path().join("stdout"), home.path().join("stderr"));
    let child = std_grantguard(sim, &home)
        .args(["audit", "--format", "json"])
        .args(extra)
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is plain old data, so all-zero is a valid value; wait4 gets valid
    // pointers to locals and reaps only our own child (which `Child` never waits for after).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4: {}", std::io::Error::last_os_error());
    drop(child);
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap();
    let max_rss = u64::try_from(usage.ru_maxrss).unwrap() * 1024;
    (code, read(&out_path), read(&err_path), max_rss)
}

fn without_times(mut report: Value) -> Value {
    let object = report.as_object_mut().unwrap();
    object.remove("generated_at");
    object.remove("taken_at");
    report
}

/// A client whose backoff is milliseconds, so retries cost no real seconds.
fn fast_client(sim: &TestSim, tune: impl FnOnce(&mut ClientConfig)) -> Client {
    let mut config = ClientConfig::new(Endpoint::parse(&sim.url()).unwrap());
    config.qps = 0.0;
    config.concurrency = 8;
    config.backoff_base = Duration::from_millis(1);
    config.backoff_cap = Duration::from_millis(5);
    tune(&mut config);
    let (id, secret, token) = credential(sim);
    Client::new(config, Credentials::new(id, secret, token)).unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Walks and audits in-process; the report as JSON, or the walk's error.
fn audit_in_process(client: &Client) -> Result<Value, WalkError> {
    runtime().block_on(async {
        let inventory = walk::walk(
            client,
            &RegionId::from("cn-hangzhou"),
            &WalkOptions::default(),
        )
        .await?;
        let report = grantguard::rules::audit(
            &inventory,
            &Default::default(),
            None,
            &Config::default(),
            &Catalog::builtin(),
        );
        let mut out = Vec::new();
        report::render(&report, Format::Json, &mut out, RenderOptions::default()).unwrap();
        Ok(serde_json::from_slice(&out).unwrap())
    })
}

fn clean_basic() -> Value {
    let sim = start("basic-account.json");
    audit_in_process(&fast_client(&sim, |_| {})).unwrap()
}

// ---- R7: clock skew ----

/// The skew stderr reports, in whole minutes ("… by 20 min 0 s").
fn reported_skew_minutes(stderr: &str) -> Option<i64> {
    let at = stderr.find("Date header by ")? + "Date header by ".len();
    let rest = &stderr[at..];
    let minutes: i64 = rest.split(" min").next()?.trim().parse().ok()?;
    Some(minutes)
}

#[test]
fn r7_a_server_clock_20_minutes_ahead_stops_the_run_with_the_measured_skew() {
    let sim = faulted(
        "basic-account.json",
        Faults {
            clock_offset_secs: Some(20 * 60),
            ..Faults::default()
        },
    );
    let (code, out, err) = audit(&sim, &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(out.trim().is_empty(), "no report, complete or not: {out}");
    assert!(err.contains("InvalidTimeStamp.Expired"), "{err}");
    let minutes = reported_skew_minutes(&err).unwrap_or_else(|| panic!("no skew in: {err}"));
    assert!(
        (19..=21).contains(&minutes),
        "skew within a minute of 20: {minutes}"
    );
    assert!(err.contains("behind"), "the local clock is behind: {err}");
    assert!(err.contains("NTP"), "the fix is named: {err}");
    // Stopped at the first rejection: no retry storm.
    assert!(sim.log().len() <= 8, "{} calls", sim.log().len());
    assert_eq!(sim.calls("DescribeVpcAccesses"), 1);

    // A removal under the same skew mutates nothing.
    let home = Home::new();
    let out = grantguard(&sim, &home)
        .args([
            "remove",
            "--name",
            "legacy-unused-443",
            "--yes",
            "--journal",
        ])
        .arg(home.path().join("j.jsonl"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(mutations(&sim), 0);
    assert_no_secret(&sim, &[&err, &stderr(&out)]);
    assert_nonces_unique(&sim);
}

#[test]
fn r7_a_skew_of_14_minutes_either_way_works_normally() {
    let clean = start("basic-account.json");
    let (clean_code, clean_out, _) = audit(&clean, &[]);
    let clean_report: Value = serde_json::from_str(&clean_out).unwrap();
    for minutes in [14, -14] {
        let sim = faulted(
            "basic-account.json",
            Faults {
                clock_offset_secs: Some(minutes * 60),
                ..Faults::default()
            },
        );
        let (code, out, err) = audit(&sim, &[]);
        assert_eq!(code, clean_code, "{minutes} min: {err}");
        let report: Value = serde_json::from_str(&out).unwrap();
        assert_honest(&report, code);
        assert_eq!(
            without_times(report),
            without_times(clean_report.clone()),
            "{minutes} min"
        );
        assert_nonces_unique(&sim);
    }
}

// ---- A5: 5xx storm ----

#[test]
fn a5_a_503_storm_lists_nothing_and_exits_2_after_bounded_attempts() {
    let sim = faulted(
        "basic-account.json",
        Faults {
            error_rate: Some(1.0),
            ..Faults::default()
        },
    );
    // Two attempts keep the one real backoff under a second.
    let (code, out, err) = audit(&sim, &["--max-attempts", "2"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(out.trim().is_empty(), "{out}");
    assert!(err.contains("nothing could be listed"), "{err}");
    assert!(err.contains("ServiceUnavailable"), "{err}");
    assert_eq!(sim.log().len(), 2, "attempts = --max-attempts");
    assert_nonces_unique(&sim);
}

/// An account whose group `big` has `n` plain-HTTP APIs besides one routing through grant
/// `big-used-80`; `big-unused-81` is used by nothing.
fn big_account(n: usize) -> Fixture {
    let mut apis = vec![
        serde_json::json!({ "group": "big", "name": "used", "route": { "vpc": { "name": "big-used-80" } } }),
    ];
    for i in 0..n {
        apis.push(
            serde_json::json!({ "group": "big", "name": format!("filler-{i:03}"),
            "route": { "http": { "address": "http://filler.example.com" } } }),
        );
    }
    let fixture = serde_json::json!({
        "credentials": [{ "access_key_id": "LTAI5tBigAccessKeyId", "access_key_secret": "BigSecretKeyValue0123456789abcde" }],
        "grants": [
            { "name": "big-used-80", "vpc_id": "vpc-big", "instance_id": "i-big", "port": 80 },
            { "name": "big-unused-81", "vpc_id": "vpc-big", "instance_id": "i-big", "port": 81 }
        ],
        "groups": [{ "name": "big" }],
        "apis": apis,
        "deployments": [{ "api": "used", "stage": "RELEASE" }]
    });
    Fixture::from_json(&fixture.to_string()).expect("generated fixture")
}

#[test]
fn a5_when_every_draft_read_fails_the_retry_budget_empties_and_calls_fail_fast() {
    let fixture = big_account(150);
    let sim = start_with(
        fixture,
        SimOptions {
            faults: Faults {
                fail: vec!["DescribeApi=ServiceUnavailable".parse().unwrap()],
                ..Faults::default()
            },
            ..SimOptions::default()
        },
    );
    let client = fast_client(&sim, |_| {});
    let report = audit_in_process(&client).expect("the listings worked");
    assert_honest(&report, None);
    let gaps = report["gaps"].as_array().unwrap();
    let exhausted = gaps
        .iter()
        .filter(|g| g["code"] == "RetryBudgetExhausted")
        .count();
    assert!(exhausted > 0, "the budget ran dry: {gaps:?}");
    assert!(
        gaps.iter().filter(|g| g["action"] == "DescribeApi").count() >= 150,
        "every failed draft read is a gap"
    );
    assert!(verdicts(&report).values().all(|v| v != "safe"));

    // docs/fault-model.md A5: total attempts ≤ calls + 500/5 + successes (a retry costs 5 tokens, a
    // first-try success earns 1 back).
    let log = sim.log();
    let successes = log.iter().filter(|r| r.error_code.is_none()).count();
    let failed_reads = log.iter().filter(|r| r.action == "DescribeApi").count();
    let logical_draft_reads = 151;
    let retries = failed_reads - logical_draft_reads;
    assert!(
        retries <= 500 / 5 + successes / 5 + 1,
        "{retries} retries with {successes} successes"
    );
    assert!(
        client.retry_budget_remaining() < 5,
        "the budget is spent: {}",
        client.retry_budget_remaining()
    );
    assert_nonces_unique(&sim);
}

// ---- A6: endpoint down ----

#[test]
fn a6_a_closed_loopback_port_exits_2_saying_the_endpoint_cannot_be_reached() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let home = Home::new();
    let out = bare(&home)
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI5tDownAccessKeyId")
        .env(
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
            "DownSecretKeyValue0123456789ab",
        )
        .env("ALIBABA_CLOUD_REGION_ID", "cn-hangzhou")
        .env("GRANTGUARD_ENDPOINT", format!("http://127.0.0.1:{port}/"))
        .arg("audit")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("cannot reach endpoint"), "{err}");
    assert!(
        err.contains(&format!("127.0.0.1:{port}")),
        "names it: {err}"
    );
    assert!(!err.contains("DownSecretKeyValue"), "{err}");
}

// ---- A7: STS token expiring mid-scan ----

#[test]
fn a7_an_sts_token_expiring_mid_scan_stops_the_run() {
    let mut fixture = fixture("demo-account.json");
    // Sign with an STS credential (key + token).
    let sts = grantguard_sim::FixtureCredential {
        access_key_id: "STS.NExpiringKeyId".into(),
        access_key_secret: "ExpiringStsSecret0123456789".into(),
        security_token: Some("CAIS.expiring.token".into()),
    };
    fixture.credentials.insert(0, sts);
    let sim = start_with(
        fixture,
        SimOptions {
            faults: Faults {
                sts_expire_after: Some(20),
                ..Faults::default()
            },
            ..SimOptions::default()
        },
    );
    let home = Home::new();
    let out = grantguard(&sim, &home)
        .args(["audit", "--format", "json"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("InvalidSecurityToken.Expired"), "{err}");
    assert!(out.stdout.is_empty(), "no report: {}", stdout(&out));
    // Requests are handled concurrently, so the log's order is the order answers were written,
    // not the order the emulator counted them: count outcomes instead of positions.
    let log = sim.log();
    let expired = "InvalidSecurityToken.Expired";
    let refused = log
        .iter()
        .filter(|r| r.error_code.as_deref() == Some(expired))
        .count();
    assert_eq!(
        log.len() - refused,
        20,
        "the sim honoured the token for exactly 20 calls"
    );
    // Calls already in flight may still arrive; no new ones start (harness concurrency 8).
    assert!((1..=8).contains(&refused), "{refused} calls after expiry");

    // A removal whose re-check meets the expired token mutates nothing.
    let out = grantguard(&sim, &home)
        .args([
            "remove",
            "--name",
            "legacy-unused-443",
            "--yes",
            "--journal",
        ])
        .arg(home.path().join("j.jsonl"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(mutations(&sim), 0);
    assert_no_secret(&sim, &[&err, &stderr(&out)]);
    assert_nonces_unique(&sim);
}

// ---- R5: oversized body ----

#[test]
fn r5_a_50_mib_body_is_refused_at_the_cap_and_not_retried() {
    for chunked in [false, true] {
        let rule = format!(
            "DescribeApis:{ORDERS}=50MiB{}",
            if chunked { ",chunked" } else { "" }
        );
        let sim = faulted(
            "basic-account.json",
            Faults {
                oversize: vec![rule.parse().unwrap()],
                ..Faults::default()
            },
        );
        let (code, out, err, max_rss) = audit_with_rusage(&sim, &["--max-response-bytes", "1MiB"]);
        // docs/fault-model.md R5: the child's own peak RSS, from wait4's rusage, stays under 64 MiB + cap.
        eprintln!("R5 {rule}: peak RSS of the child {} KiB", max_rss >> 10);
        assert!(
            max_rss < (64 << 20) + (1 << 20),
            "{rule}: peak RSS {max_rss} bytes"
        );
        assert_eq!(code, Some(1), "{rule}: {err}");
        let report: Value = serde_json::from_str(&out).unwrap();
        assert_honest(&report, code);
        assert_more_cautious(&clean_basic(), &report);
        let gap = report["gaps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["code"] == "ResponseTooLarge")
            .unwrap_or_else(|| panic!("{rule}: no ResponseTooLarge gap: {}", report["gaps"]));
        assert_eq!(gap["action"], "DescribeApis");
        assert!(gap["scope"].as_str().unwrap().contains(ORDERS));
        let sends = sim
            .log()
            .iter()
            .filter(|r| r.action == "DescribeApis" && r.group_id.as_deref() == Some(ORDERS))
            .count();
        assert_eq!(sends, 1, "{rule}: not retried");
        // The client stopped reading: far less than 50 MiB left the emulator (what is beyond
        // the 1 MiB cap sat in socket buffers).
        let sent = sim.oversize_bytes_sent();
        assert!(sent < 16 << 20, "{rule}: {sent} bytes streamed");
        assert_nonces_unique(&sim);
    }
}

// ---- R6: connection reset mid-body ----

#[test]
fn r6_a_read_reset_mid_body_once_is_retried_with_a_new_nonce_and_succeeds() {
    let clean = clean_basic();
    let sim = faulted(
        "basic-account.json",
        Faults {
            reset: vec![format!("DescribeApi:{GET_ORDER}=once").parse().unwrap()],
            ..Faults::default()
        },
    );
    let report = audit_in_process(&fast_client(&sim, |_| {})).unwrap();
    assert_eq!(without_times(report), without_times(clean));
    let attempts: Vec<_> = sim
        .log()
        .into_iter()
        .filter(|r| r.action == "DescribeApi" && r.api_id.as_deref() == Some(GET_ORDER))
        .collect();
    assert_eq!(attempts.len(), 2, "cut once, then retried");
    assert_ne!(attempts[0].nonce, attempts[1].nonce, "re-signed");
    assert_nonces_unique(&sim);
}

#[test]
fn r6_a_read_reset_on_every_attempt_becomes_a_connection_reset_gap() {
    let clean = clean_basic();
    let sim = faulted(
        "basic-account.json",
        Faults {
            reset: vec![format!("DescribeApi:{GET_ORDER}=always").parse().unwrap()],
            ..Faults::default()
        },
    );
    let client = fast_client(&sim, |c| c.max_attempts = 4);
    let report = audit_in_process(&client).unwrap();
    assert_honest(&report, None);
    assert_more_cautious(&clean, &report);
    let gap = report["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["action"] == "DescribeApi")
        .expect("a DescribeApi gap");
    assert_eq!(gap["code"], "ConnectionReset");
    assert_eq!(gap["scope"], format!("api:{GET_ORDER}"));
    let attempts = sim
        .log()
        .iter()
        .filter(|r| r.action == "DescribeApi" && r.api_id.as_deref() == Some(GET_ORDER))
        .count();
    assert_eq!(attempts, 4, "attempts = max");
    assert!(verdicts(&report).values().all(|v| v != "safe"));
    assert_nonces_unique(&sim);
}

/// The client's own classification of the reset: transient, so a read is retried; the
/// mutation case (never resent, reconciled by reading) is tests/fault_drops.rs's
/// `r6_a_removal_reset_mid_answer_is_not_resent_and_journaled_done`. The emulator ends the
/// connection with a real TCP RST (SO_LINGER 0), so what the client reads is the operating
/// system's "connection reset", not a clean end of stream short of Content-Length.
#[test]
fn r6_a_reset_is_classed_transient() {
    let sim = faulted(
        "basic-account.json",
        Faults {
            reset: vec!["DescribeApiGroups=always".parse().unwrap()],
            ..Faults::default()
        },
    );
    let client = fast_client(&sim, |c| c.max_attempts = 2);
    let error = runtime()
        .block_on(client.read(&actions::DescribeApiGroups::default()))
        .unwrap_err();
    assert_eq!(error.class, FailureClass::Transient);
    assert_eq!(error.code, "ConnectionReset");
    assert_eq!(error.attempts, 2);
    assert!(
        error
            .message
            .to_ascii_lowercase()
            .contains("connection reset"),
        "the client saw a RST: {}",
        error.message
    );
}

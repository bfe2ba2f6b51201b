//! docs/fault-model.md A19, the chaos soak: 50 seeds, each a random mix of throttling, 503s, a group
//! answering Forbidden, a malformed / HTML / mistyped / truncated answer and a connection reset
//! mid-body, on the basic account, walked and audited in-process with a millisecond backoff.
//! For every seed: I1 (verdicts only move toward unknown), I2 (complete exactly when there is no
//! gap), I6 (no nonce twice, none refused as reused) and I7 (retries within the budget).

mod common;
use common::*;
use grantguard::client::{Client, ClientConfig, Endpoint};
use grantguard::config::Config;
use grantguard::credentials::Credentials;
use grantguard::inventory::walk::{self, WalkOptions};
use grantguard::inventory::RegionId;
use grantguard::report::{self, Format, RenderOptions};
use grantguard::rules::Catalog;
use grantguard_sim::{Faults, SimOptions};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use std::time::Duration;

const GROUPS: [&str; 2] = [
    "be6d2abcc0dd4f749fc2d2edd6567164",
    "927d50c0f2e54b359919923d908bb015",
];
const APIS: [&str; 2] = [
    "3b81fd160f5645e097cc8855d75a1cf6",
    "9a3f1a5279434f2ba74ccd91c295af9f",
];
const SEEDS: u64 = 50;
const BUDGET: u32 = 500;

/// The fault mix for `seed`, drawn from its own RNG (so a failing seed can be replayed).
fn mix(seed: u64) -> Faults {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut faults = Faults {
        seed: Some(seed),
        throttle_rate: Some(rng.random_range(0.0..0.3)),
        error_rate: Some(rng.random_range(0.0..0.15)),
        max_consecutive_faults: Some(3),
        ..Faults::default()
    };
    if rng.random_bool(0.5) {
        let group = GROUPS[rng.random_range(0..2)];
        faults.fail.push(
            format!("DescribeApis:{group}=Forbidden.RAM")
                .parse()
                .unwrap(),
        );
    }
    if rng.random_bool(0.7) {
        let kind =
            ["malformed-json", "html", "wrong-type", "truncated-json"][rng.random_range(0..4)];
        let target = match rng.random_range(0..3) {
            0 => format!("DescribeApi:{}", APIS[rng.random_range(0..2)]),
            1 => format!("DescribeDeployedApis:{}", GROUPS[rng.random_range(0..2)]),
            _ => format!("DescribeApiHistory:{}", APIS[rng.random_range(0..2)]),
        };
        faults
            .corrupt
            .push(format!("{target}={kind}").parse().unwrap());
    }
    if rng.random_bool(0.5) {
        let api = APIS[rng.random_range(0..2)];
        let how = if rng.random_bool(0.5) {
            "once"
        } else {
            "always"
        };
        faults
            .reset
            .push(format!("DescribeApi:{api}={how}").parse().unwrap());
    }
    faults
}

/// Walk and audit in-process; the JSON report (or `None` when the walk could not run) and
/// the client's retry count.
async fn audit(sim: &TestSim) -> (Option<Value>, u64) {
    let mut config = ClientConfig::new(Endpoint::parse(&sim.url()).unwrap());
    config.qps = 0.0;
    config.concurrency = 8;
    config.max_attempts = 3;
    config.retry_budget = BUDGET;
    config.backoff_base = Duration::from_millis(1);
    config.backoff_cap = Duration::from_millis(5);
    let (id, secret, token) = credential(sim);
    let client = Client::new(config, Credentials::new(id, secret, token)).unwrap();
    let walked = walk::walk(
        &client,
        &RegionId::from("cn-hangzhou"),
        &WalkOptions::default(),
    )
    .await;
    let report = walked.ok().map(|inventory| {
        let report = grantguard::rules::audit(
            &inventory,
            &Default::default(),
            None,
            &Config::default(),
            &Catalog::builtin(),
        );
        let mut out = Vec::new();
        report::render(&report, Format::Json, &mut out, RenderOptions::default()).unwrap();
        serde_json::from_slice(&out).unwrap()
    });
    (report, client.stats().retries)
}

#[test]
fn a19_fifty_seeds_of_mixed_faults_never_make_a_verdict_less_cautious() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let clean_sim = start("basic-account.json");
    let clean = runtime.block_on(audit(&clean_sim)).0.expect("clean run");
    assert_eq!(clean["complete"], true);

    let (mut injected, mut to_unknown, mut incomplete, mut not_run) = (0, 0, 0, 0);
    for seed in 1..=SEEDS {
        let faults = mix(seed);
        let sim = start_with(
            fixture("basic-account.json"),
            SimOptions {
                faults: faults.clone(),
                ..SimOptions::default()
            },
        );
        let (report, retries) = runtime.block_on(audit(&sim));
        let log = sim.log();
        // What the emulator really applied (its log marks each), not what the mix configured.
        injected += sim.faults_applied();
        assert_nonces_unique(&sim);
        assert!(
            retries <= u64::from(BUDGET / 5) + log.len() as u64 / 5,
            "seed {seed}: I7 {retries} retries"
        );
        let Some(report) = report else {
            // Only a listing of the grants themselves failing stops the walk (exit 2, no
            // report at all, so nothing can claim to be safe).
            not_run += 1;
            continue;
        };
        assert_honest(&report, None);
        assert_more_cautious(&clean, &report);
        if report["complete"] == false {
            incomplete += 1;
        }
        let (before, after) = (verdicts(&clean), verdicts(&report));
        to_unknown += before
            .iter()
            .filter(|(name, v)| after[*name] != **v)
            .count();
        // A complete report must be the clean one's verdicts exactly.
        if report["complete"] == true {
            assert_eq!(after, before, "seed {seed}: complete but different");
        }
    }
    eprintln!(
        "A19: {SEEDS} seeds, {injected} faults applied, {incomplete} incomplete reports, \
         {not_run} runs stopped, {to_unknown} verdicts moved to unknown (none elsewhere)"
    );
    assert!(injected > 0, "the emulator applied faults");
    assert!(incomplete > 0, "the mix did produce gaps");
}

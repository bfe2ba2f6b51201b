//! A client started at 10x the emulator's QPS cap (1,000 against 100) walks a small generated
//! account to the end, complete, and counts exactly the throttled answers the emulator logged.
//! In-process: the library's client against a started emulator. How many are throttled
//! depends on the machine's speed (the cap is a real-time window), so that share is a
//! benchmark figure (`scripts/bench.sh`, `examples/rate_convergence.rs`), not asserted here;
//! the limiter's logic is unit-tested in paused time (`src/client/rate.rs`).

use grantguard::client::{Client, ClientConfig, Endpoint};
use grantguard::credentials::Credentials;
use grantguard::inventory::walk::{walk, WalkOptions};
use grantguard::inventory::RegionId;
use grantguard_sim::generate::{self, GenerateOptions};
use grantguard_sim::{Faults, Fixture, Sim, SimOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn started_at_ten_times_the_cap_a_walk_finishes_complete() {
    let fixture = Fixture::from_json(&generate::fixture_json(&GenerateOptions {
        groups: 3,
        apis_per_group: 12,
        stages: 3,
        grants: 6,
        vpc_share: 0.4,
        seed: 11,
    }))
    .unwrap();
    let sim = Sim::start(
        fixture,
        SimOptions {
            faults: Faults {
                qps: Some(100),
                ..Faults::default()
            },
            env_credentials: false,
            ..SimOptions::default()
        },
    )
    .unwrap();

    let mut config = ClientConfig::new(Endpoint::parse(&sim.url()).unwrap());
    config.qps = 1000.0;
    config.concurrency = 8;
    let client = Client::new(
        config,
        Credentials::new(
            generate::ACCESS_KEY_ID.into(),
            generate::ACCESS_KEY_SECRET.into(),
            None,
        ),
    )
    .unwrap();

    let inventory = walk(
        &client,
        &RegionId::from("cn-hangzhou"),
        &WalkOptions::default(),
    )
    .await
    .expect("the walk completes");
    assert!(inventory.is_complete(), "gaps: {:?}", inventory.gaps);

    let stats = client.stats();
    let throttled = sim
        .log()
        .iter()
        .filter(|r| {
            r.error_code
                .as_deref()
                .is_some_and(|c| c.starts_with("Throttling"))
        })
        .count() as u64;
    eprintln!(
        "{} requests, {throttled} throttled ({:?})",
        stats.requests, stats
    );
    assert_eq!(stats.throttled, throttled, "client and emulator agree");
    assert_eq!(
        stats.requests,
        sim.log().len() as u64,
        "every request reached the emulator once"
    );
    assert!(stats.requests > 200, "the account is big enough to matter");
}

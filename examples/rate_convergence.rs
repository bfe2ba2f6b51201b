//! Benchmark figure (run by `scripts/bench.sh`): how many answers are throttled when a client
//! starts at 10x the emulator's QPS cap (1,000 against 100) and its adaptive rate limiter
//! settles. The cap is a real-time window, so the share depends on the machine: a figure to
//! print and compare, not a test. Prints one JSON object on stdout.
//! `cargo run --release --example rate_convergence`

use grantguard::client::{Client, ClientConfig, Endpoint};
use grantguard::credentials::Credentials;
use grantguard::inventory::walk::{walk, WalkOptions};
use grantguard::inventory::RegionId;
use grantguard_sim::generate::{self, GenerateOptions};
use grantguard_sim::{Faults, Fixture, Sim, SimOptions};
use std::time::Instant;

const SIM_QPS: u32 = 100;
const CLIENT_QPS: f64 = 1000.0;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let fixture = Fixture::from_json(&generate::fixture_json(&GenerateOptions {
        groups: 3,
        apis_per_group: 12,
        stages: 3,
        grants: 6,
        vpc_share: 0.4,
        seed: 11,
    }))
    .expect("a generated account");
    let sim = Sim::start(
        fixture,
        SimOptions {
            faults: Faults {
                qps: Some(SIM_QPS),
                ..Faults::default()
            },
            env_credentials: false,
            ..SimOptions::default()
        },
    )
    .expect("the emulator starts");
    let mut config = ClientConfig::new(Endpoint::parse(&sim.url()).expect("loopback URL"));
    config.qps = CLIENT_QPS;
    config.concurrency = 8;
    let client = Client::new(
        config,
        Credentials::new(
            generate::ACCESS_KEY_ID.into(),
            generate::ACCESS_KEY_SECRET.into(),
            None,
        ),
    )
    .expect("a client");
    let started = Instant::now();
    let inventory = walk(
        &client,
        &RegionId::from("cn-hangzhou"),
        &WalkOptions::default(),
    )
    .await
    .expect("the walk runs");
    let wall = started.elapsed().as_secs_f64();
    let stats = client.stats();
    println!(
        "{}",
        serde_json::json!({
            "sim_qps": SIM_QPS,
            "client_start_qps": CLIENT_QPS,
            "complete": inventory.is_complete(),
            "requests": stats.requests,
            "throttled": stats.throttled,
            "throttled_share": (stats.throttled as f64 / stats.requests.max(1) as f64 * 1e4).round() / 1e4,
            "wall_s": (wall * 1e3).round() / 1e3,
        })
    );
}

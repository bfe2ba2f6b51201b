//! Benchmark figure (run by `scripts/bench.sh`): how closely the per-attempt timeout ends an
//! attempt in real time (docs/fault-model.md A3, A4). Walks the basic account with a 2 s
//! per-attempt timeout and two attempts per call while the emulator holds every answer for
//! `getOrder`'s definition: trickled one byte per 500 ms (slowloris; the idle timeout is 10 s,
//! so only the total can end it), then never answered (hang). The emulator times each held
//! answer from its arrival to the moment the client let go. Prints one JSON object on stdout.
//! `cargo run --release --example timeout_precision`

use grantguard::client::{Client, ClientConfig, Endpoint};
use grantguard::credentials::Credentials;
use grantguard::inventory::walk::{walk, WalkOptions};
use grantguard::inventory::RegionId;
use grantguard_sim::{Faults, Fixture, Sim, SimOptions, Stall};
use std::time::{Duration, Instant};

const GET_ORDER: &str = "3b81fd160f5645e097cc8855d75a1cf6";
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
const ATTEMPTS: u32 = 2;

/// Walks the account under `faults`; the held answers and the walk's wall time.
async fn held(faults: Faults) -> (Vec<Stall>, Duration) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/basic-account.json"
    );
    let fixture = Fixture::from_path(path.as_ref()).expect("the bundled fixture");
    let credential = fixture.credentials[0].clone();
    let sim = Sim::start(
        fixture,
        SimOptions {
            faults,
            env_credentials: false,
            ..SimOptions::default()
        },
    )
    .expect("the emulator starts");
    let mut config = ClientConfig::new(Endpoint::parse(&sim.url()).expect("loopback URL"));
    config.qps = 0.0;
    config.attempt_timeout = ATTEMPT_TIMEOUT;
    config.read_timeout = Duration::from_secs(10);
    config.max_attempts = ATTEMPTS;
    let client = Client::new(
        config,
        Credentials::new(
            credential.access_key_id,
            credential.access_key_secret,
            credential.security_token,
        ),
    )
    .expect("a client");
    let started = Instant::now();
    let _ = walk(
        &client,
        &RegionId::from("cn-hangzhou"),
        &WalkOptions::default(),
    )
    .await;
    let wall = started.elapsed();
    drop(client);
    // The emulator notices a closed connection within milliseconds.
    let deadline = Instant::now() + Duration::from_secs(5);
    while sim.stalls().iter().any(|s| s.held.is_none()) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (sim.stalls(), wall)
}

fn seconds(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e3).round() / 1e3
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let (slow, _) = held(Faults {
        slowloris: vec![format!("DescribeApi:{GET_ORDER}=500ms")
            .parse()
            .expect("a rule")],
        ..Faults::default()
    })
    .await;
    let (hung, wall) = held(Faults {
        hang: vec![format!("DescribeApi:{GET_ORDER}=always")
            .parse()
            .expect("a rule")],
        ..Faults::default()
    })
    .await;
    let attempts = |stalls: &[Stall]| -> Vec<f64> {
        stalls
            .iter()
            .map(|s| s.held.map_or(f64::NAN, seconds))
            .collect()
    };
    // The first call's span: from its first attempt's arrival to the last one given up.
    let span = hung
        .get(ATTEMPTS as usize - 1)
        .and_then(|last| Some(last.arrived + last.held? - hung[0].arrived))
        .map(seconds);
    println!(
        "{}",
        serde_json::json!({
            "attempt_timeout_s": ATTEMPT_TIMEOUT.as_secs_f64(),
            "attempts": ATTEMPTS,
            "slowloris_held_s": attempts(&slow),
            "slowloris_bytes": slow.iter().map(|s| s.bytes_sent).collect::<Vec<_>>(),
            "hang_held_s": attempts(&hung),
            "hang_call_span_s": span,
            "hang_walk_wall_s": seconds(wall),
        })
    );
}

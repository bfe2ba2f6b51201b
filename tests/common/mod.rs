//! Shared test harness: start the emulator in-process on an ephemeral loopback port, run the
//! real binary against it with a cleared environment and the fixture's test credentials, and
//! check the invariants every fault test must hold (docs/fault-model.md I1–I7, where they apply).
#![allow(dead_code)]

use assert_cmd::Command;
use grantguard_sim::fixture::{Route, VpcRoute};
use grantguard_sim::{Account, Faults, Fixture, FixtureCredential, Sim, SimOptions};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Path of a fixture under `tests/fixtures/`.
pub fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A fixture under `tests/fixtures/`.
pub fn fixture(name: &str) -> Fixture {
    Fixture::from_path(&fixture_path(name)).unwrap_or_else(|e| panic!("fixture {name}: {e:?}"))
}

/// A running emulator and the credential tests sign with (the fixture's first one).
pub struct TestSim {
    /// The emulator.
    pub sim: Sim,
    /// The credential.
    pub credential: FixtureCredential,
}

impl std::ops::Deref for TestSim {
    type Target = Sim;
    fn deref(&self) -> &Sim {
        &self.sim
    }
}

/// The emulator serving `name`, accepting only the fixture's credentials.
pub fn start(name: &str) -> TestSim {
    start_with(fixture(name), SimOptions::default())
}

/// The emulator serving `fixture` with `options` (environment credentials off, so a test never
/// depends on the shell it runs in).
pub fn start_with(fixture: Fixture, options: SimOptions) -> TestSim {
    let credential = fixture
        .credentials
        .first()
        .expect("fixture has a credential")
        .clone();
    let sim = Sim::start(
        fixture,
        SimOptions {
            env_credentials: false,
            ..options
        },
    )
    .expect("emulator starts");
    TestSim { sim, credential }
}

/// The emulator serving fixture `name` with `faults`.
pub fn faulted(name: &str, faults: Faults) -> TestSim {
    start_with(
        fixture(name),
        SimOptions {
            faults,
            ..SimOptions::default()
        },
    )
}

/// Publishes a new API to RELEASE routing through `grant` (the "someone deployed meanwhile"
/// race, docs/fault-model.md R9's hook); returns its id.
pub fn publish_new_api(account: &mut Account, grant: &str) -> String {
    let id = account.add_api(
        "orders",
        "apiNew",
        Route::Vpc(VpcRoute {
            name: Some(grant.to_owned()),
            vpc_id: None,
            instance_id: None,
            port: None,
            enabled: true,
        }),
    );
    account.publish(&id, "RELEASE", None, "2024-06-01T00:00:00Z");
    id
}

/// A temporary HOME, so no real `~/.aliyun` or state directory is ever read or written.
pub struct Home(pub tempfile::TempDir);

impl Home {
    /// A fresh empty home.
    pub fn new() -> Home {
        Home(tempfile::tempdir().expect("temp home"))
    }
    /// Its path.
    pub fn path(&self) -> &Path {
        self.0.path()
    }
    /// The journal file the removal tests pass with `--journal`.
    pub fn journal(&self) -> PathBuf {
        self.path().join("journal.jsonl")
    }
}

/// The journal's records (the `record` of every line), decoded without the crate's types.
pub fn journal_records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("journal line is JSON")["record"].clone())
        .collect()
}

/// The `state` of every journal record, in order.
pub fn journal_states(path: &Path) -> Vec<String> {
    journal_records(path)
        .iter()
        .map(|r| {
            r["state"]
                .as_str()
                .expect("a record has a state")
                .to_owned()
        })
        .collect()
}

/// The binary, with a cleared environment, the fixture's first credential, the emulator as
/// endpoint, no rate limit and no colour.
pub fn grantguard(sim: &TestSim, home: &Home) -> Command {
    let mut cmd = bare(home);
    let (id, secret, token) = credential(sim);
    cmd.env("ALIBABA_CLOUD_ACCESS_KEY_ID", id)
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", secret)
        .env("ALIBABA_CLOUD_REGION_ID", "cn-hangzhou")
        .env("GRANTGUARD_ENDPOINT", sim.url());
    if let Some(token) = token {
        cmd.env("ALIBABA_CLOUD_SECURITY_TOKEN", token);
    }
    cmd
}

/// The binary as a plain `std::process::Command` (to spawn, signal or wait for it by pid), with
/// the same environment as [`grantguard`].
pub fn std_grantguard(sim: &TestSim, home: &Home) -> std::process::Command {
    let (id, secret, token) = credential(sim);
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_grantguard"));
    cmd.env_clear()
        .env("HOME", home.path())
        .env("NO_COLOR", "1")
        .env("GRANTGUARD_QPS", "0")
        .env("GRANTGUARD_CONCURRENCY", "8")
        .env("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", id)
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", secret)
        .env("ALIBABA_CLOUD_REGION_ID", "cn-hangzhou")
        .env("GRANTGUARD_ENDPOINT", sim.url())
        .current_dir(home.path());
    if let Some(token) = token {
        cmd.env("ALIBABA_CLOUD_SECURITY_TOKEN", token);
    }
    cmd
}

/// The binary with a cleared environment and nothing else but HOME.
pub fn bare(home: &Home) -> Command {
    let mut cmd = Command::cargo_bin("grantguard").expect("binary built");
    cmd.env_clear()
        .env("HOME", home.path())
        .env("NO_COLOR", "1")
        .env("GRANTGUARD_QPS", "0")
        .env("GRANTGUARD_CONCURRENCY", "8")
        // Off ECS the metadata step of the chain would wait for 100.100.100.200 to time out.
        .env("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
        .current_dir(home.path())
        .timeout(std::time::Duration::from_secs(60));
    cmd
}

/// The credential the harness uses: the fixture's first one.
pub fn credential(sim: &TestSim) -> (String, String, Option<String>) {
    let c = sim.credential.clone();
    (c.access_key_id, c.access_key_secret, c.security_token)
}

/// Standard output as text.
pub fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The JSON report on stdout.
pub fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            stdout(out),
            stderr(out)
        )
    })
}

/// Verdict per grant name.
pub fn verdicts(report: &Value) -> BTreeMap<String, String> {
    report["grants"]
        .as_array()
        .expect("grants array")
        .iter()
        .map(|g| {
            (
                g["name"].as_str().unwrap().to_owned(),
                g["verdict"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Rule ids found for the grant named `name`.
pub fn rules_of(report: &Value, name: &str) -> Vec<String> {
    report["grants"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["name"] == name)
        .flat_map(|g| g["findings"].as_array().unwrap().iter())
        .map(|f| f["rule"].as_str().unwrap().to_owned())
        .collect()
}

/// docs/fault-model.md I1: under a fault that does not change the account, a verdict only moves toward
/// `unknown`: never blocked→safe, unknown→safe or safe→blocked.
pub fn assert_more_cautious(clean: &Value, faulted: &Value) {
    let (clean, faulted) = (verdicts(clean), verdicts(faulted));
    assert_eq!(
        clean.keys().collect::<Vec<_>>(),
        faulted.keys().collect::<Vec<_>>(),
        "same grants"
    );
    for (name, before) in &clean {
        let after = &faulted[name];
        assert!(
            after == before || after == "unknown",
            "I1: {name} went from {before} to {after}"
        );
    }
}

/// docs/fault-model.md I2: `complete` is true exactly when there is no gap, and exit 0 means complete
/// and every grant safe.
pub fn assert_honest(report: &Value, exit: Option<i32>) {
    let gaps = report["gaps"].as_array().expect("gaps array");
    assert_eq!(
        report["complete"].as_bool(),
        Some(gaps.is_empty()),
        "I2: complete == no gaps"
    );
    if exit == Some(0) {
        assert!(gaps.is_empty(), "I2: exit 0 with gaps");
        assert!(
            verdicts(report).values().all(|v| v == "safe"),
            "I2: exit 0 with a grant not safe"
        );
    }
}

/// docs/fault-model.md I5: the secret, the token, the full AccessKeyId and every Signature the emulator
/// saw appear in none of `texts`.
pub fn assert_no_secret(sim: &TestSim, texts: &[&str]) {
    let (id, secret, token) = credential(sim);
    let mut needles = vec![secret, id];
    needles.extend(token);
    needles.extend(
        sim.log()
            .into_iter()
            .filter_map(|r| r.signature)
            .filter(|s| s.len() > 8),
    );
    for text in texts {
        for needle in &needles {
            assert!(
                !text.contains(needle.as_str()),
                "I5: a secret or signature leaked"
            );
        }
    }
}

/// docs/fault-model.md I6: no SignatureNonce was sent twice and none was refused as reused.
pub fn assert_nonces_unique(sim: &Sim) {
    let log = sim.log();
    let mut seen = std::collections::HashSet::new();
    for record in &log {
        if let Some(nonce) = &record.nonce {
            assert!(seen.insert(nonce.clone()), "I6: nonce {nonce} reused");
        }
        assert_ne!(
            record.error_code.as_deref(),
            Some("SignatureNonceUsed"),
            "I6: SignatureNonceUsed"
        );
    }
}

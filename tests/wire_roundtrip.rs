//! The wire both ways, end to end: grantguard's signed client against the emulator (in-process
//! and as `grantguard sim serve`), and what the CLI does when the credentials or the endpoint
//! are wrong (docs/fault-model.md R11, A8): exit 2, a message that says what to fix, no secret printed,
//! and no call made when none should be.

mod common;
use common::*;
use grantguard::client::{Client, ClientConfig, Endpoint};
use grantguard::credentials::Credentials;
use grantguard_sim::SignatureVersion;
use grantguard_wire::actions::DescribeVpcAccesses;
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

/// A canary secret: unique enough that finding it in any output can only be a leak.
const CANARY_SECRET: &str = "GGCANARY-SECRET-wire-7f3a9c";

/// (Name, VpcId, InstanceId, Port) of every grant, as the fixture file writes them.
fn fixture_grants(name: &str) -> BTreeSet<(String, String, String, u16)> {
    let text = std::fs::read_to_string(fixture_path(name)).expect("fixture readable");
    let json: Value = serde_json::from_str(&text).expect("fixture is JSON");
    json["grants"]
        .as_array()
        .expect("grants")
        .iter()
        .map(|g| {
            (
                g["name"].as_str().unwrap().to_owned(),
                g["vpc_id"].as_str().unwrap().to_owned(),
                g["instance_id"].as_str().unwrap().to_owned(),
                g["port"].as_u64().unwrap() as u16,
            )
        })
        .collect()
}

/// Text with miette's line wrapping undone, so a phrase can be searched whatever the width.
fn one_line(text: &str) -> String {
    text.split_whitespace()
        .filter(|w| !matches!(*w, "│" | "×"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A library client for `url` signing with the given key, without rate limit or backoff waits.
fn client(url: &str, id: &str, secret: &str, token: Option<String>) -> Client {
    let mut config = ClientConfig::new(Endpoint::parse(url).expect("loopback endpoint"));
    config.qps = 0.0;
    config.backoff_base = std::time::Duration::from_millis(1);
    config.backoff_cap = std::time::Duration::from_millis(5);
    Client::new(config, Credentials::new(id.into(), secret.into(), token)).expect("client")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Reads every grant with both one signed call and the pager; both see the fixture's grants.
fn read_grants(client: &Client) -> (Vec<(String, String, String, u16)>, usize) {
    runtime().block_on(async {
        let one = client
            .read(&DescribeVpcAccesses {
                page: Some((1, 100)),
                ..DescribeVpcAccesses::default()
            })
            .await
            .expect("signed DescribeVpcAccesses succeeds");
        let all = client
            .pages(DescribeVpcAccesses::default())
            .await
            .expect("paged DescribeVpcAccesses succeeds");
        let tuples = one
            .vpc_access_attributes
            .items
            .iter()
            .map(|g| {
                (
                    g.name.clone(),
                    g.vpc_id.clone(),
                    g.instance_id.clone(),
                    g.port,
                )
            })
            .collect();
        (tuples, all.len())
    })
}

#[test]
fn a_signed_round_trip_reads_the_fixture_grants() {
    let sim = start("basic-account.json");
    let (id, secret, token) = credential(&sim);
    let (grants, paged) = read_grants(&client(&sim.url(), &id, &secret, token));

    let want = fixture_grants("basic-account.json");
    assert_eq!(grants.iter().cloned().collect::<BTreeSet<_>>(), want);
    assert_eq!(grants.len(), want.len(), "no grant twice");
    assert_eq!(paged, want.len(), "the pager sees the same grants");

    let log = sim.log();
    assert!(!log.is_empty());
    for record in &log {
        assert_eq!(record.status, 200, "{record:?}");
        assert_eq!(
            record.method, "POST",
            "grantguard sends POST (docs/cloudapi-notes.md §1.2)"
        );
        assert_eq!(record.signature_version, Some(SignatureVersion::V1));
        assert_eq!(record.access_key_id.as_deref(), Some(id.as_str()));
    }
    assert_nonces_unique(&sim);
}

#[test]
fn the_sts_credential_signs_with_its_token() {
    let sim = start("basic-account.json");
    let sts = fixture("basic-account.json")
        .credentials
        .into_iter()
        .find(|c| c.security_token.is_some())
        .expect("the basic account has an STS credential");
    let (grants, _) = read_grants(&client(
        &sim.url(),
        &sts.access_key_id,
        &sts.access_key_secret,
        sts.security_token.clone(),
    ));
    assert_eq!(grants.len(), fixture_grants("basic-account.json").len());

    // The same key without its token is refused: the token is really checked.
    let without = client(&sim.url(), &sts.access_key_id, &sts.access_key_secret, None);
    let error = runtime()
        .block_on(without.read(&DescribeVpcAccesses::default()))
        .expect_err("a missing STS token is refused");
    assert_eq!(error.action, "DescribeVpcAccesses");
    assert!(error.code.contains("SecurityToken"), "code {}", error.code);
}

/// `grantguard sim serve` as a child process; killed and reaped on drop.
struct Served {
    child: Child,
    url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(fixture: &str, home: &Home) -> Served {
    serve_with(fixture, home, &[])
}

fn serve_with(fixture: &str, home: &Home, extra: &[&str]) -> Served {
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("grantguard"))
        .args(["sim", "serve", "--fixture"])
        .arg(fixture_path(fixture))
        .args(extra)
        .env_clear()
        .env("HOME", home.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("sim serve starts");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout piped"))
        .read_line(&mut first)
        .expect("a first line");
    // Owned from here on, so a failed assertion below still kills the child.
    let mut served = Served {
        child,
        url: String::new(),
    };
    let rest = first
        .trim_end()
        .strip_prefix("listening on http://127.0.0.1:")
        .unwrap_or_else(|| {
            panic!("first line is {first:?}, want 'listening on http://127.0.0.1:PORT'")
        });
    let port: u16 = rest.parse().expect("the first line ends in a port");
    assert_ne!(port, 0, "an ephemeral port was bound");
    served.url = format!("http://127.0.0.1:{port}/");
    served
}

#[test]
fn sim_serve_prints_its_address_first_and_answers_a_signed_call() {
    let home = Home::new();
    let served = serve("basic-account.json", &home);
    let fx = fixture("basic-account.json");
    let c = &fx.credentials[0];
    let (grants, _) = read_grants(&client(
        &served.url,
        &c.access_key_id,
        &c.access_key_secret,
        c.security_token.clone(),
    ));
    assert_eq!(
        grants.into_iter().collect::<BTreeSet<_>>(),
        fixture_grants("basic-account.json")
    );
}

#[test]
fn a_wrong_secret_exits_2_naming_the_code_and_the_fix_without_printing_the_secret() {
    let sim = start("basic-account.json");
    let home = Home::new();
    let out = grantguard(&sim, &home)
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", CANARY_SECRET)
        .args(["audit", "--format", "json"])
        .output()
        .unwrap();
    let (stdout, stderr) = (stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    let prose = one_line(&stderr);
    assert!(prose.contains("SignatureDoesNotMatch"), "{stderr}");
    assert!(prose.contains("check the secret"), "{stderr}");
    assert!(
        !stderr.contains("server string to sign"),
        "the server's string-to-sign is not echoed"
    );
    for text in [&stdout, &stderr] {
        assert!(!text.contains(CANARY_SECRET), "the secret leaked");
    }
    assert_no_secret(&sim, &[&stdout, &stderr]);
    // Bad credentials stop the run: no retries, at most one call per slot in flight.
    let log = sim.log();
    assert!(!log.is_empty() && log.len() <= 8, "{} calls", log.len());
    assert!(log
        .iter()
        .all(|r| r.error_code.as_deref() == Some("SignatureDoesNotMatch")));
    assert_nonces_unique(&sim);
}

#[test]
fn an_unknown_access_key_id_exits_2() {
    let sim = start("basic-account.json");
    let home = Home::new();
    let out = grantguard(&sim, &home)
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI5tNoSuchKeyIdGG0001")
        .args(["audit", "--format", "json"])
        .output()
        .unwrap();
    let stderr = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(stderr.contains("InvalidAccessKeyId.NotFound"), "{stderr}");
    assert!(
        !stderr.contains("LTAI5tNoSuchKeyIdGG0001"),
        "the AccessKeyId is shown masked at most"
    );
    let log = sim.log();
    assert!(!log.is_empty() && log.len() <= 8, "{} calls", log.len());
}

#[test]
fn no_credentials_exits_2_before_any_call_and_says_where_they_come_from() {
    let sim = start("basic-account.json");
    let home = Home::new();
    let out = bare(&home)
        .env("ALIBABA_CLOUD_REGION_ID", "cn-hangzhou")
        .env("GRANTGUARD_ENDPOINT", sim.url())
        .args(["audit", "--format", "json"])
        .output()
        .unwrap();
    let stderr = one_line(&stderr(&out));
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    for needle in [
        "ALIBABA_CLOUD_ACCESS_KEY_ID",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
        "--profile",
    ] {
        assert!(stderr.contains(needle), "stderr names {needle}: {stderr}");
    }
    assert!(sim.log().is_empty(), "no call without credentials");
    assert!(stdout(&out).is_empty(), "no report");
}

#[test]
fn plain_http_to_a_non_loopback_endpoint_is_refused_with_exit_2() {
    // The validator refuses while parsing the flag, before any client or connector exists,
    // so nothing is ever sent to this address (docs/fault-model.md A8).
    let home = Home::new();
    let out = bare(&home)
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI5tTestAccessKeyId")
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", CANARY_SECRET)
        .env("ALIBABA_CLOUD_REGION_ID", "cn-hangzhou")
        .args(["audit", "--endpoint", "http://10.1.2.3", "--format", "json"])
        .timeout(std::time::Duration::from_secs(10))
        .output()
        .unwrap();
    let stderr = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(stderr.contains("loopback"), "{stderr}");
    assert!(stderr.contains("10.1.2.3"), "{stderr}");
    assert!(!stderr.contains(CANARY_SECRET));
    assert!(stdout(&out).is_empty(), "no report");
}

/// The fault flags of `sim serve` reach the emulator: an oversized answer is refused by the
/// client's size cap (docs/fault-model.md R5 from the command line), and a rule that does not parse stops
/// `sim serve` with exit 2 naming the flag.
#[test]
fn sim_serve_fault_flags_apply_and_bad_rules_are_refused() {
    let home = Home::new();
    let served = serve_with(
        "basic-account.json",
        &home,
        &["--oversize", "DescribeVpcAccesses=2MiB"],
    );
    let fx = fixture("basic-account.json");
    let c = &fx.credentials[0];
    let out = bare(&home)
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", &c.access_key_id)
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", &c.access_key_secret)
        .env("ALIBABA_CLOUD_REGION_ID", "cn-hangzhou")
        .env("GRANTGUARD_ENDPOINT", &served.url)
        .args(["audit", "--max-response-bytes", "1MiB"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "nothing could be listed: {}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("ResponseTooLarge"),
        "{}",
        stderr(&out)
    );

    drop(served);

    // --reset and --sts-expire-after act, as the emulator's call log (--log) shows: the access
    // key's audit meets one reset DescribeApi and retries it; the STS credential's calls are
    // answered until the third, then refused as expired.
    let log = home.path().join("calls.jsonl");
    let served = serve_with(
        "basic-account.json",
        &home,
        &[
            "--reset",
            "DescribeApi=once",
            "--sts-expire-after",
            "3",
            "--log",
            log.to_str().unwrap(),
        ],
    );
    let audit = |c: &grantguard_sim::FixtureCredential| {
        let mut cmd = bare(&home);
        cmd.env("ALIBABA_CLOUD_ACCESS_KEY_ID", &c.access_key_id)
            .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", &c.access_key_secret)
            .env("ALIBABA_CLOUD_REGION_ID", "cn-hangzhou")
            .env("GRANTGUARD_ENDPOINT", &served.url);
        if let Some(token) = &c.security_token {
            cmd.env("ALIBABA_CLOUD_SECURITY_TOKEN", token);
        }
        cmd.args(["audit", "--format", "json"]).output().unwrap()
    };
    let faults_logged = || -> Vec<(String, String)> {
        std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|r| r["fault"].is_string())
            .map(|r| {
                (
                    r["action"].as_str().unwrap().to_owned(),
                    r["fault"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let out = audit(&fx.credentials[0]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "blocked grants: {}",
        stderr(&out)
    );
    assert_eq!(json(&out)["complete"], true, "the reset call was retried");
    assert_eq!(
        faults_logged(),
        [("DescribeApi".to_owned(), "reset".to_owned())]
    );
    let sts = fx
        .credentials
        .iter()
        .find(|c| c.security_token.is_some())
        .expect("the fixture has an STS credential");
    let out = audit(sts);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("InvalidSecurityToken.Expired"),
        "{}",
        stderr(&out)
    );
    let expired = faults_logged()
        .into_iter()
        .filter(|(_, fault)| fault == "sts_expire_after")
        .count();
    assert!(expired >= 1, "the token expired after three calls");
    drop(served);

    let out = bare(&home)
        .args(["sim", "serve", "--fixture"])
        .arg(fixture_path("basic-account.json"))
        .args(["--reset", "DescribeApi=sometimes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--reset"), "{}", stderr(&out));
}

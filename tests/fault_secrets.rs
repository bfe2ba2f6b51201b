//! docs/fault-model.md R12 (and I5 for the rest of the matrix): with canary credentials, every command
//! and the failure paths of R2 (Forbidden group), A2 (truncated body), R7 (clock skew) and
//! R11(b) (wrong secret), run at `-vvv` with `RUST_LOG=trace`, print and write none of: the
//! secret, the STS token, the full AccessKeyId, or any `Signature` value the emulator logged.
//! Every captured stream and every file under the temporary HOME is searched.

mod common;
use common::*;
use grantguard_sim::{Faults, FixtureCredential, SimOptions};
use std::path::Path;

/// Canary credentials with a per-run random suffix, so a match can only be a leak.
struct Canary {
    id: String,
    secret: String,
    token: String,
}

impl Canary {
    fn new() -> Canary {
        let tag = format!("{:016x}", rand::random::<u64>());
        Canary {
            id: format!("STS.GGCANARYAK{tag}"),
            secret: format!("GGCANARY-SECRET-{tag}"),
            token: format!("GGCANARY-TOKEN-{tag}"),
        }
    }
}

/// The basic account accepting only `canary`, with `faults`.
fn canary_sim(canary: &Canary, faults: Faults) -> TestSim {
    let mut fixture = fixture("basic-account.json");
    fixture.credentials = vec![FixtureCredential {
        access_key_id: canary.id.clone(),
        access_key_secret: canary.secret.clone(),
        security_token: Some(canary.token.clone()),
    }];
    start_with(
        fixture,
        SimOptions {
            faults,
            ..SimOptions::default()
        },
    )
}

/// Every regular file under `dir`, recursively, as (path, bytes).
fn files_under(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(path),
                Ok(t) if t.is_file() => {
                    out.push((path.display().to_string(), std::fs::read(&path).unwrap()))
                }
                _ => {}
            }
        }
    }
    out
}

/// Runs the binary at maximum verbosity with `args`; returns (exit, stdout + stderr).
fn run_loud(sim: &TestSim, home: &Home, args: &[&str]) -> (Option<i32>, String) {
    let out = grantguard(sim, home)
        .env("RUST_LOG", "trace")
        .arg("-vvv")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        format!("{}\n{}", stdout(&out), stderr(&out)),
    )
}

/// Searches `texts` and every file under `home` for the canaries, `extra` needles and every
/// Signature the emulator logged; returns how many texts and files were searched.
fn assert_clean(
    sim: &TestSim,
    canary: &Canary,
    extra: &[&str],
    home: &Home,
    texts: &[String],
) -> usize {
    let mut needles: Vec<String> = vec![
        canary.id.clone(),
        canary.secret.clone(),
        canary.token.clone(),
    ];
    needles.extend(extra.iter().map(|s| s.to_string()));
    let signatures: Vec<String> = sim
        .log()
        .into_iter()
        .filter_map(|r| r.signature)
        .filter(|s| s.len() > 8)
        .collect();
    assert!(
        !signatures.is_empty(),
        "the emulator logged signatures to look for"
    );
    needles.extend(signatures);
    // The tail of the secret too: a leak that truncates or wraps must still be caught.
    needles.push(canary.secret["GGCANARY-SECRET-".len()..].to_owned());
    let files = files_under(home.path());
    let mut searched = 0;
    for (i, text) in texts.iter().enumerate() {
        searched += 1;
        for needle in &needles {
            assert!(
                !text.contains(needle.as_str()),
                "I5: output {i} leaks {}…",
                &needle[..6]
            );
        }
    }
    for (path, bytes) in &files {
        searched += 1;
        let text = String::from_utf8_lossy(bytes);
        for needle in &needles {
            assert!(
                !text.contains(needle.as_str()),
                "I5: {path} leaks {}…",
                &needle[..6]
            );
        }
    }
    // The full key id never appears, but its masked form (last 4) may.
    searched
}

#[test]
fn canary_credentials_never_leak_from_any_command_at_trace_verbosity() {
    let canary = Canary::new();
    let sim = canary_sim(&canary, Faults::default());
    let home = Home::new();
    let mut texts = Vec::new();
    let runs: &[(&[&str], Option<i32>)] = &[
        (&["whoami"], Some(0)),
        (&["scan", "--output", "inventory.json"], Some(0)),
        (
            &["audit", "--format", "json", "--output", "report.json"],
            Some(1),
        ),
        (
            &["audit", "--format", "sarif", "--output", "report.sarif"],
            Some(1),
        ),
        (&["audit"], Some(1)),
        (&["graph"], None),
        (
            &[
                "remove",
                "--name",
                "legacy-unused-443",
                "--dry-run",
                "--journal",
                "journal.jsonl",
            ],
            Some(0),
        ),
        (
            &[
                "remove",
                "--name",
                "legacy-unused-443",
                "--yes",
                "--journal",
                "journal.jsonl",
            ],
            Some(0),
        ),
        (&["journal", "--journal", "journal.jsonl"], None),
        (&["restore", "--journal", "journal.jsonl"], Some(0)),
        (&["journal", "--journal", "journal.jsonl"], None),
    ];
    for (args, want) in runs {
        let (code, text) = run_loud(&sim, &home, args);
        if let Some(want) = want {
            assert_eq!(code, Some(*want), "{args:?}:\n{text}");
        }
        assert_ne!(code, Some(101), "{args:?} panicked:\n{text}");
        texts.push(text);
    }
    // The run really was loud (trace output reached stderr) and touched the account.
    assert!(
        texts
            .iter()
            .any(|t| t.contains("TRACE") || t.contains("DEBUG")),
        "verbose output was produced"
    );
    assert_eq!(sim.calls("RemoveVpcAccess"), 1);
    assert_eq!(sim.calls("SetVpcAccess"), 1);
    assert!(home.path().join("journal.jsonl").exists());
    assert!(home.path().join("inventory.json").exists());
    let searched = assert_clean(&sim, &canary, &[], &home, &texts);
    assert!(
        searched >= texts.len() + 4,
        "outputs and files were searched"
    );
}

#[test]
fn canary_credentials_never_leak_from_the_failure_paths() {
    let canary = Canary::new();
    // R2: a group answers Forbidden.RAM; A2: an answer is cut mid-body.
    let faults = Faults {
        fail: vec![
            "DescribeApis:be6d2abcc0dd4f749fc2d2edd6567164=Forbidden.RAM"
                .parse()
                .unwrap(),
        ],
        corrupt: vec![
            "DescribeApis:927d50c0f2e54b359919923d908bb015=truncated-json"
                .parse()
                .unwrap(),
        ],
        ..Faults::default()
    };
    let sim = canary_sim(&canary, faults);
    let home = Home::new();
    let mut texts = Vec::new();
    let (code, text) = run_loud(
        &sim,
        &home,
        &["audit", "--max-attempts", "2", "--format", "json"],
    );
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("Forbidden.RAM") && text.contains("ConnectionReset"),
        "{text}"
    );
    texts.push(text);
    let (code, text) = run_loud(
        &sim,
        &home,
        &[
            "remove",
            "--name",
            "legacy-unused-443",
            "--yes",
            "--max-attempts",
            "1",
            "--journal",
            "j.jsonl",
        ],
    );
    assert_eq!(code, Some(1), "refused while unknown: {text}");
    texts.push(text);

    // R7: the emulator's clock is 20 minutes ahead.
    let skewed = canary_sim(
        &canary,
        Faults {
            clock_offset_secs: Some(20 * 60),
            ..Faults::default()
        },
    );
    let (code, text) = run_loud(&skewed, &home, &["audit"]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("InvalidTimeStamp.Expired"), "{text}");
    texts.push(text);

    // R11(b): the right key id and token with a wrong secret; the server's answer carries its
    // string-to-sign, which holds the key id and the token.
    let wrong = format!("GGCANARY-SECRET-wrong-{:08x}", rand::random::<u32>());
    let out = grantguard(&sim, &home)
        .env("RUST_LOG", "trace")
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", &wrong)
        .args(["-vvv", "audit"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = format!("{}\n{}", stdout(&out), stderr(&out));
    assert!(text.contains("SignatureDoesNotMatch"), "{text}");
    assert!(!text.contains("string to sign is"), "{text}");
    texts.push(text);

    for s in [&sim, &skewed] {
        assert_clean(s, &canary, &[&wrong], &home, &texts);
        assert_nonces_unique(s);
    }
}

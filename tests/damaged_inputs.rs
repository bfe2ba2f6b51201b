//! Bad input through the binary: damaged local files (docs/fault-model.md, row L1), unusable
//! output paths (L3), a snapshot of another region, endpoint mistakes. Each gets one short
//! error that says what and where, exit 2, never a panic, never a file flooding the terminal.

mod common;

use common::*;

/// A compact (one-line) snapshot of a generated account, as `scan` writes them.
fn snapshot(home: &Home) -> String {
    let out = bare(home)
        .args(["sim", "generate", "--groups", "5", "--apis-per-group", "40"])
        .args(["--grants", "10", "--seed", "1", "--snapshot"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    // One line, like a snapshot written by `scan`.
    serde_json::to_string(&serde_json::from_str::<serde_json::Value>(&text).unwrap()).unwrap()
}

/// Exit 2 and one short error: no panic, no flood.
fn assert_short_error(what: &str, out: &std::process::Output) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "{what}: {err}");
    assert!(err.len() < 4096, "{what}: {} bytes of stderr", err.len());
    assert!(!err.contains("panicked"), "{what}: {err}");
}

fn audit_file(home: &Home, bytes: &[u8]) -> std::process::Output {
    let path = home.path().join("snap.json");
    std::fs::write(&path, bytes).unwrap();
    bare(home)
        .args(["audit", "--inventory"])
        .arg(&path)
        .output()
        .unwrap()
}

#[test]
fn a_damaged_snapshot_gives_one_short_error_with_the_position() {
    let home = Home::new();
    let text = snapshot(&home);
    assert!(
        text.len() > 80_000,
        "the snapshot is large enough to cut: {}",
        text.len()
    );
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated at 70 KB", text.as_bytes()[..70_000].to_vec()),
        ("truncated at 60 KB", text.as_bytes()[..60_000].to_vec()),
        (
            "a field of the wrong type",
            text.replacen("\"port\":", "\"port\":\"x\",\"_\":", 1)
                .into_bytes(),
        ),
        ("binary junk", (0..=255u8).cycle().take(50_000).collect()),
        ("one huge line of junk", vec![b'{'; 70_000]),
    ];
    for (what, bytes) in cases {
        let out = audit_file(&home, &bytes);
        let err = stderr(&out);
        assert_short_error(what, &out);
        assert!(err.contains("snap.json"), "{what}: {err}");
        assert!(stdout(&out).is_empty(), "{what}: no report");
        if what.starts_with("truncated") {
            assert!(err.contains("line 1, column"), "{what}: {err}");
        }
    }
}

#[test]
fn a_damaged_config_file_gives_one_short_error_with_the_position() {
    let home = Home::new();
    let snapshot_path = home.path().join("snap.json");
    std::fs::write(&snapshot_path, snapshot(&home)).unwrap();
    let long_value = format!(
        "{{\"severity\": {{\"GG103\": \"deny\"}}, \"x\": \"{}\", \"bogus\": 1}}",
        "a".repeat(70_000)
    );
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "one 70 KB line with an unknown key",
            long_value.into_bytes(),
        ),
        ("binary junk", (0..=255u8).cycle().take(5_000).collect()),
        ("truncated", b"{\"severity\": {\"GG103\": \"de".to_vec()),
        (
            "escape sequences in a bad value",
            b"{\"qps\": \"\x1b[31mred\x1b[0m\"}".to_vec(),
        ),
    ];
    for (what, bytes) in cases {
        std::fs::write(home.path().join("grantguard.json"), &bytes).unwrap();
        let out = bare(&home)
            .args(["audit", "--inventory"])
            .arg(&snapshot_path)
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_short_error(what, &out);
        assert!(
            !err.contains('\u{1b}'),
            "{what}: a raw escape reached the terminal"
        );
        assert!(stdout(&out).is_empty(), "{what}: no report");
    }
}

#[test]
fn an_unusable_output_path_is_refused_before_any_call() {
    // docs/fault-model.md, row L3: found after a walk, a typo costs the walk.
    let sim = start("basic-account.json");
    let home = Home::new();
    let missing = home.path().join("no-such-folder/report.json");
    let folder = home.path().to_path_buf();
    // Even root cannot create files in /proc: a folder that takes no new file.
    let unwritable = std::path::PathBuf::from("/proc/grantguard-report.json");
    for path in [&missing, &folder, &unwritable] {
        for command in [
            vec!["audit", "--format", "json", "--output"],
            vec!["scan", "--output"],
            vec!["remove", "--name", "legacy-unused-443", "--yes", "--output"],
            vec![
                "repoint",
                "--name",
                "legacy-unused-443",
                "--instance-id",
                "i-elsewhere",
                "--port",
                "81",
                "--yes",
                "--output",
            ],
        ] {
            let out = grantguard(&sim, &home)
                .args(&command)
                .arg(path)
                .output()
                .unwrap();
            let err = stderr(&out);
            assert_eq!(
                out.status.code(),
                Some(2),
                "{command:?} {}: {err}",
                path.display()
            );
            assert!(err.contains("--output"), "{command:?}: {err}");
            assert!(
                sim.log().is_empty(),
                "{command:?} {}: calls were made",
                path.display()
            );
        }
    }
    assert!(sim.state().has_grant_named("legacy-unused-443"));
}

#[test]
fn a_damaged_fixture_gives_one_short_error_with_the_position() {
    let home = Home::new();
    let generated = bare(&home)
        .args(["sim", "generate", "--groups", "5", "--apis-per-group", "40"])
        .args(["--grants", "10", "--seed", "1"])
        .output()
        .unwrap();
    assert_eq!(generated.status.code(), Some(0), "{}", stderr(&generated));
    let one_line = serde_json::to_string(
        &serde_json::from_slice::<serde_json::Value>(&generated.stdout).unwrap(),
    )
    .unwrap();
    assert!(one_line.len() > 40_000);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated at 30 KB", one_line.as_bytes()[..30_000].to_vec()),
        ("binary junk", (0..=255u8).cycle().take(50_000).collect()),
        ("one huge line of junk", vec![b'['; 70_000]),
    ];
    let path = home.path().join("fixture.json");
    for (what, bytes) in cases {
        std::fs::write(&path, &bytes).unwrap();
        let out = bare(&home)
            .args(["sim", "serve", "--fixture"])
            .arg(&path)
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_short_error(what, &out);
        assert!(err.contains("fixture.json"), "{what}: {err}");
        assert!(
            !err.contains('\u{1b}'),
            "{what}: a raw escape reached the terminal"
        );
        assert!(stdout(&out).is_empty(), "{what}: it must not start");
    }
}

#[test]
fn a_snapshot_of_another_region_than_region_is_refused() {
    let home = Home::new();
    let path = home.path().join("snap.json");
    std::fs::write(&path, snapshot(&home)).unwrap();
    let region =
        serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(&path).unwrap())
            .unwrap()["region"]
            .as_str()
            .unwrap()
            .to_owned();
    let other = if region == "cn-shanghai" {
        "cn-beijing"
    } else {
        "cn-shanghai"
    };
    let audit = |flag: Option<&str>, env: Option<&str>| {
        let mut cmd = bare(&home);
        if let Some(env) = env {
            cmd.env("ALIBABA_CLOUD_REGION_ID", env);
        }
        if let Some(flag) = flag {
            cmd.args(["--region", flag]);
        }
        cmd.args(["audit", "--format", "json", "--inventory"])
            .arg(&path)
            .output()
            .unwrap()
    };
    let refused = audit(Some(other), None);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    let err = stderr(&refused);
    assert!(
        err.contains(&format!("snapshot of region {region}, not of")) && err.contains(other),
        "{err}"
    );
    assert!(stdout(&refused).is_empty());
    // The snapshot's own region, or a region that is only a default, audits as usual.
    for (flag, env) in [(Some(region.as_str()), None), (None, Some(other))] {
        let out = audit(flag, env);
        assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
        assert_eq!(json(&out)["region"], region.as_str());
    }
}

#[test]
fn endpoint_mistakes_get_a_hint() {
    let sim = start("basic-account.json");
    let home = Home::new();
    let plain = sim.url();
    let tls = plain.replacen("http://", "https://", 1);
    let out = grantguard(&sim, &home)
        .env("GRANTGUARD_ENDPOINT", &tls)
        .arg("audit")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("this port does not speak TLS"), "{err}");
    let no_scheme = plain.trim_start_matches("http://").trim_end_matches('/');
    let out = grantguard(&sim, &home)
        .env("GRANTGUARD_ENDPOINT", no_scheme)
        .arg("audit")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("has no scheme") && err.contains("http://"),
        "{err}"
    );
    assert!(sim.log().is_empty(), "nothing reached the emulator");
}

#[test]
fn the_emulator_listens_beyond_loopback_only_when_asked() {
    let home = Home::new();
    let fixture = fixture_path("basic-account.json");
    for addr in ["0.0.0.0:0", "[::]:0"] {
        let out = bare(&home)
            .args(["sim", "serve", "--fixture"])
            .arg(&fixture)
            .args(["--listen", addr])
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{addr}: {err}");
        assert!(err.contains("--listen-beyond-loopback"), "{addr}: {err}");
        assert!(stdout(&out).is_empty(), "{addr}: it must not start");
    }
}

#[test]
fn graph_of_a_name_no_grant_has_is_gg301_and_exit_1() {
    let home = Home::new();
    let path = home.path().join("snap.json");
    std::fs::write(&path, snapshot(&home)).unwrap();
    let out = bare(&home)
        .args([
            "graph",
            "--format",
            "dot",
            "--name",
            "no-such-grant",
            "--inventory",
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("GG301"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "no empty graph: {}", stdout(&out));
}

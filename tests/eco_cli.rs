//! The ecosystem surface end to end: completions, man page, the least-privilege policy
//! compared with what a real audit calls, `whoami`, config-file defaults and `--min-severity`.

mod common;
use common::*;
use std::collections::BTreeSet;

#[test]
fn completions_render_for_every_shell_and_name_the_subcommands() {
    let home = Home::new();
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = bare(&home).args(["completions", shell]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", stderr(&out));
        let script = stdout(&out);
        for sub in ["audit", "scan", "graph", "policy", "whoami", "man"] {
            assert!(script.contains(sub), "{shell} completion lacks {sub}");
        }
    }
    let out = bare(&home).args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}

#[test]
fn the_man_page_renders_as_roff() {
    let home = Home::new();
    let out = bare(&home).arg("man").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let page = stdout(&out);
    assert!(page.contains(".TH grantguard"), "a roff title header");
    for section in [
        "GRANTGUARD AUDIT",
        "GRANTGUARD WHOAMI",
        "GRANTGUARD COMPLETIONS",
    ] {
        assert!(page.contains(section), "{section}");
    }
}

fn policy_actions(with_removal: bool) -> BTreeSet<String> {
    let home = Home::new();
    let mut cmd = bare(&home);
    cmd.arg("policy");
    if with_removal {
        cmd.arg("--with-removal");
    }
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let doc = json(&out);
    assert_eq!(doc["Version"], "1");
    assert_eq!(doc["Statement"][0]["Effect"], "Allow");
    assert_eq!(doc["Statement"][0]["Resource"], "*");
    doc["Statement"][0]["Action"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_audit_policy_equals_what_a_full_audit_calls() {
    let sim = start("demo-account.json");
    let home = Home::new();
    let out = grantguard(&sim, &home)
        .args(["audit", "--format", "json"])
        .output()
        .unwrap();
    assert_honest(&json(&out), out.status.code());
    let called: BTreeSet<String> = sim
        .log()
        .into_iter()
        .map(|r| format!("apigateway:{}", r.action))
        .collect();
    let mut policy = policy_actions(false);
    // DescribeRegions is only for listing regions; a single-region audit never calls it.
    assert!(policy.remove("apigateway:DescribeRegions"));
    assert!(
        called.is_subset(&policy),
        "the audit called actions the policy lacks: {:?}",
        called.difference(&policy).collect::<Vec<_>>()
    );
    // DescribeDeployedApi is the walk's fallback when the listings disagree about which
    // version is live; the demo account's listings agree, so it is the only action allowed
    // in the policy that this audit did not call.
    let unused: Vec<&String> = policy.difference(&called).collect();
    assert_eq!(
        unused,
        ["apigateway:DescribeDeployedApi"],
        "the policy grants more than the walk uses"
    );

    let with_removal = policy_actions(true);
    let added: BTreeSet<&str> = with_removal
        .iter()
        .filter(|a| !policy.contains(*a) && *a != "apigateway:DescribeRegions")
        .map(String::as_str)
        .collect();
    assert_eq!(
        added,
        BTreeSet::from([
            "apigateway:DescribeAbolishApiTask",
            "apigateway:DescribeUpdateVpcInfoTask",
            "apigateway:ModifyVpcAccessAndUpdateApis",
            "apigateway:RemoveVpcAccess",
            "apigateway:RemoveVpcAccessAndAbolishApis",
            "apigateway:SetVpcAccess",
        ])
    );
}

#[test]
fn a_permission_gap_points_to_the_policy_command() {
    let fixture = fixture("basic-account.json");
    let options = grantguard_sim::SimOptions {
        faults: grantguard_sim::Faults {
            fail: vec!["DescribeApis=Forbidden.RAM".parse().unwrap()],
            ..Default::default()
        },
        ..Default::default()
    };
    let sim = start_with(fixture, options);
    let home = Home::new();
    let out = grantguard(&sim, &home).arg("audit").output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("gap: DescribeApis"), "{text}");
    assert!(text.contains("`grantguard policy`"), "{text}");
}

fn write_aliyun_config(home: &Home, text: &str, mode: u32) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = home.path().join(".aliyun");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config.json");
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

#[test]
fn whoami_names_the_source_masks_the_key_and_never_shows_the_secret() {
    let sim = start("basic-account.json");
    let home = Home::new();
    let out = grantguard(&sim, &home).arg("whoami").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let (id, _, _) = credential(&sim);
    assert!(
        text.contains("environment (ALIBABA_CLOUD_ACCESS_KEY_ID)"),
        "{text}"
    );
    assert!(
        text.contains(&format!("****{}", &id[id.len() - 4..])),
        "{text}"
    );
    assert!(
        text.contains("cn-hangzhou (from ALIBABA_CLOUD_REGION_ID)"),
        "{text}"
    );
    assert!(text.contains(&sim.url()), "{text}");
    assert_no_secret(&sim, &[&text, &stderr(&out)]);
    assert_eq!(sim.log().len(), 0, "whoami of a static key calls nothing");

    // A profile file readable by others: used, with the chmod in a warning.
    let (id, secret, _) = credential(&sim);
    let config = format!(
        r#"{{"current":"audit","profiles":[{{"name":"audit","mode":"AK","access_key_id":"{id}","access_key_secret":"{secret}","region_id":"cn-shanghai"}}]}}"#
    );
    let path = write_aliyun_config(&home, &config, 0o644);
    let out = bare(&home)
        .env("GRANTGUARD_ENDPOINT", sim.url())
        .arg("whoami")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("profile audit of"), "{text}");
    assert!(text.contains("cn-shanghai (from profile audit)"), "{text}");
    assert!(stderr(&out).contains("chmod 600") || text.contains("chmod 600"));
    assert_no_secret(&sim, &[&text, &stderr(&out)]);

    // Writable by others: refused, and the fix is in the message.
    write_aliyun_config(&home, &config, 0o666);
    let out = bare(&home).arg("whoami").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("writable by group or others"), "{err}");
    assert!(
        err.contains(&format!("chmod 600 {}", path.display())),
        "{err}"
    );
    assert_no_secret(&sim, &[&err]);
}

#[test]
fn config_defaults_apply_below_flags_and_bad_keys_point_at_their_line() {
    let sim = start("basic-account.json");
    let home = Home::new();
    std::fs::write(
        home.path().join("grantguard.json"),
        "{\n  \"region\": \"cn-beijing\",\n  \"qps\": 50\n}\n",
    )
    .unwrap();
    let out = grantguard(&sim, &home)
        .env_remove("ALIBABA_CLOUD_REGION_ID")
        .arg("whoami")
        .output()
        .unwrap();
    assert!(
        stdout(&out).contains("cn-beijing (from config file)"),
        "{}",
        stdout(&out)
    );
    let out = grantguard(&sim, &home)
        .args(["whoami", "--region", "cn-shenzhen"])
        .output()
        .unwrap();
    assert!(stdout(&out).contains("cn-shenzhen (from --region)"));

    std::fs::write(
        home.path().join("grantguard.json"),
        "{\n  \"region\": \"cn-beijing\",\n  \"regoin\": \"x\"\n}\n",
    )
    .unwrap();
    let out = grantguard(&sim, &home).arg("whoami").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("unknown field `regoin`"), "{err}");
    assert!(
        err.contains("grantguard.json:3:"),
        "points at line 3: {err}"
    );
}

#[test]
fn min_severity_decides_which_findings_fail_the_run() {
    let sim = start("basic-account.json");
    let home = Home::new();
    // orders-ecs-8080 is safe with one warn finding (GG104).
    let run = |extra: &[&str]| {
        grantguard(&sim, &home)
            .args(["audit", "--name", "orders-ecs-8080", "--format", "json"])
            .args(extra)
            .output()
            .unwrap()
            .status
            .code()
    };
    assert_eq!(run(&[]), Some(0), "warn does not fail by default");
    assert_eq!(run(&["--min-severity", "warn"]), Some(1));
    assert_eq!(run(&["--min-severity", "info"]), Some(1));
    std::fs::write(
        home.path().join("grantguard.json"),
        r#"{"min_severity": "warn"}"#,
    )
    .unwrap();
    assert_eq!(run(&[]), Some(1), "the config file's level applies");
    assert_eq!(run(&["--min-severity", "deny"]), Some(0), "the flag wins");
    std::fs::remove_file(home.path().join("grantguard.json")).unwrap();
    let blocked = grantguard(&sim, &home)
        .args(["audit", "--name", "orders-slb-80", "--min-severity", "deny"])
        .output()
        .unwrap();
    assert_eq!(blocked.status.code(), Some(1), "blocked always fails");
}

#[test]
fn the_pre_merge_example_fails_on_a_blocked_grant() {
    let sim = start("basic-account.json");
    let home = Home::new();
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/examples/pre-merge-check.sh");
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_grantguard"))
        .parent()
        .unwrap()
        .to_owned();
    let path = format!("{}:/usr/bin:/bin", bin_dir.display());
    let check = |names: &str| {
        std::fs::write(home.path().join("remove.txt"), names).unwrap();
        let (id, secret, _) = credential(&sim);
        std::process::Command::new("bash")
            .arg(&script)
            .arg(home.path().join("remove.txt"))
            .env_clear()
            .env("PATH", &path)
            .env("HOME", home.path())
            .env("NO_COLOR", "1")
            .env("GRANTGUARD_QPS", "0")
            .env("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
            .env("ALIBABA_CLOUD_ACCESS_KEY_ID", id)
            .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", secret)
            .env("ALIBABA_CLOUD_REGION_ID", "cn-hangzhou")
            .env("GRANTGUARD_ENDPOINT", sim.url())
            .output()
            .unwrap()
    };
    let out = check("# safe one\nlegacy-unused-443\n");
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let out = check("legacy-unused-443\norders-slb-80\n");
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("refused: orders-slb-80"));
}

/// The config file is read once per run, however many settings come from it and however many
/// steps (settings, connecting, the audit) use them. The file is a FIFO served by a thread
/// that counts the readers it serves: a second read would be served and counted too, so the
/// count is exact and the test never waits on a timeout.
#[cfg(unix)]
#[test]
fn a_live_audit_reads_the_config_file_once() {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;

    let sim = start("basic-account.json");
    let home = Home::new();
    let fifo = home.path().join("grantguard.json");
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo only creates a file.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0, "mkfifo");

    let reads = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let has_reader = |fifo: &std::path::Path| {
        // A non-blocking open for writing fails (ENXIO) exactly when no reader has it open.
        std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(fifo)
            .is_ok()
    };
    let server = {
        let (fifo, reads, stop) = (fifo.clone(), Arc::clone(&reads), Arc::clone(&stop));
        std::thread::spawn(move || loop {
            // Opening a FIFO for writing waits for a reader.
            let mut file = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
            if stop.load(Ordering::SeqCst) {
                return;
            }
            reads.fetch_add(1, Ordering::SeqCst);
            file.write_all(br#"{ "qps": 50, "min_severity": "deny", "idle_timeout": "10s" }"#)
                .unwrap();
            drop(file);
            // The next reader is served only after this one closed the file.
            while !stop.load(Ordering::SeqCst) && has_reader(&fifo) {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        })
    };

    let out = grantguard(&sim, &home).arg("audit").output().unwrap();
    assert_ne!(out.status.code(), Some(2), "{}", stderr(&out));

    // Release the server: a non-blocking reader lets its pending open return.
    stop.store(true, Ordering::SeqCst);
    let _release = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .unwrap();
    server.join().unwrap();
    assert_eq!(reads.load(Ordering::SeqCst), 1, "grantguard.json read once");
}

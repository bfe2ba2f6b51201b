//! Each subcommand takes the flags that apply to it, through the binary: walk tuning only where
//! the account is walked, account flags on either side of the commands that read the account
//! (and nowhere else), and the short flags users expect.

mod common;
use common::*;

fn help(home: &Home, command: &str) -> String {
    let out = bare(home).args([command, "--help"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    stdout(&out)
}

#[test]
fn only_the_commands_that_walk_list_the_walk_tuning() {
    let home = Home::new();
    for walks in ["scan", "audit", "graph", "remove"] {
        let text = help(&home, walks);
        assert!(
            text.contains("--qps") && text.contains("--history-depth"),
            "{walks}: {text}"
        );
    }
    for calls in ["restore", "journal"] {
        let text = help(&home, calls);
        assert!(!text.contains("--qps"), "{calls}: {text}");
        assert!(!text.contains("--concurrency") && !text.contains("--history-depth"));
        assert!(
            text.contains("--attempt-timeout"),
            "restore still calls: {text}"
        );
        assert!(text.contains("--region"), "{calls}: {text}");
    }
    for reads_nothing in ["rules", "completions", "man", "policy", "demo"] {
        let text = help(&home, reads_nothing);
        for flag in [
            "--qps",
            "--max-attempts",
            "--region",
            "--endpoint",
            "--profile",
        ] {
            assert!(!text.contains(flag), "{reads_nothing} lists {flag}: {text}");
        }
    }
}

#[test]
fn a_flag_that_does_not_apply_is_a_usage_error() {
    let home = Home::new();
    for args in [
        &["rules", "--qps", "3"][..],
        &["restore", "--qps", "3"],
        &["--region", "cn-hangzhou", "rules"],
        &["man", "--endpoint", "http://127.0.0.1:1/"],
    ] {
        let out = bare(&home).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stdout(&out).is_empty(), "{args:?}");
    }
    let out = bare(&home)
        .args(["--region", "cn-hangzhou", "rules"])
        .output()
        .unwrap();
    assert!(
        stderr(&out).contains("--region does not apply to `grantguard rules`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn remove_takes_short_dry_run_and_yes() {
    let sim = start("basic-account.json");
    let home = Home::new();
    let out = grantguard(&sim, &home)
        .args(["remove", "--name", "legacy-unused-443", "-n", "-y"])
        .arg("--journal")
        .arg(home.journal())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("RemoveVpcAccess"), "{}", stdout(&out));
    assert_eq!(sim.calls("RemoveVpcAccess"), 0, "a dry run changes nothing");
}

/// `--endpoint` after the subcommand wins over GRANTGUARD_ENDPOINT, as before it does.
#[test]
fn account_flags_after_the_subcommand_win_over_the_variables() {
    let sim = start("basic-account.json");
    let home = Home::new();
    let audit = |args: &[&str]| {
        grantguard(&sim, &home)
            .env("GRANTGUARD_ENDPOINT", "http://127.0.0.1:9/")
            .args(args)
            .args(["--format", "json", "--max-attempts", "1"])
            .output()
            .unwrap()
    };
    let url = sim.url();
    for args in [
        vec!["audit", "--endpoint", url.as_str()],
        vec!["--endpoint", url.as_str(), "audit"],
    ] {
        let out = audit(&args);
        let report = json(&out);
        assert_eq!(report["complete"], true, "{args:?}: {report:#}");
        assert!(report["summary"]["grants"].as_u64() > Some(0), "{report:#}");
    }
    let out = audit(&["audit"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "the variable alone: {}",
        stdout(&out)
    );
}

//! The demo's "What to try next" works as printed, after `cargo install` (no path into the
//! source tree): every command parses, and each one that reads an account works against
//! `grantguard sim serve --demo` with the credentials its second line exports.

mod common;
use common::*;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

/// `sim serve --demo`, killed when dropped.
struct Served {
    child: Child,
    /// What its second line exports.
    exports: BTreeMap<String, String>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `sim serve --demo` with an environment holding no key of ours, and reads its two
/// lines: the address, then `export NAME=VALUE ...`.
fn serve_demo(home: &Home) -> Served {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_grantguard"))
        .args(["sim", "serve", "--demo"])
        .env_clear()
        .env("HOME", home.path())
        .current_dir(home.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("sim serve starts");
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let mut served = Served {
        child,
        exports: BTreeMap::new(),
    };
    let first = lines.next().expect("a first line").expect("utf-8");
    let addr = first
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("first line {first:?}"));
    let second = lines.next().expect("a second line").expect("utf-8");
    let assignments = second
        .strip_prefix("export ")
        .unwrap_or_else(|| panic!("second line {second:?}"));
    for assignment in assignments.split(' ') {
        let (name, value) = assignment.split_once('=').expect("NAME=VALUE");
        served.exports.insert(name.to_owned(), value.to_owned());
    }
    assert_eq!(
        served.exports["GRANTGUARD_ENDPOINT"],
        format!("http://{addr}/"),
        "the export points at the address of the first line"
    );
    served
}

/// The commands of the demo's "What to try next", each without its description.
fn next_steps(home: &Home) -> Vec<Vec<String>> {
    let out = bare(home).arg("demo").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let steps = text
        .split("What to try next:")
        .nth(1)
        .expect("the demo says what to try next");
    steps
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("grantguard "))
        .map(|command| {
            let command = command.split("  ").next().unwrap();
            command.split_whitespace().map(str::to_owned).collect()
        })
        .collect()
}

#[test]
fn every_next_step_parses_and_works_against_sim_serve_demo() {
    let home = Home::new();
    let steps = next_steps(&home);
    assert!(steps.len() >= 6, "{steps:?}");
    for step in &steps {
        let args = std::iter::once("grantguard".to_owned()).chain(step.iter().cloned());
        if let Err(error) = grantguard::cli::Cli::try_parse_checked_from(args) {
            panic!("`grantguard {}` does not parse: {error}", step.join(" "));
        }
        assert!(
            !step.iter().any(|a| a.contains("tests/") || a == "NAME"),
            "{step:?} needs the source tree or a placeholder"
        );
    }
    assert!(steps.contains(&vec!["sim".into(), "serve".into(), "--demo".into()]));

    let served = serve_demo(&home);
    let mut ran = 0;
    for step in steps
        .iter()
        .filter(|s| ["audit", "graph", "remove"].contains(&&*s[0]))
    {
        let out = bare(&home)
            .envs(&served.exports)
            .args(step)
            .output()
            .unwrap();
        let (text, errors) = (stdout(&out), stderr(&out));
        let what = format!("grantguard {}: {text}{errors}", step.join(" "));
        match step[0].as_str() {
            // A blocked grant, or an account with blocked grants: exit 1, and a real report.
            "audit" => assert_eq!(out.status.code(), Some(1), "{what}"),
            _ => assert_eq!(out.status.code(), Some(0), "{what}"),
        }
        assert!(!errors.contains("error"), "{what}");
        if let Some(at) = step.iter().position(|a| a == "-o") {
            let written = std::fs::read_to_string(home.path().join(&step[at + 1])).unwrap();
            assert!(!written.is_empty(), "{what}");
        }
        ran += 1;
    }
    assert!(ran >= 4, "every audit, graph and remove step ran: {ran}");
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(home.path().join("demo-report.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        report["summary"]["grants"], 12,
        "the demo's account: {report:#}"
    );
}

#[test]
fn sim_serve_without_an_account_is_a_usage_error() {
    let home = Home::new();
    let out = bare(&home).args(["sim", "serve"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--demo"), "{}", stderr(&out));
}

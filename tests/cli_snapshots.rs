//! Snapshots of what people and tools read: the demo's human, JSON and SARIF reports, the
//! graph, the rule catalog and every `--help`; the SARIF validated against the OASIS schema;
//! and the exit-code contract (0 all safe, 1 blocked or unknown, 2 could not run).

mod common;
use common::*;
use grantguard::verdict::RuleId;
use serde_json::Value;

/// Run-dependent parts of the output: times, digests, ports, the age of the demo's snapshot.
fn filters() -> Vec<(&'static str, &'static str)> {
    vec![
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[TIME]"),
        (r"[0-9a-f]{64}", "[DIGEST]"),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
        (r"inventory is \d[0-9a-z ]* old", "inventory is [AGE] old"),
    ]
}

macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({ filters => filters(), prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!($name, $value);
        })
    };
}

fn demo(format: &str) -> std::process::Output {
    let home = Home::new();
    let out = bare(&home)
        .args(["demo", "--format", format])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    out
}

#[test]
fn demo_human_report() {
    let out = demo("human");
    let text = stdout(&out);
    assert!(
        !text.contains('\u{1b}'),
        "no colour with NO_COLOR or off a terminal"
    );
    assert!(stderr(&out).contains("emulator on http://127.0.0.1:"));
    snapshot!("demo_human", text);
}

#[test]
fn demo_json_report() {
    snapshot!("demo_json", stdout(&demo("json")));
}

#[test]
fn demo_sarif_report() {
    snapshot!("demo_sarif", stdout(&demo("sarif")));
}

/// Every rule of the catalog fires in the demo: in the report, or in its More checks.
#[test]
fn demo_fires_every_rule_and_keeps_a_safe_grant() {
    let report = json(&demo("json"));
    let human = stdout(&demo("human"));
    let mut fired: Vec<RuleId> = report["grants"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["findings"].as_array().unwrap().iter())
        .chain(report["findings"].as_array().unwrap().iter())
        .map(|f| {
            f["rule"]
                .as_str()
                .unwrap()
                .parse()
                .expect("a known rule id")
        })
        .collect();
    let more = human
        .split("More checks")
        .nth(1)
        .expect("More checks section");
    for rule in [RuleId::GG202, RuleId::GG301, RuleId::GG302] {
        if more.contains(&format!("    {rule} ")) {
            fired.push(rule);
        }
    }
    for doc in grantguard::rules::Catalog::builtin().docs() {
        assert!(
            fired.contains(&doc.id),
            "{} never fires in the demo",
            doc.id
        );
    }
    let v = verdicts(&report);
    assert_eq!(v["legacy-unused-443"], "safe");
    assert!(rules_of(&report, "legacy-unused-443").is_empty());
    assert_eq!(
        v["reports-ecs-8443"], "unknown",
        "GG201 narrowed to one grant"
    );
    assert_eq!(
        report["gaps"].as_array().unwrap().len(),
        1,
        "one gap, for one grant"
    );
}

#[test]
fn demo_sarif_validates_against_the_oasis_schema() {
    let schema: Value =
        serde_json::from_str(include_str!("schemas/sarif-schema-2.1.0.json")).unwrap();
    let sarif: Value = serde_json::from_slice(&demo("sarif").stdout).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "SARIF schema violations:\n{}",
        errors.join("\n")
    );
    // The validator is not vacuous: a wrong version is refused.
    let mut broken = sarif.clone();
    broken["version"] = Value::from("9.9.9");
    assert!(!validator.is_valid(&broken));
    // The schema allows much; check what dashboards rely on.
    let run = &sarif["runs"][0];
    let results = run["results"].as_array().unwrap();
    assert!(!results.is_empty());
    for result in results {
        assert!(result["ruleId"]
            .as_str()
            .is_some_and(|r| r.starts_with("GG")));
        assert!(result["partialFingerprints"]
            .as_object()
            .is_some_and(|f| !f.is_empty()));
    }
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(
        rules.len(),
        grantguard::rules::Catalog::builtin().docs().count()
    );
    assert!(rules.iter().all(|r| r["help"]["text"].as_str().is_some()));
}

/// What GitHub code scanning requires of an upload beyond the OASIS schema: every result has
/// a location whose artifact URI is a repository-relative path, at most 10 locations, rule ids
/// and fingerprints stable across runs, and rules with help text and a `security-severity`.
#[test]
fn demo_sarif_is_what_github_code_scanning_accepts() {
    let first: Value = serde_json::from_slice(&demo("sarif").stdout).unwrap();
    let second: Value = serde_json::from_slice(&demo("sarif").stdout).unwrap();
    let results = |log: &Value| log["runs"][0]["results"].as_array().unwrap().clone();
    let mut on_terraform_lines = 0;
    for result in results(&first) {
        let locations = result["locations"].as_array().expect("locations");
        assert!((1..=10).contains(&locations.len()), "{result:#}");
        let physical = &locations[0]["physicalLocation"];
        let uri = physical["artifactLocation"]["uri"]
            .as_str()
            .unwrap_or_else(|| panic!("no artifact URI: {result:#}"));
        assert!(
            !uri.is_empty() && !uri.starts_with('/') && !uri.contains("://") && !uri.contains(".."),
            "{uri} is not repository-relative"
        );
        assert!(!uri.contains(' '), "{uri} is not URI-encoded");
        if uri.ends_with(".tf") {
            assert!(physical["region"]["startLine"]
                .as_u64()
                .is_some_and(|l| l >= 1));
            on_terraform_lines += 1;
        } else {
            assert!(uri.starts_with(".grantguard/cn-hangzhou/"), "{uri}");
        }
        let logical = locations[0]["logicalLocations"].as_array().unwrap();
        if let Some(api) = logical.iter().find(|l| l["kind"] == "function") {
            assert!(!api["name"].as_str().unwrap().is_empty());
            let group = logical.iter().find(|l| l["kind"] == "namespace").unwrap();
            assert_ne!(
                group["name"],
                group["fullyQualifiedName"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("group/"),
                "the group's name, not its id"
            );
        }
    }
    assert!(
        on_terraform_lines >= 2,
        "GG401/GG402 point at the .tf lines"
    );
    let identity = |log: &Value| -> Vec<(String, String, String)> {
        results(log)
            .iter()
            .map(|r| {
                (
                    r["ruleId"].as_str().unwrap().to_owned(),
                    r["partialFingerprints"]["grantguard/v1"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                    r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                )
            })
            .collect()
    };
    assert_eq!(identity(&first), identity(&second), "stable across runs");
    let prints: std::collections::BTreeSet<_> = identity(&first)
        .into_iter()
        .map(|(_, print, _)| print)
        .collect();
    assert_eq!(prints.len(), results(&first).len(), "one alert per finding");
    for rule in first["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
    {
        assert!(rule["help"]["text"].as_str().is_some_and(|t| !t.is_empty()));
        let score: f64 = rule["properties"]["security-severity"]
            .as_str()
            .expect("security-severity is a string")
            .parse()
            .expect("a number");
        assert!((0.0..=10.0).contains(&score), "{rule:#}");
    }
}

#[test]
fn graph_of_the_demo_account_in_dot_and_mermaid() {
    let sim = start("demo-account.json");
    let home = Home::new();
    for format in ["dot", "mermaid"] {
        let out = grantguard(&sim, &home)
            .args(["graph", "--format", format])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        snapshot!(format!("graph_{format}"), stdout(&out));
    }
}

#[test]
fn rules_and_rules_explain() {
    let home = Home::new();
    let list = bare(&home).arg("rules").output().unwrap();
    assert_eq!(list.status.code(), Some(0));
    snapshot!("rules", stdout(&list));
    let explain = bare(&home)
        .args(["rules", "explain", "GG101"])
        .output()
        .unwrap();
    assert_eq!(explain.status.code(), Some(0));
    snapshot!("rules_explain_gg101", stdout(&explain));
    let unknown = bare(&home)
        .args(["rules", "explain", "GG999"])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr(&unknown).contains("GG101"), "lists the known ids");
}

#[test]
fn every_help_text() {
    let home = Home::new();
    // Every command clap knows, so a new subcommand cannot ship without a reviewed help text.
    let commands = command_paths(
        &<grantguard::cli::Cli as clap::CommandFactory>::command(),
        &[],
    );
    assert!(
        commands.len() > 10,
        "the walk over clap's tree found the subcommands"
    );
    for command in commands {
        let out = bare(&home)
            .env("COLUMNS", "100")
            .args(&command)
            .arg("--help")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{command:?}: {}", stderr(&out));
        let name = if command.is_empty() {
            "help".to_owned()
        } else {
            format!("help_{}", command.join("_"))
        };
        snapshot!(name, stdout(&out));
    }
}

/// The argument paths of `command` and all its subcommands (without clap's own `help`).
fn command_paths(command: &clap::Command, prefix: &[String]) -> Vec<Vec<String>> {
    let mut paths = vec![prefix.to_vec()];
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        let mut path = prefix.to_vec();
        path.push(sub.get_name().to_owned());
        paths.extend(command_paths(sub, &path));
    }
    paths
}

/// An account where every grant is safe.
fn all_safe() -> grantguard_sim::Fixture {
    grantguard_sim::Fixture::from_json(
        &serde_json::json!({
            "credentials": [{ "access_key_id": "LTAI5tSafeAccessKeyId", "access_key_secret": "SafeSecretKeyValue0123456789abcd" }],
            "grants": [
                { "name": "unused-80", "vpc_id": "vpc-safe", "instance_id": "i-safe", "port": 80 },
                { "name": "unused-81", "vpc_id": "vpc-safe", "instance_id": "i-safe", "port": 81 }
            ],
            "groups": [{ "name": "web" }],
            "apis": [{ "group": "web", "name": "home", "route": { "http": { "address": "http://example.com" } } }],
            "deployments": [{ "api": "home", "stage": "RELEASE" }]
        })
        .to_string(),
    )
    .unwrap()
}

#[test]
fn exit_codes() {
    let home = Home::new();
    // 0: every audited grant safe.
    let safe = start_with(all_safe(), Default::default());
    let out = grantguard(&safe, &home)
        .args(["audit", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_honest(&json(&out), out.status.code());
    // 1: blocked or unknown grants.
    let demo = start("demo-account.json");
    let out = grantguard(&demo, &home).arg("audit").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("BLOCKED"));
    // 2: usage.
    let out = bare(&home)
        .args(["audit", "--format", "xml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // 2: no credentials.
    let out = bare(&home)
        .env("ALIBABA_CLOUD_REGION_ID", "cn-hangzhou")
        .env("GRANTGUARD_ENDPOINT", safe.url())
        .arg("audit")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // 2: a config file that is not valid.
    std::fs::write(home.path().join("grantguard.json"), "{ \"severity\": 3 }").unwrap();
    let out = grantguard(&safe, &home).arg("audit").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

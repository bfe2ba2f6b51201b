//! `--terraform`: hand-written Terraform projects (a grant and an API in the root module, a
//! grant through a module, one with `for_each`, one named by a variable, states that agree
//! and that drifted) audited against the demo account on the emulator. Every GG4xx rule fires
//! where it must and not where it must not; findings carry the file and line; damaged input
//! is a clear error (exit 2); `remove` refuses a managed grant and names the resource.

mod common;
use common::*;
use serde_json::Value;

/// The grant every project here declares: unused in the demo account, so `safe` without them.
const LEGACY: &str = "legacy-unused-443";

/// `audit --format json` of the demo account with the `--terraform` inputs `paths` (relative
/// to the repository, where the binary runs).
fn audit(paths: &[&str]) -> (Option<i32>, Value) {
    let sim = start("demo-account.json");
    let home = Home::new();
    let mut cmd = grantguard(&sim, &home);
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["audit", "--format", "json"]);
    for path in paths {
        cmd.args(["--terraform", &format!("tests/fixtures/terraform/{path}")]);
    }
    let out = cmd.output().unwrap();
    (out.status.code(), json(&out))
}

/// The findings of rule `rule` on `grant` (`None`: findings about no single grant).
fn findings(report: &Value, grant: Option<&str>, rule: &str) -> Vec<Value> {
    let all: Vec<&Value> = match grant {
        Some(name) => report["grants"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|g| g["name"] == name)
            .flat_map(|g| g["findings"].as_array().unwrap())
            .collect(),
        None => report["findings"].as_array().unwrap().iter().collect(),
    };
    all.into_iter()
        .filter(|f| f["rule"] == rule)
        .cloned()
        .collect()
}

/// Every GG4xx finding of the report, on any grant or none.
fn terraform_rules(report: &Value) -> Vec<String> {
    report["grants"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["findings"].as_array().unwrap())
        .chain(report["findings"].as_array().unwrap())
        .filter_map(|f| f["rule"].as_str().filter(|r| r.starts_with("GG4")))
        .map(str::to_owned)
        .collect()
}

#[test]
fn without_terraform_the_legacy_grant_is_clean() {
    let (code, report) = audit(&[]);
    assert_eq!(code, Some(1), "other grants are blocked");
    assert_eq!(verdicts(&report)[LEGACY], "safe");
    assert!(terraform_rules(&report).is_empty());
}

#[test]
fn a_root_module_grant_and_published_api_fire_gg401_and_gg402_at_their_lines() {
    let (_, report) = audit(&["root-module"]);
    let managed = findings(&report, Some(LEGACY), "GG401");
    assert_eq!(managed.len(), 1, "{report:#}");
    assert_eq!(
        managed[0]["source"],
        serde_json::json!({"file": "tests/fixtures/terraform/root-module/main.tf", "line": 3})
    );
    assert!(managed[0]["message"]
        .as_str()
        .unwrap()
        .contains("alicloud_api_gateway_vpc_access.legacy"));
    let user = findings(&report, Some(LEGACY), "GG402");
    assert_eq!(user.len(), 1, "the published API only, not the draft");
    assert_eq!(user[0]["source"]["line"], 10);
    assert_eq!(user[0]["severity"], "deny");
    assert_eq!(verdicts(&report)[LEGACY], "blocked");
    // Near misses: the stage-less API names shared-cache-6379, the future grant is nobody.
    let others: Vec<String> = report["grants"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["name"] != LEGACY)
        .flat_map(|g| g["findings"].as_array().unwrap())
        .filter_map(|f| f["rule"].as_str().filter(|r| r.starts_with("GG4")))
        .map(str::to_owned)
        .collect();
    assert!(others.is_empty(), "{others:?}");
    assert!(
        findings(&report, None, "GG403").is_empty(),
        "a configuration is not a state"
    );
}

#[test]
fn a_grant_declared_through_a_module_is_found_at_the_modules_line() {
    let (_, report) = audit(&["through-module"]);
    let managed = findings(&report, Some(LEGACY), "GG401");
    assert_eq!(managed.len(), 1, "{report:#}");
    assert_eq!(
        managed[0]["source"]["file"],
        "tests/fixtures/terraform/through-module/modules/edge/main.tf"
    );
    assert_eq!(managed[0]["source"]["line"], 9);
    assert!(managed[0]["message"]
        .as_str()
        .unwrap()
        .contains("module.edge.alicloud_api_gateway_vpc_access.this"));
    assert_eq!(verdicts(&report)[LEGACY], "safe", "GG401 is a warning");
    assert_eq!(terraform_rules(&report), ["GG401"]);
}

#[test]
fn a_for_each_instance_is_addressed_by_its_key() {
    let (_, report) = audit(&["for-each"]);
    let managed = findings(&report, Some(LEGACY), "GG401");
    assert_eq!(managed.len(), 1, "{report:#}");
    let message = managed[0]["message"].as_str().unwrap();
    assert!(
        message.contains(r#"alicloud_api_gateway_vpc_access.this["legacy-unused-443"]"#),
        "{message}"
    );
    assert!(!message.contains("legacy-spare-444"), "{message}");
    assert_eq!(terraform_rules(&report), ["GG401"]);
}

#[test]
fn a_variable_name_is_reported_unresolved_and_never_guessed_until_a_state_says() {
    let (code, report) = audit(&["variable-name"]);
    assert!(
        findings(&report, Some(LEGACY), "GG401").is_empty(),
        "not guessed from the default"
    );
    let unresolved = findings(&report, None, "GG404");
    assert_eq!(unresolved.len(), 1, "{report:#}");
    assert_eq!(unresolved[0]["severity"], "info");
    assert!(unresolved[0]["message"]
        .as_str()
        .unwrap()
        .contains("name = var.grant_name"));
    assert_eq!(unresolved[0]["source"]["line"], 10);
    assert_eq!(verdicts(&report)[LEGACY], "safe");
    assert_eq!(
        code,
        Some(1),
        "other grants are blocked; GG404 alone holds nothing"
    );

    let (_, report) = audit(&["variable-name", "states/legacy.tfstate"]);
    let managed = findings(&report, Some(LEGACY), "GG401");
    assert_eq!(managed.len(), 1, "the state records the resolved name");
    assert_eq!(
        managed[0]["source"],
        serde_json::json!({"file": "tests/fixtures/terraform/states/legacy.tfstate", "line": null})
    );
    assert!(
        findings(&report, Some(LEGACY), "GG403").is_empty(),
        "state and account agree"
    );
}

#[test]
fn a_drifted_state_fires_gg403_on_the_grant_and_for_the_missing_one() {
    let (_, report) = audit(&["states/drift.tfstate"]);
    let drift = findings(&report, Some(LEGACY), "GG403");
    assert_eq!(drift.len(), 1, "{report:#}");
    assert!(drift[0]["message"].as_str().unwrap().contains(":8443"));
    let missing = findings(&report, None, "GG403");
    assert_eq!(missing.len(), 1);
    assert!(missing[0]["message"]
        .as_str()
        .unwrap()
        .contains("gone-slb-80"));
    assert_eq!(verdicts(&report)[LEGACY], "safe", "drift is a warning");
}

#[test]
fn the_config_file_names_terraform_inputs_and_the_flag_wins() {
    let sim = start("demo-account.json");
    let home = Home::new();
    let dir = fixture_path("terraform/through-module");
    std::fs::write(
        home.path().join("grantguard.json"),
        serde_json::json!({ "terraform": [dir] }).to_string(),
    )
    .unwrap();
    let out = grantguard(&sim, &home)
        .args(["audit", "--format", "json", "--name", LEGACY])
        .output()
        .unwrap();
    assert_eq!(rules_of(&json(&out), LEGACY), ["GG401"]);
    let out = grantguard(&sim, &home)
        .args(["audit", "--format", "json", "--name", LEGACY, "--terraform"])
        .arg(fixture_path("terraform/states/drift.tfstate"))
        .output()
        .unwrap();
    assert_eq!(rules_of(&json(&out), LEGACY), ["GG401", "GG403"]);
}

#[test]
fn the_human_report_says_file_and_line() {
    let sim = start("demo-account.json");
    let home = Home::new();
    let out = grantguard(&sim, &home)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "audit",
            "--name",
            LEGACY,
            "--terraform",
            "tests/fixtures/terraform/root-module",
        ])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(
        text.contains("at: tests/fixtures/terraform/root-module/main.tf:3"),
        "{text}"
    );
    assert!(text.contains("main.tf:10"), "{text}");
}

#[test]
fn damaged_terraform_input_is_a_clear_error_before_any_call() {
    for (path, says) in [
        (
            "states/version-3.tfstate",
            "state format version 3; grantguard reads version 4",
        ),
        ("broken", "broken/main.tf is not valid HCL"),
        ("empty", "holds no Terraform files"),
        ("no-such-folder", "cannot read Terraform input"),
        (
            "root-module/main.tf",
            "root-module/main.tf is one .tf file; --terraform takes the folder that holds it",
        ),
    ] {
        let sim = start("demo-account.json");
        let home = Home::new();
        let out = grantguard(&sim, &home)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args([
                "audit",
                "--terraform",
                &format!("tests/fixtures/terraform/{path}"),
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{path}: {}", stderr(&out));
        let text = stderr(&out);
        let words = text
            .replace('│', " ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(words.contains(says), "{path}: {text}");
        if path == "broken" {
            assert!(text.contains("line 3"), "the position: {text}");
        }
        assert!(!text.contains("panicked"), "{text}");
        assert!(
            sim.log().is_empty(),
            "{path}: no API call before the input is read"
        );
    }
}

#[test]
fn remove_refuses_a_managed_grant_and_names_the_resource_to_delete() {
    let sim = start("demo-account.json");
    let home = Home::new();
    let out = grantguard(&sim, &home)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["remove", "--name", LEGACY, "--yes", "--journal"])
        .arg(home.journal())
        .args(["--terraform", "tests/fixtures/terraform/through-module"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        text.contains("Terraform manages legacy-unused-443: delete module.edge.alicloud_api_gateway_vpc_access.this (tests/fixtures/terraform/through-module/modules/edge/main.tf:9) and run `terraform apply` instead"),
        "{text}"
    );
    assert!(sim.state().has_grant_named(LEGACY), "nothing removed");
}

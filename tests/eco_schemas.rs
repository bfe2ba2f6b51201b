//! The JSON Schema files under `schemas/` hold for real output: the report of a full audit
//! (with gaps, suppressions and every verdict) and the snapshot `scan` writes.

mod common;
use common::*;
use serde_json::Value;

fn schema(name: &str) -> jsonschema::Validator {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(name);
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::validator_for(&schema).expect("a valid JSON Schema")
}

fn assert_valid(validator: &jsonschema::Validator, document: &Value) {
    let errors: Vec<String> = validator
        .iter_errors(document)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "schema violations: {errors:#?}");
}

#[test]
fn reports_match_the_report_schema() {
    let report_schema = schema("report.v1.schema.json");
    let fixture = fixture("demo-account.json");
    let options = grantguard::sim::SimOptions {
        faults: grantguard::sim::Faults {
            fail: vec!["DescribeApis=Forbidden.RAM".parse().unwrap()],
            ..Default::default()
        },
        ..Default::default()
    };
    for (sim, config) in [
        (start("demo-account.json"), None),
        (
            start("basic-account.json"),
            Some(
                r#"{"suppress": [{"rule": "GG104", "grant": "orders-ecs-8080", "justification": "never rolled back"}]}"#,
            ),
        ),
        (start_with(fixture, options), None),
    ] {
        let home = Home::new();
        if let Some(config) = config {
            std::fs::write(home.path().join("grantguard.json"), config).unwrap();
        }
        let out = grantguard(&sim, &home)
            .args(["audit", "--format", "json"])
            .output()
            .unwrap();
        let report = json(&out);
        assert_valid(&report_schema, &report);
    }
    // A wrong document is refused (the schema is not vacuous).
    let bad = serde_json::json!({"schema": "grantguard.report/v1", "region": "x"});
    assert!(!report_schema.is_valid(&bad));
}

#[test]
fn snapshots_match_the_inventory_schema() {
    let inventory_schema = schema("inventory.v2.schema.json");
    let sim = start("demo-account.json");
    let home = Home::new();
    let path = home.path().join("inventory.json");
    let out = grantguard(&sim, &home)
        .args(["scan", "-o", path.to_str().unwrap()])
        .output()
        .unwrap();
    // The demo account denies one grant's usage index on purpose, so the scan is written with
    // one gap and exits 1 (incomplete); the gap must validate too.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let snapshot: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for list in [
        "grants",
        "drafts",
        "deployments",
        "history",
        "backends",
        "index",
    ] {
        assert!(
            !snapshot[list].as_array().unwrap().is_empty(),
            "{list} exercised"
        );
    }
    assert_valid(&inventory_schema, &snapshot);
    let mut extra = snapshot.clone();
    extra["surprise"] = Value::Bool(true);
    assert!(!inventory_schema.is_valid(&extra));
}

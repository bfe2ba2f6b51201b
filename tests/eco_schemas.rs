//! The JSON Schema files under `schemas/` hold for real output: the report of a full audit
//! (with gaps, suppressions and every verdict), the snapshot `scan` writes and `whoami`.

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
    let options = grantguard_sim::SimOptions {
        faults: grantguard_sim::Faults {
            fail: vec!["DescribeApis=Forbidden.RAM".parse().unwrap()],
            ..Default::default()
        },
        ..Default::default()
    };
    let mut suppressions_seen = 0;
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
        if config.is_some() {
            // The suppression took effect, so the schema saw a `suppressed` finding.
            let grant = report["grants"]
                .as_array()
                .unwrap()
                .iter()
                .find(|g| g["name"] == "orders-ecs-8080")
                .expect("the suppressed grant is reported");
            let suppressed: Vec<&Value> = grant["findings"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["rule"] == "GG104")
                .collect();
            assert!(!suppressed.is_empty(), "GG104 on orders-ecs-8080: {grant}");
            for f in suppressed {
                assert_eq!(f["suppressed"], "never rolled back", "{f}");
                suppressions_seen += 1;
            }
        }
    }
    assert!(suppressions_seen > 0);
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

/// `remove --format json` on `args` against a fresh basic account (with `prepare` run on the
/// emulator first): the exit code and the document.
fn removal(args: &[&str], prepare: impl FnOnce(&TestSim)) -> (Option<i32>, Value) {
    let sim = start("basic-account.json");
    prepare(&sim);
    let home = Home::new();
    let out = grantguard(&sim, &home)
        .args(["remove", "--format", "json", "--journal"])
        .arg(home.path().join("journal.jsonl"))
        .args(args)
        .output()
        .unwrap();
    assert_no_secret(&sim, &[&stdout(&out), &stderr(&out)]);
    (out.status.code(), json(&out))
}

/// One removal run to validate: the outcome expected of its single grant ("" for a batch),
/// the arguments, what to do to the emulator first, and the exit code.
type RemovalCase = (
    &'static str,
    Vec<&'static str>,
    Box<dyn FnOnce(&TestSim)>,
    i32,
);

#[test]
fn removal_results_match_the_removal_schema() {
    let removal_schema = schema("removal.v1.schema.json");
    let safe = "legacy-unused-443";
    let cases: Vec<RemovalCase> = vec![
        ("done", vec!["--name", safe, "--yes"], Box::new(|_| {}), 0),
        (
            "dry-run",
            vec!["--name", safe, "--dry-run"],
            Box::new(|_| {}),
            0,
        ),
        (
            "refused",
            vec!["--name", "orders-slb-80", "--yes"],
            Box::new(|_| {}),
            1,
        ),
        (
            "refused",
            vec!["--name", "no-such-grant", "--yes"],
            Box::new(|_| {}),
            1,
        ),
        (
            "done-unexpected",
            vec!["--name", safe, "--yes"],
            Box::new(move |sim: &TestSim| {
                sim.before("RemoveVpcAccess", move |_, account| {
                    publish_new_api(account, safe);
                })
            }),
            1,
        ),
        (
            "not-removed",
            vec!["--name", safe, "--yes"],
            Box::new(move |sim: &TestSim| {
                let mut seen = 0;
                sim.before("DescribeApisByVpcAccess", move |call, account| {
                    if call.param("VpcName") == Some(safe) {
                        seen += 1;
                        if seen == 2 {
                            publish_new_api(account, safe);
                        }
                    }
                })
            }),
            1,
        ),
        (
            "done",
            vec![
                "--name",
                "orders-slb-80",
                "--abolish-apis",
                "--yes",
                "--force",
                "--reason",
                "retiring getOrder",
            ],
            Box::new(|_| {}),
            0,
        ),
        (
            "",
            vec!["--all-safe", "--max", "1", "--yes", "--accept-warnings"],
            Box::new(|_| {}),
            0,
        ),
    ];
    let mut outcomes = std::collections::BTreeSet::new();
    for (outcome, args, prepare, exit) in cases {
        let (code, document) = removal(&args, prepare);
        assert_eq!(code, Some(exit), "{args:?}: {document:#}");
        assert_valid(&removal_schema, &document);
        let grants = document["grants"].as_array().unwrap();
        if !outcome.is_empty() {
            assert_eq!(grants.len(), 1, "{args:?}");
            assert_eq!(grants[0]["outcome"], outcome, "{args:?}: {document:#}");
        }
        for g in grants {
            outcomes.insert(g["outcome"].as_str().unwrap().to_owned());
        }
    }
    // Every outcome a run without faults can reach was validated.
    for outcome in [
        "done",
        "done-unexpected",
        "not-removed",
        "refused",
        "dry-run",
        "skipped",
    ] {
        assert!(outcomes.contains(outcome), "{outcome} exercised");
    }
    let bad = serde_json::json!({"schema": "grantguard.removal/v1", "region": "x"});
    assert!(!removal_schema.is_valid(&bad));
}

#[test]
fn whoami_matches_the_whoami_schema() {
    let whoami_schema = schema("whoami.v1.schema.json");
    let sim = start("basic-account.json");
    sim.set_ecs_role(Some("EcsAuditRole"));
    let home = Home::new();
    // A long-term key with an ignored variable, then temporary credentials from the metadata
    // service (with an expiry).
    let out = grantguard(&sim, &home)
        .env("ALICLOUD_ACCESS_KEY_ID", "LTAIold")
        .args(["whoami", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_valid(&whoami_schema, &json(&out));
    let out = bare(&home)
        .env_remove("ALIBABA_CLOUD_ECS_METADATA_DISABLED")
        .env("ALIBABA_CLOUD_REGION_ID", "cn-hangzhou")
        .env("GRANTGUARD_ECS_METADATA_ENDPOINT", sim.url())
        .args(["whoami", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc = json(&out);
    assert!(doc["expires"].is_string());
    assert_valid(&whoami_schema, &doc);
}

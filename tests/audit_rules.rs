//! Per rule, through the emulator and the real binary: where it fires and a near miss where it
//! must not. The account is tests/fixtures/rules-account.json: grant `ggNNN-fires` is the case
//! where rule GGNNN fires, `ggNNN-near` the near miss (the fixture says how each one differs).

mod common;
use common::*;
use serde_json::Value;

/// The unselected live audit of the rules account, shared by the per-rule tests below.
fn live_audit() -> (TestSim, Value) {
    let sim = start("rules-account.json");
    let home = Home::new();
    let out = grantguard(&sim, &home)
        .args(["audit", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = json(&out);
    assert_honest(&report, out.status.code());
    (sim, report)
}

fn has(report: &Value, grant: &str, rule: &str) -> bool {
    rules_of(report, grant).iter().any(|r| r == rule)
}

fn global_users(report: &Value, rule: &str) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == rule)
        .map(|f| f["user"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn every_usage_rule_fires_on_its_case_and_not_on_its_near_miss() {
    let (_sim, report) = live_audit();
    // (rule, fires on, must not fire on, why the near miss differs)
    let cases = [
        (
            "GG101",
            "gg101-fires",
            "gg101-near",
            "the draft names the grant, the deployment does not",
        ),
        (
            "GG102",
            "gg102-fires",
            "gg102-near",
            "the PRE model names it, nothing is deployed in PRE",
        ),
        (
            "GG103",
            "gg103-fires",
            "gg103-near",
            "only the deployment names it, the draft does not",
        ),
        (
            "GG104",
            "gg104-fires",
            "gg104-near",
            "the version is older than the history depth (3)",
        ),
        (
            "GG105",
            "gg102-near",
            "gg102-fires",
            "the RELEASE model is used by a deployed API",
        ),
        (
            "GG106",
            "gg106-fires",
            "gg106-near",
            "the index lists what the walk found",
        ),
        (
            "GG201",
            "gg201-fires",
            "gg201-near",
            "only gg201-fires' index lookup was denied",
        ),
        (
            "GG303",
            "gg303-fires",
            "gg303-near",
            "all the reference's keys agree",
        ),
        (
            "GG305",
            "gg305-fires",
            "gg305-near",
            "same VPC and instance, another port",
        ),
        (
            "GG305",
            "gg305-fires-twin",
            "gg305-near",
            "same VPC and instance, another port",
        ),
        (
            "GG306",
            "gg306-fires",
            "gg306-near",
            "the draft spells the name exactly",
        ),
    ];
    for (rule, fires, near, why) in cases {
        assert!(has(&report, fires, rule), "{rule} must fire on {fires}");
        assert!(
            !has(&report, near, rule),
            "{rule} must not fire on {near}: {why}"
        );
    }
    let v = verdicts(&report);
    assert_eq!(v["gg101-fires"], "blocked");
    assert_eq!(v["gg102-fires"], "blocked");
    assert_eq!(v["gg103-fires"], "safe", "GG103 is warn by default");
    assert_eq!(v["gg106-fires"], "unknown", "GG106 is a coverage rule");
    assert_eq!(v["gg201-fires"], "unknown");
    assert_eq!(v["gg201-near"], "safe", "the gap is narrowed to one grant");
    assert_eq!(v["gg104-near"], "safe");
    assert_eq!(v["gg305-fires"], "blocked", "GG305 is deny, not coverage");
    assert_eq!(v["gg305-fires-twin"], "blocked");
    assert_eq!(v["gg305-near"], "safe");
    assert_eq!(v["gg306-fires"], "unknown", "GG306 is a coverage rule");
    assert_eq!(v["gg306-near"], "safe", "its draft is a GG103 warning");
}

fn message_of(report: &Value, grant: &str, rule: &str) -> String {
    report["grants"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["name"] == grant)
        .flat_map(|g| g["findings"].as_array().unwrap().iter())
        .find(|f| f["rule"] == rule)
        .unwrap_or_else(|| panic!("{rule} on {grant}"))["message"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn gg305_names_the_other_grant_of_the_tuple_on_each_side() {
    let (_sim, report) = live_audit();
    let id_of = |name: &str| -> String {
        report["grants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["name"] == name)
            .expect("audited")["vpc_access_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    for (grant, other) in [
        ("gg305-fires", "gg305-fires-twin"),
        ("gg305-fires-twin", "gg305-fires"),
    ] {
        let message = message_of(&report, grant, "GG305");
        assert!(
            message.starts_with(&format!(
                "grant {other} ({}) also holds the tuple vpc-rules/i-305:80;",
                id_of(other)
            )),
            "{message}"
        );
        assert_eq!(rules_of(&report, grant), ["GG305"], "nothing else holds it");
    }
}

#[test]
fn gg305_refuses_the_removal_even_forced_and_leaves_both_grants() {
    let sim = start("rules-account.json");
    let home = Home::new();
    let out = grantguard(&sim, &home)
        .args(["remove", "--name", "gg305-fires", "--yes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stdout(&out).contains("GG305"), "{}", stdout(&out));
    assert_eq!(sim.calls("RemoveVpcAccess"), 0);
    // Even forced, the re-check before the call sees two grants on the tuple and aborts: the
    // emulator would take both (docs/fixture-format.md), and so might the service.
    let forced = grantguard(&sim, &home)
        .args(["remove", "--name", "gg305-fires", "--yes", "--force"])
        .args(["--reason", "the twin is the one in use"])
        .output()
        .unwrap();
    assert_eq!(forced.status.code(), Some(1), "{}", stderr(&forced));
    let said = format!("{}{}", stdout(&forced), stderr(&forced));
    assert!(
        said.contains("the tuple vpc-rules/i-305:80 matches 2 grants"),
        "{said}"
    );
    assert_eq!(sim.calls("RemoveVpcAccess"), 0);
    let state = sim.state();
    assert!(state.has_grant_named("gg305-fires"));
    assert!(state.has_grant_named("gg305-fires-twin"));
}

#[test]
fn gg306_shows_both_spellings_and_the_reference_is_not_dangling() {
    let (_sim, report) = live_audit();
    let message = message_of(&report, "gg306-fires", "GG306");
    assert_eq!(
        message,
        "cases/a306 (GET /a306) @ RELEASE names grant \" GG306-Fires\", which equals \"gg306-fires\" only after case or whitespace folding; the service's name matching is not documented, so it may route through this grant"
    );
    // The API's definition holds the same VPC config as its deployment: a reference of its own.
    assert_eq!(rules_of(&report, "gg306-fires"), ["GG306", "GG306"]);
    let users: Vec<&str> = report["grants"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["name"] == "gg306-fires")
        .flat_map(|g| g["findings"].as_array().unwrap().iter())
        .map(|f| f["user"].as_str().unwrap())
        .collect();
    assert_eq!(
        users,
        [
            "cases/a306 (GET /a306) @ RELEASE",
            "cases/a306 (GET /a306) [draft]"
        ]
    );
    assert!(
        !global_users(&report, "GG304")
            .iter()
            .any(|u| u.contains("a306")),
        "a near match is not also dangling"
    );
}

#[test]
fn gg304_fires_for_a_reference_to_no_grant_and_not_for_an_existing_one() {
    let (_sim, report) = live_audit();
    let users = global_users(&report, "GG304");
    assert_eq!(users, ["cases/a304 (GET /a304) [draft]"]);
    assert!(!has(&report, "gg304-near", "GG304"));
    assert!(
        has(&report, "gg304-near", "GG103"),
        "the near miss is a real user"
    );
}

#[test]
fn gg301_and_gg302_fire_for_bad_selectors_and_not_for_good_ones() {
    let sim = start("rules-account.json");
    let home = Home::new();
    let audit = |args: &[&str]| {
        let out = grantguard(&sim, &home)
            .args(["audit", "--format", "json"])
            .args(args)
            .output()
            .unwrap();
        (out.status.code(), json(&out))
    };
    let (code, missing) = audit(&["--name", "gg101-fire"]);
    assert_eq!(code, Some(1), "a selector matching nothing holds");
    assert_eq!(global_users(&missing, "GG301").len(), 1);
    assert!(missing["grants"].as_array().unwrap().is_empty());

    let (code, shared) = audit(&["--name", "gg302-shared"]);
    assert_eq!(code, Some(1));
    let message = shared["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "GG302")
        .expect("GG302")["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.contains("aaaa0000000000000000000000000302"),
        "{message}"
    );
    assert!(
        message.contains("bbbb0000000000000000000000000302"),
        "{message}"
    );

    // Near misses: one grant by id, one by a unique name.
    for args in [
        ["--vpc-access-id", "aaaa0000000000000000000000000302"],
        ["--name", "gg201-near"],
    ] {
        let (code, one) = audit(&args);
        assert_eq!(code, Some(0), "{args:?} selects one safe grant");
        assert_eq!(one["grants"].as_array().unwrap().len(), 1);
        assert!(global_users(&one, "GG301").is_empty());
        assert!(global_users(&one, "GG302").is_empty());
    }
}

#[test]
fn gg202_fires_for_a_snapshot_older_than_the_configured_age_and_not_within_it() {
    let sim = start("rules-account.json");
    let home = Home::new();
    let scan = grantguard(&sim, &home)
        .args(["scan", "--output", "scan.json"])
        .output()
        .unwrap();
    assert_eq!(
        scan.status.code(),
        Some(1),
        "the fixture has a gap: {}",
        stderr(&scan)
    );
    std::fs::write(
        home.path().join("stale.json"),
        r#"{ "max_inventory_age": "0s" }"#,
    )
    .unwrap();
    let audit = |config: Option<&str>| {
        let mut cmd = grantguard(&sim, &home);
        if let Some(config) = config {
            cmd.args(["--config", config]);
        }
        let out = cmd
            .args(["audit", "--inventory", "scan.json", "--format", "json"])
            .args(["--name", "gg201-near"])
            .output()
            .unwrap();
        (out.status.code(), json(&out))
    };
    let (_, stale) = audit(Some("stale.json"));
    assert_eq!(rules_of(&stale, "gg201-near"), ["GG202"]);
    assert_eq!(verdicts(&stale)["gg201-near"], "safe", "GG202 is warn");
    // Near miss: the default age is a day.
    let (code, fresh) = audit(None);
    assert_eq!(code, Some(0));
    assert!(rules_of(&fresh, "gg201-near").is_empty());
}

//! `grantguard repoint` and the restore of a repoint, through the real binary against the
//! emulator (issue 16). The emulator's account state, its call log and the journal are the
//! witnesses; the result document is validated against schemas/repoint.v1.schema.json.

mod common;

use common::*;
use grantguard_sim::fixture::{BatchWorkAlso, Route};
use grantguard_sim::{Faults, SimOptions};
use serde_json::Value;

const GRANT: &str = "shop-slb-80";
const NEW_INSTANCE: &str = "lb-shopnew000000000xxx";
const OLD_INSTANCE: &str = "lb-shopold000000000xxx";

/// The repoint fixture, with the service also updating backend models when `backends` (the
/// service promises only the published APIs; a fixture can play one that does more).
fn sim(backends: bool, faults: Faults) -> TestSim {
    let mut fixture = fixture("repoint-account.json");
    fixture.batch_work_also = BatchWorkAlso {
        backend_models: backends,
        ..BatchWorkAlso::default()
    };
    start_with(
        fixture,
        SimOptions {
            faults,
            ..SimOptions::default()
        },
    )
}

fn run(sim: &TestSim, home: &Home, args: &[&str]) -> std::process::Output {
    grantguard(sim, home)
        .args(args)
        .arg("--journal")
        .arg(home.journal())
        .output()
        .unwrap()
}

fn repoint(sim: &TestSim, home: &Home, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "repoint",
        "--name",
        GRANT,
        "--instance-id",
        NEW_INSTANCE,
        "--port",
        "8080",
    ];
    args.extend(extra);
    run(sim, home, &args)
}

fn schema() -> jsonschema::Validator {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/repoint.v1.schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::validator_for(&schema).expect("a valid JSON Schema")
}

fn assert_valid(document: &Value) {
    let validator = schema();
    let errors: Vec<String> = validator
        .iter_errors(document)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "schema violations: {errors:#?}\n{document:#}"
    );
}

/// Where the deployment of `api` in `stage` routes: (instance, port), or the backend id.
fn deployed(sim: &TestSim, api: &str, stage: &str) -> String {
    let state = sim.state();
    let id = state
        .apis
        .iter()
        .find(|a| a.name == api)
        .unwrap()
        .id
        .clone();
    match &state.deployment(&id, stage).unwrap().route {
        Some(Route::Vpc(v)) => format!("{}:{}", v.instance_id.clone().unwrap(), v.port.unwrap()),
        other => format!("{other:?}"),
    }
}

fn backend_release(sim: &TestSim) -> String {
    let state = sim.state();
    let id = state.backends[0].id.clone();
    let v = state.backend_vpc(&id, "RELEASE").unwrap();
    format!("{}:{}", v.instance_id.unwrap(), v.port.unwrap())
}

fn entry_id(document: &Value) -> String {
    document["journal_id"].as_str().unwrap().to_owned()
}

#[test]
fn a_clean_repoint_moves_three_stages_and_a_backend_and_verifies_each() {
    let sim = sim(true, Faults::default());
    let home = Home::new();
    let out = repoint(&sim, &home, &["--yes", "--format", "json"]);
    let document = json(&out);
    assert_eq!(out.status.code(), Some(0), "{document:#}\n{}", stderr(&out));
    assert_valid(&document);
    assert_eq!(document["outcome"], "moved");
    assert_eq!(document["summary"]["live_users"], 4);
    assert_eq!(document["summary"]["updated"], 4);
    let checks = document["checks"].as_array().unwrap();
    let stages: Vec<&str> = checks
        .iter()
        .map(|c| c["stage"].as_str().unwrap())
        .collect();
    for stage in ["RELEASE", "PRE", "TEST"] {
        assert!(stages.contains(&stage), "{stages:?}");
    }
    assert!(
        checks.iter().any(|c| c["backend_id"].is_string()),
        "the backend user is checked"
    );
    // The grant moved in place: same name, same id, the new tuple.
    let state = sim.state();
    let grant = state.grant_named(GRANT).unwrap();
    assert_eq!(
        (grant.instance_id.as_str(), grant.port),
        (NEW_INSTANCE, 8080)
    );
    for stage in ["RELEASE", "PRE", "TEST"] {
        assert_eq!(
            deployed(&sim, "listItems", stage),
            format!("{NEW_INSTANCE}:8080")
        );
    }
    assert_eq!(backend_release(&sim), format!("{NEW_INSTANCE}:8080"));
    // The draft and the rollback target are follow-ups, named as such.
    let follow_ups: Vec<&str> = document["users"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["live"] == false)
        .map(|u| u["kind"].as_str().unwrap())
        .collect();
    assert!(
        follow_ups.contains(&"draft") && follow_ups.contains(&"history"),
        "{follow_ups:?}"
    );
    // Each deployed definition was read back.
    assert!(sim.calls("DescribeUpdateVpcInfoTask") >= 2);
    let states = journal_states(&home.journal());
    assert_eq!(states, ["pending", "done"]);
    let pending = &journal_records(&home.journal())[0]["intent"];
    assert_eq!(
        pending["grant"]["InstanceId"], OLD_INSTANCE,
        "the old target is journaled"
    );
    assert_eq!(pending["target"]["InstanceId"], NEW_INSTANCE);
}

#[test]
fn the_human_report_lists_users_per_stage_and_follow_ups_and_says_what_the_service_promises() {
    let sim = sim(false, Faults::default());
    let home = Home::new();
    let out = repoint(&sim, &home, &["--dry-run"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(
        text.contains("verdict blocked (its live users are what a repoint moves)"),
        "{text}"
    );
    for stage in ["  RELEASE\n", "  PRE\n", "  TEST\n"] {
        assert!(text.contains(stage), "{text}");
    }
    assert!(
        text.contains("the service does NOT promise to update backend models"),
        "{text}"
    );
    assert!(text.contains("Follow-ups"), "{text}");
    assert!(text.contains("[draft]"), "{text}");
    assert!(
        text.contains("ModifyVpcAccessAndUpdateApis InstanceId=lb-shopnew000000000xxx Name=shop-slb-80 NeedBatchWork=true Port=8080"),
        "{text}"
    );
    assert_eq!(
        sim.calls("ModifyVpcAccessAndUpdateApis"),
        0,
        "a dry run changes nothing"
    );
    assert!(!home.journal().exists(), "a dry run journals nothing");
}

#[test]
fn a_backend_model_the_service_leaves_alone_is_not_verified_and_exits_1() {
    let sim = sim(false, Faults::default());
    let home = Home::new();
    let out = repoint(&sim, &home, &["--yes"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(text.contains("not-verified"), "{text}");
    assert!(text.contains("3 of 4 live users"), "{text}");
    assert!(text.contains("point the model at the new target"), "{text}");
    assert_eq!(
        journal_states(&home.journal()),
        ["pending", "done-unexpected"]
    );
}

#[test]
fn a_failed_api_exits_1_names_it_and_restore_moves_everything_back() {
    let faults = Faults {
        update_fail: [(
            "listItems@PRE".to_owned(),
            "the backend health check failed".to_owned(),
        )]
        .into(),
        ..Faults::default()
    };
    let sim = sim(true, faults);
    let home = Home::new();
    let out = repoint(&sim, &home, &["--yes", "--format", "json"]);
    let document = json(&out);
    assert_eq!(out.status.code(), Some(1), "{document:#}");
    assert_valid(&document);
    assert_eq!(document["outcome"], "moved-unverified");
    let failed: Vec<&Value> = document["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["result"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1, "{document:#}");
    assert_eq!(failed[0]["stage"], "PRE");
    assert_eq!(failed[0]["api_name"], "listItems");
    assert_eq!(
        failed[0]["service_message"],
        "the backend health check failed"
    );
    assert_eq!(
        deployed(&sim, "listItems", "PRE"),
        format!("{OLD_INSTANCE}:80")
    );
    assert_eq!(
        deployed(&sim, "listItems", "RELEASE"),
        format!("{NEW_INSTANCE}:8080")
    );

    // The human report names it too.
    let id = entry_id(&document);
    let listed = run(&sim, &home, &["journal"]);
    assert!(
        stdout(&listed).contains("moved-unverified"),
        "{}",
        stdout(&listed)
    );

    let restored = run(&sim, &home, &["restore", "--id", &id]);
    let text = stdout(&restored);
    assert_eq!(
        restored.status.code(),
        Some(0),
        "{text}{}",
        stderr(&restored)
    );
    assert!(text.contains("moved grant shop-slb-80 back"), "{text}");
    let state = sim.state();
    let grant = state.grant_named(GRANT).unwrap();
    assert_eq!((grant.instance_id.as_str(), grant.port), (OLD_INSTANCE, 80));
    for stage in ["RELEASE", "PRE", "TEST"] {
        assert_eq!(
            deployed(&sim, "listItems", stage),
            format!("{OLD_INSTANCE}:80")
        );
    }
    assert_eq!(backend_release(&sim), format!("{OLD_INSTANCE}:80"));
    let states = journal_states(&home.journal());
    assert_eq!(
        states,
        ["pending", "done-unexpected", "restore-pending", "restored"]
    );
}

#[test]
fn the_human_report_names_the_failed_api_with_the_service_message() {
    let faults = Faults {
        update_fail: [("listItems@TEST".to_owned(), "quota exceeded".to_owned())].into(),
        ..Faults::default()
    };
    let sim = sim(true, faults);
    let home = Home::new();
    let out = repoint(&sim, &home, &["--yes"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let line = text
        .lines()
        .find(|l| l.starts_with("failed"))
        .unwrap_or_else(|| panic!("no failed line:\n{text}"));
    assert!(
        line.contains("TEST") && line.contains("listItems"),
        "{line}"
    );
    assert!(line.contains("service: quota exceeded"), "{line}");
    assert!(
        text.contains("undo with: grantguard restore --id"),
        "{text}"
    );
}

#[test]
fn an_incomplete_audit_is_refused_without_force_and_reason() {
    let faults = Faults {
        fail: vec!["DescribeApis=Forbidden.RAM".parse().unwrap()],
        ..Faults::default()
    };
    let sim = sim(true, faults);
    let home = Home::new();
    let out = repoint(&sim, &home, &["--yes", "--format", "json"]);
    let document = json(&out);
    assert_eq!(out.status.code(), Some(1), "{document:#}");
    assert_valid(&document);
    assert_eq!(document["outcome"], "refused");
    // DescribeApis unread: the verdict is blocked (live users outrank coverage), but not every
    // user could be listed, so the repoint fails closed as on `unknown`.
    assert_eq!(document["refusal"]["kind"], "incomplete");
    assert_eq!(sim.calls("ModifyVpcAccessAndUpdateApis"), 0);
    assert!(!home.journal().exists() || journal_states(&home.journal()).is_empty());

    let forced = repoint(
        &sim,
        &home,
        &[
            "--yes",
            "--force",
            "--reason",
            "the drafts are known to be HTTP",
        ],
    );
    assert_eq!(
        sim.calls("ModifyVpcAccessAndUpdateApis"),
        1,
        "{}",
        stdout(&forced)
    );
    let pending = &journal_records(&home.journal())[0];
    assert_eq!(
        pending["intent"]["override"]["reason"],
        "the drafts are known to be HTTP"
    );
    let overridden = pending["intent"]["override"]["findings"]
        .as_array()
        .unwrap();
    assert!(overridden.iter().any(|f| f["rule"] == "GG201"), "{pending}");
}

#[test]
fn force_without_reason_is_a_usage_error() {
    let sim = sim(true, Faults::default());
    let home = Home::new();
    let out = repoint(&sim, &home, &["--yes", "--force"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--reason"), "{}", stderr(&out));
    assert_eq!(sim.log().len(), 0, "no call before the usage check");
}

#[test]
fn a_tuple_another_grant_holds_and_the_current_target_are_refused() {
    let sim = sim(true, Faults::default());
    let home = Home::new();
    let taken = run(
        &sim,
        &home,
        &[
            "repoint",
            "--name",
            GRANT,
            "--instance-id",
            "i-shopecs00000000000xxx",
            "--port",
            "8080",
            "--yes",
            "--format",
            "json",
        ],
    );
    let document = json(&taken);
    assert_eq!(taken.status.code(), Some(1), "{document:#}");
    assert_valid(&document);
    assert_eq!(document["refusal"]["kind"], "target");
    assert!(document["refusal"]["message"]
        .as_str()
        .unwrap()
        .contains("shop-ecs-8080"));
    assert!(document["refusal"]["message"]
        .as_str()
        .unwrap()
        .contains("GG305"));

    let same = run(
        &sim,
        &home,
        &[
            "repoint",
            "--name",
            GRANT,
            "--instance-id",
            OLD_INSTANCE,
            "--port",
            "80",
            "--yes",
        ],
    );
    assert_eq!(same.status.code(), Some(1));
    assert!(
        stdout(&same).contains("is the grant's current one"),
        "{}",
        stdout(&same)
    );
    assert_eq!(sim.calls("ModifyVpcAccessAndUpdateApis"), 0);
}

#[test]
fn a_tuple_taken_after_the_audit_is_caught_by_the_re_check() {
    let sim = sim(true, Faults::default());
    // The re-check's DescribeVpcAccesses is the third (after the resolve and the audit's walk):
    // someone takes the tuple meanwhile.
    sim.before("DescribeVpcAccesses", |call, account| {
        if call.nth == 3 {
            let mut twin = account.grants[1].clone();
            twin.name = "someone-else".into();
            twin.vpc_access_id = "0123456789abcdef0123456789abcdef".into();
            twin.instance_id = NEW_INSTANCE.into();
            account.grants.push(twin);
        }
    });
    let home = Home::new();
    let out = repoint(&sim, &home, &["--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("someone-else"), "{}", stdout(&out));
    assert_eq!(sim.calls("ModifyVpcAccessAndUpdateApis"), 0);
    assert_eq!(journal_states(&home.journal()), ["pending", "not-removed"]);
}

#[test]
fn a_task_that_never_finishes_times_out_with_exit_1_and_the_journal_says_so() {
    let faults = Faults {
        update_never_finishes: true,
        ..Faults::default()
    };
    let sim = sim(true, faults);
    let home = Home::new();
    let out = repoint(&sim, &home, &["--yes", "--task-timeout", "1s"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(text.contains("TIMEOUT"), "{text}");
    assert!(text.contains("still running"), "{text}");
    let records = journal_records(&home.journal());
    let outcome = records.last().unwrap();
    assert_eq!(outcome["state"], "done-unexpected");
    assert_eq!(outcome["detail"]["timed_out"], true);
    assert!(
        outcome["detail"]["reason"]
            .as_str()
            .unwrap()
            .contains("DescribeUpdateVpcInfoTask did not report every API final"),
        "{outcome}"
    );
}

#[test]
fn repoint_is_in_the_help_with_the_target_flags() {
    let home = Home::new();
    let out = bare(&home).args(["repoint", "--help"]).output().unwrap();
    let text = stdout(&out);
    for flag in [
        "--instance-id",
        "--port",
        "--vpc-id",
        "--target-host-name",
        "--dry-run",
        "--task-timeout",
    ] {
        assert!(text.contains(flag), "{flag}: {text}");
    }
}

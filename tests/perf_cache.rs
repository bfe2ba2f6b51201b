//! `audit --cache DIR` end to end: the real binary against a generated account on the
//! in-process emulator. A repeat audit of an unchanged account makes at most 20% of a cold
//! audit's calls and reports the same; a changed draft, a new deployment and a removed
//! deployment are each picked up (the cached audit reports what a cold audit reports).

mod common;
use common::*;
use grantguard_sim::fixture::{Route, VpcRoute};
use grantguard_sim::generate::{self, GenerateOptions};
use grantguard_sim::{Fixture, SimOptions};
use serde_json::Value;
use std::path::Path;

fn account() -> Fixture {
    let text = generate::fixture_json(&GenerateOptions {
        groups: 3,
        apis_per_group: 12,
        stages: 3,
        grants: 10,
        vpc_share: 0.4,
        seed: 5,
    });
    Fixture::from_json(&text).expect("generated fixtures load")
}

/// Runs an audit (cached in `cache` when given) and returns its report without the times
/// that differ between runs, and the calls it made.
fn audit(sim: &TestSim, home: &Home, cache: Option<&Path>) -> (Value, usize) {
    let before = sim.log().len();
    let mut cmd = grantguard(sim, home);
    cmd.args(["audit", "--format", "json"]);
    if let Some(dir) = cache {
        cmd.arg("--cache").arg(dir);
    }
    let out = cmd.output().unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "audit ran: {}",
        stderr(&out)
    );
    let mut report = json(&out);
    let object = report.as_object_mut().unwrap();
    object.remove("generated_at");
    object.remove("taken_at");
    assert_eq!(report["complete"], true, "{}", stderr(&out));
    (report, sim.log().len() - before)
}

fn later(time: &str) -> String {
    // Generated times are all in 2024; a 2025 time is later than every one of them.
    time.replacen("2024", "2025", 1)
}

#[test]
fn a_cached_audit_is_cheap_identical_and_picks_up_every_kind_of_change() {
    let sim = start_with(account(), SimOptions::default());
    let home = Home::new();
    let cache = home.path().join("cache");

    let (cold, cold_calls) = audit(&sim, &home, Some(&cache));
    assert!(grantguard::inventory::cache::path_for(&cache, &"cn-hangzhou".into()).exists());
    let (warm, warm_calls) = audit(&sim, &home, Some(&cache));
    assert_eq!(warm, cold, "an unchanged account gives the same report");
    assert!(
        warm_calls * 5 <= cold_calls,
        "a repeat audit makes at most 20% of the cold calls: {warm_calls} of {cold_calls}"
    );

    let state = sim.state();
    let grant = state.grants[0].clone();
    let to_grant = Route::Vpc(VpcRoute {
        name: Some(grant.name.clone()),
        vpc_id: Some(grant.vpc_id.clone()),
        instance_id: Some(grant.instance_id.clone()),
        port: Some(grant.port),
        enabled: true,
    });
    let http_api = |acc: &grantguard_sim::Account| {
        acc.apis
            .iter()
            .find(|a| matches!(a.route, Route::Http(_)))
            .map(|a| a.id.clone())
            .expect("some API routes over HTTP")
    };

    // 1. One API's draft now routes to a grant.
    sim.mutate(|acc| {
        let id = http_api(acc);
        let api = acc.apis.iter_mut().find(|a| a.id == id).unwrap();
        api.route = to_grant.clone();
        api.modified_time = later(&api.modified_time);
    });
    // 2. One new deployment through a grant; 3. one deployment through a grant removed.
    let (new_api, gone) = sim.mutate(|acc| {
        let new_api = acc
            .apis
            .iter()
            .find(|a| matches!(a.route, Route::Http(_)) && !acc.is_deployed(&a.id, "PRE"))
            .map(|a| a.id.clone())
            .expect("an HTTP API not live in PRE");
        acc.publish(
            &new_api,
            "PRE",
            Some(to_grant.clone()),
            "2025-06-01T00:00:00Z",
        );
        let gone = acc
            .deployments
            .iter()
            .find(|d| matches!(d.route, Some(Route::Vpc(_))) && d.api != new_api)
            .map(|d| (d.api.clone(), d.stage.clone()))
            .expect("a deployment through a grant");
        assert!(acc.unpublish(&gone.0, &gone.1));
        (new_api, gone)
    });

    let (changed, changed_calls) = audit(&sim, &home, Some(&cache));
    assert_ne!(changed, cold, "the changes show in the report");
    let (fresh, _) = audit(&sim, &home, None);
    assert_eq!(
        changed, fresh,
        "the cached audit reports what a cold one does"
    );
    assert!(changed_calls < cold_calls);

    let findings = serde_json::to_string(&changed["grants"]).unwrap();
    assert!(
        findings.contains(&new_api),
        "the new deployment is reported"
    );
    let stage_of = |v: &Value, api: &str, stage: &str, rule: &str| {
        v["grants"].as_array().unwrap().iter().any(|g| {
            g["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["api_id"] == api && f["stage"] == stage && f["rule"] == rule)
        })
    };
    assert!(stage_of(&changed, &new_api, "PRE", "GG101"));
    assert!(stage_of(&cold, &gone.0, &gone.1, "GG101"));
    assert!(
        !stage_of(&changed, &gone.0, &gone.1, "GG101"),
        "the removed deployment is no longer reported as live"
    );
}

#[test]
fn a_damaged_cache_is_ignored_with_a_warning() {
    let sim = start_with(account(), SimOptions::default());
    let home = Home::new();
    let cache = home.path().join("cache");
    let (cold, cold_calls) = audit(&sim, &home, Some(&cache));
    let file = grantguard::inventory::cache::path_for(&cache, &"cn-hangzhou".into());
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, &text[..text.len() / 3]).unwrap();

    let before = sim.log().len();
    let out = grantguard(&sim, &home)
        .args(["audit", "--format", "json", "--cache"])
        .arg(&cache)
        .output()
        .unwrap();
    assert!(
        stderr(&out).contains("ignoring the cache"),
        "{}",
        stderr(&out)
    );
    assert_eq!(sim.log().len() - before, cold_calls, "nothing was reused");
    let mut report = json(&out);
    report.as_object_mut().unwrap().remove("generated_at");
    report.as_object_mut().unwrap().remove("taken_at");
    assert_eq!(report, cold);
    // The walk succeeded, so the cache is whole again.
    assert!(grantguard::inventory::snapshot::load(&file).is_ok());
}

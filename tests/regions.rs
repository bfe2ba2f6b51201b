//! Several regions in one run: `--region a,b` and `--region all`, each region served by its own
//! in-process emulator (GRANTGUARD_ENDPOINT_<REGION>), walked in parallel by the real binary.

mod common;
use common::*;
use grantguard_sim::{Faults, Fixture, SimOptions};
use serde_json::Value;

/// The basic account in `region`; in cn-shanghai without its unused grant, so the two
/// regions' reports differ.
fn account(region: &str) -> Fixture {
    let mut fixture = fixture("basic-account.json");
    fixture.region = region.into();
    if region == "cn-shanghai" {
        fixture.grants.retain(|g| g.name != "legacy-unused-443");
    }
    fixture
}

fn start_region(region: &str, faults: Faults) -> TestSim {
    start_with(
        account(region),
        SimOptions {
            faults,
            ..SimOptions::default()
        },
    )
}

fn forbidden_listing() -> Faults {
    Faults {
        fail: vec!["DescribeVpcAccesses=Forbidden.RAM"
            .parse()
            .expect("fail rule")],
        ..Faults::default()
    }
}

/// The binary pointed at both emulators: cn-hangzhou through GRANTGUARD_ENDPOINT (the
/// harness), cn-shanghai through its own variable.
fn both(hangzhou: &TestSim, shanghai: &TestSim, home: &Home) -> assert_cmd::Command {
    let mut cmd = grantguard(hangzhou, home);
    cmd.env("GRANTGUARD_ENDPOINT_CN_SHANGHAI", shanghai.url());
    cmd
}

/// `report` against schemas/report.v1.schema.json, which holds both report forms (oneOf).
fn assert_schema(report: &Value) {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/report.v1.schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let errors: Vec<String> = validator
        .iter_errors(report)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "schema violations: {errors:#?}");
}

/// The single-region JSON audit of `region` on `sim`.
fn single(sim: &TestSim, region: &str, home: &Home) -> Value {
    let out = grantguard(sim, home)
        .args(["audit", "--format", "json", "--region", region])
        .output()
        .unwrap();
    json(&out)
}

#[test]
fn two_regions_are_audited_together_with_the_verdicts_of_their_single_audits() {
    let (hangzhou, shanghai) = (
        start_region("cn-hangzhou", Faults::default()),
        start_region("cn-shanghai", Faults::default()),
    );
    let home = Home::new();
    let out = both(&hangzhou, &shanghai, &home)
        .args([
            "audit",
            "--format",
            "json",
            "--region",
            "cn-hangzhou,cn-shanghai",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "blocked grants: {}",
        stderr(&out)
    );
    let report = json(&out);
    assert_schema(&report);
    assert_eq!(report["schema"], "grantguard.report/v1");
    assert_eq!(report["complete"], true);
    assert!(report.get("region").is_none() && report.get("grants").is_none());
    let regions = report["regions"].as_array().expect("regions array");
    assert_eq!(regions.len(), 2);
    let mut total = 0;
    for (entry, (sim, region)) in regions
        .iter()
        .zip([(&hangzhou, "cn-hangzhou"), (&shanghai, "cn-shanghai")])
    {
        assert_eq!(entry["region"], region);
        assert_eq!(entry["schema"], "grantguard.report/v1");
        assert_eq!(entry["complete"], true);
        assert_honest(entry, None);
        let alone = single(sim, region, &home);
        assert_eq!(verdicts(entry), verdicts(&alone), "{region}");
        assert_eq!(entry["summary"], alone["summary"], "{region}");
        total += entry["summary"]["grants"].as_u64().unwrap();
        assert_nonces_unique(sim);
        assert_no_secret(sim, &[&stdout(&out), &stderr(&out)]);
    }
    assert_eq!(report["summary"]["grants"].as_u64(), Some(total));
    assert_eq!(
        (total, regions[1]["grants"].as_array().unwrap().len()),
        (9, 4)
    );

    // People get one heading per region and the totals; SARIF names the region of each result.
    let human = both(&hangzhou, &shanghai, &home)
        .args(["audit", "--region", "cn-hangzhou,cn-shanghai"])
        .output()
        .unwrap();
    let text = stdout(&human);
    assert!(text.contains("grantguard audit of cn-hangzhou\n"), "{text}");
    assert!(text.contains("grantguard audit of cn-shanghai\n"), "{text}");
    assert!(text.contains("2 regions, 9 grants audited"), "{text}");
    let sarif = both(&hangzhou, &shanghai, &home)
        .args([
            "audit",
            "--format",
            "sarif",
            "--region",
            "cn-hangzhou,cn-shanghai",
        ])
        .output()
        .unwrap();
    let log = json(&sarif);
    let run = &log["runs"][0];
    let located = |region: &str| {
        run["results"].as_array().unwrap().iter().any(|r| {
            r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]
                == format!("region/{region}")
        })
    };
    assert!(located("cn-hangzhou") && located("cn-shanghai"));
    assert_eq!(run["properties"]["complete"], true);
}

#[test]
fn a_region_whose_listing_is_forbidden_is_incomplete_and_the_other_stands() {
    let (hangzhou, shanghai) = (
        start_region("cn-hangzhou", Faults::default()),
        start_region("cn-shanghai", forbidden_listing()),
    );
    let home = Home::new();
    let out = both(&hangzhou, &shanghai, &home)
        .args([
            "audit",
            "--format",
            "json",
            "--region",
            "cn-hangzhou,cn-shanghai",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = json(&out);
    assert_schema(&report);
    assert_eq!(report["complete"], false);
    let (read, failed) = (&report["regions"][0], &report["regions"][1]);
    assert_eq!(
        (read["region"].as_str(), read["complete"].as_bool()),
        (Some("cn-hangzhou"), Some(true))
    );
    assert_eq!(
        verdicts(read),
        verdicts(&single(&hangzhou, "cn-hangzhou", &home))
    );
    assert_eq!(failed["region"], "cn-shanghai");
    assert_eq!(failed["complete"], false);
    assert_honest(failed, None);
    assert!(
        verdicts(failed).values().all(|v| v != "safe"),
        "no safe grant in a failed region"
    );
    let gap = &failed["gaps"][0];
    assert_eq!(
        (
            gap["action"].as_str(),
            gap["code"].as_str(),
            gap["scope"].as_str()
        ),
        (
            Some("DescribeVpcAccesses"),
            Some("Forbidden.RAM"),
            Some("region")
        )
    );
    assert_eq!(failed["summary"]["safe"], 0);

    // The human report names the failure under the region's heading.
    let human = both(&hangzhou, &shanghai, &home)
        .args(["audit", "--region", "cn-hangzhou,cn-shanghai"])
        .output()
        .unwrap();
    assert_eq!(human.status.code(), Some(1));
    let text = stdout(&human);
    assert!(
        text.contains("grantguard audit of cn-shanghai (incomplete scan)"),
        "{text}"
    );
    assert!(
        text.contains("missing RAM action apigateway:DescribeVpcAccesses"),
        "{text}"
    );
}

#[test]
fn a_region_whose_endpoint_refuses_connections_is_incomplete_and_the_other_stands() {
    let hangzhou = start_region("cn-hangzhou", Faults::default());
    // A loopback port that was just free: connecting to it is refused at once.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/", listener.local_addr().unwrap())
    };
    let home = Home::new();
    let out = grantguard(&hangzhou, &home)
        .env("GRANTGUARD_ENDPOINT_CN_SHANGHAI", closed)
        .args(["audit", "--format", "json", "--max-attempts", "1"])
        .args(["--region", "cn-hangzhou,cn-shanghai"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = json(&out);
    assert_schema(&report);
    let (read, failed) = (&report["regions"][0], &report["regions"][1]);
    assert_eq!(read["complete"], true);
    assert_eq!(
        verdicts(read),
        verdicts(&single(&hangzhou, "cn-hangzhou", &home))
    );
    assert_eq!(failed["complete"], false);
    assert_eq!(failed["gaps"][0]["code"], "ConnectFailed");
    assert_eq!(failed["summary"]["safe"], 0);
}

#[test]
fn every_region_failing_is_an_error_and_scan_writes_one_snapshot_per_region() {
    let (hangzhou, shanghai) = (
        start_region("cn-hangzhou", forbidden_listing()),
        start_region("cn-shanghai", forbidden_listing()),
    );
    let home = Home::new();
    let out = both(&hangzhou, &shanghai, &home)
        .args([
            "audit",
            "--format",
            "json",
            "--region",
            "cn-hangzhou,cn-shanghai",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("nothing could be listed in region cn-hangzhou"));

    let good = start_region("cn-shanghai", Faults::default());
    let out = both(&hangzhou, &good, &home)
        .args([
            "scan",
            "--output",
            "inv.json",
            "--region",
            "cn-hangzhou,cn-shanghai",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed region holds: {}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("cn-hangzhou: no snapshot written"),
        "{}",
        stderr(&out)
    );
    assert!(!home.path().join("inv.cn-hangzhou.json").exists());
    let snapshot = home.path().join("inv.cn-shanghai.json");
    let saved: Value = serde_json::from_slice(&std::fs::read(&snapshot).unwrap()).unwrap();
    assert_eq!(saved["region"], "cn-shanghai");
    assert_eq!(saved["grants"].as_array().map(Vec::len), Some(4));
}

#[test]
fn all_expands_through_describe_regions_of_the_default_region() {
    let mut listing = account("cn-hangzhou");
    listing.regions = vec!["cn-hangzhou".into(), "cn-shanghai".into()];
    let hangzhou = start_with(listing, SimOptions::default());
    let shanghai = start_region("cn-shanghai", Faults::default());
    let home = Home::new();
    let out = both(&hangzhou, &shanghai, &home)
        .args(["audit", "--format", "json", "--region", "all"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = json(&out);
    let names: Vec<_> = report["regions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["region"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["cn-hangzhou", "cn-shanghai"]);
    assert_eq!(
        (
            hangzhou.calls("DescribeRegions"),
            shanghai.calls("DescribeRegions")
        ),
        (1, 0)
    );
    assert!(shanghai.calls("DescribeVpcAccesses") > 0);
}

#[test]
fn one_region_keeps_the_single_region_report_and_remove_refuses_several() {
    let hangzhou = start_region("cn-hangzhou", Faults::default());
    let home = Home::new();
    let report = single(&hangzhou, "cn-hangzhou", &home);
    assert_schema(&report);
    assert_eq!(report["region"], "cn-hangzhou");
    assert!(report.get("regions").is_none());

    let calls = hangzhou.log().len();
    let out = grantguard(&hangzhou, &home)
        .args([
            "remove",
            "--name",
            "legacy-unused-443",
            "--region",
            "cn-hangzhou,cn-shanghai",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("`remove` works on one region"),
        "{}",
        stderr(&out)
    );
    assert_eq!(hangzhou.log().len(), calls, "refused before any call");
}

//! The emulator's answers against the vendor's response shapes, not against our own structs:
//! every action the emulator serves is called over HTTP (signed here with the emulator's own
//! v1 verifier functions, read back as raw JSON), on every bundled account fixture and a
//! generated one, and every key path of every answer must be one the official SDK models
//! (tests/golden/response-keys.json, written once by scripts/golden_keys.py from the pinned
//! SDK). The emulator and the client share `grantguard_wire`'s structs, so a key those structs
//! misspell round-trips in every other Rust test; here it fails.

mod common;

use common::*;
use grantguard_sim::generate::GenerateOptions;
use grantguard_sim::verify;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const STAGES: [&str; 3] = ["RELEASE", "PRE", "TEST"];

/// The SDK's key paths per action (`A.B[].C`; `X{}` allows any key under `X`).
fn golden() -> BTreeMap<String, BTreeSet<String>> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/response-keys.json");
    let file: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    file["keys"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(action, keys)| {
            let keys = keys
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k.as_str().unwrap().to_owned())
                .collect();
            (action.clone(), keys)
        })
        .collect()
}

/// Every key path of a raw JSON answer, in the golden file's notation.
fn key_paths(value: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                out.insert(path.clone());
                key_paths(child, &path, out);
            }
        }
        Value::Array(items) => {
            let path = format!("{prefix}[]");
            out.insert(path.clone());
            for item in items {
                key_paths(item, &path, out);
            }
        }
        _ => {}
    }
}

/// Whether the SDK models `path`: listed, or under a free-form map it lists.
fn modelled(keys: &BTreeSet<String>, path: &str) -> bool {
    keys.contains(path)
        || keys
            .iter()
            .filter_map(|k| k.strip_suffix("{}"))
            .any(|free| path == free || path.starts_with(&format!("{free}.")))
}

/// A raw client: v1-signed POSTs, answers kept as JSON, key paths gathered per action.
struct Raw<'a> {
    sim: &'a TestSim,
    http: reqwest::Client,
    seen: BTreeMap<String, BTreeSet<String>>,
}

impl Raw<'_> {
    /// Calls `action`; the answer's JSON when it is a success (2xx), else `None`.
    async fn call(&mut self, action: &str, params: &[(&str, &str)]) -> Option<Value> {
        let (id, secret, token) = credential(self.sim);
        let mut pairs: Vec<(String, String)> = [
            ("Action", action),
            ("Format", "json"),
            ("Version", "2016-07-14"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureVersion", "1.0"),
            ("AccessKeyId", id.as_str()),
        ]
        .iter()
        .chain(params)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        pairs.push((
            "SignatureNonce".into(),
            format!("{:032x}", rand::random::<u128>()),
        ));
        pairs.push((
            "Timestamp".into(),
            time::OffsetDateTime::now_utc()
                .replace_nanosecond(0)
                .unwrap()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap(),
        ));
        if let Some(token) = token {
            pairs.push(("SecurityToken".into(), token));
        }
        let signature = verify::v1_signature(&secret, &verify::v1_string_to_sign("POST", &pairs));
        pairs.push(("Signature".into(), signature));
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&pairs)
            .finish();
        let answer = self
            .http
            .post(format!("{}?{query}", self.sim.url()))
            .send()
            .await
            .unwrap();
        if !answer.status().is_success() {
            return None;
        }
        let body: Value = serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
        key_paths(&body, "", self.seen.entry(action.to_owned()).or_default());
        Some(body)
    }
}

/// `value[a][b]...` as an array of items (empty when absent).
fn items<'v>(value: &'v Value, path: &[&str]) -> Vec<&'v Value> {
    path.iter()
        .fold(value, |v, key| &v[*key])
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Calls every action the emulator serves on `sim`, reads first, then the mutations.
async fn call_every_action(raw: &mut Raw<'_>) {
    raw.call("DescribeRegions", &[])
        .await
        .expect("DescribeRegions");
    let grants = raw
        .call("DescribeVpcAccesses", &[("PageSize", "100")])
        .await
        .expect("DescribeVpcAccesses");
    let grants: Vec<[String; 4]> = items(&grants, &["VpcAccessAttributes", "VpcAccessAttribute"])
        .iter()
        .map(|g| ["Name", "VpcId", "InstanceId", "Port"].map(|k| text(&g[k])))
        .collect();
    let groups = raw
        .call("DescribeApiGroups", &[("PageSize", "50")])
        .await
        .expect("DescribeApiGroups");
    for group in items(&groups, &["ApiGroupAttributes", "ApiGroupAttribute"]) {
        let gid = text(&group["GroupId"]);
        raw.call("DescribeApiGroup", &[("GroupId", &gid)]).await;
        for stage in STAGES {
            let scope = [
                ("GroupId", gid.as_str()),
                ("StageName", stage),
                ("PageSize", "50"),
            ];
            raw.call("DescribeDeployedApis", &scope).await;
            raw.call("DescribeHistoryApis", &scope).await;
        }
        let apis = raw
            .call("DescribeApis", &[("GroupId", &gid), ("PageSize", "100")])
            .await
            .unwrap_or_default();
        for api in items(&apis, &["ApiSummarys", "ApiSummary"]) {
            let aid = text(&api["ApiId"]);
            raw.call("DescribeApi", &[("GroupId", &gid), ("ApiId", &aid)])
                .await;
            for stage in STAGES {
                let scope = [
                    ("GroupId", gid.as_str()),
                    ("ApiId", &aid),
                    ("StageName", stage),
                ];
                raw.call("DescribeDeployedApi", &scope).await;
                let versions = raw
                    .call("DescribeApiHistories", &scope)
                    .await
                    .unwrap_or_default();
                for version in items(&versions, &["ApiHisItems", "ApiHisItem"]) {
                    let v = text(&version["HistoryVersion"]);
                    let mut one = scope.to_vec();
                    one.push(("HistoryVersion", &v));
                    raw.call("DescribeApiHistory", &one).await;
                }
            }
        }
    }
    let backends = raw
        .call("DescribeBackendList", &[("PageSize", "100")])
        .await
        .unwrap_or_default();
    for backend in items(&backends, &["BackendInfoList"]) {
        let bid = text(&backend["BackendId"]);
        raw.call("DescribeBackendInfo", &[("BackendId", &bid)])
            .await;
        raw.call("DescribeApisByBackend", &[("BackendId", &bid)])
            .await;
        for stage in STAGES {
            let scope = [("BackendId", bid.as_str()), ("StageName", stage)];
            raw.call("DescribeApisByBackend", &scope).await;
        }
    }
    for [name, ..] in &grants {
        raw.call(
            "DescribeApisByVpcAccess",
            &[("VpcName", name), ("PageSize", "100")],
        )
        .await;
    }
    raw.call(
        "SetVpcAccess",
        &[
            ("Name", "golden-new-80"),
            ("VpcId", "vpc-goldenkeys000000001"),
            ("InstanceId", "i-goldenkeys00000000001"),
            ("Port", "80"),
        ],
    )
    .await
    .expect("SetVpcAccess");
    // Remove every grant: the used ones answer with the APIs they break.
    let (abolished, removed) = grants.split_at(grants.len() / 2);
    for [_, vpc, instance, port] in removed {
        let tuple = [
            ("VpcId", vpc.as_str()),
            ("InstanceId", instance),
            ("Port", port),
        ];
        raw.call("RemoveVpcAccess", &tuple).await;
    }
    for [_, vpc, instance, port] in abolished {
        let tuple = [
            ("VpcId", vpc.as_str()),
            ("InstanceId", instance),
            ("Port", port),
        ];
        let Some(task) = raw.call("RemoveVpcAccessAndAbolishApis", &tuple).await else {
            continue;
        };
        let uid = text(&task["OperationId"]);
        for _poll in 0..2 {
            raw.call("DescribeAbolishApiTask", &[("OperationUid", &uid)])
                .await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_of_the_emulator_uses_only_the_sdks_wire_keys() {
    let golden = golden();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut fixtures: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json"))
        .collect();
    fixtures.sort();
    assert!(fixtures.len() >= 2, "{fixtures:?}");
    let mut covered: BTreeSet<String> = BTreeSet::new();
    let mut stray: Vec<String> = Vec::new();
    // And a generated account, as `sim generate` and scripts/bench.sh make them.
    let generated = grantguard_sim::generate::fixture_json(&GenerateOptions {
        groups: 3,
        apis_per_group: 5,
        stages: 3,
        grants: 6,
        vpc_share: 0.5,
        seed: 7,
    });
    fixtures.push("generated".into());
    for name in &fixtures {
        let sim = match name.as_str() {
            "generated" => start_with(
                grantguard_sim::Fixture::from_json(&generated).unwrap(),
                grantguard_sim::SimOptions::default(),
            ),
            file => start(file),
        };
        let mut raw = Raw {
            sim: &sim,
            http: reqwest::Client::new(),
            seen: BTreeMap::new(),
        };
        call_every_action(&mut raw).await;
        for (action, paths) in &raw.seen {
            let keys = golden
                .get(action)
                .unwrap_or_else(|| panic!("no golden keys for {action}"));
            covered.insert(action.clone());
            stray.extend(
                paths
                    .iter()
                    .filter(|p| !modelled(keys, p))
                    .map(|p| format!("{name}: {action}: {p}")),
            );
        }
    }
    assert!(
        stray.is_empty(),
        "keys the official SDK does not model:\n{}",
        stray.join("\n")
    );
    let uncovered: Vec<&String> = golden.keys().filter(|a| !covered.contains(*a)).collect();
    assert!(
        uncovered.is_empty(),
        "never answered with a success: {uncovered:?}"
    );
}

/// The check itself can fail: a misspelt key, a key under a list's item and an unknown nested
/// key are caught; a key under a free-form map is not.
#[test]
fn the_key_check_catches_a_misspelt_key() {
    let golden = golden();
    let keys = &golden["DescribeVpcAccesses"];
    let answer = serde_json::json!({
        "RequestId": "R",
        "VpcAccessAttributes": {"VpcAccessAttribute": [{"VpcAcessId": "x", "Name": "n"}]},
    });
    let mut paths = BTreeSet::new();
    key_paths(&answer, "", &mut paths);
    let stray: Vec<&String> = paths.iter().filter(|p| !modelled(keys, p)).collect();
    assert_eq!(
        stray,
        ["VpcAccessAttributes.VpcAccessAttribute[].VpcAcessId"]
    );
    let free: BTreeSet<String> = ["A{}".to_owned()].into();
    assert!(modelled(&free, "A.anything.at.all"));
    assert!(!modelled(&free, "AB"));
}

//! End-to-end tests of the emulator over HTTP. Requests are signed by a small signer written
//! here (the verifier's own functions are pinned separately by the signing vectors of docs/cloudapi-notes.md), and
//! sent with reqwest to a started [`Sim`].

use super::*;
use serde_json::Value;
use std::path::Path;

const AK: &str = "LTAI5tTestAccessKeyId";
const SECRET: &str = "TestSecretKeyValue0123456789abc";
const ORDERS: &str = "be6d2abcc0dd4f749fc2d2edd6567164";
const BILLING: &str = "927d50c0f2e54b359919923d908bb015";
const GET_ORDER: &str = "3b81fd160f5645e097cc8855d75a1cf6";
const CREATE_ORDER: &str = "9a3f1a5279434f2ba74ccd91c295af9f";
const BACKEND: &str = "a0305308908c4740aba9cbfd63ba99b7";

fn fixture() -> Fixture {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/basic-account.json");
    Fixture::from_path(&path).expect("the bundled fixture is valid")
}

fn start(faults: Faults) -> Sim {
    let options = SimOptions {
        faults,
        env_credentials: false,
        ..SimOptions::default()
    };
    Sim::start(fixture(), options).expect("sim starts")
}

fn nonce() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// A v1 request as the official SDK sends it: POST, every parameter in the query, empty body.
struct V1<'a> {
    action: &'a str,
    params: Vec<(&'a str, String)>,
    ak: &'a str,
    secret: &'a str,
    token: Option<&'a str>,
    nonce: String,
    timestamp: String,
    method: &'a str,
}

impl<'a> V1<'a> {
    fn new(action: &'a str, params: &[(&'a str, &str)]) -> Self {
        V1 {
            action,
            params: params.iter().map(|(k, v)| (*k, v.to_string())).collect(),
            ak: AK,
            secret: SECRET,
            token: None,
            nonce: nonce(),
            timestamp: iso(OffsetDateTime::now_utc()),
            method: "POST",
        }
    }

    fn all_params(&self) -> Vec<(String, String)> {
        let mut p: Vec<(String, String)> = vec![
            ("Action".into(), self.action.into()),
            ("Format".into(), "json".into()),
            ("Version".into(), "2016-07-14".into()),
            ("Timestamp".into(), self.timestamp.clone()),
            ("SignatureNonce".into(), self.nonce.clone()),
            ("SignatureMethod".into(), "HMAC-SHA1".into()),
            ("SignatureVersion".into(), "1.0".into()),
            ("AccessKeyId".into(), self.ak.into()),
        ];
        if let Some(t) = self.token {
            p.push(("SecurityToken".into(), t.into()));
        }
        p.extend(self.params.iter().map(|(k, v)| (k.to_string(), v.clone())));
        p
    }

    fn signed_query(&self) -> String {
        let mut p = self.all_params();
        let sts = verify::v1_string_to_sign(self.method, &p);
        p.push(("Signature".into(), verify::v1_signature(self.secret, &sts)));
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(p)
            .finish()
    }

    async fn send(&self, sim: &Sim) -> Reply {
        let url = format!("{}?{}", sim.url(), self.signed_query());
        let method = reqwest::Method::from_bytes(self.method.as_bytes()).unwrap();
        Reply::from(
            reqwest::Client::new()
                .request(method, url)
                .send()
                .await
                .unwrap(),
        )
        .await
    }
}

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Reply {
    async fn from(r: reqwest::Response) -> Reply {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply {
            status,
            headers,
            body,
        }
    }
    fn code(&self) -> &str {
        self.body["Code"].as_str().unwrap_or("")
    }
}

async fn call(sim: &Sim, action: &str, params: &[(&str, &str)]) -> Reply {
    V1::new(action, params).send(sim).await
}

/// A v3 (ACS3-HMAC-SHA256) request as the SDK sends it by default.
async fn call_v3(sim: &Sim, action: &str, query: &[(&str, &str)], secret: &str) -> Reply {
    let pairs: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let host = sim.addr().to_string();
    let date = iso(OffsetDateTime::now_utc());
    let nonce = nonce();
    let hash = verify::payload_hash(b"");
    let headers: Vec<(&str, String)> = vec![
        ("host", host.clone()),
        ("x-acs-action", action.into()),
        ("x-acs-content-sha256", hash.clone()),
        ("x-acs-date", date.clone()),
        ("x-acs-signature-nonce", nonce.clone()),
        ("x-acs-version", "2016-07-14".into()),
    ];
    let names: Vec<String> = headers.iter().map(|(k, _)| k.to_string()).collect();
    let lookup = |name: &str| -> Vec<String> {
        headers
            .iter()
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
            .collect()
    };
    let sts = verify::v3_string_to_sign("POST", "/", &pairs, &names, lookup, &hash);
    let auth = format!(
        "ACS3-HMAC-SHA256 Credential={AK},SignedHeaders={},Signature={}",
        names.join(";"),
        verify::v3_signature(secret, &sts)
    );
    let qs = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&pairs)
        .finish();
    let mut req = reqwest::Client::new()
        .post(format!("{}?{qs}", sim.url()))
        .header("authorization", auth);
    for (k, v) in &headers {
        if *k != "host" {
            req = req.header(*k, v);
        }
    }
    Reply::from(req.send().await.unwrap()).await
}

#[tokio::test]
async fn v1_and_v3_requests_are_served_and_logged() {
    let sim = start(Faults::default());
    let r = call(&sim, "DescribeVpcAccesses", &[("PageSize", "100")]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["TotalCount"], 5);
    assert_eq!(
        r.body["VpcAccessAttributes"]["VpcAccessAttribute"][0]["Port"],
        80
    );
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json;charset=utf-8"));
    assert_eq!(
        r.headers["x-acs-request-id"].to_str().unwrap(),
        r.body["RequestId"]
    );

    let r = call_v3(
        &sim,
        "DescribeApiGroups",
        &[("PageSize", "50"), ("PageNumber", "1")],
        SECRET,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["TotalCount"], 2);

    let log = sim.log();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].signature_version, Some(SignatureVersion::V1));
    assert_eq!(log[1].signature_version, Some(SignatureVersion::V3));
    assert!(log
        .iter()
        .all(|r| r.status == 200 && r.nonce.is_some() && r.signature.is_some()));
    assert_eq!(sim.calls("DescribeApiGroups"), 1);
}

#[tokio::test]
async fn get_and_form_body_requests_are_accepted() {
    let sim = start(Faults::default());
    let mut get = V1::new("DescribeApiGroup", &[("GroupId", ORDERS)]);
    get.method = "GET";
    let r = get.send(&sim).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["StageItems"]["StageInfo"][0]["StageId"],
        "0f8a7b6c5d4e4f3a9b2c1d0e9f8a7b6c"
    );

    // The same parameters in a form body, `+` for the space of a fuzzy name filter.
    let req = V1::new("DescribeVpcAccesses", &[("Name", "orders slb")]);
    let body = req.signed_query();
    assert!(body.contains("Name=orders+slb"));
    let resp = reqwest::Client::new()
        .post(sim.url())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let r = Reply::from(resp).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["TotalCount"], 0);
}

#[tokio::test]
async fn authentication_failures_use_the_real_codes() {
    let sim = start(Faults::default());

    let mut bad = V1::new("DescribeRegions", &[]);
    bad.secret = "wrong";
    let r = bad.send(&sim).await;
    assert_eq!((r.status, r.code()), (400, "SignatureDoesNotMatch"));
    let message = r.body["Message"].as_str().unwrap();
    assert!(
        message.contains("server string to sign is:POST&%2F&AccessKeyId%3D"),
        "{message}"
    );
    assert!(!message.contains(SECRET));

    let mut unknown = V1::new("DescribeRegions", &[]);
    unknown.ak = "LTAInobody";
    let r = unknown.send(&sim).await;
    assert_eq!((r.status, r.code()), (404, "InvalidAccessKeyId.NotFound"));

    let first = V1::new("DescribeRegions", &[]);
    assert_eq!(first.send(&sim).await.status, 200);
    let r = first.send(&sim).await;
    assert_eq!((r.status, r.code()), (400, "SignatureNonceUsed"));

    let mut old = V1::new("DescribeRegions", &[]);
    old.timestamp = iso(OffsetDateTime::now_utc() - time::Duration::minutes(16));
    let r = old.send(&sim).await;
    assert_eq!((r.status, r.code()), (400, "InvalidTimeStamp.Expired"));
    assert!(r.headers.contains_key("date"));

    let r = call_v3(&sim, "DescribeRegions", &[], "wrong").await;
    assert_eq!((r.status, r.code()), (400, "SignatureDoesNotMatch"));
    assert!(r.body["Message"]
        .as_str()
        .unwrap()
        .contains("ACS3-HMAC-SHA256\n"));

    let mut sts = V1::new("DescribeRegions", &[]);
    (sts.ak, sts.secret) = ("STS.NTestStsKeyId", "TestStsSecret");
    assert_eq!(sts.send(&sim).await.code(), "MissingSecurityToken");
    sts.nonce = nonce();
    sts.token = Some("STS.other");
    assert_eq!(
        sts.send(&sim).await.code(),
        "InvalidSecurityToken.MismatchWithAccessKey"
    );
    sts.nonce = nonce();
    sts.token = Some("STS.NTestToken/+=");
    assert_eq!(sts.send(&sim).await.status, 200);
}

#[tokio::test]
async fn clock_offset_shifts_the_window_and_the_date_header() {
    let sim = start(Faults {
        clock_offset_secs: Some(20 * 60),
        ..Faults::default()
    });
    let r = call(&sim, "DescribeRegions", &[]).await;
    assert_eq!(r.code(), "InvalidTimeStamp.Expired");
    let date = r.headers["date"].to_str().unwrap();
    let fmt = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let server = time::PrimitiveDateTime::parse(date, &fmt)
        .unwrap()
        .assume_utc();
    let skew = (server - OffsetDateTime::now_utc()).whole_minutes();
    assert!((19..=20).contains(&skew), "{date} → {skew}");
}

#[tokio::test]
async fn paging_limits_are_enforced() {
    let sim = start(Faults::default());
    assert_eq!(
        call(&sim, "DescribeApiGroups", &[("PageSize", "50")])
            .await
            .status,
        200
    );
    let r = call(&sim, "DescribeApiGroups", &[("PageSize", "51")]).await;
    assert_eq!((r.status, r.code()), (400, "InvalidParameter"));
    let r = call(
        &sim,
        "DescribeHistoryApis",
        &[("GroupId", ORDERS), ("PageSize", "51")],
    )
    .await;
    assert_eq!(r.code(), "InvalidParameter");
    assert_eq!(
        call(&sim, "DescribeApis", &[("PageSize", "100")])
            .await
            .status,
        200
    );
    assert_eq!(
        call(&sim, "DescribeApis", &[("PageSize", "101")])
            .await
            .code(),
        "InvalidParameter"
    );
    assert_eq!(
        call(&sim, "DescribeApis", &[("PageNumber", "0")])
            .await
            .code(),
        "InvalidParameter"
    );

    let r = call(&sim, "DescribeApis", &[]).await;
    assert_eq!(
        (r.body["PageSize"].as_u64(), r.body["PageNumber"].as_u64()),
        (Some(10), Some(1))
    );
    let r = call(
        &sim,
        "DescribeApis",
        &[("GroupId", ORDERS), ("PageSize", "2"), ("PageNumber", "2")],
    )
    .await;
    assert_eq!(r.body["TotalCount"], 3);
    assert_eq!(
        r.body["ApiSummarys"]["ApiSummary"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let r = call(
        &sim,
        "DescribeApis",
        &[("GroupId", ORDERS), ("PageSize", "2"), ("PageNumber", "3")],
    )
    .await;
    assert_eq!(
        r.body["ApiSummarys"]["ApiSummary"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

#[tokio::test]
async fn deployed_api_hides_its_backend_like_the_real_service() {
    let sim = start(Faults::default());
    let base = [
        ("GroupId", ORDERS),
        ("ApiId", CREATE_ORDER),
        ("StageName", "RELEASE"),
    ];
    let r = call(&sim, "DescribeDeployedApi", &base).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let obj = r.body.as_object().unwrap();
    assert!(
        !obj.contains_key("BackendEnable") && !obj.contains_key("BackendConfig"),
        "{}",
        r.body
    );
    assert_eq!(r.body["ServiceConfig"]["ServiceVpcEnable"], "FALSE");

    let r = call(&sim, "DescribeApiHistories", &base).await;
    let items = r.body["ApiHisItems"]["ApiHisItem"]
        .as_array()
        .unwrap()
        .clone();
    let online = items.iter().find(|i| i["Status"] == "ONLINE").unwrap();
    let version = online["HistoryVersion"].as_str().unwrap();
    let mut p = base.to_vec();
    p.push(("HistoryVersion", version));
    let r = call(&sim, "DescribeApiHistory", &p).await;
    assert_eq!(r.body["BackendEnable"], true, "{}", r.body);
    assert_eq!(r.body["BackendConfig"]["BackendId"], BACKEND);

    let r = call(
        &sim,
        "DescribeApisByBackend",
        &[("BackendId", BACKEND), ("StageName", "RELEASE")],
    )
    .await;
    assert_eq!(r.body["ApiInfoList"]["ApiInfo"][0]["ApiId"], CREATE_ORDER);
    let r = call(&sim, "DescribeBackendInfo", &[("BackendId", BACKEND)]).await;
    let model = &r.body["BackendInfo"]["BackendModels"][0];
    assert_eq!(
        model["BackendConfig"]["VpcConfig"]["Name"],
        "orders-internal-9000"
    );
    assert_eq!(model["BackendConfig"]["VpcConfig"]["Port"], 9000);

    // A direct VPC route shows in the deployed definition, with the sibling VpcId.
    let r = call(
        &sim,
        "DescribeDeployedApi",
        &[("ApiId", GET_ORDER), ("StageName", "RELEASE")],
    )
    .await;
    assert_eq!(r.body["ServiceConfig"]["ServiceVpcEnable"], "TRUE");
    assert_eq!(
        r.body["ServiceConfig"]["VpcConfig"]["Name"],
        "orders-slb-80"
    );
    assert_eq!(
        r.body["ServiceConfig"]["VpcId"],
        "vpc-uf657qec7lx42paw3qxxx"
    );
}

#[tokio::test]
async fn not_found_and_missing_parameters() {
    let sim = start(Faults::default());
    let r = call(
        &sim,
        "DescribeDeployedApi",
        &[("ApiId", CREATE_ORDER), ("StageName", "PRE")],
    )
    .await;
    assert_eq!((r.status, r.code()), (404, "NotFoundStage"));
    assert_eq!(
        call(&sim, "DescribeApi", &[("ApiId", "nope")]).await.code(),
        "NotFoundApi"
    );
    assert_eq!(
        call(&sim, "DescribeApiGroup", &[("GroupId", "nope")])
            .await
            .code(),
        "NotFoundApiGroup"
    );
    assert_eq!(
        call(&sim, "DescribeApiGroup", &[]).await.code(),
        "MissingParameter"
    );
    let r = call(&sim, "DescribeEverything", &[]).await;
    assert_eq!((r.status, r.code()), (404, "InvalidAction.NotFound"));
    let r = call(
        &sim,
        "RemoveVpcAccess",
        &[("VpcId", "vpc-x"), ("InstanceId", "i-x"), ("Port", "1")],
    )
    .await;
    assert_eq!(r.code(), "NotFoundVpc");
    assert!(r.body["Recommend"]
        .as_str()
        .unwrap()
        .contains("NotFoundVpc"));
    assert_eq!(r.body["HostId"], "apigateway.cn-hangzhou.aliyuncs.com");
}

#[tokio::test]
async fn remove_vpc_access_reports_the_apis_it_breaks_and_unpublishes_nothing() {
    let sim = start(Faults::default());
    let grant = sim
        .state()
        .grant_named("orders-internal-9000")
        .unwrap()
        .clone();
    let port = grant.port.to_string();
    let key = [
        ("VpcId", grant.vpc_id.as_str()),
        ("InstanceId", grant.instance_id.as_str()),
        ("Port", port.as_str()),
    ];
    let r = call(&sim, "RemoveVpcAccess", &key).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let apis = r.body["Apis"]["Api"].as_array().unwrap();
    assert_eq!(apis.len(), 1);
    assert_eq!(apis[0]["ApiId"], CREATE_ORDER);
    assert_eq!(apis[0]["GroupId"], ORDERS);
    assert_eq!(apis[0]["StageId"], "0f8a7b6c5d4e4f3a9b2c1d0e9f8a7b6c");
    let state = sim.state();
    assert!(!state.has_grant_named("orders-internal-9000"));
    assert!(state.is_deployed(CREATE_ORDER, "RELEASE"));

    let unused = state.grant_named("legacy-unused-443").unwrap().clone();
    let port = unused.port.to_string();
    let key = [
        ("VpcId", unused.vpc_id.as_str()),
        ("InstanceId", unused.instance_id.as_str()),
        ("Port", port.as_str()),
    ];
    let r = call(&sim, "RemoveVpcAccess", &key).await;
    assert_eq!(r.body["Apis"]["Api"].as_array().map(Vec::len), Some(0));

    let r = call(
        &sim,
        "SetVpcAccess",
        &[
            ("Name", "legacy-unused-443"),
            ("VpcId", "vpc-1"),
            ("InstanceId", "i-1"),
            ("Port", "443"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["VpcAccessId"].as_str().unwrap().len(), 32);
    let r = call(
        &sim,
        "SetVpcAccess",
        &[
            ("Name", "legacy-unused-443"),
            ("VpcId", "vpc-2"),
            ("InstanceId", "i-2"),
            ("Port", "443"),
        ],
    )
    .await;
    assert_eq!(r.code(), "RepeatedCommit");
}

#[tokio::test]
async fn remove_vpc_access_of_a_shared_tuple_removes_every_grant_holding_it() {
    // The request names a tuple, not a grant; the emulator does not guess which one was meant.
    let mut fixture = fixture();
    let original = fixture
        .grants
        .iter()
        .find(|g| g.name == "orders-internal-9000")
        .unwrap()
        .clone();
    fixture.grants.push(fixture::Grant {
        vpc_access_id: "0123456789abcdef0123456789abcdef".into(),
        name: "orders-internal-copy".into(),
        ..original.clone()
    });
    let options = SimOptions {
        env_credentials: false,
        ..SimOptions::default()
    };
    let sim = Sim::start(fixture, options).expect("a shared tuple with distinct ids loads");
    let before = sim.state().grants.len();
    let r = call(
        &sim,
        "RemoveVpcAccess",
        &removal_of(&sim, "orders-internal-9000")
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect::<Vec<_>>(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let apis = r.body["Apis"]["Api"].as_array().unwrap();
    assert_eq!(
        apis.len(),
        1,
        "createOrder once, not once per grant: {apis:?}"
    );
    assert_eq!(apis[0]["ApiId"], CREATE_ORDER);
    let state = sim.state();
    assert!(!state.has_grant_named("orders-internal-9000"));
    assert!(!state.has_grant_named("orders-internal-copy"));
    assert_eq!(state.grants.len(), before - 2, "no other grant goes");
}

#[tokio::test]
async fn abolish_unpublishes_and_reports_progress() {
    let sim = start(Faults::default());
    let grant = sim.state().grant_named("orders-slb-80").unwrap().clone();
    let port = grant.port.to_string();
    let key = [
        ("VpcId", grant.vpc_id.as_str()),
        ("InstanceId", grant.instance_id.as_str()),
        ("Port", port.as_str()),
    ];
    let r = call(&sim, "RemoveVpcAccessAndAbolishApis", &key).await;
    let op = r.body["OperationId"].as_str().unwrap().to_owned();
    let first = call(&sim, "DescribeAbolishApiTask", &[("OperationUid", &op)]).await;
    let results = first.body["ApiAbolishResults"]["ApiAbolishResult"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(results.len(), 2, "RELEASE and TEST");
    assert!(results.iter().all(|x| x["AbolishStatus"] == "RUNNING"));
    let second = call(&sim, "DescribeAbolishApiTask", &[("OperationUid", &op)]).await;
    assert!(second.body["ApiAbolishResults"]["ApiAbolishResult"]
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["AbolishStatus"] == "SUCCESS" && x["ApiName"] == "getOrder"));
    let state = sim.state();
    assert!(!state.is_deployed(GET_ORDER, "RELEASE") && !state.is_deployed(GET_ORDER, "TEST"));
    assert!(!state.has_grant_named("orders-slb-80"));
}

/// Polls DescribeUpdateVpcInfoTask once; returns (ApiName, StageName, UpdateStatus, ErrorMsg).
async fn update_task(sim: &Sim, op: &str) -> Vec<(String, String, String, String)> {
    let r = call(sim, "DescribeUpdateVpcInfoTask", &[("OperationUid", op)]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["ApiUpdateVpcInfoResults"]["ApiUpdateVpcInfoResult"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            let s = |k: &str| x[k].as_str().unwrap().to_owned();
            (
                s("ApiName"),
                s("StageName"),
                s("UpdateStatus"),
                s("ErrorMsg"),
            )
        })
        .collect()
}

const NEW_TARGET: [(&str, &str); 3] = [
    ("VpcId", "vpc-new"),
    ("InstanceId", "lb-new"),
    ("Port", "8443"),
];

async fn repoint(sim: &Sim, extra: &[(&str, &str)]) -> Reply {
    let mut params = vec![("Name", "orders-slb-80")];
    params.extend(NEW_TARGET);
    params.extend(extra);
    call(sim, "ModifyVpcAccessAndUpdateApis", &params).await
}

fn deployed_tuple(sim: &Sim, stage: &str) -> (Option<String>, Option<u16>) {
    let state = sim.state();
    match &state.deployment(GET_ORDER, stage).unwrap().route {
        Some(fixture::Route::Vpc(v)) => (v.instance_id.clone(), v.port),
        other => panic!("getOrder routes by VPC: {other:?}"),
    }
}

#[tokio::test]
async fn repoint_moves_the_grant_in_place_and_updates_published_apis_over_several_polls() {
    let sim = start(Faults::default());
    let before = sim.state().grant_named("orders-slb-80").unwrap().clone();
    let r = repoint(&sim, &[("NeedBatchWork", "true")]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let op = r.body["OperationId"].as_str().unwrap().to_owned();
    let grant = sim.state().grant_named("orders-slb-80").unwrap().clone();
    assert_eq!(
        grant.vpc_access_id, before.vpc_access_id,
        "same grant, same id"
    );
    assert_eq!((grant.instance_id.as_str(), grant.port), ("lb-new", 8443));

    let first = update_task(&sim, &op).await;
    assert_eq!(first.len(), 2, "RELEASE and TEST: {first:?}");
    assert!(first.iter().all(|x| x.0 == "getOrder" && x.2 == "RUNNING"));
    assert_eq!(deployed_tuple(&sim, "RELEASE").1, Some(80), "not yet");
    let second = update_task(&sim, &op).await;
    let done = second.iter().filter(|x| x.2 == "SUCCESS").count();
    assert_eq!(done, 1, "half of them per poll: {second:?}");
    let third = update_task(&sim, &op).await;
    assert!(third.iter().all(|x| x.2 == "SUCCESS"), "{third:?}");
    for stage in ["RELEASE", "TEST"] {
        assert_eq!(
            deployed_tuple(&sim, stage),
            (Some("lb-new".into()), Some(8443))
        );
    }
    // The draft and the backend model are the service's to leave alone.
    let state = sim.state();
    assert!(matches!(&state.api(GET_ORDER).unwrap().route,
        fixture::Route::Vpc(v) if v.port == Some(80)));

    // The answer reads back through the wire types.
    let typed: grantguard_wire::models::DescribeUpdateVpcInfoTaskResponse = serde_json::from_value(
        call(&sim, "DescribeUpdateVpcInfoTask", &[("OperationUid", &op)])
            .await
            .body,
    )
    .unwrap();
    assert_eq!(typed.api_update_vpc_info_results.items.len(), 2);
    assert_eq!(
        typed.api_update_vpc_info_results.items[0].stage_id.len(),
        32
    );
}

#[tokio::test]
async fn repoint_without_batch_work_moves_only_the_grant() {
    let sim = start(Faults::default());
    let r = repoint(&sim, &[]).await;
    let op = r.body["OperationId"].as_str().unwrap().to_owned();
    assert!(update_task(&sim, &op).await.is_empty());
    assert_eq!(deployed_tuple(&sim, "RELEASE").1, Some(80));
    assert_eq!(sim.state().grant_named("orders-slb-80").unwrap().port, 8443);
}

#[tokio::test]
async fn repoint_refuses_a_taken_tuple_and_an_unknown_name() {
    let sim = start(Faults::default());
    let taken = sim.state().grant_named("orders-ecs-8080").unwrap().clone();
    let port = taken.port.to_string();
    let r = call(
        &sim,
        "ModifyVpcAccessAndUpdateApis",
        &[
            ("Name", "orders-slb-80"),
            ("VpcId", &taken.vpc_id),
            ("InstanceId", &taken.instance_id),
            ("Port", &port),
        ],
    )
    .await;
    assert_eq!(
        (r.status, r.body["Code"].as_str()),
        (400, Some("RepeatedCommit"))
    );
    let mut params = vec![("Name", "no-such-grant")];
    params.extend(NEW_TARGET);
    let r = call(&sim, "ModifyVpcAccessAndUpdateApis", &params).await;
    assert_eq!(r.status, 404, "{:?}", r.body);
    let r = call(
        &sim,
        "DescribeUpdateVpcInfoTask",
        &[("OperationUid", "nope")],
    )
    .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn an_update_fault_fails_the_chosen_api_and_leaves_its_definition() {
    let faults = Faults {
        update_fail: [(
            "getOrder@TEST".to_owned(),
            "backend check failed".to_owned(),
        )]
        .into(),
        ..Faults::default()
    };
    let sim = start(faults);
    let r = repoint(&sim, &[("NeedBatchWork", "true")]).await;
    let op = r.body["OperationId"].as_str().unwrap().to_owned();
    let mut last = Vec::new();
    for _ in 0..3 {
        last = update_task(&sim, &op).await;
    }
    let test = last.iter().find(|x| x.1 == "TEST").unwrap();
    assert_eq!(
        (test.2.as_str(), test.3.as_str()),
        ("FAILED", "backend check failed")
    );
    let release = last.iter().find(|x| x.1 == "RELEASE").unwrap();
    assert_eq!(release.2, "SUCCESS");
    assert_eq!(
        deployed_tuple(&sim, "TEST").1,
        Some(80),
        "the failed one stays"
    );
    assert_eq!(deployed_tuple(&sim, "RELEASE").1, Some(8443));
}

#[tokio::test]
async fn a_task_that_never_finishes_stays_running_and_changes_no_api() {
    let faults = Faults {
        update_never_finishes: true,
        ..Faults::default()
    };
    let sim = start(faults);
    let r = repoint(&sim, &[("NeedBatchWork", "true")]).await;
    let op = r.body["OperationId"].as_str().unwrap().to_owned();
    for _ in 0..5 {
        assert!(update_task(&sim, &op)
            .await
            .iter()
            .all(|x| x.2 == "RUNNING"));
    }
    assert_eq!(deployed_tuple(&sim, "RELEASE").1, Some(80));
}

#[tokio::test]
async fn the_fixture_can_have_the_service_update_backend_models_drafts_and_history() {
    let mut fixture = fixture();
    fixture.batch_work_also = fixture::BatchWorkAlso {
        drafts: true,
        history: true,
        backend_models: true,
    };
    let options = SimOptions {
        env_credentials: false,
        ..SimOptions::default()
    };
    let sim = Sim::start(fixture, options).unwrap();
    let key = [
        ("Name", "orders-internal-9000"),
        ("VpcId", "vpc-new"),
        ("InstanceId", "lb-new"),
        ("Port", "9443"),
        ("NeedBatchWork", "true"),
    ];
    let r = call(&sim, "ModifyVpcAccessAndUpdateApis", &key).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let vpc = sim.state().backend_vpc(BACKEND, "RELEASE").unwrap();
    assert_eq!(
        (vpc.instance_id.as_deref(), vpc.port),
        (Some("lb-new"), Some(9443))
    );
    assert_eq!(vpc.name.as_deref(), Some("orders-internal-9000"));
}

#[tokio::test]
async fn usage_index_follows_deployments_and_its_adjustments() {
    let sim = start(Faults::default());
    let r = call(
        &sim,
        "DescribeApisByVpcAccess",
        &[("VpcName", "orders-slb-80")],
    )
    .await;
    let items = r.body["ApiVpcAccessInfos"]["ApiVpcAccessInfo"]
        .as_array()
        .unwrap()
        .clone();
    let stages: Vec<&str> = items
        .iter()
        .map(|i| i["StageName"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["RELEASE", "TEST"]);
    assert_eq!(items[0]["Port"], 80);
    // Backend-service and history references are not in the index.
    let r = call(
        &sim,
        "DescribeApisByVpcAccess",
        &[("VpcName", "orders-internal-9000")],
    )
    .await;
    assert_eq!(r.body["TotalCount"], 0);

    sim.mutate(|acc| {
        acc.index.missing.push(fixture::IndexEntry {
            grant: "orders-slb-80".into(),
            api: GET_ORDER.into(),
            stage: "TEST".into(),
        });
        acc.index.extra.push(fixture::IndexEntry {
            grant: "legacy-unused-443".into(),
            api: GET_ORDER.into(),
            stage: "PRE".into(),
        });
    });
    let r = call(
        &sim,
        "DescribeApisByVpcAccess",
        &[("VpcName", "orders-slb-80")],
    )
    .await;
    assert_eq!(r.body["TotalCount"], 1);
    let r = call(
        &sim,
        "DescribeApisByVpcAccess",
        &[("VpcName", "legacy-unused-443")],
    )
    .await;
    assert_eq!(
        r.body["ApiVpcAccessInfos"]["ApiVpcAccessInfo"][0]["StageName"],
        "PRE"
    );
}

async fn statuses(faults: &Faults, n: usize) -> Vec<(u16, bool)> {
    let sim = start(faults.clone());
    let mut out = Vec::new();
    for _ in 0..n {
        let r = call(&sim, "DescribeRegions", &[]).await;
        out.push((
            r.status,
            r.headers.get("x-acs-retry-after").is_some_and(|v| v == "5"),
        ));
    }
    out
}

#[tokio::test]
async fn random_faults_are_reproducible_with_a_seed() {
    let faults = Faults {
        throttle_rate: Some(0.3),
        error_rate: Some(0.1),
        seed: Some(42),
        max_consecutive_faults: Some(2),
        ..Faults::default()
    };
    let a = statuses(&faults, 40).await;
    assert_eq!(a, statuses(&faults, 40).await);
    assert!(
        a.contains(&(400, true)),
        "throttled answers carry x-acs-retry-after: 5"
    );
    assert!(a.contains(&(503, false)));
    assert!(a.windows(3).all(|w| w.iter().any(|(s, _)| *s == 200)));
}

#[tokio::test]
async fn forced_errors_hit_only_their_scope() {
    let faults = Faults {
        fail: vec![format!("DescribeApis:{BILLING}=Forbidden.RAM")
            .parse()
            .unwrap()],
        ..Faults::default()
    };
    let sim = start(faults);
    let r = call(&sim, "DescribeApis", &[("GroupId", BILLING)]).await;
    assert_eq!((r.status, r.code()), (403, "Forbidden.RAM"));
    assert_eq!(
        call(&sim, "DescribeApis", &[("GroupId", ORDERS)])
            .await
            .status,
        200
    );
    let denied: Vec<_> = sim
        .log()
        .into_iter()
        .filter(|c| c.mentions(BILLING))
        .collect();
    assert_eq!(denied.len(), 1);
    assert_eq!(denied[0].error_code.as_deref(), Some("Forbidden.RAM"));
}

/// The call log marks the answers a fault really changed, and only those: a rule whose scope
/// no request names, a `once` rule after its first hit, and an honest error add nothing.
#[tokio::test]
async fn the_log_counts_faults_applied_not_faults_configured() {
    let faults = Faults {
        fail: vec![format!("DescribeApis:{BILLING}=Forbidden.RAM")
            .parse()
            .unwrap()],
        corrupt: vec![format!("DescribeApi:{CREATE_ORDER}=html").parse().unwrap()],
        reset: vec!["DescribeVpcAccesses=once".parse().unwrap()],
        ..Faults::default()
    };
    let sim = start(faults);
    assert_eq!(
        call(&sim, "DescribeApis", &[("GroupId", BILLING)])
            .await
            .status,
        403
    );
    assert_eq!(
        call(&sim, "DescribeApis", &[("GroupId", ORDERS)])
            .await
            .status,
        200
    );
    // An honest NotFound is an error, not a fault.
    let missing = call(&sim, "DescribeApi", &[("GroupId", ORDERS), ("ApiId", "0")]).await;
    assert_ne!(missing.status, 200);
    let url = format!(
        "{}?{}",
        sim.url(),
        V1::new("DescribeVpcAccesses", &[]).signed_query()
    );
    let cut = reqwest::Client::new().post(url).send().await.unwrap();
    assert!(cut.bytes().await.is_err(), "the first listing is cut");
    assert_eq!(call(&sim, "DescribeVpcAccesses", &[]).await.status, 200);
    let faults: Vec<Option<String>> = sim.log().into_iter().map(|r| r.fault).collect();
    assert_eq!(
        faults,
        [
            Some("fail".to_owned()),
            None,
            None,
            Some("reset".to_owned()),
            None
        ]
    );
    // The html rule never fired: CREATE_ORDER was not asked for.
    assert_eq!(sim.faults_applied(), 2);
}

#[tokio::test]
async fn corrupted_answers_are_broken_the_promised_way() {
    let faults = Faults {
        corrupt: vec![
            format!("DescribeApi:{GET_ORDER}=truncated-json")
                .parse()
                .unwrap(),
            format!("DescribeApi:{CREATE_ORDER}=html").parse().unwrap(),
            "DescribeVpcAccesses=wrong-type".parse().unwrap(),
        ],
        ..Faults::default()
    };
    let sim = start(faults);
    let url = format!(
        "{}?{}",
        sim.url(),
        V1::new("DescribeApi", &[("ApiId", GET_ORDER)]).signed_query()
    );
    let resp = reqwest::Client::new().post(url).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let promised = resp.content_length().unwrap();
    assert!(resp.bytes().await.is_err(), "the body must end early");
    let logged = sim.log()[0].response_bytes;
    assert!(logged < promised, "{logged} < {promised}");

    let r = call(&sim, "DescribeApi", &[("ApiId", CREATE_ORDER)]).await;
    assert_eq!(r.status, 200);
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));

    let r = call(&sim, "DescribeVpcAccesses", &[]).await;
    assert_eq!(r.status, 200);
    assert!(
        r.body.to_string().contains("\"not-a-number\""),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn hooks_change_the_account_mid_walk() {
    let sim = start(Faults::default());
    sim.before("RemoveVpcAccess", |_, acc| {
        let api = acc.add_api(
            "billing",
            "newApi",
            fixture::Route::Vpc(fixture::VpcRoute {
                name: Some("legacy-unused-443".into()),
                vpc_id: None,
                instance_id: None,
                port: None,
                enabled: true,
            }),
        );
        acc.publish(&api, "RELEASE", None, "2024-06-01T00:00:00Z");
    });
    let unused = sim
        .state()
        .grant_named("legacy-unused-443")
        .unwrap()
        .clone();
    let port = unused.port.to_string();
    let key = [
        ("VpcId", unused.vpc_id.as_str()),
        ("InstanceId", unused.instance_id.as_str()),
        ("Port", port.as_str()),
    ];
    let r = call(&sim, "RemoveVpcAccess", &key).await;
    assert_eq!(
        r.body["Apis"]["Api"].as_array().unwrap().len(),
        1,
        "{}",
        r.body
    );
    assert_eq!(r.body["Apis"]["Api"][0]["GroupId"], BILLING);
}

#[test]
fn starts_and_stops_outside_any_runtime_and_writes_the_log_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("calls.jsonl");
    let options = SimOptions {
        log_path: Some(path.clone()),
        env_credentials: false,
        ..SimOptions::default()
    };
    let sim = Sim::start(fixture(), options).unwrap();
    assert!(sim.addr().ip().is_loopback());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let r = rt.block_on(call(&sim, "DescribeRegions", &[("Language", "en")]));
    assert_eq!(r.status, 200);
    drop(sim);
    let text = std::fs::read_to_string(&path).unwrap();
    let record: CallRecord = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(
        (record.action.as_str(), record.status),
        ("DescribeRegions", 200)
    );
    assert!(!text.contains(SECRET));
    // Microseconds: gaps between calls of a few milliseconds must be readable from the log.
    let parsed =
        OffsetDateTime::parse(&record.time, &time::format_description::well_known::Rfc3339)
            .unwrap();
    let fraction = record.time.split('.').nth(1).unwrap_or_default();
    assert_eq!(fraction.len(), "123456Z".len(), "{}", record.time);
    assert!((OffsetDateTime::now_utc() - parsed).whole_seconds() < 60);
}

/// Sends `request` (signed) on a fresh blocking connection with `Connection: close` and reads
/// until the connection ends: the bytes read, and how it ended (`Ok` = a clean FIN).
fn raw_exchange(sim: &Sim, request: &V1<'_>) -> (Vec<u8>, std::io::Result<()>) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(sim.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let head = format!(
        "POST /?{} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        request.signed_query(),
        sim.addr()
    );
    stream.write_all(head.as_bytes()).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return (got, Ok(())),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => return (got, Err(e)),
        }
    }
}

fn removal_of(sim: &Sim, name: &str) -> Vec<(&'static str, String)> {
    let grant = sim.state().grant_named(name).unwrap().clone();
    vec![
        ("VpcId", grant.vpc_id),
        ("InstanceId", grant.instance_id),
        ("Port", grant.port.to_string()),
    ]
}

#[test]
fn a_reset_ends_its_own_connection_with_a_rst_and_others_close_gracefully() {
    let sim = start(Faults {
        reset: vec![format!("DescribeApi:{GET_ORDER}=always").parse().unwrap()],
        ..Faults::default()
    });
    let (bytes, end) = raw_exchange(&sim, &V1::new("DescribeApi", &[("ApiId", GET_ORDER)]));
    let error = end.expect_err("a reset connection does not end cleanly");
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset, "{error}");
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        text.starts_with("HTTP/1.1 200"),
        "the head went out: {text}"
    );

    // The same emulator closes another API's connection with a FIN after a whole answer.
    let (bytes, end) = raw_exchange(&sim, &V1::new("DescribeApi", &[("ApiId", CREATE_ORDER)]));
    end.expect("a normal connection ends with a clean FIN");
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.starts_with("HTTP/1.1 200") && text.contains(CREATE_ORDER));
}

/// RemoveVpcAccess of grant `name`, over a raw socket: the bytes answered and how the
/// connection ended.
fn remove_raw(sim: &Sim, name: &str) -> (Vec<u8>, std::io::Result<()>) {
    let key = removal_of(sim, name);
    let key: Vec<(&str, &str)> = key.iter().map(|(k, v)| (*k, v.as_str())).collect();
    raw_exchange(sim, &V1::new("RemoveVpcAccess", &key))
}

/// Nothing was answered and the connection ended with a reset.
fn assert_dropped(bytes: &[u8], end: std::io::Result<()>) {
    assert!(
        bytes.is_empty(),
        "no answer: {:?}",
        String::from_utf8_lossy(bytes)
    );
    assert_eq!(
        end.expect_err("dropped").kind(),
        std::io::ErrorKind::ConnectionReset
    );
}

#[test]
fn drop_before_apply_answers_nothing_and_changes_nothing() {
    let sim = start(Faults {
        drop_before_apply: vec!["RemoveVpcAccess=always".parse().unwrap()],
        ..Faults::default()
    });
    let (bytes, end) = remove_raw(&sim, "legacy-unused-443");
    assert_dropped(&bytes, end);
    assert!(sim.state().has_grant_named("legacy-unused-443"));
    assert_eq!(sim.calls("RemoveVpcAccess"), 1);
    assert_eq!(sim.log()[0].status, 0, "logged as unanswered");
}

#[test]
fn apply_then_drop_applies_the_mutation_and_answers_nothing() {
    let sim = start(Faults {
        apply_then_drop: vec!["RemoveVpcAccess=once".parse().unwrap()],
        ..Faults::default()
    });
    let (bytes, end) = remove_raw(&sim, "legacy-unused-443");
    assert_dropped(&bytes, end);
    assert!(!sim.state().has_grant_named("legacy-unused-443"), "applied");
    // `once`: the next matching request is answered.
    let (bytes, end) = remove_raw(&sim, "orders-internal-9000");
    end.expect("answered");
    assert!(String::from_utf8_lossy(&bytes).starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn slowloris_trickles_the_body_and_the_stall_ends_when_the_client_gives_up() {
    let sim = start(Faults {
        slowloris: vec![format!("DescribeApi:{GET_ORDER}=40ms").parse().unwrap()],
        hang: vec![format!("DescribeApi:{CREATE_ORDER}=once").parse().unwrap()],
        ..Faults::default()
    });
    let client = reqwest::Client::new();
    let url = |api: &str| {
        format!(
            "{}?{}",
            sim.url(),
            V1::new("DescribeApi", &[("ApiId", api)]).signed_query()
        )
    };
    // The head arrives at once; the body does not arrive within the client's limit.
    let started = Instant::now();
    let response = client.post(url(GET_ORDER)).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(started.elapsed() < Duration::from_millis(400));
    let body = tokio::time::timeout(Duration::from_millis(300), response.bytes()).await;
    assert!(
        body.is_err(),
        "the body trickles for far longer than 300 ms"
    );

    // A hung request gets no head at all.
    let hung = tokio::time::timeout(
        Duration::from_millis(300),
        client.post(url(CREATE_ORDER)).send(),
    )
    .await;
    assert!(hung.is_err(), "no answer to a hung request");
    // `once`: the next request for the same API is answered.
    let r = call(&sim, "DescribeApi", &[("ApiId", CREATE_ORDER)]).await;
    assert_eq!(r.status, 200);

    // Both connections were given up by the client; the emulator saw each end.
    let deadline = Instant::now() + Duration::from_secs(5);
    while sim.stalls().iter().any(|s| s.held.is_none()) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stalls = sim.stalls();
    assert_eq!(
        stalls.iter().map(|s| s.kind).collect::<Vec<_>>(),
        ["slowloris", "hang"]
    );
    for stall in &stalls {
        let held = stall.held.expect("ended");
        assert!(
            held >= Duration::from_millis(250) && held < Duration::from_secs(2),
            "{stall:?}"
        );
    }
    assert!((3..=10).contains(&stalls[0].bytes_sent), "{:?}", stalls[0]);
    assert_eq!(stalls[1].bytes_sent, 0);
}

/// A JWT with `claims` (unsigned: the emulator reads the claims only).
fn oidc_token(claims: Value) -> String {
    use base64::Engine as _;
    let part = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.c2ln",
        part(serde_json::json!({"alg": "RS256"})),
        part(claims)
    )
}

#[tokio::test]
async fn assume_role_with_oidc_is_unsigned_and_answers_the_sts_shape() {
    let sim = start(Faults::default());
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let token = oidc_token(serde_json::json!({
        "iss": "https://oidc.example.test", "sub": "system:serviceaccount:a:b",
        "aud": ["sts.aliyuncs.com"], "iat": now, "exp": now + 600
    }));
    let form = [
        ("RoleArn", "acs:ram::1234567890:role/pod"),
        ("OIDCProviderArn", "acs:ram::1234567890:oidc-provider/ack"),
        ("OIDCToken", token.as_str()),
        ("RoleSessionName", "s1"),
        ("DurationSeconds", "900"),
    ];
    let base = [
        ("Action", "AssumeRoleWithOIDC"),
        ("Version", "2015-04-01"),
        ("Format", "JSON"),
    ];
    let client = reqwest::Client::new();
    // As the Node library sends it: a POST form; as the Python library: everything in a GET query.
    let post = client
        .post(sim.url())
        .query(&base)
        .form(&form)
        .send()
        .await
        .unwrap();
    let get = client
        .get(sim.url())
        .query(&base)
        .query(&form)
        .send()
        .await
        .unwrap();
    for reply in [Reply::from(post).await, Reply::from(get).await] {
        assert_eq!(reply.status, 200, "{}", reply.body);
        let b = &reply.body;
        assert!(b["Credentials"]["AccessKeyId"]
            .as_str()
            .unwrap()
            .starts_with("STS."));
        for key in ["AccessKeySecret", "SecurityToken", "Expiration"] {
            assert!(b["Credentials"][key].is_string(), "{key}: {b}");
        }
        assert_eq!(
            b["AssumedRoleUser"]["Arn"],
            "acs:ram::1234567890:role/pod/s1"
        );
        assert_eq!(b["OIDCTokenInfo"]["Subject"], "system:serviceaccount:a:b");
        assert_eq!(b["OIDCTokenInfo"]["ClientIds"], "sts.aliyuncs.com");
        assert!(b["RequestId"].is_string());
    }
    assert_eq!(sim.oidc_subjects().len(), 2);
    // The issued key signs CloudAPI calls like any STS key.
    let key = {
        let reply = Reply::from(
            client
                .get(sim.url())
                .query(&base)
                .query(&form)
                .send()
                .await
                .unwrap(),
        )
        .await;
        reply.body["Credentials"].clone()
    };
    let mut request = V1::new("DescribeApiGroups", &[]);
    request.ak = key["AccessKeyId"].as_str().unwrap();
    request.secret = key["AccessKeySecret"].as_str().unwrap();
    request.token = key["SecurityToken"].as_str();
    assert_eq!(request.send(&sim).await.status, 200);

    let expired = oidc_token(serde_json::json!({"iss": "i", "sub": "s", "exp": now - 1}));
    for (token, provider, code) in [
        (
            expired.as_str(),
            form[1].1,
            "AuthenticationFail.OIDCToken.Expired",
        ),
        (
            "abcd.efgh",
            form[1].1,
            "AuthenticationFail.OIDCToken.Invalid",
        ),
        (
            "abcd.!!!.x",
            form[1].1,
            "AuthenticationFail.OIDCToken.Invalid",
        ),
        (
            token.as_str(),
            "acs:ram::999:oidc-provider/other",
            "AuthenticationFail.NoPermission",
        ),
    ] {
        let reply = Reply::from(
            client
                .post(sim.url())
                .query(&base)
                .form(&[
                    ("RoleArn", form[0].1),
                    ("OIDCProviderArn", provider),
                    ("OIDCToken", token),
                ])
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!((reply.status, reply.code()), (401, code), "{}", reply.body);
        assert_eq!(reply.body["HostId"], "sts.aliyuncs.com");
    }
}

//! The CloudAPI actions the emulator serves. In: an authenticated request's action name and
//! decoded parameters, and the account. Out: the success body (the wire model types, so the
//! shapes are the vendor's) or an [`ApiError`] with the code the real service uses. Mutating
//! actions change the account. Nothing here reads signatures, faults or the network.

use super::faults::status_for_code;
use super::fixture::{derived_id, Deployment, Route, STAGE_NAMES};
use super::state::{Account, Operation, StageRef, UpdateOperation, Version};
use grantguard_wire::models::*;
use serde::Serialize;
use serde_json::Value;

/// Every action the emulator serves.
pub const ACTIONS: &[&str] = &[
    "DescribeRegions",
    "DescribeApiGroups",
    "DescribeApiGroup",
    "DescribeApis",
    "DescribeApi",
    "DescribeDeployedApis",
    "DescribeDeployedApi",
    "DescribeHistoryApis",
    "DescribeApiHistories",
    "DescribeApiHistory",
    "DescribeApisByVpcAccess",
    "DescribeVpcAccesses",
    "SetVpcAccess",
    "RemoveVpcAccess",
    "RemoveVpcAccessAndAbolishApis",
    "DescribeAbolishApiTask",
    "ModifyVpcAccessAndUpdateApis",
    "DescribeUpdateVpcInfoTask",
    "DescribeBackendList",
    "DescribeBackendInfo",
    "DescribeApisByBackend",
];

/// An error answer: HTTP status, code and message (the envelope is added by the server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// Error code.
    pub code: String,
    /// Message.
    pub message: String,
}

impl ApiError {
    /// An error whose status follows from its code.
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status: status_for_code(code),
            code: code.to_owned(),
            message: message.into(),
        }
    }

    /// An error with an explicit status.
    pub fn with_status(status: u16, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code.to_owned(),
            message: message.into(),
        }
    }

    /// `MissingParameter` for a required parameter (the POP message).
    pub fn missing(name: &str) -> Self {
        Self::with_status(
            400,
            "MissingParameter",
            format!("The input parameter \"{name}\" that is mandatory for processing this request is not supplied."),
        )
    }

    /// `InvalidParameter` naming the parameter.
    pub fn invalid(name: &str, why: &str) -> Self {
        Self::with_status(
            400,
            "InvalidParameter",
            format!("The parameter {name} is invalid: {why}."),
        )
    }
}

/// The request parameters after form decoding (query and body merged).
#[derive(Debug, Clone, Default)]
pub struct Params {
    /// Pairs in arrival order.
    pub pairs: Vec<(String, String)>,
}

impl Params {
    /// The last value of a parameter; an empty value counts as absent for filters.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    fn req(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name).ok_or_else(|| ApiError::missing(name))
    }

    fn flag(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name).map(|v| v.to_ascii_lowercase()) {
            None => Ok(None),
            Some(v) if v == "true" => Ok(Some(true)),
            Some(v) if v == "false" => Ok(Some(false)),
            Some(_) => Err(ApiError::invalid(name, "expected true or false")),
        }
    }

    fn port(&self, name: &str) -> Result<u16, ApiError> {
        self.req(name)?
            .parse()
            .map_err(|_| ApiError::invalid(name, "expected a port number"))
    }

    fn stage(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.get(name) {
            Some(s) if !STAGE_NAMES.contains(&s) => {
                Err(ApiError::invalid(name, "expected RELEASE, PRE or TEST"))
            }
            other => Ok(other),
        }
    }

    /// PageNumber (1-based, default 1) and PageSize (default 10, 1..=max).
    fn page(&self, max: u32) -> Result<(u32, u32), ApiError> {
        let number = match self.get("PageNumber") {
            None => 1,
            Some(v) => v.parse::<u32>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                ApiError::invalid("PageNumber", "expected an integer of at least 1")
            })?,
        };
        let size = match self.get("PageSize") {
            None => 10,
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| {
                    ApiError::invalid("PageSize", &format!("expected an integer from 1 to {max}"))
                })?,
        };
        Ok((number, size))
    }
}

/// Per-request facts the handlers need besides the parameters.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// This request's id (also salts generated ids).
    pub request_id: String,
    /// The emulator's current time, RFC 3339 without fractions.
    pub now: String,
}

fn page_of<T: Clone>(items: &[T], (number, size): (u32, u32)) -> (PageInfo, Vec<T>) {
    let start = ((number - 1) as usize).saturating_mul(size as usize);
    let slice = items
        .iter()
        .skip(start)
        .take(size as usize)
        .cloned()
        .collect();
    let info = PageInfo {
        total_count: items.len() as u64,
        page_size: Some(size),
        page_number: Some(number),
    };
    (info, slice)
}

fn json(body: impl Serialize) -> Result<Value, ApiError> {
    serde_json::to_value(body).map_err(|e| {
        ApiError::with_status(
            500,
            "InternalError",
            format!("cannot encode the answer: {e}"),
        )
    })
}

fn fuzzy(haystack: &str, needle: Option<&str>) -> bool {
    needle.is_none_or(|n| haystack.contains(n))
}

fn exact(value: &str, wanted: Option<&str>) -> bool {
    wanted.is_none_or(|w| value == w)
}

/// `*` matches any run of characters; without `*` the match is exact.
fn glob(value: &str, pattern: Option<&str>) -> bool {
    let Some(pattern) = pattern else { return true };
    if !pattern.contains('*') {
        return value == pattern;
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut rest = value;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            let Some(pos) = rest.find(part) else {
                return false;
            };
            rest = &rest[pos + part.len()..];
        }
    }
    true
}

/// Serves one action.
pub fn handle(acc: &mut Account, action: &str, p: &Params, ctx: &Ctx) -> Result<Value, ApiError> {
    match action {
        "DescribeRegions" => describe_regions(acc, p),
        "DescribeApiGroups" => describe_api_groups(acc, p),
        "DescribeApiGroup" => describe_api_group(acc, p),
        "DescribeApis" => describe_apis(acc, p),
        "DescribeApi" => describe_api(acc, p),
        "DescribeDeployedApis" => describe_deployed_apis(acc, p),
        "DescribeDeployedApi" => describe_deployed_api(acc, p),
        "DescribeHistoryApis" => describe_histories(acc, p, 50, true),
        "DescribeApiHistories" => describe_histories(acc, p, 100, false),
        "DescribeApiHistory" => describe_api_history(acc, p),
        "DescribeApisByVpcAccess" => describe_apis_by_vpc_access(acc, p),
        "DescribeVpcAccesses" => describe_vpc_accesses(acc, p),
        "SetVpcAccess" => set_vpc_access(acc, p, ctx),
        "RemoveVpcAccess" => remove_vpc_access(acc, p),
        "RemoveVpcAccessAndAbolishApis" => remove_and_abolish(acc, p, ctx),
        "DescribeAbolishApiTask" => describe_abolish_task(acc, p),
        "ModifyVpcAccessAndUpdateApis" => modify_and_update(acc, p, ctx),
        "DescribeUpdateVpcInfoTask" => describe_update_task(acc, p, ctx),
        "DescribeBackendList" => describe_backend_list(acc, p),
        "DescribeBackendInfo" => describe_backend_info(acc, p),
        "DescribeApisByBackend" => describe_apis_by_backend(acc, p),
        other => Err(ApiError::with_status(
            404,
            "InvalidAction.NotFound",
            format!(
                "Specified api is not found, please check your url and method. Action: {other}"
            ),
        )),
    }
}

fn describe_regions(acc: &Account, p: &Params) -> Result<Value, ApiError> {
    let english = p.get("Language").is_some_and(|l| l.starts_with("en"));
    let known = [
        ("cn-hangzhou", "华东1（杭州）", "China (Hangzhou)"),
        ("cn-shanghai", "华东2（上海）", "China (Shanghai)"),
        ("cn-beijing", "华北2（北京）", "China (Beijing)"),
        ("ap-southeast-1", "新加坡", "Singapore"),
    ];
    let listed = |id: &str, local_name: String| Region {
        region_id: id.into(),
        local_name,
        region_endpoint: format!("apigateway.{id}.aliyuncs.com"),
    };
    // A fixture that names its regions gets exactly those (multi-region tests serve each
    // one from its own emulator); otherwise the well-known four.
    let mut regions: Vec<Region> = if acc.regions.is_empty() {
        known
            .iter()
            .map(|(id, zh, en)| listed(id, if english { *en } else { *zh }.into()))
            .collect()
    } else {
        acc.regions
            .iter()
            .map(|id| listed(id, id.clone()))
            .collect()
    };
    if !regions.iter().any(|r| r.region_id == acc.region) {
        regions.insert(
            0,
            Region {
                region_id: acc.region.clone(),
                local_name: acc.region.clone(),
                region_endpoint: format!("apigateway.{}.aliyuncs.com", acc.region),
            },
        );
    }
    json(DescribeRegionsResponse {
        request_id: String::new(),
        regions: regions.into(),
    })
}

fn group_attribute(acc: &Account, g: &super::fixture::Group) -> ApiGroupAttribute {
    ApiGroupAttribute {
        group_id: g.id.clone(),
        group_name: g.name.clone(),
        sub_domain: format!("{}-{}.alicloudapi.com", g.id, acc.region),
        description: g.description.clone(),
        created_time: g.created_time.clone(),
        modified_time: g.modified_time.clone(),
        region_id: acc.region.clone(),
        instance_id: g.instance_id.clone(),
        instance_type: "VPC_SHARED".into(),
        base_path: "/".into(),
        traffic_limit: Some(500),
        billing_status: "NORMAL".into(),
        illegal_status: "NORMAL".into(),
        tags: Tags::default(),
    }
}

fn describe_api_groups(acc: &Account, p: &Params) -> Result<Value, ApiError> {
    let page = p.page(50)?;
    let items: Vec<ApiGroupAttribute> = acc
        .groups
        .iter()
        .filter(|g| exact(&g.id, p.get("GroupId")) && fuzzy(&g.name, p.get("GroupName")))
        .map(|g| group_attribute(acc, g))
        .collect();
    let (info, items) = page_of(&items, page);
    json(DescribeApiGroupsResponse {
        request_id: String::new(),
        page: info,
        api_group_attributes: items.into(),
    })
}

fn group_or_404<'a>(acc: &'a Account, id: &str) -> Result<&'a super::fixture::Group, ApiError> {
    acc.group(id).ok_or_else(|| {
        ApiError::new(
            "NotFoundApiGroup",
            format!("Cannot find the API group: {id}"),
        )
    })
}

fn describe_api_group(acc: &Account, p: &Params) -> Result<Value, ApiError> {
    let g = group_or_404(acc, p.req("GroupId")?)?;
    let descriptions = [
        ("RELEASE", "Production"),
        ("PRE", "Staging"),
        ("TEST", "Test"),
    ];
    // Only the stages the group has: fixtures give every group all three, and a test can take
    // one away to play an older group whose stage list is incomplete.
    let stages: Vec<StageInfo> = descriptions
        .iter()
        .filter_map(|(name, description)| {
            Some(StageInfo {
                stage_id: g.stages.get(*name)?.clone(),
                stage_name: (*name).into(),
                description: (*description).into(),
            })
        })
        .collect();
    json(DescribeApiGroupResponse {
        request_id: String::new(),
        group_id: g.id.clone(),
        group_name: g.name.clone(),
        description: g.description.clone(),
        region_id: acc.region.clone(),
        status: "NORMAL".into(),
        instance_id: g.instance_id.clone(),
        instance_type: "VPC_SHARED".into(),
        base_path: "/".into(),
        created_time: g.created_time.clone(),
        modified_time: g.modified_time.clone(),
        stage_items: stages.into(),
    })
}

/// An API's deployment state per stage, `live` finding its deployment in a stage.
fn deployed_infos<'a>(live: impl Fn(&str) -> Option<&'a Deployment>) -> DeployedInfos {
    STAGE_NAMES
        .iter()
        .map(|stage| match live(stage) {
            Some(d) => DeployedInfo {
                stage_name: (*stage).into(),
                deployed_status: "DEPLOYED".into(),
                effective_version: Some(d.version.clone()),
            },
            None => DeployedInfo {
                stage_name: (*stage).into(),
                deployed_status: "NONDEPLOYED".into(),
                effective_version: Some(String::new()),
            },
        })
        .collect::<Vec<_>>()
        .into()
}

fn describe_apis(acc: &Account, p: &Params) -> Result<Value, ApiError> {
    let page = p.page(100)?;
    let stage = p.stage("StageName")?;
    let undeployed = p.flag("UnDeployed")?.unwrap_or(false);
    if let Some(g) = p.get("GroupId") {
        group_or_404(acc, g)?;
    }
    let live = acc.lookup();
    let items: Vec<ApiSummary> = acc
        .apis
        .iter()
        .filter(|a| {
            exact(&a.group, p.get("GroupId"))
                && exact(&a.id, p.get("ApiId"))
                && fuzzy(&a.name, p.get("ApiName"))
                && exact(&a.path, p.get("ApiPath"))
                && exact(&a.method, p.get("ApiMethod"))
                && exact(&a.visibility, p.get("Visibility"))
                && stage.is_none_or(|s| live.is_deployed(&a.id, s))
                && (!undeployed || STAGE_NAMES.iter().all(|s| !live.is_deployed(&a.id, s)))
        })
        .map(|a| ApiSummary {
            region_id: acc.region.clone(),
            group_id: a.group.clone(),
            group_name: acc.group_name(&a.group),
            api_id: a.id.clone(),
            api_name: a.name.clone(),
            api_path: a.path.clone(),
            api_method: a.method.clone(),
            visibility: a.visibility.clone(),
            description: a.description.clone(),
            created_time: a.created_time.clone(),
            modified_time: a.modified_time.clone(),
            deployed_infos: deployed_infos(|stage| live.deployment(&a.id, stage)),
            tag_list: TagList::default(),
        })
        .collect();
    let (info, items) = page_of(&items, page);
    json(DescribeApisResponse {
        request_id: String::new(),
        page: info,
        api_summarys: items.into(),
    })
}

/// Which of the three definition shapes to build (docs/cloudapi-notes.md §3.5, §3.7, §3.10).
enum Shape<'a> {
    Draft,
    Deployed {
        stage: &'a str,
        time: &'a str,
    },
    History {
        stage: &'a str,
        version: &'a Version,
    },
}

fn definition(
    acc: &Account,
    api: &super::fixture::Api,
    route: &Route,
    shape: Shape,
) -> ApiDefinition {
    let mut service = ServiceConfig {
        service_protocol: "HTTP".into(),
        service_path: api.path.clone(),
        service_http_method: api.method.clone(),
        service_timeout: Some(10000),
        mock: "FALSE".into(),
        service_vpc_enable: Some("FALSE".into()),
        ..ServiceConfig::default()
    };
    let mut backend_config = None;
    match route {
        Route::Vpc(v) => {
            service.service_vpc_enable = Some(if v.enabled { "TRUE" } else { "FALSE" }.into());
            service.vpc_config = Some(VpcConfig {
                vpc_access_id: None,
                name: v.name.clone(),
                vpc_id: v.vpc_id.clone(),
                instance_id: v.instance_id.clone(),
                port: v.port,
                // DescribeDeployedApi's VpcConfig has no VpcScheme (docs/cloudapi-notes.md §3.7).
                vpc_scheme: (!matches!(shape, Shape::Deployed { .. })).then(|| "HTTP".into()),
                vpc_target_host_name: None,
            });
            if !matches!(shape, Shape::Draft) {
                service.vpc_id = v.vpc_id.clone();
            }
        }
        Route::Backend(b) => {
            let backend = acc.backend(&b.id);
            backend_config = Some(ApiBackendConfig {
                backend_id: b.id.clone(),
                backend_name: backend.map(|x| x.name.clone()).unwrap_or_default(),
                backend_type: backend.map(|x| x.backend_type.clone()).unwrap_or_default(),
            });
        }
        Route::Http(h) => service.service_address = h.address.clone(),
    }
    let mut def = ApiDefinition {
        request_id: String::new(),
        region_id: acc.region.clone(),
        group_id: api.group.clone(),
        group_name: acc.group_name(&api.group),
        api_id: api.id.clone(),
        api_name: api.name.clone(),
        description: api.description.clone(),
        visibility: api.visibility.clone(),
        auth_type: "APP".into(),
        result_type: "JSON".into(),
        request_config: Some(RequestConfig {
            request_protocol: "HTTP,HTTPS".into(),
            request_http_method: api.method.clone(),
            request_path: api.path.clone(),
            request_mode: "PASSTHROUGH".into(),
        }),
        service_config: Some(service),
        ..ApiDefinition::default()
    };
    match shape {
        Shape::Draft => {
            def.created_time = Some(api.created_time.clone());
            def.modified_time = Some(api.modified_time.clone());
            def.backend_enable = Some(backend_config.is_some());
            def.backend_config = backend_config;
            def.deployed_infos = Some(deployed_infos(|stage| acc.deployment(&api.id, stage)));
        }
        // docs/cloudapi-notes.md trap 8: no BackendEnable/BackendConfig on a deployed definition.
        Shape::Deployed { stage, time } => {
            def.stage_name = Some(stage.into());
            def.deployed_time = Some(time.into());
        }
        Shape::History { stage, version } => {
            def.stage_name = Some(stage.into());
            def.history_version = Some(version.version.clone());
            def.status = Some(if version.online { "ONLINE" } else { "OFFLINE" }.into());
            def.deployed_time = Some(version.deployed_time.clone());
            def.backend_enable = Some(backend_config.is_some());
            def.backend_config = backend_config;
        }
    }
    def
}

/// The API named by ApiId (and GroupId when given).
fn api_or_404<'a>(acc: &'a Account, p: &Params) -> Result<&'a super::fixture::Api, ApiError> {
    let api_id = p.req("ApiId")?;
    if let Some(g) = p.get("GroupId") {
        group_or_404(acc, g)?;
    }
    acc.api(api_id)
        .filter(|a| exact(&a.group, p.get("GroupId")))
        .ok_or_else(|| ApiError::new("NotFoundApi", format!("Cannot find the API: {api_id}")))
}

fn describe_api(acc: &Account, p: &Params) -> Result<Value, ApiError> {
    let api = api_or_404(acc, p)?;
    json(definition(acc, api, &api.route, Shape::Draft))
}

fn describe_deployed_apis(acc: &Account, p: &Params) -> Result<Value, ApiError> {
    let page = p.page(100)?;
    let stage = p.stage("StageName")?;
    if let Some(g) = p.get("GroupId") {
        group_or_404(acc, g)?;
    }
    let live = acc.lookup();
    let mut items: Vec<DeployedApiItem> = Vec::new();
    for api in &acc.apis {
        if !(exact(&api.group, p.get("GroupId"))
            && exact(&api.id, p.get("ApiId"))
            && fuzzy(&api.name, p.get("ApiName"))
            && exact(&api.path, p.get("ApiPath"))
            && exact(&api.method, p.get("ApiMethod")))
        {
            continue;
        }
        for s in STAGE_NAMES
            .iter()
            .filter(|s| stage.is_none_or(|x| x == **s))
        {
            if let Some(d) = live.deployment(&api.id, s) {
                items.push(DeployedApiItem {
                    region_id: acc.region.clone(),
                    group_id: api.group.clone(),
                    group_name: acc.group_name(&api.group),
                    stage_name: (*s).into(),
                    api_id: api.id.clone(),
                    api_name: api.name.clone(),
                    description: api.description.clone(),
                    visibility: api.visibility.clone(),
                    deployed_time: d.deployed_time.clone(),
                    api_method: api.method.clone(),
                    api_path: api.path.clone(),
                });
            }
        }
    }
    let (info, items) = page_of(&items, page);
    json(DescribeDeployedApisResponse {
        request_id: String::new(),
        page: info,
        deployed_apis: items.into(),
    })
}

fn not_deployed(api_id: &str, stage: &str) -> ApiError {
    ApiError::new(
        "NotFoundStage",
        format!("The API {api_id} is not deployed in stage {stage}"),
    )
}

fn describe_deployed_api(acc: &Account, p: &Params) -> Result<Value, ApiError> {
    let stage = p
        .stage("StageName")?
        .ok_or_else(|| ApiError::missing("StageName"))?;
    let api = api_or_404(acc, p)?;
    let d = acc
        .deployment(&api.id, stage)
        .ok_or_else(|| not_deployed(&api.id, stage))?;
    let route = d.route.clone().unwrap_or_else(|| api.route.clone());
    json(definition(
        acc,
        api,
        &route,
        Shape::Deployed {
            stage,
            time: &d.deployed_time,
        },
    ))
}

fn describe_histories(
    acc: &Account,
    p: &Params,
    max: u32,
    with_alias: bool,
) -> Result<Value, ApiError> {
    let group = group_or_404(acc, p.req("GroupId")?)?;
    let page = p.page(max)?;
    let stage = p.stage("StageName")?;
    let live = acc.lookup();
    let mut items = Vec::new();
    for api in acc.apis.iter().filter(|a| {
        a.group == group.id && exact(&a.id, p.get("ApiId")) && fuzzy(&a.name, p.get("ApiName"))
    }) {
        for s in STAGE_NAMES
            .iter()
            .filter(|s| stage.is_none_or(|x| x == **s))
        {
            for v in live.versions(&api.id, s) {
                items.push(ApiHisItem {
                    region_id: acc.region.clone(),
                    group_id: group.id.clone(),
                    group_name: group.name.clone(),
                    stage_name: (*s).into(),
                    stage_alias: with_alias.then(|| stage_alias(s).into()),
                    api_id: api.id.clone(),
                    api_name: api.name.clone(),
                    description: api.description.clone(),
                    history_version: Some(v.version.clone()),
                    status: if v.online { "ONLINE" } else { "OFFLINE" }.into(),
                    deployed_time: v.deployed_time.clone(),
                });
            }
        }
    }
    let (info, items) = page_of(&items, page);
    json(ApiHistoriesResponse {
        request_id: String::new(),
        page: info,
        api_his_items: items.into(),
    })
}

fn stage_alias(stage: &str) -> &'static str {
    match stage {
        "RELEASE" => "线上",
        "PRE" => "预发",
        _ => "测试",
    }
}

fn describe_api_history(acc: &Account, p: &Params) -> Result<Value, ApiError> {
    let stage = p
        .stage("StageName")?
        .ok_or_else(|| ApiError::missing("StageName"))?;
    let wanted = p.req("HistoryVersion")?;
    let api = api_or_404(acc, p)?;
    let version = acc
        .versions(&api.id, stage)
        .into_iter()
        .find(|v| v.version == wanted)
        .ok_or_else(|| {
            ApiError::new(
                "NotFoundApi",
                format!(
                    "Cannot find version {wanted} of the API {} in stage {stage}",
                    api.id
                ),
            )
        })?;
    json(definition(
        acc,
        api,
        &version.route,
        Shape::History {
            stage,
            version: &version,
        },
    ))
}

fn describe_apis_by_vpc_access(acc: &Account, p: &Params) -> Result<Value, ApiError> {
    let name = p.req("VpcName")?;
    let page = p.page(100)?;
    let grants: Vec<_> = acc.grants.iter().filter(|g| g.name == name).collect();
    let mut pairs: Vec<(String, String)> = acc
        .deployments
        .iter()
        .filter(|d| {
            d.route
                .as_ref()
                .is_some_and(|r| grants.iter().any(|g| Account::routes_directly(r, g)))
        })
        .map(|d| (d.api.clone(), d.stage.clone()))
        .collect();
    for e in acc.index.extra.iter().filter(|e| e.grant == name) {
        pairs.push((e.api.clone(), e.stage.clone()));
    }
    pairs.retain(|(api, stage)| {
        !acc.index
            .missing
            .iter()
            .any(|m| m.grant == name && &m.api == api && &m.stage == stage)
    });
    pairs.sort();
    pairs.dedup();
    let items: Vec<ApiVpcAccessInfo> = pairs
        .iter()
        .filter_map(|(api_id, stage)| {
            let api = acc.api(api_id)?;
            let route = acc
                .deployment(api_id, stage)
                .and_then(|d| d.route.clone())
                .unwrap_or_else(|| api.route.clone());
            let (vpc_id, instance_id, port) = match &route {
                Route::Vpc(v) => (v.vpc_id.clone(), v.instance_id.clone(), v.port),
                _ => grants
                    .first()
                    .map(|g| {
                        (
                            Some(g.vpc_id.clone()),
                            Some(g.instance_id.clone()),
                            Some(g.port),
                        )
                    })
                    .unwrap_or_default(),
            };
            Some(ApiVpcAccessInfo {
                region_id: acc.region.clone(),
                group_id: api.group.clone(),
                group_name: acc.group_name(&api.group),
                stage_id: acc.stage_id(&api.group, stage),
                stage_name: stage.clone(),
                api_id: api.id.clone(),
                api_name: api.name.clone(),
                description: api.description.clone(),
                method: api.method.clone(),
                path: api.path.clone(),
                vpc_name: name.to_owned(),
                vpc_id: vpc_id.unwrap_or_default(),
                instance_id: instance_id.unwrap_or_default(),
                port,
            })
        })
        .collect();
    let (info, items) = page_of(&items, page);
    json(DescribeApisByVpcAccessResponse {
        request_id: String::new(),
        page: info,
        api_vpc_access_infos: items.into(),
    })
}

fn describe_vpc_accesses(acc: &Account, p: &Params) -> Result<Value, ApiError> {
    let page = p.page(100)?;
    let accurate = p.flag("AccurateQuery")?.unwrap_or(false);
    let port = match p.get("Port") {
        Some(v) => Some(
            v.parse::<u16>()
                .map_err(|_| ApiError::invalid("Port", "expected a port number"))?,
        ),
        None => None,
    };
    let items: Vec<VpcAccessAttribute> = acc
        .grants
        .iter()
        .filter(|g| {
            (if accurate {
                exact(&g.name, p.get("Name"))
            } else {
                fuzzy(&g.name, p.get("Name"))
            }) && exact(&g.vpc_id, p.get("VpcId"))
                && exact(&g.instance_id, p.get("InstanceId"))
                && exact(&g.vpc_access_id, p.get("VpcAccessId"))
                && port.is_none_or(|x| x == g.port)
        })
        .map(|g| VpcAccessAttribute {
            vpc_access_id: g.vpc_access_id.clone(),
            name: g.name.clone(),
            vpc_id: g.vpc_id.clone(),
            instance_id: g.instance_id.clone(),
            port: g.port,
            region_id: acc.region.clone(),
            description: g.description.clone(),
            vpc_target_host_name: g.vpc_target_host_name.clone(),
            created_time: g.created_time.clone(),
            tags: Tags::default(),
        })
        .collect();
    let (info, items) = page_of(&items, page);
    json(DescribeVpcAccessesResponse {
        request_id: String::new(),
        page: info,
        vpc_access_attributes: items.into(),
    })
}

fn set_vpc_access(acc: &mut Account, p: &Params, ctx: &Ctx) -> Result<Value, ApiError> {
    let name = p.req("Name")?.to_owned();
    let vpc_id = p.req("VpcId")?.to_owned();
    let instance_id = p.req("InstanceId")?.to_owned();
    let port = p.port("Port")?;
    if acc.has_grant_named(&name) {
        return Err(ApiError::with_status(
            400,
            "RepeatedCommit",
            format!("A VPC access authorization named {name} already exists"),
        ));
    }
    if !acc.grants_by_tuple(&vpc_id, &instance_id, port).is_empty() {
        return Err(ApiError::with_status(
            400,
            "RepeatedCommit",
            format!(
                "A VPC access authorization for ({vpc_id}, {instance_id}, {port}) already exists"
            ),
        ));
    }
    let id = derived_id("grant", &format!("{name}:{}", ctx.request_id));
    acc.grants.push(super::fixture::Grant {
        vpc_access_id: id.clone(),
        name,
        vpc_id,
        instance_id,
        port,
        description: p.get("Description").unwrap_or_default().to_owned(),
        vpc_target_host_name: p.get("VpcTargetHostName").unwrap_or_default().to_owned(),
        created_time: ctx.now.clone(),
    });
    json(SetVpcAccessResponse {
        request_id: String::new(),
        vpc_access_id: id,
    })
}

/// Removes the grants addressed by (VpcId, InstanceId, Port) and returns the deployments that
/// still routed through any of them.
///
/// The request names a tuple, not a name or VpcAccessId, and nothing documents what the
/// service does when two grants hold the tuple. The emulator does not pick one for the
/// caller: every grant holding the tuple goes, so a client that sent an ambiguous removal
/// sees the worst case in its tests instead of a lucky guess.
fn take_grant(acc: &mut Account, p: &Params) -> Result<Vec<StageRef>, ApiError> {
    let vpc_id = p.req("VpcId")?;
    let instance_id = p.req("InstanceId")?;
    let port = p.port("Port")?;
    let grants: Vec<super::fixture::Grant> = acc
        .grants_by_tuple(vpc_id, instance_id, port)
        .into_iter()
        .cloned()
        .collect();
    if grants.is_empty() {
        return Err(ApiError::new(
            "NotFoundVpc",
            format!("Cannot find the VPC access authorization ({vpc_id}, {instance_id}, {port})"),
        ));
    }
    let mut affected: Vec<StageRef> = grants
        .iter()
        .flat_map(|grant| acc.deployments_using(grant))
        .collect();
    affected.sort();
    affected.dedup();
    acc.grants.retain(|g| !grants.contains(g));
    Ok(affected)
}

fn remove_vpc_access(acc: &mut Account, p: &Params) -> Result<Value, ApiError> {
    // docs/cloudapi-notes.md §3.14: the grant goes, the APIs stay published (and now break).
    let affected = take_grant(acc, p)?;
    let apis: Vec<RemovedApi> = affected
        .into_iter()
        .map(|s| RemovedApi {
            api_id: s.api_id,
            group_id: s.group_id,
            stage_id: s.stage_id,
        })
        .collect();
    json(RemoveVpcAccessResponse {
        request_id: String::new(),
        apis: apis.into(),
    })
}

fn remove_and_abolish(acc: &mut Account, p: &Params, ctx: &Ctx) -> Result<Value, ApiError> {
    let affected = take_grant(acc, p)?;
    for s in &affected {
        acc.unpublish(&s.api_id, &s.stage_name);
    }
    let id = derived_id("operation", &ctx.request_id);
    acc.operations.insert(
        id.clone(),
        Operation {
            apis: affected,
            polls: 0,
        },
    );
    json(OperationResponse {
        request_id: String::new(),
        operation_id: id,
    })
}

fn describe_abolish_task(acc: &mut Account, p: &Params) -> Result<Value, ApiError> {
    let uid = p.req("OperationUid")?.to_owned();
    let names: Vec<(String, String)> = {
        let op = acc
            .operations
            .get(&uid)
            .ok_or_else(|| ApiError::invalid("OperationUid", "no such operation"))?;
        op.apis
            .iter()
            .map(|s| {
                (
                    acc.api(&s.api_id)
                        .map(|a| a.name.clone())
                        .unwrap_or_default(),
                    acc.group_name(&s.group_id),
                )
            })
            .collect()
    };
    let op = acc.operations.get_mut(&uid).expect("checked above");
    op.polls += 1;
    let status = if op.polls == 1 { "RUNNING" } else { "SUCCESS" };
    let results: Vec<ApiAbolishResult> = op
        .apis
        .iter()
        .zip(names)
        .map(|(s, (api_name, group_name))| ApiAbolishResult {
            api_uid: s.api_id.clone(),
            api_name,
            group_id: s.group_id.clone(),
            group_name,
            stage_id: s.stage_id.clone(),
            stage_name: s.stage_name.clone(),
            abolish_status: status.into(),
            error_msg: String::new(),
        })
        .collect();
    json(DescribeAbolishApiTaskResponse {
        request_id: String::new(),
        api_abolish_results: results.into(),
    })
}

/// Moves the grant named `Name` to the new tuple in place (its VpcAccessId stays). With
/// `NeedBatchWork=true` the published APIs whose definition names the grant are updated by
/// a task, over several DescribeUpdateVpcInfoTask polls; drafts, history and backend models
/// stay as they are unless the fixture's `batch_work_also` says otherwise.
fn modify_and_update(acc: &mut Account, p: &Params, ctx: &Ctx) -> Result<Value, ApiError> {
    let name = p.req("Name")?.to_owned();
    let vpc_id = p.req("VpcId")?.to_owned();
    let instance_id = p.req("InstanceId")?.to_owned();
    let port = p.port("Port")?;
    let batch = p.flag("NeedBatchWork")?.unwrap_or(false);
    p.flag("Refresh")?;
    let from = acc.grant_named(&name).cloned().ok_or_else(|| {
        ApiError::new(
            "NotFoundVpcAccess",
            format!("Cannot find the VPC access authorization named {name}"),
        )
    })?;
    if acc
        .grants_by_tuple(&vpc_id, &instance_id, port)
        .iter()
        .any(|g| g.vpc_access_id != from.vpc_access_id)
    {
        return Err(ApiError::with_status(
            400,
            "RepeatedCommit",
            format!(
                "A VPC access authorization for ({vpc_id}, {instance_id}, {port}) already exists"
            ),
        ));
    }
    let mut to = from.clone();
    to.vpc_id = vpc_id;
    to.instance_id = instance_id;
    to.port = port;
    if let Some(host) = p.get("VpcTargetHostName") {
        to.vpc_target_host_name = host.to_owned();
    }
    let apis = if batch {
        acc.deployments_naming(&from)
    } else {
        Vec::new()
    };
    if batch {
        let also = acc.batch_work_also;
        if also.drafts {
            for api in &mut acc.apis {
                Account::repoint_route(&mut api.route, &from, &to);
            }
        }
        if also.history {
            for h in &mut acc.history {
                if let Some(route) = &mut h.route {
                    Account::repoint_route(route, &from, &to);
                }
            }
        }
        if also.backend_models {
            for vpc in acc
                .backends
                .iter_mut()
                .flat_map(|b| b.models.iter_mut())
                .filter_map(|m| m.vpc.as_mut())
            {
                let by_id = vpc.vpc_access_id.as_deref() == Some(from.vpc_access_id.as_str());
                let by_name = vpc.name.as_deref() == Some(from.name.as_str());
                let by_tuple = vpc.vpc_id.as_deref() == Some(from.vpc_id.as_str())
                    && vpc.instance_id.as_deref() == Some(from.instance_id.as_str())
                    && vpc.port == Some(from.port);
                if by_id || by_name || by_tuple {
                    vpc.vpc_id = Some(to.vpc_id.clone());
                    vpc.instance_id = Some(to.instance_id.clone());
                    vpc.port = Some(to.port);
                }
            }
        }
    }
    if let Some(g) = acc
        .grants
        .iter_mut()
        .find(|g| g.vpc_access_id == from.vpc_access_id)
    {
        *g = to.clone();
    }
    let id = derived_id("update-operation", &ctx.request_id);
    acc.updates.insert(
        id.clone(),
        UpdateOperation {
            outcomes: vec![None; apis.len()],
            apis,
            polls: 0,
            from,
            to,
        },
    );
    json(OperationResponse {
        request_id: String::new(),
        operation_id: id,
    })
}

/// The first poll finds every API `RUNNING`; each later one settles half of them (rounded
/// up): `SUCCESS` after pointing the published definition at the new target, or `FAILED`
/// with the ErrorMsg an `update_fail` fault chose. `update_never_finishes` keeps all RUNNING.
fn describe_update_task(acc: &mut Account, p: &Params, ctx: &Ctx) -> Result<Value, ApiError> {
    let uid = p.req("OperationUid")?.to_owned();
    let mut op = acc
        .updates
        .get(&uid)
        .cloned()
        .ok_or_else(|| ApiError::invalid("OperationUid", "no such operation"))?;
    op.polls += 1;
    if !acc.update_faults.never_finishes && op.polls > 1 {
        let step = op.apis.len().div_ceil(2);
        let settled = (step * (op.polls as usize - 1)).min(op.apis.len());
        for i in 0..settled {
            if op.outcomes[i].is_some() {
                continue;
            }
            let s = &op.apis[i];
            let api_name = acc
                .api(&s.api_id)
                .map(|a| a.name.clone())
                .unwrap_or_default();
            let outcome = match acc
                .update_faults
                .failure(&s.api_id, &api_name, &s.stage_name)
            {
                Some(message) => ("FAILED".to_owned(), message.clone()),
                None => {
                    if let Some(d) = acc
                        .deployments
                        .iter_mut()
                        .find(|d| d.api == s.api_id && d.stage == s.stage_name)
                    {
                        if let Some(route) = &mut d.route {
                            if Account::repoint_route(route, &op.from, &op.to) {
                                d.deployed_time = ctx.now.clone();
                            }
                        }
                    }
                    ("SUCCESS".to_owned(), String::new())
                }
            };
            op.outcomes[i] = Some(outcome);
        }
    }
    let results: Vec<ApiUpdateVpcInfoResult> = op
        .apis
        .iter()
        .zip(&op.outcomes)
        .map(|(s, outcome)| {
            let (status, error) = outcome
                .clone()
                .unwrap_or_else(|| ("RUNNING".to_owned(), String::new()));
            ApiUpdateVpcInfoResult {
                api_uid: s.api_id.clone(),
                api_name: acc
                    .api(&s.api_id)
                    .map(|a| a.name.clone())
                    .unwrap_or_default(),
                group_id: s.group_id.clone(),
                group_name: acc.group_name(&s.group_id),
                stage_id: s.stage_id.clone(),
                stage_name: s.stage_name.clone(),
                update_status: status,
                error_msg: error,
            }
        })
        .collect();
    acc.updates.insert(uid, op);
    json(DescribeUpdateVpcInfoTaskResponse {
        request_id: String::new(),
        api_update_vpc_info_results: results.into(),
    })
}

fn backend_or_404<'a>(acc: &'a Account, id: &str) -> Result<&'a super::fixture::Backend, ApiError> {
    acc.backend(id)
        .ok_or_else(|| ApiError::new("NotFoundBackend", format!("Cannot find the backend: {id}")))
}

fn describe_backend_list(acc: &Account, p: &Params) -> Result<Value, ApiError> {
    let page = p.page(100)?;
    let items: Vec<BackendSummary> = acc
        .backends
        .iter()
        .filter(|b| {
            glob(&b.name, p.get("BackendName")) && exact(&b.backend_type, p.get("BackendType"))
        })
        .map(|b| BackendSummary {
            backend_id: b.id.clone(),
            backend_name: b.name.clone(),
            backend_type: b.backend_type.clone(),
            description: b.description.clone(),
            created_time: b.created_time.clone(),
            modified_time: b.modified_time.clone(),
            tags: vec![],
        })
        .collect();
    let (info, items) = page_of(&items, page);
    json(DescribeBackendListResponse {
        request_id: String::new(),
        page: info,
        backend_info_list: items,
    })
}

fn describe_backend_info(acc: &Account, p: &Params) -> Result<Value, ApiError> {
    let b = backend_or_404(acc, p.req("BackendId")?)?;
    let models = b
        .models
        .iter()
        .map(|m| BackendModel {
            backend_model_id: m.id.clone(),
            stage_name: m.stage.clone(),
            // Backends are not tied to a group; the stage id is derived like the service's
            // own opaque ids.
            stage_mode_id: derived_id("backend-stage", &format!("{}:{}", b.id, m.stage)),
            description: m.description.clone(),
            gmt_create: m.created_time.clone(),
            gmt_modified: m.modified_time.clone(),
            backend_config: BackendModelConfig {
                backend_type: m
                    .model_type
                    .clone()
                    .unwrap_or_else(|| if m.vpc.is_some() { "VPC" } else { "HTTP" }.into()),
                service_address: m.address.clone().unwrap_or_default(),
                service_timeout: Some(10000),
                vpc_config: m.vpc.as_ref().map(|v| VpcConfig {
                    vpc_access_id: v.vpc_access_id.clone(),
                    name: v.name.clone(),
                    vpc_id: v.vpc_id.clone(),
                    instance_id: v.instance_id.clone(),
                    port: v.port,
                    vpc_scheme: Some(v.vpc_scheme.clone()),
                    vpc_target_host_name: Some(v.vpc_target_host_name.clone()),
                }),
            },
        })
        .collect();
    json(DescribeBackendInfoResponse {
        request_id: String::new(),
        backend_info: BackendInfo {
            backend_id: b.id.clone(),
            backend_name: b.name.clone(),
            backend_type: b.backend_type.clone(),
            description: b.description.clone(),
            created_time: b.created_time.clone(),
            modified_time: b.modified_time.clone(),
            backend_models: models,
        },
    })
}

fn describe_apis_by_backend(acc: &Account, p: &Params) -> Result<Value, ApiError> {
    let backend = backend_or_404(acc, p.req("BackendId")?)?;
    let stage = p.stage("StageName")?;
    let page = p.page(100)?;
    let uses = |r: &Route| matches!(r, Route::Backend(b) if b.id == backend.id);
    let live = acc.lookup();
    let items: Vec<ApiInfo> = acc
        .apis
        .iter()
        .filter(|a| match stage {
            // Without a stage the service answers for the drafts (docs/cloudapi-notes.md §3.18).
            None => uses(&a.route),
            Some(s) => live
                .deployment(&a.id, s)
                .and_then(|d| d.route.as_ref())
                .is_some_and(uses),
        })
        .map(|a| ApiInfo {
            api_id: a.id.clone(),
            api_name: a.name.clone(),
            group_id: a.group.clone(),
            group_name: acc.group_name(&a.group),
            method: a.method.clone(),
            path: a.path.clone(),
            description: a.description.clone(),
        })
        .collect();
    let (info, items) = page_of(&items, page);
    json(DescribeApisByBackendResponse {
        request_id: String::new(),
        page: info,
        api_info_list: items.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_like_the_backend_filter() {
        assert!(glob("orders-vpc", Some("orders*")));
        assert!(glob("orders-vpc", Some("*vpc")));
        assert!(glob("orders-vpc", Some("o*-*c")));
        assert!(!glob("orders-vpc", Some("orders")));
        assert!(glob("orders", None));
    }

    #[test]
    fn page_arithmetic() {
        let items: Vec<u32> = (1..=25).collect();
        let (info, page) = page_of(&items, (3, 10));
        assert_eq!((info.total_count, page), (25, vec![21, 22, 23, 24, 25]));
        let (_, page) = page_of(&items, (4, 10));
        assert!(page.is_empty());
    }
}

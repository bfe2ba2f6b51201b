//! Requests of the CloudAPI 2016-07-14 actions grantguard uses (docs/cloudapi-notes.md §3). Each request
//! is a struct whose `params` are the action's own parameters as wire strings; the client adds
//! the common parameters and the signature. Unset optional parameters are omitted, never sent
//! empty (docs/cloudapi-notes.md §1.4).

use super::models::*;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Action parameters in the order they are added; values are wire strings.
pub type Params = Vec<(&'static str, String)>;

/// One RPC action: its name, its parameters and the shape of its answer.
pub trait Action: Send + Sync {
    /// The `Action` parameter.
    const NAME: &'static str;
    /// Whether the action changes the account (never resent after an unclear failure).
    const MUTATING: bool = false;
    /// The decoded success body.
    type Response: DeserializeOwned + Serialize + Send + 'static;
    /// The action's own parameters (no common parameters).
    fn params(&self) -> Params;
    /// What the call is about, for gaps and errors: `group:…`, `api:…`, `grant:…`, `region`.
    fn scope(&self) -> String;
}

/// A list action that pages with `PageNumber`/`PageSize` and reports `TotalCount`.
pub trait PagedAction: Action + Clone {
    /// One listed item.
    type Item: Send + 'static;
    /// The largest page size the service documents for this action (docs/cloudapi-notes.md trap 10).
    const MAX_PAGE_SIZE: u32;
    /// Sets the page to ask for.
    fn set_page(&mut self, number: u32, size: u32);
    /// Splits a response into its paging echo and its items.
    fn into_page(response: Self::Response) -> (PageInfo, Vec<Self::Item>);
    /// The identity of an item, for drift detection (duplicates, changed sets).
    fn item_key(item: &Self::Item) -> String;
}

fn push_opt(params: &mut Params, name: &'static str, value: &Option<String>) {
    if let Some(v) = value {
        params.push((name, v.clone()));
    }
}

fn push_page(params: &mut Params, page: &Option<(u32, u32)>) {
    if let Some((number, size)) = page {
        params.push(("PageNumber", number.to_string()));
        params.push(("PageSize", size.to_string()));
    }
}

macro_rules! paged {
    ($req:ty, $resp:ty, $item:ty, $max:expr, $field:ident, |$it:ident| $key:expr) => {
        impl PagedAction for $req {
            type Item = $item;
            const MAX_PAGE_SIZE: u32 = $max;
            fn set_page(&mut self, number: u32, size: u32) {
                self.page = Some((number, size));
            }
            fn into_page(response: $resp) -> (PageInfo, Vec<$item>) {
                (response.page, response.$field.into())
            }
            fn item_key($it: &$item) -> String {
                $key
            }
        }
    };
}

/// DescribeRegions.
#[derive(Debug, Clone, Default)]
pub struct DescribeRegions;

impl Action for DescribeRegions {
    const NAME: &'static str = "DescribeRegions";
    type Response = DescribeRegionsResponse;
    fn params(&self) -> Params {
        vec![("Language", "en".into())]
    }
    fn scope(&self) -> String {
        "account".into()
    }
}

/// DescribeApiGroups: every group of the region, paged (max 50).
#[derive(Debug, Clone, Default)]
pub struct DescribeApiGroups {
    /// Page to ask for.
    pub page: Option<(u32, u32)>,
}

impl Action for DescribeApiGroups {
    const NAME: &'static str = "DescribeApiGroups";
    type Response = DescribeApiGroupsResponse;
    fn params(&self) -> Params {
        let mut p = Params::new();
        push_page(&mut p, &self.page);
        p
    }
    fn scope(&self) -> String {
        "region".into()
    }
}
paged!(
    DescribeApiGroups,
    DescribeApiGroupsResponse,
    ApiGroupAttribute,
    50,
    api_group_attributes,
    |i| i.group_id.clone()
);

/// DescribeApiGroup: one group's stages.
#[derive(Debug, Clone)]
pub struct DescribeApiGroup {
    /// Group id.
    pub group_id: String,
}

impl Action for DescribeApiGroup {
    const NAME: &'static str = "DescribeApiGroup";
    type Response = DescribeApiGroupResponse;
    fn params(&self) -> Params {
        vec![("GroupId", self.group_id.clone())]
    }
    fn scope(&self) -> String {
        format!("group:{}", self.group_id)
    }
}

/// DescribeApis: draft APIs of a group, paged (max 100).
#[derive(Debug, Clone)]
pub struct DescribeApis {
    /// Group id.
    pub group_id: String,
    /// Page to ask for.
    pub page: Option<(u32, u32)>,
}

impl DescribeApis {
    /// All drafts of one group.
    pub fn in_group(group_id: &str) -> Self {
        Self {
            group_id: group_id.to_owned(),
            page: None,
        }
    }
}

impl Action for DescribeApis {
    const NAME: &'static str = "DescribeApis";
    type Response = DescribeApisResponse;
    fn params(&self) -> Params {
        let mut p = vec![("GroupId", self.group_id.clone())];
        push_page(&mut p, &self.page);
        p
    }
    fn scope(&self) -> String {
        format!("group:{}", self.group_id)
    }
}
paged!(
    DescribeApis,
    DescribeApisResponse,
    ApiSummary,
    100,
    api_summarys,
    |i| i.api_id.clone()
);

/// DescribeApi: the draft definition of one API.
#[derive(Debug, Clone)]
pub struct DescribeApi {
    /// Group id.
    pub group_id: String,
    /// API id.
    pub api_id: String,
}

impl Action for DescribeApi {
    const NAME: &'static str = "DescribeApi";
    type Response = ApiDefinition;
    fn params(&self) -> Params {
        vec![
            ("ApiId", self.api_id.clone()),
            ("GroupId", self.group_id.clone()),
        ]
    }
    fn scope(&self) -> String {
        format!("api:{}", self.api_id)
    }
}

/// DescribeDeployedApis: APIs published to one stage of a group, paged (max 100).
#[derive(Debug, Clone)]
pub struct DescribeDeployedApis {
    /// Group id.
    pub group_id: String,
    /// Stage name.
    pub stage_name: String,
    /// Page to ask for.
    pub page: Option<(u32, u32)>,
}

impl Action for DescribeDeployedApis {
    const NAME: &'static str = "DescribeDeployedApis";
    type Response = DescribeDeployedApisResponse;
    fn params(&self) -> Params {
        let mut p = vec![
            ("GroupId", self.group_id.clone()),
            ("StageName", self.stage_name.clone()),
        ];
        push_page(&mut p, &self.page);
        p
    }
    fn scope(&self) -> String {
        format!("group:{}/stage:{}", self.group_id, self.stage_name)
    }
}
paged!(
    DescribeDeployedApis,
    DescribeDeployedApisResponse,
    DeployedApiItem,
    100,
    deployed_apis,
    |i| i.api_id.clone()
);

/// DescribeDeployedApi: the definition effective in one stage.
#[derive(Debug, Clone)]
pub struct DescribeDeployedApi {
    /// Group id.
    pub group_id: String,
    /// API id.
    pub api_id: String,
    /// Stage name.
    pub stage_name: String,
}

impl Action for DescribeDeployedApi {
    const NAME: &'static str = "DescribeDeployedApi";
    type Response = ApiDefinition;
    fn params(&self) -> Params {
        vec![
            ("ApiId", self.api_id.clone()),
            ("GroupId", self.group_id.clone()),
            ("StageName", self.stage_name.clone()),
        ]
    }
    fn scope(&self) -> String {
        format!("api:{}/stage:{}", self.api_id, self.stage_name)
    }
}

/// DescribeHistoryApis: published versions of a group, paged (max 50; paging params are
/// strings in the SDK model, identical on the wire).
#[derive(Debug, Clone)]
pub struct DescribeHistoryApis {
    /// Group id (required).
    pub group_id: String,
    /// Optional API filter.
    pub api_id: Option<String>,
    /// Optional stage filter.
    pub stage_name: Option<String>,
    /// Page to ask for.
    pub page: Option<(u32, u32)>,
}

impl Action for DescribeHistoryApis {
    const NAME: &'static str = "DescribeHistoryApis";
    type Response = ApiHistoriesResponse;
    fn params(&self) -> Params {
        let mut p = vec![("GroupId", self.group_id.clone())];
        push_opt(&mut p, "ApiId", &self.api_id);
        push_opt(&mut p, "StageName", &self.stage_name);
        push_page(&mut p, &self.page);
        p
    }
    fn scope(&self) -> String {
        format!("group:{}", self.group_id)
    }
}
paged!(
    DescribeHistoryApis,
    ApiHistoriesResponse,
    ApiHisItem,
    50,
    api_his_items,
    |i| history_key(i)
);

/// DescribeApiHistories: versions of one API (max 100).
#[derive(Debug, Clone)]
pub struct DescribeApiHistories {
    /// Group id (required).
    pub group_id: String,
    /// API id.
    pub api_id: String,
    /// Optional stage filter.
    pub stage_name: Option<String>,
    /// Page to ask for.
    pub page: Option<(u32, u32)>,
}

impl Action for DescribeApiHistories {
    const NAME: &'static str = "DescribeApiHistories";
    type Response = ApiHistoriesResponse;
    fn params(&self) -> Params {
        let mut p = vec![
            ("ApiId", self.api_id.clone()),
            ("GroupId", self.group_id.clone()),
        ];
        push_opt(&mut p, "StageName", &self.stage_name);
        push_page(&mut p, &self.page);
        p
    }
    fn scope(&self) -> String {
        match &self.stage_name {
            Some(stage) => format!("api:{}/stage:{}", self.api_id, stage),
            None => format!("api:{}", self.api_id),
        }
    }
}
paged!(
    DescribeApiHistories,
    ApiHistoriesResponse,
    ApiHisItem,
    100,
    api_his_items,
    |i| history_key(i)
);

fn history_key(item: &ApiHisItem) -> String {
    format!(
        "{}/{}/{}",
        item.api_id,
        item.stage_name,
        item.history_version.as_deref().unwrap_or("")
    )
}

/// DescribeApiHistory: one historical definition.
#[derive(Debug, Clone)]
pub struct DescribeApiHistory {
    /// Group id.
    pub group_id: String,
    /// API id.
    pub api_id: String,
    /// Stage name.
    pub stage_name: String,
    /// Version.
    pub history_version: String,
}

impl Action for DescribeApiHistory {
    const NAME: &'static str = "DescribeApiHistory";
    type Response = ApiDefinition;
    fn params(&self) -> Params {
        vec![
            ("ApiId", self.api_id.clone()),
            ("GroupId", self.group_id.clone()),
            ("HistoryVersion", self.history_version.clone()),
            ("StageName", self.stage_name.clone()),
        ]
    }
    fn scope(&self) -> String {
        format!(
            "api:{}/stage:{}/version:{}",
            self.api_id, self.stage_name, self.history_version
        )
    }
}

/// DescribeApisByVpcAccess: the service's own usage index for a grant name (max 100).
#[derive(Debug, Clone)]
pub struct DescribeApisByVpcAccess {
    /// The grant's Name.
    pub vpc_name: String,
    /// Page to ask for.
    pub page: Option<(u32, u32)>,
}

impl Action for DescribeApisByVpcAccess {
    const NAME: &'static str = "DescribeApisByVpcAccess";
    type Response = DescribeApisByVpcAccessResponse;
    fn params(&self) -> Params {
        let mut p = vec![("VpcName", self.vpc_name.clone())];
        push_page(&mut p, &self.page);
        p
    }
    fn scope(&self) -> String {
        format!("grant-name:{}", self.vpc_name)
    }
}
paged!(
    DescribeApisByVpcAccess,
    DescribeApisByVpcAccessResponse,
    ApiVpcAccessInfo,
    100,
    api_vpc_access_infos,
    |i| format!("{}/{}", i.api_id, i.stage_name)
);

/// DescribeVpcAccesses: grants of the region, optionally filtered (max 100).
#[derive(Debug, Clone, Default)]
pub struct DescribeVpcAccesses {
    /// Name filter.
    pub name: Option<String>,
    /// Exact match on `name`.
    pub accurate_query: bool,
    /// VPC filter.
    pub vpc_id: Option<String>,
    /// Instance filter.
    pub instance_id: Option<String>,
    /// Port filter (a string in the request model).
    pub port: Option<u16>,
    /// Id filter.
    pub vpc_access_id: Option<String>,
    /// Page to ask for.
    pub page: Option<(u32, u32)>,
}

impl DescribeVpcAccesses {
    /// The grant with this tuple, the key RemoveVpcAccess addresses.
    pub fn by_tuple(vpc_id: &str, instance_id: &str, port: u16) -> Self {
        Self {
            vpc_id: Some(vpc_id.to_owned()),
            instance_id: Some(instance_id.to_owned()),
            port: Some(port),
            ..Self::default()
        }
    }

    /// Grants named exactly `name` (the service matches names fuzzily without AccurateQuery).
    pub fn by_name(name: &str) -> Self {
        Self {
            name: Some(name.to_owned()),
            accurate_query: true,
            ..Self::default()
        }
    }
}

impl Action for DescribeVpcAccesses {
    const NAME: &'static str = "DescribeVpcAccesses";
    type Response = DescribeVpcAccessesResponse;
    fn params(&self) -> Params {
        let mut p = Params::new();
        if self.accurate_query {
            p.push(("AccurateQuery", "true".into()));
        }
        push_opt(&mut p, "InstanceId", &self.instance_id);
        push_opt(&mut p, "Name", &self.name);
        push_page(&mut p, &self.page);
        if let Some(port) = self.port {
            p.push(("Port", port.to_string()));
        }
        push_opt(&mut p, "VpcAccessId", &self.vpc_access_id);
        push_opt(&mut p, "VpcId", &self.vpc_id);
        p
    }
    fn scope(&self) -> String {
        "region".into()
    }
}
paged!(
    DescribeVpcAccesses,
    DescribeVpcAccessesResponse,
    VpcAccessAttribute,
    100,
    vpc_access_attributes,
    |i| i.vpc_access_id.clone()
);

/// SetVpcAccess: create a grant (used by `restore`).
#[derive(Debug, Clone)]
pub struct SetVpcAccess {
    /// Name (unique).
    pub name: String,
    /// VPC id.
    pub vpc_id: String,
    /// Instance id.
    pub instance_id: String,
    /// Port.
    pub port: u16,
    /// Description.
    pub description: Option<String>,
    /// Host header.
    pub vpc_target_host_name: Option<String>,
}

impl Action for SetVpcAccess {
    const NAME: &'static str = "SetVpcAccess";
    const MUTATING: bool = true;
    type Response = SetVpcAccessResponse;
    fn params(&self) -> Params {
        let mut p = Params::new();
        push_opt(&mut p, "Description", &self.description);
        p.push(("InstanceId", self.instance_id.clone()));
        p.push(("Name", self.name.clone()));
        p.push(("Port", self.port.to_string()));
        p.push(("VpcId", self.vpc_id.clone()));
        push_opt(&mut p, "VpcTargetHostName", &self.vpc_target_host_name);
        p
    }
    fn scope(&self) -> String {
        format!("grant-name:{}", self.name)
    }
}

/// RemoveVpcAccess: deletes a grant by its tuple, without unpublishing its APIs.
/// `NeedBatchWork` is undocumented and never sent.
#[derive(Debug, Clone)]
pub struct RemoveVpcAccess {
    /// VPC id.
    pub vpc_id: String,
    /// Instance id.
    pub instance_id: String,
    /// Port.
    pub port: u16,
}

impl Action for RemoveVpcAccess {
    const NAME: &'static str = "RemoveVpcAccess";
    const MUTATING: bool = true;
    type Response = RemoveVpcAccessResponse;
    fn params(&self) -> Params {
        vec![
            ("InstanceId", self.instance_id.clone()),
            ("Port", self.port.to_string()),
            ("VpcId", self.vpc_id.clone()),
        ]
    }
    fn scope(&self) -> String {
        format!("grant:{}/{}/{}", self.vpc_id, self.instance_id, self.port)
    }
}

/// RemoveVpcAccessAndAbolishApis: deletes a grant and unpublishes its APIs, asynchronously.
#[derive(Debug, Clone)]
pub struct RemoveVpcAccessAndAbolishApis {
    /// VPC id.
    pub vpc_id: String,
    /// Instance id.
    pub instance_id: String,
    /// Port.
    pub port: u16,
}

impl Action for RemoveVpcAccessAndAbolishApis {
    const NAME: &'static str = "RemoveVpcAccessAndAbolishApis";
    const MUTATING: bool = true;
    type Response = OperationResponse;
    fn params(&self) -> Params {
        vec![
            ("InstanceId", self.instance_id.clone()),
            ("Port", self.port.to_string()),
            ("VpcId", self.vpc_id.clone()),
        ]
    }
    fn scope(&self) -> String {
        format!("grant:{}/{}/{}", self.vpc_id, self.instance_id, self.port)
    }
}

/// DescribeAbolishApiTask: progress of an abolish operation.
#[derive(Debug, Clone)]
pub struct DescribeAbolishApiTask {
    /// The `OperationId` RemoveVpcAccessAndAbolishApis returned.
    pub operation_uid: String,
}

impl Action for DescribeAbolishApiTask {
    const NAME: &'static str = "DescribeAbolishApiTask";
    type Response = DescribeAbolishApiTaskResponse;
    fn params(&self) -> Params {
        vec![("OperationUid", self.operation_uid.clone())]
    }
    fn scope(&self) -> String {
        format!("operation:{}", self.operation_uid)
    }
}

/// ModifyVpcAccessAndUpdateApis: moves a grant to another target in place (same name and
/// VpcAccessId); with `NeedBatchWork=true` the service also updates the published APIs that
/// use it, asynchronously.
#[derive(Debug, Clone)]
pub struct ModifyVpcAccessAndUpdateApis {
    /// The grant's current name (the action cannot rename).
    pub name: String,
    /// New VPC id.
    pub vpc_id: String,
    /// New instance id.
    pub instance_id: String,
    /// New port.
    pub port: u16,
    /// New host header.
    pub vpc_target_host_name: Option<String>,
    /// Also update the published APIs.
    pub need_batch_work: bool,
}

impl Action for ModifyVpcAccessAndUpdateApis {
    const NAME: &'static str = "ModifyVpcAccessAndUpdateApis";
    const MUTATING: bool = true;
    type Response = OperationResponse;
    fn params(&self) -> Params {
        let mut p = vec![
            ("InstanceId", self.instance_id.clone()),
            ("Name", self.name.clone()),
            ("NeedBatchWork", self.need_batch_work.to_string()),
            ("Port", self.port.to_string()),
            ("VpcId", self.vpc_id.clone()),
        ];
        push_opt(&mut p, "VpcTargetHostName", &self.vpc_target_host_name);
        p
    }
    fn scope(&self) -> String {
        format!("grant-name:{}", self.name)
    }
}

/// DescribeUpdateVpcInfoTask: progress of a ModifyVpcAccessAndUpdateApis operation.
#[derive(Debug, Clone)]
pub struct DescribeUpdateVpcInfoTask {
    /// The `OperationId` ModifyVpcAccessAndUpdateApis returned.
    pub operation_uid: String,
}

impl Action for DescribeUpdateVpcInfoTask {
    const NAME: &'static str = "DescribeUpdateVpcInfoTask";
    type Response = DescribeUpdateVpcInfoTaskResponse;
    fn params(&self) -> Params {
        vec![("OperationUid", self.operation_uid.clone())]
    }
    fn scope(&self) -> String {
        format!("operation:{}", self.operation_uid)
    }
}

/// DescribeBackendList: backend services of the region (bare arrays; max 50 assumed).
#[derive(Debug, Clone, Default)]
pub struct DescribeBackendList {
    /// Type filter, e.g. `VPC`.
    pub backend_type: Option<String>,
    /// Page to ask for.
    pub page: Option<(u32, u32)>,
}

impl Action for DescribeBackendList {
    const NAME: &'static str = "DescribeBackendList";
    type Response = DescribeBackendListResponse;
    fn params(&self) -> Params {
        let mut p = Params::new();
        push_opt(&mut p, "BackendType", &self.backend_type);
        push_page(&mut p, &self.page);
        p
    }
    fn scope(&self) -> String {
        "region".into()
    }
}

impl PagedAction for DescribeBackendList {
    type Item = BackendSummary;
    const MAX_PAGE_SIZE: u32 = 50;
    fn set_page(&mut self, number: u32, size: u32) {
        self.page = Some((number, size));
    }
    fn into_page(response: DescribeBackendListResponse) -> (PageInfo, Vec<BackendSummary>) {
        (response.page, response.backend_info_list)
    }
    fn item_key(item: &BackendSummary) -> String {
        item.backend_id.clone()
    }
}

/// DescribeBackendInfo: a backend service and its per-stage models.
#[derive(Debug, Clone)]
pub struct DescribeBackendInfo {
    /// Backend id.
    pub backend_id: String,
}

impl Action for DescribeBackendInfo {
    const NAME: &'static str = "DescribeBackendInfo";
    type Response = DescribeBackendInfoResponse;
    fn params(&self) -> Params {
        vec![("BackendId", self.backend_id.clone())]
    }
    fn scope(&self) -> String {
        format!("backend:{}", self.backend_id)
    }
}

/// DescribeApisByBackend: APIs using a backend in a stage, or drafts without a stage.
#[derive(Debug, Clone)]
pub struct DescribeApisByBackend {
    /// Backend id.
    pub backend_id: String,
    /// Stage; `None` lists draft APIs.
    pub stage_name: Option<String>,
    /// Page to ask for.
    pub page: Option<(u32, u32)>,
}

impl Action for DescribeApisByBackend {
    const NAME: &'static str = "DescribeApisByBackend";
    type Response = DescribeApisByBackendResponse;
    fn params(&self) -> Params {
        let mut p = vec![("BackendId", self.backend_id.clone())];
        push_page(&mut p, &self.page);
        push_opt(&mut p, "StageName", &self.stage_name);
        p
    }
    fn scope(&self) -> String {
        match &self.stage_name {
            Some(stage) => format!("backend:{}/stage:{}", self.backend_id, stage),
            None => format!("backend:{}", self.backend_id),
        }
    }
}
paged!(
    DescribeApisByBackend,
    DescribeApisByBackendResponse,
    ApiInfo,
    100,
    api_info_list,
    |i| i.api_id.clone()
);

//! Response bodies of the CloudAPI 2016-07-14 actions grantguard uses, with the wire key
//! names of the official SDK's models (docs/cloudapi-notes.md §3). Decoding is tolerant: unknown keys are
//! ignored, numbers may arrive as strings, a missing or `null` list is empty. Required keys
//! have no default, so a body without them fails with the key's path. The keys that name a
//! grant are strict: a `VpcConfig` (and the objects holding one) that is not an object, or a
//! name or id that is not a string, refuses the whole answer, which the walk records as a gap,
//! because a reference read leniently from such a value could not be trusted. The emulator serializes
//! these same types, so optional keys are skipped when absent rather than sent as `null`.

use super::de;
use serde::{Deserialize, Serialize};

/// Declares the `{"Plural":{"Singular":[…]}}` wrapper the service puts around most lists
/// (docs/cloudapi-notes.md trap 5).
macro_rules! wrapper {
    ($(#[$doc:meta])* $outer:ident, $inner:literal, $item:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        pub struct $outer {
            /// The wrapped items.
            #[serde(rename = $inner, default, deserialize_with = "de::list")]
            pub items: Vec<$item>,
        }
        impl From<Vec<$item>> for $outer {
            fn from(items: Vec<$item>) -> Self {
                Self { items }
            }
        }
        impl From<$outer> for Vec<$item> {
            fn from(wrapper: $outer) -> Self {
                wrapper.items
            }
        }
    };
}

fn is_none<T>(v: &Option<T>) -> bool {
    v.is_none()
}

/// The error envelope of any 4xx/5xx answer (docs/cloudapi-notes.md §1.6).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ErrorBody {
    /// Request id for the vendor's logs.
    #[serde(default, alias = "requestId")]
    pub request_id: String,
    /// Host that answered.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host_id: String,
    /// Machine-readable error code, e.g. `Throttling.User`.
    #[serde(default, alias = "code")]
    pub code: String,
    /// Human-readable message.
    #[serde(default, alias = "message")]
    pub message: String,
    /// Troubleshooting link.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub recommend: String,
}

/// Key/value tag as DescribeApiGroups and DescribeVpcAccesses send it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagInfo {
    /// Tag key.
    #[serde(default)]
    pub key: String,
    /// Tag value.
    #[serde(default)]
    pub value: String,
}
wrapper!(/// `Tags.TagInfo[]`.
    Tags, "TagInfo", TagInfo);

// ---------------------------------------------------------------- DescribeRegions

/// One region of DescribeRegions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Region {
    /// Region id, e.g. `cn-hangzhou`.
    pub region_id: String,
    /// Localized name.
    #[serde(default)]
    pub local_name: String,
    /// The API Gateway host of the region.
    #[serde(default)]
    pub region_endpoint: String,
}
wrapper!(/// `Regions.Region[]`.
    Regions, "Region", Region);

/// DescribeRegions response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeRegionsResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
    /// The regions.
    #[serde(default)]
    pub regions: Regions,
}

// ---------------------------------------------------------------- paging fields

/// The paging echo every list response carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PageInfo {
    /// Total items across all pages.
    #[serde(deserialize_with = "de::int")]
    pub total_count: u64,
    /// Page size the server used.
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "is_none"
    )]
    pub page_size: Option<u32>,
    /// 1-based page number the server answered.
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "is_none"
    )]
    pub page_number: Option<u32>,
}

// ---------------------------------------------------------------- groups

/// One group of DescribeApiGroups.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiGroupAttribute {
    /// Group id.
    pub group_id: String,
    /// Group name.
    #[serde(default)]
    pub group_name: String,
    /// Default second-level domain.
    #[serde(default)]
    pub sub_domain: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Creation time.
    #[serde(default)]
    pub created_time: String,
    /// Last modification time.
    #[serde(default)]
    pub modified_time: String,
    /// Region.
    #[serde(default)]
    pub region_id: String,
    /// Gateway instance.
    #[serde(default)]
    pub instance_id: String,
    /// Instance type.
    #[serde(default)]
    pub instance_type: String,
    /// Base path.
    #[serde(default)]
    pub base_path: String,
    /// Data-plane traffic limit (not the management API's).
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "is_none"
    )]
    pub traffic_limit: Option<u32>,
    /// Billing status.
    #[serde(default)]
    pub billing_status: String,
    /// Illegal status.
    #[serde(default)]
    pub illegal_status: String,
    /// Tags.
    #[serde(default)]
    pub tags: Tags,
}
wrapper!(/// `ApiGroupAttributes.ApiGroupAttribute[]`.
    ApiGroupAttributes, "ApiGroupAttribute", ApiGroupAttribute);

/// DescribeApiGroups response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeApiGroupsResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
    /// Paging echo.
    #[serde(flatten)]
    pub page: PageInfo,
    /// The groups of this page.
    #[serde(default)]
    pub api_group_attributes: ApiGroupAttributes,
}

/// A stage of a group and its id (the only place StageId ↔ StageName is mapped).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StageInfo {
    /// Stage id.
    #[serde(default)]
    pub stage_id: String,
    /// `RELEASE`, `PRE` or `TEST`.
    pub stage_name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
}
wrapper!(/// `StageItems.StageInfo[]`.
    StageItems, "StageInfo", StageInfo);

/// DescribeApiGroup response (the fields the audit reads; the rest are ignored).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeApiGroupResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
    /// Group id.
    pub group_id: String,
    /// Group name.
    #[serde(default)]
    pub group_name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Region.
    #[serde(default)]
    pub region_id: String,
    /// `NORMAL` or `DELETE`.
    #[serde(default)]
    pub status: String,
    /// Gateway instance.
    #[serde(default)]
    pub instance_id: String,
    /// Instance type.
    #[serde(default)]
    pub instance_type: String,
    /// Base path.
    #[serde(default)]
    pub base_path: String,
    /// Creation time.
    #[serde(default)]
    pub created_time: String,
    /// Last modification time.
    #[serde(default)]
    pub modified_time: String,
    /// The group's stages.
    #[serde(default)]
    pub stage_items: StageItems,
}

// ---------------------------------------------------------------- APIs (drafts)

/// Deployment state of an API in one stage, as listings report it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeployedInfo {
    /// Stage name.
    pub stage_name: String,
    /// `DEPLOYED` or `NONDEPLOYED`.
    #[serde(default)]
    pub deployed_status: String,
    /// Version effective in the stage; empty when not deployed.
    #[serde(
        default,
        deserialize_with = "de::opt_string",
        skip_serializing_if = "is_none"
    )]
    pub effective_version: Option<String>,
}
wrapper!(/// `DeployedInfos.DeployedInfo[]`.
    DeployedInfos, "DeployedInfo", DeployedInfo);

/// An API tag in DescribeApis.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiTag {
    /// Key.
    #[serde(default)]
    pub tag_key: String,
    /// Value.
    #[serde(default)]
    pub tag_value: String,
}
wrapper!(/// `TagList.Tag[]`.
    TagList, "Tag", ApiTag);

/// One API of DescribeApis.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiSummary {
    /// Region.
    #[serde(default)]
    pub region_id: String,
    /// Group id.
    pub group_id: String,
    /// Group name.
    #[serde(default)]
    pub group_name: String,
    /// API id.
    pub api_id: String,
    /// API name.
    #[serde(default)]
    pub api_name: String,
    /// Request path.
    #[serde(default)]
    pub api_path: String,
    /// Request method.
    #[serde(default)]
    pub api_method: String,
    /// `PUBLIC` or `PRIVATE`.
    #[serde(default)]
    pub visibility: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Creation time.
    #[serde(default)]
    pub created_time: String,
    /// Last modification of the draft definition.
    #[serde(default)]
    pub modified_time: String,
    /// Deployment state per stage.
    #[serde(default)]
    pub deployed_infos: DeployedInfos,
    /// Tags.
    #[serde(default)]
    pub tag_list: TagList,
}
wrapper!(/// `ApiSummarys.ApiSummary[]` (the vendor's spelling).
    ApiSummarys, "ApiSummary", ApiSummary);

/// DescribeApis response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeApisResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
    /// Paging echo.
    #[serde(flatten)]
    pub page: PageInfo,
    /// The APIs of this page.
    #[serde(default)]
    pub api_summarys: ApiSummarys,
}

/// `VpcConfig` inside an API's `ServiceConfig`, or inside a backend model.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VpcConfig {
    /// Grant id; only backend models carry it.
    #[serde(
        default,
        deserialize_with = "de::opt_key",
        skip_serializing_if = "is_none"
    )]
    pub vpc_access_id: Option<String>,
    /// Grant name.
    #[serde(
        default,
        deserialize_with = "de::opt_key",
        skip_serializing_if = "is_none"
    )]
    pub name: Option<String>,
    /// VPC id.
    #[serde(
        default,
        deserialize_with = "de::opt_key",
        skip_serializing_if = "is_none"
    )]
    pub vpc_id: Option<String>,
    /// ECS/SLB instance id (or address).
    #[serde(
        default,
        deserialize_with = "de::opt_key",
        skip_serializing_if = "is_none"
    )]
    pub instance_id: Option<String>,
    /// Port.
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "is_none"
    )]
    pub port: Option<u16>,
    /// `HTTP` or `HTTPS`.
    #[serde(
        default,
        deserialize_with = "de::opt_string",
        skip_serializing_if = "is_none"
    )]
    pub vpc_scheme: Option<String>,
    /// Host header sent to the target; only backend models carry it.
    #[serde(
        default,
        deserialize_with = "de::opt_string",
        skip_serializing_if = "is_none"
    )]
    pub vpc_target_host_name: Option<String>,
}

/// `ServiceConfig` of an API definition.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceConfig {
    /// `HTTP`, `HTTPS`, `FunctionCompute`, …
    #[serde(default)]
    pub service_protocol: String,
    /// Backend address for non-VPC HTTP services.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_address: String,
    /// Backend path.
    #[serde(default)]
    pub service_path: String,
    /// Backend method.
    #[serde(default)]
    pub service_http_method: String,
    /// Timeout in ms.
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "is_none"
    )]
    pub service_timeout: Option<u32>,
    /// `"TRUE"`/`"FALSE"`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mock: String,
    /// `"TRUE"` when the API routes through a VPC grant: a string, not a JSON boolean
    /// (docs/cloudapi-notes.md trap 6).
    #[serde(
        default,
        deserialize_with = "de::opt_string",
        skip_serializing_if = "is_none"
    )]
    pub service_vpc_enable: Option<String>,
    /// Sibling VPC id on deployed and historical definitions.
    #[serde(
        default,
        deserialize_with = "de::opt_string",
        skip_serializing_if = "is_none"
    )]
    pub vpc_id: Option<String>,
    /// The grant the API routes through.
    #[serde(
        default,
        deserialize_with = "de::opt_object",
        skip_serializing_if = "is_none"
    )]
    pub vpc_config: Option<VpcConfig>,
}

impl ServiceConfig {
    /// Whether `ServiceVpcEnable` may switch VPC routing on: any value but `FALSE` (in any
    /// case), an empty string or none. The service sends `"TRUE"` or `"FALSE"`; a value outside
    /// that vocabulary (`"1"`, `"yes"`) cannot be read as off, so it counts as on and the
    /// definition must then name its grant, or it is a gap (fail closed).
    pub fn vpc_enabled(&self) -> bool {
        self.service_vpc_enable
            .as_deref()
            .map(str::trim)
            .is_some_and(|v| !v.is_empty() && !v.eq_ignore_ascii_case("false"))
    }
}

/// `BackendConfig` of an API definition: the backend service it uses.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiBackendConfig {
    /// Backend service id.
    pub backend_id: String,
    /// Backend service name.
    #[serde(default)]
    pub backend_name: String,
    /// Backend type, e.g. `VPC`.
    #[serde(default)]
    pub backend_type: String,
}

/// `RequestConfig` of an API definition.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RequestConfig {
    /// `HTTP`, `HTTPS` or both.
    #[serde(default)]
    pub request_protocol: String,
    /// Method callers use.
    #[serde(default)]
    pub request_http_method: String,
    /// Path callers use.
    #[serde(default)]
    pub request_path: String,
    /// `MAPPING` or `PASSTHROUGH`.
    #[serde(default)]
    pub request_mode: String,
}

/// An API definition: the draft (DescribeApi), the one effective in a stage
/// (DescribeDeployedApi) or a historical version (DescribeApiHistory). The three shapes
/// differ only in optional keys (docs/cloudapi-notes.md §3.5, §3.7, §3.10); DescribeDeployedApi never
/// carries `BackendEnable`/`BackendConfig` (docs/cloudapi-notes.md trap 8).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiDefinition {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
    /// Region.
    #[serde(default)]
    pub region_id: String,
    /// Group id.
    pub group_id: String,
    /// Group name.
    #[serde(default)]
    pub group_name: String,
    /// API id.
    pub api_id: String,
    /// API name.
    #[serde(default)]
    pub api_name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// `PUBLIC` or `PRIVATE`.
    #[serde(default)]
    pub visibility: String,
    /// `APP`, `ANONYMOUS`, …
    #[serde(default)]
    pub auth_type: String,
    /// Result type.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub result_type: String,
    /// Stage (deployed and historical definitions).
    #[serde(
        default,
        deserialize_with = "de::opt_string",
        skip_serializing_if = "is_none"
    )]
    pub stage_name: Option<String>,
    /// Version (historical definitions).
    #[serde(
        default,
        deserialize_with = "de::opt_string",
        skip_serializing_if = "is_none"
    )]
    pub history_version: Option<String>,
    /// `ONLINE` or `OFFLINE` (historical definitions).
    #[serde(
        default,
        deserialize_with = "de::opt_string",
        skip_serializing_if = "is_none"
    )]
    pub status: Option<String>,
    /// Deployment time (deployed and historical definitions).
    #[serde(
        default,
        deserialize_with = "de::opt_string",
        skip_serializing_if = "is_none"
    )]
    pub deployed_time: Option<String>,
    /// Creation time (drafts).
    #[serde(
        default,
        deserialize_with = "de::opt_string",
        skip_serializing_if = "is_none"
    )]
    pub created_time: Option<String>,
    /// Last modification (drafts).
    #[serde(
        default,
        deserialize_with = "de::opt_string",
        skip_serializing_if = "is_none"
    )]
    pub modified_time: Option<String>,
    /// True when the API uses a backend service.
    #[serde(
        default,
        deserialize_with = "de::opt_bool",
        skip_serializing_if = "is_none"
    )]
    pub backend_enable: Option<bool>,
    /// The backend service, when `BackendEnable`.
    #[serde(
        default,
        deserialize_with = "de::opt_object",
        skip_serializing_if = "is_none"
    )]
    pub backend_config: Option<ApiBackendConfig>,
    /// Front-end request settings.
    #[serde(default, skip_serializing_if = "is_none")]
    pub request_config: Option<RequestConfig>,
    /// Backend settings, including the VPC grant.
    #[serde(
        default,
        deserialize_with = "de::opt_object",
        skip_serializing_if = "is_none"
    )]
    pub service_config: Option<ServiceConfig>,
    /// Deployment state per stage (drafts).
    #[serde(default, skip_serializing_if = "is_none")]
    pub deployed_infos: Option<DeployedInfos>,
}

// ---------------------------------------------------------------- deployed APIs

/// One item of DescribeDeployedApis.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeployedApiItem {
    /// Region.
    #[serde(default)]
    pub region_id: String,
    /// Group id.
    pub group_id: String,
    /// Group name.
    #[serde(default)]
    pub group_name: String,
    /// Stage.
    #[serde(default)]
    pub stage_name: String,
    /// API id.
    pub api_id: String,
    /// API name.
    #[serde(default)]
    pub api_name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Visibility.
    #[serde(default)]
    pub visibility: String,
    /// When this version went live.
    #[serde(default)]
    pub deployed_time: String,
    /// Method.
    #[serde(default)]
    pub api_method: String,
    /// Path.
    #[serde(default)]
    pub api_path: String,
}
wrapper!(/// `DeployedApis.DeployedApiItem[]`.
    DeployedApis, "DeployedApiItem", DeployedApiItem);

/// DescribeDeployedApis response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeDeployedApisResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
    /// Paging echo.
    #[serde(flatten)]
    pub page: PageInfo,
    /// The deployed APIs of this page.
    #[serde(default)]
    pub deployed_apis: DeployedApis,
}

// ---------------------------------------------------------------- history

/// One published version (DescribeHistoryApis, DescribeApiHistories).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiHisItem {
    /// Region.
    #[serde(default)]
    pub region_id: String,
    /// Group id.
    pub group_id: String,
    /// Group name.
    #[serde(default)]
    pub group_name: String,
    /// Stage.
    pub stage_name: String,
    /// Stage alias (DescribeHistoryApis only).
    #[serde(
        default,
        deserialize_with = "de::opt_string",
        skip_serializing_if = "is_none"
    )]
    pub stage_alias: Option<String>,
    /// API id.
    pub api_id: String,
    /// API name.
    #[serde(default)]
    pub api_name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Version id.
    #[serde(deserialize_with = "de::opt_string")]
    pub history_version: Option<String>,
    /// `ONLINE` (effective now) or `OFFLINE`.
    #[serde(default)]
    pub status: String,
    /// When the version was published.
    #[serde(default)]
    pub deployed_time: String,
}
wrapper!(/// `ApiHisItems.ApiHisItem[]`.
    ApiHisItems, "ApiHisItem", ApiHisItem);

/// DescribeHistoryApis and DescribeApiHistories response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiHistoriesResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
    /// Paging echo.
    #[serde(flatten)]
    pub page: PageInfo,
    /// The versions of this page.
    #[serde(default)]
    pub api_his_items: ApiHisItems,
}

// ---------------------------------------------------------------- usage index

/// One (API, stage) that the service's index says uses a grant.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiVpcAccessInfo {
    /// Region.
    #[serde(default)]
    pub region_id: String,
    /// Group id.
    pub group_id: String,
    /// Group name.
    #[serde(default)]
    pub group_name: String,
    /// Stage id.
    #[serde(default)]
    pub stage_id: String,
    /// Stage name.
    #[serde(default)]
    pub stage_name: String,
    /// API id.
    pub api_id: String,
    /// API name.
    #[serde(default)]
    pub api_name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Method.
    #[serde(default)]
    pub method: String,
    /// Path.
    #[serde(default)]
    pub path: String,
    /// Grant name.
    #[serde(default)]
    pub vpc_name: String,
    /// VPC id.
    #[serde(default)]
    pub vpc_id: String,
    /// Instance id.
    #[serde(default)]
    pub instance_id: String,
    /// Port.
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "is_none"
    )]
    pub port: Option<u16>,
}
wrapper!(/// `ApiVpcAccessInfos.ApiVpcAccessInfo[]`.
    ApiVpcAccessInfos, "ApiVpcAccessInfo", ApiVpcAccessInfo);

/// DescribeApisByVpcAccess response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeApisByVpcAccessResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
    /// Paging echo.
    #[serde(flatten)]
    pub page: PageInfo,
    /// The (API, stage) pairs of this page.
    #[serde(default)]
    pub api_vpc_access_infos: ApiVpcAccessInfos,
}

// ---------------------------------------------------------------- grants

/// One grant of DescribeVpcAccesses.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VpcAccessAttribute {
    /// Grant id.
    pub vpc_access_id: String,
    /// Grant name.
    pub name: String,
    /// VPC id.
    pub vpc_id: String,
    /// Instance id.
    pub instance_id: String,
    /// Port (a number in responses; a string in requests).
    #[serde(deserialize_with = "de::int")]
    pub port: u16,
    /// Region.
    #[serde(default)]
    pub region_id: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Host header sent to the target.
    #[serde(default)]
    pub vpc_target_host_name: String,
    /// Creation time.
    #[serde(default)]
    pub created_time: String,
    /// Tags.
    #[serde(default)]
    pub tags: Tags,
}
wrapper!(/// `VpcAccessAttributes.VpcAccessAttribute[]`.
    VpcAccessAttributes, "VpcAccessAttribute", VpcAccessAttribute);

/// DescribeVpcAccesses response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeVpcAccessesResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
    /// Paging echo.
    #[serde(flatten)]
    pub page: PageInfo,
    /// The grants of this page.
    #[serde(default)]
    pub vpc_access_attributes: VpcAccessAttributes,
}

/// SetVpcAccess response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SetVpcAccessResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
    /// Id of the new grant.
    pub vpc_access_id: String,
}

/// One (API, stage) that still referenced a removed grant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemovedApi {
    /// API id.
    pub api_id: String,
    /// Group id.
    #[serde(default)]
    pub group_id: String,
    /// Stage id (not name).
    #[serde(default)]
    pub stage_id: String,
}
wrapper!(/// `Apis.Api[]`.
    RemovedApis, "Api", RemovedApi);

/// RemoveVpcAccess response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemoveVpcAccessResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
    /// (API, stage) pairs that still used the grant; empty on a clean removal.
    #[serde(default)]
    pub apis: RemovedApis,
}

/// RemoveVpcAccessAndAbolishApis and ModifyVpcAccessAndUpdateApis response (the work
/// continues asynchronously).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OperationResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
    /// Operation to follow with DescribeAbolishApiTask or DescribeUpdateVpcInfoTask.
    pub operation_id: String,
}

/// Per-API progress of an abolish operation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiAbolishResult {
    /// API id.
    pub api_uid: String,
    /// API name.
    #[serde(default)]
    pub api_name: String,
    /// Group id.
    #[serde(default)]
    pub group_id: String,
    /// Group name.
    #[serde(default)]
    pub group_name: String,
    /// Stage id.
    #[serde(default)]
    pub stage_id: String,
    /// Stage name.
    #[serde(default)]
    pub stage_name: String,
    /// Status; the vocabulary is undocumented, unknown values mean "not finished".
    #[serde(default)]
    pub abolish_status: String,
    /// Error text.
    #[serde(default)]
    pub error_msg: String,
}
wrapper!(/// `ApiAbolishResults.ApiAbolishResult[]`.
    ApiAbolishResults, "ApiAbolishResult", ApiAbolishResult);

/// DescribeAbolishApiTask response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeAbolishApiTaskResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
    /// Per-API results.
    #[serde(default)]
    pub api_abolish_results: ApiAbolishResults,
}

/// Per-API progress of a ModifyVpcAccessAndUpdateApis operation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiUpdateVpcInfoResult {
    /// API id.
    pub api_uid: String,
    /// API name.
    #[serde(default)]
    pub api_name: String,
    /// Group id.
    #[serde(default)]
    pub group_id: String,
    /// Group name.
    #[serde(default)]
    pub group_name: String,
    /// Stage id.
    #[serde(default)]
    pub stage_id: String,
    /// Stage name.
    #[serde(default)]
    pub stage_name: String,
    /// Status; the vocabulary is undocumented, unknown values mean "not finished".
    #[serde(default)]
    pub update_status: String,
    /// Error text.
    #[serde(default)]
    pub error_msg: String,
}
wrapper!(/// `ApiUpdateVpcInfoResults.ApiUpdateVpcInfoResult[]`.
    ApiUpdateVpcInfoResults, "ApiUpdateVpcInfoResult", ApiUpdateVpcInfoResult);

/// DescribeUpdateVpcInfoTask response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeUpdateVpcInfoTaskResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
    /// Per-API results.
    #[serde(default)]
    pub api_update_vpc_info_results: ApiUpdateVpcInfoResults,
}

// ---------------------------------------------------------------- backends

/// A bare `{Key, Value}` tag of DescribeBackendList.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BackendTag {
    /// Key.
    #[serde(default)]
    pub key: String,
    /// Value.
    #[serde(default)]
    pub value: String,
}

/// One backend service of DescribeBackendList.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BackendSummary {
    /// Backend id.
    pub backend_id: String,
    /// Backend name.
    #[serde(default)]
    pub backend_name: String,
    /// `HTTP`, `VPC`, `FC_EVENT`, …
    #[serde(default)]
    pub backend_type: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Creation time.
    #[serde(default)]
    pub created_time: String,
    /// Last modification.
    #[serde(default)]
    pub modified_time: String,
    /// Tags (a bare array here).
    #[serde(default, deserialize_with = "de::list")]
    pub tags: Vec<BackendTag>,
}

/// DescribeBackendList response: a bare array, no wrapper (docs/cloudapi-notes.md trap 5).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeBackendListResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
    /// Paging echo.
    #[serde(flatten)]
    pub page: PageInfo,
    /// The backends of this page.
    #[serde(default, deserialize_with = "de::list")]
    pub backend_info_list: Vec<BackendSummary>,
}

/// `BackendConfig` of one stage model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BackendModelConfig {
    /// `VPC`, `HTTP`, …
    #[serde(default, rename = "Type")]
    pub backend_type: String,
    /// Address for HTTP backends.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_address: String,
    /// Timeout in ms.
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "is_none"
    )]
    pub service_timeout: Option<u32>,
    /// The grant, for VPC backends.
    #[serde(
        default,
        deserialize_with = "de::opt_object",
        skip_serializing_if = "is_none"
    )]
    pub vpc_config: Option<VpcConfig>,
}

/// A backend service's definition for one stage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BackendModel {
    /// Model id.
    #[serde(default)]
    pub backend_model_id: String,
    /// Stage name.
    pub stage_name: String,
    /// Stage id (the vendor's spelling).
    #[serde(default)]
    pub stage_mode_id: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Created.
    #[serde(default)]
    pub gmt_create: String,
    /// Modified.
    #[serde(default)]
    pub gmt_modified: String,
    /// Configuration for the stage.
    #[serde(default)]
    pub backend_config: BackendModelConfig,
}

/// `BackendInfo` of DescribeBackendInfo.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BackendInfo {
    /// Backend id.
    pub backend_id: String,
    /// Backend name.
    #[serde(default)]
    pub backend_name: String,
    /// Backend type.
    #[serde(default)]
    pub backend_type: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Created.
    #[serde(default)]
    pub created_time: String,
    /// Modified.
    #[serde(default)]
    pub modified_time: String,
    /// One model per stage (a bare array).
    #[serde(default, deserialize_with = "de::list")]
    pub backend_models: Vec<BackendModel>,
}

/// DescribeBackendInfo response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeBackendInfoResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
    /// The backend.
    pub backend_info: BackendInfo,
}

/// One API of DescribeApisByBackend.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiInfo {
    /// API id.
    pub api_id: String,
    /// API name.
    #[serde(default)]
    pub api_name: String,
    /// Group id.
    #[serde(default)]
    pub group_id: String,
    /// Group name.
    #[serde(default)]
    pub group_name: String,
    /// Method.
    #[serde(default)]
    pub method: String,
    /// Path.
    #[serde(default)]
    pub path: String,
    /// Description.
    #[serde(default)]
    pub description: String,
}
wrapper!(/// `ApiInfoList.ApiInfo[]`.
    ApiInfoList, "ApiInfo", ApiInfo);

/// DescribeApisByBackend response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeApisByBackendResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
    /// Paging echo.
    #[serde(flatten)]
    pub page: PageInfo,
    /// The APIs of this page.
    #[serde(default)]
    pub api_info_list: ApiInfoList,
}

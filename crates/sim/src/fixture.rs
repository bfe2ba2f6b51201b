//! The emulator's account description: a JSON fixture written by hand (docs/fixture-format.md).
//! In: fixture text. Out: a [`Fixture`] whose defaults are filled in (ids, stage ids, times,
//! versions, routes resolved from grant names) or a [`FixtureError`] pointing at the line and
//! column of the problem. It never touches the network and never prints a secret.

use super::faults::Faults;
use miette::{SourceOffset, SourceSpan};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// The three stages every group has, in the order the service lists them.
pub const STAGE_NAMES: [&str; 3] = ["RELEASE", "PRE", "TEST"];

const DEFAULT_TIME: &str = "2024-01-01T00:00:00Z";

/// A whole emulated account, as read from a fixture file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    /// Free text for the fixture's reader; ignored by the emulator.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Region the account lives in.
    #[serde(default = "default_region")]
    pub region: String,
    /// Regions DescribeRegions lists besides `region`; empty: four well-known regions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
    /// Access keys the emulator accepts (besides those in its environment).
    #[serde(default)]
    pub credentials: Vec<FixtureCredential>,
    /// VPC access authorizations.
    #[serde(default)]
    pub grants: Vec<Grant>,
    /// API groups.
    #[serde(default)]
    pub groups: Vec<Group>,
    /// API definitions (drafts).
    #[serde(default)]
    pub apis: Vec<Api>,
    /// What is live in each stage.
    #[serde(default)]
    pub deployments: Vec<Deployment>,
    /// Earlier published versions.
    #[serde(default)]
    pub history: Vec<HistoryEntry>,
    /// Backend services.
    #[serde(default)]
    pub backends: Vec<Backend>,
    /// Deliberate differences of the DescribeApisByVpcAccess index from the deployments.
    #[serde(default)]
    pub index: IndexAdjustments,
    /// What ModifyVpcAccessAndUpdateApis with `NeedBatchWork=true` updates besides the
    /// published APIs (by default nothing else).
    #[serde(default, skip_serializing_if = "BatchWorkAlso::is_none")]
    pub batch_work_also: BatchWorkAlso,
    /// Injected faults.
    #[serde(default)]
    pub faults: Faults,
}

/// Users of a grant that ModifyVpcAccessAndUpdateApis also moves to the new target. The service
/// promises only the published APIs; a fixture can play a service that does more.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchWorkAlso {
    /// API definitions (drafts).
    #[serde(default)]
    pub drafts: bool,
    /// Earlier versions (rollback targets).
    #[serde(default)]
    pub history: bool,
    /// Backend services' stage models.
    #[serde(default)]
    pub backend_models: bool,
}

impl BatchWorkAlso {
    /// Whether it adds nothing to the published APIs (the service's promise).
    pub fn is_none(&self) -> bool {
        *self == BatchWorkAlso::default()
    }
}

fn default_region() -> String {
    "cn-hangzhou".into()
}
fn default_time() -> String {
    DEFAULT_TIME.into()
}
fn default_true() -> bool {
    true
}

/// An access key the emulator accepts.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FixtureCredential {
    /// AccessKeyId.
    pub access_key_id: String,
    /// AccessKeySecret.
    pub access_key_secret: String,
    /// STS token that must accompany this key, if it is a temporary one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_token: Option<String>,
}

impl fmt::Debug for FixtureCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FixtureCredential")
            .field("access_key_id", &self.access_key_id)
            .field("access_key_secret", &"***")
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "***"),
            )
            .finish()
    }
}

/// A VPC access authorization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// Server id; generated from the name when empty.
    #[serde(default)]
    pub vpc_access_id: String,
    /// Name (what APIs and DescribeApisByVpcAccess refer to).
    pub name: String,
    /// VPC id.
    pub vpc_id: String,
    /// ECS/SLB instance id.
    pub instance_id: String,
    /// Port.
    pub port: u16,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Host header sent to the target.
    #[serde(default)]
    pub vpc_target_host_name: String,
    /// Creation time.
    #[serde(default = "default_time")]
    pub created_time: String,
}

/// An API group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// Group id; generated from the name when empty.
    #[serde(default)]
    pub id: String,
    /// Group name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Gateway instance.
    #[serde(default = "default_instance")]
    pub instance_id: String,
    /// Creation time.
    #[serde(default = "default_time")]
    pub created_time: String,
    /// Modification time.
    #[serde(default = "default_time")]
    pub modified_time: String,
    /// Stage name → stage id; stages not given get generated ids.
    #[serde(default)]
    pub stages: BTreeMap<String, String>,
}

fn default_instance() -> String {
    "api-shared-vpc-001".into()
}

/// Where an API sends its traffic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Route {
    /// Directly through a VPC grant (`ServiceConfig.VpcConfig`).
    Vpc(VpcRoute),
    /// Through a backend service; the stage picks its model.
    Backend(BackendRoute),
    /// A plain HTTP address.
    Http(HttpRoute),
}

/// A direct VPC route. Missing keys are filled from the grant the others name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VpcRoute {
    /// Grant name.
    #[serde(default)]
    pub name: Option<String>,
    /// VPC id.
    #[serde(default)]
    pub vpc_id: Option<String>,
    /// Instance id.
    #[serde(default)]
    pub instance_id: Option<String>,
    /// Port.
    #[serde(default)]
    pub port: Option<u16>,
    /// `ServiceVpcEnable`; false keeps a dormant VpcConfig in the definition.
    #[serde(default = "default_true")]
    pub enabled: bool,
}

/// A route through a backend service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendRoute {
    /// Backend id (or name; resolved to the id on load).
    pub id: String,
}

/// A plain HTTP route.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpRoute {
    /// Backend address, e.g. `http://orders.example.com`.
    pub address: String,
}

/// An API definition (the draft).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Api {
    /// Group id or name.
    pub group: String,
    /// API id; generated from group and name when empty.
    #[serde(default)]
    pub id: String,
    /// API name.
    pub name: String,
    /// Request method.
    #[serde(default = "default_method")]
    pub method: String,
    /// Request path; `/<name>` when empty.
    #[serde(default)]
    pub path: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// `PRIVATE` or `PUBLIC`.
    #[serde(default = "default_visibility")]
    pub visibility: String,
    /// Creation time.
    #[serde(default = "default_time")]
    pub created_time: String,
    /// Last modification of the draft.
    #[serde(default = "default_time")]
    pub modified_time: String,
    /// Where the draft routes.
    pub route: Route,
}

fn default_method() -> String {
    "GET".into()
}
fn default_visibility() -> String {
    "PRIVATE".into()
}

/// The version of an API live in one stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deployment {
    /// API id or name.
    pub api: String,
    /// `RELEASE`, `PRE` or `TEST`.
    pub stage: String,
    /// When it went live; the API's modification time when empty.
    #[serde(default)]
    pub deployed_time: String,
    /// Version id; derived from the deployed time when empty.
    #[serde(default)]
    pub version: String,
    /// Route as deployed; the draft's route when absent.
    #[serde(default)]
    pub route: Option<Route>,
}

/// An earlier published version of an API in one stage (OFFLINE unless it is the deployed one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryEntry {
    /// API id or name.
    pub api: String,
    /// Stage.
    pub stage: String,
    /// Version id; derived from the deployed time when empty.
    #[serde(default)]
    pub version: String,
    /// When the version was published.
    #[serde(default = "default_time")]
    pub deployed_time: String,
    /// Route of that version; the draft's route when absent.
    #[serde(default)]
    pub route: Option<Route>,
}

/// A backend service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backend {
    /// Backend id; generated from the name when empty.
    #[serde(default)]
    pub id: String,
    /// Name.
    pub name: String,
    /// `VPC`, `HTTP`, …
    #[serde(rename = "type", default = "default_backend_type")]
    pub backend_type: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Creation time.
    #[serde(default = "default_time")]
    pub created_time: String,
    /// Modification time.
    #[serde(default = "default_time")]
    pub modified_time: String,
    /// One model per stage.
    #[serde(default)]
    pub models: Vec<BackendModelDef>,
}

fn default_backend_type() -> String {
    "VPC".into()
}

/// A backend service's definition for one stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendModelDef {
    /// Stage.
    pub stage: String,
    /// Model id; generated when empty.
    #[serde(default)]
    pub id: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// The grant, for VPC models.
    #[serde(default)]
    pub vpc: Option<BackendVpc>,
    /// `BackendConfig.Type`; `VPC` when `vpc` is given, else `HTTP`. `VPC` without `vpc`
    /// serves a VPC model with no `VpcConfig`, a model whose grant cannot be read.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub model_type: Option<String>,
    /// Address, for HTTP models.
    #[serde(default)]
    pub address: Option<String>,
    /// Creation time.
    #[serde(default = "default_time")]
    pub created_time: String,
    /// Modification time.
    #[serde(default = "default_time")]
    pub modified_time: String,
}

/// The VpcConfig of a backend model. Missing keys are filled from the grant the others name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendVpc {
    /// Grant id.
    #[serde(default)]
    pub vpc_access_id: Option<String>,
    /// Grant name.
    #[serde(default)]
    pub name: Option<String>,
    /// VPC id.
    #[serde(default)]
    pub vpc_id: Option<String>,
    /// Instance id.
    #[serde(default)]
    pub instance_id: Option<String>,
    /// Port.
    #[serde(default)]
    pub port: Option<u16>,
    /// `HTTP` or `HTTPS`.
    #[serde(default = "default_scheme")]
    pub vpc_scheme: String,
    /// Host header.
    #[serde(default)]
    pub vpc_target_host_name: String,
}

fn default_scheme() -> String {
    "HTTP".into()
}

/// Entries added to or removed from the DescribeApisByVpcAccess answer, to emulate an index
/// that lags behind the deployments.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexAdjustments {
    /// Pairs the index reports although nothing routes there.
    #[serde(default)]
    pub extra: Vec<IndexEntry>,
    /// Pairs the index omits although they do route there.
    #[serde(default)]
    pub missing: Vec<IndexEntry>,
}

/// One (grant, API, stage) index entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexEntry {
    /// Grant name (the `VpcName` asked for).
    pub grant: String,
    /// API id or name.
    pub api: String,
    /// Stage.
    pub stage: String,
}

/// A fixture that could not be read or makes no sense.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum FixtureError {
    /// The file could not be read.
    #[error("cannot read fixture {path}")]
    #[diagnostic(code(grantguard::sim::fixture_unreadable))]
    Unreadable {
        /// File path.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The text is not a valid fixture.
    #[error("invalid fixture at line {line}, column {column}: {message}")]
    #[diagnostic(
        code(grantguard::sim::fixture_invalid),
        help("see docs/fixture-format.md for every key the fixture accepts")
    )]
    Invalid {
        /// What is wrong.
        message: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// A short window of the line around the error (never the file).
        #[source_code]
        source_code: Window,
        /// Where.
        #[label("{message}")]
        span: SourceSpan,
    },
}

/// Characters of a fixture's line shown on each side of an error.
const CONTEXT: usize = 60;

/// A piece of one line of a fixture, rendered by miette at the file's own line and column
/// (in bytes, as miette counts), with control characters shown as `?`: a damaged fixture
/// (one long line, binary junk) gives a short error, never the file.
#[derive(Debug, Clone)]
pub struct Window {
    name: String,
    text: String,
    line: usize,
    column: usize,
}

impl Window {
    fn around(name: &str, text: &str, offset: usize) -> (Window, SourceSpan) {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
        let from = text[line_start..offset]
            .char_indices()
            .rev()
            .nth(CONTEXT - 1)
            .map_or(line_start, |(i, _)| line_start + i);
        let to = text[offset..line_end]
            .char_indices()
            .nth(CONTEXT)
            .map_or(line_end, |(i, _)| offset + i);
        let piece: String = text[from..to]
            .chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect();
        let at = piece
            .char_indices()
            .nth(text[from..offset].chars().count())
            .map_or(piece.len(), |(i, _)| i);
        let len = piece[at..].chars().next().map_or(0, char::len_utf8);
        let window = Window {
            name: name.to_owned(),
            line: text[..line_start].matches('\n').count(),
            column: from - line_start,
            text: piece,
        };
        (window, SourceSpan::new(at.into(), len))
    }
}

impl miette::SourceCode for Window {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let inner = self
            .text
            .read_span(span, context_lines_before, context_lines_after)?;
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.name.clone(),
            inner.data(),
            *inner.span(),
            inner.line() + self.line,
            inner.column() + self.column,
            inner.line_count(),
        )))
    }
}

impl FixtureError {
    fn at(name: &str, text: &str, line: usize, column: usize, message: String) -> Self {
        let offset = SourceOffset::from_location(text, line, column.max(1)).offset();
        let (source_code, span) = Window::around(name, text, offset);
        let message: String = message
            .chars()
            .take(300)
            .map(|c| if c.is_control() { '?' } else { c })
            .collect();
        FixtureError::Invalid {
            message,
            line,
            column,
            source_code,
            span,
        }
    }

    /// An error about a value, pointed at the `nth` occurrence of `"value"` in the text (the
    /// typed model has no positions; the quoted value finds the place a person wrote it).
    fn about(name: &str, text: &str, value: &str, nth: usize, message: String) -> Self {
        let needle = serde_json::to_string(value).unwrap_or_default();
        let offset = text
            .match_indices(&needle)
            .nth(nth)
            .or_else(|| text.match_indices(&needle).next())
            .map(|(i, _)| i)
            .unwrap_or(0);
        let line = text[..offset].matches('\n').count() + 1;
        let column = offset - text[..offset].rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
        Self::at(name, text, line, column, message)
    }
}

/// A stable 32-hex id derived from what it names, so fixtures without ids still give the
/// same ids on every run (snapshots stay stable).
pub fn derived_id(kind: &str, key: &str) -> String {
    let digest = Sha256::digest(format!("{kind}:{key}").as_bytes());
    hex::encode(digest)[..32].to_owned()
}

/// A 17-digit version id (`yyyyMMddHHmmssSSS`) from an ISO time, as the service formats them.
pub fn version_from_time(time: &str) -> String {
    let mut digits: String = time.chars().filter(char::is_ascii_digit).collect();
    digits.truncate(17);
    while digits.len() < 17 {
        digits.push('0');
    }
    digits
}

impl Fixture {
    /// Reads and checks a fixture file.
    pub fn from_path(path: &Path) -> Result<Fixture, FixtureError> {
        let text = std::fs::read_to_string(path).map_err(|source| FixtureError::Unreadable {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&path.display().to_string(), &text)
    }

    /// Parses and checks fixture text.
    pub fn from_json(text: &str) -> Result<Fixture, FixtureError> {
        Self::parse("fixture.json", text)
    }

    fn parse(name: &str, text: &str) -> Result<Fixture, FixtureError> {
        let mut fixture: Fixture = serde_json::from_str(text).map_err(|e| {
            let message = e.to_string();
            // serde_json appends " at line L column C"; the label shows the place already.
            let message = message
                .rsplit_once(" at line ")
                .map(|(m, _)| m.to_owned())
                .unwrap_or(message);
            FixtureError::at(name, text, e.line(), e.column(), message)
        })?;
        fixture.normalize().map_err(|(value, nth, message)| {
            FixtureError::about(name, text, &value, nth, message)
        })?;
        Ok(fixture)
    }

    /// Fills defaults and resolves references; an error names the offending value, which
    /// occurrence of it, and what is wrong.
    fn normalize(&mut self) -> Result<(), Invalid> {
        self.check_stages()?;
        self.normalize_grants()?;
        self.normalize_groups()?;
        self.normalize_backends()?;
        self.normalize_apis()?;
        self.resolve_publications()
    }

    /// Every stage named anywhere is RELEASE, PRE or TEST.
    fn check_stages(&self) -> Result<(), Invalid> {
        for stage in self
            .deployments
            .iter()
            .map(|d| &d.stage)
            .chain(self.history.iter().map(|h| &h.stage))
            .chain(
                self.backends
                    .iter()
                    .flat_map(|b| b.models.iter().map(|m| &m.stage)),
            )
            .chain(self.groups.iter().flat_map(|g| g.stages.keys()))
            .chain(self.index.extra.iter().map(|e| &e.stage))
            .chain(self.index.missing.iter().map(|e| &e.stage))
        {
            if !STAGE_NAMES.contains(&stage.as_str()) {
                return invalid(
                    stage,
                    format!("unknown stage {stage:?}; expected RELEASE, PRE or TEST"),
                );
            }
        }
        Ok(())
    }

    /// Grant ids derived from name and port where not given; no two grants share one.
    fn normalize_grants(&mut self) -> Result<(), Invalid> {
        for grant in &mut self.grants {
            if grant.vpc_access_id.is_empty() {
                grant.vpc_access_id =
                    derived_id("grant", &format!("{}:{}", grant.name, grant.port));
            }
        }
        let mut ids = std::collections::HashSet::new();
        for grant in &self.grants {
            // Ids derived from name and port collide for two grants of one name and port
            // (names may repeat here, to emulate an ambiguous selector).
            if !ids.insert(&grant.vpc_access_id) {
                return Err((
                    grant.vpc_access_id.clone(),
                    1,
                    format!(
                        "two grants have the VpcAccessId {:?} (derived from name and port when not given); give each its own vpc_access_id",
                        grant.vpc_access_id
                    ),
                ));
            }
        }
        // Two grants may share (VpcId, InstanceId, Port) as long as their ids differ: the real
        // service can hold such accounts (grants made before a uniqueness check, or under
        // different names), and GG305 needs them. SetVpcAccess still refuses a new one.
        Ok(())
    }

    /// Group ids derived from names where not given, and an id for each of the three stages.
    fn normalize_groups(&mut self) -> Result<(), Invalid> {
        for group in &mut self.groups {
            if group.id.is_empty() {
                group.id = derived_id("group", &group.name);
            }
            for stage in STAGE_NAMES {
                if !group.stages.contains_key(stage) {
                    let id = derived_id("stage", &format!("{}:{stage}", group.id));
                    group.stages.insert(stage.to_owned(), id);
                }
            }
        }
        check_unique(self.groups.iter().map(|g| &g.id), "group id")
    }

    /// Backend and model ids derived where not given, and each model's VPC reference
    /// completed from the grant it names (by id or name).
    fn normalize_backends(&mut self) -> Result<(), Invalid> {
        for backend in &mut self.backends {
            if backend.id.is_empty() {
                backend.id = derived_id("backend", &backend.name);
            }
            for model in &mut backend.models {
                if model.id.is_empty() {
                    model.id =
                        derived_id("backend-model", &format!("{}:{}", backend.id, model.stage));
                }
                if let Some(vpc) = &mut model.vpc {
                    let grant = self.grants.iter().find(|g| {
                        vpc.vpc_access_id.as_deref() == Some(g.vpc_access_id.as_str())
                            || vpc.name.as_deref() == Some(g.name.as_str())
                    });
                    if let Some(g) = grant {
                        vpc.vpc_access_id
                            .get_or_insert_with(|| g.vpc_access_id.clone());
                        vpc.name.get_or_insert_with(|| g.name.clone());
                        vpc.vpc_id.get_or_insert_with(|| g.vpc_id.clone());
                        vpc.instance_id.get_or_insert_with(|| g.instance_id.clone());
                        vpc.port.get_or_insert(g.port);
                    }
                }
            }
        }
        check_unique(self.backends.iter().map(|b| &b.id), "backend id")
    }

    /// Each API's group resolved to its id, and the API's id and path derived where not given.
    fn normalize_apis(&mut self) -> Result<(), Invalid> {
        let groups = self.groups.clone();
        for api in &mut self.apis {
            let Some(group) = groups
                .iter()
                .find(|g| g.id == api.group || g.name == api.group)
            else {
                return invalid(
                    &api.group,
                    format!("no group has id or name {:?}", api.group),
                );
            };
            api.group = group.id.clone();
            if api.id.is_empty() {
                api.id = derived_id("api", &format!("{}:{}", group.id, api.name));
            }
            if api.path.is_empty() {
                api.path = format!("/{}", api.name);
            }
        }
        check_unique(self.apis.iter().map(|a| &a.id), "API id")
    }

    /// Routes resolved for APIs, deployments and history (a deployment or version without its
    /// own route takes the API's), the APIs they and the index name resolved to ids, and
    /// at most one deployment per API and stage.
    fn resolve_publications(&mut self) -> Result<(), Invalid> {
        for api in &mut self.apis {
            resolve_route(&mut api.route, &self.grants, &self.backends)?;
        }
        let apis = self.apis.clone();
        for d in &mut self.deployments {
            let api = resolve_api(&apis, &d.api)?;
            d.api = api.id.clone();
            if d.deployed_time.is_empty() {
                d.deployed_time = api.modified_time.clone();
            }
            if d.version.is_empty() {
                d.version = version_from_time(&d.deployed_time);
            }
            let mut route = d.route.take().unwrap_or(api.route.clone());
            resolve_route(&mut route, &self.grants, &self.backends)?;
            d.route = Some(route);
        }
        let mut live = std::collections::HashSet::new();
        for d in &self.deployments {
            if !live.insert((&d.api, &d.stage)) {
                return invalid(
                    &d.api,
                    format!("API {:?} is deployed twice in {}", d.api, d.stage),
                );
            }
        }
        for h in &mut self.history {
            let api = resolve_api(&apis, &h.api)?;
            h.api = api.id.clone();
            if h.version.is_empty() {
                h.version = version_from_time(&h.deployed_time);
            }
            let mut route = h.route.take().unwrap_or(api.route.clone());
            resolve_route(&mut route, &self.grants, &self.backends)?;
            h.route = Some(route);
        }
        for e in self
            .index
            .extra
            .iter_mut()
            .chain(self.index.missing.iter_mut())
        {
            e.api = resolve_api(&apis, &e.api)?.id;
        }
        Ok(())
    }
}

/// What is wrong with a fixture: the offending value, which occurrence of it, and why.
type Invalid = (String, usize, String);

fn invalid<T>(value: &str, message: String) -> Result<T, Invalid> {
    Err((value.to_owned(), 0, message))
}

/// The API `key` names: by id, else by a name only one API has.
fn resolve_api(apis: &[Api], key: &str) -> Result<Api, Invalid> {
    let found: Vec<&Api> = apis.iter().filter(|a| a.id == key).collect();
    let found = if found.is_empty() {
        apis.iter().filter(|a| a.name == key).collect()
    } else {
        found
    };
    match found.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err((key.to_owned(), 0, format!("no API has id or name {key:?}"))),
        _ => Err((
            key.to_owned(),
            0,
            format!("API name {key:?} is ambiguous; use the id"),
        )),
    }
}

fn check_unique<'a>(ids: impl Iterator<Item = &'a String>, what: &str) -> Result<(), Invalid> {
    let mut seen = std::collections::HashSet::new();
    for id in ids {
        if !seen.insert(id) {
            return Err((id.clone(), 1, format!("duplicate {what} {id:?}")));
        }
    }
    Ok(())
}

/// [`resolve_route`] for routes added at run time by test hooks: a route that cannot be
/// resolved is kept as written (a dangling reference is data).
pub(crate) fn fill_route(route: &mut Route, grants: &[Grant], backends: &[Backend]) {
    let _ = resolve_route(route, grants, backends);
}

/// Fills a VPC route's missing keys from the grant it names, and turns a backend name into its
/// id. A route naming no existing grant stays as written (a dangling reference is data).
fn resolve_route(route: &mut Route, grants: &[Grant], backends: &[Backend]) -> Result<(), Invalid> {
    match route {
        Route::Vpc(vpc) => {
            let grant = grants.iter().find(|g| {
                vpc.name.as_deref() == Some(g.name.as_str())
                    || (vpc.vpc_id.as_deref() == Some(g.vpc_id.as_str())
                        && vpc.instance_id.as_deref() == Some(g.instance_id.as_str())
                        && vpc.port == Some(g.port))
            });
            if let Some(g) = grant {
                vpc.name.get_or_insert_with(|| g.name.clone());
                vpc.vpc_id.get_or_insert_with(|| g.vpc_id.clone());
                vpc.instance_id.get_or_insert_with(|| g.instance_id.clone());
                vpc.port.get_or_insert(g.port);
            } else if vpc.name.is_none() && vpc.vpc_id.is_none() {
                return Err((
                    "vpc".into(),
                    0,
                    "a vpc route needs a grant name or a (vpc_id, instance_id, port) tuple".into(),
                ));
            }
        }
        Route::Backend(b) => {
            let Some(backend) = backends.iter().find(|x| x.id == b.id || x.name == b.id) else {
                return Err((
                    b.id.clone(),
                    0,
                    format!("no backend has id or name {:?}", b.id),
                ));
            };
            b.id = backend.id.clone();
        }
        Route::Http(_) => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_is_reported_at_its_line() {
        let text = "{\n  \"region\": \"cn-hangzhou\",\n  \"grantz\": []\n}";
        let err = Fixture::from_json(text).unwrap_err();
        match err {
            FixtureError::Invalid { line, message, .. } => {
                assert_eq!(line, 3);
                assert!(message.contains("grantz"), "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn dangling_group_is_reported_where_it_is_written() {
        let text = r#"{
  "groups": [{"name": "orders"}],
  "apis": [
    {"group": "nope", "name": "getOrder", "route": {"http": {"address": "http://x"}}}
  ]
}"#;
        let err = Fixture::from_json(text).unwrap_err();
        match err {
            FixtureError::Invalid {
                line,
                column,
                message,
                ..
            } => {
                assert_eq!((line, column), (4, 15), "{message}");
                assert!(message.contains("nope"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn defaults_are_filled_and_routes_resolved() {
        let text = r#"{
  "grants": [{"name": "g1", "vpc_id": "vpc-1", "instance_id": "i-1", "port": 80}],
  "groups": [{"name": "orders", "stages": {"RELEASE": "rel-id"}}],
  "apis": [{"group": "orders", "name": "getOrder", "route": {"vpc": {"name": "g1"}}}],
  "deployments": [{"api": "getOrder", "stage": "RELEASE", "deployed_time": "2024-04-02T10:15:00Z"}]
}"#;
        let f = Fixture::from_json(text).unwrap();
        assert_eq!(f.groups[0].stages["RELEASE"], "rel-id");
        assert_eq!(f.groups[0].stages.len(), 3);
        assert_eq!(f.deployments[0].version, "20240402101500000");
        assert_eq!(f.deployments[0].api, f.apis[0].id);
        let Some(Route::Vpc(v)) = &f.deployments[0].route else {
            panic!()
        };
        assert_eq!((v.vpc_id.as_deref(), v.port), (Some("vpc-1"), Some(80)));
        assert_eq!(f.grants[0].vpc_access_id.len(), 32);
    }

    #[test]
    fn two_grants_with_one_id_are_refused_even_when_it_is_derived_but_may_share_a_tuple() {
        // Same name and port on two instances: the derived ids would collide.
        let same_name = r#"{"grants": [
  {"name": "g1", "vpc_id": "vpc-1", "instance_id": "i-1", "port": 80},
  {"name": "g1", "vpc_id": "vpc-1", "instance_id": "i-2", "port": 80}]}"#;
        let err = Fixture::from_json(same_name).unwrap_err().to_string();
        assert!(err.contains("derived from name and port"), "{err}");
        // Same name on another port: ids differ, and an ambiguous name is allowed.
        let other_port = same_name.replacen("\"port\": 80}]", "\"port\": 81}]", 1);
        assert!(Fixture::from_json(&other_port).is_ok());
        // One tuple, two ids: allowed (GG305 shared-tuple needs such accounts).
        let same_tuple = r#"{"grants": [
  {"name": "g1", "vpc_id": "vpc-1", "instance_id": "i-1", "port": 80},
  {"name": "g2", "vpc_id": "vpc-1", "instance_id": "i-1", "port": 80}]}"#;
        let fixture = Fixture::from_json(same_tuple).expect("a shared tuple loads");
        assert_ne!(
            fixture.grants[0].vpc_access_id,
            fixture.grants[1].vpc_access_id
        );
        let same_id = r#"{"grants": [
  {"name": "g1", "vpc_id": "vpc-1", "instance_id": "i-1", "port": 80, "vpc_access_id": "va-1"},
  {"name": "g2", "vpc_id": "vpc-1", "instance_id": "i-2", "port": 80, "vpc_access_id": "va-1"}]}"#;
        let err = Fixture::from_json(same_id).unwrap_err().to_string();
        assert!(
            err.contains("two grants have the VpcAccessId \"va-1\""),
            "{err}"
        );
    }
}

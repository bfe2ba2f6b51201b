//! The inventory: everything the walk read from one region, in domain words, plus the gaps
//! where it could not read. It is the typed boundary between the network stages and the pure
//! ones: the graph is built from an `Inventory` and nothing else, and `scan` saves it as a
//! versioned snapshot. No type here knows about HTTP or the vendor's JSON shapes.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;
use time::OffsetDateTime;

/// Schema tag of a saved inventory; a snapshot with any other tag is refused.
pub const SCHEMA: &str = "grantguard.inventory/v2";

macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }
        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }
        impl $name {
            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    )*};
}

id_type!(
    /// A region id such as `cn-hangzhou`.
    RegionId,
    /// A VPC id (`vpc-…`).
    VpcId,
    /// An ECS or SLB instance id (or an address) inside the VPC.
    InstanceId,
    /// The service-assigned id of a grant.
    VpcAccessId,
    /// An API group id.
    GroupId,
    /// An API id.
    ApiId,
    /// A backend service id.
    BackendId,
);

/// The tuple that addresses a grant in RemoveVpcAccess.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantKey {
    /// VPC id.
    pub vpc_id: VpcId,
    /// Instance id.
    pub instance_id: InstanceId,
    /// Port.
    pub port: u16,
}

impl fmt::Display for GrantKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}:{}", self.vpc_id, self.instance_id, self.port)
    }
}

/// A VPC access authorization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// Service-assigned id.
    pub id: VpcAccessId,
    /// Name, unique per account and region.
    pub name: String,
    /// The tuple RemoveVpcAccess uses.
    pub key: GrantKey,
    /// Description (needed to re-create the grant).
    #[serde(default)]
    pub description: String,
    /// Host header sent to the target (needed to re-create the grant).
    #[serde(default)]
    pub vpc_target_host_name: String,
    /// Creation time as the service reported it.
    #[serde(default)]
    pub created_time: String,
}

/// A stage, spelled the vendor's way on the wire and in snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Stage {
    /// Production.
    Release,
    /// Pre-release.
    Pre,
    /// Test.
    Test,
}

impl Stage {
    /// All stages, production first.
    pub const ALL: [Stage; 3] = [Stage::Release, Stage::Pre, Stage::Test];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Release => "RELEASE",
            Stage::Pre => "PRE",
            Stage::Test => "TEST",
        }
    }

    /// Parses a wire name (case-insensitive).
    pub fn parse(name: &str) -> Option<Stage> {
        Stage::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(name.trim()))
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stage of a group with the id the service gave it (RemoveVpcAccess answers in ids).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupStage {
    /// Stage id.
    pub id: String,
    /// Stage name.
    pub stage: Stage,
}

/// An API group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// Group id.
    pub id: GroupId,
    /// Group name.
    pub name: String,
    /// Stages and their ids.
    pub stages: Vec<GroupStage>,
    /// Last modification.
    #[serde(default)]
    pub modified_time: String,
}

/// Who an API is, the way operators search for it: `GroupName/ApiName (METHOD /path)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiIdentity {
    /// Group id.
    pub group_id: GroupId,
    /// Group name.
    pub group_name: String,
    /// API id.
    pub api_id: ApiId,
    /// API name.
    pub api_name: String,
    /// Request method.
    pub method: String,
    /// Request path.
    pub path: String,
}

impl fmt::Display for ApiIdentity {
    /// `GroupName/ApiName (METHOD /path)`, written piece by piece: through `write!` each
    /// name would pass the formatter's padding logic, and a large report writes this text
    /// about half a million times.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for piece in [
            &self.group_name,
            "/",
            &self.api_name,
            " (",
            &self.method,
            " ",
            &self.path,
            ")",
        ] {
            f.write_str(piece)?;
        }
        Ok(())
    }
}

/// An API identity shared by every record that names it: an account of 100,000 APIs has
/// several records per API, and each would otherwise carry its own six strings.
pub type ApiRef = Arc<ApiIdentity>;

/// A reference to a grant as an API definition or a backend model writes it. Any key may be
/// missing; matching against grants happens in the graph, not here.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct VpcRef {
    /// `VpcConfig.Name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `VpcConfig.VpcId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<VpcId>,
    /// `VpcConfig.InstanceId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<InstanceId>,
    /// `VpcConfig.Port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// `VpcConfig.VpcAccessId` (backend models only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_access_id: Option<VpcAccessId>,
    /// False when `ServiceVpcEnable` is off although a `VpcConfig` is present: a dormant
    /// reference, still reported because the next edit can revive it.
    pub enabled: bool,
}

impl VpcRef {
    /// Whether the reference carries a key a grant can be found by: a name, a VpcAccessId or
    /// the whole (VpcId, InstanceId, Port) tuple. A part of the tuple alone matches no grant,
    /// so a reference with nothing more says "some grant" without saying which: a gap.
    pub fn has_key(&self) -> bool {
        self.name.is_some()
            || self.vpc_access_id.is_some()
            || (self.vpc_id.is_some() && self.instance_id.is_some() && self.port.is_some())
    }
}

/// Where an API definition sends traffic. Read by its own [`Deserialize`] (below).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Route {
    /// Straight through a VPC grant (`ServiceConfig.VpcConfig`).
    Vpc {
        /// The reference (boxed: most routes are not VPC routes, and an inline reference
        /// would make every route as large as one).
        vpc: Box<VpcRef>,
    },
    /// Through a backend service, whose model for the stage decides the target.
    Backend {
        /// Backend id.
        backend_id: BackendId,
    },
    /// Somewhere that is not a VPC grant (HTTP address, Function Compute, mock, …).
    Other,
    /// The definition uses a backend service but could not say which one (a deployed
    /// definition whose ONLINE history could not be read). Treated as "could be any grant".
    Unresolved,
}

/// Reads a route as a flat object: every field into its slot in whatever order they come,
/// then the kind decides which are allowed. The derived reader of an internally tagged enum
/// first copies each route into a buffer of its own to find the tag, and a large snapshot has
/// over half a million routes (docs/performance.md). It takes what the derive takes, but
/// refuses what the derive ignores: other fields beside a kind that has none.
impl<'de> Deserialize<'de> for Route {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(RouteVisitor)
    }
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum RouteField {
    Kind,
    Vpc,
    BackendId,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum RouteKind {
    Vpc,
    Backend,
    Other,
    Unresolved,
}

struct RouteVisitor;

impl<'de> serde::de::Visitor<'de> for RouteVisitor {
    type Value = Route;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a route: an object with `kind` and that kind's fields")
    }

    fn visit_map<M: serde::de::MapAccess<'de>>(self, mut map: M) -> Result<Route, M::Error> {
        use serde::de::Error;
        let (mut kind, mut vpc, mut backend_id) = (None, None, None);
        while let Some(field) = map.next_key()? {
            match field {
                RouteField::Kind if kind.is_some() => {
                    return Err(M::Error::duplicate_field("kind"))
                }
                RouteField::Kind => kind = Some(map.next_value::<RouteKind>()?),
                RouteField::Vpc if vpc.is_some() => return Err(M::Error::duplicate_field("vpc")),
                RouteField::Vpc => vpc = Some(map.next_value::<Box<VpcRef>>()?),
                RouteField::BackendId if backend_id.is_some() => {
                    return Err(M::Error::duplicate_field("backend_id"))
                }
                RouteField::BackendId => backend_id = Some(map.next_value::<BackendId>()?),
            }
        }
        // A field that belongs to another kind is unknown to this one, as with the derive.
        let foreign = |name: &'static str, expected: &'static [&'static str]| {
            Err(M::Error::unknown_field(name, expected))
        };
        match kind.ok_or_else(|| M::Error::missing_field("kind"))? {
            RouteKind::Vpc if backend_id.is_some() => foreign("backend_id", &["vpc"]),
            RouteKind::Vpc => Ok(Route::Vpc {
                vpc: vpc.ok_or_else(|| M::Error::missing_field("vpc"))?,
            }),
            RouteKind::Backend if vpc.is_some() => foreign("vpc", &["backend_id"]),
            RouteKind::Backend => Ok(Route::Backend {
                backend_id: backend_id.ok_or_else(|| M::Error::missing_field("backend_id"))?,
            }),
            RouteKind::Other | RouteKind::Unresolved if vpc.is_some() => foreign("vpc", &[]),
            RouteKind::Other | RouteKind::Unresolved if backend_id.is_some() => {
                foreign("backend_id", &[])
            }
            RouteKind::Other => Ok(Route::Other),
            RouteKind::Unresolved => Ok(Route::Unresolved),
        }
    }
}

/// A draft API definition (DescribeApi).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiDraft<A = ApiRef> {
    /// Who the API is (a shared [`ApiRef`] in memory, an index into the `apis` table in a
    /// snapshot).
    pub api: A,
    /// Last modification of the draft, from the listing.
    #[serde(default)]
    pub modified_time: String,
    /// Where the draft sends traffic.
    pub route: Route,
}

/// An API deployed to a stage (DescribeDeployedApi, plus the ONLINE history version when
/// the deployed definition cannot show a backend service).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deployment<A = ApiRef> {
    /// Who the API is (a shared [`ApiRef`] in memory, an index into the `apis` table in a
    /// snapshot).
    pub api: A,
    /// Stage it is live in.
    pub stage: Stage,
    /// When it went live.
    #[serde(default)]
    pub deployed_time: String,
    /// Version effective in the stage, when the listing gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_version: Option<String>,
    /// Where live traffic goes.
    pub route: Route,
}

/// A published version a rollback could reach (DescribeApiHistory).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoricalVersion<A = ApiRef> {
    /// Who the API is (a shared [`ApiRef`] in memory, an index into the `apis` table in a
    /// snapshot).
    pub api: A,
    /// Stage it was published to.
    pub stage: Stage,
    /// Version id.
    pub version: String,
    /// True for the version effective now.
    pub online: bool,
    /// When it was published.
    #[serde(default)]
    pub deployed_time: String,
    /// Where that version sent traffic.
    pub route: Route,
}

impl<A> ApiDraft<A> {
    /// The same draft with another kind of API reference.
    pub fn with_api<B>(self, api: B) -> ApiDraft<B> {
        ApiDraft {
            api,
            modified_time: self.modified_time,
            route: self.route,
        }
    }
}

impl<A> Deployment<A> {
    /// The same deployment with another kind of API reference.
    pub fn with_api<B>(self, api: B) -> Deployment<B> {
        Deployment {
            api,
            stage: self.stage,
            deployed_time: self.deployed_time,
            effective_version: self.effective_version,
            route: self.route,
        }
    }
}

impl<A> HistoricalVersion<A> {
    /// The same version with another kind of API reference.
    pub fn with_api<B>(self, api: B) -> HistoricalVersion<B> {
        HistoricalVersion {
            api,
            stage: self.stage,
            version: self.version,
            online: self.online,
            deployed_time: self.deployed_time,
            route: self.route,
        }
    }
}

/// A backend service's model for one stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendModel {
    /// Stage the model applies to.
    pub stage: Stage,
    /// The grant, when the model is of type VPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc: Option<VpcRef>,
}

/// An API that DescribeApisByBackend says uses a backend (in a stage, or as a draft).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendUser {
    /// Group id.
    pub group_id: GroupId,
    /// API id.
    pub api_id: ApiId,
    /// Stage, or `None` for drafts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<Stage>,
}

/// A backend service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backend {
    /// Backend id.
    pub id: BackendId,
    /// Backend name.
    pub name: String,
    /// Backend type (`VPC`, `HTTP`, …).
    pub backend_type: String,
    /// One model per stage.
    pub models: Vec<BackendModel>,
    /// APIs the service says use it.
    #[serde(default)]
    pub users: Vec<BackendUser>,
}

/// One (API, stage) that the service's own index (DescribeApisByVpcAccess) lists for a grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexedUse {
    /// The grant the index was asked about.
    pub grant: VpcAccessId,
    /// Group id.
    pub group_id: GroupId,
    /// Group name.
    #[serde(default)]
    pub group_name: String,
    /// API id.
    pub api_id: ApiId,
    /// API name.
    #[serde(default)]
    pub api_name: String,
    /// Stage.
    pub stage: Stage,
}

/// Part of the account the walk could not read. A gap makes every verdict it could affect
/// `unknown`: all grants, unless `grant` narrows it to one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gap {
    /// What was not read: `region`, `group:ID`, `group:ID/stage:S`, `api:ID`, `backend:ID`, …
    pub scope: String,
    /// The action that failed.
    pub action: String,
    /// The service's error code, or ours (`PagingDrift`, `MalformedResponse`, `Timeout`, …).
    pub code: String,
    /// What happened, for people.
    pub message: String,
    /// Set when only this grant's verdict depends on the missing part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<VpcAccessId>,
}

/// Everything read from one region. Its JSON form (the snapshot file, with each API identity
/// written once in an `apis` table) is in [`super::snapshot`].
#[derive(Debug, Clone, PartialEq)]
pub struct Inventory {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// When the walk finished.
    pub taken_at: OffsetDateTime,
    /// The region walked.
    pub region: RegionId,
    /// Grants.
    pub grants: Vec<Grant>,
    /// Groups and their stages.
    pub groups: Vec<Group>,
    /// Draft definitions.
    pub drafts: Vec<ApiDraft>,
    /// Deployed definitions.
    pub deployments: Vec<Deployment>,
    /// Historical versions.
    pub history: Vec<HistoricalVersion>,
    /// Backend services.
    pub backends: Vec<Backend>,
    /// The service's usage index per grant.
    pub index: Vec<IndexedUse>,
    /// What could not be read.
    pub gaps: Vec<Gap>,
}

impl Inventory {
    /// An empty inventory of `region`, taken now.
    pub fn new(region: RegionId) -> Self {
        Inventory {
            schema: SCHEMA.to_owned(),
            taken_at: OffsetDateTime::now_utc(),
            region,
            grants: Vec::new(),
            groups: Vec::new(),
            drafts: Vec::new(),
            deployments: Vec::new(),
            history: Vec::new(),
            backends: Vec::new(),
            index: Vec::new(),
            gaps: Vec::new(),
        }
    }

    /// True when nothing was missed.
    pub fn is_complete(&self) -> bool {
        self.gaps.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `Route` as the derive reads it: the reference the hand-written reader is held to.
    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
    enum Derived {
        Vpc { vpc: Box<VpcRef> },
        Backend { backend_id: BackendId },
        Other,
        Unresolved,
    }

    impl From<Derived> for Route {
        fn from(d: Derived) -> Route {
            match d {
                Derived::Vpc { vpc } => Route::Vpc { vpc },
                Derived::Backend { backend_id } => Route::Backend { backend_id },
                Derived::Other => Route::Other,
                Derived::Unresolved => Route::Unresolved,
            }
        }
    }

    fn field() -> impl Strategy<Value = (&'static str, &'static str)> {
        prop_oneof![
            Just(("kind", r#""vpc""#)),
            Just(("kind", r#""backend""#)),
            Just(("kind", r#""other""#)),
            Just(("kind", r#""unresolved""#)),
            Just(("kind", r#""http""#)),
            Just(("kind", "7")),
            Just(("vpc", r#"{"name":"g","enabled":true}"#)),
            Just(("vpc", r#"{"enabled":true,"colour":1}"#)),
            Just(("vpc", r#""g""#)),
            Just(("backend_id", r#""b-1""#)),
            Just(("backend_id", "null")),
            Just(("colour", r#""red""#)),
        ]
    }

    proptest! {
        /// Any object of route fields, in any order, with repeats, unknown fields and wrong
        /// types: read or refused exactly as the derive would, but for one case. The derive
        /// ignores every other field of a kind without fields (`{"kind":"other","vpc":…}`
        /// reads as `Other`); a route that says two things is refused instead.
        #[test]
        fn a_route_is_read_as_the_derive_reads_it(fields in prop::collection::vec(field(), 0..5)) {
            let body: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
            let text = format!("{{{}}}", body.join(","));
            let ours = serde_json::from_str::<Route>(&text);
            let derived = serde_json::from_str::<Derived>(&text).map(Route::from);
            let says_more = fields.len() > 1;
            if matches!(derived, Ok(Route::Other | Route::Unresolved)) && says_more {
                prop_assert!(ours.is_err(), "{}: {:?}", text, ours);
                return Ok(());
            }
            prop_assert_eq!(ours.is_ok(), derived.is_ok(), "{}: {:?} / {:?}", text, ours, derived);
            if let (Ok(ours), Ok(derived)) = (ours, derived) {
                prop_assert_eq!(ours, derived);
            }
        }
    }

    #[test]
    fn a_route_that_is_not_an_object_is_refused() {
        for text in [r#""vpc""#, "[]", "null", "3"] {
            assert!(serde_json::from_str::<Route>(text).is_err(), "{text}");
        }
    }

    #[test]
    fn every_route_reads_back_as_written() {
        let vpc = VpcRef {
            name: Some("g".into()),
            port: Some(80),
            enabled: true,
            ..VpcRef::default()
        };
        for route in [
            Route::Vpc { vpc: Box::new(vpc) },
            Route::Backend {
                backend_id: "b-1".into(),
            },
            Route::Other,
            Route::Unresolved,
        ] {
            let text = serde_json::to_string(&route).unwrap();
            assert_eq!(
                serde_json::from_str::<Route>(&text).unwrap(),
                route,
                "{text}"
            );
        }
    }
}

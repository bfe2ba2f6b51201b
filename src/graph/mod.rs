//! Builds the dependency graph from an [`Inventory`]. Nodes are grants, draft definitions,
//! deployments (API × stage), backend stage models, offline historical versions and
//! "dangling" targets (references that match no grant). Edges record which user routes
//! through which grant, and by which key it matched (name, tuple or id).
//!
//! In: an `Inventory`. Out: a [`Graph`] that rules question by grant
//! (`graph.deployments_through(grant)`); no `NodeIndex` leaves this module. It makes no
//! network call and never reads the clock. Anything the walk could not resolve (an
//! `Unresolved` route, a backend the walk never read, a VPC config with no key) becomes a
//! coverage gap, so it can only make verdicts `unknown`, never `safe`.

pub mod render;

use crate::inventory::{
    ApiDraft, ApiId, ApiIdentity, BackendId, BackendUser, Deployment, Gap, Grant, GroupId,
    HistoricalVersion, Inventory, RegionId, Route, Stage, VpcAccessId, VpcRef,
};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use petgraph::Direction;
use std::collections::HashMap;
use std::fmt;
use time::OffsetDateTime;

/// One thing in the account that can depend on a grant, or the grant itself.
#[derive(Debug, Clone)]
pub enum Node {
    /// A VPC access authorization.
    Grant(Grant),
    /// A draft API definition.
    Draft(ApiDraft),
    /// An API live in one stage.
    Deployment(Deployment),
    /// A backend service's model for one stage.
    BackendModel(BackendModelNode),
    /// An offline historical version a rollback could reach.
    History(HistoricalVersion),
    /// A reference target that matches no grant.
    Dangling(VpcRef),
}

/// A backend service's model for one stage, with the users the service listed for it.
#[derive(Debug, Clone)]
pub struct BackendModelNode {
    /// Backend id.
    pub backend_id: BackendId,
    /// Backend name.
    pub backend_name: String,
    /// Stage the model applies to.
    pub stage: Stage,
    /// The grant reference, when the model is of type VPC.
    pub vpc: Option<VpcRef>,
    /// APIs DescribeApisByBackend listed as using the backend in this stage.
    pub listed_users: Vec<BackendUser>,
}

/// How two nodes are related.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    /// The source sends traffic through the target grant (or dangling target).
    RoutesThrough(Match),
    /// The source (an API) uses the target backend model.
    UsesBackend,
}

/// Which keys of a reference matched a grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Match {
    /// `VpcConfig.Name` equals the grant name.
    pub by_name: bool,
    /// (VpcId, InstanceId, Port) equals the grant's tuple.
    pub by_tuple: bool,
    /// `VpcConfig.VpcAccessId` equals the grant id.
    pub by_id: bool,
    /// A key that is present disagrees with the grant although another key matched.
    pub mismatch: bool,
    /// The VPC config is present but not enabled (`ServiceVpcEnable` is not `TRUE`).
    pub dormant: bool,
}

impl Match {
    /// The matching keys in words, e.g. `name and tuple`.
    pub fn keys(&self) -> String {
        let keys: Vec<&str> = [
            (self.by_name, "name"),
            (self.by_tuple, "tuple"),
            (self.by_id, "id"),
        ]
        .into_iter()
        .filter_map(|(on, word)| on.then_some(word))
        .collect();
        keys.join(" and ")
    }
}

/// Compares a reference with a grant: any matching key links them (DESIGN.md "What
/// references a grant"); tuple fields compare exactly and the port numerically.
fn match_reference(reference: &VpcRef, grant: &Grant) -> Option<Match> {
    let name = reference.name.as_ref().map(|n| *n == grant.name);
    let tuple_present =
        reference.vpc_id.is_some() || reference.instance_id.is_some() || reference.port.is_some();
    let tuple = tuple_present.then(|| {
        reference.vpc_id.as_ref() == Some(&grant.key.vpc_id)
            && reference.instance_id.as_ref() == Some(&grant.key.instance_id)
            && reference.port == Some(grant.key.port)
    });
    let id = reference.vpc_access_id.as_ref().map(|i| *i == grant.id);
    let keys = [name, tuple, id];
    if !keys.contains(&Some(true)) {
        return None;
    }
    Some(Match {
        by_name: name == Some(true),
        by_tuple: tuple == Some(true),
        by_id: id == Some(true),
        mismatch: keys.contains(&Some(false)),
        dormant: !reference.enabled,
    })
}

fn has_keys(reference: &VpcRef) -> bool {
    reference.name.is_some()
        || reference.vpc_id.is_some()
        || reference.instance_id.is_some()
        || reference.port.is_some()
        || reference.vpc_access_id.is_some()
}

/// A reference in words, the way the config wrote it.
pub fn describe_reference(reference: &VpcRef) -> String {
    let mut parts = Vec::new();
    if let Some(name) = &reference.name {
        parts.push(format!("name {name}"));
    }
    if reference.vpc_id.is_some() || reference.instance_id.is_some() || reference.port.is_some() {
        let show = |v: Option<&str>| v.unwrap_or("?").to_owned();
        parts.push(format!(
            "tuple {}/{}:{}",
            show(reference.vpc_id.as_ref().map(|v| v.as_str())),
            show(reference.instance_id.as_ref().map(|v| v.as_str())),
            reference
                .port
                .map(|p| p.to_string())
                .unwrap_or_else(|| "?".into())
        ));
    }
    if let Some(id) = &reference.vpc_access_id {
        parts.push(format!("id {id}"));
    }
    parts.join(", ")
}

/// What kind of thing depends on a grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum UserKind {
    /// An API live in a stage.
    Deployment,
    /// A draft definition.
    Draft,
    /// An offline historical version.
    History,
    /// A backend stage model itself.
    Backend,
}

/// The user at the far end of a dependency path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// What it is.
    pub kind: UserKind,
    /// The API, for deployments, drafts and history.
    pub api: Option<ApiIdentity>,
    /// The stage, for deployments, history and backend models.
    pub stage: Option<Stage>,
    /// The version id, for history.
    pub version: Option<String>,
    /// The backend, for backend models.
    pub backend: Option<BackendHop>,
}

impl User {
    fn of_api(kind: UserKind, api: &ApiIdentity, stage: Option<Stage>) -> User {
        User {
            kind,
            api: Some(api.clone()),
            stage,
            version: None,
            backend: None,
        }
    }

    /// Group id, when the user is an API.
    pub fn group_id(&self) -> Option<&GroupId> {
        self.api.as_ref().map(|a| &a.group_id)
    }

    /// API id, when the user is an API.
    pub fn api_id(&self) -> Option<&ApiId> {
        self.api.as_ref().map(|a| &a.api_id)
    }
}

impl fmt::Display for User {
    /// `GroupName/ApiName (METHOD /path) @ STAGE`, the way operators search for it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.api, &self.backend) {
            (Some(api), _) => write!(f, "{api}")?,
            (None, Some(backend)) => write!(f, "backend {} ({})", backend.name, backend.id)?,
            (None, None) => f.write_str("unknown user")?,
        }
        if self.kind == UserKind::Draft {
            f.write_str(" [draft]")?;
        }
        if let Some(version) = &self.version {
            write!(f, " version {version}")?;
        }
        if let Some(stage) = self.stage {
            write!(f, " @ {stage}")?;
        }
        Ok(())
    }
}

/// A backend stage model on a dependency path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendHop {
    /// Backend id.
    pub id: BackendId,
    /// Backend name.
    pub name: String,
    /// Stage of the model.
    pub stage: Stage,
}

/// One dependency of a user on a grant: grant ← (backend model@stage ←) user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    /// The grant depended on.
    pub grant: VpcAccessId,
    /// Its name.
    pub grant_name: String,
    /// Who depends on it.
    pub user: User,
    /// The backend model in between, when the route goes through a backend service.
    pub backend: Option<BackendHop>,
    /// Which keys matched.
    pub matched: Match,
}

impl Usage {
    /// The dependency path, grant first: `grant ← backend model@stage ← API@stage`.
    pub fn path(&self) -> Vec<String> {
        let mut path = vec![format!("grant {} ({})", self.grant_name, self.grant)];
        if let Some(hop) = &self.backend {
            path.push(format!(
                "backend {} ({}) model @ {}",
                hop.name, hop.id, hop.stage
            ));
        }
        if self.user.kind != UserKind::Backend {
            path.push(self.user.to_string());
        }
        path
    }
}

/// A backend stage model that routes through a grant, with the deployed APIs using it there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelUse {
    /// The model's own dependency on the grant.
    pub usage: Usage,
    /// APIs deployed in the model's stage that use the backend.
    pub deployed: Vec<User>,
}

/// One (API, stage) of the service's usage index for a grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexUse {
    /// The API as the index named it, in the stage.
    pub user: User,
    /// True when the walk found the same (API, stage) routing through the grant.
    pub found_by_walk: bool,
}

/// A reference to a grant that does not exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DanglingUse {
    /// Who holds the reference.
    pub user: User,
    /// The backend model in between, when the reference is reached through one.
    pub backend: Option<BackendHop>,
    /// The reference.
    pub target: VpcRef,
}

/// The dependency graph of one inventory, plus every gap that limits what it can tell.
#[derive(Debug, Clone)]
pub struct Graph {
    graph: DiGraph<Node, Edge>,
    grants: HashMap<VpcAccessId, NodeIndex>,
    grant_list: Vec<Grant>,
    gaps: Vec<Gap>,
    region: RegionId,
    taken_at: OffsetDateTime,
    index: Vec<crate::inventory::IndexedUse>,
    /// The first node naming each API, so looking an API up is not a scan of every node.
    apis: HashMap<ApiId, NodeIndex>,
    /// Positions in `index` per grant, so each grant's entries are found without a scan.
    index_by_grant: HashMap<VpcAccessId, Vec<usize>>,
}

/// Builds the graph of `inventory`.
pub fn build(inventory: &Inventory) -> Graph {
    let mut builder = Builder {
        graph: DiGraph::new(),
        grants: HashMap::new(),
        grant_list: inventory.grants.clone(),
        dangling: HashMap::new(),
        models: HashMap::new(),
        backends: HashMap::new(),
        gaps: inventory.gaps.clone(),
    };
    for grant in &inventory.grants {
        let node = builder.graph.add_node(Node::Grant(grant.clone()));
        builder.grants.insert(grant.id.clone(), node);
    }
    for backend in &inventory.backends {
        let mut nodes = Vec::new();
        for model in &backend.models {
            let listed_users = backend
                .users
                .iter()
                .filter(|u| u.stage == Some(model.stage))
                .cloned()
                .collect();
            let node = builder.graph.add_node(Node::BackendModel(BackendModelNode {
                backend_id: backend.id.clone(),
                backend_name: backend.name.clone(),
                stage: model.stage,
                vpc: model.vpc.clone(),
                listed_users,
            }));
            builder
                .models
                .insert((backend.id.clone(), model.stage), node);
            nodes.push(node);
            if let Some(vpc) = &model.vpc {
                builder.link_reference(node, vpc, &format!("backend:{}", backend.id));
            }
        }
        builder.backends.insert(backend.id.clone(), nodes);
    }
    for deployment in &inventory.deployments {
        let node = builder.graph.add_node(Node::Deployment(deployment.clone()));
        let scope = format!("api:{}/stage:{}", deployment.api.api_id, deployment.stage);
        builder.link_route(node, &deployment.route, Some(deployment.stage), &scope);
    }
    for draft in &inventory.drafts {
        let node = builder.graph.add_node(Node::Draft(draft.clone()));
        let scope = format!("api:{}", draft.api.api_id);
        builder.link_route(node, &draft.route, None, &scope);
    }
    // The ONLINE version is the deployment itself; only offline versions are rollback targets.
    for version in inventory.history.iter().filter(|v| !v.online) {
        let node = builder.graph.add_node(Node::History(version.clone()));
        let scope = format!(
            "api:{}/stage:{}/version:{}",
            version.api.api_id, version.stage, version.version
        );
        builder.link_route(node, &version.route, Some(version.stage), &scope);
    }
    let mut apis = HashMap::new();
    for node in builder.graph.node_indices() {
        if let Node::Deployment(Deployment { api, .. })
        | Node::Draft(ApiDraft { api, .. })
        | Node::History(HistoricalVersion { api, .. }) = &builder.graph[node]
        {
            apis.entry(api.api_id.clone()).or_insert(node);
        }
    }
    let mut index_by_grant: HashMap<VpcAccessId, Vec<usize>> = HashMap::new();
    for (i, entry) in inventory.index.iter().enumerate() {
        index_by_grant
            .entry(entry.grant.clone())
            .or_default()
            .push(i);
    }
    Graph {
        graph: builder.graph,
        grants: builder.grants,
        grant_list: builder.grant_list,
        gaps: builder.gaps,
        region: inventory.region.clone(),
        taken_at: inventory.taken_at,
        index: inventory.index.clone(),
        apis,
        index_by_grant,
    }
}

struct Builder {
    graph: DiGraph<Node, Edge>,
    grants: HashMap<VpcAccessId, NodeIndex>,
    grant_list: Vec<Grant>,
    dangling: HashMap<VpcRef, NodeIndex>,
    models: HashMap<(BackendId, Stage), NodeIndex>,
    backends: HashMap<BackendId, Vec<NodeIndex>>,
    gaps: Vec<Gap>,
}

impl Builder {
    fn link_reference(&mut self, from: NodeIndex, reference: &VpcRef, scope: &str) {
        if !has_keys(reference) {
            // A VPC config with no key could point anywhere: fail closed.
            self.gaps.push(Gap {
                scope: scope.to_owned(),
                action: "VpcConfig".to_owned(),
                code: "ReferenceWithoutKey".to_owned(),
                message: "a VPC config names no grant (no name, tuple or id)".to_owned(),
                grant: None,
            });
            return;
        }
        let mut matched_any = false;
        for grant in &self.grant_list {
            if let Some(matched) = match_reference(reference, grant) {
                matched_any = true;
                self.graph
                    .add_edge(from, self.grants[&grant.id], Edge::RoutesThrough(matched));
            }
        }
        if !matched_any {
            let target = VpcRef {
                enabled: true,
                ..reference.clone()
            };
            let node = *self
                .dangling
                .entry(target.clone())
                .or_insert_with(|| self.graph.add_node(Node::Dangling(target)));
            let matched = Match {
                dormant: !reference.enabled,
                ..Match::default()
            };
            self.graph
                .add_edge(from, node, Edge::RoutesThrough(matched));
        }
    }

    /// Links an API (deployment, draft or version) by its route; `stage` is `None` for drafts,
    /// which could be published to any stage and so use every model of their backend.
    fn link_route(&mut self, from: NodeIndex, route: &Route, stage: Option<Stage>, scope: &str) {
        match route {
            Route::Vpc { vpc } => self.link_reference(from, vpc, scope),
            Route::Backend { backend_id } => {
                let Some(models) = self.backends.get(backend_id) else {
                    self.gaps.push(Gap {
                        scope: format!("backend:{backend_id}"),
                        action: "DescribeBackendInfo".to_owned(),
                        code: "UnknownBackend".to_owned(),
                        message: format!(
                            "{scope} uses backend {backend_id}, which the inventory does not hold"
                        ),
                        grant: None,
                    });
                    return;
                };
                let targets: Vec<NodeIndex> = match stage {
                    Some(stage) => self
                        .models
                        .get(&(backend_id.clone(), stage))
                        .into_iter()
                        .copied()
                        .collect(),
                    None => models.clone(),
                };
                for model in targets {
                    self.graph.add_edge(from, model, Edge::UsesBackend);
                }
            }
            Route::Unresolved => self.gaps.push(Gap {
                scope: scope.to_owned(),
                action: "DescribeApiHistory".to_owned(),
                code: "UnresolvedRoute".to_owned(),
                message: format!("{scope} uses a backend service that could not be identified"),
                grant: None,
            }),
            Route::Other => {}
        }
    }
}

impl Graph {
    /// The grants of the inventory, in inventory order.
    pub fn grants(&self) -> &[Grant] {
        &self.grant_list
    }

    /// The region the inventory was read from.
    pub fn region(&self) -> &RegionId {
        &self.region
    }

    /// When the inventory was taken.
    pub fn taken_at(&self) -> OffsetDateTime {
        self.taken_at
    }

    /// Every gap: those the walk recorded, then those the graph found (unresolved routes,
    /// unknown backends, keyless references).
    pub fn gaps(&self) -> &[Gap] {
        &self.gaps
    }

    /// True when nothing is missing.
    pub fn is_complete(&self) -> bool {
        self.gaps.is_empty()
    }

    /// The gaps that could hide a user of `grant`.
    pub fn gaps_affecting(&self, grant: &Grant) -> Vec<&Gap> {
        self.gaps
            .iter()
            .filter(|gap| gap.grant.as_ref().is_none_or(|id| *id == grant.id))
            .collect()
    }

    /// APIs deployed in a stage whose own VPC config routes through `grant`.
    pub fn deployments_through(&self, grant: &Grant) -> Vec<Usage> {
        self.usages(grant)
            .into_iter()
            .filter(|u| u.user.kind == UserKind::Deployment && u.backend.is_none())
            .collect()
    }

    /// Backend stage models that route through `grant`, with the APIs deployed in that
    /// stage that use the backend (from the walk and from DescribeApisByBackend).
    pub fn backend_models_through(&self, grant: &Grant) -> Vec<ModelUse> {
        let Some(&target) = self.grants.get(&grant.id) else {
            return Vec::new();
        };
        let mut uses = Vec::new();
        for edge in self.graph.edges_directed(target, Direction::Incoming) {
            let (Edge::RoutesThrough(matched), Node::BackendModel(model)) =
                (edge.weight(), &self.graph[edge.source()])
            else {
                continue;
            };
            let hop = hop_of(model);
            let mut deployed: Vec<User> = self
                .graph
                .edges_directed(edge.source(), Direction::Incoming)
                .filter_map(|e| match &self.graph[e.source()] {
                    Node::Deployment(d) => {
                        Some(User::of_api(UserKind::Deployment, &d.api, Some(d.stage)))
                    }
                    _ => None,
                })
                .collect();
            for listed in &model.listed_users {
                if deployed.iter().any(|u| u.api_id() == Some(&listed.api_id)) {
                    continue;
                }
                let api = self.identity_of(&listed.group_id, &listed.api_id);
                deployed.push(User::of_api(UserKind::Deployment, &api, Some(model.stage)));
            }
            uses.push(ModelUse {
                usage: Usage {
                    grant: grant.id.clone(),
                    grant_name: grant.name.clone(),
                    user: User {
                        kind: UserKind::Backend,
                        api: None,
                        stage: Some(model.stage),
                        version: None,
                        backend: Some(hop.clone()),
                    },
                    backend: Some(hop),
                    matched: *matched,
                },
                deployed,
            });
        }
        uses.sort_by_key(|u| {
            let hop = u.usage.backend.clone().expect("a model use has a backend");
            (hop.id, hop.stage)
        });
        uses
    }

    /// Draft definitions that route through `grant`, directly or through any stage model
    /// of their backend (one entry per draft).
    pub fn drafts_through(&self, grant: &Grant) -> Vec<Usage> {
        let mut drafts: Vec<Usage> = Vec::new();
        for usage in self.usages(grant) {
            let already = drafts
                .iter()
                .any(|d| d.user.api_id() == usage.user.api_id());
            if usage.user.kind == UserKind::Draft && !already {
                drafts.push(usage);
            }
        }
        drafts
    }

    /// Offline historical versions that route through `grant`.
    pub fn history_through(&self, grant: &Grant) -> Vec<Usage> {
        self.usages(grant)
            .into_iter()
            .filter(|u| u.user.kind == UserKind::History)
            .collect()
    }

    /// Every dependency on `grant` whose present keys disagree.
    pub fn key_mismatches(&self, grant: &Grant) -> Vec<Usage> {
        let mut all = self.usages(grant);
        all.extend(
            self.backend_models_through(grant)
                .into_iter()
                .map(|m| m.usage),
        );
        all.retain(|u| {
            u.matched.mismatch && (u.backend.is_none() || u.user.kind == UserKind::Backend)
        });
        all
    }

    /// The service's usage index for `grant`, each entry marked with whether the walk
    /// found the same (API, stage) routing through the grant.
    pub fn index_uses(&self, grant: &Grant) -> Vec<IndexUse> {
        let mut found: std::collections::HashSet<(ApiId, Stage)> = self
            .usages(grant)
            .into_iter()
            .filter(|u| u.user.kind == UserKind::Deployment)
            .filter_map(|u| Some((u.user.api_id()?.clone(), u.user.stage?)))
            .collect();
        for model in self.backend_models_through(grant) {
            found.extend(
                model
                    .deployed
                    .iter()
                    .filter_map(|u| Some((u.api_id()?.clone(), u.stage?))),
            );
        }
        self.index_by_grant
            .get(&grant.id)
            .into_iter()
            .flatten()
            .map(|&i| &self.index[i])
            .map(|entry| {
                let mut api = self.identity_of(&entry.group_id, &entry.api_id);
                if api.group_name.is_empty() {
                    api.group_name = entry.group_name.clone();
                }
                if api.api_name.is_empty() {
                    api.api_name = entry.api_name.clone();
                }
                IndexUse {
                    user: User::of_api(UserKind::Deployment, &api, Some(entry.stage)),
                    found_by_walk: found.contains(&(entry.api_id.clone(), entry.stage)),
                }
            })
            .collect()
    }

    /// References to grants that do not exist, across the whole inventory.
    pub fn dangling_references(&self) -> Vec<DanglingUse> {
        let mut out = Vec::new();
        for target in self.graph.node_indices() {
            let Node::Dangling(reference) = &self.graph[target] else {
                continue;
            };
            for edge in self.graph.edges_directed(target, Direction::Incoming) {
                let (user, backend) = match &self.graph[edge.source()] {
                    Node::BackendModel(model) => {
                        let hop = hop_of(model);
                        let user = User {
                            kind: UserKind::Backend,
                            api: None,
                            stage: Some(model.stage),
                            version: None,
                            backend: Some(hop.clone()),
                        };
                        (user, Some(hop))
                    }
                    other => match user_of(other) {
                        Some(user) => (user, None),
                        None => continue,
                    },
                };
                out.push(DanglingUse {
                    user,
                    backend,
                    target: reference.clone(),
                });
            }
        }
        out
    }

    /// Every API-level dependency on `grant`: direct, or through one backend model.
    fn usages(&self, grant: &Grant) -> Vec<Usage> {
        let Some(&target) = self.grants.get(&grant.id) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for edge in self.graph.edges_directed(target, Direction::Incoming) {
            let Edge::RoutesThrough(matched) = *edge.weight() else {
                continue;
            };
            let source = &self.graph[edge.source()];
            let usage = |user: User, backend: Option<BackendHop>| Usage {
                grant: grant.id.clone(),
                grant_name: grant.name.clone(),
                user,
                backend,
                matched,
            };
            match source {
                Node::BackendModel(model) => {
                    let hop = hop_of(model);
                    for via in self
                        .graph
                        .edges_directed(edge.source(), Direction::Incoming)
                    {
                        if let Some(user) = user_of(&self.graph[via.source()]) {
                            out.push(usage(user, Some(hop.clone())));
                        }
                    }
                }
                other => {
                    if let Some(user) = user_of(other) {
                        out.push(usage(user, None));
                    }
                }
            }
        }
        // petgraph lists edges newest first; sort so reports do not depend on build order.
        out.sort_by_key(|u| {
            (
                u.user.kind,
                u.user.api_id().cloned(),
                u.user.stage,
                u.user.version.clone(),
                u.backend.as_ref().map(|h| (h.id.clone(), h.stage)),
            )
        });
        out
    }

    /// The identity of an API the index named by id, from what the walk read.
    fn identity_of(&self, group: &GroupId, api: &ApiId) -> ApiIdentity {
        self.apis
            .get(api)
            .and_then(|&node| match &self.graph[node] {
                Node::Deployment(Deployment { api: a, .. })
                | Node::Draft(ApiDraft { api: a, .. })
                | Node::History(HistoricalVersion { api: a, .. }) => Some(a.clone()),
                _ => None,
            })
            .unwrap_or_else(|| ApiIdentity {
                group_id: group.clone(),
                group_name: String::new(),
                api_id: api.clone(),
                api_name: String::new(),
                method: String::new(),
                path: String::new(),
            })
    }
}

fn hop_of(model: &BackendModelNode) -> BackendHop {
    BackendHop {
        id: model.backend_id.clone(),
        name: model.backend_name.clone(),
        stage: model.stage,
    }
}

fn user_of(node: &Node) -> Option<User> {
    match node {
        Node::Deployment(d) => Some(User::of_api(UserKind::Deployment, &d.api, Some(d.stage))),
        Node::Draft(d) => Some(User::of_api(UserKind::Draft, &d.api, None)),
        Node::History(h) => Some(User {
            version: Some(h.version.clone()),
            ..User::of_api(UserKind::History, &h.api, Some(h.stage))
        }),
        Node::Grant(_) | Node::BackendModel(_) | Node::Dangling(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::*;

    #[test]
    fn a_reference_matching_two_grants_on_different_keys_links_both() {
        let mut inventory = account();
        inventory.grants.push(grant("apv-2", "payments-vpc", 8080));
        // Name says orders-vpc, tuple says port 8080 (payments-vpc).
        inventory.deployments[0].route = Route::Vpc {
            vpc: VpcRef {
                name: Some("orders-vpc".into()),
                vpc_id: Some("vpc-1".into()),
                instance_id: Some("i-1".into()),
                port: Some(8080),
                enabled: true,
                ..VpcRef::default()
            },
        };
        let graph = build(&inventory);
        for grant in graph.grants() {
            let through = graph.deployments_through(grant);
            assert_eq!(through.len(), 1, "{}", grant.name);
            assert!(through[0].matched.mismatch);
        }
    }

    #[test]
    fn the_tuple_must_match_in_full() {
        let mut inventory = account();
        inventory.deployments[0].route = Route::Vpc {
            vpc: VpcRef {
                vpc_id: Some("vpc-1".into()),
                port: Some(80),
                enabled: true,
                ..VpcRef::default()
            },
        };
        let graph = build(&inventory);
        assert!(graph.deployments_through(&graph.grants()[0]).is_empty());
        assert_eq!(graph.dangling_references().len(), 1);
    }

    #[test]
    fn a_draft_on_a_backend_uses_every_stage_model_but_is_listed_once() {
        let mut inventory = account();
        inventory.drafts.push(draft(
            "api-d",
            Route::Backend {
                backend_id: "be-1".into(),
            },
        ));
        inventory.backends.push(backend(
            "be-1",
            &[(Stage::Pre, "orders-vpc"), (Stage::Test, "orders-vpc")],
        ));
        let graph = build(&inventory);
        let drafts = graph.drafts_through(&graph.grants()[0]);
        assert_eq!(drafts.len(), 1);
        assert_eq!(
            drafts[0].backend.as_ref().map(|h| h.stage),
            Some(Stage::Pre)
        );
    }

    #[test]
    fn a_deployment_uses_only_the_model_of_its_own_stage() {
        let mut inventory = account();
        inventory.deployments[0].route = Route::Backend {
            backend_id: "be-1".into(),
        };
        inventory
            .backends
            .push(backend("be-1", &[(Stage::Pre, "orders-vpc")]));
        let graph = build(&inventory);
        let models = graph.backend_models_through(&graph.grants()[0]);
        assert_eq!(models.len(), 1);
        assert!(
            models[0].deployed.is_empty(),
            "the RELEASE deployment does not use the PRE model"
        );
    }

    #[test]
    fn unresolved_and_keyless_routes_become_gaps_for_every_grant() {
        let mut inventory = account();
        inventory.deployments[0].route = Route::Unresolved;
        inventory.drafts.push(draft(
            "api-d",
            Route::Vpc {
                vpc: VpcRef {
                    enabled: true,
                    ..VpcRef::default()
                },
            },
        ));
        let graph = build(&inventory);
        assert!(!graph.is_complete());
        assert_eq!(graph.gaps_affecting(&graph.grants()[0]).len(), 2);
    }

    #[test]
    fn the_online_version_is_not_history() {
        let mut inventory = account();
        let get = api("api-1", "getOrder", "GET", "/orders/[id]");
        inventory.history.push(version(
            get,
            Stage::Release,
            "v9",
            true,
            vpc_by_name("orders-vpc"),
        ));
        let graph = build(&inventory);
        assert!(graph.history_through(&graph.grants()[0]).is_empty());
    }
}

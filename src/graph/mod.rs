//! Builds the dependency graph from an [`Inventory`]. Nodes are grants, draft definitions,
//! deployments (API × stage), backend stage models, offline historical versions and
//! "dangling" targets (references that match no grant). Edges record which user routes
//! through which grant, and by which key it matched (name, tuple or id), and which reference
//! only nearly names a grant (equal after case or whitespace folding). Beside the edges it
//! keeps the grants that share one (VpcId, InstanceId, Port).
//!
//! In: a borrowed `Inventory` (nodes point into it; nothing of it is copied, so a large
//! account is held once). Out: a [`Graph`] that rules question by grant
//! (`graph.deployments_through(grant)`); no `NodeIndex` leaves this module. Each grant's
//! usages are worked out once, on first question, and shared by every rule that asks. It
//! makes no network call and never reads the clock. Anything the walk could not resolve (an
//! `Unresolved` route, a backend the walk never read, a VPC config with no key) becomes a
//! coverage gap, so it can only make verdicts `unknown`, never `safe`.

pub mod render;

use crate::inventory::{
    ApiDraft, ApiId, ApiIdentity, ApiRef, Backend, BackendId, BackendUser, Deployment, Gap, Grant,
    GroupId, HistoricalVersion, IndexedUse, Inventory, RegionId, Route, Stage, VpcAccessId, VpcRef,
};
use crate::terraform::{Terraform, TerraformIndex};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use petgraph::Direction;
// Keys are the account's own ids: a fast non-keyed hash is safe and a large audit hashes
// millions of them.
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::borrow::Cow;
use std::fmt;
use std::sync::OnceLock;
use time::OffsetDateTime;

/// One thing in the account that can depend on a grant, or the grant itself.
#[derive(Debug, Clone)]
pub enum Node<'a> {
    /// A VPC access authorization.
    Grant(&'a Grant),
    /// A draft API definition.
    Draft(&'a ApiDraft),
    /// An API live in one stage.
    Deployment(&'a Deployment),
    /// A backend service's model for one stage (boxed, like `Dangling`: they are few, and
    /// keeping them out of line keeps every node of a large account a pointer wide).
    BackendModel(Box<BackendModelNode<'a>>),
    /// An offline historical version a rollback could reach.
    History(&'a HistoricalVersion),
    /// A reference target that matches no grant (its own record: one per distinct target).
    Dangling(Box<VpcRef>),
}

/// A backend service's model for one stage, with the users the service listed for it.
#[derive(Debug, Clone)]
pub struct BackendModelNode<'a> {
    /// Backend id.
    pub backend_id: &'a BackendId,
    /// Backend name.
    pub backend_name: &'a str,
    /// Stage the model applies to.
    pub stage: Stage,
    /// The grant reference, when the model is of type VPC.
    pub vpc: Option<&'a VpcRef>,
    /// APIs DescribeApisByBackend listed as using the backend in this stage.
    pub listed_users: Vec<&'a BackendUser>,
}

/// How two nodes are related.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    /// The source sends traffic through the target grant (or dangling target).
    RoutesThrough(Match),
    /// The source (an API) uses the target backend model.
    UsesBackend,
    /// The source's reference names the target grant only after case or whitespace folding
    /// and matches it by no other key: it may route through it (GG306).
    NearName {
        /// The VPC config is present but not enabled.
        dormant: bool,
    },
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
    pub fn keys(&self) -> &'static str {
        match (self.by_name, self.by_tuple, self.by_id) {
            (true, true, true) => "name and tuple and id",
            (true, true, false) => "name and tuple",
            (true, false, true) => "name and id",
            (true, false, false) => "name",
            (false, true, true) => "tuple and id",
            (false, true, false) => "tuple",
            (false, false, true) => "id",
            (false, false, false) => "",
        }
    }
}

/// Compares a reference with a grant: any matching key links them (docs/architecture.md "What
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

/// A grant name as a case- and whitespace-insensitive matcher would see it: trimmed and
/// lowercased. Names already in that form (the usual case) are borrowed, not copied.
pub fn fold_name(name: &str) -> Cow<'_, str> {
    let folded =
        name.is_ascii() && !name.bytes().any(|b| b.is_ascii_uppercase()) && name.trim() == name;
    if folded {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(name.trim().to_lowercase())
    }
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

/// The user at the far end of a dependency path; it borrows from the inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User<'a> {
    /// What it is.
    pub kind: UserKind,
    /// The API, for deployments, drafts and history (pieced together when the usage index
    /// named an API the walk never read).
    pub api: Option<ApiRef>,
    /// The stage, for deployments, history and backend models.
    pub stage: Option<Stage>,
    /// The version id, for history.
    pub version: Option<&'a str>,
    /// The backend, for backend models.
    pub backend: Option<BackendHop<'a>>,
}

impl<'a> User<'a> {
    fn of_api(kind: UserKind, api: &ApiRef, stage: Option<Stage>) -> User<'a> {
        User {
            kind,
            api: Some(api.clone()),
            stage,
            version: None,
            backend: None,
        }
    }

    fn of_model(hop: BackendHop<'a>) -> User<'a> {
        User {
            kind: UserKind::Backend,
            api: None,
            stage: Some(hop.stage),
            version: None,
            backend: Some(hop),
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

    /// The same user, owning what it names, for a finding that outlives the graph.
    pub fn to_subject(&self) -> Subject {
        Subject {
            kind: self.kind,
            api: self.api.clone(),
            stage: self.stage,
            version: self.version.map(Box::from),
            backend: self
                .backend
                .map(|hop| Box::new((hop.id.clone(), hop.name.to_owned()))),
        }
    }
}

impl fmt::Display for User<'_> {
    /// `GroupName/ApiName (METHOD /path) @ STAGE`, the way operators search for it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_user(
            f,
            self.kind,
            self.api.as_deref(),
            self.backend.as_ref().map(|b| (b.id, b.name)),
            self.version,
            self.stage,
        )
    }
}

/// A [`User`] that owns what it names, the API identity shared rather than copied: a report
/// of a large account holds hundreds of thousands of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// What it is.
    pub kind: UserKind,
    /// The API, for deployments, drafts and history.
    pub api: Option<ApiRef>,
    /// The stage, for deployments, history and backend models.
    pub stage: Option<Stage>,
    /// The version id, for history.
    pub version: Option<Box<str>>,
    /// The backend's id and name, for backend models.
    pub backend: Option<Box<(BackendId, String)>>,
}

impl fmt::Display for Subject {
    /// Exactly as the [`User`] it was made from.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_user(
            f,
            self.kind,
            self.api.as_deref(),
            self.backend
                .as_deref()
                .map(|(id, name)| (id, name.as_str())),
            self.version.as_deref(),
            self.stage,
        )
    }
}

fn write_user(
    f: &mut fmt::Formatter<'_>,
    kind: UserKind,
    api: Option<&ApiIdentity>,
    backend: Option<(&BackendId, &str)>,
    version: Option<&str>,
    stage: Option<Stage>,
) -> fmt::Result {
    // Pieces straight to the formatter rather than `write!`: this is the text of every
    // finding's user, and `write!` passes each piece through the padding logic.
    match (api, backend) {
        (Some(api), _) => fmt::Display::fmt(api, f)?,
        (None, Some((id, name))) => write!(f, "backend {name} ({id})")?,
        (None, None) => f.write_str("unknown user")?,
    }
    if kind == UserKind::Draft {
        f.write_str(" [draft]")?;
    }
    if let Some(version) = version {
        f.write_str(" version ")?;
        f.write_str(version)?;
    }
    if let Some(stage) = stage {
        f.write_str(" @ ")?;
        f.write_str(stage.as_str())?;
    }
    Ok(())
}

/// A backend stage model on a dependency path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackendHop<'a> {
    /// Backend id.
    pub id: &'a BackendId,
    /// Backend name.
    pub name: &'a str,
    /// Stage of the model.
    pub stage: Stage,
}

impl fmt::Display for BackendHop<'_> {
    /// `backend NAME (ID) model @ STAGE`, as a path step.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "backend {} ({}) model @ {}",
            self.name, self.id, self.stage
        )
    }
}

/// One step of a dependency path as a rule's hit records it; the grant and the user stay
/// references until the finding is made, so a rule with 100,000 hits formats no path text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step<'a> {
    /// A grant: `grant NAME (ID)`.
    Grant(&'a Grant),
    /// The hit's user.
    User,
    /// Anything else, as text.
    Text(String),
}

/// One dependency of a user on a grant: grant ← (backend model@stage ←) user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage<'a> {
    /// The grant depended on.
    pub grant: &'a Grant,
    /// Who depends on it.
    pub user: User<'a>,
    /// The backend model in between, when the route goes through a backend service.
    pub backend: Option<BackendHop<'a>>,
    /// Which keys matched.
    pub matched: Match,
}

impl<'a> Usage<'a> {
    /// The dependency path, grant first: `grant ← backend model@stage ← API@stage`.
    pub fn path(&self) -> Vec<Step<'a>> {
        let mut path = vec![Step::Grant(self.grant)];
        if let Some(hop) = &self.backend {
            path.push(Step::Text(hop.to_string()));
        }
        if self.user.kind != UserKind::Backend {
            path.push(Step::User);
        }
        path
    }
}

/// A backend stage model that routes through a grant, with the deployed APIs using it there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelUse<'a> {
    /// The model's own dependency on the grant.
    pub usage: Usage<'a>,
    /// APIs deployed in the model's stage that use the backend.
    pub deployed: Vec<User<'a>>,
}

/// One (API, stage) of the service's usage index for a grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexUse<'a> {
    /// The API as the index named it, in the stage.
    pub user: User<'a>,
    /// True when the walk found the same (API, stage) routing through the grant.
    pub found_by_walk: bool,
}

/// A reference to a grant that does not exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DanglingUse<'a> {
    /// Who holds the reference.
    pub user: User<'a>,
    /// The backend model in between, when the reference is reached through one.
    pub backend: Option<BackendHop<'a>>,
    /// The reference.
    pub target: &'a VpcRef,
}

/// A reference whose name equals a grant's name only after case or whitespace folding, and
/// that matches that grant by no other key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NearMatch<'a> {
    /// The grant whose name it nearly spells.
    pub grant: &'a Grant,
    /// Who holds the reference.
    pub user: User<'a>,
    /// The backend model, when the reference is a backend's stage model.
    pub backend: Option<BackendHop<'a>>,
    /// The reference, as written.
    pub reference: &'a VpcRef,
}

/// The dependency graph of one inventory, plus every gap that limits what it can tell.
#[derive(Debug, Clone)]
pub struct Graph<'a> {
    graph: DiGraph<Node<'a>, Edge>,
    grants: HashMap<&'a VpcAccessId, NodeIndex>,
    grant_list: &'a [Grant],
    gaps: Vec<Gap>,
    region: &'a RegionId,
    taken_at: OffsetDateTime,
    index: &'a [IndexedUse],
    /// The first node naming each API, so looking an API up is not a scan of every node.
    apis: HashMap<&'a ApiId, NodeIndex>,
    /// Positions in `index` per grant, so each grant's entries are found without a scan.
    index_by_grant: HashMap<&'a VpcAccessId, Vec<usize>>,
    /// Per grant node: its API-level usages, worked out on first question and shared by
    /// every rule (grant nodes come first, so a grant's node index is its position here).
    usages: Vec<OnceLock<Vec<Usage<'a>>>>,
    /// Per grant node: the backend models routing through it, likewise shared.
    models: Vec<OnceLock<Vec<ModelUse<'a>>>>,
    /// Grant positions per (VpcId, InstanceId, Port) held by more than one grant.
    shared_tuples: HashMap<Tuple<'a>, Vec<usize>>,
    /// The nodes of references to no grant, found on first question: GG304 asks once per
    /// share of the selection, and finding them is a walk over every node.
    dangling: OnceLock<Vec<NodeIndex>>,
    /// What Terraform declares beside the account (nothing unless `--terraform` is given).
    terraform: &'a Terraform,
    /// Its declarations by key, made once for every rule that asks.
    terraform_index: TerraformIndex<'a>,
}

/// The Terraform input of a graph built without one.
static NO_TERRAFORM: Terraform = Terraform {
    grants: Vec::new(),
    apis: Vec::new(),
    unresolved: Vec::new(),
};

/// Builds the graph of `inventory`, borrowing from it.
pub fn build(inventory: &Inventory) -> Graph<'_> {
    let records = inventory.deployments.len() + inventory.drafts.len() + inventory.history.len();
    let mut builder = Builder {
        // Sized up front: a large account's half a million records would otherwise regrow
        // and copy the node list a dozen times. Most records route elsewhere, so edges are
        // fewer.
        graph: DiGraph::with_capacity(inventory.grants.len() + records, records / 2),
        grants: HashMap::default(),
        grant_list: &inventory.grants,
        dangling: HashMap::default(),
        models: HashMap::default(),
        backends: HashMap::default(),
        gaps: inventory.gaps.clone(),
        by_name: HashMap::default(),
        by_folded_name: HashMap::default(),
        by_tuple: HashMap::default(),
        by_id: HashMap::default(),
        links: HashMap::default(),
    };
    for (position, grant) in inventory.grants.iter().enumerate() {
        let node = builder.graph.add_node(Node::Grant(grant));
        builder.grants.insert(&grant.id, node);
        builder
            .by_name
            .entry(&grant.name)
            .or_default()
            .push(position);
        builder
            .by_folded_name
            .entry(fold_name(&grant.name))
            .or_default()
            .push(position);
        builder
            .by_tuple
            .entry((&grant.key.vpc_id, &grant.key.instance_id, grant.key.port))
            .or_default()
            .push(position);
        builder.by_id.entry(&grant.id).or_default().push(position);
    }
    for backend in &inventory.backends {
        builder.add_backend(backend);
    }
    for deployment in &inventory.deployments {
        let node = builder.graph.add_node(Node::Deployment(deployment));
        builder.link_route(node, &deployment.route, Some(deployment.stage), || {
            format!("api:{}/stage:{}", deployment.api.api_id, deployment.stage)
        });
    }
    for draft in &inventory.drafts {
        let node = builder.graph.add_node(Node::Draft(draft));
        builder.link_route(node, &draft.route, None, || {
            format!("api:{}", draft.api.api_id)
        });
    }
    // The ONLINE version is the deployment itself; only offline versions are rollback targets.
    for version in inventory.history.iter().filter(|v| !v.online) {
        let node = builder.graph.add_node(Node::History(version));
        builder.link_route(node, &version.route, Some(version.stage), || {
            format!(
                "api:{}/stage:{}/version:{}",
                version.api.api_id, version.stage, version.version
            )
        });
    }
    let mut apis = HashMap::with_capacity_and_hasher(inventory.drafts.len(), Default::default());
    // An API's records come together and share one identity: only the first of a run is
    // looked up, not each of its stages and versions.
    let mut previous: Option<&ApiRef> = None;
    for node in builder.graph.node_indices() {
        if let Node::Deployment(Deployment { api, .. })
        | Node::Draft(ApiDraft { api, .. })
        | Node::History(HistoricalVersion { api, .. }) = builder.graph[node]
        {
            if previous.is_some_and(|p| std::sync::Arc::ptr_eq(p, api)) {
                continue;
            }
            previous = Some(api);
            apis.entry(&api.api_id).or_insert(node);
        }
    }
    let mut index_by_grant: HashMap<&VpcAccessId, Vec<usize>> = HashMap::default();
    for (i, entry) in inventory.index.iter().enumerate() {
        index_by_grant.entry(&entry.grant).or_default().push(i);
    }
    let grant_count = inventory.grants.len();
    let mut shared_tuples = builder.by_tuple;
    shared_tuples.retain(|_, positions| positions.len() > 1);
    Graph {
        graph: builder.graph,
        grants: builder.grants,
        grant_list: builder.grant_list,
        gaps: builder.gaps,
        region: &inventory.region,
        taken_at: inventory.taken_at,
        index: &inventory.index,
        apis,
        index_by_grant,
        usages: (0..grant_count).map(|_| OnceLock::new()).collect(),
        models: (0..grant_count).map(|_| OnceLock::new()).collect(),
        shared_tuples,
        dangling: OnceLock::new(),
        terraform: &NO_TERRAFORM,
        terraform_index: NO_TERRAFORM.index(),
    }
}

type Tuple<'a> = (
    &'a crate::inventory::VpcId,
    &'a crate::inventory::InstanceId,
    u16,
);

struct Builder<'a> {
    graph: DiGraph<Node<'a>, Edge>,
    grants: HashMap<&'a VpcAccessId, NodeIndex>,
    grant_list: &'a [Grant],
    dangling: HashMap<VpcRef, NodeIndex>,
    models: HashMap<(&'a BackendId, Stage), NodeIndex>,
    backends: HashMap<&'a BackendId, Vec<NodeIndex>>,
    gaps: Vec<Gap>,
    /// Grant positions by each key, so a reference finds its candidates without a scan of
    /// every grant.
    by_name: HashMap<&'a String, Vec<usize>>,
    by_folded_name: HashMap<Cow<'a, str>, Vec<usize>>,
    by_tuple: HashMap<Tuple<'a>, Vec<usize>>,
    by_id: HashMap<&'a VpcAccessId, Vec<usize>>,
    /// The edges each distinct reference gets: a large account repeats the same few hundred
    /// references across hundreds of thousands of records.
    links: HashMap<&'a VpcRef, Vec<(NodeIndex, Edge)>>,
}

impl<'a> Builder<'a> {
    fn add_backend(&mut self, backend: &'a Backend) {
        let mut nodes = Vec::new();
        for model in &backend.models {
            let listed_users = backend
                .users
                .iter()
                .filter(|u| u.stage == Some(model.stage))
                .collect();
            let node = self
                .graph
                .add_node(Node::BackendModel(Box::new(BackendModelNode {
                    backend_id: &backend.id,
                    backend_name: &backend.name,
                    stage: model.stage,
                    vpc: model.vpc.as_ref(),
                    listed_users,
                })));
            self.models.insert((&backend.id, model.stage), node);
            nodes.push(node);
            if let Some(vpc) = &model.vpc {
                self.link_reference(node, vpc, || format!("backend:{}", backend.id));
            }
        }
        self.backends.insert(&backend.id, nodes);
    }

    /// The positions of the grants that share at least one key with `reference`, in grant
    /// order (the order edges were always added in).
    fn candidates(&self, reference: &VpcRef) -> Vec<usize> {
        let mut found: Vec<usize> = Vec::new();
        if let Some(name) = &reference.name {
            found.extend(self.by_name.get(name).into_iter().flatten());
        }
        if let (Some(vpc), Some(instance), Some(port)) =
            (&reference.vpc_id, &reference.instance_id, reference.port)
        {
            found.extend(
                self.by_tuple
                    .get(&(vpc, instance, port))
                    .into_iter()
                    .flatten(),
            );
        }
        if let Some(id) = &reference.vpc_access_id {
            found.extend(self.by_id.get(id).into_iter().flatten());
        }
        found.sort_unstable();
        found.dedup();
        found
    }

    /// The positions of the grants whose name `reference` spells only after case or
    /// whitespace folding, leaving out those it already matched by any key.
    fn near_candidates(&self, reference: &VpcRef, matched: &[usize]) -> Vec<usize> {
        let Some(name) = &reference.name else {
            return Vec::new();
        };
        let Some(positions) = self.by_folded_name.get(fold_name(name).as_ref()) else {
            return Vec::new();
        };
        positions
            .iter()
            .copied()
            .filter(|&p| self.grant_list[p].name != *name && !matched.contains(&p))
            .collect()
    }

    fn link_reference(
        &mut self,
        from: NodeIndex,
        reference: &'a VpcRef,
        scope: impl FnOnce() -> String,
    ) {
        if !reference.has_key() {
            // A VPC config with no key could point anywhere: fail closed, for every grant.
            let partial = describe_reference(reference);
            let partial = if partial.is_empty() {
                String::new()
            } else {
                format!("; it carries only {partial}")
            };
            self.gaps.push(Gap {
                scope: scope(),
                action: "VpcConfig".to_owned(),
                code: "ReferenceWithoutKey".to_owned(),
                message: format!(
                    "a VPC config names no grant (no name, id or full VpcId/InstanceId/Port tuple){partial}"
                ),
                grant: None,
            });
            return;
        }
        if !self.links.contains_key(reference) {
            let edges = self.edges_of(reference);
            self.links.insert(reference, edges);
        }
        for &(to, edge) in &self.links[reference] {
            self.graph.add_edge(from, to, edge);
        }
    }

    /// The edges a reference with a key gets: to each grant it matches, to each grant it
    /// nearly names, or else to the dangling node of what it names.
    fn edges_of(&mut self, reference: &VpcRef) -> Vec<(NodeIndex, Edge)> {
        let mut edges = Vec::new();
        let mut matched = Vec::new();
        for position in self.candidates(reference) {
            let grant = &self.grant_list[position];
            if let Some(keys) = match_reference(reference, grant) {
                matched.push(position);
                edges.push((self.grants[&grant.id], Edge::RoutesThrough(keys)));
            }
        }
        let near = self.near_candidates(reference, &matched);
        for &position in &near {
            let grant = self.grants[&self.grant_list[position].id];
            let dormant = !reference.enabled;
            edges.push((grant, Edge::NearName { dormant }));
        }
        // A reference that nearly spells a grant's name is not dangling: the service may
        // resolve it to that grant (GG306 reports it; GG304 would only say "nothing").
        if matched.is_empty() && near.is_empty() {
            let target = VpcRef {
                enabled: true,
                ..reference.clone()
            };
            let node = match self.dangling.get(&target) {
                Some(&node) => node,
                None => {
                    let node = self
                        .graph
                        .add_node(Node::Dangling(Box::new(target.clone())));
                    self.dangling.insert(target, node);
                    node
                }
            };
            let matched = Match {
                dormant: !reference.enabled,
                ..Match::default()
            };
            edges.push((node, Edge::RoutesThrough(matched)));
        }
        edges
    }

    /// Links an API (deployment, draft or version) by its route; `stage` is `None` for drafts,
    /// which could be published to any stage and so use every model of their backend.
    fn link_route(
        &mut self,
        from: NodeIndex,
        route: &'a Route,
        stage: Option<Stage>,
        scope: impl FnOnce() -> String,
    ) {
        match route {
            Route::Vpc { vpc } => self.link_reference(from, vpc, scope),
            Route::Backend { backend_id } => {
                let Some(models) = self.backends.get(backend_id) else {
                    self.gaps.push(Gap {
                        scope: format!("backend:{backend_id}"),
                        action: "DescribeBackendInfo".to_owned(),
                        code: "UnknownBackend".to_owned(),
                        message: format!(
                            "{} uses backend {backend_id}, which the inventory does not hold",
                            scope()
                        ),
                        grant: None,
                    });
                    return;
                };
                let targets: Vec<NodeIndex> = match stage {
                    Some(stage) => self
                        .models
                        .get(&(backend_id, stage))
                        .into_iter()
                        .copied()
                        .collect(),
                    None => models.clone(),
                };
                for model in targets {
                    self.graph.add_edge(from, model, Edge::UsesBackend);
                }
            }
            Route::Unresolved => {
                let scope = scope();
                self.gaps.push(Gap {
                    message: format!("{scope} uses a backend service that could not be identified"),
                    scope,
                    action: "DescribeApiHistory".to_owned(),
                    code: "UnresolvedRoute".to_owned(),
                    grant: None,
                })
            }
            Route::Other => {}
        }
    }
}

impl<'a> Graph<'a> {
    /// The same graph, with what Terraform declares beside the account.
    pub fn with_terraform(mut self, terraform: &'a Terraform) -> Graph<'a> {
        self.terraform = terraform;
        self.terraform_index = terraform.index();
        self
    }

    /// What Terraform declares, by key.
    pub fn terraform_index(&self) -> &TerraformIndex<'a> {
        &self.terraform_index
    }

    /// What Terraform declares (empty unless [`Graph::with_terraform`] gave it).
    pub fn terraform(&self) -> &'a Terraform {
        self.terraform
    }

    /// The grants of the inventory, in inventory order.
    pub fn grants(&self) -> &'a [Grant] {
        self.grant_list
    }

    /// The region the inventory was read from.
    pub fn region(&self) -> &'a RegionId {
        self.region
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
    pub fn deployments_through(&self, grant: &Grant) -> Vec<&Usage<'a>> {
        self.usages(grant)
            .iter()
            .filter(|u| u.user.kind == UserKind::Deployment && u.backend.is_none())
            .collect()
    }

    /// Backend stage models that route through `grant`, with the APIs deployed in that
    /// stage that use the backend (from the walk and from DescribeApisByBackend).
    pub fn backend_models_through(&self, grant: &Grant) -> &[ModelUse<'a>] {
        let Some(&target) = self.grants.get(&grant.id) else {
            return &[];
        };
        self.models[target.index()].get_or_init(|| self.compute_models(target))
    }

    fn compute_models(&self, target: NodeIndex) -> Vec<ModelUse<'a>> {
        let Node::Grant(grant) = self.graph[target] else {
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
            let mut deployed: Vec<User<'a>> = self
                .graph
                .edges_directed(edge.source(), Direction::Incoming)
                .filter_map(|e| match self.graph[e.source()] {
                    Node::Deployment(d) => {
                        Some(User::of_api(UserKind::Deployment, &d.api, Some(d.stage)))
                    }
                    _ => None,
                })
                .collect();
            let mut seen: HashSet<&ApiId> = deployed.iter().filter_map(User::api_id).collect();
            let mut listed_users = Vec::new();
            for listed in &model.listed_users {
                if !seen.insert(&listed.api_id) {
                    continue;
                }
                let api = self.identity_of(&listed.group_id, &listed.api_id);
                listed_users.push(User {
                    kind: UserKind::Deployment,
                    api: Some(api),
                    stage: Some(model.stage),
                    version: None,
                    backend: None,
                });
            }
            deployed.extend(listed_users);
            uses.push(ModelUse {
                usage: Usage {
                    grant,
                    user: User::of_model(hop),
                    backend: Some(hop),
                    matched: *matched,
                },
                deployed,
            });
        }
        uses.sort_by_key(|u| {
            let hop = u.usage.backend.expect("a model use has a backend");
            (hop.id, hop.stage)
        });
        uses
    }

    /// Draft definitions that route through `grant`, directly or through any stage model
    /// of their backend (one entry per draft).
    pub fn drafts_through(&self, grant: &Grant) -> Vec<&Usage<'a>> {
        let mut seen = HashSet::default();
        self.usages(grant)
            .iter()
            .filter(|u| u.user.kind == UserKind::Draft && seen.insert(u.user.api_id()))
            .collect()
    }

    /// Offline historical versions that route through `grant`.
    pub fn history_through(&self, grant: &Grant) -> Vec<&Usage<'a>> {
        self.usages(grant)
            .iter()
            .filter(|u| u.user.kind == UserKind::History)
            .collect()
    }

    /// Every dependency on `grant` whose present keys disagree.
    pub fn key_mismatches(&self, grant: &Grant) -> Vec<&Usage<'a>> {
        let direct = self.usages(grant).iter();
        let models = self.backend_models_through(grant).iter().map(|m| &m.usage);
        direct
            .chain(models)
            .filter(|u| {
                u.matched.mismatch && (u.backend.is_none() || u.user.kind == UserKind::Backend)
            })
            .collect()
    }

    /// The service's usage index for `grant`, each entry marked with whether the walk
    /// found the same (API, stage) routing through the grant.
    pub fn index_uses(&self, grant: &Grant) -> Vec<IndexUse<'a>> {
        let Some(entries) = self.index_by_grant.get(&grant.id) else {
            return Vec::new();
        };
        let mut found: HashSet<(&ApiId, Stage)> = self
            .usages(grant)
            .iter()
            .filter(|u| u.user.kind == UserKind::Deployment)
            .filter_map(|u| Some((u.user.api_id()?, u.user.stage?)))
            .collect();
        for model in self.backend_models_through(grant) {
            found.extend(
                model
                    .deployed
                    .iter()
                    .filter_map(|u| Some((u.api_id()?, u.stage?))),
            );
        }
        entries
            .iter()
            .map(|&i| &self.index[i])
            .map(|entry| {
                let mut api = self.identity_of(&entry.group_id, &entry.api_id);
                if api.group_name.is_empty() && !entry.group_name.is_empty() {
                    ApiRef::make_mut(&mut api).group_name = entry.group_name.clone();
                }
                if api.api_name.is_empty() && !entry.api_name.is_empty() {
                    ApiRef::make_mut(&mut api).api_name = entry.api_name.clone();
                }
                IndexUse {
                    found_by_walk: found.contains(&(&entry.api_id, entry.stage)),
                    user: User {
                        kind: UserKind::Deployment,
                        api: Some(api),
                        stage: Some(entry.stage),
                        version: None,
                        backend: None,
                    },
                }
            })
            .collect()
    }

    /// References whose name equals `grant`'s only after case or whitespace folding and that
    /// match it by no other key, in the order the inventory holds them.
    pub fn near_matches(&self, grant: &Grant) -> Vec<NearMatch<'a>> {
        let Some(&target) = self.grants.get(&grant.id) else {
            return Vec::new();
        };
        let Node::Grant(grant) = self.graph[target] else {
            return Vec::new();
        };
        let mut holders: Vec<NodeIndex> = self
            .graph
            .edges_directed(target, Direction::Incoming)
            .filter(|e| matches!(e.weight(), Edge::NearName { .. }))
            .map(|e| e.source())
            .collect();
        // Nodes are added in inventory order; petgraph lists edges newest first.
        holders.sort_unstable();
        holders
            .into_iter()
            .filter_map(|node| {
                let (user, backend, reference) = match &self.graph[node] {
                    Node::BackendModel(model) => {
                        let hop = hop_of(model);
                        (User::of_model(hop), Some(hop), model.vpc?)
                    }
                    other => (user_of(other)?, None, vpc_of(other)?),
                };
                Some(NearMatch {
                    grant,
                    user,
                    backend,
                    reference,
                })
            })
            .collect()
    }

    /// The other grants with `grant`'s (VpcId, InstanceId, Port), in inventory order.
    pub fn grants_sharing_tuple(&self, grant: &Grant) -> Vec<&'a Grant> {
        let key = (&grant.key.vpc_id, &grant.key.instance_id, grant.key.port);
        self.shared_tuples
            .get(&key)
            .into_iter()
            .flatten()
            .map(|&p| &self.grant_list[p])
            .filter(|other| other.id != grant.id)
            .collect()
    }

    /// References to grants that do not exist, across the whole inventory.
    pub fn dangling_references(&self) -> Vec<DanglingUse<'_>> {
        let dangling = self.dangling.get_or_init(|| {
            (self.graph.node_indices())
                .filter(|&n| matches!(self.graph[n], Node::Dangling(_)))
                .collect()
        });
        let mut out = Vec::new();
        for &target in dangling {
            let Node::Dangling(reference) = &self.graph[target] else {
                continue;
            };
            for edge in self.graph.edges_directed(target, Direction::Incoming) {
                let (user, backend) = match &self.graph[edge.source()] {
                    Node::BackendModel(model) => {
                        let hop = hop_of(model);
                        (User::of_model(hop), Some(hop))
                    }
                    other => match user_of(other) {
                        Some(user) => (user, None),
                        None => continue,
                    },
                };
                out.push(DanglingUse {
                    user,
                    backend,
                    target: reference,
                });
            }
        }
        out
    }

    /// Every API-level dependency on `grant` (direct, or through one backend model), worked
    /// out once per grant.
    fn usages(&self, grant: &Grant) -> &[Usage<'a>] {
        let Some(&target) = self.grants.get(&grant.id) else {
            return &[];
        };
        self.usages[target.index()].get_or_init(|| self.compute_usages(target))
    }

    fn compute_usages(&self, target: NodeIndex) -> Vec<Usage<'a>> {
        let Node::Grant(grant) = self.graph[target] else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for edge in self.graph.edges_directed(target, Direction::Incoming) {
            let Edge::RoutesThrough(matched) = *edge.weight() else {
                continue;
            };
            let usage = |user: User<'a>, backend: Option<BackendHop<'a>>| Usage {
                grant,
                user,
                backend,
                matched,
            };
            match &self.graph[edge.source()] {
                Node::BackendModel(model) => {
                    let hop = hop_of(model);
                    for via in self
                        .graph
                        .edges_directed(edge.source(), Direction::Incoming)
                    {
                        if let Some(user) = user_of(&self.graph[via.source()]) {
                            out.push(usage(user, Some(hop)));
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
        out.sort_by(|a, b| usage_key(a).cmp(&usage_key(b)));
        out
    }

    /// The identity of an API the index named by id, from what the walk read.
    fn identity_of(&self, group: &GroupId, api: &ApiId) -> ApiRef {
        let known = self.apis.get(api).and_then(|&node| match self.graph[node] {
            Node::Deployment(Deployment { api: a, .. })
            | Node::Draft(ApiDraft { api: a, .. })
            | Node::History(HistoricalVersion { api: a, .. }) => Some(a),
            _ => None,
        });
        match known {
            Some(identity) => identity.clone(),
            None => ApiRef::new(ApiIdentity {
                group_id: group.clone(),
                group_name: String::new(),
                api_id: api.clone(),
                api_name: String::new(),
                method: String::new(),
                path: String::new(),
            }),
        }
    }
}

/// The order of a grant's usages: by kind, API, stage, version, then backend model.
type UsageKey<'u> = (
    UserKind,
    Option<&'u ApiId>,
    Option<Stage>,
    Option<&'u str>,
    Option<(&'u BackendId, Stage)>,
);

fn usage_key<'u>(u: &'u Usage<'_>) -> UsageKey<'u> {
    (
        u.user.kind,
        u.user.api_id(),
        u.user.stage,
        u.user.version,
        u.backend.map(|h| (h.id, h.stage)),
    )
}

fn hop_of<'a>(model: &BackendModelNode<'a>) -> BackendHop<'a> {
    BackendHop {
        id: model.backend_id,
        name: model.backend_name,
        stage: model.stage,
    }
}

/// The VPC config an API node routes by directly.
fn vpc_of<'a>(node: &Node<'a>) -> Option<&'a VpcRef> {
    let route = match *node {
        Node::Deployment(d) => &d.route,
        Node::Draft(d) => &d.route,
        Node::History(h) => &h.route,
        Node::Grant(_) | Node::BackendModel(_) | Node::Dangling(_) => return None,
    };
    match route {
        Route::Vpc { vpc } => Some(vpc.as_ref()),
        _ => None,
    }
}

fn user_of<'a>(node: &Node<'a>) -> Option<User<'a>> {
    match *node {
        Node::Deployment(d) => Some(User::of_api(UserKind::Deployment, &d.api, Some(d.stage))),
        Node::Draft(d) => Some(User::of_api(UserKind::Draft, &d.api, None)),
        Node::History(h) => Some(User {
            version: Some(&h.version),
            ..User::of_api(UserKind::History, &h.api, Some(h.stage))
        }),
        Node::Grant(_) | Node::BackendModel(_) | Node::Dangling(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::testing::*;

    #[test]
    fn a_reference_matching_two_grants_on_different_keys_links_both() {
        let mut inventory = account();
        inventory.grants.push(grant("apv-2", "payments-vpc", 8080));
        // Name says orders-vpc, tuple says port 8080 (payments-vpc).
        inventory.deployments[0].route = Route::Vpc {
            vpc: Box::new(VpcRef {
                name: Some("orders-vpc".into()),
                vpc_id: Some("vpc-1".into()),
                instance_id: Some("i-1".into()),
                port: Some(8080),
                enabled: true,
                ..VpcRef::default()
            }),
        };
        let graph = build(&inventory);
        for grant in graph.grants() {
            let through = graph.deployments_through(grant);
            assert_eq!(through.len(), 1, "{}", grant.name);
            assert!(through[0].matched.mismatch);
        }
    }

    #[test]
    fn names_fold_case_and_outer_whitespace_and_plain_ones_are_borrowed() {
        assert!(matches!(
            fold_name("orders-vpc"),
            Cow::Borrowed("orders-vpc")
        ));
        assert_eq!(fold_name(" Orders-VPC\t"), "orders-vpc");
        assert_eq!(fold_name("ÖRDERS"), "örders");
        assert_eq!(fold_name("orders vpc"), "orders vpc", "inner space stays");
    }

    #[test]
    fn a_reference_near_two_grants_is_near_both_and_dangling_for_neither() {
        let mut inventory = account();
        inventory.grants.push(grant("apv-2", "Orders-VPC", 8080));
        inventory
            .drafts
            .push(draft("api-d", vpc_by_name("ORDERS-VPC")));
        let graph = build(&inventory);
        let near = |position: usize| -> Vec<Option<String>> {
            graph
                .near_matches(&graph.grants()[position])
                .iter()
                .map(|n| n.reference.name.clone())
                .collect()
        };
        assert_eq!(near(0), [Some("ORDERS-VPC".to_owned())]);
        // The deployment's exact "orders-vpc" uses apv-1, and a service that folds case could
        // just as well resolve it to "Orders-VPC".
        assert_eq!(
            near(1),
            [Some("orders-vpc".to_owned()), Some("ORDERS-VPC".to_owned())]
        );
        assert!(graph.dangling_references().is_empty());
        // The graph shows the possible route, and a selection of the grant keeps its holder.
        let selector = crate::selection::Selector::Id("apv-2".into());
        let selection = crate::selection::Selection::resolve(Some(&selector), graph.grants());
        let dot = render::render(
            &graph,
            render::GraphFormat::Dot,
            Some(&selection),
            &render::Look::default(),
        );
        assert!(
            dot.contains("[label=\"may route through (name differs in case or whitespace)\"]"),
            "{dot}"
        );
        assert!(
            dot.contains("orders/draft-api-d (POST /orders) [draft]"),
            "{dot}"
        );
    }

    #[test]
    fn a_node_stays_two_words_wide() {
        // A large account has hundreds of thousands of nodes; a wide variant costs them all.
        assert!(std::mem::size_of::<Node<'_>>() <= 16);
    }

    #[test]
    fn the_tuple_must_match_in_full() {
        let mut inventory = account();
        inventory.deployments[0].route = Route::Vpc {
            vpc: Box::new(VpcRef {
                vpc_id: Some("vpc-1".into()),
                port: Some(80),
                enabled: true,
                ..VpcRef::default()
            }),
        };
        let graph = build(&inventory);
        assert!(graph.deployments_through(&graph.grants()[0]).is_empty());
        // Part of a tuple names no grant, not even a missing one: it is a gap, not a dangling
        // reference (which would leave the grant it may mean `safe`).
        assert!(graph.dangling_references().is_empty());
        assert_eq!(graph.gaps()[0].code, "ReferenceWithoutKey");
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
                vpc: Box::new(VpcRef {
                    enabled: true,
                    ..VpcRef::default()
                }),
            },
        ));
        let graph = build(&inventory);
        assert!(!graph.is_complete());
        assert_eq!(graph.gaps_affecting(&graph.grants()[0]).len(), 2);
    }

    #[test]
    fn a_vpc_model_or_route_without_a_full_key_is_a_gap_for_every_grant() {
        let mut inventory = account();
        let mut keyless = backend("be-keyless", &[(Stage::Release, "")]);
        keyless.models[0].vpc = Some(VpcRef {
            enabled: true,
            ..VpcRef::default()
        });
        inventory.backends.push(keyless);
        // Only part of the tuple: no grant can be found by it, so it is no key.
        inventory.drafts.push(draft(
            "api-partial",
            Route::Vpc {
                vpc: Box::new(VpcRef {
                    vpc_id: Some(crate::inventory::VpcId::from("vpc-1")),
                    port: Some(80),
                    enabled: true,
                    ..VpcRef::default()
                }),
            },
        ));
        let graph = build(&inventory);
        let gaps: Vec<&Gap> = graph
            .gaps()
            .iter()
            .filter(|g| g.code == "ReferenceWithoutKey")
            .collect();
        assert_eq!(gaps.len(), 2, "{gaps:?}");
        assert!(
            gaps.iter().any(|g| g.scope == "backend:be-keyless"),
            "{gaps:?}"
        );
        assert!(
            gaps.iter().any(|g| g.message.contains("tuple vpc-1/?:80")),
            "{gaps:?}"
        );
        for grant in graph.grants() {
            assert_eq!(graph.gaps_affecting(grant).len(), 2, "{}", grant.name);
        }
        assert!(
            graph.dangling_references().is_empty(),
            "a partial tuple is not a dangling reference to some other grant"
        );
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

//! The emulated account in memory: what the handlers read and mutate, and what tests inspect
//! through [`super::Sim::state`] and change through [`super::Sim::mutate`]. In: a normalized
//! [`Fixture`]. Out: questions answered about grants, deployments, versions and backends.
//! It knows nothing of HTTP, signatures or faults.

use super::fixture::{
    derived_id, version_from_time, Api, Backend, BatchWorkAlso, Deployment, Fixture, Grant, Group,
    HistoryEntry, IndexAdjustments, Route, VpcRoute, STAGE_NAMES,
};
use std::collections::{BTreeMap, HashMap};

/// An account's deployments and history by (API, stage) ([`Account::lookup`]).
pub struct Lookup<'a> {
    account: &'a Account,
    live: HashMap<(&'a str, &'a str), &'a Deployment>,
    history: HashMap<(&'a str, &'a str), Vec<&'a HistoryEntry>>,
}

impl<'a> Lookup<'a> {
    /// [`Account::deployment`].
    pub fn deployment(&self, api_id: &str, stage: &str) -> Option<&'a Deployment> {
        self.live.get(&(api_id, stage)).copied()
    }

    /// [`Account::is_deployed`].
    pub fn is_deployed(&self, api_id: &str, stage: &str) -> bool {
        self.deployment(api_id, stage).is_some()
    }

    /// [`Account::versions`].
    pub fn versions(&self, api_id: &str, stage: &str) -> Vec<Version> {
        let history = self.history.get(&(api_id, stage)).into_iter().flatten();
        self.account
            .versions_of(api_id, self.deployment(api_id, stage), history.copied())
    }
}

/// The account the emulator serves.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    /// Region id.
    pub region: String,
    /// Other regions DescribeRegions lists (empty: the well-known ones).
    pub regions: Vec<String>,
    /// Grants, in creation order.
    pub grants: Vec<Grant>,
    /// Groups.
    pub groups: Vec<Group>,
    /// API drafts.
    pub apis: Vec<Api>,
    /// What is live per (API, stage); `api` is an id and `route` is always set.
    pub deployments: Vec<Deployment>,
    /// Earlier versions; `api` is an id and `route` is always set.
    pub history: Vec<HistoryEntry>,
    /// Backend services.
    pub backends: Vec<Backend>,
    /// DescribeApisByVpcAccess adjustments.
    pub index: IndexAdjustments,
    /// RemoveVpcAccessAndAbolishApis operations by OperationId.
    pub operations: BTreeMap<String, Operation>,
    /// ModifyVpcAccessAndUpdateApis operations by OperationId.
    pub updates: BTreeMap<String, UpdateOperation>,
    /// What ModifyVpcAccessAndUpdateApis also updates besides the published APIs.
    pub batch_work_also: BatchWorkAlso,
    /// Injected task faults: per-API update failures, a task that never finishes.
    pub update_faults: UpdateFaults,
}

/// The task faults of ModifyVpcAccessAndUpdateApis, from the merged `faults`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UpdateFaults {
    /// API id or name, optionally `@STAGE` → the ErrorMsg of its FAILED update.
    pub fail: BTreeMap<String, String>,
    /// Every API stays RUNNING and nothing is updated.
    pub never_finishes: bool,
}

impl UpdateFaults {
    /// The ErrorMsg chosen for the API `api` (id or name) in `stage`, if its update fails.
    pub fn failure(&self, api_id: &str, api_name: &str, stage: &str) -> Option<&String> {
        [api_id, api_name]
            .iter()
            .flat_map(|k| [format!("{k}@{stage}"), (*k).to_owned()])
            .find_map(|k| self.fail.get(&k))
    }
}

/// One ModifyVpcAccessAndUpdateApis operation: its published APIs are updated over several
/// DescribeUpdateVpcInfoTask polls.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateOperation {
    /// The (API, stage) pairs whose published definition it updates, in report order.
    pub apis: Vec<StageRef>,
    /// The final status and ErrorMsg of each, once decided (same order as `apis`).
    pub outcomes: Vec<Option<(String, String)>>,
    /// How many times DescribeUpdateVpcInfoTask asked.
    pub polls: u32,
    /// The grant's name and its keys before the change.
    pub from: Grant,
    /// The grant after the change.
    pub to: Grant,
}

/// One RemoveVpcAccessAndAbolishApis operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    /// The (API, stage) pairs it unpublished.
    pub apis: Vec<StageRef>,
    /// How many times DescribeAbolishApiTask asked (the first answer is RUNNING).
    pub polls: u32,
}

/// An (API, stage) pair with the names the answers need.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct StageRef {
    /// Group id.
    pub group_id: String,
    /// API id.
    pub api_id: String,
    /// Stage name.
    pub stage_name: String,
    /// Stage id.
    pub stage_id: String,
}

/// One version of an API in a stage, as history listings show it.
#[derive(Debug, Clone, PartialEq)]
pub struct Version {
    /// Version id.
    pub version: String,
    /// Publication time.
    pub deployed_time: String,
    /// Route of that version.
    pub route: Route,
    /// Whether it is the one live now.
    pub online: bool,
}

/// The VPC keys something refers to, however it was written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VpcRef {
    /// Grant id.
    pub vpc_access_id: Option<String>,
    /// Grant name.
    pub name: Option<String>,
    /// VPC id.
    pub vpc_id: Option<String>,
    /// Instance id.
    pub instance_id: Option<String>,
    /// Port.
    pub port: Option<u16>,
}

impl VpcRef {
    /// Whether it refers to `grant` by id, by name or by the full tuple.
    pub fn matches(&self, grant: &Grant) -> bool {
        self.vpc_access_id.as_deref() == Some(grant.vpc_access_id.as_str())
            || self.name.as_deref() == Some(grant.name.as_str())
            || (self.vpc_id.as_deref() == Some(grant.vpc_id.as_str())
                && self.instance_id.as_deref() == Some(grant.instance_id.as_str())
                && self.port == Some(grant.port))
    }
}

impl From<&VpcRoute> for VpcRef {
    fn from(v: &VpcRoute) -> Self {
        VpcRef {
            vpc_access_id: None,
            name: v.name.clone(),
            vpc_id: v.vpc_id.clone(),
            instance_id: v.instance_id.clone(),
            port: v.port,
        }
    }
}

impl Account {
    /// The account a fixture describes (credentials and faults are not part of it).
    pub fn from_fixture(fixture: &Fixture) -> Self {
        Account {
            region: fixture.region.clone(),
            regions: fixture.regions.clone(),
            grants: fixture.grants.clone(),
            groups: fixture.groups.clone(),
            apis: fixture.apis.clone(),
            deployments: fixture.deployments.clone(),
            history: fixture.history.clone(),
            backends: fixture.backends.clone(),
            index: fixture.index.clone(),
            operations: BTreeMap::new(),
            updates: BTreeMap::new(),
            batch_work_also: fixture.batch_work_also,
            update_faults: UpdateFaults {
                fail: fixture.faults.update_fail.clone(),
                never_finishes: fixture.faults.update_never_finishes,
            },
        }
    }

    /// Whether a grant with this name exists.
    pub fn has_grant_named(&self, name: &str) -> bool {
        self.grants.iter().any(|g| g.name == name)
    }

    /// The first grant with this name.
    pub fn grant_named(&self, name: &str) -> Option<&Grant> {
        self.grants.iter().find(|g| g.name == name)
    }

    /// Every grant with this (VpcId, InstanceId, Port), in fixture order: usually one, but an
    /// account may hold several (see GG305 shared-tuple).
    pub fn grants_by_tuple(&self, vpc_id: &str, instance_id: &str, port: u16) -> Vec<&Grant> {
        self.grants
            .iter()
            .filter(|g| g.vpc_id == vpc_id && g.instance_id == instance_id && g.port == port)
            .collect()
    }

    /// A group by id.
    pub fn group(&self, id: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.id == id)
    }

    /// An API by id.
    pub fn api(&self, id: &str) -> Option<&Api> {
        self.apis.iter().find(|a| a.id == id)
    }

    /// A backend by id.
    pub fn backend(&self, id: &str) -> Option<&Backend> {
        self.backends.iter().find(|b| b.id == id)
    }

    /// The id of a stage of a group (empty for an unknown group).
    pub fn stage_id(&self, group_id: &str, stage: &str) -> String {
        self.group(group_id)
            .and_then(|g| g.stages.get(stage).cloned())
            .unwrap_or_default()
    }

    /// The name of the group, or empty.
    pub fn group_name(&self, group_id: &str) -> String {
        self.group(group_id)
            .map(|g| g.name.clone())
            .unwrap_or_default()
    }

    /// What is live for an API in a stage.
    pub fn deployment(&self, api_id: &str, stage: &str) -> Option<&Deployment> {
        self.deployments
            .iter()
            .find(|d| d.api == api_id && d.stage == stage)
    }

    /// Whether the API is live in the stage.
    pub fn is_deployed(&self, api_id: &str, stage: &str) -> bool {
        self.deployment(api_id, stage).is_some()
    }

    /// Every version of an API in a stage, newest first; the deployed one is ONLINE.
    pub fn versions(&self, api_id: &str, stage: &str) -> Vec<Version> {
        let history = self
            .history
            .iter()
            .filter(|h| h.api == api_id && h.stage == stage);
        self.versions_of(api_id, self.deployment(api_id, stage), history)
    }

    /// [`Account::versions`] from the live deployment and the history entries of one API in
    /// one stage, however they were found.
    fn versions_of<'a>(
        &self,
        api_id: &str,
        live: Option<&Deployment>,
        history: impl Iterator<Item = &'a HistoryEntry>,
    ) -> Vec<Version> {
        let mut out: Vec<Version> = Vec::new();
        let entries = history.map(|h| (&h.version, &h.deployed_time, h.route.as_ref()));
        let live_entry = live.map(|d| (&d.version, &d.deployed_time, d.route.as_ref()));
        for (version, time, route) in live_entry.into_iter().chain(entries) {
            if out.iter().any(|v| &v.version == version) {
                continue;
            }
            let route = match route {
                Some(r) => r.clone(),
                None => match self.api(api_id) {
                    Some(a) => a.route.clone(),
                    None => continue,
                },
            };
            out.push(Version {
                version: version.clone(),
                deployed_time: time.clone(),
                route,
                online: live.is_some_and(|d| &d.version == version),
            });
        }
        out.sort_by(|a, b| {
            b.deployed_time
                .cmp(&a.deployed_time)
                .then(b.version.cmp(&a.version))
        });
        out
    }

    /// The account's deployments and history by (API, stage), for an answer that looks up
    /// many: each of the account's own lookups is a scan, fine for one API and, for a listing
    /// of every API's versions, what kept the emulator's answers from coming after its set
    /// latency.
    pub fn lookup(&self) -> Lookup<'_> {
        let mut live = HashMap::with_capacity(self.deployments.len());
        for d in &self.deployments {
            // The first, as `deployment` finds it.
            live.entry((d.api.as_str(), d.stage.as_str())).or_insert(d);
        }
        let mut history: HashMap<_, Vec<&HistoryEntry>> = HashMap::new();
        for h in &self.history {
            history
                .entry((h.api.as_str(), h.stage.as_str()))
                .or_default()
                .push(h);
        }
        Lookup {
            account: self,
            live,
            history,
        }
    }

    /// The VPC reference a backend's model for `stage` carries, if any.
    pub fn backend_vpc(&self, backend_id: &str, stage: &str) -> Option<VpcRef> {
        let model = self
            .backend(backend_id)?
            .models
            .iter()
            .find(|m| m.stage == stage)?;
        let vpc = model.vpc.as_ref()?;
        Some(VpcRef {
            vpc_access_id: vpc.vpc_access_id.clone(),
            name: vpc.name.clone(),
            vpc_id: vpc.vpc_id.clone(),
            instance_id: vpc.instance_id.clone(),
            port: vpc.port,
        })
    }

    /// Whether a route sends traffic through `grant` directly (an enabled VpcConfig).
    pub fn routes_directly(route: &Route, grant: &Grant) -> bool {
        matches!(route, Route::Vpc(v) if v.enabled && VpcRef::from(v).matches(grant))
    }

    /// Whether a route in `stage` sends traffic through `grant`, directly or through the
    /// backend model of that stage.
    pub fn route_uses(&self, route: &Route, stage: &str, grant: &Grant) -> bool {
        match route {
            Route::Backend(b) => self
                .backend_vpc(&b.id, stage)
                .is_some_and(|v| v.matches(grant)),
            _ => Self::routes_directly(route, grant),
        }
    }

    /// The deployments that still route through `grant`, sorted (what RemoveVpcAccess reports).
    pub fn deployments_using(&self, grant: &Grant) -> Vec<StageRef> {
        let mut out: Vec<StageRef> = self
            .deployments
            .iter()
            .filter(|d| {
                d.route
                    .as_ref()
                    .is_some_and(|r| self.route_uses(r, &d.stage, grant))
            })
            .filter_map(|d| self.stage_ref(&d.api, &d.stage))
            .collect();
        out.sort();
        out
    }

    /// The (API, stage) pair with its group and stage id.
    pub fn stage_ref(&self, api_id: &str, stage: &str) -> Option<StageRef> {
        let api = self.api(api_id)?;
        Some(StageRef {
            group_id: api.group.clone(),
            api_id: api.id.clone(),
            stage_name: stage.to_owned(),
            stage_id: self.stage_id(&api.group, stage),
        })
    }

    /// Makes `route` (or the draft's route) live for an API in a stage with a new version;
    /// the previously live version stays in the history. Returns the new version id.
    pub fn publish(
        &mut self,
        api_id: &str,
        stage: &str,
        route: Option<Route>,
        time: &str,
    ) -> String {
        let mut route = route
            .or_else(|| self.api(api_id).map(|a| a.route.clone()))
            .expect("publish needs a route or an existing API");
        super::fixture::fill_route(&mut route, &self.grants, &self.backends);
        self.retire(api_id, stage);
        let mut version = version_from_time(time);
        while self
            .versions(api_id, stage)
            .iter()
            .any(|v| v.version == version)
        {
            version = (version.parse::<u128>().unwrap_or(0) + 1).to_string();
        }
        self.deployments.push(Deployment {
            api: api_id.to_owned(),
            stage: stage.to_owned(),
            deployed_time: time.to_owned(),
            version: version.clone(),
            route: Some(route),
        });
        version
    }

    /// Takes an API offline in a stage; its version stays in the history as OFFLINE.
    pub fn unpublish(&mut self, api_id: &str, stage: &str) -> bool {
        let before = self.deployments.len();
        self.retire(api_id, stage);
        before != self.deployments.len()
    }

    fn retire(&mut self, api_id: &str, stage: &str) {
        if let Some(pos) = self
            .deployments
            .iter()
            .position(|d| d.api == api_id && d.stage == stage)
        {
            let d = self.deployments.remove(pos);
            if !self
                .history
                .iter()
                .any(|h| h.api == d.api && h.stage == d.stage && h.version == d.version)
            {
                self.history.push(HistoryEntry {
                    api: d.api,
                    stage: d.stage,
                    version: d.version,
                    deployed_time: d.deployed_time,
                    route: d.route,
                });
            }
        }
    }

    /// Adds a draft API to a group (by id or name) and returns its id.
    pub fn add_api(&mut self, group: &str, name: &str, route: Route) -> String {
        let group_id = self
            .groups
            .iter()
            .find(|g| g.id == group || g.name == group)
            .map(|g| g.id.clone())
            .expect("add_api needs an existing group");
        let mut route = route;
        super::fixture::fill_route(&mut route, &self.grants, &self.backends);
        let id = derived_id("api", &format!("{group_id}:{name}"));
        self.apis.push(Api {
            group: group_id,
            id: id.clone(),
            name: name.to_owned(),
            method: "GET".into(),
            path: format!("/{name}"),
            description: String::new(),
            visibility: "PRIVATE".into(),
            created_time: "2024-01-01T00:00:00Z".into(),
            modified_time: "2024-01-01T00:00:00Z".into(),
            route,
        });
        id
    }

    /// Deletes an API with its deployments and history.
    pub fn remove_api(&mut self, api_id: &str) {
        self.apis.retain(|a| a.id != api_id);
        self.deployments.retain(|d| d.api != api_id);
        self.history.retain(|h| h.api != api_id);
    }

    /// Points a direct VPC route that refers to `from` (by name or tuple) at `to`'s tuple,
    /// keeping the name; returns whether it changed.
    pub fn repoint_route(route: &mut Route, from: &Grant, to: &Grant) -> bool {
        match route {
            Route::Vpc(v) if VpcRef::from(&*v).matches(from) => {
                v.name = Some(to.name.clone());
                v.vpc_id = Some(to.vpc_id.clone());
                v.instance_id = Some(to.instance_id.clone());
                v.port = Some(to.port);
                true
            }
            _ => false,
        }
    }

    /// The deployments whose own definition refers to `grant` (a backend-routed one does not:
    /// its grant is in the backend's model), sorted.
    pub fn deployments_naming(&self, grant: &Grant) -> Vec<StageRef> {
        let mut out: Vec<StageRef> = self
            .deployments
            .iter()
            .filter(|d| matches!(&d.route, Some(Route::Vpc(v)) if VpcRef::from(v).matches(grant)))
            .filter_map(|d| self.stage_ref(&d.api, &d.stage))
            .collect();
        out.sort();
        out
    }

    /// Every stage name, in the service's order.
    pub fn stage_names() -> [&'static str; 3] {
        STAGE_NAMES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> Account {
        let f = Fixture::from_json(
            r#"{
  "grants": [{"name": "g1", "vpc_id": "vpc-1", "instance_id": "i-1", "port": 80},
             {"name": "g2", "vpc_id": "vpc-1", "instance_id": "i-2", "port": 80}],
  "groups": [{"name": "orders"}],
  "backends": [{"name": "be", "models": [{"stage": "PRE", "vpc": {"name": "g2"}}]}],
  "apis": [{"group": "orders", "name": "a", "route": {"vpc": {"name": "g1"}}},
           {"group": "orders", "name": "b", "route": {"backend": {"id": "be"}}}],
  "deployments": [{"api": "a", "stage": "RELEASE", "deployed_time": "2024-03-01T00:00:00Z"},
                  {"api": "b", "stage": "PRE"}],
  "history": [{"api": "a", "stage": "RELEASE", "deployed_time": "2023-01-01T00:00:00Z",
               "route": {"http": {"address": "http://old"}}}]
}"#,
        )
        .unwrap();
        Account::from_fixture(&f)
    }

    /// The lookup a listing builds answers exactly as the account's own scans do, for every
    /// API and stage of a generated account (several versions each) and of the small one.
    #[test]
    fn a_lookup_answers_as_the_scans_do() {
        let options = crate::generate::GenerateOptions {
            groups: 3,
            apis_per_group: 8,
            ..Default::default()
        };
        let generated = Account::from_fixture(&crate::generate::fixture(&options));
        for acc in [account(), generated] {
            let lookup = acc.lookup();
            assert!(!acc.history.is_empty());
            for api in &acc.apis {
                for stage in STAGE_NAMES {
                    assert_eq!(
                        lookup.deployment(&api.id, stage),
                        acc.deployment(&api.id, stage)
                    );
                    assert_eq!(
                        lookup.versions(&api.id, stage),
                        acc.versions(&api.id, stage)
                    );
                }
            }
        }
    }

    #[test]
    fn usage_follows_direct_routes_and_backend_models() {
        let acc = account();
        let g1 = acc.grant_named("g1").unwrap().clone();
        let g2 = acc.grant_named("g2").unwrap().clone();
        let used1 = acc.deployments_using(&g1);
        assert_eq!(used1.len(), 1);
        assert_eq!(used1[0].stage_name, "RELEASE");
        let used2 = acc.deployments_using(&g2);
        assert_eq!((used2.len(), used2[0].stage_name.as_str()), (1, "PRE"));
    }

    #[test]
    fn publishing_keeps_the_old_version_offline() {
        let mut acc = account();
        let api = acc.apis[0].id.clone();
        assert_eq!(acc.versions(&api, "RELEASE").len(), 2);
        let v = acc.publish(&api, "RELEASE", None, "2024-05-01T00:00:00Z");
        let versions = acc.versions(&api, "RELEASE");
        assert_eq!(versions.len(), 3);
        assert!(versions[0].online && versions[0].version == v);
        assert!(versions[1..].iter().all(|x| !x.online));
        assert!(acc.unpublish(&api, "RELEASE"));
        assert!(acc.versions(&api, "RELEASE").iter().all(|x| !x.online));
    }
}

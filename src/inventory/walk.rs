//! Client → Inventory: reads one region of the account (grants, groups, drafts, deployments,
//! history, backends and the service's usage index) and translates the vendor's shapes into
//! domain records. Every call that fails after the client's retries becomes a [`Gap`] with its
//! scope; only credentials or clock failures, or a region where not even the grants could be
//! listed, stop the walk with an error. The walk never mutates the account.

use super::model::*;
use crate::client::{CallError, Client, FailureClass};
use crate::wire::actions::{self, Action, PagedAction};
use crate::wire::models::{ApiDefinition, ApiHisItem, VpcConfig};
use futures::future::join_all;
use indicatif::ProgressBar;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use time::OffsetDateTime;

/// How deep and how visibly to walk.
#[derive(Debug, Clone)]
pub struct WalkOptions {
    /// Historical versions read per API and stage besides the online one (rollback targets).
    pub history_depth: usize,
    /// Progress display; hidden when `None`.
    pub progress: Option<ProgressBar>,
}

impl Default for WalkOptions {
    fn default() -> Self {
        Self {
            history_depth: 3,
            progress: None,
        }
    }
}

/// Why a walk produced no inventory at all.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum WalkError {
    /// The service refused our credentials or our clock; nothing read can be trusted.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Stopped(Box<CallError>),
    /// Not even the grants could be listed.
    #[error("nothing could be listed in region {region}: {source}")]
    #[diagnostic(
        code(grantguard::walk::nothing_listed),
        help("check the region, the endpoint and that the credentials may call apigateway:DescribeVpcAccesses")
    )]
    NothingListed {
        /// The region.
        region: RegionId,
        /// The failure of DescribeVpcAccesses.
        #[source]
        source: Box<CallError>,
    },
}

/// Reads the whole region into an [`Inventory`].
pub async fn walk(
    client: &Client,
    region: &RegionId,
    options: &WalkOptions,
) -> Result<Inventory, WalkError> {
    let walker = Walker {
        client,
        options,
        gaps: Mutex::new(Vec::new()),
        stop: Mutex::new(None),
    };
    let mut inventory = Inventory::new(region.clone());

    let grants = match client.pages(actions::DescribeVpcAccesses::default()).await {
        Ok(items) => items,
        Err(error) if stops_the_run(&error) => return Err(WalkError::Stopped(Box::new(error))),
        Err(error) => {
            return Err(WalkError::NothingListed {
                region: region.clone(),
                source: Box::new(error),
            })
        }
    };
    walker.tick();
    inventory.grants = grants.into_iter().map(grant_of).collect();

    let (groups, backends, index) = futures::join!(
        walker.groups(),
        walker.backends(),
        walker.index(&inventory.grants),
    );
    for group in groups {
        inventory.groups.push(group.group);
        inventory.drafts.extend(group.drafts);
        inventory.deployments.extend(group.deployments);
        inventory.history.extend(group.history);
    }
    inventory.backends = backends;
    inventory.index = index;

    if let Some(error) = walker.stop.into_inner().expect("stop lock") {
        return Err(WalkError::Stopped(Box::new(error)));
    }
    inventory.gaps = walker.gaps.into_inner().expect("gap lock");
    inventory.sort();
    inventory.taken_at = OffsetDateTime::now_utc();
    Ok(inventory)
}

/// Credentials and clock failures make every later answer meaningless.
fn stops_the_run(error: &CallError) -> bool {
    matches!(
        error.class,
        FailureClass::Credentials | FailureClass::ClockSkew
    )
}

struct Walker<'a> {
    client: &'a Client,
    options: &'a WalkOptions,
    gaps: Mutex<Vec<Gap>>,
    stop: Mutex<Option<CallError>>,
}

/// What one group contributed.
struct GroupHarvest {
    group: Group,
    drafts: Vec<ApiDraft>,
    deployments: Vec<Deployment>,
    history: Vec<HistoricalVersion>,
}

impl Walker<'_> {
    fn tick(&self) {
        if let Some(bar) = &self.options.progress {
            bar.inc(1);
        }
    }

    fn stopped(&self) -> bool {
        self.stop.lock().expect("stop lock").is_some()
    }

    fn record(&self, error: CallError, grant: Option<&VpcAccessId>) {
        if stops_the_run(&error) {
            let mut stop = self.stop.lock().expect("stop lock");
            if stop.is_none() {
                *stop = Some(error);
            }
            return;
        }
        self.gaps.lock().expect("gap lock").push(Gap {
            scope: error.scope.clone(),
            action: error.action.to_owned(),
            code: error.code.clone(),
            message: error.message.clone(),
            grant: grant.cloned(),
        });
    }

    /// Records a gap that is not a failed call (an answer we cannot interpret).
    fn note(&self, scope: String, action: &str, code: &str, message: String) {
        self.gaps.lock().expect("gap lock").push(Gap {
            scope,
            action: action.to_owned(),
            code: code.to_owned(),
            message,
            grant: None,
        });
    }

    async fn read<A: Action>(&self, action: &A) -> Option<A::Response> {
        if self.stopped() {
            return None;
        }
        let result = self.client.read(action).await;
        self.tick();
        result.map_err(|e| self.record(e, None)).ok()
    }

    async fn list<A: PagedAction>(
        &self,
        action: A,
        grant: Option<&VpcAccessId>,
    ) -> Option<Vec<A::Item>> {
        if self.stopped() {
            return None;
        }
        let result = self.client.pages(action).await;
        self.tick();
        result.map_err(|e| self.record(e, grant)).ok()
    }

    async fn groups(&self) -> Vec<GroupHarvest> {
        let Some(groups) = self.list(actions::DescribeApiGroups::default(), None).await else {
            return Vec::new();
        };
        join_all(
            groups
                .iter()
                .map(|g| self.group(&g.group_id, &g.group_name, &g.modified_time)),
        )
        .await
    }

    async fn group(&self, group_id: &str, group_name: &str, modified_time: &str) -> GroupHarvest {
        let detail = self
            .read(&actions::DescribeApiGroup {
                group_id: group_id.to_owned(),
            })
            .await;
        let stages = match &detail {
            Some(detail) => {
                let mut stages = Vec::new();
                for info in &detail.stage_items.items {
                    match Stage::parse(&info.stage_name) {
                        Some(stage) => stages.push(GroupStage {
                            id: info.stage_id.clone(),
                            stage,
                        }),
                        None => self.note(
                            format!("group:{group_id}"),
                            actions::DescribeApiGroup::NAME,
                            "UnknownStage",
                            format!("stage {:?} is not RELEASE, PRE or TEST", info.stage_name),
                        ),
                    }
                }
                stages
            }
            // Without the group's own stage list, every stage the service knows may hold APIs.
            None => Stage::ALL
                .iter()
                .map(|&stage| GroupStage {
                    id: String::new(),
                    stage,
                })
                .collect(),
        };
        let group = Group {
            id: GroupId::from(group_id),
            name: group_name.to_owned(),
            stages,
            modified_time: modified_time.to_owned(),
        };

        let (drafts, deployed, history) = futures::join!(
            self.drafts(&group),
            self.deployments(&group),
            self.history_listing(&group),
        );
        let (deployments, history) = self.resolve_history(&group, deployed, history).await;
        GroupHarvest {
            group,
            drafts,
            deployments,
            history,
        }
    }

    async fn drafts(&self, group: &Group) -> Vec<ApiDraft> {
        let Some(summaries) = self
            .list(actions::DescribeApis::in_group(group.id.as_str()), None)
            .await
        else {
            return Vec::new();
        };
        let reads = summaries.iter().map(|summary| async move {
            let action = actions::DescribeApi {
                group_id: group.id.0.clone(),
                api_id: summary.api_id.clone(),
            };
            let definition = self.read(&action).await?;
            let identity = ApiIdentity {
                group_id: group.id.clone(),
                group_name: group.name.clone(),
                api_id: ApiId::from(summary.api_id.as_str()),
                api_name: summary.api_name.clone(),
                method: summary.api_method.clone(),
                path: summary.api_path.clone(),
            };
            Some(ApiDraft {
                api: identity,
                modified_time: summary.modified_time.clone(),
                route: route_of(&definition),
            })
        });
        join_all(reads).await.into_iter().flatten().collect()
    }

    /// The deployed definitions of every stage, with routes still to be completed from history
    /// where the deployed shape cannot show a backend service (reference trap 8).
    async fn deployments(&self, group: &Group) -> Vec<Deployment> {
        let stages = group.stages.iter().map(|s| async move {
            let action = actions::DescribeDeployedApis {
                group_id: group.id.0.clone(),
                stage_name: s.stage.as_str().to_owned(),
                page: None,
            };
            let Some(items) = self.list(action, None).await else {
                return Vec::new();
            };
            let reads = items.iter().map(|item| async move {
                let action = actions::DescribeDeployedApi {
                    group_id: group.id.0.clone(),
                    api_id: item.api_id.clone(),
                    stage_name: s.stage.as_str().to_owned(),
                };
                let definition = self.read(&action).await?;
                let identity = identity_of(group, &definition, &item.api_method, &item.api_path);
                Some(Deployment {
                    api: identity,
                    stage: s.stage,
                    deployed_time: item.deployed_time.clone(),
                    effective_version: None,
                    route: deployed_route_of(&definition),
                })
            });
            join_all(reads)
                .await
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
        });
        join_all(stages).await.into_iter().flatten().collect()
    }

    async fn history_listing(&self, group: &Group) -> Option<Vec<ApiHisItem>> {
        let action = actions::DescribeHistoryApis {
            group_id: group.id.0.clone(),
            api_id: None,
            stage_name: None,
            page: None,
        };
        self.list(action, None).await
    }

    /// Reads the versions a rollback could reach, and the online version of every deployment
    /// whose deployed definition does not show where it routes.
    async fn resolve_history(
        &self,
        group: &Group,
        mut deployments: Vec<Deployment>,
        listing: Option<Vec<ApiHisItem>>,
    ) -> (Vec<Deployment>, Vec<HistoricalVersion>) {
        // Without the history listing (already a gap), deployments that may use a backend
        // stay unresolved, which the graph treats as "could be any grant".
        let Some(listing) = listing else {
            return (deployments, Vec::new());
        };

        let mut per_api_stage: BTreeMap<(String, Stage), Vec<&ApiHisItem>> = BTreeMap::new();
        for item in &listing {
            match Stage::parse(&item.stage_name) {
                Some(stage) => per_api_stage
                    .entry((item.api_id.clone(), stage))
                    .or_default()
                    .push(item),
                None => self.note(
                    format!("group:{}", group.id),
                    actions::DescribeHistoryApis::NAME,
                    "UnknownStage",
                    format!("stage {:?} is not RELEASE, PRE or TEST", item.stage_name),
                ),
            }
        }

        let needs_online: HashMap<(String, Stage), usize> = deployments
            .iter()
            .enumerate()
            .filter(|(_, d)| d.route == Route::Unresolved)
            .map(|(i, d)| ((d.api.api_id.0.clone(), d.stage), i))
            .collect();

        let mut wanted: Vec<(&ApiHisItem, Stage, bool)> = Vec::new();
        for ((api_id, stage), mut versions) in per_api_stage {
            // Newest first: version ids and deployment times both sort chronologically.
            versions.sort_by(|a, b| {
                b.deployed_time
                    .cmp(&a.deployed_time)
                    .then(b.history_version.cmp(&a.history_version))
            });
            let online_needed = needs_online.contains_key(&(api_id.clone(), stage));
            let mut offline_taken = 0;
            for item in versions {
                let online = item.status.eq_ignore_ascii_case("ONLINE");
                if online {
                    if online_needed {
                        wanted.push((item, stage, true));
                    }
                } else if offline_taken < self.options.history_depth {
                    offline_taken += 1;
                    wanted.push((item, stage, false));
                }
            }
        }

        let reads = wanted.into_iter().map(|(item, stage, online)| async move {
            let version = item.history_version.clone().unwrap_or_default();
            let action = actions::DescribeApiHistory {
                group_id: group.id.0.clone(),
                api_id: item.api_id.clone(),
                stage_name: stage.as_str().to_owned(),
                history_version: version.clone(),
            };
            let definition = self.read(&action).await?;
            let method = definition
                .request_config
                .as_ref()
                .map(|r| r.request_http_method.clone())
                .unwrap_or_default();
            let path = definition
                .request_config
                .as_ref()
                .map(|r| r.request_path.clone())
                .unwrap_or_default();
            Some(HistoricalVersion {
                api: identity_of(group, &definition, &method, &path),
                stage,
                version,
                online,
                deployed_time: item.deployed_time.clone(),
                route: route_of(&definition),
            })
        });
        let versions: Vec<HistoricalVersion> =
            join_all(reads).await.into_iter().flatten().collect();

        for version in versions.iter().filter(|v| v.online) {
            if let Some(&i) = needs_online.get(&(version.api.api_id.0.clone(), version.stage)) {
                deployments[i].route = version.route.clone();
                deployments[i].effective_version = Some(version.version.clone());
            }
        }
        for d in deployments.iter().filter(|d| d.route == Route::Unresolved) {
            self.note(
                format!("api:{}/stage:{}", d.api.api_id, d.stage),
                actions::DescribeApiHistory::NAME,
                "UnresolvedRoute",
                format!(
                    "{} @ {}: the deployed definition does not show its backend and its online version could not be read",
                    d.api, d.stage
                ),
            );
        }
        let history = versions.into_iter().filter(|v| !v.online).collect();
        (deployments, history)
    }

    async fn backends(&self) -> Vec<Backend> {
        let Some(list) = self
            .list(actions::DescribeBackendList::default(), None)
            .await
        else {
            return Vec::new();
        };
        let reads = list.iter().map(|summary| async move {
            let info = self
                .read(&actions::DescribeBackendInfo {
                    backend_id: summary.backend_id.clone(),
                })
                .await?
                .backend_info;
            let mut models = Vec::new();
            for model in &info.backend_models {
                let Some(stage) = Stage::parse(&model.stage_name) else {
                    self.note(
                        format!("backend:{}", info.backend_id),
                        actions::DescribeBackendInfo::NAME,
                        "UnknownStage",
                        format!("stage {:?} is not RELEASE, PRE or TEST", model.stage_name),
                    );
                    continue;
                };
                let vpc = model
                    .backend_config
                    .vpc_config
                    .as_ref()
                    .map(|c| vpc_ref(c, true));
                models.push(BackendModel { stage, vpc });
            }
            let users = self.backend_users(&info.backend_id, &models).await;
            Some(Backend {
                id: BackendId::from(info.backend_id.as_str()),
                name: info.backend_name.clone(),
                backend_type: info.backend_type.clone(),
                models,
                users,
            })
        });
        join_all(reads).await.into_iter().flatten().collect()
    }

    /// The service's own list of APIs using a backend, per stage whose model names a grant and
    /// for drafts; a cross-check of the routes resolved from history.
    async fn backend_users(&self, backend_id: &str, models: &[BackendModel]) -> Vec<BackendUser> {
        if models.iter().all(|m| m.vpc.is_none()) {
            return Vec::new();
        }
        let mut stages: Vec<Option<Stage>> = models
            .iter()
            .filter(|m| m.vpc.is_some())
            .map(|m| Some(m.stage))
            .collect();
        stages.push(None);
        let reads = stages.into_iter().map(|stage| async move {
            let action = actions::DescribeApisByBackend {
                backend_id: backend_id.to_owned(),
                stage_name: stage.map(|s| s.as_str().to_owned()),
                page: None,
            };
            let items = self.list(action, None).await.unwrap_or_default();
            items
                .into_iter()
                .map(|item| BackendUser {
                    group_id: GroupId::from(item.group_id),
                    api_id: ApiId::from(item.api_id),
                    stage,
                })
                .collect::<Vec<_>>()
        });
        join_all(reads).await.into_iter().flatten().collect()
    }

    async fn index(&self, grants: &[Grant]) -> Vec<IndexedUse> {
        let reads = grants.iter().map(|grant| async move {
            let action = actions::DescribeApisByVpcAccess {
                vpc_name: grant.name.clone(),
                page: None,
            };
            let items = self.list(action, Some(&grant.id)).await.unwrap_or_default();
            let mut uses = Vec::new();
            for item in items {
                match Stage::parse(&item.stage_name) {
                    Some(stage) => uses.push(IndexedUse {
                        grant: grant.id.clone(),
                        group_id: GroupId::from(item.group_id),
                        group_name: item.group_name,
                        api_id: ApiId::from(item.api_id),
                        api_name: item.api_name,
                        stage,
                    }),
                    None => self.gaps.lock().expect("gap lock").push(Gap {
                        scope: format!("grant:{}", grant.id),
                        action: actions::DescribeApisByVpcAccess::NAME.to_owned(),
                        code: "UnknownStage".to_owned(),
                        message: format!("stage {:?} is not RELEASE, PRE or TEST", item.stage_name),
                        grant: Some(grant.id.clone()),
                    }),
                }
            }
            uses
        });
        join_all(reads).await.into_iter().flatten().collect()
    }
}

fn grant_of(v: crate::wire::models::VpcAccessAttribute) -> Grant {
    Grant {
        id: VpcAccessId::from(v.vpc_access_id),
        name: v.name,
        key: GrantKey {
            vpc_id: VpcId::from(v.vpc_id),
            instance_id: InstanceId::from(v.instance_id),
            port: v.port,
        },
        description: v.description,
        vpc_target_host_name: v.vpc_target_host_name,
        created_time: v.created_time,
    }
}

fn identity_of(group: &Group, definition: &ApiDefinition, method: &str, path: &str) -> ApiIdentity {
    let request = definition.request_config.as_ref();
    let pick = |listed: &str, defined: Option<&String>| {
        if listed.is_empty() {
            defined.cloned().unwrap_or_default()
        } else {
            listed.to_owned()
        }
    };
    ApiIdentity {
        group_id: group.id.clone(),
        group_name: group.name.clone(),
        api_id: ApiId::from(definition.api_id.as_str()),
        api_name: definition.api_name.clone(),
        method: pick(method, request.map(|r| &r.request_http_method)),
        path: pick(path, request.map(|r| &r.request_path)),
    }
}

fn vpc_ref(config: &VpcConfig, enabled: bool) -> VpcRef {
    VpcRef {
        name: config.name.clone().filter(|s| !s.is_empty()),
        vpc_id: config
            .vpc_id
            .clone()
            .filter(|s| !s.is_empty())
            .map(VpcId::from),
        instance_id: config
            .instance_id
            .clone()
            .filter(|s| !s.is_empty())
            .map(InstanceId::from),
        port: config.port,
        vpc_access_id: config
            .vpc_access_id
            .clone()
            .filter(|s| !s.is_empty())
            .map(VpcAccessId::from),
        enabled,
    }
}

fn has_any_key(r: &VpcRef) -> bool {
    r.name.is_some() || r.vpc_id.is_some() || r.instance_id.is_some() || r.vpc_access_id.is_some()
}

/// Where a draft or historical definition sends traffic. These shapes carry `BackendEnable`.
pub fn route_of(definition: &ApiDefinition) -> Route {
    if definition.backend_enable == Some(true) {
        return match &definition.backend_config {
            Some(config) if !config.backend_id.is_empty() => Route::Backend {
                backend_id: BackendId::from(config.backend_id.as_str()),
            },
            _ => Route::Unresolved,
        };
    }
    service_route(definition).unwrap_or(Route::Other)
}

/// Where a deployed definition sends traffic, or `Unresolved` when only the online history
/// version can tell (DescribeDeployedApi never shows a backend service, reference trap 8).
pub fn deployed_route_of(definition: &ApiDefinition) -> Route {
    match service_route(definition) {
        Some(route @ Route::Vpc { .. }) => route,
        _ => Route::Unresolved,
    }
}

fn service_route(definition: &ApiDefinition) -> Option<Route> {
    let service = definition.service_config.as_ref()?;
    let enabled = service.vpc_enabled();
    match &service.vpc_config {
        Some(config) => {
            let mut vpc = vpc_ref(config, enabled);
            if vpc.vpc_id.is_none() {
                vpc.vpc_id = service
                    .vpc_id
                    .clone()
                    .filter(|s| !s.is_empty())
                    .map(VpcId::from);
            }
            if has_any_key(&vpc) {
                Some(Route::Vpc { vpc })
            } else if enabled {
                // VPC routing switched on with no way to tell which grant: could be any.
                Some(Route::Unresolved)
            } else {
                None
            }
        }
        None if enabled => Some(Route::Unresolved),
        None => None,
    }
}

impl Inventory {
    /// Puts every list in a stable order so two walks of the same account compare equal.
    pub fn sort(&mut self) {
        self.grants.sort_by(|a, b| a.id.cmp(&b.id));
        self.groups.sort_by(|a, b| a.id.cmp(&b.id));
        self.drafts.sort_by(|a, b| a.api.api_id.cmp(&b.api.api_id));
        self.deployments
            .sort_by(|a, b| (&a.api.api_id, a.stage).cmp(&(&b.api.api_id, b.stage)));
        self.history.sort_by(|a, b| {
            (&a.api.api_id, a.stage, &a.version).cmp(&(&b.api.api_id, b.stage, &b.version))
        });
        self.backends.sort_by(|a, b| a.id.cmp(&b.id));
        for backend in &mut self.backends {
            backend.models.sort_by_key(|m| m.stage);
            backend
                .users
                .sort_by(|a, b| (&a.api_id, a.stage).cmp(&(&b.api_id, b.stage)));
        }
        self.index
            .sort_by(|a, b| (&a.grant, &a.api_id, a.stage).cmp(&(&b.grant, &b.api_id, b.stage)));
        self.gaps
            .sort_by(|a, b| (&a.scope, &a.action, &a.code).cmp(&(&b.scope, &b.action, &b.code)));
    }
}

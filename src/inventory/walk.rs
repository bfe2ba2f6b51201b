//! Client → Inventory: reads one region of the account (grants, groups, drafts, deployments,
//! history, backends and the service's usage index) and translates the vendor's shapes into
//! domain records. Every call that fails after the client's retries becomes a [`Gap`] with its
//! scope; only credentials or clock failures, or a region where not even the grants could be
//! listed, stop the walk with an error. The walk never mutates the account.

use super::model::*;
use crate::client::{CallError, Client, FailureClass};
use futures::future::join_all;
use grantguard_wire::actions::{self, Action, PagedAction};
use grantguard_wire::models::{
    ApiBackendConfig, ApiDefinition, ApiHisItem, ApiSummary, BackendModelConfig, DeployedApiItem,
    VpcConfig,
};
use indicatif::ProgressBar;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// The endpoint never answered: nothing listens there, or it is unreachable from here.
    #[error("cannot reach endpoint {endpoint}: nothing could be listed in region {region}")]
    #[diagnostic(code(grantguard::walk::unreachable), help("{hint}"))]
    Unreachable {
        /// The endpoint's base URL.
        endpoint: String,
        /// What to check, for the way this connection failed.
        hint: String,
        /// The region.
        region: RegionId,
        /// The connect failure of DescribeVpcAccesses.
        #[source]
        source: Box<CallError>,
    },
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

impl WalkError {
    /// The region and the failed listing when the walk could list nothing (endpoint
    /// unreachable or DescribeVpcAccesses refused); `None` when the service stopped the run.
    pub fn nothing_listed(&self) -> Option<(&RegionId, &CallError)> {
        match self {
            WalkError::NothingListed { region, source }
            | WalkError::Unreachable { region, source, .. } => Some((region, source)),
            WalkError::Stopped(_) => None,
        }
    }
}

/// Reads the whole region into an [`Inventory`].
pub async fn walk(
    client: &Client,
    region: &RegionId,
    options: &WalkOptions,
) -> Result<Inventory, WalkError> {
    walk_with_cache(client, region, options, None).await
}

/// Reads the whole region, reusing from `cache` (the inventory of an earlier walk of the same
/// region) only what the live listings prove unchanged: a draft whose `ModifiedTime` is the
/// cached one, a deployment whose `DeployedTime` and ONLINE version are the cached ones, a
/// historical version with the cached id and `DeployedTime`. Everything else, and every
/// listing, backend and index entry, is read live. A cache of another region is ignored.
pub async fn walk_with_cache(
    client: &Client,
    region: &RegionId,
    options: &WalkOptions,
    cache: Option<&Inventory>,
) -> Result<Inventory, WalkError> {
    Ok(walk_incrementally(client, region, options, cache)
        .await?
        .inventory)
}

/// An incremental walk's inventory and how many definitions it took from the earlier one.
#[derive(Debug)]
pub struct Rewalk {
    /// The inventory, as complete as a full walk's.
    pub inventory: Inventory,
    /// Definitions (drafts, deployments, versions) reused because a live listing proved them
    /// unchanged; everything else was read again.
    pub reused: u64,
}

/// [`walk_with_cache`], also saying how much it reused: the removal's re-check walks this way
/// against the audit it is about to act on.
pub async fn walk_incrementally(
    client: &Client,
    region: &RegionId,
    options: &WalkOptions,
    cache: Option<&Inventory>,
) -> Result<Rewalk, WalkError> {
    let walker = Walker {
        client,
        options,
        gaps: Mutex::new(Vec::new()),
        stop: Mutex::new(None),
        reuse: Reuse::of(cache.filter(|c| &c.region == region)),
        reused: AtomicU64::new(0),
    };
    let mut inventory = Inventory::new(region.clone());

    let grants = match client.pages(actions::DescribeVpcAccesses::default()).await {
        Ok(items) => items,
        Err(error) if stops_the_run(&error) => return Err(WalkError::Stopped(Box::new(error))),
        Err(error) if error.code == "ConnectFailed" => {
            return Err(WalkError::Unreachable {
                endpoint: client.endpoint().to_owned(),
                hint: unreachable_hint(client.endpoint(), &error.message),
                region: region.clone(),
                source: Box::new(error),
            })
        }
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
    let reused = walker.reused.load(Ordering::Relaxed);
    tracing::info!(reused, "definitions reused from the cache");
    inventory.sort();
    inventory.share_identities();
    inventory.taken_at = OffsetDateTime::now_utc();
    Ok(Rewalk { inventory, reused })
}

/// What to check when the endpoint never answered. A TLS handshake that meets a plain-HTTP
/// server fails with "corrupt message" (rustls' `InvalidContentType`): say so, since the
/// emulator and most local test servers speak plain HTTP.
fn unreachable_hint(endpoint: &str, failure: &str) -> String {
    let plain_http_answered =
        failure.contains("InvalidContentType") || failure.contains("corrupt message");
    if endpoint.starts_with("https://") && plain_http_answered {
        let plain = endpoint.replacen("https://", "http://", 1);
        format!("this port does not speak TLS; a local emulator (`grantguard sim serve`) uses plain HTTP: --endpoint {plain}")
    } else {
        "check --endpoint (or GRANTGUARD_ENDPOINT), the region, and that the network allows the connection".to_owned()
    }
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
    reuse: Reuse<'a>,
    reused: AtomicU64,
}

/// The history listing of one group per (API id, stage), newest first.
type VersionMap = HashMap<(String, Stage), Vec<ApiHisItem>>;

/// The stages to list deployments in: the group's own, plus any stage an API is deployed to
/// (DescribeApis' DeployedInfos) or published in (the history listing), in stage order.
fn stages_to_walk(group: &Group, summaries: &[ApiSummary], history: &[ApiHisItem]) -> Vec<Stage> {
    let deployed = summaries
        .iter()
        .flat_map(|s| &s.deployed_infos.items)
        .filter(|i| i.deployed_status.eq_ignore_ascii_case("DEPLOYED"))
        .filter_map(|i| Stage::parse(&i.stage_name));
    let published = history.iter().filter_map(|i| Stage::parse(&i.stage_name));
    let mut stages: Vec<Stage> = group
        .stages
        .iter()
        .map(|s| s.stage)
        .chain(deployed)
        .chain(published)
        .collect();
    stages.sort();
    stages.dedup();
    stages
}

/// DescribeApiHistory of one version of an API in a stage.
fn history_of(
    group: &Group,
    api_id: &str,
    stage: Stage,
    version: &str,
) -> actions::DescribeApiHistory {
    actions::DescribeApiHistory {
        group_id: group.id.0.clone(),
        api_id: api_id.to_owned(),
        stage_name: stage.as_str().to_owned(),
        history_version: version.to_owned(),
    }
}

/// `EffectiveVersion` per (API id, stage) that DescribeApis lists as deployed.
fn effective_versions(summaries: &[ApiSummary]) -> HashMap<(&str, Stage), &str> {
    let mut map = HashMap::new();
    for summary in summaries {
        for info in &summary.deployed_infos.items {
            let version = info.effective_version.as_deref().unwrap_or_default();
            if !info.deployed_status.eq_ignore_ascii_case("DEPLOYED") || version.is_empty() {
                continue;
            }
            if let Some(stage) = Stage::parse(&info.stage_name) {
                map.insert((summary.api_id.as_str(), stage), version);
            }
        }
    }
    map
}

/// An earlier walk's results, indexed by what a listing can prove unchanged.
#[derive(Default)]
struct Reuse<'a> {
    drafts: HashMap<&'a str, &'a ApiDraft>,
    deployments: HashMap<(&'a str, Stage), &'a Deployment>,
    versions: HashMap<(&'a str, Stage, &'a str), &'a HistoricalVersion>,
}

impl<'a> Reuse<'a> {
    fn of(cache: Option<&'a Inventory>) -> Self {
        let Some(cache) = cache else {
            return Reuse::default();
        };
        Reuse {
            drafts: cache
                .drafts
                .iter()
                .map(|d| (d.api.api_id.as_str(), d))
                .collect(),
            deployments: cache
                .deployments
                .iter()
                .map(|d| ((d.api.api_id.as_str(), d.stage), d))
                .collect(),
            versions: cache
                .history
                .iter()
                .map(|v| ((v.api.api_id.as_str(), v.stage, v.version.as_str()), v))
                .collect(),
        }
    }

    /// The cached draft, when the listing shows the same group and modification time.
    fn draft(&self, group: &Group, summary: &ApiSummary) -> Option<&'a ApiDraft> {
        let cached = self.drafts.get(summary.api_id.as_str())?;
        (!summary.modified_time.is_empty()
            && cached.modified_time == summary.modified_time
            && cached.api.group_id == group.id)
            .then_some(*cached)
    }

    /// The cached deployment, when it was resolved from the same ONLINE version deployed at
    /// the same time (a redeployment or a rollback changes both).
    fn deployment(
        &self,
        item: &DeployedApiItem,
        stage: Stage,
        version: &str,
    ) -> Option<&'a Deployment> {
        let cached = self.deployments.get(&(item.api_id.as_str(), stage))?;
        (!item.deployed_time.is_empty()
            && cached.deployed_time == item.deployed_time
            && cached.effective_version.as_deref() == Some(version))
        .then_some(*cached)
    }

    /// The cached historical version with the same id and deployment time.
    fn version(
        &self,
        item: &ApiHisItem,
        stage: Stage,
        version: &str,
    ) -> Option<&'a HistoricalVersion> {
        if version.is_empty() || item.deployed_time.is_empty() {
            return None;
        }
        let cached = self.versions.get(&(item.api_id.as_str(), stage, version))?;
        (cached.deployed_time == item.deployed_time && !cached.online).then_some(*cached)
    }
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

    fn reused(&self) {
        self.reused.fetch_add(1, Ordering::Relaxed);
    }

    /// A read whose ordinary failure is the caller's to handle (`Err(Some)`, no gap recorded);
    /// `Err(None)` when the run is stopping (a credentials or clock failure is recorded).
    async fn read_quietly<A: Action>(&self, action: &A) -> Result<A::Response, Option<CallError>> {
        if self.stopped() {
            return Err(None);
        }
        let result = self.client.read(action).await;
        self.tick();
        match result {
            Ok(response) => Ok(response),
            Err(error) if stops_the_run(&error) => {
                self.record(error, None);
                Err(None)
            }
            Err(error) => Err(Some(error)),
        }
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

        let (summaries, listing) = futures::join!(
            self.list(actions::DescribeApis::in_group(group.id.as_str()), None),
            self.history_listing(&group),
        );
        let summaries_read = summaries.as_deref().unwrap_or_default();
        // A group's own stage list can leave a stage out; the stages its APIs are deployed to
        // and published in are walked too, so no live stage goes unread.
        let stages = stages_to_walk(
            &group,
            summaries_read,
            listing.as_deref().unwrap_or_default(),
        );
        let deployed = self.deployed_listings(&group, &stages).await;
        self.check_listings_agree(&group, summaries_read, &deployed);
        let versions = listing.map(|items| self.versions_by_api_stage(&group, items));
        let effective = effective_versions(summaries_read);
        let (drafts, deployments, history) = futures::join!(
            self.drafts(&group, summaries.as_deref().unwrap_or_default()),
            self.deployments(&group, &deployed, versions.as_ref(), &effective),
            self.history(&group, versions.as_ref()),
        );
        GroupHarvest {
            group,
            drafts,
            deployments,
            history,
        }
    }

    /// One draft per listed API: reused from the cache when the listing's `ModifiedTime` is the
    /// cached one, else read with DescribeApi.
    async fn drafts(&self, group: &Group, summaries: &[ApiSummary]) -> Vec<ApiDraft> {
        let reads = summaries.iter().map(|summary| async move {
            let identity = ApiRef::new(ApiIdentity {
                group_id: group.id.clone(),
                group_name: group.name.clone(),
                api_id: ApiId::from(summary.api_id.as_str()),
                api_name: summary.api_name.clone(),
                method: summary.api_method.clone(),
                path: summary.api_path.clone(),
            });
            if let Some(cached) = self.reuse.draft(group, summary) {
                self.reused();
                return Some(ApiDraft {
                    api: identity,
                    modified_time: summary.modified_time.clone(),
                    route: cached.route.clone(),
                });
            }
            let action = actions::DescribeApi {
                group_id: group.id.0.clone(),
                api_id: summary.api_id.clone(),
            };
            let definition = self.read(&action).await?;
            Some(ApiDraft {
                api: identity,
                modified_time: summary.modified_time.clone(),
                route: route_of(&definition),
            })
        });
        join_all(reads).await.into_iter().flatten().collect()
    }

    /// DescribeDeployedApis for every stage of the group; `None` for a stage that could not
    /// be listed (already a gap).
    async fn deployed_listings(
        &self,
        group: &Group,
        stages: &[Stage],
    ) -> Vec<(Stage, Option<Vec<DeployedApiItem>>)> {
        join_all(stages.iter().map(|&stage| async move {
            let action = actions::DescribeDeployedApis {
                group_id: group.id.0.clone(),
                stage_name: stage.as_str().to_owned(),
                page: None,
            };
            (stage, self.list(action, None).await)
        }))
        .await
    }

    /// DescribeApis says which stages each API is deployed to; a deployment that the stage's
    /// DescribeDeployedApis listing does not show was not read, so it is a gap, never silence.
    fn check_listings_agree(
        &self,
        group: &Group,
        summaries: &[ApiSummary],
        deployed: &[(Stage, Option<Vec<DeployedApiItem>>)],
    ) {
        for summary in summaries {
            for info in &summary.deployed_infos.items {
                let Some(stage) = Stage::parse(&info.stage_name) else {
                    continue;
                };
                if !info.deployed_status.eq_ignore_ascii_case("DEPLOYED") {
                    continue;
                }
                let listed = deployed.iter().find(|(s, _)| *s == stage);
                // A stage whose listing failed is already a gap.
                let Some((_, Some(items))) = listed else {
                    continue;
                };
                if !items.iter().any(|item| item.api_id == summary.api_id) {
                    self.note(
                        format!("api:{}/stage:{stage}", summary.api_id),
                        actions::DescribeDeployedApis::NAME,
                        "ListingsDisagree",
                        format!(
                            "DescribeApis lists {}/{} as deployed in {stage}, but DescribeDeployedApis of group {} does not",
                            group.name, summary.api_name, group.id
                        ),
                    );
                }
            }
        }
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

    /// The history listing per (API, stage), newest first (version ids and deployment times
    /// both sort chronologically).
    fn versions_by_api_stage(&self, group: &Group, listing: Vec<ApiHisItem>) -> VersionMap {
        let mut map: VersionMap = HashMap::new();
        for item in listing {
            match Stage::parse(&item.stage_name) {
                Some(stage) => map
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
        for versions in map.values_mut() {
            versions.sort_by(|a, b| {
                b.deployed_time
                    .cmp(&a.deployed_time)
                    .then(b.history_version.cmp(&a.history_version))
            });
        }
        map
    }

    /// One deployment per listed (API, stage). The route comes from the ONLINE history version
    /// when the listings agree on which version that is (same deployment time in
    /// DescribeDeployedApis and DescribeHistoryApis, same EffectiveVersion in DescribeApis when
    /// it is given): that definition is the live one and, unlike DescribeDeployedApi, shows a
    /// backend service (docs/cloudapi-notes.md trap 8), so one call settles the route. Otherwise the walk
    /// falls back to DescribeDeployedApi and, when that cannot show the route, to the ONLINE
    /// version; what stays unresolved is a gap.
    async fn deployments(
        &self,
        group: &Group,
        listings: &[(Stage, Option<Vec<DeployedApiItem>>)],
        versions: Option<&VersionMap>,
        effective: &HashMap<(&str, Stage), &str>,
    ) -> Vec<Deployment> {
        let items = listings
            .iter()
            .filter_map(|(stage, items)| Some((*stage, items.as_ref()?)))
            .flat_map(|(stage, items)| items.iter().map(move |item| (stage, item)));
        let reads = items.map(|(stage, item)| async move {
            let listed = versions.and_then(|v| v.get(&(item.api_id.clone(), stage)));
            let online = listed.and_then(|v| {
                let mut online = v.iter().filter(|i| i.status.eq_ignore_ascii_case("ONLINE"));
                let first = online.next()?;
                online.next().is_none().then_some(first)
            });
            let proven = online.and_then(|o| {
                let version = o.history_version.as_deref().filter(|v| !v.is_empty())?;
                let same_time =
                    !item.deployed_time.is_empty() && item.deployed_time == o.deployed_time;
                let same_version = effective
                    .get(&(item.api_id.as_str(), stage))
                    .is_none_or(|e| *e == version);
                (same_time && same_version).then_some(version)
            });
            if let Some(version) = proven {
                if let Some(cached) = self.reuse.deployment(item, stage, version) {
                    self.reused();
                    return Some(cached.clone());
                }
                let action = history_of(group, &item.api_id, stage, version);
                match self.read_quietly(&action).await {
                    Ok(definition) => {
                        return Some(Deployment {
                            api: identity_of(group, &definition, &item.api_method, &item.api_path),
                            stage,
                            deployed_time: item.deployed_time.clone(),
                            effective_version: Some(version.to_owned()),
                            route: route_of(&definition),
                        })
                    }
                    Err(None) => return None,
                    // Changed under the walk, or not readable: the slow path decides.
                    Err(Some(_)) => {}
                }
            }
            self.deployment_the_slow_way(group, stage, item, online)
                .await
        });
        join_all(reads).await.into_iter().flatten().collect()
    }

    /// DescribeDeployedApi, then the ONLINE version when the deployed shape cannot show where
    /// the API routes; an unresolved route is kept (the graph treats it as "could be any
    /// grant") and recorded as a gap.
    async fn deployment_the_slow_way(
        &self,
        group: &Group,
        stage: Stage,
        item: &DeployedApiItem,
        online: Option<&ApiHisItem>,
    ) -> Option<Deployment> {
        let action = actions::DescribeDeployedApi {
            group_id: group.id.0.clone(),
            api_id: item.api_id.clone(),
            stage_name: stage.as_str().to_owned(),
        };
        let definition = self.read(&action).await?;
        let mut deployment = Deployment {
            api: identity_of(group, &definition, &item.api_method, &item.api_path),
            stage,
            deployed_time: item.deployed_time.clone(),
            effective_version: None,
            route: deployed_route_of(&definition),
        };
        if !names_its_target(&deployment.route) {
            if let Some(online) = online {
                let version = online.history_version.clone().unwrap_or_default();
                let action = history_of(group, &item.api_id, stage, &version);
                if let Some(definition) = self.read(&action).await {
                    let route = route_of(&definition);
                    // A deployed definition that says VPC without naming the grant takes only
                    // an online route that names a target: one saying "no VPC" contradicts it.
                    if deployment.route == Route::Unresolved || names_its_target(&route) {
                        deployment.route = route;
                        deployment.effective_version = Some(version);
                    }
                }
            }
        }
        if deployment.route == Route::Unresolved {
            self.note(
                format!("api:{}/stage:{}", deployment.api.api_id, stage),
                actions::DescribeApiHistory::NAME,
                "UnresolvedRoute",
                format!(
                    "{} @ {}: the deployed definition does not show its backend and its online version could not be read",
                    deployment.api, stage
                ),
            );
        }
        Some(deployment)
    }

    /// The offline versions a rollback could reach, newest first, `history_depth` per (API,
    /// stage). A version's definition never changes, so a cached one with the same id and
    /// deployment time is reused.
    async fn history(
        &self,
        group: &Group,
        versions: Option<&VersionMap>,
    ) -> Vec<HistoricalVersion> {
        // Without the history listing (already a gap) there is nothing to read.
        let Some(versions) = versions else {
            return Vec::new();
        };
        let wanted = versions.iter().flat_map(|((_, stage), items)| {
            items
                .iter()
                .filter(|i| !i.status.eq_ignore_ascii_case("ONLINE"))
                .take(self.options.history_depth)
                .map(move |item| (*stage, item))
        });
        let reads = wanted.map(|(stage, item)| async move {
            let version = item.history_version.clone().unwrap_or_default();
            if let Some(cached) = self.reuse.version(item, stage, &version) {
                self.reused();
                return Some(cached.clone());
            }
            let action = history_of(group, &item.api_id, stage, &version);
            let definition = self.read(&action).await?;
            let request = definition.request_config.as_ref();
            let method = request.map(|r| r.request_http_method.as_str());
            let path = request.map(|r| r.request_path.as_str());
            Some(HistoricalVersion {
                api: identity_of(
                    group,
                    &definition,
                    method.unwrap_or_default(),
                    path.unwrap_or_default(),
                ),
                stage,
                version,
                online: false,
                deployed_time: item.deployed_time.clone(),
                route: route_of(&definition),
            })
        });
        join_all(reads).await.into_iter().flatten().collect()
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
                let backend_is_vpc =
                    is_vpc_type(&info.backend_type) || is_vpc_type(&summary.backend_type);
                let vpc = model_reference(&model.backend_config, backend_is_vpc);
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

fn grant_of(v: grantguard_wire::models::VpcAccessAttribute) -> Grant {
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

fn identity_of(group: &Group, definition: &ApiDefinition, method: &str, path: &str) -> ApiRef {
    let request = definition.request_config.as_ref();
    let pick = |listed: &str, defined: Option<&String>| {
        if listed.is_empty() {
            defined.cloned().unwrap_or_default()
        } else {
            listed.to_owned()
        }
    };
    ApiRef::new(ApiIdentity {
        group_id: group.id.clone(),
        group_name: group.name.clone(),
        api_id: ApiId::from(definition.api_id.as_str()),
        api_name: definition.api_name.clone(),
        method: pick(method, request.map(|r| &r.request_http_method)),
        path: pick(path, request.map(|r| &r.request_path)),
    })
}

/// A key as the service wrote it, or `None` when it is absent, empty or only blanks: no grant
/// has a blank name or id, so a blank key names nothing.
fn key(value: &Option<String>) -> Option<String> {
    value.clone().filter(|s| !s.trim().is_empty())
}

fn vpc_ref(config: &VpcConfig, enabled: bool) -> VpcRef {
    VpcRef {
        name: key(&config.name),
        vpc_id: key(&config.vpc_id).map(VpcId::from),
        instance_id: key(&config.instance_id).map(InstanceId::from),
        // Port 0 is no port a grant can have; it is what an unset number looks like.
        port: config.port.filter(|&p| p != 0),
        vpc_access_id: key(&config.vpc_access_id).map(VpcAccessId::from),
        enabled,
    }
}

/// Whether a backend type (`BackendType`, or a model's `BackendConfig.Type`) says VPC, in any
/// case and with stray blanks.
fn is_vpc_type(value: &str) -> bool {
    value.trim().eq_ignore_ascii_case("VPC")
}

/// The grant a backend's stage model routes through. A model is of type VPC when its
/// `BackendConfig.Type` says so, or, when it leaves `Type` empty, when the backend does. Such a
/// model always gives a reference: without a `VpcConfig`, or with one whose keys are empty,
/// the reference has no key and the graph makes it a gap for every grant (it could be any of
/// them), never "no VPC". A `VpcConfig` with keys under another type is kept too: the service
/// still holds it.
fn model_reference(config: &BackendModelConfig, backend_is_vpc: bool) -> Option<VpcRef> {
    let is_vpc = if config.backend_type.trim().is_empty() {
        backend_is_vpc
    } else {
        is_vpc_type(&config.backend_type)
    };
    let reference = match &config.vpc_config {
        Some(vpc) => vpc_ref(vpc, true),
        None => VpcRef {
            enabled: true,
            ..VpcRef::default()
        },
    };
    (is_vpc || reference.has_key()).then_some(reference)
}

/// Whether a route says where its traffic goes: a VPC reference with a key, a backend service,
/// or somewhere that is not a grant. `Unresolved` and a VPC reference without a key do not.
fn names_its_target(route: &Route) -> bool {
    match route {
        Route::Vpc { vpc } => vpc.has_key(),
        Route::Backend { .. } | Route::Other => true,
        Route::Unresolved => false,
    }
}

/// The backend service a definition's `BackendConfig` names, or `Unresolved` when it names
/// none.
fn backend_route(config: Option<&ApiBackendConfig>) -> Route {
    match config {
        Some(config) if !config.backend_id.trim().is_empty() => Route::Backend {
            backend_id: BackendId::from(config.backend_id.trim()),
        },
        _ => Route::Unresolved,
    }
}

/// Where a draft or historical definition sends traffic. These shapes carry `BackendEnable`;
/// when it is missing, a `BackendConfig` is read as in use (the service sends one only with a
/// backend), and one beside a VPC route leaves the route unresolved: either could be live.
pub fn route_of(definition: &ApiDefinition) -> Route {
    let backend = definition.backend_config.as_ref();
    match (
        definition.backend_enable,
        backend,
        service_route(definition),
    ) {
        (Some(true), _, _) => backend_route(backend),
        (None, Some(_), None) => backend_route(backend),
        (None, Some(_), Some(_)) => Route::Unresolved,
        (_, _, service) => service.unwrap_or(Route::Other),
    }
}

/// Where a deployed definition sends traffic: its VPC route (with or without a key), or
/// `Unresolved` when only the online history version can tell (DescribeDeployedApi never shows
/// a backend service, docs/cloudapi-notes.md trap 8).
pub fn deployed_route_of(definition: &ApiDefinition) -> Route {
    service_route(definition).unwrap_or(Route::Unresolved)
}

/// The VPC route of a definition's `ServiceConfig`, or `None` when it routes elsewhere. A
/// definition says VPC when `ServiceVpcEnable` is on or its `VpcConfig` names a grant; one that
/// says VPC but names no grant (no `VpcConfig`, a `null` one, or one whose keys are empty or
/// only part of the tuple) gives a reference without a key, which the graph makes a gap for
/// every grant. A `VpcConfig` that names a grant while the flag is off is a dormant reference.
fn service_route(definition: &ApiDefinition) -> Option<Route> {
    let service = definition.service_config.as_ref()?;
    let enabled = service.vpc_enabled();
    let mut vpc = match &service.vpc_config {
        Some(config) => vpc_ref(config, enabled),
        None => VpcRef {
            enabled,
            ..VpcRef::default()
        },
    };
    if vpc.vpc_id.is_none() {
        vpc.vpc_id = key(&service.vpc_id).map(VpcId::from);
    }
    (vpc.has_key() || enabled).then(|| Route::Vpc { vpc: Box::new(vpc) })
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

    /// Makes equal API identities one shared value. The walk builds one per record (a draft,
    /// each deployment and each version read on its own); a large account holds several
    /// records per API, and a snapshot read back shares them anyway.
    pub fn share_identities(&mut self) {
        let mut known: rustc_hash::FxHashSet<ApiRef> = Default::default();
        let identities = (self.drafts.iter_mut().map(|r| &mut r.api))
            .chain(self.deployments.iter_mut().map(|r| &mut r.api))
            .chain(self.history.iter_mut().map(|r| &mut r.api));
        for api in identities {
            match known.get(api) {
                Some(shared) => *api = shared.clone(),
                None => {
                    known.insert(api.clone());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! Every shape in which a definition, a backend or a stage model says VPC: those that name
    //! a grant give a keyed reference; those whose keys are missing, `null`, empty or only part
    //! of the tuple give a reference without a key (a gap for every grant, in the graph); those
    //! of the wrong type refuse the whole answer (a `MalformedResponse` gap, in the walk).

    use super::*;
    use grantguard_wire::models::DescribeBackendInfoResponse;
    use serde_json::{json, Value};

    /// An API definition: `fields` over the keys every shape has.
    fn definition(fields: Value) -> Result<ApiDefinition, serde_json::Error> {
        let mut body = json!({ "RequestId": "r", "GroupId": "g-1", "ApiId": "api-1" });
        body.as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        serde_json::from_value(body)
    }

    /// The definition of `service` (a `ServiceConfig`) in each shape that carries one: the
    /// draft (DescribeApi), the historical version (DescribeApiHistory) and the deployed one
    /// (DescribeDeployedApi), with the route the walk reads from each.
    fn routes(service: Value) -> Vec<(&'static str, Route)> {
        let draft = definition(json!({ "BackendEnable": false, "ServiceConfig": service }));
        let history = definition(json!({
            "StageName": "RELEASE", "HistoryVersion": "20240402101500123", "Status": "OFFLINE",
            "BackendEnable": false, "ServiceConfig": service,
        }));
        let deployed = definition(json!({
            "StageName": "RELEASE", "DeployedTime": "2024-04-02T10:15:00Z", "ServiceConfig": service,
        }));
        vec![
            ("draft", route_of(&draft.expect("draft decodes"))),
            ("history", route_of(&history.expect("history decodes"))),
            (
                "deployed",
                deployed_route_of(&deployed.expect("deployed decodes")),
            ),
        ]
    }

    fn keyless(route: &Route) -> bool {
        matches!(route, Route::Vpc { vpc } if !vpc.has_key() && vpc.enabled)
    }

    fn assert_keyless(service: Value) {
        for (shape, route) in routes(service.clone()) {
            assert!(
                keyless(&route),
                "{shape} of {service}: a VPC route without a key, not {route:?}"
            );
        }
    }

    #[test]
    fn a_vpc_flag_without_a_vpc_config_is_a_reference_without_a_key() {
        assert_keyless(json!({ "ServiceProtocol": "HTTP", "ServiceVpcEnable": "TRUE" }));
        assert_keyless(json!({ "ServiceVpcEnable": "TRUE", "VpcConfig": null }));
        // The sibling VpcId of deployed and historical shapes is only part of the tuple.
        assert_keyless(json!({ "ServiceVpcEnable": "TRUE", "VpcId": "vpc-1" }));
    }

    #[test]
    fn a_vpc_config_whose_keys_are_empty_null_or_partial_is_a_reference_without_a_key() {
        for config in [
            json!({}),
            json!({ "VpcScheme": "HTTP" }),
            json!({ "Name": "", "VpcId": "", "InstanceId": "", "Port": "" }),
            json!({ "Name": null, "VpcId": null, "InstanceId": null, "Port": null }),
            json!({ "Name": "  ", "VpcId": " ", "InstanceId": "\t", "Port": 0 }),
            json!({ "VpcId": "vpc-1", "Port": 80 }),
            json!({ "VpcId": "vpc-1", "InstanceId": "i-1" }),
            json!({ "InstanceId": "i-1", "Port": 80 }),
        ] {
            assert_keyless(json!({ "ServiceVpcEnable": "TRUE", "VpcConfig": config }));
        }
    }

    #[test]
    fn a_flag_outside_true_and_false_counts_as_on() {
        for flag in ["TRUE", "true", " True ", "1", "yes"] {
            assert_keyless(json!({ "ServiceVpcEnable": flag }));
        }
        // Off, empty or absent: no VPC, and nothing to name.
        for service in [
            json!({ "ServiceVpcEnable": "FALSE" }),
            json!({ "ServiceVpcEnable": "false", "VpcConfig": {} }),
            json!({ "ServiceVpcEnable": "" }),
            json!({ "ServiceVpcEnable": null, "VpcConfig": null }),
            json!({ "ServiceProtocol": "HTTP", "ServiceAddress": "http://x" }),
        ] {
            let [(_, draft), (_, history), (_, deployed)] =
                <[_; 3]>::try_from(routes(service.clone())).unwrap();
            assert_eq!(draft, Route::Other, "{service}");
            assert_eq!(history, Route::Other, "{service}");
            assert_eq!(
                deployed,
                Route::Unresolved,
                "{service}: only the online version can tell"
            );
        }
    }

    #[test]
    fn a_vpc_config_with_a_key_names_its_grant() {
        fn tuple(vpc: &VpcRef) -> (Option<&str>, Option<&str>, Option<u16>) {
            (
                vpc.vpc_id.as_ref().map(VpcId::as_str),
                vpc.instance_id.as_ref().map(InstanceId::as_str),
                vpc.port,
            )
        }
        for (service, name, expected_tuple, enabled) in [
            (
                json!({ "ServiceVpcEnable": "TRUE", "VpcConfig": { "Name": "orders-slb-80" } }),
                Some("orders-slb-80"),
                (None, None, None),
                true,
            ),
            (
                // The port as a numeric string is the same port (documentation examples).
                json!({ "ServiceVpcEnable": "TRUE", "VpcId": "vpc-1",
                        "VpcConfig": { "Name": "", "InstanceId": "i-1", "Port": "80" } }),
                None,
                (Some("vpc-1"), Some("i-1"), Some(80)),
                true,
            ),
            (
                // A dormant reference is kept (the next edit can revive it).
                json!({ "ServiceVpcEnable": "FALSE", "VpcConfig": { "Name": "old-grant" } }),
                Some("old-grant"),
                (None, None, None),
                false,
            ),
        ] {
            for (shape, route) in routes(service.clone()) {
                let Route::Vpc { vpc } = &route else {
                    panic!("{shape} of {service}: {route:?}");
                };
                assert!(vpc.has_key(), "{shape} of {service}");
                assert_eq!(vpc.name.as_deref(), name, "{shape} of {service}");
                assert_eq!(tuple(vpc), expected_tuple, "{shape} of {service}");
                assert_eq!(vpc.enabled, enabled, "{shape} of {service}");
            }
        }
    }

    #[test]
    fn grant_keys_of_the_wrong_type_refuse_the_whole_definition() {
        for service in [
            json!({ "ServiceVpcEnable": "TRUE", "VpcConfig": "x" }),
            json!({ "ServiceVpcEnable": "TRUE", "VpcConfig": 5 }),
            json!({ "ServiceVpcEnable": "TRUE", "VpcConfig": true }),
            // serde would fill a struct from an array by position: refused instead.
            json!({ "ServiceVpcEnable": "TRUE", "VpcConfig": ["va-1", "orders-slb-80"] }),
            json!({ "ServiceVpcEnable": "TRUE", "VpcConfig": [] }),
            json!({ "ServiceVpcEnable": "TRUE", "VpcConfig": { "Name": 5 } }),
            json!({ "ServiceVpcEnable": "TRUE", "VpcConfig": { "Name": ["orders-slb-80"] } }),
            json!({ "ServiceVpcEnable": "TRUE", "VpcConfig": { "VpcId": 12 } }),
            json!({ "ServiceVpcEnable": "TRUE", "VpcConfig": { "InstanceId": false } }),
            json!({ "ServiceVpcEnable": "TRUE", "VpcConfig": { "VpcAccessId": {} } }),
            json!({ "ServiceVpcEnable": "TRUE", "VpcConfig": { "Name": "g", "Port": "abc" } }),
            json!({ "ServiceVpcEnable": "TRUE", "VpcConfig": { "Name": "g", "Port": -1 } }),
            json!({ "ServiceVpcEnable": "TRUE", "VpcConfig": { "Name": "g", "Port": 70000 } }),
            json!({ "ServiceVpcEnable": "TRUE", "VpcConfig": { "Name": "g", "Port": [] } }),
            // A JSON boolean where the service sends the string "TRUE" (docs/cloudapi-notes.md trap 6).
            json!({ "ServiceVpcEnable": true, "VpcConfig": {} }),
            json!({ "ServiceVpcEnable": ["TRUE"] }),
        ] {
            for shape in [
                json!({ "BackendEnable": false, "ServiceConfig": service }),
                json!({ "StageName": "RELEASE", "HistoryVersion": "1", "ServiceConfig": service }),
                json!({ "StageName": "RELEASE", "DeployedTime": "t", "ServiceConfig": service }),
            ] {
                assert!(
                    definition(shape.clone()).is_err(),
                    "{shape} must not decode: a reference read from it could not be trusted"
                );
            }
        }
        for wrong in [json!("x"), json!(["a"]), json!(7)] {
            assert!(
                definition(json!({ "ServiceConfig": wrong })).is_err(),
                "{wrong}"
            );
            assert!(
                definition(json!({ "BackendEnable": true, "BackendConfig": wrong })).is_err(),
                "{wrong}"
            );
        }
    }

    #[test]
    fn a_backend_config_without_a_backend_id_or_beside_an_unread_flag_is_unresolved() {
        let backend = json!({ "BackendId": "be-1", "BackendName": "orders", "BackendType": "VPC" });
        let vpc = json!({ "ServiceVpcEnable": "TRUE", "VpcConfig": { "Name": "g" } });
        let plain = json!({ "ServiceVpcEnable": "FALSE" });
        let cases = [
            (
                json!({ "BackendEnable": true, "BackendConfig": backend, "ServiceConfig": plain }),
                Route::Backend {
                    backend_id: BackendId::from("be-1"),
                },
            ),
            // BackendEnable missing: a BackendConfig is only sent with a backend in use.
            (
                json!({ "BackendConfig": backend, "ServiceConfig": plain }),
                Route::Backend {
                    backend_id: BackendId::from("be-1"),
                },
            ),
            (
                json!({ "BackendEnable": null, "BackendConfig": backend }),
                Route::Backend {
                    backend_id: BackendId::from("be-1"),
                },
            ),
            // ... and beside a VPC route, either could be live.
            (
                json!({ "BackendConfig": backend, "ServiceConfig": vpc }),
                Route::Unresolved,
            ),
            (json!({ "BackendEnable": true }), Route::Unresolved),
            (
                json!({ "BackendEnable": true, "BackendConfig": null }),
                Route::Unresolved,
            ),
            (
                json!({ "BackendEnable": true, "BackendConfig": { "BackendId": "", "BackendType": "VPC" } }),
                Route::Unresolved,
            ),
            (
                json!({ "BackendEnable": true, "BackendConfig": { "BackendId": "  " } }),
                Route::Unresolved,
            ),
            // BackendEnable false: the VPC route decides.
            (
                json!({ "BackendEnable": false, "BackendConfig": backend, "ServiceConfig": plain }),
                Route::Other,
            ),
        ];
        for (fields, expected) in cases {
            let definition = definition(fields.clone()).expect("decodes");
            assert_eq!(route_of(&definition), expected, "{fields}");
        }
        // A BackendConfig without its BackendId key, or of the wrong type, is refused.
        assert!(definition(json!({ "BackendEnable": true, "BackendConfig": {} })).is_err());
        assert!(definition(json!({ "BackendEnable": "maybe" })).is_err());
    }

    /// The references DescribeBackendInfo's models give, by stage, for a backend of
    /// `backend_type` whose models have `configs` (each a `BackendConfig`).
    fn model_references(
        backend_type: Value,
        configs: &[Value],
    ) -> Result<Vec<Option<VpcRef>>, serde_json::Error> {
        let models: Vec<Value> = configs
            .iter()
            .map(|config| json!({ "StageName": "RELEASE", "BackendConfig": config }))
            .collect();
        let body = json!({
            "RequestId": "r",
            "BackendInfo": { "BackendId": "be-1", "BackendName": "orders-vpc",
                             "BackendType": backend_type, "BackendModels": models },
        });
        let info = serde_json::from_value::<DescribeBackendInfoResponse>(body)?.backend_info;
        Ok(info
            .backend_models
            .iter()
            .map(|m| model_reference(&m.backend_config, is_vpc_type(&info.backend_type)))
            .collect())
    }

    #[test]
    fn a_vpc_model_without_a_vpc_config_is_a_reference_without_a_key() {
        let configs = [
            json!({ "Type": "VPC" }),
            json!({ "Type": "VPC", "VpcConfig": null }),
            json!({ "Type": "VPC", "VpcConfig": {} }),
            json!({ "Type": "VPC", "ServiceTimeout": 10000, "VpcConfig": { "VpcScheme": "HTTP", "VpcTargetHostName": "" } }),
            json!({ "Type": "VPC", "VpcConfig": { "VpcAccessId": "", "Name": "", "VpcId": "", "InstanceId": "", "Port": 0 } }),
            json!({ "Type": "VPC", "VpcConfig": { "VpcAccessId": null, "Name": null, "Port": null } }),
            json!({ "Type": "VPC", "VpcConfig": { "VpcId": "vpc-1", "Port": 80 } }),
            json!({ "Type": "vpc" }),
            json!({ "Type": " Vpc " }),
            // No type of its own: the backend's (VPC) applies.
            json!({}),
            json!({ "Type": "" }),
        ];
        for backend_type in [json!("VPC"), json!("vpc")] {
            let references = model_references(backend_type.clone(), &configs).expect("decodes");
            for (config, reference) in configs.iter().zip(&references) {
                assert!(
                    matches!(reference, Some(r) if !r.has_key() && r.enabled),
                    "{config} under a {backend_type} backend: {reference:?}"
                );
            }
        }
        // Without a type saying VPC, nothing is referenced; a key under another type still is.
        let references = model_references(
            json!("HTTP"),
            &[
                json!({}),
                json!({ "Type": "HTTP", "ServiceAddress": "http://x" }),
                json!({ "Type": "HTTP", "VpcConfig": {} }),
                json!({ "Type": "HTTP", "VpcConfig": { "Name": "orders-slb-80" } }),
            ],
        )
        .expect("decodes");
        assert_eq!(references[..3], [None, None, None]);
        assert_eq!(
            references[3].as_ref().and_then(|r| r.name.as_deref()),
            Some("orders-slb-80")
        );
        // The example DescribeBackendInfo answer of docs/cloudapi-notes.md: a VPC backend whose TEST model is HTTP.
        let references = model_references(
            json!("VPC"),
            &[json!({ "Type": "HTTP", "ServiceAddress": "http://orders-test.example.com:8080" })],
        )
        .expect("decodes");
        assert_eq!(references, [None]);
    }

    #[test]
    fn a_vpc_model_with_a_key_names_its_grant() {
        let references = model_references(
            json!("VPC"),
            &[
                json!({ "Type": "VPC", "VpcConfig": { "VpcAccessId": "va-1" } }),
                json!({ "Type": "VPC", "VpcConfig": { "VpcId": "vpc-1", "InstanceId": "i-1", "Port": "80" } }),
            ],
        )
        .expect("decodes");
        let first = references[0].as_ref().expect("a reference");
        assert_eq!(first.vpc_access_id, Some(VpcAccessId::from("va-1")));
        let second = references[1].as_ref().expect("a reference");
        assert!(second.has_key());
        assert_eq!(second.port, Some(80));
    }

    #[test]
    fn a_backend_answer_with_grant_keys_of_the_wrong_type_is_refused() {
        for config in [
            json!({ "Type": "VPC", "VpcConfig": "x" }),
            json!({ "Type": "VPC", "VpcConfig": ["va-1", "orders-slb-80"] }),
            json!({ "Type": "VPC", "VpcConfig": { "Name": 5 } }),
            json!({ "Type": "VPC", "VpcConfig": { "VpcAccessId": 42 } }),
            json!({ "Type": "VPC", "VpcConfig": { "Name": "g", "Port": "abc" } }),
            json!({ "Type": 5 }),
            json!({ "Type": null, "VpcConfig": { "Name": "g" } }),
            Value::Null,
            json!("VPC"),
        ] {
            assert!(
                model_references(json!("VPC"), std::slice::from_ref(&config)).is_err(),
                "{config} must not decode"
            );
        }
        for backend_type in [Value::Null, json!(5), json!(["VPC"])] {
            assert!(
                model_references(backend_type.clone(), &[json!({ "Type": "VPC" })]).is_err(),
                "BackendType {backend_type} must not decode"
            );
        }
    }

    #[test]
    fn names_its_target_tells_a_keyless_vpc_route_from_a_settled_one() {
        let keyless = Route::Vpc {
            vpc: Box::new(VpcRef {
                enabled: true,
                port: Some(80),
                ..VpcRef::default()
            }),
        };
        let named = Route::Vpc {
            vpc: Box::new(VpcRef {
                name: Some("g".into()),
                enabled: true,
                ..VpcRef::default()
            }),
        };
        assert!(!names_its_target(&keyless));
        assert!(!names_its_target(&Route::Unresolved));
        assert!(names_its_target(&named));
        assert!(names_its_target(&Route::Other));
        assert!(names_its_target(&Route::Backend {
            backend_id: BackendId::from("be-1")
        }));
    }
}

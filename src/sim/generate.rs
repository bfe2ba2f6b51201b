//! Synthetic accounts for benchmarks and scale tests. In: [`GenerateOptions`] (groups, APIs per
//! group, stages, grants, the share of APIs that route to a grant, a seed). Out: a
//! [`Fixture`] the emulator serves (docs/fixture-format.md), or directly the [`Inventory`] a
//! complete walk of that account reads (for offline benchmarks at sizes the emulator cannot
//! serve in reasonable time). The same options always give the same bytes: every id, time and
//! choice comes from the seed, never from the clock or a hash map's order. Nothing here touches
//! the network or the file system.

use super::fixture::{
    self, Api, Backend, BackendModelDef, BackendRoute, BackendVpc, Deployment, Fixture,
    FixtureCredential, Grant, Group, HistoryEntry, HttpRoute, Route, VpcRoute, STAGE_NAMES,
};
use crate::inventory::model as inv;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, HashMap};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The access key a generated account accepts (a test key; it protects nothing).
pub const ACCESS_KEY_ID: &str = "LTAI5tGeneratedBenchKey";
/// The secret of [`ACCESS_KEY_ID`].
pub const ACCESS_KEY_SECRET: &str = "GeneratedBenchSecret0123456789ab";

/// Share of APIs deployed to RELEASE, PRE and TEST.
const DEPLOY_SHARE: [f64; 3] = [0.95, 0.8, 0.9];
/// Share of routed APIs that go through a backend service rather than a grant directly.
const BACKEND_SHARE: f64 = 0.25;
/// Share of deployments whose live version differs from the draft (edited after publishing).
const DRIFT_SHARE: f64 = 0.1;
/// Share of earlier versions that routed to some grant although the API no longer does.
const HISTORY_VPC_SHARE: f64 = 0.3;
/// Earlier versions per deployment: 0 to this many.
const MAX_OLD_VERSIONS: u32 = 2;
/// 2024-01-01T00:00:00Z: every generated time counts from here.
const EPOCH: i64 = 1_704_067_200;

/// The shape of a generated account.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateOptions {
    /// API groups.
    pub groups: usize,
    /// APIs in each group.
    pub apis_per_group: usize,
    /// Stages APIs are deployed to: 1 = RELEASE, 2 = + PRE, 3 = + TEST.
    pub stages: usize,
    /// VPC grants.
    pub grants: usize,
    /// Share (0–1) of APIs that route to a grant, directly or through a backend service.
    pub vpc_share: f64,
    /// Seed of every random choice.
    pub seed: u64,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        Self {
            groups: 4,
            apis_per_group: 10,
            stages: 3,
            grants: 8,
            vpc_share: 0.3,
            seed: 0,
        }
    }
}

/// A stable 32-hex id for the `n`-th thing of a kind in a generated account.
fn id(kind: &str, n: usize) -> String {
    fixture::derived_id(&format!("gen-{kind}"), &n.to_string())
}

fn time_at(seconds: i64) -> String {
    OffsetDateTime::from_unix_timestamp(EPOCH + seconds)
        .expect("generated times are in range")
        .format(&Rfc3339)
        .expect("RFC 3339 formats every in-range time")
}

/// Builds the account: grants, backends, groups, APIs with deployments and history.
pub fn fixture(options: &GenerateOptions) -> Fixture {
    let mut rng = StdRng::seed_from_u64(options.seed);
    let stages = &STAGE_NAMES[..options.stages.clamp(1, 3)];
    let vpc_share = options.vpc_share.clamp(0.0, 1.0);

    let grants: Vec<Grant> = (0..options.grants)
        .map(|i| Grant {
            vpc_access_id: id("grant", i),
            name: format!("gen-grant-{i:04}"),
            vpc_id: format!("vpc-gen{:04}", i / 8),
            instance_id: format!("i-gen{i:06}"),
            port: 8080,
            description: String::new(),
            vpc_target_host_name: String::new(),
            created_time: time_at(-86_400),
        })
        .collect();
    let vpc_route = |grant: &Grant| {
        Route::Vpc(VpcRoute {
            name: Some(grant.name.clone()),
            vpc_id: Some(grant.vpc_id.clone()),
            instance_id: Some(grant.instance_id.clone()),
            port: Some(grant.port),
            enabled: true,
        })
    };

    // One backend per five grants: RELEASE and PRE models route to grants, TEST to HTTP.
    let backends: Vec<Backend> = (0..options.grants / 5)
        .map(|j| Backend {
            id: id("backend", j),
            name: format!("gen-backend-{j:03}"),
            backend_type: "VPC".into(),
            description: String::new(),
            created_time: time_at(-86_400),
            modified_time: time_at(-86_400),
            models: STAGE_NAMES
                .iter()
                .enumerate()
                .map(|(s, stage)| {
                    let grant = (s < 2).then(|| &grants[(j * 5 + s) % grants.len()]);
                    BackendModelDef {
                        stage: (*stage).into(),
                        id: id("backend-model", j * 3 + s),
                        description: String::new(),
                        vpc: grant.map(|g| BackendVpc {
                            vpc_access_id: Some(g.vpc_access_id.clone()),
                            name: Some(g.name.clone()),
                            vpc_id: Some(g.vpc_id.clone()),
                            instance_id: Some(g.instance_id.clone()),
                            port: Some(g.port),
                            vpc_scheme: "HTTP".into(),
                            vpc_target_host_name: String::new(),
                        }),
                        model_type: None,
                        address: grant
                            .is_none()
                            .then(|| format!("http://backend-{j}.test.example.com")),
                        created_time: time_at(-86_400),
                        modified_time: time_at(-86_400),
                    }
                })
                .collect(),
        })
        .collect();

    let groups: Vec<Group> = (0..options.groups)
        .map(|g| Group {
            id: id("group", g),
            name: format!("gen-group-{g:03}"),
            description: String::new(),
            instance_id: "api-shared-vpc-001".into(),
            created_time: time_at(0),
            modified_time: time_at(0),
            stages: STAGE_NAMES
                .iter()
                .enumerate()
                .map(|(s, stage)| ((*stage).to_owned(), id("stage", g * 3 + s)))
                .collect(),
        })
        .collect();

    let pick_route = |rng: &mut StdRng, group: usize, share: f64| -> Route {
        if grants.is_empty() || rng.random::<f64>() >= share {
            return Route::Http(HttpRoute {
                address: format!("http://svc-{group}.example.com"),
            });
        }
        if !backends.is_empty() && rng.random::<f64>() < BACKEND_SHARE {
            let b = rng.random_range(0..backends.len());
            return Route::Backend(BackendRoute {
                id: backends[b].id.clone(),
            });
        }
        vpc_route(&grants[rng.random_range(0..grants.len())])
    };

    let mut apis = Vec::with_capacity(options.groups * options.apis_per_group);
    let mut deployments = Vec::new();
    let mut history = Vec::new();
    for (g, group) in groups.iter().enumerate() {
        for a in 0..options.apis_per_group {
            let n = g * options.apis_per_group + a;
            let api_id = id("api", n);
            let created = (n as i64) * 60;
            let draft = pick_route(&mut rng, g, vpc_share);
            let mut last_deployed = created;
            let mut drifted = false;
            for (s, stage) in stages.iter().enumerate() {
                if rng.random::<f64>() >= DEPLOY_SHARE[s] {
                    continue;
                }
                let old = rng.random_range(0..=MAX_OLD_VERSIONS);
                let at = |k: u32| created + i64::from(k + 1) * 86_400 + (s as i64) * 3_600;
                for k in 0..old {
                    let route = (rng.random::<f64>() < HISTORY_VPC_SHARE)
                        .then(|| pick_route(&mut rng, g, 1.0));
                    history.push(HistoryEntry {
                        api: api_id.clone(),
                        stage: (*stage).into(),
                        version: String::new(),
                        deployed_time: time_at(at(k)),
                        route,
                    });
                }
                let deployed = at(old);
                last_deployed = last_deployed.max(deployed);
                let route = (rng.random::<f64>() < DRIFT_SHARE).then(|| {
                    drifted = true;
                    pick_route(&mut rng, g, vpc_share)
                });
                deployments.push(Deployment {
                    api: api_id.clone(),
                    stage: (*stage).into(),
                    deployed_time: time_at(deployed),
                    version: String::new(),
                    route,
                });
            }
            // A draft edited after its last deployment is newer than every live version.
            let modified = if drifted {
                last_deployed + 600
            } else {
                last_deployed
            };
            apis.push(Api {
                group: group.id.clone(),
                id: api_id,
                name: format!("api{n:06}"),
                method: if n % 3 == 0 { "POST" } else { "GET" }.into(),
                path: format!("/g{g}/api{n:06}"),
                description: String::new(),
                visibility: "PRIVATE".into(),
                created_time: time_at(created),
                modified_time: time_at(modified),
                route: draft,
            });
        }
    }
    for d in &mut deployments {
        d.version = fixture::version_from_time(&d.deployed_time);
    }
    for h in &mut history {
        h.version = fixture::version_from_time(&h.deployed_time);
    }

    Fixture {
        description: format!(
            "generated: {} groups x {} APIs, {} stages, {} grants, vpc share {}, seed {}",
            options.groups,
            options.apis_per_group,
            stages.len(),
            options.grants,
            vpc_share,
            options.seed
        ),
        region: "cn-hangzhou".into(),
        regions: Vec::new(),
        credentials: vec![FixtureCredential {
            access_key_id: ACCESS_KEY_ID.into(),
            access_key_secret: ACCESS_KEY_SECRET.into(),
            security_token: None,
        }],
        grants,
        groups,
        apis,
        deployments,
        history,
        backends,
        index: Default::default(),
        faults: Default::default(),
    }
}

/// The fixture as pretty JSON text with a final newline (what `sim generate` writes).
pub fn fixture_json(options: &GenerateOptions) -> String {
    let mut text =
        serde_json::to_string_pretty(&fixture(options)).expect("a fixture always serializes");
    text.push('\n');
    text
}

fn route_of(route: &Route) -> inv::Route {
    match route {
        Route::Vpc(vpc) => inv::Route::Vpc {
            vpc: Box::new(inv::VpcRef {
                name: vpc.name.clone(),
                vpc_id: vpc.vpc_id.as_deref().map(inv::VpcId::from),
                instance_id: vpc.instance_id.as_deref().map(inv::InstanceId::from),
                port: vpc.port,
                vpc_access_id: None,
                enabled: vpc.enabled,
            }),
        },
        Route::Backend(b) => inv::Route::Backend {
            backend_id: inv::BackendId::from(b.id.as_str()),
        },
        Route::Http(_) => inv::Route::Other,
    }
}

/// What a complete walk (history depth ≥ 2) of [`fixture`]`(options)` reads, built without
/// an emulator: drafts, deployments resolved through their online versions, offline history,
/// backends with their users, and the usage index. `taken_at` is the generation epoch so the
/// output is reproducible.
pub fn inventory(options: &GenerateOptions) -> inv::Inventory {
    let fx = fixture(options);
    let mut out = inv::Inventory::new(inv::RegionId::from(fx.region.as_str()));
    out.taken_at = OffsetDateTime::from_unix_timestamp(EPOCH).expect("epoch in range");
    out.grants = fx
        .grants
        .iter()
        .map(|g| inv::Grant {
            id: inv::VpcAccessId::from(g.vpc_access_id.as_str()),
            name: g.name.clone(),
            key: inv::GrantKey {
                vpc_id: inv::VpcId::from(g.vpc_id.as_str()),
                instance_id: inv::InstanceId::from(g.instance_id.as_str()),
                port: g.port,
            },
            description: g.description.clone(),
            vpc_target_host_name: g.vpc_target_host_name.clone(),
            created_time: g.created_time.clone(),
        })
        .collect();
    let grant_ids: HashMap<&str, &str> = fx
        .grants
        .iter()
        .map(|g| (g.name.as_str(), g.vpc_access_id.as_str()))
        .collect();
    let groups: HashMap<&str, &Group> = fx.groups.iter().map(|g| (g.id.as_str(), g)).collect();
    out.groups = fx
        .groups
        .iter()
        .map(|g| inv::Group {
            id: inv::GroupId::from(g.id.as_str()),
            name: g.name.clone(),
            stages: STAGE_NAMES
                .iter()
                .filter_map(|s| {
                    Some(inv::GroupStage {
                        id: g.stages.get(*s)?.clone(),
                        stage: inv::Stage::parse(s)?,
                    })
                })
                .collect(),
            modified_time: g.modified_time.clone(),
        })
        .collect();
    let apis: HashMap<&str, &Api> = fx.apis.iter().map(|a| (a.id.as_str(), a)).collect();
    let identity = |api: &Api| inv::ApiIdentity {
        group_id: inv::GroupId::from(api.group.as_str()),
        group_name: groups[api.group.as_str()].name.clone(),
        api_id: inv::ApiId::from(api.id.as_str()),
        api_name: api.name.clone(),
        method: api.method.clone(),
        path: api.path.clone(),
    };
    // One shared identity per API, as a snapshot read back would have it.
    let identities: BTreeMap<&str, inv::ApiRef> = (fx.apis.iter())
        .map(|api| (api.id.as_str(), inv::ApiRef::new(identity(api))))
        .collect();
    let identity = |api: &Api| identities[api.id.as_str()].clone();
    let stage_of = |s: &str| inv::Stage::parse(s).expect("generated stages are valid");

    let mut backend_users: BTreeMap<&str, Vec<inv::BackendUser>> = BTreeMap::new();
    let mut add_user = |api: &Api, route: &Route, stage: Option<inv::Stage>| {
        if let Route::Backend(b) = route {
            backend_users
                .entry(
                    fx.backends
                        .iter()
                        .find(|x| x.id == b.id)
                        .map_or("", |x| &x.id),
                )
                .or_default()
                .push(inv::BackendUser {
                    group_id: inv::GroupId::from(api.group.as_str()),
                    api_id: inv::ApiId::from(api.id.as_str()),
                    stage,
                });
        }
    };

    out.drafts.reserve(fx.apis.len());
    for api in &fx.apis {
        add_user(api, &api.route, None);
        out.drafts.push(inv::ApiDraft {
            api: identity(api),
            modified_time: api.modified_time.clone(),
            route: route_of(&api.route),
        });
    }
    out.deployments.reserve(fx.deployments.len());
    for d in &fx.deployments {
        let api = apis[d.api.as_str()];
        let route = d.route.as_ref().unwrap_or(&api.route);
        let stage = stage_of(&d.stage);
        add_user(api, route, Some(stage));
        if let Route::Vpc(VpcRoute {
            name: Some(name),
            enabled: true,
            ..
        }) = route
        {
            if let Some(grant) = grant_ids.get(name.as_str()) {
                out.index.push(inv::IndexedUse {
                    grant: inv::VpcAccessId::from(*grant),
                    group_id: inv::GroupId::from(api.group.as_str()),
                    group_name: groups[api.group.as_str()].name.clone(),
                    api_id: inv::ApiId::from(api.id.as_str()),
                    api_name: api.name.clone(),
                    stage,
                });
            }
        }
        out.deployments.push(inv::Deployment {
            api: identity(api),
            stage,
            deployed_time: d.deployed_time.clone(),
            effective_version: Some(d.version.clone()),
            route: route_of(route),
        });
    }
    out.history.reserve(fx.history.len());
    for h in &fx.history {
        let api = apis[h.api.as_str()];
        out.history.push(inv::HistoricalVersion {
            api: identity(api),
            stage: stage_of(&h.stage),
            version: h.version.clone(),
            online: false,
            deployed_time: h.deployed_time.clone(),
            route: route_of(h.route.as_ref().unwrap_or(&api.route)),
        });
    }
    out.backends = fx
        .backends
        .iter()
        .map(|b| {
            let models: Vec<inv::BackendModel> = b
                .models
                .iter()
                .map(|m| inv::BackendModel {
                    stage: stage_of(&m.stage),
                    vpc: m.vpc.as_ref().map(|v| inv::VpcRef {
                        name: v.name.clone(),
                        vpc_id: v.vpc_id.as_deref().map(inv::VpcId::from),
                        instance_id: v.instance_id.as_deref().map(inv::InstanceId::from),
                        port: v.port,
                        vpc_access_id: v.vpc_access_id.as_deref().map(inv::VpcAccessId::from),
                        enabled: true,
                    }),
                })
                .collect();
            // The walk asks DescribeApisByBackend only for stages whose model names a grant,
            // and for drafts.
            let users = backend_users
                .remove(b.id.as_str())
                .unwrap_or_default()
                .into_iter()
                .filter(|u| {
                    u.stage
                        .is_none_or(|s| models.iter().any(|m| m.stage == s && m.vpc.is_some()))
                })
                .collect();
            inv::Backend {
                id: inv::BackendId::from(b.id.as_str()),
                name: b.name.clone(),
                backend_type: b.backend_type.clone(),
                models,
                users,
            }
        })
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> GenerateOptions {
        GenerateOptions {
            groups: 3,
            apis_per_group: 20,
            stages: 3,
            grants: 10,
            vpc_share: 0.5,
            seed: 7,
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_bytes_and_another_seed_does_not() {
        let a = fixture_json(&small());
        assert_eq!(a, fixture_json(&small()));
        let other = GenerateOptions { seed: 8, ..small() };
        assert_ne!(a, fixture_json(&other));
    }

    #[test]
    fn a_generated_fixture_loads_and_has_the_requested_shape() {
        let text = fixture_json(&small());
        let fx = Fixture::from_json(&text).expect("generated fixtures are valid");
        assert_eq!(fx.groups.len(), 3);
        assert_eq!(fx.apis.len(), 60);
        assert_eq!(fx.grants.len(), 10);
        assert_eq!(fx.backends.len(), 2);
        let routed = fx
            .apis
            .iter()
            .filter(|a| !matches!(a.route, Route::Http(_)))
            .count();
        assert!(
            (15..=45).contains(&routed),
            "about half of 60 APIs route to a grant: {routed}"
        );
        assert!(fx.apis.iter().any(|a| matches!(a.route, Route::Backend(_))));
        assert!(fx.deployments.len() > 60, "most APIs are deployed");
        assert!(!fx.history.is_empty());
    }

    #[test]
    fn one_stage_deploys_only_to_release() {
        let fx = fixture(&GenerateOptions {
            stages: 1,
            ..small()
        });
        assert!(fx.deployments.iter().all(|d| d.stage == "RELEASE"));
    }

    #[test]
    fn the_inventory_has_one_draft_per_api_and_one_deployment_per_live_stage() {
        let fx = fixture(&small());
        let inventory = inventory(&small());
        assert_eq!(inventory.drafts.len(), fx.apis.len());
        assert_eq!(inventory.deployments.len(), fx.deployments.len());
        assert_eq!(inventory.history.len(), fx.history.len());
        assert!(inventory.is_complete());
        assert!(!inventory.index.is_empty());
        assert_eq!(
            serde_json::to_string(&inventory).unwrap(),
            serde_json::to_string(&super::inventory(&small())).unwrap()
        );
    }
}

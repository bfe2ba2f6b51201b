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
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
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
pub const EPOCH: i64 = 1_704_067_200;

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

    let grants = grants(options.grants);
    let backends = backends(options.grants / 5, &grants);
    let groups = groups(options.groups);
    let routes = Routes {
        grants: &grants,
        backends: &backends,
    };

    let mut apis = Vec::with_capacity(options.groups * options.apis_per_group);
    let mut published = Published::default();
    for (g, group) in groups.iter().enumerate() {
        for a in 0..options.apis_per_group {
            let n = g * options.apis_per_group + a;
            let shape = ApiShape {
                group: g,
                n,
                stages,
                vpc_share,
            };
            apis.push(api(&mut rng, &routes, group, &shape, &mut published));
        }
    }
    let Published {
        mut deployments,
        mut history,
    } = published;
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
        batch_work_also: Default::default(),
        faults: Default::default(),
    }
}

/// `count` grants, eight to a VPC.
fn grants(count: usize) -> Vec<Grant> {
    (0..count)
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
        .collect()
}

/// `count` VPC backends (one per five grants): RELEASE and PRE models route to grants, TEST
/// to HTTP.
fn backends(count: usize, grants: &[Grant]) -> Vec<Backend> {
    (0..count)
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
        .collect()
}

/// `count` API groups, each with its three stages.
fn groups(count: usize) -> Vec<Group> {
    (0..count)
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
        .collect()
}

/// What an API can route to.
struct Routes<'a> {
    grants: &'a [Grant],
    backends: &'a [Backend],
}

impl Routes<'_> {
    /// A route: with probability `share` through a grant (directly, or through a backend
    /// [`BACKEND_SHARE`] of the time), else to the group's HTTP service.
    fn pick(&self, rng: &mut StdRng, group: usize, share: f64) -> Route {
        if self.grants.is_empty() || rng.random::<f64>() >= share {
            return Route::Http(HttpRoute {
                address: format!("http://svc-{group}.example.com"),
            });
        }
        if !self.backends.is_empty() && rng.random::<f64>() < BACKEND_SHARE {
            let b = rng.random_range(0..self.backends.len());
            return Route::Backend(BackendRoute {
                id: self.backends[b].id.clone(),
            });
        }
        let grant = &self.grants[rng.random_range(0..self.grants.len())];
        Route::Vpc(VpcRoute {
            name: Some(grant.name.clone()),
            vpc_id: Some(grant.vpc_id.clone()),
            instance_id: Some(grant.instance_id.clone()),
            port: Some(grant.port),
            enabled: true,
        })
    }
}

/// Which API to build: its group's index, its number in the account, and the stages and VPC
/// share of the account.
struct ApiShape<'a> {
    group: usize,
    n: usize,
    stages: &'a [&'a str],
    vpc_share: f64,
}

/// What the generated APIs published: live deployments and older versions.
#[derive(Default)]
struct Published {
    deployments: Vec<Deployment>,
    history: Vec<HistoryEntry>,
}

/// API number `shape.n` in `group`: its draft, and per stage (by [`DEPLOY_SHARE`]) its older
/// versions and its deployment, which [`DRIFT_SHARE`] of the time routes elsewhere than the
/// draft. The calls on `rng` keep one order, so a seed always gives the same account.
fn api(
    rng: &mut StdRng,
    routes: &Routes<'_>,
    group: &Group,
    shape: &ApiShape<'_>,
    published: &mut Published,
) -> Api {
    let (g, n) = (shape.group, shape.n);
    let api_id = id("api", n);
    let created = (n as i64) * 60;
    let draft = routes.pick(rng, g, shape.vpc_share);
    let mut last_deployed = created;
    let mut drifted = false;
    for (s, stage) in shape.stages.iter().enumerate() {
        if rng.random::<f64>() >= DEPLOY_SHARE[s] {
            continue;
        }
        let old = rng.random_range(0..=MAX_OLD_VERSIONS);
        let at = |k: u32| created + i64::from(k + 1) * 86_400 + (s as i64) * 3_600;
        for k in 0..old {
            let route = (rng.random::<f64>() < HISTORY_VPC_SHARE).then(|| routes.pick(rng, g, 1.0));
            published.history.push(HistoryEntry {
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
            routes.pick(rng, g, shape.vpc_share)
        });
        published.deployments.push(Deployment {
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
    Api {
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
    }
}

/// The fixture as pretty JSON text with a final newline (what `sim generate` writes).
pub fn fixture_json(options: &GenerateOptions) -> String {
    let mut text =
        serde_json::to_string_pretty(&fixture(options)).expect("a fixture always serializes");
    text.push('\n');
    text
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
}

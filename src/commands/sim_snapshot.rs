//! `sim generate --snapshot`: the inventory a complete walk of a generated account would read,
//! built without an emulator, for the offline benchmark. In: [`GenerateOptions`]. Out: an
//! [`Inventory`]. It lives on the tool's side because the emulator knows nothing of the
//! tool's domain types.

use crate::inventory::model as inv;
use grantguard_sim::fixture::{Api, Group, Route, VpcRoute, STAGE_NAMES};
use grantguard_sim::generate::{fixture, GenerateOptions, EPOCH};
use std::collections::{BTreeMap, HashMap};
use time::OffsetDateTime;

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
pub(crate) fn inventory(options: &GenerateOptions) -> inv::Inventory {
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

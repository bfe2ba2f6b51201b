//! Small inventories for the rule, graph, report, config and removal tests: one account with one grant and one
//! deployed API, and builders to add the near misses each test needs.

use crate::inventory::*;
use time::macros::datetime;

/// A grant on `vpc-1/i-1:port`.
pub fn grant(id: &str, name: &str, port: u16) -> Grant {
    Grant {
        id: id.into(),
        name: name.into(),
        key: GrantKey {
            vpc_id: "vpc-1".into(),
            instance_id: "i-1".into(),
            port,
        },
        description: String::new(),
        vpc_target_host_name: String::new(),
        created_time: String::new(),
    }
}

/// An API of group `orders`.
pub fn api(id: &str, name: &str, method: &str, path: &str) -> ApiIdentity {
    ApiIdentity {
        group_id: "grp-1".into(),
        group_name: "orders".into(),
        api_id: id.into(),
        api_name: name.into(),
        method: method.into(),
        path: path.into(),
    }
}

/// An enabled reference by name only.
pub fn vpc_by_name(name: &str) -> Route {
    Route::Vpc {
        vpc: Box::new(VpcRef {
            name: Some(name.into()),
            enabled: true,
            ..VpcRef::default()
        }),
    }
}

/// An enabled reference by tuple only.
pub fn vpc_by_tuple(vpc: &str, instance: &str, port: u16) -> Route {
    Route::Vpc {
        vpc: Box::new(VpcRef {
            vpc_id: Some(vpc.into()),
            instance_id: Some(instance.into()),
            port: Some(port),
            enabled: true,
            ..VpcRef::default()
        }),
    }
}

/// A deployment of `api` in `stage`.
pub fn deployment(api: ApiIdentity, stage: Stage, route: Route) -> Deployment {
    Deployment {
        api: api.into(),
        stage,
        deployed_time: String::new(),
        effective_version: None,
        route,
    }
}

/// A draft of API `id` named `draftN`.
pub fn draft(id: &str, route: Route) -> ApiDraft {
    ApiDraft {
        api: api(id, &format!("draft-{id}"), "POST", "/orders").into(),
        modified_time: String::new(),
        route,
    }
}

/// A historical version of `api`.
pub fn version(
    api: ApiIdentity,
    stage: Stage,
    version: &str,
    online: bool,
    route: Route,
) -> HistoricalVersion {
    HistoricalVersion {
        api: api.into(),
        stage,
        version: version.into(),
        online,
        deployed_time: String::new(),
        route,
    }
}

/// A VPC backend with one model per `(stage, grant name)`.
pub fn backend(id: &str, models: &[(Stage, &str)]) -> Backend {
    Backend {
        id: id.into(),
        name: format!("{id}-name"),
        backend_type: "VPC".into(),
        models: models
            .iter()
            .map(|(stage, name)| BackendModel {
                stage: *stage,
                vpc: Some(VpcRef {
                    name: Some((*name).into()),
                    enabled: true,
                    ..VpcRef::default()
                }),
            })
            .collect(),
        users: Vec::new(),
    }
}

/// A gap in group `grp-2`, narrowed to `grant` when given.
pub fn gap(grant: Option<&str>) -> Gap {
    Gap {
        scope: "group:grp-2".into(),
        action: "DescribeApis".into(),
        code: "Forbidden.RAM".into(),
        message: "the caller is not authorized".into(),
        grant: grant.map(Into::into),
    }
}

/// One grant `orders-vpc` (apv-1, vpc-1/i-1:80) and `orders/getOrder` deployed in RELEASE
/// through it by name.
pub fn account() -> Inventory {
    let mut inventory = Inventory::new("cn-hangzhou".into());
    inventory.taken_at = datetime!(2026-01-02 03:04:05 UTC);
    inventory.grants.push(grant("apv-1", "orders-vpc", 80));
    inventory.groups.push(Group {
        id: "grp-1".into(),
        name: "orders".into(),
        stages: Vec::new(),
        modified_time: String::new(),
    });
    inventory.deployments.push(deployment(
        api("api-1", "getOrder", "GET", "/orders/[id]"),
        Stage::Release,
        vpc_by_name("orders-vpc"),
    ));
    inventory
}

/// One small account that fires most rules: a deployment, a backend with an idle stage,
/// a draft, an old version, a dangling reference, a spare grant and a gap-free scan.
pub fn rich_account() -> Inventory {
    let mut inventory = account();
    inventory.grants.push(grant("apv-2", "payments-vpc", 8080));
    inventory.grants.push(grant("apv-3", "spare-vpc", 9000));
    inventory.deployments.push(deployment(
        api("api-2", "pay", "POST", "/pay"),
        Stage::Release,
        Route::Backend {
            backend_id: "be-1".into(),
        },
    ));
    inventory.backends.push(backend(
        "be-1",
        &[
            (Stage::Release, "payments-vpc"),
            (Stage::Pre, "payments-vpc"),
        ],
    ));
    inventory
        .drafts
        .push(draft("api-3", vpc_by_name("orders-vpc")));
    inventory
        .drafts
        .push(draft("api-4", vpc_by_name("orders-old")));
    inventory.history.push(version(
        api("api-1", "getOrder", "GET", "/orders/[id]"),
        Stage::Release,
        "20250101000000000",
        false,
        vpc_by_tuple("vpc-1", "i-1", 80),
    ));
    inventory.index.push(IndexedUse {
        grant: "apv-1".into(),
        group_id: "grp-1".into(),
        group_name: "orders".into(),
        api_id: "api-1".into(),
        api_name: "getOrder".into(),
        stage: Stage::Release,
    });
    inventory
}

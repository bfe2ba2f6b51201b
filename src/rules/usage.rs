//! GG1xx: who routes traffic through a grant — deployments, backend stage models, drafts,
//! history — and whether the service's own index agrees with the walk. In: the graph and the
//! selection. Out: hits. Nothing here prints or decides severity.

use super::{dormant_note, Freshness, Hit};
use crate::graph::{Graph, Usage};
use crate::selection::Selection;
use std::fmt::{self, Write as _};

/// `grant NAME (matched by KEYS)`, and the dormant note: a `Display`, written straight into
/// the message that names it.
struct Through<'u, 'g>(&'u Usage<'g>);

impl fmt::Display for Through<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let usage = self.0;
        write!(
            f,
            "grant {} (matched by {}){}",
            usage.grant.name,
            usage.matched.keys(),
            dormant_note(usage.matched.dormant)
        )
    }
}

/// A finding's message, in a string with room for a typical one from the start: a large
/// account has hundreds of thousands, and `format!` would grow each one two or three times.
fn message(text: fmt::Arguments<'_>) -> String {
    let mut message = String::with_capacity(192);
    // Writing into a string cannot fail.
    let _ = message.write_fmt(text);
    message
}

/// GG101 deployed-api-uses-grant
pub fn deployed_api_uses_grant<'g>(
    graph: &'g Graph<'_>,
    selection: &'g Selection,
    _: &Freshness,
) -> Vec<Hit<'g>> {
    selection
        .grants()
        .flat_map(|grant| graph.deployments_through(grant))
        .map(|d| {
            let message = message(format_args!(
                "{} is live and routes through {}",
                d.user,
                Through(d)
            ));
            Hit::usage(d, message)
        })
        .collect()
}

/// GG102 backend-stage-uses-grant
pub fn backend_stage_uses_grant<'g>(
    graph: &'g Graph<'_>,
    selection: &'g Selection,
    _: &Freshness,
) -> Vec<Hit<'g>> {
    let mut hits = Vec::new();
    for grant in selection.grants() {
        for model in graph.backend_models_through(grant) {
            let hop = model
                .usage
                .backend
                .as_ref()
                .expect("a model use has a backend");
            for user in &model.deployed {
                let usage = Usage {
                    user: user.clone(),
                    ..model.usage.clone()
                };
                let message = message(format_args!(
                    "{user} is live on backend {} whose {} model routes through {}",
                    hop.name,
                    hop.stage,
                    Through(&model.usage)
                ));
                hits.push(Hit::usage(&usage, message));
            }
        }
    }
    hits
}

/// GG103 draft-api-uses-grant
pub fn draft_api_uses_grant<'g>(
    graph: &'g Graph<'_>,
    selection: &'g Selection,
    _: &Freshness,
) -> Vec<Hit<'g>> {
    selection
        .grants()
        .flat_map(|grant| graph.drafts_through(grant))
        .map(|d| {
            let via = match &d.backend {
                Some(hop) => format!(" via backend {}", hop.name),
                None => String::new(),
            };
            let message = message(format_args!(
                "{} routes{via} through {}; its next publish breaks",
                d.user,
                Through(d)
            ));
            Hit::usage(d, message)
        })
        .collect()
}

/// GG104 history-uses-grant
pub fn history_uses_grant<'g>(
    graph: &'g Graph<'_>,
    selection: &'g Selection,
    _: &Freshness,
) -> Vec<Hit<'g>> {
    selection
        .grants()
        .flat_map(|grant| graph.history_through(grant))
        .map(|h| {
            let message = message(format_args!(
                "{} routes through {}; a rollback to it breaks the stage",
                h.user,
                Through(h)
            ));
            Hit::usage(h, message)
        })
        .collect()
}

/// GG105 idle-backend-uses-grant
pub fn idle_backend_uses_grant<'g>(
    graph: &'g Graph<'_>,
    selection: &'g Selection,
    _: &Freshness,
) -> Vec<Hit<'g>> {
    selection
        .grants()
        .flat_map(|grant| graph.backend_models_through(grant))
        .filter(|model| model.deployed.is_empty())
        .map(|model| {
            let usage = &model.usage;
            let hop = usage.backend.as_ref().expect("a model use has a backend");
            let message = message(format_args!(
                "backend {} ({}) routes its {} model through {}, but no API deployed in {} uses it",
                hop.name,
                hop.id,
                hop.stage,
                Through(usage),
                hop.stage
            ));
            Hit::usage(usage, message)
        })
        .collect()
}

/// GG106 index-disagrees
pub fn index_disagrees<'g>(
    graph: &'g Graph<'_>,
    selection: &'g Selection,
    _: &Freshness,
) -> Vec<Hit<'g>> {
    let mut hits = Vec::new();
    for grant in selection.grants() {
        for entry in graph
            .index_uses(grant)
            .into_iter()
            .filter(|e| !e.found_by_walk)
        {
            let message = message(format_args!(
                "DescribeApisByVpcAccess lists {} as using grant {}, but the walk did not find it",
                entry.user, grant.name
            ));
            let usage = Usage {
                grant,
                user: entry.user,
                backend: None,
                matched: Default::default(),
            };
            hits.push(Hit::usage(&usage, message));
        }
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::testing::*;
    use crate::inventory::{BackendUser, IndexedUse, Inventory, Route, Stage};
    use crate::rules::path_of;
    use time::macros::datetime;

    /// Runs `check`; the inventory, graph and selection are leaked so the hits, which borrow
    /// from them, can outlive this function (a few bytes per test).
    fn run(check: super::super::Check, inventory: &Inventory) -> Vec<Hit<'static>> {
        let inventory: &'static Inventory = Box::leak(Box::new(inventory.clone()));
        let graph: &'static Graph<'static> = Box::leak(Box::new(crate::graph::build(inventory)));
        let selection: &'static Selection = Box::leak(Box::new(Selection::all(graph.grants())));
        let freshness = Freshness {
            now: datetime!(2026-01-02 03:04:05 UTC),
            max_age: std::time::Duration::from_secs(86_400),
        };
        check(graph, selection, &freshness)
    }

    fn users(hits: &[Hit]) -> Vec<String> {
        hits.iter()
            .map(|h| h.user.as_ref().map(ToString::to_string).unwrap_or_default())
            .collect()
    }

    #[test]
    fn gg101_fires_for_a_deployment_by_name_and_not_for_another_port() {
        let mut inventory = account();
        // Near miss: same VPC and instance, another port, another name.
        inventory.deployments.push(deployment(
            api("api-2", "listOrders", "GET", "/orders"),
            Stage::Pre,
            vpc_by_tuple("vpc-1", "i-1", 8080),
        ));
        inventory.grants.push(grant("apv-2", "other", 8080));
        let hits = run(deployed_api_uses_grant, &inventory);
        let on_first: Vec<_> = hits
            .iter()
            .filter(|h| h.grant.map(|g| g.id.as_str()) == Some("apv-1"))
            .collect();
        assert_eq!(on_first.len(), 1);
        assert_eq!(
            on_first[0].message,
            "orders/getOrder (GET /orders/[id]) @ RELEASE is live and routes through grant orders-vpc (matched by name)"
        );
        assert_eq!(hits.len(), 2, "the 8080 deployment belongs to apv-2 only");
    }

    #[test]
    fn gg101_matches_by_tuple_and_by_id_and_says_when_dormant() {
        let mut inventory = account();
        inventory.deployments[0].route = vpc_by_tuple("vpc-1", "i-1", 80);
        let hits = run(deployed_api_uses_grant, &inventory);
        assert!(hits[0].message.contains("matched by tuple"));

        inventory.deployments[0].route = Route::Vpc {
            vpc: Box::new(crate::inventory::VpcRef {
                vpc_access_id: Some("apv-1".into()),
                enabled: false,
                ..Default::default()
            }),
        };
        let hits = run(deployed_api_uses_grant, &inventory);
        assert_eq!(hits.len(), 1);
        assert!(hits[0].message.contains("matched by id"));
        assert!(hits[0].message.contains("dormant"));
    }

    #[test]
    fn gg101_ignores_non_vpc_routes() {
        let mut inventory = account();
        inventory.deployments[0].route = Route::Other;
        assert!(run(deployed_api_uses_grant, &inventory).is_empty());
    }

    #[test]
    fn gg102_fires_for_an_api_deployed_in_the_stage_of_the_model() {
        let mut inventory = account();
        inventory.deployments[0].route = Route::Backend {
            backend_id: "be-1".into(),
        };
        // Near miss: the PRE model also uses the grant but nothing is deployed in PRE.
        inventory.backends.push(backend(
            "be-1",
            &[(Stage::Release, "orders-vpc"), (Stage::Pre, "orders-vpc")],
        ));
        let hits = run(backend_stage_uses_grant, &inventory);
        assert_eq!(
            users(&hits),
            ["orders/getOrder (GET /orders/[id]) @ RELEASE"]
        );
        assert_eq!(
            path_of(&hits[0]),
            [
                "grant orders-vpc (apv-1)",
                "backend be-1-name (be-1) model @ RELEASE",
                "orders/getOrder (GET /orders/[id]) @ RELEASE"
            ]
        );
        assert!(run(deployed_api_uses_grant, &inventory).is_empty());
    }

    #[test]
    fn gg102_counts_users_listed_by_describe_apis_by_backend() {
        let mut inventory = account();
        inventory.deployments.clear();
        let mut be = backend("be-1", &[(Stage::Test, "orders-vpc")]);
        be.users.push(BackendUser {
            group_id: "grp-1".into(),
            api_id: "api-7".into(),
            stage: Some(Stage::Test),
        });
        // Near miss: a draft user does not make the model live.
        be.users.push(BackendUser {
            group_id: "grp-1".into(),
            api_id: "api-8".into(),
            stage: None,
        });
        inventory.backends.push(be);
        let hits = run(backend_stage_uses_grant, &inventory);
        assert_eq!(hits.len(), 1);
        assert_eq!(
            hits[0]
                .user
                .as_ref()
                .and_then(|u| u.api_id())
                .map(|a| a.as_str()),
            Some("api-7")
        );
        assert!(run(idle_backend_uses_grant, &inventory).is_empty());
    }

    #[test]
    fn gg105_fires_for_a_model_no_deployed_api_uses() {
        let mut inventory = account();
        inventory.deployments[0].route = Route::Backend {
            backend_id: "be-1".into(),
        };
        inventory.backends.push(backend(
            "be-1",
            &[(Stage::Release, "orders-vpc"), (Stage::Pre, "orders-vpc")],
        ));
        let hits = run(idle_backend_uses_grant, &inventory);
        assert_eq!(hits.len(), 1, "RELEASE is used, PRE is idle");
        assert!(hits[0].message.contains("its PRE model"));
    }

    #[test]
    fn gg103_fires_for_a_draft_directly_or_through_a_backend() {
        let mut inventory = account();
        inventory
            .drafts
            .push(draft("api-d1", vpc_by_name("orders-vpc")));
        inventory.drafts.push(draft(
            "api-d2",
            Route::Backend {
                backend_id: "be-1".into(),
            },
        ));
        // Near miss: a draft on another grant's name.
        inventory
            .drafts
            .push(draft("api-d3", vpc_by_name("payments-vpc")));
        inventory.backends.push(backend(
            "be-1",
            &[(Stage::Pre, "orders-vpc"), (Stage::Test, "orders-vpc")],
        ));
        let hits = run(draft_api_uses_grant, &inventory);
        let apis: Vec<_> = hits
            .iter()
            .filter_map(|h| h.user.as_ref()?.api_id().map(|a| a.to_string()))
            .collect();
        assert_eq!(apis, ["api-d1", "api-d2"]);
        assert!(hits[1].message.contains("via backend be-1-name"));
    }

    #[test]
    fn gg104_fires_for_offline_versions_only() {
        let mut inventory = account();
        let get = api("api-1", "getOrder", "GET", "/orders/[id]");
        inventory.history.push(version(
            get.clone(),
            Stage::Release,
            "v1",
            false,
            vpc_by_name("orders-vpc"),
        ));
        // Near miss: the ONLINE version is the deployment, reported by GG101.
        inventory.history.push(version(
            get,
            Stage::Release,
            "v2",
            true,
            vpc_by_name("orders-vpc"),
        ));
        let hits = run(history_uses_grant, &inventory);
        assert_eq!(
            users(&hits),
            ["orders/getOrder (GET /orders/[id]) version v1 @ RELEASE"]
        );
    }

    #[test]
    fn gg106_fires_when_the_index_lists_what_the_walk_missed() {
        let mut inventory = account();
        let indexed = |stage| IndexedUse {
            grant: "apv-1".into(),
            group_id: "grp-1".into(),
            group_name: "orders".into(),
            api_id: "api-1".into(),
            api_name: "getOrder".into(),
            stage,
        };
        // Near miss: RELEASE is what the walk found too.
        inventory.index.push(indexed(Stage::Release));
        inventory.index.push(indexed(Stage::Pre));
        let hits = run(index_disagrees, &inventory);
        assert_eq!(users(&hits), ["orders/getOrder (GET /orders/[id]) @ PRE"]);
    }
}

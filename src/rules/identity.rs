//! GG3xx: is the grant the one the operator meant, and do references name grants
//! consistently — selectors that match nothing or too much, references whose keys disagree,
//! references to grants that do not exist, grants RemoveVpcAccess cannot tell apart, and
//! names that match a grant only after folding. In: the graph and the selection. Out: hits.

use super::{dormant_note, Freshness, Hit};
use crate::graph::{describe_reference, Graph, Step};
use crate::selection::{Selection, Unresolved};

/// GG301 no-such-grant
pub fn no_such_grant<'g>(
    graph: &'g Graph<'_>,
    selection: &'g Selection,
    _: &Freshness,
) -> Vec<Hit<'g>> {
    match selection.unresolved() {
        Some(Unresolved::NoSuchGrant(selector)) => vec![Hit::global(
            None,
            Vec::new(),
            format!("no grant in {} matches {selector}", graph.region()),
        )],
        _ => Vec::new(),
    }
}

/// GG302 ambiguous-selector
pub fn ambiguous_selector<'g>(
    _: &'g Graph<'_>,
    selection: &'g Selection,
    _: &Freshness,
) -> Vec<Hit<'g>> {
    let Some(Unresolved::Ambiguous(selector, candidates)) = selection.unresolved() else {
        return Vec::new();
    };
    let listed: Vec<String> = candidates
        .iter()
        .map(|g| format!("{} ({}, port {})", g.id, g.name, g.key.port))
        .collect();
    vec![Hit::global(
        None,
        Vec::new(),
        format!(
            "{selector} matches {} grants: {}; select one with --vpc-access-id",
            candidates.len(),
            listed.join(", ")
        ),
    )]
}

/// GG303 reference-key-mismatch
pub fn reference_key_mismatch<'g>(
    graph: &'g Graph<'_>,
    selection: &'g Selection,
    _: &Freshness,
) -> Vec<Hit<'g>> {
    selection
        .grants()
        .flat_map(|grant| {
            graph.key_mismatches(grant).into_iter().map(move |usage| {
                let message = format!(
                    "{} matches grant {} ({}) by {} only; its other keys point elsewhere{}",
                    usage.user,
                    grant.name,
                    grant.key,
                    usage.matched.keys(),
                    dormant_note(usage.matched.dormant)
                );
                Hit::usage(usage, message)
            })
        })
        .collect()
}

/// GG304 dangling-reference
pub fn dangling_reference<'g>(
    graph: &'g Graph<'_>,
    _: &'g Selection,
    _: &Freshness,
) -> Vec<Hit<'g>> {
    graph
        .dangling_references()
        .into_iter()
        .map(|dangling| {
            let mut path = vec![Step::Text(format!(
                "missing grant ({})",
                describe_reference(dangling.target)
            ))];
            path.push(match &dangling.backend {
                Some(hop) => Step::Text(hop.to_string()),
                None => Step::User,
            });
            let message = format!(
                "{} references a grant that does not exist ({}){}",
                dangling.user,
                describe_reference(dangling.target),
                dormant_note(!dangling.target.enabled)
            );
            Hit::global(Some(dangling.user), path, message)
        })
        .collect()
}

/// GG305 shared-tuple
pub fn shared_tuple<'g>(
    graph: &'g Graph<'_>,
    selection: &'g Selection,
    _: &Freshness,
) -> Vec<Hit<'g>> {
    selection
        .grants()
        .filter_map(|grant| {
            let others = graph.grants_sharing_tuple(grant);
            if others.is_empty() {
                return None;
            }
            let named: Vec<String> = others
                .iter()
                .map(|g| format!("grant {} ({})", g.name, g.id))
                .collect();
            let message = format!(
                "{} also {} the tuple {}; RemoveVpcAccess addresses grants by this tuple, so removing this grant could remove {} as well",
                named.join(", "),
                if others.len() == 1 { "holds" } else { "hold" },
                grant.key,
                if others.len() == 1 { "it" } else { "them" },
            );
            // The other grants are named in the message, not on the path: they do not depend
            // on this one, they are addressed with it.
            Some(Hit::grant(grant, message))
        })
        .collect()
}

/// GG306 near-match-reference
pub fn near_match_reference<'g>(
    graph: &'g Graph<'_>,
    selection: &'g Selection,
    _: &Freshness,
) -> Vec<Hit<'g>> {
    selection
        .grants()
        .flat_map(|grant| graph.near_matches(grant))
        .map(|near| {
            let written = near.reference.name.as_deref().unwrap_or_default();
            let message = format!(
                "{} names grant {written:?}, which equals {:?} only after case or whitespace folding; the service's name matching is not documented, so it may route through this grant{}",
                near.user,
                near.grant.name,
                dormant_note(!near.reference.enabled)
            );
            let mut path = vec![Step::Grant(near.grant)];
            match &near.backend {
                Some(hop) => path.push(Step::Text(hop.to_string())),
                None => path.push(Step::User),
            }
            Hit {
                grant: Some(near.grant),
                user: Some(near.user),
                path,
                message,
                source: None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::testing::*;
    use crate::inventory::{Route, Stage, VpcRef};
    use crate::rules::path_of;
    use crate::selection::Selector;
    use std::time::Duration;

    fn freshness() -> Freshness {
        Freshness {
            now: account().taken_at,
            max_age: Duration::from_secs(86_400),
        }
    }

    #[test]
    fn gg301_fires_for_an_unknown_name_and_not_for_a_known_one() {
        let inventory = account();
        let graph = crate::graph::build(&inventory);
        let missing =
            Selection::resolve(Some(&Selector::Name("orders-vcp".into())), graph.grants());
        let hits = no_such_grant(&graph, &missing, &freshness());
        assert_eq!(
            hits[0].message,
            "no grant in cn-hangzhou matches --name orders-vcp"
        );
        let found = Selection::resolve(Some(&Selector::Name("orders-vpc".into())), graph.grants());
        assert!(no_such_grant(&graph, &found, &freshness()).is_empty());
    }

    #[test]
    fn gg302_lists_every_candidate_and_suggests_the_id() {
        let mut inventory = account();
        inventory.grants.push(grant("apv-2", "orders-vpc", 8080));
        let graph = crate::graph::build(&inventory);
        let selection =
            Selection::resolve(Some(&Selector::Name("orders-vpc".into())), graph.grants());
        let hits = ambiguous_selector(&graph, &selection, &freshness());
        assert_eq!(
            hits[0].message,
            "--name orders-vpc matches 2 grants: apv-1 (orders-vpc, port 80), apv-2 (orders-vpc, port 8080); select one with --vpc-access-id"
        );
        let one = Selection::resolve(Some(&Selector::Id("apv-2".into())), graph.grants());
        assert!(ambiguous_selector(&graph, &one, &freshness()).is_empty());
    }

    #[test]
    fn gg303_fires_when_name_matches_but_tuple_points_elsewhere() {
        let mut inventory = account();
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
        // Near miss: all keys agree.
        inventory.drafts.push(draft(
            "api-d",
            Route::Vpc {
                vpc: Box::new(VpcRef {
                    name: Some("orders-vpc".into()),
                    vpc_id: Some("vpc-1".into()),
                    instance_id: Some("i-1".into()),
                    port: Some(80),
                    enabled: true,
                    ..VpcRef::default()
                }),
            },
        ));
        let graph = crate::graph::build(&inventory);
        let selection = Selection::all(graph.grants());
        let hits = reference_key_mismatch(&graph, &selection, &freshness());
        assert_eq!(hits.len(), 1);
        assert_eq!(
            hits[0].message,
            "orders/getOrder (GET /orders/[id]) @ RELEASE matches grant orders-vpc (vpc-1/i-1:80) by name only; its other keys point elsewhere"
        );
    }

    #[test]
    fn gg303_fires_once_for_a_backend_model_not_per_api() {
        let mut inventory = account();
        inventory.deployments[0].route = Route::Backend {
            backend_id: "be-1".into(),
        };
        let mut be = backend("be-1", &[(Stage::Release, "orders-vpc")]);
        be.models[0].vpc.as_mut().expect("vpc model").vpc_access_id = Some("apv-old".into());
        inventory.backends.push(be);
        let graph = crate::graph::build(&inventory);
        let selection = Selection::all(graph.grants());
        let hits = reference_key_mismatch(&graph, &selection, &freshness());
        assert_eq!(hits.len(), 1);
        assert!(hits[0]
            .message
            .starts_with("backend be-1-name (be-1) @ RELEASE matches"));
    }

    #[test]
    fn gg304_fires_for_a_reference_to_no_grant_and_not_for_a_real_one() {
        let mut inventory = account();
        inventory
            .drafts
            .push(draft("api-d", vpc_by_name("orders-old")));
        let graph = crate::graph::build(&inventory);
        let selection = Selection::all(graph.grants());
        let hits = dangling_reference(&graph, &selection, &freshness());
        assert_eq!(hits.len(), 1);
        assert_eq!(
            hits[0].message,
            "orders/draft-api-d (POST /orders) [draft] references a grant that does not exist (name orders-old)"
        );
        assert_eq!(hits[0].grant, None);
    }

    #[test]
    fn gg305_fires_on_both_grants_of_a_shared_tuple_and_not_on_the_next_port() {
        let mut inventory = account();
        inventory.grants.push(grant("apv-2", "orders-vpc-old", 80));
        // Near miss: same VPC and instance, another port.
        inventory.grants.push(grant("apv-3", "orders-vpc-81", 81));
        let graph = crate::graph::build(&inventory);
        let selection = Selection::all(graph.grants());
        let hits = shared_tuple(&graph, &selection, &freshness());
        let on: Vec<_> = hits
            .iter()
            .map(|h| h.grant.map(|g| g.id.as_str()))
            .collect();
        assert_eq!(on, [Some("apv-1"), Some("apv-2")]);
        assert_eq!(
            hits[0].message,
            "grant orders-vpc-old (apv-2) also holds the tuple vpc-1/i-1:80; RemoveVpcAccess addresses grants by this tuple, so removing this grant could remove it as well"
        );
        assert!(hits[1]
            .message
            .starts_with("grant orders-vpc (apv-1) also holds"));
        assert_eq!(path_of(&hits[1]), ["grant orders-vpc-old (apv-2)"]);
        // Selected alone, a grant still hears of the grant it cannot be told apart from.
        let one = Selection::resolve(Some(&Selector::Id("apv-2".into())), graph.grants());
        assert_eq!(shared_tuple(&graph, &one, &freshness()).len(), 1);
        let other = Selection::resolve(Some(&Selector::Id("apv-3".into())), graph.grants());
        assert!(shared_tuple(&graph, &other, &freshness()).is_empty());
    }

    #[test]
    fn gg305_names_every_other_grant_of_the_tuple_in_one_finding() {
        let mut inventory = account();
        inventory.grants.push(grant("apv-2", "orders-b", 80));
        inventory.grants.push(grant("apv-3", "orders-c", 80));
        let graph = crate::graph::build(&inventory);
        let selection = Selection::all(graph.grants());
        let hits = shared_tuple(&graph, &selection, &freshness());
        assert_eq!(hits.len(), 3);
        assert_eq!(
            hits[0].message,
            "grant orders-b (apv-2), grant orders-c (apv-3) also hold the tuple vpc-1/i-1:80; RemoveVpcAccess addresses grants by this tuple, so removing this grant could remove them as well"
        );
    }

    #[test]
    fn gg306_fires_for_a_name_that_differs_only_in_case_or_whitespace_and_gg304_does_not() {
        let mut inventory = account();
        inventory
            .drafts
            .push(draft("api-d", vpc_by_name(" Orders-VPC")));
        // Near misses: another name (dangling), and the exact name (a plain user).
        inventory
            .drafts
            .push(draft("api-e", vpc_by_name("orders-vpc2")));
        inventory
            .drafts
            .push(draft("api-f", vpc_by_name("orders-vpc")));
        let graph = crate::graph::build(&inventory);
        let selection = Selection::all(graph.grants());
        let hits = near_match_reference(&graph, &selection, &freshness());
        assert_eq!(hits.len(), 1);
        assert_eq!(
            hits[0].message,
            "orders/draft-api-d (POST /orders) [draft] names grant \" Orders-VPC\", which equals \"orders-vpc\" only after case or whitespace folding; the service's name matching is not documented, so it may route through this grant"
        );
        assert_eq!(
            path_of(&hits[0]),
            [
                "grant orders-vpc (apv-1)",
                "orders/draft-api-d (POST /orders) [draft]"
            ]
        );
        let dangling = dangling_reference(&graph, &selection, &freshness());
        let users: Vec<String> = dangling
            .iter()
            .map(|h| h.user.as_ref().unwrap().to_string())
            .collect();
        assert_eq!(users, ["orders/draft-api-e (POST /orders) [draft]"]);
    }

    #[test]
    fn gg306_leaves_a_reference_that_matches_the_grant_by_tuple_to_gg303() {
        let mut inventory = account();
        inventory.drafts.push(draft(
            "api-d",
            Route::Vpc {
                vpc: Box::new(VpcRef {
                    name: Some("ORDERS-VPC".into()),
                    vpc_id: Some("vpc-1".into()),
                    instance_id: Some("i-1".into()),
                    port: Some(80),
                    enabled: true,
                    ..VpcRef::default()
                }),
            },
        ));
        let graph = crate::graph::build(&inventory);
        let selection = Selection::all(graph.grants());
        assert!(near_match_reference(&graph, &selection, &freshness()).is_empty());
        assert_eq!(
            reference_key_mismatch(&graph, &selection, &freshness()).len(),
            1,
            "the tuple links it; the name disagrees"
        );
    }

    #[test]
    fn gg306_fires_when_the_tuple_names_another_grant_and_the_name_nearly_this_one() {
        let mut inventory = account();
        inventory.grants.push(grant("apv-2", "payments-vpc", 8080));
        inventory.drafts.push(draft(
            "api-d",
            Route::Vpc {
                vpc: Box::new(VpcRef {
                    name: Some("Orders-Vpc".into()),
                    vpc_id: Some("vpc-1".into()),
                    instance_id: Some("i-1".into()),
                    port: Some(8080),
                    enabled: false,
                    ..VpcRef::default()
                }),
            },
        ));
        let graph = crate::graph::build(&inventory);
        let selection = Selection::all(graph.grants());
        let hits = near_match_reference(&graph, &selection, &freshness());
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].grant.map(|g| g.name.as_str()), Some("orders-vpc"));
        assert!(
            hits[0].message.ends_with("(the VPC config is dormant: ServiceVpcEnable is not TRUE, but the next edit can revive it)"),
            "{}",
            hits[0].message
        );
    }

    #[test]
    fn gg306_reports_a_backend_model_once_as_the_model() {
        let mut inventory = account();
        inventory.deployments[0].route = Route::Backend {
            backend_id: "be-1".into(),
        };
        inventory
            .backends
            .push(backend("be-1", &[(Stage::Release, "ORDERS-VPC")]));
        let graph = crate::graph::build(&inventory);
        let selection = Selection::all(graph.grants());
        let hits = near_match_reference(&graph, &selection, &freshness());
        assert_eq!(hits.len(), 1);
        assert_eq!(
            path_of(&hits[0]),
            [
                "grant orders-vpc (apv-1)",
                "backend be-1-name (be-1) model @ RELEASE"
            ]
        );
        assert!(hits[0]
            .message
            .starts_with("backend be-1-name (be-1) @ RELEASE names grant \"ORDERS-VPC\""));
    }
}

//! GG3xx: is the grant the one the operator meant, and do references name grants
//! consistently — selectors that match nothing or too much, references whose keys disagree,
//! references to grants that do not exist. In: the graph and the selection. Out: hits.

use super::{dormant_note, Freshness, Hit, Step};
use crate::graph::{describe_reference, Graph};
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

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::inventory::{Route, Stage, VpcRef};
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
}

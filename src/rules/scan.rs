//! GG2xx: whether the audit saw enough — gaps in the walk and the age of the inventory. In:
//! the graph, the selection and the audit time. Out: hits. The time is passed in; nothing
//! here reads the clock.

use super::{Freshness, Hit};
use crate::graph::{Graph, Step};
use crate::selection::Selection;

/// GG201 incomplete-scan
pub fn incomplete_scan<'g>(
    graph: &'g Graph<'_>,
    selection: &'g Selection,
    _: &Freshness,
) -> Vec<Hit<'g>> {
    let mut hits = Vec::new();
    for grant in selection.grants() {
        for gap in graph.gaps_affecting(grant) {
            let message = format!(
                "{} on {} was not read ({}: {}); a user of grant {} could be there",
                gap.action, gap.scope, gap.code, gap.message, grant.name
            );
            let mut hit = Hit::grant(grant, message);
            hit.path.push(Step::Text(gap.scope.clone()));
            hits.push(hit);
        }
    }
    hits
}

/// GG202 stale-inventory
pub fn stale_inventory<'g>(
    graph: &'g Graph<'_>,
    selection: &'g Selection,
    freshness: &Freshness,
) -> Vec<Hit<'g>> {
    let age = freshness.now - graph.taken_at();
    let max_age = time::Duration::try_from(freshness.max_age).unwrap_or(time::Duration::MAX);
    if age <= max_age {
        return Vec::new();
    }
    // Whole seconds read best, except under a second, where they would say "0s".
    let age = match age.whole_seconds() {
        0 => std::time::Duration::from_millis(age.whole_milliseconds().max(0) as u64),
        seconds => std::time::Duration::from_secs(seconds.max(0).unsigned_abs()),
    };
    selection
        .grants()
        .map(|grant| {
            let message = format!(
                "the inventory is {} old (taken {}), older than the configured {}",
                humantime::format_duration(age),
                graph
                    .taken_at()
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_else(|_| graph.taken_at().to_string()),
                humantime::format_duration(freshness.max_age)
            );
            Hit::grant(grant, message)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::testing::*;
    use std::time::Duration;

    fn freshness(hours_later: i64, max_hours: u64) -> Freshness {
        Freshness {
            now: account().taken_at + time::Duration::hours(hours_later),
            max_age: Duration::from_secs(max_hours * 3600),
        }
    }

    #[test]
    fn gg201_fires_for_a_gap_in_scope_and_not_for_one_narrowed_elsewhere() {
        let mut inventory = account();
        inventory.grants.push(grant("apv-2", "other", 81));
        inventory.gaps.push(gap(Some("apv-2")));
        let graph = crate::graph::build(&inventory);
        let selection = Selection::all(graph.grants());
        let hits = incomplete_scan(&graph, &selection, &freshness(0, 24));
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].grant.map(|g| g.id.as_str()), Some("apv-2"));
        assert_eq!(
            hits[0].message,
            "DescribeApis on group:grp-2 was not read (Forbidden.RAM: the caller is not authorized); a user of grant other could be there"
        );
    }

    #[test]
    fn gg201_fires_for_an_unresolved_route_and_an_unknown_backend() {
        let mut inventory = account();
        inventory.deployments[0].route = crate::inventory::Route::Unresolved;
        inventory.drafts.push(draft(
            "api-d",
            crate::inventory::Route::Backend {
                backend_id: "be-missing".into(),
            },
        ));
        let graph = crate::graph::build(&inventory);
        let selection = Selection::all(graph.grants());
        let hits = incomplete_scan(&graph, &selection, &freshness(0, 24));
        let codes: Vec<_> = graph.gaps().iter().map(|g| g.code.as_str()).collect();
        assert_eq!(codes, ["UnresolvedRoute", "UnknownBackend"]);
        assert_eq!(hits.len(), 2);
    }

    #[test]
    fn gg202_fires_only_past_the_configured_age() {
        let inventory = account();
        let graph = crate::graph::build(&inventory);
        let selection = Selection::all(graph.grants());
        assert!(stale_inventory(&graph, &selection, &freshness(23, 24)).is_empty());
        let hits = stale_inventory(&graph, &selection, &freshness(30, 24));
        assert_eq!(
            hits[0].message,
            "the inventory is 1day 6h old (taken 2026-01-02T03:04:05Z), older than the configured 1day"
        );
    }

    #[test]
    fn gg202_never_calls_a_sub_second_age_zero() {
        // Regression: an age under a second was printed as "0s old ... older than 0s".
        let inventory = account();
        let graph = crate::graph::build(&inventory);
        let selection = Selection::all(graph.grants());
        let freshness = Freshness {
            now: account().taken_at + time::Duration::milliseconds(250),
            max_age: Duration::ZERO,
        };
        let hits = stale_inventory(&graph, &selection, &freshness);
        assert!(
            hits[0].message.starts_with("the inventory is 250ms old"),
            "{}",
            hits[0].message
        );
    }
}

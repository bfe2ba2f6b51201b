//! GG4xx: what Terraform declares about a grant. In: the graph's Terraform input (state and
//! configuration read by `terraform`). Out: hits at the declaration's file and line. A grant
//! removed here but still declared there comes back with the next `terraform apply`; an API
//! declared there with stage names is published again through it. These rules never make a
//! grant `unknown`: Terraform is what the next apply does, the account is what runs now.

use super::{Freshness, Hit};
use crate::graph::{Graph, Step};
use crate::inventory::Grant;
use crate::selection::Selection;
use crate::terraform::{tuple_of, DeclaredGrant, GrantMatch, Origin};
use rustc_hash::{FxHashMap, FxHashSet};

/// `ADDRESS (FILE:LINE)`, how a finding names a declaration; `by tuple` when the names do
/// not say it is this grant.
fn declared_at(declaration: &DeclaredGrant, how: GrantMatch) -> String {
    let tuple_only = if how.by_name { "" } else { ", by tuple" };
    format!(
        "{} ({}{tuple_only})",
        declaration.address, declaration.source
    )
}

/// GG401 managed-by-terraform
pub fn managed_by_terraform<'g>(
    graph: &'g Graph,
    selection: &'g Selection,
    _: &Freshness,
) -> Vec<Hit<'g>> {
    let index = graph.terraform_index();
    selection
        .grants()
        .filter_map(|grant| {
            let declarations = index.grants_declaring(grant);
            let (first, _) = declarations.first()?;
            let mut places: Vec<String> = declarations.iter().map(|(d, how)| declared_at(d, *how)).collect();
            places.dedup();
            let message = format!(
                "Terraform manages this grant: {}; delete that resource and apply, or the next apply re-creates the grant",
                places.join(", ")
            );
            let mut hit = Hit::grant(grant, message).at(&first.source);
            hit.path.push(Step::Text(format!("terraform {}", first.address)));
            Some(hit)
        })
        .collect()
}

/// GG402 terraform-declares-user
pub fn terraform_declares_user<'g>(
    graph: &'g Graph,
    selection: &'g Selection,
    _: &Freshness,
) -> Vec<Hit<'g>> {
    let index = graph.terraform_index();
    selection
        .grants()
        .flat_map(|grant| {
            index
                .apis_publishing_through(&grant.name)
                .into_iter()
                .map(move |api| {
                    let name = api
                        .name
                        .as_deref()
                        .map(|n| format!(" (API {n})"))
                        .unwrap_or_default();
                    let message = format!(
                        "{}{name} routes through this grant by name and is published to {}: the next apply makes it live again",
                        api.address,
                        api.stages.join(", ")
                    );
                    let mut hit = Hit::grant(grant, message).at(&api.source);
                    hit.path.push(Step::Text(format!("terraform {}", api.address)));
                    hit
                })
        })
        .collect()
}

/// GG403 terraform-drift
pub fn terraform_drift<'g>(
    graph: &'g Graph,
    selection: &'g Selection,
    _: &Freshness,
) -> Vec<Hit<'g>> {
    let mut hits = Vec::new();
    let recorded: Vec<&DeclaredGrant> = (graph.terraform().grants.iter())
        .filter(|d| d.origin == Origin::State)
        .collect();
    if recorded.is_empty() {
        return hits;
    }
    // The account's grants by name and by tuple: a state records thousands of them.
    let mut by_name: FxHashMap<&str, Vec<&Grant>> = FxHashMap::default();
    let mut by_tuple: FxHashMap<(&str, &str, u16), Vec<&Grant>> = FxHashMap::default();
    for grant in graph.grants() {
        by_name.entry(&grant.name).or_default().push(grant);
        by_tuple.entry(tuple_of(grant)).or_default().push(grant);
    }
    let selected: FxHashSet<&str> = selection.grants().map(|g| g.id.as_str()).collect();
    for declaration in recorded {
        let by_its_tuple = declaration.tuple.key().and_then(|key| by_tuple.get(&key));
        let by_its_name = declaration.name.as_deref().and_then(|n| by_name.get(n));
        let mut candidates: Vec<&Grant> = by_its_name
            .into_iter()
            .chain(by_its_tuple)
            .flatten()
            .copied()
            .collect();
        candidates.sort_by_key(|g| std::ptr::from_ref(*g));
        candidates.dedup_by_key(|g| std::ptr::from_ref(*g));
        let matched: Vec<(&Grant, _)> = candidates
            .into_iter()
            .filter_map(|g| declaration.matches(g).map(|m| (g, m)))
            .collect();
        if matched.is_empty() {
            // About no grant of the account, so only an audit of the whole region says it.
            if selection.is_everything() {
                let message = format!(
                    "the state records {} (name {}, tuple {}) but the account has no such grant: the next apply re-creates it",
                    declaration.address,
                    declaration.name.as_deref().unwrap_or("?"),
                    declaration.tuple
                );
                // The path names the resource, so each such finding has its own fingerprint.
                let path = vec![Step::Text(format!("terraform {}", declaration.address))];
                hits.push(Hit::global(None, path, message).at(&declaration.source));
            }
            continue;
        }
        for (grant, how) in matched
            .into_iter()
            .filter(|(g, _)| selected.contains(g.id.as_str()))
        {
            let message = if how.by_name && !how.by_tuple && declaration.tuple.is_complete() {
                format!(
                    "the state records {} with tuple {}, the account's grant has {}/{}:{}: the next apply replaces it",
                    declaration.address,
                    declaration.tuple,
                    grant.key.vpc_id,
                    grant.key.instance_id,
                    grant.key.port
                )
            } else if how.by_tuple && !how.by_name && declaration.name.is_some() {
                format!(
                    "the state records {} with name {} for this grant's tuple: the next apply replaces it",
                    declaration.address,
                    declaration.name.as_deref().unwrap_or_default()
                )
            } else {
                continue;
            };
            hits.push(Hit::grant(grant, message).at(&declaration.source));
        }
    }
    hits
}

/// GG404 terraform-unresolved
pub fn terraform_unresolved<'g>(graph: &'g Graph, _: &'g Selection, _: &Freshness) -> Vec<Hit<'g>> {
    graph
        .terraform()
        .unresolved
        .iter()
        .map(|u| {
            let message = format!(
                "{} sets {} = {}, which cannot be resolved without running terraform; grantguard does not guess it",
                u.address, u.attribute, u.expression
            );
            let path = vec![Step::Text(format!("terraform {} {}", u.address, u.attribute))];
            Hit::global(None, path, message).at(&u.source)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::testing::*;
    use crate::terraform::{DeclaredApi, DeclaredTuple, SourceLine, Terraform, Unresolved};

    fn at(file: &str, line: Option<u32>) -> SourceLine {
        SourceLine {
            file: file.into(),
            line,
        }
    }

    /// `orders-vpc` (apv-1, vpc-1/i-1:80) and `spare` (apv-9, port 9000).
    fn hits(
        terraform: &Terraform,
        check: super::super::Check,
    ) -> Vec<(Option<String>, String, Option<SourceLine>)> {
        let mut inventory = account();
        inventory.grants.push(grant("apv-9", "spare", 9000));
        let inventory: &'static _ = Box::leak(Box::new(inventory));
        let terraform: &'static Terraform = Box::leak(Box::new(terraform.clone()));
        let graph: &'static Graph<'static> = Box::leak(Box::new(
            crate::graph::build(inventory).with_terraform(terraform),
        ));
        let selection: &'static Selection = Box::leak(Box::new(Selection::all(graph.grants())));
        let freshness = Freshness {
            now: inventory.taken_at,
            max_age: std::time::Duration::from_secs(60),
        };
        check(graph, selection, &freshness)
            .into_iter()
            .map(|h| (h.grant.map(|g| g.name.clone()), h.message, h.source))
            .collect()
    }

    fn declared(origin: Origin, name: Option<&str>, port: Option<u16>) -> DeclaredGrant {
        DeclaredGrant {
            origin,
            address: "alicloud_api_gateway_vpc_access.orders".into(),
            source: match origin {
                Origin::Configuration => at("main.tf", Some(3)),
                Origin::State => at("terraform.tfstate", None),
            },
            name: name.map(str::to_owned),
            tuple: DeclaredTuple {
                vpc_id: Some(
                    grant("apv-1", "orders-vpc", 80)
                        .key
                        .vpc_id
                        .as_str()
                        .to_owned(),
                ),
                instance_id: Some(
                    grant("apv-1", "orders-vpc", 80)
                        .key
                        .instance_id
                        .as_str()
                        .to_owned(),
                ),
                port,
            },
        }
    }

    #[test]
    fn gg401_fires_on_the_declared_grant_only_at_its_line() {
        let terraform = Terraform {
            grants: vec![
                declared(Origin::State, Some("orders-vpc"), Some(80)),
                declared(Origin::Configuration, Some("orders-vpc"), Some(80)),
            ],
            ..Terraform::default()
        };
        let found = hits(&terraform, managed_by_terraform);
        assert_eq!(found.len(), 1, "{found:?}");
        let (grant, message, source) = &found[0];
        assert_eq!(grant.as_deref(), Some("orders-vpc"), "not spare");
        assert_eq!(
            source.as_ref().map(ToString::to_string).as_deref(),
            Some("main.tf:3"),
            "the configuration's line first"
        );
        assert!(message.contains("alicloud_api_gateway_vpc_access.orders (main.tf:3), alicloud_api_gateway_vpc_access.orders (terraform.tfstate)"), "{message}");
        assert!(hits(&Terraform::default(), managed_by_terraform).is_empty());
    }

    #[test]
    fn gg402_fires_for_a_published_api_and_not_for_a_definition_only() {
        let api = |stages: &[&str], grant_name: &str| DeclaredApi {
            origin: Origin::Configuration,
            address: format!("alicloud_api_gateway_api.a{}", stages.len()),
            source: at("apis.tf", Some(12)),
            name: Some("getOrder".into()),
            grant_name: grant_name.into(),
            stages: stages.iter().map(|s| (*s).to_owned()).collect(),
        };
        let terraform = Terraform {
            apis: vec![
                api(&["RELEASE"], "orders-vpc"),
                api(&[], "orders-vpc"),
                api(&["TEST", "PRE"], "other"),
            ],
            ..Terraform::default()
        };
        let found = hits(&terraform, terraform_declares_user);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0.as_deref(), Some("orders-vpc"));
        assert!(
            found[0].1.contains("published to RELEASE"),
            "{}",
            found[0].1
        );
    }

    #[test]
    fn gg403_fires_on_another_tuple_and_on_a_missing_grant_not_on_agreement() {
        let mut missing = declared(Origin::State, Some("gone-vpc"), Some(81));
        missing.address = "alicloud_api_gateway_vpc_access.gone".into();
        let terraform = Terraform {
            grants: vec![
                declared(Origin::State, Some("orders-vpc"), Some(8080)),
                missing,
                declared(Origin::Configuration, Some("orders-vpc"), Some(8080)),
            ],
            ..Terraform::default()
        };
        let found = hits(&terraform, terraform_drift);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].0.as_deref(), Some("orders-vpc"));
        assert!(
            found[0].1.contains(":8080, the account's grant has"),
            "{}",
            found[0].1
        );
        assert_eq!(
            found[1].0, None,
            "a missing grant is about no grant of the account"
        );
        assert!(found[1].1.contains("no such grant"));
        let agreeing = Terraform {
            grants: vec![declared(Origin::State, Some("orders-vpc"), Some(80))],
            ..Terraform::default()
        };
        assert!(hits(&agreeing, terraform_drift).is_empty());
    }

    #[test]
    fn gg404_says_what_could_not_be_resolved_where() {
        let terraform = Terraform {
            unresolved: vec![Unresolved {
                address: "alicloud_api_gateway_vpc_access.orders".into(),
                attribute: "name".into(),
                expression: "var.grant_name".into(),
                source: at("main.tf", Some(5)),
            }],
            ..Terraform::default()
        };
        let found = hits(&terraform, terraform_unresolved);
        assert_eq!(found.len(), 1);
        assert!(
            found[0].1.contains("sets name = var.grant_name"),
            "{}",
            found[0].1
        );
        assert_eq!(found[0].2.as_ref().and_then(|s| s.line), Some(5));
    }
}

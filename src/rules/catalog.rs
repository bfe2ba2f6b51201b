//! The rule catalog: each `rules/GGnnn.json` file embedded at build time and paired with the
//! function that checks it, one line per rule, so the data, the [`RuleId`] enum and the code
//! cannot drift (the tests below check all three). In: the embedded files. Out: a [`Catalog`]
//! of [`RuleDoc`]s and checks. It never reads the disk.

use super::{iac, identity, scan, usage, Freshness, Hit};
use crate::graph::Graph;
use crate::selection::Selection;
use crate::verdict::{RuleDoc, RuleId};
use std::sync::Arc;

/// A rule's check: where it matched, nothing more (the catalog adds id and severity).
/// Hits borrow from the graph (and through it from the inventory) until they become findings.
pub type Check = for<'g, 'a> fn(&'g Graph<'a>, &'g Selection, &Freshness) -> Vec<Hit<'g>>;

macro_rules! rule {
    ($id:ident, $check:path) => {
        (
            RuleId::$id,
            include_str!(concat!("../../rules/", stringify!($id), ".json")),
            $check as Check,
        )
    };
}

const RULES: &[(RuleId, &str, Check)] = &[
    rule!(GG101, usage::deployed_api_uses_grant),
    rule!(GG102, usage::backend_stage_uses_grant),
    rule!(GG103, usage::draft_api_uses_grant),
    rule!(GG104, usage::history_uses_grant),
    rule!(GG105, usage::idle_backend_uses_grant),
    rule!(GG106, usage::index_disagrees),
    rule!(GG201, scan::incomplete_scan),
    rule!(GG202, scan::stale_inventory),
    rule!(GG301, identity::no_such_grant),
    rule!(GG302, identity::ambiguous_selector),
    rule!(GG303, identity::reference_key_mismatch),
    rule!(GG304, identity::dangling_reference),
    rule!(GG305, identity::shared_tuple),
    rule!(GG306, identity::near_match_reference),
    rule!(GG401, iac::managed_by_terraform),
    rule!(GG402, iac::terraform_declares_user),
    rule!(GG403, iac::terraform_drift),
    rule!(GG404, iac::terraform_unresolved),
];

/// A rule: its document and its check.
#[derive(Debug, Clone)]
pub struct Rule {
    /// What the rule is.
    pub doc: RuleDoc,
    /// Its name, shared by its findings.
    pub name: Arc<str>,
    /// What it checks.
    pub check: Check,
}

/// Every rule grantguard knows, in id order.
#[derive(Debug, Clone)]
pub struct Catalog {
    rules: Vec<Rule>,
}

impl Catalog {
    /// The rules embedded in the binary.
    pub fn builtin() -> Catalog {
        let rules = RULES
            .iter()
            .map(|(id, text, check)| {
                // The catalog tests parse every embedded file, so this cannot fail in a build
                // that passed them.
                let doc: RuleDoc = serde_json::from_str(text)
                    .unwrap_or_else(|e| panic!("rules/{id}.json is not a valid rule: {e}"));
                assert_eq!(doc.id, *id, "rules/{id}.json names another id");
                Rule {
                    name: doc.name.as_str().into(),
                    doc,
                    check: *check,
                }
            })
            .collect();
        Catalog { rules }
    }

    /// Every rule, in id order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Every rule document, in id order.
    pub fn docs(&self) -> impl Iterator<Item = &RuleDoc> {
        self.rules.iter().map(|r| &r.doc)
    }

    /// The rule with id `key` (in any case), or the one named `key`.
    pub fn get(&self, key: &str) -> Option<&RuleDoc> {
        self.docs().find(|d| d.answers_to(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn rule_files() -> BTreeSet<String> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/rules");
        std::fs::read_dir(dir)
            .expect("rules/ exists")
            .map(|e| {
                e.expect("readable entry")
                    .file_name()
                    .into_string()
                    .expect("utf-8 name")
            })
            .filter_map(|name| name.strip_suffix(".json").map(str::to_owned))
            .collect()
    }

    #[test]
    fn every_rule_file_has_a_line_in_rules_and_back() {
        let lines: BTreeSet<String> = RULES.iter().map(|(id, _, _)| id.to_string()).collect();
        assert_eq!(rule_files(), lines);
    }

    #[test]
    fn every_rule_file_has_an_enum_variant_and_back() {
        let variants: BTreeSet<String> = RuleId::ALL.iter().map(|id| id.to_string()).collect();
        assert_eq!(rule_files(), variants);
        let lines: Vec<RuleId> = RULES.iter().map(|(id, _, _)| *id).collect();
        assert_eq!(lines, RuleId::ALL, "one line per variant, in id order");
    }

    #[test]
    fn every_embedded_rule_parses_and_its_id_is_its_file_name() {
        for (id, text, _) in RULES {
            let doc: RuleDoc = serde_json::from_str(text).expect("valid rule file");
            assert_eq!(doc.id, *id);
            assert_eq!(doc.id.as_str(), id.as_str());
        }
    }

    #[test]
    fn names_are_kebab_case_and_unique() {
        let catalog = Catalog::builtin();
        let mut seen = BTreeSet::new();
        for doc in catalog.docs() {
            let kebab = !doc.name.is_empty()
                && !doc.name.starts_with('-')
                && !doc.name.ends_with('-')
                && !doc.name.contains("--")
                && doc
                    .name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            assert!(kebab, "{} is not kebab-case", doc.name);
            assert!(seen.insert(doc.name.clone()), "{} is used twice", doc.name);
        }
    }

    #[test]
    fn summaries_start_lowercase_without_final_period() {
        for doc in Catalog::builtin().docs() {
            let first = doc.summary.chars().next().expect("summary is not empty");
            assert!(first.is_lowercase(), "{}: {}", doc.id, doc.summary);
            assert!(!doc.summary.ends_with('.'), "{}: {}", doc.id, doc.summary);
        }
    }

    #[test]
    fn every_explanation_has_the_three_headings_in_order() {
        for doc in Catalog::builtin().docs() {
            let positions: Vec<usize> = ["## What it finds", "## Why it matters", "## What to do"]
                .iter()
                .map(|h| {
                    doc.explanation
                        .find(h)
                        .unwrap_or_else(|| panic!("{} lacks {h}", doc.id))
                })
                .collect();
            assert!(positions.windows(2).all(|w| w[0] < w[1]), "{}", doc.id);
            assert!(
                doc.explanation.contains("Example"),
                "{} has no example",
                doc.id
            );
            assert!(!doc.help().is_empty());
        }
    }

    #[test]
    fn coverage_rules_default_to_deny() {
        let catalog = Catalog::builtin();
        for id in RuleId::COVERAGE {
            assert_eq!(
                catalog.get(id.as_str()).expect("known").default_severity,
                crate::verdict::Severity::Deny
            );
        }
    }

    #[test]
    fn rules_are_found_by_id_or_name() {
        let catalog = Catalog::builtin();
        assert_eq!(catalog.get("gg101").map(|d| d.id), Some(RuleId::GG101));
        assert_eq!(
            catalog.get("dangling-reference").map(|d| d.id),
            Some(RuleId::GG304)
        );
        assert!(catalog.get("GG999").is_none());
    }
}

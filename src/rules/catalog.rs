//! The rule catalog: each `rules/GGnnn.json` file embedded at build time and paired with the
//! function that checks it, one line per rule, so the data and the code cannot drift. In: the
//! embedded files. Out: a [`Catalog`] of [`RuleDoc`]s and checks. It never reads the disk.

use super::{identity, scan, usage, Freshness, Hit, Severity};
use crate::graph::Graph;
use crate::selection::Selection;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A rule's check: where it matched, nothing more (the catalog adds id and severity).
/// Hits borrow from the graph (and through it from the inventory) until they become findings.
pub type Check = for<'g, 'a> fn(&'g Graph<'a>, &'g Selection, &Freshness) -> Vec<Hit<'g>>;

macro_rules! rule {
    ($id:literal, $check:path) => {
        (
            $id,
            include_str!(concat!("../../rules/", $id, ".json")),
            $check as Check,
        )
    };
}

const RULES: &[(&str, &str, Check)] = &[
    rule!("GG101", usage::deployed_api_uses_grant),
    rule!("GG102", usage::backend_stage_uses_grant),
    rule!("GG103", usage::draft_api_uses_grant),
    rule!("GG104", usage::history_uses_grant),
    rule!("GG105", usage::idle_backend_uses_grant),
    rule!("GG106", usage::index_disagrees),
    rule!("GG201", scan::incomplete_scan),
    rule!("GG202", scan::stale_inventory),
    rule!("GG301", identity::no_such_grant),
    rule!("GG302", identity::ambiguous_selector),
    rule!("GG303", identity::reference_key_mismatch),
    rule!("GG304", identity::dangling_reference),
    rule!("GG305", identity::shared_tuple),
    rule!("GG306", identity::near_match_reference),
];

/// Rules whose findings mean "nobody can tell": something was not read (GG106, GG201) or a
/// name may or may not resolve to the grant (GG306). Never below deny, never suppressed, and
/// on their own they make a grant `unknown`, not `blocked` (an unread account is never safe).
pub const COVERAGE_RULES: [&str; 3] = ["GG106", "GG201", "GG306"];

/// True for the coverage rules GG106, GG201 and GG306.
pub fn is_coverage(rule: &str) -> bool {
    COVERAGE_RULES.contains(&rule)
}

/// A rule as its data file describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDoc {
    /// Stable id, `GG101`.
    pub id: String,
    /// Kebab-case name, `deployed-api-uses-grant`.
    pub name: String,
    /// Severity unless the config changes it.
    pub default_severity: Severity,
    /// One lowercase line without a final period.
    pub summary: String,
    /// Markdown with `## What it finds`, `## Why it matters`, `## What to do`.
    pub explanation: String,
}

impl RuleDoc {
    /// The text under `## heading`, trimmed, up to the next heading.
    pub fn section(&self, heading: &str) -> Option<&str> {
        let marker = format!("## {heading}\n");
        let start = self.explanation.find(&marker)? + marker.len();
        let rest = &self.explanation[start..];
        let end = rest.find("\n## ").unwrap_or(rest.len());
        Some(rest[..end].trim())
    }

    /// The fix, from `## What to do`.
    pub fn help(&self) -> &str {
        self.section("What to do").unwrap_or(&self.summary)
    }
}

/// A rule id such as `GG101`, shared by every finding of the rule rather than copied into each.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleId(Arc<str>);

impl RuleId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for RuleId {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for RuleId {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for RuleId {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl From<&str> for RuleId {
    fn from(id: &str) -> Self {
        RuleId(id.into())
    }
}

impl std::fmt::Display for RuleId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for RuleId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// A rule: its document and its check.
#[derive(Debug, Clone)]
pub struct Rule {
    /// What the rule is.
    pub doc: RuleDoc,
    /// Its id, shared by its findings.
    pub id: RuleId,
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
                Rule {
                    id: RuleId::from(doc.id.as_str()),
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

    /// The rule with `id` (case-insensitive), or the one named `id`.
    pub fn get(&self, id: &str) -> Option<&RuleDoc> {
        self.docs()
            .find(|d| d.id.eq_ignore_ascii_case(id) || d.name == id)
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
    fn every_embedded_rule_parses_and_its_id_is_its_file_name() {
        for (id, text, _) in RULES {
            let doc: RuleDoc = serde_json::from_str(text).expect("valid rule file");
            assert_eq!(doc.id, *id);
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
        for id in COVERAGE_RULES {
            assert_eq!(
                catalog.get(id).expect("known").default_severity,
                Severity::Deny
            );
        }
    }

    #[test]
    fn rules_are_found_by_id_or_name() {
        let catalog = Catalog::builtin();
        assert_eq!(catalog.get("gg101").map(|d| d.id.as_str()), Some("GG101"));
        assert_eq!(
            catalog.get("dangling-reference").map(|d| d.id.as_str()),
            Some("GG304")
        );
        assert!(catalog.get("GG999").is_none());
    }
}

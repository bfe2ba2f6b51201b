//! What a rule is, as the audit's results name it: its [`RuleId`], the [`Severity`] of its
//! findings and its [`RuleDoc`] (the text of its `rules/GGnnn.json` file). In: nothing but the
//! id and the document's fields. Out: types the rules, the config, the reports and the removal
//! share. It embeds no rule file and knows no check; `rules::catalog` pairs them.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How bad a finding is, lowest first so that `max` raises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; never holds a removal.
    Info,
    /// Something breaks later (publish, rollback); does not hold a removal by default.
    Warn,
    /// Something breaks now, or nobody can tell: holds the removal.
    Deny,
}

impl Severity {
    /// The word used in reports: `info`, `warn`, `deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warn => "warn",
            Severity::Deny => "deny",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Declares [`RuleId`] with one variant per rule, its id being the variant's name.
macro_rules! rule_ids {
    ($($(#[$doc:meta])* $id:ident,)*) => {
        /// A rule's stable id, one variant per file in `rules/`. It is written, parsed and
        /// serialized as the id itself (`GG101`); the catalog tests check that every file has
        /// a variant and every variant a file.
        // The variants are the ids people read in reports and grep for, not acronyms to case.
        #[allow(clippy::upper_case_acronyms)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum RuleId {
            $($(#[$doc])* $id,)*
        }

        impl RuleId {
            /// Every rule id, in id order.
            pub const ALL: &'static [RuleId] = &[$(RuleId::$id,)*];

            /// The id as text: `GG101`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(RuleId::$id => stringify!($id),)*
                }
            }
        }
    };
}

rule_ids! {
    /// GG101 deployed-api-uses-grant
    GG101,
    /// GG102 backend-stage-uses-grant
    GG102,
    /// GG103 draft-api-uses-grant
    GG103,
    /// GG104 history-uses-grant
    GG104,
    /// GG105 idle-backend-uses-grant
    GG105,
    /// GG106 index-disagrees (coverage)
    GG106,
    /// GG201 incomplete-scan (coverage)
    GG201,
    /// GG202 stale-inventory
    GG202,
    /// GG301 no-such-grant
    GG301,
    /// GG302 ambiguous-selector
    GG302,
    /// GG303 reference-key-mismatch
    GG303,
    /// GG304 dangling-reference
    GG304,
    /// GG305 shared-tuple
    GG305,
    /// GG306 near-match-reference (coverage)
    GG306,
    /// GG401 managed-by-terraform
    GG401,
    /// GG402 terraform-declares-user
    GG402,
    /// GG403 terraform-drift
    GG403,
    /// GG404 terraform-unresolved
    GG404,
}

impl RuleId {
    /// Rules whose findings mean "nobody can tell": something was not read (GG106, GG201) or
    /// a name may or may not resolve to the grant (GG306). Never below deny, never suppressed,
    /// and on their own they make a grant `unknown`, not `blocked` (an unread account is never
    /// safe; docs/architecture.md "Verdicts and fail-closed rule").
    pub const COVERAGE: [RuleId; 3] = [RuleId::GG106, RuleId::GG201, RuleId::GG306];

    /// True for the coverage rules GG106, GG201 and GG306.
    pub fn is_coverage(self) -> bool {
        Self::COVERAGE.contains(&self)
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Text that is not the id of any rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a rule id")]
pub struct UnknownRuleId(pub String);

impl FromStr for RuleId {
    type Err = UnknownRuleId;

    /// The rule whose id is `text`, in any case (`GG101`, `gg101`). A rule's name is resolved
    /// by [`RuleDoc::answers_to`], which needs the document.
    fn from_str(text: &str) -> Result<RuleId, UnknownRuleId> {
        RuleId::ALL
            .iter()
            .copied()
            .find(|id| id.as_str().eq_ignore_ascii_case(text))
            .ok_or_else(|| UnknownRuleId(text.to_owned()))
    }
}

impl Serialize for RuleId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RuleId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<RuleId, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A rule as its data file describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDoc {
    /// Stable id, `GG101`.
    pub id: RuleId,
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

    /// True when a person naming a rule as `key` means this one: its id in any case, or its
    /// name. The command line and `grantguard.json` accept both.
    pub fn answers_to(&self, key: &str) -> bool {
        self.id.as_str().eq_ignore_ascii_case(key) || self.name == key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_parses_in_any_case_and_prints_as_written_in_the_catalog() {
        for &id in RuleId::ALL {
            assert_eq!(id.as_str().parse(), Ok(id));
            assert_eq!(id.as_str().to_ascii_lowercase().parse(), Ok(id));
            assert_eq!(id.to_string(), id.as_str());
        }
        assert_eq!(
            "GG999".parse::<RuleId>(),
            Err(UnknownRuleId("GG999".into()))
        );
        assert!("deployed-api-uses-grant".parse::<RuleId>().is_err());
    }

    #[test]
    fn an_id_serializes_as_its_text_and_back() {
        let json = serde_json::to_string(&[RuleId::GG101, RuleId::GG306]).expect("serializes");
        assert_eq!(json, r#"["GG101","GG306"]"#);
        let back: Vec<RuleId> = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, [RuleId::GG101, RuleId::GG306]);
        assert!(serde_json::from_str::<RuleId>(r#""GG000""#).is_err());
    }

    #[test]
    fn exactly_the_three_coverage_rules_are_coverage() {
        let coverage: Vec<RuleId> = RuleId::ALL
            .iter()
            .copied()
            .filter(|id| id.is_coverage())
            .collect();
        assert_eq!(coverage, [RuleId::GG106, RuleId::GG201, RuleId::GG306]);
    }

    #[test]
    fn ids_are_in_order_and_unique() {
        assert!(RuleId::ALL.windows(2).all(|w| w[0] < w[1]));
        assert!(RuleId::ALL
            .windows(2)
            .all(|w| w[0].as_str() < w[1].as_str()));
    }
}

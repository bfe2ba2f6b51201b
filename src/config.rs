//! `grantguard.json`: severity changes, suppressions with a justification, and the maximum
//! inventory age. In: the file's text and the rule documents (to know the ids and names).
//! Out: a [`Config`] that names rules by [`RuleId`], or a [`ConfigError`] that points at the
//! line and column of the mistake. A rule may be written as its id (`GG104`, any case) or its
//! name (`history-uses-grant`) in both `severity` and `suppress`. It refuses to let a coverage
//! rule (GG106, GG201, GG306) go below deny or be suppressed: an unread account, or a name
//! that may or may not resolve to the grant, is never safe.
//!
//! ```json
//! { "severity": {"GG103": "deny", "dangling-reference": "warn"},
//!   "suppress": [{"rule": "history-uses-grant", "grant": "orders-vpc", "api": "3b81…",
//!                 "justification": "old versions are never rolled back to"}],
//!   "max_inventory_age": "24h",
//!   "region": "cn-hangzhou", "profile": "audit", "qps": 5, "min_severity": "warn",
//!   "attempt_timeout": "30s", "idle_timeout": "10s", "connect_timeout": "5s",
//!   "terraform": ["infra", "infra/terraform.tfstate"] }
//! ```
//!
//! `region`, `profile`, `qps`, `min_severity`, `terraform` and the three timeouts are defaults: a flag (or
//! its environment variable) wins. `settings` reads the file, once per run, and decides.

use crate::inventory::{ApiId, Grant};
use crate::verdict::{RuleDoc, RuleId, Severity};
use miette::{SourceOffset, SourceSpan};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The default for `max_inventory_age`.
pub const DEFAULT_MAX_INVENTORY_AGE: Duration = Duration::from_secs(24 * 3600);

/// A finding the operator accepted, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppression {
    /// The rule, however the file named it.
    pub rule: RuleId,
    /// Grant name or VpcAccessId.
    pub grant: String,
    /// Only findings on this API, when given.
    pub api: Option<ApiId>,
    /// Why; required and non-empty, it is shown in the report.
    pub justification: String,
}

impl Suppression {
    /// True when this suppression covers a finding of `rule` on `grant` and `api`.
    pub fn covers(&self, rule: RuleId, grant: &Grant, api: Option<&ApiId>) -> bool {
        self.rule == rule
            && (self.grant == grant.name || self.grant == grant.id.as_str())
            && self.api.as_ref().is_none_or(|wanted| Some(wanted) == api)
    }
}

/// The user's settings for an audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Severity per rule, replacing the default.
    pub severity: BTreeMap<RuleId, Severity>,
    /// Accepted findings.
    pub suppress: Vec<Suppression>,
    /// The oldest inventory accepted without GG202.
    pub max_inventory_age: Duration,
    /// Defaults for flags (`region`, `profile`, `qps`, `min_severity`).
    pub defaults: Defaults,
}

/// Defaults the config file gives for command-line flags; the flag wins when given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Defaults {
    /// Region when neither `--region` nor a region variable is set.
    pub region: Option<String>,
    /// aliyun CLI profile when `--profile` is not given.
    pub profile: Option<String>,
    /// Requests per second (or `auto`) when neither `--qps` nor `GRANTGUARD_QPS` is given.
    pub qps: Option<crate::cli::Qps>,
    /// The ceiling of `--qps auto` when `--max-qps` is not given.
    pub max_qps: Option<f64>,
    /// Lowest finding severity that fails the run, when `--min-severity` is not given.
    pub min_severity: Option<crate::cli::MinSeverity>,
    /// Connect timeout, when `--connect-timeout` is not given.
    pub connect_timeout: Option<Duration>,
    /// Longest silence while reading an answer, when `--idle-timeout` is not given.
    pub idle_timeout: Option<Duration>,
    /// Longest one attempt may take, when `--attempt-timeout` is not given.
    pub attempt_timeout: Option<Duration>,
    /// Terraform inputs (paths relative to the working directory), when no `--terraform` is given.
    pub terraform: Vec<std::path::PathBuf>,
}

// `qps` is an f64 but never NaN (parse refuses it), so equality is total.
impl Eq for Defaults {}

impl Default for Config {
    fn default() -> Self {
        Config {
            severity: BTreeMap::new(),
            suppress: Vec::new(),
            max_inventory_age: DEFAULT_MAX_INVENTORY_AGE,
            defaults: Defaults::default(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    severity: BTreeMap<String, Severity>,
    #[serde(default)]
    suppress: Vec<FileSuppression>,
    #[serde(default)]
    max_inventory_age: Option<String>,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    profile: Option<String>,
    #[serde(default)]
    qps: Option<crate::cli::Qps>,
    #[serde(default)]
    max_qps: Option<f64>,
    #[serde(default)]
    min_severity: Option<crate::cli::MinSeverity>,
    #[serde(default)]
    connect_timeout: Option<String>,
    #[serde(default)]
    idle_timeout: Option<String>,
    #[serde(default)]
    attempt_timeout: Option<String>,
    #[serde(default)]
    terraform: Vec<std::path::PathBuf>,
}

/// A suppression as written: the rule is an id or a name until [`Config::parse`] resolves it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSuppression {
    rule: String,
    grant: String,
    #[serde(default)]
    api: Option<ApiId>,
    justification: String,
}

/// A config file that cannot be used.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}")]
    #[diagnostic(code(grantguard::config::unreadable))]
    Unreadable {
        /// The path.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Not JSON, or not the config's shape.
    #[error("config is not valid: {message}")]
    #[diagnostic(
        code(grantguard::config::invalid),
        help("the keys are severity, suppress, max_inventory_age, region, profile, qps, max_qps, min_severity, connect_timeout, idle_timeout, attempt_timeout and terraform")
    )]
    Invalid {
        /// What serde said.
        message: String,
        /// The file.
        #[source_code]
        src: Arc<crate::excerpt::Clipped>,
        /// Where.
        #[label("here")]
        at: SourceSpan,
    },
    /// A rule id or name the catalog does not know.
    #[error("config names unknown rule {rule}")]
    #[diagnostic(
        code(grantguard::config::unknown_rule),
        help("`grantguard rules` lists the rule ids and names; either one names a rule")
    )]
    UnknownRule {
        /// The id or name as written.
        rule: String,
        /// The file.
        #[source_code]
        src: Arc<crate::excerpt::Clipped>,
        /// Where.
        #[label("not a rule id or name")]
        at: SourceSpan,
    },
    /// Two keys of `severity` (say an id and a name) for the same rule.
    #[error("config sets the severity of {rule} twice")]
    #[diagnostic(
        code(grantguard::config::rule_twice),
        help("an id and a name of one rule are the same key; keep one of them")
    )]
    RuleTwice {
        /// The rule.
        rule: RuleId,
        /// The file.
        #[source_code]
        src: Arc<crate::excerpt::Clipped>,
        /// Where.
        #[label("{rule} again")]
        at: SourceSpan,
    },
    /// A severity below deny for a coverage rule (GG106, GG201, GG306).
    #[error("coverage rule {rule} cannot be lowered to {level}")]
    #[diagnostic(
        code(grantguard::config::coverage_lowered),
        help("an unread account is never safe: a coverage finding means nobody can tell whether the grant is used, so it stays at deny; fix the permission, retry the scan or correct the reference's spelling instead")
    )]
    CoverageLowered {
        /// The rule.
        rule: RuleId,
        /// The severity asked for.
        level: Severity,
        /// The file.
        #[source_code]
        src: Arc<crate::excerpt::Clipped>,
        /// Where.
        #[label("coverage rule, never below deny")]
        at: SourceSpan,
    },
    /// A suppression of a coverage rule (GG106, GG201, GG306).
    #[error("coverage rule {rule} cannot be suppressed")]
    #[diagnostic(
        code(grantguard::config::coverage_suppressed),
        help("an unread account is never safe: a coverage finding means nobody can tell; fix the permission, retry the scan or correct the reference's spelling instead")
    )]
    CoverageSuppressed {
        /// The rule.
        rule: RuleId,
        /// The file.
        #[source_code]
        src: Arc<crate::excerpt::Clipped>,
        /// Where.
        #[label("coverage rule")]
        at: SourceSpan,
    },
    /// A suppression without a reason.
    #[error("suppression of {rule} for {grant} has no justification")]
    #[diagnostic(
        code(grantguard::config::missing_justification),
        help("say why the finding is accepted; the report shows it")
    )]
    MissingJustification {
        /// The rule.
        rule: RuleId,
        /// The grant.
        grant: String,
        /// The file.
        #[source_code]
        src: Arc<crate::excerpt::Clipped>,
        /// Where.
        #[label("this suppression")]
        at: SourceSpan,
    },
    /// `max_inventory_age` is not a duration.
    #[error("max_inventory_age {value:?} is not a duration")]
    #[diagnostic(
        code(grantguard::config::bad_age),
        help("write it like 24h, 90m or 7d")
    )]
    BadAge {
        /// The value as written.
        value: String,
        /// The file.
        #[source_code]
        src: Arc<crate::excerpt::Clipped>,
        /// Where.
        #[label("{reason}")]
        at: SourceSpan,
        /// Why humantime refused it.
        reason: String,
    },
    /// A timeout default that is not a positive duration.
    #[error("{key} {value:?} is not a timeout")]
    #[diagnostic(
        code(grantguard::config::bad_timeout),
        help("write it like 30s, 500ms or 2m; it must be longer than zero")
    )]
    BadTimeout {
        /// The key.
        key: &'static str,
        /// The value as written.
        value: String,
        /// The file.
        #[source_code]
        src: Arc<crate::excerpt::Clipped>,
        /// Where.
        #[label("{reason}")]
        at: SourceSpan,
        /// Why it is refused.
        reason: String,
    },
    /// A default that is present but unusable (empty region, negative qps, …).
    #[error("{key} {value} is not valid: {reason}")]
    #[diagnostic(
        code(grantguard::config::bad_value),
        help("region and profile are non-empty names; qps is `auto` or a number of requests per second, 0 for no limit; max_qps is a number above 0")
    )]
    BadValue {
        /// The key.
        key: &'static str,
        /// The value as read.
        value: String,
        /// Why it is refused.
        reason: &'static str,
        /// The file.
        #[source_code]
        src: Arc<crate::excerpt::Clipped>,
        /// Where.
        #[label("{reason}")]
        at: SourceSpan,
    },
}

impl Config {
    /// Parses and checks config `text`; `origin` names it in errors, and `rules` are the
    /// documents of the rules it may name, by id or by name.
    pub fn parse<'r>(
        text: &str,
        origin: &str,
        rules: impl IntoIterator<Item = &'r RuleDoc>,
    ) -> Result<Config, ConfigError> {
        let rules: Vec<&RuleDoc> = rules.into_iter().collect();
        let find = |key: &str| rules.iter().copied().find(|doc| doc.answers_to(key));
        // One shared copy of the text for whichever error needs it (keeps the error small).
        let source = Arc::new(crate::excerpt::Clipped::new(origin, text));
        let src = || Arc::clone(&source);
        let file: File = serde_json::from_str(text).map_err(|e| ConfigError::Invalid {
            message: crate::excerpt::printable(&e.to_string(), 300),
            src: src(),
            at: SourceOffset::from_location(text, e.line(), e.column()).into(),
        })?;
        let mut severity = BTreeMap::new();
        for (rule, level) in file.severity {
            let at = locate(text, "severity", &rule);
            let Some(doc) = find(&rule) else {
                return Err(ConfigError::UnknownRule {
                    rule,
                    src: src(),
                    at,
                });
            };
            // The same floor as suppressions: refused, not silently raised back to deny.
            if doc.id.is_coverage() && level < Severity::Deny {
                return Err(ConfigError::CoverageLowered {
                    rule: doc.id,
                    level,
                    src: src(),
                    at,
                });
            }
            if severity.insert(doc.id, level).is_some() {
                return Err(ConfigError::RuleTwice {
                    rule: doc.id,
                    src: src(),
                    at,
                });
            }
        }
        let mut suppress = Vec::with_capacity(file.suppress.len());
        for suppression in file.suppress {
            let at = locate(text, "suppress", &suppression.rule);
            let Some(doc) = find(&suppression.rule) else {
                return Err(ConfigError::UnknownRule {
                    rule: suppression.rule,
                    src: src(),
                    at,
                });
            };
            if doc.id.is_coverage() {
                return Err(ConfigError::CoverageSuppressed {
                    rule: doc.id,
                    src: src(),
                    at,
                });
            }
            if suppression.justification.trim().is_empty() {
                return Err(ConfigError::MissingJustification {
                    rule: doc.id,
                    grant: suppression.grant,
                    src: src(),
                    at,
                });
            }
            suppress.push(Suppression {
                rule: doc.id,
                grant: suppression.grant,
                api: suppression.api,
                justification: suppression.justification,
            });
        }
        let max_inventory_age = match file.max_inventory_age {
            None => DEFAULT_MAX_INVENTORY_AGE,
            Some(value) => humantime::parse_duration(&value).map_err(|e| ConfigError::BadAge {
                at: locate(text, "max_inventory_age", &value),
                reason: e.to_string(),
                value: value.clone(),
                src: src(),
            })?,
        };
        let bad = |key: &'static str, value: String, reason: &'static str| ConfigError::BadValue {
            at: locate_key(text, key),
            key,
            value,
            reason,
            src: src(),
        };
        for (key, value) in [("region", &file.region), ("profile", &file.profile)] {
            if value.as_ref().is_some_and(|v| v.trim().is_empty()) {
                return Err(bad(key, "\"\"".into(), "it is empty"));
            }
        }
        if let Some(crate::cli::Qps::Fixed(qps)) = file.qps {
            if !qps.is_finite() || qps < 0.0 {
                return Err(bad("qps", qps.to_string(), "it must be 0 or more"));
            }
        }
        if let Some(max_qps) = file.max_qps {
            if !max_qps.is_finite() || max_qps <= 0.0 {
                return Err(bad("max_qps", max_qps.to_string(), "it must be above 0"));
            }
        }
        let timeout = |key: &'static str, value: Option<String>| -> Result<_, ConfigError> {
            let Some(value) = value else {
                return Ok(None);
            };
            match humantime::parse_duration(value.trim()) {
                Ok(d) if !d.is_zero() => Ok(Some(d)),
                result => Err(ConfigError::BadTimeout {
                    at: locate(text, key, &value),
                    key,
                    reason: result.map_or_else(|e| e.to_string(), |_| "zero".into()),
                    value,
                    src: src(),
                }),
            }
        };
        Ok(Config {
            severity,
            suppress,
            max_inventory_age,
            defaults: Defaults {
                region: file.region,
                profile: file.profile,
                qps: file.qps,
                max_qps: file.max_qps,
                min_severity: file.min_severity,
                connect_timeout: timeout("connect_timeout", file.connect_timeout)?,
                idle_timeout: timeout("idle_timeout", file.idle_timeout)?,
                attempt_timeout: timeout("attempt_timeout", file.attempt_timeout)?,
                terraform: file.terraform,
            },
        })
    }

    /// The severity of `rule` under this config; coverage rules never below deny (a config
    /// built in code is held to the floor that [`Config::parse`] enforces with an error).
    pub fn severity_of(&self, rule: &RuleDoc) -> Severity {
        let configured = self
            .severity
            .get(&rule.id)
            .copied()
            .unwrap_or(rule.default_severity);
        if rule.id.is_coverage() {
            configured.max(Severity::Deny)
        } else {
            configured
        }
    }

    /// The suppression covering a finding of `rule` on `grant` and `api`, if any. Coverage
    /// rules are never suppressed, even by a config built in code.
    pub fn suppression(
        &self,
        rule: RuleId,
        grant: &Grant,
        api: Option<&ApiId>,
    ) -> Option<&Suppression> {
        if rule.is_coverage() {
            return None;
        }
        self.suppress.iter().find(|s| s.covers(rule, grant, api))
    }
}

/// The span of the value after the first `"key":` in `text` (the key itself when the value
/// cannot be found).
fn locate_key(text: &str, key: &str) -> SourceSpan {
    let quoted_key = format!("\"{key}\"");
    let Some(from) = text.find(&quoted_key) else {
        return (0, 0).into();
    };
    let after = from + quoted_key.len();
    let value = text[after..]
        .find(':')
        .map(|colon| after + colon + 1)
        .map(|start| start + (text[start..].len() - text[start..].trim_start().len()));
    match value {
        Some(start) => {
            let len = text[start..]
                .find([',', '}', '\n'])
                .unwrap_or(text.len() - start);
            (start, len.max(1)).into()
        }
        None => (from, quoted_key.len()).into(),
    }
}

/// The span of the first `"value"` after `"key"` in `text` (the file is small and the
/// parser keeps no positions for values, so a search is the plain way to point at them).
fn locate(text: &str, key: &str, value: &str) -> SourceSpan {
    let quoted_key = format!("\"{key}\"");
    let from = text.find(&quoted_key).unwrap_or(0);
    let quoted = format!("\"{value}\"");
    match text[from..].find(&quoted) {
        Some(offset) => (from + offset, quoted.len()).into(),
        None => (from, quoted_key.len().min(text.len() - from)).into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Catalog;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, "grantguard.json", Catalog::builtin().docs())
    }

    fn offset(error: &ConfigError) -> usize {
        match error {
            ConfigError::Invalid { at, .. }
            | ConfigError::UnknownRule { at, .. }
            | ConfigError::RuleTwice { at, .. }
            | ConfigError::CoverageLowered { at, .. }
            | ConfigError::CoverageSuppressed { at, .. }
            | ConfigError::MissingJustification { at, .. }
            | ConfigError::BadAge { at, .. }
            | ConfigError::BadValue { at, .. }
            | ConfigError::BadTimeout { at, .. } => at.offset(),
            ConfigError::Unreadable { .. } => usize::MAX,
        }
    }

    #[test]
    fn an_empty_object_is_the_default() {
        assert_eq!(parse("{}").expect("valid"), Config::default());
    }

    #[test]
    fn a_full_config_parses() {
        let config = parse(
            r#"{"severity": {"GG103": "deny", "gg304": "warn"},
                "suppress": [{"rule": "GG104", "grant": "orders-vpc", "api": "api-1",
                              "justification": "never rolled back"}],
                "max_inventory_age": "90m"}"#,
        )
        .expect("valid");
        assert_eq!(config.severity.get(&RuleId::GG103), Some(&Severity::Deny));
        assert_eq!(config.severity.get(&RuleId::GG304), Some(&Severity::Warn));
        assert_eq!(config.suppress[0].rule, RuleId::GG104);
        assert_eq!(config.max_inventory_age, Duration::from_secs(90 * 60));
        assert_eq!(
            config.suppress[0].api.as_ref().map(|a| a.as_str()),
            Some("api-1")
        );
    }

    #[test]
    fn an_unknown_key_points_at_its_line() {
        let text = "{\n  \"severity\": {},\n  \"max_age\": \"1h\"\n}";
        let error = parse(text).expect_err("unknown key");
        assert!(matches!(error, ConfigError::Invalid { .. }));
        assert!(error.to_string().contains("unknown field `max_age`"));
        let line = text[..offset(&error)].matches('\n').count() + 1;
        assert_eq!(line, 3);
    }

    #[test]
    fn an_unknown_rule_is_refused_at_its_position() {
        let text = r#"{"severity": {"GG999": "deny"}}"#;
        let error = parse(text).expect_err("unknown rule");
        assert!(matches!(error, ConfigError::UnknownRule { .. }));
        assert_eq!(&text[offset(&error)..offset(&error) + 7], "\"GG999\"");
    }

    #[test]
    fn suppressing_a_coverage_rule_is_an_error() {
        for rule in [
            "GG201",
            "GG106",
            "GG306",
            "incomplete-scan",
            "near-match-reference",
        ] {
            let text = format!(
                r#"{{"suppress": [{{"rule": "{rule}", "grant": "g", "justification": "x"}}]}}"#
            );
            let error = parse(&text).expect_err("coverage suppressed");
            assert!(
                matches!(error, ConfigError::CoverageSuppressed { .. }),
                "{rule}"
            );
        }
    }

    #[test]
    fn a_suppression_needs_a_justification() {
        let error =
            parse(r#"{"suppress": [{"rule": "GG104", "grant": "g", "justification": " "}]}"#)
                .expect_err("blank justification");
        assert!(matches!(error, ConfigError::MissingJustification { .. }));
        let error = parse(r#"{"suppress": [{"rule": "GG104", "grant": "g"}]}"#)
            .expect_err("missing justification");
        assert!(error.to_string().contains("justification"));
    }

    #[test]
    fn flag_defaults_parse() {
        let config = parse(
            r#"{"region": "cn-shanghai", "profile": "audit", "qps": 2.5, "min_severity": "warn"}"#,
        )
        .expect("valid");
        assert_eq!(config.defaults.region.as_deref(), Some("cn-shanghai"));
        assert_eq!(config.defaults.profile.as_deref(), Some("audit"));
        assert_eq!(config.defaults.qps, Some(crate::cli::Qps::Fixed(2.5)));
        assert_eq!(
            config.defaults.min_severity,
            Some(crate::cli::MinSeverity::Warn)
        );
    }

    #[test]
    fn bad_defaults_point_at_their_line() {
        let text = "{\n  \"region\": \"cn-hangzhou\",\n  \"qps\": -3\n}";
        let error = parse(text).expect_err("negative qps");
        assert!(matches!(error, ConfigError::BadValue { key: "qps", .. }));
        assert_eq!(&text[offset(&error)..offset(&error) + 2], "-3");
        let text = "{\n  \"min_severity\": \"loud\"\n}";
        let error = parse(text).expect_err("unknown level");
        assert!(matches!(error, ConfigError::Invalid { .. }));
        assert_eq!(text[..offset(&error)].matches('\n').count() + 1, 2);
        let error = parse(r#"{"profile": " "}"#).expect_err("empty profile");
        assert!(error.to_string().contains("profile"));
    }

    #[test]
    fn timeout_defaults_parse_and_bad_ones_point_at_their_value() {
        let config =
            parse(r#"{"attempt_timeout": "2s", "idle_timeout": "500ms", "connect_timeout": "1m"}"#)
                .expect("valid");
        assert_eq!(
            config.defaults.attempt_timeout,
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            config.defaults.idle_timeout,
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            config.defaults.connect_timeout,
            Some(Duration::from_secs(60))
        );
        for bad in ["soon", "0s"] {
            let text = format!("{{\n  \"attempt_timeout\": \"{bad}\"\n}}");
            let error = parse(&text).expect_err("bad timeout");
            assert!(
                matches!(
                    error,
                    ConfigError::BadTimeout {
                        key: "attempt_timeout",
                        ..
                    }
                ),
                "{bad}: {error}"
            );
            assert_eq!(
                &text[offset(&error)..offset(&error) + bad.len() + 2],
                format!("\"{bad}\"")
            );
        }
    }

    #[test]
    fn a_bad_age_is_refused() {
        let error = parse(r#"{"max_inventory_age": "soon"}"#).expect_err("bad age");
        assert!(matches!(error, ConfigError::BadAge { .. }));
    }

    #[test]
    fn coverage_rules_keep_the_deny_floor_in_a_config_built_in_code() {
        let mut config = parse(r#"{"severity": {"GG101": "warn"}}"#).expect("valid");
        config.severity.insert(RuleId::GG201, Severity::Info);
        config.severity.insert(RuleId::GG306, Severity::Warn);
        let catalog = Catalog::builtin();
        let of = |id| config.severity_of(catalog.get(id).expect("known"));
        assert_eq!(of("GG201"), Severity::Deny);
        assert_eq!(of("GG306"), Severity::Deny);
        assert_eq!(of("GG101"), Severity::Warn);
        assert_eq!(of("GG104"), Severity::Warn);
    }

    /// The line (1-based) and column (1-based) the error's first label points at.
    fn line_and_column(text: &str, error: &ConfigError) -> (usize, usize) {
        use miette::Diagnostic;
        let label = error
            .labels()
            .and_then(|mut labels| labels.next())
            .expect("the error points into the file");
        let before = &text[..label.offset()];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |n| n + 1) + 1;
        (line, column)
    }

    // Regression: a suppression naming its rule by name passed validation but never applied.
    #[test]
    fn a_suppression_by_rule_name_applies_like_one_by_id() {
        let grant = crate::inventory::testing::grant("apv-1", "orders-vpc", 80);
        for rule in ["GG104", "gg104", "history-uses-grant"] {
            let text = format!(
                r#"{{"suppress": [{{"rule": "{rule}", "grant": "orders-vpc",
                                   "justification": "old versions are never rolled back to"}}]}}"#
            );
            let config = parse(&text).expect("valid");
            assert!(
                config.suppression(RuleId::GG104, &grant, None).is_some(),
                "{rule} suppresses GG104"
            );
            assert!(
                config.suppression(RuleId::GG103, &grant, None).is_none(),
                "{rule} suppresses nothing else"
            );
        }
    }

    #[test]
    fn a_severity_by_rule_name_applies_like_one_by_id() {
        let catalog = Catalog::builtin();
        let doc = catalog.get("GG103").expect("known");
        for rule in ["GG103", "gg103", "draft-api-uses-grant"] {
            let config = parse(&format!(r#"{{"severity": {{"{rule}": "deny"}}}}"#)).expect("valid");
            assert_eq!(config.severity_of(doc), Severity::Deny, "{rule}");
        }
    }

    // Regression: `"severity": {"GG201": "warn"}` was silently ignored while suppressing GG201
    // was refused. Lowering a coverage rule is refused the same way, at the rule's position.
    #[test]
    fn lowering_a_coverage_rule_by_id_or_name_is_refused_where_it_is_written() {
        use miette::Diagnostic;
        for (rule, level) in [
            ("GG201", "warn"),
            ("GG106", "info"),
            ("GG306", "warn"),
            ("gg201", "info"),
            ("incomplete-scan", "info"),
            ("index-disagrees", "warn"),
            ("near-match-reference", "info"),
        ] {
            let text = format!(
                "{{\n  \"severity\": {{\n    \"GG103\": \"deny\",\n    \"{rule}\": \"{level}\"\n  }}\n}}"
            );
            let error = parse(&text).expect_err("a coverage rule lowered");
            assert!(
                error.to_string().contains("cannot be lowered"),
                "{rule}: {error}"
            );
            assert_eq!(line_and_column(&text, &error), (4, 5), "{rule}: {error}");
            let help = error.help().map(|h| h.to_string()).unwrap_or_default();
            assert!(
                help.contains("an unread account is never safe"),
                "{rule}: {help}"
            );
        }
    }

    #[test]
    fn raising_or_keeping_a_coverage_rule_is_accepted() {
        for rule in ["GG201", "GG106", "GG306", "incomplete-scan"] {
            parse(&format!(r#"{{"severity": {{"{rule}": "deny"}}}}"#))
                .unwrap_or_else(|e| panic!("{rule} kept at deny: {e}"));
        }
        parse(r#"{"severity": {"GG304": "deny", "dangling-reference": "warn"}}"#)
            .expect_err("one rule given two severities is refused");
    }

    #[test]
    fn a_suppression_matches_by_name_or_id_and_optional_api() {
        let grant = crate::inventory::testing::grant("apv-1", "orders-vpc", 80);
        let mut config = Config::default();
        config.suppress.push(Suppression {
            rule: RuleId::GG104,
            grant: "apv-1".into(),
            api: None,
            justification: "ok".into(),
        });
        assert!(config
            .suppression(RuleId::GG104, &grant, Some(&"api-1".into()))
            .is_some());
        assert!(config.suppression(RuleId::GG103, &grant, None).is_none());
        config.suppress[0].rule = RuleId::GG201;
        assert!(
            config.suppression(RuleId::GG201, &grant, None).is_none(),
            "coverage is never suppressed"
        );
    }
}

//! SARIF 2.1.0 for change-review tools and GitHub code scanning: one run, the rule catalog as
//! `tool.driver.rules` with help text and a `security-severity`, one result per finding with
//! its level, one physical location, logical locations (grant, group and API by name, stage)
//! and a partial fingerprint that is stable across runs. In: a report. Out: JSON.
//!
//! Code scanning refuses a result without `physicalLocation.artifactLocation.uri`. A finding
//! about a Terraform declaration points at its file and line; any other finding points at a
//! stable path of its own grant, `.grantguard/REGION/grants/NAME` (docs/sarif.md), so alerts
//! group per grant and are matched across runs.

use crate::inventory::Grant;
use crate::verdict::{Finding, Report, Severity};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::io;

/// The SARIF schema the output follows.
pub const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// The folder of the stable paths of findings outside any Terraform file.
pub const STABLE_ROOT: &str = ".grantguard";

/// What a path segment keeps as is: RFC 3986 unreserved characters.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The stable, repository-relative path of a finding's grant: `.grantguard/REGION/grants/NAME`
/// (`NAME~ID` when another audited grant has the same name), or `.grantguard/REGION/account`
/// for a finding about no single grant.
pub fn stable_path(report: &Report, grant: Option<&Grant>) -> String {
    let region = utf8_percent_encode(report.region.as_str(), SEGMENT);
    let Some(grant) = grant else {
        return format!("{STABLE_ROOT}/{region}/account");
    };
    let shared = report
        .grants
        .iter()
        .filter(|g| g.grant.name == grant.name)
        .count()
        > 1;
    let name = utf8_percent_encode(&grant.name, SEGMENT);
    if shared {
        let id = utf8_percent_encode(grant.id.as_str(), SEGMENT);
        format!("{STABLE_ROOT}/{region}/grants/{name}~{id}")
    } else {
        format!("{STABLE_ROOT}/{region}/grants/{name}")
    }
}

/// The finding's physical location: the Terraform file and line when the finding is about a
/// declaration in a repository-relative file, else its grant's stable path.
fn physical_location(report: &Report, finding: &Finding, grant: Option<&Grant>) -> Value {
    if let Some(source) = &finding.source {
        let relative = !source.file.starts_with('/')
            && !source.file.split('/').any(|part| part == "..")
            && !source.file.contains(':');
        if let (Some(line), true) = (source.line, relative) {
            let uri: Vec<String> = source
                .file
                .split('/')
                .map(|part| utf8_percent_encode(part, SEGMENT).to_string())
                .collect();
            return json!({
                "artifactLocation": {"uri": uri.join("/"), "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": line}
            });
        }
    }
    json!({
        "artifactLocation": {"uri": stable_path(report, grant), "uriBaseId": "%SRCROOT%"}
    })
}

/// The `security-severity` code scanning ranks alerts by (9.0 and up critical, 7.0 high, 4.0
/// medium, below low): a deny finding breaks traffic, a warning breaks it later.
fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Deny => "8.0",
        Severity::Warn => "5.0",
        Severity::Info => "2.0",
    }
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Deny => "error",
        Severity::Warn => "warning",
        Severity::Info => "note",
    }
}

/// sha256 hex of (rule, grant, API, stage): the same finding keeps its fingerprint when the
/// message wording or the run changes. A version id, or the path for findings without an API
/// (gaps, backend models), tells apart findings that share those four.
/// In a multi-region log the region leads the key (single-region fingerprints are unchanged).
fn fingerprint(finding: &Finding, grant: Option<&Grant>, region: Option<&str>) -> String {
    let detail = match (finding.api_id(), finding.version()) {
        (Some(_), Some(version)) => version.to_owned(),
        (Some(_), None) => String::new(),
        (None, _) => finding.path_joined(" <- "),
    };
    let key = [
        finding.rule.as_str(),
        grant.map(|g| g.id.as_str()).unwrap_or(""),
        finding.api_id().map(|a| a.as_str()).unwrap_or(""),
        finding.stage().map(|s| s.as_str()).unwrap_or(""),
        &detail,
    ]
    .join("\u{1f}");
    let key = match region {
        Some(region) => format!("{region}\u{1f}{key}"),
        None => key,
    };
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// One SARIF result; `region` is set in a multi-region log, where it is the first logical
/// location and part of the fingerprint.
fn result(
    report: &Report,
    finding: &Finding,
    grant: Option<&Grant>,
    region: Option<&str>,
) -> Value {
    let mut locations = Vec::new();
    if let Some(region) = region {
        locations.push(json!({
            "name": region,
            "fullyQualifiedName": format!("region/{region}"),
            "kind": "namespace"
        }));
    }
    if let Some(grant) = grant {
        locations.push(json!({
            "name": grant.name,
            "fullyQualifiedName": format!("grant/{}", grant.id),
            "kind": "resource"
        }));
    }
    if let Some(api) = finding.subject.as_ref().and_then(|s| s.api.as_deref()) {
        let (group, id) = (&api.group_id, &api.api_id);
        locations.push(json!({"name": api.group_name, "fullyQualifiedName": format!("group/{group}"), "kind": "namespace"}));
        locations.push(json!({
            "name": api.api_name,
            "fullyQualifiedName": format!("api/{id}"),
            "decoratedName": format!("{}/{} ({} {})", api.group_name, api.api_name, api.method, api.path),
            "kind": "function"
        }));
    }
    if let Some(stage) = finding.stage() {
        locations.push(json!({"name": stage.as_str(), "fullyQualifiedName": format!("stage/{stage}"), "kind": "module"}));
    }
    let index = report.rules.iter().position(|r| r.id == finding.rule);
    let mut text = finding.message.clone();
    if !finding.path.is_empty() {
        text.push_str(&format!(" [path: {}]", finding.path_joined(" <- ")));
    }
    let mut value = json!({
        "ruleId": finding.rule,
        "level": level(finding.severity),
        "message": {"text": text},
        "locations": [{
            "physicalLocation": physical_location(report, finding, grant),
            "logicalLocations": locations
        }],
        "partialFingerprints": {"grantguard/v1": fingerprint(finding, grant, region)},
        "properties": {"severity": finding.severity.as_str()}
    });
    if let Some(index) = index {
        value["ruleIndex"] = json!(index);
    }
    if let Some(justification) = &finding.suppressed {
        value["suppressions"] = json!([{"kind": "external", "justification": justification}]);
    }
    value
}

/// Writes `report` as a SARIF 2.1.0 log.
pub fn render(report: &Report, out: &mut dyn io::Write) -> io::Result<()> {
    let results = results_of(report, None);
    let notifications = notifications_of(report, None);
    let properties = json!({"region": report.region.as_str(), "complete": report.complete});
    write_log(report, results, notifications, properties, out)
}

/// Writes several regions' reports as one SARIF run: every region's results, each with its
/// region as a logical location, gaps as notifications naming their region, and the regions
/// with their `complete` flags in the run's properties.
pub fn render_regions(reports: &[Report], out: &mut dyn io::Write) -> io::Result<()> {
    let Some(first) = reports.first() else {
        return Ok(());
    };
    let mut results = Vec::new();
    let mut notifications = Vec::new();
    for report in reports {
        results.extend(results_of(report, Some(report.region.as_str())));
        notifications.extend(notifications_of(report, Some(report.region.as_str())));
    }
    let regions: Vec<Value> = reports
        .iter()
        .map(|r| json!({"region": r.region.as_str(), "complete": r.complete}))
        .collect();
    let properties = json!({
        "regions": regions,
        "complete": reports.iter().all(|r| r.complete)
    });
    write_log(first, results, notifications, properties, out)
}

fn results_of(report: &Report, region: Option<&str>) -> Vec<Value> {
    report
        .grants
        .iter()
        .flat_map(|g| g.findings.iter().map(move |f| (f, Some(&g.grant))))
        .chain(report.findings.iter().map(|f| (f, None)))
        .map(|(finding, grant)| result(report, finding, grant, region))
        .collect()
}

// A gap is a coverage problem of the whole run; SARIF says so with a notification too.
fn notifications_of(report: &Report, region: Option<&str>) -> Vec<Value> {
    let prefix = region.map(|r| format!("{r}: ")).unwrap_or_default();
    report
        .gaps
        .iter()
        .map(|gap| {
            json!({
                "level": "error",
                "message": {"text": format!("{prefix}{} on {} was not read ({}: {})", gap.action, gap.scope, gap.code, gap.message)}
            })
        })
        .collect()
}

/// The log around `results`; the rule catalog comes from `report`.
fn write_log(
    report: &Report,
    results: Vec<Value>,
    notifications: Vec<Value>,
    properties: Value,
    out: &mut dyn io::Write,
) -> io::Result<()> {
    let rules: Vec<Value> = report
        .rules
        .iter()
        .map(|rule| {
            json!({
                "id": rule.id,
                "name": rule.name,
                "shortDescription": {"text": rule.summary},
                "fullDescription": {"text": rule.section("What it finds").unwrap_or(&rule.summary)},
                "help": {"text": rule.help(), "markdown": rule.explanation},
                "defaultConfiguration": {"level": level(rule.default_severity)},
                "properties": {
                    "security-severity": security_severity(rule.default_severity),
                    "tags": ["security"]
                }
            })
        })
        .collect();
    let log = json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "grantguard",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/grantguard/grantguard",
                "rules": rules
            }},
            "invocations": [{
                "executionSuccessful": true,
                "toolExecutionNotifications": notifications
            }],
            "results": results,
            "properties": properties
        }]
    });
    serde_json::to_writer_pretty(&mut *out, &log)?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    fn rendered() -> serde_json::Value {
        let mut out = Vec::new();
        super::render(&super::super::tests::report(), &mut out).expect("render to memory");
        serde_json::from_slice(&out).expect("valid json")
    }

    #[test]
    fn levels_fingerprints_and_rules_are_present() {
        let log = rendered();
        assert_eq!(log["version"], "2.1.0");
        let run = &log["runs"][0];
        assert_eq!(
            run["tool"]["driver"]["rules"].as_array().map(Vec::len),
            Some(crate::rules::Catalog::builtin().docs().count()),
            "every rule of the catalog"
        );
        let results = run["results"].as_array().expect("results");
        let first = &results[0];
        assert_eq!(
            (first["ruleId"].as_str(), first["level"].as_str()),
            (Some("GG101"), Some("error"))
        );
        let prints: std::collections::BTreeSet<_> = results
            .iter()
            .map(|r| {
                r["partialFingerprints"]["grantguard/v1"]
                    .as_str()
                    .expect("fingerprint")
            })
            .collect();
        assert_eq!(
            prints.len(),
            results.len(),
            "fingerprints tell findings apart"
        );
        assert!(
            results.iter().any(|r| r["level"] == "note"),
            "GG304 is a note"
        );
        assert_eq!(rendered(), log, "stable across renders");
    }

    // Regression: findings about no grant (GG403 missing, GG404) had an empty path, so two of
    // them shared one fingerprint and code scanning would have shown one alert for both.
    #[test]
    fn findings_about_no_grant_keep_apart_and_point_at_their_line() {
        use crate::terraform::{SourceLine, Terraform, Unresolved};
        let unresolved = |address: &str, line| Unresolved {
            address: address.into(),
            attribute: "name".into(),
            expression: "var.name".into(),
            source: SourceLine {
                file: "infra/main.tf".into(),
                line: Some(line),
            },
        };
        let terraform = Terraform {
            unresolved: vec![unresolved("a.x", 3), unresolved("a.y", 9)],
            ..Terraform::default()
        };
        let inventory = crate::inventory::testing::rich_account();
        let report = crate::rules::audit(
            &inventory,
            &terraform,
            None,
            &crate::config::Config::default(),
            &crate::rules::Catalog::builtin(),
        );
        let mut out = Vec::new();
        super::render(&report, &mut out).expect("render to memory");
        let log: serde_json::Value = serde_json::from_slice(&out).expect("valid json");
        let gg404: Vec<&serde_json::Value> = log["runs"][0]["results"]
            .as_array()
            .expect("results")
            .iter()
            .filter(|r| r["ruleId"] == "GG404")
            .collect();
        assert_eq!(gg404.len(), 2);
        assert_ne!(
            gg404[0]["partialFingerprints"],
            gg404[1]["partialFingerprints"]
        );
        let location = &gg404[1]["locations"][0]["physicalLocation"];
        assert_eq!(location["artifactLocation"]["uri"], "infra/main.tf");
        assert_eq!(location["region"]["startLine"], 9);
    }

    #[test]
    fn the_sarif_snapshot() {
        let mut log = rendered();
        // The crate version changes with every release; the snapshot is about the shape.
        log["runs"][0]["tool"]["driver"]["version"] = "[version]".into();
        insta::assert_json_snapshot!(log);
    }
}

//! Several regions in one run: `--region cn-hangzhou,cn-shanghai` or `--region all`. In: the
//! `--region` flag, the endpoint override, per-region endpoint variables and the result of
//! each region's walk. Out: which regions to read and where, each region's inventory (a region
//! where nothing could be listed becomes an empty inventory whose only gap names the failure),
//! and the per-region endpoints (`session` audits and gates the regions). It never marks a grant of a failed region safe,
//! and never lets one failed region hide the others. A single `--region` never comes here: that
//! path, and its JSON report, stay exactly as they are.

use crate::client::Endpoint;
use crate::inventory::walk::WalkError;
use crate::inventory::{Gap, Inventory, RegionId};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The `--region` value that means every region DescribeRegions lists.
pub const ALL: &str = "all";
/// Where `--region all` asks DescribeRegions when no default region is configured.
pub const FALLBACK_REGION: &str = "cn-hangzhou";
/// Prefix of the per-region endpoint variables: `GRANTGUARD_ENDPOINT_CN_HANGZHOU=URL`.
pub const ENDPOINT_VAR_PREFIX: &str = "GRANTGUARD_ENDPOINT_";

/// A `--region` value naming more than one region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wanted {
    /// These regions, in the order given, without repeats.
    Several(Vec<RegionId>),
    /// Every region DescribeRegions lists.
    All,
}

/// Why a multi-region request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
pub enum RegionsError {
    /// `all` among other region ids.
    #[error("--region all cannot be combined with other regions")]
    #[diagnostic(
        code(grantguard::region::all_with_others),
        help(
            "pass --region all, or a comma-separated list such as --region cn-hangzhou,cn-shanghai"
        )
    )]
    AllWithOthers,
    /// A command that works on one region was given several.
    #[error("`{command}` works on one region, but --region {given} names several")]
    #[diagnostic(
        code(grantguard::region::several),
        help("a grant lives in one region: pass one --region ID (only audit and scan read several regions)")
    )]
    SingleRegionCommand {
        /// The command.
        command: &'static str,
        /// The flag as given.
        given: String,
    },
    /// DescribeRegions listed no region.
    #[error("DescribeRegions listed no region to audit")]
    #[diagnostic(
        code(grantguard::region::none_listed),
        help("name the regions instead: --region cn-hangzhou,cn-shanghai")
    )]
    NoneListed,
    /// A region id or endpoint that is not valid.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Endpoint(#[from] crate::client::EndpointError),
}

/// Reads a `--region` value: `Some` when it names several regions or `all`, `None` for one
/// region (or none), which the single-region path validates as it always did. Every id is
/// checked like a single `--region` is.
pub fn wanted(flag: Option<&str>) -> Result<Option<Wanted>, RegionsError> {
    let Some(flag) = flag else { return Ok(None) };
    let ids: Vec<&str> = flag
        .split(',')
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .collect();
    if ids.contains(&ALL) {
        return if ids.len() == 1 {
            Ok(Some(Wanted::All))
        } else {
            Err(RegionsError::AllWithOthers)
        };
    }
    if ids.len() < 2 {
        return Ok(None);
    }
    let mut regions: Vec<RegionId> = Vec::new();
    for id in ids {
        Endpoint::for_region(id)?;
        if !regions.iter().any(|r| r.as_str() == id) {
            regions.push(RegionId::from(id));
        }
    }
    // `--region a,a` is one region after repeats are dropped; the multi-region path handles
    // it, and with one region every report keeps its single-region shape.
    Ok(Some(Wanted::Several(regions)))
}

/// Refuses a multi-region `--region` for a command that works on one region.
pub fn require_single(flag: Option<&str>, command: &'static str) -> Result<(), RegionsError> {
    match wanted(flag)? {
        None => Ok(()),
        Some(_) => Err(RegionsError::SingleRegionCommand {
            command,
            given: flag.unwrap_or_default().to_owned(),
        }),
    }
}

/// The variable that sets one region's endpoint: `GRANTGUARD_ENDPOINT_CN_HANGZHOU`.
pub fn endpoint_var(region: &str) -> String {
    format!(
        "{ENDPOINT_VAR_PREFIX}{}",
        region.to_ascii_uppercase().replace('-', "_")
    )
}

/// The endpoint of `region`: its own variable when set (validated like `--endpoint`), else the
/// `--endpoint` override, else the region's public endpoint.
pub fn endpoint_for(
    region: &str,
    override_url: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Endpoint, RegionsError> {
    Endpoint::for_region(region)?;
    let endpoint = match (env(&endpoint_var(region)), override_url) {
        (Some(url), _) => Endpoint::parse(&url)?,
        (None, Some(url)) => Endpoint::parse(url)?,
        (None, None) => Endpoint::for_region(region)?,
    };
    Ok(endpoint)
}

/// Where `scan` writes one region's snapshot: the region inserted before the extension
/// (`inv.json` → `inv.cn-hangzhou.json`; `inv` → `inv.cn-hangzhou`).
pub fn snapshot_path(path: &Path, region: &RegionId) -> PathBuf {
    let mut name = OsString::new();
    match (path.file_stem(), path.extension()) {
        (Some(stem), Some(extension)) => {
            name.push(stem);
            name.push(format!(".{region}."));
            name.push(extension);
        }
        _ => {
            name.push(path.file_name().unwrap_or_default());
            name.push(format!(".{region}"));
        }
    }
    path.with_file_name(name)
}

/// One region's inventory, and whether its walk failed outright.
#[derive(Debug, Clone)]
pub struct RegionInventory {
    /// What was read; for a failed region, nothing but the gap naming the failure.
    pub inventory: Inventory,
    /// True when not even the grants could be listed.
    pub failed: bool,
}

/// Sorts the walks' results, in region order. A credentials or clock stop ends the run (it
/// would stop every region); when every region failed, the first failure ends it (exit 2);
/// otherwise a region that listed nothing becomes an empty inventory with one `region` gap.
pub fn settle(
    results: Vec<Result<Inventory, WalkError>>,
) -> Result<Vec<RegionInventory>, WalkError> {
    let mut settled = Vec::with_capacity(results.len());
    let mut first_failure = None;
    for result in results {
        match result {
            Ok(inventory) => settled.push(RegionInventory {
                inventory,
                failed: false,
            }),
            Err(failure) => {
                let Some((region, source)) = failure.nothing_listed() else {
                    return Err(failure);
                };
                tracing::warn!(%region, "nothing could be listed: {source}");
                let mut inventory = Inventory::new(region.clone());
                inventory.gaps.push(Gap {
                    scope: "region".into(),
                    action: source.action.to_owned(),
                    code: source.code.clone(),
                    message: format!("nothing could be listed in {region}: {}", source.message),
                    grant: None,
                });
                settled.push(RegionInventory {
                    inventory,
                    failed: true,
                });
                first_failure.get_or_insert(failure);
            }
        }
    }
    match first_failure {
        Some(failure) if settled.iter().all(|r| r.failed) => Err(failure),
        _ => Ok(settled),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    // The audit of several regions lives in `session`; these tests check it on what
    // `settle` makes.
    use crate::client::{CallError, FailureClass};
    use crate::config::Config;
    use crate::rules::Catalog;
    use crate::selection::Selector;
    use crate::session::{audit_each_region as audit, gate_each_region as gate};
    use crate::verdict::RuleId;
    use crate::{cli, Outcome};

    fn several(flag: &str) -> Option<Wanted> {
        wanted(Some(flag)).expect("valid")
    }

    #[test]
    fn a_list_or_all_is_several_and_one_region_is_not() {
        assert_eq!(several("cn-hangzhou"), None);
        assert_eq!(wanted(None).unwrap(), None);
        assert_eq!(several("all"), Some(Wanted::All));
        assert_eq!(
            several("cn-hangzhou, cn-shanghai,cn-hangzhou"),
            Some(Wanted::Several(vec![
                "cn-hangzhou".into(),
                "cn-shanghai".into()
            ]))
        );
        assert!(matches!(
            wanted(Some("all,cn-hangzhou")),
            Err(RegionsError::AllWithOthers)
        ));
        assert!(matches!(
            wanted(Some("cn-hangzhou,evil.com/x")),
            Err(RegionsError::Endpoint(_))
        ));
        assert!(require_single(Some("cn-hangzhou"), "remove").is_ok());
        let refused = require_single(Some("cn-hangzhou,cn-shanghai"), "remove").unwrap_err();
        assert!(refused.to_string().contains("`remove` works on one region"));
    }

    #[test]
    fn a_region_variable_wins_over_the_override_and_is_validated() {
        let env = |name: &str| {
            (name == "GRANTGUARD_ENDPOINT_CN_SHANGHAI").then(|| "http://127.0.0.1:9/".to_owned())
        };
        assert_eq!(
            endpoint_var("ap-southeast-1"),
            "GRANTGUARD_ENDPOINT_AP_SOUTHEAST_1"
        );
        let of = |region, over| endpoint_for(region, over, &env).unwrap().url.to_string();
        assert_eq!(
            of("cn-shanghai", Some("http://127.0.0.1:8/")),
            "http://127.0.0.1:9/"
        );
        assert_eq!(
            of("cn-hangzhou", Some("http://127.0.0.1:8/")),
            "http://127.0.0.1:8/"
        );
        assert_eq!(
            of("cn-hangzhou", None),
            "https://apigateway.cn-hangzhou.aliyuncs.com/"
        );
        let plain = |_: &str| Some("http://10.0.0.1/".to_owned());
        assert!(matches!(
            endpoint_for("cn-hangzhou", None, &plain),
            Err(RegionsError::Endpoint(_))
        ));
    }

    #[test]
    fn snapshots_get_the_region_before_the_extension() {
        let region = RegionId::from("cn-shanghai");
        assert_eq!(
            snapshot_path(Path::new("out/inv.json"), &region),
            Path::new("out/inv.cn-shanghai.json")
        );
        assert_eq!(
            snapshot_path(Path::new("inv"), &region),
            Path::new("inv.cn-shanghai")
        );
    }

    fn nothing_listed(region: &str, code: &str, class: FailureClass) -> WalkError {
        let error = Box::new(CallError {
            action: "DescribeVpcAccesses",
            scope: "region".into(),
            code: code.into(),
            message: "denied".into(),
            request_id: None,
            status: Some(403),
            attempts: 1,
            class,
        });
        match class {
            FailureClass::Credentials => WalkError::Stopped(error),
            _ => WalkError::NothingListed {
                region: region.into(),
                source: error,
            },
        }
    }

    #[test]
    fn a_failed_region_is_an_incomplete_held_report_and_the_others_stand() {
        let mut read = crate::inventory::testing::account();
        read.region = "cn-hangzhou".into();
        let settled = settle(vec![
            Ok(read),
            Err(nothing_listed(
                "cn-shanghai",
                "Forbidden.RAM",
                FailureClass::Permission,
            )),
        ])
        .expect("one region was read");
        assert!(!settled[0].failed && settled[1].failed);
        let gap = &settled[1].inventory.gaps[0];
        assert_eq!(
            (gap.action.as_str(), gap.code.as_str()),
            ("DescribeVpcAccesses", "Forbidden.RAM")
        );
        let reports = audit(
            &settled,
            &Default::default(),
            None,
            &Config::default(),
            &Catalog::builtin(),
        );
        let failed = &reports[1].report;
        assert!(!failed.complete && failed.grants.is_empty());
        assert_eq!(failed.region.as_str(), "cn-shanghai");
        assert_eq!(gate(&reports, cli::MinSeverity::Deny), Outcome::Held);
    }

    #[test]
    fn every_region_failing_or_a_credentials_stop_ends_the_run() {
        let all_failed = settle(vec![
            Err(nothing_listed(
                "cn-hangzhou",
                "Forbidden.RAM",
                FailureClass::Permission,
            )),
            Err(nothing_listed(
                "cn-shanghai",
                "Forbidden.RAM",
                FailureClass::Permission,
            )),
        ]);
        assert!(
            matches!(all_failed, Err(WalkError::NothingListed { region, .. }) if region.as_str() == "cn-hangzhou")
        );
        let stopped = settle(vec![
            Ok(crate::inventory::testing::account()),
            Err(nothing_listed(
                "cn-shanghai",
                "InvalidAccessKeyId",
                FailureClass::Credentials,
            )),
        ]);
        assert!(matches!(stopped, Err(WalkError::Stopped(_))));
    }

    #[test]
    fn gg301_stays_only_where_no_region_holds_the_selected_grant() {
        let mut first = crate::inventory::testing::account();
        first.region = "cn-hangzhou".into();
        let mut second = Inventory::new("cn-shanghai".into());
        second.taken_at = first.taken_at;
        let regions = [
            RegionInventory {
                inventory: first,
                failed: false,
            },
            RegionInventory {
                inventory: second,
                failed: false,
            },
        ];
        let name = regions[0].inventory.grants[0].name.clone();
        let found = audit(
            &regions,
            &Default::default(),
            Some(&Selector::Name(name)),
            &Config::default(),
            &Catalog::builtin(),
        );
        assert_eq!(found[0].report.grants.len(), 1);
        assert!(found[1]
            .report
            .findings
            .iter()
            .all(|f| f.rule != RuleId::GG301));
        let missing = audit(
            &regions,
            &Default::default(),
            Some(&Selector::Name("nope".into())),
            &Config::default(),
            &Catalog::builtin(),
        );
        assert!(missing
            .iter()
            .all(|r| r.report.findings.iter().any(|f| f.rule == RuleId::GG301)));
    }
}

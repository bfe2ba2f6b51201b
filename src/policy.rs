//! The least-privilege RAM policy grantguard needs. In: whether removal is wanted. Out: a RAM
//! policy document (JSON, `Version "1"`) listing exactly the `apigateway:` actions the audit
//! walk calls, plus the removal and restore actions when asked. It never widens to wildcards:
//! a test compares [`AUDIT_ACTIONS`] with the emulator's call log of a full audit, so the list
//! cannot drift from `inventory::walk`. Every entry of the lists is written `read::<A>()` or
//! `write::<A>()`, so an action's `MUTATING` flag is checked against its list at compile time.

use grantguard_wire::actions::{self, Action};
use serde_json::{json, Value};

/// `A`'s name, for a list of read-only actions: naming a mutating action here fails to compile.
const fn read<A: Action>() -> &'static str {
    assert!(!A::MUTATING, "a mutating action in a read-only list");
    A::NAME
}

/// `A`'s name, for a list of mutating actions: naming a read-only action here fails to compile.
const fn write<A: Action>() -> &'static str {
    assert!(A::MUTATING, "a read-only action named as a mutation");
    A::NAME
}

/// Every action `inventory::walk` may call for one region (read-only).
pub const AUDIT_ACTIONS: [&str; 13] = [
    read::<actions::DescribeVpcAccesses>(),
    read::<actions::DescribeApiGroups>(),
    read::<actions::DescribeApiGroup>(),
    read::<actions::DescribeApis>(),
    read::<actions::DescribeApi>(),
    read::<actions::DescribeDeployedApis>(),
    read::<actions::DescribeDeployedApi>(),
    read::<actions::DescribeHistoryApis>(),
    read::<actions::DescribeApiHistory>(),
    read::<actions::DescribeBackendList>(),
    read::<actions::DescribeBackendInfo>(),
    read::<actions::DescribeApisByBackend>(),
    read::<actions::DescribeApisByVpcAccess>(),
];

/// What `--region all` adds: listing the regions (one call, read-only).
pub const REGION_ACTIONS: [&str; 1] = [read::<actions::DescribeRegions>()];

/// The removal (`RemoveVpcAccess*`, its task poll), restore (`SetVpcAccess`) and repoint
/// (`ModifyVpcAccessAndUpdateApis`, its task poll) actions.
pub const REMOVAL_ACTIONS: [&str; 6] = [
    write::<actions::RemoveVpcAccess>(),
    write::<actions::SetVpcAccess>(),
    read::<actions::DescribeAbolishApiTask>(),
    write::<actions::RemoveVpcAccessAndAbolishApis>(),
    write::<actions::ModifyVpcAccessAndUpdateApis>(),
    read::<actions::DescribeUpdateVpcInfoTask>(),
];

/// The RAM service prefix of API Gateway actions.
pub const SERVICE: &str = "apigateway";

/// The actions a policy holds: the audit's (and DescribeRegions), plus removal when asked.
pub fn actions(with_removal: bool) -> Vec<String> {
    let mut list: Vec<&str> = AUDIT_ACTIONS
        .iter()
        .chain(&REGION_ACTIONS)
        .copied()
        .collect();
    if with_removal {
        list.extend(REMOVAL_ACTIONS);
    }
    list.sort_unstable();
    list.dedup();
    list.into_iter().map(|a| format!("{SERVICE}:{a}")).collect()
}

/// The RAM policy document. `Resource` is `*`: API Gateway's RAM resource model cannot name
/// one VPC grant (a grant has no ARN), which is why the removal guard lives client-side.
pub fn document(with_removal: bool) -> Value {
    json!({
        "Version": "1",
        "Statement": [{
            "Effect": "Allow",
            "Action": actions(with_removal),
            "Resource": "*"
        }]
    })
}

/// The document pretty-printed with a trailing newline, as `grantguard policy` prints it.
pub fn render(with_removal: bool) -> String {
    let mut text = serde_json::to_string_pretty(&document(with_removal))
        .expect("a JSON value always serializes");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audit_policy_is_read_only() {
        let doc = document(false);
        assert_eq!(doc["Version"], "1");
        let statement = &doc["Statement"][0];
        assert_eq!(statement["Effect"], "Allow");
        assert_eq!(statement["Resource"], "*");
        let listed: Vec<&str> = statement["Action"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert_eq!(listed.len(), AUDIT_ACTIONS.len() + REGION_ACTIONS.len());
        assert!(listed.iter().all(|a| a.starts_with("apigateway:Describe")));
        assert!(listed.contains(&"apigateway:DescribeApisByVpcAccess"));
    }

    #[test]
    fn with_removal_adds_exactly_the_write_and_task_actions() {
        let read = actions(false);
        let all = actions(true);
        let added: Vec<&String> = all.iter().filter(|a| !read.contains(a)).collect();
        assert_eq!(
            added,
            [
                "apigateway:DescribeAbolishApiTask",
                "apigateway:DescribeUpdateVpcInfoTask",
                "apigateway:ModifyVpcAccessAndUpdateApis",
                "apigateway:RemoveVpcAccess",
                "apigateway:RemoveVpcAccessAndAbolishApis",
                "apigateway:SetVpcAccess",
            ]
        );
        assert!(render(true).ends_with("}\n"));
    }
}

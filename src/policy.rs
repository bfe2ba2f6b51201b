//! The least-privilege RAM policy grantguard needs. In: whether removal is wanted. Out: a RAM
//! policy document (JSON, `Version "1"`) listing exactly the `apigateway:` actions the audit
//! walk calls, plus the removal and restore actions when asked. It never widens to wildcards:
//! a test compares [`AUDIT_ACTIONS`] with the emulator's call log of a full audit, so the list
//! cannot drift from `inventory::walk`.

use grantguard_wire::actions::{self, Action};
use serde_json::{json, Value};

/// Every action `inventory::walk` may call for one region (read-only).
pub const AUDIT_ACTIONS: [&str; 13] = [
    actions::DescribeVpcAccesses::NAME,
    actions::DescribeApiGroups::NAME,
    actions::DescribeApiGroup::NAME,
    actions::DescribeApis::NAME,
    actions::DescribeApi::NAME,
    actions::DescribeDeployedApis::NAME,
    actions::DescribeDeployedApi::NAME,
    actions::DescribeHistoryApis::NAME,
    actions::DescribeApiHistory::NAME,
    actions::DescribeBackendList::NAME,
    actions::DescribeBackendInfo::NAME,
    actions::DescribeApisByBackend::NAME,
    actions::DescribeApisByVpcAccess::NAME,
];

/// What `--region all` adds: listing the regions (one call, read-only).
pub const REGION_ACTIONS: [&str; 1] = [actions::DescribeRegions::NAME];

/// The removal (`RemoveVpcAccess*`, its task poll) and restore (`SetVpcAccess`) actions.
pub const REMOVAL_ACTIONS: [&str; 4] = [
    actions::RemoveVpcAccess::NAME,
    actions::SetVpcAccess::NAME,
    actions::DescribeAbolishApiTask::NAME,
    actions::RemoveVpcAccessAndAbolishApis::NAME,
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

/// Whether an action is one the audit needs (a permission gap on it is worth pointing at
/// `grantguard policy`).
pub fn is_audit_action(action: &str) -> bool {
    AUDIT_ACTIONS.contains(&action) || REGION_ACTIONS.contains(&action)
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
                "apigateway:RemoveVpcAccess",
                "apigateway:RemoveVpcAccessAndAbolishApis",
                "apigateway:SetVpcAccess",
            ]
        );
        assert!(render(true).ends_with("}\n"));
    }

    // The read-only lists hold only non-mutating actions, checked at compile time.
    const _: () = assert!(
        !actions::DescribeVpcAccesses::MUTATING && !actions::DescribeApisByBackend::MUTATING
    );
    const _: () = assert!(actions::RemoveVpcAccess::MUTATING && actions::SetVpcAccess::MUTATING);

    #[test]
    fn only_read_actions_count_as_audit_actions() {
        assert!(AUDIT_ACTIONS.iter().all(|a| is_audit_action(a)));
        assert!(REMOVAL_ACTIONS.iter().all(|a| !is_audit_action(a)));
    }
}

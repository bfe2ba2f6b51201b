//! A Terraform state → the grants and APIs it records. In: the text of a state file (format
//! version 4, what `terraform.tfstate` and `terraform state pull` hold) or of `terraform show
//! -json` output (format_version 1.x). Out: [`Terraform`] declarations with `Origin::State`,
//! addressed as Terraform addresses them. Any other format is an error, never a partial read.

use super::{
    DeclaredApi, DeclaredGrant, DeclaredTuple, Origin, SourceLine, Terraform, TerraformError,
    Unresolved,
};
use serde_json::Value;

/// The grant resource type.
pub(super) const GRANT_TYPE: &str = "alicloud_api_gateway_vpc_access";
/// The API resource type.
pub(super) const API_TYPE: &str = "alicloud_api_gateway_api";

/// Reads the state (or `show -json` output) `text`, shown as `file`.
pub fn read_state(file: &str, text: &str) -> Result<Terraform, TerraformError> {
    let document: Value = serde_json::from_str(text).map_err(|e| {
        let offset = offset_of(text, e.line(), e.column());
        TerraformError::at(file, text, offset, |src, at, position| {
            TerraformError::NotState {
                file: file.to_owned(),
                message: e.to_string(),
                src,
                at,
                position,
            }
        })
    })?;
    let not_state = |message: &str, key: &str| {
        TerraformError::at(file, text, key_offset(text, key), |src, at, position| {
            TerraformError::NotState {
                file: file.to_owned(),
                message: message.to_owned(),
                src,
                at,
                position,
            }
        })
    };
    let wrong_version = |found: &Value, key: &str, wanted| {
        let offset = key_offset(text, key);
        TerraformError::StateVersion {
            file: file.to_owned(),
            found: found.to_string().trim_matches('"').to_owned(),
            wanted,
            src: std::sync::Arc::new(crate::excerpt::Clipped::new(file, text)),
            at: miette::SourceSpan::from((offset, (key.len() + 2).min(text.len() - offset))),
        }
    };
    let Some(object) = document.as_object() else {
        return Err(not_state("the document is not a JSON object", "{"));
    };
    let mut found = Found {
        file,
        terraform: Terraform::default(),
    };
    if let Some(version) = object.get("version") {
        if version.as_u64() != Some(4) {
            return Err(wrong_version(version, "version", "version 4"));
        }
        let resources = match object.get("resources") {
            None | Some(Value::Null) => &[][..],
            Some(Value::Array(resources)) => resources.as_slice(),
            Some(_) => return Err(not_state("`resources` is not a list", "resources")),
        };
        for resource in resources {
            found.state_resource(resource);
        }
    } else if let Some(version) = object.get("format_version") {
        if !version.as_str().is_some_and(|v| v.starts_with("1.")) {
            return Err(wrong_version(
                version,
                "format_version",
                "format_version 1.x",
            ));
        }
        if object.contains_key("planned_values") {
            return Err(not_state(
                "this is a plan (`planned_values`), not a state; give `terraform show -json` without a plan file",
                "planned_values",
            ));
        }
        if let Some(root) = object.get("values").and_then(|v| v.get("root_module")) {
            found.show_module(root);
        }
    } else {
        return Err(not_state(
            "it has neither `version` (a state file) nor `format_version` (`terraform show -json`)",
            "{",
        ));
    }
    Ok(found.terraform)
}

/// The byte offset of 1-based `line` and `column` in `text`.
fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    (start + column.saturating_sub(1)).min(text.len())
}

/// Where the key `"key"` first appears in `text`, or the start.
fn key_offset(text: &str, key: &str) -> usize {
    if key == "{" {
        return 0;
    }
    text.find(&format!("\"{key}\"")).unwrap_or(0)
}

struct Found<'f> {
    file: &'f str,
    terraform: Terraform,
}

impl Found<'_> {
    /// One entry of a version-4 state's `resources`.
    fn state_resource(&mut self, resource: &Value) {
        let text = |key: &str| resource.get(key).and_then(Value::as_str);
        if text("mode") != Some("managed") {
            return;
        }
        let (Some(kind), Some(name)) = (text("type"), text("name")) else {
            return;
        };
        if kind != GRANT_TYPE && kind != API_TYPE {
            return;
        }
        let module = text("module").map(|m| format!("{m}.")).unwrap_or_default();
        let instances = resource.get("instances").and_then(Value::as_array);
        for instance in instances.into_iter().flatten() {
            let key = match instance.get("index_key") {
                Some(Value::String(k)) => format!("[{}]", Value::from(k.as_str())),
                Some(Value::Number(n)) => format!("[{n}]"),
                _ => String::new(),
            };
            let address = format!("{module}{kind}.{name}{key}");
            if let Some(attributes) = instance.get("attributes") {
                self.instance(kind, address, attributes);
            }
        }
    }

    /// One module of `terraform show -json`'s `values`, and its child modules.
    fn show_module(&mut self, module: &Value) {
        for resource in module
            .get("resources")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let text = |key: &str| resource.get(key).and_then(Value::as_str);
            if text("mode") != Some("managed") {
                continue;
            }
            let (Some(kind), Some(address), Some(values)) =
                (text("type"), text("address"), resource.get("values"))
            else {
                continue;
            };
            if kind == GRANT_TYPE || kind == API_TYPE {
                self.instance(kind, address.to_owned(), values);
            }
        }
        let children = module.get("child_modules").and_then(Value::as_array);
        for child in children.into_iter().flatten() {
            self.show_module(child);
        }
    }

    /// One resource instance's attributes.
    fn instance(&mut self, kind: &str, address: String, attributes: &Value) {
        let text = |key: &str| {
            attributes
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let source = SourceLine {
            file: self.file.to_owned(),
            line: None,
        };
        if kind == GRANT_TYPE {
            let port = match attributes.get("port") {
                Some(Value::Number(n)) => n.as_u64().and_then(|p| u16::try_from(p).ok()),
                Some(Value::String(s)) => s.parse().ok(),
                _ => None,
            };
            self.terraform.grants.push(DeclaredGrant {
                origin: Origin::State,
                address,
                source,
                name: text("name"),
                tuple: DeclaredTuple {
                    vpc_id: text("vpc_id"),
                    instance_id: text("instance_id"),
                    port,
                },
            });
            return;
        }
        // The provider records a nested block as a list of one object.
        let vpc = attributes
            .get("http_vpc_service_config")
            .and_then(|c| c.as_array().and_then(|a| a.first()).or(Some(c)))
            .filter(|c| c.is_object());
        let Some(vpc) = vpc else {
            return;
        };
        let stages: Vec<String> = attributes
            .get("stage_names")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect();
        match vpc.get("name").and_then(Value::as_str) {
            Some(grant_name) => self.terraform.apis.push(DeclaredApi {
                origin: Origin::State,
                address,
                source,
                name: text("name"),
                grant_name: grant_name.to_owned(),
                stages,
            }),
            None => self.terraform.unresolved.push(Unresolved {
                address,
                attribute: "http_vpc_service_config.name".into(),
                expression: vpc.get("name").map(Value::to_string).unwrap_or_default(),
                source,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATE: &str = r#"{
  "version": 4, "terraform_version": "1.9.8", "serial": 7, "lineage": "0b1c", "outputs": {},
  "resources": [
    {"mode": "managed", "type": "alicloud_api_gateway_vpc_access", "name": "this",
     "module": "module.edge", "provider": "provider[\"registry.terraform.io/aliyun/alicloud\"]",
     "instances": [
       {"index_key": "orders", "schema_version": 0, "attributes": {
          "id": "orders-vpc:vpc-1:i-1:80", "name": "orders-vpc", "vpc_id": "vpc-1",
          "instance_id": "i-1", "port": 80}}]},
    {"mode": "data", "type": "alicloud_api_gateway_vpc_access", "name": "ignored", "instances": []},
    {"mode": "managed", "type": "alicloud_api_gateway_api", "name": "get_order",
     "instances": [{"schema_version": 0, "attributes": {
        "id": "g1:a1", "api_id": "a1", "group_id": "g1", "name": "getOrder",
        "service_type": "HTTP-VPC", "stage_names": ["RELEASE"],
        "http_vpc_service_config": [{"name": "orders-vpc", "method": "GET", "path": "/o", "timeout": 10}]}}]}
  ]
}"#;

    #[test]
    fn a_version_4_state_gives_addresses_with_module_and_key() {
        let found = read_state("terraform.tfstate", STATE).expect("a state");
        assert_eq!(found.grants.len(), 1);
        let grant = &found.grants[0];
        assert_eq!(
            grant.address,
            r#"module.edge.alicloud_api_gateway_vpc_access.this["orders"]"#
        );
        assert_eq!(grant.name.as_deref(), Some("orders-vpc"));
        assert_eq!(grant.tuple.to_string(), "vpc-1/i-1:80");
        assert_eq!(found.apis[0].address, "alicloud_api_gateway_api.get_order");
        assert_eq!(found.apis[0].grant_name, "orders-vpc");
        assert_eq!(found.apis[0].stages, ["RELEASE"]);
    }

    #[test]
    fn show_json_output_is_read_with_child_modules() {
        let text = r#"{"format_version": "1.0", "terraform_version": "1.9.8", "values": {"root_module": {
            "resources": [],
            "child_modules": [{"address": "module.edge", "resources": [
              {"address": "module.edge.alicloud_api_gateway_vpc_access.this[\"orders\"]",
               "mode": "managed", "type": "alicloud_api_gateway_vpc_access", "name": "this",
               "index": "orders", "values": {"name": "orders-vpc", "vpc_id": "vpc-1",
               "instance_id": "i-1", "port": 80}}]}]}}}"#;
        let found = read_state("show.json", text).expect("show -json output");
        assert_eq!(
            found.grants[0].address,
            r#"module.edge.alicloud_api_gateway_vpc_access.this["orders"]"#
        );
        assert_eq!(found.grants[0].source.to_string(), "show.json");
    }

    #[test]
    fn another_format_version_is_refused_at_its_position() {
        let error = read_state("old.tfstate", "{\n  \"version\": 3,\n  \"modules\": []\n}")
            .expect_err("version 3");
        assert!(matches!(&error, TerraformError::StateVersion { found, .. } if found == "3"));
        assert_eq!(
            error.to_string(),
            "old.tfstate is state format version 3; grantguard reads version 4"
        );
        let error = read_state("show.json", r#"{"format_version": "2.0"}"#).expect_err("2.0");
        assert!(matches!(error, TerraformError::StateVersion { .. }));
    }

    #[test]
    fn a_version_key_written_with_an_escape_still_renders() {
        let error = read_state("s", r#"{"\u0076ersion":3}"#).expect_err("version 3");
        let text = format!("{:?}", miette::Report::new(error));
        assert!(text.contains("version 3"), "{text}");
    }

    #[test]
    fn damaged_or_foreign_json_is_refused_with_a_position() {
        let error =
            read_state("s.json", "{\n  \"version\": 4,\n  \"resources\": [\n").expect_err("cut");
        let TerraformError::NotState { position, .. } = &error else {
            panic!("{error:?}")
        };
        assert!(position.starts_with("line 4"), "{position}");
        let error = read_state("s.json", r#"{"name": "x"}"#).expect_err("not a state");
        assert!(error.to_string().contains("neither `version`"), "{error}");
        let error = read_state(
            "plan.json",
            r#"{"format_version": "1.2", "planned_values": {}}"#,
        )
        .expect_err("a plan");
        assert!(error.to_string().contains("plan"), "{error}");
    }
}

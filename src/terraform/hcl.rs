//! A folder of `.tf` files → the grants and APIs it declares, each at its file and line. In:
//! a [`Folder`] (every `.tf` file below it, read as text). Out: [`Terraform`] declarations
//! with `Origin::Configuration`, or the first file that does not parse.
//!
//! Files are parsed with `hcl-edit`, which keeps byte spans, so every declaration knows its
//! line. A folder that no local `module` block calls is a root module; a local module
//! (`source = "./…"`) is read where it is called, with the inputs the call gives as literals.
//! Values are resolved only from literals, those module inputs, `locals` made of them, the
//! keys and values of a literal `for_each`, and `alicloud_api_gateway_vpc_access.X.name` of a
//! grant declared in the same module. Anything else (a root variable, a data source, a
//! function of unknowns) is [`Unresolved`]: a variable's default can be overridden by a
//! `.tfvars` file, `-var` or the environment, so it is not a value.

use super::state::{API_TYPE, GRANT_TYPE};
use super::{
    DeclaredApi, DeclaredGrant, DeclaredTuple, Folder, Origin, SourceLine, Terraform,
    TerraformError, Unresolved,
};
use hcl_edit::expr::{Expression, ObjectKey, TraversalOperator};
use hcl_edit::structure::{Block, Body};
use hcl_edit::template::Element;
use hcl_edit::Span;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

/// Module calls deeper than this are a cycle (`a` calls `b` calls `a`), not a configuration.
const MAX_MODULE_DEPTH: usize = 16;

/// A value an expression resolved to.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Str(String),
    Num(u64),
    List(Vec<Val>),
    Map(BTreeMap<String, Val>),
}

impl Val {
    /// The value as a string, the way Terraform converts a number to one.
    fn text(&self) -> Option<String> {
        match self {
            Val::Str(s) => Some(s.clone()),
            Val::Num(n) => Some(n.to_string()),
            _ => None,
        }
    }

    fn get(&self, key: &Val) -> Option<&Val> {
        match (self, key) {
            (Val::Map(map), key) => map.get(&key.text()?),
            (Val::List(items), Val::Num(n)) => items.get(usize::try_from(*n).ok()?),
            _ => None,
        }
    }
}

/// One parsed file.
struct Parsed<'f> {
    shown: String,
    text: &'f str,
    body: Body,
    /// The byte offset of every line start, so a declaration's line is a binary search, not
    /// a count through the file (a generated file declares thousands of resources).
    line_starts: Vec<usize>,
}

impl Parsed<'_> {
    fn source(&self, offset: Option<usize>) -> SourceLine {
        let line = offset.map(|o| {
            let index = self.line_starts.partition_point(|&start| start <= o);
            u32::try_from(index).unwrap_or(u32::MAX)
        });
        SourceLine {
            file: self.shown.clone(),
            line,
        }
    }

    /// The expression as written, for an [`Unresolved`].
    fn written(&self, expression: &Expression) -> String {
        expression
            .span()
            .and_then(|span| self.text.get(span))
            .map(|t| t.trim().to_owned())
            .unwrap_or_default()
    }
}

/// Reads the configuration in `folder`.
pub fn read_configuration(folder: &Folder) -> Result<Terraform, TerraformError> {
    let mut by_dir: BTreeMap<String, Vec<Parsed>> = BTreeMap::new();
    for (relative, text) in &folder.files {
        let shown = folder.shown(relative);
        let body = hcl_edit::parser::parse_body(text).map_err(|e| {
            TerraformError::at(&shown, text, e.location().offset(), |src, at, position| {
                TerraformError::Syntax {
                    file: shown.clone(),
                    message: e.message().to_owned(),
                    src,
                    at,
                    position,
                }
            })
        })?;
        let dir = relative.rsplit_once('/').map_or("", |(d, _)| d).to_owned();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        by_dir.entry(dir).or_default().push(Parsed {
            shown,
            text,
            body,
            line_starts,
        });
    }
    // A folder some local module block calls is read through that call, not as a root.
    let mut called = BTreeSet::new();
    for (dir, files) in &by_dir {
        for file in files {
            for block in file.body.get_blocks("module") {
                if let Some(target) = local_source(dir, block) {
                    called.insert(target);
                }
            }
        }
    }
    let mut reader = Reader {
        by_dir: &by_dir,
        found: Terraform::default(),
    };
    for dir in by_dir.keys().filter(|d| !called.contains(*d)) {
        reader.module(dir, "", &BTreeMap::new(), 0);
    }
    Ok(reader.found)
}

/// The folder a `module` block's `source` names, when it is a local path (`./x`, `../x`).
fn local_source(dir: &str, block: &Block) -> Option<String> {
    let source = block.body.get_attribute("source")?.value.as_str()?;
    if !(source.starts_with("./") || source.starts_with("../")) {
        return None;
    }
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for part in source.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            part => parts.push(part),
        }
    }
    Some(parts.join("/"))
}

struct Reader<'r, 'f> {
    by_dir: &'r BTreeMap<String, Vec<Parsed<'f>>>,
    found: Terraform,
}

/// What names resolve to inside one module: `var`, `local`, the grants declared there, and
/// `each` inside a resource with a literal `for_each`. The module's names are shared, not
/// copied, by every instance's scope: a module declares thousands of resources.
#[derive(Default, Clone)]
struct Scope {
    roots: Rc<BTreeMap<String, Val>>,
    each: Option<Val>,
}

impl Scope {
    fn root(&self, name: &str) -> Option<&Val> {
        match name {
            "each" => self.each.as_ref(),
            name => self.roots.get(name),
        }
    }

    fn set(&mut self, name: &str, value: Val) {
        Rc::make_mut(&mut self.roots).insert(name.to_owned(), value);
    }

    fn eval(&self, expression: &Expression) -> Option<Val> {
        match expression {
            Expression::String(s) => Some(Val::Str(s.value().clone())),
            Expression::Number(n) => n.value().as_u64().map(Val::Num),
            Expression::Array(items) => items
                .iter()
                .map(|e| self.eval(e))
                .collect::<Option<_>>()
                .map(Val::List),
            Expression::Object(object) => {
                let mut map = BTreeMap::new();
                for (key, value) in object.iter() {
                    let key = match key {
                        ObjectKey::Ident(ident) => ident.value().to_string(),
                        ObjectKey::Expression(e) => self.eval(e)?.text()?,
                    };
                    map.insert(key, self.eval(value.expr())?);
                }
                Some(Val::Map(map))
            }
            Expression::Parenthesis(inner) => self.eval(inner.inner()),
            Expression::StringTemplate(template) => {
                let mut text = String::new();
                for element in template.iter() {
                    match element {
                        Element::Literal(literal) => text.push_str(literal.value()),
                        Element::Interpolation(i) => text.push_str(&self.eval(&i.expr)?.text()?),
                        Element::Directive(_) => return None,
                    }
                }
                Some(Val::Str(text))
            }
            // Conversions that keep a literal literal.
            Expression::FuncCall(call)
                if call.name.namespace.is_empty()
                    && ["toset", "tolist", "tomap"].contains(&call.name.name.value().as_str()) =>
            {
                let mut args = call.args.iter();
                match (args.next(), args.next()) {
                    (Some(only), None) => self.eval(only),
                    _ => None,
                }
            }
            Expression::Variable(name) => self.root(name.value().as_str()).cloned(),
            Expression::Traversal(traversal) => {
                // Walked by reference: only the value reached is copied, not the module's map.
                let base = match &traversal.expr {
                    Expression::Variable(name) => Cow::Borrowed(self.root(name.value().as_str())?),
                    expression => Cow::Owned(self.eval(expression)?),
                };
                let mut value: &Val = &base;
                for operator in &traversal.operators {
                    let key = match operator.value() {
                        TraversalOperator::GetAttr(ident) => Val::Str(ident.value().to_string()),
                        TraversalOperator::Index(e) => self.eval(e)?,
                        TraversalOperator::LegacyIndex(n) => Val::Num(*n.value()),
                        _ => return None,
                    };
                    value = value.get(&key)?;
                }
                Some(value.clone())
            }
            _ => None,
        }
    }

    fn with_each(&self, each: Option<(&String, &Val)>) -> Scope {
        let mut scope = self.clone();
        scope.each = each.map(|(key, value)| {
            Val::Map(BTreeMap::from([
                ("key".to_owned(), Val::Str(key.clone())),
                ("value".to_owned(), value.clone()),
            ]))
        });
        scope
    }
}

/// The instances of a resource: one without a key, or one per key of a literal `for_each`.
fn instances(block: &Block, scope: &Scope) -> Vec<Option<(String, Val)>> {
    let Some(for_each) = block.body.get_attribute("for_each") else {
        return vec![None];
    };
    match scope.eval(&for_each.value) {
        Some(Val::Map(map)) => map.into_iter().map(Some).collect(),
        Some(Val::List(items)) => items
            .into_iter()
            .filter_map(|v| v.text().map(|k| Some((k, v))))
            .collect(),
        // Unknown keys: one instance with `each` unbound, so what uses it is unresolved.
        _ => vec![None],
    }
}

fn key_suffix(key: Option<&str>) -> String {
    key.map(|k| format!("[{}]", serde_json::Value::from(k)))
        .unwrap_or_default()
}

impl<'f> Reader<'_, 'f> {
    fn module(&mut self, dir: &str, prefix: &str, vars: &BTreeMap<String, Val>, depth: usize) {
        let by_dir = self.by_dir;
        let Some(files) = by_dir.get(dir) else {
            return;
        };
        let mut scope = Scope::default();
        scope.set("var", Val::Map(vars.clone()));
        let locals = self.locals(files, &scope);
        scope.set("local", Val::Map(locals));

        // Grants first: an API may name one of them.
        let mut grants = BTreeMap::new();
        for file in files {
            for block in resources(&file.body, GRANT_TYPE) {
                let name = block.labels[1].as_str();
                let value = self.grant(file, block, prefix, &scope);
                grants.insert(name.to_owned(), value);
            }
        }
        scope.set(GRANT_TYPE, Val::Map(grants));
        for file in files {
            for block in resources(&file.body, API_TYPE) {
                self.api(file, block, prefix, &scope);
            }
        }
        if depth >= MAX_MODULE_DEPTH {
            return;
        }
        for file in files {
            for block in file.body.get_blocks("module") {
                let (Some(label), Some(target)) = (block.labels.first(), local_source(dir, block))
                else {
                    continue;
                };
                let inputs = block
                    .body
                    .attributes()
                    .filter_map(|a| Some((a.key.value().to_string(), scope.eval(&a.value)?)))
                    .collect();
                let prefix = format!("{prefix}module.{}.", label.as_str());
                self.module(&target, &prefix, &inputs, depth + 1);
            }
        }
    }

    /// The module's `locals` that resolve; a local may use another, in any order.
    fn locals(&self, files: &[Parsed], scope: &Scope) -> BTreeMap<String, Val> {
        let written: Vec<_> = files
            .iter()
            .flat_map(|f| f.body.get_blocks("locals"))
            .flat_map(|b| b.body.attributes())
            .collect();
        let mut scope = scope.clone();
        let mut locals = BTreeMap::new();
        loop {
            let before = locals.len();
            for attribute in &written {
                let name = attribute.key.value().to_string();
                if let std::collections::btree_map::Entry::Vacant(slot) = locals.entry(name) {
                    if let Some(value) = scope.eval(&attribute.value) {
                        slot.insert(value);
                    }
                }
            }
            if locals.len() == before {
                return locals;
            }
            scope.set("local", Val::Map(locals.clone()));
        }
    }

    /// One grant resource: its instances recorded, and what `alicloud_api_gateway_vpc_access.X`
    /// resolves to in the module (the instance's attributes, or one per `for_each` key).
    fn grant(&mut self, file: &Parsed<'f>, block: &Block, prefix: &str, scope: &Scope) -> Val {
        let source = file.source(block.span().map(|s| s.start));
        let base = format!("{prefix}{GRANT_TYPE}.{}", block.labels[1].as_str());
        let keyed = block.body.get_attribute("for_each").is_some();
        let mut by_key = BTreeMap::new();
        let mut single = Val::Map(BTreeMap::new());
        for instance in instances(block, scope) {
            let scope = scope.with_each(instance.as_ref().map(|(k, v)| (k, v)));
            let key = instance.as_ref().map(|(k, _)| k.as_str());
            let address = format!("{base}{}", key_suffix(key));
            let attribute = |name: &str| block.body.get_attribute(name).map(|a| &a.value);
            let text = |name: &str| attribute(name).and_then(|e| scope.eval(e)?.text());
            let name = text("name");
            if name.is_none() {
                let expression = attribute("name")
                    .map(|e| file.written(e))
                    .unwrap_or_default();
                self.found.unresolved.push(Unresolved {
                    address: address.clone(),
                    attribute: "name".into(),
                    expression,
                    source: source.clone(),
                });
            }
            let tuple = DeclaredTuple {
                vpc_id: text("vpc_id"),
                instance_id: text("instance_id"),
                port: text("port").and_then(|p| p.parse().ok()),
            };
            let mut attributes = BTreeMap::new();
            if let Some(name) = &name {
                attributes.insert("name".to_owned(), Val::Str(name.clone()));
            }
            match key {
                Some(key) => {
                    by_key.insert(key.to_owned(), Val::Map(attributes));
                }
                None => single = Val::Map(attributes),
            }
            self.found.grants.push(DeclaredGrant {
                origin: Origin::Configuration,
                address,
                source: source.clone(),
                name,
                tuple,
            });
        }
        if keyed {
            Val::Map(by_key)
        } else {
            single
        }
    }

    /// One API resource that routes through a grant by name.
    fn api(&mut self, file: &Parsed<'f>, block: &Block, prefix: &str, scope: &Scope) {
        let Some(vpc) = block.body.get_blocks("http_vpc_service_config").next() else {
            return;
        };
        let source = file.source(block.span().map(|s| s.start));
        let base = format!("{prefix}{API_TYPE}.{}", block.labels[1].as_str());
        for instance in instances(block, scope) {
            let scope = scope.with_each(instance.as_ref().map(|(k, v)| (k, v)));
            let address = format!(
                "{base}{}",
                key_suffix(instance.as_ref().map(|(k, _)| k.as_str()))
            );
            let mut unresolved = |attribute: &str, expression: Option<&Expression>| {
                self.found.unresolved.push(Unresolved {
                    address: address.clone(),
                    attribute: attribute.into(),
                    expression: expression.map(|e| file.written(e)).unwrap_or_default(),
                    source: source.clone(),
                });
            };
            let stages = match block.body.get_attribute("stage_names") {
                None => Vec::new(),
                Some(attribute) => match scope.eval(&attribute.value) {
                    Some(Val::List(items)) => items.iter().filter_map(Val::text).collect(),
                    _ => {
                        unresolved("stage_names", Some(&attribute.value));
                        continue;
                    }
                },
            };
            let name_expression = vpc.body.get_attribute("name").map(|a| &a.value);
            let Some(grant_name) = name_expression.and_then(|e| scope.eval(e)?.text()) else {
                unresolved("http_vpc_service_config.name", name_expression);
                continue;
            };
            let name = block
                .body
                .get_attribute("name")
                .and_then(|a| scope.eval(&a.value)?.text());
            self.found.apis.push(DeclaredApi {
                origin: Origin::Configuration,
                address,
                source: source.clone(),
                name,
                grant_name,
                stages,
            });
        }
    }
}

/// The `resource "KIND" "NAME"` blocks of `body`.
fn resources<'b>(body: &'b Body, kind: &'b str) -> impl Iterator<Item = &'b Block> + 'b {
    body.get_blocks("resource")
        .filter(move |b| b.labels.len() == 2 && b.labels[0].as_str() == kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(files: &[(&str, &str)]) -> Terraform {
        let folder = Folder {
            shown_as: "infra".into(),
            files: files
                .iter()
                .map(|(p, t)| ((*p).to_owned(), (*t).to_owned()))
                .collect(),
        };
        read_configuration(&folder).expect("parses")
    }

    #[test]
    fn a_literal_grant_and_an_api_naming_it_by_reference() {
        let found = read(&[(
            "main.tf",
            r#"
resource "alicloud_api_gateway_vpc_access" "orders" {
  name        = "orders-vpc"
  vpc_id      = "vpc-1"
  instance_id = "i-1"
  port        = 80
}

resource "alicloud_api_gateway_api" "get_order" {
  name         = "getOrder"
  group_id     = alicloud_api_gateway_group.orders.id
  service_type = "HTTP-VPC"
  http_vpc_service_config {
    name   = alicloud_api_gateway_vpc_access.orders.name
    method = "GET"
    path   = "/orders"
    timeout = 1000
  }
  stage_names = ["RELEASE", "PRE"]
}
"#,
        )]);
        let grant = &found.grants[0];
        assert_eq!(grant.address, "alicloud_api_gateway_vpc_access.orders");
        assert_eq!(grant.source.to_string(), "infra/main.tf:2");
        assert_eq!(grant.tuple.to_string(), "vpc-1/i-1:80");
        let api = &found.apis[0];
        assert_eq!(api.grant_name, "orders-vpc");
        assert_eq!(api.stages, ["RELEASE", "PRE"]);
        assert_eq!(api.source.line, Some(9));
        assert!(found.unresolved.is_empty(), "{:?}", found.unresolved);
    }

    #[test]
    fn a_module_gets_its_literal_inputs_and_addresses_carry_the_path() {
        let found = read(&[
            (
                "main.tf",
                "module \"edge\" {\n  source = \"./modules/edge\"\n  grant_name = \"billing-vpc\"\n  port = 8080\n}\n",
            ),
            (
                "modules/edge/main.tf",
                "variable \"grant_name\" {}\nvariable \"port\" {}\nlocals {\n  vpc = \"vpc-${var.port}\"\n}\nresource \"alicloud_api_gateway_vpc_access\" \"this\" {\n  name = var.grant_name\n  vpc_id = local.vpc\n  instance_id = \"i-2\"\n  port = var.port\n}\n",
            ),
        ]);
        assert_eq!(
            found.grants.len(),
            1,
            "the module is read once, through its call"
        );
        let grant = &found.grants[0];
        assert_eq!(
            grant.address,
            "module.edge.alicloud_api_gateway_vpc_access.this"
        );
        assert_eq!(grant.name.as_deref(), Some("billing-vpc"));
        assert_eq!(grant.tuple.to_string(), "vpc-8080/i-2:8080");
        assert_eq!(grant.source.to_string(), "infra/modules/edge/main.tf:6");
    }

    #[test]
    fn a_literal_for_each_gives_one_instance_per_key() {
        let found = read(&[(
            "grants.tf",
            r#"resource "alicloud_api_gateway_vpc_access" "this" {
  for_each    = { "orders-vpc" = 80, "search-vpc" = 8080 }
  name        = each.key
  vpc_id      = "vpc-1"
  instance_id = "i-1"
  port        = each.value
}
resource "alicloud_api_gateway_api" "search" {
  name = "search"
  http_vpc_service_config {
    name = alicloud_api_gateway_vpc_access.this["search-vpc"].name
  }
  stage_names = ["TEST"]
}
"#,
        )]);
        let addresses: Vec<_> = found.grants.iter().map(|g| g.address.as_str()).collect();
        assert_eq!(
            addresses,
            [
                r#"alicloud_api_gateway_vpc_access.this["orders-vpc"]"#,
                r#"alicloud_api_gateway_vpc_access.this["search-vpc"]"#
            ]
        );
        assert_eq!(found.grants[1].tuple.port, Some(8080));
        assert_eq!(found.apis[0].grant_name, "search-vpc");
    }

    #[test]
    fn a_root_variable_is_unresolved_not_its_default() {
        let found = read(&[(
            "main.tf",
            r#"variable "grant_name" {
  default = "orders-vpc"
}
resource "alicloud_api_gateway_vpc_access" "orders" {
  name        = var.grant_name
  vpc_id      = "vpc-1"
  instance_id = "i-1"
  port        = 80
}
resource "alicloud_api_gateway_api" "get_order" {
  name = "getOrder"
  http_vpc_service_config {
    name = alicloud_api_gateway_vpc_access.orders.name
  }
  stage_names = ["RELEASE"]
}
"#,
        )]);
        assert_eq!(found.grants[0].name, None);
        let unresolved: Vec<_> = found
            .unresolved
            .iter()
            .map(|u| (u.attribute.as_str(), u.expression.as_str()))
            .collect();
        assert_eq!(
            unresolved,
            [
                ("name", "var.grant_name"),
                (
                    "http_vpc_service_config.name",
                    "alicloud_api_gateway_vpc_access.orders.name"
                )
            ]
        );
        assert!(found.apis.is_empty());
    }

    #[test]
    fn a_file_that_does_not_parse_names_its_line() {
        let folder = Folder {
            shown_as: String::new(),
            files: vec![(
                "main.tf".into(),
                "resource \"x\" \"y\" {\n  name = \n}\n".into(),
            )],
        };
        let error = read_configuration(&folder).expect_err("broken");
        let TerraformError::Syntax { file, position, .. } = &error else {
            panic!("{error:?}")
        };
        assert_eq!(file, "main.tf");
        assert!(
            position.starts_with("line 2") || position.starts_with("line 3"),
            "{position}"
        );
    }
}

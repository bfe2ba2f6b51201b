//! The credentials ini file step (docs/credentials.md): `ALIBABA_CLOUD_CREDENTIALS_FILE`, else
//! `~/.alibabacloud/credentials.ini` (the Python library's name), else
//! `~/.alibabacloud/credentials` (the Node and Go libraries' name); its `ALIBABA_CLOUD_PROFILE`
//! or `default` section; `type` one of access_key, sts, ram_role_arn, ecs_ram_role,
//! oidc_role_arn. In: the environment lookup and the home directory. Out: the planned source,
//! a skip (no file, no such section), or an error for a section that is there but unusable.
//! No error quotes the file's text: it holds secrets.

use super::chain::Located;
use super::{
    check_permissions, is_true, non_empty, providers, without_values, Credentials,
    CredentialsError, Plan, Planned, Source, CREDENTIALS_FILE_VAR, ECS_METADATA_DISABLED_VAR,
    IMDSV1_DISABLED_VAR, PROFILE_VAR,
};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The section read when `ALIBABA_CLOUD_PROFILE` names none.
const DEFAULT_SECTION: &str = "default";

/// Which file, or why there is none to read.
fn path_of(
    env: &impl Fn(&str) -> Option<String>,
    home: Option<&Path>,
) -> Result<Option<PathBuf>, CredentialsError> {
    if let Some(path) = non_empty(env, CREDENTIALS_FILE_VAR) {
        let path = PathBuf::from(path);
        return if path.exists() {
            Ok(Some(path))
        } else {
            Err(CredentialsError::CredentialsFileMissing { path })
        };
    }
    let Some(home) = home else {
        return Ok(None);
    };
    let dir = home.join(".alibabacloud");
    Ok(["credentials.ini", "credentials"]
        .into_iter()
        .map(|name| dir.join(name))
        .find(|p| p.exists()))
}

/// The section's keys, lower-cased as Python's configparser does, each value with a trailing
/// ` # comment` removed and trimmed, as the official libraries read them.
fn section(path: &Path, name: &str) -> Result<Option<HashMap<String, String>>, CredentialsError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| CredentialsError::ConfigUnreadable {
            path: path.to_owned(),
            source,
        })?;
    let options = ini::ParseOption {
        enabled_quote: false,
        enabled_escape: false,
        ..Default::default()
    };
    let parsed = ini::Ini::load_from_str_opt(&text, options).map_err(|e| {
        CredentialsError::CredentialsFileInvalid {
            path: path.to_owned(),
            message: format!(
                "{} at line {}, column {}",
                // The parser's "expecting [Some(']')]" names characters, not content.
                if e.msg.contains("found EOF") {
                    "the file ends inside a section header".to_owned()
                } else {
                    without_values(&e.msg)
                },
                e.line,
                e.col
            ),
        }
    })?;
    // Python's configparser refuses a repeated section or key; picking one would be a guess.
    let duplicate = |what: String| CredentialsError::CredentialsFileInvalid {
        path: path.to_owned(),
        message: format!("{what} appears more than once"),
    };
    let mut sections = parsed.section_all(Some(name));
    let Some(properties) = sections.next() else {
        return Ok(None);
    };
    if sections.next().is_some() {
        return Err(duplicate(format!("section [{name}]")));
    }
    let mut keys = HashMap::new();
    for (key, value) in properties.iter() {
        let value = value.split('#').next().unwrap_or("").trim();
        let key = key.trim().to_ascii_lowercase();
        if keys.insert(key.clone(), value.to_owned()).is_some() {
            return Err(duplicate(format!("key `{key}` of section [{name}]")));
        }
    }
    Ok(Some(keys))
}

/// Locates the step: the file and section, then the plan of its `type`.
pub(super) fn locate(
    env: &impl Fn(&str) -> Option<String>,
    home: Option<&Path>,
) -> Result<Located, CredentialsError> {
    let Some(path) = path_of(env, home)? else {
        return Ok(Located::Skipped(
            "no ~/.alibabacloud/credentials.ini or ~/.alibabacloud/credentials".into(),
        ));
    };
    let warnings = check_permissions(&path)?;
    let name = non_empty(env, PROFILE_VAR).unwrap_or_else(|| DEFAULT_SECTION.to_owned());
    let Some(keys) = section(&path, &name)? else {
        return Ok(Located::Skipped(format!(
            "{} has no section [{name}]",
            path.display()
        )));
    };
    let kind = keys.get("type").cloned().unwrap_or_default();
    let require = |field: &'static str| match keys.get(field).filter(|v| !v.is_empty()) {
        Some(value) => Ok(value.clone()),
        None => Err(CredentialsError::SectionIncomplete {
            path: path.clone(),
            section: name.clone(),
            kind: kind.clone(),
            field,
        }),
    };
    let optional = |field: &str| keys.get(field).filter(|v| !v.is_empty()).cloned();
    let key = |token: Option<String>| -> Result<Credentials, CredentialsError> {
        Ok(Credentials::new(
            require("access_key_id")?,
            require("access_key_secret")?,
            token,
        ))
    };
    let session_name =
        || optional("role_session_name").unwrap_or_else(|| providers::DEFAULT_SESSION_NAME.into());
    let (plan, role) = match kind.as_str() {
        "access_key" => (Plan::Static(key(None)?), None),
        "sts" => (Plan::Static(key(Some(require("security_token")?))?), None),
        "ram_role_arn" => {
            let role_arn = require("role_arn")?;
            let plan = Plan::AssumeRole(Box::new(providers::AssumeRole {
                source: Plan::Static(key(None)?),
                role_arn: role_arn.clone(),
                session_name: session_name(),
                duration_secs: 3600,
                external_id: optional("external_id"),
                policy: optional("policy"),
                endpoint: providers::sts_endpoint(env, None)?,
            }));
            (plan, Some(role_arn))
        }
        "ecs_ram_role" if is_true(env(ECS_METADATA_DISABLED_VAR)) => {
            return Err(CredentialsError::MetadataDisabled {
                what: format!("section [{name}] of {} (type ecs_ram_role)", path.display()),
            })
        }
        "ecs_ram_role" => {
            let role = optional("role_name");
            let plan = Plan::Ecs {
                role: role.clone(),
                endpoint: providers::ecs_endpoint(env)?,
                imds_v1: !is_true(env(IMDSV1_DISABLED_VAR)),
            };
            (plan, role)
        }
        "oidc_role_arn" => {
            let role_arn = require("role_arn")?;
            let plan = Plan::Oidc(Box::new(providers::OidcRole {
                role_arn: role_arn.clone(),
                provider_arn: require("oidc_provider_arn")?,
                token_file: PathBuf::from(require("oidc_token_file_path")?),
                session_name: session_name(),
                duration_secs: 3600,
                endpoint: providers::sts_endpoint(env, None)?,
            }));
            (plan, Some(role_arn))
        }
        _ => {
            return Err(CredentialsError::UnsupportedType {
                path,
                section: name,
                kind: if kind.is_empty() {
                    "(none)".into()
                } else {
                    kind
                },
            })
        }
    };
    Ok(Located::Found(Box::new(Planned {
        plan,
        source: Source::CredentialsFile {
            path,
            section: name.clone(),
            kind: kind.clone(),
            role,
        },
        region: None,
        warnings,
        profile: Some(name),
        mode: kind,
    })))
}

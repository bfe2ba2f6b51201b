//! Environment or aliyun CLI profile → [`Credentials`] (docs/cloudapi-notes.md §6). In: an optional
//! `--profile` name, an environment lookup and the home directory, all injected so tests never
//! touch the process environment. Out: the credentials and where they came from. Secrets never
//! come from the command line and never reach output: `Debug` is redacted, the type is not
//! `Serialize`, and no error quotes the config file's text (it holds the secret).

pub mod providers;

pub use crate::auth::Credentials;
pub use providers::{Plan, Provider, Refresher};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Env vars for the AccessKeyId, first non-empty wins (aliyun CLI order, docs/cloudapi-notes.md §6.1).
pub const ACCESS_KEY_ID_VARS: [&str; 4] = [
    "ALIBABA_CLOUD_ACCESS_KEY_ID",
    "ALIBABACLOUD_ACCESS_KEY_ID",
    "ALICLOUD_ACCESS_KEY_ID",
    "ACCESS_KEY_ID",
];
/// Env vars for the AccessKeySecret, first non-empty wins.
pub const ACCESS_KEY_SECRET_VARS: [&str; 4] = [
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
    "ALIBABACLOUD_ACCESS_KEY_SECRET",
    "ALICLOUD_ACCESS_KEY_SECRET",
    "ACCESS_KEY_SECRET",
];
/// Env vars for the STS token, first non-empty wins.
pub const SECURITY_TOKEN_VARS: [&str; 4] = [
    "ALIBABA_CLOUD_SECURITY_TOKEN",
    "ALIBABACLOUD_SECURITY_TOKEN",
    "ALICLOUD_SECURITY_TOKEN",
    "SECURITY_TOKEN",
];
/// Env vars naming the profile when `--profile` is absent.
pub const PROFILE_VARS: [&str; 3] = [
    "ALIBABA_CLOUD_PROFILE",
    "ALIBABACLOUD_PROFILE",
    "ALICLOUD_PROFILE",
];
/// Overrides the CLI config path; the name credentials-go's CLI-profile provider reads.
pub const CONFIG_FILE_VAR: &str = "ALIBABA_CLOUD_CONFIG_FILE";
/// `true` skips the CLI config file in the chain (docs/cloudapi-notes.md §6.1).
pub const CLI_PROFILE_DISABLED_VAR: &str = "ALIBABA_CLOUD_CLI_PROFILE_DISABLED";
/// `true` skips the ECS metadata step of the chain (docs/cloudapi-notes.md §6.1).
pub const ECS_METADATA_DISABLED_VAR: &str = "ALIBABA_CLOUD_ECS_METADATA_DISABLED";
/// The ECS RAM role name, when known (skips discovery; docs/cloudapi-notes.md §6.1).
pub const ECS_ROLE_VAR: &str = "ALIBABA_CLOUD_ECS_METADATA";

/// Where the credentials came from (safe to print).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Source {
    /// The environment variable that held the AccessKeyId.
    Environment {
        /// Name of that variable.
        variable: &'static str,
    },
    /// A profile of the aliyun CLI config file.
    Profile {
        /// Profile name.
        name: String,
        /// The config file.
        path: PathBuf,
    },
    /// A profile whose mode obtains temporary credentials (RamRoleArn, EcsRamRole,
    /// ChainableRamRoleArn).
    ProfileRole {
        /// Profile name.
        name: String,
        /// The config file.
        path: PathBuf,
        /// The profile's mode.
        mode: String,
        /// The role ARN or ECS role name (not secret).
        role: String,
    },
    /// The ECS instance's RAM role, from the metadata service (last step of the chain).
    EcsMetadata {
        /// The role name, when given by `ALIBABA_CLOUD_ECS_METADATA`.
        role: Option<String>,
    },
}

/// Credentials plus what an operator may want to know about them.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The credentials.
    pub credentials: Credentials,
    /// Where they came from.
    pub source: Source,
    /// The profile's `region_id`, when it has one.
    pub region: Option<String>,
    /// Warnings already logged (e.g. a config file readable by others), for the CLI to show.
    pub warnings: Vec<String>,
    /// When temporary credentials (STS, ECS role) expire; `None` for a long-term key.
    pub expires_at: Option<time::OffsetDateTime>,
    /// Renews temporary credentials before they expire; `None` for fixed ones.
    pub refresher: Option<Arc<Refresher>>,
}

impl Resolved {
    /// What a client should sign with: the refresher when there is one.
    pub fn provider(&self) -> Provider {
        match &self.refresher {
            Some(r) => Provider::Refreshing(Arc::clone(r)),
            None => Provider::Static(self.credentials.clone()),
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Environment { variable } => write!(f, "environment ({variable})"),
            Source::Profile { name, path } => {
                write!(f, "profile {name} of {}", path.display())
            }
            Source::ProfileRole {
                name,
                path,
                mode,
                role,
            } => write!(f, "profile {name} of {} ({mode} {role})", path.display()),
            Source::EcsMetadata { role: Some(role) } => {
                write!(f, "ECS instance RAM role {role} (metadata service)")
            }
            Source::EcsMetadata { role: None } => {
                write!(f, "ECS instance RAM role (metadata service)")
            }
        }
    }
}

/// Why no usable credentials were found.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum CredentialsError {
    /// Nothing in the environment, no profile, no config file.
    #[error("no credentials found")]
    #[diagnostic(
        code(grantguard::credentials::missing),
        help(
            "set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET (optionally ALIBABA_CLOUD_SECURITY_TOKEN; older names ALIBABACLOUD_*, ALICLOUD_*, ACCESS_KEY_ID/ACCESS_KEY_SECRET also work), or pass --profile NAME for a profile of ~/.aliyun/config.json"
        )
    )]
    Missing,
    /// One half of the access key is in the environment, the other is not.
    #[error("{present} is set but none of {missing} is")]
    #[diagnostic(
        code(grantguard::credentials::incomplete_environment),
        help("set both the access key id and the secret, or unset both and use --profile")
    )]
    IncompleteEnvironment {
        /// The variable that was found.
        present: &'static str,
        /// The variables searched for the other half.
        missing: String,
    },
    /// A profile was asked for but there is no config file.
    #[error("profile {profile} asked for, but {} does not exist", path.display())]
    #[diagnostic(
        code(grantguard::credentials::config_missing),
        help("run `aliyun configure --profile {profile}`, or set ALIBABA_CLOUD_CONFIG_FILE")
    )]
    ConfigMissing {
        /// The profile asked for.
        profile: String,
        /// Where the file was looked for.
        path: PathBuf,
    },
    /// The config file could not be read.
    #[error("cannot read {}", path.display())]
    #[diagnostic(code(grantguard::credentials::config_unreadable))]
    ConfigUnreadable {
        /// The config file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The config file is not the JSON the aliyun CLI writes. The text is not shown: it holds
    /// secrets.
    #[error("{} is not a valid aliyun CLI config: {message} at line {line}, column {column}", path.display())]
    #[diagnostic(code(grantguard::credentials::config_invalid))]
    ConfigInvalid {
        /// The config file.
        path: PathBuf,
        /// What the parser said.
        message: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// Others may write the config file, so anyone could swap the key.
    #[error("{} is writable by group or others (mode {mode:o}); refusing to use it", path.display())]
    #[diagnostic(
        code(grantguard::credentials::config_writable),
        help("run `chmod 600 {}`", path.display())
    )]
    ConfigWritable {
        /// The config file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The profile is not in the file.
    #[error("profile {profile} not found in {}", path.display())]
    #[diagnostic(
        code(grantguard::credentials::profile_not_found),
        help("profiles in the file: {available}")
    )]
    ProfileNotFound {
        /// The profile asked for.
        profile: String,
        /// The config file.
        path: PathBuf,
        /// Names of the profiles that exist.
        available: String,
    },
    /// The profile's mode needs a token exchange grantguard does not do.
    #[error("profile {profile} uses mode {mode}, which grantguard does not support")]
    #[diagnostic(
        code(grantguard::credentials::unsupported_mode),
        help("supported modes: AK, StsToken, RamRoleArn, EcsRamRole, ChainableRamRoleArn; or export the keys in ALIBABA_CLOUD_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_SECRET / ALIBABA_CLOUD_SECURITY_TOKEN")
    )]
    UnsupportedMode {
        /// The profile.
        profile: String,
        /// Its mode.
        mode: String,
    },
    /// The mode obtains temporary credentials over the network; only the async chain does that.
    #[error("profile {profile} uses mode {mode}, which needs a token exchange")]
    #[diagnostic(code(grantguard::credentials::exchange_needed))]
    ExchangeNeeded {
        /// The profile.
        profile: String,
        /// Its mode.
        mode: String,
    },
    /// ChainableRamRoleArn profiles that name each other.
    #[error("profile {profile} is part of a source_profile cycle")]
    #[diagnostic(
        code(grantguard::credentials::profile_cycle),
        help("make the chain end at an AK, StsToken, RamRoleArn or EcsRamRole profile")
    )]
    ProfileCycle {
        /// The profile met twice.
        profile: String,
    },
    /// An STS or metadata endpoint override that is not allowed.
    #[error("{variable}: {message}")]
    #[diagnostic(
        code(grantguard::credentials::endpoint),
        help("use https://, or http:// only to a loopback address (a local emulator)")
    )]
    BadEndpoint {
        /// The variable.
        variable: &'static str,
        /// Why.
        message: String,
    },
    /// STS or the metadata service did not hand out credentials.
    #[error("{service} failed: {message}")]
    #[diagnostic(
        code(grantguard::credentials::exchange),
        help("check the role ARN and that the source identity may call sts:AssumeRole on it, or that a RAM role is attached to this ECS instance; `grantguard whoami` shows which source is used")
    )]
    Exchange {
        /// `STS AssumeRole` or `ECS metadata`.
        service: &'static str,
        /// What happened (never a secret, a token or a signed URL).
        message: String,
    },
    /// The profile lacks a key its mode needs.
    #[error("profile {profile} (mode {mode}) has no {field}")]
    #[diagnostic(
        code(grantguard::credentials::profile_incomplete),
        help("run `aliyun configure --profile {profile}`")
    )]
    ProfileIncomplete {
        /// The profile.
        profile: String,
        /// Its mode.
        mode: String,
        /// The empty or missing key.
        field: &'static str,
    },
}

/// The parts of `~/.aliyun/config.json` grantguard reads (docs/cloudapi-notes.md §6.3).
#[derive(Deserialize)]
struct ConfigFile {
    #[serde(default)]
    current: String,
    #[serde(default)]
    profiles: Vec<Profile>,
}

#[derive(Deserialize)]
struct Profile {
    #[serde(default)]
    name: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    access_key_id: String,
    #[serde(default)]
    access_key_secret: String,
    #[serde(default)]
    sts_token: String,
    #[serde(default)]
    region_id: String,
    #[serde(default)]
    ram_role_arn: String,
    #[serde(default)]
    ram_session_name: String,
    #[serde(default)]
    expired_seconds: Option<u32>,
    #[serde(default)]
    sts_region: String,
    #[serde(default)]
    external_id: String,
    #[serde(default)]
    ram_role_name: String,
    #[serde(default)]
    source_profile: String,
}

/// Finds fixed credentials: `--profile NAME` if given; else the environment's access key;
/// else a profile named by `ALIBABA_CLOUD_PROFILE` (or its older names); else the config
/// file's `current` profile if the file exists. `env` looks up one variable; `home` is the
/// user's home directory (for `~/.aliyun/config.json`, overridden by
/// `ALIBABA_CLOUD_CONFIG_FILE`). A profile mode that needs STS or the metadata service is
/// [`CredentialsError::ExchangeNeeded`]: [`resolve_chain`] handles those.
pub fn resolve(
    profile: Option<&str>,
    env: &impl Fn(&str) -> Option<String>,
    home: Option<&Path>,
) -> Result<Resolved, CredentialsError> {
    match plan(profile, env, home)? {
        Some(planned) => match planned.plan {
            Plan::Static(ref credentials) => {
                let credentials = credentials.clone();
                Ok(planned.into_resolved(credentials, None, None))
            }
            _ => Err(CredentialsError::ExchangeNeeded {
                profile: planned.profile.unwrap_or_default(),
                mode: planned.mode,
            }),
        },
        None => Err(CredentialsError::Missing),
    }
}

/// The full provider chain (docs/cloudapi-notes.md §6.2): `--profile`, environment, the profile named by
/// `ALIBABA_CLOUD_PROFILE` or the CLI config's `current` (unless
/// `ALIBABA_CLOUD_CLI_PROFILE_DISABLED=true`), then the ECS instance RAM role (unless
/// `ALIBABA_CLOUD_ECS_METADATA_DISABLED=true`). Temporary credentials are fetched now and
/// come with a [`Refresher`].
pub async fn resolve_chain(
    profile: Option<&str>,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
    home: Option<&Path>,
) -> Result<Resolved, CredentialsError> {
    let planned = match plan(profile, &env, home)? {
        Some(planned) => planned,
        None if is_true(env(ECS_METADATA_DISABLED_VAR)) => return Err(CredentialsError::Missing),
        None => {
            let role = first_non_empty(&env, &[ECS_ROLE_VAR]).map(|(_, v)| v);
            let plan = Plan::Ecs {
                role: role.clone(),
                endpoint: providers::ecs_endpoint(env)?,
            };
            // Off ECS the metadata address does not answer: that means "no credentials".
            let issued = providers::fetch(&plan).await.map_err(|e| {
                tracing::debug!("ECS metadata step of the chain: {e}");
                CredentialsError::Missing
            })?;
            return Ok(Planned {
                plan,
                source: Source::EcsMetadata { role },
                region: None,
                warnings: Vec::new(),
                profile: None,
                mode: "EcsRamRole".into(),
            }
            .with_issued(issued));
        }
    };
    if let Plan::Static(credentials) = &planned.plan {
        let credentials = credentials.clone();
        return Ok(planned.into_resolved(credentials, None, None));
    }
    let issued = providers::fetch(&planned.plan).await?;
    Ok(planned.with_issued(issued))
}

fn is_true(value: Option<String>) -> bool {
    value.is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// A source found, before any network exchange.
struct Planned {
    plan: Plan,
    source: Source,
    region: Option<String>,
    warnings: Vec<String>,
    profile: Option<String>,
    mode: String,
}

impl Planned {
    fn into_resolved(
        self,
        credentials: Credentials,
        expires_at: Option<time::OffsetDateTime>,
        refresher: Option<Arc<Refresher>>,
    ) -> Resolved {
        Resolved {
            credentials,
            source: self.source,
            region: self.region,
            warnings: self.warnings,
            expires_at,
            refresher,
        }
    }

    fn with_issued(self, issued: providers::Issued) -> Resolved {
        let refresher = issued.expires_at.map(|_| {
            Arc::new(Refresher::new(
                self.plan.clone(),
                issued.clone(),
                time::OffsetDateTime::now_utc(),
            ))
        });
        self.into_resolved(issued.credentials, issued.expires_at, refresher)
    }
}

/// The chain up to (not including) the ECS step; `None` when nothing was found.
fn plan(
    profile: Option<&str>,
    env: &impl Fn(&str) -> Option<String>,
    home: Option<&Path>,
) -> Result<Option<Planned>, CredentialsError> {
    let config_path = first_non_empty(env, &[CONFIG_FILE_VAR])
        .map(|(_, path)| PathBuf::from(path))
        .or_else(|| home.map(|h| h.join(".aliyun").join("config.json")));

    if let Some(name) = profile {
        return from_profile(Some(name), config_path.as_deref(), env).map(Some);
    }
    if let Some(resolved) = from_environment(env)? {
        return Ok(Some(Planned {
            plan: Plan::Static(resolved.credentials),
            source: resolved.source,
            region: None,
            warnings: Vec::new(),
            profile: None,
            mode: "environment".into(),
        }));
    }
    if is_true(env(CLI_PROFILE_DISABLED_VAR)) {
        return Ok(None);
    }
    if let Some((_, name)) = first_non_empty(env, &PROFILE_VARS) {
        return from_profile(Some(&name), config_path.as_deref(), env).map(Some);
    }
    match config_path {
        Some(path) if path.exists() => from_profile(None, Some(&path), env).map(Some),
        _ => Ok(None),
    }
}

fn first_non_empty(
    env: &impl Fn(&str) -> Option<String>,
    names: &[&'static str],
) -> Option<(&'static str, String)> {
    names
        .iter()
        .find_map(|name| env(name).filter(|v| !v.is_empty()).map(|v| (*name, v)))
}

fn from_environment(
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Option<Resolved>, CredentialsError> {
    let id = first_non_empty(env, &ACCESS_KEY_ID_VARS);
    let secret = first_non_empty(env, &ACCESS_KEY_SECRET_VARS);
    let token = first_non_empty(env, &SECURITY_TOKEN_VARS).map(|(_, v)| v);
    match (id, secret) {
        (Some((variable, id)), Some((_, secret))) => Ok(Some(Resolved {
            credentials: Credentials::new(id, secret, token),
            source: Source::Environment { variable },
            region: None,
            warnings: Vec::new(),
            expires_at: None,
            refresher: None,
        })),
        (Some((present, _)), None) => Err(CredentialsError::IncompleteEnvironment {
            present,
            missing: ACCESS_KEY_SECRET_VARS.join(", "),
        }),
        (None, Some((present, _))) => Err(CredentialsError::IncompleteEnvironment {
            present,
            missing: ACCESS_KEY_ID_VARS.join(", "),
        }),
        (None, None) => Ok(None),
    }
}

/// Reads the profile `name` (or the file's `current`) from the config file at `path`.
fn from_profile(
    name: Option<&str>,
    path: Option<&Path>,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Planned, CredentialsError> {
    let Some(path) = path else {
        return Err(match name {
            Some(_) => CredentialsError::ConfigMissing {
                profile: name.unwrap_or_default().to_owned(),
                path: PathBuf::from("~/.aliyun/config.json"),
            },
            None => CredentialsError::Missing,
        });
    };
    if !path.exists() {
        return Err(CredentialsError::ConfigMissing {
            profile: name.unwrap_or("(current)").to_owned(),
            path: path.to_owned(),
        });
    }
    let warnings = check_permissions(path)?;
    let text =
        std::fs::read_to_string(path).map_err(|source| CredentialsError::ConfigUnreadable {
            path: path.to_owned(),
            source,
        })?;
    let config: ConfigFile =
        serde_json::from_str(&text).map_err(|e| CredentialsError::ConfigInvalid {
            path: path.to_owned(),
            // serde_json quotes the value it refused ("invalid type: integer `…`"), which may
            // be a secret: only field names are kept.
            message: without_values(e.to_string().split(" at line").next().unwrap_or("")),
            line: e.line(),
            column: e.column(),
        })?;
    let wanted = name.unwrap_or(&config.current);
    let found = find_profile(&config, wanted, path)?;
    let plan = profile_plan(&config, found, path, env, &mut Vec::new())?;
    let source = match &plan {
        Plan::Static(_) => Source::Profile {
            name: found.name.clone(),
            path: path.to_owned(),
        },
        _ => Source::ProfileRole {
            name: found.name.clone(),
            path: path.to_owned(),
            mode: found.mode.clone(),
            role: if found.ram_role_arn.is_empty() {
                found.ram_role_name.clone()
            } else {
                found.ram_role_arn.clone()
            },
        },
    };
    Ok(Planned {
        plan,
        source,
        region: Some(found.region_id.clone()).filter(|r| !r.is_empty()),
        warnings,
        profile: Some(found.name.clone()),
        mode: found.mode.clone(),
    })
}

/// A serde message with every quoted or backticked value replaced by `…`, except the field
/// names of "missing/duplicate/unknown field `x`" (names, never values).
fn without_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(open) = rest.find(['`', '"']) {
        let quote = rest[open..].chars().next().unwrap_or('`');
        let (before, after) = rest.split_at(open);
        out.push_str(before);
        let after = &after[1..];
        let Some(close) = after.find(quote) else {
            out.push_str(&format!("{quote}…"));
            return out;
        };
        let inner = if out.ends_with("field ") {
            &after[..close]
        } else {
            "…"
        };
        out.push_str(&format!("{quote}{inner}{quote}"));
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

fn find_profile<'a>(
    config: &'a ConfigFile,
    wanted: &str,
    path: &Path,
) -> Result<&'a Profile, CredentialsError> {
    config
        .profiles
        .iter()
        .find(|p| p.name == wanted)
        .ok_or_else(|| CredentialsError::ProfileNotFound {
            profile: wanted.to_owned(),
            path: path.to_owned(),
            available: config
                .profiles
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// The plan of one profile; `seen` guards ChainableRamRoleArn against cycles.
fn profile_plan(
    config: &ConfigFile,
    profile: &Profile,
    path: &Path,
    env: &impl Fn(&str) -> Option<String>,
    seen: &mut Vec<String>,
) -> Result<Plan, CredentialsError> {
    if seen.contains(&profile.name) {
        return Err(CredentialsError::ProfileCycle {
            profile: profile.name.clone(),
        });
    }
    seen.push(profile.name.clone());
    let require = |value: &str, field: &'static str| {
        if value.is_empty() {
            Err(CredentialsError::ProfileIncomplete {
                profile: profile.name.clone(),
                mode: profile.mode.clone(),
                field,
            })
        } else {
            Ok(value.to_owned())
        }
    };
    let key = |token: Option<String>| -> Result<Credentials, CredentialsError> {
        Ok(Credentials::new(
            require(&profile.access_key_id, "access_key_id")?,
            require(&profile.access_key_secret, "access_key_secret")?,
            token,
        ))
    };
    let assume = |source: Plan| -> Result<Plan, CredentialsError> {
        Ok(Plan::AssumeRole(Box::new(providers::AssumeRole {
            source,
            role_arn: require(&profile.ram_role_arn, "ram_role_arn")?,
            session_name: if profile.ram_session_name.is_empty() {
                // The CLI's own default is a timestamped name; a fixed one is easier to audit.
                "grantguard".to_owned()
            } else {
                profile.ram_session_name.clone()
            },
            duration_secs: profile.expired_seconds.unwrap_or(3600).max(900),
            external_id: Some(profile.external_id.clone()).filter(|e| !e.is_empty()),
            endpoint: providers::sts_endpoint(env, Some(&profile.sts_region))?,
        })))
    };
    // The CLI matches modes case-insensitively (docs/cloudapi-notes.md §6.3).
    match profile.mode.to_ascii_lowercase().as_str() {
        "ak" => Ok(Plan::Static(key(None)?)),
        "ststoken" => Ok(Plan::Static(key(Some(require(
            &profile.sts_token,
            "sts_token",
        )?))?)),
        "ramrolearn" => assume(Plan::Static(key(None)?)),
        "ecsramrole" => Ok(Plan::Ecs {
            role: Some(profile.ram_role_name.clone()).filter(|r| !r.is_empty()),
            endpoint: providers::ecs_endpoint(env)?,
        }),
        "chainableramrolearn" => {
            let source_name = require(&profile.source_profile, "source_profile")?;
            let source = find_profile(config, &source_name, path)?;
            let source_plan = profile_plan(config, source, path, env, seen)?;
            assume(source_plan)
        }
        _ => Err(CredentialsError::UnsupportedMode {
            profile: profile.name.clone(),
            mode: if profile.mode.is_empty() {
                "(empty)".into()
            } else {
                profile.mode.clone()
            },
        }),
    }
}

/// Refuses a config file others may write; warns (and returns the warning) when others may
/// read it.
#[cfg(unix)]
fn check_permissions(path: &Path) -> Result<Vec<String>, CredentialsError> {
    use std::os::unix::fs::PermissionsExt;
    let metadata =
        std::fs::metadata(path).map_err(|source| CredentialsError::ConfigUnreadable {
            path: path.to_owned(),
            source,
        })?;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o022 != 0 {
        return Err(CredentialsError::ConfigWritable {
            path: path.to_owned(),
            mode,
        });
    }
    if mode & 0o044 != 0 {
        let warning = format!(
            "{} is readable by other users (mode {mode:o}); run `chmod 600 {}`",
            path.display(),
            path.display()
        );
        tracing::warn!("{warning}");
        return Ok(vec![warning]);
    }
    Ok(Vec::new())
}

#[cfg(not(unix))]
fn check_permissions(_path: &Path) -> Result<Vec<String>, CredentialsError> {
    Ok(Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::os::unix::fs::PermissionsExt;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    const CONFIG: &str = r#"{
      "current": "default",
      "profiles": [
        {"name":"default","mode":"AK","access_key_id":"LTAIdefault0001","access_key_secret":"sec-default","region_id":"cn-hangzhou"},
        {"name":"sts","mode":"StsToken","access_key_id":"STS.id0002","access_key_secret":"sec-sts","sts_token":"tok-sts","region_id":"cn-shanghai"},
        {"name":"role","mode":"RamRoleArn","access_key_id":"LTAIrole","access_key_secret":"x","ram_role_arn":"acs:ram::1:role/a"},
        {"name":"broken","mode":"ak","access_key_id":"LTAIbroken"},
        {"name":"external","mode":"External","process_command":"x"}
      ]
    }"#;

    /// A temp HOME with `.aliyun/config.json` at `mode`.
    fn home_with(config: &str, mode: u32) -> tempfile::TempDir {
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join(".aliyun");
        std::fs::create_dir(&dir).unwrap();
        let file = dir.join("config.json");
        std::fs::write(&file, config).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
        home
    }

    #[test]
    fn environment_first_non_empty_wins() {
        let env = env_of(&[
            ("ALIBABA_CLOUD_ACCESS_KEY_ID", ""),
            ("ALICLOUD_ACCESS_KEY_ID", "LTAIenv00099"),
            ("ACCESS_KEY_ID", "ignored"),
            ("ACCESS_KEY_SECRET", "s3cret"),
            ("ALIBABACLOUD_SECURITY_TOKEN", "tok"),
        ]);
        let r = resolve(None, &env, None).unwrap();
        assert_eq!(r.credentials.access_key_id, "LTAIenv00099");
        assert_eq!(r.credentials.secret(), "s3cret");
        assert_eq!(r.credentials.security_token(), Some("tok"));
        assert_eq!(
            r.source,
            Source::Environment {
                variable: "ALICLOUD_ACCESS_KEY_ID"
            }
        );
    }

    #[test]
    fn half_an_access_key_is_an_error() {
        let env = env_of(&[("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI")]);
        let err = resolve(None, &env, None).unwrap_err();
        assert!(matches!(
            err,
            CredentialsError::IncompleteEnvironment { .. }
        ));
        assert!(err.to_string().contains("ALIBABA_CLOUD_ACCESS_KEY_SECRET"));
    }

    #[test]
    fn nothing_at_all_lists_the_variables_and_profile_flag() {
        let home = tempfile::tempdir().unwrap();
        let err = resolve(None, &env_of(&[]), Some(home.path())).unwrap_err();
        assert!(matches!(err, CredentialsError::Missing));
        let help = miette::Diagnostic::help(&err).unwrap().to_string();
        assert!(help.contains("ALIBABA_CLOUD_ACCESS_KEY_ID"));
        assert!(help.contains("--profile"));
    }

    #[test]
    fn profile_flag_beats_environment() {
        let home = home_with(CONFIG, 0o600);
        let env = env_of(&[
            ("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIenv"),
            ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "envsecret"),
        ]);
        let r = resolve(Some("sts"), &env, Some(home.path())).unwrap();
        assert_eq!(r.credentials.access_key_id, "STS.id0002");
        assert_eq!(r.credentials.security_token(), Some("tok-sts"));
        assert_eq!(r.region.as_deref(), Some("cn-shanghai"));
        assert!(r.warnings.is_empty());
    }

    #[test]
    fn profile_from_env_then_current() {
        let home = home_with(CONFIG, 0o600);
        let env = env_of(&[("ALICLOUD_PROFILE", "sts")]);
        let r = resolve(None, &env, Some(home.path())).unwrap();
        assert!(matches!(r.source, Source::Profile { ref name, .. } if name == "sts"));

        let r = resolve(None, &env_of(&[]), Some(home.path())).unwrap();
        assert_eq!(r.credentials.access_key_id, "LTAIdefault0001");
        assert!(!r.credentials.has_security_token());
    }

    #[test]
    fn config_path_override() {
        let elsewhere = home_with(CONFIG, 0o600);
        let path = elsewhere.path().join(".aliyun/config.json");
        let env = env_of(&[(CONFIG_FILE_VAR, path.to_str().unwrap())]);
        let empty_home = tempfile::tempdir().unwrap();
        let r = resolve(Some("default"), &env, Some(empty_home.path())).unwrap();
        assert_eq!(r.credentials.access_key_id, "LTAIdefault0001");
    }

    #[test]
    fn unsupported_mode_is_named() {
        let home = home_with(CONFIG, 0o600);
        let err = resolve(Some("external"), &env_of(&[]), Some(home.path())).unwrap_err();
        assert!(
            matches!(err, CredentialsError::UnsupportedMode { ref mode, .. } if mode == "External")
        );
        assert!(err.to_string().contains("External"));
        // RamRoleArn is supported, through the async chain (it needs STS).
        let err = resolve(Some("role"), &env_of(&[]), Some(home.path())).unwrap_err();
        assert!(
            matches!(err, CredentialsError::ExchangeNeeded { ref mode, .. } if mode == "RamRoleArn")
        );
    }

    #[test]
    fn incomplete_profile_and_unknown_profile() {
        let home = home_with(CONFIG, 0o600);
        let err = resolve(Some("broken"), &env_of(&[]), Some(home.path())).unwrap_err();
        assert!(matches!(
            err,
            CredentialsError::ProfileIncomplete {
                field: "access_key_secret",
                ..
            }
        ));
        let err = resolve(Some("nope"), &env_of(&[]), Some(home.path())).unwrap_err();
        assert!(
            matches!(err, CredentialsError::ProfileNotFound { ref available, .. } if available.contains("default"))
        );
    }

    #[test]
    fn missing_config_for_named_profile() {
        let home = tempfile::tempdir().unwrap();
        let err = resolve(Some("x"), &env_of(&[]), Some(home.path())).unwrap_err();
        assert!(matches!(err, CredentialsError::ConfigMissing { .. }));
    }

    #[test]
    fn readable_by_others_warns_writable_refuses() {
        let home = home_with(CONFIG, 0o644);
        let r = resolve(Some("default"), &env_of(&[]), Some(home.path())).unwrap();
        assert_eq!(r.warnings.len(), 1);
        assert!(r.warnings[0].contains("chmod 600"));
        assert!(r.warnings[0].contains("config.json"));

        let home = home_with(CONFIG, 0o666);
        let err = resolve(Some("default"), &env_of(&[]), Some(home.path())).unwrap_err();
        assert!(matches!(
            err,
            CredentialsError::ConfigWritable { mode: 0o666, .. }
        ));
    }

    #[test]
    fn invalid_config_names_position_not_content() {
        let home = home_with(
            "{\"profiles\": [{\"name\": \"a\", \"access_key_secret\": \"TOPSECRET\"",
            0o600,
        );
        let err = resolve(Some("a"), &env_of(&[]), Some(home.path())).unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(matches!(
            err,
            CredentialsError::ConfigInvalid { line: 1, .. }
        ));
        assert!(!text.contains("TOPSECRET"));
    }

    /// Fuzz find (profile_file): serde_json quotes the value it refused ("invalid type: integer
    /// `987654321`"), so a secret written as a bare number was shown.
    #[test]
    fn invalid_config_never_quotes_a_refused_value() {
        let home = home_with(
            r#"{"profiles": [{"name": "a", "mode": "AK", "access_key_id": "id", "access_key_secret": 987654321}]}"#,
            0o600,
        );
        let err = resolve(Some("a"), &env_of(&[]), Some(home.path())).unwrap_err();
        let text = format!("{err} {err:?}");
        let text = format!("{text} {:?}", miette::Report::new(err));
        assert!(!text.contains("987654321"), "{text}");
        assert!(text.contains("invalid type"), "{text}");

        let home = home_with(r#"{"profiles": [{"name": "a", "name": "b"}]}"#, 0o600);
        let err = resolve(Some("a"), &env_of(&[]), Some(home.path())).unwrap_err();
        assert!(err.to_string().contains("duplicate field `name`"), "{err}");
    }

    #[test]
    fn debug_is_redacted_and_key_masked() {
        let c = Credentials::new(
            "LTAI5tUniqueSuffixWXYZ".into(),
            "canary-secret".into(),
            Some("canary-token".into()),
        );
        let debug = format!("{c:?}");
        assert!(!debug.contains("canary-secret"));
        assert!(!debug.contains("canary-token"));
        assert!(!debug.contains("LTAI5tUniqueSuffix"));
        assert_eq!(c.masked_key_id(), "****WXYZ");
        assert_eq!(
            Credentials::new("ab".into(), "s".into(), None).masked_key_id(),
            "****ab"
        );
    }
}

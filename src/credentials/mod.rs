//! The credentials chain → [`Credentials`] (docs/credentials.md). In: an optional `--profile`
//! name, an environment lookup and the home directory, all injected so tests never touch the
//! process environment. Out: the credentials, where they came from, and the steps tried on
//! the way. Secrets never come from the command line and never reach output: `Debug` is
//! redacted, the type is not `Serialize`, and no error quotes a credentials file's text (it
//! holds the secret).
//!
//! The order is the official default chain's: environment, OIDC role, aliyun CLI profile,
//! credentials ini file, ECS instance RAM role, credentials URI. Where a step is configured
//! but fails, the official libraries try the next one; grantguard stops and says which step
//! failed and how to skip it, because the next step could sign as another identity.

mod chain;
mod ini_file;
pub mod providers;

pub use crate::auth::Credentials;
pub use chain::{Attempt, Outcome, Step};
pub use providers::{Plan, Provider, Refresher};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The AccessKeyId of the environment step (the only name the official chain reads).
pub const ACCESS_KEY_ID_VAR: &str = "ALIBABA_CLOUD_ACCESS_KEY_ID";
/// The AccessKeySecret of the environment step.
pub const ACCESS_KEY_SECRET_VAR: &str = "ALIBABA_CLOUD_ACCESS_KEY_SECRET";
/// The optional STS token of the environment step.
pub const SECURITY_TOKEN_VAR: &str = "ALIBABA_CLOUD_SECURITY_TOKEN";
/// Names the aliyun CLI profile and the credentials file's section.
pub const PROFILE_VAR: &str = "ALIBABA_CLOUD_PROFILE";
/// Names other tools read for keys, tokens and profiles, which grantguard never reads: the
/// aliyun CLI uses them only to fill fields its own profile leaves empty, and reading them
/// here would mix an id from one family with a secret from another (docs/credentials.md).
/// A set one is reported as ignored.
pub const IGNORED_VARS: [&str; 13] = [
    "ALIBABACLOUD_ACCESS_KEY_ID",
    "ALIBABACLOUD_ACCESS_KEY_SECRET",
    "ALIBABACLOUD_SECURITY_TOKEN",
    "ALICLOUD_ACCESS_KEY_ID",
    "ALICLOUD_ACCESS_KEY_SECRET",
    "ALICLOUD_SECURITY_TOKEN",
    "ALICLOUD_ACCESS_KEY",
    "ALICLOUD_SECRET_KEY",
    "ACCESS_KEY_ID",
    "ACCESS_KEY_SECRET",
    "SECURITY_TOKEN",
    "ALIBABACLOUD_PROFILE",
    "ALICLOUD_PROFILE",
];
/// The OIDC role step's role ARN.
pub const ROLE_ARN_VAR: &str = "ALIBABA_CLOUD_ROLE_ARN";
/// The OIDC role step's identity provider ARN.
pub const OIDC_PROVIDER_ARN_VAR: &str = "ALIBABA_CLOUD_OIDC_PROVIDER_ARN";
/// The OIDC role step's token file (re-read at every refresh).
pub const OIDC_TOKEN_FILE_VAR: &str = "ALIBABA_CLOUD_OIDC_TOKEN_FILE";
/// The OIDC role step's optional session name.
pub const ROLE_SESSION_NAME_VAR: &str = "ALIBABA_CLOUD_ROLE_SESSION_NAME";
/// Overrides the CLI config path; the name credentials-go's CLI-profile provider reads.
pub const CONFIG_FILE_VAR: &str = "ALIBABA_CLOUD_CONFIG_FILE";
/// `true` skips the CLI config file in the chain.
pub const CLI_PROFILE_DISABLED_VAR: &str = "ALIBABA_CLOUD_CLI_PROFILE_DISABLED";
/// The credentials ini file, instead of `~/.alibabacloud/credentials.ini` or `credentials`.
pub const CREDENTIALS_FILE_VAR: &str = "ALIBABA_CLOUD_CREDENTIALS_FILE";
/// `true` skips the ECS metadata step of the chain.
pub const ECS_METADATA_DISABLED_VAR: &str = "ALIBABA_CLOUD_ECS_METADATA_DISABLED";
/// The ECS RAM role name, when known (skips discovery; a failure then stops the chain).
pub const ECS_ROLE_VAR: &str = "ALIBABA_CLOUD_ECS_METADATA";
/// `true` forbids the ECS metadata reads without an IMDSv2 token.
pub const IMDSV1_DISABLED_VAR: &str = "ALIBABA_CLOUD_IMDSV1_DISABLED";
/// A local credentials service, the last step of the chain.
pub const CREDENTIALS_URI_VAR: &str = "ALIBABA_CLOUD_CREDENTIALS_URI";

/// Where the credentials came from (safe to print).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Source {
    /// The environment step (`ALIBABA_CLOUD_ACCESS_KEY_ID` and its secret).
    Environment {
        /// Name of the variable that held the AccessKeyId.
        variable: &'static str,
    },
    /// The OIDC role step: AssumeRoleWithOIDC with the token in a file.
    OidcRole {
        /// The role assumed.
        role_arn: String,
        /// The OIDC identity provider.
        provider_arn: String,
        /// The token file.
        token_file: PathBuf,
    },
    /// A profile of the aliyun CLI config file.
    Profile {
        /// Profile name.
        name: String,
        /// The config file.
        path: PathBuf,
    },
    /// A profile whose mode obtains temporary credentials (RamRoleArn, EcsRamRole,
    /// ChainableRamRoleArn, OIDC).
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
    /// A section of the credentials ini file.
    CredentialsFile {
        /// The file.
        path: PathBuf,
        /// The section.
        section: String,
        /// Its `type`.
        kind: String,
        /// The role ARN or ECS role name, for the types that assume one.
        role: Option<String>,
    },
    /// The ECS instance's RAM role, from the metadata service.
    EcsMetadata {
        /// The role name, when given by `ALIBABA_CLOUD_ECS_METADATA`.
        role: Option<String>,
    },
    /// `ALIBABA_CLOUD_CREDENTIALS_URI` (shown without its query, which may carry a secret).
    CredentialsUri {
        /// Scheme, host, port and path.
        uri: String,
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
    /// The chain's steps in order, up to the one that was used.
    pub trace: Vec<Attempt>,
    /// Variables of other tools' families that are set and were not read.
    pub ignored: Vec<&'static str>,
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
            Source::OidcRole {
                role_arn,
                token_file,
                ..
            } => write!(
                f,
                "OIDC role {role_arn} (token file {})",
                token_file.display()
            ),
            Source::Profile { name, path } => {
                write!(f, "profile {name} of {}", path.display())
            }
            Source::ProfileRole {
                name,
                path,
                mode,
                role,
            } => write!(f, "profile {name} of {} ({mode} {role})", path.display()),
            Source::CredentialsFile {
                path,
                section,
                kind,
                role,
            } => {
                write!(f, "section [{section}] of {} ({kind}", path.display())?;
                match role {
                    Some(role) => write!(f, " {role})"),
                    None => write!(f, ")"),
                }
            }
            Source::EcsMetadata { role: Some(role) } => {
                write!(f, "ECS instance RAM role {role} (metadata service)")
            }
            Source::EcsMetadata { role: None } => {
                write!(f, "ECS instance RAM role (metadata service)")
            }
            Source::CredentialsUri { uri } => write!(f, "credentials URI {uri}"),
        }
    }
}

/// Why no usable credentials were found.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum CredentialsError {
    /// Every step of the chain was tried and none is configured.
    #[error("no credentials found")]
    #[diagnostic(
        code(grantguard::credentials::missing),
        help("{tried}\nset ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET (optionally ALIBABA_CLOUD_SECURITY_TOKEN), write ~/.alibabacloud/credentials.ini, or pass --profile NAME for a profile of ~/.aliyun/config.json (docs/credentials.md){ignored}")
    )]
    Missing {
        /// One line per step: why it was skipped.
        tried: String,
        /// A sentence naming the other families' variables that are set, or empty.
        ignored: String,
    },
    /// Part of the environment step is set, the rest is not.
    #[error("{present} is set but {missing} is not")]
    #[diagnostic(
        code(grantguard::credentials::incomplete_environment),
        help("set both ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, or unset ALIBABA_CLOUD_ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET and ALIBABA_CLOUD_SECURITY_TOKEN to go on to the next step")
    )]
    IncompleteEnvironment {
        /// The variable that was found.
        present: &'static str,
        /// The one missing.
        missing: &'static str,
    },
    /// Some of the OIDC role step's three variables are set, not all.
    #[error("{set} set but {missing} not: the OIDC role step needs all three")]
    #[diagnostic(
        code(grantguard::credentials::incomplete_oidc),
        help("set ALIBABA_CLOUD_ROLE_ARN, ALIBABA_CLOUD_OIDC_PROVIDER_ARN and ALIBABA_CLOUD_OIDC_TOKEN_FILE together, or unset them all to go on to the next step")
    )]
    IncompleteOidc {
        /// The variables set.
        set: String,
        /// The variables missing.
        missing: String,
    },
    /// A configured step of the chain failed; the chain stops there.
    #[error("credentials step {number} ({step}) is configured but failed: {reason}")]
    #[diagnostic(code(grantguard::credentials::step_failed), help("{help}"))]
    StepFailed {
        /// 1-based position in the chain.
        number: usize,
        /// The step, as whoami names it.
        step: Step,
        /// What failed (never a secret).
        reason: String,
        /// How to fix it, and how to skip the step.
        help: String,
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
        help("supported modes: AK, StsToken, RamRoleArn, EcsRamRole, ChainableRamRoleArn, OIDC; or export the keys in ALIBABA_CLOUD_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_SECRET / ALIBABA_CLOUD_SECURITY_TOKEN")
    )]
    UnsupportedMode {
        /// The profile.
        profile: String,
        /// Its mode.
        mode: String,
    },
    /// The credentials file's section has a `type` grantguard does not support.
    #[error("section [{section}] of {} has type {kind}, which grantguard does not support", path.display())]
    #[diagnostic(
        code(grantguard::credentials::unsupported_type),
        help("supported types: access_key, sts, ram_role_arn, ecs_ram_role, oidc_role_arn")
    )]
    UnsupportedType {
        /// The file.
        path: PathBuf,
        /// The section.
        section: String,
        /// Its `type` (`(none)` when missing).
        kind: String,
    },
    /// A section of the credentials file lacks a key its type needs.
    #[error("section [{section}] of {} (type {kind}) has no {field}", path.display())]
    #[diagnostic(
        code(grantguard::credentials::section_incomplete),
        help("add `{field} = …` to the section")
    )]
    SectionIncomplete {
        /// The file.
        path: PathBuf,
        /// The section.
        section: String,
        /// Its `type`.
        kind: String,
        /// The empty or missing key.
        field: &'static str,
    },
    /// The credentials file is not an ini file. Its text is not shown: it holds secrets.
    #[error("{} is not a valid credentials ini file: {message}", path.display())]
    #[diagnostic(code(grantguard::credentials::credentials_file_invalid))]
    CredentialsFileInvalid {
        /// The file.
        path: PathBuf,
        /// What is wrong and where, without values.
        message: String,
    },
    /// `ALIBABA_CLOUD_CREDENTIALS_FILE` names a file that does not exist.
    #[error("ALIBABA_CLOUD_CREDENTIALS_FILE names {}, which does not exist", path.display())]
    #[diagnostic(
        code(grantguard::credentials::credentials_file_missing),
        help("fix the path, or unset ALIBABA_CLOUD_CREDENTIALS_FILE")
    )]
    CredentialsFileMissing {
        /// The path named.
        path: PathBuf,
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
    /// An STS, metadata or credentials URI endpoint that is not allowed.
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
    /// STS, the metadata service or the credentials URI did not hand out credentials.
    #[error("{service} failed: {message}")]
    #[diagnostic(
        code(grantguard::credentials::exchange),
        help("check the role ARN and that the source identity may assume it, or that a RAM role is attached to this ECS instance; `grantguard whoami` shows which source is used")
    )]
    Exchange {
        /// `STS AssumeRole`, `STS AssumeRoleWithOIDC`, `ECS metadata` or `credentials URI`.
        service: &'static str,
        /// What happened (never a secret, a token or a signed URL).
        message: String,
    },
    /// Nothing answers at the metadata address, or no role is attached: not an ECS instance
    /// with a RAM role. The chain skips the step unless a role name was configured.
    #[error("ECS metadata: {message}")]
    #[diagnostic(
        code(grantguard::credentials::no_instance_role),
        help("on an ECS instance, attach a RAM role to it; elsewhere set ALIBABA_CLOUD_ECS_METADATA_DISABLED=true")
    )]
    MetadataAbsent {
        /// What was seen.
        message: String,
    },
    /// A source names an ECS RAM role while `ALIBABA_CLOUD_ECS_METADATA_DISABLED=true` turns
    /// the metadata service off (the official libraries refuse the same).
    #[error("{what} needs the ECS metadata service, which ALIBABA_CLOUD_ECS_METADATA_DISABLED=true turns off")]
    #[diagnostic(
        code(grantguard::credentials::metadata_disabled),
        help("unset ALIBABA_CLOUD_ECS_METADATA_DISABLED, or choose a source that is not an ECS RAM role")
    )]
    MetadataDisabled {
        /// The profile or section.
        what: String,
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

/// The parts of `~/.aliyun/config.json` grantguard reads (docs/credentials.md).
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
    role_session_name: String,
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
    #[serde(default)]
    oidc_provider_arn: String,
    #[serde(default)]
    oidc_token_file: String,
}

/// The chain without its network steps: `--profile NAME` if given, else the environment, the
/// OIDC role, the CLI profile and the credentials file, in that order; the first that is
/// configured decides. A source that needs STS or the metadata service is
/// [`CredentialsError::ExchangeNeeded`]: [`resolve_chain`] handles those. `env` looks up one
/// variable; `home` is the user's home directory.
pub fn resolve(
    profile: Option<&str>,
    env: &impl Fn(&str) -> Option<String>,
    home: Option<&Path>,
) -> Result<Resolved, CredentialsError> {
    chain::resolve_offline(profile, env, home)
}

/// The full chain (docs/credentials.md): `--profile NAME` alone when given; else environment,
/// OIDC role, CLI profile (unless `ALIBABA_CLOUD_CLI_PROFILE_DISABLED=true`), credentials
/// file, ECS instance RAM role (unless `ALIBABA_CLOUD_ECS_METADATA_DISABLED=true`),
/// credentials URI. Temporary credentials are fetched now and come with a [`Refresher`].
pub async fn resolve_chain(
    profile: Option<&str>,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
    home: Option<&Path>,
) -> Result<Resolved, CredentialsError> {
    chain::resolve(profile, env, home).await
}

/// `true` as the official libraries read their switches: case-insensitive, nothing else.
fn is_true(value: Option<String>) -> bool {
    value.is_some_and(|v| v.eq_ignore_ascii_case("true"))
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
            trace: Vec::new(),
            ignored: Vec::new(),
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

/// The value of `name` when set and not empty (the official libraries treat both alike).
fn non_empty(env: &impl Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    env(name).filter(|v| !v.is_empty())
}

/// The aliyun CLI config file: `ALIBABA_CLOUD_CONFIG_FILE`, else `~/.aliyun/config.json`.
fn config_path(env: &impl Fn(&str) -> Option<String>, home: Option<&Path>) -> Option<PathBuf> {
    non_empty(env, CONFIG_FILE_VAR)
        .map(PathBuf::from)
        .or_else(|| home.map(|h| h.join(".aliyun").join("config.json")))
}

/// Reads and parses the CLI config file at `path` (permissions checked first).
fn read_config(path: &Path) -> Result<(ConfigFile, Vec<String>), CredentialsError> {
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
    Ok((config, warnings))
}

/// The planned source of `found`, a profile of the config at `path`.
fn planned_profile(
    config: &ConfigFile,
    found: &Profile,
    path: &Path,
    warnings: Vec<String>,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Planned, CredentialsError> {
    let plan = profile_plan(config, found, path, env, &mut Vec::new())?;
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

/// Reads the profile `name` from the config file at `path` (`--profile NAME`: every problem
/// is an error, since the operator named it).
fn from_profile(
    name: &str,
    path: Option<&Path>,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Planned, CredentialsError> {
    let Some(path) = path else {
        return Err(CredentialsError::ConfigMissing {
            profile: name.to_owned(),
            path: PathBuf::from("~/.aliyun/config.json"),
        });
    };
    if !path.exists() {
        return Err(CredentialsError::ConfigMissing {
            profile: name.to_owned(),
            path: path.to_owned(),
        });
    }
    let (config, warnings) = read_config(path)?;
    let found = find_profile(&config, name, path)?;
    planned_profile(&config, found, path, warnings, env)
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
                providers::DEFAULT_SESSION_NAME.to_owned()
            } else {
                profile.ram_session_name.clone()
            },
            policy: None,
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
        "ecsramrole" if is_true(env(ECS_METADATA_DISABLED_VAR)) => {
            Err(CredentialsError::MetadataDisabled {
                what: format!("profile {} (mode {})", profile.name, profile.mode),
            })
        }
        "ecsramrole" => Ok(Plan::Ecs {
            role: Some(profile.ram_role_name.clone()).filter(|r| !r.is_empty()),
            endpoint: providers::ecs_endpoint(env)?,
            imds_v1: !is_true(env(IMDSV1_DISABLED_VAR)),
        }),
        "oidc" => Ok(Plan::Oidc(Box::new(providers::OidcRole {
            role_arn: require(&profile.ram_role_arn, "ram_role_arn")?,
            provider_arn: require(&profile.oidc_provider_arn, "oidc_provider_arn")?,
            token_file: PathBuf::from(require(&profile.oidc_token_file, "oidc_token_file")?),
            // The CLI names it ram_session_name, the Python library role_session_name.
            session_name: [&profile.ram_session_name, &profile.role_session_name]
                .into_iter()
                .find(|n| !n.is_empty())
                .cloned()
                .unwrap_or_else(|| providers::DEFAULT_SESSION_NAME.to_owned()),
            duration_secs: profile.expired_seconds.unwrap_or(3600).max(900),
            endpoint: providers::sts_endpoint(env, Some(&profile.sts_region))?,
        }))),
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

    /// Regression (issue 14): generic and older names formed the environment step, mixing an id
    /// of one family with a secret of another and attaching a stray SECURITY_TOKEN.
    #[test]
    fn only_the_official_names_form_the_environment_step() {
        let home = home_with(CONFIG, 0o600);
        let env = env_of(&[
            ("ALICLOUD_ACCESS_KEY_ID", "LTAIalicloud"),
            ("ACCESS_KEY_SECRET", "generic-secret"),
            ("SECURITY_TOKEN", "stray"),
        ]);
        let r = resolve(None, &env, Some(home.path())).unwrap();
        assert_eq!(r.credentials.access_key_id, "LTAIdefault0001");
        assert!(!r.credentials.has_security_token());
        assert!(matches!(r.source, Source::Profile { ref name, .. } if name == "default"));
        assert_eq!(
            r.ignored,
            [
                "ALICLOUD_ACCESS_KEY_ID",
                "ACCESS_KEY_SECRET",
                "SECURITY_TOKEN"
            ]
        );
        assert!(r.warnings.iter().any(|w| w.contains("SECURITY_TOKEN")));

        let env = env_of(&[
            ("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIenv00099"),
            ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "s3cret"),
            ("ALIBABA_CLOUD_SECURITY_TOKEN", ""),
        ]);
        let r = resolve(None, &env, Some(home.path())).unwrap();
        assert_eq!(r.credentials.access_key_id, "LTAIenv00099");
        assert!(!r.credentials.has_security_token(), "empty is unset");
        assert_eq!(
            r.source,
            Source::Environment {
                variable: "ALIBABA_CLOUD_ACCESS_KEY_ID"
            }
        );
    }

    #[test]
    fn half_an_access_key_or_a_lone_token_stops_the_chain() {
        for (name, named) in [
            (
                "ALIBABA_CLOUD_ACCESS_KEY_ID",
                "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
            ),
            (
                "ALIBABA_CLOUD_SECURITY_TOKEN",
                "ALIBABA_CLOUD_ACCESS_KEY_ID",
            ),
        ] {
            let env = env_of(&[(name, "x")]);
            let err = resolve(None, &env, None).unwrap_err();
            let CredentialsError::StepFailed {
                number: 1,
                step: Step::Environment,
                ref reason,
                ref help,
            } = err
            else {
                panic!("{err:?}");
            };
            assert!(reason.contains(named), "{reason}");
            assert!(help.contains("unset ALIBABA_CLOUD_ACCESS_KEY_ID"), "{help}");
        }
    }

    #[test]
    fn nothing_at_all_lists_the_variables_and_profile_flag() {
        let home = tempfile::tempdir().unwrap();
        let err = resolve(None, &env_of(&[]), Some(home.path())).unwrap_err();
        assert!(matches!(err, CredentialsError::Missing { .. }));
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
        let env = env_of(&[("ALIBABA_CLOUD_PROFILE", "sts")]);
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

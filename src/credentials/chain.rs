//! The default chain's steps in order, each located, then (for temporary credentials)
//! exchanged, with a record of every step tried for `whoami`. In: `--profile`, the
//! environment lookup and the home directory. Out: [`Resolved`] with its trace, or the error
//! of the first configured step that failed (the chain stops there, docs/credentials.md).

use super::{
    config_path, find_profile, from_profile, ini_file, is_true, non_empty, planned_profile,
    providers, read_config, CredentialsError, Plan, Planned, Resolved, Source,
};
use super::{
    ACCESS_KEY_ID_VAR, ACCESS_KEY_SECRET_VAR, CLI_PROFILE_DISABLED_VAR, CREDENTIALS_URI_VAR,
    ECS_METADATA_DISABLED_VAR, ECS_ROLE_VAR, IGNORED_VARS, IMDSV1_DISABLED_VAR,
    OIDC_PROVIDER_ARN_VAR, OIDC_TOKEN_FILE_VAR, PROFILE_VAR, ROLE_ARN_VAR, ROLE_SESSION_NAME_VAR,
    SECURITY_TOKEN_VAR,
};
use crate::client::Endpoint;
use std::path::{Path, PathBuf};

/// One step of the chain, in the official order; `ProfileFlag` replaces them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// `--profile NAME`: that profile of the aliyun CLI config, nothing else.
    ProfileFlag,
    /// `ALIBABA_CLOUD_ACCESS_KEY_ID`, `_SECRET`, optional `ALIBABA_CLOUD_SECURITY_TOKEN`.
    Environment,
    /// `ALIBABA_CLOUD_ROLE_ARN`, `_OIDC_PROVIDER_ARN`, `_OIDC_TOKEN_FILE` → AssumeRoleWithOIDC.
    OidcRole,
    /// The aliyun CLI config file's `ALIBABA_CLOUD_PROFILE` or current profile.
    CliProfile,
    /// The credentials ini file's `ALIBABA_CLOUD_PROFILE` or `default` section.
    CredentialsFile,
    /// The ECS instance's RAM role from the metadata service.
    EcsRamRole,
    /// `ALIBABA_CLOUD_CREDENTIALS_URI`.
    CredentialsUri,
}

/// The steps without `--profile`, in order.
pub const CHAIN: [Step; 6] = [
    Step::Environment,
    Step::OidcRole,
    Step::CliProfile,
    Step::CredentialsFile,
    Step::EcsRamRole,
    Step::CredentialsUri,
];

impl Step {
    /// The step's name in `whoami --format json`.
    pub fn id(self) -> &'static str {
        match self {
            Step::ProfileFlag => "profile_flag",
            Step::Environment => "environment",
            Step::OidcRole => "oidc_role",
            Step::CliProfile => "cli_profile",
            Step::CredentialsFile => "credentials_file",
            Step::EcsRamRole => "ecs_ram_role",
            Step::CredentialsUri => "credentials_uri",
        }
    }

    /// How to go past the step when it is configured but should not be used.
    fn skip(self) -> &'static str {
        match self {
            Step::ProfileFlag => "fix the profile, or drop --profile to use the default chain",
            Step::Environment => "to go on to the next step, unset ALIBABA_CLOUD_ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET and ALIBABA_CLOUD_SECURITY_TOKEN",
            Step::OidcRole => "to skip this step, unset ALIBABA_CLOUD_ROLE_ARN, ALIBABA_CLOUD_OIDC_PROVIDER_ARN and ALIBABA_CLOUD_OIDC_TOKEN_FILE",
            Step::CliProfile => "to skip this step, set ALIBABA_CLOUD_CLI_PROFILE_DISABLED=true",
            Step::CredentialsFile => "to skip this step, remove the section, or point ALIBABA_CLOUD_CREDENTIALS_FILE at another file",
            Step::EcsRamRole => "to skip this step, set ALIBABA_CLOUD_ECS_METADATA_DISABLED=true",
            Step::CredentialsUri => "to skip this step, unset ALIBABA_CLOUD_CREDENTIALS_URI",
        }
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Step::ProfileFlag => "--profile",
            Step::Environment => "environment",
            Step::OidcRole => "OIDC role",
            Step::CliProfile => "aliyun CLI profile",
            Step::CredentialsFile => "credentials file",
            Step::EcsRamRole => "ECS instance RAM role",
            Step::CredentialsUri => "credentials URI",
        })
    }
}

/// What became of one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Not configured here; the chain went on.
    Skipped,
    /// This step's credentials are the ones used.
    Used,
}

/// One step tried, for `whoami`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The step.
    pub step: Step,
    /// Skipped or used.
    pub outcome: Outcome,
    /// Why it was skipped, or what it read (never a secret).
    pub detail: String,
}

/// A step, located without any network exchange.
pub(super) enum Located {
    Found(Box<Planned>),
    Skipped(String),
}

/// Finds what `step` is configured with. An error means the step is configured but broken.
fn locate(
    step: Step,
    profile: Option<&str>,
    env: &impl Fn(&str) -> Option<String>,
    home: Option<&Path>,
) -> Result<Located, CredentialsError> {
    let found = |planned: Planned| Ok(Located::Found(Box::new(planned)));
    match step {
        Step::ProfileFlag => {
            let name = profile.unwrap_or_default();
            found(from_profile(name, config_path(env, home).as_deref(), env)?)
        }
        Step::Environment => environment(env),
        Step::OidcRole => oidc_role(env),
        Step::CliProfile => cli_profile(env, home),
        Step::CredentialsFile => ini_file::locate(env, home),
        Step::EcsRamRole => {
            if is_true(env(ECS_METADATA_DISABLED_VAR)) {
                return Ok(Located::Skipped(format!(
                    "{ECS_METADATA_DISABLED_VAR} is true"
                )));
            }
            let role = non_empty(env, ECS_ROLE_VAR);
            found(Planned {
                plan: Plan::Ecs {
                    role: role.clone(),
                    endpoint: providers::ecs_endpoint(env)?,
                    imds_v1: !is_true(env(IMDSV1_DISABLED_VAR)),
                },
                source: Source::EcsMetadata { role },
                region: None,
                warnings: Vec::new(),
                profile: None,
                mode: "EcsRamRole".into(),
            })
        }
        Step::CredentialsUri => {
            let Some(uri) = non_empty(env, CREDENTIALS_URI_VAR) else {
                return Ok(Located::Skipped(format!(
                    "{CREDENTIALS_URI_VAR} is not set"
                )));
            };
            let endpoint = Endpoint::parse(&uri).map_err(|e| CredentialsError::BadEndpoint {
                variable: CREDENTIALS_URI_VAR,
                message: e.to_string(),
            })?;
            let mut shown = endpoint.url.clone();
            shown.set_query(None);
            found(Planned {
                plan: Plan::Uri(endpoint.url),
                source: Source::CredentialsUri {
                    uri: shown.to_string(),
                },
                region: None,
                warnings: Vec::new(),
                profile: None,
                mode: "CredentialsURI".into(),
            })
        }
    }
}

/// The environment step: both halves of the key, or neither; a token alone is an error too
/// (it would otherwise be attached to whatever key a later step finds).
fn environment(env: &impl Fn(&str) -> Option<String>) -> Result<Located, CredentialsError> {
    let id = non_empty(env, ACCESS_KEY_ID_VAR);
    let secret = non_empty(env, ACCESS_KEY_SECRET_VAR);
    let token = non_empty(env, SECURITY_TOKEN_VAR);
    let planned = match (id, secret) {
        (Some(id), Some(secret)) => Planned {
            plan: Plan::Static(super::Credentials::new(id, secret, token)),
            source: Source::Environment {
                variable: ACCESS_KEY_ID_VAR,
            },
            region: None,
            warnings: Vec::new(),
            profile: None,
            mode: "environment".into(),
        },
        (Some(_), None) => {
            return Err(CredentialsError::IncompleteEnvironment {
                present: ACCESS_KEY_ID_VAR,
                missing: ACCESS_KEY_SECRET_VAR,
            })
        }
        (None, Some(_)) => {
            return Err(CredentialsError::IncompleteEnvironment {
                present: ACCESS_KEY_SECRET_VAR,
                missing: ACCESS_KEY_ID_VAR,
            })
        }
        (None, None) if token.is_some() => {
            return Err(CredentialsError::IncompleteEnvironment {
                present: SECURITY_TOKEN_VAR,
                missing: ACCESS_KEY_ID_VAR,
            })
        }
        (None, None) => {
            return Ok(Located::Skipped(format!(
                "{ACCESS_KEY_ID_VAR} and {ACCESS_KEY_SECRET_VAR} are not set"
            )))
        }
    };
    Ok(Located::Found(Box::new(planned)))
}

/// The OIDC role step: all three variables, or none.
fn oidc_role(env: &impl Fn(&str) -> Option<String>) -> Result<Located, CredentialsError> {
    let names = [ROLE_ARN_VAR, OIDC_PROVIDER_ARN_VAR, OIDC_TOKEN_FILE_VAR];
    let [role_arn, provider_arn, token_file] = names.map(|n| non_empty(env, n));
    let (Some(role_arn), Some(provider_arn), Some(token_file)) =
        (role_arn, provider_arn, token_file)
    else {
        let (set, missing): (Vec<&str>, Vec<&str>) =
            names.iter().partition(|n| non_empty(env, n).is_some());
        if set.is_empty() {
            return Ok(Located::Skipped(format!(
                "{ROLE_ARN_VAR}, {OIDC_PROVIDER_ARN_VAR} and {OIDC_TOKEN_FILE_VAR} are not set"
            )));
        }
        return Err(CredentialsError::IncompleteOidc {
            set: set.join(", "),
            missing: missing.join(", "),
        });
    };
    let token_file = PathBuf::from(token_file);
    Ok(Located::Found(Box::new(Planned {
        plan: Plan::Oidc(Box::new(providers::OidcRole {
            role_arn: role_arn.clone(),
            provider_arn: provider_arn.clone(),
            token_file: token_file.clone(),
            session_name: non_empty(env, ROLE_SESSION_NAME_VAR)
                .unwrap_or_else(|| providers::DEFAULT_SESSION_NAME.to_owned()),
            duration_secs: 3600,
            endpoint: providers::sts_endpoint(env, None)?,
        })),
        source: Source::OidcRole {
            role_arn,
            provider_arn,
            token_file,
        },
        region: None,
        warnings: Vec::new(),
        profile: None,
        mode: "OIDC".into(),
    })))
}

/// The CLI profile step: skipped when disabled, when the file is absent, or when the profile
/// it would use is not in the file (`ALIBABA_CLOUD_PROFILE` may name a section of the
/// credentials file instead). A profile that is there but unusable is an error.
fn cli_profile(
    env: &impl Fn(&str) -> Option<String>,
    home: Option<&Path>,
) -> Result<Located, CredentialsError> {
    if is_true(env(CLI_PROFILE_DISABLED_VAR)) {
        return Ok(Located::Skipped(format!(
            "{CLI_PROFILE_DISABLED_VAR} is true"
        )));
    }
    let Some(path) = config_path(env, home).filter(|p| p.exists()) else {
        return Ok(Located::Skipped("no aliyun CLI config file".into()));
    };
    let (config, warnings) = read_config(&path)?;
    let (name, from) = match non_empty(env, PROFILE_VAR) {
        Some(name) => (name, PROFILE_VAR),
        None => (config.current.clone(), "its current profile"),
    };
    if name.is_empty() {
        return Ok(Located::Skipped(format!(
            "{} names no current profile",
            path.display()
        )));
    }
    if find_profile(&config, &name, &path).is_err() {
        return Ok(Located::Skipped(format!(
            "{} has no profile {name} ({from})",
            path.display()
        )));
    }
    let found = find_profile(&config, &name, &path)?;
    let planned = planned_profile(&config, found, &path, warnings, env)?;
    Ok(Located::Found(Box::new(planned)))
}

/// The set variables of other tools' families, which are not read.
fn ignored(env: &impl Fn(&str) -> Option<String>) -> Vec<&'static str> {
    IGNORED_VARS
        .into_iter()
        .filter(|name| non_empty(env, name).is_some())
        .collect()
}

fn ignored_warning(ignored: &[&'static str]) -> Option<String> {
    (!ignored.is_empty()).then(|| {
        format!(
            "{} set but not read: grantguard reads only the ALIBABA_CLOUD_* names (docs/credentials.md)",
            ignored.join(", ")
        )
    })
}

/// A configured step failed: the chain stops, saying which step, why, and how to skip it.
fn stopped(number: usize, step: Step, error: CredentialsError) -> CredentialsError {
    if step == Step::ProfileFlag {
        return error;
    }
    let fix = miette::Diagnostic::help(&error)
        .map(|h| format!("{h}\n"))
        .unwrap_or_default();
    CredentialsError::StepFailed {
        number,
        step,
        reason: error.to_string(),
        help: format!(
            "{fix}{}; grantguard stops here instead of trying the next step (the official libraries go on), because the next step could sign as another identity; --profile NAME bypasses the chain",
            step.skip()
        ),
    }
}

fn steps(profile: Option<&str>) -> &'static [Step] {
    if profile.is_some() {
        &[Step::ProfileFlag]
    } else {
        &CHAIN
    }
}

fn missing(trace: &[Attempt], ignored: &[&'static str]) -> CredentialsError {
    let tried = trace
        .iter()
        .enumerate()
        .map(|(i, a)| format!("{}. {}: {}", i + 1, a.step, a.detail))
        .collect::<Vec<_>>()
        .join("\n");
    CredentialsError::Missing {
        tried: format!("steps tried:\n{tried}"),
        ignored: ignored_warning(ignored)
            .map(|w| format!("\nnote: {w}"))
            .unwrap_or_default(),
    }
}

fn finish(mut resolved: Resolved, trace: Vec<Attempt>, ignored: Vec<&'static str>) -> Resolved {
    // Shown by the caller with the other warnings (whoami prints them, commands on stderr).
    if let Some(warning) = ignored_warning(&ignored) {
        resolved.warnings.push(warning);
    }
    resolved.trace = trace;
    resolved.ignored = ignored;
    resolved
}

fn used(step: Step, planned: &Planned) -> Attempt {
    let detail = match (&planned.source, &planned.plan) {
        (Source::Environment { .. }, Plan::Static(key)) if key.has_security_token() => {
            format!("{ACCESS_KEY_ID_VAR}, {ACCESS_KEY_SECRET_VAR} and {SECURITY_TOKEN_VAR}")
        }
        (Source::Environment { .. }, _) => {
            format!("{ACCESS_KEY_ID_VAR} and {ACCESS_KEY_SECRET_VAR}")
        }
        (source, _) => source.to_string(),
    };
    Attempt {
        step,
        outcome: Outcome::Used,
        detail,
    }
}

/// The chain up to the first step that needs a network exchange (see [`super::resolve`]).
pub(super) fn resolve_offline(
    profile: Option<&str>,
    env: &impl Fn(&str) -> Option<String>,
    home: Option<&Path>,
) -> Result<Resolved, CredentialsError> {
    let ignored = ignored(env);
    let mut trace = Vec::new();
    for (i, &step) in steps(profile).iter().enumerate() {
        if matches!(step, Step::EcsRamRole | Step::CredentialsUri) {
            break;
        }
        match locate(step, profile, env, home).map_err(|e| stopped(i + 1, step, e))? {
            Located::Skipped(detail) => trace.push(Attempt {
                step,
                outcome: Outcome::Skipped,
                detail,
            }),
            Located::Found(planned) => {
                let Plan::Static(credentials) = &planned.plan else {
                    return Err(CredentialsError::ExchangeNeeded {
                        profile: planned.profile.unwrap_or_else(|| step.to_string()),
                        mode: planned.mode,
                    });
                };
                trace.push(used(step, &planned));
                let credentials = credentials.clone();
                return Ok(finish(
                    planned.into_resolved(credentials, None, None),
                    trace,
                    ignored,
                ));
            }
        }
    }
    Err(missing(&trace, &ignored))
}

/// The whole chain, exchanges included (see [`super::resolve_chain`]).
pub(super) async fn resolve(
    profile: Option<&str>,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
    home: Option<&Path>,
) -> Result<Resolved, CredentialsError> {
    let ignored = ignored(&env);
    let mut trace = Vec::new();
    for (i, &step) in steps(profile).iter().enumerate() {
        let planned =
            match locate(step, profile, &env, home).map_err(|e| stopped(i + 1, step, e))? {
                Located::Skipped(detail) => {
                    trace.push(Attempt {
                        step,
                        outcome: Outcome::Skipped,
                        detail,
                    });
                    continue;
                }
                Located::Found(planned) => *planned,
            };
        if let Plan::Static(credentials) = &planned.plan {
            trace.push(used(step, &planned));
            let credentials = credentials.clone();
            let resolved = planned.into_resolved(credentials, None, None);
            return Ok(finish(resolved, trace, ignored));
        }
        match providers::fetch(&planned.plan).await {
            Ok(issued) => {
                trace.push(used(step, &planned));
                return Ok(finish(planned.with_issued(issued), trace, ignored));
            }
            // Off ECS, or no role attached, and no role name configured: not this step.
            Err(CredentialsError::MetadataAbsent { message })
                if step == Step::EcsRamRole
                    && matches!(planned.plan, Plan::Ecs { role: None, .. }) =>
            {
                tracing::debug!("ECS metadata step of the chain: {message}");
                trace.push(Attempt {
                    step,
                    outcome: Outcome::Skipped,
                    detail: message,
                });
            }
            Err(e) => return Err(stopped(i + 1, step, e)),
        }
    }
    Err(missing(&trace, &ignored))
}

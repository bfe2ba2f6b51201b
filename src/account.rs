//! Which account, region and endpoint a command talks to, and `grantguard whoami`. In: the
//! resolved [`Settings`], an environment lookup (for the credential chain and the per-region
//! endpoint variables) and the home directory.
//! Out: a [`Target`] (credentials, where they came from, region and its origin, endpoint).
//! It never prints, logs or returns the secret or the STS token: [`describe`] shows the
//! AccessKeyId masked to its last 4 characters.

use crate::client::Endpoint;
use crate::credentials::{self, Outcome, Resolved, Source};
use crate::settings::Settings;
use crate::Error;
use std::path::Path;

/// Everything needed to build a client, plus where each part came from.
#[derive(Debug)]
pub struct Target {
    /// The credentials and their source.
    pub resolved: Resolved,
    /// The region id.
    pub region: String,
    /// Where the region came from (`--region`, a variable, the config file, a profile).
    pub region_origin: String,
    /// The API endpoint.
    pub endpoint: Endpoint,
    /// Where the endpoint came from (a variable, `--endpoint`, or the region's default).
    pub endpoint_origin: String,
}

/// Resolves credentials, region and endpoint. The region is the one `settings` decided (flag,
/// environment or config file), else the credentials' profile's `region_id`.
pub async fn target(
    settings: &Settings,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
    home: Option<&Path>,
) -> Result<Target, Error> {
    let profile = settings.profile.as_ref().map(|p| p.value.as_str());
    let resolved = credentials::resolve_chain(profile, env, home).await?;
    let (region, region_origin) = if let Some(region) = &settings.region {
        (region.value.clone(), region.source.to_string())
    } else if let Some(region) = &resolved.region {
        let origin = match &resolved.source {
            Source::Profile { name, .. } | Source::ProfileRole { name, .. } => {
                format!("profile {name}")
            }
            other => other.to_string(),
        };
        (region.clone(), origin)
    } else {
        return Err(Error::MissingRegion);
    };
    // A region's own variable (GRANTGUARD_ENDPOINT_CN_HANGZHOU) wins: it is how tests and
    // emulators serve several regions, one endpoint each.
    let region_var = crate::regions::endpoint_var(&region);
    let (endpoint, endpoint_origin) = match (env(&region_var), &settings.endpoint) {
        (Some(url), _) => (Endpoint::parse(&url)?, region_var),
        (None, Some(url)) => (Endpoint::parse(&url.value)?, url.source.to_string()),
        (None, None) => (
            Endpoint::for_region(&region)?,
            "the region's public endpoint".to_owned(),
        ),
    };
    Ok(Target {
        resolved,
        region,
        region_origin,
        endpoint,
        endpoint_origin,
    })
}

/// The `whoami` text: source, masked key, whether an STS token is used, region, endpoint,
/// then the chain's steps in order.
pub fn describe(target: &Target) -> String {
    let resolved = &target.resolved;
    let credentials = &resolved.credentials;
    let mut text = String::new();
    text.push_str(&format!("source:       {}\n", resolved.source));
    text.push_str(&format!(
        "access key:   {}{}\n",
        credentials.masked_key_id(),
        if credentials.has_security_token() {
            " (with STS token)"
        } else {
            ""
        }
    ));
    if let Some(expiry) = expiry(resolved) {
        text.push_str(&format!("expires:      {expiry} (refreshed before then)\n"));
    }
    text.push_str(&format!(
        "region:       {} (from {})\n",
        target.region, target.region_origin
    ));
    text.push_str(&format!(
        "endpoint:     {} (from {})\n",
        target.endpoint.url, target.endpoint_origin
    ));
    text.push_str("chain:\n");
    for (i, attempt) in resolved.trace.iter().enumerate() {
        let mark = match attempt.outcome {
            Outcome::Used => "used   ",
            Outcome::Skipped => "skipped",
        };
        text.push_str(&format!(
            "  {}. {mark} {}: {}\n",
            i + 1,
            attempt.step,
            attempt.detail
        ));
    }
    for warning in &resolved.warnings {
        text.push_str(&format!("warning:      {warning}\n"));
    }
    text
}

fn expiry(resolved: &Resolved) -> Option<String> {
    resolved.expires_at.map(|expiry| {
        expiry
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|_| expiry.to_string())
    })
}

/// The `whoami --format json` document (`grantguard.whoami/v1`,
/// schemas/whoami.v1.schema.json): the same facts as [`describe`], with step ids stable for
/// scripts. The key id is masked; it has no field for a secret or a token.
#[derive(Debug, serde::Serialize)]
pub struct WhoamiDocument<'a> {
    schema: &'static str,
    source: SourceField,
    access_key_id: String,
    security_token: bool,
    expires: Option<String>,
    region: Origin<'a>,
    endpoint: Origin<'a>,
    chain: Vec<StepField<'a>>,
    ignored_variables: &'a [&'static str],
    warnings: &'a [String],
}

#[derive(Debug, serde::Serialize)]
struct SourceField {
    step: Option<&'static str>,
    description: String,
}

#[derive(Debug, serde::Serialize)]
struct Origin<'a> {
    value: &'a str,
    from: &'a str,
}

#[derive(Debug, serde::Serialize)]
struct StepField<'a> {
    step: &'static str,
    outcome: &'static str,
    detail: &'a str,
}

/// The `whoami --format json` document of `target`.
pub fn describe_json(target: &Target) -> WhoamiDocument<'_> {
    let resolved = &target.resolved;
    let used = resolved
        .trace
        .iter()
        .find(|a| a.outcome == Outcome::Used)
        .map(|a| a.step.id());
    WhoamiDocument {
        schema: "grantguard.whoami/v1",
        source: SourceField {
            step: used,
            description: resolved.source.to_string(),
        },
        access_key_id: resolved.credentials.masked_key_id(),
        security_token: resolved.credentials.has_security_token(),
        expires: expiry(resolved),
        region: Origin {
            value: &target.region,
            from: &target.region_origin,
        },
        endpoint: Origin {
            value: target.endpoint.url.as_str(),
            from: &target.endpoint_origin,
        },
        chain: resolved
            .trace
            .iter()
            .map(|a| StepField {
                step: a.step.id(),
                outcome: match a.outcome {
                    Outcome::Used => "used",
                    Outcome::Skipped => "skipped",
                },
                detail: &a.detail,
            })
            .collect(),
        ignored_variables: &resolved.ignored,
        warnings: &resolved.warnings,
    }
}

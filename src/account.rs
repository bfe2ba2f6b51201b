//! Which account, region and endpoint a command talks to, and `grantguard whoami`. In: the
//! resolved [`Settings`], an environment lookup (for the credential chain and the per-region
//! endpoint variables) and the home directory.
//! Out: a [`Target`] (credentials, where they came from, region and its origin, endpoint).
//! It never prints, logs or returns the secret or the STS token: [`describe`] shows the
//! AccessKeyId masked to its last 4 characters.

use crate::client::Endpoint;
use crate::credentials::{self, Resolved, Source};
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
    let endpoint = match (
        env(&crate::regions::endpoint_var(&region)),
        &settings.endpoint,
    ) {
        (Some(url), _) => Endpoint::parse(&url)?,
        (None, Some(url)) => Endpoint::parse(&url.value)?,
        (None, None) => Endpoint::for_region(&region)?,
    };
    Ok(Target {
        resolved,
        region,
        region_origin,
        endpoint,
    })
}

/// The `whoami` text: source, masked key, whether an STS token is used, region, endpoint.
pub fn describe(target: &Target) -> String {
    let credentials = &target.resolved.credentials;
    let mut text = String::new();
    text.push_str(&format!("source:       {}\n", target.resolved.source));
    text.push_str(&format!(
        "access key:   {}{}\n",
        credentials.masked_key_id(),
        if credentials.has_security_token() {
            " (with STS token)"
        } else {
            ""
        }
    ));
    if let Some(expiry) = target.resolved.expires_at {
        let stamp = expiry
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|_| expiry.to_string());
        text.push_str(&format!("expires:      {stamp} (refreshed before then)\n"));
    }
    text.push_str(&format!(
        "region:       {} (from {})\n",
        target.region, target.region_origin
    ));
    text.push_str(&format!("endpoint:     {}\n", target.endpoint.url));
    for warning in &target.resolved.warnings {
        text.push_str(&format!("warning:      {warning}\n"));
    }
    text
}

//! Which account, region and endpoint a command talks to, and `grantguard whoami`. In: the
//! account flags, the config file's defaults, an environment lookup and the home directory.
//! Out: a [`Target`] (credentials, where they came from, region and its origin, endpoint).
//! It never prints, logs or returns the secret or the STS token: [`describe`] shows the
//! AccessKeyId masked to its last 4 characters.

use crate::cli::AccountArgs;
use crate::client::Endpoint;
use crate::config::Defaults;
use crate::credentials::{self, Resolved, Source};
use crate::Error;
use std::path::Path;

/// The region variables the aliyun CLI reads, first non-empty wins (reference §6.1).
pub const REGION_VARS: [&str; 3] = [
    "ALIBABA_CLOUD_REGION_ID",
    "ALIBABACLOUD_REGION_ID",
    "ALICLOUD_REGION_ID",
];

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

/// Resolves credentials, region and endpoint. Precedence: flag, then environment, then the
/// config file's default, then the profile's `region_id`. `config_defaults` fills in
/// `--profile` when the flag is absent.
pub async fn target(
    account: &AccountArgs,
    config_defaults: &Defaults,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
    home: Option<&Path>,
) -> Result<Target, Error> {
    let profile = account
        .profile
        .as_deref()
        .or(config_defaults.profile.as_deref());
    let resolved = credentials::resolve_chain(profile, env, home).await?;
    let (region, region_origin) = if let Some(region) = &account.region {
        (region.clone(), "--region".to_owned())
    } else if let Some((var, region)) = REGION_VARS
        .iter()
        .find_map(|v| env(v).filter(|r| !r.trim().is_empty()).map(|r| (*v, r)))
    {
        (region, var.to_owned())
    } else if let Some(region) = &config_defaults.region {
        (region.clone(), "config file".to_owned())
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
        &account.endpoint,
    ) {
        (Some(url), _) => Endpoint::parse(&url)?,
        (None, Some(url)) => Endpoint::parse(url)?,
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

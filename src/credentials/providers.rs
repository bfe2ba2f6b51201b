//! Temporary credentials: STS AssumeRole (profile modes RamRoleArn and ChainableRamRoleArn)
//! and the ECS instance metadata service (EcsRamRole), with refresh before expiry. In: a
//! [`Plan`] made from a profile or the chain. Out: credentials with their expiry, and a
//! [`Provider`] the client asks before every attempt. It never logs or returns a secret or a
//! token, never follows redirects, and talks plain HTTP only to loopback or to the fixed ECS
//! metadata address.

use super::{Credentials, CredentialsError};
use crate::client::{sign, Endpoint};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

/// The ECS metadata service (reference §6.5); plain HTTP by design, link-local.
pub const ECS_METADATA_URL: &str = "http://100.100.100.200/";
/// Overrides the metadata endpoint (tests, the emulator): loopback `http://` only.
pub const ECS_METADATA_ENDPOINT_VAR: &str = "GRANTGUARD_ECS_METADATA_ENDPOINT";
/// Overrides the STS endpoint (tests, the emulator): `https://`, or `http://` to loopback.
pub const STS_ENDPOINT_VAR: &str = "GRANTGUARD_STS_ENDPOINT";
/// The STS API version (reference §6.4).
pub const STS_VERSION: &str = "2015-04-01";
/// Refresh this long before expiry (CRED's 15 minutes), or at half the lifetime if shorter.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(15 * 60);

/// How to obtain credentials.
#[derive(Clone, Debug)]
pub enum Plan {
    /// A long-term key or a fixed STS token.
    Static(Credentials),
    /// AssumeRole with the credentials `source` yields.
    AssumeRole(Box<AssumeRole>),
    /// The ECS instance's RAM role from the metadata service.
    Ecs {
        /// Role name; discovered from the service when `None`.
        role: Option<String>,
        /// The metadata service base URL.
        endpoint: url::Url,
    },
}

/// The parameters of one AssumeRole.
#[derive(Clone, Debug)]
pub struct AssumeRole {
    /// Who asks (a key, or another role for ChainableRamRoleArn).
    pub source: Plan,
    /// `acs:ram::ACCOUNT:role/NAME`.
    pub role_arn: String,
    /// `RoleSessionName`.
    pub session_name: String,
    /// `DurationSeconds` (900 or more).
    pub duration_secs: u32,
    /// `ExternalId`, when the profile has one.
    pub external_id: Option<String>,
    /// The STS endpoint.
    pub endpoint: Endpoint,
}

/// Credentials and, for temporary ones, when they expire.
#[derive(Clone, Debug)]
pub struct Issued {
    /// The credentials.
    pub credentials: Credentials,
    /// Expiry; `None` for a long-term key.
    pub expires_at: Option<OffsetDateTime>,
}

/// The STS endpoint: the override variable, else `sts.<region>.aliyuncs.com` or the global one.
pub fn sts_endpoint(
    env: &dyn Fn(&str) -> Option<String>,
    sts_region: Option<&str>,
) -> Result<Endpoint, CredentialsError> {
    let url = match env(STS_ENDPOINT_VAR).filter(|v| !v.trim().is_empty()) {
        Some(url) => url,
        None => match sts_region.filter(|r| !r.is_empty()) {
            Some(region) => format!("https://sts.{region}.aliyuncs.com/"),
            None => "https://sts.aliyuncs.com/".to_owned(),
        },
    };
    Endpoint::parse(&url).map_err(|e| CredentialsError::BadEndpoint {
        variable: STS_ENDPOINT_VAR,
        message: e.to_string(),
    })
}

/// The metadata endpoint: the override variable (loopback only), else the ECS address.
pub fn ecs_endpoint(env: &dyn Fn(&str) -> Option<String>) -> Result<url::Url, CredentialsError> {
    match env(ECS_METADATA_ENDPOINT_VAR).filter(|v| !v.trim().is_empty()) {
        Some(url) => {
            Endpoint::parse(&url)
                .map(|e| e.url)
                .map_err(|e| CredentialsError::BadEndpoint {
                    variable: ECS_METADATA_ENDPOINT_VAR,
                    message: e.to_string(),
                })
        }
        None => Ok(url::Url::parse(ECS_METADATA_URL).expect("a valid constant URL")),
    }
}

fn http() -> Result<reqwest::Client, CredentialsError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(1))
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| CredentialsError::Exchange {
            service: "http",
            message: e.to_string(),
        })
}

/// Runs the plan once.
pub async fn fetch(plan: &Plan) -> Result<Issued, CredentialsError> {
    match plan {
        Plan::Static(credentials) => Ok(Issued {
            credentials: credentials.clone(),
            expires_at: None,
        }),
        Plan::AssumeRole(role) => {
            let source = Box::pin(fetch(&role.source)).await?;
            assume_role(role, &source.credentials).await
        }
        Plan::Ecs { role, endpoint } => ecs(role.as_deref(), endpoint).await,
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StsAnswer {
    credentials: Option<TemporaryKey>,
    code: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TemporaryKey {
    access_key_id: String,
    access_key_secret: String,
    security_token: String,
    expiration: String,
    #[serde(default)]
    code: Option<String>,
}

impl TemporaryKey {
    fn issued(self, service: &'static str) -> Result<Issued, CredentialsError> {
        let expires_at = OffsetDateTime::parse(
            &self.expiration,
            &time::format_description::well_known::Rfc3339,
        )
        .map_err(|_| CredentialsError::Exchange {
            service,
            message: format!("Expiration {:?} is not a timestamp", self.expiration),
        })?;
        Ok(Issued {
            credentials: Credentials::new(
                self.access_key_id,
                self.access_key_secret,
                Some(self.security_token),
            ),
            expires_at: Some(expires_at),
        })
    }
}

/// One v1-signed GET AssumeRole (reference §6.4).
async fn assume_role(role: &AssumeRole, source: &Credentials) -> Result<Issued, CredentialsError> {
    let mut params: Vec<(String, String)> = vec![
        ("Action".into(), "AssumeRole".into()),
        ("Version".into(), STS_VERSION.into()),
        ("Format".into(), "JSON".into()),
        (
            "Timestamp".into(),
            sign::format_timestamp(OffsetDateTime::now_utc()),
        ),
        ("SignatureNonce".into(), sign::new_nonce()),
        ("SignatureMethod".into(), "HMAC-SHA1".into()),
        ("SignatureVersion".into(), "1.0".into()),
        ("AccessKeyId".into(), source.access_key_id.clone()),
        ("RoleArn".into(), role.role_arn.clone()),
        ("RoleSessionName".into(), role.session_name.clone()),
        ("DurationSeconds".into(), role.duration_secs.to_string()),
    ];
    if let Some(token) = source.security_token() {
        params.push(("SecurityToken".into(), token.to_owned()));
    }
    if let Some(id) = &role.external_id {
        params.push(("ExternalId".into(), id.clone()));
    }
    params.sort();
    let signature = sign::signature(source.secret(), &sign::string_to_sign("GET", &params));
    params.push(("Signature".into(), signature));
    let mut url = role.endpoint.url.clone();
    url.set_query(Some(&sign::query_string(&params)));
    drop(params);
    let unreachable = |e: reqwest::Error| CredentialsError::Exchange {
        service: "STS AssumeRole",
        // Without the URL: its query holds the signature and the token.
        message: e.without_url().to_string(),
    };
    let answer = http()?.get(url).send().await.map_err(unreachable)?;
    let status = answer.status();
    let body = answer.bytes().await.map_err(unreachable)?;
    let parsed: Result<StsAnswer, _> = serde_json::from_slice(&body);
    match parsed {
        Ok(StsAnswer {
            credentials: Some(key),
            ..
        }) if status.is_success() => key.issued("STS AssumeRole"),
        Ok(answer) => Err(CredentialsError::Exchange {
            service: "STS AssumeRole",
            message: format!(
                "HTTP {}: {}",
                status.as_u16(),
                answer
                    .code
                    .unwrap_or_else(|| "no credentials in the answer".into())
            ),
        }),
        Err(e) => Err(CredentialsError::Exchange {
            service: "STS AssumeRole",
            message: format!("HTTP {}: the answer is not JSON ({e})", status.as_u16()),
        }),
    }
}

/// IMDSv2 token (best effort, v1 fallback like CRED), role name, then the role's credentials.
async fn ecs(role: Option<&str>, endpoint: &url::Url) -> Result<Issued, CredentialsError> {
    let client = http()?;
    let failed = |message: String| CredentialsError::Exchange {
        service: "ECS metadata",
        message,
    };
    let join = |path: &str| {
        endpoint
            .join(path)
            .map_err(|e| failed(format!("bad path {path}: {e}")))
    };
    let token = match client
        .put(join("latest/api/token")?)
        .header("X-aliyun-ecs-metadata-token-ttl-seconds", "21600")
        .send()
        .await
    {
        Ok(r) if r.status().is_success() => r.text().await.ok(),
        _ => None,
    };
    let get = |url: url::Url| {
        let mut request = client.get(url);
        if let Some(token) = &token {
            request = request.header("X-aliyun-ecs-metadata-token", token);
        }
        request.send()
    };
    let role = match role {
        Some(role) => role.to_owned(),
        None => {
            let r = get(join("latest/meta-data/ram/security-credentials/")?)
                .await
                .map_err(|e| failed(e.without_url().to_string()))?;
            if !r.status().is_success() {
                return Err(failed(format!(
                    "HTTP {} listing the instance's RAM role: is a role attached to this instance?",
                    r.status().as_u16()
                )));
            }
            let text = r.text().await.map_err(|e| failed(e.to_string()))?;
            text.lines().next().unwrap_or("").trim().to_owned()
        }
    };
    if role.is_empty() || role.contains('/') {
        return Err(failed(format!("no usable role name ({role:?})")));
    }
    let r = get(join(&format!(
        "latest/meta-data/ram/security-credentials/{role}"
    ))?)
    .await
    .map_err(|e| failed(e.without_url().to_string()))?;
    let status = r.status();
    let body = r.bytes().await.map_err(|e| failed(e.to_string()))?;
    if !status.is_success() {
        return Err(failed(format!("HTTP {} for role {role}", status.as_u16())));
    }
    let key: TemporaryKey = serde_json::from_slice(&body).map_err(|e| {
        failed(format!(
            "the answer for role {role} is not the expected JSON ({e})"
        ))
    })?;
    if key.code.as_deref() != Some("Success") {
        return Err(failed(format!(
            "role {role}: Code {:?}, not Success",
            key.code.as_deref().unwrap_or("")
        )));
    }
    key.issued("ECS metadata")
}

/// When `issued` should be replaced: [`REFRESH_MARGIN`] before expiry, or at half its
/// remaining life when that is shorter (a 15-minute STS token is not refreshed at once).
fn refresh_at(issued_at: OffsetDateTime, expires_at: OffsetDateTime) -> OffsetDateTime {
    let life = expires_at - issued_at;
    let margin = time::Duration::try_from(REFRESH_MARGIN).unwrap_or(time::Duration::ZERO);
    expires_at - margin.min(life / 2)
}

struct Current {
    issued: Issued,
    refresh_at: Option<OffsetDateTime>,
}

/// Credentials that renew themselves: the client calls [`Provider::current`] before every
/// attempt; at most one refresh runs at a time.
pub struct Refresher {
    plan: Plan,
    current: tokio::sync::Mutex<Current>,
    refreshes: std::sync::atomic::AtomicU32,
}

impl std::fmt::Debug for Refresher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Refresher").finish_non_exhaustive()
    }
}

impl Refresher {
    /// A refresher holding `issued`, fetched from `plan` at `now`.
    pub fn new(plan: Plan, issued: Issued, now: OffsetDateTime) -> Refresher {
        let refresh_at = issued.expires_at.map(|e| refresh_at(now, e));
        Refresher {
            plan,
            current: tokio::sync::Mutex::new(Current { issued, refresh_at }),
            refreshes: std::sync::atomic::AtomicU32::new(0),
        }
    }

    /// The credentials to sign with at `now`, refreshed first when due. A failed refresh
    /// keeps the old credentials while they are valid (the service then says whether they
    /// still work) and is logged; it never stops the run by itself.
    pub async fn current_at(&self, now: OffsetDateTime) -> Credentials {
        let mut current = self.current.lock().await;
        if current.refresh_at.is_some_and(|at| now >= at) {
            match fetch(&self.plan).await {
                Ok(issued) => {
                    self.refreshes
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tracing::info!(
                        access_key = %issued.credentials.masked_key_id(),
                        "temporary credentials refreshed"
                    );
                    current.refresh_at = issued.expires_at.map(|e| refresh_at(now, e));
                    current.issued = issued;
                }
                Err(e) => tracing::warn!("could not refresh temporary credentials: {e}"),
            }
        }
        current.issued.credentials.clone()
    }

    /// How many refreshes succeeded.
    pub fn refreshes(&self) -> u32 {
        self.refreshes.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// What the client signs with: a fixed key, or credentials that refresh before expiry.
#[derive(Clone, Debug)]
pub enum Provider {
    /// Never changes.
    Static(Credentials),
    /// Temporary; renewed through its plan.
    Refreshing(Arc<Refresher>),
}

impl Provider {
    /// The credentials for the next attempt.
    pub async fn current(&self) -> Credentials {
        match self {
            Provider::Static(c) => c.clone(),
            Provider::Refreshing(r) => r.current_at(OffsetDateTime::now_utc()).await,
        }
    }

    /// The AccessKeyId masked, for Debug output (the last one known).
    pub fn masked_key_id(&self) -> String {
        match self {
            Provider::Static(c) => c.masked_key_id(),
            Provider::Refreshing(r) => r
                .current
                .try_lock()
                .map(|c| c.issued.credentials.masked_key_id())
                .unwrap_or_else(|_| "****(refreshing)".into()),
        }
    }
}

impl From<Credentials> for Provider {
    fn from(c: Credentials) -> Provider {
        Provider::Static(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_is_due_fifteen_minutes_early_or_at_half_life() {
        let t0 = OffsetDateTime::UNIX_EPOCH;
        let hour = t0 + time::Duration::hours(1);
        assert_eq!(refresh_at(t0, hour), t0 + time::Duration::minutes(45));
        let short = t0 + time::Duration::minutes(10);
        assert_eq!(refresh_at(t0, short), t0 + time::Duration::minutes(5));
    }

    #[test]
    fn endpoints_refuse_plain_http_off_loopback() {
        let env = |name: &str| {
            (name == STS_ENDPOINT_VAR || name == ECS_METADATA_ENDPOINT_VAR)
                .then(|| "http://sts.example.com/".to_owned())
        };
        assert!(matches!(
            sts_endpoint(&env, None),
            Err(CredentialsError::BadEndpoint { .. })
        ));
        assert!(ecs_endpoint(&env).is_err());
        let none = |_: &str| None;
        assert_eq!(
            sts_endpoint(&none, Some("cn-shanghai"))
                .unwrap()
                .url
                .as_str(),
            "https://sts.cn-shanghai.aliyuncs.com/"
        );
        assert_eq!(ecs_endpoint(&none).unwrap().as_str(), ECS_METADATA_URL);
    }
}

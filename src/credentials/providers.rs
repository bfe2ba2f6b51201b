//! Temporary credentials: STS AssumeRole (profile modes RamRoleArn and ChainableRamRoleArn),
//! STS AssumeRoleWithOIDC (the OIDC role step, RRSA; the token file is read afresh for every
//! exchange), the ECS instance metadata service (EcsRamRole) and a credentials URI, with
//! refresh before expiry. In: a
//! [`Plan`] made from a profile or the chain. Out: credentials with their expiry, and a
//! [`Provider`], the client's [`CredentialSource`], asked before every attempt. Both exchanges
//! go through the client: AssumeRole through a [`Client`] signing with the source
//! credentials, the metadata reads through an [`UnsignedClient`]; so they get its timeouts,
//! size cap, retry classification and per-attempt signing. It never logs or returns a secret
//! or a token, never follows redirects, and talks plain HTTP only to loopback or to the fixed
//! ECS metadata address.

use super::{Credentials, CredentialsError};
use crate::auth::sign::RpcApi;
use crate::client::{CallError, Client, ClientConfig, CredentialSource, Endpoint, UnsignedClient};
use futures::future::BoxFuture;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

/// The ECS metadata service (docs/cloudapi-notes.md §6.5); plain HTTP by design, link-local.
pub const ECS_METADATA_URL: &str = crate::client::ECS_METADATA_URL;
/// Overrides the metadata endpoint (tests, the emulator): loopback `http://` only.
pub const ECS_METADATA_ENDPOINT_VAR: &str = "GRANTGUARD_ECS_METADATA_ENDPOINT";
/// Overrides the STS endpoint (tests, the emulator): `https://`, or `http://` to loopback.
pub const STS_ENDPOINT_VAR: &str = "GRANTGUARD_STS_ENDPOINT";
/// The STS API version (docs/cloudapi-notes.md §6.4).
pub const STS_VERSION: &str = "2015-04-01";
/// STS as the signer sees it: its version, `Format=JSON` and GET, as CRED sends it (§6.4).
pub const STS: RpcApi = RpcApi {
    version: STS_VERSION,
    format: "JSON",
    method: "GET",
};
/// `RoleSessionName` when the source names none. The official libraries use a timestamped
/// name; a fixed one is easier to find in ActionTrail.
pub const DEFAULT_SESSION_NAME: &str = "grantguard";
/// Refresh this long before expiry (CRED's 15 minutes), or at half the lifetime if shorter.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(15 * 60);

/// How to obtain credentials.
#[derive(Clone, Debug)]
pub enum Plan {
    /// A long-term key or a fixed STS token.
    Static(Credentials),
    /// AssumeRole with the credentials `source` yields.
    AssumeRole(Box<AssumeRole>),
    /// AssumeRoleWithOIDC with the token in a file.
    Oidc(Box<OidcRole>),
    /// The ECS instance's RAM role from the metadata service.
    Ecs {
        /// Role name; discovered from the service when `None`.
        role: Option<String>,
        /// The metadata service base URL.
        endpoint: url::Url,
        /// Whether a failed IMDSv2 token request may fall back to tokenless (v1) reads
        /// (`ALIBABA_CLOUD_IMDSV1_DISABLED=true` forbids it).
        imds_v1: bool,
    },
    /// A local credentials service (`ALIBABA_CLOUD_CREDENTIALS_URI`): GET answers the ECS shape.
    Uri(url::Url),
}

/// The parameters of one AssumeRoleWithOIDC (the OIDC role step, RRSA).
#[derive(Clone, Debug)]
pub struct OidcRole {
    /// `acs:ram::ACCOUNT:role/NAME`.
    pub role_arn: String,
    /// `acs:ram::ACCOUNT:oidc-provider/NAME`.
    pub provider_arn: String,
    /// The file holding the OIDC token; read again at every refresh, since the platform
    /// rotates it.
    pub token_file: std::path::PathBuf,
    /// `RoleSessionName`.
    pub session_name: String,
    /// `DurationSeconds` (900 or more).
    pub duration_secs: u32,
    /// The STS endpoint.
    pub endpoint: Endpoint,
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
    /// `Policy`, a JSON policy that narrows the role, when the source has one.
    pub policy: Option<String>,
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

/// Names the STS region when the source does not (the official libraries' variable).
pub const STS_REGION_VAR: &str = "ALIBABA_CLOUD_STS_REGION";
/// `true` uses STS's VPC endpoint `sts-vpc.<region>.aliyuncs.com`.
pub const VPC_ENDPOINT_VAR: &str = "ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED";

/// The STS endpoint: the override variable, else `sts.<region>.aliyuncs.com` (region from the
/// source, else `ALIBABA_CLOUD_STS_REGION`; `sts-vpc.` when `ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED`
/// is true), else the global one.
pub fn sts_endpoint(
    env: &dyn Fn(&str) -> Option<String>,
    sts_region: Option<&str>,
) -> Result<Endpoint, CredentialsError> {
    let prefix = if super::is_true(env(VPC_ENDPOINT_VAR)) {
        "sts-vpc"
    } else {
        "sts"
    };
    let region = sts_region
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .or_else(|| env(STS_REGION_VAR).filter(|r| !r.is_empty()));
    let url = match env(STS_ENDPOINT_VAR).filter(|v| !v.trim().is_empty()) {
        Some(url) => url,
        None => match region {
            Some(region) => format!("https://{prefix}.{region}.aliyuncs.com/"),
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

/// The client settings of one STS or metadata exchange: CRED's 1 s connect timeout and the
/// 5 s per attempt these exchanges always had; 3 attempts with a short backoff (credentials
/// are fetched before the walk and at refresh, when every call waits for them); answers up to
/// 64 KiB (a few hundred bytes are expected); one request at a time, so no rate limit.
pub fn exchange_config(endpoint: Endpoint) -> ClientConfig {
    let mut config = ClientConfig::new(endpoint);
    config.connect_timeout = Duration::from_secs(1);
    config.read_timeout = Duration::from_secs(5);
    config.attempt_timeout = Duration::from_secs(5);
    config.max_response_bytes = 64 * 1024;
    config.max_attempts = 3;
    config.max_throttled_attempts = 3;
    config.retry_budget = 50;
    config.qps = 0.0;
    config.concurrency = 0;
    config.max_pages = 1;
    config.backoff_base = Duration::from_millis(200);
    config.backoff_cap = Duration::from_secs(2);
    config
}

/// A failed exchange, said the way an operator searches for it: status, code, message,
/// RequestId and attempts (never a URL, a signature or a token).
fn exchange_error(service: &'static str, error: &CallError) -> CredentialsError {
    let mut message = match error.status {
        Some(status) => format!("HTTP {status}: {}: {}", error.code, error.message),
        None => format!("{}: {}", error.code, error.message),
    };
    if let Some(id) = &error.request_id {
        message.push_str(&format!(" (RequestId {id})"));
    }
    message.push_str(&format!(
        " after {} attempt{}",
        error.attempts,
        if error.attempts == 1 { "" } else { "s" }
    ));
    CredentialsError::Exchange { service, message }
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
            let client = Client::new(exchange_config(role.endpoint.clone()), source.credentials)
                .map_err(|e| exchange_error("STS AssumeRole", &e))?;
            assume_role(&client, role).await
        }
        Plan::Oidc(oidc) => {
            let client = UnsignedClient::new(exchange_config(oidc.endpoint.clone()))
                .map_err(|e| exchange_error(OIDC_SERVICE, &e))?;
            assume_role_with_oidc(&client, oidc).await
        }
        Plan::Ecs {
            role,
            endpoint,
            imds_v1,
        } => {
            let config = exchange_config(Endpoint {
                url: endpoint.clone(),
            });
            let client =
                UnsignedClient::new(config).map_err(|e| exchange_error("ECS metadata", &e))?;
            ecs(&client, role.as_deref(), *imds_v1).await
        }
        Plan::Uri(url) => {
            const SERVICE: &str = "credentials URI";
            let client = UnsignedClient::new(exchange_config(Endpoint { url: url.clone() }))
                .map_err(|e| exchange_error(SERVICE, &e))?;
            let body = client
                .get(SERVICE, "", &[])
                .await
                .map_err(|e| exchange_error(SERVICE, &e))?;
            TemporaryKey::parse(&body, SERVICE, "the answer ")
        }
    }
}

const OIDC_SERVICE: &str = "STS AssumeRoleWithOIDC";

/// One AssumeRoleWithOIDC: the token file read now (it rotates), then an anonymous POST whose
/// form carries the token, so it never appears in a URL, a log line or an error.
async fn assume_role_with_oidc(
    client: &UnsignedClient,
    oidc: &OidcRole,
) -> Result<Issued, CredentialsError> {
    let token =
        std::fs::read_to_string(&oidc.token_file).map_err(|e| CredentialsError::Exchange {
            service: OIDC_SERVICE,
            message: format!(
                "cannot read the OIDC token file {}: {e}",
                oidc.token_file.display()
            ),
        })?;
    // Kubernetes writes the token without a newline; an editor adds one, which STS refuses.
    let token = token.trim();
    if token.is_empty() {
        return Err(CredentialsError::Exchange {
            service: OIDC_SERVICE,
            message: format!("the OIDC token file {} is empty", oidc.token_file.display()),
        });
    }
    let timestamp = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| OffsetDateTime::now_utc())
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let query = url::form_urlencoded::Serializer::new(String::from("?"))
        .extend_pairs([
            ("Action", "AssumeRoleWithOIDC"),
            ("Format", "JSON"),
            ("Version", STS_VERSION),
            ("Timestamp", timestamp.as_str()),
        ])
        .finish();
    let duration = oidc.duration_secs.to_string();
    let body = client
        .post_form(
            OIDC_SERVICE,
            &query,
            &[
                ("RoleArn", oidc.role_arn.as_str()),
                ("OIDCProviderArn", oidc.provider_arn.as_str()),
                ("OIDCToken", token),
                ("RoleSessionName", oidc.session_name.as_str()),
                ("DurationSeconds", duration.as_str()),
            ],
        )
        .await
        .map_err(|e| exchange_error(OIDC_SERVICE, &e))?;
    StsAnswer::parse(&body, OIDC_SERVICE)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StsAnswer {
    credentials: Option<TemporaryKey>,
    code: Option<String>,
}

impl StsAnswer {
    /// The credentials of a 2xx STS answer `body`, or why there are none.
    fn parse(body: &[u8], service: &'static str) -> Result<Issued, CredentialsError> {
        let answer: StsAnswer =
            serde_json::from_slice(body).map_err(|e| CredentialsError::Exchange {
                service,
                message: format!("the answer is not the expected JSON ({e})"),
            })?;
        answer.issued(service)
    }

    /// The credentials it carries, or why there are none.
    fn issued(self, service: &'static str) -> Result<Issued, CredentialsError> {
        match self {
            StsAnswer {
                credentials: Some(key),
                ..
            } => key.issued(service),
            StsAnswer { code, .. } => Err(CredentialsError::Exchange {
                service,
                message: format!(
                    "HTTP 200: {}",
                    code.unwrap_or_else(|| "no credentials in the answer".into())
                ),
            }),
        }
    }
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
    /// The credentials of a metadata-shaped answer `body` (`Code` must be `Success`); `what`
    /// prefixes the messages.
    fn parse(body: &[u8], service: &'static str, what: &str) -> Result<Issued, CredentialsError> {
        let failed = |message: String| CredentialsError::Exchange { service, message };
        let key: TemporaryKey = serde_json::from_slice(body)
            .map_err(|e| failed(format!("{what}is not the expected JSON ({e})")))?;
        if key.code.as_deref() != Some("Success") {
            return Err(failed(format!(
                "{what}has Code {:?}, not Success",
                key.code.as_deref().unwrap_or("")
            )));
        }
        key.issued(service)
    }

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

/// One AssumeRole (docs/cloudapi-notes.md §6.4) through `client`, which signs it (v1, GET) with the source
/// credentials, afresh for every attempt.
async fn assume_role(client: &Client, role: &AssumeRole) -> Result<Issued, CredentialsError> {
    let mut params: Vec<(&'static str, String)> = vec![
        ("RoleArn", role.role_arn.clone()),
        ("RoleSessionName", role.session_name.clone()),
        ("DurationSeconds", role.duration_secs.to_string()),
    ];
    if let Some(id) = &role.external_id {
        params.push(("ExternalId", id.clone()));
    }
    if let Some(policy) = &role.policy {
        params.push(("Policy", policy.clone()));
    }
    let answer: StsAnswer = client
        .read_rpc(&STS, "AssumeRole", &params, &role.role_arn)
        .await
        .map_err(|e| exchange_error("STS AssumeRole", &e))?;
    answer.issued("STS AssumeRole")
}

/// IMDSv2 token (best effort, v1 fallback like CRED), role name, then the role's credentials,
/// each through `client` (timeouts, size cap, retries of transient failures).
async fn ecs(
    client: &UnsignedClient,
    role: Option<&str>,
    imds_v1: bool,
) -> Result<Issued, CredentialsError> {
    const SERVICE: &str = "ECS metadata";
    let failed = |message: String| CredentialsError::Exchange {
        service: SERVICE,
        message,
    };
    let token = match client
        .put(
            "ECS metadata token",
            "latest/api/token",
            &[("X-aliyun-ecs-metadata-token-ttl-seconds", "21600")],
        )
        .await
    {
        Ok(body) => String::from_utf8(body.to_vec()).ok(),
        // Nothing answered at all (off ECS, the address does not): the GETs of the v1
        // fallback would wait for the same silence, so stop here.
        Err(e) if e.status.is_none() && e.class == crate::client::FailureClass::Transient => {
            return Err(CredentialsError::MetadataAbsent {
                message: exchange_error(SERVICE, &e).to_string(),
            })
        }
        Err(e) if !imds_v1 => {
            return Err(failed(format!(
                "the IMDSv2 token request failed ({}) and ALIBABA_CLOUD_IMDSV1_DISABLED=true forbids the tokenless fallback",
                exchange_error(SERVICE, &e)
            )))
        }
        Err(_) => None,
    };
    let headers: Vec<(&'static str, &str)> = token
        .as_deref()
        .map(|t| ("X-aliyun-ecs-metadata-token", t))
        .into_iter()
        .collect();
    let role = match role {
        Some(role) => role.to_owned(),
        None => {
            let body = client
                .get(
                    "ECS metadata role",
                    "latest/meta-data/ram/security-credentials/",
                    &headers,
                )
                .await
                .map_err(|e| match e.status {
                    // The service answers, but no role is attached to this instance.
                    Some(404) => CredentialsError::MetadataAbsent {
                        message: "HTTP 404 listing the instance's RAM role: no role is attached to this instance".into(),
                    },
                    Some(status) => failed(format!(
                        "HTTP {status} listing the instance's RAM role: is a role attached to this instance?"
                    )),
                    None => exchange_error(SERVICE, &e),
                })?;
            let text = String::from_utf8_lossy(&body);
            text.lines().next().unwrap_or("").trim().to_owned()
        }
    };
    if role.is_empty() || role.contains('/') {
        return Err(failed(format!("no usable role name ({role:?})")));
    }
    let body = client
        .get(
            "ECS metadata credentials",
            &format!("latest/meta-data/ram/security-credentials/{role}"),
            &headers,
        )
        .await
        .map_err(|e| match e.status {
            Some(status) => failed(format!("HTTP {status} for role {role}")),
            None => exchange_error(SERVICE, &e),
        })?;
    TemporaryKey::parse(&body, SERVICE, &format!("the answer for role {role} "))
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

impl CredentialSource for Provider {
    fn current(&self) -> BoxFuture<'_, Credentials> {
        Box::pin(Provider::current(self))
    }

    fn masked_key_id(&self) -> String {
        Provider::masked_key_id(self)
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

    /// AssumeRole goes through the client: an attempt that gets no answer ends at the
    /// per-attempt timeout and is sent again, signed afresh.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_hung_assume_role_times_out_and_is_retried() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/basic-account.json"
        );
        let fixture = grantguard_sim::Fixture::from_path(std::path::Path::new(path)).unwrap();
        let key = fixture.credentials[0].clone();
        let options = grantguard_sim::SimOptions {
            env_credentials: false,
            faults: grantguard_sim::Faults {
                hang: vec!["AssumeRole=1".parse().unwrap()],
                ..Default::default()
            },
            ..Default::default()
        };
        let sim = grantguard_sim::Sim::start(fixture, options).unwrap();
        let endpoint = Endpoint::parse(&sim.url()).unwrap();
        let mut config = exchange_config(endpoint.clone());
        config.attempt_timeout = Duration::from_millis(300);
        let source = Credentials::new(key.access_key_id, key.access_key_secret, key.security_token);
        let client = Client::new(config, source.clone()).unwrap();
        let role = AssumeRole {
            source: Plan::Static(source),
            role_arn: "acs:ram::1234567890:role/audit".into(),
            session_name: "s".into(),
            duration_secs: 900,
            external_id: None,
            policy: None,
            endpoint,
        };
        let started = std::time::Instant::now();
        let issued = assume_role(&client, &role).await.unwrap();
        assert!(issued.credentials.access_key_id.starts_with("STS."));
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{:?}",
            started.elapsed()
        );
        assert_eq!((client.stats().requests, client.stats().retries), (2, 1));
        let nonces: Vec<_> = sim
            .log()
            .into_iter()
            .filter(|r| r.action == "AssumeRole")
            .map(|r| r.nonce)
            .collect();
        assert_eq!(nonces.len(), 2);
        assert_ne!(nonces[0], nonces[1]);
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

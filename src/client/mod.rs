//! Credentials → a signed RPC client (CloudAPI, and STS for the provider chain). `read` retries what the policy in docs/fault-model.md allows,
//! re-signing every attempt; `write` sends a mutation again only when the failure proves it
//! never ran; `pages` walks a list action to the end and detects drift. Every attempt,
//! retries included, passes the client's concurrency cap and adaptive rate limiter. This
//! module never logs a secret, a signature or a full URL, and never connects to a
//! non-loopback host over plain HTTP, except the unsigned path to the fixed ECS metadata
//! address ([`unsigned`], docs/cloudapi-notes.md §6.5), which carries no signature.
//!
//! Depends on [`crate::auth`] (credentials, the pure signer) and nothing above it: the provider
//! chain in `credentials` implements [`CredentialSource`] and calls STS through a `Client`.
//!
//! Layout: [`retry`] (classification, backoff, budget, loop), [`transport`] (one HTTP
//! attempt), [`rate`] (AIMD limiter), [`pages`] (drift detection), [`unsigned`] (plain GETs
//! and PUTs for the ECS metadata service, same transport and retry policy, no credentials).

pub mod pages;
pub mod rate;
pub mod retry;
pub mod transport;
pub mod unsigned;

use crate::auth::sign::{self, RpcApi};
use crate::auth::Credentials;
use futures::future::BoxFuture;
use grantguard_wire::actions::{Action, PagedAction};
use retry::{Counters, Exhausted, Policy, Retry, RetryBudget};
use serde::de::DeserializeOwned;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::Semaphore;

pub use unsigned::{UnsignedClient, ECS_METADATA_URL};

/// What a client asks for the credentials of every attempt, so temporary credentials can
/// renew themselves between attempts. The provider chain (`credentials::Provider`) implements
/// it; fixed [`Credentials`] are their own source.
pub trait CredentialSource: Send + Sync {
    /// The credentials to sign the next attempt with.
    fn current(&self) -> BoxFuture<'_, Credentials>;
    /// The AccessKeyId masked to its last 4 characters, for `Debug` output.
    fn masked_key_id(&self) -> String;
}

impl CredentialSource for Credentials {
    fn current(&self) -> BoxFuture<'_, Credentials> {
        Box::pin(std::future::ready(self.clone()))
    }

    fn masked_key_id(&self) -> String {
        Credentials::masked_key_id(self)
    }
}

/// Where requests go: `https://apigateway.<region>.aliyuncs.com`, or a validated override.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Base URL, e.g. `http://127.0.0.1:8080/`.
    pub url: url::Url,
}

/// Why an endpoint was refused. Raised before any connector exists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
pub enum EndpointError {
    /// No `https://` or `http://` in front of the host.
    #[error("endpoint {input:?} has no scheme")]
    #[diagnostic(
        code(grantguard::client::endpoint_no_scheme),
        help("write https://{input} (or http://{input} for a loopback emulator such as `grantguard sim serve`)")
    )]
    NoScheme {
        /// What was given.
        input: String,
    },
    /// Not a URL.
    #[error("endpoint {input:?} is not a URL: {reason}")]
    #[diagnostic(
        code(grantguard::client::endpoint_invalid),
        help("give a base URL such as https://apigateway.cn-hangzhou.aliyuncs.com/")
    )]
    Invalid {
        /// What was given.
        input: String,
        /// What the parser said.
        reason: String,
    },
    /// Neither `https` nor `http`.
    #[error("endpoint scheme {scheme} is not supported")]
    #[diagnostic(
        code(grantguard::client::endpoint_scheme),
        help("use https://, or http:// for a loopback emulator")
    )]
    UnsupportedScheme {
        /// The scheme.
        scheme: String,
    },
    /// Plain HTTP to a host that is not loopback would send signed requests in clear text.
    #[error("plain http:// is only allowed for loopback hosts, not {host}")]
    #[diagnostic(
        code(grantguard::client::endpoint_plain_http),
        help("use https://, or an emulator on 127.0.0.1, [::1] or localhost")
    )]
    PlainHttpNotLoopback {
        /// The refused host.
        host: String,
    },
    /// The URL carries a user name, password, query or fragment.
    #[error("endpoint must be a bare base URL without {part}")]
    #[diagnostic(
        code(grantguard::client::endpoint_extra),
        help("drop the {part}; credentials come from the environment or --profile")
    )]
    ExtraParts {
        /// What was found.
        part: &'static str,
    },
    /// The region id has characters a region id never has.
    #[error("{region:?} is not a region id")]
    #[diagnostic(
        code(grantguard::client::region_invalid),
        help("region ids look like cn-hangzhou or ap-southeast-1")
    )]
    InvalidRegion {
        /// What was given.
        region: String,
    },
}

impl Endpoint {
    /// Parses and validates an override: `https://` anywhere, `http://` only for loopback
    /// (127.0.0.0/8, ::1, localhost); no credentials, query or fragment in the URL.
    pub fn parse(input: &str) -> Result<Endpoint, EndpointError> {
        if !input.contains("://") {
            return Err(EndpointError::NoScheme {
                input: input.to_owned(),
            });
        }
        let url = url::Url::parse(input.trim()).map_err(|e| EndpointError::Invalid {
            input: input.to_owned(),
            reason: e.to_string(),
        })?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(EndpointError::ExtraParts {
                part: "user information",
            });
        }
        if url.query().is_some() {
            return Err(EndpointError::ExtraParts { part: "a query" });
        }
        if url.fragment().is_some() {
            return Err(EndpointError::ExtraParts { part: "a fragment" });
        }
        let host = url.host().ok_or_else(|| EndpointError::Invalid {
            input: input.to_owned(),
            reason: "no host".into(),
        })?;
        match url.scheme() {
            "https" => {}
            "http" => {
                let loopback = match host {
                    url::Host::Ipv4(ip) => IpAddr::V4(ip).is_loopback(),
                    url::Host::Ipv6(ip) => IpAddr::V6(ip).is_loopback(),
                    url::Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
                };
                if !loopback {
                    return Err(EndpointError::PlainHttpNotLoopback {
                        host: host.to_string(),
                    });
                }
            }
            other => {
                return Err(EndpointError::UnsupportedScheme {
                    scheme: other.to_owned(),
                })
            }
        }
        Ok(Endpoint { url })
    }

    /// The service's endpoint for a region: `https://apigateway.<region>.aliyuncs.com/`
    /// (docs/cloudapi-notes.md §1.1; the host prefix is `apigateway`, not `cloudapi`).
    pub fn for_region(region: &str) -> Result<Endpoint, EndpointError> {
        let valid = !region.is_empty()
            && region.len() <= 64
            && region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid {
            return Err(EndpointError::InvalidRegion {
                region: region.to_owned(),
            });
        }
        Endpoint::parse(&format!("https://apigateway.{region}.aliyuncs.com/"))
    }
}

/// Tunables of the client; defaults follow docs/fault-model.md.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Where to send requests.
    pub endpoint: Endpoint,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Longest silence while reading a response.
    pub read_timeout: Duration,
    /// Total time one attempt may take.
    pub attempt_timeout: Duration,
    /// Largest response body accepted.
    pub max_response_bytes: u64,
    /// Attempts for transient failures of reads.
    pub max_attempts: u32,
    /// Attempts for throttled reads.
    pub max_throttled_attempts: u32,
    /// Retry budget tokens per run.
    pub retry_budget: u32,
    /// The adaptive request rate per second it starts at, and without `max_qps` its ceiling;
    /// 0 = unlimited.
    pub qps: f64,
    /// `Some`: discover the quota, growing from `qps` up to this ceiling (`--qps auto`).
    pub max_qps: Option<f64>,
    /// Attempts in flight at once; 0 = unlimited.
    pub concurrency: usize,
    /// Pages one walk of a list may take before it is abandoned.
    pub max_pages: u32,
    /// First backoff ceiling (full jitter doubles it per retry).
    pub backoff_base: Duration,
    /// Longest backoff, also the cap on a server's `x-acs-retry-after`.
    pub backoff_cap: Duration,
}

impl ClientConfig {
    /// The docs/fault-model.md defaults for `endpoint`: connect 5 s, idle read 10 s, 30 s per attempt,
    /// 16 MiB bodies, 5 attempts (8 when throttled), 500 retry tokens, 10 requests/s and 4 in
    /// flight (docs/cloudapi-notes.md §7), 1000 pages, backoff 1 s to 20 s.
    pub fn new(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(10),
            attempt_timeout: Duration::from_secs(30),
            max_response_bytes: 16 * 1024 * 1024,
            max_attempts: 5,
            max_throttled_attempts: 8,
            retry_budget: 500,
            qps: 10.0,
            max_qps: None,
            concurrency: 4,
            max_pages: 1000,
            backoff_base: Duration::from_secs(1),
            backoff_cap: Duration::from_secs(20),
        }
    }
}

/// A signed CloudAPI client; cheap to clone, shared by every task of a walk.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("access_key_id", &self.inner.credentials.masked_key_id())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

struct Inner {
    transport: transport::Transport,
    /// Kept so [`Client::for_endpoint`] can build a transport for another endpoint.
    config: ClientConfig,
    credentials: Arc<dyn CredentialSource>,
    policy: Policy,
    // Shared (Arc) with every client made by `for_endpoint`: regions walked together stay
    // within one rate limit, one concurrency cap and one retry budget.
    budget: Arc<RetryBudget>,
    counters: Arc<Counters>,
    rate: Option<Arc<rate::RateLimiter>>,
    slots: Option<Arc<Semaphore>>,
    max_pages: u32,
    /// The first credentials or clock failure of the run: once set, no attempt is sent any
    /// more (every later answer would be refused the same way; docs/fault-model.md R7, R11, A7).
    fuse: std::sync::Mutex<Option<retry::Failure>>,
}

/// How a failed call is treated by the walk and the removal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// Throttling, 5xx, timeouts, resets: retried, and a gap when retries run out.
    Transient,
    /// Access denied: a gap for the scope.
    Permission,
    /// The thing asked about does not exist.
    NotFound,
    /// Bad credentials or signature: the run stops (exit 2).
    Credentials,
    /// The local clock is off: the run stops (exit 2).
    ClockSkew,
    /// The body could not be decoded, or was too large, or not JSON.
    Malformed,
    /// Anything else the service refused (invalid parameter, …).
    Rejected,
}

impl FailureClass {
    /// The snake-case name used in diagnostic codes.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::Transient => "transient",
            FailureClass::Permission => "permission",
            FailureClass::NotFound => "not_found",
            FailureClass::Credentials => "credentials",
            FailureClass::ClockSkew => "clock_skew",
            FailureClass::Malformed => "malformed",
            FailureClass::Rejected => "rejected",
        }
    }
}

/// A call that failed after the retries the policy allows.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{action} failed for {scope}: {code}: {message}")]
pub struct CallError {
    /// The action.
    pub action: &'static str,
    /// What it was about (from `Action::scope`).
    pub scope: String,
    /// The service's code, or ours (`Timeout`, `ConnectionReset`, `MalformedResponse`,
    /// `ResponseTooLarge`, `UnexpectedContentType`, `PagingDrift`, `RetryBudgetExhausted`, …).
    pub code: String,
    /// What happened.
    pub message: String,
    /// The service's RequestId, when there was one.
    pub request_id: Option<String>,
    /// HTTP status, when there was one.
    pub status: Option<u16>,
    /// Attempts made.
    pub attempts: u32,
    /// Classification.
    pub class: FailureClass,
}

impl miette::Diagnostic for CallError {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new(format!(
            "grantguard::client::{}",
            self.class.as_str()
        )))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        let mut help = call_help(self);
        let mut facts = vec![format!("attempts: {}", self.attempts)];
        if let Some(status) = self.status {
            facts.push(format!("HTTP {status}"));
        }
        if let Some(id) = &self.request_id {
            facts.push(format!("RequestId {id}"));
        }
        help.push_str(&format!(" ({})", facts.join(", ")));
        Some(Box::new(help))
    }
}

/// The next thing to type for each failure; never quotes the server's string-to-sign.
fn call_help(error: &CallError) -> String {
    let code = error.code.as_str();
    match error.class {
        FailureClass::Credentials if code == "SignatureDoesNotMatch" => "the service computed a different signature: check the secret (the AccessKeySecret must belong to the AccessKeyId in use) and that the local clock is right".into(),
        FailureClass::Credentials if code.starts_with("InvalidAccessKeyId") => "the AccessKeyId is unknown or disabled: check the key in the RAM console, or the profile in use".into(),
        FailureClass::Credentials => "the STS token is missing, expired or does not match the key: obtain fresh STS credentials".into(),
        FailureClass::ClockSkew => "set the local clock right (e.g. enable NTP); signed requests are only valid for minutes around the server's time".into(),
        FailureClass::Permission => format!(
            "grant the RAM action apigateway:{} to this identity (for {}), or accept the gap; `grantguard policy` prints every action grantguard needs",
            error.action, error.scope
        ),
        FailureClass::NotFound => format!("{} no longer exists, or the id is wrong", error.scope),
        FailureClass::Transient if code == "RetryBudgetExhausted" => "the endpoint kept failing and the run's retry budget is spent: try again later".into(),
        FailureClass::Transient if code == "PagingDrift" => "the list changed while it was read: run again when nothing is modifying the account".into(),
        FailureClass::Transient if code.starts_with("Throttling") || code == "Rejected.Throttling" => "the service kept throttling: lower --qps or --concurrency, or try again later".into(),
        FailureClass::Transient if code == "ConnectFailed" => "check that the endpoint is reachable from here".into(),
        FailureClass::Transient => "the service or the network failed repeatedly: try again later".into(),
        FailureClass::Malformed if code == "ResponseTooLarge" => "raise --max-response-bytes if answers this large are expected".into(),
        FailureClass::Malformed => "the answer was not what the CloudAPI 2016-07-14 model describes: check --endpoint".into(),
        FailureClass::Rejected if code == "UnexpectedRedirect" => "check --endpoint: redirects are never followed".into(),
        FailureClass::Rejected => "the service refused the request as sent".into(),
    }
}

/// Counters of one run, for `--verbose` and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Requests sent (every attempt).
    pub requests: u64,
    /// Answers that were throttling.
    pub throttled: u64,
    /// Retries made.
    pub retries: u64,
    /// `SignatureNonceUsed` answers; always 0 unless nonces are broken.
    pub nonce_reused: u64,
}

impl Client {
    /// Builds a client; the endpoint is validated again before the connector is built.
    // CallError is the contract type every call returns; boxing it only here would make
    // `new` the odd one out.
    #[allow(clippy::result_large_err)]
    pub fn new(config: ClientConfig, credentials: Credentials) -> Result<Client, CallError> {
        Client::with_provider(config, credentials)
    }

    /// Builds a client signing with whatever `source` hands out before each attempt
    /// (temporary credentials refresh themselves before they expire).
    #[allow(clippy::result_large_err)]
    pub fn with_provider(
        config: ClientConfig,
        source: impl CredentialSource + 'static,
    ) -> Result<Client, CallError> {
        Client::with_source(config, Arc::new(source))
    }

    #[allow(clippy::result_large_err)]
    fn with_source(
        config: ClientConfig,
        credentials: Arc<dyn CredentialSource>,
    ) -> Result<Client, CallError> {
        Endpoint::parse(config.endpoint.url.as_str())
            .map_err(|e| setup_error("InvalidEndpoint", e.to_string()))?;
        let transport = transport::Transport::new(&config)
            .map_err(|e| setup_error("ClientBuildFailed", e.without_url().to_string()))?;
        Ok(Client {
            inner: Arc::new(Inner {
                transport,
                config: config.clone(),
                credentials,
                policy: policy_of(&config),
                budget: Arc::new(RetryBudget::new(config.retry_budget)),
                counters: Arc::new(Counters::default()),
                rate: match config.max_qps {
                    Some(ceiling) => rate::RateLimiter::probing(config.qps, ceiling),
                    None => rate::RateLimiter::new(config.qps),
                }
                .map(Arc::new),
                slots: (config.concurrency > 0)
                    .then(|| Arc::new(Semaphore::new(config.concurrency))),
                max_pages: config.max_pages.max(1),
                fuse: std::sync::Mutex::new(None),
            }),
        })
    }

    /// A client for another endpoint (another region) that signs with the same credentials
    /// and shares this one's rate limiter, concurrency cap, retry budget and counters, so
    /// regions walked in parallel together stay within the limits of one client.
    #[allow(clippy::result_large_err)]
    pub fn for_endpoint(&self, endpoint: Endpoint) -> Result<Client, CallError> {
        let inner = &*self.inner;
        let config = ClientConfig {
            endpoint,
            ..inner.config.clone()
        };
        let sibling = Client::with_source(config, Arc::clone(&inner.credentials))?;
        let built = Arc::into_inner(sibling.inner).expect("a new client is not shared yet");
        Ok(Client {
            inner: Arc::new(Inner {
                budget: Arc::clone(&inner.budget),
                counters: Arc::clone(&inner.counters),
                rate: inner.rate.clone(),
                slots: inner.slots.clone(),
                ..built
            }),
        })
    }

    /// Sends a read action, retrying what the policy allows. An action marked `MUTATING` is
    /// treated as a write even here, so it is never resent after an unclear failure.
    pub async fn read<A: Action>(&self, action: &A) -> Result<A::Response, CallError> {
        self.call(action, A::MUTATING).await
    }

    /// Sends a mutating action; resent only when the request provably never ran.
    pub async fn write<A: Action>(&self, action: &A) -> Result<A::Response, CallError> {
        self.call(action, true).await
    }

    /// Sends a v1-signed call to another RPC API than CloudAPI (STS `AssumeRole` for the
    /// provider chain), with the same timeouts, size cap, retries and per-attempt signing as
    /// [`Client::read`]. Only for calls that are harmless to resend.
    pub async fn read_rpc<T: DeserializeOwned>(
        &self,
        api: &RpcApi,
        action: &'static str,
        params: &[(&'static str, String)],
        scope: &str,
    ) -> Result<T, CallError> {
        self.call_rpc(api, action, params, scope, false).await
    }

    /// Every item of a paged list, or a `PagingDrift` error when pages disagree.
    pub async fn pages<A: PagedAction>(&self, action: A) -> Result<Vec<A::Item>, CallError> {
        let size = A::MAX_PAGE_SIZE;
        let requests = std::sync::atomic::AtomicU32::new(0);
        let result = pages::collect(size, self.inner.max_pages, A::item_key, |number| {
            let mut page = action.clone();
            page.set_page(number, size);
            requests.fetch_add(1, Ordering::Relaxed);
            async move { self.read(&page).await.map(A::into_page) }
        })
        .await;
        let paging_error = |code: &str, message: String, class| CallError {
            action: A::NAME,
            scope: action.scope(),
            code: code.into(),
            message,
            request_id: None,
            status: None,
            attempts: requests.load(Ordering::Relaxed),
            class,
        };
        match result {
            Ok(items) => Ok(items),
            Err(pages::PagingError::Call(error)) => Err(error),
            Err(pages::PagingError::Drift(reason)) => {
                Err(paging_error("PagingDrift", reason, FailureClass::Transient))
            }
            Err(pages::PagingError::PageCap(cap)) => Err(paging_error(
                "PageCapReached",
                format!("the list did not end within {cap} pages"),
                FailureClass::Malformed,
            )),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        let c = &self.inner.counters;
        Stats {
            requests: c.requests.load(Ordering::Relaxed),
            throttled: c.throttled.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            nonce_reused: c.nonce_reused.load(Ordering::Relaxed),
        }
    }

    /// The rate limiter's current rate in requests per second; `None` when unlimited.
    pub fn rate(&self) -> Option<f64> {
        self.inner.rate.as_ref().map(|rate| rate.rate())
    }

    /// Whether `--qps auto` is still looking for the quota (no throttling answer yet).
    pub fn is_probing(&self) -> bool {
        self.inner
            .rate
            .as_ref()
            .is_some_and(|rate| rate.is_probing())
    }

    /// The endpoint's base URL (no query, so never a signature).
    pub fn endpoint(&self) -> &str {
        self.inner.transport.base()
    }

    /// Retry tokens left in this run's budget.
    pub fn retry_budget_remaining(&self) -> u32 {
        self.inner.budget.remaining()
    }

    async fn call<A: Action>(&self, action: &A, mutating: bool) -> Result<A::Response, CallError> {
        let params = action.params();
        let scope = action.scope();
        self.call_rpc(&sign::CLOUDAPI, A::NAME, &params, &scope, mutating)
            .await
    }

    async fn call_rpc<T: DeserializeOwned>(
        &self,
        api: &RpcApi,
        action: &'static str,
        params: &[(&'static str, String)],
        scope: &str,
        mutating: bool,
    ) -> Result<T, CallError> {
        let inner = &*self.inner;
        let result = retry::run(
            &inner.policy,
            &inner.budget,
            &inner.counters,
            mutating,
            |attempt| self.attempt::<T>(api, action, params, scope, attempt, mutating),
        )
        .await;
        result
            .map(|(response, _)| response)
            .map_err(|exhausted| call_error(action, scope, exhausted))
    }

    /// One attempt: wait for a slot and the rate limiter, sign afresh, send, decode.
    async fn attempt<T: DeserializeOwned>(
        &self,
        api: &RpcApi,
        action: &'static str,
        params: &[(&'static str, String)],
        scope: &str,
        attempt: u32,
        mutating: bool,
    ) -> Result<T, retry::Failure> {
        let inner = &*self.inner;
        let _slot = match &inner.slots {
            Some(slots) => Some(
                slots
                    .acquire()
                    .await
                    .expect("the semaphore is never closed"),
            ),
            None => None,
        };
        let permit = match &inner.rate {
            Some(rate) => Some(rate.acquire().await),
            None => None,
        };
        // Checked after the wait for a slot: calls queued behind the one that hit the failure
        // must not go out either.
        if let Some(failure) = inner.fuse.lock().expect("fuse lock").clone() {
            return Err(failure);
        }
        let credentials = inner.credentials.current().await;
        let signed = sign::sign_for(
            api,
            &credentials,
            action,
            params,
            OffsetDateTime::now_utc(),
            &sign::new_nonce(),
        );
        let query = sign::query_string(&signed);
        // Kept only to tell a wrong secret from a canonicalisation difference if the server
        // answers SignatureDoesNotMatch; never logged or returned.
        let string_to_sign = sign::string_to_sign(api.method, &signed[..signed.len() - 1]);
        drop(signed);
        inner.counters.requests.fetch_add(1, Ordering::Relaxed);
        let sent_at = tokio::time::Instant::now();
        let outcome = inner
            .transport
            .send(api, action, &query, &string_to_sign)
            .await;
        drop(query);
        let decoded = outcome
            .and_then(|answer| transport::decode::<T>(action, &answer.body, answer.request_id));
        match &decoded {
            Ok(_) => {
                if let Some(rate) = &inner.rate {
                    rate.on_success(sent_at.elapsed());
                }
                tracing::debug!(action, scope, attempt, "ok");
            }
            Err(failure) => {
                let class = retry::classify(failure, mutating).class;
                if matches!(class, FailureClass::Credentials | FailureClass::ClockSkew) {
                    inner
                        .fuse
                        .lock()
                        .expect("fuse lock")
                        .get_or_insert_with(|| failure.clone());
                }
                if retry::classify(failure, mutating).retry == Retry::Throttled {
                    if let (Some(rate), Some(permit)) = (&inner.rate, permit) {
                        rate.on_throttled(permit);
                    }
                }
                tracing::debug!(
                    action,
                    scope,
                    attempt,
                    status = failure.status(),
                    code = %failure.code(),
                    request_id = failure.request_id(),
                    "failed"
                );
            }
        }
        decoded
    }
}

/// The retry limits a config asks for.
fn policy_of(config: &ClientConfig) -> Policy {
    Policy {
        max_attempts: config.max_attempts.max(1),
        max_throttled_attempts: config.max_throttled_attempts.max(1),
        max_write_sends: 3,
        base: config.backoff_base,
        cap: config.backoff_cap,
    }
}

/// A client that could not be built (bad endpoint, connector failure).
fn setup_error(code: &str, message: String) -> CallError {
    CallError {
        action: "Client::new",
        scope: "endpoint".into(),
        code: code.into(),
        message,
        request_id: None,
        status: None,
        attempts: 0,
        class: FailureClass::Rejected,
    }
}

/// The error of a call whose retries ran out (or were never allowed).
fn call_error(action: &'static str, scope: &str, exhausted: Exhausted) -> CallError {
    let Exhausted {
        failure,
        decision,
        attempts,
        budget_empty,
    } = exhausted;
    let (code, message) = if budget_empty {
        (
            "RetryBudgetExhausted".to_owned(),
            format!(
                "the run's retry budget is spent; last failure {}: {}",
                failure.code(),
                failure.message()
            ),
        )
    } else {
        (failure.code(), failure.message())
    };
    CallError {
        action,
        scope: scope.to_owned(),
        code,
        message,
        request_id: failure.request_id(),
        status: failure.status(),
        attempts,
        class: decision.class,
    }
}

#[cfg(test)]
mod tests;

//! The retry policy of docs/fault-model.md. In: the failure of one attempt. Out: its [`FailureClass`]
//! and whether (and after how long) to try again. [`classify`] is the single pure decision;
//! [`run`] is the loop that applies it, spends the per-run [`RetryBudget`] and sleeps on
//! tokio's clock (so tests run it on a paused clock). This module never resends a mutation
//! unless the failure proves the request never ran.

use super::FailureClass;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

/// Why one attempt failed, as seen on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The connection was never established (refused, DNS, TLS handshake): nothing was sent.
    Connect {
        /// What the connector said.
        message: String,
    },
    /// No complete answer within the idle or per-attempt timeout.
    Timeout {
        /// Which limit fired.
        message: String,
    },
    /// The connection broke after the request may have been sent (reset, incomplete body).
    Reset {
        /// What the transport said.
        message: String,
    },
    /// A 4xx/5xx answer (with the service's error envelope, when it sent one).
    Api {
        /// HTTP status.
        status: u16,
        /// The service's `Code`, or `HttpError` when the body had none.
        code: String,
        /// The service's `Message` (sanitized), or a sanitized excerpt of the body.
        message: String,
        /// The service's RequestId.
        request_id: Option<String>,
        /// The `x-acs-retry-after` hint.
        retry_after: Option<Duration>,
        /// Local clock minus the server's `Date` header, in seconds, when it had one.
        skew_seconds: Option<i64>,
    },
    /// A 3xx answer; redirects are never followed.
    Redirect {
        /// HTTP status.
        status: u16,
        /// The `Location` header (sanitized), or empty.
        location: String,
    },
    /// A 200 whose body did not decode.
    Malformed {
        /// Action, field path and line/column.
        message: String,
        /// The service's RequestId from the header, if any.
        request_id: Option<String>,
    },
    /// A 200 with a content type that is not JSON.
    UnexpectedContentType {
        /// HTTP status.
        status: u16,
        /// The content type and the first ≤ 200 sanitized bytes.
        message: String,
    },
    /// The body is larger than the configured cap.
    TooLarge {
        /// HTTP status.
        status: u16,
        /// The cap and how it was noticed.
        message: String,
    },
}

impl Failure {
    /// The code a `CallError` reports for this failure.
    pub fn code(&self) -> String {
        match self {
            Failure::Connect { .. } => "ConnectFailed".into(),
            Failure::Timeout { .. } => "Timeout".into(),
            Failure::Reset { .. } => "ConnectionReset".into(),
            Failure::Api { code, .. } => code.clone(),
            Failure::Redirect { .. } => "UnexpectedRedirect".into(),
            Failure::Malformed { .. } => "MalformedResponse".into(),
            Failure::UnexpectedContentType { .. } => "UnexpectedContentType".into(),
            Failure::TooLarge { .. } => "ResponseTooLarge".into(),
        }
    }

    /// The human part of the error.
    pub fn message(&self) -> String {
        match self {
            Failure::Connect { message }
            | Failure::Timeout { message }
            | Failure::Reset { message }
            | Failure::Malformed { message, .. }
            | Failure::UnexpectedContentType { message, .. }
            | Failure::TooLarge { message, .. } => message.clone(),
            Failure::Api {
                message,
                skew_seconds,
                code,
                ..
            } => match skew_seconds {
                Some(skew) if is_clock_code(code) => format!(
                    "{message} (the local clock is {} the server's Date header by {})",
                    if *skew >= 0 { "ahead of" } else { "behind" },
                    human_seconds(skew.unsigned_abs())
                ),
                _ => message.clone(),
            },
            Failure::Redirect { status, location } => {
                format!("the endpoint answered {status} redirecting to {location:?}; redirects are not followed")
            }
        }
    }

    /// HTTP status, when an answer arrived.
    pub fn status(&self) -> Option<u16> {
        match self {
            Failure::Api { status, .. }
            | Failure::Redirect { status, .. }
            | Failure::UnexpectedContentType { status, .. }
            | Failure::TooLarge { status, .. } => Some(*status),
            Failure::Malformed { .. } => Some(200),
            _ => None,
        }
    }

    /// The service's RequestId, when known.
    pub fn request_id(&self) -> Option<String> {
        match self {
            Failure::Api { request_id, .. } | Failure::Malformed { request_id, .. } => {
                request_id.clone()
            }
            _ => None,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Failure::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

fn human_seconds(total: u64) -> String {
    let (m, s) = (total / 60, total % 60);
    if m > 0 {
        format!("{m} min {s} s")
    } else {
        format!("{s} s")
    }
}

fn is_clock_code(code: &str) -> bool {
    code.starts_with("InvalidTimeStamp")
}

/// Whether, and on which count, a failed attempt may be tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Throttled: counts against `max_throttled_attempts`; feeds the rate limiter.
    Throttled,
    /// Transient (5xx, timeout, reset): counts against `max_attempts`.
    Transient,
    /// The connection never opened, so even a mutation may be resent.
    NotSent,
    /// `SignatureNonceUsed`: once more with a new nonce.
    NonceReused,
    /// A 200 that did not decode: one more try.
    MalformedOnce,
    /// Not retried.
    Never,
}

/// What [`classify`] decided about one failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// How the walk and the removal treat the failure.
    pub class: FailureClass,
    /// Whether to try again.
    pub retry: Retry,
}

/// The whole policy table of docs/fault-model.md in one place. Classifies by the service's `Code`
/// first, because throttling arrives as HTTP 400; the status only decides for bodies without
/// a code. For a mutation (`mutating`), only failures proving the request never ran are
/// retryable: connect failures, throttling answers, a rejected nonce.
pub fn classify(failure: &Failure, mutating: bool) -> Decision {
    use FailureClass as C;
    let (class, retry) = match failure {
        Failure::Connect { .. } => (C::Transient, Retry::NotSent),
        Failure::Timeout { .. } | Failure::Reset { .. } => (C::Transient, Retry::Transient),
        Failure::Redirect { .. } => (C::Rejected, Retry::Never),
        Failure::Malformed { .. } => (C::Malformed, Retry::MalformedOnce),
        Failure::UnexpectedContentType { .. } | Failure::TooLarge { .. } => {
            (C::Malformed, Retry::Never)
        }
        Failure::Api { status, code, .. } => classify_code(*status, code),
    };
    let retry = match retry {
        Retry::Transient | Retry::MalformedOnce if mutating => Retry::Never,
        other => other,
    };
    Decision { class, retry }
}

fn classify_code(status: u16, code: &str) -> (FailureClass, Retry) {
    use FailureClass as C;
    const CREDENTIAL_PREFIXES: [&str; 5] = [
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "InvalidSecurityToken",
        "MissingSecurityToken",
        "IncompleteSignature",
    ];
    if code.starts_with("Throttling") || code == "Rejected.Throttling" || status == 429 {
        (C::Transient, Retry::Throttled)
    } else if code == "SignatureNonceUsed" {
        (C::Transient, Retry::NonceReused)
    } else if is_clock_code(code) {
        (C::ClockSkew, Retry::Never)
    } else if CREDENTIAL_PREFIXES.iter().any(|p| code.starts_with(p)) {
        (C::Credentials, Retry::Never)
    } else if code.starts_with("Forbidden") || code == "NoPermission" {
        (C::Permission, Retry::Never)
    } else if code.starts_with("NotFound") {
        (C::NotFound, Retry::Never)
    } else if matches!(
        code,
        "InternalError" | "InternalFailure" | "UnknownError" | "ServiceUnavailable"
    ) || status >= 500
    {
        (C::Transient, Retry::Transient)
    } else {
        (C::Rejected, Retry::Never)
    }
}

/// Limits of the retry loop (docs/fault-model.md numbers by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Attempts for transient failures of reads.
    pub max_attempts: u32,
    /// Attempts for throttled reads.
    pub max_throttled_attempts: u32,
    /// Sends of one mutation (only for provably-not-run failures).
    pub max_write_sends: u32,
    /// First backoff ceiling.
    pub base: Duration,
    /// Largest wait, also the cap on a server hint.
    pub cap: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            max_throttled_attempts: 8,
            max_write_sends: 3,
            base: Duration::from_secs(1),
            cap: Duration::from_secs(20),
        }
    }
}

/// The wait before retry number `retry` (1 for the first retry): the server's hint capped at
/// `cap`, else full jitter, `unit` (in `[0, 1]`) × min(cap, base·2^(retry−1)).
pub fn backoff(policy: &Policy, retry: u32, hint: Option<Duration>, unit: f64) -> Duration {
    if let Some(hint) = hint {
        return hint.min(policy.cap);
    }
    let exponent = retry.saturating_sub(1).min(30);
    let ceiling = policy.base.saturating_mul(1u32 << exponent).min(policy.cap);
    ceiling.mul_f64(unit.clamp(0.0, 1.0))
}

/// Retry tokens shared by every call of one run: a retry costs 5 (10 after a timeout), a
/// first-try success earns 1 back, up to the initial amount. When it runs dry, failing calls
/// fail at once instead of piling retries onto a struggling service.
#[derive(Debug)]
pub struct RetryBudget {
    tokens: AtomicU32,
    max: u32,
}

/// Tokens one retry costs.
pub const RETRY_COST: u32 = 5;
/// Tokens a retry after a timeout costs.
pub const TIMEOUT_RETRY_COST: u32 = 10;

impl RetryBudget {
    /// A full budget of `tokens`.
    pub fn new(tokens: u32) -> Self {
        Self {
            tokens: AtomicU32::new(tokens),
            max: tokens,
        }
    }

    /// Takes `cost` tokens if there are that many.
    pub fn try_spend(&self, cost: u32) -> bool {
        self.tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| t.checked_sub(cost))
            .is_ok()
    }

    /// Gives one token back for a first-try success.
    pub fn earn(&self) {
        let _ = self
            .tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                (t < self.max).then_some(t + 1)
            });
    }

    /// Tokens left.
    pub fn remaining(&self) -> u32 {
        self.tokens.load(Ordering::Acquire)
    }
}

/// Counters the loop updates (the client adds `requests`).
#[derive(Debug, Default)]
pub struct Counters {
    /// Attempts sent.
    pub requests: AtomicU64,
    /// Throttling answers.
    pub throttled: AtomicU64,
    /// Retries made.
    pub retries: AtomicU64,
    /// `SignatureNonceUsed` answers (a bug if ever non-zero).
    pub nonce_reused: AtomicU64,
    /// Whether any attempt of this run has connected to the endpoint.
    pub reached: AtomicBool,
}

/// Attempts for a connect failure while no attempt of the run has ever connected: a refused
/// or unreachable endpoint at the start is almost always a wrong or stopped endpoint, so the
/// run says so within seconds instead of spending the full schedule (docs/fault-model.md A6). Once the
/// endpoint has answered, connect failures get the normal `max_attempts`.
pub const UNREACHED_CONNECT_ATTEMPTS: u32 = 2;

/// How a call ended without success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exhausted {
    /// The last failure.
    pub failure: Failure,
    /// Its classification.
    pub decision: Decision,
    /// Attempts made.
    pub attempts: u32,
    /// True when a retry was allowed but the budget was empty.
    pub budget_empty: bool,
}

/// Runs `attempt(n)` (n = 1, 2, …) until it succeeds or the policy says stop. Every call of
/// `attempt` must re-sign (new nonce and timestamp). Sleeps with `tokio::time`.
pub async fn run<T, F, Fut>(
    policy: &Policy,
    budget: &RetryBudget,
    counters: &Counters,
    mutating: bool,
    mut attempt: F,
) -> Result<(T, u32), Exhausted>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    let mut attempts = 0u32;
    let mut retries = 0u32;
    let mut nonce_retries = 0u32;
    let mut malformed_retries = 0u32;
    loop {
        attempts += 1;
        let failure = match attempt(attempts).await {
            Ok(value) => {
                counters.reached.store(true, Ordering::Relaxed);
                if attempts == 1 {
                    budget.earn();
                }
                return Ok((value, attempts));
            }
            Err(failure) => failure,
        };
        if !matches!(failure, Failure::Connect { .. }) {
            counters.reached.store(true, Ordering::Relaxed);
        }
        let decision = classify(&failure, mutating);
        let stop = |budget_empty| Exhausted {
            failure: failure.clone(),
            decision,
            attempts,
            budget_empty,
        };
        let allowed = match decision.retry {
            Retry::Never => false,
            _ if mutating => attempts < policy.max_write_sends,
            Retry::Throttled => attempts < policy.max_throttled_attempts,
            Retry::NotSent if !counters.reached.load(Ordering::Relaxed) => {
                attempts < policy.max_attempts.min(UNREACHED_CONNECT_ATTEMPTS)
            }
            Retry::Transient | Retry::NotSent => attempts < policy.max_attempts,
            Retry::NonceReused => nonce_retries < 1,
            Retry::MalformedOnce => malformed_retries < 1,
        };
        match decision.retry {
            Retry::Throttled => {
                counters.throttled.fetch_add(1, Ordering::Relaxed);
            }
            Retry::NonceReused => {
                counters.nonce_reused.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
        if !allowed {
            return Err(stop(false));
        }
        let cost = if matches!(failure, Failure::Timeout { .. }) {
            TIMEOUT_RETRY_COST
        } else {
            RETRY_COST
        };
        if !budget.try_spend(cost) {
            return Err(stop(true));
        }
        match decision.retry {
            Retry::NonceReused => nonce_retries += 1,
            Retry::MalformedOnce => malformed_retries += 1,
            _ => {}
        }
        retries += 1;
        counters.retries.fetch_add(1, Ordering::Relaxed);
        // A reused nonce is our bug, not the server's load: no reason to wait.
        let wait = match decision.retry {
            Retry::NonceReused => Duration::ZERO,
            _ => backoff(
                policy,
                retries,
                failure.retry_after(),
                rand::random::<f64>(),
            ),
        };
        tracing::debug!(
            attempt = attempts,
            code = %failure.code(),
            wait_ms = wait.as_millis() as u64,
            "retrying"
        );
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use tokio::time::Instant;

    fn api(status: u16, code: &str) -> Failure {
        api_with(status, code, None, None)
    }

    fn api_with(
        status: u16,
        code: &str,
        retry_after: Option<Duration>,
        skew_seconds: Option<i64>,
    ) -> Failure {
        Failure::Api {
            status,
            code: code.into(),
            message: "m".into(),
            request_id: Some("R".into()),
            retry_after,
            skew_seconds,
        }
    }

    fn throttled(hint_ms: Option<u64>) -> Failure {
        api_with(
            400,
            "Throttling.User",
            hint_ms.map(Duration::from_millis),
            None,
        )
    }

    fn reset() -> Failure {
        Failure::Reset {
            message: "connection reset".into(),
        }
    }

    #[test]
    fn classification_table() {
        use FailureClass as C;
        let cases: &[(Failure, C, Retry)] = &[
            (api(400, "Throttling"), C::Transient, Retry::Throttled),
            (api(400, "Throttling.Api"), C::Transient, Retry::Throttled),
            (
                api(403, "Rejected.Throttling"),
                C::Transient,
                Retry::Throttled,
            ),
            (api(429, "HttpError"), C::Transient, Retry::Throttled),
            (
                api(400, "SignatureNonceUsed"),
                C::Transient,
                Retry::NonceReused,
            ),
            (
                api(400, "InvalidTimeStamp.Expired"),
                C::ClockSkew,
                Retry::Never,
            ),
            (
                api(400, "SignatureDoesNotMatch"),
                C::Credentials,
                Retry::Never,
            ),
            (
                api(404, "InvalidAccessKeyId.NotFound"),
                C::Credentials,
                Retry::Never,
            ),
            (
                api(400, "InvalidAccessKeyId.Inactive"),
                C::Credentials,
                Retry::Never,
            ),
            (
                api(400, "InvalidSecurityToken.Expired"),
                C::Credentials,
                Retry::Never,
            ),
            (
                api(400, "MissingSecurityToken"),
                C::Credentials,
                Retry::Never,
            ),
            (
                api(400, "IncompleteSignature"),
                C::Credentials,
                Retry::Never,
            ),
            (api(403, "Forbidden.RAM"), C::Permission, Retry::Never),
            (api(403, "NoPermission"), C::Permission, Retry::Never),
            (api(400, "NotFoundApiGroup"), C::NotFound, Retry::Never),
            (api(500, "InternalError"), C::Transient, Retry::Transient),
            (
                api(400, "ServiceUnavailable"),
                C::Transient,
                Retry::Transient,
            ),
            (api(502, "HttpError"), C::Transient, Retry::Transient),
            (api(400, "InvalidParameter"), C::Rejected, Retry::Never),
            (reset(), C::Transient, Retry::Transient),
            (
                Failure::Connect {
                    message: "refused".into(),
                },
                C::Transient,
                Retry::NotSent,
            ),
            (
                Failure::Timeout {
                    message: "t".into(),
                },
                C::Transient,
                Retry::Transient,
            ),
            (
                Failure::Malformed {
                    message: "m".into(),
                    request_id: None,
                },
                C::Malformed,
                Retry::MalformedOnce,
            ),
            (
                Failure::TooLarge {
                    status: 200,
                    message: "m".into(),
                },
                C::Malformed,
                Retry::Never,
            ),
            (
                Failure::Redirect {
                    status: 302,
                    location: "x".into(),
                },
                C::Rejected,
                Retry::Never,
            ),
        ];
        for (failure, class, retry) in cases {
            assert_eq!(
                classify(failure, false),
                Decision {
                    class: *class,
                    retry: *retry
                },
                "{failure:?}"
            );
        }
    }

    #[test]
    fn mutations_resend_only_when_provably_not_run() {
        assert_eq!(classify(&reset(), true).retry, Retry::Never);
        assert_eq!(
            classify(&api(503, "ServiceUnavailable"), true).retry,
            Retry::Never
        );
        assert_eq!(
            classify(
                &Failure::Malformed {
                    message: "m".into(),
                    request_id: None
                },
                true
            )
            .retry,
            Retry::Never
        );
        assert_eq!(classify(&throttled(None), true).retry, Retry::Throttled);
        assert_eq!(
            classify(
                &Failure::Connect {
                    message: "x".into()
                },
                true
            )
            .retry,
            Retry::NotSent
        );
    }

    #[test]
    fn backoff_bounds_and_hint_cap() {
        let p = Policy::default();
        for retry in 1..12 {
            let ceiling = Duration::from_secs(1 << (retry - 1)).min(p.cap);
            assert_eq!(backoff(&p, retry, None, 1.0), ceiling);
            assert_eq!(backoff(&p, retry, None, 0.0), Duration::ZERO);
            assert!(backoff(&p, retry, None, 0.37) <= ceiling);
        }
        assert_eq!(
            backoff(&p, 3, Some(Duration::from_millis(5)), 0.9),
            Duration::from_millis(5)
        );
        assert_eq!(backoff(&p, 1, Some(Duration::from_secs(120)), 0.9), p.cap);
    }

    #[test]
    fn budget_accounting_is_exact() {
        let b = RetryBudget::new(12);
        assert!(b.try_spend(RETRY_COST));
        assert!(!b.try_spend(TIMEOUT_RETRY_COST));
        assert_eq!(b.remaining(), 7);
        b.earn();
        assert_eq!(b.remaining(), 8);
        for _ in 0..10 {
            b.earn();
        }
        assert_eq!(b.remaining(), 12);
    }

    /// An attempt function answering from a script, recording when each attempt started.
    type Starts = std::sync::Arc<Mutex<Vec<Instant>>>;

    fn scripted(
        script: Vec<Result<u32, Failure>>,
    ) -> (
        impl FnMut(u32) -> std::future::Ready<Result<u32, Failure>>,
        Starts,
    ) {
        let starts = std::sync::Arc::new(Mutex::new(Vec::new()));
        let log = starts.clone();
        let mut script = script.into_iter();
        let f = move |_n: u32| {
            log.lock().unwrap().push(Instant::now());
            std::future::ready(script.next().unwrap_or(Err(reset())))
        };
        (f, starts)
    }

    #[tokio::test(start_paused = true)]
    async fn server_hint_is_the_wait() {
        let (f, starts) = scripted(vec![
            Err(throttled(Some(5))),
            Err(throttled(Some(5))),
            Ok(7),
        ]);
        let counters = Counters::default();
        let budget = RetryBudget::new(500);
        let (v, attempts) = run(&Policy::default(), &budget, &counters, false, f)
            .await
            .unwrap();
        assert_eq!((v, attempts), (7, 3));
        let s = starts.lock().unwrap();
        assert_eq!(s[1] - s[0], Duration::from_millis(5));
        assert_eq!(s[2] - s[1], Duration::from_millis(5));
        assert_eq!(counters.throttled.load(Ordering::Relaxed), 2);
        assert_eq!(counters.retries.load(Ordering::Relaxed), 2);
        assert_eq!(budget.remaining(), 490);
    }

    #[tokio::test(start_paused = true)]
    async fn jitter_schedule_without_hint_and_throttle_limit() {
        let (f, starts) = scripted(vec![Err(throttled(None)); 20]);
        let counters = Counters::default();
        let budget = RetryBudget::new(500);
        let err = run(&Policy::default(), &budget, &counters, false, f)
            .await
            .unwrap_err();
        assert_eq!(err.attempts, 8);
        assert_eq!(err.failure.code(), "Throttling.User");
        assert!(!err.budget_empty);
        let s = starts.lock().unwrap();
        for (i, pair) in s.windows(2).enumerate() {
            let ceiling = Duration::from_secs(1 << i).min(Duration::from_secs(20));
            assert!(
                pair[1] - pair[0] <= ceiling,
                "retry {} waited too long",
                i + 1
            );
        }
        assert_eq!(budget.remaining(), 500 - 7 * RETRY_COST);
    }

    #[tokio::test(start_paused = true)]
    async fn transient_limit_and_big_hint_capped() {
        let (f, _) = scripted(vec![]);
        let err = run(
            &Policy::default(),
            &RetryBudget::new(500),
            &Counters::default(),
            false,
            f,
        )
        .await
        .unwrap_err();
        assert_eq!(err.attempts, 5);
        assert_eq!(err.failure.code(), "ConnectionReset");

        let (f, starts) = scripted(vec![Err(throttled(Some(600_000))), Ok(1)]);
        run(
            &Policy::default(),
            &RetryBudget::new(500),
            &Counters::default(),
            false,
            f,
        )
        .await
        .unwrap();
        let s = starts.lock().unwrap();
        assert_eq!(s[1] - s[0], Duration::from_secs(20));
    }

    #[tokio::test(start_paused = true)]
    async fn never_retried_classes_make_one_attempt() {
        for failure in [
            api(403, "Forbidden.RAM"),
            api(400, "SignatureDoesNotMatch"),
            api(400, "InvalidTimeStamp.Expired"),
            api(404, "NotFoundApi"),
        ] {
            let (f, _) = scripted(vec![Err(failure.clone())]);
            let err = run(
                &Policy::default(),
                &RetryBudget::new(500),
                &Counters::default(),
                false,
                f,
            )
            .await
            .unwrap_err();
            assert_eq!(err.attempts, 1, "{failure:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn nonce_reuse_once_malformed_once() {
        let counters = Counters::default();
        let (f, _) = scripted(vec![
            Err(api(400, "SignatureNonceUsed")),
            Err(api(400, "SignatureNonceUsed")),
        ]);
        let err = run(
            &Policy::default(),
            &RetryBudget::new(500),
            &counters,
            false,
            f,
        )
        .await
        .unwrap_err();
        assert_eq!(err.attempts, 2);
        assert_eq!(counters.nonce_reused.load(Ordering::Relaxed), 2);

        let malformed = Failure::Malformed {
            message: "m".into(),
            request_id: None,
        };
        let (f, _) = scripted(vec![Err(malformed.clone()); 3]);
        let err = run(
            &Policy::default(),
            &RetryBudget::new(500),
            &Counters::default(),
            false,
            f,
        )
        .await
        .unwrap_err();
        assert_eq!(err.attempts, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn writes_stop_after_an_unclear_failure() {
        let (f, _) = scripted(vec![Err(api(500, "InternalError")), Ok(1)]);
        let err = run(
            &Policy::default(),
            &RetryBudget::new(500),
            &Counters::default(),
            true,
            f,
        )
        .await
        .unwrap_err();
        assert_eq!(err.attempts, 1);

        let (f, _) = scripted(vec![Err(throttled(Some(5))); 10]);
        let err = run(
            &Policy::default(),
            &RetryBudget::new(500),
            &Counters::default(),
            true,
            f,
        )
        .await
        .unwrap_err();
        assert_eq!(err.attempts, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn empty_budget_fails_at_once() {
        let budget = RetryBudget::new(12);
        let (f, _) = scripted(vec![]);
        let err = run(&Policy::default(), &budget, &Counters::default(), false, f)
            .await
            .unwrap_err();
        // 12 tokens pay for two retries (5 each); the third retry finds 2 tokens.
        assert_eq!(err.attempts, 3);
        assert!(err.budget_empty);
        assert_eq!(budget.remaining(), 2);
    }

    fn refused() -> Failure {
        Failure::Connect {
            message: "Connection refused".into(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_endpoint_never_reached_gets_two_connect_attempts_then_the_full_schedule() {
        let counters = Counters::default();
        let (f, _) = scripted(vec![Err(refused()); 10]);
        let err = run(
            &Policy::default(),
            &RetryBudget::new(500),
            &counters,
            false,
            f,
        )
        .await
        .unwrap_err();
        assert_eq!(err.attempts, UNREACHED_CONNECT_ATTEMPTS);
        assert_eq!(err.failure.code(), "ConnectFailed");

        // Once any answer has arrived, a refused connection is a blip: the normal limit.
        let (f, _) = scripted(vec![Err(reset()), Ok(1)]);
        run(
            &Policy::default(),
            &RetryBudget::new(500),
            &counters,
            false,
            f,
        )
        .await
        .unwrap();
        assert!(counters.reached.load(Ordering::Relaxed));
        let (f, _) = scripted(vec![Err(refused()); 10]);
        let err = run(
            &Policy::default(),
            &RetryBudget::new(500),
            &counters,
            false,
            f,
        )
        .await
        .unwrap_err();
        assert_eq!(err.attempts, Policy::default().max_attempts);
    }

    #[test]
    fn clock_skew_message_names_the_skew() {
        let f = api_with(400, "InvalidTimeStamp.Expired", None, Some(-1230));
        assert!(f
            .message()
            .contains("behind the server's Date header by 20 min 30 s"));
    }
}

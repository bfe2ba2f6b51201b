//! Credentials → a signed CloudAPI client. `read` retries what the policy in FAULTS.md allows,
//! re-signing every attempt; `write` sends a mutation again only when the failure proves it
//! never ran; `pages` walks a list action to the end and detects drift. This module never
//! logs a secret, a signature or a full URL.
//!
//! INTERFACE SKELETON: the bodies are filled in by the client work; the signatures are the
//! contract the walk and the removal build on.

use crate::credentials::Credentials;
use crate::wire::actions::{Action, PagedAction};
use std::time::Duration;

/// Where requests go: `https://apigateway.<region>.aliyuncs.com`, or a validated override.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Base URL, e.g. `http://127.0.0.1:8080/`.
    pub url: url::Url,
}

/// Tunables of the client; defaults follow FAULTS.md.
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
}

/// A signed CloudAPI client; cheap to clone, shared by every task of a walk.
#[derive(Clone)]
pub struct Client {}

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

/// Counters of one run, for `--verbose` and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Requests sent (every attempt).
    pub requests: u64,
    /// Answers that were throttling.
    pub throttled: u64,
    /// Retries made.
    pub retries: u64,
}

impl Client {
    /// Builds a client; the endpoint was validated when it was parsed.
    pub fn new(_config: ClientConfig, _credentials: Credentials) -> Result<Client, CallError> {
        todo!()
    }

    /// Sends a read action, retrying what the policy allows.
    pub async fn read<A: Action>(&self, _action: &A) -> Result<A::Response, CallError> {
        todo!()
    }

    /// Sends a mutating action; resent only when the request provably never ran.
    pub async fn write<A: Action>(&self, _action: &A) -> Result<A::Response, CallError> {
        todo!()
    }

    /// Every item of a paged list, or a `PagingDrift` error when pages disagree.
    pub async fn pages<A: PagedAction>(&self, _action: A) -> Result<Vec<A::Item>, CallError> {
        todo!()
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        todo!()
    }
}

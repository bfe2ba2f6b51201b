//! Unsigned GETs and PUTs for the ECS instance metadata service (docs/cloudapi-notes.md §6.5), which is not
//! a signed RPC API: text and JSON over plain HTTP at a link-local address; and the unsigned
//! form POST of STS's AssumeRoleWithOIDC (docs/credentials.md). In: a
//! [`ClientConfig`] whose endpoint is a valid [`Endpoint`] or exactly [`ECS_METADATA_URL`], a
//! path and headers. Out: the body of a 2xx answer, or a [`CallError`]. It shares the signed
//! client's transport (timeouts, size cap, no redirects, no URL in any message) and its retry
//! policy (classification, backoff, budget). It holds no credentials: the plain-HTTP exception
//! for the metadata address can never carry a signature, and the signed [`super::Client`]
//! still refuses that address.

use super::retry::{self, Counters, RetryBudget};
use super::{call_error, policy_of, setup_error, transport, CallError, ClientConfig, Endpoint};
use super::{FailureClass, Stats};
use bytes::Bytes;
use std::sync::atomic::Ordering;

/// The ECS instance metadata service: plain HTTP by design, link-local (docs/cloudapi-notes.md §6.5). The
/// one non-loopback `http://` address an [`UnsignedClient`] accepts.
pub const ECS_METADATA_URL: &str = "http://100.100.100.200/";

/// A client for plain GETs and PUTs, with the signed client's limits and retries.
#[derive(Debug)]
pub struct UnsignedClient {
    transport: transport::Transport,
    policy: retry::Policy,
    budget: RetryBudget,
    counters: Counters,
}

impl UnsignedClient {
    /// Builds the client. The endpoint must pass [`Endpoint::parse`] (https, or http to
    /// loopback) or be exactly [`ECS_METADATA_URL`].
    #[allow(clippy::result_large_err)]
    pub fn new(config: ClientConfig) -> Result<UnsignedClient, CallError> {
        let url = config.endpoint.url.as_str();
        if url != ECS_METADATA_URL {
            Endpoint::parse(url).map_err(|e| setup_error("InvalidEndpoint", e.to_string()))?;
        }
        let transport = transport::Transport::new(&config)
            .map_err(|e| setup_error("ClientBuildFailed", e.without_url().to_string()))?;
        Ok(UnsignedClient {
            transport,
            policy: policy_of(&config),
            budget: RetryBudget::new(config.retry_budget),
            counters: Counters::default(),
        })
    }

    /// GETs `path` (relative to the endpoint); `what` names the call in errors.
    pub async fn get(
        &self,
        what: &'static str,
        path: &str,
        headers: &[(&'static str, &str)],
    ) -> Result<Bytes, CallError> {
        self.send(reqwest::Method::GET, what, path, headers, None)
            .await
    }

    /// PUTs an empty body to `path` (relative to the endpoint); `what` names the call in errors.
    pub async fn put(
        &self,
        what: &'static str,
        path: &str,
        headers: &[(&'static str, &str)],
    ) -> Result<Bytes, CallError> {
        self.send(reqwest::Method::PUT, what, path, headers, None)
            .await
    }

    /// POSTs `form` as an `application/x-www-form-urlencoded` body to `path` (relative to the
    /// endpoint): what STS's anonymous AssumeRoleWithOIDC takes, keeping the token out of the
    /// URL; `what` names the call in errors.
    pub async fn post_form(
        &self,
        what: &'static str,
        path: &str,
        form: &[(&str, &str)],
    ) -> Result<Bytes, CallError> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        self.send(
            reqwest::Method::POST,
            what,
            path,
            &[],
            Some(body.into_bytes()),
        )
        .await
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        let c = &self.counters;
        Stats {
            requests: c.requests.load(Ordering::Relaxed),
            throttled: c.throttled.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            nonce_reused: c.nonce_reused.load(Ordering::Relaxed),
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        what: &'static str,
        path: &str,
        headers: &[(&'static str, &str)],
        form: Option<Vec<u8>>,
    ) -> Result<Bytes, CallError> {
        let url = self.transport.join(path).map_err(|e| CallError {
            action: what,
            scope: path.to_owned(),
            code: "InvalidPath".into(),
            message: e.to_string(),
            request_id: None,
            status: None,
            attempts: 0,
            class: FailureClass::Rejected,
        })?;
        let result = retry::run(
            &self.policy,
            &self.budget,
            &self.counters,
            false,
            |attempt| {
                let (method, url, form) = (method.clone(), url.clone(), form.clone());
                async move {
                    self.counters.requests.fetch_add(1, Ordering::Relaxed);
                    let outcome = self
                        .transport
                        .send_unsigned(method, url, headers, form)
                        .await;
                    if let Err(failure) = &outcome {
                        tracing::debug!(
                            action = what,
                            attempt,
                            status = failure.status(),
                            code = %failure.code(),
                            "failed"
                        );
                    }
                    outcome.map(|answer| answer.body)
                }
            },
        )
        .await;
        result
            .map(|(body, _)| body)
            .map_err(|exhausted| call_error(what, path, exhausted))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_metadata_address_is_excepted_from_the_loopback_rule() {
        let config = |url: &str| {
            ClientConfig::new(Endpoint {
                url: url::Url::parse(url).unwrap(),
            })
        };
        assert!(UnsignedClient::new(config(ECS_METADATA_URL)).is_ok());
        assert!(UnsignedClient::new(config("http://127.0.0.1:9/")).is_ok());
        for bad in [
            "http://100.100.100.201/",
            "http://10.1.2.3/",
            "http://example.com/",
        ] {
            let err = UnsignedClient::new(config(bad)).unwrap_err();
            assert_eq!(err.code, "InvalidEndpoint", "{bad}");
        }
        // The signed client never talks plain HTTP to the metadata address.
        let err = crate::client::Client::new(
            config(ECS_METADATA_URL),
            crate::auth::Credentials::new("a".into(), "b".into(), None),
        )
        .unwrap_err();
        assert_eq!(err.code, "InvalidEndpoint");
    }
}

//! One HTTP attempt. In: a signed query string (or, for the metadata service, a path and
//! headers). Out: the body of a 200 JSON answer (any 2xx body when unsigned), or a
//! [`Failure`] saying exactly what went wrong on the wire. Enforces the per-attempt timeout
//! and the response size cap (on `Content-Length` before reading, and while reading a chunked
//! body), never follows a redirect, and decodes bodies with field paths. Never logs or
//! returns the URL (it carries the signature), and strips the server's string-to-sign from
//! error messages (it carries the AccessKeyId and the STS token).

use super::retry::Failure;
use super::ClientConfig;
use crate::auth::sign::RpcApi;
use bytes::{Bytes, BytesMut};
use reqwest::header::{HeaderMap, CONTENT_LENGTH, CONTENT_TYPE, DATE, LOCATION};
use serde::de::DeserializeOwned;
use std::time::Duration;
use time::OffsetDateTime;

/// Longest excerpt of a body or header quoted in an error.
const EXCERPT_BYTES: usize = 200;

/// The HTTP side of a client, built once.
#[derive(Debug)]
pub struct Transport {
    http: reqwest::Client,
    base: String,
    base_url: url::Url,
    attempt_timeout: Duration,
    max_response_bytes: u64,
}

/// A 200 answer with a JSON (or unlabelled) body.
#[derive(Debug)]
pub struct Answer {
    /// The body.
    pub body: Bytes,
    /// `x-acs-request-id`, when present.
    pub request_id: Option<String>,
}

impl Transport {
    /// Builds the connector: rustls, no redirects, the configured timeouts.
    pub fn new(config: &ClientConfig) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.read_timeout)
            .user_agent(concat!("grantguard/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let mut base = config.endpoint.url.clone();
        base.set_query(None);
        base.set_fragment(None);
        Ok(Self {
            http,
            base: base.to_string(),
            base_url: base,
            attempt_timeout: config.attempt_timeout,
            max_response_bytes: config.max_response_bytes,
        })
    }

    /// The base URL requests go to (no query).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends one request with `query` as the whole query string, with `api`'s method (POST
    /// with an empty body for CloudAPI, GET for STS). `string_to_sign` is what we signed: if
    /// the server answers `SignatureDoesNotMatch` with its own, the two are compared to say
    /// whether the secret or the canonical form is wrong.
    pub async fn send(
        &self,
        api: &RpcApi,
        action: &'static str,
        query: &str,
        string_to_sign: &str,
    ) -> Result<Answer, Failure> {
        self.within_limit(self.attempt(api, action, query, string_to_sign))
            .await
    }

    /// `path` resolved against the base URL.
    pub fn join(&self, path: &str) -> Result<url::Url, url::ParseError> {
        self.base_url.join(path)
    }

    /// Sends one unsigned `method` (GET, PUT with an empty body, or POST of a url-encoded `form`)
    /// to `url` (from [`Self::join`]), with `headers`, under the same timeouts, size cap and redirect refusal as [`Self::send`].
    /// Any 2xx answer is accepted whatever its content type (the ECS metadata service answers
    /// text); anything else is a [`Failure`].
    pub async fn send_unsigned(
        &self,
        method: reqwest::Method,
        url: url::Url,
        headers: &[(&'static str, &str)],
        form: Option<Vec<u8>>,
    ) -> Result<Answer, Failure> {
        self.within_limit(self.attempt_unsigned(method, url, headers, form))
            .await
    }

    async fn within_limit(
        &self,
        attempt: impl std::future::Future<Output = Result<Answer, Failure>>,
    ) -> Result<Answer, Failure> {
        match tokio::time::timeout(self.attempt_timeout, attempt).await {
            Ok(result) => result,
            Err(_) => Err(Failure::Timeout {
                message: format!(
                    "no complete answer within the per-attempt limit of {} s",
                    self.attempt_timeout.as_secs_f64()
                ),
            }),
        }
    }

    async fn attempt(
        &self,
        api: &RpcApi,
        action: &'static str,
        query: &str,
        string_to_sign: &str,
    ) -> Result<Answer, Failure> {
        let url = format!("{}?{query}", self.base);
        let request = if api.method.eq_ignore_ascii_case("GET") {
            self.http.get(url)
        } else {
            self.http
                .post(url)
                .header(CONTENT_LENGTH, "0")
                .body(Vec::<u8>::new())
        };
        let request = request
            .header("x-acs-action", action)
            .header("x-acs-version", api.version);
        let (status, headers, body) = self.exchange(request).await?;
        // Printed in the help line of any failure: quoted like a body (printable, bounded).
        let header_request_id =
            header_str(&headers, "x-acs-request-id").map(|id| excerpt(id.as_bytes()));
        if status >= 300 {
            return Err(api_failure(
                status,
                &headers,
                &body,
                header_request_id,
                string_to_sign,
            ));
        }
        if let Some(content_type) = header_str(&headers, CONTENT_TYPE.as_str()) {
            if !content_type.to_ascii_lowercase().contains("json") {
                return Err(Failure::UnexpectedContentType {
                    status,
                    message: format!(
                        "expected JSON but the answer is {}: {}",
                        excerpt(content_type.as_bytes()),
                        excerpt(&body)
                    ),
                });
            }
        }
        Ok(Answer {
            body,
            request_id: header_request_id,
        })
    }

    async fn attempt_unsigned(
        &self,
        method: reqwest::Method,
        url: url::Url,
        headers: &[(&'static str, &str)],
        form: Option<Vec<u8>>,
    ) -> Result<Answer, Failure> {
        let mut request = self.http.request(method.clone(), url);
        if let Some(form) = form {
            request = request
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(form);
        } else if method != reqwest::Method::GET {
            request = request.header(CONTENT_LENGTH, "0").body(Vec::<u8>::new());
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let (status, headers, body) = self.exchange(request).await?;
        let header_request_id =
            header_str(&headers, "x-acs-request-id").map(|id| excerpt(id.as_bytes()));
        if status >= 300 {
            return Err(api_failure(status, &headers, &body, header_request_id, ""));
        }
        Ok(Answer {
            body,
            request_id: header_request_id,
        })
    }

    /// Sends `request` and reads the answer: redirects refused, the size cap enforced on
    /// `Content-Length` and while reading.
    async fn exchange(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<(u16, HeaderMap, Bytes), Failure> {
        let mut response = request.send().await.map_err(request_failure)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        if response.status().is_redirection() {
            return Err(Failure::Redirect {
                status,
                location: headers
                    .get(LOCATION)
                    .map(|v| excerpt(v.as_bytes()))
                    .unwrap_or_default(),
            });
        }
        if let Some(length) = response.content_length() {
            if length > self.max_response_bytes {
                return Err(Failure::TooLarge {
                    status,
                    message: format!(
                        "Content-Length {length} exceeds the limit of {} bytes; the body was not read",
                        self.max_response_bytes
                    ),
                });
            }
        }
        let body = read_capped(&mut response, self.max_response_bytes).await?;
        Ok((status, headers, body))
    }
}

/// Reads the body chunk by chunk and stops as soon as it passes `cap`.
async fn read_capped(response: &mut reqwest::Response, cap: u64) -> Result<Bytes, Failure> {
    let mut body = BytesMut::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() as u64 + chunk.len() as u64 > cap {
                    return Err(Failure::TooLarge {
                        status: response.status().as_u16(),
                        message: format!(
                            "the body grew past the limit of {cap} bytes; reading stopped"
                        ),
                    });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body.freeze()),
            Err(error) if error.is_timeout() => {
                return Err(Failure::Timeout {
                    message: format!("body stalled: {}", describe(&error)),
                })
            }
            Err(error) => {
                return Err(Failure::Reset {
                    message: format!("incomplete body: {}", describe(&error)),
                })
            }
        }
    }
}

/// A failed send: the connector never connected (safe to resend), or a timeout, or the
/// connection broke after the request may have left.
fn request_failure(error: reqwest::Error) -> Failure {
    let message = describe(&error);
    if error.is_connect() {
        Failure::Connect { message }
    } else if error.is_timeout() {
        Failure::Timeout { message }
    } else {
        Failure::Reset { message }
    }
}

/// The error and its causes, without the URL (it holds the signature).
fn describe(error: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(error);
    while let Some(cause) = source {
        parts.push(cause.to_string());
        source = cause.source();
    }
    if parts.is_empty() {
        parts.push(if error.is_body() {
            "body error".into()
        } else {
            "request error".into()
        });
    }
    parts.dedup();
    sanitize(&parts.join(": "))
}

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .filter(|v| !v.is_empty())
}

/// A 3xx-free, ≥ 300 answer: the service's envelope when there is one, else the status.
/// Public so the fuzz target drives the exact code a real error answer goes through.
pub fn api_failure(
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    header_request_id: Option<String>,
    string_to_sign: &str,
) -> Failure {
    let envelope = serde_json::from_slice::<grantguard_wire::models::ErrorBody>(body)
        .ok()
        .filter(|e| !e.code.is_empty());
    let retry_after = header_str(headers, "x-acs-retry-after")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis);
    let skew_seconds = header_str(headers, DATE.as_str())
        .and_then(|d| parse_http_date(&d))
        .map(|server| (OffsetDateTime::now_utc() - server).whole_seconds());
    match envelope {
        Some(e) => Failure::Api {
            status,
            message: match signature_diagnosis(&e.code, &e.message, string_to_sign) {
                Some(diagnosis) => format!("{} ({diagnosis})", server_message(&e.message)),
                None => server_message(&e.message),
            },
            code: excerpt(e.code.as_bytes()),
            request_id: Some(e.request_id)
                .filter(|r| !r.is_empty())
                .or(header_request_id)
                .map(|id| excerpt(id.as_bytes())),
            retry_after,
            skew_seconds,
        },
        None => Failure::Api {
            status,
            code: "HttpError".into(),
            message: format!(
                "HTTP {status} ({}): {}",
                // A header may hold tabs and be of any length: quoted like a body.
                header_str(headers, CONTENT_TYPE.as_str())
                    .map_or_else(|| "no content type".into(), |t| excerpt(t.as_bytes())),
                // Not an envelope, but it may still carry the string-to-sign (a body cut short,
                // a proxy quoting it): the excerpt stops before it.
                excerpt(without_string_to_sign(&String::from_utf8_lossy(body)).as_bytes())
            ),
            request_id: header_request_id.map(|id| excerpt(id.as_bytes())),
            retry_after,
            skew_seconds,
        },
    }
}

/// The service's message, minus the string-to-sign `SignatureDoesNotMatch` appends (it
/// holds the AccessKeyId and any STS token), sanitized and bounded.
fn server_message(message: &str) -> String {
    let mut text = sanitize(without_string_to_sign(message));
    if text.len() > 300 {
        let mut end = 300;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

/// `text` up to the service's "string to sign" marker, lead-in dropped too ("server string
/// to sign is:"): what follows holds the AccessKeyId and any STS token.
fn without_string_to_sign(text: &str) -> &str {
    let lower = text.to_ascii_lowercase();
    let cut = lower.find("string to sign").map_or(text.len(), |at| {
        lower[..at].rfind(['.', ';']).map_or(at, |dot| dot + 1)
    });
    text[..cut].trim()
}

/// For `SignatureDoesNotMatch` carrying the server's string-to-sign: whether it equals ours
/// (then only the secret can differ) or not (the request was canonicalised differently).
fn signature_diagnosis(code: &str, message: &str, ours: &str) -> Option<&'static str> {
    if code != "SignatureDoesNotMatch" {
        return None;
    }
    let marker = "string to sign is:";
    let at = message.to_ascii_lowercase().find(marker)?;
    let theirs = message[at + marker.len()..].trim();
    Some(if theirs == ours {
        "the server signed the same text, so the secret does not match the AccessKeyId"
    } else {
        "the server canonicalised the request differently: a signing mismatch, not a wrong secret"
    })
}

/// The first ≤ 200 bytes, as printable text.
fn excerpt(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(EXCERPT_BYTES)];
    let mut text = sanitize(&String::from_utf8_lossy(head));
    if bytes.len() > EXCERPT_BYTES {
        text.push('…');
    }
    text
}

/// Control characters (terminal escapes, newlines) become spaces.
fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// An IMF-fixdate `Date` header, e.g. `Wed, 01 May 2024 08:30:00 GMT`.
pub fn parse_http_date(value: &str) -> Option<OffsetDateTime> {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::PrimitiveDateTime::parse(value.trim(), &format)
        .ok()
        .map(|t| t.assume_utc())
}

/// Decodes a 200 body; a failure names the action, the field path and the position.
pub fn decode<T: DeserializeOwned>(
    action: &str,
    body: &[u8],
    request_id: Option<String>,
) -> Result<T, Failure> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let decoded = match serde_path_to_error::deserialize::<_, T>(&mut deserializer) {
        Ok(value) => deserializer
            .end()
            .map(|()| value)
            .map_err(|e| (String::from("."), e)),
        Err(error) => Err((error.path().to_string(), error.into_inner())),
    };
    let value = decoded.map_err(|(path, inner)| {
        let what = inner.to_string();
        let what = what.split(" at line ").next().unwrap_or(&what).to_owned();
        let at = if path == "." || path.is_empty() {
            "the top level".to_owned()
        } else {
            // The path is made of the body's own keys: quoted like a body.
            format!("`{}`", excerpt(path.as_bytes()))
        };
        Failure::Malformed {
            message: format!(
                "{action} answered a body that does not decode: {} at {at} (line {}, column {})",
                excerpt(what.as_bytes()),
                inner.line(),
                inner.column()
            ),
            request_id: request_id.clone(),
        }
    })?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use grantguard_wire::models::PageInfo;

    #[test]
    fn decode_names_action_path_and_position() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(rename_all = "PascalCase")]
        #[allow(dead_code)]
        struct Body {
            page: PageInfo,
        }
        let err = decode::<Body>(
            "DescribeApis",
            br#"{"Page": {"TotalCount": {"x": 1}}}"#,
            None,
        )
        .unwrap_err();
        let Failure::Malformed { message, .. } = err else {
            panic!("{err:?}")
        };
        assert!(message.contains("DescribeApis"), "{message}");
        assert!(message.contains("`Page.TotalCount`"), "{message}");
        assert!(message.contains("line 1, column"), "{message}");

        let err = decode::<PageInfo>("DescribeApi", br#"{"TotalCount": 3"#, None).unwrap_err();
        assert!(
            err.message().contains("line 1, column 16"),
            "{}",
            err.message()
        );
        assert_eq!(err.code(), "MalformedResponse");

        let err = decode::<PageInfo>("DescribeApi", br#"{"TotalCount": 3} x"#, None).unwrap_err();
        assert_eq!(err.code(), "MalformedResponse");
    }

    /// `x-acs-retry-after` is milliseconds, as the official SDK reads it: `5` is 5 ms, not
    /// 5 s. Zero, negative, fractional and non-numeric hints are no hint.
    #[test]
    fn the_retry_after_hint_is_read_as_milliseconds() {
        let hint = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert("x-acs-retry-after", value.parse().unwrap());
            let body = br#"{"RequestId":"R","Code":"Throttling.User","Message":"m"}"#;
            match api_failure(400, &headers, body, None, "") {
                Failure::Api { retry_after, .. } => retry_after,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(hint("5"), Some(Duration::from_millis(5)));
        assert_eq!(hint(" 1500 "), Some(Duration::from_millis(1500)));
        for none in ["0", "-5", "1.5", "soon", "Wed, 21 Oct 2015 07:28:00 GMT"] {
            assert_eq!(hint(none), None, "{none:?}");
        }
    }

    #[test]
    fn string_to_sign_is_stripped_from_server_messages() {
        let m = server_message(
            "Specified signature is not matched with our calculation. server string to sign is:POST&%2F&AccessKeyId%3DLTAIfull",
        );
        assert_eq!(
            m,
            "Specified signature is not matched with our calculation."
        );
        assert!(!m.contains("LTAIfull"));
    }

    /// Fuzz find (response_envelope): a body that is not an envelope (no `Code`, or not JSON
    /// at all) was quoted as it came, string-to-sign and AccessKeyId included.
    #[test]
    fn string_to_sign_is_stripped_from_bodies_without_an_envelope() {
        let headers = HeaderMap::new();
        for body in [
            &b"string to signLTAIfuzzcanary"[..],
            br#"{"RequestId":"R1"!"Code":"SignatureDoesNotMatch","Message":"no. server string to sign is:GET&%2F&AccessKeyId%3DLTAIfuzzcanary"}"#,
            br#"{"Message":"no. Server String To Sign is: GET&%2F&AccessKeyId%3DLTAIfuzzcanary"}"#,
        ] {
            let failure = api_failure(500, &headers, body, None, "GET&%2F&x");
            let Failure::Api { code, message, .. } = &failure else {
                panic!("{failure:?}")
            };
            assert_eq!(code, "HttpError");
            assert!(!message.contains("LTAIfuzzcanary"), "{message}");
            assert!(message.starts_with("HTTP 500 (no content type): "), "{message}");
        }
    }

    /// Fuzz find (response_envelope): the `Content-Type` of a non-envelope answer was quoted
    /// raw, so a tab (a control character the header may legally hold) or a header of any
    /// length reached the terminal.
    #[test]
    fn content_type_of_an_error_answer_is_printable_and_bounded() {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, "x\t:".parse().unwrap());
        let failure = api_failure(500, &headers, b"", None, "GET&%2F&x");
        assert!(!failure.message().contains('\t'), "{}", failure.message());
        headers.insert(CONTENT_TYPE, "x".repeat(5000).parse().unwrap());
        let failure = api_failure(500, &headers, b"", None, "GET&%2F&x");
        assert!(failure.message().len() < 300, "{}", failure.message());
    }

    /// Fuzz find (response_envelope): the RequestId, from the envelope or the header, was
    /// kept raw and printed in the error's help line, so an escaped `\u001b` in the body became
    /// a terminal escape.
    #[test]
    fn request_id_of_an_error_answer_is_printable_and_bounded() {
        let mut headers = HeaderMap::new();
        let body = br#"{"RequestId":"R\u001b[2J\n","Code":"Throttling.User","Message":"m"}"#;
        let failure = api_failure(400, &headers, body, None, "GET&%2F&x");
        let id = failure.request_id().unwrap();
        assert!(!id.chars().any(char::is_control), "{id:?}");
        let body = format!(r#"{{"RequestId":"{}","Code":"C"}}"#, "r".repeat(5000));
        let failure = api_failure(400, &headers, body.as_bytes(), None, "GET&%2F&x");
        assert!(failure.request_id().unwrap().len() < 300);

        headers.insert("x-acs-request-id", "R\t1".parse().unwrap());
        let id = header_str(&headers, "x-acs-request-id");
        let failure = api_failure(502, &headers, b"", id, "x");
        assert_eq!(failure.request_id().as_deref(), Some("R 1"));
    }

    /// Fuzz find (response_envelope): the envelope's `Code` was sanitized but not bounded,
    /// unlike its `Message`; a server could print kilobytes as the error code.
    #[test]
    fn code_of_an_error_answer_is_bounded() {
        let body = format!(
            r#"{{"Code":"Throttling.{}","Message":"m"}}"#,
            "x".repeat(5000)
        );
        let failure = api_failure(400, &HeaderMap::new(), body.as_bytes(), None, "x");
        assert!(failure.code().len() < 300, "{}", failure.code().len());
        assert!(failure.code().starts_with("Throttling."));
    }

    /// Fuzz find (api_definition): the field path in a decode error is made of the body's own
    /// keys, and was quoted raw: an escaped control character in a key reached the terminal.
    #[test]
    fn decode_error_path_is_printable_and_bounded() {
        let body = br#"{"Servic\u001b[2JConfig": {"x" 1}}"#;
        let err = decode::<PageInfo>("DescribeApi", body, None).unwrap_err();
        assert!(
            !err.message().chars().any(char::is_control),
            "{:?}",
            err.message()
        );
        let body = format!(r#"{{"{}": {{"x" 1}}}}"#, "k".repeat(5000));
        let err = decode::<PageInfo>("DescribeApi", body.as_bytes(), None).unwrap_err();
        assert!(err.message().len() < 600, "{}", err.message().len());
    }

    #[test]
    fn signature_mismatch_is_diagnosed_locally() {
        let message = "Specified signature is not matched with our calculation. server string to sign is:POST&%2F&A";
        assert_eq!(
            signature_diagnosis("SignatureDoesNotMatch", message, "POST&%2F&A"),
            Some("the server signed the same text, so the secret does not match the AccessKeyId")
        );
        assert!(
            signature_diagnosis("SignatureDoesNotMatch", message, "POST&%2F&B")
                .unwrap()
                .contains("signing mismatch")
        );
        assert_eq!(signature_diagnosis("Throttling", message, "x"), None);
    }

    #[test]
    fn excerpt_is_bounded_and_printable() {
        let html = format!("<html>\x1b[31m{}</html>", "x".repeat(1000));
        let e = excerpt(html.as_bytes());
        assert!(e.len() <= EXCERPT_BYTES + '…'.len_utf8());
        assert!(!e.contains('\x1b'));
    }

    #[test]
    fn http_date() {
        let t = parse_http_date("Wed, 01 May 2024 08:30:00 GMT").unwrap();
        assert_eq!(t.unix_timestamp(), 1_714_552_200);
        assert!(parse_http_date("yesterday").is_none());
    }
}

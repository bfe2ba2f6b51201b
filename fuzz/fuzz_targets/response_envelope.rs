//! A 4xx/5xx answer through the exact code the client runs on one (`transport::api_failure`,
//! then `retry::classify`): status, headers and the error envelope (`Code`, `Message`,
//! `RequestId`, …). Any bytes give a `Failure::Api`, never a panic, and the failure's text is
//! printable (no control characters reach a terminal), bounded, and never repeats the
//! server's string-to-sign (it holds the AccessKeyId and the STS token).
//!
//! Input layout, so seeds read like an HTTP answer: `STATUS\nName: value\n…\n\nBODY`. Without
//! the blank line the whole input is the body of a 500.
#![no_main]

use grantguard::client::retry::{classify, Failure};
use grantguard::client::transport::api_failure;
use grantguard_wire::models::ErrorBody;
use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;

/// What this client would have signed; a canary AccessKeyId the answer must never echo.
const STRING_TO_SIGN: &str = "GET&%2F&AccessKeyId%3DLTAIfuzzcanary%26Action%3DDescribeApi";
const CANARY: &str = "LTAIfuzzcanary";
const MARKER: &str = "string to sign";

fn split(data: &[u8]) -> (u16, HeaderMap, &[u8]) {
    let mut headers = HeaderMap::new();
    let Some(at) = data.windows(2).position(|w| w == b"\n\n") else {
        return (500, headers, data);
    };
    let head = String::from_utf8_lossy(&data[..at]);
    let body = &data[at + 2..];
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.trim().parse::<u16>().ok())
        .filter(|s| (300..=599).contains(s))
        .unwrap_or(500);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        // Headers a real connector would refuse are skipped, as it would.
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.trim().as_bytes()),
            HeaderValue::from_str(value.trim()),
        ) {
            headers.append(name, value);
        }
    }
    (status, headers, body)
}

fuzz_target!(|data: &[u8]| {
    let (status, headers, body) = split(data);
    let request_id = headers
        .get("x-acs-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let failure = api_failure(status, &headers, body, request_id, STRING_TO_SIGN);
    let _ = classify(&failure, false);
    let _ = classify(&failure, true);
    let _ = failure.code();
    let Failure::Api {
        status: got,
        code,
        message,
        request_id,
        ..
    } = &failure
    else {
        panic!("a ≥ 300 answer must be Failure::Api, got {failure:?}");
    };
    assert_eq!(*got, status);
    // Everything here is printed to a terminal (the message, the code, the RequestId in the
    // help line): no control characters, no unbounded text from the server.
    for text in [code, message].into_iter().chain(request_id) {
        assert!(
            !text.chars().any(char::is_control),
            "control character in {text:?}"
        );
        assert!(
            text.chars().count() <= 600,
            "unbounded text from the server: {} characters",
            text.chars().count()
        );
    }
    // The service appends its string-to-sign after a marker. When the canary AccessKeyId is
    // written only after that marker (in the raw input, and in the decoded envelope if there
    // is one), none of it may be shown, envelope or not.
    let head = String::from_utf8_lossy(&data[..data.len() - body.len()]);
    let raw = String::from_utf8_lossy(body);
    let Some(at) = raw.to_ascii_lowercase().find(MARKER) else {
        return;
    };
    if head.contains(CANARY) || raw[..at].contains(CANARY) {
        return;
    }
    if let Ok(envelope) = serde_json::from_slice::<ErrorBody>(body) {
        let cut = envelope
            .message
            .to_ascii_lowercase()
            .find(MARKER)
            .unwrap_or(envelope.message.len());
        if [
            &envelope.message[..cut],
            &envelope.code,
            &envelope.request_id,
        ]
        .iter()
        .any(|t| t.contains(CANARY))
        {
            return;
        }
    }
    for text in [code, message].into_iter().chain(request_id) {
        assert!(!text.contains(CANARY), "string-to-sign echoed: {text:?}");
    }
});

//! Endpoint validation and end-to-end checks of the client against throwaway loopback
//! servers answering canned bodies.

use super::*;

#[test]
fn loopback_plain_http_is_accepted() {
    for ok in [
        "http://127.0.0.1:8080/",
        "http://127.3.4.5/",
        "http://[::1]:9000/",
        "http://localhost:1/",
        "https://apigateway.cn-hangzhou.aliyuncs.com/",
        "https://10.1.2.3/",
    ] {
        assert!(Endpoint::parse(ok).is_ok(), "{ok}");
    }
}

#[test]
fn non_loopback_plain_http_is_refused_before_any_connector() {
    for bad in [
        "http://10.1.2.3/",
        "http://example.com/",
        "http://128.0.0.1/",
        "http://[::2]/",
        "http://localhost.example.com/",
    ] {
        let err = Endpoint::parse(bad).unwrap_err();
        assert!(
            matches!(err, EndpointError::PlainHttpNotLoopback { .. }),
            "{bad}: {err:?}"
        );
    }
    // A hand-built Endpoint that skipped parse is caught again by Client::new.
    let config = ClientConfig::new(Endpoint {
        url: url::Url::parse("http://10.1.2.3/").unwrap(),
    });
    let err = Client::new(config, Credentials::new("a".into(), "b".into(), None))
        .err()
        .unwrap();
    assert_eq!(err.code, "InvalidEndpoint");
}

#[test]
fn other_endpoint_mistakes() {
    assert!(matches!(
        Endpoint::parse("ftp://127.0.0.1/"),
        Err(EndpointError::UnsupportedScheme { .. })
    ));
    assert!(matches!(
        Endpoint::parse("https://user:pw@host/"),
        Err(EndpointError::ExtraParts { .. })
    ));
    assert!(matches!(
        Endpoint::parse("https://host/?a=b"),
        Err(EndpointError::ExtraParts { .. })
    ));
    assert!(matches!(
        Endpoint::parse("not a url"),
        Err(EndpointError::NoScheme { .. })
    ));
    assert!(matches!(
        Endpoint::parse("https://"),
        Err(EndpointError::Invalid { .. })
    ));
    assert_eq!(
        Endpoint::for_region("cn-hangzhou").unwrap().url.as_str(),
        "https://apigateway.cn-hangzhou.aliyuncs.com/"
    );
    assert!(Endpoint::for_region("cn-hangzhou.evil.com/x").is_err());
}

// ------------------------------------------------------------------ loopback wire tests

use grantguard_wire::actions::{DescribeApiGroups, DescribeRegions, RemoveVpcAccess};
use std::sync::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const SECRET: &str = "GGCANARY-SECRET-client";
const KEY_ID: &str = "LTAI5tCanaryKeyIdWXYZ";

/// What the throwaway server does with one request.
#[derive(Clone)]
enum Reply {
    /// Write these bytes and close.
    Raw(Vec<u8>),
    /// Never answer.
    Hang,
    /// A chunked 200 that never ends (until the client goes away or 64 MiB).
    EndlessChunks,
    /// Wait 30 ms, then write these bytes and close.
    Slow(Vec<u8>),
    /// Slowloris: a 200 head promising 4 KiB, then one body byte every 50 ms (each gap
    /// shorter than the idle timeout); records how long the client stayed connected.
    Trickle,
}

/// A loopback HTTP/1.1 server answering a script, one connection per request; the last
/// reply repeats. Records every request line.
struct Server {
    url: String,
    requests: std::sync::Arc<Mutex<Vec<String>>>,
    /// (in flight now, most ever in flight) between reading a request and answering it.
    in_flight: std::sync::Arc<Mutex<(usize, usize)>>,
    /// How long each trickled connection lasted before the client dropped it.
    trickled: std::sync::Arc<Mutex<Vec<Duration>>>,
}

impl Server {
    async fn start(script: Vec<Reply>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let requests = std::sync::Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        let in_flight = std::sync::Arc::new(Mutex::new((0usize, 0usize)));
        let gauge = in_flight.clone();
        let trickled = std::sync::Arc::new(Mutex::new(Vec::new()));
        let held = trickled.clone();
        tokio::spawn(async move {
            let mut n = 0usize;
            loop {
                let (mut socket, _) = listener.accept().await.unwrap();
                let reply = script[n.min(script.len() - 1)].clone();
                n += 1;
                let log = log.clone();
                let gauge = gauge.clone();
                let held = held.clone();
                tokio::spawn(async move {
                    let accepted = tokio::time::Instant::now();
                    let mut head = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(k) => head.extend_from_slice(&buf[..k]),
                        }
                    }
                    let text = String::from_utf8_lossy(&head).to_string();
                    log.lock().unwrap().push(text);
                    {
                        let mut g = gauge.lock().unwrap();
                        g.0 += 1;
                        g.1 = g.1.max(g.0);
                    }
                    if matches!(reply, Reply::Slow(_)) {
                        tokio::time::sleep(Duration::from_millis(30)).await;
                    }
                    gauge.lock().unwrap().0 -= 1;
                    match reply {
                        Reply::Raw(bytes) | Reply::Slow(bytes) => {
                            let _ = socket.write_all(&bytes).await;
                            let _ = socket.shutdown().await;
                        }
                        Reply::Trickle => {
                            let _ = socket
                                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4096\r\nConnection: close\r\n\r\n")
                                .await;
                            for _ in 0..4096 {
                                tokio::time::sleep(Duration::from_millis(50)).await;
                                if socket.write_all(b" ").await.is_err() {
                                    break;
                                }
                            }
                            held.lock().unwrap().push(accepted.elapsed());
                        }
                        Reply::Hang => {
                            tokio::time::sleep(Duration::from_secs(30)).await;
                        }
                        Reply::EndlessChunks => {
                            let _ = socket
                                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
                                .await;
                            let chunk = format!("10000\r\n{}\r\n", " ".repeat(0x10000));
                            for _ in 0..1024 {
                                if socket.write_all(chunk.as_bytes()).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                });
            }
        });
        Server {
            url,
            requests,
            in_flight,
            trickled,
        }
    }

    fn request_lines(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.lines().next().unwrap_or("").to_owned())
            .collect()
    }

    fn client(&self, tune: impl FnOnce(&mut ClientConfig)) -> Client {
        let mut config = ClientConfig::new(Endpoint::parse(&self.url).unwrap());
        config.qps = 0.0;
        config.backoff_base = Duration::from_millis(1);
        config.backoff_cap = Duration::from_millis(5);
        tune(&mut config);
        Client::new(
            config,
            Credentials::new(KEY_ID.into(), SECRET.into(), Some("GGCANARY-TOKEN".into())),
        )
        .unwrap()
    }
}

fn response(status: &str, headers: &[&str], body: &str) -> Reply {
    let mut text = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
    for h in headers {
        text.push_str(h);
        text.push_str("\r\n");
    }
    text.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    Reply::Raw(text.into_bytes())
}

fn json(status: &str, body: &str) -> Reply {
    response(
        status,
        &["Content-Type: application/json;charset=utf-8"],
        body,
    )
}

const REGIONS: &str = r#"{"RequestId":"R-1","Regions":{"Region":[{"RegionId":"cn-hangzhou","LocalName":"x","RegionEndpoint":"apigateway.cn-hangzhou.aliyuncs.com"}]}}"#;

fn error_body(code: &str, message: &str) -> String {
    format!(r#"{{"RequestId":"REQ-{code}","Code":"{code}","Message":"{message}"}}"#)
}

fn query_param(line: &str, name: &str) -> Option<String> {
    let query = line.split(' ').nth(1)?.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (n, v) = pair.split_once('=')?;
        (n == name).then(|| {
            percent_encoding::percent_decode_str(v)
                .decode_utf8()
                .unwrap()
                .into_owned()
        })
    })
}

/// Nothing a caller can print holds the secret, the token, the full key id or a signature.
fn assert_no_secret(error: &CallError, server: &Server) {
    let text = format!("{error} {error:?} {:?}", miette::Report::new(error.clone()));
    assert!(!text.contains(SECRET), "{text}");
    assert!(!text.contains("GGCANARY-TOKEN"), "{text}");
    assert!(!text.contains(KEY_ID), "{text}");
    for line in server.request_lines() {
        if let Some(sig) = query_param(&line, "Signature") {
            assert!(!text.contains(&sig), "{text}");
        }
    }
}

#[tokio::test]
async fn a_read_is_a_signed_post_with_an_empty_body() {
    let server = Server::start(vec![json("200 OK", REGIONS)]).await;
    let client = server.client(|_| {});
    let answer = client.read(&DescribeRegions).await.unwrap();
    assert_eq!(answer.regions.items[0].region_id, "cn-hangzhou");
    let requests = server.requests.lock().unwrap().clone();
    let head = &requests[0];
    assert!(head.starts_with("POST /?"), "{head}");
    assert!(head.to_ascii_lowercase().contains("content-length: 0"));
    let line = head.lines().next().unwrap();
    for (name, value) in [
        ("Action", "DescribeRegions"),
        ("Format", "json"),
        ("Version", "2016-07-14"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("AccessKeyId", KEY_ID),
        ("SecurityToken", "GGCANARY-TOKEN"),
        ("Language", "en"),
    ] {
        assert_eq!(query_param(line, name).as_deref(), Some(value), "{name}");
    }
    let timestamp = query_param(line, "Timestamp").unwrap();
    assert_eq!(timestamp.len(), "2024-05-01T08:30:00Z".len());
    assert!(timestamp.ends_with('Z'));
    assert!(query_param(line, "Signature").is_some());
    assert_eq!(client.stats().requests, 1);
    assert_eq!(client.retry_budget_remaining(), 500);
    let debug = format!("{client:?}");
    assert!(
        debug.contains("****WXYZ") && !debug.contains(KEY_ID),
        "{debug}"
    );
}

#[tokio::test]
async fn throttling_with_a_hint_is_retried_with_a_new_nonce() {
    let throttle = response(
        "400 Bad Request",
        &["Content-Type: application/json", "x-acs-retry-after: 5"],
        &error_body(
            "Throttling.User",
            "Request was denied due to user flow control.",
        ),
    );
    let server = Server::start(vec![throttle.clone(), throttle, json("200 OK", REGIONS)]).await;
    let client = server.client(|_| {});
    client.read(&DescribeRegions).await.unwrap();
    let lines = server.request_lines();
    assert_eq!(lines.len(), 3);
    let nonces: std::collections::HashSet<_> = lines
        .iter()
        .map(|l| query_param(l, "SignatureNonce").unwrap())
        .collect();
    assert_eq!(nonces.len(), 3);
    let signatures: std::collections::HashSet<_> = lines
        .iter()
        .map(|l| query_param(l, "Signature").unwrap())
        .collect();
    assert_eq!(signatures.len(), 3);
    let stats = client.stats();
    assert_eq!((stats.requests, stats.throttled, stats.retries), (3, 2, 2));
    assert_eq!(stats.nonce_reused, 0);
}

#[tokio::test]
async fn throttling_runs_out_into_an_error_with_the_code() {
    let throttle = response(
        "400 Bad Request",
        &["Content-Type: application/json", "x-acs-retry-after: 1"],
        &error_body("Throttling.User", "flow control"),
    );
    let server = Server::start(vec![throttle]).await;
    let client = server.client(|c| c.max_throttled_attempts = 2);
    let err = client.read(&DescribeRegions).await.unwrap_err();
    assert_eq!(err.code, "Throttling.User");
    assert_eq!(err.attempts, 2);
    assert_eq!(err.status, Some(400));
    assert_eq!(err.request_id.as_deref(), Some("REQ-Throttling.User"));
    assert_eq!(err.class, FailureClass::Transient);
}

#[tokio::test]
async fn redirects_are_refused_and_named() {
    let server = Server::start(vec![response(
        "302 Found",
        &["Location: http://127.0.0.2/x"],
        "",
    )])
    .await;
    let err = server
        .client(|_| {})
        .read(&DescribeRegions)
        .await
        .unwrap_err();
    assert_eq!(err.code, "UnexpectedRedirect");
    assert!(
        err.message.contains("http://127.0.0.2/x"),
        "{}",
        err.message
    );
    assert_eq!(server.request_lines().len(), 1);
    assert_no_secret(&err, &server);
}

#[tokio::test]
async fn oversized_bodies_are_refused_by_header_and_while_streaming() {
    let declared = Reply::Raw(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 52428800\r\nConnection: close\r\n\r\n{".to_vec(),
    );
    let server = Server::start(vec![declared]).await;
    let err = server
        .client(|c| c.max_response_bytes = 1 << 20)
        .read(&DescribeRegions)
        .await
        .unwrap_err();
    assert_eq!(err.code, "ResponseTooLarge");
    assert!(err.message.contains("Content-Length"), "{}", err.message);
    assert_eq!(err.class, FailureClass::Malformed);
    assert_eq!(server.request_lines().len(), 1);

    let server = Server::start(vec![Reply::EndlessChunks]).await;
    let err = server
        .client(|c| c.max_response_bytes = 1 << 20)
        .read(&DescribeRegions)
        .await
        .unwrap_err();
    assert_eq!(err.code, "ResponseTooLarge");
    assert!(err.message.contains("reading stopped"), "{}", err.message);
    assert_eq!(server.request_lines().len(), 1);
}

#[tokio::test]
async fn html_is_an_unexpected_content_type_on_200_and_transient_on_502() {
    let page = format!("<html><body>{}</body></html>", "proxy error ".repeat(100));
    let server = Server::start(vec![response(
        "200 OK",
        &["Content-Type: text/html"],
        &page,
    )])
    .await;
    let err = server
        .client(|_| {})
        .read(&DescribeRegions)
        .await
        .unwrap_err();
    assert_eq!(err.code, "UnexpectedContentType");
    assert!(err.message.contains("text/html"));
    assert!(err.message.len() < 300, "{}", err.message);
    assert_eq!(server.request_lines().len(), 1);

    let server = Server::start(vec![
        response("502 Bad Gateway", &["Content-Type: text/html"], &page),
        json("200 OK", REGIONS),
    ])
    .await;
    server.client(|_| {}).read(&DescribeRegions).await.unwrap();
    assert_eq!(server.request_lines().len(), 2);
}

#[tokio::test]
async fn truncated_body_is_retried_for_reads_but_not_resent_for_writes() {
    let truncated = Reply::Raw(
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 10000\r\nConnection: close\r\n\r\n{}",
            " ".repeat(5000)
        )
        .into_bytes(),
    );
    let server = Server::start(vec![truncated.clone(), json("200 OK", REGIONS)]).await;
    server.client(|_| {}).read(&DescribeRegions).await.unwrap();
    assert_eq!(server.request_lines().len(), 2);

    let server = Server::start(vec![truncated, json("200 OK", "{}")]).await;
    let remove = RemoveVpcAccess {
        vpc_id: "vpc-1".into(),
        instance_id: "i-1".into(),
        port: 8080,
    };
    let err = server.client(|_| {}).write(&remove).await.unwrap_err();
    assert_eq!(err.code, "ConnectionReset");
    assert_eq!(err.class, FailureClass::Transient);
    assert_eq!(err.attempts, 1);
    assert_eq!(server.request_lines().len(), 1);
    assert_no_secret(&err, &server);
}

/// In paused time: the clock moves only when every task waits, so the bound below is the
/// client's logic (attempts × timeout + backoff), not the machine's speed.
#[tokio::test(start_paused = true)]
async fn a_hung_server_times_out_per_attempt() {
    let server = Server::start(vec![Reply::Hang]).await;
    let attempt = Duration::from_millis(200);
    let started = tokio::time::Instant::now();
    let err = server
        .client(|c| {
            c.attempt_timeout = attempt;
            c.max_attempts = 2;
        })
        .read(&DescribeRegions)
        .await
        .unwrap_err();
    assert_eq!(err.code, "Timeout");
    assert_eq!(err.attempts, 2);
    assert_eq!(server.request_lines().len(), 2);
    let took = started.elapsed();
    // Two whole attempts, plus at most the 5 ms backoff cap between them.
    assert!(
        took >= attempt * 2 && took <= attempt * 2 + Duration::from_millis(5),
        "{took:?}"
    );
}

/// docs/fault-model.md A3: a body trickling in one byte at a time never trips the idle timeout, so the
/// total per-attempt timeout must end each attempt; the call is retried, then fails `Timeout`.
/// In paused time, so the bounds are the client's logic, not the machine's speed.
#[tokio::test(start_paused = true)]
async fn a_slowloris_body_is_cut_by_the_total_attempt_timeout() {
    let server = Server::start(vec![Reply::Trickle]).await;
    let total = Duration::from_millis(300);
    let started = tokio::time::Instant::now();
    let err = server
        .client(|c| {
            c.read_timeout = Duration::from_millis(200);
            c.attempt_timeout = total;
            c.max_attempts = 3;
        })
        .read(&DescribeRegions)
        .await
        .unwrap_err();
    assert_eq!(err.code, "Timeout", "{err:?}");
    assert_eq!(err.attempts, 3);
    assert_eq!(
        server.request_lines().len(),
        3,
        "each attempt is a new request"
    );
    let took = started.elapsed();
    // Three whole attempts, plus at most the 5 ms backoff cap before each retry.
    assert!(
        took >= total * 3 && took <= total * 3 + Duration::from_millis(10),
        "{took:?}"
    );
    // The server notices a dropped connection on its next write, at most 50 ms later.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while server.trickled.lock().unwrap().len() < 3 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let held = server.trickled.lock().unwrap().clone();
    assert_eq!(
        held.len(),
        3,
        "every trickled connection was dropped: {held:?}"
    );
    for attempt in &held {
        // Cut at the total, seen by the server at its next 50 ms write; never idle long
        // enough for the 200 ms idle timeout.
        assert!(
            *attempt >= total && *attempt <= total + Duration::from_millis(50),
            "each attempt ends at the total: {held:?}"
        );
    }
    assert_no_secret(&err, &server);
}

#[tokio::test]
async fn refused_connections_are_resent_even_for_writes() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut config =
        ClientConfig::new(Endpoint::parse(&format!("http://127.0.0.1:{port}/")).unwrap());
    config.backoff_base = Duration::from_millis(1);
    config.qps = 0.0;
    let client = Client::new(config, Credentials::new(KEY_ID.into(), SECRET.into(), None)).unwrap();
    let remove = RemoveVpcAccess {
        vpc_id: "vpc-1".into(),
        instance_id: "i-1".into(),
        port: 8080,
    };
    let err = client.write(&remove).await.unwrap_err();
    assert_eq!(err.code, "ConnectFailed");
    assert_eq!(err.attempts, 3);
    assert!(!err.message.contains("Signature"), "{}", err.message);
}

#[tokio::test]
async fn permission_errors_are_not_retried_and_name_the_ram_action() {
    let server = Server::start(vec![json(
        "403 Forbidden",
        &error_body(
            "Forbidden.RAM",
            "User not authorized to operate on the specified resource.",
        ),
    )])
    .await;
    let err = server
        .client(|_| {})
        .read(&DescribeApiGroups::default())
        .await
        .unwrap_err();
    assert_eq!(err.class, FailureClass::Permission);
    assert_eq!(err.attempts, 1);
    let help = miette::Diagnostic::help(&err).unwrap().to_string();
    assert!(help.contains("apigateway:DescribeApiGroups"), "{help}");
    assert_eq!(
        miette::Diagnostic::code(&err).unwrap().to_string(),
        "grantguard::client::permission"
    );
}

#[tokio::test]
async fn signature_mismatch_never_shows_the_server_string_to_sign() {
    let message = format!(
        "Specified signature is not matched with our calculation. server string to sign is:POST&%2F&AccessKeyId%3D{KEY_ID}%26SecurityToken%3DGGCANARY-TOKEN"
    );
    let server = Server::start(vec![json(
        "400 Bad Request",
        &error_body("SignatureDoesNotMatch", &message),
    )])
    .await;
    let err = server
        .client(|_| {})
        .read(&DescribeRegions)
        .await
        .unwrap_err();
    assert_eq!(err.class, FailureClass::Credentials);
    assert_eq!(err.attempts, 1);
    let help = miette::Diagnostic::help(&err).unwrap().to_string();
    assert!(help.contains("secret") && help.contains("clock"), "{help}");
    assert!(err.message.contains("signing mismatch"), "{}", err.message);
    let text = format!("{:?}", miette::Report::new(err.clone()));
    assert!(!text.to_lowercase().contains("string to sign"), "{text}");
    assert_no_secret(&err, &server);
}

#[tokio::test]
async fn expired_timestamp_reports_the_measured_skew() {
    let server_time = OffsetDateTime::now_utc() + time::Duration::minutes(20);
    let date = server_time
        .format(time::macros::format_description!(
            "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
        ))
        .unwrap();
    let server = Server::start(vec![response(
        "400 Bad Request",
        &["Content-Type: application/json", &format!("Date: {date}")],
        &error_body(
            "InvalidTimeStamp.Expired",
            "Specified time stamp or date value is expired.",
        ),
    )])
    .await;
    let err = server
        .client(|_| {})
        .read(&DescribeRegions)
        .await
        .unwrap_err();
    assert_eq!(err.class, FailureClass::ClockSkew);
    assert_eq!(err.attempts, 1);
    assert!(
        err.message
            .contains("behind the server's Date header by 19 min")
            || err
                .message
                .contains("behind the server's Date header by 20 min"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn malformed_json_is_retried_once_then_names_field_and_position() {
    let server = Server::start(vec![json(
        "200 OK",
        r#"{"RequestId":"R","TotalCount":"many","ApiGroupAttributes":{}}"#,
    )])
    .await;
    let err = server
        .client(|_| {})
        .read(&DescribeApiGroups::default())
        .await
        .unwrap_err();
    assert_eq!(err.code, "MalformedResponse");
    assert_eq!(err.attempts, 2);
    assert!(err.message.contains("DescribeApiGroups"), "{}", err.message);
    assert!(err.message.contains("line 1, column"), "{}", err.message);
}

fn groups_page(total: usize, ids: std::ops::Range<usize>) -> Reply {
    let items: Vec<String> = ids
        .map(|i| format!(r#"{{"GroupId":"g{i:03}","GroupName":"n{i}"}}"#))
        .collect();
    json(
        "200 OK",
        &format!(
            r#"{{"RequestId":"R","TotalCount":{total},"PageSize":50,"PageNumber":1,"ApiGroupAttributes":{{"ApiGroupAttribute":[{}]}}}}"#,
            items.join(",")
        ),
    )
}

#[tokio::test]
async fn one_page_is_read_once_and_many_pages_twice() {
    let server = Server::start(vec![groups_page(3, 0..3)]).await;
    let groups = server
        .client(|_| {})
        .pages(DescribeApiGroups::default())
        .await
        .unwrap();
    assert_eq!(groups.len(), 3);
    assert_eq!(server.request_lines().len(), 1);

    let server = Server::start(vec![
        groups_page(60, 0..50),
        groups_page(60, 50..60),
        groups_page(60, 0..50),
        groups_page(60, 50..60),
    ])
    .await;
    let groups = server
        .client(|_| {})
        .pages(DescribeApiGroups::default())
        .await
        .unwrap();
    assert_eq!(groups.len(), 60);
    let lines = server.request_lines();
    assert_eq!(lines.len(), 4);
    let pages: Vec<_> = lines
        .iter()
        .map(|l| query_param(l, "PageNumber").unwrap())
        .collect();
    assert_eq!(pages, ["1", "2", "1", "2"]);
    assert_eq!(query_param(&lines[0], "PageSize").as_deref(), Some("50"));
}

#[tokio::test]
async fn a_list_that_keeps_changing_is_paging_drift() {
    // Insert + delete between pages on every walk: counts agree, keys do not.
    let server = Server::start(vec![
        groups_page(60, 0..50),
        groups_page(60, 51..61),
        groups_page(60, 1..51),
        groups_page(60, 52..62),
        groups_page(60, 2..52),
        groups_page(60, 53..63),
    ])
    .await;
    let err = server
        .client(|_| {})
        .pages(DescribeApiGroups::default())
        .await
        .unwrap_err();
    assert_eq!(err.code, "PagingDrift");
    assert_eq!(err.scope, "region");
    assert_eq!(server.request_lines().len(), 6);
}

#[tokio::test]
async fn concurrency_cap_holds_attempts_in_flight() {
    let Reply::Raw(bytes) = json("200 OK", REGIONS) else {
        unreachable!()
    };
    let server = Server::start(vec![Reply::Slow(bytes)]).await;
    let client = server.client(|c| c.concurrency = 2);
    let calls = (0..5).map(|_| {
        let client = client.clone();
        tokio::spawn(async move { client.read(&DescribeRegions).await })
    });
    for call in calls.collect::<Vec<_>>() {
        call.await.unwrap().unwrap();
    }
    assert_eq!(client.stats().requests, 5);
    assert_eq!(server.in_flight.lock().unwrap().1, 2);
}

#[tokio::test]
async fn a_client_for_another_endpoint_shares_the_limits_and_counters() {
    let (a, b) = (
        Server::start(vec![json("200 OK", REGIONS)]).await,
        Server::start(vec![json("200 OK", REGIONS)]).await,
    );
    let first = a.client(|c| {
        c.qps = 50.0;
        c.concurrency = 1;
    });
    let second = first
        .for_endpoint(Endpoint::parse(&b.url).unwrap())
        .unwrap();
    let (x, y) = futures::join!(first.read(&DescribeRegions), second.read(&DescribeRegions));
    x.unwrap();
    y.unwrap();
    // Each request went to its own endpoint, and both counted in one set of counters.
    assert_eq!((a.request_lines().len(), b.request_lines().len()), (1, 1));
    assert_eq!((first.stats().requests, second.stats().requests), (2, 2));
    let (one, two) = (&*first.inner, &*second.inner);
    assert!(Arc::ptr_eq(
        one.slots.as_ref().unwrap(),
        two.slots.as_ref().unwrap()
    ));
    assert!(Arc::ptr_eq(
        one.rate.as_ref().unwrap(),
        two.rate.as_ref().unwrap()
    ));
    assert!(Arc::ptr_eq(&one.budget, &two.budget));
    // A sibling is validated like any endpoint.
    let plain = Endpoint {
        url: url::Url::parse("http://10.1.2.3/").unwrap(),
    };
    assert_eq!(
        first.for_endpoint(plain).unwrap_err().code,
        "InvalidEndpoint"
    );
}

/// The unsigned path (ECS metadata) shares the signed client's policy: a 5xx and a hung
/// attempt are retried (the per-attempt timeout ends the hang), text bodies are accepted, a
/// 404 is not retried, and the size cap holds.
#[tokio::test]
async fn unsigned_requests_share_timeouts_retries_and_the_size_cap() {
    let server = Server::start(vec![
        response(
            "503 Service Unavailable",
            &["Content-Type: text/plain"],
            "busy",
        ),
        Reply::Hang,
        response("200 OK", &["Content-Type: text/plain"], "EcsAuditRole"),
    ])
    .await;
    let config = |url: &str| {
        let mut config = ClientConfig::new(Endpoint::parse(url).unwrap());
        config.attempt_timeout = Duration::from_millis(300);
        config.backoff_base = Duration::from_millis(1);
        config.backoff_cap = Duration::from_millis(5);
        config.max_response_bytes = 1024;
        config
    };
    let client = UnsignedClient::new(config(&server.url)).unwrap();
    let body = client
        .get(
            "metadata",
            "latest/meta-data/ram/security-credentials/",
            &[("X-aliyun-ecs-metadata-token", "t")],
        )
        .await
        .unwrap();
    assert_eq!(&body[..], b"EcsAuditRole");
    assert_eq!(client.stats().requests, 3);
    assert_eq!(client.stats().retries, 2);
    let lines = server.request_lines();
    assert!(lines
        .iter()
        .all(|l| l == "GET /latest/meta-data/ram/security-credentials/ HTTP/1.1"));
    let heads = server.requests.lock().unwrap().clone();
    assert!(heads[0]
        .to_ascii_lowercase()
        .contains("x-aliyun-ecs-metadata-token: t"));

    let missing = Server::start(vec![response("404 Not Found", &[], "Not Found")]).await;
    let client = UnsignedClient::new(config(&missing.url)).unwrap();
    let err = client
        .put("metadata", "latest/api/token", &[])
        .await
        .unwrap_err();
    assert_eq!((err.status, err.attempts), (Some(404), 1));
    assert_eq!(missing.request_lines(), ["PUT /latest/api/token HTTP/1.1"]);

    let endless = Server::start(vec![Reply::EndlessChunks]).await;
    let client = UnsignedClient::new(config(&endless.url)).unwrap();
    let err = client.get("metadata", "x", &[]).await.unwrap_err();
    assert_eq!(err.code, "ResponseTooLarge");
}

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
        Err(EndpointError::Invalid { .. })
    ));
    assert_eq!(
        Endpoint::for_region("cn-hangzhou").unwrap().url.as_str(),
        "https://apigateway.cn-hangzhou.aliyuncs.com/"
    );
    assert!(Endpoint::for_region("cn-hangzhou.evil.com/x").is_err());
}

//! RPC signature v1 (HMAC-SHA1, `SignatureVersion=1.0`, docs/cloudapi-notes.md §2.1), for CloudAPI and for
//! STS (§6.4). In: credentials, the API ([`RpcApi`]: version, format, method), the action's
//! name and parameters, a timestamp and a nonce. Out: every query parameter of the request,
//! `Signature` last. Pure: no clock, no randomness but [`new_nonce`], no I/O; callers pass a
//! fresh nonce and the current time for every attempt. This is the only code that reads the
//! AccessKeySecret, and it never logs or returns it.

use super::Credentials;
use base64::Engine;
use hmac::{Hmac, Mac};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha1::Sha1;
use time::OffsetDateTime;

/// The `SignatureMethod` value.
pub const SIGNATURE_METHOD: &str = "HMAC-SHA1";
/// The `SignatureVersion` value.
pub const SIGNATURE_VERSION: &str = "1.0";
/// The method every CloudAPI request is sent (and therefore signed) with (docs/cloudapi-notes.md §1.2).
pub const METHOD: &str = "POST";

/// The RPC API a request is for: the `Version` and `Format` it carries and the HTTP method it
/// is sent (and so signed) with. CloudAPI and STS share the v1 algorithm, not these values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RpcApi {
    /// The `Version` parameter, e.g. `2016-07-14`.
    pub version: &'static str,
    /// The `Format` parameter.
    pub format: &'static str,
    /// `POST` or `GET`.
    pub method: &'static str,
}

/// CloudAPI 2016-07-14, sent as POST with the parameters in the query (docs/cloudapi-notes.md §1.2, §1.3).
pub const CLOUDAPI: RpcApi = RpcApi {
    version: grantguard_wire::VERSION,
    format: "json",
    method: METHOD,
};

/// Everything but the RFC 3986 unreserved set `A-Z a-z 0-9 - _ . ~` is encoded. Neither
/// `form_urlencoded` (space → `+`, `~` → `%7E`) nor `NON_ALPHANUMERIC` (encodes `-_.~`)
/// gives the canonical form (docs/cloudapi-notes.md trap 1). `percent-encoding` writes upper-case hex.
const RPC_ENCODE_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes one name or value the way the signature needs it: UTF-8 bytes, space →
/// `%20`, `*` → `%2A`, `~` kept, upper-case hex.
pub fn percent_encode(input: &str) -> String {
    utf8_percent_encode(input, RPC_ENCODE_SET).to_string()
}

/// The canonicalized query string: pairs sorted byte-wise by name (then value), each name
/// and value percent-encoded, joined with `&`.
pub fn canonical_query(params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    sorted
        .iter()
        .map(|(name, value)| format!("{}={}", percent_encode(name), percent_encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// `METHOD&%2F&percentEncode(canonical query)`. `Signature` must not be among `params`.
pub fn string_to_sign(method: &str, params: &[(String, String)]) -> String {
    format!(
        "{method}&{}&{}",
        percent_encode("/"),
        percent_encode(&canonical_query(params))
    )
}

/// Base64 of HMAC-SHA1 keyed with `secret + "&"` (also with an STS token, docs/cloudapi-notes.md trap 2).
pub fn signature(secret: &str, string_to_sign: &str) -> String {
    let key = format!("{secret}&");
    let mut mac =
        Hmac::<Sha1>::new_from_slice(key.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// `YYYY-MM-DDTHH:MM:SSZ` in UTC, without fractional seconds (docs/cloudapi-notes.md §1.3).
pub fn format_timestamp(at: OffsetDateTime) -> String {
    let utc = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        utc.year(),
        u8::from(utc.month()),
        utc.day(),
        utc.hour(),
        utc.minute(),
        utc.second()
    )
}

/// A fresh `SignatureNonce`: 32 lower-case hex digits of randomness, like the official SDK.
pub fn new_nonce() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// The complete, signed parameter list of one CloudAPI attempt sent with `method`: the common
/// parameters (docs/cloudapi-notes.md §1.3), the action's own parameters, and `Signature` last. Values are
/// raw (not encoded); [`query_string`] encodes them for the URL.
pub fn sign(
    credentials: &Credentials,
    method: &'static str,
    action: &str,
    action_params: &[(&'static str, String)],
    timestamp: OffsetDateTime,
    nonce: &str,
) -> Vec<(String, String)> {
    let api = RpcApi { method, ..CLOUDAPI };
    sign_for(&api, credentials, action, action_params, timestamp, nonce)
}

/// [`sign`] for any v1-signed RPC API (CloudAPI, STS): `api` gives `Version`, `Format` and
/// the method signed.
pub fn sign_for(
    api: &RpcApi,
    credentials: &Credentials,
    action: &str,
    action_params: &[(&'static str, String)],
    timestamp: OffsetDateTime,
    nonce: &str,
) -> Vec<(String, String)> {
    let mut params: Vec<(String, String)> = vec![
        ("Action".into(), action.into()),
        ("Format".into(), api.format.into()),
        ("Version".into(), api.version.into()),
        ("Timestamp".into(), format_timestamp(timestamp)),
        ("SignatureNonce".into(), nonce.into()),
        ("SignatureMethod".into(), SIGNATURE_METHOD.into()),
        ("SignatureVersion".into(), SIGNATURE_VERSION.into()),
        ("AccessKeyId".into(), credentials.access_key_id.clone()),
    ];
    if let Some(token) = credentials.security_token() {
        params.push(("SecurityToken".into(), token.to_owned()));
    }
    params.extend(
        action_params
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone())),
    );
    params.sort();
    let to_sign = string_to_sign(api.method, &params);
    let value = signature(credentials.secret(), &to_sign);
    params.push(("Signature".into(), value));
    params
}

/// The URL query of a signed parameter list, every name and value percent-encoded with the
/// canonical encoder (a server decodes `%20` as a space just as it decodes `+`).
pub fn query_string(params: &[(String, String)]) -> String {
    params
        .iter()
        .map(|(name, value)| format!("{}={}", percent_encode(name), percent_encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::datetime;

    fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn v1_params() -> Vec<(String, String)> {
        owned(&[
            ("AccessKeyId", "testid"),
            ("Action", "DescribeRegions"),
            ("Format", "XML"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"),
            ("SignatureVersion", "1.0"),
            ("Timestamp", "2016-02-23T12:46:24Z"),
            ("Version", "2014-05-26"),
        ])
    }

    const V1_TAIL: &str = "AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26";

    fn test_credentials(token: Option<&str>) -> Credentials {
        Credentials::new(
            "LTAI5tTestAccessKeyId".into(),
            "TestSecretKeyValue0123456789abc".into(),
            token.map(str::to_owned),
        )
    }

    fn get<'a>(params: &'a [(String, String)], name: &str) -> &'a str {
        &params.iter().find(|(n, _)| n == name).unwrap().1
    }

    #[test]
    fn v1_documented_example_get() {
        let sts = string_to_sign("GET", &v1_params());
        assert_eq!(sts, format!("GET&%2F&{V1_TAIL}"));
        assert_eq!(
            signature("testsecret", &sts),
            "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
        );
    }

    #[test]
    fn v1_documented_example_post() {
        let sts = string_to_sign("POST", &v1_params());
        assert_eq!(sts, format!("POST&%2F&{V1_TAIL}"));
        assert_eq!(
            signature("testsecret", &sts),
            "MxbnVAM4w6sft9xjVpe/GCKueuk="
        );
    }

    #[test]
    fn v1_sts_token_and_awkward_characters() {
        let params = sign(
            &test_credentials(Some("STS.NTestToken/+=")),
            "POST",
            "DescribeVpcAccesses",
            &[
                ("AccurateQuery", "true".into()),
                ("Name", "my vpc*~grant".into()),
                ("PageNumber", "1".into()),
                ("PageSize", "100".into()),
            ],
            datetime!(2024-05-01 08:30:00 UTC),
            "8f14e45fceea167a5a36dedd4bea2543",
        );
        let unsigned = &params[..params.len() - 1];
        assert_eq!(
            canonical_query(unsigned),
            "AccessKeyId=LTAI5tTestAccessKeyId&AccurateQuery=true&Action=DescribeVpcAccesses&Format=json&Name=my%20vpc%2A~grant&PageNumber=1&PageSize=100&SecurityToken=STS.NTestToken%2F%2B%3D&SignatureMethod=HMAC-SHA1&SignatureNonce=8f14e45fceea167a5a36dedd4bea2543&SignatureVersion=1.0&Timestamp=2024-05-01T08%3A30%3A00Z&Version=2016-07-14"
        );
        assert_eq!(
            string_to_sign("POST", unsigned),
            "POST&%2F&AccessKeyId%3DLTAI5tTestAccessKeyId%26AccurateQuery%3Dtrue%26Action%3DDescribeVpcAccesses%26Format%3Djson%26Name%3Dmy%2520vpc%252A~grant%26PageNumber%3D1%26PageSize%3D100%26SecurityToken%3DSTS.NTestToken%252F%252B%253D%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D8f14e45fceea167a5a36dedd4bea2543%26SignatureVersion%3D1.0%26Timestamp%3D2024-05-01T08%253A30%253A00Z%26Version%3D2016-07-14"
        );
        assert_eq!(params.last().unwrap().0, "Signature");
        assert_eq!(get(&params, "Signature"), "tUcpsV5HP2pbJtBIDc4PiBaSelg=");
    }

    #[test]
    fn v1_remove_vpc_access() {
        let params = sign(
            &test_credentials(None),
            "POST",
            "RemoveVpcAccess",
            &[
                ("InstanceId", "i-uf6bzcg1pr4oh5jjmxxx".into()),
                ("Port", "8080".into()),
                ("VpcId", "vpc-uf657qec7lx42paw3qxxx".into()),
            ],
            datetime!(2024-05-01 08:31:00 UTC),
            "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
        );
        assert_eq!(
            string_to_sign("POST", &params[..params.len() - 1]),
            "POST&%2F&AccessKeyId%3DLTAI5tTestAccessKeyId%26Action%3DRemoveVpcAccess%26Format%3Djson%26InstanceId%3Di-uf6bzcg1pr4oh5jjmxxx%26Port%3D8080%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D0a1b2c3d4e5f60718293a4b5c6d7e8f9%26SignatureVersion%3D1.0%26Timestamp%3D2024-05-01T08%253A31%253A00Z%26Version%3D2016-07-14%26VpcId%3Dvpc-uf657qec7lx42paw3qxxx"
        );
        assert_eq!(get(&params, "Signature"), "cMpkXP6XAT7XFLsYHc2OAgIeYpc=");
        assert!(query_string(&params).ends_with("&Signature=cMpkXP6XAT7XFLsYHc2OAgIeYpc%3D"));
        assert!(!params.iter().any(|(n, _)| n == "SecurityToken"));
    }

    #[test]
    fn v1_utf8_and_tag_list() {
        let params = sign(
            &test_credentials(None),
            "POST",
            "DescribeApis",
            &[
                ("ApiName", "查询 订单".into()),
                ("GroupId", "523e8dc7bbe04613b5b1d726c2a7889d".into()),
                ("PageNumber", "2".into()),
                ("PageSize", "100".into()),
                ("StageName", "RELEASE".into()),
                ("Tag.1.Key", "env".into()),
                ("Tag.1.Value", "prod".into()),
            ],
            datetime!(2024-05-01 08:32:00 UTC),
            "11111111222222223333333344444444",
        );
        assert_eq!(
            canonical_query(&params[..params.len() - 1]),
            "AccessKeyId=LTAI5tTestAccessKeyId&Action=DescribeApis&ApiName=%E6%9F%A5%E8%AF%A2%20%E8%AE%A2%E5%8D%95&Format=json&GroupId=523e8dc7bbe04613b5b1d726c2a7889d&PageNumber=2&PageSize=100&SignatureMethod=HMAC-SHA1&SignatureNonce=11111111222222223333333344444444&SignatureVersion=1.0&StageName=RELEASE&Tag.1.Key=env&Tag.1.Value=prod&Timestamp=2024-05-01T08%3A32%3A00Z&Version=2016-07-14"
        );
        assert_eq!(get(&params, "Signature"), "KL8/qky3WBhrQ1wRVB7CvS+TOR4=");
    }

    /// STS AssumeRole (docs/cloudapi-notes.md §6.4) signs the same common parameters with its own
    /// `Version`, `Format=JSON` and GET, as the provider chain's hand-built request did.
    #[test]
    fn sts_assume_role_signs_with_its_own_version_format_and_method() {
        let sts = RpcApi {
            version: "2015-04-01",
            format: "JSON",
            method: "GET",
        };
        let params = sign_for(
            &sts,
            &test_credentials(Some("STS.token")),
            "AssumeRole",
            &[
                ("RoleArn", "acs:ram::1:role/audit".into()),
                ("RoleSessionName", "s".into()),
                ("DurationSeconds", "900".into()),
            ],
            datetime!(2024-05-01 08:30:00 UTC),
            "8f14e45fceea167a5a36dedd4bea2543",
        );
        let mut by_hand = owned(&[
            ("Action", "AssumeRole"),
            ("Version", "2015-04-01"),
            ("Format", "JSON"),
            ("Timestamp", "2024-05-01T08:30:00Z"),
            ("SignatureNonce", "8f14e45fceea167a5a36dedd4bea2543"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureVersion", "1.0"),
            ("AccessKeyId", "LTAI5tTestAccessKeyId"),
            ("RoleArn", "acs:ram::1:role/audit"),
            ("RoleSessionName", "s"),
            ("DurationSeconds", "900"),
            ("SecurityToken", "STS.token"),
        ]);
        by_hand.sort();
        assert_eq!(&params[..params.len() - 1], &by_hand[..]);
        let expected = signature(
            "TestSecretKeyValue0123456789abc",
            &string_to_sign("GET", &by_hand),
        );
        assert_eq!(get(&params, "Signature"), expected);
    }

    #[test]
    fn sorting_is_bytewise_and_case_sensitive() {
        let q = canonical_query(&owned(&[
            ("a", "1"),
            ("Tag.2.Key", "x"),
            ("Tag.10.Key", "y"),
            ("Z", "2"),
        ]));
        assert_eq!(q, "Tag.10.Key=y&Tag.2.Key=x&Z=2&a=1");
    }

    #[test]
    fn timestamp_is_utc_without_fraction() {
        let at = datetime!(2024-05-01 10:30:00.987 +02:00);
        assert_eq!(format_timestamp(at), "2024-05-01T08:30:00Z");
    }

    #[test]
    fn nonces_are_32_lower_hex_and_fresh() {
        let a = new_nonce();
        let b = new_nonce();
        assert_eq!(a.len(), 32);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)));
        assert_ne!(a, b);
    }

    #[test]
    fn fixed_characters() {
        assert_eq!(percent_encode(" "), "%20");
        assert_eq!(percent_encode("*"), "%2A");
        assert_eq!(percent_encode("~"), "~");
        assert_eq!(percent_encode("+/=:&%"), "%2B%2F%3D%3A%26%25");
        assert_eq!(percent_encode("查"), "%E6%9F%A5");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]

        /// P1: output alphabet, round trip, unreserved pass-through, `~` kept, space → `%20`.
        #[test]
        fn percent_encoding_properties(input in any::<String>()) {
            let encoded = percent_encode(&input);
            let bytes = encoded.as_bytes();
            let mut i = 0;
            while i < bytes.len() {
                let c = bytes[i];
                if c == b'%' {
                    prop_assert!(i + 2 < bytes.len(), "truncated escape");
                    let hex = &bytes[i + 1..i + 3];
                    prop_assert!(hex.iter().all(|h| h.is_ascii_digit() || (b'A'..=b'F').contains(h)));
                    i += 3;
                } else {
                    prop_assert!(c.is_ascii_alphanumeric() || b"-_.~".contains(&c), "byte {c} left raw");
                    i += 1;
                }
            }
            let decoded = percent_encoding::percent_decode_str(&encoded).decode_utf8().unwrap();
            prop_assert_eq!(decoded.as_ref(), input.as_str());
            for ch in input.chars() {
                let alone = percent_encode(&ch.to_string());
                if ch.is_ascii_alphanumeric() || "-_.~".contains(ch) {
                    prop_assert_eq!(alone, ch.to_string());
                } else if ch == ' ' {
                    prop_assert_eq!(alone, "%20");
                } else {
                    prop_assert_eq!(alone.len(), ch.len_utf8() * 3);
                }
            }
        }
    }
}

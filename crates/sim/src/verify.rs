//! Signature verification, written independently of the client so that a signing bug there
//! cannot hide behind the emulator. In: the request's method, decoded parameters, headers and
//! body. Out: the signature scheme and the string the server signed, or why the request is
//! refused. Implements v1 (HMAC-SHA1, docs/cloudapi-notes.md §2.1) and ACS3-HMAC-SHA256 (docs/cloudapi-notes.md §2.3).
//! The secret is used only inside the HMAC; nothing here formats it.

use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// Percent-encodes per RFC 3986 as the service canonicalizes: `A-Z a-z 0-9 - _ . ~` kept,
/// everything else `%XY` in upper-case hex per UTF-8 byte (docs/cloudapi-notes.md trap 1).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The v1 string to sign: `METHOD&%2F&percentEncode(sorted canonical query)`, `Signature`
/// excluded (docs/cloudapi-notes.md §2.1 steps 1–4).
pub fn v1_string_to_sign(method: &str, params: &[(String, String)]) -> String {
    let mut pairs: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k != "Signature")
        .map(|(k, v)| (percent_encode(k), percent_encode(v)))
        .collect();
    // Byte-wise order of the names (`Tag.10.Key` < `Tag.2.Key`); values break ties so a
    // repeated name canonicalizes the same whatever order it was sent in.
    pairs.sort();
    let canonical = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    format!(
        "{method}&{}&{}",
        percent_encode("/"),
        percent_encode(&canonical)
    )
}

/// Base64 HMAC-SHA1 of the string to sign with key `secret + "&"` (docs/cloudapi-notes.md §2.1 step 5).
pub fn v1_signature(secret: &str, string_to_sign: &str) -> String {
    use base64::Engine;
    let mut mac = Hmac::<Sha1>::new_from_slice(format!("{secret}&").as_bytes())
        .expect("HMAC takes any key length");
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The parsed `Authorization: ACS3-HMAC-SHA256 Credential=…,SignedHeaders=…,Signature=…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V3Authorization {
    /// AccessKeyId.
    pub access_key_id: String,
    /// Lower-case header names, as listed.
    pub signed_headers: Vec<String>,
    /// Hex signature.
    pub signature: String,
}

/// The scheme name of a v3 `Authorization` header.
pub const V3_ALGORITHM: &str = "ACS3-HMAC-SHA256";

/// Parses a v3 `Authorization` header; `None` when it is not one or misses a part.
pub fn parse_v3_authorization(value: &str) -> Option<V3Authorization> {
    let rest = value.trim().strip_prefix(V3_ALGORITHM)?.trim_start();
    let (mut ak, mut headers, mut sig) = (None, None, None);
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        match k.trim() {
            "Credential" => ak = Some(v.trim().to_owned()),
            "SignedHeaders" => {
                headers = Some(
                    v.trim()
                        .split(';')
                        .map(|h| h.trim().to_ascii_lowercase())
                        .collect(),
                )
            }
            "Signature" => sig = Some(v.trim().to_owned()),
            _ => {}
        }
    }
    Some(V3Authorization {
        access_key_id: ak?,
        signed_headers: headers?,
        signature: sig?,
    })
}

/// The v3 canonical query: query parameters sorted by name, values percent-encoded.
pub fn v3_canonical_query(query: &[(String, String)]) -> String {
    let mut pairs: Vec<(&String, String)> =
        query.iter().map(|(k, v)| (k, percent_encode(v))).collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The v3 string to sign: `ACS3-HMAC-SHA256\n` + hex SHA-256 of the canonical request.
/// `header` looks up every value of a (lower-case) header.
pub fn v3_string_to_sign(
    method: &str,
    path: &str,
    query: &[(String, String)],
    signed_headers: &[String],
    header: impl Fn(&str) -> Vec<String>,
    hashed_payload: &str,
) -> String {
    let mut names: Vec<&String> = signed_headers.iter().collect();
    names.sort();
    let canonical_headers: String = names
        .iter()
        .map(|name| {
            let mut values: Vec<String> =
                header(name).iter().map(|v| v.trim().to_owned()).collect();
            values.sort();
            format!("{name}:{}\n", values.join(","))
        })
        .collect();
    let signed = names
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical_request = format!(
        "{method}\n{path}\n{}\n{canonical_headers}\n{signed}\n{hashed_payload}",
        v3_canonical_query(query)
    );
    format!(
        "{V3_ALGORITHM}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    )
}

/// Hex HMAC-SHA256 of the string to sign with the bare secret (no `&`).
pub fn v3_signature(secret: &str, string_to_sign: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(string_to_sign.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Hex SHA-256 of a body, as `x-acs-content-sha256` carries it.
pub fn payload_hash(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// Compares two signatures without an early exit on the first differing byte.
pub fn same_signature(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn v1_base() -> Vec<(String, String)> {
        p(&[
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

    #[test]
    fn percent_encoding_follows_rfc3986() {
        assert_eq!(
            percent_encode("a b*~-_./:=&+%"),
            "a%20b%2A~-_.%2F%3A%3D%26%2B%25"
        );
        assert_eq!(percent_encode("查"), "%E6%9F%A5");
    }

    #[test]
    fn v1_vector_1_get() {
        let sts = v1_string_to_sign("GET", &v1_base());
        assert_eq!(sts, "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26");
        assert_eq!(
            v1_signature("testsecret", &sts),
            "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
        );
    }

    #[test]
    fn v1_vector_2_post() {
        let sts = v1_string_to_sign("POST", &v1_base());
        assert_eq!(
            v1_signature("testsecret", &sts),
            "MxbnVAM4w6sft9xjVpe/GCKueuk="
        );
    }

    const SECRET: &str = "TestSecretKeyValue0123456789abc";

    #[test]
    fn v1_vector_3_sts_and_awkward_characters() {
        let params = p(&[
            ("Action", "DescribeVpcAccesses"),
            ("Format", "json"),
            ("Version", "2016-07-14"),
            ("Timestamp", "2024-05-01T08:30:00Z"),
            ("SignatureNonce", "8f14e45fceea167a5a36dedd4bea2543"),
            ("AccurateQuery", "true"),
            ("Name", "my vpc*~grant"),
            ("PageNumber", "1"),
            ("PageSize", "100"),
            ("SecurityToken", "STS.NTestToken/+="),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureVersion", "1.0"),
            ("AccessKeyId", "LTAI5tTestAccessKeyId"),
        ]);
        let sts = v1_string_to_sign("POST", &params);
        assert_eq!(sts, "POST&%2F&AccessKeyId%3DLTAI5tTestAccessKeyId%26AccurateQuery%3Dtrue%26Action%3DDescribeVpcAccesses%26Format%3Djson%26Name%3Dmy%2520vpc%252A~grant%26PageNumber%3D1%26PageSize%3D100%26SecurityToken%3DSTS.NTestToken%252F%252B%253D%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D8f14e45fceea167a5a36dedd4bea2543%26SignatureVersion%3D1.0%26Timestamp%3D2024-05-01T08%253A30%253A00Z%26Version%3D2016-07-14");
        assert_eq!(v1_signature(SECRET, &sts), "tUcpsV5HP2pbJtBIDc4PiBaSelg=");
    }

    /// V4 and V5 start from the exact request line the SDK sent, decoded with form rules.
    fn from_query(q: &str) -> Vec<(String, String)> {
        url::form_urlencoded::parse(q.as_bytes())
            .into_owned()
            .collect()
    }

    #[test]
    fn v1_vector_4_remove_vpc_access_request_line() {
        let params = from_query("Action=RemoveVpcAccess&Format=json&Version=2016-07-14&Timestamp=2024-05-01T08%3A31%3A00Z&SignatureNonce=0a1b2c3d4e5f60718293a4b5c6d7e8f9&InstanceId=i-uf6bzcg1pr4oh5jjmxxx&Port=8080&VpcId=vpc-uf657qec7lx42paw3qxxx&SignatureMethod=HMAC-SHA1&SignatureVersion=1.0&AccessKeyId=LTAI5tTestAccessKeyId&Signature=cMpkXP6XAT7XFLsYHc2OAgIeYpc%3D");
        let sts = v1_string_to_sign("POST", &params);
        assert_eq!(sts, "POST&%2F&AccessKeyId%3DLTAI5tTestAccessKeyId%26Action%3DRemoveVpcAccess%26Format%3Djson%26InstanceId%3Di-uf6bzcg1pr4oh5jjmxxx%26Port%3D8080%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D0a1b2c3d4e5f60718293a4b5c6d7e8f9%26SignatureVersion%3D1.0%26Timestamp%3D2024-05-01T08%253A31%253A00Z%26Version%3D2016-07-14%26VpcId%3Dvpc-uf657qec7lx42paw3qxxx");
        let sent = &params.iter().find(|(k, _)| k == "Signature").unwrap().1;
        assert_eq!(v1_signature(SECRET, &sts), *sent);
        assert_eq!(sent, "cMpkXP6XAT7XFLsYHc2OAgIeYpc=");
    }

    #[test]
    fn v1_vector_5_utf8_and_plus_for_space() {
        let params = from_query("Action=DescribeApis&Format=json&Version=2016-07-14&Timestamp=2024-05-01T08%3A32%3A00Z&SignatureNonce=11111111222222223333333344444444&ApiName=%E6%9F%A5%E8%AF%A2+%E8%AE%A2%E5%8D%95&GroupId=523e8dc7bbe04613b5b1d726c2a7889d&PageNumber=2&PageSize=100&StageName=RELEASE&Tag.1.Key=env&Tag.1.Value=prod&SignatureMethod=HMAC-SHA1&SignatureVersion=1.0&AccessKeyId=LTAI5tTestAccessKeyId&Signature=KL8%2Fqky3WBhrQ1wRVB7CvS%2BTOR4%3D");
        let sts = v1_string_to_sign("POST", &params);
        assert!(sts.contains(
            "ApiName%3D%25E6%259F%25A5%25E8%25AF%25A2%2520%25E8%25AE%25A2%25E5%258D%2595"
        ));
        assert_eq!(v1_signature(SECRET, &sts), "KL8/qky3WBhrQ1wRVB7CvS+TOR4=");
    }

    #[test]
    fn v3_vector() {
        let query = p(&[
            ("PageSize", "100"),
            ("Name", "my vpc*~/é"),
            ("PageNumber", "1"),
        ]);
        assert_eq!(
            v3_canonical_query(&query),
            "Name=my%20vpc%2A~%2F%C3%A9&PageNumber=1&PageSize=100"
        );
        let empty = payload_hash(b"");
        assert_eq!(
            empty,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let auth = parse_v3_authorization("ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=host;user-agent;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=91f72041b3fb54c51d9b96a8c9a978e9c8bac98ccca501ac2f285eba85a101dc").unwrap();
        assert_eq!(auth.access_key_id, "AK");
        let headers = |name: &str| -> Vec<String> {
            let v = match name {
                "host" => "127.0.0.1:1",
                "x-acs-action" => "DescribeVpcAccesses",
                "x-acs-version" => "2016-07-14",
                "x-acs-date" => "2026-11-29T07:22:29Z",
                "x-acs-signature-nonce" => "abc",
                "user-agent" => "x  ",
                "x-acs-content-sha256" => {
                    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
                }
                _ => return vec![],
            };
            vec![v.to_owned()]
        };
        let sts = v3_string_to_sign("POST", "/", &query, &auth.signed_headers, headers, &empty);
        assert_eq!(v3_signature("SECRET", &sts), auth.signature);
    }

    #[test]
    fn signatures_compare_exactly() {
        assert!(same_signature("abc=", "abc="));
        assert!(!same_signature("abc=", "abd="));
        assert!(!same_signature("abc", "abc="));
    }
}

//! One response model: DescribeApi's `ApiDefinition` (the richest shape: lenient numbers and
//! booleans, nested service and VPC configuration), through the client's decoder. Any bytes
//! decode or fail with `Failure::Malformed`, never a panic; and whatever decodes survives the
//! trip the emulator makes (serialize the model, decode it again) unchanged, so the emulator
//! cannot serve a definition the client would read differently.
#![no_main]

use grantguard::client::retry::Failure;
use grantguard::client::transport::decode;
use grantguard_wire::models::ApiDefinition;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match decode::<ApiDefinition>("DescribeApi", data, Some("R".into())) {
        Ok(api) => {
            let served = serde_json::to_vec(&api).expect("a decoded model serializes");
            let again = decode::<ApiDefinition>("DescribeApi", &served, None)
                .unwrap_or_else(|e| panic!("re-decoding what was served failed: {e:?}"));
            assert_eq!(api, again, "served {}", String::from_utf8_lossy(&served));
        }
        Err(Failure::Malformed {
            message,
            request_id,
        }) => {
            assert!(message.starts_with("DescribeApi answered a body that does not decode"));
            assert!(!message.chars().any(char::is_control), "{message:?}");
            assert_eq!(request_id.as_deref(), Some("R"));
        }
        Err(other) => panic!("decode failed with {other:?}, not Malformed"),
    }
});

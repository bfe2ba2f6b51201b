//! The error envelope every CloudAPI answer may carry (`Code`, `Message`, `RequestId`, …),
//! through the client's decoder and plain serde: arbitrary bytes must never panic.
#![no_main]

use grantguard::client::transport::decode;
use grantguard::wire::models::ErrorBody;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = decode::<ErrorBody>("ErrorBody", data, None);
    let _ = serde_json::from_slice::<ErrorBody>(data);
});

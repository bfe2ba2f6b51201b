//! One response model: DescribeApi's `ApiDefinition` (the richest shape: lenient numbers and
//! booleans, nested service and VPC configuration), through the client's decoder.
#![no_main]

use grantguard::client::transport::decode;
use grantguard::wire::models::ApiDefinition;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = decode::<ApiDefinition>("DescribeApi", data, None);
});

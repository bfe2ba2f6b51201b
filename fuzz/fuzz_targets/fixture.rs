//! The emulator's fixture format (docs/fixture-format.md): any text loads or fails with an
//! error, never a panic.
#![no_main]

use grantguard::sim::Fixture;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Fixture::from_json(&String::from_utf8_lossy(data));
});

//! The removal journal reader: any bytes (torn tails, damaged lines) are reported, never a
//! panic, and never read as a record that was not written.
#![no_main]

use grantguard::removal::journal;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = journal::parse(data);
});

//! The `--cache` directory's inventory file, through `cache::load` (what `audit --cache`
//! reads before it walks): any bytes in the file give the cached inventory of that region or
//! a reason it is not used, never a panic, and the reason is one short line (the warning the
//! audit logs before it reads every definition live). A cache of another region is never used.
#![no_main]

use grantguard::inventory::{cache, RegionId};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("a temp dir");
    let region = RegionId::from("cn-hangzhou".to_owned());
    std::fs::write(cache::path_for(dir.path(), &region), data).expect("write the input");
    match cache::load(dir.path(), &region) {
        Ok(inventory) => assert_eq!(inventory.region, region, "another region's cache was used"),
        Err(miss) => {
            let reason = miss.to_string();
            assert!(reason.len() < 4096, "{} bytes: {reason}", reason.len());
            assert!(!reason.contains('\n'), "one line: {reason}");
        }
    }
});

//! The config file (`grantguard.json`, `--config`), through `Config::parse` with the built-in
//! rule catalog: any text parses or fails with an error, never a panic, and the error renders
//! as the binary prints it in a few kilobytes at most (a short excerpt, never the file).
#![no_main]

use grantguard::config::Config;
use grantguard::rules::Catalog;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fuzz_target!(|data: &[u8]| {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    let catalog = CATALOG.get_or_init(Catalog::builtin);
    let text = String::from_utf8_lossy(data);
    if let Err(error) = Config::parse(&text, "grantguard.json", catalog.docs()) {
        let rendered = format!("{:?}", miette::Report::new(error));
        assert!(
            rendered.len() < 4096,
            "{} bytes: {rendered}",
            rendered.len()
        );
    }
});

//! The inventory snapshot reader (`audit --inventory`, `graph --inventory`), from text
//! (`snapshot::parse`) and from a file (`snapshot::load`, which parses on two cores and parses
//! again slowly only to place an error): any bytes load or fail with an error, never a panic,
//! and the error renders as the binary prints it in a few kilobytes at most, however large
//! or damaged the file (one short error, never the file). The two readers agree on whether
//! a text is a snapshot. A snapshot that loads writes back to one that loads the same.
#![no_main]

use grantguard::inventory::snapshot;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

/// What `main` prints for an error: at most this many bytes, whatever the input.
const SHORT: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("snapshot.json");
    std::fs::write(&path, data).expect("write the input");
    let file_loads = match snapshot::load(&path) {
        Ok(_) => true,
        Err(error) => {
            assert_short(error);
            false
        }
    };
    let Ok(text) = std::str::from_utf8(data) else {
        assert!(!file_loads, "bytes that are not UTF-8 loaded");
        return;
    };
    let from_text = snapshot::parse(text, Path::new("snapshot.json"));
    assert_eq!(from_text.is_ok(), file_loads, "the two readers disagree");
    match from_text {
        Ok(inventory) => {
            let again = dir.path().join("again.json");
            snapshot::save(&inventory, &again).expect("a loaded snapshot saves");
            let reloaded = snapshot::load(&again).expect("a saved snapshot loads");
            assert_eq!(
                serde_json::to_value(&inventory).expect("to a value"),
                serde_json::to_value(&reloaded).expect("to a value"),
                "saving and loading changed the inventory"
            );
        }
        Err(error) => assert_short(error),
    }
});

/// The error as `main` prints it is short.
fn assert_short(error: snapshot::SnapshotError) {
    let rendered = format!("{:?}", miette::Report::new(error));
    assert!(
        rendered.len() < SHORT,
        "{} bytes: {rendered}",
        rendered.len()
    );
}

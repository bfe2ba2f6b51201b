//! The `--terraform` readers (docs/terraform.md): any text, read as a `.tf` file (through
//! `read_configuration`) and as a state (through `read_state`), gives declarations or an
//! error, never a panic, and the error renders as the binary prints it (a miette report whose
//! label points into the text), also without a panic. Every declaration it finds has a line
//! inside the text.
#![no_main]

use grantguard::terraform::{read_configuration, read_state, Folder};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    let lines = u32::try_from(text.lines().count().max(1)).unwrap_or(u32::MAX);
    let folder = Folder {
        shown_as: "infra".into(),
        files: vec![("main.tf".into(), text.clone())],
    };
    match read_configuration(&folder) {
        Ok(found) => {
            for grant in &found.grants {
                let line = grant.source.line.expect("a .tf declaration has a line");
                assert!((1..=lines + 1).contains(&line), "line {line} of {lines}");
            }
        }
        Err(error) => {
            let rendered = format!("{:?}", miette::Report::new(error));
            assert!(rendered.contains("main.tf"), "{rendered}");
        }
    }
    if let Err(error) = read_state("state.json", &text) {
        let rendered = format!("{:?}", miette::Report::new(error));
        assert!(rendered.contains("state.json"), "{rendered}");
    }
});

//! The emulator's fixture format (docs/fixture-format.md), through `Fixture::from_json` (what
//! `sim serve --fixture` and the tests load): any text loads or fails with an error, never a
//! panic, and the error renders as the binary prints it (a miette report whose label points
//! into the text), also without a panic. A fixture that loads is normalised: loading its own
//! serialisation again gives the same fixture.
#![no_main]

use grantguard_sim::Fixture;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match Fixture::from_json(&text) {
        Ok(fixture) => {
            let written = serde_json::to_string(&fixture).expect("a fixture serializes");
            let again = Fixture::from_json(&written)
                .unwrap_or_else(|e| panic!("a loaded fixture does not load again: {e}\n{written}"));
            assert_eq!(
                serde_json::to_value(&fixture).expect("to a value"),
                serde_json::to_value(&again).expect("to a value"),
                "loading is not idempotent"
            );
        }
        Err(error) => {
            let rendered = format!("{:?}", miette::Report::new(error));
            assert!(rendered.contains("fixture"), "{rendered}");
        }
    }
});

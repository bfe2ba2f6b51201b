//! The removal journal reader (`journal::parse`, what `journal::read` runs on the file) and
//! the fold into entries (`journal::entries`, what `journal`, `restore` and `remove` show).
//! Any bytes give records and damage reports, never a panic, and:
//! - every record read is one the writer could have written: `encode` of it reads back as
//!   exactly that record;
//! - nothing is read from a line without its newline: cutting the last byte off loses at most
//!   the last record, and a torn tail appended after the input adds none;
//! - every line is accounted for once: a record or a damage report, never both.
//!
//! The fuzzer cannot forge SHA-256 sums, so each input is also read "resealed": every line
//! shaped like a journal line gets the right sum for its record text. That lets mutations of
//! the record itself reach the record decoder and the fold.
#![no_main]

use grantguard::removal::journal;
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

const PREFIX: &[u8] = b"{\"sum\":\"";
const MIDDLE: &[u8] = b"\",\"record\":";

/// `data` with the sum of every journal-shaped line replaced by the sum of its record text.
fn reseal(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    for line in data.split_inclusive(|&b| b == b'\n') {
        let (text, newline) = match line.strip_suffix(b"\n") {
            Some(text) => (text, &b"\n"[..]),
            None => (line, &b""[..]),
        };
        let sealed = text
            .strip_prefix(PREFIX)
            .filter(|rest| rest.len() >= 64)
            .and_then(|rest| rest[64..].strip_prefix(MIDDLE))
            .and_then(|rest| rest.strip_suffix(b"}"));
        match sealed {
            Some(record) => {
                out.extend_from_slice(PREFIX);
                out.extend_from_slice(hex::encode(Sha256::digest(record)).as_bytes());
                out.extend_from_slice(MIDDLE);
                out.extend_from_slice(record);
                out.push(b'}');
            }
            None => out.extend_from_slice(text),
        }
        out.extend_from_slice(newline);
    }
    out
}

fuzz_target!(|data: &[u8]| {
    check(data);
    let resealed = reseal(data);
    if resealed != data {
        check(&resealed);
    }
});

fn check(data: &[u8]) {
    let contents = journal::parse(data);
    let lines = data.iter().filter(|&&b| b == b'\n').count() + usize::from(!data.ends_with(b"\n"));
    assert!(
        contents.records.len() + contents.damaged.len() <= lines,
        "{} records and {} damaged out of {lines} lines",
        contents.records.len(),
        contents.damaged.len()
    );
    assert!(
        contents.damaged.windows(2).all(|w| w[0].line < w[1].line),
        "damage reported out of order or twice: {:?}",
        contents.damaged
    );

    for record in &contents.records {
        let line = journal::encode(record);
        let again = journal::parse(line.as_bytes());
        assert!(again.damaged.is_empty(), "{:?}", again.damaged);
        assert_eq!(again.records.as_slice(), std::slice::from_ref(record));
    }

    if let Some((_, cut)) = data.split_last() {
        let shorter = journal::parse(cut);
        assert!(
            contents.records.starts_with(&shorter.records)
                && contents.records.len() - shorter.records.len() <= 1,
            "cutting one byte changed more than the last record"
        );
    }
    if data.ends_with(b"\n") || data.is_empty() {
        let mut torn = data.to_vec();
        torn.extend_from_slice(br#"{"sum":"00","record":{"id":"x","state":"done"#);
        assert_eq!(journal::parse(&torn).records, contents.records);
    }

    for entry in journal::entries(&contents.records) {
        let _ = (
            entry.state().as_str(),
            entry.is_restorable(),
            entry.intent.grant.describe(),
        );
    }
}

//! Signs test vectors with grantguard's v1 signer, for the differential check against the
//! official SDK (docs/fault-model.md P2, `tests/interop/sdk_interop.py`).
//!
//! In: JSON lines on stdin, `{"method": "POST", "secret": "…", "params": {"Name": "value", …}}`,
//! every parameter value a string (the signed set, `Signature` excluded). Out: one line per
//! input line on stdout, the base64 signature. A line that is not such an object is an error
//! naming its line number (exit 1); the secret is never echoed. Test secrets only: this is a
//! test tool, and it prints signatures.

use grantguard::auth::sign;
use std::io::{BufRead, BufWriter, Write};
use std::process::ExitCode;

/// One vector as the interop script writes it.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Vector {
    /// HTTP method the request is sent (and so signed) with.
    method: String,
    /// AccessKeySecret (the HMAC key is `secret + "&"`).
    secret: String,
    /// The signed parameters, raw (not percent-encoded).
    params: std::collections::BTreeMap<String, String>,
}

fn main() -> ExitCode {
    let stdin = std::io::stdin().lock();
    let mut out = BufWriter::new(std::io::stdout().lock());
    for (index, line) in stdin.lines().enumerate() {
        let number = index + 1;
        let line = match line {
            Ok(line) => line,
            Err(e) => {
                eprintln!("sign_vectors: cannot read line {number}: {e}");
                return ExitCode::FAILURE;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let vector: Vector = match serde_json::from_str(&line) {
            Ok(vector) => vector,
            Err(e) => {
                // serde_json's message names the position, never the value.
                eprintln!("sign_vectors: line {number} is not a vector: {e}");
                return ExitCode::FAILURE;
            }
        };
        let params: Vec<(String, String)> = vector.params.into_iter().collect();
        let to_sign = sign::string_to_sign(&vector.method, &params);
        let signature = sign::signature(&vector.secret, &to_sign);
        if writeln!(out, "{signature}").is_err() {
            return ExitCode::FAILURE;
        }
    }
    if out.flush().is_err() {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

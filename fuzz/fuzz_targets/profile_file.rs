//! The Alibaba Cloud CLI profile file (`~/.aliyun/config.json`) through the credential chain
//! (`credentials::resolve`, the chain's offline part: it stops before any token exchange).
//! Any contents resolve or fail with an error, never a panic, and no secret in the file
//! (`access_key_secret`, `sts_token`) is ever shown: not in the error's message, its debug
//! form or its rendered diagnostic, not in the debug form of what resolved. The file lives in
//! one private temporary HOME per fuzzing process, rewritten each run.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::OnceLock;

fn home() -> &'static PathBuf {
    static HOME: OnceLock<PathBuf> = OnceLock::new();
    HOME.get_or_init(|| {
        let home = std::env::temp_dir().join(format!("grantguard-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(home.join(".aliyun")).expect("temporary HOME");
        home
    })
}

/// The values written after a secret key: quoted (up to a quote or an escape) or a bare
/// number. Only values that occur once in the file count, so each can be masked alone.
fn secrets(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    for key in ["\"access_key_secret\"", "\"sts_token\""] {
        for (at, _) in text.match_indices(key) {
            let rest = text[at + key.len()..].trim_start();
            let Some(rest) = rest.strip_prefix(':') else {
                continue;
            };
            let rest = rest.trim_start();
            let value = match rest.strip_prefix('"') {
                Some(quoted) => quoted.split(['"', '\\']).next().unwrap_or(""),
                None => {
                    let end = rest
                        .find(|c: char| !c.is_ascii_digit())
                        .unwrap_or(rest.len());
                    &rest[..end]
                }
            };
            if value.len() >= 4 && text.matches(value).count() == 1 {
                found.push(value);
            }
        }
    }
    found
}

/// The same text, every letter and digit changed (digits stay digits, so a bare number
/// stays a number and the file keeps its shape).
fn mask(secret: &str) -> String {
    secret
        .chars()
        .map(|c| match c {
            'z' => 'a',
            'Z' => 'A',
            '9' => '8',
            'a'..='y' | 'A'..='Y' | '0'..='8' => char::from(c as u8 + 1),
            other => other,
        })
        .collect()
}

/// Everything `resolve` shows for the file: the error (message, debug form, the miette
/// report main prints) or the debug form of what resolved, for each way a profile is chosen.
fn shown(data: &[u8]) -> String {
    let home = home();
    let file = home.join(".aliyun/config.json");
    std::fs::write(&file, data).expect("write the profile file");
    // Owner-only, so the permission check passes and the parser is what runs.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod 600");
    let env = |_: &str| None::<String>;
    let mut out = String::new();
    for profile in [Some("p"), Some("default"), None] {
        match grantguard::credentials::resolve(profile, &env, Some(home)) {
            Ok(resolved) => out.push_str(&format!("{resolved:?} {}\n", resolved.source)),
            Err(error) => {
                out.push_str(&format!("{error} {error:?}\n"));
                out.push_str(&format!("{:?}\n", miette::Report::new(error)));
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let shown_as_is = shown(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // A secret is shown when it appears more often than it does once masked in the file: the
    // rest (paths, field names, fixed words) is the same in both.
    for secret in secrets(text) {
        let masked = text.replacen(secret, &mask(secret), 1);
        let shown_masked = shown(masked.as_bytes());
        assert!(
            shown_as_is.matches(secret).count() <= shown_masked.matches(secret).count(),
            "secret {secret:?} shown in {shown_as_is:?}"
        );
    }
});

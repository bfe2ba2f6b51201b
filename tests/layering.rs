//! The module graph docs/architecture.md "Code style" draws: `auth` is a leaf (no other grantguard module), `client`
//! depends on `auth` and never on `credentials`, and `credentials` sits above `client`. Read
//! from the source, every `crate::MODULE` path (and `super::super`, which escapes a folder).

use std::collections::BTreeSet;
use std::path::Path;

/// Every top-level module a folder of `src/` names through `crate::`, with the file.
fn crate_paths(folder: &str) -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src")
        .join(folder);
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        assert!(
            !text.contains("super::super"),
            "{folder}/{name} reaches out of its folder with super::super"
        );
        for (at, _) in text.match_indices("crate::") {
            let module: String = text[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !module.is_empty() {
                found.push((name.clone(), module));
            }
        }
    }
    found
}

fn modules(folder: &str) -> BTreeSet<String> {
    crate_paths(folder).into_iter().map(|(_, m)| m).collect()
}

#[test]
fn auth_is_a_leaf() {
    for (file, module) in crate_paths("auth") {
        assert_eq!(module, "auth", "auth/{file} uses crate::{module}");
    }
}

#[test]
fn client_depends_on_auth_and_not_on_credentials() {
    let used = modules("client");
    assert!(used.contains("auth"), "{used:?}");
    for (file, module) in crate_paths("client") {
        assert!(
            module == "auth" || module == "client",
            "client/{file} uses crate::{module}"
        );
    }
}

#[test]
fn credentials_sit_above_client() {
    let used = modules("credentials");
    assert!(used.contains("client") && used.contains("auth"), "{used:?}");
}

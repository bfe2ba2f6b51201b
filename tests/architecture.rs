//! The dependency direction of docs/architecture.md, checked against the code: every
//! `crate::…` path in a top-level module of `src/` must name a module its row in the
//! architecture's module map allows, the top-level modules must form no import cycle, the
//! emulator must stay behind `demo` and `sim`, and the two crates must depend on nothing of
//! the tool's. Test-only code (`tests.rs`, `testing.rs`, and a file's trailing
//! `#[cfg(test)] mod tests`) is not counted: tests may reach across.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The module map: `module -> modules it may use`, from the table under "## Module map".
fn allowed() -> BTreeMap<String, BTreeSet<String>> {
    let text = std::fs::read_to_string(root().join("docs/architecture.md")).unwrap();
    let section = text
        .split("\n## Module map")
        .nth(1)
        .expect("docs/architecture.md has a \"Module map\" section");
    let section = section.split("\n## ").next().unwrap();
    let mut map = BTreeMap::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // | `module` | job | `dep`, `dep` |
        let module = cells[1].trim_matches('`').trim_end_matches('/').to_owned();
        let deps = cells[3]
            .split(',')
            .map(|d| d.trim().trim_matches('`').trim_end_matches('/').to_owned())
            .filter(|d| !d.is_empty() && d != "—")
            .collect();
        map.insert(module, deps);
    }
    assert!(!map.is_empty(), "no rows in the module map");
    map
}

/// Every `.rs` file of a top-level module (`src/x.rs` or `src/x/**.rs`), test files left out.
fn files_of(module: &str) -> Vec<PathBuf> {
    let src = root().join("src");
    let mut files = Vec::new();
    let single = src.join(format!("{module}.rs"));
    if single.exists() {
        files.push(single);
    }
    let mut dirs = vec![src.join(module)];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let name = path.file_name().unwrap().to_str().unwrap();
                if name != "tests.rs" && name != "testing.rs" {
                    files.push(path);
                }
            }
        }
    }
    files
}

/// The code of a file without comments and without its trailing unit-test module.
fn code_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => &text[..],
    };
    text.lines()
        .map(|l| l.split("//").next().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules `code` names through `crate::`, including grouped imports.
fn used_modules(code: &str) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut item = String::new();
            let mut items = Vec::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    ',' if depth == 1 => {
                        items.push(std::mem::take(&mut item));
                        continue;
                    }
                    _ => {}
                }
                if depth >= 1 {
                    item.push(c);
                }
            }
            items.push(item);
            used.extend(
                items
                    .iter()
                    .map(|i| ident(i.trim()))
                    .filter(|i| !i.is_empty()),
            );
        } else {
            let name = ident(rest);
            if !name.is_empty() {
                used.insert(name);
            }
        }
    }
    used
}

fn top_level_modules() -> BTreeSet<String> {
    std::fs::read_dir(root().join("src"))
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let path = e.path();
            let name = path.file_stem()?.to_str()?.to_owned();
            let wanted = path.is_dir() || path.extension().is_some_and(|x| x == "rs");
            (wanted && name != "main" && name != "lib").then_some(name)
        })
        .collect()
}

/// What `lib.rs` re-exports at the crate root (`pub use error::Error;` makes `crate::Error`
/// a use of `error`).
fn root_reexports() -> BTreeMap<String, String> {
    let lib = std::fs::read_to_string(root().join("src/lib.rs")).unwrap();
    lib.lines()
        .filter_map(|l| l.trim().strip_prefix("pub use ")?.strip_suffix(';'))
        .filter_map(|path| {
            let (module, rest) = path.split_once("::")?;
            let name = rest.rsplit("::").next()?.rsplit(" as ").next()?;
            Some((name.trim().to_owned(), module.to_owned()))
        })
        .collect()
}

fn edges() -> BTreeMap<String, BTreeSet<String>> {
    let modules = top_level_modules();
    let reexports = root_reexports();
    modules
        .iter()
        .map(|m| {
            let used: BTreeSet<String> = files_of(m)
                .iter()
                .flat_map(|f| used_modules(&code_of(f)))
                .map(|u| reexports.get(&u).cloned().unwrap_or(u))
                .filter(|u| u != m && modules.contains(u))
                .collect();
            (m.clone(), used)
        })
        .collect()
}

#[test]
fn every_module_is_in_the_map_and_uses_only_what_it_may() {
    let allowed = allowed();
    let mut wrong = Vec::new();
    for module in top_level_modules() {
        for file in files_of(&module) {
            if code_of(&file).contains("crate::*") {
                wrong.push(format!(
                    "{} imports the crate root with a glob, which hides what it uses",
                    file.display()
                ));
            }
        }
    }
    for (module, used) in edges() {
        let Some(may) = allowed.get(&module) else {
            wrong.push(format!(
                "{module} is not in docs/architecture.md's module map"
            ));
            continue;
        };
        for u in used.difference(may) {
            wrong.push(format!("{module} uses {u}, which its row does not allow"));
        }
    }
    for module in allowed.keys() {
        if !top_level_modules().contains(module) {
            wrong.push(format!(
                "the module map lists {module}, which src/ does not have"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_top_level_modules_form_no_cycle() {
    let edges = edges();
    // Depth-first search with colours; a grey node reached again closes a cycle.
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(node.to_owned(), 1);
        stack.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            match state.get(next.as_str()).copied().unwrap_or(0) {
                1 => {
                    let from = stack.iter().position(|s| s == next).unwrap();
                    let mut cycle = stack[from..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                0 => {
                    if let Some(cycle) = visit(next, edges, state, stack) {
                        return Some(cycle);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(node.to_owned(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in edges.keys() {
        if state.get(node).copied().unwrap_or(0) == 0 {
            if let Some(cycle) = visit(node, &edges, &mut state, &mut Vec::new()) {
                panic!("import cycle: {}", cycle.join(" → "));
            }
        }
    }
}

#[test]
fn the_emulator_stays_behind_demo_and_sim() {
    let mut users = BTreeSet::new();
    for module in top_level_modules() {
        for file in files_of(&module) {
            if code_of(&file).contains("grantguard_sim") {
                users.insert(
                    file.strip_prefix(root().join("src"))
                        .unwrap()
                        .display()
                        .to_string(),
                );
            }
        }
    }
    let allowed: BTreeSet<String> = ["demo.rs", "commands/sim.rs", "commands/sim_snapshot.rs"]
        .into_iter()
        .map(String::from)
        .collect();
    let outside: Vec<&String> = users.difference(&allowed).collect();
    assert!(outside.is_empty(), "the emulator is used in {outside:?}");
}

#[test]
fn the_crates_depend_on_nothing_of_the_tool() {
    for (krate, may) in [("wire", &[][..]), ("sim", &["grantguard-wire"][..])] {
        let manifest =
            std::fs::read_to_string(root().join(format!("crates/{krate}/Cargo.toml"))).unwrap();
        let ours: Vec<&str> = manifest
            .lines()
            .filter_map(|l| l.split(['.', ' ', '=']).next())
            .filter(|name| name.starts_with("grantguard"))
            .collect();
        assert_eq!(ours, may, "crates/{krate} depends on {ours:?}");
    }
}

#[test]
fn the_import_parser_sees_grouped_and_nested_paths() {
    let code =
        "use crate::{audit, client::{Client, Endpoint}, emit};\nlet x = crate::report::render(y);";
    let used = used_modules(code);
    let expected: BTreeSet<String> = ["audit", "client", "emit", "report"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(used, expected);
}

#[test]
fn no_file_cites_a_document_outside_the_repository() {
    // The specs the project started from are not in the repository; docs/ says the same in
    // our own words, and that is what the code and the docs cite.
    let outside = [
        "FAULTS.md",
        "DESIGN.md",
        "STYLE.md",
        "cloudapi-2016-07-14.md",
        "reference §",
        "reference trap",
        "../shared",
    ];
    let mut found = Vec::new();
    let mut dirs: Vec<PathBuf> = [
        "src", "crates", "tests", "docs", "scripts", "examples", "fuzz", "rules", "schemas", ".ci",
    ]
    .iter()
    .map(|d| root().join(d))
    .collect();
    let mut files = vec![root().join("README.md"), root().join("Cargo.toml")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if name != "target" && !name.starts_with('.') || name == ".ci" {
                    dirs.push(path);
                }
            } else {
                files.push(path);
            }
        }
    }
    let this = root().join("tests/architecture.rs");
    for file in files.iter().filter(|f| **f != this) {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            if let Some(what) = outside.iter().find(|o| line.contains(*o)) {
                found.push(format!("{}:{}: {what}", file.display(), n + 1));
            }
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}

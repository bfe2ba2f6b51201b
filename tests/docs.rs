//! The README and `docs/*.md` cannot drift from the tool: their `console` blocks run against the
//! built binary and must print what they show (trycmd), every other `grantguard …` command they
//! show must parse with the real command-line definition, and every relative link must lead to
//! a file (and a heading, for `#anchor` links).

use grantguard::cli::Cli;
use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// README.md and every `docs/*.md`, as paths relative to the repository root.
fn markdown_files() -> Vec<PathBuf> {
    let mut files = vec![PathBuf::from("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/ exists")
        .map(|entry| entry.expect("docs/ is readable").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .map(|path| {
            path.strip_prefix(root())
                .expect("under the root")
                .to_owned()
        })
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

fn read(file: &Path) -> String {
    std::fs::read_to_string(root().join(file)).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// `console` blocks are run: trycmd runs each `$ grantguard …` line from the repository root and
/// compares what it prints (stdout and stderr, in order) and its exit status (`? N` when not 0)
/// with the block. The only redactions are the ones a reader sees in the block itself: `[..]`
/// for a part of a line that changes between runs (the emulator's port, an age), `...` for
/// lines left out. The environment is set below, as the surrounding text describes it. Blocks
/// that cannot run here (a live account, a server that never exits) are
/// `sh`, and `commands_shown_in_the_docs_parse` checks them.
#[test]
fn console_blocks_print_what_they_show() {
    let cases = trycmd::TestCases::new();
    cases
        .register_bin(
            "grantguard",
            PathBuf::from(env!("CARGO_BIN_EXE_grantguard")),
        )
        // What the text around the blocks describes: an access key exported in the shell and
        // the region in ALIBABA_CLOUD_REGION_ID (for `whoami`; no block calls the service).
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI5tExampleKeyId")
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ExampleSecretValue")
        .env("ALIBABA_CLOUD_REGION_ID", "cn-hangzhou")
        .env("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1");
    for file in markdown_files() {
        cases.case(root().join(file));
    }
}

/// A fenced code block: its info string and text.
struct Block {
    lang: String,
    text: String,
}

/// The fenced code blocks and inline code spans of a Markdown text.
fn code_of(markdown: &str) -> (Vec<Block>, Vec<String>) {
    let mut blocks = Vec::new();
    let mut spans = Vec::new();
    let mut current: Option<Block> = None;
    for event in Parser::new_ext(markdown, Options::ENABLE_TABLES) {
        match event {
            Event::Start(Tag::CodeBlock(kind)) => {
                let lang = match kind {
                    CodeBlockKind::Fenced(info) => info.to_string(),
                    CodeBlockKind::Indented => String::new(),
                };
                current = Some(Block {
                    lang,
                    text: String::new(),
                });
            }
            Event::Text(text) => {
                if let Some(block) = current.as_mut() {
                    block.text.push_str(&text);
                }
            }
            Event::End(TagEnd::CodeBlock) => blocks.extend(current.take()),
            Event::Code(code) => spans.push(code.to_string()),
            _ => {}
        }
    }
    (blocks, spans)
}

/// The `grantguard` invocation in one shell line, as arguments (the program name first), or
/// None when the line runs something else. Leading `$ `/`PS> ` prompts and `VAR=value`
/// assignments are dropped, and the command ends at the first pipe, redirection, `&&`, `;` or
/// comment.
fn invocation(line: &str) -> Option<Vec<String>> {
    let line = line.trim();
    let line = line
        .strip_prefix("$ ")
        .or_else(|| line.strip_prefix("PS> "))
        .unwrap_or(line);
    let words = shlex::Shlex::new(line).collect::<Vec<_>>();
    let start = words.iter().position(|w| !is_assignment(w))?;
    if words[start] != "grantguard" {
        return None;
    }
    let args = words[start..]
        .iter()
        .take_while(|w| {
            !matches!(
                w.as_str(),
                "|" | ">" | ">>" | "<" | "&&" | "||" | ";" | "2>"
            )
        })
        .take_while(|w| !w.starts_with('#'))
        .cloned()
        .collect();
    Some(args)
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    })
}

/// The lines of a shell block, with `\` continuations joined.
fn command_lines(block: &Block) -> Vec<String> {
    let mut lines = Vec::new();
    let mut pending = String::new();
    for line in block.text.lines() {
        if let Some(head) = line.strip_suffix('\\') {
            pending.push_str(head);
            pending.push(' ');
            continue;
        }
        pending.push_str(line);
        lines.push(std::mem::take(&mut pending));
    }
    lines
}

/// An inline code span is checked when it is a whole command: it starts with `grantguard ` and
/// holds no usage notation (`[OPTIONAL]`, `a|b`, `…`).
fn is_concrete_command(span: &str) -> bool {
    span.starts_with("grantguard ") && !span.contains(['[', '|', '…']) && !span.contains("...")
}

/// Every `grantguard …` command in a shell block, and every command in inline code,
/// parses with the real command-line definition: a renamed or removed flag, subcommand or value
/// fails here. Prose may name a command without its required arguments (`grantguard remove`,
/// `grantguard sim serve`); a code block must show it whole. `sh` blocks need a live account or
/// never exit, so parsing is what can be checked of them (`console` blocks are run instead).
/// The CI examples in `docs/examples/` (workflow `run:` lines, scripts) are checked the same way.
#[test]
fn commands_shown_in_the_docs_parse() {
    // (where, the command, whether it must be whole)
    let mut commands: Vec<(PathBuf, String, bool)> = Vec::new();
    for file in markdown_files() {
        let (blocks, spans) = code_of(&read(&file));
        // Console blocks are left to `console_blocks_print_what_they_show`, which runs them
        // (and may show a wrong flag on purpose, with its exit status 2).
        let shell = |b: &&Block| {
            matches!(
                b.lang.split(',').next().unwrap_or(""),
                "sh" | "bash" | "shell" | "powershell"
            )
        };
        for line in blocks.iter().filter(shell).flat_map(command_lines) {
            commands.push((file.clone(), line, true));
        }
        for span in spans.into_iter().filter(|s| is_concrete_command(s)) {
            commands.push((file.clone(), span, false));
        }
    }
    for entry in std::fs::read_dir(root().join("docs/examples")).expect("docs/examples/") {
        let path = entry.expect("readable").path();
        if !path.extension().is_some_and(|e| e == "yml" || e == "sh") {
            continue;
        }
        let file = path
            .strip_prefix(root())
            .expect("under the root")
            .to_owned();
        for line in read(&file).lines() {
            let line = line.trim_start();
            let line = line.strip_prefix("run:").unwrap_or(line).trim_start();
            if line.starts_with("grantguard ") {
                commands.push((file.clone(), line.to_owned(), true));
            }
        }
    }
    let mut checked = 0;
    let mut failures = Vec::new();
    for (file, command, whole) in commands {
        let Some(args) = invocation(&command) else {
            continue;
        };
        checked += 1;
        if let Err(err) = Cli::try_parse_checked_from(&args) {
            use clap::error::ErrorKind;
            let named_in_prose = !whole
                && matches!(
                    err.kind(),
                    ErrorKind::MissingRequiredArgument
                        | ErrorKind::MissingSubcommand
                        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
                );
            let help = matches!(
                err.kind(),
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
            );
            if !help && !named_in_prose {
                let first = err.to_string();
                let first = first.lines().next().unwrap_or_default().to_owned();
                failures.push(format!("{}: `{command}`: {first}", file.display()));
            }
        }
    }
    assert!(
        checked > 40,
        "only {checked} commands found: is the extraction broken?"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn invocation_reads_shell_lines_as_a_shell_would() {
    assert_eq!(
        invocation("$ GRANTGUARD_QPS=5 grantguard audit --name 'a b' | head -1"),
        Some(vec![
            "grantguard".into(),
            "audit".into(),
            "--name".into(),
            "a b".into()
        ])
    );
    assert_eq!(
        invocation("grantguard man > grantguard.1 && man ./grantguard.1"),
        Some(vec!["grantguard".into(), "man".into()])
    );
    assert_eq!(
        invocation("grantguard journal   # what was removed"),
        Some(vec!["grantguard".into(), "journal".into()])
    );
    assert_eq!(invocation("cargo test"), None);
    assert!(Cli::try_parse_checked_from(["grantguard", "audit", "--nmae", "x"]).is_err());
}

/// GitHub's anchor for a heading: lower case, punctuation dropped but `-` and `_`, each space
/// a `-`.
fn slug(heading: &str) -> String {
    heading
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

/// The anchors of a Markdown text: its headings' (a repeated heading gets `-1`, `-2`, … as on
/// GitHub) and its HTML `<a id>`s.
fn anchors(markdown: &str) -> BTreeSet<String> {
    let mut anchors = BTreeSet::new();
    let mut heading: Option<String> = None;
    for event in Parser::new_ext(markdown, Options::ENABLE_TABLES) {
        match event {
            Event::Start(Tag::Heading { .. }) => heading = Some(String::new()),
            Event::Text(text) | Event::Code(text) => {
                if let Some(h) = heading.as_mut() {
                    h.push_str(&text);
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                let base = slug(&heading.take().unwrap_or_default());
                let mut anchor = base.clone();
                let mut n = 0;
                while anchors.contains(&anchor) {
                    n += 1;
                    anchor = format!("{base}-{n}");
                }
                anchors.insert(anchor);
            }
            _ => {}
        }
    }
    // Explicit anchors: `<a id="sec-1"></a>` before a heading or in a table cell.
    for attr in ["<a id=\"", "<a name=\""] {
        for (at, _) in markdown.match_indices(attr) {
            let rest = &markdown[at + attr.len()..];
            anchors.extend(rest.split('"').next().map(str::to_owned));
        }
    }
    anchors
}

/// The link targets of a Markdown text (code is not looked into).
fn links(markdown: &str) -> Vec<String> {
    Parser::new_ext(markdown, Options::ENABLE_TABLES)
        .filter_map(|event| match event {
            Event::Start(Tag::Link { dest_url, .. }) => Some(dest_url.to_string()),
            Event::Start(Tag::Image { dest_url, .. }) => Some(dest_url.to_string()),
            _ => None,
        })
        .collect()
}

#[test]
fn every_relative_link_resolves() {
    let mut checked = 0;
    let mut broken = Vec::new();
    for file in markdown_files() {
        for target in links(&read(&file)) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (path, anchor) = match target.split_once('#') {
                Some((path, anchor)) => (path, Some(anchor)),
                None => (target.as_str(), None),
            };
            let dest = if path.is_empty() {
                file.clone()
            } else {
                file.parent().unwrap_or(Path::new("")).join(path)
            };
            if !root().join(&dest).exists() {
                broken.push(format!(
                    "{}: {target}: no file {}",
                    file.display(),
                    dest.display()
                ));
                continue;
            }
            if let Some(anchor) = anchor {
                let is_markdown = dest.extension().is_some_and(|e| e == "md");
                if !is_markdown || !anchors(&read(&dest)).contains(anchor) {
                    broken.push(format!(
                        "{}: {target}: no heading #{anchor}",
                        file.display()
                    ));
                }
            }
        }
    }
    assert!(
        checked > 20,
        "only {checked} links found: is the extraction broken?"
    );
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

#[test]
fn slugs_are_githubs() {
    assert_eq!(
        slug("The JSON report (`--format json`)"),
        "the-json-report---format-json"
    );
    assert_eq!(
        slug("Performance: large accounts, rate limits"),
        "performance-large-accounts-rate-limits"
    );
    let anchors = anchors("# A\n## B c\n## B c\n### `whoami`\n## <a id=\"sec-1\"></a>§1 T\n");
    assert!(
        ["a", "b-c", "b-c-1", "whoami", "sec-1", "1-t"]
            .iter()
            .all(|a| anchors.contains(*a)),
        "{anchors:?}"
    );
}

mod common;

/// The README's tour audits `docs/examples/demo-inventory.json`; it is what `scan` writes for the
/// demo account, byte for byte, but for `taken_at`, which is set days back so the tour's
/// output does not change when the file turns one day old (it always shows GG202).
#[test]
fn the_example_snapshot_is_a_scan_of_the_demo_account() {
    let sim = common::start("demo-account.json");
    let home = common::Home::new();
    let out = home.path().join("scan.json");
    let status = common::grantguard(&sim, &home)
        .args(["scan", "--quiet", "--output"])
        .arg(&out)
        .output()
        .expect("scan runs")
        .status;
    // The demo account denies one index lookup: the snapshot has a gap, so scan exits 1.
    assert_eq!(status.code(), Some(1));
    let without_time = |text: &str| {
        let mut doc: serde_json::Value = serde_json::from_str(text).expect("a JSON snapshot");
        doc.as_object_mut().expect("an object").remove("taken_at");
        doc
    };
    let scanned = std::fs::read_to_string(&out).expect("scan wrote it");
    let example = Path::new("docs/examples/demo-inventory.json");
    let shown = read(example);
    if without_time(&scanned) != without_time(&shown) {
        // Like insta's `.snap.new`: the fresh scan with the example's `taken_at`, to review
        // and move over the example.
        let taken_at = |text: &str| {
            let key = "\"taken_at\":\"";
            let start = text.find(key).expect("a taken_at") + key.len();
            let end = start + text[start..].find('"').expect("a closing quote");
            (start, end)
        };
        let (start, end) = taken_at(&scanned);
        let (shown_start, shown_end) = taken_at(&shown);
        let fresh = format!(
            "{}{}{}",
            &scanned[..start],
            &shown[shown_start..shown_end],
            &scanned[end..]
        );
        let new = root().join("docs/examples/demo-inventory.json.new");
        std::fs::write(&new, fresh).expect("write the .new file");
        panic!(
            "{} is not what scan writes for the demo account any more; review {} and move it over",
            example.display(),
            new.display()
        );
    }
}

/// The `grantguard.json` examples (the README's and every one in docs/configuration.md) are
/// accepted by the real configuration parser, with the real rule catalog.
#[test]
fn configuration_examples_are_accepted() {
    let catalog = grantguard::rules::Catalog::builtin();
    let mut checked = 0;
    for file in [Path::new("README.md"), Path::new("docs/configuration.md")] {
        let (blocks, _) = code_of(&read(file));
        // The configuration examples are the JSON blocks with a `suppress` list.
        let examples = blocks
            .iter()
            .filter(|b| b.lang == "json" && b.text.contains("\"suppress\""));
        for block in examples {
            checked += 1;
            if let Err(err) = grantguard::config::Config::parse(
                &block.text,
                &file.display().to_string(),
                catalog.docs(),
            ) {
                panic!("{}: the example is refused: {err}", file.display());
            }
        }
    }
    assert!(checked >= 2, "the configuration examples were not found");
}

/// The README is read in five minutes: detail belongs in a `docs/` page with a link.
#[test]
fn the_readme_stays_short() {
    let lines = read(Path::new("README.md")).lines().count();
    assert!(
        lines < 350,
        "README.md has {lines} lines; move detail to a docs/ page"
    );
}

/// The README's "on your own account" commands work as shown on a real (emulated) account: run
/// in order in one folder against the demo account, each ends with a verdict (exit 0 or 1)
/// and no error, so a flag combination that parses but is refused at run time fails here.
#[test]
fn the_readme_commands_for_your_own_account_run() {
    let (blocks, _) = code_of(&read(Path::new("README.md")));
    let block = blocks
        .iter()
        .find(|b| b.lang == "sh" && b.text.contains("export ALIBABA_CLOUD_ACCESS_KEY_ID"))
        .expect("the README shows how to audit your own account");
    let sim = common::start("demo-account.json");
    let home = common::Home::new();
    let mut ran = 0;
    for line in command_lines(block) {
        let Some(args) = invocation(&line) else {
            continue;
        };
        let out = common::grantguard(&sim, &home)
            .args(&args[1..])
            .output()
            .expect("grantguard runs");
        let stderr = common::stderr(&out);
        assert!(
            matches!(out.status.code(), Some(0 | 1)) && !stderr.contains("error"),
            "`{line}` exited {:?}:\n{stderr}",
            out.status.code()
        );
        ran += 1;
    }
    assert!(ran >= 5, "only {ran} commands ran");
}

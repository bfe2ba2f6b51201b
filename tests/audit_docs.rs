//! docs/rules.md lists the rule catalog; this keeps that table equal to rules/*.json (id, name,
//! default severity, summary), and the README's tour equal to the demo's snapshot, so neither
//! can drift.

use grantguard::rules::Catalog;

#[test]
fn the_rule_table_equals_the_catalog() {
    let doc = include_str!("../docs/rules.md");
    let start = doc.find("<!-- rule-catalog:start").expect("start marker");
    let end = doc.find("<!-- rule-catalog:end -->").expect("end marker");
    let rows: Vec<Vec<String>> = doc[start..end]
        .lines()
        .filter(|l| l.starts_with("| GG"))
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .map(|cell| cell.trim().to_owned())
                .collect()
        })
        .collect();
    let expected: Vec<Vec<String>> = Catalog::builtin()
        .docs()
        .map(|d| {
            vec![
                d.id.to_string(),
                d.name.clone(),
                d.default_severity.as_str().to_owned(),
                d.summary.clone(),
            ]
        })
        .collect();
    assert_eq!(rows, expected, "regenerate the table from rules/*.json");
}

#[test]
fn the_tour_shows_the_demo_output_as_it_is() {
    // tests/docs.rs runs the tour's `grantguard demo` block; this also ties it to the reviewed
    // insta snapshot of the demo's report, so updating one without the other fails.
    let doc = include_str!("../README.md");
    let snapshot = include_str!("snapshots/demo_human.snap");
    let summary = "12 grants audited: 5 safe, 5 blocked, 2 unknown";
    assert!(doc.contains(summary), "the README lacks {summary:?}");
    assert!(
        snapshot.contains(summary),
        "the demo no longer prints {summary:?}"
    );
    let tour = doc
        .split("```console\n$ grantguard demo\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the tour runs `grantguard demo`");
    // `...` marks a cut and `[..]` a part that changes between runs (the first line, on
    // stderr, names the emulator's port; the snapshot holds stdout only).
    for line in tour
        .lines()
        .filter(|l| l.trim() != "..." && !l.trim().is_empty() && !l.contains("[..]"))
    {
        assert!(
            snapshot.contains(line),
            "the tour quotes {line:?}, which the demo does not print"
        );
    }
}

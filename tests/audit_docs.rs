//! The README lists the rule catalog; this keeps that table equal
//! to rules/*.json (id, name, default severity, summary), so the two cannot drift.

use grantguard::rules::Catalog;

#[test]
fn the_readme_rule_table_equals_the_catalog() {
    let doc = include_str!("../README.md");
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
    // The tour quotes real output; its summary line must still be what the demo prints.
    let doc = include_str!("../README.md");
    let snapshot = include_str!("snapshots/demo_human.snap");
    for line in [
        "12 grants audited: 5 safe, 5 blocked, 2 unknown",
        "    GG301 no-such-grant (deny): no grant in cn-hangzhou matches --name orders-slb-8O",
    ] {
        assert!(doc.contains(line), "docs lack {line:?}");
        assert!(
            snapshot.contains(line),
            "the demo no longer prints {line:?}"
        );
    }
    // Every line the tour quotes (its first `text` block; `…` marks a cut) is real output.
    let tour = doc
        .split("```text\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the tour has a text block");
    for line in tour
        .lines()
        .filter(|l| l.trim() != "…" && !l.trim().is_empty())
    {
        assert!(
            snapshot.contains(line),
            "the tour quotes {line:?}, which the demo does not print"
        );
    }
}

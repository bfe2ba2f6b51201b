//! `graph` as a person sees it: the demo account's DOT, written with `-o`, laid out by
//! Graphviz into a PNG and an SVG. The SVG says what the picture shows: grants filled in their
//! verdict's colour, the usage-index link dashed, names as labels and ids as tooltips, safe
//! grants nothing uses left out unless `--all`.
//!
//! Graphviz (`dot`) is needed: `.ci/run` installs it. Without it this test fails and says so;
//! set GRANTGUARD_NO_GRAPHVIZ=1 to pass it knowingly on a machine without Graphviz.

mod common;
use common::*;
use std::path::Path;
use std::process::Command;

/// Runs `dot -T{format}` on `input`; `None` when `dot` is not installed (and the opt-out set).
fn layout(input: &Path, format: &str) -> Option<Vec<u8>> {
    let out = match Command::new("dot")
        .arg(format!("-T{format}"))
        .arg(input)
        .output()
    {
        Ok(out) => out,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            if std::env::var_os("GRANTGUARD_NO_GRAPHVIZ").is_some() {
                eprintln!("GRANTGUARD_NO_GRAPHVIZ: the picture is not checked");
                return None;
            }
            panic!(
                "Graphviz's `dot` is not installed, so the graph picture cannot be checked: \
                 apt-get install graphviz (or set GRANTGUARD_NO_GRAPHVIZ=1 to skip knowingly)"
            );
        }
        Err(error) => panic!("dot: {error}"),
    };
    assert!(out.status.success(), "dot: {}", stderr(&out));
    Some(out.stdout)
}

#[test]
fn the_demo_graph_renders_with_verdict_colours_and_dashed_index_links() {
    let sim = start("demo-account.json");
    let home = Home::new();
    let file = home.path().join("grants.dot");
    let out = grantguard(&sim, &home)
        .args(["graph", "-o"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "-o writes the file, not stdout");
    let Some(png) = layout(&file, "png") else {
        return;
    };
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert!(
        width > 800 && height > 400,
        "{width}x{height}: the whole graph"
    );
    std::fs::write(home.path().join("grants.png"), &png).unwrap();

    let svg = String::from_utf8(layout(&file, "svg").unwrap()).unwrap();
    // Blocked red, unknown orange, safe with warnings yellow.
    assert_eq!(
        svg.matches("fill=\"#f6b1b1\"").count(),
        5,
        "5 blocked grants"
    );
    assert_eq!(
        svg.matches("fill=\"#f7cf8b\"").count(),
        2,
        "2 unknown grants"
    );
    assert_eq!(
        svg.matches("fill=\"#fbf0a0\"").count(),
        2,
        "2 warned grants"
    );
    assert!(
        svg.contains(">orders&#45;slb&#45;80 (blocked)</text>"),
        "the name is the label"
    );
    assert!(
        svg.contains("xlink:title=\"grant 4c68e061860f441ab72af7404137440e"),
        "the id is the tooltip"
    );
    assert!(
        !svg.contains("legacy&#45;unused&#45;443"),
        "a safe unused grant is left out"
    );
    let index_link = svg
        .split("<g id=\"edge")
        .find(|edge| edge.contains("listed by the usage index"))
        .expect("the GG106 link is drawn");
    assert!(
        index_link.contains("stroke-dasharray"),
        "dashed: {index_link}"
    );

    let all = grantguard(&sim, &home)
        .args(["graph", "--all"])
        .output()
        .unwrap();
    assert!(
        stdout(&all).contains("legacy-unused-443 (safe)"),
        "--all draws it"
    );
}

#[test]
fn mermaid_dashes_index_links_and_colours_grants_by_class() {
    let sim = start("demo-account.json");
    let home = Home::new();
    let out = grantguard(&sim, &home)
        .args(["graph", "--format", "mermaid"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.lines()
            .any(|l| l.contains("-.->") && l.contains("listed by the usage index")),
        "{text}"
    );
    assert!(text.contains("classDef blocked fill:"), "{text}");
    assert!(!text.contains("legacy-unused-443"), "{text}");
}

#[test]
fn graph_output_is_checked_before_the_walk() {
    let sim = start("demo-account.json");
    let home = Home::new();
    let out = grantguard(&sim, &home)
        .args(["graph", "-o", "/nonexistent-dir/grants.dot"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(sim.calls("DescribeVpcAccesses"), 0, "no walk for a bad -o");
}

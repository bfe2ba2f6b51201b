//! Times each stage of an offline audit of a snapshot and prints the peak and current RSS
//! after each, to find where a large audit spends its time and memory. The stages are those of
//! `audit --inventory FILE --format json`: load, graph, then rules and the JSON report
//! together (the report is written as the grants are judged), into a sink.
//! `STAGE_TIMES_SPLIT=1` judges the whole report first and renders it after, to time each
//! alone; `STAGE_TIMES_PER_RULE=1` also times every rule. Same allocator as the binary.
//! `cargo run --release --example stage_times -- SNAPSHOT.json`

use grantguard::config::Config;
use grantguard::report::{json, Format, Layout, RenderOptions};
use grantguard::rules::{AuditContext, Catalog};
use grantguard::selection::Selection;
use std::time::Instant;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn status_mb(key: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: stage_times SNAPSHOT.json");
    let start = Instant::now();
    let lap = |what: &str| {
        eprintln!(
            "{what:<8} {:>7.3} s   peak RSS {:>7.1} MB   RSS now {:>7.1} MB",
            start.elapsed().as_secs_f64(),
            status_mb("VmHWM:"),
            status_mb("VmRSS:"),
        );
    };
    let inventory = grantguard::inventory::snapshot::load(path.as_ref()).expect("snapshot");
    lap("load");
    let graph = grantguard::graph::build(&inventory);
    lap("graph");
    let catalog = Catalog::builtin();
    let selection = Selection::resolve(None, &inventory.grants);
    if std::env::var_os("STAGE_TIMES_PER_RULE").is_some() {
        let freshness = grantguard::rules::Freshness {
            now: time::OffsetDateTime::now_utc(),
            max_age: std::time::Duration::from_secs(86_400),
        };
        for rule in catalog.rules() {
            let t = Instant::now();
            let hits = (rule.check)(&graph, &selection, &freshness).len();
            eprintln!(
                "  {} {:>8} hits {:>7.3} s",
                rule.doc.id,
                hits,
                t.elapsed().as_secs_f64()
            );
        }
    }
    let context = AuditContext {
        now: time::OffsetDateTime::now_utc(),
    };
    let config = Config::default();
    let mut out = std::io::BufWriter::new(std::io::sink());
    if std::env::var_os("STAGE_TIMES_SPLIT").is_some() {
        let report = grantguard::rules::evaluate(&graph, &catalog, &selection, &config, &context);
        lap("rules");
        grantguard::report::render(&report, Format::Json, &mut out, RenderOptions::default())
            .expect("render");
        lap("render");
    } else {
        let streamed = json::StreamedJson::new(Layout::Pretty);
        grantguard::rules::evaluate_streaming(
            &graph,
            &catalog,
            &selection,
            &config,
            &context,
            |share| streamed.write_share(share),
            |head, shares| streamed.render(&head, shares, &mut out),
        )
        .expect("render");
        lap("rules+json");
    }
}

//! The JSON report, `grantguard.report/v1` (docs/architecture.md "JSON report"): the fields other tools
//! read, exactly as the contract spells them, plus extras (generated_at, taken_at, digest,
//! path, user, suppressed, source, top-level findings). In: a report. Out: one pretty JSON document.

use super::Layout;
use crate::verdict::{
    Finding, GrantReport, Judged, PathStep, Report, Standing, Summary, Verdict, UNKNOWN_USER,
};
use serde::Serialize;
use std::cell::{Cell, RefCell};
use std::fmt::Write as _;
use std::io::{self, Write};
use time::format_description::well_known::Rfc3339;

/// The schema tag of the JSON report.
pub const SCHEMA: &str = "grantguard.report/v1";

/// The document, its last three fields generic so that a streamed report can write its
/// grants as they are judged and the findings and summary they leave behind after them.
#[derive(Serialize)]
struct Document<'a, G = Vec<GrantView<'a>>, F = Findings<'a>, S = Summary> {
    schema: &'static str,
    region: &'a str,
    complete: bool,
    generated_at: String,
    taken_at: String,
    gaps: Vec<GapView<'a>>,
    grants: G,
    findings: F,
    summary: S,
}

#[derive(Serialize)]
struct GapView<'a> {
    scope: &'a str,
    action: &'a str,
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    grant: Option<&'a str>,
}

#[derive(Serialize)]
struct GrantView<'a> {
    vpc_access_id: &'a str,
    name: &'a str,
    vpc_id: &'a str,
    instance_id: &'a str,
    port: u16,
    verdict: Verdict,
    digest: &'a str,
    findings: Findings<'a>,
}

/// Findings written as they are viewed: a large account has hundreds of thousands, and a
/// view of each held at once would cost as much memory as a tenth of the audit.
struct Findings<'a>(&'a [Finding]);

impl Serialize for Findings<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(FindingJson))
    }
}

/// One finding exactly as the report writes it (`grantguard.report/v1`'s `finding`), for
/// other documents that cite an audit (the removal result).
pub struct FindingJson<'a>(pub &'a Finding);

impl Serialize for FindingJson<'_> {
    /// By hand rather than derived, so that the user's text is formatted once for both `user`
    /// and the path step that names it: a large report has hundreds of thousands of findings.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let f = self.0;
        let user = f.user().map(|user| {
            // Room for a typical user's text at once, rather than growing from nothing.
            let mut text = String::with_capacity(128);
            let _ = write!(text, "{user}");
            text
        });
        let mut out = serializer.serialize_struct("Finding", 13)?;
        out.serialize_field("rule", &f.rule)?;
        out.serialize_field("name", &*f.rule_name)?;
        out.serialize_field("severity", &f.severity)?;
        out.serialize_field("message", &f.message)?;
        out.serialize_field("group_id", &f.group_id().map(|g| g.as_str()))?;
        out.serialize_field("api_id", &f.api_id().map(|a| a.as_str()))?;
        out.serialize_field("stage", &f.stage().map(|s| s.as_str()))?;
        match f.version() {
            Some(version) => out.serialize_field("version", version)?,
            None => out.skip_field("version")?,
        }
        out.serialize_field("user", &user)?;
        out.serialize_field("path", &PathView(f, user.as_deref()))?;
        match &f.suppressed {
            Some(why) => out.serialize_field("suppressed", why)?,
            None => out.skip_field("suppressed")?,
        }
        match &f.source {
            Some(source) => out.serialize_field(
                "source",
                &SourceView {
                    file: &source.file,
                    line: source.line,
                },
            )?,
            None => out.skip_field("source")?,
        }
        out.end()
    }
}

/// A finding's path, each step written straight into the document, its user step as the
/// text already formatted for `user`.
struct PathView<'a>(&'a Finding, Option<&'a str>);

impl Serialize for PathView<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let PathView(finding, user) = *self;
        serializer.collect_seq(finding.path.iter().map(|step| match step {
            PathStep::Text(text) => &**text,
            PathStep::User => user.unwrap_or(UNKNOWN_USER),
        }))
    }
}

/// Where a finding about a Terraform declaration is written.
#[derive(Serialize)]
struct SourceView<'a> {
    file: &'a str,
    line: Option<u32>,
}

fn timestamp(at: time::OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_else(|_| at.to_string())
}

/// Writes `report` as the JSON contract in `layout`, followed by a newline.
pub fn render(report: &Report, out: &mut dyn io::Write, layout: Layout) -> io::Result<()> {
    write_document(out, &document(report), layout)
}

/// The multi-region form: one single-region document per region, verdict totals, and
/// `complete` only when every region is.
#[derive(Serialize)]
struct RegionsDocument<'a> {
    schema: &'static str,
    regions: Vec<Document<'a>>,
    summary: Summary,
    complete: bool,
}

/// Writes several regions' reports as one JSON document, followed by a newline: the schema
/// tag, `regions` (each exactly what [`render`] writes for that region, schema tag included),
/// the summed `summary`, and `complete` when every region is complete.
pub fn render_regions(
    reports: &[Report],
    out: &mut dyn io::Write,
    layout: Layout,
) -> io::Result<()> {
    let document = RegionsDocument {
        schema: SCHEMA,
        regions: reports.iter().map(document).collect(),
        summary: Summary::total(reports.iter().map(|r| &r.summary)),
        complete: reports.iter().all(|r| r.complete),
    };
    write_document(out, &document, layout)
}

/// JSON in `layout` and a newline, serialized straight into `out` (the document is views of
/// the report, never a string or a `Value`). A buffer of its own, typed, takes the
/// serializer's many small writes without a dynamic call each (a large report is made of
/// millions of them).
fn write_document(
    out: &mut dyn io::Write,
    document: &impl Serialize,
    layout: Layout,
) -> io::Result<()> {
    let mut buffered = io::BufWriter::with_capacity(64 * 1024, out);
    match layout {
        Layout::Pretty => serde_json::to_writer_pretty(&mut buffered, document)?,
        Layout::Compact => serde_json::to_writer(&mut buffered, document)?,
    }
    writeln!(buffered)?;
    buffered.flush()
}

fn document(report: &Report) -> Document<'_> {
    head(report).with(
        report.grants.iter().map(grant_view).collect(),
        Findings(&report.findings),
        report.summary,
    )
}

impl<'a> Document<'a, (), (), ()> {
    /// The whole document: this head, then the grants, the findings and the summary.
    fn with<G, F, S>(self, grants: G, findings: F, summary: S) -> Document<'a, G, F, S> {
        Document {
            schema: self.schema,
            region: self.region,
            complete: self.complete,
            generated_at: self.generated_at,
            taken_at: self.taken_at,
            gaps: self.gaps,
            grants,
            findings,
            summary,
        }
    }
}

/// The document's fields before the grants, with the rest to be filled.
fn head(report: &Report) -> Document<'_, (), (), ()> {
    Document {
        schema: SCHEMA,
        region: report.region.as_str(),
        complete: report.complete,
        generated_at: timestamp(report.generated_at),
        taken_at: timestamp(report.taken_at),
        gaps: report
            .gaps
            .iter()
            .map(|g| GapView {
                scope: &g.scope,
                action: &g.action,
                code: &g.code,
                message: &g.message,
                grant: g.grant.as_ref().map(|id| id.as_str()),
            })
            .collect(),
        grants: (),
        findings: (),
        summary: (),
    }
}

fn grant_view(g: &GrantReport) -> GrantView<'_> {
    GrantView {
        vpc_access_id: g.grant.id.as_str(),
        name: &g.grant.name,
        vpc_id: g.grant.key.vpc_id.as_str(),
        instance_id: g.grant.key.instance_id.as_str(),
        port: g.grant.key.port,
        verdict: g.verdict,
        digest: &g.digest,
        findings: Findings(&g.findings),
    }
}

/// Writes a report as its shares are judged ([`crate::rules::evaluate_streaming`]): the same
/// bytes [`render`] writes for the whole report, with only the shares in flight in memory.
/// `head` is the report without grants and findings. Returns what the exit status needs.
pub fn render_streamed(
    head: &Report,
    shares: &mut dyn Iterator<Item = Judged>,
    out: &mut dyn io::Write,
    layout: Layout,
) -> io::Result<Standing> {
    let stream = Stream {
        shares: RefCell::new(shares),
        global: RefCell::new(Vec::new()),
        standing: Cell::new(Standing::default()),
    };
    let document = self::head(head).with(
        StreamedGrants(&stream),
        LateFindings(&stream),
        LateSummary(&stream),
    );
    write_document(out, &document, layout)?;
    let mut standing = stream.standing.get();
    standing.add_global(&stream.global.borrow());
    Ok(standing)
}

/// What a streamed document has written so far: the findings about no single grant (they
/// come with the first share and are written after the grants) and the standing of the
/// grants written, whose findings are dropped once they are.
struct Stream<'s> {
    shares: RefCell<&'s mut dyn Iterator<Item = Judged>>,
    global: RefCell<Vec<Finding>>,
    standing: Cell<Standing>,
}

/// The grants, written as the shares come.
struct StreamedGrants<'s, 'a>(&'a Stream<'s>);

impl Serialize for StreamedGrants<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let stream = self.0;
        let mut shares = stream.shares.borrow_mut();
        let grants = (&mut **shares).flat_map(|share| {
            stream.global.borrow_mut().extend(share.findings);
            share.grants
        });
        serializer.collect_seq(grants.map(|grant| {
            let mut standing = stream.standing.get();
            standing.add_grant(&grant);
            stream.standing.set(standing);
            OwnedGrant(grant)
        }))
    }
}

/// A grant's report, written as [`render`] writes it and dropped after.
struct OwnedGrant(GrantReport);

impl Serialize for OwnedGrant {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        grant_view(&self.0).serialize(serializer)
    }
}

/// The findings about no single grant, once the grants are written.
struct LateFindings<'s, 'a>(&'a Stream<'s>);

impl Serialize for LateFindings<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Findings(&self.0.global.borrow()).serialize(serializer)
    }
}

/// The verdict counts, once the grants are written.
struct LateSummary<'s, 'a>(&'a Stream<'s>);

impl Serialize for LateSummary<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.standing.get().summary.serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    // The contract, written independently of the crate's types: renaming a field in the
    // renderer breaks this test.
    #[derive(Deserialize)]
    struct Contract {
        schema: String,
        region: String,
        complete: bool,
        gaps: Vec<ContractGap>,
        grants: Vec<ContractGrant>,
        summary: ContractSummary,
    }
    #[derive(Deserialize)]
    #[allow(dead_code)] // every field is decoded to prove it is there
    struct ContractGap {
        scope: String,
        action: String,
        code: String,
        message: String,
    }
    #[derive(Deserialize)]
    struct ContractGrant {
        vpc_access_id: String,
        name: String,
        vpc_id: String,
        instance_id: String,
        port: u16,
        verdict: String,
        findings: Vec<ContractFinding>,
        digest: String,
    }
    #[derive(Deserialize)]
    struct ContractFinding {
        rule: String,
        severity: String,
        message: String,
        group_id: Option<String>,
        api_id: Option<String>,
        stage: Option<String>,
    }
    #[derive(Deserialize)]
    struct ContractSummary {
        grants: usize,
        safe: usize,
        blocked: usize,
        unknown: usize,
    }

    fn rendered(report: &crate::verdict::Report) -> String {
        let mut out = Vec::new();
        super::render(report, &mut out, super::Layout::Pretty).expect("render to memory");
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn the_compact_report_is_one_line_with_the_same_document() {
        let report = super::super::tests::report();
        let mut compact = Vec::new();
        super::render(&report, &mut compact, super::Layout::Compact).expect("render to memory");
        let compact = String::from_utf8(compact).expect("utf-8");
        assert_eq!(compact.lines().count(), 1, "{compact}");
        assert!(compact.ends_with('\n'));
        let pretty = rendered(&report);
        assert!(compact.len() < pretty.len());
        let as_value = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap();
        assert_eq!(as_value(&compact), as_value(&pretty));
    }

    #[test]
    fn the_json_report_honours_the_contract() {
        let report = super::super::tests::report();
        let decoded: Contract = serde_json::from_str(&rendered(&report)).expect("contract shape");
        assert_eq!(decoded.schema, "grantguard.report/v1");
        assert_eq!(decoded.region, "cn-hangzhou");
        assert!(decoded.complete);
        assert!(decoded.gaps.is_empty());
        let orders = &decoded.grants[0];
        assert_eq!(
            (
                orders.vpc_access_id.as_str(),
                orders.name.as_str(),
                orders.vpc_id.as_str()
            ),
            ("apv-1", "orders-vpc", "vpc-1")
        );
        assert_eq!((orders.instance_id.as_str(), orders.port), ("i-1", 80));
        assert_eq!(orders.verdict, "blocked");
        assert_eq!(orders.digest.len(), 64);
        let live = &orders.findings[0];
        assert_eq!(
            (live.rule.as_str(), live.severity.as_str()),
            ("GG101", "deny")
        );
        assert_eq!(live.group_id.as_deref(), Some("grp-1"));
        assert_eq!(live.api_id.as_deref(), Some("api-1"));
        assert_eq!(live.stage.as_deref(), Some("RELEASE"));
        assert!(live.message.contains("orders/getOrder"));
        assert_eq!(decoded.grants[2].verdict, "safe");
        let s = decoded.summary;
        assert_eq!((s.grants, s.safe, s.blocked, s.unknown), (3, 1, 2, 0));
    }

    #[test]
    fn gaps_appear_with_the_contract_fields() {
        let mut inventory = crate::inventory::testing::rich_account();
        inventory.gaps.push(crate::inventory::testing::gap(None));
        let graph = crate::graph::build(&inventory);
        let selection = crate::selection::Selection::all(graph.grants());
        let report = crate::rules::evaluate(
            &graph,
            &crate::rules::Catalog::builtin(),
            &selection,
            &crate::config::Config::default(),
            &crate::rules::AuditContext {
                now: inventory.taken_at,
            },
        );
        let decoded: Contract = serde_json::from_str(&rendered(&report)).expect("contract shape");
        assert!(!decoded.complete);
        assert_eq!(decoded.gaps[0].code, "Forbidden.RAM");
        assert_eq!(decoded.grants[2].verdict, "unknown");
    }

    #[test]
    fn the_json_report_snapshot() {
        insta::assert_snapshot!(rendered(&super::super::tests::report()));
    }

    #[test]
    fn a_streamed_report_is_the_same_bytes_as_the_whole_one() {
        use crate::config::Config;
        use crate::report::Layout;
        use crate::rules::{evaluate, evaluate_streaming, AuditContext, Catalog};
        use crate::selection::{Selection, Selector};
        use crate::verdict::Standing;
        let mut inventory = crate::inventory::testing::rich_account();
        inventory
            .gaps
            .push(crate::inventory::testing::gap(Some("apv-3")));
        for n in 0..9 {
            let id = format!("apv-s{n}");
            inventory
                .grants
                .push(crate::inventory::testing::grant(&id, &id, 7000 + n));
        }
        let graph = crate::graph::build(&inventory);
        let catalog = Catalog::builtin();
        let context = AuditContext {
            now: inventory.taken_at,
        };
        let missing = Selector::Name("missing".into());
        let stricter = Config::parse(
            r#"{"severity": {"GG104": "deny"},
                "suppress": [{"rule": "GG103", "grant": "orders-vpc", "justification": "known"}]}"#,
            "grantguard.json",
            catalog.docs(),
        )
        .expect("valid config");
        for config in [Config::default(), stricter] {
            for selection in [
                Selection::all(graph.grants()),
                Selection::resolve(Some(&missing), graph.grants()),
            ] {
                let whole = evaluate(&graph, &catalog, &selection, &config, &context);
                assert!(
                    !whole.findings.is_empty(),
                    "a finding about no single grant"
                );
                for layout in [Layout::Pretty, Layout::Compact] {
                    let mut expected = Vec::new();
                    super::render(&whole, &mut expected, layout).unwrap();
                    let mut streamed = Vec::new();
                    let standing =
                        evaluate_streaming(&graph, &catalog, &selection, &config, &context, {
                            let streamed = &mut streamed;
                            move |head, shares| {
                                super::render_streamed(&head, shares, streamed, layout)
                            }
                        })
                        .unwrap();
                    assert_eq!(
                        String::from_utf8(streamed).unwrap(),
                        String::from_utf8(expected).unwrap()
                    );
                    assert_eq!(standing, Standing::of(&whole));
                }
            }
        }
    }
}

//! The JSON report, `grantguard.report/v1` (docs/architecture.md "JSON report"): the fields other tools
//! read, exactly as the contract spells them, plus extras (generated_at, taken_at, digest,
//! path, user, suppressed, source, top-level findings). In: a report. Out: one JSON document,
//! pretty or compact, written by hand (`json_text`) as serde_json would write the same
//! document: a large account's report is hundreds of megabytes of findings, and serde_json's
//! general path was the audit's largest cost (docs/performance.md). The tests hold it to
//! serde views of the same document, byte for byte.

use super::Layout;
use crate::json_text::JsonText;
use crate::verdict::{
    Finding, GrantReport, Judged, PathStep, Report, Standing, Summary, UNKNOWN_USER,
};
use serde::Serialize;
use std::fmt::Write as _;
use std::io;
use std::ops::Range;
use std::sync::Mutex;
use time::format_description::well_known::Rfc3339;

/// The schema tag of the JSON report.
pub const SCHEMA: &str = "grantguard.report/v1";

/// One finding exactly as the report writes it (`grantguard.report/v1`'s `finding`), for
/// other documents that cite an audit (the removal result).
pub struct FindingJson<'a>(pub &'a Finding);

impl Serialize for FindingJson<'_> {
    /// By hand rather than derived, so that the user's text is formatted once for both `user`
    /// and the path step that names it.
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
    let mut document = Document::new(out, layout);
    document.report(report)?;
    document.finish()
}

/// Writes several regions' reports as one JSON document, followed by a newline: the schema
/// tag, `regions` (each exactly what [`render`] writes for that region, schema tag included),
/// the summed `summary`, and `complete` when every region is complete.
pub fn render_regions(
    reports: &[Report],
    out: &mut dyn io::Write,
    layout: Layout,
) -> io::Result<()> {
    let mut document = Document::new(out, layout);
    document.text.begin_object();
    document.text.key(true, "schema");
    document.text.string(SCHEMA);
    document.text.key(false, "regions");
    document.text.begin_array();
    for (i, report) in reports.iter().enumerate() {
        document.text.element(i == 0);
        document.report(report)?;
    }
    let text = &mut document.text;
    text.end_array(reports.is_empty());
    text.key(false, "summary");
    write_summary(text, Summary::total(reports.iter().map(|r| &r.summary)));
    text.key(false, "complete");
    text.bool(reports.iter().all(|r| r.complete));
    text.end_object(false);
    document.finish()
}

/// The JSON report written as its shares are judged ([`crate::rules::evaluate_streaming`]):
/// [`StreamedJson::write_share`] turns each judged share into text on the core that judged
/// it, and [`StreamedJson::render`] places the texts in the document in order. The bytes are
/// those [`render`] writes for the whole report.
#[derive(Debug)]
pub struct StreamedJson {
    layout: Layout,
    /// Buffers whose text has been written, for the next shares: a large report then reuses
    /// a few megabytes rather than faulting in fresh pages for every share.
    spent: Mutex<Vec<Vec<u8>>>,
}

/// A judged share of the report as text, and what the exit status and the summary need of it.
#[derive(Debug)]
pub struct WrittenShare {
    /// The share's grants as elements of `grants`, separated, without the separator before
    /// the first.
    text: Vec<u8>,
    /// How many grants `text` holds.
    grants: usize,
    /// The grants' verdicts and worst finding.
    standing: Standing,
    /// The findings about no single grant, written after all the grants.
    global: Vec<Finding>,
}

/// The nesting depth of a grant in a single region's document: the document, then `grants`.
const GRANT_DEPTH: usize = 2;

impl StreamedJson {
    /// A streamed report in `layout`.
    pub fn new(layout: Layout) -> StreamedJson {
        StreamedJson {
            layout,
            spent: Mutex::new(Vec::new()),
        }
    }

    /// Writes a judged share's grants as [`render`] writes them; the findings are dropped
    /// here, on the thread that made them.
    pub fn write_share(&self, share: Judged) -> WrittenShare {
        let buffer = self
            .spent
            .lock()
            .map(|mut spent| spent.pop())
            .ok()
            .flatten();
        let mut text = JsonText::nested_in(
            buffer.unwrap_or_default(),
            self.layout == Layout::Pretty,
            GRANT_DEPTH,
        );
        let mut standing = Standing::default();
        for (i, grant) in share.grants.iter().enumerate() {
            if i > 0 {
                text.element(false);
            }
            write_grant(&mut text, grant);
            standing.add_grant(grant);
        }
        WrittenShare {
            text: text.into_bytes(),
            grants: share.grants.len(),
            standing,
            global: share.findings,
        }
    }

    /// Writes the report: `head` (the report without grants and findings), then the shares'
    /// texts in order, then what comes after the grants. Returns what the exit status needs.
    pub fn render(
        &self,
        head: &Report,
        shares: &mut dyn Iterator<Item = WrittenShare>,
        out: &mut dyn io::Write,
    ) -> io::Result<Standing> {
        let mut document = Document::new(out, self.layout);
        write_head(&mut document.text, head);
        let mut standing = Standing::default();
        // The findings about no single grant come with the first share and are written
        // after the grants.
        let mut global = Vec::new();
        let mut none = true;
        for share in shares {
            global.extend(share.global);
            standing.add(&share.standing);
            if share.grants > 0 {
                document.text.element(none);
                none = false;
                document.hand_off()?;
                document.out.write_all(&share.text)?;
            }
            if let Ok(mut spent) = self.spent.lock() {
                spent.push(share.text);
            }
        }
        document.tail(none, &global, standing.summary)?;
        document.finish()?;
        standing.add_global(&global);
        Ok(standing)
    }
}

/// How much text is gathered before it is handed to the output: large enough that the
/// output sees few writes, small enough to stay in the CPU's caches.
const HANDOFF: usize = 64 * 1024;

/// A document being written: its text, handed to the output a piece at a time.
struct Document<'o> {
    text: JsonText,
    out: &'o mut dyn io::Write,
}

impl<'o> Document<'o> {
    fn new(out: &'o mut dyn io::Write, layout: Layout) -> Document<'o> {
        Document {
            // Room for a piece and the finding that ends it.
            text: JsonText::with_capacity(layout == Layout::Pretty, 2 * HANDOFF),
            out,
        }
    }

    /// One region's whole document.
    fn report(&mut self, report: &Report) -> io::Result<()> {
        write_head(&mut self.text, report);
        for (i, grant) in report.grants.iter().enumerate() {
            self.text.element(i == 0);
            write_grant(&mut self.text, grant);
            self.hand_off_when_full()?;
        }
        self.tail(report.grants.is_empty(), &report.findings, report.summary)
    }

    /// The closing of `grants` (`none` when there were none), then `findings` and `summary`.
    fn tail(&mut self, none: bool, findings: &[Finding], summary: Summary) -> io::Result<()> {
        let text = &mut self.text;
        text.end_array(none);
        text.key(false, "findings");
        write_findings(text, findings);
        text.key(false, "summary");
        write_summary(text, summary);
        text.end_object(false);
        self.hand_off_when_full()
    }

    /// Hands the text gathered so far to the output once it is a piece's worth.
    fn hand_off_when_full(&mut self) -> io::Result<()> {
        if self.text.len() >= HANDOFF {
            self.hand_off()?;
        }
        Ok(())
    }

    fn hand_off(&mut self) -> io::Result<()> {
        self.out.write_all(self.text.as_bytes())?;
        self.text.clear();
        Ok(())
    }

    /// The closing newline, and everything not yet handed off.
    fn finish(mut self) -> io::Result<()> {
        self.text.raw(b"\n");
        self.hand_off()?;
        self.out.flush()
    }
}

/// The document's fields before its grants, and the opening of `grants`.
fn write_head(text: &mut JsonText, report: &Report) {
    text.begin_object();
    text.key(true, "schema");
    text.string(SCHEMA);
    text.key(false, "region");
    text.string(report.region.as_str());
    text.key(false, "complete");
    text.bool(report.complete);
    text.key(false, "generated_at");
    text.string(&timestamp(report.generated_at));
    text.key(false, "taken_at");
    text.string(&timestamp(report.taken_at));
    text.key(false, "gaps");
    text.begin_array();
    for (i, gap) in report.gaps.iter().enumerate() {
        text.element(i == 0);
        text.begin_object();
        text.key(true, "scope");
        text.string(&gap.scope);
        text.key(false, "action");
        text.string(&gap.action);
        text.key(false, "code");
        text.string(&gap.code);
        text.key(false, "message");
        text.string(&gap.message);
        if let Some(grant) = &gap.grant {
            text.key(false, "grant");
            text.string(grant.as_str());
        }
        text.end_object(false);
    }
    text.end_array(report.gaps.is_empty());
    text.key(false, "grants");
    text.begin_array();
}

/// One grant, as an element of `grants` after its separator.
fn write_grant(text: &mut JsonText, g: &GrantReport) {
    text.begin_object();
    text.key(true, "vpc_access_id");
    text.string(g.grant.id.as_str());
    text.key(false, "name");
    text.string(&g.grant.name);
    text.key(false, "vpc_id");
    text.string(g.grant.key.vpc_id.as_str());
    text.key(false, "instance_id");
    text.string(g.grant.key.instance_id.as_str());
    text.key(false, "port");
    text.number(g.grant.key.port.into());
    text.key(false, "verdict");
    text.string(g.verdict.as_str());
    text.key(false, "digest");
    text.string(&g.digest);
    text.key(false, "findings");
    write_findings(text, &g.findings);
    text.end_object(false);
}

fn write_summary(text: &mut JsonText, summary: Summary) {
    text.begin_object();
    for (i, (key, count)) in [
        ("grants", summary.grants),
        ("safe", summary.safe),
        ("blocked", summary.blocked),
        ("unknown", summary.unknown),
    ]
    .into_iter()
    .enumerate()
    {
        text.key(i == 0, key);
        text.number(count as u64);
    }
    text.end_object(false);
}

fn write_findings(text: &mut JsonText, findings: &[Finding]) {
    text.begin_array();
    for (i, finding) in findings.iter().enumerate() {
        text.element(i == 0);
        write_finding(text, finding);
    }
    text.end_array(findings.is_empty());
}

/// One finding, as [`FindingJson`] serializes it.
fn write_finding(text: &mut JsonText, f: &Finding) {
    text.begin_object();
    text.key(true, "rule");
    text.string(f.rule.as_str());
    text.key(false, "name");
    text.string(&f.rule_name);
    text.key(false, "severity");
    text.string(f.severity.as_str());
    text.key(false, "message");
    text.string(&f.message);
    text.key(false, "group_id");
    text.optional_string(f.group_id().map(|g| g.as_str()));
    text.key(false, "api_id");
    text.optional_string(f.api_id().map(|a| a.as_str()));
    text.key(false, "stage");
    text.optional_string(f.stage().map(|s| s.as_str()));
    if let Some(version) = f.version() {
        text.key(false, "version");
        text.string(version);
    }
    text.key(false, "user");
    // The user's text is formatted once, here, and copied for the path step that names it.
    let user: Option<Range<usize>> = match f.user() {
        Some(user) => Some(text.display(user)),
        None => {
            text.null();
            None
        }
    };
    text.key(false, "path");
    text.begin_array();
    for (i, step) in f.path.iter().enumerate() {
        text.element(i == 0);
        match (step, &user) {
            (PathStep::Text(step), _) => text.string(step),
            (PathStep::User, Some(user)) => text.repeat(user.clone()),
            (PathStep::User, None) => text.string(UNKNOWN_USER),
        }
    }
    text.end_array(f.path.is_empty());
    if let Some(why) = &f.suppressed {
        text.key(false, "suppressed");
        text.string(why);
    }
    if let Some(source) = &f.source {
        text.key(false, "source");
        text.begin_object();
        text.key(true, "file");
        text.string(&source.file);
        text.key(false, "line");
        match source.line {
            Some(line) => text.number(line.into()),
            None => text.null(),
        }
        text.end_object(false);
    }
    text.end_object(false);
}

#[cfg(test)]
mod tests {
    use super::{timestamp, FindingJson, Layout, SCHEMA};
    use crate::verdict::{Finding, GrantReport, Report, Summary, Verdict};
    use proptest::prelude::*;
    use serde::{Deserialize, Serialize};

    // The oracle: the document as serde views of the report, serialized by serde_json. The
    // hand-written writer must produce exactly its bytes, in both layouts.
    #[derive(Serialize)]
    struct Document<'a> {
        schema: &'static str,
        region: &'a str,
        complete: bool,
        generated_at: String,
        taken_at: String,
        gaps: Vec<GapView<'a>>,
        grants: Vec<GrantView<'a>>,
        findings: Findings<'a>,
        summary: Summary,
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

    struct Findings<'a>(&'a [Finding]);

    impl Serialize for Findings<'_> {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.collect_seq(self.0.iter().map(FindingJson))
        }
    }

    #[derive(Serialize)]
    struct RegionsDocument<'a> {
        schema: &'static str,
        regions: Vec<Document<'a>>,
        summary: Summary,
        complete: bool,
    }

    fn oracle_document(report: &Report) -> Document<'_> {
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
            grants: report.grants.iter().map(grant_view).collect(),
            findings: Findings(&report.findings),
            summary: report.summary,
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

    fn by_serde_json(document: &impl Serialize, layout: Layout) -> String {
        let mut text = match layout {
            Layout::Pretty => serde_json::to_string_pretty(document),
            Layout::Compact => serde_json::to_string(document),
        }
        .expect("serialize");
        text.push('\n');
        text
    }

    fn by_hand(write: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> String {
        let mut out = Vec::new();
        write(&mut out).expect("render to memory");
        String::from_utf8(out).expect("utf-8")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn a_report_is_written_as_serde_json_writes_its_views(
            report in crate::verdict::strategies::report()
        ) {
            for layout in [Layout::Pretty, Layout::Compact] {
                prop_assert_eq!(
                    by_hand(|out| super::render(&report, out, layout)),
                    by_serde_json(&oracle_document(&report), layout)
                );
            }
        }

        #[test]
        fn regions_are_written_as_serde_json_writes_their_views(
            reports in prop::collection::vec(crate::verdict::strategies::report(), 0..3)
        ) {
            let oracle = RegionsDocument {
                schema: SCHEMA,
                regions: reports.iter().map(oracle_document).collect(),
                summary: Summary::total(reports.iter().map(|r| &r.summary)),
                complete: reports.iter().all(|r| r.complete),
            };
            for layout in [Layout::Pretty, Layout::Compact] {
                prop_assert_eq!(
                    by_hand(|out| super::render_regions(&reports, out, layout)),
                    by_serde_json(&oracle, layout)
                );
            }
        }
    }

    #[test]
    fn a_report_larger_than_a_handoff_is_written_whole() {
        // Many pieces of text handed to the output, escapes across their seams.
        let mut report = super::super::tests::report();
        let model = report.grants[0].clone();
        report.grants = (0..400)
            .map(|n| {
                let mut g = model.clone();
                g.grant.name = format!("grant \"{n}\"\n{}", "y".repeat(n % 53));
                g
            })
            .collect();
        for layout in [Layout::Pretty, Layout::Compact] {
            let hand = by_hand(|out| super::render(&report, out, layout));
            assert!(hand.len() > 4 * super::HANDOFF);
            assert_eq!(hand, by_serde_json(&oracle_document(&report), layout));
        }
    }

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
                    let json = super::StreamedJson::new(layout);
                    let standing = evaluate_streaming(
                        &graph,
                        &catalog,
                        &selection,
                        &config,
                        &context,
                        |share| json.write_share(share),
                        {
                            let streamed = &mut streamed;
                            |head, shares| json.render(&head, shares, streamed)
                        },
                    )
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

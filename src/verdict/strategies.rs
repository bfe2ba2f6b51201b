//! Property-test strategies for the audit's results: findings of every shape (each optional
//! part present or not, text with everything JSON must escape), judged grants and whole
//! reports, for the tests that hold hand-written JSON to serde_json.

use super::{Finding, GrantReport, PathStep, Report, RuleId, Severity, Summary, Verdict};
use crate::graph::{Subject, UserKind};
use crate::inventory::{ApiIdentity, Gap, Grant, GrantKey, Stage};
use crate::json_text::tests::tricky_text;
use crate::terraform::SourceLine;
use proptest::prelude::*;
use std::sync::Arc;

fn stage() -> impl Strategy<Value = Stage> {
    prop::sample::select(Stage::ALL.to_vec())
}

fn subject() -> impl Strategy<Value = Subject> {
    let api = (
        tricky_text(),
        tricky_text(),
        tricky_text(),
        tricky_text(),
        tricky_text(),
        tricky_text(),
    )
        .prop_map(
            |(group_id, group_name, api_id, api_name, method, path)| ApiIdentity {
                group_id: group_id.into(),
                group_name,
                api_id: api_id.into(),
                api_name,
                method,
                path,
            },
        );
    (
        prop::sample::select(vec![
            UserKind::Deployment,
            UserKind::Draft,
            UserKind::History,
            UserKind::Backend,
        ]),
        prop::option::of(api.prop_map(Arc::new)),
        prop::option::of(stage()),
        prop::option::of(tricky_text().prop_map(String::into_boxed_str)),
        prop::option::of(
            (tricky_text(), tricky_text()).prop_map(|(id, name)| Box::new((id.into(), name))),
        ),
    )
        .prop_map(|(kind, api, stage, version, backend)| Subject {
            kind,
            api,
            stage,
            version,
            backend,
        })
}

/// A finding: any rule and severity, a user or none, a path of text and user steps, maybe
/// suppressed, maybe about a Terraform line.
pub(crate) fn finding() -> impl Strategy<Value = Finding> {
    let step = prop_oneof![
        tricky_text().prop_map(|t| PathStep::Text(t.into())),
        Just(PathStep::User),
    ];
    let source = (tricky_text(), prop::option::of(any::<u32>()))
        .prop_map(|(file, line)| SourceLine { file, line });
    (
        prop::sample::select(RuleId::ALL.to_vec()),
        tricky_text(),
        prop::sample::select(vec![Severity::Info, Severity::Warn, Severity::Deny]),
        tricky_text(),
        prop::option::of(subject()),
        prop::collection::vec(step, 0..4),
        prop::option::of(tricky_text()),
        prop::option::of(source),
    )
        .prop_map(
            |(rule, rule_name, severity, message, subject, path, suppressed, source)| Finding {
                rule,
                rule_name: rule_name.into(),
                severity,
                message,
                subject,
                path,
                suppressed,
                source,
            },
        )
}

/// A judged grant with up to `findings` findings; its digest is computed, as `rules` does.
pub(crate) fn grant_report(findings: usize) -> impl Strategy<Value = GrantReport> {
    (
        (tricky_text(), tricky_text(), tricky_text(), tricky_text()),
        any::<u16>(),
        prop::sample::select(vec![Verdict::Safe, Verdict::Blocked, Verdict::Unknown]),
        prop::collection::vec(finding(), 0..=findings),
    )
        .prop_map(|((id, name, vpc, instance), port, verdict, findings)| {
            let mut report = GrantReport {
                grant: Grant {
                    id: id.into(),
                    name,
                    key: GrantKey {
                        vpc_id: vpc.into(),
                        instance_id: instance.into(),
                        port,
                    },
                    description: String::new(),
                    vpc_target_host_name: String::new(),
                    created_time: String::new(),
                },
                verdict,
                findings,
                digest: String::new(),
            };
            report.digest = report.compute_digest();
            report
        })
}

fn gap() -> impl Strategy<Value = Gap> {
    (
        (tricky_text(), tricky_text(), tricky_text(), tricky_text()),
        prop::option::of(tricky_text()),
    )
        .prop_map(|((scope, action, code, message), grant)| Gap {
            scope,
            action,
            code,
            message,
            grant: grant.map(Into::into),
        })
}

/// A report: gaps or none, grants or none, findings about no single grant or none, and any
/// two moments for when it was made and when its inventory was taken.
pub(crate) fn report() -> impl Strategy<Value = Report> {
    let moment = (0i64..4_000_000_000)
        .prop_map(|seconds| time::OffsetDateTime::from_unix_timestamp(seconds).expect("in range"));
    (
        (tricky_text(), any::<bool>()),
        prop::collection::vec(gap(), 0..3),
        prop::collection::vec(grant_report(4), 0..4),
        prop::collection::vec(finding(), 0..3),
        (moment.clone(), moment),
    )
        .prop_map(
            |((region, complete), gaps, grants, findings, (generated_at, taken_at))| Report {
                region: region.into(),
                complete,
                gaps,
                summary: Summary::count(&grants),
                grants,
                findings,
                generated_at,
                taken_at,
                rules: Vec::new(),
            },
        )
}

//! `grantguard audit` end to end: the real binary against the in-process emulator.

mod common;
use common::*;

#[test]
fn the_basic_account_audits_with_the_expected_verdicts() {
    let sim = start("basic-account.json");
    let home = Home::new();
    let out = grantguard(&sim, &home)
        .args(["audit", "--format", "json"])
        .output()
        .unwrap();
    let report = json(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "blocked grants exit 1: {}",
        stderr(&out)
    );
    assert_honest(&report, out.status.code());
    let verdicts = verdicts(&report);
    assert_eq!(verdicts["legacy-unused-443"], "safe");
    assert_eq!(verdicts["orders-slb-80"], "blocked");
    assert!(rules_of(&report, "orders-internal-9000").contains(&"GG102".to_owned()));
    assert_nonces_unique(&sim);
    assert_no_secret(&sim, &[&stdout(&out), &stderr(&out)]);
    assert_eq!(sim.calls("RemoveVpcAccess"), 0, "an audit never mutates");
}

//! A removal whose connection is lost, through the real binary (docs/fault-model.md R6's mutation
//! variant; the non-crash side of R8 K3/K4): the emulator drops the connection with no answer
//! after applying `RemoveVpcAccess` (`apply_then_drop`), before applying it
//! (`drop_before_apply`), or resets it (TCP RST) halfway through the answer (`reset`). The
//! removal is never resent; reading the live state decides the journaled outcome, and it must
//! match the emulator's state (I3, I4).

mod common;

use common::*;
use grantguard_sim::Faults;

const SAFE: &str = "legacy-unused-443";
fn run(sim: &TestSim, home: &Home, args: &[&str]) -> std::process::Output {
    grantguard(sim, home)
        .args(args)
        .arg("--journal")
        .arg(home.journal())
        .output()
        .unwrap()
}

fn tuple(sim: &TestSim) -> Option<(String, String, u16)> {
    sim.state()
        .grant_named(SAFE)
        .map(|g| (g.vpc_id.clone(), g.instance_id.clone(), g.port))
}

/// Removes SAFE under `faults`; the removal must have been sent once and journaled `done`
/// (reconciled by reading), and `restore` must bring the tuple back.
fn removed_applied_and_restorable(faults: Faults) {
    let sim = faulted("basic-account.json", faults);
    let home = Home::new();
    let before = tuple(&sim).expect("the grant exists");
    let out = run(&sim, &home, &["remove", "--name", SAFE, "--yes"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(sim.calls("RemoveVpcAccess"), 1, "never resent");
    let journal = home.journal();
    assert_eq!(journal_states(&journal), ["pending", "done"]);
    assert_eq!(
        journal_records(&journal)[1]["detail"]["reconciled"],
        true,
        "decided by reading, not by an answer"
    );
    assert_eq!(tuple(&sim), None, "the journal matches the service");

    // I4: the done record restores the tuple.
    let restored = run(&sim, &home, &["restore"]);
    assert_eq!(restored.status.code(), Some(0), "{}", stderr(&restored));
    assert_eq!(tuple(&sim), Some(before));
    assert_eq!(sim.calls("RemoveVpcAccess"), 1);
    assert_no_secret(&sim, &[&err, &stdout(&out), &stderr(&restored)]);
    assert_nonces_unique(&sim);
}

#[test]
fn a_removal_applied_then_dropped_is_not_resent_and_journaled_done() {
    removed_applied_and_restorable(Faults {
        apply_then_drop: vec!["RemoveVpcAccess=always".parse().unwrap()],
        ..Faults::default()
    });
}

#[test]
fn r6_a_removal_reset_mid_answer_is_not_resent_and_journaled_done() {
    removed_applied_and_restorable(Faults {
        reset: vec!["RemoveVpcAccess=always".parse().unwrap()],
        ..Faults::default()
    });
}

#[test]
fn a_removal_dropped_before_it_was_applied_is_not_resent_and_journaled_not_removed() {
    let sim = faulted(
        "basic-account.json",
        Faults {
            drop_before_apply: vec!["RemoveVpcAccess=always".parse().unwrap()],
            ..Faults::default()
        },
    );
    let home = Home::new();
    let before = tuple(&sim).expect("the grant exists");
    let out = run(&sim, &home, &["remove", "--name", SAFE, "--yes"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("not removed"), "{err}");
    assert_eq!(sim.calls("RemoveVpcAccess"), 1, "never resent");
    let journal = home.journal();
    assert_eq!(journal_states(&journal), ["pending", "not-removed"]);
    assert_eq!(tuple(&sim), Some(before), "the journal matches the service");
    assert_no_secret(&sim, &[&err, &stdout(&out)]);
    assert_nonces_unique(&sim);
}

//! `grantguard restore` and `grantguard journal`. In: the journal and a client. Out: grants
//! re-created with SetVpcAccess from `done` entries (same name and tuple, a new VpcAccessId),
//! and `pending` entries reconciled by reading the live account. It never calls SetVpcAccess
//! for a grant that already exists, never resends it after an unclear failure, and writes a
//! `restore-pending` record before the call.

use super::journal::{self, Detail, Entry, GrantRecord, Journal, Record, State};
use super::steps::reconcile;
use super::{say, RemovalError};
use crate::client::Client;
use crate::Outcome;
use grantguard_wire::actions::{DescribeVpcAccesses, SetVpcAccess};
use grantguard_wire::models::VpcAccessAttribute;
use std::path::Path;

/// Live grants with the entry's name or tuple.
async fn live_matches(
    client: &Client,
    grant: &GrantRecord,
) -> Result<Vec<VpcAccessAttribute>, RemovalError> {
    let call = |e| RemovalError::Call(Box::new(e));
    let mut by_tuple = client
        .pages(DescribeVpcAccesses::by_tuple(
            &grant.vpc_id,
            &grant.instance_id,
            grant.port,
        ))
        .await
        .map_err(call)?;
    let by_name = client
        .pages(DescribeVpcAccesses::by_name(&grant.name))
        .await
        .map_err(call)?;
    for g in by_name {
        if g.name == grant.name && !by_tuple.iter().any(|t| t.vpc_access_id == g.vpc_access_id) {
            by_tuple.push(g);
        }
    }
    Ok(by_tuple)
}

fn same_grant(live: &VpcAccessAttribute, grant: &GrantRecord) -> bool {
    live.name == grant.name
        && live.vpc_id == grant.vpc_id
        && live.instance_id == grant.instance_id
        && live.port == grant.port
}

fn pick<'a>(entries: &'a [Entry], id: Option<&str>) -> Result<&'a Entry, RemovalError> {
    match id {
        Some(id) => entries
            .iter()
            .find(|e| e.id == id)
            .ok_or_else(|| RemovalError::NoEntry {
                message: format!("no journal entry {id}"),
            }),
        None => entries
            .iter()
            .rev()
            .find(|e| matches!(e.removal, State::Done | State::DoneUnexpected))
            .ok_or_else(|| RemovalError::NoEntry {
                message: "the journal has no removal to restore".into(),
            }),
    }
}

/// `grantguard restore [--id ENTRY]`: re-creates the grant of a `done` entry (the last one by
/// default) and journals the new VpcAccessId. An existing grant is a no-op (exit 0).
pub async fn restore_command(
    client: &Client,
    path: &Path,
    id: Option<&str>,
) -> Result<Outcome, RemovalError> {
    let mut journal = Journal::open(path)?;
    let contents = journal.contents()?;
    warn_damage(path, &contents);
    let entries = journal::entries(&contents.records);
    let entry = pick(&entries, id)?;
    if entry.intent.action == journal::Action::ModifyVpcAccessAndUpdateApis {
        if !entry.is_restorable() {
            say(&format!(
                "entry {} is {}: the grant was never recorded as moved, so there is nothing to move back\n",
                entry.id,
                entry.state().label(entry.intent.action)
            ));
            return Ok(Outcome::Held);
        }
        return super::repoint::restore(client, &mut journal, entry, super::TASK_TIMEOUT).await;
    }
    let grant = &entry.intent.grant;
    let live = live_matches(client, grant).await?;
    if let Some(existing) = live.iter().find(|l| same_grant(l, grant)) {
        say(&format!(
            "grant {} {}/{}:{} already exists as {}; nothing to restore\n",
            grant.name, grant.vpc_id, grant.instance_id, grant.port, existing.vpc_access_id
        ));
        return Ok(Outcome::Clear);
    }
    if let Some(other) = live.first() {
        say(&format!(
            "restore refused: grant {} ({}) {}/{}:{} holds the name or the tuple of {}; nothing was changed\n",
            other.name, other.vpc_access_id, other.vpc_id, other.instance_id, other.port, grant.describe()
        ));
        return Ok(Outcome::Held);
    }
    if !entry.is_restorable() {
        say(&format!(
            "entry {} is {}: its grant was never recorded as removed, so there is nothing to restore\n",
            entry.id,
            entry.state().as_str()
        ));
        return Ok(Outcome::Held);
    }
    journal.append(&Record::outcome(
        &entry.id,
        State::RestorePending,
        Detail::default(),
    ))?;
    let answer = client
        .write(&SetVpcAccess {
            name: grant.name.clone(),
            vpc_id: grant.vpc_id.clone(),
            instance_id: grant.instance_id.clone(),
            port: grant.port,
            description: Some(grant.description.clone()).filter(|d| !d.is_empty()),
            vpc_target_host_name: Some(grant.vpc_target_host_name.clone())
                .filter(|h| !h.is_empty()),
        })
        .await;
    // Whatever the answer, the grant is verified by reading it back (never by resending).
    let call_error = answer.as_ref().err().map(ToString::to_string);
    let back = live_matches(client, grant)
        .await
        .ok()
        .and_then(|live| live.into_iter().find(|l| same_grant(l, grant)));
    match back {
        Some(back) => {
            journal.append(&Record::outcome(
                &entry.id,
                State::Restored,
                Detail {
                    vpc_access_id: Some(back.vpc_access_id.clone()),
                    reconciled: call_error.is_some(),
                    ..Detail::default()
                },
            ))?;
            say(&format!(
                "restored grant {} {}/{}:{} as {} (it was {}); the name and tuple are the same, the VpcAccessId is new\n",
                grant.name, grant.vpc_id, grant.instance_id, grant.port, back.vpc_access_id, grant.vpc_access_id
            ));
            Ok(Outcome::Clear)
        }
        None => {
            let message = call_error
                .unwrap_or_else(|| "SetVpcAccess answered, but the grant is not listed".into());
            Err(restore_failed(&mut journal, entry, message)?)
        }
    }
}

/// Journals a restore that did not bring the grant back (decided by reading it), and the
/// error that says so; the entry stays restorable.
pub(super) fn restore_failed(
    journal: &mut Journal,
    entry: &Entry,
    message: String,
) -> Result<RemovalError, RemovalError> {
    journal.append(&Record::outcome(
        &entry.id,
        State::RestoreFailed,
        Detail {
            reason: Some(message.clone()),
            reconciled: true,
            ..Detail::default()
        },
    ))?;
    Ok(RemovalError::RestoreFailed {
        grant: entry.intent.grant.describe(),
        id: entry.id.clone(),
        message,
    })
}

fn warn_damage(path: &Path, contents: &journal::Contents) {
    for damage in &contents.damaged {
        eprintln!(
            "warning: {} line {}: {}; ignored (never read as an outcome)",
            path.display(),
            damage.line,
            damage.reason
        );
    }
}

/// `grantguard journal`: lists entries and states; `pending` entries are reconciled first by
/// reading the live account (grant still there → `not-removed`, gone → `done`; a pending
/// restore → `restored` or `restore-failed`). `connect` is only called when something is
/// pending. Exit 1 when a line was damaged or an entry stays pending.
pub async fn journal_command<F, Fut>(path: &Path, connect: F) -> Result<Outcome, RemovalError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<Client, RemovalError>>,
{
    let contents = journal::read(path)?;
    if contents.records.is_empty() && contents.damaged.is_empty() {
        say(&format!("no removals recorded in {}\n", path.display()));
        return Ok(Outcome::Clear);
    }
    warn_damage(path, &contents);
    let mut entries = journal::entries(&contents.records);
    let unsettled = |e: &Entry| {
        e.removal == State::Pending || matches!(e.restore, Some((State::RestorePending, _)))
    };
    let mut still_pending = false;
    if entries.iter().any(unsettled) {
        let client = connect().await?;
        let mut journal = Journal::open(path)?;
        for entry in entries.iter_mut().filter(|e| unsettled(e)) {
            let grant = entry.intent.grant.clone();
            if entry.removal == State::Pending {
                match reconcile(&client, &entry.intent).await {
                    Some(state) => {
                        let found = match (entry.intent.target.is_some(), state) {
                            (true, State::NotRemoved) => "on its old target",
                            (true, _) => {
                                "on the new target, its users not verified (run grantguard audit)"
                            }
                            (false, State::Done) => "gone",
                            (false, _) => "still there",
                        };
                        let detail = Detail {
                            reason: Some(format!(
                                "reconciled by grantguard journal: the grant is {found}"
                            )),
                            reconciled: true,
                            ..Detail::default()
                        };
                        journal.append(&Record::outcome(&entry.id, state, detail.clone()))?;
                        entry.removal = state;
                        entry.detail = detail;
                    }
                    None => still_pending = true,
                }
            } else {
                let back = live_matches(&client, &grant)
                    .await
                    .ok()
                    .map(|live| live.into_iter().find(|l| same_grant(l, &grant)));
                let (state, detail) = match back {
                    Some(Some(l)) => (
                        State::Restored,
                        Detail {
                            vpc_access_id: Some(l.vpc_access_id),
                            reconciled: true,
                            ..Detail::default()
                        },
                    ),
                    Some(None) => (
                        State::RestoreFailed,
                        Detail {
                            reason: Some("reconciled: the grant was not re-created".into()),
                            reconciled: true,
                            ..Detail::default()
                        },
                    ),
                    None => {
                        still_pending = true;
                        continue;
                    }
                };
                journal.append(&Record::outcome(&entry.id, state, detail.clone()))?;
                entry.restore = Some((state, detail));
            }
        }
    }
    let mut table = format!(
        "{:<25}  {:<20}  {:<16}  {:<7}  GRANT\n",
        "ENTRY", "OPENED", "STATE", "ACTION"
    );
    for e in &entries {
        let action = match e.intent.action {
            journal::Action::RemoveVpcAccess => "remove",
            journal::Action::RemoveVpcAccessAndAbolishApis => "abolish",
            journal::Action::ModifyVpcAccessAndUpdateApis => "repoint",
        };
        let mut line = format!(
            "{:<25}  {:<20}  {:<16}  {:<7}  {}",
            e.id,
            e.at.get(..19).unwrap_or(&e.at),
            e.state().label(e.intent.action),
            action,
            e.intent.grant.describe()
        );
        if let Some(target) = &e.intent.target {
            line.push_str(&format!(" → {target}"));
        }
        if let Some((State::Restored, d)) = &e.restore {
            if let Some(id) = &d.vpc_access_id {
                line.push_str(&format!(" → restored as {id}"));
            }
        }
        if e.is_restorable() {
            line.push_str(&format!("  [restore: grantguard restore --id {}]", e.id));
        }
        table.push_str(&line);
        table.push('\n');
    }
    say(&table);
    Ok(if still_pending || !contents.damaged.is_empty() {
        Outcome::Held
    } else {
        Outcome::Clear
    })
}

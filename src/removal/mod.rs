//! Guarded removal: `remove`, `remove --all-safe`, `restore` and `journal`.
//!
//! In: a connected [`Context`] and a [`RemovalRequest`]. Out: an [`Outcome`] (done → `Clear`,
//! refused or unexpected → `Held`) or a [`RemovalError`] (exit 2), with what happened printed
//! on stdout and written to the journal. It must never call a mutating action without a
//! fresh live audit, a confirmation, a fsync'd `pending` record and a re-check first, and
//! never resend a mutation after an unclear failure. `remove_one` reads top to bottom like
//! docs/architecture.md's protocol; each step lives in [`steps`] and takes the previous step's value.

pub mod document;
pub mod journal;
pub mod repoint;
pub mod repoint_document;
pub mod restore;
pub mod steps;

use crate::client::{CallError, Client};
use crate::config::Config;
use crate::inventory::walk::WalkOptions;
use crate::inventory::RegionId;
use crate::report::{self, Format, RenderOptions};
use crate::rules::Catalog;
use crate::selection::Selector;
use crate::verdict::{GrantReport, Report, Verdict};
use crate::Outcome;
use document::{restore_command_line, Document, Handled};
use journal::{Action, Journal, State};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;
use steps::{Confirm, DryRun, Finished, Recheck, Refusal, Stop};

/// Everything a removal needs from the plumbing in `session`.
#[derive(Debug)]
pub struct Context {
    /// The signed client.
    pub client: Client,
    /// The region.
    pub region: RegionId,
    /// The audit configuration.
    pub config: Config,
    /// The rule catalog.
    pub catalog: Catalog,
    /// What Terraform declares (`--terraform`), audited with the account.
    pub terraform: crate::terraform::Terraform,
    /// Walk options for the fresh audits.
    pub walk: WalkOptions,
    /// How printed reports look: colour and the terminal's width, never when the result goes
    /// to a file.
    pub render: RenderOptions,
}

/// Why a removal, restore or journal command could not do its job (exit 2).
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum RemovalError {
    /// No state directory for the default journal.
    #[error("no state directory for the removal journal")]
    #[diagnostic(
        code(grantguard::removal::no_state_dir),
        help("set HOME or XDG_STATE_HOME, or pass --journal FILE")
    )]
    NoStateDir,
    /// The journal (or its lock file) cannot be created or written.
    #[error("cannot write the removal journal {path}: {source}")]
    #[diagnostic(
        code(grantguard::removal::journal_write),
        help("nothing was removed: the journal is a precondition. Pass --journal FILE on a writable disk")
    )]
    JournalWrite {
        /// The file.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The journal cannot be read.
    #[error("cannot read the removal journal {path}: {source}")]
    #[diagnostic(code(grantguard::removal::journal_read))]
    JournalRead {
        /// The file.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Another process holds the journal.
    #[error("journal {path} is locked by {holder}")]
    #[diagnostic(
        code(grantguard::removal::locked),
        help("one removal at a time: wait for that process to finish, or check that it is gone")
    )]
    Locked {
        /// The journal.
        path: String,
        /// `pid N (host, since T)`.
        holder: String,
    },
    /// Standard input is not a terminal and `--yes` is missing.
    #[error("{}", if *.abolish {
        "--abolish-apis needs the grant's name typed on a terminal, or --yes together with --force --reason"
    } else {
        "standard input is not a terminal, so the grant's name cannot be typed to confirm"
    })]
    #[diagnostic(
        code(grantguard::removal::needs_yes),
        help("pass --yes to confirm non-interactively, after reviewing the same command with --dry-run")
    )]
    NeedsConfirmation {
        /// Whether it was an abolish.
        abolish: bool,
    },
    /// The confirmation could not be read.
    #[error("cannot read the confirmation")]
    #[diagnostic(code(grantguard::removal::prompt))]
    Prompt {
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// `--plan` cannot be read.
    #[error("cannot use the plan {path}: {message}")]
    #[diagnostic(
        code(grantguard::removal::plan),
        help("write one with `grantguard audit SELECTOR --format json --output FILE`")
    )]
    Plan {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The walk could not run.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Walk(#[from] crate::inventory::walk::WalkError),
    /// A call that had to succeed failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Call(Box<CallError>),
    /// The mutating call failed and the grant is still there.
    #[error("{action} failed; grant {grant} was not removed (journal entry {id})")]
    #[diagnostic(
        code(grantguard::removal::not_removed),
        help("the journal records `not-removed`; fix the cause and run the same remove again")
    )]
    NotRemoved {
        /// The action.
        action: &'static str,
        /// The grant.
        grant: String,
        /// Journal entry.
        id: String,
        /// The failure.
        #[source]
        source: Box<CallError>,
    },
    /// ModifyVpcAccessAndUpdateApis failed and the grant still has its old target.
    #[error(
        "ModifyVpcAccessAndUpdateApis failed; grant {grant} was not moved (journal entry {id})"
    )]
    #[diagnostic(
        code(grantguard::removal::not_moved),
        help("the journal records `not-moved`; fix the cause and run the same repoint again")
    )]
    NotMoved {
        /// The grant.
        grant: String,
        /// Journal entry.
        id: String,
        /// The failure.
        #[source]
        source: Box<CallError>,
    },
    /// The outcome of a mutating call is unknown.
    #[error(
        "the outcome of {action} for grant {grant} is unknown (journal entry {id} stays pending)"
    )]
    #[diagnostic(
        code(grantguard::removal::unclear),
        help("run `grantguard journal` when the service answers again: it reads the grant back and records the outcome")
    )]
    Unclear {
        /// The action.
        action: &'static str,
        /// The grant.
        grant: String,
        /// Journal entry.
        id: String,
        /// The failure.
        #[source]
        source: Box<CallError>,
    },
    /// `--output FILE` (or standard output) could not be written.
    #[error("cannot write the result to {path}: {source}")]
    #[diagnostic(code(grantguard::removal::output))]
    Output {
        /// The file, or "standard output".
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// `restore --id` names no entry.
    #[error("{message}")]
    #[diagnostic(
        code(grantguard::removal::no_entry),
        help("list the entries with `grantguard journal`")
    )]
    NoEntry {
        /// What was looked for.
        message: String,
    },
    /// The live account could not be reached, so pending entries cannot be reconciled (the
    /// connection's own error says why).
    #[error("cannot reconcile pending entries without a connection")]
    #[diagnostic(
        code(grantguard::removal::not_connected),
        help("`grantguard whoami` shows which credentials, region and endpoint would be used")
    )]
    NotConnected,
    /// SetVpcAccess did not bring the grant back.
    #[error("restore of {grant} failed: {message}")]
    #[diagnostic(
        code(grantguard::removal::restore_failed),
        help("the removal stays restorable; run `grantguard restore --id {id}` again when the cause is fixed")
    )]
    RestoreFailed {
        /// The grant.
        grant: String,
        /// Journal entry.
        id: String,
        /// What went wrong.
        message: String,
    },
}

/// Where output goes; tests capture it.
fn out() -> std::io::StdoutLock<'static> {
    std::io::stdout().lock()
}

fn say(text: &str) {
    let mut out = out();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// Where `remove` writes for people: standard output as it goes, a buffer for `--output FILE`,
/// or nowhere when the result is the JSON document (stdout then holds only the document).
enum Sink {
    Stdout,
    Buffer(String),
    Silent,
}

impl Sink {
    fn say(&mut self, text: &str) {
        match self {
            Sink::Stdout => say(text),
            Sink::Buffer(buffer) => buffer.push_str(text),
            Sink::Silent => {}
        }
    }
}

fn print_report(ctx: &Context, sink: &mut Sink, report: &Report) {
    let mut text = Vec::new();
    let _ = report::render(report, Format::Human, &mut text, ctx.render);
    sink.say(&String::from_utf8_lossy(&text));
}

/// Writes the result to `path`, or to standard output.
fn write_result(
    path: Option<&Path>,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), RemovalError> {
    let result = match path {
        Some(path) => crate::result_file::write_to(path, write),
        None => {
            let mut out = out();
            write(&mut out).and_then(|()| out.flush())
        }
    };
    result.map_err(|source| RemovalError::Output {
        path: path.map_or_else(|| "standard output".into(), |p| p.display().to_string()),
        source,
    })
}

/// What `remove` was asked to do: which grants, how each is handled, and where the journal
/// and the result go. The command line builds one; this module never sees the flags.
#[derive(Debug, Clone)]
pub struct RemovalRequest {
    /// One grant, or every safe one.
    pub targets: Targets,
    /// How each grant is handled.
    pub plan: Plan,
    /// The journal file; `None` is the default under the state directory.
    pub journal: Option<PathBuf>,
    /// The result's format.
    pub format: ResultFormat,
    /// Where the result goes; `None` is standard output.
    pub output: Option<PathBuf>,
}

/// Which grants a removal is about.
#[derive(Debug, Clone)]
pub enum Targets {
    /// The one grant the selector names.
    One(Selector),
    /// Every grant whose verdict is safe, at most `max` of them, one at a time.
    AllSafe {
        /// The most grants removed in one run.
        max: usize,
    },
}

/// The format of a removal's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultFormat {
    /// For people: the plan, the refusal or the outcome, and the undo command.
    Human,
    /// The grantguard.removal/v1 document.
    Json,
}

/// What to do with each grant.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Run every check and print the call(s) a run would make; change nothing.
    pub dry_run: bool,
    /// Confirmed in advance, without typing the grant's name.
    pub yes: bool,
    /// Why a verdict that is not safe is overridden; `Some` only when the override was asked for.
    pub reason: Option<String>,
    /// Remove a safe grant that still has warnings.
    pub accept_warnings: bool,
    /// A saved report whose digest the fresh audit must equal.
    pub plan: Option<PathBuf>,
    /// The mutating call.
    pub action: Action,
}

/// How one grant's removal ended, for the batch table.
#[derive(Debug)]
enum Ended {
    Finished(Box<Finished>),
    DryRun(Box<DryRun>),
    Refused(Refusal),
}

/// `grantguard remove SELECTOR` or `grantguard remove --all-safe`.
pub async fn remove_command(
    ctx: &Context,
    request: RemovalRequest,
) -> Result<Outcome, RemovalError> {
    let RemovalRequest {
        targets,
        plan,
        journal,
        format,
        output,
    } = request;
    let path = journal::resolve_path(journal.as_deref())?;
    // The journal is a precondition: a run that cannot record what it does never starts,
    // and the lock is taken before any network call so a second run stops at once.
    let mut journal = if plan.dry_run {
        None
    } else {
        Some(Journal::open(&path)?)
    };
    let all_safe_batch = matches!(targets, Targets::AllSafe { .. });
    let mut sink = match (format, &output) {
        (ResultFormat::Json, _) => Sink::Silent,
        (ResultFormat::Human, Some(_)) => Sink::Buffer(String::new()),
        (ResultFormat::Human, None) => Sink::Stdout,
    };
    let mut handled = Vec::new();
    let result = match targets {
        Targets::One(selector) => {
            match remove_one(ctx, journal.as_mut(), &path, &selector, &plan, Base::Walk)
                .await
                .0
            {
                Ok(Ended::Finished(finished)) => {
                    handled.push(Handled::finished(&finished));
                    report_finished(&mut sink, &finished, plan.action)
                }
                Ok(Ended::DryRun(dry)) => {
                    sink.say(&dry.text);
                    handled.push(Handled::dry_run(&dry));
                    Ok(Outcome::Clear)
                }
                Ok(Ended::Refused(refusal)) => {
                    print_refusal(ctx, &mut sink, &refusal);
                    handled.push(Handled::refused(&refusal));
                    Ok(Outcome::Held)
                }
                Err(error) => Err(error),
            }
        }
        Targets::AllSafe { max } => {
            let batch = Batch {
                journal: journal.as_mut(),
                path: &path,
                plan: &plan,
                max,
            };
            all_safe(ctx, batch, &mut sink, &mut handled).await
        }
    };
    // A failure before any grant was judged leaves stdout empty, like a failed audit: the
    // diagnostic on stderr and exit 2 say it all. Otherwise the result is written, then the
    // failure (if any) is returned.
    if result.is_err() && handled.is_empty() {
        return result;
    }
    let output = output.as_deref();
    let written = match (format, sink) {
        (ResultFormat::Json, _) => {
            let document = Document::new(
                ctx.region.as_str(),
                plan.action.as_str(),
                plan.dry_run,
                all_safe_batch,
                &path,
                handled,
            );
            write_result(output, |out| document.write(out))
        }
        (ResultFormat::Human, Sink::Buffer(text)) => {
            write_result(output, |out| out.write_all(text.as_bytes()))
        }
        (ResultFormat::Human, _) => Ok(()),
    };
    let outcome = result?;
    written?;
    Ok(outcome)
}

/// Where step 2's audit comes from.
enum Base {
    /// A fresh live walk (a single `remove`).
    Walk,
    /// `--all-safe`: the batch's live inventory (its own walk, or the previous grant's
    /// re-check), in which the grant was resolved.
    Batch(steps::Resolved, Box<crate::inventory::Inventory>),
}

/// The protocol for one grant, one line per step of docs/architecture.md. Besides how it ended, returns
/// the re-check's fresh inventory when it got that far (`--all-safe` audits the next grant
/// from it instead of walking the region again).
async fn remove_one(
    ctx: &Context,
    journal: Option<&mut Journal>,
    path: &Path,
    selector: &Selector,
    plan: &Plan,
    base: Base,
) -> (
    Result<Ended, RemovalError>,
    Option<crate::inventory::Inventory>,
) {
    let mut fresh = None;
    let ended = remove_one_inner(ctx, journal, path, selector, plan, base, &mut fresh).await;
    (ended, fresh)
}

async fn remove_one_inner(
    ctx: &Context,
    journal: Option<&mut Journal>,
    path: &Path,
    selector: &Selector,
    plan: &Plan,
    base: Base,
    fresh: &mut Option<crate::inventory::Inventory>,
) -> Result<Ended, RemovalError> {
    let stopped = |stop: Stop| match stop {
        Stop::Refused(refusal) => Ok(Ended::Refused(refusal)),
        Stop::Failed(error) => Err(error),
    };
    let audited = match base {
        Base::Walk => match steps::resolve(ctx, selector).await {
            Ok(resolved) => steps::audit(ctx, resolved).await,
            Err(stop) => Err(stop),
        },
        Base::Batch(resolved, inventory) => steps::audit_from(ctx, resolved, *inventory),
    };
    let mut audited = match audited {
        Ok(a) => a,
        Err(stop) => return stopped(stop),
    };
    if let Some(plan_file) = &plan.plan {
        audited = match audited.check_plan(plan_file) {
            Ok(a) => a,
            Err(stop) => return stopped(stop),
        };
    }
    let overrides = steps::Overrides {
        reason: plan.reason.as_deref(),
        accept_warnings: plan.accept_warnings,
    };
    let cleared = match steps::clear(audited, overrides) {
        Ok(c) => c,
        Err(stop) => return stopped(stop),
    };
    let Some(journal) = journal.filter(|_| !plan.dry_run) else {
        return Ok(Ended::DryRun(Box::new(cleared.dry_run(plan.action, path))));
    };
    let stdin = std::io::stdin();
    let confirmed = match steps::confirm(
        cleared,
        plan.action,
        Confirm {
            yes: plan.yes,
            terminal: stdin.is_terminal(),
            input: &mut stdin.lock(),
            prompt: &mut std::io::stderr(),
        },
    ) {
        Ok(c) => c,
        Err(stop) => return stopped(stop),
    };
    // From the pending record to the journaled outcome, Ctrl-C waits (docs/fault-model.md A14).
    let _critical = crate::interrupt::Critical::enter();
    crate::failpoints::point(crate::failpoints::names::BEFORE_JOURNAL);
    let entry = match steps::write_ahead(journal, ctx.region.as_str(), confirmed) {
        Ok(e) => e,
        Err(stop) => return stopped(stop),
    };
    crate::failpoints::point(crate::failpoints::names::AFTER_JOURNAL_FSYNC);
    let mut rechecked = match steps::recheck(ctx, entry).await {
        Ok(Recheck::Unchanged(rechecked)) => rechecked,
        Ok(Recheck::Changed(changed)) => match changed.override_with_force() {
            Ok(rechecked) => {
                eprintln!("warning: the re-check found a change; --force --reason proceeds and the journal records it");
                rechecked
            }
            Err(mut changed) => {
                *fresh = Some(changed.take_fresh());
                let (record, aborted) = changed.into_record();
                journal.append(&record)?;
                return Ok(Ended::Refused(Refusal::Changed(Box::new(aborted))));
            }
        },
        Err((entry, error)) => {
            let record = journal::Record::outcome(
                entry.id(),
                State::NotRemoved,
                journal::Detail {
                    reason: Some(format!("aborted: the re-check could not run: {error}")),
                    ..journal::Detail::default()
                },
            );
            journal.append(&record)?;
            return Err(error);
        }
    };
    *fresh = Some(rechecked.take_fresh());
    let mut removed = steps::mutate(&ctx.client, rechecked).await;
    if plan.action == Action::RemoveVpcAccessAndAbolishApis {
        let mut progress =
            |done: usize, all: usize| eprintln!("abolishing APIs: {done}/{all} finished");
        if let Err(error) =
            steps::follow_task(&ctx.client, &mut removed, ABOLISH_TIMEOUT, &mut progress).await
        {
            eprintln!("warning: cannot follow the abolish operation: {error}");
        }
    }
    crate::failpoints::point(crate::failpoints::names::AFTER_RESPONSE);
    let finished = steps::finish(journal, removed)?;
    Ok(Ended::Finished(Box::new(finished)))
}

/// How long `--abolish-apis` waits for DescribeAbolishApiTask to report every API final.
const ABOLISH_TIMEOUT: Duration = Duration::from_secs(120);

/// How long a repoint's restore waits for DescribeUpdateVpcInfoTask (`repoint` itself takes
/// `--task-timeout`, with this default).
pub const TASK_TIMEOUT: Duration = Duration::from_secs(120);

fn print_refusal(ctx: &Context, sink: &mut Sink, refusal: &Refusal) {
    match refusal {
        Refusal::Unresolved(report) => {
            print_report(ctx, sink, report);
            sink.say(
                "removal refused: the selector must name exactly one grant; nothing was removed\n",
            );
        }
        Refusal::NotSafe(report) => {
            print_report(ctx, sink, report);
            sink.say("removal refused: the verdict is not safe; nothing was removed (override only with --force --reason TEXT)\n");
            say_terraform_owner(ctx, sink, report);
        }
        Refusal::Warnings(_) => {
            let report = refusal.report();
            print_report(ctx, sink, report);
            sink.say(&format!(
                "removal refused: {}; nothing was removed.\n  Review the warnings above. To remove anyway, pass --accept-warnings (the journal records them);\n  to accept a rule for good, change its severity or suppress it with a justification in grantguard.json.\n",
                refusal.why()
            ));
            say_terraform_owner(ctx, sink, report);
        }
        Refusal::PlanMismatch(why, _) | Refusal::Target(why, _) => {
            sink.say(&format!("removal refused: {why}; nothing was removed\n"))
        }
        Refusal::NotConfirmed(why, _) => sink.say(&format!("removal refused: {why}\n")),
        Refusal::Changed(aborted) => sink.say(&format!(
            "removal {}; nothing was removed (journaled as not-removed, entry {})\n  re-check: {} calls, {} definitions reused, {:.1} ms\n",
            aborted.why, aborted.id, aborted.recheck.calls, aborted.recheck.reused, aborted.recheck.ms
        )),
    }
}

/// For a refused grant that Terraform manages (GG401): the resource to delete instead, since
/// a removal here is undone by the next `terraform apply`.
fn say_terraform_owner(ctx: &Context, sink: &mut Sink, report: &crate::verdict::Report) {
    for audited in &report.grants {
        let declarations = ctx.terraform.grants_declaring(&audited.grant);
        let mut addresses: Vec<String> = declarations
            .iter()
            .map(|(d, _)| format!("{} ({})", d.address, d.source))
            .collect();
        addresses.dedup();
        if addresses.is_empty() {
            continue;
        }
        sink.say(&format!(
            "  Terraform manages {}: delete {} and run `terraform apply` instead.\n",
            audited.grant.name,
            addresses.join(" and ")
        ));
    }
}

/// Prints a finished removal; an unexpected answer is reported loudly with the undo command.
fn report_finished(sink: &mut Sink, f: &Finished, action: Action) -> Result<Outcome, RemovalError> {
    let mut text = String::new();
    if let Some(facts) = f.detail.recheck {
        text.push_str(&format!(
            "re-check: {} calls, {} definitions reused, {:.1} ms\n",
            facts.calls, facts.reused, facts.ms
        ));
    }
    if let Some(window) = f.detail.recheck_window_ms {
        text.push_str(&format!(
            "re-check end → {} answer: {window:.3} ms\n",
            action.as_str()
        ));
    }
    for finding in &f.detail.appeared_findings {
        text.push_str(&format!(
            "note: accepted under --force, appeared after the audit: {} {}\n",
            finding.rule, finding.message
        ));
    }
    if !f.accepted_warnings.is_empty() {
        text.push_str(&format!(
            "accepted {} warning{} (--accept-warnings, journaled)\n",
            f.accepted_warnings.len(),
            if f.accepted_warnings.len() == 1 {
                ""
            } else {
                "s"
            }
        ));
    }
    match f.state {
        State::Done => {
            text.push_str(&format!(
                "removed grant {} (journal entry {})\n",
                f.grant.describe(),
                f.id
            ));
            if f.detail.reconciled {
                text.push_str("the call failed, but reading back shows the grant is gone\n");
            }
            for missing in &f.detail.missing_apis {
                text.push_str(&format!(
                    "note: the audit predicted {missing}, which the service no longer named\n"
                ));
            }
            for api in &f.detail.abolished {
                text.push_str(&format!(
                    "unpublished {}: {}{}\n",
                    api.api,
                    api.status,
                    if api.error.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", api.error)
                    }
                ));
            }
            text.push_str(&format!("undo with: {}\n", restore_command_line(&f.id)));
            sink.say(&text);
            Ok(Outcome::Clear)
        }
        State::DoneUnexpected => {
            let bar = "!".repeat(78);
            text.push_str(&format!("{bar}\n!! UNEXPECTED: grant {} is removed, but the service says these APIs still used it:\n", f.grant.describe()));
            for api in &f.detail.unexpected_apis {
                text.push_str(&format!("!!   {api}\n"));
            }
            text.push_str(&format!(
                "!! they are likely broken now. Undo at once with:\n!!   {}\n{bar}\n",
                restore_command_line(&f.id)
            ));
            sink.say(&text);
            Ok(Outcome::Held)
        }
        State::NotRemoved => {
            sink.say(&text);
            Err(RemovalError::NotRemoved {
                action: action.as_str(),
                grant: f.grant.describe(),
                id: f.id.clone(),
                source: Box::new(
                    f.error
                        .clone()
                        .expect("not-removed comes from a failed call"),
                ),
            })
        }
        _ => {
            sink.say(&text);
            Err(RemovalError::Unclear {
                action: action.as_str(),
                grant: f.grant.describe(),
                id: f.id.clone(),
                source: Box::new(f.error.clone().expect("pending comes from a failed call")),
            })
        }
    }
}

/// What `--all-safe` works with, besides the context and the outputs.
struct Batch<'a> {
    journal: Option<&'a mut Journal>,
    path: &'a Path,
    plan: &'a Plan,
    max: usize,
}

/// `--all-safe`: audits every grant, removes the clean ones (with `--accept-warnings`, every
/// safe one) one at a time with the whole protocol and its re-check each, stops at the first
/// outcome that is not a clean `done`.
/// Every grant gets a table row for people and an entry in `handled` for the document.
async fn all_safe(
    ctx: &Context,
    batch: Batch<'_>,
    sink: &mut Sink,
    handled: &mut Vec<Handled>,
) -> Result<Outcome, RemovalError> {
    let Batch {
        mut journal,
        path,
        plan,
        max,
    } = batch;
    let inventory = crate::inventory::walk::walk(&ctx.client, &ctx.region, &ctx.walk).await?;
    let overview = crate::rules::audit(&inventory, &ctx.terraform, None, &ctx.config, &ctx.catalog);
    // Each grant is audited from the newest live inventory: this walk for the first, then
    // the previous grant's re-check (itself an incremental re-walk), never a full walk again.
    let mut latest = Some(inventory);
    let mut rows: Vec<Row> = Vec::new();
    let mut attempted = 0;
    let mut stopped: Option<String> = None;
    let mut failure: Option<RemovalError> = None;
    let mut grants = overview.grants.clone();
    grants.sort_by(|a, b| a.grant.name.cmp(&b.grant.name));
    for g in &grants {
        let (name, id) = (g.grant.name.clone(), g.grant.id.to_string());
        if let Some((why, entry)) = kept_unattempted(g, plan, stopped.as_deref(), attempted, max) {
            rows.push((name, id, "kept", why));
            handled.push(entry);
            continue;
        }
        attempted += 1;
        let selector = Selector::Id(g.grant.id.clone());
        let single = Plan {
            reason: None,
            plan: None,
            ..plan.clone()
        };
        let base = base_for(&mut latest, plan.dry_run, &g.grant.id);
        let (ended, fresh) =
            remove_one(ctx, journal.as_deref_mut(), path, &selector, &single, base).await;
        if let Some(mut fresh) = fresh {
            if matches!(&ended, Ok(Ended::Finished(f)) if matches!(f.state, State::Done | State::DoneUnexpected))
            {
                fresh.grants.retain(|x| x.id != g.grant.id);
                fresh.index.retain(|u| u.grant != g.grant.id);
            }
            latest = Some(fresh);
        }
        let settled = settle(g, ended, sink);
        rows.push((name, id, settled.result, settled.why));
        handled.push(settled.handled);
        if let Some(why) = settled.stop {
            stopped = Some(why.into());
        }
        if let Some(error) = settled.failure {
            failure = Some(error);
        }
    }
    sink.say(&table(&rows));
    match (failure, stopped) {
        (Some(error), _) => Err(error),
        (None, Some(_)) => Ok(Outcome::Held),
        (None, None) => Ok(Outcome::Clear),
    }
}

/// One line of the batch table: grant name, VpcAccessId, `removed` or `kept`, and why.
type Row = (String, String, &'static str, String);

/// Why `--all-safe` keeps `g` without attempting it: not safe; safe with warnings and no
/// override; the batch has stopped; or `--max` grants were attempted already. `None` when it
/// is attempted.
fn kept_unattempted(
    g: &GrantReport,
    plan: &Plan,
    stopped: Option<&str>,
    attempted: usize,
    max: usize,
) -> Option<(String, Handled)> {
    if g.verdict != Verdict::Safe {
        let rules = crate::verdict::rule_ids(g.findings.iter().filter(|f| f.holds()));
        let why = format!("{} ({})", g.verdict.as_str(), joined(&rules));
        return Some((why, Handled::not_safe(g)));
    }
    if !g.is_clean() && !plan.accept_warnings && plan.reason.is_none() {
        let count = g.warnings().count();
        let why = format!(
            "safe, {count} warning{} ({}); pass --accept-warnings to remove",
            if count == 1 { "" } else { "s" },
            joined(&crate::verdict::rule_ids(g.warnings()))
        );
        return Some((why, Handled::warnings(g)));
    }
    if let Some(why) = stopped {
        return Some((format!("not attempted: {why}"), Handled::skipped(g, why)));
    }
    if attempted >= max {
        let why = format!("--max {max} reached");
        let handled = Handled::skipped(g, &why);
        return Some((format!("not attempted: {why}"), handled));
    }
    None
}

/// Where step 2's audit of grant `id` comes from: the batch's latest live inventory when it
/// still holds the grant (a dry run changes nothing, so it keeps the inventory for the next
/// grant; a real removal hands it over), else a fresh walk.
fn base_for(
    latest: &mut Option<crate::inventory::Inventory>,
    dry_run: bool,
    id: &crate::inventory::VpcAccessId,
) -> Base {
    let base = match latest.as_ref() {
        Some(inventory) if dry_run => Some(inventory.clone()),
        Some(_) => latest.take(),
        None => None,
    };
    match base {
        Some(inventory) => match steps::resolve_in(&inventory, id) {
            Some(resolved) => Base::Batch(resolved, Box::new(inventory)),
            None => Base::Walk,
        },
        None => Base::Walk,
    }
}

/// How one attempted grant of the batch ended, for its row and the document.
struct Settled {
    result: &'static str,
    why: String,
    handled: Handled,
    /// Why the batch stops here, when it does.
    stop: Option<&'static str>,
    failure: Option<RemovalError>,
}

/// The row, document entry and batch consequence of `ended`; a dry run's plan is said now.
fn settle(g: &GrantReport, ended: Result<Ended, RemovalError>, sink: &mut Sink) -> Settled {
    const UNEXPECTED: &str = "the batch stopped at the first unexpected outcome";
    let settled = |result, why, handled, stop| Settled {
        result,
        why,
        handled,
        stop,
        failure: None,
    };
    match ended {
        Ok(Ended::DryRun(dry)) => {
            sink.say(&dry.text);
            let why = "dry run: would be removed".into();
            settled("kept", why, Handled::dry_run(&dry), None)
        }
        Ok(Ended::Finished(f)) if f.state == State::Done => {
            let why = format!("done (journal entry {})", f.id);
            settled("removed", why, Handled::finished(&f), None)
        }
        Ok(Ended::Finished(f)) => {
            let why = match f.state {
                State::DoneUnexpected => {
                    let apis: Vec<String> = f
                        .detail
                        .unexpected_apis
                        .iter()
                        .map(ToString::to_string)
                        .collect();
                    format!(
                        "REMOVED, UNEXPECTED: still used by {}; undo: {}",
                        apis.join(", "),
                        restore_command_line(&f.id)
                    )
                }
                state => format!(
                    "{}: {}",
                    state.as_str(),
                    f.detail.reason.clone().unwrap_or_default()
                ),
            };
            let removed = matches!(f.state, State::DoneUnexpected);
            let result = if removed { "removed" } else { "kept" };
            settled(result, why, Handled::finished(&f), Some(UNEXPECTED))
        }
        Ok(Ended::Refused(refusal)) => {
            let why = match &refusal {
                Refusal::Unresolved(_) => "gone or ambiguous at removal time".to_owned(),
                Refusal::NotSafe(_) => "no longer safe in the fresh audit".to_owned(),
                Refusal::Warnings(_) => "warnings in the fresh audit".to_owned(),
                other => other.why(),
            };
            settled("kept", why, Handled::refused(&refusal), Some(UNEXPECTED))
        }
        Err(error) => Settled {
            result: "kept",
            why: format!("error: {error}"),
            handled: Handled::error(g, &error.to_string()),
            stop: Some("the batch stopped at an error"),
            failure: Some(error),
        },
    }
}

/// The batch table, names padded to the longest.
fn table(rows: &[Row]) -> String {
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(5).max(5);
    let mut table = format!(
        "{:<width$}  {:<32}  {:<7}  WHY\n",
        "GRANT", "VPC ACCESS ID", "RESULT"
    );
    for (name, id, result, why) in rows {
        table.push_str(&format!("{name:<width$}  {id:<32}  {result:<7}  {why}\n"));
    }
    table
}

/// Rule ids as `GG103, GG105`.
pub(crate) fn joined(ids: &[crate::verdict::RuleId]) -> String {
    ids.iter()
        .map(|id| id.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

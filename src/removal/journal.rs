//! The removal journal: an append-only JSON-lines file where every removal is written down
//! before it happens and its outcome after. In: records from the removal protocol. Out: the
//! entries and their states, read back tolerantly. It must never lose or invent a state: each
//! line carries its own checksum, a line without its newline or with a wrong checksum (a torn
//! tail after a crash) is reported and ignored, never read as `done`. It never holds a secret.
//!
//! Line format: `{"sum":"<sha256 hex of RECORD>","record":RECORD}` + `\n`, where RECORD is the
//! exact JSON the checksum covers. Files are created with mode 0600 in a 0700 directory; every
//! append is fsync'd, and so is the directory. A lock file next to the journal (`FILE.lock`)
//! keeps two writers apart and names its holder.

use super::RemovalError;
use crate::verdict::RuleId;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The journal's file name under the state directory.
pub const FILE_NAME: &str = "journal.jsonl";

/// `--journal FILE`, else `$XDG_STATE_HOME/grantguard/journal.jsonl`, else the platform state
/// directory, else `~/.local/state/grantguard/journal.jsonl`.
pub fn resolve_path(given: Option<&Path>) -> Result<PathBuf, RemovalError> {
    if let Some(path) = given {
        return Ok(path.to_path_buf());
    }
    // The XDG spec ignores relative values of XDG_STATE_HOME.
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(dirs::state_dir)
        .or_else(|| dirs::home_dir().map(|home| home.join(".local").join("state")))
        .ok_or(RemovalError::NoStateDir)?;
    Ok(base.join("grantguard").join(FILE_NAME))
}

/// The attributes SetVpcAccess needs to re-create a grant, plus its old id and region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GrantRecord {
    /// Name.
    pub name: String,
    /// VPC id.
    pub vpc_id: String,
    /// Instance id.
    pub instance_id: String,
    /// Port.
    pub port: u16,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Host header.
    #[serde(default)]
    pub vpc_target_host_name: String,
    /// The id the service had given it (a restore gets a new one).
    pub vpc_access_id: String,
    /// Region.
    pub region: String,
}

impl GrantRecord {
    /// `NAME (ID) VPC/INSTANCE:PORT`.
    pub fn describe(&self) -> String {
        format!(
            "{} ({}) {}/{}:{}",
            self.name, self.vpc_access_id, self.vpc_id, self.instance_id, self.port
        )
    }
}

/// An (API, stage) pair, as predicted by the audit or returned by the service.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ApiStage {
    /// API id.
    pub api_id: String,
    /// API name, when known.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_name: String,
    /// Group id.
    #[serde(default)]
    pub group_id: String,
    /// Stage name (RELEASE, PRE, TEST), or the stage id when it could not be named.
    pub stage: String,
}

impl std::fmt::Display for ApiStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.api_name.is_empty() {
            write!(f, "API {} @ {}", self.api_id, self.stage)
        } else {
            write!(
                f,
                "API {} ({}) @ {}",
                self.api_name, self.api_id, self.stage
            )
        }
    }
}

/// A finding that `--force` overrode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverriddenFinding {
    /// Rule id.
    pub rule: RuleId,
    /// Severity.
    pub severity: String,
    /// Message.
    pub message: String,
}

/// `--force --reason TEXT` and what it overrode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Override {
    /// The operator's reason.
    pub reason: String,
    /// The verdict that was overridden.
    pub verdict: String,
    /// The deny and warn findings at the time of the audit.
    pub findings: Vec<OverriddenFinding>,
}

/// Which mutating action an entry uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// Delete the grant only.
    RemoveVpcAccess,
    /// Delete the grant and unpublish the APIs that use it.
    RemoveVpcAccessAndAbolishApis,
    /// Move the grant to another target in place (`repoint`), and its published APIs with it.
    ModifyVpcAccessAndUpdateApis,
}

impl Action {
    /// The vendor's action name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::RemoveVpcAccess => "RemoveVpcAccess",
            Action::RemoveVpcAccessAndAbolishApis => "RemoveVpcAccessAndAbolishApis",
            Action::ModifyVpcAccessAndUpdateApis => "ModifyVpcAccessAndUpdateApis",
        }
    }

    /// The DescribeXTask action that follows it, for the asynchronous ones.
    pub fn task(self) -> Option<&'static str> {
        match self {
            Action::RemoveVpcAccess => None,
            Action::RemoveVpcAccessAndAbolishApis => Some("DescribeAbolishApiTask"),
            Action::ModifyVpcAccessAndUpdateApis => Some("DescribeUpdateVpcInfoTask"),
        }
    }
}

/// Where a repoint moves a grant: the new (VpcId, InstanceId, Port) and host header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Target {
    /// VPC id.
    pub vpc_id: String,
    /// Instance id.
    pub instance_id: String,
    /// Port.
    pub port: u16,
    /// Host header (empty: none).
    #[serde(default)]
    pub vpc_target_host_name: String,
}

impl Target {
    /// The target a grant record has now.
    pub fn of(grant: &GrantRecord) -> Target {
        Target {
            vpc_id: grant.vpc_id.clone(),
            instance_id: grant.instance_id.clone(),
            port: grant.port,
            vpc_target_host_name: grant.vpc_target_host_name.clone(),
        }
    }

    /// Whether (`vpc_id`, `instance_id`, `port`) is this target's tuple.
    pub fn is(&self, vpc_id: &str, instance_id: &str, port: u16) -> bool {
        self.vpc_id == vpc_id && self.instance_id == instance_id && self.port == port
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}:{}", self.vpc_id, self.instance_id, self.port)?;
        if !self.vpc_target_host_name.is_empty() {
            write!(f, " (host {})", self.vpc_target_host_name)?;
        }
        Ok(())
    }
}

/// A live user of a repointed grant: an API in a stage, and the backend service it reaches the
/// grant through (none when its own definition names the grant).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LiveUser {
    /// The API and stage.
    pub api: ApiStage,
    /// Backend id, for a user whose backend model routes through the grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_id: Option<String>,
    /// That backend's name, when known.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub backend_name: String,
}

/// How the check of one live user after a repoint (or its restore) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckResult {
    /// Its deployed definition (or backend model) routes to the target now.
    Updated,
    /// The service reported the update failed.
    Failed,
    /// Nothing shows it routes to the target.
    NotVerified,
}

impl CheckResult {
    /// `updated`, `failed` or `not-verified`.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckResult::Updated => "updated",
            CheckResult::Failed => "failed",
            CheckResult::NotVerified => "not-verified",
        }
    }
}

/// The check of one live user after a repoint: what the service said, what a read shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// Who.
    pub user: LiveUser,
    /// The outcome.
    pub result: CheckResult,
    /// The task's status for it, when the task named it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_status: Option<String>,
    /// The service's error text, when it gave one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_message: String,
    /// What the read showed, for people.
    pub note: String,
}

/// What a `pending` record promises: everything needed to judge and undo the removal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    /// The call about to be made.
    pub action: Action,
    /// The grant, with every attribute SetVpcAccess needs.
    pub grant: GrantRecord,
    /// The audit report's digest for the grant.
    pub digest: String,
    /// The audit's verdict.
    pub verdict: String,
    /// The override, when `--force --reason` was given.
    #[serde(default, rename = "override", skip_serializing_if = "Option::is_none")]
    pub forced: Option<Override>,
    /// The warnings `--accept-warnings` accepted (a `safe` grant that was not clean).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accepted_warnings: Vec<OverriddenFinding>,
    /// The (API, stage) pairs the audit expects the service to name (or to unpublish).
    #[serde(default)]
    pub predicted: Vec<ApiStage>,
    /// A repoint's new target (the old one is `grant`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    /// A repoint's live users, each to be verified on the new target after the call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub live_users: Vec<LiveUser>,
    /// Who ran it.
    pub pid: u32,
    /// On which host.
    pub host: String,
}

/// Per-API result of an asynchronous task (DescribeAbolishApiTask, DescribeUpdateVpcInfoTask).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiTaskResult {
    /// The API and stage.
    pub api: ApiStage,
    /// The service's status.
    pub status: String,
    /// The service's error text.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
}

/// The state a record puts its entry in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// Written before the call; the outcome is not known yet.
    Pending,
    /// The grant is gone and the service named only the predicted APIs (a repoint: the grant
    /// has the new target and every live user was verified on it).
    Done,
    /// The grant is gone but the service named APIs the audit did not predict (a repoint: the
    /// grant has the new target, but not every live user was verified on it).
    DoneUnexpected,
    /// Nothing was called: the re-check found a change.
    Aborted,
    /// The call failed or was never made, and the grant is still there (as it was).
    NotRemoved,
    /// A restore is about to call SetVpcAccess.
    RestorePending,
    /// The grant is back (same name and tuple, a new VpcAccessId).
    Restored,
    /// A restore did not bring the grant back; the removal stays restorable.
    RestoreFailed,
}

impl State {
    /// The kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Done => "done",
            State::DoneUnexpected => "done-unexpected",
            State::Aborted => "aborted",
            State::NotRemoved => "not-removed",
            State::RestorePending => "restore-pending",
            State::Restored => "restored",
            State::RestoreFailed => "restore-failed",
        }
    }

    /// The name people read for an entry of `action`: a repoint's outcomes say what happened
    /// to the grant (`moved`, `moved-unverified`, `not-moved`) instead of removal words.
    pub fn label(self, action: Action) -> &'static str {
        match (action, self) {
            (Action::ModifyVpcAccessAndUpdateApis, State::Done) => "moved",
            (Action::ModifyVpcAccessAndUpdateApis, State::DoneUnexpected) => "moved-unverified",
            (Action::ModifyVpcAccessAndUpdateApis, State::NotRemoved) => "not-moved",
            (_, state) => state.as_str(),
        }
    }
}

/// What an outcome record says besides its state; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Detail {
    /// Why (errors, aborts, reconciliations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What the service returned in `Apis`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub response_apis: Vec<ApiStage>,
    /// Returned but not predicted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unexpected_apis: Vec<ApiStage>,
    /// Predicted but not returned.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_apis: Vec<ApiStage>,
    /// What the re-check found that the audit had not seen: the (API, stage) pairs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub appeared: Vec<ApiStage>,
    /// What the re-check found that the audit had not seen: every new finding (a backend
    /// model or a draft has no stage pair), and every part it could not read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub appeared_findings: Vec<OverriddenFinding>,
    /// What the re-check read and how long it took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recheck: Option<RecheckFacts>,
    /// The service's RequestId.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Milliseconds between the end of the re-check and the mutating call handed to the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recheck_gap_ms: Option<f64>,
    /// Milliseconds between the end of the re-check and the mutating call's answer: the
    /// window in which a change can slip past the re-check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recheck_window_ms: Option<f64>,
    /// True when the state was decided by reading the live account afterwards.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reconciled: bool,
    /// The OperationId of RemoveVpcAccessAndAbolishApis or ModifyVpcAccessAndUpdateApis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<String>,
    /// Per-API abolish results.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub abolished: Vec<ApiTaskResult>,
    /// Per-API results of a repoint's DescribeUpdateVpcInfoTask.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub updated: Vec<ApiTaskResult>,
    /// The task was still running when grantguard stopped waiting.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub timed_out: bool,
    /// A repoint's (or its restore's) check of every live user on the target.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<Check>,
    /// The VpcAccessId of a restored grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_access_id: Option<String>,
}

/// What the re-check (an incremental re-walk) cost.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RecheckFacts {
    /// Requests sent (every attempt).
    pub calls: u64,
    /// Definitions reused from the audit because a live listing proved them unchanged.
    pub reused: u64,
    /// How long it took, in milliseconds.
    pub ms: f64,
}

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The entry it belongs to.
    pub id: String,
    /// When it was written (RFC 3339, UTC).
    pub at: String,
    /// The state it puts the entry in.
    pub state: State,
    /// Only on `pending`: what is about to happen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<Intent>,
    /// Only on outcomes.
    #[serde(default)]
    pub detail: Detail,
}

impl Record {
    /// An outcome record for entry `id`, stamped now.
    pub fn outcome(id: &str, state: State, detail: Detail) -> Record {
        Record {
            id: id.to_owned(),
            at: now(),
            state,
            intent: None,
            detail,
        }
    }
}

/// The current time as RFC 3339.
pub fn now() -> String {
    let at = OffsetDateTime::now_utc();
    at.format(&Rfc3339).unwrap_or_else(|_| at.to_string())
}

/// A fresh entry id: UTC time plus random hex, sortable and unique enough for one operator.
pub fn new_id() -> String {
    let at = OffsetDateTime::now_utc();
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z-{:06x}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        rand::random::<u32>() & 0xff_ffff
    )
}

/// `ENOSPC` and `EIO` (the same numbers on Linux and macOS), the errors the journal's crash
/// points stand in for.
const ENOSPC: i32 = 28;
const EIO: i32 = 5;

const PREFIX: &str = "{\"sum\":\"";
const MIDDLE: &str = "\",\"record\":";

/// One record as a journal line, newline included.
pub fn encode(record: &Record) -> String {
    let body = serde_json::to_string(record).expect("a record always serializes");
    let sum = hex::encode(Sha256::digest(body.as_bytes()));
    format!("{PREFIX}{sum}{MIDDLE}{body}}}\n")
}

/// Why a line was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// 1-based line number.
    pub line: usize,
    /// What was wrong.
    pub reason: String,
}

/// What a journal file holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Contents {
    /// Records whose checksum holds, in file order.
    pub records: Vec<Record>,
    /// Lines that were ignored (torn tail, bad checksum, not a record).
    pub damaged: Vec<Damage>,
}

fn decode_line(line: &[u8]) -> Result<Record, String> {
    let text = std::str::from_utf8(line).map_err(|_| "not UTF-8".to_owned())?;
    let rest = text
        .strip_prefix(PREFIX)
        .ok_or_else(|| "not a journal line".to_owned())?;
    let (sum, rest) = rest
        .split_at_checked(64)
        .ok_or_else(|| "checksum cut short".to_owned())?;
    let body = rest
        .strip_prefix(MIDDLE)
        .and_then(|r| r.strip_suffix('}'))
        .ok_or_else(|| "record cut short".to_owned())?;
    if hex::encode(Sha256::digest(body.as_bytes())) != sum {
        return Err("checksum does not match".into());
    }
    serde_json::from_str(body).map_err(|e| format!("record does not parse: {e}"))
}

/// Reads journal bytes. Only newline-terminated lines with a matching checksum count; the
/// rest is listed in `damaged`, so a torn tail is never taken for an outcome.
pub fn parse(bytes: &[u8]) -> Contents {
    let mut contents = Contents::default();
    let mut start = 0;
    let mut number = 0;
    while start < bytes.len() {
        number += 1;
        let Some(len) = bytes[start..].iter().position(|&b| b == b'\n') else {
            contents.damaged.push(Damage {
                line: number,
                reason: format!(
                    "torn tail: {} bytes without a final newline",
                    bytes.len() - start
                ),
            });
            break;
        };
        let line = &bytes[start..start + len];
        start += len + 1;
        if line.is_empty() {
            continue;
        }
        match decode_line(line) {
            Ok(record) => contents.records.push(record),
            Err(reason) => contents.damaged.push(Damage {
                line: number,
                reason,
            }),
        }
    }
    contents
}

/// Reads the journal at `path`; a missing file is an empty journal.
pub fn read(path: &Path) -> Result<Contents, RemovalError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(parse(&bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Contents::default()),
        Err(source) => Err(RemovalError::JournalRead {
            path: path.display().to_string(),
            source,
        }),
    }
}

/// One removal and what happened to it since, folded from its records.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Entry id.
    pub id: String,
    /// When it was opened.
    pub at: String,
    /// The `pending` record's promise.
    pub intent: Intent,
    /// The removal's state: pending, done, done-unexpected, aborted or not-removed.
    pub removal: State,
    /// The removal outcome's detail.
    pub detail: Detail,
    /// The latest restore state, if a restore was tried.
    pub restore: Option<(State, Detail)>,
}

impl Entry {
    /// The state to show: the restore's when there is one, else the removal's.
    pub fn state(&self) -> State {
        match &self.restore {
            Some((state, _)) => *state,
            None => self.removal,
        }
    }

    /// True when the grant is known to be gone and not yet restored.
    pub fn is_restorable(&self) -> bool {
        matches!(self.removal, State::Done | State::DoneUnexpected)
            && !matches!(
                self.restore,
                Some((State::Restored | State::RestorePending, _))
            )
    }
}

/// Folds records into entries in the order they were opened. Records of an entry whose
/// `pending` record is missing (damaged) are dropped: without the intent they mean nothing.
pub fn entries(records: &[Record]) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    for record in records {
        if record.state == State::Pending {
            if let Some(intent) = &record.intent {
                out.push(Entry {
                    id: record.id.clone(),
                    at: record.at.clone(),
                    intent: intent.clone(),
                    removal: State::Pending,
                    detail: Detail::default(),
                    restore: None,
                });
            }
            continue;
        }
        let Some(entry) = out.iter_mut().find(|e| e.id == record.id) else {
            continue;
        };
        match record.state {
            State::RestorePending | State::Restored | State::RestoreFailed => {
                entry.restore = Some((record.state, record.detail.clone()));
            }
            state => {
                entry.removal = state;
                entry.detail = record.detail.clone();
            }
        }
    }
    out
}

/// The lock file's path for a journal: `FILE.lock` next to it.
pub fn lock_path(journal: &Path) -> PathBuf {
    let mut name = journal.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    journal.with_file_name(name)
}

/// Who holds a journal's lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// Process id.
    pub pid: u32,
    /// Host name.
    pub host: String,
    /// Since when.
    pub since: String,
}

/// This machine's host name, for lock holders and journal records.
pub fn host_name() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

/// An exclusive advisory lock on a journal, released when dropped or when the process dies.
#[derive(Debug)]
pub struct Lock {
    file: File,
}

impl Lock {
    /// Takes the lock next to `journal` without waiting; a held lock is an error naming its
    /// holder.
    pub fn acquire(journal: &Path) -> Result<Lock, RemovalError> {
        let path = lock_path(journal);
        let io_error = |source| RemovalError::JournalWrite {
            path: path.display().to_string(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(io_error)?;
        match fs4::FileExt::try_lock(&file) {
            Ok(()) => {}
            Err(fs4::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                let holder: Option<Holder> = serde_json::from_str(text.trim()).ok();
                return Err(RemovalError::Locked {
                    path: journal.display().to_string(),
                    holder: holder.map_or_else(
                        || "another grantguard process".to_owned(),
                        |h| format!("pid {} ({}, since {})", h.pid, h.host, h.since),
                    ),
                });
            }
            Err(fs4::TryLockError::Error(source)) => return Err(io_error(source)),
        }
        let holder = Holder {
            pid: std::process::id(),
            host: host_name(),
            since: now(),
        };
        let text = serde_json::to_string(&holder).expect("a holder serializes");
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(text.as_bytes()))
            .and_then(|()| file.sync_data())
            .map_err(io_error)?;
        Ok(Lock { file })
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Leave the file: unlinking a lock file races with a process that just opened it.
        let _ = self.file.set_len(0);
        let _ = fs4::FileExt::unlock(&self.file);
    }
}

/// The journal opened for appending, locked for this process.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
    _lock: Lock,
}

impl Journal {
    /// Creates the directory (0700) and file (0600) if needed, takes the lock and opens the
    /// file for appending. Fails before anything is removed when any of that is impossible.
    pub fn open(path: &Path) -> Result<Journal, RemovalError> {
        let io_error = |source| RemovalError::JournalWrite {
            path: path.display().to_string(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(io_error)?;
        }
        let lock = Lock::acquire(path)?;
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(0o600)
            .open(path)
            .map_err(io_error)?;
        let metadata = file.metadata().map_err(io_error)?;
        if metadata.is_file() && metadata.permissions().mode() & 0o077 != 0 {
            // Journals name grants and reasons; keep them as private as the credentials.
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(io_error)?;
        }
        // A torn tail from a crash must not glue itself to the next record.
        if metadata.is_file() && metadata.len() > 0 {
            let mut last = [0u8; 1];
            file.seek(SeekFrom::End(-1))
                .and_then(|_| file.read_exact(&mut last))
                .map_err(io_error)?;
            if last[0] != b'\n' {
                file.write_all(b"\n").map_err(io_error)?;
            }
        }
        let journal = Journal {
            path: path.to_path_buf(),
            file,
            _lock: lock,
        };
        journal.sync_dir().map_err(io_error)?;
        Ok(journal)
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record and waits until it is on disk (file and directory).
    pub fn append(&mut self, record: &Record) -> Result<(), RemovalError> {
        use crate::failpoints::{io_point, names};
        let line = encode(record);
        io_point(names::JOURNAL_WRITE, ENOSPC)
            .and_then(|()| self.file.write_all(line.as_bytes()))
            .and_then(|()| io_point(names::JOURNAL_FSYNC, EIO))
            .and_then(|()| self.file.sync_data())
            .and_then(|()| self.sync_dir())
            .map_err(|source| RemovalError::JournalWrite {
                path: self.path.display().to_string(),
                source,
            })
    }

    /// Everything written so far (including by earlier runs).
    pub fn contents(&self) -> Result<Contents, RemovalError> {
        read(&self.path)
    }

    fn sync_dir(&self) -> std::io::Result<()> {
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        // Directories of special files (/dev) may refuse fsync; the file's own fsync stands.
        match File::open(dir).and_then(|d| d.sync_all()) {
            Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => Ok(()),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn intent() -> Intent {
        Intent {
            action: Action::RemoveVpcAccess,
            grant: GrantRecord {
                name: "legacy-443".into(),
                vpc_id: "vpc-1".into(),
                instance_id: "i-1".into(),
                port: 443,
                description: "old \"one\"\n".into(),
                vpc_target_host_name: String::new(),
                vpc_access_id: "apv-1".into(),
                region: "cn-hangzhou".into(),
            },
            digest: "ab".repeat(32),
            verdict: "safe".into(),
            forced: None,
            accepted_warnings: Vec::new(),
            predicted: Vec::new(),
            target: None,
            live_users: Vec::new(),
            pid: 7,
            host: "h".into(),
        }
    }

    fn pending(id: &str) -> Record {
        Record {
            id: id.into(),
            at: now(),
            state: State::Pending,
            intent: Some(intent()),
            detail: Detail::default(),
        }
    }

    /// Two removals, both done; returns the bytes and where the last record starts.
    fn two_entries() -> (Vec<u8>, usize) {
        let mut bytes = encode(&pending("a")).into_bytes();
        bytes.extend(encode(&Record::outcome("a", State::Done, Detail::default())).bytes());
        bytes.extend(encode(&pending("b")).bytes());
        let tail_start = bytes.len();
        bytes.extend(encode(&Record::outcome("b", State::Done, Detail::default())).bytes());
        (bytes, tail_start)
    }

    #[test]
    fn records_round_trip_and_fold_into_entries() {
        let contents = parse(&two_entries().0);
        assert!(contents.damaged.is_empty());
        let entries = entries(&contents.records);
        assert_eq!(entries.len(), 2);
        assert!(entries.iter().all(|e| e.removal == State::Done));
        assert_eq!(entries[0].intent, intent());
    }

    #[test]
    fn a_repoint_reads_its_states_in_its_own_words_and_keeps_its_targets() {
        let repoint = Action::ModifyVpcAccessAndUpdateApis;
        assert_eq!(State::Done.label(repoint), "moved");
        assert_eq!(State::DoneUnexpected.label(repoint), "moved-unverified");
        assert_eq!(State::NotRemoved.label(repoint), "not-moved");
        assert_eq!(State::Done.label(Action::RemoveVpcAccess), "done");
        let mut moved = intent();
        moved.action = repoint;
        moved.target = Some(Target {
            vpc_id: "vpc-2".into(),
            instance_id: "lb-2".into(),
            port: 8443,
            vpc_target_host_name: "h".into(),
        });
        let record = Record {
            intent: Some(moved.clone()),
            ..pending("r")
        };
        let back = entries(&parse(encode(&record).as_bytes()).records);
        assert_eq!(back[0].intent, moved);
        assert_eq!(
            back[0].intent.target.as_ref().unwrap().to_string(),
            "vpc-2/lb-2:8443 (host h)"
        );
        // A removal's record has no target field at all (older journals read the same).
        assert!(!encode(&pending("p")).contains("\"target\""));
    }

    #[test]
    fn a_flipped_byte_is_damage_not_a_record() {
        let mut bytes = encode(&Record::outcome("a", State::Done, Detail::default())).into_bytes();
        let at = bytes.len() - 10;
        bytes[at] ^= 1;
        let contents = parse(&bytes);
        assert!(contents.records.is_empty());
        assert_eq!(contents.damaged.len(), 1);
    }

    #[test]
    fn the_torn_tail_never_reads_as_done_at_any_offset() {
        let (bytes, tail_start) = two_entries();
        let full = bytes.len();
        for cut in 0..full {
            let contents = parse(&bytes[..cut]);
            let entries = entries(&contents.records);
            if cut >= tail_start {
                // The first entry survives intact; the second one is pending at most.
                assert_eq!(entries[0].removal, State::Done, "cut {cut}");
                let b = entries.iter().find(|e| e.id == "b").expect("b's pending");
                assert_eq!(b.removal, State::Pending, "cut {cut}");
                assert_eq!(contents.damaged.len(), usize::from(cut > tail_start));
            }
            assert!(
                entries
                    .iter()
                    .filter(|e| e.id == "b")
                    .all(|e| e.removal != State::Done),
                "cut {cut}"
            );
        }
        assert_eq!(entries(&parse(&bytes).records)[1].removal, State::Done);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let contents = parse(&bytes);
            prop_assert!(contents.records.len() + contents.damaged.len() <= bytes.len() + 1);
        }
    }

    #[test]
    fn the_file_is_private_and_a_second_writer_is_told_who_holds_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/grantguard/journal.jsonl");
        let mut journal = Journal::open(&path).unwrap();
        journal.append(&pending("a")).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // flock is per open file description, so a second open in this process conflicts too.
        let err = Journal::open(&path).unwrap_err();
        let RemovalError::Locked { holder, .. } = err else {
            panic!("expected Locked, got {err:?}")
        };
        assert!(
            holder.contains(&format!("pid {}", std::process::id())),
            "{holder}"
        );
        drop(journal);
        let journal = Journal::open(&path).unwrap();
        assert_eq!(journal.contents().unwrap().records.len(), 1);
    }

    #[test]
    fn a_torn_tail_is_closed_before_the_next_append() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let line = encode(&pending("a"));
        std::fs::write(&path, &line[..line.len() / 2]).unwrap();
        let mut journal = Journal::open(&path).unwrap();
        journal.append(&pending("b")).unwrap();
        let contents = journal.contents().unwrap();
        assert_eq!(contents.records.len(), 1);
        assert_eq!(contents.records[0].id, "b");
        assert_eq!(contents.damaged.len(), 1);
    }
}

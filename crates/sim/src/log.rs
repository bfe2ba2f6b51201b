//! The emulator's call log: one [`CallRecord`] per request, kept in memory and optionally
//! appended as JSON lines to a file. Tests read it to count calls and to prove what was not
//! called. It records the `Signature` value on purpose: leak tests grep every output of the
//! tool for the values seen here (docs/fault-model.md I5). It never records a secret or a token.

use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

/// Which signature scheme a request used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignatureVersion {
    /// HMAC-SHA1, `SignatureVersion=1.0`.
    V1,
    /// `ACS3-HMAC-SHA256` in the Authorization header.
    V3,
}

/// One request as the emulator saw and answered it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    /// Arrival time (RFC 3339 with microseconds, real clock).
    pub time: String,
    /// `Action`, empty when the request named none.
    pub action: String,
    /// HTTP method.
    pub method: String,
    /// GroupId of the request, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    /// ApiId, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_id: Option<String>,
    /// StageName, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage_name: Option<String>,
    /// BackendId, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_id: Option<String>,
    /// VpcName (DescribeApisByVpcAccess) or Name (grant actions), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_name: Option<String>,
    /// PageNumber, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_number: Option<String>,
    /// Signature scheme, when the request was signed at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_version: Option<SignatureVersion>,
    /// AccessKeyId used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    /// SignatureNonce (v1) or x-acs-signature-nonce (v3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// The Signature value the client sent (a leak-test canary, not a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// HTTP status answered.
    pub status: u16,
    /// Error code answered, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Body bytes answered (for a truncated answer, the bytes actually sent).
    pub response_bytes: u64,
    /// The injected faults the emulator applied to this answer, `+`-joined when several
    /// (`throttle`, `unavailable`, `fail`, `hang`, `drop_before_apply`, `apply_then_drop`,
    /// `corrupt`, `slowloris`, `oversize`, `reset`, `sts_expire_after`); none for an honest
    /// answer, errors included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
}

impl CallRecord {
    /// Whether the request carried this id as GroupId, ApiId, BackendId or VpcName.
    pub fn mentions(&self, id: &str) -> bool {
        [
            &self.group_id,
            &self.api_id,
            &self.backend_id,
            &self.vpc_name,
        ]
        .iter()
        .any(|v| v.as_deref() == Some(id))
    }

    /// Whether the call succeeded (2xx).
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// The log itself: memory plus an optional JSON-lines file.
#[derive(Debug, Default)]
pub struct CallLog {
    records: Mutex<Vec<CallRecord>>,
    file: Option<Mutex<File>>,
}

impl CallLog {
    /// A log that also appends to `path` (created or appended to).
    pub fn with_file(path: Option<&Path>) -> std::io::Result<Self> {
        let file = match path {
            Some(p) => Some(Mutex::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)?,
            )),
            None => None,
        };
        Ok(CallLog {
            records: Mutex::new(Vec::new()),
            file,
        })
    }

    /// Appends one record; a failing file write is reported on stderr once per record and
    /// does not fail the request (the in-memory log stays complete).
    pub fn push(&self, record: CallRecord) {
        if let Some(file) = &self.file {
            let line = serde_json::to_string(&record).unwrap_or_default();
            let mut f = file.lock().unwrap_or_else(|e| e.into_inner());
            if let Err(e) = writeln!(f, "{line}") {
                eprintln!("sim: cannot append to the call log file: {e}");
            }
        }
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(record);
    }

    /// A copy of every record so far.
    pub fn records(&self) -> Vec<CallRecord> {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// How many requests named this action.
    pub fn count(&self, action: &str) -> usize {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|r| r.action == action)
            .count()
    }
}

//! The emulator's STS: `AssumeRole` (docs/cloudapi-notes.md §6.4) and the temporary credentials it and the
//! metadata service hand out. In: a v1-signed request already authenticated by the emulator
//! (the caller's key may itself be temporary, for ChainableRamRoleArn). Out: the STS answer
//! shape with a fresh `STS.` key, secret, token and `Expiration`. Issued credentials are then
//! accepted by the CloudAPI side until they expire, after which calls answer
//! `InvalidSecurityToken.Expired`. It never logs an issued secret or token.

use super::handlers::{ApiError, Params};
use super::{lock, Sim};
use crate::fixture::FixtureCredential;
use std::sync::Mutex;
use time::OffsetDateTime;

/// The STS API version the emulator accepts.
pub const VERSION: &str = "2015-04-01";

/// One credential the emulator handed out.
#[derive(Clone)]
pub(crate) struct Issued {
    pub(crate) credential: FixtureCredential,
    pub(crate) expires_at: OffsetDateTime,
}

/// Temporary-credential state shared by STS and the metadata service.
pub(crate) struct Identity {
    state: Mutex<State>,
}

struct State {
    issued: Vec<Issued>,
    lifetime: Option<time::Duration>,
    ecs_role: Option<String>,
    serial: u64,
}

impl Identity {
    pub(crate) fn new() -> Identity {
        Identity {
            state: Mutex::new(State {
                issued: Vec::new(),
                lifetime: None,
                ecs_role: None,
                serial: 0,
            }),
        }
    }

    /// A new temporary credential valid for `requested` (or the configured lifetime).
    pub(crate) fn issue(&self, now: OffsetDateTime, requested: time::Duration) -> Issued {
        let mut state = lock(&self.state);
        state.serial += 1;
        let n = state.serial;
        let random: u64 = rand::random();
        let issued = Issued {
            credential: FixtureCredential {
                access_key_id: format!("STS.NSim{n:04}{:08x}", random as u32),
                access_key_secret: format!("simsecret{random:016x}{n}"),
                security_token: Some(format!("CAIS.simtoken.{n}.{:016x}", rand::random::<u64>())),
            },
            expires_at: now + state.lifetime.unwrap_or(requested),
        };
        state.issued.push(issued.clone());
        issued
    }

    /// The issued credential for `access_key_id`, if any.
    pub(crate) fn lookup(&self, access_key_id: &str) -> Option<Issued> {
        lock(&self.state)
            .issued
            .iter()
            .find(|i| i.credential.access_key_id == access_key_id)
            .cloned()
    }

    /// The role the metadata service serves.
    pub(crate) fn ecs_role(&self) -> Option<String> {
        lock(&self.state).ecs_role.clone()
    }
}

/// `Expiration` format: `YYYY-MM-DDTHH:MM:SSZ`, UTC, whole seconds. Written here rather than
/// borrowed from the client, so the emulator shares no code with what it tests.
pub(crate) fn expiration(at: OffsetDateTime) -> String {
    const FORMAT: &[time::format_description::FormatItem<'static>] =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    at.to_offset(time::UtcOffset::UTC)
        .format(FORMAT)
        .expect("a UTC time formats")
}

/// Serves an authenticated `AssumeRole`.
pub(crate) fn assume_role(
    identity: &Identity,
    params: &Params,
    rid: &str,
    now: OffsetDateTime,
) -> Result<serde_json::Value, ApiError> {
    if params.get("Version") != Some(VERSION) {
        return Err(ApiError::with_status(
            400,
            "InvalidVersion",
            format!("STS expects Version {VERSION}"),
        ));
    }
    let arn = params
        .get("RoleArn")
        .ok_or_else(|| ApiError::missing("RoleArn"))?;
    let Some((account, role)) = arn
        .strip_prefix("acs:ram::")
        .and_then(|rest| rest.split_once(":role/"))
    else {
        return Err(ApiError::invalid(
            "RoleArn",
            "expected acs:ram::ACCOUNT:role/NAME",
        ));
    };
    let session = params
        .get("RoleSessionName")
        .ok_or_else(|| ApiError::missing("RoleSessionName"))?;
    let seconds: i64 = params
        .get("DurationSeconds")
        .unwrap_or("3600")
        .parse()
        .map_err(|_| ApiError::invalid("DurationSeconds", "not a number"))?;
    if !(900..=43200).contains(&seconds) {
        return Err(ApiError::invalid("DurationSeconds", "must be 900 to 43200"));
    }
    let issued = identity.issue(now, time::Duration::seconds(seconds));
    let c = &issued.credential;
    Ok(serde_json::json!({
        "RequestId": rid,
        "AssumedRoleUser": {
            "Arn": format!("acs:ram::{account}:role/{role}/{session}"),
            "AssumedRoleId": format!("3{:016}:{session}", issued.expires_at.unix_timestamp()),
        },
        "Credentials": {
            "AccessKeyId": c.access_key_id,
            "AccessKeySecret": c.access_key_secret,
            "SecurityToken": c.security_token,
            "Expiration": expiration(issued.expires_at),
        }
    }))
}

impl Sim {
    /// Makes every credential STS or the metadata service issues from now on live `lifetime`
    /// (whatever `DurationSeconds` asked), to test expiry without waiting.
    pub fn set_issued_lifetime(&self, lifetime: std::time::Duration) {
        lock(&self.shared.identity.state).lifetime = time::Duration::try_from(lifetime).ok();
    }

    /// Attaches the RAM role `name` to the emulated ECS instance (`None` detaches it).
    pub fn set_ecs_role(&self, name: Option<&str>) {
        lock(&self.shared.identity.state).ecs_role = name.map(str::to_owned);
    }

    /// Expires every credential issued so far (later calls with them answer
    /// `InvalidSecurityToken.Expired`).
    pub fn expire_issued(&self) {
        let past = OffsetDateTime::now_utc() - time::Duration::seconds(1);
        for issued in &mut lock(&self.shared.identity.state).issued {
            issued.expires_at = past;
        }
    }

    /// How many temporary credentials have been issued.
    pub fn issued_count(&self) -> usize {
        lock(&self.shared.identity.state).issued.len()
    }
}

//! The emulator's STS: `AssumeRole` (docs/cloudapi-notes.md §6.4), the anonymous
//! `AssumeRoleWithOIDC` (docs/credentials.md) and the temporary credentials they and the
//! metadata service hand out. In: for AssumeRole, a v1-signed request already authenticated
//! by the emulator (the caller's key may itself be temporary, for ChainableRamRoleArn); for
//! AssumeRoleWithOIDC, the request as it came (GET query or POST form), judged by its token. Out: the STS answer
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
    oidc_subjects: Vec<String>,
}

impl Identity {
    pub(crate) fn new() -> Identity {
        Identity {
            state: Mutex::new(State {
                issued: Vec::new(),
                lifetime: None,
                ecs_role: None,
                serial: 0,
                oidc_subjects: Vec::new(),
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

/// The parts every STS role request shares: the version, the role ARN, the duration.
struct RoleRequest<'a> {
    account: &'a str,
    role: &'a str,
    seconds: i64,
}

impl<'a> RoleRequest<'a> {
    fn read(params: &'a Params) -> Result<RoleRequest<'a>, ApiError> {
        if params.get("Version") != Some(VERSION) {
            return Err(ApiError::with_status(
                400,
                "InvalidVersion",
                format!("STS expects Version {VERSION}"),
            ));
        }
        let arn_value = params
            .get("RoleArn")
            .ok_or_else(|| ApiError::missing("RoleArn"))?;
        let (account, role) = arn(arn_value, "role")
            .ok_or_else(|| ApiError::invalid("RoleArn", "expected acs:ram::ACCOUNT:role/NAME"))?;
        let seconds: i64 = params
            .get("DurationSeconds")
            .unwrap_or("3600")
            .parse()
            .map_err(|_| ApiError::invalid("DurationSeconds", "not a number"))?;
        if !(900..=43200).contains(&seconds) {
            return Err(ApiError::invalid("DurationSeconds", "must be 900 to 43200"));
        }
        Ok(RoleRequest {
            account,
            role,
            seconds,
        })
    }

    /// Issues the credentials: the answer's `RequestId`, `AssumedRoleUser` and `Credentials`.
    fn answer(
        &self,
        identity: &Identity,
        session: &str,
        rid: &str,
        now: OffsetDateTime,
    ) -> serde_json::Value {
        let issued = identity.issue(now, time::Duration::seconds(self.seconds));
        let c = &issued.credential;
        let (account, role) = (self.account, self.role);
        serde_json::json!({
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
        })
    }
}

/// Serves an authenticated `AssumeRole`.
pub(crate) fn assume_role(
    identity: &Identity,
    params: &Params,
    rid: &str,
    now: OffsetDateTime,
) -> Result<serde_json::Value, ApiError> {
    let request = RoleRequest::read(params)?;
    let session = params
        .get("RoleSessionName")
        .ok_or_else(|| ApiError::missing("RoleSessionName"))?;
    Ok(request.answer(identity, session, rid, now))
}

/// The JWT claims the emulator checks. Signatures are not verified: the emulator knows no
/// identity provider's keys, and every well-formed provider ARN counts as registered.
#[derive(serde::Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    #[serde(default)]
    aud: serde_json::Value,
    exp: i64,
    #[serde(default)]
    iat: Option<i64>,
}

/// STS answers a bad OIDC token with 401 and one of these codes.
fn token_error(code: &str, message: &str) -> ApiError {
    ApiError::with_status(401, code, message)
}

/// The claims of `token`, a JWT (`header.payload.signature`, base64url without padding).
fn claims(token: &str) -> Result<Claims, ApiError> {
    use base64::Engine as _;
    const INVALID: &str = "AuthenticationFail.OIDCToken.Invalid";
    if token.is_empty() {
        return Err(token_error(INVALID, "The OIDCToken can not empty."));
    }
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(token_error(
            INVALID,
            "The number of Jwt field should be divided into 3 parts with '.' .",
        ));
    }
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(parts[1].trim_end_matches('='))
        .map_err(|_| {
            token_error(
                INVALID,
                "Cannot decode base64 encoded response(format invalided).",
            )
        })?;
    serde_json::from_slice(&payload).map_err(|_| {
        token_error(
            INVALID,
            "The Jwt content is invalid that cannot be recognized.",
        )
    })
}

/// `acs:ram::ACCOUNT:KIND/NAME` → (ACCOUNT, NAME).
fn arn<'a>(value: &'a str, kind: &str) -> Option<(&'a str, &'a str)> {
    value
        .strip_prefix("acs:ram::")?
        .split_once(&format!(":{kind}/"))
        .filter(|(account, name)| !account.is_empty() && !name.is_empty())
}

/// Serves `AssumeRoleWithOIDC`, which STS takes unsigned: the OIDC token is the proof.
pub(crate) fn assume_role_with_oidc(
    identity: &Identity,
    params: &Params,
    rid: &str,
    now: OffsetDateTime,
) -> Result<serde_json::Value, ApiError> {
    let request = RoleRequest::read(params)?;
    let provider_arn = params
        .get("OIDCProviderArn")
        .ok_or_else(|| ApiError::missing("OIDCProviderArn"))?;
    let token = params
        .get("OIDCToken")
        .ok_or_else(|| ApiError::missing("OIDCToken"))?;
    let Some((provider_account, _)) = arn(provider_arn, "oidc-provider") else {
        return Err(token_error(
            "AuthenticationFail.NoPermission",
            "No such OIDC Provider registered.",
        ));
    };
    if provider_account != request.account {
        return Err(token_error(
            "AuthenticationFail.NoPermission",
            "There is no permission",
        ));
    }
    if !(4..=20_000).contains(&token.len()) {
        return Err(ApiError::invalid(
            "OIDCToken",
            "must be 4 to 20000 characters",
        ));
    }
    let claims = claims(token)?;
    if claims.exp <= now.unix_timestamp() {
        return Err(token_error(
            "AuthenticationFail.OIDCToken.Expired",
            "This JsonWebToken is expired.",
        ));
    }
    let session = params.get("RoleSessionName").unwrap_or("oidc-session");
    lock(&identity.state).oidc_subjects.push(claims.sub.clone());
    let client_ids = match &claims.aud {
        serde_json::Value::String(one) => one.clone(),
        serde_json::Value::Array(many) => many
            .iter()
            .filter_map(serde_json::Value::as_str)
            .collect::<Vec<_>>()
            .join(","),
        _ => String::new(),
    };
    let at = |seconds: i64| {
        OffsetDateTime::from_unix_timestamp(seconds)
            .map(expiration)
            .unwrap_or_default()
    };
    let mut answer = request.answer(identity, session, rid, now);
    answer["OIDCTokenInfo"] = serde_json::json!({
        "Subject": claims.sub,
        "Issuer": claims.iss,
        "ClientIds": client_ids,
        "ExpirationTime": at(claims.exp),
        "IssuanceTime": claims.iat.map(at).unwrap_or_default(),
        "VerificationInfo": "Success",
    });
    Ok(answer)
}

impl Sim {
    /// The `sub` claim of every OIDC token AssumeRoleWithOIDC accepted, in order (tests use
    /// it to see which token file content was sent).
    pub fn oidc_subjects(&self) -> Vec<String> {
        lock(&self.shared.identity.state).oidc_subjects.clone()
    }

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

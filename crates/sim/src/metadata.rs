//! The emulator's ECS instance metadata service (docs/cloudapi-notes.md §6.5): `PUT /latest/api/token`
//! (IMDSv2), `GET /latest/meta-data/ram/security-credentials/` (the role name) and
//! `GET …/security-credentials/ROLE` (temporary credentials, `Code: Success`). In: the path,
//! method and token header. Out: status and body. Served by the same HTTP server as the
//! CloudAPI side, on paths the API never uses. No role attached answers 404, like an instance
//! without a RAM role.

use super::sts::{expiration, Identity};
use time::OffsetDateTime;

/// Lifetime of metadata credentials (the real service rotates them about hourly).
const LIFETIME: time::Duration = time::Duration::hours(6);

/// Whether `path` belongs to the metadata service.
pub(crate) fn is_metadata_path(path: &str) -> bool {
    path.starts_with("/latest/")
}

/// Answers one metadata request: (status, content type, body).
pub(crate) fn serve(
    identity: &Identity,
    method: &str,
    path: &str,
    now: OffsetDateTime,
) -> (u16, &'static str, Vec<u8>) {
    const TEXT: &str = "text/plain";
    let not_found = (404, TEXT, b"Not Found".to_vec());
    match (method, path) {
        ("PUT", "/latest/api/token") => (
            200,
            TEXT,
            format!("simimds{:016x}", rand::random::<u64>()).into_bytes(),
        ),
        ("GET", "/latest/meta-data/ram/security-credentials/") => match identity.ecs_role() {
            Some(role) => (200, TEXT, role.into_bytes()),
            None => not_found,
        },
        ("GET", p) => match (
            p.strip_prefix("/latest/meta-data/ram/security-credentials/"),
            identity.ecs_role(),
        ) {
            (Some(asked), Some(role)) if asked == role => {
                let issued = identity.issue(now, LIFETIME);
                let c = &issued.credential;
                let body = serde_json::json!({
                    "Code": "Success",
                    "AccessKeyId": c.access_key_id,
                    "AccessKeySecret": c.access_key_secret,
                    "SecurityToken": c.security_token,
                    "Expiration": expiration(issued.expires_at),
                    "LastUpdated": expiration(now),
                });
                (200, "application/json", body.to_string().into_bytes())
            }
            _ => not_found,
        },
        _ => not_found,
    }
}

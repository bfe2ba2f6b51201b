//! Credentials and the pure RPC signer. In: an access key (optionally with an STS token), the
//! parameters of one request, a time and a nonce. Out: the signed parameter list. A leaf: no
//! I/O, no clock, no client, and no other grantguard module (a test reads this folder's
//! `use crate::` lines). The secret never leaves this module except into the HMAC key:
//! `Debug` is redacted and [`Credentials`] is not `Serialize`.
//!
//! Layout: [`Credentials`] here, [`sign`] (v1 HMAC-SHA1 signature, canonical query,
//! percent-encoding, timestamps).

pub mod sign;

/// An access key, optionally with an STS token.
#[derive(Clone)]
pub struct Credentials {
    /// The AccessKeyId (printed masked to its last 4 characters).
    pub access_key_id: String,
    secret: String,
    token: Option<String>,
}

// The secret must never be serialized into a report, snapshot or journal.
static_assertions::assert_not_impl_any!(Credentials: serde::Serialize);

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.masked_key_id())
            .field("access_key_secret", &"***")
            .field("security_token", &self.token.as_ref().map(|_| "***"))
            .finish()
    }
}

impl Credentials {
    /// Credentials from parts (tests, the emulator's fixture, profiles).
    pub fn new(access_key_id: String, secret: String, token: Option<String>) -> Self {
        Self {
            access_key_id,
            secret,
            token,
        }
    }

    /// The AccessKeyId reduced to its last 4 characters, e.g. `****3xyz`.
    pub fn masked_key_id(&self) -> String {
        let chars: Vec<char> = self.access_key_id.chars().collect();
        let tail: String = chars[chars.len().saturating_sub(4)..].iter().collect();
        format!("****{tail}")
    }

    /// Whether an STS token comes with the key.
    pub fn has_security_token(&self) -> bool {
        self.token.is_some()
    }

    /// The secret, for the signing function only (`auth::sign`).
    pub(crate) fn secret(&self) -> &str {
        &self.secret
    }

    /// The STS token, sent as the signed `SecurityToken` parameter.
    pub(crate) fn security_token(&self) -> Option<&str> {
        self.token.as_deref()
    }
}

//! Environment or aliyun CLI profile → `Credentials`. Secrets never come from the command
//! line and never reach output: `Debug` is redacted and the type is not `Serialize`.
//!
//! INTERFACE SKELETON: filled in by the client work.

/// An access key, optionally with an STS token.
#[derive(Clone)]
pub struct Credentials {
    /// The AccessKeyId (printed masked to its last 4 characters).
    pub access_key_id: String,
    secret: String,
    token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
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
}

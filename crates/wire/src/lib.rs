//! The CloudAPI 2016-07-14 wire model: request parameters and response bodies, with the
//! vendor's names. This is the only code the emulator shares with the client, so it holds
//! no behaviour beyond (de)serialization.

pub mod actions;
pub mod de;
pub mod models;

/// The API version every request carries.
pub const VERSION: &str = "2016-07-14";

/// Stage names, spelled as the service spells them.
pub const STAGES: [&str; 3] = ["RELEASE", "PRE", "TEST"];

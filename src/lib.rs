//! grantguard: audit who still depends on an API Gateway VPC grant before removing it.
//!
//! [`run`] hands one parsed command to its module in `commands`, which sends it through the
//! stages: credentials → client → walk → inventory → graph → rules → verdict → report. Each stage lives
//! in its own module; `session` holds the plumbing the commands share and `output` where their
//! text goes.

// Errors carry the text they point into (miette source code) so diagnostics can show it; they
// are built once per failed run, never on a hot path, so their size does not matter.
#![allow(clippy::result_large_err)]

pub mod account;
pub mod auth;
pub mod cli;
pub mod client;
mod commands;
pub mod config;
pub mod credentials;
pub mod demo;
pub mod error;
pub mod excerpt;
pub mod failpoints;
pub mod graph;
pub mod interrupt;
pub mod inventory;
pub mod json_text;
pub mod output;
pub mod policy;
pub mod regions;
pub mod removal;
pub mod report;
pub mod result_file;
pub mod rules;
pub mod selection;
pub mod session;
pub mod settings;
pub mod shell;
pub mod terraform;
pub mod verdict;

pub use commands::run;
pub use demo::DEMO_FIXTURE;
pub use error::Error;

/// How a command ended, when it could do its job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every audited grant is safe, or the command had nothing to judge.
    Clear,
    /// At least one grant is blocked or unknown, or something was incomplete.
    Held,
}

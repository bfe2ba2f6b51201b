//! One module per subcommand: each turns parsed arguments into calls of the stage modules
//! and returns an [`Outcome`](crate::Outcome). The shared plumbing (runtime, logging,
//! progress, connecting, output) stays in `lib.rs`.

pub(crate) mod audit;
pub(crate) mod removal;
pub(crate) mod rules;
pub(crate) mod scan;
pub(crate) mod sim;
pub(crate) mod sim_snapshot;
pub(crate) mod whoami;

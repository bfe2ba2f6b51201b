//! Client → Inventory: the walk of one region and the snapshot file.

pub mod cache;
pub mod model;
pub mod snapshot;
pub mod walk;

pub use model::*;

#[cfg(test)]
pub(crate) mod testing;

//! grantguard: audit who still depends on an API Gateway VPC grant before removing it.

pub mod cli;
pub mod client;
pub mod config;
pub mod credentials;
pub mod graph;
pub mod inventory;
pub mod report;
pub mod rules;
pub mod selection;
pub mod sim;
pub mod wire;

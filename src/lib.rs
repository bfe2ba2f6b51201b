//! grantguard: audit who still depends on an API Gateway VPC grant before removing it.

pub mod client;
pub mod credentials;
pub mod inventory;
pub mod sim;
pub mod wire;

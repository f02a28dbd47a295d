//! The library every function of the health-code backend uses: the pure
//! domain, the DynamoDB adapter, HTTP plumbing, sessions and configuration.

pub mod access;
pub mod auth;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod health_code;
pub mod http;
pub mod risk_import;
pub mod store;

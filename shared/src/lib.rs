//! The library every function of the health-code backend uses. Its floors,
//! top to bottom (docs/architecture.md): `function` (the edge of every HTTP
//! function) and `service` (the use cases); `store` and `auth`; `domain`
//! (pure logic); `crypto`; `http`, `config` and `clock`.

pub mod auth;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod function;
pub mod http;
pub mod metrics;
pub mod service;
pub mod store;

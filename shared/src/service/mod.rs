//! The use cases that the functions and `hcctl` share: who may act for
//! whom, the health code as shown, the risk-person import, the trace, finding
//! a person by ID number and a venue by county and name, paper codes. Each
//! is written once here; the function crates keep routing, request parsing
//! and response shaping.

pub mod access;
pub mod appeals;
pub mod assisted;
pub mod attempts;
pub mod exposure_worker;
pub mod exposures;
pub mod find;
pub mod guardians;
pub mod health_code;
pub mod identity;
pub mod limits;
pub mod notices;
pub mod paper;
pub mod partners;
pub mod risk_import;
pub mod trace;

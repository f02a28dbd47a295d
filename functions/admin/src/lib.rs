//! The `admin` function: the health authority's routes under `/v1/admin/`:
//! risk areas and risk persons, verification outcomes, traces with full
//! identities (every one audited), finding a person by ID number and a
//! county's venues by name, revoking a venue code, and the rankings of
//! localities.

mod app;
mod appeals;
mod exposures;
mod find;
pub mod handler;
mod traces;

pub use app::App;
pub use shared::function::handle;

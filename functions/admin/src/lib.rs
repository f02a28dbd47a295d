//! The `admin` function: the health authority's routes under `/v1/admin/`:
//! risk areas and risk persons, verification outcomes, traces with full
//! identities (every one audited), and the rankings of localities.

mod appeals;
pub mod handler;
mod traces;

pub use handler::App;
pub use shared::function::handle;

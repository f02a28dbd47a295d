//! The `scan` function: checkpoint scans of personal codes (扫描码) and
//! check-ins at venues, both logged for tracing (有迹可循); codes of trusted
//! issuers of other provinces are honoured at the same route.

mod answer;
mod app;
mod foreign;
pub mod handler;
mod idcard;

pub use app::App;
pub use shared::function::handle;

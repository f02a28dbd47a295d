//! The `declaration` function: daily health declarations (打卡), at most
//! three per subject per Shanghai day, each re-evaluating the colour.

mod app;
pub mod appeals;
pub mod handler;

pub use app::App;
pub use shared::function::handle;

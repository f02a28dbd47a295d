//! The `declaration` function: daily health declarations (打卡), at most
//! three per subject per Shanghai day, each re-evaluating the colour.

pub mod appeals;
pub mod handler;

pub use handler::App;
pub use shared::function::handle;

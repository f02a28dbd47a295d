//! The `code` function: the personal health code (出示码) and the public
//! keys that verify it; paper codes and their printable cards; partner
//! systems verify our codes live (`POST /v1/verify`).

mod app;
pub mod handler;
mod paper;
mod verify;

pub use app::App;
pub use shared::function::handle;

//! The `code` function: the personal health code (出示码) and the public
//! keys that verify it.

pub mod handler;

pub use handler::App;
pub use shared::function::handle;

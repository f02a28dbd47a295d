//! The `venue` function: venue codes (场所码), their posters, and the
//! entries at one's own venue.

mod app;
mod assisted;
pub mod handler;

pub use app::App;
pub use shared::function::handle;

//! The `venue` function: venue codes (场所码), their posters, and the
//! entries at one's own venue.

mod assisted;
pub mod handler;

pub use handler::App;
pub use shared::function::handle;

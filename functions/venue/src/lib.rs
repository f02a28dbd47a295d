//! The `venue` function: venue codes (场所码), their posters, and the
//! entries at one's own venue.

pub mod handler;
pub mod poster;
mod raster;

pub use handler::{App, handle};

//! The `login` function: WeChat login, real-name authentication and
//! dependents (监护人代领) with their guardians.

mod app;
pub mod dependents;
pub mod handler;
pub mod outbound;
pub mod provider;
pub mod verifier;

pub use app::App;
pub use shared::function::handle;

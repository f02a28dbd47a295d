//! Pure domain logic: no I/O and no clock. Whatever depends on time takes `now` as a parameter.

pub mod day;
pub mod declaration;
pub mod divisions;
pub mod history;
pub mod identity;
pub mod qr;
pub mod ranking;
pub mod role;
pub mod rules;
pub mod status;
pub mod text;
pub mod token;
pub mod trust;

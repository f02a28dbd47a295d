//! Pure logic, no I/O: functions that depend on time take `now`.

pub mod day;
pub mod identity;

//! The function's state, read once at cold start. The routes (`handler.rs`,
//! `appeals.rs`) import it, and nothing here imports them.

use shared::domain::rules::RuleSet;
use shared::function::Base;
use shared::store::settings::RiskAreaCache;
use time::Duration;

pub struct App {
    pub base: Base,
    pub rules: &'static RuleSet,
    pub areas: RiskAreaCache,
    /// How long declarations are kept (TTL).
    pub retention: Duration,
}

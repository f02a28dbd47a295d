//! The function's state, read once at cold start. The routes (`handler.rs`,
//! `paper.rs`, `verify.rs`) import it, and nothing here imports them.

use shared::domain::rules::RuleSet;
use shared::domain::token::CodeKeys;
use shared::function::Base;
use shared::service::limits::RateLimiter;
use shared::service::partners;
use shared::store::settings::RiskAreaCache;
use shared::store::trust::PartnerCache;

pub struct App {
    pub base: Base,
    pub rules: &'static RuleSet,
    pub areas: RiskAreaCache,
    pub keys: CodeKeys,
    /// The JWK Set, serialised once: it changes only with the configuration.
    pub(crate) jwks: String,
    /// The partner systems that may call `POST /v1/verify`.
    pub partners: PartnerCache,
    /// Their calls of the second.
    pub partner_limiter: RateLimiter,
}

impl App {
    /// With the partner list kept for five minutes (`from_env` reads `HC_TRUST_TTL_SECONDS`).
    pub fn new(base: Base, areas: RiskAreaCache, keys: CodeKeys) -> Self {
        let jwks = keys.jwks().to_string();
        Self {
            base,
            rules: RuleSet::embedded(),
            areas,
            keys,
            jwks,
            partners: PartnerCache::new(std::time::Duration::from_secs(300)),
            // A partner within 10 of its limit writes its count on every call.
            partner_limiter: RateLimiter::per_second(partners::PER_SECOND, 10),
        }
    }
}

//! The function's state, read once at cold start, and the checks every kind
//! of scan shares. The routes (`handler.rs`, `foreign.rs`, `idcard.rs`,
//! `answer.rs`) import this, and nothing here imports them.

use shared::auth::Session;
use shared::crypto::IdHasher;
use shared::domain::rules::RuleSet;
use shared::domain::token::{CodeError, CodeKeys, VenueKeys};
use shared::function::Base;
use shared::http::Problem;
use shared::service::limits::{Admission, RateLimiter};
use shared::store::settings::RiskAreaCache;
use shared::store::trust::TrustCache;
use shared::store::venues::VenueCache;
use time::{Duration, OffsetDateTime};

pub struct App {
    pub base: Base,
    /// Finds an inspector's ID number by its keyed hash; opens no identity.
    pub ids: IdHasher,
    pub rules: &'static RuleSet,
    pub areas: RiskAreaCache,
    pub codes: CodeKeys,
    pub venues: VenueKeys,
    pub venue_cache: VenueCache,
    /// How long log entries are kept (TTL).
    pub retention: Duration,
    /// The callers' scans and check-ins of the minute.
    pub limiter: RateLimiter,
    /// The issuers of other provinces whose codes we honour.
    pub trust: TrustCache,
}

pub(crate) fn invalid_code() -> Problem {
    Problem::invalid("invalid-code", "the code is not a valid health code of this system")
}

pub(crate) fn code_problem(err: CodeError) -> Problem {
    match err {
        CodeError::Invalid => invalid_code(),
        CodeError::Expired => Problem::invalid("expired-code", "the code has expired: ask for a fresh one"),
        CodeError::Revoked => Problem::invalid(
            "revoked-code",
            "this paper code was replaced by a newer one: ask for the latest",
        ),
    }
}

/// Counts the call against the caller's scans and check-ins of the minute:
/// past the limit, 429 with `Retry-After`, before anything is read or logged.
/// Requests refused before any read (a malformed body, a forged or expired
/// code) cost the store nothing and are not counted.
pub(crate) async fn admit(app: &App, session: &Session, now: OffsetDateTime) -> Result<(), Problem> {
    match app.limiter.admit(&app.base.store, &session.account_id, now).await? {
        Admission::Admitted => Ok(()),
        Admission::Refused { retry_after } => Err(Problem::too_many("too-many-attempts", "Too many scans")
            .detail(format!(
                "at most {} scans and check-ins a minute per caller",
                shared::service::limits::PER_MINUTE
            ))
            .retry_after(retry_after)),
    }
}

//! The function's state, read once at cold start, and the callers the routes
//! share. The routes (`handler.rs`, `assisted.rs`) import this, and nothing
//! here imports them.

use lambda_http::Request;
use shared::crypto::PiiKeys;
use shared::domain::rules::RuleSet;
use shared::domain::token::VenueKeys;
use shared::function::Base;
use shared::http::Problem;
use shared::service::access;
use shared::store::settings::RiskAreaCache;
use shared::store::venues::Venue;
use time::Duration;

pub struct App {
    pub base: Base,
    pub keys: VenueKeys,
    /// Seals the ID number of a visitor recorded by it (assisted check-ins).
    pub pii: PiiKeys,
    pub rules: &'static RuleSet,
    pub areas: RiskAreaCache,
    /// Index shards given to new venues (see shared/src/store/log.rs).
    pub shards: u32,
    /// How long entries are kept: older ones are not listed, deleted or not.
    pub retention: Duration,
}

/// The caller, who must have passed real-name authentication.
pub(crate) async fn verified(app: &App, req: &Request) -> Result<shared::auth::Session, Problem> {
    let session = app.base.sessions.authenticate(req, app.base.clock.now())?;
    access::own_subject(&app.base.store, &session).await?;
    Ok(session)
}

/// The caller's venue, and the caller's account id.
pub(crate) async fn my_venue(app: &App, req: &Request) -> Result<(Venue, String), Problem> {
    let session = verified(app, req).await?;
    let venue = app
        .base
        .store
        .venue_of(&session.account_id)
        .await?
        .ok_or_else(|| Problem::not_found().detail("the caller holds no venue code"))?;
    Ok((venue, session.account_id))
}

//! The edge of every HTTP function: what its binary does at cold start and
//! for each request, written once. A function crate implements [`Function`]
//! (its configuration and its routes) and its `main.rs` calls [`run`].
//!
//! This is also where the lower floors meet HTTP: store failures become
//! problems here, and the domain's keys are read from configuration here,
//! so that neither the store nor the domain knows of either.

use std::future::Future;

use lambda_http::{Body, Request, Response, service_fn};
use time::Duration;

use crate::auth::SessionKeys;
use crate::clock::Clock;
use crate::config::{self, ConfigError};
use crate::domain::token::{CodeKeys, VenueKeys};
use crate::http::{self, HttpResult, Problem};
use crate::store::{Store, StoreError};

/// What every HTTP function holds: the store, the keys of session tokens
/// and the clock.
pub struct Base {
    pub store: Store,
    pub sessions: SessionKeys,
    pub clock: Clock,
}

impl Base {
    /// The session keys from the environment (read first, so that a bad
    /// setting fails before the SDK is set up), the store, the system clock.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let sessions = SessionKeys::from_env()?;
        Ok(Self {
            store: Store::from_env().await,
            sessions,
            clock: Clock::system(),
        })
    }
}

/// One HTTP function: its state, built once at cold start, and its routes.
pub trait Function: Sized + Sync {
    /// Reads the configuration and builds the clients; a missing or
    /// malformed setting fails the cold start with a message naming it.
    fn from_env() -> impl Future<Output = Result<Self, ConfigError>> + Send;

    /// Answers one request, given its path split into segments
    /// (`/v1/venues/mine` → `["v1", "venues", "mine"]`).
    fn route(&self, req: &Request, path: &[&str]) -> impl Future<Output = HttpResult> + Send;
}

/// Answers one request: routes it, turns an error into problem+json, and
/// logs the request's shape, status and duration (never its content).
pub async fn handle<F: Function>(app: &F, req: Request) -> Response<Body> {
    http::serve(&req, |req| async move {
        let segments = http::segments(req);
        let path: Vec<&str> = segments.iter().map(String::as_str).collect();
        app.route(req, &path).await
    })
    .await
}

/// The whole life of a function's binary: logging, configuration, then
/// requests until the runtime stops it, writing the metrics it counted
/// (`metrics.rs`) after each.
pub async fn run<F: Function>() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let app = F::from_env().await?;
    crate::metrics::cold_start();
    let app = &app;
    lambda_http::run(service_fn(move |req| async move {
        let response = handle(app, req).await;
        crate::metrics::flush();
        Ok::<_, std::convert::Infallible>(response)
    }))
    .await
}

impl From<StoreError> for Problem {
    fn from(err: StoreError) -> Problem {
        match err {
            StoreError::Unavailable(_) => {
                tracing::warn!(error = %err, "store unavailable");
                crate::metrics::store_unavailable();
                Problem::unavailable()
            }
            _ => {
                tracing::error!(error = %err, "store failure");
                Problem::internal()
            }
        }
    }
}

/// The health-code signing keys: `HC_CODE_SIGNING_KEY` (32-byte Ed25519
/// seed, base64), `HC_CODE_PREVIOUS_PUBLIC_KEY` (optional, 32 bytes),
/// `HC_CODE_ISSUER` and `HC_CODE_TTL_SECONDS` (default 300).
pub fn code_keys() -> Result<CodeKeys, ConfigError> {
    let seed = config::key32("HC_CODE_SIGNING_KEY")?;
    let previous = config::optional_key32("HC_CODE_PREVIOUS_PUBLIC_KEY")?;
    let issuer = config::required("HC_CODE_ISSUER")?;
    let ttl: i64 = config::parse_or("HC_CODE_TTL_SECONDS", 300)?;
    // A code on a screen is good for a few minutes: long enough to be
    // scanned, short enough that a screenshot is soon worthless.
    if !(60..=900).contains(&ttl) {
        return Err(ConfigError::new("HC_CODE_TTL_SECONDS", "must be between 60 and 900"));
    }
    Ok(CodeKeys::new(&seed, previous.as_ref(), &issuer, Duration::seconds(ttl)))
}

/// The venue-code keys: `HC_VENUE_URL_BASE`, `HC_VENUE_KEY` and, during a
/// rotation, `HC_VENUE_KEY_PREVIOUS` (base64, at least 32 bytes each).
pub fn venue_keys() -> Result<VenueKeys, ConfigError> {
    let base = config::required("HC_VENUE_URL_BASE")?;
    let current = config::key("HC_VENUE_KEY", 32)?;
    let previous = config::optional_key("HC_VENUE_KEY_PREVIOUS", 32)?;
    Ok(VenueKeys::new(&base, &current, previous.as_deref()))
}

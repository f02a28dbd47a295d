//! Routes of the code function.

use lambda_http::http::{Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use shared::access;
use shared::auth::SessionKeys;
use shared::clock::Clock;
use shared::config::ConfigError;
use shared::domain::rules::RuleSet;
use shared::domain::token::CodeKeys;
use shared::health_code;
use shared::http::{self, HttpResult, Problem};
use shared::store::Store;
use shared::store::settings::RiskAreaCache;

pub struct App {
    pub store: Store,
    pub sessions: SessionKeys,
    pub rules: &'static RuleSet,
    pub areas: RiskAreaCache,
    pub keys: CodeKeys,
    pub clock: Clock,
    /// The JWK Set, serialised once: it changes only with the configuration.
    jwks: String,
}

impl App {
    pub fn new(store: Store, sessions: SessionKeys, areas: RiskAreaCache, keys: CodeKeys, clock: Clock) -> Self {
        let jwks = keys.jwks().to_string();
        Self {
            store,
            sessions,
            rules: RuleSet::embedded(),
            areas,
            keys,
            clock,
            jwks,
        }
    }

    pub async fn from_env() -> Result<Self, ConfigError> {
        Ok(Self::new(
            Store::from_env().await,
            SessionKeys::from_env()?,
            RiskAreaCache::from_env()?,
            CodeKeys::from_env()?,
            Clock::system(),
        ))
    }
}

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    http::serve(&req, |req| route(app, req)).await
}

async fn route(app: &App, req: &Request) -> HttpResult {
    let segments = http::segments(req);
    let path: Vec<&str> = segments.iter().map(String::as_str).collect();
    match (path.as_slice(), req.method()) {
        (["v1", "code"], &Method::GET) => code(app, req).await,
        (["v1", "code"], _) => Err(Problem::method_not_allowed("GET")),
        ([".well-known", "jwks.json"], &Method::GET) => Ok(jwks(app)),
        ([".well-known", "jwks.json"], _) => Err(Problem::method_not_allowed("GET")),
        _ => Err(Problem::not_found()),
    }
}

/// One read of the subject's profile; the colour is evaluated live, so new
/// risk data or a day passing shows without anyone declaring again.
async fn code(app: &App, req: &Request) -> HttpResult {
    let now = app.clock.now();
    let session = app.sessions.authenticate(req, now)?;
    let requested = http::query(req, "subject_id");
    let subject = access::subject_for(&app.store, &session, requested.as_deref(), false).await?;
    let areas = app.areas.get(&app.store).await?;
    let status = health_code::live_status(app.rules, &subject, &areas, now);
    let view = health_code::show(&app.keys, &subject, &status, now)?;
    http::ok(&view)
}

/// The public keys. Verifiers may cache them for five minutes; a rotation
/// keeps the previous key published for longer than that.
fn jwks(app: &App) -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/jwk-set+json")
        .header(header::CACHE_CONTROL, "public, max-age=300")
        .body(Body::Text(app.jwks.clone()))
        .expect("valid response")
}

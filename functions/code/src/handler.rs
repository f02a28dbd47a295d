//! Routes of the code function.

use lambda_http::http::{Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use shared::config::ConfigError;
use shared::function::{Base, Function};
use shared::http::{self, HttpResult, Problem};
use shared::service::access;
use shared::service::health_code;
use shared::store::settings::RiskAreaCache;
use shared::store::trust::PartnerCache;

pub use crate::app::App;

impl Function for App {
    async fn from_env() -> Result<Self, ConfigError> {
        let areas = RiskAreaCache::from_env()?;
        let keys = shared::function::code_keys()?;
        let partners = PartnerCache::from_env()?;
        let mut app = Self::new(Base::from_env().await?, areas, keys);
        app.partners = partners;
        Ok(app)
    }

    async fn route(&self, req: &Request, path: &[&str]) -> HttpResult {
        let app = self;
        match (path, req.method()) {
            (["v1", "code"], &Method::GET) => code(app, req).await,
            (["v1", "code"], _) => Err(Problem::method_not_allowed("GET")),
            (["v1", "code", "paper"], &Method::POST) => crate::paper::issue(app, req).await,
            (["v1", "code", "paper"], &Method::GET) => crate::paper::card(app, req).await,
            (["v1", "code", "paper"], _) => Err(Problem::method_not_allowed("GET, POST")),
            (["v1", "notices"], &Method::GET) => notices(app, req).await,
            (["v1", "notices"], _) => Err(Problem::method_not_allowed("GET")),
            (["v1", "verify"], &Method::POST) => crate::verify::verify(app, req).await,
            (["v1", "verify"], _) => Err(Problem::method_not_allowed("POST")),
            ([".well-known", "jwks.json"], &Method::GET) => Ok(jwks(app)),
            ([".well-known", "jwks.json"], _) => Err(Problem::method_not_allowed("GET")),
            _ => Err(Problem::not_found()),
        }
    }
}

/// One read of the subject's profile; the colour is evaluated live, so new
/// risk data or a day passing shows without anyone declaring again.
async fn code(app: &App, req: &Request) -> HttpResult {
    let now = app.base.clock.now();
    let session = app.base.sessions.authenticate(req, now)?;
    let requested = http::query(req, "subject_id");
    let subject = access::subject_for(&app.base.store, &session, requested.as_deref(), false).await?;
    let areas = app.areas.get(&app.base.store).await?;
    let status = health_code::live_status(app.rules, &subject, &areas, now);
    let view = health_code::show(&app.keys, &subject, &status, now)?;
    http::ok(&view)
}

/// The subject's notices: its exposure facts and its decided appeals.
async fn notices(app: &App, req: &Request) -> HttpResult {
    let session = app.base.sessions.authenticate(req, app.base.clock.now())?;
    let requested = http::query(req, "subject_id");
    let subject = access::subject_for(&app.base.store, &session, requested.as_deref(), false).await?;
    http::ok(&shared::service::notices::list(&app.base.store, &subject).await?)
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

//! `/v1/admin/exposures`: the authority marks a venue or a case's visits as
//! an exposure (answered 202: the exposure worker does the work), follows
//! it, lists its contacts (audited) and withdraws it.

use lambda_http::Request;
use lambda_http::http::{Method, StatusCode};
use shared::crypto::{keyed_id, random_id};
use shared::http::{self, HttpResult, Problem};
use shared::service::access::is_subject_id;
use shared::service::exposures::{self, ExposureRequest, is_exposure_id};
use shared::store::sort_time;

use crate::app::{App, audit};

pub async fn route(app: &App, req: &Request, officer: &str, rest: &[&str]) -> HttpResult {
    match (rest, req.method()) {
        ([], &Method::POST) => create(app, req, officer).await,
        ([], _) => Err(Problem::method_not_allowed("POST")),
        ([id], &Method::GET) => get(app, id).await,
        ([id], &Method::DELETE) => withdraw(app, officer, id).await,
        ([_], _) => Err(Problem::method_not_allowed("GET, DELETE")),
        ([id, "contacts"], &Method::GET) => contacts(app, req, officer, id).await,
        ([_, "contacts"], _) => Err(Problem::method_not_allowed("GET")),
        _ => Err(Problem::not_found()),
    }
}

async fn create(app: &App, req: &Request, officer: &str) -> HttpResult {
    let body: ExposureRequest = http::parse_json(req, None)?;
    let id = match http::idempotency_key(req)? {
        Some(key) => keyed_id("x_", "exposure", officer, key),
        None => random_id("x_"),
    };
    let now = app.base.clock.now();
    let target = body
        .venue_id
        .clone()
        .or_else(|| body.subject_id.clone())
        .unwrap_or_else(|| "by ID number".to_owned());
    let exposure = exposures::create(&app.base.store, &app.pii, officer, id, body, now, app.retention).await?;
    audit(
        app,
        officer,
        "exposure",
        &exposure.id,
        format!("{target} {:?}", exposure.level),
        0,
    )
    .await?;
    tracing::info!(kind = ?exposure.kind, level = ?exposure.level, "exposure recorded");
    Ok(http::json(
        StatusCode::ACCEPTED,
        &serde_json::json!({"exposure": {"id": exposure.id, "status": exposure.status.as_str()}}),
    ))
}

async fn found(app: &App, id: &str) -> Result<shared::store::exposures::Exposure, Problem> {
    if !is_exposure_id(id) {
        return Err(Problem::not_found().detail("no such exposure"));
    }
    app.base
        .store
        .get_exposure(id, true)
        .await?
        .ok_or_else(|| Problem::not_found().detail("no such exposure"))
}

async fn get(app: &App, id: &str) -> HttpResult {
    let exposure = found(app, id).await?;
    http::ok(&serde_json::json!({ "exposure": exposures::view(&exposure) }))
}

async fn withdraw(app: &App, officer: &str, id: &str) -> HttpResult {
    found(app, id).await?;
    audit(app, officer, "exposure-withdrawn", id, String::new(), 0).await?;
    let at = sort_time(app.base.clock.now());
    match app.base.store.withdraw_exposure(id, &at).await? {
        None => Err(Problem::not_found().detail("no such exposure")),
        Some(_) => http::no_content(),
    }
}

async fn contacts(app: &App, req: &Request, officer: &str, id: &str) -> HttpResult {
    let after = http::query(req, "next");
    if after.as_deref().is_some_and(|a| !is_subject_id(a)) {
        return Err(Problem::bad_request("`next` is not a cursor this route returned"));
    }
    found(app, id).await?;
    let (rows, next) = exposures::contacts(&app.base.store, &app.pii, id, after.as_deref()).await?;
    audit(app, officer, "exposure-contacts", id, String::new(), rows.len()).await?;
    http::ok(&serde_json::json!({ "contacts": rows, "next": next }))
}

//! Paper codes (纸质码): `POST /v1/code/paper` issues one, which revokes the
//! subject's earlier ones; `GET /v1/code/paper` prints the latest as a card
//! (A6, SVG or 1-bit PNG, by the venue poster's renderer). The rules are in
//! `shared::service::paper`.

use lambda_http::http::{StatusCode, header};
use lambda_http::{Body, Request, Response};
use poster::CardText;
use serde::Deserialize;
use shared::http::{self, HttpResult, Problem};
use shared::service::{access, health_code, paper};

use crate::app::App;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IssueRequest {
    #[serde(default)]
    subject_id: Option<String>,
}

/// One read of the profile and the caller's account, one update of the profile.
pub async fn issue(app: &App, req: &Request) -> HttpResult {
    let now = app.base.clock.now();
    let session = app.base.sessions.authenticate(req, now)?;
    let key = http::idempotency_key(req)?;
    // An object: serde would take `[]` for a struct whose fields are all optional.
    let body: serde_json::Map<String, serde_json::Value> = http::parse_json(req, None)?;
    let body: IssueRequest = serde_json::from_value(body.into())
        .map_err(|_| Problem::bad_request("the body is `{}` or `{\"subject_id\": \"s_…\"}`"))?;
    let subject = access::subject_for(&app.base.store, &session, body.subject_id.as_deref(), false).await?;
    let areas = app.areas.get(&app.base.store).await?;
    let status = health_code::live_status(app.rules, &subject, &areas, now);
    let issued = paper::issue(
        &app.base.store,
        &app.keys,
        &subject,
        &status,
        &session.account_id,
        key,
        now,
    )
    .await?;
    http::created(&issued)
}

/// One read of the profile and the caller's account; nothing is written.
pub async fn card(app: &App, req: &Request) -> HttpResult {
    let now = app.base.clock.now();
    let session = app.base.sessions.authenticate(req, now)?;
    let format = http::query(req, "format").unwrap_or_else(|| "svg".to_owned());
    if format != "svg" && format != "png" {
        return Err(Problem::bad_request("`format` is `svg` or `png`"));
    }
    let requested = http::query(req, "subject_id");
    let subject = access::subject_for(&app.base.store, &session, requested.as_deref(), false).await?;
    let card = paper::card(&app.keys, &subject, now)?;
    let text = CardText {
        name_masked: &card.name_masked,
        expires: &card.expires_shown,
    };
    let failed = |err: poster::PosterError| {
        tracing::error!(error = %err, "drawing a paper code's card failed");
        Problem::internal()
    };
    let (content_type, body) = if format == "png" {
        (
            "image/png",
            Body::Binary(poster::card_png(&text, &card.qr).map_err(failed)?),
        )
    } else {
        (
            "image/svg+xml",
            Body::Text(poster::card_svg(&text, &card.qr).map_err(failed)?),
        )
    };
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type)
        .header(
            header::CONTENT_DISPOSITION,
            format!("inline; filename=\"paper-code.{format}\""),
        )
        // Another issue revokes this card: no shared or long caching.
        .header(header::CACHE_CONTROL, "private, no-cache")
        .body(body)
        .expect("valid response"))
}

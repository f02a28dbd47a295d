//! `POST /v1/venues/mine/checkins`: the venue's holder records the entry
//! of a visitor without a phone by ID number (`shared::service::assisted`).

use lambda_http::Request;
use serde::{Deserialize, Serialize};
use shared::domain::day::rfc3339;
use shared::domain::status::Color;
use shared::http::{self, HttpResult};
use shared::service::assisted::{self, Context, Visit};
use shared::service::identity;

use crate::app::{App, my_venue};

#[derive(Deserialize)]
struct AssistedRequest {
    id_number: String,
}

#[derive(Serialize)]
struct AssistedResponse {
    entered_at: String,
    color: Color,
    name_masked: String,
}

pub async fn record(app: &App, req: &Request) -> HttpResult {
    let (venue, holder) = my_venue(app, req).await?;
    let key = http::idempotency_key(req)?;
    let body: AssistedRequest = http::parse_json(req, None)?;
    let now = app.base.clock.now();
    let id = identity::id_number(&body.id_number, now)?;
    let areas = app.areas.get(&app.base.store).await?;
    let cx = Context {
        store: &app.base.store,
        pii: &app.pii,
        rules: app.rules,
        areas: &areas,
        retention: app.retention,
    };
    let visit = Visit {
        venue: &venue,
        holder: &holder,
        id: &id,
        idempotency_key: key,
    };
    let recorded = assisted::check_in(&cx, &visit, now).await?;
    tracing::info!(color = ?recorded.color, "assisted check-in recorded");
    http::created(&AssistedResponse {
        entered_at: rfc3339(recorded.entered_at),
        color: recorded.color,
        name_masked: recorded.name_masked,
    })
}

//! `POST /v1/appeals` and `GET /v1/appeals`: a person (or their guardian) who thinks the code is
//! wrong says so; the authority decides in the admin function (`/v1/admin/appeals`).

use lambda_http::Request;
use serde::{Deserialize, Serialize};
use shared::crypto::random_id;
use shared::domain::day::rfc3339;
use shared::http::{self, HttpResult, Problem};
use shared::service::access;
use shared::store::appeals::{Appeal, AppealStatus, Filed};
use shared::store::{shown_time, sort_time};

use crate::handler::App;

#[derive(Deserialize)]
struct AppealRequest {
    #[serde(default)]
    subject_id: Option<String>,
    reason: String,
}

#[derive(Serialize)]
struct AppealView {
    id: String,
    status: AppealStatus,
    reason: String,
    created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    resolved_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

pub async fn file(app: &App, req: &Request) -> HttpResult {
    let now = app.base.clock.now();
    let session = app.base.sessions.authenticate(req, now)?;
    let body: AppealRequest = http::parse_json(req, None)?;
    let reason = shared::domain::text::plain_text(&body.reason, 5, 500).ok_or_else(|| {
        Problem::bad_request("`reason` is 5 to 500 letters, digits, single spaces and common punctuation")
    })?;
    let subject = access::subject_for(&app.base.store, &session, body.subject_id.as_deref(), true).await?;
    let appeal = Appeal {
        appeal_id: random_id("ap_"),
        subject_id: subject.identity.subject_id.clone(),
        by: session.account_id.clone(),
        status: AppealStatus::Open,
        reason,
        created_at: sort_time(now),
        resolved_at: None,
        note: None,
        officer: None,
        color: None,
    };
    match app.base.store.file_appeal(&appeal).await? {
        Filed::Created => {
            tracing::info!("appeal filed");
            http::created(&serde_json::json!({
                "appeal": {"id": appeal.appeal_id, "status": appeal.status, "created_at": rfc3339(now)}
            }))
        }
        Filed::AlreadyOpen(_) => Err(Problem::conflict("appeal-open", "An appeal is open")
            .detail("this person already has an open appeal: wait for its decision")),
    }
}

pub async fn list(app: &App, req: &Request) -> HttpResult {
    let now = app.base.clock.now();
    let session = app.base.sessions.authenticate(req, now)?;
    let requested = http::query(req, "subject_id");
    let subject = access::subject_for(&app.base.store, &session, requested.as_deref(), false).await?;
    let appeals: Vec<AppealView> = app
        .base
        .store
        .subject_appeals(&subject.identity.subject_id)
        .await?
        .into_iter()
        .map(|a| AppealView {
            created_at: shown_time(&a.created_at),
            resolved_at: a.resolved_at.as_deref().map(shown_time),
            id: a.appeal_id,
            status: a.status,
            reason: a.reason,
            note: a.note,
        })
        .collect();
    http::ok(&serde_json::json!({ "appeals": appeals }))
}

//! `GET /v1/admin/appeals` (the open queue, with full identities: audited) and
//! `POST /v1/admin/appeals/{id}` (the decision: audited; an upheld appeal with a colour records a
//! verification (核验) in the same transaction). The rules are `shared::service::appeals`.

use lambda_http::Request;
use shared::domain::day::rfc3339;
use shared::http::{self, HttpResult, Problem};
use shared::service::appeals::{self, Decision, Officer};
use shared::store::appeals::is_queue_position;
use shared::store::shown_time;

use crate::app::App;

pub async fn queue(app: &App, req: &Request, officer: &str) -> HttpResult {
    if !matches!(http::query(req, "status").as_deref(), None | Some("open")) {
        return Err(Problem::bad_request("`status` is `open`: the queue lists open appeals"));
    }
    let limit = http::page_limit(req, 50, 200)?;
    let after = http::cursor(req, is_queue_position)?;
    let officer = Officer {
        id: officer,
        now: app.base.clock.now(),
    };
    let (rows, next) = appeals::queue(&app.base.store, &app.pii, app.rules, &officer, after.as_deref(), limit).await?;
    let appeals: Vec<_> = rows
        .into_iter()
        .map(|r| {
            serde_json::json!({
                "id": r.appeal.appeal_id,
                "subject_id": r.appeal.subject_id,
                "name": r.person.name,
                "id_number": r.person.id_number,
                "color": r.color,
                "reason": r.appeal.reason,
                "created_at": shown_time(&r.appeal.created_at),
            })
        })
        .collect();
    http::ok(&serde_json::json!({ "appeals": appeals, "next": http::next_cursor(next) }))
}

pub async fn decide(app: &App, req: &Request, officer: &str, appeal_id: &str) -> HttpResult {
    let body: Decision = http::parse_json(req, None)?;
    let outcome = body.outcome;
    let now = app.base.clock.now();
    let officer = Officer { id: officer, now };
    let (appeal, note, verification) = appeals::decide(&app.base.store, app.rules, &officer, appeal_id, body).await?;
    tracing::info!(outcome = %outcome, verification = verification.is_some(), "appeal decided");
    http::ok(&serde_json::json!({
        "appeal": {
            "id": appeal.appeal_id,
            "subject_id": appeal.subject_id,
            "status": outcome,
            "note": note,
            "created_at": shown_time(&appeal.created_at),
            "resolved_at": rfc3339(now),
        },
        "verification": verification.map(|v| serde_json::json!({"color": v.color, "valid_until": rfc3339(v.valid_until)})),
    }))
}

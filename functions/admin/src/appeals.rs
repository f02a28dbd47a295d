//! `GET /v1/admin/appeals` (the open queue, with full identities: audited) and
//! `POST /v1/admin/appeals/{id}` (the decision: audited; an upheld appeal with a colour records a
//! verification (核验) in the same transaction).

use lambda_http::Request;
use serde::Deserialize;
use shared::domain::day::rfc3339;
use shared::domain::status::{Color, Override};
use shared::http::{self, HttpResult, Problem};
use shared::service::trace;
use shared::store::appeals::{AppealStatus, Decided, is_queue_position};
use shared::store::parse_time;

use crate::handler::{App, DEFAULT_VERIFICATION, MAX_VERIFICATION, audit};

const PAGE: usize = 50;
const MAX_PAGE: usize = 200;

/// Whether `id` has the shape of an appeal id (`ap_` and 26 base32 characters).
fn is_appeal_id(id: &str) -> bool {
    id.len() == 29
        && id.starts_with("ap_")
        && id[3..]
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
}

fn shown(sort: &str) -> String {
    parse_time(sort).map(rfc3339).unwrap_or_default()
}

pub async fn queue(app: &App, req: &Request, officer: &str) -> HttpResult {
    if !matches!(http::query(req, "status").as_deref(), None | Some("open")) {
        return Err(Problem::bad_request("`status` is `open`: the queue lists open appeals"));
    }
    let limit = http::page_limit(req, PAGE, MAX_PAGE)?;
    let after = http::cursor(req, is_queue_position)?;
    let page = app.base.store.open_appeals(after.as_deref(), limit).await?;
    let ids: Vec<String> = page.appeals.iter().map(|a| a.subject_id.clone()).collect();
    // Audited before anything personal is read.
    audit(
        app,
        officer,
        "appeals",
        "open",
        format!("{} appeals", page.appeals.len()),
        page.appeals.len(),
    )
    .await?;
    let subjects = app.base.store.get_subjects(&ids).await?;
    let areas = app.base.store.risk_areas().await?;
    let now = app.base.clock.now();
    let mut appeals = Vec::with_capacity(page.appeals.len());
    for a in &page.appeals {
        let Some(subject) = subjects.get(&a.subject_id) else {
            continue;
        };
        let person = trace::reveal(&app.pii, subject).map_err(|err| {
            tracing::error!(error = %err, "opening a sealed identity failed");
            Problem::internal()
        })?;
        appeals.push(serde_json::json!({
            "id": a.appeal_id,
            "subject_id": a.subject_id,
            "name": person.name,
            "id_number": person.id_number,
            "color": app.rules.evaluate(&subject.facts, &areas, now).color,
            "reason": a.reason,
            "created_at": shown(&a.created_at),
        }));
    }
    let next = http::next_cursor(page.next);
    http::ok(&serde_json::json!({ "appeals": appeals, "next": next }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Decision {
    outcome: AppealStatus,
    note: String,
    #[serde(default)]
    color: Option<Color>,
    #[serde(default)]
    valid_until: Option<String>,
}

pub async fn decide(app: &App, req: &Request, officer: &str, appeal_id: &str) -> HttpResult {
    let body: Decision = http::parse_json(req, None)?;
    let now = app.base.clock.now();
    if body.outcome == AppealStatus::Open {
        return Err(Problem::bad_request("`outcome` is `upheld` or `rejected`"));
    }
    let note = shared::domain::text::plain_text(&body.note, 1, 200)
        .ok_or_else(|| Problem::bad_request("`note` is 1 to 200 letters, digits, spaces and common punctuation"))?;
    if body.outcome == AppealStatus::Rejected && (body.color.is_some() || body.valid_until.is_some()) {
        return Err(Problem::bad_request(
            "`color` and `valid_until` go with an upheld appeal only",
        ));
    }
    if body.color.is_none() && body.valid_until.is_some() {
        return Err(Problem::bad_request("`valid_until` needs a `color`"));
    }
    let valid_until = match &body.valid_until {
        None => now + DEFAULT_VERIFICATION,
        Some(text) => parse_time(text)
            .filter(|t| *t > now && *t <= now + MAX_VERIFICATION)
            .ok_or_else(|| Problem::bad_request("`valid_until` is an RFC 3339 time in the next 30 days"))?,
    };
    if !is_appeal_id(appeal_id) {
        return Err(Problem::not_found().detail("no such appeal"));
    }
    let appeal = app
        .base
        .store
        .get_appeal(appeal_id)
        .await?
        .ok_or_else(|| Problem::not_found().detail("no such appeal"))?;
    let verification = body.color.map(|color| Override {
        color,
        reason: note.clone(),
        valid_until,
        set_at: now,
        officer: officer.to_owned(),
        rules_version: app.rules.version().to_owned(),
    });
    audit(
        app,
        officer,
        "appeal-decision",
        &appeal.subject_id,
        format!("{} {}", appeal_id, body.outcome),
        1,
    )
    .await?;
    match app
        .base
        .store
        .decide_appeal(&appeal, body.outcome, &note, officer, now, verification.as_ref())
        .await?
    {
        Decided::Done => {}
        Decided::NotFound => return Err(Problem::not_found().detail("no such appeal")),
        Decided::NotOpen => {
            return Err(
                Problem::conflict("appeal-decided", "Appeal already decided").detail("this appeal is no longer open")
            );
        }
    }
    tracing::info!(outcome = %body.outcome, verification = verification.is_some(), "appeal decided");
    http::ok(&serde_json::json!({
        "appeal": {
            "id": appeal.appeal_id,
            "subject_id": appeal.subject_id,
            "status": body.outcome,
            "note": note,
            "created_at": shown(&appeal.created_at),
            "resolved_at": rfc3339(now),
        },
        "verification": verification.map(|v| serde_json::json!({"color": v.color, "valid_until": rfc3339(v.valid_until)})),
    }))
}

//! The answer to a scan of our own people, however they were found (their
//! code, or an inspector's ID number): the live status, logged once per
//! scanner, person and minute.

use serde::Serialize;
use shared::auth::Session;
use shared::crypto::keyed_id;
use shared::domain::day::{iso_date, rfc3339, shanghai_day};
use shared::domain::status::Color;
use shared::http::{self, HttpResult};
use shared::service::health_code;
use shared::store::log::{Entry, EntryKind, EntryMethod, Slot};
use shared::store::sort_time;
use shared::store::subjects::Subject;
use time::OffsetDateTime;

use crate::app::App;

#[derive(Serialize)]
struct ScanResponse<'a> {
    result: &'static str,
    color: Color,
    status_text: &'static str,
    hints: Vec<String>,
    name_masked: String,
    id_masked: String,
    issuer: &'a str,
    /// Ours: the live status, not only the token's colour.
    live: bool,
    scanned_at: String,
}

/// The answer to a scan of `subject`, however found: the live status,
/// logged once per scanner, subject and minute.
pub(crate) async fn answer(
    app: &App,
    session: Session,
    subject: &Subject,
    region: Option<String>,
    method: Option<EntryMethod>,
    now: OffsetDateTime,
) -> HttpResult {
    let areas = app.areas.get(&app.base.store).await?;
    let status = health_code::live_status(app.rules, subject, &areas, now);
    // The scanner's repeat scans of the same person in the same minute share
    // one entry: the first is logged, the others are answered only.
    let minute = now.unix_timestamp().div_euclid(60);
    let entry = Entry {
        id: keyed_id(
            "e_",
            "scan",
            &session.account_id,
            &format!("{}#{minute}", subject.identity.subject_id),
        ),
        kind: EntryKind::Scan,
        subject_id: subject.identity.subject_id.clone(),
        account: session.account_id,
        at: sort_time(now),
        day: iso_date::format(shanghai_day(now)),
        // Where the scan happened; else where the person declared to be.
        region: region.or_else(|| subject.region.clone()),
        venue_id: None,
        color: status.color,
        name_masked: subject.identity.name_masked.clone(),
        method,
    };
    app.base
        .store
        .log_entry(&entry, Slot::Minute, None, now + app.retention)
        .await?;
    let pass = status.color == Color::Green && status.hints.is_empty();
    tracing::info!(color = ?status.color, pass, "code scanned");
    shared::metrics::scan(status.color, pass);
    http::ok(&ScanResponse {
        result: if pass { "pass" } else { "verify" },
        color: status.color,
        status_text: status.status_text(),
        hints: status.hints.clone(),
        name_masked: subject.identity.name_masked.clone(),
        id_masked: subject.identity.id_masked.clone(),
        issuer: app.codes.issuer(),
        live: true,
        scanned_at: rfc3339(now),
    })
}

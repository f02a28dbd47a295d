//! `GET /v1/admin/traces`: the trace of `shared::service::trace`, one page
//! at a time, as JSON. A person's trace starts from `subject_id` or from
//! `id_number` (found by its keyed hash).

use lambda_http::Request;
use shared::crypto::PiiKeys;
use shared::domain::day::rfc3339;
use shared::http::{self, HttpResult, Problem};
use shared::service::find;
use shared::service::trace::{self, Page, Person, Reader, TraceError};
use shared::store::log::{EntryKind, EntryMethod};
use shared::store::venues::Venue;
use shared::store::{Store, parse_time};
use time::{Duration, OffsetDateTime};

use crate::app::trace_problem;

/// Entries per page of a trace unless `limit` says fewer.
const TRACE_PAGE: usize = 100;
const MAX_TRACE_PAGE: usize = 500;

/// The time window of a trace: `from` and `to`, 14 days up to now by default.
fn window(req: &Request, now: OffsetDateTime) -> Result<(OffsetDateTime, OffsetDateTime), Problem> {
    let time = |name: &str| -> Result<Option<OffsetDateTime>, Problem> {
        http::query(req, name)
            .map(|v| parse_time(&v).ok_or_else(|| Problem::bad_request(format!("`{name}` must be an RFC 3339 time"))))
            .transpose()
    };
    trace::window(time("from")?, time("to")?, now).map_err(trace_problem)
}

/// How the person was identified: `id-card`, `assisted`, or else by
/// their own phone (`default`: a scanned code, a check-in in the app).
fn method(method: Option<EntryMethod>, default: &'static str) -> serde_json::Value {
    match method {
        Some(m) => serde_json::json!(m),
        None => default.into(),
    }
}

fn person_view(person: &Person) -> serde_json::Value {
    serde_json::json!({
        "subject_id": person.subject_id, "name": person.name, "id_number": person.id_number, "phone": person.phone,
    })
}

fn venue_view(venue: &Venue) -> serde_json::Value {
    serde_json::json!({
        "id": venue.id, "name": venue.name, "address": venue.address, "region": venue.region,
        "category": venue.category, "revoked_at": venue.revoked_at.map(rfc3339),
    })
}

/// What a trace reads with: the store, the keys that open identities, and
/// how long the log keeps entries (older ones are not traced, deleted or not).
pub struct Tracer<'a> {
    pub store: &'a Store,
    pub pii: &'a PiiKeys,
    pub retention: Duration,
    pub now: OffsetDateTime,
}

pub async fn traces(app: &Tracer<'_>, req: &Request, officer: &str) -> HttpResult {
    let now = app.now;
    let (from, to) = window(req, now)?;
    let window = (from.max(now - app.retention), to);
    let limit = http::page_limit(req, TRACE_PAGE, MAX_TRACE_PAGE)?;
    let after = http::cursor(req, shared::store::log::is_position)?;
    let pages = Page {
        after: after.as_deref(),
        limit,
    };
    let reader = Reader { officer, now };
    let by_number = crate::find::id_number(req, now)?;
    let subject_id = match (http::query(req, "subject_id"), &by_number) {
        (None, Some(id)) => Some(match find::subject_id_of(app.store, app.pii, id).await? {
            Some(subject) => subject,
            None => {
                find::audit_miss(app.store, app.pii, &reader, "trace-subject", id).await?;
                return Err(trace_problem(TraceError::NoSubject));
            }
        }),
        (subject, None) => subject,
        (Some(_), Some(_)) => return Err(Problem::bad_request("give `subject_id` or `id_number`, not both")),
    };
    match (http::query(req, "venue_id"), subject_id) {
        (Some(venue), None) => {
            let found = trace::venue(app.store, app.pii, &reader, &venue, window, pages)
                .await
                .map_err(trace_problem)?;
            let entries: Vec<_> = found
                .visits()
                .map(|visit| {
                    let mut row = person_view(visit.person);
                    row["entered_at"] = rfc3339(visit.entered_at).into();
                    row["color"] = serde_json::json!(visit.entry.color);
                    row
                })
                .collect();
            tracing::info!(entries = entries.len(), "venue traced");
            http::ok(&serde_json::json!({
                "venue": venue_view(&found.venue), "entries": entries, "next": http::next_cursor(found.next),
            }))
        }
        (None, Some(subject)) => {
            let found = trace::subject(app.store, app.pii, &reader, &subject, window, pages)
                .await
                .map_err(trace_problem)?;
            let mut visits = Vec::new();
            let mut scans = Vec::new();
            for entry in &found.entries {
                let at = parse_time(&entry.at).map(rfc3339);
                match entry.kind {
                    EntryKind::Checkin => visits.push(serde_json::json!({
                        "entered_at": at, "color": entry.color, "method": method(entry.method, "app"),
                        "venue": entry.venue_id.as_ref().and_then(|v| found.venues.get(v)).map(venue_view),
                    })),
                    EntryKind::Scan => scans.push(serde_json::json!({
                        "scanned_at": at, "color": entry.color, "region": entry.region, "scanner": entry.account,
                        "method": method(entry.method, "code"),
                    })),
                }
            }
            tracing::info!(visits = visits.len(), scans = scans.len(), "subject traced");
            http::ok(&serde_json::json!({
                "subject": person_view(&found.subject), "visits": visits, "scans": scans,
                "next": http::next_cursor(found.next),
            }))
        }
        _ => Err(Problem::bad_request(
            "give exactly one of `venue_id` and `subject_id` (or `id_number`)",
        )),
    }
}

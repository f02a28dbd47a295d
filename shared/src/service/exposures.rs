//! Exposures (时空伴随): the authority's request, checked and recorded
//! (the `admin` routes and `hcctl exposures`), and the worker that finds the
//! contacts off the request path (the `exposure` function, `hcctl exposures
//! work`).

use serde::Deserialize;
use time::{Duration, OffsetDateTime};

use crate::crypto::PiiKeys;
use crate::domain::day::shanghai_day;
use crate::domain::identity::IdNumber;
use crate::domain::status::Color;
use crate::http::Problem;
use crate::service::access::is_subject_id;
use crate::store::exposures::{Contact, Exposure, ExposureKind, ExposureStatus, Progress, Task};
use crate::store::{Store, parse_time, sort_time};

pub use super::exposure_worker::{Budget, Message, Notice, Notifier, Outcome, SendError, Worker};

/// The longest window an exposure may cover: the 14 days a contact stays coloured.
pub const MAX_WINDOW: Duration = Duration::days(14);
/// `window_minutes` of a person exposure, when the request gives none.
pub const DEFAULT_WINDOW_MINUTES: u32 = 60;
/// Contacts a page of `GET .../contacts` lists at most.
pub const CONTACTS_PAGE: usize = 100;

/// `POST /v1/admin/exposures`: a venue and window, or a case and window.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExposureRequest {
    #[serde(default)]
    pub venue_id: Option<String>,
    #[serde(default)]
    pub id_number: Option<String>,
    #[serde(default)]
    pub subject_id: Option<String>,
    pub from: String,
    pub to: String,
    pub level: Color,
    pub reason: String,
    #[serde(default)]
    pub window_minutes: Option<u32>,
}

pub use crate::store::venues::is_venue_id;

/// Whether `id` has the shape of an exposure id.
pub fn is_exposure_id(id: &str) -> bool {
    crate::crypto::is_random_id(id, "x_")
}

/// Checks a request and records the exposure as pending (or finds the one
/// recorded under the same `id` before); the worker does the rest.
pub async fn create(
    store: &Store,
    pii: &PiiKeys,
    officer: &str,
    id: String,
    req: ExposureRequest,
    now: OffsetDateTime,
    retention: Duration,
) -> Result<Exposure, Problem> {
    let from = parse_time(&req.from).ok_or_else(|| Problem::bad_request("`from` is an RFC 3339 time"))?;
    let to = parse_time(&req.to).ok_or_else(|| Problem::bad_request("`to` is an RFC 3339 time"))?;
    if from >= to || to - from > MAX_WINDOW {
        return Err(Problem::bad_request("`from` is before `to`, at most 14 days apart"));
    }
    if from < now - retention || to > now + Duration::hours(1) {
        return Err(Problem::bad_request(
            "the window lies in the log's retention period and not in the future",
        ));
    }
    if req.level == Color::Green {
        return Err(Problem::bad_request("`level` is `yellow` or `red`"));
    }
    let reason = crate::domain::text::plain_text(&req.reason, 1, 200)
        .ok_or_else(|| Problem::bad_request("`reason` is 1 to 200 letters, digits, spaces and common punctuation"))?;
    let named = [
        req.venue_id.is_some(),
        req.id_number.is_some(),
        req.subject_id.is_some(),
    ];
    if named.iter().filter(|&&n| n).count() != 1 {
        return Err(Problem::bad_request(
            "name exactly one of `venue_id`, `id_number` and `subject_id`",
        ));
    }
    let (kind, venue_id, case_subject, tasks, window_minutes) = if let Some(venue_id) = req.venue_id {
        if req.window_minutes.is_some() {
            return Err(Problem::bad_request("`window_minutes` is for a person exposure"));
        }
        if !is_venue_id(&venue_id) {
            return Err(Problem::not_found().detail("no such venue"));
        }
        let venue = store
            .get_venue(&venue_id)
            .await?
            .ok_or_else(|| Problem::not_found().detail("no such venue"))?;
        let task = Task {
            venue_id: venue.id.clone(),
            from: sort_time(from),
            to: sort_time(to),
            shards: venue.shards,
            district: Some(venue.region.clone()),
        };
        (ExposureKind::Venue, Some(venue_id), None, Some(vec![task]), 0)
    } else {
        let minutes = req.window_minutes.unwrap_or(DEFAULT_WINDOW_MINUTES);
        if !(1..=1440).contains(&minutes) {
            return Err(Problem::bad_request("`window_minutes` is 1 to 1440"));
        }
        let subject = match (req.id_number, req.subject_id) {
            (Some(number), _) => {
                let number = IdNumber::parse(&number, shanghai_day(now))
                    .map_err(|_| Problem::invalid("invalid-id-number", "`id_number` is not a valid ID number"))?;
                store
                    .find_person(&pii.id_hash(number.as_str()))
                    .await?
                    .person
                    .map(|p| p.subject_id)
            }
            (None, Some(subject)) if is_subject_id(&subject) => {
                store.get_subject(&subject, false).await?.map(|s| s.identity.subject_id)
            }
            _ => None,
        };
        let subject = subject.ok_or_else(|| Problem::not_found().detail("no such subject"))?;
        (ExposureKind::Person, None, Some(subject), None, minutes)
    };
    let exposure = Exposure {
        id: id.clone(),
        kind,
        venue_id,
        case_subject,
        from: sort_time(from),
        to: sort_time(to),
        level: req.level,
        reason,
        window_minutes,
        status: ExposureStatus::Pending,
        contacts: 0,
        created_at: sort_time(now),
        finished_at: None,
        officer: officer.to_owned(),
        progress: Progress {
            tasks_ready: tasks.is_some(),
            ..Progress::default()
        },
        cleaned: false,
    };
    if store.create_exposure(&exposure, tasks.as_deref()).await? {
        Ok(exposure)
    } else {
        // The same request again: answer what the first one recorded.
        store
            .get_exposure(&id, true)
            .await?
            .filter(|e| e.officer == officer)
            .ok_or_else(|| Problem::conflict("idempotency-key-reused", "Idempotency-Key reused"))
    }
}

/// The exposure as the routes show it.
pub fn view(e: &Exposure) -> serde_json::Value {
    serde_json::json!({
        "id": e.id,
        "kind": e.kind,
        "status": e.status.as_str(),
        "level": e.level,
        "from": crate::store::shown_time(&e.from),
        "to": crate::store::shown_time(&e.to),
        "contacts": e.contacts,
        "created_at": crate::store::shown_time(&e.created_at),
        "finished_at": e.finished_at.as_deref().map(crate::store::shown_time),
    })
}

/// A page of an exposure's contacts with their identity in clear, for the authority.
pub async fn contacts(
    store: &Store,
    pii: &PiiKeys,
    exposure_id: &str,
    after: Option<&str>,
) -> Result<(Vec<serde_json::Value>, Option<String>), Problem> {
    let (page, next) = store.contacts_page(exposure_id, after, CONTACTS_PAGE).await?;
    let ids: Vec<String> = page.iter().map(|c| c.subject_id.clone()).collect();
    let subjects = store.get_subjects(&ids).await?;
    let mut rows = Vec::with_capacity(page.len());
    for Contact {
        subject_id,
        venue_id,
        entered_at,
        ..
    } in page
    {
        let revealed = match subjects.get(&subject_id) {
            Some(s) => Some(s.identity.reveal(pii).map_err(|_| {
                tracing::error!("a sealed identity does not open");
                Problem::internal()
            })?),
            None => None,
        };
        rows.push(serde_json::json!({
            "subject_id": subject_id,
            "name": revealed.as_ref().map(|r| r.name.clone()),
            "id_number": revealed.as_ref().map(|r| r.id_number.clone()),
            "phone": revealed.as_ref().and_then(|r| r.phone.clone()),
            "venue_id": venue_id,
            "entered_at": crate::store::shown_time(&entered_at),
        }));
    }
    Ok((rows, next))
}

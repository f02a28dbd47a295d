//! Routes of the admin function. Every route re-reads the caller's roles
//! from the store, so a revoked role stops working at once.

use std::collections::BTreeSet;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use shared::auth::{Role, SessionKeys};
use shared::clock::Clock;
use shared::config::ConfigError;
use shared::crypto::PiiKeys;
use shared::domain::day::{iso_date, rfc3339, shanghai_day};
use shared::domain::divisions::{self, Level};
use shared::domain::rules::{Color, Override, RiskAreas, RiskLevel, RuleSet};
use shared::http::{self, HttpResult, Problem};
use shared::risk_import::{self, RiskRow};
use shared::store::audit::AuditEntry;
use shared::store::log::EntryKind;
use shared::store::subjects::Subject;
use shared::store::venues::Venue;
use shared::store::{Store, parse_time};
use time::{Duration, OffsetDateTime};

/// Entries per page of a trace unless `limit` says fewer.
const TRACE_PAGE: usize = 100;
const MAX_TRACE_PAGE: usize = 500;
/// The default and the longest window of a trace.
const DEFAULT_WINDOW: Duration = Duration::days(14);
const MAX_WINDOW: Duration = Duration::days(60);
/// A verification outcome holds a day unless it says otherwise, 30 days at most.
const DEFAULT_VERIFICATION: Duration = Duration::hours(24);
const MAX_VERIFICATION: Duration = Duration::days(30);
const MAX_AREAS: usize = 10_000;

pub struct App {
    pub store: Store,
    pub sessions: SessionKeys,
    pub pii: PiiKeys,
    pub rules: &'static RuleSet,
    pub clock: Clock,
    /// How long log entries are kept: older ones are not traced, deleted or not.
    pub retention: Duration,
}

impl App {
    pub async fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            sessions: SessionKeys::from_env()?,
            pii: PiiKeys::from_env()?,
            rules: RuleSet::embedded(),
            clock: Clock::system(),
            retention: shared::store::log::retention_from_env()?,
            store: Store::from_env().await,
        })
    }
}

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    http::serve(&req, |req| route(app, req)).await
}

async fn route(app: &App, req: &Request) -> HttpResult {
    let segments = http::segments(req);
    let path: Vec<&str> = segments.iter().map(String::as_str).collect();
    if !matches!(path.as_slice(), ["v1", "admin", ..]) {
        return Err(Problem::not_found());
    }
    let known = matches!(
        path.as_slice(),
        ["v1", "admin", "risk-areas" | "risk-persons" | "traces" | "rankings"]
            | ["v1", "admin", "subjects", _, "verification"]
    );
    if !known {
        return Err(Problem::not_found());
    }
    // Authority first: to anyone else every admin route is forbidden, even with a bad body.
    let officer = authority(app, req).await?;
    match (path.as_slice(), req.method()) {
        (["v1", "admin", "risk-areas"], &Method::PUT) => put_risk_areas(app, req, &officer).await,
        (["v1", "admin", "risk-areas"], &Method::GET) => get_risk_areas(app).await,
        (["v1", "admin", "risk-areas"], _) => Err(Problem::method_not_allowed("GET, PUT")),
        (["v1", "admin", "risk-persons"], &Method::POST) => risk_persons(app, req, &officer).await,
        (["v1", "admin", "subjects", subject, "verification"], &Method::POST) => {
            verification(app, req, &officer, subject).await
        }
        (["v1", "admin", "traces"], &Method::GET) => traces(app, req, &officer).await,
        (["v1", "admin", "rankings"], &Method::GET) => rankings(app, req).await,
        (["v1", "admin", "risk-persons" | "subjects", ..], _) => Err(Problem::method_not_allowed("POST")),
        _ => Err(Problem::method_not_allowed("GET")),
    }
}

/// The caller's account id, if it holds the `authority` role now.
async fn authority(app: &App, req: &Request) -> Result<String, Problem> {
    let session = app.sessions.authenticate(req, app.clock.now())?;
    let account = app
        .store
        .get_account(&session.account_id)
        .await?
        .ok_or_else(Problem::unauthenticated)?;
    if account.role_list().contains(&Role::Authority) {
        Ok(account.id)
    } else {
        Err(Problem::forbidden().detail("the health authority's routes need the `authority` role"))
    }
}

async fn audit(
    app: &App,
    officer: &str,
    action: &str,
    target: &str,
    detail: String,
    records: usize,
) -> Result<(), Problem> {
    let entry = AuditEntry {
        officer: officer.to_owned(),
        action: action.to_owned(),
        target: target.to_owned(),
        detail,
        records,
        at: app.clock.now(),
    };
    app.store.audit(&entry).await.map_err(Problem::from)
}

#[derive(Deserialize)]
struct AreasRequest {
    areas: Vec<AreaRequest>,
}

#[derive(Deserialize)]
struct AreaRequest {
    region: String,
    level: RiskLevel,
}

async fn put_risk_areas(app: &App, req: &Request, officer: &str) -> HttpResult {
    let body: AreasRequest = http::parse_json(req, None)?;
    if body.areas.len() > MAX_AREAS {
        return Err(Problem::bad_request(format!("at most {MAX_AREAS} areas")));
    }
    if let Some(index) = body.areas.iter().position(|a| divisions::lookup(&a.region).is_none()) {
        return Err(Problem::bad_request(format!(
            "`areas[{index}].region` is not a division code"
        )));
    }
    let now = app.clock.now();
    let areas = RiskAreas {
        areas: body.areas.into_iter().map(|a| (a.region, a.level)).collect(),
        updated_at: now,
    };
    audit(
        app,
        officer,
        "risk-areas",
        &format!("{} areas", areas.areas.len()),
        String::new(),
        0,
    )
    .await?;
    app.store.put_risk_areas(&areas).await?;
    tracing::info!(areas = areas.areas.len(), "risk areas replaced");
    http::ok(&serde_json::json!({ "areas": areas.areas.len(), "updated_at": rfc3339(now) }))
}

async fn get_risk_areas(app: &App) -> HttpResult {
    let areas = app.store.risk_areas().await?;
    let list: Vec<_> = areas
        .areas
        .iter()
        .map(|(region, level)| serde_json::json!({"region": region, "level": level}))
        .collect();
    http::ok(&serde_json::json!({ "areas": list, "updated_at": rfc3339(areas.updated_at) }))
}

#[derive(Deserialize)]
struct RiskPersonsRequest {
    records: Vec<RiskRow>,
}

async fn risk_persons(app: &App, req: &Request, officer: &str) -> HttpResult {
    let body: RiskPersonsRequest = http::parse_json(req, None)?;
    let now = app.clock.now();
    let refused: Vec<serde_json::Value> = body
        .records
        .iter()
        .enumerate()
        .filter_map(|(index, row)| {
            risk_import::validate(row, now)
                .err()
                .map(|code| serde_json::json!({"index": index, "code": code}))
        })
        .collect();
    if !body.records.is_empty() && refused.len() == body.records.len() {
        // Nothing to apply: the request as a whole does not fit the route.
        return Err(Problem::bad_request("no record is valid").extension("errors", serde_json::Value::Array(refused)));
    }
    let valid = body.records.len() - refused.len();
    audit(
        app,
        officer,
        "risk-persons",
        &format!("{valid} records"),
        String::new(),
        valid,
    )
    .await?;
    let report = risk_import::import(&app.store, &app.pii, body.records.into_iter().enumerate(), now).await?;
    tracing::info!(
        applied = report.applied,
        unmatched = report.unmatched,
        refused = refused.len(),
        "risk persons imported"
    );
    http::ok(&serde_json::json!({ "applied": report.applied, "unmatched": report.unmatched, "errors": refused }))
}

#[derive(Deserialize)]
struct VerificationRequest {
    color: Color,
    reason: String,
    #[serde(default)]
    valid_until: Option<String>,
}

async fn verification(app: &App, req: &Request, officer: &str, subject_id: &str) -> HttpResult {
    let body: VerificationRequest = http::parse_json(req, None)?;
    let now = app.clock.now();
    let reason = shared::domain::text::plain_text(&body.reason, 1, 200)
        .ok_or_else(|| Problem::bad_request("`reason` is 1 to 200 letters, digits, spaces and common punctuation"))?;
    let valid_until = match body.valid_until {
        None => now + DEFAULT_VERIFICATION,
        Some(text) => parse_time(&text)
            .filter(|t| *t > now && *t <= now + MAX_VERIFICATION)
            .ok_or_else(|| Problem::bad_request("`valid_until` is an RFC 3339 time in the next 30 days"))?,
    };
    if !shared::access::is_subject_id(subject_id) {
        return Err(Problem::not_found().detail("no such subject"));
    }
    let verdict = Override {
        color: body.color,
        reason,
        valid_until,
        set_at: now,
        officer: officer.to_owned(),
        rules_version: app.rules.version().to_owned(),
    };
    audit(
        app,
        officer,
        "verification",
        subject_id,
        format!("{:?} until {}", body.color, rfc3339(valid_until)),
        1,
    )
    .await?;
    if !app.store.set_override(subject_id, &verdict).await? {
        return Err(Problem::not_found().detail("no such subject"));
    }
    let subject = app
        .store
        .get_subject(subject_id, true)
        .await?
        .ok_or_else(Problem::not_found)?;
    let areas = app.store.risk_areas().await?;
    let status = app.rules.evaluate(&subject.facts, &areas, now);
    tracing::info!(color = ?verdict.color, "verification recorded");
    http::ok(&serde_json::json!({
        "subject_id": subject_id,
        "verification": {
            "color": verdict.color,
            "valid_until": rfc3339(verdict.valid_until),
            "set_at": rfc3339(verdict.set_at),
            "officer": verdict.officer,
            "rules_version": verdict.rules_version,
        },
        "status": {"color": status.color, "status_text": status.status_text(), "hints": status.hints, "overridden": status.overridden},
    }))
}

/// The time window of a trace: `from` and `to`, 14 days up to now by default.
fn window(req: &Request, now: OffsetDateTime) -> Result<(OffsetDateTime, OffsetDateTime), Problem> {
    let time = |name: &str| -> Result<Option<OffsetDateTime>, Problem> {
        http::query(req, name)
            .map(|v| parse_time(&v).ok_or_else(|| Problem::bad_request(format!("`{name}` must be an RFC 3339 time"))))
            .transpose()
    };
    let to = time("to")?.unwrap_or(now);
    let from = time("from")?.unwrap_or(to - DEFAULT_WINDOW);
    if from > to || to - from > MAX_WINDOW {
        return Err(Problem::bad_request(
            "`from` must precede `to`, at most 60 days before it",
        ));
    }
    Ok((from, to))
}

fn page_size(req: &Request) -> Result<usize, Problem> {
    match http::query(req, "limit") {
        None => Ok(TRACE_PAGE),
        Some(v) => v
            .parse()
            .ok()
            .filter(|n| (1..=MAX_TRACE_PAGE).contains(n))
            .ok_or_else(|| Problem::bad_request(format!("`limit` is 1 to {MAX_TRACE_PAGE}"))),
    }
}

fn cursor(req: &Request) -> Result<Option<String>, Problem> {
    http::query(req, "next")
        .map(|c| {
            B64.decode(c.as_bytes())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .filter(|c| shared::store::log::is_position(c))
                .ok_or_else(|| Problem::bad_request("`next` is not a cursor this route returned"))
        })
        .transpose()
}

#[derive(Serialize)]
struct Person {
    subject_id: String,
    name: String,
    id_number: String,
    phone: Option<String>,
}

fn person(app: &App, subject: &Subject) -> Result<Person, Problem> {
    let revealed = subject.identity.reveal(&app.pii).map_err(|err| {
        tracing::error!(error = %err, "opening a sealed identity failed");
        Problem::internal()
    })?;
    Ok(Person {
        subject_id: subject.identity.subject_id.clone(),
        name: revealed.name,
        id_number: revealed.id_number,
        phone: revealed.phone,
    })
}

fn venue_view(venue: &Venue) -> serde_json::Value {
    serde_json::json!({
        "id": venue.id, "name": venue.name, "address": venue.address, "region": venue.region,
        "category": venue.category, "revoked_at": venue.revoked_at.map(rfc3339),
    })
}

async fn traces(app: &App, req: &Request, officer: &str) -> HttpResult {
    let now = app.clock.now();
    let (from, to) = window(req, now)?;
    let from = from.max(now - app.retention);
    let limit = page_size(req)?;
    let after = cursor(req)?;
    match (http::query(req, "venue_id"), http::query(req, "subject_id")) {
        (Some(venue), None) => venue_trace(app, officer, &venue, from, to, after, limit).await,
        (None, Some(subject)) => subject_trace(app, officer, &subject, from, to, after, limit).await,
        _ => Err(Problem::bad_request("give exactly one of `venue_id` and `subject_id`")),
    }
}

/// Everyone who entered a venue in the window, with full identity.
async fn venue_trace(
    app: &App,
    officer: &str,
    venue_id: &str,
    from: OffsetDateTime,
    to: OffsetDateTime,
    after: Option<String>,
    limit: usize,
) -> HttpResult {
    let valid_id = venue_id.len() <= 64 && venue_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    let venue = if valid_id {
        app.store.get_venue(venue_id).await?
    } else {
        None
    };
    let venue = venue.ok_or_else(|| Problem::not_found().detail("no such venue"))?;
    let page = app
        .store
        .venue_entries(&venue.id, venue.shards, from, to, after.as_deref(), limit)
        .await?;
    let ids: Vec<String> = page
        .entries
        .iter()
        .map(|e| e.subject_id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    audit(
        app,
        officer,
        "trace-venue",
        &venue.id,
        format!("{} to {}", rfc3339(from), rfc3339(to)),
        ids.len(),
    )
    .await?;
    let subjects = app.store.get_subjects(&ids).await?;
    let mut entries = Vec::new();
    for entry in &page.entries {
        let Some(subject) = subjects.get(&entry.subject_id) else {
            continue;
        };
        let Some(at) = parse_time(&entry.at) else { continue };
        let who = person(app, subject)?;
        entries.push(serde_json::json!({
            "entered_at": rfc3339(at), "subject_id": who.subject_id, "name": who.name,
            "id_number": who.id_number, "phone": who.phone, "color": entry.color,
        }));
    }
    tracing::info!(entries = entries.len(), "venue traced");
    http::ok(
        &serde_json::json!({ "venue": venue_view(&venue), "entries": entries, "next": page.next.map(|n| B64.encode(n)) }),
    )
}

/// Every venue a subject entered and every scan of their code in the window.
async fn subject_trace(
    app: &App,
    officer: &str,
    subject_id: &str,
    from: OffsetDateTime,
    to: OffsetDateTime,
    after: Option<String>,
    limit: usize,
) -> HttpResult {
    let subject = if shared::access::is_subject_id(subject_id) {
        app.store.get_subject(subject_id, false).await?
    } else {
        None
    };
    let subject = subject.ok_or_else(|| Problem::not_found().detail("no such subject"))?;
    let all = app.store.subject_entries(subject_id, from, to).await?;
    // Newest first; the cursor is the position `<time>#<entry>` of the last one shown.
    let position = |e: &shared::store::log::Entry| format!("{}#{}", e.at, e.id);
    let remaining: Vec<_> = all
        .into_iter()
        .filter(|e| after.as_deref().is_none_or(|a| position(e).as_str() < a))
        .collect();
    let more = remaining.len() > limit;
    let page: Vec<_> = remaining.into_iter().take(limit).collect();
    let next = if more {
        page.last().map(|e| B64.encode(position(e)))
    } else {
        None
    };
    audit(
        app,
        officer,
        "trace-subject",
        subject_id,
        format!("{} to {}", rfc3339(from), rfc3339(to)),
        1,
    )
    .await?;
    let venue_ids: Vec<String> = page
        .iter()
        .filter_map(|e| e.venue_id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let venues = app.store.get_venues(&venue_ids).await?;
    let mut visits = Vec::new();
    let mut scans = Vec::new();
    for entry in &page {
        let at = parse_time(&entry.at).map(rfc3339);
        match entry.kind {
            EntryKind::Checkin => visits.push(serde_json::json!({
                "entered_at": at, "color": entry.color,
                "venue": entry.venue_id.as_ref().and_then(|v| venues.get(v)).map(venue_view),
            })),
            EntryKind::Scan => scans.push(serde_json::json!({
                "scanned_at": at, "color": entry.color, "region": entry.region, "scanner": entry.account,
            })),
        }
    }
    tracing::info!(visits = visits.len(), scans = scans.len(), "subject traced");
    http::ok(&serde_json::json!({ "subject": person(app, &subject)?, "visits": visits, "scans": scans, "next": next }))
}

async fn rankings(app: &App, req: &Request) -> HttpResult {
    let date = match http::query(req, "date") {
        None => shanghai_day(app.clock.now()),
        Some(d) => iso_date::parse(&d).ok_or_else(|| Problem::bad_request("`date` is YYYY-MM-DD"))?,
    };
    let level = match http::query(req, "level").as_deref() {
        None | Some("city") => Level::City,
        Some("county") => Level::County,
        Some(_) => return Err(Problem::bad_request("`level` is `city` or `county`")),
    };
    let day = iso_date::format(date);
    let rows = app.store.rankings(level, &day).await?;
    http::ok(
        &serde_json::json!({ "date": day, "level": if level == Level::City { "city" } else { "county" }, "rows": rows }),
    )
}

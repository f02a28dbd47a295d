//! Routes of the scan function: the per-scan hot path. A checkpoint scan
//! reads one profile and writes one log entry; a check-in reads the venue
//! and the profile in one batch and writes one entry (and its index entry).
//! A code of another province goes to `foreign`.

use lambda_http::Request;
use lambda_http::http::Method;
use serde::{Deserialize, Serialize};
use shared::config::ConfigError;
use shared::crypto::{IdHasher, keyed_id, random_id};
use shared::domain::day::{iso_date, rfc3339, shanghai_day};
use shared::domain::divisions::{self, Level};
use shared::domain::rules::RuleSet;
use shared::domain::status::Color;
use shared::domain::token::CODE_PREFIX;
use shared::function::{Base, Function};
use shared::http::{self, HttpResult, Problem};
use shared::service::access;
use shared::service::health_code::{self, CodeView};
use shared::service::limits::RateLimiter;
use shared::store::log::{Entry, EntryKind, Logged, Slot};
use shared::store::settings::RiskAreaCache;
use shared::store::together::Wanted;
use shared::store::trust::TrustCache;
use shared::store::venues::{Category, VenueCache};
use shared::store::{parse_time, sort_time};

use crate::answer::answer;
pub use crate::app::App;
use crate::app::{admit, code_problem, invalid_code};

impl Function for App {
    async fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            rules: RuleSet::embedded(),
            areas: RiskAreaCache::from_env()?,
            codes: shared::function::code_keys()?,
            venues: shared::function::venue_keys()?,
            venue_cache: VenueCache::from_env()?,
            retention: shared::store::log::retention_from_env()?,
            limiter: RateLimiter::default(),
            trust: TrustCache::from_env()?,
            ids: IdHasher::from_env()?,
            base: Base::from_env().await?,
        })
    }

    async fn route(&self, req: &Request, path: &[&str]) -> HttpResult {
        let app = self;
        match (path, req.method()) {
            (["v1", "scans"], &Method::POST) => scan(app, req).await,
            (["v1", "checkins"], &Method::POST) => checkin(app, req).await,
            (["v1", "scans" | "checkins"], _) => Err(Problem::method_not_allowed("POST")),
            _ => Err(Problem::not_found()),
        }
    }
}

/// A code, or (for an inspector) an ID number: exactly one of them.
#[derive(Deserialize)]
struct ScanRequest {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    id_number: Option<String>,
    #[serde(default)]
    region: Option<String>,
}

/// A guard scans the code a person shows: the token must be ours and
/// current; the answer is the person's live status, not the token's colour.
async fn scan(app: &App, req: &Request) -> HttpResult {
    let now = app.base.clock.now();
    let session = app.base.sessions.authenticate(req, now)?;
    access::claimed_subject(&app.base.store, &session).await?;
    let body: ScanRequest = http::parse_json(req, None)?;
    let region = match body.region {
        Some(code) if is_hebei_county(&code) => Some(code),
        Some(_) => {
            return Err(Problem::bad_request(
                "`region` must be a county-level division code of Hebei",
            ));
        }
        None => None,
    };
    let code = match (body.code, body.id_number) {
        (Some(code), None) => code,
        (None, Some(id_number)) => return crate::idcard::scan(app, session, &id_number, region, now).await,
        _ => {
            return Err(Problem::invalid("invalid-code", "give either `code` or `id_number`"));
        }
    };
    // Our own codes never wait for the trust list.
    if !code.trim_start().starts_with(CODE_PREFIX) {
        return crate::foreign::scan(app, session, &code, region, now).await;
    }
    let claims = app.codes.verify(&code, now).map_err(code_problem)?;
    admit(app, &session, now).await?;
    let found = app
        .base
        .store
        .read_together(Wanted {
            subject: Some((&claims.subject_id, false)),
            account: Some(&session.account_id),
            ..Wanted::default()
        })
        .await?;
    access::live(&session, found.account)?;
    let subject = found.subject.ok_or_else(invalid_code)?;
    // A paper code is honoured only while it is its subject's latest.
    claims.current(subject.paper_v).map_err(code_problem)?;
    answer(app, session, &subject, region, None, now).await
}

fn is_hebei_county(code: &str) -> bool {
    divisions::lookup(code).is_some_and(|d| d.level == Level::County && divisions::is_hebei(d.code))
}

#[derive(Deserialize)]
struct CheckinRequest {
    venue_code: String,
    #[serde(default)]
    subject_id: Option<String>,
}

#[derive(Serialize)]
struct CheckinResponse {
    venue: VenueView,
    entered_at: String,
    code: VisitorCode,
}

#[derive(Serialize)]
struct VenueView {
    id: String,
    name: String,
    address: String,
    category: Category,
}

/// The visitor's code as the staff at the door see it.
#[derive(Serialize)]
struct VisitorCode {
    color: Color,
    status_text: &'static str,
    hints: Vec<String>,
    name_masked: String,
    qr: String,
    qr_svg: String,
    expires_at: String,
}

impl From<CodeView> for VisitorCode {
    fn from(v: CodeView) -> Self {
        Self {
            color: v.color,
            status_text: v.status_text,
            hints: v.hints,
            name_masked: v.name_masked,
            qr: v.qr,
            qr_svg: v.qr_svg,
            expires_at: v.expires_at,
        }
    }
}

fn invalid_venue_code() -> Problem {
    Problem::invalid("invalid-venue-code", "the venue code is forged or malformed")
}

/// A visitor scans a venue's code: the entry is logged and the visitor's own
/// code is returned for the staff at the door to check.
async fn checkin(app: &App, req: &Request) -> HttpResult {
    let now = app.base.clock.now();
    let session = app.base.sessions.authenticate(req, now)?;
    let own = access::claimed_subject(&app.base.store, &session).await?;
    // With an `Idempotency-Key`, a retry that day names the entry the first attempt wrote.
    let (entry_id, slot) = match http::idempotency_key(req)? {
        Some(key) => (keyed_id("e_", "checkin", &session.account_id, key), Slot::Day),
        None => (random_id("e_"), Slot::Exact),
    };
    let body: CheckinRequest = http::parse_json(req, None)?;
    let venue_id = app.venues.verify(&body.venue_code).map_err(|_| invalid_venue_code())?;
    let subject_id = access::requested_subject(&own, body.subject_id.as_deref())?;
    admit(app, &session, now).await?;

    // One call reads the venue, the profile and the caller's account (half
    // a read unit each); a cached venue saves its read.
    let cached = app.venue_cache.get(&venue_id);
    let found = app
        .base
        .store
        .read_together(Wanted {
            venue: cached.is_none().then_some(venue_id.as_str()),
            subject: Some((&subject_id, false)),
            account: Some(&session.account_id),
        })
        .await?;
    access::live(&session, found.account)?;
    if let Some(venue) = &found.venue {
        app.venue_cache.put(venue);
    }
    let (venue, subject) = (cached.or(found.venue), found.subject);
    let venue = venue.ok_or_else(invalid_venue_code)?;
    if venue.revoked_at.is_some() {
        return Err(shared::service::assisted::venue_revoked());
    }
    let subject = access::authorize(&session, &own, subject)?;
    let areas = app.areas.get(&app.base.store).await?;
    let status = health_code::live_status(app.rules, &subject, &areas, now);
    let code = health_code::show(&app.codes, &subject, &status, now)?;

    let entry = Entry {
        id: entry_id,
        kind: EntryKind::Checkin,
        subject_id: subject_id.clone(),
        account: session.account_id.clone(),
        at: sort_time(now),
        day: iso_date::format(shanghai_day(now)),
        region: Some(venue.region.clone()),
        venue_id: Some(venue.id.clone()),
        color: status.color,
        name_masked: subject.identity.name_masked.clone(),
        method: None,
    };
    let logged = app
        .base
        .store
        .log_entry(&entry, slot, Some(venue.shards), now + app.retention)
        .await?;
    let repeat = matches!(logged, Logged::Exists);
    let entered_at = match logged {
        Logged::Written => now,
        Logged::Exists => {
            let first = app
                .base
                .store
                .entry(&entry.subject_id, &entry.at, slot, &entry.id)
                .await?
                .ok_or_else(|| Problem::unavailable().detail("the entry is being written: retry"))?;
            if first.venue_id != entry.venue_id {
                return Err(Problem::conflict("idempotency-key-reused", "Idempotency key reused")
                    .detail("this Idempotency-Key was used for another check-in"));
            }
            parse_time(&first.at).unwrap_or(now)
        }
    };
    shared::metrics::check_in(status.color, repeat);
    tracing::info!(color = ?status.color, "checked in");
    http::created(&CheckinResponse {
        venue: VenueView {
            id: venue.id,
            name: venue.name,
            address: venue.address,
            category: venue.category,
        },
        entered_at: rfc3339(entered_at),
        code: code.into(),
    })
}

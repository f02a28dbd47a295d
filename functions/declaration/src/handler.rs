//! Routes of the declaration function.

use std::time::Duration as StdDuration;

use lambda_http::Request;
use lambda_http::http::Method;
use serde::Serialize;
use shared::config::ConfigError;
use shared::crypto::{keyed_id, random_id, random_u32};
use shared::domain::day::{iso_date, rfc3339, shanghai_day, start_of_day_utc};
use shared::domain::declaration::{self, DeclarationRequest};
use shared::domain::rules::RuleSet;
use shared::domain::status::{Color, Status};
use shared::function::{Base, Function};
use shared::http::{self, HttpResult, Problem};
use shared::service::access;
use shared::store::accounts::Identity;
use shared::store::settings::RiskAreaCache;
use shared::store::subjects::{DeclarationRecord, DeclarationWrite};
use time::{Duration, OffsetDateTime};

pub use crate::app::App;

/// Declarations a subject may file per Shanghai day (to correct a wrong one).
pub const DAILY_LIMIT: u32 = 3;

/// How often a declaration that lost a race with another write retries.
const ATTEMPTS: usize = 20;

impl Function for App {
    async fn from_env() -> Result<Self, ConfigError> {
        let days: i64 = shared::config::parse_or("HC_DECLARATION_RETENTION_DAYS", 30)?;
        if days < 14 {
            // The rules and the person's own list look 14 days back.
            return Err(ConfigError::new("HC_DECLARATION_RETENTION_DAYS", "must be at least 14"));
        }
        Ok(Self {
            rules: RuleSet::embedded(),
            areas: RiskAreaCache::from_env()?,
            retention: Duration::days(days),
            base: Base::from_env().await?,
        })
    }

    async fn route(&self, req: &Request, path: &[&str]) -> HttpResult {
        let app = self;
        match (path, req.method()) {
            (["v1", "declarations"], &Method::POST) => declare(app, req).await,
            (["v1", "declarations"], &Method::GET) => list(app, req).await,
            (["v1", "declarations"], _) => Err(Problem::method_not_allowed("GET, POST")),
            (["v1", "appeals"], &Method::POST) => crate::appeals::file(app, req).await,
            (["v1", "appeals"], &Method::GET) => crate::appeals::list(app, req).await,
            (["v1", "appeals"], _) => Err(Problem::method_not_allowed("GET, POST")),
            _ => Err(Problem::not_found()),
        }
    }
}

#[derive(Serialize)]
struct DeclareResponse {
    declaration: DeclarationRef,
    remaining_today: u32,
    status: StatusView,
}

#[derive(Serialize)]
struct DeclarationRef {
    id: String,
    declared_at: String,
}

#[derive(Serialize)]
struct StatusView {
    color: Color,
    status_text: &'static str,
    hints: Vec<String>,
}

async fn declare(app: &App, req: &Request) -> HttpResult {
    let now = app.base.clock.now();
    let session = app.base.sessions.authenticate(req, now)?;
    access::claimed_subject(&app.base.store, &session).await?;
    let body: DeclarationRequest = http::parse_json(req, Some("invalid-declaration"))?;
    let requested = body.subject_id.clone();
    let decl = declaration::validate(body).map_err(|e| Problem::invalid("invalid-declaration", e.to_string()))?;
    let day = iso_date::format(shanghai_day(now));
    // With an `Idempotency-Key`, a retry names the declaration the first attempt filed.
    let id = match http::idempotency_key(req)? {
        Some(key) => keyed_id("d_", "declaration", &session.account_id, key),
        None => random_id("d_"),
    };

    for _ in 0..ATTEMPTS {
        let subject = access::subject_for(&app.base.store, &session, requested.as_deref(), true).await?;
        let count = subject.declarations_on(&day);
        if let Some(filed) = subject.last_declaration.as_ref().filter(|d| d.id == id) {
            // The first attempt was filed and its answer lost: answer it again.
            let areas = app.areas.get(&app.base.store).await?;
            let status = app.rules.evaluate(&subject.facts, &areas, now);
            let filed_today = subject.declarations_on(&iso_date::format(shanghai_day(filed.at)));
            return answer(&filed.id, filed.at, DAILY_LIMIT.saturating_sub(filed_today), &status);
        }
        if count >= DAILY_LIMIT {
            return Err(Problem::too_many("declaration-limit", "Declaration limit reached")
                .detail(format!("at most {DAILY_LIMIT} declarations per subject per day")));
        }
        let mut facts = subject.facts.clone();
        app.rules.record(&mut facts, &decl, now);
        let areas = app.areas.get(&app.base.store).await?;
        let status = app.rules.evaluate(&facts, &areas, now);
        let record = DeclarationRecord {
            id: id.clone(),
            subject_id: subject.identity.subject_id.clone(),
            declared_at: now,
            day: day.clone(),
            region: decl.region().to_owned(),
            temperature: decl.temperature(),
            symptoms: decl.symptoms().to_vec(),
            close_contact: decl.close_contact(),
            visited_regions: decl.visited_regions().to_vec(),
            from_abroad: decl.from_abroad(),
            by: session.account_id.clone(),
            by_name_masked: declared_by_guardian(&subject.identity, &session.account_id),
            color: status.color,
            rules_version: status.rules_version.clone(),
        };
        let write = DeclarationWrite {
            subject_id: &subject.identity.subject_id,
            read_ver: subject.ver,
            facts: &facts,
            status: &status,
            day: &day,
            count: count + 1,
            region: decl.region(),
            record: &record,
            expires: now + app.retention,
        };
        if app.base.store.record_declaration(&write).await? {
            tracing::info!(color = ?status.color, rules_version = %status.rules_version, "declaration recorded");
            shared::metrics::declaration(status.color);
            return answer(&record.id, now, DAILY_LIMIT - (count + 1), &status);
        }
        // Another write to this subject came first: read again and retry.
        tokio::time::sleep(StdDuration::from_millis(5 + u64::from(random_u32() % 20))).await;
    }
    Err(Problem::unavailable())
}

fn answer(id: &str, declared_at: OffsetDateTime, remaining_today: u32, status: &Status) -> HttpResult {
    http::created(&DeclareResponse {
        declaration: DeclarationRef {
            id: id.to_owned(),
            declared_at: rfc3339(declared_at),
        },
        remaining_today,
        status: StatusView {
            color: status.color,
            status_text: status.status_text(),
            hints: status.hints.clone(),
        },
    })
}

#[derive(Serialize)]
struct DeclarationView {
    id: String,
    declared_at: String,
    region: String,
    temperature: f64,
    symptoms: Vec<shared::domain::declaration::Symptom>,
    close_contact: bool,
    visited_regions: Vec<String>,
    from_abroad: bool,
    color: Color,
    /// `self`, or `guardian` with the guardian's masked name.
    declared_by: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name_masked: Option<String>,
}

/// The masked name of the guardian declaring for a subject; `None` when the
/// subject's owner declares. Kept on the declaration, so that the listing
/// names who declared even after that guardian is removed.
fn declared_by_guardian(identity: &Identity, account: &str) -> Option<String> {
    if identity.owner.as_deref() == Some(account) {
        return None;
    }
    identity.guardians.get(account).map(|g| g.name_masked.clone())
}

/// The subject's declarations of the last 14 Shanghai days (today and the
/// 13 before), newest first.
async fn list(app: &App, req: &Request) -> HttpResult {
    let now = app.base.clock.now();
    let session = app.base.sessions.authenticate(req, now)?;
    let requested = http::query(req, "subject_id");
    let subject = access::subject_for(&app.base.store, &session, requested.as_deref(), false).await?;
    let from = start_of_day_utc(shanghai_day(now) - Duration::days(13));
    let records = app
        .base
        .store
        .declarations_since(&subject.identity.subject_id, from)
        .await?;
    let declarations: Vec<_> = records
        .into_iter()
        .map(|r| DeclarationView {
            id: r.id,
            declared_at: rfc3339(r.declared_at),
            region: r.region,
            temperature: r.temperature,
            symptoms: r.symptoms,
            close_contact: r.close_contact,
            visited_regions: r.visited_regions,
            from_abroad: r.from_abroad,
            color: r.color,
            declared_by: if r.by_name_masked.is_some() || subject.identity.owner.as_deref() != Some(r.by.as_str()) {
                "guardian"
            } else {
                "self"
            },
            name_masked: r.by_name_masked,
        })
        .collect();
    http::ok(&serde_json::json!({ "declarations": declarations }))
}

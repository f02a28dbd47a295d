//! Routes of the admin function. Every route re-reads the caller's roles
//! from the store, so a revoked role stops working at once.

use lambda_http::Request;
use lambda_http::http::Method;
use serde::Deserialize;
use shared::config::ConfigError;
use shared::crypto::PiiKeys;
use shared::domain::day::{iso_date, rfc3339, shanghai_day};
use shared::domain::divisions;
use shared::domain::ranking::Ranked;
use shared::domain::role::Role;
use shared::domain::rules::RuleSet;
use shared::domain::status::{Color, Override, RiskAreas, RiskLevel};
use shared::function::{Base, Function};
use shared::http::{self, HttpResult, Problem};
use shared::service::access;
// A verification outcome holds a day unless it says otherwise, 30 days at most.
use shared::service::appeals::{DEFAULT_VERIFICATION, MAX_VERIFICATION};
use shared::service::risk_import::{self, RiskRow};
use shared::store::parse_time;

pub use crate::app::App;
use crate::app::audit;

const MAX_AREAS: usize = 10_000;

impl Function for App {
    async fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            pii: PiiKeys::from_env()?,
            rules: RuleSet::embedded(),
            retention: shared::store::log::retention_from_env()?,
            base: Base::from_env().await?,
        })
    }

    async fn route(&self, req: &Request, path: &[&str]) -> HttpResult {
        let app = self;
        if !matches!(path, ["v1", "admin", ..]) {
            return Err(Problem::not_found());
        }
        let known = matches!(
            path,
            [
                "v1",
                "admin",
                "risk-areas" | "risk-persons" | "traces" | "rankings" | "appeals" | "subjects" | "venues"
            ] | ["v1", "admin", "subjects", _, "verification"]
                | ["v1", "admin", "appeals" | "venues", _]
                | ["v1", "admin", "exposures", ..]
        );
        if !known {
            return Err(Problem::not_found());
        }
        // Authority first: to anyone else every admin route is forbidden, even with a bad body.
        let officer = authority(app, req).await?;
        match (path, req.method()) {
            (["v1", "admin", "exposures", rest @ ..], _) => crate::exposures::route(app, req, &officer, rest).await,
            (["v1", "admin", "risk-areas"], &Method::PUT) => put_risk_areas(app, req, &officer).await,
            (["v1", "admin", "risk-areas"], &Method::GET) => get_risk_areas(app).await,
            (["v1", "admin", "risk-areas"], _) => Err(Problem::method_not_allowed("GET, PUT")),
            (["v1", "admin", "risk-persons"], &Method::POST) => risk_persons(app, req, &officer).await,
            (["v1", "admin", "subjects", subject, "verification"], &Method::POST) => {
                verification(app, req, &officer, subject).await
            }
            (["v1", "admin", "traces"], &Method::GET) => {
                let tracer = crate::traces::Tracer {
                    store: &app.base.store,
                    pii: &app.pii,
                    retention: app.retention,
                    now: app.base.clock.now(),
                };
                crate::traces::traces(&tracer, req, &officer).await
            }
            (["v1", "admin", "rankings"], &Method::GET) => rankings(app, req).await,
            (["v1", "admin", "appeals"], &Method::GET) => crate::appeals::queue(app, req, &officer).await,
            (["v1", "admin", "appeals", id], &Method::POST) => crate::appeals::decide(app, req, &officer, id).await,
            (["v1", "admin", "appeals", _], _) => Err(Problem::method_not_allowed("POST")),
            (["v1", "admin", "subjects"], &Method::GET) => crate::find::subject(app, req, &officer).await,
            (["v1", "admin", "venues"], &Method::GET) => crate::find::search(app, req).await,
            (["v1", "admin", "venues", venue], &Method::DELETE) => crate::find::revoke(app, &officer, venue).await,
            (["v1", "admin", "venues", _], _) => Err(Problem::method_not_allowed("DELETE")),
            (["v1", "admin", "risk-persons"] | ["v1", "admin", "subjects", _, ..], _) => {
                Err(Problem::method_not_allowed("POST"))
            }
            _ => Err(Problem::method_not_allowed("GET")),
        }
    }
}

/// The caller's account id, if it holds the `authority` role now.
async fn authority(app: &App, req: &Request) -> Result<String, Problem> {
    let (_, account) = access::caller(&app.base.store, &app.base.sessions, req, app.base.clock.now()).await?;
    if account.role_list().contains(&Role::Authority) {
        Ok(account.id)
    } else {
        Err(Problem::forbidden().detail("the health authority's routes need the `authority` role"))
    }
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
    let now = app.base.clock.now();
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
    app.base.store.put_risk_areas(&areas).await?;
    tracing::info!(areas = areas.areas.len(), "risk areas replaced");
    http::ok(&serde_json::json!({ "areas": areas.areas.len(), "updated_at": rfc3339(now) }))
}

async fn get_risk_areas(app: &App) -> HttpResult {
    let areas = app.base.store.risk_areas().await?;
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
    let now = app.base.clock.now();
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
    let report = risk_import::import(&app.base.store, &app.pii, body.records.into_iter().enumerate(), now).await?;
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
    let now = app.base.clock.now();
    let reason = shared::domain::text::plain_text(&body.reason, 1, 200)
        .ok_or_else(|| Problem::bad_request("`reason` is 1 to 200 letters, digits, spaces and common punctuation"))?;
    let valid_until = match body.valid_until {
        None => now + DEFAULT_VERIFICATION,
        Some(text) => parse_time(&text)
            .filter(|t| *t > now && *t <= now + MAX_VERIFICATION)
            .ok_or_else(|| Problem::bad_request("`valid_until` is an RFC 3339 time in the next 30 days"))?,
    };
    if !shared::service::access::is_subject_id(subject_id) {
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
    if !app.base.store.set_override(subject_id, &verdict).await? {
        return Err(Problem::not_found().detail("no such subject"));
    }
    let subject = app
        .base
        .store
        .get_subject(subject_id, true)
        .await?
        .ok_or_else(Problem::not_found)?;
    let areas = app.base.store.risk_areas().await?;
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

async fn rankings(app: &App, req: &Request) -> HttpResult {
    let date = match http::query(req, "date") {
        None => shanghai_day(app.base.clock.now()),
        Some(d) => iso_date::parse(&d).ok_or_else(|| Problem::bad_request("`date` is YYYY-MM-DD"))?,
    };
    let ranked = match http::query(req, "level") {
        None => Ranked::City,
        Some(level) => {
            Ranked::parse(&level).ok_or_else(|| Problem::bad_request("`level` is `city`, `county` or `unit`"))?
        }
    };
    let day = iso_date::format(date);
    let rows = app.base.store.rankings(ranked, &day).await?;
    http::ok(&serde_json::json!({ "date": day, "level": ranked.as_str(), "rows": rows }))
}

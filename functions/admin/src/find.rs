//! Where a trace starts: `GET /v1/admin/subjects?id_number=` (a person by
//! ID number), `GET /v1/admin/venues?region=&q=` (a county's venues by a
//! part of the name) and `DELETE /v1/admin/venues/{venue_id}` (revoking a
//! venue code), over `shared::service::find`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use lambda_http::Request;
use shared::domain::day::{rfc3339, shanghai_day};
use shared::domain::identity::IdNumber;
use shared::http::{self, HttpResult, Problem};
use shared::service::find::{self, Revoked};
use shared::service::trace::Reader;
use shared::store::venues::{self, Listing, Search};

use crate::handler::App;
use crate::traces::{person_view, trace_problem};

/// Venues per page unless `limit` says fewer.
const VENUE_PAGE: usize = 50;
const MAX_VENUE_PAGE: usize = 100;
/// Index entries one page reads at most when a name filter leaves most out:
/// about 1.25 MB of entries in four calls, about 160 read units
/// (docs/data-model.md).
const VENUE_BUDGET: usize = 4000;

/// The `id_number` query parameter, validated like any ID number (422
/// `invalid-id-number`); `None` when absent.
pub fn id_number(req: &Request, now: time::OffsetDateTime) -> Result<Option<IdNumber>, Problem> {
    http::query(req, "id_number")
        .map(|raw| {
            IdNumber::parse(raw.trim(), shanghai_day(now))
                .map_err(|e| Problem::invalid("invalid-id-number", e.to_string()))
        })
        .transpose()
}

pub async fn subject(app: &App, req: &Request, officer: &str) -> HttpResult {
    let now = app.base.clock.now();
    let id = id_number(req, now)?.ok_or_else(|| Problem::bad_request("`id_number` is required"))?;
    let reader = Reader { officer, now };
    let found = find::subject(&app.base.store, &app.pii, &reader, &id)
        .await
        .map_err(trace_problem)?
        .ok_or_else(|| Problem::not_found().detail("no one has registered this ID number"))?;
    let areas = app.base.store.risk_areas().await?;
    let status = app.rules.evaluate(&found.subject.facts, &areas, now);
    let mut view = person_view(&found.person);
    view["color"] = serde_json::json!(status.color);
    view["registered"] = found.registered().into();
    tracing::info!("subject found by ID number");
    http::ok(&serde_json::json!({ "subject": view }))
}

fn listing_view(venue: &Listing) -> serde_json::Value {
    serde_json::json!({
        "id": venue.id, "name": venue.name, "address": venue.address, "region": venue.region,
        "category": venue.category, "created_at": rfc3339(venue.created_at), "revoked": venue.revoked_at.is_some(),
    })
}

pub async fn search(app: &App, req: &Request) -> HttpResult {
    let region = http::query(req, "region")
        .filter(|r| find::is_county(r))
        .ok_or_else(|| Problem::bad_request("`region` is the code of a Hebei county"))?;
    let name_part = http::query(req, "q")
        .map(|q| {
            find::name_part(&q).ok_or_else(|| {
                Problem::bad_request(format!(
                    "`q` is 1 to {} letters, digits, spaces and common punctuation",
                    find::MAX_NAME_PART
                ))
            })
        })
        .transpose()?;
    let limit = match http::query(req, "limit") {
        None => VENUE_PAGE,
        Some(v) => v
            .parse()
            .ok()
            .filter(|n| (1..=MAX_VENUE_PAGE).contains(n))
            .ok_or_else(|| Problem::bad_request(format!("`limit` is 1 to {MAX_VENUE_PAGE}")))?,
    };
    let after = http::query(req, "next")
        .map(|c| {
            B64.decode(c.as_bytes())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .filter(|c| venues::is_listed(c))
                .ok_or_else(|| Problem::bad_request("`next` is not a cursor this route returned"))
        })
        .transpose()?;
    let search = Search {
        region: &region,
        name_part: name_part.as_deref(),
        after: after.as_deref(),
        limit,
        budget: VENUE_BUDGET,
    };
    let page = find::venues(&app.base.store, &search).await?;
    tracing::info!(venues = page.venues.len(), "venues searched");
    http::ok(&serde_json::json!({
        "venues": page.venues.iter().map(listing_view).collect::<Vec<_>>(),
        "next": page.next.map(|n| B64.encode(n)),
    }))
}

pub async fn revoke(app: &App, officer: &str, venue_id: &str) -> HttpResult {
    let reader = Reader {
        officer,
        now: app.base.clock.now(),
    };
    match find::revoke_venue(&app.base.store, &reader, venue_id).await? {
        Revoked::Now => {
            tracing::info!("venue revoked by the authority");
            http::no_content()
        }
        Revoked::Already => http::no_content(),
        Revoked::NoVenue => Err(Problem::not_found().detail("no such venue")),
    }
}

//! Where a trace starts: `GET /v1/admin/subjects?id_number=` (a person by
//! ID number), `GET /v1/admin/venues?region=&q=` (a county's venues by a
//! part of the name) and `DELETE /v1/admin/venues/{venue_id}` (revoking a
//! venue code), over `shared::service::find`.

use lambda_http::Request;
use shared::domain::identity::IdNumber;
use shared::http::{self, HttpResult, Problem};
use shared::service::find::{self, Revoked};
use shared::service::identity;
use shared::service::trace::Reader;
use shared::store::venues::{self, Search};

use crate::app::App;
use crate::app::trace_problem;

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
        .map(|raw| identity::id_number(&raw, now))
        .transpose()
}

pub async fn subject(app: &App, req: &Request, officer: &str) -> HttpResult {
    let now = app.base.clock.now();
    let id = id_number(req, now)?.ok_or_else(|| Problem::bad_request("`id_number` is required"))?;
    let reader = Reader { officer, now };
    let found = find::subject(&app.base.store, &app.pii, app.rules, &reader, &id)
        .await
        .map_err(trace_problem)?
        .ok_or_else(|| Problem::not_found().detail("no one has registered this ID number"))?;
    tracing::info!("subject found by ID number");
    http::ok(&serde_json::json!({ "subject": found.json() }))
}

pub async fn search(app: &App, req: &Request) -> HttpResult {
    let region = http::query(req, "region")
        .filter(|r| find::is_county(r))
        .ok_or_else(|| Problem::bad_request("`region` is the code of a Hebei county"))?;
    let name_part = http::query(req, "q").map(|q| find::name_part(&q)).transpose()?;
    let limit = http::page_limit(req, VENUE_PAGE, MAX_VENUE_PAGE)?;
    let after = http::cursor(req, venues::is_listed)?;
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
        "venues": page.venues.iter().map(find::listing_json).collect::<Vec<_>>(),
        "next": http::next_cursor(page.next),
    }))
}

pub async fn revoke(app: &App, officer: &str, venue_id: &str) -> HttpResult {
    let now = app.base.clock.now();
    match find::revoke_venue(&app.base.store, &Reader { officer, now }, venue_id).await? {
        Revoked::NoVenue => Err(Problem::not_found().detail("no such venue")),
        Revoked::Now | Revoked::Already => http::no_content(),
    }
}

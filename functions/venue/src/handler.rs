//! Routes of the venue function.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use lambda_http::http::{Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use poster::PosterText;
use serde::{Deserialize, Serialize};
use shared::config::ConfigError;
use shared::crypto::{PiiKeys, keyed_id, random_id};
use shared::domain::day::rfc3339;
use shared::domain::divisions::{self, Level};
use shared::domain::rules::RuleSet;
use shared::domain::status::Color;
use shared::domain::text::plain_text;
use shared::function::{Base, Function};
use shared::http::{self, HttpResult, Problem};
use shared::store::parse_time;
use shared::store::settings::RiskAreaCache;
use shared::store::venues::{Category, Venue};
use time::{Duration, OffsetDateTime};

pub use crate::app::App;
use crate::app::{my_venue, verified};

/// Entries per page of `GET /v1/venues/mine/checkins` unless `limit` says fewer.
const PAGE: usize = 50;
const MAX_PAGE: usize = 200;

impl Function for App {
    async fn from_env() -> Result<Self, ConfigError> {
        let shards: u32 = shared::config::parse_or("HC_VENUE_LOG_SHARDS", 4)?;
        if !(1..=64).contains(&shards) {
            return Err(ConfigError::new("HC_VENUE_LOG_SHARDS", "must be between 1 and 64"));
        }
        Ok(Self {
            keys: shared::function::venue_keys()?,
            pii: PiiKeys::from_env()?,
            rules: RuleSet::embedded(),
            areas: RiskAreaCache::from_env()?,
            shards,
            retention: shared::store::log::retention_from_env()?,
            base: Base::from_env().await?,
        })
    }

    async fn route(&self, req: &Request, path: &[&str]) -> HttpResult {
        let app = self;
        match (path, req.method()) {
            (["v1", "venues"], &Method::POST) => create(app, req).await,
            (["v1", "venues"], _) => Err(Problem::method_not_allowed("POST")),
            (["v1", "venues", "mine"], &Method::GET) => mine(app, req).await,
            (["v1", "venues", "mine"], &Method::DELETE) => revoke(app, req).await,
            (["v1", "venues", "mine"], _) => Err(Problem::method_not_allowed("GET, DELETE")),
            (["v1", "venues", "mine", "poster"], &Method::GET) => poster(app, req).await,
            (["v1", "venues", "mine", "checkins"], &Method::GET) => checkins(app, req).await,
            (["v1", "venues", "mine", "checkins"], &Method::POST) => crate::assisted::record(app, req).await,
            (["v1", "venues", "mine", "checkins"], _) => Err(Problem::method_not_allowed("GET, POST")),
            (["v1", "venues", "mine", "poster"], _) => Err(Problem::method_not_allowed("GET")),
            _ => Err(Problem::not_found()),
        }
    }
}

#[derive(Deserialize)]
struct CreateRequest {
    name: String,
    address: String,
    region: String,
    category: Category,
}

#[derive(Serialize)]
struct VenueView<'a> {
    id: &'a str,
    name: &'a str,
    address: &'a str,
    region: &'a str,
    category: Category,
    created_at: String,
}

impl<'a> VenueView<'a> {
    fn of(venue: &'a Venue) -> Self {
        Self {
            id: &venue.id,
            name: &venue.name,
            address: &venue.address,
            region: &venue.region,
            category: venue.category,
            created_at: rfc3339(venue.created_at),
        }
    }
}

fn invalid(detail: &str) -> Problem {
    Problem::invalid("invalid-venue", detail)
}

/// Free text printed on a poster (see `shared::domain::text`).
fn text(value: &str, field: &str, min: usize, max: usize) -> Result<String, Problem> {
    plain_text(value, min, max).ok_or_else(|| {
        invalid(&format!(
            "`{field}` must be {min} to {max} letters, digits, spaces and common punctuation"
        ))
    })
}

async fn create(app: &App, req: &Request) -> HttpResult {
    let session = verified(app, req).await?;
    let body: CreateRequest = http::parse_json(req, Some("invalid-venue"))?;
    let name = text(&body.name, "name", 2, 50)?;
    let address = text(&body.address, "address", 2, 100)?;
    let county = divisions::lookup(&body.region).filter(|d| d.level == Level::County && divisions::is_hebei(d.code));
    if county.is_none() {
        return Err(invalid("`region` must be a county-level division code of Hebei"));
    }
    // With an `Idempotency-Key`, a retry names the venue the first attempt created.
    let id = match http::idempotency_key(req)? {
        Some(key) => keyed_id("v_", "venue", &session.account_id, key),
        None => random_id("v_"),
    };
    let venue = Venue {
        id,
        owner: session.account_id.clone(),
        name,
        address,
        region: body.region,
        category: body.category,
        created_at: app.base.clock.now(),
        revoked_at: None,
        shards: app.shards,
    };
    if !app.base.store.create_venue(&venue).await? {
        if let Some(created) = app
            .base
            .store
            .venue_of(&session.account_id)
            .await?
            .filter(|v| v.id == venue.id)
        {
            // The first attempt created it and its answer was lost: answer it again.
            return http::created(
                &serde_json::json!({ "venue": VenueView::of(&created), "qr": app.keys.code(&created.id) }),
            );
        }
        return Err(Problem::conflict("venue-exists", "Venue exists")
            .detail("each applicant holds one venue code; revoke it to apply again"));
    }
    tracing::info!(category = ?venue.category, "venue created");
    http::created(&serde_json::json!({ "venue": VenueView::of(&venue), "qr": app.keys.code(&venue.id) }))
}

async fn mine(app: &App, req: &Request) -> HttpResult {
    let (venue, _) = my_venue(app, req).await?;
    http::ok(&serde_json::json!({ "venue": VenueView::of(&venue), "qr": app.keys.code(&venue.id) }))
}

async fn revoke(app: &App, req: &Request) -> HttpResult {
    let (venue, _) = my_venue(app, req).await?;
    if !app.base.store.revoke_venue(&venue, app.base.clock.now()).await? {
        return Err(Problem::not_found().detail("the caller holds no venue code"));
    }
    tracing::info!("venue revoked");
    http::no_content()
}

async fn poster(app: &App, req: &Request) -> HttpResult {
    // The caller first: a bad parameter without a valid session is a 401.
    let (venue, _) = my_venue(app, req).await?;
    let format = http::query(req, "format").unwrap_or_else(|| "svg".to_owned());
    if format != "svg" && format != "png" {
        return Err(Problem::bad_request("`format` is `svg` or `png`"));
    }
    let text = PosterText {
        name: &venue.name,
        address: &venue.address,
        category_label: venue.category.label(),
    };
    let qr = app.keys.code(&venue.id);
    let failed = |err: poster::PosterError| {
        tracing::error!(error = %err, "drawing a poster failed");
        Problem::internal()
    };
    let (content_type, body) = if format == "png" {
        (
            "image/png",
            Body::Binary(poster::poster_png(&text, &qr).map_err(failed)?),
        )
    } else {
        (
            "image/svg+xml",
            Body::Text(poster::poster_svg(&text, &qr).map_err(failed)?),
        )
    };
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type)
        .header(
            header::CONTENT_DISPOSITION,
            format!("inline; filename=\"venue-code.{format}\""),
        )
        .header(header::CACHE_CONTROL, "private, max-age=3600")
        .body(body)
        .expect("valid response"))
}

#[derive(Serialize)]
struct EntryView {
    entered_at: String,
    name_masked: String,
    color: Color,
}

/// Entries at the caller's venue, newest first, paginated by `next`.
async fn checkins(app: &App, req: &Request) -> HttpResult {
    let (venue, _) = my_venue(app, req).await?;
    let now = app.base.clock.now();
    let time_param = |name: &str| -> Result<Option<OffsetDateTime>, Problem> {
        http::query(req, name)
            .map(|v| parse_time(&v).ok_or_else(|| Problem::bad_request(format!("`{name}` must be an RFC 3339 time"))))
            .transpose()
    };
    let to = time_param("to")?.unwrap_or(now);
    let from = time_param("from")?
        .unwrap_or(to - Duration::hours(24))
        .max(now - app.retention);
    if from > to {
        return Err(Problem::bad_request("`from` must not be after `to`"));
    }
    let limit = match http::query(req, "limit") {
        None => PAGE,
        Some(v) => v
            .parse()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| Problem::bad_request(format!("`limit` is 1 to {MAX_PAGE}")))?,
    };
    let after = match http::query(req, "next") {
        None => None,
        Some(cursor) => Some(
            B64.decode(cursor.as_bytes())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .filter(|c| shared::store::log::is_position(c))
                .ok_or_else(|| Problem::bad_request("`next` is not a cursor this route returned"))?,
        ),
    };
    let page = app
        .base
        .store
        .venue_entries(&venue.id, venue.shards, from, to, after.as_deref(), limit)
        .await?;
    let entries: Vec<EntryView> = page
        .entries
        .into_iter()
        .filter_map(|e| {
            parse_time(&e.at).map(|at| EntryView {
                entered_at: rfc3339(at),
                name_masked: e.name_masked,
                color: e.color,
            })
        })
        .collect();
    http::ok(&serde_json::json!({ "entries": entries, "next": page.next.map(|n| B64.encode(n)) }))
}

//! `POST /v1/verify`: a partner system (another province's platform, a
//! border checkpoint's system) checks one of our codes and gets the live
//! status, as GB/T 38963-2020's code verification (验码) interface does.
//!
//! The caller is a partner named by its `X-Api-Key` (`hcctl partners add`),
//! looked up in the partner list the function keeps for at most
//! `HC_TRUST_TTL_SECONDS`; each partner may make 50 calls a second across
//! instances. Every call is logged with the partner's name, never its key.
//! A valid code costs one read of the profile (half a read unit).

use lambda_http::Request;
use serde::{Deserialize, Serialize};
use shared::domain::day::rfc3339;
use shared::domain::status::Color;
use shared::http::{self, HttpResult, Problem};
use shared::service::health_code;
use shared::service::limits::Admission;
use shared::service::partners;
use shared::store::together::Wanted;

use crate::app::App;

#[derive(Deserialize)]
struct VerifyRequest {
    code: String,
}

#[derive(Serialize)]
#[serde(untagged)]
enum VerifyResponse<'a> {
    Valid {
        valid: bool,
        color: Color,
        status_text: &'static str,
        hints: Vec<String>,
        name_masked: String,
        issuer: &'a str,
        checked_at: String,
    },
    Invalid {
        valid: bool,
        reason: &'static str,
    },
}

fn no_key() -> Problem {
    Problem::unauthenticated().detail("a partner API key is required: X-Api-Key: <key>")
}

fn invalid(reason: &'static str) -> HttpResult {
    http::ok(&VerifyResponse::Invalid { valid: false, reason })
}

pub async fn verify(app: &App, req: &Request) -> HttpResult {
    let now = app.base.clock.now();
    let presented = http::header(req, "x-api-key").ok_or_else(no_key)?;
    let known = app.partners.get(&app.base.store).await?;
    let Some(partner) = partners::authenticate(&known, presented) else {
        tracing::info!("partner call refused: unknown key");
        return Err(no_key());
    };
    use tracing::Instrument;
    let span = tracing::info_span!("partner", partner = %partner);
    verify_for(app, req, partner, now).instrument(span).await
}

async fn verify_for(app: &App, req: &Request, partner: &str, now: time::OffsetDateTime) -> HttpResult {
    if let Admission::Refused { retry_after } = app
        .partner_limiter
        .admit(&app.base.store, &format!("partner:{partner}"), now)
        .await?
    {
        tracing::info!("partner over its rate");
        return Err(Problem::too_many("too-many-attempts", "Too many requests")
            .detail(format!(
                "at most {} verifications a second per partner",
                partners::PER_SECOND
            ))
            .retry_after(retry_after));
    }
    let body: VerifyRequest = http::parse_json(req, None)?;
    let claims = match app.keys.verify(&body.code, now) {
        Ok(claims) => claims,
        Err(err) => {
            let reason = err.code();
            tracing::info!(valid = false, reason, "code verified for a partner");
            return invalid(reason);
        }
    };
    let found = app
        .base
        .store
        .read_together(Wanted {
            subject: Some((&claims.subject_id, false)),
            ..Wanted::default()
        })
        .await?;
    let Some(subject) = found.subject else {
        tracing::info!(valid = false, reason = "invalid-code", "code verified for a partner");
        return invalid("invalid-code");
    };
    if let Err(err) = claims.current(subject.paper_v) {
        tracing::info!(valid = false, reason = err.code(), "code verified for a partner");
        return invalid(err.code());
    }
    let areas = app.areas.get(&app.base.store).await?;
    let status = health_code::live_status(app.rules, &subject, &areas, now);
    tracing::info!(valid = true, color = ?status.color, "code verified for a partner");
    http::ok(&VerifyResponse::Valid {
        valid: true,
        color: status.color,
        status_text: status.status_text(),
        hints: status.hints.clone(),
        name_masked: subject.identity.name_masked.clone(),
        issuer: app.keys.issuer(),
        checked_at: rfc3339(now),
    })
}

//! Scans of other provinces' codes (全国通用): a code whose prefix belongs
//! to a trusted issuer is checked against that issuer's keys, from the trust
//! list the function keeps for at most `HC_TRUST_TTL_SECONDS`. We hold no
//! live status for such a person: the answer is the token's colour, marked
//! `live: false`, with the issuer. The scan is logged with the issuer and
//! the token's `sub` (one write unit, as for ours); no profile is read.

use serde::Serialize;
use shared::auth::Session;
use shared::crypto::keyed_id;
use shared::domain::day::{iso_date, rfc3339, shanghai_day};
use shared::domain::status::{Color, Status};
use shared::http::{self, HttpResult};
use shared::service::access;
use shared::store::log::{Entry, EntryKind, foreign_subject_id};
use shared::store::sort_time;
use shared::store::together::Wanted;
use time::OffsetDateTime;

use crate::app::{App, admit, code_problem};

#[derive(Serialize)]
struct ForeignScanResponse {
    result: &'static str,
    color: Color,
    status_text: &'static str,
    hints: Vec<String>,
    issuer: String,
    live: bool,
    scanned_at: String,
}

pub async fn scan(app: &App, session: Session, code: &str, region: Option<String>, now: OffsetDateTime) -> HttpResult {
    let trusted = app.trust.get(&app.base.store).await?;
    let claims = trusted.verify(code, now).map_err(code_problem)?;
    admit(app, &session, now).await?;
    let found = app
        .base
        .store
        .read_together(Wanted {
            account: Some(&session.account_id),
            ..Wanted::default()
        })
        .await?;
    access::live(&session, found.account)?;
    let subject_id = foreign_subject_id(&claims.issuer, &claims.subject);
    let minute = now.unix_timestamp().div_euclid(60);
    let entry = Entry {
        id: keyed_id("e_", "scan", &session.account_id, &format!("{subject_id}#{minute}")),
        kind: EntryKind::Scan,
        subject_id,
        account: session.account_id,
        at: sort_time(now),
        day: iso_date::format(shanghai_day(now)),
        region,
        venue_id: None,
        color: claims.color,
        name_masked: String::new(),
        method: None,
    };
    app.base
        .store
        .log_foreign_scan(&entry, (&claims.issuer, &claims.subject), now + app.retention)
        .await?;
    let pass = claims.color == Color::Green;
    // The `sub` goes to the scan log only: an issuer's identifiers are not ours to put in logs.
    tracing::info!(issuer = %claims.issuer, color = ?claims.color, pass, "code of another issuer scanned");
    http::ok(&ForeignScanResponse {
        result: if pass { "pass" } else { "verify" },
        color: claims.color,
        status_text: if pass {
            Status::NO_ANOMALY
        } else {
            Status::CHECK_REQUIRED
        },
        hints: Vec::new(),
        issuer: claims.issuer,
        live: false,
        scanned_at: rfc3339(now),
    })
}

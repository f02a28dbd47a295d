//! Assisted check-ins: a venue's holder records the entry of a visitor
//! without a phone by their ID number (`POST /v1/venues/mine/checkins`).
//! The visitor is found by the keyed hash of the number; one never seen
//! before gets a subject that no one holds (`identity::subject_by_number`),
//! claimed later by the person or a guardian. The colour is the visitor's
//! live status: for a person who never declared, the risk data alone.
//!
//! A venue records at most [`PER_DAY`] a Shanghai day, counted by one
//! conditional write per entry in the limits table, so requests at once
//! never record more. With an `Idempotency-Key` the entry's key is derived
//! from the holder and the key and slotted by its day: a retry that day is
//! answered from the first entry before anything is counted.

use lambda_http::http::StatusCode;
use time::{Duration, OffsetDateTime};

use crate::crypto::{PiiKeys, keyed_id, random_id};
use crate::domain::day::{iso_date, shanghai_day, start_of_day_utc};
use crate::domain::identity::IdNumber;
use crate::domain::rules::RuleSet;
use crate::domain::status::{Color, RiskAreas};
use crate::http::Problem;
use crate::service::{find, health_code, identity};
use crate::store::log::{Entry, EntryKind, EntryMethod, Logged, Slot};
use crate::store::venues::Venue;
use crate::store::{Store, parse_time, sort_time};

/// Assisted check-ins a venue may record a Shanghai day.
pub const PER_DAY: u32 = 200;

/// What the holder sees of a recorded entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub entered_at: OffsetDateTime,
    pub color: Color,
    pub name_masked: String,
}

/// The request: at `venue`, held by `holder`, the visitor with `id`.
pub struct Visit<'a> {
    pub venue: &'a Venue,
    pub holder: &'a str,
    pub id: &'a IdNumber,
    pub idempotency_key: Option<&'a str>,
}

/// What the use case reads with.
pub struct Context<'a> {
    pub store: &'a Store,
    pub pii: &'a PiiKeys,
    pub rules: &'a RuleSet,
    pub areas: &'a RiskAreas,
    /// How long log entries are kept.
    pub retention: Duration,
}

/// The answer to a check-in at a revoked venue, in the app (`scan`) or assisted: 410. Its
/// applicant or the authority revoked it.
pub fn venue_revoked() -> Problem {
    Problem::new(StatusCode::GONE, "venue-revoked", "Venue revoked").detail("this venue code has been revoked")
}

/// Records the visit, or answers a retry of it; 429 `too-many-attempts`
/// past [`PER_DAY`] (until the next Shanghai day).
pub async fn check_in(cx: &Context<'_>, visit: &Visit<'_>, now: OffsetDateTime) -> Result<Recorded, Problem> {
    let venue = visit.venue;
    if venue.revoked_at.is_some() {
        return Err(venue_revoked());
    }
    let day = shanghai_day(now);
    let at = sort_time(now);
    let (entry_id, slot) = match visit.idempotency_key {
        Some(key) => (keyed_id("e_", "assisted", visit.holder, key), Slot::Day),
        None => (random_id("e_"), Slot::Exact),
    };
    let known = find::subject_id_of(cx.store, cx.pii, visit.id).await?;
    if let (Some(subject_id), Slot::Day) = (&known, slot)
        && let Some(first) = cx.store.entry(subject_id, &at, slot, &entry_id).await?
    {
        return repeated(first, venue, now);
    }
    let next_day = start_of_day_utc(day.next_day().unwrap_or(day));
    if !cx
        .store
        .take_assisted_slot(&venue.id, &iso_date::format(day), PER_DAY, next_day + Duration::days(1))
        .await?
    {
        return Err(Problem::too_many("too-many-attempts", "Too many assisted check-ins")
            .detail(format!("a venue records at most {PER_DAY} assisted check-ins a day"))
            .retry_after((next_day - now).whole_seconds().clamp(1, 86_400) as u32));
    }
    let subject_id = match known {
        Some(id) => id,
        None => identity::subject_by_number(cx.store, cx.pii, visit.id, now).await?,
    };
    let subject = cx
        .store
        .get_subject(&subject_id, true)
        .await?
        .ok_or_else(Problem::internal)?;
    let status = health_code::live_status(cx.rules, &subject, cx.areas, now);
    let entry = Entry {
        id: entry_id,
        kind: EntryKind::Checkin,
        subject_id,
        account: visit.holder.to_owned(),
        at,
        day: iso_date::format(day),
        region: Some(venue.region.clone()),
        venue_id: Some(venue.id.clone()),
        color: status.color,
        name_masked: subject.identity.name_masked.clone(),
        method: Some(EntryMethod::Assisted),
    };
    let logged = cx
        .store
        .log_entry(&entry, slot, Some(venue.shards), now + cx.retention)
        .await?;
    crate::metrics::check_in(status.color, logged == Logged::Exists);
    match logged {
        Logged::Written => Ok(Recorded {
            entered_at: now,
            color: status.color,
            name_masked: entry.name_masked,
        }),
        // A retry that raced its first attempt past the check above.
        Logged::Exists => {
            let first = cx
                .store
                .entry(&entry.subject_id, &entry.at, slot, &entry.id)
                .await?
                .ok_or_else(|| Problem::unavailable().detail("the entry is being written: retry"))?;
            repeated(first, venue, now)
        }
    }
}

/// The answer to a retry: the first attempt's entry, if it was for this venue.
fn repeated(first: Entry, venue: &Venue, now: OffsetDateTime) -> Result<Recorded, Problem> {
    if first.venue_id.as_deref() != Some(venue.id.as_str()) || first.method != Some(EntryMethod::Assisted) {
        return Err(Problem::conflict("idempotency-key-reused", "Idempotency key reused")
            .detail("this Idempotency-Key was used for another check-in"));
    }
    Ok(Recorded {
        entered_at: parse_time(&first.at).unwrap_or(now),
        color: first.color,
        name_masked: first.name_masked,
    })
}

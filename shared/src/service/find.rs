//! Finding where a trace starts (有迹可循): a case arrives as a name and an
//! ID number, so the authority finds the person's subject by the keyed hash
//! of the number (the number itself is never stored, logged or audited),
//! and a venue by its county and a part of its name; and it revokes a
//! venue code that must stop working. The admin routes and `hcctl` share
//! these. Every lookup by ID number is audited, whether it finds someone or
//! not: asking whether a number is registered is itself a read about a person.

use crate::crypto::PiiKeys;
use crate::domain::day::rfc3339;
use crate::domain::divisions::{self, Level};
use crate::domain::identity::IdNumber;
use crate::domain::rules::RuleSet;
use crate::domain::status::Color;
use crate::http::Problem;
use crate::service::trace::{self, Person, Reader, TraceError};
use crate::store::audit::AuditEntry;
use crate::store::subjects::Subject;
use crate::store::venues::{self, Listing, Listings, Search, Venue};
use crate::store::{Store, StoreError};

/// The audit's target when a lookup found no one.
pub const NO_SUBJECT: &str = "no subject";

/// A person found by ID number: the opened identity, the profile, and the
/// live colour of their code (the rules on the profile's facts, today's
/// risk areas and clock; also for a person who never declared).
pub struct Found {
    pub person: Person,
    pub subject: Subject,
    pub color: Color,
}

impl Found {
    /// Whether the person holds the subject with an account of their own
    /// (not only guardians, nor an entry recorded for them at a venue).
    pub fn registered(&self) -> bool {
        self.subject.identity.owner.is_some()
    }

    /// The person as `GET /v1/admin/subjects` shows them.
    pub fn json(&self) -> serde_json::Value {
        let p = &self.person;
        serde_json::json!({
            "subject_id": p.subject_id, "name": p.name, "id_number": p.id_number, "phone": p.phone,
            "color": self.color, "registered": self.registered(),
        })
    }
}

/// A venue as `GET /v1/admin/venues` lists it.
pub fn listing_json(venue: &Listing) -> serde_json::Value {
    serde_json::json!({
        "id": venue.id, "name": venue.name, "address": venue.address, "region": venue.region,
        "category": venue.category, "created_at": rfc3339(venue.created_at), "revoked": venue.revoked_at.is_some(),
    })
}

/// The subject holding an ID number, if any; audits nothing.
pub async fn subject_id_of(store: &Store, pii: &PiiKeys, id: &IdNumber) -> Result<Option<String>, StoreError> {
    let state = store.find_person(&pii.id_hash(id.as_str())).await?;
    Ok(state.person.map(|p| p.subject_id))
}

/// Records a lookup by ID number that found no one, under `action`. The
/// detail is the keyed hash, so an auditor holding the key can tell whose
/// number was asked for, and the audit holds no number.
pub async fn audit_miss(
    store: &Store,
    pii: &PiiKeys,
    reader: &Reader<'_>,
    action: &str,
    id: &IdNumber,
) -> Result<(), StoreError> {
    audit(store, reader, action, NO_SUBJECT, pii.id_hash(id.as_str()), 0).await
}

/// The person with this ID number, their identity opened, after the audit
/// entry `find-subject`; `None` (audited too) when no one has it.
pub async fn subject(
    store: &Store,
    pii: &PiiKeys,
    rules: &RuleSet,
    reader: &Reader<'_>,
    id: &IdNumber,
) -> Result<Option<Found>, TraceError> {
    let Some(subject_id) = subject_id_of(store, pii, id).await? else {
        audit_miss(store, pii, reader, "find-subject", id).await?;
        return Ok(None);
    };
    let subject = store
        .get_subject(&subject_id, false)
        .await?
        .ok_or(TraceError::NoSubject)?;
    audit(store, reader, "find-subject", &subject_id, "by ID number".to_owned(), 1).await?;
    let person = trace::reveal(pii, &subject)?;
    let areas = store.risk_areas().await?;
    let color = rules.evaluate(&subject.facts, &areas, reader.now).color;
    Ok(Some(Found { person, subject, color }))
}

/// The longest part of a name searched for: a venue's name has at most 50 characters.
pub const MAX_NAME_PART: usize = 50;

/// Whether `code` is a Hebei county, where venue codes are issued.
pub fn is_county(code: &str) -> bool {
    divisions::is_hebei(code) && divisions::lookup(code).is_some_and(|d| d.level == Level::County)
}

/// A part of a venue's name as typed into a search, trimmed: the same
/// letters, digits, spaces and punctuation a name may hold; else 400.
pub fn name_part(typed: &str) -> Result<String, Problem> {
    crate::domain::text::plain_text(typed, 1, MAX_NAME_PART).ok_or_else(|| {
        Problem::bad_request(format!(
            "`q` is 1 to {MAX_NAME_PART} letters, digits, spaces and common punctuation"
        ))
    })
}

/// The venue pages of `GET /v1/admin/venues`: no personal data, so no audit.
pub async fn venues(store: &Store, search: &Search<'_>) -> Result<Listings, StoreError> {
    store.search_venues(search).await
}

/// What revoking a venue did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    Now,
    Already,
    NoVenue,
}

/// Revokes a venue code on the authority's order, after the audit entry
/// `revoke-venue`: check-ins with its printed code then fail with 410, and
/// its applicant may apply again (as after revoking it themselves). A
/// venue revoked already is left as it was.
pub async fn revoke_venue(store: &Store, reader: &Reader<'_>, venue_id: &str) -> Result<Revoked, StoreError> {
    let venue: Option<Venue> = if venues::is_venue_id(venue_id) {
        store.get_venue(venue_id).await?
    } else {
        None
    };
    let Some(venue) = venue else {
        return Ok(Revoked::NoVenue);
    };
    if venue.revoked_at.is_some() {
        return Ok(Revoked::Already);
    }
    audit(store, reader, "revoke-venue", &venue.id, String::new(), 0).await?;
    Ok(if store.revoke_venue(&venue, reader.now).await? {
        tracing::info!("venue revoked by the authority");
        Revoked::Now
    } else {
        Revoked::Already
    })
}

async fn audit(
    store: &Store,
    reader: &Reader<'_>,
    action: &str,
    target: &str,
    detail: String,
    records: usize,
) -> Result<(), StoreError> {
    store
        .audit(&AuditEntry {
            officer: reader.officer.to_owned(),
            action: action.to_owned(),
            target: target.to_owned(),
            detail,
            records,
            at: reader.now,
        })
        .await
}

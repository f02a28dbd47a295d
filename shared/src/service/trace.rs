//! The trace (有迹可循): who entered a venue in a window, or where a person
//! went and whose scans they passed, with full identities, a page at a
//! time: no trace holds more than one page in memory, however many entries
//! the window has. The admin route shows a page as JSON; `hcctl traces
//! export` writes page after page to a CSV file. Each page read is audited
//! after its entries are read and before any identity is opened.

use std::collections::{BTreeSet, HashMap};

use time::{Duration, OffsetDateTime};

use crate::crypto::{CryptoError, PiiKeys};
use crate::domain::day::rfc3339;
use crate::service::access::is_subject_id;
use crate::store::audit::AuditEntry;
use crate::store::log::{Entry, VenueEntry};
use crate::store::subjects::Subject;
use crate::store::venues::Venue;
use crate::store::{Store, StoreError, parse_time};

/// The default and the longest window of a trace.
pub const DEFAULT_WINDOW: Duration = Duration::days(14);
pub const MAX_WINDOW: Duration = Duration::days(60);

#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("no such venue")]
    NoVenue,
    #[error("no such subject")]
    NoSubject,
    #[error("`from` must precede `to`, at most 60 days before it")]
    Window,
    /// A stored identity does not open: the wrong sealing key, say.
    #[error("the identity of subject {subject_id} does not open ({error})")]
    Sealed { subject_id: String, error: CryptoError },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Who reads the trace, and when: written to the audit.
pub struct Reader<'a> {
    pub officer: &'a str,
    pub now: OffsetDateTime,
}

/// A page: below a position (`next` of the previous page), `limit` entries at most.
#[derive(Clone, Copy)]
pub struct Page<'a> {
    pub after: Option<&'a str>,
    pub limit: usize,
}

/// A person with their identity opened.
pub struct Person {
    pub subject_id: String,
    pub name: String,
    pub id_number: String,
    pub phone: Option<String>,
}

/// A check-in at the traced venue, with who it was.
pub struct Visit<'a> {
    pub entry: &'a VenueEntry,
    pub entered_at: OffsetDateTime,
    pub person: &'a Person,
}

pub struct VenueTrace {
    pub venue: Venue,
    /// Newest first.
    pub entries: Vec<VenueEntry>,
    pub people: HashMap<String, Person>,
    /// The position to continue below, when there is more.
    pub next: Option<String>,
}

impl VenueTrace {
    /// The entries whose person is known, newest first.
    pub fn visits(&self) -> impl Iterator<Item = Visit<'_>> {
        self.entries.iter().filter_map(|entry| {
            Some(Visit {
                entry,
                entered_at: parse_time(&entry.at)?,
                person: self.people.get(&entry.subject_id)?,
            })
        })
    }
}

pub struct SubjectTrace {
    pub subject: Person,
    /// Check-ins and scans, newest first.
    pub entries: Vec<Entry>,
    /// The venues of the check-ins, by id.
    pub venues: HashMap<String, Venue>,
    pub next: Option<String>,
}

/// The window `from`..`to`: 14 days up to `to` (now by default), at most 60.
pub fn window(
    from: Option<OffsetDateTime>,
    to: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Result<(OffsetDateTime, OffsetDateTime), TraceError> {
    let to = to.unwrap_or(now);
    let from = from.unwrap_or(to - DEFAULT_WINDOW);
    if from > to || to - from > MAX_WINDOW {
        return Err(TraceError::Window);
    }
    Ok((from, to))
}

fn is_venue_id(id: &str) -> bool {
    id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Everyone who entered the venue in the window, newest first.
pub async fn venue(
    store: &Store,
    pii: &PiiKeys,
    reader: &Reader<'_>,
    venue_id: &str,
    (from, to): (OffsetDateTime, OffsetDateTime),
    page: Page<'_>,
) -> Result<VenueTrace, TraceError> {
    let venue = if is_venue_id(venue_id) {
        store.get_venue(venue_id).await?
    } else {
        None
    };
    let venue = venue.ok_or(TraceError::NoVenue)?;
    let found = store
        .venue_entries(&venue.id, venue.shards, from, to, page.after, page.limit)
        .await?;
    let (entries, next) = (found.entries, found.next);
    let ids: Vec<String> = entries
        .iter()
        .map(|e| e.subject_id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    audit(store, reader, "trace-venue", &venue.id, (from, to), ids.len()).await?;
    let subjects = store.get_subjects(&ids).await?;
    let people = subjects
        .iter()
        .map(|(id, subject)| Ok((id.clone(), reveal(pii, subject)?)))
        .collect::<Result<_, TraceError>>()?;
    Ok(VenueTrace {
        venue,
        entries,
        people,
        next,
    })
}

/// Every venue the subject entered and every scan of their code in the
/// window, newest first.
pub async fn subject(
    store: &Store,
    pii: &PiiKeys,
    reader: &Reader<'_>,
    subject_id: &str,
    (from, to): (OffsetDateTime, OffsetDateTime),
    page: Page<'_>,
) -> Result<SubjectTrace, TraceError> {
    let subject = if is_subject_id(subject_id) {
        store.get_subject(subject_id, false).await?
    } else {
        None
    };
    let subject = subject.ok_or(TraceError::NoSubject)?;
    let found = store
        .subject_entries(subject_id, from, to, page.after, page.limit)
        .await?;
    let (entries, next) = (found.entries, found.next);
    audit(store, reader, "trace-subject", subject_id, (from, to), 1).await?;
    let venue_ids: Vec<String> = entries
        .iter()
        .filter_map(|e| e.venue_id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let venues = store.get_venues(&venue_ids).await?;
    Ok(SubjectTrace {
        subject: reveal(pii, &subject)?,
        entries,
        venues,
        next,
    })
}

/// Opens a subject's sealed identity.
pub fn reveal(pii: &PiiKeys, subject: &Subject) -> Result<Person, TraceError> {
    let revealed = subject.identity.reveal(pii).map_err(|error| TraceError::Sealed {
        subject_id: subject.identity.subject_id.clone(),
        error,
    })?;
    Ok(Person {
        subject_id: subject.identity.subject_id.clone(),
        name: revealed.name,
        id_number: revealed.id_number,
        phone: revealed.phone,
    })
}

async fn audit(
    store: &Store,
    reader: &Reader<'_>,
    action: &str,
    target: &str,
    (from, to): (OffsetDateTime, OffsetDateTime),
    records: usize,
) -> Result<(), StoreError> {
    store
        .audit(&AuditEntry {
            officer: reader.officer.to_owned(),
            action: action.to_owned(),
            target: target.to_owned(),
            detail: format!("{} to {}", rfc3339(from), rfc3339(to)),
            records,
            at: reader.now,
        })
        .await
}

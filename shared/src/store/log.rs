//! The scan and check-in log: who entered where, and whose code was scanned.
//!
//! Every entry lives in its subject's partition (`S#<subject>`/
//! `E#<slot>#<entry>`), sorted by time, so "where did S go between t1 and
//! t2" is a Query whose key condition is the window, read a page at a time.
//! The slot is the entry's time, except where the key must be the same for
//! a repeat ([`Slot`]). Check-ins also carry the keys of the `by-venue`
//! index: `V#<venue>#<shard>` and `<time>#<entry>`, so "who entered V
//! between t1 and t2" is one Query per shard. Spreading a venue
//! over shards keeps a railway station's hundreds of entries a second under
//! one partition's 1,000 writes a second. Scans carry no index keys: one
//! write unit each. Entries expire by TTL; reads filter on time as well,
//! because TTL deletion lags.
//!
//! The entry key of a check-in sent with an `Idempotency-Key` is derived
//! from the caller and the key, and slotted by its Shanghai day, so a retry
//! that day finds the first write instead of logging a second entry; that of
//! a checkpoint scan from the scanner, the subject and the minute, so a
//! repeat scan in the same minute is answered but logged once.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{Store, StoreError, from_item, key2, s, sort_time, to_item, written};
use crate::domain::day::{shanghai_day, start_of_day_utc};
use crate::domain::status::Color;

pub const BY_VENUE: &str = "by-venue";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryKind {
    Checkin,
    Scan,
}

/// How a person was identified, when not by the code they showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryMethod {
    /// A checkpoint officer typed or read the person's ID card (`inspector`).
    IdCard,
    /// A venue's holder recorded the entry of a visitor without a phone.
    Assisted,
}

/// One logged event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub id: String,
    pub kind: EntryKind,
    pub subject_id: String,
    /// The account that checked in (visitor or guardian) or scanned (the guard).
    pub account: String,
    /// Time as a fixed-width UTC string ([`sort_time`]).
    pub at: String,
    /// The Shanghai day, for counting.
    pub day: String,
    /// County-level division where it happened, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub venue_id: Option<String>,
    /// The subject's colour at that moment.
    pub color: Color,
    pub name_masked: String,
    /// `None`: the person's own code (or, for a check-in, the visitor's phone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<EntryMethod>,
}

#[derive(Serialize, Deserialize)]
struct EntryItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    entry: Entry,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gpk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsk: Option<String>,
    /// A scan of another province's code: its issuer and its `sub`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sub: Option<String>,
    expires: i64,
}

/// An entry as the venue index returns it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct VenueEntry {
    pub subject_id: String,
    pub at: String,
    pub color: Color,
    pub name_masked: String,
    /// Its place in the index, for the next page.
    pub gsk: String,
}

/// A page of a venue's entries, newest first.
pub struct VenuePage {
    pub entries: Vec<VenueEntry>,
    /// The index position of the last entry, when more may follow.
    pub next: Option<String>,
}

/// The partition of another province's person: `x_` and a digest of the
/// issuer and `sub`, so that no issuer can name a partition of ours (`s_…`).
pub fn foreign_subject_id(issuer: &str, sub: &str) -> String {
    format!(
        "x_{}",
        crate::crypto::base32(&crate::crypto::sha256(format!("{issuer}\0{sub}").as_bytes())[..16])
    )
}

fn entry_pk(subject: &str) -> String {
    format!("S#{subject}")
}

/// Where an entry sorts in its subject's partition. Every slot lies at or
/// before the entry's time and on its Shanghai day, so a window read from
/// the start of `from`'s day (and filtered on the time) finds them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// Its time, to the millisecond.
    Exact,
    /// The start of its minute: a checkpoint scan, keyed by the minute.
    Minute,
    /// The start of its Shanghai day: a check-in keyed by an `Idempotency-Key`.
    Day,
}

/// The sort key of an entry at `at` in `slot`.
fn entry_sk(at: &str, slot: Slot, id: &str) -> String {
    let slot_time = match (slot, super::parse_time(at)) {
        (Slot::Exact, _) | (_, None) => at.to_owned(),
        (Slot::Minute, Some(t)) => sort_time(t.replace_second(0).and_then(|t| t.replace_millisecond(0)).unwrap_or(t)),
        (Slot::Day, Some(t)) => sort_time(start_of_day_utc(shanghai_day(t))),
    };
    format!("E#{slot_time}#{id}")
}

fn venue_shard(venue: &str, shard: u32) -> String {
    format!("V#{venue}#{shard}")
}

/// The shard of an entry: spread evenly by its random (or hashed) id.
fn shard_of(entry_id: &str, shards: u32) -> u32 {
    let digest = crate::crypto::sha256(entry_id.as_bytes());
    u32::from_le_bytes([digest[0], digest[1], digest[2], digest[3]]) % shards.max(1)
}

/// How long entries are kept: `HC_LOG_RETENTION_DAYS`, 28 by default and at
/// least 14, since tracing looks back 14 days. Reads stop at the same age,
/// as TTL deletion may lag by days.
pub fn retention_from_env() -> Result<time::Duration, crate::config::ConfigError> {
    let days: i64 = crate::config::parse_or("HC_LOG_RETENTION_DAYS", 28)?;
    if days < 14 {
        return Err(crate::config::ConfigError::new(
            "HC_LOG_RETENTION_DAYS",
            "must be at least 14",
        ));
    }
    Ok(time::Duration::days(days))
}

/// Whether `cursor` is an index position `<time>#<entry id>` as
/// [`Store::venue_entries`] returns them, so that a client cannot steer a
/// query with a made-up bound.
pub fn is_position(cursor: &str) -> bool {
    match cursor.split_once('#') {
        Some((at, id)) => {
            at.len() == 24
                && super::parse_time(at).is_some()
                && (3..=40).contains(&id.len())
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        }
        None => false,
    }
}

/// The outcome of writing an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logged {
    Written,
    /// An entry with this key exists: the earlier attempt of a retried
    /// request, or a repeat scan in the same minute ([`Store::entry`] reads it).
    Exists,
}

impl Store {
    /// Logs an entry; for a check-in, `venue_shards` spreads it over the venue index.
    pub async fn log_entry(
        &self,
        entry: &Entry,
        slot: Slot,
        venue_shards: Option<u32>,
        expires: OffsetDateTime,
    ) -> Result<Logged, StoreError> {
        self.put_entry(entry, slot, venue_shards, None, expires).await
    }

    /// Logs the scan of a trusted issuer's code (`foreign`: the issuer and
    /// the token's `sub`), in the partition of `entry.subject_id`, which
    /// [`foreign_subject_id`] derives from them.
    pub async fn log_foreign_scan(
        &self,
        entry: &Entry,
        foreign: (&str, &str),
        expires: OffsetDateTime,
    ) -> Result<Logged, StoreError> {
        self.put_entry(entry, Slot::Minute, None, Some(foreign), expires).await
    }

    async fn put_entry(
        &self,
        entry: &Entry,
        slot: Slot,
        venue_shards: Option<u32>,
        foreign: Option<(&str, &str)>,
        expires: OffsetDateTime,
    ) -> Result<Logged, StoreError> {
        let (gpk, gsk) = match (&entry.venue_id, venue_shards) {
            (Some(venue), Some(shards)) => (
                Some(venue_shard(venue, shard_of(&entry.id, shards))),
                Some(format!("{}#{}", entry.at, entry.id)),
            ),
            _ => (None, None),
        };
        let item = to_item(&EntryItem {
            pk: entry_pk(&entry.subject_id),
            sk: entry_sk(&entry.at, slot, &entry.id),
            entry: entry.clone(),
            gpk,
            gsk,
            issuer: foreign.map(|(issuer, _)| issuer.to_owned()),
            sub: foreign.map(|(_, sub)| sub.to_owned()),
            expires: expires.unix_timestamp(),
        });
        let result = self
            .client
            .put_item()
            .table_name(&self.tables.log)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        Ok(if written(result)? {
            Logged::Written
        } else {
            Logged::Exists
        })
    }

    /// The entry logged under this key, strongly consistently: what a
    /// retried check-in finds when [`Logged::Exists`].
    pub async fn entry(&self, subject: &str, at: &str, slot: Slot, id: &str) -> Result<Option<Entry>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.log)
            .set_key(Some(key2(entry_pk(subject), entry_sk(at, slot, id))))
            .consistent_read(true)
            .send()
            .await?;
        out.item
            .map(|item| from_item::<EntryItem>(item).map(|i| i.entry))
            .transpose()
    }

    /// A venue's entries between `from` and `to`, newest first, `limit` at
    /// most, continuing below `after` (the `next` of the previous page).
    /// Each shard is read down to `limit` entries and the pages merged.
    pub async fn venue_entries(
        &self,
        venue: &str,
        shards: u32,
        from: OffsetDateTime,
        to: OffsetDateTime,
        after: Option<&str>,
        limit: usize,
    ) -> Result<VenuePage, StoreError> {
        let lower = sort_time(from);
        let upper = match after {
            Some(after) => after.to_owned(),
            None => format!("{}~", sort_time(to)),
        };
        let mut entries = Vec::new();
        for shard in 0..shards.max(1) {
            let mut start = None;
            let mut taken = 0;
            loop {
                let out = self
                    .client
                    .query()
                    .table_name(&self.tables.log)
                    .index_name(BY_VENUE)
                    .key_condition_expression("gpk = :pk AND gsk BETWEEN :lower AND :upper")
                    .expression_attribute_values(":pk", s(venue_shard(venue, shard)))
                    .expression_attribute_values(":lower", s(&lower))
                    .expression_attribute_values(":upper", s(&upper))
                    .scan_index_forward(false)
                    .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
                    .set_exclusive_start_key(start)
                    .send()
                    .await?;
                for item in out.items.unwrap_or_default() {
                    let entry: VenueEntry = from_item(item)?;
                    // BETWEEN includes its bounds: the cursor itself was on the last page.
                    if after.is_some_and(|a| entry.gsk.as_str() >= a) {
                        continue;
                    }
                    entries.push(entry);
                    taken += 1;
                }
                start = out.last_evaluated_key;
                if start.is_none() || taken > limit {
                    break;
                }
            }
        }
        entries.sort_by(|a, b| b.gsk.cmp(&a.gsk));
        let more = entries.len() > limit;
        entries.truncate(limit);
        let next = if more {
            entries.last().map(|e| e.gsk.clone())
        } else {
            None
        };
        Ok(VenuePage { entries, next })
    }

    /// One shard of a venue's entries between `from` and `to` (both
    /// included), oldest first, `limit` at most, after index position
    /// `after`: what the exposure worker reads, a shard at a time, so that a
    /// page reads what it returns. The position of the last entry comes
    /// back when more may follow.
    pub async fn venue_shard_page(
        &self,
        venue: &str,
        shard: u32,
        from: &str,
        to: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<VenueEntry>, Option<String>), StoreError> {
        let lower = after.unwrap_or(from);
        let out = self
            .client
            .query()
            .table_name(&self.tables.log)
            .index_name(BY_VENUE)
            .key_condition_expression("gpk = :pk AND gsk BETWEEN :lower AND :upper")
            .expression_attribute_values(":pk", s(venue_shard(venue, shard)))
            .expression_attribute_values(":lower", s(lower))
            .expression_attribute_values(":upper", s(format!("{to}~")))
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
            .send()
            .await?;
        let mut entries = Vec::new();
        for item in out.items.unwrap_or_default() {
            let entry: VenueEntry = from_item(item)?;
            // BETWEEN includes its bounds: the position itself was on the last page.
            if after.is_some_and(|a| entry.gsk.as_str() <= a) {
                continue;
            }
            entries.push(entry);
        }
        let more = entries.len() > limit || (out.last_evaluated_key.is_some() && !entries.is_empty());
        entries.truncate(limit);
        let next = if more {
            entries.last().map(|e| e.gsk.clone())
        } else {
            None
        };
        Ok((entries, next))
    }

    /// A subject's entries between `from` and `to`, newest first, `limit` at
    /// most, continuing below `after` (the `next` of the previous page). The
    /// window is the key condition, so a page reads about what it returns
    /// (and the rest of `from`'s day, whose keyed entries sort at its
    /// start), never the whole partition; at most [`MAX_READ_PER_PAGE`]
    /// times `limit` items are read for one page.
    pub async fn subject_entries(
        &self,
        subject: &str,
        from: OffsetDateTime,
        to: OffsetDateTime,
        after: Option<&str>,
        limit: usize,
    ) -> Result<EntryPage, StoreError> {
        let lower = format!("E#{}", sort_time(start_of_day_utc(shanghai_day(from))));
        let upper = format!("E#{}~", sort_time(to));
        let mut start = after.map(|a| key2(entry_pk(subject), format!("E#{a}")));
        let mut entries = Vec::new();
        let mut read = 0;
        loop {
            let want = limit - entries.len();
            let out = self
                .client
                .query()
                .table_name(&self.tables.log)
                .key_condition_expression("pk = :pk AND sk BETWEEN :lower AND :upper")
                .filter_expression("#at BETWEEN :from AND :to")
                .expression_attribute_names("#at", "at")
                .expression_attribute_values(":pk", s(entry_pk(subject)))
                .expression_attribute_values(":lower", s(&lower))
                .expression_attribute_values(":upper", s(&upper))
                .expression_attribute_values(":from", s(sort_time(from)))
                .expression_attribute_values(":to", s(sort_time(to)))
                .scan_index_forward(false)
                .limit(i32::try_from(want).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start)
                .send()
                .await?;
            read += usize::try_from(out.scanned_count).unwrap_or(0);
            for item in out.items.unwrap_or_default() {
                let item = from_item::<EntryItem>(item)?;
                entries.push((item.sk, item.entry));
            }
            start = out.last_evaluated_key;
            let position = |key: &Option<super::Item>| {
                key.as_ref()
                    .and_then(|k| k.get("sk"))
                    .and_then(|v| v.as_s().ok())
                    .map(|sk| sk.trim_start_matches("E#").to_owned())
            };
            if start.is_none() {
                return Ok(EntryPage::of(entries, None));
            }
            if entries.len() >= limit || read >= MAX_READ_PER_PAGE * limit {
                // More may follow: continue below the last item read.
                let next = position(&start);
                return Ok(EntryPage::of(entries, next));
            }
        }
    }
}

/// Items a subject page reads at most, as a multiple of its size: the
/// filter on time drops only the part of `from`'s day before `from`.
pub const MAX_READ_PER_PAGE: usize = 4;

/// A page of a subject's entries, newest first.
pub struct EntryPage {
    pub entries: Vec<Entry>,
    /// The position to continue below, when more may follow.
    pub next: Option<String>,
}

impl EntryPage {
    /// Sorted by time: within a slot (a minute, a day) the key's order is the id's.
    fn of(entries: Vec<(String, Entry)>, next: Option<String>) -> Self {
        let mut entries: Vec<Entry> = entries.into_iter().map(|(_, e)| e).collect();
        entries.sort_by(|a, b| b.at.cmp(&a.at));
        Self { entries, next }
    }
}

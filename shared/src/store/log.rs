//! The scan and check-in log: who entered where, and whose code was scanned.
//!
//! Every entry lives in its subject's partition (`S#<subject>`/`E#<entry>`),
//! so "where did S go" is one Query. Check-ins also carry the keys of the
//! `by-venue` index: `V#<venue>#<shard>` and `<time>#<entry>`, so "who
//! entered V between t1 and t2" is one Query per shard. Spreading a venue
//! over shards keeps a railway station's hundreds of entries a second under
//! one partition's 1,000 writes a second. Scans carry no index keys: one
//! write unit each. Entries expire by TTL; reads filter on time as well,
//! because TTL deletion lags.
//!
//! The entry key of a check-in sent with an `Idempotency-Key` is derived
//! from the caller and the key, so a retry finds the first write instead of
//! logging a second entry.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{Store, StoreError, from_item, key2, s, sort_time, to_item, written};
use crate::domain::status::Color;

pub const BY_VENUE: &str = "by-venue";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryKind {
    Checkin,
    Scan,
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

fn entry_pk(subject: &str) -> String {
    format!("S#{subject}")
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
pub enum Logged {
    Written,
    /// An entry with this id exists: the earlier attempt of a retried request.
    Exists(Entry),
}

impl Store {
    /// Logs an entry; for a check-in, `venue_shards` spreads it over the venue index.
    pub async fn log_entry(
        &self,
        entry: &Entry,
        venue_shards: Option<u32>,
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
            sk: format!("E#{}", entry.id),
            entry: entry.clone(),
            gpk,
            gsk,
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
        if written(result)? {
            return Ok(Logged::Written);
        }
        // An entry with this id exists: read it back.
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.log)
            .set_key(Some(key2(entry_pk(&entry.subject_id), format!("E#{}", entry.id))))
            .consistent_read(true)
            .send()
            .await?;
        let item = out
            .item
            .ok_or_else(|| StoreError::Corrupt("entry vanished after a conflicting write".into()))?;
        Ok(Logged::Exists(from_item::<EntryItem>(item)?.entry))
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

    /// A subject's entries between `from` and `to`, newest first. A
    /// subject's partition holds its few weeks of entries, so it is read
    /// whole, filtered on time.
    pub async fn subject_entries(
        &self,
        subject: &str,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<Entry>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.tables.log)
            .key_condition_expression("pk = :pk")
            .filter_expression("#at BETWEEN :from AND :to")
            .expression_attribute_names("#at", "at")
            .expression_attribute_values(":pk", s(entry_pk(subject)))
            .expression_attribute_values(":from", s(sort_time(from)))
            .expression_attribute_values(":to", s(sort_time(to)));
        let mut entries = self
            .query_all(query)
            .await?
            .into_iter()
            .map(|item| from_item::<EntryItem>(item).map(|i| i.entry))
            .collect::<Result<Vec<_>, _>>()?;
        entries.sort_by(|a, b| b.at.cmp(&a.at));
        Ok(entries)
    }
}

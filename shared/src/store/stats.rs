//! Ranking counters, added up off the hot path from the tables' streams.
//!
//! Items: `DAY#<level>#<day>`/`<region>` with `claimed`, `scans` and
//! `checkins` of that Shanghai day; `TOTAL#<level>`/`<region>` with `total`
//! claims and one attribute `c<YYYYMMDD>` per day, from which the running
//! total of any day follows. A batch of stream records becomes a few
//! updates (one per locality and day touched, whatever the number of
//! records), applied in transactions of at most 100 items, each with a
//! marker `BATCH#<batch>`/`<chunk>` whose condition makes a redelivered
//! batch count once.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use serde::Deserialize;
use time::{Duration, OffsetDateTime};

use super::keys::PROFILE;
use super::log::EntryKind;
use super::{Store, StoreError, key2, n, s, to_item};
use crate::domain::divisions::Level;
use crate::domain::ranking::{self, Counts, Ranked, Row, Tally};

/// Updates per transaction, leaving one item of the 100 for the marker.
const CHUNK: usize = 99;
/// Records of a page counted with its position in one transaction: each
/// record touches at most four counters (its county's and city's day, and
/// their totals for a claim).
pub const PAGE_RECORDS: usize = 24;
/// Markers outlive DynamoDB Streams' 24-hour retention with room to spare.
const MARKER_LIFETIME: Duration = Duration::days(3);

/// Which table a stream record comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Log,
    Subjects,
}

/// A record's image, in the form Lambda events and the SDKs convert to.
pub type StreamItem = serde_dynamo::Item;

/// One stream record, whatever delivered it (Lambda or the local poller).
#[derive(Debug, Clone)]
pub struct Change {
    pub id: String,
    pub source: Source,
    pub new_image: Option<serde_dynamo::Item>,
    pub old_image: Option<serde_dynamo::Item>,
}

#[derive(Deserialize)]
struct LogImage {
    kind: EntryKind,
    day: String,
    #[serde(default)]
    region: Option<String>,
}

#[derive(Deserialize)]
struct ProfileImage {
    sk: String,
    #[serde(default)]
    first_day: Option<String>,
    #[serde(default)]
    first_region: Option<String>,
}

/// Counts a batch of stream records: a new log entry is a scan or a
/// check-in where it happened; a profile that gained its first declaration
/// is a code claimed where the person declared. Expiries (TTL removals) and
/// other changes count nothing.
pub fn tally(changes: &[Change]) -> Tally {
    let mut tally = Tally::default();
    for change in changes {
        let Some(new) = &change.new_image else { continue };
        match change.source {
            Source::Log if change.old_image.is_none() => {
                let Ok(entry) = serde_dynamo::from_item::<_, LogImage>(new.clone()) else {
                    continue;
                };
                let Some(region) = entry.region else { continue };
                let counts = match entry.kind {
                    EntryKind::Scan => Counts {
                        scans: 1,
                        ..Counts::default()
                    },
                    EntryKind::Checkin => Counts {
                        checkins: 1,
                        ..Counts::default()
                    },
                };
                tally.add(&entry.day, &region, counts);
            }
            Source::Subjects => {
                let Ok(after) = serde_dynamo::from_item::<_, ProfileImage>(new.clone()) else {
                    continue;
                };
                let before = change
                    .old_image
                    .clone()
                    .and_then(|old| serde_dynamo::from_item::<_, ProfileImage>(old).ok());
                let claimed_now =
                    after.sk == PROFILE && after.first_day.is_some() && before.is_none_or(|b| b.first_day.is_none());
                if let (true, Some(day), Some(region)) = (claimed_now, after.first_day, after.first_region) {
                    tally.add(
                        &day,
                        &region,
                        Counts {
                            claimed: 1,
                            ..Counts::default()
                        },
                    );
                }
            }
            Source::Log => {}
        }
    }
    tally
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Province => "province",
        Level::City => "city",
        Level::County => "county",
    }
}

fn day_pk(level: Level, day: &str) -> String {
    format!("DAY#{}#{day}", level_name(level))
}

fn total_pk(level: Level) -> String {
    format!("TOTAL#{}", level_name(level))
}

/// The attribute of a day's claims on a total item: `c20261126`.
fn day_attribute(day: &str) -> String {
    format!("c{}", day.replace('-', ""))
}

impl Store {
    /// Adds a tally. `batch` names the stream batch (the same records give
    /// the same name); a chunk already applied under that name is skipped.
    /// Returns how many chunks were applied now.
    pub async fn apply_tally(&self, batch: &str, tally: &Tally, now: OffsetDateTime) -> Result<usize, StoreError> {
        let updates = self.counter_updates(tally);
        let mut applied = 0;
        for (index, chunk) in updates.chunks(CHUNK).enumerate() {
            let marker = to_item(&serde_json::json!({
                "pk": format!("BATCH#{batch}"),
                "sk": index.to_string(),
                "expires": (now + MARKER_LIFETIME).unix_timestamp(),
            }));
            let marker = Put::builder()
                .table_name(&self.tables.stats)
                .set_item(Some(marker))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .expect("complete put");
            let mut items: Vec<TransactWriteItem> = chunk
                .iter()
                .map(|u| TransactWriteItem::builder().update(u.clone()).build())
                .collect();
            items.push(TransactWriteItem::builder().put(marker).build());
            let marker_index = items.len() - 1;
            match self.transact(items).await {
                Ok(()) => applied += 1,
                Err(e) if e.failed_at(marker_index) => {
                    tracing::info!(chunk = index, "stream batch chunk counted before; skipped")
                }
                Err(e) => return Err(e.into_store()),
            }
        }
        Ok(applied)
    }

    /// One update per counter item a tally touches: a transaction may not
    /// touch an item twice, so a region's claims of several days go into
    /// one update of its total.
    fn counter_updates(&self, tally: &Tally) -> Vec<Update> {
        let mut updates = Vec::new();
        let mut totals: BTreeMap<(Level, &str), Vec<(&str, u64)>> = BTreeMap::new();
        for ((level, day, region), counts) in &tally.0 {
            updates.push(
                Update::builder()
                    .table_name(&self.tables.stats)
                    .set_key(Some(key2(day_pk(*level, day), region)))
                    .update_expression("ADD claimed :claimed, scans :scans, checkins :checkins")
                    .expression_attribute_values(":claimed", n(counts.claimed))
                    .expression_attribute_values(":scans", n(counts.scans))
                    .expression_attribute_values(":checkins", n(counts.checkins))
                    .build()
                    .expect("complete update"),
            );
            if counts.claimed > 0 {
                totals.entry((*level, region)).or_default().push((day, counts.claimed));
            }
        }
        for ((level, region), days) in totals {
            let sum: u64 = days.iter().map(|(_, c)| c).sum();
            let mut update = Update::builder()
                .table_name(&self.tables.stats)
                .set_key(Some(key2(total_pk(level), region)))
                .expression_attribute_names("#total", "total")
                .expression_attribute_values(":total", n(sum));
            let mut expression = "ADD #total :total".to_owned();
            for (i, (day, claimed)) in days.iter().enumerate() {
                expression.push_str(&format!(", #d{i} :d{i}"));
                update = update
                    .expression_attribute_names(format!("#d{i}"), day_attribute(day))
                    .expression_attribute_values(format!(":d{i}"), n(claimed));
            }
            updates.push(update.update_expression(expression).build().expect("complete update"));
        }
        updates
    }

    /// Where a reader of the streams left each shard of `stream` (an ARN):
    /// the sequence number of the last record it counted.
    pub async fn stream_positions(&self, stream: &str) -> Result<HashMap<String, String>, StoreError> {
        let items = self.partition(&format!("STREAM#{stream}")).await?;
        Ok(items
            .iter()
            .map(|item| (string(item, "sk"), string(item, "seq")))
            .collect())
    }

    /// Counts one page of a shard and moves the shard's saved position from
    /// `previous` to `next` in the same transaction, so that a page counts
    /// once however often it is read, even when the shard grew between two
    /// reads. A page must fit one transaction: at most [`PAGE_RECORDS`]
    /// records. `false` when the position had moved already (the page was
    /// counted before).
    pub async fn count_page(
        &self,
        changes: &[Change],
        position: (&str, &str),
        previous: Option<&str>,
        next: &str,
    ) -> Result<bool, StoreError> {
        let (stream, shard) = position;
        let updates = self.counter_updates(&tally(changes));
        if updates.len() > CHUNK {
            return Err(StoreError::Rejected(format!(
                "a page of {} records touches too many counters",
                changes.len()
            )));
        }
        let saved = to_item(&serde_json::json!({"pk": format!("STREAM#{stream}"), "sk": shard, "seq": next}));
        let saved = Put::builder().table_name(&self.tables.stats).set_item(Some(saved));
        let saved = match previous {
            Some(previous) => saved
                .condition_expression("seq = :previous")
                .expression_attribute_values(":previous", s(previous)),
            None => saved.condition_expression("attribute_not_exists(pk)"),
        };
        let mut items: Vec<TransactWriteItem> = updates
            .into_iter()
            .map(|u| TransactWriteItem::builder().update(u).build())
            .collect();
        items.push(
            TransactWriteItem::builder()
                .put(saved.build().expect("complete put"))
                .build(),
        );
        let position_index = items.len() - 1;
        match self.transact(items).await {
            Ok(()) => Ok(true),
            Err(e) if e.failed_at(position_index) => Ok(false),
            Err(e) => Err(e.into_store()),
        }
    }

    /// Counts a batch of stream records. The batch is named by its records'
    /// ids in order, so that a redelivery of the same records counts once.
    pub async fn count_changes(&self, changes: &[Change], now: OffsetDateTime) -> Result<usize, StoreError> {
        let tally = tally(changes);
        if tally.is_empty() {
            return Ok(0);
        }
        let ids: Vec<&str> = changes.iter().map(|c| c.id.as_str()).collect();
        let batch = crate::crypto::base32(&crate::crypto::sha256(ids.join("\n").as_bytes())[..20]);
        self.apply_tally(&batch, &tally, now).await
    }

    /// The counts of every locality of `level` with activity on `day`.
    pub async fn day_counts(&self, level: Level, day: &str) -> Result<HashMap<String, Counts>, StoreError> {
        let mut counts = HashMap::new();
        for item in self.partition(&day_pk(level, day)).await? {
            let region = string(&item, "sk");
            counts.insert(
                region,
                Counts {
                    claimed: number(&item, "claimed"),
                    scans: number(&item, "scans"),
                    checkins: number(&item, "checkins"),
                },
            );
        }
        Ok(counts)
    }

    /// Codes claimed up to and including `day`, per locality of `level`.
    pub async fn claim_totals(&self, level: Level, day: &str) -> Result<HashMap<String, u64>, StoreError> {
        let cutoff = day_attribute(day);
        let mut totals = HashMap::new();
        for item in self.partition(&total_pk(level)).await? {
            let later: u64 = item
                .iter()
                .filter(|(name, _)| name.len() == 9 && name.starts_with('c') && name.as_str() > cutoff.as_str())
                .map(|(name, _)| number(&item, name))
                .sum();
            totals.insert(string(&item, "sk"), number(&item, "total").saturating_sub(later));
        }
        Ok(totals)
    }

    /// The ranking of `level` on `day`.
    pub async fn rankings(&self, ranked: Ranked, day: &str) -> Result<Vec<Row>, StoreError> {
        let (counts, totals) = match ranked {
            Ranked::City => (
                self.day_counts(Level::City, day).await?,
                self.claim_totals(Level::City, day).await?,
            ),
            Ranked::County => (
                self.day_counts(Level::County, day).await?,
                self.claim_totals(Level::County, day).await?,
            ),
            // The notice's units are made of the counted cities and counties: four reads, no
            // counter of their own for the aggregator to write.
            Ranked::Unit => (
                ranking::counts_by_unit(
                    &self.day_counts(Level::City, day).await?,
                    &self.day_counts(Level::County, day).await?,
                ),
                ranking::totals_by_unit(
                    &self.claim_totals(Level::City, day).await?,
                    &self.claim_totals(Level::County, day).await?,
                ),
            ),
        };
        Ok(ranking::rank(ranked, &counts, &totals))
    }

    async fn partition(&self, pk: &str) -> Result<Vec<HashMap<String, AttributeValue>>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.tables.stats)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(pk));
        self.query_all(query).await
    }
}

fn number(item: &HashMap<String, AttributeValue>, name: &str) -> u64 {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().unwrap_or(0),
        _ => 0,
    }
}

fn string(item: &HashMap<String, AttributeValue>, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::S(v)) => v.clone(),
        _ => String::new(),
    }
}

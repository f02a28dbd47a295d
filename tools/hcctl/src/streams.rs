//! Reading the DynamoDB Streams of the log and subjects tables, the local
//! stand-in for the aggregator Lambda's event source: each GetRecords page
//! becomes a page of [`Change`]s counted by `Store::count_page` with the
//! same tally the Lambda adds up, together with the shard's position, which
//! is saved in the stats table: a page counts once however often it is read,
//! and a later run (or `--follow`) goes on where the last one stopped.
//!
//! Where moto 5.2.5 (the local emulator, which serves this API on the
//! DynamoDB port) differs from DynamoDB Streams:
//! - every table's stream has one shard, never closed nor split, so
//!   `NextShardIterator` is never empty; and every shard of every table has
//!   the same id, so positions are kept per stream ARN and shard id;
//! - a shard iterator points at the table object it was made from, and a
//!   cancelled transaction replaces that object with a copy taken before it:
//!   an iterator held across one then serves the transaction's undone writes
//!   and none of the later ones. So no iterator is kept: positions are
//!   sequence numbers, and every page is read with a fresh
//!   `AFTER_SEQUENCE_NUMBER` (or `TRIM_HORIZON`) iterator, which DynamoDB
//!   Streams serves too, rather than with the previous `NextShardIterator`;
//! - records are never trimmed, and an unknown iterator is a 500 rather
//!   than `ExpiredIteratorException`;
//! - it never forgets an iterator it handed out: polling grows the emulator
//!   by about 3 kB per shard and second (two iterators a poll).

use std::collections::{HashMap, HashSet};

use aws_config::SdkConfig;
use aws_sdk_dynamodbstreams::Client;
use aws_sdk_dynamodbstreams::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, Shard, ShardIteratorType};
use shared::store::stats::{self, Change, Source, StreamItem};
use shared::store::{Store, StoreError};

/// Records per GetRecords call: a page is counted together with the shard's
/// saved position in one transaction (`Store::count_page`), so a page read
/// twice, by a later run or another reader, counts once.
const PAGE: i32 = stats::PAGE_RECORDS as i32;

/// The streams client of the environment. Its endpoint is
/// `AWS_ENDPOINT_URL_DYNAMODB_STREAMS` (or `AWS_ENDPOINT_URL`) as the SDK
/// reads them; when the former is unset and `AWS_ENDPOINT_URL_DYNAMODB`
/// names a local emulator, that emulator, which serves both APIs on one port.
pub fn streams_client(config: &SdkConfig) -> Client {
    let own = shared::config::optional("AWS_ENDPOINT_URL_DYNAMODB_STREAMS");
    match shared::config::optional("AWS_ENDPOINT_URL_DYNAMODB") {
        Some(url) if own.is_none() && shared::store::local_endpoint() => streams_client_at(config, &url),
        _ => Client::new(config),
    }
}

/// A streams client with the settings of `config` at an explicit endpoint.
pub fn streams_client_at(config: &SdkConfig, endpoint: &str) -> Client {
    Client::from_conf(
        aws_sdk_dynamodbstreams::config::Builder::from(config)
            .endpoint_url(endpoint)
            .build(),
    )
}

/// A streams client of a local emulator, with dummy credentials: for tests.
pub fn emulator_streams_client(endpoint: &str) -> Client {
    use aws_sdk_dynamodbstreams::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_dynamodbstreams::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "local-emulator"))
        .build();
    Client::from_conf(config)
}

#[derive(Debug, thiserror::Error)]
pub enum DrainError {
    #[error("table {0} has no stream: create the tables with `hcctl tables create`, or deploy template.yaml")]
    NoStream(String),
    /// A failure of DynamoDB (the tables, the counters).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A failure of DynamoDB Streams.
    #[error("DynamoDB Streams: {0}")]
    Streams(StoreError),
}

impl DrainError {
    /// Whether trying again later may succeed.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            DrainError::Store(StoreError::Unavailable(_)) | DrainError::Streams(StoreError::Unavailable(_))
        )
    }
}

fn streams_error<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(err: SdkError<E, R>) -> DrainError {
    DrainError::Streams(StoreError::from(err))
}

/// Where a cursor starts in the streams it has not read yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// At the oldest record kept (`TRIM_HORIZON`): the streams' whole history.
    Oldest,
    /// At the end of the streams as they are at the first drain: only
    /// records written afterwards are counted. (The first drain reads the
    /// history without counting it, rather than keep a `LATEST` iterator,
    /// which moto would let go stale.) Shards that appear later, and the
    /// stream of a table created again, are counted from their start.
    Latest,
}

/// How far a shard has been read.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Position {
    Oldest,
    /// After the record with this sequence number.
    After(String),
    /// Closed by DynamoDB and read to its end.
    Done,
}

/// What a cursor has read so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Stream records read and counted (history skipped is not included).
    pub records: usize,
    /// Records of batches that changed the counters now.
    pub counted: usize,
    /// Records of batches that had been counted before (read again).
    pub repeated: usize,
}

impl Totals {
    pub(crate) fn since(self, before: Totals) -> Totals {
        Totals {
            records: self.records - before.records,
            counted: self.counted - before.counted,
            repeated: self.repeated - before.repeated,
        }
    }
}

impl std::fmt::Display for Totals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "read {} stream records: {} counted now, {} counted before, {} with nothing to count",
            self.records,
            self.counted,
            self.repeated,
            self.records - self.counted - self.repeated
        )
    }
}

/// Where each shard of the two streams was left.
#[derive(Debug)]
pub struct Cursor {
    start: Start,
    /// Table name → its stream and the positions in its shards.
    streams: HashMap<String, StreamPositions>,
    totals: Totals,
}

#[derive(Debug)]
struct StreamPositions {
    arn: String,
    shards: HashMap<String, Position>,
}

impl Cursor {
    pub fn new(start: Start) -> Self {
        Self {
            start,
            streams: HashMap::new(),
            totals: Totals::default(),
        }
    }

    /// Everything counted with this cursor.
    pub fn totals(&self) -> Totals {
        self.totals
    }
}

impl Default for Cursor {
    fn default() -> Self {
        Self::new(Start::Oldest)
    }
}

/// Reads every shard of the log's and the subjects' streams up to its
/// current end, counting each page as one batch, and returns how many
/// records it counted.
pub async fn drain(store: &Store, streams: &Client, cursor: &mut Cursor) -> Result<usize, DrainError> {
    let mut read = 0;
    for (table, source) in [
        (store.tables.log.clone(), Source::Log),
        (store.tables.subjects.clone(), Source::Subjects),
    ] {
        read += drain_table(store, streams, cursor, &table, source).await?;
    }
    Ok(read)
}

async fn drain_table(
    store: &Store,
    streams: &Client,
    cursor: &mut Cursor,
    table: &str,
    source: Source,
) -> Result<usize, DrainError> {
    let described = store
        .client()
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(StoreError::from)?;
    let arn = described
        .table
        .and_then(|t| t.latest_stream_arn)
        .ok_or_else(|| DrainError::NoStream(table.to_owned()))?;
    // The history a cursor that starts at the end finds at its first drain is read, not counted.
    let skip = cursor.start == Start::Latest && !cursor.streams.contains_key(table);
    let known = cursor.streams.get(table).is_some_and(|p| p.arn == arn);
    if !known {
        // A stream seen for the first time (or a table created again):
        // go on from where earlier runs saved their positions.
        let saved = store.stream_positions(&arn).await?;
        let shards = saved
            .into_iter()
            .map(|(shard, sequence)| (shard, Position::After(sequence)))
            .collect();
        cursor.streams.insert(
            table.to_owned(),
            StreamPositions {
                arn: arn.clone(),
                shards,
            },
        );
    }
    let positions = cursor.streams.get_mut(table).expect("inserted above");
    let mut read = 0;
    for shard in parents_first(list_shards(streams, &arn).await?) {
        let Some(id) = shard.shard_id() else { continue };
        // A child shard continues its parent: it waits until the parent is read to its end.
        let parent_pending = shard
            .parent_shard_id()
            .and_then(|parent| positions.shards.get(parent))
            .is_some_and(|parent| *parent != Position::Done);
        if parent_pending {
            continue;
        }
        let position = positions.shards.entry(id.to_owned()).or_insert(Position::Oldest);
        let counting = (!skip).then_some((source, &mut cursor.totals));
        read += read_shard(store, streams, &arn, id, position, counting).await?;
    }
    Ok(read)
}

/// Reads one shard from its position to its current end and returns how
/// many records it counted; with `counting` `None`, it only moves on.
async fn read_shard(
    store: &Store,
    streams: &Client,
    arn: &str,
    shard: &str,
    position: &mut Position,
    mut counting: Option<(Source, &mut Totals)>,
) -> Result<usize, DrainError> {
    let mut read = 0;
    loop {
        let Some(iterator) = iterator(streams, arn, shard, position).await? else {
            *position = Position::Done;
            return Ok(read);
        };
        let out = match streams.get_records().shard_iterator(iterator).limit(PAGE).send().await {
            Ok(out) => out,
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_trimmed_data_access_exception()) =>
            {
                trimmed(arn, shard, position);
                continue;
            }
            Err(err) => return Err(streams_error(err)),
        };
        let records = out.records();
        if let Some(last) = records.last() {
            let sequence = last
                .dynamodb()
                .and_then(|d| d.sequence_number())
                .ok_or_else(|| StoreError::Corrupt("a stream record without a sequence number".into()))?;
            let previous = match position {
                Position::After(previous) => Some(previous.clone()),
                _ => None,
            };
            let changes: Vec<Change> = match counting.as_mut() {
                Some((source, _)) => records.iter().filter_map(|r| change(r, *source)).collect(),
                // History a `Latest` cursor skips: only the position moves.
                None => Vec::new(),
            };
            let counted_now = store
                .count_page(&changes, (arn, shard), previous.as_deref(), sequence)
                .await?;
            if let Some((_, totals)) = counting.as_mut() {
                totals.records += records.len();
                if !stats::tally(&changes).is_empty() {
                    if counted_now {
                        totals.counted += records.len()
                    } else {
                        totals.repeated += records.len()
                    }
                }
                read += records.len();
            }
            if counted_now {
                *position = Position::After(sequence.to_owned());
            } else {
                // Another reader moved on first: continue from its position.
                let saved = store.stream_positions(arn).await?;
                *position = saved
                    .get(shard)
                    .map_or(Position::Oldest, |s| Position::After(s.clone()));
            }
        }
        match out.next_shard_iterator() {
            None => {
                *position = Position::Done;
                return Ok(read);
            }
            Some(_) if records.is_empty() => return Ok(read),
            Some(_) => {}
        }
    }
}

/// Records after the position expired unread (after 24 hours in AWS):
/// reading goes on from the oldest kept.
fn trimmed(arn: &str, shard: &str, position: &mut Position) {
    eprintln!(
        "hcctl: records of shard {shard} of {arn} expired before they were read; reading on from the oldest kept"
    );
    *position = Position::Oldest;
}

/// A stream record as the change the aggregator counts.
pub fn change(record: &Record, source: Source) -> Option<Change> {
    let stream = record.dynamodb()?;
    let image = |image: Option<&HashMap<String, AttributeValue>>| {
        image.filter(|i| !i.is_empty()).map(|i| StreamItem::from(i.clone()))
    };
    Some(Change {
        id: record.event_id()?.to_owned(),
        source,
        new_image: image(stream.new_image()),
        old_image: image(stream.old_image()),
    })
}

/// A fresh iterator at the position; `None` where there is none to give
/// (a shard read to its end).
async fn iterator(
    streams: &Client,
    arn: &str,
    shard: &str,
    position: &mut Position,
) -> Result<Option<String>, DrainError> {
    loop {
        let (kind, after) = match position {
            Position::Done => return Ok(None),
            Position::Oldest => (ShardIteratorType::TrimHorizon, None),
            Position::After(sequence) => (ShardIteratorType::AfterSequenceNumber, Some(sequence.clone())),
        };
        let result = streams
            .get_shard_iterator()
            .stream_arn(arn)
            .shard_id(shard)
            .shard_iterator_type(kind)
            .set_sequence_number(after)
            .send()
            .await;
        match result {
            Ok(out) => return Ok(out.shard_iterator),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_trimmed_data_access_exception()) =>
            {
                trimmed(arn, shard, position)
            }
            Err(err) => return Err(streams_error(err)),
        }
    }
}

async fn list_shards(streams: &Client, arn: &str) -> Result<Vec<Shard>, DrainError> {
    let mut shards = Vec::new();
    let mut start = None;
    loop {
        let out = streams
            .describe_stream()
            .stream_arn(arn)
            .set_exclusive_start_shard_id(start)
            .send()
            .await
            .map_err(streams_error)?;
        let Some(description) = out.stream_description else {
            return Ok(shards);
        };
        shards.extend(description.shards.unwrap_or_default());
        start = description.last_evaluated_shard_id;
        if start.is_none() {
            return Ok(shards);
        }
    }
}

/// The shards with every parent before its children, so that a stream's
/// records are counted in order across a shard's rollover.
fn parents_first(mut shards: Vec<Shard>) -> Vec<Shard> {
    let listed: HashSet<String> = shards.iter().filter_map(|s| s.shard_id().map(str::to_owned)).collect();
    let mut placed = HashSet::new();
    let mut ordered = Vec::with_capacity(shards.len());
    while !shards.is_empty() {
        let (ready, rest): (Vec<Shard>, Vec<Shard>) = shards.into_iter().partition(|s| {
            s.parent_shard_id()
                .is_none_or(|p| !listed.contains(p) || placed.contains(p))
        });
        if ready.is_empty() {
            ordered.extend(rest);
            break;
        }
        placed.extend(ready.iter().filter_map(|s| s.shard_id().map(str::to_owned)));
        ordered.extend(ready);
        shards = rest;
    }
    ordered
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(id: &str, parent: Option<&str>) -> Shard {
        Shard::builder()
            .shard_id(id)
            .set_parent_shard_id(parent.map(str::to_owned))
            .build()
    }

    #[test]
    fn parents_come_before_their_children() {
        let shards = vec![
            shard("c", Some("b")),
            shard("b", Some("a")),
            shard("a", Some("trimmed")),
            shard("x", None),
        ];
        let ordered = parents_first(shards);
        let order: Vec<&str> = ordered.iter().filter_map(Shard::shard_id).collect();
        assert_eq!(order, ["a", "x", "b", "c"]);
    }
}

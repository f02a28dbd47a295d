//! Read and write units of what a handler does, priced by DynamoDB's
//! documented rules.
//!
//! moto, the local emulator, answers `ReturnConsumedCapacity` with fixed
//! figures (1 for any write, 0.5 for any read item, whatever the size, the
//! consistency or the indexes). The meter keeps that figure (`Call::reported`,
//! "moto's fixed figure"), but prices every call itself, from the items as
//! they are before and after it, by the rules of the DynamoDB Developer
//! Guide:
//!
//! - item sizes: "DynamoDB item sizes and formats",
//!   <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html>
//!   (names + values; strings in UTF-8 bytes; numbers 1 byte per two
//!   significant digits + 1; binary in raw bytes; null and Boolean 1 byte;
//!   a list or map 3 bytes + 1 byte per element + its elements);
//! - units: "DynamoDB read and write operations",
//!   <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html>
//!   (a read 4 KB a unit, half when eventually consistent, and a read that
//!   finds nothing still costs the minimum; `BatchGetItem` rounds each item
//!   on its own; `Query` and `Scan` add up the items *evaluated*, before any
//!   filter or projection, and round once a page; a write 1 KB a unit;
//!   `PutItem` and `UpdateItem` charge the larger of the item before and
//!   after; `DeleteItem` the deleted item; `BatchWriteItem` each item on its
//!   own; a failed conditional write the existing item, or 1 unit);
//! - transactions: "Amazon DynamoDB Transactions: how it works", capacity
//!   management,
//!   <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html>
//!   (two underlying reads or writes of every item: 2× per item);
//! - indexes: "Global secondary indexes", provisioned throughput
//!   considerations,
//!   <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.ThroughputConsiderations.Writes>
//!   (a put into an index the item enters, a delete from one it leaves, a
//!   delete and a put when an index key changes, one write when only
//!   projected attributes change; an index entry is the table's keys, the
//!   index's keys and the projected attributes, plus 100 bytes).
//!
//! # How the meter knows the items
//!
//! An SDK interceptor (`Interceptor`) sees every call of a metered client:
//!
//! 1. `modify_before_signing` adds `ReturnConsumedCapacity: INDEXES` to the
//!    body and, for a write, reads each item it will write, as it is now:
//!    a strongly consistent `GetItem` per key, sent by a plain blocking
//!    HTTP POST (`raw_call`) to the same endpoint, outside the SDK (moto
//!    does not check signatures; the interceptor's own calls are therefore
//!    not metered). The key of a put comes from the table's key schema,
//!    read once per table with `DescribeTable`.
//! 2. `read_after_deserialization`, with the answer, prices the call. The
//!    item after a put is the item sent; after an update, one more
//!    `GetItem`; after a delete, none. A `Query` or `Scan` with a filter, a
//!    projection or a `Select` is run again without them (same key
//!    condition, `Limit` and start key), to size the items it evaluated;
//!    the number found must equal the answer's `ScannedCount`. A `GetItem`
//!    or batch with a projection reads its items again whole.
//!
//! The state of a call travels in its own `ConfigBag`, so concurrent calls
//! do not mix. A call's `elapsed` includes the meter's own reads, so that
//! "handler time = wall time - time in calls" leaves them out. If the
//! meter cannot read what it needs (the emulator unreachable, an answer it
//! cannot parse, a rerun query that read other items), the interceptor
//! fails the call: a wrong price never passes silently. Writes that race
//! with other writers of the same item may be mispriced; measure one
//! request at a time. Where AWS does not document a case, the meter says
//! what it assumes, next to the code (a `ConditionCheck`, a cancelled
//! transaction, an index entry updated in place, index writes of a
//! transaction).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextMut,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use base64::Engine;
use serde_json::{Value, json};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Bytes a read unit covers.
pub const READ_UNIT_BYTES: usize = 4096;
/// Bytes a write unit covers.
pub const WRITE_UNIT_BYTES: usize = 1024;
/// What DynamoDB adds to every index entry it writes.
pub const INDEX_ENTRY_OVERHEAD: usize = 100;

// ---------------------------------------------------------------- the rules

/// How a read is made: the unit of 4 KB costs 0.5, 1 or 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consistency {
    Eventual,
    Strong,
    Transactional,
}

impl Consistency {
    fn factor(self) -> f64 {
        match self {
            Consistency::Eventual => 0.5,
            Consistency::Strong => 1.0,
            Consistency::Transactional => 2.0,
        }
    }

    fn of(request: &Value) -> Self {
        if request["ConsistentRead"].as_bool().unwrap_or(false) {
            Consistency::Strong
        } else {
            Consistency::Eventual
        }
    }
}

/// Read units of one read of `size` bytes: one item (`GetItem`, each item
/// of a batch or a transaction), or the items one `Query` or `Scan` page
/// evaluated, added up. Rounded up to 4 KB; reading nothing costs the
/// minimum, as a read of a missing item does.
pub fn read_units(size: usize, consistency: Consistency) -> f64 {
    size.div_ceil(READ_UNIT_BYTES).max(1) as f64 * consistency.factor()
}

/// Write units of writing `size` bytes: rounded up to 1 KB, at least 1.
pub fn write_units(size: usize) -> f64 {
    size.div_ceil(WRITE_UNIT_BYTES).max(1) as f64
}

/// Write units of one item written (put, update or delete) whose size
/// before and after is given (`None`: no item): the larger of the two. A
/// failed conditional write is `item_write_units(before, before)`.
pub fn item_write_units(before: Option<usize>, after: Option<usize>) -> f64 {
    write_units(before.unwrap_or(0).max(after.unwrap_or(0)))
}

/// DynamoDB's size of an item in its wire format (`{"name": {"S": "…"}}`).
pub fn item_size(item: &Value) -> usize {
    item.as_object()
        .into_iter()
        .flatten()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

/// The size of one attribute value, without its name.
pub fn value_size(value: &Value) -> usize {
    let Some((kind, inner)) = value.as_object().and_then(|o| o.iter().next()) else {
        return 0;
    };
    let strings = || inner.as_array().into_iter().flatten().filter_map(Value::as_str);
    match kind.as_str() {
        "S" => inner.as_str().map_or(0, str::len),
        "N" => inner.as_str().map_or(0, number_size),
        "B" => inner.as_str().map_or(0, binary_size),
        "BOOL" | "NULL" => 1,
        "SS" => strings().map(str::len).sum(),
        "NS" => strings().map(number_size).sum(),
        "BS" => strings().map(binary_size).sum(),
        // 3 bytes for the list or map, 1 byte per element.
        "L" => {
            3 + inner
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| 1 + value_size(v))
                .sum::<usize>()
        }
        "M" => {
            3 + inner
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| 1 + k.len() + value_size(v))
                .sum::<usize>()
        }
        _ => 0,
    }
}

/// A number: 1 byte per two significant digits (leading and trailing
/// zeroes trimmed), plus 1.
pub fn number_size(number: &str) -> usize {
    let mantissa = number.split(['e', 'E']).next().unwrap_or_default();
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0');
    significant.len().div_ceil(2) + 1
}

/// A binary value travels as base64; its raw bytes count.
fn binary_size(base64: &str) -> usize {
    base64::engine::general_purpose::STANDARD
        .decode(base64)
        .map_or(base64.len() * 3 / 4, |b| b.len())
}

/// An item as the SDK holds it, in DynamoDB's wire format, to size it.
pub fn wire_item(item: &HashMap<String, AttributeValue>) -> Value {
    Value::Object(item.iter().map(|(k, v)| (k.clone(), wire(v))).collect())
}

fn wire(value: &AttributeValue) -> Value {
    let b64 = |b: &aws_smithy_types::Blob| base64::engine::general_purpose::STANDARD.encode(b.as_ref());
    match value {
        AttributeValue::S(s) => json!({"S": s}),
        AttributeValue::N(n) => json!({"N": n}),
        AttributeValue::B(b) => json!({"B": b64(b)}),
        AttributeValue::Bool(b) => json!({"BOOL": b}),
        AttributeValue::Null(n) => json!({"NULL": n}),
        AttributeValue::Ss(s) => json!({"SS": s}),
        AttributeValue::Ns(n) => json!({"NS": n}),
        AttributeValue::Bs(b) => json!({"BS": b.iter().map(b64).collect::<Vec<_>>()}),
        AttributeValue::L(l) => json!({"L": l.iter().map(wire).collect::<Vec<_>>()}),
        AttributeValue::M(m) => json!({"M": wire_item(m)}),
        _ => Value::Null,
    }
}

/// The key schema and global secondary indexes of a table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableSchema {
    pub keys: Vec<String>,
    pub indexes: Vec<IndexSchema>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IndexSchema {
    pub name: String,
    pub keys: Vec<String>,
    pub projection: Projected,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Projected {
    All,
    KeysOnly,
    Include(Vec<String>),
}

impl TableSchema {
    /// From a `DescribeTable` answer.
    pub fn from_description(description: &Value) -> Self {
        let names = |schema: &Value| -> Vec<String> {
            schema
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|k| k["AttributeName"].as_str().map(str::to_owned))
                .collect()
        };
        let table = &description["Table"];
        let indexes = table["GlobalSecondaryIndexes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|i| IndexSchema {
                name: i["IndexName"].as_str().unwrap_or_default().to_owned(),
                keys: names(&i["KeySchema"]),
                projection: match i["Projection"]["ProjectionType"].as_str() {
                    Some("ALL") => Projected::All,
                    Some("INCLUDE") => Projected::Include(
                        i["Projection"]["NonKeyAttributes"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|a| a.as_str().map(str::to_owned))
                            .collect(),
                    ),
                    _ => Projected::KeysOnly,
                },
            })
            .collect();
        TableSchema {
            keys: names(&table["KeySchema"]),
            indexes,
        }
    }

    /// The primary key of an item.
    pub fn key_of(&self, item: &Value) -> Value {
        Value::Object(
            self.keys
                .iter()
                .filter_map(|k| item.get(k).map(|v| (k.clone(), v.clone())))
                .collect(),
        )
    }

    /// Write units of the index entries a write changes, from the item
    /// before and after it (`None`: no item).
    pub fn index_write_units(&self, before: Option<&Value>, after: Option<&Value>) -> f64 {
        self.indexes
            .iter()
            .map(|index| {
                let entry = |item: Option<&Value>| item.and_then(|i| self.index_entry(index, i));
                let size = |entry: &Value| item_size(entry) + INDEX_ENTRY_OVERHEAD;
                match (entry(before), entry(after)) {
                    (None, None) => 0.0,
                    (Some(old), None) => write_units(size(&old)),
                    (None, Some(new)) => write_units(size(&new)),
                    (Some(old), Some(new)) => {
                        let same_keys = index.keys.iter().all(|k| old.get(k) == new.get(k));
                        if !same_keys {
                            // A delete of the old entry and a put of the new one.
                            write_units(size(&old)) + write_units(size(&new))
                        } else if old == new {
                            0.0
                        } else {
                            // Projected attributes changed: one write. AWS does
                            // not say of which size; like an update, the larger.
                            write_units(size(&old).max(size(&new)))
                        }
                    }
                }
            })
            .sum()
    }

    /// The entry an item has in an index, without the 100 bytes: the
    /// table's keys, the index's keys and the projected attributes; `None`
    /// when the item lacks an index key and so is not in the index.
    pub fn index_entry(&self, index: &IndexSchema, item: &Value) -> Option<Value> {
        let item = item.as_object()?;
        if !index.keys.iter().all(|k| item.contains_key(k)) {
            return None;
        }
        let keep = |name: &String| {
            self.keys.contains(name)
                || index.keys.contains(name)
                || match &index.projection {
                    Projected::All => true,
                    Projected::KeysOnly => false,
                    Projected::Include(attrs) => attrs.contains(name),
                }
        };
        Some(Value::Object(
            item.iter()
                .filter(|(n, _)| keep(n))
                .map(|(n, v)| (n.clone(), v.clone()))
                .collect(),
        ))
    }
}

// ---------------------------------------------------------------- the meter

/// One DynamoDB call.
#[derive(Debug, Clone)]
pub struct Call {
    pub operation: String,
    /// moto's fixed figure: what the emulator reported (`ConsumedCapacity`),
    /// summed over tables and indexes. Not DynamoDB's price.
    pub reported: f64,
    /// Read units by DynamoDB's rules.
    pub read_units: f64,
    /// Write units by DynamoDB's rules, index writes included.
    pub write_units: f64,
    /// From the first byte sent to the price known, the meter's own reads
    /// included.
    pub elapsed: Duration,
}

#[derive(Debug, Default, Clone)]
pub struct Meter {
    calls: Arc<Mutex<Vec<Call>>>,
    schemas: Arc<Mutex<HashMap<String, TableSchema>>>,
}

impl Meter {
    pub fn new() -> Self {
        Self::default()
    }

    /// The calls metered since the last `take`.
    pub fn take(&self) -> Vec<Call> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }
}

/// What the meter carries from a request to its answer, in the call's own
/// `ConfigBag`.
#[derive(Debug, Clone)]
struct Pending {
    operation: String,
    request: Value,
    /// The emulator's `host:port`.
    endpoint: String,
    /// Each item the call writes, as it was before it (see `write_targets`).
    before: Vec<Option<Value>>,
    started: Instant,
}

impl Storable for Pending {
    type Storer = StoreReplace<Self>;
}

/// An item a write touches.
#[derive(Debug, Clone)]
struct Target {
    table: String,
    key: Value,
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Put(Value),
    Update,
    Delete,
    Check,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    Done,
    /// A conditional write whose condition failed, or a cancelled transaction.
    ConditionFailed,
    /// Any other error: nothing consumed is counted.
    Failed,
}

struct Shadow<'a> {
    meter: &'a Meter,
    endpoint: &'a str,
    region: &'a str,
}

impl Shadow<'_> {
    fn call(&self, operation: &str, body: &Value) -> Result<Value, BoxError> {
        raw_call(self.endpoint, self.region, operation, body)
    }

    fn schema(&self, table: &str) -> Result<TableSchema, BoxError> {
        if let Some(schema) = self.meter.schemas.lock().unwrap().get(table) {
            return Ok(schema.clone());
        }
        let schema = TableSchema::from_description(&self.call("DescribeTable", &json!({"TableName": table}))?);
        if schema.keys.is_empty() {
            return Err(format!("capacity meter: no key schema for table {table}").into());
        }
        self.meter
            .schemas
            .lock()
            .unwrap()
            .insert(table.to_owned(), schema.clone());
        Ok(schema)
    }

    /// The whole item under a key, read strongly consistently.
    fn get(&self, table: &str, key: &Value) -> Result<Option<Value>, BoxError> {
        let answer = self.call(
            "GetItem",
            &json!({"TableName": table, "Key": key, "ConsistentRead": true}),
        )?;
        Ok(answer.get("Item").cloned())
    }

    /// The items a write call touches, in a fixed order.
    fn write_targets(&self, operation: &str, request: &Value) -> Result<Vec<Target>, BoxError> {
        let table = |r: &Value| r["TableName"].as_str().unwrap_or_default().to_owned();
        let mut targets = Vec::new();
        match operation {
            "PutItem" => {
                let t = table(request);
                let key = self.schema(&t)?.key_of(&request["Item"]);
                targets.push(Target {
                    table: t,
                    key,
                    kind: Kind::Put(request["Item"].clone()),
                });
            }
            "UpdateItem" | "DeleteItem" => targets.push(Target {
                table: table(request),
                key: request["Key"].clone(),
                kind: if operation == "UpdateItem" {
                    Kind::Update
                } else {
                    Kind::Delete
                },
            }),
            "BatchWriteItem" => {
                for (t, requests) in request["RequestItems"].as_object().into_iter().flatten() {
                    for r in requests.as_array().into_iter().flatten() {
                        if let Some(item) = r["PutRequest"].get("Item") {
                            let key = self.schema(t)?.key_of(item);
                            targets.push(Target {
                                table: t.clone(),
                                key,
                                kind: Kind::Put(item.clone()),
                            });
                        } else {
                            targets.push(Target {
                                table: t.clone(),
                                key: r["DeleteRequest"]["Key"].clone(),
                                kind: Kind::Delete,
                            });
                        }
                    }
                }
            }
            "TransactWriteItems" => {
                for t in request["TransactItems"].as_array().into_iter().flatten() {
                    let target = if let Some(put) = t.get("Put") {
                        let key = self.schema(&table(put))?.key_of(&put["Item"]);
                        Target {
                            table: table(put),
                            key,
                            kind: Kind::Put(put["Item"].clone()),
                        }
                    } else {
                        let (action, kind) = [
                            ("Update", Kind::Update),
                            ("Delete", Kind::Delete),
                            ("ConditionCheck", Kind::Check),
                        ]
                        .into_iter()
                        .find(|(name, _)| t.get(*name).is_some())
                        .ok_or("capacity meter: a transaction item of an unknown kind")?;
                        Target {
                            table: table(&t[action]),
                            key: t[action]["Key"].clone(),
                            kind,
                        }
                    };
                    targets.push(target);
                }
            }
            _ => {}
        }
        Ok(targets)
    }

    /// (read units, write units) of one call.
    fn price(&self, pending: &Pending, response: &Value, outcome: Outcome) -> Result<(f64, f64), BoxError> {
        if outcome == Outcome::Failed {
            return Ok((0.0, 0.0));
        }
        let request = &pending.request;
        let done = outcome == Outcome::Done;
        match pending.operation.as_str() {
            "GetItem" if done => {
                let item = if projects(request) {
                    self.get(request["TableName"].as_str().unwrap_or_default(), &request["Key"])?
                } else {
                    response.get("Item").cloned()
                };
                Ok((
                    read_units(item.as_ref().map_or(0, item_size), Consistency::of(request)),
                    0.0,
                ))
            }
            "BatchGetItem" if done => {
                let mut units = 0.0;
                for (table, spec) in request["RequestItems"].as_object().into_iter().flatten() {
                    let consistency = Consistency::of(spec);
                    let unprocessed = response["UnprocessedKeys"][table]["Keys"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default();
                    let keys: Vec<&Value> = spec["Keys"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|k| !unprocessed.contains(k))
                        .collect();
                    let sizes: Vec<usize> = if projects(spec) {
                        keys.iter()
                            .filter_map(|k| self.get(table, k).transpose())
                            .map(|item| item.map(|i| item_size(&i)))
                            .collect::<Result<_, _>>()?
                    } else {
                        response["Responses"][table]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(item_size)
                            .collect()
                    };
                    // Each item on its own; a key that found nothing, the minimum.
                    let missing = keys.len().saturating_sub(sizes.len());
                    units += sizes.iter().map(|s| read_units(*s, consistency)).sum::<f64>()
                        + missing as f64 * read_units(0, consistency);
                }
                Ok((units, 0.0))
            }
            "TransactGetItems" if done => {
                let mut units = 0.0;
                for (i, t) in request["TransactItems"].as_array().into_iter().flatten().enumerate() {
                    let get = &t["Get"];
                    let item = if projects(get) {
                        self.get(get["TableName"].as_str().unwrap_or_default(), &get["Key"])?
                    } else {
                        response["Responses"][i].get("Item").cloned()
                    };
                    units += read_units(item.as_ref().map_or(0, item_size), Consistency::Transactional);
                }
                Ok((units, 0.0))
            }
            "Query" | "Scan" if done => {
                let items = if filters(request) {
                    self.evaluated(&pending.operation, request, response)?
                } else {
                    response["Items"].as_array().cloned().unwrap_or_default()
                };
                let size = items.iter().map(item_size).sum();
                Ok((read_units(size, Consistency::of(request)), 0.0))
            }
            "PutItem" | "UpdateItem" | "DeleteItem" | "BatchWriteItem" | "TransactWriteItems" => {
                let targets = self.write_targets(&pending.operation, request)?;
                let transaction = pending.operation == "TransactWriteItems";
                let factor = if transaction { 2.0 } else { 1.0 };
                let unprocessed = response["UnprocessedItems"].clone();
                let mut units = 0.0;
                for (target, before) in targets.iter().zip(&pending.before) {
                    let before_size = before.as_ref().map(item_size);
                    if outcome == Outcome::ConditionFailed || target.kind == Kind::Check {
                        // A failed condition consumes the item as it stands (1
                        // unit if absent). A ConditionCheck is priced the
                        // same, 2x: AWS does not state its cost; real
                        // DynamoDB was seen to report write units for it
                        // (docs/data-model.md). A cancelled transaction is
                        // undocumented: priced as if each item's condition
                        // failed.
                        units += factor * item_write_units(before_size, before_size);
                        continue;
                    }
                    if was_unprocessed(&unprocessed, target) {
                        continue;
                    }
                    let after = match &target.kind {
                        Kind::Put(item) => Some(item.clone()),
                        Kind::Update => self.get(&target.table, &target.key)?,
                        Kind::Delete | Kind::Check => None,
                    };
                    units += factor * item_write_units(before_size, after.as_ref().map(item_size));
                    // Index writes at the plain rate, in or out of a
                    // transaction (AWS does not say; no transaction of ours
                    // writes an indexed table).
                    units += self
                        .schema(&target.table)?
                        .index_write_units(before.as_ref(), after.as_ref());
                }
                Ok((0.0, units))
            }
            _ => Ok((0.0, 0.0)),
        }
    }

    /// The items a filtered (or projected, or counted) `Query` or `Scan`
    /// evaluated: the same request again without filter, projection and
    /// `Select`, checked against the answer's `ScannedCount`.
    fn evaluated(&self, operation: &str, request: &Value, response: &Value) -> Result<Vec<Value>, BoxError> {
        let mut again = request.clone();
        let body = again
            .as_object_mut()
            .ok_or("capacity meter: a request that is not an object")?;
        for field in [
            "FilterExpression",
            "ProjectionExpression",
            "Select",
            "AttributesToGet",
            "QueryFilter",
            "ScanFilter",
            "ConditionalOperator",
            "ReturnConsumedCapacity",
        ] {
            body.remove(field);
        }
        // DynamoDB refuses placeholders no expression uses any more.
        let used = body
            .get("KeyConditionExpression")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        for map in ["ExpressionAttributeNames", "ExpressionAttributeValues"] {
            if let Some(Value::Object(m)) = body.get_mut(map) {
                m.retain(|placeholder, _| uses(&used, placeholder));
                if m.is_empty() {
                    body.remove(map);
                }
            }
        }
        let answer = self.call(operation, &again)?;
        let items = answer["Items"].as_array().cloned().unwrap_or_default();
        if let Some(scanned) = response["ScannedCount"].as_u64()
            && scanned != items.len() as u64
        {
            return Err(format!(
                "capacity meter: the {operation} evaluated {scanned} items, the meter's rerun found {}",
                items.len()
            )
            .into());
        }
        Ok(items)
    }
}

/// A read whose answer is not the whole items it read.
fn projects(request: &Value) -> bool {
    request.get("ProjectionExpression").is_some() || request.get("AttributesToGet").is_some()
}

fn filters(request: &Value) -> bool {
    projects(request)
        || request.get("FilterExpression").is_some()
        || request.get("QueryFilter").is_some()
        || request.get("ScanFilter").is_some()
        || request
            .get("Select")
            .and_then(Value::as_str)
            .is_some_and(|s| s != "ALL_ATTRIBUTES" && s != "ALL_PROJECTED_ATTRIBUTES")
}

/// Whether `expression` names `placeholder` (`#at`, `:pk`) as a whole token.
fn uses(expression: &str, placeholder: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    expression.match_indices(placeholder).any(|(at, _)| {
        expression[at + placeholder.len()..]
            .chars()
            .next()
            .is_none_or(|c| !word(c))
    })
}

fn was_unprocessed(unprocessed: &Value, target: &Target) -> bool {
    unprocessed[&target.table]
        .as_array()
        .into_iter()
        .flatten()
        .any(|r| match &target.kind {
            Kind::Put(item) => r["PutRequest"]["Item"] == *item,
            _ => r["DeleteRequest"]["Key"] == target.key,
        })
}

/// One DynamoDB call by plain HTTP/1.1, outside the SDK and its meter.
/// moto reads the region and the service from the credential scope and
/// checks no signature.
fn raw_call(endpoint: &str, region: &str, operation: &str, body: &Value) -> Result<Value, BoxError> {
    let payload = serde_json::to_vec(body)?;
    let mut last_error = None;
    for attempt in 0..3 {
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis(50 * attempt));
        }
        match raw_attempt(endpoint, region, operation, &payload) {
            Ok((200, answer)) => return Ok(answer),
            Ok((status, answer)) => {
                return Err(format!("capacity meter: {operation} answered {status}: {answer}").into());
            }
            Err(e) => last_error = Some(e),
        }
    }
    Err(format!(
        "capacity meter: {operation} to {endpoint} failed: {}",
        last_error.map(|e| e.to_string()).unwrap_or_default()
    )
    .into())
}

fn raw_attempt(endpoint: &str, region: &str, operation: &str, payload: &[u8]) -> Result<(u16, Value), BoxError> {
    let mut stream = TcpStream::connect(endpoint)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {endpoint}\r\nX-Amz-Target: DynamoDB_20120810.{operation}\r\n\
         Content-Type: application/x-amz-json-1.0\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=meter/20200101/{region}/dynamodb/aws4_request, \
         SignedHeaders=host, Signature=0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        payload.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(payload)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no end of the HTTP head")?;
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("no HTTP status")?;
    let mut body = raw[split + 4..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        body = dechunk(&body)?;
    }
    Ok((status, serde_json::from_slice(&body)?))
}

fn dechunk(mut body: &[u8]) -> Result<Vec<u8>, BoxError> {
    let mut out = Vec::new();
    loop {
        let line = body.windows(2).position(|w| w == b"\r\n").ok_or("bad chunk")?;
        let size = usize::from_str_radix(String::from_utf8_lossy(&body[..line]).trim(), 16)?;
        if size == 0 {
            return Ok(out);
        }
        let start = line + 2;
        out.extend_from_slice(body.get(start..start + size).ok_or("short chunk")?);
        body = body.get(start + size + 2..).ok_or("short chunk")?;
    }
}

/// `host:port` of an `http://` URI.
fn authority(uri: &str) -> Option<String> {
    let rest = uri.strip_prefix("http://")?;
    Some(rest.split('/').next()?.to_owned())
}

#[derive(Debug)]
struct Interceptor {
    meter: Meter,
    region: String,
}

/// Calls that are not priced: the control plane.
const CONTROL: [&str; 5] = [
    "CreateTable",
    "UpdateTimeToLive",
    "ListTables",
    "DescribeTable",
    "DeleteTable",
];

impl Intercept for Interceptor {
    fn name(&self) -> &'static str {
        "capacity-meter"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let started = Instant::now();
        let request = context.request_mut();
        let Some(bytes) = request.body().bytes() else {
            return Ok(());
        };
        let mut body: Value = serde_json::from_slice(bytes)?;
        let operation = request
            .headers()
            .get("x-amz-target")
            .unwrap_or_default()
            .rsplit('.')
            .next()
            .unwrap_or_default()
            .to_owned();
        if !body.is_object() || CONTROL.contains(&operation.as_str()) {
            return Ok(());
        }
        let endpoint = authority(request.uri()).ok_or_else(|| {
            format!(
                "capacity meter: can only read from an http:// emulator, not {}",
                request.uri()
            )
        })?;
        body["ReturnConsumedCapacity"] = json!("INDEXES");
        let shadow = Shadow {
            meter: &self.meter,
            endpoint: &endpoint,
            region: &self.region,
        };
        let before = shadow
            .write_targets(&operation, &body)?
            .iter()
            .map(|t| shadow.get(&t.table, &t.key))
            .collect::<Result<Vec<_>, _>>()?;
        let bytes = serde_json::to_vec(&body)?;
        request.headers_mut().insert("content-length", bytes.len().to_string());
        *request.body_mut() = SdkBody::from(bytes);
        cfg.interceptor_state().store_put(Pending {
            operation,
            request: body,
            endpoint,
            before,
            started,
        });
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(pending) = cfg.load::<Pending>().cloned() else {
            return Ok(());
        };
        let Some(bytes) = context.response().body().bytes() else {
            return Ok(());
        };
        let response: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
        let outcome = if context.response().status().is_success() {
            Outcome::Done
        } else {
            let kind = response["__type"].as_str().unwrap_or_default();
            if kind.contains("ConditionalCheckFailed") || kind.contains("TransactionCanceled") {
                Outcome::ConditionFailed
            } else {
                Outcome::Failed
            }
        };
        let reported = match &response["ConsumedCapacity"] {
            Value::Array(list) => list.iter().filter_map(|c| c["CapacityUnits"].as_f64()).sum(),
            other => other["CapacityUnits"].as_f64().unwrap_or(0.0),
        };
        let shadow = Shadow {
            meter: &self.meter,
            endpoint: &pending.endpoint,
            region: &self.region,
        };
        let (read_units, write_units) = shadow.price(&pending, &response, outcome)?;
        self.meter.calls.lock().unwrap().push(Call {
            operation: pending.operation.clone(),
            reported,
            read_units,
            write_units,
            elapsed: pending.started.elapsed(),
        });
        Ok(())
    }
}

/// A client that meters every call. It must point at the emulator over
/// plain HTTP: the meter reads the items itself from there.
pub fn metered_client(meter: &Meter) -> aws_sdk_dynamodb::Client {
    let base = crate::client();
    let region = base
        .config()
        .region()
        .map_or_else(|| "us-east-1".to_owned(), |r| r.to_string());
    let config = base
        .config()
        .to_builder()
        .interceptor(Interceptor {
            meter: meter.clone(),
            region,
        })
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

#[cfg(test)]
mod tests {
    //! The worked examples of the AWS pages cited at the top, so that a
    //! wrong rule fails here.
    use super::*;

    const KB: usize = 1024;

    fn item(v: Value) -> usize {
        item_size(&v)
    }

    #[test]
    fn item_sizes_follow_the_item_sizes_and_formats_page() {
        // Strings: name + UTF-8 bytes; Chinese characters are 3 bytes.
        assert_eq!(item(json!({"pk": {"S": "A#u_1"}})), 2 + 5);
        assert_eq!(item(json!({"name": {"S": "张三丰"}})), 4 + 9);
        // Numbers: 1 byte per two significant digits, plus 1; leading and
        // trailing zeroes trimmed.
        assert_eq!(number_size("36.5"), 3);
        assert_eq!(number_size("123456"), 4);
        assert_eq!(number_size("1234567"), 5);
        assert_eq!(number_size("-0.00120"), 2);
        assert_eq!(number_size("1000000"), 2);
        assert_eq!(number_size("0"), 1);
        assert_eq!(item(json!({"temp": {"N": "36.5"}})), 4 + 3);
        // Binary: the raw bytes, not the base64 text.
        assert_eq!(item(json!({"b": {"B": "AAECAwQ="}})), 1 + 5);
        // Null and Boolean: 1 byte.
        assert_eq!(item(json!({"ok": {"BOOL": true}, "n": {"NULL": true}})), 2 + 1 + 1 + 1);
        // Lists and maps: 3 bytes, and 1 byte per element; an empty one is
        // name + 3.
        assert_eq!(item(json!({"days": {"L": []}})), 4 + 3);
        assert_eq!(item(json!({"facts": {"M": {}}})), 5 + 3);
        assert_eq!(
            item(json!({"l": {"L": [{"S": "ab"}, {"N": "7"}]}})),
            1 + 3 + (1 + 2) + (1 + 2)
        );
        assert_eq!(
            item(json!({"m": {"M": {"day": {"S": "2026-11-26"}}}})),
            1 + 3 + 1 + 3 + 10
        );
        // Sets: the sum of their elements.
        assert_eq!(item(json!({"ss": {"SS": ["a", "bc"]}})), 2 + 3);
    }

    #[test]
    fn reads_follow_the_read_examples() {
        // "if you read an item that is 3.5 KB, DynamoDB rounds the item size to
        // 4 KB. If you read an item of 10 KB, DynamoDB rounds the item size to
        // 12 KB."
        assert_eq!(read_units(3584, Consistency::Strong), 1.0);
        assert_eq!(read_units(10 * KB, Consistency::Strong), 3.0);
        assert_eq!(read_units(10 * KB, Consistency::Eventual), 1.5);
        // "if your item size is 8 KB, you require 2 read units to sustain one
        // strongly consistent read, 1 read unit if you choose eventually
        // consistent reads, or 4 read units for a transactional read request."
        assert_eq!(read_units(8 * KB, Consistency::Strong), 2.0);
        assert_eq!(read_units(8 * KB, Consistency::Eventual), 1.0);
        assert_eq!(read_units(8 * KB, Consistency::Transactional), 4.0);
        // An item that does not exist: "A strongly consistent read request
        // consumes one read capacity unit, while an eventually consistent read
        // request consumes 0.5".
        assert_eq!(read_units(0, Consistency::Strong), 1.0);
        assert_eq!(read_units(0, Consistency::Eventual), 0.5);
        // BatchGetItem of 1.5 KB and 6.5 KB items: 4 KB + 8 KB, not 8 KB.
        let batch = read_units(1536, Consistency::Strong) + read_units(6656, Consistency::Strong);
        assert_eq!(batch, 3.0);
        // A Query of 10 items, 40.8 KB in all, rounds once to 44 KB; 1500
        // items of 64 bytes are 96 KB.
        assert_eq!(read_units(41_779, Consistency::Strong), 11.0);
        assert_eq!(read_units(1500 * 64, Consistency::Strong), 24.0);
        // "For an eventually consistent read, if total item size is 80 KB, the
        // operation consumes only 10 capacity units."
        assert_eq!(read_units(80 * KB, Consistency::Eventual), 10.0);
    }

    #[test]
    fn writes_follow_the_write_examples() {
        // "if you put or delete an item of 1.6 KB, DynamoDB rounds the item size
        // up to 2 KB."
        assert_eq!(item_write_units(None, Some(1638)), 2.0);
        assert_eq!(item_write_units(Some(1638), None), 2.0);
        // An update or an overwrite: the larger of before and after, either way.
        assert_eq!(item_write_units(Some(1739), Some(1739)), 2.0);
        assert_eq!(item_write_units(Some(1800), Some(300)), 2.0);
        assert_eq!(item_write_units(Some(300), Some(1800)), 2.0);
        // BatchWriteItem of a 500-byte and a 3.5 KB item: 1 KB + 4 KB.
        assert_eq!(
            item_write_units(None, Some(500)) + item_write_units(None, Some(3584)),
            5.0
        );
        // 25 small items in a batch are 25 units, not 1.
        assert_eq!((0..25).map(|_| item_write_units(None, Some(169))).sum::<f64>(), 25.0);
        // A failed conditional write: the existing item (1 KB: 1, 2 KB: 2), or
        // 1 when there is none.
        assert_eq!(item_write_units(Some(KB), Some(KB)), 1.0);
        assert_eq!(item_write_units(Some(2 * KB), Some(2 * KB)), 2.0);
        assert_eq!(item_write_units(None, None), 1.0);
        // Transactions: "each transaction writes three 500-byte items ... you
        // would need to provision six WCUs".
        assert_eq!(
            (0..3).map(|_| 2.0 * item_write_units(None, Some(500))).sum::<f64>(),
            6.0
        );
    }

    fn log_schema() -> TableSchema {
        TableSchema::from_description(&json!({"Table": {
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            "GlobalSecondaryIndexes": [{
                "IndexName": "by-venue",
                "KeySchema": [{"AttributeName": "gpk", "KeyType": "HASH"}, {"AttributeName": "gsk", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["at"]}
            }]
        }}))
    }

    #[test]
    fn index_writes_follow_the_global_secondary_index_page() {
        let schema = log_schema();
        let entry = |gsk: &str, at: &str, pad: usize| {
            json!({"pk": {"S": "S#1"}, "sk": {"S": "E#1"}, "gpk": {"S": "V#1"}, "gsk": {"S": gsk},
                   "at": {"S": at}, "other": {"S": "x".repeat(pad)}})
        };
        let plain = json!({"pk": {"S": "S#1"}, "sk": {"S": "E#1"}, "at": {"S": "t"}});
        let a = entry("g1", "t1", 10);
        // The entry: keys, index keys, projected `at`, plus 100 bytes; never `other`.
        let expected = item_size(&json!({"pk": {"S": "S#1"}, "sk": {"S": "E#1"}, "gpk": {"S": "V#1"},
                                         "gsk": {"S": "g1"}, "at": {"S": "t1"}}));
        assert_eq!(
            item_size(&schema.index_entry(&schema.indexes[0], &a).unwrap()),
            expected
        );
        // A new item with the index keys: one put into the index.
        assert_eq!(schema.index_write_units(None, Some(&a)), 1.0);
        // Not in the index before or after: nothing.
        assert_eq!(schema.index_write_units(None, Some(&plain)), 0.0);
        // The index key changed: a delete and a put.
        assert_eq!(schema.index_write_units(Some(&a), Some(&entry("g2", "t1", 10))), 2.0);
        // Only a projected attribute changed: one write.
        assert_eq!(schema.index_write_units(Some(&a), Some(&entry("g1", "t2", 10))), 1.0);
        // Only an attribute the index does not project changed: nothing.
        assert_eq!(schema.index_write_units(Some(&a), Some(&entry("g1", "t1", 2000))), 0.0);
        // The index key removed, or the item deleted: one delete.
        assert_eq!(schema.index_write_units(Some(&a), Some(&plain)), 1.0);
        assert_eq!(schema.index_write_units(Some(&a), None), 1.0);
        // An entry over 1 KB with its 100 bytes costs 2.
        let big = entry("g".repeat(950).as_str(), "t1", 0);
        assert_eq!(schema.index_write_units(None, Some(&big)), 2.0);
    }

    #[test]
    fn a_rerun_query_keeps_only_the_placeholders_it_uses() {
        assert!(uses("pk = :pk AND gsk BETWEEN :lower AND :upper", ":pk"));
        assert!(!uses("pk = :pk2", ":pk"));
        assert!(!uses("pk = :pk", ":from"));
        assert!(uses("#at = :a", "#at"));
    }
}

//! Read and write units of what a handler does, measured on the wire.
//!
//! An SDK interceptor asks every DynamoDB call for its consumed capacity
//! (`ReturnConsumedCapacity: INDEXES`) and keeps what the emulator answers.
//! moto's answers are fixed numbers (1 for any write, 0.5 for any read,
//! whatever the size, the consistency or the indexes), so the meter also
//! prices every call by DynamoDB's own rules from the items on the wire:
//! item size = attribute names + values; a read is 4 KB per unit, half for
//! eventually consistent reads; a write is 1 KB per unit; a transaction
//! doubles; each global secondary index entry written costs its own units.

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextMut,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_types::body::SdkBody;
use serde_json::{Value, json};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// One DynamoDB call.
#[derive(Debug, Clone)]
pub struct Call {
    pub operation: String,
    /// What the emulator reported (`ConsumedCapacity`), summed over tables.
    pub reported: f64,
    /// Read units by DynamoDB's pricing rules.
    pub read_units: f64,
    /// Write units by DynamoDB's pricing rules, index writes included.
    pub write_units: f64,
    /// From sending the request to reading the answer, retries included.
    pub elapsed: std::time::Duration,
}

#[derive(Debug, Default, Clone)]
pub struct Meter {
    calls: Arc<Mutex<Vec<Call>>>,
    pending: Arc<Mutex<Option<Value>>>,
    started: Arc<Mutex<Option<std::time::Instant>>>,
    /// Attributes each index projects, by index name.
    indexes: Vec<(&'static str, &'static [&'static str], [&'static str; 2])>,
}

impl Meter {
    /// A meter that knows the indexes of our tables.
    pub fn new() -> Self {
        let indexes = shared::store::tables::ALL
            .iter()
            .flat_map(|t| t.indexes.iter())
            .map(|i| match i.projection {
                shared::store::tables::Projection::Include(attrs) => (i.name, attrs, [i.pk, i.sk]),
                shared::store::tables::Projection::KeysOnly => (i.name, &[][..], [i.pk, i.sk]),
            })
            .collect();
        Self {
            indexes,
            ..Default::default()
        }
    }

    pub fn take(&self) -> Vec<Call> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }

    fn price(&self, operation: &str, request: &Value, response: &Value) -> (f64, f64) {
        let consistent = |r: &Value| r["ConsistentRead"].as_bool().unwrap_or(false);
        let read =
            |size: usize, consistent: bool| (size.max(1).div_ceil(4096) as f64) * if consistent { 1.0 } else { 0.5 };
        let write = |size: usize| size.max(1).div_ceil(1024) as f64;
        match operation {
            "GetItem" => (
                response
                    .get("Item")
                    .map_or(0.5, |i| read(item_size(i), consistent(request))),
                0.0,
            ),
            "BatchGetItem" => {
                let mut units = 0.0;
                for (table, items) in response["Responses"].as_object().into_iter().flatten() {
                    let strong = consistent(&request["RequestItems"][table]);
                    units += items
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|i| read(item_size(i), strong))
                        .sum::<f64>();
                }
                (units, 0.0)
            }
            "Query" | "Scan" => {
                let size: usize = response["Items"].as_array().into_iter().flatten().map(item_size).sum();
                (read(size, consistent(request)), 0.0)
            }
            "PutItem" => {
                let item = &request["Item"];
                (0.0, write(item_size(item)) + self.index_writes(item))
            }
            "TransactWriteItems" => {
                let items = request["TransactItems"].as_array().cloned().unwrap_or_default();
                let units: f64 = items
                    .iter()
                    .map(|t| match t.get("Put") {
                        Some(put) => 2.0 * write(item_size(&put["Item"])),
                        // Updates, deletes and checks: priced at the 1 KB minimum.
                        None => 2.0,
                    })
                    .sum();
                (0.0, units)
            }
            _ => (0.0, 1.0),
        }
    }

    /// Units of the index entries a new item writes: index keys, table keys
    /// and projected attributes, plus 100 bytes of overhead per entry.
    fn index_writes(&self, item: &Value) -> f64 {
        self.indexes
            .iter()
            .filter(|(_, _, keys)| keys.iter().all(|k| item.get(*k).is_some()))
            .map(|(_, projected, keys)| {
                let names = keys.iter().chain(["pk", "sk"].iter()).chain(projected.iter());
                let size: usize = names
                    .filter_map(|n| item.get(*n).map(|v| n.len() + value_size(v)))
                    .sum::<usize>()
                    + 100;
                size.div_ceil(1024) as f64
            })
            .sum()
    }
}

/// DynamoDB's size of an item in its wire format.
pub fn item_size(item: &Value) -> usize {
    item.as_object()
        .into_iter()
        .flatten()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

fn value_size(value: &Value) -> usize {
    let Some((kind, inner)) = value.as_object().and_then(|o| o.iter().next()) else {
        return 0;
    };
    match kind.as_str() {
        "S" | "B" => inner.as_str().map_or(0, str::len),
        // Numbers: about one byte per two significant digits, plus one.
        "N" => inner.as_str().map_or(0, |n| {
            n.trim_start_matches('-')
                .replace('.', "")
                .trim_start_matches('0')
                .len()
                .div_ceil(2)
                + 1
        }),
        "BOOL" | "NULL" => 1,
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
        "SS" | "NS" | "BS" => inner
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| v.as_str().map_or(0, str::len))
            .sum(),
        _ => 0,
    }
}

#[derive(Debug)]
struct Interceptor(Meter);

impl Intercept for Interceptor {
    fn name(&self) -> &'static str {
        "consumed-capacity-meter"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
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
        if body.is_object()
            && operation != "CreateTable"
            && operation != "UpdateTimeToLive"
            && operation != "ListTables"
        {
            body["ReturnConsumedCapacity"] = json!("INDEXES");
        }
        *self.0.pending.lock().unwrap() = Some(json!({"operation": operation, "request": body.clone()}));
        *self.0.started.lock().unwrap() = Some(std::time::Instant::now());
        let bytes = serde_json::to_vec(&body)?;
        request.headers_mut().insert("content-length", bytes.len().to_string());
        *request.body_mut() = SdkBody::from(bytes);
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(pending) = self.0.pending.lock().unwrap().take() else {
            return Ok(());
        };
        let Some(bytes) = context.response().body().bytes() else {
            return Ok(());
        };
        let response: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
        let operation = pending["operation"].as_str().unwrap_or_default().to_owned();
        let reported = match &response["ConsumedCapacity"] {
            Value::Array(list) => list.iter().filter_map(|c| c["CapacityUnits"].as_f64()).sum(),
            other => other["CapacityUnits"].as_f64().unwrap_or(0.0),
        };
        let (read_units, write_units) = self.0.price(&operation, &pending["request"], &response);
        let elapsed = self
            .0
            .started
            .lock()
            .unwrap()
            .take()
            .map(|t| t.elapsed())
            .unwrap_or_default();
        self.0.calls.lock().unwrap().push(Call {
            operation,
            reported,
            read_units,
            write_units,
            elapsed,
        });
        Ok(())
    }
}

/// A client that meters every call. Calls must not overlap for the meter to
/// pair requests and responses: measure one request at a time.
pub fn metered_client(meter: &Meter) -> aws_sdk_dynamodb::Client {
    let config = crate::client()
        .config()
        .to_builder()
        .interceptor(Interceptor(meter.clone()))
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

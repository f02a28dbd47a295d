//! The authority's risk-person records: `P#<id hash>`/`RISK`, one per ID
//! number, written whether or not the person has registered, and copied
//! onto the subject's profile (`facts.risk`) where a subject exists.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use futures::stream::{self, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use super::accounts::Person;
use super::keys::{PERSON, RISK, person_pk};
use super::{Item, Store, StoreError, from_item, key2, sort_time, to_item, value};
use crate::domain::status::RiskRecord;

/// DynamoDB's limit per BatchWriteItem call.
const BATCH_WRITE: usize = 25;
/// Batches in flight at once.
const PARALLEL: usize = 8;
/// Rounds of retrying unprocessed items before giving up.
const ROUNDS: u32 = 8;

#[derive(Serialize)]
struct RiskItem<'a> {
    pk: String,
    sk: &'static str,
    record: &'a RiskRecord,
    /// The record's `updated_at` as a sort key, which registration checks
    /// to notice an import that lands while it runs.
    updated_at: String,
}

#[derive(Deserialize)]
struct PersonItem {
    pk: String,
    #[serde(flatten)]
    person: Person,
}

impl Store {
    /// Writes risk records (ID hash, record) in batches of 25, retrying the
    /// items DynamoDB leaves unprocessed.
    pub async fn put_risk_records(&self, records: &[(String, RiskRecord)]) -> Result<(), StoreError> {
        // Owned batches: the futures must not borrow across the stream's closure.
        let batches: Vec<Vec<WriteRequest>> = records
            .chunks(BATCH_WRITE)
            .map(|chunk| {
                chunk
                    .iter()
                    .map(|(hash, record)| {
                        let item = to_item(&RiskItem {
                            pk: person_pk(hash),
                            sk: RISK,
                            record,
                            updated_at: sort_time(record.updated_at),
                        });
                        WriteRequest::builder()
                            .put_request(PutRequest::builder().set_item(Some(item)).build().expect("an item"))
                            .build()
                    })
                    .collect()
            })
            .collect();
        stream::iter(batches)
            .map(|requests| self.batch_write(requests))
            .buffer_unordered(PARALLEL)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    async fn batch_write(&self, mut requests: Vec<WriteRequest>) -> Result<(), StoreError> {
        for round in 0..ROUNDS {
            let out = self
                .client
                .batch_write_item()
                .request_items(&self.tables.subjects, requests)
                .send()
                .await?;
            requests = out
                .unprocessed_items
                .and_then(|mut m| m.remove(&self.tables.subjects))
                .unwrap_or_default();
            if requests.is_empty() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(25 << round)).await;
        }
        Err(StoreError::Unavailable("batch write left items unprocessed".into()))
    }

    /// The registered persons among ID hashes, read consistently.
    pub async fn persons(&self, hashes: &[String]) -> Result<HashMap<String, Person>, StoreError> {
        let keys: Vec<Item> = hashes.iter().map(|h| key2(person_pk(h), PERSON)).collect();
        let items = self.batch_get(&self.tables.subjects, keys, true).await?;
        items
            .into_iter()
            .map(|item| {
                let person: PersonItem = from_item(item)?;
                let hash = person.pk.strip_prefix("P#").unwrap_or_default().to_owned();
                Ok((hash, person.person))
            })
            .collect()
    }

    /// Puts a risk record on a registered subject's profile; `false` when
    /// the subject does not exist.
    pub async fn apply_risk(&self, subject_id: &str, record: &RiskRecord) -> Result<bool, StoreError> {
        self.set_fact(subject_id, "risk", value(record)).await
    }
}

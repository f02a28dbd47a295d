//! The capacity meter (tests/src/capacity.rs) on real calls to the emulator:
//! each rule it prices by, with items whose sizes put the rule to the test.
//! The pricing functions' own unit tests use the AWS pages' worked examples.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, TransactWriteItem, Update, WriteRequest};
use integration_tests::capacity::{Call, Meter, metered_client};
use shared::store::{Store, Tables};

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

struct Setup {
    meter: Meter,
    client: Client,
    tables: Tables,
}

async fn setup() -> Setup {
    let meter = Meter::new();
    let tables = Tables::with_prefix(&format!("{}-", shared::crypto::random_id("m")));
    let store = Store::new(metered_client(&meter), tables.clone());
    store.create_tables().await.unwrap();
    meter.take();
    Setup {
        meter,
        client: store.client().clone(),
        tables,
    }
}

/// (read units, write units) of the calls since the last look.
fn units(meter: &Meter) -> (f64, f64) {
    let calls: Vec<Call> = meter.take();
    (
        calls.iter().map(|c| c.read_units).sum(),
        calls.iter().map(|c| c.write_units).sum(),
    )
}

/// An item of `subjects` of about `bytes` bytes.
async fn put(w: &Setup, sk: &str, bytes: usize) {
    w.client
        .put_item()
        .table_name(&w.tables.subjects)
        .item("pk", s("S#1"))
        .item("sk", s(sk))
        .item("filler", s(&"x".repeat(bytes - 10)))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn writes_are_priced_on_the_larger_of_the_item_before_and_after() {
    let w = setup().await;
    put(&w, "A", 1500).await;
    assert_eq!(units(&w.meter), (0.0, 2.0), "a new item of 1.5 KB");
    put(&w, "A", 300).await;
    assert_eq!(
        units(&w.meter),
        (0.0, 2.0),
        "an overwrite of 1.5 KB by 300 B: the larger"
    );
    let grow = |to: usize| {
        w.client
            .update_item()
            .table_name(&w.tables.subjects)
            .key("pk", s("S#1"))
            .key("sk", s("A"))
            .update_expression("SET filler = :p")
            .expression_attribute_values(":p", s(&"y".repeat(to)))
            .send()
    };
    grow(1800).await.unwrap();
    assert_eq!(units(&w.meter), (0.0, 2.0), "an update from 300 B to 1.8 KB: the after");
    grow(10).await.unwrap();
    assert_eq!(units(&w.meter), (0.0, 2.0), "an update from 1.8 KB to 20 B: the before");
    grow(10).await.unwrap();
    assert_eq!(units(&w.meter), (0.0, 1.0));
    put(&w, "B", 2100).await;
    w.meter.take();
    let failed = w
        .client
        .put_item()
        .table_name(&w.tables.subjects)
        .item("pk", s("S#1"))
        .item("sk", s("B"))
        .condition_expression("attribute_not_exists(pk)")
        .send()
        .await;
    assert!(failed.is_err());
    assert_eq!(
        units(&w.meter),
        (0.0, 3.0),
        "a failed condition costs the existing 2.1 KB item"
    );
    w.client
        .delete_item()
        .table_name(&w.tables.subjects)
        .key("pk", s("S#1"))
        .key("sk", s("B"))
        .send()
        .await
        .unwrap();
    assert_eq!(units(&w.meter), (0.0, 3.0), "a delete costs the deleted item");
}

#[tokio::test]
async fn batches_and_transactions_price_each_item() {
    let w = setup().await;
    let requests: Vec<WriteRequest> = (0..25)
        .map(|i| {
            WriteRequest::builder()
                .put_request(
                    PutRequest::builder()
                        .item("pk", s(&format!("P#{i}")))
                        .item("sk", s("RISK"))
                        .build()
                        .unwrap(),
                )
                .build()
        })
        .collect();
    w.client
        .batch_write_item()
        .request_items(&w.tables.subjects, requests)
        .send()
        .await
        .unwrap();
    assert_eq!(units(&w.meter), (0.0, 25.0), "25 small items are 25 units, not 1");

    put(&w, "PROFILE", 1700).await;
    w.meter.take();
    let update = Update::builder()
        .table_name(&w.tables.subjects)
        .key("pk", s("S#1"))
        .key("sk", s("PROFILE"))
        .update_expression("SET ver = :one")
        .expression_attribute_values(":one", AttributeValue::N("1".into()))
        .build()
        .unwrap();
    let declaration = aws_sdk_dynamodb::types::Put::builder()
        .table_name(&w.tables.subjects)
        .item("pk", s("S#1"))
        .item("sk", s("D#1"))
        .item("filler", s(&"z".repeat(359)))
        .build()
        .unwrap();
    w.client
        .transact_write_items()
        .transact_items(TransactWriteItem::builder().update(update).build())
        .transact_items(TransactWriteItem::builder().put(declaration).build())
        .send()
        .await
        .unwrap();
    assert_eq!(
        units(&w.meter),
        (0.0, 6.0),
        "an update of a 1.7 KB profile (2 x 2) and a 369 B put (2 x 1)"
    );
}

#[tokio::test]
async fn reads_cost_the_minimum_when_nothing_is_found_and_queries_what_they_evaluate() {
    let w = setup().await;
    let get = |consistent: bool| {
        w.client
            .get_item()
            .table_name(&w.tables.subjects)
            .key("pk", s("S#none"))
            .key("sk", s("PROFILE"))
            .consistent_read(consistent)
            .send()
    };
    get(true).await.unwrap();
    assert_eq!(
        units(&w.meter),
        (1.0, 0.0),
        "a strongly consistent read of a missing item"
    );
    get(false).await.unwrap();
    assert_eq!(units(&w.meter), (0.5, 0.0), "an eventually consistent one");

    for sk in ["E#1", "E#2", "E#3"] {
        put(&w, sk, 2000).await;
    }
    w.meter.take();
    let out = w
        .client
        .query()
        .table_name(&w.tables.subjects)
        .key_condition_expression("pk = :pk")
        .filter_expression("sk = :one")
        .expression_attribute_values(":pk", s("S#1"))
        .expression_attribute_values(":one", s("E#1"))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    assert_eq!(out.count, 1);
    assert_eq!(
        units(&w.meter),
        (2.0, 0.0),
        "a filtered query pays for the 6 KB it read, not the 2 KB it returned"
    );
    w.client
        .batch_get_item()
        .request_items(
            &w.tables.subjects,
            aws_sdk_dynamodb::types::KeysAndAttributes::builder()
                .keys([("pk".to_owned(), s("S#1")), ("sk".to_owned(), s("E#1"))].into())
                .keys([("pk".to_owned(), s("S#1")), ("sk".to_owned(), s("E#9"))].into())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(units(&w.meter), (1.0, 0.0), "each key 0.5, the missing one too");
}

#[tokio::test]
async fn index_entries_are_written_where_the_item_enters_changes_or_leaves() {
    let w = setup().await;
    let entry = |gsk: &str| {
        w.client
            .put_item()
            .table_name(&w.tables.log)
            .item("pk", s("S#1"))
            .item("sk", s("E#1"))
            .item("gpk", s("V#1#0"))
            .item("gsk", s(gsk))
            .item("at", s("2026-11-26T02:00:00.000Z"))
            .send()
    };
    entry("a").await.unwrap();
    assert_eq!(units(&w.meter), (0.0, 2.0), "the item and its index entry");
    entry("b").await.unwrap();
    assert_eq!(
        units(&w.meter),
        (0.0, 3.0),
        "the item; the old entry deleted, the new put"
    );
    entry("b").await.unwrap();
    assert_eq!(
        units(&w.meter),
        (0.0, 1.0),
        "the same item again: the index entry is unchanged"
    );
    w.client
        .update_item()
        .table_name(&w.tables.log)
        .key("pk", s("S#1"))
        .key("sk", s("E#1"))
        .update_expression("REMOVE gpk")
        .send()
        .await
        .unwrap();
    assert_eq!(
        units(&w.meter),
        (0.0, 2.0),
        "the item; the entry deleted from the index"
    );
}

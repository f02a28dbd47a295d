//! An exposure of a busy venue: writes `count` check-ins of as many people
//! at one venue in one hour (default 100,000; BatchWriteItem, 25 items a
//! call, with their profiles), records a venue exposure of that hour through
//! the admin handler, and runs the exposure worker until it is done: how
//! long it took against the emulator. The units per contact are measured on
//! a sample exposure of `sample` entries (default 1,000) through the meter
//! (tests/src/capacity.rs), which prices every call by DynamoDB's rules;
//! the big run goes through a plain client, since the meter's own reads
//! would double the emulator's work.
//!
//! Runs against the emulator at HC_TEST_DYNAMODB_ENDPOINT: bench/exposure.sh.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use futures::future::BoxFuture;
use futures::stream::{self, StreamExt};
use integration_tests::capacity::{Meter, metered_client};
use integration_tests::*;
use serde_json::json;
use shared::clock::Clock;
use shared::service::exposures::{Budget, Message, Notifier, Outcome, SendError, Worker};
use shared::store::log::{Entry, EntryKind};
use shared::store::{Store, Tables, sort_time};
use time::Duration;

/// Counts the notices instead of sending them.
#[derive(Default)]
struct Counting(AtomicUsize);

impl Notifier for Counting {
    fn send<'a>(&'a self, _: &'a Message) -> BoxFuture<'a, Result<(), SendError>> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Box::pin(async { Ok(()) })
    }
}

const SHARDS: u32 = 4;

fn shard_of(entry: &str) -> u32 {
    let digest = shared::crypto::sha256(entry.as_bytes());
    u32::from_le_bytes([digest[0], digest[1], digest[2], digest[3]]) % SHARDS
}

/// A check-in of person `i` at `venue`: 100,000 would spread over the hour from 10:00.
fn entry(venue: &str, tag: &str, i: usize) -> HashMap<String, AttributeValue> {
    let subject = format!("s_{tag}{i:0>width$}", width = 26 - tag.len());
    let at = NOW + Duration::milliseconds((i as i64 * 3_600_000) / 100_000);
    let id = format!("e_{tag}{i:0>width$}", width = 26 - tag.len());
    let entry = Entry {
        id: id.clone(),
        kind: EntryKind::Checkin,
        subject_id: subject.clone(),
        account: "u_bench".into(),
        at: sort_time(at),
        day: "2026-11-26".into(),
        region: Some("130102".into()),
        venue_id: Some(venue.to_owned()),
        color: shared::domain::status::Color::Green,
        name_masked: "张*".into(),
        method: None,
    };
    let mut item: HashMap<String, AttributeValue> = serde_dynamo::to_item(&entry).expect("an entry");
    item.insert("pk".into(), AttributeValue::S(format!("S#{subject}")));
    item.insert("sk".into(), AttributeValue::S(format!("E#{}#{id}", sort_time(at))));
    item.insert("gpk".into(), AttributeValue::S(format!("V#{venue}#{}", shard_of(&id))));
    item.insert("gsk".into(), AttributeValue::S(format!("{}#{id}", sort_time(at))));
    item.insert("expires".into(), AttributeValue::N("4102444800".into()));
    item
}

/// The profile of person `i`, as registration leaves it (fake sealed fields of real sizes).
fn profile(tag: &str, i: usize) -> HashMap<String, AttributeValue> {
    let subject = format!("s_{tag}{i:0>width$}", width = 26 - tag.len());
    serde_dynamo::to_item(json!({
        "pk": format!("S#{subject}"), "sk": "PROFILE", "subject_id": subject,
        "id_hash": "h".repeat(52), "id_sealed": "x".repeat(71), "name_sealed": "x".repeat(59),
        "name_masked": "张*丰", "id_masked": "130102********0011", "guardians": {},
        "created_at": "2026-11-26T02:00:00Z", "ver": 0, "facts": {},
    }))
    .expect("a profile")
}

async fn write_all(store: &Store, items: Vec<(String, HashMap<String, AttributeValue>)>) {
    let batches: Vec<Vec<(String, HashMap<String, AttributeValue>)>> = items.chunks(25).map(<[_]>::to_vec).collect();
    stream::iter(batches)
        .for_each_concurrent(4, |batch| async move {
            let mut requests: HashMap<String, Vec<WriteRequest>> = HashMap::new();
            for (table, item) in batch {
                requests.entry(table).or_default().push(
                    WriteRequest::builder()
                        .put_request(PutRequest::builder().set_item(Some(item)).build().unwrap())
                        .build(),
                );
            }
            let mut pending = Some(requests);
            while let Some(items) = pending.take().filter(|p| !p.is_empty()) {
                let out = store
                    .client()
                    .batch_write_item()
                    .set_request_items(Some(items))
                    .send()
                    .await;
                pending = out.expect("the emulator takes the batch").unprocessed_items;
            }
        })
        .await;
}

/// A venue with `count` check-ins in the hour from 10:00 and an exposure of that hour; its id.
async fn exposed_venue(w: &World, officer: &str, owner: &str, person: u32, tag: &str, count: usize) -> String {
    let token = verified(&w.login, owner, person).await;
    let (status, body) = parts(
        venue::handle(
            &w.venue,
            request("POST", "/v1/venues", Some(venue_body()), Some(&token)),
        )
        .await,
    );
    assert_eq!(status, 201, "{body}");
    let venue = body["venue"]["id"].as_str().unwrap().to_owned();
    let plain = Store::new(client(), w.store.tables.clone());
    let started = Instant::now();
    let mut items = Vec::with_capacity(count * 2);
    for i in 0..count {
        items.push((w.store.tables.log.clone(), entry(&venue, tag, i)));
        items.push((w.store.tables.subjects.clone(), profile(tag, i)));
    }
    write_all(&plain, items).await;
    eprintln!(
        "wrote {count} check-ins and profiles in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    w.clock.set(NOW + Duration::hours(2));
    let body = json!({"venue_id": venue, "from": "2026-11-26T10:00:00+08:00", "to": "2026-11-26T11:00:00+08:00", "level": "yellow", "reason": "确诊病例到访"});
    let (status, body) = parts(
        admin::handle(
            &w.admin,
            request("POST", "/v1/admin/exposures", Some(body), Some(officer)),
        )
        .await,
    );
    assert_eq!(status, 202, "{body}");
    body["exposure"]["id"].as_str().unwrap().to_owned()
}

fn worker<'a>(store: &'a Store, pii: &'a shared::crypto::PiiKeys, notifier: &'a Counting, clock: &Clock) -> Worker<'a> {
    Worker {
        store,
        pii,
        notifier,
        clock: clock.clone(),
        name: "w_bench".into(),
        page_size: 200,
        lease: Duration::minutes(2),
        backoff: std::time::Duration::from_millis(200),
    }
}

#[tokio::main]
async fn main() {
    let count: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let sample: usize = std::env::args().nth(2).and_then(|a| a.parse().ok()).unwrap_or(1_000);
    let meter = Meter::new();
    let metered = Store::new(
        metered_client(&meter),
        Tables::with_prefix(&format!("{}-", shared::crypto::random_id("xb"))),
    );
    metered.create_tables().await.expect("tables on the emulator");
    let plain = Store::new(client(), metered.tables.clone());
    let w = world_on(plain.clone());
    let officer = officer(&w.login, "officer", 1).await;
    let notifier = Counting::default();

    // The units per contact, on the sample, through the meter.
    let id = exposed_venue(&w, &officer, "sample-owner", 2, "smp", sample).await;
    meter.take();
    let outcome = worker(&metered, &w.admin.pii, &notifier, &w.clock)
        .work(&id, Budget::default())
        .await
        .expect("the worker runs");
    assert_eq!(outcome, Outcome::Done);
    let calls = meter.take();
    let read: f64 = calls.iter().map(|c| c.read_units).sum();
    let written: f64 = calls.iter().map(|c| c.write_units).sum();
    let found = w.store.get_exposure(&id, true).await.unwrap().unwrap().contacts;
    assert_eq!(found as usize, sample);
    println!(
        "sample of {sample} contacts: {} DynamoDB calls, {read:.1} read units, {written:.1} write units: {:.2} RRU and {:.2} WRU per contact",
        calls.len(),
        read / sample as f64,
        written / sample as f64
    );

    // The big one, timed.
    let id = exposed_venue(&w, &officer, "busy-owner", 3, "big", count).await;
    let started = Instant::now();
    // A run stopped by the store (a call past the client's timeout) is run
    // again, as Lambda's retry or `hcctl exposures work` would: it resumes
    // from the saved page.
    let mut stops = 0;
    loop {
        match worker(&plain, &w.admin.pii, &notifier, &w.clock)
            .work(&id, Budget::default())
            .await
        {
            Ok(Outcome::Done) => break,
            Ok(other) => panic!("the worker gave up: {other:?}"),
            Err(err) => {
                stops += 1;
                eprintln!("the run stopped ({err}); resuming from the saved page");
            }
        }
    }
    let took = started.elapsed();
    eprintln!("{stops} runs stopped by the store and resumed");
    let exposure = w.store.get_exposure(&id, true).await.unwrap().unwrap();
    assert_eq!(exposure.contacts as usize, count, "every entry is a contact");
    println!(
        "exposure of {count} entries: {} contacts in {:.0} s against the emulator ({:.0} contacts a second), {} pages of 200",
        exposure.contacts,
        took.as_secs_f64(),
        count as f64 / took.as_secs_f64(),
        exposure.progress.pages
    );
    println!(
        "estimated units for it: {:.0} RRU and {:.0} WRU (the sample's per contact, times {count})",
        read / sample as f64 * count as f64,
        written / sample as f64 * count as f64
    );
}

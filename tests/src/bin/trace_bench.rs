//! The trace of a person with very many entries (a scan flood): writes
//! `count` entries of one subject into the log (default 300,000, one a
//! second back from the test clock), then asks the admin handler for the
//! first page of a 14-day trace and prints how long it took, what it read
//! and the process's peak memory. Too slow for `make test` (the emulator
//! takes the writes one call at a time: minutes for 300,000); `make test`
//! runs the same check on 3,000 entries
//! (`a_trace_reads_a_window_a_page_at_a_time_never_the_whole_partition`).
//!
//! Runs against the emulator at HC_TEST_DYNAMODB_ENDPOINT: bench/trace.sh.

use std::collections::HashMap;
use std::time::Instant;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use futures::stream::{self, StreamExt};
use integration_tests::capacity::{Meter, metered_client};
use integration_tests::*;
use shared::store::log::{Entry, EntryKind};
use shared::store::{Store, Tables, sort_time};
use time::Duration;

fn peak_memory_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn item(subject: &str, i: usize) -> HashMap<String, AttributeValue> {
    let at = NOW - Duration::seconds(i as i64);
    let id = format!("e_bench{i:020}");
    let entry = Entry {
        id: id.clone(),
        kind: EntryKind::Scan,
        subject_id: subject.to_owned(),
        account: "u_flood".into(),
        at: sort_time(at),
        day: "2026-11-26".into(),
        region: Some("130102".into()),
        venue_id: None,
        color: shared::domain::status::Color::Green,
        name_masked: "张*".into(),
        method: None,
    };
    let mut item: HashMap<String, AttributeValue> = serde_dynamo::to_item(&entry).expect("an entry");
    item.insert("pk".into(), AttributeValue::S(format!("S#{subject}")));
    item.insert("sk".into(), AttributeValue::S(format!("E#{}#{id}", sort_time(at))));
    item.insert("expires".into(), AttributeValue::N("4102444800".into()));
    item
}

#[tokio::main]
async fn main() {
    let count: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(300_000);
    let meter = Meter::new();
    let store = Store::new(
        metered_client(&meter),
        Tables::with_prefix(&format!("{}-", shared::crypto::random_id("tb"))),
    );
    store.create_tables().await.expect("tables on the emulator");
    let w = world_on(store.clone());
    let officer = officer(&w.login, "officer", 1).await;
    let person = verified(&w.login, "flooded", 2).await;
    let subject = sessions().verify(&person, NOW).unwrap().subject_id.unwrap();

    // The writes go through a plain client: the meter is for the read.
    let plain = Store::new(client(), store.tables.clone());
    let started = Instant::now();
    let batches: Vec<Vec<usize>> = (0..count)
        .collect::<Vec<_>>()
        .chunks(25)
        .map(<[usize]>::to_vec)
        .collect();
    stream::iter(batches)
        .for_each_concurrent(4, |batch| {
            let (plain, subject) = (&plain, &subject);
            async move {
                let writes: Vec<WriteRequest> = batch
                    .iter()
                    .map(|i| {
                        WriteRequest::builder()
                            .put_request(PutRequest::builder().set_item(Some(item(subject, *i))).build().unwrap())
                            .build()
                    })
                    .collect();
                let mut pending = Some(HashMap::from([(plain.tables.log.clone(), writes)]));
                while let Some(items) = pending.take().filter(|p| !p.is_empty()) {
                    let out = plain
                        .client()
                        .batch_write_item()
                        .set_request_items(Some(items))
                        .send()
                        .await;
                    pending = out.expect("the emulator takes the batch").unprocessed_items;
                }
            }
        })
        .await;
    eprintln!("wrote {count} entries in {:.0} s", started.elapsed().as_secs_f64());
    meter.take();

    let memory_before = peak_memory_mb();
    let started = Instant::now();
    let path = format!("/v1/admin/traces?subject_id={subject}&limit=100");
    let (status, body) = parts(admin::handle(&w.admin, request("GET", &path, None, Some(&officer))).await);
    let took = started.elapsed();
    assert_eq!(status, 200, "{body}");
    let calls = meter.take();
    let read: f64 = calls.iter().map(|c| c.read_units).sum();
    println!("entries of the subject in the table: {count}");
    println!(
        "first page: {} scans shown, next page {}",
        body["scans"].as_array().map_or(0, Vec::len),
        if body["next"].is_string() { "offered" } else { "none" }
    );
    println!(
        "first page: {:.0} ms against the emulator, {} DynamoDB calls, {read} read units",
        took.as_secs_f64() * 1000.0,
        calls.len()
    );
    println!(
        "peak memory of this process: {memory_before:.0} MB before the page, {:.0} MB after",
        peak_memory_mb()
    );
}

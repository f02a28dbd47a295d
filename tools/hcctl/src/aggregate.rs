//! `hcctl aggregate`: counts the rankings from the tables' streams, once
//! (from the oldest record kept) or, with `--follow`, every second until
//! Ctrl-C. See [`crate::streams`].

use std::time::Duration;

use aws_sdk_dynamodbstreams::Client;
use shared::store::Store;
use time::OffsetDateTime;

use crate::Failure;
use crate::streams::{self, Cursor, Start};

const POLL: Duration = Duration::from_secs(1);

pub async fn run(store: &Store, client: &Client, follow: bool, from_start: bool) -> Result<(), Failure> {
    if !shared::store::local_endpoint() {
        // In AWS the aggregator function reads the streams; its batches and
        // these would never share a marker, so every record would count twice.
        return Err(Failure::new(
            "`aggregate` stands in for the aggregator function on a local emulator: set AWS_ENDPOINT_URL_DYNAMODB to it (in AWS the aggregator function counts the streams)",
        ));
    }
    if !follow {
        let mut cursor = Cursor::new(Start::Oldest);
        streams::drain(store, client, &mut cursor).await?;
        println!("{}", cursor.totals());
        return Ok(());
    }
    let mut cursor = Cursor::new(if from_start { Start::Oldest } else { Start::Latest });
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    // The first round fails the command (a wrong endpoint or prefix); later
    // failures to reach the store are retried.
    if streams::drain(store, client, &mut cursor).await? > 0 {
        println!("{} {}", now(), cursor.totals());
    }
    println!(
        "following the streams of {} and {} (counting from {}): polling every second, Ctrl-C stops",
        store.tables.log,
        store.tables.subjects,
        if from_start { "their start" } else { "now" }
    );
    let mut unreachable = false;
    loop {
        let before = cursor.totals();
        let round = async {
            tokio::time::sleep(POLL).await;
            streams::drain(store, client, &mut cursor).await
        };
        tokio::select! {
            _ = &mut interrupted => {
                println!("stopped; {}", cursor.totals());
                return Ok(());
            }
            result = round => match result {
                Ok(read) => {
                    if unreachable {
                        eprintln!("hcctl: DynamoDB answers again");
                        unreachable = false;
                    }
                    if read > 0 {
                        println!("{} {}", now(), cursor.totals().since(before));
                    }
                }
                Err(err) if err.is_unavailable() => {
                    if !unreachable {
                        eprintln!("hcctl: {}; trying again every second", Failure::from(err));
                        unreachable = true;
                    }
                }
                Err(err) => return Err(err.into()),
            },
        }
    }
}

fn now() -> String {
    shared::domain::day::rfc3339(OffsetDateTime::now_utc())
}

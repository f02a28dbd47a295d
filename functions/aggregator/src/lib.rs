//! The `aggregator` function: adds up the rankings' counters from the
//! DynamoDB Streams of the log and subjects tables, so that no counter is
//! touched on the scan path. A batch becomes one update per locality and
//! day touched; a redelivered batch is counted once (see
//! shared/src/store/stats.rs).

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use lambda_runtime::{Error, LambdaEvent};
use shared::store::Store;
use shared::store::stats::{Change, Source};
use time::OffsetDateTime;

/// The records of an event as changes, by the table their stream belongs to.
pub fn changes(store: &Store, event: &Event) -> Vec<Change> {
    event
        .records
        .iter()
        .filter_map(|record| change(store, record))
        .collect()
}

fn change(store: &Store, record: &EventRecord) -> Option<Change> {
    // arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>
    let arn = record.event_source_arn.as_deref()?;
    let table = arn.split("table/").nth(1)?.split('/').next()?;
    let source = if table == store.tables.log {
        Source::Log
    } else if table == store.tables.subjects {
        Source::Subjects
    } else {
        return None;
    };
    let image = |item: &shared::store::stats::StreamItem| (!item.is_empty()).then(|| item.clone());
    Some(Change {
        id: record.event_id.clone(),
        source,
        new_image: image(&record.change.new_image),
        old_image: image(&record.change.old_image),
    })
}

/// The Lambda handler: an error makes Lambda deliver the batch again, which
/// the batch markers make harmless.
pub async fn handle(store: &Store, event: LambdaEvent<Event>) -> Result<(), Error> {
    let changes = changes(store, &event.payload);
    let applied = store.count_changes(&changes, OffsetDateTime::now_utc()).await?;
    tracing::info!(
        records = event.payload.records.len(),
        chunks = applied,
        "stream batch counted"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::store::Tables;

    #[tokio::test]
    async fn stream_records_become_changes_by_their_table() {
        let event: Event =
            serde_json::from_str(include_str!("../events/log-and-profile.json")).expect("a DynamoDB stream event");
        let client = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::Config::builder()
                .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
                .build(),
        );
        let store = Store::new(client, Tables::with_prefix("hc-"));
        let changes = changes(&store, &event);
        assert_eq!(changes.len(), 2, "the record of another table is left out");
        assert_eq!(changes[0].source, Source::Log);
        assert!(changes[0].old_image.is_none());
        assert_eq!(changes[1].source, Source::Subjects);
        let tally = shared::store::stats::tally(&changes);
        let keys: Vec<String> = tally
            .0
            .keys()
            .map(|(level, day, region)| format!("{level:?} {day} {region}"))
            .collect();
        assert_eq!(keys, ["City 2026-11-26 130100", "County 2026-11-26 130102"]);
        let counts = tally.0.values().next().unwrap();
        assert_eq!((counts.claimed, counts.checkins), (1, 1));
    }
}

//! The `exposure` function: the worker that finds an exposure's contacts,
//! records them, changes their codes and tells them (see
//! `shared::service::exposure_worker`), and the sender of decided appeals'
//! notices (`shared::service::notices`). In AWS the exposures table's stream
//! starts it: the record of a new exposure, of a withdrawal, and of a run
//! that paused before Lambda's time ran out (its release is a write, so it
//! comes back as a record); and the appeals table's, when an appeal is
//! decided. Locally `hcctl exposures work --follow` runs the same work.

pub mod notifier;

use std::collections::BTreeSet;
use std::time::{Duration as StdDuration, Instant};

use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::{Error, LambdaEvent};
use shared::clock::Clock;
use shared::config::{self, ConfigError};
use shared::crypto::{PiiKeys, random_id};
use shared::service::exposures::{Budget, Notifier, Outcome, Worker};
use shared::service::notices::AppealNotices;
use shared::store::Store;
use time::Duration;

/// Logging as in Lambda (`RUST_LOG`, text or JSON), for `hcctl exposures
/// work`, whose log lines are the worker's.
pub fn init_logging() {
    lambda_runtime::tracing::init_default_subscriber();
}

/// What the worker holds from its cold start on.
pub struct App {
    pub store: Store,
    pub pii: PiiKeys,
    pub notifier: Box<dyn Notifier>,
    /// Log entries read per page (`HC_EXPOSURE_PAGE`, 200 by default).
    pub page_size: usize,
}

impl App {
    pub async fn from_env() -> Result<Self, ConfigError> {
        let page_size: usize = config::parse_or("HC_EXPOSURE_PAGE", 200)?;
        if !(10..=1000).contains(&page_size) {
            return Err(ConfigError::new("HC_EXPOSURE_PAGE", "must be between 10 and 1000"));
        }
        Ok(Self {
            pii: PiiKeys::from_env()?,
            notifier: notifier::from_env()?,
            page_size,
            store: Store::from_env().await,
        })
    }

    /// The sender of decided appeals' notices.
    pub fn appeal_notices(&self, clock: Clock) -> AppealNotices<'_> {
        AppealNotices {
            store: &self.store,
            pii: &self.pii,
            notifier: self.notifier.as_ref(),
            clock,
            backoff: StdDuration::from_millis(200),
        }
    }

    /// A worker of this process, named afresh for its leases.
    pub fn worker(&self, clock: Clock) -> Worker<'_> {
        Worker {
            store: &self.store,
            pii: &self.pii,
            notifier: self.notifier.as_ref(),
            clock,
            name: random_id("w_"),
            page_size: self.page_size,
            lease: Duration::minutes(2),
            backoff: StdDuration::from_millis(200),
        }
    }
}

#[derive(serde::Deserialize)]
struct Keys {
    pk: String,
    sk: String,
}

/// The exposures a stream batch names (the exposure items' keys).
pub fn exposure_ids(event: &Event) -> BTreeSet<String> {
    event
        .records
        .iter()
        .filter_map(|record| {
            let keys: Keys = serde_dynamo::from_item(record.change.keys.clone()).ok()?;
            (keys.sk == "META")
                .then(|| keys.pk.strip_prefix("X#").map(str::to_owned))
                .flatten()
        })
        .collect()
}

/// Whether a stream batch names an appeal (the appeals table's stream,
/// filtered in the template to decided appeals whose notice is due).
pub fn names_an_appeal(event: &Event) -> bool {
    event.records.iter().any(|record| {
        serde_dynamo::from_item::<_, Keys>(record.change.keys.clone())
            .is_ok_and(|keys| keys.sk == shared::store::appeals::APPEAL && keys.pk.starts_with("A#"))
    })
}

/// The Lambda handler: sends the due notices of decided appeals when the
/// batch names one, then works on each exposure named until a minute before
/// the invocation's deadline. Errors make Lambda deliver the batch again,
/// which the claims and checkpoints make harmless.
pub async fn handle(app: &App, event: LambdaEvent<Event>) -> Result<(), Error> {
    if names_an_appeal(&event.payload) {
        let sent = app.appeal_notices(Clock::system()).send_due().await?;
        tracing::info!(sent = sent.sent, failed = sent.failed, "appeal notices");
    }
    let deadline = StdDuration::from_millis(event.context.deadline);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let left = deadline.saturating_sub(now).saturating_sub(StdDuration::from_secs(60));
    let budget = Budget {
        pages: None,
        until: Some(Instant::now() + left),
    };
    let ids = exposure_ids(&event.payload);
    if ids.is_empty() {
        return Ok(());
    }
    // Named only when there is work: naming draws from the random generator,
    // whose first use in a process seeds it (about 24 ms here).
    let worker = app.worker(Clock::system());
    for id in ids {
        let mut outcome = worker.work(&id, budget).await?;
        // Held by a run that died (a timeout, a crash): wait out its lease
        // once, as no other record will come for it.
        if outcome == Outcome::Busy
            && still_open(app, &id).await?
            && Instant::now() + LEASE_WAIT < budget.until.unwrap_or_else(Instant::now)
        {
            tokio::time::sleep(LEASE_WAIT).await;
            outcome = worker.work(&id, budget).await?;
        }
        tracing::info!(?outcome, "exposure worked on");
        if outcome == Outcome::Paused {
            break;
        }
    }
    Ok(())
}

/// A little more than a worker's lease.
const LEASE_WAIT: StdDuration = StdDuration::from_secs(130);

async fn still_open(app: &App, id: &str) -> Result<bool, Error> {
    Ok(app.store.open_exposures().await?.iter().any(|open| open == id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_names_each_exposure_once_and_nothing_else() {
        let event: Event =
            serde_json::from_str(include_str!("../events/exposure.json")).expect("a DynamoDB stream event");
        let ids: Vec<String> = exposure_ids(&event).into_iter().collect();
        assert_eq!(ids, ["x_aaaaaaaaaaaaaaaaaaaaaaaaaa"]);
        assert!(!names_an_appeal(&event));
    }

    #[test]
    fn a_decided_appeal_names_no_exposure() {
        let event: Event =
            serde_json::from_str(include_str!("../events/appeal.json")).expect("a DynamoDB stream event");
        assert!(names_an_appeal(&event));
        assert!(exposure_ids(&event).is_empty());
    }
}

//! The exposure worker: takes an exposure (a lease on it), reads the log by
//! the window a page at a time, records each contact once and sends its
//! notice once, and checkpoints its position after every page, so that a
//! worker stopped anywhere and started again resumes where it was, and two
//! workers on the same exposure do the work once between them.
//!
//! Once: a contact is a conditional write, in one transaction with the
//! exposure's count and the subject's fact, and only while the worker holds
//! the lease; a page read again finds its contacts recorded. A notice is
//! claimed (a conditional write on the contact) before it is sent and marked
//! sent after, so only a worker that dies between WeChat's answer and that
//! mark can send it twice, after the claim expires.

use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

use futures::stream::{self, StreamExt};
use time::{Duration, OffsetDateTime};

use crate::clock::Clock;
use crate::crypto::PiiKeys;
use crate::domain::day::shanghai_day;
use crate::domain::status::ExposureFact;
use crate::store::exposures::{Contact, Exposure, ExposureStatus, Recorded, Task};
use crate::store::log::EntryKind;
use crate::store::{Store, StoreError, parse_time, sort_time};

pub use super::notices::{Message, Notice, Notifier, SendError};

/// How much one run may do before it gives the exposure up with work left.
#[derive(Debug, Clone, Copy, Default)]
pub struct Budget {
    pub pages: Option<u64>,
    pub until: Option<Instant>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every contact recorded and notified.
    Done,
    /// A withdrawn exposure's contacts no longer carry it.
    Undone,
    /// The budget ran out; the position is saved and the lease given up.
    Paused,
    /// Someone else holds it, or there is nothing to do.
    Busy,
    /// The lease was lost mid-run (expired and taken, or the exposure withdrawn).
    Lost,
}

/// Send attempts per notice within a run, with backoff between them.
const SEND_ATTEMPTS: u32 = 3;
/// A case's visits a person exposure follows at most.
const MAX_TASKS: usize = 1000;

pub struct Worker<'a> {
    pub store: &'a Store,
    pub pii: &'a PiiKeys,
    pub notifier: &'a dyn Notifier,
    pub clock: Clock,
    /// This worker's name in leases.
    pub name: String,
    pub page_size: usize,
    pub lease: Duration,
    /// Wait before the first retry of a failed send; doubled each time.
    pub backoff: std::time::Duration,
}

impl Worker<'_> {
    fn until(&self) -> i64 {
        (self.clock.now() + self.lease).unix_timestamp()
    }

    /// Works on one exposure until it is done, the budget runs out or the
    /// lease is lost.
    pub async fn work(&self, id: &str, budget: Budget) -> Result<Outcome, StoreError> {
        let now = self.clock.now().unix_timestamp();
        let Some(exposure) = self.store.take_exposure(id, &self.name, now, self.until()).await? else {
            return Ok(Outcome::Busy);
        };
        if exposure.status == ExposureStatus::Withdrawn {
            return self.undo(&exposure).await;
        }
        let mut progress = exposure.progress.clone();
        if !progress.tasks_ready {
            let tasks = self.person_tasks(&exposure).await?;
            self.store.save_tasks(id, &tasks).await?;
            progress.tasks_ready = true;
        }
        if !self.store.checkpoint(id, &self.name, &progress, self.until()).await? {
            return Ok(Outcome::Lost);
        }
        let tasks = self.store.tasks(id).await?;
        let mut pages = 0u64;
        while let Some(task) = tasks.get(progress.task as usize) {
            if budget.pages.is_some_and(|p| pages >= p) || budget.until.is_some_and(|u| Instant::now() >= u) {
                self.store.release_exposure(id, &self.name).await?;
                return Ok(Outcome::Paused);
            }
            let (entries, next) = self
                .store
                .venue_shard_page(
                    &task.venue_id,
                    progress.shard,
                    &task.from,
                    &task.to,
                    progress.cursor.as_deref(),
                    self.page_size,
                )
                .await?;
            if !self.record_page(&exposure, task, &entries).await? {
                return Ok(Outcome::Lost);
            }
            pages += 1;
            progress.pages += 1;
            match next {
                Some(position) => progress.cursor = Some(position),
                None if progress.shard + 1 < task.shards.max(1) => {
                    progress.shard += 1;
                    progress.cursor = None;
                }
                None => {
                    progress.task += 1;
                    progress.shard = 0;
                    progress.cursor = None;
                }
            }
            if !self.store.checkpoint(id, &self.name, &progress, self.until()).await? {
                return Ok(Outcome::Lost);
            }
        }
        let finished = self
            .store
            .finish_exposure(id, &self.name, false, &sort_time(self.clock.now()))
            .await?;
        Ok(if finished { Outcome::Done } else { Outcome::Lost })
    }

    /// Records the contacts of one page and sends their notices; `false`
    /// when the lease was lost. The page's profiles and their accounts'
    /// openids are read in batches, so a contact costs its transaction and,
    /// when it has someone to tell, its notice.
    async fn record_page(
        &self,
        exposure: &Exposure,
        task: &Task,
        entries: &[crate::store::log::VenueEntry],
    ) -> Result<bool, StoreError> {
        let mut seen = HashSet::new();
        let people: Vec<&crate::store::log::VenueEntry> = entries
            .iter()
            .filter(|e| exposure.case_subject.as_deref() != Some(e.subject_id.as_str()))
            .filter(|e| seen.insert(e.subject_id.clone()))
            .collect();
        let ids: Vec<String> = people.iter().map(|e| e.subject_id.clone()).collect();
        let profiles = self.store.get_subjects(&ids).await?;
        let accounts: Vec<String> = profiles
            .values()
            .flat_map(|p| p.identity.owner.iter().chain(p.identity.guardians.keys()).cloned())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let openids = self.store.openids(&accounts).await?;
        let mut to_notify = Vec::new();
        for entry in people {
            let at = parse_time(&entry.at).ok_or_else(|| StoreError::Corrupt("an entry's time".into()))?;
            let now = self.clock.now();
            let contact = Contact {
                subject_id: entry.subject_id.clone(),
                venue_id: task.venue_id.clone(),
                entered_at: entry.at.clone(),
                recorded_at: sort_time(now),
                sent_at: None,
            };
            let fact = ExposureFact {
                id: exposure.id.clone(),
                level: exposure.level,
                day: shanghai_day(at),
                recorded_at: now,
                district: task.district.clone(),
                withdrawn: false,
            };
            let profile = profiles.get(&entry.subject_id);
            match self
                .store
                .record_contact(&exposure.id, &self.name, &contact, &fact, profile.is_some())
                .await?
            {
                Recorded::New | Recorded::Known => {}
                Recorded::LeaseLost => return Ok(false),
            }
            let recipients = super::notices::opened(
                self.pii,
                &openids,
                profile
                    .into_iter()
                    .flat_map(|p| p.identity.owner.iter().chain(p.identity.guardians.keys())),
            );
            // No one to tell (a person registered by no account of ours): nothing to send, nothing to claim.
            if !recipients.is_empty() {
                to_notify.push((entry.subject_id.clone(), fact, recipients));
            }
        }
        let results: Vec<Result<(), StoreError>> = stream::iter(to_notify)
            .map(|(subject, fact, recipients)| async move { self.notify(exposure, &subject, fact, recipients).await })
            .buffer_unordered(8)
            .collect()
            .await;
        results.into_iter().collect::<Result<(), _>>()?;
        Ok(true)
    }

    /// Sends one contact's notice to the subject's account and guardians, once.
    async fn notify(
        &self,
        exposure: &Exposure,
        subject: &str,
        fact: ExposureFact,
        openids: Vec<String>,
    ) -> Result<(), StoreError> {
        let now = self.clock.now();
        let claim_until = (now + Duration::minutes(5)).unix_timestamp();
        if !self
            .store
            .claim_notice(&exposure.id, subject, now.unix_timestamp(), claim_until)
            .await?
        {
            return Ok(());
        }
        let message = Message {
            openids,
            notice: Notice::Exposure {
                day: fact.day,
                district: super::notices::district_name(fact.district.as_deref()).map(str::to_owned),
                level: exposure.level,
            },
        };
        let mut wait = self.backoff;
        for attempt in 1..=SEND_ATTEMPTS {
            match self.notifier.send(&message).await {
                Ok(()) => {
                    let at = sort_time(self.clock.now());
                    return self.store.settle_notice(&exposure.id, subject, Some(&at)).await;
                }
                Err(err) if attempt < SEND_ATTEMPTS => {
                    tracing::warn!(error = %err, attempt, "notice not sent, retrying");
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
                Err(err) => tracing::warn!(error = %err, "notice not sent; the exposure goes on"),
            }
        }
        self.store.settle_notice(&exposure.id, subject, None).await
    }

    /// A case's check-ins in the window, as venues and windows of
    /// `window_minutes` either side, overlapping windows at a venue merged.
    async fn person_tasks(&self, exposure: &Exposure) -> Result<Vec<Task>, StoreError> {
        let case = exposure
            .case_subject
            .as_deref()
            .ok_or_else(|| StoreError::Corrupt("a person exposure without its case".into()))?;
        let from = parse_time(&exposure.from).ok_or_else(|| StoreError::Corrupt("exposure window".into()))?;
        let to = parse_time(&exposure.to).ok_or_else(|| StoreError::Corrupt("exposure window".into()))?;
        let half = Duration::minutes(i64::from(exposure.window_minutes));
        let mut by_venue: BTreeMap<String, Vec<(OffsetDateTime, OffsetDateTime)>> = BTreeMap::new();
        let mut after = None;
        loop {
            let page = self
                .store
                .subject_entries(case, from, to, after.as_deref(), 200)
                .await?;
            for entry in page.entries.iter().filter(|e| e.kind == EntryKind::Checkin) {
                if let (Some(venue), Some(at)) = (&entry.venue_id, parse_time(&entry.at)) {
                    by_venue.entry(venue.clone()).or_default().push((at - half, at + half));
                }
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        let ids: Vec<String> = by_venue.keys().cloned().collect();
        let venues = self.store.get_venues(&ids).await?;
        let mut tasks = Vec::new();
        for (venue_id, mut windows) in by_venue {
            let Some(venue) = venues.get(&venue_id) else { continue };
            windows.sort();
            let mut merged: Vec<(OffsetDateTime, OffsetDateTime)> = Vec::new();
            for (start, end) in windows {
                match merged.last_mut() {
                    Some(last) if start <= last.1 => last.1 = last.1.max(end),
                    _ => merged.push((start, end)),
                }
            }
            tasks.extend(merged.into_iter().map(|(start, end)| Task {
                venue_id: venue_id.clone(),
                from: sort_time(start),
                to: sort_time(end),
                shards: venue.shards,
                district: Some(venue.region.clone()),
            }));
        }
        tasks.truncate(MAX_TASKS);
        Ok(tasks)
    }

    /// After a withdrawal: every contact's fact marked withdrawn, then the
    /// exposure closed. Marking is idempotent, so a restart walks again.
    async fn undo(&self, exposure: &Exposure) -> Result<Outcome, StoreError> {
        let mut after: Option<String> = None;
        loop {
            let (page, next) = self
                .store
                .contacts_page(&exposure.id, after.as_deref(), self.page_size)
                .await?;
            for contact in &page {
                self.store.withdraw_fact(&contact.subject_id, &exposure.id).await?;
            }
            match next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        let done = self
            .store
            .finish_exposure(&exposure.id, &self.name, true, &sort_time(self.clock.now()))
            .await?;
        Ok(if done { Outcome::Undone } else { Outcome::Lost })
    }
}

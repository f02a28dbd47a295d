//! Exposures (时空伴随): the authority marks a venue and window, or a case
//! and window, and a worker finds everyone who was there.
//!
//! Items of the exposures table (docs/data-model.md):
//! - `X#<id>`/`META`: the exposure, its progress (task, shard, position) and
//!   the worker's lease. Its stream starts the worker in AWS.
//! - `X#<id>`/`TASKS`: a person exposure's venues and windows, worked out once.
//! - `X#<id>`/`C#<subject>`: one contact. Written only if absent, in one
//!   transaction with the exposure's count and the subject's fact, so that a
//!   contact is recorded once however often a page is read again.
//! - `OPEN`/`<id>`: an exposure with work left (to find contacts, or to undo
//!   them after a withdrawal), which the local worker polls.

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, ReturnValue, TransactWriteItem, Update};
use serde::{Deserialize, Serialize};

use super::keys::{PROFILE, subject_pk};
use super::{Store, StoreError, from_item, key2, n, s, to_item, value, written};
use crate::domain::status::{Color, ExposureFact};

const META: &str = "META";
const TASKS: &str = "TASKS";
const OPEN: &str = "OPEN";

fn exposure_pk(id: &str) -> String {
    format!("X#{id}")
}

fn contact_sk(subject: &str) -> String {
    format!("C#{subject}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExposureKind {
    Venue,
    Person,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExposureStatus {
    Pending,
    Running,
    Done,
    Withdrawn,
}

impl ExposureStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Done => "done",
            Self::Withdrawn => "withdrawn",
        }
    }
}

/// Where the worker is: task `task`, venue shard `shard`, after index
/// position `cursor` (none: from the start of the shard).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    #[serde(default)]
    pub tasks_ready: bool,
    #[serde(default)]
    pub task: u32,
    #[serde(default)]
    pub shard: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Pages read so far, for the record.
    #[serde(default)]
    pub pages: u64,
}

/// An exposure as stored. Times are [`super::sort_time`] strings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exposure {
    pub id: String,
    pub kind: ExposureKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub venue_id: Option<String>,
    /// The case of a person exposure, who is not a contact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_subject: Option<String>,
    pub from: String,
    pub to: String,
    pub level: Color,
    /// The officer's free text: never logged.
    pub reason: String,
    pub window_minutes: u32,
    pub status: ExposureStatus,
    #[serde(default)]
    pub contacts: u64,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    pub officer: String,
    #[serde(default)]
    pub progress: Progress,
    /// After a withdrawal: set once every contact's fact is marked withdrawn.
    #[serde(default)]
    pub cleaned: bool,
}

/// One venue and window to read: the venue of an exposure, or one of a case's visits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub venue_id: String,
    pub from: String,
    pub to: String,
    pub shards: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct TasksItem {
    pk: String,
    sk: String,
    tasks: Vec<Task>,
}

#[derive(Serialize)]
struct MetaItem<'a> {
    pk: String,
    sk: &'static str,
    #[serde(flatten)]
    exposure: &'a Exposure,
}

/// A person found at the venue in the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    pub subject_id: String,
    pub venue_id: String,
    pub entered_at: String,
    pub recorded_at: String,
    /// When the notice went out (or was found to have no one to go to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<String>,
}

#[derive(Serialize)]
struct ContactItem<'a> {
    pk: String,
    sk: String,
    #[serde(flatten)]
    contact: &'a Contact,
}

/// What became of one contact's write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Recorded now, with the count and the subject's fact.
    New,
    /// Recorded before (a page read again after a restart, or another worker).
    Known,
    /// The worker no longer holds the exposure (its lease passed on, or it was withdrawn).
    LeaseLost,
}

impl Store {
    /// Records a new exposure with its open marker; `false` if its id exists
    /// (a retried request with the same `Idempotency-Key`).
    pub async fn create_exposure(&self, exposure: &Exposure, tasks: Option<&[Task]>) -> Result<bool, StoreError> {
        let put = |item, condition: Option<&str>| {
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(&self.tables.exposures)
                        .set_item(Some(item))
                        .set_condition_expression(condition.map(str::to_owned))
                        .build()
                        .expect("complete put"),
                )
                .build()
        };
        let mut items = vec![
            put(
                to_item(&MetaItem {
                    pk: exposure_pk(&exposure.id),
                    sk: META,
                    exposure,
                }),
                Some("attribute_not_exists(pk)"),
            ),
            put(key2(OPEN, &exposure.id), None),
        ];
        if let Some(tasks) = tasks {
            items.push(put(
                to_item(&TasksItem {
                    pk: exposure_pk(&exposure.id),
                    sk: TASKS.into(),
                    tasks: tasks.to_vec(),
                }),
                None,
            ));
        }
        match self.transact(items).await {
            Ok(()) => Ok(true),
            Err(e) if e.failed_at(0) => Ok(false),
            Err(e) => Err(e.into_store()),
        }
    }

    pub async fn get_exposure(&self, id: &str, consistent: bool) -> Result<Option<Exposure>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.exposures)
            .set_key(Some(key2(exposure_pk(id), META)))
            .consistent_read(consistent)
            .send()
            .await?;
        out.item.map(from_item).transpose()
    }

    /// The ids of the exposures with work left.
    pub async fn open_exposures(&self) -> Result<Vec<String>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.tables.exposures)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(OPEN))
            .consistent_read(true);
        let items = self.query_all(query).await?;
        Ok(items
            .into_iter()
            .filter_map(|mut item| item.remove("sk").and_then(|v| v.as_s().ok().cloned()))
            .collect())
    }

    pub async fn save_tasks(&self, id: &str, tasks: &[Task]) -> Result<(), StoreError> {
        let item = to_item(&TasksItem {
            pk: exposure_pk(id),
            sk: TASKS.into(),
            tasks: tasks.to_vec(),
        });
        self.client
            .put_item()
            .table_name(&self.tables.exposures)
            .set_item(Some(item))
            .send()
            .await?;
        Ok(())
    }

    pub async fn tasks(&self, id: &str) -> Result<Vec<Task>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.exposures)
            .set_key(Some(key2(exposure_pk(id), TASKS)))
            .consistent_read(true)
            .send()
            .await?;
        Ok(out
            .item
            .map(from_item::<TasksItem>)
            .transpose()?
            .map(|t| t.tasks)
            .unwrap_or_default())
    }

    /// Takes the exposure for `worker` until `until` (Unix seconds) if it
    /// has work left and no one else holds it; the exposure as it is then.
    pub async fn take_exposure(
        &self,
        id: &str,
        worker: &str,
        now: i64,
        until: i64,
    ) -> Result<Option<Exposure>, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.exposures)
            .set_key(Some(key2(exposure_pk(id), META)))
            .update_expression("SET lease_owner = :me, lease_until = :until")
            .condition_expression(
                "attribute_exists(pk) AND (#status IN (:pending, :running) OR (#status = :withdrawn AND cleaned = :no)) \
                 AND (attribute_not_exists(lease_owner) OR lease_until < :now OR lease_owner = :me)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":me", s(worker))
            .expression_attribute_values(":until", n(until))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":running", s("running"))
            .expression_attribute_values(":withdrawn", s("withdrawn"))
            .expression_attribute_values(":no", AttributeValue::Bool(false))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => out.attributes.map(from_item).transpose(),
            Err(err) if err.code() == Some("ConditionalCheckFailedException") => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    /// Saves the worker's position and extends its lease; `false` when it
    /// no longer holds the exposure or the exposure was withdrawn.
    pub async fn checkpoint(
        &self,
        id: &str,
        worker: &str,
        progress: &Progress,
        until: i64,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.exposures)
            .set_key(Some(key2(exposure_pk(id), META)))
            .update_expression("SET progress = :progress, lease_until = :until, #status = :running")
            .condition_expression("lease_owner = :me AND #status IN (:pending, :running)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":progress", value(progress))
            .expression_attribute_values(":until", n(until))
            .expression_attribute_values(":me", s(worker))
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":running", s("running"))
            .send()
            .await;
        written(result)
    }

    /// Gives the exposure up with work left, so that the next run (or, in
    /// AWS, the stream record of this very write) takes it on.
    pub async fn release_exposure(&self, id: &str, worker: &str) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.exposures)
            .set_key(Some(key2(exposure_pk(id), META)))
            .update_expression("REMOVE lease_owner, lease_until ADD runs :one")
            .condition_expression("lease_owner = :me")
            .expression_attribute_values(":me", s(worker))
            .expression_attribute_values(":one", n(1))
            .send()
            .await;
        written(result)
    }

    /// Marks the exposure done (or, after a withdrawal, its contacts
    /// undone) and drops its open marker; `false` when the worker no longer
    /// holds it.
    pub async fn finish_exposure(&self, id: &str, worker: &str, withdrawn: bool, at: &str) -> Result<bool, StoreError> {
        let mut update = Update::builder()
            .table_name(&self.tables.exposures)
            .set_key(Some(key2(exposure_pk(id), META)))
            .condition_expression("lease_owner = :me AND #status = :status")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":me", s(worker));
        update = if withdrawn {
            update
                .update_expression("SET cleaned = :yes REMOVE lease_owner, lease_until")
                .expression_attribute_values(":yes", AttributeValue::Bool(true))
                .expression_attribute_values(":status", s("withdrawn"))
        } else {
            update
                .update_expression("SET #status = :done, finished_at = :at REMOVE lease_owner, lease_until")
                .expression_attribute_values(":done", s("done"))
                .expression_attribute_values(":at", s(at))
                .expression_attribute_values(":status", s("running"))
        };
        let delete = Delete::builder()
            .table_name(&self.tables.exposures)
            .set_key(Some(key2(OPEN, id)))
            .build()
            .expect("complete delete");
        let items = vec![
            TransactWriteItem::builder()
                .update(update.build().expect("complete update"))
                .build(),
            TransactWriteItem::builder().delete(delete).build(),
        ];
        match self.transact(items).await {
            Ok(()) => Ok(true),
            Err(e) if e.failed_at(0) => Ok(false),
            Err(e) => Err(e.into_store()),
        }
    }

    /// Withdraws an exposure and reopens it, so that the worker marks its
    /// contacts' facts withdrawn; whoever was working on it loses its lease.
    /// `None` when there is no such exposure; `Some(false)` when it was
    /// withdrawn already.
    pub async fn withdraw_exposure(&self, id: &str, at: &str) -> Result<Option<bool>, StoreError> {
        let update = Update::builder()
            .table_name(&self.tables.exposures)
            .set_key(Some(key2(exposure_pk(id), META)))
            .update_expression(
                "SET #status = :withdrawn, withdrawn_at = :at, cleaned = :no REMOVE lease_owner, lease_until",
            )
            .condition_expression("attribute_exists(pk) AND #status <> :withdrawn")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":withdrawn", s("withdrawn"))
            .expression_attribute_values(":at", s(at))
            .expression_attribute_values(":no", AttributeValue::Bool(false))
            .build()
            .expect("complete update");
        let open = Put::builder()
            .table_name(&self.tables.exposures)
            .set_item(Some(key2(OPEN, id)))
            .build()
            .expect("complete put");
        let items = vec![
            TransactWriteItem::builder().update(update).build(),
            TransactWriteItem::builder().put(open).build(),
        ];
        match self.transact(items).await {
            Ok(()) => Ok(Some(true)),
            Err(e) if e.failed_at(0) => Ok(self.get_exposure(id, true).await?.map(|_| false)),
            Err(e) => Err(e.into_store()),
        }
    }

    /// Records one contact, counts it and gives its subject the fact, all or
    /// nothing, if the worker still holds the running exposure.
    /// `with_profile`: the subject has a profile to carry the fact (one
    /// without, which none should be, still counts as a contact).
    pub async fn record_contact(
        &self,
        exposure_id: &str,
        worker: &str,
        contact: &Contact,
        fact: &ExposureFact,
        with_profile: bool,
    ) -> Result<Recorded, StoreError> {
        let put = Put::builder()
            .table_name(&self.tables.exposures)
            .set_item(Some(to_item(&ContactItem {
                pk: exposure_pk(exposure_id),
                sk: contact_sk(&contact.subject_id),
                contact,
            })))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .expect("complete put");
        let count = Update::builder()
            .table_name(&self.tables.exposures)
            .set_key(Some(key2(exposure_pk(exposure_id), META)))
            .update_expression("ADD contacts :one")
            .condition_expression("lease_owner = :me AND #status = :running")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":me", s(worker))
            .expression_attribute_values(":running", s("running"))
            .build()
            .expect("complete update");
        let subject = Update::builder()
            .table_name(&self.tables.subjects)
            .set_key(Some(key2(subject_pk(&contact.subject_id), PROFILE)))
            .update_expression("SET facts.exp = list_append(if_not_exists(facts.exp, :empty), :fact) ADD ver :one")
            .condition_expression("attribute_exists(facts)")
            .expression_attribute_values(":empty", AttributeValue::L(Vec::new()))
            .expression_attribute_values(":fact", AttributeValue::L(vec![value(fact)]))
            .expression_attribute_values(":one", n(1))
            .build()
            .expect("complete update");
        let mut items = vec![
            TransactWriteItem::builder().put(put).build(),
            TransactWriteItem::builder().update(count).build(),
        ];
        if with_profile {
            items.push(TransactWriteItem::builder().update(subject).build());
        }
        loop {
            match self.transact(items.clone()).await {
                Ok(()) => return Ok(Recorded::New),
                Err(e) if e.failed_at(0) => return Ok(Recorded::Known),
                Err(e) if e.failed_at(1) => return Ok(Recorded::LeaseLost),
                // A subject without a profile (none is expected): the contact still counts.
                Err(e) if e.failed_at(2) && items.len() == 3 => {
                    items.truncate(2);
                }
                Err(e) => return Err(e.into_store()),
            }
        }
    }

    /// A page of an exposure's contacts in subject order, after `after` (a subject id).
    pub async fn contacts_page(
        &self,
        exposure_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Contact>, Option<String>), StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.tables.exposures)
            .key_condition_expression("pk = :pk AND begins_with(sk, :c)")
            .expression_attribute_values(":pk", s(exposure_pk(exposure_id)))
            .expression_attribute_values(":c", s("C#"))
            .set_exclusive_start_key(after.map(|a| key2(exposure_pk(exposure_id), contact_sk(a))))
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .consistent_read(true)
            .send()
            .await?;
        let contacts: Vec<Contact> = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(from_item)
            .collect::<Result<_, _>>()?;
        let next = out
            .last_evaluated_key
            .and(contacts.last().map(|c| c.subject_id.clone()));
        Ok((contacts, next))
    }

    /// Claims a contact's notice for sending until `until`; `false` when it
    /// went out already or another worker is sending it.
    pub async fn claim_notice(
        &self,
        exposure_id: &str,
        subject: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.exposures)
            .set_key(Some(key2(exposure_pk(exposure_id), contact_sk(subject))))
            .update_expression("SET claim_until = :until")
            .condition_expression(
                "attribute_exists(pk) AND attribute_not_exists(sent_at) AND (attribute_not_exists(claim_until) OR claim_until < :now)",
            )
            .expression_attribute_values(":until", n(until))
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        written(result)
    }

    /// Records that a contact's notice went out (`sent`), or gives the claim up to be tried again.
    pub async fn settle_notice(&self, exposure_id: &str, subject: &str, sent: Option<&str>) -> Result<(), StoreError> {
        let request = self
            .client
            .update_item()
            .table_name(&self.tables.exposures)
            .set_key(Some(key2(exposure_pk(exposure_id), contact_sk(subject))));
        let request = match sent {
            Some(at) => request
                .update_expression("SET sent_at = :at REMOVE claim_until")
                .expression_attribute_values(":at", s(at)),
            None => request
                .update_expression("REMOVE claim_until ADD send_failures :one")
                .expression_attribute_values(":one", n(1)),
        };
        request.send().await?;
        Ok(())
    }

    /// Marks the exposure's fact on a subject withdrawn. The fact is found
    /// by position and the write is conditional on it still being there.
    pub async fn withdraw_fact(&self, subject: &str, exposure_id: &str) -> Result<(), StoreError> {
        for _ in 0..5 {
            let Some(profile) = self.get_subject(subject, true).await? else {
                return Ok(());
            };
            let Some(index) = profile
                .facts
                .exposures
                .iter()
                .position(|e| e.id == exposure_id && !e.withdrawn)
            else {
                return Ok(());
            };
            let result = self
                .client
                .update_item()
                .table_name(&self.tables.subjects)
                .set_key(Some(key2(subject_pk(subject), PROFILE)))
                .update_expression(format!("SET facts.exp[{index}].wd = :yes ADD ver :one"))
                .condition_expression(format!("facts.exp[{index}].id = :id"))
                .expression_attribute_values(":yes", AttributeValue::Bool(true))
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":id", s(exposure_id))
                .send()
                .await;
            if written(result)? {
                return Ok(());
            }
        }
        Err(StoreError::Unavailable("the subject's facts kept changing".into()))
    }
}

//! Appeals (申诉): a person who thinks their code is wrong says so, and the authority decides.
//!
//! The `appeals` table holds, per appeal, the item `A#<id>`/`APPEAL`, and per subject with an
//! open appeal the marker `S#<subject>`/`OPEN`, which holds that appeal's id: filing puts both
//! in one transaction on the condition that the marker does not exist, so that a subject has at
//! most one open appeal whatever the concurrency, and deciding updates the appeal and deletes the
//! marker in one transaction (with the verification an upheld appeal records, on the subject's
//! profile in the `subjects` table). Two sparse indexes: `by-subject` (the person's own list) and
//! `open` (the authority's queue, which only open appeals enter).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::keys::{PROFILE, subject_pk};
use super::{Store, StoreError, from_item, key2, n, s, sort_time, to_item, value};
use crate::domain::status::{Color, Override};

pub const APPEAL: &str = "APPEAL";
pub const OPEN_MARKER: &str = "OPEN";
/// The `open` index's one partition: only open appeals carry `queue`.
pub const OPEN: &str = "open";
/// The `notices-due` index's one partition: only decided appeals whose notice has not gone out
/// carry `notice_due`.
pub const NOTICE_DUE: &str = "appeal";
/// Sends of a decided appeal's notice before it is given up.
pub const NOTICE_ATTEMPTS: u32 = 5;

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AppealStatus {
    Open,
    Upheld,
    Rejected,
}

/// One appeal, as stored (`A#<id>`/`APPEAL`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Appeal {
    pub appeal_id: String,
    pub subject_id: String,
    /// The account that filed it: the owner or a guardian.
    pub by: String,
    pub status: AppealStatus,
    /// Free text from the person; may name people, so never logged.
    pub reason: String,
    /// Sort time (`sort_time`) of filing.
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<String>,
    /// The officer's answer to the person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub officer: Option<String>,
    /// The colour an upheld appeal's verification set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<Color>,
}

impl std::fmt::Display for AppealStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AppealStatus::Open => "open",
            AppealStatus::Upheld => "upheld",
            AppealStatus::Rejected => "rejected",
        })
    }
}

#[derive(Serialize)]
struct AppealItem<'a> {
    pk: String,
    sk: &'static str,
    /// `by-subject`'s keys.
    spk: &'a str,
    ssk: String,
    /// `open`'s keys, only while open.
    #[serde(skip_serializing_if = "Option::is_none")]
    queue: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    qsk: Option<String>,
    #[serde(flatten)]
    appeal: &'a Appeal,
}

fn appeal_pk(id: &str) -> String {
    format!("A#{id}")
}

/// Where a queue position or a listing sorts: the filing time, then the id.
fn order_key(a: &Appeal) -> String {
    format!("{}#{}", a.created_at, a.appeal_id)
}

/// What filing an appeal did.
#[derive(Debug, PartialEq)]
pub enum Filed {
    Created,
    /// The subject already has an open appeal: its id.
    AlreadyOpen(String),
}

/// What deciding an appeal did.
#[derive(Debug, PartialEq)]
pub enum Decided {
    Done,
    /// No such appeal.
    NotFound,
    /// Decided already (or the subject is gone, for a verification).
    NotOpen,
}

/// A page of the authority's queue, oldest first.
pub struct QueuePage {
    pub appeals: Vec<Appeal>,
    /// Where the next page starts, if there may be one.
    pub next: Option<String>,
}

/// Whether `cursor` has the shape of a queue position this module returned.
pub fn is_queue_position(cursor: &str) -> bool {
    cursor.len() <= 80
        && cursor.split_once('#').is_some_and(|(t, id)| {
            !t.is_empty()
                && t.bytes().all(|b| b.is_ascii_alphanumeric() || b":-.+".contains(&b))
                && id.starts_with("ap_")
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
}

impl Store {
    /// Files an appeal, unless its subject already has an open one.
    pub async fn file_appeal(&self, appeal: &Appeal) -> Result<Filed, StoreError> {
        let item = to_item(&AppealItem {
            pk: appeal_pk(&appeal.appeal_id),
            sk: APPEAL,
            spk: &appeal.subject_id,
            ssk: order_key(appeal),
            queue: Some(OPEN),
            qsk: Some(order_key(appeal)),
            appeal,
        });
        let marker = HashMap::from([
            ("pk".to_owned(), s(subject_pk(&appeal.subject_id))),
            ("sk".to_owned(), s(OPEN_MARKER)),
            ("appeal_id".to_owned(), s(&appeal.appeal_id)),
        ]);
        let items = vec![
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(&self.tables.appeals)
                        .set_item(Some(marker))
                        .condition_expression("attribute_not_exists(pk)")
                        .build()
                        .expect("complete put"),
                )
                .build(),
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(&self.tables.appeals)
                        .set_item(Some(item))
                        .condition_expression("attribute_not_exists(pk)")
                        .build()
                        .expect("complete put"),
                )
                .build(),
        ];
        match self.transact(items).await {
            Ok(()) => Ok(Filed::Created),
            Err(e) if e.failed_at(0) => {
                let open = self.open_appeal_of(&appeal.subject_id).await?;
                match open {
                    Some(id) => Ok(Filed::AlreadyOpen(id)),
                    // Decided between the two reads: the caller may file again.
                    None => Err(StoreError::Unavailable("appeal decided meanwhile".into())),
                }
            }
            Err(e) => Err(e.into_store()),
        }
    }

    /// The id of the subject's open appeal, if any (strongly consistent).
    pub async fn open_appeal_of(&self, subject_id: &str) -> Result<Option<String>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.appeals)
            .set_key(Some(key2(subject_pk(subject_id), OPEN_MARKER)))
            .consistent_read(true)
            .send()
            .await?;
        Ok(out.item.and_then(|i| match i.get("appeal_id") {
            Some(AttributeValue::S(id)) => Some(id.clone()),
            _ => None,
        }))
    }

    pub async fn get_appeal(&self, appeal_id: &str) -> Result<Option<Appeal>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.appeals)
            .set_key(Some(key2(appeal_pk(appeal_id), APPEAL)))
            .consistent_read(true)
            .send()
            .await?;
        out.item.map(from_item).transpose()
    }

    /// A subject's appeals, newest first (the index is eventually consistent: one filed a second
    /// ago may be missing).
    pub async fn subject_appeals(&self, subject_id: &str) -> Result<Vec<Appeal>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.tables.appeals)
            .index_name("by-subject")
            .key_condition_expression("spk = :s")
            .expression_attribute_values(":s", s(subject_id))
            .scan_index_forward(false);
        self.query_all(query).await?.into_iter().map(from_item).collect()
    }

    /// The open appeals, oldest first, `limit` at a time after `after`.
    pub async fn open_appeals(&self, after: Option<&str>, limit: usize) -> Result<QueuePage, StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.tables.appeals)
            .index_name("open")
            .expression_attribute_values(":q", s(OPEN))
            .limit(i32::try_from(limit).unwrap_or(i32::MAX));
        query = match after {
            Some(after) => query
                .key_condition_expression("queue = :q AND qsk > :after")
                .expression_attribute_values(":after", s(after)),
            None => query.key_condition_expression("queue = :q"),
        };
        let out = query.send().await?;
        let appeals: Vec<Appeal> = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(from_item)
            .collect::<Result<_, _>>()?;
        let next = (out.last_evaluated_key.is_some() && appeals.len() == limit)
            .then(|| appeals.last().map(order_key))
            .flatten();
        Ok(QueuePage { appeals, next })
    }

    /// Decides an open appeal: its outcome and note, the marker removed, and for an upheld
    /// appeal with a colour the verification on the subject's profile, all or nothing.
    pub async fn decide_appeal(
        &self,
        appeal: &Appeal,
        outcome: AppealStatus,
        note: &str,
        officer: &str,
        at: OffsetDateTime,
        verification: Option<&Override>,
    ) -> Result<Decided, StoreError> {
        let update = Update::builder()
            .table_name(&self.tables.appeals)
            .set_key(Some(key2(appeal_pk(&appeal.appeal_id), APPEAL)))
            .update_expression(match verification {
                Some(_) => "SET #status = :outcome, note = :note, officer = :officer, resolved_at = :at, notice_due = :due, color = :color REMOVE queue, qsk",
                None => "SET #status = :outcome, note = :note, officer = :officer, resolved_at = :at, notice_due = :due REMOVE queue, qsk",
            })
            .condition_expression("#status = :open")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":outcome", value(&outcome))
            .expression_attribute_values(":note", s(note))
            .expression_attribute_values(":officer", s(officer))
            .expression_attribute_values(":at", s(sort_time(at)))
            .expression_attribute_values(":open", value(&AppealStatus::Open))
            .expression_attribute_values(":due", s(NOTICE_DUE));
        let update = match verification {
            Some(v) => update.expression_attribute_values(":color", value(&v.color)),
            None => update,
        }
        .build()
        .expect("complete update");
        let marker = Delete::builder()
            .table_name(&self.tables.appeals)
            .set_key(Some(key2(subject_pk(&appeal.subject_id), OPEN_MARKER)))
            .condition_expression("appeal_id = :id")
            .expression_attribute_values(":id", s(&appeal.appeal_id))
            .build()
            .expect("complete delete");
        let mut items = vec![
            TransactWriteItem::builder().update(update).build(),
            TransactWriteItem::builder().delete(marker).build(),
        ];
        if let Some(verdict) = verification {
            let profile = Update::builder()
                .table_name(&self.tables.subjects)
                .set_key(Some(key2(subject_pk(&appeal.subject_id), PROFILE)))
                .update_expression("SET facts.#member = :fact ADD ver :one")
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_names("#member", "override")
                .expression_attribute_values(":fact", value(verdict))
                .expression_attribute_values(":one", n(1))
                .build()
                .expect("complete update");
            items.push(TransactWriteItem::builder().update(profile).build());
        }
        match self.transact(items).await {
            Ok(()) => Ok(Decided::Done),
            Err(e) if e.failed_at(0) || e.failed_at(1) || e.failed_at(2) => Ok(Decided::NotOpen),
            Err(e) => Err(e.into_store()),
        }
    }
}

/// Where a decided appeal's notice stands.
#[derive(Debug, PartialEq)]
pub enum NoticeClaim {
    /// Claimed for sending until the time given.
    Claimed,
    /// Sent already, claimed by another sender, or waiting out a failure.
    NotNow,
}

impl Store {
    /// Decided appeals whose notice is due, oldest decision first, at most `limit`.
    pub async fn due_appeal_notices(&self, limit: usize) -> Result<Vec<String>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.tables.appeals)
            .index_name("notices-due")
            .key_condition_expression("notice_due = :due")
            .expression_attribute_values(":due", s(NOTICE_DUE))
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await?;
        Ok(out
            .items
            .unwrap_or_default()
            .iter()
            .filter_map(|item| match item.get("pk") {
                Some(AttributeValue::S(pk)) => pk.strip_prefix("A#").map(str::to_owned),
                _ => None,
            })
            .collect())
    }

    /// Claims a decided appeal's notice for sending until `until` (unix seconds): only while it
    /// is due and no claim (or failure's wait) runs past `now`.
    pub async fn claim_appeal_notice(&self, appeal_id: &str, now: i64, until: i64) -> Result<NoticeClaim, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.appeals)
            .set_key(Some(key2(appeal_pk(appeal_id), APPEAL)))
            .update_expression("SET notice_claim = :until")
            .condition_expression(
                "attribute_exists(notice_due) AND (attribute_not_exists(notice_claim) OR notice_claim < :now)",
            )
            .expression_attribute_values(":until", n(until))
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        Ok(if super::written(result)? {
            NoticeClaim::Claimed
        } else {
            NoticeClaim::NotNow
        })
    }

    /// Records that the notice went out at `at`: it leaves the work list.
    pub async fn appeal_notice_sent(&self, appeal_id: &str, at: &str) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.tables.appeals)
            .set_key(Some(key2(appeal_pk(appeal_id), APPEAL)))
            .update_expression("SET notice_sent_at = :at REMOVE notice_due, notice_claim")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":at", s(at))
            .send()
            .await?;
        Ok(())
    }

    /// Records a failed send: tried again after `retry_at` (unix seconds), or, at the last of
    /// [`NOTICE_ATTEMPTS`], given up (it leaves the work list, the appeal keeps its outcome).
    /// Returns whether it was given up.
    pub async fn appeal_notice_failed(&self, appeal_id: &str, retry_at: i64) -> Result<bool, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.tables.appeals)
            .set_key(Some(key2(appeal_pk(appeal_id), APPEAL)))
            .update_expression("SET notice_claim = :retry ADD notice_failures :one")
            .condition_expression("attribute_exists(notice_due)")
            .expression_attribute_values(":retry", n(retry_at))
            .expression_attribute_values(":one", n(1))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
            .send()
            .await;
        let out = match out {
            Ok(out) => out,
            // Sent meanwhile by another sender: nothing to give up.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                return Ok(false);
            }
            Err(e) => return Err(e.into()),
        };
        let failures = match out.attributes.as_ref().and_then(|a| a.get("notice_failures")) {
            Some(AttributeValue::N(v)) => v.parse::<u32>().unwrap_or(NOTICE_ATTEMPTS),
            _ => NOTICE_ATTEMPTS,
        };
        if failures < NOTICE_ATTEMPTS {
            return Ok(false);
        }
        self.client
            .update_item()
            .table_name(&self.tables.appeals)
            .set_key(Some(key2(appeal_pk(appeal_id), APPEAL)))
            .update_expression("REMOVE notice_due, notice_claim")
            .condition_expression("attribute_exists(pk)")
            .send()
            .await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_positions_are_what_the_store_writes() {
        let a = Appeal {
            appeal_id: "ap_abc234".into(),
            subject_id: "s_x".into(),
            by: "u_x".into(),
            status: AppealStatus::Open,
            reason: "r".into(),
            created_at: "2026-12-01T10:00:00.000Z".into(),
            resolved_at: None,
            note: None,
            officer: None,
            color: None,
        };
        assert!(is_queue_position(&order_key(&a)));
        for bad in ["", "#", "x", "2026#s_x", "2026#ap_x y", "a#ap_x#b", &"9".repeat(100)] {
            assert!(!is_queue_position(bad), "{bad}");
        }
    }
}

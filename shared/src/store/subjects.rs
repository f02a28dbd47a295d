//! Subjects' status facts and declarations.
//!
//! The profile item `S#<subject>`/`PROFILE` holds, next to the sealed
//! identity, everything the colour rules need (`facts`), so that showing or
//! scanning a code costs one read. A declaration writes the profile and the
//! declaration item `S#<subject>`/`D#<time>#<id>` in one transaction,
//! guarded by the profile's version, so that the daily limit holds under any
//! concurrency and a failed request leaves nothing behind.

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::accounts::Identity;
use super::keys::{PROFILE, subject_pk};
use super::paper::PaperRecord;
use super::{Store, StoreError, from_item, key2, n, s, sort_time, to_item, value, written};
use crate::domain::declaration::Symptom;
use crate::domain::status::{Color, Facts, Status};
use crate::domain::token::PaperCode;

/// A subject's profile: identity, rules facts, the day's declaration count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subject {
    #[serde(flatten)]
    pub identity: Identity,
    /// Bumped by every writer of the profile; declarations write only if it
    /// did not change since they read.
    #[serde(default)]
    pub ver: u64,
    #[serde(default)]
    pub facts: Facts,
    /// The Shanghai day of the last declaration and how many were made that day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decl_day: Option<String>,
    #[serde(default)]
    pub decl_count: u32,
    /// The Shanghai day and region of the first declaration: when and where the code was claimed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_day: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_region: Option<String>,
    /// The region of the latest declaration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The status computed at the last write, with its rules version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// The latest declaration: a retry of the request that filed it (the same
    /// `Idempotency-Key`, so the same id) finds it here instead of filing another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_declaration: Option<LastDeclaration>,
    /// The version of the latest paper code (0: none issued yet), and its
    /// details (see `store::paper`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub paper_v: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paper: Option<PaperRecord>,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastDeclaration {
    pub id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

impl Subject {
    /// Whether the subject has declared at least once (and so has a code).
    pub fn has_declared(&self) -> bool {
        self.first_day.is_some()
    }

    /// The latest paper code, if one was issued.
    pub fn paper_code(&self) -> Option<PaperCode> {
        self.paper.as_ref().filter(|_| self.paper_v > 0)?.code(self.paper_v)
    }

    /// How many declarations the subject made on `day`.
    pub fn declarations_on(&self, day: &str) -> u32 {
        if self.decl_day.as_deref() == Some(day) {
            self.decl_count
        } else {
            0
        }
    }
}

/// A stored declaration, as listed back to the person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeclarationRecord {
    pub id: String,
    pub subject_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub declared_at: OffsetDateTime,
    pub day: String,
    pub region: String,
    pub temperature: f64,
    pub symptoms: Vec<Symptom>,
    pub close_contact: bool,
    pub visited_regions: Vec<String>,
    pub from_abroad: bool,
    /// The account that declared: the subject's own or a guardian's.
    pub by: String,
    /// A guardian who declared: their masked name, as it was then; absent
    /// when the person declared for themselves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_name_masked: Option<String>,
    /// The colour the declaration led to, and the rules that said so.
    pub color: Color,
    pub rules_version: String,
}

#[derive(Serialize)]
struct DeclarationItem<'a> {
    pk: String,
    sk: String,
    #[serde(flatten)]
    record: &'a DeclarationRecord,
    /// TTL: declarations are kept for the retention period only.
    expires: i64,
}

/// The profile fields a declaration writes.
pub struct DeclarationWrite<'a> {
    pub subject_id: &'a str,
    /// The version read; the write fails if another writer came first.
    pub read_ver: u64,
    pub facts: &'a Facts,
    pub status: &'a Status,
    pub day: &'a str,
    pub count: u32,
    pub region: &'a str,
    pub record: &'a DeclarationRecord,
    pub expires: OffsetDateTime,
}

impl Store {
    /// The subject's profile. Showing or scanning a code reads it eventually
    /// consistently (half the cost); writers read it strongly consistently.
    pub async fn get_subject(&self, subject_id: &str, consistent: bool) -> Result<Option<Subject>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.subjects)
            .set_key(Some(key2(subject_pk(subject_id), PROFILE)))
            .consistent_read(consistent)
            .send()
            .await?;
        out.item.map(from_item).transpose()
    }

    /// Several subjects' profiles, by id; missing ones are left out.
    pub async fn get_subjects(&self, ids: &[String]) -> Result<std::collections::HashMap<String, Subject>, StoreError> {
        let keys = ids.iter().map(|id| key2(subject_pk(id), PROFILE)).collect();
        let items = self.batch_get(&self.tables.subjects, keys, false).await?;
        items
            .into_iter()
            .map(|item| from_item::<Subject>(item).map(|s| (s.identity.subject_id.clone(), s)))
            .collect()
    }

    /// Records the outcome of a health-status check on a subject; `false`
    /// when the subject does not exist.
    pub async fn set_override(
        &self,
        subject_id: &str,
        verdict: &crate::domain::status::Override,
    ) -> Result<bool, StoreError> {
        self.set_fact(subject_id, "override", value(verdict)).await
    }

    /// Sets one member of a subject's facts written by the authority (its
    /// risk record, a verification outcome), bumping the version so that a
    /// declaration in flight reads again; `false` when the subject does not exist.
    pub(crate) async fn set_fact(
        &self,
        subject_id: &str,
        member: &str,
        fact: AttributeValue,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.subjects)
            .set_key(Some(key2(subject_pk(subject_id), PROFILE)))
            .update_expression("SET facts.#member = :fact ADD ver :one")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#member", member)
            .expression_attribute_values(":fact", fact)
            .expression_attribute_values(":one", n(1))
            .send()
            .await;
        written(result)
    }

    /// Writes a declaration and the profile's new facts, count and status
    /// together; `false` when the profile changed since it was read.
    pub async fn record_declaration(&self, w: &DeclarationWrite<'_>) -> Result<bool, StoreError> {
        let update = Update::builder()
            .table_name(&self.tables.subjects)
            .set_key(Some(key2(subject_pk(w.subject_id), PROFILE)))
            .update_expression(
                "SET facts = :facts, #status = :status, decl_day = :day, decl_count = :count, #region = :region, \
                 first_day = if_not_exists(first_day, :day), first_region = if_not_exists(first_region, :region), \
                 last_declaration = :last, ver = :next",
            )
            .condition_expression("ver = :read")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#region", "region")
            .expression_attribute_values(":facts", value(w.facts))
            .expression_attribute_values(":status", value(w.status))
            .expression_attribute_values(":day", s(w.day))
            .expression_attribute_values(":count", n(w.count))
            .expression_attribute_values(":region", s(w.region))
            .expression_attribute_values(
                ":last",
                value(&LastDeclaration {
                    id: w.record.id.clone(),
                    at: w.record.declared_at,
                }),
            )
            .expression_attribute_values(":read", n(w.read_ver))
            .expression_attribute_values(":next", n(w.read_ver + 1))
            .build()
            .expect("complete update");
        let item = to_item(&DeclarationItem {
            pk: subject_pk(w.subject_id),
            sk: declaration_sk(w.record.declared_at, &w.record.id),
            record: w.record,
            expires: w.expires.unix_timestamp(),
        });
        let put = Put::builder()
            .table_name(&self.tables.subjects)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .expect("complete put");
        let items = vec![
            TransactWriteItem::builder().update(update).build(),
            TransactWriteItem::builder().put(put).build(),
        ];
        match self.transact(items).await {
            Ok(()) => Ok(true),
            Err(e) if e.failed_at(0) => Ok(false),
            Err(e) => Err(e.into_store()),
        }
    }

    /// The subject's declarations since `from`, newest first.
    pub async fn declarations_since(
        &self,
        subject_id: &str,
        from: OffsetDateTime,
    ) -> Result<Vec<DeclarationRecord>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.tables.subjects)
            .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":pk", s(subject_pk(subject_id)))
            .expression_attribute_values(":from", s(format!("D#{}", sort_time(from))))
            .expression_attribute_values(":to", s("D#~"))
            .scan_index_forward(false);
        self.query_all(query).await?.into_iter().map(from_item).collect()
    }
}

fn declaration_sk(at: OffsetDateTime, id: &str) -> String {
    format!("D#{}#{id}", sort_time(at))
}

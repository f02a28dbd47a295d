//! The audit of the authority's actions on personal data: one item per read
//! of identities or change of a person's status, `AUDIT#<day>`/`<time>#<id>`.
//! Written with a condition that it is new, and no route or policy updates
//! or deletes it: the admin function may only put.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{Store, StoreError, from_item, s, sort_time, to_item, written};
use crate::crypto::random_id;
use crate::domain::day::{iso_date, shanghai_day};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Who: an account id, or `hcctl:<operator>`.
    pub officer: String,
    /// What: `trace-venue`, `trace-subject`, `verification`, `risk-persons`, `risk-areas`, `export`.
    pub action: String,
    /// Of what: a venue or subject id, or a count of records.
    pub target: String,
    /// The time window or other parameters of the action.
    pub detail: String,
    /// How many persons' records were shown or changed.
    pub records: usize,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

#[derive(Serialize, Deserialize)]
struct AuditItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    entry: AuditEntry,
}

fn audit_pk(day: &str) -> String {
    format!("AUDIT#{day}")
}

impl Store {
    /// Records an action. Callers write it before they answer, so that no
    /// personal data leaves unaudited.
    pub async fn audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let item = to_item(&AuditItem {
            pk: audit_pk(&iso_date::format(shanghai_day(entry.at))),
            sk: format!("{}#{}", sort_time(entry.at), random_id("")),
            entry: entry.clone(),
        });
        let result = self
            .client
            .put_item()
            .table_name(&self.tables.audit)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        // The key is random, so an entry already there is this one: the SDK
        // retried a call whose answer was lost after the entry was written.
        written(result)?;
        Ok(())
    }

    /// The audit entries of one Shanghai day, oldest first.
    pub async fn audit_of_day(&self, day: &str) -> Result<Vec<AuditEntry>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.tables.audit)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(audit_pk(day)));
        let items = self.query_all(query).await?;
        items
            .into_iter()
            .map(|item| from_item::<AuditItem>(item).map(|i| i.entry))
            .collect()
    }
}

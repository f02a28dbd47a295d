//! Name/ID checks counted per account and Asia/Shanghai day, on the account
//! item (`chk_day`, `chk_ids`, `chk_fail`), so that every function instance
//! sees them.
//!
//! A check is reserved before it is made: its id joins the day's set
//! `chk_ids`, on the condition that the set holds fewer than the limit, so
//! that concurrent calls on any number of instances make no more checks than
//! that. A check that fails keeps its id and is marked in `chk_fail`: it
//! counts. One that succeeds is released by the write the call makes anyway
//! (the binding or linking transaction's update of the same account item,
//! [`releasing`]); any other outcome by an update of its own. Ids make every
//! step idempotent: the SDK's retry of a reservation adds the same id again,
//! and releasing or marking an id that is gone (a new day began meanwhile)
//! changes nothing.

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::types::builders::UpdateBuilder;

use super::keys::account_pk;
use super::{Store, StoreError, key, n, s, written};

fn id_set(id: &str) -> AttributeValue {
    AttributeValue::Ss(vec![id.to_owned()])
}

impl Store {
    /// Reserves check `id` for `day` within `max` a day; `false` when the
    /// condition failed (the set is full, or the day is not the one read
    /// as `seen_today`): read the account again. A reservation on a new day
    /// replaces the previous day's set.
    pub async fn reserve_check(
        &self,
        account_id: &str,
        day: &str,
        seen_today: bool,
        id: &str,
        max: usize,
    ) -> Result<bool, StoreError> {
        let request = self
            .client
            .update_item()
            .table_name(&self.tables.accounts)
            .set_key(Some(key(account_pk(account_id))))
            .expression_attribute_values(":today", s(day))
            .expression_attribute_values(":id", id_set(id));
        let request = if seen_today {
            request
                .update_expression("ADD chk_ids :id")
                .condition_expression("chk_day = :today AND (attribute_not_exists(chk_ids) OR size(chk_ids) < :max)")
                .expression_attribute_values(":max", n(max))
        } else {
            request
                .update_expression("SET chk_day = :today, chk_ids = :id REMOVE chk_fail")
                .condition_expression("attribute_exists(pk) AND (attribute_not_exists(chk_day) OR chk_day <> :today)")
        };
        written(request.send().await)
    }

    /// Marks check `id` as failed, while it is one of the day's.
    pub async fn fail_check(&self, account_id: &str, id: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.accounts)
            .set_key(Some(key(account_pk(account_id))))
            .update_expression("ADD chk_fail :ids")
            .condition_expression("contains(chk_ids, :id)")
            .expression_attribute_values(":ids", id_set(id))
            .expression_attribute_values(":id", s(id))
            .send()
            .await;
        written(result).map(|_| ())
    }

    /// Releases check `id`: it did not fail.
    pub async fn release_check(&self, account_id: &str, id: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.accounts)
            .set_key(Some(key(account_pk(account_id))))
            .update_expression("DELETE chk_ids :id")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":id", id_set(id))
            .send()
            .await;
        written(result).map(|_| ())
    }
}

/// An update of the account item with expression `set`, which also
/// releases `check` when given: a successful call pays no write for it.
pub(crate) fn releasing(update: UpdateBuilder, set: &str, check: Option<&str>) -> UpdateBuilder {
    match check {
        Some(id) => update
            .update_expression(format!("{set} DELETE chk_ids :chk"))
            .expression_attribute_values(":chk", id_set(id)),
        None => update.update_expression(set),
    }
}

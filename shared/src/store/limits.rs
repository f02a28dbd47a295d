//! Counters of a caller's scans and check-ins per minute (`limits` table):
//! `L#<account>#<minute>`, `n`, expiring a few minutes after their minute;
//! and of a partner's calls per second, `L#partner:<name>#<second>`.
//! Instances add what they counted since they last wrote
//! (`shared::service::limits`), so a counter is written once per several
//! calls, not once per call.

use time::OffsetDateTime;

use super::{Store, StoreError, key, n};

fn counter_pk(caller: &str, window: i64) -> String {
    format!("L#{caller}#{window}")
}

impl Store {
    /// Adds `count` to the caller's counter of the window `window` (Unix
    /// seconds / `seconds`, its length) and returns the counter's new total.
    pub async fn add_to_limit_counter(
        &self,
        caller: &str,
        window: i64,
        seconds: i64,
        count: u32,
    ) -> Result<u32, StoreError> {
        // A few minutes after the window ends.
        let expires =
            OffsetDateTime::from_unix_timestamp((window + 1) * seconds + 300).map_or(0, |t| t.unix_timestamp());
        let out = self
            .client
            .update_item()
            .table_name(&self.tables.limits)
            .set_key(Some(key(counter_pk(caller, window))))
            .update_expression("ADD n :count SET expires = :expires")
            .expression_attribute_values(":count", n(count))
            .expression_attribute_values(":expires", n(expires))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
            .send()
            .await?;
        let total = out
            .attributes
            .and_then(|a| a.get("n").and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok()))
            .ok_or_else(|| StoreError::Corrupt("a limit counter without its count".into()))?;
        Ok(total)
    }
}

/// The counter of a venue's assisted check-ins on a Shanghai day.
fn assisted_pk(venue: &str, day: &str) -> String {
    format!("L#assisted:{venue}#{day}")
}

impl Store {
    /// Takes one of the `max` assisted check-ins of `venue` on `day`;
    /// `false` when all are taken. One conditional write, so that requests
    /// at once never take more than `max` between them. The counter expires
    /// `expires` (after its day).
    pub async fn take_assisted_slot(
        &self,
        venue: &str,
        day: &str,
        max: u32,
        expires: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.limits)
            .set_key(Some(key(assisted_pk(venue, day))))
            .update_expression("ADD n :one SET expires = :expires")
            .condition_expression("attribute_not_exists(n) OR n < :max")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(max))
            .expression_attribute_values(":expires", n(expires.unix_timestamp()))
            .send()
            .await;
        super::written(result)
    }
}

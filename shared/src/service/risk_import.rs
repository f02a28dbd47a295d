//! Importing the authority's risk-person list: from `POST /v1/admin/risk-persons`
//! and from `hcctl risk-persons import`. Rows are validated one by one; the
//! valid ones are stored for every ID number (registered or not) and applied
//! to the profiles of those who registered. Invalid rows are reported by
//! position and change nothing.

use std::collections::BTreeMap;

use futures::stream::{self, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use time::{Date, Duration, OffsetDateTime};

use crate::crypto::PiiKeys;
use crate::domain::day::{iso_date, shanghai_day};
use crate::domain::identity::IdNumber;
use crate::domain::status::{RiskRecord, RiskStatus};
use crate::store::{Store, StoreError};

/// Profiles updated at once.
const PARALLEL_UPDATES: usize = 16;

/// One record as the authority sends it.
#[derive(Debug, Clone, Deserialize)]
pub struct RiskRow {
    pub id_number: String,
    pub status: String,
    pub since: String,
}

/// Why a row was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RowError {
    InvalidIdNumber,
    InvalidStatus,
    InvalidSince,
}

/// A refused row: its position (index in the request, line in a file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowReport {
    #[serde(rename = "line")]
    pub position: usize,
    pub code: RowError,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ImportReport {
    /// Records applied to a registered subject.
    pub applied: usize,
    /// Valid records kept for persons who have not registered yet.
    pub unmatched: usize,
    pub errors: Vec<RowReport>,
}

/// Validates one row. `since` may not lie in the future (one day of slack
/// for clocks) nor before the first cases of December 2019.
pub fn validate(row: &RiskRow, now: OffsetDateTime) -> Result<(IdNumber, RiskRecord), RowError> {
    let today = shanghai_day(now);
    let id = IdNumber::parse(&row.id_number, today).map_err(|_| RowError::InvalidIdNumber)?;
    let status: RiskStatus = serde_json::from_value(serde_json::Value::String(row.status.trim().to_owned()))
        .map_err(|_| RowError::InvalidStatus)?;
    let since = iso_date::parse(row.since.trim())
        .filter(|d| {
            *d <= today + Duration::days(1)
                && *d >= Date::from_calendar_date(2019, time::Month::December, 1).expect("a date")
        })
        .ok_or(RowError::InvalidSince)?;
    Ok((
        id,
        RiskRecord {
            status,
            since,
            updated_at: now,
            recovered: false,
        },
    ))
}

/// Imports rows given with their positions. The last valid row wins for an
/// ID number that appears twice.
pub async fn import(
    store: &Store,
    pii: &PiiKeys,
    rows: impl IntoIterator<Item = (usize, RiskRow)>,
    now: OffsetDateTime,
) -> Result<ImportReport, StoreError> {
    let mut report = ImportReport::default();
    let mut valid: BTreeMap<String, RiskRecord> = BTreeMap::new();
    for (position, row) in rows {
        match validate(&row, now) {
            Ok((id, record)) => {
                valid.insert(pii.id_hash(id.as_str()), record);
            }
            Err(code) => report.errors.push(RowReport { position, code }),
        }
    }
    let records: Vec<(String, RiskRecord)> = valid.into_iter().collect();
    // Records first, then the match: a person registering meanwhile either
    // sees the record or is seen here (see Store::bind_new_subject).
    store.put_risk_records(&records).await?;
    let hashes: Vec<String> = records.iter().map(|(h, _)| h.clone()).collect();
    let persons = store.persons(&hashes).await?;
    let matched: Vec<(String, RiskRecord)> = records
        .iter()
        .filter_map(|(hash, record)| persons.get(hash).map(|p| (p.subject_id.clone(), record.clone())))
        .collect();
    let applied = stream::iter(matched)
        .map(|(subject, record)| async move { store.apply_risk(&subject, &record).await })
        .buffer_unordered(PARALLEL_UPDATES)
        .try_collect::<Vec<bool>>()
        .await?;
    report.applied = applied.iter().filter(|a| **a).count();
    report.unmatched = records.len() - report.applied;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-26 10:00 +8);

    fn row(id: &str, status: &str, since: &str) -> RiskRow {
        RiskRow {
            id_number: id.into(),
            status: status.into(),
            since: since.into(),
        }
    }

    #[test]
    fn rows_are_validated_field_by_field() {
        assert!(validate(&row("11010519491231002X", "confirmed", "2026-11-20"), NOW).is_ok());
        assert!(validate(&row("11010519491231002x", " close-contact ", "2026-11-27"), NOW).is_ok());
        assert_eq!(
            validate(&row("110105194912310021", "confirmed", "2026-11-20"), NOW).unwrap_err(),
            RowError::InvalidIdNumber
        );
        assert_eq!(
            validate(&row("11010519491231002X", "recovered", "2026-11-20"), NOW).unwrap_err(),
            RowError::InvalidStatus
        );
        assert_eq!(
            validate(&row("11010519491231002X", "confirmed", "2026-11-28"), NOW).unwrap_err(),
            RowError::InvalidSince
        );
        assert_eq!(
            validate(&row("11010519491231002X", "confirmed", "20261120"), NOW).unwrap_err(),
            RowError::InvalidSince
        );
        assert_eq!(
            validate(&row("11010519491231002X", "confirmed", "2019-11-30"), NOW).unwrap_err(),
            RowError::InvalidSince
        );
    }
}

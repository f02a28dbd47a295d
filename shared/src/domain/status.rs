//! The vocabulary of a person's health status that the rest of the house shares: colours, risk
//! levels and statuses, the facts stored for a subject, risk areas, overrides and the evaluated
//! status. The rule engine that turns facts into a status is `rules.rs`.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use super::day::iso_date;
use super::declaration::Symptom;

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Color {
    Green,
    Yellow,
    Red,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum RiskLevel {
    Low,
    Medium,
    High,
}

/// A person's standing on the health authority's risk-person list.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum RiskStatus {
    Confirmed,
    Suspected,
    Asymptomatic,
    CloseContact,
    /// Released from isolation; red until the release is worked off by normal days.
    Cleared,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The latest declaration of one Shanghai day: a later one the same day corrects (replaces) it.
/// Field names are short because a subject's facts live in one DynamoDB item.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct DayRecord {
    #[serde(with = "iso_date")]
    pub day: Date,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    #[serde(rename = "temp")]
    pub temperature: f64,
    #[serde(rename = "sym", default, skip_serializing_if = "Vec::is_empty")]
    pub symptoms: Vec<Symptom>,
    #[serde(rename = "contact", default, skip_serializing_if = "is_false")]
    pub close_contact: bool,
    #[serde(rename = "abroad", default, skip_serializing_if = "is_false")]
    pub from_abroad: bool,
    pub region: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub visited: Vec<String>,
}

/// A day rule that fired on a day which has since left the stored history; it still counts
/// until normal days resolve it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Trigger {
    pub rule: String,
    /// The rule's colour when it was carried, for the record; evaluation uses the current rule's.
    pub color: Color,
    #[serde(with = "iso_date")]
    pub day: Date,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// The subject's entry on the authority's risk-person list.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct RiskRecord {
    pub status: RiskStatus,
    #[serde(with = "iso_date")]
    pub since: Date,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Set once a `cleared` record has been worked off, so that it no longer counts.
    #[serde(default, skip_serializing_if = "is_false")]
    pub recovered: bool,
}

/// The outcome of a health-status check (核验) by the authority.
#[derive(Serialize, Deserialize, Clone, PartialEq)]
pub struct Override {
    pub color: Color,
    pub reason: String,
    #[serde(with = "time::serde::rfc3339")]
    pub valid_until: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub set_at: OffsetDateTime,
    /// The officer's user id.
    pub officer: String,
    /// The rules version in force when it was set, for the audit trail.
    pub rules_version: String,
}

// The reason is free text from an officer and may name people, so Debug leaves it out.
impl fmt::Debug for Override {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Override")
            .field("color", &self.color)
            .field("valid_until", &self.valid_until)
            .field("set_at", &self.set_at)
            .field("rules_version", &self.rules_version)
            .finish_non_exhaustive()
    }
}

/// Everything the rules know about one subject; persisted as one item.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct Facts {
    /// Ascending by day, one record per day, at most the rule set's `history_days`. Stored in
    /// the compact form of `history.rs`.
    #[serde(with = "super::history", default, skip_serializing_if = "Vec::is_empty")]
    pub days: Vec<DayRecord>,
    /// At most one per rule: the latest.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub carried: Vec<Trigger>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<RiskRecord>,
    #[serde(rename = "override", default, skip_serializing_if = "Option::is_none")]
    pub override_: Option<Override>,
}

/// The authority's current risk-area list. An area may be a province, city or county; a region
/// lies in it when it is the area or under it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct RiskAreas {
    pub areas: BTreeMap<String, RiskLevel>,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// The result of evaluating the rules for one subject at one instant.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Status {
    pub color: Color,
    /// Hints of the rules that fired, in rule-file order, without duplicates; or the override
    /// hint.
    pub hints: Vec<String>,
    /// Ids of the rules that fired, kept even while an override holds, for the audit trail.
    pub rules: Vec<String>,
    pub rules_version: String,
    pub overridden: bool,
}

impl Status {
    /// 未见异常 is what the Hebei notice shows when there is nothing against a person.
    pub const NO_ANOMALY: &str = "未见异常";
    /// Headline over red hint text: the notice says such a person's health status must be
    /// checked (要进行健康状态核验).
    pub const CHECK_REQUIRED: &str = "请进行健康状态核验";

    pub fn status_text(&self) -> &'static str {
        if self.hints.is_empty() {
            Self::NO_ANOMALY
        } else {
            Self::CHECK_REQUIRED
        }
    }
}

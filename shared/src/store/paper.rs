//! Paper codes (纸质码): the version of a subject's latest paper code, on
//! its profile.
//!
//! The profile is what every scan reads anyway, so checking a paper code's
//! version costs a scan nothing; issuing one is one update of the profile.
//! The version is an atomic counter (`ADD paper_v`): concurrent issues each
//! get a version of their own, the store applies them one after the other,
//! and only the highest, the last applied, is current. The same update
//! writes when the latest was issued, its expiry and colour, so that the
//! card (`GET /v1/code/paper`) signs the same token again without keeping it.

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::keys::{PROFILE, subject_pk};
use super::{Store, StoreError, from_item, key2, n, s, value};
use crate::domain::status::Color;
use crate::domain::token::PaperCode;

/// The latest paper code's details; its version is the profile's `paper_v`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaperRecord {
    pub iat: i64,
    pub exp: i64,
    pub col: Color,
    /// The request that issued it, when it carried an `Idempotency-Key`
    /// (a keyed id of the caller and the key): its retry finds it here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub req: Option<String>,
}

impl PaperRecord {
    pub fn code(&self, version: u64) -> Option<PaperCode> {
        Some(PaperCode {
            version,
            color: self.col,
            issued_at: OffsetDateTime::from_unix_timestamp(self.iat).ok()?,
            expires_at: OffsetDateTime::from_unix_timestamp(self.exp).ok()?,
        })
    }
}

/// What issuing did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaperIssue {
    /// A new version, which revokes the earlier ones.
    Issued(PaperCode),
    /// The subject's latest paper code was issued by this same request (its
    /// `Idempotency-Key`): nothing was written; here is the latest, read again.
    Repeated(PaperCode),
    /// The subject does not exist.
    Missing,
}

impl Store {
    /// Records a new paper code for the subject, valid from `now` until
    /// `expires_at`; with `request` (a retry's identity), only if the latest
    /// was not issued by the same request.
    pub async fn issue_paper(
        &self,
        subject_id: &str,
        color: Color,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
        request: Option<&str>,
    ) -> Result<PaperIssue, StoreError> {
        let record = PaperRecord {
            iat: now.unix_timestamp(),
            exp: expires_at.unix_timestamp(),
            col: color,
            req: request.map(str::to_owned),
        };
        let mut update = self
            .client
            .update_item()
            .table_name(&self.tables.subjects)
            .set_key(Some(key2(subject_pk(subject_id), PROFILE)))
            .update_expression("SET paper = :paper ADD paper_v :one")
            .expression_attribute_values(":paper", value(&record))
            .expression_attribute_values(":one", n(1))
            // The profile as this update left it (returned values cost no units): its
            // `paper_v` and `paper` are this issue's, whatever other issues came before.
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew);
        update = match request {
            None => update.condition_expression("attribute_exists(pk)"),
            Some(request) => update
                .condition_expression("attribute_exists(pk) AND (attribute_not_exists(paper.req) OR paper.req <> :req)")
                .expression_attribute_values(":req", s(request)),
        };
        let out = match update.send().await {
            Ok(out) => out,
            Err(err) if err.code() == Some("ConditionalCheckFailedException") => {
                let latest = self.get_subject(subject_id, true).await?.and_then(|s| s.paper_code());
                return Ok(latest.map_or(PaperIssue::Missing, PaperIssue::Repeated));
            }
            Err(err) => return Err(err.into()),
        };
        #[derive(Deserialize)]
        struct New {
            paper_v: u64,
            paper: PaperRecord,
        }
        let new: New = from_item(out.attributes.unwrap_or_default())?;
        new.paper
            .code(new.paper_v)
            .map(PaperIssue::Issued)
            .ok_or_else(|| StoreError::Corrupt("a paper code with an impossible time".into()))
    }
}

//! The personal health code as a person shows it: colour, hints, masked
//! name, and the signed QR code. Shared by the code function and check-in,
//! which shows the visitor's code to the staff at the door.

use serde::Serialize;
use time::OffsetDateTime;

use crate::domain::day::rfc3339;
use crate::domain::qr;
use crate::domain::rules::RuleSet;
use crate::domain::status::{Color, RiskAreas, Status};
use crate::domain::token::CodeKeys;
use crate::http::Problem;
use crate::store::subjects::Subject;

#[derive(Debug, Serialize)]
pub struct CodeView {
    pub subject_id: String,
    pub color: Color,
    pub status_text: &'static str,
    pub hints: Vec<String>,
    pub name_masked: String,
    pub qr: String,
    pub qr_svg: String,
    pub expires_at: String,
    pub refresh_after: String,
}

/// The subject's live status: the stored facts under today's rules, risk
/// areas and clock.
pub fn live_status(rules: &RuleSet, subject: &Subject, areas: &RiskAreas, now: OffsetDateTime) -> Status {
    rules.evaluate(&subject.facts, areas, now)
}

/// 409 `declaration-required`: a subject who never declared has no code.
pub fn declaration_required() -> Problem {
    Problem::conflict("declaration-required", "Declaration required")
        .detail("file a health declaration (POST /v1/declarations) before the first code")
}

/// Issues the subject's code for `status`. A subject who never declared has
/// no code yet: 409 `declaration-required`.
pub fn show(keys: &CodeKeys, subject: &Subject, status: &Status, now: OffsetDateTime) -> Result<CodeView, Problem> {
    if !subject.has_declared() {
        return Err(declaration_required());
    }
    let code = keys.issue(&subject.identity.subject_id, status.color, now);
    let qr_svg = qr::svg(&code.content).map_err(|err| {
        tracing::error!(error = %err, "rendering a QR code failed");
        Problem::internal()
    })?;
    Ok(CodeView {
        subject_id: subject.identity.subject_id.clone(),
        color: status.color,
        status_text: status.status_text(),
        hints: status.hints.clone(),
        name_masked: subject.identity.name_masked.clone(),
        qr: code.content,
        qr_svg,
        expires_at: rfc3339(code.expires_at),
        refresh_after: rfc3339(code.refresh_after),
    })
}

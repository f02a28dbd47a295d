//! Paper codes (纸质码): a printed code for a person without a smartphone
//! (the notice's 开具证明材料), issued by the person or a guardian.
//!
//! A paper code is our signed code with a 30-day lifetime and a version
//! (`domain::token`). Issuing one raises the subject's version on its
//! profile (`store::paper`), which revokes every earlier paper code of the
//! subject at the next scan. The card (`GET /v1/code/paper`) prints the
//! latest paper code: the profile keeps its version, issue time, expiry and
//! colour, and the token is signed again from them, the same bytes as the
//! issue answered, so the card needs nothing from the request that issued it.

use serde::Serialize;
use time::OffsetDateTime;

use crate::crypto::keyed_id;
use crate::domain::day::{iso_date, rfc3339, to_shanghai};
use crate::domain::qr;
use crate::domain::status::Status;
use crate::domain::token::{CodeKeys, PAPER_LIFETIME, PaperCode};
use crate::http::Problem;
use crate::service::health_code;
use crate::store::Store;
use crate::store::paper::PaperIssue;
use crate::store::subjects::Subject;

/// The answer to `POST /v1/code/paper`.
#[derive(Debug, Serialize)]
pub struct IssuedPaper {
    pub qr: String,
    pub qr_svg: String,
    pub expires_at: String,
}

/// What the printed card shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    pub name_masked: String,
    pub qr: String,
    pub expires_at: OffsetDateTime,
    /// The expiry in Shanghai time, as printed: `2026-12-26 10:00`.
    pub expires_shown: String,
}

/// Issues a new paper code for `subject`, showing `status` to a verifier
/// offline, and so revokes the earlier ones. With an `Idempotency-Key`, a
/// retry by the same account answers the code the first attempt issued,
/// unless another was issued since.
pub async fn issue(
    store: &Store,
    keys: &CodeKeys,
    subject: &Subject,
    status: &Status,
    account: &str,
    idempotency_key: Option<&str>,
    now: OffsetDateTime,
) -> Result<IssuedPaper, Problem> {
    if !subject.has_declared() {
        return Err(health_code::declaration_required());
    }
    let subject_id = &subject.identity.subject_id;
    let request = idempotency_key.map(|key| keyed_id("p_", "paper", account, key));
    let now = now.replace_nanosecond(0).expect("zero nanoseconds are valid");
    let paper = match store
        .issue_paper(subject_id, status.color, now, now + PAPER_LIFETIME, request.as_deref())
        .await?
    {
        PaperIssue::Issued(paper) => {
            tracing::info!(version = paper.version, "paper code issued");
            paper
        }
        PaperIssue::Repeated(paper) => paper,
        // Read a moment ago, gone now: as for any subject the caller may not act for.
        PaperIssue::Missing => return Err(Problem::forbidden()),
    };
    let qr = keys.sign_paper(subject_id, &paper);
    Ok(IssuedPaper {
        qr_svg: qr_svg(&qr)?,
        qr,
        expires_at: rfc3339(paper.expires_at),
    })
}

/// The card of the subject's latest paper code; 404 `not-found` when none
/// was issued or the latest has expired (a new one must be issued).
pub fn card(keys: &CodeKeys, subject: &Subject, now: OffsetDateTime) -> Result<Card, Problem> {
    let paper: PaperCode = subject
        .paper_code()
        .filter(|p| p.expires_at > now)
        .ok_or_else(|| Problem::not_found().detail("no current paper code: issue one with POST /v1/code/paper"))?;
    Ok(Card {
        name_masked: subject.identity.name_masked.clone(),
        qr: keys.sign_paper(&subject.identity.subject_id, &paper),
        expires_at: paper.expires_at,
        expires_shown: shown(paper.expires_at),
    })
}

fn shown(t: OffsetDateTime) -> String {
    let t = to_shanghai(t);
    format!("{} {:02}:{:02}", iso_date::format(t.date()), t.hour(), t.minute())
}

fn qr_svg(content: &str) -> Result<String, Problem> {
    qr::svg(content).map_err(|err| {
        tracing::error!(error = %err, "rendering a QR code failed");
        Problem::internal()
    })
}

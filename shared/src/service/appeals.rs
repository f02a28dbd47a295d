//! Deciding appeals (申诉): the authority's queue with the people's identities and colours now,
//! and the decision, whose upheld colour is a verification (核验). The admin routes shape these
//! as JSON; the rules of a decision live here.

use serde::Deserialize;
use time::{Duration, OffsetDateTime};

use crate::crypto::PiiKeys;
use crate::domain::rules::RuleSet;
use crate::domain::status::{Color, Override};
use crate::http::Problem;
use crate::service::trace::{self, Person};
use crate::store::Store;
use crate::store::appeals::{Appeal, AppealStatus, Decided};
use crate::store::audit::AuditEntry;

/// How long a verification holds unless the officer says otherwise, and at most.
pub const DEFAULT_VERIFICATION: Duration = Duration::hours(24);
pub const MAX_VERIFICATION: Duration = Duration::days(30);

/// The officer reading or deciding, and when.
pub struct Officer<'a> {
    pub id: &'a str,
    pub now: OffsetDateTime,
}

impl Officer<'_> {
    async fn audit(
        &self,
        store: &Store,
        action: &str,
        target: &str,
        detail: String,
        records: usize,
    ) -> Result<(), Problem> {
        let entry = AuditEntry {
            officer: self.id.to_owned(),
            action: action.to_owned(),
            target: target.to_owned(),
            detail,
            records,
            at: self.now,
        };
        store.audit(&entry).await.map_err(Problem::from)
    }
}

/// One open appeal as the officer sees it.
pub struct QueueRow {
    pub appeal: Appeal,
    pub person: Person,
    pub color: Color,
}

/// A page of the open appeals, oldest first, audited before anything personal is read.
pub async fn queue(
    store: &Store,
    pii: &PiiKeys,
    rules: &RuleSet,
    officer: &Officer<'_>,
    after: Option<&str>,
    limit: usize,
) -> Result<(Vec<QueueRow>, Option<String>), Problem> {
    let page = store.open_appeals(after, limit).await?;
    let n = page.appeals.len();
    officer
        .audit(store, "appeals", "open", format!("{n} appeals"), n)
        .await?;
    let ids: Vec<String> = page.appeals.iter().map(|a| a.subject_id.clone()).collect();
    let subjects = store.get_subjects(&ids).await?;
    let areas = store.risk_areas().await?;
    let mut rows = Vec::with_capacity(n);
    for appeal in page.appeals {
        let Some(subject) = subjects.get(&appeal.subject_id) else {
            continue;
        };
        let person = trace::reveal(pii, subject).map_err(|err| {
            tracing::error!(error = %err, "opening a sealed identity failed");
            Problem::internal()
        })?;
        let color = rules.evaluate(&subject.facts, &areas, officer.now).color;
        rows.push(QueueRow { appeal, person, color });
    }
    Ok((rows, page.next))
}

/// The body of a decision.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    pub outcome: AppealStatus,
    pub note: String,
    #[serde(default)]
    pub color: Option<Color>,
    #[serde(default)]
    pub valid_until: Option<String>,
}

/// Decides an open appeal: checks the decision, audits it, then records it with its
/// verification in one transaction. Returns the appeal as it was, the note and the verification.
pub async fn decide(
    store: &Store,
    rules: &RuleSet,
    officer: &Officer<'_>,
    appeal_id: &str,
    body: Decision,
) -> Result<(Appeal, String, Option<Override>), Problem> {
    let now = officer.now;
    if body.outcome == AppealStatus::Open {
        return Err(Problem::bad_request("`outcome` is `upheld` or `rejected`"));
    }
    let note = crate::domain::text::plain_text(&body.note, 1, 200)
        .ok_or_else(|| Problem::bad_request("`note` is 1 to 200 letters, digits, spaces and common punctuation"))?;
    if body.outcome == AppealStatus::Rejected && (body.color.is_some() || body.valid_until.is_some()) {
        return Err(Problem::bad_request(
            "`color` and `valid_until` go with an upheld appeal only",
        ));
    }
    if body.color.is_none() && body.valid_until.is_some() {
        return Err(Problem::bad_request("`valid_until` needs a `color`"));
    }
    let valid_until = match &body.valid_until {
        None => now + DEFAULT_VERIFICATION,
        Some(text) => crate::store::parse_time(text)
            .filter(|t| *t > now && *t <= now + MAX_VERIFICATION)
            .ok_or_else(|| Problem::bad_request("`valid_until` is an RFC 3339 time in the next 30 days"))?,
    };
    let not_found = || Problem::not_found().detail("no such appeal");
    if !crate::crypto::is_random_id(appeal_id, "ap_") {
        return Err(not_found());
    }
    let appeal = store.get_appeal(appeal_id).await?.ok_or_else(not_found)?;
    let verification = body.color.map(|color| Override {
        color,
        reason: note.clone(),
        valid_until,
        set_at: now,
        officer: officer.id.to_owned(),
        rules_version: rules.version().to_owned(),
    });
    let detail = format!("{appeal_id} {}", body.outcome);
    officer
        .audit(store, "appeal-decision", &appeal.subject_id, detail, 1)
        .await?;
    match store
        .decide_appeal(&appeal, body.outcome, &note, officer.id, now, verification.as_ref())
        .await?
    {
        Decided::Done => Ok((appeal, note, verification)),
        Decided::NotFound => Err(not_found()),
        Decided::NotOpen => {
            Err(Problem::conflict("appeal-decided", "Appeal already decided").detail("this appeal is no longer open"))
        }
    }
}

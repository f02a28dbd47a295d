//! Notices (提醒): what a subject's owner and guardians are told, listed by `GET /v1/notices`
//! and each also sent once as a WeChat subscribe message. Two kinds: an exposure found the
//! subject (from the exposure facts on its profile; sent by the exposure worker), and the
//! authority decided the subject's appeal (from its appeals; sent by [`AppealNotices`], which
//! the appeals table's stream starts). A text names a day and a district, never another person.

use std::time::Duration as StdDuration;

use futures::future::BoxFuture;
use serde_json::{Value, json};
use time::{Date, Duration, OffsetDateTime};

use crate::clock::Clock;
use crate::crypto::PiiKeys;
use crate::domain::day::{rfc3339, shanghai_day};
use crate::domain::divisions;
use crate::domain::status::{Color, Facts};
use crate::store::appeals::{Appeal, AppealStatus, NoticeClaim};
use crate::store::subjects::Subject;
use crate::store::{Store, StoreError, parse_time, sort_time};

/// One notice to send: to whom (WeChat openids) and what, without a name.
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    pub openids: Vec<String>,
    pub notice: Notice,
}

/// What a message says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// Found at a venue on `day` in `district` with a case: the code turns `level`.
    Exposure {
        day: Date,
        district: Option<String>,
        level: Color,
    },
    /// The appeal was decided on `day`; an upheld one may have set a colour.
    Appeal {
        day: Date,
        upheld: bool,
        color: Option<Color>,
    },
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("recipients", &self.openids.len())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the notice was not sent ({0})")]
pub struct SendError(pub String);

/// Sends a notice: WeChat's subscribe messages, or a log line locally.
pub trait Notifier: Send + Sync {
    fn send<'a>(&'a self, message: &'a Message) -> BoxFuture<'a, Result<(), SendError>>;
}

/// The name of a district for a notice: `长安区`.
pub fn district_name(code: Option<&str>) -> Option<&'static str> {
    code.and_then(divisions::lookup).map(|d| d.name)
}

fn month_day(day: Date) -> String {
    format!("{}月{}日", u8::from(day.month()), day.day())
}

fn color_name(color: Color) -> &'static str {
    match color {
        Color::Green => "绿码",
        Color::Yellow => "黄码",
        Color::Red => "红码",
    }
}

/// The WeChat openids of `accounts`, opened from their sealed form in `sealed` (as
/// `Store::openids` reads them); an account without one, or whose seal does not open, is left out.
pub fn opened<'a>(
    pii: &PiiKeys,
    sealed: &std::collections::HashMap<String, String>,
    accounts: impl IntoIterator<Item = &'a String>,
) -> Vec<String> {
    accounts
        .into_iter()
        .filter_map(|account| pii.open(sealed.get(account)?, &format!("{account}/openid")).ok())
        .collect()
}

/// `{"notices": [...]}`: a subject's notices, newest first: one per exposure it was found in,
/// one per decided appeal. Reads the subject's appeals (one query of the `by-subject` index).
pub async fn list(store: &Store, subject: &Subject) -> Result<Value, StoreError> {
    let appeals = store.subject_appeals(&subject.identity.subject_id).await?;
    let mut notices: Vec<(OffsetDateTime, Value)> = exposure_notices(&subject.facts);
    notices.extend(appeals.iter().filter_map(appeal_notice));
    notices.sort_by_key(|n| std::cmp::Reverse(n.0));
    Ok(json!({ "notices": notices.into_iter().map(|(_, n)| n).collect::<Vec<_>>() }))
}

fn exposure_notices(facts: &Facts) -> Vec<(OffsetDateTime, Value)> {
    facts
        .exposures
        .iter()
        .map(|e| {
            let day = month_day(e.day);
            let place = district_name(e.district.as_deref()).unwrap_or("河北省");
            let text = if e.withdrawn {
                format!("{day}在{place}的时空伴随提醒已由卫生健康部门撤销，健康码不再因此变色。")
            } else {
                format!(
                    "您于{day}在{place}的场所与风险人员时空伴随，健康码转为{}。请减少外出，配合社区做好健康监测和核酸检测。",
                    if e.level == Color::Red { "红码" } else { "黄码" }
                )
            };
            let notice = json!({
                "id": format!("n_{}", e.id.trim_start_matches("x_")),
                "kind": "exposure",
                "created_at": rfc3339(e.recorded_at),
                "text": text,
            });
            (e.recorded_at, notice)
        })
        .collect()
}

/// A decided appeal's notice; none while it is open.
fn appeal_notice(appeal: &Appeal) -> Option<(OffsetDateTime, Value)> {
    let resolved = parse_time(appeal.resolved_at.as_deref()?)?;
    let filed = parse_time(&appeal.created_at).map(|t| month_day(shanghai_day(t)))?;
    let text = appeal_text(&filed, appeal.status, appeal.color, appeal.note.as_deref())?;
    let notice = json!({
        "id": format!("n_{}", appeal.appeal_id),
        "kind": "appeal",
        "created_at": rfc3339(resolved),
        "text": text,
    });
    Some((resolved, notice))
}

fn appeal_text(filed: &str, status: AppealStatus, color: Option<Color>, note: Option<&str>) -> Option<String> {
    let outcome = match (status, color) {
        (AppealStatus::Open, _) => return None,
        (AppealStatus::Upheld, Some(color)) => format!("申诉成立，健康码已核验为{}。", color_name(color)),
        (AppealStatus::Upheld, None) => "申诉成立。".to_owned(),
        (AppealStatus::Rejected, _) => "申诉未成立，健康码不变。".to_owned(),
    };
    let note = note.map(|n| format!("处理意见：{n}")).unwrap_or_default();
    Some(format!("您于{filed}提出的健康码申诉已处理：{outcome}{note}"))
}

/// Sends the notices of decided appeals, each once: a notice is claimed (a conditional write on
/// the appeal) before it is sent and marked sent after, so only a sender that dies between
/// WeChat's answer and that mark sends it twice, after the claim expires. A failed send waits
/// and is tried again by a later run, [`crate::store::appeals::NOTICE_ATTEMPTS`] times in all.
pub struct AppealNotices<'a> {
    pub store: &'a Store,
    pub pii: &'a PiiKeys,
    pub notifier: &'a dyn Notifier,
    pub clock: Clock,
    /// The wait between two sends within a run, doubled each time.
    pub backoff: StdDuration,
}

/// Sends within one run, with backoff between them.
const SEND_ATTEMPTS: u32 = 3;
/// How long a claim holds, and how long a failed notice waits before the next run tries it.
const CLAIM: Duration = Duration::minutes(5);
/// Due notices one run takes at most.
const PER_RUN: usize = 100;

/// What a run did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Sent {
    pub sent: usize,
    pub failed: usize,
}

impl AppealNotices<'_> {
    /// Sends every due notice this run can claim.
    pub async fn send_due(&self) -> Result<Sent, StoreError> {
        let mut done = Sent::default();
        for id in self.store.due_appeal_notices(PER_RUN).await? {
            match self.send_one(&id).await? {
                Some(true) => done.sent += 1,
                Some(false) => done.failed += 1,
                None => {}
            }
        }
        Ok(done)
    }

    /// `None` when not claimed (sent or being sent elsewhere, or waiting out a failure).
    async fn send_one(&self, id: &str) -> Result<Option<bool>, StoreError> {
        let now = self.clock.now();
        let claimed = self
            .store
            .claim_appeal_notice(id, now.unix_timestamp(), (now + CLAIM).unix_timestamp())
            .await?;
        if claimed == NoticeClaim::NotNow {
            return Ok(None);
        }
        let Some(appeal) = self.store.get_appeal(id).await? else {
            return Ok(None);
        };
        let recipients = self.recipients(&appeal.subject_id).await?;
        let day = appeal
            .resolved_at
            .as_deref()
            .and_then(parse_time)
            .map(shanghai_day)
            .unwrap_or_else(|| shanghai_day(now));
        // No one to tell (a person no account of ours holds): nothing to send.
        if !recipients.is_empty() {
            let message = Message {
                openids: recipients,
                notice: Notice::Appeal {
                    day,
                    upheld: appeal.status == AppealStatus::Upheld,
                    color: appeal.color,
                },
            };
            if !self.send_with_retries(&message).await {
                let given_up = self
                    .store
                    .appeal_notice_failed(id, (self.clock.now() + CLAIM).unix_timestamp())
                    .await?;
                if given_up {
                    tracing::warn!("an appeal's notice was given up after repeated failures");
                }
                return Ok(Some(false));
            }
        }
        self.store.appeal_notice_sent(id, &sort_time(self.clock.now())).await?;
        Ok(Some(true))
    }

    async fn recipients(&self, subject_id: &str) -> Result<Vec<String>, StoreError> {
        let Some(profile) = self.store.get_subject(subject_id, false).await? else {
            return Ok(Vec::new());
        };
        let accounts: Vec<String> = profile
            .identity
            .owner
            .iter()
            .chain(profile.identity.guardians.keys())
            .cloned()
            .collect();
        let openids = self.store.openids(&accounts).await?;
        Ok(opened(self.pii, &openids, &accounts))
    }

    async fn send_with_retries(&self, message: &Message) -> bool {
        let mut wait = self.backoff;
        for attempt in 1..=SEND_ATTEMPTS {
            match self.notifier.send(message).await {
                Ok(()) => return true,
                Err(err) if attempt < SEND_ATTEMPTS => {
                    tracing::warn!(error = %err, attempt, "appeal notice not sent, retrying");
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
                Err(err) => tracing::warn!(error = %err, "appeal notice not sent; tried again later"),
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_appeal_notice_says_the_outcome_and_only_once_decided() {
        assert_eq!(appeal_text("12月1日", AppealStatus::Open, None, None), None);
        let upheld = appeal_text("12月1日", AppealStatus::Upheld, Some(Color::Green), Some("体温计故障")).unwrap();
        assert_eq!(
            upheld,
            "您于12月1日提出的健康码申诉已处理：申诉成立，健康码已核验为绿码。处理意见：体温计故障"
        );
        let rejected = appeal_text("12月1日", AppealStatus::Rejected, None, Some("证据不足")).unwrap();
        assert!(rejected.contains("申诉未成立"), "{rejected}");
        assert!(
            appeal_text("12月1日", AppealStatus::Upheld, None, None)
                .unwrap()
                .ends_with("申诉成立。")
        );
    }
}

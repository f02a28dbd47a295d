//! At most [`MAX_FAILED_CHECKS`] failed name/ID checks per account and
//! Asia/Shanghai day: a refusal by the identity verifier on real-name
//! authentication or when adding a dependent. Each check is reserved in the
//! store before it is made (store/attempts.rs), so that the limit holds
//! across every function instance and under any concurrency; past it the
//! answer is 429 `too-many-attempts` with `Retry-After` (the seconds until
//! the next Shanghai midnight), and no check is made.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration as StdDuration, Instant};

use time::{Duration, OffsetDateTime};

use crate::crypto::{base32, random_u32};
use crate::domain::day::{iso_date, shanghai_day, start_of_day_utc};
use crate::http::Problem;
use crate::store::Store;
use crate::store::accounts::Account;

/// Failed name/ID checks an account may make a day.
pub const MAX_FAILED_CHECKS: usize = 5;

/// How long a call waits for checks in flight on other calls to end, when
/// they fill the day's allowance, before it counts them as failed.
const WAIT_FOR_OTHERS: StdDuration = StdDuration::from_secs(2);

/// A name/ID check reserved for one call. Unless it failed ([`fail`]), it
/// is released: by the transaction of a successful call ([`Check::settle`]
/// records that), else by [`finish`].
#[derive(Debug)]
pub struct Check {
    account: String,
    id: String,
    settled: AtomicBool,
}

impl Check {
    /// The id the store keeps for the check while it counts.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The call's own write released the check.
    pub fn settle(&self) {
        self.settled.store(true, Ordering::Relaxed);
    }
}

/// 429 `too-many-attempts`, until the next Shanghai midnight.
pub fn too_many_attempts(now: OffsetDateTime) -> Problem {
    let midnight = start_of_day_utc(shanghai_day(now) + Duration::days(1));
    let seconds = u32::try_from((midnight - now).whole_seconds()).unwrap_or(1);
    Problem::too_many("too-many-attempts", "Too many failed checks")
        .detail(format!(
            "at most {MAX_FAILED_CHECKS} failed name and ID number checks a day; try again tomorrow"
        ))
        .retry_after(seconds)
}

/// Reserves a check for `account`, as read at the start of the call. 429
/// when the day's checks have failed; when checks in flight on other calls
/// fill the allowance, it waits for them to end.
pub async fn reserve(store: &Store, account: &Account, now: OffsetDateTime) -> Result<Check, Problem> {
    let day = iso_date::format(shanghai_day(now));
    // 40 random bits: unique among one account's checks of a day, and short,
    // since the day's sets live on the account item.
    let id = base32(&[random_u32().to_le_bytes(), random_u32().to_le_bytes()].concat()[..5]);
    let check = Check {
        account: account.id.clone(),
        id,
        settled: AtomicBool::new(false),
    };
    let mut seen = (
        account.check_day.clone(),
        account.check_ids.clone(),
        account.check_failed.clone(),
    );
    let started = Instant::now();
    loop {
        let (seen_day, ids, failed) = &seen;
        let today = seen_day.as_deref() == Some(day.as_str());
        if today && ids.contains(&check.id) {
            return Ok(check); // the SDK's retry of a reservation that was applied
        }
        if today && ids.len() >= MAX_FAILED_CHECKS {
            let failures = ids.iter().filter(|id| failed.contains(id)).count();
            if failures >= MAX_FAILED_CHECKS || started.elapsed() > WAIT_FOR_OTHERS {
                return Err(too_many_attempts(now));
            }
            tokio::time::sleep(StdDuration::from_millis(20 + u64::from(random_u32() % 40))).await;
        } else if store
            .reserve_check(&account.id, &day, today, &check.id, MAX_FAILED_CHECKS)
            .await?
        {
            return Ok(check);
        } else if started.elapsed() > WAIT_FOR_OTHERS {
            return Err(Problem::unavailable());
        }
        let again = store
            .get_account(&account.id)
            .await?
            .ok_or_else(Problem::unauthenticated)?;
        seen = (again.check_day, again.check_ids, again.check_failed);
    }
}

/// The check failed: it counts for the rest of the day.
pub async fn fail(store: &Store, check: Check) {
    check.settle();
    if let Err(err) = store.fail_check(&check.account, &check.id).await {
        // Unmarked, it still counts: as a check in flight, then as failed.
        tracing::warn!(error = %err, "marking a failed name/ID check failed");
    }
}

/// Ends a call's check: releases it unless the call's own write did. A
/// release that cannot be written leaves the check counted for the rest of
/// the day: the safe side.
pub async fn finish(store: &Store, check: Check) {
    if check.settled.load(Ordering::Relaxed) {
        return;
    }
    if let Err(err) = store.release_check(&check.account, &check.id).await {
        tracing::warn!(error = %err, "releasing a name/ID check failed");
    }
}

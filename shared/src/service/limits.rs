//! A caller's scans and check-ins: at most 120 a minute, across every
//! instance of the function, for little more than the calls themselves.
//!
//! Each instance counts its callers' calls of the current minute in memory
//! and adds them to the caller's counter in the store (`store::limits`)
//! every [`FLUSH_EVERY`] calls, and on every call once the caller is within
//! [`FLUSH_EVERY`] of the limit. Refusal is decided on what the instance
//! knows: the store's total at its last write plus its own calls since. So:
//! - a caller making fewer than [`FLUSH_EVERY`] calls a minute on an
//!   instance (a guard scanning a person every few seconds makes about 20)
//!   costs no write at all; one making more, one write per [`FLUSH_EVERY`]
//!   calls until near the limit;
//! - on one instance the limit is exact; a caller spread over `k` instances
//!   at once may get up to `k × (FLUSH_EVERY − 1)` calls past the limit in a
//!   minute, since each instance learns the others' counts only when it
//!   writes its own (docs/data-model.md).
//!
//! The same limiter, with a window of one second, holds partner systems to
//! 50 calls a second ([`RateLimiter::per_second`]).

use std::collections::HashMap;
use std::sync::Mutex;

use time::OffsetDateTime;

use crate::store::{Store, StoreError};

/// Scans and check-ins a caller may make a minute.
pub const PER_MINUTE: u32 = 120;
/// Calls an instance counts before it writes the count.
pub const FLUSH_EVERY: u32 = 32;
/// Callers an instance remembers before it forgets those of past minutes.
const REMEMBERED: usize = 10_000;

/// Whether a call may go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Admitted,
    /// Over the limit: try again after this many seconds (the next minute).
    Refused {
        retry_after: u32,
    },
}

#[derive(Default)]
struct Local {
    /// The window: Unix seconds divided by the window's length.
    window: i64,
    /// The store's total at this instance's last write.
    known: u32,
    /// Calls counted here and not written yet.
    pending: u32,
}

pub struct RateLimiter {
    per_window: u32,
    /// The window's length in seconds.
    seconds: i64,
    flush_every: u32,
    callers: Mutex<HashMap<String, Local>>,
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::new(PER_MINUTE, FLUSH_EVERY)
    }
}

impl RateLimiter {
    /// At most `per_minute` calls a minute per caller.
    pub fn new(per_minute: u32, flush_every: u32) -> Self {
        Self::with_window(per_minute, 60, flush_every)
    }

    /// At most `per_second` calls a second per caller.
    pub fn per_second(per_second: u32, flush_every: u32) -> Self {
        Self::with_window(per_second, 1, flush_every)
    }

    fn with_window(per_window: u32, seconds: i64, flush_every: u32) -> Self {
        Self {
            per_window,
            seconds,
            flush_every: flush_every.max(1),
            callers: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a call of `account` at `now`, unless it is over the limit.
    pub async fn admit(&self, store: &Store, account: &str, now: OffsetDateTime) -> Result<Admission, StoreError> {
        let window = now.unix_timestamp().div_euclid(self.seconds);
        let refused = Admission::Refused {
            retry_after: (self.seconds - now.unix_timestamp().rem_euclid(self.seconds)) as u32,
        };
        let flush = {
            let mut callers = self.callers.lock().expect("limiter lock");
            if callers.len() >= REMEMBERED {
                callers.retain(|_, local| local.window == window);
            }
            let local = callers.entry(account.to_owned()).or_default();
            if local.window != window {
                *local = Local {
                    window,
                    ..Local::default()
                };
            }
            if local.known + local.pending >= self.per_window {
                return Ok(refused);
            }
            local.pending += 1;
            let near = local.known + local.pending + self.flush_every > self.per_window;
            (local.pending >= self.flush_every || near).then(|| std::mem::take(&mut local.pending))
        };
        let Some(count) = flush else {
            return Ok(Admission::Admitted);
        };
        let total = store.add_to_limit_counter(account, window, self.seconds, count).await?;
        let mut callers = self.callers.lock().expect("limiter lock");
        if let Some(local) = callers.get_mut(account).filter(|l| l.window == window) {
            local.known = local.known.max(total);
        }
        // Other instances' calls brought the total past the limit.
        Ok(if total > self.per_window {
            refused
        } else {
            Admission::Admitted
        })
    }
}

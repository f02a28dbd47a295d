//! The time source of the handlers. Production reads the system clock; tests
//! set and advance a fixed clock to cross Shanghai midnights and 14-day
//! windows without sleeping.

use std::sync::{Arc, Mutex};

use time::{Duration, OffsetDateTime};

#[derive(Clone, Default)]
pub struct Clock(Option<Arc<Mutex<OffsetDateTime>>>);

impl Clock {
    pub fn system() -> Self {
        Self(None)
    }

    pub fn fixed(at: OffsetDateTime) -> Self {
        Self(Some(Arc::new(Mutex::new(at))))
    }

    pub fn now(&self) -> OffsetDateTime {
        match &self.0 {
            None => OffsetDateTime::now_utc(),
            Some(t) => *t.lock().expect("clock lock"),
        }
    }

    /// Moves a fixed clock; the system clock cannot be moved.
    pub fn set(&self, at: OffsetDateTime) {
        if let Some(t) = &self.0 {
            *t.lock().expect("clock lock") = at;
        }
    }

    pub fn advance(&self, by: Duration) {
        if let Some(t) = &self.0 {
            *t.lock().expect("clock lock") += by;
        }
    }
}

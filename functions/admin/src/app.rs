//! The function's state, read once at cold start, and what every route module
//! shares: the routes (`handler.rs` and the modules beside it) import this, and
//! nothing here imports them.

use shared::crypto::PiiKeys;
use shared::domain::rules::RuleSet;
use shared::function::Base;
use shared::http::Problem;
use shared::service::trace::TraceError;
use shared::store::audit::AuditEntry;
use time::Duration;

pub struct App {
    pub base: Base,
    pub pii: PiiKeys,
    pub rules: &'static RuleSet,
    /// How long log entries are kept: older ones are not traced, deleted or not.
    pub retention: Duration,
}

pub(crate) async fn audit(
    app: &App,
    officer: &str,
    action: &str,
    target: &str,
    detail: String,
    records: usize,
) -> Result<(), Problem> {
    let entry = AuditEntry {
        officer: officer.to_owned(),
        action: action.to_owned(),
        target: target.to_owned(),
        detail,
        records,
        at: app.base.clock.now(),
    };
    app.base.store.audit(&entry).await.map_err(Problem::from)
}

/// A trace's error as the problem the authority sees.
pub(crate) fn trace_problem(err: TraceError) -> Problem {
    match err {
        TraceError::NoVenue | TraceError::NoSubject => Problem::not_found().detail(err.to_string()),
        TraceError::Window => Problem::bad_request(err.to_string()),
        TraceError::Sealed { error, .. } => {
            tracing::error!(%error, "opening a sealed identity failed");
            Problem::internal()
        }
        TraceError::Store(err) => err.into(),
    }
}

//! The function's state and the checks its routes share; the routes
//! (`handler.rs`, `dependents.rs`) import this, and nothing here imports them.

use lambda_http::Request;
use shared::auth::Session;
use shared::crypto::PiiKeys;
use shared::domain::identity::Phone;
use shared::function::Base;
use shared::http::Problem;
use shared::service::access;
use shared::service::attempts::{self, Check};
use shared::service::identity::RealName;
use shared::store::accounts::Account;

use crate::provider::LoginProvider;
use crate::verifier::{IdentityVerifier, Verdict};

pub struct App {
    pub base: Base,
    pub pii: PiiKeys,
    pub provider: Box<dyn LoginProvider>,
    pub verifier: Box<dyn IdentityVerifier>,
}

/// The caller's account; a token whose account is gone is no longer valid.
pub(crate) async fn caller(app: &App, req: &Request) -> Result<(Session, Account), Problem> {
    access::caller(&app.base.store, &app.base.sessions, req, app.base.clock.now()).await
}

/// Asks the identity verifier, within the account's daily limit of failed
/// checks (429 `too-many-attempts` past it, without asking). A match returns
/// the check, for the call to release; a mismatch keeps counting.
pub(crate) async fn check_identity(
    app: &App,
    account: &Account,
    real: &RealName,
    phone: Option<&Phone>,
) -> Result<Check, Problem> {
    let check = attempts::reserve(&app.base.store, account, app.base.clock.now()).await?;
    match app.verifier.verify(&real.name, &real.id, phone).await {
        Ok(Verdict::Match) => Ok(check),
        Ok(Verdict::Mismatch) => {
            attempts::fail(&app.base.store, check).await;
            Err(Problem::invalid(
                "identity-mismatch",
                "the name and ID number do not belong together",
            ))
        }
        Err(err) => {
            tracing::warn!(reason = %err.0, "identity verifier unavailable");
            attempts::finish(&app.base.store, check).await;
            Err(Problem::unavailable())
        }
    }
}

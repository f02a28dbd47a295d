//! Routes of the login function: parse, call the use cases, map outcomes
//! to responses. Dependents and guardians are in `dependents.rs`.

use lambda_http::Request;
use lambda_http::http::Method;
use serde::{Deserialize, Serialize};
use shared::auth::Session;
use shared::config::ConfigError;
use shared::crypto::PiiKeys;
use shared::domain::day::rfc3339;
use shared::domain::identity::Phone;
use shared::function::{Base, Function};
use shared::http::{self, HttpResult, Problem};
use shared::service::access;
use shared::service::attempts;
use shared::service::identity::{self, RealName};
use shared::store::accounts::Account;
use time::OffsetDateTime;

pub use crate::app::App;
use crate::app::{caller, check_identity};
use crate::dependents::{self, DependentView};
use crate::provider::{self, LoginError};
use crate::verifier;

impl Function for App {
    async fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            pii: PiiKeys::from_env()?,
            provider: provider::from_env()?,
            verifier: verifier::from_env()?,
            base: Base::from_env().await?,
        })
    }

    async fn route(&self, req: &Request, path: &[&str]) -> HttpResult {
        let app = self;
        match (path, req.method()) {
            (["v1", "login"], &Method::POST) => login(app, req).await,
            (["v1", "logout"], &Method::POST) => logout(app, req).await,
            (["v1", "identity"], &Method::POST) => identity(app, req).await,
            (["v1", "me"], &Method::GET) => me(app, req).await,
            (["v1", "dependents"], &Method::POST) => dependents::add(app, req).await,
            (["v1", "dependents"], &Method::GET) => dependents::list(app, req).await,
            (["v1", "dependents", id], &Method::DELETE) => dependents::remove(app, req, id).await,
            (["v1", "dependents", id, "invitations"], &Method::POST) => dependents::invite(app, req, id).await,
            (["v1", "guardians"], &Method::GET) => dependents::guardians(app, req).await,
            (["v1", "guardians", id], &Method::DELETE) => dependents::remove_guardian(app, req, id).await,
            (["v1", "login" | "logout" | "identity"] | ["v1", "dependents", _, "invitations"], _) => {
                Err(Problem::method_not_allowed("POST"))
            }
            (["v1", "me" | "guardians"], _) => Err(Problem::method_not_allowed("GET")),
            (["v1", "dependents"], _) => Err(Problem::method_not_allowed("GET, POST")),
            (["v1", "dependents" | "guardians", _], _) => Err(Problem::method_not_allowed("DELETE")),
            _ => Err(Problem::not_found()),
        }
    }
}

#[derive(Deserialize)]
struct LoginRequest {
    code: String,
}

#[derive(Serialize)]
struct LoginResponse {
    token: String,
    expires_at: String,
    user: UserView,
}

#[derive(Serialize)]
struct UserView {
    id: String,
    verified: bool,
    roles: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name_masked: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_masked: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dependents: Option<Vec<DependentView>>,
}

impl UserView {
    fn of(account: &Account) -> Self {
        Self {
            id: account.id.clone(),
            verified: account.subject_id.is_some(),
            roles: account.role_list().into_iter().map(|r| r.as_str()).collect(),
            subject_id: account.subject_id.clone(),
            name_masked: account.name_masked.clone(),
            id_masked: account.id_masked.clone(),
            dependents: None,
        }
    }

    fn with_dependents(mut self, account: &Account) -> Self {
        self.dependents = Some(dependents::views(account));
        self
    }
}

async fn login(app: &App, req: &Request) -> HttpResult {
    let body: LoginRequest = http::parse_json(req, None)?;
    let code = body.code.trim();
    if code.is_empty() || code.len() > 256 {
        return Err(Problem::bad_request("`code` must be the code from wx.login"));
    }
    let subject = app.provider.exchange(code).await.map_err(|err| match err {
        LoginError::Refused => Problem::unauthenticated().detail("the login code was not accepted"),
        LoginError::Unavailable(reason) => {
            tracing::warn!(%reason, "login provider unavailable");
            Problem::unavailable()
        }
    })?;
    let now = app.base.clock.now();
    let account_id = app.pii.account_id(app.provider.name(), &subject);
    // The openid is kept sealed: notices of exposures are sent to it.
    let seal = || {
        app.pii
            .seal(&subject, &format!("{account_id}/openid"))
            .map_err(|_| Problem::internal())
    };
    let account = match app.base.store.get_account(&account_id).await? {
        Some(account) if account.openid_sealed.is_some() => account,
        Some(account) => {
            app.base.store.set_openid(&account.id, &seal()?).await?;
            account
        }
        None => {
            let mut account = Account::new(account_id.clone(), app.provider.name(), now);
            account.openid_sealed = Some(seal()?);
            app.base.store.create_account(account).await?
        }
    };
    let (token, expires) = issue(app, &account, now);
    http::ok(&LoginResponse {
        token,
        expires_at: rfc3339(expires),
        user: UserView::of(&account),
    })
}

fn issue(app: &App, account: &Account, now: OffsetDateTime) -> (String, OffsetDateTime) {
    let session = Session {
        account_id: account.id.clone(),
        subject_id: account.subject_id.clone(),
        roles: account.role_list(),
        token: Default::default(),
    };
    app.base.sessions.issue(&session, now)
}

async fn me(app: &App, req: &Request) -> HttpResult {
    let (_, account) = caller(app, req).await?;
    http::ok(&serde_json::json!({ "user": UserView::of(&account).with_dependents(&account) }))
}

#[derive(Deserialize)]
struct IdentityRequest {
    name: String,
    id_number: String,
    phone: String,
}

async fn identity(app: &App, req: &Request) -> HttpResult {
    let (_, account) = caller(app, req).await?;
    let body: IdentityRequest = http::parse_json(req, None)?;
    let now = app.base.clock.now();
    let real = RealName::parse(&body.name, &body.id_number, now)?;
    let phone = Phone::parse(&body.phone).map_err(|e| Problem::invalid("invalid-phone", e.to_string()))?;
    if let Some(own) = &account.subject_id {
        return if identity::is_own_number(&app.base.store, &app.pii, own, &real).await? {
            identity_response(app, &account, now)
        } else {
            Err(identity::already_verified())
        };
    }
    let check = check_identity(app, &account, &real, Some(&phone)).await?;
    let bound = identity::bind(&app.base.store, &app.pii, &account, &real, &phone, Some(&check), now).await;
    attempts::finish(&app.base.store, check).await;
    let account = bound?;
    tracing::info!("identity bound");
    identity_response(app, &account, now)
}

/// The verified user, with a fresh session token that carries the subject.
fn identity_response(app: &App, account: &Account, now: OffsetDateTime) -> HttpResult {
    let (token, expires) = issue(app, account, now);
    http::ok(&serde_json::json!({
        "user": UserView::of(account),
        "token": token,
        "expires_at": rfc3339(expires),
    }))
}

/// Ends the session: its token is refused by every function from then on,
/// until it would have expired anyway.
async fn logout(app: &App, req: &Request) -> HttpResult {
    let (session, account) = caller(app, req).await?;
    access::log_out(&app.base.store, &session, account, app.base.clock.now()).await?;
    tracing::info!("logged out");
    http::no_content()
}

//! Routes of the login function: parse, call the domain and the store, map
//! outcomes to responses.

use lambda_http::Request;
use lambda_http::http::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use shared::auth::Session;
use shared::config::ConfigError;
use shared::crypto::PiiKeys;
use shared::domain::day::rfc3339;
use shared::domain::identity::Phone;
use shared::function::{Base, Function};
use shared::http::{self, HttpResult, Problem};
use shared::service::access;
use shared::service::identity::{self, MAX_DEPENDENTS, RealName};
use shared::store::accounts::{Account, DependentLink, Relation};
use time::OffsetDateTime;

use crate::provider::{self, LoginError, LoginProvider};
use crate::verifier::{self, IdentityVerifier, Verdict};

pub struct App {
    pub base: Base,
    pub pii: PiiKeys,
    pub provider: Box<dyn LoginProvider>,
    pub verifier: Box<dyn IdentityVerifier>,
}

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
        let method = req.method();
        match path {
            ["v1", "login"] => match *method {
                Method::POST => login(app, req).await,
                _ => Err(Problem::method_not_allowed("POST")),
            },
            ["v1", "logout"] => match *method {
                Method::POST => logout(app, req).await,
                _ => Err(Problem::method_not_allowed("POST")),
            },
            ["v1", "identity"] => match *method {
                Method::POST => identity(app, req).await,
                _ => Err(Problem::method_not_allowed("POST")),
            },
            ["v1", "me"] => match *method {
                Method::GET => me(app, req).await,
                _ => Err(Problem::method_not_allowed("GET")),
            },
            ["v1", "dependents"] => match *method {
                Method::POST => add_dependent(app, req).await,
                Method::GET => list_dependents(app, req).await,
                _ => Err(Problem::method_not_allowed("GET, POST")),
            },
            ["v1", "dependents", subject_id] => match *method {
                Method::DELETE => remove_dependent(app, req, subject_id).await,
                _ => Err(Problem::method_not_allowed("DELETE")),
            },
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
        self.dependents = Some(dependent_views(account));
        self
    }
}

#[derive(Serialize)]
struct DependentView {
    subject_id: String,
    name_masked: String,
    id_masked: String,
    relation: Relation,
}

fn dependent_views(account: &Account) -> Vec<DependentView> {
    let mut links: Vec<_> = account.dependents.iter().collect();
    links.sort_by_key(|(_, link)| link.linked_at);
    links
        .into_iter()
        .map(|(subject_id, link)| DependentView {
            subject_id: subject_id.clone(),
            name_masked: link.name_masked.clone(),
            id_masked: link.id_masked.clone(),
            relation: link.relation,
        })
        .collect()
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
    let account = match app.base.store.get_account(&account_id).await? {
        Some(account) => account,
        None => {
            app.base
                .store
                .create_account(Account::new(account_id, app.provider.name(), now))
                .await?
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

/// The caller's account; a token whose account is gone is no longer valid.
async fn caller(app: &App, req: &Request) -> Result<(Session, Account), Problem> {
    access::caller(&app.base.store, &app.base.sessions, req, app.base.clock.now()).await
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

async fn check_identity(app: &App, real: &RealName, phone: Option<&Phone>) -> Result<(), Problem> {
    match app.verifier.verify(&real.name, &real.id, phone).await {
        Ok(Verdict::Match) => Ok(()),
        Ok(Verdict::Mismatch) => Err(Problem::invalid(
            "identity-mismatch",
            "the name and ID number do not belong together",
        )),
        Err(err) => {
            tracing::warn!(reason = %err.0, "identity verifier unavailable");
            Err(Problem::unavailable())
        }
    }
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
    check_identity(app, &real, Some(&phone)).await?;
    let account = identity::bind(&app.base.store, &app.pii, &account, &real, &phone, now).await?;
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

#[derive(Deserialize)]
struct DependentRequest {
    name: String,
    id_number: String,
    relation: Relation,
}

async fn add_dependent(app: &App, req: &Request) -> HttpResult {
    let (_, account) = caller(app, req).await?;
    if account.subject_id.is_none() {
        return Err(Problem::identity_required());
    }
    let body: DependentRequest = http::parse_json(req, None)?;
    let now = app.base.clock.now();
    let real = RealName::parse(&body.name, &body.id_number, now)?;
    if account.dependents.len() >= MAX_DEPENDENTS {
        return Err(identity::too_many_dependents());
    }
    check_identity(app, &real, None).await?;
    let link = DependentLink {
        relation: body.relation,
        name_masked: real.name.masked(),
        id_masked: real.id.masked(),
        linked_at: now,
    };
    let subject_id = identity::link_dependent(&app.base.store, &app.pii, &account, &real, &link, now).await?;
    tracing::info!("dependent linked");
    let view = DependentView {
        subject_id,
        name_masked: link.name_masked,
        id_masked: link.id_masked,
        relation: link.relation,
    };
    Ok(http::json(
        StatusCode::CREATED,
        &serde_json::json!({ "dependent": view }),
    ))
}

async fn list_dependents(app: &App, req: &Request) -> HttpResult {
    let (_, account) = caller(app, req).await?;
    http::ok(&serde_json::json!({ "dependents": dependent_views(&account) }))
}

async fn remove_dependent(app: &App, req: &Request, subject_id: &str) -> HttpResult {
    let (session, _) = caller(app, req).await?;
    if app.base.store.unlink_dependent(&session.account_id, subject_id).await? {
        tracing::info!("dependent unlinked");
        http::no_content()
    } else {
        Err(Problem::forbidden().detail("the caller is not the guardian of this subject"))
    }
}

/// Ends the session: its token is refused by every function from then on,
/// until it would have expired anyway.
async fn logout(app: &App, req: &Request) -> HttpResult {
    let (session, mut account) = caller(app, req).await?;
    for _ in 0..5 {
        if app
            .base
            .store
            .revoke_token(&account, &session.token, app.base.clock.now())
            .await?
        {
            tracing::info!("logged out");
            return http::no_content();
        }
        // Another logout of this account came first: read it again.
        account = app
            .base
            .store
            .get_account(&account.id)
            .await?
            .ok_or_else(Problem::unauthenticated)?;
    }
    Err(Problem::unavailable())
}

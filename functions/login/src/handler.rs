//! Routes of the login function: parse, call the domain and the store, map
//! outcomes to responses.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use shared::auth::{Session, SessionKeys};
use shared::clock::Clock;
use shared::config::ConfigError;
use shared::crypto::{PiiKeys, random_id};
use shared::domain::day::{rfc3339, shanghai_day};
use shared::domain::identity::{IdNumber, PersonName, Phone};
use shared::http::{self, HttpResult, Problem};
use shared::store::Store;
use shared::store::accounts::{Account, BindResult, DependentLink, Identity, LinkResult, Relation};
use time::OffsetDateTime;

use crate::provider::{self, LoginError, LoginProvider};
use crate::verifier::{self, IdentityVerifier, Verdict};

/// How many dependents one guardian may hold.
pub const MAX_DEPENDENTS: usize = 5;

/// How often a write that lost a race is re-read and retried.
const RACE_RETRIES: usize = 5;

pub struct App {
    pub store: Store,
    pub sessions: SessionKeys,
    pub pii: PiiKeys,
    pub provider: Box<dyn LoginProvider>,
    pub verifier: Box<dyn IdentityVerifier>,
    pub clock: Clock,
}

impl App {
    pub async fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            sessions: SessionKeys::from_env()?,
            pii: PiiKeys::from_env()?,
            provider: provider::from_env()?,
            verifier: verifier::from_env()?,
            clock: Clock::system(),
            store: Store::from_env().await,
        })
    }
}

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    http::serve(&req, |req| route(app, req)).await
}

async fn route(app: &App, req: &Request) -> HttpResult {
    let segments = http::segments(req);
    let path: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = req.method();
    match path.as_slice() {
        ["v1", "login"] => match *method {
            Method::POST => login(app, req).await,
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
    let now = app.clock.now();
    let account_id = app.pii.account_id(app.provider.name(), &subject);
    let account = match app.store.get_account(&account_id).await? {
        Some(account) => account,
        None => {
            app.store
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
    };
    app.sessions.issue(&session, now)
}

/// The caller's account; a token whose account is gone is no longer valid.
async fn caller(app: &App, req: &Request) -> Result<(Session, Account), Problem> {
    let session = app.sessions.authenticate(req, app.clock.now())?;
    let account = app
        .store
        .get_account(&session.account_id)
        .await?
        .ok_or_else(Problem::unauthenticated)?;
    Ok((session, account))
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

/// The validated fields of a real-name form.
struct RealName {
    name: PersonName,
    id: IdNumber,
}

fn parse_real_name(name: &str, id_number: &str, now: OffsetDateTime) -> Result<RealName, Problem> {
    let id = IdNumber::parse(id_number, shanghai_day(now))
        .map_err(|e| Problem::invalid("invalid-id-number", e.to_string()))?;
    let name = PersonName::parse(name).map_err(|e| Problem::invalid("invalid-name", e.to_string()))?;
    Ok(RealName { name, id })
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

fn id_taken() -> Problem {
    Problem::conflict("id-number-taken", "ID number already registered")
        .detail("this ID number is already bound to another account")
}

async fn identity(app: &App, req: &Request) -> HttpResult {
    let (_, account) = caller(app, req).await?;
    let body: IdentityRequest = http::parse_json(req, None)?;
    let now = app.clock.now();
    let real = parse_real_name(&body.name, &body.id_number, now)?;
    let phone = Phone::parse(&body.phone).map_err(|e| Problem::invalid("invalid-phone", e.to_string()))?;
    let id_hash = app.pii.id_hash(&real.id);

    if let Some(own) = &account.subject_id {
        // A retry of the same binding succeeds again; another number does not.
        let same = app
            .store
            .find_person(&id_hash)
            .await?
            .person
            .is_some_and(|p| &p.subject_id == own);
        return if same {
            identity_response(app, &account, now)
        } else {
            Err(already_verified())
        };
    }
    check_identity(app, &real, Some(&phone)).await?;

    for _ in 0..RACE_RETRIES {
        let state = app.store.find_person(&id_hash).await?;
        let result = match &state.person {
            None => {
                let subject_id = random_id("s_");
                let identity = seal_identity(app, &subject_id, &id_hash, &real, Some(&phone), now)?;
                let identity = Identity {
                    owner: Some(account.id.clone()),
                    ..identity
                };
                app.store.bind_new_subject(&account.id, &identity, &state).await?
            }
            Some(person) if person.owner.as_deref() == Some(account.id.as_str()) => BindResult::Bound,
            Some(person) if person.owner.is_some() => return Err(id_taken()),
            Some(person) => {
                // Guardians registered this person; the verified person now
                // claims their own code, and the guardians keep access.
                let existing = app
                    .store
                    .get_identity(&person.subject_id)
                    .await?
                    .ok_or_else(Problem::internal)?;
                let fresh = seal_identity(app, &person.subject_id, &id_hash, &real, Some(&phone), now)?;
                let claimed = Identity {
                    owner: Some(account.id.clone()),
                    ..fresh
                };
                let claimed = Identity {
                    guardians: existing.guardians,
                    created_at: existing.created_at,
                    ..claimed
                };
                app.store.claim_subject(&account.id, &claimed).await?
            }
        };
        match result {
            BindResult::Bound => {
                let account = app
                    .store
                    .get_account(&account.id)
                    .await?
                    .ok_or_else(Problem::internal)?;
                tracing::info!("identity bound");
                return identity_response(app, &account, now);
            }
            BindResult::AccountBound => return Err(already_verified()),
            BindResult::Raced => continue,
        }
    }
    Err(Problem::unavailable())
}

fn already_verified() -> Problem {
    Problem::conflict("already-verified", "Identity already verified")
        .detail("this account is already bound to another ID number")
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

fn seal_identity(
    app: &App,
    subject_id: &str,
    id_hash: &str,
    real: &RealName,
    phone: Option<&Phone>,
    now: OffsetDateTime,
) -> Result<Identity, Problem> {
    let seal = |value: &str, field: &str| {
        app.pii.seal(value, &format!("{subject_id}/{field}")).map_err(|err| {
            tracing::error!(error = %err, "sealing failed");
            Problem::internal()
        })
    };
    Ok(Identity {
        subject_id: subject_id.to_owned(),
        id_hash: id_hash.to_owned(),
        id_sealed: seal(real.id.as_str(), "id")?,
        name_sealed: seal(real.name.as_str(), "name")?,
        phone_sealed: phone.map(|p| seal(p.as_str(), "phone")).transpose()?,
        name_masked: real.name.masked(),
        id_masked: real.id.masked(),
        owner: None,
        guardians: Default::default(),
        created_at: now,
    })
}

#[derive(Deserialize)]
struct DependentRequest {
    name: String,
    id_number: String,
    relation: Relation,
}

fn too_many() -> Problem {
    Problem::conflict("too-many-dependents", "Too many dependents")
        .detail(format!("a guardian may hold at most {MAX_DEPENDENTS} dependents"))
}

async fn add_dependent(app: &App, req: &Request) -> HttpResult {
    let (_, account) = caller(app, req).await?;
    if account.subject_id.is_none() {
        return Err(Problem::identity_required());
    }
    let body: DependentRequest = http::parse_json(req, None)?;
    let now = app.clock.now();
    let real = parse_real_name(&body.name, &body.id_number, now)?;
    if account.dependents.len() >= MAX_DEPENDENTS {
        return Err(too_many());
    }
    check_identity(app, &real, None).await?;
    let id_hash = app.pii.id_hash(&real.id);
    let link = DependentLink {
        relation: body.relation,
        name_masked: real.name.masked(),
        id_masked: real.id.masked(),
        linked_at: now,
    };

    for _ in 0..RACE_RETRIES {
        let state = app.store.find_person(&id_hash).await?;
        let (subject_id, result) = match &state.person {
            None => {
                let subject_id = random_id("s_");
                let identity = seal_identity(app, &subject_id, &id_hash, &real, None, now)?;
                let mut identity = identity;
                identity.guardians.insert(account.id.clone(), body.relation);
                let result = app
                    .store
                    .link_new_dependent(&account.id, &identity, &link, MAX_DEPENDENTS, &state)
                    .await?;
                (subject_id, result)
            }
            // Adults who registered themselves (including the caller) manage their own code.
            Some(person) if person.owner.is_some() => return Err(id_taken()),
            Some(person) => {
                let existing = app
                    .store
                    .get_identity(&person.subject_id)
                    .await?
                    .ok_or_else(Problem::internal)?;
                if !existing.guardians.contains_key(&account.id) {
                    // A further guardian must name the person as the first one did.
                    let context = format!("{}/name", existing.subject_id);
                    let stored = app.pii.open(&existing.name_sealed, &context).map_err(|err| {
                        tracing::error!(error = %err, "opening a sealed name failed");
                        Problem::internal()
                    })?;
                    if stored != real.name.as_str() {
                        return Err(id_taken());
                    }
                }
                let result = app
                    .store
                    .link_existing_dependent(&account.id, &person.subject_id, &link, MAX_DEPENDENTS)
                    .await?;
                (person.subject_id.clone(), result)
            }
        };
        match result {
            LinkResult::Linked | LinkResult::AlreadyLinked => {
                tracing::info!("dependent linked");
                let view = DependentView {
                    subject_id,
                    name_masked: link.name_masked,
                    id_masked: link.id_masked,
                    relation: link.relation,
                };
                return Ok(http::json(
                    StatusCode::CREATED,
                    &serde_json::json!({ "dependent": view }),
                ));
            }
            LinkResult::Full => return Err(too_many()),
            LinkResult::NotVerified => return Err(Problem::identity_required()),
            LinkResult::Raced => continue,
        }
    }
    Err(Problem::unavailable())
}

async fn list_dependents(app: &App, req: &Request) -> HttpResult {
    let (_, account) = caller(app, req).await?;
    http::ok(&serde_json::json!({ "dependents": dependent_views(&account) }))
}

async fn remove_dependent(app: &App, req: &Request, subject_id: &str) -> HttpResult {
    let session = app.sessions.authenticate(req, app.clock.now())?;
    if app.store.unlink_dependent(&session.account_id, subject_id).await? {
        tracing::info!("dependent unlinked");
        http::no_content()
    } else {
        Err(Problem::forbidden().detail("the caller is not the guardian of this subject"))
    }
}

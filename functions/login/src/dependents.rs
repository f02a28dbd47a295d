//! Dependents (监护人代领) and their guardians: linking a dependent, by
//! invitation when the person is already held; invitations; the guardians
//! an owner sees and removes.

use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde::{Deserialize, Serialize};
use shared::http::{self, HttpResult, Problem};
use shared::service::identity::{self, MAX_DEPENDENTS, NewDependent, RealName};
use shared::service::{attempts, guardians};
use shared::store::accounts::{Account, DependentLink, Relation};

use crate::app::{App, caller, check_identity};

#[derive(Serialize)]
pub struct DependentView {
    subject_id: String,
    name_masked: String,
    id_masked: String,
    relation: Relation,
}

pub fn views(account: &Account) -> Vec<DependentView> {
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

#[derive(Deserialize)]
struct DependentRequest {
    name: String,
    id_number: String,
    relation: Relation,
    #[serde(default)]
    invitation: Option<String>,
}

pub async fn add(app: &App, req: &Request) -> HttpResult {
    let (_, account) = caller(app, req).await?;
    if account.subject_id.is_none() {
        return Err(Problem::identity_required());
    }
    let body: DependentRequest = http::parse_json(req, None)?;
    let now = app.base.clock.now();
    let real = RealName::parse(&body.name, &body.id_number, now)?;
    let invitation = guardians::invitation_code(body.invitation.as_deref())?;
    if account.dependents.len() >= MAX_DEPENDENTS {
        return Err(identity::too_many_dependents());
    }
    // The name and number are checked before anything else is said about
    // the person, so that no answer tells whether a number is registered
    // without a check that counts.
    let check = check_identity(app, &account, &real, None).await?;
    let link = DependentLink {
        relation: body.relation,
        name_masked: real.name.masked(),
        id_masked: real.id.masked(),
        linked_at: now,
    };
    let store = &app.base.store;
    let dependent = NewDependent {
        real: &real,
        link: &link,
        invitation,
    };
    let linked = identity::link_dependent(store, &app.pii, &account, &dependent, Some(&check), now).await;
    attempts::finish(store, check).await;
    let subject_id = linked?;
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

pub async fn list(app: &App, req: &Request) -> HttpResult {
    let (_, account) = caller(app, req).await?;
    http::ok(&serde_json::json!({ "dependents": views(&account) }))
}

pub async fn remove(app: &App, req: &Request, subject_id: &str) -> HttpResult {
    let (session, _) = caller(app, req).await?;
    if app.base.store.unlink_dependent(&session.account_id, subject_id).await? {
        tracing::info!("dependent unlinked");
        http::no_content()
    } else {
        Err(Problem::forbidden().detail("the caller is not the guardian of this subject"))
    }
}

pub async fn invite(app: &App, req: &Request, subject_id: &str) -> HttpResult {
    let now = app.base.clock.now();
    let session = app.base.sessions.authenticate(req, app.base.clock.now())?;
    let invitation = guardians::invite(&app.base.store, &session, subject_id, now).await?;
    tracing::info!("guardian invitation issued");
    Ok(http::json(
        StatusCode::CREATED,
        &serde_json::json!({ "invitation": invitation }),
    ))
}

pub async fn guardians(app: &App, req: &Request) -> HttpResult {
    let session = app.base.sessions.authenticate(req, app.base.clock.now())?;
    let list = guardians::list(&app.base.store, &session).await?;
    http::ok(&serde_json::json!({ "guardians": list }))
}

pub async fn remove_guardian(app: &App, req: &Request, id: &str) -> HttpResult {
    let session = app.base.sessions.authenticate(req, app.base.clock.now())?;
    guardians::remove(&app.base.store, &session, id).await?;
    tracing::info!("guardian removed");
    http::no_content()
}

//! Further guardians by consent. A person who registered themselves, or who
//! already has a guardian, gets a further guardian only by an invitation
//! from their owner or a guardian; the owner sees their guardians and
//! removes any of them.

use lambda_http::http::StatusCode;
use serde::Serialize;
use time::{Duration, OffsetDateTime};

use crate::auth::Session;
use crate::crypto::{base32, random_id, sha256};
use crate::domain::day::rfc3339;
use crate::http::Problem;
use crate::service::access;
use crate::store::Store;
use crate::store::accounts::Relation;
use crate::store::guardians::Invitation;

/// How long an invitation stays valid.
pub const INVITATION_LIFETIME: Duration = Duration::hours(72);

/// 403 `guardian-consent-required`: the same answer for no invitation and
/// for one that is unknown, used, expired or for another person.
pub fn consent_required() -> Problem {
    Problem::new(
        StatusCode::FORBIDDEN,
        "guardian-consent-required",
        "Guardian consent required",
    )
    .detail("this person already has a guardian or holds their own code: a further guardian needs a valid invitation from them")
}

/// What the store keeps of an invitation code: its SHA-256. The code has
/// 128 random bits, so the hash needs no key.
pub fn code_hash(code: &str) -> String {
    base32(&sha256(code.as_bytes()))
}

/// Whether `code` has the shape of an invitation code (`i_` and 26 base32 characters).
pub fn is_code(code: &str) -> bool {
    code.len() == 28
        && code.starts_with("i_")
        && code[2..]
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
}

/// The invitation a request names, if any: 400 `bad-request` when it does
/// not have the shape of a code, before any check is made.
pub fn invitation_code(invitation: Option<&str>) -> Result<Option<&str>, Problem> {
    match invitation {
        Some(code) if !is_code(code) => Err(Problem::bad_request(
            "`invitation` must be the code of an invitation (`i_` and 26 letters and digits)",
        )),
        other => Ok(other),
    }
}

#[derive(Debug, Serialize)]
pub struct NewInvitation {
    pub code: String,
    pub expires_at: String,
}

/// A new single-use invitation to become a further guardian of `subject_id`,
/// issued by its owner or a guardian (else 403 `forbidden`).
pub async fn invite(
    store: &Store,
    session: &Session,
    subject_id: &str,
    now: OffsetDateTime,
) -> Result<NewInvitation, Problem> {
    let subject = access::subject_for(store, session, Some(subject_id), true).await?;
    let code = random_id("i_");
    let invitation = Invitation {
        by: session.account_id.clone(),
        created_at: now,
        expires_at: now + INVITATION_LIFETIME,
    };
    store
        .put_invitation(&subject.identity.subject_id, &code_hash(&code), &invitation)
        .await?;
    Ok(NewInvitation {
        code,
        expires_at: rfc3339(invitation.expires_at),
    })
}

#[derive(Debug, Serialize)]
pub struct GuardianView {
    pub id: String,
    pub name_masked: String,
    pub relation: Relation,
    pub added_at: String,
}

/// The guardians of the caller's own subject, the earliest first.
pub async fn list(store: &Store, session: &Session) -> Result<Vec<GuardianView>, Problem> {
    let own = access::own_subject(store, session).await?;
    let identity = store.get_identity(&own).await?.ok_or_else(Problem::internal)?;
    let mut guardians: Vec<_> = identity.guardians.into_values().collect();
    guardians.sort_by_key(|g| g.added_at);
    Ok(guardians
        .into_iter()
        .map(|g| GuardianView {
            id: g.id,
            name_masked: g.name_masked,
            relation: g.relation,
            added_at: rfc3339(g.added_at),
        })
        .collect())
}

/// The owner removes guardian link `id` from their subject, both ways; 404
/// `not-found` when their subject has no such guardian (any more).
pub async fn remove(store: &Store, session: &Session, id: &str) -> Result<(), Problem> {
    let own = access::own_subject(store, session).await?;
    let identity = store.get_identity(&own).await?.ok_or_else(Problem::internal)?;
    let not_found = || Problem::not_found().detail("the caller's subject has no guardian with this id");
    let account = identity
        .guardians
        .iter()
        .find(|(_, g)| g.id == id)
        .map(|(account, _)| account.clone())
        .ok_or_else(not_found)?;
    if store.remove_guardian(&own, &account, id).await? {
        Ok(())
    } else {
        Err(not_found())
    }
}

//! Who may act for which subject: the caller for their own, a guardian for
//! their dependents. Everyone else is answered 403 `forbidden`, whether or
//! not the subject exists, so that the answer reveals nothing.

use lambda_http::Request;
use time::OffsetDateTime;

use crate::auth::{Session, SessionKeys};
use crate::http::Problem;
use crate::store::Store;
use crate::store::accounts::Account;
use crate::store::subjects::Subject;

/// Whether `id` has the shape of a subject id (`s_` and 26 base32 characters).
pub fn is_subject_id(id: &str) -> bool {
    id.len() == 28
        && id.starts_with("s_")
        && id[2..]
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
}

/// The caller of a request and their account, read now: a token whose
/// account is gone is no longer valid (401).
pub async fn caller(
    store: &Store,
    sessions: &SessionKeys,
    req: &Request,
    now: OffsetDateTime,
) -> Result<(Session, Account), Problem> {
    let session = sessions.authenticate(req, now)?;
    let account = store
        .get_account(&session.account_id)
        .await?
        .ok_or_else(Problem::unauthenticated)?;
    Ok((session, account))
}

/// The caller's own subject. Sessions issued after real-name authentication
/// carry it; older ones cost one read of the account.
pub async fn own_subject(store: &Store, session: &Session) -> Result<String, Problem> {
    if let Some(subject) = &session.subject_id {
        return Ok(subject.clone());
    }
    let account = store
        .get_account(&session.account_id)
        .await?
        .ok_or_else(Problem::unauthenticated)?;
    account.subject_id.ok_or_else(Problem::identity_required)
}

/// The id of the subject a request names, or the caller's own (`own`) when
/// it names none. Not yet authorised: see [`authorize`].
pub fn requested_subject(own: &str, requested: Option<&str>) -> Result<String, Problem> {
    let subject_id = requested.filter(|r| !r.is_empty()).unwrap_or(own);
    if is_subject_id(subject_id) {
        Ok(subject_id.to_owned())
    } else {
        Err(forbidden())
    }
}

/// The subject as read from the store, if the caller may act for it: its
/// owner (whose own subject is `own`) or a guardian.
pub fn authorize(session: &Session, own: &str, subject: Option<Subject>) -> Result<Subject, Problem> {
    subject
        .filter(|s| s.identity.subject_id == own || s.identity.may_act(&session.account_id))
        .ok_or_else(forbidden)
}

/// The subject a request names, or the caller's own when it names none,
/// once the caller is known to be its owner or guardian. The caller must be
/// verified either way.
pub async fn subject_for(
    store: &Store,
    session: &Session,
    requested: Option<&str>,
    consistent: bool,
) -> Result<Subject, Problem> {
    let own = own_subject(store, session).await?;
    let subject_id = requested_subject(&own, requested)?;
    authorize(session, &own, store.get_subject(&subject_id, consistent).await?)
}

fn forbidden() -> Problem {
    Problem::forbidden().detail("the caller is neither this subject nor its guardian")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_ids_have_one_shape() {
        assert!(is_subject_id(&crate::crypto::random_id("s_")));
        for bad in [
            "",
            "s_",
            "v_aaaaaaaaaaaaaaaaaaaaaaaaaa",
            "s_AAAAAAAAAAAAAAAAAAAAAAAAAA",
            "s_aaaaaaaaaaaaaaaaaaaaaaaaa1",
            "s_aaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ] {
            assert!(!is_subject_id(bad), "{bad}");
        }
    }
}

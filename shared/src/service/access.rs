//! Who may act for which subject: the caller for their own, a guardian for
//! their dependents. Everyone else is answered 403 `forbidden`, whether or
//! not the subject exists, so that the answer reveals nothing.
//!
//! A session is live while its account exists and has not logged its token
//! out (`POST /v1/logout`): every authenticated route reads the caller's
//! account, alongside its own first read where it has one, and answers 401
//! otherwise.

use lambda_http::Request;
use time::OffsetDateTime;

use crate::auth::{Session, SessionKeys};
use crate::http::Problem;
use crate::store::Store;
use crate::store::accounts::Account;
use crate::store::subjects::Subject;
use crate::store::together::Wanted;

/// Whether `id` has the shape of a subject id (`s_` and 26 base32 characters).
pub fn is_subject_id(id: &str) -> bool {
    crate::crypto::is_random_id(id, "s_")
}

/// The caller of a request and their account, read now (strongly
/// consistently: these routes go on to write the account).
pub async fn caller(
    store: &Store,
    sessions: &SessionKeys,
    req: &Request,
    now: OffsetDateTime,
) -> Result<(Session, Account), Problem> {
    let session = sessions.authenticate(req, now)?;
    let account = live(&session, store.get_account(&session.account_id).await?)?;
    Ok((session, account))
}

/// Revokes the session's token, retrying while other logouts of the same
/// account come first.
pub async fn log_out(
    store: &Store,
    session: &Session,
    mut account: Account,
    now: OffsetDateTime,
) -> Result<(), Problem> {
    for _ in 0..5 {
        if store.revoke_token(&account, &session.token, now).await? {
            return Ok(());
        }
        account = live(session, store.get_account(&account.id).await?)?;
    }
    Err(Problem::unavailable())
}

/// The account read for a session, if the session is still live: the account
/// exists and the token was not logged out; else 401.
pub fn live(session: &Session, account: Option<Account>) -> Result<Account, Problem> {
    account
        .filter(|a| a.accepts(&session.token))
        .ok_or_else(Problem::unauthenticated)
}

/// The caller's own subject as the token names it, for the early checks of a
/// route (a token from before real-name authentication costs a read of the
/// account). Whether the session is still live is checked by the route's
/// own read, which reads the account too.
pub async fn claimed_subject(store: &Store, session: &Session) -> Result<String, Problem> {
    match &session.subject_id {
        Some(own) => Ok(own.clone()),
        None => own_subject(store, session).await,
    }
}

/// The caller's own subject, once the session is known to be live: one read
/// of the account (half a read unit).
pub async fn own_subject(store: &Store, session: &Session) -> Result<String, Problem> {
    let found = store
        .read_together(Wanted {
            account: Some(&session.account_id),
            ..Wanted::default()
        })
        .await?;
    let account = live(session, found.account)?;
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
/// once the caller is known to be live and its owner or guardian. The
/// caller must be verified either way. Sessions issued after real-name
/// authentication carry their subject, so the profile and the account are
/// read together in one call; older ones read the account first.
pub async fn subject_for(
    store: &Store,
    session: &Session,
    requested: Option<&str>,
    consistent: bool,
) -> Result<Subject, Problem> {
    let own = claimed_subject(store, session).await?;
    let subject_id = requested_subject(&own, requested)?;
    let found = store
        .read_together(Wanted {
            subject: Some((&subject_id, consistent)),
            account: Some(&session.account_id),
            ..Wanted::default()
        })
        .await?;
    live(session, found.account)?;
    authorize(session, &own, found.subject)
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

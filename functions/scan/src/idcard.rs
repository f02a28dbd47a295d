//! ID-card scans: a checkpoint officer with the `inspector` role types or
//! reads the ID card of a person who has no phone. The person is found by
//! the keyed hash of the number (as the authority finds a case) and
//! answered like a code scan, logged with the method `id-card`. The role
//! is read from the account on every scan, so revoking it works at once.

use shared::auth::Session;
use shared::domain::role::Role;
use shared::http::{HttpResult, Problem};
use shared::service::{access, identity};
use shared::store::log::EntryMethod;
use shared::store::together::Wanted;
use time::OffsetDateTime;

use crate::answer::answer;
use crate::app::{App, admit};

pub async fn scan(
    app: &App,
    session: Session,
    id_number: &str,
    region: Option<String>,
    now: OffsetDateTime,
) -> HttpResult {
    let store = &app.base.store;
    let found = store
        .read_together(Wanted {
            account: Some(&session.account_id),
            ..Wanted::default()
        })
        .await?;
    let account = access::live(&session, found.account)?;
    if !account.role_list().contains(&Role::Inspector) {
        return Err(Problem::forbidden().detail("scanning by ID number needs the `inspector` role"));
    }
    let id = identity::id_number(id_number, now)?;
    admit(app, &session, now).await?;
    let no_one = || Problem::not_found().detail("no one is registered with this ID number");
    let person = store.find_person(&app.ids.id_hash(id.as_str())).await?.person;
    let subject_id = person.ok_or_else(no_one)?.subject_id;
    let subject = store.get_subject(&subject_id, false).await?.ok_or_else(no_one)?;
    tracing::info!("person found by ID number");
    answer(app, session, &subject, region, Some(EntryMethod::IdCard), now).await
}

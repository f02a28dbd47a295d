//! Real-name identities: binding an account to its own subject after
//! real-name authentication, and linking a guardian to a dependent's
//! subject. The identity verifier is asked by the caller first; these use
//! cases decide, against what the store holds, whose subject a number is.

use time::OffsetDateTime;

use crate::crypto::{PiiKeys, random_id};
use crate::domain::day::shanghai_day;
use crate::domain::identity::{IdNumber, PersonName, Phone};
use crate::http::Problem;
use crate::store::Store;
use crate::store::accounts::{Account, BindResult, DependentLink, Identity, LinkResult};

/// How many dependents one guardian may hold.
pub const MAX_DEPENDENTS: usize = 5;

/// How often a write that lost a race is re-read and retried.
const RACE_RETRIES: usize = 5;

/// The validated fields of a real-name form.
pub struct RealName {
    pub name: PersonName,
    pub id: IdNumber,
}

impl RealName {
    /// 422 `invalid-id-number` or `invalid-name` for a field that does not fit.
    pub fn parse(name: &str, id_number: &str, now: OffsetDateTime) -> Result<RealName, Problem> {
        let id = IdNumber::parse(id_number, shanghai_day(now))
            .map_err(|e| Problem::invalid("invalid-id-number", e.to_string()))?;
        let name = PersonName::parse(name).map_err(|e| Problem::invalid("invalid-name", e.to_string()))?;
        Ok(RealName { name, id })
    }
}

pub fn id_taken() -> Problem {
    Problem::conflict("id-number-taken", "ID number already registered")
        .detail("this ID number is already bound to another account")
}

pub fn already_verified() -> Problem {
    Problem::conflict("already-verified", "Identity already verified")
        .detail("this account is already bound to another ID number")
}

pub fn too_many_dependents() -> Problem {
    Problem::conflict("too-many-dependents", "Too many dependents")
        .detail(format!("a guardian may hold at most {MAX_DEPENDENTS} dependents"))
}

/// Whether an account that is already verified is verified with this
/// number: a retry of the same binding succeeds again, another number not.
pub async fn is_own_number(store: &Store, pii: &PiiKeys, own_subject: &str, real: &RealName) -> Result<bool, Problem> {
    Ok(store
        .find_person(&pii.id_hash(real.id.as_str()))
        .await?
        .person
        .is_some_and(|p| p.subject_id == own_subject))
}

/// Binds `account` to the subject of `real`: a new subject, or the one its
/// guardians registered, which the person now claims (the guardians keep
/// access). 409 `id-number-taken` when another account holds the number.
/// Returns the account as it now is.
pub async fn bind(
    store: &Store,
    pii: &PiiKeys,
    account: &Account,
    real: &RealName,
    phone: &Phone,
    now: OffsetDateTime,
) -> Result<Account, Problem> {
    let id_hash = pii.id_hash(real.id.as_str());
    for _ in 0..RACE_RETRIES {
        let state = store.find_person(&id_hash).await?;
        let result = match &state.person {
            None => {
                let subject_id = random_id("s_");
                let identity = Identity {
                    owner: Some(account.id.clone()),
                    ..seal(pii, &subject_id, &id_hash, real, Some(phone), now)?
                };
                store.bind_new_subject(&account.id, &identity, &state).await?
            }
            Some(person) if person.owner.as_deref() == Some(account.id.as_str()) => BindResult::Bound,
            Some(person) if person.owner.is_some() => return Err(id_taken()),
            Some(person) => {
                let existing = store
                    .get_identity(&person.subject_id)
                    .await?
                    .ok_or_else(Problem::internal)?;
                let claimed = Identity {
                    owner: Some(account.id.clone()),
                    guardians: existing.guardians,
                    created_at: existing.created_at,
                    ..seal(pii, &person.subject_id, &id_hash, real, Some(phone), now)?
                };
                store.claim_subject(&account.id, &claimed).await?
            }
        };
        match result {
            BindResult::Bound => {
                return store.get_account(&account.id).await?.ok_or_else(Problem::internal);
            }
            BindResult::AccountBound => return Err(already_verified()),
            BindResult::Raced => continue,
        }
    }
    Err(Problem::unavailable())
}

/// Links `account` as a guardian of the subject of `real`: a new subject,
/// or one other guardians registered, if the name matches theirs. A person
/// who registered themselves manages their own code: 409 `id-number-taken`.
/// Returns the subject's id.
pub async fn link_dependent(
    store: &Store,
    pii: &PiiKeys,
    account: &Account,
    real: &RealName,
    link: &DependentLink,
    now: OffsetDateTime,
) -> Result<String, Problem> {
    let id_hash = pii.id_hash(real.id.as_str());
    for _ in 0..RACE_RETRIES {
        let state = store.find_person(&id_hash).await?;
        let (subject_id, result) = match &state.person {
            None => {
                let subject_id = random_id("s_");
                let mut identity = seal(pii, &subject_id, &id_hash, real, None, now)?;
                identity.guardians.insert(account.id.clone(), link.relation);
                let result = store
                    .link_new_dependent(&account.id, &identity, link, MAX_DEPENDENTS, &state)
                    .await?;
                (subject_id, result)
            }
            Some(person) if person.owner.is_some() => return Err(id_taken()),
            Some(person) => {
                let existing = store
                    .get_identity(&person.subject_id)
                    .await?
                    .ok_or_else(Problem::internal)?;
                if !existing.guardians.contains_key(&account.id) {
                    // A further guardian must name the person as the first one did.
                    let context = format!("{}/name", existing.subject_id);
                    let stored = pii.open(&existing.name_sealed, &context).map_err(|err| {
                        tracing::error!(error = %err, "opening a sealed name failed");
                        Problem::internal()
                    })?;
                    if stored != real.name.as_str() {
                        return Err(id_taken());
                    }
                }
                let result = store
                    .link_existing_dependent(&account.id, &person.subject_id, link, MAX_DEPENDENTS)
                    .await?;
                (person.subject_id.clone(), result)
            }
        };
        match result {
            LinkResult::Linked | LinkResult::AlreadyLinked => return Ok(subject_id),
            LinkResult::Full => return Err(too_many_dependents()),
            LinkResult::NotVerified => return Err(Problem::identity_required()),
            LinkResult::Raced => continue,
        }
    }
    Err(Problem::unavailable())
}

/// A subject's identity with its personal fields sealed to it.
fn seal(
    pii: &PiiKeys,
    subject_id: &str,
    id_hash: &str,
    real: &RealName,
    phone: Option<&Phone>,
    now: OffsetDateTime,
) -> Result<Identity, Problem> {
    let seal = |value: &str, field: &str| {
        pii.seal(value, &format!("{subject_id}/{field}")).map_err(|err| {
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

//! Real-name identities: binding an account to its own subject after
//! real-name authentication, and linking a guardian to a dependent's
//! subject. The identity verifier is asked by the caller first, within the
//! day's limit of checks (attempts.rs); these use cases decide, against what
//! the store holds, whose subject a number is, and release the check in the
//! transaction they write.

use time::OffsetDateTime;

use crate::crypto::{PiiKeys, random_id};
use crate::domain::day::shanghai_day;
use crate::domain::identity::{IdNumber, PersonName, Phone};
use crate::http::Problem;
use crate::service::attempts::Check;
use crate::service::guardians::{code_hash, consent_required, is_code};
use crate::store::Store;
use crate::store::accounts::{Account, BindResult, DependentLink, Guardian, Identity, LinkResult, NewLink};

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
        let id = self::id_number(id_number, now)?;
        let name = PersonName::parse(name).map_err(|e| Problem::invalid("invalid-name", e.to_string()))?;
        Ok(RealName { name, id })
    }
}

/// A resident ID number as typed, surrounding spaces trimmed; else 422
/// `invalid-id-number`, saying what is wrong and never echoing the number.
pub fn id_number(typed: &str, now: OffsetDateTime) -> Result<IdNumber, Problem> {
    IdNumber::parse(typed.trim(), shanghai_day(now)).map_err(|e| Problem::invalid("invalid-id-number", e.to_string()))
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
/// The binding transaction releases `check`. Returns the account as it now is.
pub async fn bind(
    store: &Store,
    pii: &PiiKeys,
    account: &Account,
    real: &RealName,
    phone: &Phone,
    check: Option<&Check>,
    now: OffsetDateTime,
) -> Result<Account, Problem> {
    let id_hash = pii.id_hash(real.id.as_str());
    let check_id = check.map(Check::id);
    for _ in 0..RACE_RETRIES {
        let state = store.find_person(&id_hash).await?;
        let result = match &state.person {
            None => {
                let subject_id = random_id("s_");
                let identity = Identity {
                    owner: Some(account.id.clone()),
                    ..seal(pii, &subject_id, &id_hash, real, Some(phone), now)?
                };
                settled(
                    store.bind_new_subject(&account.id, &identity, &state, check_id).await?,
                    check,
                )
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
                settled(store.claim_subject(&account.id, &claimed, check_id).await?, check)
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

/// A dependent as a guardian names them: who, how related, and the
/// invitation of the person's owner or guardian, if any.
#[derive(Clone, Copy)]
pub struct NewDependent<'a> {
    pub real: &'a RealName,
    pub link: &'a DependentLink,
    pub invitation: Option<&'a str>,
}

/// Links `account` as a guardian of the subject of `real`: a new subject,
/// or one that no one holds any more. A subject that is registered to its
/// own account, or already has a guardian, gets a further one only by an
/// `invitation` from them: else 403 `guardian-consent-required`, whatever
/// was wrong with the invitation. The linking transaction releases `check`.
/// Returns the subject's id.
pub async fn link_dependent(
    store: &Store,
    pii: &PiiKeys,
    account: &Account,
    dependent: &NewDependent<'_>,
    check: Option<&Check>,
    now: OffsetDateTime,
) -> Result<String, Problem> {
    let NewDependent { real, link, invitation } = *dependent;
    let id_hash = pii.id_hash(real.id.as_str());
    let guardian = Guardian {
        id: random_id("g_"),
        relation: link.relation,
        name_masked: account.name_masked.clone().ok_or_else(Problem::identity_required)?,
        added_at: now,
    };
    let new_link = NewLink {
        link,
        guardian: &guardian,
        max: MAX_DEPENDENTS,
        check: check.map(Check::id),
    };
    for _ in 0..RACE_RETRIES {
        let state = store.find_person(&id_hash).await?;
        let (subject_id, result) = match &state.person {
            None => {
                let subject_id = random_id("s_");
                let mut identity = seal(pii, &subject_id, &id_hash, real, None, now)?;
                identity.guardians.insert(account.id.clone(), guardian.clone());
                let result = store
                    .link_new_dependent(&account.id, &identity, &new_link, &state)
                    .await?;
                (subject_id, result)
            }
            Some(person) if person.owner.as_deref() == Some(account.id.as_str()) => return Err(id_taken()),
            Some(person) => {
                let subject_id = person.subject_id.clone();
                let existing = store.get_identity(&subject_id).await?.ok_or_else(Problem::internal)?;
                let result = if existing.guardians.contains_key(&account.id) {
                    LinkResult::AlreadyLinked
                } else if existing.owner.is_none() && existing.guardians.is_empty() {
                    // A person recorded by ID number alone gets their name from the
                    // guardian's verified form.
                    let named = (!existing.is_named())
                        .then(|| seal_field(pii, &subject_id, real.name.as_str(), "name"))
                        .transpose()?;
                    let masked = real.name.masked();
                    let name = named.as_deref().map(|sealed| (sealed, masked.as_str()));
                    store
                        .link_unheld_dependent(&account.id, &subject_id, &new_link, name)
                        .await?
                } else {
                    let code = invitation.filter(|c| is_code(c)).ok_or_else(consent_required)?;
                    let hash = code_hash(code);
                    let invited = store.get_invitation(&subject_id, &hash, now).await?;
                    // An invitation dies with its inviter's hold on the subject.
                    let inviter = invited
                        .filter(|i| existing.may_act(&i.by))
                        .ok_or_else(consent_required)?
                        .by;
                    store
                        .redeem_invitation(&account.id, &subject_id, &hash, &inviter, &new_link, now)
                        .await?
                };
                (subject_id, result)
            }
        };
        match result {
            LinkResult::Linked => {
                if let Some(c) = check {
                    c.settle();
                }
                return Ok(subject_id);
            }
            LinkResult::AlreadyLinked => return Ok(subject_id),
            LinkResult::Full => return Err(too_many_dependents()),
            LinkResult::NotVerified => return Err(Problem::identity_required()),
            LinkResult::NotInvited => return Err(consent_required()),
            LinkResult::Raced => continue,
        }
    }
    Err(Problem::unavailable())
}

/// What `name_masked` shows for a person whose name is not known: one
/// recorded by an assisted check-in by ID number alone, until they or a
/// guardian claim the subject with a verified name.
pub const UNNAMED_MASK: &str = "未登记";

/// The subject holding an ID number: the existing one, or a new one that no
/// one holds and whose name is unknown (an assisted check-in of a person
/// without a phone). Such a subject is claimed later like a dependent's:
/// by the person's own real-name authentication ([`bind`]) or by a
/// guardian ([`link_dependent`]), which find it by the same keyed hash and
/// give it the verified name.
pub async fn subject_by_number(
    store: &Store,
    pii: &PiiKeys,
    id: &IdNumber,
    now: OffsetDateTime,
) -> Result<String, Problem> {
    let id_hash = pii.id_hash(id.as_str());
    for _ in 0..RACE_RETRIES {
        let state = store.find_person(&id_hash).await?;
        if let Some(person) = state.person {
            return Ok(person.subject_id);
        }
        let subject_id = random_id("s_");
        let identity = Identity {
            subject_id: subject_id.clone(),
            id_hash: id_hash.clone(),
            id_sealed: seal_field(pii, &subject_id, id.as_str(), "id")?,
            name_sealed: String::new(),
            phone_sealed: None,
            name_masked: UNNAMED_MASK.to_owned(),
            id_masked: id.masked(),
            owner: None,
            guardians: Default::default(),
            created_at: now,
        };
        if store.create_unheld_subject(&identity, &state).await? {
            tracing::info!("unheld subject created for an assisted entry");
            return Ok(subject_id);
        }
    }
    Err(Problem::unavailable())
}

fn seal_field(pii: &PiiKeys, subject_id: &str, value: &str, field: &str) -> Result<String, Problem> {
    pii.seal(value, &format!("{subject_id}/{field}")).map_err(|err| {
        tracing::error!(error = %err, "sealing failed");
        Problem::internal()
    })
}

/// Records that a binding transaction released the call's check.
fn settled(result: BindResult, check: Option<&Check>) -> BindResult {
    if let (BindResult::Bound, Some(c)) = (&result, check) {
        c.settle();
    }
    result
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
    let seal = |value: &str, field: &str| seal_field(pii, subject_id, value, field);
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

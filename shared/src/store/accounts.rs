//! Accounts (WeChat logins) and persons: the account item, the subject
//! profile, the ID-hash index, and the transactions that bind them.
//!
//! Items (see docs/data-model.md):
//! - accounts `A#<account>`: the account, its roles, its own subject and its dependents;
//! - subjects `S#<subject>`/`PROFILE`: the subject's sealed identity, masks, guardians;
//! - subjects `P#<id hash>`/`PERSON`: which subject holds an ID number, and its owner;
//! - subjects `P#<id hash>`/`RISK`: the authority's risk record for an ID number,
//!   kept even before the person registers;
//! - subjects `S#<subject>`/`I#<code hash>`: an invitation to become a further
//!   guardian (guardians.rs).

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::{ConditionCheck, Put, TransactWriteItem, Update};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::keys::{PERSON, PROFILE, RISK, account_pk, person_pk, subject_pk};
use super::{Item, Store, StoreError, TxError, from_item, key, key2, s, to_item, value, written};
use crate::domain::status::{Facts, RiskRecord};

/// How a dependent is related to their guardian.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Relation {
    Child,
    Parent,
    Grandchild,
    Grandparent,
    Spouse,
    Sibling,
    Relative,
    Other,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DependentLink {
    pub relation: Relation,
    pub name_masked: String,
    pub id_masked: String,
    #[serde(with = "time::serde::rfc3339")]
    pub linked_at: OffsetDateTime,
}

/// A guardian of a subject, as the subject's profile holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Guardian {
    /// The link's opaque id (`g_…`), by which the owner removes it.
    pub id: String,
    pub relation: Relation,
    /// The guardian's own masked name, from their real-name authentication.
    pub name_masked: String,
    #[serde(with = "time::serde::rfc3339")]
    pub added_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub id: String,
    /// `wechat` or `dev`.
    pub provider: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_masked: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_masked: Option<String>,
    /// The provider's user id (WeChat's openid), sealed with the context
    /// `<account>/openid`: where notices (subscribe messages) go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openid_sealed: Option<String>,
    /// Role name → when it was granted.
    #[serde(default)]
    pub roles: BTreeMap<String, String>,
    /// Dependent subject → link. Kept here so that listing them is one read.
    #[serde(default)]
    pub dependents: BTreeMap<String, DependentLink>,
    /// Session tokens logged out, by token id → when each would have expired
    /// (Unix seconds). Every authenticated request reads the account, so the
    /// marker rides on a read; expired entries are dropped at the next logout.
    #[serde(default)]
    pub revoked: BTreeMap<String, i64>,
    /// Bumped by every logout, which writes `revoked` only if it is unchanged.
    #[serde(default)]
    pub revoked_ver: u64,
    /// The Shanghai day of the name/ID checks in `check_ids` (attempts.rs).
    #[serde(default, rename = "chk_day", skip_serializing)]
    pub check_day: Option<String>,
    /// That day's checks that failed or are in flight, one id each.
    #[serde(default, rename = "chk_ids", skip_serializing)]
    pub check_ids: Vec<String>,
    /// Those of them that failed.
    #[serde(default, rename = "chk_fail", skip_serializing)]
    pub check_failed: Vec<String>,
}

impl Account {
    pub fn new(id: String, provider: &str, now: OffsetDateTime) -> Self {
        Self {
            id,
            provider: provider.to_owned(),
            created_at: now,
            subject_id: None,
            name_masked: None,
            id_masked: None,
            openid_sealed: None,
            roles: BTreeMap::new(),
            dependents: BTreeMap::new(),
            revoked: BTreeMap::new(),
            revoked_ver: 0,
            check_day: None,
            check_ids: Vec::new(),
            check_failed: Vec::new(),
        }
    }

    /// Whether the session's token still works: not logged out.
    pub fn accepts(&self, token: &crate::auth::TokenRef) -> bool {
        !self.revoked.contains_key(&token.id)
    }

    pub fn role_list(&self) -> Vec<crate::domain::role::Role> {
        self.roles
            .keys()
            .filter_map(|r| crate::domain::role::Role::parse(r))
            .collect()
    }
}

#[derive(Serialize, Deserialize)]
pub(crate) struct AccountItem {
    pk: String,
    #[serde(flatten)]
    pub(crate) account: Account,
}

/// The identity part of a subject's profile. The status facts that the
/// declaration and code functions keep on the same item are not touched here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    pub subject_id: String,
    pub id_hash: String,
    /// ID number, name and phone, sealed with the context `<subject>/<field>`.
    pub id_sealed: String,
    pub name_sealed: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_sealed: Option<String>,
    pub name_masked: String,
    pub id_masked: String,
    /// The account that holds this identity as its own, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Guardian account → the guardian's link.
    #[serde(default)]
    pub guardians: BTreeMap<String, Guardian>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A subject's identity in clear, for the health authority only.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct Revealed {
    pub name: String,
    pub id_number: String,
    pub phone: Option<String>,
}

impl std::fmt::Debug for Revealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Revealed(..)")
    }
}

impl Identity {
    /// Opens the sealed identity.
    pub fn reveal(&self, pii: &crate::crypto::PiiKeys) -> Result<Revealed, crate::crypto::CryptoError> {
        let open = |sealed: &str, field: &str| pii.open(sealed, &format!("{}/{field}", self.subject_id));
        Ok(Revealed {
            name: if self.is_named() {
                open(&self.name_sealed, "name")?
            } else {
                String::new()
            },
            id_number: open(&self.id_sealed, "id")?,
            phone: self.phone_sealed.as_deref().map(|p| open(p, "phone")).transpose()?,
        })
    }

    /// Whether the person's name is known: not for a subject created by an
    /// assisted check-in (by ID number alone) until someone claims it.
    pub fn is_named(&self) -> bool {
        !self.name_sealed.is_empty()
    }

    /// Whether `account` may act for this subject: it is the owner or a guardian.
    pub fn may_act(&self, account: &str) -> bool {
        self.owner.as_deref() == Some(account) || self.guardians.contains_key(account)
    }
}

#[derive(Serialize)]
struct NewProfileItem<'a> {
    pk: String,
    sk: &'static str,
    #[serde(flatten)]
    identity: &'a Identity,
    ver: u64,
    facts: Facts,
}

/// The `P#<hash>` items of one ID number.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PersonState {
    /// The subject holding the number, and its owner account.
    pub person: Option<Person>,
    /// The authority's record for the number, kept until the person registers.
    pub risk: Option<RiskRecord>,
    /// `updated_at` of the risk item, used to detect a concurrent import.
    pub risk_version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Person {
    pub subject_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

#[derive(Serialize)]
struct PersonItem<'a> {
    pk: String,
    sk: &'static str,
    #[serde(flatten)]
    person: &'a Person,
}

#[derive(Deserialize)]
struct PersonProbe {
    sk: String,
    #[serde(default)]
    subject_id: Option<String>,
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    record: Option<RiskRecord>,
    #[serde(default)]
    updated_at: Option<String>,
}

/// Outcome of binding an identity to an account.
#[derive(Debug, PartialEq, Eq)]
pub enum BindResult {
    Bound,
    /// The ID number got a holder meanwhile, or its risk record changed: read again.
    Raced,
    /// The account has its own subject already.
    AccountBound,
}

/// What linking a dependent writes besides the subject: the link on the
/// guardian's account (within `max` dependents), the guardian's entry on the
/// subject, and the release of the name/ID check the call reserved.
pub struct NewLink<'a> {
    pub link: &'a DependentLink,
    pub guardian: &'a Guardian,
    pub max: usize,
    pub check: Option<&'a str>,
}

/// Outcome of linking a dependent.
#[derive(Debug, PartialEq, Eq)]
pub enum LinkResult {
    Linked,
    Raced,
    /// The guardian has the maximum number of dependents.
    Full,
    /// The guardian is not verified (or the account vanished).
    NotVerified,
    /// The dependent is linked to this account already.
    AlreadyLinked,
    /// The invitation is unknown, used or expired.
    NotInvited,
}

impl Store {
    pub async fn get_account(&self, id: &str) -> Result<Option<Account>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.accounts)
            .set_key(Some(key(account_pk(id))))
            .consistent_read(true)
            .send()
            .await?;
        out.item
            .map(|item| from_item::<AccountItem>(item).map(|a| a.account))
            .transpose()
    }

    /// Revokes a session token until it would have expired, dropping the
    /// revocations that have expired by `now`; `false` when another logout
    /// changed the account since it was read (read it again and retry).
    pub async fn revoke_token(
        &self,
        account: &Account,
        token: &crate::auth::TokenRef,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut revoked: BTreeMap<String, i64> = account
            .revoked
            .iter()
            .filter(|(_, expires)| **expires > now.unix_timestamp())
            .map(|(id, expires)| (id.clone(), *expires))
            .collect();
        revoked.insert(token.id.clone(), token.expires);
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.accounts)
            .set_key(Some(key(account_pk(&account.id))))
            .update_expression("SET revoked = :revoked, revoked_ver = :next")
            .condition_expression("attribute_exists(pk) AND (revoked_ver = :read OR attribute_not_exists(revoked_ver))")
            .expression_attribute_values(":revoked", value(&revoked))
            .expression_attribute_values(":read", super::n(account.revoked_ver))
            .expression_attribute_values(":next", super::n(account.revoked_ver + 1))
            .send()
            .await;
        written(result)
    }

    /// Creates the account unless it exists; returns the stored account either way.
    pub async fn create_account(&self, account: Account) -> Result<Account, StoreError> {
        let item = to_item(&AccountItem {
            pk: account_pk(&account.id),
            account: account.clone(),
        });
        let result = self
            .client
            .put_item()
            .table_name(&self.tables.accounts)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        if written(result)? {
            return Ok(account);
        }
        self.get_account(&account.id)
            .await?
            .ok_or_else(|| StoreError::Corrupt("account vanished after a conflicting create".into()))
    }

    /// Grants (or revokes) a role; `false` when the account does not exist.
    pub async fn set_role(
        &self,
        account_id: &str,
        role: crate::domain::role::Role,
        granted: Option<OffsetDateTime>,
    ) -> Result<bool, StoreError> {
        let request = self
            .client
            .update_item()
            .table_name(&self.tables.accounts)
            .set_key(Some(key(account_pk(account_id))))
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#roles", "roles")
            .expression_attribute_names("#role", role.as_str());
        let request = match granted {
            Some(at) => request
                .update_expression("SET #roles.#role = :at")
                .expression_attribute_values(":at", s(super::sort_time(at))),
            None => request.update_expression("REMOVE #roles.#role"),
        };
        written(request.send().await)
    }

    /// Several accounts' sealed openids, by account id (eventually
    /// consistent: an openid never changes); accounts without one are left out.
    pub async fn openids(&self, ids: &[String]) -> Result<std::collections::HashMap<String, String>, StoreError> {
        let keys = ids.iter().map(|id| key(account_pk(id))).collect();
        let items = self.batch_get(&self.tables.accounts, keys, false).await?;
        let mut found = std::collections::HashMap::new();
        for item in items {
            let account = from_item::<AccountItem>(item)?.account;
            if let Some(sealed) = account.openid_sealed {
                found.insert(account.id, sealed);
            }
        }
        Ok(found)
    }

    /// Keeps the sealed openid of an account that has none yet (accounts
    /// made before notices were sent); `false` when the account is gone.
    pub async fn set_openid(&self, account: &str, sealed: &str) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.accounts)
            .set_key(Some(super::key(account_pk(account))))
            .update_expression("SET openid_sealed = if_not_exists(openid_sealed, :sealed)")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":sealed", s(sealed))
            .send()
            .await;
        written(result)
    }

    /// The holder of an ID number and its risk record, read consistently.
    pub async fn find_person(&self, id_hash: &str) -> Result<PersonState, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.tables.subjects)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(person_pk(id_hash)))
            .consistent_read(true)
            .send()
            .await?;
        let mut state = PersonState::default();
        for item in out.items.unwrap_or_default() {
            let probe: PersonProbe = from_item(item)?;
            match probe.sk.as_str() {
                PERSON => {
                    let subject_id = probe
                        .subject_id
                        .ok_or_else(|| StoreError::Corrupt("person without subject".into()))?;
                    state.person = Some(Person {
                        subject_id,
                        owner: probe.owner,
                    });
                }
                RISK => {
                    state.risk = probe.record;
                    state.risk_version = probe.updated_at;
                }
                _ => {}
            }
        }
        Ok(state)
    }

    pub async fn get_identity(&self, subject_id: &str) -> Result<Option<Identity>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.subjects)
            .set_key(Some(key2(subject_pk(subject_id), PROFILE)))
            .consistent_read(true)
            .send()
            .await?;
        out.item.map(from_item).transpose()
    }

    /// Binds a new subject to `account` as its own: the ID-hash index, the
    /// profile and the account change together or not at all.
    pub async fn bind_new_subject(
        &self,
        account_id: &str,
        identity: &Identity,
        seen: &PersonState,
        check: Option<&str>,
    ) -> Result<BindResult, StoreError> {
        let person = Person {
            subject_id: identity.subject_id.clone(),
            owner: Some(account_id.to_owned()),
        };
        let items = vec![
            self.put_person(&identity.id_hash, &person),
            self.put_profile(identity, seen),
            self.set_own_subject(account_id, identity, check),
            self.risk_unchanged(&identity.id_hash, seen),
        ];
        match self.transact(items).await {
            Ok(()) => Ok(BindResult::Bound),
            Err(e) if e.failed_at(2) => Ok(BindResult::AccountBound),
            Err(e) if e.failed_at(0) || e.failed_at(3) => Ok(BindResult::Raced),
            Err(e) => Err(e.into_store()),
        }
    }

    /// Makes `account` the owner of a subject that so far only guardians
    /// held, replacing its sealed name and phone with the verified ones.
    pub async fn claim_subject(
        &self,
        account_id: &str,
        identity: &Identity,
        check: Option<&str>,
    ) -> Result<BindResult, StoreError> {
        let claim_person = Update::builder()
            .table_name(&self.tables.subjects)
            .set_key(Some(key2(person_pk(&identity.id_hash), PERSON)))
            .update_expression("SET #owner = :account")
            .condition_expression("attribute_not_exists(#owner) AND subject_id = :subject")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":account", s(account_id))
            .expression_attribute_values(":subject", s(&identity.subject_id))
            .build()
            .expect("complete update");
        let mut update_profile = Update::builder()
            .table_name(&self.tables.subjects)
            .set_key(Some(key2(subject_pk(&identity.subject_id), PROFILE)))
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(#owner)")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":account", s(account_id))
            .expression_attribute_values(":name", s(&identity.name_sealed))
            .expression_attribute_values(":masked", s(&identity.name_masked))
            .expression_attribute_values(":one", super::n(1));
        update_profile = match &identity.phone_sealed {
            Some(phone) => update_profile
                .update_expression("SET #owner = :account, name_sealed = :name, name_masked = :masked, phone_sealed = :phone ADD ver :one")
                .expression_attribute_values(":phone", s(phone)),
            None => update_profile.update_expression("SET #owner = :account, name_sealed = :name, name_masked = :masked ADD ver :one"),
        };
        let items = vec![
            TransactWriteItem::builder().update(claim_person).build(),
            TransactWriteItem::builder()
                .update(update_profile.build().expect("complete update"))
                .build(),
            self.set_own_subject(account_id, identity, check),
        ];
        match self.transact(items).await {
            Ok(()) => Ok(BindResult::Bound),
            Err(e) if e.failed_at(2) => Ok(BindResult::AccountBound),
            Err(e) if e.failed_at(0) || e.failed_at(1) => Ok(BindResult::Raced),
            Err(e) => Err(e.into_store()),
        }
    }

    /// Creates a subject for a dependent and links it to its guardian, within
    /// the guardian's limit of `max` dependents.
    pub async fn link_new_dependent(
        &self,
        guardian: &str,
        identity: &Identity,
        link: &NewLink<'_>,
        seen: &PersonState,
    ) -> Result<LinkResult, StoreError> {
        let person = Person {
            subject_id: identity.subject_id.clone(),
            owner: None,
        };
        let items = vec![
            self.put_person(&identity.id_hash, &person),
            self.put_profile(identity, seen),
            self.add_dependent_link(guardian, &identity.subject_id, link),
            self.risk_unchanged(&identity.id_hash, seen),
        ];
        self.link_outcome(items, guardian, &identity.subject_id).await
    }

    /// Links an existing subject that no one holds, neither an owner nor a
    /// guardian, as a dependent: the first guardian needs no one's consent.
    /// `name` (sealed, masked) names a subject whose name was unknown.
    pub async fn link_unheld_dependent(
        &self,
        guardian: &str,
        subject_id: &str,
        link: &NewLink<'_>,
        name: Option<(&str, &str)>,
    ) -> Result<LinkResult, StoreError> {
        let add_guardian = Update::builder()
            .table_name(&self.tables.subjects)
            .set_key(Some(key2(subject_pk(subject_id), PROFILE)))
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(#owner) AND size(guardians) = :zero")
            .expression_attribute_names("#account", guardian)
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":guardian", value(link.guardian))
            .expression_attribute_values(":one", super::n(1))
            .expression_attribute_values(":zero", super::n(0));
        let add_guardian = match name {
            Some((sealed, masked)) => add_guardian
                .update_expression(
                    "SET guardians.#account = :guardian, name_sealed = :name, name_masked = :masked ADD ver :one",
                )
                .expression_attribute_values(":name", s(sealed))
                .expression_attribute_values(":masked", s(masked)),
            None => add_guardian.update_expression("SET guardians.#account = :guardian ADD ver :one"),
        }
        .build()
        .expect("complete update");
        let items = vec![
            TransactWriteItem::builder().update(add_guardian).build(),
            self.add_dependent_link(guardian, subject_id, link),
        ];
        self.link_outcome(items, guardian, subject_id).await
    }

    /// Creates a subject that no one holds, for a person known only by ID
    /// number (an assisted check-in): the ID-hash index and the profile,
    /// carrying any risk record filed for the number. `false` when the
    /// number got a holder, or its risk record changed, meanwhile.
    pub async fn create_unheld_subject(&self, identity: &Identity, seen: &PersonState) -> Result<bool, StoreError> {
        let person = Person {
            subject_id: identity.subject_id.clone(),
            owner: None,
        };
        let items = vec![
            self.put_person(&identity.id_hash, &person),
            self.put_profile(identity, seen),
            self.risk_unchanged(&identity.id_hash, seen),
        ];
        match self.transact(items).await {
            Ok(()) => Ok(true),
            Err(TxError::Cancelled(_)) => Ok(false),
            Err(e) => Err(e.into_store()),
        }
    }

    async fn link_outcome(
        &self,
        items: Vec<TransactWriteItem>,
        guardian: &str,
        subject_id: &str,
    ) -> Result<LinkResult, StoreError> {
        let account_index = items
            .iter()
            .position(|i| i.update().is_some_and(|u| u.table_name() == self.tables.accounts))
            .expect("the transaction updates the account");
        match self.transact(items).await {
            Ok(()) => Ok(LinkResult::Linked),
            Err(e) if e.failed_at(account_index) => self.link_refused(guardian, subject_id).await,
            Err(TxError::Cancelled(_)) => Ok(LinkResult::Raced),
            Err(e) => Err(e.into_store()),
        }
    }

    /// Why the guardian's account refused a link: tells apart the reasons
    /// its condition can fail.
    pub(crate) async fn link_refused(&self, guardian: &str, subject_id: &str) -> Result<LinkResult, StoreError> {
        let account = self.get_account(guardian).await?;
        Ok(match account {
            Some(a) if a.dependents.contains_key(subject_id) => LinkResult::AlreadyLinked,
            Some(a) if a.subject_id.is_none() => LinkResult::NotVerified,
            Some(_) => LinkResult::Full,
            None => LinkResult::NotVerified,
        })
    }

    /// Unlinks a dependent; `false` when it was not linked to `guardian`.
    pub async fn unlink_dependent(&self, guardian: &str, subject_id: &str) -> Result<bool, StoreError> {
        let remove_link = Update::builder()
            .table_name(&self.tables.accounts)
            .set_key(Some(key(account_pk(guardian))))
            .update_expression("REMOVE dependents.#subject")
            .condition_expression("attribute_exists(dependents.#subject)")
            .expression_attribute_names("#subject", subject_id)
            .build()
            .expect("complete update");
        let remove_guardian = Update::builder()
            .table_name(&self.tables.subjects)
            .set_key(Some(key2(subject_pk(subject_id), PROFILE)))
            .update_expression("REMOVE guardians.#account ADD ver :one")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#account", guardian)
            .expression_attribute_values(":one", super::n(1))
            .build()
            .expect("complete update");
        let items = vec![
            TransactWriteItem::builder().update(remove_link).build(),
            TransactWriteItem::builder().update(remove_guardian).build(),
        ];
        match self.transact(items).await {
            Ok(()) => Ok(true),
            Err(e) if e.failed_at(0) => Ok(false),
            Err(e) => Err(e.into_store()),
        }
    }

    fn put_person(&self, id_hash: &str, person: &Person) -> TransactWriteItem {
        let item = to_item(&PersonItem {
            pk: person_pk(id_hash),
            sk: PERSON,
            person,
        });
        put(&self.tables.subjects, item, "attribute_not_exists(pk)")
    }

    /// A new profile, carrying the risk record the authority filed for the
    /// number before the person registered.
    fn put_profile(&self, identity: &Identity, seen: &PersonState) -> TransactWriteItem {
        let facts = Facts {
            risk: seen.risk.clone(),
            ..Facts::default()
        };
        let item = to_item(&NewProfileItem {
            pk: subject_pk(&identity.subject_id),
            sk: PROFILE,
            identity,
            ver: 0,
            facts,
        });
        put(&self.tables.subjects, item, "attribute_not_exists(pk)")
    }

    /// The account's own subject, set once; `check` is the name/ID check this
    /// call reserved, released by the same write (attempts.rs).
    fn set_own_subject(&self, account_id: &str, identity: &Identity, check: Option<&str>) -> TransactWriteItem {
        let update = Update::builder()
            .table_name(&self.tables.accounts)
            .set_key(Some(key(account_pk(account_id))))
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(subject_id)")
            .expression_attribute_values(":subject", s(&identity.subject_id))
            .expression_attribute_values(":name", s(&identity.name_masked))
            .expression_attribute_values(":id", s(&identity.id_masked));
        let update = super::attempts::releasing(
            update,
            "SET subject_id = :subject, name_masked = :name, id_masked = :id",
            check,
        );
        TransactWriteItem::builder()
            .update(update.build().expect("complete update"))
            .build()
    }

    pub(crate) fn add_dependent_link(&self, guardian: &str, subject_id: &str, link: &NewLink<'_>) -> TransactWriteItem {
        let update = Update::builder()
            .table_name(&self.tables.accounts)
            .set_key(Some(key(account_pk(guardian))))
            .condition_expression(
                "attribute_exists(subject_id) AND size(dependents) < :max AND attribute_not_exists(dependents.#subject)",
            )
            .expression_attribute_names("#subject", subject_id)
            .expression_attribute_values(":link", value(link.link))
            .expression_attribute_values(":max", super::n(link.max));
        let update = super::attempts::releasing(update, "SET dependents.#subject = :link", link.check);
        TransactWriteItem::builder()
            .update(update.build().expect("complete update"))
            .build()
    }

    /// Fails the transaction if a risk record for the ID number appeared or
    /// changed since it was read, so that it is never lost between an
    /// import and a registration.
    fn risk_unchanged(&self, id_hash: &str, seen: &PersonState) -> TransactWriteItem {
        let check = ConditionCheck::builder()
            .table_name(&self.tables.subjects)
            .set_key(Some(key2(person_pk(id_hash), RISK)));
        let check = match &seen.risk_version {
            None => check.condition_expression("attribute_not_exists(pk)"),
            Some(v) => check
                .condition_expression("updated_at = :seen")
                .expression_attribute_values(":seen", s(v)),
        };
        TransactWriteItem::builder()
            .condition_check(check.build().expect("complete check"))
            .build()
    }
}

fn put(table: &str, item: Item, condition: &str) -> TransactWriteItem {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression(condition)
        .build()
        .expect("complete put");
    TransactWriteItem::builder().put(put).build()
}

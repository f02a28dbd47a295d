//! Further guardians by consent: invitations, redeeming one, and the owner
//! removing a guardian.
//!
//! Items (see docs/data-model.md):
//! - subjects `S#<subject>`/`I#<code hash>`: an invitation to become a further
//!   guardian of the subject, by its owner or a guardian; only the SHA-256 of
//!   the code is stored; single use, deleted when redeemed, TTL `expires`.
//!
//! The guardians themselves are the `guardians` map of the subject's profile
//! and the `dependents` map of each guardian's account (accounts.rs).

use aws_sdk_dynamodb::types::{Delete, TransactWriteItem, Update};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::accounts::{LinkResult, NewLink};
use super::keys::{PROFILE, account_pk, subject_pk};
use super::{Store, StoreError, TxError, from_item, key, key2, n, s, to_item, value};

/// An invitation as stored, without its code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invitation {
    /// The inviting account: the subject's owner or one of its guardians.
    pub by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

#[derive(Serialize)]
struct InvitationItem<'a> {
    pk: String,
    sk: String,
    #[serde(flatten)]
    invitation: &'a Invitation,
    /// TTL: DynamoDB deletes the item some time after it expired; reads and
    /// the redemption's condition check `expires` themselves.
    expires: i64,
}

fn invitation_sk(code_hash: &str) -> String {
    format!("I#{code_hash}")
}

impl Store {
    /// Stores an invitation under the hash of its code. The code is random,
    /// so the put needs no condition, and the SDK's retry of a put whose
    /// answer was lost writes the same item again.
    pub async fn put_invitation(
        &self,
        subject_id: &str,
        code_hash: &str,
        invitation: &Invitation,
    ) -> Result<(), StoreError> {
        let item = to_item(&InvitationItem {
            pk: subject_pk(subject_id),
            sk: invitation_sk(code_hash),
            invitation,
            expires: invitation.expires_at.unix_timestamp(),
        });
        self.client
            .put_item()
            .table_name(&self.tables.subjects)
            .set_item(Some(item))
            .send()
            .await?;
        Ok(())
    }

    /// The invitation with this code hash for the subject, unless it expired
    /// or was used; read strongly consistently.
    pub async fn get_invitation(
        &self,
        subject_id: &str,
        code_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Invitation>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.subjects)
            .set_key(Some(key2(subject_pk(subject_id), invitation_sk(code_hash))))
            .consistent_read(true)
            .send()
            .await?;
        let invitation = out.item.map(from_item::<Invitation>).transpose()?;
        Ok(invitation.filter(|i| i.expires_at > now))
    }

    /// Makes `guardian` a further guardian of the subject by the invitation:
    /// the guardian's entry on the profile (while the inviter still holds
    /// the subject), the link on the guardian's account and the deletion of
    /// the invitation (while it is unexpired) commit together or not at all,
    /// so an invitation adds one guardian however many redeem it at once.
    pub async fn redeem_invitation(
        &self,
        guardian: &str,
        subject_id: &str,
        code_hash: &str,
        inviter: &str,
        link: &NewLink<'_>,
        now: OffsetDateTime,
    ) -> Result<LinkResult, StoreError> {
        let add_guardian = Update::builder()
            .table_name(&self.tables.subjects)
            .set_key(Some(key2(subject_pk(subject_id), PROFILE)))
            .update_expression("SET guardians.#account = :guardian ADD ver :one")
            .condition_expression(
                "attribute_exists(pk) AND attribute_not_exists(guardians.#account) \
                 AND (#owner = :inviter OR attribute_exists(guardians.#inviter))",
            )
            .expression_attribute_names("#account", guardian)
            .expression_attribute_names("#inviter", inviter)
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":guardian", value(link.guardian))
            .expression_attribute_values(":inviter", s(inviter))
            .expression_attribute_values(":one", n(1))
            .build()
            .expect("complete update");
        let use_invitation = Delete::builder()
            .table_name(&self.tables.subjects)
            .set_key(Some(key2(subject_pk(subject_id), invitation_sk(code_hash))))
            .condition_expression("attribute_exists(pk) AND expires > :now")
            .expression_attribute_values(":now", n(now.unix_timestamp()))
            .build()
            .expect("complete delete");
        let items = vec![
            self.add_dependent_link(guardian, subject_id, link),
            TransactWriteItem::builder().update(add_guardian).build(),
            TransactWriteItem::builder().delete(use_invitation).build(),
        ];
        match self.transact(items).await {
            Ok(()) => Ok(LinkResult::Linked),
            Err(e) if e.failed_at(2) => Ok(LinkResult::NotInvited),
            Err(e) if e.failed_at(0) => self.link_refused(guardian, subject_id).await,
            Err(TxError::Cancelled(_)) => Ok(LinkResult::Raced),
            Err(e) => Err(e.into_store()),
        }
    }

    /// The owner removes guardian `account` (whose link on the subject has
    /// id `link_id`) from their subject, both ways in one transaction: the
    /// entry on the profile, whose version changes so that a declaration in
    /// flight reads again, and the dependent on the guardian's account.
    /// `false` when the subject has no such guardian (any more).
    pub async fn remove_guardian(&self, subject_id: &str, account: &str, link_id: &str) -> Result<bool, StoreError> {
        let remove_entry = Update::builder()
            .table_name(&self.tables.subjects)
            .set_key(Some(key2(subject_pk(subject_id), PROFILE)))
            .update_expression("REMOVE guardians.#account ADD ver :one")
            .condition_expression("guardians.#account.id = :link")
            .expression_attribute_names("#account", account)
            .expression_attribute_values(":link", s(link_id))
            .expression_attribute_values(":one", n(1))
            .build()
            .expect("complete update");
        let remove_dependent = Update::builder()
            .table_name(&self.tables.accounts)
            .set_key(Some(key(account_pk(account))))
            .update_expression("REMOVE dependents.#subject")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#subject", subject_id)
            .build()
            .expect("complete update");
        let items = vec![
            TransactWriteItem::builder().update(remove_entry).build(),
            TransactWriteItem::builder().update(remove_dependent).build(),
        ];
        match self.transact(items).await {
            Ok(()) => Ok(true),
            Err(e) if e.failed_at(0) => Ok(false),
            Err(e) => Err(e.into_store()),
        }
    }
}

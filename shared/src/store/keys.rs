//! The keys of the items about accounts and persons, which several store
//! modules read and write: the account, the subject's profile, the ID-hash
//! index and the risk record (docs/data-model.md).

pub(crate) const PROFILE: &str = "PROFILE";
pub(crate) const PERSON: &str = "PERSON";
pub(crate) const RISK: &str = "RISK";

pub(crate) fn account_pk(id: &str) -> String {
    format!("A#{id}")
}

pub(crate) fn subject_pk(id: &str) -> String {
    format!("S#{id}")
}

pub(crate) fn person_pk(id_hash: &str) -> String {
    format!("P#{id_hash}")
}

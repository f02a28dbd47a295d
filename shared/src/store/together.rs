//! Several items a request needs, read in one `BatchGetItem`: one round trip,
//! each item priced on its own (half a read unit up to 4 KB, eventually
//! consistent). A check-in reads the venue, the visitor's profile and the
//! caller's account (whose logged-out tokens it checks) this way.

use std::time::Duration;

use aws_sdk_dynamodb::types::KeysAndAttributes;

use super::accounts::{Account, AccountItem};
use super::keys::{PROFILE, account_pk, subject_pk};
use super::subjects::Subject;
use super::venues::{Venue, VenueItem, venue_pk};
use super::{Item, Store, StoreError, from_item, key, key2};

/// What to read; `None` reads nothing of that kind.
#[derive(Default)]
pub struct Wanted<'a> {
    pub venue: Option<&'a str>,
    /// The subject's profile, and whether strongly consistently.
    pub subject: Option<(&'a str, bool)>,
    /// The account, eventually consistently.
    pub account: Option<&'a str>,
}

/// What was found.
#[derive(Default)]
pub struct Found {
    pub venue: Option<Venue>,
    pub subject: Option<Subject>,
    pub account: Option<Account>,
}

impl Store {
    pub async fn read_together(&self, wanted: Wanted<'_>) -> Result<Found, StoreError> {
        let keys = |key: Item, consistent: bool| {
            KeysAndAttributes::builder()
                .keys(key)
                .consistent_read(consistent)
                .build()
                .expect("keys")
        };
        let mut request = self.client.batch_get_item();
        if let Some(id) = wanted.venue {
            request = request.request_items(&self.tables.venues, keys(key(venue_pk(id)), false));
        }
        if let Some((id, consistent)) = wanted.subject {
            request = request.request_items(&self.tables.subjects, keys(key2(subject_pk(id), PROFILE), consistent));
        }
        if let Some(id) = wanted.account {
            request = request.request_items(&self.tables.accounts, keys(key(account_pk(id)), false));
        }
        let mut found = Found::default();
        // BatchGetItem may return some keys as unprocessed under load: ask again for those.
        for _ in 0..5 {
            let out = request.send().await?;
            for (table, items) in out.responses.unwrap_or_default() {
                for item in items {
                    if table == self.tables.venues {
                        found.venue = Some(from_item::<VenueItem>(item)?.venue);
                    } else if table == self.tables.subjects {
                        found.subject = Some(from_item(item)?);
                    } else {
                        found.account = Some(from_item::<AccountItem>(item)?.account);
                    }
                }
            }
            match out.unprocessed_keys.filter(|k| !k.is_empty()) {
                None => return Ok(found),
                Some(rest) => {
                    request = self.client.batch_get_item().set_request_items(Some(rest));
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
        Err(StoreError::Unavailable("batch read left keys unprocessed".into()))
    }
}

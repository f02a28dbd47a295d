//! Venue codes (场所码): the venue item `V#<venue>` and the marker
//! `O#<account>` that holds an applicant to one venue. Both are written in
//! one transaction, so two applications at once leave exactly one venue.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem, Update};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{Item, Store, StoreError, from_item, key, s, sort_time, to_item};

/// The kinds of place a venue code is issued for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    Residential,
    Workplace,
    Checkpoint,
    PublicService,
    Transport,
    Commerce,
    School,
    Medical,
    Other,
}

impl Category {
    /// The Chinese label printed on the poster.
    pub fn label(self) -> &'static str {
        match self {
            Category::Residential => "居民小区",
            Category::Workplace => "工作单位",
            Category::Checkpoint => "交通卡口",
            Category::PublicService => "公共管理和服务机构",
            Category::Transport => "公共交通",
            Category::Commerce => "商业场所",
            Category::School => "学校",
            Category::Medical => "医疗机构",
            Category::Other => "其他场所",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Venue {
    pub id: String,
    /// The applicant's account, who answers for the venue's details.
    pub owner: String,
    pub name: String,
    pub address: String,
    /// County-level Hebei division code.
    pub region: String,
    pub category: Category,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub revoked_at: Option<OffsetDateTime>,
    /// How many index partitions its check-ins are spread over (see the log).
    pub shards: u32,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct VenueItem {
    pk: String,
    #[serde(flatten)]
    pub(crate) venue: Venue,
}

#[derive(Serialize, Deserialize)]
struct OwnerItem {
    pk: String,
    venue_id: String,
}

pub(crate) fn venue_pk(id: &str) -> String {
    format!("V#{id}")
}

fn owner_pk(account: &str) -> String {
    format!("O#{account}")
}

/// Venues as a function instance last read them. A venue changes only when
/// it is revoked, so with `HC_VENUE_CACHE_SECONDS` set, check-ins at a busy
/// venue read it once per that many seconds instead of at every entry, and
/// a revocation reaches every instance within that time. The default, 0,
/// reads it at every check-in: a revoked code fails at once.
pub struct VenueCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, Venue)>>,
}

/// Venues one instance keeps at most; beyond it the cache starts over.
const VENUE_CACHE_CAPACITY: usize = 50_000;

impl VenueCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub fn from_env() -> Result<Self, crate::config::ConfigError> {
        Ok(Self::new(Duration::from_secs(crate::config::parse_or(
            "HC_VENUE_CACHE_SECONDS",
            0,
        )?)))
    }

    /// The venue, if read less than the TTL ago.
    pub fn get(&self, id: &str) -> Option<Venue> {
        let entries = self.entries.lock().expect("venue cache lock");
        entries
            .get(id)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, v)| v.clone())
    }

    pub fn put(&self, venue: &Venue) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().expect("venue cache lock");
        if entries.len() >= VENUE_CACHE_CAPACITY {
            entries.clear();
        }
        entries.insert(venue.id.clone(), (Instant::now(), venue.clone()));
    }
}

impl Store {
    /// Creates a venue; `false` when the applicant already holds one.
    pub async fn create_venue(&self, venue: &Venue) -> Result<bool, StoreError> {
        let venue_item = to_item(&VenueItem {
            pk: venue_pk(&venue.id),
            venue: venue.clone(),
        });
        let owner_item = to_item(&OwnerItem {
            pk: owner_pk(&venue.owner),
            venue_id: venue.id.clone(),
        });
        let put = |item: Item| {
            let put = Put::builder()
                .table_name(&self.tables.venues)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .expect("complete put");
            TransactWriteItem::builder().put(put).build()
        };
        match self.transact(vec![put(owner_item), put(venue_item)]).await {
            Ok(()) => Ok(true),
            Err(e) if e.failed_at(0) => Ok(false),
            Err(e) => Err(e.into_store()),
        }
    }

    /// The applicant's venue, if they hold one.
    pub async fn venue_of(&self, account: &str) -> Result<Option<Venue>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.venues)
            .set_key(Some(key(owner_pk(account))))
            .consistent_read(true)
            .send()
            .await?;
        let Some(item) = out.item else { return Ok(None) };
        let owner: OwnerItem = from_item(item)?;
        self.get_venue(&owner.venue_id).await
    }

    pub async fn get_venue(&self, id: &str) -> Result<Option<Venue>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.venues)
            .set_key(Some(key(venue_pk(id))))
            .consistent_read(true)
            .send()
            .await?;
        out.item
            .map(|item| from_item::<VenueItem>(item).map(|v| v.venue))
            .transpose()
    }

    /// Several venues, by id; missing ones are left out.
    pub async fn get_venues(&self, ids: &[String]) -> Result<HashMap<String, Venue>, StoreError> {
        let keys = ids.iter().map(|id| key(venue_pk(id))).collect();
        let items = self.batch_get(&self.tables.venues, keys, false).await?;
        items
            .into_iter()
            .map(|item| from_item::<VenueItem>(item).map(|v| (v.venue.id.clone(), v.venue)))
            .collect()
    }

    /// Revokes a venue: its printed code stops working, and its applicant may
    /// apply again. `false` when it was revoked already.
    pub async fn revoke_venue(&self, venue: &Venue, at: OffsetDateTime) -> Result<bool, StoreError> {
        let revoke = Update::builder()
            .table_name(&self.tables.venues)
            .set_key(Some(key(venue_pk(&venue.id))))
            .update_expression("SET revoked_at = :at")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(revoked_at)")
            .expression_attribute_values(":at", s(sort_time(at)))
            .build()
            .expect("complete update");
        let release = Delete::builder()
            .table_name(&self.tables.venues)
            .set_key(Some(key(owner_pk(&venue.owner))))
            .condition_expression("venue_id = :venue")
            .expression_attribute_values(":venue", s(&venue.id))
            .build()
            .expect("complete delete");
        let items = vec![
            TransactWriteItem::builder().update(revoke).build(),
            TransactWriteItem::builder().delete(release).build(),
        ];
        match self.transact(items).await {
            Ok(()) => Ok(true),
            Err(e) if e.failed_at(0) || e.failed_at(1) => Ok(false),
            Err(e) => Err(e.into_store()),
        }
    }
}

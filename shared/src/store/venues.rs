//! Venue codes (场所码): the venue item `V#<venue>` and the marker
//! `O#<account>` that holds an applicant to one venue. Both are written in
//! one transaction, so two applications at once leave exactly one venue.
//! The venue item also carries `listed`, its place in the `by-region`
//! index, through which the authority lists a county's venues.

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
    /// The sort key of the `by-region` index: `<created, UTC ms>#<venue id>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    listed: Option<String>,
}

/// The county index of venues, newest first.
const BY_REGION: &str = "by-region";

/// A venue as the county index holds it: all but its applicant and shards.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Listing {
    pub id: String,
    pub name: String,
    pub address: String,
    pub region: String,
    pub category: Category,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    /// The index position, which a page continues after.
    pub listed: String,
}

/// A page of a county's venues, and where the next one starts.
#[derive(Debug, Default)]
pub struct Listings {
    pub venues: Vec<Listing>,
    pub next: Option<String>,
}

/// How a search of a county pages: after a position, at most `limit`
/// venues, evaluating at most `budget` index entries (a name filter is
/// applied after DynamoDB reads them, so a rare name would otherwise read
/// the whole county in one request).
#[derive(Debug, Clone, Copy)]
pub struct Search<'a> {
    pub region: &'a str,
    pub name_part: Option<&'a str>,
    pub after: Option<&'a str>,
    pub limit: usize,
    pub budget: usize,
}

/// Index entries one filtered `Query` evaluates at most.
const FILTERED_CHUNK: usize = 1000;

fn listed(venue: &Venue) -> String {
    format!("{}#{}", sort_time(venue.created_at), venue.id)
}

/// Whether `position` is an index position `<UTC ms time>#<venue id>` as
/// [`Store::search_venues`] returns them, so that a client cannot steer a
/// query with a made-up key.
pub fn is_listed(position: &str) -> bool {
    match position.split_once('#') {
        Some((at, id)) => at.len() == 24 && super::parse_time(at).is_some() && is_venue_id(id),
        None => false,
    }
}

/// Whether `id` has the shape of the ids this module issues: `v_` and 26 base32 characters.
pub fn is_venue_id(id: &str) -> bool {
    crate::crypto::is_random_id(id, "v_")
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
            listed: Some(listed(venue)),
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

    /// A county's venues, newest first, whose name contains `name_part`
    /// (as typed: case and width count), a page at a time. A page may hold
    /// fewer than `limit` venues and still have a `next` when the filter
    /// left most of the `budget` of entries out.
    pub async fn search_venues(&self, search: &Search<'_>) -> Result<Listings, StoreError> {
        let mut page = Listings::default();
        let mut start = search.after.map(|position| {
            let id = position.split_once('#').map_or("", |(_, id)| id);
            HashMap::from([
                ("pk".to_owned(), s(venue_pk(id))),
                ("region".to_owned(), s(search.region)),
                ("listed".to_owned(), s(position)),
            ])
        });
        let limit = search.limit.max(1);
        let mut evaluated = 0;
        loop {
            let wanted = limit - page.venues.len();
            let mut query = self
                .client
                .query()
                .table_name(&self.tables.venues)
                .index_name(BY_REGION)
                .key_condition_expression("#region = :region")
                .expression_attribute_names("#region", "region")
                .expression_attribute_values(":region", s(search.region))
                .scan_index_forward(false)
                .set_exclusive_start_key(start.take());
            query = match search.name_part {
                Some(part) => query
                    .filter_expression("contains(#name, :part)")
                    .expression_attribute_names("#name", "name")
                    .expression_attribute_values(":part", s(part))
                    .limit(FILTERED_CHUNK.min(search.budget.saturating_sub(evaluated)).max(1) as i32),
                None => query.limit(wanted as i32),
            };
            let out = query.send().await?;
            evaluated += usize::try_from(out.scanned_count).unwrap_or_default();
            let items = out.items.unwrap_or_default();
            let found = items.len();
            for (index, item) in items.into_iter().enumerate() {
                page.venues.push(from_item(item)?);
                if page.venues.len() == limit {
                    let last_of_all = index + 1 == found && out.last_evaluated_key.is_none();
                    page.next = (!last_of_all).then(|| page.venues[page.venues.len() - 1].listed.clone());
                    return Ok(page);
                }
            }
            match out.last_evaluated_key {
                None => return Ok(page),
                Some(key) if evaluated >= search.budget => {
                    page.next = key.get("listed").and_then(|v| v.as_s().ok()).cloned();
                    return Ok(page);
                }
                Some(key) => start = Some(key),
            }
        }
    }
}

//! Province-wide settings: the risk-area list, read by every code and scan.
//!
//! Functions keep the list in memory for a short time (`HC_RISK_AREAS_TTL_SECONDS`,
//! 30 s by default): a new list reaches every code and scan within that time,
//! and the hot path does not pay a read per scan.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::sync::Mutex;

use super::{Store, StoreError, from_item, key, to_item};
use crate::domain::status::RiskAreas;

const RISK_AREAS: &str = "RISK_AREAS";

#[derive(Serialize, Deserialize)]
struct RiskAreasItem {
    pk: String,
    #[serde(flatten)]
    areas: RiskAreas,
}

impl Store {
    /// The current risk-area list; empty before the authority sets one.
    pub async fn risk_areas(&self) -> Result<RiskAreas, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.settings)
            .set_key(Some(key(RISK_AREAS)))
            .send()
            .await?;
        match out.item {
            Some(item) => Ok(from_item::<RiskAreasItem>(item)?.areas),
            None => Ok(RiskAreas {
                areas: Default::default(),
                updated_at: OffsetDateTime::UNIX_EPOCH,
            }),
        }
    }

    /// Replaces the risk-area list.
    pub async fn put_risk_areas(&self, areas: &RiskAreas) -> Result<(), StoreError> {
        let item = to_item(&RiskAreasItem {
            pk: RISK_AREAS.to_owned(),
            areas: areas.clone(),
        });
        self.client
            .put_item()
            .table_name(&self.tables.settings)
            .set_item(Some(item))
            .send()
            .await?;
        Ok(())
    }
}

/// The risk-area list, cached per function instance.
pub struct RiskAreaCache {
    ttl: Duration,
    cached: Mutex<Option<(Instant, Arc<RiskAreas>)>>,
}

impl RiskAreaCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            cached: Mutex::new(None),
        }
    }

    /// With the TTL of `HC_RISK_AREAS_TTL_SECONDS` (default 30).
    pub fn from_env() -> Result<Self, crate::config::ConfigError> {
        Ok(Self::new(Duration::from_secs(crate::config::parse_or(
            "HC_RISK_AREAS_TTL_SECONDS",
            30,
        )?)))
    }

    /// The list, read again when the cached copy is older than the TTL.
    /// Concurrent callers of one instance wait for one read.
    pub async fn get(&self, store: &Store) -> Result<Arc<RiskAreas>, StoreError> {
        let mut cached = self.cached.lock().await;
        if let Some((at, areas)) = cached.as_ref()
            && at.elapsed() < self.ttl
        {
            return Ok(areas.clone());
        }
        let areas = Arc::new(store.risk_areas().await?);
        *cached = Some((Instant::now(), areas.clone()));
        Ok(areas)
    }
}

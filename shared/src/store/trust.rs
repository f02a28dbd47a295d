//! Operator data of the national interoperability: the issuers whose codes
//! we honour (`TRUSTED_ISSUERS`) and the partner systems that may verify
//! ours (`PARTNERS`), two items of the settings table.
//!
//! Each is one item holding a map (issuer → prefix and JWK Set; partner
//! name → hash of its API key), so that a function loads the whole list in
//! one `GetItem` and keeps it in memory for at most
//! `HC_TRUST_TTL_SECONDS` (300 by default, 0 to 300): a scan of our own
//! codes never reads it, a scan of another province's code or a partner's
//! call reads it once per instance per TTL. `hcctl` changes a list by
//! reading it and writing it back on condition that its `version` did not
//! move, so two operators at once cannot lose each other's change.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::{Store, StoreError, from_item, key, n, to_item, written};
use crate::domain::trust::{TrustList, TrustedIssuer};

const TRUSTED_ISSUERS: &str = "TRUSTED_ISSUERS";
const PARTNERS: &str = "PARTNERS";

/// A trusted issuer as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuerRecord {
    /// The QR prefix of its codes, such as `BJHC:1:`.
    pub prefix: String,
    /// Its JWK Set, as JSON text.
    pub jwks: String,
    pub added_at: String,
}

/// A partner system as stored: never its key, only the key's hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartnerRecord {
    pub key_hash: String,
    pub added_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(bound = "T: Serialize + DeserializeOwned")]
struct MapItem<T> {
    pk: String,
    version: u64,
    entries: BTreeMap<String, T>,
}

/// A change of a list: refused (with the reason, and nothing written) or written.
pub type Change = Result<(), String>;

impl Store {
    async fn read_map<T: Serialize + DeserializeOwned>(
        &self,
        pk: &str,
        consistent: bool,
    ) -> Result<(u64, BTreeMap<String, T>), StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.settings)
            .set_key(Some(key(pk)))
            .consistent_read(consistent)
            .send()
            .await?;
        match out.item {
            Some(item) => {
                let item: MapItem<T> = from_item(item)?;
                Ok((item.version, item.entries))
            }
            None => Ok((0, BTreeMap::new())),
        }
    }

    /// Applies `change` to the list and writes it back unless another write
    /// came first, in which case it reads again and retries.
    async fn change_map<T: Serialize + DeserializeOwned>(
        &self,
        pk: &str,
        mut change: impl FnMut(&mut BTreeMap<String, T>) -> Change,
    ) -> Result<Change, StoreError> {
        for _ in 0..5 {
            let (version, mut entries) = self.read_map::<T>(pk, true).await?;
            if let Err(reason) = change(&mut entries) {
                return Ok(Err(reason));
            }
            let item = to_item(&MapItem {
                pk: pk.to_owned(),
                version: version + 1,
                entries,
            });
            let result = self
                .client
                .put_item()
                .table_name(&self.tables.settings)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk) OR version = :version")
                .expression_attribute_values(":version", n(version))
                .send()
                .await;
            if written(result)? {
                return Ok(Ok(()));
            }
        }
        Err(StoreError::Unavailable(
            "the list kept changing under this write".into(),
        ))
    }

    /// The trusted issuers (eventually consistent: what the functions read).
    pub async fn trusted_issuers(&self) -> Result<BTreeMap<String, IssuerRecord>, StoreError> {
        Ok(self.read_map(TRUSTED_ISSUERS, false).await?.1)
    }

    pub async fn change_trusted_issuers(
        &self,
        change: impl FnMut(&mut BTreeMap<String, IssuerRecord>) -> Change,
    ) -> Result<Change, StoreError> {
        self.change_map(TRUSTED_ISSUERS, change).await
    }

    /// The partner systems, revoked ones included.
    pub async fn partners(&self) -> Result<BTreeMap<String, PartnerRecord>, StoreError> {
        Ok(self.read_map(PARTNERS, false).await?.1)
    }

    pub async fn change_partners(
        &self,
        change: impl FnMut(&mut BTreeMap<String, PartnerRecord>) -> Change,
    ) -> Result<Change, StoreError> {
        self.change_map(PARTNERS, change).await
    }
}

/// How long functions keep the trust list and the partners: `HC_TRUST_TTL_SECONDS`,
/// 300 by default, at most 300 (what a removal or a revocation may take to apply).
pub fn ttl_from_env() -> Result<Duration, crate::config::ConfigError> {
    let seconds: u64 = crate::config::parse_or("HC_TRUST_TTL_SECONDS", 300)?;
    if seconds > 300 {
        return Err(crate::config::ConfigError::new(
            "HC_TRUST_TTL_SECONDS",
            "must be at most 300 (five minutes)",
        ));
    }
    Ok(Duration::from_secs(seconds))
}

/// A value loaded from the store, kept for a TTL per function instance.
/// Concurrent callers of one instance wait for one read.
struct Cached<T> {
    ttl: Duration,
    cached: Mutex<Option<(Instant, Arc<T>)>>,
}

impl<T> Cached<T> {
    fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            cached: Mutex::new(None),
        }
    }

    async fn get<F: Future<Output = Result<T, StoreError>>>(&self, load: F) -> Result<Arc<T>, StoreError> {
        let mut cached = self.cached.lock().await;
        if let Some((at, value)) = cached.as_ref()
            && at.elapsed() < self.ttl
        {
            return Ok(value.clone());
        }
        let value = Arc::new(load.await?);
        *cached = Some((Instant::now(), value.clone()));
        Ok(value)
    }
}

/// The trusted issuers with their keys parsed, as the scan function holds them.
pub struct TrustCache(Cached<TrustList>);

impl TrustCache {
    pub fn new(ttl: Duration) -> Self {
        Self(Cached::new(ttl))
    }

    pub fn from_env() -> Result<Self, crate::config::ConfigError> {
        Ok(Self::new(ttl_from_env()?))
    }

    pub async fn get(&self, store: &Store) -> Result<Arc<TrustList>, StoreError> {
        self.0
            .get(async {
                let records = store.trusted_issuers().await?;
                // `hcctl trust add` checks every entry; one that no longer
                // parses is left out, not allowed to stop every other issuer.
                let issuers = records
                    .iter()
                    .filter_map(|(issuer, r)| match TrustedIssuer::new(issuer, &r.prefix, &r.jwks) {
                        Ok(parsed) => Some(parsed),
                        Err(err) => {
                            tracing::error!(issuer = %issuer, error = %err, "trusted issuer left out");
                            None
                        }
                    })
                    .collect();
                Ok(TrustList::new(issuers))
            })
            .await
    }
}

/// The partners that are not revoked: (name, key hash).
pub struct PartnerCache(Cached<Vec<(String, String)>>);

impl PartnerCache {
    pub fn new(ttl: Duration) -> Self {
        Self(Cached::new(ttl))
    }

    pub fn from_env() -> Result<Self, crate::config::ConfigError> {
        Ok(Self::new(ttl_from_env()?))
    }

    pub async fn get(&self, store: &Store) -> Result<Arc<Vec<(String, String)>>, StoreError> {
        self.0
            .get(async {
                Ok(store
                    .partners()
                    .await?
                    .into_iter()
                    .filter(|(_, p)| p.revoked_at.is_none())
                    .map(|(name, p)| (name, p.key_hash))
                    .collect())
            })
            .await
    }
}

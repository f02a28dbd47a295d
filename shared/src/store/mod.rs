//! The DynamoDB adapter: the one place that knows table names, keys and
//! attribute names. Items are (de)serialised with `serde_dynamo`.
//!
//! Failures are typed: a conditional check that fails becomes a domain
//! result in the calling module; throttling, timeouts and an unreachable
//! store become [`StoreError::Unavailable`] (503 with `Retry-After`).

pub mod accounts;
pub mod appeals;
pub mod attempts;
pub mod audit;
pub mod exposures;
pub mod guardians;
mod keys;
pub mod limits;
pub mod log;
pub mod paper;
pub mod risk;
pub mod schema;
pub mod settings;
pub mod stats;
pub mod subjects;
pub mod tables;
pub mod together;
pub mod trust;
pub mod venues;

use std::collections::HashMap;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason, TransactWriteItem};
use serde::Serialize;
use serde::de::DeserializeOwned;
use thiserror::Error;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub use tables::Tables;

pub type Item = HashMap<String, AttributeValue>;

#[derive(Debug, Error)]
pub enum StoreError {
    /// Throttled, timed out or unreachable: retrying later may succeed.
    #[error("the store is unavailable ({0})")]
    Unavailable(String),
    /// The store refused the request: a bug, logged and answered with 500.
    #[error("the store refused the request ({0})")]
    Rejected(String),
    /// A stored item does not have the expected shape.
    #[error("a stored item is malformed ({0})")]
    Corrupt(String),
}

/// Error codes after which the same request may succeed.
const TRANSIENT: [&str; 7] = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionInProgressException",
    "LimitExceededException",
];

impl<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug> From<SdkError<E, R>> for StoreError {
    fn from(err: SdkError<E, R>) -> Self {
        match &err {
            SdkError::ServiceError(service) => {
                let code = service.err().code().unwrap_or("unknown").to_owned();
                if TRANSIENT.contains(&code.as_str()) {
                    StoreError::Unavailable(code)
                } else {
                    StoreError::Rejected(code)
                }
            }
            SdkError::TimeoutError(_) => StoreError::Unavailable("timeout".into()),
            SdkError::DispatchFailure(_) => StoreError::Unavailable("dispatch failure".into()),
            SdkError::ResponseError(_) => StoreError::Unavailable("unreadable response".into()),
            _ => StoreError::Rejected("request construction".into()),
        }
    }
}

/// The SDK configuration every function and `hcctl` use.
///
/// Timeouts are deliberate: a scan should fail fast with 503 rather than hold
/// a Lambda until its own timeout. One attempt may take 1.5 s, the whole
/// operation (three attempts with the SDK's backoff) 4 s.
///
/// With `AWS_ENDPOINT_URL_DYNAMODB` pointing at a local emulator and no
/// credentials or region in the environment, dummy ones are used, so that
/// `hcctl` and the functions reach the local stack with no other setting.
pub async fn sdk_config() -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .timeout_config(timeouts())
        .retry_config(retries());
    if local_endpoint() {
        if crate::config::optional("AWS_ACCESS_KEY_ID").is_none() && crate::config::optional("AWS_PROFILE").is_none() {
            loader = loader.credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "local",
                "local",
                None,
                None,
                "local-emulator",
            ));
        }
        if crate::config::optional("AWS_REGION").is_none() && crate::config::optional("AWS_DEFAULT_REGION").is_none() {
            loader = loader.region(aws_config::Region::new("us-east-1"));
        }
    }
    loader.load().await
}

/// The SDK's HTTPS client, trusting the roots that sign AWS endpoints
/// (shared/certs/README.md): the SDK's default client reads the system's
/// whole certificate store at start-up, most of a cold start's time.
/// `HC_TLS_NATIVE_ROOTS=1` trusts the system's roots instead.
fn https_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
    let trust = if crate::config::optional("HC_TLS_NATIVE_ROOTS").is_some_and(|v| v == "1") {
        TrustStore::empty().with_native_roots(true)
    } else {
        TrustStore::empty()
            .with_native_roots(false)
            .with_pem_certificate(&include_bytes!("../../certs/amazon-roots.pem")[..])
    };
    let context = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .expect("a TLS context");
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(context)
        .build_https()
}

/// Connect within 0.5 s, answer within 1.5 s an attempt and 4 s in all.
pub fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_millis(500))
        .operation_attempt_timeout(Duration::from_millis(1500))
        .operation_timeout(Duration::from_secs(4))
        .build()
}

/// Three attempts, with the SDK's standard exponential backoff and jitter.
pub fn retries() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(3)
}

/// Whether the DynamoDB endpoint is an emulator on this machine.
pub fn local_endpoint() -> bool {
    crate::config::optional("AWS_ENDPOINT_URL_DYNAMODB")
        .or_else(|| crate::config::optional("AWS_ENDPOINT_URL"))
        .is_some_and(|url| {
            let host = url.split("://").nth(1).unwrap_or(&url);
            host.starts_with("127.") || host.starts_with("localhost") || host.starts_with("[::1]")
        })
}

/// The store: the DynamoDB client and the table names.
#[derive(Clone)]
pub struct Store {
    pub(crate) client: Client,
    pub tables: Tables,
}

impl Store {
    pub fn new(client: Client, tables: Tables) -> Self {
        Self { client, tables }
    }

    /// The store of the environment: standard AWS settings, `HC_TABLE_PREFIX`.
    pub async fn from_env() -> Self {
        Self::new(Client::new(&sdk_config().await), Tables::from_env())
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Runs a transaction, retrying it while it is cancelled only by
    /// conflicts with other transactions on the same items.
    pub(crate) async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), TxError> {
        let mut delay = Duration::from_millis(20);
        for attempt in 0.. {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let err = match result {
                Ok(_) => return Ok(()),
                Err(err) => err,
            };
            let reasons = cancellation_reasons(&err);
            match reasons {
                Some(reasons)
                    if reasons
                        .iter()
                        .all(|r| r.as_deref().is_none_or(|c| c == "TransactionConflict")) =>
                {
                    if attempt >= 6 {
                        return Err(TxError::Store(StoreError::Unavailable("transaction conflicts".into())));
                    }
                    tokio::time::sleep(jitter(delay)).await;
                    delay *= 2;
                }
                Some(reasons) => return Err(TxError::Cancelled(reasons)),
                None => return Err(TxError::Store(err.into())),
            }
        }
        unreachable!("the loop returns")
    }
}

impl Store {
    /// Every item a query finds, page after page.
    pub(crate) async fn query_all(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = query.clone().set_exclusive_start_key(start).send().await?;
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    /// Reads items of one table by key, 100 keys a call, several calls in
    /// flight, asking again for the keys DynamoDB leaves unprocessed.
    pub(crate) async fn batch_get(
        &self,
        table: &str,
        keys: Vec<Item>,
        consistent: bool,
    ) -> Result<Vec<Item>, StoreError> {
        use aws_sdk_dynamodb::types::KeysAndAttributes;
        use futures::stream::{self, StreamExt, TryStreamExt};
        let chunks: Vec<Vec<Item>> = keys.chunks(100).map(<[Item]>::to_vec).collect();
        let pages = stream::iter(chunks)
            .map(|chunk| async move {
                let mut found = Vec::new();
                let mut pending = KeysAndAttributes::builder()
                    .set_keys(Some(chunk))
                    .consistent_read(consistent)
                    .build()
                    .expect("keys");
                for round in 0..8u32 {
                    let out = self
                        .client
                        .batch_get_item()
                        .request_items(table, pending)
                        .send()
                        .await?;
                    found.extend(out.responses.and_then(|mut r| r.remove(table)).unwrap_or_default());
                    match out.unprocessed_keys.and_then(|mut u| u.remove(table)) {
                        Some(rest) if !rest.keys().is_empty() => pending = rest,
                        _ => return Ok(found),
                    }
                    tokio::time::sleep(Duration::from_millis(25 << round)).await;
                }
                Err(StoreError::Unavailable("batch read left keys unprocessed".into()))
            })
            .buffer_unordered(8)
            .try_collect::<Vec<Vec<Item>>>()
            .await?;
        Ok(pages.into_iter().flatten().collect())
    }
}

/// Whether a conditional write happened: `false` when its condition failed.
pub(crate) fn written<T, E, R>(result: Result<T, SdkError<E, R>>) -> Result<bool, StoreError>
where
    E: ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    match result {
        Ok(_) => Ok(true),
        Err(err) if err.code() == Some("ConditionalCheckFailedException") => Ok(false),
        Err(err) => Err(err.into()),
    }
}

/// Why a transaction did not commit.
#[derive(Debug)]
pub(crate) enum TxError {
    /// Cancelled: one reason code per item, `None` where the item was fine.
    Cancelled(Vec<Option<String>>),
    Store(StoreError),
}

impl TxError {
    /// Whether the condition of item `index` failed.
    pub(crate) fn failed_at(&self, index: usize) -> bool {
        matches!(self, TxError::Cancelled(r) if r.get(index).is_some_and(|c| c.as_deref() == Some("ConditionalCheckFailed")))
    }

    pub(crate) fn into_store(self) -> StoreError {
        match self {
            TxError::Store(e) => e,
            TxError::Cancelled(reasons) => StoreError::Rejected(format!("transaction cancelled: {reasons:?}")),
        }
    }
}

fn cancellation_reasons<R>(
    err: &SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError, R>,
) -> Option<Vec<Option<String>>> {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    match err.as_service_error()? {
        TransactWriteItemsError::TransactionCanceledException(e) => Some(
            e.cancellation_reasons()
                .iter()
                .map(|r: &CancellationReason| r.code().filter(|c| *c != "None").map(str::to_owned))
                .collect(),
        ),
        _ => None,
    }
}

/// Full jitter: a uniformly random wait up to `max`.
fn jitter(max: Duration) -> Duration {
    max.mul_f64(f64::from(crate::crypto::random_u32()) / f64::from(u32::MAX))
}

pub(crate) fn to_item<T: Serialize>(value: &T) -> Item {
    serde_dynamo::to_item(value).expect("our items serialise")
}

/// The error names the type, not serde's message, which can quote a stored value.
pub(crate) fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|_| StoreError::Corrupt(format!("not a {}", std::any::type_name::<T>())))
}

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(crate) fn key(pk: impl Into<String>) -> Item {
    HashMap::from([("pk".to_owned(), s(pk))])
}

pub(crate) fn key2(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

pub(crate) fn value<T: Serialize>(v: &T) -> AttributeValue {
    serde_dynamo::to_attribute_value(v).expect("our values serialise")
}

/// A time as a sort key: UTC with millisecond precision and a fixed width,
/// so that string order is time order.
pub fn sort_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Parses a time written by [`sort_time`] or any RFC 3339 time.
pub fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// A stored time as the routes show times: RFC 3339 in +08:00 (the stored text if it is not
/// a time).
pub fn shown_time(stored: &str) -> String {
    parse_time(stored).map_or_else(|| stored.to_owned(), crate::domain::day::rfc3339)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn sort_times_order_as_times_do() {
        let a = sort_time(datetime!(2026-11-26 07:59:59.5 +8));
        let b = sort_time(datetime!(2026-11-26 00:00:00 UTC));
        assert_eq!(a, "2026-11-25T23:59:59.500Z");
        assert!(a < b);
        assert_eq!(parse_time(&a), Some(datetime!(2026-11-25 23:59:59.5 UTC)));
    }
}

//! The test harness: a fresh set of tables on the emulator per test, apps
//! wired with test keys and a fixed clock, and request helpers.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use lambda_http::{Body, Request, Response};
use serde_json::Value;
use shared::auth::SessionKeys;
use shared::clock::Clock;
use shared::crypto::{PiiKeys, random_id};
use shared::domain::token::{CodeKeys, VenueKeys};
use shared::function::Base;
use shared::store::settings::RiskAreaCache;
use shared::store::{Store, Tables};
use time::OffsetDateTime;
use time::macros::datetime;

pub mod capacity;
pub mod fake_http;
pub mod fake_wechat;
pub mod fault_proxy;
pub mod partner;
pub mod prices;
pub mod qr;

/// 10:00 in Shanghai on a Thursday: the default test clock.
pub const NOW: OffsetDateTime = datetime!(2026-11-26 10:00 +8);

pub const SESSION_SECRET: [u8; 32] = [11; 32];
pub const PII_HASH_KEY: [u8; 32] = [12; 32];
pub const PII_ENC_KEY: [u8; 32] = [13; 32];
pub const CODE_SEED: [u8; 32] = [14; 32];
pub const CODE_ISSUER: &str = "https://hc.test";
pub const VENUE_KEY: [u8; 32] = [15; 32];
pub const VENUE_URL_BASE: &str = "https://hc.test/v";

/// The emulator the tests use, from `HC_TEST_DYNAMODB_ENDPOINT`.
pub fn endpoint() -> String {
    std::env::var("HC_TEST_DYNAMODB_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "HC_TEST_DYNAMODB_ENDPOINT is not set: run the tests with `make test`, which starts the DynamoDB emulator"
        )
    })
}

pub fn client() -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .timeout_config(
            aws_sdk_dynamodb::config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_secs(10))
                .build(),
        )
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// A store on its own freshly created tables, so tests run in parallel
/// without seeing each other's data.
pub async fn store() -> Store {
    let prefix = format!("{}-", random_id("t"));
    let store = Store::new(client(), Tables::with_prefix(&prefix));
    store.create_tables().await.expect("tables are created on the emulator");
    store
}

pub fn sessions() -> SessionKeys {
    SessionKeys::new(&SESSION_SECRET, time::Duration::hours(2))
}

/// What every function holds: the store, the test session keys, the clock.
pub fn base(store: &Store, clock: &Clock) -> Base {
    Base {
        store: store.clone(),
        sessions: sessions(),
        clock: clock.clone(),
    }
}

pub fn pii() -> PiiKeys {
    PiiKeys::new(&PII_HASH_KEY, &PII_ENC_KEY, None)
}

/// The login function with the development provider and the local verifier.
pub fn login_app(store: &Store, clock: &Clock) -> login::App {
    login::App {
        base: base(store, clock),
        pii: pii(),
        provider: Box::new(login::provider::Dev),
        verifier: Box::new(login::verifier::LocalVerifier),
    }
}

/// An identity verifier for tests: it accepts only the pairs of name and ID
/// number it was given, or answers unavailable, takes a moment like a remote
/// service, and counts the checks it is asked to make.
#[derive(Clone, Default)]
pub struct FakeVerifier {
    pub people: Arc<Mutex<Vec<(String, String)>>>,
    pub calls: Arc<AtomicUsize>,
    pub unavailable: Arc<AtomicBool>,
}

impl FakeVerifier {
    /// A verifier that knows these people.
    pub fn knowing(people: &[(&str, &str)]) -> Self {
        let verifier = Self::default();
        *verifier.people.lock().unwrap() = people.iter().map(|(n, i)| (n.to_string(), i.to_string())).collect();
        verifier
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl login::verifier::IdentityVerifier for FakeVerifier {
    async fn verify(
        &self,
        name: &shared::domain::identity::PersonName,
        id: &shared::domain::identity::IdNumber,
        _: Option<&shared::domain::identity::Phone>,
    ) -> Result<login::verifier::Verdict, login::verifier::VerifierUnavailable> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        if self.unavailable.load(Ordering::SeqCst) {
            return Err(login::verifier::VerifierUnavailable("test".into()));
        }
        let known = (name.as_str().to_owned(), id.as_str().to_owned());
        Ok(if self.people.lock().unwrap().contains(&known) {
            login::verifier::Verdict::Match
        } else {
            login::verifier::Verdict::Mismatch
        })
    }
}

/// The login function with a [`FakeVerifier`], whose sessions last weeks.
pub fn login_app_verified_by(store: &Store, clock: &Clock, verifier: &FakeVerifier) -> login::App {
    let mut app = long_login_app(store, clock);
    app.verifier = Box::new(verifier.clone());
    app
}

/// The login function issuing sessions that outlive the weeks a test
/// travels through with its clock.
pub fn long_login_app(store: &Store, clock: &Clock) -> login::App {
    let mut app = login_app(store, clock);
    app.base.sessions = SessionKeys::new(&SESSION_SECRET, time::Duration::days(60));
    app
}

/// The declaration function; the risk-area list is read afresh every time.
pub fn declaration_app(store: &Store, clock: &Clock) -> declaration::App {
    declaration::App {
        base: base(store, clock),
        rules: shared::domain::rules::RuleSet::embedded(),
        areas: RiskAreaCache::new(Duration::ZERO),
        retention: time::Duration::days(30),
    }
}

pub fn code_keys() -> CodeKeys {
    CodeKeys::new(&CODE_SEED, None, CODE_ISSUER, time::Duration::minutes(5))
}

/// The code function, with the test signing key; the partner list is read afresh every time.
pub fn code_app(store: &Store, clock: &Clock) -> code::App {
    let mut app = code::App::new(base(store, clock), RiskAreaCache::new(Duration::ZERO), code_keys());
    app.partners = shared::store::trust::PartnerCache::new(Duration::ZERO);
    app
}

pub fn venue_keys() -> VenueKeys {
    VenueKeys::new(VENUE_URL_BASE, &VENUE_KEY, None)
}

/// The venue function, spreading each venue's entries over 4 index shards.
pub fn venue_app(store: &Store, clock: &Clock) -> venue::App {
    venue::App {
        base: base(store, clock),
        keys: venue_keys(),
        pii: pii(),
        rules: shared::domain::rules::RuleSet::embedded(),
        areas: RiskAreaCache::new(Duration::ZERO),
        shards: 4,
        retention: time::Duration::days(28),
    }
}

/// The scan function, with the test keys.
pub fn scan_app(store: &Store, clock: &Clock) -> scan::App {
    scan::App {
        base: base(store, clock),
        rules: shared::domain::rules::RuleSet::embedded(),
        areas: RiskAreaCache::new(Duration::ZERO),
        codes: code_keys(),
        venues: venue_keys(),
        venue_cache: shared::store::venues::VenueCache::new(Duration::ZERO),
        retention: time::Duration::days(28),
        limiter: Default::default(),
        trust: shared::store::trust::TrustCache::new(Duration::ZERO),
        ids: shared::crypto::IdHasher::new(&PII_HASH_KEY),
    }
}

/// The admin function.
pub fn admin_app(store: &Store, clock: &Clock) -> admin::App {
    admin::App {
        base: base(store, clock),
        pii: pii(),
        rules: shared::domain::rules::RuleSet::embedded(),
        retention: time::Duration::days(28),
    }
}

/// A verified user granted the `authority` role; returns a token.
pub async fn officer(app: &login::App, name: &str, person: u32) -> String {
    let token = verified(app, name, person).await;
    let account = sessions().verify(&token, NOW).expect("a valid token").account_id;
    assert!(
        app.base
            .store
            .set_role(&account, shared::domain::role::Role::Authority, Some(NOW))
            .await
            .expect("the store")
    );
    token
}

/// A venue application body in Shijiazhuang's Chang'an district.
pub fn venue_body() -> Value {
    serde_json::json!({
        "name": "石家庄市长安区建设北大街社区卫生服务中心",
        "address": "河北省石家庄市长安区建设北大街66号",
        "region": "130102",
        "category": "medical"
    })
}

/// A normal declaration body, in Shijiazhuang's Chang'an district.
pub fn normal_declaration() -> Value {
    serde_json::json!({
        "region": "130102",
        "temperature": 36.5,
        "symptoms": [],
        "close_contact": false,
        "visited_regions": [],
        "from_abroad": false
    })
}

/// Every function on one store and one fixed clock, as a test sees the system.
pub struct World {
    pub store: Store,
    pub clock: Clock,
    pub login: login::App,
    pub declaration: declaration::App,
    pub code: code::App,
    pub venue: venue::App,
    pub scan: scan::App,
    pub admin: admin::App,
}

/// Every function on fresh tables, the clock at [`NOW`], sessions that last
/// weeks of test time.
pub async fn world() -> World {
    world_on(store().await)
}

/// Every function on the given store.
pub fn world_on(store: Store) -> World {
    let clock = Clock::fixed(NOW);
    World {
        login: long_login_app(&store, &clock),
        declaration: declaration_app(&store, &clock),
        code: code_app(&store, &clock),
        venue: venue_app(&store, &clock),
        scan: scan_app(&store, &clock),
        admin: admin_app(&store, &clock),
        store,
        clock,
    }
}

/// Every item of `table` as JSON (whose maps print their keys in order, so equal
/// items print alike), by a consistent scan over all its pages: for tests that check
/// what the store holds.
/// An item with its binary values (the compact day history) as base64 text, which JSON can hold.
fn readable(
    item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
) -> std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
    use aws_sdk_dynamodb::types::AttributeValue as A;
    fn plain(v: &A) -> A {
        match v {
            A::B(b) => A::S(base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                b.as_ref(),
            )),
            A::L(l) => A::L(l.iter().map(plain).collect()),
            A::M(m) => A::M(m.iter().map(|(k, v)| (k.clone(), plain(v))).collect()),
            other => other.clone(),
        }
    }
    item.iter().map(|(k, v)| (k.clone(), plain(v))).collect()
}

pub async fn table_items(store: &Store, table: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let out = store
            .client()
            .scan()
            .table_name(table)
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("the emulator answers a scan");
        items.extend(
            out.items()
                .iter()
                .map(|item| serde_dynamo::from_item::<_, Value>(readable(item)).expect("an item reads as JSON")),
        );
        match out.last_evaluated_key {
            Some(key) => start = Some(key),
            None => return items,
        }
    }
}

/// Builds a request as API Gateway would hand it to a function.
pub fn request(method: &str, path: &str, body: Option<Value>, token: Option<&str>) -> Request {
    let mut builder = lambda_http::http::Request::builder().method(method).uri(path);
    if body.is_some() {
        builder = builder.header("content-type", "application/json");
    }
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    let body = body.map(|b| Body::Text(b.to_string())).unwrap_or(Body::Empty);
    builder.body(body).expect("valid request")
}

/// A request with a raw body and headers, for malformed input.
pub fn raw_request(method: &str, path: &str, body: impl Into<Body>, headers: &[(&str, &str)]) -> Request {
    let mut builder = lambda_http::http::Request::builder().method(method).uri(path);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(body.into()).expect("valid request")
}

/// The status and JSON body of a response (`Null` for an empty body).
pub fn parts(response: Response<Body>) -> (u16, Value) {
    let status = response.status().as_u16();
    let value = match response.body() {
        Body::Text(text) => serde_json::from_str(text).unwrap_or(Value::String(text.clone())),
        Body::Binary(bytes) => serde_json::from_slice(bytes).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    (status, value)
}

/// A valid ID number: 17 digits and their GB 11643 check character.
pub fn id_number(first17: &str) -> String {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = first17.bytes().zip(WEIGHTS).map(|(b, w)| u32::from(b - b'0') * w).sum();
    format!("{first17}{}", b"10X98765432"[(sum % 11) as usize] as char)
}

/// A distinct valid Hebei ID number for person `n`.
pub fn person_id(n: u32) -> String {
    id_number(&format!("13010219900101{:03}", n % 1000))
}

/// Logs in as `dev:<name>` and returns the token.
pub async fn login(app: &login::App, name: &str) -> String {
    let (status, body) = parts(
        login::handle(
            app,
            request(
                "POST",
                "/v1/login",
                Some(serde_json::json!({"code": format!("dev:{name}")})),
                None,
            ),
        )
        .await,
    );
    assert_eq!(status, 200, "{body}");
    body["token"].as_str().expect("token").to_owned()
}

/// Logs in and completes real-name authentication; returns the verified token.
pub async fn verified(app: &login::App, name: &str, person: u32) -> String {
    let token = login(app, name).await;
    let body = serde_json::json!({"name": "张三丰", "id_number": person_id(person), "phone": "13812345678"});
    let (status, body) = parts(login::handle(app, request("POST", "/v1/identity", Some(body), Some(&token))).await);
    assert_eq!(status, 200, "{body}");
    body["token"].as_str().expect("token").to_owned()
}

/// 李小宝 (person 60), added as a child by the guardian whose token is given; returns the
/// dependent's subject id.
pub async fn child_of(w: &World, guardian: &str) -> String {
    let body = serde_json::json!({"name": "李小宝", "id_number": person_id(60), "relation": "child"});
    let (status, body) =
        parts(login::handle(&w.login, request("POST", "/v1/dependents", Some(body), Some(guardian))).await);
    assert_eq!(status, 201, "{body}");
    body["dependent"]["subject_id"].as_str().expect("subject id").to_owned()
}

/// A verified person who declared once today (a normal declaration), so that
/// they have a code and their check-ins are taken; returns the token.
pub async fn declared(w: &World, name: &str, person: u32) -> String {
    let token = verified(&w.login, name, person).await;
    let (status, body) = parts(
        declaration::handle(
            &w.declaration,
            request("POST", "/v1/declarations", Some(normal_declaration()), Some(&token)),
        )
        .await,
    );
    assert_eq!(status, 201, "{body}");
    token
}

//! The cost report: what one million of each operation costs at AWS list
//! prices, split into API Gateway, Lambda and DynamoDB, from the units of
//! every DynamoDB call the handler makes, priced by DynamoDB's documented
//! rules from the items before and after it (tests/src/capacity.rs), and
//! handler time measured here. Also prints the size of a declaring
//! subject's profile and what its history takes of it.
//!
//! Runs every operation through its function's handler against the
//! emulator at HC_TEST_DYNAMODB_ENDPOINT: `make cost` (bench/cost.sh).
//! Handler time is the wall time less the time spent in DynamoDB calls; the
//! billed Lambda duration adds one assumed in-region round trip per call.

use base64::Engine as _;
use std::time::{Duration, Instant};

use integration_tests::capacity::{Call, Meter, item_size, metered_client, value_size, wire_item};
use integration_tests::prices::*;
use integration_tests::*;
use lambda_http::{Body, Response};
use serde_json::json;
use shared::clock::Clock;
use shared::store::{Store, Tables};

/// Memory of each function in template.yaml, in MB.
const MEMORY_MB: f64 = 256.0;

struct Measured {
    read_units: f64,
    write_units: f64,
    /// moto's fixed figure (1 a write, 0.5 a read item), for comparison only.
    reported: f64,
    calls: usize,
    handler: Duration,
}

async fn measure<F, Fut>(meter: &Meter, runs: usize, mut operation: F) -> Measured
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = Response<Body>>,
{
    // One run to warm caches (risk areas, venues) as a busy instance has them.
    let status = operation(0).await.status();
    assert!(status.is_success(), "warm-up answered {status}");
    meter.take();
    let mut handler_times = Vec::new();
    let mut last: Vec<Call> = Vec::new();
    for run in 1..=runs {
        let started = Instant::now();
        let status = operation(run).await.status();
        let wall = started.elapsed();
        assert!(status.is_success(), "run {run} answered {status}");
        last = meter.take();
        let in_store: Duration = last.iter().map(|c| c.elapsed).sum();
        handler_times.push(wall.saturating_sub(in_store));
    }
    handler_times.sort();
    Measured {
        read_units: last.iter().map(|c| c.read_units).sum(),
        write_units: last.iter().map(|c| c.write_units).sum(),
        reported: last.iter().map(|c| c.reported).sum(),
        calls: last.len(),
        handler: handler_times[handler_times.len() / 2],
    }
}

fn print(name: &str, m: &Measured) -> f64 {
    let dynamodb = m.read_units * DYNAMODB_PER_MILLION_RRU + m.write_units * DYNAMODB_PER_MILLION_WRU;
    let billed_ms = (m.handler.as_secs_f64() * 1000.0 + m.calls as f64 * DYNAMODB_ROUND_TRIP_MS).ceil();
    let lambda =
        LAMBDA_PER_MILLION_REQUESTS + MEMORY_MB / 1024.0 * billed_ms / 1000.0 * LAMBDA_ARM64_PER_GB_SECOND * 1e6;
    let total = API_GATEWAY_PER_MILLION + lambda + dynamodb;
    println!(
        "{name:<28} {:>4} {:>4} {:>5} {:>9.3}ms {:>5} {:>8.2} {:>8.3} {:>9.3} {:>8.3}  ({:.3} above 300 M/month)",
        m.read_units,
        m.write_units,
        m.reported,
        m.handler.as_secs_f64() * 1000.0,
        billed_ms,
        API_GATEWAY_PER_MILLION,
        lambda,
        dynamodb,
        total,
        total - API_GATEWAY_PER_MILLION + API_GATEWAY_PER_MILLION_AT_VOLUME,
    );
    total
}

#[tokio::main]
async fn main() {
    let runs: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(200);
    let meter = Meter::new();
    let prefix = format!("{}-", shared::crypto::random_id("cost"));
    let store = Store::new(metered_client(&meter), Tables::with_prefix(&prefix));
    store.create_tables().await.expect("tables on the emulator");
    let clock = Clock::fixed(NOW);
    // Sessions that outlive the months the declaration runs travel through.
    let mut login_app = login_app(&store, &clock);
    login_app.base.sessions = shared::auth::SessionKeys::new(&SESSION_SECRET, time::Duration::days(400));
    let mut declaration_app = declaration_app(&store, &clock);
    let mut code_app = code_app(&store, &clock);
    let mut scan_app = scan_app(&store, &clock);
    let venue_app = venue_app(&store, &clock);
    // As deployed: risk areas cached 30 s per instance. The venue cache, off
    // by default (HC_VENUE_CACHE_SECONDS), is measured both ways below.
    declaration_app.areas = shared::store::settings::RiskAreaCache::new(Duration::from_secs(30));
    code_app.areas = shared::store::settings::RiskAreaCache::new(Duration::from_secs(30));
    scan_app.areas = shared::store::settings::RiskAreaCache::new(Duration::from_secs(30));
    // As deployed: the trust list and the partners cached 300 s per instance.
    scan_app.trust = shared::store::trust::TrustCache::new(Duration::from_secs(300));
    code_app.partners = shared::store::trust::PartnerCache::new(Duration::from_secs(300));
    let province = integration_tests::partner::Province::default();
    province.trust(&store).await;
    let partner_key = integration_tests::partner::add_partner(&store, "beijing").await;

    let visitor = verified(&login_app, "visitor", 1).await;
    let guard = verified(&login_app, "guard", 2).await;
    let owner = verified(&login_app, "owner", 3).await;
    let (_, venue) = parts(
        venue::handle(
            &venue_app,
            request("POST", "/v1/venues", Some(venue_body()), Some(&owner)),
        )
        .await,
    );
    let venue_code = venue["qr"].as_str().unwrap().to_owned();
    // A visitor with a week of declarations, as the colour rules see a typical person.
    for _ in 0..7 {
        declaration::handle(
            &declaration_app,
            request("POST", "/v1/declarations", Some(normal_declaration()), Some(&visitor)),
        )
        .await;
        clock.advance(time::Duration::days(1));
    }
    println!(
        "Cost per million operations at AWS list prices (tests/src/prices.rs), {runs} runs each, handler time p50."
    );
    println!(
        "Lambda: arm64, {MEMORY_MB} MB, billed = handler time + {DYNAMODB_ROUND_TRIP_MS} ms per DynamoDB call, rounded up to 1 ms."
    );
    println!(
        "RRU, WRU: DynamoDB's rules (tests/src/capacity.rs); moto: the emulator's fixed ConsumedCapacity, not a price."
    );
    println!(
        "{:<28} {:>4} {:>4} {:>5} {:>11} {:>5} {:>8} {:>8} {:>9} {:>8}",
        "operation", "RRU", "WRU", "moto", "handler", "ms", "API GW", "Lambda", "DynamoDB", "total $"
    );

    let m = measure(&meter, runs, |_| {
        login::handle(
            &login_app,
            request("POST", "/v1/login", Some(json!({"code": "dev:visitor"})), None),
        )
    })
    .await;
    print("login", &m);
    let m = measure(&meter, runs, |_| {
        // Three declarations a day: move to the next day every third run.
        clock.advance(time::Duration::hours(8));
        declaration::handle(
            &declaration_app,
            request("POST", "/v1/declarations", Some(normal_declaration()), Some(&guard)),
        )
    })
    .await;
    print("declaration", &m);
    let profile = profile_split(&Tables::with_prefix(&prefix).subjects).await;
    let m = measure(&meter, runs, |_| {
        code::handle(&code_app, request("GET", "/v1/code", None, Some(&visitor)))
    })
    .await;
    print("code", &m);
    // A code issued now: the declaration runs moved the clock on by weeks.
    let (_, code) = parts(code::handle(&code_app, request("GET", "/v1/code", None, Some(&visitor))).await);
    let qr = code["qr"].as_str().unwrap().to_owned();
    // Each scan by a guard of its own: a guard's repeat scans of one person
    // in a minute are logged once, and a caller's scans limited to 120 a minute.
    let mut guards = Vec::new();
    for n in 0..=runs {
        guards.push(verified(&login_app, &format!("guard-{n}"), 100 + n as u32).await);
    }
    let m = measure(&meter, runs, |run| {
        scan::handle(
            &scan_app,
            request("POST", "/v1/scans", Some(json!({"code": qr})), Some(&guards[run])),
        )
    })
    .await;
    print("checkpoint scan", &m);
    // An inspector types the visitor's ID number: each scan by a guard of its own, now an inspector.
    for token in &guards {
        let account = sessions().verify(token, clock.now()).expect("a token").account_id;
        store
            .set_role(&account, shared::domain::role::Role::Inspector, Some(clock.now()))
            .await
            .expect("the store");
    }
    let visitor_id = person_id(1);
    let m = measure(&meter, runs, |run| {
        scan::handle(
            &scan_app,
            request(
                "POST",
                "/v1/scans",
                Some(json!({"id_number": visitor_id})),
                Some(&guards[run]),
            ),
        )
    })
    .await;
    print("ID-card scan", &m);
    // Another province's code, from a trusted issuer: no profile to read.
    let foreign = province.es256(&province.claims("green", clock.now()));
    let m = measure(&meter, runs, |run| {
        scan::handle(
            &scan_app,
            request("POST", "/v1/scans", Some(json!({"code": foreign})), Some(&guards[run])),
        )
    })
    .await;
    print("scan, other province", &m);
    // A partner verifying our code, 5 calls a second: under the 10 an instance
    // counts before it writes the partner's counter.
    let m = measure(&meter, runs, |_| {
        clock.advance(time::Duration::milliseconds(200));
        let mut req = request("POST", "/v1/verify", Some(json!({"code": qr})), None);
        req.headers_mut().insert("x-api-key", partner_key.parse().unwrap());
        code::handle(&code_app, req)
    })
    .await;
    print("partner verify", &m);
    // Each check-in a new one, with its own Idempotency-Key.
    let checkin_request = |key: String| {
        let mut req = request(
            "POST",
            "/v1/checkins",
            Some(json!({"venue_code": venue_code})),
            Some(&visitor),
        );
        req.headers_mut().insert("idempotency-key", key.parse().unwrap());
        req
    };
    // A check-in every 2 seconds: 30 a minute, a busy but normal caller,
    // under the 32 after which an instance writes the limit's counter.
    let m = measure(&meter, runs, |run| {
        clock.advance(time::Duration::seconds(2));
        scan::handle(&scan_app, checkin_request(format!("cost-{run}")))
    })
    .await;
    let checkin = print("check-in", &m);
    scan_app.venue_cache = shared::store::venues::VenueCache::new(Duration::from_secs(30));
    let m = measure(&meter, runs, |run| {
        clock.advance(time::Duration::seconds(2));
        scan::handle(&scan_app, checkin_request(format!("cold-{run}")))
    })
    .await;
    print("check-in, venue cached 30 s", &m);
    // The venue's holder records visitors by ID number, each with its own
    // Idempotency-Key, ten minutes apart (a venue records 200 a day).
    let assisted_request = |id: String, key: String| {
        let mut req = request(
            "POST",
            "/v1/venues/mine/checkins",
            Some(json!({"id_number": id})),
            Some(&owner),
        );
        req.headers_mut().insert("idempotency-key", key.parse().unwrap());
        req
    };
    let m = measure(&meter, runs, |run| {
        clock.advance(time::Duration::minutes(10));
        venue::handle(&venue_app, assisted_request(person_id(1), format!("known-{run}")))
    })
    .await;
    print("assisted, registered", &m);
    let m = measure(&meter, runs, |run| {
        clock.advance(time::Duration::minutes(10));
        let unregistered = id_number(&format!("13010319800101{:03}", run % 1000));
        venue::handle(&venue_app, assisted_request(unregistered, format!("new-{run}")))
    })
    .await;
    print("assisted, unregistered", &m);
    println!("{profile}");
    println!(
        "Goal: a check-in under US$2.50 per million all included: {}",
        if checkin < 2.50 {
            "met"
        } else {
            "not met at the first-tier API Gateway price"
        }
    );
}

/// The size of the declaring subject's profile (the one with the longest
/// history, read with a plain client outside the meter), split into its
/// identity, its history (`facts.days`) and the rest.
async fn profile_split(table: &str) -> String {
    let out = client()
        .scan()
        .table_name(table)
        .consistent_read(true)
        .send()
        .await
        .expect("the emulator answers a scan");
    assert!(out.last_evaluated_key.is_none(), "the subjects fit one page");
    // The history is one binary value (shared/src/domain/history.rs), base64 on the wire.
    let days = |item: &serde_json::Value| {
        let stored = item["facts"]["M"]["days"]["B"].as_str().unwrap_or_default();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(stored)
            .expect("base64 on the wire");
        shared::domain::history::decode(&bytes).map_or(0, |d| d.len())
    };
    let profile = out
        .items()
        .iter()
        .map(wire_item)
        .filter(|item| item["sk"]["S"] == "PROFILE")
        .max_by_key(days)
        .expect("a profile");
    let total = item_size(&profile);
    let mut without_history = profile.clone();
    if let Some(facts) = without_history["facts"]["M"].as_object_mut() {
        facts.remove("days");
    }
    let history = total - item_size(&without_history);
    const IDENTITY: [&str; 12] = [
        "pk",
        "sk",
        "subject_id",
        "id_hash",
        "id_sealed",
        "name_sealed",
        "phone_sealed",
        "name_masked",
        "id_masked",
        "owner",
        "guardians",
        "created_at",
    ];
    let identity: usize = IDENTITY
        .iter()
        .filter_map(|name| profile.get(*name).map(|v| name.len() + value_size(v)))
        .sum();
    format!(
        "profile: {total} bytes with {} days of history, of which history (facts.days) {history}, identity {identity}, \
         the rest (ver, status, decl_*, regions, facts' other members) {}",
        days(&profile),
        total - history - identity
    )
}

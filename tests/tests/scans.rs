//! The scan function against the emulator: checkpoint scans of personal
//! codes and venue check-ins, forged and stale codes, idempotent retries,
//! live colours, and the units one scan and one check-in cost.

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use integration_tests::capacity::{Meter, metered_client};
use integration_tests::*;
use serde_json::{Value, json};
use shared::domain::status::{RiskRecord, RiskStatus};
use shared::store::Store;
use time::Duration;

/// A verified person who declared once; returns their token.
async fn person(w: &World, name: &str, n: u32, declaration: Value) -> String {
    let token = verified(&w.login, name, n).await;
    let (status, _) = parts(
        declaration::handle(
            &w.declaration,
            request("POST", "/v1/declarations", Some(declaration), Some(&token)),
        )
        .await,
    );
    assert_eq!(status, 201);
    token
}

async fn code_of(w: &World, token: &str) -> String {
    let (status, body) = parts(code::handle(&w.code, request("GET", "/v1/code", None, Some(token))).await);
    assert_eq!(status, 200);
    body["qr"].as_str().unwrap().to_owned()
}

async fn scan(w: &World, guard: &str, code: &str) -> (u16, Value) {
    parts(
        scan::handle(
            &w.scan,
            request("POST", "/v1/scans", Some(json!({"code": code})), Some(guard)),
        )
        .await,
    )
}

async fn checkin(w: &World, token: &str, body: Value, key: Option<&str>) -> (u16, Value) {
    let mut req = request("POST", "/v1/checkins", Some(body), Some(token));
    if let Some(key) = key {
        req.headers_mut().insert("idempotency-key", key.parse().unwrap());
    }
    parts(scan::handle(&w.scan, req).await)
}

async fn new_venue(w: &World, owner: &str) -> (String, String) {
    let (status, body) =
        parts(venue::handle(&w.venue, request("POST", "/v1/venues", Some(venue_body()), Some(owner))).await);
    assert_eq!(status, 201);
    (
        body["venue"]["id"].as_str().unwrap().to_owned(),
        body["qr"].as_str().unwrap().to_owned(),
    )
}

async fn log_count(store: &Store) -> usize {
    table_items(store, &store.tables.log).await.len()
}

fn subject_of(token: &str) -> String {
    sessions().verify(token, NOW).unwrap().subject_id.unwrap()
}

#[tokio::test]
async fn a_green_code_passes_and_the_scan_is_logged() {
    let w = world().await;
    let alice = person(&w, "alice", 1, normal_declaration()).await;
    let guard = verified(&w.login, "guard", 2).await;
    let code = code_of(&w, &alice).await;
    let (status, body) = scan(&w, &guard, &code).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"result": "pass", "color": "green", "status_text": "未见异常", "hints": [], "name_masked": "张*丰",
               "id_masked": format!("{}********{}", &person_id(1)[..6], &person_id(1)[14..]), "issuer": CODE_ISSUER, "live": true,
               "scanned_at": "2026-11-26T10:00:00+08:00"})
    );
    let entries = w
        .store
        .subject_entries(
            &subject_of(&alice),
            NOW - Duration::hours(1),
            NOW + Duration::hours(1),
            None,
            100,
        )
        .await
        .unwrap()
        .entries;
    assert_eq!(entries.len(), 1);
    assert_eq!(
        (entries[0].kind, entries[0].region.as_deref()),
        (shared::store::log::EntryKind::Scan, Some("130102"))
    );
}

#[tokio::test]
async fn a_yellow_code_asks_the_guard_to_verify() {
    let w = world().await;
    let mut fever = normal_declaration();
    fever["temperature"] = json!(38.2);
    let alice = person(&w, "alice", 1, fever).await;
    let guard = verified(&w.login, "guard", 2).await;
    let (_, body) = scan(&w, &guard, &code_of(&w, &alice).await).await;
    assert_eq!(
        (body["result"].as_str(), body["color"].as_str()),
        (Some("verify"), Some("yellow"))
    );
    assert_eq!(body["hints"], json!(["申报发热"]));
}

#[tokio::test]
async fn forged_foreign_and_expired_codes_are_refused_and_not_logged() {
    let w = world().await;
    let alice = person(&w, "alice", 1, normal_declaration()).await;
    let guard = verified(&w.login, "guard", 2).await;
    let code = code_of(&w, &alice).await;

    let mut flipped = code.clone().into_bytes();
    let i = flipped.len() - 10;
    flipped[i] = if flipped[i] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    // Signed with another key, presented under our kid.
    let kid = jsonwebtoken::decode_header(code.trim_start_matches("HBHC:1:"))
        .unwrap()
        .kid
        .unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some(kid);
    let mallory = ed25519_dalek::SigningKey::from_bytes(&[66; 32]);
    let der = ed25519_dalek::pkcs8::EncodePrivateKey::to_pkcs8_der(&mallory).unwrap();
    let claims = json!({"iss": CODE_ISSUER, "sub": subject_of(&alice), "col": "green", "iat": NOW.unix_timestamp(), "exp": NOW.unix_timestamp() + 300});
    let forged = format!(
        "HBHC:1:{}",
        jsonwebtoken::encode(
            &header,
            &claims,
            &jsonwebtoken::EncodingKey::from_ed_der(der.as_bytes())
        )
        .unwrap()
    );
    // Claims changed after signing.
    let parts_: Vec<&str> = code.trim_start_matches("HBHC:1:").split('.').collect();
    let mut changed: Value = serde_json::from_slice(&B64.decode(parts_[1]).unwrap()).unwrap();
    changed["col"] = json!("green");
    changed["sub"] = json!("s_aaaaaaaaaaaaaaaaaaaaaaaaaa");
    let altered = format!("HBHC:1:{}.{}.{}", parts_[0], B64.encode(changed.to_string()), parts_[2]);

    for bad in [
        flipped,
        forged,
        altered,
        code.replacen("HBHC:1:", "HC1:", 1),
        "https://example.com/".into(),
        String::new(),
    ] {
        let (status, body) = scan(&w, &guard, &bad).await;
        assert_eq!((status, body["code"].as_str()), (422, Some("invalid-code")), "{bad}");
    }
    w.clock.advance(Duration::minutes(5));
    let (status, body) = scan(&w, &guard, &code).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("expired-code")));
    assert_eq!(log_count(&w.store).await, 0, "refused scans log nothing");
}

#[tokio::test]
async fn new_risk_data_shows_red_at_the_next_scan_though_the_token_says_green() {
    let w = world().await;
    let alice = person(&w, "alice", 1, normal_declaration()).await;
    let guard = verified(&w.login, "guard", 2).await;
    let code = code_of(&w, &alice).await;
    let risk = RiskRecord {
        status: RiskStatus::Confirmed,
        since: NOW.date(),
        updated_at: NOW,
        recovered: false,
    };
    w.store
        .client()
        .update_item()
        .table_name(&w.store.tables.subjects)
        .key("pk", AttributeValue::S(format!("S#{}", subject_of(&alice))))
        .key("sk", AttributeValue::S("PROFILE".into()))
        .update_expression("SET facts.risk = :r ADD ver :one")
        .expression_attribute_values(":r", serde_dynamo::to_attribute_value(&risk).unwrap())
        .expression_attribute_values(":one", AttributeValue::N("1".into()))
        .send()
        .await
        .unwrap();
    let (_, body) = scan(&w, &guard, &code).await;
    assert_eq!(
        (body["result"].as_str(), body["color"].as_str()),
        (Some("verify"), Some("red"))
    );
}

#[tokio::test]
async fn scanning_needs_a_verified_guard_and_a_valid_region() {
    let w = world().await;
    let alice = person(&w, "alice", 1, normal_declaration()).await;
    let code = code_of(&w, &alice).await;
    let stranger = login(&w.login, "nobody").await;
    assert_eq!(scan(&w, &stranger, &code).await.1["code"], "identity-required");
    let guard = verified(&w.login, "guard", 2).await;
    let (status, _) = parts(
        scan::handle(
            &w.scan,
            request(
                "POST",
                "/v1/scans",
                Some(json!({"code": code, "region": "110105"})),
                Some(&guard),
            ),
        )
        .await,
    );
    assert_eq!(status, 400);
    let (status, _) = parts(
        scan::handle(
            &w.scan,
            request(
                "POST",
                "/v1/scans",
                Some(json!({"code": code, "region": "130104"})),
                Some(&guard),
            ),
        )
        .await,
    );
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_check_in_logs_the_entry_and_shows_the_visitors_code() {
    let w = world().await;
    let owner = verified(&w.login, "owner", 1).await;
    let (venue_id, venue_code) = new_venue(&w, &owner).await;
    let visitor = person(&w, "visitor", 2, normal_declaration()).await;
    let (status, body) = checkin(&w, &visitor, json!({"venue_code": venue_code}), None).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["venue"],
        json!({"id": venue_id, "name": "石家庄市长安区建设北大街社区卫生服务中心", "address": "河北省石家庄市长安区建设北大街66号", "category": "medical"})
    );
    assert_eq!(body["entered_at"], "2026-11-26T10:00:00+08:00");
    let shown = &body["code"];
    assert_eq!(
        (
            shown["color"].as_str(),
            shown["status_text"].as_str(),
            shown["name_masked"].as_str()
        ),
        (Some("green"), Some("未见异常"), Some("张*丰"))
    );
    assert_eq!(
        qr::decode_svg(shown["qr_svg"].as_str().unwrap(), 2.0),
        shown["qr"].as_str().unwrap()
    );
    // The code shown at the door scans like any other.
    let guard = verified(&w.login, "guard", 3).await;
    assert_eq!(
        scan(&w, &guard, shown["qr"].as_str().unwrap()).await.1["result"],
        "pass"
    );
    let entries = w
        .store
        .subject_entries(
            &subject_of(&visitor),
            NOW - Duration::hours(1),
            NOW + Duration::hours(1),
            None,
            100,
        )
        .await
        .unwrap()
        .entries;
    let checkin = entries
        .iter()
        .find(|e| e.kind == shared::store::log::EntryKind::Checkin)
        .unwrap();
    assert_eq!(
        (checkin.venue_id.as_deref(), checkin.region.as_deref()),
        (Some(venue_id.as_str()), Some("130102"))
    );
}

#[tokio::test]
async fn forged_venue_codes_are_refused() {
    let w = world().await;
    let owner = verified(&w.login, "owner", 1).await;
    let (venue_id, venue_code) = new_venue(&w, &owner).await;
    let visitor = person(&w, "visitor", 2, normal_declaration()).await;
    let other_id = venue_code.replace(&venue_id, &format!("{}x", &venue_id[..venue_id.len() - 1]));
    let (head, tag) = venue_code.rsplit_once('.').unwrap();
    let other_tag = format!("{head}.{}{}", if tag.starts_with('A') { 'B' } else { 'A' }, &tag[1..]);
    let other_key = shared::domain::token::VenueKeys::new(VENUE_URL_BASE, &[99; 32], None).code(&venue_id);
    for bad in [
        other_id,
        other_tag,
        other_key,
        "garbage".into(),
        format!("{VENUE_URL_BASE}?c="),
    ] {
        let (status, body) = checkin(&w, &visitor, json!({"venue_code": bad}), None).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (422, Some("invalid-venue-code")),
            "{bad}"
        );
    }
    assert_eq!(log_count(&w.store).await, 0);
}

#[tokio::test]
async fn a_retried_check_in_with_the_same_idempotency_key_logs_one_entry() {
    let w = world().await;
    let owner = verified(&w.login, "owner", 1).await;
    let (_, venue_code) = new_venue(&w, &owner).await;
    let visitor = person(&w, "visitor", 2, normal_declaration()).await;
    let (first, one) = checkin(&w, &visitor, json!({"venue_code": venue_code}), Some("k-123")).await;
    w.clock.advance(Duration::seconds(30));
    let (again, two) = checkin(&w, &visitor, json!({"venue_code": venue_code}), Some("k-123")).await;
    assert_eq!((first, again), (201, 201));
    assert_eq!(
        one["entered_at"], two["entered_at"],
        "the retry answers with the first entry"
    );
    assert_eq!(log_count(&w.store).await, 1);
    // Simultaneous retries too.
    let both = futures::future::join_all(
        (0..5).map(|_| checkin(&w, &visitor, json!({"venue_code": venue_code}), Some("k-456"))),
    )
    .await;
    assert!(both.iter().all(|(s, _)| *s == 201));
    assert_eq!(log_count(&w.store).await, 2);
    // A key that is not visible ASCII is refused, not ignored.
    let mut req = request(
        "POST",
        "/v1/checkins",
        Some(json!({"venue_code": venue_code})),
        Some(&visitor),
    );
    req.headers_mut().insert(
        "idempotency-key",
        lambda_http::http::HeaderValue::from_bytes("重试-1".as_bytes()).unwrap(),
    );
    let (status, body) = parts(scan::handle(&w.scan, req).await);
    assert_eq!((status, body["code"].as_str()), (400, Some("bad-request")));
    // Another key is another entry.
    assert_eq!(
        checkin(&w, &visitor, json!({"venue_code": venue_code}), Some("k-789"))
            .await
            .0,
        201
    );
    assert_eq!(log_count(&w.store).await, 3);
}

#[tokio::test]
async fn check_ins_need_a_declaration_and_the_right_to_act_for_the_subject() {
    let w = world().await;
    let owner = verified(&w.login, "owner", 1).await;
    let (_, venue_code) = new_venue(&w, &owner).await;
    let fresh = verified(&w.login, "fresh", 2).await;
    let (status, body) = checkin(&w, &fresh, json!({"venue_code": venue_code}), None).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("declaration-required")));

    let mother = person(&w, "mother", 3, normal_declaration()).await;
    let (_, added) = parts(
        login::handle(
            &w.login,
            request(
                "POST",
                "/v1/dependents",
                Some(json!({"name": "李小宝", "id_number": person_id(70), "relation": "child"})),
                Some(&mother),
            ),
        )
        .await,
    );
    let child = added["dependent"]["subject_id"].as_str().unwrap().to_owned();
    let mut for_child = normal_declaration();
    for_child["subject_id"] = json!(child);
    assert_eq!(
        parts(
            declaration::handle(
                &w.declaration,
                request("POST", "/v1/declarations", Some(for_child), Some(&mother))
            )
            .await
        )
        .0,
        201
    );
    let (status, body) = checkin(
        &w,
        &mother,
        json!({"venue_code": venue_code, "subject_id": child}),
        None,
    )
    .await;
    assert_eq!((status, body["code"]["name_masked"].as_str()), (201, Some("李*宝")));
    let stranger = person(&w, "stranger", 4, normal_declaration()).await;
    assert_eq!(
        checkin(
            &w,
            &stranger,
            json!({"venue_code": venue_code, "subject_id": child}),
            None
        )
        .await
        .0,
        403
    );
    assert_eq!(
        checkin(
            &w,
            &login(&w.login, "nobody").await,
            json!({"venue_code": venue_code}),
            None
        )
        .await
        .1["code"],
        "identity-required"
    );
}

#[tokio::test]
async fn one_scan_and_one_check_in_cost_what_the_design_says() {
    let meter = Meter::new();
    let prefix = format!("{}-", shared::crypto::random_id("t"));
    let store = Store::new(metered_client(&meter), shared::store::Tables::with_prefix(&prefix));
    store.create_tables().await.unwrap();
    let w = world_on(store);
    let owner = verified(&w.login, "owner", 1).await;
    let (_, venue_code) = new_venue(&w, &owner).await;
    let visitor = person(&w, "visitor", 2, normal_declaration()).await;
    let guard = verified(&w.login, "guard", 3).await;
    let code = code_of(&w, &visitor).await;
    // Warm the risk-area read out of the way: a function instance reads it once per 30 s.
    let mut warm = scan_app(&w.store, &w.clock);
    warm.areas = shared::store::settings::RiskAreaCache::new(std::time::Duration::from_secs(3600));
    let _ = parts(
        scan::handle(
            &warm,
            request("POST", "/v1/scans", Some(json!({"code": code})), Some(&guard)),
        )
        .await,
    );
    meter.take();
    // A scan in another minute: a repeat in the same one is answered, not logged.
    w.clock.advance(Duration::minutes(1));

    let (status, _) = parts(
        scan::handle(
            &warm,
            request("POST", "/v1/scans", Some(json!({"code": code})), Some(&guard)),
        )
        .await,
    );
    assert_eq!(status, 200);
    let scan_calls = meter.take();
    let (status, _) = parts(
        scan::handle(
            &warm,
            request(
                "POST",
                "/v1/checkins",
                Some(json!({"venue_code": venue_code})),
                Some(&visitor),
            ),
        )
        .await,
    );
    assert_eq!(status, 201);
    let checkin_calls = meter.take();
    // An instance that has read the venue in the last 30 s reads only the profile.
    warm.venue_cache = shared::store::venues::VenueCache::new(std::time::Duration::from_secs(3600));
    let _ = parts(
        scan::handle(
            &warm,
            request(
                "POST",
                "/v1/checkins",
                Some(json!({"venue_code": venue_code})),
                Some(&visitor),
            ),
        )
        .await,
    );
    meter.take();
    let (status, _) = parts(
        scan::handle(
            &warm,
            request(
                "POST",
                "/v1/checkins",
                Some(json!({"venue_code": venue_code})),
                Some(&visitor),
            ),
        )
        .await,
    );
    assert_eq!(status, 201);
    let cached_calls = meter.take();

    let total = |calls: &[integration_tests::capacity::Call]| {
        (
            calls.iter().map(|c| c.read_units).sum::<f64>(),
            calls.iter().map(|c| c.write_units).sum::<f64>(),
        )
    };
    for (name, calls) in [
        ("checkpoint scan", &scan_calls),
        ("check-in", &checkin_calls),
        ("check-in, venue cached", &cached_calls),
    ] {
        println!("{name}:");
        for c in calls.iter() {
            println!(
                "  {:<14} {:>4} RRU {:>4} WRU   (moto's fixed figure: {})",
                c.operation, c.read_units, c.write_units, c.reported
            );
        }
        let (r, wr) = total(calls);
        println!("  total          {r:>4} RRU {wr:>4} WRU");
    }
    let ops =
        |calls: &[integration_tests::capacity::Call]| calls.iter().map(|c| c.operation.clone()).collect::<Vec<_>>();
    // One read call each: the profile (and the venue) with the caller's
    // account, whose logged-out tokens it checks; one write.
    assert_eq!(ops(&scan_calls), ["BatchGetItem", "PutItem"]);
    assert_eq!(ops(&checkin_calls), ["BatchGetItem", "PutItem"]);
    assert_eq!(ops(&cached_calls), ["BatchGetItem", "PutItem"]);
    assert_eq!(total(&cached_calls), (1.0, 2.0));
    let (scan_reads, scan_writes) = total(&scan_calls);
    let (checkin_reads, checkin_writes) = total(&checkin_calls);
    assert!(
        scan_reads <= 1.0 && scan_writes <= 1.0,
        "a checkpoint scan costs at most 1 RRU and 1 WRU"
    );
    assert!(
        checkin_reads <= 1.5 && checkin_writes <= 2.0,
        "a check-in costs at most 1.5 RRU and 2 WRU with its index entry"
    );
}

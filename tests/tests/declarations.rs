//! The declaration function against the emulator: the daily limit under
//! concurrency, Shanghai days, guardians, and bad input that stores nothing.

use aws_sdk_dynamodb::types::AttributeValue;
use integration_tests::*;
use serde_json::{Value, json};
use time::Duration;

async fn declare(w: &World, token: &str, body: Value) -> (u16, Value) {
    parts(
        declaration::handle(
            &w.declaration,
            request("POST", "/v1/declarations", Some(body), Some(token)),
        )
        .await,
    )
}

async fn list(w: &World, token: &str, subject: Option<&str>) -> (u16, Value) {
    let path = match subject {
        Some(s) => format!("/v1/declarations?subject_id={s}"),
        None => "/v1/declarations".to_owned(),
    };
    parts(declaration::handle(&w.declaration, request("GET", &path, None, Some(token))).await)
}

/// How many declaration items the subject has in the store.
async fn stored(w: &World, subject: &str) -> i32 {
    w.store
        .client()
        .query()
        .table_name(&w.store.tables.subjects)
        .key_condition_expression("pk = :pk AND begins_with(sk, :d)")
        .expression_attribute_values(":pk", AttributeValue::S(format!("S#{subject}")))
        .expression_attribute_values(":d", AttributeValue::S("D#".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .count()
}

fn subject_of(token: &str) -> String {
    sessions().verify(token, NOW).unwrap().subject_id.unwrap()
}

#[tokio::test]
async fn a_normal_declaration_is_green_and_listed() {
    let w = world().await;
    let token = verified(&w.login, "alice", 1).await;
    let (status, body) = declare(&w, &token, normal_declaration()).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["remaining_today"], 2);
    assert_eq!(
        body["status"],
        json!({"color": "green", "status_text": "未见异常", "hints": []})
    );
    assert_eq!(body["declaration"]["declared_at"], "2026-11-26T10:00:00+08:00");
    let (status, listed) = list(&w, &token, None).await;
    assert_eq!(status, 200);
    let declarations = listed["declarations"].as_array().unwrap();
    assert_eq!(declarations.len(), 1);
    assert_eq!(declarations[0]["id"], body["declaration"]["id"]);
    assert_eq!(declarations[0]["region"], "130102");
}

#[tokio::test]
async fn symptoms_and_contacts_change_the_colour() {
    let w = world().await;
    let token = verified(&w.login, "alice", 1).await;
    let mut fever = normal_declaration();
    fever["temperature"] = json!(37.8);
    let (_, body) = declare(&w, &token, fever).await;
    assert_eq!(body["status"]["color"], "yellow");
    assert_eq!(body["status"]["hints"], json!(["申报发热"]));
    assert_eq!(body["status"]["status_text"], "请进行健康状态核验");
    let mut contact = normal_declaration();
    contact["close_contact"] = json!(true);
    let (_, body) = declare(&w, &token, contact).await;
    assert_eq!(body["status"]["color"], "red");
}

#[tokio::test]
async fn ten_simultaneous_declarations_store_exactly_three() {
    let w = world().await;
    let token = verified(&w.login, "alice", 1).await;
    let results = futures::future::join_all((0..10).map(|_| declare(&w, &token, normal_declaration()))).await;
    let created = results.iter().filter(|(s, _)| *s == 201).count();
    let limited = results
        .iter()
        .filter(|(s, b)| *s == 429 && b["code"] == "declaration-limit")
        .count();
    assert_eq!((created, limited), (3, 7), "{results:?}");
    assert_eq!(stored(&w, &subject_of(&token)).await, 3);
    let mut remaining: Vec<_> = results
        .iter()
        .filter(|(s, _)| *s == 201)
        .map(|(_, b)| b["remaining_today"].as_u64().unwrap())
        .collect();
    remaining.sort();
    assert_eq!(remaining, [0, 1, 2]);
}

#[tokio::test]
async fn the_fourth_declaration_of_a_day_is_refused_and_stores_nothing() {
    let w = world().await;
    let token = verified(&w.login, "alice", 1).await;
    for expected in [2, 1, 0] {
        let (status, body) = declare(&w, &token, normal_declaration()).await;
        assert_eq!((status, body["remaining_today"].as_u64()), (201, Some(expected)));
    }
    let subject = subject_of(&token);
    let before = w.store.get_subject(&subject, true).await.unwrap().unwrap();
    let (status, body) = declare(&w, &token, normal_declaration()).await;
    assert_eq!((status, body["code"].as_str()), (429, Some("declaration-limit")));
    assert_eq!(stored(&w, &subject).await, 3);
    assert_eq!(
        w.store.get_subject(&subject, true).await.unwrap().unwrap(),
        before,
        "the profile is untouched"
    );

    // 23:59:59 in Shanghai is still the same day; midnight starts the next.
    w.clock.set(time::macros::datetime!(2026-11-26 23:59:59 +8));
    assert_eq!(declare(&w, &token, normal_declaration()).await.0, 429);
    w.clock.set(time::macros::datetime!(2026-11-26 16:00:00 UTC));
    for expected in [2, 1, 0] {
        let (status, body) = declare(&w, &token, normal_declaration()).await;
        assert_eq!(
            (status, body["remaining_today"].as_u64()),
            (201, Some(expected)),
            "{body}"
        );
    }
    assert_eq!(declare(&w, &token, normal_declaration()).await.0, 429);
    assert_eq!(stored(&w, &subject).await, 6);
}

#[tokio::test]
async fn a_guardian_declares_for_a_dependent_and_a_stranger_may_not() {
    let w = world().await;
    let guardian = verified(&w.login, "mother", 1).await;
    let stranger = verified(&w.login, "stranger", 2).await;
    let child = child_of(&w, &guardian).await;

    let mut for_child = normal_declaration();
    for_child["subject_id"] = json!(child);
    let (status, body) = declare(&w, &guardian, for_child.clone()).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        list(&w, &guardian, Some(&child)).await.1["declarations"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // The guardian's own count is separate.
    assert_eq!(
        declare(&w, &guardian, normal_declaration()).await.1["remaining_today"],
        2
    );

    let (status, body) = declare(&w, &stranger, for_child).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
    assert_eq!(list(&w, &stranger, Some(&child)).await.0, 403);
    let mut garbage = normal_declaration();
    garbage["subject_id"] = json!("s_../../etc");
    assert_eq!(declare(&w, &stranger, garbage).await.0, 403);
    assert_eq!(stored(&w, &child).await, 1);
}

#[tokio::test]
async fn declarations_need_a_verified_caller() {
    let w = world().await;
    let token = login(&w.login, "alice").await;
    let (status, body) = declare(&w, &token, normal_declaration()).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("identity-required")));
    assert_eq!(declare(&w, "nonsense", normal_declaration()).await.0, 401);
}

#[tokio::test]
async fn invalid_declarations_are_422_and_store_nothing() {
    let w = world().await;
    let token = verified(&w.login, "alice", 1).await;
    let subject = subject_of(&token);
    let before = w.store.get_subject(&subject, true).await.unwrap().unwrap();
    let with = |field: &str, value: Value| {
        let mut body = normal_declaration();
        body[field] = value;
        body
    };
    let hundred_and_one: Vec<String> = std::iter::repeat_n("110105".to_owned(), 101).collect();
    let cases = [
        with("temperature", json!(33.9)),
        with("temperature", json!(43.1)),
        with("temperature", json!("abc")),
        with("temperature", json!(null)),
        with("symptoms", json!(["fever", "hiccups"])),
        with("symptoms", json!("cough")),
        with("region", json!("999999")),
        with("region", json!("110105")),
        with("region", json!("130000")),
        with("region", json!("13010")),
        with("region", json!(130102)),
        with("visited_regions", json!(hundred_and_one)),
        with("visited_regions", json!(["110105", "123456"])),
        with("close_contact", json!("no")),
        json!({"region": "130102"}),
    ];
    for body in cases {
        let (status, answer) = declare(&w, &token, body.clone()).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (422, Some("invalid-declaration")),
            "{body} → {answer}"
        );
    }
    let (status, answer) = parts(
        declaration::handle(
            &w.declaration,
            raw_request(
                "POST",
                "/v1/declarations",
                "{\"region\":",
                &[("authorization", &format!("Bearer {token}"))],
            ),
        )
        .await,
    );
    assert_eq!((status, answer["code"].as_str()), (400, Some("bad-request")));
    assert_eq!(stored(&w, &subject).await, 0);
    assert_eq!(w.store.get_subject(&subject, true).await.unwrap().unwrap(), before);
}

#[tokio::test]
async fn only_the_last_14_days_are_listed_newest_first() {
    let w = world().await;
    let token = verified(&w.login, "alice", 1).await;
    for _ in 0..16 {
        assert_eq!(declare(&w, &token, normal_declaration()).await.0, 201);
        w.clock.advance(Duration::days(1));
    }
    w.clock.advance(Duration::days(-1));
    let (_, listed) = list(&w, &token, None).await;
    let days: Vec<&str> = listed["declarations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["declared_at"].as_str().unwrap())
        .collect();
    assert_eq!(days.len(), 14);
    assert_eq!(days[0], "2026-12-11T10:00:00+08:00");
    assert_eq!(days[13], "2026-11-28T10:00:00+08:00");
}

/// The profile holds a fortnight of history so that a code costs one read; a declaration pays
/// for the profile's size twice (a transaction's update, 2 WRU per started KB of the larger of
/// the item before and after). With the history in its compact form (shared/src/domain/history.rs)
/// a person who declares every day, with visited regions, a symptom now and then and times to
/// the nanosecond as a real clock gives them, stays under 1 KB: 4 WRU a declaration, not 6.
#[tokio::test]
async fn a_fortnight_of_declarations_keeps_the_profile_under_one_kilobyte() {
    use integration_tests::capacity::{Meter, item_size, metered_client, wire_item};
    let meter = Meter::new();
    let prefix = format!("{}-", shared::crypto::random_id("t"));
    let store = shared::store::Store::new(metered_client(&meter), shared::store::Tables::with_prefix(&prefix));
    store.create_tables().await.unwrap();
    let w = world_on(store);
    let token = verified(&w.login, "alice", 1).await;
    w.clock.advance(Duration::nanoseconds(123_456_789));
    for day in 0..16 {
        let mut body = normal_declaration();
        body["visited_regions"] = json!(["130104", "130105"]);
        if day % 5 == 0 {
            body["symptoms"] = json!(["fatigue"]);
        }
        meter.take();
        assert_eq!(declare(&w, &token, body).await.0, 201);
        let writes: f64 = meter.take().iter().map(|c| c.write_units).sum();
        if day == 15 {
            assert_eq!(writes, 4.0, "a declaration's write units with a full history");
        }
        w.clock.advance(Duration::days(1) + Duration::seconds(37));
    }
    let subject = subject_of(&token);
    let profile = w
        .store
        .client()
        .get_item()
        .table_name(&w.store.tables.subjects)
        .key("pk", AttributeValue::S(format!("S#{subject}")))
        .key("sk", AttributeValue::S("PROFILE".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let size = item_size(&wire_item(&profile));
    assert!(size < 1024, "the profile is {size} bytes");
    let stored = w.store.get_subject(&subject, true).await.unwrap().unwrap();
    assert_eq!(stored.facts.days.len(), 15);
}

//! People without a phone, against the emulator: a checkpoint officer with
//! the `inspector` role scans them by ID number (answered like a code scan,
//! logged with the method `id-card`), and a venue's holder records their
//! entry (an unregistered person gets a subject that they or a guardian
//! claim later), at most 200 a day per venue, however many at once.

use integration_tests::*;
use serde_json::{Value, json};
use shared::domain::role::Role;

fn account_of(token: &str) -> String {
    sessions().verify(token, NOW).unwrap().account_id
}

fn subject_of(token: &str) -> String {
    sessions().verify(token, NOW).unwrap().subject_id.unwrap()
}

async fn set_role(w: &World, token: &str, role: Role, granted: bool) {
    let at = granted.then_some(NOW);
    assert!(w.store.set_role(&account_of(token), role, at).await.unwrap());
}

/// A verified person granted the `inspector` role.
async fn inspector(w: &World, name: &str, person: u32) -> String {
    let token = verified(&w.login, name, person).await;
    set_role(w, &token, Role::Inspector, true).await;
    token
}

async fn scan_by_id(w: &World, token: &str, id_number: &str) -> (u16, Value) {
    let body = json!({"id_number": id_number, "region": "130102"});
    parts(scan::handle(&w.scan, request("POST", "/v1/scans", Some(body), Some(token))).await)
}

async fn scan_code(w: &World, token: &str, code: &str) -> (u16, Value) {
    let body = json!({"code": code, "region": "130102"});
    parts(scan::handle(&w.scan, request("POST", "/v1/scans", Some(body), Some(token))).await)
}

async fn my_code(w: &World, token: &str) -> String {
    let (status, body) = parts(code::handle(&w.code, request("GET", "/v1/code", None, Some(token))).await);
    assert_eq!(status, 200, "{body}");
    body["qr"].as_str().unwrap().to_owned()
}

/// Person `person`'s venue; returns the holder's token.
async fn holder(w: &World, person: u32) -> String {
    let token = verified(&w.login, &format!("holder{person}"), person).await;
    let (status, created) = parts(
        venue::handle(
            &w.venue,
            request("POST", "/v1/venues", Some(venue_body()), Some(&token)),
        )
        .await,
    );
    assert_eq!(status, 201, "{created}");
    token
}

async fn assisted(w: &World, token: &str, id_number: &str, key: Option<&str>) -> (u16, Value) {
    let mut req = request(
        "POST",
        "/v1/venues/mine/checkins",
        Some(json!({"id_number": id_number})),
        Some(token),
    );
    if let Some(key) = key {
        req.headers_mut().insert("idempotency-key", key.parse().unwrap());
    }
    parts(venue::handle(&w.venue, req).await)
}

async fn admin_get(w: &World, path: &str, token: &str) -> (u16, Value) {
    parts(admin::handle(&w.admin, request("GET", path, None, Some(token))).await)
}

async fn venue_entries(w: &World, token: &str) -> Vec<Value> {
    let (status, body) = parts(
        venue::handle(
            &w.venue,
            request("GET", "/v1/venues/mine/checkins?limit=200", None, Some(token)),
        )
        .await,
    );
    assert_eq!(status, 200, "{body}");
    body["entries"].as_array().unwrap().clone()
}

fn without_time(mut answer: Value) -> Value {
    answer.as_object_mut().unwrap().remove("scanned_at");
    answer
}

#[tokio::test]
async fn a_citizen_cannot_scan_by_id_number() {
    let w = world().await;
    declared(&w, "alice", 2).await;
    let citizen = verified(&w.login, "guard", 3).await;
    let (status, body) = scan_by_id(&w, &citizen, &person_id(2)).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")), "{body}");
    // Nor with a number that is not one: the role comes first.
    let (status, _) = scan_by_id(&w, &citizen, "130102199001010000").await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn an_inspector_sees_the_live_status_as_a_code_scan_shows_it_logged_as_an_id_card_scan() {
    let w = world().await;
    let alice = declared(&w, "alice", 2).await;
    let officer = inspector(&w, "officer", 3).await;
    let guard = verified(&w.login, "guard", 4).await;

    let (status, by_id) = scan_by_id(&w, &officer, &person_id(2)).await;
    assert_eq!(status, 200, "{by_id}");
    let (status, by_code) = scan_code(&w, &guard, &my_code(&w, &alice).await).await;
    assert_eq!(status, 200, "{by_code}");
    assert_eq!(without_time(by_id.clone()), without_time(by_code));
    assert_eq!(
        (by_id["result"].as_str(), by_id["live"].as_bool()),
        (Some("pass"), Some(true))
    );

    // The trace of the person shows both scans, each with how it was made.
    let authority = officer_token(&w).await;
    let (status, trace) = admin_get(
        &w,
        &format!("/v1/admin/traces?subject_id={}", subject_of(&alice)),
        &authority,
    )
    .await;
    assert_eq!(status, 200, "{trace}");
    let mut methods: Vec<(String, String)> = trace["scans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["scanner"].as_str().unwrap().to_owned(),
                s["method"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    methods.sort();
    let mut expected = vec![
        (account_of(&officer), "id-card".to_owned()),
        (account_of(&guard), "code".to_owned()),
    ];
    expected.sort();
    assert_eq!(methods, expected);
}

async fn officer_token(w: &World) -> String {
    officer(&w.login, "authority", 9).await
}

#[tokio::test]
async fn the_same_person_scanned_by_id_again_within_the_minute_is_logged_once() {
    let w = world().await;
    let alice = declared(&w, "alice", 2).await;
    let officer = inspector(&w, "officer", 3).await;
    for _ in 0..3 {
        assert_eq!(scan_by_id(&w, &officer, &person_id(2)).await.0, 200);
    }
    let authority = officer_token(&w).await;
    let (_, trace) = admin_get(
        &w,
        &format!("/v1/admin/traces?subject_id={}", subject_of(&alice)),
        &authority,
    )
    .await;
    assert_eq!(trace["scans"].as_array().unwrap().len(), 1, "{trace}");
}

#[tokio::test]
async fn an_unknown_number_is_404_a_bad_one_422_and_a_code_with_a_number_422() {
    let w = world().await;
    let officer = inspector(&w, "officer", 3).await;
    let (status, body) = scan_by_id(&w, &officer, &person_id(77)).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not-found")), "{body}");
    assert!(!body.to_string().contains(&person_id(77)[..17]));

    let mut bad = person_id(2);
    bad.replace_range(17.., if bad.ends_with('0') { "1" } else { "0" });
    let (status, body) = scan_by_id(&w, &officer, &bad).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("invalid-id-number")),
        "{body}"
    );

    for body in [
        json!({"code": "HBHC:1:x", "id_number": person_id(2)}),
        json!({"region": "130102"}),
    ] {
        let (status, answer) =
            parts(scan::handle(&w.scan, request("POST", "/v1/scans", Some(body), Some(&officer))).await);
        assert_eq!(
            (status, answer["code"].as_str()),
            (422, Some("invalid-code")),
            "{answer}"
        );
    }
}

#[tokio::test]
async fn a_revoked_inspector_is_refused_at_once() {
    let w = world().await;
    declared(&w, "alice", 2).await;
    let officer = inspector(&w, "officer", 3).await;
    assert_eq!(scan_by_id(&w, &officer, &person_id(2)).await.0, 200);
    set_role(&w, &officer, Role::Inspector, false).await;
    assert_eq!(scan_by_id(&w, &officer, &person_id(2)).await.0, 403);
}

#[tokio::test]
async fn an_unregistered_visitor_is_recorded_traced_by_number_and_claimed_later_by_the_person() {
    let w = world().await;
    let venue = holder(&w, 1).await;
    let authority = officer_token(&w).await;
    // The authority filed the person as a close contact before they ever registered.
    let records = json!({"records": [{"id_number": person_id(5), "status": "close-contact", "since": "2026-11-25"}]});
    let (status, body) = parts(
        admin::handle(
            &w.admin,
            request("POST", "/v1/admin/risk-persons", Some(records), Some(&authority)),
        )
        .await,
    );
    assert_eq!(status, 200, "{body}");

    let (status, entry) = assisted(&w, &venue, &person_id(5), None).await;
    assert_eq!(status, 201, "{entry}");
    assert_eq!(
        entry,
        json!({"entered_at": "2026-11-26T10:00:00+08:00", "color": "red", "name_masked": "未登记"})
    );

    let (status, trace) = admin_get(&w, &format!("/v1/admin/traces?id_number={}", person_id(5)), &authority).await;
    assert_eq!(status, 200, "{trace}");
    let visits = trace["visits"].as_array().unwrap();
    assert_eq!(visits.len(), 1, "{trace}");
    assert_eq!(
        (visits[0]["method"].as_str(), visits[0]["color"].as_str()),
        (Some("assisted"), Some("red"))
    );
    assert_eq!(trace["subject"]["name"], "", "the name is not known yet");
    let recorded = trace["subject"]["subject_id"].as_str().unwrap().to_owned();

    // The person registers: they claim that subject, entry and all.
    let person = verified(&w.login, "visitor", 5).await;
    assert_eq!(subject_of(&person), recorded);
    let (_, trace) = admin_get(&w, &format!("/v1/admin/traces?id_number={}", person_id(5)), &authority).await;
    assert_eq!(trace["subject"]["name"], "张三丰");
    assert_eq!(trace["visits"].as_array().unwrap().len(), 1);
    let (_, found) = admin_get(
        &w,
        &format!("/v1/admin/subjects?id_number={}", person_id(5)),
        &authority,
    )
    .await;
    assert_eq!(
        (
            found["subject"]["registered"].as_bool(),
            found["subject"]["color"].as_str()
        ),
        (Some(true), Some("red"))
    );
}

#[tokio::test]
async fn a_guardian_claims_the_subject_an_assisted_entry_made() {
    let w = world().await;
    let venue = holder(&w, 1).await;
    let (status, entry) = assisted(&w, &venue, &person_id(6), None).await;
    assert_eq!((status, entry["color"].as_str()), (201, Some("green")), "{entry}");

    let guardian = verified(&w.login, "guardian", 7).await;
    let body = json!({"name": "李四", "id_number": person_id(6), "relation": "grandparent"});
    let (status, linked) =
        parts(login::handle(&w.login, request("POST", "/v1/dependents", Some(body), Some(&guardian))).await);
    assert_eq!(status, 201, "{linked}");

    let authority = officer_token(&w).await;
    let (_, trace) = admin_get(&w, &format!("/v1/admin/traces?id_number={}", person_id(6)), &authority).await;
    assert_eq!(trace["subject"]["subject_id"], linked["dependent"]["subject_id"]);
    assert_eq!(trace["subject"]["name"], "李四");
    assert_eq!(trace["visits"].as_array().unwrap().len(), 1);
    // The venue's next entry of the person shows the name the guardian gave.
    let (_, again) = assisted(&w, &venue, &person_id(6), None).await;
    assert_eq!(again["name_masked"], "李*");
}

#[tokio::test]
async fn a_retried_assisted_check_in_records_one_entry() {
    let w = world().await;
    let venue = holder(&w, 1).await;
    let (first_status, first) = assisted(&w, &venue, &person_id(5), Some("k-1")).await;
    w.clock.advance(time::Duration::seconds(30));
    let (status, again) = assisted(&w, &venue, &person_id(5), Some("k-1")).await;
    assert_eq!((first_status, status), (201, 201));
    assert_eq!(first, again);
    assert_eq!(venue_entries(&w, &venue).await.len(), 1);
}

#[tokio::test]
async fn the_201st_assisted_check_in_of_the_day_is_429() {
    let w = world().await;
    let venue = holder(&w, 1).await;
    let venue_id = venue_id(&w, &venue).await;
    for _ in 0..199 {
        assert!(
            w.store
                .take_assisted_slot(&venue_id, "2026-11-26", 200, NOW + time::Duration::days(2))
                .await
                .unwrap()
        );
    }
    assert_eq!(assisted(&w, &venue, &person_id(5), None).await.0, 201);
    let (status, body) = assisted(&w, &venue, &person_id(6), None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("too-many-attempts")),
        "{body}"
    );
    assert_eq!(venue_entries(&w, &venue).await.len(), 1);
}

#[tokio::test]
async fn twenty_at_once_near_the_limit_never_pass_200() {
    let w = world().await;
    let venue = holder(&w, 1).await;
    let venue_id = venue_id(&w, &venue).await;
    for _ in 0..190 {
        w.store
            .take_assisted_slot(&venue_id, "2026-11-26", 200, NOW + time::Duration::days(2))
            .await
            .unwrap();
    }
    let ids: Vec<String> = (0..20).map(|i| person_id(100 + i)).collect();
    let answers = futures::future::join_all(ids.iter().map(|id| assisted(&w, &venue, id, None))).await;
    let created = answers.iter().filter(|(s, _)| *s == 201).count();
    let refused = answers.iter().filter(|(s, _)| *s == 429).count();
    assert_eq!((created, refused), (10, 10), "{answers:?}");
    assert_eq!(venue_entries(&w, &venue).await.len(), 10);
}

async fn venue_id(w: &World, token: &str) -> String {
    let (_, mine) = parts(venue::handle(&w.venue, request("GET", "/v1/venues/mine", None, Some(token))).await);
    mine["venue"]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn only_a_venue_holder_records_assisted_entries_and_a_bad_number_is_422() {
    let w = world().await;
    let citizen = verified(&w.login, "citizen", 2).await;
    let (status, body) = assisted(&w, &citizen, &person_id(5), None).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not-found")), "{body}");
    let venue = holder(&w, 1).await;
    let (status, body) = assisted(&w, &venue, "13010219900101000", None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("invalid-id-number")),
        "{body}"
    );
    assert!(venue_entries(&w, &venue).await.is_empty());
}

#[tokio::test]
async fn id_card_scans_count_in_the_callers_120_a_minute() {
    let w = world().await;
    declared(&w, "alice", 2).await;
    let officer = inspector(&w, "officer", 3).await;
    for n in 0..120 {
        let (status, body) = scan_by_id(&w, &officer, &person_id(2)).await;
        assert_eq!(status, 200, "scan {n}: {body}");
    }
    let (status, body) = scan_by_id(&w, &officer, &person_id(2)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("too-many-attempts")),
        "{body}"
    );
}

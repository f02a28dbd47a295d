//! Exposures against the emulator: a venue exposure and a person exposure
//! find exactly the people who were there (boundaries included, the case
//! left out, two entries counted once); the contacts' codes change at the
//! next code and scan and a notice appears; a withdrawal restores them; a
//! worker stopped mid-run and another started finish with each contact
//! recorded and notified once (the real WeChat client against a fake
//! server counts the messages); two workers at once do the same.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::routing::{get, post};
use integration_tests::fake_wechat::FakeWeChat;
use integration_tests::*;
use serde_json::{Value, json};
use shared::domain::day::shanghai_day;
use shared::domain::status::{Color, ExposureFact};
use shared::service::exposures::{Budget, Notifier, Outcome, Worker};
use shared::store::exposures::{Contact, Recorded};
use shared::store::sort_time;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

fn worker<'a>(w: &'a World, notifier: &'a dyn Notifier, name: &str, page_size: usize) -> Worker<'a> {
    Worker {
        store: &w.store,
        pii: &w.admin.pii,
        notifier,
        clock: w.clock.clone(),
        name: name.to_owned(),
        page_size,
        lease: Duration::minutes(2),
        backoff: std::time::Duration::from_millis(10),
    }
}

async fn admin(w: &World, method: &str, path: &str, body: Option<Value>, token: &str) -> (u16, Value) {
    parts(admin::handle(&w.admin, request(method, path, body, Some(token))).await)
}

async fn colour(w: &World, token: &str) -> (String, Value) {
    let (status, body) = parts(code::handle(&w.code, request("GET", "/v1/code", None, Some(token))).await);
    assert_eq!(status, 200, "{body}");
    (body["color"].as_str().unwrap().to_owned(), body["hints"].clone())
}

async fn notices(w: &World, token: &str) -> Vec<Value> {
    let (status, body) = parts(code::handle(&w.code, request("GET", "/v1/notices", None, Some(token))).await);
    assert_eq!(status, 200, "{body}");
    body["notices"].as_array().unwrap().clone()
}

/// A venue in Chang'an district; returns its id and code.
async fn venue(w: &World, owner: &str, n: u32) -> (String, String) {
    let token = verified(&w.login, owner, n).await;
    let (status, body) = parts(
        venue::handle(
            &w.venue,
            request("POST", "/v1/venues", Some(venue_body()), Some(&token)),
        )
        .await,
    );
    assert_eq!(status, 201, "{body}");
    (
        body["venue"]["id"].as_str().unwrap().to_owned(),
        body["qr"].as_str().unwrap().to_owned(),
    )
}

async fn check_in(w: &World, token: &str, code: &str, at: OffsetDateTime) {
    w.clock.set(at);
    let (status, body) = parts(
        scan::handle(
            &w.scan,
            request("POST", "/v1/checkins", Some(json!({"venue_code": code})), Some(token)),
        )
        .await,
    );
    assert_eq!(status, 201, "{body}");
}

fn subject_of(token: &str) -> String {
    sessions()
        .verify(token, NOW)
        .expect("a valid token")
        .subject_id
        .expect("a verified token")
}

async fn expose(w: &World, officer: &str, body: Value) -> String {
    let (status, created) = admin(w, "POST", "/v1/admin/exposures", Some(body), officer).await;
    assert_eq!(status, 202, "{created}");
    assert_eq!(created["exposure"]["status"], "pending");
    created["exposure"]["id"].as_str().unwrap().to_owned()
}

async fn contact_ids(w: &World, officer: &str, id: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let path = match &next {
            Some(n) => format!("/v1/admin/exposures/{id}/contacts?next={n}"),
            None => format!("/v1/admin/exposures/{id}/contacts"),
        };
        let (status, page) = admin(w, "GET", &path, None, officer).await;
        assert_eq!(status, 200, "{page}");
        for c in page["contacts"].as_array().unwrap() {
            assert_eq!(c["name"], "张三丰");
            assert!(c["id_number"].as_str().is_some_and(|n| n.len() == 18));
            ids.push(c["subject_id"].as_str().unwrap().to_owned());
        }
        match page["next"].as_str() {
            Some(n) => next = Some(n.to_owned()),
            None => break,
        }
    }
    ids.sort();
    ids
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test]
async fn a_venue_exposure_finds_the_people_in_the_window_and_turns_them_yellow_until_withdrawn() {
    let w = world().await;
    let (fake, wechat) = FakeWeChat::start().await;
    let officer = officer(&w.login, "officer", 90).await;
    let (venue_id, code) = venue(&w, "owner", 80).await;
    let mut people = Vec::new();
    for (n, name) in ["before", "first", "twice", "last", "after"].iter().enumerate() {
        people.push(declared(&w, name, n as u32 + 1).await);
    }
    let t = |h: u8, m: u8| {
        datetime!(2026-11-26 00:00 +8)
            .replace_hour(h)
            .unwrap()
            .replace_minute(m)
            .unwrap()
    };
    check_in(&w, &people[0], &code, t(10, 9)).await;
    check_in(&w, &people[1], &code, t(10, 10)).await;
    check_in(&w, &people[2], &code, t(10, 20)).await;
    check_in(&w, &people[2], &code, t(10, 25)).await;
    check_in(&w, &people[3], &code, t(10, 30)).await;
    check_in(&w, &people[4], &code, t(10, 31)).await;

    w.clock.set(t(11, 0));
    let id = expose(
        &w,
        &officer,
        json!({"venue_id": venue_id, "from": "2026-11-26T10:10:00+08:00", "to": "2026-11-26T10:30:00+08:00", "level": "yellow", "reason": "确诊病例到访"}),
    )
    .await;
    assert_eq!(
        colour(&w, &people[2]).await.0,
        "green",
        "nothing changes before the worker runs"
    );
    assert_eq!(
        worker(&w, &wechat, "w1", 2).work(&id, Budget::default()).await.unwrap(),
        Outcome::Done
    );

    let (status, shown) = admin(&w, "GET", &format!("/v1/admin/exposures/{id}"), None, &officer).await;
    assert_eq!(status, 200);
    let e = &shown["exposure"];
    assert_eq!(
        (e["status"].as_str(), e["kind"].as_str(), e["contacts"].as_u64()),
        (Some("done"), Some("venue"), Some(3))
    );
    assert_eq!(e["level"], "yellow");
    let contacts = sorted(people[1..4].iter().map(|t| subject_of(t)).collect());
    assert_eq!(contact_ids(&w, &officer, &id).await, contacts);
    assert_eq!(
        fake.sent(),
        ["first", "last", "twice"],
        "one message each, to the account's openid"
    );

    let hint = json!(["11月26日与风险人员时空伴随"]);
    assert_eq!(colour(&w, &people[2]).await, ("yellow".to_owned(), hint.clone()));
    assert_eq!(colour(&w, &people[0]).await.0, "green");
    assert_eq!(colour(&w, &people[4]).await.0, "green");
    let guard = verified(&w.login, "guard", 70).await;
    let (_, shown) = parts(code::handle(&w.code, request("GET", "/v1/code", None, Some(&people[3]))).await);
    let (status, scanned) = parts(
        scan::handle(
            &w.scan,
            request("POST", "/v1/scans", Some(json!({"code": shown["qr"]})), Some(&guard)),
        )
        .await,
    );
    assert_eq!(
        (status, scanned["color"].as_str(), &scanned["hints"]),
        (200, Some("yellow"), &hint)
    );
    let list = notices(&w, &people[2]).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["kind"], "exposure");
    let text = list[0]["text"].as_str().unwrap();
    assert!(
        text.contains("11月26日") && text.contains("长安区") && !text.contains("张"),
        "{text}"
    );
    assert!(notices(&w, &people[0]).await.is_empty());

    // Fourteen days after the contact the colour has gone.
    w.clock.set(t(10, 0) + Duration::days(13));
    assert_eq!(colour(&w, &people[2]).await.0, "yellow");
    w.clock.set(t(10, 0) + Duration::days(14));
    assert_eq!(colour(&w, &people[2]).await.0, "green");
    w.clock.set(t(12, 0));

    let (status, _) = admin(&w, "DELETE", &format!("/v1/admin/exposures/{id}"), None, &officer).await;
    assert_eq!(status, 204);
    let (status, _) = admin(&w, "DELETE", &format!("/v1/admin/exposures/{id}"), None, &officer).await;
    assert_eq!(status, 204, "withdrawing twice is the same");
    assert_eq!(
        worker(&w, &wechat, "w2", 2).work(&id, Budget::default()).await.unwrap(),
        Outcome::Undone
    );
    assert_eq!(colour(&w, &people[2]).await, ("green".to_owned(), json!([])));
    let (_, shown) = admin(&w, "GET", &format!("/v1/admin/exposures/{id}"), None, &officer).await;
    assert_eq!(shown["exposure"]["status"], "withdrawn");
    assert!(
        notices(&w, &people[2]).await[0]["text"]
            .as_str()
            .unwrap()
            .contains("撤销")
    );
    assert_eq!(fake.sent().len(), 3, "a withdrawal sends nothing");
    assert!(w.store.open_exposures().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_person_exposure_finds_who_was_at_each_venue_within_the_window_but_not_the_case() {
    let w = world().await;
    let (fake, wechat) = FakeWeChat::start().await;
    let officer = officer(&w.login, "officer", 90).await;
    let (venue_a, code_a) = venue(&w, "owner-a", 80).await;
    let (_, code_b) = venue(&w, "owner-b", 81).await;
    let case = declared(&w, "case", 1).await;
    let names = ["early", "a-start", "a-end", "late", "b-only", "elsewhere"];
    let mut p = Vec::new();
    for (n, name) in names.iter().enumerate() {
        p.push(declared(&w, name, n as u32 + 2).await);
    }
    let t = |h: u8, m: u8| {
        datetime!(2026-11-26 00:00 +8)
            .replace_hour(h)
            .unwrap()
            .replace_minute(m)
            .unwrap()
    };
    check_in(&w, &p[0], &code_a, t(10, 29)).await; // 61 minutes before the case: out
    check_in(&w, &p[1], &code_a, t(10, 30)).await; // 60 minutes before: in
    check_in(&w, &case, &code_a, t(11, 30)).await;
    check_in(&w, &p[2], &code_a, t(12, 30)).await; // 60 minutes after: in
    check_in(&w, &p[3], &code_a, t(12, 31)).await; // out
    check_in(&w, &case, &code_b, t(13, 0)).await;
    check_in(&w, &p[2], &code_b, t(13, 10)).await; // at both venues: one contact
    check_in(&w, &p[4], &code_b, t(13, 30)).await;
    check_in(&w, &p[5], &code_b, t(15, 0)).await; // out

    w.clock.set(t(16, 0));
    let id = expose(
        &w,
        &officer,
        json!({"id_number": person_id(1), "from": "2026-11-26T10:00:00+08:00", "to": "2026-11-26T14:00:00+08:00", "level": "red", "reason": "确诊病例行程", "window_minutes": 60}),
    )
    .await;
    assert_eq!(
        worker(&w, &wechat, "w1", 3).work(&id, Budget::default()).await.unwrap(),
        Outcome::Done
    );
    let expected = sorted([&p[1], &p[2], &p[4]].iter().map(|t| subject_of(t)).collect());
    assert_eq!(contact_ids(&w, &officer, &id).await, expected);
    assert_eq!(fake.sent(), ["a-end", "a-start", "b-only"]);
    let (_, shown) = admin(&w, "GET", &format!("/v1/admin/exposures/{id}"), None, &officer).await;
    assert_eq!(
        (
            shown["exposure"]["kind"].as_str(),
            shown["exposure"]["contacts"].as_u64()
        ),
        (Some("person"), Some(3))
    );
    assert_eq!(colour(&w, &p[2]).await.0, "red");
    assert_eq!(colour(&w, &p[0]).await.0, "green");
    assert_eq!(colour(&w, &case).await.0, "green", "the case is not its own contact");
    let contacts = table_items(&w.store, &w.store.tables.exposures).await;
    assert!(
        contacts.iter().all(|i| i["venue_id"].is_null()
            || i["venue_id"] != json!(venue_a)
            || i["subject_id"] != json!(subject_of(&p[0]))),
        "the early visitor is no contact"
    );
}

/// A venue with `n` visitors a minute apart from 10:01; an exposure of all of them.
async fn busy_venue(w: &World, n: u32) -> (String, Vec<String>, String) {
    let officer = officer(&w.login, "officer", 90).await;
    let (venue_id, code) = venue(w, "owner", 80).await;
    let mut people = Vec::new();
    for i in 0..n {
        let token = declared(w, &format!("v{i:02}"), i + 1).await;
        check_in(w, &token, &code, NOW + Duration::minutes(i64::from(i) + 1)).await;
        people.push(format!("v{i:02}"));
    }
    w.clock.set(NOW + Duration::hours(2));
    let id = expose(
        w,
        &officer,
        json!({"venue_id": venue_id, "from": "2026-11-26T10:00:00+08:00", "to": "2026-11-26T11:00:00+08:00", "level": "yellow", "reason": "确诊病例到访"}),
    )
    .await;
    (id, people, officer)
}

#[tokio::test]
async fn a_worker_stopped_mid_run_and_another_started_record_and_notify_each_contact_once() {
    let w = world().await;
    let (fake, wechat) = FakeWeChat::start().await;
    let (id, people, officer) = busy_venue(&w, 12).await;

    // The first worker reads three pages of two, then stops where it was.
    assert_eq!(
        worker(&w, &wechat, "first", 2)
            .work(
                &id,
                Budget {
                    pages: Some(3),
                    until: None
                }
            )
            .await
            .unwrap(),
        Outcome::Paused
    );
    let (_, shown) = admin(&w, "GET", &format!("/v1/admin/exposures/{id}"), None, &officer).await;
    // Pages hold up to two: a venue's entries are spread over its index shards.
    let so_far = shown["exposure"]["contacts"].as_u64().unwrap();
    assert_eq!(shown["exposure"]["status"], "running");
    assert!((3..=6).contains(&so_far), "{so_far}");
    assert_eq!(fake.sent().len() as u64, so_far);

    // A second dies holding the lease, after recording a contact of its next page but before
    // notifying it or saving its position.
    let now = w.clock.now();
    let exposure = w
        .store
        .take_exposure(&id, "dead", now.unix_timestamp(), now.unix_timestamp() + 120)
        .await
        .unwrap()
        .unwrap();
    let (pending, _) = w.store.contacts_page(&id, None, 100).await.unwrap();
    let known: Vec<String> = pending.iter().map(|c| c.subject_id.clone()).collect();
    let task = &w.store.tasks(&id).await.unwrap()[0];
    let mut next = None;
    'find: for shard in 0..task.shards {
        let (entries, _) = w
            .store
            .venue_shard_page(&task.venue_id, shard, &task.from, &task.to, None, 100)
            .await
            .unwrap();
        for e in entries {
            if !known.contains(&e.subject_id) {
                next = Some(e);
                break 'find;
            }
        }
    }
    let entry = next.expect("an unrecorded entry");
    let contact = Contact {
        subject_id: entry.subject_id.clone(),
        venue_id: task.venue_id.clone(),
        entered_at: entry.at.clone(),
        recorded_at: sort_time(now),
        sent_at: None,
    };
    let fact = ExposureFact {
        id: id.clone(),
        level: Color::Yellow,
        day: shanghai_day(now),
        recorded_at: now,
        district: Some("130102".into()),
        withdrawn: false,
    };
    assert_eq!(exposure.progress.pages, 3);
    assert_eq!(
        w.store
            .record_contact(&id, "dead", &contact, &fact, true)
            .await
            .unwrap(),
        Recorded::New
    );

    // While its lease holds, no one else takes the exposure; after, the next finishes it.
    assert_eq!(
        worker(&w, &wechat, "third", 2)
            .work(&id, Budget::default())
            .await
            .unwrap(),
        Outcome::Busy
    );
    w.clock.advance(Duration::minutes(3));
    assert_eq!(
        worker(&w, &wechat, "third", 2)
            .work(&id, Budget::default())
            .await
            .unwrap(),
        Outcome::Done
    );
    assert_eq!(fake.sent(), people, "each visitor notified exactly once");
    let (_, shown) = admin(&w, "GET", &format!("/v1/admin/exposures/{id}"), None, &officer).await;
    assert_eq!(shown["exposure"]["contacts"].as_u64(), Some(12));
    assert_eq!(contact_ids(&w, &officer, &id).await.len(), 12);
    let profile = w.store.get_subject(&entry.subject_id, true).await.unwrap().unwrap();
    assert_eq!(profile.facts.exposures.len(), 1, "the fact was given once");
    assert_eq!(*fake.tokens.lock().unwrap(), 1, "the access token is kept");
}

#[tokio::test]
async fn two_workers_at_once_record_and_notify_each_contact_once() {
    let w = world().await;
    let (fake, wechat) = FakeWeChat::start().await;
    let (id, people, officer) = busy_venue(&w, 10).await;
    let run = |name: &'static str| {
        let w = &w;
        let wechat = &wechat;
        let id = &id;
        async move {
            let worker = worker(w, wechat, name, 2);
            for _ in 0..200 {
                match worker
                    .work(
                        id,
                        Budget {
                            pages: Some(1),
                            until: None,
                        },
                    )
                    .await
                    .unwrap()
                {
                    Outcome::Done => return,
                    _ => tokio::task::yield_now().await,
                }
                if w.store
                    .get_exposure(id, true)
                    .await
                    .unwrap()
                    .unwrap()
                    .finished_at
                    .is_some()
                {
                    return;
                }
            }
            panic!("the exposure did not finish");
        }
    };
    tokio::join!(run("one"), run("two"));
    assert_eq!(fake.sent(), people);
    let (_, shown) = admin(&w, "GET", &format!("/v1/admin/exposures/{id}"), None, &officer).await;
    assert_eq!(
        (
            shown["exposure"]["status"].as_str(),
            shown["exposure"]["contacts"].as_u64()
        ),
        (Some("done"), Some(10))
    );
}

#[tokio::test]
async fn a_citizen_is_forbidden_every_exposure_route_and_a_stranger_the_notices_of_others() {
    let w = world().await;
    let citizen = declared(&w, "citizen", 1).await;
    let id = "x_aaaaaaaaaaaaaaaaaaaaaaaaaa";
    let body = json!({"venue_id": "v_aaaaaaaaaaaaaaaaaaaaaaaaaa", "from": "2026-11-26T08:00:00+08:00", "to": "2026-11-26T09:00:00+08:00", "level": "yellow", "reason": "x"});
    for (method, path, body) in [
        ("POST", "/v1/admin/exposures".to_owned(), Some(body)),
        ("GET", format!("/v1/admin/exposures/{id}"), None),
        ("GET", format!("/v1/admin/exposures/{id}/contacts"), None),
        ("DELETE", format!("/v1/admin/exposures/{id}"), None),
    ] {
        let (status, problem) = admin(&w, method, &path, body, &citizen).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (403, Some("forbidden")),
            "{method} {path}"
        );
    }
    let other = declared(&w, "other", 2).await;
    let path = format!("/v1/notices?subject_id={}", subject_of(&citizen));
    let (status, _) = parts(code::handle(&w.code, request("GET", &path, None, Some(&other))).await);
    assert_eq!(status, 403);
    assert!(table_items(&w.store, &w.store.tables.exposures).await.is_empty());
}

#[tokio::test]
async fn bad_exposure_requests_are_refused_and_record_nothing() {
    let w = world().await;
    let officer = officer(&w.login, "officer", 90).await;
    let (venue_id, _) = venue(&w, "owner", 80).await;
    let good = json!({"venue_id": venue_id, "from": "2026-11-26T08:00:00+08:00", "to": "2026-11-26T09:00:00+08:00", "level": "yellow", "reason": "确诊病例到访"});
    let with = |field: &str, value: Value| {
        let mut body = good.clone();
        body[field] = value;
        body
    };
    let mut both = good.clone();
    both["subject_id"] = json!(subject_of(&officer));
    let cases = [
        (with("level", json!("green")), 400),
        (with("level", json!("purple")), 400),
        (with("from", json!("yesterday")), 400),
        (with("to", json!("2026-11-26T07:00:00+08:00")), 400),
        (with("from", json!("2026-11-01T08:00:00+08:00")), 400),
        (with("to", json!("2026-11-27T09:00:00+08:00")), 400),
        (with("reason", json!("")), 400),
        (with("window_minutes", json!(30)), 400),
        (with("venue_id", json!("v_bbbbbbbbbbbbbbbbbbbbbbbbbb")), 404),
        (with("venue_id", json!("'; DROP TABLE")), 404),
        (with("extra", json!(1)), 400),
        (both, 400),
        (
            json!({"id_number": person_id(50), "from": "2026-11-26T08:00:00+08:00", "to": "2026-11-26T09:00:00+08:00", "level": "red", "reason": "x"}),
            404,
        ),
        (
            json!({"id_number": "130102199001010000", "from": "2026-11-26T08:00:00+08:00", "to": "2026-11-26T09:00:00+08:00", "level": "red", "reason": "x"}),
            422,
        ),
        (
            json!({"subject_id": subject_of(&officer), "from": "2026-11-26T08:00:00+08:00", "to": "2026-11-26T09:00:00+08:00", "level": "red", "reason": "x", "window_minutes": 0}),
            400,
        ),
    ];
    for (body, expected) in cases {
        let (status, problem) = admin(&w, "POST", "/v1/admin/exposures", Some(body.clone()), &officer).await;
        assert_eq!(status, expected, "{body} → {problem}");
    }
    for path in [
        "/v1/admin/exposures/x_nope",
        "/v1/admin/exposures/x_aaaaaaaaaaaaaaaaaaaaaaaaaa/contacts",
    ] {
        assert_eq!(admin(&w, "GET", path, None, &officer).await.0, 404, "{path}");
    }
    let path = "/v1/admin/exposures/x_aaaaaaaaaaaaaaaaaaaaaaaaaa/contacts?next=%27%20OR%201";
    assert_eq!(admin(&w, "GET", path, None, &officer).await.0, 400);
    assert!(table_items(&w.store, &w.store.tables.exposures).await.is_empty());

    // The same request twice with one Idempotency-Key records one exposure.
    let mut ids = Vec::new();
    for _ in 0..2 {
        let mut req = request("POST", "/v1/admin/exposures", Some(good.clone()), Some(&officer));
        req.headers_mut()
            .insert("idempotency-key", "exposure-1".parse().unwrap());
        let (status, body) = parts(admin::handle(&w.admin, req).await);
        assert_eq!(status, 202, "{body}");
        ids.push(body["exposure"]["id"].clone());
    }
    assert_eq!(ids[0], ids[1]);
    assert_eq!(w.store.open_exposures().await.unwrap().len(), 1);
}

/// A WeChat API whose first `busy` sends answer errcode -1 (system busy) and
/// whose first token is refused as expired (40001) once.
async fn flaky_wechat(busy: usize) -> (Arc<Mutex<Vec<i64>>>, exposure::notifier::WeChat) {
    #[derive(Clone)]
    struct Flaky {
        answers: Arc<Mutex<Vec<i64>>>,
        busy: Arc<Mutex<usize>>,
        tokens: Arc<Mutex<usize>>,
    }
    async fn token(State(f): State<Flaky>) -> axum::Json<Value> {
        let mut n = f.tokens.lock().unwrap();
        *n += 1;
        axum::Json(json!({"access_token": format!("token-{n}"), "expires_in": 7200}))
    }
    async fn send(State(f): State<Flaky>, Query(q): Query<Vec<(String, String)>>) -> axum::Json<Value> {
        let code = if q.contains(&("access_token".into(), "token-1".into())) {
            40001
        } else {
            let mut busy = f.busy.lock().unwrap();
            if *busy > 0 {
                *busy -= 1;
                -1
            } else {
                0
            }
        };
        f.answers.lock().unwrap().push(code);
        axum::Json(json!({"errcode": code}))
    }
    let flaky = Flaky {
        answers: Arc::default(),
        busy: Arc::new(Mutex::new(busy)),
        tokens: Arc::default(),
    };
    let answers = flaky.answers.clone();
    let router = Router::new()
        .route("/cgi-bin/token", get(token))
        .route("/cgi-bin/message/subscribe/send", post(send))
        .with_state(flaky);
    let base = fake_http::serve(router).await;
    (
        answers,
        exposure::notifier::WeChat::new(base, "app".into(), "secret".into(), "tmpl-1".into()),
    )
}

#[tokio::test]
async fn a_refused_token_is_renewed_a_busy_wechat_is_retried_and_a_dead_one_never_holds_the_exposure_up() {
    let w = world().await;
    let (id, _, officer) = busy_venue(&w, 1).await;
    // The expired token is renewed once; two busy answers are retried with backoff.
    let (answers, wechat) = flaky_wechat(2).await;
    assert_eq!(
        worker(&w, &wechat, "w1", 10)
            .work(&id, Budget::default())
            .await
            .unwrap(),
        Outcome::Done
    );
    assert_eq!(
        *answers.lock().unwrap(),
        [40001, -1, -1, 0],
        "delivered once in the end"
    );

    // WeChat busy for good: the exposure finishes all the same, its contacts
    // recorded, and the notices are counted as failed, not sent.
    let (venue_id, code) = venue(&w, "owner-2", 81).await;
    let visitor = declared(&w, "late-visitor", 60).await;
    check_in(&w, &visitor, &code, NOW + Duration::hours(3)).await;
    w.clock.set(NOW + Duration::hours(4));
    let id = expose(
        &w,
        &officer,
        json!({"venue_id": venue_id, "from": "2026-11-26T12:00:00+08:00", "to": "2026-11-26T14:00:00+08:00", "level": "red", "reason": "确诊病例到访"}),
    )
    .await;
    let (answers, wechat) = flaky_wechat(usize::MAX).await;
    assert_eq!(
        worker(&w, &wechat, "w2", 10)
            .work(&id, Budget::default())
            .await
            .unwrap(),
        Outcome::Done
    );
    let (_, shown) = admin(&w, "GET", &format!("/v1/admin/exposures/{id}"), None, &officer).await;
    assert_eq!(shown["exposure"]["contacts"].as_u64(), Some(1));
    let contacts = w.store.contacts_page(&id, None, 10).await.unwrap().0;
    assert!(contacts[0].sent_at.is_none(), "not marked sent");
    assert!(answers.lock().unwrap().len() >= 3, "tried three times");
}

//! Sessions that end, scans that cannot be abused, traces by time: a
//! logged-out token is refused by every function; a scanner's repeat scans
//! of one person in a minute are logged once; a caller's scans and
//! check-ins are limited to 120 a minute; a subject's entries are read by
//! window and page, never the whole partition.

use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use integration_tests::capacity::{Meter, metered_client};
use integration_tests::*;
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use shared::store::Store;
use shared::store::log::{Entry, EntryKind, MAX_READ_PER_PAGE};
use time::Duration;

async fn code_of(w: &World, token: &str) -> String {
    let (status, body) = parts(code::handle(&w.code, request("GET", "/v1/code", None, Some(token))).await);
    assert_eq!(status, 200, "{body}");
    body["qr"].as_str().unwrap().to_owned()
}

fn subject_of(token: &str) -> String {
    sessions().verify(token, NOW).unwrap().subject_id.unwrap()
}

async fn entries_of(store: &Store, subject: &str) -> Vec<Entry> {
    store
        .subject_entries(subject, NOW - Duration::days(1), NOW + Duration::days(1), None, 500)
        .await
        .unwrap()
        .entries
}

fn scan_req(token: &str, code: &str) -> Request {
    request("POST", "/v1/scans", Some(json!({"code": code})), Some(token))
}

// ----------------------------------------------------------------- logout

/// Every authenticated route of every function, as one caller would call it.
async fn every_route(w: &World, token: &str, subject: &str, venue_code: &str) -> Vec<(String, Response<Body>)> {
    let mut answers = Vec::new();
    let mut call = |name: &str, response: Response<Body>| answers.push((name.to_owned(), response));
    let get = |path: &str| request("GET", path, None, Some(token));
    call("login GET /v1/me", login::handle(&w.login, get("/v1/me")).await);
    call(
        "login GET /v1/dependents",
        login::handle(&w.login, get("/v1/dependents")).await,
    );
    let dependent = json!({"name": "孙小明", "id_number": person_id(900), "relation": "child"});
    call(
        "login POST /v1/dependents",
        login::handle(
            &w.login,
            request("POST", "/v1/dependents", Some(dependent), Some(token)),
        )
        .await,
    );
    call(
        "login DELETE /v1/dependents/{id}",
        login::handle(
            &w.login,
            request("DELETE", &format!("/v1/dependents/{subject}"), None, Some(token)),
        )
        .await,
    );
    let identity = json!({"name": "张三丰", "id_number": person_id(901), "phone": "13812345678"});
    call(
        "login POST /v1/identity",
        login::handle(&w.login, request("POST", "/v1/identity", Some(identity), Some(token))).await,
    );
    call(
        "login POST /v1/logout",
        login::handle(&w.login, request("POST", "/v1/logout", None, Some(token))).await,
    );
    call(
        "declaration POST /v1/declarations",
        declaration::handle(
            &w.declaration,
            request("POST", "/v1/declarations", Some(normal_declaration()), Some(token)),
        )
        .await,
    );
    call(
        "declaration GET /v1/declarations",
        declaration::handle(&w.declaration, get("/v1/declarations")).await,
    );
    call("code GET /v1/code", code::handle(&w.code, get("/v1/code")).await);
    call(
        "venue GET /v1/venues/mine",
        venue::handle(&w.venue, get("/v1/venues/mine")).await,
    );
    call(
        "venue GET /v1/venues/mine/checkins",
        venue::handle(&w.venue, get("/v1/venues/mine/checkins")).await,
    );
    call(
        "venue GET /v1/venues/mine/poster",
        venue::handle(&w.venue, get("/v1/venues/mine/poster")).await,
    );
    call(
        "venue POST /v1/venues",
        venue::handle(&w.venue, request("POST", "/v1/venues", Some(venue_body()), Some(token))).await,
    );
    call(
        "venue DELETE /v1/venues/mine",
        venue::handle(&w.venue, request("DELETE", "/v1/venues/mine", None, Some(token))).await,
    );
    let code = code_of(w, &declared(w, "someone", 902).await).await;
    call(
        "scan POST /v1/scans",
        scan::handle(&w.scan, scan_req(token, &code)).await,
    );
    call(
        "scan POST /v1/checkins",
        scan::handle(
            &w.scan,
            request(
                "POST",
                "/v1/checkins",
                Some(json!({"venue_code": venue_code})),
                Some(token),
            ),
        )
        .await,
    );
    call(
        "admin GET /v1/admin/rankings",
        admin::handle(&w.admin, get("/v1/admin/rankings")).await,
    );
    call(
        "admin GET /v1/admin/traces",
        admin::handle(&w.admin, get(&format!("/v1/admin/traces?subject_id={subject}"))).await,
    );
    answers
}

#[tokio::test]
async fn a_logged_out_token_is_refused_by_every_function_and_other_sessions_go_on() {
    let w = world().await;
    let holder = declared(&w, "holder", 1).await;
    let (_, venue) = parts(
        venue::handle(
            &w.venue,
            request("POST", "/v1/venues", Some(venue_body()), Some(&holder)),
        )
        .await,
    );
    let venue_code = venue["qr"].as_str().unwrap().to_owned();

    // An officer who also holds a venue: every route would answer them.
    let officer = officer(&w.login, "officer", 2).await;
    let (status, _) = parts(
        declaration::handle(
            &w.declaration,
            request("POST", "/v1/declarations", Some(normal_declaration()), Some(&officer)),
        )
        .await,
    );
    assert_eq!(status, 201);
    let subject = subject_of(&officer);
    let other_device = login(&w.login, "officer").await;

    let (status, body) = parts(login::handle(&w.login, request("POST", "/v1/logout", None, Some(&officer))).await);
    assert_eq!((status, body), (204, Value::Null));
    for (route, response) in every_route(&w, &officer, &subject, &venue_code).await {
        let (status, body) = parts(response);
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("unauthenticated")),
            "{route}"
        );
    }
    // Another session of the same account is not ended.
    let (status, _) = parts(login::handle(&w.login, request("GET", "/v1/me", None, Some(&other_device))).await);
    assert_eq!(status, 200);
}

#[tokio::test]
async fn logging_out_twice_with_one_token_is_refused_and_revocations_expire() {
    let w = world().await;
    let token = verified(&w.login, "alice", 1).await;
    let logout = || login::handle(&w.login, request("POST", "/v1/logout", None, Some(&token)));
    assert_eq!(parts(logout().await).0, 204);
    assert_eq!(parts(logout().await).0, 401);
    // A later logout of another token drops the revocations that have expired.
    let account = sessions().verify(&token, NOW).unwrap().account_id;
    w.clock.advance(Duration::days(61));
    let later = login(&w.login, "alice").await;
    assert_eq!(
        parts(login::handle(&w.login, request("POST", "/v1/logout", None, Some(&later))).await).0,
        204
    );
    let stored = w.store.get_account(&account).await.unwrap().unwrap();
    assert_eq!(stored.revoked.len(), 1, "only the live token's revocation is kept");
}

#[test]
fn a_session_lifetime_above_a_day_is_refused_at_cold_start() {
    // The only test of this binary that touches the environment.
    unsafe {
        std::env::set_var("HC_SESSION_SECRET", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY");
        std::env::set_var("HC_SESSION_TTL_SECONDS", "86401");
    }
    let err = shared::auth::SessionKeys::from_env().err().expect("refused");
    assert!(err.to_string().contains("HC_SESSION_TTL_SECONDS"), "{err}");
    unsafe { std::env::set_var("HC_SESSION_TTL_SECONDS", "86400") };
    assert!(shared::auth::SessionKeys::from_env().is_ok());
}

// ---------------------------------------------------- scans that repeat

#[tokio::test]
async fn five_scans_of_one_person_in_a_second_are_answered_and_logged_once() {
    let w = world().await;
    let alice = declared(&w, "alice", 1).await;
    let guard = verified(&w.login, "guard", 2).await;
    let code = code_of(&w, &alice).await;
    for _ in 0..5 {
        let (status, body) = parts(scan::handle(&w.scan, scan_req(&guard, &code)).await);
        assert_eq!((status, body["result"].as_str()), (200, Some("pass")));
    }
    assert_eq!(entries_of(&w.store, &subject_of(&alice)).await.len(), 1);
    // A minute on, the same scan is a new entry; another guard's is too.
    w.clock.advance(Duration::seconds(61));
    let code = code_of(&w, &alice).await;
    assert_eq!(parts(scan::handle(&w.scan, scan_req(&guard, &code)).await).0, 200);
    let other = verified(&w.login, "other-guard", 3).await;
    assert_eq!(parts(scan::handle(&w.scan, scan_req(&other, &code)).await).0, 200);
    assert_eq!(entries_of(&w.store, &subject_of(&alice)).await.len(), 3);
}

#[tokio::test]
async fn two_hundred_scans_in_a_minute_store_one_entry_and_are_refused_past_120() {
    let w = world().await;
    let alice = declared(&w, "alice", 1).await;
    let guard = verified(&w.login, "guard", 2).await;
    let code = code_of(&w, &alice).await;
    let mut statuses = Vec::new();
    for _ in 0..200 {
        let response = scan::handle(&w.scan, scan_req(&guard, &code)).await;
        if response.status() == 429 {
            let retry: u32 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
            assert!((1..=60).contains(&retry), "Retry-After until the next minute: {retry}");
        }
        let (status, body) = parts(response);
        if status == 429 {
            assert_eq!(body["code"], "too-many-attempts");
        }
        statuses.push(status);
    }
    let first_refused = statuses
        .iter()
        .position(|s| *s == 429)
        .expect("refused before the 200th");
    assert_eq!(first_refused, 120, "the 121st is refused");
    assert!(statuses[120..].iter().all(|s| *s == 429));
    assert_eq!(entries_of(&w.store, &subject_of(&alice)).await.len(), 1);
    // The next minute, the scanner may scan again.
    w.clock.advance(Duration::minutes(1));
    assert_eq!(parts(scan::handle(&w.scan, scan_req(&guard, &code)).await).0, 200);
}

#[tokio::test]
async fn the_limit_holds_across_instances_within_the_documented_overshoot() {
    let w = world().await;
    let guard = verified(&w.login, "guard", 1).await;
    let alice = declared(&w, "alice", 2).await;
    let code = code_of(&w, &alice).await;
    // Four instances of the scan function, each with its own memory.
    let instances: Vec<scan::App> = (0..4).map(|_| scan_app(&w.store, &w.clock)).collect();
    let mut admitted = 0;
    for round in 0..100 {
        let app = &instances[round % instances.len()];
        if parts(scan::handle(app, scan_req(&guard, &code)).await).0 == 200 {
            admitted += 1;
        }
    }
    // Spread evenly, each instance counts 25 and writes none: all admitted.
    assert_eq!(admitted, 100);
    for round in 0..200 {
        let app = &instances[round % instances.len()];
        if parts(scan::handle(app, scan_req(&guard, &code)).await).0 == 200 {
            admitted += 1;
        }
    }
    let per_minute = shared::service::limits::PER_MINUTE as usize;
    let bound = per_minute + instances.len() * (shared::service::limits::FLUSH_EVERY as usize - 1);
    assert!(
        admitted > per_minute && admitted <= bound,
        "{admitted} admitted: at least the limit, at most the limit plus each instance's unwritten count"
    );
}

#[tokio::test]
async fn scans_and_check_ins_share_the_limit() {
    let w = world().await;
    let visitor = declared(&w, "visitor", 1).await;
    let holder = declared(&w, "holder", 2).await;
    let (_, venue) = parts(
        venue::handle(
            &w.venue,
            request("POST", "/v1/venues", Some(venue_body()), Some(&holder)),
        )
        .await,
    );
    let checkin = || {
        request(
            "POST",
            "/v1/checkins",
            Some(json!({"venue_code": venue["qr"]})),
            Some(&visitor),
        )
    };
    for _ in 0..120 {
        assert_eq!(parts(scan::handle(&w.scan, checkin()).await).0, 201);
    }
    let (status, body) = parts(scan::handle(&w.scan, checkin()).await);
    assert_eq!((status, body["code"].as_str()), (429, Some("too-many-attempts")));
    assert_eq!(
        entries_of(&w.store, &subject_of(&visitor)).await.len(),
        120,
        "nothing logged past the limit"
    );
}

// ------------------------------------------------------- traces by time

/// Writes `count` check-ins of one subject, one a minute back from `NOW`,
/// straight into the log table by batches of 25.
async fn fill(store: &Store, subject: &str, count: usize) {
    let writes: Vec<WriteRequest> = (0..count)
        .map(|i| {
            let at = NOW - Duration::minutes(i as i64);
            let id = format!("e_fill{i:020}");
            let sk = format!("E#{}#{id}", shared::store::sort_time(at));
            let entry = Entry {
                id,
                kind: EntryKind::Checkin,
                subject_id: subject.to_owned(),
                account: "u_fill".into(),
                at: shared::store::sort_time(at),
                day: "2026-11-26".into(),
                region: Some("130102".into()),
                venue_id: Some("v_fill".into()),
                color: shared::domain::status::Color::Green,
                name_masked: "张*".into(),
                method: None,
            };
            let mut item: std::collections::HashMap<String, _> = serde_dynamo::to_item(&entry).unwrap();
            item.insert(
                "pk".into(),
                aws_sdk_dynamodb::types::AttributeValue::S(format!("S#{subject}")),
            );
            item.insert("sk".into(), aws_sdk_dynamodb::types::AttributeValue::S(sk));
            item.insert(
                "expires".into(),
                aws_sdk_dynamodb::types::AttributeValue::N("4102444800".into()),
            );
            WriteRequest::builder()
                .put_request(PutRequest::builder().set_item(Some(item)).build().unwrap())
                .build()
        })
        .collect();
    for batch in writes.chunks(25) {
        let mut pending = Some(std::collections::HashMap::from([(
            store.tables.log.clone(),
            batch.to_vec(),
        )]));
        while let Some(items) = pending.take().filter(|p| !p.is_empty()) {
            let out = store
                .client()
                .batch_write_item()
                .set_request_items(Some(items))
                .send()
                .await
                .unwrap();
            pending = out.unprocessed_items;
        }
    }
}

#[tokio::test]
async fn a_trace_reads_a_window_a_page_at_a_time_never_the_whole_partition() {
    let meter = Meter::new();
    let prefix = format!("{}-", shared::crypto::random_id("t"));
    let store = Store::new(metered_client(&meter), shared::store::Tables::with_prefix(&prefix));
    store.create_tables().await.unwrap();
    let w = world_on(store);
    let officer = officer(&w.login, "officer", 1).await;
    let alice = declared(&w, "alice", 2).await;
    let subject = subject_of(&alice);
    fill(&w.store, &subject, 3_000).await;
    meter.take();

    // The last day: 1,440 entries, read 100 a page.
    let from = shared::domain::day::rfc3339(NOW - Duration::days(1));
    let to = shared::domain::day::rfc3339(NOW);
    let mut next: Option<String> = None;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let mut path = format!("/v1/admin/traces?subject_id={subject}&from={from}&to={to}&limit=100");
        if let Some(cursor) = &next {
            path += &format!("&next={cursor}");
        }
        let path = path.replace('+', "%2B");
        let (status, body) = parts(admin::handle(&w.admin, request("GET", &path, None, Some(&officer))).await);
        assert_eq!(status, 200, "{body}");
        let visits = body["visits"].as_array().unwrap();
        assert!(visits.len() <= 100);
        seen.extend(visits.iter().map(|v| v["entered_at"].as_str().unwrap().to_owned()));
        // A page reads at most MAX_READ_PER_PAGE times its size in items of
        // under 400 bytes, eventually consistently: at most this many units.
        // The whole partition (3,000 items of over 200 bytes) would be over 70.
        let bound = (MAX_READ_PER_PAGE * 100 * 400).div_ceil(4096) as f64 * 0.5;
        let read: f64 = meter
            .take()
            .iter()
            .filter(|c| c.operation == "Query")
            .map(|c| c.read_units)
            .sum();
        assert!(
            read <= bound,
            "page {pages} read {read} units, not a page's {bound} at most"
        );
        pages += 1;
        match body["next"].as_str() {
            Some(cursor) => next = Some(cursor.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 1_441, "every entry of the window, once: {pages} pages");
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, sorted, "newest first across pages");
}

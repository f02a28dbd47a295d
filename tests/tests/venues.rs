//! The venue function against the emulator: one venue per applicant under
//! concurrency, posters whose QR decodes to the venue code, revocation, and
//! the owner's paginated list of entries.

use integration_tests::*;
use serde_json::{Value, json};
use shared::store::Store;
use time::Duration;

async fn call(w: &World, method: &str, path: &str, body: Option<Value>, token: &str) -> (u16, Value) {
    parts(venue::handle(&w.venue, request(method, path, body, Some(token))).await)
}

async fn venue_items(store: &Store) -> Vec<Value> {
    table_items(store, &store.tables.venues).await
}

/// A verified visitor who declared once, checking in with `venue_code`.
async fn visit(w: &World, name: &str, person: u32, venue_code: &str) -> (u16, Value) {
    let token = declared(w, name, person).await;
    parts(
        scan::handle(
            &w.scan,
            request(
                "POST",
                "/v1/checkins",
                Some(json!({"venue_code": venue_code})),
                Some(&token),
            ),
        )
        .await,
    )
}

#[tokio::test]
async fn an_applicant_creates_reads_and_holds_one_venue() {
    let w = world().await;
    let token = verified(&w.login, "owner", 1).await;
    let (status, created) = call(&w, "POST", "/v1/venues", Some(venue_body()), &token).await;
    assert_eq!(status, 201, "{created}");
    let venue = &created["venue"];
    assert_eq!(venue["name"], "石家庄市长安区建设北大街社区卫生服务中心");
    assert_eq!(
        (venue["region"].as_str(), venue["category"].as_str()),
        (Some("130102"), Some("medical"))
    );
    assert_eq!(venue["created_at"], "2026-11-26T10:00:00+08:00");
    let qr = created["qr"].as_str().unwrap();
    assert!(
        qr.starts_with(&format!("{VENUE_URL_BASE}?c={}.", venue["id"].as_str().unwrap())),
        "{qr}"
    );

    let (status, mine) = call(&w, "GET", "/v1/venues/mine", None, &token).await;
    assert_eq!((status, &mine["venue"], &mine["qr"]), (200, venue, &created["qr"]));

    let (status, body) = call(&w, "POST", "/v1/venues", Some(venue_body()), &token).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("venue-exists")));
    let other = verified(&w.login, "other", 2).await;
    assert_eq!(
        call(&w, "GET", "/v1/venues/mine", None, &other).await.1["code"],
        "not-found"
    );
}

#[tokio::test]
async fn ten_simultaneous_applications_leave_exactly_one_venue() {
    let w = world().await;
    let token = verified(&w.login, "owner", 1).await;
    let results =
        futures::future::join_all((0..10).map(|_| call(&w, "POST", "/v1/venues", Some(venue_body()), &token))).await;
    let created = results.iter().filter(|(s, _)| *s == 201).count();
    let refused = results
        .iter()
        .filter(|(s, b)| *s == 409 && b["code"] == "venue-exists")
        .count();
    assert_eq!((created, refused), (1, 9), "{results:?}");
    let items = venue_items(&w.store).await;
    assert_eq!(items.len(), 2, "one venue and its applicant's marker: {items:?}");
}

#[tokio::test]
async fn invalid_applications_are_422_and_store_nothing() {
    let w = world().await;
    let token = verified(&w.login, "owner", 1).await;
    let with = |field: &str, value: Value| {
        let mut body = venue_body();
        body[field] = value;
        body
    };
    for body in [
        with("name", json!("店")),
        with("name", json!("店".repeat(51))),
        with("name", json!("小卖部\u{0007}")),
        with("address", json!("")),
        with("region", json!("130100")),
        with("region", json!("110105")),
        with("region", json!("999999")),
        with("category", json!("casino")),
        with("category", json!(3)),
        json!({"name": "超市", "address": "某路1号"}),
    ] {
        let (status, answer) = call(&w, "POST", "/v1/venues", Some(body.clone()), &token).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (422, Some("invalid-venue")),
            "{body}"
        );
    }
    assert!(venue_items(&w.store).await.is_empty());
    let unverified = login(&w.login, "nobody").await;
    assert_eq!(
        call(&w, "POST", "/v1/venues", Some(venue_body()), &unverified).await.1["code"],
        "identity-required"
    );
}

#[tokio::test]
async fn the_posters_qr_decodes_to_exactly_the_venue_code() {
    let w = world().await;
    let token = verified(&w.login, "owner", 1).await;
    let (_, created) = call(&w, "POST", "/v1/venues", Some(venue_body()), &token).await;
    let qr = created["qr"].as_str().unwrap();

    let response = venue::handle(&w.venue, request("GET", "/v1/venues/mine/poster", None, Some(&token))).await;
    assert_eq!(
        (response.status().as_u16(), &response.headers()["content-type"]),
        (200, &"image/svg+xml".parse::<lambda_http::http::HeaderValue>().unwrap())
    );
    let lambda_http::Body::Text(svg) = response.body() else {
        panic!("an SVG text body")
    };
    assert!(svg.contains("石家庄市长安区"), "the name is on the poster");
    assert_eq!(qr::decode_svg(svg, 4.0), qr);

    let response = venue::handle(
        &w.venue,
        request("GET", "/v1/venues/mine/poster?format=png", None, Some(&token)),
    )
    .await;
    assert_eq!(response.headers()["content-type"], "image/png");
    let lambda_http::Body::Binary(png) = response.body() else {
        panic!("a binary body")
    };
    assert!(png.starts_with(b"\x89PNG"));
    assert_eq!(qr::decode_png(png), qr);

    assert_eq!(
        call(&w, "GET", "/v1/venues/mine/poster?format=gif", None, &token)
            .await
            .0,
        400
    );
}

#[tokio::test]
async fn a_revoked_venue_refuses_check_ins_and_its_applicant_may_apply_again() {
    let w = world().await;
    let token = verified(&w.login, "owner", 1).await;
    let (_, created) = call(&w, "POST", "/v1/venues", Some(venue_body()), &token).await;
    let printed = created["qr"].as_str().unwrap().to_owned();
    assert_eq!(visit(&w, "before", 10, &printed).await.0, 201);

    assert_eq!(call(&w, "DELETE", "/v1/venues/mine", None, &token).await.0, 204);
    assert_eq!(call(&w, "GET", "/v1/venues/mine", None, &token).await.0, 404);
    assert_eq!(call(&w, "DELETE", "/v1/venues/mine", None, &token).await.0, 404);
    let (status, body) = visit(&w, "after", 11, &printed).await;
    assert_eq!((status, body["code"].as_str()), (410, Some("venue-revoked")));

    let (status, again) = call(&w, "POST", "/v1/venues", Some(venue_body()), &token).await;
    assert_eq!(status, 201);
    assert_ne!(again["venue"]["id"], created["venue"]["id"]);
}

#[tokio::test]
async fn the_owner_lists_masked_entries_newest_first_page_by_page() {
    let w = world().await;
    let token = verified(&w.login, "owner", 1).await;
    let (_, created) = call(&w, "POST", "/v1/venues", Some(venue_body()), &token).await;
    let code = created["qr"].as_str().unwrap().to_owned();
    for n in 0..7 {
        w.clock.advance(Duration::minutes(1));
        assert_eq!(visit(&w, &format!("visitor{n}"), 20 + n, &code).await.0, 201);
    }
    let (status, all) = call(&w, "GET", "/v1/venues/mine/checkins", None, &token).await;
    assert_eq!(status, 200, "{all}");
    let entries = all["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 7);
    assert_eq!(all["next"], Value::Null);
    assert_eq!(entries[0]["entered_at"], "2026-11-26T10:07:00+08:00");
    assert_eq!(entries[6]["entered_at"], "2026-11-26T10:01:00+08:00");
    assert_eq!(
        (entries[0]["name_masked"].as_str(), entries[0]["color"].as_str()),
        (Some("张*丰"), Some("green"))
    );

    // Pages of two cover every entry once, in order, across the index shards.
    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let path = match &next {
            Some(cursor) => format!("/v1/venues/mine/checkins?limit=2&next={cursor}"),
            None => "/v1/venues/mine/checkins?limit=2".to_owned(),
        };
        let (status, page) = call(&w, "GET", &path, None, &token).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(
            page["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["entered_at"].as_str().unwrap().to_owned()),
        );
        match page["next"].as_str() {
            Some(cursor) => next = Some(cursor.to_owned()),
            None => break,
        }
    }
    let expected: Vec<String> = entries
        .iter()
        .map(|e| e["entered_at"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(seen, expected);

    // A window selects by entry time.
    let path = "/v1/venues/mine/checkins?from=2026-11-26T10:02:00%2B08:00&to=2026-11-26T10:04:00%2B08:00";
    let (_, window) = call(&w, "GET", path, None, &token).await;
    assert_eq!(window["entries"].as_array().unwrap().len(), 3);
    // Entries older than 24 hours leave the default window.
    w.clock.advance(Duration::hours(25));
    let (_, later) = call(&w, "GET", "/v1/venues/mine/checkins", None, &token).await;
    assert_eq!(later["entries"], json!([]));

    for bad in [
        "?from=yesterday",
        "?limit=0",
        "?limit=1000",
        "?next=%%%",
        "?from=2026-11-27T00:00:00Z&to=2026-11-26T00:00:00Z",
    ] {
        assert_eq!(
            call(&w, "GET", &format!("/v1/venues/mine/checkins{bad}"), None, &token)
                .await
                .0,
            400,
            "{bad}"
        );
    }
}

#[tokio::test]
async fn entries_spread_over_the_venue_index_shards() {
    let w = world().await;
    let token = verified(&w.login, "owner", 1).await;
    let (_, created) = call(&w, "POST", "/v1/venues", Some(venue_body()), &token).await;
    let code = created["qr"].as_str().unwrap().to_owned();
    for n in 0..12 {
        assert_eq!(visit(&w, &format!("v{n}"), 40 + n, &code).await.0, 201);
    }
    let shards: std::collections::BTreeSet<String> = table_items(&w.store, &w.store.tables.log)
        .await
        .iter()
        .filter_map(|item| item["gpk"].as_str().map(str::to_owned))
        .collect();
    assert!(
        shards.len() >= 2,
        "12 entries use more than one of the 4 shards: {shards:?}"
    );
}

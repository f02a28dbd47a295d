//! Where a trace starts, against the emulator: the authority finds a person
//! by ID number (audited, found or not, never storing the number), traces
//! them by it, lists a county's venues by a part of the name page by page,
//! and revokes a venue code so that check-ins with it fail.

use integration_tests::*;
use serde_json::{Value, json};
use shared::store::venues::Search;
use time::Duration;

async fn admin(w: &World, method: &str, path: &str, token: &str) -> (u16, Value) {
    parts(admin::handle(&w.admin, request(method, path, None, Some(token))).await)
}

fn account_of(token: &str) -> String {
    sessions().verify(token, NOW).unwrap().account_id
}

fn subject_of(token: &str) -> String {
    sessions().verify(token, NOW).unwrap().subject_id.unwrap()
}

/// Person `person`'s venue, applied for by a verified login of their own.
async fn venue(w: &World, person: u32, name: &str, region: &str) -> Value {
    let token = verified(&w.login, &format!("owner{person}"), person).await;
    let mut body = venue_body();
    body["name"] = json!(name);
    body["region"] = json!(region);
    let (status, created) =
        parts(venue::handle(&w.venue, request("POST", "/v1/venues", Some(body), Some(&token))).await);
    assert_eq!(status, 201, "{created}");
    created
}

async fn check_in(w: &World, token: &str, venue_code: &Value) -> (u16, Value) {
    parts(
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
    )
}

async fn audit(w: &World) -> Vec<shared::store::audit::AuditEntry> {
    w.store.audit_of_day("2026-11-26").await.unwrap()
}

#[tokio::test]
async fn a_person_is_found_by_id_number_with_identity_colour_and_an_audit_entry() {
    let w = world().await;
    let officer = officer(&w.login, "officer", 1).await;
    let alice = declared(&w, "alice", 2).await;
    let records = json!({"records": [{"id_number": person_id(2), "status": "confirmed", "since": "2026-11-25"}]});
    let (status, _) = parts(
        admin::handle(
            &w.admin,
            request("POST", "/v1/admin/risk-persons", Some(records), Some(&officer)),
        )
        .await,
    );
    assert_eq!(status, 200);

    // Spaces pasted around the number do not matter.
    let (status, found) = admin(
        &w,
        "GET",
        &format!("/v1/admin/subjects?id_number=%20{}%20", person_id(2)),
        &officer,
    )
    .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(
        found,
        json!({"subject": {
            "subject_id": subject_of(&alice), "name": "张三丰", "id_number": person_id(2),
            "phone": "13812345678", "color": "red", "registered": true,
        }})
    );

    let entries = audit(&w).await;
    let find: Vec<_> = entries.iter().filter(|e| e.action == "find-subject").collect();
    assert_eq!(find.len(), 1);
    assert_eq!(
        (find[0].officer.as_str(), find[0].target.as_str(), find[0].records),
        (account_of(&officer).as_str(), subject_of(&alice).as_str(), 1)
    );
    assert!(
        !format!("{entries:?}").contains(&person_id(2)[..17]),
        "the audit holds no ID number"
    );
}

#[tokio::test]
async fn a_number_no_one_registered_is_404_and_audited_by_its_keyed_hash_only() {
    let w = world().await;
    let officer = officer(&w.login, "officer", 1).await;
    let nobody = person_id(77);
    let (status, body) = admin(&w, "GET", &format!("/v1/admin/subjects?id_number={nobody}"), &officer).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not-found")));
    assert!(!body.to_string().contains(&nobody[..17]));

    let entries = audit(&w).await;
    assert_eq!(entries.len(), 1);
    let miss = &entries[0];
    assert_eq!(
        (miss.action.as_str(), miss.target.as_str(), miss.records),
        ("find-subject", "no subject", 0)
    );
    assert_eq!(
        miss.detail,
        pii().id_hash(&nobody),
        "the keyed hash, so an auditor can tell whose"
    );

    for (query, status, code) in [
        ("", 400, "bad-request"),
        ("?id_number=130102199001010010", 422, "invalid-id-number"),
        ("?id_number=13010219900101001", 422, "invalid-id-number"),
        ("?id_number=%3Cscript%3E", 422, "invalid-id-number"),
    ] {
        let (got, body) = admin(&w, "GET", &format!("/v1/admin/subjects{query}"), &officer).await;
        assert_eq!((got, body["code"].as_str()), (status, Some(code)), "{query}");
    }
    assert_eq!(
        audit(&w).await.len(),
        1,
        "refused lookups read nothing and audit nothing"
    );
}

#[tokio::test]
async fn a_dependent_held_only_by_a_guardian_is_found_as_not_registered() {
    let w = world().await;
    let officer = officer(&w.login, "officer", 1).await;
    let guardian = verified(&w.login, "guardian", 2).await;
    let body = json!({"name": "张小明", "id_number": person_id(3), "relation": "child"});
    let (status, added) =
        parts(login::handle(&w.login, request("POST", "/v1/dependents", Some(body), Some(&guardian))).await);
    assert_eq!(status, 201, "{added}");
    let (status, found) = admin(
        &w,
        "GET",
        &format!("/v1/admin/subjects?id_number={}", person_id(3)),
        &officer,
    )
    .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["subject"]["subject_id"], added["dependent"]["subject_id"]);
    assert_eq!(
        (
            &found["subject"]["name"],
            &found["subject"]["phone"],
            &found["subject"]["registered"],
            &found["subject"]["color"]
        ),
        (&json!("张小明"), &Value::Null, &json!(false), &json!("green"))
    );
}

#[tokio::test]
async fn a_trace_starts_from_an_id_number_as_from_the_subject_id() {
    let w = world().await;
    let officer = officer(&w.login, "officer", 1).await;
    let place = venue(&w, 2, "长安区万达广场", "130102").await;
    let visitor = declared(&w, "visitor", 3).await;
    w.clock.advance(Duration::minutes(1));
    assert_eq!(check_in(&w, &visitor, &place["qr"]).await.0, 201);

    let subject = subject_of(&visitor);
    let (status, by_id) = admin(&w, "GET", &format!("/v1/admin/traces?subject_id={subject}"), &officer).await;
    assert_eq!(status, 200, "{by_id}");
    let (status, by_number) = admin(
        &w,
        "GET",
        &format!("/v1/admin/traces?id_number={}", person_id(3)),
        &officer,
    )
    .await;
    assert_eq!(status, 200, "{by_number}");
    assert_eq!(by_number, by_id);
    assert_eq!(by_number["visits"][0]["venue"]["id"], place["venue"]["id"]);

    let (status, _) = admin(
        &w,
        "GET",
        &format!("/v1/admin/traces?id_number={}", person_id(78)),
        &officer,
    )
    .await;
    assert_eq!(status, 404);
    for bad in [
        format!("?id_number={}&subject_id={subject}", person_id(3)),
        format!(
            "?id_number={}&venue_id={}",
            person_id(3),
            place["venue"]["id"].as_str().unwrap()
        ),
    ] {
        assert_eq!(
            admin(&w, "GET", &format!("/v1/admin/traces{bad}"), &officer).await.0,
            400,
            "{bad}"
        );
    }
    let (status, body) = admin(&w, "GET", "/v1/admin/traces?id_number=11010519491231002Y", &officer).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("invalid-id-number")));

    let mut actions: Vec<(String, String)> = audit(&w)
        .await
        .into_iter()
        .map(|e| (e.action, e.target))
        .filter(|(a, _)| a.starts_with("trace"))
        .collect();
    actions.sort();
    assert_eq!(
        actions,
        [
            ("trace-subject".to_owned(), "no subject".to_owned()),
            ("trace-subject".to_owned(), subject.clone()),
            ("trace-subject".to_owned(), subject.clone()),
        ]
    );
}

#[tokio::test]
async fn a_countys_venues_are_listed_newest_first_page_by_page_filtered_by_name() {
    let w = world().await;
    let officer = officer(&w.login, "officer", 1).await;
    let names = [
        "长安区第一超市",
        "长安区人民医院",
        "长安区第二超市",
        "长安区实验小学",
        "长安区第三超市",
        "长安区汽车站",
        "长安区超市（东店）",
    ];
    let mut ids = Vec::new();
    for (n, name) in names.iter().enumerate() {
        w.clock.advance(Duration::minutes(1));
        ids.push(
            venue(&w, 10 + n as u32, name, "130102").await["venue"]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    venue(&w, 30, "桥西区第一超市", "130104").await;
    ids.reverse();

    // Every venue of the county, newest first, three a page.
    let mut listed = Vec::new();
    let mut next: Option<String> = None;
    let mut pages = 0;
    loop {
        let cursor = next.as_ref().map(|n| format!("&next={n}")).unwrap_or_default();
        let (status, page) = admin(
            &w,
            "GET",
            &format!("/v1/admin/venues?region=130102&limit=3{cursor}"),
            &officer,
        )
        .await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        listed.extend(
            page["venues"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["id"].as_str().unwrap().to_owned()),
        );
        match page["next"].as_str() {
            Some(n) => next = Some(n.to_owned()),
            None => break,
        }
    }
    assert_eq!((pages, &listed), (3, &ids));

    let (_, first) = admin(&w, "GET", "/v1/admin/venues?region=130102&limit=1", &officer).await;
    assert_eq!(
        first["venues"][0],
        json!({"id": ids[0], "name": "长安区超市（东店）", "address": "河北省石家庄市长安区建设北大街66号",
               "region": "130102", "category": "medical", "created_at": "2026-11-26T10:07:00+08:00", "revoked": false})
    );

    // Part of the name, across pages of two.
    let q = "%E8%B6%85%E5%B8%82"; // 超市
    let (_, page) = admin(
        &w,
        "GET",
        &format!("/v1/admin/venues?region=130102&q={q}&limit=2"),
        &officer,
    )
    .await;
    let names_of = |page: &Value| -> Vec<String> {
        page["venues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names_of(&page), ["长安区超市（东店）", "长安区第三超市"]);
    let (_, rest) = admin(
        &w,
        "GET",
        &format!(
            "/v1/admin/venues?region=130102&q={q}&limit=2&next={}",
            page["next"].as_str().unwrap()
        ),
        &officer,
    )
    .await;
    assert_eq!(names_of(&rest), ["长安区第二超市", "长安区第一超市"]);

    // Another county's venues stay out; a county with none is an empty list.
    let (_, other) = admin(&w, "GET", &format!("/v1/admin/venues?region=130104&q={q}"), &officer).await;
    assert_eq!(
        (names_of(&other), &other["next"]),
        (vec!["桥西区第一超市".to_owned()], &Value::Null)
    );
    let (status, empty) = admin(&w, "GET", "/v1/admin/venues?region=130105", &officer).await;
    assert_eq!((status, empty), (200, json!({"venues": [], "next": null})));
    assert!(
        audit(&w).await.is_empty(),
        "venues hold no personal data: nothing to audit"
    );

    for bad in [
        "",
        "?region=130100",
        "?region=110105",
        "?region=999999",
        "?region=130102&limit=0",
        "?region=130102&limit=101",
        "?region=130102&q=%27%3B--",
        "?region=130102&next=bm90IGEgY3Vyc29y",
    ] {
        let (status, body) = admin(&w, "GET", &format!("/v1/admin/venues{bad}"), &officer).await;
        assert_eq!((status, body["code"].as_str()), (400, Some("bad-request")), "{bad}");
    }
}

#[tokio::test]
async fn a_rare_name_is_found_within_a_bounded_read_per_page() {
    let w = world().await;
    for n in 0..6u32 {
        w.clock.advance(Duration::minutes(1));
        let name = if n == 1 {
            "正定县隆兴寺"
        } else {
            "正定县便利店"
        };
        venue(&w, 10 + n, name, "130123").await;
    }
    // Two index entries read at most per call: the match lies four entries deep.
    let mut found = Vec::new();
    let mut after: Option<String> = None;
    let mut calls = 0;
    loop {
        let search = Search {
            region: "130123",
            name_part: Some("隆兴寺"),
            after: after.as_deref(),
            limit: 10,
            budget: 2,
        };
        let page = w.store.search_venues(&search).await.unwrap();
        calls += 1;
        found.extend(page.venues.into_iter().map(|v| v.name));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
        assert!(calls < 10, "the pages end");
    }
    assert_eq!(found, ["正定县隆兴寺"]);
    assert!(calls > 1, "the budget split the county into pages");
}

#[tokio::test]
async fn the_authority_revokes_a_venue_once_and_its_code_then_fails_at_check_in() {
    let w = world().await;
    let officer = officer(&w.login, "officer", 1).await;
    let place = venue(&w, 2, "长安区某网吧", "130102").await;
    let id = place["venue"]["id"].as_str().unwrap();
    let visitor = declared(&w, "visitor", 3).await;
    assert_eq!(check_in(&w, &visitor, &place["qr"]).await.0, 201);

    let (status, body) = admin(&w, "DELETE", &format!("/v1/admin/venues/{id}"), &officer).await;
    assert_eq!((status, body), (204, Value::Null));
    let (status, body) = check_in(&w, &visitor, &place["qr"]).await;
    assert_eq!((status, body["code"].as_str()), (410, Some("venue-revoked")));
    let (status, _) = admin(&w, "DELETE", &format!("/v1/admin/venues/{id}"), &officer).await;
    assert_eq!(status, 204, "a second revocation answers the same and changes nothing");

    let (_, listed) = admin(&w, "GET", "/v1/admin/venues?region=130102", &officer).await;
    assert_eq!(listed["venues"][0]["revoked"], true);
    let revocations: Vec<_> = audit(&w)
        .await
        .into_iter()
        .filter(|e| e.action == "revoke-venue")
        .collect();
    assert_eq!(revocations.len(), 1);
    assert_eq!(
        (revocations[0].officer.as_str(), revocations[0].target.as_str()),
        (account_of(&officer).as_str(), id)
    );

    for (path, status) in [
        ("/v1/admin/venues/v_aaaaaaaaaaaaaaaaaaaaaaaaaa".to_owned(), 404),
        ("/v1/admin/venues/%27%20OR%201%3D1".to_owned(), 404),
        (format!("/v1/admin/venues/{id}/x"), 404),
    ] {
        assert_eq!(admin(&w, "DELETE", &path, &officer).await.0, status, "{path}");
    }
    assert_eq!(
        admin(&w, "GET", &format!("/v1/admin/venues/{id}"), &officer).await.0,
        405
    );
    assert_eq!(admin(&w, "POST", "/v1/admin/subjects", &officer).await.0, 405);
}

#[tokio::test]
async fn a_citizen_is_forbidden_every_find_route_and_nothing_is_read_or_revoked() {
    let w = world().await;
    let place = venue(&w, 2, "长安区万达广场", "130102").await;
    let id = place["venue"]["id"].as_str().unwrap();
    let citizen = declared(&w, "citizen", 3).await;
    for (method, path) in [
        ("GET", format!("/v1/admin/subjects?id_number={}", person_id(3))),
        ("GET", format!("/v1/admin/traces?id_number={}", person_id(3))),
        ("GET", "/v1/admin/venues?region=130102".to_owned()),
        ("DELETE", format!("/v1/admin/venues/{id}")),
        ("GET", "/v1/admin/subjects?id_number=bad".to_owned()),
    ] {
        let (status, body) = admin(&w, method, &path, &citizen).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (403, Some("forbidden")),
            "{method} {path}"
        );
        let (status, _) = parts(admin::handle(&w.admin, request(method, &path, None, None)).await);
        assert_eq!(status, 401, "{method} {path}");
    }
    assert!(audit(&w).await.is_empty());
    assert_eq!(
        check_in(&w, &citizen, &place["qr"]).await.0,
        201,
        "the venue still works"
    );
}

#[tokio::test]
async fn finding_and_revoking_cost_what_the_data_model_says() {
    use integration_tests::capacity::{Call, Meter, metered_client};
    let meter = Meter::new();
    let prefix = format!("{}-", shared::crypto::random_id("t"));
    let store = shared::store::Store::new(metered_client(&meter), shared::store::Tables::with_prefix(&prefix));
    store.create_tables().await.unwrap();
    let w = world_on(store);
    let officer = officer(&w.login, "officer", 1).await;
    declared(&w, "alice", 2).await;
    for n in 0..11 {
        w.clock.advance(Duration::minutes(1));
        venue(&w, 10 + n, &format!("长安区第{n}便利店"), "130102").await;
    }
    let owner = verified(&w.login, "owner30", 30).await;
    meter.take();
    let mut body = venue_body();
    body["name"] = json!("长安区建设北大街社区卫生服务中心");
    let (status, created) =
        parts(venue::handle(&w.venue, request("POST", "/v1/venues", Some(body), Some(&owner))).await);
    assert_eq!(status, 201);
    let create = meter.take();
    let found = admin(
        &w,
        "GET",
        &format!("/v1/admin/subjects?id_number={}", person_id(2)),
        &officer,
    )
    .await;
    assert_eq!(found.0, 200);
    let find = meter.take();
    assert_eq!(
        admin(&w, "GET", "/v1/admin/venues?region=130102", &officer).await.0,
        200
    );
    let page = meter.take();
    let (_, filtered) = admin(
        &w,
        "GET",
        "/v1/admin/venues?region=130102&q=%E5%8D%AB%E7%94%9F",
        &officer,
    )
    .await;
    assert_eq!(filtered["venues"].as_array().unwrap().len(), 1);
    let filtered_page = meter.take();
    let id = created["venue"]["id"].as_str().unwrap();
    assert_eq!(
        admin(&w, "DELETE", &format!("/v1/admin/venues/{id}"), &officer).await.0,
        204
    );
    let revoke = meter.take();
    assert_eq!(
        admin(&w, "DELETE", &format!("/v1/admin/venues/{id}"), &officer).await.0,
        204
    );
    let again = meter.take();

    let total = |calls: &[Call]| {
        (
            calls.iter().map(|c| c.read_units).sum::<f64>(),
            calls.iter().map(|c| c.write_units).sum::<f64>(),
        )
    };
    for (name, calls) in [
        ("POST /v1/venues", &create),
        ("GET /v1/admin/subjects", &find),
        ("GET /v1/admin/venues, 12 venues", &page),
        ("GET /v1/admin/venues&q=, 12 venues", &filtered_page),
        ("DELETE /v1/admin/venues/{id}", &revoke),
        ("DELETE again", &again),
    ] {
        println!("{name}:");
        for c in calls.iter() {
            println!("  {:<18} {:>5} RRU {:>5} WRU", c.operation, c.read_units, c.write_units);
        }
        let (r, wr) = total(calls);
        println!("  total              {r:>5} RRU {wr:>5} WRU");
    }
    // A venue's creation writes its index entry too (1 WRU besides the
    // transaction's 4); the authority's calls read the account first.
    assert_eq!(
        total(&create),
        (0.5, 5.0),
        "the account's logout check; the transaction and the index entry"
    );
    assert_eq!(
        total(&find),
        (3.0, 1.0),
        "account, person index, profile, risk areas; the audit"
    );
    assert_eq!(total(&page), (1.5, 0.0), "the account and one page of 12 index entries");
    assert_eq!(total(&filtered_page), (1.5, 0.0), "a filter reads the same entries");
    assert_eq!(
        total(&revoke),
        (2.0, 6.0),
        "account, venue; audit, transaction of 2, the index entry"
    );
    assert_eq!(total(&again), (2.0, 0.0), "a venue revoked already is only read");
}

//! The admin function against the emulator: only the authority gets in; risk
//! areas and risk persons change colours at the next code or scan; records
//! wait for people who have not registered; verification outcomes win and
//! expire; traces show full identities and leave an audit entry; rankings
//! count what the log holds, once, however often a batch is delivered.

use std::collections::HashMap;

use integration_tests::*;
use serde_json::{Value, json};
use shared::domain::day::iso_date;
use shared::domain::divisions;
use shared::store::Store;
use shared::store::stats::{Change, Source};
use time::Duration;

async fn admin(w: &World, method: &str, path: &str, body: Option<Value>, token: &str) -> (u16, Value) {
    parts(admin::handle(&w.admin, request(method, path, body, Some(token))).await)
}

async fn declare(w: &World, token: &str, body: Value) {
    let (status, answer) = parts(
        declaration::handle(
            &w.declaration,
            request("POST", "/v1/declarations", Some(body), Some(token)),
        )
        .await,
    );
    assert_eq!(status, 201, "{answer}");
}

async fn colour(w: &World, token: &str) -> (String, Value) {
    let (status, body) = parts(code::handle(&w.code, request("GET", "/v1/code", None, Some(token))).await);
    assert_eq!(status, 200, "{body}");
    (body["color"].as_str().unwrap().to_owned(), body["hints"].clone())
}

fn subject_of(token: &str) -> String {
    sessions().verify(token, NOW).unwrap().subject_id.unwrap()
}

const ROUTES: [(&str, &str); 9] = [
    ("PUT", "/v1/admin/risk-areas"),
    ("GET", "/v1/admin/risk-areas"),
    ("POST", "/v1/admin/risk-persons"),
    ("POST", "/v1/admin/subjects/s_aaaaaaaaaaaaaaaaaaaaaaaaaa/verification"),
    ("GET", "/v1/admin/traces?venue_id=v_x"),
    ("GET", "/v1/admin/traces?subject_id=s_aaaaaaaaaaaaaaaaaaaaaaaaaa"),
    ("GET", "/v1/admin/rankings"),
    ("GET", "/v1/admin/appeals"),
    ("POST", "/v1/admin/appeals/ap_aaaaaaaaaaaaaaaaaaaaaaaaaa"),
];

#[tokio::test]
async fn a_citizen_is_forbidden_every_admin_route_and_a_stranger_is_unauthenticated() {
    let w = world().await;
    let citizen = verified(&w.login, "citizen", 1).await;
    for (method, path) in ROUTES {
        let body = (method != "GET").then(|| json!({"areas": [], "records": [], "color": "green", "reason": "x"}));
        let (status, answer) = admin(&w, method, path, body.clone(), &citizen).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (403, Some("forbidden")),
            "{method} {path}"
        );
        let (status, _) = parts(admin::handle(&w.admin, request(method, path, body, None)).await);
        assert_eq!(status, 401, "{method} {path}");
    }
    assert!(
        w.store.audit_of_day("2026-11-26").await.unwrap().is_empty(),
        "nothing was done"
    );
}

#[tokio::test]
async fn a_revoked_role_stops_working_at_once() {
    let w = world().await;
    let token = officer(&w.login, "officer", 1).await;
    assert_eq!(admin(&w, "GET", "/v1/admin/rankings", None, &token).await.0, 200);
    let account = sessions().verify(&token, NOW).unwrap().account_id;
    w.store
        .set_role(&account, shared::domain::role::Role::Authority, None)
        .await
        .unwrap();
    assert_eq!(
        admin(&w, "GET", "/v1/admin/rankings", None, &token).await.0,
        403,
        "the same token, read against the store"
    );
}

#[tokio::test]
async fn a_new_risk_area_list_changes_the_next_code_without_a_new_declaration() {
    let w = world().await;
    let officer = officer(&w.login, "officer", 1).await;
    let alice = verified(&w.login, "alice", 2).await;
    let mut body = normal_declaration();
    body["visited_regions"] = json!(["130203"]);
    declare(&w, &alice, body).await;
    assert_eq!(colour(&w, &alice).await.0, "green");

    let (status, answer) = admin(
        &w,
        "PUT",
        "/v1/admin/risk-areas",
        Some(json!({"areas": [{"region": "130200", "level": "high"}]})),
        &officer,
    )
    .await;
    assert_eq!((status, answer["areas"].as_u64()), (200, Some(1)));
    assert_eq!(
        colour(&w, &alice).await,
        ("yellow".to_owned(), json!(["14天内有中高风险地区旅居史"]))
    );
    let (_, listed) = admin(&w, "GET", "/v1/admin/risk-areas", None, &officer).await;
    assert_eq!(listed["areas"], json!([{"region": "130200", "level": "high"}]));

    // Replacing the list with one that leaves Tangshan out turns it green again.
    admin(
        &w,
        "PUT",
        "/v1/admin/risk-areas",
        Some(json!({"areas": [{"region": "110105", "level": "medium"}]})),
        &officer,
    )
    .await;
    assert_eq!(colour(&w, &alice).await.0, "green");
    for bad in [
        json!({"areas": [{"region": "999999", "level": "high"}]}),
        json!({"areas": [{"region": "130200", "level": "extreme"}]}),
        json!({}),
    ] {
        assert_eq!(
            admin(&w, "PUT", "/v1/admin/risk-areas", Some(bad), &officer).await.0,
            400
        );
    }
}

#[tokio::test]
async fn an_imported_confirmed_record_turns_a_green_subject_red_at_the_next_scan() {
    let w = world().await;
    let officer = officer(&w.login, "officer", 1).await;
    let alice = verified(&w.login, "alice", 2).await;
    declare(&w, &alice, normal_declaration()).await;
    let guard = verified(&w.login, "guard", 3).await;
    let (_, code) = parts(code::handle(&w.code, request("GET", "/v1/code", None, Some(&alice))).await);
    let records = json!({"records": [
        {"id_number": person_id(2), "status": "confirmed", "since": "2026-11-25"},
        {"id_number": person_id(500), "status": "close-contact", "since": "2026-11-24"},
        {"id_number": "110105194912310021", "status": "confirmed", "since": "2026-11-25"},
        {"id_number": person_id(501), "status": "sick", "since": "2026-11-25"},
        {"id_number": person_id(502), "status": "suspected", "since": "next week"}
    ]});
    let (status, report) = admin(&w, "POST", "/v1/admin/risk-persons", Some(records), &officer).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        (report["applied"].as_u64(), report["unmatched"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(
        report["errors"],
        json!([{"index": 2, "code": "invalid-id-number"}, {"index": 3, "code": "invalid-status"}, {"index": 4, "code": "invalid-since"}])
    );
    assert!(
        !report.to_string().contains(&person_id(2)),
        "the report does not echo ID numbers"
    );
    let (_, scanned) = parts(
        scan::handle(
            &w.scan,
            request("POST", "/v1/scans", Some(json!({"code": code["qr"]})), Some(&guard)),
        )
        .await,
    );
    assert_eq!(
        (scanned["result"].as_str(), scanned["color"].as_str()),
        (Some("verify"), Some("red"))
    );
    assert_eq!(scanned["hints"][0], "卫生健康部门通报的风险人员");
}

#[tokio::test]
async fn a_record_imported_before_the_person_registers_applies_when_they_do() {
    let w = world().await;
    let officer = officer(&w.login, "officer", 1).await;
    let records = json!({"records": [{"id_number": person_id(7), "status": "close-contact", "since": "2026-11-25"}]});
    let (_, report) = admin(&w, "POST", "/v1/admin/risk-persons", Some(records), &officer).await;
    assert_eq!(
        (report["applied"].as_u64(), report["unmatched"].as_u64()),
        (Some(0), Some(1))
    );
    let late = verified(&w.login, "late", 7).await;
    declare(&w, &late, normal_declaration()).await;
    assert_eq!(colour(&w, &late).await.0, "red");
    // A guardian's dependent is a registration too.
    let records = json!({"records": [{"id_number": person_id(8), "status": "suspected", "since": "2026-11-25"}]});
    admin(&w, "POST", "/v1/admin/risk-persons", Some(records), &officer).await;
    let (_, added) = parts(
        login::handle(
            &w.login,
            request(
                "POST",
                "/v1/dependents",
                Some(json!({"name": "王小二", "id_number": person_id(8), "relation": "child"})),
                Some(&late),
            ),
        )
        .await,
    );
    let child = added["dependent"]["subject_id"].as_str().unwrap();
    let mut body = normal_declaration();
    body["subject_id"] = json!(child);
    declare(&w, &late, body).await;
    let (_, code) = parts(
        code::handle(
            &w.code,
            request("GET", &format!("/v1/code?subject_id={child}"), None, Some(&late)),
        )
        .await,
    );
    assert_eq!(code["color"], "red");
}

#[tokio::test]
async fn a_cleared_record_turns_green_after_14_days_of_normal_declarations() {
    let w = world().await;
    let officer = officer(&w.login, "officer", 1).await;
    let alice = verified(&w.login, "alice", 2).await;
    declare(&w, &alice, normal_declaration()).await;
    let records = json!({"records": [{"id_number": person_id(2), "status": "cleared", "since": "2026-11-26"}]});
    admin(&w, "POST", "/v1/admin/risk-persons", Some(records), &officer).await;
    assert_eq!(
        colour(&w, &alice).await,
        ("red".to_owned(), json!(["解除隔离未满14天"]))
    );
    for day in 1..=14 {
        w.clock.advance(Duration::days(1));
        declare(&w, &alice, normal_declaration()).await;
        let expected = if day < 14 { "red" } else { "green" };
        assert_eq!(colour(&w, &alice).await.0, expected, "after {day} normal days");
    }
}

#[tokio::test]
async fn a_verification_outcome_wins_until_it_expires_or_newer_risk_data_arrives() {
    let w = world().await;
    let officer = officer(&w.login, "officer", 1).await;
    let alice = verified(&w.login, "alice", 2).await;
    let mut fever = normal_declaration();
    fever["temperature"] = json!(38.0);
    declare(&w, &alice, fever).await;
    assert_eq!(colour(&w, &alice).await.0, "yellow");
    let subject = subject_of(&alice);
    w.clock.advance(Duration::minutes(5));
    let path = format!("/v1/admin/subjects/{subject}/verification");
    let (status, answer) = admin(
        &w,
        "POST",
        &path,
        Some(json!({"color": "green", "reason": "核验体温正常", "valid_until": "2026-11-26T18:00:00+08:00"})),
        &officer,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        (
            answer["status"]["color"].as_str(),
            answer["status"]["overridden"].as_bool()
        ),
        (Some("green"), Some(true))
    );
    assert_eq!(
        answer["verification"]["officer"],
        sessions().verify(&officer, NOW).unwrap().account_id
    );
    assert_eq!(
        answer["verification"]["rules_version"],
        shared::domain::rules::RuleSet::embedded().version()
    );
    assert_eq!(colour(&w, &alice).await, ("green".to_owned(), json!([])));
    w.clock.set(time::macros::datetime!(2026-11-26 18:00 +8));
    assert_eq!(colour(&w, &alice).await.0, "yellow", "the outcome has expired");

    // A new outcome, then newer risk data from the authority: the data wins.
    w.clock.set(time::macros::datetime!(2026-11-26 19:00 +8));
    admin(
        &w,
        "POST",
        &path,
        Some(json!({"color": "green", "reason": "复核"})),
        &officer,
    )
    .await;
    assert_eq!(colour(&w, &alice).await.0, "green");
    w.clock.advance(Duration::minutes(1));
    admin(
        &w,
        "POST",
        "/v1/admin/risk-persons",
        Some(json!({"records": [{"id_number": person_id(2), "status": "close-contact", "since": "2026-11-26"}]})),
        &officer,
    )
    .await;
    assert_eq!(colour(&w, &alice).await.0, "red");

    for bad in [
        json!({"color": "blue", "reason": "x"}),
        json!({"color": "green", "reason": ""}),
        json!({"color": "green", "reason": "x", "valid_until": "2026-11-25T00:00:00+08:00"}),
    ] {
        assert_eq!(admin(&w, "POST", &path, Some(bad), &officer).await.0, 400);
    }
    let (status, _) = admin(
        &w,
        "POST",
        "/v1/admin/subjects/s_aaaaaaaaaaaaaaaaaaaaaaaaaa/verification",
        Some(json!({"color": "green", "reason": "x"})),
        &officer,
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn traces_show_full_identities_to_the_authority_and_leave_an_audit_entry() {
    let w = world().await;
    let officer = officer(&w.login, "officer", 1).await;
    let owner = verified(&w.login, "owner", 2).await;
    let (_, venue) = parts(
        venue::handle(
            &w.venue,
            request("POST", "/v1/venues", Some(venue_body()), Some(&owner)),
        )
        .await,
    );
    let visitor = verified(&w.login, "visitor", 3).await;
    declare(&w, &visitor, normal_declaration()).await;
    w.clock.advance(Duration::minutes(1));
    let (status, _) = parts(
        scan::handle(
            &w.scan,
            request(
                "POST",
                "/v1/checkins",
                Some(json!({"venue_code": venue["qr"]})),
                Some(&visitor),
            ),
        )
        .await,
    );
    assert_eq!(status, 201);
    let (_, code) = parts(code::handle(&w.code, request("GET", "/v1/code", None, Some(&visitor))).await);
    w.clock.advance(Duration::minutes(1));
    parts(
        scan::handle(
            &w.scan,
            request(
                "POST",
                "/v1/scans",
                Some(json!({"code": code["qr"], "region": "130104"})),
                Some(&owner),
            ),
        )
        .await,
    );

    let venue_id = venue["venue"]["id"].as_str().unwrap();
    let (status, trace) = admin(
        &w,
        "GET",
        &format!("/v1/admin/traces?venue_id={venue_id}"),
        None,
        &officer,
    )
    .await;
    assert_eq!(status, 200, "{trace}");
    let entry = &trace["entries"][0];
    assert_eq!(
        (
            entry["name"].as_str(),
            entry["id_number"].as_str(),
            entry["phone"].as_str()
        ),
        (Some("张三丰"), Some(person_id(3).as_str()), Some("13812345678"))
    );
    assert_eq!(entry["entered_at"], "2026-11-26T10:01:00+08:00");

    let subject = subject_of(&visitor);
    let (status, trace) = admin(
        &w,
        "GET",
        &format!("/v1/admin/traces?subject_id={subject}"),
        None,
        &officer,
    )
    .await;
    assert_eq!(status, 200, "{trace}");
    assert_eq!(trace["subject"]["id_number"], person_id(3));
    assert_eq!(trace["visits"][0]["venue"]["id"], venue_id);
    assert_eq!(
        (
            trace["scans"][0]["scanned_at"].as_str(),
            trace["scans"][0]["region"].as_str()
        ),
        (Some("2026-11-26T10:02:00+08:00"), Some("130104"))
    );

    let audit = w.store.audit_of_day("2026-11-26").await.unwrap();
    let officer_id = sessions().verify(&officer, NOW).unwrap().account_id;
    let mut actions: Vec<(&str, &str, &str)> = audit
        .iter()
        .map(|a| (a.officer.as_str(), a.action.as_str(), a.target.as_str()))
        .collect();
    actions.sort();
    assert_eq!(
        actions,
        [
            (officer_id.as_str(), "trace-subject", subject.as_str()),
            (officer_id.as_str(), "trace-venue", venue_id)
        ]
    );

    for bad in [
        "",
        "?venue_id=v_x&subject_id=s_y",
        "?venue_id=v_x&from=yesterday",
        "?subject_id=s_aaaaaaaaaaaaaaaaaaaaaaaaaa&from=2026-01-01T00:00:00Z",
    ] {
        assert_eq!(
            admin(&w, "GET", &format!("/v1/admin/traces{bad}"), None, &officer)
                .await
                .0,
            400,
            "{bad}"
        );
    }
    assert_eq!(
        admin(&w, "GET", "/v1/admin/traces?venue_id=v_nothing", None, &officer)
            .await
            .0,
        404
    );
}

/// The log table's items as stream records, in table order, as a batch of changes.
async fn log_as_changes(store: &Store) -> Vec<Change> {
    let mut changes = Vec::new();
    let mut start = None;
    loop {
        let out = store
            .client()
            .scan()
            .table_name(&store.tables.log)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        for item in out.items.unwrap_or_default() {
            let id = format!("{:?}", item.get("sk"));
            changes.push(Change {
                id,
                source: Source::Log,
                new_image: Some(item.into()),
                old_image: None,
            });
        }
        start = out.last_evaluated_key;
        if start.is_none() {
            return changes;
        }
    }
}

#[tokio::test]
async fn rankings_of_a_scripted_day_equal_the_log_also_when_a_batch_is_seen_twice() {
    let w = world().await;
    let officer = officer(&w.login, "officer", 1).await;
    // With 辛集市 (石家庄), 定州市 and 雄县 (保定, 雄安新区), which the notice ranks as units of
    // their own.
    let counties = [
        "130102", "130104", "130203", "130302", "130681", "130181", "130682", "130638",
    ];
    // Keyed by the ranking's level (`city`, `county`, `unit`) and region.
    let mut expected: HashMap<(&str, String), (u64, u64)> = HashMap::new();
    // 1,000 check-ins and 200 scans across 5 counties, straight into the log.
    let mut entries = Vec::new();
    for n in 0..1200u32 {
        let county = counties[n as usize % counties.len()];
        let kind = if n < 1000 {
            shared::store::log::EntryKind::Checkin
        } else {
            shared::store::log::EntryKind::Scan
        };
        let at = NOW + Duration::seconds(i64::from(n));
        entries.push(shared::store::log::Entry {
            id: shared::crypto::random_id("e_"),
            kind,
            subject_id: format!("s_{:026}", n),
            account: "u_test".into(),
            at: shared::store::sort_time(at),
            day: iso_date::format(shared::domain::day::shanghai_day(at)),
            region: Some(county.into()),
            venue_id: (n < 1000).then(|| format!("v_{}", n % 5)),
            color: shared::domain::status::Color::Green,
            name_masked: "张*".into(),
            method: None,
        });
        for (level, region) in [
            ("county", county.to_owned()),
            ("city", divisions::city_of(county).unwrap().code.to_owned()),
            ("unit", divisions::unit_of_county(county).unwrap().to_owned()),
        ] {
            let counts = expected.entry((level, region)).or_default();
            if n < 1000 { counts.0 += 1 } else { counts.1 += 1 }
        }
    }
    for chunk in entries.chunks(50) {
        let writes = chunk.iter().map(|e| {
            w.store.log_entry(
                e,
                shared::store::log::Slot::Exact,
                e.venue_id.as_ref().map(|_| 4),
                NOW + Duration::days(28),
            )
        });
        for result in futures::future::join_all(writes).await {
            result.unwrap();
        }
    }
    let changes = log_as_changes(&w.store).await;
    assert_eq!(changes.len(), 1200);
    for batch in changes.chunks(300) {
        assert!(w.store.count_changes(batch, NOW).await.unwrap() > 0);
    }
    // Lambda delivers a batch again after a failure: it is not counted twice.
    for batch in changes.chunks(300) {
        assert_eq!(w.store.count_changes(batch, NOW).await.unwrap(), 0);
    }
    for level in ["county", "city", "unit"] {
        let (status, ranking) = admin(
            &w,
            "GET",
            &format!("/v1/admin/rankings?date=2026-11-26&level={level}"),
            None,
            &officer,
        )
        .await;
        assert_eq!(status, 200);
        let rows = ranking["rows"].as_array().unwrap();
        assert_eq!(
            rows.len(),
            [("county", 190), ("city", 11), ("unit", 14)]
                .iter()
                .find(|l| l.0 == level)
                .unwrap()
                .1
        );
        for row in rows {
            let key = (level, row["region"].as_str().unwrap().to_owned());
            let (checkins, scans) = expected.get(&key).copied().unwrap_or_default();
            assert_eq!(
                (row["checkins"].as_u64(), row["scans"].as_u64()),
                (Some(checkins), Some(scans)),
                "{row}"
            );
        }
        assert_eq!(rows[0]["rank"], 1);
    }
    // 石家庄 (with 辛集) and 保定 (with 定州 and 雄县) tie as cities, the lower code first; as units
    // 石家庄 alone leads.
    let (_, cities) = admin(&w, "GET", "/v1/admin/rankings?date=2026-11-26", None, &officer).await;
    assert_eq!(cities["level"], "city", "cities by default");
    let top = |ranking: &Value| {
        (
            ranking["rows"][0]["region"].as_str().map(str::to_owned),
            ranking["rows"][0]["checkins"].as_u64(),
        )
    };
    assert_eq!(top(&cities), (Some("130100".into()), Some(375)));
    let (_, units) = admin(
        &w,
        "GET",
        "/v1/admin/rankings?date=2026-11-26&level=unit",
        None,
        &officer,
    )
    .await;
    assert_eq!(top(&units), (Some("130100".into()), Some(250)));
    let unit = |code: &str| {
        units["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["region"] == code)
            .unwrap()
            .clone()
    };
    assert_eq!(
        (unit("133100")["name"].as_str(), unit("133100")["checkins"].as_u64()),
        (Some("雄安新区"), Some(125))
    );
    assert_eq!(unit("130600")["checkins"], 125, "保定 is 涿州 alone");
    assert_eq!(unit("130682")["checkins"], 125);
    for bad in ["?date=26-11-2026", "?level=province", "?level=units"] {
        assert_eq!(
            admin(&w, "GET", &format!("/v1/admin/rankings{bad}"), None, &officer)
                .await
                .0,
            400
        );
    }
}

#[tokio::test]
async fn codes_claimed_count_on_the_day_of_the_first_declaration_with_a_running_total() {
    let w = world().await;
    let officer = officer(&w.login, "officer", 1).await;
    let mut changes = Vec::new();
    for (n, day) in [(2, "2026-11-25"), (3, "2026-11-26"), (4, "2026-11-26")] {
        let image = |first: Option<&str>| {
            let mut item = json!({"pk": format!("S#s_{n:026}"), "sk": "PROFILE", "ver": 1});
            if let Some(first) = first {
                item["first_day"] = json!(first);
                item["first_region"] = json!("130102");
            }
            serde_dynamo::to_item::<_, serde_dynamo::Item>(item).unwrap()
        };
        changes.push(Change {
            id: format!("e{n}"),
            source: Source::Subjects,
            old_image: Some(image(None)),
            new_image: Some(image(Some(day))),
        });
        // A later change of a profile that had already claimed is no claim.
        changes.push(Change {
            id: format!("f{n}"),
            source: Source::Subjects,
            old_image: Some(image(Some(day))),
            new_image: Some(image(Some(day))),
        });
    }
    w.store.count_changes(&changes, NOW).await.unwrap();
    let (_, ranking) = admin(
        &w,
        "GET",
        "/v1/admin/rankings?date=2026-11-26&level=county",
        None,
        &officer,
    )
    .await;
    let row = ranking["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["region"] == "130102")
        .unwrap()
        .clone();
    assert_eq!(
        (row["claimed"].as_u64(), row["claimed_total"].as_u64()),
        (Some(2), Some(3))
    );
    let (_, before) = admin(
        &w,
        "GET",
        "/v1/admin/rankings?date=2026-11-25&level=county",
        None,
        &officer,
    )
    .await;
    let row = before["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["region"] == "130102")
        .unwrap()
        .clone();
    assert_eq!(
        (row["claimed"].as_u64(), row["claimed_total"].as_u64()),
        (Some(1), Some(1))
    );
}

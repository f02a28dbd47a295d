//! Appeals (申诉): filed by a person or their guardian, at most one open per subject under any
//! concurrency, decided by the authority (audited, with full identities in the queue), an upheld
//! one with a colour turning the code.

use integration_tests::*;
use serde_json::{Value, json};

async fn file(w: &World, token: &str, body: Value) -> (u16, Value) {
    parts(declaration::handle(&w.declaration, request("POST", "/v1/appeals", Some(body), Some(token))).await)
}

async fn mine(w: &World, token: &str, subject: Option<&str>) -> (u16, Value) {
    let path = match subject {
        Some(s) => format!("/v1/appeals?subject_id={s}"),
        None => "/v1/appeals".to_owned(),
    };
    parts(declaration::handle(&w.declaration, request("GET", &path, None, Some(token))).await)
}

async fn admin(w: &World, method: &str, path: &str, body: Option<Value>, token: &str) -> (u16, Value) {
    parts(admin::handle(&w.admin, request(method, path, body, Some(token))).await)
}

async fn colour(w: &World, token: &str) -> String {
    let (status, body) = parts(code::handle(&w.code, request("GET", "/v1/code", None, Some(token))).await);
    assert_eq!(status, 200, "{body}");
    body["color"].as_str().unwrap().to_owned()
}

const REASON: &str = "我没有发热，体温登记时填错了。";

#[tokio::test]
async fn ten_simultaneous_appeals_open_one() {
    let w = world().await;
    let alice = declared(&w, "alice", 1).await;
    let answers = futures::future::join_all((0..10).map(|_| file(&w, &alice, json!({"reason": REASON})))).await;
    let created = answers.iter().filter(|(s, _)| *s == 201).count();
    let refused: Vec<_> = answers.iter().filter(|(s, _)| *s == 409).collect();
    assert_eq!(created, 1, "{answers:?}");
    assert_eq!(refused.len(), 9, "{answers:?}");
    assert!(refused.iter().all(|(_, b)| b["code"] == "appeal-open"));
    let (status, listed) = mine(&w, &alice, None).await;
    assert_eq!(status, 200);
    assert_eq!(listed["appeals"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["appeals"][0]["status"], "open");
    assert_eq!(listed["appeals"][0]["reason"], REASON);
}

#[tokio::test]
async fn an_upheld_appeal_with_a_colour_turns_the_code_and_opens_the_way_for_another() {
    let w = world().await;
    let officer = officer(&w.login, "officer", 1).await;
    let alice = verified(&w.login, "alice", 2).await;
    let mut fever = normal_declaration();
    fever["temperature"] = json!(38.2);
    assert_eq!(
        parts(
            declaration::handle(
                &w.declaration,
                request("POST", "/v1/declarations", Some(fever), Some(&alice))
            )
            .await
        )
        .0,
        201
    );
    assert_eq!(colour(&w, &alice).await, "yellow");
    let (status, filed) = file(&w, &alice, json!({"reason": REASON})).await;
    assert_eq!(status, 201, "{filed}");
    let id = filed["appeal"]["id"].as_str().unwrap().to_owned();
    assert_eq!(filed["appeal"]["status"], "open");

    // The queue: full identity and the live colour, audited.
    let (status, queue) = admin(&w, "GET", "/v1/admin/appeals?status=open", None, &officer).await;
    assert_eq!(status, 200);
    let row = &queue["appeals"][0];
    assert_eq!(
        (row["id"].as_str(), row["color"].as_str()),
        (Some(id.as_str()), Some("yellow"))
    );
    assert_eq!(row["id_number"], person_id(2));
    assert!(row["name"].as_str().is_some_and(|n| !n.is_empty()));
    let audit = w.store.audit_of_day("2026-11-26").await.unwrap();
    assert!(
        audit.iter().any(|a| a.action == "appeals" && a.records == 1),
        "{audit:?}"
    );

    // Bad decisions change nothing.
    for bad in [
        json!({"outcome": "open", "note": "好"}),
        json!({"outcome": "rejected", "note": "好", "color": "green"}),
        json!({"outcome": "upheld", "note": ""}),
        json!({"outcome": "upheld", "note": "好", "valid_until": "2026-11-27T10:00:00+08:00"}),
        json!({"outcome": "upheld", "note": "好", "color": "green", "valid_until": "2027-11-27T10:00:00+08:00"}),
        json!({"outcome": "upheld", "note": "好", "extra": 1}),
    ] {
        let (status, answer) = admin(
            &w,
            "POST",
            &format!("/v1/admin/appeals/{id}"),
            Some(bad.clone()),
            &officer,
        )
        .await;
        assert_eq!((status, answer["code"].as_str()), (400, Some("bad-request")), "{bad}");
    }
    let (status, _) = admin(
        &w,
        "POST",
        "/v1/admin/appeals/ap_aaaaaaaaaaaaaaaaaaaaaaaaaa",
        Some(json!({"outcome": "rejected", "note": "无"})),
        &officer,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(colour(&w, &alice).await, "yellow");

    let decision = json!({"outcome": "upheld", "note": "经核实体温正常", "color": "green"});
    let (status, decided) = admin(
        &w,
        "POST",
        &format!("/v1/admin/appeals/{id}"),
        Some(decision.clone()),
        &officer,
    )
    .await;
    assert_eq!(status, 200, "{decided}");
    assert_eq!(decided["appeal"]["status"], "upheld");
    assert_eq!(decided["verification"]["color"], "green");
    assert_eq!(colour(&w, &alice).await, "green", "the verification holds");
    let (status, again) = admin(&w, "POST", &format!("/v1/admin/appeals/{id}"), Some(decision), &officer).await;
    assert_eq!((status, again["code"].as_str()), (409, Some("appeal-decided")));

    let (_, listed) = mine(&w, &alice, None).await;
    assert_eq!(listed["appeals"][0]["status"], "upheld");
    assert_eq!(listed["appeals"][0]["note"], "经核实体温正常");
    assert!(listed["appeals"][0]["resolved_at"].is_string());
    let (_, queue) = admin(&w, "GET", "/v1/admin/appeals", None, &officer).await;
    assert_eq!(queue["appeals"], json!([]), "decided appeals leave the queue");
    assert_eq!(
        file(&w, &alice, json!({"reason": "第二次申诉，请再核实。"})).await.0,
        201,
        "a new appeal once decided"
    );
}

#[tokio::test]
async fn a_guardian_appeals_for_a_dependent_and_a_stranger_may_not() {
    let w = world().await;
    let guardian = verified(&w.login, "mother", 1).await;
    let stranger = verified(&w.login, "stranger", 2).await;
    let child = child_of(&w, &guardian).await;
    let (status, answer) = file(&w, &stranger, json!({"subject_id": child, "reason": REASON})).await;
    assert_eq!((status, answer["code"].as_str()), (403, Some("forbidden")));
    assert_eq!(mine(&w, &stranger, Some(&child)).await.0, 403);
    assert_eq!(
        file(&w, &guardian, json!({"subject_id": child, "reason": REASON}))
            .await
            .0,
        201
    );
    let (_, listed) = mine(&w, &guardian, Some(&child)).await;
    assert_eq!(listed["appeals"].as_array().unwrap().len(), 1);
    let (_, own) = mine(&w, &guardian, None).await;
    assert_eq!(own["appeals"], json!([]), "the guardian's own list is theirs");
}

#[tokio::test]
async fn bad_appeals_are_refused_and_store_nothing() {
    let w = world().await;
    let alice = declared(&w, "alice", 1).await;
    for bad in [
        json!({"reason": "太短"}),
        json!({"reason": "x".repeat(501)}),
        json!({"reason": "<script>alert(1)</script>"}),
        json!({"reason": 5}),
        json!({}),
    ] {
        let (status, answer) = file(&w, &alice, bad.clone()).await;
        assert_eq!((status, answer["code"].as_str()), (400, Some("bad-request")), "{bad}");
    }
    assert_eq!(mine(&w, &alice, None).await.1["appeals"], json!([]));
    let (status, _) = parts(
        declaration::handle(
            &w.declaration,
            request("POST", "/v1/appeals", Some(json!({"reason": REASON})), None),
        )
        .await,
    );
    assert_eq!(status, 401);
}

#[tokio::test]
async fn the_queue_pages_oldest_first() {
    let w = world().await;
    let officer = officer(&w.login, "officer", 1).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let token = declared(&w, &format!("p{n}"), 10 + n).await;
        w.clock.advance(time::Duration::seconds(1));
        ids.push(
            file(&w, &token, json!({"reason": REASON})).await.1["appeal"]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let (_, first) = admin(&w, "GET", "/v1/admin/appeals?limit=2", None, &officer).await;
    let got: Vec<&str> = first["appeals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, [ids[0].as_str(), ids[1].as_str()]);
    let next = first["next"].as_str().expect("a next page");
    let (_, second) = admin(
        &w,
        "GET",
        &format!("/v1/admin/appeals?limit=2&next={next}"),
        None,
        &officer,
    )
    .await;
    let got: Vec<&str> = second["appeals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, [ids[2].as_str()]);
    for bad in ["?status=closed", "?limit=0", "?next=bm90IGEgY3Vyc29y"] {
        assert_eq!(
            admin(&w, "GET", &format!("/v1/admin/appeals{bad}"), None, &officer)
                .await
                .0,
            400,
            "{bad}"
        );
    }
}

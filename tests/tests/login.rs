//! The login function against the DynamoDB emulator: login, real-name
//! authentication, dependents, and the bad input each must refuse.

use integration_tests::*;
use serde_json::{Value, json};
use shared::clock::Clock;

async fn setup() -> (shared::store::Store, login::App) {
    let store = store().await;
    let app = login_app(&store, &Clock::fixed(NOW));
    (store, app)
}

async fn call(app: &login::App, method: &str, path: &str, body: Option<Value>, token: Option<&str>) -> (u16, Value) {
    parts(login::handle(app, request(method, path, body, token)).await)
}

async fn identify(app: &login::App, token: &str, id: &str) -> (u16, Value) {
    call(
        app,
        "POST",
        "/v1/identity",
        Some(json!({"name": "欧阳娜娜", "id_number": id, "phone": "13912345678"})),
        Some(token),
    )
    .await
}

/// How many subjects exist.
async fn profiles(store: &shared::store::Store) -> usize {
    let subjects = table_items(store, &store.tables.subjects).await;
    subjects.iter().filter(|item| item["sk"] == "PROFILE").count()
}

/// Every item of every table, for checks that nothing was stored.
async fn all_items(store: &shared::store::Store) -> Vec<String> {
    let mut items = Vec::new();
    for table in [&store.tables.accounts, &store.tables.subjects] {
        items.extend(table_items(store, table).await.iter().map(Value::to_string));
    }
    items.sort();
    items
}

#[tokio::test]
async fn a_dev_login_returns_a_token_for_a_stable_account() {
    let (_, app) = setup().await;
    let (status, first) = call(&app, "POST", "/v1/login", Some(json!({"code": "dev:alice"})), None).await;
    assert_eq!(status, 200);
    assert!(first["token"].as_str().unwrap().len() > 40);
    assert_eq!(first["expires_at"], "2026-11-26T12:00:00+08:00");
    assert_eq!(first["user"]["verified"], false);
    assert_eq!(first["user"]["roles"], json!([]));
    let (_, again) = call(&app, "POST", "/v1/login", Some(json!({"code": "dev:alice"})), None).await;
    let (_, bob) = call(&app, "POST", "/v1/login", Some(json!({"code": "dev:bob"})), None).await;
    assert_eq!(first["user"]["id"], again["user"]["id"]);
    assert_ne!(first["user"]["id"], bob["user"]["id"]);
}

#[tokio::test]
async fn login_refuses_bad_codes_and_bad_bodies() {
    let (store, app) = setup().await;
    let (status, body) = call(&app, "POST", "/v1/login", Some(json!({"code": "wx-real-code"})), None).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthenticated")));
    let cases: Vec<(lambda_http::Request, u16, &str)> = vec![
        (raw_request("POST", "/v1/login", "{\"code\":", &[]), 400, "bad-request"),
        (
            raw_request("POST", "/v1/login", "{\"code\": 42}", &[]),
            400,
            "bad-request",
        ),
        (raw_request("POST", "/v1/login", "{}", &[]), 400, "bad-request"),
        (
            raw_request("POST", "/v1/login", vec![0xff, 0xfe, 0x00], &[]),
            400,
            "bad-request",
        ),
        (
            raw_request(
                "POST",
                "/v1/login",
                format!("{{\"code\":\"dev:{}\"}}", "a".repeat(17 * 1024)),
                &[],
            ),
            413,
            "payload-too-large",
        ),
        (
            raw_request("POST", "/v1/login", "<code/>", &[("content-type", "application/xml")]),
            415,
            "unsupported-media-type",
        ),
        (raw_request("GET", "/v1/login", "", &[]), 405, "method-not-allowed"),
        (raw_request("GET", "/v1/nothing", "", &[]), 404, "not-found"),
    ];
    for (req, status, code) in cases {
        let response = login::handle(&app, req).await;
        assert_eq!(response.headers()["content-type"], "application/problem+json");
        let (got, body) = parts(response);
        assert_eq!((got, body["code"].as_str().unwrap()), (status, code), "{body}");
    }
    assert!(
        all_items(&store).await.is_empty(),
        "nothing is stored by refused logins"
    );
}

#[tokio::test]
async fn identity_binds_the_caller_masks_and_stores_no_plaintext() {
    let (store, app) = setup().await;
    let token = login(&app, "alice").await;
    let id = person_id(1);
    let (status, body) = identify(&app, &token, &id).await;
    assert_eq!(status, 200, "{body}");
    let user = &body["user"];
    assert_eq!(user["verified"], true);
    assert_eq!(user["name_masked"], "欧**娜");
    assert_eq!(user["id_masked"], format!("{}********{}", &id[..6], &id[14..]));
    assert!(user["subject_id"].as_str().unwrap().starts_with("s_"));
    // The fresh token carries the subject.
    let session = sessions().verify(body["token"].as_str().unwrap(), NOW).unwrap();
    assert_eq!(session.subject_id.as_deref(), user["subject_id"].as_str());
    for item in all_items(&store).await {
        for secret in [id.as_str(), "欧阳娜娜", "13912345678"] {
            assert!(!item.contains(secret), "a stored item holds personal data in clear");
        }
    }
    // The sealed fields open with the keys.
    let identity = store
        .get_identity(user["subject_id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    let subject = &identity.subject_id;
    assert_eq!(pii().open(&identity.id_sealed, &format!("{subject}/id")).unwrap(), id);
    assert_eq!(
        pii().open(&identity.name_sealed, &format!("{subject}/name")).unwrap(),
        "欧阳娜娜"
    );
    assert_eq!(
        pii()
            .open(identity.phone_sealed.as_deref().unwrap(), &format!("{subject}/phone"))
            .unwrap(),
        "13912345678"
    );
}

#[tokio::test]
async fn identity_is_idempotent_for_the_same_number_and_refuses_a_second_one() {
    let (_, app) = setup().await;
    let token = login(&app, "alice").await;
    let (first, one) = identify(&app, &token, &person_id(1)).await;
    let (again, two) = identify(&app, &token, &person_id(1)).await;
    assert_eq!((first, again), (200, 200));
    assert_eq!(one["user"]["subject_id"], two["user"]["subject_id"]);
    let (status, body) = identify(&app, &token, &person_id(2)).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("already-verified")));
}

#[tokio::test]
async fn identity_validates_the_number_the_name_and_the_phone_and_stores_nothing_when_wrong() {
    let (store, app) = setup().await;
    let token = login(&app, "alice").await;
    let before = all_items(&store).await;
    let good = person_id(3);
    let wrong_check = format!("{}{}", &good[..17], if good.ends_with('0') { '1' } else { '0' });
    let cases = [
        (
            json!({"name": "张三", "id_number": wrong_check, "phone": "13812345678"}),
            422,
            "invalid-id-number",
        ),
        (
            json!({"name": "张三", "id_number": id_number("13010219900230123"), "phone": "13812345678"}),
            422,
            "invalid-id-number",
        ),
        (
            json!({"name": "张三", "id_number": &good[..17], "phone": "13812345678"}),
            422,
            "invalid-id-number",
        ),
        (
            json!({"name": "张", "id_number": good, "phone": "13812345678"}),
            422,
            "invalid-name",
        ),
        (
            json!({"name": "张三<script>", "id_number": good, "phone": "13812345678"}),
            422,
            "invalid-name",
        ),
        (
            json!({"name": "张三", "id_number": good, "phone": "2381234567"}),
            422,
            "invalid-phone",
        ),
        (json!({"name": "张三", "id_number": good}), 400, "bad-request"),
        (
            json!({"name": 5, "id_number": good, "phone": "13812345678"}),
            400,
            "bad-request",
        ),
    ];
    for (body, status, code) in cases {
        let (got, answer) = call(&app, "POST", "/v1/identity", Some(body), Some(&token)).await;
        assert_eq!((got, answer["code"].as_str().unwrap()), (status, code), "{answer}");
        assert!(
            !answer.to_string().contains(&good[6..14]),
            "errors do not echo the number"
        );
    }
    assert_eq!(all_items(&store).await, before, "refused requests change nothing");
}

#[tokio::test]
async fn the_standards_example_and_a_lower_case_x_are_accepted() {
    let (_, app) = setup().await;
    let token = login(&app, "alice").await;
    let (status, body) = identify(&app, &token, "11010519491231002x").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["id_masked"], "110105********002X");
    // The same number in upper case is the same person.
    let other = login(&app, "bob").await;
    let (status, body) = identify(&app, &other, "11010519491231002X").await;
    assert_eq!((status, body["code"].as_str()), (409, Some("id-number-taken")));
}

#[tokio::test]
async fn two_accounts_binding_one_number_at_once_exactly_one_wins() {
    let (store, app) = setup().await;
    let (a, b) = (login(&app, "alice").await, login(&app, "bob").await);
    let id = person_id(4);
    let (ra, rb) = tokio::join!(identify(&app, &a, &id), identify(&app, &b, &id));
    let mut statuses = [ra.0, rb.0];
    statuses.sort();
    assert_eq!(statuses, [200, 409]);
    let loser = if ra.0 == 409 { ra.1 } else { rb.1 };
    assert_eq!(loser["code"], "id-number-taken");
    assert_eq!(profiles(&store).await, 1, "one subject exists");
}

#[tokio::test]
async fn sessions_that_are_expired_tampered_or_foreign_are_refused() {
    let (_, app) = setup().await;
    let token = login(&app, "alice").await;
    assert_eq!(call(&app, "GET", "/v1/me", None, Some(&token)).await.0, 200);
    let expired_clock = Clock::fixed(NOW + time::Duration::hours(3));
    let late = login_app(&app.base.store, &expired_clock);
    assert_eq!(call(&late, "GET", "/v1/me", None, Some(&token)).await.0, 401);
    let mut tampered = token.clone().into_bytes();
    let i = tampered.len() - 5;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let foreign = shared::auth::SessionKeys::new(&[99; 32], time::Duration::hours(2))
        .issue(
            &shared::auth::Session {
                account_id: "u_x".into(),
                subject_id: None,
                roles: vec![],
                token: Default::default(),
            },
            NOW,
        )
        .0;
    for bad in [tampered.as_str(), foreign.as_str(), "", "not-a-jwt"] {
        let (status, body) = call(&app, "GET", "/v1/me", None, Some(bad)).await;
        assert_eq!((status, body["code"].as_str()), (401, Some("unauthenticated")));
    }
    let (status, _) = parts(
        login::handle(
            &app,
            raw_request("GET", "/v1/me", "", &[("authorization", &format!("Basic {token}"))]),
        )
        .await,
    );
    assert_eq!(status, 401);
    assert_eq!(call(&app, "GET", "/v1/me", None, None).await.0, 401);
}

#[tokio::test]
async fn dependents_need_a_verified_guardian() {
    let (_, app) = setup().await;
    let token = login(&app, "alice").await;
    let (status, body) = call(
        &app,
        "POST",
        "/v1/dependents",
        Some(json!({"name": "张小宝", "id_number": person_id(20), "relation": "child"})),
        Some(&token),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (403, Some("identity-required")));
}

#[tokio::test]
async fn a_guardian_adds_lists_and_removes_dependents() {
    let (_, app) = setup().await;
    let token = verified(&app, "alice", 1).await;
    let (status, body) = call(
        &app,
        "POST",
        "/v1/dependents",
        Some(json!({"name": "张小宝", "id_number": person_id(20), "relation": "child"})),
        Some(&token),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let dependent = &body["dependent"];
    assert_eq!(dependent["name_masked"], "张*宝");
    assert_eq!(dependent["relation"], "child");
    let subject = dependent["subject_id"].as_str().unwrap().to_owned();

    let (_, list) = call(&app, "GET", "/v1/dependents", None, Some(&token)).await;
    assert_eq!(list["dependents"][0]["subject_id"], subject.as_str());
    let (_, me) = call(&app, "GET", "/v1/me", None, Some(&token)).await;
    assert_eq!(me["user"]["dependents"].as_array().unwrap().len(), 1);
    assert_eq!(me["user"]["name_masked"], "张*丰");

    // A retry of the same request does not add a second dependent.
    let (status, _) = call(
        &app,
        "POST",
        "/v1/dependents",
        Some(json!({"name": "张小宝", "id_number": person_id(20), "relation": "child"})),
        Some(&token),
    )
    .await;
    assert_eq!(status, 201);
    let (_, list) = call(&app, "GET", "/v1/dependents", None, Some(&token)).await;
    assert_eq!(list["dependents"].as_array().unwrap().len(), 1);

    assert_eq!(
        call(&app, "DELETE", &format!("/v1/dependents/{subject}"), None, Some(&token))
            .await
            .0,
        204
    );
    let (status, body) = call(&app, "DELETE", &format!("/v1/dependents/{subject}"), None, Some(&token)).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
    let (_, list) = call(&app, "GET", "/v1/dependents", None, Some(&token)).await;
    assert_eq!(list["dependents"], json!([]));
}

#[tokio::test]
async fn a_guardian_holds_at_most_five_dependents() {
    let (_, app) = setup().await;
    let token = verified(&app, "alice", 1).await;
    for n in 0..5 {
        let (status, body) = call(
            &app,
            "POST",
            "/v1/dependents",
            Some(json!({"name": "李小龙", "id_number": person_id(30 + n), "relation": "child"})),
            Some(&token),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, body) = call(
        &app,
        "POST",
        "/v1/dependents",
        Some(json!({"name": "李小龙", "id_number": person_id(35), "relation": "child"})),
        Some(&token),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (409, Some("too-many-dependents")));
}

#[tokio::test]
async fn twenty_simultaneous_dependents_store_exactly_five() {
    let (store, app) = setup().await;
    let token = verified(&app, "alice", 1).await;
    let requests = (0..20).map(|n| {
        let body = json!({"name": "王小明", "id_number": person_id(100 + n), "relation": "grandchild"});
        call(&app, "POST", "/v1/dependents", Some(body), Some(&token))
    });
    let results = futures::future::join_all(requests).await;
    let created = results.iter().filter(|(s, _)| *s == 201).count();
    let refused = results
        .iter()
        .filter(|(s, b)| *s == 409 && b["code"] == "too-many-dependents")
        .count();
    assert_eq!((created, refused), (5, 15), "{results:?}");
    let (_, list) = call(&app, "GET", "/v1/dependents", None, Some(&token)).await;
    assert_eq!(list["dependents"].as_array().unwrap().len(), 5);
    // The losers left no subject behind.
    assert_eq!(profiles(&store).await, 6, "the guardian and five dependents");
}

#[tokio::test]
async fn a_registered_adult_gets_a_guardian_only_by_their_own_invitation() {
    let (store, app) = setup().await;
    let alice = verified(&app, "alice", 1).await;
    let bob = verified(&app, "bob", 2).await;
    let alice_as = |invitation: Option<&str>| {
        let mut body = json!({"name": "张三丰", "id_number": person_id(1), "relation": "parent"});
        if let Some(code) = invitation {
            body["invitation"] = json!(code);
        }
        body
    };
    // Her own number is hers already.
    let (status, body) = call(&app, "POST", "/v1/dependents", Some(alice_as(None)), Some(&alice)).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("id-number-taken")));
    // Bob, uninvited or with a made-up code: refused, and nothing changes.
    let before = all_items(&store).await;
    let (status, body) = call(
        &app,
        "POST",
        "/v1/dependents",
        Some(alice_as(Some("not a code"))),
        Some(&bob),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (400, Some("bad-request")));
    for invitation in [None, Some("i_aaaaaaaaaaaaaaaaaaaaaaaaaa")] {
        let (status, body) = call(&app, "POST", "/v1/dependents", Some(alice_as(invitation)), Some(&bob)).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (403, Some("guardian-consent-required"))
        );
    }
    assert_eq!(all_items(&store).await, before, "refused links store nothing");
    // Invited by her, he becomes her guardian; the invitation is spent.
    let subject = sessions().verify(&alice, NOW).unwrap().subject_id.unwrap();
    let (status, body) = call(
        &app,
        "POST",
        &format!("/v1/dependents/{subject}/invitations"),
        None,
        Some(&alice),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["invitation"]["expires_at"], "2026-11-29T10:00:00+08:00",
        "72 hours"
    );
    let code = body["invitation"]["code"].as_str().unwrap().to_owned();
    let (status, body) = call(&app, "POST", "/v1/dependents", Some(alice_as(Some(&code))), Some(&bob)).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["dependent"]["subject_id"], subject.as_str());
    let carol = verified(&app, "carol", 3).await;
    let (status, body) = call(
        &app,
        "POST",
        "/v1/dependents",
        Some(alice_as(Some(&code))),
        Some(&carol),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("guardian-consent-required"))
    );
    // She sees him, masked, with the relation he gave.
    let (status, body) = call(&app, "GET", "/v1/guardians", None, Some(&alice)).await;
    assert_eq!(status, 200, "{body}");
    let guardians = body["guardians"].as_array().unwrap();
    assert_eq!(guardians.len(), 1);
    assert_eq!(guardians[0]["name_masked"], "张*丰");
    assert_eq!(guardians[0]["relation"], "parent");
    assert_eq!(guardians[0]["added_at"], "2026-11-26T10:00:00+08:00");
    assert!(guardians[0]["id"].as_str().unwrap().starts_with("g_"));
}

#[tokio::test]
async fn a_further_guardian_needs_an_invitation_and_a_dependent_can_later_claim_their_own_code() {
    let (store, app) = setup().await;
    let mother = verified(&app, "mother", 1).await;
    let father = verified(&app, "father", 2).await;
    let child = |invitation: Option<&str>| {
        let mut body = json!({"name": "赵小云", "id_number": person_id(50), "relation": "child"});
        if let Some(code) = invitation {
            body["invitation"] = json!(code);
        }
        body
    };
    let (status, first) = call(&app, "POST", "/v1/dependents", Some(child(None)), Some(&mother)).await;
    assert_eq!(status, 201);
    let subject = first["dependent"]["subject_id"].as_str().unwrap().to_owned();
    // The right name and number are not enough any more.
    let before = all_items(&store).await;
    let (status, body) = call(&app, "POST", "/v1/dependents", Some(child(None)), Some(&father)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("guardian-consent-required"))
    );
    assert_eq!(all_items(&store).await, before, "nothing stored");
    // Only a holder of the subject invites.
    let invitations = format!("/v1/dependents/{subject}/invitations");
    let (status, body) = call(&app, "POST", &invitations, None, Some(&father)).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
    let (status, body) = call(&app, "POST", &invitations, None, Some(&mother)).await;
    assert_eq!(status, 201, "{body}");
    let code = body["invitation"]["code"].as_str().unwrap().to_owned();
    let (status, second) = call(&app, "POST", "/v1/dependents", Some(child(Some(&code))), Some(&father)).await;
    assert_eq!(status, 201, "{second}");
    assert_eq!(second["dependent"]["subject_id"], subject.as_str());
    // A retry by the new guardian is the same link.
    let (status, _) = call(&app, "POST", "/v1/dependents", Some(child(Some(&code))), Some(&father)).await;
    assert_eq!(status, 201);

    // Grown up, the child verifies and owns the same subject; the parents keep it.
    let own = login(&app, "child").await;
    let (status, body) = call(
        &app,
        "POST",
        "/v1/identity",
        Some(json!({"name": "赵小云", "id_number": person_id(50), "phone": "13700000000"})),
        Some(&own),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["subject_id"], subject.as_str());
    for parent in [&mother, &father] {
        let (_, list) = call(&app, "GET", "/v1/dependents", None, Some(parent)).await;
        assert_eq!(list["dependents"][0]["subject_id"], subject.as_str());
    }
    let own = body["token"].as_str().unwrap().to_owned();
    let (_, body) = call(&app, "GET", "/v1/guardians", None, Some(&own)).await;
    assert_eq!(body["guardians"].as_array().unwrap().len(), 2);
}

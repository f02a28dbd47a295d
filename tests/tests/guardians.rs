//! Guardians by consent and the daily limit of failed name/ID checks
//! (issue #12): invitations, redeeming one once however many try at once,
//! the guardians an owner sees and removes, who declared, and the checks
//! counted in the store.

use integration_tests::*;
use serde_json::{Value, json};

async fn call(app: &login::App, method: &str, path: &str, body: Option<Value>, token: Option<&str>) -> (u16, Value) {
    parts(login::handle(app, request(method, path, body, token)).await)
}

/// A dependent's form, with an invitation when given.
fn dependent(name: &str, n: u32, invitation: Option<&str>) -> Value {
    let mut body = json!({"name": name, "id_number": person_id(n), "relation": "child"});
    if let Some(code) = invitation {
        body["invitation"] = json!(code);
    }
    body
}

/// Logs in as `login` and authenticates as `name` with person `n`'s number.
async fn person(app: &login::App, login_name: &str, name: &str, n: u32) -> String {
    let token = login(app, login_name).await;
    let body = json!({"name": name, "id_number": person_id(n), "phone": "13812345678"});
    let (status, body) = call(app, "POST", "/v1/identity", Some(body), Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

async fn invite(app: &login::App, subject: &str, token: &str) -> (u16, Value) {
    call(
        app,
        "POST",
        &format!("/v1/dependents/{subject}/invitations"),
        None,
        Some(token),
    )
    .await
}

async fn invitation(app: &login::App, subject: &str, token: &str) -> String {
    let (status, body) = invite(app, subject, token).await;
    assert_eq!(status, 201, "{body}");
    body["invitation"]["code"].as_str().unwrap().to_owned()
}

fn subject_of(token: &str) -> String {
    sessions().verify(token, NOW).unwrap().subject_id.unwrap()
}

fn account_of(token: &str) -> String {
    sessions().verify(token, NOW).unwrap().account_id
}

#[tokio::test]
async fn only_a_holder_invites_and_an_invitation_is_single_use_for_one_person_for_72_hours() {
    let w = world().await;
    let mother = verified(&w.login, "mother", 1).await;
    let (_, added) = call(
        &w.login,
        "POST",
        "/v1/dependents",
        Some(dependent("赵小云", 50, None)),
        Some(&mother),
    )
    .await;
    let child = added["dependent"]["subject_id"].as_str().unwrap().to_owned();
    let stranger = verified(&w.login, "stranger", 2).await;
    let unverified = login(&w.login, "unverified").await;
    for (token, subject, code) in [
        (&stranger, child.as_str(), "forbidden"),
        (&unverified, child.as_str(), "identity-required"),
        (&stranger, "s_aaaaaaaaaaaaaaaaaaaaaaaaaa", "forbidden"),
        (&stranger, "S%23s_x", "forbidden"),
    ] {
        let (status, body) = invite(&w.login, subject, token).await;
        assert_eq!((status, body["code"].as_str()), (403, Some(code)), "{body}");
    }

    let code = invitation(&w.login, &child, &mother).await;
    assert!(code.starts_with("i_") && code.len() == 28);
    let stored = table_items(&w.store, &w.store.tables.subjects).await;
    let item = stored
        .iter()
        .find(|i| i["sk"].as_str().unwrap().starts_with("I#"))
        .expect("the invitation is stored");
    assert!(!item.to_string().contains(&code), "only a hash of the code is stored");
    assert_eq!(item["by"], account_of(&mother).as_str(), "the inviter is recorded");
    assert_eq!(item["pk"], format!("S#{child}").as_str());

    // The mother's own code does not admit anyone to the child, nor the child's to her.
    let own = invitation(&w.login, &subject_of(&mother), &mother).await;
    let father = verified(&w.login, "father", 3).await;
    let (status, body) = call(
        &w.login,
        "POST",
        "/v1/dependents",
        Some(dependent("赵小云", 50, Some(&own))),
        Some(&father),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("guardian-consent-required"))
    );
    // Past 72 hours it is refused; within them, it admits one guardian once.
    w.clock.advance(time::Duration::hours(72) + time::Duration::seconds(1));
    let (status, body) = call(
        &w.login,
        "POST",
        "/v1/dependents",
        Some(dependent("赵小云", 50, Some(&code))),
        Some(&father),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("guardian-consent-required"))
    );
    w.clock.set(NOW + time::Duration::hours(71));
    let (status, body) = call(
        &w.login,
        "POST",
        "/v1/dependents",
        Some(dependent("赵小云", 50, Some(&code))),
        Some(&father),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["dependent"]["subject_id"], child.as_str());
    let aunt = verified(&w.login, "aunt", 4).await;
    let (status, body) = call(
        &w.login,
        "POST",
        "/v1/dependents",
        Some(dependent("赵小云", 50, Some(&code))),
        Some(&aunt),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("guardian-consent-required")),
        "used"
    );
    let profile = w.store.get_identity(&child).await.unwrap().unwrap();
    assert_eq!(profile.guardians.len(), 2);
    assert_eq!(profile.guardians[&account_of(&father)].name_masked, "张*丰");
}

#[tokio::test]
async fn ten_simultaneous_redemptions_of_one_invitation_add_exactly_one_guardian() {
    let w = world().await;
    let mother = verified(&w.login, "mother", 1).await;
    let (_, added) = call(
        &w.login,
        "POST",
        "/v1/dependents",
        Some(dependent("赵小云", 50, None)),
        Some(&mother),
    )
    .await;
    let child = added["dependent"]["subject_id"].as_str().unwrap().to_owned();
    let code = invitation(&w.login, &child, &mother).await;
    let mut relatives = Vec::new();
    for n in 0..10 {
        relatives.push(verified(&w.login, &format!("relative{n}"), 10 + n).await);
    }
    let results = futures::future::join_all(relatives.iter().map(|token| {
        call(
            &w.login,
            "POST",
            "/v1/dependents",
            Some(dependent("赵小云", 50, Some(&code))),
            Some(token),
        )
    }))
    .await;
    let added = results.iter().filter(|(s, _)| *s == 201).count();
    let refused = results
        .iter()
        .filter(|(s, b)| *s == 403 && b["code"] == "guardian-consent-required")
        .count();
    assert_eq!((added, refused), (1, 9), "{results:?}");
    let profile = w.store.get_identity(&child).await.unwrap().unwrap();
    assert_eq!(profile.guardians.len(), 2, "the mother and one relative");
    let mut linked = 0;
    for token in &relatives {
        linked += w
            .store
            .get_account(&account_of(token))
            .await
            .unwrap()
            .unwrap()
            .dependents
            .len();
    }
    assert_eq!(linked, 1, "one relative's account holds the link");
}

#[tokio::test]
async fn the_owner_removes_a_guardian_who_is_then_forbidden_everywhere() {
    let w = world().await;
    let alice = person(&w.login, "alice", "王阿丽", 1).await;
    let bob = person(&w.login, "bob", "李大四", 2).await;
    let subject = subject_of(&alice);
    let code = invitation(&w.login, &subject, &alice).await;
    let (status, body) = call(
        &w.login,
        "POST",
        "/v1/dependents",
        Some(json!({"name": "王阿丽", "id_number": person_id(1), "relation": "parent", "invitation": code})),
        Some(&bob),
    )
    .await;
    assert_eq!(status, 201, "{body}");

    // Each declares once; the listing says who.
    let declare = |token: &str| {
        let mut body = normal_declaration();
        body["subject_id"] = json!(subject);
        declaration::handle(
            &w.declaration,
            request("POST", "/v1/declarations", Some(body), Some(token)),
        )
    };
    assert_eq!(parts(declare(&bob).await).0, 201);
    w.clock.advance(time::Duration::minutes(1));
    assert_eq!(parts(declare(&alice).await).0, 201);
    let (_, listed) =
        parts(declaration::handle(&w.declaration, request("GET", "/v1/declarations", None, Some(&alice))).await);
    let entries = listed["declarations"].as_array().unwrap();
    assert_eq!(entries[0]["declared_by"], "self");
    assert!(entries[0].get("name_masked").is_none());
    assert_eq!(entries[1]["declared_by"], "guardian");
    assert_eq!(entries[1]["name_masked"], "李*四");

    // A guardian's invitation, outstanding when the guardian is removed.
    let bobs = invitation(&w.login, &subject, &bob).await;
    let (_, guardians) = call(&w.login, "GET", "/v1/guardians", None, Some(&alice)).await;
    let id = guardians["guardians"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(guardians["guardians"][0]["name_masked"], "李*四");
    assert_eq!(guardians["guardians"][0]["relation"], "parent");

    // Nobody else removes him.
    let carol = person(&w.login, "carol", "陈小红", 3).await;
    let before = table_items(&w.store, &w.store.tables.subjects).await;
    for (token, path) in [
        (&carol, format!("/v1/guardians/{id}")),
        (&bob, format!("/v1/guardians/{id}")),
        (&alice, "/v1/guardians/g_aaaaaaaaaaaaaaaaaaaaaaaaaa".to_owned()),
    ] {
        let (status, body) = call(&w.login, "DELETE", &path, None, Some(token)).await;
        assert_eq!((status, body["code"].as_str()), (404, Some("not-found")), "{path}");
    }
    assert_eq!(table_items(&w.store, &w.store.tables.subjects).await, before);

    let (status, _) = call(&w.login, "DELETE", &format!("/v1/guardians/{id}"), None, Some(&alice)).await;
    assert_eq!(status, 204);
    let (status, _) = call(&w.login, "DELETE", &format!("/v1/guardians/{id}"), None, Some(&alice)).await;
    assert_eq!(status, 404, "removed once");
    let (_, guardians) = call(&w.login, "GET", "/v1/guardians", None, Some(&alice)).await;
    assert_eq!(guardians["guardians"], json!([]));
    let (_, dependents) = call(&w.login, "GET", "/v1/dependents", None, Some(&bob)).await;
    assert_eq!(dependents["dependents"], json!([]), "removed both ways");

    // From now on Bob is a stranger to her.
    let forbidden = |(status, body): (u16, Value)| {
        assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")), "{body}");
    };
    forbidden(parts(declare(&bob).await));
    forbidden(parts(
        declaration::handle(
            &w.declaration,
            request(
                "GET",
                &format!("/v1/declarations?subject_id={subject}"),
                None,
                Some(&bob),
            ),
        )
        .await,
    ));
    forbidden(parts(
        code::handle(
            &w.code,
            request("GET", &format!("/v1/code?subject_id={subject}"), None, Some(&bob)),
        )
        .await,
    ));
    forbidden(invite(&w.login, &subject, &bob).await);
    // His invitation died with his place.
    let dave = person(&w.login, "dave", "周大伟", 4).await;
    let (status, body) = call(
        &w.login,
        "POST",
        "/v1/dependents",
        Some(json!({"name": "王阿丽", "id_number": person_id(1), "relation": "parent", "invitation": bobs})),
        Some(&dave),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("guardian-consent-required"))
    );
    // The record of who declared stays.
    let (_, listed) =
        parts(declaration::handle(&w.declaration, request("GET", "/v1/declarations", None, Some(&alice))).await);
    assert_eq!(listed["declarations"][1]["name_masked"], "李*四");
}

#[tokio::test]
async fn guardians_lists_need_a_verified_caller_and_show_only_their_own_subject() {
    let w = world().await;
    let unverified = login(&w.login, "unverified").await;
    let (status, body) = call(&w.login, "GET", "/v1/guardians", None, Some(&unverified)).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("identity-required")));
    assert_eq!(call(&w.login, "GET", "/v1/guardians", None, None).await.0, 401);
    // A guardian of a child does not see the child's guardians as their own.
    let mother = verified(&w.login, "mother", 1).await;
    call(
        &w.login,
        "POST",
        "/v1/dependents",
        Some(dependent("赵小云", 50, None)),
        Some(&mother),
    )
    .await;
    let (status, body) = call(&w.login, "GET", "/v1/guardians", None, Some(&mother)).await;
    assert_eq!((status, body), (200, json!({"guardians": []})));
}

// ------------------------------------------------------------ the checks

/// A login function whose verifier knows persons 1 to 9 as 张三丰.
fn checked_world(w: &World) -> (login::App, FakeVerifier) {
    let ids: Vec<String> = (1..10).map(person_id).collect();
    let known: Vec<(&str, &str)> = ids.iter().map(|id| ("张三丰", id.as_str())).collect();
    let verifier = FakeVerifier::knowing(&known);
    (login_app_verified_by(&w.store, &w.clock, &verifier), verifier)
}

fn assert_blocked(status: u16, body: &Value, retry_after: Option<&str>) {
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("too-many-attempts")),
        "{body}"
    );
    // 10:00 in Shanghai: 14 hours to midnight.
    assert_eq!(retry_after, Some("50400"));
}

async fn add(app: &login::App, token: &str, name: &str, n: u32) -> (u16, Value, Option<String>) {
    let response = login::handle(
        app,
        request("POST", "/v1/dependents", Some(dependent(name, n, None)), Some(token)),
    )
    .await;
    let retry = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let (status, body) = parts(response);
    (status, body, retry)
}

#[tokio::test]
async fn five_failed_checks_a_day_then_429_without_asking_until_shanghai_midnight() {
    let w = world().await;
    let (app, verifier) = checked_world(&w);
    let alice = verified(&app, "alice", 1).await;
    // Successes do not count: three dependents, then five failures allowed.
    for n in 2..5 {
        assert_eq!(add(&app, &alice, "张三丰", n).await.0, 201);
    }
    // Nor does a verifier that does not answer.
    verifier.unavailable.store(true, std::sync::atomic::Ordering::SeqCst);
    for _ in 0..6 {
        assert_eq!(add(&app, &alice, "张三丰", 5).await.0, 503);
    }
    verifier.unavailable.store(false, std::sync::atomic::Ordering::SeqCst);
    for n in 0..5 {
        let (status, body, _) = add(&app, &alice, "张三疯", 20 + n).await;
        assert_eq!((status, body["code"].as_str()), (422, Some("identity-mismatch")));
    }
    let asked = verifier.calls();
    let (status, body, retry) = add(&app, &alice, "张三丰", 5).await;
    assert_blocked(status, &body, retry.as_deref());
    assert_eq!(verifier.calls(), asked, "no check is made");
    assert!(!body.to_string().contains(&person_id(5)[6..14]));
    // A second before midnight, still; at midnight, a new day.
    w.clock.set(time::macros::datetime!(2026-11-26 23:59:59 +8));
    assert_eq!(add(&app, &alice, "张三丰", 5).await.0, 429);
    w.clock.set(time::macros::datetime!(2026-11-27 00:00:00 +8));
    let (status, body, _) = add(&app, &alice, "张三丰", 5).await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn real_name_authentication_refused_by_the_verifier_counts_too() {
    let w = world().await;
    let (app, verifier) = checked_world(&w);
    let token = login(&app, "mallory").await;
    let identify = |name: &'static str| {
        let body = json!({"name": name, "id_number": person_id(1), "phone": "13812345678"});
        login::handle(&app, request("POST", "/v1/identity", Some(body), Some(&token)))
    };
    for _ in 0..5 {
        let (status, body) = parts(identify("李四").await);
        assert_eq!((status, body["code"].as_str()), (422, Some("identity-mismatch")));
    }
    let response = identify("张三丰").await;
    let retry = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let (status, body) = parts(response);
    assert_blocked(status, &body, retry.as_deref());
    assert_eq!(verifier.calls(), 5);
    let account = w
        .store
        .get_account(&account_of_login(&app, "mallory").await)
        .await
        .unwrap()
        .unwrap();
    assert!(account.subject_id.is_none(), "nothing bound");
}

async fn account_of_login(app: &login::App, name: &str) -> String {
    account_of(&login(app, name).await)
}

#[tokio::test]
async fn twenty_simultaneous_failed_checks_make_at_most_five_and_block_the_account() {
    let w = world().await;
    let (app, verifier) = checked_world(&w);
    let alice = verified(&app, "alice", 1).await;
    let before = verifier.calls();
    let results = futures::future::join_all((0..20).map(|n| add(&app, &alice, "张三疯", 30 + n))).await;
    let failed = results.iter().filter(|(s, _, _)| *s == 422).count();
    let blocked = results
        .iter()
        .filter(|(s, b, _)| *s == 429 && b["code"] == "too-many-attempts")
        .count();
    assert_eq!((failed, blocked), (5, 15), "{results:?}");
    assert!(
        verifier.calls() - before <= 5,
        "{} checks made",
        verifier.calls() - before
    );
    let (status, body, retry) = add(&app, &alice, "张三丰", 2).await;
    assert_blocked(status, &body, retry.as_deref());
    assert!(
        w.store
            .get_account(&account_of(&alice))
            .await
            .unwrap()
            .unwrap()
            .dependents
            .is_empty()
    );
}

#[tokio::test]
async fn a_successful_check_is_released_by_the_calls_own_transaction() {
    let w = world().await;
    let (app, _) = checked_world(&w);
    let alice = verified(&app, "alice", 1).await;
    assert_eq!(add(&app, &alice, "张三丰", 2).await.0, 201);
    let account = w.store.get_account(&account_of(&alice)).await.unwrap().unwrap();
    assert!(
        account.check_ids.is_empty(),
        "no check left counted: {:?}",
        account.check_ids
    );
    assert_eq!(account.check_day.as_deref(), Some("2026-11-26"));
}

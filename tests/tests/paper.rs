//! Paper codes (纸质码) against the emulator: a printed code scans to the
//! live status, expires after 30 days, and is revoked by the next one issued
//! for the same subject, at our scans and at a partner's `POST /v1/verify`;
//! a guardian prints one for a dependent, a stranger cannot; concurrent
//! issues leave exactly one valid; the card's QR decodes from the SVG and
//! the PNG; the token verifies offline with the published keys.

use integration_tests::*;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use lambda_http::Body;
use serde_json::{Value, json};
use shared::domain::status::{Color, Override};
use time::Duration;

async fn issue(w: &World, token: &str, subject: Option<&str>) -> (u16, Value) {
    let body = subject.map_or(json!({}), |s| json!({"subject_id": s}));
    parts(code::handle(&w.code, request("POST", "/v1/code/paper", Some(body), Some(token))).await)
}

/// Issues a paper code and returns its QR content.
async fn paper_code(w: &World, token: &str, subject: Option<&str>) -> String {
    let (status, body) = issue(w, token, subject).await;
    assert_eq!(status, 201, "{body}");
    body["qr"].as_str().unwrap().to_owned()
}

async fn scan(w: &World, guard: &str, code: &str) -> (u16, Value) {
    parts(
        scan::handle(
            &w.scan,
            request("POST", "/v1/scans", Some(json!({"code": code})), Some(guard)),
        )
        .await,
    )
}

async fn card(w: &World, token: &str, query: &str) -> lambda_http::Response<Body> {
    code::handle(
        &w.code,
        request("GET", &format!("/v1/code/paper{query}"), None, Some(token)),
    )
    .await
}

fn subject_of(token: &str) -> String {
    sessions().verify(token, NOW).unwrap().subject_id.unwrap()
}

async fn override_color(w: &World, subject: &str, color: Color) {
    let verdict = Override {
        color,
        reason: "核验".into(),
        valid_until: w.clock.now() + Duration::days(60),
        set_at: w.clock.now(),
        officer: "u_officer".into(),
        rules_version: "hb-2026.12-1".into(),
    };
    assert!(w.store.set_override(subject, &verdict).await.unwrap());
}

#[tokio::test]
async fn a_paper_code_scans_to_the_live_status_for_thirty_days() {
    let w = world().await;
    let alice = declared(&w, "alice", 1).await;
    let guard = verified(&w.login, "guard", 2).await;
    let (status, body) = issue(&w, &alice, None).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["expires_at"], "2026-12-26T10:00:00+08:00");
    assert!(body["qr_svg"].as_str().unwrap().starts_with("<svg"));
    let qr = body["qr"].as_str().unwrap();
    assert!(qr.starts_with("HBHC:1:"));

    let (status, scanned) = scan(&w, &guard, qr).await;
    assert_eq!(status, 200, "{scanned}");
    assert_eq!(
        (scanned["color"].as_str(), scanned["live"].as_bool()),
        (Some("green"), Some(true))
    );
    assert_eq!(scanned["name_masked"], "张*丰");

    // The colour printed was green; the scan shows the colour of today.
    w.clock.advance(Duration::days(3));
    override_color(&w, &subject_of(&alice), Color::Red).await;
    let (status, scanned) = scan(&w, &guard, qr).await;
    assert_eq!((status, scanned["color"].as_str()), (200, Some("red")));
    assert_eq!(scanned["result"], "verify");

    w.clock.set(NOW + Duration::days(30) - Duration::seconds(1));
    assert_eq!(scan(&w, &guard, qr).await.0, 200);
    w.clock.set(NOW + Duration::days(30));
    let (status, body) = scan(&w, &guard, qr).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("expired-code")));
    // An expired paper code is not printed again.
    let (status, body) = parts(card(&w, &alice, "").await);
    assert_eq!((status, body["code"].as_str()), (404, Some("not-found")));
}

#[tokio::test]
async fn reissuing_revokes_the_earlier_paper_code_at_scans_and_at_partners() {
    let w = world().await;
    let alice = declared(&w, "alice", 1).await;
    let guard = verified(&w.login, "guard", 2).await;
    let first = paper_code(&w, &alice, None).await;
    w.clock.advance(Duration::minutes(1));
    let second = paper_code(&w, &alice, None).await;
    assert_ne!(first, second);

    let (status, body) = scan(&w, &guard, &first).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("revoked-code")), "{body}");
    assert_eq!(scan(&w, &guard, &second).await.0, 200);
    // The code on the screen is not a paper code: reissuing leaves it alone.
    let (_, screen) = parts(code::handle(&w.code, request("GET", "/v1/code", None, Some(&alice))).await);
    assert_eq!(scan(&w, &guard, screen["qr"].as_str().unwrap()).await.0, 200);

    let key = partner::add_partner(&w.store, "beijing").await;
    let verify = |code: String| {
        let mut req = request("POST", "/v1/verify", Some(json!({"code": code})), None);
        req.headers_mut().insert("x-api-key", key.parse().unwrap());
        code::handle(&w.code, req)
    };
    let (status, body) = parts(verify(first).await);
    assert_eq!(status, 200);
    assert_eq!(body, json!({"valid": false, "reason": "revoked-code"}));
    let (_, body) = parts(verify(second).await);
    assert_eq!(
        (body["valid"].as_bool(), body["color"].as_str()),
        (Some(true), Some("green"))
    );
}

#[tokio::test]
async fn the_paper_code_verifies_offline_with_the_published_keys() {
    let w = world().await;
    let alice = declared(&w, "alice", 1).await;
    let qr = paper_code(&w, &alice, None).await;
    let jws = qr.strip_prefix("HBHC:1:").unwrap();
    let (_, set) = parts(code::handle(&w.code, request("GET", "/.well-known/jwks.json", None, None)).await);
    let set: JwkSet = serde_json::from_value(set).unwrap();
    let header = jsonwebtoken::decode_header(jws).unwrap();
    assert_eq!(header.alg, Algorithm::EdDSA);
    let jwk = set.find(header.kid.as_deref().unwrap()).expect("the kid is published");
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&[CODE_ISSUER]);
    validation.validate_exp = false;
    let claims = jsonwebtoken::decode::<Value>(jws, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .unwrap()
        .claims;
    assert_eq!(claims["sub"], subject_of(&alice).as_str());
    assert_eq!(claims["col"], "green");
    assert_eq!(claims["pv"], 1);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        30 * 86_400
    );
}

#[tokio::test]
async fn a_guardian_prints_for_a_dependent_and_a_stranger_cannot() {
    let w = world().await;
    let guardian = verified(&w.login, "guardian", 1).await;
    let (status, added) = parts(
        login::handle(
            &w.login,
            request(
                "POST",
                "/v1/dependents",
                Some(json!({"name": "张小宝", "id_number": person_id(20), "relation": "child"})),
                Some(&guardian),
            ),
        )
        .await,
    );
    assert_eq!(status, 201, "{added}");
    let child = added["dependent"]["subject_id"].as_str().unwrap().to_owned();

    // No declaration yet, so no code of any kind.
    let (status, body) = issue(&w, &guardian, Some(&child)).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("declaration-required")));
    let mut declaration = normal_declaration();
    declaration["subject_id"] = json!(child);
    let (status, _) = parts(
        declaration::handle(
            &w.declaration,
            request("POST", "/v1/declarations", Some(declaration), Some(&guardian)),
        )
        .await,
    );
    assert_eq!(status, 201);
    let (status, body) = parts(card(&w, &guardian, &format!("?subject_id={child}")).await);
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("not-found")),
        "none issued yet"
    );

    let qr = paper_code(&w, &guardian, Some(&child)).await;
    let guard = verified(&w.login, "guard", 3).await;
    let (status, scanned) = scan(&w, &guard, &qr).await;
    assert_eq!((status, scanned["name_masked"].as_str()), (200, Some("张*宝")));

    let stranger = declared(&w, "mallory", 4).await;
    let (status, body) = issue(&w, &stranger, Some(&child)).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
    let (status, body) = parts(card(&w, &stranger, &format!("?subject_id={child}")).await);
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
    // The stranger's attempt revoked nothing.
    assert_eq!(scan(&w, &guard, &qr).await.0, 200);
}

#[tokio::test]
async fn ten_concurrent_issues_leave_exactly_one_valid_paper_code() {
    let w = world().await;
    let alice = declared(&w, "alice", 1).await;
    let guard = verified(&w.login, "guard", 2).await;
    let issued = futures::future::join_all((0..10).map(|_| paper_code(&w, &alice, None))).await;
    let mut valid = Vec::new();
    for qr in &issued {
        let (status, body) = scan(&w, &guard, qr).await;
        match status {
            200 => valid.push(qr.clone()),
            422 => assert_eq!(body["code"], "revoked-code"),
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(valid.len(), 1, "exactly one of ten is valid");
    // The card prints that one.
    let response = card(&w, &alice, "?format=svg").await;
    let Body::Text(svg) = response.body() else {
        panic!("an SVG")
    };
    assert_eq!(integration_tests::qr::decode_svg(svg, 4.0), valid[0]);
}

#[tokio::test]
async fn a_retry_with_the_same_idempotency_key_gets_the_same_paper_code() {
    let w = world().await;
    let alice = declared(&w, "alice", 1).await;
    let send = || {
        let mut req = request("POST", "/v1/code/paper", Some(json!({})), Some(&alice));
        req.headers_mut().insert("idempotency-key", "print-1".parse().unwrap());
        code::handle(&w.code, req)
    };
    let (status, first) = parts(send().await);
    assert_eq!(status, 201);
    w.clock.advance(Duration::seconds(5));
    let (status, again) = parts(send().await);
    assert_eq!(status, 201);
    assert_eq!(first["qr"], again["qr"], "the retry revoked nothing");
    let guard = verified(&w.login, "guard", 2).await;
    assert_eq!(scan(&w, &guard, first["qr"].as_str().unwrap()).await.0, 200);
}

#[tokio::test]
async fn the_card_qr_decodes_from_the_svg_and_the_png_and_is_the_issued_code() {
    let w = world().await;
    let alice = declared(&w, "alice", 1).await;
    let qr = paper_code(&w, &alice, None).await;
    // Later, after the colour changed: the card signs the same token again.
    w.clock.advance(Duration::days(2));
    override_color(&w, &subject_of(&alice), Color::Yellow).await;

    let svg = card(&w, &alice, "").await;
    assert_eq!(svg.status(), 200);
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    let Body::Text(svg) = svg.body() else { panic!("an SVG") };
    assert!(svg.contains("张*丰") && svg.contains("有效期至 2026-12-26 10:00"));
    assert!(!svg.contains("张三丰"), "the name is masked");
    assert_eq!(integration_tests::qr::decode_svg(svg, 4.0), qr);

    let png = card(&w, &alice, "?format=png").await;
    assert_eq!(png.status(), 200);
    assert_eq!(png.headers()["content-type"], "image/png");
    let Body::Binary(png) = png.body() else { panic!("a PNG") };
    assert_eq!(integration_tests::qr::decode_png(png), qr);

    let (status, body) = parts(card(&w, &alice, "?format=pdf").await);
    assert_eq!((status, body["code"].as_str()), (400, Some("bad-request")));
}

#[tokio::test]
async fn issuing_printing_and_scanning_a_paper_code_cost_what_the_data_model_says() {
    use integration_tests::capacity::{Call, Meter, metered_client};
    let meter = Meter::new();
    let prefix = format!("{}-", shared::crypto::random_id("t"));
    let store = shared::store::Store::new(metered_client(&meter), shared::store::Tables::with_prefix(&prefix));
    store.create_tables().await.unwrap();
    let w = world_on(store);
    let alice = declared(&w, "alice", 1).await;
    let guard = verified(&w.login, "guard", 2).await;
    // Instances that read the risk areas a moment ago: one read per instance every 30 s.
    let mut code_app = code_app(&w.store, &w.clock);
    code_app.areas = shared::store::settings::RiskAreaCache::new(std::time::Duration::from_secs(3600));
    let mut scan_app = scan_app(&w.store, &w.clock);
    scan_app.areas = shared::store::settings::RiskAreaCache::new(std::time::Duration::from_secs(3600));
    let (_, screen) = parts(code::handle(&code_app, request("GET", "/v1/code", None, Some(&alice))).await);
    let scan_with = |code: &str| {
        scan::handle(
            &scan_app,
            request("POST", "/v1/scans", Some(json!({"code": code})), Some(&guard)),
        )
    };
    let (_, by_screen) = parts(scan_with(screen["qr"].as_str().unwrap()).await);
    meter.take();

    let (status, issued) = parts(
        code::handle(
            &code_app,
            request("POST", "/v1/code/paper", Some(json!({})), Some(&alice)),
        )
        .await,
    );
    assert_eq!(status, 201);
    let issue_calls = meter.take();
    let response = code::handle(&code_app, request("GET", "/v1/code/paper", None, Some(&alice))).await;
    assert_eq!(response.status(), 200);
    let card_calls = meter.take();
    // In another minute, so that the scan is logged rather than answered only.
    w.clock.advance(Duration::minutes(1));
    let (status, by_paper) = parts(scan_with(issued["qr"].as_str().unwrap()).await);
    assert_eq!(status, 200);
    let scan_calls = meter.take();

    // The same answer as the code on the screen, but for the time.
    let without_time = |mut v: Value| {
        v.as_object_mut().unwrap().remove("scanned_at");
        v
    };
    assert_eq!(without_time(by_paper), without_time(by_screen));

    let ops = |calls: &[Call]| calls.iter().map(|c| c.operation.clone()).collect::<Vec<_>>();
    let units = |calls: &[Call]| {
        (
            calls.iter().map(|c| c.read_units).sum::<f64>(),
            calls.iter().map(|c| c.write_units).sum::<f64>(),
        )
    };
    assert_eq!(ops(&issue_calls), ["BatchGetItem", "UpdateItem"]);
    assert_eq!(
        units(&issue_calls),
        (1.0, 1.0),
        "the profile and the account read, the profile updated"
    );
    assert_eq!(ops(&card_calls), ["BatchGetItem"]);
    assert_eq!(units(&card_calls), (1.0, 0.0));
    assert_eq!(
        ops(&scan_calls),
        ["BatchGetItem", "PutItem"],
        "a scan's calls, nothing more"
    );
}

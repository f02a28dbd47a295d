//! The code function against the emulator: the signed QR code, its offline
//! verification with the published keys, and live colours from risk data
//! written straight to the store.

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use integration_tests::*;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use shared::domain::status::{Color, Override, RiskAreas, RiskLevel, RiskRecord, RiskStatus};
use shared::store::Store;
use time::Duration;

async fn get_code(w: &World, token: &str, subject: Option<&str>) -> (u16, Value) {
    let path = subject.map_or("/v1/code".to_owned(), |s| format!("/v1/code?subject_id={s}"));
    parts(code::handle(&w.code, request("GET", &path, None, Some(token))).await)
}

async fn declare(w: &World, token: &str, body: Value) -> Value {
    let (status, body) = parts(
        declaration::handle(
            &w.declaration,
            request("POST", "/v1/declarations", Some(body), Some(token)),
        )
        .await,
    );
    assert_eq!(status, 201, "{body}");
    body
}

async fn jwks(w: &World) -> JwkSet {
    let response = code::handle(&w.code, request("GET", "/.well-known/jwks.json", None, None)).await;
    assert_eq!(response.headers()["content-type"], "application/jwk-set+json");
    let (status, body) = parts(response);
    assert_eq!(status, 200);
    serde_json::from_value(body).expect("an RFC 7517 JWK Set")
}

#[tokio::test]
async fn there_is_no_code_before_the_first_declaration() {
    let w = world().await;
    let token = verified(&w.login, "alice", 1).await;
    let (status, body) = get_code(&w, &token, None).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("declaration-required")));
}

#[tokio::test]
async fn the_code_is_a_jws_that_verifies_offline_with_the_published_keys() {
    let w = world().await;
    let token = verified(&w.login, "alice", 1).await;
    declare(&w, &token, normal_declaration()).await;
    let (status, body) = get_code(&w, &token, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["color"], "green");
    assert_eq!(body["status_text"], "未见异常");
    assert_eq!(body["hints"], json!([]));
    assert_eq!(body["name_masked"], "张*丰");
    assert_eq!(body["expires_at"], "2026-11-26T10:05:00+08:00");
    assert_eq!(body["refresh_after"], "2026-11-26T10:04:00+08:00");

    let qr = body["qr"].as_str().unwrap();
    let jws = qr.strip_prefix("HBHC:1:").expect("the HBHC:1: prefix");
    // A standard JWT library verifies it with the key the JWK Set publishes under its kid.
    let header = jsonwebtoken::decode_header(jws).unwrap();
    assert_eq!(header.alg, Algorithm::EdDSA);
    let set = jwks(&w).await;
    let jwk = set.find(header.kid.as_deref().unwrap()).expect("the kid is published");
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&[CODE_ISSUER]);
    validation.validate_exp = false;
    let claims = jsonwebtoken::decode::<Value>(jws, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .unwrap()
        .claims;
    assert_eq!(claims["sub"], body["subject_id"]);
    assert_eq!(claims["col"], "green");
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 300);
    assert_eq!(
        claims.as_object().unwrap().len(),
        5,
        "iss, sub, col, iat, exp and nothing else"
    );

    // Nothing personal inside the token.
    let payload = String::from_utf8(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(jws.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    for personal in [person_id(1).as_str(), "张三丰", "13812345678"] {
        assert!(!payload.contains(personal));
    }
}

#[tokio::test]
async fn the_svg_decodes_to_exactly_the_qr_content() {
    let w = world().await;
    let token = verified(&w.login, "alice", 1).await;
    declare(&w, &token, normal_declaration()).await;
    let (_, body) = get_code(&w, &token, None).await;
    let svg = body["qr_svg"].as_str().unwrap();
    assert!(svg.starts_with("<svg"));
    for scale in [1.0, 2.5] {
        assert_eq!(qr::decode_svg(svg, scale), body["qr"].as_str().unwrap());
    }
}

#[tokio::test]
async fn the_jwk_set_holds_the_current_and_the_previous_key() {
    let w = world().await;
    let previous = *ed25519_dalek::SigningKey::from_bytes(&[99; 32])
        .verifying_key()
        .as_bytes();
    let rotated = shared::domain::token::CodeKeys::new(&CODE_SEED, Some(&previous), CODE_ISSUER, Duration::minutes(5));
    let app = code::App::new(
        base(&w.store, &w.clock),
        shared::store::settings::RiskAreaCache::new(std::time::Duration::ZERO),
        rotated,
    );
    let (_, body) = parts(code::handle(&app, request("GET", "/.well-known/jwks.json", None, None)).await);
    let keys = body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    for key in keys {
        assert_eq!(
            (key["kty"].as_str(), key["crv"].as_str(), key["alg"].as_str()),
            (Some("OKP"), Some("Ed25519"), Some("EdDSA"))
        );
        assert!(key.get("d").is_none(), "no private part is published");
    }
    assert_eq!(jwks(&w).await.keys.len(), 1);
}

#[tokio::test]
async fn a_guardian_shows_a_dependents_code_and_a_stranger_may_not() {
    let w = world().await;
    let guardian = verified(&w.login, "mother", 1).await;
    let stranger = verified(&w.login, "stranger", 2).await;
    let child = child_of(&w, &guardian).await;
    let mut for_child = normal_declaration();
    for_child["subject_id"] = json!(child);
    declare(&w, &guardian, for_child).await;
    let (status, body) = get_code(&w, &guardian, Some(&child)).await;
    assert_eq!((status, body["name_masked"].as_str()), (200, Some("李*宝")));
    assert_eq!(get_code(&w, &stranger, Some(&child)).await.0, 403);
    assert_eq!(
        get_code(&w, &login(&w.login, "unverified").await, None).await.1["code"],
        "identity-required"
    );
}

/// Sets one member of a subject's facts, as the admin function will.
async fn set_fact(store: &Store, subject: &str, member: &str, value: AttributeValue) {
    store
        .client()
        .update_item()
        .table_name(&store.tables.subjects)
        .key("pk", AttributeValue::S(format!("S#{subject}")))
        .key("sk", AttributeValue::S("PROFILE".into()))
        .update_expression("SET facts.#member = :v ADD ver :one")
        .expression_attribute_names("#member", member)
        .expression_attribute_values(":v", value)
        .expression_attribute_values(":one", AttributeValue::N("1".into()))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn risk_data_in_the_store_changes_the_next_code_without_a_new_declaration() {
    let w = world().await;
    let token = verified(&w.login, "alice", 1).await;
    let subject = sessions().verify(&token, NOW).unwrap().subject_id.unwrap();
    let mut visited = normal_declaration();
    visited["visited_regions"] = json!(["110105"]);
    declare(&w, &token, visited).await;
    assert_eq!(get_code(&w, &token, None).await.1["color"], "green");

    // A risk area covering the visited district turns the code yellow.
    let areas = RiskAreas {
        areas: [("110100".to_owned(), RiskLevel::Medium)].into(),
        updated_at: NOW,
    };
    w.store.put_risk_areas(&areas).await.unwrap();
    let (_, body) = get_code(&w, &token, None).await;
    assert_eq!(
        (body["color"].as_str(), body["hints"].clone()),
        (Some("yellow"), json!(["14天内有中高风险地区旅居史"]))
    );

    // A confirmed record from the authority turns it red.
    let risk = RiskRecord {
        status: RiskStatus::Confirmed,
        since: NOW.date(),
        updated_at: NOW,
        recovered: false,
    };
    set_fact(
        &w.store,
        &subject,
        "risk",
        serde_dynamo::to_attribute_value(&risk).unwrap(),
    )
    .await;
    let (_, body) = get_code(&w, &token, None).await;
    assert_eq!(body["color"], "red");
    assert_eq!(body["hints"][0], "卫生健康部门通报的风险人员");

    // A later verification override shows its colour until it expires.
    w.clock.advance(Duration::minutes(10));
    let verdict = Override {
        color: Color::Green,
        reason: "核酸阴性".into(),
        valid_until: w.clock.now() + Duration::hours(1),
        set_at: w.clock.now(),
        officer: "u_officer".into(),
        rules_version: "hb-2026.12-1".into(),
    };
    set_fact(
        &w.store,
        &subject,
        "override",
        serde_dynamo::to_attribute_value(&verdict).unwrap(),
    )
    .await;
    let (_, body) = get_code(&w, &token, None).await;
    assert_eq!(
        (body["color"].as_str(), body["status_text"].as_str()),
        (Some("green"), Some("未见异常"))
    );
    w.clock.advance(Duration::hours(2));
    let (_, body) = get_code(&w, &token, None).await;
    assert_eq!(body["color"], "red", "the override has expired");
}

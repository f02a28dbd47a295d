//! Codes across provinces (全国通用), against the emulator: a partner
//! province (tests/src/partner.rs) with its own Ed25519 and ES256 keys,
//! whose codes our scanner honours once it is on the trust list; forged,
//! foreign and stale codes refused with the documented codes; a removal that
//! takes effect within the cache time; and a partner system verifying our
//! codes with its API key, within its rate (its log lines: partner_logs.rs).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use integration_tests::partner::{self, ED_KID, ES_KID, Province};
use integration_tests::*;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use shared::store::trust::TrustCache;
use time::Duration;

async fn scan(w: &World, guard: &str, code: &str) -> (u16, Value) {
    parts(
        scan::handle(
            &w.scan,
            request("POST", "/v1/scans", Some(json!({"code": code})), Some(guard)),
        )
        .await,
    )
}

async fn verify(w: &World, key: Option<&str>, code: &str) -> (u16, Value) {
    let mut req = request("POST", "/v1/verify", Some(json!({"code": code})), None);
    if let Some(key) = key {
        req.headers_mut().insert("x-api-key", key.parse().unwrap());
    }
    parts(code::handle(&w.code, req).await)
}

async fn our_code(w: &World, token: &str) -> String {
    let (status, body) = parts(code::handle(&w.code, request("GET", "/v1/code", None, Some(token))).await);
    assert_eq!(status, 200, "{body}");
    body["qr"].as_str().unwrap().to_owned()
}

/// A world where the partner province is trusted, and a verified guard.
async fn trusting() -> (World, Province, String) {
    let w = world().await;
    let bj = Province::default();
    bj.trust(&w.store).await;
    let guard = verified(&w.login, "guard", 1).await;
    (w, bj, guard)
}

#[tokio::test]
async fn a_trusted_issuers_eddsa_and_es256_codes_pass_with_their_own_colour() {
    let (w, bj, guard) = trusting().await;
    let (status, body) = scan(&w, &guard, &bj.eddsa(&bj.claims("yellow", NOW))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"], "verify");
    assert_eq!(body["color"], "yellow");
    assert_eq!(body["issuer"], partner::ISSUER);
    assert_eq!(body["live"], false);
    assert_eq!(body["hints"], json!([]));
    assert!(body.get("name_masked").is_none(), "{body}");

    let (status, body) = scan(&w, &guard, &bj.es256(&bj.claims("green", NOW))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["result"].as_str(), body["color"].as_str()),
        (Some("pass"), Some("green"))
    );
    assert_eq!(
        (&body["issuer"], &body["live"]),
        (&json!(partner::ISSUER), &json!(false))
    );
}

#[tokio::test]
async fn a_scan_of_a_trusted_code_is_logged_with_the_issuer_and_sub() {
    let (w, bj, guard) = trusting().await;
    let (status, _) = scan(&w, &guard, &bj.es256(&bj.claims("red", NOW))).await;
    assert_eq!(status, 200);
    let items = table_items(&w.store, &w.store.tables.log).await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["issuer"], partner::ISSUER);
    assert_eq!(items[0]["sub"], "bj-0001");
    assert_eq!(items[0]["color"], "red");
    assert!(
        items[0]["subject_id"].as_str().unwrap().starts_with("x_"),
        "{}",
        items[0]
    );
}

#[tokio::test]
async fn our_own_codes_say_live_and_our_issuer() {
    let (w, _, guard) = trusting().await;
    let person = declared(&w, "citizen", 2).await;
    let (status, body) = scan(&w, &guard, &our_code(&w, &person).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((&body["issuer"], &body["live"]), (&json!(CODE_ISSUER), &json!(true)));
    assert_eq!(body["name_masked"], "张*丰");
}

#[tokio::test]
async fn forged_foreign_and_stale_codes_fail_with_the_documented_codes() {
    let (w, bj, guard) = trusting().await;
    let claims = bj.claims("green", NOW);
    let impostor = Province::new(partner::ISSUER, partner::PREFIX, 99);
    let good = bj.eddsa(&claims);
    let payload = good.split('.').nth(1).unwrap().to_owned();
    let alg_none = format!(
        "{}{}.{payload}.",
        partner::PREFIX,
        B64.encode(format!(r#"{{"alg":"none","kid":"{ED_KID}"}}"#))
    );
    // The partner's public key, as an HMAC secret: raw, and as its JWK Set.
    let hs_x = bj.sign(
        Algorithm::HS256,
        ED_KID,
        &claims,
        &EncodingKey::from_secret(bj.ed_x.as_bytes()),
    );
    let hs_jwks = bj.sign(
        Algorithm::HS256,
        ED_KID,
        &claims,
        &EncodingKey::from_secret(bj.jwks.to_string().as_bytes()),
    );
    let mut wrong_iss = claims.clone();
    wrong_iss["iss"] = json!("https://hc.elsewhere.test");
    let cases = [
        ("a wrong key", impostor.eddsa(&claims)),
        ("a wrong P-256 key", impostor.es256(&claims)),
        ("an unknown kid", bj.eddsa_as("bj-ed-9", &claims)),
        ("an Ed25519 signature under the P-256 kid", bj.eddsa_as(ES_KID, &claims)),
        ("a wrong iss", bj.eddsa(&wrong_iss)),
        ("an unknown prefix", good.replacen(partner::PREFIX, "SHHC:1:", 1)),
        ("no prefix", good.trim_start_matches(partner::PREFIX).to_owned()),
        ("alg none", alg_none),
        ("HS256 with the public key", hs_x),
        ("HS256 with the JWK Set", hs_jwks),
        ("a P-256 signature under the Ed25519 kid", bj.es256_as(ED_KID, &claims)),
        (
            "an unknown colour",
            bj.eddsa(&json!({"iss": partner::ISSUER, "sub": "b", "col": "blue", "exp": NOW.unix_timestamp() + 60})),
        ),
        (
            "no exp",
            bj.eddsa(&json!({"iss": partner::ISSUER, "sub": "b", "col": "green"})),
        ),
    ];
    for (what, code) in cases {
        let (status, body) = scan(&w, &guard, &code).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (422, Some("invalid-code")),
            "{what}: {body}"
        );
    }
    let expired = bj.es256(&json!({"iss": partner::ISSUER, "sub": "bj-0001", "col": "green",
        "iat": NOW.unix_timestamp() - 600, "exp": NOW.unix_timestamp() - 1}));
    let (status, body) = scan(&w, &guard, &expired).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("expired-code")), "{body}");
    assert!(table_items(&w.store, &w.store.tables.log).await.is_empty());
}

#[tokio::test]
async fn an_untrusted_provinces_codes_are_invalid() {
    let w = world().await;
    let guard = verified(&w.login, "guard", 1).await;
    let bj = Province::default();
    let (status, body) = scan(&w, &guard, &bj.eddsa(&bj.claims("green", NOW))).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("invalid-code")), "{body}");
}

#[tokio::test]
async fn removing_an_issuer_stops_its_codes_within_the_cache_time() {
    let (mut w, bj, guard) = trusting().await;
    w.scan.trust = TrustCache::new(std::time::Duration::from_secs(1));
    let code = bj.eddsa(&bj.claims("green", NOW));
    assert_eq!(scan(&w, &guard, &code).await.0, 200);
    bj.distrust(&w.store).await;
    // Within the cache time the instance may still honour it...
    assert_eq!(scan(&w, &guard, &code).await.0, 200);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    // ...and not after.
    let (status, body) = scan(&w, &guard, &code).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("invalid-code")), "{body}");
}

#[tokio::test]
async fn a_partner_verifies_our_codes_live() {
    let w = world().await;
    let key = partner::add_partner(&w.store, "beijing").await;
    let person = declared(&w, "citizen", 2).await;
    let code = our_code(&w, &person).await;
    let (status, body) = verify(&w, Some(&key), &code).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["valid"], true);
    assert_eq!(body["color"], "green");
    assert_eq!(body["status_text"], "未见异常");
    assert_eq!(body["name_masked"], "张*丰");
    assert_eq!(body["issuer"], CODE_ISSUER);
    assert!(body["checked_at"].is_string());

    let (status, body) = verify(&w, Some(&key), "HBHC:1:not.a.jws").await;
    assert_eq!(
        (status, &body),
        (200, &json!({"valid": false, "reason": "invalid-code"}))
    );
    let bj = Province::default();
    let (_, body) = verify(&w, Some(&key), &bj.eddsa(&bj.claims("green", NOW))).await;
    assert_eq!(body, json!({"valid": false, "reason": "invalid-code"}));
    w.clock.advance(Duration::minutes(6));
    let (status, body) = verify(&w, Some(&key), &code).await;
    assert_eq!(
        (status, &body),
        (200, &json!({"valid": false, "reason": "expired-code"}))
    );
}

#[tokio::test]
async fn no_key_an_unknown_key_or_a_revoked_key_is_401() {
    let w = world().await;
    let key = partner::add_partner(&w.store, "beijing").await;
    let other = partner::add_partner(&w.store, "tianjin").await;
    let person = declared(&w, "citizen", 2).await;
    let code = our_code(&w, &person).await;
    for key in [
        None,
        Some(shared::service::partners::new_key()),
        Some("hcpk_".into()),
        Some("x".into()),
    ] {
        let (status, body) = verify(&w, key.as_deref(), &code).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("unauthenticated")),
            "{body}"
        );
    }
    assert_eq!(verify(&w, Some(&key), &code).await.0, 200);
    partner::revoke_partner(&w.store, "beijing").await;
    let (status, body) = verify(&w, Some(&key), &code).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("unauthenticated")),
        "{body}"
    );
    assert_eq!(
        verify(&w, Some(&other), &code).await.0,
        200,
        "another partner is unaffected"
    );
}

#[tokio::test]
async fn a_partner_past_50_a_second_gets_429() {
    let w = world().await;
    let key = partner::add_partner(&w.store, "beijing").await;
    let other = partner::add_partner(&w.store, "tianjin").await;
    let person = declared(&w, "citizen", 2).await;
    let code = our_code(&w, &person).await;
    // The clock stands still: every call falls in the same second.
    for i in 0..50 {
        assert_eq!(verify(&w, Some(&key), &code).await.0, 200, "call {i}");
    }
    let req = {
        let mut req = request("POST", "/v1/verify", Some(json!({"code": code})), None);
        req.headers_mut().insert("x-api-key", key.parse().unwrap());
        req
    };
    let response = code::handle(&w.code, req).await;
    assert_eq!(response.headers()["retry-after"], "1");
    let (status, body) = parts(response);
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("too-many-attempts")),
        "{body}"
    );
    assert_eq!(verify(&w, Some(&other), &code).await.0, 200, "the limit is per partner");
    w.clock.advance(Duration::seconds(1));
    assert_eq!(verify(&w, Some(&key), &code).await.0, 200, "the next second");
}

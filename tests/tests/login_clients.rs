//! The real WeChat and identity-verification clients, against local fake
//! servers that answer as the real services do.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use integration_tests::fake_http;
use login::provider::{LoginError, LoginProvider, WeChat};
use login::verifier::{HttpVerifier, IdentityVerifier, Verdict};
use serde_json::{Value, json};
use shared::domain::identity::{IdNumber, PersonName, Phone};
use std::collections::HashMap;

type Seen = Arc<Mutex<Vec<HashMap<String, String>>>>;

/// A fake jscode2session: `good-*` codes map to an openid, `used` is code
/// 40163, `busy` is -1, `broken` is an HTTP 502.
async fn fake_wechat() -> (String, Seen) {
    async fn code2session(State(seen): State<Seen>, Query(q): Query<HashMap<String, String>>) -> (StatusCode, String) {
        seen.lock().unwrap().push(q.clone());
        let code = q.get("js_code").cloned().unwrap_or_default();
        let body = match code.as_str() {
            c if c.starts_with("good-") => json!({"openid": format!("o-{c}"), "session_key": "k"}),
            "used" => json!({"errcode": 40163, "errmsg": "code been used"}),
            "busy" => json!({"errcode": -1, "errmsg": "system error"}),
            "broken" => return (StatusCode::BAD_GATEWAY, "upstream".into()),
            _ => json!({"errcode": 40029, "errmsg": "invalid code"}),
        };
        (StatusCode::OK, body.to_string())
    }
    let seen = Seen::default();
    let router = Router::new()
        .route("/sns/jscode2session", get(code2session))
        .with_state(seen.clone());
    (fake_http::serve(router).await, seen)
}

#[tokio::test]
async fn wechat_exchanges_a_code_for_the_openid_with_the_configured_app() {
    let (base, seen) = fake_wechat().await;
    let wechat = WeChat::new(base, "wx-app".into(), "app-secret".into());
    assert_eq!(wechat.exchange("good-1").await, Ok("o-good-1".into()));
    let request = seen.lock().unwrap()[0].clone();
    assert_eq!(request["appid"], "wx-app");
    assert_eq!(request["secret"], "app-secret");
    assert_eq!(request["js_code"], "good-1");
    assert_eq!(request["grant_type"], "authorization_code");
}

#[tokio::test]
async fn wechat_refusals_and_outages_are_told_apart() {
    let (base, _) = fake_wechat().await;
    let wechat = WeChat::new(base, "wx-app".into(), "s".into());
    assert_eq!(wechat.exchange("nonsense").await, Err(LoginError::Refused));
    assert_eq!(wechat.exchange("used").await, Err(LoginError::Refused));
    assert!(matches!(wechat.exchange("busy").await, Err(LoginError::Unavailable(_))));
    assert!(matches!(
        wechat.exchange("broken").await,
        Err(LoginError::Unavailable(_))
    ));
    let nowhere = WeChat::new("http://127.0.0.1:9".into(), "a".into(), "s".into());
    assert!(matches!(
        nowhere.exchange("good-1").await,
        Err(LoginError::Unavailable(_))
    ));
}

/// A fake verification service that knows one person and wants an API key.
async fn fake_verifier() -> String {
    async fn verify(headers: HeaderMap, axum::Json(body): axum::Json<Value>) -> (StatusCode, axum::Json<Value>) {
        if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer key-1") {
            return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "bad key"})));
        }
        if body["name"] == "服务故障" {
            return (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(json!({})));
        }
        let matches = body["name"] == "张三"
            && body["id_number"] == "11010519491231002X"
            && (body.get("phone").is_none() || body["phone"] == "13812345678");
        (StatusCode::OK, axum::Json(json!({"match": matches})))
    }
    fake_http::serve(Router::new().route("/verify", post(verify))).await
}

#[tokio::test]
async fn the_http_verifier_asks_the_service_with_its_key() {
    let base = fake_verifier().await;
    let verifier = HttpVerifier::new(format!("{base}/verify"), "key-1".into());
    let today = time::macros::date!(2026 - 11 - 26);
    let id = IdNumber::parse("11010519491231002X", today).unwrap();
    let name = PersonName::parse("张三").unwrap();
    let phone = Phone::parse("13812345678").unwrap();
    let other_phone = Phone::parse("13900000000").unwrap();
    assert_eq!(verifier.verify(&name, &id, Some(&phone)).await, Ok(Verdict::Match));
    assert_eq!(verifier.verify(&name, &id, None).await, Ok(Verdict::Match));
    assert_eq!(
        verifier.verify(&name, &id, Some(&other_phone)).await,
        Ok(Verdict::Mismatch)
    );
    assert_eq!(
        verifier.verify(&PersonName::parse("李四").unwrap(), &id, None).await,
        Ok(Verdict::Mismatch)
    );
    assert!(
        verifier
            .verify(&PersonName::parse("服务故障").unwrap(), &id, None)
            .await
            .is_err()
    );
    let wrong_key = HttpVerifier::new(format!("{base}/verify"), "key-2".into());
    assert!(wrong_key.verify(&name, &id, None).await.is_err());
}

#[tokio::test]
async fn a_mismatch_is_a_422_and_binds_nothing() {
    let base = fake_verifier().await;
    let store = integration_tests::store().await;
    let mut app = integration_tests::login_app(&store, &shared::clock::Clock::fixed(integration_tests::NOW));
    app.verifier = Box::new(HttpVerifier::new(format!("{base}/verify"), "key-1".into()));
    let token = integration_tests::login(&app, "alice").await;
    let body = json!({"name": "李四", "id_number": "11010519491231002X", "phone": "13812345678"});
    let (status, answer) = integration_tests::parts(
        login::handle(
            &app,
            integration_tests::request("POST", "/v1/identity", Some(body), Some(&token)),
        )
        .await,
    );
    assert_eq!((status, answer["code"].as_str()), (422, Some("identity-mismatch")));
    let (_, me) = integration_tests::parts(
        login::handle(&app, integration_tests::request("GET", "/v1/me", None, Some(&token))).await,
    );
    assert_eq!(me["user"]["verified"], false);
    let body = json!({"name": "服务故障", "id_number": "11010519491231002X", "phone": "13812345678"});
    let (status, _) = integration_tests::parts(
        login::handle(
            &app,
            integration_tests::request("POST", "/v1/identity", Some(body), Some(&token)),
        )
        .await,
    );
    assert_eq!(status, 503);
}

//! A partner's calls are logged with its name, never its key. In a test
//! binary of its own: tracing caches which call sites are enabled, and other
//! tests logging at once with no subscriber leave that cache racing the
//! subscriber this test sets for itself.

use std::sync::{Arc, Mutex};

use integration_tests::partner;
use integration_tests::*;
use serde_json::{Value, json};

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

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn every_partner_call_is_logged_with_its_name_and_never_its_key() {
    use tracing::instrument::WithSubscriber;
    let w = world().await;
    let key = partner::add_partner(&w.store, "beijing").await;
    let person = declared(&w, "citizen", 2).await;
    let code = our_code(&w, &person).await;
    let out = Captured::default();
    let writer = out.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .finish();
    async {
        assert_eq!(verify(&w, Some(&key), &code).await.0, 200);
        assert_eq!(verify(&w, Some(&key), "HBHC:1:x").await.0, 200);
        assert_eq!(verify(&w, Some(&format!("{key}x")), &code).await.0, 401);
    }
    .with_subscriber(subscriber)
    .await;
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let verified: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("code verified for a partner"))
        .collect();
    assert_eq!(verified.len(), 2, "{verified:?}");
    assert!(
        verified.iter().all(|l| l.contains(r#""partner":"beijing""#)),
        "{verified:?}"
    );
    assert!(text.contains("partner call refused"));
    let secret = key.trim_start_matches(shared::service::partners::KEY_PREFIX);
    assert!(!text.contains(secret), "a partner key was logged");
    assert!(
        !text.contains(&shared::service::partners::key_hash(&key)),
        "a key hash was logged"
    );
}

//! A fake WeChat API for the notice senders' tests: `cgi-bin/token` hands out a token (and
//! counts the fetches), `subscribe/send` records every message's body, or answers a system
//! error while `down` is set. The real client (`exposure::notifier::WeChat`) talks to it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::routing::{get, post};
use serde_json::{Value, json};

#[derive(Clone, Default)]
pub struct FakeWeChat {
    messages: Arc<Mutex<Vec<Value>>>,
    /// Access tokens fetched.
    pub tokens: Arc<Mutex<usize>>,
    /// While set, every send is answered `errcode: -1` and recorded nowhere.
    pub down: Arc<AtomicBool>,
}

impl FakeWeChat {
    /// The fake, and the real client pointed at it (template `tmpl-1`).
    pub async fn start() -> (Self, exposure::notifier::WeChat) {
        async fn token(State(fake): State<FakeWeChat>, Query(q): Query<Vec<(String, String)>>) -> axum::Json<Value> {
            assert!(q.contains(&("grant_type".into(), "client_credential".into())));
            *fake.tokens.lock().unwrap() += 1;
            axum::Json(json!({"access_token": "token-1", "expires_in": 7200}))
        }
        async fn send(State(fake): State<FakeWeChat>, axum::Json(body): axum::Json<Value>) -> axum::Json<Value> {
            assert_eq!(body["template_id"], "tmpl-1");
            assert!(!body.to_string().contains("张三丰"), "a notice names no one");
            if fake.down.load(Ordering::SeqCst) {
                return axum::Json(json!({"errcode": -1, "errmsg": "system error"}));
            }
            fake.messages.lock().unwrap().push(body);
            axum::Json(json!({"errcode": 0, "errmsg": "ok"}))
        }
        let fake = FakeWeChat::default();
        let router = Router::new()
            .route("/cgi-bin/token", get(token))
            .route("/cgi-bin/message/subscribe/send", post(send))
            .with_state(fake.clone());
        let base = crate::fake_http::serve(router).await;
        let client = exposure::notifier::WeChat::new(base, "app".into(), "secret".into(), "tmpl-1".into());
        (fake, client)
    }

    /// The recipients (`touser`) of the messages sent, sorted.
    pub fn sent(&self) -> Vec<String> {
        let mut sent: Vec<String> = self
            .messages()
            .iter()
            .map(|m| m["touser"].as_str().unwrap_or_default().to_owned())
            .collect();
        sent.sort();
        sent
    }

    /// The messages sent, in order.
    pub fn messages(&self) -> Vec<Value> {
        self.messages.lock().unwrap().clone()
    }
}

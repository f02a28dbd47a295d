//! Where notices go: WeChat subscribe messages (`subscribeMessage.send`,
//! with an access token from `cgi-bin/token`, kept until shortly before it
//! expires), or, with no WeChat app configured (the local stack), a log
//! line without personal data.

use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use serde::Deserialize;
use shared::config::{self, ConfigError};
use shared::domain::status::Color;
use shared::service::notices::{Message, Notice, Notifier, SendError};

/// `HC_WECHAT_NOTICE_TEMPLATE` set: WeChat (with `HC_WECHAT_APPID`,
/// `HC_WECHAT_SECRET` and optionally `HC_WECHAT_API_BASE`); else the log.
pub fn from_env() -> Result<Box<dyn Notifier>, ConfigError> {
    match config::optional("HC_WECHAT_NOTICE_TEMPLATE") {
        Some(template) => Ok(Box::new(WeChat::new(
            config::optional("HC_WECHAT_API_BASE").unwrap_or_else(|| WeChat::API_BASE.to_owned()),
            config::required("HC_WECHAT_APPID")?,
            config::required("HC_WECHAT_SECRET")?,
            template,
        ))),
        None => Ok(Box::new(LogOnly)),
    }
}

/// The local stand-in: says a notice would have gone out, to how many.
pub struct LogOnly;

impl Notifier for LogOnly {
    fn send<'a>(&'a self, message: &'a Message) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            tracing::info!(
                recipients = message.openids.len(),
                "notice logged, not sent: no WeChat app is configured"
            );
            Ok(())
        })
    }
}

/// WeChat's subscribe messages for the mini-program.
pub struct WeChat {
    base: String,
    app_id: String,
    secret: String,
    template: String,
    http: reqwest::Client,
    /// The access token and until when it is used; held while one is fetched, so that
    /// notices sent at once fetch one token, not one each.
    token: tokio::sync::Mutex<Option<(String, Instant)>>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: u64,
    #[serde(default)]
    errcode: i64,
}

#[derive(Deserialize)]
struct SendAnswer {
    #[serde(default)]
    errcode: i64,
}

fn unavailable(e: reqwest::Error) -> SendError {
    SendError(if e.is_timeout() {
        "timeout".into()
    } else {
        "unreachable".into()
    })
}

impl WeChat {
    pub const API_BASE: &'static str = "https://api.weixin.qq.com";

    pub fn new(base: String, app_id: String, secret: String, template: String) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(1))
            .timeout(Duration::from_secs(3))
            .build()
            .expect("an HTTP client");
        Self {
            base: base.trim_end_matches('/').to_owned(),
            app_id,
            secret,
            template,
            http,
            token: tokio::sync::Mutex::new(None),
        }
    }

    async fn token(&self) -> Result<String, SendError> {
        let mut held = self.token.lock().await;
        if let Some((token, until)) = held.clone()
            && Instant::now() < until
        {
            return Ok(token);
        }
        let answer: TokenAnswer = self
            .http
            .get(format!("{}/cgi-bin/token", self.base))
            .query(&[
                ("grant_type", "client_credential"),
                ("appid", self.app_id.as_str()),
                ("secret", self.secret.as_str()),
            ])
            .send()
            .await
            .map_err(unavailable)?
            .json()
            .await
            .map_err(|_| SendError("unreadable token answer".into()))?;
        match (answer.errcode, answer.access_token) {
            (0, Some(token)) if !token.is_empty() => {
                // Renewed five minutes early: WeChat's tokens last 7,200 s.
                let life = Duration::from_secs(answer.expires_in.saturating_sub(300).max(60));
                *held = Some((token.clone(), Instant::now() + life));
                Ok(token)
            }
            (code, _) => Err(SendError(format!("token errcode {code}"))),
        }
    }

    /// One template for both kinds: what (thing1), a day (date2), where or what follows
    /// (thing3), and a short result (phrase4, at most five characters).
    fn body(&self, openid: &str, message: &Message) -> serde_json::Value {
        let date = |day: &time::Date| format!("{}年{}月{}日", day.year(), u8::from(day.month()), day.day());
        let (what, day, detail, result) = match &message.notice {
            Notice::Exposure { day, district, level } => (
                "时空伴随提醒",
                date(day),
                district.clone().unwrap_or_else(|| "河北省".to_owned()),
                match level {
                    Color::Red => "红码",
                    _ => "黄码",
                },
            ),
            Notice::Appeal { day, upheld, color } => (
                "健康码申诉结果",
                date(day),
                "请在健康码页查看处理意见".to_owned(),
                match (upheld, color) {
                    (true, Some(Color::Green)) => "改为绿码",
                    (true, Some(Color::Yellow)) => "改为黄码",
                    (true, Some(Color::Red)) => "改为红码",
                    (true, None) => "申诉成立",
                    (false, _) => "维持原码",
                },
            ),
        };
        serde_json::json!({
            "touser": openid,
            "template_id": self.template,
            "page": "pages/code/index",
            "data": {
                "thing1": {"value": what},
                "date2": {"value": day},
                "thing3": {"value": detail},
                "phrase4": {"value": result},
            },
        })
    }

    async fn send_one(&self, openid: &str, message: &Message) -> Result<(), SendError> {
        for _ in 0..2 {
            let token = self.token().await?;
            let answer: SendAnswer = self
                .http
                .post(format!("{}/cgi-bin/message/subscribe/send", self.base))
                .query(&[("access_token", token.as_str())])
                .json(&self.body(openid, message))
                .send()
                .await
                .map_err(unavailable)?
                .json()
                .await
                .map_err(|_| SendError("unreadable send answer".into()))?;
            match answer.errcode {
                0 => return Ok(()),
                // The user did not subscribe, or unsubscribed: nothing to retry.
                43101 => return Ok(()),
                // The token expired or was replaced: fetch another, once.
                40001 | 42001 => *self.token.lock().await = None,
                code => return Err(SendError(format!("send errcode {code}"))),
            }
        }
        Err(SendError("token refused twice".into()))
    }
}

impl Notifier for WeChat {
    fn send<'a>(&'a self, message: &'a Message) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            for openid in &message.openids {
                self.send_one(openid, message).await?;
            }
            Ok(())
        })
    }
}

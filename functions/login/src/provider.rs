//! Login providers: WeChat's `jscode2session` in production, and a
//! development provider for `dev:<name>` codes that is on only when
//! configured (`HC_LOGIN_PROVIDER=dev`), never in the template's defaults.

use async_trait::async_trait;
use serde::Deserialize;
use shared::config::{self, ConfigError};
use thiserror::Error;

use crate::outbound::LazyClient;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum LoginError {
    /// The code is invalid, used or expired.
    #[error("the login code was refused")]
    Refused,
    /// The provider could not answer; the client may retry.
    #[error("the login provider is unavailable ({0})")]
    Unavailable(String),
}

/// Exchanges a mini-program login code for the provider's stable user id.
#[async_trait]
pub trait LoginProvider: Send + Sync {
    /// The namespace of the user ids, so ids of two providers never collide.
    fn name(&self) -> &'static str;
    async fn exchange(&self, code: &str) -> Result<String, LoginError>;
}

/// The provider selected by `HC_LOGIN_PROVIDER` (`wechat`, the default, or `dev`).
pub fn from_env() -> Result<Box<dyn LoginProvider>, ConfigError> {
    match config::optional("HC_LOGIN_PROVIDER").as_deref() {
        None | Some("wechat") => Ok(Box::new(WeChat::new(
            config::optional("HC_WECHAT_API_BASE").unwrap_or_else(|| WeChat::API_BASE.to_owned()),
            config::required("HC_WECHAT_APPID")?,
            config::required("HC_WECHAT_SECRET")?,
        ))),
        Some("dev") => Ok(Box::new(Dev)),
        Some(_) => Err(ConfigError::new("HC_LOGIN_PROVIDER", "must be `wechat` or `dev`")),
    }
}

/// WeChat's code-to-session exchange for mini-programs.
pub struct WeChat {
    base: String,
    app_id: String,
    secret: String,
    http: LazyClient,
}

#[derive(Deserialize)]
struct Code2Session {
    #[serde(default)]
    openid: Option<String>,
    #[serde(default)]
    errcode: i64,
}

impl WeChat {
    pub const API_BASE: &'static str = "https://api.weixin.qq.com";

    pub fn new(base: String, app_id: String, secret: String) -> Self {
        let http = LazyClient::default();
        Self {
            base: base.trim_end_matches('/').to_owned(),
            app_id,
            secret,
            http,
        }
    }
}

#[async_trait]
impl LoginProvider for WeChat {
    fn name(&self) -> &'static str {
        "wechat"
    }

    async fn exchange(&self, code: &str) -> Result<String, LoginError> {
        let response = self
            .http
            .get()
            .get(format!("{}/sns/jscode2session", self.base))
            .query(&[
                ("appid", self.app_id.as_str()),
                ("secret", self.secret.as_str()),
                ("js_code", code),
                ("grant_type", "authorization_code"),
            ])
            .send()
            .await
            .map_err(|e| {
                LoginError::Unavailable(if e.is_timeout() {
                    "timeout".into()
                } else {
                    "unreachable".into()
                })
            })?;
        if !response.status().is_success() {
            return Err(LoginError::Unavailable(format!(
                "status {}",
                response.status().as_u16()
            )));
        }
        // WeChat answers JSON, sometimes labelled text/plain: parse the bytes.
        let bytes = response
            .bytes()
            .await
            .map_err(|_| LoginError::Unavailable("truncated answer".into()))?;
        let answer: Code2Session =
            serde_json::from_slice(&bytes).map_err(|_| LoginError::Unavailable("unreadable answer".into()))?;
        match (answer.errcode, answer.openid) {
            (0, Some(openid)) if !openid.is_empty() => Ok(openid),
            // 40029 invalid code, 40163 code already used, 40226 user blocked.
            (40029 | 40163 | 40226, _) => Err(LoginError::Refused),
            // -1 busy, 45011 rate limited, and anything unexpected.
            (code, _) => Err(LoginError::Unavailable(format!("errcode {code}"))),
        }
    }
}

/// `dev:<name>` → the account of `<name>`, for the local stack and tests.
pub struct Dev;

#[async_trait]
impl LoginProvider for Dev {
    fn name(&self) -> &'static str {
        "dev"
    }

    async fn exchange(&self, code: &str) -> Result<String, LoginError> {
        let name = code.strip_prefix("dev:").ok_or(LoginError::Refused)?;
        let valid = (1..=64).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
        if valid {
            Ok(name.to_owned())
        } else {
            Err(LoginError::Refused)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn dev_codes_map_names_and_refuse_everything_else() {
        assert_eq!(Dev.exchange("dev:alice").await, Ok("alice".to_owned()));
        for bad in ["alice", "dev:", "dev:a b", "dev:张三", "wx-code-123"] {
            assert_eq!(Dev.exchange(bad).await, Err(LoginError::Refused), "{bad}");
        }
    }
}

//! Real-name verification: does this ID number belong to a person of this
//! name (and phone)? Production asks an identity-verification service over
//! HTTPS; the local stack checks the number's own validity only.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use shared::config::{self, ConfigError};
use shared::domain::identity::{IdNumber, PersonName, Phone};
use thiserror::Error;

use crate::outbound::LazyClient;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Match,
    Mismatch,
}

#[derive(Debug, Error, PartialEq, Eq)]
#[error("the identity verifier is unavailable ({0})")]
pub struct VerifierUnavailable(pub String);

#[async_trait]
pub trait IdentityVerifier: Send + Sync {
    /// `phone` is checked as well when given (three-factor verification);
    /// dependents are verified by name and number only.
    async fn verify(
        &self,
        name: &PersonName,
        id: &IdNumber,
        phone: Option<&Phone>,
    ) -> Result<Verdict, VerifierUnavailable>;
}

/// The verifier selected by `HC_IDENTITY_VERIFIER` (`http`, the default, or `local`).
pub fn from_env() -> Result<Box<dyn IdentityVerifier>, ConfigError> {
    match config::optional("HC_IDENTITY_VERIFIER").as_deref() {
        None | Some("http") => Ok(Box::new(HttpVerifier::new(
            config::required("HC_VERIFIER_URL")?,
            config::required("HC_VERIFIER_API_KEY")?,
        ))),
        Some("local") => Ok(Box::new(LocalVerifier)),
        Some(_) => Err(ConfigError::new("HC_IDENTITY_VERIFIER", "must be `http` or `local`")),
    }
}

/// Accepts every well-formed number: the number was already checked against
/// GB 11643 when parsed. For the local stack only.
pub struct LocalVerifier;

#[async_trait]
impl IdentityVerifier for LocalVerifier {
    async fn verify(&self, _: &PersonName, _: &IdNumber, _: Option<&Phone>) -> Result<Verdict, VerifierUnavailable> {
        Ok(Verdict::Match)
    }
}

/// An identity-verification service reached over HTTPS with an API key:
/// `POST <url>` with `{"name", "id_number", "phone"?}` answers
/// `200 {"match": true|false}`. This is the shape of the two- and
/// three-factor checks offered to government services; an adapter for a
/// provider with another shape goes behind the same trait.
pub struct HttpVerifier {
    url: String,
    api_key: String,
    http: LazyClient,
}

#[derive(Serialize)]
struct VerifyRequest<'a> {
    name: &'a str,
    id_number: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone: Option<&'a str>,
}

#[derive(Deserialize)]
struct VerifyResponse {
    #[serde(rename = "match")]
    matches: bool,
}

impl HttpVerifier {
    pub fn new(url: String, api_key: String) -> Self {
        let http = LazyClient::default();
        Self { url, api_key, http }
    }
}

#[async_trait]
impl IdentityVerifier for HttpVerifier {
    async fn verify(
        &self,
        name: &PersonName,
        id: &IdNumber,
        phone: Option<&Phone>,
    ) -> Result<Verdict, VerifierUnavailable> {
        let body = VerifyRequest {
            name: name.as_str(),
            id_number: id.as_str(),
            phone: phone.map(Phone::as_str),
        };
        let response = self
            .http
            .get()
            .post(&self.url)
            .bearer_auth(&self.api_key)
            .json(&body)
            .send()
            .await
            .map_err(|e| {
                VerifierUnavailable(if e.is_timeout() {
                    "timeout".into()
                } else {
                    "unreachable".into()
                })
            })?;
        if !response.status().is_success() {
            return Err(VerifierUnavailable(format!("status {}", response.status().as_u16())));
        }
        let answer: VerifyResponse = response
            .json()
            .await
            .map_err(|_| VerifierUnavailable("unreadable answer".into()))?;
        Ok(if answer.matches {
            Verdict::Match
        } else {
            Verdict::Mismatch
        })
    }
}

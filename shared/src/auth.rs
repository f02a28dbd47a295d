//! Session tokens and roles.
//!
//! A session token is a JWT (HS256) issued by the login function and checked
//! by every function with the same secret. It names the account, and the
//! account's own subject once real-name authentication is done: that binding
//! never changes, so carrying it saves a read on every scan and check-in.
//! Roles in the token only shape what the client shows; the admin function
//! re-reads them from the store, so revoking a role takes effect at once.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use lambda_http::Request;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::domain::role::Role;
use crate::http::Problem;

const ISSUER: &str = "hbhc";
const AUDIENCE: &str = "hbhc-session";
/// The longest session lifetime a deployment may configure.
pub const MAX_LIFETIME_SECONDS: i64 = 86_400;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
    #[serde(default)]
    roles: Vec<Role>,
    /// The token's own id, which logout revokes.
    #[serde(default)]
    jti: String,
    iat: i64,
    exp: i64,
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub account_id: String,
    /// The caller's own subject, when the token was issued after real-name
    /// authentication. `None` does not prove the caller is unverified.
    pub subject_id: Option<String>,
    pub roles: Vec<Role>,
    /// The token this session came with; empty for a session about to be
    /// issued (`issue` gives each token an id of its own).
    pub token: TokenRef,
}

/// A session token's id and expiry: what `POST /v1/logout` revokes, for as
/// long as the token would have lived.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenRef {
    pub id: String,
    /// Unix seconds.
    pub expires: i64,
}

pub struct SessionKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    lifetime: Duration,
}

impl SessionKeys {
    pub fn new(secret: &[u8], lifetime: Duration) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            lifetime,
        }
    }

    /// From `HC_SESSION_SECRET` (base64, at least 32 bytes) and
    /// `HC_SESSION_TTL_SECONDS` (default 7200).
    pub fn from_env() -> Result<Self, crate::config::ConfigError> {
        let secret = crate::config::key("HC_SESSION_SECRET", 32)?;
        let ttl = crate::config::parse_or("HC_SESSION_TTL_SECONDS", 7200i64)?;
        // A lost phone's token works until it expires or is logged out: a
        // day at most, as the revocation records are kept that long.
        if !(60..=MAX_LIFETIME_SECONDS).contains(&ttl) {
            return Err(crate::config::ConfigError::new(
                "HC_SESSION_TTL_SECONDS",
                "must be between 60 and 86400 (24 hours)",
            ));
        }
        Ok(Self::new(&secret, Duration::seconds(ttl)))
    }

    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// A token for `session`, valid from `now` for the configured lifetime.
    pub fn issue(&self, session: &Session, now: OffsetDateTime) -> (String, OffsetDateTime) {
        let expires = now + self.lifetime;
        let claims = Claims {
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            sub: session.account_id.clone(),
            sid: session.subject_id.clone(),
            roles: session.roles.clone(),
            jti: crate::crypto::random_id(""),
            iat: now.unix_timestamp(),
            exp: expires.unix_timestamp(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing cannot fail");
        (token, expires)
    }

    /// Checks the signature (HS256 only: `none` and every other algorithm
    /// are refused), issuer, audience and expiry against `now`.
    pub fn verify(&self, token: &str, now: OffsetDateTime) -> Option<Session> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iat", "sub", "iss", "aud"]);
        // Expiry is checked below against the caller's clock, not the library's.
        validation.validate_exp = false;
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).ok()?;
        let claims = data.claims;
        if now.unix_timestamp() >= claims.exp || claims.iat > now.unix_timestamp() + 60 || claims.jti.is_empty() {
            return None;
        }
        Some(Session {
            account_id: claims.sub,
            subject_id: claims.sid,
            roles: claims.roles,
            token: TokenRef {
                id: claims.jti,
                expires: claims.exp,
            },
        })
    }

    /// The session of a request's `Authorization: Bearer` token, or 401.
    pub fn authenticate(&self, req: &Request, now: OffsetDateTime) -> Result<Session, Problem> {
        let header = crate::http::header(req, "authorization").ok_or_else(Problem::unauthenticated)?;
        let (scheme, token) = header.split_once(' ').ok_or_else(Problem::unauthenticated)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(Problem::unauthenticated());
        }
        self.verify(token.trim(), now).ok_or_else(Problem::unauthenticated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-26 08:00 +8);

    fn keys() -> SessionKeys {
        SessionKeys::new(&[3u8; 32], Duration::hours(2))
    }

    fn alice() -> Session {
        Session {
            account_id: "u_alice".into(),
            subject_id: Some("s_1".into()),
            roles: vec![],
            token: TokenRef::default(),
        }
    }

    /// Who the session is, without its token's own id and expiry.
    fn who(session: Option<Session>) -> Option<(String, Option<String>)> {
        session.map(|s| (s.account_id, s.subject_id))
    }

    #[test]
    fn a_token_round_trips_until_it_expires() {
        let (token, expires) = keys().issue(&alice(), NOW);
        assert_eq!(expires, NOW + Duration::hours(2));
        let alice = alice();
        let verified = keys().verify(&token, NOW + Duration::minutes(119));
        assert_eq!(who(verified.clone()), who(Some(alice)));
        let token_ref = verified.unwrap().token;
        assert_eq!(token_ref.expires, (NOW + Duration::hours(2)).unix_timestamp());
        assert_eq!(token_ref.id.len(), 26, "each token has an id of its own");
        let (second, _) = keys().issue(&self::alice(), NOW);
        assert_ne!(keys().verify(&second, NOW).unwrap().token.id, token_ref.id);
        assert_eq!(keys().verify(&token, NOW + Duration::hours(2)), None);
    }

    #[test]
    fn another_key_or_a_changed_claim_is_refused() {
        let (token, _) = keys().issue(&alice(), NOW);
        let other = SessionKeys::new(&[4u8; 32], Duration::hours(2));
        assert_eq!(other.verify(&token, NOW), None);
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut claims: serde_json::Value = serde_json::from_slice(&B64.decode(&parts[1]).unwrap()).unwrap();
        claims["sub"] = "u_mallory".into();
        parts[1] = B64.encode(claims.to_string());
        assert_eq!(keys().verify(&parts.join("."), NOW), None);
    }

    #[test]
    fn alg_none_and_a_stripped_signature_are_refused() {
        let (token, _) = keys().issue(&alice(), NOW);
        let parts: Vec<&str> = token.split('.').collect();
        let none_header = B64.encode(r#"{"alg":"none","typ":"JWT"}"#);
        assert_eq!(keys().verify(&format!("{none_header}.{}.", parts[1]), NOW), None);
        assert_eq!(keys().verify(&format!("{}.{}.", parts[0], parts[1]), NOW), None);
        assert_eq!(keys().verify("garbage", NOW), None);
    }
}

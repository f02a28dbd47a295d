//! The signed tokens inside QR codes.
//!
//! A personal code is `HBHC:1:` + a compact JWS (EdDSA/Ed25519, `kid` in the
//! header) with the claims `iss`, `sub` (subject id), `col`, `iat`, `exp`.
//! Anyone holding the published JWK Set can verify it offline, as with the
//! EU DCC and SMART Health Cards. The JWK Set holds the current key and the
//! previous one, so that codes on screens survive a key rotation.
//!
//! A paper code (纸质码, printed for a person without a smartphone) is the
//! same token with a 30-day lifetime and one more claim, `pv`: the version
//! of the subject's paper codes it belongs to. Issuing a new paper code
//! raises the subject's version, and our scans refuse a paper code of an
//! older version as revoked; a verifier offline sees a valid signature and
//! the colour at issue, as with any of our codes.
//!
//! A venue code is a URL whose `c` parameter is `<venue id>.<key id>.<tag>`,
//! the tag an HMAC of the venue id: only the server checks venue codes (at
//! check-in), so a short symmetric tag keeps the printed QR code small.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::json;
use thiserror::Error;
use time::{Duration, OffsetDateTime};

use super::status::Color;
use crate::crypto::{constant_time_eq, hmac_sha256, sha256};

/// The prefix that marks our personal codes, with the format version.
pub const CODE_PREFIX: &str = "HBHC:1:";

/// Clocks of issuers and verifiers may differ by this much (the EU DCC
/// verifiers' allowance for `iat`).
const CLOCK_SKEW: Duration = Duration::minutes(5);

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum CodeError {
    /// Not ours, malformed, or its signature does not verify.
    #[error("the code is not a valid health code")]
    Invalid,
    #[error("the code has expired")]
    Expired,
    /// A paper code replaced by a newer one of the same subject.
    #[error("the paper code has been replaced by a newer one")]
    Revoked,
}

impl CodeError {
    /// The error code answered for it (`reason` of `POST /v1/verify`).
    pub fn code(self) -> &'static str {
        match self {
            Self::Invalid => "invalid-code",
            Self::Expired => "expired-code",
            Self::Revoked => "revoked-code",
        }
    }
}

/// How long a paper code is valid: it is printed, so it cannot be refreshed
/// every few minutes like the code on a screen.
pub const PAPER_LIFETIME: Duration = Duration::days(30);

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    col: Color,
    iat: i64,
    exp: i64,
    /// A paper code: its version among the subject's paper codes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pv: Option<u64>,
}

/// What a verified personal code says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeClaims {
    pub subject_id: String,
    pub color: Color,
    pub issued_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// For a paper code, its version.
    pub paper_version: Option<u64>,
}

impl CodeClaims {
    /// Whether the code is still current for a subject whose latest paper
    /// code has version `latest` (0: none issued): a code on a screen always
    /// is, a paper code only if it is the latest.
    pub fn current(&self, latest: u64) -> Result<(), CodeError> {
        match self.paper_version {
            Some(version) if version != latest => Err(CodeError::Revoked),
            _ => Ok(()),
        }
    }
}

/// A subject's latest paper code, as recorded on its profile: enough to sign
/// it again, byte for byte (Ed25519 signatures are deterministic).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaperCode {
    pub version: u64,
    /// The colour at issue: what a verifier offline sees.
    pub color: Color,
    pub issued_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// A freshly issued personal code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCode {
    /// The QR content: `HBHC:1:<JWS>`.
    pub content: String,
    pub expires_at: OffsetDateTime,
    /// When the client should fetch a new code, before this one expires.
    pub refresh_after: OffsetDateTime,
}

struct PublicKey {
    kid: String,
    x: String,
    decoding: DecodingKey,
}

impl PublicKey {
    fn new(public: &[u8; 32]) -> Self {
        let x = B64.encode(public);
        let decoding = DecodingKey::from_ed_components(&x).expect("base64url of 32 bytes");
        Self {
            kid: thumbprint(&x),
            x,
            decoding,
        }
    }
}

/// RFC 7638 thumbprint of an Ed25519 JWK: the `kid` that SMART Health Cards use.
fn thumbprint(x: &str) -> String {
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    B64.encode(sha256(canonical.as_bytes()))
}

/// The keys that sign and verify personal codes.
pub struct CodeKeys {
    issuer: String,
    lifetime: Duration,
    signing: EncodingKey,
    header: Header,
    /// The current key first, then the previous one.
    public: Vec<PublicKey>,
}

impl CodeKeys {
    /// `seed` is the Ed25519 private key; `previous` the public key that
    /// signed before the last rotation.
    pub fn new(seed: &[u8; 32], previous: Option<&[u8; 32]>, issuer: &str, lifetime: Duration) -> Self {
        let signing_key = SigningKey::from_bytes(seed);
        let der = signing_key.to_pkcs8_der().expect("an Ed25519 key encodes as PKCS#8");
        let current = PublicKey::new(signing_key.verifying_key().as_bytes());
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(current.kid.clone());
        let mut public = vec![current];
        public.extend(previous.map(PublicKey::new));
        Self {
            issuer: issuer.to_owned(),
            lifetime,
            signing: EncodingKey::from_ed_der(der.as_bytes()),
            header,
            public,
        }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The `kid` of the current signing key.
    pub fn kid(&self) -> &str {
        &self.public[0].kid
    }

    /// Signs a code for `subject_id` showing `color`, valid from `now`.
    pub fn issue(&self, subject_id: &str, color: Color, now: OffsetDateTime) -> IssuedCode {
        let now = now.replace_nanosecond(0).expect("zero nanoseconds are valid");
        let expires_at = now + self.lifetime;
        let claims = Claims {
            iss: self.issuer.clone(),
            sub: subject_id.to_owned(),
            col: color,
            iat: now.unix_timestamp(),
            exp: expires_at.unix_timestamp(),
            pv: None,
        };
        let jws = jsonwebtoken::encode(&self.header, &claims, &self.signing).expect("Ed25519 signing cannot fail");
        // Refresh when four fifths of the lifetime have passed (4 of 5 minutes).
        let refresh_after = now + self.lifetime * 4 / 5;
        IssuedCode {
            content: format!("{CODE_PREFIX}{jws}"),
            expires_at,
            refresh_after,
        }
    }

    /// The QR content of a subject's paper code: the same bytes every time
    /// it is signed with the same key.
    pub fn sign_paper(&self, subject_id: &str, paper: &PaperCode) -> String {
        let claims = Claims {
            iss: self.issuer.clone(),
            sub: subject_id.to_owned(),
            col: paper.color,
            iat: paper.issued_at.unix_timestamp(),
            exp: paper.expires_at.unix_timestamp(),
            pv: Some(paper.version),
        };
        let jws = jsonwebtoken::encode(&self.header, &claims, &self.signing).expect("Ed25519 signing cannot fail");
        format!("{CODE_PREFIX}{jws}")
    }

    /// Verifies QR content against our published keys: the prefix, the
    /// algorithm (EdDSA only), the `kid`, the signature, the issuer, then
    /// the expiry against `now`.
    pub fn verify(&self, content: &str, now: OffsetDateTime) -> Result<CodeClaims, CodeError> {
        let jws = content.trim().strip_prefix(CODE_PREFIX).ok_or(CodeError::Invalid)?;
        let header = jsonwebtoken::decode_header(jws).map_err(|_| CodeError::Invalid)?;
        if header.alg != Algorithm::EdDSA {
            return Err(CodeError::Invalid);
        }
        let kid = header.kid.ok_or(CodeError::Invalid)?;
        let key = self.public.iter().find(|k| k.kid == kid).ok_or(CodeError::Invalid)?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["iss", "sub", "iat", "exp"]);
        validation.validate_exp = false;
        let claims = jsonwebtoken::decode::<Claims>(jws, &key.decoding, &validation)
            .map_err(|_| CodeError::Invalid)?
            .claims;
        let issued_at = OffsetDateTime::from_unix_timestamp(claims.iat).map_err(|_| CodeError::Invalid)?;
        let expires_at = OffsetDateTime::from_unix_timestamp(claims.exp).map_err(|_| CodeError::Invalid)?;
        if issued_at > now + CLOCK_SKEW || expires_at <= issued_at {
            return Err(CodeError::Invalid);
        }
        if now >= expires_at {
            return Err(CodeError::Expired);
        }
        Ok(CodeClaims {
            subject_id: claims.sub,
            color: claims.col,
            issued_at,
            expires_at,
            paper_version: claims.pv,
        })
    }

    /// The public keys as an RFC 7517 JWK Set, current key first.
    pub fn jwks(&self) -> serde_json::Value {
        let keys: Vec<_> = self
            .public
            .iter()
            .map(|k| json!({"kty": "OKP", "crv": "Ed25519", "x": k.x, "kid": k.kid, "alg": "EdDSA", "use": "sig"}))
            .collect();
        json!({ "keys": keys })
    }
}

/// The keys that sign venue codes.
pub struct VenueKeys {
    url_base: String,
    /// The current key first, then the previous one: (key id, key).
    keys: Vec<(String, Vec<u8>)>,
}

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
#[error("the venue code is forged or malformed")]
pub struct InvalidVenueCode;

/// Bytes of HMAC-SHA256 kept in a venue tag: 128 bits.
const VENUE_TAG_BYTES: usize = 16;

impl VenueKeys {
    pub fn new(url_base: &str, current: &[u8], previous: Option<&[u8]>) -> Self {
        let id = |key: &[u8]| B64.encode(&sha256(key)[..3]);
        let mut keys = vec![(id(current), current.to_vec())];
        keys.extend(previous.map(|k| (id(k), k.to_vec())));
        Self {
            url_base: url_base.to_owned(),
            keys,
        }
    }

    fn tag(key: &[u8], venue_id: &str) -> String {
        B64.encode(&hmac_sha256(key, format!("hbhc-venue/1\0{venue_id}").as_bytes())[..VENUE_TAG_BYTES])
    }

    /// The QR content of a venue: `<base>?c=<venue id>.<key id>.<tag>`.
    pub fn code(&self, venue_id: &str) -> String {
        let (kid, key) = &self.keys[0];
        format!("{}?c={venue_id}.{kid}.{}", self.url_base, Self::tag(key, venue_id))
    }

    /// The venue id of scanned QR content, if a key of ours signed it. The
    /// URL's host and path are not trusted: only the tag is.
    pub fn verify(&self, content: &str) -> Result<String, InvalidVenueCode> {
        let token = venue_token(content.trim()).ok_or(InvalidVenueCode)?;
        let mut parts = token.split('.');
        let (Some(venue_id), Some(kid), Some(tag), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(InvalidVenueCode);
        };
        let valid_id =
            (3..=64).contains(&venue_id.len()) && venue_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid_id {
            return Err(InvalidVenueCode);
        }
        let (_, key) = self.keys.iter().find(|(id, _)| id == kid).ok_or(InvalidVenueCode)?;
        if constant_time_eq(Self::tag(key, venue_id).as_bytes(), tag.as_bytes()) {
            Ok(venue_id.to_owned())
        } else {
            Err(InvalidVenueCode)
        }
    }
}

/// The `c` parameter of a venue URL, or the content itself when it is a bare token.
fn venue_token(content: &str) -> Option<&str> {
    match content.split_once('?') {
        Some((_, query)) => query.split('&').find_map(|pair| pair.strip_prefix("c=")),
        None if !content.contains('/') => Some(content),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-26 10:00 +8);

    fn keys() -> CodeKeys {
        CodeKeys::new(&[5u8; 32], None, "https://hc.example", Duration::minutes(5))
    }

    #[test]
    fn a_code_verifies_until_it_expires() {
        let code = keys().issue("s_abc", Color::Green, NOW);
        assert!(code.content.starts_with(CODE_PREFIX));
        assert_eq!(code.expires_at, NOW + Duration::minutes(5));
        assert_eq!(code.refresh_after, NOW + Duration::minutes(4));
        let claims = keys().verify(&code.content, NOW + Duration::seconds(299)).unwrap();
        assert_eq!((claims.subject_id.as_str(), claims.color), ("s_abc", Color::Green));
        assert_eq!(
            keys().verify(&code.content, NOW + Duration::minutes(5)),
            Err(CodeError::Expired)
        );
    }

    #[test]
    fn a_code_from_the_previous_key_still_verifies_after_a_rotation() {
        let old = keys();
        let code = old.issue("s_abc", Color::Yellow, NOW);
        let previous = *SigningKey::from_bytes(&[5u8; 32]).verifying_key().as_bytes();
        let rotated = CodeKeys::new(&[6u8; 32], Some(&previous), "https://hc.example", Duration::minutes(5));
        assert_ne!(rotated.kid(), old.kid());
        assert_eq!(rotated.verify(&code.content, NOW).unwrap().color, Color::Yellow);
        assert_eq!(rotated.jwks()["keys"].as_array().unwrap().len(), 2);
        // Without the previous key the old code is foreign.
        let fresh = CodeKeys::new(&[6u8; 32], None, "https://hc.example", Duration::minutes(5));
        assert_eq!(fresh.verify(&code.content, NOW), Err(CodeError::Invalid));
    }

    #[test]
    fn tampered_foreign_and_malformed_codes_are_invalid() {
        let code = keys().issue("s_abc", Color::Red, NOW).content;
        let mut flipped = code.clone().into_bytes();
        let i = flipped.len() / 2;
        flipped[i] = if flipped[i] == b'A' { b'B' } else { b'A' };
        let other_issuer = CodeKeys::new(&[5u8; 32], None, "https://elsewhere", Duration::minutes(5))
            .issue("s_abc", Color::Red, NOW)
            .content;
        for bad in [
            String::from_utf8(flipped).unwrap(),
            code.replacen(CODE_PREFIX, "HC1:", 1),
            code.trim_start_matches(CODE_PREFIX).to_owned(),
            other_issuer,
            "HBHC:1:not.a.jws".to_owned(),
            String::new(),
        ] {
            assert_eq!(keys().verify(&bad, NOW), Err(CodeError::Invalid), "{bad}");
        }
    }

    #[test]
    fn a_token_signed_by_another_key_under_our_kid_is_invalid() {
        let mallory = CodeKeys::new(&[9u8; 32], None, "https://hc.example", Duration::minutes(5));
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(keys().kid().to_owned());
        let claims = Claims {
            iss: "https://hc.example".into(),
            sub: "s_abc".into(),
            col: Color::Green,
            iat: NOW.unix_timestamp(),
            exp: NOW.unix_timestamp() + 300,
            pv: None,
        };
        let forged = jsonwebtoken::encode(&header, &claims, &mallory.signing).unwrap();
        assert_eq!(
            keys().verify(&format!("{CODE_PREFIX}{forged}"), NOW),
            Err(CodeError::Invalid)
        );
    }

    #[test]
    fn alg_none_and_hs256_with_the_public_key_are_invalid() {
        let code = keys().issue("s_abc", Color::Green, NOW).content;
        let jws = code.trim_start_matches(CODE_PREFIX);
        let payload = jws.split('.').nth(1).unwrap();
        let kid = keys().kid().to_owned();
        let none = B64.encode(format!(r#"{{"alg":"none","kid":"{kid}"}}"#));
        assert_eq!(
            keys().verify(&format!("{CODE_PREFIX}{none}.{payload}."), NOW),
            Err(CodeError::Invalid)
        );
        let x = keys().jwks()["keys"][0]["x"].as_str().unwrap().to_owned();
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(kid);
        let claims = Claims {
            iss: "https://hc.example".into(),
            sub: "s_abc".into(),
            col: Color::Green,
            iat: NOW.unix_timestamp(),
            exp: NOW.unix_timestamp() + 300,
            pv: None,
        };
        let confused = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(x.as_bytes())).unwrap();
        assert_eq!(
            keys().verify(&format!("{CODE_PREFIX}{confused}"), NOW),
            Err(CodeError::Invalid)
        );
    }

    fn paper(version: u64) -> PaperCode {
        PaperCode {
            version,
            color: Color::Green,
            issued_at: NOW,
            expires_at: NOW + PAPER_LIFETIME,
        }
    }

    #[test]
    fn a_paper_code_is_signed_again_byte_for_byte_and_lasts_thirty_days() {
        let content = keys().sign_paper("s_abc", &paper(3));
        assert_eq!(keys().sign_paper("s_abc", &paper(3)), content);
        let claims = keys().verify(&content, NOW + Duration::days(29)).unwrap();
        assert_eq!(claims.paper_version, Some(3));
        assert_eq!(claims.expires_at, NOW + Duration::days(30));
        assert_eq!(
            keys().verify(&content, NOW + Duration::days(30)),
            Err(CodeError::Expired)
        );
    }

    #[test]
    fn only_the_latest_paper_code_is_current() {
        let paper_claims = keys().verify(&keys().sign_paper("s_abc", &paper(3)), NOW).unwrap();
        assert_eq!(paper_claims.current(3), Ok(()));
        assert_eq!(paper_claims.current(4), Err(CodeError::Revoked));
        assert_eq!(paper_claims.current(0), Err(CodeError::Revoked));
        let screen = keys()
            .verify(&keys().issue("s_abc", Color::Green, NOW).content, NOW)
            .unwrap();
        assert_eq!(screen.paper_version, None);
        assert_eq!(screen.current(4), Ok(()));
    }

    #[test]
    fn the_kid_is_the_rfc_7638_thumbprint() {
        // RFC 8037 appendix A.3: the thumbprint of its example Ed25519 key.
        assert_eq!(
            thumbprint("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    fn venue_keys() -> VenueKeys {
        VenueKeys::new("https://hc.example/v", &[1u8; 32], None)
    }

    #[test]
    fn a_venue_code_verifies_and_names_its_venue() {
        let code = venue_keys().code("v_abc123");
        assert!(code.starts_with("https://hc.example/v?c=v_abc123."));
        assert_eq!(venue_keys().verify(&code), Ok("v_abc123".to_owned()));
        let bare = code.split_once("?c=").unwrap().1;
        assert_eq!(venue_keys().verify(bare), Ok("v_abc123".to_owned()));
    }

    #[test]
    fn forged_venue_codes_fail() {
        let code = venue_keys().code("v_abc123");
        let changed_id = code.replace("v_abc123", "v_abc124");
        let (head, tag) = code.rsplit_once('.').unwrap();
        let changed_tag = format!(
            "{head}.{}",
            if tag.starts_with('A') {
                tag.replacen('A', "B", 1)
            } else {
                format!("A{}", &tag[1..])
            }
        );
        let other_key = VenueKeys::new("https://hc.example/v", &[2u8; 32], None).code("v_abc123");
        for bad in [
            changed_id,
            changed_tag,
            other_key,
            "https://hc.example/v?c=".into(),
            "HBHC:1:x".into(),
            "v_abc123".into(),
            String::new(),
        ] {
            assert_eq!(venue_keys().verify(&bad), Err(InvalidVenueCode), "{bad}");
        }
    }

    #[test]
    fn venue_codes_survive_a_key_rotation() {
        let code = venue_keys().code("v_abc123");
        let rotated = VenueKeys::new("https://hc.example/v", &[2u8; 32], Some(&[1u8; 32]));
        assert_eq!(rotated.verify(&code), Ok("v_abc123".to_owned()));
    }
}

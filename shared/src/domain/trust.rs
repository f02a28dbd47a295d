//! Codes of other provinces: the issuers we trust, their QR prefixes and
//! their public keys (an RFC 7517 JWK Set, as each issuer publishes it), and
//! the offline check of a code they signed.
//!
//! A trusted issuer's code is its prefix + a compact JWS signed with EdDSA
//! (Ed25519) or ES256 (P-256), `kid` in the header, with the claims `iss`,
//! `sub`, `col`, `exp` (and `iat`, when present, not in the future). The
//! algorithm must be the one of the key the `kid` names: `none`, HMAC, or
//! an Ed25519 key used as ES256 are refused, so a token "signed" with the
//! issuer's public key as an HMAC secret never verifies. We cannot know such
//! a person's live status: the colour is the token's own.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;
use thiserror::Error;
use time::{Duration, OffsetDateTime};

use super::status::Color;
use super::token::{CODE_PREFIX, CodeError};

/// Clock difference allowed between an issuer and us, as for our own codes.
const CLOCK_SKEW: Duration = Duration::minutes(5);
/// At most this many keys per issuer: a current and a previous key per
/// algorithm, with room for a rotation.
pub const MAX_KEYS: usize = 8;
/// The longest `sub` we log.
const MAX_SUB: usize = 128;

/// Why a trust-list entry is refused (said to the operator).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("{0}")]
pub struct TrustError(pub String);

fn refused(message: impl Into<String>) -> TrustError {
    TrustError(message.into())
}

struct IssuerKey {
    kid: String,
    alg: Algorithm,
    decoding: DecodingKey,
}

/// One trusted issuer, with its keys parsed.
pub struct TrustedIssuer {
    pub issuer: String,
    pub prefix: String,
    keys: Vec<IssuerKey>,
}

/// What a trusted issuer's code says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignClaims {
    pub issuer: String,
    pub subject: String,
    pub color: Color,
    pub expires_at: OffsetDateTime,
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    col: Color,
    #[serde(default)]
    iat: Option<i64>,
    exp: i64,
}

/// Checks an issuer name: a URL-like identifier of 3 to 200 visible ASCII characters.
pub fn check_issuer(issuer: &str) -> Result<(), TrustError> {
    if (3..=200).contains(&issuer.len()) && issuer.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(refused(
            "an issuer is 3 to 200 visible ASCII characters, such as https://hc.beijing.example",
        ))
    }
}

/// Checks a QR prefix: 3 to 32 characters of `A-Z 0-9 : / -` ending in `:`
/// or `/`, and not overlapping ours (`HBHC:1:`), so that no code can match two issuers.
pub fn check_prefix(prefix: &str) -> Result<(), TrustError> {
    let shape = (3..=32).contains(&prefix.len())
        && prefix
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b":/-".contains(&b))
        && (prefix.ends_with(':') || prefix.ends_with('/'));
    if !shape {
        return Err(refused(
            "a prefix is 3 to 32 characters of A-Z, 0-9, ':', '/', '-' ending in ':' or '/', such as BJHC:1:",
        ));
    }
    if overlaps(prefix, CODE_PREFIX) {
        return Err(refused(format!("the prefix overlaps ours, {CODE_PREFIX}")));
    }
    Ok(())
}

/// Whether one prefix starts with the other.
pub fn overlaps(a: &str, b: &str) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

fn b64_len(value: &Value, name: &str, len: usize) -> Result<String, TrustError> {
    let text = value[name]
        .as_str()
        .ok_or_else(|| refused(format!("a key lacks `{name}`")))?;
    match B64.decode(text) {
        Ok(bytes) if bytes.len() == len => Ok(text.to_owned()),
        _ => Err(refused(format!("`{name}` is not base64url of {len} bytes"))),
    }
}

fn parse_key(jwk: &Value) -> Result<IssuerKey, TrustError> {
    if jwk.get("d").is_some() {
        return Err(refused("a key holds a private part (`d`): publish only public keys"));
    }
    let kid = jwk["kid"].as_str().unwrap_or_default();
    if kid.is_empty() || kid.len() > 128 || !kid.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(refused("every key needs a `kid` of 1 to 128 visible ASCII characters"));
    }
    if let Some(usage) = jwk.get("use")
        && usage != "sig"
    {
        return Err(refused(format!("key {kid}: `use` must be `sig`")));
    }
    let (alg, decoding) = match (jwk["kty"].as_str(), jwk["crv"].as_str()) {
        (Some("OKP"), Some("Ed25519")) => {
            let x = b64_len(jwk, "x", 32)?;
            let key =
                DecodingKey::from_ed_components(&x).map_err(|_| refused(format!("key {kid}: bad Ed25519 key")))?;
            (Algorithm::EdDSA, key)
        }
        (Some("EC"), Some("P-256")) => {
            let (x, y) = (b64_len(jwk, "x", 32)?, b64_len(jwk, "y", 32)?);
            let key =
                DecodingKey::from_ec_components(&x, &y).map_err(|_| refused(format!("key {kid}: bad P-256 key")))?;
            (Algorithm::ES256, key)
        }
        _ => {
            return Err(refused(format!(
                "key {kid}: only Ed25519 (kty OKP) and P-256 (kty EC) keys are accepted"
            )));
        }
    };
    let named = match alg {
        Algorithm::EdDSA => "EdDSA",
        _ => "ES256",
    };
    if let Some(stated) = jwk.get("alg")
        && stated != named
    {
        return Err(refused(format!("key {kid}: `alg` must be {named} for this key type")));
    }
    Ok(IssuerKey {
        kid: kid.to_owned(),
        alg,
        decoding,
    })
}

impl TrustedIssuer {
    /// An issuer from its name, prefix and JWK Set (JSON text); refused
    /// unless every key is a public Ed25519 or P-256 signing key with a
    /// distinct `kid`.
    pub fn new(issuer: &str, prefix: &str, jwks: &str) -> Result<Self, TrustError> {
        check_issuer(issuer)?;
        check_prefix(prefix)?;
        let set: Value = serde_json::from_str(jwks).map_err(|_| refused("the JWK Set is not JSON"))?;
        let keys = set["keys"]
            .as_array()
            .ok_or_else(|| refused("a JWK Set is an object with a `keys` array"))?;
        if keys.is_empty() || keys.len() > MAX_KEYS {
            return Err(refused(format!("a JWK Set here holds 1 to {MAX_KEYS} keys")));
        }
        let keys = keys.iter().map(parse_key).collect::<Result<Vec<_>, _>>()?;
        for (i, key) in keys.iter().enumerate() {
            if keys[..i].iter().any(|k| k.kid == key.kid) {
                return Err(refused(format!("two keys share the kid {}", key.kid)));
            }
        }
        Ok(Self {
            issuer: issuer.to_owned(),
            prefix: prefix.to_owned(),
            keys,
        })
    }

    /// The `kid`s of the keys, in the order of the JWK Set.
    pub fn kids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.kid.as_str()).collect()
    }

    /// Verifies the JWS after the prefix: algorithm of the named key, signature, issuer, expiry.
    fn verify(&self, jws: &str, now: OffsetDateTime) -> Result<ForeignClaims, CodeError> {
        let header = jsonwebtoken::decode_header(jws).map_err(|_| CodeError::Invalid)?;
        let kid = header.kid.ok_or(CodeError::Invalid)?;
        let key = self.keys.iter().find(|k| k.kid == kid).ok_or(CodeError::Invalid)?;
        if header.alg != key.alg {
            return Err(CodeError::Invalid);
        }
        let mut validation = Validation::new(key.alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["iss", "sub", "exp"]);
        validation.validate_exp = false;
        validation.leeway = 0;
        let claims = jsonwebtoken::decode::<Claims>(jws, &key.decoding, &validation)
            .map_err(|_| CodeError::Invalid)?
            .claims;
        if claims.sub.is_empty() || claims.sub.len() > MAX_SUB || !claims.sub.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(CodeError::Invalid);
        }
        if let Some(iat) = claims.iat {
            let issued_at = OffsetDateTime::from_unix_timestamp(iat).map_err(|_| CodeError::Invalid)?;
            if issued_at > now + CLOCK_SKEW || claims.exp <= iat {
                return Err(CodeError::Invalid);
            }
        }
        let expires_at = OffsetDateTime::from_unix_timestamp(claims.exp).map_err(|_| CodeError::Invalid)?;
        if now >= expires_at {
            return Err(CodeError::Expired);
        }
        Ok(ForeignClaims {
            issuer: claims.iss,
            subject: claims.sub,
            color: claims.col,
            expires_at,
        })
    }
}

/// The trusted issuers, as the functions hold them between reads.
#[derive(Default)]
pub struct TrustList {
    issuers: Vec<TrustedIssuer>,
}

impl TrustList {
    pub fn new(issuers: Vec<TrustedIssuer>) -> Self {
        Self { issuers }
    }

    pub fn len(&self) -> usize {
        self.issuers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.issuers.is_empty()
    }

    /// Verifies QR content against the issuer whose prefix it starts with;
    /// content with no trusted prefix is invalid.
    pub fn verify(&self, content: &str, now: OffsetDateTime) -> Result<ForeignClaims, CodeError> {
        let content = content.trim();
        let (issuer, jws) = self
            .issuers
            .iter()
            .find_map(|i| content.strip_prefix(i.prefix.as_str()).map(|jws| (i, jws)))
            .ok_or(CodeError::Invalid)?;
        issuer.verify(jws, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use ed25519_dalek::pkcs8::EncodePrivateKey;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-26 10:00 +8);
    const ISS: &str = "https://hc.beijing.example";

    fn ed_key(seed: u8) -> (EncodingKey, String) {
        let key = SigningKey::from_bytes(&[seed; 32]);
        let der = key.to_pkcs8_der().unwrap();
        (
            EncodingKey::from_ed_der(der.as_bytes()),
            B64.encode(key.verifying_key().as_bytes()),
        )
    }

    fn jwks(x: &str) -> String {
        json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "bj-1", "alg": "EdDSA", "use": "sig"}]})
            .to_string()
    }

    fn sign(key: &EncodingKey, alg: Algorithm, kid: &str, claims: Value) -> String {
        let mut header = Header::new(alg);
        header.kid = Some(kid.to_owned());
        format!("BJHC:1:{}", jsonwebtoken::encode(&header, &claims, key).unwrap())
    }

    fn claims(iss: &str, exp: OffsetDateTime) -> Value {
        json!({"iss": iss, "sub": "bj-123", "col": "yellow", "iat": NOW.unix_timestamp() - 60, "exp": exp.unix_timestamp()})
    }

    fn list(x: &str) -> TrustList {
        TrustList::new(vec![TrustedIssuer::new(ISS, "BJHC:1:", &jwks(x)).unwrap()])
    }

    #[test]
    fn a_trusted_issuers_code_gives_its_colour_until_it_expires() {
        let (key, x) = ed_key(1);
        let code = sign(&key, Algorithm::EdDSA, "bj-1", claims(ISS, NOW + Duration::minutes(5)));
        let found = list(&x).verify(&code, NOW).unwrap();
        assert_eq!(
            (found.issuer.as_str(), found.subject.as_str(), found.color),
            (ISS, "bj-123", Color::Yellow)
        );
        assert_eq!(
            list(&x).verify(&code, NOW + Duration::minutes(5)),
            Err(CodeError::Expired)
        );
    }

    #[test]
    fn wrong_keys_issuers_prefixes_and_algorithms_are_invalid() {
        let (key, x) = ed_key(1);
        let (other, _) = ed_key(2);
        let exp = NOW + Duration::minutes(5);
        let good = sign(&key, Algorithm::EdDSA, "bj-1", claims(ISS, exp));
        let payload = good.split('.').nth(1).unwrap().to_owned();
        let none = format!("BJHC:1:{}.{payload}.", B64.encode(r#"{"alg":"none","kid":"bj-1"}"#));
        let hs = sign(
            &EncodingKey::from_secret(x.as_bytes()),
            Algorithm::HS256,
            "bj-1",
            claims(ISS, exp),
        );
        for bad in [
            sign(&other, Algorithm::EdDSA, "bj-1", claims(ISS, exp)),
            sign(&key, Algorithm::EdDSA, "bj-2", claims(ISS, exp)),
            sign(&key, Algorithm::EdDSA, "bj-1", claims("https://elsewhere", exp)),
            good.replacen("BJHC:1:", "SHHC:1:", 1),
            none,
            hs,
        ] {
            assert_eq!(list(&x).verify(&bad, NOW), Err(CodeError::Invalid), "{bad}");
        }
    }

    #[test]
    fn private_keys_unknown_types_and_overlapping_prefixes_are_refused() {
        let (_, x) = ed_key(1);
        let private = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "d": x, "kid": "k"}]}).to_string();
        let rsa = json!({"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "k"}]}).to_string();
        let no_kid = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x}]}).to_string();
        for jwks in [private, rsa, no_kid, "[]".into(), "{\"keys\": []}".into()] {
            assert!(TrustedIssuer::new(ISS, "BJHC:1:", &jwks).is_err(), "{jwks}");
        }
        for prefix in ["HBHC:1:", "HBHC:", "HB", "bjhc:1:", "BJHC:1"] {
            assert!(check_prefix(prefix).is_err(), "{prefix}");
        }
    }
}

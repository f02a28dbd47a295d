//! A partner province, as the tests play it: a second issuer with its own
//! Ed25519 and ES256 (P-256) keys and its own QR prefix, signing codes the
//! way its own code service would, with the real JWT library.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use shared::store::Store;
use shared::store::trust::IssuerRecord;
use time::OffsetDateTime;

pub const ISSUER: &str = "https://hc.beijing.test";
pub const PREFIX: &str = "BJHC:1:";
pub const ED_KID: &str = "bj-ed-1";
pub const ES_KID: &str = "bj-es-1";

pub struct Province {
    pub issuer: String,
    pub prefix: String,
    ed: EncodingKey,
    es: EncodingKey,
    /// The public Ed25519 key, base64url (what the JWK Set publishes as `x`).
    pub ed_x: String,
    pub jwks: Value,
}

impl Default for Province {
    fn default() -> Self {
        Self::new(ISSUER, PREFIX, 31)
    }
}

impl Province {
    /// A province with fresh P-256 keys and the Ed25519 key of `seed`.
    pub fn new(issuer: &str, prefix: &str, seed: u8) -> Self {
        let ed_key = SigningKey::from_bytes(&[seed; 32]);
        let ed_x = B64.encode(ed_key.verifying_key().as_bytes());
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new()).expect("a P-256 key");
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).expect("its own key");
        let point = pair.public_key().as_ref();
        let (x, y) = (B64.encode(&point[1..33]), B64.encode(&point[33..65]));
        let jwks = json!({"keys": [
            {"kty": "OKP", "crv": "Ed25519", "x": ed_x, "kid": ED_KID, "alg": "EdDSA", "use": "sig"},
            {"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": ES_KID, "alg": "ES256", "use": "sig"},
        ]});
        Self {
            issuer: issuer.to_owned(),
            prefix: prefix.to_owned(),
            ed: EncodingKey::from_ed_der(ed_key.to_pkcs8_der().expect("PKCS#8").as_bytes()),
            es: EncodingKey::from_ec_der(pkcs8.as_ref()),
            ed_x,
            jwks,
        }
    }

    /// The claims of a person's code showing `col`, issued a minute before `now`, valid 5 minutes.
    pub fn claims(&self, col: &str, now: OffsetDateTime) -> Value {
        json!({"iss": self.issuer, "sub": "bj-0001", "col": col,
            "iat": now.unix_timestamp() - 60, "exp": now.unix_timestamp() + 240})
    }

    /// A code signed with its Ed25519 key.
    pub fn eddsa(&self, claims: &Value) -> String {
        self.eddsa_as(ED_KID, claims)
    }

    /// A code signed with its P-256 key.
    pub fn es256(&self, claims: &Value) -> String {
        self.es256_as(ES_KID, claims)
    }

    /// Signed with its Ed25519 key, under any `kid`.
    pub fn eddsa_as(&self, kid: &str, claims: &Value) -> String {
        self.sign(Algorithm::EdDSA, kid, claims, &self.ed)
    }

    /// Signed with its P-256 key, under any `kid`.
    pub fn es256_as(&self, kid: &str, claims: &Value) -> String {
        self.sign(Algorithm::ES256, kid, claims, &self.es)
    }

    /// A code under any header and key, for the forgeries.
    pub fn sign(&self, alg: Algorithm, kid: &str, claims: &Value, key: &EncodingKey) -> String {
        let mut header = Header::new(alg);
        header.kid = Some(kid.to_owned());
        format!(
            "{}{}",
            self.prefix,
            jsonwebtoken::encode(&header, claims, key).expect("signing")
        )
    }

    /// Puts the province on the trust list, as `hcctl trust add` does.
    pub async fn trust(&self, store: &Store) {
        let record = IssuerRecord {
            prefix: self.prefix.clone(),
            jwks: self.jwks.to_string(),
            added_at: "2026-11-26T00:00:00Z".into(),
        };
        store
            .change_trusted_issuers(|issuers| {
                issuers.insert(self.issuer.clone(), record.clone());
                Ok(())
            })
            .await
            .expect("the store")
            .expect("a trusted issuer");
    }

    pub async fn distrust(&self, store: &Store) {
        store
            .change_trusted_issuers(|issuers| {
                issuers.remove(&self.issuer);
                Ok(())
            })
            .await
            .expect("the store")
            .expect("removed");
    }
}

/// Adds a partner system, as `hcctl partners add` does; returns its key.
pub async fn add_partner(store: &Store, name: &str) -> String {
    let key = shared::service::partners::new_key();
    let record = shared::store::trust::PartnerRecord {
        key_hash: shared::service::partners::key_hash(&key),
        added_at: "2026-11-26T00:00:00Z".into(),
        revoked_at: None,
    };
    store
        .change_partners(|list| {
            list.insert(name.to_owned(), record.clone());
            Ok(())
        })
        .await
        .expect("the store")
        .expect("added");
    key
}

pub async fn revoke_partner(store: &Store, name: &str) {
    store
        .change_partners(|list| {
            if let Some(p) = list.get_mut(name) {
                p.revoked_at = Some("2026-11-26T01:00:00Z".into());
            }
            Ok(())
        })
        .await
        .expect("the store")
        .expect("revoked");
}

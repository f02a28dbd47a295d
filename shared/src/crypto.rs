//! Personal data at rest: keyed hashes for lookup and uniqueness, AES-256-GCM
//! ciphertext for everything that must be read back, and random identifiers.
//!
//! Keys come from configuration (see `config`). A ciphertext names the key
//! that sealed it, so the encryption key can be rotated: new data is sealed
//! with the current key while the previous one still opens old data.

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use aws_lc_rs::{digest, hmac};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum CryptoError {
    #[error("ciphertext is malformed")]
    Malformed,
    #[error("ciphertext was sealed with an unknown key")]
    UnknownKey,
    #[error("ciphertext does not authenticate")]
    Forged,
    #[error("the system random number generator failed")]
    Random,
}

struct SealingKey {
    id: String,
    key: RandomizedNonceKey,
}

impl SealingKey {
    fn new(bytes: &[u8]) -> Self {
        // The key id is a digest prefix: enough to pick the key, useless to
        // an attacker.
        let id = hex(&digest::digest(&digest::SHA256, bytes).as_ref()[..4]);
        let key = RandomizedNonceKey::new(&AES_256_GCM, bytes).expect("a 32-byte AES-256 key");
        Self { id, key }
    }
}

/// The lookup hash of ID numbers alone, without the keys that seal and open
/// personal data: for a function that finds people by number but never opens
/// an identity (the scan function's ID-card scans).
pub struct IdHasher {
    lookup: hmac::Key,
}

impl IdHasher {
    pub fn new(hash_key: &[u8]) -> Self {
        Self {
            lookup: hmac::Key::new(hmac::HMAC_SHA256, hash_key),
        }
    }

    /// From `HC_PII_HASH_KEY` (at least 32 bytes, base64).
    pub fn from_env() -> Result<Self, crate::config::ConfigError> {
        Ok(Self::new(&crate::config::key("HC_PII_HASH_KEY", 32)?))
    }

    /// The same hash as [`PiiKeys::id_hash`].
    pub fn id_hash(&self, canonical_id: &str) -> String {
        let tag = hmac::sign(&self.lookup, format!("id\0{canonical_id}").as_bytes());
        B64.encode(tag.as_ref())
    }
}

/// The keys that protect personal data.
pub struct PiiKeys {
    lookup: hmac::Key,
    current: SealingKey,
    previous: Option<SealingKey>,
}

impl PiiKeys {
    /// `hash_key` keys the lookup hashes; `enc_key` (32 bytes) seals data;
    /// `previous_enc_key` still opens data sealed before a rotation.
    pub fn new(hash_key: &[u8], enc_key: &[u8; 32], previous_enc_key: Option<&[u8; 32]>) -> Self {
        Self {
            lookup: hmac::Key::new(hmac::HMAC_SHA256, hash_key),
            current: SealingKey::new(enc_key),
            previous: previous_enc_key.map(|k| SealingKey::new(k)),
        }
    }

    /// From `HC_PII_HASH_KEY` (at least 32 bytes), `HC_PII_ENC_KEY` (32 bytes)
    /// and, during a rotation, `HC_PII_ENC_KEY_PREVIOUS`; all base64.
    pub fn from_env() -> Result<Self, crate::config::ConfigError> {
        let hash = crate::config::key("HC_PII_HASH_KEY", 32)?;
        let enc = crate::config::key32("HC_PII_ENC_KEY")?;
        let previous = crate::config::optional_key32("HC_PII_ENC_KEY_PREVIOUS")?;
        Ok(Self::new(&hash, &enc, previous.as_ref()))
    }

    /// The keyed hash of an ID number in its canonical form (`IdNumber::as_str`):
    /// the only form in which the number is ever compared or used as a key.
    pub fn id_hash(&self, canonical_id: &str) -> String {
        self.keyed("id", canonical_id)
    }

    /// A stable account identifier for an identity-provider subject (a
    /// WeChat openid): the same login always maps to the same account, and
    /// the identifier reveals nothing of the openid.
    pub fn account_id(&self, provider: &str, provider_subject: &str) -> String {
        let tag = hmac::sign(
            &self.lookup,
            format!("account\0{provider}\0{provider_subject}").as_bytes(),
        );
        format!("u_{}", base32(&tag.as_ref()[..16]))
    }

    fn keyed(&self, purpose: &str, value: &str) -> String {
        let tag = hmac::sign(&self.lookup, format!("{purpose}\0{value}").as_bytes());
        B64.encode(tag.as_ref())
    }

    /// Seals `plaintext`, bound by `context` (the record and field it belongs
    /// to) so that a ciphertext cannot be moved to another record.
    pub fn seal(&self, plaintext: &str, context: &str) -> Result<String, CryptoError> {
        let mut buf = plaintext.as_bytes().to_vec();
        let nonce = self
            .current
            .key
            .seal_in_place_append_tag(Aad::from(context.as_bytes()), &mut buf)
            .map_err(|_| CryptoError::Random)?;
        let mut out = nonce.as_ref().to_vec();
        out.extend_from_slice(&buf);
        Ok(format!("{}.{}", self.current.id, B64.encode(out)))
    }

    pub fn open(&self, sealed: &str, context: &str) -> Result<String, CryptoError> {
        let (id, body) = sealed.split_once('.').ok_or(CryptoError::Malformed)?;
        let key = [Some(&self.current), self.previous.as_ref()]
            .into_iter()
            .flatten()
            .find(|k| k.id == id)
            .ok_or(CryptoError::UnknownKey)?;
        let raw = B64.decode(body).map_err(|_| CryptoError::Malformed)?;
        if raw.len() < NONCE_LEN {
            return Err(CryptoError::Malformed);
        }
        let (nonce, ciphertext) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::Malformed)?;
        let mut buf = ciphertext.to_vec();
        let plain = key
            .key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buf)
            .map_err(|_| CryptoError::Forged)?;
        String::from_utf8(plain.to_vec()).map_err(|_| CryptoError::Malformed)
    }
}

/// A fresh random identifier: `prefix` + 128 random bits in base32, such as
/// `s_3lq4…`. Identifiers carry no meaning and are not derived from personal data.
pub fn random_id(prefix: &str) -> String {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system random number generator");
    format!("{prefix}{}", base32(&bytes))
}

/// Whether `id` has the shape of an id `random_id(prefix)` makes: the prefix and 26 base32
/// characters (lower case).
pub fn is_random_id(id: &str, prefix: &str) -> bool {
    id.len() == prefix.len() + 26
        && id.starts_with(prefix)
        && id[prefix.len()..]
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
}

/// Fills `bytes` from the system's random number generator.
pub fn fill_random(bytes: &mut [u8]) {
    aws_lc_rs::rand::fill(bytes).expect("the system random number generator");
}

/// A uniformly random `u32`, for jitter.
pub fn random_u32() -> u32 {
    let mut bytes = [0u8; 4];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system random number generator");
    u32::from_le_bytes(bytes)
}

/// The id of what a request with an idempotency key creates: derived from
/// what it is (`purpose`), the caller and the key, so that a retry of the
/// request names the same thing and finds what the first attempt wrote.
pub fn keyed_id(prefix: &str, purpose: &str, account: &str, key: &str) -> String {
    let digest = sha256(format!("{purpose}\0{account}\0{key}").as_bytes());
    format!("{prefix}{}", base32(&digest[..16]))
}

/// Lower-case RFC 4648 base32 without padding: short, case-insensitive and
/// URL-safe identifiers.
pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// HMAC-SHA256 of `data`, for tokens the server alone signs and checks.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data);
    tag.as_ref().try_into().expect("SHA-256 output is 32 bytes")
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    digest::digest(&digest::SHA256, data)
        .as_ref()
        .try_into()
        .expect("SHA-256 output is 32 bytes")
}

/// Compares two byte strings in time independent of where they differ.
/// Through `subtle`, whose optimisation barrier keeps the compiler from
/// turning a hand-written fold into an early-exit loop at opt-level 3.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> PiiKeys {
        PiiKeys::new(&[7u8; 32], &[1u8; 32], None)
    }

    #[test]
    fn the_id_hasher_hashes_as_the_pii_keys_do() {
        let number = "11010519491231002X";
        assert_eq!(IdHasher::new(&[7u8; 32]).id_hash(number), keys().id_hash(number));
        assert_ne!(IdHasher::new(&[8u8; 32]).id_hash(number), keys().id_hash(number));
    }

    #[test]
    fn sealed_data_opens_only_in_its_own_context() {
        let keys = keys();
        let sealed = keys.seal("张三丰", "s_1/name").unwrap();
        assert!(!sealed.contains("张三丰"));
        assert_eq!(keys.open(&sealed, "s_1/name").unwrap(), "张三丰");
        assert!(matches!(keys.open(&sealed, "s_2/name"), Err(CryptoError::Forged)));
    }

    #[test]
    fn sealing_twice_gives_different_ciphertexts() {
        let keys = keys();
        assert_ne!(keys.seal("x", "c").unwrap(), keys.seal("x", "c").unwrap());
    }

    #[test]
    fn a_flipped_byte_does_not_open() {
        let keys = keys();
        let sealed = keys.seal("13812345678", "c").unwrap();
        let (id, body) = sealed.split_once('.').unwrap();
        let mut raw = B64.decode(body).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        let tampered = format!("{id}.{}", B64.encode(raw));
        assert!(matches!(keys.open(&tampered, "c"), Err(CryptoError::Forged)));
        assert!(matches!(keys.open("nonsense", "c"), Err(CryptoError::Malformed)));
    }

    #[test]
    fn the_previous_key_still_opens_after_a_rotation() {
        let old = keys();
        let sealed = old.seal("张三", "c").unwrap();
        let rotated = PiiKeys::new(&[7u8; 32], &[2u8; 32], Some(&[1u8; 32]));
        assert_eq!(rotated.open(&sealed, "c").unwrap(), "张三");
        let fresh = rotated.seal("张三", "c").unwrap();
        assert!(matches!(old.open(&fresh, "c"), Err(CryptoError::UnknownKey)));
    }

    #[test]
    fn id_hashes_depend_on_the_key_and_hide_the_number() {
        let id = "11010519491231002X";
        assert_eq!(keys().id_hash(id), keys().id_hash(id));
        let other = PiiKeys::new(&[8u8; 32], &[1u8; 32], None);
        assert_ne!(keys().id_hash(id), other.id_hash(id));
        assert!(!keys().id_hash(id).contains("110105"));
    }

    #[test]
    fn account_ids_are_stable_per_login_and_distinct_across_logins() {
        let keys = keys();
        assert_eq!(keys.account_id("wechat", "o1"), keys.account_id("wechat", "o1"));
        assert_ne!(keys.account_id("wechat", "o1"), keys.account_id("wechat", "o2"));
        assert_ne!(keys.account_id("wechat", "o1"), keys.account_id("dev", "o1"));
        assert_eq!(keys.account_id("wechat", "o1").len(), 2 + 26);
    }

    #[test]
    fn base32_matches_rfc_4648_vectors() {
        assert_eq!(base32(b""), "");
        assert_eq!(base32(b"f"), "my");
        assert_eq!(base32(b"fo"), "mzxq");
        assert_eq!(base32(b"foo"), "mzxw6");
        assert_eq!(base32(b"foob"), "mzxw6yq");
        assert_eq!(base32(b"fooba"), "mzxw6ytb");
        assert_eq!(base32(b"foobar"), "mzxw6ytboi");
    }

    #[test]
    fn random_ids_differ() {
        let a = random_id("s_");
        assert!(a.starts_with("s_") && a.len() == 28);
        assert_ne!(a, random_id("s_"));
    }
}

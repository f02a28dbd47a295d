//! Partner systems that verify our codes (`POST /v1/verify`): their API
//! keys, and who a presented key belongs to.
//!
//! A key is 256 random bits, printed once by `hcctl partners add`; the
//! store keeps only its SHA-256, which is enough for a key of that
//! strength (no password stretching needed), and a leaked table gives no
//! key. A presented key's hash is compared with every partner's in constant
//! time, so the comparison reveals nothing of how close a guess came.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

use crate::crypto::{base32, constant_time_eq, sha256};

/// The start of every partner key, so a leaked one is recognisable in a scan for secrets.
pub const KEY_PREFIX: &str = "hcpk_";
/// Calls a partner may make a second.
pub const PER_SECOND: u32 = 50;

/// A fresh API key: [`KEY_PREFIX`] and 256 random bits in base32.
pub fn new_key() -> String {
    let mut bytes = [0u8; 32];
    crate::crypto::fill_random(&mut bytes);
    format!("{KEY_PREFIX}{}", base32(&bytes))
}

/// What the store keeps of a key.
pub fn key_hash(key: &str) -> String {
    B64.encode(sha256(format!("hc-partner-key\0{key}").as_bytes()))
}

/// Whether a partner name fits: 2 to 40 of `a-z 0-9 -`, starting with a
/// letter (names are logged with every call, so they hold no personal data).
pub fn is_partner_name(name: &str) -> bool {
    (2..=40).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The name of the partner whose key was presented, among `partners`
/// ((name, key hash), revoked ones left out). Every hash is compared.
pub fn authenticate<'a>(partners: &'a [(String, String)], presented: &str) -> Option<&'a str> {
    if !presented.starts_with(KEY_PREFIX) || presented.len() > 100 {
        return None;
    }
    let hash = key_hash(presented);
    let mut found = None;
    for (name, stored) in partners {
        if constant_time_eq(stored.as_bytes(), hash.as_bytes()) {
            found = Some(name.as_str());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_authenticates_its_partner_only() {
        let (a, b) = (new_key(), new_key());
        assert_ne!(a, b);
        assert!(a.starts_with(KEY_PREFIX) && a.len() == KEY_PREFIX.len() + 52);
        let partners = vec![
            ("beijing".to_owned(), key_hash(&a)),
            ("tianjin".to_owned(), key_hash(&b)),
        ];
        assert_eq!(authenticate(&partners, &a), Some("beijing"));
        assert_eq!(authenticate(&partners, &b), Some("tianjin"));
        assert_eq!(authenticate(&partners, &new_key()), None);
        assert_eq!(authenticate(&partners, &key_hash(&a)), None);
        assert_eq!(authenticate(&partners, ""), None);
    }

    #[test]
    fn partner_names_are_plain_slugs() {
        assert!(is_partner_name("beijing-hc"));
        for bad in ["", "b", "Beijing", "1bj", "bj hc", "张三", &"a".repeat(41)] {
            assert!(!is_partner_name(bad), "{bad}");
        }
    }
}

//! Typed configuration, read once at cold start from the environment.
//!
//! A missing or malformed setting fails the cold start with a message that
//! names the variable and never prints its value (values are often secrets).

use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use thiserror::Error;

#[derive(Debug, Error)]
#[error("configuration: {var} {problem}")]
pub struct ConfigError {
    pub var: String,
    pub problem: String,
}

impl ConfigError {
    pub fn new(var: &str, problem: impl Into<String>) -> Self {
        Self {
            var: var.to_owned(),
            problem: problem.into(),
        }
    }
}

/// A required setting.
pub fn required(var: &str) -> Result<String, ConfigError> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Ok(v),
        Ok(_) => Err(ConfigError::new(var, "is empty")),
        Err(_) => Err(ConfigError::new(var, "is not set")),
    }
}

/// An optional setting; empty counts as unset.
pub fn optional(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.trim().is_empty())
}

/// A setting with a default, parsed into `T`.
pub fn parse_or<T: FromStr>(var: &str, default: T) -> Result<T, ConfigError> {
    match optional(var) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| ConfigError::new(var, "is not a valid value")),
    }
}

/// A required key given in base64 (standard or URL-safe, padded or not), of
/// at least `min_len` bytes.
pub fn key(var: &str, min_len: usize) -> Result<Vec<u8>, ConfigError> {
    decode_key(var, &required(var)?, min_len)
}

/// An optional key, as [`key`].
pub fn optional_key(var: &str, min_len: usize) -> Result<Option<Vec<u8>>, ConfigError> {
    optional(var).map(|v| decode_key(var, &v, min_len)).transpose()
}

/// A key of exactly 32 bytes.
pub fn key32(var: &str) -> Result<[u8; 32], ConfigError> {
    to32(var, key(var, 32)?)
}

pub fn optional_key32(var: &str) -> Result<Option<[u8; 32]>, ConfigError> {
    optional_key(var, 32)?.map(|k| to32(var, k)).transpose()
}

fn to32(var: &str, bytes: Vec<u8>) -> Result<[u8; 32], ConfigError> {
    bytes
        .try_into()
        .map_err(|_| ConfigError::new(var, "must decode to exactly 32 bytes"))
}

fn decode_key(var: &str, value: &str, min_len: usize) -> Result<Vec<u8>, ConfigError> {
    let v = value.trim();
    let bytes = STANDARD
        .decode(v)
        .or_else(|_| URL_SAFE_NO_PAD.decode(v.trim_end_matches('=')))
        .map_err(|_| ConfigError::new(var, "is not base64"))?;
    if bytes.len() < min_len {
        return Err(ConfigError::new(
            var,
            format!("must decode to at least {min_len} bytes"),
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_decode_from_both_base64_alphabets() {
        let bytes: Vec<u8> = (0..32u8).map(|i| i.wrapping_mul(37).wrapping_add(250)).collect();
        let std = STANDARD.encode(&bytes);
        let url = URL_SAFE_NO_PAD.encode(&bytes);
        assert_eq!(decode_key("K", &std, 32).unwrap(), bytes);
        assert_eq!(decode_key("K", &url, 32).unwrap(), bytes);
    }

    #[test]
    fn errors_name_the_variable_but_not_the_value() {
        let err = decode_key("HC_SECRET", "c2hvcnQ=", 32).unwrap_err().to_string();
        assert!(err.contains("HC_SECRET") && err.contains("32"));
        assert!(!err.contains("c2hvcnQ"));
    }
}

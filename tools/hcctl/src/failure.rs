//! How a command fails: one line for the operator, naming what to do.

use shared::config::ConfigError;
use shared::store::StoreError;

/// A failure of the command itself (not a refused row of an import).
#[derive(Debug)]
pub struct Failure(String);

impl Failure {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Failure {}

impl From<StoreError> for Failure {
    fn from(err: StoreError) -> Self {
        Failure(match err {
            StoreError::Unavailable(reason) => format!(
                "cannot reach DynamoDB ({reason}); check AWS_ENDPOINT_URL_DYNAMODB, the region and credentials, or start the local stack with `make dev`"
            ),
            StoreError::Rejected(code) if code == "ResourceNotFoundException" => {
                "the tables do not exist: run `hcctl tables create` (local) or deploy template.yaml, and check --prefix"
                    .into()
            }
            other => other.to_string(),
        })
    }
}

impl From<crate::streams::DrainError> for Failure {
    fn from(err: crate::streams::DrainError) -> Self {
        match err {
            crate::streams::DrainError::Store(err) => err.into(),
            crate::streams::DrainError::Streams(StoreError::Unavailable(reason)) => Failure(format!(
                "cannot reach DynamoDB Streams ({reason}); check AWS_ENDPOINT_URL_DYNAMODB_STREAMS (or AWS_ENDPOINT_URL_DYNAMODB for a local emulator), the region and credentials"
            )),
            other => Failure(other.to_string()),
        }
    }
}

/// The personal-data keys are missing or malformed. The message names the
/// variable, never its value.
pub fn pii_keys(err: ConfigError) -> Failure {
    Failure(format!(
        "{} {}: this command needs the deployment's HC_PII_HASH_KEY and HC_PII_ENC_KEY (base64), the keys the functions hash and seal personal data with",
        err.var, err.problem
    ))
}

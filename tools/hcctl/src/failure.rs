//! How a command fails: one line for the operator, naming what to do.

use shared::config::ConfigError;
use shared::store::StoreError;

/// Exit status of a failure of the work itself (the store, a file, the
/// keys, an import with refused rows).
pub const EXIT_FAILURE: u8 = 1;
/// Exit status of a usage error: the command line itself is wrong (clap's
/// own errors, and the argument checks clap cannot express).
pub const EXIT_USAGE: u8 = 2;

/// A failure of a command: a message for the operator and an exit status.
#[derive(Debug)]
pub struct Failure {
    message: String,
    usage: bool,
}

impl Failure {
    /// The work failed: exit status 1.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            usage: false,
        }
    }

    /// The arguments are wrong, before any work: exit status 2.
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            usage: true,
        }
    }

    pub fn exit_code(&self) -> u8 {
        if self.usage { EXIT_USAGE } else { EXIT_FAILURE }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

impl From<StoreError> for Failure {
    fn from(err: StoreError) -> Self {
        Failure::new(match err {
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
            crate::streams::DrainError::Streams(StoreError::Unavailable(reason)) => Failure::new(format!(
                "cannot reach DynamoDB Streams ({reason}); check AWS_ENDPOINT_URL_DYNAMODB_STREAMS (or AWS_ENDPOINT_URL_DYNAMODB for a local emulator), the region and credentials"
            )),
            other => Failure::new(other.to_string()),
        }
    }
}

/// The personal-data keys are missing or malformed. The message names the
/// variable, never its value.
pub fn pii_keys(err: ConfigError) -> Failure {
    Failure::new(format!(
        "{} {}: this command needs the deployment's HC_PII_HASH_KEY and HC_PII_ENC_KEY (base64), the keys the functions hash and seal personal data with",
        err.var, err.problem
    ))
}

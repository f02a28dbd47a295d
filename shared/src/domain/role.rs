//! The roles an account may hold beyond a citizen's.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The health authority: risk data, verification, traces, rankings.
    Authority,
    /// A checkpoint officer: checks a person without a phone by their ID
    /// number (`POST /v1/scans` with `id_number`).
    Inspector,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Authority => "authority",
            Role::Inspector => "inspector",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "authority" => Some(Role::Authority),
            "inspector" => Some(Role::Inspector),
            _ => None,
        }
    }
}

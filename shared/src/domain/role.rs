//! The roles an account may hold beyond a citizen's.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The health authority: risk data, verification, traces, rankings.
    Authority,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Authority => "authority",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "authority" => Some(Role::Authority),
            _ => None,
        }
    }
}

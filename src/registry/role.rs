//! Who a caller is to the desk (DESIGN §8.1), and how the desk keeps secrets it hands out:
//! shared by role tokens, persons, sessions and person tokens.

use serde::Serialize;
use sha2::{Digest, Sha256};

/// The roles a token carries (DESIGN §8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Contact,
    Staff,
    Auditor,
    /// A person who acts for TLDs (issue 14); which TLDs, and with what authority, each TLD's
    /// authority policy says. Never a role token's role.
    Manager,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Contact => "contact",
            Role::Staff => "staff",
            Role::Auditor => "auditor",
            Role::Manager => "manager",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "contact" => Some(Role::Contact),
            "staff" => Some(Role::Staff),
            "auditor" => Some(Role::Auditor),
            "manager" => Some(Role::Manager),
            _ => None,
        }
    }
}

/// The hex SHA-256 under which a secret is stored.
pub fn token_hash(secret: &str) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(secret.as_bytes()))
}

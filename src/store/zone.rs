//! Root zone publications and their versioned delegation data.

use crate::registry::ZoneDiff;

/// One root zone publication.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Publication {
    pub serial: u32,
    pub published_at: String,
    pub source: String,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum ImportOutcome {
    Unchanged { serial: u32 },
    Published { serial: u32, diff: ZoneDiff },
}

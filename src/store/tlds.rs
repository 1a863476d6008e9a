//! TLD records and contacts.

/// What an import of TLD records changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TldImportReport {
    pub added: Vec<String>,
    pub updated: Vec<String>,
    pub unchanged: usize,
}

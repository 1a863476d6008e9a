//! Root zone master files in and out (RFC 1035 syntax) through hickory's parser and encoder.

use std::path::PathBuf;

/// A zone file that cannot be imported: the file, the line and why.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {reason}")]
pub struct ZoneFileError {
    pub file: PathBuf,
    pub line: usize,
    pub reason: String,
}

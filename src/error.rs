//! The errors a command can end with, and their exit codes. Library modules keep typed errors
//! of their own; this is where they meet the process edge.

use std::path::PathBuf;

use crate::config::ConfigError;
use crate::registry::Invalid;
use crate::store::StoreError;
use crate::zonefile::ZoneFileError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line itself was wrong (exit status 2).
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
    #[error(transparent)]
    ZoneFile(#[from] ZoneFileError),
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Any other failure, already phrased for the user.
    #[error("{0}")]
    Failed(String),
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A failure from any error whose message is already clear to the user.
    pub fn failed(e: impl std::fmt::Display) -> Self {
        Error::Failed(e.to_string())
    }

    /// 2 for usage errors (as clap uses), 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) | Error::Invalid(_) => 2,
            _ => 1,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

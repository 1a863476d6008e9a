//! The registry model: what the root zone and the Root Zone Database hold for each TLD.
//!
//! Everything that enters rootdesk from a user, a file or the network becomes one of these
//! validated types first, so that the rest of the crate never handles an unchecked name,
//! address or DS record. No I/O lives here.

mod delegation;
mod ds;
mod names;
mod tld;
mod zone;

pub use delegation::{Delegation, DelegationDiff, NameServer};
pub use ds::DsRecord;
pub use names::{HostName, TldLabel};
pub use tld::{parse_tld_lines, Contact, ContactRole, LineError, TldRecord, TldStatus, TldType};
pub use zone::{Apex, HostAddress, RootZone, Soa, TldDelegation, ZoneDiff};

/// A value that failed validation: what it was meant to be, the value, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {value:?}: {reason}")]
pub struct Invalid {
    pub what: &'static str,
    pub value: String,
    pub reason: String,
}

impl Invalid {
    pub(crate) fn new(
        what: &'static str,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Invalid {
            what,
            value: value.into(),
            reason: reason.into(),
        }
    }
}

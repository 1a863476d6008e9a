//! The audit trail: every fact the desk records is an event in one append-only, hash-chained
//! log, and the desk signs checkpoints of it, so that an auditor can prove from an export alone,
//! without trusting the database, that the log is complete and unaltered (DESIGN §6).
//!
//! This module holds the rules, not the storage: canonical JSON ([`canonical`]), the hash
//! chain ([`chain`]), the signing key and checkpoints ([`checkpoint`]), the export formats
//! ([`export`]) and the verifier ([`verify`]). Events are appended by
//! [`crate::store::append_event`] in the same transaction as the state change they describe.
//! Secrets never enter an event (STYLE practice 2): payloads carry facts, not credentials.

pub mod canonical;
pub mod chain;
pub mod checkpoint;
pub mod export;
pub mod kinds;
pub mod verify;

use std::path::PathBuf;

use serde::Serialize;
use time::OffsetDateTime;

pub use canonical::CanonicalError;
pub use chain::{EventRecord, GENESIS_HASH};
pub use checkpoint::{Checkpoint, CheckpointOutcome};
pub use export::{verify_file, verify_log, write_log, EventLog, ExportFormat, ExportHeader};
pub use kinds::{Kind, Payload};
pub use verify::{Problem, ProblemKind, Report, Verifier};

/// What kind of party caused an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActorKind {
    /// A caller of the HTTP API, identified by its token id.
    Token,
    /// An operator running the `rootdesk` command on the desk's host.
    Cli,
    /// A component of the desk itself (the daemon, the sender, the checker, ...).
    System,
    /// A person with an account (issue 14), by person id; `role` is their system role and
    /// `contact` the credential they acted through (`session` or a person token's id).
    Person,
}

impl ActorKind {
    /// The stored and hashed name.
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::Token => "token",
            ActorKind::Cli => "cli",
            ActorKind::System => "system",
            ActorKind::Person => "person",
        }
    }

    /// The kind with this stored name.
    pub fn parse(text: &str) -> Option<ActorKind> {
        match text {
            "token" => Some(ActorKind::Token),
            "cli" => Some(ActorKind::Cli),
            "system" => Some(ActorKind::System),
            "person" => Some(ActorKind::Person),
            _ => None,
        }
    }
}

impl std::fmt::Display for ActorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who caused an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor {
    pub kind: ActorKind,
    /// Token id, OS user name or component name.
    pub id: String,
    /// The role the actor acted in (e.g. `staff`, `admin-contact`), if any.
    pub role: Option<String>,
    /// The contact handle or address the actor stands for, if any.
    pub contact: Option<String>,
}

impl Actor {
    /// The operator running this command: the OS user name (`USER`, `LOGNAME`, `USERNAME`),
    /// or `unknown`.
    pub fn cli() -> Actor {
        let id = ["USER", "LOGNAME", "USERNAME"]
            .iter()
            // A name with control or direction characters is no name to record (issue 10
            // item 9): the uid stands in for it.
            .find_map(|name| {
                std::env::var(name)
                    .ok()
                    .filter(|v| !v.is_empty() && !v.chars().any(crate::registry::is_forbidden_char))
            })
            .unwrap_or_else(process_user);
        Actor {
            kind: ActorKind::Cli,
            id,
            role: None,
            contact: None,
        }
    }

    /// A component of the desk, e.g. `Actor::system("sender")`.
    pub fn system(component: &str) -> Actor {
        Actor {
            kind: ActorKind::System,
            id: component.to_string(),
            role: None,
            contact: None,
        }
    }

    /// A person (issue 14): their id, their system role, and the credential they acted
    /// through (`session`, or a person token's id).
    pub fn person(id: &str, role: &str, via: &str) -> Actor {
        Actor {
            kind: ActorKind::Person,
            id: id.to_string(),
            role: Some(role.to_string()),
            contact: Some(via.to_string()),
        }
    }

    /// An API caller: its token id, the role it holds and the contact it speaks for.
    pub fn token(id: &str, role: Option<&str>, contact: Option<&str>) -> Actor {
        Actor {
            kind: ActorKind::Token,
            id: id.to_string(),
            role: role.map(str::to_string),
            contact: contact.map(str::to_string),
        }
    }
}

/// An event to append. Empty optional strings are recorded as absent.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// When it happened; recorded in UTC with microseconds (finer digits are dropped).
    pub time: OffsetDateTime,
    pub actor: Actor,
    /// The caller's network address, if it came over the network.
    pub source: Option<String>,
    /// The TLD (A-label) the event is about, if any.
    pub tld: Option<String>,
    /// The change request ticket the event is about, if any.
    pub request: Option<String>,
    /// What happened, kebab-case: `zone-imported`, `tld-records-imported`, ...
    pub kind: String,
    /// The facts, as JSON; must be representable in canonical JSON (integers only, no
    /// fractions) and must never hold a secret.
    pub payload: serde_json::Value,
}

impl NewEvent {
    /// An event happening now, about no TLD or request, of any kind: for the workflow's
    /// `request-*` events and for tests; the desk's other events use [`NewEvent::of`].
    pub fn new(actor: Actor, kind: &str, payload: serde_json::Value) -> NewEvent {
        NewEvent {
            time: OffsetDateTime::now_utc(),
            actor,
            source: None,
            tld: None,
            request: None,
            kind: kind.to_string(),
            payload,
        }
    }

    /// An event of a kind in the catalogue ([`kinds::Kind`]), happening now.
    pub fn of(actor: Actor, kind: Kind, payload: serde_json::Value) -> NewEvent {
        NewEvent::new(actor, kind.as_str(), payload)
    }

    /// An event with a typed payload ([`kinds::Payload`]), happening now.
    pub fn typed(actor: Actor, payload: &Payload) -> NewEvent {
        NewEvent::new(actor, payload.kind().as_str(), payload.to_json())
    }

    /// The same event, about `tld`.
    pub fn tld(mut self, tld: &str) -> NewEvent {
        self.tld = Some(tld.to_string());
        self
    }

    /// The same event, about change request `request`.
    pub fn request(mut self, request: &str) -> NewEvent {
        self.request = Some(request.to_string());
        self
    }

    /// The same event, coming from network address `source`.
    pub fn source(mut self, source: &str) -> NewEvent {
        self.source = Some(source.to_string());
        self
    }

    /// The same event, at `time`.
    pub fn at(mut self, time: OffsetDateTime) -> NewEvent {
        self.time = time;
        self
    }
}

/// A recorded event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Position in the log: 1, 2, 3, ... without gaps.
    pub seq: u64,
    #[serde(with = "crate::registry::time_format")]
    pub time: OffsetDateTime,
    pub actor: Actor,
    pub source: Option<String>,
    pub tld: Option<String>,
    pub request: Option<String>,
    pub kind: String,
    pub payload: serde_json::Value,
    /// The previous event's hash (hex); 64 zeros for event 1.
    pub prev_hash: String,
    /// `SHA-256(prev_hash || canonical bytes)`, hex.
    pub hash: String,
}

impl Event {
    /// The bytes this event's hash covers (after `prev_hash`); see [`chain`].
    pub fn canonical_bytes(&self) -> Result<Vec<u8>, CanonicalError> {
        let time = crate::registry::timestamp(self.time);
        let payload = canonical::to_canonical_string(&self.payload)?;
        let record = EventRecord {
            seq: self.seq,
            time: &time,
            actor_kind: self.actor.kind.as_str(),
            actor_id: &self.actor.id,
            actor_role: self.actor.role.as_deref(),
            actor_contact: self.actor.contact.as_deref(),
            source: self.source.as_deref(),
            tld: self.tld.as_deref(),
            request: self.request.as_deref(),
            kind: &self.kind,
            payload: &payload,
            prev_hash: &self.prev_hash,
            hash: &self.hash,
        };
        Ok(record.canonical_bytes())
    }
}

/// Which events to read. Every condition given must hold; results are in sequence order.
/// Page through a long result by setting `from_seq` to one past the last `seq` seen.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventQuery {
    /// Only events with `seq >= from_seq`.
    pub from_seq: Option<u64>,
    /// Only events with `seq <= to_seq`.
    pub to_seq: Option<u64>,
    /// Only events at or after this time.
    pub since: Option<OffsetDateTime>,
    /// Only events before this time.
    pub until: Option<OffsetDateTime>,
    pub tld: Option<String>,
    pub request: Option<String>,
    pub kind: Option<String>,
    /// Only events by this actor id (token id, user name or component).
    pub actor: Option<String>,
    /// At most this many events.
    pub limit: Option<u32>,
    /// Newest first instead of oldest first.
    pub newest_first: bool,
}

/// An event the log cannot record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("event kind is empty")]
    EmptyKind,
    #[error("payload of a {kind} event: {error}")]
    Payload { kind: String, error: CanonicalError },
}

/// Failures of the audit commands and functions.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The database failed; the store converts its own error (audit names no database type).
    #[error(transparent)]
    Database(Box<dyn std::error::Error + Send + Sync>),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("audit signing key {0} already exists; rootdesk never overwrites a signing key: move it away, or set audit.signing_key to another file")]
    KeyExists(PathBuf),
    #[error("no audit signing key at {0}: `rootdesk init` creates it; check audit.signing_key")]
    KeyMissing(PathBuf),
    #[error("audit signing key {path} may be read by others (mode {mode:o}): whoever reads it can sign checkpoints; restrict it with `chmod 600 {path}`, or, if its folder is private to the desk's user, start with --allow-readable-files (setting allow_readable_files = true)")]
    KeyReadable { path: PathBuf, mode: u32 },
    #[error("audit signing key {path}: {message}")]
    BadKey { path: PathBuf, message: String },
    #[error("public key: {0}")]
    BadPublicKey(String),
    #[error("export file {path}, line {line}: {message}")]
    Format {
        path: PathBuf,
        line: u64,
        message: String,
    },
}

impl AuditError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> AuditError {
        AuditError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Who runs this process when the environment names nobody (cron, containers, systemd units
/// without `User=`): the numeric user id, which the host's accounts resolve afterwards.
fn process_user() -> String {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let Ok(meta) = std::fs::metadata("/proc/self") {
            return format!("uid-{}", meta.uid());
        }
    }
    "unknown".to_string()
}

//! The audit log's database drivers: signing a checkpoint, exporting and verifying read the
//! events table here and hand plain records to audit's rules (`audit::export`,
//! `audit::checkpoint`), so that audit never imports the store.

use std::io::Write;
use std::path::Path;

use ed25519_dalek::{SigningKey, VerifyingKey};
use time::OffsetDateTime;

use super::{checkpoint_at, insert_checkpoint, last_event, Store, StoreError};
use crate::audit::export::{verify_log, write_log, EventLog};
use crate::audit::{
    AuditError, Checkpoint, CheckpointOutcome, EventRecord, ExportFormat, ExportHeader, Report,
};

impl From<StoreError> for AuditError {
    fn from(e: StoreError) -> AuditError {
        AuditError::Database(Box::new(e))
    }
}

impl EventLog for Store {
    fn span(&self, from: u64, to: Option<u64>) -> Result<Option<(u64, u64)>, AuditError> {
        Ok(self.event_range(from, to)?.map(|r| (r.last, r.count)))
    }

    fn checkpoints_from(&self, from: u64) -> Result<Vec<Checkpoint>, AuditError> {
        Ok(self.checkpoints(from, None)?)
    }

    fn scan(
        &self,
        from: u64,
        to: Option<u64>,
        f: &mut dyn FnMut(&EventRecord<'_>) -> Result<(), AuditError>,
    ) -> Result<(), AuditError> {
        self.scan_events(from, to, f)
    }
}

/// Signs a checkpoint of the latest event and stores it, unless that event already has one.
/// The daemon calls this on its timer; `rootdesk audit checkpoint` on demand.
pub fn sign_checkpoint(
    store: &mut Store,
    key: &SigningKey,
    now: OffsetDateTime,
) -> Result<CheckpointOutcome, AuditError> {
    Ok(store.write(|tx| {
        let Some((seq, hash)) = last_event(tx)? else {
            return Ok(CheckpointOutcome::NoEvents);
        };
        if let Some(existing) = checkpoint_at(tx, seq)? {
            return Ok(CheckpointOutcome::AlreadySigned(existing));
        }
        let checkpoint = Checkpoint::sign(key, seq, &hash, now);
        insert_checkpoint(tx, &checkpoint)?;
        Ok::<_, StoreError>(CheckpointOutcome::Signed(checkpoint))
    })?)
}

/// Writes events `from..=to` (all from `from` on when `to` is `None`) and their checkpoints
/// to `out`, from one consistent snapshot of the database. `name` names `out` in errors.
pub fn write_export(
    store: &Store,
    from: u64,
    to: Option<u64>,
    format: ExportFormat,
    out: &mut dyn Write,
    name: &Path,
) -> Result<ExportHeader, AuditError> {
    store.snapshot(|store| write_log(store, from, to, format, out, name))
}

/// Verifies the events and checkpoints stored in the database, from one snapshot.
pub fn verify_store(store: &Store, keys: &[VerifyingKey]) -> Result<Report, AuditError> {
    store.snapshot(|store| verify_log(store, keys))
}

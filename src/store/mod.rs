//! SQLite storage: the only module that speaks SQL.
//!
//! A database is created from `schema.sql` and carries its schema version in
//! `PRAGMA user_version`; older databases are upgraded by numbered migrations, newer ones are
//! refused. Every change runs in one transaction, so a refused import or request leaves the
//! database exactly as it was.

mod audit_log;
mod authority;
mod cds;
mod events;
mod history;
mod metrics;
mod outbox;
pub mod persons;
mod requests;
mod sweeps;
mod tlds;
mod tokens;
mod zone;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, Transaction};

pub use crate::audit::EventQuery;
pub use audit_log::{sign_checkpoint, verify_store, write_export};
pub use authority::{
    add_member_tx, authorised_tlds, authority_in_force, authority_of, pending_members,
    person_email, person_standing, set_authority_tx, tld_authority,
};
pub use cds::{
    cds_enabled, last_cds_report, set_tld_cds_tx, tld_cds, CDS_PROBLEM_EVENT, CDS_TABLES,
};
pub use events::{
    append_event, append_events, checkpoint_at, insert_checkpoint, last_event, EventRange,
};
pub use history::{TldDates, FINAL_STATES};
pub use metrics::{insert_finished_check, parse_delivery, TimelineInputs};
pub use outbox::{
    claim_notification, contact, contact_records, due_notifications, in_doubt_notifications,
    insert_link, link_by_hash, link_by_id, mark_delivered, mark_failed, mark_given_up,
    queue_notification, release_notification, retry_notifications, set_link_hash, tld_contact,
    tld_role_holder, tld_sponsor, unuse_link, use_link, ConfirmLink, NewNotification, Notification,
    GIVEN_UP,
};
pub use requests::{
    close_stale_check, contact_tlds, enqueue_check, finish_check, has_document, idempotent_ticket,
    next_ticket, open_requests, request_event, request_events, save_request, store_document,
    ticket_day, ticket_of, tld_contact_handles, CheckJob, RequestFilter, RequestSummary,
};
pub use sweeps::{
    last_sweep_verdicts_tx, record_sweep_tx, watch_states_tx, SweepResult, SweepSummary,
    WatchState, SWEEP_TABLES, WATCH_EVENT_KINDS,
};
pub use tlds::{set_contacts_tx, set_sponsor_tx, tld_record, TldImportReport};
pub use tokens::{issue_token_tx, revoke_token_tx, token_hash, Role, Token};
pub use zone::{
    current_delegation, host_glue, host_tlds, next_serial, publish_delegation_tx, ImportOutcome,
    Publication, PublishTtls, RecordChange, SerialDiff, TldChanges,
};

/// The whole schema of the newest version.
pub const SCHEMA: &str = include_str!("../../schema.sql");

/// Numbered upgrades: entry `i` takes a database from version `i + 1` to `i + 2`.
const MIGRATIONS: &[&str] = &[
    // 1 -> 2: each TLD keeps its own record of its contacts (issue 10 item 1).
    "ALTER TABLE tld_contacts ADD COLUMN organisation TEXT;
     ALTER TABLE tld_contacts ADD COLUMN name TEXT;
     ALTER TABLE tld_contacts ADD COLUMN email TEXT;
     ALTER TABLE tld_contacts ADD COLUMN phone TEXT;
     ALTER TABLE tld_contacts ADD COLUMN address TEXT;
     UPDATE tld_contacts SET
         organisation = (SELECT c.organisation FROM contacts c WHERE c.handle = tld_contacts.contact),
         name = (SELECT c.name FROM contacts c WHERE c.handle = tld_contacts.contact),
         email = (SELECT c.email FROM contacts c WHERE c.handle = tld_contacts.contact),
         phone = (SELECT c.phone FROM contacts c WHERE c.handle = tld_contacts.contact),
         address = (SELECT c.address FROM contacts c WHERE c.handle = tld_contacts.contact);",
    // 2 -> 3: each publication keeps the ZONEMD digest of its export (issue 11); `migrate`
    // fills it in for the publications made before.
    "ALTER TABLE publications ADD COLUMN zonemd BLOB;",
    // 3 -> 4: the sweep's history (issue 12).
    sweeps::SWEEP_TABLES,
    // 4 -> 5: each TLD's DS automation setting (issue 12 part 2).
    cds::CDS_TABLES,
    // 5 -> 6: indexes for paged request lists (issue 10's soak).
    requests::PAGING_INDEXES,
    // 6 -> 7: persons, sessions, person tokens, TLD authority and policies (issue 14).
    authority::PERSON_TABLES,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = 1 + MIGRATIONS.len() as u32;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no rootdesk database at {0}: create one with `rootdesk init`")]
    NotInitialised(PathBuf),
    #[error("{0} already holds a rootdesk database (schema version {1}); use `rootdesk migrate` to upgrade it")]
    AlreadyInitialised(PathBuf, u32),
    #[error("{path} has schema version {found}, newer than this rootdesk supports ({supported}); upgrade rootdesk")]
    TooNew {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("{path} has schema version {found}; this rootdesk needs {needed}: run `rootdesk migrate` first (after a `rootdesk backup`)")]
    NeedsMigration {
        path: PathBuf,
        found: u32,
        needed: u32,
    },
    #[error("{0} is not a rootdesk database (it has tables but no schema version)")]
    Foreign(PathBuf),
    #[error("{0}")]
    Conflict(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("corrupt data in the database: {0}")]
    Corrupt(String),
    #[error("database file {path} may be read by others (mode {mode:o}); it holds the desk's records: restrict it with `chmod 600 {path}` (and its -wal and -shm files), or, if its folder is private to the desk's user, start with --allow-readable-files (setting allow_readable_files = true)")]
    Readable { path: PathBuf, mode: u32 },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error(transparent)]
    Event(#[from] crate::audit::EventError),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// An open rootdesk database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// Creates `path` empty with mode 0600 unless it exists: SQLite gives the -wal and -shm files
/// the database file's mode, so all three stay private to the desk's user.
fn create_private(path: &Path) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map_err(|source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(())
}

/// The permission bits of a file that group or others hold, if any.
#[cfg(unix)]
fn others_bits(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then_some(mode)
}

/// Refuses a database file that group or others may read or write (the daemon starts only
/// on a private one unless told otherwise).
pub fn ensure_private(path: &Path) -> Result<()> {
    #[cfg(unix)]
    if let Some(mode) = others_bits(path) {
        return Err(StoreError::Readable {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

/// A private database keeps private -wal and -shm files, even ones left by an older
/// rootdesk that created them with the umask's mode.
#[cfg(unix)]
fn tighten_companions(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if others_bits(path).is_some() {
        return;
    }
    for suffix in ["-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let companion = PathBuf::from(name);
        if others_bits(&companion).is_some() {
            if let Err(e) =
                std::fs::set_permissions(&companion, std::fs::Permissions::from_mode(0o600))
            {
                tracing::warn!(file = %companion.display(), error = %e, "cannot make the file private");
            }
        }
    }
}

fn connect(path: &Path, create: bool) -> Result<Connection> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
        create_private(path)?;
    } else if !path.exists() {
        return Err(StoreError::NotInitialised(path.to_path_buf()));
    }
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    #[cfg(unix)]
    tighten_companions(path);
    Ok(conn)
}

fn version_of(conn: &Connection) -> Result<u32> {
    Ok(conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
}

fn table_count(conn: &Connection) -> Result<u32> {
    Ok(conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
        [],
        |r| r.get(0),
    )?)
}

impl Store {
    /// Creates a new database at `path` with the newest schema.
    pub fn create(path: &Path) -> Result<Store> {
        let mut conn = connect(path, true)?;
        let version = version_of(&conn)?;
        if version != 0 {
            return Err(StoreError::AlreadyInitialised(path.to_path_buf(), version));
        }
        if table_count(&conn)? != 0 {
            return Err(StoreError::Foreign(path.to_path_buf()));
        }
        let tx = conn.transaction()?;
        tx.execute_batch(SCHEMA)?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        tx.commit()?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// Opens an existing database of the current schema version.
    pub fn open(path: &Path) -> Result<Store> {
        let conn = connect(path, false)?;
        let found = version_of(&conn)?;
        check_version(path, &conn, found)?;
        if found < SCHEMA_VERSION {
            return Err(StoreError::NeedsMigration {
                path: path.to_path_buf(),
                found,
                needed: SCHEMA_VERSION,
            });
        }
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// Opens a database and upgrades it to the current version; returns the version it had.
    pub fn migrate(path: &Path) -> Result<(Store, u32)> {
        let mut conn = connect(path, false)?;
        let found = version_of(&conn)?;
        check_version(path, &conn, found)?;
        // SQLite's procedure for rebuilding a table (a changed CHECK): foreign keys off while
        // it runs, every reference checked before the commit.
        conn.pragma_update(None, "foreign_keys", false)?;
        let tx = conn.transaction()?;
        for (index, step) in MIGRATIONS.iter().enumerate().skip(found as usize - 1) {
            tx.execute_batch(step)?;
            tx.pragma_update(None, "user_version", index as u32 + 2)?;
        }
        zone::fill_missing_digests(&tx)?;
        if tx.prepare("PRAGMA foreign_key_check")?.exists([])? {
            return Err(StoreError::Corrupt(
                "the migration would leave a reference to a missing row; nothing was changed"
                    .into(),
            ));
        }
        tx.commit()?;
        conn.pragma_update(None, "foreign_keys", true)?;
        Ok((
            Store {
                conn,
                path: path.to_path_buf(),
            },
            found,
        ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn schema_version(&self) -> Result<u32> {
        version_of(&self.conn)
    }

    /// Runs `f` in one write transaction: all of it is committed, or none of it.
    pub fn write<T, E: From<StoreError>>(
        &mut self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(StoreError::from)?;
        let value = f(&tx)?;
        tx.commit().map_err(StoreError::from)?;
        Ok(value)
    }

    /// The connection, for reads.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Copies the database to `target` with SQLite's online backup, safe while others write.
    pub fn backup(&self, target: &Path) -> Result<()> {
        // A copy holds everything the database does: private from its first byte.
        create_private(target)?;
        let mut dest = Connection::open(target)?;
        let backup = rusqlite::backup::Backup::new(&self.conn, &mut dest)?;
        backup.run_to_completion(256, std::time::Duration::from_millis(0), None)?;
        Ok(())
    }
}

fn check_version(path: &Path, conn: &Connection, found: u32) -> Result<()> {
    if found == 0 {
        return Err(if table_count(conn)? == 0 {
            StoreError::NotInitialised(path.to_path_buf())
        } else {
            StoreError::Foreign(path.to_path_buf())
        });
    }
    if found > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(())
}

/// Times are kept in one form, defined with the model so that every module can use it.
pub use crate::registry::{time_format, timestamp};

/// Runs `f` inside a savepoint of `tx`: when it fails, its writes are undone and the
/// transaction goes on (so a refusal can be recorded in it).
pub fn savepoint<T, E: From<StoreError>>(
    tx: &Transaction<'_>,
    f: impl FnOnce(&Transaction<'_>) -> std::result::Result<T, E>,
) -> std::result::Result<T, E> {
    tx.execute_batch("SAVEPOINT command")
        .map_err(StoreError::from)?;
    match f(tx) {
        Ok(value) => {
            tx.execute_batch("RELEASE command")
                .map_err(StoreError::from)?;
            Ok(value)
        }
        Err(e) => {
            tx.execute_batch("ROLLBACK TO command; RELEASE command")
                .map_err(StoreError::from)?;
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_open_and_refuse_newer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.db");
        assert!(matches!(
            Store::open(&path),
            Err(StoreError::NotInitialised(_))
        ));
        let store = Store::create(&path).expect("create");
        assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
        let mode: String = store
            .conn()
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .expect("pragma");
        assert_eq!(mode, "wal");
        drop(store);
        assert!(matches!(
            Store::create(&path),
            Err(StoreError::AlreadyInitialised(..))
        ));
        Store::open(&path).expect("reopen");
        {
            let conn = Connection::open(&path).expect("raw");
            conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
                .expect("bump");
        }
        let err = Store::open(&path).err().expect("too new");
        assert!(
            err.to_string().contains("newer than this rootdesk"),
            "{err}"
        );
    }

    /// A version 1 database (contact details only in `contacts`) migrates to per-TLD records
    /// that hold each TLD's contact details as they were.
    #[test]
    fn migration_2_gives_each_tld_its_own_contact_records() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.db");
        drop(Store::create(&path).expect("create"));
        {
            let conn = Connection::open(&path).expect("raw");
            conn.execute_batch(
                "INSERT INTO tlds (label, type, status, recorded_at) VALUES \
                   ('xb', 'cctld', 'active', 'x'), ('xc', 'cctld', 'active', 'x');
                 INSERT INTO contacts (handle, name, email) VALUES ('ndo-noc', 'NDO', 'noc@ndo.example');
                 INSERT INTO tld_contacts (tld, role, contact) VALUES ('xb', 'tech', 'ndo-noc'), \
                   ('xc', 'tech', 'ndo-noc');
                 ALTER TABLE tld_contacts DROP COLUMN organisation;
                 ALTER TABLE tld_contacts DROP COLUMN name;
                 ALTER TABLE tld_contacts DROP COLUMN email;
                 ALTER TABLE tld_contacts DROP COLUMN phone;
                 ALTER TABLE tld_contacts DROP COLUMN address;
                 ALTER TABLE publications DROP COLUMN zonemd;
                 DROP TABLE sweep_results; DROP TABLE sweeps;
                 DROP TABLE tld_cds;
                 PRAGMA user_version = 1;",
            )
            .expect("make a version 1 database");
        }
        assert!(matches!(
            Store::open(&path),
            Err(StoreError::NeedsMigration { found: 1, .. })
        ));
        let (store, from) = Store::migrate(&path).expect("migrate");
        assert_eq!(
            (from, store.schema_version().expect("version")),
            (1, SCHEMA_VERSION)
        );
        for tld in ["xb", "xc"] {
            let record = tld_contact(store.conn(), tld, "ndo-noc")
                .expect("read")
                .expect("a record");
            assert_eq!(record.email.as_deref(), Some("noc@ndo.example"), "{tld}");
            assert_eq!(record.name.as_deref(), Some("NDO"), "{tld}");
        }
    }

    /// A version 4 database (no DS automation settings) migrates to version 5: every TLD is
    /// `off`, and the setting can then be stored.
    #[test]
    fn migration_5_adds_the_cds_setting_off_for_every_tld() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.db");
        drop(Store::create(&path).expect("create"));
        {
            let conn = Connection::open(&path).expect("raw");
            conn.execute_batch(
                "INSERT INTO tlds (label, type, status, recorded_at) VALUES ('xa', 'cctld', 'active', 'x');
                 DROP TABLE tld_cds;
                 PRAGMA user_version = 4;",
            )
            .expect("make a version 4 database");
        }
        assert!(matches!(
            Store::open(&path),
            Err(StoreError::NeedsMigration { found: 4, .. })
        ));
        let (mut store, from) = Store::migrate(&path).expect("migrate");
        assert_eq!(
            (from, store.schema_version().expect("version")),
            (4, SCHEMA_VERSION)
        );
        assert_eq!(
            tld_cds(store.conn(), "xa").expect("read"),
            crate::workflow::CdsMode::Off
        );
        let now = time::OffsetDateTime::now_utc();
        store
            .write(|tx| {
                set_tld_cds_tx(
                    tx,
                    "xa",
                    crate::workflow::CdsMode::NotifyOnly,
                    &crate::audit::Actor::system("test"),
                    now,
                )
            })
            .expect("set");
        assert_eq!(
            tld_cds(store.conn(), "xa").expect("read"),
            crate::workflow::CdsMode::NotifyOnly
        );
    }
}

//! Persons and authority (issue 14): the tables of schema version 7, and who is authorised
//! for which TLD. Accounts, sessions and person tokens are read and written in
//! [`super::persons`]; TLD authority and policies here.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use time::OffsetDateTime;

use super::{timestamp, Result, StoreError};
use crate::workflow::{Authority, Policy};

/// Schema version 7: persons with their second factor, invitations, recovery codes, login
/// sessions, person tokens; each TLD's authorised persons and its approval policy.
pub const PERSON_TABLES: &str = "
CREATE TABLE IF NOT EXISTS persons (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    email           TEXT NOT NULL UNIQUE,
    role            TEXT NOT NULL CHECK (role IN ('manager', 'staff', 'auditor')),
    status          TEXT NOT NULL CHECK (status IN ('invited', 'active', 'disabled')),
    password_hash   TEXT,
    totp_secret     TEXT,
    totp_last_step  INTEGER,
    factor_optional INTEGER NOT NULL DEFAULT 0 CHECK (factor_optional IN (0, 1)),
    created_at      TEXT NOT NULL,
    changed_at      TEXT NOT NULL,
    credentials_at  TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS person_invitations (
    hash       TEXT PRIMARY KEY,
    person     TEXT NOT NULL REFERENCES persons (id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS person_invitations_by_person ON person_invitations (person);
CREATE TABLE IF NOT EXISTS recovery_codes (
    person  TEXT NOT NULL REFERENCES persons (id),
    hash    TEXT NOT NULL,
    used_at TEXT,
    PRIMARY KEY (person, hash)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sessions (
    hash       TEXT PRIMARY KEY,
    person     TEXT NOT NULL REFERENCES persons (id),
    csrf       TEXT NOT NULL,
    source     TEXT,
    created_at TEXT NOT NULL,
    last_seen  TEXT NOT NULL,
    expires_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sessions_by_person ON sessions (person);
CREATE TABLE IF NOT EXISTS person_tokens (
    id          TEXT PRIMARY KEY,
    hash        TEXT NOT NULL UNIQUE,
    person      TEXT NOT NULL REFERENCES persons (id),
    permissions TEXT NOT NULL,
    tlds        TEXT,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    revoked_at  TEXT
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS person_tokens_by_person ON person_tokens (person);
CREATE TABLE IF NOT EXISTS tld_authority (
    tld    TEXT NOT NULL REFERENCES tlds (label),
    person TEXT NOT NULL REFERENCES persons (id),
    groups TEXT NOT NULL,
    PRIMARY KEY (tld, person)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tld_authority_by_person ON tld_authority (person);
CREATE TABLE IF NOT EXISTS tld_policies (
    tld              TEXT PRIMARY KEY REFERENCES tlds (label),
    policy           TEXT NOT NULL,
    special_handling TEXT,
    changed_at       TEXT NOT NULL
) WITHOUT ROWID;
-- The `authority` request kind: SQLite changes a CHECK only by rebuilding the table, by its
-- documented procedure (foreign keys off during the migration, `Store::migrate`), so that
-- check_jobs' reference to `requests` keeps its name.
CREATE TABLE requests_7 (
    ticket          TEXT PRIMARY KEY,
    tld             TEXT NOT NULL REFERENCES tlds (label),
    kind            TEXT NOT NULL CHECK (kind IN ('delegation', 'contacts', 'sponsor', 'transfer', 'authority')),
    priority        TEXT NOT NULL CHECK (priority IN ('normal', 'emergency')),
    state           TEXT NOT NULL,
    owner           TEXT,
    revision        INTEGER NOT NULL,
    submitter       TEXT NOT NULL,
    submitted_at    TEXT NOT NULL,
    state_since     TEXT NOT NULL,
    idempotency_key TEXT,
    token           TEXT
) WITHOUT ROWID;
INSERT INTO requests_7 SELECT * FROM requests;
DROP TABLE requests;
ALTER TABLE requests_7 RENAME TO requests;
CREATE INDEX requests_by_tld ON requests (tld, state);
CREATE INDEX requests_by_state ON requests (state);
CREATE INDEX requests_by_tld_ticket ON requests (tld, ticket);
CREATE INDEX requests_open ON requests (ticket) WHERE owner IS NOT NULL;
CREATE INDEX requests_open_by_tld ON requests (tld, ticket) WHERE owner IS NOT NULL;
CREATE INDEX requests_by_day_number
    ON requests (substr(ticket, 1, 12), CAST(substr(ticket, 13) AS INTEGER));
CREATE UNIQUE INDEX requests_idempotency ON requests (token, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
";

/// The TLDs a person is authorised for (issue 14): those whose authority is in force (they
/// have a policy row) and list the person. Only an active person is authorised.
pub fn authorised_tlds(conn: &Connection, person: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT a.tld FROM tld_authority a JOIN persons p ON p.id = a.person
         JOIN tld_policies t ON t.tld = a.tld
         WHERE a.person = ?1 AND p.status = 'active' ORDER BY a.tld",
    )?;
    let rows = stmt.query_map([person], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A person's login e-mail address, where the desk writes to them.
pub fn person_email(conn: &Connection, person: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT email FROM persons WHERE id = ?1")?
        .query_row([person], |r| r.get(0))
        .optional()?)
}

/// A TLD's authority: its authorised persons (any status: who may act is checked at login),
/// its policy and special handling; `None` while it has none in force (no policy row: its
/// contacts then consent, as before persons existed). Persons invited for a TLD whose
/// authority is not in force yet are listed by [`pending_members`].
pub fn tld_authority(conn: &Connection, tld: &str) -> Result<Option<Authority>> {
    let Some((policy, special_handling)) = conn
        .prepare_cached("SELECT policy, special_handling FROM tld_policies WHERE tld = ?1")?
        .query_row([tld], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
        })
        .optional()?
    else {
        return Ok(None);
    };
    let policy: Policy = serde_json::from_str(&policy)
        .map_err(|e| StoreError::Corrupt(format!("the policy of {tld}: {e}")))?;
    Ok(Some(Authority {
        members: pending_members(conn, tld)?,
        policy,
        special_handling,
    }))
}

/// Whether a TLD's authority is in force (its persons act for it, not its contacts).
pub fn authority_in_force(conn: &Connection, tld: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM tld_policies WHERE tld = ?1")?
        .exists([tld])?)
}

/// The persons listed for a TLD with their groups, whether or not its authority is in force.
pub fn pending_members(conn: &Connection, tld: &str) -> Result<BTreeMap<String, BTreeSet<String>>> {
    let mut stmt = conn.prepare_cached(
        "SELECT person, groups FROM tld_authority WHERE tld = ?1 ORDER BY person",
    )?;
    let mut members = BTreeMap::new();
    for row in stmt.query_map([tld], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })? {
        let (person, groups) = row?;
        let groups: BTreeSet<String> = serde_json::from_str(&groups)
            .map_err(|e| StoreError::Corrupt(format!("groups of {person} on {tld}: {e}")))?;
        members.insert(person, groups);
    }
    Ok(members)
}

/// Replaces a TLD's authority (an implemented authority request, or the CLI's set-up).
pub fn set_authority_tx(
    tx: &Transaction<'_>,
    tld: &str,
    authority: &Authority,
    now: OffsetDateTime,
) -> Result<()> {
    tx.execute("DELETE FROM tld_authority WHERE tld = ?1", [tld])?;
    for (person, groups) in &authority.members {
        let groups = serde_json::to_string(groups)
            .map_err(|e| StoreError::Corrupt(format!("groups of {person}: {e}")))?;
        tx.execute(
            "INSERT INTO tld_authority (tld, person, groups) VALUES (?1, ?2, ?3)",
            params![tld, person, groups],
        )?;
    }
    let policy = serde_json::to_string(&authority.policy)
        .map_err(|e| StoreError::Corrupt(format!("the policy of {tld}: {e}")))?;
    tx.execute(
        "INSERT INTO tld_policies (tld, policy, special_handling, changed_at)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (tld) DO UPDATE SET policy = excluded.policy,
             special_handling = excluded.special_handling, changed_at = excluded.changed_at",
        params![tld, policy, authority.special_handling, timestamp(now)],
    )?;
    Ok(())
}

/// Authorises `person` for `tld` in `groups` (e.g. `["admin"]`), replacing earlier groups.
pub fn add_member_tx(
    tx: &rusqlite::Transaction<'_>,
    tld: &str,
    person: &str,
    groups: &[String],
) -> Result<()> {
    let groups =
        serde_json::to_string(groups).map_err(|e| super::StoreError::Corrupt(e.to_string()))?;
    tx.execute(
        "INSERT INTO tld_authority (tld, person, groups) VALUES (?1, ?2, ?3) \
         ON CONFLICT (tld, person) DO UPDATE SET groups = excluded.groups",
        rusqlite::params![tld, person, groups],
    )?;
    Ok(())
}

/// The role and status of each person in `ids` that exists.
pub fn person_standing(
    conn: &Connection,
    ids: impl IntoIterator<Item = impl AsRef<str>>,
) -> Result<BTreeMap<String, (String, String)>> {
    let mut stmt = conn.prepare_cached("SELECT role, status FROM persons WHERE id = ?1")?;
    let mut found = BTreeMap::new();
    for id in ids {
        let id = id.as_ref();
        if let Some(row) = stmt
            .query_row([id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .optional()?
        {
            found.insert(id.to_string(), row);
        }
    }
    Ok(found)
}

/// The TLDs a person is authorised for, whatever their status, with the groups.
pub fn authority_of(conn: &Connection, person: &str) -> Result<Vec<(String, Vec<String>)>> {
    let mut stmt = conn
        .prepare_cached("SELECT tld, groups FROM tld_authority WHERE person = ?1 ORDER BY tld")?;
    let rows = stmt.query_map([person], |r| {
        let groups: String = r.get(1)?;
        Ok((r.get(0)?, serde_json::from_str(&groups).unwrap_or_default()))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

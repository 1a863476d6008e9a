//! Persons and authority (issue 14): the tables of schema version 7, and who is authorised
//! for which TLD. Accounts, sessions and person tokens are read and written in
//! [`super::persons`]; TLD authority and policies here.

use rusqlite::Connection;

use super::Result;

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
";

/// The TLDs a person is authorised for (issue 14). Only an active person is.
pub fn authorised_tlds(conn: &Connection, person: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT a.tld FROM tld_authority a JOIN persons p ON p.id = a.person
         WHERE a.person = ?1 AND p.status = 'active' ORDER BY a.tld",
    )?;
    let rows = stmt.query_map([person], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A person's login e-mail address, where the desk writes to them.
pub fn person_email(conn: &Connection, person: &str) -> Result<Option<String>> {
    use rusqlite::OptionalExtension;
    Ok(conn
        .prepare_cached("SELECT email FROM persons WHERE id = ?1")?
        .query_row([person], |r| r.get(0))
        .optional()?)
}

/// Authorises `person` for `tld` in `groups` (e.g. `["admin"]`), replacing earlier groups.
pub fn set_authority_tx(
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

//! Persons' accounts (issue 14): the SQL of persons, invitations, recovery codes, sessions
//! and person tokens. Secrets are stored as SHA-256 hashes, passwords as argon2id PHC strings;
//! the rules are `crate::people`'s (which re-exports [`Person`] and [`Status`]), the audit
//! events the desk's.

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};
use time::OffsetDateTime;

use super::{timestamp, Result};
use serde::Serialize;

use crate::store::Role;

/// A person's account state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Invited: no password or no second factor yet; cannot log in.
    Invited,
    Active,
    /// Every session and token ended; cannot log in.
    Disabled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Invited => "invited",
            Status::Active => "active",
            Status::Disabled => "disabled",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        match text {
            "invited" => Some(Status::Invited),
            "active" => Some(Status::Active),
            "disabled" => Some(Status::Disabled),
            _ => None,
        }
    }
}

/// A person as shown: never a secret or a hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Person {
    pub id: String,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub status: Status,
    /// A TOTP secret is enrolled.
    pub factor_enrolled: bool,
    pub created_at: String,
    pub changed_at: String,
}

/// A person with what authenticating them needs (never leaves the desk).
#[derive(Debug, Clone)]
pub struct PersonRecord {
    pub person: Person,
    pub password_hash: Option<String>,
    pub totp_secret: Option<String>,
    pub totp_last_step: Option<i64>,
    pub factor_optional: bool,
    pub credentials_at: String,
}

const PERSON_COLUMNS: &str = "id, name, email, role, status, password_hash, totp_secret, \
     totp_last_step, factor_optional, created_at, changed_at, credentials_at";

fn person_from_row(r: &Row<'_>) -> rusqlite::Result<PersonRecord> {
    let role: String = r.get(3)?;
    let status: String = r.get(4)?;
    let totp_secret: Option<String> = r.get(6)?;
    Ok(PersonRecord {
        person: Person {
            id: r.get(0)?,
            name: r.get(1)?,
            email: r.get(2)?,
            // The table's CHECK allows only these; an unknown one can do the least.
            role: Role::parse(&role).unwrap_or(Role::Auditor),
            status: Status::parse(&status).unwrap_or(Status::Disabled),
            factor_enrolled: totp_secret.is_some(),
            created_at: r.get(9)?,
            changed_at: r.get(10)?,
        },
        password_hash: r.get(5)?,
        totp_secret,
        totp_last_step: r.get(7)?,
        factor_optional: r.get::<_, i64>(8)? == 1,
        credentials_at: r.get(11)?,
    })
}

/// Adds an invited person.
pub fn insert_person_tx(
    tx: &Transaction<'_>,
    id: &str,
    name: &str,
    email: &str,
    role: Role,
    now: OffsetDateTime,
) -> Result<()> {
    let now = timestamp(now);
    tx.execute(
        "INSERT INTO persons (id, name, email, role, status, created_at, changed_at, credentials_at) \
         VALUES (?1, ?2, ?3, ?4, 'invited', ?5, ?5, ?5)",
        params![id, name, email, role.as_str(), now],
    )?;
    Ok(())
}

pub fn person_by_id(conn: &Connection, id: &str) -> Result<Option<PersonRecord>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {PERSON_COLUMNS} FROM persons WHERE id = ?1"
        ))?
        .query_row([id], person_from_row)
        .optional()?)
}

/// The person with login e-mail `email` (compared in lower case).
pub fn person_by_email(conn: &Connection, email: &str) -> Result<Option<PersonRecord>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {PERSON_COLUMNS} FROM persons WHERE lower(email) = lower(?1)"
        ))?
        .query_row([email], person_from_row)
        .optional()?)
}

/// Every person, by e-mail.
pub fn persons(conn: &Connection) -> Result<Vec<Person>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {PERSON_COLUMNS} FROM persons ORDER BY email, id"
    ))?;
    let rows = stmt.query_map([], person_from_row)?;
    Ok(rows
        .map(|r| r.map(|p| p.person))
        .collect::<rusqlite::Result<_>>()?)
}

/// Sets a person's status.
pub fn set_status_tx(
    tx: &Transaction<'_>,
    id: &str,
    status: Status,
    now: OffsetDateTime,
) -> Result<()> {
    tx.execute(
        "UPDATE persons SET status = ?2, changed_at = ?3 WHERE id = ?1",
        params![id, status.as_str(), timestamp(now)],
    )?;
    Ok(())
}

/// Sets the password hash (PHC string).
pub fn set_password_tx(
    tx: &Transaction<'_>,
    id: &str,
    hash: &str,
    now: OffsetDateTime,
) -> Result<()> {
    tx.execute(
        "UPDATE persons SET password_hash = ?2, changed_at = ?3 WHERE id = ?1",
        params![id, hash, timestamp(now)],
    )?;
    Ok(())
}

/// Sets (or clears) the TOTP secret; the last step used is forgotten with it.
pub fn set_totp_tx(
    tx: &Transaction<'_>,
    id: &str,
    secret: Option<&str>,
    factor_optional: bool,
    now: OffsetDateTime,
) -> Result<()> {
    tx.execute(
        "UPDATE persons SET totp_secret = ?2, totp_last_step = NULL, factor_optional = ?3, \
         changed_at = ?4 WHERE id = ?1",
        params![id, secret, i64::from(factor_optional), timestamp(now)],
    )?;
    Ok(())
}

/// Records that the code of `step` was used; false when it (or a later one) was already:
/// the check and the write are one statement, so two logins cannot both use one code.
pub fn use_totp_step_tx(tx: &Transaction<'_>, id: &str, step: i64) -> Result<bool> {
    Ok(tx.execute(
        "UPDATE persons SET totp_last_step = ?2 \
         WHERE id = ?1 AND (totp_last_step IS NULL OR totp_last_step < ?2)",
        params![id, step],
    )? == 1)
}

/// Ends every session and token of a person and makes older credentials worthless; returns
/// (sessions ended, tokens revoked).
pub fn end_credentials_tx(
    tx: &Transaction<'_>,
    id: &str,
    now: OffsetDateTime,
) -> Result<(u64, u64)> {
    let now = timestamp(now);
    tx.execute(
        "UPDATE persons SET credentials_at = ?2, changed_at = ?2 WHERE id = ?1",
        params![id, now],
    )?;
    let sessions = tx.execute("DELETE FROM sessions WHERE person = ?1", [id])?;
    let tokens = tx.execute(
        "UPDATE person_tokens SET revoked_at = ?2 WHERE person = ?1 AND revoked_at IS NULL",
        params![id, now],
    )?;
    Ok((sessions as u64, tokens as u64))
}

/// Stores an invitation under the hash of its secret.
pub fn insert_invitation_tx(
    tx: &Transaction<'_>,
    hash: &str,
    person: &str,
    now: OffsetDateTime,
    expires: OffsetDateTime,
) -> Result<()> {
    tx.execute(
        "INSERT INTO person_invitations (hash, person, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![hash, person, timestamp(now), timestamp(expires)],
    )?;
    Ok(())
}

/// An invitation that can be used at `now`: the person it is for.
pub fn open_invitation(
    conn: &Connection,
    hash: &str,
    now: OffsetDateTime,
) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached(
            "SELECT person FROM person_invitations \
             WHERE hash = ?1 AND used_at IS NULL AND expires_at > ?2",
        )?
        .query_row(params![hash, timestamp(now)], |r| r.get(0))
        .optional()?)
}

/// Uses up an invitation (and any other open one of the same person).
pub fn use_invitations_tx(tx: &Transaction<'_>, person: &str, now: OffsetDateTime) -> Result<()> {
    tx.execute(
        "UPDATE person_invitations SET used_at = ?2 WHERE person = ?1 AND used_at IS NULL",
        params![person, timestamp(now)],
    )?;
    Ok(())
}

/// Replaces a person's recovery codes by `hashes`.
pub fn replace_recovery_codes_tx(
    tx: &Transaction<'_>,
    person: &str,
    hashes: &[String],
) -> Result<()> {
    tx.execute("DELETE FROM recovery_codes WHERE person = ?1", [person])?;
    let mut stmt =
        tx.prepare_cached("INSERT INTO recovery_codes (person, hash) VALUES (?1, ?2)")?;
    for hash in hashes {
        stmt.execute(params![person, hash])?;
    }
    Ok(())
}

/// Uses a recovery code; false when it is not the person's or was used.
pub fn use_recovery_code_tx(
    tx: &Transaction<'_>,
    person: &str,
    hash: &str,
    now: OffsetDateTime,
) -> Result<bool> {
    Ok(tx.execute(
        "UPDATE recovery_codes SET used_at = ?3 WHERE person = ?1 AND hash = ?2 AND used_at IS NULL",
        params![person, hash, timestamp(now)],
    )? == 1)
}

/// Recovery codes not used yet.
pub fn unused_recovery_codes(conn: &Connection, person: &str) -> Result<u32> {
    Ok(conn.query_row(
        "SELECT count(*) FROM recovery_codes WHERE person = ?1 AND used_at IS NULL",
        [person],
        |r| r.get(0),
    )?)
}

/// A login session as stored.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub hash: String,
    pub person: String,
    pub csrf: String,
    pub created_at: String,
    pub last_seen: String,
    pub expires_at: String,
}

#[allow(clippy::too_many_arguments)]
pub fn insert_session_tx(
    tx: &Transaction<'_>,
    hash: &str,
    person: &str,
    csrf: &str,
    source: Option<&str>,
    now: OffsetDateTime,
    expires: OffsetDateTime,
) -> Result<()> {
    tx.execute(
        "INSERT INTO sessions (hash, person, csrf, source, created_at, last_seen, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
        params![
            hash,
            person,
            csrf,
            source,
            timestamp(now),
            timestamp(expires)
        ],
    )?;
    Ok(())
}

pub fn session_by_hash(conn: &Connection, hash: &str) -> Result<Option<SessionRecord>> {
    Ok(conn
        .prepare_cached(
            "SELECT hash, person, csrf, created_at, last_seen, expires_at FROM sessions WHERE hash = ?1",
        )?
        .query_row([hash], |r| {
            Ok(SessionRecord {
                hash: r.get(0)?,
                person: r.get(1)?,
                csrf: r.get(2)?,
                created_at: r.get(3)?,
                last_seen: r.get(4)?,
                expires_at: r.get(5)?,
            })
        })
        .optional()?)
}

pub fn touch_session_tx(tx: &Transaction<'_>, hash: &str, now: OffsetDateTime) -> Result<()> {
    tx.execute(
        "UPDATE sessions SET last_seen = ?2 WHERE hash = ?1",
        params![hash, timestamp(now)],
    )?;
    Ok(())
}

/// Deletes a session; false when there was none.
pub fn delete_session_tx(tx: &Transaction<'_>, hash: &str) -> Result<bool> {
    Ok(tx.execute("DELETE FROM sessions WHERE hash = ?1", [hash])? == 1)
}

/// A person token as stored and shown: never its secret or hash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PersonTokenRecord {
    pub id: String,
    pub person: String,
    pub permissions: Vec<String>,
    pub tlds: Option<Vec<String>>,
    pub created_at: String,
    pub expires_at: String,
    pub revoked_at: Option<String>,
}

const TOKEN_COLUMNS: &str = "id, person, permissions, tlds, created_at, expires_at, revoked_at";

fn token_from_row(r: &Row<'_>) -> rusqlite::Result<PersonTokenRecord> {
    let permissions: String = r.get(2)?;
    let tlds: Option<String> = r.get(3)?;
    Ok(PersonTokenRecord {
        id: r.get(0)?,
        person: r.get(1)?,
        // Written by `insert_person_token_tx` as JSON arrays; anything else carries nothing.
        permissions: serde_json::from_str(&permissions).unwrap_or_default(),
        tlds: tlds.map(|t| serde_json::from_str(&t).unwrap_or_default()),
        created_at: r.get(4)?,
        expires_at: r.get(5)?,
        revoked_at: r.get(6)?,
    })
}

pub fn insert_person_token_tx(
    tx: &Transaction<'_>,
    token: &PersonTokenRecord,
    hash: &str,
) -> Result<()> {
    let permissions = serde_json::to_string(&token.permissions)
        .map_err(|e| super::StoreError::Corrupt(e.to_string()))?;
    let tlds = token
        .tlds
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| super::StoreError::Corrupt(e.to_string()))?;
    tx.execute(
        "INSERT INTO person_tokens (id, hash, person, permissions, tlds, created_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            token.id,
            hash,
            token.person,
            permissions,
            tlds,
            token.created_at,
            token.expires_at
        ],
    )?;
    Ok(())
}

pub fn person_token_by_hash(conn: &Connection, hash: &str) -> Result<Option<PersonTokenRecord>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {TOKEN_COLUMNS} FROM person_tokens WHERE hash = ?1"
        ))?
        .query_row([hash], token_from_row)
        .optional()?)
}

pub fn person_token(conn: &Connection, id: &str) -> Result<Option<PersonTokenRecord>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {TOKEN_COLUMNS} FROM person_tokens WHERE id = ?1"
        ))?
        .query_row([id], token_from_row)
        .optional()?)
}

/// A person's tokens, newest first.
pub fn person_tokens(conn: &Connection, person: &str) -> Result<Vec<PersonTokenRecord>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {TOKEN_COLUMNS} FROM person_tokens WHERE person = ?1 ORDER BY created_at DESC, id"
    ))?;
    let rows = stmt.query_map([person], token_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Revokes a token; false when it was revoked already.
pub fn revoke_person_token_tx(tx: &Transaction<'_>, id: &str, now: OffsetDateTime) -> Result<bool> {
    Ok(tx.execute(
        "UPDATE person_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
        params![id, timestamp(now)],
    )? == 1)
}

/// Whether the TLD `label` is on record.
pub fn tld_exists(conn: &Connection, label: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM tlds WHERE label = ?1")?
        .exists([label])?)
}

/// An invitation whose secret is minted when its message is sent (`notify::links::mint`): a
/// template row under `unsent:<id>`, which no secret hashes to.
pub fn insert_unsent_invitation_tx(
    tx: &Transaction<'_>,
    template: &str,
    person: &str,
    now: OffsetDateTime,
    expires: OffsetDateTime,
) -> Result<()> {
    insert_invitation_tx(tx, template, person, now, expires)
}

/// Mints a usable invitation from a template: the same person, expiry and use, under the
/// hash of a fresh secret. Each send mints its own, so a resend's link works too.
pub fn mint_invitation_tx(
    tx: &Transaction<'_>,
    template: &str,
    hash: &str,
    now: OffsetDateTime,
) -> Result<()> {
    let made = tx.execute(
        "INSERT INTO person_invitations (hash, person, created_at, expires_at, used_at) \
         SELECT ?2, person, ?3, expires_at, used_at FROM person_invitations WHERE hash = ?1",
        params![template, hash, timestamp(now)],
    )?;
    if made == 1 {
        Ok(())
    } else {
        Err(super::StoreError::Corrupt(format!(
            "the outbox names invitation {template}, which does not exist"
        )))
    }
}

/// One login e-mail among the TLDs' contact records: the name of its first record and the
/// (TLD, role) pairs it is a contact in.
#[derive(Debug, Clone)]
pub struct ContactEmail {
    pub email: String,
    pub name: String,
    pub roles: Vec<(String, String)>,
}

/// Every distinct contact e-mail (lower case) in `tld_contacts`, for the migration to persons.
pub fn contact_emails(conn: &Connection) -> Result<Vec<ContactEmail>> {
    let mut stmt = conn.prepare(
        "SELECT lower(trim(email)), coalesce(name, contact), tld, role FROM tld_contacts \
         WHERE email IS NOT NULL AND trim(email) <> '' ORDER BY lower(trim(email)), tld, role",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
        ))
    })?;
    let mut out: Vec<ContactEmail> = Vec::new();
    for row in rows {
        let (email, name, tld, role) = row?;
        match out.last_mut() {
            Some(last) if last.email == email => last.roles.push((tld, role)),
            _ => out.push(ContactEmail {
                email,
                name,
                roles: vec![(tld, role)],
            }),
        }
    }
    Ok(out)
}

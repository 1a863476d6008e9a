//! The outbox and the confirmation links (README.md, Notifications): the SQL behind `notify`.

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};
use serde::Serialize;
use time::OffsetDateTime;

use super::{timestamp, Result, Store};
use crate::registry::Contact;

/// A notification to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotification {
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub ticket: Option<String>,
    pub tld: Option<String>,
    pub kind: String,
}

/// One row of the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Notification {
    pub id: i64,
    pub created: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub ticket: Option<String>,
    pub tld: Option<String>,
    pub kind: String,
    pub attempts: u32,
    pub next_attempt_at: String,
    pub sending_at: Option<String>,
    pub last_error: Option<String>,
    pub delivered_at: Option<String>,
}

const COLUMNS: &str = "id, created, recipient, subject, body, ticket, tld, kind, attempts, \
                       next_attempt_at, sending_at, last_error, delivered_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Notification> {
    Ok(Notification {
        id: r.get(0)?,
        created: r.get(1)?,
        recipient: r.get(2)?,
        subject: r.get(3)?,
        body: r.get(4)?,
        ticket: r.get(5)?,
        tld: r.get(6)?,
        kind: r.get(7)?,
        attempts: r.get(8)?,
        next_attempt_at: r.get(9)?,
        sending_at: r.get(10)?,
        last_error: r.get(11)?,
        delivered_at: r.get(12)?,
    })
}

/// Queues a notification; it is due at `due`. Returns its id.
pub fn queue_notification(
    tx: &Transaction<'_>,
    n: &NewNotification,
    created: OffsetDateTime,
    due: OffsetDateTime,
) -> Result<i64> {
    tx.prepare_cached(
        "INSERT INTO outbox (created, recipient, subject, body, ticket, tld, kind, next_attempt_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        timestamp(created),
        n.recipient,
        n.subject,
        n.body,
        n.ticket,
        n.tld,
        n.kind,
        timestamp(due)
    ])?;
    Ok(tx.last_insert_rowid())
}

/// Undelivered notifications due at `now`, oldest first.
pub fn due_notifications(
    conn: &Connection,
    now: OffsetDateTime,
    limit: u32,
) -> Result<Vec<Notification>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM outbox WHERE delivered_at IS NULL AND next_attempt_at <= ?1 \
         ORDER BY id LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![timestamp(now), limit], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Notifications a previous run handed to the relay without recording the outcome.
pub fn in_doubt_notifications(conn: &Connection) -> Result<Vec<Notification>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM outbox WHERE delivered_at IS NULL AND sending_at IS NOT NULL ORDER BY id"
    ))?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Marks a notification as being handed to the relay; returns the attempt's number, or
/// `None` when it was delivered meanwhile.
pub fn claim_notification(
    tx: &Transaction<'_>,
    id: i64,
    now: OffsetDateTime,
) -> Result<Option<u32>> {
    Ok(tx
        .query_row(
            "UPDATE outbox SET attempts = attempts + 1, sending_at = ?2 \
             WHERE id = ?1 AND delivered_at IS NULL RETURNING attempts",
            params![id, timestamp(now)],
            |r| r.get(0),
        )
        .optional()?)
}

/// Records that the relay accepted a notification; `body` replaces the stored text (links
/// blanked).
pub fn mark_delivered(
    tx: &Transaction<'_>,
    id: i64,
    body: &str,
    now: OffsetDateTime,
) -> Result<()> {
    tx.execute(
        "UPDATE outbox SET delivered_at = ?2, sending_at = NULL, last_error = NULL, body = ?3 \
         WHERE id = ?1",
        params![id, timestamp(now), body],
    )?;
    Ok(())
}

/// Records a failed attempt and when to try again.
pub fn mark_failed(tx: &Transaction<'_>, id: i64, error: &str, next: OffsetDateTime) -> Result<()> {
    tx.execute(
        "UPDATE outbox SET sending_at = NULL, last_error = ?2, next_attempt_at = ?3 WHERE id = ?1",
        params![id, error, timestamp(next)],
    )?;
    Ok(())
}

/// When a given-up notification is next due: never, unless an operator retries it.
pub const GIVEN_UP: &str = "9999-12-31T23:59:59.000000Z";

/// Records that delivery was given up: the row stays (undelivered), never due again by
/// itself.
pub fn mark_given_up(tx: &Transaction<'_>, id: i64, error: &str) -> Result<()> {
    tx.execute(
        "UPDATE outbox SET sending_at = NULL, last_error = ?2, next_attempt_at = ?3 WHERE id = ?1",
        params![id, error, GIVEN_UP],
    )?;
    Ok(())
}

/// Clears the in-flight mark of a notification whose outcome is unknown.
pub fn release_notification(tx: &Transaction<'_>, id: i64) -> Result<()> {
    tx.execute("UPDATE outbox SET sending_at = NULL WHERE id = ?1", [id])?;
    Ok(())
}

/// Makes undelivered notifications (one, or all) due at `now`; returns how many.
pub fn retry_notifications(
    tx: &Transaction<'_>,
    id: Option<i64>,
    now: OffsetDateTime,
) -> Result<usize> {
    Ok(tx.execute(
        "UPDATE outbox SET next_attempt_at = ?1 WHERE delivered_at IS NULL AND (?2 IS NULL OR id = ?2)",
        params![timestamp(now), id],
    )?)
}

fn contact_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Contact> {
    Ok(Contact {
        handle: r.get(0)?,
        organisation: r.get(1)?,
        name: r.get(2)?,
        email: r.get(3)?,
        phone: r.get(4)?,
        address: r.get(5)?,
    })
}

/// A TLD's own record of one of its contacts (contact records are per TLD).
pub fn tld_contact(conn: &Connection, tld: &str, handle: &str) -> Result<Option<Contact>> {
    Ok(conn
        .query_row(
            "SELECT contact, organisation, name, email, phone, address FROM tld_contacts \
             WHERE tld = ?1 AND contact = ?2 ORDER BY role LIMIT 1",
            [tld, handle],
            contact_row,
        )
        .optional()?)
}

/// Every TLD's record of a contact, by TLD; the entry of `contacts` (the details it was first
/// known by) when no TLD holds it in a role.
pub fn contact_records(conn: &Connection, handle: &str) -> Result<Vec<Contact>> {
    let mut stmt = conn.prepare_cached(
        "SELECT contact, organisation, name, email, phone, address FROM tld_contacts \
         WHERE contact = ?1 ORDER BY tld, role",
    )?;
    let mut records: Vec<Contact> = Vec::new();
    for record in stmt.query_map([handle], contact_row)? {
        let record = record?;
        if !records.contains(&record) {
            records.push(record);
        }
    }
    if records.is_empty() {
        records.extend(contact(conn, handle)?);
    }
    Ok(records)
}

/// A contact's entry by handle: the details it was first known by (what a TLD has on file is
/// [`tld_contact`]).
pub fn contact(conn: &Connection, handle: &str) -> Result<Option<Contact>> {
    Ok(conn
        .query_row(
            "SELECT handle, organisation, name, email, phone, address FROM contacts WHERE handle = ?1",
            [handle],
            |r| {
                Ok(Contact {
                    handle: r.get(0)?,
                    organisation: r.get(1)?,
                    name: r.get(2)?,
                    email: r.get(3)?,
                    phone: r.get(4)?,
                    address: r.get(5)?,
                })
            },
        )
        .optional()?)
}

/// The handle holding `role` (`admin`, `tech`) on a TLD.
pub fn tld_role_holder(conn: &Connection, tld: &str, role: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT contact FROM tld_contacts WHERE tld = ?1 AND role = ?2",
            [tld, role],
            |r| r.get(0),
        )
        .optional()?)
}

/// A TLD's sponsoring organisation.
pub fn tld_sponsor(conn: &Connection, tld: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row("SELECT sponsor FROM tlds WHERE label = ?1", [tld], |r| {
            r.get(0)
        })
        .optional()?
        .flatten())
}

/// A confirmation link, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfirmLink {
    pub id: String,
    pub ticket: String,
    pub revision: u32,
    pub contact: String,
    pub created_at: String,
    pub expires_at: String,
    pub used_at: Option<String>,
}

/// Stores a new link under the hash of its secret.
pub fn insert_link(tx: &Transaction<'_>, hash: &str, link: &ConfirmLink) -> Result<()> {
    tx.execute(
        "INSERT INTO confirm_links (id, hash, ticket, revision, contact, created_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            link.id,
            hash,
            link.ticket,
            link.revision,
            link.contact,
            link.created_at,
            link.expires_at
        ],
    )?;
    Ok(())
}

fn link_from_row(r: &Row<'_>) -> rusqlite::Result<ConfirmLink> {
    Ok(ConfirmLink {
        id: r.get(0)?,
        ticket: r.get(1)?,
        revision: r.get(2)?,
        contact: r.get(3)?,
        created_at: r.get(4)?,
        expires_at: r.get(5)?,
        used_at: r.get(6)?,
    })
}

/// The link stored under `hash`.
pub fn link_by_hash(conn: &Connection, hash: &str) -> Result<Option<ConfirmLink>> {
    Ok(conn
        .query_row(
            "SELECT id, ticket, revision, contact, created_at, expires_at, used_at \
             FROM confirm_links WHERE hash = ?1",
            [hash],
            link_from_row,
        )
        .optional()?)
}

/// A link by its public id, with the hash it is stored under.
pub fn link_by_id(conn: &Connection, id: &str) -> Result<Option<(ConfirmLink, String)>> {
    Ok(conn
        .query_row(
            "SELECT id, ticket, revision, contact, created_at, expires_at, used_at, hash \
             FROM confirm_links WHERE id = ?1",
            [id],
            |r| Ok((link_from_row(r)?, r.get(7)?)),
        )
        .optional()?)
}

/// Replaces the hash a link is stored under; `false` when `old` is no longer its hash.
pub fn set_link_hash(tx: &Transaction<'_>, id: &str, old: &str, new: &str) -> Result<bool> {
    Ok(tx.execute(
        "UPDATE confirm_links SET hash = ?3 WHERE id = ?1 AND hash = ?2",
        params![id, old, new],
    )? == 1)
}

/// Marks a link used; `false` when it was used already.
pub fn use_link(tx: &Transaction<'_>, id: &str, now: OffsetDateTime) -> Result<bool> {
    Ok(tx.execute(
        "UPDATE confirm_links SET used_at = ?2 WHERE id = ?1 AND used_at IS NULL",
        params![id, timestamp(now)],
    )? == 1)
}

/// Makes a link usable again (the command it carried was refused).
pub fn unuse_link(tx: &Transaction<'_>, id: &str) -> Result<()> {
    tx.execute(
        "UPDATE confirm_links SET used_at = NULL WHERE id = ?1",
        [id],
    )?;
    Ok(())
}

impl Store {
    /// The outbox, newest first: all of it, or only what is not delivered yet.
    pub fn outbox(&self, pending_only: bool, limit: u32) -> Result<Vec<Notification>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM outbox WHERE (?1 = 0 OR delivered_at IS NULL) ORDER BY id DESC LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![pending_only, limit], from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// One outbox row.
    pub fn notification(&self, id: i64) -> Result<Option<Notification>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM outbox WHERE id = ?1"),
                [id],
                from_row,
            )
            .optional()?)
    }
}

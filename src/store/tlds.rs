//! TLD records and their contacts.

use std::collections::BTreeMap;

use rusqlite::{params, OptionalExtension, Transaction};
use serde::Serialize;
use time::OffsetDateTime;

use super::{append_events, timestamp, Result, Store, StoreError};
use crate::audit::{Actor, NewEvent};
use crate::registry::{Contact, ContactRole, Delegation, TldLabel, TldRecord};

/// What an import of TLD records changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TldImportReport {
    pub added: Vec<TldLabel>,
    pub updated: Vec<TldLabel>,
    pub unchanged: usize,
}

impl TldImportReport {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.updated.is_empty()
    }
}

const TLD_COLUMNS: &str = "label, type, tag, country, status, sponsor, created, updated";

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// A TLD row without contacts and delegation.
fn tld_from_row(row: &rusqlite::Row<'_>) -> Result<TldRecord> {
    let label_text: String = row.get(0)?;
    let label = TldLabel::parse(&label_text).map_err(corrupt)?;
    let kind: String = row.get(1)?;
    let status: String = row.get(4)?;
    Ok(TldRecord {
        unicode: label.unicode(),
        label,
        kind: kind.parse().map_err(corrupt)?,
        tag: row.get(2)?,
        country: row.get(3)?,
        status: status.parse().map_err(corrupt)?,
        sponsor: row.get(5)?,
        admin: None,
        tech: None,
        created: row.get(6)?,
        updated: row.get(7)?,
        delegation: Delegation::default(),
    })
}

/// A contact from the six columns handle, organisation, name, email, phone, address that
/// start at `first`.
fn contact_from_row(r: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<Contact> {
    Ok(Contact {
        handle: r.get(first)?,
        organisation: r.get(first + 1)?,
        name: r.get(first + 2)?,
        email: r.get(first + 3)?,
        phone: r.get(first + 4)?,
        address: r.get(first + 5)?,
    })
}

fn read_contacts(conn: &rusqlite::Connection) -> Result<BTreeMap<(String, ContactRole), Contact>> {
    let mut stmt = conn.prepare_cached(
        "SELECT tld, role, contact, organisation, name, email, phone, address FROM tld_contacts",
    )?;
    let mut rows = stmt.query([])?;
    let mut contacts = BTreeMap::new();
    while let Some(row) = rows.next()? {
        let role: String = row.get(1)?;
        contacts.insert(
            (row.get::<_, String>(0)?, role.parse().map_err(corrupt)?),
            contact_from_row(row, 2)?,
        );
    }
    Ok(contacts)
}

impl Store {
    /// Every TLD record, by label, with contacts and current delegation.
    pub fn tlds(&self) -> Result<Vec<TldRecord>> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {TLD_COLUMNS} FROM tlds ORDER BY label"))?;
        let mut rows = stmt.query([])?;
        let mut records = Vec::new();
        while let Some(row) = rows.next()? {
            records.push(tld_from_row(row)?);
        }
        let mut contacts = read_contacts(&self.conn)?;
        let zone = self.zone(None)?;
        for record in &mut records {
            let key = record.label.as_str().to_string();
            record.admin = contacts.remove(&(key.clone(), ContactRole::Admin));
            record.tech = contacts.remove(&(key, ContactRole::Tech));
            if let Some(d) = zone.as_ref().and_then(|z| z.delegation(&record.label)) {
                record.delegation = d;
            }
        }
        Ok(records)
    }

    /// Every TLD record, by label, without contacts and delegation: for lists that show
    /// neither (the portal's TLD list), at a fraction of [`Store::tlds`]'s cost (no zone read).
    pub fn tld_rows(&self) -> Result<Vec<TldRecord>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {TLD_COLUMNS} FROM tlds ORDER BY label"))?;
        let mut rows = stmt.query([])?;
        let mut records = Vec::new();
        while let Some(row) = rows.next()? {
            records.push(tld_from_row(row)?);
        }
        Ok(records)
    }

    /// One TLD record with its contacts and current delegation.
    pub fn tld(&self, label: &TldLabel) -> Result<Option<TldRecord>> {
        tld_record(&self.conn, label)
    }

    /// Adds or updates TLD records and their contacts in one transaction. Each added or
    /// changed record is a `tld-record-changed` event in the audit trail.
    pub fn import_tlds(
        &mut self,
        records: &[TldRecord],
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<TldImportReport> {
        self.write(|tx| {
            let report = import_tlds_tx(tx, records, now)?;
            let changed: std::collections::BTreeSet<&TldLabel> =
                report.added.iter().chain(report.updated.iter()).collect();
            let mut events = Vec::new();
            for record in records.iter().filter(|r| changed.contains(&r.label)) {
                let mut payload = serde_json::to_value(record).map_err(corrupt)?;
                if let Some(map) = payload.as_object_mut() {
                    map.remove("delegation");
                    let change = if report.added.contains(&record.label) {
                        "added"
                    } else {
                        "updated"
                    };
                    map.insert("change".into(), change.into());
                }
                events.push(
                    NewEvent::of(actor.clone(), crate::audit::Kind::TldRecordChanged, payload)
                        .at(now)
                        .tld(record.label.as_str()),
                );
            }
            append_events(tx, &events)?;
            Ok(report)
        })
    }
}

/// The import inside a caller's transaction. The records' delegations are ignored: they come
/// from the root zone.
pub fn import_tlds_tx(
    tx: &Transaction<'_>,
    records: &[TldRecord],
    now: OffsetDateTime,
) -> Result<TldImportReport> {
    let mut report = TldImportReport::default();
    let existing = {
        let mut stmt = tx.prepare(&format!("SELECT {TLD_COLUMNS} FROM tlds"))?;
        let mut rows = stmt.query([])?;
        let mut map = BTreeMap::new();
        while let Some(row) = rows.next()? {
            let record = tld_from_row(row)?;
            map.insert(record.label.clone(), record);
        }
        map
    };
    let contacts = read_contacts(tx)?;
    let now = timestamp(now);
    let mut upsert = tx.prepare_cached(
        "INSERT INTO tlds (label, type, tag, country, status, sponsor, created, updated, recorded_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
         ON CONFLICT (label) DO UPDATE SET type = ?2, tag = ?3, country = ?4, status = ?5, \
         sponsor = ?6, created = ?7, updated = ?8, recorded_at = ?9",
    )?;
    let mut upsert_contact = tx.prepare_cached(
        "INSERT INTO contacts (handle, organisation, name, email, phone, address) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (handle) DO UPDATE SET \
         organisation = ?2, name = ?3, email = ?4, phone = ?5, address = ?6",
    )?;
    let mut set_role = tx.prepare_cached(SET_ROLE)?;
    let mut clear_role =
        tx.prepare_cached("DELETE FROM tld_contacts WHERE tld = ?1 AND role = ?2")?;
    for record in records {
        let label = record.label.as_str();
        let old = existing.get(&record.label);
        let same_record = old.is_some_and(|o| {
            o.kind == record.kind
                && o.tag == record.tag
                && o.country == record.country
                && o.status == record.status
                && o.sponsor == record.sponsor
                && o.created == record.created
                && o.updated == record.updated
        });
        let same_contacts = [
            (ContactRole::Admin, &record.admin),
            (ContactRole::Tech, &record.tech),
        ]
        .iter()
        .all(|(role, c)| contacts.get(&(label.to_string(), *role)) == c.as_ref());
        if same_record && same_contacts {
            report.unchanged += 1;
            continue;
        }
        upsert.execute(params![
            label,
            record.kind.as_str(),
            record.tag,
            record.country,
            record.status.as_str(),
            record.sponsor,
            record.created,
            record.updated,
            now
        ])?;
        for (role, contact) in [
            (ContactRole::Admin, &record.admin),
            (ContactRole::Tech, &record.tech),
        ] {
            match contact {
                Some(c) => {
                    upsert_contact.execute(params![
                        c.handle,
                        c.organisation,
                        c.name,
                        c.email,
                        c.phone,
                        c.address
                    ])?;
                    set_role.execute(params![
                        label,
                        role.as_str(),
                        c.handle,
                        c.organisation,
                        c.name,
                        c.email,
                        c.phone,
                        c.address
                    ])?;
                }
                None => {
                    clear_role.execute(params![label, role.as_str()])?;
                }
            }
        }
        if old.is_some() {
            report.updated.push(record.label.clone());
        } else {
            report.added.push(record.label.clone());
        }
    }
    Ok(report)
}

/// Gives a TLD's role to a contact with the TLD's own record of it.
const SET_ROLE: &str = "INSERT INTO tld_contacts \
     (tld, role, contact, organisation, name, email, phone, address) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (tld, role) DO UPDATE SET \
     contact = ?3, organisation = ?4, name = ?5, email = ?6, phone = ?7, address = ?8";

/// Replaces a TLD's admin and/or tech contact (a `None` keeps the current one), inside a
/// caller's transaction.
///
/// Contact records are per TLD (IANA's model): the details go into this TLD's record of the
/// contact only, for each role it holds here. A contact another TLD also uses keeps that
/// TLD's record as it was; its entry in `contacts` (the details it was first known by) is
/// updated only when no other TLD uses it. A new handle is added to `contacts`.
pub fn set_contacts_tx(
    tx: &Transaction<'_>,
    tld: &TldLabel,
    admin: Option<&Contact>,
    tech: Option<&Contact>,
    now: OffsetDateTime,
) -> Result<()> {
    for (role, contact) in [(ContactRole::Admin, admin), (ContactRole::Tech, tech)] {
        let Some(c) = contact else { continue };
        let others: i64 = tx.query_row(
            "SELECT count(*) FROM tld_contacts WHERE contact = ?1 AND tld <> ?2",
            params![c.handle, tld.as_str()],
            |r| r.get(0),
        )?;
        let details = params![
            c.handle,
            c.organisation,
            c.name,
            c.email,
            c.phone,
            c.address
        ];
        if others == 0 {
            tx.execute(
                "INSERT INTO contacts (handle, organisation, name, email, phone, address) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (handle) DO UPDATE SET \
                 organisation = ?2, name = ?3, email = ?4, phone = ?5, address = ?6",
                details,
            )?;
        } else {
            tx.execute(
                "INSERT INTO contacts (handle, organisation, name, email, phone, address) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (handle) DO NOTHING",
                details,
            )?;
        }
        tx.execute(
            SET_ROLE,
            params![
                tld.as_str(),
                role.as_str(),
                c.handle,
                c.organisation,
                c.name,
                c.email,
                c.phone,
                c.address
            ],
        )?;
        // The same contact in this TLD's other role: one record per contact and TLD.
        tx.execute(
            "UPDATE tld_contacts SET organisation = ?3, name = ?4, email = ?5, phone = ?6, \
             address = ?7 WHERE tld = ?1 AND contact = ?2",
            params![
                tld.as_str(),
                c.handle,
                c.organisation,
                c.name,
                c.email,
                c.phone,
                c.address
            ],
        )?;
    }
    touch_tld(tx, tld, now)
}

/// Sets a TLD's sponsoring organisation, inside a caller's transaction.
pub fn set_sponsor_tx(
    tx: &Transaction<'_>,
    tld: &TldLabel,
    sponsor: &str,
    now: OffsetDateTime,
) -> Result<()> {
    tx.execute(
        "UPDATE tlds SET sponsor = ?2 WHERE label = ?1",
        params![tld.as_str(), sponsor],
    )?;
    touch_tld(tx, tld, now)
}

fn touch_tld(tx: &Transaction<'_>, tld: &TldLabel, now: OffsetDateTime) -> Result<()> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = now.format(&format).map_err(corrupt)?;
    let changed = tx.execute(
        "UPDATE tlds SET updated = ?2, recorded_at = ?3 WHERE label = ?1",
        params![tld.as_str(), date, timestamp(now)],
    )?;
    if changed == 0 {
        return Err(StoreError::NotFound(format!("TLD {tld}")));
    }
    Ok(())
}

/// One TLD record with its contacts and current delegation, read on `conn` (a transaction
/// reads what it will write against).
pub fn tld_record(conn: &rusqlite::Connection, label: &TldLabel) -> Result<Option<TldRecord>> {
    // Cached statements: RDAP and every request read come through here.
    let record = conn
        .prepare_cached(&format!("SELECT {TLD_COLUMNS} FROM tlds WHERE label = ?1"))?
        .query_row([label.as_str()], |row| Ok(tld_from_row(row)))
        .optional()?;
    let Some(record) = record else {
        return Ok(None);
    };
    let mut record = record?;
    record.admin = contact_of(conn, label, ContactRole::Admin)?;
    record.tech = contact_of(conn, label, ContactRole::Tech)?;
    record.delegation = super::zone::current_delegation(conn, label)?.unwrap_or_default();
    Ok(Some(record))
}

fn contact_of(
    conn: &rusqlite::Connection,
    label: &TldLabel,
    role: ContactRole,
) -> Result<Option<Contact>> {
    Ok(conn
        .prepare_cached(
            "SELECT contact, organisation, name, email, phone, address \
             FROM tld_contacts WHERE tld = ?1 AND role = ?2",
        )?
        .query_row(params![label.as_str(), role.as_str()], |r| {
            contact_from_row(r, 0)
        })
        .optional()?)
}

//! Root zone publications and their versioned delegation data.
//!
//! Each publication has a serial; a delegation row carries the serial from which it is
//! published (`since`) and the serial that replaced it (`until`). Publishing writes only what
//! changed, and any past serial can be rendered again.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use rusqlite::{params, OptionalExtension, Transaction};
use serde::Serialize;
use time::OffsetDateTime;

use serde_json::json;

use super::{append_events, timestamp, Result, Store, StoreError};
use crate::audit::{Actor, NewEvent};
use crate::registry::{
    Apex, Delegation, DsRecord, HostName, RootZone, Soa, TldDelegation, TldLabel, TldType, ZoneDiff,
};

/// One root zone publication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Publication {
    pub serial: u32,
    pub published_at: String,
    pub source: String,
    /// The ZONEMD digest (SHA-384, hex) of the export, recorded when it was published.
    pub zonemd: Option<String>,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum ImportOutcome {
    /// The data equals the current publication; nothing was written.
    Unchanged { serial: u32 },
    /// A new publication was recorded.
    Published {
        serial: u32,
        previous: Option<u32>,
        diff: ZoneDiff,
        /// TLD records created because the zone delegates TLDs the database did not know.
        created_tlds: Vec<TldLabel>,
    },
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} {value:?} in the database is not valid"))
}

fn host(text: String) -> Result<HostName> {
    HostName::parse(&text).map_err(|_| corrupt("host name", &text))
}

fn label(text: String) -> Result<TldLabel> {
    TldLabel::parse(&text).map_err(|_| corrupt("TLD label", &text))
}

/// Rows that belong to publication ?1.
const AT_SERIAL: &str = "since <= ?1 AND (until IS NULL OR until > ?1)";

impl Store {
    /// The serial of the current publication, if anything was ever published.
    pub fn current_serial(&self) -> Result<Option<u32>> {
        Ok(self
            .conn
            .query_row("SELECT max(serial) FROM publications", [], |r| r.get(0))?)
    }

    /// Every publication, oldest first.
    pub fn publications(&self) -> Result<Vec<Publication>> {
        let mut stmt = self.conn.prepare(
            "SELECT serial, published_at, source, zonemd FROM publications ORDER BY serial",
        )?;
        let rows = stmt.query_map([], |r| {
            let zonemd: Option<Vec<u8>> = r.get(3)?;
            Ok(Publication {
                serial: r.get(0)?,
                published_at: r.get(1)?,
                source: r.get(2)?,
                zonemd: zonemd.map(|d| data_encoding::HEXUPPER.encode(&d)),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The root zone data of publication `serial`, or of the current one.
    pub fn zone(&self, serial: Option<u32>) -> Result<Option<RootZone>> {
        read_zone(&self.conn, serial)
    }

    /// The ZONEMD digest recorded for publication `serial` (`None` for a serial published
    /// before digests were kept and not yet filled in by `rootdesk migrate`).
    pub fn recorded_digest(&self, serial: u32) -> Result<Option<Vec<u8>>> {
        Ok(self
            .conn
            .query_row(
                "SELECT zonemd FROM publications WHERE serial = ?1",
                [serial],
                |r| r.get::<_, Option<Vec<u8>>>(0),
            )
            .optional()?
            .flatten())
    }

    /// What was added and removed between publications `from` and `to`, TLD by TLD.
    pub fn serial_diff(&self, from: u32, to: u32) -> Result<SerialDiff> {
        serial_diff(&self.conn, from, to)
    }

    /// The delegation a TLD has in the current publication.
    pub fn current_delegation(&self, tld: &TldLabel) -> Result<Option<Delegation>> {
        current_delegation(&self.conn, tld)
    }

    /// Records `zone` as a new publication when its delegation data differs from the current
    /// one, in one transaction. Its serial must be newer than the current serial.
    pub fn import_zone(
        &mut self,
        zone: &RootZone,
        source: &str,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<ImportOutcome> {
        self.write(|tx| {
            let outcome = import_zone_tx(tx, zone, source, now)?;
            record_import(tx, &outcome, source, actor, now)?;
            Ok(outcome)
        })
    }
}

/// The import inside a caller's transaction, so that an audit event can join it.
pub fn import_zone_tx(
    tx: &Transaction<'_>,
    zone: &RootZone,
    source: &str,
    now: OffsetDateTime,
) -> Result<ImportOutcome> {
    let current = read_zone(tx, None)?;
    let previous = current.as_ref().map(|z| z.soa.serial);
    let diff = match &current {
        Some(old) => {
            let diff = old.diff(zone);
            if diff.is_empty() {
                return Ok(ImportOutcome::Unchanged {
                    serial: old.soa.serial,
                });
            }
            if zone.soa.serial <= old.soa.serial {
                return Err(StoreError::Conflict(format!(
                    "the zone's serial {} is not newer than the current publication {}, but its data differs; \
                     a changed zone needs a higher SOA serial",
                    zone.soa.serial, old.soa.serial
                )));
            }
            diff
        }
        None => RootZone {
            soa: zone.soa.clone(),
            apex: Apex::default(),
            tlds: BTreeMap::new(),
            hosts: BTreeMap::new(),
        }
        .diff(zone),
    };
    let created_tlds = ensure_tld_records(tx, zone, now)?;
    for removed in &diff.removed {
        tx.execute(
            "UPDATE tlds SET status = 'undelegated', recorded_at = ?2 WHERE label = ?1",
            params![removed.as_str(), timestamp(now)],
        )?;
    }
    publish_tx(tx, current.as_ref(), zone, source, now)?;
    Ok(ImportOutcome::Published {
        serial: zone.soa.serial,
        previous,
        diff,
        created_tlds,
    })
}

/// Records a publication made by an import in the audit trail: one `zone-published` event,
/// and one `delegation-changed` event for each TLD whose delegation changed, so that an
/// auditor can read a TLD's history by its label.
fn record_import(
    tx: &Transaction<'_>,
    outcome: &ImportOutcome,
    source: &str,
    actor: &Actor,
    now: OffsetDateTime,
) -> Result<()> {
    let ImportOutcome::Published {
        serial,
        previous,
        diff,
        created_tlds,
    } = outcome
    else {
        return Ok(());
    };
    let event = |kind: crate::audit::Kind, payload: serde_json::Value| {
        NewEvent::of(actor.clone(), kind, payload).at(now)
    };
    let mut events = vec![event(
        crate::audit::Kind::ZonePublished,
        json!({
            "serial": serial,
            "previous": previous,
            "source": source,
            "added": diff.added.len(),
            "removed": diff.removed.len(),
            "changed": diff.changed.len(),
            "ttl_changed": diff.ttl_changed.len(),
            "apex_changed": diff.apex_changed,
            "tld_records_created": created_tlds.len(),
        }),
    )];
    let delegation_event = |label: &TldLabel, change: &str, details: serde_json::Value| {
        event(
            crate::audit::Kind::DelegationChanged,
            json!({ "serial": serial, "change": change, "details": details }),
        )
        .tld(label.as_str())
    };
    for label in &diff.added {
        events.push(delegation_event(label, "added", serde_json::Value::Null));
    }
    for label in &diff.removed {
        events.push(delegation_event(label, "removed", serde_json::Value::Null));
    }
    for (label, changes) in &diff.changed {
        let details =
            serde_json::to_value(changes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        events.push(delegation_event(label, "changed", details));
    }
    for label in &diff.ttl_changed {
        events.push(delegation_event(
            label,
            "ttl-changed",
            serde_json::Value::Null,
        ));
    }
    append_events(tx, &events)?;
    Ok(())
}

/// Creates a minimal record for every TLD the zone delegates that has none yet: a two-letter
/// ASCII label is a ccTLD, `arpa` infrastructure, anything else a gTLD until `import-tlds`
/// says more.
fn ensure_tld_records(
    tx: &Transaction<'_>,
    zone: &RootZone,
    now: OffsetDateTime,
) -> Result<Vec<TldLabel>> {
    let mut created = Vec::new();
    let mut exists = tx.prepare_cached("SELECT 1 FROM tlds WHERE label = ?1")?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO tlds (label, type, status, recorded_at) VALUES (?1, ?2, 'active', ?3)",
    )?;
    let mut activate = tx.prepare_cached(
        "UPDATE tlds SET status = 'active', recorded_at = ?2 WHERE label = ?1 AND status != 'active'",
    )?;
    let now = timestamp(now);
    for label in zone.tlds.keys() {
        if exists.exists([label.as_str()])? {
            activate.execute(params![label.as_str(), now])?;
            continue;
        }
        let kind = match label.as_str() {
            "arpa" => TldType::Infrastructure,
            l if l.len() == 2 => TldType::Cctld,
            _ => TldType::Gtld,
        };
        insert.execute(params![label.as_str(), kind.as_str(), now])?;
        created.push(label.clone());
    }
    Ok(created)
}

/// Writes `new` as publication `new.soa.serial`: closes the rows that changed and inserts the
/// new ones.
pub fn publish_tx(
    tx: &Transaction<'_>,
    old: Option<&RootZone>,
    new: &RootZone,
    source: &str,
    now: OffsetDateTime,
) -> Result<()> {
    let serial = new.soa.serial;
    let s = &new.soa;
    let digest =
        crate::zonefile::zone_digest(new).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    tx.execute(
        "INSERT INTO publications (serial, published_at, source, soa_mname, soa_rname, soa_refresh, \
         soa_retry, soa_expire, soa_minimum, soa_ttl, zonemd) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![serial, timestamp(now), source, s.mname, s.rname, s.refresh, s.retry, s.expire, s.minimum, s.ttl, digest],
    )?;

    let (old_ns, old_ds, old_glue, old_apex) = old.map(rows_of).unwrap_or_default();
    let (new_ns, new_ds, new_glue, new_apex) = rows_of(new);

    let mut close = tx.prepare_cached(
        "UPDATE zone_ns SET until = ?1 WHERE tld = ?2 AND host = ?3 AND ttl = ?4 AND until IS NULL",
    )?;
    for (tld, host, ttl) in old_ns.difference(&new_ns) {
        close.execute(params![serial, tld, host, ttl])?;
    }
    let mut insert =
        tx.prepare_cached("INSERT INTO zone_ns (tld, host, ttl, since) VALUES (?1, ?2, ?3, ?4)")?;
    for (tld, host, ttl) in new_ns.difference(&old_ns) {
        insert.execute(params![tld, host, ttl, serial])?;
    }

    let mut close = tx.prepare_cached(
        "UPDATE zone_ds SET until = ?1 WHERE tld = ?2 AND key_tag = ?3 AND algorithm = ?4 \
         AND digest_type = ?5 AND digest = ?6 AND ttl = ?7 AND until IS NULL",
    )?;
    for (tld, ds, ttl) in old_ds.difference(&new_ds) {
        close.execute(params![
            serial,
            tld,
            ds.key_tag,
            ds.algorithm,
            ds.digest_type,
            ds.digest,
            ttl
        ])?;
    }
    let mut insert = tx.prepare_cached(
        "INSERT INTO zone_ds (tld, key_tag, algorithm, digest_type, digest, ttl, since) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for (tld, ds, ttl) in new_ds.difference(&old_ds) {
        insert.execute(params![
            tld,
            ds.key_tag,
            ds.algorithm,
            ds.digest_type,
            ds.digest,
            ttl,
            serial
        ])?;
    }

    let mut close = tx.prepare_cached(
        "UPDATE zone_glue SET until = ?1 WHERE host = ?2 AND address = ?3 AND ttl = ?4 AND until IS NULL",
    )?;
    for (host, address, ttl) in old_glue.difference(&new_glue) {
        close.execute(params![serial, host, address.to_string(), ttl])?;
    }
    let mut insert = tx.prepare_cached(
        "INSERT INTO zone_glue (host, address, ttl, since) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (host, address, ttl) in new_glue.difference(&old_glue) {
        insert.execute(params![host, address.to_string(), ttl, serial])?;
    }

    let mut close = tx.prepare_cached(
        "UPDATE zone_apex_ns SET until = ?1 WHERE host = ?2 AND ttl = ?3 AND until IS NULL",
    )?;
    for (host, ttl) in old_apex.difference(&new_apex) {
        close.execute(params![serial, host, ttl])?;
    }
    let mut insert =
        tx.prepare_cached("INSERT INTO zone_apex_ns (host, ttl, since) VALUES (?1, ?2, ?3)")?;
    for (host, ttl) in new_apex.difference(&old_apex) {
        insert.execute(params![host, ttl, serial])?;
    }
    Ok(())
}

type NsRows<'a> = BTreeSet<(&'a str, &'a str, u32)>;
type DsRows<'a> = BTreeSet<(&'a str, &'a DsRecord, u32)>;
type GlueRows<'a> = BTreeSet<(&'a str, IpAddr, u32)>;
type ApexRows<'a> = BTreeSet<(&'a str, u32)>;

/// The zone as the rows the tables hold.
fn rows_of(zone: &RootZone) -> (NsRows<'_>, DsRows<'_>, GlueRows<'_>, ApexRows<'_>) {
    let mut ns = BTreeSet::new();
    let mut ds = BTreeSet::new();
    for (label, d) in &zone.tlds {
        ns.extend(d.ns.iter().map(|h| (label.as_str(), h.as_str(), d.ns_ttl)));
        ds.extend(d.ds.iter().map(|r| (label.as_str(), r, d.ds_ttl)));
    }
    let glue = zone
        .hosts
        .iter()
        .flat_map(|(h, a)| a.iter().map(move |(ip, ttl)| (h.as_str(), *ip, *ttl)))
        .collect();
    let apex = zone
        .apex
        .ns
        .iter()
        .map(|h| (h.as_str(), zone.apex.ns_ttl))
        .collect();
    (ns, ds, glue, apex)
}

/// Reads the delegation data of one publication (the current one for `None`).
fn read_zone(conn: &rusqlite::Connection, serial: Option<u32>) -> Result<Option<RootZone>> {
    let serial = match serial {
        Some(s) => Some(s),
        None => conn.query_row("SELECT max(serial) FROM publications", [], |r| r.get(0))?,
    };
    let Some(serial) = serial else {
        return Ok(None);
    };
    let soa = conn
        .query_row(
            "SELECT soa_mname, soa_rname, soa_refresh, soa_retry, soa_expire, soa_minimum, soa_ttl \
             FROM publications WHERE serial = ?1",
            [serial],
            |r| {
                Ok(Soa {
                    mname: r.get(0)?,
                    rname: r.get(1)?,
                    serial,
                    refresh: r.get(2)?,
                    retry: r.get(3)?,
                    expire: r.get(4)?,
                    minimum: r.get(5)?,
                    ttl: r.get(6)?,
                })
            },
        )
        .optional()?;
    let Some(soa) = soa else {
        return Ok(None);
    };
    let filter = AT_SERIAL;
    let mut zone = RootZone {
        soa,
        apex: Apex::default(),
        tlds: BTreeMap::new(),
        hosts: BTreeMap::new(),
    };

    let mut stmt = conn.prepare(&format!(
        "SELECT tld, host, ttl FROM zone_ns WHERE {filter}"
    ))?;
    let mut rows = stmt.query([serial])?;
    while let Some(row) = rows.next()? {
        let entry: &mut TldDelegation = zone.tlds.entry(label(row.get(0)?)?).or_default();
        entry.ns.insert(host(row.get(1)?)?);
        entry.ns_ttl = row.get(2)?;
    }
    let mut stmt = conn.prepare(&format!(
        "SELECT tld, key_tag, algorithm, digest_type, digest, ttl FROM zone_ds WHERE {filter}"
    ))?;
    let mut rows = stmt.query([serial])?;
    while let Some(row) = rows.next()? {
        let tld = label(row.get(0)?)?;
        let ds = DsRecord::new(row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let entry = zone.tlds.entry(tld).or_default();
        entry.ds.insert(ds);
        entry.ds_ttl = row.get(5)?;
    }
    let mut stmt = conn.prepare(&format!(
        "SELECT host, address, ttl FROM zone_glue WHERE {filter}"
    ))?;
    let mut rows = stmt.query([serial])?;
    while let Some(row) = rows.next()? {
        let address: String = row.get(1)?;
        let ip: IpAddr = address.parse().map_err(|_| corrupt("address", &address))?;
        zone.hosts
            .entry(host(row.get(0)?)?)
            .or_default()
            .insert(ip, row.get(2)?);
    }
    let mut stmt = conn.prepare(&format!(
        "SELECT host, ttl FROM zone_apex_ns WHERE {filter}"
    ))?;
    let mut rows = stmt.query([serial])?;
    while let Some(row) = rows.next()? {
        zone.apex.ns.insert(host(row.get(0)?)?);
        zone.apex.ns_ttl = row.get(1)?;
    }
    Ok(Some(zone))
}

/// Records the digest of every publication that has none (those published before digests
/// were kept), computed from its delegation data.
pub fn fill_missing_digests(tx: &Transaction<'_>) -> Result<usize> {
    let serials: Vec<u32> = tx
        .prepare("SELECT serial FROM publications WHERE zonemd IS NULL ORDER BY serial")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for serial in &serials {
        if let Some(zone) = read_zone(tx, Some(*serial))? {
            let digest = crate::zonefile::zone_digest(&zone)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            tx.execute(
                "UPDATE publications SET zonemd = ?2 WHERE serial = ?1",
                params![serial, digest],
            )?;
        }
    }
    Ok(serials.len())
}

/// One record added or removed between two serials, with the publication that made the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordChange {
    /// Owner name, A-label, absolute (`xa.`, `ns1.nic.xa.`).
    pub owner: String,
    /// `NS`, `DS`, `A` or `AAAA`.
    #[serde(rename = "type")]
    pub rtype: &'static str,
    /// The RDATA in presentation form, names as A-labels.
    pub data: String,
    /// The serial that added (or removed) the record.
    pub serial: u32,
    /// The ticket of the request whose implementation made that serial; `None` for an import.
    pub ticket: Option<String>,
    /// What made that serial (`request TICKET`, `import-zone FILE`).
    pub source: String,
}

/// What changed for one TLD (or `.` for the root's own NS and their glue).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TldChanges {
    /// The A-label (`xn--p1ai`), or `.` for the apex.
    pub tld: String,
    /// The U-label of an IDN TLD, for people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub u_label: Option<String>,
    pub added: Vec<RecordChange>,
    pub removed: Vec<RecordChange>,
}

/// The differences between two serials, TLD by TLD.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SerialDiff {
    pub from: u32,
    pub to: u32,
    pub tlds: Vec<TldChanges>,
}

/// A record of some publication, keyed by its content (TTL aside), with its row's life.
type Keyed = BTreeMap<(String, &'static str, String, String), (u32, Option<u32>)>;

/// The NS, DS, glue and apex NS rows of publication `serial`, keyed by (TLD, type, owner,
/// data); a glue row is keyed under every TLD that names its host (`users`), or under the
/// TLD its name lies in when none does.
fn keyed_rows(conn: &rusqlite::Connection, serial: u32) -> Result<Keyed> {
    let mut out = Keyed::new();
    let mut users: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stmt = conn.prepare(&format!(
        "SELECT tld, host, since, until FROM zone_ns WHERE {AT_SERIAL}"
    ))?;
    let mut rows = stmt.query([serial])?;
    while let Some(r) = rows.next()? {
        let (tld, host): (String, String) = (r.get(0)?, r.get(1)?);
        users.entry(host.clone()).or_default().insert(tld.clone());
        out.insert(
            (tld.clone(), "NS", format!("{tld}."), format!("{host}.")),
            (r.get(2)?, r.get(3)?),
        );
    }
    let mut stmt = conn.prepare(&format!(
        "SELECT host, since, until FROM zone_apex_ns WHERE {AT_SERIAL}"
    ))?;
    let mut rows = stmt.query([serial])?;
    while let Some(r) = rows.next()? {
        let host: String = r.get(0)?;
        users.entry(host.clone()).or_default().insert(".".into());
        out.insert(
            (".".into(), "NS", ".".into(), format!("{host}.")),
            (r.get(1)?, r.get(2)?),
        );
    }
    let mut stmt = conn.prepare(&format!(
        "SELECT tld, key_tag, algorithm, digest_type, digest, since, until FROM zone_ds WHERE {AT_SERIAL}"
    ))?;
    let mut rows = stmt.query([serial])?;
    while let Some(r) = rows.next()? {
        let tld: String = r.get(0)?;
        let ds = DsRecord::new(r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        out.insert(
            (tld.clone(), "DS", format!("{tld}."), ds.to_string()),
            (r.get(5)?, r.get(6)?),
        );
    }
    let mut stmt = conn.prepare(&format!(
        "SELECT host, address, since, until FROM zone_glue WHERE {AT_SERIAL}"
    ))?;
    let mut rows = stmt.query([serial])?;
    while let Some(r) = rows.next()? {
        let (host, address): (String, String) = (r.get(0)?, r.get(1)?);
        let ip: IpAddr = address.parse().map_err(|_| corrupt("address", &address))?;
        let rtype = if ip.is_ipv4() { "A" } else { "AAAA" };
        let life = (r.get(2)?, r.get(3)?);
        let own = host.rsplit('.').next().unwrap_or_default().to_string();
        let tlds = users
            .get(&host)
            .cloned()
            .unwrap_or_else(|| BTreeSet::from([own]));
        for tld in tlds {
            out.insert((tld, rtype, format!("{host}."), ip.to_string()), life);
        }
    }
    Ok(out)
}

/// The differences between publications `from` and a later one, `to`.
pub fn serial_diff(conn: &rusqlite::Connection, from: u32, to: u32) -> Result<SerialDiff> {
    if from > to {
        return Err(StoreError::Conflict(format!(
            "serial {from} is newer than {to}: give the older serial first (FROM TO)"
        )));
    }
    let mut sources: BTreeMap<u32, String> = BTreeMap::new();
    for serial in [from, to] {
        let source: Option<String> = conn
            .query_row(
                "SELECT source FROM publications WHERE serial = ?1",
                [serial],
                |r| r.get(0),
            )
            .optional()?;
        if source.is_none() {
            return Err(StoreError::NotFound(format!(
                "there is no publication with serial {serial}"
            )));
        }
    }
    let mut stmt = conn.prepare("SELECT serial, source FROM publications")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        sources.insert(r.get(0)?, r.get(1)?);
    }
    let old = keyed_rows(conn, from)?;
    let new = keyed_rows(conn, to)?;
    let mut tlds: BTreeMap<String, TldChanges> = BTreeMap::new();
    let change = |key: &(String, &'static str, String, String), serial: u32| {
        let source = sources.get(&serial).cloned().unwrap_or_default();
        RecordChange {
            owner: key.2.clone(),
            rtype: key.1,
            data: key.3.clone(),
            serial,
            ticket: source.strip_prefix("request ").map(str::to_string),
            source,
        }
    };
    let entry = |tlds: &mut BTreeMap<String, TldChanges>, tld: &str| -> TldChanges {
        tlds.remove(tld).unwrap_or_else(|| TldChanges {
            tld: tld.to_string(),
            u_label: TldLabel::parse(tld)
                .ok()
                .map(|l| l.unicode())
                .filter(|u| u != tld),
            added: Vec::new(),
            removed: Vec::new(),
        })
    };
    for (key, (since, _)) in &new {
        if !old.contains_key(key) {
            let mut e = entry(&mut tlds, &key.0);
            e.added.push(change(key, *since));
            tlds.insert(key.0.clone(), e);
        }
    }
    for (key, (_, until)) in &old {
        if !new.contains_key(key) {
            // The serial that closed the row (it is closed by `to`, as `to` lacks it).
            let serial = until.unwrap_or(to);
            let mut e = entry(&mut tlds, &key.0);
            e.removed.push(change(key, serial));
            tlds.insert(key.0.clone(), e);
        }
    }
    Ok(SerialDiff {
        from,
        to,
        tlds: tlds.into_values().collect(),
    })
}

/// The glue a host has in the current publication.
pub fn host_glue(conn: &rusqlite::Connection, host: &HostName) -> Result<BTreeSet<IpAddr>> {
    let mut stmt =
        conn.prepare_cached("SELECT address FROM zone_glue WHERE host = ?1 AND until IS NULL")?;
    let rows: Vec<String> = stmt
        .query_map([host.as_str()], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    rows.iter()
        .map(|a| a.parse::<IpAddr>().map_err(|_| corrupt("address", a)))
        .collect()
}

/// The TLDs whose current delegation names `host`.
pub fn host_tlds(conn: &rusqlite::Connection, host: &HostName) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT tld FROM zone_ns WHERE host = ?1 AND until IS NULL ORDER BY tld",
    )?;
    let rows = stmt.query_map([host.as_str()], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// TTLs for records the desk publishes itself.
#[derive(Debug, Clone, Copy)]
pub struct PublishTtls {
    pub ns: u32,
    pub ds: u32,
    pub glue: u32,
}

/// The serial after `current` for a publication made on `now`'s date: `YYYYMMDD00`, or the
/// next number of the day when that is taken.
pub fn next_serial(current: Option<u32>, now: OffsetDateTime) -> u32 {
    let today = (now.year() as u32) * 1_000_000
        + u32::from(u8::from(now.month())) * 10_000
        + u32::from(now.day()) * 100;
    match current {
        Some(c) if c >= today => c + 1,
        _ => today,
    }
}

/// Publishes a new delegation for one TLD as the next serial, inside a caller's transaction:
/// the NS and DS sets are replaced; each name server given with addresses gets exactly those
/// as glue, one given without keeps the glue it has; hosts no one uses any more lose theirs.
/// Returns the new serial.
pub fn publish_delegation_tx(
    tx: &Transaction<'_>,
    tld: &TldLabel,
    delegation: &Delegation,
    source: &str,
    ttls: PublishTtls,
    now: OffsetDateTime,
) -> Result<u32> {
    let current = read_zone(tx, None)?.ok_or_else(|| {
        StoreError::Conflict("nothing has been published yet: import a root zone first".into())
    })?;
    let mut next = current.clone();
    next.soa.serial = next_serial(Some(current.soa.serial), now);
    let entry = next.tlds.entry(tld.clone()).or_insert(TldDelegation {
        ns_ttl: ttls.ns,
        ds_ttl: ttls.ds,
        ..TldDelegation::default()
    });
    entry.ns = delegation.nameservers.keys().cloned().collect();
    entry.ds = delegation.ds.clone();
    if entry.ds_ttl == 0 {
        entry.ds_ttl = ttls.ds;
    }
    for (host, addresses) in &delegation.nameservers {
        if addresses.is_empty() {
            continue;
        }
        let old = next.hosts.get(host).cloned().unwrap_or_default();
        let glue = addresses
            .iter()
            .map(|a| (*a, old.get(a).copied().unwrap_or(ttls.glue)))
            .collect();
        next.hosts.insert(host.clone(), glue);
    }
    let used: BTreeSet<HostName> = next.used_hosts().into_iter().cloned().collect();
    next.hosts.retain(|h, _| used.contains(h));
    ensure_tld_records(tx, &next, now)?;
    publish_tx(tx, Some(&current), &next, source, now)?;
    Ok(next.soa.serial)
}

/// The delegation a TLD has in the current publication (in a transaction too).
pub fn current_delegation(
    conn: &rusqlite::Connection,
    tld: &TldLabel,
) -> Result<Option<Delegation>> {
    let mut ns_stmt =
        conn.prepare_cached("SELECT host FROM zone_ns WHERE tld = ?1 AND until IS NULL")?;
    let hosts: Vec<String> = ns_stmt
        .query_map([tld.as_str()], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if hosts.is_empty() {
        return Ok(None);
    }
    let mut glue_stmt =
        conn.prepare_cached("SELECT address FROM zone_glue WHERE host = ?1 AND until IS NULL")?;
    let mut delegation = Delegation::default();
    for name in hosts {
        let addresses: Vec<String> = glue_stmt
            .query_map([&name], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let addresses = addresses
            .iter()
            .map(|a| a.parse::<IpAddr>().map_err(|_| corrupt("address", a)))
            .collect::<Result<BTreeSet<_>>>()?;
        delegation.nameservers.insert(host(name)?, addresses);
    }
    let mut ds_stmt = conn.prepare_cached(
            "SELECT key_tag, algorithm, digest_type, digest FROM zone_ds WHERE tld = ?1 AND until IS NULL",
        )?;
    let rows: Vec<(u16, u8, u8, Vec<u8>)> = ds_stmt
        .query_map([tld.as_str()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    for (tag, alg, dt, digest) in rows {
        let ds =
            DsRecord::new(tag, alg, dt, digest).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        delegation.ds.insert(ds);
    }
    Ok(Some(delegation))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    /// A database of schema version 1 (no digests) gets each publication's digest on migrate.
    #[test]
    fn migrate_records_the_digests_of_earlier_publications() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("m.db");
        let zone = crate::zonefile::parse_root_zone(
            ". 86400 IN SOA a.root-servers.net. nstld.verisign-grs.com. 2026082201 1800 900 604800 86400\n\
             . 518400 IN NS a.root-servers.net.\n\
             a.root-servers.net. 518400 IN A 198.41.0.4\n\
             xn--p1ai. 172800 IN NS a.dns.ripn.net.\n",
            std::path::Path::new("m.zone"),
        )
        .expect("parses");
        let mut store = Store::create(&path).expect("create");
        store
            .import_zone(
                &zone,
                "test",
                &Actor::system("test"),
                datetime!(2026-11-23 10:00 UTC),
            )
            .expect("import");
        let digest = crate::zonefile::zone_digest(&zone).expect("digest");
        assert_eq!(
            store.recorded_digest(2026082201).expect("read"),
            Some(digest.clone())
        );
        store
            .conn
            .execute_batch(
                "ALTER TABLE publications DROP COLUMN zonemd; \
                 DROP TABLE sweep_results; DROP TABLE sweeps; DROP TABLE tld_cds; \
                 PRAGMA user_version = 2;",
            )
            .expect("make it version 2");
        drop(store);
        let (store, from) = Store::migrate(&path).expect("migrate");
        assert_eq!(from, 2);
        assert_eq!(
            store.recorded_digest(2026082201).expect("read"),
            Some(digest)
        );
    }

    #[test]
    fn serials_count_within_the_day() {
        let now = datetime!(2026-11-23 10:00 UTC);
        assert_eq!(next_serial(None, now), 2026112300);
        assert_eq!(next_serial(Some(2026082201), now), 2026112300);
        assert_eq!(next_serial(Some(2026112300), now), 2026112301);
        assert_eq!(next_serial(Some(2026112407), now), 2026112408);
    }
}

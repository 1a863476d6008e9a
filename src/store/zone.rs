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

use super::{timestamp, Result, Store, StoreError};
use crate::registry::{
    Apex, Delegation, DsRecord, HostName, RootZone, Soa, TldDelegation, TldLabel, TldType, ZoneDiff,
};

/// One root zone publication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Publication {
    pub serial: u32,
    pub published_at: String,
    pub source: String,
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
        let mut stmt = self
            .conn
            .prepare("SELECT serial, published_at, source FROM publications ORDER BY serial")?;
        let rows = stmt.query_map([], |r| {
            Ok(Publication {
                serial: r.get(0)?,
                published_at: r.get(1)?,
                source: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The root zone data of publication `serial`, or of the current one.
    pub fn zone(&self, serial: Option<u32>) -> Result<Option<RootZone>> {
        read_zone(&self.conn, serial)
    }

    /// The delegation a TLD has in the current publication.
    pub fn current_delegation(&self, tld: &TldLabel) -> Result<Option<Delegation>> {
        let mut ns_stmt = self
            .conn
            .prepare_cached("SELECT host FROM zone_ns WHERE tld = ?1 AND until IS NULL")?;
        let hosts: Vec<String> = ns_stmt
            .query_map([tld.as_str()], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        if hosts.is_empty() {
            return Ok(None);
        }
        let mut glue_stmt = self
            .conn
            .prepare_cached("SELECT address FROM zone_glue WHERE host = ?1 AND until IS NULL")?;
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
        let mut ds_stmt = self.conn.prepare_cached(
            "SELECT key_tag, algorithm, digest_type, digest FROM zone_ds WHERE tld = ?1 AND until IS NULL",
        )?;
        let rows: Vec<(u16, u8, u8, Vec<u8>)> = ds_stmt
            .query_map([tld.as_str()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        for (tag, alg, dt, digest) in rows {
            let ds = DsRecord::new(tag, alg, dt, digest)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            delegation.ds.insert(ds);
        }
        Ok(Some(delegation))
    }

    /// Records `zone` as a new publication when its delegation data differs from the current
    /// one, in one transaction. Its serial must be newer than the current serial.
    pub fn import_zone(
        &mut self,
        zone: &RootZone,
        source: &str,
        now: OffsetDateTime,
    ) -> Result<ImportOutcome> {
        self.write(|tx| import_zone_tx(tx, zone, source, now))
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
    tx.execute(
        "INSERT INTO publications (serial, published_at, source, soa_mname, soa_rname, soa_refresh, \
         soa_retry, soa_expire, soa_minimum, soa_ttl) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![serial, timestamp(now), source, s.mname, s.rname, s.refresh, s.retry, s.expire, s.minimum, s.ttl],
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

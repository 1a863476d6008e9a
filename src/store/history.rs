//! Public history: the dates RDAP shows for a TLD, the requests of the monthly change log,
//! and a TLD's delegation at any serial (what a completed request changed).

use std::collections::BTreeSet;
use std::net::IpAddr;

use rusqlite::OptionalExtension;

use super::{Result, Store, StoreError};
use crate::registry::{Delegation, DsRecord, HostName, TldLabel};

/// When a TLD first appeared in a publication and when its delegation last changed, from the
/// serial history and the audit trail (RFC 3339, as stored).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TldDates {
    /// The publication time of the first serial that delegates the TLD.
    pub first_published: Option<String>,
    /// The latest `request-implemented` or `delegation-changed` event of the TLD, leaving out
    /// the desk's first publication (the initial load, not a change of the TLD).
    pub last_changed: Option<String>,
}

/// Final states of a request, as the change log reports them.
pub const FINAL_STATES: [&str; 5] = ["completed", "withdrawn", "rejected", "declined", "expired"];

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} {value:?} in the database is not valid"))
}

impl Store {
    /// The RDAP dates of one TLD. `first_published` is looked up only when `want_first` (it
    /// scans the NS history; RDAP needs it only for a record without a creation date).
    pub fn tld_dates(&self, tld: &TldLabel, want_first: bool) -> Result<TldDates> {
        if !want_first {
            return Ok(TldDates {
                first_published: None,
                last_changed: self.last_changed(tld)?,
            });
        }
        let first_published: Option<String> = self
            .conn
            .prepare_cached(
                "SELECT p.published_at FROM publications p \
                 WHERE p.serial = (SELECT min(since) FROM zone_ns WHERE tld = ?1)",
            )?
            .query_row([tld.as_str()], |r| r.get(0))
            .optional()?;
        Ok(TldDates {
            first_published,
            last_changed: self.last_changed(tld)?,
        })
    }

    fn last_changed(&self, tld: &TldLabel) -> Result<Option<String>> {
        let last_changed: Option<String> = self
            .conn
            .prepare_cached(
                "SELECT max(time) FROM events WHERE tld = ?1 AND (kind = 'request-implemented' \
                 OR (kind = 'delegation-changed' AND coalesce(json_extract(payload, '$.serial'), 0) \
                     != (SELECT min(serial) FROM publications)))",
            )?
            .query_row([tld.as_str()], |r| r.get(0))?;
        Ok(last_changed)
    }

    /// Tickets of the requests that reached a final state at a time whose stored text starts
    /// at or after `from` and before `until` (RFC 3339 prefixes such as `2026-11` and
    /// `2026-12`), by ticket.
    pub fn closed_requests(&self, from: &str, until: &str) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT ticket FROM requests WHERE owner IS NULL \
             AND state IN ('completed', 'withdrawn', 'rejected', 'declined', 'expired') \
             AND state_since >= ?1 AND state_since < ?2 ORDER BY ticket",
        )?;
        let rows = stmt.query_map([from, until], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The serial published just before `serial`, if any.
    pub fn previous_serial(&self, serial: u32) -> Result<Option<u32>> {
        Ok(self.conn.query_row(
            "SELECT max(serial) FROM publications WHERE serial < ?1",
            [serial],
            |r| r.get(0),
        )?)
    }

    /// The delegation `tld` had in publication `serial` (empty when it had none).
    pub fn delegation_at(&self, tld: &TldLabel, serial: u32) -> Result<Delegation> {
        const AT: &str = "since <= ?2 AND (until IS NULL OR until > ?2)";
        let conn = &self.conn;
        let mut delegation = Delegation::default();
        let hosts: Vec<String> = conn
            .prepare_cached(&format!("SELECT host FROM zone_ns WHERE tld = ?1 AND {AT}"))?
            .query_map(rusqlite::params![tld.as_str(), serial], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut glue = conn.prepare_cached(&format!(
            "SELECT address FROM zone_glue WHERE host = ?1 AND {AT}"
        ))?;
        for name in hosts {
            let addresses: Vec<String> = glue
                .query_map(rusqlite::params![name, serial], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let addresses = addresses
                .iter()
                .map(|a| a.parse::<IpAddr>().map_err(|_| corrupt("address", a)))
                .collect::<Result<BTreeSet<_>>>()?;
            let host = HostName::parse(&name).map_err(|_| corrupt("host name", &name))?;
            delegation.nameservers.insert(host, addresses);
        }
        let rows: Vec<(u16, u8, u8, Vec<u8>)> = conn
            .prepare_cached(&format!(
                "SELECT key_tag, algorithm, digest_type, digest FROM zone_ds WHERE tld = ?1 AND {AT}"
            ))?
            .query_map(rusqlite::params![tld.as_str(), serial], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        for (tag, alg, dt, digest) in rows {
            let ds = DsRecord::new(tag, alg, dt, digest)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            delegation.ds.insert(ds);
        }
        Ok(delegation)
    }
}

//! DS automation settings per TLD and the rate limit of CDS problem reports (issue 12 part 2).

use std::collections::BTreeMap;

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use time::OffsetDateTime;

use super::{append_event, timestamp, Result, StoreError};
use crate::audit::{Actor, NewEvent};
use crate::workflow::CdsMode;

/// The table, as in `schema.sql` and as migration 4 → 5 creates it.
pub const CDS_TABLES: &str = "\
CREATE TABLE tld_cds (
    tld    TEXT PRIMARY KEY REFERENCES tlds (label),
    mode   TEXT NOT NULL CHECK (mode IN ('off', 'with-consent', 'notify-only')),
    set_at TEXT NOT NULL                     -- RFC 3339, UTC
) WITHOUT ROWID;
";

/// The audit event of a reported CDS problem; its payload's `problem` is the rate limit key.
pub const CDS_PROBLEM_EVENT: &str = crate::audit::kinds::Kind::CdsProblemReported.as_str();

fn mode_of(text: &str) -> Result<CdsMode> {
    CdsMode::parse(text).map_err(StoreError::Corrupt)
}

/// A TLD's `cds` setting (off when never set).
pub fn tld_cds(conn: &Connection, tld: &str) -> Result<CdsMode> {
    let mode: Option<String> = conn
        .prepare_cached("SELECT mode FROM tld_cds WHERE tld = ?1")?
        .query_row([tld], |r| r.get(0))
        .optional()?;
    mode.as_deref()
        .map(mode_of)
        .transpose()
        .map(Option::unwrap_or_default)
}

/// Every TLD whose setting is not off.
pub fn cds_enabled(conn: &Connection) -> Result<BTreeMap<String, CdsMode>> {
    let mut stmt = conn.prepare_cached("SELECT tld, mode FROM tld_cds WHERE mode <> 'off'")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = BTreeMap::new();
    for row in rows {
        let (tld, mode) = row?;
        out.insert(tld, mode_of(&mode)?);
    }
    Ok(out)
}

/// Sets a TLD's `cds` setting, with an audit event `tld-cds-set`; returns the setting before.
pub fn set_tld_cds_tx(
    tx: &Transaction<'_>,
    tld: &str,
    mode: CdsMode,
    actor: &Actor,
    now: OffsetDateTime,
) -> Result<CdsMode> {
    let known: Option<String> = tx
        .prepare_cached("SELECT label FROM tlds WHERE label = ?1")?
        .query_row([tld], |r| r.get(0))
        .optional()?;
    if known.is_none() {
        return Err(StoreError::NotFound(format!(
            "TLD {tld} (`rootdesk tld list` shows the TLDs)"
        )));
    }
    let before = tld_cds(tx, tld)?;
    tx.execute(
        "INSERT INTO tld_cds (tld, mode, set_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (tld) DO UPDATE SET mode = excluded.mode, set_at = excluded.set_at",
        params![tld, mode.as_str(), timestamp(now)],
    )?;
    append_event(
        tx,
        &NewEvent::of(
            actor.clone(),
            crate::audit::kinds::Kind::TldCdsSet,
            serde_json::json!({ "tld": tld, "before": before, "cds": mode }),
        )
        .at(now)
        .tld(tld),
    )?;
    Ok(before)
}

/// When `problem` was last reported for `tld`, if ever.
pub fn last_cds_report(conn: &Connection, tld: &str, problem: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached(
            "SELECT time FROM events WHERE tld = ?1 AND kind = ?2 \
             AND json_extract(payload, '$.problem') = ?3 ORDER BY seq DESC LIMIT 1",
        )?
        .query_row(params![tld, CDS_PROBLEM_EVENT, problem], |r| r.get(0))
        .optional()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_holds_the_tables_of_the_migration() {
        assert!(super::super::SCHEMA.contains(CDS_TABLES));
    }
}

//! The sweep's history: every sweep's verdict and findings per TLD (issue 12).

use std::collections::BTreeMap;

use rusqlite::{params, OptionalExtension};

use super::{Result, Store};

/// The tables, as in `schema.sql` and as migration 1 → 2 creates them.
pub const SWEEP_TABLES: &str = "\
CREATE TABLE sweeps (
    id         INTEGER PRIMARY KEY,
    started    TEXT NOT NULL,                -- RFC 3339, UTC
    elapsed_ms INTEGER NOT NULL,
    queries    INTEGER NOT NULL,             -- queries sent to the network
    tlds       INTEGER NOT NULL
);
CREATE TABLE sweep_results (
    sweep      INTEGER NOT NULL REFERENCES sweeps (id),
    tld        TEXT NOT NULL,                -- A-label
    verdict    TEXT NOT NULL CHECK (verdict IN ('pass', 'warn', 'fail', 'not-run')),
    report     TEXT NOT NULL,                -- JSON: checks, not_run, findings (no query log)
    PRIMARY KEY (sweep, tld)
) WITHOUT ROWID;
CREATE INDEX sweep_results_by_tld ON sweep_results (tld, sweep);
";

/// One TLD's result in a sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepResult {
    pub sweep: i64,
    pub started: String,
    pub tld: String,
    pub verdict: String,
    pub report: serde_json::Value,
}

impl Store {
    /// Stores one sweep and its results per TLD, in one transaction; returns the sweep's id.
    pub fn record_sweep(
        &mut self,
        started: &str,
        elapsed_ms: u64,
        queries: u64,
        results: &[(String, String, serde_json::Value)],
    ) -> Result<i64> {
        self.write(|tx| record_sweep_tx(tx, started, elapsed_ms, queries, results))
    }

    /// Each TLD's verdict in the newest sweep that checked it.
    pub fn last_sweep_verdicts(&self) -> Result<BTreeMap<String, String>> {
        last_sweep_verdicts_tx(self.conn())
    }

    /// A TLD's results, newest first, at most `limit`.
    pub fn sweep_history(&self, tld: &str, limit: u32) -> Result<Vec<SweepResult>> {
        let mut stmt = self.conn().prepare(
            "SELECT r.sweep, s.started, r.tld, r.verdict, r.report FROM sweep_results r \
             JOIN sweeps s ON s.id = r.sweep WHERE r.tld = ?1 ORDER BY r.sweep DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![tld, limit], |r| {
            let text: String = r.get(4)?;
            Ok(SweepResult {
                sweep: r.get(0)?,
                started: r.get(1)?,
                tld: r.get(2)?,
                verdict: r.get(3)?,
                report: serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// TLDs by verdict in sweep `id`.
    pub fn sweep_counts(&self, id: i64) -> Result<BTreeMap<String, i64>> {
        let mut stmt = self.conn().prepare(
            "SELECT verdict, count(*) FROM sweep_results WHERE sweep = ?1 GROUP BY verdict",
        )?;
        let rows = stmt.query_map(params![id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The newest sweep, if any.
    pub fn last_sweep(&self) -> Result<Option<SweepSummary>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT id, started, elapsed_ms, queries, tlds FROM sweeps ORDER BY id DESC LIMIT 1",
                [],
                |r| {
                    Ok(SweepSummary {
                        id: r.get(0)?,
                        started: r.get(1)?,
                        elapsed_ms: r.get(2)?,
                        queries: r.get(3)?,
                        tlds: r.get(4)?,
                    })
                },
            )
            .optional()?)
    }
}

/// One sweep as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepSummary {
    pub id: i64,
    pub started: String,
    pub elapsed_ms: i64,
    pub queries: i64,
    pub tlds: i64,
}

/// [`Store::record_sweep`] inside a caller's transaction, so that audit events and notices
/// can join it.
pub fn record_sweep_tx(
    tx: &rusqlite::Transaction<'_>,
    started: &str,
    elapsed_ms: u64,
    queries: u64,
    results: &[(String, String, serde_json::Value)],
) -> Result<i64> {
    tx.execute(
        "INSERT INTO sweeps (started, elapsed_ms, queries, tlds) VALUES (?1, ?2, ?3, ?4)",
        params![
            started,
            i64::try_from(elapsed_ms).unwrap_or(i64::MAX),
            i64::try_from(queries).unwrap_or(i64::MAX),
            results.len() as i64
        ],
    )?;
    let id = tx.last_insert_rowid();
    let mut insert = tx.prepare(
        "INSERT INTO sweep_results (sweep, tld, verdict, report) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (tld, verdict, report) in results {
        insert.execute(params![id, tld, verdict, report.to_string()])?;
    }
    Ok(id)
}

/// Each TLD's verdict in the newest sweep that checked it, inside a transaction.
pub fn last_sweep_verdicts_tx(conn: &rusqlite::Connection) -> Result<BTreeMap<String, String>> {
    let mut stmt = conn.prepare(
        "SELECT r.tld, r.verdict FROM sweep_results r \
         WHERE r.sweep = (SELECT max(sweep) FROM sweep_results WHERE tld = r.tld)",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The kinds of the sweep's watch events (`src/watch.rs`), which hold whether a TLD's
/// failure has been reported.
pub const WATCH_EVENT_KINDS: [&str; 3] = [
    crate::audit::kinds::Kind::DelegationFailing.as_str(),
    crate::audit::kinds::Kind::DelegationReminder.as_str(),
    crate::audit::kinds::Kind::DelegationRecovered.as_str(),
];

/// Where the sweep's watch stands for one TLD, from its audit events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchState {
    /// Kind and time (RFC 3339) of the TLD's newest watch event.
    pub last_kind: String,
    pub last_time: String,
    /// Time of its newest `delegation-failing` event, if any.
    pub failing_since: Option<String>,
}

/// Every TLD's watch state, from the watch events (the event log is the truth; no table of
/// its own), inside a transaction.
pub fn watch_states_tx(conn: &rusqlite::Connection) -> Result<BTreeMap<String, WatchState>> {
    let mut stmt = conn.prepare(
        "SELECT tld, kind, time FROM events WHERE kind IN (?1, ?2, ?3) AND tld IS NOT NULL \
         ORDER BY seq",
    )?;
    let [a, b, c] = WATCH_EVENT_KINDS;
    let rows = stmt.query_map(params![a, b, c], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    let mut states: BTreeMap<String, WatchState> = BTreeMap::new();
    for row in rows {
        let (tld, kind, time) = row?;
        let failing = kind == WATCH_EVENT_KINDS[0];
        let state = states.entry(tld).or_insert_with(|| WatchState {
            last_kind: String::new(),
            last_time: String::new(),
            failing_since: None,
        });
        if failing {
            state.failing_since = Some(time.clone());
        }
        state.last_kind = kind;
        state.last_time = time;
    }
    Ok(states)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_holds_the_migration_text() {
        assert!(super::super::SCHEMA.contains(SWEEP_TABLES));
    }

    #[test]
    fn a_version_3_database_migrates_and_keeps_history() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.db");
        drop(Store::create(&path).expect("create"));
        {
            // Back to version 3: the schema before the sweep tables.
            let conn = rusqlite::Connection::open(&path).expect("raw");
            conn.execute_batch(
                "DROP TABLE sweep_results; DROP TABLE sweeps; DROP TABLE tld_cds; \
                 PRAGMA user_version = 3;",
            )
            .expect("downgrade");
        }
        assert!(Store::open(&path).is_err());
        let (mut store, from) = Store::migrate(&path).expect("migrate");
        assert_eq!(from, 3);
        let report = serde_json::json!({"findings": []});
        store
            .record_sweep(
                "2026-12-03T12:00:00Z",
                10,
                4,
                &[("xa".into(), "pass".into(), report.clone())],
            )
            .expect("first");
        store
            .record_sweep(
                "2026-12-03T12:05:00Z",
                10,
                4,
                &[("xa".into(), "fail".into(), report)],
            )
            .expect("second");
        let last = store.last_sweep_verdicts().expect("last");
        assert_eq!(last.get("xa").map(String::as_str), Some("fail"));
        let history = store.sweep_history("xa", 10).expect("history");
        assert_eq!(history.len(), 2);
        assert_eq!(history[0].verdict, "fail");
        assert_eq!(history[1].verdict, "pass");
        let last = store.last_sweep().expect("last sweep").expect("one");
        assert_eq!((last.tlds, last.queries), (1, 4));
    }
}

//! Change requests: their events (in the audit trail), the projection table, check jobs and
//! evidence documents.

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::{timestamp, Result, Store, StoreError};
use crate::audit::{Actor, NewEvent};
use crate::registry::TldLabel;
use crate::workflow::{CheckPhase, Recorded, Request, RequestKind, Verdict};

/// The indexes behind paged request lists and the next ticket number (migration 5 -> 6; also
/// in schema.sql).
pub const PAGING_INDEXES: &str =
    "CREATE INDEX IF NOT EXISTS requests_by_tld_ticket ON requests (tld, ticket);
     CREATE INDEX IF NOT EXISTS requests_open ON requests (ticket) WHERE owner IS NOT NULL;
     CREATE INDEX IF NOT EXISTS requests_open_by_tld ON requests (tld, ticket)
         WHERE owner IS NOT NULL;
     CREATE INDEX IF NOT EXISTS requests_by_day_number
         ON requests (substr(ticket, 1, 12), CAST(substr(ticket, 13) AS INTEGER));";

/// One line of a request listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RequestSummary {
    pub ticket: String,
    pub tld: String,
    pub kind: String,
    pub priority: String,
    pub state: String,
    pub owner: Option<String>,
    pub revision: u32,
    pub submitted_at: String,
    pub state_since: String,
}

/// Which requests to list.
#[derive(Debug, Clone, Default)]
pub struct RequestFilter {
    /// Only these TLDs (`None`: all).
    pub tlds: Option<Vec<String>>,
    /// Only these states (empty: any).
    pub states: Vec<String>,
    /// Only requests this party must act on now: `tld` or `desk`.
    pub owner: Option<String>,
    pub open_only: bool,
    pub limit: u32,
    /// Keyset paging: only tickets before this one (the list is newest first).
    pub before: Option<String>,
}

/// A check the daemon has to run, or has run.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct CheckJob {
    pub id: i64,
    pub ticket: String,
    pub revision: u32,
    pub phase: CheckPhase,
    pub created_at: String,
    pub finished_at: Option<String>,
    pub verdict: Option<Verdict>,
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn phase_str(phase: CheckPhase) -> &'static str {
    match phase {
        CheckPhase::Initial => "initial",
        CheckPhase::Supplemental => "supplemental",
    }
}

fn verdict_str(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "pass",
        Verdict::Warn => "warn",
        Verdict::Fail => "fail",
    }
}

fn enum_text<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

/// The ticket prefix of `now`'s day: `RD-YYYYMMDD-`.
pub fn ticket_day(now: OffsetDateTime) -> String {
    format!(
        "RD-{:04}{:02}{:02}-",
        now.year(),
        u8::from(now.month()),
        now.day()
    )
}

/// Ticket number `n` of `day`: four digits at least, more after 9,999 in a day.
pub fn ticket_of(day: &str, n: i64) -> String {
    format!("{day}{n:04}")
}

/// The next ticket of the day: `RD-YYYYMMDD-NNNN`.
pub fn next_ticket(tx: &Transaction<'_>, now: OffsetDateTime) -> Result<String> {
    let day = ticket_day(now);
    let next = last_ticket_number(tx, &day)? + 1;
    let ticket = ticket_of(&day, next);
    // The writer holds the database (an immediate transaction), so a ticket found free here
    // is still free at the insert; a ticket in use is an error, never a merge.
    let taken: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM requests WHERE ticket = ?1)",
        [&ticket],
        |r| r.get(0),
    )?;
    if taken {
        return Err(StoreError::Conflict(format!(
            "ticket {ticket} is already in use; nothing was recorded, submit again"
        )));
    }
    Ok(ticket)
}

/// The highest ticket number in use with the day prefix `day` (`RD-YYYYMMDD-`), 0 if none.
pub fn last_ticket_number(conn: &Connection, day: &str) -> Result<i64> {
    // Numerically: as text, "...-9999" sorts after "...-10000", which handed out 10000 again
    // and again. Four digits at least, more after 9,999 in a day.
    // With the 12-character prefix of every four-digit year, the expression index
    // `requests_by_day_number` answers this from one entry; the general form reads every
    // request (it did on every submission, the longer the history the slower).
    let last: Option<i64> = if day.len() == 12 {
        conn.query_row(
            "SELECT max(CAST(substr(ticket, 13) AS INTEGER)) FROM requests \
             WHERE substr(ticket, 1, 12) = ?1",
            params![&day],
            |r| r.get(0),
        )
    } else {
        conn.query_row(
            "SELECT max(CAST(substr(ticket, ?2) AS INTEGER)) FROM requests \
             WHERE substr(ticket, 1, ?3) = ?1",
            params![&day, day.len() as i64 + 1, day.len() as i64],
            |r| r.get(0),
        )
    }
    .optional()?
    .flatten();
    Ok(last.unwrap_or(0))
}

/// The audit event of one recorded workflow step of a request: the one place `request-*`
/// events are made (the desk and the simulation both append them with
/// [`append_events`](super::append_events)).
pub fn request_event(
    tld: &str,
    ticket: &str,
    recorded: &Recorded,
    actor: Actor,
    source: Option<&str>,
) -> Result<NewEvent> {
    let payload = serde_json::to_value(recorded).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let mut event = NewEvent::new(actor, recorded.event.kind(), payload)
        .at(recorded.time)
        .tld(tld)
        .request(ticket);
    if let Some(source) = source {
        event = event.source(source);
    }
    Ok(event)
}

/// The workflow events of a request, oldest first, read from the audit trail.
pub fn request_events(conn: &rusqlite::Connection, ticket: &str) -> Result<Vec<Recorded>> {
    let mut stmt = conn.prepare_cached(
        "SELECT payload FROM events WHERE request = ?1 AND kind LIKE 'request-%' ORDER BY seq",
    )?;
    let rows = stmt.query_map([ticket], |r| r.get::<_, String>(0))?;
    let mut events = Vec::new();
    for payload in rows {
        let payload = payload?;
        events.push(serde_json::from_str(&payload).map_err(|e| {
            corrupt(format!(
                "event of {ticket} does not read as a workflow event: {e}"
            ))
        })?);
    }
    Ok(events)
}

/// Writes the projection of `request`.
pub fn save_request(
    tx: &Transaction<'_>,
    request: &Request,
    idempotency: Option<(&str, &str)>,
) -> Result<()> {
    let submitter = serde_json::to_string(&request.submitter).map_err(corrupt)?;
    let (token, key) = idempotency.map_or((None, None), |(t, k)| (Some(t), Some(k)));
    tx.execute(
        "INSERT INTO requests (ticket, tld, kind, priority, state, owner, revision, submitter, \
         submitted_at, state_since, token, idempotency_key) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) \
         ON CONFLICT (ticket) DO UPDATE SET state = ?5, owner = ?6, revision = ?7, state_since = ?10",
        params![
            request.ticket,
            request.tld,
            enum_text(&request.kind),
            enum_text(&request.priority),
            request.state.as_str(),
            request.owner.as_ref().map(enum_text),
            request.revision(),
            submitter,
            timestamp(request.submitted_at),
            timestamp(request.state_since),
            token,
            key,
        ],
    )?;
    Ok(())
}

/// The ticket an earlier submission with the same token and Idempotency-Key created.
pub fn idempotent_ticket(tx: &Transaction<'_>, token: &str, key: &str) -> Result<Option<String>> {
    Ok(tx
        .query_row(
            "SELECT ticket FROM requests WHERE token = ?1 AND idempotency_key = ?2",
            [token, key],
            |r| r.get(0),
        )
        .optional()?)
}

/// The TLD's open requests other than `except`.
pub fn open_requests(
    conn: &rusqlite::Connection,
    tld: &str,
    except: Option<&str>,
) -> Result<Vec<(String, RequestKind)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT ticket, kind FROM requests WHERE tld = ?1 AND owner IS NOT NULL AND ticket IS NOT ?2",
    )?;
    let rows = stmt.query_map(params![tld, except], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut open = Vec::new();
    for row in rows {
        let (ticket, kind) = row?;
        let kind: RequestKind =
            serde_json::from_value(serde_json::Value::String(kind)).map_err(corrupt)?;
        open.push((ticket, kind));
    }
    Ok(open)
}

/// Handles of the TLD's current admin and tech contacts.
pub fn tld_contact_handles(conn: &rusqlite::Connection, tld: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT contact FROM tld_contacts WHERE tld = ?1")?;
    let rows = stmt.query_map([tld], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The TLDs on which a contact holds a role.
pub fn contact_tlds(conn: &rusqlite::Connection, handle: &str) -> Result<Vec<String>> {
    let mut stmt = conn
        .prepare_cached("SELECT DISTINCT tld FROM tld_contacts WHERE contact = ?1 ORDER BY tld")?;
    let rows = stmt.query_map([handle], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Queues a check of a request's revision.
pub fn enqueue_check(
    tx: &Transaction<'_>,
    ticket: &str,
    revision: u32,
    phase: CheckPhase,
    now: OffsetDateTime,
) -> Result<i64> {
    tx.execute(
        "INSERT INTO check_jobs (ticket, revision, phase, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![ticket, revision, phase_str(phase), timestamp(now)],
    )?;
    Ok(tx.last_insert_rowid())
}

/// Records a finished check with its full report.
pub fn finish_check(
    tx: &Transaction<'_>,
    id: i64,
    verdict: Verdict,
    report: &serde_json::Value,
    now: OffsetDateTime,
) -> Result<()> {
    let changed = tx.execute(
        "UPDATE check_jobs SET finished_at = ?2, verdict = ?3, report = ?4 WHERE id = ?1 AND finished_at IS NULL",
        params![id, timestamp(now), verdict_str(verdict), report.to_string()],
    )?;
    if changed == 0 {
        return Err(StoreError::Conflict(format!(
            "check {id} is already finished"
        )));
    }
    Ok(())
}

/// Closes a check whose request moved on before it ran: no verdict.
pub fn close_stale_check(tx: &Transaction<'_>, id: i64, now: OffsetDateTime) -> Result<()> {
    tx.execute(
        "UPDATE check_jobs SET finished_at = ?2, report = '{\"stale\":true}' WHERE id = ?1 AND finished_at IS NULL",
        params![id, timestamp(now)],
    )?;
    Ok(())
}

/// Stores an evidence document; returns its hex SHA-256.
pub fn store_document(
    tx: &Transaction<'_>,
    content: &[u8],
    media_type: &str,
    now: OffsetDateTime,
) -> Result<String> {
    let sha256 = data_encoding::HEXLOWER.encode(&Sha256::digest(content));
    tx.execute(
        "INSERT INTO documents (sha256, media_type, content, stored_at) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (sha256) DO NOTHING",
        params![sha256, media_type, content, timestamp(now)],
    )?;
    Ok(sha256)
}

/// Whether a document with this hash is stored.
pub fn has_document(conn: &rusqlite::Connection, sha256: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM documents WHERE sha256 = ?1")?
        .exists([sha256.to_ascii_lowercase()])?)
}

fn job_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CheckJob> {
    let phase: String = r.get(3)?;
    let verdict: Option<String> = r.get(6)?;
    Ok(CheckJob {
        id: r.get(0)?,
        ticket: r.get(1)?,
        revision: r.get(2)?,
        phase: if phase == "supplemental" {
            CheckPhase::Supplemental
        } else {
            CheckPhase::Initial
        },
        created_at: r.get(4)?,
        finished_at: r.get(5)?,
        verdict: verdict.map(|v| match v.as_str() {
            "pass" => Verdict::Pass,
            "warn" => Verdict::Warn,
            _ => Verdict::Fail,
        }),
    })
}

const JOB_COLUMNS: &str = "id, ticket, revision, phase, created_at, finished_at, verdict";

impl Store {
    /// A request replayed from its events.
    pub fn request(&self, ticket: &str) -> Result<Option<Request>> {
        let events = request_events(&self.conn, ticket)?;
        Ok(Request::replay(&events))
    }

    /// The recorded events of a request.
    pub fn request_history(&self, ticket: &str) -> Result<Vec<Recorded>> {
        request_events(&self.conn, ticket)
    }

    /// Requests by filter, newest first.
    pub fn requests(&self, filter: &RequestFilter) -> Result<Vec<RequestSummary>> {
        let mut sql = String::from(
            "SELECT ticket, tld, kind, priority, state, owner, revision, submitted_at, state_since \
             FROM requests WHERE 1 = 1",
        );
        let mut values: Vec<String> = Vec::new();
        if let Some(tlds) = &filter.tlds {
            if tlds.is_empty() {
                return Ok(Vec::new());
            }
            sql.push_str(&format!(
                " AND tld IN ({})",
                vec!["?"; tlds.len()].join(", ")
            ));
            values.extend(tlds.iter().cloned());
        }
        if !filter.states.is_empty() {
            sql.push_str(&format!(
                " AND state IN ({})",
                vec!["?"; filter.states.len()].join(", ")
            ));
            values.extend(filter.states.iter().cloned());
        }
        if let Some(owner) = &filter.owner {
            sql.push_str(" AND owner = ?");
            values.push(owner.clone());
        }
        if filter.open_only {
            sql.push_str(" AND owner IS NOT NULL");
        }
        if let Some(before) = &filter.before {
            sql.push_str(" AND ticket < ?");
            values.push(before.clone());
        }
        // Indexes on (tld, ticket), (state, ticket) and the open requests by ticket: a page
        // reads about `limit` rows, however many requests the TLD has had.
        sql.push_str(" ORDER BY ticket DESC");
        let limit = if filter.limit == 0 {
            1000
        } else {
            filter.limit
        };
        sql.push_str(&format!(" LIMIT {limit}"));
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(values.iter()), |r| {
            Ok(RequestSummary {
                ticket: r.get(0)?,
                tld: r.get(1)?,
                kind: r.get(2)?,
                priority: r.get(3)?,
                state: r.get(4)?,
                owner: r.get(5)?,
                revision: r.get(6)?,
                submitted_at: r.get(7)?,
                state_since: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Checks not finished yet, oldest first: what a restarted daemon resumes.
    pub fn pending_checks(&self) -> Result<Vec<CheckJob>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {JOB_COLUMNS} FROM check_jobs WHERE finished_at IS NULL ORDER BY id"
        ))?;
        let rows = stmt.query_map([], job_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The checks of one request, with their reports.
    pub fn checks_of(&self, ticket: &str) -> Result<Vec<(CheckJob, Option<serde_json::Value>)>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {JOB_COLUMNS}, report FROM check_jobs WHERE ticket = ?1 ORDER BY id"
        ))?;
        let rows = stmt.query_map([ticket], |r| {
            let report: Option<String> = r.get(7)?;
            Ok((job_from_row(r)?, report))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (job, report) = row?;
            let report = report
                .map(|text| serde_json::from_str(&text).map_err(corrupt))
                .transpose()?;
            out.push((job, report));
        }
        Ok(out)
    }

    /// The TLDs a contact holds roles on.
    pub fn contact_tlds(&self, handle: &str) -> Result<Vec<String>> {
        contact_tlds(&self.conn, handle)
    }

    /// Whether a TLD record exists.
    pub fn tld_exists(&self, label: &TldLabel) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM tlds WHERE label = ?1")?
            .exists([label.as_str()])?)
    }
}

#[cfg(test)]
mod paging_tests {
    use super::*;

    fn plan(store: &Store, sql: &str) -> String {
        let mut stmt = store
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("plan");
        let rows = stmt.query_map([], |r| r.get::<_, String>(3)).expect("rows");
        rows.map(|r| r.expect("row")).collect::<Vec<_>>().join("; ")
    }

    #[test]
    fn a_version_5_database_migrates_to_paged_lists() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.db");
        drop(Store::create(&path).expect("create"));
        {
            // Back to version 5: the schema before the paging indexes.
            let conn = rusqlite::Connection::open(&path).expect("raw");
            conn.execute_batch(
                "DROP INDEX requests_by_tld_ticket; DROP INDEX requests_open; \
                 DROP INDEX requests_by_day_number; DROP INDEX requests_open_by_tld; \
                 PRAGMA user_version = 5;",
            )
            .expect("downgrade");
        }
        assert!(Store::open(&path).is_err());
        let (store, from) = Store::migrate(&path).expect("migrate");
        assert_eq!(from, 5);
        // A TLD's page and the open requests are read in ticket order from an index, with
        // no sort of every request the TLD has had.
        let by_tld = plan(
            &store,
            "SELECT ticket FROM requests WHERE tld = 'xa' AND ticket < 'RD-9' ORDER BY ticket DESC LIMIT 101",
        );
        assert!(by_tld.contains("requests_by_tld_ticket"), "{by_tld}");
        assert!(!by_tld.contains("TEMP B-TREE"), "{by_tld}");
        let open = plan(
            &store,
            "SELECT ticket FROM requests WHERE owner IS NOT NULL ORDER BY ticket DESC LIMIT 101",
        );
        assert!(open.contains("requests_open"), "{open}");
        assert!(!open.contains("TEMP B-TREE"), "{open}");
        // A submission's look for the TLD's open requests reads only those.
        let open_of_tld = plan(
            &store,
            "SELECT ticket, kind FROM requests WHERE tld = 'xa' AND owner IS NOT NULL AND ticket IS NOT NULL",
        );
        assert!(
            open_of_tld.contains("requests_open_by_tld"),
            "{open_of_tld}"
        );
        // The next ticket number: a search of one index, not a scan of every request.
        let number = plan(
            &store,
            "SELECT max(CAST(substr(ticket, 13) AS INTEGER)) FROM requests \
             WHERE substr(ticket, 1, 12) = 'RD-20261203-'",
        );
        assert!(number.contains("requests_by_day_number"), "{number}");
        assert!(!number.starts_with("SCAN requests"), "{number}");
    }
}

//! Reads for the timeliness metrics: the workflow events in log order, and check durations.

use rusqlite::types::ValueRef;

use super::{Result, Store, StoreError};
use crate::workflow::{CheckPhase, Recorded};

fn text<'r>(value: ValueRef<'r>, what: &str) -> Result<&'r str> {
    match value {
        ValueRef::Text(bytes) => std::str::from_utf8(bytes)
            .map_err(|_| StoreError::Corrupt(format!("{what} is not UTF-8"))),
        _ => Err(StoreError::Corrupt(format!("{what} is not text"))),
    }
}

/// The time and notification kind of a `notification-delivered` event.
pub fn parse_delivery(time: &str, payload: &str) -> Result<(time::OffsetDateTime, String)> {
    let at = time::OffsetDateTime::parse(time, &time::format_description::well_known::Rfc3339)
        .map_err(|e| StoreError::Corrupt(format!("event time {time:?}: {e}")))?;
    let value: serde_json::Value = serde_json::from_str(payload)
        .map_err(|e| StoreError::Corrupt(format!("a notification event is not JSON: {e}")))?;
    let kind = value["kind"].as_str().unwrap_or_default().to_string();
    Ok((at, kind))
}

/// What a request's timeline is derived from ([`Store::timeline_inputs`]), oldest first.
#[derive(Debug, Default)]
pub struct TimelineInputs {
    pub events: Vec<(u64, Recorded)>,
    /// Completion notices delivered.
    pub notices: Vec<(u64, time::OffsetDateTime)>,
}

impl Store {
    /// Calls `f` with the ticket and the parsed workflow event of every `request-*` event, in
    /// sequence order.
    pub fn scan_request_events(
        &self,
        mut f: impl FnMut(&str, Recorded) -> Result<()>,
    ) -> Result<()> {
        self.scan_request_payloads(|ticket, payload| {
            let recorded: Recorded = serde_json::from_str(payload).map_err(|e| {
                StoreError::Corrupt(format!(
                    "event of {ticket} does not read as a workflow event: {e}"
                ))
            })?;
            f(ticket, recorded)
        })
    }

    /// Calls `f` with the ticket and the raw payload of every `request-*` event, in sequence
    /// order, without copying either.
    pub fn scan_request_payloads(&self, mut f: impl FnMut(&str, &str) -> Result<()>) -> Result<()> {
        self.conn().pragma_update(None, "mmap_size", 1_i64 << 30)?;
        let mut stmt = self.conn().prepare_cached(
            "SELECT request, payload FROM events \
             WHERE +kind >= 'request-' AND +kind < 'request.' AND request IS NOT NULL ORDER BY seq",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let ticket = text(row.get_ref(0)?, "an event's request")?;
            let payload = text(row.get_ref(1)?, "an event's payload")?;
            f(ticket, payload)?;
        }
        Ok(())
    }

    /// Calls `f` for every event a timeline is made of, in sequence order: each `request-*`
    /// event (`notice` false) and each delivered notification (`notice` true), with the ticket,
    /// the recorded time and the raw payload.
    pub fn scan_timeline_rows(
        &self,
        mut f: impl FnMut(&str, bool, &str, &str) -> Result<()>,
    ) -> Result<()> {
        self.conn().pragma_update(None, "mmap_size", 1_i64 << 30)?;
        // `+kind`: a plain scan in sequence order; the kind index would need a sort.
        let mut stmt = self.conn().prepare_cached(
            "SELECT request, kind, time, payload FROM events \
             WHERE ((+kind >= 'request-' AND +kind < 'request.') OR +kind = 'notification-delivered') \
             AND request IS NOT NULL ORDER BY seq",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let ticket = text(row.get_ref(0)?, "an event's request")?;
            let notice = text(row.get_ref(1)?, "an event's kind")? == "notification-delivered";
            let time = text(row.get_ref(2)?, "an event's time")?;
            let payload = text(row.get_ref(3)?, "an event's payload")?;
            f(ticket, notice, time, payload)?;
        }
        Ok(())
    }

    /// A request's workflow events and the delivery times of its completion notices, each with
    /// its sequence number, so that its timeline can be derived as of any log head.
    pub fn timeline_inputs(&self, ticket: &str) -> Result<TimelineInputs> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT seq, kind, time, payload FROM events WHERE request = ?1 \
             AND ((kind >= 'request-' AND kind < 'request.') OR kind = 'notification-delivered') \
             ORDER BY seq",
        )?;
        let mut rows = stmt.query([ticket])?;
        let mut inputs = TimelineInputs::default();
        while let Some(row) = rows.next()? {
            let seq = row.get::<_, i64>(0)? as u64;
            let kind = text(row.get_ref(1)?, "an event's kind")?;
            let time = text(row.get_ref(2)?, "an event's time")?;
            let payload = text(row.get_ref(3)?, "an event's payload")?;
            if kind == "notification-delivered" {
                let (at, kind) = parse_delivery(time, payload)?;
                if kind == "completed" {
                    inputs.notices.push((seq, at));
                }
            } else {
                let recorded: Recorded = serde_json::from_str(payload).map_err(|e| {
                    StoreError::Corrupt(format!(
                        "event of {ticket} does not read as a workflow event: {e}"
                    ))
                })?;
                inputs.events.push((seq, recorded));
            }
        }
        Ok(inputs)
    }

    /// When each notification about a request was delivered, with the notification's kind
    /// (`completed`, `confirm`, ...), oldest first.
    pub fn deliveries(&self, ticket: &str) -> Result<Vec<(time::OffsetDateTime, String)>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT time, payload FROM events WHERE request = ?1 AND kind = 'notification-delivered' ORDER BY seq",
        )?;
        let rows = stmt.query_map([ticket], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (time, payload) = row?;
            out.push(parse_delivery(&time, &payload)?);
        }
        Ok(out)
    }

    /// Finished checks: phase and seconds from queueing to result.
    pub fn check_durations(&self) -> Result<Vec<(CheckPhase, f64)>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT phase, (julianday(finished_at) - julianday(created_at)) * 86400.0 \
             FROM check_jobs WHERE finished_at IS NOT NULL",
        )?;
        let rows = stmt.query_map([], |r| {
            let phase: String = r.get(0)?;
            let secs: Option<f64> = r.get(1)?;
            Ok((phase, secs))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (phase, secs) = row?;
            let phase = if phase == "supplemental" {
                CheckPhase::Supplemental
            } else {
                CheckPhase::Initial
            };
            out.push((phase, secs.unwrap_or(0.0).max(0.0)));
        }
        Ok(out)
    }
}

fn phase_of(text: &str) -> CheckPhase {
    if text == "supplemental" {
        CheckPhase::Supplemental
    } else {
        CheckPhase::Initial
    }
}

impl Store {
    /// Calls `f` for each check job above id `after`, oldest first, with its phase and
    /// seconds from queueing to result when it has finished (as [`Store::check_durations`]).
    /// Returns the highest id seen (`after` when there is none).
    pub fn checks_after(
        &self,
        after: i64,
        mut f: impl FnMut(i64, Option<(CheckPhase, f64)>),
    ) -> Result<i64> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT id, phase, finished_at IS NOT NULL, \
             (julianday(finished_at) - julianday(created_at)) * 86400.0 \
             FROM check_jobs WHERE id > ?1 ORDER BY id",
        )?;
        let mut rows = stmt.query([after])?;
        let mut last = after;
        while let Some(row) = rows.next()? {
            let id: i64 = row.get(0)?;
            let phase: String = row.get(1)?;
            let finished: bool = row.get(2)?;
            let secs: Option<f64> = row.get(3)?;
            f(
                id,
                finished.then(|| (phase_of(&phase), secs.unwrap_or(0.0).max(0.0))),
            );
            last = last.max(id);
        }
        Ok(last)
    }

    /// Phase and duration of check `id`, if it has finished.
    pub fn finished_check(&self, id: i64) -> Result<Option<(CheckPhase, f64)>> {
        use rusqlite::OptionalExtension;
        let row: Option<(String, Option<f64>)> = self
            .conn()
            .prepare_cached(
                "SELECT phase, (julianday(finished_at) - julianday(created_at)) * 86400.0 \
                 FROM check_jobs WHERE id = ?1 AND finished_at IS NOT NULL",
            )?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        Ok(row.map(|(phase, secs)| (phase_of(&phase), secs.unwrap_or(0.0).max(0.0))))
    }
}

/// Records a check that has already finished (the simulator's checks).
#[allow(clippy::too_many_arguments)]
pub fn insert_finished_check(
    tx: &rusqlite::Transaction<'_>,
    id: i64,
    ticket: &str,
    revision: u32,
    phase: CheckPhase,
    created: time::OffsetDateTime,
    finished: time::OffsetDateTime,
    verdict: crate::workflow::Verdict,
) -> Result<()> {
    let phase = match phase {
        CheckPhase::Initial => "initial",
        CheckPhase::Supplemental => "supplemental",
    };
    let verdict = match verdict {
        crate::workflow::Verdict::Pass => "pass",
        crate::workflow::Verdict::Warn => "warn",
        crate::workflow::Verdict::Fail => "fail",
    };
    tx.prepare_cached(
        "INSERT INTO check_jobs (id, ticket, revision, phase, created_at, finished_at, verdict, report) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(rusqlite::params![
        id,
        ticket,
        revision,
        phase,
        super::timestamp(created),
        super::timestamp(finished),
        verdict,
        r#"{"simulated":true}"#,
    ])?;
    Ok(())
}

impl Store {
    /// The highest check job id so far (0 when there is none).
    pub fn max_check_id(&self) -> Result<i64> {
        Ok(self
            .conn()
            .query_row("SELECT coalesce(max(id), 0) FROM check_jobs", [], |r| {
                r.get(0)
            })?)
    }

    /// The number of the last ticket with this day prefix (`RD-YYYYMMDD-`), 0 if none;
    /// numerically, as [`super::next_ticket`] counts.
    pub fn last_ticket_number(&self, day: &str) -> Result<i64> {
        super::requests::last_ticket_number(self.conn(), day)
    }
}

impl Store {
    /// The hash of event `seq`, if it exists.
    pub fn event_hash(&self, seq: u64) -> Result<Option<String>> {
        use rusqlite::OptionalExtension;
        Ok(self
            .conn()
            .query_row(
                "SELECT hash FROM events WHERE seq = ?1",
                [seq as i64],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Tickets with workflow events after event `seq`, in order of their first such event.
    pub fn tickets_after(&self, seq: u64) -> Result<Vec<String>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT request FROM events WHERE seq > ?1 AND request IS NOT NULL \
             AND ((+kind >= 'request-' AND +kind < 'request.') OR +kind = 'notification-delivered') \
             ORDER BY seq",
        )?;
        let rows = stmt.query_map([seq as i64], |r| r.get::<_, String>(0))?;
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for ticket in rows {
            let ticket = ticket?;
            if seen.insert(ticket.clone()) {
                out.push(ticket);
            }
        }
        Ok(out)
    }
}

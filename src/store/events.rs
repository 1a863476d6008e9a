//! The audit trail's tables: appending events in the caller's transaction, reading them back,
//! and the signed checkpoints. The chain rules themselves live in [`crate::audit`]; this file
//! only moves rows.

use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};
use time::OffsetDateTime;

use super::{timestamp, Result, Store, StoreError};
use crate::audit::chain::{chain_hash, from_hex, to_hex};
use crate::audit::{
    canonical, Actor, ActorKind, Checkpoint, Event, EventError, EventQuery, EventRecord, NewEvent,
};

const EVENT_COLUMNS: &str = "seq, time, actor_kind, actor_id, actor_role, actor_contact, source, \
     tld, request, kind, payload, prev_hash, hash";

const INSERT_EVENT: &str = "INSERT INTO events (seq, time, actor_kind, actor_id, actor_role, \
     actor_contact, source, tld, request, kind, payload, prev_hash, hash) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";

/// The sequence number and hash of the newest event, if there is one.
pub fn last_event(conn: &Connection) -> Result<Option<(u64, String)>> {
    let mut stmt = conn.prepare_cached("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1")?;
    Ok(stmt
        .query_row([], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get::<_, String>(1)?))
        })
        .optional()?)
}

/// Appends one event, in the transaction that makes the change it records.
pub fn append_event(tx: &Transaction<'_>, event: &NewEvent) -> Result<Event> {
    let mut events = append_events(tx, std::slice::from_ref(event))?;
    events
        .pop()
        .ok_or_else(|| StoreError::Corrupt("an appended event went missing".into()))
}

/// Appends events in order, in one transaction; reads the chain's head once.
pub fn append_events(tx: &Transaction<'_>, events: &[NewEvent]) -> Result<Vec<Event>> {
    let (mut seq, mut prev) = match last_event(tx)? {
        Some((seq, hash)) => {
            let raw = from_hex(&hash).ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "event {seq} has a malformed hash {hash:?}; run `rootdesk audit verify`"
                ))
            })?;
            (seq, raw)
        }
        None => (0, [0u8; 32]),
    };
    let mut stmt = tx.prepare_cached(INSERT_EVENT)?;
    let mut out = Vec::with_capacity(events.len());
    let mut bytes = Vec::with_capacity(512);
    for event in events {
        if event.kind.is_empty() {
            return Err(EventError::EmptyKind.into());
        }
        let payload = canonical::to_canonical_string(&event.payload).map_err(|error| {
            EventError::Payload {
                kind: event.kind.clone(),
                error,
            }
        })?;
        // Recorded to the microsecond, as the stored text says.
        let time = event.time.to_offset(time::UtcOffset::UTC);
        let time = time
            .replace_nanosecond(time.nanosecond() / 1000 * 1000)
            .unwrap_or(time);
        let time_text = timestamp(time);
        let prev_hex = to_hex(&prev);
        seq += 1;
        let nonempty =
            |s: &Option<String>| s.as_deref().filter(|s| !s.is_empty()).map(str::to_string);
        let actor = Actor {
            kind: event.actor.kind,
            id: event.actor.id.clone(),
            role: nonempty(&event.actor.role),
            contact: nonempty(&event.actor.contact),
        };
        let (source, tld, request) = (
            nonempty(&event.source),
            nonempty(&event.tld),
            nonempty(&event.request),
        );
        let record = EventRecord {
            seq,
            time: &time_text,
            actor_kind: actor.kind.as_str(),
            actor_id: &actor.id,
            actor_role: actor.role.as_deref(),
            actor_contact: actor.contact.as_deref(),
            source: source.as_deref(),
            tld: tld.as_deref(),
            request: request.as_deref(),
            kind: &event.kind,
            payload: &payload,
            prev_hash: &prev_hex,
            hash: "",
        };
        bytes.clear();
        record.write_canonical(&mut bytes);
        let hash = chain_hash(&prev, &bytes);
        let hash_hex = to_hex(&hash);
        stmt.execute(params![
            seq as i64,
            time_text,
            record.actor_kind,
            record.actor_id,
            record.actor_role,
            record.actor_contact,
            record.source,
            record.tld,
            record.request,
            record.kind,
            payload,
            prev_hex,
            hash_hex,
        ])?;
        prev = hash;
        out.push(Event {
            seq,
            time,
            actor,
            source,
            tld,
            request,
            kind: event.kind.clone(),
            payload: event.payload.clone(),
            prev_hash: prev_hex,
            hash: hash_hex,
        });
    }
    Ok(out)
}

/// The checkpoint of event `seq`, if it has one.
pub fn checkpoint_at(conn: &Connection, seq: u64) -> Result<Option<Checkpoint>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, hash, time, key_id, signature FROM checkpoints WHERE seq = ?1",
    )?;
    Ok(stmt
        .query_row([seq as i64], checkpoint_from_row)
        .optional()?)
}

/// Stores a signed checkpoint.
pub fn insert_checkpoint(tx: &Transaction<'_>, checkpoint: &Checkpoint) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO checkpoints (seq, hash, time, key_id, signature) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        checkpoint.seq as i64,
        checkpoint.hash,
        checkpoint.time,
        checkpoint.key_id,
        checkpoint.signature,
    ])?;
    Ok(())
}

fn checkpoint_from_row(row: &Row<'_>) -> rusqlite::Result<Checkpoint> {
    Ok(Checkpoint {
        seq: row.get::<_, i64>(0)? as u64,
        hash: row.get(1)?,
        time: row.get(2)?,
        key_id: row.get(3)?,
        signature: row.get(4)?,
    })
}

/// The names of the columns of [`EVENT_COLUMNS`], for error messages.
const COLUMN_NAMES: [&str; 13] = [
    "seq",
    "time",
    "actor_kind",
    "actor_id",
    "actor_role",
    "actor_contact",
    "source",
    "tld",
    "request",
    "kind",
    "payload",
    "prev_hash",
    "hash",
];

fn text<'r>(row: &'r Row<'_>, index: usize, seq: i64) -> Result<Option<&'r str>> {
    let corrupt = |what: &str| {
        StoreError::Corrupt(format!(
            "event {seq}: column {} {what}; the database was edited outside rootdesk (see `rootdesk audit verify`)",
            COLUMN_NAMES[index]
        ))
    };
    match row.get_ref(index)? {
        ValueRef::Null => Ok(None),
        ValueRef::Text(bytes) => std::str::from_utf8(bytes)
            .map(Some)
            .map_err(|_| corrupt("is not valid UTF-8")),
        _ => Err(corrupt("is not text")),
    }
}

fn required<'r>(row: &'r Row<'_>, index: usize, seq: i64) -> Result<&'r str> {
    text(row, index, seq)?.ok_or_else(|| {
        StoreError::Corrupt(format!(
            "event {seq}: column {} is NULL; the database was edited outside rootdesk",
            COLUMN_NAMES[index]
        ))
    })
}

fn record_from_row<'r>(row: &'r Row<'_>) -> Result<EventRecord<'r>> {
    let seq: i64 = row.get(0)?;
    Ok(EventRecord {
        seq: seq as u64,
        time: required(row, 1, seq)?,
        actor_kind: required(row, 2, seq)?,
        actor_id: required(row, 3, seq)?,
        actor_role: text(row, 4, seq)?,
        actor_contact: text(row, 5, seq)?,
        source: text(row, 6, seq)?,
        tld: text(row, 7, seq)?,
        request: text(row, 8, seq)?,
        kind: required(row, 9, seq)?,
        payload: required(row, 10, seq)?,
        prev_hash: required(row, 11, seq)?,
        hash: required(row, 12, seq)?,
    })
}

fn event_from_record(rec: &EventRecord<'_>) -> Result<Event> {
    let corrupt = |what: String| StoreError::Corrupt(format!("event {}: {what}", rec.seq));
    let time = OffsetDateTime::parse(rec.time, &time::format_description::well_known::Rfc3339)
        .map_err(|e| corrupt(format!("time {:?}: {e}", rec.time)))?;
    let kind = ActorKind::parse(rec.actor_kind)
        .ok_or_else(|| corrupt(format!("unknown actor kind {:?}", rec.actor_kind)))?;
    let payload = serde_json::from_str(rec.payload)
        .map_err(|e| corrupt(format!("payload is not JSON: {e}")))?;
    Ok(Event {
        seq: rec.seq,
        time,
        actor: Actor {
            kind,
            id: rec.actor_id.to_string(),
            role: rec.actor_role.map(str::to_string),
            contact: rec.actor_contact.map(str::to_string),
        },
        source: rec.source.map(str::to_string),
        tld: rec.tld.map(str::to_string),
        request: rec.request.map(str::to_string),
        kind: rec.kind.to_string(),
        payload,
        prev_hash: rec.prev_hash.to_string(),
        hash: rec.hash.to_string(),
    })
}

/// The first and last sequence number of the events in `from..=to`, and how many there are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRange {
    pub first: u64,
    pub last: u64,
    pub count: u64,
}

impl Store {
    /// Events matching `query`, in sequence order (or newest first).
    pub fn events(&self, query: &EventQuery) -> Result<Vec<Event>> {
        let mut sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE 1 = 1");
        let mut args: Vec<SqlValue> = Vec::new();
        let mut condition = |clause: &str, value: SqlValue| {
            args.push(value);
            sql.push_str(&format!(" AND {clause} ?{}", args.len()));
        };
        if let Some(from) = query.from_seq {
            condition("seq >=", SqlValue::Integer(from as i64));
        }
        if let Some(to) = query.to_seq {
            condition("seq <=", SqlValue::Integer(to.min(i64::MAX as u64) as i64));
        }
        if let Some(since) = query.since {
            condition("time >=", SqlValue::Text(timestamp(since)));
        }
        if let Some(until) = query.until {
            condition("time <", SqlValue::Text(timestamp(until)));
        }
        if let Some(tld) = &query.tld {
            condition("tld =", SqlValue::Text(tld.clone()));
        }
        if let Some(request) = &query.request {
            condition("request =", SqlValue::Text(request.clone()));
        }
        if let Some(kind) = &query.kind {
            condition("kind =", SqlValue::Text(kind.clone()));
        }
        if let Some(actor) = &query.actor {
            condition("actor_id =", SqlValue::Text(actor.clone()));
        }
        sql.push_str(if query.newest_first {
            " ORDER BY seq DESC"
        } else {
            " ORDER BY seq"
        });
        if let Some(limit) = query.limit {
            sql.push_str(&format!(" LIMIT {limit}"));
        }
        let mut stmt = self.conn().prepare(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(event_from_record(&record_from_row(row)?)?);
        }
        Ok(out)
    }

    /// The number and bounds of the events with sequence numbers in `from..=to`.
    pub fn event_range(&self, from: u64, to: Option<u64>) -> Result<Option<EventRange>> {
        let to = to.unwrap_or(i64::MAX as u64).min(i64::MAX as u64) as i64;
        let (first, last, count): (Option<i64>, Option<i64>, i64) = self.conn().query_row(
            "SELECT min(seq), max(seq), count(*) FROM events WHERE seq >= ?1 AND seq <= ?2",
            [from as i64, to],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        Ok(match (first, last) {
            (Some(first), Some(last)) => Some(EventRange {
                first: first as u64,
                last: last as u64,
                count: count as u64,
            }),
            _ => None,
        })
    }

    /// Calls `f` with every event in `from..=to` in its recorded form, in sequence order,
    /// without building owned copies (export and verify read millions of events this way).
    pub fn scan_events<E: From<StoreError>>(
        &self,
        from: u64,
        to: Option<u64>,
        mut f: impl FnMut(&EventRecord<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let to = to.unwrap_or(i64::MAX as u64).min(i64::MAX as u64) as i64;
        // Long scans read through a memory map rather than a read call per page.
        self.conn()
            .pragma_update(None, "mmap_size", 1_i64 << 30)
            .map_err(StoreError::from)?;
        let mut stmt = self
            .conn()
            .prepare(&format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE seq >= ?1 AND seq <= ?2 ORDER BY seq"
            ))
            .map_err(StoreError::from)?;
        let mut rows = stmt.query([from as i64, to]).map_err(StoreError::from)?;
        while let Some(row) = rows.next().map_err(StoreError::from)? {
            f(&record_from_row(row)?)?;
        }
        Ok(())
    }

    /// The checkpoints of events in `from..=to`, in sequence order.
    pub fn checkpoints(&self, from: u64, to: Option<u64>) -> Result<Vec<Checkpoint>> {
        let to = to.unwrap_or(i64::MAX as u64).min(i64::MAX as u64) as i64;
        let mut stmt = self.conn().prepare(
            "SELECT seq, hash, time, key_id, signature FROM checkpoints \
             WHERE seq >= ?1 AND seq <= ?2 ORDER BY seq",
        )?;
        let rows = stmt.query_map([from as i64, to], checkpoint_from_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Runs `f` inside one read transaction, so that all its reads see the same state while
    /// others keep writing (WAL).
    pub fn snapshot<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, E>,
    ) -> Result<T, E> {
        let tx = self
            .conn()
            .unchecked_transaction()
            .map_err(StoreError::from)?;
        let value = f(self)?;
        tx.finish().map_err(StoreError::from)?;
        Ok(value)
    }

    /// Appends events in one transaction of their own (for callers with no state change).
    pub fn append_events(&mut self, events: &[NewEvent]) -> Result<Vec<Event>> {
        self.write(|tx| append_events(tx, events))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::GENESIS_HASH;
    use serde_json::json;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::create(&dir.path().join("t.db")).expect("create");
        (dir, store)
    }

    #[test]
    fn append_links_and_reads_back() {
        let (_dir, mut store) = store();
        let first = store
            .write(|tx| {
                append_event(
                    tx,
                    &NewEvent::new(Actor::system("test"), "a", json!({"n": 1})).tld("de"),
                )
            })
            .expect("append");
        assert_eq!(first.seq, 1);
        assert_eq!(first.prev_hash, GENESIS_HASH);
        let more = store
            .append_events(&[
                NewEvent::new(Actor::cli(), "b", json!([])).request("RD-20260101-0001"),
                NewEvent::new(
                    Actor::token("t1", Some("staff"), Some("")),
                    "c",
                    json!(null),
                ),
            ])
            .expect("append");
        assert_eq!(more[0].prev_hash, first.hash);
        assert_eq!(more[1].prev_hash, more[0].hash);
        assert_eq!(
            more[1].actor.contact, None,
            "empty strings are recorded as absent"
        );
        let all = store.events(&EventQuery::default()).expect("read");
        assert_eq!(all.len(), 3);
        assert_eq!(all[0], first);
        assert_eq!(all[1..], more[..]);
        let by_tld = store
            .events(&EventQuery {
                tld: Some("de".into()),
                ..Default::default()
            })
            .expect("read");
        assert_eq!(by_tld, vec![first.clone()]);
        let newest = store
            .events(&EventQuery {
                newest_first: true,
                limit: Some(1),
                ..Default::default()
            })
            .expect("read");
        assert_eq!(newest[0].seq, 3);
        let page = store
            .events(&EventQuery {
                from_seq: Some(2),
                limit: Some(1),
                ..Default::default()
            })
            .expect("read");
        assert_eq!(page[0].seq, 2);
        let by_actor = store
            .events(&EventQuery {
                actor: Some("t1".into()),
                kind: Some("c".into()),
                ..Default::default()
            })
            .expect("read");
        assert_eq!(by_actor.len(), 1);
    }

    #[test]
    fn reads_by_time_range_and_keeps_microseconds() {
        let (_dir, mut store) = store();
        let t0 = time::macros::datetime!(2026-03-01 10:00:00.123456789 UTC);
        let events: Vec<NewEvent> = (0..5)
            .map(|i| {
                NewEvent::new(Actor::cli(), "tick", json!({"i": i}))
                    .at(t0 + time::Duration::minutes(i))
            })
            .collect();
        let stored = store.append_events(&events).expect("append");
        assert_eq!(
            stored[0].time,
            time::macros::datetime!(2026-03-01 10:00:00.123456 UTC),
            "recorded to the microsecond"
        );
        let middle = store
            .events(&EventQuery {
                since: Some(t0 + time::Duration::minutes(1)),
                until: Some(t0 + time::Duration::minutes(3)),
                ..Default::default()
            })
            .expect("read");
        let seqs: Vec<u64> = middle.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [2, 3]);
        let range = store.event_range(2, Some(4)).expect("range");
        assert_eq!(
            range,
            Some(EventRange {
                first: 2,
                last: 4,
                count: 3
            })
        );
        assert_eq!(store.event_range(9, None).expect("range"), None);
    }

    #[test]
    fn refuses_what_cannot_be_canonical_and_rolls_back() {
        let (_dir, mut store) = store();
        let err = store
            .append_events(&[
                NewEvent::new(Actor::cli(), "ok", json!({})),
                NewEvent::new(Actor::cli(), "bad", json!({"x": 1.5})),
            ])
            .expect_err("fraction refused");
        assert!(err.to_string().contains("1.5"), "{err}");
        assert_eq!(last_event(store.conn()).expect("read"), None);
    }

    #[test]
    fn triggers_refuse_update_delete_and_broken_links() {
        let (_dir, mut store) = store();
        store
            .append_events(&[NewEvent::new(Actor::cli(), "a", json!({}))])
            .expect("append");
        let conn = store.conn();
        let err = conn
            .execute("UPDATE events SET kind = 'x'", [])
            .expect_err("update refused");
        assert!(err.to_string().contains("append-only"), "{err}");
        let err = conn
            .execute("DELETE FROM events", [])
            .expect_err("delete refused");
        assert!(err.to_string().contains("append-only"), "{err}");
        let err = conn
            .execute(
                "INSERT INTO events (seq, time, actor_kind, actor_id, kind, payload, prev_hash, hash) \
                 VALUES (3, 't', 'cli', 'x', 'k', '{}', 'p', 'h')",
                [],
            )
            .expect_err("gap refused");
        assert!(err.to_string().contains("must follow"), "{err}");
        let err = conn
            .execute(
                "INSERT INTO checkpoints (seq, hash, time, key_id, signature) VALUES (1, 'x', 't', 'k', 's')",
                [],
            )
            .expect_err("checkpoint of a wrong hash refused");
        assert!(err.to_string().contains("existing event"), "{err}");
    }
}

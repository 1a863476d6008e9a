//! Derived timelines kept between runs, so that a report does not re-read a million events.
//!
//! The cache is derived data only: it records the log head it was derived from (sequence
//! number and hash). When the log has grown, only the requests with new events are replayed
//! again; when the head it names is gone or has another hash (another or a restored
//! database), everything is derived afresh. Deleting the file is always safe. On disk it sits
//! beside the database (`rootdesk.db.metrics-cache`) in a small binary form that keeps what
//! reports need (ticket, TLD, kind, priority, state, measurements), not the stays.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use super::{Measure, Measurement, Timeline};
use crate::store::{Store, StoreError};
use crate::workflow::{Priority, RequestKind, State};

/// Timelines as of a log head.
#[derive(Debug, Clone, Default)]
pub struct Derived {
    pub seq: u64,
    pub hash: String,
    pub timelines: Vec<Timeline>,
}

/// Brings `cached` up to the store's newest event: replays only the requests with events
/// after the cached head, or everything when the cache does not belong to this log.
pub fn refresh(store: &Store, cached: Option<Derived>) -> Result<Derived, StoreError> {
    store.snapshot(|s| {
        let (seq, hash) = crate::store::last_event(s.conn())?.unwrap_or((0, String::new()));
        let usable = match &cached {
            Some(c) if c.seq == 0 => c.timelines.is_empty(),
            Some(c) => s.event_hash(c.seq)?.as_deref() == Some(c.hash.as_str()),
            None => false,
        };
        let Some(mut derived) = cached.filter(|_| usable) else {
            return Ok(Derived {
                seq,
                hash,
                timelines: super::timelines(s)?,
            });
        };
        if derived.seq == seq {
            return Ok(derived);
        }
        let changed = s.tickets_after(derived.seq)?;
        if !changed.is_empty() {
            let mut index: HashMap<String, usize> = derived
                .timelines
                .iter()
                .enumerate()
                .map(|(i, t)| (t.ticket.clone(), i))
                .collect();
            for ticket in changed {
                let events = s.request_history(&ticket)?;
                let notices: Vec<OffsetDateTime> = s
                    .deliveries(&ticket)?
                    .into_iter()
                    .filter(|(_, kind)| kind == "completed")
                    .map(|(at, _)| at)
                    .collect();
                let Some(timeline) = Timeline::from_events_and_notices(&events, &notices) else {
                    continue;
                };
                match index.get(&ticket) {
                    Some(&i) => derived.timelines[i] = timeline,
                    None => {
                        index.insert(ticket, derived.timelines.len());
                        derived.timelines.push(timeline);
                    }
                }
            }
        }
        derived.seq = seq;
        derived.hash = hash;
        Ok(derived)
    })
}

/// The cache file of a database.
pub fn cache_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".metrics-cache");
    PathBuf::from(name)
}

/// Every request's timeline, through the cache file beside the database: read it, bring it
/// up to date, and write it back when it changed (a cache that cannot be written is only a
/// slower next run).
pub fn load_timelines(store: &Store) -> Result<Vec<Timeline>, StoreError> {
    let path = cache_path(store.path());
    let cached = std::fs::read(&path).ok().and_then(|bytes| decode(&bytes));
    let before = cached.as_ref().map(|c| c.seq);
    let mut derived = refresh(store, cached)?;
    // Reports need no stays; dropping them keeps a fresh derivation and a cached one alike.
    for t in &mut derived.timelines {
        t.stays = Vec::new();
    }
    if before != Some(derived.seq) {
        let tmp = path.with_extension("metrics-cache.tmp");
        if std::fs::write(&tmp, encode(&derived)).is_ok() {
            let _ = std::fs::rename(&tmp, &path);
        }
    }
    Ok(derived.timelines)
}

const MAGIC: &[u8] = b"rootdesk-metrics-cache 1\n";
const KINDS: [RequestKind; 4] = [
    RequestKind::Delegation,
    RequestKind::Contacts,
    RequestKind::Sponsor,
    RequestKind::Transfer,
];
const PRIORITIES: [Priority; 2] = [Priority::Normal, Priority::Emergency];

fn micros(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1000) as i64
}

fn from_micros(m: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(m) * 1000).ok()
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// The binary form of derived timelines.
pub fn encode(d: &Derived) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + d.timelines.len() * 200);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&d.seq.to_le_bytes());
    put_str(&mut out, &d.hash);
    out.extend_from_slice(&(d.timelines.len() as u32).to_le_bytes());
    for t in &d.timelines {
        put_str(&mut out, &t.ticket);
        put_str(&mut out, &t.tld);
        out.push(KINDS.iter().position(|k| *k == t.kind).unwrap_or(0) as u8);
        out.push(
            PRIORITIES
                .iter()
                .position(|p| *p == t.priority)
                .unwrap_or(0) as u8,
        );
        out.push(State::ALL.iter().position(|s| *s == t.state).unwrap_or(0) as u8);
        out.extend_from_slice(&micros(t.submitted_at).to_le_bytes());
        out.extend_from_slice(&t.ended_at.map_or(i64::MIN, micros).to_le_bytes());
        out.extend_from_slice(&t.questions.to_le_bytes());
        out.extend_from_slice(&(t.measurements.len() as u32).to_le_bytes());
        for m in &t.measurements {
            out.push(m.measure as u8);
            out.extend_from_slice(&m.value.to_le_bytes());
            out.extend_from_slice(&micros(m.at).to_le_bytes());
        }
    }
    out
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn f64(&mut self) -> Option<f64> {
        Some(f64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn str(&mut self) -> Option<String> {
        let n = self.u32()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
}

/// Reads the binary form; `None` for anything that is not a whole, current cache.
pub fn decode(bytes: &[u8]) -> Option<Derived> {
    let mut r = Reader(bytes.strip_prefix(MAGIC)?);
    let seq = r.u64()?;
    let hash = r.str()?;
    let count = r.u32()? as usize;
    let mut timelines = Vec::with_capacity(count.min(10_000_000));
    for _ in 0..count {
        let ticket = r.str()?;
        let tld = r.str()?;
        let kind = *KINDS.get(r.u8()? as usize)?;
        let priority = *PRIORITIES.get(r.u8()? as usize)?;
        let state = *State::ALL.get(r.u8()? as usize)?;
        let submitted_at = from_micros(r.i64()?)?;
        let ended = r.i64()?;
        let ended_at = if ended == i64::MIN {
            None
        } else {
            Some(from_micros(ended)?)
        };
        let questions = r.u32()?;
        let n = r.u32()? as usize;
        let mut measurements = Vec::with_capacity(n.min(1000));
        for _ in 0..n {
            let measure = *Measure::ALL.get(r.u8()? as usize)?;
            let value = r.f64()?;
            let at = from_micros(r.i64()?)?;
            measurements.push(Measurement { measure, value, at });
        }
        timelines.push(Timeline {
            ticket,
            tld,
            kind,
            priority,
            submitted_at,
            state,
            ended_at,
            stays: Vec::new(),
            measurements,
            questions,
        });
    }
    r.0.is_empty().then_some(Derived {
        seq,
        hash,
        timelines,
    })
}

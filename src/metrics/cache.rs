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
                let Some(timeline) = rederive(s, &ticket)? else {
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

/// One request's timeline afresh from its events and completion notices.
pub fn rederive(s: &Store, ticket: &str) -> Result<Option<Timeline>, StoreError> {
    let events = s.request_history(ticket)?;
    let notices: Vec<OffsetDateTime> = s
        .deliveries(ticket)?
        .into_iter()
        .filter(|(_, kind)| kind == "completed")
        .map(|(at, _)| at)
        .collect();
    Ok(Timeline::from_events_and_notices(&events, &notices))
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
        // A name of its own per writer: the daemon's readers and a CLI may refresh at once.
        static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = path.with_extension(format!("metrics-cache.{}.{n}.tmp", std::process::id()));
        let written =
            std::fs::write(&tmp, encode(&derived)).is_ok() && std::fs::rename(&tmp, &path).is_ok();
        if !written {
            let _ = std::fs::remove_file(&tmp);
        }
    }
    Ok(derived.timelines)
}

const MAGIC: &[u8] = b"rootdesk-metrics-cache 2\n";

/// A request kind's code in the file. An exhaustive match, so that a new kind does not build
/// until it has a code of its own (rather than being cached as another).
fn kind_code(kind: RequestKind) -> u8 {
    match kind {
        RequestKind::Delegation => 0,
        RequestKind::Contacts => 1,
        RequestKind::Sponsor => 2,
        RequestKind::Transfer => 3,
        RequestKind::Authority => 4,
    }
}

fn kind_of(code: u8) -> Option<RequestKind> {
    Some(match code {
        0 => RequestKind::Delegation,
        1 => RequestKind::Contacts,
        2 => RequestKind::Sponsor,
        3 => RequestKind::Transfer,
        4 => RequestKind::Authority,
        _ => return None,
    })
}

fn priority_code(priority: Priority) -> u8 {
    match priority {
        Priority::Normal => 0,
        Priority::Emergency => 1,
    }
}

fn priority_of(code: u8) -> Option<Priority> {
    Some(match code {
        0 => Priority::Normal,
        1 => Priority::Emergency,
        _ => return None,
    })
}

fn micros(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1000) as i64
}

fn from_micros(m: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(m) * 1000).ok()
}

/// The file's form (postcard after the magic line): what reports need, with explicit codes
/// for the enums, so that the file does not change with their Rust declarations.
#[derive(serde::Serialize, serde::Deserialize)]
struct Form {
    seq: u64,
    hash: String,
    timelines: Vec<Entry>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Entry {
    ticket: String,
    tld: String,
    kind: u8,
    priority: u8,
    /// Index in [`State::ALL`].
    state: u8,
    submitted_at: i64,
    ended_at: Option<i64>,
    questions: u32,
    /// (measure as index in [`Measure::ALL`], value, end in microseconds)
    measurements: Vec<(u8, f64, i64)>,
}

/// The binary form of derived timelines.
pub fn encode(d: &Derived) -> Vec<u8> {
    let form = Form {
        seq: d.seq,
        hash: d.hash.clone(),
        timelines: d
            .timelines
            .iter()
            .map(|t| Entry {
                ticket: t.ticket.clone(),
                tld: t.tld.clone(),
                kind: kind_code(t.kind),
                priority: priority_code(t.priority),
                state: State::ALL.iter().position(|s| *s == t.state).unwrap_or(0) as u8,
                submitted_at: micros(t.submitted_at),
                ended_at: t.ended_at.map(micros),
                questions: t.questions,
                measurements: t
                    .measurements
                    .iter()
                    .map(|m| (m.measure as u8, m.value, micros(m.at)))
                    .collect(),
            })
            .collect(),
    };
    let mut out = MAGIC.to_vec();
    // Encoding plain integers, strings and sequences into a Vec does not fail; an empty
    // file would only be a cache that does not decode.
    out.extend(postcard::to_allocvec(&form).unwrap_or_default());
    out
}

/// Reads the binary form; `None` for anything that is not a whole, current cache.
pub fn decode(bytes: &[u8]) -> Option<Derived> {
    let (form, rest): (Form, _) = postcard::take_from_bytes(bytes.strip_prefix(MAGIC)?).ok()?;
    if !rest.is_empty() {
        return None;
    }
    let mut timelines = Vec::with_capacity(form.timelines.len());
    for e in form.timelines {
        let mut measurements = Vec::with_capacity(e.measurements.len());
        for (measure, value, at) in e.measurements {
            measurements.push(Measurement {
                measure: *Measure::ALL.get(measure as usize)?,
                value,
                at: from_micros(at)?,
            });
        }
        timelines.push(Timeline {
            ticket: e.ticket,
            tld: e.tld,
            kind: kind_of(e.kind)?,
            priority: priority_of(e.priority)?,
            submitted_at: from_micros(e.submitted_at)?,
            state: *State::ALL.get(e.state as usize)?,
            ended_at: match e.ended_at {
                Some(m) => Some(from_micros(m)?),
                None => None,
            },
            stays: Vec::new(),
            measurements,
            questions: e.questions,
        });
    }
    Some(Derived {
        seq: form.seq,
        hash: form.hash,
        timelines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_codes_round_trip() {
        for kind in [
            RequestKind::Delegation,
            RequestKind::Contacts,
            RequestKind::Sponsor,
            RequestKind::Transfer,
            RequestKind::Authority,
        ] {
            assert_eq!(kind_of(kind_code(kind)), Some(kind));
        }
        for p in [Priority::Normal, Priority::Emergency] {
            assert_eq!(priority_of(priority_code(p)), Some(p));
        }
        assert_eq!(kind_of(5), None);
        // Trailing bytes or a cut file are not a cache.
        let d = Derived {
            seq: 7,
            hash: "ab".into(),
            timelines: Vec::new(),
        };
        let bytes = encode(&d);
        assert!(decode(&bytes).is_some());
        assert!(decode(&bytes[..bytes.len() - 1]).is_none());
        assert!(decode(&[bytes.as_slice(), b"x"].concat()).is_none());
    }
}

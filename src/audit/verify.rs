//! The verifier: re-derives every hash, checks the sequence, the links and every checkpoint,
//! and says which event is the first bad one and why.
//!
//! It is fed checkpoints first, then events in the order they are stored, one at a time, so
//! that a database or an export of any size is checked in one pass and constant memory
//! (apart from the checkpoints). It never trusts a stored hash: each is recomputed from the
//! event's content and the previous hash.
//!
//! What it concludes:
//! - an event whose content does not give its stored hash was altered (`hash-mismatch`);
//! - an event whose `prev_hash` is not the previous event's hash means events were removed,
//!   inserted or reordered, or, when that event is itself intact, that the previous one was
//!   changed and re-hashed, and that one is named (`broken-link`); missing or repeated numbers
//!   are `gap` and `out-of-order`;
//! - a checkpoint whose signature fails was forged or altered (`bad-signature`); one whose
//!   hash differs from the chain's means the chain was rewritten after signing
//!   (`checkpoint-mismatch`); one beyond the last event means the log was cut short
//!   (`truncated`);
//! - events after the last valid checkpoint are consistent but not signed: a warning, not a
//!   failure, because the desk signs only at intervals (the "unsigned tail").

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use ed25519_dalek::VerifyingKey;
use serde::Serialize;

use super::chain::{chain_hash, from_hex, EventRecord, GENESIS_HASH};
use super::checkpoint::{key_id, Checkpoint};

/// At most this many problems are kept; the first one is what matters.
const MAX_PROBLEMS: usize = 1000;

/// What is wrong with an event or a checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProblemKind {
    /// The event's content does not hash to its stored hash.
    HashMismatch,
    /// The event's `prev_hash` is not the hash of the event before it.
    BrokenLink,
    /// Event 1's `prev_hash` is not 64 zeros.
    BadGenesis,
    /// Sequence numbers are missing.
    Gap,
    /// A sequence number repeats or goes backwards.
    OutOfOrder,
    /// A checkpoint's signature does not verify.
    BadSignature,
    /// A checkpoint is signed by a key that was not given.
    UnknownKey,
    /// A valid signature over a hash the chain does not have.
    CheckpointMismatch,
    /// Events a checkpoint (or the export header) vouches for are missing at the end.
    Truncated,
    /// An unreadable entry.
    Malformed,
}

impl ProblemKind {
    /// The stable kebab-case label.
    pub fn label(self) -> &'static str {
        match self {
            ProblemKind::HashMismatch => "hash-mismatch",
            ProblemKind::BrokenLink => "broken-link",
            ProblemKind::BadGenesis => "bad-genesis",
            ProblemKind::Gap => "gap",
            ProblemKind::OutOfOrder => "out-of-order",
            ProblemKind::BadSignature => "bad-signature",
            ProblemKind::UnknownKey => "unknown-key",
            ProblemKind::CheckpointMismatch => "checkpoint-mismatch",
            ProblemKind::Truncated => "truncated",
            ProblemKind::Malformed => "malformed",
        }
    }
}

/// One finding, at the event it concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The sequence number of the (first) bad event.
    pub seq: u64,
    pub kind: ProblemKind,
    pub detail: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "event {}: {}: {}",
            self.seq,
            self.kind.label(),
            self.detail
        )
    }
}

/// The outcome of a verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// First and last sequence number seen.
    pub first: Option<u64>,
    pub last: Option<u64>,
    pub events: u64,
    /// The `prev_hash` of the first event, when it is not event 1 (a partial export).
    pub start_prev_hash: Option<String>,
    /// Checkpoints whose signature verified and whose hash matched the chain.
    pub checkpoints_valid: u64,
    pub checkpoints_seen: u64,
    /// Every event up to this one is fixed by a valid checkpoint.
    pub signed_through: Option<u64>,
    /// Sorted by sequence number; the first is the first bad event.
    pub problems: Vec<Problem>,
    /// Problems found beyond the ones kept.
    pub problems_not_shown: u64,
    pub warnings: Vec<String>,
}

impl Report {
    /// True when nothing is wrong (warnings allowed).
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// The first bad event, if any.
    pub fn first_problem(&self) -> Option<&Problem> {
        self.problems.first()
    }

    /// True when events after the last valid checkpoint are unsigned (or nothing is signed).
    pub fn has_unsigned_tail(&self) -> bool {
        match (self.last, self.signed_through) {
            (Some(last), Some(signed)) => signed < last,
            (Some(_), None) => true,
            _ => false,
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.first, self.last) {
            (Some(first), Some(last)) => writeln!(
                f,
                "checked events {first}..={last} ({} events) and {} checkpoints ({} valid)",
                self.events, self.checkpoints_seen, self.checkpoints_valid
            )?,
            _ => writeln!(
                f,
                "no events to check ({} checkpoints)",
                self.checkpoints_seen
            )?,
        }
        if let Some(prev) = &self.start_prev_hash {
            writeln!(
                f,
                "partial log: it starts after an event with hash {prev}, which only a checkpoint at or after its first event vouches for"
            )?;
        }
        if let Some(signed) = self.signed_through {
            writeln!(f, "signed through event {signed}")?;
        }
        for warning in &self.warnings {
            writeln!(f, "warning: {warning}")?;
        }
        if let Some(first) = self.problems.first() {
            writeln!(f, "FAILED: first bad {first}")?;
            for problem in &self.problems[1..] {
                writeln!(f, "  also {problem}")?;
            }
            if self.problems_not_shown > 0 {
                writeln!(f, "  and {} more problems", self.problems_not_shown)?;
            }
        } else {
            writeln!(f, "OK")?;
        }
        Ok(())
    }
}

/// A streaming verifier: [`Verifier::checkpoint`] for each checkpoint, then
/// [`Verifier::event`] for each event in stored order, then [`Verifier::finish`].
pub struct Verifier {
    keys: HashMap<String, VerifyingKey>,
    /// Checkpoints with a good signature, waiting for their event.
    pending: BTreeMap<u64, Vec<Checkpoint>>,
    expect_first: Option<u64>,
    expect_last: Option<u64>,
    /// Whether the log runs to the newest event (so that checkpoints beyond it mean events
    /// were cut off), as opposed to an export that stops early on purpose.
    complete: bool,
    /// The last event seen: its number and the hash the next one must link to.
    last: Option<(u64, [u8; 32])>,
    first: Option<u64>,
    start_prev_hash: Option<String>,
    events: u64,
    checkpoints_seen: u64,
    checkpoints_valid: u64,
    signed_through: Option<u64>,
    noncanonical: Vec<u64>,
    expect_checkpoints: Option<u64>,
    problems: Vec<Problem>,
    problems_not_shown: u64,
    warnings: Vec<String>,
    buf: Vec<u8>,
}

impl Verifier {
    /// A verifier trusting checkpoints signed by any of `keys`.
    pub fn new(keys: &[VerifyingKey]) -> Verifier {
        Verifier {
            keys: keys.iter().map(|k| (key_id(k), *k)).collect(),
            pending: BTreeMap::new(),
            expect_first: None,
            expect_last: None,
            complete: true,
            last: None,
            first: None,
            start_prev_hash: None,
            events: 0,
            checkpoints_seen: 0,
            checkpoints_valid: 0,
            signed_through: None,
            noncanonical: Vec::new(),
            expect_checkpoints: None,
            problems: Vec::new(),
            problems_not_shown: 0,
            warnings: Vec::new(),
            buf: Vec::with_capacity(1024),
        }
    }

    /// The log must start at this event (1 for a whole database; an export's `from`).
    pub fn expect_first(&mut self, seq: u64) {
        self.expect_first = Some(seq);
    }

    /// The log must reach this event (an export's `to`).
    pub fn expect_last(&mut self, seq: u64) {
        self.expect_last = Some(seq);
    }

    /// The number of checkpoint entries the export header counts: fewer in the file means one
    /// was removed (the newest one is the only one nothing else vouches for).
    pub fn expect_checkpoints(&mut self, count: u64) {
        self.expect_checkpoints = Some(count);
    }

    /// Whether the log given runs to the newest event (default: yes). Set to false for an
    /// export that stops early on purpose (`--to`): its checkpoints of later events are then
    /// not evidence of truncation.
    pub fn set_complete(&mut self, complete: bool) {
        self.complete = complete;
    }

    fn problem(&mut self, seq: u64, kind: ProblemKind, detail: String) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(Problem { seq, kind, detail });
        } else {
            self.problems_not_shown += 1;
        }
    }

    /// Where the next event is expected.
    fn next_seq(&self) -> u64 {
        match self.last {
            Some((seq, _)) => seq + 1,
            None => self.expect_first.unwrap_or(1),
        }
    }

    /// An entry that could not be read at all; it counts against the next expected event.
    pub fn malformed(&mut self, detail: String) {
        let seq = self.next_seq();
        self.problem(seq, ProblemKind::Malformed, detail);
    }

    /// Checks a checkpoint's signature; its hash is compared when its event comes.
    pub fn checkpoint(&mut self, checkpoint: Checkpoint) {
        self.checkpoints_seen += 1;
        let seq = checkpoint.seq;
        if let Some((last, _)) = self.last {
            if seq <= last {
                self.problem(
                    seq,
                    ProblemKind::Malformed,
                    "checkpoint given after its event; checkpoints must come first".into(),
                );
                return;
            }
        }
        let Some(key) = self.keys.get(&checkpoint.key_id) else {
            let known: Vec<&str> = self.keys.keys().map(String::as_str).collect();
            self.problem(
                seq,
                ProblemKind::UnknownKey,
                format!(
                    "checkpoint signed by key {}, but only key(s) {} were given; pass its public key with --public-key",
                    checkpoint.key_id,
                    known.join(", ")
                ),
            );
            return;
        };
        if !checkpoint.verify_signature(key) {
            self.problem(
                seq,
                ProblemKind::BadSignature,
                format!(
                    "the checkpoint signed {} does not verify with key {}: it was forged or altered",
                    checkpoint.time, checkpoint.key_id
                ),
            );
            return;
        }
        self.pending.entry(seq).or_default().push(checkpoint);
    }

    /// Checks the next event.
    pub fn event(&mut self, rec: &EventRecord<'_>) {
        let check = hash_check(rec, &mut self.buf);
        self.apply(rec, check);
    }

    /// The checks of `rec` that depend on the events before it, given its own hash check.
    fn apply(&mut self, rec: &EventRecord<'_>, check: HashCheck) {
        let seq = rec.seq;
        self.events += 1;
        let expected = self.next_seq();
        let (prev_raw, stored) = (check.prev, check.stored);
        let hash_ok = check.ok;
        if check.noncanonical {
            self.noncanonical.push(seq);
        }
        if check.prev.is_none() || check.stored.is_none() {
            self.problem(
                seq,
                ProblemKind::Malformed,
                "prev_hash or hash is not 64 hex digits".into(),
            );
        } else if !hash_ok {
            self.problem(
                seq,
                ProblemKind::HashMismatch,
                "its content does not hash to its stored hash: the event was altered".into(),
            );
        }
        match self.last {
            None => {
                self.first = Some(seq);
                if seq != expected {
                    if seq > expected {
                        self.problem(
                            expected,
                            ProblemKind::Gap,
                            format!("missing: the log starts at event {seq}, not {expected}"),
                        );
                    } else {
                        self.problem(
                            seq,
                            ProblemKind::OutOfOrder,
                            format!("the log should start at event {expected}"),
                        );
                    }
                }
                if seq == 1 {
                    if prev_raw != Some([0; 32]) {
                        self.problem(
                            seq,
                            ProblemKind::BadGenesis,
                            format!(
                                "event 1 must have prev_hash {GENESIS_HASH}, has {:?}",
                                rec.prev_hash
                            ),
                        );
                    }
                } else {
                    self.start_prev_hash = Some(rec.prev_hash.to_string());
                }
            }
            Some((last_seq, last_hash)) => {
                let mut check_link = true;
                if seq > expected {
                    check_link = false;
                    let detail = if seq == expected + 1 {
                        format!("missing (event {last_seq} is followed by {seq})")
                    } else {
                        format!("events {expected}..={} missing (event {last_seq} is followed by {seq})", seq - 1)
                    };
                    self.problem(expected, ProblemKind::Gap, detail);
                } else if seq < expected {
                    check_link = false;
                    self.problem(
                        seq,
                        ProblemKind::OutOfOrder,
                        format!("comes after event {last_seq}: repeated or out of order"),
                    );
                }
                if check_link && prev_raw != Some(last_hash) {
                    if hash_ok {
                        // This event is intact and names the hash its predecessor had: the
                        // predecessor is what changed.
                        self.problem(
                            last_seq,
                            ProblemKind::BrokenLink,
                            format!(
                                "event {seq} links to hash {}, not to the stored hash of event {last_seq}: event {last_seq} was changed and its hash recomputed, or replaced",
                                rec.prev_hash
                            ),
                        );
                    } else {
                        self.problem(
                            seq,
                            ProblemKind::BrokenLink,
                            format!(
                                "prev_hash {} is not the hash of event {last_seq}: events were removed, inserted or reordered",
                                rec.prev_hash
                            ),
                        );
                    }
                }
            }
        }

        if let Some(checkpoints) = self.pending.remove(&seq) {
            for checkpoint in checkpoints {
                if hash_ok && from_hex(&checkpoint.hash) == stored {
                    self.checkpoints_valid += 1;
                    self.signed_through = Some(seq);
                } else if hash_ok {
                    let since = self
                        .signed_through
                        .map_or(self.first.unwrap_or(1), |s| s + 1);
                    self.problem(
                        seq,
                        ProblemKind::CheckpointMismatch,
                        format!(
                            "the checkpoint signed {} vouches for hash {}, but the log has {}: events {since}..={seq} were rewritten after signing",
                            checkpoint.time, checkpoint.hash, rec.hash
                        ),
                    );
                }
            }
        }
        // Link the next event to the stored hash, so one altered event is reported once; an
        // event out of order does not move the chain's head.
        if self.last.is_none() || seq >= expected {
            self.last = Some((seq, stored.unwrap_or([0; 32])));
        }
    }

    /// The report.
    pub fn finish(mut self) -> Report {
        let last = self.last.map(|(seq, _)| seq);
        let pending = std::mem::take(&mut self.pending);
        for (seq, checkpoints) in pending {
            match (self.first, last) {
                (Some(first), _) if seq < first => self.warnings.push(format!(
                    "checkpoint of event {seq} is before the first event checked ({first}); not compared"
                )),
                (_, Some(last)) if seq <= last => self.problem(
                    seq,
                    ProblemKind::Gap,
                    format!(
                        "missing: a valid checkpoint signed {} vouches for event {seq}",
                        checkpoints[0].time
                    ),
                ),
                (_, Some(last)) if !self.complete => self.warnings.push(format!(
                    "checkpoint of event {seq} is beyond the end of this partial log (event {last}); not compared"
                )),
                (_, Some(last)) => self.problem(
                    last + 1,
                    ProblemKind::Truncated,
                    format!(
                        "events {}..={seq} are missing: a valid checkpoint signed {} vouches for event {seq}, but the log ends at event {last}",
                        last + 1,
                        checkpoints[0].time
                    ),
                ),
                (None, None) => {
                    let first = self.expect_first.unwrap_or(1);
                    self.problem(
                        first,
                        ProblemKind::Truncated,
                        format!("events {first}..={seq} are missing: a valid checkpoint vouches for event {seq}, but there are no events"),
                    );
                }
                (Some(_), None) => {}
            }
        }
        if let Some(expected) = self.expect_last {
            let end = last.unwrap_or(self.expect_first.unwrap_or(1).saturating_sub(1));
            if end < expected {
                self.problem(
                    end + 1,
                    ProblemKind::Truncated,
                    format!("events {}..={expected} are missing: the export says it holds events up to {expected}", end + 1),
                );
            }
        }
        if let Some(expected) = self.expect_checkpoints {
            if self.checkpoints_seen != expected {
                let at = last.unwrap_or(self.expect_first.unwrap_or(1));
                self.problem(
                    at,
                    ProblemKind::Truncated,
                    format!(
                        "the export header counts {expected} checkpoint(s) but the file holds {}: a checkpoint entry was removed or added (the newest checkpoint vouches for event {at} or later)",
                        self.checkpoints_seen
                    ),
                );
            }
        }
        if !self.noncanonical.is_empty() {
            self.warnings.push(format!(
                "{} event(s) (first: {}) carry their payload in non-canonical form; the content is unchanged",
                self.noncanonical.len(),
                self.noncanonical[0]
            ));
        }
        self.problems.sort_by_key(|p| p.seq);
        let mut report = Report {
            first: self.first,
            last,
            events: self.events,
            start_prev_hash: self.start_prev_hash,
            checkpoints_valid: self.checkpoints_valid,
            checkpoints_seen: self.checkpoints_seen,
            signed_through: self.signed_through,
            problems: self.problems,
            problems_not_shown: self.problems_not_shown,
            warnings: self.warnings,
        };
        if report.has_unsigned_tail() {
            if let Some(last) = report.last {
                let from = report
                    .signed_through
                    .map_or(report.first.unwrap_or(1), |s| s + 1);
                report.warnings.push(format!(
                    "events {from}..={last} come after the last valid checkpoint: they are chained but not signed (sign with `rootdesk audit checkpoint`)"
                ));
            }
        }
        report
    }
}

/// What an event's own content says about its hash; needs no other event, so that it can be
/// computed on any thread.
#[derive(Debug, Clone, Copy, Default)]
struct HashCheck {
    prev: Option<[u8; 32]>,
    stored: Option<[u8; 32]>,
    /// The content and `prev_hash` give the stored hash.
    ok: bool,
    /// ... but only once the payload is put in canonical form.
    noncanonical: bool,
}

fn hash_check(rec: &EventRecord<'_>, buf: &mut Vec<u8>) -> HashCheck {
    let prev = from_hex(rec.prev_hash);
    let stored = from_hex(rec.hash);
    let (ok, noncanonical) = match (prev, stored) {
        (Some(p), Some(s)) => {
            buf.clear();
            rec.write_canonical(buf);
            if chain_hash(&p, buf) == s {
                (true, false)
            } else {
                let fixed = matches_with_canonical_payload(rec, &p, &s, buf);
                (fixed, fixed)
            }
        }
        _ => (false, false),
    };
    HashCheck {
        prev,
        stored,
        ok,
        noncanonical,
    }
}

/// Whether the event hashes correctly once its payload is put in canonical form (an export
/// re-formatted by a tool: the content is unchanged).
fn matches_with_canonical_payload(
    rec: &EventRecord<'_>,
    prev: &[u8; 32],
    stored: &[u8; 32],
    buf: &mut Vec<u8>,
) -> bool {
    // A payload with a key twice would hash as its last value while a reader may take the
    // first: never "the same content".
    if super::canonical::has_duplicate_keys(rec.payload) {
        return false;
    }
    let Ok(value) = serde_json::from_str::<serde_json::Value>(rec.payload) else {
        return false;
    };
    let Ok(canonical) = super::canonical::to_canonical_string(&value) else {
        return false;
    };
    if canonical == rec.payload {
        return false;
    }
    let fixed = EventRecord {
        payload: &canonical,
        ..*rec
    };
    buf.clear();
    fixed.write_canonical(buf);
    chain_hash(prev, buf) == *stored
}

/// How many events travel together from the reader to the verifying thread.
const BATCH: usize = 4096;

/// Where the fields of one event lie in a [`Batch`]'s text; `u32::MAX` marks an absent one.
type Spans = [(u32, u32); 12];

enum Item {
    Event { seq: u64, spans: Spans },
    Checkpoint(Checkpoint),
    Malformed(String),
}

/// Owned copies of a run of entries: one text buffer and the spans into it.
#[derive(Default)]
struct Batch {
    text: String,
    items: Vec<Item>,
}

impl Batch {
    fn span(&mut self, value: Option<&str>) -> (u32, u32) {
        match value {
            Some(v) => {
                let start = self.text.len() as u32;
                self.text.push_str(v);
                (start, self.text.len() as u32)
            }
            None => (u32::MAX, 0),
        }
    }

    fn push(&mut self, r: &EventRecord<'_>) {
        let fields = [
            Some(r.time),
            Some(r.actor_kind),
            Some(r.actor_id),
            r.actor_role,
            r.actor_contact,
            r.source,
            r.tld,
            r.request,
            Some(r.kind),
            Some(r.payload),
            Some(r.prev_hash),
            Some(r.hash),
        ];
        let mut spans = [(u32::MAX, 0); 12];
        for (span, field) in spans.iter_mut().zip(fields) {
            *span = self.span(field);
        }
        self.items.push(Item::Event { seq: r.seq, spans });
    }

    fn get(&self, (start, end): (u32, u32)) -> Option<&str> {
        (start != u32::MAX).then(|| &self.text[start as usize..end as usize])
    }

    fn record(&self, seq: u64, spans: &Spans) -> EventRecord<'_> {
        let f = |i: usize| self.get(spans[i]);
        EventRecord {
            seq,
            time: f(0).unwrap_or_default(),
            actor_kind: f(1).unwrap_or_default(),
            actor_id: f(2).unwrap_or_default(),
            actor_role: f(3),
            actor_contact: f(4),
            source: f(5),
            tld: f(6),
            request: f(7),
            kind: f(8).unwrap_or_default(),
            payload: f(9).unwrap_or_default(),
            prev_hash: f(10).unwrap_or_default(),
            hash: f(11).unwrap_or_default(),
        }
    }

    /// Hands the entries to `verifier` in order; the hashing, which needs no other event, runs
    /// on `pool` (on this thread without one).
    fn feed(&mut self, verifier: &mut Verifier, pool: Option<&rayon::ThreadPool>) {
        let items = std::mem::take(&mut self.items);
        let records: Vec<Option<EventRecord<'_>>> = items
            .iter()
            .map(|item| match item {
                Item::Event { seq, spans } => Some(self.record(*seq, spans)),
                _ => None,
            })
            .collect();
        // The hashing needs no other event: rayon spreads it over the pool's threads.
        let hash_one = |buf: &mut Vec<u8>, record: &Option<EventRecord<'_>>| {
            record
                .as_ref()
                .map_or_else(HashCheck::default, |r| hash_check(r, buf))
        };
        let checks: Vec<HashCheck> = match pool {
            Some(pool) => pool.install(|| {
                use rayon::prelude::*;
                records
                    .par_iter()
                    .with_min_len(256)
                    .map_init(|| Vec::with_capacity(1024), hash_one)
                    .collect()
            }),
            None => {
                let mut buf = Vec::with_capacity(1024);
                records.iter().map(|r| hash_one(&mut buf, r)).collect()
            }
        };
        for ((item, record), check) in items.into_iter().zip(&records).zip(checks) {
            match (item, record) {
                (Item::Event { .. }, Some(record)) => verifier.apply(record, check),
                (Item::Checkpoint(c), _) => verifier.checkpoint(c),
                (Item::Malformed(detail), _) => verifier.malformed(detail),
                (Item::Event { .. }, None) => {}
            }
        }
        drop(records);
        self.text.clear();
    }
}

/// A [`Verifier`] running on a thread of its own, so that reading the next events (SQLite,
/// JSON parsing) overlaps with hashing the previous ones. Same calls, same order, same report.
pub struct Pipeline {
    current: Batch,
    to_worker: std::sync::mpsc::SyncSender<Batch>,
    from_worker: std::sync::mpsc::Receiver<Batch>,
    worker: std::thread::JoinHandle<Verifier>,
}

impl Pipeline {
    /// Moves `verifier` (with its expectations set) onto the verifying thread, hashing on as
    /// many threads as there are cores besides the reader's.
    pub fn new(verifier: Verifier) -> Pipeline {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Pipeline::with_hashers(verifier, cores.saturating_sub(1).max(1))
    }

    /// As [`Pipeline::new`], hashing on `hashers` threads.
    pub fn with_hashers(mut verifier: Verifier, hashers: usize) -> Pipeline {
        let (to_worker, inbox) = std::sync::mpsc::sync_channel::<Batch>(2);
        let (outbox, from_worker) = std::sync::mpsc::sync_channel::<Batch>(4);
        // A pool of its own: the hashing never waits behind other work on the global pool.
        let pool = (hashers > 1)
            .then(|| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(hashers)
                    .thread_name(|i| format!("audit-hash-{i}"))
                    .build()
                    .ok()
            })
            .flatten();
        let worker = std::thread::spawn(move || {
            for mut batch in inbox {
                batch.feed(&mut verifier, pool.as_ref());
                // The reader may be gone or have enough spare batches; either is fine.
                let _ = outbox.try_send(batch);
            }
            verifier
        });
        Pipeline {
            current: Batch::default(),
            to_worker,
            from_worker,
            worker,
        }
    }

    fn flush(&mut self) {
        let spare = self.from_worker.try_recv().unwrap_or_default();
        let full = std::mem::replace(&mut self.current, spare);
        // Fails only if the worker died; `finish` reports that.
        let _ = self.to_worker.send(full);
    }

    /// As [`Verifier::event`].
    pub fn event(&mut self, rec: &EventRecord<'_>) {
        self.current.push(rec);
        if self.current.items.len() >= BATCH {
            self.flush();
        }
    }

    /// As [`Verifier::checkpoint`].
    pub fn checkpoint(&mut self, checkpoint: Checkpoint) {
        self.current.items.push(Item::Checkpoint(checkpoint));
    }

    /// As [`Verifier::malformed`].
    pub fn malformed(&mut self, detail: String) {
        self.current.items.push(Item::Malformed(detail));
    }

    /// Waits for the verifying thread and returns the report.
    pub fn finish(mut self) -> Report {
        self.flush();
        let Pipeline {
            to_worker, worker, ..
        } = self;
        drop(to_worker);
        match worker.join() {
            Ok(verifier) => verifier.finish(),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::chain::to_hex;
    use ed25519_dalek::SigningKey;

    /// A chain of `n` events as owned (time, payload, prev_hash, hash) texts.
    fn chain(n: u64) -> Vec<(u64, String, String, String, String)> {
        let mut prev = [0u8; 32];
        (1..=n)
            .map(|seq| {
                let time = format!("2026-01-01T00:00:{:02}.000000Z", seq % 60);
                let payload = format!("{{\"n\":{seq}}}");
                let prev_hex = to_hex(&prev);
                let rec = record(seq, &time, &payload, &prev_hex, "");
                let hash = chain_hash(&prev, &rec.canonical_bytes());
                prev = hash;
                (seq, time, payload, prev_hex, to_hex(&hash))
            })
            .collect()
    }

    fn record<'a>(
        seq: u64,
        time: &'a str,
        payload: &'a str,
        prev: &'a str,
        hash: &'a str,
    ) -> EventRecord<'a> {
        EventRecord {
            seq,
            time,
            actor_kind: "system",
            actor_id: "test",
            actor_role: None,
            actor_contact: Some("x"),
            source: None,
            tld: Some("de"),
            request: None,
            kind: "k",
            payload,
            prev_hash: prev,
            hash,
        }
    }

    #[test]
    fn pipeline_with_many_hashers_reports_like_the_plain_verifier() {
        let key = SigningKey::from_bytes(&[4; 32]);
        let mut events = chain(10_000);
        let checkpoint = Checkpoint::sign(
            &key,
            6_000,
            &events[5_999].4,
            time::OffsetDateTime::UNIX_EPOCH,
        );
        events[7_000].2 = "{\"n\":0}".into();
        events.remove(9_000);
        let keys = [key.verifying_key()];
        let mut plain = Verifier::new(&keys);
        plain.expect_first(1);
        plain.checkpoint(checkpoint.clone());
        let mut piped = Pipeline::with_hashers(
            {
                let mut v = Verifier::new(&keys);
                v.expect_first(1);
                v
            },
            3,
        );
        piped.checkpoint(checkpoint);
        for (seq, time, payload, prev, hash) in &events {
            let rec = record(*seq, time, payload, prev, hash);
            plain.event(&rec);
            piped.event(&rec);
        }
        let (plain, piped) = (plain.finish(), piped.finish());
        assert_eq!(plain, piped);
        assert_eq!(plain.signed_through, Some(6_000));
        let found: Vec<(u64, ProblemKind)> =
            plain.problems.iter().map(|p| (p.seq, p.kind)).collect();
        assert_eq!(
            found,
            [
                (7_001, ProblemKind::HashMismatch),
                (9_001, ProblemKind::Gap)
            ]
        );
    }
}

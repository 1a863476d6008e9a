//! Export files: the event log with its hashes and checkpoints, complete enough that an
//! auditor can verify it on another machine with only the desk's public key.
//!
//! JSON Lines (`jsonl`, the default): one JSON object per line, told apart by `type`:
//! 1. `{"type":"export","format":"rootdesk-audit-export","version":1,"from":F,"to":T,
//!    "events":N,"checkpoints":M,"complete":B,"exported_at":"..."}`: always the first line;
//! 2. the checkpoints of events from `F` on (also beyond `T`), oldest first:
//!    `{"type":"checkpoint","seq":..,"hash":..,"time":..,"key_id":..,"signature":..}`;
//! 3. the events `F..=T` in order: `{"type":"event","seq":..,"time":..,"actor":{"kind":..,
//!    "id":..,"role":..,"contact":..},"source":..,"tld":..,"request":..,"kind":..,
//!    "payload":{..},"prev_hash":..,"hash":..}` with the payload in its canonical form.
//!
//! CSV (`csv`, RFC 4180, header row [`CSV_COLUMNS`]): one row per entry with the same order;
//! the `type` column says `export`, `checkpoint` or `event`. The export row carries the header
//! object (as in JSON Lines) in its `payload` column; checkpoint rows fill `seq`, `time`,
//! `hash`, `key_id`, `signature`; event rows fill everything but `key_id` and `signature`.
//! An empty cell is an absent (null) value: the desk never records empty strings.
//!
//! An export of `F..=T` with `F > 1` starts from the `prev_hash` of event `F`, which the file
//! itself cannot prove; a checkpoint at or after `F` vouches for it (its hash covers every
//! earlier hash), so the verifier reports such a start and relies on the checkpoints.

use std::borrow::Cow;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use time::OffsetDateTime;

use super::canonical::write_string;
use super::chain::EventRecord;
use super::verify::{Pipeline, Report, Verifier};
use super::{AuditError, Checkpoint};

/// One consistent view of the log that an export or a verification reads (the store gives
/// it from a read snapshot), so that the audit rules need no database type.
pub trait EventLog {
    /// The last event of `from..=to` (all from `from` on without `to`) and how many there
    /// are; `None` when there are none.
    fn span(&self, from: u64, to: Option<u64>) -> Result<Option<(u64, u64)>, AuditError>;
    /// The checkpoints of events `from` and later, in order.
    fn checkpoints_from(&self, from: u64) -> Result<Vec<Checkpoint>, AuditError>;
    /// Calls `f` with each event of `from..=to` in order.
    fn scan(
        &self,
        from: u64,
        to: Option<u64>,
        f: &mut dyn FnMut(&EventRecord<'_>) -> Result<(), AuditError>,
    ) -> Result<(), AuditError>;
}

/// The `format` value of an export header.
pub const EXPORT_FORMAT: &str = "rootdesk-audit-export";
/// The export layout version this build writes and reads.
pub const EXPORT_VERSION: u32 = 1;

/// The columns of a CSV export, in order.
pub const CSV_COLUMNS: [&str; 16] = [
    "type",
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
    "key_id",
    "signature",
];

/// File format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// JSON Lines: one object per line with a `type` field.
    Jsonl,
    /// CSV with a header row.
    Csv,
}

/// The first entry of an export: what it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportHeader {
    pub format: String,
    pub version: u32,
    /// The first and last event exported (`to < from` when there are none).
    pub from: u64,
    pub to: u64,
    pub events: u64,
    pub checkpoints: u64,
    /// True when `to` is the newest event of the log at export time: a checkpoint of a later
    /// event in the file then means events were cut off.
    pub complete: bool,
    pub exported_at: String,
}

/// Writes events `from..=to` (all from `from` on when `to` is `None`) and their checkpoints
/// of `log` to `out`. `name` names `out` in errors. The store's `write_export` gives it a
/// snapshot of the database.
pub fn write_log(
    log: &dyn EventLog,
    from: u64,
    to: Option<u64>,
    format: ExportFormat,
    out: &mut dyn Write,
    name: &Path,
) -> Result<ExportHeader, AuditError> {
    let from = from.max(1);
    let io = |e: std::io::Error| AuditError::io(name, e);
    {
        let range = log.span(from, to)?;
        let last = range.map_or(from - 1, |(last, _)| last);
        let newest = log.span(1, None)?.map_or(0, |(last, _)| last);
        // Checkpoints of later events too: they show whether events were cut off.
        let checkpoints = log.checkpoints_from(from)?;
        let header = ExportHeader {
            format: EXPORT_FORMAT.into(),
            version: EXPORT_VERSION,
            from,
            to: last,
            events: range.map_or(0, |(_, count)| count),
            checkpoints: checkpoints.len() as u64,
            complete: last >= newest,
            exported_at: crate::registry::timestamp(OffsetDateTime::now_utc()),
        };
        match format {
            ExportFormat::Jsonl => {
                let mut line = serde_json::to_value(&header).map_err(|e| io(e.into()))?;
                line["type"] = "export".into();
                writeln!(out, "{line}").map_err(io)?;
                for checkpoint in &checkpoints {
                    let mut line = serde_json::to_value(checkpoint).map_err(|e| io(e.into()))?;
                    line["type"] = "checkpoint".into();
                    writeln!(out, "{line}").map_err(io)?;
                }
                if range.is_some() {
                    let mut buf = Vec::with_capacity(1024);
                    log.scan(from, Some(last), &mut |rec| {
                        buf.clear();
                        write_jsonl_event(rec, &mut buf);
                        out.write_all(&buf).map_err(io)
                    })?;
                }
            }
            ExportFormat::Csv => {
                let mut csv = csv::Writer::from_writer(&mut *out);
                let csv_err = |e: csv::Error| AuditError::io(name, e.into());
                csv.write_record(CSV_COLUMNS).map_err(csv_err)?;
                let header_json = serde_json::to_string(&header).map_err(|e| io(e.into()))?;
                let mut row: [&str; 16] = [""; 16];
                row[0] = "export";
                row[11] = &header_json;
                csv.write_record(row).map_err(csv_err)?;
                for c in &checkpoints {
                    let seq = c.seq.to_string();
                    let mut row: [&str; 16] = [""; 16];
                    row[0] = "checkpoint";
                    row[1] = &seq;
                    row[2] = &c.time;
                    row[13] = &c.hash;
                    row[14] = &c.key_id;
                    row[15] = &c.signature;
                    csv.write_record(row).map_err(csv_err)?;
                }
                if range.is_some() {
                    log.scan(from, Some(last), &mut |r| {
                        let seq = r.seq.to_string();
                        let row = [
                            "event",
                            seq.as_str(),
                            r.time,
                            r.actor_kind,
                            r.actor_id,
                            r.actor_role.unwrap_or(""),
                            r.actor_contact.unwrap_or(""),
                            r.source.unwrap_or(""),
                            r.tld.unwrap_or(""),
                            r.request.unwrap_or(""),
                            r.kind,
                            r.payload,
                            r.prev_hash,
                            r.hash,
                            "",
                            "",
                        ];
                        csv.write_record(row).map_err(csv_err)
                    })?;
                }
                csv.flush().map_err(io)?;
            }
        }
        out.flush().map_err(io)?;
        Ok(header)
    }
}

fn write_jsonl_event(r: &EventRecord<'_>, out: &mut Vec<u8>) {
    let opt = |v: Option<&str>, out: &mut Vec<u8>| match v {
        Some(s) => write_string(s, out),
        None => out.extend_from_slice(b"null"),
    };
    out.extend_from_slice(b"{\"type\":\"event\",\"seq\":");
    out.extend_from_slice(r.seq.to_string().as_bytes());
    out.extend_from_slice(b",\"time\":");
    write_string(r.time, out);
    out.extend_from_slice(b",\"actor\":{\"kind\":");
    write_string(r.actor_kind, out);
    out.extend_from_slice(b",\"id\":");
    write_string(r.actor_id, out);
    out.extend_from_slice(b",\"role\":");
    opt(r.actor_role, out);
    out.extend_from_slice(b",\"contact\":");
    opt(r.actor_contact, out);
    out.extend_from_slice(b"},\"source\":");
    opt(r.source, out);
    out.extend_from_slice(b",\"tld\":");
    opt(r.tld, out);
    out.extend_from_slice(b",\"request\":");
    opt(r.request, out);
    out.extend_from_slice(b",\"kind\":");
    write_string(r.kind, out);
    out.extend_from_slice(b",\"payload\":");
    out.extend_from_slice(r.payload.as_bytes());
    out.extend_from_slice(b",\"prev_hash\":");
    write_string(r.prev_hash, out);
    out.extend_from_slice(b",\"hash\":");
    write_string(r.hash, out);
    out.extend_from_slice(b"}\n");
}

/// Verifies every event and checkpoint of `log` (the store's `verify_store` gives it a
/// snapshot of the database).
pub fn verify_log(log: &dyn EventLog, keys: &[VerifyingKey]) -> Result<Report, AuditError> {
    let mut verifier = Verifier::new(keys);
    verifier.expect_first(1);
    for checkpoint in log.checkpoints_from(1)? {
        verifier.checkpoint(checkpoint);
    }
    let mut pipeline = Pipeline::new(verifier);
    log.scan(1, None, &mut |rec| {
        pipeline.event(rec);
        Ok(())
    })?;
    Ok(pipeline.finish())
}

/// Verifies an export file (JSON Lines or CSV, told apart by its first byte).
pub fn verify_file(path: &Path, keys: &[VerifyingKey]) -> Result<Report, AuditError> {
    let file = std::fs::File::open(path).map_err(|e| AuditError::io(path, e))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let first = reader
        .fill_buf()
        .map_err(|e| AuditError::io(path, e))?
        .first()
        .copied();
    match first {
        Some(b'{') => verify_jsonl(path, reader, keys),
        Some(_) => verify_csv(path, reader, keys),
        None => Err(AuditError::Format {
            path: path.to_path_buf(),
            line: 1,
            message: "the file is empty".into(),
        }),
    }
}

fn check_header(
    path: &Path,
    header: &ExportHeader,
    verifier: &mut Verifier,
) -> Result<(), AuditError> {
    if header.format != EXPORT_FORMAT || header.version != EXPORT_VERSION {
        return Err(AuditError::Format {
            path: path.to_path_buf(),
            line: 1,
            message: format!(
                "format {} version {}; this rootdesk reads {EXPORT_FORMAT} version {EXPORT_VERSION}",
                header.format, header.version
            ),
        });
    }
    verifier.expect_first(header.from.max(1));
    verifier.set_complete(header.complete);
    if header.events > 0 {
        verifier.expect_last(header.to);
    }
    verifier.expect_checkpoints(header.checkpoints);
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActorLine<'a> {
    #[serde(borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow, default)]
    role: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    contact: Option<Cow<'a, str>>,
}

/// Any JSON Lines entry; which fields are set depends on `type`. A field the hash or the
/// signature does not cover is refused, as is any field twice (serde's derive refuses both).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line<'a> {
    #[serde(rename = "type", borrow)]
    ty: Cow<'a, str>,
    seq: Option<u64>,
    #[serde(borrow, default)]
    time: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    actor: Option<ActorLine<'a>>,
    #[serde(borrow, default)]
    source: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    tld: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    request: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    payload: Option<&'a RawValue>,
    #[serde(borrow, default)]
    prev_hash: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    hash: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    key_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    signature: Option<Cow<'a, str>>,
}

fn verify_jsonl(
    path: &Path,
    mut reader: impl BufRead,
    keys: &[VerifyingKey],
) -> Result<Report, AuditError> {
    let format_error = |line: u64, message: String| AuditError::Format {
        path: path.to_path_buf(),
        line,
        message,
    };
    let mut text = String::with_capacity(4096);
    if reader
        .read_line(&mut text)
        .map_err(|e| AuditError::io(path, e))?
        == 0
    {
        return Err(format_error(1, "the file is empty".into()));
    }
    let mut value: serde_json::Value = serde_json::from_str(text.trim_end())
        .map_err(|e| format_error(1, format!("not JSON: {e}")))?;
    let header = (value["type"] == "export")
        .then(|| value.as_object_mut().map(|o| o.remove("type")))
        .and_then(|_| serde_json::from_value::<ExportHeader>(value).ok())
        .ok_or_else(|| format_error(1, "not a rootdesk audit export: the first line must be its export header; make exports with `rootdesk audit export`".into()))?;
    let mut verifier = Verifier::new(keys);
    check_header(path, &header, &mut verifier)?;
    let mut pipeline = Pipeline::new(verifier);
    let mut number = 1u64;
    loop {
        text.clear();
        if reader
            .read_line(&mut text)
            .map_err(|e| AuditError::io(path, e))?
            == 0
        {
            break;
        }
        number += 1;
        let line = text.trim_end_matches(['\n', '\r']);
        if line.is_empty() {
            continue;
        }
        match serde_json::from_str::<Line<'_>>(line) {
            Ok(entry) => jsonl_entry(&mut pipeline, number, entry),
            Err(e) => pipeline.malformed(format!("line {number}: not a valid entry: {e}")),
        }
    }
    Ok(pipeline.finish())
}

fn jsonl_entry(verifier: &mut Pipeline, number: u64, e: Line<'_>) {
    let missing = |field: &str| format!("line {number}: {} entry without {field}", e.ty);
    match e.ty.as_ref() {
        "checkpoint" => {
            if e.actor.is_some()
                || e.source.is_some()
                || e.tld.is_some()
                || e.request.is_some()
                || e.kind.is_some()
                || e.payload.is_some()
                || e.prev_hash.is_some()
            {
                return verifier.malformed(format!(
                    "line {number}: checkpoint entry with event fields its signature does not cover"
                ));
            }
            let (Some(seq), Some(hash), Some(time), Some(key_id), Some(signature)) =
                (e.seq, &e.hash, &e.time, &e.key_id, &e.signature)
            else {
                return verifier.malformed(missing("seq, hash, time, key_id or signature"));
            };
            verifier.checkpoint(Checkpoint {
                seq,
                hash: hash.to_string(),
                time: time.to_string(),
                key_id: key_id.to_string(),
                signature: signature.to_string(),
            });
        }
        "event" => {
            if e.key_id.is_some() || e.signature.is_some() {
                return verifier.malformed(format!(
                    "line {number}: event {} with key_id or signature, fields its hash does not cover",
                    e.seq.unwrap_or_default()
                ));
            }
            let (Some(seq), Some(time), Some(actor), Some(kind), Some(prev_hash), Some(hash)) =
                (e.seq, &e.time, &e.actor, &e.kind, &e.prev_hash, &e.hash)
            else {
                return verifier.malformed(missing("seq, time, actor, kind, prev_hash or hash"));
            };
            verifier.event(&EventRecord {
                seq,
                time,
                actor_kind: &actor.kind,
                actor_id: &actor.id,
                actor_role: actor.role.as_deref(),
                actor_contact: actor.contact.as_deref(),
                source: e.source.as_deref(),
                tld: e.tld.as_deref(),
                request: e.request.as_deref(),
                kind,
                payload: e.payload.map_or("null", RawValue::get),
                prev_hash,
                hash,
            });
        }
        other => verifier.malformed(format!("line {number}: unknown entry type {other:?}")),
    }
}

fn verify_csv(path: &Path, reader: impl Read, keys: &[VerifyingKey]) -> Result<Report, AuditError> {
    let format_error = |line: u64, message: String| AuditError::Format {
        path: path.to_path_buf(),
        line,
        message,
    };
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(reader);
    let columns = csv
        .headers()
        .map_err(|e| format_error(1, e.to_string()))?
        .clone();
    if columns.iter().ne(CSV_COLUMNS) {
        return Err(format_error(
            1,
            format!(
                "not a rootdesk audit export: the header row must be {}",
                CSV_COLUMNS.join(",")
            ),
        ));
    }
    let mut record = csv::StringRecord::new();
    let line = csv.position().line();
    let has_row = csv
        .read_record(&mut record)
        .map_err(|e| format_error(line, e.to_string()))?;
    let header = (has_row && record.len() == CSV_COLUMNS.len() && &record[0] == "export")
        .then(|| serde_json::from_str::<ExportHeader>(&record[11]).ok())
        .flatten()
        .ok_or_else(|| format_error(line, "not a rootdesk audit export: the first row must be its export row; make exports with `rootdesk audit export`".into()))?;
    let mut verifier = Verifier::new(keys);
    check_header(path, &header, &mut verifier)?;
    let mut pipeline = Pipeline::new(verifier);
    loop {
        let line = csv.position().line();
        match csv.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    return Err(AuditError::io(path, std::io::Error::other(e.to_string())));
                }
                pipeline.malformed(format!("line {line}: {e}"));
                continue;
            }
        }
        if record.len() != CSV_COLUMNS.len() {
            pipeline.malformed(format!(
                "line {line}: {} cells, expected {}",
                record.len(),
                CSV_COLUMNS.len()
            ));
            continue;
        }
        let cell = |i: usize| &record[i];
        let opt = |i: usize| Some(&record[i]).filter(|s| !s.is_empty());
        let Ok(seq) = cell(1).parse::<u64>() else {
            pipeline.malformed(format!("line {line}: seq {:?} is not a number", cell(1)));
            continue;
        };
        // A cell the entry's hash or signature does not cover must be empty.
        let stray = match cell(0) {
            "checkpoint" => (3..=12).find(|&i| !cell(i).is_empty()),
            "event" => (14..=15).find(|&i| !cell(i).is_empty()),
            _ => None,
        };
        if let Some(i) = stray {
            pipeline.malformed(format!(
                "line {line}: {} {seq} has a value in column {}, which its {} does not cover",
                cell(0),
                CSV_COLUMNS[i],
                if cell(0) == "event" {
                    "hash"
                } else {
                    "signature"
                }
            ));
            continue;
        }
        match cell(0) {
            "checkpoint" => pipeline.checkpoint(Checkpoint {
                seq,
                hash: cell(13).to_string(),
                time: cell(2).to_string(),
                key_id: cell(14).to_string(),
                signature: cell(15).to_string(),
            }),
            "event" => pipeline.event(&EventRecord {
                seq,
                time: cell(2),
                actor_kind: cell(3),
                actor_id: cell(4),
                actor_role: opt(5),
                actor_contact: opt(6),
                source: opt(7),
                tld: opt(8),
                request: opt(9),
                kind: cell(10),
                payload: cell(11),
                prev_hash: cell(12),
                hash: cell(13),
            }),
            other => pipeline.malformed(format!("line {line}: unknown row type {other:?}")),
        }
    }
    Ok(pipeline.finish())
}

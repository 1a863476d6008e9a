//! The hash chain: which bytes of an event are hashed, and how each hash covers the one before.
//!
//! An event's canonical bytes are the canonical JSON (see [`super::canonical`]) of this object,
//! every field always present (`null` when absent), keys in this (sorted) order:
//!
//! ```text
//! {"actor":{"contact":C,"id":I,"kind":K,"role":R},"kind":KIND,"payload":P,"request":Q,
//!  "seq":N,"source":S,"time":T,"tld":L}
//! ```
//!
//! (one line, no whitespace). `seq` is a JSON integer; `time` the stored RFC 3339 text; `payload`
//! the event's canonical JSON payload. The event's hash is
//! `SHA-256(prev_hash as 32 raw bytes || canonical bytes)`, written as 64 lower-case hex
//! digits; `prev_hash` is the previous event's hash, or 32 zero bytes for event 1.

use std::io::Write;

use sha2::{Digest, Sha256};

use super::canonical::write_string;

/// The `prev_hash` of event 1: 32 zero bytes, in hex.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One event in its recorded form: every field as the text that is stored, exported and
/// hashed. This is what the verifier works on, so that it never depends on re-parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRecord<'a> {
    pub seq: u64,
    /// RFC 3339, UTC, microseconds: `2026-11-23T02:00:00.000000Z`.
    pub time: &'a str,
    pub actor_kind: &'a str,
    pub actor_id: &'a str,
    pub actor_role: Option<&'a str>,
    pub actor_contact: Option<&'a str>,
    pub source: Option<&'a str>,
    pub tld: Option<&'a str>,
    pub request: Option<&'a str>,
    pub kind: &'a str,
    /// The payload's canonical JSON text.
    pub payload: &'a str,
    pub prev_hash: &'a str,
    pub hash: &'a str,
}

impl EventRecord<'_> {
    /// Appends this event's canonical bytes to `out` (the payload text is taken as it is).
    pub fn write_canonical(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"actor\":{\"contact\":");
        write_opt(self.actor_contact, out);
        out.extend_from_slice(b",\"id\":");
        write_string(self.actor_id, out);
        out.extend_from_slice(b",\"kind\":");
        write_string(self.actor_kind, out);
        out.extend_from_slice(b",\"role\":");
        write_opt(self.actor_role, out);
        out.extend_from_slice(b"},\"kind\":");
        write_string(self.kind, out);
        out.extend_from_slice(b",\"payload\":");
        out.extend_from_slice(self.payload.as_bytes());
        out.extend_from_slice(b",\"request\":");
        write_opt(self.request, out);
        out.extend_from_slice(b",\"seq\":");
        // Writing to a Vec cannot fail.
        let _ = write!(out, "{}", self.seq);
        out.extend_from_slice(b",\"source\":");
        write_opt(self.source, out);
        out.extend_from_slice(b",\"time\":");
        write_string(self.time, out);
        out.extend_from_slice(b",\"tld\":");
        write_opt(self.tld, out);
        out.push(b'}');
    }

    /// This event's canonical bytes.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + self.payload.len());
        self.write_canonical(&mut out);
        out
    }
}

fn write_opt(value: Option<&str>, out: &mut Vec<u8>) {
    match value {
        Some(s) => write_string(s, out),
        None => out.extend_from_slice(b"null"),
    }
}

/// `SHA-256(prev || canonical)`.
pub fn chain_hash(prev: &[u8; 32], canonical: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(prev);
    hasher.update(canonical);
    hasher.finalize().into()
}

/// Lower-case hex of a hash.
pub fn to_hex(hash: &[u8; 32]) -> String {
    data_encoding::HEXLOWER.encode(hash)
}

/// A hash from its 64 hex digits (either case); `None` if it is not one.
pub fn from_hex(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    let hex = data_encoding::HEXLOWER_PERMISSIVE;
    if hex.decode_len(text.len()).ok()? != out.len() {
        return None;
    }
    hex.decode_mut(text.as_bytes(), &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_bytes_of_a_minimal_event() {
        let rec = EventRecord {
            seq: 1,
            time: "2026-01-01T00:00:00.000000Z",
            actor_kind: "system",
            actor_id: "test",
            actor_role: None,
            actor_contact: None,
            source: None,
            tld: Some("de"),
            request: None,
            kind: "zone-imported",
            payload: "{}",
            prev_hash: GENESIS_HASH,
            hash: "",
        };
        let bytes = String::from_utf8(rec.canonical_bytes()).expect("utf8");
        assert_eq!(
            bytes,
            r#"{"actor":{"contact":null,"id":"test","kind":"system","role":null},"kind":"zone-imported","payload":{},"request":null,"seq":1,"source":null,"time":"2026-01-01T00:00:00.000000Z","tld":"de"}"#
        );
        // The same bytes through the general canonicalizer: the hand-written layout is canonical.
        let value: serde_json::Value = serde_json::from_str(&bytes).expect("json");
        assert_eq!(
            super::super::canonical::to_canonical_string(&value).expect("canon"),
            bytes
        );
    }

    #[test]
    fn hex_round_trip() {
        let h = chain_hash(&[0; 32], b"x");
        assert_eq!(from_hex(&to_hex(&h)), Some(h));
        assert_eq!(from_hex(&to_hex(&h).to_uppercase()), Some(h));
        assert_eq!(from_hex("00"), None);
        assert_eq!(from_hex(&"g".repeat(64)), None);
        assert_eq!(from_hex(GENESIS_HASH), Some([0; 32]));
    }
}

//! Canonical JSON: the one byte string a JSON value hashes as.
//!
//! Hashes must not depend on how a serializer happens to order keys or escape characters, so
//! every hashed value goes through these rules (RFC 8785, the JSON Canonicalization Scheme,
//! restricted to the values the audit log accepts):
//!
//! - no whitespace outside strings;
//! - object members sorted by their keys compared as sequences of UTF-16 code units;
//! - strings: `"` and `\` escaped as `\"` and `\\`; U+0008, U+0009, U+000A, U+000C, U+000D as
//!   `\b`, `\t`, `\n`, `\f`, `\r`; any other character below U+0020 as `\u00xx` (lower-case
//!   hex); every other character, including `/`, U+007F and all non-ASCII, as its UTF-8 bytes;
//! - numbers: integers only, between -(2^53-1) and 2^53-1, in plain decimal (a float with an
//!   integral value in that range, such as `5.0`, is written `5`; `-0` is written `0`).
//!   Fractions and larger magnitudes are refused, because their RFC 8785 form depends on
//!   double-precision formatting that an auditor's tools may not reproduce.
//!
//! For every value it accepts, the output is exactly RFC 8785's.

use serde_json::Value;

/// The largest integer magnitude JSON numbers carry exactly everywhere (I-JSON, RFC 7493).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// A value the canonical form cannot represent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    #[error(
        "the number {0} is not an integer between -(2^53-1) and 2^53-1; record it as a string"
    )]
    Number(String),
}

/// The canonical form of `value` as a string.
pub fn to_canonical_string(value: &Value) -> Result<String, CanonicalError> {
    let mut out = Vec::with_capacity(128);
    write_value(value, &mut out)?;
    // Only whole UTF-8 strings and ASCII were written.
    String::from_utf8(out).map_err(|_| CanonicalError::Number("(invalid UTF-8)".into()))
}

/// Appends the canonical form of `value` to `out`.
pub fn write_value(value: &Value, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(n, out)?,
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            // serde_json orders keys by UTF-8 bytes; RFC 8785 wants UTF-16 code units. The two
            // differ only when keys hold characters above U+FFFF.
            members.sort_by(|a, b| utf16_cmp(a.0, b.0));
            out.push(b'{');
            for (i, (key, item)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                write_value(item, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn utf16_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    if a.is_ascii() && b.is_ascii() {
        return a.as_bytes().cmp(b.as_bytes());
    }
    a.encode_utf16().cmp(b.encode_utf16())
}

fn write_number(n: &serde_json::Number, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    let refuse = || CanonicalError::Number(n.to_string());
    if let Some(u) = n.as_u64() {
        if u > MAX_SAFE_INTEGER {
            return Err(refuse());
        }
        out.extend_from_slice(u.to_string().as_bytes());
    } else if let Some(i) = n.as_i64() {
        if i.unsigned_abs() > MAX_SAFE_INTEGER {
            return Err(refuse());
        }
        out.extend_from_slice(i.to_string().as_bytes());
    } else {
        let f = n.as_f64().ok_or_else(refuse)?;
        if !f.is_finite() || f.fract() != 0.0 || f.abs() > MAX_SAFE_INTEGER as f64 {
            return Err(refuse());
        }
        // Integral and in range, so the conversion is exact; `-0.0` becomes 0.
        out.extend_from_slice((f as i64).to_string().as_bytes());
    }
    Ok(())
}

/// Which bytes a string must escape: `"`, `\` and the controls below 0x20.
const ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// Appends `s` as a canonical JSON string, quotes included.
pub fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    // Most strings need no escape: copy runs between escapes whole.
    while let Some(offset) = bytes[start..].iter().position(|&b| ESCAPE[b as usize]) {
        let i = start + offset;
        out.extend_from_slice(&bytes[start..i]);
        let b = bytes[i];
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x09 => out.extend_from_slice(b"\\t"),
            0x0a => out.extend_from_slice(b"\\n"),
            0x0c => out.extend_from_slice(b"\\f"),
            0x0d => out.extend_from_slice(b"\\r"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 0xf) as usize]);
            }
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Whether some JSON object in `text` has a key twice (or `text` is not JSON).
pub fn has_duplicate_keys(text: &str) -> bool {
    use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};

    struct Unique;
    impl<'de> serde::de::DeserializeSeed<'de> for Unique {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }
    impl<'de> Visitor<'de> for Unique {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("JSON without duplicate keys")
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let mut seen = std::collections::HashSet::new();
            while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                if !seen.insert(key.into_owned()) {
                    return Err(serde::de::Error::custom("duplicate key"));
                }
                map.next_value_seed(Unique)?;
            }
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while seq.next_element_seed(Unique)?.is_some() {}
            Ok(())
        }
    }
    let mut d = serde_json::Deserializer::from_str(text);
    serde::de::DeserializeSeed::deserialize(Unique, &mut d).is_err()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canon(v: Value) -> String {
        to_canonical_string(&v).expect("canonical")
    }

    #[test]
    fn sorts_keys_and_drops_whitespace() {
        let v: Value = serde_json::from_str(r#"{ "b": [1, 2, {"z": null, "a": true}], "a": "x" }"#)
            .expect("json");
        assert_eq!(canon(v), r#"{"a":"x","b":[1,2,{"a":true,"z":null}]}"#);
    }

    #[test]
    fn escapes_like_rfc8785() {
        let v = json!("\"\\/\u{8}\t\n\u{c}\r\u{1}\u{1f}\u{7f}é€😀");
        assert_eq!(
            canon(v),
            "\"\\\"\\\\/\\b\\t\\n\\f\\r\\u0001\\u001f\u{7f}é€😀\""
        );
    }

    #[test]
    fn keys_sort_by_utf16_code_units() {
        // U+1F600 is D83D DE00 in UTF-16, which sorts before U+FB01 (ﬁ); in UTF-8 it is after.
        let mut map = serde_json::Map::new();
        map.insert("\u{fb01}".into(), json!(1));
        map.insert("\u{1f600}".into(), json!(2));
        assert_eq!(
            canon(Value::Object(map)),
            "{\"\u{1f600}\":2,\"\u{fb01}\":1}"
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(
            canon(json!([0, -1, 9007199254740991_u64, -9007199254740991_i64])),
            "[0,-1,9007199254740991,-9007199254740991]"
        );
        assert_eq!(canon(json!([5.0, -0.0, 1e3])), "[5,0,1000]");
        for bad in [
            json!(1.5),
            json!(9007199254740992_u64),
            json!(-9007199254740992_i64),
            json!(1e300),
        ] {
            assert!(to_canonical_string(&bad).is_err(), "{bad} accepted");
        }
    }
}

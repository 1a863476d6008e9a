//! The registry model: what the root zone and the Root Zone Database hold for each TLD.
//!
//! Everything that enters rootdesk from a user, a file or the network becomes one of these
//! validated types first, so that the rest of the crate never handles an unchecked name,
//! address or DS record. No I/O lives here.

mod delegation;
mod ds;
mod names;
mod role;
mod tld;
mod zone;

pub use delegation::{Delegation, DelegationDiff, NameServer};
pub use ds::DsRecord;
pub use names::{HostName, TldLabel};
pub use role::{token_hash, Role};
pub use tld::{parse_tld_lines, Contact, ContactRole, LineError, TldRecord, TldStatus, TldType};
pub use zone::{Apex, HostAddress, RootZone, Soa, TldDelegation, ZoneDiff};

/// Characters no text field may hold: they could end a line or reorder text in a mail and so
/// pose as the desk's own text (issue 10 item 9). The API and every command that writes text
/// to the database refuse them.
pub fn is_forbidden_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}')
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// The first string of a JSON value (keys included) that holds a forbidden character: its
/// field path (`""` for the value itself) and the character.
pub fn find_forbidden_char(value: &serde_json::Value) -> Option<(String, char)> {
    fn walk(value: &serde_json::Value, path: &str) -> Option<(String, char)> {
        let bad = |s: &str| s.chars().find(|c| is_forbidden_char(*c));
        match value {
            serde_json::Value::String(s) => bad(s).map(|c| (path.to_string(), c)),
            serde_json::Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, v)| walk(v, &format!("{path}[{i}]"))),
            serde_json::Value::Object(map) => map.iter().find_map(|(k, v)| {
                let here = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                bad(k).map(|c| (here.clone(), c)).or_else(|| walk(v, &here))
            }),
            _ => None,
        }
    }
    walk(value, "")
}

/// Why a text field is refused, naming it.
pub fn forbidden_char_message(field: &str, c: char) -> String {
    format!(
        "{field}: holds the control or formatting character U+{:04X}; text fields take one \
         line of plain text, without line breaks, tabs or direction marks",
        c as u32
    )
}

/// A value that failed validation: what it was meant to be, the value, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {value:?}: {reason}")]
pub struct Invalid {
    pub what: &'static str,
    pub value: String,
    pub reason: String,
}

impl Invalid {
    pub(crate) fn new(
        what: &'static str,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Invalid {
            what,
            value: value.into(),
            reason: reason.into(),
        }
    }
}

/// The current time as RFC 3339 UTC with microseconds, the form every timestamp is stored in.
pub fn timestamp(t: time::OffsetDateTime) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
    );
    t.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .unwrap_or_default()
}

/// Serde for times in the one form rootdesk writes everywhere, the stored form of
/// [`timestamp`] (RFC 3339, UTC, six fraction digits): API answers, `--json` output and
/// exports show the exact text that event hashes cover. Reading accepts any RFC 3339 time.
pub mod time_format {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::OffsetDateTime;

    pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::timestamp(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let text = String::deserialize(d)?;
        OffsetDateTime::parse(&text, &time::format_description::well_known::Rfc3339)
            .map_err(serde::de::Error::custom)
    }

    pub mod option {
        use super::*;

        pub fn serialize<S: Serializer>(
            t: &Option<OffsetDateTime>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => super::serialize(t, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<OffsetDateTime>, D::Error> {
            Option::<String>::deserialize(d)?
                .map(|text| {
                    OffsetDateTime::parse(&text, &time::format_description::well_known::Rfc3339)
                        .map_err(serde::de::Error::custom)
                })
                .transpose()
        }
    }
}

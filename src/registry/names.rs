//! TLD labels and name server host names.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use hickory_proto::rr::Name;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Invalid;

/// A top-level domain label in its A-label form (`de`, `xn--p1ai`), lower case, no dot.
///
/// Parsing accepts a U-label (`рф`) and converts it; [`TldLabel::unicode`] gives it back for
/// display. Following IANA's rules for TLD strings, an ASCII label is letters only and an
/// IDN label is a valid `xn--` A-label.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TldLabel(String);

impl TldLabel {
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let trimmed = input.trim();
        let trimmed = trimmed.strip_suffix('.').unwrap_or(trimmed);
        let invalid = |reason: &str| Invalid::new("TLD label", input, reason);
        if trimmed.is_empty() {
            return Err(invalid("it is empty"));
        }
        if trimmed.contains('.') {
            return Err(invalid("a TLD is a single label, without dots"));
        }
        let ascii = if trimmed.is_ascii() {
            trimmed.to_ascii_lowercase()
        } else {
            idna::domain_to_ascii_strict(trimmed)
                .map_err(|_| invalid("it is not a valid internationalised label (IDNA2008)"))?
        };
        if ascii.len() > 63 {
            return Err(invalid("a label is at most 63 octets"));
        }
        if let Some(rest) = ascii.strip_prefix("xn--") {
            if rest.is_empty() || !is_ldh(&ascii) || ascii.ends_with('-') {
                return Err(invalid("an A-label must be letters, digits and hyphens"));
            }
            let (unicode, result) = idna::domain_to_unicode(&ascii);
            if result.is_err() || unicode == ascii {
                return Err(invalid("the A-label does not decode to a valid U-label"));
            }
        } else if !ascii.bytes().all(|b| b.is_ascii_lowercase()) {
            return Err(invalid(
                "an ASCII TLD consists of letters only (IDN TLDs use an xn-- A-label)",
            ));
        }
        Ok(TldLabel(ascii))
    }

    /// The A-label, as published in the root zone.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The U-label for IDN TLDs, the A-label otherwise.
    pub fn unicode(&self) -> String {
        if self.0.starts_with("xn--") {
            let (unicode, result) = idna::domain_to_unicode(&self.0);
            if result.is_ok() {
                return unicode;
            }
        }
        self.0.clone()
    }

    /// The TLD as an absolute DNS name (`de.`).
    pub fn to_name(&self) -> Name {
        // A validated label is always a valid name.
        Name::from_ascii(format!("{}.", self.0)).unwrap_or_else(|_| Name::root())
    }
}

impl fmt::Display for TldLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for TldLabel {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        TldLabel::parse(s)
    }
}

/// A name server host name: lower case, without the trailing dot, every label LDH (RFC 1123),
/// at least two labels.
///
/// Ordered canonically (RFC 4034 §6.1: label by label from the right), the order of a sorted
/// zone file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostName(String);

impl HostName {
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let trimmed = input.trim();
        let invalid = |reason: &str| Invalid::new("host name", input, reason);
        let ascii = if trimmed.is_ascii() {
            trimmed.to_ascii_lowercase()
        } else {
            idna::domain_to_ascii_strict(trimmed)
                .map_err(|_| invalid("it is not a valid internationalised name (IDNA2008)"))?
        };
        let ascii = ascii.strip_suffix('.').unwrap_or(&ascii).to_string();
        if ascii.is_empty() {
            return Err(invalid("it is empty"));
        }
        // hickory enforces the DNS limits (label and name length).
        let name = Name::from_ascii(format!("{ascii}.")).map_err(|e| invalid(&e.to_string()))?;
        if wire_length(&name) > 255 {
            return Err(invalid("a name is at most 255 octets"));
        }
        let labels: Vec<&str> = ascii.split('.').collect();
        if labels.len() < 2 {
            return Err(invalid("a name server's name has at least two labels"));
        }
        for label in &labels {
            if label.is_empty() {
                return Err(invalid("it has an empty label"));
            }
            if label.len() > 63 {
                return Err(invalid("a label is at most 63 octets"));
            }
            if !is_ldh(label) {
                return Err(invalid(
                    "labels may hold only letters, digits and hyphens (RFC 1123)",
                ));
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(invalid("a label may not start or end with a hyphen"));
            }
        }
        let tld = labels[labels.len() - 1];
        if tld.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid("the last label may not be all digits"));
        }
        Ok(HostName(ascii))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The absolute DNS name (`ns1.example.de.`).
    pub fn to_name(&self) -> Name {
        Name::from_ascii(format!("{}.", self.0)).unwrap_or_else(|_| Name::root())
    }

    /// The absolute name in presentation form, with the trailing dot.
    pub fn to_fqdn(&self) -> String {
        format!("{}.", self.0)
    }

    /// The last label: the TLD this host lies under.
    pub fn tld_label(&self) -> &str {
        self.0.rsplit('.').next().unwrap_or(&self.0)
    }

    /// Whether this host lies inside `tld` (in-bailiwick: its glue is required).
    pub fn is_under(&self, tld: &TldLabel) -> bool {
        self.tld_label() == tld.as_str()
    }
}

fn is_ldh(label: &str) -> bool {
    label
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The length of a name on the wire (hickory's `Name::len` is the presentation length).
pub(crate) fn wire_length(name: &Name) -> usize {
    name.iter().map(|label| label.len() + 1).sum::<usize>() + 1
}

impl Ord for HostName {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.rsplit('.').cmp(other.0.rsplit('.'))
    }
}

impl PartialOrd for HostName {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for HostName {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        HostName::parse(s)
    }
}

macro_rules! string_serde {
    ($ty:ty) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                <$ty>::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}
string_serde!(TldLabel);
string_serde!(HostName);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tld_labels() {
        assert_eq!(
            TldLabel::parse("DE.").map(|l| l.to_string()),
            Ok("de".into())
        );
        let rf = TldLabel::parse("рф").expect("U-label");
        assert_eq!(rf.as_str(), "xn--p1ai");
        assert_eq!(rf.unicode(), "рф");
        assert_eq!(
            TldLabel::parse("xn--p1ai").map(|l| l.unicode()),
            Ok("рф".into())
        );
        for bad in [
            "",
            "a.b",
            "de1",
            "-de",
            "x_y",
            "xn--",
            "xn--zz-",
            &"a".repeat(64),
        ] {
            assert!(TldLabel::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn host_names() {
        let h = HostName::parse("NS1.Example.DE.").expect("valid");
        assert_eq!(h.as_str(), "ns1.example.de");
        assert_eq!(h.to_fqdn(), "ns1.example.de.");
        assert!(h.is_under(&TldLabel::parse("de").expect("label")));
        for bad in [
            "de", "a..de", "-a.de", "a-.de", "a_b.de", "a.123", "a b.de", "",
        ] {
            assert!(HostName::parse(bad).is_err(), "{bad:?} accepted");
        }
        let long = format!("{}.de", vec!["a".repeat(63); 4].join("."));
        assert!(HostName::parse(&long).is_err());
    }

    #[test]
    fn canonical_order() {
        let mut names: Vec<HostName> = ["a.nic.aaa", "z.aaa", "b.aa", "ns.ab"]
            .iter()
            .map(|n| HostName::parse(n).expect("valid"))
            .collect();
        names.sort();
        let sorted: Vec<&str> = names.iter().map(|n| n.as_str()).collect();
        assert_eq!(sorted, ["b.aa", "a.nic.aaa", "z.aaa", "ns.ab"]);
    }
}

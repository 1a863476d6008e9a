//! TLD records of the Root Zone Database and their contacts.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{Delegation, Invalid, TldLabel};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TldType {
    Cctld,
    Gtld,
    Infrastructure,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TldStatus {
    Active,
    Undelegated,
    Retired,
}

/// The two roles a contact holds for a TLD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContactRole {
    Admin,
    Tech,
}

macro_rules! text_enum {
    ($ty:ty, $what:literal, $($variant:ident => $text:literal),+) => {
        impl $ty {
            pub fn as_str(&self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }
        impl FromStr for $ty {
            type Err = Invalid;
            fn from_str(s: &str) -> Result<Self, Invalid> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    _ => Err(Invalid::new($what, s, concat!("expected one of: ", $($text, " "),+))),
                }
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
text_enum!(TldType, "TLD type", Cctld => "cctld", Gtld => "gtld", Infrastructure => "infrastructure");
text_enum!(TldStatus, "TLD status", Active => "active", Undelegated => "undelegated", Retired => "retired");
text_enum!(ContactRole, "contact role", Admin => "admin", Tech => "tech");

/// A contact: a person or role account that acts for a TLD.
///
/// The handle identifies it across TLDs (one contact may hold roles on several TLDs), and is
/// the subject of its API token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    pub handle: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

impl Contact {
    /// Checks the handle and the e-mail address.
    pub fn validate(&self) -> Result<(), Invalid> {
        validate_handle(&self.handle)?;
        if let Some(email) = &self.email {
            let valid = email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty() && domain.contains('.') && !email.contains(char::is_whitespace)
            });
            if !valid {
                return Err(Invalid::new(
                    "e-mail address",
                    email,
                    "expected local@domain",
                ));
            }
        }
        Ok(())
    }
}

/// A contact handle: 1 to 64 of lower-case letters, digits, `.`, `_`, `-`.
pub fn validate_handle(handle: &str) -> Result<(), Invalid> {
    let ok = !handle.is_empty()
        && handle.len() <= 64
        && handle
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Invalid::new(
            "contact handle",
            handle,
            "use 1 to 64 lower-case letters, digits, '.', '_' or '-'",
        ))
    }
}

/// A TLD record of the Root Zone Database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TldRecord {
    pub label: TldLabel,
    /// The U-label of an IDN TLD, for display.
    pub unicode: String,
    #[serde(rename = "type")]
    pub kind: TldType,
    pub tag: Option<String>,
    pub country: Option<String>,
    pub status: TldStatus,
    pub sponsor: Option<String>,
    pub admin: Option<Contact>,
    pub tech: Option<Contact>,
    pub created: Option<String>,
    pub updated: Option<String>,
    /// The delegation currently published; empty for undelegated TLDs.
    pub delegation: Delegation,
}

/// Checks a `YYYY-MM-DD` date.
pub fn validate_date(value: &str) -> Result<(), Invalid> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(value, &format)
        .map(|_| ())
        .map_err(|_| Invalid::new("date", value, "expected YYYY-MM-DD"))
}

/// One line of a TLD records file (JSON Lines), in the format of IANA's Root Zone Database
/// extract (`shared/data/tlds.jsonl`), optionally with contact details.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct TldLine {
    tld: String,
    #[serde(rename = "type")]
    kind: TldType,
    #[serde(default)]
    tag: Option<String>,
    #[serde(default)]
    country: Option<String>,
    delegated: bool,
    /// Overrides what `delegated` implies (`active` / `undelegated`), e.g. `retired`.
    #[serde(default)]
    status: Option<TldStatus>,
    #[serde(default)]
    sponsor: Option<String>,
    #[serde(default)]
    admin_org: Option<String>,
    #[serde(default)]
    tech_org: Option<String>,
    #[serde(default)]
    admin: Option<ContactLine>,
    #[serde(default)]
    tech: Option<ContactLine>,
    #[serde(default)]
    created: Option<String>,
    #[serde(default)]
    updated: Option<String>,
}

/// Contact details a fixture may add to a line; the organisation comes from `admin_org` or
/// `tech_org`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContactLine {
    #[serde(default)]
    handle: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    address: Option<String>,
}

fn contact_from(
    label: &TldLabel,
    role: ContactRole,
    organisation: Option<String>,
    details: Option<ContactLine>,
) -> Result<Option<Contact>, Invalid> {
    if organisation.is_none() && details.is_none() {
        return Ok(None);
    }
    let details = details.unwrap_or(ContactLine {
        handle: None,
        name: None,
        email: None,
        phone: None,
        address: None,
    });
    let contact = Contact {
        handle: details
            .handle
            .unwrap_or_else(|| format!("{}-{}", label.as_str(), role.as_str())),
        organisation,
        name: details.name,
        email: details.email,
        phone: details.phone,
        address: details.address,
    };
    contact.validate()?;
    Ok(Some(contact))
}

/// A TLD records file that cannot be imported: the line and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub reason: String,
}

/// IANA's extract breaks some organisation names over lines (`"Bangladesh
/// Telecommunications\nCompany Limited (BTCL)"`): a line break there is layout, not text, so
/// it becomes one space. Everywhere else a line break is refused like any control character.
fn fold_organisation_lines(value: &mut serde_json::Value) {
    fn fold(text: &mut serde_json::Value) {
        if let Some(s) = text.as_str() {
            if s.contains(['\n', '\r']) {
                let folded = s
                    .split(['\n', '\r'])
                    .map(str::trim)
                    .filter(|part| !part.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ");
                *text = serde_json::Value::String(folded);
            }
        }
    }
    let Some(map) = value.as_object_mut() else {
        return;
    };
    for key in ["sponsor", "admin_org", "tech_org"] {
        if let Some(v) = map.get_mut(key) {
            fold(v);
        }
    }
    for role in ["admin", "tech"] {
        if let Some(v) = map.get_mut(role).and_then(|c| c.get_mut("organisation")) {
            fold(v);
        }
    }
}

/// Parses a JSON Lines file of TLD records. Blank lines are skipped; every other line is one
/// record, and a label may appear only once. The `delegation` of each record is left empty:
/// delegations come from the root zone.
pub fn parse_tld_lines(text: &str) -> Result<Vec<TldRecord>, LineError> {
    let mut records: Vec<TldRecord> = Vec::new();
    let mut seen: std::collections::HashMap<TldLabel, usize> = std::collections::HashMap::new();
    let mut contacts: std::collections::HashMap<String, (Contact, usize)> =
        std::collections::HashMap::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        let fail = |reason: String| LineError {
            line: number,
            reason,
        };
        let mut value: serde_json::Value =
            serde_json::from_str(line).map_err(|e| fail(e.to_string()))?;
        fold_organisation_lines(&mut value);
        // The API's rule for text, for text that reaches the database from a file.
        if let Some((field, c)) = super::find_forbidden_char(&value) {
            return Err(fail(super::forbidden_char_message(&field, c)));
        }
        let parsed: TldLine = serde_json::from_value(value).map_err(|e| fail(e.to_string()))?;
        let label = TldLabel::parse(&parsed.tld).map_err(|e| fail(e.to_string()))?;
        if let Some(first) = seen.insert(label.clone(), number) {
            return Err(fail(format!("TLD {label} is already on line {first}")));
        }
        for date in [&parsed.created, &parsed.updated].into_iter().flatten() {
            validate_date(date).map_err(|e| fail(e.to_string()))?;
        }
        let status = parsed.status.unwrap_or(if parsed.delegated {
            TldStatus::Active
        } else {
            TldStatus::Undelegated
        });
        let admin = contact_from(&label, ContactRole::Admin, parsed.admin_org, parsed.admin)
            .map_err(|e| fail(e.to_string()))?;
        let tech = contact_from(&label, ContactRole::Tech, parsed.tech_org, parsed.tech)
            .map_err(|e| fail(e.to_string()))?;
        for contact in [&admin, &tech].into_iter().flatten() {
            match contacts.get(&contact.handle) {
                Some((known, first)) if known != contact => {
                    return Err(fail(format!(
                        "contact {} has other details on line {first}; one handle, one contact",
                        contact.handle
                    )))
                }
                _ => {
                    contacts.insert(contact.handle.clone(), (contact.clone(), number));
                }
            }
        }
        records.push(TldRecord {
            unicode: label.unicode(),
            label,
            kind: parsed.kind,
            tag: parsed.tag,
            country: parsed.country,
            status,
            sponsor: parsed.sponsor,
            admin,
            tech,
            created: parsed.created,
            updated: parsed.updated,
            delegation: Delegation::default(),
        });
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_iana_extract_format() {
        let text = r#"{"tld": "aaa", "type": "gtld", "tag": "generic", "country": null, "delegated": true, "sponsor": "American Automobile Association, Inc.", "admin_org": "Markmonitor Inc.", "tech_org": "GoDaddy Registry", "created": "2015-08-13", "updated": "2024-12-11"}

{"tld": "xn--p1ai", "type": "cctld", "delegated": true, "admin_org": "Coordination Center", "admin": {"handle": "rf-admin", "email": "admin@cctld.ru"}}"#;
        let records = parse_tld_lines(text).expect("parses");
        assert_eq!(records.len(), 2);
        assert_eq!(
            records[0].admin.as_ref().map(|c| c.handle.as_str()),
            Some("aaa-admin")
        );
        assert_eq!(records[1].unicode, "рф");
        assert_eq!(records[1].tech, None);
    }

    #[test]
    fn a_line_break_in_an_organisation_name_is_layout() {
        let text = r#"{"tld": "bd", "type": "cctld", "delegated": true, "tech_org": "Bangladesh Telecommunications\nCompany Limited (BTCL)", "admin": {"handle": "bd-admin", "name": "A\nLink: x"}}"#;
        let err = parse_tld_lines(text).expect_err("a line break in a name is refused");
        assert!(err.reason.contains("admin.name"), "{}", err.reason);
        let text = text.replace("A\\nLink: x", "A");
        let records = parse_tld_lines(&text).expect("parses");
        assert_eq!(
            records[0]
                .tech
                .as_ref()
                .and_then(|c| c.organisation.as_deref()),
            Some("Bangladesh Telecommunications Company Limited (BTCL)")
        );
        let text = r#"{"tld": "bd", "type": "cctld", "delegated": true, "sponsor": "Posts and\r\n  Telecommunications"}"#;
        let records = parse_tld_lines(text).expect("parses");
        assert_eq!(
            records[0].sponsor.as_deref(),
            Some("Posts and Telecommunications")
        );
    }

    #[test]
    fn refuses_bad_lines_by_number() {
        let good = r#"{"tld": "de", "type": "cctld", "delegated": true}"#;
        let cases = [
            (
                r#"{"tld": "d e", "type": "cctld", "delegated": true}"#,
                "TLD label",
            ),
            (
                r#"{"tld": "fr", "type": "cctld", "delegated": true, "colour": 1}"#,
                "unknown field",
            ),
            (
                r#"{"tld": "fr", "type": "cctld", "delegated": true, "created": "2020-13-01"}"#,
                "YYYY-MM-DD",
            ),
            (
                r#"{"tld": "fr", "type": "tld", "delegated": true}"#,
                "unknown variant",
            ),
            (
                r#"{"tld": "DE", "type": "cctld", "delegated": true}"#,
                "already on line 1",
            ),
            (
                r#"{"tld": "fr", "type": "cctld", "delegated": true, "admin": {"email": "nope"}}"#,
                "e-mail",
            ),
            ("{", "EOF"),
        ];
        for (line, expect) in cases {
            let err = parse_tld_lines(&format!("{good}\n{line}\n")).expect_err(expect);
            assert_eq!(err.line, 2, "{expect}: {err:?}");
            assert!(err.reason.contains(expect), "{expect}: {err:?}");
        }
    }
}

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

//! The public change log, in the manner of IANA's monthly "Root Zone Audit Data" report:
//! every request that reached a final state in a month, with its ticket, TLD, kind, a
//! one-line summary of what changed, the final status and the dates.
//!
//! It is public (`GET /v1/changelog`, `rootdesk changelog`), so it holds no personal data:
//! no names, e-mail addresses or phone numbers, no free text a party wrote (reasons,
//! questions, answers). A summary is built only from delegation data (host names, addresses,
//! DS) and fixed phrases.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde::Serialize;

use crate::registry::{Delegation, TldLabel};
use crate::store::{Store, StoreError};
use crate::workflow::{Proposal, Request, State};

/// A calendar month, `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Month {
    pub year: i32,
    pub month: time::Month,
}

impl Month {
    /// Reads `YYYY-MM` (four-digit year, two-digit month).
    pub fn parse(text: &str) -> Result<Month, String> {
        let bad = || format!("month: {text:?} is not a month; write it as YYYY-MM, e.g. 2026-11");
        let bytes = text.as_bytes();
        if bytes.len() != 7 || bytes[4] != b'-' {
            return Err(bad());
        }
        let (year, month) = (&text[..4], &text[5..]);
        if !year
            .bytes()
            .chain(month.bytes())
            .all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let year: i32 = year.parse().map_err(|_| bad())?;
        let month: u8 = month.parse().map_err(|_| bad())?;
        let month = time::Month::try_from(month).map_err(|_| bad())?;
        Ok(Month { year, month })
    }

    /// `YYYY-MM`, the prefix of every stored time in the month.
    pub fn prefix(&self) -> String {
        format!("{:04}-{:02}", self.year, self.month as u8)
    }

    /// The month after this one.
    pub fn next(&self) -> Month {
        match self.month {
            time::Month::December => Month {
                year: self.year + 1,
                month: time::Month::January,
            },
            m => Month {
                year: self.year,
                month: m.next(),
            },
        }
    }
}

/// One request of the change log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeEntry {
    pub ticket: String,
    /// The A-label.
    pub tld: String,
    /// The U-label of an IDN TLD, the A-label otherwise.
    pub u_label: String,
    pub kind: String,
    pub summary: String,
    /// completed, withdrawn, rejected, declined or expired.
    pub status: String,
    /// `YYYY-MM-DD`, UTC.
    pub submitted: String,
    pub closed: String,
    /// The root zone serial that published a completed change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial: Option<u32>,
}

/// The change log of one month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Changelog {
    pub month: String,
    pub requests: Vec<ChangeEntry>,
}

fn date(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!("{:04}-{:02}-{:02}", t.year(), t.month() as u8, t.day())
}

/// What changed between two delegations, on one line: `NS +a, -b; glue +a 192.0.2.1; DS
/// +12345/13/2`.
pub fn delegation_change(before: &Delegation, after: &Delegation) -> String {
    let mut parts = Vec::new();
    let old: BTreeSet<_> = before.nameservers.keys().collect();
    let new: BTreeSet<_> = after.nameservers.keys().collect();
    let mut ns: Vec<String> = new.difference(&old).map(|h| format!("+{h}")).collect();
    ns.extend(old.difference(&new).map(|h| format!("-{h}")));
    if !ns.is_empty() {
        parts.push(format!("NS {}", ns.join(", ")));
    }
    let glue = |d: &Delegation| -> BTreeSet<String> {
        d.nameservers
            .iter()
            .flat_map(|(h, a)| a.iter().map(move |a| format!("{h} {a}")))
            .collect()
    };
    let (old_glue, new_glue) = (glue(before), glue(after));
    let mut g: Vec<String> = new_glue
        .difference(&old_glue)
        .map(|x| format!("+{x}"))
        .collect();
    g.extend(old_glue.difference(&new_glue).map(|x| format!("-{x}")));
    if !g.is_empty() {
        parts.push(format!("glue {}", g.join(", ")));
    }
    let ds_text =
        |d: &crate::registry::DsRecord| format!("{}/{}/{}", d.key_tag, d.algorithm, d.digest_type);
    let mut ds: Vec<String> = after
        .ds
        .difference(&before.ds)
        .map(|d| format!("+{}", ds_text(d)))
        .collect();
    ds.extend(
        before
            .ds
            .difference(&after.ds)
            .map(|d| format!("-{}", ds_text(d))),
    );
    if !ds.is_empty() {
        parts.push(format!("DS {}", ds.join(", ")));
    }
    if parts.is_empty() {
        "no change to the published delegation".into()
    } else {
        parts.join("; ")
    }
}

/// A proposed delegation on one line: `NS a, b; DS 12345/13/2`.
fn delegation_text(d: &Delegation) -> String {
    let ns: Vec<&str> = d.nameservers.keys().map(|h| h.as_str()).collect();
    let mut text = format!("NS {}", ns.join(", "));
    if !d.ds.is_empty() {
        let ds: Vec<String> =
            d.ds.iter()
                .map(|d| format!("{}/{}/{}", d.key_tag, d.algorithm, d.digest_type))
                .collect();
        let _ = write!(text, "; DS {}", ds.join(", "));
    } else {
        text.push_str("; no DS");
    }
    text
}

fn contacts_text(admin: bool, tech: bool) -> &'static str {
    match (admin, tech) {
        (true, true) => "administrative and technical contacts",
        (true, false) => "administrative contact",
        _ => "technical contact",
    }
}

/// The one-line summary of a request in its final state. A completed delegation change says
/// what the publication changed (`change` is the before and after, when known).
fn summary(request: &Request, change: Option<(&Delegation, &Delegation)>) -> String {
    let done = request.state == State::Completed;
    let proposal = request.proposal();
    match proposal {
        Proposal::Delegation { delegation } => match (done, change) {
            (true, Some((before, after))) => delegation_change(before, after),
            (true, None) => format!("delegation set to {}", delegation_text(delegation)),
            (false, _) => format!("proposed delegation {}", delegation_text(delegation)),
        },
        Proposal::Contacts { admin, tech } => {
            let which = contacts_text(admin.is_some(), tech.is_some());
            if done {
                format!("{which} updated")
            } else {
                format!("proposed update of the {which}")
            }
        }
        // Who is authorised is not public; that the authority changed is.
        Proposal::Authority { .. } => if done {
            "authority and approval policy updated"
        } else {
            "proposed update of the authority and approval policy"
        }
        .to_string(),
        Proposal::Sponsor { .. } => if done {
            "sponsoring organisation updated"
        } else {
            "proposed update of the sponsoring organisation"
        }
        .to_string(),
        Proposal::Transfer { delegation, .. } => {
            let mut text = if done {
                "transfer to a new manager: sponsoring organisation and contacts replaced"
                    .to_string()
            } else {
                "proposed transfer to a new manager".to_string()
            };
            match (done, change, delegation) {
                (true, Some((before, after)), Some(_)) => {
                    let _ = write!(text, "; {}", delegation_change(before, after));
                }
                (false, _, Some(d)) => {
                    let _ = write!(text, ", with delegation {}", delegation_text(d));
                }
                _ => {}
            }
            text
        }
    }
}

/// The change log of `month` from the database.
pub fn build(store: &Store, month: Month) -> Result<Changelog, StoreError> {
    let tickets = store.closed_requests(&month.prefix(), &month.next().prefix())?;
    let mut requests = Vec::with_capacity(tickets.len());
    for ticket in tickets {
        let Some(request) = store.request(&ticket)? else {
            continue;
        };
        let label = TldLabel::parse(&request.tld)
            .map_err(|e| StoreError::Corrupt(format!("request {ticket}: {e}")))?;
        let change = match (request.state, request.serial) {
            (State::Completed, Some(serial)) if request.proposal().delegation().is_some() => {
                let after = store.delegation_at(&label, serial)?;
                let before = match store.previous_serial(serial)? {
                    Some(previous) => store.delegation_at(&label, previous)?,
                    None => Delegation::default(),
                };
                Some((before, after))
            }
            _ => None,
        };
        requests.push(ChangeEntry {
            summary: summary(&request, change.as_ref().map(|(b, a)| (b, a))),
            ticket: request.ticket.clone(),
            u_label: label.unicode(),
            tld: label.as_str().to_string(),
            kind: serde_json::to_value(request.kind)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default(),
            status: request.state.as_str().to_string(),
            submitted: date(request.submitted_at),
            closed: date(request.state_since),
            serial: if request.state == State::Completed {
                request.serial
            } else {
                None
            },
        });
    }
    Ok(Changelog {
        month: month.prefix(),
        requests,
    })
}

/// The CSV header of [`Changelog::to_csv`].
pub const CSV_HEADER: [&str; 9] = [
    "ticket",
    "tld",
    "u_label",
    "kind",
    "status",
    "submitted",
    "closed",
    "serial",
    "summary",
];

impl Changelog {
    /// CSV (RFC 4180), one row per request, with a header row.
    pub fn to_csv(&self) -> String {
        let mut writer = csv::Writer::from_writer(Vec::new());
        let _ = writer.write_record(CSV_HEADER);
        for r in &self.requests {
            let serial = r.serial.map(|s| s.to_string()).unwrap_or_default();
            let _ = writer.write_record([
                r.ticket.as_str(),
                &r.tld,
                &r.u_label,
                &r.kind,
                &r.status,
                &r.submitted,
                &r.closed,
                &serial,
                &r.summary,
            ]);
        }
        writer
            .into_inner()
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .unwrap_or_default()
    }

    /// A table for people.
    pub fn to_table(&self) -> String {
        let mut out = format!(
            "Root zone change log {}: {} request(s) reached a final state\n",
            self.month,
            self.requests.len()
        );
        if self.requests.is_empty() {
            return out;
        }
        let tld = |r: &ChangeEntry| {
            if r.u_label == r.tld {
                r.tld.clone()
            } else {
                format!("{} ({})", r.tld, r.u_label)
            }
        };
        let width = self
            .requests
            .iter()
            .map(|r| tld(r).chars().count())
            .max()
            .unwrap_or(3)
            .max(3);
        let _ = writeln!(
            out,
            "{:<18} {:<width$} {:<10} {:<9} {:<10} {:<10} SUMMARY",
            "TICKET", "TLD", "KIND", "STATUS", "SUBMITTED", "CLOSED"
        );
        for r in &self.requests {
            let t = tld(r);
            let pad = width.saturating_sub(t.chars().count());
            let _ = writeln!(
                out,
                "{:<18} {t}{} {:<10} {:<9} {:<10} {:<10} {}",
                r.ticket,
                " ".repeat(pad),
                r.kind,
                r.status,
                r.submitted,
                r.closed,
                r.summary
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{DsRecord, HostName};

    #[test]
    fn months_parse_strictly() {
        let m = Month::parse("2026-11").expect("month");
        assert_eq!(m.prefix(), "2026-11");
        assert_eq!(m.next().prefix(), "2026-12");
        assert_eq!(
            Month::parse("2026-12").expect("month").next().prefix(),
            "2027-01"
        );
        for bad in [
            "",
            "2026",
            "2026-13",
            "2026-00",
            "2026-1",
            "26-11",
            "2026/11",
            "2026-11-01",
            "２０２６-11",
            "+026-11",
        ] {
            assert!(Month::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn delegation_changes_on_one_line() {
        let host = |h: &str| HostName::parse(h).expect("host");
        let mut before = Delegation::default();
        before.nameservers.insert(
            host("ns1.nic.xa"),
            ["192.0.2.1".parse().expect("ip")].into(),
        );
        before
            .nameservers
            .insert(host("ns2.nic.xa"), Default::default());
        let mut after = before.clone();
        after.nameservers.remove(&host("ns2.nic.xa"));
        after.nameservers.insert(
            host("ns3.nic.xa"),
            ["2001:db8::3".parse().expect("ip")].into(),
        );
        after
            .ds
            .insert(DsRecord::new(12345, 13, 2, vec![0; 32]).expect("ds"));
        assert_eq!(
            delegation_change(&before, &after),
            "NS +ns3.nic.xa, -ns2.nic.xa; glue +ns3.nic.xa 2001:db8::3; DS +12345/13/2"
        );
        assert_eq!(
            delegation_change(&after, &after),
            "no change to the published delegation"
        );
    }
}

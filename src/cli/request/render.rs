//! The readable forms of the API's answers for `rootdesk request ...`. Pure functions of the
//! typed answer and the time now, so that golden files pin them (`tests/it/cli/golden.rs`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use time::OffsetDateTime;

use crate::api::wire::{CheckList, RequestList, RequestView};
use crate::check::{CheckStatus, Report, Severity};
use crate::cli::listing::{age, Listing};
use crate::cli::Format;
use crate::error::Result;
use crate::registry::{Contact, Delegation};
use crate::workflow::{describe_consent, Event, Owner, Party, Proposal, State};

/// `2026-12-03 10:00:00Z`: second precision is what people read.
fn when(t: OffsetDateTime) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]Z");
    t.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .unwrap_or_default()
}

/// The same for a stored timestamp text; unreadable text is shown as it is.
fn when_text(text: &str) -> String {
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(when)
        .unwrap_or_else(|_| text.to_string())
}

fn seconds_since(text: &str, now: OffsetDateTime) -> Option<i64> {
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| (now - t).whole_seconds())
}

fn party(p: &Party) -> String {
    match p {
        Party::Contact(handle) => format!("contact {handle}"),
        Party::Staff(subject) => format!("staff {subject}"),
        Party::Person(person) => format!("person {person}"),
        Party::System => "rootdesk".to_string(),
        Party::CdsScanner => "the desk's CDS scanner".to_string(),
    }
}

/// `request list`: one line per request with whose turn it is and for how long.
pub fn request_list(list: &RequestList, format: Format, now: OffsetDateTime) -> Result<String> {
    let mut table = Listing::new(&[
        "TICKET", "TLD", "KIND", "PRIORITY", "STATE", "OWNER", "AGE", "IN STATE", "REV",
    ])
    .right(&["AGE", "IN STATE", "REV"]);
    for r in &list.requests {
        let since = |t: &str| seconds_since(t, now).map(age).unwrap_or_default();
        table.row(vec![
            r.ticket.clone(),
            r.tld.clone(),
            r.kind.clone(),
            r.priority.clone(),
            r.state.clone(),
            r.owner.clone().unwrap_or_else(|| "-".into()),
            since(&r.submitted_at),
            since(&r.state_since),
            r.revision.to_string(),
        ]);
    }
    table.render(format, list)
}

/// Who must act now, in words, one line per party.
fn must_act(view: &RequestView) -> Vec<String> {
    let r = &view.request;
    match (r.owner, r.state) {
        (None, _) => Vec::new(),
        (Some(Owner::Tld), State::ContactConfirmation) => {
            if view.pending_consent_details.is_empty() {
                view.pending_consents
                    .iter()
                    .map(|c| describe_consent(c))
                    .collect()
            } else {
                view.pending_consent_details.clone()
            }
        }
        (Some(Owner::Tld), State::AwaitingInfo) => vec![format!(
            "{}: answer the desk's question (rootdesk request answer {} --answer ...)",
            party(&r.submitter),
            r.ticket
        )],
        (Some(Owner::Tld), State::AwaitingFix) => vec![format!(
            "{}: fix the servers or amend the proposal (the last check failed)",
            party(&r.submitter)
        )],
        (Some(Owner::Tld), other) => vec![format!("the TLD ({other})")],
        (Some(Owner::Desk), State::ManualReview) => {
            vec!["the desk: review, then approve, reject or ask".into()]
        }
        (Some(Owner::Desk), State::DelegationEvaluation) => {
            vec!["the desk: evaluate the transfer".into()]
        }
        (Some(Owner::Desk), State::Implementation) => {
            vec!["the desk: implement (publish) the change".into()]
        }
        (Some(Owner::Desk), State::TechnicalCheck | State::SupplementalCheck) => {
            vec!["the desk: its technical check is running".into()]
        }
        (Some(Owner::Desk), other) => vec![format!("the desk ({other})")],
    }
}

fn contact_lines(out: &mut String, role: &str, c: &Contact) {
    let mut parts = vec![c.handle.clone()];
    parts.extend(c.name.clone());
    parts.extend(c.organisation.clone());
    parts.extend(c.email.as_ref().map(|e| format!("<{e}>")));
    parts.extend(c.phone.clone());
    let _ = writeln!(out, "  {role:<10} {}", parts.join(", "));
    if let Some(a) = &c.address {
        let _ = writeln!(out, "  {:<10} {a}", "");
    }
}

fn delegation_lines(out: &mut String, d: &Delegation) {
    let _ = writeln!(out, "  name servers");
    for (name, addresses) in &d.nameservers {
        let addresses: Vec<String> = addresses.iter().map(|a| a.to_string()).collect();
        let _ = writeln!(out, "    {:<32} {}", name.to_string(), addresses.join(" "));
    }
    if d.ds.is_empty() {
        let _ = writeln!(out, "  DS         none (unsigned)");
    } else {
        let _ = writeln!(out, "  DS");
        for ds in &d.ds {
            let _ = writeln!(out, "    {ds}");
        }
    }
}

fn proposal_lines(out: &mut String, p: &Proposal) {
    match p {
        Proposal::Delegation { delegation } => delegation_lines(out, delegation),
        Proposal::Contacts { admin, tech } => {
            if let Some(c) = admin {
                contact_lines(out, "admin", c);
            }
            if let Some(c) = tech {
                contact_lines(out, "tech", c);
            }
        }
        Proposal::Sponsor { sponsor } => {
            let _ = writeln!(out, "  sponsor    {sponsor}");
        }
        Proposal::Authority { authority } => {
            for line in authority.lines() {
                let _ = writeln!(out, "  {line}");
            }
        }
        Proposal::Transfer {
            sponsor,
            admin,
            tech,
            delegation,
            evidence,
        } => {
            let _ = writeln!(out, "  sponsor    {sponsor}");
            contact_lines(out, "admin", admin);
            contact_lines(out, "tech", tech);
            if let Some(d) = delegation {
                delegation_lines(out, d);
            }
            for e in evidence {
                let _ = writeln!(
                    out,
                    "  evidence   {} {:?} ({} bytes, sha256 {})",
                    serde_json::to_value(e.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(String::from))
                        .unwrap_or_default(),
                    e.name,
                    e.size,
                    e.sha256
                );
            }
        }
    }
}

/// `request show`: the request, its proposal, who must act, every question, answer, reason
/// and note, its checks and its history.
pub fn request_show(view: &RequestView, now: OffsetDateTime) -> String {
    let r = &view.request;
    let mut out = format!(
        "{}  {}  {}  {}\n",
        r.ticket,
        r.tld,
        r.kind.as_str(),
        serde_json::to_value(r.priority)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default()
    );
    let in_state = age((now - r.state_since).whole_seconds());
    let owner = match r.owner {
        Some(Owner::Tld) => "waiting on the TLD",
        Some(Owner::Desk) => "with the desk",
        None => "closed",
    };
    let _ = writeln!(
        out,
        "state      {} ({owner} since {}, {in_state})",
        r.state,
        when(r.state_since)
    );
    for line in must_act(view) {
        let _ = writeln!(out, "must act   {line}");
    }
    if let Some(reason) = &r.emergency_reason {
        let _ = writeln!(out, "emergency  {reason}");
    }
    let _ = writeln!(
        out,
        "submitted  {} by {} ({} ago)",
        when(r.submitted_at),
        party(&r.submitter),
        age((now - r.submitted_at).whole_seconds())
    );
    if let Some(current) = r.revisions.last() {
        let _ = writeln!(
            out,
            "proposal   revision {} of {}, by {}",
            current.number,
            when(current.time),
            party(&current.by)
        );
        proposal_lines(&mut out, &current.proposal);
    }
    if !r.consents.is_empty() {
        let list: Vec<String> = r
            .consents
            .iter()
            .map(|(c, done)| format!("{c} {}", if *done { "confirmed" } else { "pending" }))
            .collect();
        let _ = writeln!(out, "consents   {}", list.join(", "));
    }
    if let Some(approval) = &r.approval {
        let given: Vec<&str> = r.approvals.iter().map(String::as_str).collect();
        let _ = writeln!(
            out,
            "approvals  {} ({}): {}",
            approval.class,
            approval.rule.describe(),
            if given.is_empty() {
                "none yet".to_string()
            } else {
                given.join(", ")
            }
        );
        if approval.special_handling {
            let _ = writeln!(
                out,
                "special    handling: verified {}",
                r.verified_by
                    .as_ref()
                    .map(|p| format!("by {}", party(p)))
                    .unwrap_or_else(|| "not yet".into())
            );
        }
    }
    if let Some(e) = &r.evaluation {
        let _ = writeln!(
            out,
            "evaluation {}: {}",
            if e.approve {
                "approve"
            } else {
                "do not approve"
            },
            e.summary
        );
    }
    if let Some(serial) = r.serial {
        let _ = writeln!(out, "published  serial {serial}");
    }
    if let Some(checks) = &view.checks {
        for job in checks {
            let verdict = job
                .verdict
                .map(|v| format!("{v:?}").to_lowercase())
                .unwrap_or_else(|| "running".into());
            let _ = writeln!(
                out,
                "check      {} of revision {}: {verdict} (started {}{})",
                serde_json::to_value(job.phase)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default(),
                job.revision,
                when_text(&job.created_at),
                job.finished_at
                    .as_deref()
                    .map(|f| format!(", finished {}", when_text(f)))
                    .unwrap_or_default()
            );
        }
        if !checks.is_empty() {
            let _ = writeln!(
                out,
                "           the reports, by server: rootdesk request checks {}",
                r.ticket
            );
        }
    }
    let Some(history) = &view.history else {
        return out;
    };
    // Questions and answers, then reasons and notes: what people wrote, in order.
    let mut said = Vec::new();
    for h in history {
        let text = match &h.event {
            Event::QuestionAsked { question } => Some(("asked", question)),
            Event::Answered { answer } => Some(("answered", answer)),
            Event::Declined { reason, .. } => Some(("declined", reason)),
            Event::Rejected { reason } => Some(("rejected", reason)),
            Event::Withdrawn { reason } => Some(("withdrew", reason)),
            Event::Approved { note } => Some(("approved", note)),
            _ => None,
        };
        if let Some((verb, text)) = text {
            let text = if text.is_empty() { "(no text)" } else { text };
            said.push(format!(
                "  {}  {} {verb}: {text}",
                when(h.time),
                party(&h.by)
            ));
        }
    }
    if !said.is_empty() {
        out.push_str("questions, answers, reasons and notes\n");
        for line in said {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out.push_str("history\n");
    for h in history {
        let mut line = format!(
            "  {}  {:<24} {}",
            when(h.time),
            h.event.kind().trim_start_matches("request-"),
            party(&h.by)
        );
        match &h.event {
            Event::CheckFinished {
                phase,
                revision,
                verdict,
                summary,
                ..
            } => {
                let _ = write!(
                    line,
                    "  {} check of revision {revision}: {} {summary}",
                    serde_json::to_value(phase)
                        .ok()
                        .and_then(|v| v.as_str().map(String::from))
                        .unwrap_or_default(),
                    format!("{verdict:?}").to_lowercase()
                );
            }
            Event::Confirmed { contact, revision } => {
                let _ = write!(line, "  revision {revision}");
                if !matches!(&h.by, Party::Contact(c) if c == contact) {
                    let _ = write!(line, " for {contact}");
                }
            }
            Event::Amended { revision, .. } => {
                let _ = write!(line, "  revision {revision}");
            }
            Event::Implemented {
                serial: Some(serial),
            } => {
                let _ = write!(line, "  serial {serial}");
            }
            Event::Reminded { after_days } => {
                let _ = write!(line, "  after {after_days} days");
            }
            Event::Expired { after_days } => {
                let _ = write!(line, "  after {after_days} days");
            }
            _ => {}
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `request checks`: every check run, its findings grouped by the server they concern, then
/// what each check came to.
pub fn request_checks(list: &CheckList) -> String {
    let mut out = String::new();
    if list.checks.is_empty() {
        out.push_str("no check has run for this request yet\n");
    }
    for run in &list.checks {
        let job = &run.job;
        let _ = writeln!(
            out,
            "{} check of revision {} (job {}), started {}: {}",
            serde_json::to_value(job.phase)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default(),
            job.revision,
            job.id,
            when_text(&job.created_at),
            job.finished_at
                .as_ref()
                .map(|f| format!("finished {}", when_text(f)))
                .unwrap_or_else(|| "still running".into())
        );
        let Some(value) = &run.report else {
            out.push('\n');
            continue;
        };
        match serde_json::from_value::<Report>(value.clone()) {
            Ok(report) => out.push_str(&report_by_server(&report)),
            Err(e) => {
                let _ = writeln!(
                    out,
                    "  (the stored report cannot be read by this version: {e})"
                );
            }
        }
        out.push('\n');
    }
    out
}

/// A report with its findings grouped by name server and address, then the delegation-wide
/// ones, then each check's outcome.
pub fn report_by_server(report: &Report) -> String {
    let mut out = String::new();
    let errors = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let warnings = report.findings.len() - errors;
    let _ = writeln!(
        out,
        "  {}: {} ({errors} errors, {warnings} warnings; {} queries in {} ms)",
        report.zone,
        report.verdict.to_string().to_uppercase(),
        report.queries.len(),
        report.elapsed_ms
    );
    // Servers in the order of their names, the delegation as a whole last.
    let mut groups: BTreeMap<(bool, String), Vec<String>> = BTreeMap::new();
    for f in &report.findings {
        let place = match (&f.nameserver, f.address) {
            (Some(ns), Some(a)) => {
                format!("{ns} {}", crate::check::probe::address_text::format(&a))
            }
            (Some(ns), None) => ns.clone(),
            (None, Some(a)) => crate::check::probe::address_text::format(&a),
            (None, None) => String::new(),
        };
        let sev = if f.severity == Severity::Error {
            "error"
        } else {
            "warning"
        };
        let transport = f.transport.map(|t| format!(" ({t})")).unwrap_or_default();
        groups
            .entry((place.is_empty(), place))
            .or_default()
            .push(format!("{sev}: {}{transport}: {}", f.check, f.message));
    }
    for ((_, place), lines) in &groups {
        let heading = if place.is_empty() {
            "the delegation as a whole"
        } else {
            place.as_str()
        };
        let _ = writeln!(out, "  {heading}");
        for l in lines {
            let _ = writeln!(out, "    - {l}");
        }
    }
    // Worst first, so that what must be fixed is read first.
    for (wanted, label) in [
        (CheckStatus::Error, "error"),
        (CheckStatus::Warning, "warning"),
        (CheckStatus::NotRun, "not-run"),
        (CheckStatus::Pass, "ok"),
        (CheckStatus::Off, "off"),
    ] {
        let checks: Vec<String> = report
            .checks
            .iter()
            .filter(|(_, status)| **status == wanted)
            .map(|(check, _)| check.to_string())
            .collect();
        if !checks.is_empty() {
            let _ = writeln!(out, "  {label:<8} {}", checks.join(", "));
        }
    }
    for (check, why) in &report.not_run {
        let _ = writeln!(out, "  not run  {check}: {why}");
    }
    out
}

//! Notifications (DESIGN §8.3, README.md, Notifications): who must be told what, written to the
//! outbox in the same transaction as the state change that asks them to act.
//!
//! A notification that lives only in memory is lost when the relay is down or the daemon
//! restarts, and a request then stalls without anybody knowing. So the desk never sends
//! mail itself: it writes rows to the `outbox` table beside the audit events, and the
//! daemon's [`sender`] delivers them later, retrying until the relay accepts. Contacts asked
//! for consent get a single-use [`links`] link each, bound to the request, its revision and
//! the contact.

pub mod links;

use std::collections::BTreeSet;

use rusqlite::{Connection, Transaction};
use time::OffsetDateTime;

use crate::config::SmtpSettings;
use crate::registry::{Contact, Delegation, TldLabel};
use crate::store::{self, NewNotification, StoreError};
use crate::workflow::{Event, Party, Priority, Proposal, Recorded, Request, State};

/// Queues what a state change asks for: `recorded` are the events just appended, `before`
/// the state before them (`None` for a new submission).
pub(crate) fn queue(
    tx: &Transaction<'_>,
    settings: Settings<'_>,
    request: &Request,
    recorded: &[Recorded],
    before: Option<State>,
    prior: Option<Snapshot>,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let composer = Composer {
        conn: tx,
        tx: Some(tx),
        settings,
        request,
        now,
        prior,
    };
    let mut out: Vec<NewNotification> = Vec::new();
    if before.is_none() && request.priority == Priority::Emergency {
        out.push(composer.emergency()?);
    }
    if before.is_none() && request.submitter == Party::CdsScanner {
        out.extend(composer.cds_opened()?);
    }
    let entered = before != Some(request.state);
    let amended = recorded
        .iter()
        .any(|r| matches!(r.event, Event::Amended { .. }));
    for r in recorded {
        if let Event::Reminded { after_days } = r.event {
            out.extend(composer.reminders(after_days)?);
        }
    }
    if entered || amended {
        match request.state {
            State::ContactConfirmation => out.extend(composer.confirmations("confirm", None)?),
            State::AwaitingFix => out.extend(composer.to_submitter("fix", recorded)?),
            State::AwaitingInfo => out.extend(composer.to_submitter("answer", recorded)?),
            State::ManualReview | State::DelegationEvaluation if entered => {
                out.push(composer.review()?)
            }
            State::Completed | State::Rejected | State::Declined | State::Expired => {
                out.extend(composer.outcome(recorded)?)
            }
            _ => {}
        }
    }
    let due = OffsetDateTime::now_utc();
    for n in &out {
        store::queue_notification(tx, n, now, due)?;
    }
    Ok(())
}

/// What the messages need to know beyond the database.
#[derive(Debug, Clone, Copy)]
pub struct Settings<'a> {
    /// Addresses, link base URL.
    pub smtp: &'a SmtpSettings,
    /// Days a request may wait on the TLD before it expires (for deadlines in messages).
    pub expire_days: u32,
    /// Days a notify-only CDS request is held before review (`[cds] hold_days`).
    pub cds_hold_days: u32,
}

/// Writes the messages of one state change.
pub(crate) struct Composer<'a, 'b> {
    pub conn: &'a Connection,
    /// Present when links may be issued.
    pub tx: Option<&'a Transaction<'b>>,
    pub settings: Settings<'a>,
    pub request: &'a Request,
    pub now: OffsetDateTime,
    /// The TLD's record just before the request was implemented: a completion notice shows
    /// the change from it (the registry holds the new state by then).
    pub prior: Option<Snapshot>,
}

/// What a change request can change of a TLD's record, as it was at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub sponsor: Option<String>,
    pub admin: Option<Contact>,
    pub tech: Option<Contact>,
    pub delegation: Delegation,
}

impl Snapshot {
    /// The TLD's record now, inside the caller's transaction.
    pub fn read(conn: &Connection, tld: &str) -> Result<Snapshot, StoreError> {
        let label = TldLabel::parse(tld).map_err(corrupt)?;
        let role = |role: &str| -> Result<Option<Contact>, StoreError> {
            Ok(match store::tld_role_holder(conn, tld, role)? {
                Some(h) => store::tld_contact(conn, tld, &h)?,
                None => None,
            })
        };
        Ok(Snapshot {
            sponsor: store::tld_sponsor(conn, tld)?,
            admin: role("admin")?,
            tech: role("tech")?,
            delegation: store::current_delegation(conn, &label)?.unwrap_or_default(),
        })
    }
}

/// The header of text a person gave (a name, a sponsor, a reason): the desk quotes it and
/// never lets it stand as its own words (issue 10 item 9).
pub const QUOTED: &str = "(quoted; not the desk's words)";

/// Text someone gave, as a quoted block: a header saying whose it is, then the text on lines
/// of at most 66 characters, each beginning with "> ". Runs of white space become one space,
/// so that no padding can push a piece of it to where a mail client shows a line of its own.
pub fn quoted(whose: &str, text: &str) -> String {
    let mut out = format!("{whose} {QUOTED}:\n");
    for paragraph in text.lines() {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > 66 {
                out.push_str(&format!("> {line}\n"));
                line.clear();
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        out.push_str(&format!("> {line}\n"));
    }
    out
}

/// A contact's details as quoted text, one field a line.
fn contact_text(c: &Contact) -> String {
    let mut parts = vec![format!("handle: {}", c.handle)];
    for (label, value) in [
        ("name", &c.name),
        ("organisation", &c.organisation),
        ("e-mail", &c.email),
        ("phone", &c.phone),
        ("postal address", &c.address),
    ] {
        if let Some(v) = value {
            parts.push(format!("{label}: {v}"));
        }
    }
    parts.join("\n")
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// `2026-12-23 10:00 UTC`.
pub fn format_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

impl Composer<'_, '_> {
    fn base_url(&self) -> &str {
        self.settings.smtp.base_url.trim_end_matches('/')
    }

    fn request_link(&self) -> String {
        format!("{}/v1/requests/{}", self.base_url(), self.request.ticket)
    }

    /// When the request expires if the TLD does not act (TLD-owned states only).
    fn deadline(&self) -> Option<OffsetDateTime> {
        (self.request.state.owner() == Some(crate::workflow::Owner::Tld)).then(|| {
            self.request.state_since + time::Duration::days(i64::from(self.settings.expire_days))
        })
    }

    /// The proposal's details of a contact it names.
    fn named(&self, handle: &str) -> Option<Contact> {
        match self.request.proposal() {
            Proposal::Contacts { admin, tech } => admin
                .iter()
                .chain(tech.iter())
                .find(|c| c.handle == handle)
                .cloned(),
            Proposal::Transfer { admin, tech, .. } => [admin, tech]
                .into_iter()
                .find(|c| c.handle == handle)
                .cloned(),
            _ => None,
        }
    }

    /// The records the desk has on file for a contact: the request's TLD's own, else every
    /// record other TLDs keep of it; the proposal's details only for a contact the desk does
    /// not know, so that a proposal giving a known handle a new address cannot redirect its
    /// consent (issue 10 item 1).
    fn on_file(&self, handle: &str) -> Result<Vec<Contact>, StoreError> {
        if let Some(own) = store::tld_contact(self.conn, &self.request.tld, handle)? {
            return Ok(vec![own]);
        }
        let known = store::contact_records(self.conn, handle)?;
        if !known.is_empty() {
            return Ok(known);
        }
        Ok(self.named(handle).into_iter().collect())
    }

    /// One record of a contact, for its name in messages.
    fn contact(&self, handle: &str) -> Result<Option<Contact>, StoreError> {
        Ok(self.on_file(handle)?.into_iter().next())
    }

    /// Where a consent is asked: a contact at its addresses on file (none when it has none:
    /// it is then not asked by mail at all); a new address at that address only.
    fn consent_addresses(&self, consent: &str) -> Result<Vec<String>, StoreError> {
        let (handle, new_address) = crate::workflow::consent_subject(consent);
        let mut addresses: Vec<String> = Vec::new();
        let records = if new_address {
            self.named(handle).into_iter().collect()
        } else {
            self.on_file(handle)?
        };
        for email in records.into_iter().filter_map(|c| c.email) {
            if !addresses.contains(&email) {
                addresses.push(email);
            }
        }
        Ok(addresses)
    }

    fn submitter_address(&self) -> Result<Option<String>, StoreError> {
        Ok(match &self.request.submitter {
            Party::Contact(h) => self.contact(h)?.and_then(|c| c.email),
            Party::Staff(_) => Some(self.settings.smtp.staff_address.clone()),
            Party::Person(p) => store::person_email(self.conn, p)?,
            Party::System => None,
            // The scanner acts for the TLD: what it would be told goes to the tech contact.
            Party::CdsScanner => self.tech_address()?,
        })
    }

    fn tech_address(&self) -> Result<Option<String>, StoreError> {
        let Some(handle) = store::tld_role_holder(self.conn, &self.request.tld, "tech")? else {
            return Ok(None);
        };
        Ok(self.contact(&handle)?.and_then(|c| c.email))
    }

    /// The technical contact is told at once that the CDS scanner opened a request.
    fn cds_opened(&self) -> Result<Vec<NewNotification>, StoreError> {
        let Some(to) = self.tech_address()? else {
            return Ok(Vec::new());
        };
        let to_do = match self.request.cds {
            Some(crate::workflow::CdsMode::NotifyOnly) => format!(
                "Nothing, if this is your key rollover: the desk opened this request from the\n\
                 CDS/CDNSKEY records all your name servers serve (.{tld} is set to notify-only).\n\
                 It goes to review after a hold of {days} days unless a contact of .{tld}\n\
                 withdraws it (POST .../withdraw) before then.",
                tld = self.request.tld,
                days = self.settings.cds_hold_days
            ),
            _ => format!(
                "The desk opened this request from the CDS/CDNSKEY records all your name\n\
                 servers serve (.{} is set to with-consent): the contacts are asked to\n\
                 confirm it as for any request. Withdraw it if it is not yours.",
                self.request.tld
            ),
        };
        Ok(vec![self.message(
            "cds-request",
            to,
            "opened from your CDS records",
            &to_do,
            &self.request_link(),
        )?])
    }

    /// Labels of the old and the new value: on file and proposed, or, once implemented,
    /// before and after.
    fn labels(&self) -> (&'static str, &'static str) {
        if self.prior.is_some() {
            ("before the change", "after the change")
        } else {
            ("on file", "proposed")
        }
    }

    fn prior_or_now(&self) -> Result<Snapshot, StoreError> {
        match &self.prior {
            Some(p) => Ok(p.clone()),
            None => Snapshot::read(self.conn, &self.request.tld),
        }
    }

    fn contact_change(
        &self,
        role: &str,
        old: Option<&Contact>,
        new: &Contact,
    ) -> Result<String, StoreError> {
        let (was, becomes) = self.labels();
        let mut text = format!(
            "{role} contact: {} -> {}\n",
            old.map_or("(none)", |c| c.handle.as_str()),
            new.handle
        );
        if let Some(old) = old {
            text.push_str(&indent(&quoted(was, &contact_text(old))));
        }
        text.push_str(&indent(&quoted(
            &format!("{becomes}, as the submitter gave it"),
            &contact_text(new),
        )));
        Ok(text)
    }

    fn delegation_change(&self, old: &Delegation, new: &Delegation) -> String {
        let diff = old.diff(new);
        if diff.is_empty() {
            "the delegation stays as it is".into()
        } else {
            diff.to_string()
        }
    }

    fn sponsor_change(&self, what: &str, old: Option<&str>, new: &str) -> String {
        let (was, becomes) = self.labels();
        let mut text = format!("{what}:\n");
        match old {
            Some(old) => text.push_str(&indent(&quoted(was, old))),
            None => text.push_str(&format!("  {was}: (none)\n")),
        }
        text.push_str(&indent(&quoted(
            &format!("{becomes}, as the submitter gave it"),
            new,
        )));
        text
    }

    /// What the current revision changes, one change a line; text people gave is quoted.
    pub fn changes(&self) -> Result<String, StoreError> {
        let old = self.prior_or_now()?;
        let mut lines = Vec::new();
        match self.request.proposal() {
            Proposal::Delegation { delegation } => {
                lines.push(self.delegation_change(&old.delegation, delegation))
            }
            Proposal::Contacts { admin, tech } => {
                if let Some(a) = admin {
                    lines.push(self.contact_change("admin", old.admin.as_ref(), a)?);
                }
                if let Some(t) = tech {
                    lines.push(self.contact_change("tech", old.tech.as_ref(), t)?);
                }
            }
            Proposal::Sponsor { sponsor } => {
                lines.push(self.sponsor_change("sponsor", old.sponsor.as_deref(), sponsor));
            }
            Proposal::Transfer {
                sponsor,
                admin,
                tech,
                delegation,
                evidence,
            } => {
                lines.push(self.sponsor_change(
                    "manager (sponsor)",
                    old.sponsor.as_deref(),
                    sponsor,
                ));
                lines.push(self.contact_change("admin", old.admin.as_ref(), admin)?);
                lines.push(self.contact_change("tech", old.tech.as_ref(), tech)?);
                if let Some(d) = delegation {
                    lines.push(self.delegation_change(&old.delegation, d));
                }
                lines.push(format!("evidence: {} documents", evidence.len()));
            }
            Proposal::Authority { authority } => {
                lines.push("authority and approval policy becomes:".into());
                lines.extend(authority.lines().into_iter().map(|l| format!("  {l}")));
            }
        }
        Ok(lines
            .iter()
            .map(|l| l.trim_end())
            .collect::<Vec<_>>()
            .join("\n")
            .lines()
            .map(|l| format!("  {l}"))
            .collect::<Vec<_>>()
            .join("\n"))
    }

    fn kind_name(&self) -> String {
        let kind = serde_json::to_value(self.request.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        format!("{kind} change")
    }

    fn subject(&self, what: &str) -> String {
        let urgent = if self.request.priority == Priority::Emergency {
            "EMERGENCY "
        } else {
            ""
        };
        format!(
            "[rootdesk {}] {urgent}.{} {}: {what}",
            self.request.ticket,
            self.request.tld,
            self.kind_name()
        )
    }

    /// The plain-text message: ticket, TLD, what changes, what to do and by when, a link.
    fn body(&self, to_do: &str, link: &str) -> Result<String, StoreError> {
        let r = self.request;
        let mut text = String::new();
        text.push_str(&format!("Ticket:   {}\n", r.ticket));
        text.push_str(&format!("TLD:      .{}\n", r.tld));
        text.push_str(&format!(
            "Request:  {}, revision {}{}\n",
            self.kind_name(),
            r.revision(),
            if r.priority == Priority::Emergency {
                ", EMERGENCY"
            } else {
                ""
            }
        ));
        text.push_str(&format!("State:    {}\n\n", r.state));
        text.push_str("What changes:\n");
        text.push_str(&self.changes()?);
        text.push_str("\n\nWhat you must do:\n");
        for line in to_do.lines() {
            text.push_str(&format!("  {line}\n"));
        }
        if let Some(by) = self.deadline() {
            text.push_str(&format!(
                "\nBy:       {} (else the request expires)\n",
                format_time(by)
            ));
        }
        // The link on a line of its own, short enough for plain 7-bit mail (no wrapping).
        text.push_str(&format!("\nLink:\n  {link}\n"));
        text.push_str("\n-- \nrootdesk, the root zone change desk\n");
        Ok(text)
    }

    fn message(
        &self,
        kind: &str,
        to: String,
        what: &str,
        to_do: &str,
        link: &str,
    ) -> Result<NewNotification, StoreError> {
        Ok(NewNotification {
            recipient: to,
            subject: self.subject(what),
            body: self.body(to_do, link)?,
            ticket: Some(self.request.ticket.clone()),
            tld: Some(self.request.tld.clone()),
            kind: kind.into(),
        })
    }

    fn emergency(&self) -> Result<NewNotification, StoreError> {
        let reason = quoted(
            "Their reason",
            self.request
                .emergency_reason
                .as_deref()
                .unwrap_or("(no reason given)"),
        );
        self.message(
            "emergency",
            self.settings.smtp.emergency_address.clone(),
            "emergency raised",
            &format!(
                "An emergency was raised by {}.\n{reason}Handle it at once.",
                party_name(&self.request.submitter)
            ),
            &self.request_link(),
        )
    }

    /// One message with a fresh link to each contact whose consent is pending.
    fn confirmations(
        &self,
        kind: &str,
        reminder: Option<u32>,
    ) -> Result<Vec<NewNotification>, StoreError> {
        let mut out = Vec::new();
        let expires = self.deadline().unwrap_or(self.now);
        for consent in self.request.pending_consents() {
            let addresses = self.consent_addresses(consent)?;
            if addresses.is_empty() {
                tracing::warn!(ticket = %self.request.ticket, contact = consent, "contact has no e-mail address");
                continue;
            }
            let (handle, new_address) = crate::workflow::consent_subject(consent);
            let to_do = if new_address {
                format!(
                    "The proposal gives contact {handle} of .{} this new e-mail address.\n\
                     Confirm that this address reaches {handle} and that you agree, or decline.\n\
                     This confirms the new address only: {handle} is asked for its consent\n\
                     separately, at the address the desk has on file.\n\
                     The link is yours alone, works once, and only for revision {}.",
                    self.request.tld,
                    self.request.revision()
                )
            } else {
                format!(
                    "As a contact of .{} ({handle}), confirm or decline this change.\n\
                     Open the link below: it shows the change and lets you confirm or decline.\n\
                     The link is yours alone, works once, and only for revision {}.",
                    self.request.tld,
                    self.request.revision()
                )
            };
            let what = match (reminder, new_address) {
                (Some(days), _) => format!("reminder after {days} days: your consent is needed"),
                (None, true) => "confirm the new e-mail address".into(),
                (None, false) => "your consent is needed".into(),
            };
            for email in addresses {
                let tx = self
                    .tx
                    .ok_or_else(|| corrupt("links are issued in a transaction"))?;
                let secret = links::issue(tx, self.request, consent, self.now, expires)?;
                let link = format!("{}/confirm/{secret}", self.base_url());
                out.push(self.message(kind, email, &what, &to_do, &link)?);
            }
        }
        out.extend(self.approvals_asked(kind, reminder)?);
        Ok(out)
    }

    /// One message to each authorised person whose approval could still count (issue 14).
    /// It carries no link that acts: approving needs the person's login and second factor.
    fn approvals_asked(
        &self,
        kind: &str,
        reminder: Option<u32>,
    ) -> Result<Vec<NewNotification>, StoreError> {
        let Some(approval) = &self.request.approval else {
            return Ok(Vec::new());
        };
        let Some(missing) = self.request.missing_approvals(&self.request.approvals) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for (person, groups) in &approval.members {
            let own = self.request.submitter == Party::Person(person.clone());
            if self.request.approvals.contains(person) || (own && !approval.rule.submitter_counts) {
                continue;
            }
            let Some(email) = store::person_email(self.conn, person)? else {
                continue;
            };
            let to_do = format!(
                "As a person authorised for .{} ({}), approve or decline this change.\n\
                 Log in to the desk and open the request; approving needs your password and\n\
                 your second factor, and this message holds no link that acts by itself.\n\
                 The TLD's policy asks {}; still missing: {missing}.",
                self.request.tld,
                groups.iter().cloned().collect::<Vec<_>>().join(", "),
                approval.rule.describe(),
            );
            let what = match reminder {
                Some(days) => format!("reminder after {days} days: your approval is needed"),
                None => "your approval is needed".into(),
            };
            out.push(self.message(kind, email, &what, &to_do, &self.request_link())?);
        }
        Ok(out)
    }

    fn to_submitter(
        &self,
        kind: &str,
        recorded: &[Recorded],
    ) -> Result<Vec<NewNotification>, StoreError> {
        let Some(to) = self.submitter_address()? else {
            return Ok(Vec::new());
        };
        let (what, to_do) = match kind {
            "fix" => {
                let summary = recorded
                    .iter()
                    .rev()
                    .find_map(|r| match &r.event {
                        Event::CheckFinished { summary, .. } => Some(summary.clone()),
                        _ => None,
                    })
                    .unwrap_or_else(|| "the technical check failed".into());
                (
                    "the technical check failed: please fix",
                    format!("Fix the problems and amend the request (or withdraw it).\nCheck: {summary}"),
                )
            }
            _ => {
                let question = recorded
                    .iter()
                    .rev()
                    .find_map(|r| match &r.event {
                        Event::QuestionAsked { question } => Some(question.clone()),
                        _ => None,
                    })
                    .unwrap_or_default();
                (
                    "the desk asks a question",
                    format!("Answer the desk's question (POST .../answer).\nQuestion: {question}"),
                )
            }
        };
        Ok(vec![self.message(
            kind,
            to,
            what,
            &to_do,
            &self.request_link(),
        )?])
    }

    fn reminders(&self, days: u32) -> Result<Vec<NewNotification>, StoreError> {
        match self.request.state {
            State::ContactConfirmation => self.confirmations("reminder", Some(days)),
            State::AwaitingFix | State::AwaitingInfo => {
                let Some(to) = self.submitter_address()? else {
                    return Ok(Vec::new());
                };
                let to_do = if self.request.state == State::AwaitingFix {
                    "Fix the problems and amend the request (or withdraw it)."
                } else {
                    "Answer the desk's question."
                };
                Ok(vec![self.message(
                    "reminder",
                    to,
                    &format!("reminder after {days} days: the request waits for you"),
                    to_do,
                    &self.request_link(),
                )?])
            }
            _ => Ok(Vec::new()),
        }
    }

    fn review(&self) -> Result<NewNotification, StoreError> {
        let what = if self.request.state == State::DelegationEvaluation {
            "ready for the delegation evaluation"
        } else {
            "ready for review"
        };
        self.message(
            "review",
            self.settings.smtp.staff_address.clone(),
            what,
            "Review the request: approve, reject or ask a question.",
            &self.request_link(),
        )
    }

    /// The end of a request, told to the submitter and every contact asked for consent.
    fn outcome(&self, recorded: &[Recorded]) -> Result<Vec<NewNotification>, StoreError> {
        let state = self.request.state;
        let detail = recorded
            .iter()
            .rev()
            .find_map(|r| match &r.event {
                Event::Implemented { serial: Some(s) } => {
                    Some(format!("Published in root zone serial {s}."))
                }
                Event::Implemented { serial: None } => {
                    Some("The registry record is updated.".into())
                }
                Event::Rejected { reason } => Some(format!("Reason: {reason}")),
                Event::Declined { contact, reason } => Some(format!(
                    "Declined by {contact}.\n{}",
                    quoted("Their reason", reason)
                )),
                Event::Expired { after_days } => Some(format!(
                    "Nothing happened for {after_days} days while the request waited on the TLD."
                )),
                _ => None,
            })
            .unwrap_or_default();
        let mut recipients = BTreeSet::new();
        if let Some(a) = self.submitter_address()? {
            recipients.insert(a);
        }
        for consent in self.request.consents.keys() {
            recipients.extend(self.consent_addresses(consent)?);
        }
        // A contact whose address the change replaced is told at the old one as well.
        if let Some(prior) = &self.prior {
            for old in [&prior.admin, &prior.tech].into_iter().flatten() {
                if self.request.consents.contains_key(&old.handle) {
                    recipients.extend(old.email.clone());
                }
            }
        }
        let what = match state {
            State::Completed => "completed",
            State::Rejected => "rejected",
            State::Declined => "declined",
            _ => "expired",
        };
        let to_do = format!("Nothing: the request is {what}.\n{detail}");
        recipients
            .into_iter()
            .map(|to| self.message(what, to, what, &to_do, &self.request_link()))
            .collect()
    }
}

/// Indents every line of `text` by two spaces.
fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

fn party_name(p: &Party) -> String {
    match p {
        Party::Contact(h) => format!("contact {h}"),
        Party::Staff(s) => format!("staff {s}"),
        Party::Person(p) => format!("person {p}"),
        Party::System => "rootdesk".into(),
        Party::CdsScanner => "the desk's CDS scanner".into(),
    }
}

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
pub mod sender;

use std::collections::BTreeSet;

use rusqlite::{Connection, Transaction};
use time::OffsetDateTime;

use crate::desk::{Desk, DeskError};
use crate::registry::{Contact, Delegation, TldLabel};
use crate::store::{self, NewNotification, StoreError};
use crate::workflow::{Event, Party, Priority, Proposal, Recorded, Request, State};

/// Queues what a state change asks for: `recorded` are the events just appended, `before`
/// the state before them (`None` for a new submission).
pub(crate) fn queue(
    tx: &Transaction<'_>,
    desk: &Desk,
    request: &Request,
    recorded: &[Recorded],
    before: Option<State>,
    now: OffsetDateTime,
) -> Result<(), DeskError> {
    let composer = Composer {
        conn: tx,
        tx: Some(tx),
        desk,
        request,
        now,
    };
    let mut out: Vec<NewNotification> = Vec::new();
    if before.is_none() && request.priority == Priority::Emergency {
        out.push(composer.emergency()?);
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

/// Writes the messages of one state change.
pub(crate) struct Composer<'a, 'b> {
    pub conn: &'a Connection,
    /// Present when links may be issued.
    pub tx: Option<&'a Transaction<'b>>,
    pub desk: &'a Desk,
    pub request: &'a Request,
    pub now: OffsetDateTime,
}

fn corrupt(e: impl std::fmt::Display) -> DeskError {
    DeskError::Store(StoreError::Corrupt(e.to_string()))
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
        self.desk.notify.base_url.trim_end_matches('/')
    }

    fn request_link(&self) -> String {
        format!("{}/v1/requests/{}", self.base_url(), self.request.ticket)
    }

    /// When the request expires if the TLD does not act (TLD-owned states only).
    fn deadline(&self) -> Option<OffsetDateTime> {
        (self.request.state.owner() == Some(crate::workflow::Owner::Tld)).then(|| {
            self.request.state_since
                + time::Duration::days(i64::from(self.desk.settings.expire_days))
        })
    }

    /// A contact's address: the registry's for a contact on file, so that a proposal giving
    /// an existing handle a new address cannot redirect its consent (issue 10 item 1); the
    /// proposal's details only for a newly named contact.
    fn contact(&self, handle: &str) -> Result<Option<Contact>, DeskError> {
        // Even one without an address: its consent is then not asked by mail at all.
        if let Some(on_file) = store::contact(self.conn, handle)? {
            return Ok(Some(on_file));
        }
        let named = match self.request.proposal() {
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
        };
        Ok(named)
    }

    fn submitter_address(&self) -> Result<Option<String>, DeskError> {
        Ok(match &self.request.submitter {
            Party::Contact(h) => self.contact(h)?.and_then(|c| c.email),
            Party::Staff(_) => Some(self.desk.notify.staff_address.clone()),
            Party::System => None,
        })
    }

    fn describe_contact(c: Option<&Contact>, handle: Option<&str>) -> String {
        match (c, handle) {
            (Some(c), _) => {
                let mut s = c.handle.clone();
                if let Some(name) = &c.name {
                    s.push_str(&format!(" ({name})"));
                }
                if let Some(email) = &c.email {
                    s.push_str(&format!(" <{email}>"));
                }
                s
            }
            (None, Some(h)) => h.to_string(),
            (None, None) => "(none)".into(),
        }
    }

    fn contact_change(&self, role: &str, new: &Contact) -> Result<String, DeskError> {
        let old = store::tld_role_holder(self.conn, &self.request.tld, role)?;
        let old_contact = match &old {
            Some(h) => store::contact(self.conn, h)?,
            None => None,
        };
        Ok(format!(
            "{role} contact: {} -> {}",
            Self::describe_contact(old_contact.as_ref(), old.as_deref()),
            Self::describe_contact(Some(new), None)
        ))
    }

    fn delegation_change(&self, new: &Delegation) -> Result<String, DeskError> {
        let label = TldLabel::parse(&self.request.tld).map_err(corrupt)?;
        let current = store::current_delegation(self.conn, &label)?.unwrap_or_default();
        let diff = current.diff(new);
        Ok(if diff.is_empty() {
            "the delegation stays as it is".into()
        } else {
            diff.to_string()
        })
    }

    /// What the current revision changes, one change a line.
    pub fn changes(&self) -> Result<String, DeskError> {
        let mut lines = Vec::new();
        match self.request.proposal() {
            Proposal::Delegation { delegation } => lines.push(self.delegation_change(delegation)?),
            Proposal::Contacts { admin, tech } => {
                if let Some(a) = admin {
                    lines.push(self.contact_change("admin", a)?);
                }
                if let Some(t) = tech {
                    lines.push(self.contact_change("tech", t)?);
                }
            }
            Proposal::Sponsor { sponsor } => {
                let old = store::tld_sponsor(self.conn, &self.request.tld)?;
                lines.push(format!(
                    "sponsor: {} -> {sponsor}",
                    old.as_deref().unwrap_or("(none)")
                ));
            }
            Proposal::Transfer {
                sponsor,
                admin,
                tech,
                delegation,
                evidence,
            } => {
                let old = store::tld_sponsor(self.conn, &self.request.tld)?;
                lines.push(format!(
                    "manager (sponsor): {} -> {sponsor}",
                    old.as_deref().unwrap_or("(none)")
                ));
                lines.push(self.contact_change("admin", admin)?);
                lines.push(self.contact_change("tech", tech)?);
                if let Some(d) = delegation {
                    lines.push(self.delegation_change(d)?);
                }
                lines.push(format!("evidence: {} documents", evidence.len()));
            }
        }
        Ok(lines
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
    fn body(&self, to_do: &str, link: &str) -> Result<String, DeskError> {
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
    ) -> Result<NewNotification, DeskError> {
        Ok(NewNotification {
            recipient: to,
            subject: self.subject(what),
            body: self.body(to_do, link)?,
            ticket: Some(self.request.ticket.clone()),
            tld: Some(self.request.tld.clone()),
            kind: kind.into(),
        })
    }

    fn emergency(&self) -> Result<NewNotification, DeskError> {
        let reason = self
            .request
            .emergency_reason
            .as_deref()
            .unwrap_or("(no reason given)");
        self.message(
            "emergency",
            self.desk.notify.emergency_address.clone(),
            "emergency raised",
            &format!(
                "An emergency was raised by {}: {reason}\nHandle it at once.",
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
    ) -> Result<Vec<NewNotification>, DeskError> {
        let mut out = Vec::new();
        let expires = self.deadline().unwrap_or(self.now);
        for handle in self.request.pending_consents() {
            let Some(email) = self.contact(handle)?.and_then(|c| c.email) else {
                tracing::warn!(ticket = %self.request.ticket, contact = handle, "contact has no e-mail address");
                continue;
            };
            let tx = self
                .tx
                .ok_or_else(|| corrupt("links are issued in a transaction"))?;
            let secret = links::issue(tx, self.request, handle, self.now, expires)?;
            let link = format!("{}/confirm/{secret}", self.base_url());
            let what = match reminder {
                Some(days) => format!("reminder after {days} days: your consent is needed"),
                None => "your consent is needed".into(),
            };
            out.push(self.message(
                kind,
                email,
                &what,
                &format!(
                    "As a contact of .{} ({handle}), confirm or decline this change.\n\
                     Open the link below: it shows the change and lets you confirm or decline.\n\
                     The link is yours alone, works once, and only for revision {}.",
                    self.request.tld,
                    self.request.revision()
                ),
                &link,
            )?);
        }
        Ok(out)
    }

    fn to_submitter(
        &self,
        kind: &str,
        recorded: &[Recorded],
    ) -> Result<Vec<NewNotification>, DeskError> {
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

    fn reminders(&self, days: u32) -> Result<Vec<NewNotification>, DeskError> {
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

    fn review(&self) -> Result<NewNotification, DeskError> {
        let what = if self.request.state == State::DelegationEvaluation {
            "ready for the delegation evaluation"
        } else {
            "ready for review"
        };
        self.message(
            "review",
            self.desk.notify.staff_address.clone(),
            what,
            "Review the request: approve, reject or ask a question.",
            &self.request_link(),
        )
    }

    /// The end of a request, told to the submitter and every contact asked for consent.
    fn outcome(&self, recorded: &[Recorded]) -> Result<Vec<NewNotification>, DeskError> {
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
                Event::Declined { contact, reason } => {
                    Some(format!("Declined by {contact}: {reason}"))
                }
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
        for handle in self.request.consents.keys() {
            if let Some(e) = self.contact(handle)?.and_then(|c| c.email) {
                recipients.insert(e);
            }
        }
        let what = match state {
            State::Completed => "completed",
            State::Rejected => "rejected",
            State::Declined => "declined",
            _ => "expired",
        };
        let to_do = format!("Nothing: the request is {what}. {detail}");
        recipients
            .into_iter()
            .map(|to| self.message(what, to, what, &to_do, &self.request_link()))
            .collect()
    }
}

fn party_name(p: &Party) -> String {
    match p {
        Party::Contact(h) => format!("contact {h}"),
        Party::Staff(s) => format!("staff {s}"),
        Party::System => "rootdesk".into(),
    }
}

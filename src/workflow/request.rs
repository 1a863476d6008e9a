//! A request as the replay of its events, and the checks a command must pass.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::cds::{self, CdsMode};
use super::table::{self, By, Target};
use super::{
    CheckPhase, Command, Evaluation, Event, Owner, Party, Priority, Proposal, RequestKind, State,
    Verdict, WorkflowError,
};

/// An event with when it happened and who caused it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recorded {
    #[serde(with = "crate::registry::time_format")]
    pub time: OffsetDateTime,
    pub by: Party,
    pub event: Event,
}

/// One version of the proposal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Revision {
    pub number: u32,
    #[serde(with = "crate::registry::time_format")]
    pub time: OffsetDateTime,
    pub by: Party,
    pub proposal: Proposal,
}

/// What the desk knows about the TLD when a request is submitted or acted on.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Handles of the TLD's current admin and tech contacts.
    pub tld_contacts: BTreeSet<String>,
    /// Tickets and kinds of the TLD's other open requests.
    pub open_requests: Vec<(String, RequestKind)>,
    /// Contacts of other TLDs whose name server hosts the proposal readdresses: a host's
    /// glue is shared by every TLD that uses it, so each of them must consent (IANA's rule
    /// for shared name servers).
    pub shared_host_contacts: BTreeSet<String>,
    /// Contacts on file that the proposal gives another e-mail address, with that address:
    /// the contact consents at its address on file, and the new address confirms too
    /// (issue 10 item 1).
    pub new_addresses: BTreeMap<String, String>,
    /// The TLD's `cds` setting (DS automation), recorded in requests the CDS scanner opens.
    pub cds: CdsMode,
}

/// The current state of one request: the projection of its events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub ticket: String,
    pub tld: String,
    pub kind: RequestKind,
    pub priority: Priority,
    pub emergency_reason: Option<String>,
    pub submitter: Party,
    pub state: State,
    pub owner: Option<Owner>,
    #[serde(with = "crate::registry::time_format")]
    pub submitted_at: OffsetDateTime,
    /// When the current state began.
    #[serde(with = "crate::registry::time_format")]
    pub state_since: OffsetDateTime,
    pub revisions: Vec<Revision>,
    /// Required contacts and whether each has confirmed the current revision.
    pub consents: BTreeMap<String, bool>,
    /// The state that asked the open question.
    pub asked_from: Option<State>,
    pub evaluation: Option<Evaluation>,
    /// Reminders sent in the current state (days after which they went out).
    pub reminders: Vec<u32>,
    /// The publication that implemented it.
    pub serial: Option<u32>,
    pub last_check: Option<(CheckPhase, u32, Verdict)>,
    /// Opened by the CDS scanner under this TLD setting ([`cds`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cds: Option<CdsMode>,
}

fn wrong_state(event: &'static str, state: State) -> WorkflowError {
    let allowed = table::allowed_from(event);
    let action = match event {
        "accepted" => "acceptance",
        "amended" => "an amendment",
        "confirmed" => "confirming",
        "declined" => "declining",
        "question-asked" => "asking a question",
        "answered" => "answering",
        "approved" => "approval",
        "evaluated" => "an evaluation",
        "rejected" => "rejection",
        "implemented" => "implementation",
        "withdrawn" => "withdrawal",
        "reminded" => "a reminder",
        "expired" => "expiry",
        "hold-ended" => "ending the hold",
        "check"
        | "check-passed"
        | "check-failed"
        | "supplemental-check-passed"
        | "supplemental-check-failed" => "a check result",
        other => other,
    };
    WorkflowError::WrongState {
        action,
        state,
        hint: if allowed.is_empty() {
            String::new()
        } else {
            format!(" (possible in: {allowed})")
        },
    }
}

/// The consents a proposal needs: the current contacts and every newly named one.
fn required_consents(
    proposal: &Proposal,
    facts: &Facts,
    origin: Option<CdsMode>,
) -> BTreeSet<String> {
    if !cds::asks_consent(origin) {
        return BTreeSet::new();
    }
    let mut required = facts.tld_contacts.clone();
    required.extend(proposal.named_contacts().into_iter().map(String::from));
    for handle in facts.new_addresses.keys() {
        if proposal.named_contacts().contains(handle.as_str()) {
            required.insert(super::new_address_consent(handle));
        }
    }
    if proposal.delegation().is_some() {
        required.extend(facts.shared_host_contacts.iter().cloned());
    }
    required
}

impl Request {
    /// Checks a new submission and yields its first events: `submitted`, then `accepted`
    /// (pre-review is automatic for well-formed API submissions).
    #[allow(clippy::too_many_arguments)]
    pub fn submit(
        ticket: &str,
        tld: &str,
        by: &Party,
        proposal: Proposal,
        priority: Priority,
        emergency_reason: Option<String>,
        facts: &Facts,
    ) -> Result<Vec<Event>, WorkflowError> {
        match by {
            Party::Contact(handle) if !facts.tld_contacts.contains(handle) => {
                return Err(WorkflowError::Forbidden(format!(
                    "contact {handle} holds no role on {tld}"
                )))
            }
            Party::System => {
                return Err(WorkflowError::Forbidden(
                    "requests are submitted by people".into(),
                ))
            }
            _ => {}
        }
        proposal.validate()?;
        match (priority, &emergency_reason) {
            (Priority::Emergency, None) => {
                return Err(WorkflowError::Invalid {
                    field: "emergency_reason".into(),
                    message:
                        "an emergency needs its reason (servers compromised, lost, under attack...)"
                            .into(),
                })
            }
            (Priority::Emergency, Some(r)) if r.trim().is_empty() => {
                return Err(WorkflowError::Invalid {
                    field: "emergency_reason".into(),
                    message: "the emergency reason is empty".into(),
                })
            }
            (Priority::Normal, Some(_)) => {
                return Err(WorkflowError::Invalid {
                    field: "emergency_reason".into(),
                    message:
                        "only an emergency request carries a reason; set priority to emergency"
                            .into(),
                })
            }
            _ => {}
        }
        let kind = proposal.kind();
        if let Some((open, open_kind)) = facts
            .open_requests
            .iter()
            .find(|(_, open)| kind.conflicts_with(*open))
        {
            return Err(WorkflowError::Conflict(format!(
                "{tld} already has an open {} request, {open}; amend or withdraw it first",
                open_kind.as_str()
            )));
        }
        let origin = cds::origin(by, tld, &proposal, facts.cds)?;
        let required = required_consents(&proposal, facts, origin);
        Ok(vec![
            Event::Submitted {
                ticket: ticket.to_string(),
                tld: tld.to_string(),
                priority,
                emergency_reason,
                proposal,
                required_consents: required,
                cds: origin,
            },
            Event::Accepted,
        ])
    }

    /// Replays events into a request. `None` when the first event is not a submission.
    pub fn replay<'a>(events: impl IntoIterator<Item = &'a Recorded>) -> Option<Request> {
        let mut events = events.into_iter();
        let first = events.next()?;
        let Event::Submitted {
            ticket,
            tld,
            priority,
            emergency_reason,
            proposal,
            required_consents,
            cds,
        } = &first.event
        else {
            return None;
        };
        let mut request = Request {
            ticket: ticket.clone(),
            tld: tld.clone(),
            kind: proposal.kind(),
            priority: *priority,
            emergency_reason: emergency_reason.clone(),
            submitter: first.by.clone(),
            state: State::PreReview,
            owner: State::PreReview.owner(),
            submitted_at: first.time,
            state_since: first.time,
            revisions: vec![Revision {
                number: 1,
                time: first.time,
                by: first.by.clone(),
                proposal: proposal.clone(),
            }],
            consents: required_consents
                .iter()
                .map(|c| (c.clone(), false))
                .collect(),
            asked_from: None,
            evaluation: None,
            reminders: Vec::new(),
            serial: None,
            last_check: None,
            cds: *cds,
        };
        for event in events {
            request.apply(event);
        }
        Some(request)
    }

    /// The proposal of the current revision.
    pub fn proposal(&self) -> &Proposal {
        // A request always has its first revision.
        &self.revisions[self.revisions.len() - 1].proposal
    }

    pub fn revision(&self) -> u32 {
        self.revisions.len() as u32
    }

    /// Contacts that still have to confirm.
    pub fn pending_consents(&self) -> Vec<&str> {
        self.consents
            .iter()
            .filter(|(_, done)| !**done)
            .map(|(c, _)| c.as_str())
            .collect()
    }

    /// The pending consents, each in words: whose, and at which address.
    pub fn pending_consent_details(&self) -> Vec<String> {
        self.pending_consents()
            .into_iter()
            .map(super::describe_consent)
            .collect()
    }

    /// The table's name for an event.
    fn table_event(&self, event: &Event) -> &'static str {
        match event {
            Event::Submitted { .. } => "submitted",
            Event::Accepted => "accepted",
            Event::CheckFinished { phase, verdict, .. } => match (phase, verdict) {
                (CheckPhase::Initial, Verdict::Fail) => "check-failed",
                (CheckPhase::Initial, _) => "check-passed",
                (CheckPhase::Supplemental, Verdict::Fail) => "supplemental-check-failed",
                (CheckPhase::Supplemental, _) => "supplemental-check-passed",
            },
            Event::Amended { .. } => "amended",
            Event::Confirmed { .. } => "confirmed",
            Event::Declined { .. } => "declined",
            Event::QuestionAsked { .. } => "question-asked",
            Event::Answered { .. } => "answered",
            Event::Approved { .. } => "approved",
            Event::Rejected { .. } => "rejected",
            Event::Evaluated { .. } => "evaluated",
            Event::Implemented { .. } => "implemented",
            Event::Withdrawn { .. } => "withdrawn",
            Event::Reminded { .. } => "reminded",
            Event::Expired { .. } => "expired",
            Event::HoldEnded { .. } => "hold-ended",
        }
    }

    /// Where `event` leads from the current state, by the table.
    fn target(&self, event: &Event) -> State {
        let Some(rule) = table::rule(self.table_event(event)) else {
            return self.state;
        };
        let has_delegation = |r: &Request| match event {
            Event::Amended { proposal, .. } => proposal.delegation().is_some(),
            _ => r.proposal().delegation().is_some(),
        };
        match rule.to {
            Target::To(state) => state,
            Target::Stay => self.state,
            Target::CheckOrConsent => {
                if has_delegation(self) {
                    State::TechnicalCheck
                } else {
                    State::ContactConfirmation
                }
            }
            Target::WhenAllConsented => {
                let Event::Confirmed { contact, .. } = event else {
                    return self.state;
                };
                let all = self.consents.iter().all(|(c, done)| *done || c == contact);
                if all {
                    State::ManualReview
                } else {
                    self.state
                }
            }
            Target::EvaluateOrCheck => {
                if self.kind == RequestKind::Transfer {
                    State::DelegationEvaluation
                } else if has_delegation(self) {
                    State::SupplementalCheck
                } else {
                    State::Implementation
                }
            }
            Target::CheckOrImplement => {
                if has_delegation(self) {
                    State::SupplementalCheck
                } else {
                    State::Implementation
                }
            }
            Target::BackToAsker => self.asked_from.unwrap_or(State::ManualReview),
            Target::ByEvaluation => match event {
                Event::Evaluated { evaluation } if !evaluation.approve => State::Rejected,
                _ if has_delegation(self) => State::SupplementalCheck,
                _ => State::Implementation,
            },
        }
    }

    /// Applies one event. Never fails: events were checked when they were decided.
    pub fn apply(&mut self, recorded: &Recorded) {
        let event = &recorded.event;
        let next = self.target(event);
        match event {
            Event::Amended {
                revision,
                proposal,
                required_consents,
            } => {
                self.revisions.push(Revision {
                    number: *revision,
                    time: recorded.time,
                    by: recorded.by.clone(),
                    proposal: proposal.clone(),
                });
                // Consent was given to the old revision: ask again.
                self.consents = required_consents
                    .iter()
                    .map(|c| (c.clone(), false))
                    .collect();
            }
            Event::Confirmed { contact, .. } => {
                self.consents.insert(contact.clone(), true);
            }
            Event::QuestionAsked { .. } => self.asked_from = Some(self.state),
            Event::Answered { .. } => self.asked_from = None,
            Event::Evaluated { evaluation } => self.evaluation = Some(evaluation.clone()),
            Event::Implemented { serial } => self.serial = *serial,
            Event::CheckFinished {
                phase,
                revision,
                verdict,
                ..
            } => self.last_check = Some((*phase, *revision, *verdict)),
            Event::Reminded { after_days } => self.reminders.push(*after_days),
            _ => {}
        }
        if next != self.state {
            self.state = next;
            self.owner = next.owner();
            self.state_since = recorded.time;
            self.reminders.clear();
        }
    }

    /// Checks `command` by `by` against the current state and yields its events.
    pub fn decide(
        &self,
        command: &Command,
        by: &Party,
        now: OffsetDateTime,
        facts: &Facts,
    ) -> Result<Vec<Event>, WorkflowError> {
        let event = match command {
            Command::Amend { proposal } => {
                if proposal.kind() != self.kind {
                    return Err(WorkflowError::Invalid {
                        field: "kind".into(),
                        message: format!(
                            "an amendment keeps the request's kind ({:?}); submit a new request for another kind",
                            self.kind
                        ),
                    });
                }
                proposal.validate()?;
                Event::Amended {
                    revision: self.revision() + 1,
                    proposal: (**proposal).clone(),
                    required_consents: required_consents(proposal, facts, self.cds),
                }
            }
            Command::Confirm => Event::Confirmed {
                contact: self.consenting_contact(by)?,
                revision: self.revision(),
            },
            Command::Decline { reason } => Event::Declined {
                contact: self.consenting_contact(by)?,
                reason: non_empty("reason", reason)?,
            },
            Command::Answer { answer } => Event::Answered {
                answer: non_empty("answer", answer)?,
            },
            Command::Withdraw { reason } => Event::Withdrawn {
                reason: reason.clone(),
            },
            Command::Approve { note } => Event::Approved { note: note.clone() },
            Command::Reject { reason } => Event::Rejected {
                reason: non_empty("reason", reason)?,
            },
            Command::Ask { question } => Event::QuestionAsked {
                question: non_empty("question", question)?,
            },
            Command::Evaluate { evaluation } => {
                if evaluation.assessments.is_empty() {
                    return Err(WorkflowError::Invalid {
                        field: "evaluation.assessments".into(),
                        message: "assess the criteria: stability, local-support, incumbent-consent, legal-basis".into(),
                    });
                }
                Event::Evaluated {
                    evaluation: evaluation.clone(),
                }
            }
            Command::FinishCheck {
                phase,
                revision,
                verdict,
                check_id,
                summary,
            } => {
                if *revision != self.revision() {
                    return Err(WorkflowError::Conflict(format!(
                        "the check was of revision {revision}, the request is at revision {}",
                        self.revision()
                    )));
                }
                let expected = match phase {
                    CheckPhase::Initial => State::TechnicalCheck,
                    CheckPhase::Supplemental => State::SupplementalCheck,
                };
                if self.state != expected {
                    return Err(wrong_state("check", self.state));
                }
                Event::CheckFinished {
                    phase: *phase,
                    revision: *revision,
                    verdict: *verdict,
                    check_id: *check_id,
                    summary: summary.clone(),
                }
            }
            Command::Implement { serial } => Event::Implemented { serial: *serial },
            Command::Remind { after_days } => {
                if self.reminders.contains(after_days) {
                    return Err(WorkflowError::Conflict(format!(
                        "the {after_days}-day reminder was already sent"
                    )));
                }
                self.require_days(now, *after_days)?;
                Event::Reminded {
                    after_days: *after_days,
                }
            }
            Command::Expire { limit_days } => {
                self.require_days(now, *limit_days)?;
                let days = (now - self.state_since).whole_days().max(0) as u32;
                Event::Expired { after_days: days }
            }
            Command::EndHold { hold_days } => {
                cds::hold_may_end(self.cds, self.state, self.submitted_at, now, *hold_days)?;
                let days = (now - self.submitted_at).whole_days().max(0) as u32;
                Event::HoldEnded { after_days: days }
            }
        };
        let name = self.table_event(&event);
        let rule = table::rule(name).ok_or_else(|| wrong_state("this", self.state))?;
        if !rule.from.contains(&self.state) {
            return Err(wrong_state(rule.event, self.state));
        }
        self.check_party(rule.by, by, facts)?;
        Ok(vec![event])
    }

    fn require_days(&self, now: OffsetDateTime, days: u32) -> Result<(), WorkflowError> {
        let waited = now - self.state_since;
        if waited < time::Duration::days(i64::from(days)) {
            return Err(WorkflowError::Conflict(format!(
                "the request has been in {} for {} days, not {days}",
                self.state,
                waited.whole_days()
            )));
        }
        Ok(())
    }

    /// The contact a confirmation or decline is from: only the contact itself, and only one
    /// whose consent is pending.
    fn consenting_contact(&self, by: &Party) -> Result<String, WorkflowError> {
        let Party::Contact(handle) = by else {
            return Err(WorkflowError::Forbidden(
                "consent is given by the contact itself, never on its behalf".into(),
            ));
        };
        match self.consents.get(handle) {
            None => Err(WorkflowError::Forbidden(format!(
                "{handle} is not asked to consent to {}",
                self.ticket
            ))),
            Some(true) if self.state == State::ContactConfirmation => {
                Err(WorkflowError::Conflict(format!(
                    "{handle} has already confirmed revision {}",
                    self.revision()
                )))
            }
            _ => Ok(handle.clone()),
        }
    }

    fn check_party(&self, rule: By, by: &Party, facts: &Facts) -> Result<(), WorkflowError> {
        let ok = match (rule, by) {
            (By::System, Party::System) => true,
            (By::Staff, Party::Staff(_)) => true,
            (By::RequiredContact, Party::Contact(_)) => true, // checked by consenting_contact
            (By::Tld, Party::Contact(h)) if facts.tld_contacts.contains(h) => true,
            // The submitter acts for its request, also staff who keyed it in.
            (By::Tld, party) => self.submitter == *party,
            _ => false,
        };
        if ok {
            return Ok(());
        }
        Err(WorkflowError::Forbidden(match rule {
            By::System => "only rootdesk itself records this".into(),
            By::Staff => "only desk staff may do this".into(),
            By::RequiredContact => "only a contact asked for consent may do this".into(),
            By::Tld => format!("only the contacts of {} may do this", self.tld),
        }))
    }

    /// Whether this request's TLD-owned state has lasted `days` or more at `now`.
    pub fn waiting_on_tld_for(&self, now: OffsetDateTime) -> Option<time::Duration> {
        (self.owner == Some(Owner::Tld)).then(|| now - self.state_since)
    }
}

fn non_empty(field: &str, text: &str) -> Result<String, WorkflowError> {
    if text.trim().is_empty() {
        return Err(WorkflowError::Invalid {
            field: field.into(),
            message: "must not be empty".into(),
        });
    }
    Ok(text.to_string())
}

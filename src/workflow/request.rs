//! A request as the replay of its events, and the checks a command must pass.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::cds::{self, CdsMode};
use super::table::{self, By, Target};
use super::{
    Approval, Authority, CheckPhase, Command, Evaluation, Event, Owner, Party, Priority, Proposal,
    RequestKind, State, Verdict, WorkflowError,
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
    /// The TLD's authority (issue 14): when it has authorised persons, their approvals by its
    /// policy replace the consent of its contacts, and its contact tokens no longer act.
    pub authority: Option<Authority>,
    /// The proposal in hand changes the DS set alone (its policy class is `ds`).
    pub ds_only: bool,
    /// `[desk] four_eyes`: the staff member who approved may not implement.
    pub four_eyes: bool,
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
    /// What the TLD's authority policy asks of the current revision (issue 14).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Approval>,
    /// Authorised persons who approved the current revision.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub approvals: BTreeSet<String>,
    /// The staff member who approved (for four eyes and special handling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<Party>,
    /// The staff member who verified the current revision out of band (special handling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_by: Option<Party>,
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
        "consented" => "approving",
        "verified" => "recording the verification",
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

/// The consents a proposal needs: the current contacts and every newly named one. A TLD with
/// authorised persons approves through them instead ([`approval_for`]): of its own contacts
/// only those the proposal newly names are asked, to accept the role.
fn required_consents(
    proposal: &Proposal,
    facts: &Facts,
    origin: Option<CdsMode>,
) -> BTreeSet<String> {
    if !cds::asks_consent(origin) {
        return BTreeSet::new();
    }
    let mut required = BTreeSet::new();
    if facts.authority.is_none() {
        required.extend(facts.tld_contacts.iter().cloned());
    }
    required.extend(
        proposal
            .named_contacts()
            .into_iter()
            .filter(|h| facts.authority.is_none() || !facts.tld_contacts.contains(*h))
            .map(String::from),
    );
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

/// The approvals a proposal needs from the TLD's authorised persons, by its policy.
fn approval_for(proposal: &Proposal, facts: &Facts, origin: Option<CdsMode>) -> Option<Approval> {
    if !cds::asks_consent(origin) {
        return None;
    }
    let authority = facts.authority.as_ref()?;
    Some(authority.approval_for(proposal.change_class(facts.ds_only)))
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
        match (by, &facts.authority) {
            (Party::Contact(handle), Some(_)) => {
                return Err(WorkflowError::Forbidden(format!(
                    "{tld}'s changes are made by its authorised persons, who log in with their \
                     own account; the token of contact {handle} no longer acts for {tld}"
                )))
            }
            (Party::Contact(handle), None) if !facts.tld_contacts.contains(handle) => {
                return Err(WorkflowError::Forbidden(format!(
                    "contact {handle} holds no role on {tld}"
                )))
            }
            (Party::Person(person), None) => {
                return Err(WorkflowError::Forbidden(format!(
                    "{person} is not authorised for {tld}"
                )))
            }
            (Party::Person(person), Some(authority)) => authority
                .may_submit(person, proposal.change_class(facts.ds_only))
                .map_err(WorkflowError::Forbidden)?,
            (Party::System, _) => {
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
        let approval = approval_for(&proposal, facts, origin);
        Ok(vec![
            Event::Submitted {
                ticket: ticket.to_string(),
                tld: tld.to_string(),
                priority,
                emergency_reason,
                proposal,
                required_consents: required,
                cds: origin,
                approval,
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
            approval,
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
            approval: approval.clone(),
            approvals: BTreeSet::new(),
            approved_by: None,
            verified_by: None,
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

    /// The pending consents, each in words: whose, and at which address; and the approvals
    /// the TLD's policy still asks.
    pub fn pending_consent_details(&self) -> Vec<String> {
        let mut details: Vec<String> = self
            .pending_consents()
            .into_iter()
            .map(super::describe_consent)
            .collect();
        if let Some(missing) = self.missing_approvals(&self.approvals) {
            details.push(format!(
                "the TLD's authorised persons: {missing} (policy: {})",
                self.approval
                    .as_ref()
                    .map(|a| a.rule.describe())
                    .unwrap_or_default()
            ));
        }
        details
    }

    /// What the TLD's policy still asks, given `approvers`; `None` when met or not asked.
    pub fn missing_approvals(&self, approvers: &BTreeSet<String>) -> Option<String> {
        let approval = self.approval.as_ref()?;
        let submitter = match &self.submitter {
            Party::Person(p) => Some(p.as_str()),
            _ => None,
        };
        approval.missing(approvers, submitter)
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
            Event::Consented { .. } => "consented",
            Event::Verified { .. } => "verified",
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
                let mut approvers = self.approvals.clone();
                let contact = match event {
                    Event::Confirmed { contact, .. } => Some(contact),
                    Event::Consented { person, .. } => {
                        approvers.insert(person.clone());
                        None
                    }
                    _ => return self.state,
                };
                let all = self
                    .consents
                    .iter()
                    .all(|(c, done)| *done || Some(c) == contact)
                    && self.missing_approvals(&approvers).is_none();
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
                approval,
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
                self.approval = approval.clone();
                self.approvals.clear();
                self.approved_by = None;
                self.verified_by = None;
            }
            Event::Confirmed { contact, .. } => {
                self.consents.insert(contact.clone(), true);
            }
            Event::Consented { person, .. } => {
                self.approvals.insert(person.clone());
            }
            Event::Approved { .. } => self.approved_by = Some(recorded.by.clone()),
            Event::Verified { .. } => self.verified_by = Some(recorded.by.clone()),
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
                    approval: approval_for(proposal, facts, self.cds),
                }
            }
            Command::Confirm => match by {
                Party::Person(_) => Event::Consented {
                    person: self.consenting_person(by)?,
                    revision: self.revision(),
                },
                _ => Event::Confirmed {
                    contact: self.consenting_contact(by)?,
                    revision: self.revision(),
                },
            },
            Command::Decline { reason } => Event::Declined {
                contact: match by {
                    Party::Person(_) => self.consenting_person(by)?,
                    _ => self.consenting_contact(by)?,
                },
                reason: non_empty("reason", reason)?,
            },
            Command::Verify { note } => {
                if !self.approval.as_ref().is_some_and(|a| a.special_handling) {
                    return Err(WorkflowError::Conflict(format!(
                        "{} has no special handling to verify",
                        self.ticket
                    )));
                }
                if self.approved_by.as_ref() == Some(by) {
                    return Err(WorkflowError::Forbidden(
                        "special handling: the verification is recorded by a staff member \
                         other than the one who approved"
                            .into(),
                    ));
                }
                if self.verified_by.is_some() {
                    return Err(WorkflowError::Conflict(format!(
                        "revision {} is already verified",
                        self.revision()
                    )));
                }
                Event::Verified {
                    revision: self.revision(),
                    note: non_empty("note", note)?,
                }
            }
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
            Command::Implement { serial } => {
                if facts.four_eyes && self.approved_by.as_ref() == Some(by) {
                    return Err(WorkflowError::Forbidden(
                        "four eyes: the staff member who approved may not also implement".into(),
                    ));
                }
                if self.approval.as_ref().is_some_and(|a| a.special_handling)
                    && self.verified_by.is_none()
                {
                    return Err(WorkflowError::Conflict(format!(
                        "{}'s changes need special handling: a staff member other than the \
                         approver verifies the change out of band first (POST \
                         /v1/requests/{}/verify)",
                        self.tld, self.ticket
                    )));
                }
                Event::Implemented { serial: *serial }
            }
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

    /// The authorised person an approval or decline is from, by the request's snapshot of
    /// the TLD's authority.
    fn consenting_person(&self, by: &Party) -> Result<String, WorkflowError> {
        let Party::Person(person) = by else {
            return Err(WorkflowError::Forbidden(
                "approval is given by the person themselves".into(),
            ));
        };
        let Some(approval) = &self.approval else {
            return Err(WorkflowError::Forbidden(format!(
                "{} asks its contacts' consent, not its persons' approval",
                self.tld
            )));
        };
        if !approval.members.contains_key(person) {
            return Err(WorkflowError::Forbidden(format!(
                "{person} was not authorised for {} when this revision was submitted",
                self.tld
            )));
        }
        if !approval.rule.submitter_counts && self.submitter == *by {
            return Err(WorkflowError::Forbidden(format!(
                "{}'s policy does not count the submitter's own approval; another authorised \
                 person approves",
                self.tld
            )));
        }
        if self.approvals.contains(person) {
            return Err(WorkflowError::Conflict(format!(
                "{person} has already approved revision {}",
                self.revision()
            )));
        }
        Ok(person.clone())
    }

    fn check_party(&self, rule: By, by: &Party, facts: &Facts) -> Result<(), WorkflowError> {
        let ok = match (rule, by) {
            (By::System, Party::System) => true,
            (By::Staff, Party::Staff(_)) => true,
            (By::RequiredContact, Party::Contact(_)) => true, // checked by consenting_contact
            (By::RequiredContact, Party::Person(_)) => true,  // checked by consenting_person
            (By::Tld, Party::Person(p))
                if facts
                    .authority
                    .as_ref()
                    .is_some_and(|a| a.members.contains_key(p)) =>
            {
                true
            }
            // A TLD run by its persons is no longer acted for by its contacts' tokens.
            (By::Tld, Party::Contact(_)) if facts.authority.is_some() => false,
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

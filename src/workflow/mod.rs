//! The change request workflow (DESIGN §4) as pure logic: no I/O, no clock of its own.
//!
//! A command is checked against the request's current state and yields events; applying an
//! event cannot fail; a request is the replay of its events. Where a request goes next is
//! written once, in the transition table of [`table`], so that the process can be read in
//! one place. The daemon stores the events in the audit log in the same transaction as the
//! projection, so state and log cannot diverge.

pub mod authority;
pub mod cds;
mod request;
pub mod table;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::registry::{Contact, Delegation};

pub use authority::{Approval, ApprovalRule, Authority, ChangeClass, Policy};
pub use cds::CdsMode;
pub use request::{Facts, Recorded, Request, Revision};

/// What a request changes (DESIGN §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RequestKind {
    Delegation,
    Contacts,
    Sponsor,
    Transfer,
    /// The TLD's authority: authorised persons, approval policy, special handling (issue 14).
    Authority,
}

impl RequestKind {
    /// Whether a request of this kind may not be open beside one of `other` for the same TLD:
    /// one open request per kind (delegation and transfer count as one), and a transfer,
    /// which replaces everything, beside nothing. A second would be judged against records
    /// the first is about to change.
    pub fn conflicts_with(self, other: RequestKind) -> bool {
        let delegates = |k| matches!(k, RequestKind::Delegation | RequestKind::Transfer);
        self == other
            || self == RequestKind::Transfer
            || other == RequestKind::Transfer
            || (delegates(self) && delegates(other))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Delegation => "delegation",
            RequestKind::Contacts => "contacts",
            RequestKind::Sponsor => "sponsor",
            RequestKind::Transfer => "transfer",
            RequestKind::Authority => "authority",
        }
    }
}

#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Priority {
    #[default]
    Normal,
    /// A technical emergency: servers compromised, lost or under attack.
    Emergency,
}

/// The states of a request (DESIGN §4.1), in IANA's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    PreReview,
    TechnicalCheck,
    AwaitingFix,
    ContactConfirmation,
    ManualReview,
    AwaitingInfo,
    DelegationEvaluation,
    SupplementalCheck,
    Implementation,
    Completed,
    Rejected,
    Declined,
    Withdrawn,
    Expired,
}

/// Who must act next: the desk's clock runs only while the desk owns a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Owner {
    Desk,
    Tld,
}

impl State {
    pub const ALL: [State; 14] = [
        State::PreReview,
        State::TechnicalCheck,
        State::AwaitingFix,
        State::ContactConfirmation,
        State::ManualReview,
        State::AwaitingInfo,
        State::DelegationEvaluation,
        State::SupplementalCheck,
        State::Implementation,
        State::Completed,
        State::Rejected,
        State::Declined,
        State::Withdrawn,
        State::Expired,
    ];

    /// The party that must act; `None` for final states.
    pub fn owner(self) -> Option<Owner> {
        match self {
            State::AwaitingFix | State::ContactConfirmation | State::AwaitingInfo => {
                Some(Owner::Tld)
            }
            State::PreReview
            | State::TechnicalCheck
            | State::ManualReview
            | State::DelegationEvaluation
            | State::SupplementalCheck
            | State::Implementation => Some(Owner::Desk),
            State::Completed
            | State::Rejected
            | State::Declined
            | State::Withdrawn
            | State::Expired => None,
        }
    }

    pub fn is_final(self) -> bool {
        self.owner().is_none()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            State::PreReview => "pre-review",
            State::TechnicalCheck => "technical-check",
            State::AwaitingFix => "awaiting-fix",
            State::ContactConfirmation => "contact-confirmation",
            State::ManualReview => "manual-review",
            State::AwaitingInfo => "awaiting-info",
            State::DelegationEvaluation => "delegation-evaluation",
            State::SupplementalCheck => "supplemental-check",
            State::Implementation => "implementation",
            State::Completed => "completed",
            State::Rejected => "rejected",
            State::Declined => "declined",
            State::Withdrawn => "withdrawn",
            State::Expired => "expired",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kinds of evidence a transfer carries (DESIGN §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EvidenceKind {
    ManagerRequest,
    IncumbentConsent,
    GovernmentSupport,
    CommunitySupport,
    TechnicalPlan,
    Other,
}

/// An evidence document: stored as a blob, named in events by its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    pub kind: EvidenceKind,
    pub name: String,
    /// Hex SHA-256 of the document's bytes.
    pub sha256: String,
    pub size: u64,
}

/// The criteria staff weigh in a delegation evaluation (DESIGN §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Criterion {
    Stability,
    LocalSupport,
    IncumbentConsent,
    LegalBasis,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assessment {
    pub criterion: Criterion,
    pub met: bool,
    pub note: String,
}

/// Staff's recorded evaluation of a transfer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evaluation {
    pub assessments: Vec<Assessment>,
    pub approve: bool,
    pub summary: String,
}

/// What a request proposes: always a full replacement, never a patch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Proposal {
    /// A new NS set with glue and a new DS set.
    Delegation { delegation: Delegation },
    /// New administrative and/or technical contact details.
    Contacts {
        #[serde(default)]
        admin: Option<Contact>,
        #[serde(default)]
        tech: Option<Contact>,
    },
    /// New sponsoring organisation details, same manager.
    Sponsor { sponsor: String },
    /// A new manager with its contacts and usually a new delegation.
    Transfer {
        sponsor: String,
        admin: Contact,
        tech: Contact,
        #[serde(default)]
        delegation: Option<Delegation>,
        evidence: Vec<Evidence>,
    },
    /// The TLD's authority as it should be (issue 14): who is authorised in which groups,
    /// the approval policy, special handling.
    Authority { authority: authority::Authority },
}

impl Proposal {
    pub fn kind(&self) -> RequestKind {
        match self {
            Proposal::Delegation { .. } => RequestKind::Delegation,
            Proposal::Contacts { .. } => RequestKind::Contacts,
            Proposal::Sponsor { .. } => RequestKind::Sponsor,
            Proposal::Transfer { .. } => RequestKind::Transfer,
            Proposal::Authority { .. } => RequestKind::Authority,
        }
    }

    /// The class of change a TLD's policy sets the rule for; `ds_only`: the delegation
    /// changes the DS set alone (the desk compares it with what is published).
    pub fn change_class(&self, ds_only: bool) -> authority::ChangeClass {
        use authority::ChangeClass;
        match self {
            Proposal::Delegation { .. } if ds_only => ChangeClass::Ds,
            Proposal::Delegation { .. } => ChangeClass::Delegation,
            Proposal::Contacts { .. } => ChangeClass::Contacts,
            Proposal::Sponsor { .. } => ChangeClass::Sponsor,
            Proposal::Transfer { .. } => ChangeClass::Transfer,
            Proposal::Authority { .. } => ChangeClass::Authority,
        }
    }

    /// The delegation the technical checks must test, if any.
    pub fn delegation(&self) -> Option<&Delegation> {
        match self {
            Proposal::Delegation { delegation } => Some(delegation),
            Proposal::Transfer { delegation, .. } => delegation.as_ref(),
            _ => None,
        }
    }

    /// Contacts the proposal names, who must consent too (DESIGN §4.2).
    pub fn named_contacts(&self) -> BTreeSet<&str> {
        match self {
            Proposal::Contacts { admin, tech } => admin
                .iter()
                .chain(tech.iter())
                .map(|c| c.handle.as_str())
                .collect(),
            Proposal::Transfer { admin, tech, .. } => [admin.handle.as_str(), tech.handle.as_str()]
                .into_iter()
                .collect(),
            Proposal::Delegation { .. } | Proposal::Sponsor { .. } | Proposal::Authority { .. } => {
                BTreeSet::new()
            }
        }
    }

    /// Checks what types alone cannot: a contacts change names someone, a sponsor is named,
    /// a transfer carries evidence, contact details are well-formed.
    pub fn validate(&self) -> Result<(), WorkflowError> {
        let invalid = |field: &str, message: &str| WorkflowError::Invalid {
            field: field.to_string(),
            message: message.to_string(),
        };
        match self {
            Proposal::Delegation { delegation } => {
                if delegation.nameservers.is_empty() {
                    return Err(invalid(
                        "delegation.nameservers",
                        "a delegation needs name servers",
                    ));
                }
            }
            Proposal::Contacts { admin, tech } => {
                if admin.is_none() && tech.is_none() {
                    return Err(invalid(
                        "admin",
                        "name a new admin or tech contact (or both)",
                    ));
                }
                for (field, contact) in [("admin", admin), ("tech", tech)] {
                    if let Some(c) = contact {
                        c.validate().map_err(|e| invalid(field, &e.to_string()))?;
                        if c.email.is_none() {
                            return Err(invalid(
                                field,
                                "a contact needs an e-mail address to be asked for consent",
                            ));
                        }
                    }
                }
            }
            Proposal::Sponsor { sponsor } => {
                if sponsor.trim().is_empty() {
                    return Err(invalid(
                        "sponsor",
                        "the sponsoring organisation's name is empty",
                    ));
                }
            }
            Proposal::Transfer {
                sponsor,
                admin,
                tech,
                delegation,
                evidence,
            } => {
                if sponsor.trim().is_empty() {
                    return Err(invalid("sponsor", "the new manager's name is empty"));
                }
                admin
                    .validate()
                    .map_err(|e| invalid("admin", &e.to_string()))?;
                tech.validate()
                    .map_err(|e| invalid("tech", &e.to_string()))?;
                if let Some(d) = delegation {
                    if d.nameservers.is_empty() {
                        return Err(invalid(
                            "delegation.nameservers",
                            "a delegation needs name servers",
                        ));
                    }
                }
                if evidence.is_empty() {
                    return Err(invalid(
                        "evidence",
                        "a transfer needs its evidence documents",
                    ));
                }
                for e in evidence {
                    let hex_ok =
                        e.sha256.len() == 64 && e.sha256.bytes().all(|b| b.is_ascii_hexdigit());
                    if !hex_ok {
                        return Err(invalid("evidence.sha256", "expected 64 hexadecimal digits"));
                    }
                }
            }
            Proposal::Authority { authority } => authority.validate()?,
        }
        Ok(())
    }
}

/// What the consent of a changed contact's new e-mail address is called: the handle with this
/// suffix (`xa-tech+new-email`). A handle never holds `+`, so it cannot be a contact's own.
pub const NEW_ADDRESS: &str = "+new-email";

/// The consent a contact's new e-mail address gives: that it reaches the contact.
pub fn new_address_consent(handle: &str) -> String {
    format!("{handle}{NEW_ADDRESS}")
}

/// The contact a consent is about, and whether it is the consent of its new address.
pub fn consent_subject(consent: &str) -> (&str, bool) {
    match consent.strip_suffix(NEW_ADDRESS) {
        Some(handle) => (handle, true),
        None => (consent, false),
    }
}

/// What a consent is, in words, for status pages and reports.
pub fn describe_consent(consent: &str) -> String {
    match consent_subject(consent) {
        (handle, true) => format!(
            "{consent}: the new e-mail address the proposal gives {handle}, to confirm that \
             it reaches {handle}"
        ),
        (handle, false) => format!(
            "{handle}: the contact's own consent, by the link mailed to its address on file \
             (to the proposal's address only for a contact the desk does not know) or with its \
             token"
        ),
    }
}

/// Who acts, as the workflow sees it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "party", content = "id", rename_all = "kebab-case")]
pub enum Party {
    /// A TLD contact, by handle.
    Contact(String),
    /// Desk staff, by token subject (a person id for staff with an account).
    Staff(String),
    /// A person with an account who acts for a TLD (issue 14), by person id; what they may
    /// do on a TLD its authority policy says.
    Person(String),
    /// rootdesk itself: checks, expiry, reminders.
    System,
    /// The desk's CDS scanner, opening DS requests on a TLD's behalf (issue 12 part 2).
    CdsScanner,
}

/// Which run of the technical checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckPhase {
    Initial,
    Supplemental,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Pass,
    Warn,
    Fail,
}

/// Something a party asks the workflow to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Amend {
        proposal: Box<Proposal>,
    },
    Confirm,
    Decline {
        reason: String,
    },
    Answer {
        answer: String,
    },
    Withdraw {
        reason: String,
    },
    Approve {
        note: String,
    },
    Reject {
        reason: String,
    },
    Ask {
        question: String,
    },
    Evaluate {
        evaluation: Evaluation,
    },
    /// Recorded by the checker when a check of the current revision finishes.
    FinishCheck {
        phase: CheckPhase,
        revision: u32,
        verdict: Verdict,
        check_id: Option<i64>,
        summary: String,
    },
    /// Apply the change; `serial` is the publication it went into (None for record-only
    /// changes that do not touch the root zone).
    Implement {
        serial: Option<u32>,
    },
    Remind {
        after_days: u32,
    },
    /// Ends a request left with the TLD for `limit_days` or more.
    Expire {
        limit_days: u32,
    },
    /// Ends the hold of a notify-only CDS request after `hold_days` ([`cds`]).
    EndHold {
        hold_days: u32,
    },
    /// Staff record the out-of-band verification a TLD's special handling asks for.
    Verify {
        note: String,
    },
}

/// Everything that ever happens to a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Event {
    Submitted {
        ticket: String,
        tld: String,
        priority: Priority,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        emergency_reason: Option<String>,
        proposal: Proposal,
        required_consents: BTreeSet<String>,
        /// Opened by the CDS scanner, under this TLD setting (absent for people's requests).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cds: Option<CdsMode>,
        /// The approvals the TLD's authority policy asks (issue 14); absent for a TLD with
        /// no authorised persons, whose contacts consent instead.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        approval: Option<authority::Approval>,
    },
    /// Pre-review passed: the request is complete and well-formed.
    Accepted,
    CheckFinished {
        phase: CheckPhase,
        revision: u32,
        verdict: Verdict,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        check_id: Option<i64>,
        summary: String,
    },
    Amended {
        revision: u32,
        proposal: Proposal,
        required_consents: BTreeSet<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        approval: Option<authority::Approval>,
    },
    Confirmed {
        contact: String,
        revision: u32,
    },
    Declined {
        contact: String,
        reason: String,
    },
    /// An authorised person approved the revision (issue 14).
    Consented {
        person: String,
        revision: u32,
    },
    /// Staff verified the change out of band, as the TLD's special handling asks.
    Verified {
        revision: u32,
        note: String,
    },
    QuestionAsked {
        question: String,
    },
    Answered {
        answer: String,
    },
    Approved {
        note: String,
    },
    Rejected {
        reason: String,
    },
    Evaluated {
        evaluation: Evaluation,
    },
    Implemented {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        serial: Option<u32>,
    },
    Withdrawn {
        reason: String,
    },
    Reminded {
        after_days: u32,
    },
    Expired {
        after_days: u32,
    },
    /// The hold of a notify-only CDS request ended without a withdrawal.
    HoldEnded {
        after_days: u32,
    },
}

impl Event {
    /// The event's kind as stored in the audit log (`request-submitted`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Submitted { .. } => "request-submitted",
            Event::Accepted => "request-accepted",
            Event::CheckFinished { .. } => "request-check-finished",
            Event::Amended { .. } => "request-amended",
            Event::Confirmed { .. } => "request-confirmed",
            Event::Declined { .. } => "request-declined",
            Event::QuestionAsked { .. } => "request-question-asked",
            Event::Answered { .. } => "request-answered",
            Event::Approved { .. } => "request-approved",
            Event::Rejected { .. } => "request-rejected",
            Event::Evaluated { .. } => "request-evaluated",
            Event::Implemented { .. } => "request-implemented",
            Event::Withdrawn { .. } => "request-withdrawn",
            Event::Reminded { .. } => "request-reminded",
            Event::Expired { .. } => "request-expired",
            Event::HoldEnded { .. } => "request-hold-ended",
            Event::Consented { .. } => "request-consented",
            Event::Verified { .. } => "request-verified",
        }
    }
}

/// Why a command was refused. Each maps to one stable error label at the API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkflowError {
    /// The body is wrong: 400.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// The command does not apply in this state: 409.
    #[error("{action} is not possible while the request is in {state}{hint}")]
    WrongState {
        action: &'static str,
        state: State,
        hint: String,
    },
    /// Another request is in the way: 409.
    #[error("{0}")]
    Conflict(String),
    /// This party may not do this: 403.
    #[error("{0}")]
    Forbidden(String),
}

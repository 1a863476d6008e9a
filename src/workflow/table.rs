//! The transition table: from which states each event may happen, who may cause it, and
//! where it leads. The whole process of DESIGN §4 is these rows.

use super::State::{self, *};

/// Who may cause an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    /// The TLD's side: a contact holding a role on the TLD, or the request's submitter.
    Tld,
    /// A contact whose consent the request needs, for itself only; or a person authorised by
    /// the TLD's policy (issue 14), for themselves only.
    RequiredContact,
    Staff,
    /// rootdesk itself (checks, expiry, reminders).
    System,
}

/// Where an event leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    To(State),
    /// Stays where it is (reminders).
    Stay,
    /// To `technical-check` when the proposal holds a delegation, else straight to
    /// `contact-confirmation` (contact changes skip the technical checks).
    CheckOrConsent,
    /// To `manual-review` once every required contact has confirmed, else stays.
    WhenAllConsented,
    /// Transfers to `delegation-evaluation`; then as [`Target::CheckOrImplement`].
    EvaluateOrCheck,
    /// To `supplemental-check` when the proposal holds a delegation, else `implementation`.
    CheckOrImplement,
    /// Back to the state that asked the question.
    BackToAsker,
    /// By the evaluation's decision: [`Target::CheckOrImplement`] or `rejected`.
    ByEvaluation,
}

/// One row: `event` may happen in any of `from`, caused by `by`, and leads to `to`.
pub struct Rule {
    pub event: &'static str,
    pub from: &'static [State],
    pub by: By,
    pub to: Target,
}

const OPEN: &[State] = &[
    PreReview,
    TechnicalCheck,
    AwaitingFix,
    ContactConfirmation,
    ManualReview,
    AwaitingInfo,
    DelegationEvaluation,
    SupplementalCheck,
    Implementation,
];
const WITH_TLD: &[State] = &[AwaitingFix, ContactConfirmation, AwaitingInfo];

pub const TRANSITIONS: &[Rule] = &[
    Rule {
        event: "accepted",
        from: &[PreReview],
        by: By::System,
        to: Target::CheckOrConsent,
    },
    Rule {
        event: "check-passed",
        from: &[TechnicalCheck],
        by: By::System,
        to: Target::To(ContactConfirmation),
    },
    Rule {
        event: "check-failed",
        from: &[TechnicalCheck],
        by: By::System,
        to: Target::To(AwaitingFix),
    },
    Rule {
        event: "amended",
        from: WITH_TLD,
        by: By::Tld,
        to: Target::CheckOrConsent,
    },
    Rule {
        event: "confirmed",
        from: &[ContactConfirmation],
        by: By::RequiredContact,
        to: Target::WhenAllConsented,
    },
    Rule {
        event: "consented",
        from: &[ContactConfirmation],
        by: By::RequiredContact,
        to: Target::WhenAllConsented,
    },
    // Special handling: staff verify out of band after approval, before implementation.
    Rule {
        event: "verified",
        from: &[DelegationEvaluation, SupplementalCheck, Implementation],
        by: By::Staff,
        to: Target::Stay,
    },
    Rule {
        event: "declined",
        from: &[ContactConfirmation],
        by: By::RequiredContact,
        to: Target::To(Declined),
    },
    Rule {
        event: "approved",
        from: &[ManualReview],
        by: By::Staff,
        to: Target::EvaluateOrCheck,
    },
    Rule {
        event: "question-asked",
        from: &[ManualReview, DelegationEvaluation],
        by: By::Staff,
        to: Target::To(AwaitingInfo),
    },
    Rule {
        event: "answered",
        from: &[AwaitingInfo],
        by: By::Tld,
        to: Target::BackToAsker,
    },
    Rule {
        event: "evaluated",
        from: &[DelegationEvaluation],
        by: By::Staff,
        to: Target::ByEvaluation,
    },
    Rule {
        event: "rejected",
        from: &[ManualReview, DelegationEvaluation],
        by: By::Staff,
        to: Target::To(Rejected),
    },
    Rule {
        event: "supplemental-check-passed",
        from: &[SupplementalCheck],
        by: By::System,
        to: Target::To(Implementation),
    },
    Rule {
        event: "supplemental-check-failed",
        from: &[SupplementalCheck],
        by: By::System,
        to: Target::To(AwaitingFix),
    },
    Rule {
        event: "implemented",
        from: &[Implementation],
        by: By::Staff,
        to: Target::To(Completed),
    },
    Rule {
        event: "withdrawn",
        from: OPEN,
        by: By::Tld,
        to: Target::To(Withdrawn),
    },
    Rule {
        event: "reminded",
        from: WITH_TLD,
        by: By::System,
        to: Target::Stay,
    },
    Rule {
        event: "expired",
        from: WITH_TLD,
        by: By::System,
        to: Target::To(Expired),
    },
    // A notify-only CDS request asks no consent: it leaves after its hold (workflow::cds).
    Rule {
        event: "hold-ended",
        from: &[ContactConfirmation],
        by: By::System,
        to: Target::To(ManualReview),
    },
];

/// The row for `event`.
pub fn rule(event: &str) -> Option<&'static Rule> {
    TRANSITIONS.iter().find(|r| r.event == event)
}

/// The states from which `event` may happen, for error messages.
pub fn allowed_from(event: &str) -> String {
    rule(event)
        .map(|r| {
            r.from
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

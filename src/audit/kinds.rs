//! The catalogue of event kinds: every kind the desk records besides the workflow's own
//! (`request-*`, named by `workflow::Event::kind`), each with what its payload holds. The
//! desk's own events have typed payloads ([`Payload`]); [`crate::audit::NewEvent::of`] is
//! how code outside the workflow makes an event, so a new kind is added here and the
//! compiler finds every place that must handle it.

use serde::Serialize;

/// A kind of event outside the workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A root zone was imported or published: serial, previous, source, diff counts.
    ZonePublished,
    /// One TLD's delegation changed in a publication: serial, change, details.
    DelegationChanged,
    /// A TLD record was added or updated: the record.
    TldRecordChanged,
    /// A token was issued or revoked: its id, role, subject and expiry (never the secret).
    TokenIssued,
    TokenRevoked,
    /// The gate refused a caller ([`AccessRefused`]).
    AccessRefused,
    /// An evidence document was stored ([`DocumentStored`]).
    DocumentStored,
    /// A published delegation newly fails the sweep ([`DelegationFailing`]).
    DelegationFailing,
    /// It still fails after `[sweep] remind_after`: sweep, verdict, failing_since, summary.
    DelegationReminder,
    /// It passes again: sweep, verdict, failing_since.
    DelegationRecovered,
    /// The CDS scanner will not act on a TLD's CDS/CDNSKEY: problem, message.
    CdsProblemReported,
    /// A TLD's DS automation setting changed: tld, before, cds.
    TldCdsSet,
    /// A TLD's authority was set by the desk's operator ([`TldAuthoritySet`]); an
    /// implemented `authority` request records it as that request's events.
    TldAuthoritySet,
    /// A confirmation link was refused ([`LinkRefused`]).
    ConfirmationLinkRefused,
    /// The sender's record of a message: outbox id, recipient, attempt, and what happened.
    NotificationDelivered,
    NotificationAttemptFailed,
    NotificationFailed,
    NotificationInDoubt,
    /// An operator asked for a failed message to be sent again.
    NotificationRetryRequested,
    /// A checkpoint signing key was created: its key id.
    AuditKeyCreated,
    /// Persons (issue 14): invited ([`PersonInvited`]), enrolled, disabled, factor reset,
    /// password changed ([`PersonChanged`]); never a password, code or secret.
    PersonInvited,
    PersonEnrolled,
    PersonDisabled,
    PersonFactorReset,
    PersonPasswordChanged,
    /// A person token was created or revoked ([`PersonToken`]): its id, never its secret.
    PersonTokenIssued,
    PersonTokenRevoked,
    /// A login session started or ended ([`SessionStarted`], [`SessionEnded`]).
    SessionStarted,
    SessionEnded,
    /// Failed logins, aggregated per account and source ([`LoginRefused`]).
    LoginRefused,
}

impl Kind {
    pub const ALL: [Kind; 30] = [
        Kind::ZonePublished,
        Kind::DelegationChanged,
        Kind::TldRecordChanged,
        Kind::TokenIssued,
        Kind::TokenRevoked,
        Kind::AccessRefused,
        Kind::DocumentStored,
        Kind::DelegationFailing,
        Kind::DelegationReminder,
        Kind::DelegationRecovered,
        Kind::CdsProblemReported,
        Kind::TldCdsSet,
        Kind::TldAuthoritySet,
        Kind::ConfirmationLinkRefused,
        Kind::NotificationDelivered,
        Kind::NotificationAttemptFailed,
        Kind::NotificationFailed,
        Kind::NotificationInDoubt,
        Kind::NotificationRetryRequested,
        Kind::AuditKeyCreated,
        Kind::PersonInvited,
        Kind::PersonEnrolled,
        Kind::PersonDisabled,
        Kind::PersonFactorReset,
        Kind::PersonPasswordChanged,
        Kind::PersonTokenIssued,
        Kind::PersonTokenRevoked,
        Kind::SessionStarted,
        Kind::SessionEnded,
        Kind::LoginRefused,
    ];

    /// The kebab-case name in the log.
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::ZonePublished => "zone-published",
            Kind::DelegationChanged => "delegation-changed",
            Kind::TldRecordChanged => "tld-record-changed",
            Kind::TokenIssued => "token-issued",
            Kind::TokenRevoked => "token-revoked",
            Kind::AccessRefused => "access-refused",
            Kind::DocumentStored => "document-stored",
            Kind::DelegationFailing => "delegation-failing",
            Kind::DelegationReminder => "delegation-reminder",
            Kind::DelegationRecovered => "delegation-recovered",
            Kind::CdsProblemReported => "cds-problem-reported",
            Kind::TldCdsSet => "tld-cds-set",
            Kind::TldAuthoritySet => "tld-authority-set",
            Kind::ConfirmationLinkRefused => "confirmation-link-refused",
            Kind::NotificationDelivered => "notification-delivered",
            Kind::NotificationAttemptFailed => "notification-attempt-failed",
            Kind::NotificationFailed => "notification-failed",
            Kind::NotificationInDoubt => "notification-in-doubt",
            Kind::NotificationRetryRequested => "notification-retry-requested",
            Kind::AuditKeyCreated => "audit-key-created",
            Kind::PersonInvited => "person-invited",
            Kind::PersonEnrolled => "person-enrolled",
            Kind::PersonDisabled => "person-disabled",
            Kind::PersonFactorReset => "person-factor-reset",
            Kind::PersonPasswordChanged => "person-password-changed",
            Kind::PersonTokenIssued => "person-token-issued",
            Kind::PersonTokenRevoked => "person-token-revoked",
            Kind::SessionStarted => "session-started",
            Kind::SessionEnded => "session-ended",
            Kind::LoginRefused => "login-refused",
        }
    }

    /// The kind a log name stands for (`None` for the workflow's and unknown ones).
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// `access-refused`: what was asked and why it was refused; `repeated` counts the refusals of
/// the same caller and action since the last event (aggregated per window).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessRefused {
    pub action: String,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeated: Option<u64>,
}

/// `document-stored`: which document, of what type and size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocumentStored {
    pub sha256: String,
    pub media_type: String,
    pub size: usize,
}

/// `delegation-failing`: the sweep that found it, the verdict before, and the problems.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DelegationFailing {
    pub sweep: i64,
    pub before: Option<String>,
    pub verdict: String,
    pub summary: String,
}

/// `confirmation-link-refused`: the link, why, and for which revision and contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkRefused {
    pub action: String,
    pub reason: String,
    pub link: String,
    pub revision: u32,
    pub contact: String,
}

/// `zone-published` by the desk when a request is implemented.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestPublished {
    pub serial: u32,
    pub source: String,
    pub tld: String,
}

/// `tld-authority-set`: the TLD, its authority before and after, and the operator's reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TldAuthoritySet {
    pub tld: String,
    pub before: Option<crate::workflow::Authority>,
    pub authority: crate::workflow::Authority,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A TLD a person is authorised for, and in which groups (`admin`, `tech`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorisedTld {
    pub tld: String,
    pub groups: Vec<String>,
}

/// `person-invited`: who, with which role and TLDs, until when the invitation is valid, and
/// why (`invited`, `factor-reset`, `migrated`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PersonInvited {
    pub person: String,
    pub name: String,
    pub email: String,
    pub role: String,
    pub tlds: Vec<AuthorisedTld>,
    pub expires_at: String,
    pub reason: String,
}

/// `person-enrolled`, `person-disabled`, `person-factor-reset`, `person-password-changed`:
/// the person, and how many sessions and tokens ended with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PersonChanged {
    pub person: String,
    pub sessions_ended: u64,
    pub tokens_revoked: u64,
}

/// `person-token-issued`, `person-token-revoked`: the token's id and scope, never its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PersonToken {
    pub token: String,
    pub person: String,
    pub permissions: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tlds: Option<Vec<String>>,
    pub expires_at: String,
}

/// `session-started`: whose, with which factor (`totp`, `recovery-code`, `none`), until when
/// at most; `rotated` when it replaced a session the browser presented.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionStarted {
    pub person: String,
    pub factor: String,
    pub expires_at: String,
    pub rotated: bool,
}

/// `session-ended`: whose, and why (`logout`, `rotated`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionEnded {
    pub person: String,
    pub reason: String,
}

/// `login-refused`: the account when one has the e-mail (else none), why, and how many more
/// refusals of the same account and source came since the last event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoginRefused {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person: Option<String>,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeated: Option<u64>,
}

/// A typed payload with its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    AccessRefused(AccessRefused),
    DocumentStored(DocumentStored),
    DelegationFailing(DelegationFailing),
    ConfirmationLinkRefused(LinkRefused),
    RequestPublished(RequestPublished),
    TldAuthoritySet(TldAuthoritySet),
    PersonInvited(PersonInvited),
    PersonEnrolled(PersonChanged),
    PersonDisabled(PersonChanged),
    PersonFactorReset(PersonChanged),
    PersonPasswordChanged(PersonChanged),
    PersonTokenIssued(PersonToken),
    PersonTokenRevoked(PersonToken),
    SessionStarted(SessionStarted),
    SessionEnded(SessionEnded),
    LoginRefused(LoginRefused),
}

impl Payload {
    pub fn kind(&self) -> Kind {
        match self {
            Payload::AccessRefused(_) => Kind::AccessRefused,
            Payload::DocumentStored(_) => Kind::DocumentStored,
            Payload::DelegationFailing(_) => Kind::DelegationFailing,
            Payload::ConfirmationLinkRefused(_) => Kind::ConfirmationLinkRefused,
            Payload::RequestPublished(_) => Kind::ZonePublished,
            Payload::TldAuthoritySet(_) => Kind::TldAuthoritySet,
            Payload::PersonInvited(_) => Kind::PersonInvited,
            Payload::PersonEnrolled(_) => Kind::PersonEnrolled,
            Payload::PersonDisabled(_) => Kind::PersonDisabled,
            Payload::PersonFactorReset(_) => Kind::PersonFactorReset,
            Payload::PersonPasswordChanged(_) => Kind::PersonPasswordChanged,
            Payload::PersonTokenIssued(_) => Kind::PersonTokenIssued,
            Payload::PersonTokenRevoked(_) => Kind::PersonTokenRevoked,
            Payload::SessionStarted(_) => Kind::SessionStarted,
            Payload::SessionEnded(_) => Kind::SessionEnded,
            Payload::LoginRefused(_) => Kind::LoginRefused,
        }
    }

    /// The payload as the log stores it.
    pub fn to_json(&self) -> serde_json::Value {
        let value = match self {
            Payload::AccessRefused(p) => serde_json::to_value(p),
            Payload::DocumentStored(p) => serde_json::to_value(p),
            Payload::DelegationFailing(p) => serde_json::to_value(p),
            Payload::ConfirmationLinkRefused(p) => serde_json::to_value(p),
            Payload::RequestPublished(p) => serde_json::to_value(p),
            Payload::TldAuthoritySet(p) => serde_json::to_value(p),
            Payload::PersonInvited(p) => serde_json::to_value(p),
            Payload::PersonEnrolled(p)
            | Payload::PersonDisabled(p)
            | Payload::PersonFactorReset(p)
            | Payload::PersonPasswordChanged(p) => serde_json::to_value(p),
            Payload::PersonTokenIssued(p) | Payload::PersonTokenRevoked(p) => {
                serde_json::to_value(p)
            }
            Payload::SessionStarted(p) => serde_json::to_value(p),
            Payload::SessionEnded(p) => serde_json::to_value(p),
            Payload::LoginRefused(p) => serde_json::to_value(p),
        };
        // Plain structs of strings and integers always serialise.
        value.unwrap_or(serde_json::Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_one_name() {
        let mut names = std::collections::BTreeSet::new();
        for kind in Kind::ALL {
            assert!(names.insert(kind.as_str()), "{kind:?} twice");
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
            assert!(
                !kind.as_str().starts_with("request-"),
                "request-* is the workflow's"
            );
        }
    }
}

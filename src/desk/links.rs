//! Confirmation links: a contact consents by opening the e-mailed link and posting the form.
//!
//! Each link is a random secret, stored only as its SHA-256 (like API tokens), bound to one
//! request, one revision and one contact, and expiring with the request. The secret is
//! minted when the sender hands the message to the relay: the outbox holds a placeholder,
//! so nobody who reads the database files finds a usable link. Opening it (GET)
//! changes nothing, so that mail scanners that prefetch links cannot consent for anybody; the
//! POST acts through the desk as that contact, so the effect and the audit events are those
//! of the API, with the link's id as the actor. Every refused use of a link the desk issued is
//! an audit event; a made-up secret is only logged (it names nothing, and events for it would
//! let anybody grow the trail). Issuing and minting links for the outbox is
//! [`crate::notify::links`]; using one is here, through the desk's pipeline.

use rusqlite::Transaction;
use serde::Serialize;
use time::OffsetDateTime;

use crate::audit::{Actor, NewEvent};
use crate::desk::{Action, Caller, Desk, DeskError};
use crate::store::{self, ConfirmLink, Role, StoreError};
use crate::workflow::{Command, Request, State};

/// Why a link was refused; the stable code goes into the audit event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Refusal {
    Unknown,
    Used,
    Expired,
    OlderRevision,
    WrongContact,
    NotPending,
}

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Refusal::Unknown => "unknown",
            Refusal::Used => "used",
            Refusal::Expired => "expired",
            Refusal::OlderRevision => "older-revision",
            Refusal::WrongContact => "wrong-contact",
            Refusal::NotPending => "not-pending",
        }
    }

    /// What the page tells the person who opened the link.
    pub fn message(self) -> &'static str {
        match self {
            Refusal::Unknown => "This link is not known to the desk. Check that you copied all of it.",
            Refusal::Used => "This link has been used already: each link works once.",
            Refusal::Expired => "This link has expired, together with the request it belonged to.",
            Refusal::OlderRevision => {
                "The request was amended after this link was sent: it asks about an older revision. \
                 Use the link in the newest message."
            }
            Refusal::WrongContact => {
                "This link was sent to another contact: only the contact it was sent to may use it."
            }
            Refusal::NotPending => {
                "Your answer is not needed any more: the request is no longer waiting for your consent."
            }
        }
    }
}

/// The outcome of opening or posting a link.
#[derive(Debug, Clone)]
pub enum LinkOutcome {
    /// A valid link: the change it asks consent for.
    Show {
        link: ConfirmLink,
        request: Box<Request>,
        changes: String,
    },
    /// The decision was recorded.
    Done {
        link: ConfirmLink,
        request: Box<Request>,
        confirmed: bool,
    },
    Refused(Refusal),
}

/// What the form posts.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkForm {
    /// `confirm` or `decline`.
    pub decision: String,
    #[serde(default)]
    pub reason: String,
    /// The contact handle the form was shown for.
    pub contact: String,
}

/// The id a log line gives a made-up secret (it names no link).
fn link_id(hash: &str) -> String {
    format!("lnk-{}", &hash[..12])
}

/// A usable link with its request, or why not (with the link when it is known).
type Checked = Result<(ConfirmLink, Request), (Refusal, Option<ConfirmLink>)>;

/// The link and its request, if the link may be used at `now`, read on `conn` (a read
/// connection, or the transaction that will act on it).
fn check(
    conn: &rusqlite::Connection,
    hash: &str,
    now: OffsetDateTime,
) -> Result<Checked, DeskError> {
    let Some(link) = store::link_by_hash(conn, hash)? else {
        return Ok(Err((Refusal::Unknown, None)));
    };
    let refuse = |r: Refusal, link: ConfirmLink| Ok(Err((r, Some(link))));
    if link.used_at.is_some() {
        return refuse(Refusal::Used, link);
    }
    if store::timestamp(now) >= link.expires_at {
        return refuse(Refusal::Expired, link);
    }
    let Some(request) = Request::replay(&store::request_events(conn, &link.ticket)?) else {
        return refuse(Refusal::Unknown, link);
    };
    if request.revision() != link.revision {
        return refuse(Refusal::OlderRevision, link);
    }
    match request.consents.get(&link.contact) {
        None => return refuse(Refusal::WrongContact, link),
        Some(true) => return refuse(Refusal::NotPending, link),
        Some(false) => {}
    }
    if request.state != State::ContactConfirmation {
        return refuse(Refusal::NotPending, link);
    }
    Ok(Ok((link, request)))
}

/// Records a refused use of a link in `tx`.
fn record_refusal(
    tx: &Transaction<'_>,
    now: OffsetDateTime,
    refusal: Refusal,
    hash: &str,
    link: Option<&ConfirmLink>,
    action: &str,
    source: Option<&str>,
) -> Result<LinkOutcome, DeskError> {
    let Some(l) = link else {
        // A made-up secret names no request: an event for each would let anybody grow the
        // audit trail without limit, so it is only logged.
        tracing::warn!(link = %link_id(hash), source = source.unwrap_or("-"), action, "unknown confirmation link");
        return Ok(LinkOutcome::Refused(refusal));
    };
    let actor = Actor::token(&l.id, Some(Role::Contact.as_str()), Some(&l.contact));
    let payload =
        crate::audit::Payload::ConfirmationLinkRefused(crate::audit::kinds::LinkRefused {
            action: action.to_string(),
            reason: refusal.code().to_string(),
            link: l.id.clone(),
            revision: l.revision,
            contact: l.contact.clone(),
        });
    let mut event = NewEvent::typed(actor, &payload).at(now).request(&l.ticket);
    if let Some(r) = Request::replay(&store::request_events(tx, &l.ticket)?) {
        event = event.tld(&r.tld);
    }
    if let Some(source) = source {
        event = event.source(source);
    }
    store::append_event(tx, &event)?;
    Ok(LinkOutcome::Refused(refusal))
}

/// Opening a link: shows the change, changes nothing (but a refusal is recorded).
pub fn open(desk: &Desk, secret: &str, source: Option<&str>) -> Result<LinkOutcome, DeskError> {
    let hash = store::token_hash(secret);
    let now = desk.clock.now();
    match desk.read_store(|s| check(s.conn(), &hash, now))? {
        Err((refusal, link)) => desk.with_store(|s| {
            s.write(|tx| record_refusal(tx, now, refusal, &hash, link.as_ref(), "open", source))
        }),
        Ok((link, request)) => {
            let changes = desk.read_store(|s| {
                crate::notify::Composer {
                    conn: s.conn(),
                    tx: None,
                    settings: desk.notify_settings(),
                    request: &request,
                    now,
                    prior: None,
                }
                .changes()
                .map_err(DeskError::from)
            })?;
            Ok(LinkOutcome::Show {
                link,
                request: Box::new(request),
                changes,
            })
        }
    }
}

/// Posting the form: confirms or declines as the link's contact, once. One transaction
/// checks the link, acts through the desk's pipeline and marks the link used: it holds the
/// write lock throughout, so two posts racing cannot both act, and a command that fails
/// leaves the database as it was (the link still usable).
pub fn decide(
    desk: &Desk,
    secret: &str,
    form: &LinkForm,
    source: Option<&str>,
) -> Result<LinkOutcome, DeskError> {
    let hash = store::token_hash(secret);
    let now = desk.clock.now();
    desk.with_store(|s| {
        s.write(|tx| {
            let (link, request) = match check(tx, &hash, now)? {
                Err((refusal, link)) => {
                    return record_refusal(
                        tx,
                        now,
                        refusal,
                        &hash,
                        link.as_ref(),
                        &form.decision,
                        source,
                    )
                    .map(Ok)
                }
                Ok(found) => found,
            };
            if form.contact != link.contact {
                return record_refusal(
                    tx,
                    now,
                    Refusal::WrongContact,
                    &hash,
                    Some(&link),
                    &form.decision,
                    source,
                )
                .map(Ok);
            }
            let (action, command) = match form.decision.as_str() {
                "confirm" => (Action::Confirm, Command::Confirm),
                "decline" => (
                    Action::Decline,
                    Command::Decline {
                        reason: form.reason.clone(),
                    },
                ),
                other => {
                    return Ok(Err(crate::workflow::WorkflowError::Invalid {
                        field: "decision".into(),
                        message: format!("expected confirm or decline, got {other:?}"),
                    }
                    .into()))
                }
            };
            let caller = Caller {
                token: link.id.clone(),
                role: Role::Contact,
                subject: link.contact.clone(),
                source: source.map(str::to_string),
                person: None,
                scope: None,
            };
            let after = match desk.act_tx(tx, &caller, &request.ticket, action, command, now)? {
                Ok(after) => after,
                // Refused by the gate or the workflow (e.g. an empty reason): only a refusal
                // event is written, and the link stays usable.
                Err(e) => return Ok(Err(e)),
            };
            if !store::use_link(tx, &link.id, now)? {
                return Err(DeskError::Store(StoreError::Conflict(format!(
                    "link {} was used meanwhile",
                    link.id
                ))));
            }
            Ok(Ok(LinkOutcome::Done {
                link,
                request: Box::new(after),
                confirmed: action == Action::Confirm,
            }))
        })
    })?
}

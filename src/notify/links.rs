//! Confirmation links: a contact consents by opening the e-mailed link and posting the form.
//!
//! Each link is a random secret, stored only as its SHA-256 (like API tokens), bound to one
//! request, one revision and one contact, and expiring with the request. Opening it (GET)
//! changes nothing, so that mail scanners that prefetch links cannot consent for anybody; the
//! POST acts through the desk as that contact, so the effect and the audit events are those
//! of the API, with the link's id as the actor. Every refused use of a link the desk issued is
//! an audit event; a made-up secret is only logged (it names nothing, and events for it would
//! let anybody grow the trail).

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

fn link_id(hash: &str) -> String {
    format!("lnk-{}", &hash[..12])
}

/// Issues a link for `contact` on the request's current revision; returns the secret that
/// goes into the message.
pub(crate) fn issue(
    tx: &Transaction<'_>,
    request: &Request,
    contact: &str,
    now: OffsetDateTime,
    expires: OffsetDateTime,
) -> Result<String, DeskError> {
    // 192 bits: unguessable, and short enough to keep the link on one line.
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|e| {
        StoreError::Conflict(format!("no randomness from the operating system: {e}"))
    })?;
    let secret = data_encoding::BASE64URL_NOPAD.encode(&bytes);
    let hash = store::token_hash(&secret);
    let link = ConfirmLink {
        id: link_id(&hash),
        ticket: request.ticket.clone(),
        revision: request.revision(),
        contact: contact.to_string(),
        created_at: store::timestamp(now),
        expires_at: store::timestamp(expires),
        used_at: None,
    };
    store::insert_link(tx, &hash, &link)?;
    Ok(secret)
}

/// A usable link with its request, or why not (with the link when it is known).
type Checked = Result<(ConfirmLink, Request), (Refusal, Option<ConfirmLink>)>;

/// The link and its request, if the link may be used at `now`.
fn check(desk: &Desk, hash: &str, now: OffsetDateTime) -> Result<Checked, DeskError> {
    let Some(link) = desk.read_store(|s| Ok(store::link_by_hash(s.conn(), hash)?))? else {
        return Ok(Err((Refusal::Unknown, None)));
    };
    let refuse = |r: Refusal, link: ConfirmLink| Ok(Err((r, Some(link))));
    if link.used_at.is_some() {
        return refuse(Refusal::Used, link);
    }
    if store::timestamp(now) >= link.expires_at {
        return refuse(Refusal::Expired, link);
    }
    let Some(request) = desk.read_store(|s| Ok(s.request(&link.ticket)?))? else {
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

/// Records a refused use of a link.
fn record_refusal(
    desk: &Desk,
    refusal: Refusal,
    hash: &str,
    link: Option<&ConfirmLink>,
    action: &str,
    source: Option<&str>,
) -> Result<LinkOutcome, DeskError> {
    let now = desk.clock.now();
    let Some(l) = link else {
        // A made-up secret names no request: an event for each would let anybody grow the
        // audit trail without limit, so it is only logged.
        tracing::warn!(link = %link_id(hash), source = source.unwrap_or("-"), action, "unknown confirmation link");
        return Ok(LinkOutcome::Refused(refusal));
    };
    let actor = Actor::token(&l.id, Some(Role::Contact.as_str()), Some(&l.contact));
    let payload = serde_json::json!({
        "action": action,
        "reason": refusal.code(),
        "link": l.id,
        "revision": l.revision,
        "contact": l.contact,
    });
    let mut event = NewEvent::new(actor, "confirmation-link-refused", payload)
        .at(now)
        .request(&l.ticket);
    if let Some(r) = desk.read_store(|s| Ok(s.request(&l.ticket)?))? {
        event = event.tld(&r.tld);
    }
    if let Some(source) = source {
        event = event.source(source);
    }
    desk.with_store(|s| {
        s.append_events(std::slice::from_ref(&event))?;
        Ok(())
    })?;
    Ok(LinkOutcome::Refused(refusal))
}

/// Opening a link: shows the change, changes nothing.
pub fn open(desk: &Desk, secret: &str, source: Option<&str>) -> Result<LinkOutcome, DeskError> {
    let hash = store::token_hash(secret);
    let now = desk.clock.now();
    match check(desk, &hash, now)? {
        Err((refusal, link)) => record_refusal(desk, refusal, &hash, link.as_ref(), "open", source),
        Ok((link, request)) => {
            let changes = desk.read_store(|s| {
                super::Composer {
                    conn: s.conn(),
                    tx: None,
                    desk,
                    request: &request,
                    now,
                }
                .changes()
            })?;
            Ok(LinkOutcome::Show {
                link,
                request: Box::new(request),
                changes,
            })
        }
    }
}

/// Posting the form: confirms or declines as the link's contact, once.
pub fn decide(
    desk: &Desk,
    secret: &str,
    form: &LinkForm,
    source: Option<&str>,
) -> Result<LinkOutcome, DeskError> {
    let hash = store::token_hash(secret);
    let now = desk.clock.now();
    let (link, request) = match check(desk, &hash, now)? {
        Err((refusal, link)) => {
            return record_refusal(desk, refusal, &hash, link.as_ref(), &form.decision, source)
        }
        Ok(found) => found,
    };
    if form.contact != link.contact {
        return record_refusal(
            desk,
            Refusal::WrongContact,
            &hash,
            Some(&link),
            &form.decision,
            source,
        );
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
            return Err(crate::workflow::WorkflowError::Invalid {
                field: "decision".into(),
                message: format!("expected confirm or decline, got {other:?}"),
            }
            .into())
        }
    };
    // Claim the link first, so that two posts racing cannot both act.
    let claimed =
        desk.with_store(|s| s.write(|tx| Ok::<_, DeskError>(store::use_link(tx, &link.id, now)?)))?;
    if !claimed {
        return record_refusal(
            desk,
            Refusal::Used,
            &hash,
            Some(&link),
            &form.decision,
            source,
        );
    }
    let caller = Caller {
        token: link.id.clone(),
        role: Role::Contact,
        subject: link.contact.clone(),
        source: source.map(str::to_string),
    };
    match desk.act(&caller, &request.ticket, action, command) {
        Ok(after) => Ok(LinkOutcome::Done {
            link,
            request: Box::new(after),
            confirmed: action == Action::Confirm,
        }),
        Err(e) => {
            // Refused by the workflow (e.g. an empty reason): the link stays usable.
            desk.with_store(|s| {
                s.write(|tx| Ok::<_, DeskError>(store::unuse_link(tx, &link.id)?))
            })?;
            Err(e)
        }
    }
}

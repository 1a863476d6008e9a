//! The permission gate: who may do what on which resource, and refusals recorded.

use super::*;

/// Who calls, as the API authenticated them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Caller {
    pub token: String,
    pub role: Role,
    pub subject: String,
    /// The client's address.
    pub source: Option<String>,
}

impl Caller {
    pub fn from_token(token: &Token, source: Option<String>) -> Caller {
        Caller {
            token: token.id.clone(),
            role: token.role,
            subject: token.subject.clone(),
            source,
        }
    }

    /// The workflow's view of the caller.
    pub fn party(&self) -> Party {
        match self.role {
            Role::Contact => Party::Contact(self.subject.clone()),
            Role::Staff => Party::Staff(self.subject.clone()),
            // Auditors never act; a party is needed only to refuse them.
            Role::Auditor => Party::Staff(format!("auditor:{}", self.subject)),
        }
    }

    /// The audit trail's view of the caller.
    pub fn actor(&self) -> Actor {
        Actor::token(
            &self.token,
            Some(self.role.as_str()),
            (self.role == Role::Contact).then_some(self.subject.as_str()),
        )
    }
}

/// What the API's actions are called, for permissions and refusal events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Read,
    Amend,
    Withdraw,
    Answer,
    Confirm,
    Decline,
    Approve,
    Reject,
    Ask,
    Evaluate,
    Implement,
}

impl Action {
    fn staff_only(self) -> bool {
        matches!(
            self,
            Action::Approve | Action::Reject | Action::Ask | Action::Evaluate | Action::Implement
        )
    }
}

/// Refusals of one caller on one endpoint are recorded at most once per this window.
pub const REFUSAL_WINDOW: time::Duration = time::Duration::minutes(1);
/// Callers tracked at once; beyond it, expired windows are dropped first, then all.
const REFUSAL_KEYS: usize = 10_000;

#[derive(Debug, Clone, Copy)]
pub(crate) struct RefusalWindow {
    /// When the last event was written.
    pub(crate) recorded: OffsetDateTime,
    /// Refusals since then without an event of their own.
    pub(crate) repeated: u64,
}

impl Desk {
    /// Records a refused attempt on a request in the audit trail.
    pub fn record_refusal(
        &self,
        caller: &Caller,
        ticket: Option<&str>,
        tld: Option<&str>,
        action: &str,
        reason: &str,
    ) -> Result<(), DeskError> {
        let now = self.clock.now();
        // One event per caller and endpoint per window; the count of the others rides on the
        // next event, so forbidden calls cannot grow the trail one event each.
        let key = (
            caller.token.clone(),
            action.to_string(),
            ticket.unwrap_or_default().to_string(),
        );
        let repeated = {
            let mut windows = self.refusals.lock().map_err(|_| lock_failed())?;
            if let Some(w) = windows.get_mut(&key) {
                if now - w.recorded < REFUSAL_WINDOW && now >= w.recorded {
                    w.repeated += 1;
                    tracing::debug!(token = %caller.token, action, "refusal aggregated");
                    return Ok(());
                }
            }
            if windows.len() >= REFUSAL_KEYS {
                windows.retain(|_, w| now - w.recorded < REFUSAL_WINDOW);
                if windows.len() >= REFUSAL_KEYS {
                    windows.clear();
                }
            }
            let previous = windows.insert(
                key,
                RefusalWindow {
                    recorded: now,
                    repeated: 0,
                },
            );
            previous.map_or(0, |w| w.repeated)
        };
        let mut payload = serde_json::json!({ "action": action, "reason": reason });
        if repeated > 0 {
            payload["repeated"] = repeated.into();
        }
        let mut event = NewEvent::new(caller.actor(), "access-refused", payload).at(now);
        if let Some(source) = &caller.source {
            event = event.source(source);
        }
        if let Some(ticket) = ticket {
            event = event.request(ticket);
        }
        if let Some(tld) = tld {
            event = event.tld(tld);
        }
        self.with_store(|s| {
            s.append_events(std::slice::from_ref(&event))?;
            Ok(())
        })
    }

    /// A request, if the caller may read it.
    pub fn read(&self, caller: &Caller, ticket: &str) -> Result<Request, DeskError> {
        let request = self
            .read_store(|s| Ok(s.request(ticket)?))?
            .ok_or_else(|| DeskError::NotFound(format!("request {ticket}")))?;
        self.permit(caller, Action::Read, &request)?;
        Ok(request)
    }

    /// Whether `caller` may do `action` on `request`: the role-level gate, before the
    /// workflow's own rules.
    pub fn permit(
        &self,
        caller: &Caller,
        action: Action,
        request: &Request,
    ) -> Result<(), DeskError> {
        let refuse = |reason: String| -> Result<(), DeskError> {
            self.record_refusal(
                caller,
                Some(&request.ticket),
                Some(&request.tld),
                action_name(action),
                &reason,
            )?;
            Err(DeskError::Forbidden(reason))
        };
        match caller.role {
            // Staff read and review; they never act for the TLD or consent for a contact.
            Role::Staff if action == Action::Read || action.staff_only() => Ok(()),
            // Staff who keyed in a request (received by other means) act for its submitter.
            Role::Staff
                if request.submitter == caller.party()
                    && matches!(action, Action::Amend | Action::Withdraw | Action::Answer) =>
            {
                Ok(())
            }
            Role::Staff => refuse(format!(
                "only the TLD's contacts may {}; staff act through review",
                action_name(action)
            )),
            Role::Auditor if action == Action::Read => Ok(()),
            Role::Auditor => refuse("auditors read; they do not act on requests".into()),
            Role::Contact if action.staff_only() => refuse("only desk staff may do this".into()),
            Role::Contact => {
                let holds_role = self
                    .read_store(|s| Ok(s.contact_tlds(&caller.subject)?))?
                    .contains(&request.tld);
                let asked = request.consents.contains_key(&caller.subject);
                let allowed = match action {
                    Action::Confirm | Action::Decline => asked,
                    Action::Read => holds_role || asked,
                    _ => holds_role || request.submitter == caller.party(),
                };
                if allowed {
                    Ok(())
                } else {
                    refuse(format!(
                        "{} is not a contact of {} for this request",
                        caller.subject, request.tld
                    ))
                }
            }
        }
    }

    /// The permission gate alone: whether `caller` may do `action` on the request `ticket`
    /// (a refusal is recorded). The API calls it before it reads a request body.
    pub fn authorize(
        &self,
        caller: &Caller,
        ticket: &str,
        action: Action,
    ) -> Result<(), DeskError> {
        let request = self
            .read_store(|s| Ok(s.request(ticket)?))?
            .ok_or_else(|| DeskError::NotFound(format!("request {ticket}")))?;
        self.permit(caller, action, &request)
    }
}

fn action_name(action: Action) -> &'static str {
    match action {
        Action::Read => "read",
        Action::Amend => "amend",
        Action::Withdraw => "withdraw",
        Action::Answer => "answer",
        Action::Confirm => "confirm",
        Action::Decline => "decline",
        Action::Approve => "approve",
        Action::Reject => "reject",
        Action::Ask => "ask",
        Action::Evaluate => "evaluate",
        Action::Implement => "implement",
    }
}

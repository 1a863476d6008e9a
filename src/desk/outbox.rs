//! The outbox's bookkeeping for the sender (`daemon::sender`), which talks SMTP and nothing
//! else: claiming a row (and minting its link secret in that transaction), recording what the
//! relay answered with its audit event, giving up after `[smtp] give_up_after_ms` with a staff
//! alert, and the rows an interrupted run left `sending`.

use std::time::Duration;

use super::*;
use crate::config::SmtpSettings;
use crate::store::Notification;

/// The kind of the staff alert about a message given up; never itself alerted about, so
/// that an unreachable staff address cannot loop.
pub const DELIVERY_FAILED: &str = "delivery-failed";

impl Desk {
    /// Sends rows left `sending` by an interrupted run again, recording the doubt.
    pub fn outbox_reconcile(&self) -> Result<usize, DeskError> {
        self.with_store(|s| {
            s.write(|tx| {
                let doubtful = store::in_doubt_notifications(tx)?;
                for n in &doubtful {
                    store::release_notification(tx, n.id)?;
                    store::append_event(
                        tx,
                        &self.sender_event(
                            n,
                            crate::audit::Kind::NotificationInDoubt,
                            serde_json::json!({ "outbox": n.id, "attempt": n.attempts, "recipient": n.recipient }),
                        ),
                    )?;
                }
                Ok(doubtful.len())
            })
        })
    }

    /// Claims row `id` for an attempt: the attempt's number and the body to send, its link
    /// secret minted in the same transaction (it lives only in the message on its way to the
    /// relay); `None` when another run has it or it is no longer due.
    #[allow(clippy::type_complexity)]
    pub fn outbox_claim(
        &self,
        id: i64,
        body: &str,
        ticket: Option<&str>,
    ) -> Result<Option<(u32, Result<String, StoreError>)>, DeskError> {
        self.with_store(|s| {
            s.write(|tx| {
                let now = OffsetDateTime::now_utc();
                let Some(attempt) = store::claim_notification(tx, id, now)? else {
                    return Ok(None);
                };
                Ok(Some((
                    attempt,
                    crate::notify::links::mint(tx, body, ticket, now),
                )))
            })
        })
    }

    /// Records what the relay answered to attempt `attempt` of `n`: delivered (the body kept
    /// as `redacted`), failed and retried after `retry_in`, or given up.
    #[allow(clippy::too_many_arguments)]
    pub fn outbox_record(
        &self,
        settings: &SmtpSettings,
        n: &Notification,
        attempt: u32,
        message_id: &str,
        outcome: &Result<(), String>,
        redacted: &str,
        retry_in: Duration,
    ) -> Result<(), DeskError> {
        self.with_store(|s| {
            s.write(|tx| {
                match outcome {
                    Ok(()) => {
                        store::mark_delivered(tx, n.id, redacted, OffsetDateTime::now_utc())?;
                        store::append_event(
                            tx,
                            &self.sender_event(
                                n,
                                crate::audit::Kind::NotificationDelivered,
                                serde_json::json!({
                                    "outbox": n.id,
                                    "attempt": attempt,
                                    "recipient": n.recipient,
                                    "kind": n.kind,
                                    "message_id": message_id,
                                }),
                            ),
                        )?;
                    }
                    Err(error) if self.given_up(settings, n) => {
                        self.give_up(tx, settings, n, attempt, error)?;
                    }
                    Err(error) => {
                        let next = OffsetDateTime::now_utc() + retry_in;
                        store::mark_failed(tx, n.id, error, next)?;
                        store::append_event(
                            tx,
                            &self.sender_event(
                                n,
                                crate::audit::Kind::NotificationAttemptFailed,
                                serde_json::json!({
                                    "outbox": n.id,
                                    "attempt": attempt,
                                    "recipient": n.recipient,
                                    "error": error,
                                    "retry_in_ms": u64::try_from(retry_in.as_millis()).unwrap_or(u64::MAX),
                                }),
                            ),
                        )?;
                    }
                }
                Ok(())
            })
        })
    }

    fn sender_event(
        &self,
        n: &Notification,
        kind: crate::audit::Kind,
        payload: serde_json::Value,
    ) -> NewEvent {
        let mut event = NewEvent::of(Actor::system("sender"), kind, payload).at(self.clock.now());
        if let Some(t) = &n.ticket {
            event = event.request(t);
        }
        if let Some(t) = &n.tld {
            event = event.tld(t);
        }
        event
    }

    /// Whether a message has waited longer than `give_up_after_ms` since it was queued (on
    /// the desk's clock, which queued it).
    fn given_up(&self, s: &SmtpSettings, n: &Notification) -> bool {
        let Ok(created) =
            OffsetDateTime::parse(&n.created, &time::format_description::well_known::Rfc3339)
        else {
            return false;
        };
        let limit =
            time::Duration::milliseconds(i64::try_from(s.give_up_after_ms).unwrap_or(i64::MAX));
        self.clock.now() - created >= limit
    }

    /// Stops retrying: the row stays undelivered and out of the queue, the failure is an
    /// audit event, and staff are told so that somebody reaches the recipient another way.
    fn give_up(
        &self,
        tx: &rusqlite::Transaction<'_>,
        s: &SmtpSettings,
        n: &Notification,
        attempt: u32,
        error: &str,
    ) -> Result<(), StoreError> {
        store::mark_given_up(tx, n.id, error)?;
        let alert = n.kind != DELIVERY_FAILED;
        store::append_event(
            tx,
            &self.sender_event(
                n,
                crate::audit::Kind::NotificationFailed,
                serde_json::json!({
                    "outbox": n.id,
                    "attempts": attempt,
                    "recipient": n.recipient,
                    "kind": n.kind,
                    "error": error,
                    "give_up_after_ms": s.give_up_after_ms,
                    "staff_alerted": alert,
                }),
            ),
        )?;
        if alert {
            let about = n.ticket.as_deref().unwrap_or("no request");
            let body = format!(
                "The desk gave up delivering a message after {attempt} attempts.\n\n\
                 Outbox:    {id}\n\
                 Kind:      {kind}\n\
                 Recipient: {recipient}\n\
                 Request:   {about}\n\
                 Subject:   {subject}\n\
                 Queued:    {created}\n\
                 Error:     {error}\n\n\
                 Reach the recipient another way, or fix the address and run\n\
                 `rootdesk outbox retry {id}` to try once more.\n",
                id = n.id,
                kind = n.kind,
                recipient = n.recipient,
                subject = n.subject,
                created = n.created,
            );
            let now = OffsetDateTime::now_utc();
            store::queue_notification(
                tx,
                &store::NewNotification {
                    recipient: s.staff_address.clone(),
                    subject: format!("[rootdesk] delivery to {} failed ({about})", n.recipient),
                    body,
                    ticket: n.ticket.clone(),
                    tld: n.tld.clone(),
                    kind: DELIVERY_FAILED.into(),
                },
                self.clock.now(),
                now,
            )?;
        }
        Ok(())
    }
}

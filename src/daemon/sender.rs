//! The sender: a daemon task that delivers the outbox over SMTP (lettre, rustls on ring).
//!
//! Delivery is at least once, never silently lost: a row is marked `sending` before it is
//! handed to the relay and `delivered` in the same transaction as its audit event right
//! after the relay accepts it. A failure records the attempt and schedules the next one with
//! exponential backoff; nothing is ever dropped. A row still marked `sending` at start-up was
//! interrupted between the relay's answer and the database write: its fate is unknown, so it
//! is sent again with the same Message-ID (derived from the outbox id, so that the receiving
//! side can recognise the duplicate) and the doubt is an audit event. A delivered row is never
//! sent again, across any number of restarts.

use std::sync::Arc;
use std::time::Duration;

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::Body;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use time::OffsetDateTime;
use tokio::sync::watch;

use crate::config::{SmtpSettings, SmtpTls};
use crate::desk::{Desk, DeskError};
use crate::store::{Notification, StoreError};

/// Starts the sender when a relay is configured.
pub fn spawn(
    desk: Arc<Desk>,
    stopped: watch::Receiver<bool>,
) -> Option<tokio::task::JoinHandle<()>> {
    if desk.notify.relay.is_empty() {
        tracing::warn!("no SMTP relay configured ([smtp] relay): notifications wait in the outbox");
        return None;
    }
    let base = &desk.notify.base_url;
    if base.contains("://127.") || base.contains("://localhost") || base.contains("://[::1]") {
        tracing::warn!(%base, "[smtp] base_url is a loopback address: links in messages will not work elsewhere");
    }
    Some(tokio::spawn(run(desk, stopped)))
}

fn transport(s: &SmtpSettings) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let mut builder = match s.tls {
        SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.relay),
        SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&s.relay)
            .map_err(|e| e.to_string())?,
        SmtpTls::Tls => {
            AsyncSmtpTransport::<Tokio1Executor>::relay(&s.relay).map_err(|e| e.to_string())?
        }
    };
    if let (Some(path), true) = (&s.ca_file, s.tls != SmtpTls::None) {
        let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let ca = Certificate::from_pem(&pem).map_err(|e| format!("{}: {e}", path.display()))?;
        let parameters = TlsParameters::builder(s.relay.clone())
            .add_root_certificate(ca)
            .build_rustls()
            .map_err(|e| e.to_string())?;
        builder = builder.tls(match s.tls {
            SmtpTls::Tls => Tls::Wrapper(parameters),
            _ => Tls::Required(parameters),
        });
    }
    let mut builder = builder
        .port(s.port)
        .timeout(Some(Duration::from_millis(s.timeout_ms.max(1))));
    if let (Some(user), Some(password)) = (&s.username, &s.password) {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    Ok(builder.build())
}

/// How long to wait after failed attempt number `attempt` (1, 2, ...).
pub fn backoff(s: &SmtpSettings, attempt: u32) -> Duration {
    let factor = 1u64 << attempt.saturating_sub(1).min(30);
    Duration::from_millis(
        s.retry_initial_ms
            .saturating_mul(factor)
            .min(s.retry_max_ms.max(s.retry_initial_ms)),
    )
}

/// The Message-ID of an outbox row: stable, so a resent message is recognisably the same.
pub fn message_id(s: &SmtpSettings, id: i64) -> String {
    let domain = s
        .from
        .rsplit_once('@')
        .map(|(_, d)| d)
        .unwrap_or("localhost");
    let domain = domain.trim_end_matches('>');
    format!("<rootdesk-outbox-{id}@{domain}>")
}

/// The body as kept after delivery: confirmation secrets are not left lying in the database
/// (the outbox holds placeholders; rows queued by an older rootdesk held the secrets).
pub fn redact(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(i) = rest.find("/confirm/") {
        let (head, tail) = rest.split_at(i + "/confirm/".len());
        out.push_str(head);
        if tail.starts_with("{secret:") {
            rest = tail;
            continue;
        }
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(tail.len());
        out.push_str("(removed after delivery)");
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

async fn blocking<T: Send + 'static>(
    desk: &Arc<Desk>,
    f: impl FnOnce(&Desk) -> Result<T, DeskError> + Send + 'static,
) -> Result<T, DeskError> {
    let desk = desk.clone();
    tokio::task::spawn_blocking(move || f(&desk))
        .await
        .map_err(|e| DeskError::Store(StoreError::Conflict(format!("sender task failed: {e}"))))?
}

/// Delivers the outbox until `stopped`.
pub async fn run(desk: Arc<Desk>, mut stopped: watch::Receiver<bool>) {
    let settings = desk.notify.clone();
    let transport = match transport(&settings) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "the SMTP settings are unusable; notifications wait in the outbox");
            return;
        }
    };
    match blocking(&desk, |d| d.outbox_reconcile()).await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(
            count = n,
            "notifications interrupted by a restart are sent again"
        ),
        Err(e) => tracing::error!(error = %e, "reconciling the outbox failed"),
    }
    let poll = Duration::from_millis(settings.poll_ms.max(10));
    loop {
        match deliver_due(&desk, &transport, &settings, &stopped).await {
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "delivering the outbox failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = stopped.changed() => break,
        }
    }
}

/// Delivers every due row once; returns how many the relay accepted.
pub async fn deliver_due(
    desk: &Arc<Desk>,
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    settings: &SmtpSettings,
    stopped: &watch::Receiver<bool>,
) -> Result<usize, DeskError> {
    let now = OffsetDateTime::now_utc();
    let due = blocking(desk, move |d| d.outbox_due(now, 100)).await?;
    let mut delivered = 0;
    for n in due {
        if *stopped.borrow() {
            break;
        }
        if deliver(desk, transport, settings, n).await? {
            delivered += 1;
        }
    }
    Ok(delivered)
}

async fn deliver(
    desk: &Arc<Desk>,
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    settings: &SmtpSettings,
    n: Notification,
) -> Result<bool, DeskError> {
    let id = n.id;
    let (body, ticket) = (n.body.clone(), n.ticket.clone());
    // The link secret is minted in the same transaction as the claim, and lives only in
    // this message on its way to the relay.
    let claimed = blocking(desk, move |d| d.outbox_claim(id, &body, ticket.as_deref())).await?;
    let Some((attempt, minted)) = claimed else {
        return Ok(false);
    };
    let message_id = message_id(settings, n.id);
    let outcome = match minted
        .map_err(|e| e.to_string())
        .and_then(|body| build(settings, &n, &body, &message_id))
    {
        Ok(message) => transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    let settings = settings.clone();
    let accepted = outcome.is_ok();
    let wait = backoff(&settings, attempt);
    blocking(desk, move |d| {
        d.outbox_record(
            &settings,
            &n,
            attempt,
            &message_id,
            &outcome,
            &redact(&n.body),
            wait,
        )
    })
    .await?;
    if !accepted {
        tracing::warn!(outbox = id, attempt, "delivery failed");
    }
    Ok(accepted)
}

fn build(
    s: &SmtpSettings,
    n: &Notification,
    text: &str,
    message_id: &str,
) -> Result<Message, String> {
    let from: Mailbox = s
        .from
        .parse()
        .map_err(|e| format!("from address {:?}: {e}", s.from))?;
    let to: Mailbox = n
        .recipient
        .parse()
        .map_err(|e| format!("recipient {:?}: {e}", n.recipient))?;
    Message::builder()
        .from(from)
        .to(to)
        .subject(n.subject.clone())
        .message_id(Some(message_id.to_string()))
        .header(ContentType::TEXT_PLAIN)
        .body(body(text))
        .map_err(|e| e.to_string())
}

/// Plain 7-bit text when it fits (so that a link is never broken by quoted-printable
/// wrapping), else lettre's choice.
fn body(text: &str) -> Body {
    let text = text.replace('\n', "\r\n");
    Body::new_with_encoding(text.clone(), ContentTransferEncoding::SevenBit)
        .unwrap_or_else(|_| Body::new(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_limit() {
        let s = SmtpSettings {
            retry_initial_ms: 100,
            retry_max_ms: 1000,
            ..SmtpSettings::default()
        };
        let ms: Vec<u128> = (1..=6).map(|a| backoff(&s, a).as_millis()).collect();
        assert_eq!(ms, vec![100, 200, 400, 800, 1000, 1000]);
    }

    #[test]
    fn redaction_removes_link_secrets_only() {
        let body = "Link:     http://d/confirm/AbC-_9x\nnext /confirm/q.\n";
        assert_eq!(
            redact(body),
            "Link:     http://d/confirm/(removed after delivery)\nnext /confirm/(removed after delivery).\n"
        );
    }

    #[test]
    fn redaction_keeps_placeholders() {
        let body = "Link:\n  http://d/confirm/{secret:lnk-0a1b2c3d4e5f}\n";
        assert_eq!(redact(body), body);
    }

    #[test]
    fn message_ids_are_stable_per_row() {
        let s = SmtpSettings {
            from: "desk@iana.example".into(),
            ..SmtpSettings::default()
        };
        assert_eq!(message_id(&s, 42), "<rootdesk-outbox-42@iana.example>");
    }
}

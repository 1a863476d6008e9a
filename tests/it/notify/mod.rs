//! Notifications end to end: the daemon in-process with its sender delivering to a real
//! SMTP receiver on loopback (`smtp`), and contacts acting through the e-mailed links.

mod at_rest;
mod consent;
mod flows;
mod links;
mod mail_text;
mod messages;
mod relay;
pub mod smtp;
mod tls;

use reqwest::StatusCode;
use rootdesk::audit::{Event, EventQuery};
use rootdesk::config::{SmtpSettings, SmtpTls};
use rootdesk::store::Notification;

use crate::daemon::TestDesk;
use smtp::Mail;

pub const ADMIN: &str = "admin@nic.xa.example";
pub const TECH: &str = "tech@nic.xa.example";
pub const STAFF: &str = "staff@desk.example";
pub const EMERGENCY: &str = "emergency@desk.example";
/// The public base URL in messages; tests map it to the daemon's real address, as a
/// reverse proxy would.
pub const PUBLIC: &str = "https://desk.example";

/// Settings for a relay on loopback, with fast polling and short backoff.
pub fn smtp(port: u16) -> SmtpSettings {
    SmtpSettings {
        relay: "127.0.0.1".into(),
        port,
        tls: SmtpTls::None,
        from: "rootdesk@desk.example".into(),
        base_url: PUBLIC.into(),
        staff_address: STAFF.into(),
        emergency_address: EMERGENCY.into(),
        poll_ms: 30,
        retry_initial_ms: 100,
        retry_max_ms: 400,
        timeout_ms: 2000,
        ..SmtpSettings::default()
    }
}

/// The link of a message, checked to point at the public base URL, as a path.
pub fn link_of(mail: &Mail) -> String {
    let body = mail.body();
    assert!(
        body.contains(&format!("{PUBLIC}/confirm/")),
        "no confirmation link in {body}"
    );
    mail.link_path().expect("link")
}

/// Opens a link as a browser does.
pub async fn open(t: &TestDesk, path: &str) -> (StatusCode, String) {
    let response = crate::daemon::http()
        .get(format!("{}{path}", t.base))
        .send()
        .await
        .expect("GET link");
    let status = response.status();
    (status, response.text().await.expect("page"))
}

/// Posts the link's form.
pub async fn answer(
    t: &TestDesk,
    path: &str,
    decision: &str,
    contact: &str,
    reason: &str,
) -> (StatusCode, String) {
    let body = format!(
        "decision={decision}&contact={}&reason={}",
        contact.replace('+', "%2B"),
        reason.replace(' ', "+")
    );
    let response = crate::daemon::http()
        .post(format!("{}{path}", t.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("POST link");
    let status = response.status();
    (status, response.text().await.expect("page"))
}

pub fn events(t: &TestDesk, kind: &str) -> Vec<Event> {
    t.desk
        .read_store(|s| {
            Ok(s.events(&EventQuery {
                kind: Some(kind.into()),
                ..Default::default()
            })?)
        })
        .expect("events")
}

pub fn outbox(t: &TestDesk) -> Vec<Notification> {
    t.desk
        .read_store(|s| Ok(s.outbox(false, 10_000)?))
        .expect("outbox")
}

/// The confirmation requests to xa's two contacts for the current revision.
pub async fn contact_links(relay: &smtp::Relay, skip: usize) -> (String, String) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let mails: Vec<Mail> = relay.mails().into_iter().skip(skip).collect();
        let find = |to: &str| {
            mails
                .iter()
                .find(|m| m.to.iter().any(|t| t == to) && m.link_path().is_some())
                .map(link_of)
        };
        if let (Some(a), Some(t)) = (find(ADMIN), find(TECH)) {
            return (a, t);
        }
        if tokio::time::Instant::now() > deadline {
            panic!("no confirmation requests to both contacts: {mails:#?}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Waits until the database records every outbox row as delivered (the relay sees a message
/// a moment before the sender writes that down).
pub async fn wait_delivered(t: &TestDesk) -> Vec<Notification> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let rows = outbox(t);
        if rows.iter().all(|n| n.delivered_at.is_some()) {
            return rows;
        }
        assert!(tokio::time::Instant::now() < deadline, "{rows:#?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

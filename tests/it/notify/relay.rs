//! The relay down for a while: messages wait in the outbox, are retried with backoff (each
//! failed attempt an event), survive a daemon restart, and are all delivered exactly once
//! when the relay is back; a further restart sends nothing again.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::json;

use super::smtp::Relay;
use super::*;
use crate::daemon::healthy;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_wait_for_the_relay_and_are_delivered_once() {
    let mut relay = Relay::start().await;
    relay.stop().await;
    let mut t = TestDesk::start_with(smtp(relay.port)).await;
    let created = t
        .ok(
            &t.tokens.admin,
            "/v1/requests",
            json!({ "tld": "xa", "priority": "emergency", "emergency_reason": "lost servers",
                    "proposal": healthy() }),
        )
        .await;
    let ticket = created["ticket"].as_str().expect("ticket").to_string();
    t.wait_for(&ticket, "contact-confirmation").await;

    // Tried and failed more than once, with the attempts recorded.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let rows = outbox(&t);
        if rows.len() >= 3
            && rows
                .iter()
                .all(|n| n.attempts >= 2 && n.sending_at.is_none())
        {
            assert!(rows.iter().all(|n| n.delivered_at.is_none()));
            assert!(rows.iter().all(|n| n.last_error.is_some()), "{rows:#?}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no retries: {rows:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let failed = events(&t, "notification-attempt-failed");
    assert!(failed.len() >= 6, "{}", failed.len());
    assert!(failed
        .iter()
        .all(|e| e.payload["retry_in_ms"].as_u64().is_some()));
    assert!(failed
        .iter()
        .all(|e| e.payload["attempt"].as_u64() >= Some(1)));
    assert!(relay.mails().is_empty());

    // The daemon restarts while the relay is still down; nothing is lost.
    t.restart().await;
    let waiting: BTreeSet<i64> = outbox(&t).into_iter().map(|n| n.id).collect();
    assert!(waiting.len() >= 3, "{waiting:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;

    relay.resume().await;
    relay.wait_for(waiting.len()).await;
    wait_delivered(&t).await;

    // One more restart, and time for several polls: nothing is sent again.
    t.restart().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mails = relay.mails();
    let ids: Vec<String> = mails
        .iter()
        .map(|m| m.header("Message-ID").expect("message id"))
        .collect();
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "a message was sent twice: {ids:?}");
    let expected: BTreeSet<String> = waiting
        .iter()
        .map(|id| format!("<rootdesk-outbox-{id}@desk.example>"))
        .collect();
    assert_eq!(
        ids.iter().cloned().collect::<BTreeSet<_>>(),
        expected,
        "every waiting message, and only those"
    );
    assert!(mails.iter().any(|m| m.to == [EMERGENCY]));
    assert!(mails.iter().any(|m| m.to == [ADMIN]));
    assert!(mails.iter().any(|m| m.to == [TECH]));
    let delivered = events(&t, "notification-delivered");
    assert_eq!(delivered.len(), waiting.len());
    assert!(events(&t, "notification-in-doubt").is_empty());
    t.stop().await;
}

/// A crash between handing a message to the relay and recording the outcome leaves the row
/// marked `sending`: the next start sends it again with the same Message-ID and records the
/// doubt, so it is never lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_interrupted_in_flight_is_sent_again_and_recorded() {
    let mut relay = Relay::start().await;
    relay.stop().await;
    let mut t = TestDesk::start_with(smtp(relay.port)).await;
    let ticket = t.submit(healthy()).await;
    t.wait_for(&ticket, "contact-confirmation").await;
    if let Some(server) = t.server.take() {
        server.shutdown().await;
    }
    let rows = outbox(&t);
    assert_eq!(rows.len(), 2, "{rows:#?}");
    let interrupted = rows[0].id;
    // What a crash in flight leaves behind: claimed, no outcome.
    t.desk
        .with_store(|s| {
            s.write(|tx| {
                Ok(rootdesk::store::claim_notification(
                    tx,
                    interrupted,
                    time::OffsetDateTime::now_utc(),
                )?)
            })
        })
        .expect("claim");
    relay.resume().await;
    t.restart().await;
    relay.wait_for(2).await;
    let doubt = events(&t, "notification-in-doubt");
    assert_eq!(doubt.len(), 1);
    assert_eq!(doubt[0].payload["outbox"], interrupted);
    assert_eq!(doubt[0].request.as_deref(), Some(ticket.as_str()));
    wait_delivered(&t).await;
    assert_eq!(relay.mails().len(), 2);
    t.stop().await;
}

/// `rootdesk outbox list` shows what waits; `outbox retry` makes it due at once instead of
/// after the backoff, and refuses to resend a delivered message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_list_and_retry_the_outbox() {
    let mut relay = Relay::start().await;
    relay.stop().await;
    let mut settings = smtp(relay.port);
    // After the first failure the next attempt would be a minute away.
    settings.retry_initial_ms = 60_000;
    settings.retry_max_ms = 60_000;
    let t = TestDesk::start_with(settings).await;
    let ticket = t.submit(healthy()).await;
    t.wait_for(&ticket, "contact-confirmation").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !outbox(&t)
        .iter()
        .all(|n| n.attempts >= 1 && n.sending_at.is_none() && n.last_error.is_some())
    {
        assert!(tokio::time::Instant::now() < deadline, "{:#?}", outbox(&t));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let db = t.dir.path().join("rootdesk.db");
    let cli = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_rootdesk"))
            .arg("--db")
            .arg(&db)
            .args(args)
            .env("ROOTDESK_LOG", "warn")
            .output()
            .expect("run rootdesk")
    };
    let listed = cli(&["outbox", "list", "--pending", "--format", "json"]);
    assert!(listed.status.success(), "{listed:?}");
    let rows: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("json");
    let rows = rows.as_array().expect("rows");
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows.iter().all(|r| r["ticket"] == ticket.as_str()));
    let table = cli(&["outbox", "list"]);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.contains(ADMIN) && table.contains("waiting until"),
        "{table}"
    );

    relay.resume().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        relay.mails().is_empty(),
        "delivered before the backoff ran out"
    );
    let retried = cli(&["outbox", "retry", "--all"]);
    assert!(retried.status.success(), "{retried:?}");
    assert!(String::from_utf8_lossy(&retried.stdout).contains("2 notification(s) due now"));
    relay.wait_for(2).await;
    wait_delivered(&t).await;
    let id = outbox(&t)[0].id.to_string();
    let again = cli(&["outbox", "retry", &id]);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("never sent twice"),
        "{again:?}"
    );
    assert_eq!(events(&t, "notification-retry-requested").len(), 1);
    t.stop().await;
}

/// Mail to an address the relay refuses is not retried forever: after `give_up_after_ms`
/// the row leaves the queue with one `notification-failed` event, and staff get an alert
/// naming the recipient and the request. Retries stop: no event trail grows without bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undeliverable_mail_is_given_up_and_staff_are_alerted() {
    let relay = Relay::start().await;
    relay.refuse(TECH);
    let mut settings = smtp(relay.port);
    settings.give_up_after_ms = 600;
    let t = TestDesk::start_with(settings).await;
    let ticket = t.submit(healthy()).await;
    t.wait_for(&ticket, "contact-confirmation").await;

    let alert = relay.wait_for_mail(STAFF, "delivery to").await;
    let body = alert.body();
    assert!(body.contains(TECH), "{body}");
    assert!(body.contains(&ticket), "{body}");
    assert!(body.contains("550"), "the relay's answer: {body}");
    let failed = events(&t, "notification-failed");
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert_eq!(failed[0].payload["recipient"], TECH);
    assert_eq!(failed[0].payload["staff_alerted"], true);
    assert_eq!(failed[0].request.as_deref(), Some(ticket.as_str()));
    let attempts = events(&t, "notification-attempt-failed").len();

    // Several more polls: the given-up row is not tried again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(events(&t, "notification-attempt-failed").len(), attempts);
    assert_eq!(events(&t, "notification-failed").len(), 1);
    let row = outbox(&t)
        .into_iter()
        .find(|n| n.recipient == TECH)
        .expect("the row stays");
    assert!(row.delivered_at.is_none());
    assert!(row.last_error.as_deref().is_some_and(|e| e.contains("550")));
    assert!(relay.mails().iter().any(|m| m.to == [ADMIN]));
    t.stop().await;
}

/// An alert that cannot be delivered either is given up without a further alert.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undeliverable_alert_does_not_loop() {
    let relay = Relay::start().await;
    relay.refuse(TECH);
    relay.refuse(STAFF);
    let mut settings = smtp(relay.port);
    settings.give_up_after_ms = 300;
    let t = TestDesk::start_with(settings).await;
    let ticket = t.submit(healthy()).await;
    t.wait_for(&ticket, "contact-confirmation").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while events(&t, "notification-failed").len() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "never given up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let failed = events(&t, "notification-failed");
    assert_eq!(failed.len(), 2, "{failed:#?}");
    assert_eq!(failed[1].payload["recipient"], STAFF);
    assert_eq!(failed[1].payload["staff_alerted"], false);
    assert_eq!(
        outbox(&t).iter().filter(|n| n.recipient == STAFF).count(),
        1
    );
    t.stop().await;
}

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
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while outbox(&t).iter().any(|n| n.delivered_at.is_none()) {
        assert!(tokio::time::Instant::now() < deadline, "{:#?}", outbox(&t));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

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

//! Ticket numbers (issue 10, item 4): after 9,999 tickets in one UTC day the next ones must
//! still be new, distinct numbers, and two submissions never share a request.

use serde_json::json;

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tickets_after_9999_in_a_day_stay_distinct() {
    let t = TestDesk::start().await;
    // Today's first 9,999 tickets, written straight into the database (as a busy day would).
    // One open delegation request per TLD: each is withdrawn before the next.
    let withdraw = |ticket: String| {
        let t = &t;
        async move {
            t.ok(
                &t.tokens.admin,
                &format!("/v1/requests/{ticket}/withdraw"),
                json!({"reason": "test"}),
            )
            .await;
        }
    };
    let day = {
        let first = t.submit(healthy()).await;
        withdraw(first.clone()).await;
        first[..first.len() - 4].to_string()
    };
    {
        let mut conn = rusqlite::Connection::open(t.dir.path().join("rootdesk.db")).expect("open");
        let tx = conn.transaction().expect("tx");
        for n in 2..=9999 {
            tx.execute(
                "INSERT INTO requests (ticket, tld, kind, priority, state, owner, revision, submitter, submitted_at, state_since) \
                 VALUES (?1, 'xb', 'delegation', 'normal', 'withdrawn', NULL, 1, '{\"party\":\"system\"}', '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z')",
                [format!("{day}{n:04}")],
            )
            .expect("insert");
        }
        tx.commit().expect("commit");
    }
    let mut tickets = Vec::new();
    for _ in 0..3 {
        let ticket = t.submit(healthy()).await;
        withdraw(ticket.clone()).await;
        tickets.push(ticket);
    }
    assert_eq!(
        tickets,
        [
            format!("{day}10000"),
            format!("{day}10001"),
            format!("{day}10002")
        ],
        "numbers go on counting"
    );
    // Each request holds its own submission only.
    for ticket in &tickets {
        let (status, request) = t
            .get(&t.tokens.admin, &format!("/v1/requests/{ticket}"))
            .await;
        assert_eq!(status, reqwest::StatusCode::OK, "{request}");
        let submissions = request["history"]
            .as_array()
            .expect("history")
            .iter()
            .filter(|h| h["event"]["event"] == "submitted")
            .count();
        assert_eq!(
            submissions, 1,
            "{ticket} merged with another request: {request}"
        );
        assert_eq!(request["ticket"], json!(ticket));
    }
}

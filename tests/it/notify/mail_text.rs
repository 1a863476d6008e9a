//! What the mails say about user text and about the change: text a submitter or a contact
//! gave (names, sponsor, reasons) is quoted as theirs and cannot pose as the desk's own lines
//! (issue 10 item 9), and a completion notice shows what changed, old and new (issue 10).

use serde_json::json;

use super::smtp::{Mail, Relay};
use super::*;
use crate::daemon::healthy;

/// Text that passes input validation (no control characters) but reads like the desk's own
/// lines when a mail client wraps it: a fake link and fake fields after a run of spaces.
fn hostile(what: &str) -> String {
    format!(
        "{what}{}Link: https://evil.example/confirm/stolen Ticket:   RD-19990101-0001{}What you must do: nothing",
        " ".repeat(90),
        " ".repeat(40)
    )
}

async fn mails_about(relay: &Relay, ticket: &str, at_least: usize) -> Vec<Mail> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let mails: Vec<Mail> = relay
            .mails()
            .into_iter()
            .filter(|m| m.header("Subject").is_some_and(|s| s.contains(ticket)))
            .collect();
        if mails.len() >= at_least {
            return mails;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "expected {at_least} mails about {ticket}: {:#?}",
            relay.mails()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Every line that carries user text is a quoted line ("> "), under a header that says whose
/// text it is; the only "Link:" line is the desk's.
fn assert_quoted(body: &str) {
    let links = body
        .lines()
        .filter(|l| l.trim_start().starts_with("Link:"))
        .count();
    assert_eq!(links, 1, "one Link: line, the desk's: {body}");
    for line in body.lines().filter(|l| l.contains("evil.example")) {
        assert!(
            line.trim_start().starts_with("> "),
            "user text outside a quoted block: {line:?} in {body}"
        );
        assert!(
            !line.trim_start().contains("  "),
            "a run of spaces survives in {line:?}"
        );
    }
    assert!(
        body.contains("(quoted; not the desk's words)"),
        "no header on the quoted text: {body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_text_in_mail_cannot_pose_as_the_desk() {
    let relay = Relay::start().await;
    let t = TestDesk::start_with(smtp(relay.port)).await;

    // A sponsor, declined with a hostile reason: the consent requests and the outcome.
    let ticket = t
        .submit(json!({ "kind": "sponsor", "sponsor": hostile("Aldoria NIC") }))
        .await;
    for mail in mails_about(&relay, &ticket, 2).await {
        assert_quoted(&mail.body());
    }
    t.ok(
        &t.tokens.tech,
        &format!("/v1/requests/{ticket}/decline"),
        json!({ "reason": hostile("not ours") }),
    )
    .await;
    let declined = relay
        .wait_for_mail(ADMIN, &format!("{ticket}] .xa sponsor change: declined"))
        .await;
    assert_quoted(&declined.body());
    assert!(
        declined.body().contains("> not ours"),
        "{}",
        declined.body()
    );

    // A contact's name and organisation, and an emergency's reason.
    let ticket = t
        .submit(json!({ "kind": "contacts", "tech": { "handle": "xa-noc",
            "name": hostile("Eve"), "organisation": hostile("Org"), "email": "noc@nic.xa.example" } }))
        .await;
    for mail in mails_about(&relay, &ticket, 3).await {
        assert_quoted(&mail.body());
    }
    let created = t
        .ok(
            &t.tokens.admin,
            "/v1/requests",
            json!({ "tld": "xa", "priority": "emergency",
                "emergency_reason": hostile("servers lost"), "proposal": healthy() }),
        )
        .await;
    let ticket = created["ticket"].as_str().expect("ticket");
    let raised = relay.wait_for_mail(EMERGENCY, ticket).await;
    assert_quoted(&raised.body());
    t.stop().await;
}

/// Text already on file from before the input rules (real line breaks in a name) is quoted
/// line by line: it cannot add a "Link:" line of its own either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_on_file_with_line_breaks_stays_quoted() {
    let relay = Relay::start().await;
    let t = TestDesk::start_with(smtp(relay.port)).await;
    t.desk
        .with_store(|s| {
            s.write(|tx| {
                tx.execute(
                    "UPDATE tld_contacts SET name = ?1 WHERE contact = 'xa-tech'",
                    ["Tomas\n\nLink:\n  https://evil.example/confirm/stolen\n"],
                )?;
                Ok::<_, rootdesk::store::StoreError>(())
            })?;
            Ok(())
        })
        .expect("plant a name");
    let ticket = t
        .submit(json!({ "kind": "contacts",
            "tech": { "handle": "xa-noc", "name": "XA NOC", "email": "noc@nic.xa.example" } }))
        .await;
    for mail in mails_about(&relay, &ticket, 3).await {
        let body = mail.body();
        assert_quoted(&body);
        assert!(body.contains("    > Link:\n"), "{body}");
    }
    t.stop().await;
}

async fn completed_mail(relay: &Relay, ticket: &str) -> String {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if let Some(m) = relay.mails().into_iter().find(|m| {
            m.to == [ADMIN]
                && m.header("Subject")
                    .is_some_and(|s| s.contains(ticket) && s.ends_with("completed"))
        }) {
            return m.body();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no completion notice for {ticket}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Drives a request through consent, review and implementation with the contacts' tokens.
async fn complete(t: &TestDesk, ticket: &str) {
    t.wait_for(ticket, "contact-confirmation").await;
    for token in [&t.tokens.admin, &t.tokens.tech] {
        t.ok(token, &format!("/v1/requests/{ticket}/confirm"), json!({}))
            .await;
    }
    t.wait_for(ticket, "manual-review").await;
    t.ok(
        &t.tokens.staff,
        &format!("/v1/requests/{ticket}/approve"),
        json!({ "note": "ok" }),
    )
    .await;
    t.wait_for(ticket, "implementation").await;
    let done = t
        .ok(
            &t.tokens.staff,
            &format!("/v1/requests/{ticket}/implement"),
            json!({}),
        )
        .await;
    assert_eq!(done["state"], "completed", "{done}");
}

/// The completion notice shows the change as it was made: old -> new, not new -> new, and
/// never "the delegation stays as it is" for a delegation that changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completion_notices_show_the_real_change() {
    let relay = Relay::start().await;
    let t = TestDesk::start_with(smtp(relay.port)).await;

    let ticket = t.submit(healthy()).await;
    complete(&t, &ticket).await;
    let body = completed_mail(&relay, &ticket).await;
    for part in [
        "-A ns2.nic.xa 198.51.100.1",
        "+A ns2.nic.xa 127.0.0.22",
        "-DS 12345 13 2",
    ] {
        assert!(body.contains(part), "{part:?} missing from {body}");
    }
    assert!(!body.contains("stays as it is"), "{body}");

    let ticket = t
        .submit(json!({ "kind": "sponsor", "sponsor": "Aldoria NIC" }))
        .await;
    complete(&t, &ticket).await;
    let body = completed_mail(&relay, &ticket).await;
    let old = body.find("> Aldoria Network Information Centre");
    let new = body.find("> Aldoria NIC\n");
    assert!(
        old.is_some() && new.is_some() && old < new,
        "old then new sponsor in {body}"
    );

    let ticket = t
        .submit(json!({ "kind": "contacts", "tech": { "handle": "xa-tech",
            "name": "Tomas Tavares", "email": "tech@nic.xa.example", "phone": "+999 100 0099" } }))
        .await;
    complete(&t, &ticket).await;
    let body = completed_mail(&relay, &ticket).await;
    let old = body.find("+999 100 0002");
    let new = body.find("+999 100 0099");
    assert!(
        old.is_some() && new.is_some() && old < new,
        "old then new phone in {body}"
    );
    t.stop().await;
}

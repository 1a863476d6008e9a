//! What each kind of message says: a contact change with a newly named contact, a failed
//! check for the submitter, a question, a rejection.

use serde_json::json;

use super::smtp::Relay;
use super::*;
use crate::daemon::{broken, healthy};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_change_asks_the_new_contact_too() {
    let relay = Relay::start().await;
    let t = TestDesk::start_with(smtp(relay.port)).await;
    let proposal = json!({ "kind": "contacts",
        "tech": { "handle": "xa-noc", "name": "XA NOC", "email": "noc@nic.xa.example" } });
    let ticket = t.submit(proposal).await;
    // The names and addresses people gave are quoted, the old record before the new one.
    let change = "tech contact: xa-tech -> xa-noc\n";
    let old = "> name: Tomas Tavares\n    > organisation: Aldoria Network Information Centre\n    > e-mail: tech@nic.xa.example";
    let new = "> handle: xa-noc\n    > name: XA NOC\n    > e-mail: noc@nic.xa.example";
    let mut links = Vec::new();
    for (to, handle) in [
        (ADMIN, "xa-admin"),
        (TECH, "xa-tech"),
        ("noc@nic.xa.example", "xa-noc"),
    ] {
        let mail = relay.wait_for_mail(to, "your consent is needed").await;
        let body = mail.body();
        assert!(body.contains(change), "{body}");
        let (at_old, at_new) = (body.find(old), body.find(new));
        assert!(
            at_old.is_some() && at_new.is_some() && at_old < at_new,
            "{body}"
        );
        assert!(body.contains(&format!("({handle})")), "{body}");
        assert!(mail
            .header("Subject")
            .expect("subject")
            .contains("contacts change"));
        links.push((link_of(&mail), handle));
    }
    // All three consent through their links: the change goes to review.
    for (link, handle) in &links {
        let (status, page) = answer(&t, link, "confirm", handle, "").await;
        assert_eq!(status, StatusCode::OK, "{page}");
    }
    t.wait_for(&ticket, "manual-review").await;
    relay.wait_for_mail(STAFF, "ready for review").await;
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_submitter_is_told_to_fix_answer_and_of_the_rejection() {
    let relay = Relay::start().await;
    let t = TestDesk::start_with(smtp(relay.port)).await;
    let ticket = t.submit(broken()).await;
    t.wait_for(&ticket, "awaiting-fix").await;
    let fix = relay.wait_for_mail(ADMIN, "please fix").await;
    let body = fix.body();
    assert!(
        body.contains("amend the request") && body.contains("ns3.nic.xa"),
        "{body}"
    );
    assert!(body.contains("By:"), "{body}");
    assert!(
        body.contains(&format!("{PUBLIC}/v1/requests/{ticket}")),
        "{body}"
    );
    // Only the submitter is asked to fix; nobody is asked to consent to a broken change.
    assert!(relay.mails().iter().all(|m| m.to == [ADMIN]));

    t.ok(
        &t.tokens.admin,
        &format!("/v1/requests/{ticket}/amend"),
        json!({ "proposal": healthy() }),
    )
    .await;
    let (admin_link, tech_link) = contact_links(&relay, 0).await;
    answer(&t, &admin_link, "confirm", "xa-admin", "").await;
    answer(&t, &tech_link, "confirm", "xa-tech", "").await;
    t.wait_for(&ticket, "manual-review").await;
    t.ok(
        &t.tokens.staff,
        &format!("/v1/requests/{ticket}/ask"),
        json!({ "question": "Who runs ns2?" }),
    )
    .await;
    let asked = relay.wait_for_mail(ADMIN, "asks a question").await;
    assert!(asked.body().contains("Who runs ns2?"), "{}", asked.body());
    t.ok(
        &t.tokens.admin,
        &format!("/v1/requests/{ticket}/answer"),
        json!({ "answer": "Our NOC" }),
    )
    .await;
    t.ok(
        &t.tokens.staff,
        &format!("/v1/requests/{ticket}/reject"),
        json!({ "reason": "policy" }),
    )
    .await;
    for to in [ADMIN, TECH] {
        let mail = relay.wait_for_mail(to, "rejected").await;
        assert!(mail.body().contains("Reason: policy"), "{}", mail.body());
    }
    // Review was asked for twice: after the consents and after the answer.
    wait_delivered(&t).await;
    let reviews = relay
        .mails()
        .into_iter()
        .filter(|m| m.to == [STAFF])
        .count();
    assert_eq!(reviews, 2);
    t.stop().await;
}

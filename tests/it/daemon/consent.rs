//! Issue 10 item 1, as an attack: a contacts proposal that gives an existing contact handle a
//! new e-mail address must not send that contact's consent link to the new address; the new
//! address is asked only to confirm itself (the attacks with the mail and the links are in
//! `notify::consent`).

use rootdesk::store::Notification;
use serde_json::json;

use super::*;

const ATTACKER: &str = "attacker@evil.example";

/// The consent requests queued for a ticket: (recipient, handle asked).
fn consent_requests(t: &TestDesk, ticket: &str) -> Vec<(String, String)> {
    let outbox: Vec<Notification> = t
        .desk
        .read_store(|s| Ok(s.outbox(false, 10_000)?))
        .expect("outbox");
    outbox
        .into_iter()
        .filter(|n| n.ticket.as_deref() == Some(ticket) && n.body.contains("/confirm/"))
        .filter_map(|n| {
            // "The proposal gives contact xa-tech of .xa this new e-mail address."
            if let Some((_, rest)) = n.body.split_once("The proposal gives contact ") {
                let handle = rest.split_once(' ')?.0;
                return Some((n.recipient, format!("{handle}+new-email")));
            }
            // "As a contact of .xa (xa-tech), confirm or decline this change."
            let before = n.body.split_once("), confirm or decline")?.0;
            let handle = before.rsplit_once('(')?.1.to_string();
            Some((n.recipient, handle))
        })
        .collect()
}

/// Same TLD: xa's admin gives xa-tech the attacker's address. xa-tech is asked at the
/// address on file; the attacker's address receives no link that consents for xa-tech.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_contact_is_asked_at_its_address_on_file() {
    let t = TestDesk::start().await;
    let ticket = t
        .submit(json!({ "kind": "contacts",
            "tech": { "handle": "xa-tech", "name": "Tomas Tavares", "email": ATTACKER } }))
        .await;
    t.wait_for(&ticket, "contact-confirmation").await;
    let asked = consent_requests(&t, &ticket);
    assert!(
        asked.contains(&("tech@nic.xa.example".to_string(), "xa-tech".to_string())),
        "xa-tech must be asked at its address on file: {asked:?}"
    );
    // The proposed address is asked only to confirm itself (issue 10 item 1: old and new
    // address both), never for the contact's own consent.
    assert!(
        asked
            .iter()
            .filter(|(to, _)| to == ATTACKER)
            .map(|(_, h)| h.as_str())
            .eq(["xa-tech+new-email"]),
        "the proposed address got a consent link for the contact: {asked:?}"
    );
    t.stop().await;
}

/// Across TLDs: ndo-noc is the tech contact of xb and xc; xb's admin proposes a new address
/// for it. The link for ndo-noc goes to the address xc relies on too, not to the new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_contact_is_asked_at_its_address_on_file() {
    let t = TestDesk::start().await;
    let created = t
        .ok(
            &t.tokens.other,
            "/v1/requests",
            json!({ "tld": "xb", "proposal": { "kind": "contacts",
                "tech": { "handle": "ndo-noc", "name": "NDO NOC", "email": ATTACKER } } }),
        )
        .await;
    let ticket = created["ticket"].as_str().expect("ticket").to_string();
    t.wait_for(&ticket, "contact-confirmation").await;
    let asked = consent_requests(&t, &ticket);
    assert!(
        asked.contains(&("noc@ndo.example".to_string(), "ndo-noc".to_string())),
        "ndo-noc must be asked at its address on file: {asked:?}"
    );
    // The proposed address is asked only to confirm itself (issue 10 item 1: old and new
    // address both), never for the contact's own consent.
    assert!(
        asked
            .iter()
            .filter(|(to, _)| to == ATTACKER)
            .map(|(_, h)| h.as_str())
            .eq(["ndo-noc+new-email"]),
        "the proposed address got a consent link for the contact: {asked:?}"
    );
    t.stop().await;
}

//! Issue 10 item 1, as attacks over HTTP and SMTP: a contacts proposal that names an existing
//! handle with a new e-mail address. The contact consents at its address on file; the new
//! address confirms only itself (both are needed); and a record another TLD uses is never
//! rewritten by one TLD's request: that TLD keeps its own record (contact records are per
//! TLD, as in IANA's model since 2022).

use serde_json::{json, Value};

use super::smtp::{Mail, Relay};
use super::*;

const ATTACKER: &str = "attacker@evil.example";
const NDO_NOC: &str = "noc@ndo.example";

/// The mails about `ticket` that carry a link: (recipient, link path, contact the form is for).
async fn links(
    t: &TestDesk,
    relay: &Relay,
    ticket: &str,
    at_least: usize,
) -> Vec<(String, String, String)> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let found: Vec<(String, String, String)> = relay
            .mails()
            .iter()
            .filter(|m| m.header("Subject").is_some_and(|s| s.contains(ticket)))
            .filter_map(|m: &Mail| {
                let path = m.link_path()?;
                Some((m.to.join(","), path, String::new()))
            })
            .collect();
        if found.len() >= at_least {
            let mut out = Vec::new();
            for (to, path, _) in found {
                let (_, page) = open(t, &path).await;
                // The form names the consent the link is for.
                let contact = page
                    .split("name=\"contact\" value=\"")
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
                    .unwrap_or_default()
                    .to_string();
                out.push((to, path, contact));
            }
            return out;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "expected {at_least} links for {ticket}: {:#?}",
            relay.mails()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Every link mailed to the attacker's address: none confirms for `victim`.
async fn attacker_cannot_confirm_for(
    t: &TestDesk,
    sent: &[(String, String, String)],
    victim: &str,
) -> Vec<(String, String)> {
    let mine: Vec<(String, String)> = sent
        .iter()
        .filter(|(to, _, _)| to == ATTACKER)
        .map(|(_, path, contact)| (path.clone(), contact.clone()))
        .collect();
    for (path, _) in &mine {
        let (status, page) = answer(t, path, "confirm", victim, "").await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "a link mailed to the new address confirmed for {victim}: {page}"
        );
    }
    mine
}

fn consent_keys(request: &Value) -> Vec<String> {
    request["consents"]
        .as_object()
        .expect("consents")
        .keys()
        .cloned()
        .collect()
}

/// Same TLD: xa's admin gives xa-tech the attacker's address. xa-tech is asked at its address
/// on file, the new address confirms only that it reaches xa-tech, and both are needed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_details_need_the_old_and_the_new_address() {
    let relay = Relay::start().await;
    let t = TestDesk::start_with(smtp(relay.port)).await;
    let ticket = t
        .submit(json!({ "kind": "contacts",
            "tech": { "handle": "xa-tech", "name": "Tomas Tavares", "email": ATTACKER } }))
        .await;
    let request = t.wait_for(&ticket, "contact-confirmation").await;
    assert_eq!(
        consent_keys(&request),
        ["xa-admin", "xa-tech", "xa-tech+new-email"],
        "{request}"
    );
    let sent = links(&t, &relay, &ticket, 3).await;
    let old = sent
        .iter()
        .find(|(to, _, c)| to == TECH && c == "xa-tech")
        .expect("xa-tech asked at its address on file")
        .1
        .clone();
    let mine = attacker_cannot_confirm_for(&t, &sent, "xa-tech").await;
    assert_eq!(mine.len(), 1, "the new address confirms too: {sent:?}");
    assert_eq!(mine[0].1, "xa-tech+new-email", "{sent:?}");
    // The message to the new address says what it is asked, and that it is not the consent.
    let to_new = relay.wait_for_mail(ATTACKER, &ticket).await;
    assert!(
        to_new.body().contains("new e-mail address"),
        "{}",
        to_new.body()
    );
    let (_, page) = open(&t, &mine[0].0).await;
    assert!(page.contains("id=\"new-address\""), "{page}");

    // The new address confirms itself; the admin confirms; the contact on file has not.
    let (status, page) = answer(&t, &mine[0].0, "confirm", "xa-tech+new-email", "").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    t.ok(
        &t.tokens.admin,
        &format!("/v1/requests/{ticket}/confirm"),
        json!({}),
    )
    .await;
    let request = t.wait_for(&ticket, "contact-confirmation").await;
    assert_eq!(request["pending_consents"], json!(["xa-tech"]), "{request}");
    assert!(
        request["pending_consent_details"][0]
            .as_str()
            .is_some_and(|d| d.contains("xa-tech") && d.contains("on file")),
        "the status says which consent is outstanding: {request}"
    );
    let (status, body) = t
        .post(
            &t.tokens.staff,
            &format!("/v1/requests/{ticket}/approve"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // The contact at its old address agrees: then, and only then, the change goes on.
    let (status, page) = answer(&t, &old, "confirm", "xa-tech", "").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    t.wait_for(&ticket, "manual-review").await;
    t.stop().await;
}

/// The same with the consents the other way round: the contact on file agrees, the new
/// address never answers: the request waits for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_new_address_must_confirm_too() {
    let relay = Relay::start().await;
    let t = TestDesk::start_with(smtp(relay.port)).await;
    let ticket = t
        .submit(json!({ "kind": "contacts",
            "tech": { "handle": "xa-tech", "name": "Tomas Tavares", "email": "tomas@new.xa.example" } }))
        .await;
    t.wait_for(&ticket, "contact-confirmation").await;
    for token in [&t.tokens.admin, &t.tokens.tech] {
        t.ok(token, &format!("/v1/requests/{ticket}/confirm"), json!({}))
            .await;
    }
    let request = t.wait_for(&ticket, "contact-confirmation").await;
    assert_eq!(
        request["pending_consents"],
        json!(["xa-tech+new-email"]),
        "{request}"
    );
    let sent = links(&t, &relay, &ticket, 3).await;
    let (_, path, _) = sent
        .iter()
        .find(|(to, _, c)| to == "tomas@new.xa.example" && c == "xa-tech+new-email")
        .expect("the new address gets its own link");
    let (status, page) = answer(&t, path, "confirm", "xa-tech+new-email", "").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    t.wait_for(&ticket, "manual-review").await;
    t.stop().await;
}

/// Across TLDs: ndo-noc is the tech contact of xb and xc. xb's admin gives it the attacker's
/// address. The attacker's link cannot consent for ndo-noc; even when the change goes all the
/// way (ndo-noc agrees for xb), xc's record stays as it was, and xc's next request mails
/// ndo-noc at the address xc has on file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_contact_record_is_not_rewritten_by_one_tld() {
    let relay = Relay::start().await;
    let t = TestDesk::start_with(smtp(relay.port)).await;
    let created = t
        .ok(
            &t.tokens.other,
            "/v1/requests",
            json!({ "tld": "xb", "proposal": { "kind": "contacts",
                "tech": { "handle": "ndo-noc", "organisation": "Northern DNS Operations Ltd",
                          "name": "NDO NOC", "email": ATTACKER } } }),
        )
        .await;
    let ticket = created["ticket"].as_str().expect("ticket").to_string();
    assert_eq!(
        consent_keys(&created),
        ["ndo-noc", "ndo-noc+new-email", "xb-admin"],
        "{created}"
    );
    let sent = links(&t, &relay, &ticket, 3).await;
    let old = sent
        .iter()
        .find(|(to, _, c)| to == NDO_NOC && c == "ndo-noc")
        .expect("ndo-noc asked at its address on file")
        .1
        .clone();
    let mine = attacker_cannot_confirm_for(&t, &sent, "ndo-noc").await;
    assert_eq!(mine.len(), 1, "{sent:?}");
    let (status, page) = answer(&t, &mine[0].0, "confirm", "ndo-noc+new-email", "").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    t.ok(
        &t.tokens.other,
        &format!("/v1/requests/{ticket}/confirm"),
        json!({}),
    )
    .await;
    let request = t.wait_for(&ticket, "contact-confirmation").await;
    assert_eq!(request["pending_consents"], json!(["ndo-noc"]), "{request}");
    let (status, body) = t
        .post(
            &t.tokens.staff,
            &format!("/v1/requests/{ticket}/approve"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // ndo-noc agrees for xb, and the change is implemented for xb.
    let (status, page) = answer(&t, &old, "confirm", "ndo-noc", "").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    t.wait_for(&ticket, "manual-review").await;
    t.ok(
        &t.tokens.staff,
        &format!("/v1/requests/{ticket}/approve"),
        json!({ "note": "ok" }),
    )
    .await;
    t.wait_for(&ticket, "implementation").await;
    let done = t
        .ok(
            &t.tokens.staff,
            &format!("/v1/requests/{ticket}/implement"),
            json!({}),
        )
        .await;
    assert_eq!(done["state"], "completed", "{done}");
    let tld = |label: &'static str| {
        let t = &t;
        async move {
            t.call(
                reqwest::Method::GET,
                Some(&t.tokens.staff),
                &format!("/v1/tlds/{label}"),
                None,
            )
            .await
            .1
        }
    };
    let xb = tld("xb").await;
    assert_eq!(
        xb["tech"]["email"], ATTACKER,
        "xb's own record changed: {xb}"
    );
    let xc = tld("xc").await;
    assert_eq!(xc["tech"]["handle"], "ndo-noc", "{xc}");
    assert_eq!(
        xc["tech"]["email"], NDO_NOC,
        "xc's record was rewritten by xb: {xc}"
    );

    // xc's next request asks ndo-noc at the address xc has on file, never the attacker.
    let next = t
        .ok(
            &t.tokens.staff,
            "/v1/requests",
            json!({ "tld": "xc", "proposal": { "kind": "sponsor", "sponsor": "Corvina NIC" } }),
        )
        .await;
    let next = next["ticket"].as_str().expect("ticket").to_string();
    let sent = links(&t, &relay, &next, 2).await;
    assert!(
        sent.iter()
            .any(|(to, _, c)| to == NDO_NOC && c == "ndo-noc"),
        "{sent:?}"
    );
    assert!(sent.iter().all(|(to, _, _)| to != ATTACKER), "{sent:?}");
    t.stop().await;
}

/// Across TLDs the other way: xa's admin names ndo-noc (a contact of xb and xc, not of xa) as
/// xa's tech contact at the attacker's address. ndo-noc is asked at its address on file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handle_of_another_tld_is_asked_at_its_address_on_file() {
    let relay = Relay::start().await;
    let t = TestDesk::start_with(smtp(relay.port)).await;
    let ticket = t
        .submit(json!({ "kind": "contacts",
            "tech": { "handle": "ndo-noc", "name": "NDO NOC", "email": ATTACKER } }))
        .await;
    let request = t.wait_for(&ticket, "contact-confirmation").await;
    assert_eq!(
        consent_keys(&request),
        ["ndo-noc", "ndo-noc+new-email", "xa-admin", "xa-tech"],
        "{request}"
    );
    let sent = links(&t, &relay, &ticket, 4).await;
    assert!(
        sent.iter()
            .any(|(to, _, c)| to == NDO_NOC && c == "ndo-noc"),
        "{sent:?}"
    );
    let mine = attacker_cannot_confirm_for(&t, &sent, "ndo-noc").await;
    assert_eq!(mine.len(), 1, "{sent:?}");
    assert_eq!(mine[0].1, "ndo-noc+new-email");
    t.stop().await;
}

/// Once a changed address is implemented, the old address is told too: the person who had
/// the role learns that its mail now goes elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_old_address_is_told_of_the_completed_change() {
    let relay = Relay::start().await;
    let t = TestDesk::start_with(smtp(relay.port)).await;
    let new = "tomas@new.xa.example";
    let ticket = t
        .submit(json!({ "kind": "contacts",
            "tech": { "handle": "xa-tech", "name": "Tomas Tavares", "email": new } }))
        .await;
    t.wait_for(&ticket, "contact-confirmation").await;
    for token in [&t.tokens.admin, &t.tokens.tech] {
        t.ok(token, &format!("/v1/requests/{ticket}/confirm"), json!({}))
            .await;
    }
    let sent = links(&t, &relay, &ticket, 3).await;
    let (_, path, _) = sent
        .iter()
        .find(|(to, _, c)| to == new && c == "xa-tech+new-email")
        .expect("the new address's link");
    answer(&t, path, "confirm", "xa-tech+new-email", "").await;
    t.wait_for(&ticket, "manual-review").await;
    t.ok(
        &t.tokens.staff,
        &format!("/v1/requests/{ticket}/approve"),
        json!({ "note": "ok" }),
    )
    .await;
    t.wait_for(&ticket, "implementation").await;
    t.ok(
        &t.tokens.staff,
        &format!("/v1/requests/{ticket}/implement"),
        json!({}),
    )
    .await;
    for to in [TECH, new] {
        let mail = relay
            .wait_for_mail(to, &format!("{ticket}] .xa contacts change: completed"))
            .await;
        assert!(mail.body().contains(new), "{}", mail.body());
    }
    t.stop().await;
}

//! Links that must not work: used by the wrong contact, used twice, of an older revision,
//! expired, unknown. Each is refused with a clear page and an audit event, and changes
//! nothing.

use serde_json::json;

use super::smtp::Relay;
use super::*;
use crate::daemon::{delegation, healthy, NS1, NS2};

/// The refusal events so far, as (reason, link) pairs.
fn refusals(t: &TestDesk) -> Vec<(String, String)> {
    events(t, "confirmation-link-refused")
        .into_iter()
        .map(|e| {
            (
                e.payload["reason"].as_str().unwrap_or_default().to_string(),
                e.payload["link"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn assert_refused(status: StatusCode, page: &str, code: StatusCode, reason: &str, says: &str) {
    assert_eq!(status, code, "{page}");
    assert!(
        page.contains(&format!("data-reason=\"{reason}\"")),
        "{reason}: {page}"
    );
    assert!(page.contains(says), "{says:?} missing: {page}");
    assert!(page.contains("Nothing was changed"), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_contact_reused_and_unknown_links_are_refused() {
    let relay = Relay::start().await;
    let t = TestDesk::start_with(smtp(relay.port)).await;
    let ticket = t.submit(healthy()).await;
    let (admin_link, tech_link) = contact_links(&relay, 0).await;

    // The admin's link posted for the tech contact: refused, nobody consents.
    let (status, page) = answer(&t, &admin_link, "confirm", "xa-tech", "").await;
    assert_refused(
        status,
        &page,
        StatusCode::FORBIDDEN,
        "wrong-contact",
        "another contact",
    );
    let request = t.wait_for(&ticket, "contact-confirmation").await;
    assert_eq!(request["consents"]["xa-tech"], false, "{request}");
    assert_eq!(request["consents"]["xa-admin"], false, "{request}");

    // Used once, then refused.
    let (status, page) = answer(&t, &admin_link, "confirm", "xa-admin", "").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let (status, page) = answer(&t, &admin_link, "confirm", "xa-admin", "").await;
    assert_refused(status, &page, StatusCode::GONE, "used", "used already");
    let (status, page) = open(&t, &admin_link).await;
    assert_refused(status, &page, StatusCode::GONE, "used", "used already");

    // A made-up secret: refused and logged, but no event (it names no request).
    let (status, page) = open(&t, "/confirm/not-a-real-secret").await;
    assert_refused(status, &page, StatusCode::NOT_FOUND, "unknown", "not known");

    let reasons: Vec<String> = refusals(&t).into_iter().map(|(r, _)| r).collect();
    assert_eq!(reasons, ["wrong-contact", "used", "used"], "{reasons:?}");
    let wrong = &events(&t, "confirmation-link-refused")[0];
    assert_eq!(wrong.request.as_deref(), Some(ticket.as_str()));
    assert_eq!(wrong.tld.as_deref(), Some("xa"));
    assert_eq!(wrong.actor.contact.as_deref(), Some("xa-admin"));

    // A decline through the tech contact's link ends the request, as through the API.
    let (status, page) = answer(&t, &tech_link, "decline", "xa-tech", "not our servers").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("decline is recorded"), "{page}");
    let declined = t.wait_for(&ticket, "declined").await;
    let reason = declined["history"]
        .as_array()
        .expect("history")
        .iter()
        .find_map(|h| h["event"]["reason"].as_str())
        .map(str::to_string);
    assert_eq!(reason.as_deref(), Some("not our servers"), "{declined}");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_amendment_invalidates_older_links() {
    let relay = Relay::start().await;
    let t = TestDesk::start_with(smtp(relay.port)).await;
    let ticket = t.submit(healthy()).await;
    let (old_admin, _) = contact_links(&relay, 0).await;
    let seen = relay.mails().len();

    // Revision 2: the same servers, the other order of entry; checked, then asked again.
    t.ok(
        &t.tokens.admin,
        &format!("/v1/requests/{ticket}/amend"),
        json!({ "proposal": delegation(&[("ns2.nic.xa", NS2), ("ns1.nic.xa", NS1)]) }),
    )
    .await;
    let (new_admin, _) = contact_links(&relay, seen).await;
    let request = t.wait_for(&ticket, "contact-confirmation").await;
    assert_eq!(request["revisions"].as_array().expect("revisions").len(), 2);

    let (status, page) = answer(&t, &old_admin, "confirm", "xa-admin", "").await;
    assert_refused(
        status,
        &page,
        StatusCode::GONE,
        "older-revision",
        "older revision",
    );
    let (status, page) = open(&t, &old_admin).await;
    assert_refused(
        status,
        &page,
        StatusCode::GONE,
        "older-revision",
        "older revision",
    );
    let request = t.wait_for(&ticket, "contact-confirmation").await;
    assert_eq!(request["consents"]["xa-admin"], false, "{request}");

    // The new link works.
    let (status, page) = answer(&t, &new_admin, "confirm", "xa-admin", "").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let request = t.wait_for(&ticket, "contact-confirmation").await;
    assert_eq!(request["consents"]["xa-admin"], true, "{request}");
    let reasons: Vec<String> = refusals(&t).into_iter().map(|(r, _)| r).collect();
    assert_eq!(reasons, ["older-revision", "older-revision"]);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_expires_with_the_request() {
    let relay = Relay::start().await;
    let t = TestDesk::start_with(smtp(relay.port)).await;
    let ticket = t.submit(healthy()).await;
    let (admin_link, _) = contact_links(&relay, 0).await;
    let asked = t.wait_for(&ticket, "contact-confirmation").await;
    let since = time::OffsetDateTime::parse(
        asked["state_since"].as_str().expect("state_since"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("time");
    // Just before the limit the link still opens; at the limit it is refused, even though
    // no sweep has expired the request yet.
    t.desk
        .clock
        .set(since + time::Duration::days(30) - time::Duration::minutes(1));
    let (status, page) = open(&t, &admin_link).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    t.desk.clock.set(since + time::Duration::days(30));
    let (status, page) = answer(&t, &admin_link, "confirm", "xa-admin", "").await;
    assert_refused(status, &page, StatusCode::GONE, "expired", "expired");
    let request = t.wait_for(&ticket, "contact-confirmation").await;
    assert_eq!(request["consents"]["xa-admin"], false, "{request}");
    let refused = events(&t, "confirmation-link-refused");
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].payload["reason"], "expired");
    assert!(refused[0].actor.id.starts_with("lnk-"));
    t.stop().await;
}

/// A page whose address carries a single-use secret is never cached and never leaks its
/// address to another site, whether the link works or not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_pages_are_not_stored_and_send_no_referrer() {
    let relay = Relay::start().await;
    let t = TestDesk::start_with(smtp(relay.port)).await;
    t.submit(healthy()).await;
    let (admin_link, _) = contact_links(&relay, 0).await;
    for path in [admin_link.as_str(), "/confirm/not-a-real-secret"] {
        for method in [reqwest::Method::GET, reqwest::Method::POST] {
            let response = crate::daemon::http()
                .request(method.clone(), format!("{}{path}", t.base))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("decision=decline&contact=xa-tech&reason=")
                .send()
                .await
                .expect("request");
            let headers = response.headers();
            assert_eq!(
                headers.get("cache-control").map(|v| v.as_bytes()),
                Some(&b"no-store"[..]),
                "{method} {path}"
            );
            assert_eq!(
                headers.get("referrer-policy").map(|v| v.as_bytes()),
                Some(&b"no-referrer"[..]),
                "{method} {path}"
            );
            // The portal's strict policy: nothing inline, nothing from elsewhere.
            assert_eq!(
                headers
                    .get("content-security-policy")
                    .and_then(|v| v.to_str().ok()),
                Some(rootdesk::portal::CSP),
                "{method} {path}"
            );
        }
    }
}

/// Every row of the tables a command writes (the outbox's delivery columns change on their
/// own as the sender works, so the outbox is compared by its rows' ids).
fn command_tables(t: &TestDesk) -> String {
    t.desk
        .read_store(|s| {
            let conn = s.conn();
            let mut out = String::new();
            for (table, order) in [
                ("events", "seq"),
                ("requests", "ticket"),
                ("confirm_links", "id"),
                ("check_jobs", "id"),
                ("tlds", "label"),
            ] {
                let mut stmt = conn
                    .prepare(&format!("SELECT * FROM {table} ORDER BY {order}"))
                    .expect("select");
                let columns = stmt.column_count();
                let mut rows = stmt.query([]).expect("rows");
                while let Some(row) = rows.next().expect("row") {
                    out.push_str(table);
                    for i in 0..columns {
                        let value: rusqlite::types::Value = row.get(i).expect("value");
                        out.push_str(&format!(" {value:?}"));
                    }
                    out.push('\n');
                }
            }
            let ids: Vec<i64> = conn
                .prepare("SELECT id FROM outbox ORDER BY id")
                .expect("outbox")
                .query_map([], |r| r.get(0))
                .expect("ids")
                .collect::<Result<_, _>>()
                .expect("ids");
            out.push_str(&format!("outbox {ids:?}\n"));
            Ok(out)
        })
        .expect("dump")
}

/// A link whose command the workflow refuses (a decline without a reason) acts in one
/// transaction with its claim: the database is as it was, and the link still works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_link_leaves_the_database_as_it_was() {
    let relay = Relay::start().await;
    let t = TestDesk::start_with(smtp(relay.port)).await;
    let ticket = t.submit(healthy()).await;
    let (admin_link, _) = contact_links(&relay, 0).await;
    // The sender records each delivery: wait until it is done with both messages.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while events(&t, "notification-delivered").len() < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the messages were not delivered"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let before = command_tables(&t);
    let (status, page) = answer(&t, &admin_link, "decline", "xa-admin", "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert!(page.contains("not recorded"), "{page}");
    assert_eq!(
        command_tables(&t),
        before,
        "a refused link command changed the database"
    );
    // Not claimed: the same link confirms afterwards.
    let (status, page) = answer(&t, &admin_link, "confirm", "xa-admin", "").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let request = t.wait_for(&ticket, "contact-confirmation").await;
    assert_eq!(request["consents"]["xa-admin"], json!(true), "{request}");
}

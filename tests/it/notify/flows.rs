//! Whole requests with the mail: from submission to completion with the contacts acting only
//! through the e-mailed links; emergencies; reminders and expiry.

use serde_json::json;

use super::smtp::Relay;
use super::*;
use crate::daemon::healthy;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_act_only_through_the_emailed_links() {
    let relay = Relay::start().await;
    let t = TestDesk::start_with(smtp(relay.port)).await;
    let ticket = t.submit(healthy()).await;

    // Both contacts are asked, each with a link of their own, and told what changes.
    let to_admin = relay.wait_for_mail(ADMIN, "your consent is needed").await;
    let to_tech = relay.wait_for_mail(TECH, "your consent is needed").await;
    for mail in [&to_admin, &to_tech] {
        assert_eq!(mail.from, "rootdesk@desk.example");
        assert_eq!(mail.to.len(), 1, "one recipient a message: {mail:?}");
        let subject = mail.header("Subject").expect("subject");
        assert!(
            subject.contains(&ticket) && subject.contains(".xa"),
            "{subject}"
        );
        let body = mail.body();
        for part in [
            format!("Ticket:   {ticket}"),
            "TLD:      .xa".to_string(),
            "What changes:".to_string(),
            // The demo delegation has ns2.nic.xa at 198.51.100.1; the proposal moves it.
            "-A ns2.nic.xa 198.51.100.1".to_string(),
            "+A ns2.nic.xa 127.0.0.22".to_string(),
            "What you must do:".to_string(),
            "By:".to_string(),
            // DS digests make long lines: quoted-printable, decoded like a mail client does.
            "-DS 12345 13 2 3490A6806D47F17A34C29E2CE80E8A999FFBE4BE42AE1AA0E5A6A1A9B5B7C6D0"
                .to_string(),
        ] {
            assert!(body.contains(&part), "{part:?} missing from {body}");
        }
        let message_id = mail.header("Message-ID").expect("message id");
        assert!(message_id.starts_with("<rootdesk-outbox-"), "{message_id}");
    }
    assert!(to_admin.body().contains("(xa-admin)"));
    assert!(to_tech.body().contains("(xa-tech)"));
    let (admin_link, tech_link) = (link_of(&to_admin), link_of(&to_tech));
    assert_ne!(admin_link, tech_link);

    // Opening shows the change and changes nothing.
    let (status, page) = open(&t, &admin_link).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("+A ns2.nic.xa 127.0.0.22") && page.contains("xa-admin"),
        "{page}"
    );
    assert_eq!(
        t.wait_for(&ticket, "contact-confirmation").await["consents"]["xa-admin"],
        false
    );

    let (status, page) = answer(&t, &admin_link, "confirm", "xa-admin", "").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("consent is recorded"), "{page}");
    let (status, page) = answer(&t, &tech_link, "confirm", "xa-tech", "").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("manual-review"), "{page}");

    // Staff are told to review; they approve and implement through the API.
    let review = relay.wait_for_mail(STAFF, "ready for review").await;
    assert!(review
        .body()
        .contains(&format!("{PUBLIC}/v1/requests/{ticket}")));
    t.ok(
        &t.tokens.staff,
        &format!("/v1/requests/{ticket}/approve"),
        json!({ "note": "fine" }),
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
    assert_eq!(done["state"], "completed");
    let serial = done["serial"].as_u64().expect("serial");
    for to in [ADMIN, TECH] {
        let mail = relay.wait_for_mail(to, "completed").await;
        assert!(
            mail.body().contains(&format!("root zone serial {serial}")),
            "{}",
            mail.body()
        );
    }

    // The consents are the API's events, by the links; every message's delivery is recorded.
    let confirmed = events(&t, "request-confirmed");
    assert_eq!(confirmed.len(), 2);
    for e in &confirmed {
        assert!(e.actor.id.starts_with("lnk-"), "{:?}", e.actor);
        assert_eq!(e.actor.role.as_deref(), Some("contact"));
    }
    let rows = wait_delivered(&t).await;
    let delivered = events(&t, "notification-delivered");
    assert_eq!(delivered.len(), rows.len());
    assert_eq!(relay.mails().len(), rows.len());
    // Delivered bodies keep no link secret.
    assert!(rows.iter().all(|n| !n.body.contains(&admin_link)));
    let store = rootdesk::store::Store::open(&t.dir.path().join("rootdesk.db")).expect("open");
    let report = rootdesk::store::verify_store(&store, &[]).expect("verify");
    assert!(report.ok(), "{report:?}");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emergency_is_raised_at_once() {
    let relay = Relay::start().await;
    let t = TestDesk::start_with(smtp(relay.port)).await;
    let created = t
        .ok(
            &t.tokens.admin,
            "/v1/requests",
            json!({
                "tld": "xa",
                "priority": "emergency",
                "emergency_reason": "ns1.nic.xa is compromised",
                "proposal": healthy(),
            }),
        )
        .await;
    let ticket = created["ticket"].as_str().expect("ticket");
    let mail = relay.wait_for_mail(EMERGENCY, "EMERGENCY").await;
    let body = mail.body();
    assert!(body.contains(ticket), "{body}");
    assert!(body.contains("ns1.nic.xa is compromised"), "{body}");
    assert!(body.contains("contact xa-admin"), "{body}");
    let queued = outbox(&t)
        .into_iter()
        .find(|n| n.kind == "emergency")
        .expect("emergency row");
    assert_eq!(queued.ticket.as_deref(), Some(ticket));
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_and_expiry_are_notified() {
    let relay = Relay::start().await;
    let t = TestDesk::start_with(smtp(relay.port)).await;
    let ticket = t.submit(healthy()).await;
    let asked = t.wait_for(&ticket, "contact-confirmation").await;
    let (first_admin, _) = contact_links(&relay, 0).await;
    let since = time::OffsetDateTime::parse(
        asked["state_since"].as_str().expect("state_since"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("time");

    let sweep_at = |days: i64| {
        t.desk
            .clock
            .set(since + time::Duration::days(days) + time::Duration::hours(1));
        let desk = t.desk.clone();
        async move {
            tokio::task::spawn_blocking(move || desk.sweep())
                .await
                .expect("join")
                .expect("sweep")
        }
    };
    for days in [7, 21] {
        let before = relay.mails().len();
        let acted = sweep_at(days).await;
        assert_eq!(acted.len(), 1, "{acted:?}");
        let what = format!("reminder after {days} days");
        let to_admin = relay.wait_for_mail(ADMIN, &what).await;
        relay.wait_for_mail(TECH, &what).await;
        // A reminder carries a fresh link that works, and says by when.
        let link = link_of(&to_admin);
        assert_ne!(link, first_admin);
        assert!(to_admin.body().contains("By:"));
        let (status, page) = open(&t, &link).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(relay.mails().len() >= before + 2);
    }
    let acted = sweep_at(30).await;
    assert_eq!(acted.len(), 1, "{acted:?}");
    for to in [ADMIN, TECH] {
        let mail = relay.wait_for_mail(to, "expired").await;
        assert!(mail.body().contains("30 days"), "{}", mail.body());
    }
    let kinds: Vec<String> = outbox(&t).into_iter().map(|n| n.kind).collect();
    assert_eq!(
        kinds.iter().filter(|k| *k == "reminder").count(),
        4,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| *k == "expired").count(),
        2,
        "{kinds:?}"
    );
    t.stop().await;
}

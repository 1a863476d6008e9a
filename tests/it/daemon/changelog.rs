//! The public change log: requests driven through the real workflow over HTTP to each final
//! state, then read back from `GET /v1/changelog` (JSON and CSV) and `rootdesk changelog`,
//! with no personal data anywhere in it.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::*;

/// Personal data that the requests below carry in proposals and free text.
const PERSONAL: [&str; 9] = [
    "Ana Alves",
    "admin@nic.xa.example",
    "+999 100 0001",
    "Tomas Tavares",
    "tech@nic.xa.example",
    "+999 555 1234",
    "Call Ana",
    "ops-person@example.net",
    "changed our minds",
];

async fn confirm_both(t: &TestDesk, ticket: &str) {
    for token in [&t.tokens.admin, &t.tokens.tech] {
        t.ok(token, &format!("/v1/requests/{ticket}/confirm"), json!({}))
            .await;
    }
}

/// GET without a token: status, content type, body text.
async fn public_get(
    t: &TestDesk,
    path: &str,
    accept: Option<&str>,
) -> (StatusCode, String, String) {
    let mut request = t.http.get(format!("{}{path}", t.base));
    if let Some(accept) = accept {
        request = request.header(reqwest::header::ACCEPT, accept);
    }
    let response = request.send().await.expect("HTTP");
    let status = response.status();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (status, content_type, response.text().await.expect("body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changelog_reports_final_requests_without_personal_data() {
    let t = TestDesk::start().await;
    let mut finals: BTreeMap<String, Value> = BTreeMap::new();

    // Declined by a contact, with personal data in the reason.
    let ticket = t.submit(healthy()).await;
    t.wait_for(&ticket, "contact-confirmation").await;
    let v = t
        .ok(
            &t.tokens.tech,
            &format!("/v1/requests/{ticket}/decline"),
            json!({ "reason": "Call Ana Alves on +999 100 0001" }),
        )
        .await;
    finals.insert(ticket, v);

    // Rejected by staff after a question and an answer.
    let ticket = t.submit(healthy()).await;
    t.wait_for(&ticket, "contact-confirmation").await;
    confirm_both(&t, &ticket).await;
    t.ok(
        &t.tokens.staff,
        &format!("/v1/requests/{ticket}/ask"),
        json!({ "question": "Who is ops-person@example.net?" }),
    )
    .await;
    t.ok(
        &t.tokens.admin,
        &format!("/v1/requests/{ticket}/answer"),
        json!({ "answer": "Tomas Tavares, our engineer" }),
    )
    .await;
    let v = t
        .ok(
            &t.tokens.staff,
            &format!("/v1/requests/{ticket}/reject"),
            json!({ "reason": "ask ops-person@example.net first" }),
        )
        .await;
    finals.insert(ticket, v);

    // Withdrawn by the submitter.
    let ticket = t.submit(healthy()).await;
    let v = t
        .ok(
            &t.tokens.admin,
            &format!("/v1/requests/{ticket}/withdraw"),
            json!({ "reason": "changed our minds" }),
        )
        .await;
    finals.insert(ticket, v);

    // A delegation change, completed and published.
    let delegation_ticket = t.submit(healthy()).await;
    t.wait_for(&delegation_ticket, "contact-confirmation").await;
    confirm_both(&t, &delegation_ticket).await;
    t.ok(
        &t.tokens.staff,
        &format!("/v1/requests/{delegation_ticket}/approve"),
        json!({ "note": "fine" }),
    )
    .await;
    t.wait_for(&delegation_ticket, "implementation").await;
    let done = t
        .ok(
            &t.tokens.staff,
            &format!("/v1/requests/{delegation_ticket}/implement"),
            json!({}),
        )
        .await;
    assert_eq!(done["state"], "completed");
    let serial = done["serial"].as_u64().expect("serial");
    finals.insert(delegation_ticket.clone(), done);

    // A contacts change, completed: its personal details must not reach the log.
    let contacts_ticket = t
        .submit(json!({ "kind": "contacts", "tech": {
            "handle": "xa-tech", "name": "Tomas Tavares",
            "email": "tech@nic.xa.example", "phone": "+999 555 1234" } }))
        .await;
    confirm_both(&t, &contacts_ticket).await;
    t.ok(
        &t.tokens.staff,
        &format!("/v1/requests/{contacts_ticket}/approve"),
        json!({}),
    )
    .await;
    let v = t
        .ok(
            &t.tokens.staff,
            &format!("/v1/requests/{contacts_ticket}/implement"),
            json!({}),
        )
        .await;
    assert_eq!(v["state"], "completed", "{v}");
    finals.insert(contacts_ticket.clone(), v);

    // Left with the TLD until it expires (the desk's clock moves 31 days on).
    let expired_ticket = t.submit(broken()).await;
    t.wait_for(&expired_ticket, "awaiting-fix").await;
    t.desk.clock.advance(time::Duration::days(31));
    t.desk.sweep().expect("sweep");
    let (_, v) = t
        .get(&t.tokens.staff, &format!("/v1/requests/{expired_ticket}"))
        .await;
    assert_eq!(v["state"], "expired", "{v}");
    finals.insert(expired_ticket.clone(), v);

    // Still open: never in the log.
    let open_ticket = t
        .submit(json!({ "kind": "sponsor", "sponsor": "Aldoria NIC Foundation" }))
        .await;

    // Every month a request closed in, read without a token.
    let months: BTreeSet<String> = finals
        .values()
        .map(|v| v["state_since"].as_str().expect("state_since")[..7].to_string())
        .collect();
    let mut entries: BTreeMap<String, Value> = BTreeMap::new();
    let mut texts = String::new();
    for month in &months {
        let (status, content_type, text) =
            public_get(&t, &format!("/v1/changelog?month={month}"), None).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        assert!(
            content_type.starts_with("application/json"),
            "{content_type}"
        );
        let log: Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(log["month"], month.as_str());
        for entry in log["requests"].as_array().expect("requests") {
            let ticket = entry["ticket"].as_str().expect("ticket").to_string();
            assert!(
                entries.insert(ticket, entry.clone()).is_none(),
                "twice: {entry}"
            );
        }
        texts.push_str(&text);

        // CSV by parameter and by Accept, the same rows.
        let (status, content_type, csv) =
            public_get(&t, &format!("/v1/changelog?month={month}&format=csv"), None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(content_type.starts_with("text/csv"), "{content_type}");
        let (_, accept_type, by_accept) = public_get(
            &t,
            &format!("/v1/changelog?month={month}"),
            Some("text/csv, application/json;q=0.5"),
        )
        .await;
        assert!(accept_type.starts_with("text/csv"), "{accept_type}");
        assert_eq!(csv, by_accept);
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let header: Vec<String> = reader
            .headers()
            .expect("header")
            .iter()
            .map(String::from)
            .collect();
        assert_eq!(header, rootdesk::changelog::CSV_HEADER);
        let rows = reader.records().count();
        assert_eq!(rows, log["requests"].as_array().map_or(0, Vec::len));
        texts.push_str(&csv);

        // The CLI on the same database says the same.
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rootdesk"))
            .arg("--db")
            .arg(t.dir.path().join("rootdesk.db"))
            .args(["changelog", "--month", month, "--format", "json"])
            .env_remove("ROOTDESK_CONFIG")
            .output()
            .expect("run rootdesk");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let cli: Value = serde_json::from_slice(&out.stdout).expect("CLI JSON");
        assert_eq!(cli, log);
        for format in ["csv", "table"] {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_rootdesk"))
                .arg("--db")
                .arg(t.dir.path().join("rootdesk.db"))
                .args(["changelog", "--month", month, "--format", format])
                .env_remove("ROOTDESK_CONFIG")
                .output()
                .expect("run rootdesk");
            assert!(out.status.success());
            let text = String::from_utf8(out.stdout).expect("UTF-8");
            if format == "csv" {
                assert_eq!(text, csv);
            } else {
                for entry in log["requests"].as_array().expect("requests") {
                    assert!(
                        text.contains(entry["ticket"].as_str().unwrap_or("?")),
                        "{text}"
                    );
                }
            }
            texts.push_str(&text);
        }
    }

    // Exactly the final requests, each as it ended.
    let logged: BTreeSet<&String> = entries.keys().collect();
    let expected: BTreeSet<&String> = finals.keys().collect();
    assert_eq!(logged, expected);
    assert!(!entries.contains_key(&open_ticket));
    for (ticket, request) in &finals {
        let entry = &entries[ticket];
        assert_eq!(entry["tld"], "xa");
        assert_eq!(entry["u_label"], "xa");
        assert_eq!(entry["status"], request["state"], "{entry}");
        assert_eq!(entry["kind"], request["kind"], "{entry}");
        assert_eq!(
            entry["submitted"],
            request["submitted_at"].as_str().expect("submitted_at")[..10]
        );
        assert_eq!(
            entry["closed"],
            request["state_since"].as_str().expect("state_since")[..10]
        );
        assert!(
            entry["summary"]
                .as_str()
                .is_some_and(|s| !s.is_empty() && !s.contains('\n')),
            "{entry}"
        );
    }
    let statuses: BTreeSet<&str> = entries
        .values()
        .filter_map(|e| e["status"].as_str())
        .collect();
    assert_eq!(
        statuses,
        ["completed", "declined", "expired", "rejected", "withdrawn"].into()
    );
    let published = &entries[&delegation_ticket];
    assert_eq!(published["serial"], serial);
    let summary = published["summary"].as_str().unwrap_or("");
    assert!(
        summary.contains("+ns2.nic.xa 127.0.0.22") && summary.contains("-ns2.nic.xa 198.51.100.1"),
        "{summary}"
    );
    assert_eq!(
        entries[&contacts_ticket]["summary"],
        "technical contact updated"
    );
    assert!(
        entries[&expired_ticket]["summary"]
            .as_str()
            .is_some_and(|s| s.starts_with("proposed delegation NS ns1.nic.xa, ns3.nic.xa")),
        "{}",
        entries[&expired_ticket]
    );

    // No personal data in any output.
    for personal in PERSONAL {
        assert!(
            !texts.contains(personal),
            "{personal:?} in the change log: {texts}"
        );
    }
    assert!(
        !texts.contains('@'),
        "an e-mail address in the change log: {texts}"
    );

    // A month with nothing in it is an empty log, not an error.
    let (status, _, text) = public_get(&t, "/v1/changelog?month=1999-01", None).await;
    assert_eq!(status, StatusCode::OK);
    let log: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(log["requests"], json!([]));
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changelog_refuses_bad_months_and_formats() {
    let t = TestDesk::start().await;
    for query in [
        "",
        "?month=",
        "?month=2026-13",
        "?month=2026-00",
        "?month=2026-1",
        "?month=2026/11",
        "?month=2026-11-01",
        "?month=november",
        "?month=%00",
    ] {
        let (status, _, text) = public_get(&t, &format!("/v1/changelog{query}"), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {text}");
        let body: Value = serde_json::from_str(&text).expect("JSON error");
        assert_eq!(body["error"], "input-invalid", "{query}: {body}");
        assert_eq!(body["field"], "month", "{query}: {body}");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains("YYYY-MM")),
            "{query}: {body}"
        );
    }
    for query in ["?month=2026-11&format=xml", "?month=2026-11&tld=xa"] {
        let (status, _, text) = public_get(&t, &format!("/v1/changelog{query}"), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {text}");
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rootdesk"))
        .arg("--db")
        .arg(t.dir.path().join("rootdesk.db"))
        .args(["changelog", "--month", "2026-13"])
        .env_remove("ROOTDESK_CONFIG")
        .output()
        .expect("run rootdesk");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("YYYY-MM"));
    t.stop().await;
}

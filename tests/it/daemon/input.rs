//! Bad input for every body field: 400 (or 404/413) with a precise message; nothing written.

use reqwest::StatusCode;
use serde_json::json;

use super::*;

async fn event_count(t: &TestDesk) -> usize {
    let (_, events) = t.get(&t.tokens.auditor, "/v1/audit?limit=10000").await;
    events["events"].as_array().map(Vec::len).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_submissions_are_refused_precisely_and_change_nothing() {
    let t = TestDesk::start().await;
    let good = json!({ "tld": "xa", "proposal": healthy() });
    let with = |path: &[&str], value: Value| {
        let mut body = good.clone();
        let mut node = &mut body;
        for key in &path[..path.len() - 1] {
            node = match key.parse::<usize>() {
                Ok(i) => &mut node[i],
                Err(_) => &mut node[*key],
            };
        }
        node[path[path.len() - 1]] = value;
        body
    };
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            with(&["colour"], json!("red")),
            StatusCode::BAD_REQUEST,
            "unknown field `colour`",
        ),
        (
            with(&["tld"], json!("x-a")),
            StatusCode::BAD_REQUEST,
            "letters only",
        ),
        (with(&["tld"], json!("zz")), StatusCode::NOT_FOUND, "TLD zz"),
        (
            with(&["tld"], json!(7)),
            StatusCode::BAD_REQUEST,
            "invalid type",
        ),
        (
            with(&["priority"], json!("urgent")),
            StatusCode::BAD_REQUEST,
            "unknown variant `urgent`",
        ),
        (
            with(&["emergency_reason"], json!("x")),
            StatusCode::BAD_REQUEST,
            "only an emergency",
        ),
        (
            with(&["proposal", "kind"], json!("redelegation")),
            StatusCode::BAD_REQUEST,
            "unknown variant `redelegation`",
        ),
        (
            with(&["proposal", "extra"], json!(1)),
            StatusCode::BAD_REQUEST,
            "unknown field `extra`",
        ),
        (
            with(&["proposal", "delegation", "nameservers"], json!([])),
            StatusCode::BAD_REQUEST,
            "needs name servers",
        ),
        (
            with(
                &["proposal", "delegation", "nameservers", "0", "name"],
                json!("ns1..xa"),
            ),
            StatusCode::BAD_REQUEST,
            "invalid host name",
        ),
        (
            with(
                &["proposal", "delegation", "nameservers", "0", "name"],
                json!("ns_1.nic.xa"),
            ),
            StatusCode::BAD_REQUEST,
            "RFC 1123",
        ),
        (
            with(
                &["proposal", "delegation", "nameservers", "0", "addresses"],
                json!(["300.1.1.1"]),
            ),
            StatusCode::BAD_REQUEST,
            "invalid IP address",
        ),
        (
            with(
                &["proposal", "delegation", "nameservers", "0", "ttl"],
                json!(5),
            ),
            StatusCode::BAD_REQUEST,
            "unknown field `ttl`",
        ),
        (
            with(
                &["proposal", "delegation", "nameservers", "1", "name"],
                json!("ns1.nic.xa"),
            ),
            StatusCode::BAD_REQUEST,
            "listed twice",
        ),
        (
            with(
                &["proposal", "delegation", "ds"],
                json!([{ "key_tag": 1, "algorithm": 13, "digest_type": 2, "digest": "ABCD" }]),
            ),
            StatusCode::BAD_REQUEST,
            "32-octet digest",
        ),
        (
            with(
                &["proposal", "delegation", "ds"],
                json!([{ "key_tag": 70000, "algorithm": 13, "digest_type": 2, "digest": "AB" }]),
            ),
            StatusCode::BAD_REQUEST,
            "key_tag",
        ),
        (
            with(
                &["proposal", "delegation", "ds"],
                json!([{ "key_tag": 1, "algorithm": 13, "digest_type": 2, "digest": "XYZ" }]),
            ),
            StatusCode::BAD_REQUEST,
            "not hexadecimal",
        ),
        (
            json!({ "tld": "xa", "proposal": { "kind": "contacts" } }),
            StatusCode::BAD_REQUEST,
            "name a new admin or tech contact",
        ),
        (
            json!({ "tld": "xa", "proposal": { "kind": "contacts", "admin": { "handle": "Bad Handle", "email": "a@b.c" } } }),
            StatusCode::BAD_REQUEST,
            "contact handle",
        ),
        (
            json!({ "tld": "xa", "proposal": { "kind": "contacts", "admin": { "handle": "new", "email": "nope" } } }),
            StatusCode::BAD_REQUEST,
            "e-mail",
        ),
        (
            json!({ "tld": "xa", "proposal": { "kind": "sponsor", "sponsor": " " } }),
            StatusCode::BAD_REQUEST,
            "sponsor",
        ),
        (
            json!({ "tld": "xa", "proposal": { "kind": "transfer", "sponsor": "S", "admin": { "handle": "a" }, "tech": { "handle": "b" }, "evidence": [] } }),
            StatusCode::BAD_REQUEST,
            "evidence",
        ),
        (
            json!({ "tld": "xa", "proposal": { "kind": "transfer", "sponsor": "S", "admin": { "handle": "a" }, "tech": { "handle": "b" }, "evidence": [{ "kind": "other", "name": "n", "sha256": "xyz", "size": 1 }] } }),
            StatusCode::BAD_REQUEST,
            "64 hexadecimal",
        ),
        (
            json!({ "tld": "xa" }),
            StatusCode::BAD_REQUEST,
            "missing field `proposal`",
        ),
        (json!([1, 2]), StatusCode::BAD_REQUEST, "invalid type"),
        // Issue 10 item 9: a line break in a name would put a fake "Link:" into other
        // contacts' mail; direction overrides could disguise text.
        (
            json!({ "tld": "xa", "proposal": { "kind": "contacts", "tech": { "handle": "xa-noc", "name": "NOC\r\nLink: https://evil.example/confirm", "email": "noc@nic.xa.example" } } }),
            StatusCode::BAD_REQUEST,
            "proposal.tech.name: holds the control or formatting character U+000D",
        ),
        (
            json!({ "tld": "xa", "proposal": { "kind": "sponsor", "sponsor": "Registry\u{202e}gro" } }),
            StatusCode::BAD_REQUEST,
            "U+202E",
        ),
        (
            json!({ "tld": "xa", "priority": "emergency", "emergency_reason": "down\u{85}Link: x", "proposal": { "kind": "sponsor", "sponsor": "S" } }),
            StatusCode::BAD_REQUEST,
            "U+0085",
        ),
    ];
    let before = event_count(&t).await;
    for (body, status, expect) in cases {
        let (got, value) = t.post(&t.tokens.admin, "/v1/requests", body.clone()).await;
        assert_eq!(got, status, "{body}: {value}");
        let message = value["message"].as_str().unwrap_or("");
        assert!(
            message.contains(expect),
            "{expect:?} not in {message:?} for {body}"
        );
        if status == StatusCode::BAD_REQUEST {
            assert_eq!(value["error"], "input-invalid", "{value}");
        }
    }
    // Not JSON at all, and too large.
    let raw = t
        .http
        .post(format!("{}/v1/requests", t.base))
        .bearer_auth(&t.tokens.admin)
        .body("tld=xa")
        .send()
        .await
        .expect("send");
    assert_eq!(raw.status(), StatusCode::BAD_REQUEST);
    let huge =
        json!({ "tld": "xa", "proposal": { "kind": "sponsor", "sponsor": "x".repeat(100_000) } });
    let (status, value) = t.post(&t.tokens.admin, "/v1/requests", huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{value}");
    assert_eq!(value["error"], "body-too-large");
    assert_eq!(
        event_count(&t).await,
        before,
        "a refused submission wrote events"
    );
    let (_, list) = t.get(&t.tokens.staff, "/v1/requests").await;
    assert_eq!(list["requests"], json!([]));

    // Action bodies.
    let ticket = t.submit(healthy()).await;
    t.wait_for(&ticket, "contact-confirmation").await;
    let action_cases = [
        ("decline", json!({ "reason": "" }), "reason"),
        ("decline", json!({ "why": "x" }), "unknown field `why`"),
        ("confirm", json!({ "as": "xa-tech" }), "unknown field `as`"),
        (
            "amend",
            json!({ "proposal": { "kind": "sponsor", "sponsor": "S" } }),
            "keeps the request's kind",
        ),
        ("amend", json!({}), "missing field `proposal`"),
        (
            "answer",
            json!({ "answer": "x" }),
            "answering is not possible",
        ),
    ];
    for (action, body, expect) in action_cases {
        let (status, value) = t
            .post(
                &t.tokens.admin,
                &format!("/v1/requests/{ticket}/{action}"),
                body.clone(),
            )
            .await;
        assert!(
            status == StatusCode::BAD_REQUEST || status == StatusCode::CONFLICT,
            "{action} {body}: {status} {value}"
        );
        assert!(
            value["message"].as_str().unwrap_or("").contains(expect),
            "{expect:?} not in {value}"
        );
    }
    for (action, body, expect) in [
        ("ask", json!({ "question": " " }), "must not be empty"),
        ("reject", json!({}), "must not be empty"),
        (
            "evaluate",
            json!({ "evaluation": { "assessments": [], "approve": true, "summary": "" } }),
            "assess the criteria",
        ),
        (
            "implement",
            json!({ "serial": 1 }),
            "unknown field `serial`",
        ),
    ] {
        let (status, value) = t
            .post(
                &t.tokens.staff,
                &format!("/v1/requests/{ticket}/{action}"),
                body.clone(),
            )
            .await;
        assert!(
            status == StatusCode::BAD_REQUEST || status == StatusCode::CONFLICT,
            "{action} {body}: {status} {value}"
        );
        assert!(
            value["message"].as_str().unwrap_or("").contains(expect),
            "{expect:?} not in {value}"
        );
    }
    let (status, _) = t
        .post(
            &t.tokens.staff,
            &format!("/v1/requests/{ticket}/explode"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = t
        .get(&t.tokens.staff, "/v1/requests/RD-19990101-0001")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, request) = t
        .get(&t.tokens.staff, &format!("/v1/requests/{ticket}"))
        .await;
    assert_eq!(
        request["revisions"].as_array().map(Vec::len),
        Some(1),
        "a refused amendment was kept"
    );
    t.stop().await;
}

/// Bodies that two JSON parsers read differently: refused, nothing written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trailing_data_and_duplicate_keys_are_refused() {
    let t = TestDesk::start().await;
    let good = json!({ "tld": "xa", "proposal": healthy() }).to_string();
    let nested = good.replacen(
        "\"kind\":\"delegation\"",
        "\"kind\":\"delegation\",\"kind\":\"delegation\"",
        1,
    );
    assert_ne!(nested, good, "the proposal has a kind");
    let cases = [
        (format!("{good} {good}"), "data after the JSON value"),
        (format!("{good}garbage"), "data after the JSON value"),
        (
            good.replacen('{', "{\"tld\":\"xb\",", 1),
            "duplicate field `tld`",
        ),
        (nested, "appears twice"),
    ];
    let before = event_count(&t).await;
    for (body, says) in cases {
        let response = crate::daemon::http()
            .post(format!("{}/v1/requests", t.base))
            .bearer_auth(&t.tokens.admin)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .expect("POST");
        let status = response.status();
        let text = response.text().await.expect("body");
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {text}");
        assert!(text.contains(says), "{says:?} not in {text}");
    }
    assert_eq!(before, event_count(&t).await, "a refused body was recorded");
    let (_, list) = t.get(&t.tokens.staff, "/v1/requests").await;
    assert_eq!(list["requests"].as_array().map(Vec::len), Some(0), "{list}");
}

/// Query filters are validated and normalised: a typo is a 400, not an empty list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_filters_are_validated_and_normalised() {
    let t = TestDesk::start().await;
    let ticket = t.submit(healthy()).await;
    let found = |v: &Value| {
        v["requests"]
            .as_array()
            .map(|a| a.iter().filter(|r| r["ticket"] == ticket.as_str()).count())
            .unwrap_or(0)
    };
    for query in ["tld=xa", "tld=XA", "tld=xa."] {
        let (status, list) = t
            .get(&t.tokens.staff, &format!("/v1/requests?{query}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{query}: {list}");
        assert_eq!(found(&list), 1, "{query}: {list}");
    }
    for (query, says) in [
        ("state=bogus", "is not a state"),
        ("tld=%EF%BD%98%EF%BD%81", "full-width"),
        ("tld=x-a", "letters only"),
        ("tld=a.b", "single label"),
    ] {
        let (status, body) = t
            .get(&t.tokens.staff, &format!("/v1/requests?{query}"))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert!(body.to_string().contains(says), "{says:?} not in {body}");
        let (status, body) = t
            .get(&t.tokens.auditor, &format!("/v1/audit?{query}"))
            .await;
        if query.starts_with("tld") {
            assert_eq!(status, StatusCode::BAD_REQUEST, "audit {query}: {body}");
        }
    }
    let (status, list) = t
        .get(&t.tokens.staff, "/v1/requests?state=technical-check")
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let (_, events) = t.get(&t.tokens.auditor, "/v1/audit?tld=XA").await;
    assert!(
        events["events"].as_array().is_some_and(|e| !e.is_empty()),
        "{events}"
    );
}

/// A request that changes nothing is refused at submission, saying why, and leaves nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_changes_nothing_is_refused() {
    let t = TestDesk::start().await;
    let events = |t: &TestDesk| {
        t.desk
            .read_store(|s| Ok(s.events(&rootdesk::audit::EventQuery::default())?.len()))
            .expect("events")
    };
    let before = events(&t);
    let (_, xa) = t.get(&t.tokens.admin, "/v1/tlds/xa").await;
    let published = json!({ "kind": "delegation", "delegation": xa["delegation"].clone() });
    for proposal in [
        published,
        json!({ "kind": "sponsor", "sponsor": xa["sponsor"].clone() }),
        json!({ "kind": "contacts", "tech": xa["tech"].clone() }),
    ] {
        let (status, body) = t
            .post(
                &t.tokens.admin,
                "/v1/requests",
                json!({ "tld": "xa", "proposal": proposal }),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{proposal}: {body}");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains("changes nothing")),
            "{body}"
        );
    }
    assert_eq!(events(&t), before, "a refused submission left events");
    // One real change still goes through.
    t.submit(json!({ "kind": "sponsor", "sponsor": "Aldoria Registry" }))
        .await;
    t.stop().await;
}

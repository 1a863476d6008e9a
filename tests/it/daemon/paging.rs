//! Paged lists (issue 10's soak): `GET /v1/requests` and `GET /v1/audit` answer a page of at
//! most `limit` entries with a `next` link, and `/metrics` kept up to date incrementally says
//! what a count from scratch says.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::TestDesk;

/// Submits and withdraws `n` sponsor changes of xa; returns their tickets.
async fn churn(t: &TestDesk, n: usize, from: usize) -> Vec<String> {
    let mut tickets = Vec::new();
    for i in from..from + n {
        let ticket = t
            .submit(json!({ "kind": "sponsor", "sponsor": format!("Paging {i}") }))
            .await;
        t.ok(
            &t.tokens.admin,
            &format!("/v1/requests/{ticket}/withdraw"),
            json!({}),
        )
        .await;
        tickets.push(ticket);
    }
    tickets
}

fn tickets(page: &Value) -> Vec<String> {
    page["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .map(|r| r["ticket"].as_str().expect("ticket").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_lists_come_in_pages() {
    let t = TestDesk::start().await;
    let mut made = churn(&t, 7, 0).await;
    made.reverse(); // the list is newest first

    let (status, all) = t.get(&t.tokens.staff, "/v1/requests?tld=xa").await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(tickets(&all), made, "{all}");
    assert!(all.get("next").is_none(), "one page holds them: {all}");

    for token in [&t.tokens.staff, &t.tokens.admin] {
        let mut path = "/v1/requests?tld=xa&limit=3".to_string();
        let mut seen = Vec::new();
        let mut pages = 0;
        loop {
            let (status, page) = t.get(token, &path).await;
            assert_eq!(status, StatusCode::OK, "{path}: {page}");
            let got = tickets(&page);
            assert!(got.len() <= 3, "{page}");
            seen.extend(got);
            pages += 1;
            match page["next"].as_str() {
                Some(next) => {
                    assert!(
                        next.contains("tld=xa") && next.contains("limit=3"),
                        "{next}"
                    );
                    path = next.to_string();
                }
                None => break,
            }
        }
        assert_eq!(pages, 3);
        assert_eq!(seen, made, "every request once, in order");
    }
    // The other filters carry over to the next page.
    let (_, page) = t
        .get(&t.tokens.staff, "/v1/requests?state=withdrawn&limit=2")
        .await;
    assert_eq!(tickets(&page), made[..2]);
    let next = page["next"].as_str().expect("next");
    assert!(next.contains("state=withdrawn"), "{next}");
    let (_, page) = t.get(&t.tokens.staff, next).await;
    assert_eq!(tickets(&page), made[2..4]);
    let (_, open) = t
        .get(&t.tokens.staff, "/v1/requests?open=true&limit=2")
        .await;
    assert_eq!(
        tickets(&open),
        Vec::<String>::new(),
        "all withdrawn: {open}"
    );
    // Another TLD's contact pages through nothing of xa's.
    let (status, other) = t.get(&t.tokens.other, "/v1/requests?tld=xa&limit=2").await;
    assert_eq!(status, StatusCode::OK, "{other}");
    assert!(
        tickets(&other).is_empty() && other.get("next").is_none(),
        "{other}"
    );

    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=-1", "query"),
        ("after=RD%20x", "after"),
    ] {
        let (status, body) = t
            .get(&t.tokens.staff, &format!("/v1/requests?{query}"))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["field"], field, "{query}: {body}");
    }
    let (status, _) = t.get(&t.tokens.staff, "/v1/requests?limit=1000").await;
    assert_eq!(status, StatusCode::OK);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_pages_follow_next() {
    let t = TestDesk::start().await;
    churn(&t, 2, 0).await;
    let (_, all) = t.get(&t.tokens.auditor, "/v1/audit?tld=xa").await;
    let all = all["events"].as_array().expect("events").clone();
    assert!(all.len() > 3, "{all:?}");
    let mut path = "/v1/audit?tld=xa&limit=2".to_string();
    let mut seen = Vec::new();
    loop {
        let (status, page) = t.get(&t.tokens.auditor, &path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        seen.extend(page["events"].as_array().expect("events").iter().cloned());
        match page["next"].as_str() {
            Some(next) => path = next.to_string(),
            None => break,
        }
    }
    assert_eq!(seen, all);
    let (status, body) = t.get(&t.tokens.auditor, "/v1/audit?limit=10001").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    t.stop().await;
}

/// The scrape's counts, kept up to date one request at a time, equal a count from scratch
/// after every change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_kept_up_to_date_equal_a_fresh_count() {
    let t = TestDesk::start().await;
    let fresh = || {
        t.desk
            .read_store(|s| {
                Ok(rootdesk::metrics::render_prometheus(
                    &rootdesk::metrics::timelines(s)?,
                    &s.check_durations()?,
                    &t.desk.service_levels,
                ))
            })
            .expect("fresh count")
    };
    let scrape = || async {
        let (status, text) = t.call(reqwest::Method::GET, None, "/metrics", None).await;
        assert_eq!(status, StatusCode::OK);
        text.as_str().expect("text").to_string()
    };
    assert!(scrape().await.starts_with(&fresh()));
    for round in 0..3 {
        churn(&t, 2, round * 2).await;
        let ticket = t.submit(super::healthy()).await;
        t.wait_for(&ticket, "contact-confirmation").await;
        let text = scrape().await;
        let expected = fresh();
        assert!(
            text.starts_with(&expected),
            "round {round}:\n{text}\nexpected\n{expected}"
        );
        assert!(
            text.contains("rootdesk_check_duration_seconds_count"),
            "{text}"
        );
        t.ok(
            &t.tokens.admin,
            &format!("/v1/requests/{ticket}/withdraw"),
            json!({}),
        )
        .await;
    }
    assert!(scrape().await.starts_with(&fresh()));
    t.stop().await;
}

//! The desk staff's and auditor's pages over real HTTP (issue 15): who gets which page, forms
//! refused without the session's own CSRF token (and nothing changed), the CSP on every page,
//! the queue's order on real requests, a review action through the form, and the export.

use reqwest::header::{CONTENT_SECURITY_POLICY, COOKIE, LOCATION};
use reqwest::StatusCode;
use rootdesk::audit::EventQuery;
use serde_json::json;

use crate::daemon::{healthy, TestDesk};
use crate::people::{enrolled, enrolled_manager, fix_clock, login_ok, Enrolled, Session};
use rootdesk::portal::CSP;

/// Three open requests at one-minute steps: a sponsor change of xa (waits on xa's contacts),
/// a delegation of xa taken to manual review (the desk's clock runs), and an emergency
/// sponsor change of xb (waits on xb's contacts). Returns (sponsor, delegation, emergency).
pub async fn three_requests(t: &TestDesk) -> (String, String, String) {
    let start = t.desk.clock.now();
    let sponsor = t
        .submit(json!({ "kind": "sponsor", "sponsor": "XA Registry Services" }))
        .await;
    t.desk.clock.set(start + time::Duration::minutes(1));
    let delegation = t.submit(healthy()).await;
    t.wait_for(&delegation, "contact-confirmation").await;
    for token in [&t.tokens.admin, &t.tokens.tech] {
        t.ok(
            token,
            &format!("/v1/requests/{delegation}/confirm"),
            json!({}),
        )
        .await;
    }
    t.wait_for(&delegation, "manual-review").await;
    t.desk.clock.set(start + time::Duration::minutes(2));
    let emergency = t
        .ok(
            &t.tokens.other,
            "/v1/requests",
            json!({ "tld": "xb", "priority": "emergency",
                    "emergency_reason": "the sponsor's name is wrong on legal documents",
                    "proposal": { "kind": "sponsor", "sponsor": "XB Network Information Centre" } }),
        )
        .await["ticket"]
        .as_str()
        .expect("ticket")
        .to_string();
    t.desk.clock.set(start + time::Duration::minutes(10));
    (sponsor, delegation, emergency)
}

/// A staff person, an auditor and a manager of xa, enrolled over HTTP with TOTP.
pub async fn people(t: &TestDesk) -> (Enrolled, Enrolled, Enrolled) {
    let staff = enrolled(
        t,
        json!({ "name": "Sam Staff", "email": "sam@desk.example", "role": "staff" }),
    )
    .await;
    let auditor = enrolled(
        t,
        json!({ "name": "Ode Auditor", "email": "ode@audit.example", "role": "auditor" }),
    )
    .await;
    let manager = enrolled_manager(t, "ana@xa.example").await;
    (staff, auditor, manager)
}

/// A GET or form POST with a session cookie; no redirects followed.
pub async fn page(
    t: &TestDesk,
    session: Option<&Session>,
    path: &str,
    form: Option<&[(&str, &str)]>,
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let url = format!("{}{path}", t.base);
    let mut request = match form {
        Some(fields) => client
            .post(url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(fields).expect("form")),
        None => client.get(url),
    };
    if let Some(s) = session {
        request = request.header(COOKIE, format!("rootdesk_session={}", s.secret));
    }
    let response = request.send().await.expect("HTTP");
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.text().await.expect("body"))
}

async fn state_of(t: &TestDesk, ticket: &str) -> String {
    let (_, value) = t
        .get(&t.tokens.staff, &format!("/v1/requests/{ticket}"))
        .await;
    value["state"].as_str().unwrap_or_default().to_string()
}

fn event_count(t: &TestDesk) -> usize {
    t.desk.events(&EventQuery::default()).expect("events").len()
}

/// Where each ticket appears in the queue's table, in order.
fn queue_order(html: &str, tickets: &[&str]) -> Vec<String> {
    let table = html
        .split_once("id=\"queue\"")
        .map(|(_, rest)| rest)
        .expect("the queue table");
    let mut found: Vec<(usize, String)> = tickets
        .iter()
        .filter_map(|t| table.find(&format!(">{t}<")).map(|i| (i, t.to_string())))
        .collect();
    found.sort();
    found.into_iter().map(|(_, t)| t).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_and_auditor_pages_over_http() {
    let t = TestDesk::start().await;
    fix_clock(&t);
    let (staff, auditor, manager) = people(&t).await;
    let (sponsor, delegation, emergency) = three_requests(&t).await;
    // Six days on: the delegation's review (5 days) is late, the emergency (12 h) too.
    t.desk.clock.advance(time::Duration::days(6));
    let s_staff = login_ok(&t, &staff).await;
    let s_audit = login_ok(&t, &auditor).await;
    let s_manager = login_ok(&t, &manager).await;

    // Without a session: to the login page, back here afterwards.
    let (status, headers, _) = page(&t, None, "/desk", None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[LOCATION], "/login?next=%2Fdesk");

    // Every page and download of this half carries the CSP, for staff.
    let request_page = format!("/desk/requests/{delegation}");
    for path in [
        "/desk",
        "/desk?sort=age",
        request_page.as_str(),
        "/desk/turnaround",
        "/audit",
        "/audit?tld=xa&kind=request-submitted",
        "/audit/export.jsonl",
        "/audit/export.csv",
    ] {
        let (status, headers, body) = page(&t, Some(&s_staff), path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert_eq!(headers[CONTENT_SECURITY_POLICY], CSP, "{path}");
        assert_eq!(headers["cache-control"], "private, no-store", "{path}");
    }

    // The queue's order on these requests: the emergency first, then by the chosen order.
    let tickets = [sponsor.as_str(), delegation.as_str(), emergency.as_str()];
    let (_, _, by_age) = page(&t, Some(&s_staff), "/desk?sort=age", None).await;
    assert_eq!(
        queue_order(&by_age, &tickets),
        [emergency.clone(), sponsor.clone(), delegation.clone()],
        "by age"
    );
    // By risk: the delegation's review clock runs; the sponsor change waits on its TLD.
    let (_, _, by_risk) = page(&t, Some(&s_staff), "/desk", None).await;
    assert_eq!(
        queue_order(&by_risk, &tickets),
        [emergency.clone(), delegation.clone(), sponsor.clone()],
        "by risk"
    );
    assert!(by_risk.contains("clock stopped"), "{by_risk}");
    assert!(by_risk.contains("days over"), "{by_risk}");
    let (_, _, by_owner) = page(&t, Some(&s_staff), "/desk?sort=owner", None).await;
    assert_eq!(
        queue_order(&by_owner, &tickets),
        [emergency.clone(), delegation.clone(), sponsor.clone()],
        "by owner"
    );
    let (status, _, body) = page(&t, Some(&s_staff), "/desk?sort=colour", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("risk, age, owner or priority"), "{body}");

    // The request page: the diff, the checks by server, consents, and only the forms the
    // gate and the workflow allow now (approve, ask, reject in manual review).
    let (_, _, html) = page(&t, Some(&s_staff), &request_page, None).await;
    assert!(
        html.contains("127.0.0.21") && html.contains("192.0.2.1"),
        "diff"
    );
    assert!(html.contains("ns1.nic.xa"), "checks by server");
    for action in ["approve", "ask", "reject"] {
        assert!(
            html.contains(&format!("action=\"/desk/requests/{delegation}/{action}\"")),
            "{action} form"
        );
    }
    for action in ["implement", "evaluate", "verify"] {
        assert!(
            !html.contains(&format!("action=\"/desk/requests/{delegation}/{action}\"")),
            "no {action} form in manual review"
        );
    }
    assert!(html.contains(&format!("value=\"{}\"", s_staff.csrf)));

    // A manager gets no staff or audit page, and no form of theirs acts.
    for path in [
        "/desk",
        request_page.as_str(),
        "/desk/turnaround",
        "/audit",
        "/audit/export.jsonl",
        "/audit/export.csv",
    ] {
        let (status, headers, body) = page(&t, Some(&s_manager), path, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "manager {path}: {body}");
        assert_eq!(headers[CONTENT_SECURITY_POLICY], CSP, "{path}");
        assert!(
            !body.contains(&delegation) || path == request_page,
            "{path}"
        );
    }
    // An auditor reads the audit pages, never the staff's, and acts on nothing.
    for path in ["/desk", request_page.as_str(), "/desk/turnaround"] {
        let (status, _, body) = page(&t, Some(&s_audit), path, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "auditor {path}: {body}");
    }
    let (status, _, _) = page(&t, Some(&s_audit), "/audit", None).await;
    assert_eq!(status, StatusCode::OK);

    let approve = format!("/desk/requests/{delegation}/approve");
    let before = event_count(&t);
    // (whose session, the form, who that is)
    type Refusal<'a> = (&'a Session, &'a [(&'a str, &'a str)], &'a str);
    let refusals: [Refusal; 5] = [
        (
            &s_audit,
            &[("csrf", &s_audit.csrf), ("note", "x")],
            "an auditor",
        ),
        (
            &s_manager,
            &[("csrf", &s_manager.csrf), ("note", "x")],
            "a manager",
        ),
        (&s_staff, &[("note", "x")], "no CSRF token"),
        (
            &s_staff,
            &[("csrf", &s_audit.csrf), ("note", "x")],
            "another session's token",
        ),
        (&s_staff, &[("csrf", ""), ("note", "x")], "an empty token"),
    ];
    for (session, form, what) in refusals {
        let (status, headers, body) = page(&t, Some(session), &approve, Some(form)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{what}: {body}");
        assert_eq!(headers[CONTENT_SECURITY_POLICY], CSP, "{what}");
        assert!(
            body.contains("Nothing was done") || body.contains("not"),
            "{what}: {body}"
        );
        assert_eq!(state_of(&t, &delegation).await, "manual-review", "{what}");
    }
    // The CSRF refusals wrote nothing; the gate's (auditor, manager) only their refusal events.
    let after = t
        .desk
        .events(&EventQuery {
            from_seq: Some(before as u64 + 1),
            ..EventQuery::default()
        })
        .expect("events");
    let kinds: Vec<&str> = after.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["access-refused", "access-refused"], "refusals only");

    // The staff's own form acts, through the desk like the API: approved, then checked again.
    let (status, headers, body) = page(
        &t,
        Some(&s_staff),
        &approve,
        Some(&[("csrf", &s_staff.csrf), ("note", "checked by hand")]),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    assert_eq!(headers[LOCATION], request_page.as_str());
    assert_ne!(state_of(&t, &delegation).await, "manual-review");
    // The review took six days: a breach on the dashboard, with its cause.
    let (_, _, dashboard) = page(&t, Some(&s_staff), "/desk/turnaround", None).await;
    let breaches = dashboard
        .split_once("id=\"breaches\"")
        .map(|(_, rest)| rest)
        .expect("a breaches table");
    assert!(breaches.contains(&format!(">{delegation}<")), "{breaches}");
    assert!(breaches.contains("Review by desk staff"), "{breaches}");
    assert!(
        breaches.contains("longest desk step: manual-review, 6 days"),
        "{breaches}"
    );
    // Approving again is not possible in the new state: a 409 page that says so.
    let (status, _, body) = page(
        &t,
        Some(&s_staff),
        &approve,
        Some(&[("csrf", &s_staff.csrf), ("note", "twice")]),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.contains("Nothing was done"), "{body}");

    // The audit log filtered by ticket shows that request's history only.
    let (_, _, log) = page(
        &t,
        Some(&s_audit),
        &format!("/audit?request={delegation}"),
        None,
    )
    .await;
    assert!(log.contains("request-approved"), "{log}");
    assert!(!log.contains(&format!(">{sponsor}<")), "filtered by ticket");
    let (status, _, body) = page(&t, Some(&s_audit), "/audit?since=yesterday", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("YYYY-MM-DD"), "{body}");

    // The export is the bytes `rootdesk audit export` writes (but for its time of export).
    let (_, headers, jsonl) = page(&t, Some(&s_audit), "/audit/export.jsonl", None).await;
    assert!(headers["content-disposition"]
        .to_str()
        .expect("ascii")
        .contains("attachment"));
    let mut cli = Vec::new();
    t.desk
        .read_store(|s| {
            rootdesk::store::write_export(
                s,
                1,
                None,
                rootdesk::audit::export::ExportFormat::Jsonl,
                &mut cli,
                std::path::Path::new("cli"),
            )
            .map_err(|e| rootdesk::desk::DeskError::Forbidden(e.to_string()))
        })
        .expect("export");
    let cli = String::from_utf8(cli).expect("utf-8");
    let body_lines = |text: &str| text.lines().skip(1).map(str::to_string).collect::<Vec<_>>();
    assert_eq!(body_lines(&jsonl), body_lines(&cli));
    assert!(jsonl.lines().count() > 10);

    t.stop().await;
}

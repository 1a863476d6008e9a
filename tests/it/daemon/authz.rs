//! Every endpoint x every role x own TLD / other TLD / no token, with the exact status.
//! Allowed callers send a body with an unknown field, so that they get 400 from the body
//! check that follows the permission gate, and nothing changes.

use reqwest::{Method, StatusCode};
use rootdesk::audit::EventQuery;
use serde_json::json;

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Nobody,
    Revoked,
    /// xa's admin contact: the request's own TLD.
    Own,
    /// xb's admin contact: another TLD.
    Other,
    Staff,
    Auditor,
}

/// (method, path, body, the expected status for each caller)
type Case = (Method, String, Option<Value>, fn(Who) -> StatusCode);

const EVERYONE: [Who; 6] = [
    Who::Nobody,
    Who::Revoked,
    Who::Own,
    Who::Other,
    Who::Staff,
    Who::Auditor,
];

fn token(t: &TestDesk, who: Who) -> Option<&str> {
    match who {
        Who::Nobody => None,
        Who::Revoked => Some(&t.tokens.revoked),
        Who::Own => Some(&t.tokens.admin),
        Who::Other => Some(&t.tokens.other),
        Who::Staff => Some(&t.tokens.staff),
        Who::Auditor => Some(&t.tokens.auditor),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorisation_matrix() {
    let t = TestDesk::start().await;
    let ticket = t.submit(healthy()).await;
    t.wait_for(&ticket, "contact-confirmation").await;
    let bogus = json!({ "bogus": 1 });
    use StatusCode as S;
    let unauth = |who: Who| matches!(who, Who::Nobody | Who::Revoked);

    let request_path = format!("/v1/requests/{ticket}");
    let mut cases: Vec<Case> = vec![
        (Method::GET, "/v1/tlds".into(), None, |_| S::OK),
        (Method::GET, "/v1/tlds/xa".into(), None, |_| S::OK),
        (Method::GET, "/v1/zone".into(), None, |_| S::OK),
        (Method::GET, "/healthz".into(), None, |_| S::OK),
        (Method::GET, "/v1/requests".into(), None, |w| match w {
            Who::Nobody | Who::Revoked => S::UNAUTHORIZED,
            _ => S::OK,
        }),
        (Method::GET, request_path.clone(), None, |w| match w {
            Who::Nobody | Who::Revoked => S::UNAUTHORIZED,
            Who::Other => S::FORBIDDEN,
            _ => S::OK,
        }),
        (
            Method::GET,
            format!("{request_path}/checks"),
            None,
            |w| match w {
                Who::Nobody | Who::Revoked => S::UNAUTHORIZED,
                Who::Other => S::FORBIDDEN,
                _ => S::OK,
            },
        ),
        (Method::GET, "/v1/audit".into(), None, |w| match w {
            Who::Nobody | Who::Revoked => S::UNAUTHORIZED,
            Who::Own | Who::Other => S::FORBIDDEN,
            _ => S::OK,
        }),
        (
            Method::GET,
            "/v1/audit/checkpoints".into(),
            None,
            |w| match w {
                Who::Nobody | Who::Revoked => S::UNAUTHORIZED,
                Who::Own | Who::Other => S::FORBIDDEN,
                _ => S::OK,
            },
        ),
        (
            Method::POST,
            "/v1/check".into(),
            Some(bogus.clone()),
            |w| match w {
                Who::Nobody | Who::Revoked => S::UNAUTHORIZED,
                _ => S::BAD_REQUEST,
            },
        ),
        (
            Method::POST,
            "/v1/requests".into(),
            Some(json!({ "tld": "xa", "proposal": healthy() })),
            |w| match w {
                Who::Nobody | Who::Revoked => S::UNAUTHORIZED,
                Who::Other | Who::Auditor => S::FORBIDDEN,
                // One delegation request is open already.
                Who::Own | Who::Staff => S::CONFLICT,
            },
        ),
    ];
    for action in ["amend", "withdraw", "answer"] {
        cases.push((
            Method::POST,
            format!("{request_path}/{action}"),
            Some(bogus.clone()),
            |w| match w {
                Who::Nobody | Who::Revoked => S::UNAUTHORIZED,
                Who::Own => S::BAD_REQUEST,
                _ => S::FORBIDDEN,
            },
        ));
    }
    for action in ["confirm", "decline"] {
        cases.push((
            Method::POST,
            format!("{request_path}/{action}"),
            Some(bogus.clone()),
            |w| match w {
                Who::Nobody | Who::Revoked => S::UNAUTHORIZED,
                Who::Own => S::BAD_REQUEST,
                _ => S::FORBIDDEN,
            },
        ));
    }
    for action in ["approve", "reject", "ask", "evaluate", "implement"] {
        cases.push((
            Method::POST,
            format!("{request_path}/{action}"),
            Some(bogus.clone()),
            |w| match w {
                Who::Nobody | Who::Revoked => S::UNAUTHORIZED,
                Who::Staff => S::BAD_REQUEST,
                _ => S::FORBIDDEN,
            },
        ));
    }

    let mut failures = Vec::new();
    for (method, path, body, expected) in &cases {
        for who in EVERYONE {
            let (status, value) = t
                .call(method.clone(), token(&t, who), path, body.as_ref())
                .await;
            let want = expected(who);
            if status != want {
                failures.push(format!(
                    "{method} {path} as {who:?}: {status}, expected {want}: {value}"
                ));
            }
            if status == S::UNAUTHORIZED {
                assert!(
                    unauth(who) || !path.starts_with("/v1/requests"),
                    "{who:?} {path}"
                );
                let label = value["error"].as_str().unwrap_or("");
                assert!(
                    label == "auth-missing" || label == "auth-invalid",
                    "{value}"
                );
            }
            if status == S::FORBIDDEN {
                assert_eq!(value["error"], "auth-forbidden", "{value}");
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} cases wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // Nothing changed, and no cross-TLD view: xb's contact lists none of xa's requests.
    let (_, request) = t.get(&t.tokens.staff, &request_path).await;
    assert_eq!(request["state"], "contact-confirmation");
    assert_eq!(request["revisions"].as_array().map(Vec::len), Some(1));
    let (_, list) = t.get(&t.tokens.other, "/v1/requests").await;
    assert_eq!(list["requests"], json!([]), "{list}");
    let (_, list) = t.get(&t.tokens.other, "/v1/requests?tld=xa").await;
    assert_eq!(list["requests"], json!([]), "{list}");

    // Every refused attempt on the request is an event naming the caller's token.
    let (_, events) = t
        .get(
            &t.tokens.auditor,
            &format!("/v1/audit?request={ticket}&kind=access-refused"),
        )
        .await;
    let refused = events["events"].as_array().expect("events");
    assert!(
        refused.len() >= 10,
        "only {} refusals recorded",
        refused.len()
    );
    assert!(
        refused.iter().all(|e| e["actor"]["kind"] == "token"),
        "{events}"
    );
    t.stop().await;
}

/// Repeated refusals do not grow the audit trail one event each: 1000 forbidden calls by
/// one token on one request within a minute are one `access-refused` event; the next
/// refusal after the window carries how many were not recorded (`repeated`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_refusals_are_aggregated() {
    let t = TestDesk::start().await;
    let ticket = t.submit(healthy()).await;
    let path = format!("/v1/requests/{ticket}");
    for _ in 0..1000 {
        let (status, _) = t.get(&t.tokens.other, &path).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let refused = |t: &TestDesk| {
        t.desk
            .read_store(|s| {
                Ok(s.events(&EventQuery {
                    request: Some(ticket.clone()),
                    kind: Some("access-refused".into()),
                    ..EventQuery::default()
                })?)
            })
            .expect("events")
    };
    let events = refused(&t);
    assert_eq!(events.len(), 1, "{} events for 1000 refusals", events.len());

    t.desk.clock.advance(time::Duration::seconds(61));
    let (status, _) = t.get(&t.tokens.other, &path).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let events = refused(&t);
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[1].payload["repeated"], 999,
        "{:?}",
        events[1].payload
    );
    t.stop().await;
}

/// Each named permission of the gate (`desk::gate::Permission`) is refused to a caller who
/// lacks it before the body is read: a body that is not even JSON gets 403, not 400.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permission_is_granted_before_the_body_is_parsed() {
    let t = TestDesk::start().await;
    let ticket = t.submit(healthy()).await;
    t.wait_for(&ticket, "contact-confirmation").await;
    let raw = |token: Option<&str>, path: &str, body: &'static str| {
        let mut request = t.http.post(format!("{}{path}", t.base)).body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move {
            let response = request.send().await.expect("HTTP request");
            let status = response.status();
            let value: Value = response.json().await.unwrap_or(Value::Null);
            (status, value)
        }
    };
    let cases: [(&str, Option<&str>, String, &'static str, StatusCode); 5] = [
        // SubmitRequest
        (
            "submit-request",
            Some(&t.tokens.auditor),
            "/v1/requests".into(),
            "{",
            StatusCode::FORBIDDEN,
        ),
        // UploadDocument (an empty document is a 400 for those who may upload)
        (
            "upload-document",
            Some(&t.tokens.auditor),
            "/v1/documents".into(),
            "",
            StatusCode::FORBIDDEN,
        ),
        // OnRequest: review actions are staff's
        (
            "on-request",
            Some(&t.tokens.admin),
            format!("/v1/requests/{ticket}/approve"),
            "{",
            StatusCode::FORBIDDEN,
        ),
        // OnRequest: another TLD's contact
        (
            "on-request",
            Some(&t.tokens.other),
            format!("/v1/requests/{ticket}/amend"),
            "{",
            StatusCode::FORBIDDEN,
        ),
        // RunCheck: every role holds it; without a caller there is none to grant it to
        (
            "run-check",
            None,
            "/v1/check".into(),
            "{",
            StatusCode::UNAUTHORIZED,
        ),
    ];
    for (permission, token, path, body, expected) in cases {
        let (status, value) = raw(token, &path, body).await;
        assert_eq!(status, expected, "{permission} {path}: {value}");
        if expected == StatusCode::FORBIDDEN {
            assert_eq!(value["error"], "auth-forbidden", "{permission}: {value}");
        }
    }
    // ReadAudit on its GET, with a query the parser would refuse.
    let (status, value) = t.get(&t.tokens.admin, "/v1/audit?bogus=1").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "read-audit: {value}");
    // Those who hold the permissions get to the parser.
    let (status, value) = raw(Some(&t.tokens.staff), "/v1/requests", "{").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{value}");
    let (status, value) = raw(Some(&t.tokens.admin), "/v1/documents", "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{value}");
}

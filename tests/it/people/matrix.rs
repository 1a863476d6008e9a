//! The authorisation matrix for persons (issue 14, the accounts half): every guarded endpoint
//! x a manager of the request's TLD (session, session without CSRF token, narrowed token), a
//! manager of another TLD, a staff person, an auditor person, a disabled person's session and
//! an expired session, with the exact status. Allowed callers send a body with an unknown
//! field, so that they get 400 from the body check after the gate, and nothing changes.

use super::*;
use crate::daemon::healthy;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    /// A manager authorised for xa, in a session.
    Own,
    /// The same session, without its CSRF token.
    OwnNoCsrf,
    /// The same manager's token: `read` on xa only.
    Narrowed,
    /// A manager authorised for xb only.
    Other,
    Staff,
    Auditor,
    /// A session of a person disabled since.
    Disabled,
    /// A session idle past `[accounts] session_idle_minutes`.
    Expired,
}

const EVERYONE: [Who; 8] = [
    Who::Own,
    Who::OwnNoCsrf,
    Who::Narrowed,
    Who::Other,
    Who::Staff,
    Who::Auditor,
    Who::Disabled,
    Who::Expired,
];

type Case = (Method, String, fn(Who) -> StatusCode);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn person_authorisation_matrix_has_no_leaks() {
    use StatusCode as S;
    let t = TestDesk::start().await;
    let ticket = t.submit(healthy()).await;
    t.wait_for(&ticket, "contact-confirmation").await;
    fix_clock(&t);

    // The expired session first: its idle time passes before the others start.
    let gone = enrolled(
        &t,
        json!({ "name": "Gus", "email": "gus@nic.xa.example", "role": "manager",
                "tlds": [{ "tld": "xa", "groups": ["admin"] }] }),
    )
    .await;
    let expired = login_ok(&t, &gone).await;
    t.desk.clock.advance(Duration::minutes(31));

    let own_person = enrolled_manager(&t, "own@nic.xa.example").await;
    let own = login_ok(&t, &own_person).await;
    let other_person = enrolled(
        &t,
        json!({ "name": "Bea", "email": "bea@registry.xb.example", "role": "manager",
                "tlds": [{ "tld": "xb", "groups": ["admin", "tech"] }] }),
    )
    .await;
    let other = login_ok(&t, &other_person).await;
    let staff_person = enrolled(
        &t,
        json!({ "name": "Sam", "email": "sam@desk.example", "role": "staff" }),
    )
    .await;
    let staff = login_ok(&t, &staff_person).await;
    let auditor_person = enrolled(
        &t,
        json!({ "name": "Ode", "email": "ode@audit.example", "role": "auditor" }),
    )
    .await;
    let auditor = login_ok(&t, &auditor_person).await;
    let dis_person = enrolled(
        &t,
        json!({ "name": "Dan", "email": "dan@nic.xa.example", "role": "manager",
                "tlds": [{ "tld": "xa", "groups": ["tech"] }] }),
    )
    .await;
    let disabled = login_ok(&t, &dis_person).await;
    // The persons act once their TLDs' authority is in force.
    in_force(
        &t,
        "xa",
        &[
            (&gone, "admin"),
            (&own_person, "admin"),
            (&dis_person, "tech"),
        ],
    );
    in_force(&t, "xb", &[(&other_person, "admin")]);
    let (status, token) = post_with(
        &t,
        &own,
        "/v1/tokens",
        json!({ "permissions": ["read"], "tlds": ["xa"], "expires_in_days": 1 }),
    )
    .await;
    assert_eq!(status, S::CREATED, "{token}");
    let narrowed = token["secret"].as_str().expect("secret").to_string();
    let (status, _) = t
        .post(
            &t.tokens.staff,
            &format!("/v1/persons/{}/disable", dis_person.id),
            json!({}),
        )
        .await;
    assert_eq!(status, S::OK);

    let before = t
        .get(&t.tokens.staff, &format!("/v1/requests/{ticket}"))
        .await
        .1;
    let bogus = json!({ "bogus": 1 });
    let request = format!("/v1/requests/{ticket}");
    let mut cases: Vec<Case> = vec![
        (Method::GET, request.clone(), |w| match w {
            Who::Disabled | Who::Expired => S::UNAUTHORIZED,
            Who::Other => S::FORBIDDEN,
            _ => S::OK,
        }),
        (Method::GET, format!("{request}/checks"), |w| match w {
            Who::Disabled | Who::Expired => S::UNAUTHORIZED,
            Who::Other => S::FORBIDDEN,
            _ => S::OK,
        }),
        (Method::GET, "/v1/audit".into(), |w| match w {
            Who::Disabled | Who::Expired => S::UNAUTHORIZED,
            Who::Staff | Who::Auditor => S::OK,
            _ => S::FORBIDDEN,
        }),
        (Method::GET, "/v1/persons".into(), |w| match w {
            Who::Disabled | Who::Expired => S::UNAUTHORIZED,
            Who::Staff => S::OK,
            _ => S::FORBIDDEN,
        }),
        (Method::GET, "/v1/me".into(), |w| match w {
            Who::Disabled | Who::Expired => S::UNAUTHORIZED,
            Who::Narrowed => S::FORBIDDEN,
            _ => S::OK,
        }),
        (Method::POST, "/v1/persons".into(), |w| match w {
            Who::Disabled | Who::Expired => S::UNAUTHORIZED,
            Who::Staff => S::BAD_REQUEST,
            _ => S::FORBIDDEN,
        }),
        (Method::POST, "/v1/tokens".into(), |w| match w {
            Who::Disabled | Who::Expired => S::UNAUTHORIZED,
            Who::Narrowed | Who::OwnNoCsrf => S::FORBIDDEN,
            _ => S::BAD_REQUEST,
        }),
        (Method::POST, "/v1/check".into(), |w| match w {
            Who::Disabled | Who::Expired => S::UNAUTHORIZED,
            Who::Narrowed | Who::OwnNoCsrf => S::FORBIDDEN,
            _ => S::BAD_REQUEST,
        }),
        (Method::POST, "/v1/requests".into(), |w| match w {
            Who::Disabled | Who::Expired => S::UNAUTHORIZED,
            Who::Narrowed | Who::OwnNoCsrf | Who::Auditor => S::FORBIDDEN,
            // The body is read after the gate: refused as malformed, nothing submitted.
            Who::Own | Who::Other | Who::Staff => S::BAD_REQUEST,
        }),
    ];
    for action in ["amend", "withdraw", "answer", "confirm", "decline"] {
        cases.push((Method::POST, format!("{request}/{action}"), |w| match w {
            Who::Disabled | Who::Expired => S::UNAUTHORIZED,
            Who::Own => S::BAD_REQUEST,
            _ => S::FORBIDDEN,
        }));
    }
    for action in ["approve", "reject", "ask", "evaluate", "implement"] {
        cases.push((Method::POST, format!("{request}/{action}"), |w| match w {
            Who::Disabled | Who::Expired => S::UNAUTHORIZED,
            Who::Staff => S::BAD_REQUEST,
            _ => S::FORBIDDEN,
        }));
    }

    let mut cells = 0;
    let mut wrong = Vec::new();
    for (method, path, want) in &cases {
        for who in EVERYONE {
            let (session, csrf, bearer) = match who {
                Who::Own => (Some(&own), Some(own.csrf.as_str()), None),
                Who::OwnNoCsrf => (Some(&own), None, None),
                Who::Narrowed => (None, None, Some(narrowed.as_str())),
                Who::Other => (Some(&other), Some(other.csrf.as_str()), None),
                Who::Staff => (Some(&staff), Some(staff.csrf.as_str()), None),
                Who::Auditor => (Some(&auditor), Some(auditor.csrf.as_str()), None),
                Who::Disabled => (Some(&disabled), Some(disabled.csrf.as_str()), None),
                Who::Expired => (Some(&expired), Some(expired.csrf.as_str()), None),
            };
            let body = (*method == Method::POST).then_some(&bogus);
            let (status, _, text) =
                send(&t, method.clone(), path, bearer, session, csrf, body).await;
            cells += 1;
            if status != want(who) {
                wrong.push(format!(
                    "{method} {path} as {who:?}: {status}, expected {}: {text}",
                    want(who)
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {cells} cells:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert_eq!(cells, cases.len() * EVERYONE.len());

    // Nothing changed: the request is as it was, and no person or token was made.
    let after = t
        .get(&t.tokens.staff, &format!("/v1/requests/{ticket}"))
        .await
        .1;
    assert_eq!(before["state"], after["state"]);
    assert_eq!(before["revisions"], after["revisions"]);
    assert_eq!(before["consents"], after["consents"]);
    let (_, persons) = t.get(&t.tokens.staff, "/v1/persons").await;
    assert_eq!(persons["persons"].as_array().map(Vec::len), Some(6));
    t.stop().await;
}

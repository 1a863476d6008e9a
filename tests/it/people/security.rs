//! Attacks: cross-site requests with a session cookie, password guessing, account probing,
//! secrets leaking into the audit trail, staff-only administration.

use super::*;

#[tokio::test]
async fn a_cookie_post_without_the_csrf_token_is_refused() {
    let t = TestDesk::start().await;
    fix_clock(&t);
    let p = enrolled_manager(&t, "csrf@nic.xa.example").await;
    let s = login_ok(&t, &p).await;
    let body = json!({ "permissions": ["read"], "expires_in_days": 1 });
    for csrf in [None, Some("not-the-token"), Some("")] {
        let (status, _, text) = send(
            &t,
            Method::POST,
            "/v1/tokens",
            None,
            Some(&s),
            csrf,
            Some(&body),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{csrf:?}: {text}");
        assert_eq!(json_of(&text)["error"], "csrf-refused");
        let (status, _, _) = send(&t, Method::POST, "/v1/logout", None, Some(&s), csrf, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{csrf:?}");
    }
    let (_, list) = get_with(&t, &s, "/v1/tokens").await;
    assert_eq!(list["tokens"], json!([]), "nothing was made");
    assert_eq!(
        get_with(&t, &s, "/v1/me").await.0,
        StatusCode::OK,
        "still logged in"
    );
    let (status, _) = post_with(&t, &s, "/v1/tokens", body).await;
    assert_eq!(status, StatusCode::CREATED);
    t.stop().await;
}

#[tokio::test]
async fn guessing_is_backed_off_and_never_tells_whether_an_account_exists() {
    let t = TestDesk::start().await;
    fix_clock(&t);
    let p = enrolled_manager(&t, "guess@nic.xa.example").await;
    let code = code_at(&p.totp, t.desk.clock.now() + Duration::seconds(30));

    // An unknown e-mail and a wrong password look exactly alike.
    let (s1, h1, unknown, _) = login(
        &t,
        json!({ "email": "nobody@nic.xa.example", "password": "whatever it is", "code": "123456" }),
        None,
    )
    .await;
    let (s2, h2, wrong, _) = login(
        &t,
        json!({ "email": p.email, "password": "whatever it is", "code": "123456" }),
        None,
    )
    .await;
    assert_eq!(
        (s1, s2),
        (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
    );
    assert_eq!(unknown, wrong, "byte-identical bodies");
    assert_eq!(h1.get("www-authenticate"), h2.get("www-authenticate"));
    assert_eq!(json_of(&wrong)["error"], "auth-invalid");

    // Three more failures: five in all for this account and source.
    for _ in 0..3 {
        let (status, _, _, _) = login(
            &t,
            json!({ "email": p.email, "password": "still not it", "code": "123456" }),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // The sixth is answered 429 without being checked, even with the right credentials.
    let right = json!({ "email": p.email, "password": p.password, "code": code });
    let (status, headers, text, session) = login(&t, right.clone(), None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{text}");
    assert_eq!(json_of(&text)["error"], "auth-throttled");
    assert_eq!(
        headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("1")
    );
    assert!(session.is_none());
    // Another address' guesses at another account are backed off too (same source here).
    let (status, _, _, _) = login(
        &t,
        json!({ "email": "someone@else.example", "password": "x", "code": "1" }),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);

    // After the back-off the right credentials work (the code was not used by the 429).
    t.desk.clock.advance(Duration::seconds(30));
    let (status, _, text, session) = login(&t, right, None).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let session = session.expect("session");

    // One more failure a minute later: a second event carries the count of the aggregated ones.
    t.desk.clock.advance(Duration::seconds(61));
    let (status, _, _, _) = login(
        &t,
        json!({ "email": p.email, "password": "wrong again", "code": "123456" }),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, events) = t.get(&t.tokens.staff, "/v1/audit?kind=login-refused").await;
    assert_eq!(status, StatusCode::OK);
    let refused: Vec<&Value> = events["events"]
        .as_array()
        .expect("events")
        .iter()
        .collect();
    let for_p: Vec<&&Value> = refused
        .iter()
        .filter(|e| e["payload"]["person"] == p.id.as_str())
        .collect();
    assert_eq!(for_p.len(), 2, "aggregated: {events}");
    assert_eq!(for_p[0]["payload"]["reason"], "password");
    assert_eq!(for_p[1]["payload"]["repeated"], 3, "{events}");
    assert!(
        refused.iter().any(|e| e["payload"].get("person").is_none()),
        "the unknown account is recorded without a person"
    );

    // No secret anywhere in the trail.
    let (_, all) = t.get(&t.tokens.staff, "/v1/audit?limit=10000").await;
    let text = all.to_string();
    for secret in [
        p.password.as_str(),
        p.totp.as_str(),
        session.secret.as_str(),
        session.csrf.as_str(),
        p.recovery[0].as_str(),
        "whatever it is",
    ] {
        assert!(!text.contains(secret), "{secret:?} is in the audit trail");
    }
    let stored = std::fs::read(t.dir.path().join("rootdesk.db")).expect("read database");
    let stored = String::from_utf8_lossy(&stored);
    assert!(
        !stored.contains(&session.secret),
        "the session secret is stored only hashed"
    );
    assert!(!stored.contains(p.password.as_str()));
    t.stop().await;
}

#[tokio::test]
async fn only_staff_administer_persons() {
    let t = TestDesk::start().await;
    fix_clock(&t);
    let p = enrolled_manager(&t, "mgr@nic.xa.example").await;
    let s = login_ok(&t, &p).await;
    let invite = json!({ "name": "Eve", "email": "eve@evil.example", "role": "staff" });
    for token in [&t.tokens.admin, &t.tokens.auditor] {
        let (status, _) = t.post(token, "/v1/persons", invite.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = t.get(token, "/v1/persons").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let (status, _) = post_with(&t, &s, "/v1/persons", invite.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a manager invites nobody");
    let (status, _) = post_with(
        &t,
        &s,
        &format!("/v1/persons/{}/reset-factor", p.id),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, list) = t.get(&t.tokens.staff, "/v1/persons").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["persons"].as_array().map(Vec::len), Some(1));
    assert!(!list.to_string().contains("argon2"), "no hash is shown");
    // A second account for the same e-mail, a TLD that does not exist, tlds for staff.
    let (status, _) = t
        .post(
            &t.tokens.staff,
            "/v1/persons",
            json!({ "name": "Ana", "email": "MGR@nic.xa.example", "role": "manager" }),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = t
        .post(&t.tokens.staff, "/v1/persons", json!({ "name": "Ana", "email": "a2@nic.xa.example", "role": "manager", "tlds": [{ "tld": "zz", "groups": ["admin"] }] }))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = t
        .post(&t.tokens.staff, "/v1/persons", json!({ "name": "Sam", "email": "s@desk.example", "role": "staff", "tlds": [{ "tld": "xa", "groups": ["admin"] }] }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, list) = t.get(&t.tokens.staff, "/v1/persons").await;
    assert_eq!(
        list["persons"].as_array().map(Vec::len),
        Some(1),
        "nothing was added"
    );
    // A staff person (the first one comes from the CLI) administers persons in a session.
    let sam = enrolled(
        &t,
        json!({ "name": "Sam Staff", "email": "sam@desk.example", "role": "staff" }),
    )
    .await;
    let staff = login_ok(&t, &sam).await;
    let (status, invited) = post_with(
        &t,
        &staff,
        "/v1/persons",
        json!({ "name": "Ode", "email": "ode@audit.example", "role": "auditor" }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{invited}");
    let (_, events) = t
        .get(&t.tokens.staff, "/v1/audit?kind=person-invited")
        .await;
    let last = events["events"]
        .as_array()
        .and_then(|e| e.last())
        .expect("an event");
    assert_eq!(last["actor"]["kind"], "person");
    assert_eq!(last["actor"]["id"], sam.id.as_str());
    assert_eq!(last["actor"]["role"], "staff");
    // Its token may carry manage-persons (a manager's may not), and nothing else.
    let (status, token) = post_with(
        &t,
        &staff,
        "/v1/tokens",
        json!({ "permissions": ["manage-persons"], "expires_in_days": 1 }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{token}");
    let secret = token["secret"].as_str().expect("secret");
    assert_eq!(t.get(secret, "/v1/persons").await.0, StatusCode::OK);
    assert_eq!(t.get(secret, "/v1/audit").await.0, StatusCode::FORBIDDEN);
    t.stop().await;
}

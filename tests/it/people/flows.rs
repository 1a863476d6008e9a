//! The flows: invitation to login, codes and their window, recovery codes, sessions, tokens,
//! password change, disabling and resetting the factor.

use super::*;
use crate::daemon::{delegation, healthy, NS1, NS2};

#[tokio::test]
async fn invitation_enrolment_login_and_the_code_window() {
    let t = TestDesk::start().await;
    fix_clock(&t);
    let (secret, invited) = invite(
        &t,
        json!({ "name": "Ana Alves", "email": "Ana@Nic.XA.example", "role": "manager",
                "tlds": [{ "tld": "xa", "groups": ["admin", "tech"] }] }),
    )
    .await;
    assert_eq!(invited["person"]["status"], "invited");
    assert_eq!(invited["person"]["email"], "ana@nic.xa.example");
    let id = invited["person"]["id"].as_str().expect("id").to_string();
    assert!(id.starts_with("p-") && id.len() == 18, "{id}");
    let path = format!("/v1/invitations/{secret}");
    let (status, shown) = t.call(Method::GET, None, &path, None).await;
    assert_eq!(
        (status, shown["step"].as_str()),
        (StatusCode::OK, Some("password"))
    );

    // Password rules, then step 1.
    let (status, short) = t
        .call(
            Method::POST,
            None,
            &path,
            Some(&json!({ "password": "short" })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{short}");
    let (status, extra) = t
        .call(
            Method::POST,
            None,
            &path,
            Some(&json!({ "password": PASSWORD, "admin": true })),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "unknown fields are refused: {extra}"
    );
    let (status, set) = t
        .call(
            Method::POST,
            None,
            &path,
            Some(&json!({ "password": PASSWORD })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{set}");
    let totp = set["totp_secret"].as_str().expect("secret").to_string();

    // Step 2: a wrong code, then the right one.
    let enrol = format!("{path}/enrol");
    let (status, wrong) = t
        .call(
            Method::POST,
            None,
            &enrol,
            Some(&json!({ "code": "000000" })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{wrong}");
    let enrolled_at = t.desk.clock.now();
    let code0 = code_at(&totp, enrolled_at);
    let (status, done) = t
        .call(Method::POST, None, &enrol, Some(&json!({ "code": code0 })))
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["recovery_codes"].as_array().map(Vec::len), Some(10));
    // The invitation is used up.
    let (status, _) = t.call(Method::GET, None, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = t
        .call(
            Method::POST,
            None,
            &path,
            Some(&json!({ "password": PASSWORD })),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let email = "ana@nic.xa.example";
    let attempt = |code: String| json!({ "email": email, "password": PASSWORD, "code": code });
    // The enrolment's code is used: not again.
    let (status, _, text, _) = login(&t, attempt(code0.clone()), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "reused code: {text}");
    // A wrong code.
    let (status, _, _, _) = login(&t, attempt("123456".into()), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Two steps later, the code of one step ago is accepted.
    t.desk.clock.advance(Duration::seconds(60));
    let one_old = code_at(&totp, t.desk.clock.now() - Duration::seconds(30));
    let (status, _, text, session) = login(&t, attempt(one_old.clone()), None).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let session = session.expect("cookie");
    // ... and only once.
    let (status, _, _, _) = login(&t, attempt(one_old), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a code is used once");
    // A code two steps old is refused.
    t.desk.clock.advance(Duration::seconds(90));
    let two_old = code_at(&totp, t.desk.clock.now() - Duration::seconds(60));
    let (status, _, _, _) = login(&t, attempt(two_old), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "two steps old");
    let current = code_at(&totp, t.desk.clock.now());
    let (status, _, text, _) = login(&t, attempt(current), None).await;
    assert_eq!(status, StatusCode::OK, "{text}");

    let (status, me) = get_with(&t, &session, "/v1/me").await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["id"], id.as_str());
    assert_eq!(me["role"], "manager");
    assert_eq!(me["factor_enrolled"], true);
    assert_eq!(me["via"], "session");
    assert_eq!(
        me["tlds"],
        json!([{ "tld": "xa", "groups": ["admin", "tech"] }])
    );
    t.stop().await;
}

#[tokio::test]
async fn a_recovery_code_works_once_and_never_again() {
    let t = TestDesk::start().await;
    fix_clock(&t);
    let p = enrolled_manager(&t, "rec@nic.xa.example").await;
    let body = json!({ "email": p.email, "password": p.password,
                       "recovery_code": p.recovery[3].to_lowercase() });
    let (status, _, text, _) = login(&t, body.clone(), None).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let (status, _, _, _) = login(&t, body, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "used");
    let (status, _, _, _) = login(
        &t,
        json!({ "email": p.email, "password": p.password, "recovery_code": "AAAA-BBBB-CCCC-DDDD" }),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "not one of hers");
    let (status, view) = t
        .get(&t.tokens.staff, &format!("/v1/persons/{}", p.id))
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["recovery_codes_left"], 9);
    t.stop().await;
}

#[tokio::test]
async fn sessions_expire_idle_and_absolute_rotate_and_log_out() {
    let t = TestDesk::start().await;
    fix_clock(&t);
    let p = enrolled_manager(&t, "sess@nic.xa.example").await;

    // Idle: 29 minutes apart is alive, 31 is not.
    let a = login_ok(&t, &p).await;
    t.desk.clock.advance(Duration::minutes(29));
    assert_eq!(get_with(&t, &a, "/v1/me").await.0, StatusCode::OK);
    t.desk.clock.advance(Duration::minutes(29));
    assert_eq!(get_with(&t, &a, "/v1/me").await.0, StatusCode::OK);
    t.desk.clock.advance(Duration::minutes(31));
    assert_eq!(get_with(&t, &a, "/v1/me").await.0, StatusCode::UNAUTHORIZED);

    // Absolute: busy, but 12 hours after login it ends.
    let b = login_ok(&t, &p).await;
    for _ in 0..28 {
        t.desk.clock.advance(Duration::minutes(25));
        assert_eq!(get_with(&t, &b, "/v1/me").await.0, StatusCode::OK);
    }
    t.desk.clock.advance(Duration::minutes(25));
    assert_eq!(get_with(&t, &b, "/v1/me").await.0, StatusCode::UNAUTHORIZED);

    // Rotation: a login that presents a cookie ends that session.
    let c = login_ok(&t, &p).await;
    let code = next_code(&t, &p.totp);
    let (status, headers, text, d) = login(
        &t,
        json!({ "email": p.email, "password": p.password, "code": code }),
        Some(&c),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let cookie = headers
        .get(SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .expect("cookie")
        .to_string();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "no TLS here: {cookie}");
    let d = d.expect("new session");
    assert_ne!(c.secret, d.secret);
    assert_eq!(get_with(&t, &c, "/v1/me").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(get_with(&t, &d, "/v1/me").await.0, StatusCode::OK);

    // Logout ends it.
    let (status, _) = post_with(&t, &d, "/v1/logout", json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(get_with(&t, &d, "/v1/me").await.0, StatusCode::UNAUTHORIZED);
    t.stop().await;
}

#[tokio::test]
async fn password_change_disable_and_factor_reset_end_sessions_and_tokens() {
    let t = TestDesk::start().await;
    fix_clock(&t);
    let p = enrolled_manager(&t, "pw@nic.xa.example").await;
    let s1 = login_ok(&t, &p).await;
    let s2 = login_ok(&t, &p).await;
    let (status, token) = post_with(
        &t,
        &s1,
        "/v1/tokens",
        json!({ "permissions": ["read"], "expires_in_days": 30 }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{token}");
    let secret = token["secret"].as_str().expect("secret").to_string();
    assert_eq!(
        t.get(&secret, "/v1/me").await.0,
        StatusCode::FORBIDDEN,
        "me needs own-account"
    );

    // A wrong current password changes nothing.
    let code = next_code(&t, &p.totp);
    let (status, _) = post_with(
        &t,
        &s1,
        "/v1/me/password",
        json!({ "current_password": "not the password", "new_password": "another long passphrase", "code": code }),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(get_with(&t, &s2, "/v1/me").await.0, StatusCode::OK);

    let code = next_code(&t, &p.totp);
    let (status, changed) = post_with(
        &t,
        &s1,
        "/v1/me/password",
        json!({ "current_password": p.password, "new_password": "another long passphrase", "code": code }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["sessions_ended"], 2);
    assert_eq!(changed["tokens_revoked"], 1);
    for s in [&s1, &s2] {
        assert_eq!(get_with(&t, s, "/v1/me").await.0, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        t.get(&secret, "/v1/requests").await.0,
        StatusCode::UNAUTHORIZED
    );
    let code = next_code(&t, &p.totp);
    let (status, _, _, _) = login(
        &t,
        json!({ "email": p.email, "password": p.password, "code": code }),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the old password is gone");
    let p = Enrolled {
        password: "another long passphrase".into(),
        ..p
    };
    let s3 = login_ok(&t, &p).await;

    // Disabled: the session dies and logins are refused like any wrong password.
    let (status, disabled) = t
        .post(
            &t.tokens.staff,
            &format!("/v1/persons/{}/disable", p.id),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{disabled}");
    assert_eq!(disabled["sessions_ended"], 1);
    assert_eq!(
        get_with(&t, &s3, "/v1/me").await.0,
        StatusCode::UNAUTHORIZED
    );
    let code = next_code(&t, &p.totp);
    let (status, _, text, _) = login(
        &t,
        json!({ "email": p.email, "password": p.password, "code": code }),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        json_of(&text)["message"],
        "the e-mail, password or code is not right"
    );

    // Reset the factor: invited again, a new link, a new secret.
    let (status, reset) = t
        .post(
            &t.tokens.staff,
            &format!("/v1/persons/{}/reset-factor", p.id),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reset}");
    assert_eq!(reset["person"]["status"], "invited");
    let link = reset["link"].as_str().expect("link");
    let secret = link.rsplit_once("/v1/invitations/").expect("link").1;
    let (status, set) = t
        .call(
            Method::POST,
            None,
            &format!("/v1/invitations/{secret}"),
            Some(&json!({ "password": PASSWORD })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{set}");
    let totp = set["totp_secret"].as_str().expect("secret").to_string();
    assert_ne!(totp, p.totp);
    let code = next_code(&t, &totp);
    let (status, _) = t
        .call(
            Method::POST,
            None,
            &format!("/v1/invitations/{secret}/enrol"),
            Some(&json!({ "code": code })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let p = Enrolled {
        password: PASSWORD.into(),
        totp,
        ..p
    };
    login_ok(&t, &p).await;
    t.stop().await;
}

#[tokio::test]
async fn a_token_limited_to_one_tld_and_one_permission() {
    let t = TestDesk::start().await;
    fix_clock(&t);
    let xa_ticket = t.submit(healthy()).await;
    let (status, created) = t
        .post(
            &t.tokens.other,
            "/v1/requests",
            json!({ "tld": "xb", "proposal": delegation(&[("ns1.nic.xb", NS1), ("ns2.nic.xb", NS2)]) }),
        )
        .await;
    assert!(status.is_success(), "{created}");
    let xb_ticket = created["ticket"].as_str().expect("ticket").to_string();

    let p = enrolled_manager(&t, "tok@nic.xa.example").await;
    // Invited for xa, the manager is authorised once xa's authority is in force.
    in_force(&t, "xa", &[(&p, "admin")]);
    let s = login_ok(&t, &p).await;
    // As a session, the manager reads xa's request but not xb's.
    assert_eq!(
        get_with(&t, &s, &format!("/v1/requests/{xa_ticket}"))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        get_with(&t, &s, &format!("/v1/requests/{xb_ticket}"))
            .await
            .0,
        StatusCode::FORBIDDEN
    );

    // No token beyond the person: not a permission of managers, not their TLD, no expiry
    // beyond the maximum.
    for (body, want) in [
        (
            json!({ "permissions": ["read-audit"], "expires_in_days": 30 }),
            StatusCode::FORBIDDEN,
        ),
        (
            json!({ "permissions": ["manage-persons"], "expires_in_days": 30 }),
            StatusCode::FORBIDDEN,
        ),
        (
            json!({ "permissions": ["read"], "tlds": ["xb"], "expires_in_days": 30 }),
            StatusCode::FORBIDDEN,
        ),
        (
            json!({ "permissions": ["read"], "expires_in_days": 366 }),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({ "permissions": ["read"], "expires_in_days": 0 }),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({ "permissions": ["fly"], "expires_in_days": 1 }),
            StatusCode::BAD_REQUEST,
        ),
        (json!({ "permissions": ["read"] }), StatusCode::BAD_REQUEST),
    ] {
        let (status, value) = post_with(&t, &s, "/v1/tokens", body.clone()).await;
        assert_eq!(status, want, "{body}: {value}");
    }

    let (status, token) = post_with(
        &t,
        &s,
        "/v1/tokens",
        json!({ "permissions": ["read"], "tlds": ["xa"], "expires_in_days": 7 }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{token}");
    let secret = token["secret"].as_str().expect("secret").to_string();
    assert!(secret.starts_with("rdp_"), "{secret}");
    let id = token["id"].as_str().expect("id").to_string();
    assert!(id.starts_with("ptok-"), "{id}");

    assert_eq!(
        t.get(&secret, &format!("/v1/requests/{xa_ticket}")).await.0,
        StatusCode::OK
    );
    assert_eq!(
        t.get(&secret, &format!("/v1/requests/{xb_ticket}")).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, refused) = t
        .post(
            &secret,
            &format!("/v1/requests/{xa_ticket}/confirm"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    // A token makes no tokens.
    let (status, _) = t
        .post(
            &secret,
            "/v1/tokens",
            json!({ "permissions": ["read"], "expires_in_days": 1 }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Listed, revoked, dead.
    let (status, list) = get_with(&t, &s, "/v1/tokens").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["tokens"][0]["id"], id.as_str());
    assert!(
        list.to_string().find("rdp_").is_none(),
        "no secret in the list"
    );
    let (status, _) = post_with(&t, &s, &format!("/v1/tokens/{id}/revoke"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        t.get(&secret, &format!("/v1/requests/{xa_ticket}")).await.0,
        StatusCode::UNAUTHORIZED
    );

    // The audit trail names the person as the actor of what the token did.
    let (_, events) = t
        .get(&t.tokens.staff, "/v1/audit?kind=person-token-issued")
        .await;
    assert_eq!(events["events"][0]["actor"]["kind"], "person", "{events}");
    t.stop().await;
}

/// `[accounts] auditor_factor_optional`: an auditor may then log in with a password alone;
/// a manager never.
#[test]
fn an_auditor_without_a_factor_only_when_the_settings_allow_it() {
    use rootdesk::desk::people::{LoginAttempt, LoginError, NewPerson};
    use rootdesk::desk::Desk;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = crate::daemon::demo_database(dir.path());
    let accounts = rootdesk::config::AccountsSettings {
        auditor_factor_optional: true,
        ..Default::default()
    };
    let desk =
        Desk::new(store, crate::daemon::settings(Default::default())).with_accounts(accounts);
    let cli = rootdesk::audit::Actor::cli();
    let invite = |email: &str, role: &str| {
        let invitation = desk
            .invite_person(
                &cli,
                None,
                NewPerson {
                    name: "Ode".into(),
                    email: email.into(),
                    role: role.into(),
                    tlds: Vec::new(),
                },
            )
            .expect("invite");
        let secret = invitation
            .link
            .rsplit_once("/v1/invitations/")
            .expect("link")
            .1
            .to_string();
        desk.set_invited_password(&secret, PASSWORD)
            .expect("password")
    };
    let set = invite("ode@audit.example", "auditor");
    assert_eq!(set.status, rootdesk::people::Status::Active);
    assert!(set.totp_secret.is_none());
    let attempt = |email: &str| LoginAttempt {
        email: email.into(),
        password: PASSWORD.into(),
        ..Default::default()
    };
    desk.login(attempt("ode@audit.example"))
        .expect("an auditor without a factor");
    let set = invite("mia@nic.xa.example", "manager");
    assert_eq!(set.status, rootdesk::people::Status::Invited);
    assert!(set.totp_secret.is_some(), "managers always enrol a factor");
    assert!(matches!(
        desk.login(attempt("mia@nic.xa.example")),
        Err(LoginError::Invalid)
    ));
}

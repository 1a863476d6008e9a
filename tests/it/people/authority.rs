//! Per-TLD authority over real HTTP (issue 14): a TLD's contacts hand it to its persons, a
//! policy change needs the current policy, N-of-M approval with the exact count, special
//! handling verified by a second staff member, four eyes, and the authorisation matrix for
//! persons.

use reqwest::{Method, StatusCode};
use rootdesk::audit::Actor;
use rootdesk::workflow::Authority;
use serde_json::{json, Value};
use time::Duration;

use super::*;
use crate::daemon::{healthy, TestDesk};

/// A manager enrolled over HTTP, invited for `tld` in `group`.
async fn manager(t: &TestDesk, name: &str, tld: &str, group: &str) -> Enrolled {
    enrolled(
        t,
        json!({ "name": name, "email": format!("{name}@nic.{tld}.example"), "role": "manager",
                "tlds": [{ "tld": tld, "groups": [group] }] }),
    )
    .await
}

/// A staff member or auditor enrolled over HTTP.
async fn desk_person(t: &TestDesk, name: &str, role: &str) -> Enrolled {
    enrolled(
        t,
        json!({ "name": name, "email": format!("{name}@desk.example"), "role": role }),
    )
    .await
}

fn members(list: &[(&Enrolled, &str)]) -> Value {
    let mut map = serde_json::Map::new();
    for (p, group) in list {
        map.insert(p.id.clone(), json!([group]));
    }
    Value::Object(map)
}

/// Submits as a person's session; insists on 201 and returns the ticket.
async fn submit_as(t: &TestDesk, s: &Session, tld: &str, proposal: Value) -> String {
    let (status, value) = post_with(
        t,
        s,
        "/v1/requests",
        json!({ "tld": tld, "proposal": proposal }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{value}");
    value["ticket"].as_str().expect("ticket").to_string()
}

async fn act_as(
    t: &TestDesk,
    s: &Session,
    ticket: &str,
    action: &str,
    body: Value,
) -> (StatusCode, Value) {
    post_with(t, s, &format!("/v1/requests/{ticket}/{action}"), body).await
}

/// Staff (a person) approves, and the request reaches `implementation`.
async fn approve_to_implementation(t: &TestDesk, staff: &Session, ticket: &str) {
    let (status, value) = act_as(
        t,
        staff,
        ticket,
        "approve",
        json!({ "note": "looks right" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{value}");
    t.wait_for(ticket, "implementation").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_hand_over_then_policy_change_needs_the_old_policy_then_n_of_m() {
    let t = TestDesk::start().await;
    fix_clock(&t);
    let a1 = manager(&t, "a1", "xa", "admin").await;
    let a2 = manager(&t, "a2", "xa", "admin").await;
    let t1 = manager(&t, "t1", "xa", "tech").await;
    let t2 = manager(&t, "t2", "xa", "tech").await;
    let staff = desk_person(&t, "s1", "staff").await;
    let (s_a1, s_a2, s_t1) = (
        login_ok(&t, &a1).await,
        login_ok(&t, &a2).await,
        login_ok(&t, &t1).await,
    );
    let s_staff = login_ok(&t, &staff).await;

    // Invited persons do not act while xa's contacts run it.
    let (status, value) = post_with(
        &t,
        &s_a1,
        "/v1/requests",
        json!({ "tld": "xa", "proposal": healthy() }),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{value}");
    let (_, shown) = t.get(&t.tokens.staff, "/v1/tlds/xa/authority").await;
    assert_eq!(shown["model"], "contacts", "{shown}");

    // xa's contacts hand it to its persons: an authority request they both consent to.
    let all = members(&[(&a1, "admin"), (&a2, "admin"), (&t1, "tech"), (&t2, "tech")]);
    let value = t
        .ok(
            &t.tokens.admin,
            "/v1/requests",
            json!({ "tld": "xa", "proposal": { "kind": "authority", "authority": { "members": all, "policy": { "rules": {} } } } }),
        )
        .await;
    let handover = value["ticket"].as_str().expect("ticket").to_string();
    t.wait_for(&handover, "contact-confirmation").await;
    t.ok(
        &t.tokens.admin,
        &format!("/v1/requests/{handover}/confirm"),
        json!({}),
    )
    .await;
    t.ok(
        &t.tokens.tech,
        &format!("/v1/requests/{handover}/confirm"),
        json!({}),
    )
    .await;
    t.wait_for(&handover, "manual-review").await;
    approve_to_implementation(&t, &s_staff, &handover).await;
    let (status, value) = act_as(&t, &s_staff, &handover, "implement", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{value}");
    assert_eq!(value["state"], "completed");
    let (_, shown) = get_with(&t, &s_a1, "/v1/tlds/xa/authority").await;
    assert_eq!(shown["model"], "persons", "{shown}");
    assert_eq!(shown["authority"]["members"], all, "{shown}");

    // The desk cannot make someone xa's approver: an invitation for a TLD in force is refused,
    // whoever asks (a stolen staff token would otherwise enrol two approvers of its own).
    for body in [
        json!({ "name": "Mallory", "email": "mallory@evil.example", "role": "manager",
                "tlds": [{ "tld": "xa", "groups": ["admin"] }] }),
        json!({ "name": "Trent", "email": "trent@evil.example", "role": "manager",
                "tlds": [{ "tld": "xa", "groups": ["tech"] }] }),
    ] {
        let (status, value) = t.post(&t.tokens.staff, "/v1/persons", body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{value}");
    }
    let (_, shown) = get_with(&t, &s_a1, "/v1/tlds/xa/authority").await;
    assert_eq!(
        shown["authority"]["members"], all,
        "nobody was added: {shown}"
    );

    // From now on xa's contacts' tokens do not act for it, nor read its requests.
    let (status, value) = t
        .post(
            &t.tokens.admin,
            "/v1/requests",
            json!({ "tld": "xa", "proposal": healthy() }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{value}");
    let (_, listed) = t.get(&t.tokens.admin, "/v1/requests?tld=xa").await;
    assert_eq!(listed["requests"], json!([]), "{listed}");

    // A stricter policy needs the approvals of the current one (admin and tech).
    let stricter = json!({ "members": all, "policy": { "rules": {
        "delegation": { "approvals": 2, "at_least": { "tech": 1 }, "submitter_counts": false } } } });
    let change = submit_as(
        &t,
        &s_a1,
        "xa",
        json!({ "kind": "authority", "authority": stricter }),
    )
    .await;
    t.wait_for(&change, "contact-confirmation").await;
    let (status, value) = act_as(&t, &s_a1, &change, "confirm", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{value}");
    assert_eq!(
        value["state"], "contact-confirmation",
        "tech is still missing: {value}"
    );
    assert!(
        value["pending_consent_details"]
            .to_string()
            .contains("1 from tech"),
        "{value}"
    );
    let (status, _) = t
        .post(
            &t.tokens.tech,
            &format!("/v1/requests/{change}/confirm"),
            json!({}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a public contact's token approves nothing"
    );
    let (status, value) = act_as(&t, &s_t1, &change, "confirm", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{value}");
    assert_eq!(value["state"], "manual-review", "{value}");
    approve_to_implementation(&t, &s_staff, &change).await;
    let (status, value) = act_as(&t, &s_staff, &change, "implement", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{value}");

    // Under it, a delegation change needs two approvals, one from tech, not the submitter's.
    let ticket = submit_as(&t, &s_a1, "xa", healthy()).await;
    let request = t.wait_for(&ticket, "contact-confirmation").await;
    assert_eq!(request["approval"]["rule"]["approvals"], 2, "{request}");
    // Each person whose approval could count is told, with no link that acts; the submitter
    // (who does not count) and the public contacts are not asked.
    let outbox = t
        .desk
        .read_store(|s| Ok(s.outbox(false, 1000)?))
        .expect("outbox");
    let asked: Vec<&str> = outbox
        .iter()
        .filter(|n| n.ticket.as_deref() == Some(ticket.as_str()))
        .filter(|n| n.subject.contains("your approval is needed"))
        .map(|n| n.recipient.as_str())
        .collect();
    let mut want = vec![a2.email.as_str(), t1.email.as_str(), t2.email.as_str()];
    want.sort();
    let mut got = asked.clone();
    got.sort();
    assert_eq!(got, want, "{asked:?}");
    assert!(
        outbox
            .iter()
            .filter(|n| n.ticket.as_deref() == Some(ticket.as_str()))
            .all(|n| !n.body.contains("/confirm/")),
        "no acting link for a persons' TLD"
    );
    let (status, value) = act_as(&t, &s_a1, &ticket, "confirm", json!({})).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the submitter's own approval: {value}"
    );
    let (status, value) = act_as(&t, &s_a2, &ticket, "confirm", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{value}");
    assert_eq!(
        value["state"], "contact-confirmation",
        "one of two: {value}"
    );
    let (status, _) = act_as(&t, &s_a2, &ticket, "confirm", json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "an approval counts once");
    let (status, value) = act_as(&t, &s_t1, &ticket, "confirm", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{value}");
    assert_eq!(
        value["state"], "manual-review",
        "two, one from tech: {value}"
    );
    let mut approvers = vec![a2.id.clone(), t1.id.clone()];
    approvers.sort();
    assert_eq!(value["approvals"], json!(approvers), "{value}");

    // The trail names the persons who approved.
    let (_, events) = t
        .get(
            &t.tokens.auditor,
            &format!("/v1/audit?request={ticket}&kind=request-consented"),
        )
        .await;
    let actors: Vec<&str> = events["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["actor"]["id"].as_str())
        .collect();
    assert_eq!(actors, vec![a2.id.as_str(), t1.id.as_str()], "{events}");
    assert!(events["events"]
        .as_array()
        .expect("events")
        .iter()
        .all(|e| e["actor"]["kind"] == "person"));
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn special_handling_and_four_eyes() {
    let t = TestDesk::start_with_settings(|s| s.four_eyes = true).await;
    fix_clock(&t);
    let admin = manager(&t, "ad", "xa", "admin").await;
    let tech = manager(&t, "te", "xa", "tech").await;
    let approver = desk_person(&t, "approver", "staff").await;
    let second = desk_person(&t, "second", "staff").await;
    let (s_admin, s_tech) = (login_ok(&t, &admin).await, login_ok(&t, &tech).await);
    let (s_approver, s_second) = (login_ok(&t, &approver).await, login_ok(&t, &second).await);

    // The desk's operator puts xa's authority in force, with special handling.
    let mut authority: Authority = serde_json::from_value(json!({
        "members": members(&[(&admin, "admin"), (&tech, "tech")]),
        "special_handling": "call the registry's NOC on +1 555 0100 and read back the NS set"
    }))
    .expect("authority");
    t.desk
        .establish_authority(&Actor::system("test"), "xa", &authority, None)
        .expect("in force");
    // A second set-up without a reason is refused: the authority changes by request.
    assert!(t
        .desk
        .establish_authority(&Actor::system("test"), "xa", &authority, None)
        .is_err());

    let ticket = submit_as(&t, &s_admin, "xa", healthy()).await;
    t.wait_for(&ticket, "contact-confirmation").await;
    for s in [&s_admin, &s_tech] {
        let (status, value) = act_as(&t, s, &ticket, "confirm", json!({})).await;
        assert_eq!(status, StatusCode::OK, "{value}");
    }
    t.wait_for(&ticket, "manual-review").await;
    approve_to_implementation(&t, &s_approver, &ticket).await;

    // The approver may neither verify nor (four eyes) implement.
    let note = json!({ "note": "called +1 555 0100, NS set read back" });
    let (status, value) = act_as(&t, &s_approver, &ticket, "verify", note.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{value}");
    let (status, value) = act_as(&t, &s_approver, &ticket, "implement", json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{value}");
    assert!(
        value["message"]
            .as_str()
            .unwrap_or("")
            .contains("four eyes"),
        "{value}"
    );
    // Not verified yet: nobody implements.
    let (status, value) = act_as(&t, &s_second, &ticket, "implement", json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{value}");
    assert!(
        value["message"]
            .as_str()
            .unwrap_or("")
            .contains("special handling"),
        "{value}"
    );
    // A TLD's person cannot verify for the desk.
    let (status, _) = act_as(&t, &s_admin, &ticket, "verify", note.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, value) = act_as(&t, &s_second, &ticket, "verify", note.clone()).await;
    assert_eq!(status, StatusCode::OK, "{value}");
    assert_eq!(value["verified_by"]["id"], second.id.as_str(), "{value}");
    let (status, value) = act_as(&t, &s_second, &ticket, "implement", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{value}");
    assert_eq!(value["state"], "completed");

    // Lifting special handling is an authority request: the TLD's approvals, then the
    // out-of-band verification it still asks for.
    authority.special_handling = None;
    let lift = submit_as(
        &t,
        &s_tech,
        "xa",
        json!({ "kind": "authority", "authority": serde_json::to_value(&authority).expect("json") }),
    )
    .await;
    t.wait_for(&lift, "contact-confirmation").await;
    let (status, value) = act_as(&t, &s_tech, &lift, "confirm", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{value}");
    assert_eq!(
        value["state"], "contact-confirmation",
        "admin still missing"
    );
    act_as(&t, &s_admin, &lift, "confirm", json!({})).await;
    t.wait_for(&lift, "manual-review").await;
    approve_to_implementation(&t, &s_approver, &lift).await;
    let (status, _) = act_as(&t, &s_second, &lift, "implement", json!({})).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "lifting it is verified out of band too"
    );
    act_as(&t, &s_second, &lift, "verify", note).await;
    let (status, value) = act_as(&t, &s_second, &lift, "implement", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{value}");
    let (_, shown) = t.get(&t.tokens.staff, "/v1/tlds/xa/authority").await;
    assert!(
        shown["authority"].get("special_handling").is_none(),
        "{shown}"
    );
    t.stop().await;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Nobody,
    /// An authorised person of xa, by session.
    Own,
    /// The same person's token narrowed to `read` on xa.
    OwnNarrowed,
    /// An authorised person of xb, by session.
    OtherTld,
    /// xa's public admin contact's role token (xa's authority is in force).
    PublicContact,
    Staff,
    Auditor,
    /// The token of a person disabled since.
    Disabled,
    /// A session left idle past its expiry.
    Expired,
}

const CALLERS: [Who; 9] = [
    Who::Nobody,
    Who::Own,
    Who::OwnNarrowed,
    Who::OtherTld,
    Who::PublicContact,
    Who::Staff,
    Who::Auditor,
    Who::Disabled,
    Who::Expired,
];

enum Credential {
    None,
    Bearer(String),
    Session(Session),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorisation_matrix_for_persons() {
    use StatusCode as S;
    let t = TestDesk::start().await;
    fix_clock(&t);
    let own = manager(&t, "own", "xa", "admin").await;
    let own_tech = manager(&t, "owntech", "xa", "tech").await;
    let other = manager(&t, "other", "xb", "admin").await;
    let other_tech = manager(&t, "othertech", "xb", "tech").await;
    let gone = manager(&t, "gone", "xa", "tech").await;
    let idle = manager(&t, "idle", "xa", "tech").await;
    let staff = desk_person(&t, "staff", "staff").await;
    let auditor = desk_person(&t, "auditor", "auditor").await;
    for (tld, list) in [
        (
            "xa",
            vec![
                (&own, "admin"),
                (&own_tech, "tech"),
                (&gone, "tech"),
                (&idle, "tech"),
            ],
        ),
        ("xb", vec![(&other, "admin"), (&other_tech, "tech")]),
    ] {
        let authority: Authority =
            serde_json::from_value(json!({ "members": members(&list) })).expect("authority");
        t.desk
            .establish_authority(&Actor::system("test"), tld, &authority, None)
            .expect("in force");
    }
    let s_own = login_ok(&t, &own).await;
    let s_other = login_ok(&t, &other).await;
    let s_staff = login_ok(&t, &staff).await;
    let s_auditor = login_ok(&t, &auditor).await;
    let s_gone = login_ok(&t, &gone).await;
    let s_idle = login_ok(&t, &idle).await;
    let narrowed = {
        let (status, v) = post_with(
            &t,
            &s_own,
            "/v1/tokens",
            json!({ "permissions": ["read"], "tlds": ["xa"], "expires_in_days": 7 }),
        )
        .await;
        assert_eq!(status, S::CREATED, "{v}");
        v["secret"].as_str().expect("secret").to_string()
    };
    let gone_token = {
        let (status, v) = post_with(
            &t,
            &s_gone,
            "/v1/tokens",
            json!({ "permissions": ["read", "confirm"], "expires_in_days": 7 }),
        )
        .await;
        assert_eq!(status, S::CREATED, "{v}");
        v["secret"].as_str().expect("secret").to_string()
    };
    let (status, v) = t
        .post(
            &t.tokens.staff,
            &format!("/v1/persons/{}/disable", gone.id),
            json!({}),
        )
        .await;
    assert_eq!(status, S::OK, "{v}");
    let ticket = submit_as(&t, &s_own, "xa", healthy()).await;
    t.wait_for(&ticket, "contact-confirmation").await;
    // Everyone but `idle` stays active while the clock passes the idle expiry.
    for _ in 0..2 {
        t.desk.clock.advance(Duration::minutes(20));
        for s in [&s_own, &s_other, &s_staff, &s_auditor] {
            assert_eq!(get_with(&t, s, "/v1/me").await.0, S::OK);
        }
    }
    let credential = |who: Who| match who {
        Who::Nobody => Credential::None,
        Who::Own => Credential::Session(s_own.clone()),
        Who::OwnNarrowed => Credential::Bearer(narrowed.clone()),
        Who::OtherTld => Credential::Session(s_other.clone()),
        Who::PublicContact => Credential::Bearer(t.tokens.admin.clone()),
        Who::Staff => Credential::Session(s_staff.clone()),
        Who::Auditor => Credential::Session(s_auditor.clone()),
        Who::Disabled => Credential::Bearer(gone_token.clone()),
        Who::Expired => Credential::Session(s_idle.clone()),
    };
    let unauthenticated = |who: Who| matches!(who, Who::Nobody | Who::Disabled | Who::Expired);

    // (method, path, body, expected status per caller). Allowed callers of an action send a
    // body with an unknown field: they reach the body check (400) and nothing changes.
    type Expect = Box<dyn Fn(Who) -> S>;
    let bogus = json!({ "bogus": 1 });
    let request = format!("/v1/requests/{ticket}");
    let readers = move |who: Who| match who {
        w if unauthenticated(w) => S::UNAUTHORIZED,
        Who::Own | Who::OwnNarrowed | Who::Staff | Who::Auditor => S::OK,
        _ => S::FORBIDDEN,
    };
    let mut cases: Vec<(Method, String, Option<Value>, Expect)> = vec![
        (Method::GET, request.clone(), None, Box::new(readers)),
        (
            Method::GET,
            format!("{request}/checks"),
            None,
            Box::new(readers),
        ),
        (
            Method::GET,
            "/v1/requests".into(),
            None,
            Box::new(move |w| match w {
                w if unauthenticated(w) => S::UNAUTHORIZED,
                _ => S::OK,
            }),
        ),
        (
            Method::GET,
            "/v1/audit".into(),
            None,
            Box::new(move |w| match w {
                w if unauthenticated(w) => S::UNAUTHORIZED,
                Who::Staff | Who::Auditor => S::OK,
                _ => S::FORBIDDEN,
            }),
        ),
        (
            Method::GET,
            "/v1/tlds/xa/authority".into(),
            None,
            Box::new(move |w| match w {
                w if unauthenticated(w) => S::UNAUTHORIZED,
                Who::Own | Who::Staff | Who::Auditor => S::OK,
                _ => S::FORBIDDEN,
            }),
        ),
        (
            Method::POST,
            "/v1/requests".into(),
            Some(json!({ "tld": "xa", "proposal": healthy() })),
            Box::new(move |w| match w {
                w if unauthenticated(w) => S::UNAUTHORIZED,
                // One delegation request is open already.
                Who::Own | Who::Staff => S::CONFLICT,
                _ => S::FORBIDDEN,
            }),
        ),
    ];
    for action in ["amend", "withdraw", "answer", "confirm", "decline"] {
        cases.push((
            Method::POST,
            format!("{request}/{action}"),
            Some(bogus.clone()),
            Box::new(move |w| match w {
                w if unauthenticated(w) => S::UNAUTHORIZED,
                Who::Own => S::BAD_REQUEST,
                _ => S::FORBIDDEN,
            }),
        ));
    }
    for action in [
        "approve",
        "reject",
        "ask",
        "evaluate",
        "implement",
        "verify",
    ] {
        cases.push((
            Method::POST,
            format!("{request}/{action}"),
            Some(bogus.clone()),
            Box::new(move |w| match w {
                w if unauthenticated(w) => S::UNAUTHORIZED,
                Who::Staff => S::BAD_REQUEST,
                _ => S::FORBIDDEN,
            }),
        ));
    }

    let mut failures = Vec::new();
    let mut cells = 0;
    for (method, path, body, expected) in &cases {
        for who in CALLERS {
            let (bearer, session) = match credential(who) {
                Credential::None => (None, None),
                Credential::Bearer(b) => (Some(b), None),
                Credential::Session(s) => (None, Some(s)),
            };
            let csrf = session.as_ref().map(|s| s.csrf.clone());
            let (status, _, text) = send(
                &t,
                method.clone(),
                path,
                bearer.as_deref(),
                session.as_ref(),
                csrf.as_deref(),
                body.as_ref(),
            )
            .await;
            cells += 1;
            let want = expected(who);
            if status != want {
                failures.push(format!(
                    "{method} {path} as {who:?}: {status}, expected {want}: {text}"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {cells} cells wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // No view across TLDs: xb's person and xa's public contact list none of xa's requests.
    for credential in [
        Credential::Session(s_other.clone()),
        Credential::Bearer(t.tokens.admin.clone()),
    ] {
        let (bearer, session) = match credential {
            Credential::Bearer(b) => (Some(b), None),
            Credential::Session(s) => (None, Some(s)),
            Credential::None => (None, None),
        };
        let (status, _, text) = send(
            &t,
            Method::GET,
            "/v1/requests?tld=xa",
            bearer.as_deref(),
            session.as_ref(),
            None,
            None,
        )
        .await;
        assert_eq!(status, S::OK);
        assert_eq!(json_of(&text)["requests"], json!([]), "{text}");
    }
    // Nothing changed.
    let (_, now) = t.get(&t.tokens.staff, &request).await;
    assert_eq!(now["state"], "contact-confirmation");
    assert_eq!(now["revisions"].as_array().map(Vec::len), Some(1));
    assert_eq!(now["approvals"], Value::Null, "{now}");
    t.stop().await;
}

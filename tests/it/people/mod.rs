//! Persons over real HTTP (issue 14): invitation, password, TOTP enrolment, logins with codes
//! computed here at the desk's fixed clock, sessions and their expiry, person tokens, CSRF,
//! brute-force limits, and an audit trail without secrets.

mod authority;
mod cli;
mod flows;
mod matrix;
mod security;

use reqwest::header::{HeaderMap, COOKIE, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

use crate::daemon::TestDesk;

pub const PASSWORD: &str = "a long and sturdy passphrase";

/// A person enrolled through the HTTP flow.
pub struct Enrolled {
    pub id: String,
    pub email: String,
    pub password: String,
    pub totp: String,
    pub recovery: Vec<String>,
}

/// A logged-in session: the cookie's secret and the CSRF token.
#[derive(Clone)]
pub struct Session {
    pub secret: String,
    pub csrf: String,
}

/// Fixes the desk's clock on a 30-second step's tenth second.
pub fn fix_clock(t: &TestDesk) {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let at = OffsetDateTime::from_unix_timestamp(now / 30 * 30 + 10).expect("time");
    t.desk.clock.set(at);
}

/// The TOTP code of `secret` at `time`, computed with totp-rs (RFC 6238, SHA-1, 6 digits, 30 s).
pub fn code_at(secret: &str, time: OffsetDateTime) -> String {
    let bytes = data_encoding::BASE32_NOPAD
        .decode(secret.as_bytes())
        .expect("base32 secret");
    let totp = totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(30)
        .with_secret(bytes)
        .build()
        .expect("totp");
    totp.generate(u64::try_from(time.unix_timestamp()).expect("positive"))
        .to_string()
}

/// Advances the desk's clock to the next step and returns that step's code.
pub fn next_code(t: &TestDesk, secret: &str) -> String {
    t.desk.clock.advance(Duration::seconds(30));
    code_at(secret, t.desk.clock.now())
}

/// A request with optional bearer token, session cookie and CSRF header; the raw response.
pub async fn send(
    t: &TestDesk,
    method: Method,
    path: &str,
    bearer: Option<&str>,
    session: Option<&Session>,
    csrf: Option<&str>,
    body: Option<&Value>,
) -> (StatusCode, HeaderMap, String) {
    let mut request = t.http.request(method, format!("{}{path}", t.base));
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    if let Some(s) = session {
        request = request.header(COOKIE, format!("rootdesk_session={}", s.secret));
    }
    if let Some(csrf) = csrf {
        request = request.header("X-CSRF-Token", csrf);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.expect("HTTP request");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    (status, headers, text)
}

pub fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::String(text.to_string()))
}

/// GET with a session cookie.
pub async fn get_with(t: &TestDesk, s: &Session, path: &str) -> (StatusCode, Value) {
    let (status, _, text) = send(t, Method::GET, path, None, Some(s), None, None).await;
    (status, json_of(&text))
}

/// POST with a session cookie and its CSRF token.
pub async fn post_with(t: &TestDesk, s: &Session, path: &str, body: Value) -> (StatusCode, Value) {
    let (status, _, text) = send(
        t,
        Method::POST,
        path,
        None,
        Some(s),
        Some(&s.csrf),
        Some(&body),
    )
    .await;
    (status, json_of(&text))
}

/// Staff invites a person over HTTP (role token); returns the invitation's secret.
pub async fn invite(t: &TestDesk, body: Value) -> (String, Value) {
    let (status, value) = t.post(&t.tokens.staff, "/v1/persons", body).await;
    assert_eq!(status, StatusCode::CREATED, "{value}");
    let link = value["link"].as_str().expect("link");
    let secret = link
        .rsplit_once("/v1/invitations/")
        .expect("an invitation link")
        .1
        .to_string();
    (secret, value)
}

/// Invites a manager of xa (admin group) and enrols them: password, then a code.
pub async fn enrolled_manager(t: &TestDesk, email: &str) -> Enrolled {
    enrolled(
        t,
        json!({ "name": "Ana Alves", "email": email, "role": "manager",
                "tlds": [{ "tld": "xa", "groups": ["admin"] }] }),
    )
    .await
}

pub async fn enrolled(t: &TestDesk, body: Value) -> Enrolled {
    let email = body["email"].as_str().expect("email").to_string();
    let (secret, invited) = invite(t, body).await;
    let id = invited["person"]["id"].as_str().expect("id").to_string();
    let (status, set) = t
        .call(
            Method::POST,
            None,
            &format!("/v1/invitations/{secret}"),
            Some(&json!({ "password": PASSWORD })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{set}");
    let totp = set["totp_secret"]
        .as_str()
        .expect("totp secret")
        .to_string();
    assert!(set["otpauth_uri"]
        .as_str()
        .is_some_and(|u| u.starts_with("otpauth://totp/")));
    let code = code_at(&totp, t.desk.clock.now());
    let (status, done) = t
        .call(
            Method::POST,
            None,
            &format!("/v1/invitations/{secret}/enrol"),
            Some(&json!({ "code": code })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let recovery = done["recovery_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("code").to_string())
        .collect();
    Enrolled {
        id,
        email,
        password: PASSWORD.into(),
        totp,
        recovery,
    }
}

/// Logs in; returns the status, the body, and the session when one was given.
pub async fn login(
    t: &TestDesk,
    body: Value,
    presented: Option<&Session>,
) -> (StatusCode, HeaderMap, String, Option<Session>) {
    let (status, headers, text) = send(
        t,
        Method::POST,
        "/v1/login",
        None,
        presented,
        None,
        Some(&body),
    )
    .await;
    let session = headers
        .get(SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.strip_prefix("rootdesk_session="))
        .and_then(|c| c.split(';').next())
        .filter(|c| !c.is_empty())
        .map(|secret| Session {
            secret: secret.to_string(),
            csrf: json_of(&text)["csrf_token"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        });
    (status, headers, text, session)
}

/// Puts `tld`'s authority in force as the desk's operator would, with `members` and a policy
/// in which any one of them approves every class of change.
pub fn in_force(t: &TestDesk, tld: &str, members: &[(&Enrolled, &str)]) {
    let any_one = rootdesk::workflow::ApprovalRule {
        submit: Default::default(),
        approvals: 1,
        at_least: Default::default(),
        submitter_counts: true,
    };
    in_force_with(t, tld, members, any_one);
}

/// As [`in_force`], with `rule` for every class of change.
pub fn in_force_with(
    t: &TestDesk,
    tld: &str,
    members: &[(&Enrolled, &str)],
    rule: rootdesk::workflow::ApprovalRule,
) {
    use rootdesk::workflow::{Authority, ChangeClass, Policy};
    let any_one = rule;
    let authority = Authority {
        members: members
            .iter()
            .map(|(p, g)| (p.id.clone(), [g.to_string()].into_iter().collect()))
            .collect(),
        policy: Policy {
            rules: ChangeClass::ALL
                .into_iter()
                .map(|c| (c, any_one.clone()))
                .collect(),
        },
        special_handling: None,
    };
    t.desk
        .establish_authority(
            &rootdesk::audit::Actor::system("test"),
            tld,
            &authority,
            None,
        )
        .expect("authority in force");
}

/// Logs in with the next step's code; insists on success.
pub async fn login_ok(t: &TestDesk, p: &Enrolled) -> Session {
    let code = next_code(t, &p.totp);
    let (status, _, text, session) = login(
        t,
        json!({ "email": p.email, "password": p.password, "code": code }),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    session.expect("a session cookie")
}

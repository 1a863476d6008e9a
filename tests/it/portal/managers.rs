//! The login page and a TLD manager's pages over real HTTP: the daemon with the demo registry
//! and lab name servers on loopback (`daemon::TestDesk`), persons enrolled with TOTP as the
//! people tests do, xa's authority in force. A manager of one TLD cannot see or act on
//! another's pages by any URL; forms without their session's CSRF token change nothing; every
//! page carries the CSP; refused logins say one thing; `next` never leaves the site.
//!
//! [`ManagerDesk`] is the shared setup of these tests and of the browser journey
//! (`journey.rs`): xa run by Ana (admin) and Tom (tech) under a policy where one approval by
//! someone other than the submitter is enough, xb run by Bob, one staff person and one
//! auditor, all enrolled.

use std::collections::BTreeMap;

use reqwest::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE,
};
use reqwest::StatusCode;
use rootdesk::workflow::ApprovalRule;
use serde_json::json;

use crate::daemon::{TestDesk, DEAD, NS1, NS2};
use crate::people::{code_at, enrolled, fix_clock, in_force, in_force_with, Enrolled};

pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The daemon and the persons of the manager tests and the journey.
pub struct ManagerDesk {
    pub t: TestDesk,
    /// xa, group admin.
    pub ana: Enrolled,
    /// xa, group tech.
    pub tom: Enrolled,
    /// xb only.
    pub bob: Enrolled,
    /// Desk staff (for the staff half of the journey).
    pub staff: Enrolled,
    pub auditor: Enrolled,
}

impl ManagerDesk {
    pub async fn start() -> ManagerDesk {
        let t = TestDesk::start().await;
        fix_clock(&t);
        let manager = |name: &str, tld: &str, group: &str| {
            json!({ "name": name, "email": format!("{}@nic.{tld}.example", name.to_lowercase().replace(' ', ".")),
                    "role": "manager", "tlds": [{ "tld": tld, "groups": [group] }] })
        };
        let ana = enrolled(&t, manager("Ana Alves", "xa", "admin")).await;
        let tom = enrolled(&t, manager("Tom Tanaka", "xa", "tech")).await;
        let bob = enrolled(&t, manager("Bob Berg", "xb", "admin")).await;
        let staff = enrolled(
            &t,
            json!({ "name": "Sam Staff", "email": "sam@desk.example", "role": "staff" }),
        )
        .await;
        let auditor = enrolled(
            &t,
            json!({ "name": "Ada Auditor", "email": "ada@desk.example", "role": "auditor" }),
        )
        .await;
        // xa: one approval, not the submitter's own (so the other person must give it).
        let rule = ApprovalRule {
            submit: Default::default(),
            approvals: 1,
            at_least: Default::default(),
            submitter_counts: false,
        };
        in_force_with(&t, "xa", &[(&ana, "admin"), (&tom, "tech")], rule);
        in_force(&t, "xb", &[(&bob, "admin")]);
        ManagerDesk {
            t,
            ana,
            tom,
            bob,
            staff,
            auditor,
        }
    }

    /// The next TOTP step's code for `p` (the desk's clock moves on 30 s).
    pub fn code(&self, p: &Enrolled) -> String {
        self.t.desk.clock.advance(time::Duration::seconds(30));
        code_at(&p.totp, self.t.desk.clock.now())
    }

    pub async fn stop(self) {
        self.t.stop().await;
    }
}

/// The lab delegation of xa (both servers answer).
pub fn healthy_rows() -> Vec<(&'static str, &'static str)> {
    vec![("ns1.nic.xa", NS1), ("ns2.nic.xa", NS2)]
}

/// One server that never answers (ns3.nic.xa on DEAD).
pub fn broken_rows() -> Vec<(&'static str, &'static str)> {
    vec![("ns1.nic.xa", NS1), ("ns3.nic.xa", DEAD)]
}

/// A browser without a browser: cookies kept by hand, redirects not followed.
pub struct Web {
    http: reqwest::Client,
    base: String,
    cookies: BTreeMap<String, String>,
}

pub struct Page {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    /// The first form's CSRF token on the page.
    pub fn csrf(&self) -> String {
        self.body
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("no CSRF field in {}", self.body))
            .to_string()
    }

    pub fn location(&self) -> String {
        self.headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    }

    /// The page carries the portal's security headers and is not cached.
    pub fn assert_private_page(&self, what: &str) {
        assert_eq!(
            self.headers
                .get(CONTENT_SECURITY_POLICY)
                .and_then(|v| v.to_str().ok()),
            Some(CSP),
            "{what}: CSP"
        );
        assert_eq!(
            self.headers
                .get(CACHE_CONTROL)
                .and_then(|v| v.to_str().ok()),
            Some("private, no-store"),
            "{what}: cache"
        );
    }
}

impl Web {
    pub fn new(base: &str) -> Web {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Web {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            base: base.to_string(),
            cookies: BTreeMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let request = if self.cookies.is_empty() {
            request
        } else {
            request.header(COOKIE, self.cookie_header())
        };
        let response = request.send().await.expect("HTTP");
        let status = response.status();
        let headers = response.headers().clone();
        for set in headers.get_all(SET_COOKIE) {
            let Some((name, value)) = set
                .to_str()
                .ok()
                .and_then(|c| c.split(';').next())
                .and_then(|p| p.split_once('='))
            else {
                continue;
            };
            if value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_string(), value.to_string());
            }
        }
        let body = response.text().await.expect("body");
        Page {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let request = self.http.get(format!("{}{path}", self.base));
        self.send(request).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let body = serde_urlencoded::to_string(form).expect("form");
        let request = self
            .http
            .post(format!("{}{path}", self.base))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body);
        self.send(request).await
    }

    pub fn session(&self) -> Option<&String> {
        self.cookies.get("rootdesk_session")
    }

    /// Logs in through the login page (its anonymous CSRF token); the answer to the POST.
    pub async fn login(&mut self, d: &ManagerDesk, p: &Enrolled, next: &str) -> Page {
        let form = self.get("/login").await;
        let token = form.csrf();
        let code = d.code(p);
        self.post(
            "/login",
            &[
                ("csrf", &token),
                ("next", next),
                ("email", &p.email),
                ("password", &p.password),
                ("code", &code),
            ],
        )
        .await
    }

    /// Logs in and returns the session's CSRF token (from the logout form of `/my`).
    pub async fn login_ok(&mut self, d: &ManagerDesk, p: &Enrolled) -> String {
        let done = self.login(d, p, "").await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        assert!(self.session().is_some(), "a session cookie");
        let page = self.get("/my").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        page.csrf()
    }
}

/// The change form's fields for `rows` (no DS).
pub fn change_fields<'a>(
    csrf: &'a str,
    op: &'a str,
    rows: &'a [(String, String)],
) -> Vec<(String, String)> {
    let mut form = vec![
        ("csrf".to_string(), csrf.to_string()),
        ("op".to_string(), op.to_string()),
    ];
    for (i, (host, addrs)) in rows.iter().enumerate() {
        form.push((format!("ns{i}_host"), host.clone()));
        form.push((format!("ns{i}_addrs"), addrs.clone()));
    }
    form
}

fn owned(rows: &[(&str, &str)]) -> Vec<(String, String)> {
    rows.iter()
        .map(|(h, a)| (h.to_string(), a.to_string()))
        .collect()
}

async fn post_owned(web: &mut Web, path: &str, form: &[(String, String)]) -> Page {
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    web.post(path, &pairs).await
}

/// Submits the healthy lab delegation for xa through the change form; the new ticket.
pub async fn submit_healthy(web: &mut Web, csrf: &str) -> String {
    let rows = owned(&healthy_rows());
    let page = post_owned(
        web,
        "/my/tlds/xa/change",
        &change_fields(csrf, "submit", &rows),
    )
    .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let location = page.location();
    location
        .strip_prefix("/my/requests/")
        .unwrap_or_else(|| panic!("to the request's page: {location}"))
        .to_string()
}

async fn state_of(d: &ManagerDesk, ticket: &str) -> String {
    let (_, value) =
        d.t.get(&d.t.tokens.staff, &format!("/v1/requests/{ticket}"))
            .await;
    value["state"].as_str().unwrap_or_default().to_string()
}

async fn request_count(d: &ManagerDesk) -> usize {
    let (_, value) = d.t.get(&d.t.tokens.staff, "/v1/requests?limit=200").await;
    value["requests"].as_array().map_or(0, Vec::len)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_page_refuses_alike_and_follows_only_local_next() {
    let d = ManagerDesk::start().await;
    let mut web = Web::new(&d.t.base);

    let form = web.get("/login?next=/my/tlds/xa").await;
    assert_eq!(form.status, StatusCode::OK);
    form.assert_private_page("/login");
    assert!(
        form.body.contains("value=\"/my/tlds/xa\""),
        "next kept in the form"
    );

    // A wrong password and a wrong code read the same; no session is made.
    for (password, code) in [
        ("not the password".to_string(), d.code(&d.ana)),
        (d.ana.password.clone(), "000000".to_string()),
    ] {
        let token = web.get("/login").await.csrf();
        let refused = web
            .post(
                "/login",
                &[
                    ("csrf", &token),
                    ("next", ""),
                    ("email", &d.ana.email),
                    ("password", &password),
                    ("code", &code),
                ],
            )
            .await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.body);
        refused.assert_private_page("refused login");
        assert!(
            refused
                .body
                .contains("the e-mail, password or code is not right"),
            "{}",
            refused.body
        );
        assert!(web.session().is_none());
    }
    // An unknown account: the same words.
    let token = web.get("/login").await.csrf();
    let code = d.code(&d.ana);
    let unknown = web
        .post(
            "/login",
            &[
                ("csrf", &token),
                ("email", "nobody@nowhere.example"),
                ("password", "whatever it is"),
                ("code", &code),
            ],
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert!(unknown
        .body
        .contains("the e-mail, password or code is not right"));

    // The login form without its token, or with a made-up one: refused before any login.
    let code = d.code(&d.ana);
    for token in ["", "forged"] {
        let refused = web
            .post(
                "/login",
                &[
                    ("csrf", token),
                    ("email", &d.ana.email),
                    ("password", &d.ana.password),
                    ("code", &code),
                ],
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{token:?}");
        assert!(refused.headers.get("x-refusal").is_some());
        assert!(web.session().is_none());
    }

    // Open redirects: anything but a local path goes to the person's own pages.
    for next in [
        "//evil.example/",
        "https://evil.example/my",
        "/\\evil.example",
        "javascript:alert(1)",
    ] {
        let mut fresh = Web::new(&d.t.base);
        let done = fresh.login(&d, &d.ana, next).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{next}: {}", done.body);
        assert_eq!(done.location(), "/my", "{next}");
    }
    // Without `next`, each role goes to its own pages; staff have no manager pages.
    for (p, home) in [(&d.staff, "/desk"), (&d.auditor, "/audit"), (&d.bob, "/my")] {
        let mut fresh = Web::new(&d.t.base);
        assert_eq!(fresh.login(&d, p, "").await.location(), home);
        if home != "/my" {
            let my = fresh.get("/my").await;
            assert_eq!(my.status, StatusCode::FORBIDDEN, "{}", my.body);
            assert!(my.body.contains("for TLD managers"));
        }
    }
    // A local path is followed; the session works and the cookie is the API's.
    let done = web.login(&d, &d.ana, "/my/tlds/xa").await;
    assert_eq!(done.location(), "/my/tlds/xa");
    let cookie = done
        .headers
        .get(SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        cookie.starts_with("rootdesk_session=")
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let (status, me) = crate::people::get_with(
        &d.t,
        &crate::people::Session {
            secret: web.session().cloned().unwrap_or_default(),
            csrf: String::new(),
        },
        "/v1/me",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["id"], d.ana.id.as_str());
    // Logged in, /login goes on to the person's pages.
    assert_eq!(web.get("/login").await.location(), "/my");

    // Logout needs the session's token; then the session is over on the desk too.
    let page = web.get("/my").await;
    let csrf = page.csrf();
    let secret = web.session().cloned().unwrap_or_default();
    let refused = web.post("/logout", &[("csrf", "")]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(
        web.get("/my").await.status,
        StatusCode::OK,
        "still logged in"
    );
    let out = web.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.body);
    out.assert_private_page("/logout");
    assert!(web.session().is_none(), "the cookie is cleared");
    let (status, _) = crate::people::get_with(
        &d.t,
        &crate::people::Session {
            secret,
            csrf: String::new(),
        },
        "/v1/me",
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the session ended at the desk"
    );
    let again = web.get("/my/tlds/xa").await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    assert_eq!(again.location(), "/login?next=%2Fmy%2Ftlds%2Fxa");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_login_is_told_politely_when_to_come_back() {
    let d = ManagerDesk::start().await;
    let mut web = Web::new(&d.t.base);
    let mut last = None;
    for _ in 0..8 {
        let token = web.get("/login").await.csrf();
        let page = web
            .post(
                "/login",
                &[
                    ("csrf", &token),
                    ("email", &d.bob.email),
                    ("password", "wrong wrong wrong"),
                    ("code", "123456"),
                ],
            )
            .await;
        let throttled = page.status == StatusCode::TOO_MANY_REQUESTS;
        last = Some(page);
        if throttled {
            break;
        }
    }
    let page = last.expect("attempts");
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS, "{}", page.body);
    assert!(page.headers.get("retry-after").is_some());
    assert!(
        page.body.contains("please try again in about"),
        "{}",
        page.body
    );
    page.assert_private_page("throttled login");
    d.stop().await;
}

/// Every `/my` route, GET and POST, for a TLD and a request of another TLD: 404 with nothing of
/// the other TLD's data, and nothing changes. The owner's own pages work, with the CSP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_sees_and_acts_for_their_own_tlds_only() {
    let d = ManagerDesk::start().await;
    let mut ana = Web::new(&d.t.base);
    let ana_csrf = ana.login_ok(&d, &d.ana).await;

    // Ana's own pages.
    let my = ana.get("/my").await;
    my.assert_private_page("/my");
    assert!(
        my.body.contains("/my/tlds/xa") && !my.body.contains("/my/tlds/xb"),
        "{}",
        my.body
    );
    let tld = ana.get("/my/tlds/xa").await;
    assert_eq!(tld.status, StatusCode::OK, "{}", tld.body);
    tld.assert_private_page("/my/tlds/xa");
    for text in [
        "ns1.nic.xa",
        "198.51.100.1",
        "12345",
        "Ana Alves",
        "Tom Tanaka",
        "1 approval, not counting the submitter",
    ] {
        assert!(tld.body.contains(text), "{text} on xa's page");
    }
    let change = ana.get("/my/tlds/xa/change").await;
    assert_eq!(change.status, StatusCode::OK);
    change.assert_private_page("/my/tlds/xa/change");
    assert!(change.body.contains("value=\"ns2.nic.xa\""), "prefilled");

    // The pre-check of a broken delegation names the dead server; nothing is submitted.
    let before = request_count(&d).await;
    let rows = owned(&broken_rows());
    let checked = post_owned(
        &mut ana,
        "/my/tlds/xa/change",
        &change_fields(&ana_csrf, "check", &rows),
    )
    .await;
    assert_eq!(checked.status, StatusCode::OK, "{}", checked.body);
    checked.assert_private_page("pre-check");
    assert!(checked.body.contains("Pre-check of your proposal"));
    let ns3 = checked
        .body
        .split("Name server ns3.nic.xa")
        .nth(1)
        .expect("a section for ns3.nic.xa");
    assert!(
        ns3.split("</section>")
            .next()
            .is_some_and(|s| s.contains("error")),
        "ns3's findings: {ns3}"
    );
    assert!(
        checked
            .body
            .contains("removed</span> name server <code>ns2.nic.xa"),
        "the diff"
    );
    assert!(
        checked.body.contains("This removes every DS record"),
        "going unsigned is said"
    );
    assert_eq!(request_count(&d).await, before, "a check submits nothing");
    // Mistakes in the form are named, and nothing is checked.
    let bad = owned(&[("not a host!", "1.2.3.4")]);
    let refused = post_owned(
        &mut ana,
        "/my/tlds/xa/change",
        &change_fields(&ana_csrf, "submit", &bad),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.body.contains("Name server 1 (not a host!)"),
        "{}",
        refused.body
    );
    assert_eq!(request_count(&d).await, before);

    let ticket = submit_healthy(&mut ana, &ana_csrf).await;
    let page = ana.get(&format!("/my/requests/{ticket}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    page.assert_private_page("request page");
    let amend = ana.get(&format!("/my/requests/{ticket}/amend")).await;
    assert_eq!(amend.status, StatusCode::OK, "{}", amend.body);
    amend.assert_private_page("amend page");

    // Bob (xb) tries every route of xa and of Ana's request.
    let mut bob = Web::new(&d.t.base);
    let bob_csrf = bob.login_ok(&d, &d.bob).await;
    let bob_my = bob.get("/my").await;
    assert!(
        bob_my.body.contains("/my/tlds/xb")
            && !bob_my.body.contains("/my/tlds/xa")
            && !bob_my.body.contains(".xa<"),
        "{}",
        bob_my.body
    );
    assert!(!bob_my.body.contains(&ticket));
    let state_before = state_of(&d, &ticket).await;
    let count_before = request_count(&d).await;
    let secret_bits = [
        "ns1.nic.xa",
        "ns2.nic.xa",
        "198.51.100.1",
        "127.0.0.21",
        "Ana Alves",
        "Tom Tanaka",
        "12345",
    ];
    let gets = [
        "/my/tlds/xa".to_string(),
        "/my/tlds/xa/change".to_string(),
        "/my/tlds/XA".to_string(),
        format!("/my/requests/{ticket}"),
        format!("/my/requests/{ticket}/amend"),
    ];
    for path in &gets {
        let page = bob.get(path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}: {}", page.body);
        for bit in secret_bits {
            assert!(!page.body.contains(bit), "{path} leaks {bit}");
        }
        page.assert_private_page(path);
    }
    // The same answer as for what does not exist.
    let unknown = bob.get("/my/tlds/zz").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let rows = owned(&healthy_rows());
    let mut posts: Vec<(String, Vec<(String, String)>)> = vec![
        (
            "/my/tlds/xa/change".into(),
            change_fields(&bob_csrf, "submit", &rows),
        ),
        (
            "/my/tlds/xa/change".into(),
            change_fields(&bob_csrf, "check", &rows),
        ),
        (
            format!("/my/requests/{ticket}/amend"),
            change_fields(&bob_csrf, "submit", &rows),
        ),
    ];
    for action in ["confirm", "decline", "answer", "withdraw"] {
        posts.push((
            format!("/my/requests/{ticket}/{action}"),
            vec![
                ("csrf".into(), bob_csrf.clone()),
                ("reason".into(), "mine now".into()),
                ("answer".into(), "x".into()),
            ],
        ));
    }
    for (path, form) in &posts {
        let page = post_owned(&mut bob, path, form).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}: {}", page.body);
        for bit in secret_bits {
            assert!(!page.body.contains(bit), "{path} leaks {bit}");
        }
        page.assert_private_page(path);
    }
    assert_eq!(state_of(&d, &ticket).await, state_before, "nothing changed");
    assert_eq!(request_count(&d).await, count_before, "nothing submitted");
    d.stop().await;
}

/// Forms without the session's CSRF token, or with another session's, are refused (403) and
/// change nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_need_their_own_sessions_token() {
    let d = ManagerDesk::start().await;
    let mut ana = Web::new(&d.t.base);
    let ana_csrf = ana.login_ok(&d, &d.ana).await;
    let ticket = submit_healthy(&mut ana, &ana_csrf).await;
    d.t.wait_for(&ticket, "contact-confirmation").await;
    let mut tom = Web::new(&d.t.base);
    let tom_csrf = tom.login_ok(&d, &d.tom).await;
    let count = request_count(&d).await;
    let rows = owned(&healthy_rows());
    // Tom's forms with no token, an empty one, and Ana's (another session's) token.
    for token in [None, Some(""), Some(ana_csrf.as_str())] {
        let with = |mut form: Vec<(String, String)>| {
            form.retain(|(k, _)| k != "csrf");
            if let Some(t) = token {
                form.insert(0, ("csrf".into(), t.to_string()));
            }
            form
        };
        let cases = [
            (format!("/my/requests/{ticket}/confirm"), with(vec![])),
            (
                format!("/my/requests/{ticket}/withdraw"),
                with(vec![("reason".into(), "x".into())]),
            ),
            (
                format!("/my/requests/{ticket}/decline"),
                with(vec![("reason".into(), "x".into())]),
            ),
            (
                format!("/my/requests/{ticket}/amend"),
                with(change_fields("", "submit", &rows)),
            ),
            (
                "/my/tlds/xa/change".to_string(),
                with(change_fields("", "submit", &rows)),
            ),
            ("/logout".to_string(), with(vec![])),
        ];
        for (path, form) in &cases {
            let page = post_owned(&mut tom, path, form).await;
            assert_eq!(
                page.status,
                StatusCode::FORBIDDEN,
                "{path} with {token:?}: {}",
                page.body
            );
            assert!(
                page.body.contains("security token"),
                "{path}: {}",
                page.body
            );
        }
    }
    // A form sent from another site, with the right token: refused too.
    let cross = tom
        .send(
            tom.http
                .post(format!("{}/my/requests/{ticket}/confirm", d.t.base))
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header("sec-fetch-site", "cross-site")
                .body(format!("csrf={tom_csrf}")),
        )
        .await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    assert_eq!(
        state_of(&d, &ticket).await,
        "contact-confirmation",
        "nothing changed"
    );
    assert_eq!(request_count(&d).await, count);
    // With the right token Tom's approval goes through.
    let done = tom
        .post(
            &format!("/my/requests/{ticket}/confirm"),
            &[("csrf", &tom_csrf)],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    d.t.wait_for(&ticket, "manual-review").await;
    d.stop().await;
}

/// The person's actions on the request page, each through the desk as the API: amend (a new
/// revision, checked first), answer the desk's question, decline, withdraw.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amend_answer_decline_and_withdraw_from_the_request_page() {
    let d = ManagerDesk::start().await;
    let mut ana = Web::new(&d.t.base);
    let ana_csrf = ana.login_ok(&d, &d.ana).await;
    let mut tom = Web::new(&d.t.base);
    let tom_csrf = tom.login_ok(&d, &d.tom).await;

    // Amend: the form shows the latest revision; a check shows the report, submit a revision.
    let ticket = submit_healthy(&mut ana, &ana_csrf).await;
    d.t.wait_for(&ticket, "contact-confirmation").await;
    let page = ana.get(&format!("/my/requests/{ticket}")).await;
    assert!(
        page.body.contains(&format!("/my/requests/{ticket}/amend")),
        "an amend link"
    );
    let rows = owned(&[("ns1.nic.xa", NS1)]);
    let amend = format!("/my/requests/{ticket}/amend");
    let checked = post_owned(&mut ana, &amend, &change_fields(&ana_csrf, "check", &rows)).await;
    assert_eq!(checked.status, StatusCode::OK, "{}", checked.body);
    assert!(checked.body.contains("Pre-check of your proposal"));
    let done = post_owned(&mut ana, &amend, &change_fields(&ana_csrf, "submit", &rows)).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let (_, value) =
        d.t.get(&d.t.tokens.staff, &format!("/v1/requests/{ticket}"))
            .await;
    assert_eq!(
        value["revisions"].as_array().map(Vec::len),
        Some(2),
        "{value}"
    );
    // One server fails the desk's check: the page says to fix it; a third revision does.
    d.t.wait_for(&ticket, "awaiting-fix").await;
    let page = ana.get(&format!("/my/requests/{ticket}")).await;
    assert!(
        page.body
            .contains("amend the request with working name servers"),
        "{}",
        page.body
    );
    let rows = owned(&healthy_rows());
    let done = post_owned(&mut ana, &amend, &change_fields(&ana_csrf, "submit", &rows)).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);

    // Tom approves revision 3; the desk asks a question; Ana answers it on the page.
    d.t.wait_for(&ticket, "contact-confirmation").await;
    let ok = tom
        .post(
            &format!("/my/requests/{ticket}/confirm"),
            &[("csrf", &tom_csrf)],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    d.t.wait_for(&ticket, "manual-review").await;
    d.t.ok(
        &d.t.tokens.staff,
        &format!("/v1/requests/{ticket}/ask"),
        json!({ "question": "Why only one server?" }),
    )
    .await;
    let page = ana.get(&format!("/my/requests/{ticket}")).await;
    assert!(
        page.body.contains("Why only one server?") && page.body.contains("Send the answer"),
        "{}",
        page.body
    );
    let answered = ana
        .post(
            &format!("/my/requests/{ticket}/answer"),
            &[("csrf", &ana_csrf), ("answer", "A second one is coming")],
        )
        .await;
    assert_eq!(answered.status, StatusCode::SEE_OTHER, "{}", answered.body);
    let (_, value) =
        d.t.get(&d.t.tokens.staff, &format!("/v1/requests/{ticket}"))
            .await;
    assert_ne!(value["state"], "awaiting-info", "{value}");
    let timeline = ana.get(&format!("/my/requests/{ticket}")).await;
    assert!(
        timeline.body.contains("Answered: “A second one is coming”"),
        "{}",
        timeline.body
    );

    // Withdraw, with a reason; then the request is closed and offers nothing more.
    let withdrawn = ana
        .post(
            &format!("/my/requests/{ticket}/withdraw"),
            &[("csrf", &ana_csrf), ("reason", "changed our minds")],
        )
        .await;
    assert_eq!(
        withdrawn.status,
        StatusCode::SEE_OTHER,
        "{}",
        withdrawn.body
    );
    let closed = ana.get(&format!("/my/requests/{ticket}")).await;
    assert!(
        closed.body.contains("the request is closed"),
        "{}",
        closed.body
    );
    assert!(!closed.body.contains("What you can do"));
    // An action the state no longer takes: refused in words, nothing changes.
    let late = ana
        .post(
            &format!("/my/requests/{ticket}/withdraw"),
            &[("csrf", &ana_csrf), ("reason", "again")],
        )
        .await;
    assert_eq!(late.status, StatusCode::CONFLICT, "{}", late.body);
    assert!(late.body.contains("Nothing was changed"), "{}", late.body);

    // Decline: Tom declines a new request with a reason, which ends it.
    let second = submit_healthy(&mut ana, &ana_csrf).await;
    d.t.wait_for(&second, "contact-confirmation").await;
    let declined = tom
        .post(
            &format!("/my/requests/{second}/decline"),
            &[("csrf", &tom_csrf), ("reason", "not agreed with tech")],
        )
        .await;
    assert_eq!(declined.status, StatusCode::SEE_OTHER, "{}", declined.body);
    d.t.wait_for(&second, "declined").await;
    d.stop().await;
}

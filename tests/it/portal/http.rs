//! The portal with a plain HTTP client: the security headers on every page, the CSRF refusals,
//! the 404 page, and no personal data on public pages.

use reqwest::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, SET_COOKIE};
use reqwest::StatusCode;

use super::PortalDesk;

const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Every portal address, found or not, answers with the strict headers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_portal_page_carries_the_security_headers() {
    let desk = PortalDesk::simulated().await;
    let http = client();
    let tld = desk
        .desk
        .read_store(|s| Ok(s.tlds()?))
        .expect("tlds")
        .into_iter()
        .next()
        .expect("a TLD")
        .label;
    let pages = [
        ("/", 200),
        ("/tlds", 200),
        ("/tlds?type=cctld&q=a", 200),
        (&format!("/tlds/{}", tld.as_str()) as &str, 200),
        ("/tlds/no-such-tld", 404),
        ("/tlds/%00", 404),
        ("/changelog", 200),
        ("/changelog?month=2026-02", 200),
        ("/changelog?month=2026-13", 400),
        ("/turnaround", 200),
        ("/turnaround?by=kind", 200),
        ("/turnaround?by=tld", 400),
        ("/turnaround/chart.svg", 200),
        ("/assets/portal.css", 200),
        ("/no/such/page", 404),
    ];
    for (path, status) in pages {
        let response = http.get(desk.url(path)).send().await.expect("GET");
        assert_eq!(response.status().as_u16(), status, "GET {path}");
        let h = response.headers();
        assert_eq!(
            h.get(CONTENT_SECURITY_POLICY).map(|v| v.to_str().ok()),
            Some(Some(CSP)),
            "CSP of {path}"
        );
        assert_eq!(
            h.get("x-content-type-options")
                .and_then(|v| v.to_str().ok()),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(
            h.get("referrer-policy").and_then(|v| v.to_str().ok()),
            Some("no-referrer"),
            "{path}"
        );
        assert!(h.get(CACHE_CONTROL).is_some(), "cache header of {path}");
        let kind = h
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        if kind.starts_with("text/html") {
            let body = response.text().await.expect("body");
            assert!(!body.contains("<script"), "{path} holds a script");
            assert!(!body.contains("style="), "{path} holds inline style");
            assert!(body.contains("<main"), "{path} is not in the layout");
        }
    }
    // The API keeps its JSON errors.
    let api = http.get(desk.url("/v1/nothing")).send().await.expect("GET");
    assert_eq!(api.status(), StatusCode::NOT_FOUND);
    assert!(api
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.to_str().is_ok_and(|v| v.contains("json"))));
    desk.stop().await;
}

/// `application/x-www-form-urlencoded` of `pairs`.
fn form_body(pairs: &[(&str, String)]) -> String {
    let encode = |text: &str| {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The CSRF cookie and token of the home page's form.
async fn token_and_cookie(http: &reqwest::Client, desk: &PortalDesk) -> (String, String) {
    let response = http.get(desk.url("/")).send().await.expect("GET /");
    assert_eq!(
        response
            .headers()
            .get(CACHE_CONTROL)
            .and_then(|v| v.to_str().ok()),
        Some("private, no-store"),
        "a page with a token is never cached"
    );
    let cookie = response
        .headers()
        .get(SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .expect("a CSRF cookie")
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().expect("pair").to_string();
    let body = response.text().await.expect("body");
    let token = body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a token in the form")
        .to_string();
    (pair, token)
}

/// A POST without a token, with a wrong one, without the cookie, or from another site is
/// refused with 403 and nothing happens; the right token works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_without_a_valid_csrf_token_are_refused() {
    let desk = PortalDesk::demo(false).await;
    let http = client();
    let (cookie, token) = token_and_cookie(&http, &desk).await;
    let post = |form: Vec<(&'static str, String)>, cookie: Option<&str>, origin: Option<&str>| {
        let mut request = http
            .post(desk.url("/lookup"))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form_body(&form));
        if let Some(c) = cookie {
            request = request.header("cookie", c.to_string());
        }
        if let Some(o) = origin {
            request = request.header("origin", o.to_string());
        }
        request.send()
    };
    let name = || ("name", "xa".to_string());
    // What, form fields, cookie, Origin, the refusal's label.
    type Case<'a> = (
        &'a str,
        Vec<(&'static str, String)>,
        Option<&'a str>,
        Option<&'a str>,
        &'a str,
    );
    let cases: Vec<Case<'_>> = vec![
        (
            "no token",
            vec![name()],
            Some(&cookie),
            None,
            "csrf-token-missing",
        ),
        (
            "empty token",
            vec![("csrf", String::new()), name()],
            Some(&cookie),
            None,
            "csrf-token-missing",
        ),
        (
            "wrong token",
            vec![("csrf", "AAAA".into()), name()],
            Some(&cookie),
            None,
            "csrf-token-wrong",
        ),
        (
            "no cookie",
            vec![("csrf", token.clone()), name()],
            None,
            None,
            "csrf-cookie-missing",
        ),
        (
            "another site",
            vec![("csrf", token.clone()), name()],
            Some(&cookie),
            Some("http://evil.example"),
            "csrf-cross-site",
        ),
    ];
    for (what, form, cookie, origin, label) in cases {
        let response = post(form, cookie, origin).await.expect("POST");
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{what}");
        assert_eq!(
            response
                .headers()
                .get("x-refusal")
                .and_then(|v| v.to_str().ok()),
            Some(label),
            "{what}"
        );
        assert!(
            response.headers().get(CONTENT_SECURITY_POLICY).is_some(),
            "{what}"
        );
        let body = response.text().await.expect("body");
        assert!(body.contains("This form was refused"), "{what}: {body}");
    }
    // Another browser's cookie with this token: refused.
    let (other_cookie, _) = token_and_cookie(&http, &desk).await;
    let response = post(
        vec![("csrf", token.clone()), name()],
        Some(&other_cookie),
        None,
    )
    .await
    .expect("POST");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // A body that is not a form at all is refused for the token, not a 500.
    let response = http
        .post(desk.url("/lookup"))
        .header("cookie", cookie.clone())
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // The right token, same origin: the TLD's page, whatever form the name was typed in.
    let origin = desk.base.clone();
    for typed in ["xa", "XA", "www.nic.xa.", " xa "] {
        let response = post(
            vec![("csrf", token.clone()), ("name", typed.to_string())],
            Some(&cookie),
            Some(&origin),
        )
        .await
        .expect("POST");
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{typed}");
        assert_eq!(
            response
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok()),
            Some("/tlds/xa")
        );
    }
    let response = post(
        vec![("csrf", token.clone()), ("name", "zz".into())],
        Some(&cookie),
        None,
    )
    .await
    .expect("POST");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    desk.stop().await;
}

/// Public pages show what RDAP shows: contacts' organisations, never their names, e-mail
/// addresses or phones unless `[rdap] public_contacts` publishes them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_pages_follow_rdaps_rule_for_contacts() {
    let http = client();
    for public in [false, true] {
        let desk = PortalDesk::demo(public).await;
        let page = http
            .get(desk.url("/tlds/xa"))
            .send()
            .await
            .expect("GET")
            .text()
            .await
            .expect("body");
        assert!(page.contains("Aldoria Network Information Centre"));
        for personal in [
            "Ana Alves",
            "admin@nic.xa.example",
            "+999 100 0001",
            "tech@nic.xa.example",
        ] {
            assert_eq!(
                page.contains(personal),
                public,
                "{personal} with public_contacts={public}"
            );
        }
        for path in ["/", "/tlds", "/changelog", "/turnaround"] {
            let page = http
                .get(desk.url(path))
                .send()
                .await
                .expect("GET")
                .text()
                .await
                .expect("body");
            assert!(
                !page.contains("nic.xa.example"),
                "{path} shows an e-mail address"
            );
        }
        desk.stop().await;
    }
}

/// The TLD list of the real root zone; a U-label redirects to the A-label's page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_tld_list_and_idn_pages() {
    let Some(desk) = PortalDesk::real().await else {
        return;
    };
    let http = client();
    let list = http
        .get(desk.url("/tlds"))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("body");
    let rows = list.matches("<th scope=\"row\">").count();
    let delegated = desk
        .desk
        .read_store(|s| Ok(s.tlds()?))
        .expect("tlds")
        .iter()
        .filter(|t| t.status == rootdesk::registry::TldStatus::Active)
        .count();
    assert!(delegated >= 1400, "{delegated} delegated TLDs");
    assert!(rows >= delegated, "{rows} rows");
    let active = http
        .get(desk.url("/tlds?status=active"))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("body");
    assert_eq!(active.matches("<th scope=\"row\">").count(), delegated);
    let response = http
        .get(desk.url("/tlds/%D1%80%D1%84"))
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(
        response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok()),
        Some("/tlds/xn--p1ai")
    );
    let page = http
        .get(desk.url("/tlds/xn--p1ai"))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("body");
    assert!(page.contains("рф") && page.contains("xn--p1ai"));
    assert!(page.contains("Coordination Center for TLD RU"));
    desk.stop().await;
}

/// Over HTTPS the CSRF cookie is `Secure`, and the headers are the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_https_the_csrf_cookie_is_secure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = crate::daemon::demo_database(dir.path());
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("certificate");
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).expect("write cert");
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).expect("write key");
    let desk = std::sync::Arc::new(rootdesk::desk::Desk::new(
        store,
        crate::daemon::settings(Default::default()),
    ));
    let mut opts = crate::daemon::options();
    opts.tls = Some((cert_path, key_path));
    let server = rootdesk::api::Server::start(desk, opts)
        .await
        .expect("start");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).expect("root"),
        )
        .resolve("localhost", server.addr)
        .build()
        .expect("client");
    let response = client
        .get(format!("https://localhost:{}/", server.addr.port()))
        .send()
        .await
        .expect("HTTPS");
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response
        .headers()
        .get(SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .expect("a CSRF cookie");
    assert!(cookie.ends_with("; Secure"), "{cookie}");
    assert_eq!(
        response
            .headers()
            .get(CONTENT_SECURITY_POLICY)
            .and_then(|v| v.to_str().ok()),
        Some(CSP)
    );
    server.shutdown().await;
}

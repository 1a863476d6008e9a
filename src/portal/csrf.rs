//! CSRF protection for the portal's forms: every POST carries a token in a hidden field
//! ([`FIELD`]); a POST without it, or with one that does not match what the request is bound
//! to, is refused with 403 before its form is read.
//!
//! The token is bound to a [`Binding`]. Without a login it is a *signed double-submit cookie*:
//! the browser holds a random nonce in an HttpOnly, SameSite=Strict cookie ([`COOKIE`]), and the
//! form's token is HMAC-SHA-256 of that nonce under a key drawn at random when the daemon
//! starts. A site that can plant a cookie (a sibling subdomain) still cannot make the matching
//! token without the key. Once sessions exist, a logged-in request binds to the session's own
//! stored `csrf` secret ([`Binding::Session`]): the form's token is that secret itself, so the
//! same value serves the hidden field and the API's `X-CSRF-Token` header ([`HEADER`]).
//! Tokens are compared through HMAC verification (constant time), never with `==`.
//!
//! A request that a browser labels as from another site (`Sec-Fetch-Site: cross-site` or
//! `same-site`, or an `Origin` whose host is not the `Host` asked for) is refused before the
//! token is even looked at.

use axum::http::{header, HeaderMap, HeaderValue};
use data_encoding::BASE64URL_NOPAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The cookie that holds the anonymous nonce.
pub const COOKIE: &str = "rootdesk_csrf";
/// The form field that carries the token.
pub const FIELD: &str = "csrf";
/// The header that carries the token for scripts and the API (sessions).
pub const HEADER: &str = "x-csrf-token";

const NONCE_BYTES: usize = 32;
/// Domain separation: a token of one kind of binding is never valid for another.
const CONTEXT_COOKIE: &[u8] = b"rootdesk-csrf-v1/cookie\0";
const CONTEXT_COMPARE: &[u8] = b"rootdesk-csrf-v1/compare\0";

/// What a token is bound to.
#[derive(Debug, Clone, Copy)]
pub enum Binding<'a> {
    /// No login: the nonce from [`COOKIE`].
    Cookie(&'a str),
    /// A login session's stored `csrf` secret (issue 14's sessions).
    Session(&'a str),
}

/// Why a POST was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The browser says the form came from another site.
    CrossSite,
    /// No token in the form.
    MissingToken,
    /// No (well-formed) CSRF cookie: cookies off, or the page is older than the browser session.
    MissingCookie,
    /// A token that does not match the binding.
    WrongToken,
}

impl Refusal {
    /// A stable kebab-case label, as the API's error labels.
    pub fn code(self) -> &'static str {
        match self {
            Refusal::CrossSite => "csrf-cross-site",
            Refusal::MissingToken => "csrf-token-missing",
            Refusal::MissingCookie => "csrf-cookie-missing",
            Refusal::WrongToken => "csrf-token-wrong",
        }
    }

    /// What the person at the browser can do about it.
    pub fn message(self) -> &'static str {
        match self {
            Refusal::CrossSite => "The form was sent from another web site. Nothing was done.",
            Refusal::MissingToken | Refusal::WrongToken => {
                "The form did not carry this site's security token, or an outdated one. \
                 Go back, reload the page and send the form again."
            }
            Refusal::MissingCookie => {
                "This site's security cookie was not sent with the form. Allow cookies for this \
                 site, reload the page and send the form again."
            }
        }
    }
}

/// The daemon's CSRF key: random per start, so a restart invalidates every open form.
pub struct Key([u8; 32]);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("csrf::Key(..)")
    }
}

impl Key {
    /// A fresh random key.
    pub fn random() -> Result<Key, getrandom::Error> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key)?;
        Ok(Key(key))
    }

    fn mac(&self, context: &[u8], data: &[u8]) -> Hmac<Sha256> {
        // HMAC takes a key of any length; 32 bytes never fails.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(context);
        mac.update(data);
        mac
    }

    /// The token a form bound to `binding` must carry.
    pub fn token(&self, binding: Binding<'_>) -> String {
        match binding {
            Binding::Cookie(nonce) => BASE64URL_NOPAD.encode(
                &self
                    .mac(CONTEXT_COOKIE, nonce.as_bytes())
                    .finalize()
                    .into_bytes(),
            ),
            Binding::Session(secret) => secret.to_string(),
        }
    }

    /// Whether `given` is the token for `binding`, compared in constant time.
    pub fn verify(&self, binding: Binding<'_>, given: &str) -> bool {
        let expected = self.token(binding);
        // MAC both and let hmac's constant-time verification compare them.
        let tag = self
            .mac(CONTEXT_COMPARE, given.as_bytes())
            .finalize()
            .into_bytes();
        self.mac(CONTEXT_COMPARE, expected.as_bytes())
            .verify_slice(&tag)
            .is_ok()
    }
}

/// The value of cookie `name` in a request, if any.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The request's anonymous nonce, if its cookie holds a well-formed one.
fn nonce(headers: &HeaderMap) -> Option<&str> {
    cookie(headers, COOKIE).filter(|v| {
        BASE64URL_NOPAD
            .decode(v.as_bytes())
            .is_ok_and(|b| b.len() == NONCE_BYTES)
    })
}

/// The token for a page's forms without a login, and the `Set-Cookie` value to send when the
/// browser has no nonce yet. `tls`: whether the connection is HTTPS (the cookie is then
/// `Secure`).
pub fn anonymous(
    key: &Key,
    headers: &HeaderMap,
    tls: bool,
) -> Result<(String, Option<HeaderValue>), getrandom::Error> {
    if let Some(nonce) = nonce(headers) {
        return Ok((key.token(Binding::Cookie(nonce)), None));
    }
    let mut bytes = [0u8; NONCE_BYTES];
    getrandom::fill(&mut bytes)?;
    let nonce = BASE64URL_NOPAD.encode(&bytes);
    let secure = if tls { "; Secure" } else { "" };
    let cookie = format!("{COOKIE}={nonce}; Path=/; HttpOnly; SameSite=Strict{secure}");
    // base64url and fixed text: always a valid header value.
    let value = HeaderValue::from_str(&cookie)
        .unwrap_or_else(|_| unreachable!("a base64url cookie is a valid header value"));
    Ok((key.token(Binding::Cookie(&nonce)), Some(value)))
}

/// Whether the browser marks the request as coming from another origin. `Sec-Fetch-Site`
/// decides where it is sent (`same-site` is refused too: a sibling subdomain is exactly the
/// site that could plant a cookie). An `Origin` of another host is refused; `Origin: null` is
/// what browsers send under our own `Referrer-Policy: no-referrer`, so it proves nothing and
/// the token decides.
pub fn cross_site(headers: &HeaderMap) -> bool {
    let fetch_site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase);
    if matches!(fetch_site.as_deref(), Some("cross-site" | "same-site")) {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    if origin == "null" {
        return false;
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin
        .split_once("://")
        .map(|(_, rest)| rest.trim_end_matches('/'));
    match (origin_host, host) {
        (Some(o), Some(h)) => !o.eq_ignore_ascii_case(h),
        _ => true,
    }
}

/// Checks a POST without a login: same site, cookie nonce present, token matches it.
pub fn check_anonymous(key: &Key, headers: &HeaderMap, token: Option<&str>) -> Result<(), Refusal> {
    if cross_site(headers) {
        return Err(Refusal::CrossSite);
    }
    let token = token
        .filter(|t| !t.is_empty())
        .ok_or(Refusal::MissingToken)?;
    let nonce = nonce(headers).ok_or(Refusal::MissingCookie)?;
    if key.verify(Binding::Cookie(nonce), token) {
        Ok(())
    } else {
        Err(Refusal::WrongToken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, HeaderValue::from_str(v).expect("header"));
        }
        map
    }

    #[test]
    fn a_fresh_browser_gets_a_cookie_and_its_token_verifies() {
        let key = Key::random().expect("key");
        let (token, cookie) = anonymous(&key, &HeaderMap::new(), false).expect("token");
        let cookie = cookie
            .expect("a cookie is set")
            .to_str()
            .expect("text")
            .to_string();
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
        assert!(!cookie.contains("Secure"));
        let pair = cookie.split(';').next().expect("pair").to_string();
        let h = headers(&[("cookie", &pair), ("host", "desk.example")]);
        assert_eq!(check_anonymous(&key, &h, Some(&token)), Ok(()));
        // The same browser gets the same token again, and no new cookie.
        let (again, none) = anonymous(&key, &h, true).expect("token");
        assert_eq!((again, none), (token, None));
    }

    #[test]
    fn refusals_name_what_is_wrong() {
        let key = Key::random().expect("key");
        let other = Key::random().expect("key");
        let (_, cookie) = anonymous(&key, &HeaderMap::new(), true).expect("token");
        let cookie = cookie.expect("cookie").to_str().expect("text").to_string();
        assert!(cookie.ends_with("; Secure"));
        let pair = cookie.split(';').next().expect("pair").to_string();
        let nonce = pair.split_once('=').expect("=").1.to_string();
        let h = headers(&[("cookie", &pair), ("host", "desk.example")]);
        assert_eq!(check_anonymous(&key, &h, None), Err(Refusal::MissingToken));
        assert_eq!(
            check_anonymous(&key, &h, Some("")),
            Err(Refusal::MissingToken)
        );
        assert_eq!(
            check_anonymous(&key, &h, Some("abc")),
            Err(Refusal::WrongToken)
        );
        // A token made with another daemon start's key.
        let stale = other.token(Binding::Cookie(&nonce));
        assert_eq!(
            check_anonymous(&key, &h, Some(&stale)),
            Err(Refusal::WrongToken)
        );
        // The right token without the cookie.
        let good = key.token(Binding::Cookie(&nonce));
        let bare = headers(&[("host", "desk.example")]);
        assert_eq!(
            check_anonymous(&key, &bare, Some(&good)),
            Err(Refusal::MissingCookie)
        );
        // The right token and cookie, sent from another site.
        let evil = headers(&[
            ("cookie", &pair),
            ("host", "desk.example"),
            ("origin", "https://evil.example"),
        ]);
        assert_eq!(
            check_anonymous(&key, &evil, Some(&good)),
            Err(Refusal::CrossSite)
        );
        for site in ["cross-site", "same-site"] {
            let fetch = headers(&[("cookie", &pair), ("sec-fetch-site", site)]);
            assert_eq!(
                check_anonymous(&key, &fetch, Some(&good)),
                Err(Refusal::CrossSite)
            );
        }
        // What a browser sends under Referrer-Policy: no-referrer: the token decides.
        let null = headers(&[
            ("cookie", &pair),
            ("origin", "null"),
            ("sec-fetch-site", "same-origin"),
        ]);
        assert_eq!(check_anonymous(&key, &null, Some(&good)), Ok(()));
        assert_eq!(
            check_anonymous(&key, &null, Some("x")),
            Err(Refusal::WrongToken)
        );
        let same = headers(&[
            ("cookie", &pair),
            ("host", "desk.example"),
            ("origin", "https://desk.example"),
            ("sec-fetch-site", "same-origin"),
        ]);
        assert_eq!(check_anonymous(&key, &same, Some(&good)), Ok(()));
    }

    #[test]
    fn a_session_token_is_the_sessions_secret() {
        let key = Key::random().expect("key");
        let secret = "s3cr3t-of-the-session";
        assert_eq!(key.token(Binding::Session(secret)), secret);
        assert!(key.verify(Binding::Session(secret), secret));
        assert!(!key.verify(Binding::Session(secret), "s3cr3t-of-the-sessioN"));
        // A cookie-bound token is not a session token for the same text.
        let cookie_token = key.token(Binding::Cookie(secret));
        assert!(!key.verify(Binding::Session(secret), &cookie_token));
    }
}

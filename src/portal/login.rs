//! The login page (`/login`) and logout (`POST /logout`): the same desk calls as `POST
//! /v1/login` and `POST /v1/logout`, the same session cookie, the same refusal text.
//!
//! The login form is anonymous, so it carries the signed double-submit token of
//! [`super::csrf`]; logout is a form of a logged-in page and carries the session's token. After
//! a login the browser goes to `next` only when it is a path on this site (an open redirect
//! would let a phishing link send a fresh session elsewhere), else to the person's own pages.

use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::html;
use serde::Deserialize;

use super::layout::{self, Nav};
use super::session::{self, Viewer};
use super::{csrf, html_response, read, Https, PageError, Portal};
use crate::desk::people::{LoginAttempt, LoginError};
use crate::http::{session_cookie, session_set_cookie, Peer, LOGIN_REFUSED};
use crate::registry::Role;

/// Where a person of `role` starts: their own pages.
pub fn home_of(role: Role) -> &'static str {
    match role {
        Role::Manager | Role::Contact => "/my",
        Role::Staff => "/desk",
        Role::Auditor => "/audit",
    }
}

/// `next` when it is a path on this site: starts with one `/`, no scheme or host, no
/// backslash (browsers read `/\evil` as `//evil`), no control characters.
pub fn local_next(next: &str) -> Option<&str> {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(|c| c.is_control() || c.is_whitespace())
        && next.len() <= 2000;
    local.then_some(next)
}

#[derive(Debug, Default, Deserialize)]
pub struct LoginQuery {
    #[serde(default)]
    next: String,
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    csrf: Option<String>,
    #[serde(default)]
    next: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    recovery_code: String,
}

/// What the login page shows above the form.
enum Notice {
    None,
    Refused,
    Throttled(u64),
}

fn login_page(token: &str, next: &str, email: &str, notice: Notice) -> maud::Markup {
    let body = html! {
        @match notice {
            Notice::None => {},
            Notice::Refused => {
                div.error-box role="alert" {
                    p { strong { "Not logged in: " } (LOGIN_REFUSED) "." }
                    p { "Check them and try again with the code your authenticator app shows now. "
                        "After several failed attempts the desk makes you wait before trying again." }
                }
            },
            Notice::Throttled(secs) => {
                div.error-box role="alert" {
                    p { strong { "Too many failed attempts. " }
                        "For your account's safety, logins are paused for a while: please try again in about "
                        (wait_text(secs)) "." }
                }
            },
        }
        p { "Log in with your personal account of the desk: your e-mail, your password and the "
            "6-digit code of your authenticator app. If you lost the app, use one of your "
            "recovery codes instead of the code (each works once)." }
        form.login method="post" action="/login" {
            input type="hidden" name=(csrf::FIELD) value=(token);
            input type="hidden" name="next" value=(next);
            div.field {
                label for="email" { "E-mail" }
                input #email type="email" name="email" value=(email) required autocomplete="username" spellcheck="false";
            }
            div.field {
                label for="password" { "Password" }
                input #password type="password" name="password" required autocomplete="current-password";
            }
            div.field {
                label for="code" { "Code from your authenticator app" }
                input #code type="text" name="code" inputmode="numeric" pattern="[0-9 ]*" maxlength="8" autocomplete="one-time-code" aria-describedby="code-help";
                p.hint #code-help { "6 digits. Leave it empty when you use a recovery code." }
            }
            details.recovery {
                summary { "Use a recovery code instead" }
                div.field {
                    label for="recovery_code" { "Recovery code" }
                    input #recovery_code type="text" name="recovery_code" autocomplete="off" spellcheck="false";
                }
            }
            div.actions { button type="submit" { "Log in" } }
        }
        p.muted { "No account yet? The desk's staff invite you by e-mail." }
    };
    layout::page("Log in", Nav::Login, body)
}

fn wait_text(secs: u64) -> String {
    match secs {
        0..=59 => format!("{} second{}", secs.max(1), if secs == 1 { "" } else { "s" }),
        _ => {
            let minutes = secs.div_ceil(60);
            format!("{minutes} minute{}", if minutes == 1 { "" } else { "s" })
        }
    }
}

/// `GET /login[?next=/my/...]`: the form; a person already logged in goes on at once.
pub async fn show(
    State(portal): State<Portal>,
    viewer: Option<Viewer>,
    headers: HeaderMap,
    https: Option<Extension<Https>>,
    query: Result<Query<LoginQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, PageError> {
    let next = query.map(|Query(q)| q.next).unwrap_or_default();
    let next = local_next(&next).unwrap_or("").to_string();
    if let Some(viewer) = viewer {
        let to = if next.is_empty() {
            home_of(viewer.role())
        } else {
            &next
        };
        return Ok(Redirect::to(to).into_response());
    }
    let (token, set_cookie) = super::form_token(&portal, &headers, https)?;
    let page = login_page(&token, &next, "", Notice::None);
    Ok(super::with_token_headers(
        html_response(StatusCode::OK, page),
        set_cookie,
    ))
}

/// `POST /login`: `Desk::login`, then the session cookie and a redirect (303) to `next` or the
/// person's own pages. A refusal shows the form again with the API's one message.
pub async fn submit(
    State(portal): State<Portal>,
    headers: HeaderMap,
    peer: Option<Extension<Peer>>,
    https: Option<Extension<Https>>,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Result<Response, PageError> {
    let token = form.as_ref().ok().and_then(|Form(f)| f.csrf.clone());
    if let Err(refusal) = csrf::check_anonymous(&portal.csrf, &headers, token.as_deref()) {
        return Ok(super::csrf_refused(refusal));
    }
    let Form(form) = form.map_err(|e| PageError::bad_request(e.body_text()))?;
    let next = local_next(&form.next).map(str::to_string);
    let nonempty = |s: &str| {
        let s: String = s.split_whitespace().collect();
        (!s.is_empty()).then_some(s)
    };
    let attempt = LoginAttempt {
        email: form.email.trim().to_string(),
        password: form.password.clone(),
        code: nonempty(&form.code),
        recovery_code: nonempty(&form.recovery_code),
        presented: session_cookie(&headers),
        source: peer.map(|p| p.0 .0.ip().to_string()),
    };
    let desk = portal.desk.clone();
    let outcome = tokio::task::spawn_blocking(move || desk.login(attempt))
        .await
        .map_err(PageError::internal)?;
    let refused = |status: StatusCode, notice: Notice| -> Result<Response, PageError> {
        let (token, set_cookie) = super::form_token(&portal, &headers, https)?;
        let page = login_page(
            &token,
            next.as_deref().unwrap_or(""),
            form.email.trim(),
            notice,
        );
        Ok(super::with_token_headers(
            html_response(status, page),
            set_cookie,
        ))
    };
    let session = match outcome {
        Ok(session) => session,
        Err(LoginError::Invalid) => {
            return refused(StatusCode::UNAUTHORIZED, Notice::Refused);
        }
        Err(LoginError::Throttled(wait)) => {
            let secs = u64::try_from(wait.whole_seconds()).unwrap_or(1).max(1)
                + u64::from(wait.subsec_nanoseconds() > 0);
            let mut response = refused(StatusCode::TOO_MANY_REQUESTS, Notice::Throttled(secs))?;
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            return Ok(response);
        }
        Err(LoginError::Desk(e)) => return Err(e.into()),
    };
    let max_age = i64::from(portal.desk.accounts.session_absolute_hours.max(1)) * 3600;
    let set = session_set_cookie(portal.desk.secure_cookies, &session.secret, max_age)
        .map_err(|_| PageError::internal("the session cookie could not be written"))?;
    let to = next.unwrap_or_else(|| home_of(session.person.role).to_string());
    let mut response = Redirect::to(&to).into_response();
    response.headers_mut().insert(header::SET_COOKIE, set);
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(super::NO_STORE),
    );
    Ok(response)
}

#[derive(Debug, Deserialize)]
pub struct LogoutForm {
    csrf: Option<String>,
}

/// `POST /logout`: ends the session (`Desk::logout`, as `POST /v1/logout`), clears the cookie,
/// and shows the home page's link. Needs the session's CSRF token, as every form.
pub async fn logout(
    State(portal): State<Portal>,
    headers: HeaderMap,
    peer: Option<Extension<Peer>>,
    form: Result<Form<LogoutForm>, FormRejection>,
) -> Result<Response, PageError> {
    let token = form.ok().and_then(|Form(f)| f.csrf);
    let caller = session::acting(&portal, &headers, peer, token.as_deref()).await?;
    let Some(secret) = session_cookie(&headers) else {
        return Err(PageError::logged_out());
    };
    let desk = portal.desk.clone();
    read(move || desk.logout(&caller, &secret)).await?;
    let clear = session_set_cookie(portal.desk.secure_cookies, "", 0)
        .map_err(|_| PageError::internal("the session cookie could not be cleared"))?;
    let body = html! {
        p { "You are logged out; your session has ended on the desk too." }
        p { a href="/login" { "Log in again" } " or go to the " a href="/" { "home page" } "." }
    };
    let mut response = html_response(StatusCode::OK, layout::page("Logged out", Nav::None, body));
    response.headers_mut().insert(header::SET_COOKIE, clear);
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(super::NO_STORE),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed() {
        for ok in ["/my", "/my/tlds/xa?x=1", "/desk", "/"] {
            assert_eq!(local_next(ok), Some(ok), "{ok}");
        }
        for bad in [
            "",
            "//evil.example/",
            "https://evil.example/",
            "/\\evil.example",
            "evil",
            "javascript:alert(1)",
            "/my\r\nSet-Cookie: x=1",
            "/ my",
        ] {
            assert_eq!(local_next(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn waits_read_as_words() {
        assert_eq!(wait_text(1), "1 second");
        assert_eq!(wait_text(30), "30 seconds");
        assert_eq!(wait_text(61), "2 minutes");
        assert_eq!(wait_text(60), "1 minute");
    }
}

//! The web portal (issue 15): server-rendered HTML pages at `/`, beside the API (`/v1`) and
//! RDAP (`/rdap`) on the same daemon and the same desk.
//!
//! Pages are views of the desk, not a second application: a handler reads through the
//! desk's named reads (`desk/reads.rs`), the same ones the API uses, then renders a
//! maud template (checked at compile time; maud does all HTML escaping). No page needs
//! JavaScript and none may run any: every response carries a strict Content-Security-Policy
//! ([`CSP`]) and the other headers of [`apply_headers`]. Every form that POSTs is guarded by
//! [`csrf`]. This first part is the public portal (home, TLD list and pages, change log,
//! turnaround); the logged-in pages of managers, staff and auditors come on top of it with the
//! sessions of issue 14.

pub mod auditor;
pub mod csrf;
pub mod layout;
pub mod login;
pub mod manager;
pub mod public;
pub mod session;
pub mod staff;
pub mod tlds;

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use maud::{html, Markup};

use crate::desk::{Desk, DeskError};
use layout::Nav;

/// The Content-Security-Policy of every portal response: nothing inline, nothing from
/// elsewhere, no framing, forms only to this site.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
                       form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Marks a connection that came in over TLS (put there by the server), so that cookies can be
/// `Secure`.
#[derive(Debug, Clone, Copy)]
pub struct Https;

/// What the portal's handlers share: the desk and the CSRF key of this daemon start.
#[derive(Clone)]
pub struct Portal {
    pub desk: Arc<Desk>,
    pub csrf: Arc<csrf::Key>,
}

/// The portal's routes over a desk, to be merged into the API's router.
pub fn router<S>(desk: Arc<Desk>) -> Router<S> {
    // Without randomness the daemon could not sign anything; that is a broken host.
    let key = csrf::Key::random()
        .unwrap_or_else(|e| panic!("no random numbers for the portal's CSRF key: {e}"));
    let portal = Portal {
        desk,
        csrf: Arc::new(key),
    };
    Router::new()
        .route("/", get(public::home))
        .route("/tlds", get(tlds::list))
        .route("/tlds/{label}", get(tlds::show))
        .route("/lookup", post(tlds::lookup))
        .route("/changelog", get(public::changelog))
        .route("/turnaround", get(public::turnaround))
        .route("/turnaround/chart.svg", get(public::chart))
        .route("/assets/portal.css", get(stylesheet))
        // --- Login and a TLD manager's pages (login.rs, manager.rs) ---
        .route("/login", get(login::show).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/my", get(manager::my_tlds))
        .route("/my/tlds/{label}", get(manager::tld_page))
        .route(
            "/my/tlds/{label}/change",
            get(manager::change_form).post(manager::change_post),
        )
        .route("/my/requests/{ticket}", get(manager::request_page))
        .route(
            "/my/requests/{ticket}/amend",
            get(manager::amend_form).post(manager::amend_post),
        )
        .route("/my/requests/{ticket}/{action}", post(manager::act))
        // --- end of login and manager pages ---
        // --- Desk staff and auditors (issue 15): staff.rs, auditor.rs ---
        .route("/desk", get(staff::queue))
        .route("/desk/requests/{ticket}", get(staff::request))
        .route("/desk/requests/{ticket}/{action}", post(staff::act))
        .route("/desk/turnaround", get(staff::turnaround))
        .route("/audit", get(auditor::log))
        .route("/audit/export.jsonl", get(auditor::export_jsonl))
        .route("/audit/export.csv", get(auditor::export_csv))
        // --- end of desk staff and auditors ---
        .layer(axum::middleware::map_response(with_headers))
        .with_state(portal)
}

/// Whether a path belongs to the API side (JSON errors) rather than the portal (HTML pages).
pub fn is_api_path(path: &str) -> bool {
    ["/v1", "/rdap", "/confirm", "/healthz", "/metrics"]
        .iter()
        .any(|p| path == *p || path.strip_prefix(p).is_some_and(|r| r.starts_with('/')))
}

/// The portal's answer for an address nothing else serves.
pub async fn not_found(request: Request) -> Response {
    let path = request.uri().path().to_string();
    let mut response = error_page(
        StatusCode::NOT_FOUND,
        "Page not found",
        &format!("There is no page at {path}."),
    );
    apply_headers(response.headers_mut());
    response
}

async fn with_headers(mut response: Response) -> Response {
    apply_headers(response.headers_mut());
    response
}

/// The security headers of every portal response, and a cache default for those that did
/// not choose one.
pub fn apply_headers(headers: &mut HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // For browsers older than CSP's frame-ancestors.
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Public data changes with every publication: a cache must ask again each time.
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-cache"));
}

/// Pages that hold a CSRF token (or, later, personal data) are never stored by a cache.
pub const NO_STORE: &str = "private, no-store";

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            // The address carries the version (layout::stylesheet_href).
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        include_str!("portal.css"),
    )
        .into_response()
}

/// The CSRF token for a page's forms, and the cookie to set with it.
pub fn form_token(
    portal: &Portal,
    headers: &HeaderMap,
    https: Option<Extension<Https>>,
) -> Result<(String, Option<HeaderValue>), PageError> {
    csrf::anonymous(&portal.csrf, headers, https.is_some()).map_err(PageError::internal)
}

/// Adds the CSRF cookie (if new) and `no-store` to a page that holds a token.
pub fn with_token_headers(mut response: Response, cookie: Option<HeaderValue>) -> Response {
    if let Some(cookie) = cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(NO_STORE));
    response
}

/// A refusal of the form itself (CSRF): 403 with its label, nothing looked at.
pub fn csrf_refused(refusal: csrf::Refusal) -> Response {
    tracing::info!(reason = refusal.code(), "portal form refused (CSRF)");
    let mut response = error_page(
        StatusCode::FORBIDDEN,
        "This form was refused",
        refusal.message(),
    );
    response
        .headers_mut()
        .insert("x-refusal", HeaderValue::from_static(refusal.code()));
    response
}

/// An HTML response.
pub fn html_response(status: StatusCode, markup: Markup) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        markup.into_string(),
    )
        .into_response()
}

/// An error page in the portal's layout; never cached.
pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    let body = html! {
        p.error-message { (message) }
        p { a href="/" { "Go to the home page" } " or " a href="/tlds" { "the list of TLDs" } "." }
    };
    let mut response = html_response(status, layout::page(title, Nav::None, body));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(NO_STORE));
    response
}

/// A handler's failure: a page with a status, never a stack of internals.
#[derive(Debug)]
pub struct PageError {
    pub status: StatusCode,
    pub title: &'static str,
    pub message: String,
}

impl PageError {
    pub fn bad_request(message: impl Into<String>) -> PageError {
        PageError {
            status: StatusCode::BAD_REQUEST,
            title: "This request cannot be answered",
            message: message.into(),
        }
    }

    /// Not allowed for this person (or a form without its CSRF token): nothing was done.
    pub fn forbidden(message: impl Into<String>) -> PageError {
        PageError {
            status: StatusCode::FORBIDDEN,
            title: "Not allowed",
            message: message.into(),
        }
    }

    /// A form sent after the session ended: nothing was done.
    pub fn logged_out() -> PageError {
        PageError {
            status: StatusCode::UNAUTHORIZED,
            title: "Please log in again",
            message: "Your session has ended or expired, so nothing was done. Log in again \
                      (/login) and send the form again."
                .into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> PageError {
        PageError {
            status: StatusCode::NOT_FOUND,
            title: "Not found",
            message: message.into(),
        }
    }

    fn internal(detail: impl std::fmt::Display) -> PageError {
        tracing::error!(error = %detail, "portal page failed");
        PageError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            title: "Something went wrong",
            message: "The desk could not build this page. The failure has been logged; \
                      please try again later."
                .into(),
        }
    }
}

impl From<DeskError> for PageError {
    fn from(e: DeskError) -> PageError {
        PageError::internal(e)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        error_page(self.status, self.title, &self.message)
    }
}

/// Runs a read of the desk off the async runtime.
pub async fn read<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, DeskError> + Send + 'static,
) -> Result<T, PageError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(PageError::internal)?
        .map_err(PageError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_paths_are_told_apart_from_pages() {
        for api in [
            "/v1",
            "/v1/tlds",
            "/rdap/help",
            "/confirm/x",
            "/healthz",
            "/metrics",
        ] {
            assert!(is_api_path(api), "{api}");
        }
        for page in ["/", "/tlds", "/v1x", "/rdapx", "/metricsx", "/nothing"] {
            assert!(!is_api_path(page), "{page}");
        }
    }

    #[test]
    fn the_csp_allows_nothing_inline() {
        assert!(!CSP.contains("unsafe"));
        assert!(CSP.starts_with("default-src 'none'"));
        assert!(CSP.contains("frame-ancestors 'none'"));
    }
}

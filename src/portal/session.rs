//! The logged-in person of a portal page: the API's session cookie (`rootdesk_session`, set
//! by `POST /v1/login` or the portal's login page), checked by the desk on every request.
//!
//! Reading a page needs a valid session ([`Viewer`]; without one the browser is sent to
//! `/login?next=...`). A form that changes something posts the session's CSRF token in its
//! hidden `csrf` field; [`acting`] hands it to the desk, which refuses the write unless it is
//! the session's own ([`csrf::Binding::Session`]). A manager's pages ask the same gate as the
//! API, with the caller this module returns: the portal has no rules of its own.

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};

use super::{read, PageError, Portal};
use crate::desk::people::SessionAuth;
use crate::desk::Caller;
use crate::http::{session_cookie, Peer};
use crate::registry::Role;

/// A person with a valid session, and the CSRF token their forms carry.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub caller: Caller,
    /// The session's CSRF token: the hidden `csrf` field of every form on the page.
    pub csrf: String,
    /// The person's name, as the desk knows it.
    pub name: String,
}

impl Viewer {
    pub fn role(&self) -> Role {
        self.caller.role
    }

    /// The person's id (a session is always a person's).
    pub fn person(&self) -> &str {
        self.caller
            .person
            .as_deref()
            .unwrap_or(&self.caller.subject)
    }
}

/// Where a request without a valid session is sent: the login page, which returns here.
pub fn login_redirect(path_and_query: &str) -> Response {
    let query = serde_urlencoded::to_string([("next", path_and_query)]).unwrap_or_default();
    Redirect::to(&format!("/login?{query}")).into_response()
}

fn source(parts: &Parts) -> Option<String> {
    parts.extensions.get::<Peer>().map(|p| p.0.ip().to_string())
}

async fn viewer(
    portal: &Portal,
    headers: &HeaderMap,
    source: Option<String>,
) -> Result<Option<Viewer>, PageError> {
    let Some(secret) = session_cookie(headers) else {
        return Ok(None);
    };
    let desk = portal.desk.clone();
    read(move || {
        let SessionAuth::Valid(caller) = desk.session_caller(&secret, true, None, source)? else {
            return Ok(None);
        };
        Ok(desk
            .session_page(&secret)?
            .map(|(csrf, name)| Viewer { caller, csrf, name }))
    })
    .await
}

impl FromRequestParts<Portal> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        portal: &Portal,
    ) -> Result<Self, Self::Rejection> {
        let source = source(parts);
        match viewer(portal, &parts.headers, source).await {
            Ok(Some(viewer)) => Ok(viewer),
            Ok(None) => {
                let target = parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/");
                Err(login_redirect(target))
            }
            Err(e) => Err(e.into_response()),
        }
    }
}

/// An optional viewer: pages that anyone may see show who is logged in.
impl OptionalFromRequestParts<Portal> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        portal: &Portal,
    ) -> Result<Option<Self>, Self::Rejection> {
        let source = source(parts);
        viewer(portal, &parts.headers, source)
            .await
            .map_err(IntoResponse::into_response)
    }
}

/// The caller for a form that changes something: the session must be valid and the form's
/// `csrf` field must be the session's token, and the request must not come from another site.
pub async fn acting(
    portal: &Portal,
    headers: &HeaderMap,
    peer: Option<axum::Extension<Peer>>,
    csrf: Option<&str>,
) -> Result<Caller, PageError> {
    if super::csrf::cross_site(headers) {
        return Err(PageError::forbidden(
            super::csrf::Refusal::CrossSite.message(),
        ));
    }
    let Some(secret) = session_cookie(headers) else {
        return Err(PageError::logged_out());
    };
    let csrf = csrf.filter(|t| !t.is_empty()).map(str::to_string);
    if csrf.is_none() {
        return Err(PageError::forbidden(
            super::csrf::Refusal::MissingToken.message(),
        ));
    }
    let source = peer.map(|p| p.0 .0.ip().to_string());
    let desk = portal.desk.clone();
    match read(move || desk.session_caller(&secret, false, csrf.as_deref(), source)).await? {
        SessionAuth::Valid(caller) => Ok(caller),
        SessionAuth::Invalid => Err(PageError::logged_out()),
        SessionAuth::CsrfRefused => Err(PageError::forbidden(
            super::csrf::Refusal::WrongToken.message(),
        )),
    }
}

/// As [`acting`], for a form whose answer is a page again (a pre-check): the viewer with the
/// form's CSRF token and the person's name.
pub async fn acting_viewer(
    portal: &Portal,
    headers: &HeaderMap,
    peer: Option<axum::Extension<Peer>>,
    csrf: Option<&str>,
) -> Result<Viewer, PageError> {
    let caller = acting(portal, headers, peer, csrf).await?;
    let secret = session_cookie(headers).unwrap_or_default();
    let desk = portal.desk.clone();
    let name = read(move || desk.session_page(&secret))
        .await?
        .map(|(_, name)| name)
        .unwrap_or_default();
    Ok(Viewer {
        caller,
        csrf: csrf.unwrap_or_default().to_string(),
        name,
    })
}

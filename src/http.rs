//! What the HTTP API ([`crate::api`]) and the web portal ([`crate::portal`]) share on the wire:
//! the connection's peer address, and a person's session cookie (its name, how it is read and
//! how it is set) with the one message of a refused login. Kept apart from both so that the
//! API may serve the portal's pages and the portal may log people in without the two modules
//! importing each other.

use std::net::SocketAddr;

use axum::http::header::{InvalidHeaderValue, COOKIE};
use axum::http::{HeaderMap, HeaderValue};

/// The peer address of the connection, put there by the server.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "rootdesk_session";
/// The header a cookie-authenticated API request that changes something must carry.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The message of every refused login: it never says which part was wrong, nor whether an
/// account has the e-mail.
pub const LOGIN_REFUSED: &str = "the e-mail, password or code is not right";

/// The session secret in the request's `Cookie` headers, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().strip_prefix(SESSION_COOKIE)?.strip_prefix('='))
        .find(|value| {
            !value.is_empty()
                && value.len() <= 128
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_string)
}

/// The `Set-Cookie` value of a session: `Secure` when the daemon serves TLS; an empty value
/// with `max_age` 0 clears it.
pub fn session_set_cookie(
    secure: bool,
    value: &str,
    max_age: i64,
) -> Result<HeaderValue, InvalidHeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}"
    ))
}

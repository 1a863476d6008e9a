//! The HTTP API (DESIGN §8.1): JSON under `/v1`, bearer tokens (role or person tokens) or a
//! person's session cookie with its CSRF token ([`people`]), strict bodies. The portal's
//! pages ([`crate::portal`]) are merged into the same router at `/`.
//!
//! Every handler that needs a caller takes it as an [`Authed`] extractor (authentication is
//! part of its signature), then hands the desk a named action on a named request; the desk's permission gate (`desk::gate`) grants a named permission before a body is
//! parsed ([`parse_body`] asks for the [`Granted`]) and before anything is read or written. Errors
//! leave through [`error::ApiError`], the one place that maps them to a status and a stable
//! label. Blocking SQLite work runs on tokio's blocking pool.

mod confirm;
pub mod error;
pub mod people;
pub mod rdap;
mod server;
pub mod wire;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// The dry-run bounds live with the desk that holds them.
pub use crate::desk::dry_runs::DryRuns;
pub use error::ApiError;
pub use server::{serve, ConnectionLimits, ServeOptions, Server};
use wire::*;

use crate::audit::EventQuery;
use crate::desk::{Action, Caller, Desk, DeskError, Granted, Permission, Resource, Submission};
use crate::registry::TldLabel;
use crate::store::RequestFilter;
use crate::workflow::Command;

pub use crate::http::Peer;

type AppState = Arc<Desk>;

/// The API's routes over a desk.
pub fn router(desk: Arc<Desk>, max_body: usize) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/v1/tlds", get(list_tlds))
        .route("/v1/tlds/{label}", get(show_tld))
        .route("/v1/tlds/{label}/authority", get(show_authority))
        .route("/v1/zone", get(zone))
        .route("/v1/zone/diff", get(zone_diff))
        .route("/v1/check", post(dry_run_check))
        .route("/v1/documents", post(upload_document))
        .route("/v1/requests", post(submit).get(list_requests))
        .route("/v1/requests/{ticket}", get(show_request))
        .route("/v1/requests/{ticket}/checks", get(request_checks))
        .route("/v1/requests/{ticket}/{action}", post(act))
        .route("/v1/audit", get(audit_events))
        .route("/v1/audit/checkpoints", get(audit_checkpoints))
        .route("/v1/metrics/turnaround", get(turnaround))
        .route("/metrics", get(prometheus_metrics))
        .route("/v1/changelog", get(changelog))
        .route(
            "/v1/invitations/{secret}",
            get(people::show_invitation).post(people::set_password),
        )
        .route("/v1/invitations/{secret}/enrol", post(people::enrol))
        .route("/v1/login", post(people::login))
        .route("/v1/logout", post(people::logout))
        .route("/v1/me", get(people::me))
        .route("/v1/me/password", post(people::change_password))
        .route(
            "/v1/tokens",
            post(people::issue_token).get(people::list_tokens),
        )
        .route("/v1/tokens/{id}/revoke", post(people::revoke_token))
        .route(
            "/v1/persons",
            get(people::list_persons).post(people::invite),
        )
        .route("/v1/persons/{id}", get(people::show_person))
        .route("/v1/persons/{id}/disable", post(people::disable))
        .route("/v1/persons/{id}/reset-factor", post(people::reset_factor))
        .route("/rdap/help", get(rdap::help))
        .route("/rdap/domain/{tld}", get(rdap::domain))
        .route("/rdap/domain/", get(rdap::empty_domain))
        .route("/rdap/domain", get(rdap::empty_domain))
        .route("/rdap/{*rest}", get(rdap::unknown))
        .route(
            "/confirm/{secret}",
            get(confirm::show).post(confirm::decide),
        )
        .merge(crate::portal::router(desk.clone()))
        .fallback(fallback)
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| {
                refuse_declared_oversize(max_body, request, next)
            },
        ))
        .with_state(desk)
}

/// Unknown addresses: a JSON error on the API's side, the portal's 404 page elsewhere.
async fn fallback(request: axum::extract::Request) -> Response {
    if crate::portal::is_api_path(request.uri().path()) {
        ApiError::not_found("no such resource; the API lives under /v1").into_response()
    } else {
        crate::portal::not_found(request).await
    }
}

/// A body whose declared length is over the limit is refused before a byte of it is read,
/// so the client is not left writing into a connection the daemon is about to close.
async fn refuse_declared_oversize(
    max_body: usize,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(length) if length > max_body as u64 => ApiError::new(error::Label::BodyTooLarge,
            format!("the request body is too large: {length} bytes declared, at most {max_body} accepted"),
        )
        .into_response(),
        _ => next.run(request).await,
    }
}

/// Runs blocking desk work off the async runtime.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, DeskError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::from)
}

/// The authenticated caller, or 401: a bearer token (role or person token), or else a
/// person's session cookie, which must bring the session's CSRF token for anything but GET
/// and HEAD (403 otherwise).
async fn caller(
    desk: &AppState,
    headers: &HeaderMap,
    method: &axum::http::Method,
    peer: Option<Peer>,
) -> Result<Caller, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        if let Some(secret) = people::session_cookie(headers) {
            let safe = matches!(*method, axum::http::Method::GET | axum::http::Method::HEAD);
            let csrf = headers
                .get(people::CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let desk = desk.clone();
            let source = peer.map(|p| p.0.ip().to_string());
            let auth =
                blocking(move || desk.session_caller(&secret, safe, csrf.as_deref(), source))
                    .await?;
            return match auth {
                crate::desk::people::SessionAuth::Valid(caller) => Ok(caller),
                crate::desk::people::SessionAuth::Invalid => Err(ApiError::new(
                    error::Label::AuthInvalid,
                    "the session has ended or expired: log in again (POST /v1/login)",
                )),
                crate::desk::people::SessionAuth::CsrfRefused => {
                    Err(error::Label::CsrfRefused.example())
                }
            };
        }
        return Err(ApiError::unauthenticated(
            "this needs a bearer token: Authorization: Bearer <token> (`rootdesk token issue`)",
        ));
    };
    let secret = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| {
            ApiError::new(
                error::Label::AuthInvalid,
                "expected Authorization: Bearer <token>",
            )
        })?
        .to_string();
    let desk = desk.clone();
    let source = peer.map(|p| p.0.ip().to_string());
    blocking(move || desk.authenticate(&secret, source))
        .await?
        .ok_or_else(|| {
            ApiError::new(
                error::Label::AuthInvalid,
                "the token is unknown, revoked or expired",
            )
        })
}

/// The authenticated caller as an extractor: a handler that takes an `Authed` cannot run for
/// an unauthenticated request (401 before anything else happens).
pub struct Authed(pub Caller);

impl axum::extract::FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        desk: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<Peer>().copied();
        caller(desk, &parts.headers, &parts.method, peer)
            .await
            .map(Authed)
    }
}

/// An optional caller: none without an `Authorization` header, 401 with a bad one.
impl axum::extract::OptionalFromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        desk: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        if !parts.headers.contains_key(header::AUTHORIZATION)
            && people::session_cookie(&parts.headers).is_none()
        {
            return Ok(None);
        }
        <Authed as axum::extract::FromRequestParts<AppState>>::from_request_parts(parts, desk)
            .await
            .map(Some)
    }
}

/// The gate's answer for a permission that needs only the caller's role (403 when refused).
fn grant(
    desk: &Desk,
    who: &Caller,
    permission: Permission,
    resource: Resource<'_>,
) -> Result<Granted, ApiError> {
    Ok(desk.grant(who, permission, resource)?)
}

pub use crate::registry::is_forbidden_char;

/// Refuses a body any of whose strings (keys included) holds a forbidden character, naming the
/// field. A body that is not JSON is left to the strict parser to report.
fn refuse_control_characters(value: &serde_json::Value) -> Result<(), ApiError> {
    match crate::registry::find_forbidden_char(value) {
        None => Ok(()),
        Some((field, c)) => {
            let field = if field.is_empty() {
                "body".into()
            } else {
                field
            };
            Err(ApiError::invalid(
                &field,
                crate::registry::forbidden_char_message(&field, c),
            ))
        }
    }
}

/// Parses a JSON body strictly, naming the field that is wrong. Only with a permission the
/// gate granted: no handler reads a body before it knows the caller may do what it asks.
fn parse_body<T: DeserializeOwned>(
    _granted: &Granted,
    body: Result<Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    parse_strict(body)
}

/// The strict parse of [`parse_body`], for the few bodies that come before any caller is
/// known (a login, an invitation): the same limits, characters and duplicate-key rules.
fn parse_strict<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(error::Label::BodyTooLarge, "the request body is too large")
        } else {
            ApiError::invalid("body", e.body_text())
        }
    })?;
    let bytes: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        &body
    };
    // Limits and characters first, so that a bad field is refused by name whatever the
    // endpoint; malformed JSON is left to the typed parse below, which says where it breaks.
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) {
        check_limits(&value, &mut String::new())?;
        refuse_control_characters(&value)?;
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            "body".to_string()
        } else {
            path
        };
        ApiError::invalid(&field, format!("{field}: {}", e.inner()))
    })?;
    // One JSON value and nothing after it, and no key twice anywhere: parsers disagree about
    // which of two values counts, so the desk accepts neither.
    de.end()
        .map_err(|e| ApiError::invalid("body", format!("body: data after the JSON value ({e})")))?;
    let text = std::str::from_utf8(bytes).unwrap_or_default();
    if crate::audit::canonical::has_duplicate_keys(text) {
        return Err(ApiError::invalid(
            "body",
            "body: a key appears twice in one object; send each key once",
        ));
    }
    Ok(value)
}

/// The longest text any field of a request body may hold, in characters.
pub const MAX_TEXT_CHARS: usize = 2000;
/// The most items any list of a request body may hold (name servers, addresses, DS, ...).
pub const MAX_ITEMS: usize = 32;

/// Refuses a body with a string over [`MAX_TEXT_CHARS`] or a list over [`MAX_ITEMS`],
/// naming the field by its path (`proposal.delegation.nameservers[0].name`).
fn check_limits(value: &serde_json::Value, path: &mut String) -> Result<(), ApiError> {
    use serde_json::Value;
    let field = |path: &str| {
        if path.is_empty() {
            "body".to_string()
        } else {
            path.to_string()
        }
    };
    match value {
        Value::String(text) => {
            let chars = text.chars().count();
            if chars > MAX_TEXT_CHARS {
                let f = field(path);
                return Err(ApiError::invalid(
                    &f,
                    format!("{f}: {chars} characters; at most {MAX_TEXT_CHARS} are accepted"),
                ));
            }
        }
        Value::Array(items) => {
            if items.len() > MAX_ITEMS {
                let f = field(path);
                return Err(ApiError::invalid(
                    &f,
                    format!(
                        "{f}: {} items; at most {MAX_ITEMS} are accepted",
                        items.len()
                    ),
                ));
            }
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                check_limits(item, path)?;
                path.truncate(len);
            }
        }
        Value::Object(fields) => {
            if fields.len() > MAX_ITEMS {
                let f = field(path);
                return Err(ApiError::invalid(
                    &f,
                    format!(
                        "{f}: {} fields; at most {MAX_ITEMS} are accepted",
                        fields.len()
                    ),
                ));
            }
            for (key, item) in fields {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                check_limits(item, path)?;
                path.truncate(len);
            }
        }
        _ => {}
    }
    Ok(())
}

async fn healthz(State(desk): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let serial = blocking(move || desk.current_serial()).await?;
    Ok(Json(
        serde_json::json!({ "status": "ok", "serial": serial }),
    ))
}

async fn list_tlds(State(desk): State<AppState>) -> Result<Response, ApiError> {
    let tlds = blocking(move || desk.tlds()).await?;
    Ok(Json(tlds).into_response())
}

async fn show_tld(
    State(desk): State<AppState>,
    Path(label): Path<String>,
) -> Result<Response, ApiError> {
    let label = TldLabel::parse(&label).map_err(|e| ApiError::invalid("label", e.to_string()))?;
    let record = blocking(move || desk.tld_with_cds(&label)).await?;
    record
        .map(|(r, cds)| Json(crate::desk::cds::with_setting(&r, cds)).into_response())
        .ok_or_else(|| ApiError::not_found("no such TLD"))
}

/// `GET /v1/tlds/{label}/authority`: who is authorised for the TLD, its approval policy and
/// special handling (staff, auditors, and the TLD's own persons and contacts).
async fn show_authority(
    State(desk): State<AppState>,
    Authed(who): Authed,
    Path(label): Path<String>,
) -> Result<Response, ApiError> {
    let label = TldLabel::parse(&label).map_err(|e| ApiError::invalid("label", e.to_string()))?;
    let tld = label.as_str().to_string();
    let authority = blocking(move || desk.tld_authority(&who, &tld)).await?;
    Ok(Json(serde_json::json!({
        "tld": label.as_str(),
        "authority": authority,
        // Without authorised persons the TLD's contacts consent, as they always did.
        "model": if authority.is_some() { "persons" } else { "contacts" },
    }))
    .into_response())
}

/// `?serial=N` of `GET /v1/zone`: a past publication instead of the current one.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ZoneQuery {
    serial: Option<u32>,
}

async fn zone(
    State(desk): State<AppState>,
    query: Result<Query<ZoneQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| {
        ApiError::invalid("query", format!("{}: give ?serial=SERIAL", e.body_text()))
    })?;
    let serial = q.serial;
    let found = blocking(move || desk.zone_export(serial)).await?;
    let (zone, recorded) = found.ok_or_else(|| match serial {
        Some(n) => ApiError::not_found(format!("there is no publication with serial {n}")),
        None => ApiError::not_found("nothing has been published yet"),
    })?;
    let text = crate::zonefile::export_root_zone(&zone, recorded.as_deref())
        .map_err(ApiError::internal)?;
    Ok(([(header::CONTENT_TYPE, "text/dns; charset=utf-8")], text).into_response())
}

/// `?from=SERIAL&to=SERIAL` of `GET /v1/zone/diff`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DiffQuery {
    from: u32,
    to: u32,
}

/// What was added and removed per TLD between two serials, with the request tickets.
async fn zone_diff(
    State(desk): State<AppState>,
    query: Result<Query<DiffQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| {
        ApiError::invalid(
            "query",
            format!("{}: give ?from=SERIAL&to=SERIAL", e.body_text()),
        )
    })?;
    let diff = blocking(move || desk.zone_diff(q.from, q.to)).await?;
    Ok(Json(diff).into_response())
}

async fn dry_run_check(
    State(desk): State<AppState>,
    Authed(who): Authed,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let granted = grant(&desk, &who, Permission::RunCheck, Resource::Check)?;
    let body: CheckBody = parse_body(&granted, body)?;
    let zone = hickory_proto::rr::Name::from_ascii(format!("{}.", body.zone.trim_end_matches('.')))
        .map_err(|e| ApiError::invalid("zone", format!("zone: {e}")))?;
    match desk.dry_run(&who, &zone, &body.delegation).await {
        Ok(report) => Ok(Json(report).into_response()),
        Err(crate::desk::dry_runs::DryRunError::Desk(e)) => Err(e.into()),
        Err(crate::desk::dry_runs::DryRunError::Busy { retry_after_secs }) => {
            let mut refused = ApiError::new(
                error::Label::TooManyChecks,
                "too many dry-run checks are running (yours, or all callers' together); \
                 retry after the time in Retry-After",
            )
            .into_response();
            refused.headers_mut().insert(
                header::RETRY_AFTER,
                header::HeaderValue::from(retry_after_secs),
            );
            Ok(refused)
        }
    }
}

async fn upload_document(
    State(desk): State<AppState>,
    Authed(who): Authed,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    grant(&desk, &who, Permission::UploadDocument, Resource::Document)?;
    let body =
        body.map_err(|_| ApiError::new(error::Label::BodyTooLarge, "the document is too large"))?;
    if body.is_empty() {
        return Err(ApiError::invalid("body", "the document is empty"));
    }
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_string();
    let sha256 = blocking(move || desk.store_document(&who, &body, &media_type)).await?;
    Ok((StatusCode::CREATED, Json(DocumentStored { sha256 })).into_response())
}

async fn submit(
    State(desk): State<AppState>,
    Authed(who): Authed,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let granted = grant(&desk, &who, Permission::SubmitRequest, Resource::Tld(None))?;
    let body: SubmissionBody = parse_body(&granted, body)?;
    let submission = Submission {
        tld: body.tld,
        priority: body.priority,
        emergency_reason: body.emergency_reason,
        proposal: proposal_from_value(body.proposal)?,
    };
    let key = headers
        .get("idempotency-key")
        .map(|v| {
            v.to_str()
                .ok()
                .filter(|k| !k.is_empty() && k.len() <= 200)
                .map(String::from)
                .ok_or_else(|| {
                    ApiError::invalid("Idempotency-Key", "use 1 to 200 visible ASCII characters")
                })
        })
        .transpose()?;
    let (request, created) =
        blocking(move || desk.submit(&who, submission, key.as_deref())).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let location = format!("/v1/requests/{}", request.ticket);
    Ok((
        status,
        [(header::LOCATION, location)],
        Json(RequestView::new(request)),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    tld: Option<String>,
    /// One state or several, comma-separated.
    state: Option<String>,
    /// `tld` or `desk`: whose turn it is.
    owner: Option<String>,
    #[serde(default)]
    open: bool,
    limit: Option<u32>,
    after: Option<String>,
}

/// Page size of the lists: 100 unless asked, at most 1000.
const PAGE_DEFAULT: u32 = 100;
const PAGE_MAX: u32 = 1000;

/// A `limit`: 1 to `max`, or a 400 saying so (rather than a silently shorter page).
fn query_limit(limit: Option<u32>, default: u32, max: u32) -> Result<u32, ApiError> {
    match limit.unwrap_or(default) {
        n @ 1.. if n <= max => Ok(n),
        n => Err(ApiError::invalid(
            "limit",
            format!("limit: {n} is out of range; ask for 1 to {max} and follow `next` for more"),
        )),
    }
}

/// A query value with everything but RFC 3986's unreserved characters percent-encoded.
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An `after` cursor: the `next` of the previous page, a ticket.
fn query_after(after: Option<String>) -> Result<Option<String>, ApiError> {
    after
        .map(|a| {
            let plain = !a.is_empty()
                && a.len() <= 64
                && a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
            if plain {
                Ok(a)
            } else {
                Err(ApiError::invalid(
                    "after",
                    "after: not a cursor; pass the `next` of the previous page as it was given",
                ))
            }
        })
        .transpose()
}

/// A `tld` filter as stored: the A-label, lower case (`XA` finds `xa`, a U-label finds its
/// A-label); anything that is not a TLD label is a 400, not an empty list.
fn query_tld(text: Option<String>) -> Result<Option<String>, ApiError> {
    text.map(|t| {
        // Full-width and other compatibility forms are not TLD labels (IDNA2008 has no such
        // mapping): refuse them rather than guess.
        if !t.is_ascii() && t.chars().any(|c| ('\u{ff00}'..='\u{ffef}').contains(&c)) {
            return Err(ApiError::invalid(
                "tld",
                format!("tld: {t:?} has full-width characters; write the label as it is published"),
            ));
        }
        crate::registry::TldLabel::parse(&t)
            .map(|l| l.as_str().to_string())
            .map_err(|e| ApiError::invalid("tld", format!("tld: {e}")))
    })
    .transpose()
}

/// A `state` filter: workflow states, comma-separated, or a 400 naming them.
fn query_states(text: Option<String>) -> Result<Vec<String>, ApiError> {
    let Some(text) = text else {
        return Ok(Vec::new());
    };
    text.split(',')
        .map(|t| {
            let t = t.trim();
            crate::workflow::State::ALL
                .iter()
                .find(|s| s.as_str() == t)
                .map(|s| s.as_str().to_string())
                .ok_or_else(|| {
                    let names: Vec<&str> = crate::workflow::State::ALL
                        .iter()
                        .map(|s| s.as_str())
                        .collect();
                    ApiError::invalid(
                        "state",
                        format!("state: {t:?} is not a state; one of {}", names.join(", ")),
                    )
                })
        })
        .collect()
}

/// An `owner` filter: `tld` or `desk`.
fn query_owner(text: Option<String>) -> Result<Option<String>, ApiError> {
    match text.as_deref() {
        None => Ok(None),
        Some(o @ ("tld" | "desk")) => Ok(Some(o.to_string())),
        Some(other) => Err(ApiError::invalid(
            "owner",
            format!("owner: {other:?} is not an owner; use tld (the TLD must act) or desk"),
        )),
    }
}

async fn list_requests(
    State(desk): State<AppState>,
    Authed(who): Authed,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    let tld = query_tld(query.tld)?;
    let states = query_states(query.state)?;
    let owner = query_owner(query.owner)?;
    let limit = query_limit(query.limit, PAGE_DEFAULT, PAGE_MAX)?;
    let filter = RequestFilter {
        tlds: tld.clone().map(|t| vec![t]),
        states: states.clone(),
        owner: owner.clone(),
        open_only: query.open,
        // One more than asked: whether there is a next page.
        limit: limit + 1,
        before: query_after(query.after)?,
    };
    let mut requests = blocking(move || desk.list(&who, filter)).await?;
    let next = if requests.len() > limit as usize {
        requests.truncate(limit as usize);
        requests.last().map(|last| {
            // Every part is already plain ASCII (an A-label, a state name, a ticket).
            let mut link = format!("/v1/requests?limit={limit}");
            if let Some(t) = &tld {
                link.push_str(&format!("&tld={t}"));
            }
            if !states.is_empty() {
                link.push_str(&format!("&state={}", states.join(",")));
            }
            if let Some(o) = &owner {
                link.push_str(&format!("&owner={o}"));
            }
            if query.open {
                link.push_str("&open=true");
            }
            link.push_str(&format!("&after={}", last.ticket));
            link
        })
    } else {
        None
    };
    Ok(Json(RequestList { requests, next }).into_response())
}

async fn show_request(
    State(desk): State<AppState>,
    Authed(who): Authed,
    Path(ticket): Path<String>,
) -> Result<Response, ApiError> {
    let view = blocking(move || {
        let request = desk.read(&who, &ticket)?;
        let (history, checks) = desk.request_history_and_checks(&ticket)?;
        let mut view = RequestView::new(request);
        view.history = Some(history);
        view.checks = Some(checks);
        Ok(view)
    })
    .await?;
    Ok(Json(view).into_response())
}

async fn request_checks(
    State(desk): State<AppState>,
    Authed(who): Authed,
    Path(ticket): Path<String>,
) -> Result<Response, ApiError> {
    let checks = blocking(move || {
        desk.read(&who, &ticket)?;
        desk.checks_of(&ticket)
    })
    .await?;
    let checks = checks
        .into_iter()
        .map(|(job, report)| wire::CheckRun { job, report })
        .collect();
    Ok(Json(wire::CheckList { checks }).into_response())
}

async fn act(
    State(desk): State<AppState>,
    Authed(who): Authed,
    Path((ticket, action)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let action = match Action::from_name(&action) {
        Some(a) if a != Action::Read => a,
        _ => {
            return Err(ApiError::not_found(format!(
                "no action {action:?}: amend, withdraw, confirm, decline, answer, approve, reject, ask, evaluate, implement or verify"
            )))
        }
    };
    // The permission gate comes before the body is read.
    let granted = {
        let (desk, who, ticket) = (desk.clone(), who.clone(), ticket.clone());
        blocking(move || desk.authorize(&who, &ticket, action)).await?
    };
    let command = match action {
        Action::Amend => {
            let b: AmendBody = parse_body(&granted, body)?;
            Command::Amend {
                proposal: Box::new(proposal_from_value(b.proposal)?),
            }
        }
        Action::Withdraw => Command::Withdraw {
            reason: parse_body::<ReasonBody>(&granted, body)?.reason,
        },
        Action::Confirm => {
            parse_body::<EmptyBody>(&granted, body)?;
            Command::Confirm
        }
        Action::Decline => Command::Decline {
            reason: parse_body::<ReasonBody>(&granted, body)?.reason,
        },
        Action::Answer => Command::Answer {
            answer: parse_body::<AnswerBody>(&granted, body)?.answer,
        },
        Action::Approve => Command::Approve {
            note: parse_body::<NoteBody>(&granted, body)?.note,
        },
        Action::Reject => Command::Reject {
            reason: parse_body::<ReasonBody>(&granted, body)?.reason,
        },
        Action::Ask => Command::Ask {
            question: parse_body::<QuestionBody>(&granted, body)?.question,
        },
        Action::Evaluate => Command::Evaluate {
            evaluation: parse_body::<EvaluateBody>(&granted, body)?.evaluation,
        },
        Action::Implement => {
            parse_body::<EmptyBody>(&granted, body)?;
            Command::Implement { serial: None }
        }
        Action::Verify => Command::Verify {
            note: parse_body::<NoteBody>(&granted, body)?.note,
        },
        Action::Read => return Err(ApiError::not_found("reading is GET /v1/requests/{ticket}")),
    };
    let request = blocking(move || desk.act(&who, &ticket, action, command)).await?;
    Ok(Json(RequestView::new(request)).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    from: Option<u64>,
    to: Option<u64>,
    tld: Option<String>,
    request: Option<String>,
    kind: Option<String>,
    actor: Option<String>,
    limit: Option<u32>,
}

async fn audit_events(
    State(desk): State<AppState>,
    Authed(who): Authed,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    grant(&desk, &who, Permission::ReadAudit, Resource::AuditLog)?;
    let Query(q) = query.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    let limit = query_limit(q.limit, 1000, 10_000)?;
    let query = EventQuery {
        from_seq: q.from,
        to_seq: q.to,
        tld: query_tld(q.tld)?,
        request: q.request,
        kind: q.kind,
        actor: q.actor,
        limit: Some(limit),
        ..EventQuery::default()
    };
    let page = query.clone();
    let events = blocking(move || desk.events(&query)).await?;
    // A full page may have more after it: the same query from one past its last event.
    let next = match events.last() {
        Some(last) if events.len() == limit as usize => {
            let mut link = format!("/v1/audit?from={}&limit={limit}", last.seq + 1);
            let filters = [
                ("to", page.to_seq.map(|t| t.to_string())),
                ("tld", page.tld),
                ("request", page.request),
                ("kind", page.kind),
                ("actor", page.actor),
            ];
            for (name, value) in filters {
                if let Some(value) = value {
                    link.push_str(&format!("&{name}={}", percent_encode(&value)));
                }
            }
            Some(link)
        }
        _ => None,
    };
    let mut body = serde_json::json!({ "events": events });
    if let Some(next) = next {
        body["next"] = serde_json::Value::String(next);
    }
    Ok(Json(body).into_response())
}

async fn audit_checkpoints(
    State(desk): State<AppState>,
    Authed(who): Authed,
) -> Result<Response, ApiError> {
    grant(&desk, &who, Permission::ReadAudit, Resource::AuditLog)?;
    let checkpoints = blocking(move || desk.checkpoints()).await?;
    Ok(Json(serde_json::json!({ "checkpoints": checkpoints })).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TurnaroundQuery {
    by: Option<String>,
    since: Option<String>,
    until: Option<String>,
}

fn query_date(field: &str, text: Option<String>) -> Result<Option<time::OffsetDateTime>, ApiError> {
    text.map(|t| {
        crate::metrics::parse_date(&t).ok_or_else(|| {
            ApiError::invalid(field, format!("{field}: expected YYYY-MM-DD or RFC 3339"))
        })
    })
    .transpose()
}

/// Turnaround report (DESIGN §7). Anyone may read the aggregates; staff and auditors also get
/// the breaches by ticket.
async fn turnaround(
    State(desk): State<AppState>,
    who: Option<Authed>,
    query: Result<Query<TurnaroundQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let who = who.map(|Authed(c)| c);
    let Query(q) = query.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    let by = match q.by.as_deref() {
        None => crate::metrics::GroupBy::Month,
        Some(text) => crate::metrics::GroupBy::parse(text).ok_or_else(|| {
            ApiError::invalid("by", "by: expected month, week, tld, kind or priority")
        })?,
    };
    let options = crate::metrics::ReportOptions {
        since: query_date("since", q.since)?,
        until: query_date("until", q.until)?,
        by,
        breaches: who.as_ref().is_some_and(|c| {
            desk.grant(c, Permission::ReadBreaches, Resource::AuditLog)
                .is_ok()
        }),
    };
    let report = blocking(move || desk.turnaround(&options, std::time::Duration::ZERO)).await?;
    Ok(Json(&*report).into_response())
}

/// `GET /metrics`: the Prometheus text format; aggregates only, no tickets.
async fn prometheus_metrics(State(desk): State<AppState>) -> Result<Response, ApiError> {
    let text = blocking(move || {
        // Counts kept up to date by the cache: a scrape's cost does not grow with history.
        let mut text = desk.prometheus()?;
        let (last, counts) = desk.last_sweep_counts()?;
        text.push_str(&crate::metrics::render_sweep(last.as_ref(), &counts));
        Ok(text)
    })
    .await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangelogQuery {
    month: Option<String>,
    format: Option<String>,
}

/// `GET /v1/changelog?month=YYYY-MM`: the public change log (src/changelog.rs), JSON, or CSV
/// with `format=csv` or `Accept: text/csv`. No token: it holds no personal data.
async fn changelog(
    State(desk): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<ChangelogQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    let month = q.month.ok_or_else(|| {
        ApiError::invalid(
            "month",
            "month: required, as YYYY-MM (GET /v1/changelog?month=2026-11)",
        )
    })?;
    let month =
        crate::changelog::Month::parse(&month).map_err(|m| ApiError::invalid("month", m))?;
    let csv = match q.format.as_deref() {
        Some("csv") => true,
        Some("json") => false,
        Some(other) => {
            return Err(ApiError::invalid(
                "format",
                format!("format: {other:?} is not a format; json or csv"),
            ))
        }
        None => headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| {
                accept
                    .split(',')
                    .any(|t| t.split(';').next().is_some_and(|t| t.trim() == "text/csv"))
            }),
    };
    let log = blocking(move || desk.changelog(month)).await?;
    if csv {
        Ok((
            [(
                header::CONTENT_TYPE,
                "text/csv; charset=utf-8; header=present",
            )],
            log.to_csv(),
        )
            .into_response())
    } else {
        Ok(Json(log).into_response())
    }
}

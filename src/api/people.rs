//! Persons over HTTP (issue 14): invitations, login and logout, the caller's own account and
//! tokens, and staff's administration of persons. Logins and invitations come before any
//! caller is known; their bodies are parsed as strictly as every other body.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::{blocking, error, grant, parse_body, parse_strict, ApiError, AppState, Authed, Peer};
use crate::desk::people::{LoginAttempt, LoginError, NewPerson};
use crate::desk::{Permission, Resource};

pub use crate::http::{session_cookie, CSRF_HEADER, LOGIN_REFUSED, SESSION_COOKIE};

/// The `Set-Cookie` value of a session (`max_age` 0 and an empty value clear it).
fn cookie(desk: &AppState, value: &str, max_age: i64) -> Result<HeaderValue, ApiError> {
    crate::http::session_set_cookie(desk.secure_cookies, value, max_age).map_err(ApiError::internal)
}

fn source(peer: Option<axum::Extension<Peer>>) -> Option<String> {
    peer.map(|p| p.0 .0.ip().to_string())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    password: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeBody {
    code: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    email: String,
    password: String,
    code: Option<String>,
    recovery_code: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordBody {
    current_password: String,
    new_password: String,
    code: Option<String>,
    recovery_code: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    permissions: Vec<String>,
    tlds: Option<Vec<String>>,
    expires_in_days: u32,
}

/// `GET /v1/invitations/{secret}`: whom the invitation is for and which step is next.
pub async fn show_invitation(
    State(desk): State<AppState>,
    Path(secret): Path<String>,
) -> Result<Response, ApiError> {
    let person = blocking(move || desk.invitation(&secret)).await?;
    let step = if person.factor_enrolled {
        "enrol"
    } else {
        "password"
    };
    Ok(Json(serde_json::json!({
        "person": person.id,
        "name": person.name,
        "email": person.email,
        "role": person.role,
        "step": step,
    }))
    .into_response())
}

/// `POST /v1/invitations/{secret}` {password}: step 1, the TOTP secret to enrol.
pub async fn set_password(
    State(desk): State<AppState>,
    Path(secret): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body: PasswordBody = parse_strict(body)?;
    let set = blocking(move || desk.set_invited_password(&secret, &body.password)).await?;
    Ok(Json(set).into_response())
}

/// `POST /v1/invitations/{secret}/enrol` {code}: step 2, active, recovery codes shown once.
pub async fn enrol(
    State(desk): State<AppState>,
    Path(secret): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body: CodeBody = parse_strict(body)?;
    let enrolled = blocking(move || desk.enrol(&secret, &body.code)).await?;
    Ok(Json(enrolled).into_response())
}

/// `POST /v1/login`: a session cookie and its CSRF token. A session cookie sent along ends.
pub async fn login(
    State(desk): State<AppState>,
    peer: Option<axum::Extension<Peer>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body: LoginBody = parse_strict(body)?;
    let attempt = LoginAttempt {
        email: body.email,
        password: body.password,
        code: body.code,
        recovery_code: body.recovery_code,
        presented: session_cookie(&headers),
        source: source(peer),
    };
    let d = desk.clone();
    let outcome = tokio::task::spawn_blocking(move || d.login(attempt))
        .await
        .map_err(ApiError::internal)?;
    let session = match outcome {
        Ok(session) => session,
        Err(LoginError::Invalid) => {
            return Err(ApiError::new(error::Label::AuthInvalid, LOGIN_REFUSED))
        }
        Err(LoginError::Throttled(wait)) => {
            let mut refused = error::Label::AuthThrottled.example().into_response();
            let secs = u64::try_from(wait.whole_seconds()).unwrap_or(1).max(1)
                + u64::from(wait.subsec_nanoseconds() > 0);
            refused
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            return Ok(refused);
        }
        Err(LoginError::Desk(e)) => return Err(e.into()),
    };
    let max_age = i64::from(desk.accounts.session_absolute_hours.max(1)) * 3600;
    let mut response = Json(serde_json::json!({
        "person": session.person.id,
        "name": session.person.name,
        "role": session.person.role,
        "csrf_token": session.csrf,
        "expires_at": crate::store::timestamp(session.expires_at),
    }))
    .into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie(&desk, &session.secret, max_age)?);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `POST /v1/logout`: ends the session of the cookie.
pub async fn logout(
    State(desk): State<AppState>,
    Authed(who): Authed,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Some(secret) = session_cookie(&headers) else {
        return Err(ApiError::forbidden(
            "logout ends a login session; a token is revoked with POST /v1/tokens/{id}/revoke",
        ));
    };
    let d = desk.clone();
    blocking(move || d.logout(&who, &secret)).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie(&desk, "", 0)?);
    Ok(response)
}

/// `GET /v1/me`: the caller's account, TLDs and groups, and whether a factor is enrolled.
pub async fn me(State(desk): State<AppState>, Authed(who): Authed) -> Result<Response, ApiError> {
    grant(&desk, &who, Permission::OwnAccount, Resource::Persons)?;
    let via = if who.token.starts_with(crate::desk::people::SESSION_PREFIX) {
        "session".to_string()
    } else {
        who.token.clone()
    };
    let view = blocking(move || desk.me(&who)).await?;
    let mut value = serde_json::to_value(view).map_err(ApiError::internal)?;
    value["via"] = serde_json::Value::String(via);
    Ok(Json(value).into_response())
}

/// `POST /v1/me/password`: a new password; every session and token of the person ends.
pub async fn change_password(
    State(desk): State<AppState>,
    Authed(who): Authed,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let granted = grant(&desk, &who, Permission::OwnAccount, Resource::Persons)?;
    let body: ChangePasswordBody = parse_body(&granted, body)?;
    let d = desk.clone();
    let changed = blocking(move || {
        d.change_password(
            &who,
            &body.current_password,
            body.code.as_deref(),
            body.recovery_code.as_deref(),
            &body.new_password,
        )
    })
    .await?;
    let mut response = Json(changed).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie(&desk, "", 0)?);
    Ok(response)
}

/// `POST /v1/tokens`: a person token (from a login session only), its secret shown once.
pub async fn issue_token(
    State(desk): State<AppState>,
    Authed(who): Authed,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let granted = grant(&desk, &who, Permission::OwnAccount, Resource::Persons)?;
    let body: TokenBody = parse_body(&granted, body)?;
    let issued = blocking(move || {
        desk.issue_person_token(
            &who,
            &body.permissions,
            body.tlds.as_deref(),
            body.expires_in_days,
        )
    })
    .await?;
    Ok((StatusCode::CREATED, Json(issued)).into_response())
}

/// `GET /v1/tokens`: the caller's own person tokens.
pub async fn list_tokens(
    State(desk): State<AppState>,
    Authed(who): Authed,
) -> Result<Response, ApiError> {
    grant(&desk, &who, Permission::OwnAccount, Resource::Persons)?;
    let tokens = blocking(move || desk.person_tokens(&who)).await?;
    Ok(Json(serde_json::json!({ "tokens": tokens })).into_response())
}

/// `POST /v1/tokens/{id}/revoke`: revokes one of the caller's own tokens.
pub async fn revoke_token(
    State(desk): State<AppState>,
    Authed(who): Authed,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let granted = grant(&desk, &who, Permission::OwnAccount, Resource::Persons)?;
    parse_body::<super::EmptyBody>(&granted, body)?;
    let token = blocking(move || desk.revoke_person_token(&who, &id)).await?;
    Ok(Json(token).into_response())
}

/// `GET /v1/persons` (staff).
pub async fn list_persons(
    State(desk): State<AppState>,
    Authed(who): Authed,
) -> Result<Response, ApiError> {
    grant(&desk, &who, Permission::ManagePersons, Resource::Persons)?;
    let persons = blocking(move || desk.persons()).await?;
    Ok(Json(serde_json::json!({ "persons": persons })).into_response())
}

/// `POST /v1/persons` (staff): invites a person; the link is in the answer, shown once.
pub async fn invite(
    State(desk): State<AppState>,
    Authed(who): Authed,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let granted = grant(&desk, &who, Permission::ManagePersons, Resource::Persons)?;
    let new: NewPerson = parse_body(&granted, body)?;
    let invitation =
        blocking(move || desk.invite_person(&who.actor(), who.source.as_deref(), new)).await?;
    Ok((StatusCode::CREATED, Json(invitation)).into_response())
}

/// `GET /v1/persons/{id}` (staff).
pub async fn show_person(
    State(desk): State<AppState>,
    Authed(who): Authed,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    grant(&desk, &who, Permission::ManagePersons, Resource::Persons)?;
    let view = blocking(move || desk.person_view(&id)).await?;
    Ok(Json(view).into_response())
}

/// `POST /v1/persons/{id}/disable` (staff).
pub async fn disable(
    State(desk): State<AppState>,
    Authed(who): Authed,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let granted = grant(&desk, &who, Permission::ManagePersons, Resource::Persons)?;
    parse_body::<super::EmptyBody>(&granted, body)?;
    let changed =
        blocking(move || desk.disable_person(&who.actor(), who.source.as_deref(), &id)).await?;
    Ok(Json(changed).into_response())
}

/// `POST /v1/persons/{id}/reset-factor` (staff): a new invitation link.
pub async fn reset_factor(
    State(desk): State<AppState>,
    Authed(who): Authed,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let granted = grant(&desk, &who, Permission::ManagePersons, Resource::Persons)?;
    parse_body::<super::EmptyBody>(&granted, body)?;
    let invitation =
        blocking(move || desk.reset_factor(&who.actor(), who.source.as_deref(), &id)).await?;
    Ok(Json(invitation).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cookie's attributes; `Secure` exactly when the daemon serves TLS.
    #[test]
    fn session_cookie_attributes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = crate::store::Store::create(&dir.path().join("t.db")).expect("create");
        let settings = crate::desk::DeskSettings {
            expire_days: 30,
            reminder_days: Vec::new(),
            ttls: crate::store::PublishTtls {
                ns: 1,
                ds: 1,
                glue: 1,
            },
            profile: crate::check::Profile::default(),
            check_ports: Default::default(),
            sweep_remind_after: None,
            four_eyes: false,
        };
        let plain = std::sync::Arc::new(crate::desk::Desk::new(store, settings.clone()));
        let value = cookie(&plain, "abc", 60).expect("cookie");
        assert_eq!(
            value.to_str().expect("ascii"),
            "rootdesk_session=abc; HttpOnly; SameSite=Strict; Path=/; Max-Age=60"
        );
        let store = crate::store::Store::open(&dir.path().join("t.db")).expect("open");
        let tls =
            std::sync::Arc::new(crate::desk::Desk::new(store, settings).with_secure_cookies(true));
        assert!(cookie(&tls, "abc", 60)
            .expect("cookie")
            .to_str()
            .expect("ascii")
            .ends_with("; Secure"));
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("other=1; rootdesk_session=s3cr3t_-x; more=2"),
        );
        assert_eq!(session_cookie(&headers).as_deref(), Some("s3cr3t_-x"));
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("rootdesk_session=a;b"),
        );
        assert_eq!(session_cookie(&headers).as_deref(), Some("a"));
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("rootdesk_session="),
        );
        assert_eq!(session_cookie(&headers), None);
    }
}

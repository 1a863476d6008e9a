//! The one place where errors become HTTP statuses with stable labels. Every label is a
//! [`Label`]: its name, status and an example of its body are in one match each, and
//! `fixtures/golden/errors/<label>.json` holds the example as clients see it (a test compares;
//! `UPDATE_GOLDEN=1 cargo test --lib golden` rewrites them).

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::desk::DeskError;
use crate::store::StoreError;
use crate::workflow::WorkflowError;

/// Every error label the API answers with. Clients may match on the name; a new label is
/// added here, and the compiler asks for its status and its example.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Label {
    /// No `Authorization` header.
    AuthMissing,
    /// A malformed header, or a token unknown, revoked or expired.
    AuthInvalid,
    /// The gate refused the permission.
    AuthForbidden,
    /// A body, query or path value that is wrong; `field` names it.
    InputInvalid,
    BodyTooLarge,
    NotFound,
    /// The request is not in a state that allows the command.
    RequestState,
    RequestConflict,
    IdempotencyKeyReused,
    TooManyChecks,
    /// Logins backed off after repeated failures (issue 14); `Retry-After` says how long.
    AuthThrottled,
    /// A session-cookie request that changes something without the session's CSRF token.
    CsrfRefused,
    Internal,
}

impl Label {
    pub const ALL: [Label; 13] = [
        Label::AuthMissing,
        Label::AuthInvalid,
        Label::AuthForbidden,
        Label::InputInvalid,
        Label::BodyTooLarge,
        Label::NotFound,
        Label::RequestState,
        Label::RequestConflict,
        Label::IdempotencyKeyReused,
        Label::TooManyChecks,
        Label::AuthThrottled,
        Label::CsrfRefused,
        Label::Internal,
    ];

    /// The stable kebab-case name in `{"error": ...}`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Label::AuthMissing => "auth-missing",
            Label::AuthInvalid => "auth-invalid",
            Label::AuthForbidden => "auth-forbidden",
            Label::InputInvalid => "input-invalid",
            Label::BodyTooLarge => "body-too-large",
            Label::NotFound => "not-found",
            Label::RequestState => "request-state",
            Label::RequestConflict => "request-conflict",
            Label::IdempotencyKeyReused => "idempotency-key-reused",
            Label::TooManyChecks => "too-many-checks",
            Label::AuthThrottled => "auth-throttled",
            Label::CsrfRefused => "csrf-refused",
            Label::Internal => "internal",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Label::AuthMissing | Label::AuthInvalid => StatusCode::UNAUTHORIZED,
            Label::AuthForbidden => StatusCode::FORBIDDEN,
            Label::InputInvalid => StatusCode::BAD_REQUEST,
            Label::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Label::NotFound => StatusCode::NOT_FOUND,
            Label::RequestState | Label::RequestConflict => StatusCode::CONFLICT,
            Label::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Label::TooManyChecks | Label::AuthThrottled => StatusCode::TOO_MANY_REQUESTS,
            Label::CsrfRefused => StatusCode::FORBIDDEN,
            Label::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A typical error with this label, for the golden files and the documentation.
    pub fn example(self) -> ApiError {
        match self {
            Label::AuthMissing => ApiError::unauthenticated(
                "this needs a bearer token: Authorization: Bearer <token> (`rootdesk token issue`)",
            ),
            Label::AuthInvalid => {
                ApiError::new(self, "the token is unknown, revoked or expired")
            }
            Label::AuthForbidden => ApiError::forbidden("only desk staff may do this"),
            Label::InputInvalid => ApiError::invalid(
                "proposal.nameservers",
                "proposal.nameservers: at least two name servers are required",
            ),
            Label::BodyTooLarge => ApiError::new(self, "the request body is too large"),
            Label::NotFound => ApiError::not_found("request RD-20260101-0001 not found"),
            Label::RequestState => ApiError::new(
                self,
                "approve is not possible in contact-confirmation (owner: tld)",
            ),
            Label::RequestConflict => ApiError::new(
                self,
                "RD-20260101-0001 is open for .xa already: amend or withdraw it first",
            ),
            Label::IdempotencyKeyReused => ApiError::new(
                self,
                "this Idempotency-Key was used for another submission, RD-20260101-0001: use a new key for a new request",
            ),
            Label::TooManyChecks => ApiError::new(
                self,
                "too many dry-run checks are running (yours, or all callers' together); \
                 retry after the time in Retry-After",
            ),
            Label::AuthThrottled => ApiError::new(
                self,
                "too many failed logins for this account or from this address: retry after the time in Retry-After",
            ),
            Label::CsrfRefused => ApiError::new(
                self,
                "this needs the session's CSRF token in X-CSRF-Token (the csrf_token of POST /v1/login)",
            ),
            Label::Internal => ApiError::new(
                self,
                "the desk failed to complete this; it is logged, and nothing was changed",
            ),
        }
    }
}

/// An error as the API answers it: `{"error": "label", "message": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiError {
    #[serde(skip)]
    pub status: StatusCode,
    /// Stable, kebab-case; clients may match on it.
    pub error: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(label: Label, message: impl Into<String>) -> ApiError {
        ApiError {
            status: label.status(),
            error: label.as_str(),
            message: message.into(),
            field: None,
        }
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            field: Some(field.to_string()),
            ..ApiError::new(Label::InputInvalid, message)
        }
    }

    pub fn unauthenticated(message: &str) -> ApiError {
        ApiError::new(Label::AuthMissing, message)
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(Label::AuthForbidden, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(Label::NotFound, message)
    }

    pub fn internal(e: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %e, "internal error");
        ApiError::new(
            Label::Internal,
            "the desk failed to complete this; it is logged, and nothing was changed",
        )
    }
}

impl From<DeskError> for ApiError {
    fn from(e: DeskError) -> ApiError {
        match e {
            DeskError::Workflow(WorkflowError::Invalid { field, message }) => {
                ApiError::invalid(&field, format!("{field}: {message}"))
            }
            DeskError::Workflow(e @ WorkflowError::WrongState { .. }) => {
                ApiError::new(Label::RequestState, e.to_string())
            }
            DeskError::Workflow(WorkflowError::Conflict(m)) => {
                ApiError::new(Label::RequestConflict, m)
            }
            DeskError::Workflow(WorkflowError::Forbidden(m)) | DeskError::Forbidden(m) => {
                ApiError::forbidden(m)
            }
            DeskError::NotFound(what) => ApiError::not_found(format!("{what} not found")),
            DeskError::Store(StoreError::NotFound(what)) => {
                ApiError::not_found(format!("{what} not found"))
            }
            DeskError::Store(StoreError::Conflict(m)) => ApiError::new(Label::RequestConflict, m),
            e @ DeskError::IdempotencyMismatch(_) => {
                ApiError::new(Label::IdempotencyKeyReused, e.to_string())
            }
            DeskError::Store(e) => ApiError::internal(e),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status;
        let mut response = (status, axum::Json(&self)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

#[cfg(test)]
mod golden {
    use super::*;

    /// What a client receives for the label's example: the status and the JSON body.
    fn rendered(label: Label) -> String {
        let e = label.example();
        let body = serde_json::to_value(&e).expect("an error serialises");
        let out = serde_json::json!({ "status": e.status.as_u16(), "body": body });
        serde_json::to_string_pretty(&out).expect("JSON") + "\n"
    }

    /// Each label has its golden file, and the file is what the API sends. With
    /// `UPDATE_GOLDEN=1` the files are rewritten instead.
    #[test]
    fn golden_error_bodies() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/golden/errors");
        let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1");
        let mut names = std::collections::BTreeSet::new();
        for label in Label::ALL {
            assert_eq!(label.example().error, label.as_str(), "{label:?}'s example");
            assert!(
                names.insert(label.as_str()),
                "{label:?} twice in Label::ALL"
            );
            let path = dir.join(format!("{}.json", label.as_str()));
            let now = rendered(label);
            if update {
                std::fs::create_dir_all(&dir).expect("golden dir");
                std::fs::write(&path, &now).expect("write golden file");
                continue;
            }
            let golden = std::fs::read_to_string(&path).unwrap_or_else(|e| {
                panic!(
                    "{}: {e}; run UPDATE_GOLDEN=1 cargo test --lib golden",
                    path.display()
                )
            });
            assert_eq!(
                now,
                golden,
                "{} differs; rerun with UPDATE_GOLDEN=1 if meant",
                path.display()
            );
        }
        // No golden file for a label that is gone.
        for entry in std::fs::read_dir(&dir).expect("golden dir") {
            let name = entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned();
            let label = name.trim_end_matches(".json");
            assert!(
                names.contains(label),
                "{name}: no such label in api::error::Label"
            );
        }
    }
}

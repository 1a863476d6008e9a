//! The one place where errors become HTTP statuses with stable labels.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::desk::DeskError;
use crate::store::StoreError;
use crate::workflow::WorkflowError;

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
    pub fn new(status: StatusCode, error: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            error,
            message: message.into(),
            field: None,
        }
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            field: Some(field.to_string()),
            ..ApiError::new(StatusCode::BAD_REQUEST, "input-invalid", message)
        }
    }

    pub fn unauthenticated(message: &str) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "auth-missing", message)
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "auth-forbidden", message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not-found", message)
    }

    pub fn internal(e: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %e, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
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
                ApiError::new(StatusCode::CONFLICT, "request-state", e.to_string())
            }
            DeskError::Workflow(WorkflowError::Conflict(m)) => {
                ApiError::new(StatusCode::CONFLICT, "request-conflict", m)
            }
            DeskError::Workflow(WorkflowError::Forbidden(m)) | DeskError::Forbidden(m) => {
                ApiError::forbidden(m)
            }
            DeskError::NotFound(what) => ApiError::not_found(format!("{what} not found")),
            DeskError::Store(StoreError::NotFound(what)) => {
                ApiError::not_found(format!("{what} not found"))
            }
            DeskError::Store(StoreError::Conflict(m)) => {
                ApiError::new(StatusCode::CONFLICT, "request-conflict", m)
            }
            e @ DeskError::IdempotencyMismatch(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                e.to_string(),
            ),
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

//! The HTTP error type: every refusal is a 4xx or 5xx with a JSON body
//! `{"error": {"code": "...", "message": "..."}}` and a stable code.
//!
//! Messages are written for API clients: they never include a password, a stack trace or an
//! internal SQL statement.

use crate::logging::Quoted;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use memlink_actors::domain::TextError;
use memlink_actors::ports::PortError;
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid 'Authorization: Bearer <token>' header is required",
        )
    }

    /// A field's text refused by its value type.
    pub fn text(field: &str, e: TextError) -> ApiError {
        match e {
            TextError::Empty => {
                ApiError::unprocessable("empty_field", format!("{field} must not be empty"))
            }
            TextError::TooLong { limit } if field == "content" => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("{field} is longer than {limit} bytes of UTF-8"),
            ),
            TextError::TooLong { limit } => ApiError::unprocessable(
                "invalid_text",
                format!("{field} is longer than {limit} bytes"),
            ),
            TextError::ContainsNul => {
                ApiError::unprocessable("invalid_text", format!("{field} contains a NUL byte"))
            }
            TextError::ControlCharacter => ApiError::unprocessable(
                "invalid_text",
                format!("{field} contains a control character"),
            ),
        }
    }
}

impl From<PortError> for ApiError {
    fn from(e: PortError) -> ApiError {
        log::warn!(target: "memlink::http", "event=http_dependency_error port={} error={}", e.port, Quoted(&e.message));
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!("{} is unavailable; retry later", e.port),
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        // A client too slow to send its request does not keep the connection.
        if self.status == StatusCode::REQUEST_TIMEOUT {
            response.force_close();
        }
        response.json(json!({"error": {"code": self.code, "message": self.message}}))
    }
}

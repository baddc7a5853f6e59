//! Refuses a request whose URI is too long or does not decode, before any route sees it:
//! a path or query that is not valid UTF-8 once percent-decoded (`%ff`) would otherwise
//! reach a handler as U+FFFD, and an over-long URI is refused with the same JSON error body
//! as every other refusal.
//!
//! It only reads the URI; it must never rewrite a request.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;

use super::error::ApiError;

/// Longer request targets are refused with 414 (the common limit of proxies in front).
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// Why a request target is refused, if it is.
pub fn uri_problem(uri: &actix_web::http::Uri) -> Option<ApiError> {
    let target = uri.path_and_query().map_or("", |pq| pq.as_str());
    if target.len() > MAX_URI_BYTES {
        return Some(ApiError::new(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!("the request target is longer than {MAX_URI_BYTES} bytes"),
        ));
    }
    if std::str::from_utf8(&percent_decode(uri.path().as_bytes())).is_err() {
        return Some(ApiError::bad_request(
            "invalid_path",
            "the path is not valid UTF-8 once percent-decoded",
        ));
    }
    if let Some(query) = uri.query() {
        if std::str::from_utf8(&percent_decode(query.as_bytes())).is_err() {
            return Some(ApiError::bad_request(
                "invalid_query",
                "the query is not valid UTF-8 once percent-decoded",
            ));
        }
    }
    None
}

/// `%XX` → the byte; anything else (a lone `%` included) as it is.
fn percent_decode(s: &[u8]) -> Vec<u8> {
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' && i + 2 < s.len() {
            if let (Some(h), Some(l)) = (hex(s[i + 1]), hex(s[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(s[i]);
        i += 1;
    }
    out
}

/// The middleware: a refused URI is answered here with its JSON error.
pub async fn refuse_bad_uri(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if let Some(e) = uri_problem(req.uri()) {
        return Ok(req.error_response(e).map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(target: &str) -> Option<&'static str> {
        let uri: actix_web::http::Uri = target.parse().unwrap();
        uri_problem(&uri).map(|e| e.code)
    }

    #[test]
    fn targets_must_decode_to_utf8_and_be_short() {
        assert_eq!(code("/v1/users/caf%C3%A9/facts"), None);
        assert_eq!(code("/v1/users/100%25/facts?at=x%20y"), None);
        assert_eq!(code("/v1/users/a%/facts"), None);
        assert_eq!(code("/v1/users/%ff/facts"), Some("invalid_path"));
        assert_eq!(code("/v1/users/%C3/facts"), Some("invalid_path"));
        assert_eq!(
            code("/admin/dead-letters?reason=%fe"),
            Some("invalid_query")
        );
        let long = format!("/healthz?{}", "a".repeat(MAX_URI_BYTES));
        assert_eq!(code(&long), Some("uri_too_long"));
    }
}

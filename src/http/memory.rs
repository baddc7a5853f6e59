//! The memory API: a user's facts (current, at an instant, or with their history), one fact
//! with its provenance, and forgetting a user or a message.
//!
//! Handlers parse and validate every parameter into a typed value (a bad one is a 400 with a
//! stable code) before calling [`crate::postgres::memory`]. The forget endpoints are
//! irreversible, so they require the admin token when one is configured; they must never
//! answer before the forget is committed.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use memlink_actors::domain::UserId;
use serde_json::json;
use uuid::Uuid;

use super::admin::AdminAuth;
use super::chat::parse_chat_id;
use super::error::ApiError;
use super::AppState;
use crate::postgres::memory::{self, FactQuery};

/// `at` is RFC 3339. A `+` offset sent unencoded arrives as a space; it is read as `+`, since
/// no valid timestamp contains a space there.
pub fn parse_at(raw: &str) -> Result<DateTime<Utc>, ApiError> {
    let parse = |s: &str| DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc));
    parse(raw)
        .or_else(|e| match raw.rfind(' ') {
            Some(i) if i > 10 => parse(&format!("{}+{}", &raw[..i], &raw[i + 1..])),
            _ => Err(e),
        })
        .map_err(|e| {
            ApiError::bad_request(
                "invalid_at",
                format!(
                    "at {:?} is not an RFC 3339 timestamp (e.g. 2026-01-02T10:00:00Z): {e}",
                    clip(raw)
                ),
            )
        })
}

/// Reads `?at=` and `?include=` (each at most once, not both).
pub fn parse_fact_query(params: &[(String, String)]) -> Result<FactQuery, ApiError> {
    let mut at = None;
    let mut history = false;
    for (k, v) in params {
        match k.as_str() {
            "at" if at.is_some() => {
                return Err(ApiError::bad_request("invalid_at", "at is given twice"))
            }
            "at" => at = Some(parse_at(v)?),
            "include" if v == "history" => history = true,
            "include" => {
                return Err(ApiError::bad_request(
                    "invalid_include",
                    format!(
                        "include {:?} is not supported (only include=history)",
                        clip(v)
                    ),
                ))
            }
            // Unknown parameters are ignored, as before this API had any.
            _ => {}
        }
    }
    match (at, history) {
        (Some(_), true) => Err(ApiError::bad_request(
            "invalid_include",
            "include=history lists every value with its validity; it cannot be combined with at",
        )),
        (Some(t), false) => Ok(FactQuery::At(t)),
        (None, true) => Ok(FactQuery::History),
        (None, false) => Ok(FactQuery::Current),
    }
}

fn parse_user_id(raw: &str) -> Result<UserId, ApiError> {
    UserId::try_new(raw).map_err(|e| ApiError::text("user_id", e))
}

fn parse_uuid(raw: &str, code: &'static str, what: &str) -> Result<Uuid, ApiError> {
    Uuid::try_parse(raw)
        .map_err(|_| ApiError::bad_request(code, format!("{what} {:?} is not a UUID", clip(raw))))
}

/// `GET /v1/users/{user_id}/facts[?at=<RFC 3339>|?include=history]`
pub async fn get_facts(
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, ApiError> {
    let user_id = parse_user_id(&path)?;
    let which = parse_fact_query(&query)?;
    let facts = memory::list_facts(&state.pg, user_id.as_str(), which).await?;
    Ok(HttpResponse::Ok().json(json!({ "facts": facts })))
}

/// `GET /v1/facts/{fact_id}`
pub async fn get_fact(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_uuid(&path, "invalid_fact_id", "fact id")?;
    match memory::fact_detail(&state.pg, id).await? {
        Some(fact) => Ok(HttpResponse::Ok().json(fact)),
        None => Err(ApiError::not_found(
            "fact_not_found",
            format!("no fact {id}"),
        )),
    }
}

/// `DELETE /v1/users/{user_id}`
pub async fn forget_user(
    _auth: AdminAuth,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user_id = parse_user_id(&path)?;
    let (at, removed, redacted) =
        memory::forget_user(&state.pg, &state.bus, user_id.as_str()).await?;
    Ok(HttpResponse::Ok().json(json!({
        "user_id": user_id.as_str(),
        "forgotten_at": at,
        "removed": removed,
        "redacted": redacted,
    })))
}

/// `DELETE /v1/chats/{chat_id}/messages/{message_id}`
pub async fn forget_message(
    _auth: AdminAuth,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let chat_id = parse_chat_id(&path.0)?;
    let message_id = parse_uuid(&path.1, "invalid_message_id", "message id")?;
    match memory::forget_message(&state.pg, &state.bus, chat_id.0, message_id).await? {
        Some((at, removed, redacted)) => Ok(HttpResponse::Ok().json(json!({
            "chat_id": chat_id,
            "message_id": message_id,
            "forgotten_at": at,
            "removed": removed,
            "redacted": redacted,
        }))),
        None => Err(ApiError::not_found(
            "message_not_found",
            format!("chat {chat_id} has no message {message_id}"),
        )),
    }
}

fn clip(s: &str) -> String {
    s.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_fact_query_is_parsed_strictly() {
        assert_eq!(parse_fact_query(&[]).unwrap(), FactQuery::Current);
        assert_eq!(
            parse_fact_query(&q(&[("include", "history")])).unwrap(),
            FactQuery::History
        );
        let FactQuery::At(t) = parse_fact_query(&q(&[("at", "2026-01-02T10:00:00Z")])).unwrap()
        else {
            panic!("expected at")
        };
        assert_eq!(t.to_rfc3339(), "2026-01-02T10:00:00+00:00");
        // An unencoded '+' arrives as a space.
        let FactQuery::At(t) =
            parse_fact_query(&q(&[("at", "2026-01-02T12:00:00 02:00")])).unwrap()
        else {
            panic!("expected at")
        };
        assert_eq!(t.to_rfc3339(), "2026-01-02T10:00:00+00:00");
        for (params, code) in [
            (q(&[("at", "yesterday")]), "invalid_at"),
            (q(&[("at", "")]), "invalid_at"),
            (q(&[("at", "2026-01-02")]), "invalid_at"),
            (q(&[("include", "everything")]), "invalid_include"),
            (q(&[("include", "")]), "invalid_include"),
            (
                q(&[("include", "history"), ("at", "2026-01-02T10:00:00Z")]),
                "invalid_include",
            ),
        ] {
            assert_eq!(
                parse_fact_query(&params).unwrap_err().code,
                code,
                "{params:?}"
            );
        }
    }
}

//! The chat API: accept a message (message row + outbox event in one transaction), read a
//! chat. (A user's facts are served by [`super::memory`].)
//!
//! Input is decoded here into domain types before anything is stored; a handler must never
//! pass an unvalidated string to the store.

use actix_web::{web, HttpResponse};
use futures_util::StreamExt;
use memlink_actors::decode::MAX_PAYLOAD_BYTES;
use memlink_actors::domain::{ChatId, Content, MessageId, Role, UserId};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::error::ApiError;
use super::AppState;
use crate::postgres::api::{self, NewMessage};

pub fn parse_chat_id(raw: &str) -> Result<ChatId, ApiError> {
    Uuid::try_parse(raw).map(ChatId).map_err(|_| {
        ApiError::bad_request(
            "invalid_chat_id",
            format!("chat id {:?} is not a UUID", clip(raw)),
        )
    })
}

/// Reads the body up to `limit` bytes; more is a 413, not a truncation. The whole body must
/// arrive within `timeout` (a 408 that closes the connection otherwise): a half-sent body
/// must not hold a connection open.
pub async fn read_body(
    mut payload: web::Payload,
    limit: usize,
    timeout: std::time::Duration,
) -> Result<Vec<u8>, ApiError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut body = Vec::new();
    loop {
        let next = tokio::time::timeout_at(deadline, payload.next())
            .await
            .map_err(|_| {
                ApiError::new(
                    actix_web::http::StatusCode::REQUEST_TIMEOUT,
                    "body_timeout",
                    format!(
                        "the request body did not arrive within {} s",
                        timeout.as_secs_f64()
                    ),
                )
            })?;
        let Some(chunk) = next else {
            break;
        };
        let chunk = chunk.map_err(|e| ApiError::bad_request("invalid_body", e.to_string()))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::new(
                actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the request body is larger than {limit} bytes"),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn field<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<&'a str, ApiError> {
    match obj.get(name) {
        None | Some(Value::Null) => Err(ApiError::unprocessable(
            "missing_field",
            format!("{name} is required"),
        )),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(ApiError::unprocessable(
            "invalid_type",
            format!("{name} must be a string"),
        )),
    }
}

/// `POST /v1/chats/{chat_id}/messages`
pub async fn post_message(
    state: web::Data<AppState>,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let chat_id = parse_chat_id(&path)?;
    let body = read_body(payload, MAX_PAYLOAD_BYTES, state.client_timeout).await?;
    let value: Value = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request("invalid_json", format!("the body is not valid JSON: {e}"))
    })?;
    let obj = value
        .as_object()
        .ok_or_else(|| ApiError::bad_request("invalid_json", "the body must be a JSON object"))?;
    let user_id =
        UserId::try_new(field(obj, "user_id")?).map_err(|e| ApiError::text("user_id", e))?;
    let role_text = field(obj, "role")?;
    let role = Role::parse(role_text).ok_or_else(|| {
        ApiError::unprocessable(
            "invalid_role",
            format!(
                "role {:?} is not one of user, assistant, system",
                clip(role_text)
            ),
        )
    })?;
    let content =
        Content::try_new(field(obj, "content")?).map_err(|e| ApiError::text("content", e))?;
    // A forgotten user stays forgotten: their new messages are refused, not stored.
    if crate::postgres::memory::is_user_forgotten(&state.pg, user_id.as_str()).await? {
        return Err(ApiError::new(
            actix_web::http::StatusCode::GONE,
            "user_forgotten",
            format!("user {:?} was forgotten", clip(user_id.as_str())),
        ));
    }
    let message = NewMessage {
        chat_id,
        message_id: MessageId(state.ambient.ids.new_id()),
        event_id: state.ambient.ids.new_id(),
        user_id,
        role,
        content,
        // Postgres keeps microseconds; so does the event.
        created_at: chrono::SubsecRound::trunc_subsecs(state.ambient.clock.now(), 6),
    };
    api::insert_message(&state.pg, &message).await?;
    Ok(HttpResponse::Created().json(json!({
        "message_id": message.message_id,
        "event_id": message.event_id,
    })))
}

/// `GET /v1/chats/{chat_id}`
pub async fn get_chat(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let chat_id = parse_chat_id(&path)?;
    match api::get_chat(&state.pg, chat_id).await? {
        Some(chat) => Ok(HttpResponse::Ok().json(chat)),
        None => Err(ApiError::not_found(
            "chat_not_found",
            format!("no chat {chat_id}"),
        )),
    }
}

fn clip(s: &str) -> String {
    s.chars().take(80).collect()
}

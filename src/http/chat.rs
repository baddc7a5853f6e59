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
use crate::postgres::api::{self, Accepted, IdempotencyKey, NewMessage};

/// The request header that makes a message POST safe to retry.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";
/// Set (to `true`) on a response that repeats a key's first answer.
pub const IDEMPOTENT_REPLAYED: &str = "Idempotent-Replayed";
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;

/// The `Idempotency-Key` header, if any: a Structured Field string (`"..."`, as the draft
/// writes it) or the bare key; 1 to 255 printable ASCII characters, at most one header.
pub fn idempotency_key(req: &actix_web::HttpRequest) -> Result<Option<String>, ApiError> {
    let invalid = |why: &str| {
        ApiError::bad_request(
            "invalid_idempotency_key",
            format!("{IDEMPOTENCY_KEY}: {why}"),
        )
    };
    let mut values = req.headers().get_all(IDEMPOTENCY_KEY);
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(invalid("given more than once"));
    }
    let raw = value
        .to_str()
        .map_err(|_| invalid("must be printable ASCII"))?
        .trim();
    let key = match raw.strip_prefix('"') {
        Some(quoted) => unquote_sf_string(quoted)
            .ok_or_else(|| invalid("a quoted key must end with its quote"))?,
        None => raw.to_owned(),
    };
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_CHARS {
        return Err(invalid(&format!(
            "must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} characters"
        )));
    }
    if !key.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        return Err(invalid("must be printable ASCII"));
    }
    Ok(Some(key))
}

/// The body of an sf-string after its opening quote (RFC 8941 §3.3.3: `\"` and `\\`).
fn unquote_sf_string(s: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                e @ ('"' | '\\') => out.push(e),
                _ => return None,
            },
            '"' => return chars.as_str().is_empty().then_some(out),
            c => out.push(c),
        }
    }
    None
}

/// The fingerprint a key's retries must match: the decoded request, not its bytes (a retry
/// may reorder or re-space the JSON).
fn request_hash(user_id: &UserId, role: Role, content: &Content) -> [u8; 32] {
    use sha2::Digest;
    let canonical = json!([user_id.as_str(), role.as_str(), content.as_str()]).to_string();
    sha2::Sha256::digest(canonical.as_bytes()).into()
}

/// The answer to an accepted message: its ids, `201 Created` (a replay says so).
fn created(message_id: Uuid, event_id: Uuid, replayed: bool) -> HttpResponse {
    let mut response = HttpResponse::Created();
    if replayed {
        response.insert_header((IDEMPOTENT_REPLAYED, "true"));
    }
    response.json(json!({"message_id": message_id, "event_id": event_id}))
}

fn key_reused() -> ApiError {
    ApiError::unprocessable(
        "idempotency_key_reused",
        format!("this {IDEMPOTENCY_KEY} was used in this chat with a different request; use a new key for a new message"),
    )
}

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

/// `POST /v1/chats/{chat_id}/messages`, optionally with an `Idempotency-Key`.
pub async fn post_message(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let chat_id = parse_chat_id(&path)?;
    let key = idempotency_key(&req)?;
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
    let key = key.map(|key| IdempotencyKey {
        request_hash: request_hash(&user_id, role, &content),
        key,
    });
    // A retry is answered as the first request was, before anything else is decided.
    if let Some(k) = &key {
        match api::find_idempotent(&state.pg, chat_id, k).await? {
            Some(Accepted::Replayed {
                message_id,
                event_id,
            }) => return Ok(created(message_id, event_id, true)),
            Some(Accepted::KeyReused) => return Err(key_reused()),
            Some(Accepted::Stored) | None => {}
        }
    }
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
    match api::insert_message(&state.pg, &message, key.as_ref()).await? {
        Accepted::Stored => Ok(created(message.message_id.0, message.event_id, false)),
        Accepted::Replayed {
            message_id,
            event_id,
        } => Ok(created(message_id, event_id, true)),
        Accepted::KeyReused => Err(key_reused()),
    }
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

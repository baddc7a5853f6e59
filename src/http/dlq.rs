//! The dead-letter admin endpoints: list, show, replay (optionally patched), discard, and the
//! bulk replay/discard by filter. All of them require the admin token ([`AdminAuth`]).
//!
//! Handlers decode and bound the input (ids, filters, bodies, the `X-Memlink-Actor` header)
//! and call [`crate::postgres::dlq`], which does the work in one transaction per action and
//! audits it. They never publish to Redis or touch the actors: a replay goes back through
//! the outbox. Every refusal is an [`ApiError`] with a stable code.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::admin::AdminAuth;
use super::chat::{parse_chat_id, read_body};
use super::error::ApiError;
use super::AppState;
use crate::postgres::dlq::{
    self, BulkFilter, Channel, DlqError, LetterStatus, ListFilter, Operator,
};

/// The header naming who acts; absent, the actor is [`DEFAULT_ACTOR`].
pub const ACTOR_HEADER: &str = "X-Memlink-Actor";
pub const DEFAULT_ACTOR: &str = "admin-http";
/// Bodies here are a patch or a filter: small.
const MAX_BODY_BYTES: usize = 256 * 1024;

/// Registers the routes. The bulk paths come before `{id}` ones: actix matches resources by
/// path first, so `/admin/dead-letters/replay` must not be taken for an id.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/dead-letters", web::get().to(list))
        .route("/admin/dead-letters/replay", web::post().to(bulk_replay))
        .route("/admin/dead-letters/discard", web::post().to(bulk_discard))
        .route("/admin/dead-letters/{id}", web::get().to(show))
        .route("/admin/dead-letters/{id}/replay", web::post().to(replay))
        .route("/admin/dead-letters/{id}/discard", web::post().to(discard));
}

impl From<DlqError> for ApiError {
    fn from(e: DlqError) -> ApiError {
        let status = match &e {
            DlqError::NotFound(_) => StatusCode::NOT_FOUND,
            DlqError::NotDead { .. }
            | DlqError::NotReplayable { .. }
            | DlqError::EventIdTaken { .. } => StatusCode::CONFLICT,
            DlqError::ReplayInvalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            DlqError::FilterRequired => StatusCode::BAD_REQUEST,
            DlqError::Port(p) => return ApiError::from(p.clone()),
        };
        ApiError::new(status, e.code(), e.to_string())
    }
}

/// A replay refused by the decoder also says which reason, in a `rejection` member.
fn dlq_error_response(e: DlqError) -> Result<HttpResponse, ApiError> {
    if let DlqError::ReplayInvalid { rejection, .. } = &e {
        let api = ApiError::from(e.clone());
        return Ok(HttpResponse::build(api.status).json(json!({
            "error": {
                "code": api.code,
                "message": api.message,
                "rejection": {"reason": rejection.reason, "detail": rejection.detail},
            }
        })));
    }
    Err(ApiError::from(e))
}

fn parse_letter_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::try_parse(raw).map_err(|_| {
        ApiError::bad_request(
            "invalid_dead_letter_id",
            format!(
                "dead letter id {:?} is not a UUID",
                raw.chars().take(80).collect::<String>()
            ),
        )
    })
}

fn parse_since(raw: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    raw.map(|s| {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| {
                ApiError::bad_request("invalid_since", "since must be an RFC 3339 date-time")
            })
    })
    .transpose()
}

fn actor(req: &HttpRequest) -> Result<Operator, ApiError> {
    let name = match req.headers().get(ACTOR_HEADER) {
        None => DEFAULT_ACTOR,
        Some(v) => v.to_str().map_err(|_| {
            ApiError::bad_request(
                "invalid_actor",
                format!("{ACTOR_HEADER} must be visible ASCII"),
            )
        })?,
    };
    Operator::parse(name, Channel::Http)
        .map_err(|why| ApiError::bad_request("invalid_actor", format!("{ACTOR_HEADER}: {why}")))
}

/// A `reason` filter is a reason code: anything else (a NUL, a control character) is a 400
/// here, never a query that Postgres refuses.
fn check_reason(reason: Option<&str>) -> Result<(), ApiError> {
    match reason {
        Some(r) => {
            dlq::check_reason_filter(r).map_err(|why| ApiError::bad_request("invalid_reason", why))
        }
        None => Ok(()),
    }
}

fn check_note(note: Option<&str>) -> Result<(), ApiError> {
    match note {
        Some(n) => dlq::check_note(n).map_err(|why| ApiError::bad_request("invalid_note", why)),
        None => Ok(()),
    }
}

/// Reads an optional JSON body: empty means the default.
async fn optional_body<T: for<'de> Deserialize<'de> + Default>(
    state: &AppState,
    payload: web::Payload,
) -> Result<T, ApiError> {
    let body = read_body(payload, MAX_BODY_BYTES, state.client_timeout).await?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request("invalid_body", format!("the body is not valid: {e}")))
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    reason: Option<String>,
    chat_id: Option<String>,
    since: Option<String>,
    status: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// `GET /admin/dead-letters?reason=&chat_id=&since=&status=&limit=&offset=`
pub async fn list(
    _auth: AdminAuth,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let chat_id = q
        .chat_id
        .as_deref()
        .map(parse_chat_id)
        .transpose()?
        .map(|c| c.0);
    let status = q
        .status
        .as_deref()
        .map(|s| {
            LetterStatus::parse(s).ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_status",
                    "status must be one of dead, replayed, discarded",
                )
            })
        })
        .transpose()?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_limit",
            "limit must be between 1 and 1000",
        ));
    }
    check_reason(q.reason.as_deref())?;
    let filter = ListFilter {
        reason: q.reason,
        chat_id,
        since: parse_since(q.since.as_deref())?,
        status,
        limit,
        offset: q.offset.unwrap_or(0).max(0),
    };
    let page = dlq::list(&state.pg, &filter).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// `GET /admin/dead-letters/{id}`: the letter, its payload, a replay check, its audit trail.
pub async fn show(
    _auth: AdminAuth,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_letter_id(&path)?;
    match dlq::show(&state.pg, id).await? {
        Some(detail) => Ok(HttpResponse::Ok().json(detail)),
        None => Err(DlqError::NotFound(id).into()),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayBody {
    /// A JSON merge patch (RFC 7386) applied to the stored payload.
    patch: Option<Value>,
    note: Option<String>,
}

/// `POST /admin/dead-letters/{id}/replay`, body `{"patch": {...}, "note": "..."}` (optional).
pub async fn replay(
    _auth: AdminAuth,
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let id = parse_letter_id(&path)?;
    let actor = actor(&req)?;
    let body: ReplayBody = optional_body(&state, payload).await?;
    check_note(body.note.as_deref())?;
    match dlq::replay(
        &state.pg,
        id,
        body.patch.as_ref(),
        &actor,
        body.note.as_deref(),
    )
    .await
    {
        Ok(outcome) => Ok(HttpResponse::Ok().json(outcome)),
        Err(e) => dlq_error_response(e),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscardBody {
    note: Option<String>,
}

/// `POST /admin/dead-letters/{id}/discard`, body `{"note": "..."}` (optional).
pub async fn discard(
    _auth: AdminAuth,
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let id = parse_letter_id(&path)?;
    let actor = actor(&req)?;
    let body: DiscardBody = optional_body(&state, payload).await?;
    check_note(body.note.as_deref())?;
    let outcome = dlq::discard(&state.pg, id, &actor, body.note.as_deref()).await?;
    Ok(HttpResponse::Ok().json(outcome))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkBody {
    reason: Option<String>,
    chat_id: Option<String>,
    since: Option<String>,
    #[serde(default)]
    all: bool,
    #[serde(default)]
    dry_run: bool,
    note: Option<String>,
}

impl BulkBody {
    fn filter(&self) -> Result<BulkFilter, ApiError> {
        check_reason(self.reason.as_deref())?;
        let filter = BulkFilter {
            reason: self.reason.clone(),
            chat_id: self
                .chat_id
                .as_deref()
                .map(parse_chat_id)
                .transpose()?
                .map(|c| c.0),
            since: parse_since(self.since.as_deref())?,
            all: self.all,
            ..BulkFilter::default()
        };
        filter.check()?;
        check_note(self.note.as_deref())?;
        Ok(filter)
    }
}

/// `POST /admin/dead-letters/replay`, body `{"reason", "chat_id", "since", "all", "dry_run"}`.
pub async fn bulk_replay(
    _auth: AdminAuth,
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let actor = actor(&req)?;
    let body: BulkBody = optional_body(&state, payload).await?;
    let filter = body.filter()?;
    let report = dlq::bulk_replay(
        &state.pg,
        &filter,
        &actor,
        body.dry_run,
        body.note.as_deref(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(report.to_json()))
}

/// `POST /admin/dead-letters/discard`, body `{"reason", "chat_id", "since", "all", "dry_run"}`.
pub async fn bulk_discard(
    _auth: AdminAuth,
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let actor = actor(&req)?;
    let body: BulkBody = optional_body(&state, payload).await?;
    let filter = body.filter()?;
    let report = dlq::bulk_discard(
        &state.pg,
        &filter,
        &actor,
        body.dry_run,
        body.note.as_deref(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(report.to_json()))
}

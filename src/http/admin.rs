//! Health and admin endpoints: `/healthz`, `/readyz`, `/admin/status` (the dead-letter
//! endpoints are in [`super::dlq`]).
//!
//! `/admin/*` requires the bearer token when one is configured, compared in constant time.
//! These handlers only read; they must never change pipeline state.

use std::future::{ready, Ready};

use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use memlink_actors::status::ActorState;
use memlink_actors::supervisor::Health;
use serde_json::json;

use super::error::ApiError;
use super::AppState;
use crate::postgres::api;

/// Proof that the request carried the admin token (or that none is configured).
pub struct AdminAuth;

impl FromRequest for AdminAuth {
    type Error = ApiError;
    type Future = Ready<Result<AdminAuth, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let expected = req
            .app_data::<web::Data<AppState>>()
            .and_then(|s| s.admin_token.clone());
        let Some(expected) = expected else {
            return ready(Ok(AdminAuth));
        };
        let presented = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if constant_time_eq::constant_time_eq(presented.as_bytes(), expected.as_bytes()) {
            ready(Ok(AdminAuth))
        } else {
            ready(Err(ApiError::unauthorized()))
        }
    }
}

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "alive"}))
}

/// Why the daemon is not ready, if it is not: Postgres, Redis, or an actor not running or
/// not answering.
async fn readiness_problems(state: &AppState) -> Vec<String> {
    let mut problems = Vec::new();
    if let Err(e) = api::ping(&state.pg).await {
        problems.push(format!("postgres unreachable: {}", e.message));
    }
    if let Err(e) = state.bus.ping().await {
        problems.push(format!("redis unreachable: {}", e.message));
    }
    match state.root.send(Health).await {
        Ok(children) => {
            for c in children.iter().filter(|c| !c.responsive) {
                problems.push(format!("actor {} is not responding", c.name));
            }
        }
        Err(_) => problems.push("the supervisor is not running".to_owned()),
    }
    // Critical findings of the self-diagnosis (crate::diagnose; reachability is above).
    for f in state.ops.findings(&state.pg).await {
        if f.severity == crate::diagnose::Severity::Critical
            && !matches!(f.code, "postgres_unreachable" | "redis_unreachable")
        {
            problems.push(format!("{}: {}", f.code, f.message));
        }
    }
    for s in state.status.snapshot() {
        match s.state {
            ActorState::Running | ActorState::Starting => {}
            other => problems.push(format!(
                "actor {} is {}",
                s.name,
                serde_json::to_value(other)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            )),
        }
    }
    problems
}

pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let problems = readiness_problems(&state).await;
    if problems.is_empty() {
        HttpResponse::Ok().json(json!({"status": "ready"}))
    } else {
        HttpResponse::ServiceUnavailable().json(json!({"status": "not_ready", "reasons": problems}))
    }
}

pub async fn status(
    _auth: AdminAuth,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let stats = api::store_stats(&state.pg).await?;
    let stream = state.bus.stats().await.ok();
    let findings = state.ops.findings(&state.pg).await;
    Ok(HttpResponse::Ok().json(json!({
        "outbox": stats.outbox,
        "stream": {
            "name": state.stream,
            "group": state.group,
            "length": stream.as_ref().map(|s| s.length),
            "pending": stream.as_ref().map(|s| s.pending),
            "lag": stream.as_ref().and_then(|s| s.lag),
            "consumers": stream.as_ref().map(|s| s.consumers),
            "reachable": stream.is_some(),
        },
        "dead_letters": {"total": stats.dead_letters_total},
        "watermarks": {"pending": stats.watermarks_pending},
        "reconciler": {
            "republished_total": state.status.counters()
                .get(memlink_actors::reconciler::REPUBLISHED).copied().unwrap_or(0),
        },
        "llm": crate::llm::status_json(&state.status, crate::postgres::llm::backlog(&state.pg).await.ok()),
        "actors": state.status.snapshot(),
        "role": state.ops.role,
        "instance_id": state.ops.instance_id,
        "findings": crate::diagnose::findings_json(&findings),
    })))
}

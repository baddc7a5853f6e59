//! Health and admin endpoints: `/healthz`, `/readyz`, `/admin/status` (the dead-letter
//! endpoints are in [`super::dlq`]).
//!
//! `/admin/*` requires the bearer token when one is configured, compared in constant time.
//! These handlers only read; they must never change pipeline state.

use std::future::{ready, Ready};

use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use memlink_actors::status::ActorState;
use serde_json::json;

use super::error::ApiError;
use super::{probe, AppState};
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
            .and_then(bearer_token)
            .unwrap_or("");
        if constant_time_eq::constant_time_eq(presented.as_bytes(), expected.as_bytes()) {
            ready(Ok(AdminAuth))
        } else {
            ready(Err(ApiError::unauthorized()))
        }
    }
}

/// The token of an `Authorization: Bearer <token>` value. The scheme is case-insensitive
/// (RFC 9110 §11.1); spaces around the token are not part of it.
pub fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim_start().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_matches(' '))
}

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "alive"}))
}

/// The slow checks the probes share.
pub struct Checks {
    /// The actors' answers to a health ping (the supervisor waits for each child).
    /// `None`: the supervisor is not running.
    pub health: std::sync::Arc<probe::Latest<Option<Vec<memlink_actors::supervisor::ChildHealth>>>>,
    /// The self-diagnosis snapshot (several queries to Postgres and Redis).
    pub diagnosis: std::sync::Arc<probe::Latest<crate::ops::diagnose::Snapshot>>,
}

impl Checks {
    pub fn new() -> Checks {
        Checks {
            health: probe::Latest::new(),
            diagnosis: probe::Latest::new(),
        }
    }
}

impl Default for Checks {
    fn default() -> Checks {
        Checks::new()
    }
}

/// The actors' health by `deadline` (fresh or last known): `None` when no answer came yet,
/// `Some(None)` when the supervisor is not running.
pub async fn health(
    state: &web::Data<AppState>,
    deadline: tokio::time::Instant,
) -> Option<std::sync::Arc<Option<Vec<memlink_actors::supervisor::ChildHealth>>>> {
    let root = state.root.clone();
    state
        .checks
        .health
        .get(deadline, move || async move {
            root.send(memlink_actors::supervisor::Health).await.ok()
        })
        .await
}

/// The self-diagnosis snapshot by `deadline` (fresh or last known).
pub async fn diagnosis(
    state: &web::Data<AppState>,
    deadline: tokio::time::Instant,
) -> Option<std::sync::Arc<crate::ops::diagnose::Snapshot>> {
    let state2 = state.clone();
    state
        .checks
        .diagnosis
        .get(deadline, move || async move {
            state2.ops.snapshot(&state2.pg).await
        })
        .await
}

/// Why the daemon is not ready, if it is not: Postgres, Redis, or an actor not running or
/// not answering. Every check is time-boxed ([`probe::PROBE_BUDGET`]), side by side.
async fn readiness_problems(state: &web::Data<AppState>) -> Vec<String> {
    let deadline = probe::deadline();
    let (pg, redis, health, diagnosis) = tokio::join!(
        probe::by(deadline, api::ping(&state.pg)),
        probe::by(deadline, state.bus.ping()),
        health(state, deadline),
        diagnosis(state, deadline),
    );
    let mut problems = Vec::new();
    if let Err(e) = pg {
        problems.push(format!("postgres unreachable: {e}"));
    }
    if let Err(e) = redis {
        problems.push(format!("redis unreachable: {e}"));
    }
    match health.as_deref() {
        Some(Some(children)) => {
            for c in children.iter().filter(|c| !c.responsive) {
                problems.push(format!("actor {} is not responding", c.name));
            }
        }
        Some(None) => problems.push("the supervisor is not running".to_owned()),
        None => problems.push(format!(
            "the supervisor did not answer within {} ms",
            probe::PROBE_BUDGET.as_millis()
        )),
    }
    // Critical findings of the self-diagnosis (crate::ops::diagnose; reachability is above).
    if let Some(snapshot) = diagnosis {
        for f in crate::ops::diagnose::evaluate(&snapshot, &state.ops.thresholds) {
            if f.severity == crate::ops::diagnose::Severity::Critical
                && !matches!(f.code, "postgres_unreachable" | "redis_unreachable")
            {
                problems.push(format!("{}: {}", f.code, f.message));
            }
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
    let deadline = probe::deadline();
    let (stats, stream, diagnosis, llm_backlog) = tokio::join!(
        tokio::time::timeout_at(deadline, api::store_stats(&state.pg)),
        probe::by(deadline, state.bus.stats()),
        diagnosis(&state, deadline),
        probe::by(deadline, crate::postgres::llm::backlog(&state.pg)),
    );
    let stats = match stats {
        Ok(r) => r?,
        Err(_) => {
            return Err(ApiError::new(
                actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                format!(
                    "postgres did not answer within {} ms; retry later",
                    probe::PROBE_BUDGET.as_millis()
                ),
            ))
        }
    };
    let stream = stream.ok();
    let findings = diagnosis
        .map(|s| crate::ops::diagnose::evaluate(&s, &state.ops.thresholds))
        .unwrap_or_default();
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
        "llm": crate::llm::status_json(&state.status, llm_backlog.ok()),
        "actors": state.status.snapshot(),
        "role": state.ops.role,
        "instance_id": state.ops.instance_id,
        "findings": crate::ops::diagnose::findings_json(&findings),
    })))
}

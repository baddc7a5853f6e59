//! `GET /metrics`: the Prometheus exposition of [`crate::telemetry`]'s recorder, with the
//! gauges that describe the world (outbox backlog, stream length and lag, pools, actors, live
//! processes, findings) refreshed from Postgres, Redis and the diagnosis on each scrape,
//! time-boxed so a scrape never hangs on a dead dependency. No token: it carries no secrets
//! or payloads. It only reads; it must never change pipeline state.

use actix_web::{web, HttpResponse};
use memlink_actors::status::ActorState;
use metrics::gauge;

use super::{probe, AppState};
use crate::ops::diagnose::{self, CODES};
use crate::postgres::api;

fn pool_gauges(name: &'static str, state: bb8::State) {
    let idle = f64::from(state.idle_connections);
    let in_use = f64::from(state.connections.saturating_sub(state.idle_connections));
    gauge!(name, "state" => "idle").set(idle);
    gauge!(name, "state" => "in_use").set(in_use);
}

/// Refreshes the gauges that describe the world; every check is time-boxed together
/// ([`probe::PROBE_BUDGET`]), so a scrape answers in time with a dependency down.
async fn refresh(state: &web::Data<AppState>) {
    let deadline = probe::deadline();
    let (stats, stream, snapshot) = tokio::join!(
        probe::by(deadline, api::store_stats(&state.pg)),
        probe::by(deadline, state.bus.stats()),
        crate::http::admin::diagnosis(state, deadline),
    );
    match stats {
        Ok(s) => {
            gauge!("memlink_postgres_up").set(1.0);
            gauge!("memlink_outbox_pending").set(s.outbox.pending as f64);
            gauge!("memlink_outbox_oldest_pending_age_seconds").set(s.outbox.oldest_pending_age_s);
            gauge!("memlink_dead_letters_open").set(s.dead_letters_total as f64);
            gauge!("memlink_watermarks_pending").set(s.watermarks_pending as f64);
        }
        Err(_) => gauge!("memlink_postgres_up").set(0.0),
    }
    match stream {
        Ok(s) => {
            gauge!("memlink_redis_up").set(1.0);
            gauge!("memlink_stream_length").set(s.length as f64);
            gauge!("memlink_stream_pending").set(s.pending as f64);
            gauge!("memlink_stream_consumers").set(s.consumers as f64);
            if let Some(lag) = s.lag {
                gauge!("memlink_stream_lag").set(lag as f64);
            }
        }
        Err(_) => gauge!("memlink_redis_up").set(0.0),
    }
    pool_gauges("memlink_pg_pool_connections", state.pg.state());
    pool_gauges("memlink_redis_pool_connections", state.ops.redis.state());
    for a in state.status.snapshot() {
        let up = matches!(
            a.state,
            ActorState::Starting | ActorState::Running | ActorState::Degraded
        );
        gauge!("memlink_actor_up", "actor" => a.name).set(if up { 1.0 } else { 0.0 });
    }
    let Some(snapshot) = snapshot else {
        return;
    };
    let findings = diagnose::evaluate(&snapshot, &state.ops.thresholds);
    for (code, severity, _) in CODES {
        let on = findings.iter().any(|f| f.code == *code);
        gauge!("memlink_finding", "code" => *code, "severity" => severity.as_str()).set(if on {
            1.0
        } else {
            0.0
        });
    }
    if snapshot.postgres.is_ok() {
        let (relays, workers) = diagnose::live_counts(&snapshot);
        gauge!("memlink_live_instances", "function" => "relay").set(relays as f64);
        gauge!("memlink_live_instances", "function" => "worker").set(workers as f64);
    }
}

/// `GET /metrics`: Prometheus text format, no token (it carries no secrets or payloads).
pub async fn scrape(state: web::Data<AppState>) -> HttpResponse {
    if !crate::telemetry::installed() {
        return HttpResponse::ServiceUnavailable()
            .content_type("text/plain; charset=utf-8")
            .body("metrics recorder not installed\n");
    }
    // Refreshed first, so the rendering carries this scrape's gauges.
    refresh(&state).await;
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(crate::telemetry::render().unwrap_or_default())
}

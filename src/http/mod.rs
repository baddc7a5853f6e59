//! The HTTP surface: the chat API, health checks and the admin endpoints, on actix-web.
//!
//! Handlers decode input into domain types, call a store function or read the status board,
//! and answer JSON. They never talk to the actors except to ask the supervisor for health,
//! and never panic on input (every refusal is an [`error::ApiError`]).

pub mod admin;
pub mod chat;
pub mod dlq;
pub mod error;
pub mod memory;
pub mod metrics;
pub mod probe;
pub mod uri;

use std::net::SocketAddr;
use std::time::Duration;

use actix::Addr;
use actix_web::{guard, middleware, web, App, HttpResponse, HttpServer};
use memlink_actors::ports::Ambient;
use memlink_actors::status::StatusBoard;
use memlink_actors::supervisor::RootSupervisor;

use crate::postgres::PgPool;
use crate::redis::RedisBus;
use error::ApiError;

/// What every handler may use.
pub struct AppState {
    pub pg: PgPool,
    pub bus: RedisBus,
    pub status: StatusBoard,
    pub root: Addr<RootSupervisor>,
    pub ambient: Ambient,
    pub admin_token: Option<String>,
    pub stream: String,
    pub group: String,
    /// Role, identity and what the self-diagnosis looks at.
    pub ops: std::sync::Arc<crate::ops::diagnose::OpsContext>,
    /// A client must send its request head, and then its whole body, each within this.
    pub client_timeout: Duration,
    /// The probes' slow checks, with their last answers.
    pub checks: admin::Checks,
}

/// Probes answer `GET` and `HEAD` alike (a `HEAD` gets the same status, no body).
pub fn probe() -> actix_web::Route {
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", probe().to(admin::healthz))
        .route("/metrics", probe().to(metrics::scrape))
        .route("/readyz", probe().to(admin::readyz))
        .route(
            "/v1/chats/{chat_id}/messages",
            web::post().to(chat::post_message),
        )
        .route("/v1/chats/{chat_id}", web::get().to(chat::get_chat))
        .route(
            "/v1/chats/{chat_id}/messages/{message_id}",
            web::delete().to(memory::forget_message),
        )
        .route(
            "/v1/users/{user_id}/facts",
            web::get().to(memory::get_facts),
        )
        .route("/v1/users/{user_id}", web::delete().to(memory::forget_user))
        .route("/v1/facts/{fact_id}", web::get().to(memory::get_fact))
        .route("/admin/status", probe().to(admin::status))
        .configure(dlq::routes);
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found("not_found", "no such endpoint"))
}

/// Binds (port 0 allowed) and returns the server with the address it bound.
pub fn bind(
    state: AppState,
    addr: SocketAddr,
) -> std::io::Result<(actix_web::dev::Server, SocketAddr)> {
    bind_with(state, addr, |_| {})
}

/// [`bind`], with more routes (and their state) registered by `extra` in every worker: the
/// admin console is served this way, so this module never depends on it.
pub fn bind_with<F>(
    state: AppState,
    addr: SocketAddr,
    extra: F,
) -> std::io::Result<(actix_web::dev::Server, SocketAddr)>
where
    F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
{
    let client_timeout = state.client_timeout;
    let state = web::Data::new(state);
    let query_errors = web::QueryConfig::default()
        .error_handler(|e, _| ApiError::bad_request("invalid_query", e.to_string()).into());
    let path_errors = web::PathConfig::default()
        .error_handler(|e, _| ApiError::bad_request("invalid_path", e.to_string()).into());
    let server = HttpServer::new(move || {
        App::new()
            .wrap(middleware::from_fn(uri::refuse_bad_uri))
            .app_data(state.clone())
            .app_data(query_errors.clone())
            .app_data(path_errors.clone())
            .configure(routes)
            .configure(extra.clone())
            .default_service(web::to(not_found))
    })
    .workers(2)
    // Slow or stalled clients are let go: the head within the timeout (then a 408), a
    // response's final write within 1 s, and an idle kept-alive connection after 5 s. The
    // body has its own deadline in [`chat::read_body`].
    .client_request_timeout(client_timeout)
    .client_disconnect_timeout(Duration::from_secs(1))
    .keep_alive(Duration::from_secs(5))
    .disable_signals()
    .shutdown_timeout(5)
    .bind(addr)?;
    let bound = server.addrs().first().copied().unwrap_or(addr);
    Ok((server.run(), bound))
}

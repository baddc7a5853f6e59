//! The admin console at `/admin/ui`: server-rendered pages (maud) with a small vendored
//! helper (htmx) for an operator in a browser. Overview of the pipeline, the dead letters
//! (filter, inspect, replay with a patch, discard, bulk), and the memory graph (facts,
//! sources, forgetting), in the daemon's own HTTP server.
//!
//! Every action calls the same store functions as the HTTP API and the `memlink dlq` CLI
//! ([`crate::postgres::dlq`], [`crate::postgres::memory`]), audited under the name the
//! operator signed in with and channel `console`. This module must never write SQL of its own,
//! never load anything from another host, and never show data to a request without a session
//! when an admin token is configured (see [`auth`]).

pub mod assets;
pub mod auth;
mod bulk;
mod filter;
mod headers;
mod html;
mod jobs;
mod letters;
mod memory;
mod overview;
mod runbook;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::web;

use crate::config::ConsoleMode;
use crate::ops::diagnose::{Finding, Snapshot};
use crate::postgres::console::MinuteStats;

/// Where the console lives.
pub const BASE: &str = "/admin/ui";

/// The console's own state, shared by every HTTP worker.
#[derive(Clone)]
pub struct Console {
    inner: Arc<Inner>,
}

struct Inner {
    mode: ConsoleMode,
    /// The admin token: it signs session cookies, so changing it signs everyone out.
    key: Option<Vec<u8>>,
    jobs: jobs::Jobs,
    /// The chart's figures, recomputed at most every [`overview::CHART_TTL`].
    chart: Cached<Vec<MinuteStats>>,
    /// The diagnosis, shared by every open overview for [`overview::SNAPSHOT_TTL`].
    diagnosis: Cached<Arc<(Snapshot, Vec<Finding>)>>,
}

/// A value shared by every request while it is young: however many tabs refresh the
/// overview, Postgres and Redis are asked once per period.
struct Cached<T: Clone> {
    slot: Mutex<Option<(Instant, T)>>,
}

impl<T: Clone> Cached<T> {
    fn new() -> Cached<T> {
        Cached {
            slot: Mutex::new(None),
        }
    }

    /// The value, if it is younger than `ttl`.
    fn fresh(&self, ttl: Duration) -> Option<T> {
        self.slot
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .filter(|(at, _)| at.elapsed() < ttl)
            .map(|(_, v)| v.clone())
    }

    fn put(&self, value: T) {
        *self.slot.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), value));
    }
}

impl Console {
    pub fn new(mode: ConsoleMode, admin_token: Option<&str>) -> Console {
        Console {
            inner: Arc::new(Inner {
                mode,
                key: admin_token.map(|t| t.as_bytes().to_vec()),
                jobs: jobs::Jobs::default(),
                chart: Cached::new(),
                diagnosis: Cached::new(),
            }),
        }
    }

    pub fn mode(&self) -> ConsoleMode {
        self.inner.mode
    }

    /// Registers the routes (none when the console is off, so every path is the API's 404).
    pub fn configure(&self) -> impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static {
        let console = self.clone();
        move |cfg: &mut web::ServiceConfig| {
            if console.mode() == ConsoleMode::Off {
                return;
            }
            cfg.app_data(web::Data::new(console.clone())).service(
                web::scope(BASE)
                    .app_data(web::FormConfig::default().limit(256 * 1024))
                    .route("", web::get().to(overview::show))
                    .route("/", web::get().to(overview::show))
                    .route("/overview/live", web::get().to(overview::live))
                    .route("/sign-in", web::get().to(auth::sign_in_page))
                    .route("/sign-in", web::post().to(auth::sign_in))
                    .route("/sign-out", web::post().to(auth::sign_out))
                    .route("/assets/{name}", web::get().to(assets::serve))
                    .route("/dead-letters", web::get().to(letters::list))
                    .route("/dead-letters/bulk", web::get().to(bulk::confirm))
                    .route("/dead-letters/bulk", web::post().to(bulk::start))
                    .route("/dead-letters/{id}", web::get().to(letters::detail))
                    .route(
                        "/dead-letters/{id}/preview",
                        web::post().to(letters::preview),
                    )
                    .route("/dead-letters/{id}/replay", web::post().to(letters::replay))
                    .route(
                        "/dead-letters/{id}/discard",
                        web::post().to(letters::discard),
                    )
                    .route("/jobs/{id}", web::get().to(bulk::job_page))
                    .route("/jobs/{id}/status", web::get().to(bulk::job_status))
                    .route("/memory", web::get().to(memory::lookup))
                    .route("/memory/facts/{id}", web::get().to(memory::fact))
                    .route(
                        "/memory/forget-user",
                        web::get().to(memory::forget_user_confirm),
                    )
                    .route("/memory/forget-user", web::post().to(memory::forget_user))
                    .route(
                        "/memory/forget-message",
                        web::get().to(memory::forget_message_confirm),
                    )
                    .route(
                        "/memory/forget-message",
                        web::post().to(memory::forget_message),
                    )
                    .default_service(web::to(html::not_found)),
            );
        }
    }
}

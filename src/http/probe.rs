//! Time-boxed checks for the probes (`/healthz`, `/readyz`, `/metrics`, `/admin/status`), so
//! that each answers within [`PROBE_BUDGET`] even when Postgres or Redis hangs or refuses:
//! a probe with a 1 s timeout must see a degraded daemon, never a dead one.
//!
//! Reachability is always asked afresh and a dependency that does not answer within the
//! budget is reported unreachable. Slower aggregate checks (the self-diagnosis snapshot, the
//! actors' health) are asked afresh too, but when the answer is late the probe uses the last
//! complete one, and the late answer replaces it when it comes. Nothing here changes state.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// What one probe may spend on its checks, all of them together (they run side by side).
pub const PROBE_BUDGET: Duration = Duration::from_millis(700);

/// The moment a probe starting now must have its answers by.
pub fn deadline() -> Instant {
    Instant::now() + PROBE_BUDGET
}

/// `fut`'s result, or an error saying it did not answer by `deadline`.
pub async fn by<T, E: std::fmt::Display>(
    deadline: Instant,
    fut: impl Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout_at(deadline, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {} ms", PROBE_BUDGET.as_millis())),
    }
}

/// The latest complete answer of a slow check, and at most one check in flight.
pub struct Latest<T> {
    value: Mutex<Option<(u64, Arc<T>)>>,
    generation: AtomicU64,
    busy: AtomicBool,
    done: tokio::sync::Notify,
}

impl<T: Send + Sync + 'static> Latest<T> {
    pub fn new() -> Arc<Latest<T>> {
        Arc::new(Latest {
            value: Mutex::new(None),
            generation: AtomicU64::new(0),
            busy: AtomicBool::new(false),
            done: tokio::sync::Notify::new(),
        })
    }

    fn current(&self) -> Option<(u64, Arc<T>)> {
        self.value.lock().ok().and_then(|v| v.clone())
    }

    /// A fresh answer if `check` (started now, unless one is already running) completes by
    /// `deadline`; else the last complete answer, if there was one.
    pub async fn get<F, Fut>(self: &Arc<Self>, deadline: Instant, check: F) -> Option<Arc<T>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T> + 'static,
    {
        let seen = self.generation.load(Ordering::Acquire);
        if !self.busy.swap(true, Ordering::AcqRel) {
            let this = self.clone();
            let fut = check();
            // Runs to completion even when this probe stops waiting for it.
            actix_web::rt::spawn(async move {
                let v = Arc::new(fut.await);
                let g = this.generation.fetch_add(1, Ordering::AcqRel) + 1;
                if let Ok(mut slot) = this.value.lock() {
                    *slot = Some((g, v));
                }
                this.busy.store(false, Ordering::Release);
                this.done.notify_waiters();
            });
        }
        let fresh = async {
            loop {
                let notified = self.done.notified();
                if let Some((_, v)) = self.current().filter(|(g, _)| *g > seen) {
                    return v;
                }
                notified.await;
            }
        };
        match tokio::time::timeout_at(deadline, fresh).await {
            Ok(v) => Some(v),
            Err(_) => self.current().map(|(_, v)| v),
        }
    }
}

/// The slow checks the probes share.
pub struct Checks {
    /// The actors' answers to a health ping (the supervisor waits for each child).
    /// `None`: the supervisor is not running.
    pub health: Arc<Latest<Option<Vec<memlink_actors::supervisor::ChildHealth>>>>,
    /// The self-diagnosis snapshot (several queries to Postgres and Redis).
    pub diagnosis: Arc<Latest<crate::diagnose::Snapshot>>,
}

impl Checks {
    pub fn new() -> Checks {
        Checks {
            health: Latest::new(),
            diagnosis: Latest::new(),
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
    state: &actix_web::web::Data<super::AppState>,
    deadline: Instant,
) -> Option<Arc<Option<Vec<memlink_actors::supervisor::ChildHealth>>>> {
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
    state: &actix_web::web::Data<super::AppState>,
    deadline: Instant,
) -> Option<Arc<crate::diagnose::Snapshot>> {
    let state2 = state.clone();
    state
        .checks
        .diagnosis
        .get(deadline, move || async move {
            state2.ops.snapshot(&state2.pg).await
        })
        .await
}

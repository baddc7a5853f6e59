//! Time-boxed checks for the probes (`/healthz`, `/readyz`, `/metrics`, `/admin/status`), so
//! that each answers within [`PROBE_BUDGET`] even when Postgres or Redis hangs or refuses:
//! a probe with a 1 s timeout must see a degraded daemon, never a dead one.
//!
//! Reachability is always asked afresh and a dependency that does not answer within the
//! budget is reported unreachable. Slower aggregate checks (the self-diagnosis snapshot and
//! the actors' health, kept in [`super::admin::Checks`]) are asked afresh too, but when the
//! answer is late the probe uses the last complete one ([`Latest`]), and the late answer
//! replaces it when it comes. Generic on purpose: it imports nothing of the daemon's.
//! Nothing here changes state.

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

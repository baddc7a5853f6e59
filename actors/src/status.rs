//! The status board: each actor's state, restart count and last error, shared with the
//! admin HTTP surface and the supervisor.
//!
//! It is a read model, never a control channel: nothing decides what to do by reading it
//! except the root supervisor's restart accounting. Writes are cheap and never block on I/O.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::Serialize;

/// What an actor is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorState {
    /// Not started yet: it waits for a dependency it cannot work without (Redis, for the
    /// relay and the worker); `last_error` says why.
    Waiting,
    Starting,
    Running,
    /// Alive but retrying a transient failure (Postgres or Redis unreachable).
    Degraded,
    Restarting,
    Stopped,
}

#[derive(Debug, Clone, Serialize)]
pub struct ActorStatus {
    pub name: &'static str,
    pub state: ActorState,
    pub restarts: u64,
    pub last_error: Option<String>,
    pub last_progress: Option<DateTime<Utc>>,
}

/// Shared, cloneable handle.
#[derive(Debug, Clone, Default)]
pub struct StatusBoard {
    inner: Arc<Mutex<BTreeMap<&'static str, ActorStatus>>>,
    counters: Arc<Mutex<BTreeMap<&'static str, u64>>>,
}

impl StatusBoard {
    pub fn new() -> StatusBoard {
        StatusBoard::default()
    }

    fn update(&self, name: &'static str, f: impl FnOnce(&mut ActorStatus)) {
        let mut map = match self.inner.lock() {
            Ok(m) => m,
            // A panic elsewhere while holding the lock leaves plain data behind: still usable.
            Err(poisoned) => poisoned.into_inner(),
        };
        let entry = map.entry(name).or_insert(ActorStatus {
            name,
            state: ActorState::Starting,
            restarts: 0,
            last_error: None,
            last_progress: None,
        });
        f(entry);
    }

    pub fn register(&self, name: &'static str) {
        self.update(name, |_| {});
    }

    pub fn set_state(&self, name: &'static str, state: ActorState) {
        self.update(name, |s| s.state = state);
    }

    pub fn progress(&self, name: &'static str, at: DateTime<Utc>) {
        self.update(name, |s| {
            s.state = ActorState::Running;
            s.last_progress = Some(at);
        });
    }

    /// Not started until a dependency answers; `why` is shown as its last error.
    pub fn waiting(&self, name: &'static str, why: &str) {
        self.update(name, |s| {
            s.state = ActorState::Waiting;
            s.last_error = Some(why.to_owned());
        });
    }

    pub fn degraded(&self, name: &'static str, error: &str) {
        self.update(name, |s| {
            s.state = ActorState::Degraded;
            s.last_error = Some(error.to_owned());
        });
    }

    pub fn restarted(&self, name: &'static str, error: &str) {
        // Every restart, whoever notices it, is counted here: one place for the metric.
        crate::observe::restart(name);
        self.update(name, |s| {
            s.state = ActorState::Restarting;
            s.restarts += 1;
            s.last_error = Some(error.to_owned());
        });
    }

    pub fn snapshot(&self) -> Vec<ActorStatus> {
        let map = match self.inner.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.values().cloned().collect()
    }

    /// Adds to a named counter (e.g. events re-published by the reconciler).
    pub fn bump(&self, counter: &'static str, by: u64) {
        let mut map = match self.counters.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        *map.entry(counter).or_insert(0) += by;
    }

    pub fn counters(&self) -> BTreeMap<&'static str, u64> {
        match self.counters.lock() {
            Ok(m) => m.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Total restarts across actors (the supervisor feeds its budget with the growth).
    pub fn total_restarts(&self) -> u64 {
        self.snapshot().iter().map(|s| s.restarts).sum()
    }
}

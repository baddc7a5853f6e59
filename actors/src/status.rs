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
    /// How many restarts in a row, up to the latest, failed with the same error and set no
    /// input aside: an actor that dies again and again on one input it cannot get past shows
    /// here, however slowly it loops (a restart budget counts only speed).
    pub same_error_restarts: u64,
    pub last_error: Option<String>,
    pub last_progress: Option<DateTime<Utc>>,
    /// The error of the latest restart (`last_error` also holds transient failures).
    #[serde(skip)]
    last_restart_error: Option<String>,
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
            same_error_restarts: 0,
            last_error: None,
            last_progress: None,
            last_restart_error: None,
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

    /// An actor restarts and nothing was set aside: if it died on an input, that input comes
    /// back after the restart.
    pub fn restarted(&self, name: &'static str, error: &str) {
        self.count_restart(name, error, false);
    }

    /// An actor restarts after dead-lettering the input that made it panic: the next failure,
    /// whatever it says, is about another input.
    pub fn restarted_after_quarantine(&self, name: &'static str, error: &str) {
        self.count_restart(name, error, true);
    }

    fn count_restart(&self, name: &'static str, error: &str, quarantined: bool) {
        // Every restart, whoever notices it, is counted here: one place for the metric.
        crate::observe::restart(name);
        self.update(name, |s| {
            s.state = ActorState::Restarting;
            s.restarts += 1;
            s.same_error_restarts = if quarantined {
                0
            } else if s.last_restart_error.as_deref() == Some(error) {
                s.same_error_restarts + 1
            } else {
                1
            };
            s.last_restart_error = (!quarantined).then(|| error.to_owned());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restarts_on_the_same_error_are_counted_in_a_row() {
        let board = StatusBoard::new();
        board.restarted("relay", "boom at store.rs:80");
        board.degraded("relay", "redis: connection refused");
        board.restarted("relay", "boom at store.rs:80");
        board.restarted("relay", "boom at store.rs:80");
        let relay = &board.snapshot()[0];
        assert_eq!((relay.restarts, relay.same_error_restarts), (3, 3));
        board.restarted("relay", "another bug");
        let relay = &board.snapshot()[0];
        assert_eq!((relay.restarts, relay.same_error_restarts), (4, 1));
        // Panics whose inputs were dead-lettered are each about another input.
        for _ in 0..3 {
            board.restarted_after_quarantine("relay", "a row panicked the relay");
        }
        let relay = &board.snapshot()[0];
        assert_eq!((relay.restarts, relay.same_error_restarts), (7, 0));
    }
}

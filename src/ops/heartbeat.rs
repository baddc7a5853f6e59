//! The heartbeat: every few seconds this process upserts its row in `heartbeats` (who it is,
//! which role it runs, which Redis server, stream and group it publishes to or reads, its
//! actors' states and recent restart counts). Other processes and `memlink doctor` read these
//! rows to tell a missing relay, a split brain or a crash loop.
//!
//! It only reports: nothing in the pipeline reads a heartbeat to decide what to do, and a
//! failing heartbeat never stops the daemon (it is logged once, and again on recovery).

use crate::logging::Quoted;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use memlink_actors::status::{ActorStatus, StatusBoard};
use serde_json::{json, Value};

use crate::postgres::PgPool;
use crate::redis::RedisPool;

pub use crate::postgres::heartbeat::{beat, prune, stopped, Identity};
pub use crate::redis::identity::{bus_id, BUS_ID_KEY};

/// How far back `recent_restarts` looks.
pub const RESTART_WINDOW: Duration = Duration::from_secs(600);

/// The database number in a Redis URL (`redis://host:6379/2` → 2; none → 0).
pub fn redis_db(url: &str) -> i64 {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.path().trim_start_matches('/').parse().ok())
        .unwrap_or(0)
}

/// Counts restarts within a sliding window from periodic samples of the cumulative counts.
#[derive(Debug)]
pub struct RestartWindow {
    window: Duration,
    samples: VecDeque<(Instant, BTreeMap<&'static str, u64>)>,
}

impl RestartWindow {
    pub fn new(window: Duration) -> RestartWindow {
        RestartWindow {
            window,
            samples: VecDeque::new(),
        }
    }

    /// Records the current counts; answers, per actor, the restarts since the newest sample
    /// taken at least a window ago (or the first sample): a window at most one sampling
    /// interval too long, never too short.
    pub fn record(&mut self, now: Instant, current: &[ActorStatus]) -> BTreeMap<&'static str, u64> {
        while self
            .samples
            .get(1)
            .is_some_and(|(t, _)| now.duration_since(*t) >= self.window)
        {
            self.samples.pop_front();
        }
        let counts: BTreeMap<&'static str, u64> =
            current.iter().map(|a| (a.name, a.restarts)).collect();
        let recent = counts
            .iter()
            .map(|(name, n)| {
                let base = self
                    .samples
                    .front()
                    .and_then(|(_, s)| s.get(name).copied())
                    .unwrap_or(0);
                (*name, n.saturating_sub(base))
            })
            .collect();
        self.samples.push_back((now, counts));
        recent
    }
}

/// The `actors` column: the status board plus recent restarts.
pub fn actors_json(board: &[ActorStatus], recent: &BTreeMap<&'static str, u64>) -> Value {
    Value::Array(
        board
            .iter()
            .map(|a| {
                json!({
                    "name": a.name,
                    "state": a.state,
                    "restarts": a.restarts,
                    "recent_restarts": recent.get(a.name).copied().unwrap_or(0),
                    "same_error_restarts": a.same_error_restarts,
                    "last_error": a.last_error,
                })
            })
            .collect(),
    )
}

/// Beats until aborted. The first beat is the caller's (before the daemon says it is ready).
pub async fn run(
    pg: PgPool,
    redis: RedisPool,
    me: Arc<Identity>,
    status: StatusBoard,
    mut window: RestartWindow,
) {
    let mut failing = false;
    loop {
        actix_web::rt::time::sleep(me.interval).await;
        let board = status.snapshot();
        let recent = window.record(Instant::now(), &board);
        let bus_id = bus_id(&redis, me.bus_db).await;
        match beat(&pg, &me, bus_id.as_deref(), &actors_json(&board, &recent)).await {
            Ok(()) => {
                crate::telemetry::heartbeat_succeeded();
                if std::mem::take(&mut failing) {
                    log::info!(target: "memlink::heartbeat", "event=heartbeat_recovered instance={}", me.instance_id);
                }
            }
            Err(e) => {
                if !failing {
                    log::warn!(target: "memlink::heartbeat", "event=heartbeat_failed instance={} error={}", me.instance_id, Quoted(&e.message));
                }
                failing = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use memlink_actors::status::ActorState;

    fn board(worker: u64) -> Vec<ActorStatus> {
        let board = StatusBoard::new();
        board.set_state("worker", ActorState::Running);
        for _ in 0..worker {
            board.restarted("worker", "boom");
        }
        board.snapshot()
    }

    #[test]
    fn restarts_are_counted_within_the_window_only() {
        let t0 = Instant::now();
        let mut w = RestartWindow::new(Duration::from_secs(60));
        assert_eq!(w.record(t0, &board(0))["worker"], 0);
        assert_eq!(
            w.record(t0 + Duration::from_secs(10), &board(2))["worker"],
            2
        );
        assert_eq!(
            w.record(t0 + Duration::from_secs(50), &board(3))["worker"],
            3
        );
        // The zero sample is the newest one at least a window old: still the baseline.
        assert_eq!(
            w.record(t0 + Duration::from_secs(65), &board(3))["worker"],
            3
        );
        // Now the sample with 2 is: one restart within the window.
        assert_eq!(
            w.record(t0 + Duration::from_secs(75), &board(3))["worker"],
            1
        );
        assert_eq!(
            w.record(t0 + Duration::from_secs(200), &board(3))["worker"],
            0
        );
    }

    #[test]
    fn redis_database_numbers() {
        assert_eq!(redis_db("redis://127.0.0.1:6379"), 0);
        assert_eq!(redis_db("redis://:pw@h:6379/3"), 3);
    }
}

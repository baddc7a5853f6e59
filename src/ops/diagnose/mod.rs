//! The one implementation of memlink's self-diagnosis: gather facts from Postgres, Redis (and
//! optionally a running daemon's admin endpoint) into a [`Snapshot`], then [`evaluate`] it
//! into [`Finding`]s — each with a stable code, a severity, a message with the details an
//! operator needs, and a one-line "what to do next". `/admin/status`, `/readyz`, `/metrics`
//! and `memlink doctor` all use it, so they can never disagree.
//!
//! It only reads (the one exception is the Redis bus-identity marker, see
//! [`crate::ops::heartbeat::bus_id`]): diagnosing must never change pipeline state, and
//! [`evaluate`] is pure so each rule is unit-tested without services.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::postgres::{self, PgPool};
use crate::redis::RedisPool;
use crate::role::ProcessRole;

// The facts are the adapters' plain data; what they mean is decided here.
pub use crate::postgres::diagnose::{DeadLetterGroup, Heartbeat, OutboxFacts, PgFacts};
pub use crate::redis::diagnose::{Persistence, RedisFacts, StuckEntries};

mod gather;
mod rules;

pub use gather::{effective_reclaim_idle_secs, gather_postgres, gather_redis, OpsContext};
pub use rules::{evaluate, reconciler_enabled};

/// How urgent a finding is. `critical`: the pipeline is losing time or correctness now (the
/// daemon reports not ready). `warning`: needs a human soon. `info`: worth knowing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// One problem found.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    /// What to do next, in one line (docs/runbook.md has the long form, under the code).
    pub runbook: &'static str,
    pub details: Value,
}

/// Every finding code with its severity and next step: the contract with alerts and docs.
pub const CODES: &[(&str, Severity, &str)] = &[
    ("postgres_unreachable", Severity::Critical,
     "Check the database (pg_isready, DATABASE_URL, credentials); memlink retries by itself and the outbox keeps every event meanwhile."),
    ("redis_unreachable", Severity::Critical,
     "Check Redis (redis-cli -u <url> PING, REDIS_URL); the relay keeps events in the outbox until it can publish again."),
    ("schema_behind", Severity::Critical,
     "Run `memlink migrate` with this DATABASE_URL, then restart the daemons."),
    ("schema_ahead", Severity::Warning,
     "A newer memlink migrated this database: upgrade this binary before relying on it."),
    ("relay_missing", Severity::Critical,
     "Start a relay: `systemctl start memlink` (role all) or `memlink run --role relay`; `journalctl -u memlink` says why it stopped."),
    ("worker_missing", Severity::Critical,
     "Start a worker: `memlink run --role worker` (or role all); events wait safely in the stream meanwhile."),
    ("split_brain", Severity::Critical,
     "Make relay and worker agree on REDIS_URL, MEMLINK_STREAM and MEMLINK_GROUP (see details), restart the wrong side, then run `memlink verify`."),
    ("outbox_stale", Severity::Warning,
     "Find why the relay is not publishing: `journalctl -u memlink | grep -E 'event=(relay_retry|dead_letter)'`; `memlink verify --outbox` traces one event."),
    ("actor_crash_loop", Severity::Critical,
     "Read last_error and the event=panic / event=actor_panic lines (they name where it fails); the message says whether dead letters hold the inputs that crashed it (`memlink dlq list --reason panic`)."),
    ("actor_poison_loop", Severity::Critical,
     "An input the actor cannot get past is retried at every restart and nothing quarantines it: report the bug with the event=panic line (location=); for the relay, the oldest pending outbox row is the likely input (`memlink dlq` cannot see it)."),
    ("process_crash_loop", Severity::Critical,
     "Read `journalctl -u memlink | grep event=exit` (70 restart storm, 69 dependency down), fix the cause, then `systemctl reset-failed memlink`."),
    ("dead_letters", Severity::Warning,
     "Inspect with `memlink dlq list --reason <reason>` (or GET /admin/dead-letters), fix the producer, then `memlink dlq replay` or `memlink dlq discard`."),
    ("stream_pending_stuck", Severity::Warning,
     "No worker is reclaiming these entries: check a worker is alive on this stream and group (`memlink doctor`) and its log for event=worker_retry."),
    ("redis_not_persistent", Severity::Warning,
     "Enable AOF (appendonly yes) or RDB snapshots on Redis, or set MEMLINK_RECONCILE_AFTER_SECS so events lost in a Redis restart are re-relayed."),
    ("no_daemon", Severity::Warning,
     "No memlink process sent a heartbeat recently: start the service (`systemctl start memlink`) and check `journalctl -u memlink`."),
    ("daemon_unreachable", Severity::Critical,
     "The admin endpoint did not answer: is the daemon running and is the URL its MEMLINK_HTTP_ADDR? (`systemctl status memlink`)"),
    ("daemon_not_ready", Severity::Critical,
     "The daemon reports not ready; its reasons name the failing dependency or actor."),
    ("daemon_unauthorized", Severity::Warning,
     "Pass the daemon's MEMLINK_ADMIN_TOKEN with --admin-token."),
];

fn finding(code: &'static str, message: String, details: Value) -> Finding {
    let (severity, runbook) = CODES
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, s, r)| (*s, *r))
        .unwrap_or((Severity::Warning, ""));
    Finding {
        code,
        severity,
        message,
        runbook,
        details,
    }
}

/// Limits the rules use.
#[derive(Debug, Clone)]
pub struct Thresholds {
    /// Pending outbox events older than this are `outbox_stale`.
    pub outbox_stale: Duration,
    /// This many restarts of one actor within `crash_window` are `actor_crash_loop`.
    pub crash_loop_restarts: u64,
    /// This many processes of one host and role that died within `crash_window` are
    /// `process_crash_loop`.
    pub process_crashes: usize,
    pub crash_window: Duration,
    /// Entries pending longer than this many reclaim-idle timeouts are `stream_pending_stuck`.
    pub stuck_factor: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            outbox_stale: Duration::from_secs(300),
            crash_loop_restarts: 3,
            process_crashes: 3,
            crash_window: crate::ops::heartbeat::RESTART_WINDOW,
            stuck_factor: 3,
        }
    }
}

/// What the diagnosing process is configured to look at.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub database: String,
    pub redis: String,
    pub stream: String,
    pub group: String,
    pub reclaim_idle_secs: u64,
    /// `MEMLINK_RECONCILE_AFTER_SECS` as set (unset: the reconciler's default, enabled).
    pub reconcile_after_secs: Option<String>,
}

impl Target {
    /// Stuck-entry threshold: `factor` reclaim-idle timeouts (at least 1 s).
    pub fn stuck_after(&self, reclaim_idle_secs: u64, factor: u32) -> Duration {
        Duration::from_secs(reclaim_idle_secs.max(1) * u64::from(factor.max(1)))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Unreachable {
    /// Redacted.
    pub url: String,
    pub error: String,
}

/// What a heartbeat row says about its process.
impl Heartbeat {
    fn role(&self) -> Option<ProcessRole> {
        ProcessRole::parse(&self.role)
    }

    fn runs_relay(&self) -> bool {
        self.role().is_some_and(ProcessRole::runs_relay)
    }

    fn runs_worker(&self) -> bool {
        self.role().is_some_and(ProcessRole::runs_worker)
    }

    /// Where events go (relay) or come from (worker): backend, server, stream, group.
    fn route(&self) -> Route {
        Route {
            backend: self.backend.clone(),
            bus: self.bus_id.clone().unwrap_or_else(|| self.bus.clone()),
            stream: self.stream.clone(),
            group: self.group.clone(),
        }
    }

    fn label(&self) -> String {
        format!(
            "{} {} on {} (pid {})",
            self.role, self.instance_id, self.host, self.pid
        )
    }

    /// Ended without a graceful stop (vanished) or stopped because it failed.
    fn crashed(&self) -> bool {
        if self.live {
            return false;
        }
        match (&self.stopped_at, self.stop_reason.as_deref()) {
            (None, _) => true,
            (Some(_), Some(reason)) => !(reason == "SIGTERM" || reason == "SIGINT"),
            (Some(_), None) => false,
        }
    }

    fn setting_u64(&self, key: &str) -> Option<u64> {
        self.settings.get(key).and_then(Value::as_u64)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Route {
    pub backend: String,
    pub bus: String,
    pub stream: String,
    pub group: String,
}

impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} stream {} group {}",
            self.backend, self.bus, self.stream, self.group
        )
    }
}

/// What a running daemon's admin endpoint said.
#[derive(Debug, Clone, Serialize)]
pub struct DaemonFacts {
    pub url: String,
    /// `None` when it answered; else why not.
    pub unreachable: Option<String>,
    pub ready: Option<bool>,
    pub reasons: Vec<String>,
    pub unauthorized: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    pub expected_schema: i32,
    pub target: Target,
    pub postgres: Result<PgFacts, Unreachable>,
    pub redis: Result<RedisFacts, Unreachable>,
    pub daemon: Option<DaemonFacts>,
}

/// At most this many stuck entries are listed.
pub const STUCK_SAMPLE: usize = 100;
/// The whole diagnosis as JSON, for `--json` and `/admin/status`.
pub fn findings_json(findings: &[Finding]) -> Value {
    serde_json::to_value(findings).unwrap_or(Value::Array(Vec::new()))
}

/// Live processes by function, for `/metrics`.
pub fn live_counts(s: &Snapshot) -> (usize, usize) {
    let hb = s.postgres.as_ref().ok().and_then(|p| p.heartbeats.as_ref());
    let live = hb.into_iter().flatten().filter(|h| h.live);
    live.fold((0, 0), |(r, w), h| {
        (
            r + usize::from(h.runs_relay()),
            w + usize::from(h.runs_worker()),
        )
    })
}

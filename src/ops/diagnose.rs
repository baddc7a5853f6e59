//! The one implementation of memlink's self-diagnosis: gather facts from Postgres, Redis (and
//! optionally a running daemon's admin endpoint) into a [`Snapshot`], then [`evaluate`] it
//! into [`Finding`]s — each with a stable code, a severity, a message with the details an
//! operator needs, and a one-line "what to do next". `/admin/status`, `/readyz`, `/metrics`
//! and `memlink doctor` all use it, so they can never disagree.
//!
//! It only reads (the one exception is the Redis bus-identity marker, see
//! [`crate::ops::heartbeat::bus_id`]): diagnosing must never change pipeline state, and
//! [`evaluate`] is pure so each rule is unit-tested without services.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use tokio_postgres::error::SqlState;
use uuid::Uuid;

use crate::postgres::{self, PgPool};
use crate::redis::{RedisBus, RedisPool, StreamStats};
use crate::role::Role;

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

/// One row of `heartbeats`, with liveness computed by the database's clock.
#[derive(Debug, Clone, Serialize)]
pub struct Heartbeat {
    pub instance_id: Uuid,
    pub host: String,
    pub pid: i32,
    pub role: String,
    pub version: String,
    pub backend: String,
    pub bus: String,
    pub bus_id: Option<String>,
    pub stream: String,
    pub group: String,
    pub consumer: String,
    pub interval_secs: i32,
    pub started_at: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub stopped_at: Option<DateTime<Utc>>,
    pub stop_reason: Option<String>,
    pub actors: Value,
    pub settings: Value,
    pub live: bool,
    pub seen_ago_s: f64,
    pub started_ago_s: f64,
}

impl Heartbeat {
    fn role(&self) -> Option<Role> {
        Role::parse(&self.role)
    }

    fn runs_relay(&self) -> bool {
        self.role().is_some_and(Role::runs_relay)
    }

    fn runs_worker(&self) -> bool {
        self.role().is_some_and(Role::runs_worker)
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

#[derive(Debug, Clone, Serialize)]
pub struct OutboxFacts {
    pub pending: i64,
    pub oldest_pending_age_s: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeadLetterGroup {
    pub reason: String,
    pub count: i64,
    pub newest: DateTime<Utc>,
    pub example_id: Uuid,
    pub example_source: String,
    pub example_ref: String,
    pub example_detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PgFacts {
    pub schema_version: i32,
    /// `None` when the table is missing (schema behind).
    pub outbox: Option<OutboxFacts>,
    pub heartbeats: Option<Vec<Heartbeat>>,
    pub dead_letters: Option<Vec<DeadLetterGroup>>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct StuckEntries {
    /// At most [`STUCK_SAMPLE`].
    pub count: usize,
    pub max_idle_ms: i64,
    pub consumers: Vec<String>,
    pub threshold_ms: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Persistence {
    pub appendonly: bool,
    pub save: String,
}

impl Persistence {
    pub fn persistent(&self) -> bool {
        self.appendonly || !self.save.trim().is_empty()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RedisFacts {
    pub stream: StreamStats,
    pub stuck: StuckEntries,
    /// `None` when `CONFIG GET` is refused (managed Redis).
    pub persistence: Option<Persistence>,
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

const OUTBOX_FACTS: &str = "
    SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at))::float8, 0)
      FROM outbox_events WHERE status = 'pending'";

/// Heartbeats of the last hour: the live ones, and the dead ones a crash loop leaves.
const RECENT_HEARTBEATS: &str = "
    SELECT instance_id, host, pid, role, version, backend, bus, bus_id, stream, group_name, consumer,
           interval_secs, started_at, last_seen, stopped_at, stop_reason, actors, settings,
           (stopped_at IS NULL AND last_seen > now() - make_interval(secs => interval_secs * 3)),
           extract(epoch FROM now() - last_seen)::float8,
           extract(epoch FROM now() - started_at)::float8
      FROM heartbeats
     WHERE last_seen > now() - interval '1 hour'
     ORDER BY started_at, instance_id";

/// Per reason: how many letters await triage, and the newest one as the example.
const DEAD_LETTER_GROUPS: &str = "
    SELECT DISTINCT ON (reason) reason, count(*) OVER (PARTITION BY reason),
           max(received_at) OVER (PARTITION BY reason), id, source, source_ref, detail
      FROM dead_letters
     WHERE status = 'dead'
     ORDER BY reason, received_at DESC, id";

/// `Ok(None)` when the table does not exist yet.
fn missing_table<T>(r: Result<T, tokio_postgres::Error>) -> Result<Option<T>, String> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => Ok(None),
        Err(e) => Err(postgres::classify(e).message),
    }
}

/// Reads everything the rules need from Postgres; an `Err` means Postgres did not answer.
pub async fn gather_postgres(pool: &PgPool) -> Result<PgFacts, String> {
    let schema_version = postgres::current_schema_version(pool)
        .await
        .map_err(|e| e.message)?;
    let conn = pool
        .get()
        .await
        .map_err(|e| postgres::pool_error(e).message)?;
    let outbox = missing_table(conn.query_one(OUTBOX_FACTS, &[]).await)?.map(|r| OutboxFacts {
        pending: r.get(0),
        oldest_pending_age_s: r.get(1),
    });
    let heartbeats = missing_table(conn.query(RECENT_HEARTBEATS, &[]).await)?.map(|rows| {
        rows.into_iter()
            .map(|r| Heartbeat {
                instance_id: r.get(0),
                host: r.get(1),
                pid: r.get(2),
                role: r.get(3),
                version: r.get(4),
                backend: r.get(5),
                bus: r.get(6),
                bus_id: r.get(7),
                stream: r.get(8),
                group: r.get(9),
                consumer: r.get(10),
                interval_secs: r.get(11),
                started_at: r.get(12),
                last_seen: r.get(13),
                stopped_at: r.get(14),
                stop_reason: r.get(15),
                actors: r.get(16),
                settings: r.get(17),
                live: r.get(18),
                seen_ago_s: r.get(19),
                started_ago_s: r.get(20),
            })
            .collect()
    });
    let dead_letters = missing_table(conn.query(DEAD_LETTER_GROUPS, &[]).await)?.map(|rows| {
        rows.into_iter()
            .map(|r| DeadLetterGroup {
                reason: r.get(0),
                count: r.get(1),
                newest: r.get(2),
                example_id: r.get(3),
                example_source: r.get(4),
                example_ref: r.get(5),
                example_detail: r.get(6),
            })
            .collect()
    });
    Ok(PgFacts {
        schema_version,
        outbox,
        heartbeats,
        dead_letters,
    })
}

/// The reclaim-idle timeout the rules assume: the largest among the live workers reading
/// the target's stream and group, else the target's own.
pub fn effective_reclaim_idle_secs(target: &Target, pg: Option<&PgFacts>) -> u64 {
    pg.and_then(|p| p.heartbeats.as_ref())
        .into_iter()
        .flatten()
        .filter(|h| {
            h.live && h.runs_worker() && h.stream == target.stream && h.group == target.group
        })
        .filter_map(|h| h.setting_u64("reclaim_idle_secs"))
        .max()
        .unwrap_or(target.reclaim_idle_secs)
}

async fn redis_query<T: redis::FromRedisValue>(
    pool: &RedisPool,
    cmd: &redis::Cmd,
) -> Result<T, redis::RedisError> {
    let mut conn = pool.get().await.map_err(|e| match e {
        bb8::RunError::User(e) => e,
        bb8::RunError::TimedOut => {
            redis::RedisError::from((redis::ErrorKind::Io, "no connection available (timed out)"))
        }
    })?;
    cmd.query_async(&mut *conn).await
}

/// Reads the stream, its stuck entries and the server's persistence settings; an `Err`
/// means Redis did not answer.
pub async fn gather_redis(
    pool: &RedisPool,
    target: &Target,
    stuck_after: Duration,
) -> Result<RedisFacts, String> {
    let bus = RedisBus::new(
        pool.clone(),
        target.stream.clone(),
        target.group.clone(),
        "memlink-diagnose".to_owned(),
    );
    let stream = bus.stats().await.map_err(|e| e.message)?;
    let threshold_ms = i64::try_from(stuck_after.as_millis()).unwrap_or(i64::MAX);
    let mut stuck = StuckEntries {
        threshold_ms,
        ..StuckEntries::default()
    };
    if stream.group_exists {
        let mut cmd = redis::cmd("XPENDING");
        cmd.arg(&target.stream)
            .arg(&target.group)
            .arg("IDLE")
            .arg(threshold_ms)
            .arg("-")
            .arg("+")
            .arg(STUCK_SAMPLE);
        match redis_query::<Vec<(String, String, i64, i64)>>(pool, &cmd).await {
            Ok(entries) => {
                let consumers: BTreeSet<String> =
                    entries.iter().map(|(_, c, _, _)| c.clone()).collect();
                stuck.count = entries.len();
                stuck.max_idle_ms = entries.iter().map(|e| e.2).max().unwrap_or(0);
                stuck.consumers = consumers.into_iter().collect();
            }
            // The group vanished between the two calls: nothing is pending in it.
            Err(e) if e.code() == Some("NOGROUP") => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    let appendonly: Result<HashMap<String, String>, _> =
        redis_query(pool, redis::cmd("CONFIG").arg("GET").arg("appendonly")).await;
    let save: Result<HashMap<String, String>, _> =
        redis_query(pool, redis::cmd("CONFIG").arg("GET").arg("save")).await;
    let persistence = match (appendonly, save) {
        (Ok(a), Ok(s)) => Some(Persistence {
            appendonly: a.get("appendonly").is_some_and(|v| v == "yes"),
            save: s.get("save").cloned().unwrap_or_default(),
        }),
        _ => None,
    };
    Ok(RedisFacts {
        stream,
        stuck,
        persistence,
    })
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(n).collect();
        out.push('…');
        out
    }
}

fn secs(s: f64) -> String {
    if s < 120.0 {
        format!("{s:.0}s")
    } else if s < 7200.0 {
        format!("{:.0}m", s / 60.0)
    } else {
        format!("{:.1}h", s / 3600.0)
    }
}

/// Whether the reconciler is enabled, from a raw `MEMLINK_RECONCILE_AFTER_SECS`: unset means
/// its default (enabled); `0` disables it.
pub fn reconciler_enabled(raw: Option<&str>) -> bool {
    match raw.map(str::trim) {
        None | Some("") => true,
        Some(v) => v.parse::<u64>().map(|n| n > 0).unwrap_or(true),
    }
}

/// Turns a snapshot into findings, most severe first. Pure.
pub fn evaluate(s: &Snapshot, t: &Thresholds) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(d) = &s.daemon {
        daemon_rules(d, &mut out);
    }
    let pg = match &s.postgres {
        Ok(pg) => Some(pg),
        Err(u) => {
            out.push(finding(
                "postgres_unreachable",
                format!("cannot reach Postgres at {}: {}", u.url, u.error),
                json!({"url": u.url, "error": u.error}),
            ));
            None
        }
    };
    let redis = match &s.redis {
        Ok(r) => Some(r),
        Err(u) => {
            out.push(finding(
                "redis_unreachable",
                format!("cannot reach Redis at {}: {}", u.url, u.error),
                json!({"url": u.url, "error": u.error}),
            ));
            None
        }
    };
    if let Some(pg) = pg {
        schema_rules(pg, s.expected_schema, &mut out);
        if let Some(hb) = &pg.heartbeats {
            liveness_rules(pg, hb, redis, &s.target, &mut out);
            split_brain_rule(hb, &mut out);
            crash_rules(hb, pg.dead_letters.as_deref(), t, &mut out);
        }
        outbox_rules(pg, t, &mut out);
        dead_letter_rule(pg, &mut out);
    }
    if let Some(r) = redis {
        stuck_rule(r, &s.target, &mut out);
        persistence_rule(r, pg, &s.target, &mut out);
    }
    out.sort_by_key(|f| std::cmp::Reverse(f.severity));
    out
}

fn daemon_rules(d: &DaemonFacts, out: &mut Vec<Finding>) {
    if let Some(e) = &d.unreachable {
        out.push(finding(
            "daemon_unreachable",
            format!("the daemon's admin endpoint {} did not answer: {e}", d.url),
            json!({"url": d.url, "error": e}),
        ));
        return;
    }
    if d.ready == Some(false) {
        out.push(finding(
            "daemon_not_ready",
            format!(
                "the daemon at {} reports not ready: {}",
                d.url,
                d.reasons.join("; ")
            ),
            json!({"url": d.url, "reasons": d.reasons}),
        ));
    }
    if d.unauthorized {
        out.push(finding(
            "daemon_unauthorized",
            format!("the daemon at {} refused the admin token", d.url),
            json!({"url": d.url}),
        ));
    }
}

fn schema_rules(pg: &PgFacts, expected: i32, out: &mut Vec<Finding>) {
    let found = pg.schema_version;
    if found < expected {
        out.push(finding(
            "schema_behind",
            format!("the database schema is at version {found}, this binary needs {expected}"),
            json!({"found": found, "expected": expected}),
        ));
    } else if found > expected {
        out.push(finding(
            "schema_ahead",
            format!(
                "the database schema is at version {found}, newer than this binary's {expected}"
            ),
            json!({"found": found, "expected": expected}),
        ));
    }
}

fn liveness_rules(
    pg: &PgFacts,
    hb: &[Heartbeat],
    redis: Option<&RedisFacts>,
    target: &Target,
    out: &mut Vec<Finding>,
) {
    let live: Vec<&Heartbeat> = hb.iter().filter(|h| h.live).collect();
    let relays: Vec<&&Heartbeat> = live.iter().filter(|h| h.runs_relay()).collect();
    let workers: Vec<&&Heartbeat> = live.iter().filter(|h| h.runs_worker()).collect();
    let last_seen = |pred: fn(&Heartbeat) -> bool| {
        hb.iter()
            .filter(|h| pred(h))
            .map(|h| h.seen_ago_s)
            .fold(None, |acc: Option<f64>, a| {
                Some(acc.map_or(a, |b| b.min(a)))
            })
    };
    let pending = pg.outbox.as_ref().map(|o| o.pending).unwrap_or(0);
    let mut missing = false;
    if pending > 0 && relays.is_empty() {
        missing = true;
        let oldest = pg
            .outbox
            .as_ref()
            .map(|o| o.oldest_pending_age_s)
            .unwrap_or(0.0);
        let seen = match last_seen(Heartbeat::runs_relay) {
            Some(ago) => format!("the last relay heartbeat was {} ago", secs(ago)),
            None => "no relay heartbeat in the last hour".to_owned(),
        };
        out.push(finding(
            "relay_missing",
            format!(
                "{pending} outbox events are pending (oldest {}) and no relay is alive: {seen}",
                secs(oldest)
            ),
            json!({"pending": pending, "oldest_pending_age_s": oldest,
                   "last_relay_seen_ago_s": last_seen(Heartbeat::runs_relay)}),
        ));
    }
    let backlog = redis
        .map(|r| r.stream.pending + r.stream.lag.unwrap_or(0))
        .unwrap_or(0);
    if workers.is_empty() && (backlog > 0 || !relays.is_empty()) {
        missing = true;
        let seen = match last_seen(Heartbeat::runs_worker) {
            Some(ago) => format!("the last worker heartbeat was {} ago", secs(ago)),
            None => "no worker heartbeat in the last hour".to_owned(),
        };
        let what = if relays.is_empty() {
            format!(
                "{backlog} entries wait in stream {} group {}",
                target.stream, target.group
            )
        } else {
            format!(
                "{} relay(s) publish ({backlog} entries waiting in {})",
                relays.len(),
                target.stream
            )
        };
        out.push(finding(
            "worker_missing",
            format!("{what} and no worker is alive: {seen}"),
            json!({"backlog": backlog, "stream": target.stream, "group": target.group,
                   "live_relays": relays.len(), "last_worker_seen_ago_s": last_seen(Heartbeat::runs_worker)}),
        ));
    }
    if live.is_empty() && !missing {
        out.push(finding(
            "no_daemon",
            match hb.iter().map(|h| h.seen_ago_s).reduce(f64::min) {
                Some(ago) => format!(
                    "no memlink process is alive; the last heartbeat was {} ago",
                    secs(ago)
                ),
                None => "no memlink process sent a heartbeat in the last hour".to_owned(),
            },
            json!({}),
        ));
    }
}

/// A relay whose events no live worker reads, or a worker reading what no live relay feeds.
fn split_brain_rule(hb: &[Heartbeat], out: &mut Vec<Finding>) {
    let live: Vec<&Heartbeat> = hb.iter().filter(|h| h.live).collect();
    let relay_routes: BTreeMap<Route, Vec<&Heartbeat>> = live
        .iter()
        .filter(|h| h.runs_relay())
        .fold(BTreeMap::new(), |mut m, h| {
            m.entry(h.route()).or_insert_with(Vec::new).push(*h);
            m
        });
    let worker_routes: BTreeMap<Route, Vec<&Heartbeat>> = live
        .iter()
        .filter(|h| h.runs_worker())
        .fold(BTreeMap::new(), |mut m, h| {
            m.entry(h.route()).or_insert_with(Vec::new).push(*h);
            m
        });
    // With no live worker (or relay) at all, that is `worker_missing` (`relay_missing`).
    if relay_routes.is_empty() || worker_routes.is_empty() {
        return;
    }
    let mut problems = Vec::new();
    let mut details = Vec::new();
    for (route, relays) in &relay_routes {
        if !worker_routes.contains_key(route) {
            let who: Vec<String> = relays.iter().map(|h| h.label()).collect();
            problems.push(format!(
                "{} publish to {route}, which no live worker reads",
                who.join(", ")
            ));
            details.push(json!({"side": "relay", "route": route, "instances": who}));
        }
    }
    for (route, workers) in &worker_routes {
        if !relay_routes.contains_key(route) {
            let who: Vec<String> = workers.iter().map(|h| h.label()).collect();
            problems.push(format!(
                "{} read {route}, which no live relay feeds",
                who.join(", ")
            ));
            details.push(json!({"side": "worker", "route": route, "instances": who}));
        }
    }
    if problems.is_empty() {
        return;
    }
    let relays: Vec<String> = relay_routes.keys().map(|r| r.to_string()).collect();
    let workers: Vec<String> = worker_routes.keys().map(|r| r.to_string()).collect();
    out.push(finding(
        "split_brain",
        format!(
            "relays and workers disagree on where events go: {} (relays publish to: {}; workers read: {})",
            problems.join("; "),
            relays.join(" | "),
            workers.join(" | ")
        ),
        json!({"mismatches": details, "relay_routes": relays, "worker_routes": workers}),
    ));
}

fn crash_rules(
    hb: &[Heartbeat],
    letters: Option<&[DeadLetterGroup]>,
    t: &Thresholds,
    out: &mut Vec<Finding>,
) {
    let window = t.crash_window.as_secs_f64();
    let quarantined = quarantine_advice(letters);
    for h in hb.iter().filter(|h| h.live) {
        for a in h.actors.as_array().into_iter().flatten() {
            let count = |key: &str| a.get(key).and_then(Value::as_u64).unwrap_or(0);
            let (recent, same) = (count("recent_restarts"), count("same_error_restarts"));
            let name = a.get("name").and_then(Value::as_str).unwrap_or("?");
            let last_error = a.get("last_error").and_then(Value::as_str).unwrap_or("");
            let details = json!({"instance_id": h.instance_id, "host": h.host, "actor": name,
                   "recent_restarts": recent, "same_error_restarts": same,
                   "restarts": a.get("restarts"), "last_error": last_error,
                   "dead_lettered_crashes": quarantined.0});
            // The same error restart after restart, however slowly: one input is in the way.
            if same >= t.crash_loop_restarts && recent > 0 {
                out.push(finding(
                    "actor_poison_loop",
                    format!(
                        "the {name} of {} restarted {same} times in a row on the same error: {}; {}",
                        h.label(),
                        clip(last_error, 200),
                        quarantined.1
                    ),
                    details,
                ));
            } else if recent >= t.crash_loop_restarts {
                out.push(finding(
                    "actor_crash_loop",
                    format!(
                        "the {name} of {} restarted {recent} times in the last {}; last error: {}; {}",
                        h.label(),
                        secs(window),
                        clip(last_error, 200),
                        quarantined.1
                    ),
                    details,
                ));
            }
        }
    }
    let mut by_host_role: BTreeMap<(&str, &str), Vec<&Heartbeat>> = BTreeMap::new();
    for h in hb
        .iter()
        .filter(|h| h.started_ago_s <= window && h.crashed())
    {
        by_host_role
            .entry((h.host.as_str(), h.role.as_str()))
            .or_default()
            .push(h);
    }
    for ((host, role), dead) in by_host_role {
        if dead.len() < t.process_crashes {
            continue;
        }
        let reasons: Vec<String> = dead
            .iter()
            .map(|h| {
                h.stop_reason
                    .clone()
                    .unwrap_or_else(|| "vanished without a stop".to_owned())
            })
            .collect();
        out.push(finding(
            "process_crash_loop",
            format!(
                "{} memlink processes (role {role}) on {host} died in the last {}: {}",
                dead.len(),
                secs(window),
                reasons.join("; ")
            ),
            json!({"host": host, "role": role, "crashes": dead.len(),
                   "instances": dead.iter().map(|h| h.instance_id).collect::<Vec<_>>(), "reasons": reasons}),
        ));
    }
}

/// What the dead letters actually hold of inputs that crashed an actor, as the next step: a
/// crash loop's advice must never point at letters that are not there.
fn quarantine_advice(letters: Option<&[DeadLetterGroup]>) -> (i64, String) {
    let Some(groups) = letters else {
        return (0, "dead letters could not be read".to_owned());
    };
    let found: Vec<(&str, i64)> = groups
        .iter()
        .filter(|g| g.reason == "panic" || g.reason == "crashed_process")
        .map(|g| (g.reason.as_str(), g.count))
        .collect();
    let total = found.iter().map(|(_, n)| n).sum();
    if found.is_empty() {
        return (
            0,
            "no dead letter holds an input that crashed it (none with reason panic or \
             crashed_process), so whatever crashes it is not being quarantined"
                .to_owned(),
        );
    }
    let lists: Vec<String> = found
        .iter()
        .map(|(reason, n)| {
            format!("{n} with reason {reason}: `memlink dlq list --reason {reason}`")
        })
        .collect();
    (
        total,
        format!(
            "dead letters hold inputs that crashed it ({})",
            lists.join("; ")
        ),
    )
}

fn outbox_rules(pg: &PgFacts, t: &Thresholds, out: &mut Vec<Finding>) {
    let Some(o) = &pg.outbox else { return };
    if o.pending > 0 && o.oldest_pending_age_s > t.outbox_stale.as_secs_f64() {
        out.push(finding(
            "outbox_stale",
            format!(
                "{} outbox events are pending; the oldest has waited {} (threshold {})",
                o.pending,
                secs(o.oldest_pending_age_s),
                secs(t.outbox_stale.as_secs_f64())
            ),
            json!({"pending": o.pending, "oldest_pending_age_s": o.oldest_pending_age_s,
                   "threshold_s": t.outbox_stale.as_secs()}),
        ));
    }
}

fn dead_letter_rule(pg: &PgFacts, out: &mut Vec<Finding>) {
    let Some(groups) = &pg.dead_letters else {
        return;
    };
    if groups.is_empty() {
        return;
    }
    let total: i64 = groups.iter().map(|g| g.count).sum();
    let mut sorted: Vec<&DeadLetterGroup> = groups.iter().collect();
    sorted.sort_by(|a, b| b.count.cmp(&a.count).then(a.reason.cmp(&b.reason)));
    let parts: Vec<String> = sorted
        .iter()
        .map(|g| {
            format!(
                "{} ×{} (e.g. {} {} {}: {})",
                g.reason,
                g.count,
                g.example_source,
                g.example_ref,
                g.example_id,
                clip(&g.example_detail, 120)
            )
        })
        .collect();
    out.push(finding(
        "dead_letters",
        format!("{total} dead letters await triage: {}", parts.join("; ")),
        json!({"total": total, "by_reason": sorted}),
    ));
}

fn stuck_rule(r: &RedisFacts, target: &Target, out: &mut Vec<Finding>) {
    let s = &r.stuck;
    if s.count == 0 {
        return;
    }
    let more = if s.count >= STUCK_SAMPLE {
        "at least "
    } else {
        ""
    };
    out.push(finding(
        "stream_pending_stuck",
        format!(
            "{more}{} entries of stream {} group {} have been pending for longer than {} (longest {}), on consumer(s) {}",
            s.count,
            target.stream,
            target.group,
            secs(s.threshold_ms as f64 / 1000.0),
            secs(s.max_idle_ms as f64 / 1000.0),
            s.consumers.join(", ")
        ),
        json!({"count": s.count, "max_idle_ms": s.max_idle_ms, "threshold_ms": s.threshold_ms,
               "consumers": s.consumers, "stream": target.stream, "group": target.group}),
    ));
}

fn persistence_rule(r: &RedisFacts, pg: Option<&PgFacts>, target: &Target, out: &mut Vec<Finding>) {
    let Some(p) = &r.persistence else { return };
    if p.persistent() {
        return;
    }
    // The live relays' own setting wins over the diagnosing process's environment: the
    // reconciler runs with the relay role.
    let live_settings: Vec<Option<String>> = pg
        .and_then(|p| p.heartbeats.as_ref())
        .into_iter()
        .flatten()
        .filter(|h| h.live && h.runs_relay())
        .map(|h| {
            h.settings
                .get("reconcile_after_secs")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect();
    let (enabled, source) = if live_settings.is_empty() {
        (
            reconciler_enabled(target.reconcile_after_secs.as_deref()),
            "this environment",
        )
    } else {
        (
            live_settings
                .iter()
                .all(|s| reconciler_enabled(s.as_deref())),
            "the live relays",
        )
    };
    if enabled {
        return;
    }
    out.push(finding(
        "redis_not_persistent",
        format!(
            "Redis at {} has no persistence (appendonly no, save \"{}\") and the reconciler is disabled ({}): a Redis restart loses relayed events that were not processed yet",
            target.redis, p.save, source
        ),
        json!({"appendonly": p.appendonly, "save": p.save, "reconciler_source": source}),
    ));
}

/// What a running daemon needs to diagnose itself (kept in the HTTP state).
pub struct OpsContext {
    pub target: Target,
    pub thresholds: Thresholds,
    pub redis: RedisPool,
    pub role: Role,
    pub instance_id: Uuid,
}

/// How long a daemon's self-diagnosis may wait for each of Postgres and Redis.
const GATHER_DEADLINE: Duration = Duration::from_secs(3);

impl OpsContext {
    /// Gathers a snapshot with the daemon's pools, each part under a deadline.
    pub async fn snapshot(&self, pg: &PgPool) -> Snapshot {
        let timeout = |what: &str| format!("no answer within {GATHER_DEADLINE:?} ({what})");
        let postgres =
            match actix_web::rt::time::timeout(GATHER_DEADLINE, gather_postgres(pg)).await {
                Ok(r) => r,
                Err(_) => Err(timeout("postgres")),
            }
            .map_err(|error| Unreachable {
                url: self.target.database.clone(),
                error,
            });
        let reclaim = effective_reclaim_idle_secs(&self.target, postgres.as_ref().ok());
        let stuck_after = self
            .target
            .stuck_after(reclaim, self.thresholds.stuck_factor);
        let redis = match actix_web::rt::time::timeout(
            GATHER_DEADLINE,
            gather_redis(&self.redis, &self.target, stuck_after),
        )
        .await
        {
            Ok(r) => r,
            Err(_) => Err(timeout("redis")),
        }
        .map_err(|error| Unreachable {
            url: self.target.redis.clone(),
            error,
        });
        Snapshot {
            expected_schema: postgres::expected_schema_version(),
            target: self.target.clone(),
            postgres,
            redis,
            daemon: None,
        }
    }

    pub async fn findings(&self, pg: &PgPool) -> Vec<Finding> {
        evaluate(&self.snapshot(pg).await, &self.thresholds)
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target {
            database: "postgres://u:***@db/m".into(),
            redis: "redis://r:6379".into(),
            stream: "s".into(),
            group: "g".into(),
            reclaim_idle_secs: 30,
            reconcile_after_secs: None,
        }
    }

    fn hb(role: &str, stream: &str, group: &str, live: bool) -> Heartbeat {
        Heartbeat {
            instance_id: Uuid::new_v4(),
            host: "h1".into(),
            pid: 7,
            role: role.into(),
            version: "0".into(),
            backend: "redis".into(),
            bus: "redis://r:6379".into(),
            bus_id: Some("b/0".into()),
            stream: stream.into(),
            group: group.into(),
            consumer: "c".into(),
            interval_secs: 5,
            started_at: Utc::now(),
            last_seen: Utc::now(),
            stopped_at: None,
            stop_reason: None,
            actors: json!([]),
            settings: json!({}),
            live,
            seen_ago_s: if live { 1.0 } else { 100.0 },
            started_ago_s: 60.0,
        }
    }

    fn snapshot(heartbeats: Vec<Heartbeat>, pending: i64) -> Snapshot {
        Snapshot {
            expected_schema: 4,
            target: target(),
            postgres: Ok(PgFacts {
                schema_version: 4,
                outbox: Some(OutboxFacts {
                    pending,
                    oldest_pending_age_s: 10.0,
                }),
                heartbeats: Some(heartbeats),
                dead_letters: Some(Vec::new()),
            }),
            redis: Ok(RedisFacts {
                stream: StreamStats::default(),
                stuck: StuckEntries::default(),
                persistence: Some(Persistence {
                    appendonly: true,
                    save: String::new(),
                }),
            }),
            daemon: None,
        }
    }

    fn codes(s: &Snapshot) -> Vec<&'static str> {
        evaluate(s, &Thresholds::default())
            .iter()
            .map(|f| f.code)
            .collect()
    }

    #[test]
    fn a_healthy_pipeline_has_no_findings() {
        assert!(codes(&snapshot(vec![hb("all", "s", "g", true)], 3)).is_empty());
        let split = snapshot(
            vec![hb("relay", "s", "g", true), hb("worker", "s", "g", true)],
            0,
        );
        assert!(codes(&split).is_empty());
    }

    #[test]
    fn pending_events_without_a_live_relay() {
        let s = snapshot(
            vec![hb("worker", "s", "g", true), hb("relay", "s", "g", false)],
            5,
        );
        assert_eq!(codes(&s), vec!["relay_missing"]);
        let f = &evaluate(&s, &Thresholds::default())[0];
        assert_eq!(f.severity, Severity::Critical);
        assert!(f.message.contains("5 outbox events"), "{}", f.message);
        assert!(
            f.message.contains("last relay heartbeat was 100s ago"),
            "{}",
            f.message
        );
    }

    #[test]
    fn split_brain_names_both_sides() {
        let s = snapshot(
            vec![hb("relay", "s1", "g", true), hb("worker", "s2", "g", true)],
            0,
        );
        let f = evaluate(&s, &Thresholds::default());
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].code, "split_brain");
        assert!(f[0].message.contains("stream s1"), "{}", f[0].message);
        assert!(f[0].message.contains("stream s2"), "{}", f[0].message);
        // Another Redis server under the same stream name is a split brain too.
        let mut other = hb("worker", "s", "g", true);
        other.bus_id = Some("other/0".into());
        let s = snapshot(vec![hb("relay", "s", "g", true), other], 0);
        assert_eq!(codes(&s), vec!["split_brain"]);
        // A relay-only and an all-in-one on the same route agree.
        let s = snapshot(
            vec![hb("relay", "s", "g", true), hb("all", "s", "g", true)],
            0,
        );
        assert!(codes(&s).is_empty());
    }

    #[test]
    fn crash_loops() {
        let mut h = hb("all", "s", "g", true);
        h.actors =
            json!([{"name": "worker", "restarts": 4, "recent_restarts": 3, "last_error": "boom"}]);
        assert_eq!(codes(&snapshot(vec![h], 0)), vec!["actor_crash_loop"]);
        let mut dead: Vec<Heartbeat> = (0..3).map(|_| hb("all", "s", "g", false)).collect();
        dead.push(hb("all", "s", "g", true));
        assert_eq!(
            codes(&snapshot(dead.clone(), 0)),
            vec!["process_crash_loop"]
        );
        // Graceful stops are deploys, not crashes.
        for d in dead.iter_mut().filter(|h| !h.live) {
            d.stopped_at = Some(Utc::now());
            d.stop_reason = Some("SIGTERM".into());
        }
        assert!(codes(&snapshot(dead, 0)).is_empty());
    }

    /// A relay that dies on the same row every lease (twice a minute: far below the restart
    /// budget) is named as a poison loop, and the advice says what the dead letters hold.
    #[test]
    fn a_slow_loop_on_the_same_error_is_a_poison_loop_with_true_advice() {
        let mut h = hb("all", "s", "g", true);
        h.actors = json!([{"name": "relay", "restarts": 4, "recent_restarts": 4,
                           "same_error_restarts": 4, "last_error": "died outside its boundary"}]);
        let mut s = snapshot(vec![h], 0);
        let found = evaluate(&s, &Thresholds::default());
        assert_eq!(found[0].code, "actor_poison_loop");
        assert!(
            found[0].message.contains("no dead letter holds")
                && !found[0].message.contains("dlq list"),
            "{}",
            found[0].message
        );
        if let Ok(pg) = &mut s.postgres {
            pg.dead_letters = Some(vec![DeadLetterGroup {
                reason: "panic".into(),
                count: 2,
                newest: Utc::now(),
                example_id: Uuid::nil(),
                example_source: "outbox".into(),
                example_ref: "r".into(),
                example_detail: "d".into(),
            }]);
        }
        let found = evaluate(&s, &Thresholds::default());
        let poison = found
            .iter()
            .find(|f| f.code == "actor_poison_loop")
            .unwrap();
        assert!(
            poison
                .message
                .contains("2 with reason panic: `memlink dlq list --reason panic`"),
            "{}",
            poison.message
        );
        assert_eq!(poison.details["dead_lettered_crashes"], 2);
    }

    #[test]
    fn unreachable_dependencies_are_named_and_redacted() {
        let mut s = snapshot(vec![], 0);
        s.postgres = Err(Unreachable {
            url: "postgres://u:***@db:1/m".into(),
            error: "connection refused".into(),
        });
        let f = evaluate(&s, &Thresholds::default());
        assert_eq!(f[0].code, "postgres_unreachable");
        assert!(f[0].message.contains("postgres://u:***@db:1/m"));
    }

    #[test]
    fn persistence_and_reconciler() {
        let mut s = snapshot(vec![hb("all", "s", "g", true)], 0);
        if let Ok(r) = &mut s.redis {
            r.persistence = Some(Persistence {
                appendonly: false,
                save: String::new(),
            });
        }
        assert!(codes(&s).is_empty(), "the reconciler is on by default");
        if let Ok(pg) = &mut s.postgres {
            pg.heartbeats.as_mut().unwrap()[0].settings = json!({"reconcile_after_secs": "0"});
        }
        assert_eq!(codes(&s), vec!["redis_not_persistent"]);
        assert!(!reconciler_enabled(Some("0")));
        assert!(reconciler_enabled(Some("30")));
    }

    #[test]
    fn every_code_has_a_runbook_line() {
        for (code, _, runbook) in CODES {
            assert!(!runbook.is_empty(), "{code}");
        }
    }
}

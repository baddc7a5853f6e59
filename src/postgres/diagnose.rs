//! The reads the self-diagnosis needs from Postgres: the schema version, the pending outbox,
//! the heartbeats of the last hour and the dead letters awaiting triage, as plain data. A
//! table that does not exist yet (a schema behind) reads as `None`, not as an error.
//!
//! SQL only, and it only reads: what the facts mean is the diagnosis rules' (`ops::diagnose`),
//! and this module must never decide anything from them nor write.

use chrono::{DateTime, Utc};
use memlink_actors::ports::PortError;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::{current_schema_version, missing_table, pool_error, PgPool};

#[derive(Debug, Clone, Serialize)]
pub struct OutboxFacts {
    pub pending: i64,
    pub oldest_pending_age_s: f64,
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

/// Reads every fact the diagnosis rules need; an `Err` means Postgres did not answer.
pub async fn facts(pool: &PgPool) -> Result<PgFacts, PortError> {
    let schema_version = current_schema_version(pool).await?;
    let conn = pool.get().await.map_err(pool_error)?;
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

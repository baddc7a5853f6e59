//! The `heartbeats` table: this process's row (upserted every few seconds, marked stopped at
//! the end) and the pruning of rows long gone. SQL only: what a row means and when to write it
//! is [`crate::ops::heartbeat`]'s.

use serde_json::Value;
use std::time::Duration;

use uuid::Uuid;

use super::{classify, pool_error, PgPool};
use crate::role::ProcessRole;
use memlink_actors::ports::PortError;

/// Who this process is, as written in its heartbeat row.
#[derive(Debug, Clone)]
pub struct Identity {
    pub instance_id: Uuid,
    pub host: String,
    pub pid: i32,
    pub role: ProcessRole,
    /// The Redis URL, redacted.
    pub bus: String,
    /// The Redis database number from the URL (part of the bus identity).
    pub bus_db: i64,
    pub stream: String,
    pub group: String,
    pub consumer: String,
    pub interval: Duration,
    /// Settings other memlinks and the doctor reason with.
    pub settings: Value,
}

const UPSERT_HEARTBEAT: &str = "
    INSERT INTO heartbeats (instance_id, host, pid, role, version, backend, bus, bus_id, stream, group_name,
                            consumer, interval_secs, actors, settings)
    VALUES ($1, $2, $3, $4, $5, 'redis', $6, $7, $8, $9, $10, $11, $12, $13)
    ON CONFLICT (instance_id) DO UPDATE
       SET last_seen = now(), bus_id = coalesce(EXCLUDED.bus_id, heartbeats.bus_id),
           actors = EXCLUDED.actors, settings = EXCLUDED.settings, interval_secs = EXCLUDED.interval_secs";

const MARK_STOPPED: &str = "
    UPDATE heartbeats SET stopped_at = now(), last_seen = now(), stop_reason = $2, actors = $3
     WHERE instance_id = $1";

/// Rows of processes gone for a week tell nothing any more.
const PRUNE_OLD: &str = "DELETE FROM heartbeats WHERE last_seen < now() - interval '7 days'";

/// Writes (or refreshes) this process's row.
pub async fn beat(
    pg: &PgPool,
    me: &Identity,
    bus_id: Option<&str>,
    actors: &Value,
) -> Result<(), PortError> {
    let conn = pg.get().await.map_err(pool_error)?;
    let interval = i32::try_from(me.interval.as_secs().max(1)).unwrap_or(i32::MAX);
    conn.execute(
        UPSERT_HEARTBEAT,
        &[
            &me.instance_id,
            &me.host,
            &me.pid,
            &me.role.as_str(),
            &env!("CARGO_PKG_VERSION"),
            &me.bus,
            &bus_id,
            &me.stream,
            &me.group,
            &me.consumer,
            &interval,
            actors,
            &me.settings,
        ],
    )
    .await
    .map_err(classify)?;
    Ok(())
}

/// Marks this process's row stopped, with why (a graceful stop is not a crash).
pub async fn stopped(
    pg: &PgPool,
    instance_id: Uuid,
    reason: &str,
    actors: &Value,
) -> Result<(), PortError> {
    let conn = pg.get().await.map_err(pool_error)?;
    conn.execute(MARK_STOPPED, &[&instance_id, &reason, actors])
        .await
        .map_err(classify)?;
    Ok(())
}

pub async fn prune(pg: &PgPool) -> Result<u64, PortError> {
    let conn = pg.get().await.map_err(pool_error)?;
    conn.execute(PRUNE_OLD, &[]).await.map_err(classify)
}

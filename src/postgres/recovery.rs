//! Recovery ports on Postgres: the in-flight ledger (crash-loop immunity) and the outbox
//! queries of the reconciler (broker-loss recovery).
//!
//! Both only add bookkeeping; they must never change an event's payload or delete an
//! outbox row.

use std::time::Duration;

use async_trait::async_trait;
use memlink_actors::ports::{
    InflightLedger, PortError, ReconcilePosition, ReconcileStore, RelayedRow,
};
use uuid::Uuid;

use super::{classify, pool_error, PgPool};

/// The in-flight ledger of one stream and consumer group.
#[derive(Clone)]
pub struct PgInflight {
    pool: PgPool,
    stream: String,
    group: String,
}

impl PgInflight {
    pub fn new(pool: PgPool, stream: String, group: String) -> PgInflight {
        PgInflight {
            pool,
            stream,
            group,
        }
    }
}

/// A marker left by another owner that is gone (`$6`) means that process died handling the
/// entry: count it and take the marker over. An owner still alive was only slow, and lost
/// the entry to the reclaim: no death. Our own markers, and parked ones (nil owner), count
/// nothing.
const MARK_IN_FLIGHT: &str = "
    INSERT INTO inflight_entries AS i (stream, grp, entry_id, owner)
    SELECT $1, $2, e, $3 FROM unnest($4::text[]) AS e
    ON CONFLICT (stream, grp, entry_id) DO UPDATE
       SET crashes = i.crashes + CASE
               WHEN i.owner <> EXCLUDED.owner AND i.owner <> $5 AND i.owner = ANY($6::uuid[])
               THEN 1 ELSE 0 END,
           owner = EXCLUDED.owner, marked_at = now()
 RETURNING entry_id, crashes";

/// The owners of these entries' markers, with what their heartbeats say.
const MARKER_OWNERS: &str = "
    SELECT DISTINCT i.owner, h.host, h.pid,
           coalesce(h.stopped_at IS NULL AND h.last_seen > now() - make_interval(secs => h.interval_secs * 3), false)
      FROM inflight_entries i LEFT JOIN heartbeats h ON h.instance_id = i.owner
     WHERE i.stream = $1 AND i.grp = $2 AND i.entry_id = ANY($3)";

const MARK_BATCH: &str = "
    INSERT INTO inflight_batches (id, stream, grp, owner, entry_ids) VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (id) DO NOTHING";

/// Entries being taken over that a batch marker names: the whole batch gets a marker per
/// entry under the batch's owner (the rest are counted when they are taken over too), and the
/// batch marker goes.
const SPREAD_BATCHES: &str = "
    WITH found AS (
        DELETE FROM inflight_batches b
         WHERE b.stream = $1 AND b.grp = $2 AND b.entry_ids && $3::text[]
     RETURNING b.owner, b.entry_ids)
    INSERT INTO inflight_entries (stream, grp, entry_id, owner)
    SELECT $1, $2, e, f.owner FROM found f, unnest(f.entry_ids) AS e
    ON CONFLICT (stream, grp, entry_id) DO NOTHING";

const PARK_IN_FLIGHT: &str =
    "UPDATE inflight_entries SET owner = $4 WHERE stream = $1 AND grp = $2 AND entry_id = ANY($3)";

const CLEAR_IN_FLIGHT: &str =
    "DELETE FROM inflight_entries WHERE stream = $1 AND grp = $2 AND entry_id = ANY($3)";

#[async_trait]
impl InflightLedger for PgInflight {
    async fn mark_batch(&self, owner: Uuid, marker: Uuid, ids: &[String]) -> Result<(), PortError> {
        let mut conn = self.pool.get().await.map_err(pool_error)?;
        let st = conn.statements();
        st.ensure(&**conn, &[MARK_BATCH]).await.map_err(classify)?;
        let tx = conn.pipelined();
        // The marker tells a dead *memlink* process apart, and PostgreSQL outlives that with
        // the commit in its WAL buffers: no need to wait for the disk (a flush on every
        // worker round). Only a crash of PostgreSQL itself within the WAL writer's delay could
        // lose a marker, and with it one count towards a quarantine. BEGIN, the insert and
        // COMMIT go out together: one round trip.
        tx.single(
            super::BEGIN_ASYNC_COMMIT,
            &st.cached(MARK_BATCH)?,
            &[&marker, &self.stream, &self.group, &owner, &ids],
        )
        .await
        .map(|_| ())
    }

    async fn mark_in_flight(&self, owner: Uuid, ids: &[String]) -> Result<Vec<u32>, PortError> {
        // One row per id: ON CONFLICT DO UPDATE may touch a row once per statement.
        let mut unique: Vec<String> = ids.to_vec();
        unique.sort();
        unique.dedup();
        let mut conn = self.pool.get().await.map_err(pool_error)?;
        let tx = conn.transaction().await.map_err(classify)?;
        tx.execute(SPREAD_BATCHES, &[&self.stream, &self.group, &unique])
            .await
            .map_err(classify)?;
        let here = crate::config::hostname();
        let gone: Vec<Uuid> = tx
            .query(MARKER_OWNERS, &[&self.stream, &self.group, &unique])
            .await
            .map_err(classify)?
            .iter()
            .filter(|r| {
                let (host, pid, fresh): (Option<String>, Option<i32>, bool) =
                    (r.get(1), r.get(2), r.get(3));
                !memlink_actors::worker::marker_owner_alive(
                    host.as_deref(),
                    pid,
                    fresh,
                    &here,
                    process_running,
                )
            })
            .map(|r| r.get(0))
            .collect();
        let rows = tx
            .query(
                MARK_IN_FLIGHT,
                &[
                    &self.stream,
                    &self.group,
                    &owner,
                    &unique,
                    &Uuid::nil(),
                    &gone,
                ],
            )
            .await
            .map_err(classify)?;
        tx.commit().await.map_err(classify)?;
        let by_id: std::collections::HashMap<String, i32> =
            rows.into_iter().map(|r| (r.get(0), r.get(1))).collect();
        Ok(ids
            .iter()
            .map(|id| u32::try_from(by_id.get(id).copied().unwrap_or(0)).unwrap_or(0))
            .collect())
    }

    async fn park(&self, ids: &[String]) -> Result<(), PortError> {
        let conn = self.pool.get().await.map_err(pool_error)?;
        conn.execute(
            PARK_IN_FLIGHT,
            &[&self.stream, &self.group, &ids, &Uuid::nil()],
        )
        .await
        .map_err(classify)?;
        Ok(())
    }

    async fn clear_in_flight(&self, ids: &[String]) -> Result<(), PortError> {
        if ids.is_empty() {
            return Ok(());
        }
        let conn = self.pool.get().await.map_err(pool_error)?;
        conn.execute(CLEAR_IN_FLIGHT, &[&self.stream, &self.group, &ids])
            .await
            .map_err(classify)?;
        Ok(())
    }
}

/// Whether a process with this pid runs on this host (and is not a zombie).
fn process_running(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state letter follows the command name, which is in parentheses.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| state != 'Z' && state != 'X'),
        Err(_) => false,
    }
}

/// The reconciler's view of the outbox, for one stream and consumer group.
#[derive(Clone)]
pub struct PgReconcile {
    pool: PgPool,
    stream: String,
    group: String,
}

impl PgReconcile {
    pub fn new(pool: PgPool, stream: String, group: String) -> PgReconcile {
        PgReconcile {
            pool,
            stream,
            group,
        }
    }
}

/// Relayed rows past the cursor, old enough, in relay order, each with whether its event was
/// processed or dead-lettered. Rows confirmed before V8 (`confirmed_at`) are settled already.
const RELAYED_SINCE_CURSOR: &str = "
    SELECT o.id, o.aggregate_id, o.event_type, o.payload::text, o.stream_id, o.relayed_at,
           EXISTS (SELECT 1 FROM processed_events p WHERE p.event_id = o.id)
             OR EXISTS (SELECT 1 FROM dead_letters d WHERE d.event_id = o.id::text)
      FROM outbox_events o
      LEFT JOIN reconcile_cursors c ON c.stream = $3 AND c.grp = $4
     WHERE o.status = 'relayed' AND o.confirmed_at IS NULL
       AND o.relayed_at < now() - make_interval(secs => $1)
       AND (c.stream IS NULL OR (o.relayed_at, o.id) > (c.relayed_at, c.id))
     ORDER BY o.relayed_at, o.id
     LIMIT $2";

const MARK_REPUBLISHED: &str = "
    UPDATE outbox_events o
       SET stream_id = u.stream_id, relayed_at = now(), republished = o.republished + 1
      FROM unnest($1::uuid[], $2::text[]) AS u(id, stream_id)
     WHERE o.id = u.id AND o.status = 'relayed'";

/// Forward only: several relays may run a reconciler on one stream and group.
const ADVANCE_CURSOR: &str = "
    INSERT INTO reconcile_cursors AS c (stream, grp, relayed_at, id) VALUES ($1, $2, $3, $4)
    ON CONFLICT (stream, grp) DO UPDATE
       SET relayed_at = EXCLUDED.relayed_at, id = EXCLUDED.id
     WHERE (EXCLUDED.relayed_at, EXCLUDED.id) > (c.relayed_at, c.id)";

#[async_trait]
impl ReconcileStore for PgReconcile {
    async fn relayed_since_cursor(
        &self,
        after: Duration,
        limit: usize,
    ) -> Result<Vec<RelayedRow>, PortError> {
        let conn = self.pool.get().await.map_err(pool_error)?;
        let rows = conn
            .query(
                RELAYED_SINCE_CURSOR,
                &[
                    &after.as_secs_f64(),
                    &(limit as i64),
                    &self.stream,
                    &self.group,
                ],
            )
            .await
            .map_err(classify)?;
        // A relayed row was readable when the relay decoded it; one that no longer is (the
        // database's encoding changed under it) has nothing to re-publish.
        Ok(rows
            .iter()
            .filter_map(|r| {
                let row = super::store::read_outbox_row(r).ok()?;
                Some(RelayedRow {
                    position: ReconcilePosition {
                        relayed_at: r.try_get(5).ok()?,
                        id: row.id,
                    },
                    row,
                    stream_id: r.try_get::<_, Option<String>>(4).ok()??,
                    confirmed: r.try_get(6).ok()?,
                })
            })
            .collect())
    }

    async fn mark_republished(&self, republished: &[(Uuid, String)]) -> Result<(), PortError> {
        let (ids, stream_ids): (Vec<Uuid>, Vec<String>) = republished.iter().cloned().unzip();
        let conn = self.pool.get().await.map_err(pool_error)?;
        conn.execute(MARK_REPUBLISHED, &[&ids, &stream_ids])
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn advance_cursor(&self, to: ReconcilePosition) -> Result<(), PortError> {
        let conn = self.pool.get().await.map_err(pool_error)?;
        conn.execute(
            ADVANCE_CURSOR,
            &[&self.stream, &self.group, &to.relayed_at, &to.id],
        )
        .await
        .map_err(classify)?;
        Ok(())
    }
}

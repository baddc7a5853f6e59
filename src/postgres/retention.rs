//! Retention on Postgres: the bounded deletes the engine's retention actor asks for, and the
//! heartbeats it reads to tell stopped consumers (`memlink_actors::retention`).
//!
//! Each delete is one statement (one short transaction) over at most `limit` rows, skipping
//! rows another transaction holds. The eligibility each statement encodes is the port's
//! contract ([`PurgeKind`]); this module must never remove a pending, dead or unconfirmed
//! outbox row, an open dead letter, or a `processed_events` row whose outbox row still exists.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use memlink_actors::ports::{ConsumerProcess, PortError, PurgeKind, Purged, RetentionStore};

use super::{classify, pool_error, PgPool};

/// The retention queries of one stream and consumer group.
#[derive(Clone)]
pub struct PgRetention {
    pool: PgPool,
    stream: String,
    group: String,
}

impl PgRetention {
    pub fn new(pool: PgPool, stream: String, group: String) -> PgRetention {
        PgRetention {
            pool,
            stream,
            group,
        }
    }
}

// Every eligibility check below is a correlated scalar subquery (`(SELECT true ...)`), never
// EXISTS or NOT EXISTS: those may be planned as a hash over the whole other table, which each
// round would then read in full. A scalar subquery is one index probe per candidate row, and
// the LIMIT stops the walk after a batch. The deletes go by primary key (`= ANY(ARRAY(...))`).

/// Relayed rows relayed before `$1` whose event a worker processed or dead-lettered (or that
/// were confirmed before V8), oldest first, with their `processed_events` rows processed before
/// `$1` (a younger one stays, and goes with [`PURGE_PROCESSED_EVENTS`] later). Both in one
/// statement, so the reconciler never sees a relayed row without its confirmation.
const PURGE_PROCESSED_OUTBOX: &str = "
    WITH doomed AS (
        SELECT o.id FROM outbox_events o
         WHERE o.status = 'relayed' AND o.relayed_at < $1
           AND (o.confirmed_at IS NOT NULL
                OR (SELECT true FROM processed_events p WHERE p.event_id = o.id)
                OR (SELECT true FROM dead_letters d WHERE d.event_id = o.id::text LIMIT 1))
         ORDER BY o.relayed_at
         LIMIT $2
           FOR UPDATE SKIP LOCKED),
    gone AS (
        DELETE FROM outbox_events WHERE id = ANY (ARRAY(SELECT id FROM doomed))
     RETURNING id),
    events AS (
        DELETE FROM processed_events
         WHERE event_id = ANY (ARRAY(SELECT id FROM gone)) AND processed_at < $1
     RETURNING 1)
    SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM events)";

/// Idempotency records processed before `$1` whose event no outbox row holds any more (gone
/// with its row, or published straight to the stream by a producer).
const PURGE_PROCESSED_EVENTS: &str = "
    DELETE FROM processed_events WHERE event_id = ANY (ARRAY(
        SELECT p.event_id FROM processed_events p
         WHERE p.processed_at < $1
           AND (SELECT true FROM outbox_events o WHERE o.id = p.event_id) IS NULL
         LIMIT $2
           FOR UPDATE SKIP LOCKED))";

/// Keys first used before `$1` (the engine never passes a cutoff inside their 24 hours).
const PURGE_IDEMPOTENCY_KEYS: &str = "
    DELETE FROM idempotency_keys WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM idempotency_keys WHERE created_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED))";

/// Discarded or replayed letters last seen before `$1` with no action since, and their
/// actions, in one statement (the actions reference the letters).
const PURGE_RESOLVED_DEAD_LETTERS: &str = "
    WITH doomed AS (
        SELECT d.id FROM dead_letters d
         WHERE d.status IN ('discarded', 'replayed') AND d.last_seen < $1
           AND (SELECT true FROM dead_letter_actions a
                 WHERE a.dead_letter_id = d.id AND a.at >= $1 LIMIT 1) IS NULL
         ORDER BY d.status, d.received_at
         LIMIT $2
           FOR UPDATE SKIP LOCKED),
    actions AS (
        DELETE FROM dead_letter_actions WHERE dead_letter_id = ANY (ARRAY(SELECT id FROM doomed))
     RETURNING 1),
    letters AS (
        DELETE FROM dead_letters WHERE id = ANY (ARRAY(SELECT id FROM doomed))
     RETURNING 1)
    SELECT (SELECT count(*) FROM letters), (SELECT count(*) FROM actions)";

/// Per consumer name of this stream and group: whether any process of that name beats and has
/// not stopped (fresh within three of its intervals, by the database's clock).
const CONSUMER_PROCESSES: &str = "
    SELECT consumer,
           bool_or(stopped_at IS NULL
                   AND last_seen > now() - make_interval(secs => interval_secs * 3))
      FROM heartbeats
     WHERE stream = $1 AND group_name = $2
     GROUP BY consumer";

#[async_trait]
impl RetentionStore for PgRetention {
    async fn purge(
        &self,
        kind: PurgeKind,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Purged, PortError> {
        let (sql, with_dependents) = match kind {
            PurgeKind::ProcessedOutbox => (PURGE_PROCESSED_OUTBOX, true),
            PurgeKind::ProcessedEvents => (PURGE_PROCESSED_EVENTS, false),
            PurgeKind::IdempotencyKeys => (PURGE_IDEMPOTENCY_KEYS, false),
            PurgeKind::ResolvedDeadLetters => (PURGE_RESOLVED_DEAD_LETTERS, true),
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let conn = self.pool.get().await.map_err(pool_error)?;
        if !with_dependents {
            let rows = conn
                .execute(sql, &[&before, &limit])
                .await
                .map_err(classify)?;
            return Ok(Purged { rows, dependent: 0 });
        }
        let row = conn
            .query_one(sql, &[&before, &limit])
            .await
            .map_err(classify)?;
        let (rows, dependent): (i64, i64) = (row.get(0), row.get(1));
        Ok(Purged {
            rows: u64::try_from(rows).unwrap_or(0),
            dependent: u64::try_from(dependent).unwrap_or(0),
        })
    }

    async fn consumer_processes(&self) -> Result<Vec<ConsumerProcess>, PortError> {
        let conn = self.pool.get().await.map_err(pool_error)?;
        let rows = conn
            .query(CONSUMER_PROCESSES, &[&self.stream, &self.group])
            .await
            .map_err(classify)?;
        Ok(rows
            .iter()
            .map(|r| ConsumerProcess {
                consumer: r.get(0),
                alive: r.get::<_, Option<bool>>(1).unwrap_or(false),
            })
            .collect())
    }
}

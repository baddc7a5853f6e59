//! The statements `memlink-bench` runs against a daemon's database: writing `message.created`
//! events straight into the outbox as a producer would, waiting for them to be processed,
//! reading their timings back, counting the rows a soak watches, and the pgbench script of a
//! producer's transaction.
//!
//! SQL only, on the bench's own connection: what to send and when, and what the figures mean,
//! are the bench's. Apart from the outbox rows it is given, this module must never write.

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio_postgres::{Client, Error, Statement, ToStatement};
use uuid::Uuid;

/// One outbox event as the bench writes it.
#[derive(Debug, Clone)]
pub struct BenchEvent {
    pub id: Uuid,
    /// The outbox row's `aggregate_id`: the chat.
    pub chat: String,
    pub payload: Value,
}

/// Throughput and end-to-end latency of a set of events, seconds: outbox `created_at` (the
/// producer's transaction) to `processed_events.processed_at` (the worker's).
#[derive(Debug, Clone)]
pub struct Results {
    pub processed: i64,
    /// First outbox insert to last event processed.
    pub span_s: f64,
    pub p50_s: f64,
    pub p99_s: f64,
    pub max_s: f64,
}

/// Where the latency goes, seconds: outbox insert to the relay's transaction (`relayed_at`),
/// and from there to the worker's; `None` when no event was relayed.
#[derive(Debug, Clone)]
pub struct StageLatencies {
    pub to_relay_p50_s: Option<f64>,
    pub to_relay_p99_s: Option<f64>,
    pub relay_to_worker_p50_s: Option<f64>,
    pub relay_to_worker_p99_s: Option<f64>,
}

/// Latency to the effects' commit, seconds, from PostgreSQL's own commit timestamps: outbox
/// `created_at` to the commit of the transaction that recorded the event in
/// `processed_events` (that row's `xmin`), and that transaction's span from its start
/// (`processed_at`) to its commit. `None` where the server does not record commit timestamps.
#[derive(Debug, Clone)]
pub struct CommitLatencies {
    pub to_commit_p50_s: f64,
    pub to_commit_p99_s: f64,
    pub to_commit_max_s: f64,
    pub effects_tx_p50_s: f64,
    pub effects_tx_p99_s: f64,
}

/// Row counts of the tables retention bounds, and of two that grow with user data.
#[derive(Debug, Clone)]
pub struct TableCounts {
    pub outbox_rows: i64,
    pub outbox_pending: i64,
    pub processed_events: i64,
    pub dead_letters: i64,
    pub messages: i64,
    pub facts: i64,
}

const INSERT_EVENTS: &str = "
    INSERT INTO outbox_events (id, aggregate_id, event_type, payload)
    SELECT u.id, u.chat, 'message.created', u.payload
      FROM unnest($1::uuid[], $2::text[], $3::jsonb[]) AS u(id, chat, payload)";

const PROCESSED_COUNT: &str = "SELECT count(*) FROM processed_events WHERE event_id = ANY($1)";

const LAST_PROCESSED_AT: &str =
    "SELECT max(processed_at) FROM processed_events WHERE event_id = ANY($1)";

const RESULTS: &str = "
    SELECT count(*),
           extract(epoch FROM max(p.processed_at) - min(o.created_at))::float8,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM p.processed_at - o.created_at)),
           percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM p.processed_at - o.created_at)),
           max(extract(epoch FROM p.processed_at - o.created_at))::float8
      FROM outbox_events o JOIN processed_events p ON p.event_id = o.id
     WHERE o.id = ANY($1)";

const STAGES: &str = "
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM o.relayed_at - o.created_at)),
           percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM o.relayed_at - o.created_at)),
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM p.processed_at - o.relayed_at)),
           percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM p.processed_at - o.relayed_at))
      FROM outbox_events o JOIN processed_events p ON p.event_id = o.id
     WHERE o.id = ANY($1) AND o.relayed_at IS NOT NULL";

const COMMIT_TIMESTAMPS_ON: &str = "SELECT current_setting('track_commit_timestamp') = 'on'";

/// Transactions committed before the server tracked commits have no timestamp: left out.
const COMMIT_LATENCIES: &str = "
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY c.to_commit),
           percentile_cont(0.99) WITHIN GROUP (ORDER BY c.to_commit),
           max(c.to_commit)::float8,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY c.effects),
           percentile_cont(0.99) WITHIN GROUP (ORDER BY c.effects)
      FROM (SELECT extract(epoch FROM t.at - o.created_at) AS to_commit,
                   extract(epoch FROM t.at - p.processed_at) AS effects
              FROM outbox_events o JOIN processed_events p ON p.event_id = o.id
             CROSS JOIN LATERAL (SELECT pg_xact_commit_timestamp(p.xmin) AS at) t
             WHERE o.id = ANY($1) AND t.at IS NOT NULL) c";

const FACTS_OF: &str = "
    SELECT count(*) FROM facts f JOIN processed_events p ON p.message_id = f.source_message_id
     WHERE p.event_id = ANY($1)";

const TABLE_COUNTS: &str = "
    SELECT (SELECT count(*) FROM outbox_events),
           (SELECT count(*) FROM outbox_events WHERE status = 'pending'),
           (SELECT count(*) FROM processed_events),
           (SELECT count(*) FROM dead_letters),
           (SELECT count(*) FROM messages),
           (SELECT count(*) FROM facts)";

/// What a producer's transaction does, as a pgbench script: a message row and its outbox
/// event, in one of 1,000 chats.
pub const PGBENCH_PRODUCER_SCRIPT: &str = r#"\set r random(1, 1000)
BEGIN;
INSERT INTO chats (id) VALUES (md5(:r::text)::uuid) ON CONFLICT (id) DO NOTHING;
INSERT INTO messages (id, chat_id, user_id, role, content, created_at)
  VALUES (gen_random_uuid(), md5(:r::text)::uuid, 'pgbench', 'user', 'I live in City7.', now())
  RETURNING id AS mid \gset
INSERT INTO outbox_events (id, aggregate_id, event_type, payload)
  VALUES (gen_random_uuid(), md5(:r::text)::uuid::text, 'message.created',
          jsonb_build_object('message_id', :mid::text, 'chat_id', md5(:r::text)::uuid, 'user_id', 'pgbench',
                             'role', 'user', 'content', 'I live in City7.', 'created_at', now()));
COMMIT;
"#;

async fn insert_with<T>(client: &Client, statement: &T, events: &[BenchEvent]) -> Result<u64, Error>
where
    T: ?Sized + ToStatement,
{
    let id: Vec<Uuid> = events.iter().map(|e| e.id).collect();
    let chat: Vec<&str> = events.iter().map(|e| e.chat.as_str()).collect();
    let payload: Vec<&Value> = events.iter().map(|e| &e.payload).collect();
    client.execute(statement, &[&id, &chat, &payload]).await
}

/// Inserts `events` into the outbox in one statement (parsed anew, as a producer without a
/// prepared statement would).
pub async fn insert_events(client: &Client, events: &[BenchEvent]) -> Result<u64, Error> {
    insert_with(client, INSERT_EVENTS, events).await
}

/// The outbox insert prepared once, for producers that send many small transactions.
pub struct PreparedInsert(Statement);

impl PreparedInsert {
    pub async fn prepare(client: &Client) -> Result<PreparedInsert, Error> {
        Ok(PreparedInsert(client.prepare(INSERT_EVENTS).await?))
    }

    pub async fn insert(&self, client: &Client, events: &[BenchEvent]) -> Result<u64, Error> {
        insert_with(client, &self.0, events).await
    }
}

/// How many of `ids` have been processed.
pub async fn processed_count(client: &Client, ids: &[Uuid]) -> Result<i64, Error> {
    client.query_one(PROCESSED_COUNT, &[&ids]).await?.try_get(0)
}

/// When the last of `ids` was processed (all of them must be).
pub async fn last_processed_at(client: &Client, ids: &[Uuid]) -> Result<DateTime<Utc>, Error> {
    client
        .query_one(LAST_PROCESSED_AT, &[&ids])
        .await?
        .try_get(0)
}

pub async fn results(client: &Client, ids: &[Uuid]) -> Result<Results, Error> {
    let r = client.query_one(RESULTS, &[&ids]).await?;
    Ok(Results {
        processed: r.try_get(0)?,
        span_s: r.try_get(1)?,
        p50_s: r.try_get(2)?,
        p99_s: r.try_get(3)?,
        max_s: r.try_get(4)?,
    })
}

pub async fn stage_latencies(client: &Client, ids: &[Uuid]) -> Result<StageLatencies, Error> {
    let r = client.query_one(STAGES, &[&ids]).await?;
    Ok(StageLatencies {
        to_relay_p50_s: r.try_get(0)?,
        to_relay_p99_s: r.try_get(1)?,
        relay_to_worker_p50_s: r.try_get(2)?,
        relay_to_worker_p99_s: r.try_get(3)?,
    })
}

/// The events' latency to the commit of their effects, where the server records commit
/// timestamps (`track_commit_timestamp = on`, set at its start) and any of `ids` was processed
/// since.
pub async fn commit_latencies(
    client: &Client,
    ids: &[Uuid],
) -> Result<Option<CommitLatencies>, Error> {
    let on: bool = client
        .query_one(COMMIT_TIMESTAMPS_ON, &[])
        .await?
        .try_get(0)?;
    if !on {
        return Ok(None);
    }
    let r = client.query_one(COMMIT_LATENCIES, &[&ids]).await?;
    let Some(to_commit_p50_s) = r.try_get::<_, Option<f64>>(0)? else {
        return Ok(None);
    };
    Ok(Some(CommitLatencies {
        to_commit_p50_s,
        to_commit_p99_s: r.try_get(1)?,
        to_commit_max_s: r.try_get(2)?,
        effects_tx_p50_s: r.try_get(3)?,
        effects_tx_p99_s: r.try_get(4)?,
    }))
}

/// How many facts the messages of `ids` are the source of.
pub async fn facts_of(client: &Client, ids: &[Uuid]) -> Result<i64, Error> {
    client.query_one(FACTS_OF, &[&ids]).await?.try_get(0)
}

pub async fn table_counts(client: &Client) -> Result<TableCounts, Error> {
    let r = client.query_one(TABLE_COUNTS, &[]).await?;
    Ok(TableCounts {
        outbox_rows: r.try_get(0)?,
        outbox_pending: r.try_get(1)?,
        processed_events: r.try_get(2)?,
        dead_letters: r.try_get(3)?,
        messages: r.try_get(4)?,
        facts: r.try_get(5)?,
    })
}

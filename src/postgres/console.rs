//! The reads only the admin console needs: the throughput and latency of the last minutes,
//! and what a forget would remove (shown before the operator confirms it).
//!
//! Every action the console takes goes through [`super::dlq`] and [`super::memory`], like the
//! HTTP API and the CLI; this module must never write.

use chrono::{DateTime, Utc};
use memlink_actors::ports::PortError;
use serde::Serialize;
use uuid::Uuid;

use super::{classify, pool_error, PgPool};

/// One minute of the pipeline's output.
#[derive(Debug, Clone, Serialize)]
pub struct MinuteStats {
    pub minute: DateTime<Utc>,
    /// Messages whose effects were committed in this minute.
    pub processed: i64,
    /// The 99th percentile of their end-to-end latency (`created_at` to commit), seconds;
    /// `None` for a minute without any.
    pub p99_latency_s: Option<f64>,
}

/// The last `$1` minutes, the current one included, oldest first; a producer clock ahead of
/// ours counts as no latency. `messages_processed_brin_idx` (V12) finds the recent rows.
const RECENT_MINUTES: &str = "
    WITH recent AS (
        SELECT date_trunc('minute', processed_at) AS minute,
               greatest(extract(epoch FROM processed_at - created_at)::float8, 0) AS latency
          FROM messages
         WHERE processed_at >= date_trunc('minute', now()) - make_interval(mins => $1 - 1))
    SELECT b.minute, count(r.minute), percentile_cont(0.99) WITHIN GROUP (ORDER BY r.latency)
      FROM generate_series(date_trunc('minute', now()) - make_interval(mins => $1 - 1),
                           date_trunc('minute', now()), interval '1 minute') AS b(minute)
      LEFT JOIN recent r ON r.minute = b.minute
     GROUP BY b.minute
     ORDER BY b.minute";

pub async fn recent_minutes(pool: &PgPool, minutes: i32) -> Result<Vec<MinuteStats>, PortError> {
    let conn = pool.get().await.map_err(pool_error)?;
    let rows = conn
        .query(RECENT_MINUTES, &[&minutes])
        .await
        .map_err(classify)?;
    Ok(rows
        .iter()
        .map(|r| MinuteStats {
            minute: r.get(0),
            processed: r.get(1),
            p99_latency_s: r.get(2),
        })
        .collect())
}

/// What forgetting a user would remove.
#[derive(Debug, Clone, Serialize)]
pub struct UserFootprint {
    pub facts: i64,
    pub messages: i64,
    pub chats: i64,
    pub already_forgotten: bool,
}

const USER_FOOTPRINT: &str = "
    SELECT (SELECT count(*) FROM facts WHERE user_id = $1),
           (SELECT count(*) FROM messages WHERE user_id = $1),
           (SELECT count(DISTINCT chat_id) FROM messages WHERE user_id = $1),
           EXISTS (SELECT 1 FROM user_tombstones WHERE user_id = $1)";

pub async fn user_footprint(pool: &PgPool, user_id: &str) -> Result<UserFootprint, PortError> {
    let conn = pool.get().await.map_err(pool_error)?;
    let r = conn
        .query_one(USER_FOOTPRINT, &[&user_id])
        .await
        .map_err(classify)?;
    Ok(UserFootprint {
        facts: r.get(0),
        messages: r.get(1),
        chats: r.get(2),
        already_forgotten: r.get(3),
    })
}

/// A message as the console shows it before forgetting it.
#[derive(Debug, Clone, Serialize)]
pub struct MessageFootprint {
    pub user_id: String,
    pub role: String,
    pub content: String,
    pub created_at: DateTime<Utc>,
    /// Statements (fact sources) it made.
    pub statements: i64,
}

const MESSAGE_FOOTPRINT: &str = "
    SELECT m.user_id, m.role, m.content, m.created_at,
           (SELECT count(*) FROM fact_sources s WHERE s.message_id = m.id)
      FROM messages m WHERE m.id = $1 AND m.chat_id = $2";

/// `None` when the chat has no such message (never had it, or it was forgotten).
pub async fn message_footprint(
    pool: &PgPool,
    chat_id: Uuid,
    message_id: Uuid,
) -> Result<Option<MessageFootprint>, PortError> {
    let conn = pool.get().await.map_err(pool_error)?;
    let row = conn
        .query_opt(MESSAGE_FOOTPRINT, &[&message_id, &chat_id])
        .await
        .map_err(classify)?;
    Ok(row.map(|r| MessageFootprint {
        user_id: r.get(0),
        role: r.get(1),
        content: r.get(2),
        created_at: r.get(3),
        statements: r.get(4),
    }))
}

//! The rows `memlink verify` writes, watches and removes: its synthetic message's outbox event,
//! one read per traced stage (stored, outbox, relayed, processed, fact, title, watermark), the
//! dead letter that explains a stage that never came, and the removal of every row the
//! synthetic user, chat and event left behind.
//!
//! SQL only: when to look and what a stage's answer means is `ops::verify`'s. Every statement
//! is keyed by the synthetic user, chat or event it is given; this module must never read or
//! remove anything else.

use chrono::{DateTime, Utc};
use memlink_actors::ports::PortError;
use serde_json::Value;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::{classify, pool_error, PgPool};

const MESSAGE_STORED: &str = "SELECT EXISTS (SELECT 1 FROM messages WHERE id = $1)";
const OUTBOX_ROW: &str = "SELECT status, stream_id FROM outbox_events WHERE id = $1";
const PROCESSED: &str = "SELECT stream_entry_id FROM processed_events WHERE event_id = $1";
const FACT: &str =
    "SELECT object FROM facts WHERE user_id = $1 AND predicate = 'name' AND object = $2";
const TITLE: &str = "SELECT title FROM chats WHERE id = $1 AND title IS NOT NULL";
const WATERMARK: &str =
    "SELECT message_count FROM watermarks WHERE chat_id = $1 AND message_count > 0";
const DEAD_LETTER: &str =
    "SELECT reason, detail FROM dead_letters WHERE event_id = $1 ORDER BY received_at DESC LIMIT 1";
const INSERT_OUTBOX: &str = "
    INSERT INTO outbox_events (id, aggregate_id, event_type, payload, created_at)
    VALUES ($1, $2, 'message.created', $3, $4)";

/// Statements first: they reference the facts derived from them.
const CLEAN_FACT_SOURCES: &str = "DELETE FROM fact_sources WHERE user_id = $1";
const CLEAN_FACTS: &str = "DELETE FROM facts WHERE user_id = $1";
const CLEAN_PROCESSED: &str = "DELETE FROM processed_events WHERE event_id = $1";
const CLEAN_WATERMARK: &str = "DELETE FROM watermarks WHERE chat_id = $1";
const CLEAN_MESSAGES: &str = "DELETE FROM messages WHERE chat_id = $1";
const CLEAN_CHAT: &str = "DELETE FROM chats WHERE id = $1";
const CLEAN_DEAD_LETTERS: &str = "DELETE FROM dead_letters WHERE event_id = $1";
const CLEAN_OUTBOX: &str = "DELETE FROM outbox_events WHERE id = $1 RETURNING stream_id";

/// An outbox row as the trace sees it.
#[derive(Debug, Clone)]
pub struct OutboxState {
    pub status: String,
    /// The stream entry it was relayed as, once relayed.
    pub stream_id: Option<String>,
}

/// A `processed_events` row: the event's effects are committed.
#[derive(Debug, Clone)]
pub struct Processed {
    pub stream_entry_id: Option<String>,
}

/// Why the newest dead letter of an event was set aside.
#[derive(Debug, Clone)]
pub struct DeadLetterReason {
    pub reason: String,
    pub detail: String,
}

/// What [`remove_synthetic`] removed, table by table.
#[derive(Debug, Clone, Default)]
pub struct Removed {
    pub facts: u64,
    /// `None` (with the two below) when no event was given.
    pub processed_events: Option<u64>,
    pub dead_letters: Option<u64>,
    pub outbox_events: Option<usize>,
    /// The stream entry the removed outbox row had been relayed as.
    pub stream_entry: Option<String>,
    pub messages: u64,
    pub watermarks: u64,
    pub chats: u64,
}

async fn query_opt(
    pg: &PgPool,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Option<tokio_postgres::Row>, PortError> {
    let conn = pg.get().await.map_err(pool_error)?;
    conn.query_opt(sql, params).await.map_err(classify)
}

/// Writes the synthetic `message.created` event straight into the outbox, as a producer would.
pub async fn insert_outbox_event(
    pg: &PgPool,
    event_id: Uuid,
    chat_id: Uuid,
    payload: &Value,
    created_at: DateTime<Utc>,
) -> Result<(), PortError> {
    let conn = pg.get().await.map_err(pool_error)?;
    conn.execute(
        INSERT_OUTBOX,
        &[&event_id, &chat_id.to_string(), payload, &created_at],
    )
    .await
    .map_err(classify)?;
    Ok(())
}

/// Whether the chat API stored the message.
pub async fn message_stored(pg: &PgPool, message_id: Uuid) -> Result<bool, PortError> {
    let row = query_opt(pg, MESSAGE_STORED, &[&message_id]).await?;
    Ok(row.is_some_and(|r| r.get::<_, bool>(0)))
}

pub async fn outbox_state(pg: &PgPool, event_id: Uuid) -> Result<Option<OutboxState>, PortError> {
    Ok(query_opt(pg, OUTBOX_ROW, &[&event_id])
        .await?
        .map(|r| OutboxState {
            status: r.get(0),
            stream_id: r.get(1),
        }))
}

pub async fn processed(pg: &PgPool, event_id: Uuid) -> Result<Option<Processed>, PortError> {
    Ok(query_opt(pg, PROCESSED, &[&event_id])
        .await?
        .map(|r| Processed {
            stream_entry_id: r.get(0),
        }))
}

/// The user's `name` fact, when it holds exactly `name`.
pub async fn name_fact(
    pg: &PgPool,
    user_id: &str,
    name: &str,
) -> Result<Option<String>, PortError> {
    Ok(query_opt(pg, FACT, &[&user_id, &name])
        .await?
        .map(|r| r.get(0)))
}

/// The chat's title, once it has one.
pub async fn chat_title(pg: &PgPool, chat_id: Uuid) -> Result<Option<String>, PortError> {
    Ok(query_opt(pg, TITLE, &[&chat_id]).await?.map(|r| r.get(0)))
}

/// The chat's watermark count, once it has counted a message.
pub async fn watermark_count(pg: &PgPool, chat_id: Uuid) -> Result<Option<i64>, PortError> {
    Ok(query_opt(pg, WATERMARK, &[&chat_id])
        .await?
        .map(|r| r.get(0)))
}

/// The newest dead letter of the event, if it was dead-lettered.
pub async fn latest_dead_letter(
    pg: &PgPool,
    event_id: Uuid,
) -> Result<Option<DeadLetterReason>, PortError> {
    Ok(query_opt(pg, DEAD_LETTER, &[&event_id.to_string()])
        .await?
        .map(|r| DeadLetterReason {
            reason: r.get(0),
            detail: r.get(1),
        }))
}

/// Removes, in one transaction, every row of the synthetic user and chat and, when given, of
/// the event (its outbox row, processing record and dead letters).
pub async fn remove_synthetic(
    pg: &PgPool,
    user_id: &str,
    chat_id: Uuid,
    event_id: Option<Uuid>,
) -> Result<Removed, PortError> {
    let mut conn = pg.get().await.map_err(pool_error)?;
    let tx = conn.transaction().await.map_err(classify)?;
    tx.execute(CLEAN_FACT_SOURCES, &[&user_id])
        .await
        .map_err(classify)?;
    let mut removed = Removed {
        facts: tx
            .execute(CLEAN_FACTS, &[&user_id])
            .await
            .map_err(classify)?,
        ..Removed::default()
    };
    if let Some(ev) = event_id {
        removed.processed_events = Some(
            tx.execute(CLEAN_PROCESSED, &[&ev])
                .await
                .map_err(classify)?,
        );
        removed.dead_letters = Some(
            tx.execute(CLEAN_DEAD_LETTERS, &[&ev.to_string()])
                .await
                .map_err(classify)?,
        );
        let rows = tx.query(CLEAN_OUTBOX, &[&ev]).await.map_err(classify)?;
        removed.outbox_events = Some(rows.len());
        removed.stream_entry = rows.first().and_then(|r| r.get::<_, Option<String>>(0));
    }
    removed.messages = tx
        .execute(CLEAN_MESSAGES, &[&chat_id])
        .await
        .map_err(classify)?;
    removed.watermarks = tx
        .execute(CLEAN_WATERMARK, &[&chat_id])
        .await
        .map_err(classify)?;
    removed.chats = tx
        .execute(CLEAN_CHAT, &[&chat_id])
        .await
        .map_err(classify)?;
    tx.commit().await.map_err(classify)?;
    Ok(removed)
}

//! Store functions behind the HTTP API: accepting a chat message (message row and outbox
//! event in one transaction) and the read models (chat, status). Dead letters have their own
//! module, [`super::dlq`]; facts are in [`super::memory`].
//!
//! Reads never lock; the only write is `insert_message`, which must stay one transaction so
//! that a message is never stored without its event, or the reverse (nor its idempotency key
//! without them).

use chrono::{DateTime, Utc};
use memlink_actors::domain::{ChatId, Content, EventId, MessageCreated, MessageId, Role, UserId};
use memlink_actors::ports::PortError;
use serde::Serialize;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::{classify, pool_error, PgPool};

/// A message accepted from the chat API.
pub struct NewMessage {
    pub chat_id: ChatId,
    pub message_id: MessageId,
    pub event_id: Uuid,
    pub user_id: UserId,
    pub role: Role,
    pub content: Content,
    pub created_at: DateTime<Utc>,
}

/// The chat (if new), the message and its outbox event: one statement, so one round trip and
/// atomic by itself (the foreign key from the message to its chat is checked at the end of
/// the statement, when the chat's row exists).
const STORE_MESSAGE: &str = "
    WITH chat AS (
        INSERT INTO chats (id) VALUES ($2) ON CONFLICT (id) DO NOTHING
    ), message AS (
        INSERT INTO messages (id, chat_id, user_id, role, content, created_at)
        VALUES ($1, $2, $3, $4, $5, $6)
    )
    INSERT INTO outbox_events (id, aggregate_id, event_type, payload, created_at)
    VALUES ($7, $8, 'message.created', $9, $6)";

/// An `Idempotency-Key` with the fingerprint of the request it came with.
pub struct IdempotencyKey {
    pub key: String,
    /// SHA-256 of the decoded request (user, role, content).
    pub request_hash: [u8; 32],
}

/// What became of a message offered with (or without) an idempotency key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// Stored now, with the ids it was offered with.
    Stored,
    /// The key's first request was the same: these are its ids; nothing was stored.
    Replayed { message_id: Uuid, event_id: Uuid },
    /// The key's first request was a different one.
    KeyReused,
}

// A key is honoured for 24 hours; an older row is expired (replaced, or swept).
const CLAIM_KEY: &str = "
    INSERT INTO idempotency_keys (chat_id, key, request_hash, message_id, event_id)
    VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (chat_id, key) DO UPDATE
       SET request_hash = EXCLUDED.request_hash, message_id = EXCLUDED.message_id,
           event_id = EXCLUDED.event_id, created_at = now()
     WHERE idempotency_keys.created_at < now() - interval '24 hours'
    RETURNING true";
const FIND_KEY: &str = "
    SELECT request_hash, message_id, event_id FROM idempotency_keys
     WHERE chat_id = $1 AND key = $2 AND created_at >= now() - interval '24 hours'";
/// Expired keys, a bounded number per keyed request.
const SWEEP_KEYS: &str = "
    DELETE FROM idempotency_keys WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM idempotency_keys WHERE created_at < now() - interval '24 hours' LIMIT 100))";

/// The answer a live key's first request got, compared with this one.
fn replay_of(row: &tokio_postgres::Row, key: &IdempotencyKey) -> Accepted {
    let hash: Vec<u8> = row.get(0);
    if hash == key.request_hash {
        Accepted::Replayed {
            message_id: row.get(1),
            event_id: row.get(2),
        }
    } else {
        Accepted::KeyReused
    }
}

/// A live key's first answer, if the key was used in this chat (read-only).
pub async fn find_idempotent(
    pool: &PgPool,
    chat_id: ChatId,
    key: &IdempotencyKey,
) -> Result<Option<Accepted>, PortError> {
    let conn = pool.get().await.map_err(pool_error)?;
    let row = conn
        .query_opt(FIND_KEY, &[&chat_id.0, &key.key])
        .await
        .map_err(classify)?;
    Ok(row.map(|r| replay_of(&r, key)))
}

/// Stores the message and its `message.created` outbox event atomically, and its key if it
/// has one. Two requests with the same key serialise on the key's row: the second waits for
/// the first's commit and then answers with its ids.
pub async fn insert_message(
    pool: &PgPool,
    m: &NewMessage,
    key: Option<&IdempotencyKey>,
) -> Result<Accepted, PortError> {
    let payload = memlink_actors::decode::encode_message_created(&MessageCreated {
        event_id: EventId(m.event_id),
        message_id: m.message_id,
        chat_id: m.chat_id,
        user_id: m.user_id.clone(),
        role: m.role,
        content: m.content.clone(),
        created_at: m.created_at,
    });
    let mut conn = pool.get().await.map_err(pool_error)?;
    // Prepared once per connection: then a message without a key costs one round trip.
    let st = conn.statements();
    let needed: &[&'static str] = if key.is_some() {
        &[STORE_MESSAGE, CLAIM_KEY]
    } else {
        &[STORE_MESSAGE]
    };
    st.ensure(&**conn, needed).await.map_err(classify)?;
    let store = st.cached(STORE_MESSAGE)?;
    let chat = m.chat_id.to_string();
    let (user, role, content) = (m.user_id.as_str(), m.role.as_str(), m.content.as_str());
    let params: [&(dyn ToSql + Sync); 9] = [
        &m.message_id.0,
        &m.chat_id.0,
        &user,
        &role,
        &content,
        &m.created_at,
        &m.event_id,
        &chat,
        &payload,
    ];
    let Some(k) = key else {
        conn.execute(&store, &params).await.map_err(classify)?;
        return Ok(Accepted::Stored);
    };
    // With a key, the key's row and the message commit together.
    let tx = conn.transaction().await.map_err(classify)?;
    let claimed = tx
        .query_opt(
            &st.cached(CLAIM_KEY)?,
            &[
                &m.chat_id.0,
                &k.key,
                &k.request_hash.as_slice(),
                &m.message_id.0,
                &m.event_id,
            ],
        )
        .await
        .map_err(classify)?;
    if claimed.is_none() {
        let first = tx
            .query_opt(FIND_KEY, &[&m.chat_id.0, &k.key])
            .await
            .map_err(classify)?;
        tx.rollback().await.map_err(classify)?;
        return first.map(|r| replay_of(&r, k)).ok_or_else(|| {
            PortError::transient("postgres", "an idempotency key expired while in use")
        });
    }
    tx.execute(&store, &params).await.map_err(classify)?;
    tx.commit().await.map_err(classify)?;
    // Housekeeping only: the message is stored whatever this does.
    if let Err(e) = conn.execute(SWEEP_KEYS, &[]).await {
        log::debug!(target: "memlink::http", "event=idempotency_sweep_failed error={}", crate::logging::quoted(&e));
    }
    Ok(Accepted::Stored)
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct WatermarkView {
    pub message_count: i64,
    pub checksum: String,
    pub updated_at: i64,
}

#[derive(Debug, Serialize)]
pub struct ChatView {
    pub chat_id: Uuid,
    pub title: Option<String>,
    pub title_source: Option<String>,
    pub message_count: i64,
    pub watermark: Option<WatermarkView>,
}

const SELECT_CHAT: &str = "
    SELECT c.id, c.title, c.title_source,
           (SELECT count(*) FROM messages m WHERE m.chat_id = c.id),
           w.message_count, encode(w.checksum, 'hex'), w.updated_at
      FROM chats c LEFT JOIN watermarks w ON w.chat_id = c.id
     WHERE c.id = $1";

/// A chat known only from an outbox row (an external producer's) is known too.
const OUTBOX_KNOWS_CHAT: &str =
    "SELECT EXISTS (SELECT 1 FROM outbox_events WHERE aggregate_id = $1)";

pub async fn get_chat(pool: &PgPool, chat_id: ChatId) -> Result<Option<ChatView>, PortError> {
    let conn = pool.get().await.map_err(pool_error)?;
    if let Some(r) = conn
        .query_opt(SELECT_CHAT, &[&chat_id.0])
        .await
        .map_err(classify)?
    {
        let watermark = r.get::<_, Option<i64>>(4).map(|count| WatermarkView {
            message_count: count,
            checksum: r.get(5),
            updated_at: r.get(6),
        });
        return Ok(Some(ChatView {
            chat_id: r.get(0),
            title: r.get(1),
            title_source: r.get(2),
            message_count: r.get(3),
            watermark,
        }));
    }
    let known: bool = conn
        .query_one(OUTBOX_KNOWS_CHAT, &[&chat_id.to_string()])
        .await
        .map_err(classify)?
        .get(0);
    Ok(known.then_some(ChatView {
        chat_id: chat_id.0,
        title: None,
        title_source: None,
        message_count: 0,
        watermark: None,
    }))
}

#[derive(Debug, Serialize, Default)]
pub struct OutboxStats {
    pub pending: i64,
    pub oldest_pending_age_s: f64,
    pub relayed: i64,
    pub dead: i64,
}

#[derive(Debug, Serialize, Default)]
pub struct StoreStats {
    pub outbox: OutboxStats,
    pub dead_letters_total: i64,
    pub watermarks_pending: i64,
}

const STORE_STATS: &str = "
    SELECT (SELECT count(*) FROM outbox_events WHERE status = 'pending'),
           coalesce((SELECT extract(epoch FROM now() - min(created_at))::float8
                       FROM outbox_events WHERE status = 'pending'), 0),
           (SELECT count(*) FROM outbox_events WHERE status = 'relayed'),
           (SELECT count(*) FROM outbox_events WHERE status = 'dead'),
           (SELECT count(*) FROM dead_letters WHERE status = 'dead'),
           (SELECT count(*) FROM messages WHERE processed_at IS NOT NULL AND folded_at IS NULL)";

pub async fn store_stats(pool: &PgPool) -> Result<StoreStats, PortError> {
    let conn = pool.get().await.map_err(pool_error)?;
    let r = conn.query_one(STORE_STATS, &[]).await.map_err(classify)?;
    Ok(StoreStats {
        outbox: OutboxStats {
            pending: r.get(0),
            oldest_pending_age_s: r.get(1),
            relayed: r.get(2),
            dead: r.get(3),
        },
        dead_letters_total: r.get(4),
        watermarks_pending: r.get(5),
    })
}

/// `SELECT 1`: is Postgres answering?
pub async fn ping(pool: &PgPool) -> Result<(), PortError> {
    let conn = pool.get().await.map_err(pool_error)?;
    conn.simple_query("SELECT 1").await.map_err(classify)?;
    Ok(())
}

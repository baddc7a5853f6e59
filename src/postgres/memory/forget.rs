//! Forgetting: a user (everything about them) or one message (what only it said), each in
//! one transaction under the user's lock, with a tombstone so in-flight events cannot bring
//! anything back, and an audit row of counts, never content.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use memlink_actors::checksum::Checksum;
use memlink_actors::domain::MessageId;
use memlink_actors::memory::Changes;
use memlink_actors::ports::{PortError, StreamBus};
use serde::Serialize;
use serde_json::Value;
use tokio_postgres::Transaction;
use uuid::Uuid;

use super::statements::message_statements;
use super::transport::{self, Redacted, Scope};
use super::{lock_users, rebuild};
use crate::postgres::dlq::Operator;
use crate::postgres::{classify, pool_error, PgPool};

/// What `DELETE /v1/users/{user_id}` removed.
#[derive(Debug, Default, Serialize)]
pub struct UserForgotten {
    pub facts: u64,
    pub fact_sources: u64,
    pub messages: u64,
    pub titles_reset: u64,
    pub watermarks_removed: u64,
    pub watermarks_recomputed: u64,
}

/// What `DELETE /v1/chats/{chat_id}/messages/{message_id}` removed.
#[derive(Debug, Default, Serialize)]
pub struct MessageForgotten {
    /// Statements of this message.
    pub fact_sources: u64,
    /// Facts deleted: those only this message supported (and, rarely, a fact merged back into
    /// an equal value said before the forgotten message interrupted it).
    pub facts: u64,
    /// Facts that lost this message as a source but live on through others.
    pub facts_kept: u64,
    pub messages: u64,
    pub titles_reset: u64,
    pub watermarks_removed: u64,
    pub watermarks_recomputed: u64,
}

const UPSERT_USER_TOMBSTONE: &str = "
    INSERT INTO user_tombstones (user_id, deleted_at) VALUES ($1, now())
    ON CONFLICT (user_id) DO UPDATE SET deleted_at = EXCLUDED.deleted_at
 RETURNING deleted_at";
const DELETE_USER_SOURCES: &str = "DELETE FROM fact_sources WHERE user_id = $1";
const DELETE_USER_FACTS: &str = "DELETE FROM facts WHERE user_id = $1";
const DELETE_USER_LEGACY: &str = "DELETE FROM memory_legacy_pairs WHERE user_id = $1";
const USER_MESSAGES: &str = "SELECT id, chat_id FROM messages WHERE user_id = $1";
const DELETE_MESSAGES: &str = "DELETE FROM messages WHERE id = ANY($1)";
const INSERT_FORGET_LOG: &str = "
    INSERT INTO forget_log (id, scope, user_id, chat_id, message_id, requested_at, counts, actor, channel)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

/// Forgets a user: facts, their history and sources, the user's messages (all roles: an
/// assistant reply in the user's conversation is about them too), the titles taken from
/// those messages (fallback or LLM), and the watermarks those messages were counted in; and
/// every transport copy of their text: outbox payloads, dead letters and their audit rows are
/// redacted, the stream entries deleted ([`transport::erase`]). Leaves a tombstone so
/// in-flight events for the user are dropped, and an audit row.
pub async fn forget_user(
    pool: &PgPool,
    eraser: &dyn StreamBus,
    user_id: &str,
) -> Result<(DateTime<Utc>, UserForgotten, Redacted), PortError> {
    forget_user_by(pool, eraser, user_id, None).await
}

/// [`forget_user`], audited with who asked (the console's signed-in operator).
pub async fn forget_user_by(
    pool: &PgPool,
    eraser: &dyn StreamBus,
    user_id: &str,
    by: Option<&Operator>,
) -> Result<(DateTime<Utc>, UserForgotten, Redacted), PortError> {
    let mut conn = pool.get().await.map_err(pool_error)?;
    let tx = conn.transaction().await.map_err(classify)?;
    lock_users(tx.client(), &[user_id]).await?;
    let deleted_at: DateTime<Utc> = tx
        .query_one(UPSERT_USER_TOMBSTONE, &[&user_id])
        .await
        .map_err(classify)?
        .get(0);
    let mut out = UserForgotten {
        fact_sources: tx
            .execute(DELETE_USER_SOURCES, &[&user_id])
            .await
            .map_err(classify)?,
        facts: tx
            .execute(DELETE_USER_FACTS, &[&user_id])
            .await
            .map_err(classify)?,
        ..UserForgotten::default()
    };
    tx.execute(DELETE_USER_LEGACY, &[&user_id])
        .await
        .map_err(classify)?;
    let rows = tx
        .query(USER_MESSAGES, &[&user_id])
        .await
        .map_err(classify)?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.get(0)).collect();
    let chats: Vec<Uuid> = rows
        .iter()
        .map(|r| r.get::<_, Uuid>(1))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let redacted = transport::erase(&tx, eraser, Scope::User(user_id), &ids).await?;
    let cleared = clear_titles(&tx, &ids).await?;
    out.messages = tx
        .execute(DELETE_MESSAGES, &[&ids])
        .await
        .map_err(classify)?;
    out.titles_reset = cleared.len() as u64;
    retitle(&tx, &cleared).await?;
    let (removed, recomputed) = recompute_watermarks(&tx, &chats).await?;
    out.watermarks_removed = removed;
    out.watermarks_recomputed = recomputed;
    let counts = audit_counts(&out, &redacted);
    tx.execute(
        INSERT_FORGET_LOG,
        &[
            &Uuid::new_v4(),
            &"user",
            &user_id,
            &None::<Uuid>,
            &None::<Uuid>,
            &deleted_at,
            &counts,
            &by.map(Operator::name),
            &by.map(|a| a.channel().as_str()),
        ],
    )
    .await
    .map_err(classify)?;
    tx.commit().await.map_err(classify)?;
    log::info!(target: "memlink::memory", "event=user_forgotten user_id={user_id:?} facts={} fact_sources={} messages={} titles_reset={} watermarks_removed={} watermarks_recomputed={} outbox_redacted={} dead_letters_redacted={} stream_entries_deleted={}",
        out.facts, out.fact_sources, out.messages, out.titles_reset, out.watermarks_removed, out.watermarks_recomputed,
        redacted.outbox_events, redacted.dead_letters, redacted.stream_entries_deleted);
    Ok((deleted_at, out, redacted))
}

const FIND_MESSAGE: &str = "SELECT user_id FROM messages WHERE id = $1 AND chat_id = $2";
const LOCK_MESSAGE: &str = "SELECT user_id FROM messages WHERE id = $1 AND chat_id = $2 FOR UPDATE";
const INSERT_MESSAGE_TOMBSTONE: &str = "
    INSERT INTO message_tombstones (message_id, chat_id, deleted_at) VALUES ($1, $2, now())
    ON CONFLICT (message_id) DO UPDATE SET deleted_at = EXCLUDED.deleted_at
 RETURNING deleted_at";
const EXISTING_FACTS: &str = "SELECT id FROM facts WHERE id = ANY($1)";

/// Forgets one message: the statements it made (a fact it alone supported goes; one said
/// elsewhere too lives on minus this source, and the facts around it are re-derived), its
/// fallback title, its row, and its chat's watermark is recomputed. `None` if the chat has no
/// such message.
pub async fn forget_message(
    pool: &PgPool,
    eraser: &dyn StreamBus,
    chat_id: Uuid,
    message_id: Uuid,
) -> Result<Option<(DateTime<Utc>, MessageForgotten, Redacted)>, PortError> {
    forget_message_by(pool, eraser, chat_id, message_id, None).await
}

/// [`forget_message`], audited with who asked (the console's signed-in operator).
pub async fn forget_message_by(
    pool: &PgPool,
    eraser: &dyn StreamBus,
    chat_id: Uuid,
    message_id: Uuid,
    by: Option<&Operator>,
) -> Result<Option<(DateTime<Utc>, MessageForgotten, Redacted)>, PortError> {
    let mut conn = pool.get().await.map_err(pool_error)?;
    let st = conn.statements();
    let tx = conn.transaction().await.map_err(classify)?;
    let Some(found) = tx
        .query_opt(FIND_MESSAGE, &[&message_id, &chat_id])
        .await
        .map_err(classify)?
    else {
        return Ok(None);
    };
    let user_id: String = found.get(0);
    lock_users(tx.client(), &[user_id.as_str()]).await?;
    // Re-read under the lock: a concurrent forget may have won.
    if tx
        .query_opt(LOCK_MESSAGE, &[&message_id, &chat_id])
        .await
        .map_err(classify)?
        .is_none()
    {
        return Ok(None);
    }
    let statements = message_statements(tx.client(), &[message_id])
        .await?
        .remove(&message_id)
        .unwrap_or_default();
    let rebuilt = rebuild(
        tx.client(),
        &st,
        Changes {
            removed: statements,
            ..Changes::default()
        },
    )
    .await?;
    let touched: Vec<Uuid> = rebuilt.touched_by_removal.iter().copied().collect();
    let kept = tx
        .query(EXISTING_FACTS, &[&touched])
        .await
        .map_err(classify)?
        .len() as u64;
    let ids = vec![message_id];
    let redacted = transport::erase(
        &tx,
        eraser,
        Scope::Message {
            user_id: &user_id,
            message_id,
        },
        &ids,
    )
    .await?;
    let cleared = clear_titles(&tx, &ids).await?;
    let messages = tx
        .execute(DELETE_MESSAGES, &[&ids])
        .await
        .map_err(classify)?;
    retitle(&tx, &cleared).await?;
    let (removed, recomputed) = recompute_watermarks(&tx, &[chat_id]).await?;
    let deleted_at: DateTime<Utc> = tx
        .query_one(INSERT_MESSAGE_TOMBSTONE, &[&message_id, &chat_id])
        .await
        .map_err(classify)?
        .get(0);
    let out = MessageForgotten {
        fact_sources: rebuilt.statements_removed as u64,
        facts: rebuilt.facts_deleted.len() as u64,
        facts_kept: kept,
        messages,
        titles_reset: cleared.len() as u64,
        watermarks_removed: removed,
        watermarks_recomputed: recomputed,
    };
    let counts = audit_counts(&out, &redacted);
    tx.execute(
        INSERT_FORGET_LOG,
        &[
            &Uuid::new_v4(),
            &"message",
            &user_id,
            &Some(chat_id),
            &Some(message_id),
            &deleted_at,
            &counts,
            &by.map(Operator::name),
            &by.map(|a| a.channel().as_str()),
        ],
    )
    .await
    .map_err(classify)?;
    tx.commit().await.map_err(classify)?;
    log::info!(target: "memlink::memory", "event=message_forgotten chat_id={chat_id} message_id={message_id} user_id={user_id:?} fact_sources={} facts={} facts_kept={} titles_reset={} watermarks_removed={} watermarks_recomputed={} outbox_redacted={} dead_letters_redacted={} stream_entries_deleted={}",
        out.fact_sources, out.facts, out.facts_kept, out.titles_reset, out.watermarks_removed, out.watermarks_recomputed,
        redacted.outbox_events, redacted.dead_letters, redacted.stream_entries_deleted);
    Ok(Some((deleted_at, out, redacted)))
}

/// The audit's counts: what was removed and what was redacted (numbers, never content).
fn audit_counts(removed: &impl Serialize, redacted: &Redacted) -> Value {
    let mut counts = serde_json::to_value(removed).unwrap_or(Value::Null);
    if let (Value::Object(c), Ok(r)) = (&mut counts, serde_json::to_value(redacted)) {
        c.insert("redacted".to_owned(), r);
    }
    counts
}

/// A title taken from a forgotten message is cleared: a fallback title is its text, an LLM
/// title was written from it (`llm_titles` names the message). Returns the chats that lost
/// their title.
const CLEAR_TITLES: &str = "
    UPDATE chats c SET title = NULL, title_source = NULL, title_message_at = NULL, title_message_id = NULL
     WHERE (c.title_source = 'fallback' AND c.title_message_id = ANY($1))
        OR (c.title_source = 'llm'
            AND EXISTS (SELECT 1 FROM llm_titles t WHERE t.chat_id = c.id AND t.message_id = ANY($1)))
 RETURNING c.id";

/// The earliest remaining processed user messages of a chat: the fallback title candidates,
/// in the order the worker's `OFFER_FALLBACK_TITLES` would prefer them.
const TITLE_CANDIDATES: &str = "
    SELECT id, created_at, content FROM messages
     WHERE chat_id = $1 AND role = 'user' AND processed_at IS NOT NULL
     ORDER BY created_at, id
     LIMIT 64";

const SET_TITLE: &str = "
    UPDATE chats SET title = $2, title_source = 'fallback', title_message_at = $3, title_message_id = $4
     WHERE id = $1 AND title_source IS NULL";

async fn clear_titles(tx: &Transaction<'_>, message_ids: &[Uuid]) -> Result<Vec<Uuid>, PortError> {
    Ok(tx
        .query(CLEAR_TITLES, &[&message_ids])
        .await
        .map_err(classify)?
        .into_iter()
        .map(|r| r.get(0))
        .collect())
}

/// Gives each chat the fallback title of its earliest remaining user message, if any. Runs
/// after the forgotten messages are deleted, so only other messages are candidates. A later
/// message still in flight offers itself when processed, as usual.
async fn retitle(tx: &Transaction<'_>, chats: &[Uuid]) -> Result<(), PortError> {
    for chat in chats {
        let rows = tx
            .query(TITLE_CANDIDATES, &[chat])
            .await
            .map_err(classify)?;
        for r in rows {
            let content: String = r.get(2);
            if let Some(title) = memlink_actors::title::fallback_title(&content) {
                let at: DateTime<Utc> = r.get(1);
                let id: Uuid = r.get(0);
                tx.execute(SET_TITLE, &[chat, &title, &at, &id])
                    .await
                    .map_err(classify)?;
                break;
            }
        }
    }
    Ok(())
}

const LOCK_WATERMARK_ROWS: &str =
    "SELECT chat_id FROM watermarks WHERE chat_id = ANY($1) ORDER BY chat_id FOR UPDATE";
/// Every remaining message of the chats, and whether the folder has counted it.
const REMAINING_MESSAGES: &str =
    "SELECT chat_id, id, folded_at IS NOT NULL FROM messages WHERE chat_id = ANY($1)";
const DELETE_WATERMARKS: &str = "DELETE FROM watermarks WHERE chat_id = ANY($1)";
const SET_WATERMARK: &str =
    "UPDATE watermarks SET message_count = $2, checksum = $3, updated_at = $4 WHERE chat_id = $1";

/// A watermark counts the messages the folder has folded. After messages are deleted it is
/// recomputed from the chat's remaining folded messages (count and XOR checksum); messages
/// processed but not folded yet are left for the folder, which adds them incrementally. A
/// chat with no message left loses its watermark. Returns (removed, recomputed).
///
/// The watermark rows are locked before the messages are read, so a concurrent fold either
/// committed before (its folds are seen) or waits and adds onto the recomputed value.
async fn recompute_watermarks(
    tx: &Transaction<'_>,
    chats: &[Uuid],
) -> Result<(u64, u64), PortError> {
    if chats.is_empty() {
        return Ok((0, 0));
    }
    let locked: Vec<Uuid> = tx
        .query(LOCK_WATERMARK_ROWS, &[&chats])
        .await
        .map_err(classify)?
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    if locked.is_empty() {
        return Ok((0, 0));
    }
    let mut remaining: HashMap<Uuid, Vec<MessageId>> = HashMap::new();
    for r in tx
        .query(REMAINING_MESSAGES, &[&locked])
        .await
        .map_err(classify)?
    {
        let entry = remaining.entry(r.get(0)).or_default();
        if r.get::<_, bool>(2) {
            entry.push(MessageId(r.get(1)));
        }
    }
    let empty: Vec<Uuid> = locked
        .iter()
        .filter(|c| !remaining.contains_key(c))
        .copied()
        .collect();
    if !empty.is_empty() {
        tx.execute(DELETE_WATERMARKS, &[&empty])
            .await
            .map_err(classify)?;
    }
    let now = Utc::now().timestamp();
    let mut recomputed = 0;
    for chat in locked.iter().filter(|c| remaining.contains_key(c)) {
        let folded = remaining.get(chat).map(Vec::as_slice).unwrap_or(&[]);
        let sum = Checksum::ZERO.fold(folded.iter().copied());
        tx.execute(
            SET_WATERMARK,
            &[chat, &(folded.len() as i64), &sum.0.to_vec(), &now],
        )
        .await
        .map_err(classify)?;
        recomputed += 1;
    }
    Ok((empty.len() as u64, recomputed))
}

//! The worker's transaction: a batch's effects (idempotency records, messages, statements
//! and facts, titles, watermarks) and dead letters, committed together, in four round trips
//! whatever the batch size: BEGIN; every read the batch needs; every write; COMMIT.
//!
//! SQL only: which messages are owed, repeated, conflicting or forgotten, and what they do to
//! facts, titles and watermarks, is decided in the engine (`memlink_actors::settle`,
//! `memlink_actors::memory`). This module must never commit part of a batch.

use std::collections::{BTreeSet, HashMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use memlink_actors::checksum::Checksum;
use memlink_actors::plan::{DeadLetter, EffectBatch, PlannedMessage};
use memlink_actors::ports::{ApplyOutcome, EffectStore, PortError};
use memlink_actors::settle::{
    candidate_statements, event_id_conflict, settle, Settle, StoredMessage,
};
use tokio_postgres::Transaction;
use uuid::Uuid;

use super::memory::{self, statements};
use super::pool::StatementCache;
use super::store::{insert_dead_letters, PgStore, INSERT_DEAD_LETTERS};
use super::{classify, pool_error};

const RECORD_PROCESSED_EVENTS: &str = "
    INSERT INTO processed_events (event_id, message_id, chat_id, digest, stream_entry_id)
    SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::bytea[], $5::text[])
    ON CONFLICT (event_id) DO NOTHING
 RETURNING event_id";

const PROCESSED_DIGESTS: &str =
    "SELECT event_id, digest FROM processed_events WHERE event_id = ANY($1)";

const TOMBSTONED_USERS: &str = "SELECT user_id FROM user_tombstones WHERE user_id = ANY($1)";
const TOMBSTONED_MESSAGES: &str =
    "SELECT message_id FROM message_tombstones WHERE message_id = ANY($1)";

const STORED_MESSAGES: &str = "
    SELECT id, chat_id, user_id, role, content, created_at, processed_at IS NOT NULL, processed_event_id
      FROM messages WHERE id = ANY($1)";

/// Every chat of the batch has a watermark row to lock (a new chat's starts empty; one left
/// empty is removed again in the second round trip), so two transactions folding messages of
/// one new chat wait for each other instead of both folding from zero. In chat order, like
/// every lock here.
const ENSURE_WATERMARKS: &str = "
    INSERT INTO watermarks (chat_id, message_count, checksum, updated_at)
    SELECT id, 0, '\\x0000000000000000000000000000000000000000000000000000000000000000'::bytea,
           extract(epoch FROM now())::int8
      FROM unnest($1::uuid[]) AS u(id) ORDER BY id
    ON CONFLICT (chat_id) DO NOTHING
 RETURNING chat_id";

const DROP_EMPTY_WATERMARKS: &str =
    "DELETE FROM watermarks WHERE chat_id = ANY($1) AND message_count = 0";

/// The batch's watermarks, locked (after the users' locks, like a forget) until commit.
const LOCK_WATERMARKS: &str = "
    SELECT chat_id, message_count, checksum FROM watermarks
     WHERE chat_id = ANY($1) ORDER BY chat_id FOR UPDATE";

const ENSURE_CHATS: &str = "
    INSERT INTO chats (id) SELECT id FROM unnest($1::uuid[]) AS u(id) ORDER BY id
    ON CONFLICT (id) DO NOTHING";

/// Owed messages are stored, or (sent through the chat API) marked processed, and counted in
/// their chat's watermark in this same transaction: `folded_at` with `processed_at`.
const STORE_MESSAGES: &str = "
    INSERT INTO messages (id, chat_id, user_id, role, content, created_at, processed_at, folded_at,
                          processed_event_id)
    SELECT u.id, u.chat_id, u.user_id, u.role, u.content, u.created_at, now(), now(), u.event_id
      FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::uuid[])
           AS u(id, chat_id, user_id, role, content, created_at, event_id)
     ORDER BY u.id
    ON CONFLICT (id) DO UPDATE
       SET processed_at = now(), folded_at = now(), processed_event_id = EXCLUDED.processed_event_id
     WHERE messages.processed_at IS NULL
 RETURNING id";

/// Content that reached the store for a forgotten user or message (a producer's row, or a
/// POST racing the forget) goes too. Such a message was never processed, so never counted.
const DELETE_DROPPED_MESSAGES: &str =
    "DELETE FROM messages WHERE id = ANY($1) AND processed_at IS NULL";

/// The earliest user message gives the fallback title, whatever order events arrive in.
const OFFER_FALLBACK_TITLES: &str = "
    UPDATE chats c
       SET title = u.title, title_source = 'fallback', title_message_at = u.at, title_message_id = u.message_id
      FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::uuid[]) AS u(chat_id, title, at, message_id)
     WHERE c.id = u.chat_id
       AND c.title_source IS DISTINCT FROM 'llm'
       AND (c.title_message_at IS NULL OR (u.at, u.message_id) < (c.title_message_at, c.title_message_id))";

/// Watermarks locked in the first round trip. `updated_at` is integer epoch seconds, by
/// contract.
const UPDATE_WATERMARKS: &str = "
    UPDATE watermarks w
       SET message_count = u.message_count, checksum = u.checksum, updated_at = extract(epoch FROM now())::int8
      FROM unnest($1::uuid[], $2::int8[], $3::bytea[]) AS u(chat_id, message_count, checksum)
     WHERE w.chat_id = u.chat_id";

const SETTLE_INFLIGHT: &str = "DELETE FROM inflight_batches WHERE id = $1";

/// Every statement the transaction may run, prepared before it begins.
const STATEMENTS: &[&str] = &[
    RECORD_PROCESSED_EVENTS,
    PROCESSED_DIGESTS,
    memory::LOCK_USERS,
    TOMBSTONED_USERS,
    TOMBSTONED_MESSAGES,
    STORED_MESSAGES,
    LOCK_WATERMARKS,
    ENSURE_CHATS,
    STORE_MESSAGES,
    DELETE_DROPPED_MESSAGES,
    OFFER_FALLBACK_TITLES,
    ENSURE_WATERMARKS,
    DROP_EMPTY_WATERMARKS,
    UPDATE_WATERMARKS,
    SETTLE_INFLIGHT,
    INSERT_DEAD_LETTERS,
];

#[async_trait]
impl EffectStore for PgStore {
    async fn apply_batch(&self, batch: &EffectBatch) -> Result<ApplyOutcome, PortError> {
        let mut conn = self.pool().get().await.map_err(pool_error)?;
        let st = conn.statements();
        for list in [STATEMENTS, statements::READS, statements::WRITES] {
            st.ensure(&**conn, list).await.map_err(classify)?;
        }
        let tx = conn.transaction().await.map_err(classify)?;
        let messages = &batch.messages;
        let candidates = candidate_statements(messages);

        // Round trip 1: every read, the users' locks first (the memory reads and the
        // watermark locks happen under them).
        let users: Vec<&str> = messages
            .iter()
            .map(|m| m.event.user_id.as_str())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let chats: Vec<Uuid> = messages
            .iter()
            .map(|m| m.event.chat_id.0)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let ids: Vec<Uuid> = messages.iter().map(|m| m.event.message_id.0).collect();
        let mut created = HashSet::new();
        let (locked, recorded, gone_users, gone_messages, stored, watermarks, memory_reads) = futures_util::try_join!(
            lock_users(&tx, &st, &users),
            record_processed(&tx, &st, messages),
            column_set::<String>(&tx, &st, TOMBSTONED_USERS, &users),
            column_set::<Uuid>(&tx, &st, TOMBSTONED_MESSAGES, &ids),
            stored_messages(&tx, &st, &ids),
            lock_watermarks(&tx, &st, &chats, &mut created),
            statements::first_reads(&tx, &st, &candidates, statements::Identities::New),
        )?;
        let () = locked;
        let read = Settle {
            fresh: recorded,
            forgotten_users: gone_users,
            forgotten_messages: gone_messages,
            stored,
            watermarks,
        };
        let now = Utc::now();
        let settled = settle(messages, &read, memlink_actors::worker::NAME, now);
        let mut outcome = ApplyOutcome {
            applied: settled.owed.len(),
            duplicates: settled.duplicates,
            dead_lettered: batch.dead_letters.clone(),
        };
        outcome
            .dead_lettered
            .extend(settled.dead_letters.iter().cloned());
        // Events recorded before: a duplicate, or an event id reused for another payload.
        let repeated: Vec<&PlannedMessage> = messages
            .iter()
            .filter(|m| !read.fresh.contains(&m.event.event_id.0))
            .collect();
        if !repeated.is_empty() {
            let (dups, letters) = compare_digests(&tx, &st, &repeated, now).await?;
            outcome.duplicates += dups;
            outcome.dead_lettered.extend(letters);
        }
        for (m, why) in &settled.dropped {
            log::info!(target: "memlink::worker", "event={} event_id={} message_id={} chat_id={} user_id={:?}",
                why.event(), m.event.event_id, m.event.message_id, m.event.chat_id, m.event.user_id.as_str());
        }
        let writes = statements::plan(&tx, &st, &settled.statements, memory_reads).await?;

        // Round trip 2: every write, in this order on the connection.
        let owed = &settled.owed;
        let owed_chats: Vec<Uuid> = owed
            .iter()
            .map(|m| m.event.chat_id.0)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let dropped: Vec<Uuid> = settled
            .dropped
            .iter()
            .map(|(m, _)| m.event.message_id.0)
            .collect();
        let letters_stmt = st.cached(INSERT_DEAD_LETTERS)?;
        let no_chats = HashMap::new();
        // Watermark rows this transaction created for chats that end up with nothing folded.
        let empty: Vec<Uuid> = created
            .iter()
            .filter(|c| !settled.watermarks.contains_key(*c))
            .copied()
            .collect();
        let (_, stored_now, _, _, _, _, _, _, _) = futures_util::try_join!(
            execute(&tx, &st, ENSURE_CHATS, &owed_chats),
            store_messages(&tx, &st, owed),
            execute(&tx, &st, DELETE_DROPPED_MESSAGES, &dropped),
            statements::write(&tx, &st, &writes),
            offer_titles(&tx, &st, &settled.titles),
            upsert_watermarks(&tx, &st, &settled.watermarks),
            execute(&tx, &st, DROP_EMPTY_WATERMARKS, &empty),
            insert_dead_letters(&tx, &letters_stmt, &outcome.dead_lettered, &no_chats),
            settle_inflight(&tx, &st, batch.inflight),
        )?;
        if stored_now != owed.len() {
            // Another transaction stored one of these messages since the reads (two events of
            // one message id, under different users' locks): decide again on fresh reads.
            return Err(PortError::transient(
                "postgres",
                "a message of the batch was stored concurrently; retrying the batch",
            ));
        }
        tx.commit().await.map_err(classify)?;
        let created: Vec<DateTime<Utc>> = owed.iter().map(|m| m.event.created_at).collect();
        crate::telemetry::effects_committed(&created);
        Ok(outcome)
    }
}

async fn lock_users(
    tx: &Transaction<'_>,
    st: &StatementCache,
    users: &[&str],
) -> Result<(), PortError> {
    if users.is_empty() {
        return Ok(());
    }
    tx.query(&st.cached(memory::LOCK_USERS)?, &[&users])
        .await
        .map_err(classify)?;
    Ok(())
}

/// Records the batch's events; returns the ones recorded now (the others were before).
async fn record_processed(
    tx: &Transaction<'_>,
    st: &StatementCache,
    messages: &[PlannedMessage],
) -> Result<HashSet<Uuid>, PortError> {
    if messages.is_empty() {
        return Ok(HashSet::new());
    }
    let event_ids: Vec<Uuid> = messages.iter().map(|m| m.event.event_id.0).collect();
    let message_ids: Vec<Uuid> = messages.iter().map(|m| m.event.message_id.0).collect();
    let chat_ids: Vec<Uuid> = messages.iter().map(|m| m.event.chat_id.0).collect();
    let digests: Vec<Vec<u8>> = messages.iter().map(|m| m.digest.to_vec()).collect();
    let entries: Vec<Option<String>> = messages.iter().map(|m| m.stream_entry_id.clone()).collect();
    Ok(tx
        .query(
            &st.cached(RECORD_PROCESSED_EVENTS)?,
            &[&event_ids, &message_ids, &chat_ids, &digests, &entries],
        )
        .await
        .map_err(classify)?
        .into_iter()
        .map(|r| r.get(0))
        .collect())
}

/// Events recorded before: the same digest is a duplicate, another is a reused event id.
async fn compare_digests(
    tx: &Transaction<'_>,
    st: &StatementCache,
    repeated: &[&PlannedMessage],
    now: DateTime<Utc>,
) -> Result<(usize, Vec<DeadLetter>), PortError> {
    let ids: Vec<Uuid> = repeated.iter().map(|m| m.event.event_id.0).collect();
    let stored: HashMap<Uuid, Vec<u8>> = tx
        .query(&st.cached(PROCESSED_DIGESTS)?, &[&ids])
        .await
        .map_err(classify)?
        .into_iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let mut duplicates = 0;
    let mut letters = Vec::new();
    for m in repeated {
        let same = stored
            .get(&m.event.event_id.0)
            .is_some_and(|d| d.as_slice() == m.digest.as_slice());
        if same {
            duplicates += 1;
            continue;
        }
        letters.push(event_id_conflict(m, memlink_actors::worker::NAME, now));
    }
    Ok((duplicates, letters))
}

/// One column of a query over a list, as a set.
async fn column_set<T>(
    tx: &Transaction<'_>,
    st: &StatementCache,
    sql: &'static str,
    keys: &(dyn tokio_postgres::types::ToSql + Sync),
) -> Result<HashSet<T>, PortError>
where
    T: for<'r> tokio_postgres::types::FromSql<'r> + std::hash::Hash + Eq,
{
    Ok(tx
        .query(&st.cached(sql)?, &[keys])
        .await
        .map_err(classify)?
        .into_iter()
        .map(|r| r.get(0))
        .collect())
}

async fn stored_messages(
    tx: &Transaction<'_>,
    st: &StatementCache,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, StoredMessage>, PortError> {
    Ok(tx
        .query(&st.cached(STORED_MESSAGES)?, &[&ids])
        .await
        .map_err(classify)?
        .into_iter()
        .map(|r| {
            (
                r.get(0),
                StoredMessage {
                    chat_id: r.get(1),
                    user_id: r.get(2),
                    role: r.get(3),
                    content: r.get(4),
                    created_at: r.get(5),
                    processed: r.get(6),
                    processed_by: r.get(7),
                },
            )
        })
        .collect())
}

/// Ensures, then locks, the chats' watermarks; `created` gets the chats whose row this made.
async fn lock_watermarks(
    tx: &Transaction<'_>,
    st: &StatementCache,
    chats: &[Uuid],
    created: &mut HashSet<Uuid>,
) -> Result<HashMap<Uuid, (i64, Checksum)>, PortError> {
    if chats.is_empty() {
        return Ok(HashMap::new());
    }
    let (ensure, lock) = (st.cached(ENSURE_WATERMARKS)?, st.cached(LOCK_WATERMARKS)?);
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&chats];
    let (made, rows) =
        futures_util::try_join!(tx.query(&ensure, &params), tx.query(&lock, &params))
            .map_err(classify)?;
    created.extend(made.iter().map(|r| r.get::<_, Uuid>(0)));
    Ok(rows
        .into_iter()
        .map(|r| {
            let sum: Vec<u8> = r.get(2);
            (
                r.get(0),
                (r.get(1), Checksum::from_slice(&sum).unwrap_or_default()),
            )
        })
        .collect())
}

async fn execute(
    tx: &Transaction<'_>,
    st: &StatementCache,
    sql: &'static str,
    ids: &[Uuid],
) -> Result<u64, PortError> {
    if ids.is_empty() {
        return Ok(0);
    }
    tx.execute(&st.cached(sql)?, &[&ids])
        .await
        .map_err(classify)
}

/// Stores the owed messages; returns how many rows it wrote.
async fn store_messages(
    tx: &Transaction<'_>,
    st: &StatementCache,
    owed: &[&PlannedMessage],
) -> Result<usize, PortError> {
    if owed.is_empty() {
        return Ok(0);
    }
    let ids: Vec<Uuid> = owed.iter().map(|m| m.event.message_id.0).collect();
    let chats: Vec<Uuid> = owed.iter().map(|m| m.event.chat_id.0).collect();
    let users: Vec<&str> = owed.iter().map(|m| m.event.user_id.as_str()).collect();
    let roles: Vec<&str> = owed.iter().map(|m| m.event.role.as_str()).collect();
    let contents: Vec<&str> = owed.iter().map(|m| m.event.content.as_str()).collect();
    let created: Vec<DateTime<Utc>> = owed.iter().map(|m| m.event.created_at).collect();
    let events: Vec<Uuid> = owed.iter().map(|m| m.event.event_id.0).collect();
    Ok(tx
        .query(
            &st.cached(STORE_MESSAGES)?,
            &[&ids, &chats, &users, &roles, &contents, &created, &events],
        )
        .await
        .map_err(classify)?
        .len())
}

async fn offer_titles(
    tx: &Transaction<'_>,
    st: &StatementCache,
    titles: &std::collections::BTreeMap<Uuid, &PlannedMessage>,
) -> Result<(), PortError> {
    if titles.is_empty() {
        return Ok(());
    }
    let chats: Vec<Uuid> = titles.keys().copied().collect();
    let texts: Vec<&str> = titles
        .values()
        .map(|m| m.title_candidate.as_deref().unwrap_or_default())
        .collect();
    let at: Vec<DateTime<Utc>> = titles.values().map(|m| m.event.created_at).collect();
    let mids: Vec<Uuid> = titles.values().map(|m| m.event.message_id.0).collect();
    tx.execute(
        &st.cached(OFFER_FALLBACK_TITLES)?,
        &[&chats, &texts, &at, &mids],
    )
    .await
    .map_err(classify)?;
    Ok(())
}

/// Writes the folded watermarks (their rows exist and are locked).
async fn upsert_watermarks(
    tx: &Transaction<'_>,
    st: &StatementCache,
    watermarks: &std::collections::BTreeMap<Uuid, (i64, Checksum)>,
) -> Result<(), PortError> {
    if watermarks.is_empty() {
        return Ok(());
    }
    let chats: Vec<Uuid> = watermarks.keys().copied().collect();
    let counts: Vec<i64> = watermarks.values().map(|(n, _)| *n).collect();
    let sums: Vec<Vec<u8>> = watermarks.values().map(|(_, s)| s.0.to_vec()).collect();
    tx.execute(&st.cached(UPDATE_WATERMARKS)?, &[&chats, &counts, &sums])
        .await
        .map_err(classify)?;
    Ok(())
}

async fn settle_inflight(
    tx: &Transaction<'_>,
    st: &StatementCache,
    marker: Option<Uuid>,
) -> Result<(), PortError> {
    let Some(marker) = marker else {
        return Ok(());
    };
    tx.execute(&st.cached(SETTLE_INFLIGHT)?, &[&marker])
        .await
        .map_err(classify)?;
    Ok(())
}

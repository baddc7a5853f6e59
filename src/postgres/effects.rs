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
use tokio_postgres::types::Type;
use tokio_postgres::Client;
use uuid::Uuid;

use super::memory::{self, statements};
use super::pool::{PipelinedTx, StatementCache};
use super::store::{insert_dead_letters, PgStore, INSERT_DEAD_LETTERS};
use super::{classify, pool_error};

const RECORD_PROCESSED_EVENTS: &str = "
    INSERT INTO processed_events (event_id, message_id, chat_id, digest, stream_entry_id)
    SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::bytea[], $5::text[])
    ON CONFLICT (event_id) DO NOTHING
 RETURNING event_id";

const PROCESSED_DIGESTS: &str =
    "SELECT event_id, digest FROM processed_events WHERE event_id = ANY($1)";

/// Forgotten users (kind 'u') and messages (kind 'm') among the batch's.
const TOMBSTONES: &str = "
    SELECT 'u', user_id, NULL::uuid FROM user_tombstones WHERE user_id = ANY($1)
    UNION ALL
    SELECT 'm', NULL, message_id FROM message_tombstones WHERE message_id = ANY($2)";

/// The batch's messages stored before (a redelivery, or another event of the same message).
///
/// One primary-key probe per id, in a lateral subquery that `OFFSET 0` keeps from being
/// flattened: as `id = ANY($1)` the planner read the whole table for a batch of 500 ids until
/// the table was ten times larger than that (14 ms a batch at 50,000 messages, and growing with
/// them).
pub const STORED_MESSAGES: &str = "
    SELECT m.id, m.chat_id, m.user_id, m.role, m.content, m.created_at, m.processed_at IS NOT NULL,
           m.processed_event_id
      FROM unnest($1::uuid[]) AS u(id)
     CROSS JOIN LATERAL (SELECT * FROM messages WHERE id = u.id OFFSET 0) m";

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

/// The owed messages' chats exist (a message row needs its chat), and each gets the title
/// its earliest user message offers, if none earlier or from the LLM holds it: whatever order
/// events arrive in. In chat order.
const UPSERT_CHATS: &str = "
    INSERT INTO chats AS c (id, title, title_source, title_message_at, title_message_id)
    SELECT u.id, u.title, CASE WHEN u.title IS NULL THEN NULL ELSE 'fallback' END, u.at, u.message_id
      FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::uuid[]) AS u(id, title, at, message_id)
     ORDER BY u.id
    ON CONFLICT (id) DO UPDATE
       SET title = EXCLUDED.title, title_source = 'fallback', title_message_at = EXCLUDED.title_message_at,
           title_message_id = EXCLUDED.title_message_id
     WHERE EXCLUDED.title IS NOT NULL
       AND c.title_source IS DISTINCT FROM 'llm'
       AND (c.title_message_at IS NULL
            OR (EXCLUDED.title_message_at, EXCLUDED.title_message_id) < (c.title_message_at, c.title_message_id))";

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

/// Watermarks locked in the first round trip. `updated_at` is integer epoch seconds, by
/// contract.
/// An upsert, though every row exists: its arbiter is the primary key, so the plan is index
/// lookups whatever the table's statistics say (a cached generic UPDATE ... FROM plan chose
/// sequential scans while the table was young).
const UPDATE_WATERMARKS: &str = "
    INSERT INTO watermarks AS w (chat_id, message_count, checksum, updated_at)
    SELECT u.chat_id, u.message_count, u.checksum, extract(epoch FROM now())::int8
      FROM unnest($1::uuid[], $2::int8[], $3::bytea[]) AS u(chat_id, message_count, checksum)
    ON CONFLICT (chat_id) DO UPDATE
       SET message_count = EXCLUDED.message_count, checksum = EXCLUDED.checksum,
           updated_at = EXCLUDED.updated_at";

/// The outbox rows of dropped events (a producer's row for a forgotten user, or a POST that
/// raced the forget) keep no text: the engine's redacted payload replaces theirs.
const REDACT_DROPPED_OUTBOX: &str = "
    UPDATE outbox_events o SET payload = u.payload
      FROM unnest($1::uuid[], $2::jsonb[]) AS u(id, payload)
     WHERE o.id = u.id";

const SETTLE_INFLIGHT: &str = "DELETE FROM inflight_batches WHERE id = $1";

/// Every statement the transaction may run, prepared before it begins.
const STATEMENTS: &[&str] = &[
    RECORD_PROCESSED_EVENTS,
    PROCESSED_DIGESTS,
    memory::LOCK_USERS,
    TOMBSTONES,
    UPSERT_CHATS,
    STORE_MESSAGES,
    DELETE_DROPPED_MESSAGES,
    ENSURE_WATERMARKS,
    DROP_EMPTY_WATERMARKS,
    UPDATE_WATERMARKS,
    SETTLE_INFLIGHT,
    INSERT_DEAD_LETTERS,
    REDACT_DROPPED_OUTBOX,
];

#[async_trait]
impl EffectStore for PgStore {
    async fn apply_batch(&self, batch: &EffectBatch) -> Result<ApplyOutcome, PortError> {
        let mut conn = self.pool().get().await.map_err(pool_error)?;
        let st = conn.statements();
        for list in [STATEMENTS, statements::READS, statements::WRITES] {
            st.ensure(&**conn, list).await.map_err(classify)?;
        }
        let tx = conn.pipelined();
        match effects(&tx, &st, batch).await {
            Ok((outcome, created)) => {
                tx.commit().await?;
                crate::telemetry::effects_committed(&created);
                Ok(outcome)
            }
            Err(e) => Err(tx.abandon(e).await),
        }
    }
}

/// The batch's effects in `tx`, in four round trips at most: BEGIN with every read; the
/// memory's second reads, if it needs any; every write; and the caller's COMMIT. Returns the
/// outcome and the owed events' creation times, for the latency metric once committed.
async fn effects(
    tx: &PipelinedTx<'_>,
    st: &StatementCache,
    batch: &EffectBatch,
) -> Result<(ApplyOutcome, Vec<DateTime<Utc>>), PortError> {
    let db = tx.client();
    let messages = &batch.messages;
    let candidates = candidate_statements(messages);

    // Round trip 1: every read, the users' locks first (the memory reads and the
    // watermark locks happen under them).
    // The users of the batch's messages, and of its dead letters (a malformed event of a
    // user forgotten meanwhile keeps no text): locked, like a forget, so that either the
    // forget sees what this commits, or this sees the tombstone.
    let letter_users: Vec<String> = batch
        .dead_letters
        .iter()
        .filter_map(memlink_actors::forget::letter_user)
        .collect();
    let users: Vec<&str> = messages
        .iter()
        .map(|m| m.event.user_id.as_str())
        .chain(letter_users.iter().map(String::as_str))
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
    // BEGIN goes out with them.
    let (locked, recorded, (gone_users, gone_messages), stored, watermarks, memory_reads) = tx
        .begin_with("BEGIN", async {
            futures_util::try_join!(
                lock_users(db, st, &users),
                record_processed(db, st, messages),
                tombstones(db, st, &users, &ids),
                stored_messages(db, &ids),
                lock_watermarks(db, st, &chats, &mut created),
                statements::first_reads(db, st, &candidates, statements::Identities::New),
            )
        })
        .await?;
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
        forgotten_entries: settled
            .dropped
            .iter()
            .filter_map(|(m, _)| m.stream_entry_id.clone())
            .collect(),
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
        let (dups, letters) = compare_digests(db, st, &repeated, now).await?;
        outcome.duplicates += dups;
        outcome.dead_lettered.extend(letters);
    }
    let gone = memlink_actors::forget::redact_letters_of_forgotten(
        &mut outcome.dead_lettered,
        &read.forgotten_users,
    );
    let gone_entries: Vec<String> = gone
        .iter()
        .filter_map(|&i| outcome.dead_lettered.get(i))
        .filter(|d| d.source == memlink_actors::plan::Source::Stream)
        .map(|d| d.source_ref.clone())
        .collect();
    outcome.forgotten_entries.extend(gone_entries);
    for (m, why) in &settled.dropped {
        log::info!(target: "memlink::worker", "event={} event_id={} message_id={} chat_id={} user_id={:?}",
            why.event(), m.event.event_id, m.event.message_id, m.event.chat_id, m.event.user_id.as_str());
    }
    let writes = statements::plan(db, st, &settled.statements, memory_reads).await?;

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
    let dropped_events: Vec<Uuid> = settled
        .dropped
        .iter()
        .map(|(m, _)| m.event.event_id.0)
        .collect();
    let redacted: Vec<serde_json::Value> = settled
        .dropped
        .iter()
        .map(|(m, _)| memlink_actors::forget::redacted_event_payload(&m.event))
        .collect();
    let (_, stored_now, _, _, _, _, _, _, _) = futures_util::try_join!(
        upsert_chats(db, st, &owed_chats, &settled.titles),
        store_messages(db, st, owed),
        execute(db, st, DELETE_DROPPED_MESSAGES, &dropped),
        redact_dropped_outbox(db, st, &dropped_events, &redacted),
        statements::write(db, st, &writes),
        upsert_watermarks(db, st, &settled.watermarks),
        execute(db, st, DROP_EMPTY_WATERMARKS, &empty),
        insert_dead_letters(db, &letters_stmt, &outcome.dead_lettered, &no_chats),
        settle_inflight(db, st, batch.inflight),
    )?;
    if stored_now != owed.len() {
        // Another transaction stored one of these messages since the reads (two events of
        // one message id, under different users' locks): decide again on fresh reads.
        return Err(PortError::transient(
            "postgres",
            "a message of the batch was stored concurrently; retrying the batch",
        ));
    }
    let created: Vec<DateTime<Utc>> = owed.iter().map(|m| m.event.created_at).collect();
    Ok((outcome, created))
}

async fn lock_users(tx: &Client, st: &StatementCache, users: &[&str]) -> Result<(), PortError> {
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
    tx: &Client,
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
    tx: &Client,
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

/// The forgotten users and messages among the batch's.
async fn tombstones(
    tx: &Client,
    st: &StatementCache,
    users: &[&str],
    messages: &[Uuid],
) -> Result<(HashSet<String>, HashSet<Uuid>), PortError> {
    let mut gone_users = HashSet::new();
    let mut gone_messages = HashSet::new();
    for r in tx
        .query(&st.cached(TOMBSTONES)?, &[&users, &messages])
        .await
        .map_err(classify)?
    {
        match r.get::<_, &str>(0) {
            "u" => {
                gone_users.insert(r.get(1));
            }
            _ => {
                gone_messages.insert(r.get(2));
            }
        }
    }
    Ok((gone_users, gone_messages))
}

async fn stored_messages(
    tx: &Client,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, StoredMessage>, PortError> {
    Ok(tx
        // Planned for the ids at hand each time (see STORED_MESSAGES).
        .query_typed(STORED_MESSAGES, &[(&ids, Type::UUID_ARRAY)])
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
    tx: &Client,
    st: &StatementCache,
    chats: &[Uuid],
    created: &mut HashSet<Uuid>,
) -> Result<HashMap<Uuid, (i64, Checksum)>, PortError> {
    if chats.is_empty() {
        return Ok(HashMap::new());
    }
    let ensure = st.cached(ENSURE_WATERMARKS)?;
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&chats];
    let typed: [(&(dyn tokio_postgres::types::ToSql + Sync), Type); 1] =
        [(&chats, Type::UUID_ARRAY)];
    let (made, rows) = futures_util::try_join!(
        tx.query(&ensure, &params),
        // Planned for the chats at hand each time (see STORED_MESSAGES).
        tx.query_typed(LOCK_WATERMARKS, &typed)
    )
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
    tx: &Client,
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
    tx: &Client,
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

async fn upsert_chats(
    tx: &Client,
    st: &StatementCache,
    chats: &[Uuid],
    titles: &std::collections::BTreeMap<Uuid, &PlannedMessage>,
) -> Result<(), PortError> {
    if chats.is_empty() {
        return Ok(());
    }
    let offer = |c: &Uuid| titles.get(c).filter(|m| m.title_candidate.is_some());
    let texts: Vec<Option<&str>> = chats
        .iter()
        .map(|c| offer(c).and_then(|m| m.title_candidate.as_deref()))
        .collect();
    let at: Vec<Option<DateTime<Utc>>> = chats
        .iter()
        .map(|c| offer(c).map(|m| m.event.created_at))
        .collect();
    let mids: Vec<Option<Uuid>> = chats
        .iter()
        .map(|c| offer(c).map(|m| m.event.message_id.0))
        .collect();
    tx.execute(&st.cached(UPSERT_CHATS)?, &[&chats, &texts, &at, &mids])
        .await
        .map_err(classify)?;
    Ok(())
}

/// Writes the folded watermarks (their rows exist and are locked).
async fn upsert_watermarks(
    tx: &Client,
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

async fn redact_dropped_outbox(
    tx: &Client,
    st: &StatementCache,
    events: &[Uuid],
    payloads: &[serde_json::Value],
) -> Result<u64, PortError> {
    if events.is_empty() {
        return Ok(0);
    }
    tx.execute(&st.cached(REDACT_DROPPED_OUTBOX)?, &[&events, &payloads])
        .await
        .map_err(classify)
}

async fn settle_inflight(
    tx: &Client,
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

//! The engine's storage ports on Postgres: the outbox (relay), the memory graph (worker) and
//! the watermarks (watermark folder).
//!
//! Each port call is one transaction. Effects are keyed so that applying the same event twice
//! changes nothing; this module must never commit part of a batch.

use std::collections::{BTreeMap, HashMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use memlink_actors::checksum::Checksum;
use memlink_actors::decode::OutboxRow;
use memlink_actors::domain::MessageId;
use memlink_actors::plan::DeadLetter;
use memlink_actors::ports::{
    ClaimWork, ClaimedRow, FoldOutcome, OutboxStore, PortError, Settlement, UnreadableRow,
    WatermarkStore,
};
use uuid::Uuid;

use super::{classify, pool_error, PgPool};

/// An outbox row's place in claim order: (created_at, id).
type OutboxPosition = (DateTime<Utc>, Uuid);

/// The Postgres implementation of every storage port.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// Where the last full claim ended, while a backlog is being worked through (see
    /// [`CLAIM_PENDING_AFTER`]).
    claimed_up_to: std::sync::Arc<std::sync::Mutex<Option<OutboxPosition>>>,
}

impl PgStore {
    pub fn new(pool: PgPool) -> PgStore {
        PgStore {
            pool,
            claimed_up_to: Default::default(),
        }
    }

    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// The payload comes back as text (see [`OutboxRow`]), in outbox order. The rows stay locked
/// by the claiming transaction; other relays skip them.
const CLAIM_PENDING: &str = "
    SELECT id, aggregate_id, event_type, payload::text, created_at FROM outbox_events
     WHERE status = 'pending'
     ORDER BY created_at, id
     LIMIT $1
       FOR UPDATE SKIP LOCKED";

/// The same, past where the previous full claim ended. While a backlog is worked through, the
/// rows just relayed leave dead entries at the head of the pending index that every claim from
/// the start would wade through again (their versions are not yet dead to every snapshot).
/// A row committed late with an older position is not lost: once a claim comes back short the
/// next one starts from the head again.
const CLAIM_PENDING_AFTER: &str = "
    SELECT id, aggregate_id, event_type, payload::text, created_at FROM outbox_events
     WHERE status = 'pending' AND (created_at, id) > ($2, $3)
     ORDER BY created_at, id
     LIMIT $1
       FOR UPDATE SKIP LOCKED";

const MARK_RELAYED: &str = "
    UPDATE outbox_events o
       SET status = 'relayed', relayed_at = now(), stream_id = u.stream_id, attempts = o.attempts + 1
      FROM unnest($1::uuid[], $2::text[]) AS u(id, stream_id)
     WHERE o.id = u.id";

const MARK_DEAD: &str = "
    UPDATE outbox_events SET status = 'dead', attempts = attempts + 1 WHERE id = ANY($1)";

/// Every statement a relay round may run, prepared once per connection.
const RELAY_STATEMENTS: &[&str] = &[
    CLAIM_PENDING,
    CLAIM_PENDING_AFTER,
    MARK_RELAYED,
    MARK_DEAD,
    INSERT_DEAD_LETTERS,
];

#[async_trait]
impl OutboxStore for PgStore {
    async fn relay_batch<'a>(
        &'a self,
        limit: usize,
        work: ClaimWork<'a>,
    ) -> Result<Option<Settlement>, PortError> {
        let mut conn = self.pool.get().await.map_err(pool_error)?;
        let st = conn.statements();
        st.ensure(&**conn, RELAY_STATEMENTS)
            .await
            .map_err(classify)?;
        let tx = conn.pipelined();
        let db = tx.client();
        let after = *self.claimed_up_to.lock().unwrap_or_else(|p| p.into_inner());
        let claim = async {
            match after {
                Some((at, id)) => {
                    db.query(
                        &st.cached(CLAIM_PENDING_AFTER)?,
                        &[&(limit as i64), &at, &id],
                    )
                    .await
                }
                None => {
                    db.query(&st.cached(CLAIM_PENDING)?, &[&(limit as i64)])
                        .await
                }
            }
            .map_err(classify)
        };
        // A relayed mark lost with a crash of PostgreSQL itself only relays those rows again
        // (the worker drops the duplicates), and the worker's own commit, which waits for the
        // disk, flushes this one before any effect of these events is durable.
        let rows = tx.begin_with(super::BEGIN_ASYNC_COMMIT, claim).await?;
        let full = rows.len() >= limit;
        let last = rows
            .last()
            .and_then(|r| Some((r.try_get(4).ok()?, r.try_get(0).ok()?)));
        if rows.is_empty() {
            tx.commit().await?;
            *self.claimed_up_to.lock().unwrap_or_else(|p| p.into_inner()) = None;
            return Ok(None);
        }
        let settlement = match work(rows.iter().map(read_outbox_row).collect()).await {
            Ok(s) => s,
            // Rolled back, the rows are pending again.
            Err(e) => return Err(tx.abandon(e).await),
        };
        let (ids, stream_ids): (Vec<Uuid>, Vec<String>) =
            settlement.relayed.iter().cloned().unzip();
        if settlement.rejected.is_empty() && !ids.is_empty() {
            // The common round: one write, and the COMMIT behind it in the same flight.
            tx.commit_with(&st.cached(MARK_RELAYED)?, &[&ids, &stream_ids])
                .await?;
        } else {
            let relayed = async {
                if ids.is_empty() {
                    return Ok(());
                }
                db.execute(&st.cached(MARK_RELAYED)?, &[&ids, &stream_ids])
                    .await
                    .map(|_| ())
                    .map_err(classify)
            };
            let rejected = async {
                let dead: Vec<Uuid> = settlement.rejected.iter().map(|r| r.id).collect();
                let mut letters: Vec<DeadLetter> = settlement
                    .rejected
                    .iter()
                    .map(|r| r.dead_letter.clone())
                    .collect();
                let redacted_rows = redact_forgotten_rows(db, &mut letters).await?;
                db.execute(&st.cached(MARK_DEAD)?, &[&dead])
                    .await
                    .map_err(classify)?;
                if !redacted_rows.0.is_empty() {
                    db.execute(REDACT_ROWS, &[&redacted_rows.0, &redacted_rows.1])
                        .await
                        .map_err(classify)?;
                }
                insert_dead_letters(
                    db,
                    &st.cached(INSERT_DEAD_LETTERS)?,
                    &letters,
                    &HashMap::new(),
                )
                .await
            };
            // Several writes: each is checked before the COMMIT goes out.
            if let Err(e) = futures_util::try_join!(relayed, rejected) {
                return Err(tx.abandon(e).await);
            }
            tx.commit().await?;
        }
        // Only a committed claim moves the position; a short one sends the next to the head.
        *self.claimed_up_to.lock().unwrap_or_else(|p| p.into_inner()) =
            if full { last } else { None };
        Ok(Some(settlement))
    }
}

/// Forgotten users among these.
const FORGOTTEN_USERS: &str = "SELECT user_id FROM user_tombstones WHERE user_id = ANY($1)";

const REDACT_ROWS: &str = "
    UPDATE outbox_events o SET payload = u.payload
      FROM unnest($1::uuid[], $2::jsonb[]) AS u(id, payload)
     WHERE o.id = u.id";

/// Refused rows of users forgotten before this claim keep no text (a malformed row a producer
/// wrote after the forget): their letters are redacted as a forget would have left them, and
/// the rows' payloads with them. Returns the rows to redact, with their redacted payloads. A
/// forget running meanwhile waits for this claim's row locks and then redacts what it wrote.
async fn redact_forgotten_rows(
    tx: &tokio_postgres::Client,
    letters: &mut [DeadLetter],
) -> Result<(Vec<Uuid>, Vec<serde_json::Value>), PortError> {
    let users: Vec<String> = letters
        .iter()
        .filter_map(memlink_actors::forget::letter_user)
        .collect();
    if users.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let forgotten: std::collections::HashSet<String> = tx
        .query(FORGOTTEN_USERS, &[&users])
        .await
        .map_err(classify)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if forgotten.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let mut rows = (Vec::new(), Vec::new());
    for i in memlink_actors::forget::redact_letters_of_forgotten(letters, &forgotten) {
        let Some(d) = letters.get(i) else { continue };
        let Ok(id) = d.source_ref.parse::<Uuid>() else {
            continue;
        };
        let payload = d
            .payload
            .as_deref()
            .and_then(|p| serde_json::from_slice(p).ok())
            .unwrap_or_else(|| {
                serde_json::Value::String(memlink_actors::forget::REDACTED.to_owned())
            });
        rows.0.push(id);
        rows.1.push(payload);
    }
    Ok(rows)
}

/// Reads an outbox row's columns (`id, aggregate_id, event_type, payload::text`) one by one,
/// so a column the driver cannot decode makes this one row unreadable, not the whole claim.
pub(crate) fn read_outbox_row(r: &tokio_postgres::Row) -> ClaimedRow {
    let id: Uuid = match r.try_get(0) {
        Ok(id) => id,
        // The primary key is a NOT NULL uuid: a failure here is a driver or schema fault.
        Err(e) => {
            return Err(UnreadableRow {
                id: Uuid::nil(),
                detail: format!("id: {e}"),
            })
        }
    };
    let column = |i: usize, name: &str| -> Result<String, UnreadableRow> {
        r.try_get::<_, String>(i).map_err(|e| UnreadableRow {
            id,
            detail: format!("{name}: the column cannot be read ({e})"),
        })
    };
    Ok(OutboxRow {
        id,
        aggregate_id: column(1, "aggregate_id")?,
        event_type: column(2, "event_type")?,
        payload: column(3, "payload")?,
    })
}

pub(crate) const INSERT_DEAD_LETTERS: &str = "
    INSERT INTO dead_letters (id, received_at, source, source_ref, event_id, event_type, reason, detail,
                              raw, raw_len, chat_id, delivery_count, first_seen, last_seen, actor, payload)
    SELECT u.id, u.received_at, u.source, u.source_ref, u.event_id, u.event_type, u.reason, u.detail,
           u.raw, u.raw_len, u.chat_id, u.delivery_count, u.received_at, u.received_at, u.actor, u.payload
      FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                  $8::text[], $9::bytea[], $10::int8[], $11::uuid[], $12::int8[], $13::text[], $14::bytea[])
           AS u(id, received_at, source, source_ref, event_id, event_type, reason, detail, raw, raw_len,
                chat_id, delivery_count, actor, payload)
    ON CONFLICT (source, source_ref) DO UPDATE
       SET last_seen = EXCLUDED.last_seen,
           delivery_count = GREATEST(dead_letters.delivery_count, EXCLUDED.delivery_count),
           -- An outbox row refused again after a replay reset it (a relay of another version
           -- disagreeing with the replay's validation) is a new failure: dead again, as it is now.
           status = CASE WHEN dead_letters.source = 'outbox' AND dead_letters.status = 'replayed'
                         THEN 'dead' ELSE dead_letters.status END,
           reason = CASE WHEN dead_letters.source = 'outbox' AND dead_letters.status = 'replayed'
                         THEN EXCLUDED.reason ELSE dead_letters.reason END,
           detail = CASE WHEN dead_letters.source = 'outbox' AND dead_letters.status = 'replayed'
                         THEN EXCLUDED.detail ELSE dead_letters.detail END,
           payload = CASE WHEN dead_letters.source = 'outbox' AND dead_letters.status = 'replayed'
                          THEN EXCLUDED.payload ELSE dead_letters.payload END";

/// Records dead letters with [`INSERT_DEAD_LETTERS`] (prepared on the transaction's
/// connection); a letter for a source already recorded only updates `last_seen`. `chats` maps
/// a letter id to the chat it concerns, when known.
pub(crate) async fn insert_dead_letters(
    tx: &tokio_postgres::Client,
    stmt: &tokio_postgres::Statement,
    letters: &[DeadLetter],
    chats: &HashMap<Uuid, Uuid>,
) -> Result<(), PortError> {
    if letters.is_empty() {
        return Ok(());
    }
    // ON CONFLICT DO UPDATE may touch a row once per statement: one letter per source.
    let mut seen = HashSet::new();
    let letters: Vec<&DeadLetter> = letters
        .iter()
        .filter(|d| seen.insert((d.source, d.source_ref.clone())))
        .collect();
    let col = |f: &dyn Fn(&DeadLetter) -> Option<String>| -> Vec<Option<String>> {
        letters.iter().map(|d| f(d).map(|s| no_nul(&s))).collect()
    };
    let ids: Vec<Uuid> = letters.iter().map(|d| d.id).collect();
    let received: Vec<DateTime<Utc>> = letters.iter().map(|d| d.received_at).collect();
    let sources = col(&|d| Some(d.source.as_str().to_owned()));
    let refs = col(&|d| Some(d.source_ref.clone()));
    let event_ids = col(&|d| d.event_id.clone());
    let event_types = col(&|d| d.event_type.clone());
    let reasons = col(&|d| Some(d.reason.as_str().to_owned()));
    let details = col(&|d| Some(d.detail.clone()));
    let raws: Vec<Vec<u8>> = letters.iter().map(|d| d.raw.clone()).collect();
    let raw_lens: Vec<i64> = letters.iter().map(|d| d.raw_len as i64).collect();
    let chat_ids: Vec<Option<Uuid>> = letters
        .iter()
        .map(|d| chats.get(&d.id).copied().or_else(|| chat_hint(d)))
        .collect();
    let deliveries: Vec<i64> = letters
        .iter()
        .map(|d| i64::try_from(d.delivery_count).unwrap_or(i64::MAX))
        .collect();
    let actors = col(&|d| Some(d.actor.to_owned()));
    let payloads: Vec<Option<Vec<u8>>> = letters.iter().map(|d| d.payload.clone()).collect();
    tx.execute(
        stmt,
        &[
            &ids,
            &received,
            &sources,
            &refs,
            &event_ids,
            &event_types,
            &reasons,
            &details,
            &raws,
            &raw_lens,
            &chat_ids,
            &deliveries,
            &actors,
            &payloads,
        ],
    )
    .await
    .map_err(classify)?;
    Ok(())
}

/// The chat a dead letter concerns, when its raw input names one readably.
fn chat_hint(d: &DeadLetter) -> Option<Uuid> {
    let text = String::from_utf8_lossy(&d.raw);
    let at = text.find("\"chat_id\"")?;
    let rest = &text[at + 9..];
    let start = rest.find('"')? + 1;
    let candidate = rest.get(start..start + 36)?;
    Uuid::try_parse(candidate).ok()
}

/// Postgres `text` cannot hold NUL: it becomes U+FFFD.
pub(crate) fn no_nul(s: &str) -> String {
    if s.contains('\0') {
        s.replace('\0', "\u{fffd}")
    } else {
        s.to_owned()
    }
}

const CLAIM_UNFOLDED: &str = "
    SELECT id, chat_id FROM messages
     WHERE processed_at IS NOT NULL AND folded_at IS NULL
     ORDER BY processed_at
     LIMIT $1
       FOR UPDATE SKIP LOCKED";

const ENSURE_WATERMARKS: &str = "
    INSERT INTO watermarks (chat_id, message_count, checksum, updated_at)
    SELECT id, 0, '\\x0000000000000000000000000000000000000000000000000000000000000000'::bytea, $2
      FROM unnest($1::uuid[]) AS u(id) ORDER BY id
    ON CONFLICT (chat_id) DO NOTHING";

const LOCK_WATERMARKS: &str =
    "SELECT chat_id, message_count, checksum FROM watermarks WHERE chat_id = ANY($1) ORDER BY chat_id FOR UPDATE";

const UPDATE_WATERMARKS: &str = "
    UPDATE watermarks w SET message_count = u.message_count, checksum = u.checksum, updated_at = $4
      FROM unnest($1::uuid[], $2::int8[], $3::bytea[]) AS u(chat_id, message_count, checksum)
     WHERE w.chat_id = u.chat_id";

const MARK_FOLDED: &str = "UPDATE messages SET folded_at = now() WHERE id = ANY($1)";

#[async_trait]
impl WatermarkStore for PgStore {
    async fn fold_pending(
        &self,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<FoldOutcome, PortError> {
        let mut conn = self.pool.get().await.map_err(pool_error)?;
        let tx = conn.transaction().await.map_err(classify)?;
        let rows = tx
            .query(CLAIM_UNFOLDED, &[&(limit as i64)])
            .await
            .map_err(classify)?;
        if rows.is_empty() {
            return Ok(FoldOutcome::default());
        }
        let mut per_chat: BTreeMap<Uuid, Vec<MessageId>> = BTreeMap::new();
        let mut ids = Vec::with_capacity(rows.len());
        for r in &rows {
            let id: Uuid = r.get(0);
            ids.push(id);
            per_chat.entry(r.get(1)).or_default().push(MessageId(id));
        }
        let chats: Vec<Uuid> = per_chat.keys().copied().collect();
        let updated_at = now.timestamp();
        tx.execute(ENSURE_WATERMARKS, &[&chats, &updated_at])
            .await
            .map_err(classify)?;
        let current: HashMap<Uuid, (i64, Checksum)> = tx
            .query(LOCK_WATERMARKS, &[&chats])
            .await
            .map_err(classify)?
            .into_iter()
            .map(|r| {
                let sum: Vec<u8> = r.get(2);
                (
                    r.get(0),
                    (r.get(1), Checksum::from_slice(&sum).unwrap_or_default()),
                )
            })
            .collect();
        let mut counts = Vec::with_capacity(chats.len());
        let mut sums = Vec::with_capacity(chats.len());
        for (chat, messages) in &per_chat {
            let (count, sum) = current.get(chat).copied().unwrap_or((0, Checksum::ZERO));
            counts.push(count + messages.len() as i64);
            sums.push(sum.fold(messages.iter().copied()).0.to_vec());
        }
        tx.execute(UPDATE_WATERMARKS, &[&chats, &counts, &sums, &updated_at])
            .await
            .map_err(classify)?;
        tx.execute(MARK_FOLDED, &[&ids]).await.map_err(classify)?;
        tx.commit().await.map_err(classify)?;
        Ok(FoldOutcome {
            messages: ids.len(),
            chats: chats.len(),
        })
    }
}

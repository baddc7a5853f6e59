//! Forgetting in the transport copies: the outbox payloads, dead letters and their audit rows
//! of a forgotten user (or message) are redacted in the forget's own transaction, and the
//! stream entries that carried them are deleted before it commits.
//!
//! What survives (ids, metadata, never text) and which entries go is decided in the engine
//! (`memlink_actors::forget`); this module reads the rows, writes what it returns, and asks
//! the broker. It must never delete an outbox row or a dead letter (their metadata is the
//! operator's and the reconciler's), and never log what it redacts.

use std::collections::BTreeSet;

use memlink_actors::decode::OutboxRow;
use memlink_actors::forget::{
    erasable_entries, payload_names_message, redact_detail, redact_patch, redact_payload,
    redact_payload_bytes, redacted_raw, settled_by_forget, EntryCandidate,
};
use memlink_actors::ports::{PortError, StreamBus};
use serde::Serialize;
use serde_json::Value;
use tokio_postgres::Transaction;
use uuid::Uuid;

use crate::postgres::classify;

/// What a forget redacted outside the memory graph.
#[derive(Debug, Default, Serialize)]
pub struct Redacted {
    pub outbox_events: u64,
    pub dead_letters: u64,
    pub dead_letter_actions: u64,
    pub stream_entries_deleted: u64,
}

/// Whose transport copies go: a user's, or one message of theirs.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    User(&'a str),
    Message { user_id: &'a str, message_id: Uuid },
}

impl Scope<'_> {
    fn user(&self) -> &str {
        match self {
            Scope::User(u) | Scope::Message { user_id: u, .. } => u,
        }
    }

    fn message(&self) -> Option<String> {
        match self {
            Scope::User(_) => None,
            Scope::Message { message_id, .. } => Some(message_id.to_string()),
        }
    }
}

/// The processed events of the forgotten messages, with the stream entries they came in.
const PROCESSED_OF_MESSAGES: &str =
    "SELECT event_id, stream_entry_id FROM processed_events WHERE message_id = ANY($1)";

/// The user's outbox rows (or one message's), locked: a relay holding one publishes and
/// records its stream id first, so the stream id read here is the last one. A scan of the
/// outbox (no index names users): forgetting is rare, and retention bounds the table.
const OUTBOX_OF_USER: &str = "
    SELECT id, payload, stream_id, status, aggregate_id, event_type, payload::text FROM outbox_events
     WHERE payload->>'user_id' = $1 AND ($2::text IS NULL OR lower(payload->>'message_id') = $2)
       FOR UPDATE";

/// Which of these events were processed.
const PROCESSED_OF_EVENTS: &str = "SELECT event_id FROM processed_events WHERE event_id = ANY($1)";

/// Relayed, unprocessed events of the forgotten user, settled as the worker would settle them
/// (see [`settled_by_forget`]): their stream entries are about to go.
const RECORD_SETTLED: &str = "
    INSERT INTO processed_events (event_id, message_id, chat_id, digest, stream_entry_id)
    SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::bytea[], $5::text[])
    ON CONFLICT (event_id) DO NOTHING";

const REDACT_OUTBOX: &str = "
    UPDATE outbox_events o SET payload = u.payload
      FROM unnest($1::uuid[], $2::jsonb[]) AS u(id, payload)
     WHERE o.id = u.id";

/// Dead letters whose payload names the user (indexed), or whose event is one of theirs (a
/// letter too large to keep its payload).
const DEAD_LETTERS_OF_USER: &str = "
    SELECT id, source, source_ref, event_id, payload, detail FROM dead_letters
     WHERE memlink_payload_user_id(payload) = $1 OR event_id = ANY($2)
       FOR UPDATE";

const REDACT_DEAD_LETTERS: &str = "
    UPDATE dead_letters d SET raw = $2, payload = u.payload, detail = u.detail
      FROM unnest($1::uuid[], $3::bytea[], $4::text[]) AS u(id, payload, detail)
     WHERE d.id = u.id";

const ACTIONS_OF_LETTERS: &str = "
    SELECT id, patch, original_payload, replayed_payload FROM dead_letter_actions
     WHERE dead_letter_id = ANY($1)
       FOR UPDATE";

const REDACT_ACTIONS: &str = "
    UPDATE dead_letter_actions a
       SET patch = u.patch, original_payload = u.original_payload, replayed_payload = u.replayed_payload
      FROM unnest($1::uuid[], $2::jsonb[], $3::bytea[], $4::jsonb[])
           AS u(id, patch, original_payload, replayed_payload)
     WHERE a.id = u.id";

/// Redacts the scope's outbox payloads, dead letters and dead-letter audit rows in `tx`, and
/// deletes the stream entries that carried its events. `message_ids` are the forgotten
/// messages (read before their rows are deleted). Runs before the forget commits: if the
/// broker cannot be reached the whole forget fails and can be retried, and a forget that then
/// fails to commit leaves only stream entries gone, which the reconciler re-publishes.
pub async fn erase(
    tx: &Transaction<'_>,
    eraser: &dyn StreamBus,
    scope: Scope<'_>,
    message_ids: &[Uuid],
) -> Result<Redacted, PortError> {
    let mut out = Redacted::default();
    let mut candidates: BTreeSet<EntryCandidate> = BTreeSet::new();
    let mut event_ids: BTreeSet<String> = BTreeSet::new();

    for r in tx
        .query(PROCESSED_OF_MESSAGES, &[&message_ids])
        .await
        .map_err(classify)?
    {
        let event: Uuid = r.get(0);
        event_ids.insert(event.to_string());
        if let Some(entry) = r.get::<_, Option<String>>(1) {
            candidates.insert(EntryCandidate {
                entry_id: entry,
                event_id: event.to_string(),
            });
        }
    }

    let message = scope.message();
    let rows = tx
        .query(OUTBOX_OF_USER, &[&scope.user(), &message])
        .await
        .map_err(classify)?;
    let relayed: Vec<Uuid> = rows
        .iter()
        .filter(|r| r.get::<_, &str>(3) == "relayed")
        .map(|r| r.get(0))
        .collect();
    let processed: BTreeSet<Uuid> = if relayed.is_empty() {
        BTreeSet::new()
    } else {
        tx.query(PROCESSED_OF_EVENTS, &[&relayed])
            .await
            .map_err(classify)?
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    let (mut ids, mut payloads) = (Vec::new(), Vec::new());
    let mut settled = Vec::new();
    for r in rows {
        let id: Uuid = r.get(0);
        let payload: Value = r.get(1);
        let stream_id: Option<String> = r.get(2);
        event_ids.insert(id.to_string());
        if let Some(entry) = &stream_id {
            let candidate = EntryCandidate {
                entry_id: entry.clone(),
                event_id: id.to_string(),
            };
            if processed.contains(&id) {
                candidates.insert(candidate);
            } else if r.get::<_, &str>(3) == "relayed" {
                // Relayed, not processed: settled here when this forget removed its message
                // (its entry then goes). A message this forget did not see (a POST that
                // raced it) is left to the worker, which drops the event for the tombstone,
                // deletes the row, redacts the payload and deletes the entry.
                let row = OutboxRow {
                    id,
                    aggregate_id: r.get(4),
                    event_type: r.get(5),
                    payload: r.get(6),
                };
                if let Some(s) =
                    settled_by_forget(&row).filter(|s| message_ids.contains(&s.message_id))
                {
                    settled.push((s, entry.clone()));
                    candidates.insert(candidate);
                }
            }
        }
        let redacted = redact_payload(&payload);
        if redacted != payload {
            ids.push(id);
            payloads.push(redacted);
        }
    }
    if !settled.is_empty() {
        let events: Vec<Uuid> = settled.iter().map(|(s, _)| s.event_id).collect();
        let messages: Vec<Uuid> = settled.iter().map(|(s, _)| s.message_id).collect();
        let chats: Vec<Uuid> = settled.iter().map(|(s, _)| s.chat_id).collect();
        let digests: Vec<Vec<u8>> = settled.iter().map(|(s, _)| s.digest.to_vec()).collect();
        let entries: Vec<String> = settled.iter().map(|(_, e)| e.clone()).collect();
        tx.execute(
            RECORD_SETTLED,
            &[&events, &messages, &chats, &digests, &entries],
        )
        .await
        .map_err(classify)?;
    }
    if !ids.is_empty() {
        out.outbox_events = tx
            .execute(REDACT_OUTBOX, &[&ids, &payloads])
            .await
            .map_err(classify)?;
    }

    let events: Vec<String> = event_ids.into_iter().collect();
    let letters = tx
        .query(DEAD_LETTERS_OF_USER, &[&scope.user(), &events])
        .await
        .map_err(classify)?;
    let mut letter_ids = Vec::new();
    let mut letter_payloads: Vec<Option<Vec<u8>>> = Vec::new();
    let mut letter_details: Vec<String> = Vec::new();
    for r in letters {
        let payload: Option<Vec<u8>> = r.get(4);
        let event_id: Option<String> = r.get(3);
        if let Some(m) = &message {
            // A message's forget: only its own letters (found by the user's index).
            let ours = payload
                .as_deref()
                .is_some_and(|p| payload_names_message(p, m))
                || event_id.as_ref().is_some_and(|e| events.contains(e));
            if !ours {
                continue;
            }
        }
        let source: String = r.get(1);
        if let (true, Some(event_id)) = (source == "stream", event_id) {
            candidates.insert(EntryCandidate {
                entry_id: r.get(2),
                event_id,
            });
        }
        letter_ids.push(r.get::<_, Uuid>(0));
        letter_details.push(redact_detail(r.get(5)));
        letter_payloads.push(payload.map(|p| redact_payload_bytes(&p)));
    }
    if !letter_ids.is_empty() {
        out.dead_letters = tx
            .execute(
                REDACT_DEAD_LETTERS,
                &[
                    &letter_ids,
                    &redacted_raw(),
                    &letter_payloads,
                    &letter_details,
                ],
            )
            .await
            .map_err(classify)?;
        out.dead_letter_actions = redact_actions(tx, &letter_ids).await?;
    }

    let candidates: Vec<EntryCandidate> = candidates.into_iter().collect();
    if !candidates.is_empty() {
        let ids: Vec<String> = candidates.iter().map(|c| c.entry_id.clone()).collect();
        let fetched = eraser.fetch(&ids).await?;
        let doomed = erasable_entries(&candidates, &fetched);
        if !doomed.is_empty() {
            out.stream_entries_deleted = eraser.delete(&doomed).await?;
        }
    }
    Ok(out)
}

async fn redact_actions(tx: &Transaction<'_>, letters: &[Uuid]) -> Result<u64, PortError> {
    let rows = tx
        .query(ACTIONS_OF_LETTERS, &[&letters])
        .await
        .map_err(classify)?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut ids = Vec::new();
    let mut patches: Vec<Option<Value>> = Vec::new();
    let mut originals: Vec<Option<Vec<u8>>> = Vec::new();
    let mut replayed: Vec<Option<Value>> = Vec::new();
    for r in rows {
        ids.push(r.get::<_, Uuid>(0));
        patches.push(r.get::<_, Option<Value>>(1).map(|p| redact_patch(&p)));
        originals.push(
            r.get::<_, Option<Vec<u8>>>(2)
                .map(|p| redact_payload_bytes(&p)),
        );
        replayed.push(r.get::<_, Option<Value>>(3).map(|p| redact_payload(&p)));
    }
    tx.execute(REDACT_ACTIONS, &[&ids, &patches, &originals, &replayed])
        .await
        .map_err(classify)
}

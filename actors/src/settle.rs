//! Settling a batch against the store: which of its messages are owed effects now, which are
//! repeats, which reuse a message id for other content, which belong to forgotten users or
//! messages; and what owed messages do to facts, titles and watermarks.
//!
//! Pure: the store reads what [`Settle`] needs in its first round trip, calls [`settle`] and
//! writes the [`Settled`] result in its second, in one transaction. Never I/O, never the clock.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::checksum::Checksum;
use crate::decode::{Reason, Rejection};
use crate::memory::{Changes, Statement};
use crate::plan::{dead_letter_for_message, DeadLetter, PlannedMessage};

/// A message row as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    pub chat_id: Uuid,
    pub user_id: String,
    pub role: String,
    pub content: String,
    pub created_at: DateTime<Utc>,
    /// Set once its effects were committed.
    pub processed: bool,
    /// The event that stored it, when known (rows processed before V8 do not say).
    pub processed_by: Option<Uuid>,
}

/// What the store read for a batch.
#[derive(Debug, Clone, Default)]
pub struct Settle {
    /// Events recorded as processed by this transaction (the others were recorded before).
    pub fresh: HashSet<Uuid>,
    pub forgotten_users: HashSet<String>,
    pub forgotten_messages: HashSet<Uuid>,
    pub stored: HashMap<Uuid, StoredMessage>,
    /// The watermarks of the batch's chats, as stored (absent: none yet).
    pub watermarks: HashMap<Uuid, (i64, Checksum)>,
}

/// What a batch writes.
#[derive(Debug, Clone, Default)]
pub struct Settled<'a> {
    /// Messages whose effects are committed now, in batch order.
    pub owed: Vec<&'a PlannedMessage>,
    /// Events recorded before, or repeating a message already stored the same way.
    pub duplicates: usize,
    /// Messages of forgotten users or forgotten messages: nothing is stored, and a row a
    /// producer or a racing POST left is deleted.
    pub dropped: Vec<(&'a PlannedMessage, Forgotten)>,
    pub dead_letters: Vec<DeadLetter>,
    /// The owed messages' statements.
    pub statements: Changes,
    /// Per chat, the earliest owed user message's title candidate.
    pub titles: BTreeMap<Uuid, &'a PlannedMessage>,
    /// Per chat with owed messages: the watermark after folding them in.
    pub watermarks: BTreeMap<Uuid, (i64, Checksum)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forgotten {
    User,
    Message,
}

impl Forgotten {
    /// The log event naming why an event was dropped.
    pub fn event(self) -> &'static str {
        match self {
            Forgotten::User => "forgotten_user_event_dropped",
            Forgotten::Message => "forgotten_message_event_dropped",
        }
    }
}

fn same_message(m: &PlannedMessage, s: &StoredMessage) -> bool {
    let e = &m.event;
    s.chat_id == e.chat_id.0
        && s.user_id == e.user_id.as_str()
        && s.role == e.role.as_str()
        && s.content == e.content.as_str()
        && s.created_at == e.created_at
}

/// Settles a batch. `letter_id` gives a dead letter's id for an event (derived, so a
/// redelivered conflict maps onto the same letter); `now` stamps new letters.
pub fn settle<'a>(
    messages: &'a [PlannedMessage],
    read: &Settle,
    actor: &'static str,
    now: DateTime<Utc>,
) -> Settled<'a> {
    let mut out = Settled::default();
    // Messages stored by this batch so far: a later event of the batch compares with them.
    let mut storing: HashMap<Uuid, &'a PlannedMessage> = HashMap::new();
    // Events recorded by this batch: a later copy of one in the batch compares with it.
    let mut recorded: HashMap<Uuid, &'a PlannedMessage> = HashMap::new();
    for m in messages {
        let e = &m.event;
        if !read.fresh.contains(&e.event_id.0) {
            // Recorded before: the store compares digests (a duplicate, or a reused event id).
            continue;
        }
        if let Some(first) = recorded.get(&e.event_id.0) {
            if first.digest == m.digest {
                out.duplicates += 1;
            } else {
                out.dead_letters.push(event_id_conflict(m, actor, now));
            }
            continue;
        }
        recorded.insert(e.event_id.0, m);
        if read.forgotten_users.contains(e.user_id.as_str()) {
            out.dropped.push((m, Forgotten::User));
            continue;
        }
        if read.forgotten_messages.contains(&e.message_id.0) {
            out.dropped.push((m, Forgotten::Message));
            continue;
        }
        let earlier = storing.get(&e.message_id.0).copied();
        let stored = read.stored.get(&e.message_id.0);
        let verdict = match (earlier, stored) {
            (Some(first), _) if same(first, m) => Verdict::Duplicate,
            (Some(first), _) => Verdict::Conflict(Some(first.event.event_id.0)),
            (None, Some(s)) if same_message(m, s) && s.processed => Verdict::Duplicate,
            (None, Some(s)) if same_message(m, s) => Verdict::Owed,
            (None, Some(s)) => Verdict::Conflict(s.processed_by),
            (None, None) => Verdict::Owed,
        };
        match verdict {
            Verdict::Owed => {
                storing.insert(e.message_id.0, m);
                out.owed.push(m);
            }
            Verdict::Duplicate => out.duplicates += 1,
            Verdict::Conflict(other) => {
                let other =
                    other.map_or_else(|| "an earlier event".to_owned(), |id| format!("event {id}"));
                let detail = format!(
                    "message_id {} was already stored by {other} with another chat, user, role, content or time; event {} says otherwise",
                    e.message_id, e.event_id
                );
                out.dead_letters.push(dead_letter_for_message(
                    m,
                    Rejection::new(Reason::MessageIdConflict, detail),
                    conflict_letter_id(m, b"message_id_conflict"),
                    actor,
                    now,
                ));
            }
        }
    }
    for m in &out.owed {
        let e = &m.event;
        for (ordinal, f) in m.facts.iter().enumerate() {
            out.statements.added.push(Statement::from_extracted(
                f.id,
                &f.fact,
                e.user_id.as_str(),
                e.message_id.0,
                e.chat_id.0,
                e.created_at,
                ordinal,
            ));
        }
        if m.title_candidate.is_some() {
            let key = (e.created_at, e.message_id.0);
            out.titles
                .entry(e.chat_id.0)
                .and_modify(|cur| {
                    if key < (cur.event.created_at, cur.event.message_id.0) {
                        *cur = m;
                    }
                })
                .or_insert(m);
        }
        let (count, sum) = out.watermarks.entry(e.chat_id.0).or_insert_with(|| {
            read.watermarks
                .get(&e.chat_id.0)
                .copied()
                .unwrap_or((0, Checksum::ZERO))
        });
        *count += 1;
        *sum = sum.fold([e.message_id]);
    }
    out
}

/// A conflict letter's id: derived, so a redelivered entry maps onto the same letter, and from
/// the stream entry too, since letters are unique by (source, source_ref) *and* by id: two
/// entries carrying copies of one conflicting event (a relay's publish retried, a reconciler's
/// republish) must not derive one id for two letters (the second insert would violate the
/// primary key and the message would be dead-lettered as `store_rejected` instead). Found by
/// the simulator (seed 231).
fn conflict_letter_id(m: &PlannedMessage, tag: &[u8]) -> Uuid {
    let mut name = tag.to_vec();
    if let Some(entry) = &m.stream_entry_id {
        name.push(b'@');
        name.extend_from_slice(entry.as_bytes());
    }
    Uuid::new_v5(&m.event.event_id.0, &name)
}

/// The dead letter of an event id already processed with another payload.
pub fn event_id_conflict(
    m: &PlannedMessage,
    actor: &'static str,
    now: DateTime<Utc>,
) -> DeadLetter {
    let detail = format!(
        "event_id {} was already processed with a different payload",
        m.event.event_id
    );
    dead_letter_for_message(
        m,
        Rejection::new(Reason::DuplicateEventId, detail),
        conflict_letter_id(m, &m.digest),
        actor,
        now,
    )
}

enum Verdict {
    Owed,
    Duplicate,
    /// Another event stored this message id with other content (its id, when known).
    Conflict(Option<Uuid>),
}

fn same(a: &PlannedMessage, b: &PlannedMessage) -> bool {
    a.digest == b.digest
}

/// The statements every message of a batch would add if owed: read around before knowing
/// which are, so that the reads go out in the batch's first round trip.
pub fn candidate_statements(messages: &[PlannedMessage]) -> Changes {
    let mut changes = Changes::default();
    for m in messages {
        let e = &m.event;
        for (ordinal, f) in m.facts.iter().enumerate() {
            changes.added.push(Statement::from_extracted(
                f.id,
                &f.fact,
                e.user_id.as_str(),
                e.message_id.0,
                e.chat_id.0,
                e.created_at,
                ordinal,
            ));
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{decode_stream_entry, RawEntry};
    use crate::domain::Event;
    use crate::plan::plan_message;
    use crate::testkit::ambient;

    fn message(event: u128, message: u128, chat: u128, content: &str) -> PlannedMessage {
        let payload = serde_json::json!({
            "message_id": Uuid::from_u128(message), "chat_id": Uuid::from_u128(chat),
            "user_id": "u1", "role": "user", "content": content, "created_at": 1769067099,
        });
        let entry = RawEntry {
            id: format!("{event}-0"),
            fields: vec![
                (
                    b"event_id".to_vec(),
                    Uuid::from_u128(event).to_string().into_bytes(),
                ),
                (b"event_type".to_vec(), b"message.created".to_vec()),
                (b"payload".to_vec(), payload.to_string().into_bytes()),
            ],
        };
        let Ok(Event::MessageCreated(m)) = decode_stream_entry(&entry) else {
            panic!("valid");
        };
        plan_message(m, &ambient())
    }

    fn fresh(ids: &[u128]) -> Settle {
        Settle {
            fresh: ids.iter().map(|&i| Uuid::from_u128(i)).collect(),
            ..Settle::default()
        }
    }

    #[test]
    fn copies_of_one_event_in_a_batch_are_a_duplicate_or_a_conflict() {
        let batch = [
            message(1, 10, 100, "I live in Rome."),
            message(1, 10, 100, "I live in Rome."),
            message(1, 10, 100, "I live in Oslo."),
        ];
        let s = settle(&batch, &fresh(&[1]), "worker", Utc::now());
        assert_eq!(s.owed.len(), 1);
        assert_eq!(s.duplicates, 1);
        assert_eq!(s.dead_letters.len(), 1);
        assert_eq!(s.dead_letters[0].reason, Reason::DuplicateEventId);
        assert_eq!(s.watermarks[&Uuid::from_u128(100)].0, 1);
    }

    #[test]
    fn a_reused_message_id_is_a_duplicate_when_equal_and_a_conflict_otherwise() {
        let batch = [
            message(1, 10, 100, "My name is Rue."),
            message(2, 10, 100, "My name is Rue."),
            message(3, 10, 100, "My name is Eve."),
            message(4, 10, 200, "My name is Rue."),
        ];
        let s = settle(&batch, &fresh(&[1, 2, 3, 4]), "worker", Utc::now());
        assert_eq!(s.owed.len(), 1);
        assert_eq!(s.duplicates, 1);
        let reasons: Vec<Reason> = s.dead_letters.iter().map(|d| d.reason).collect();
        assert_eq!(reasons, vec![Reason::MessageIdConflict; 2]);
        assert!(s.dead_letters[0]
            .detail
            .contains(&Uuid::from_u128(1).to_string()));
        // Against what is stored: a message the chat API stored is owed; one processed and
        // equal is a duplicate.
        let mut read = fresh(&[5]);
        let stored = StoredMessage {
            chat_id: Uuid::from_u128(100),
            user_id: "u1".into(),
            role: "user".into(),
            content: "My name is Rue.".into(),
            created_at: batch[0].event.created_at,
            processed: false,
            processed_by: None,
        };
        read.stored.insert(Uuid::from_u128(10), stored.clone());
        let again = [message(5, 10, 100, "My name is Rue.")];
        assert_eq!(settle(&again, &read, "worker", Utc::now()).owed.len(), 1);
        read.stored.insert(
            Uuid::from_u128(10),
            StoredMessage {
                processed: true,
                ..stored
            },
        );
        let s = settle(&again, &read, "worker", Utc::now());
        assert_eq!((s.owed.len(), s.duplicates), (0, 1));
    }

    #[test]
    fn forgotten_users_store_nothing_and_watermarks_fold_from_what_is_stored() {
        let batch = [
            message(1, 10, 100, "My name is Rue."),
            message(2, 11, 100, "I live in Oslo."),
        ];
        let mut read = fresh(&[1, 2]);
        read.watermarks
            .insert(Uuid::from_u128(100), (3, Checksum::ZERO));
        let s = settle(&batch, &read, "worker", Utc::now());
        let (count, sum) = s.watermarks[&Uuid::from_u128(100)];
        assert_eq!(count, 5);
        assert_eq!(
            sum,
            Checksum::ZERO.fold([batch[0].event.message_id, batch[1].event.message_id])
        );
        assert_eq!(
            s.titles[&Uuid::from_u128(100)].event.message_id,
            batch[0].event.message_id
        );
        read.forgotten_users.insert("u1".into());
        let s = settle(&batch, &read, "worker", Utc::now());
        assert!(s.owed.is_empty() && s.watermarks.is_empty());
        assert_eq!(s.dropped.len(), 2);
        assert_eq!(s.dropped[0].1, Forgotten::User);
    }
}

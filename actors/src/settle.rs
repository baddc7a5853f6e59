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
    let mut taken_events = HashSet::new();
    for m in messages {
        let e = &m.event;
        if !read.fresh.contains(&e.event_id.0) || !taken_events.insert(e.event_id.0) {
            // Recorded before: the store compares digests (a duplicate, or a reused event id).
            continue;
        }
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
                    Uuid::new_v5(&e.event_id.0, b"message_id_conflict"),
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

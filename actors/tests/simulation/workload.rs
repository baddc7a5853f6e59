//! What producers inject, and what each item must end as: valid messages (effects exactly
//! once), malformed outbox rows and stream entries of every decoding reason (one dead letter
//! with that reason), conflicting reuses of a message id or an event id (one applied, the
//! other dead-lettered), a panicking message and messages the store refuses.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use memlink_actors::decode::{OutboxRow, Reason};
use memlink_actors::testkit::sim::{Fields, SimRng, World};
use serde_json::{json, Value};
use uuid::Uuid;

/// Messages of this user are refused by the store (`store_rejected`).
pub const REFUSED_USER: &str = "refused-user";

/// Messages of this user fail every commit transiently (`retries_exhausted`).
pub const FLAKY_USER: &str = "flaky-user";

const SAYINGS: [&str; 12] = [
    "My name is Rue.",
    "I live in Porto.",
    "I live in Lima.",
    "Actually I live in Oslo.",
    "I moved to Paris.",
    "I like tea.",
    "I don't like tea anymore.",
    "hello there",
    "I work at Acme.",
    "My name is Eve.",
    "I have a dog named Rex.",
    "I am 31 years old.",
];

/// How an item gets in.
#[derive(Debug, Clone)]
pub enum Via {
    /// A committed outbox insert (the chat API, a producer's transaction).
    Outbox(OutboxRow, Option<String>),
    /// An entry written straight to the stream by a foreign producer.
    Stream(Fields),
}

/// What must come of an item.
#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    /// Effects exactly once.
    Applied,
    /// One dead letter with this reason (stream items: unless the broker lost them).
    Letter(Reason),
    /// One of a pair with the same key (the message id for `message_id_conflict`, the event
    /// id for `duplicate_event_id`) is applied, the other is dead-lettered with this reason.
    OneOf(Reason),
}

#[derive(Debug, Clone)]
pub struct Item {
    pub at: Duration,
    pub via: Via,
    pub expect: Expect,
    /// For messages: (event id, message id, chat, user, role, content, said at).
    pub message: Option<Message>,
    /// The stream entry id it got (stream items), filled in when inserted.
    pub entry: Arc<Mutex<Option<String>>>,
}

#[derive(Debug, Clone)]
pub struct Message {
    pub event_id: Uuid,
    pub message_id: Uuid,
    pub chat_id: Uuid,
    pub user_id: String,
    pub role: &'static str,
    pub content: String,
    pub said_at: DateTime<Utc>,
}

impl Message {
    fn payload(&self) -> Value {
        json!({
            "message_id": self.message_id, "chat_id": self.chat_id, "user_id": self.user_id,
            "role": self.role, "content": self.content, "created_at": self.said_at.timestamp(),
        })
    }

    fn row(&self) -> OutboxRow {
        OutboxRow {
            id: self.event_id,
            aggregate_id: self.chat_id.to_string(),
            event_type: "message.created".into(),
            payload: self.payload().to_string(),
        }
    }
}

impl Item {
    pub fn insert(&self, world: &Arc<Mutex<World>>) {
        let mut w = world.lock().unwrap_or_else(|p| p.into_inner());
        match &self.via {
            Via::Outbox(row, unreadable) => w.insert_outbox(row.clone(), unreadable.clone()),
            Via::Stream(fields) => {
                let id = w.xadd(fields.clone());
                w.log(format!("producer xadd {id}"));
                *self.entry.lock().unwrap_or_else(|p| p.into_inner()) = Some(id);
            }
        }
    }
}

pub struct Workload {
    pub items: Vec<Item>,
}

/// Ids of the workload live far from the engine's sequential ids.
fn uuid(n: u64) -> Uuid {
    Uuid::from_u128((0xA11C_E000u128 << 96) | u128::from(n))
}

impl Workload {
    pub fn generate(rng: &mut SimRng, base: DateTime<Utc>) -> Workload {
        let mut next = 0u64;
        let mut fresh = || {
            next += 1;
            uuid(next)
        };
        let chats: Vec<Uuid> = (0..3).map(|_| fresh()).collect();
        let mut items: Vec<Item> = Vec::new();
        let message = |rng: &mut SimRng, fresh: &mut dyn FnMut() -> Uuid| {
            let role = if rng.chance(0.8) { "user" } else { "assistant" };
            Message {
                event_id: fresh(),
                message_id: fresh(),
                chat_id: chats[rng.below(3) as usize],
                user_id: format!("u{}", rng.below(2)),
                role,
                content: SAYINGS[rng.below(SAYINGS.len() as u64) as usize].to_owned(),
                said_at: base - chrono::Duration::seconds(rng.below(600) as i64),
            }
        };
        let push = |items: &mut Vec<Item>, via: Via, expect: Expect, m: Option<Message>| {
            items.push(Item {
                at: Duration::ZERO,
                via,
                expect,
                message: m,
                entry: Arc::new(Mutex::new(None)),
            });
        };
        for _ in 0..2 + rng.below(9) {
            let m = message(rng, &mut fresh);
            push(
                &mut items,
                Via::Outbox(m.row(), None),
                Expect::Applied,
                Some(m),
            );
        }
        // Malformed outbox rows: a few reasons per seed, every reason over a few seeds.
        for _ in 0..rng.below(4) {
            let m = message(rng, &mut fresh);
            let (row, unreadable, reason) = malformed_row(rng, &m);
            push(
                &mut items,
                Via::Outbox(row, unreadable),
                Expect::Letter(reason),
                None,
            );
        }
        // Malformed entries written straight to the stream.
        for _ in 0..rng.below(3) {
            let m = message(rng, &mut fresh);
            let (fields, reason) = malformed_entry(rng, &m);
            push(
                &mut items,
                Via::Stream(fields),
                Expect::Letter(reason),
                None,
            );
        }
        if rng.chance(0.3) {
            // A message id reused for other content.
            let a = message(rng, &mut fresh);
            let mut b = a.clone();
            b.event_id = fresh();
            b.content = format!("{} Really.", a.content);
            push(
                &mut items,
                Via::Outbox(a.row(), None),
                Expect::OneOf(Reason::MessageIdConflict),
                Some(a),
            );
            push(
                &mut items,
                Via::Outbox(b.row(), None),
                Expect::OneOf(Reason::MessageIdConflict),
                Some(b),
            );
        }
        if rng.chance(0.3) {
            // An event id reused for another payload, by a foreign producer on the stream.
            let a = message(rng, &mut fresh);
            let mut b = a.clone();
            b.message_id = fresh();
            b.content = "I live in Rome.".into();
            let fields = vec![
                (b"event_id".to_vec(), b.event_id.to_string().into_bytes()),
                (b"event_type".to_vec(), b"message.created".to_vec()),
                (b"payload".to_vec(), b.payload().to_string().into_bytes()),
            ];
            push(
                &mut items,
                Via::Outbox(a.row(), None),
                Expect::OneOf(Reason::DuplicateEventId),
                Some(a),
            );
            push(
                &mut items,
                Via::Stream(fields),
                Expect::OneOf(Reason::DuplicateEventId),
                Some(b),
            );
        }
        if rng.chance(0.25) {
            let mut m = message(rng, &mut fresh);
            m.user_id = REFUSED_USER.into();
            push(
                &mut items,
                Via::Outbox(m.row(), None),
                Expect::Letter(Reason::StoreRejected),
                Some(m),
            );
        }
        if rng.chance(0.1) {
            let mut m = message(rng, &mut fresh);
            m.user_id = FLAKY_USER.into();
            push(
                &mut items,
                Via::Outbox(m.row(), None),
                Expect::Letter(Reason::RetriesExhausted),
                Some(m),
            );
        }
        // Panicking messages: sometimes more than the restart budget allows.
        let panics = [0, 0, 1, 2, 4, 6][rng.below(6) as usize];
        for _ in 0..panics {
            let mut m = message(rng, &mut fresh);
            m.content = memlink_actors::plan::PANIC_MARKER.into();
            m.role = "user";
            push(
                &mut items,
                Via::Outbox(m.row(), None),
                Expect::Letter(Reason::Panic),
                Some(m),
            );
        }
        // Arrival: spread over the first seconds, in a seeded order.
        let n = items.len();
        for i in (1..n).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
        let mut at = Duration::ZERO;
        for item in &mut items {
            at += Duration::from_millis(rng.below(700));
            item.at = at;
        }
        Workload { items }
    }
}

fn with(m: &Message, f: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    let mut v = m.payload();
    if let Some(o) = v.as_object_mut() {
        f(o);
    }
    v.to_string()
}

/// An outbox row the relay must refuse, and why.
fn malformed_row(rng: &mut SimRng, m: &Message) -> (OutboxRow, Option<String>, Reason) {
    let mut row = m.row();
    let mut unreadable = None;
    let reason = match rng.below(14) {
        0 => {
            row.payload = "{oops".into();
            Reason::InvalidJson
        }
        1 => {
            row.payload = with(m, |o| {
                o.remove("content");
            });
            Reason::MissingField
        }
        2 => {
            row.payload = with(m, |o| {
                o.insert("user_id".into(), json!(""));
            });
            Reason::EmptyField
        }
        3 => {
            row.payload = with(m, |o| {
                o.insert("message_id".into(), json!("not-a-uuid"));
            });
            Reason::InvalidUuid
        }
        4 => {
            row.payload = with(m, |o| {
                o.insert("created_at".into(), json!("yesterday"));
            });
            Reason::InvalidTimestamp
        }
        5 => {
            row.payload = with(m, |o| {
                o.insert("role".into(), json!("robot"));
            });
            Reason::InvalidRole
        }
        6 => {
            row.payload = with(m, |o| {
                o.insert("content".into(), json!(5));
            });
            Reason::InvalidType
        }
        7 => {
            row.event_type = "message.deleted".into();
            Reason::UnknownEventType
        }
        8 => {
            row.aggregate_id = uuid(0xDEAD).to_string();
            Reason::AggregateMismatch
        }
        9 => {
            let deep = "[".repeat(200) + &"]".repeat(200);
            row.payload = format!("{{\"deep\":{deep}}}");
            Reason::PayloadTooDeep
        }
        10 => {
            row.payload = with(m, |o| {
                o.insert("user_id".into(), json!("bell\u{7}"));
            });
            Reason::InvalidText
        }
        11 => {
            unreadable = Some("payload: invalid byte sequence for encoding".into());
            Reason::PayloadUnreadable
        }
        12 if rng.chance(0.2) => {
            // Built once: half a megabyte per seed would be most of a seed's cost.
            static HUGE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
            row.payload = HUGE
                .get_or_init(|| {
                    let content = "x".repeat(memlink_actors::decode::MAX_PAYLOAD_BYTES);
                    json!({ "content": content }).to_string()
                })
                .clone();
            Reason::PayloadTooLarge
        }
        _ => {
            row.payload = "[1, 2".into();
            Reason::InvalidJson
        }
    };
    (row, unreadable, reason)
}

/// A stream entry the worker must refuse, and why.
fn malformed_entry(rng: &mut SimRng, m: &Message) -> (Fields, Reason) {
    let event_id = (b"event_id".to_vec(), m.event_id.to_string().into_bytes());
    let event_type = (b"event_type".to_vec(), b"message.created".to_vec());
    let payload = (b"payload".to_vec(), m.payload().to_string().into_bytes());
    match rng.below(4) {
        0 => (
            vec![
                event_id,
                event_type,
                (b"payload".to_vec(), vec![b'{', 0xff, 0xfe, b'}']),
            ],
            Reason::InvalidUtf8,
        ),
        1 => (vec![event_type, payload], Reason::MissingField),
        2 => (
            vec![
                (b"event_id".to_vec(), b"nope".to_vec()),
                event_type,
                payload,
            ],
            Reason::InvalidUuid,
        ),
        _ => (
            vec![
                event_id,
                (b"event_type".to_vec(), b"chat.deleted".to_vec()),
                payload,
            ],
            Reason::UnknownEventType,
        ),
    }
}

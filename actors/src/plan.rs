//! Planning: turns one decoded event into the effects it should have (facts, a title
//! candidate, a digest for duplicate detection), and one refused input into a dead letter.
//!
//! Pure and per-message, so the worker can wrap each call in a panic boundary: a message that
//! makes this code panic is dead-lettered alone. It must never do I/O or read the clock
//! directly (time and ids come from [`Ambient`]).

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::decode::{decode_stream_entry, OutboxRow, RawEntry, Reason, Rejection};
use crate::domain::{Event, MessageCreated, Role};
use crate::extract;
use crate::ports::{Ambient, UnreadableRow};
use crate::title;

// The types a plan produces live in [`crate::batch`], which the ports take without
// depending on planning; re-exported so a plan's callers find them here.
pub use crate::batch::{
    DeadLetter, EffectBatch, PlannedFact, PlannedMessage, Source, MAX_RAW_BYTES,
};

/// Test-only: a message whose content is exactly this panics the worker's planning step.
#[cfg(feature = "fault-injection")]
pub const PANIC_MARKER: &str = "memlink:test:panic";

/// Test-only: a message whose content is exactly this blocks the worker's thread for three
/// seconds (a wedged actor), so the systemd watchdog's silence can be tested.
#[cfg(feature = "fault-injection")]
pub const HANG_MARKER: &str = "memlink:test:hang";

/// Test-only: a message whose content is exactly this aborts the whole process (what an OOM
/// kill or a stack overflow would do), so crash-loop immunity can be tested.
#[cfg(feature = "fault-injection")]
pub const ABORT_MARKER: &str = "memlink:test:abort";

/// What to do with one stream entry.
#[derive(Debug, Clone, PartialEq)]
pub enum EntryPlan {
    Apply(Box<PlannedMessage>),
    Dead(DeadLetter),
}

/// Decodes and plans one stream entry.
pub fn plan_stream_entry(
    entry: &RawEntry,
    deliveries: u64,
    actor: &'static str,
    ambient: &Ambient,
) -> EntryPlan {
    match decode_stream_entry(entry) {
        Ok(Event::MessageCreated(m)) => {
            let mut planned = plan_message(m, ambient);
            planned.stream_entry_id = Some(entry.id.clone());
            EntryPlan::Apply(Box::new(planned))
        }
        Err(rejection) => EntryPlan::Dead(dead_letter_for_entry(
            entry, rejection, deliveries, actor, ambient,
        )),
    }
}

/// Plans a decoded message: facts for user messages, a title candidate, a digest.
pub fn plan_message(m: MessageCreated, ambient: &Ambient) -> PlannedMessage {
    #[cfg(feature = "fault-injection")]
    if m.content.as_str() == PANIC_MARKER {
        panic!("fault injection: panic marker in message {}", m.message_id);
    }
    #[cfg(feature = "fault-injection")]
    if m.content.as_str() == ABORT_MARKER {
        std::process::abort();
    }
    #[cfg(feature = "fault-injection")]
    if m.content.as_str() == HANG_MARKER {
        std::thread::sleep(std::time::Duration::from_secs(3));
    }
    let (facts, title_candidate) = if m.role == Role::User {
        let facts = extract::extract(m.content.as_str())
            .into_iter()
            .map(|fact| PlannedFact {
                id: ambient.ids.new_id(),
                fact,
            })
            .collect();
        (facts, title::fallback_title(m.content.as_str()))
    } else {
        (Vec::new(), None)
    };
    PlannedMessage {
        stream_entry_id: None,
        digest: digest(&m),
        event: m,
        facts,
        title_candidate,
    }
}

/// The digest the worker records for an event (see [`PlannedMessage::digest`]).
pub(crate) fn digest(m: &MessageCreated) -> [u8; 32] {
    let mut h = Sha256::new();
    for part in [
        m.message_id.to_string().as_bytes(),
        m.chat_id.to_string().as_bytes(),
        m.user_id.as_str().as_bytes(),
        m.role.as_str().as_bytes(),
        m.content.as_str().as_bytes(),
        m.created_at.timestamp_micros().to_string().as_bytes(),
    ] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    h.finalize().into()
}

/// A dead letter for a stream entry.
pub fn dead_letter_for_entry(
    entry: &RawEntry,
    rejection: Rejection,
    deliveries: u64,
    actor: &'static str,
    ambient: &Ambient,
) -> DeadLetter {
    let rendered = entry.render();
    DeadLetter {
        id: ambient.ids.new_id(),
        source: Source::Stream,
        source_ref: entry.id.clone(),
        event_id: entry.field_lossy("event_id").map(|s| clip_text(&s)),
        event_type: entry.field_lossy("event_type").map(|s| clip_text(&s)),
        reason: rejection.reason,
        detail: rejection.detail,
        raw_len: rendered.len(),
        raw: truncate(rendered),
        payload: entry
            .field("payload")
            .filter(|p| p.len() <= MAX_RAW_BYTES)
            .map(<[u8]>::to_vec),
        delivery_count: deliveries,
        actor,
        received_at: ambient.clock.now(),
    }
}

/// A dead letter for an outbox row refused at the relay.
pub fn dead_letter_for_row(
    row: &OutboxRow,
    rejection: Rejection,
    actor: &'static str,
    ambient: &Ambient,
) -> DeadLetter {
    // The payload goes in as the text PostgreSQL stored: it may hold what no parser here can
    // read, and a dead letter must show the input as it was.
    let head = serde_json::json!({
        "id": row.id,
        "aggregate_id": row.aggregate_id,
        "event_type": row.event_type,
    })
    .to_string();
    let mut rendered = head.into_bytes();
    rendered.pop();
    rendered.extend_from_slice(b",\"payload\":");
    rendered.extend_from_slice(row.payload.as_bytes());
    rendered.push(b'}');
    DeadLetter {
        id: ambient.ids.new_id(),
        source: Source::Outbox,
        source_ref: row.id.to_string(),
        event_id: Some(row.id.to_string()),
        event_type: Some(clip_text(&row.event_type)),
        reason: rejection.reason,
        detail: rejection.detail,
        raw_len: rendered.len(),
        raw: truncate(rendered),
        payload: Some(row.payload.as_bytes().to_vec()).filter(|p| p.len() <= MAX_RAW_BYTES),
        delivery_count: 1,
        actor,
        received_at: ambient.clock.now(),
    }
}

/// A dead letter for a claimed outbox row whose columns could not even be read.
pub fn dead_letter_for_unreadable_row(
    row: &UnreadableRow,
    actor: &'static str,
    ambient: &Ambient,
) -> DeadLetter {
    let rendered = serde_json::json!({"id": row.id}).to_string().into_bytes();
    DeadLetter {
        id: ambient.ids.new_id(),
        source: Source::Outbox,
        source_ref: row.id.to_string(),
        event_id: Some(row.id.to_string()),
        event_type: None,
        reason: Reason::PayloadUnreadable,
        detail: row.detail.clone(),
        raw_len: rendered.len(),
        raw: rendered,
        payload: None,
        delivery_count: 1,
        actor,
        received_at: ambient.clock.now(),
    }
}

/// A dead letter for a message that decoded but could not be applied (the store refused it, or
/// its event id was reused with another payload). It keeps the message as its payload, in the
/// `message.created` contract, so it can be replayed once the cause is fixed.
pub fn dead_letter_for_message(
    m: &PlannedMessage,
    rejection: Rejection,
    id: Uuid,
    actor: &'static str,
    received_at: DateTime<Utc>,
) -> DeadLetter {
    let e = &m.event;
    let payload = serde_json::json!({
        "message_id": e.message_id,
        "chat_id": e.chat_id,
        "user_id": e.user_id,
        "role": e.role,
        "content": e.content,
        "created_at": e.created_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    })
    .to_string()
    .into_bytes();
    let event_type = crate::domain::EventType::MessageCreated.as_str();
    let mut raw =
        format!("event_id={}\nevent_type={event_type}\npayload=", e.event_id).into_bytes();
    raw.extend_from_slice(&payload);
    DeadLetter {
        id,
        source: Source::Stream,
        source_ref: m
            .stream_entry_id
            .clone()
            .unwrap_or_else(|| format!("event:{}", e.event_id)),
        event_id: Some(e.event_id.to_string()),
        event_type: Some(event_type.to_owned()),
        reason: rejection.reason,
        detail: rejection.detail,
        raw_len: raw.len(),
        raw: truncate(raw),
        payload: Some(payload).filter(|p| p.len() <= MAX_RAW_BYTES),
        delivery_count: 1,
        actor,
        received_at,
    }
}

/// Renders a caught panic's payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-text payload".to_owned()
    }
}

fn truncate(mut bytes: Vec<u8>) -> Vec<u8> {
    bytes.truncate(MAX_RAW_BYTES);
    bytes
}

fn clip_text(s: &str) -> String {
    s.chars().take(256).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::ambient;

    fn entry(payload: &str) -> RawEntry {
        RawEntry {
            id: "7-0".into(),
            fields: vec![
                (
                    b"event_id".to_vec(),
                    b"0b6c3a43-7c4b-4bb7-9d7c-8a8a2a0c1d11".to_vec(),
                ),
                (b"event_type".to_vec(), b"message.created".to_vec()),
                (b"payload".to_vec(), payload.as_bytes().to_vec()),
            ],
        }
    }

    #[test]
    fn a_user_message_plans_facts_and_a_title() {
        let p = r#"{"message_id":"5d2b0b7e-3f0a-4f5e-8f1e-2b7c9d0e1f23","chat_id":"9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
                    "user_id":"u1","role":"user","content":"My name is PronterTestUser.","created_at":1769067099.568}"#;
        let EntryPlan::Apply(m) = plan_stream_entry(&entry(p), 1, "worker", &ambient()) else {
            panic!("expected a plan")
        };
        assert_eq!(
            m.title_candidate.as_deref(),
            Some("My name is PronterTestUser.")
        );
        assert_eq!(m.stream_entry_id.as_deref(), Some("7-0"));
        assert!(m
            .facts
            .iter()
            .any(|f| f.fact.predicate.as_str() == "name" && f.fact.object == "PronterTestUser"));
    }

    #[test]
    fn an_assistant_message_plans_no_facts_or_title() {
        let p = r#"{"message_id":"5d2b0b7e-3f0a-4f5e-8f1e-2b7c9d0e1f23","chat_id":"9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
                    "user_id":"u1","role":"assistant","content":"My name is Bot.","created_at":1769067099}"#;
        let EntryPlan::Apply(m) = plan_stream_entry(&entry(p), 1, "worker", &ambient()) else {
            panic!("expected a plan")
        };
        assert!(m.facts.is_empty());
        assert_eq!(m.title_candidate, None);
    }

    #[test]
    fn a_malformed_entry_becomes_a_bounded_dead_letter() {
        let huge = "x".repeat(1_000_000);
        let EntryPlan::Dead(d) = plan_stream_entry(&entry(&huge), 3, "worker", &ambient()) else {
            panic!("expected a dead letter")
        };
        assert_eq!(d.reason, Reason::PayloadTooLarge);
        assert_eq!(d.raw.len(), MAX_RAW_BYTES);
        assert!(d.raw_len > 1_000_000);
        assert_eq!(d.delivery_count, 3);
        assert_eq!(d.source_ref, "7-0");
    }
}

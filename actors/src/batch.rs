//! What a worker round commits in one transaction: the planned messages with their facts and
//! the dead letters ([`EffectBatch`]). Plain data, built by [`crate::plan`] and [`crate::settle`]
//! and taken by the store ports ([`crate::ports`]); kept apart from planning so the ports never
//! depend on it. It must never hold logic beyond size queries.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::decode::Reason;
use crate::domain::MessageCreated;
use crate::extract::ExtractedFact;

/// A dead letter keeps at most this many raw bytes (a 10 MB entry is not copied whole).
pub const MAX_RAW_BYTES: usize = 64 * 1024;

/// Where a dead letter came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Stream,
    Outbox,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Stream => "stream",
            Source::Outbox => "outbox",
        }
    }
}

/// A refused input with everything needed to understand, replay or discard it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub id: Uuid,
    pub source: Source,
    /// The stream entry id or the outbox row id.
    pub source_ref: String,
    /// As received: may not be a UUID.
    pub event_id: Option<String>,
    pub event_type: Option<String>,
    pub reason: Reason,
    pub detail: String,
    /// The input, truncated to [`MAX_RAW_BYTES`].
    pub raw: Vec<u8>,
    pub raw_len: usize,
    /// The event's payload exactly as received (the stream field, or the outbox row's JSON),
    /// when it fits in [`MAX_RAW_BYTES`]: what a replay re-publishes, patched or not.
    pub payload: Option<Vec<u8>>,
    pub delivery_count: u64,
    pub actor: &'static str,
    pub received_at: DateTime<Utc>,
}

/// One fact to store, with provenance.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedFact {
    pub id: Uuid,
    pub fact: ExtractedFact,
}

/// One message's effects.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedMessage {
    /// The stream entry that carried it, when it came from the stream.
    pub stream_entry_id: Option<String>,
    pub event: MessageCreated,
    /// SHA-256 over the decoded fields: the same event id with another digest is a conflict.
    pub digest: [u8; 32],
    pub facts: Vec<PlannedFact>,
    /// The fallback title this message would give its chat if it is the earliest user message.
    pub title_candidate: Option<String>,
}

/// What a worker round commits in one transaction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EffectBatch {
    pub messages: Vec<PlannedMessage>,
    pub dead_letters: Vec<DeadLetter>,
    /// The in-flight marker of the entries being applied, removed in the same transaction.
    pub inflight: Option<Uuid>,
}

impl EffectBatch {
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty() && self.dead_letters.is_empty()
    }

    pub fn len(&self) -> usize {
        self.messages.len() + self.dead_letters.len()
    }
}

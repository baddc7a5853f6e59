//! The enricher's work items and outcomes: plain data that [`crate::ports`] takes and gives
//! (the store's jobs, the model's errors), kept apart from the enricher's rounds so the ports
//! never depend on them. It must never hold logic beyond naming its values.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Which extractor's facts a message keeps when the model's answer is valid
/// (`MEMLINK_EXTRACTOR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LlmMode {
    /// The LLM's facts replace the rules' facts of a message, when the LLM's answer is valid.
    Llm,
    /// The LLM's valid facts are added to the rules' facts (rules win on conflict).
    Both,
}

impl LlmMode {
    pub fn as_str(self) -> &'static str {
        match self {
            LlmMode::Llm => "llm",
            LlmMode::Both => "both",
        }
    }
}

/// What a request is for, in logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Facts,
    Title,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Facts => "facts",
            Purpose::Title => "title",
        }
    }
}

/// A user message to enrich.
#[derive(Debug, Clone)]
pub struct MessageJob {
    pub message_id: Uuid,
    pub chat_id: Uuid,
    pub user_id: String,
    pub content: String,
    pub created_at: DateTime<Utc>,
}

/// A chat owed an LLM title, from the message that gave its fallback title.
#[derive(Debug, Clone)]
pub struct TitleJob {
    pub chat_id: Uuid,
    pub message_id: Uuid,
    pub content: String,
}

/// How an LLM pass ended, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The model answered, the answer was refused: the rules' result stands.
    Rejected,
    /// No answer after the retries: the rules' result stands.
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Rejected => "rejected",
            Outcome::Failed => "failed",
        }
    }
}

/// Why the model gave no answer (after the adapter's own retries).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ModelError {
    /// A stable code for logs (`timeout`, `connect`, `http_status`, `bad_envelope`).
    pub code: &'static str,
    pub message: String,
}

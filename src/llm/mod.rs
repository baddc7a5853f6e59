//! The optional LLM extractor and LLM titles (`MEMLINK_EXTRACTOR=llm|both`), on any
//! OpenAI-compatible chat-completions server.
//!
//! The rules stay the pipeline's extractor: the worker commits their facts and the fallback
//! title synchronously, as when the LLM is off. The [`enricher`] runs afterwards, on its own,
//! and only adds: facts the model stated that validate, and a better title. An LLM that is
//! slow, down or talking nonsense must never delay, block or undo anything the rules did.
//!
//! The enricher's logic is the engine's (`memlink_actors::enrich`); this module holds its
//! adapters.
//!
//! # Layout
//! - [`client`]: the HTTP client (timeouts, retries with backoff, concurrency, token counts),
//!   the enricher's language model.
//! - [`facts`], [`title`]: the engine's prompts, validation, merging and shaping (re-exported).
//! - [`enricher`]: wires the engine's enricher to the client and the store.

pub mod client;
pub mod enricher;

pub use memlink_actors::enrich::{facts, title};

use memlink_actors::status::StatusBoard;
use serde_json::{json, Value};

use memlink_actors::enrich::counters;

/// The `llm` section of `/admin/status`: totals since the process started (all zero when the
/// LLM is off), and the backlog from the database when it could be read.
pub fn status_json(
    board: &StatusBoard,
    backlog: Option<crate::postgres::llm::LlmBacklog>,
) -> Value {
    let c = board.counters();
    let n = |k: &str| c.get(k).copied().unwrap_or(0);
    json!({
        "requests": n(counters::REQUESTS),
        "request_errors": n(counters::REQUEST_ERRORS),
        "prompt_tokens": n(counters::PROMPT_TOKENS),
        "completion_tokens": n(counters::COMPLETION_TOKENS),
        "facts_added": n(counters::FACTS_ADDED),
        "messages_done": n(counters::MESSAGES_DONE),
        "messages_rejected": n(counters::MESSAGES_REJECTED),
        "messages_failed": n(counters::MESSAGES_FAILED),
        "titles_done": n(counters::TITLES_DONE),
        "titles_failed": n(counters::TITLES_FAILED),
        "backlog": backlog,
    })
}

//! The dead-letter lifecycle in Postgres: list, show, replay (patched or not) and discard,
//! one letter at a time or in bulk. Used by the admin HTTP endpoints and by the `memlink dlq`
//! CLI alike, so the CLI works with only Postgres (the daemon may be down).
//!
//! A replay goes back through the outbox: in ONE transaction the dead letter is locked, the
//! replay is planned and validated by the engine ([`memlink_actors::dlq::plan_replay`]), the
//! outbox row is reset or inserted, the letter is marked `replayed` and the action audited in
//! `dead_letter_actions`. This module must never publish to Redis itself, never change a letter
//! that is not `dead`, and never commit an action without its audit row.

use crate::logging::Quoted;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use memlink_actors::decode::Rejection;
use memlink_actors::dlq::{
    plan_replay, ExistingRow, OutboxWrite, ReplayContext, ReplayLetter, ReplayPlan, ReplayRefusal,
};
use memlink_actors::plan::Source;
use memlink_actors::ports::PortError;
use serde::Serialize;
use serde_json::{json, Value};
use tokio_postgres::Transaction;
use uuid::Uuid;

use super::{classify, pool_error, PgPool};

// The letters' columns and filter, shared by the statements of every part below.
/// The columns [`view_from_row`] reads, in order (`raw` may be given as an expression, e.g.
/// a prefix of it for a list).
macro_rules! letter_columns {
    () => {
        letter_columns!("raw")
    };
    ($raw:literal) => {
        concat!(
            "id, received_at, source, source_ref, event_id, event_type, reason, detail, ",
            $raw,
            ", raw_len, chat_id, delivery_count, first_seen, last_seen, actor, status"
        )
    };
}

/// Which letters a filter matches, one rule for every listing, count and bulk action:
/// `$1` reason, `$2` chat id, `$3` received at or after, `$4` received before, `$5` event
/// type, `$6` the payload's `user_id` (see V12), `$7` bytes the payload contains (the raw
/// entry's when no payload was kept). A NULL parameter does not filter.
macro_rules! letter_filter {
    () => {
        "($1::text IS NULL OR reason = $1)
           AND ($2::uuid IS NULL OR chat_id = $2)
           AND ($3::timestamptz IS NULL OR received_at >= $3)
           AND ($4::timestamptz IS NULL OR received_at < $4)
           AND ($5::text IS NULL OR event_type = $5)
           AND ($6::text IS NULL OR memlink_payload_user_id(payload) = $6)
           AND ($7::text IS NULL OR position(convert_to($7, 'UTF8') IN coalesce(payload, raw)) > 0)"
    };
}

mod bulk;
mod discard;
mod page;
mod read;
mod replay;

pub use bulk::*;
pub use discard::*;
pub use page::*;
pub use read::*;
pub use replay::*;

/// Log target of every dead-letter action.
const TARGET: &str = "memlink::dlq";

/// How many skipped letters a bulk report lists one by one (all are counted).
pub const MAX_REPORTED_SKIPS: usize = 100;

/// Where an action came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Http,
    Cli,
    /// The browser console at `/admin/ui`.
    Console,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Http => "http",
            Channel::Cli => "cli",
            Channel::Console => "console",
        }
    }
}

/// Who performed an action: a validated, bounded name and the channel it came through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    name: String,
    channel: Channel,
}

impl Operator {
    pub const MAX_CHARS: usize = 128;

    /// An actor name: trimmed, 1 to [`Operator::MAX_CHARS`] characters, no control characters.
    pub fn parse(name: &str, channel: Channel) -> Result<Operator, String> {
        let name = name.trim();
        if name.is_empty() {
            return Err("the actor name is empty".to_owned());
        }
        if name.chars().count() > Self::MAX_CHARS {
            return Err(format!(
                "the actor name is longer than {} characters",
                Self::MAX_CHARS
            ));
        }
        if name.chars().any(char::is_control) {
            return Err("the actor name contains a control character".to_owned());
        }
        Ok(Operator {
            name: name.to_owned(),
            channel,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn channel(&self) -> Channel {
        self.channel
    }
}

/// The most characters an action's note may have.
pub const MAX_NOTE_CHARS: usize = 2_000;

/// A note: at most [`MAX_NOTE_CHARS`] characters and no NUL (Postgres `text` cannot hold one).
pub fn check_note(note: &str) -> Result<(), String> {
    if note.chars().count() > MAX_NOTE_CHARS {
        return Err(format!(
            "the note is longer than {MAX_NOTE_CHARS} characters"
        ));
    }
    if note.contains('\0') {
        return Err("the note contains a NUL character".to_owned());
    }
    Ok(())
}

/// A reason filter: a reason code's syntax (lowercase letters, digits, `_`; at most 64).
pub fn check_reason_filter(reason: &str) -> Result<(), String> {
    let ok = !reason.is_empty()
        && reason.len() <= 64
        && reason
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "reason {:?} is not a reason code (1 to 64 of a-z, 0-9, _)",
            reason.chars().take(80).collect::<String>()
        ))
    }
}

/// A dead letter's lifecycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LetterStatus {
    Dead,
    Replayed,
    Discarded,
}

impl LetterStatus {
    pub fn parse(s: &str) -> Option<LetterStatus> {
        match s {
            "dead" => Some(LetterStatus::Dead),
            "replayed" => Some(LetterStatus::Replayed),
            "discarded" => Some(LetterStatus::Discarded),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LetterStatus::Dead => "dead",
            LetterStatus::Replayed => "replayed",
            LetterStatus::Discarded => "discarded",
        }
    }
}

/// Why a dead-letter action was refused, or could not be carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DlqError {
    #[error("dead letter {0} not found")]
    NotFound(Uuid),
    #[error(
        "dead letter {id} is {status}, not dead: only a dead letter can be replayed or discarded"
    )]
    NotDead { id: Uuid, status: String },
    #[error("dead letter {id} is not replayable: {why}")]
    NotReplayable { id: Uuid, why: String },
    #[error("replaying dead letter {id} would be refused: {rejection}")]
    ReplayInvalid { id: Uuid, rejection: Rejection },
    #[error(
        "event id {event_id} for dead letter {id} is already in the outbox (a concurrent replay?)"
    )]
    EventIdTaken { id: Uuid, event_id: Uuid },
    #[error("a bulk action needs a filter (reason, chat_id, since) or all=true")]
    FilterRequired,
    #[error(transparent)]
    Port(#[from] PortError),
}

impl DlqError {
    /// The stable machine-readable code (HTTP error code, CLI message).
    pub fn code(&self) -> &'static str {
        match self {
            DlqError::NotFound(_) => "dead_letter_not_found",
            DlqError::NotDead { .. } => "not_dead",
            DlqError::NotReplayable { .. } => "not_replayable",
            DlqError::ReplayInvalid { .. } => "replay_invalid",
            DlqError::EventIdTaken { .. } => "event_id_taken",
            DlqError::FilterRequired => "filter_required",
            DlqError::Port(_) => "unavailable",
        }
    }

    fn refusal(id: Uuid, r: ReplayRefusal) -> DlqError {
        match r {
            ReplayRefusal::NotReplayable(why) => DlqError::NotReplayable { id, why },
            ReplayRefusal::Invalid(rejection) => DlqError::ReplayInvalid { id, rejection },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actor_names_are_bounded_and_printable() {
        assert_eq!(
            Operator::parse("  ana ", Channel::Cli).unwrap().name(),
            "ana"
        );
        assert!(Operator::parse("   ", Channel::Http).is_err());
        assert!(Operator::parse("a\nb", Channel::Http).is_err());
        assert!(Operator::parse(&"x".repeat(129), Channel::Http).is_err());
        assert!(Operator::parse(&"é".repeat(128), Channel::Http).is_ok());
    }

    #[test]
    fn a_bulk_filter_must_say_something() {
        assert_eq!(BulkFilter::default().check(), Err(DlqError::FilterRequired));
        let by_reason = BulkFilter {
            reason: Some("invalid_uuid".into()),
            ..BulkFilter::default()
        };
        assert!(by_reason.check().is_ok());
        let all = BulkFilter {
            all: true,
            ..BulkFilter::default()
        };
        assert!(all.check().is_ok());
    }

    #[test]
    fn a_dry_run_report_never_says_replayed() {
        let mut r = BulkReport::new(BulkAction::Replay, true, 3);
        r.affected = 2;
        r.skip(Uuid::nil(), &DlqError::NotFound(Uuid::nil()));
        let j = r.to_json();
        assert_eq!(j["would_replay"], 2);
        assert!(j.get("replayed").is_none());
        assert_eq!(j["skipped_by_code"]["dead_letter_not_found"], 1);
        assert_eq!(j["matched"], 3);
    }

    #[test]
    fn notes_are_bounded() {
        assert!(check_note("fixed upstream in #42").is_ok());
        assert!(check_note("a\0b").is_err());
        assert!(check_note(&"n".repeat(MAX_NOTE_CHARS + 1)).is_err());
    }
}

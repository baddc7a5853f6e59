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

// ---------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize)]
pub struct DeadLetterView {
    pub id: Uuid,
    pub received_at: DateTime<Utc>,
    pub source: String,
    pub source_ref: String,
    pub event_id: Option<String>,
    pub event_type: Option<String>,
    pub reason: String,
    pub detail: String,
    pub raw: String,
    pub raw_len: i64,
    pub chat_id: Option<Uuid>,
    pub delivery_count: i64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub actor: String,
    pub status: String,
}

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

fn view_from_row(r: &tokio_postgres::Row) -> DeadLetterView {
    let raw: Vec<u8> = r.get(8);
    DeadLetterView {
        id: r.get(0),
        received_at: r.get(1),
        source: r.get(2),
        source_ref: r.get(3),
        event_id: r.get(4),
        event_type: r.get(5),
        reason: r.get(6),
        detail: r.get(7),
        raw: String::from_utf8_lossy(&raw).into_owned(),
        raw_len: r.get(9),
        chat_id: r.get(10),
        delivery_count: r.get(11),
        first_seen: r.get(12),
        last_seen: r.get(13),
        actor: r.get(14),
        status: r.get(15),
    }
}

#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub reason: Option<String>,
    pub chat_id: Option<Uuid>,
    pub since: Option<DateTime<Utc>>,
    pub status: Option<LetterStatus>,
    pub limit: i64,
    pub offset: i64,
}

/// One page of dead letters, newest first.
#[derive(Debug, Serialize)]
pub struct ListPage {
    pub dead_letters: Vec<DeadLetterView>,
    /// How many letters match the filter, over all pages.
    pub total: i64,
    /// The `offset` of the next page, when there is one.
    pub next_offset: Option<i64>,
}

const LIST_DEAD_LETTERS: &str = concat!(
    "SELECT ",
    letter_columns!(),
    " FROM dead_letters
     WHERE ($1::text IS NULL OR reason = $1)
       AND ($2::uuid IS NULL OR chat_id = $2)
       AND ($3::timestamptz IS NULL OR received_at >= $3)
       AND ($4::text IS NULL OR status = $4)
     ORDER BY received_at DESC, id
     LIMIT $5 OFFSET $6"
);

const COUNT_DEAD_LETTERS: &str = "
    SELECT count(*) FROM dead_letters
     WHERE ($1::text IS NULL OR reason = $1)
       AND ($2::uuid IS NULL OR chat_id = $2)
       AND ($3::timestamptz IS NULL OR received_at >= $3)
       AND ($4::text IS NULL OR status = $4)";

pub async fn list(pool: &PgPool, filter: &ListFilter) -> Result<ListPage, PortError> {
    let conn = pool.get().await.map_err(pool_error)?;
    let status = filter.status.map(LetterStatus::as_str);
    let rows = conn
        .query(
            LIST_DEAD_LETTERS,
            &[
                &filter.reason,
                &filter.chat_id,
                &filter.since,
                &status,
                &filter.limit,
                &filter.offset,
            ],
        )
        .await
        .map_err(classify)?;
    let total: i64 = conn
        .query_one(
            COUNT_DEAD_LETTERS,
            &[&filter.reason, &filter.chat_id, &filter.since, &status],
        )
        .await
        .map_err(classify)?
        .get(0);
    let dead_letters: Vec<DeadLetterView> = rows.iter().map(view_from_row).collect();
    let end = filter.offset + dead_letters.len() as i64;
    Ok(ListPage {
        next_offset: (!dead_letters.is_empty() && end < total).then_some(end),
        dead_letters,
        total,
    })
}

/// One audited action.
#[derive(Debug, Clone, Serialize)]
pub struct ActionView {
    pub id: Uuid,
    pub action: String,
    pub actor: String,
    pub channel: String,
    pub at: DateTime<Utc>,
    pub patch: Option<Value>,
    /// The payload as received, as text (lossy when it was not UTF-8).
    pub original_payload: Option<String>,
    pub replayed_payload: Option<Value>,
    pub new_event_id: Option<Uuid>,
    pub outbox_id: Option<Uuid>,
    pub outbox_action: Option<String>,
    pub bulk: bool,
    pub note: Option<String>,
}

/// Whether an unpatched replay would be accepted now, and if not, why.
#[derive(Debug, Clone, Serialize)]
pub struct ReplayCheck {
    pub replayable: bool,
    pub code: Option<&'static str>,
    pub message: Option<String>,
    /// The event id a replay would publish under.
    pub event_id: Option<Uuid>,
    pub outbox_action: Option<&'static str>,
}

impl ReplayCheck {
    /// The check a planned (or refused) replay amounts to, with the planned payload.
    fn of(
        planned: Result<(LetterRow, ReplayPlan), DlqError>,
    ) -> Result<(ReplayCheck, Option<Value>), PortError> {
        Ok(match planned {
            Ok((_, plan)) => (
                ReplayCheck {
                    replayable: true,
                    code: None,
                    message: None,
                    event_id: Some(plan.event_id()),
                    outbox_action: Some(plan.write.as_str()),
                },
                Some(plan.payload),
            ),
            Err(DlqError::Port(e)) => return Err(e),
            Err(e) => (
                ReplayCheck {
                    replayable: false,
                    code: Some(e.code()),
                    message: Some(e.to_string()),
                    event_id: None,
                    outbox_action: None,
                },
                None,
            ),
        })
    }
}

/// Everything about one dead letter.
#[derive(Debug, Serialize)]
pub struct DeadLetterDetail {
    #[serde(flatten)]
    pub letter: DeadLetterView,
    /// The payload as received, when it was kept and is UTF-8.
    pub payload: Option<String>,
    pub payload_len: Option<usize>,
    pub payload_kept: bool,
    pub payload_utf8: bool,
    /// For a `dead` letter: would a replay without a patch be accepted?
    pub replay_check: Option<ReplayCheck>,
    /// The audit history, oldest first.
    pub actions: Vec<ActionView>,
}

const SELECT_DETAIL: &str = concat!(
    "SELECT ",
    letter_columns!(),
    ", payload FROM dead_letters WHERE id = $1"
);

const SELECT_ACTIONS: &str = "
    SELECT id, action, actor, channel, at, patch, original_payload, replayed_payload, new_event_id,
           outbox_id, outbox_action, bulk, note
      FROM dead_letter_actions WHERE dead_letter_id = $1 ORDER BY at, id";

pub async fn show(pool: &PgPool, id: Uuid) -> Result<Option<DeadLetterDetail>, PortError> {
    let mut conn = pool.get().await.map_err(pool_error)?;
    let tx = conn.transaction().await.map_err(classify)?;
    let Some(r) = tx
        .query_opt(SELECT_DETAIL, &[&id])
        .await
        .map_err(classify)?
    else {
        return Ok(None);
    };
    let letter = view_from_row(&r);
    let payload: Option<Vec<u8>> = r.get(16);
    let actions = tx
        .query(SELECT_ACTIONS, &[&id])
        .await
        .map_err(classify)?
        .iter()
        .map(|a| {
            let original: Option<Vec<u8>> = a.get(6);
            ActionView {
                id: a.get(0),
                action: a.get(1),
                actor: a.get(2),
                channel: a.get(3),
                at: a.get(4),
                patch: a.get(5),
                original_payload: original.map(|b| String::from_utf8_lossy(&b).into_owned()),
                replayed_payload: a.get(7),
                new_event_id: a.get(8),
                outbox_id: a.get(9),
                outbox_action: a.get(10),
                bulk: a.get(11),
                note: a.get(12),
            }
        })
        .collect();
    let replay_check = if letter.status == LetterStatus::Dead.as_str() {
        Some(ReplayCheck::of(prepare(&tx, id, None, Lock::No).await)?.0)
    } else {
        None
    };
    // Read-only: nothing to commit.
    drop(tx);
    let text = payload
        .as_deref()
        .and_then(|p| std::str::from_utf8(p).ok())
        .map(str::to_owned);
    Ok(Some(DeadLetterDetail {
        payload_len: payload.as_ref().map(Vec::len),
        payload_kept: payload.is_some(),
        payload_utf8: text.is_some(),
        payload: text,
        letter,
        replay_check,
        actions,
    }))
}

// ---------------------------------------------------------------------------------------
// Replay
// ---------------------------------------------------------------------------------------

/// The columns a replay or discard needs, as stored.
struct LetterRow {
    id: Uuid,
    source: Source,
    source_ref: String,
    event_id: Option<String>,
    event_type: Option<String>,
    payload: Option<Vec<u8>>,
    status: String,
    reason: String,
}

impl LetterRow {
    fn as_replay(&self) -> ReplayLetter<'_> {
        ReplayLetter {
            id: self.id,
            source: self.source,
            source_ref: &self.source_ref,
            event_id: self.event_id.as_deref(),
            event_type: self.event_type.as_deref(),
            payload: self.payload.as_deref(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lock {
    /// Row locks held to the end of the transaction: the letter (and its outbox row) cannot
    /// change between planning and writing, and two replays of one letter serialise.
    ForUpdate,
    /// A read (dry runs, the detail view's replay check).
    No,
}

const SELECT_LETTER: &str = "
    SELECT id, source, source_ref, event_id, event_type, payload, status, reason
      FROM dead_letters WHERE id = $1";
const SELECT_LETTER_FOR_UPDATE: &str = "
    SELECT id, source, source_ref, event_id, event_type, payload, status, reason
      FROM dead_letters WHERE id = $1 FOR UPDATE";

async fn load_letter(
    tx: &Transaction<'_>,
    id: Uuid,
    lock: Lock,
) -> Result<Option<LetterRow>, PortError> {
    let sql = match lock {
        Lock::ForUpdate => SELECT_LETTER_FOR_UPDATE,
        Lock::No => SELECT_LETTER,
    };
    let Some(r) = tx.query_opt(sql, &[&id]).await.map_err(classify)? else {
        return Ok(None);
    };
    let source: String = r.get(1);
    let source = match source.as_str() {
        "stream" => Source::Stream,
        "outbox" => Source::Outbox,
        other => {
            return Err(PortError::permanent(
                "postgres",
                format!("dead letter {id} has an unknown source {other:?}"),
            ))
        }
    };
    Ok(Some(LetterRow {
        id: r.get(0),
        source,
        source_ref: r.get(2),
        event_id: r.get(3),
        event_type: r.get(4),
        payload: r.get(5),
        status: r.get(6),
        reason: r.get(7),
    }))
}

const SELECT_OUTBOX_ROW: &str = "SELECT id, aggregate_id FROM outbox_events WHERE id = $1";
const SELECT_OUTBOX_ROW_FOR_UPDATE: &str =
    "SELECT id, aggregate_id FROM outbox_events WHERE id = $1 FOR UPDATE";
const EVENT_ID_USED: &str = "
    SELECT EXISTS (SELECT 1 FROM outbox_events WHERE id = $1)
        OR EXISTS (SELECT 1 FROM processed_events WHERE event_id = $1)";

/// Loads the letter, checks it is `dead`, gathers what the plan needs and plans the replay.
async fn prepare(
    tx: &Transaction<'_>,
    id: Uuid,
    patch: Option<&Value>,
    lock: Lock,
) -> Result<(LetterRow, ReplayPlan), DlqError> {
    let letter = load_letter(tx, id, lock)
        .await?
        .ok_or(DlqError::NotFound(id))?;
    if letter.status != LetterStatus::Dead.as_str() {
        return Err(DlqError::NotDead {
            id,
            status: letter.status,
        });
    }
    let view = letter.as_replay();
    let outbox_row = match view.outbox_row_id() {
        Some(row_id) => {
            let sql = match lock {
                Lock::ForUpdate => SELECT_OUTBOX_ROW_FOR_UPDATE,
                Lock::No => SELECT_OUTBOX_ROW,
            };
            tx.query_opt(sql, &[&row_id])
                .await
                .map_err(classify)?
                .map(|r| ExistingRow {
                    id: r.get(0),
                    aggregate_id: r.get(1),
                })
        }
        None => None,
    };
    let original_event_id_free = match view.original_event_id() {
        Some(event_id) => {
            let used: bool = tx
                .query_one(EVENT_ID_USED, &[&event_id])
                .await
                .map_err(classify)?
                .get(0);
            !used
        }
        None => false,
    };
    let ctx = ReplayContext {
        outbox_row,
        original_event_id_free,
    };
    let plan = plan_replay(&view, patch, &ctx).map_err(|r| DlqError::refusal(id, r))?;
    Ok((letter, plan))
}

/// What a replay did.
#[derive(Debug, Clone, Serialize)]
pub struct ReplayOutcome {
    pub dead_letter_id: Uuid,
    pub status: &'static str,
    pub reason: String,
    /// The event id the replay was published under (also the outbox row id).
    pub event_id: Uuid,
    pub outbox_id: Uuid,
    pub outbox_action: &'static str,
    pub patched: bool,
    pub payload: Value,
    pub action_id: Uuid,
}

const RESET_OUTBOX_ROW: &str = "
    UPDATE outbox_events
       SET payload = $2, aggregate_id = $3, status = 'pending', claimed_until = NULL,
           relayed_at = NULL, stream_id = NULL
     WHERE id = $1";
/// The relay also polls; the notification (sent at commit) only makes it prompt.
const NOTIFY_OUTBOX: &str = "SELECT pg_notify('memlink_outbox', '')";
const INSERT_OUTBOX_ROW: &str = "
    INSERT INTO outbox_events (id, aggregate_id, event_type, payload) VALUES ($1, $2, $3, $4)
    ON CONFLICT (id) DO NOTHING";
const MARK_LETTER: &str = "UPDATE dead_letters SET status = $2 WHERE id = $1 AND status = 'dead'";
const INSERT_REPLAY_ACTION: &str = "
    INSERT INTO dead_letter_actions (id, dead_letter_id, action, actor, channel, patch, original_payload,
                                     replayed_payload, new_event_id, outbox_id, outbox_action, bulk, note)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";

/// Replays one dead letter (see the module doc): one transaction, audited, logged.
pub async fn replay(
    pool: &PgPool,
    id: Uuid,
    patch: Option<&Value>,
    actor: &Operator,
    note: Option<&str>,
) -> Result<ReplayOutcome, DlqError> {
    let mut conn = pool.get().await.map_err(pool_error)?;
    let tx = conn.transaction().await.map_err(classify)?;
    let outcome = replay_in(&tx, id, patch, actor, note, false).await?;
    tx.commit().await.map_err(classify)?;
    log_replayed(&outcome, actor, false);
    Ok(outcome)
}

async fn replay_in(
    tx: &Transaction<'_>,
    id: Uuid,
    patch: Option<&Value>,
    actor: &Operator,
    note: Option<&str>,
    bulk: bool,
) -> Result<ReplayOutcome, DlqError> {
    let (letter, plan) = prepare(tx, id, patch, Lock::ForUpdate).await?;
    match plan.write {
        OutboxWrite::Reset { id: row_id } => {
            tx.execute(
                RESET_OUTBOX_ROW,
                &[&row_id, &plan.payload, &plan.aggregate_id],
            )
            .await
            .map_err(classify)?;
            tx.query(NOTIFY_OUTBOX, &[]).await.map_err(classify)?;
        }
        OutboxWrite::Insert { id: row_id } => {
            let inserted = tx
                .execute(
                    INSERT_OUTBOX_ROW,
                    &[&row_id, &plan.aggregate_id, &plan.event_type, &plan.payload],
                )
                .await
                .map_err(classify)?;
            if inserted == 0 {
                return Err(DlqError::EventIdTaken {
                    id,
                    event_id: row_id,
                });
            }
        }
    }
    tx.execute(MARK_LETTER, &[&id, &LetterStatus::Replayed.as_str()])
        .await
        .map_err(classify)?;
    let action_id = Uuid::new_v4();
    let action = if plan.patched {
        "replay_patched"
    } else {
        "replay"
    };
    let event_id = plan.event_id();
    tx.execute(
        INSERT_REPLAY_ACTION,
        &[
            &action_id,
            &id,
            &action,
            &actor.name(),
            &actor.channel().as_str(),
            &patch,
            &letter.payload,
            &plan.payload,
            &event_id,
            &event_id,
            &plan.write.as_str(),
            &bulk,
            &note,
        ],
    )
    .await
    .map_err(classify)?;
    Ok(ReplayOutcome {
        dead_letter_id: id,
        status: LetterStatus::Replayed.as_str(),
        reason: letter.reason,
        event_id,
        outbox_id: event_id,
        outbox_action: plan.write.as_str(),
        patched: plan.patched,
        payload: plan.payload,
        action_id,
    })
}

fn log_replayed(o: &ReplayOutcome, actor: &Operator, bulk: bool) {
    log::info!(target: TARGET,
        "event=dead_letter_replayed id={} reason={} actor={} channel={} patched={} event_id={} outbox={} bulk={bulk}",
        o.dead_letter_id, o.reason, Quoted(actor.name()), actor.channel().as_str(), o.patched, o.event_id, o.outbox_action);
}

// ---------------------------------------------------------------------------------------
// Discard
// ---------------------------------------------------------------------------------------

/// What a discard did.
#[derive(Debug, Clone, Serialize)]
pub struct DiscardOutcome {
    pub dead_letter_id: Uuid,
    pub status: &'static str,
    pub reason: String,
    pub action_id: Uuid,
}

const MARK_LETTERS: &str =
    "UPDATE dead_letters SET status = $2 WHERE id = ANY($1) AND status = 'dead'";
const INSERT_DISCARD_ACTIONS: &str = "
    INSERT INTO dead_letter_actions (id, dead_letter_id, action, actor, channel, original_payload, bulk, note)
    SELECT u.action_id, d.id, 'discard', $3, $4, d.payload, $5, $6
      FROM unnest($1::uuid[], $2::uuid[]) AS u(letter_id, action_id)
      JOIN dead_letters d ON d.id = u.letter_id";

/// Discards one dead letter: it stays recorded (and audited) but is no longer `dead`.
pub async fn discard(
    pool: &PgPool,
    id: Uuid,
    actor: &Operator,
    note: Option<&str>,
) -> Result<DiscardOutcome, DlqError> {
    let mut conn = pool.get().await.map_err(pool_error)?;
    let tx = conn.transaction().await.map_err(classify)?;
    let letter = load_letter(&tx, id, Lock::ForUpdate)
        .await?
        .ok_or(DlqError::NotFound(id))?;
    if letter.status != LetterStatus::Dead.as_str() {
        return Err(DlqError::NotDead {
            id,
            status: letter.status,
        });
    }
    let action_id = Uuid::new_v4();
    discard_in(&tx, &[id], &[action_id], actor, note, false).await?;
    tx.commit().await.map_err(classify)?;
    log_discarded(id, &letter.reason, actor, false);
    Ok(DiscardOutcome {
        dead_letter_id: id,
        status: LetterStatus::Discarded.as_str(),
        reason: letter.reason,
        action_id,
    })
}

async fn discard_in(
    tx: &Transaction<'_>,
    ids: &[Uuid],
    action_ids: &[Uuid],
    actor: &Operator,
    note: Option<&str>,
    bulk: bool,
) -> Result<(), PortError> {
    tx.execute(
        INSERT_DISCARD_ACTIONS,
        &[
            &ids,
            &action_ids,
            &actor.name(),
            &actor.channel().as_str(),
            &bulk,
            &note,
        ],
    )
    .await
    .map_err(classify)?;
    tx.execute(MARK_LETTERS, &[&ids, &LetterStatus::Discarded.as_str()])
        .await
        .map_err(classify)?;
    Ok(())
}

fn log_discarded(id: Uuid, reason: &str, actor: &Operator, bulk: bool) {
    log::info!(target: TARGET,
        "event=dead_letter_discarded id={id} reason={reason} actor={} channel={} bulk={bulk}",
        Quoted(actor.name()), actor.channel().as_str());
}

// ---------------------------------------------------------------------------------------
// Keyset pages and replay previews (the console)
// ---------------------------------------------------------------------------------------

/// Where a keyset page starts: just past one letter's `(received_at, id)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    /// The letters older than this one, newest first.
    Older(DateTime<Utc>, Uuid),
    /// The letters newer than this one (the page before, when going back).
    Newer(DateTime<Utc>, Uuid),
}

/// One page of letters, newest first, and whether there are more on either side.
#[derive(Debug)]
pub struct KeysetPage {
    /// Each with at most [`PAGE_RAW_PREFIX`] bytes of `raw`.
    pub letters: Vec<DeadLetterView>,
    pub has_older: bool,
    pub has_newer: bool,
}

/// How much of each letter's raw entry a page carries (the detail view has all of it).
pub const PAGE_RAW_PREFIX: usize = 512;

/// Newest first, keyset-paged on `(received_at, id)`: every page costs the same, however deep,
/// with `dead_letters_page_idx` / `dead_letters_status_page_idx` (V12).
const PAGE_OLDER: &str = concat!(
    "SELECT ",
    letter_columns!("substring(raw FROM 1 FOR 512)"),
    " FROM dead_letters WHERE ",
    letter_filter!(),
    " AND ($8::text IS NULL OR status = $8)
      AND ($9::timestamptz IS NULL OR (received_at, id) < ($9, $10::uuid))
    ORDER BY received_at DESC, id DESC LIMIT $11"
);
const PAGE_NEWER: &str = concat!(
    "SELECT ",
    letter_columns!("substring(raw FROM 1 FOR 512)"),
    " FROM dead_letters WHERE ",
    letter_filter!(),
    " AND ($8::text IS NULL OR status = $8)
      AND (received_at, id) > ($9, $10::uuid)
    ORDER BY received_at, id LIMIT $11"
);
const COUNT_MATCHING: &str = concat!(
    "SELECT count(*) FROM dead_letters WHERE ",
    letter_filter!(),
    " AND ($8::text IS NULL OR status = $8)"
);

/// One page of the letters matching `filter` (its `all` is irrelevant here) and `status`.
pub async fn page(
    pool: &PgPool,
    filter: &BulkFilter,
    status: Option<LetterStatus>,
    cursor: Option<Cursor>,
    limit: usize,
) -> Result<KeysetPage, PortError> {
    let conn = pool.get().await.map_err(pool_error)?;
    let status = status.map(LetterStatus::as_str);
    let (sql, at, id) = match cursor {
        None => (PAGE_OLDER, None, None),
        Some(Cursor::Older(at, id)) => (PAGE_OLDER, Some(at), Some(id)),
        Some(Cursor::Newer(at, id)) => (PAGE_NEWER, Some(at), Some(id)),
    };
    let fetch = limit as i64 + 1;
    let [p1, p2, p3, p4, p5, p6, p7] = filter_params(filter);
    let rows = conn
        .query(
            sql,
            &[p1, p2, p3, p4, p5, p6, p7, &status, &at, &id, &fetch],
        )
        .await
        .map_err(classify)?;
    let more = rows.len() > limit;
    let mut letters: Vec<DeadLetterView> = rows.iter().take(limit).map(view_from_row).collect();
    Ok(match cursor {
        Some(Cursor::Newer(..)) => {
            letters.reverse();
            KeysetPage {
                letters,
                has_older: true,
                has_newer: more,
            }
        }
        _ => KeysetPage {
            letters,
            has_older: more,
            has_newer: cursor.is_some(),
        },
    })
}

/// How many letters match `filter` and `status` (`dead` is what a bulk action takes).
pub async fn count_matching(
    pool: &PgPool,
    filter: &BulkFilter,
    status: Option<LetterStatus>,
) -> Result<i64, PortError> {
    let conn = pool.get().await.map_err(pool_error)?;
    let status = status.map(LetterStatus::as_str);
    let [p1, p2, p3, p4, p5, p6, p7] = filter_params(filter);
    Ok(conn
        .query_one(COUNT_MATCHING, &[p1, p2, p3, p4, p5, p6, p7, &status])
        .await
        .map_err(classify)?
        .get(0))
}

/// What replaying a letter with a patch would publish, and whether it would be accepted,
/// planned exactly as [`replay`] plans it, without writing anything.
#[derive(Debug, Clone, Serialize)]
pub struct ReplayPreview {
    /// The payload after the patch; `None` when there is none to show (no payload kept and
    /// no patch, or the letter is gone).
    pub payload: Option<Value>,
    pub check: ReplayCheck,
}

pub async fn preview_replay(
    pool: &PgPool,
    id: Uuid,
    patch: Option<&Value>,
) -> Result<ReplayPreview, PortError> {
    let mut conn = pool.get().await.map_err(pool_error)?;
    let tx = conn.transaction().await.map_err(classify)?;
    let (check, planned) = ReplayCheck::of(prepare(&tx, id, patch, Lock::No).await)?;
    let payload = match planned {
        Some(p) => Some(p),
        // Refused: still show what the patch made of the payload.
        None => load_letter(&tx, id, Lock::No)
            .await?
            .and_then(|l| memlink_actors::dlq::replay_payload(&l.as_replay(), patch).ok()),
    };
    // Read-only: nothing to commit.
    drop(tx);
    Ok(ReplayPreview { payload, check })
}

// ---------------------------------------------------------------------------------------
// Bulk
// ---------------------------------------------------------------------------------------

/// Which `dead` letters a bulk action takes. At least one field, or `all`, must be set, so
/// an empty request can never mean "everything".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkFilter {
    pub reason: Option<String>,
    pub chat_id: Option<Uuid>,
    pub since: Option<DateTime<Utc>>,
    pub all: bool,
    // The console's filters (the HTTP API and the CLI leave them unset).
    /// Received strictly before this instant.
    pub until: Option<DateTime<Utc>>,
    pub event_type: Option<String>,
    /// The `user_id` member of the payload.
    pub user_id: Option<String>,
    /// Text the payload contains, byte for byte (case-sensitive).
    pub text: Option<String>,
}

impl BulkFilter {
    pub fn check(&self) -> Result<(), DlqError> {
        if self.all || self.narrows() {
            Ok(())
        } else {
            Err(DlqError::FilterRequired)
        }
    }

    /// Whether any field narrows the match (`all` aside).
    pub fn narrows(&self) -> bool {
        self.reason.is_some()
            || self.chat_id.is_some()
            || self.since.is_some()
            || self.until.is_some()
            || self.event_type.is_some()
            || self.user_id.is_some()
            || self.text.is_some()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BulkAction {
    Replay,
    Discard,
}

/// One letter a bulk action left alone, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    pub id: Uuid,
    pub code: &'static str,
    pub message: String,
}

/// What a bulk action did (or, on a dry run, would do).
#[derive(Debug, Clone, Serialize)]
pub struct BulkReport {
    pub action: BulkAction,
    pub dry_run: bool,
    /// `dead` letters matching the filter.
    pub matched: u64,
    /// Replayed or discarded (on a dry run: that would be).
    pub affected: u64,
    pub skipped: u64,
    pub skipped_by_code: BTreeMap<&'static str, u64>,
    /// The first [`MAX_REPORTED_SKIPS`] skipped letters.
    pub skipped_letters: Vec<Skipped>,
}

impl BulkReport {
    fn new(action: BulkAction, dry_run: bool, matched: usize) -> BulkReport {
        BulkReport {
            action,
            dry_run,
            matched: matched as u64,
            affected: 0,
            skipped: 0,
            skipped_by_code: BTreeMap::new(),
            skipped_letters: Vec::new(),
        }
    }

    fn skip(&mut self, id: Uuid, e: &DlqError) {
        self.skipped += 1;
        *self.skipped_by_code.entry(e.code()).or_default() += 1;
        if self.skipped_letters.len() < MAX_REPORTED_SKIPS {
            self.skipped_letters.push(Skipped {
                id,
                code: e.code(),
                message: e.to_string(),
            });
        }
    }

    /// The JSON answer: counts under action-specific names (`replayed`, or `would_replay`
    /// on a dry run), so a dry run can never be mistaken for a real one.
    pub fn to_json(&self) -> Value {
        let verb = match (self.action, self.dry_run) {
            (BulkAction::Replay, false) => "replayed",
            (BulkAction::Replay, true) => "would_replay",
            (BulkAction::Discard, false) => "discarded",
            (BulkAction::Discard, true) => "would_discard",
        };
        let mut out = json!({
            "action": self.action,
            "dry_run": self.dry_run,
            "matched": self.matched,
            "skipped": self.skipped,
            "skipped_by_code": self.skipped_by_code,
            "skipped_letters": self.skipped_letters,
        });
        out[verb] = json!(self.affected);
        out
    }
}

const SELECT_BULK: &str = concat!(
    "SELECT id, reason FROM dead_letters WHERE status = 'dead' AND ",
    letter_filter!(),
    " ORDER BY received_at, id"
);
const SELECT_BULK_FOR_UPDATE: &str = concat!(
    "SELECT id, reason FROM dead_letters WHERE status = 'dead' AND ",
    letter_filter!(),
    " ORDER BY received_at, id FOR UPDATE"
);

async fn bulk_targets(
    tx: &Transaction<'_>,
    filter: &BulkFilter,
    lock: Lock,
) -> Result<Vec<(Uuid, String)>, PortError> {
    let sql = match lock {
        Lock::ForUpdate => SELECT_BULK_FOR_UPDATE,
        Lock::No => SELECT_BULK,
    };
    Ok(tx
        .query(sql, &filter_params(filter))
        .await
        .map_err(classify)?
        .into_iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}

/// The filter's parameters `$1` to `$7` of [`letter_filter`].
fn filter_params(f: &BulkFilter) -> [&(dyn tokio_postgres::types::ToSql + Sync); 7] {
    [
        &f.reason,
        &f.chat_id,
        &f.since,
        &f.until,
        &f.event_type,
        &f.user_id,
        &f.text,
    ]
}

/// Replays every `dead` letter matching the filter, unpatched, each in its own transaction
/// (one that cannot be replayed is skipped with its reason, the others go on). A dry run
/// plans each replay exactly as a real one would and changes nothing. A Postgres failure
/// stops the run: what was replayed stays replayed, and running it again takes the rest.
pub async fn bulk_replay(
    pool: &PgPool,
    filter: &BulkFilter,
    actor: &Operator,
    dry_run: bool,
    note: Option<&str>,
) -> Result<BulkReport, DlqError> {
    filter.check()?;
    let mut conn = pool.get().await.map_err(pool_error)?;
    let targets = {
        let tx = conn.transaction().await.map_err(classify)?;
        let targets = bulk_targets(&tx, filter, Lock::No).await?;
        if dry_run {
            let mut report = BulkReport::new(BulkAction::Replay, true, targets.len());
            for (id, _) in &targets {
                match prepare(&tx, *id, None, Lock::No).await {
                    Ok(_) => report.affected += 1,
                    Err(DlqError::Port(e)) => return Err(e.into()),
                    Err(e) => report.skip(*id, &e),
                }
            }
            return Ok(report);
        }
        targets
    };
    let mut report = BulkReport::new(BulkAction::Replay, false, targets.len());
    for (id, _) in &targets {
        let tx = conn.transaction().await.map_err(classify)?;
        match replay_in(&tx, *id, None, actor, note, true).await {
            Ok(outcome) => {
                tx.commit().await.map_err(classify)?;
                log_replayed(&outcome, actor, true);
                report.affected += 1;
            }
            Err(DlqError::Port(e)) => return Err(e.into()),
            Err(e) => report.skip(*id, &e),
        }
    }
    log_bulk(&report, filter, actor);
    Ok(report)
}

/// Discards every `dead` letter matching the filter, in one transaction. A dry run counts
/// them and changes nothing.
pub async fn bulk_discard(
    pool: &PgPool,
    filter: &BulkFilter,
    actor: &Operator,
    dry_run: bool,
    note: Option<&str>,
) -> Result<BulkReport, DlqError> {
    filter.check()?;
    let mut conn = pool.get().await.map_err(pool_error)?;
    let tx = conn.transaction().await.map_err(classify)?;
    let lock = if dry_run { Lock::No } else { Lock::ForUpdate };
    let targets = bulk_targets(&tx, filter, lock).await?;
    let mut report = BulkReport::new(BulkAction::Discard, dry_run, targets.len());
    report.affected = targets.len() as u64;
    if dry_run || targets.is_empty() {
        return Ok(report);
    }
    let ids: Vec<Uuid> = targets.iter().map(|(id, _)| *id).collect();
    let action_ids: Vec<Uuid> = ids.iter().map(|_| Uuid::new_v4()).collect();
    discard_in(&tx, &ids, &action_ids, actor, note, true).await?;
    tx.commit().await.map_err(classify)?;
    for (id, reason) in &targets {
        log_discarded(*id, reason, actor, true);
    }
    log_bulk(&report, filter, actor);
    Ok(report)
}

fn log_bulk(report: &BulkReport, filter: &BulkFilter, actor: &Operator) {
    let action = match report.action {
        BulkAction::Replay => "replay",
        BulkAction::Discard => "discard",
    };
    let shown = |v: Option<String>| v.map_or_else(|| "-".to_owned(), |s| Quoted(&s).to_string());
    log::info!(target: TARGET,
        "event=dead_letters_bulk action={action} actor={} channel={} reason={} chat_id={} since={} all={} matched={} affected={} skipped={}",
        Quoted(actor.name()), actor.channel().as_str(), shown(filter.reason.clone()),
        shown(filter.chat_id.map(|c| c.to_string())), shown(filter.since.map(|t| t.to_rfc3339())),
        filter.all, report.matched, report.affected, report.skipped);
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

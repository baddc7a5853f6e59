//! Replaying a letter through the outbox, in one transaction with its audit row (planned and
//! validated by the engine).
//! Part of [`super`]: the same rules hold (never publish to Redis, never change a letter that
//! is not `dead`, never an action without its audit row).

use super::*;

/// The columns a replay or discard needs, as stored.
pub(super) struct LetterRow {
    pub(super) id: Uuid,
    pub(super) source: Source,
    pub(super) source_ref: String,
    pub(super) event_id: Option<String>,
    pub(super) event_type: Option<String>,
    pub(super) payload: Option<Vec<u8>>,
    pub(super) status: String,
    pub(super) reason: String,
}

impl LetterRow {
    pub(super) fn as_replay(&self) -> ReplayLetter<'_> {
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
pub(super) enum Lock {
    /// Row locks held to the end of the transaction: the letter (and its outbox row) cannot
    /// change between planning and writing, and two replays of one letter serialise.
    ForUpdate,
    /// A read (dry runs, the detail view's replay check).
    No,
}

pub(super) const SELECT_LETTER: &str = "
    SELECT id, source, source_ref, event_id, event_type, payload, status, reason
      FROM dead_letters WHERE id = $1";
pub(super) const SELECT_LETTER_FOR_UPDATE: &str = "
    SELECT id, source, source_ref, event_id, event_type, payload, status, reason
      FROM dead_letters WHERE id = $1 FOR UPDATE";

pub(super) async fn load_letter(
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

pub(super) const SELECT_OUTBOX_ROW: &str =
    "SELECT id, aggregate_id FROM outbox_events WHERE id = $1";
pub(super) const SELECT_OUTBOX_ROW_FOR_UPDATE: &str =
    "SELECT id, aggregate_id FROM outbox_events WHERE id = $1 FOR UPDATE";
pub(super) const EVENT_ID_USED: &str = "
    SELECT EXISTS (SELECT 1 FROM outbox_events WHERE id = $1)
        OR EXISTS (SELECT 1 FROM processed_events WHERE event_id = $1)";

/// Loads the letter, checks it is `dead`, gathers what the plan needs and plans the replay.
pub(super) async fn prepare(
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

pub(super) const RESET_OUTBOX_ROW: &str = "
    UPDATE outbox_events
       SET payload = $2, aggregate_id = $3, status = 'pending', claimed_until = NULL,
           relayed_at = NULL, stream_id = NULL
     WHERE id = $1";
/// The relay also polls; the notification (sent at commit) only makes it prompt.
pub(super) const NOTIFY_OUTBOX: &str = "SELECT pg_notify('memlink_outbox', '')";
pub(super) const INSERT_OUTBOX_ROW: &str = "
    INSERT INTO outbox_events (id, aggregate_id, event_type, payload) VALUES ($1, $2, $3, $4)
    ON CONFLICT (id) DO NOTHING";
pub(super) const MARK_LETTER: &str =
    "UPDATE dead_letters SET status = $2 WHERE id = $1 AND status = 'dead'";
pub(super) const INSERT_REPLAY_ACTION: &str = "
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

pub(super) async fn replay_in(
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

pub(super) fn log_replayed(o: &ReplayOutcome, actor: &Operator, bulk: bool) {
    log::info!(target: TARGET,
        "event=dead_letter_replayed id={} reason={} actor={} channel={} patched={} event_id={} outbox={} bulk={bulk}",
        o.dead_letter_id, o.reason, Quoted(actor.name()), actor.channel().as_str(), o.patched, o.event_id, o.outbox_action);
}

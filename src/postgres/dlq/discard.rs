//! Discarding letters, each with its audit row.
//! Part of [`super`]: the same rules hold (never publish to Redis, never change a letter that
//! is not `dead`, never an action without its audit row).

use super::*;

/// What a discard did.
#[derive(Debug, Clone, Serialize)]
pub struct DiscardOutcome {
    pub dead_letter_id: Uuid,
    pub status: &'static str,
    pub reason: String,
    pub action_id: Uuid,
}

pub(super) const MARK_LETTERS: &str =
    "UPDATE dead_letters SET status = $2 WHERE id = ANY($1) AND status = 'dead'";
pub(super) const INSERT_DISCARD_ACTIONS: &str = "
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

pub(super) async fn discard_in(
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

pub(super) fn log_discarded(id: Uuid, reason: &str, actor: &Operator, bulk: bool) {
    log::info!(target: TARGET,
        "event=dead_letter_discarded id={id} reason={reason} actor={} channel={} bulk={bulk}",
        Quoted(actor.name()), actor.channel().as_str());
}

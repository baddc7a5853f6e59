//! Reading letters: the admin list (filters, offset pages), one letter's detail with its audit
//! history and whether a replay would decode.
//! Part of [`super`]: the same rules hold (never publish to Redis, never change a letter that
//! is not `dead`, never an action without its audit row).

use super::*;

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

pub(super) fn view_from_row(r: &tokio_postgres::Row) -> DeadLetterView {
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

pub(super) const LIST_DEAD_LETTERS: &str = concat!(
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

pub(super) const COUNT_DEAD_LETTERS: &str = "
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
    pub(super) fn of(
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

pub(super) const SELECT_DETAIL: &str = concat!(
    "SELECT ",
    letter_columns!(),
    ", payload FROM dead_letters WHERE id = $1"
);

pub(super) const SELECT_ACTIONS: &str = "
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

//! Keyset pages over the letters and replay previews, for the console at 100,000 letters.
//! Part of [`super`]: the same rules hold (never publish to Redis, never change a letter that
//! is not `dead`, never an action without its audit row).

use super::*;

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
pub(super) const PAGE_OLDER: &str = concat!(
    "SELECT ",
    letter_columns!("substring(raw FROM 1 FOR 512)"),
    " FROM dead_letters WHERE ",
    letter_filter!(),
    " AND ($8::text IS NULL OR status = $8)
      AND ($9::timestamptz IS NULL OR (received_at, id) < ($9, $10::uuid))
    ORDER BY received_at DESC, id DESC LIMIT $11"
);
pub(super) const PAGE_NEWER: &str = concat!(
    "SELECT ",
    letter_columns!("substring(raw FROM 1 FOR 512)"),
    " FROM dead_letters WHERE ",
    letter_filter!(),
    " AND ($8::text IS NULL OR status = $8)
      AND (received_at, id) > ($9, $10::uuid)
    ORDER BY received_at, id LIMIT $11"
);
pub(super) const COUNT_MATCHING: &str = concat!(
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

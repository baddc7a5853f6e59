//! Replaying or discarding every letter a filter matches, in bounded transactions, reporting
//! what was skipped and why.
//! Part of [`super`]: the same rules hold (never publish to Redis, never change a letter that
//! is not `dead`, never an action without its audit row).

use super::*;

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
    pub(super) fn new(action: BulkAction, dry_run: bool, matched: usize) -> BulkReport {
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

    pub(super) fn skip(&mut self, id: Uuid, e: &DlqError) {
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

pub(super) const SELECT_BULK: &str = concat!(
    "SELECT id, reason FROM dead_letters WHERE status = 'dead' AND ",
    letter_filter!(),
    " ORDER BY received_at, id"
);
pub(super) const SELECT_BULK_FOR_UPDATE: &str = concat!(
    "SELECT id, reason FROM dead_letters WHERE status = 'dead' AND ",
    letter_filter!(),
    " ORDER BY received_at, id FOR UPDATE"
);

pub(super) async fn bulk_targets(
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
pub(super) fn filter_params(f: &BulkFilter) -> [&(dyn tokio_postgres::types::ToSql + Sync); 7] {
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

pub(super) fn log_bulk(report: &BulkReport, filter: &BulkFilter, actor: &Operator) {
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

//! Re-extraction: re-runs the current extractor over stored user messages and makes each
//! message's statements exactly what it now extracts, then lets the memory model re-derive
//! the touched facts. One transaction per user, under that user's lock.

use chrono::{DateTime, Utc};
use memlink_actors::extract::{EXTRACTOR_NAME, EXTRACTOR_VERSION};
use memlink_actors::memory::reextract::diff_message;
use memlink_actors::memory::{Changes, Statement};
use memlink_actors::ports::PortError;
use serde::Serialize;
use tokio_postgres::Transaction;
use uuid::Uuid;

use super::statements::message_statements;
use super::{lock_users, rebuild};
use crate::postgres::{classify, pool_error, PgPool};

/// One statement that re-extraction adds, removes or keeps.
#[derive(Debug, Clone, Serialize)]
pub struct StatementChange {
    pub change: &'static str,
    pub user_id: String,
    pub message_id: Uuid,
    pub chat_id: Uuid,
    pub predicate: String,
    pub object: String,
    pub kind: String,
    pub rule_id: String,
    pub extractor_version: i32,
    /// For a kept statement: the extractor version it carried before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_version: Option<i32>,
}

#[derive(Debug, Default, Serialize)]
pub struct ReextractReport {
    pub since: Option<DateTime<Utc>>,
    pub extractor: &'static str,
    pub extractor_version: i32,
    pub dry_run: bool,
    pub users: u64,
    pub messages: u64,
    pub added: u64,
    pub removed: u64,
    pub unchanged: u64,
    /// Unchanged statements whose extractor metadata (version, rule, span, confidence) was
    /// rewritten to the current extractor's.
    pub restamped: u64,
    pub facts_written: u64,
    pub facts_deleted: u64,
    /// Only the added and removed statements, and the restamped ones.
    pub changes: Vec<StatementChange>,
}

impl ReextractReport {
    /// Whether the run would change (or changed) anything.
    pub fn changed(&self) -> bool {
        self.added + self.removed + self.restamped > 0
    }
}

const REEXTRACT_USERS: &str = "
    SELECT DISTINCT user_id FROM messages
     WHERE role = 'user' AND processed_at IS NOT NULL AND created_at >= $1
     ORDER BY user_id";

/// Only processed messages: one still in flight is extracted by the worker, with this same
/// extractor version.
const REEXTRACT_MESSAGES: &str = "
    SELECT id, chat_id, content, created_at FROM messages
     WHERE user_id = $1 AND role = 'user' AND processed_at IS NOT NULL AND created_at >= $2
     ORDER BY created_at, id";

/// Re-runs the current extractor over the user messages said since `since` and makes each
/// message's statements exactly what it now extracts, then re-derives the touched facts.
/// One transaction per user, under that user's lock.
pub async fn reextract(
    pool: &PgPool,
    since: DateTime<Utc>,
    dry_run: bool,
) -> Result<ReextractReport, PortError> {
    let mut report = ReextractReport {
        since: Some(since),
        extractor: EXTRACTOR_NAME,
        extractor_version: EXTRACTOR_VERSION,
        dry_run,
        ..ReextractReport::default()
    };
    let mut conn = pool.get().await.map_err(pool_error)?;
    let users: Vec<String> = conn
        .query(REEXTRACT_USERS, &[&since])
        .await
        .map_err(classify)?
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    for user in users {
        let st = conn.statements();
        let tx = conn.transaction().await.map_err(classify)?;
        lock_users(tx.client(), &[user.as_str()]).await?;
        let changes = reextract_user(&tx, &user, since, &mut report).await?;
        // A dry run does the same work, so its fact counts are exact, then rolls it back.
        let rebuilt = rebuild(tx.client(), &st, changes).await?;
        report.facts_written += rebuilt.facts_written as u64;
        report.facts_deleted += rebuilt.facts_deleted.len() as u64;
        if dry_run {
            tx.rollback().await.map_err(classify)?;
        } else {
            tx.commit().await.map_err(classify)?;
        }
    }
    log::info!(target: "memlink::memory", "event=reextract_done since={} extractor={} version={} dry_run={} users={} messages={} added={} removed={} unchanged={} restamped={} facts_written={} facts_deleted={}",
        since.to_rfc3339(), EXTRACTOR_NAME, EXTRACTOR_VERSION, dry_run, report.users, report.messages,
        report.added, report.removed, report.unchanged, report.restamped, report.facts_written, report.facts_deleted);
    Ok(report)
}

/// The statement diff for one user's messages since `since`.
async fn reextract_user(
    tx: &Transaction<'_>,
    user: &str,
    since: DateTime<Utc>,
    report: &mut ReextractReport,
) -> Result<Changes, PortError> {
    let messages = tx
        .query(REEXTRACT_MESSAGES, &[&user, &since])
        .await
        .map_err(classify)?;
    let ids: Vec<Uuid> = messages.iter().map(|r| r.get(0)).collect();
    let mut stored = message_statements(tx.client(), &ids).await?;
    report.users += 1;
    report.messages += messages.len() as u64;
    let mut changes = Changes::default();
    for m in &messages {
        let (id, chat, content, said_at): (Uuid, Uuid, String, DateTime<Utc>) =
            (m.get(0), m.get(1), m.get(2), m.get(3));
        let extracted = memlink_actors::extract::extract(&content)
            .iter()
            .enumerate()
            .map(|(ordinal, fact)| {
                Statement::from_extracted(Uuid::new_v4(), fact, user, id, chat, said_at, ordinal)
            })
            .collect();
        let diff = diff_message(stored.remove(&id).unwrap_or_default(), extracted);
        report.unchanged += (diff.unchanged + diff.restamped.len()) as u64;
        report.restamped += diff.restamped.len() as u64;
        report.added += diff.added.len() as u64;
        report.removed += diff.removed.len() as u64;
        for new in &diff.added {
            report.changes.push(change("added", new, None));
        }
        for (prev, new) in &diff.restamped {
            report
                .changes
                .push(change("restamped", new, Some(prev.extractor_version)));
        }
        for gone in &diff.removed {
            report.changes.push(change("removed", gone, None));
        }
        diff.into_changes(&mut changes);
    }
    Ok(changes)
}

fn change(what: &'static str, s: &Statement, previous_version: Option<i32>) -> StatementChange {
    StatementChange {
        change: what,
        user_id: s.user_id.clone(),
        message_id: s.message_id,
        chat_id: s.chat_id,
        predicate: s.predicate.clone(),
        object: s.object.clone(),
        kind: s.kind.as_str().to_owned(),
        rule_id: s.rule_id.clone(),
        extractor_version: s.extractor_version,
        previous_version,
    }
}

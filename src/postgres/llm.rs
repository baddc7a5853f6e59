//! The LLM enricher's storage: which processed user messages and chats are owed an LLM pass,
//! their leases and outcomes, and the facts and titles the LLM adds.
//!
//! Facts go in as statements, like the worker's, under the same per-user lock, and the memory
//! graph's own rebuild derives the facts from them, so there is one set of rules. This module must never touch a message's rules facts except in `llm`
//! mode with a validated answer, and never overwrite a title that is not a fallback.

use std::time::Duration;

use async_trait::async_trait;
use memlink_actors::extract::{FactKind, Predicate};
use memlink_actors::ports::{EnrichmentStore, PortError};
use serde::Serialize;
use uuid::Uuid;

use super::memory::{self, LOCK_USERS};
use super::store::no_nul;
use super::{classify, pool_error, PgPool};
use crate::config::LlmMode;
use memlink_actors::enrich::facts::{
    extractor_name, merge, LlmFact, StoredFact, LLM_CONFIDENCE, LLM_EXTRACTOR_VERSION, LLM_RULE_ID,
};
use memlink_actors::memory::{Changes, Statement, StatementKind};

pub use memlink_actors::enrich::{MessageJob, Outcome, TitleJob};

const ENSURE_EPOCH: &str =
    "INSERT INTO llm_epoch DEFAULT VALUES ON CONFLICT (singleton) DO NOTHING";

/// Records when the enricher first ran (messages processed before are not enriched).
pub async fn ensure_epoch(pool: &PgPool) -> Result<(), PortError> {
    let conn = pool.get().await.map_err(pool_error)?;
    conn.execute(ENSURE_EPOCH, &[]).await.map_err(classify)?;
    Ok(())
}

/// Claims that outlived their lease this often (the process died, or hung, each time) are
/// given up on rather than tried forever.
const ABANDON_MESSAGES: &str = "
    UPDATE llm_enrichment
       SET status = 'failed', last_error = 'abandoned: claimed ' || attempts || ' times without an outcome',
           done_at = now(), claimed_until = NULL
     WHERE status = 'pending' AND claimed_until < now() AND attempts >= $1
 RETURNING message_id";

const ABANDON_TITLES: &str = "
    UPDATE llm_titles
       SET status = 'failed', last_error = 'abandoned: claimed ' || attempts || ' times without an outcome',
           done_at = now(), claimed_until = NULL
     WHERE status = 'pending' AND claimed_until < now() AND attempts >= $1
 RETURNING chat_id";

/// Gives up on claims that expired `max_claims` times; returns (messages, titles) given up.
pub async fn abandon_stale(
    pool: &PgPool,
    max_claims: i32,
) -> Result<(Vec<Uuid>, Vec<Uuid>), PortError> {
    let conn = pool.get().await.map_err(pool_error)?;
    let ids = |rows: Vec<tokio_postgres::Row>| rows.into_iter().map(|r| r.get(0)).collect();
    let messages = conn
        .query(ABANDON_MESSAGES, &[&max_claims])
        .await
        .map_err(classify)?;
    let titles = conn
        .query(ABANDON_TITLES, &[&max_claims])
        .await
        .map_err(classify)?;
    Ok((ids(messages), ids(titles)))
}

/// Claims whose lease expired (their enricher died): taken over, one more attempt counted.
const RECLAIM_MESSAGES: &str = "
    WITH stale AS (
        SELECT message_id FROM llm_enrichment
         WHERE status = 'pending' AND claimed_until < now()
         ORDER BY processed_at, message_id
         LIMIT $1
           FOR UPDATE SKIP LOCKED),
    claimed AS (
        UPDATE llm_enrichment e
           SET claimed_until = now() + make_interval(secs => $2), attempts = e.attempts + 1, claimed_by = $3
          FROM stale WHERE e.message_id = stale.message_id
     RETURNING e.message_id)
    SELECT m.id, m.chat_id, m.user_id, m.content, m.created_at
      FROM claimed JOIN messages m ON m.id = claimed.message_id";

/// New work: user messages processed since the enricher's epoch (or shortly before the newest
/// one already taken, which bounds the scan while letting a late commit still be found) that
/// no enricher has taken. `ON CONFLICT DO NOTHING` makes concurrent enrichers skip each other.
const CLAIM_MESSAGES: &str = "
    WITH since AS (
        SELECT greatest(e.started_at,
                        coalesce((SELECT max(processed_at) FROM llm_enrichment), '-infinity'::timestamptz)
                          - make_interval(secs => $3)) AS t
          FROM llm_epoch e),
    fresh AS (
        SELECT m.id, m.processed_at FROM messages m, since
         WHERE m.role = 'user' AND m.processed_at IS NOT NULL AND m.processed_at >= since.t
           AND NOT EXISTS (SELECT 1 FROM llm_enrichment x WHERE x.message_id = m.id)
         ORDER BY m.processed_at, m.id
         LIMIT $1),
    claimed AS (
        INSERT INTO llm_enrichment (message_id, processed_at, claimed_until, claimed_by)
        SELECT id, processed_at, now() + make_interval(secs => $2), $4 FROM fresh
        ON CONFLICT (message_id) DO NOTHING
     RETURNING message_id)
    SELECT m.id, m.chat_id, m.user_id, m.content, m.created_at
      FROM claimed JOIN messages m ON m.id = claimed.message_id
     ORDER BY m.processed_at, m.id";

/// How far back from the newest claimed message a scan looks for messages committed late.
const LATE_COMMIT_WINDOW_SECS: f64 = 300.0;

/// Claims up to `limit` messages: expired claims first, then new ones.
pub async fn claim_messages(
    pool: &PgPool,
    owner: Uuid,
    limit: usize,
    lease: Duration,
) -> Result<Vec<MessageJob>, PortError> {
    let conn = pool.get().await.map_err(pool_error)?;
    let lease = lease.as_secs_f64();
    let mut rows = conn
        .query(RECLAIM_MESSAGES, &[&(limit as i64), &lease, &owner])
        .await
        .map_err(classify)?;
    if rows.len() < limit {
        let more = conn
            .query(
                CLAIM_MESSAGES,
                &[
                    &((limit - rows.len()) as i64),
                    &lease,
                    &LATE_COMMIT_WINDOW_SECS,
                    &owner,
                ],
            )
            .await
            .map_err(classify)?;
        rows.extend(more);
    }
    Ok(rows
        .into_iter()
        .map(|r| MessageJob {
            message_id: r.get(0),
            chat_id: r.get(1),
            user_id: r.get(2),
            content: r.get(3),
            created_at: r.get(4),
        })
        .collect())
}

/// Once per chat: a chat whose fallback title came from one of these messages is claimed.
const CLAIM_TITLES: &str = "
    INSERT INTO llm_titles (chat_id, message_id, claimed_until, claimed_by)
    SELECT c.id, c.title_message_id, now() + make_interval(secs => $2), $3
      FROM chats c
     WHERE c.title_message_id = ANY($1) AND c.title_source = 'fallback'
     ORDER BY c.id
    ON CONFLICT (chat_id) DO NOTHING
 RETURNING chat_id, message_id";

const RECLAIM_TITLES: &str = "
    WITH stale AS (
        SELECT chat_id FROM llm_titles
         WHERE status = 'pending' AND claimed_until < now()
         ORDER BY created_at, chat_id
         LIMIT $1
           FOR UPDATE SKIP LOCKED),
    claimed AS (
        UPDATE llm_titles t
           SET claimed_until = now() + make_interval(secs => $2), attempts = t.attempts + 1, claimed_by = $3
          FROM stale WHERE t.chat_id = stale.chat_id
     RETURNING t.chat_id, t.message_id)
    SELECT claimed.chat_id, claimed.message_id, m.content
      FROM claimed JOIN messages m ON m.id = claimed.message_id";

/// Claims the titles owed for `jobs` (chats whose first user message is among them), and
/// up to `limit` expired title claims.
pub async fn claim_titles(
    pool: &PgPool,
    owner: Uuid,
    jobs: &[MessageJob],
    limit: usize,
    lease: Duration,
) -> Result<Vec<TitleJob>, PortError> {
    let conn = pool.get().await.map_err(pool_error)?;
    let lease = lease.as_secs_f64();
    let mut out: Vec<TitleJob> = conn
        .query(RECLAIM_TITLES, &[&(limit as i64), &lease, &owner])
        .await
        .map_err(classify)?
        .into_iter()
        .map(|r| TitleJob {
            chat_id: r.get(0),
            message_id: r.get(1),
            content: r.get(2),
        })
        .collect();
    if jobs.is_empty() {
        return Ok(out);
    }
    let ids: Vec<Uuid> = jobs.iter().map(|j| j.message_id).collect();
    for r in conn
        .query(CLAIM_TITLES, &[&ids, &lease, &owner])
        .await
        .map_err(classify)?
    {
        let message_id: Uuid = r.get(1);
        if let Some(job) = jobs.iter().find(|j| j.message_id == message_id) {
            out.push(TitleJob {
                chat_id: r.get(0),
                message_id,
                content: job.content.clone(),
            });
        }
    }
    Ok(out)
}

/// A draining enricher hands its unfinished claims back at once, uncounted, instead of
/// letting them wait for their lease to run out.
const RELEASE_MESSAGES: &str = "
    UPDATE llm_enrichment SET claimed_until = now(), attempts = greatest(attempts - 1, 0), claimed_by = NULL
     WHERE claimed_by = $1 AND status = 'pending'";

const RELEASE_TITLES: &str = "
    UPDATE llm_titles SET claimed_until = now(), attempts = greatest(attempts - 1, 0), claimed_by = NULL
     WHERE claimed_by = $1 AND status = 'pending'";

/// Gives back this enricher's unfinished claims; returns how many.
pub async fn release_claims(pool: &PgPool, owner: Uuid) -> Result<u64, PortError> {
    let conn = pool.get().await.map_err(pool_error)?;
    let m = conn
        .execute(RELEASE_MESSAGES, &[&owner])
        .await
        .map_err(classify)?;
    let t = conn
        .execute(RELEASE_TITLES, &[&owner])
        .await
        .map_err(classify)?;
    Ok(m + t)
}

const LOCK_ENRICHMENT: &str = "SELECT status FROM llm_enrichment WHERE message_id = $1 FOR UPDATE";

const FINISH_DONE: &str = "
    UPDATE llm_enrichment
       SET status = 'done', facts_added = $2, model = $3, last_error = NULL, done_at = now(), claimed_until = NULL
     WHERE message_id = $1 AND status = 'pending'";

/// Stores the LLM's validated facts for one message, in one transaction, and marks it done.
/// `Both`: merged beside the rules' statements. `Llm`: they replace the rules' statements.
/// The facts are then re-derived by the memory graph's own rebuild, so there is one set of
/// rules for supersession, corrections and retractions. Returns how many statements were
/// added (`None` when another enricher already finished the message).
pub async fn store_facts(
    pool: &PgPool,
    job: &MessageJob,
    facts: Vec<LlmFact>,
    mode: LlmMode,
    model: &str,
) -> Result<Option<usize>, PortError> {
    let mut conn = pool.get().await.map_err(pool_error)?;
    let st = conn.statements();
    let tx = conn.transaction().await.map_err(classify)?;
    let status: Option<String> = tx
        .query_opt(LOCK_ENRICHMENT, &[&job.message_id])
        .await
        .map_err(classify)?
        .map(|r| r.get(0));
    if status.as_deref() != Some("pending") {
        return Ok(None);
    }
    tx.query(LOCK_USERS, &[&vec![job.user_id.as_str()]])
        .await
        .map_err(classify)?;

    // What the message already stated: the rules' statements, and LLM statements of an
    // earlier pass (a row set back to `pending` to ask again must not duplicate them in
    // another casing).
    let mut statements = memory::statements::message_statements(tx.client(), &[job.message_id])
        .await?
        .remove(&job.message_id)
        .unwrap_or_default();
    statements.sort_by_key(|s| (s.ordinal, s.id));
    let ordinal = statements.len();
    let mut removed = Vec::new();
    let mut stored = Vec::new();
    for st in statements {
        // In `llm` mode a valid answer replaces the rules' statements of this message.
        if mode == LlmMode::Llm && st.rule_id != LLM_RULE_ID {
            removed.push(st);
            continue;
        }
        if let (Some(predicate), Some(kind)) = (
            Predicate::parse(&st.predicate),
            parse_kind(st.kind.as_str()),
        ) {
            stored.push(StoredFact {
                predicate,
                object: st.object,
                kind,
            });
        }
    }
    let to_add = merge(&stored, facts);
    let span_end = i32::try_from(job.content.len()).unwrap_or(i32::MAX);
    let extractor = extractor_name(model);
    let added: Vec<Statement> = to_add
        .iter()
        .enumerate()
        .map(|(i, f)| Statement {
            id: Uuid::new_v4(),
            fact_id: None,
            user_id: job.user_id.clone(),
            predicate: f.predicate.as_str().to_owned(),
            object: no_nul(&f.object),
            kind: StatementKind::from(f.kind),
            attributes: serde_json::Value::Object(serde_json::Map::new()),
            message_id: job.message_id,
            chat_id: job.chat_id,
            said_at: job.created_at,
            ordinal: i32::try_from(ordinal + i).unwrap_or(i32::MAX),
            span_start: 0,
            span_end,
            rule_id: LLM_RULE_ID.to_owned(),
            extractor: extractor.clone(),
            extractor_version: LLM_EXTRACTOR_VERSION,
            confidence: LLM_CONFIDENCE,
        })
        .collect();
    let inserted = added.len();
    if !added.is_empty() || !removed.is_empty() {
        memory::rebuild(
            tx.client(),
            &st,
            Changes {
                added,
                removed,
                ..Changes::default()
            },
        )
        .await?;
    }
    let count = i32::try_from(inserted).unwrap_or(i32::MAX);
    tx.execute(FINISH_DONE, &[&job.message_id, &count, &model])
        .await
        .map_err(classify)?;
    tx.commit().await.map_err(classify)?;
    Ok(Some(inserted))
}

fn parse_kind(s: &str) -> Option<FactKind> {
    match s {
        "assert" => Some(FactKind::Assert),
        "correction" => Some(FactKind::Correction),
        "change" => Some(FactKind::Change),
        "retraction" => Some(FactKind::Retraction),
        _ => None,
    }
}

const FINISH_MESSAGE: &str = "
    UPDATE llm_enrichment
       SET status = $2, last_error = $3, model = $4, done_at = now(), claimed_until = NULL
     WHERE message_id = $1 AND status = 'pending'";

/// Records that the LLM pass over a message ended without facts being used.
pub async fn finish_message(
    pool: &PgPool,
    message_id: Uuid,
    outcome: Outcome,
    reason: &str,
    model: &str,
) -> Result<(), PortError> {
    let conn = pool.get().await.map_err(pool_error)?;
    conn.execute(
        FINISH_MESSAGE,
        &[&message_id, &outcome.as_str(), &no_nul(reason), &model],
    )
    .await
    .map_err(classify)?;
    Ok(())
}

/// The generated title replaces the fallback; a title from elsewhere is never overwritten.
const SET_LLM_TITLE: &str = "
    UPDATE chats SET title = $2, title_source = 'llm'
     WHERE id = $1 AND title_source IS DISTINCT FROM 'llm'";

const FINISH_TITLE_DONE: &str = "
    UPDATE llm_titles
       SET status = 'done', title = $2, model = $3, last_error = NULL, done_at = now(), claimed_until = NULL
     WHERE chat_id = $1 AND status = 'pending'";

/// Stores a generated title; `false` when another enricher already finished this chat.
pub async fn store_title(
    pool: &PgPool,
    chat_id: Uuid,
    title: &str,
    model: &str,
) -> Result<bool, PortError> {
    let mut conn = pool.get().await.map_err(pool_error)?;
    let tx = conn.transaction().await.map_err(classify)?;
    let finished = tx
        .execute(FINISH_TITLE_DONE, &[&chat_id, &no_nul(title), &model])
        .await
        .map_err(classify)?;
    if finished == 0 {
        return Ok(false);
    }
    tx.execute(SET_LLM_TITLE, &[&chat_id, &no_nul(title)])
        .await
        .map_err(classify)?;
    tx.commit().await.map_err(classify)?;
    Ok(true)
}

const FINISH_TITLE: &str = "
    UPDATE llm_titles
       SET status = $2, last_error = $3, model = $4, done_at = now(), claimed_until = NULL
     WHERE chat_id = $1 AND status = 'pending'";

/// Records that no LLM title will be used for this chat: the fallback stays.
pub async fn finish_title(
    pool: &PgPool,
    chat_id: Uuid,
    outcome: Outcome,
    reason: &str,
    model: &str,
) -> Result<(), PortError> {
    let conn = pool.get().await.map_err(pool_error)?;
    conn.execute(
        FINISH_TITLE,
        &[&chat_id, &outcome.as_str(), &no_nul(reason), &model],
    )
    .await
    .map_err(classify)?;
    Ok(())
}

/// Open and unsuccessful LLM passes, for `/admin/status`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LlmBacklog {
    pub messages_pending: i64,
    pub messages_rejected: i64,
    pub messages_failed: i64,
    pub titles_pending: i64,
    pub titles_failed: i64,
}

/// Counts from the partial indexes over rows not `done`: cheap however long the history.
const LLM_BACKLOG: &str = "
    SELECT (SELECT count(*) FROM llm_enrichment WHERE status = 'pending'),
           (SELECT count(*) FROM llm_enrichment WHERE status = 'rejected'),
           (SELECT count(*) FROM llm_enrichment WHERE status = 'failed'),
           (SELECT count(*) FROM llm_titles WHERE status = 'pending'),
           (SELECT count(*) FROM llm_titles WHERE status IN ('failed', 'rejected'))";

pub async fn backlog(pool: &PgPool) -> Result<LlmBacklog, PortError> {
    let conn = pool.get().await.map_err(pool_error)?;
    let r = conn.query_one(LLM_BACKLOG, &[]).await.map_err(classify)?;
    Ok(LlmBacklog {
        messages_pending: r.get(0),
        messages_rejected: r.get(1),
        messages_failed: r.get(2),
        titles_pending: r.get(3),
        titles_failed: r.get(4),
    })
}

/// The enricher's [`EnrichmentStore`] over the functions above.
#[derive(Clone)]
pub struct PgEnrichment {
    pool: PgPool,
}

impl PgEnrichment {
    pub fn new(pool: PgPool) -> PgEnrichment {
        PgEnrichment { pool }
    }
}

#[async_trait]
impl EnrichmentStore for PgEnrichment {
    async fn ensure_epoch(&self) -> Result<(), PortError> {
        ensure_epoch(&self.pool).await
    }

    async fn abandon_stale(&self, max_claims: i32) -> Result<(Vec<Uuid>, Vec<Uuid>), PortError> {
        abandon_stale(&self.pool, max_claims).await
    }

    async fn claim_messages(
        &self,
        owner: Uuid,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<MessageJob>, PortError> {
        claim_messages(&self.pool, owner, limit, lease).await
    }

    async fn claim_titles(
        &self,
        owner: Uuid,
        messages: &[MessageJob],
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<TitleJob>, PortError> {
        claim_titles(&self.pool, owner, messages, limit, lease).await
    }

    async fn store_facts(
        &self,
        job: &MessageJob,
        facts: Vec<LlmFact>,
        mode: LlmMode,
        model: &str,
    ) -> Result<Option<usize>, PortError> {
        store_facts(&self.pool, job, facts, mode, model).await
    }

    async fn finish_message(
        &self,
        message: Uuid,
        outcome: Outcome,
        reason: &str,
        model: &str,
    ) -> Result<(), PortError> {
        finish_message(&self.pool, message, outcome, reason, model).await
    }

    async fn store_title(&self, chat: Uuid, title: &str, model: &str) -> Result<bool, PortError> {
        store_title(&self.pool, chat, title, model).await
    }

    async fn finish_title(
        &self,
        chat: Uuid,
        outcome: Outcome,
        reason: &str,
        model: &str,
    ) -> Result<(), PortError> {
        finish_title(&self.pool, chat, outcome, reason, model).await
    }

    async fn release_claims(&self, owner: Uuid) -> Result<u64, PortError> {
        release_claims(&self.pool, owner).await
    }
}

//! The memory graph on Postgres: statements (`fact_sources`) and the facts derived from them,
//! the read models behind the facts API, forgetting (users and messages) and re-extraction.
//!
//! Every write to a user's statements or facts holds that user's advisory lock (the same key
//! the worker's apply takes) and ends with [`rebuild`], which re-derives the facts of each
//! touched (user, predicate) from all of its statements ([`super::timeline`]). This module
//! must never write a fact without a source, never keep a forgotten user's or message's data,
//! and never put message content into logs or the forget audit.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use memlink_actors::checksum::Checksum;
use memlink_actors::domain::MessageId;
use memlink_actors::extract::{
    Cardinality, ExtractedFact, Predicate, EXTRACTOR_NAME, EXTRACTOR_VERSION,
};
use memlink_actors::plan::PlannedMessage;
use memlink_actors::ports::PortError;
use serde::Serialize;
use serde_json::Value;
use tokio_postgres::{Row, Transaction};
use uuid::Uuid;

use super::dlq::Actor;
use super::timeline::{self, Kind, Statement};
use super::{classify, pool_error, PgPool};

/// One advisory lock per user, taken in key order (no deadlocks between batches). The key
/// must stay the one the V1 apply path used, so old and new code exclude each other.
pub(crate) const LOCK_USERS: &str = "
    SELECT pg_advisory_xact_lock(k)
      FROM (SELECT DISTINCT hashtextextended(u, 7311) AS k FROM unnest($1::text[]) AS u ORDER BY 1) s";

async fn lock_users(tx: &Transaction<'_>, users: &[&str]) -> Result<(), PortError> {
    tx.query(LOCK_USERS, &[&users]).await.map_err(classify)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Statements and the rebuild
// ---------------------------------------------------------------------------------------

/// One statement row of `fact_sources`.
#[derive(Debug, Clone, PartialEq)]
pub struct StatementRow {
    pub id: Uuid,
    /// `None` until stored.
    pub fact_id: Option<Uuid>,
    pub user_id: String,
    pub predicate: String,
    pub object: String,
    pub kind: String,
    pub attributes: Value,
    pub message_id: Uuid,
    pub chat_id: Uuid,
    pub said_at: DateTime<Utc>,
    pub ordinal: i32,
    pub span_start: i32,
    pub span_end: i32,
    pub rule_id: String,
    pub extractor: String,
    pub extractor_version: i32,
    pub confidence: f32,
}

impl StatementRow {
    /// What identifies a statement: (message, predicate, value up to case, kind).
    pub fn key(&self) -> (Uuid, String, String, String) {
        (
            self.message_id,
            self.predicate.clone(),
            timeline::value_key(&self.object),
            self.kind.clone(),
        )
    }

    /// The extractor's output as a statement of the current extractor version.
    #[allow(clippy::too_many_arguments)]
    pub fn from_extracted(
        id: Uuid,
        fact: &ExtractedFact,
        user_id: &str,
        message_id: Uuid,
        chat_id: Uuid,
        said_at: DateTime<Utc>,
        ordinal: usize,
    ) -> StatementRow {
        StatementRow {
            id,
            fact_id: None,
            user_id: user_id.to_owned(),
            predicate: fact.predicate.as_str().to_owned(),
            object: fact.object.replace('\0', "\u{fffd}"),
            kind: fact.kind.as_str().to_owned(),
            attributes: Value::Object(
                fact.attributes
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), Value::String(v.clone())))
                    .collect(),
            ),
            message_id,
            chat_id,
            said_at,
            ordinal: i32::try_from(ordinal).unwrap_or(i32::MAX),
            span_start: i32::try_from(fact.span.0).unwrap_or(i32::MAX),
            span_end: i32::try_from(fact.span.1).unwrap_or(i32::MAX),
            rule_id: fact.rule_id.to_owned(),
            extractor: EXTRACTOR_NAME.to_owned(),
            extractor_version: EXTRACTOR_VERSION,
            confidence: fact.confidence,
        }
    }

    /// Whether re-extraction would write anything over this stored statement.
    fn same_metadata(&self, other: &StatementRow) -> bool {
        self.object == other.object
            && self.attributes == other.attributes
            && self.span_start == other.span_start
            && self.span_end == other.span_end
            && self.rule_id == other.rule_id
            && self.extractor == other.extractor
            && self.extractor_version == other.extractor_version
            && self.confidence == other.confidence
    }
}

/// Every statement of the given (user, predicate) pairs; columns as [`statement_from_row`] reads.
const LOAD_PAIR_STATEMENTS: &str = "
    SELECT s.id, s.fact_id, s.user_id, s.predicate, s.object, s.kind, s.attributes, s.message_id, s.chat_id,
           s.said_at, s.ordinal, s.span_start, s.span_end, s.rule_id, s.extractor, s.extractor_version, s.confidence
      FROM fact_sources s JOIN unnest($1::text[], $2::text[]) AS p(user_id, predicate)
        ON s.user_id = p.user_id AND s.predicate = p.predicate";

/// Every statement of the given messages.
const LOAD_MESSAGE_STATEMENTS: &str = "
    SELECT s.id, s.fact_id, s.user_id, s.predicate, s.object, s.kind, s.attributes, s.message_id, s.chat_id,
           s.said_at, s.ordinal, s.span_start, s.span_end, s.rule_id, s.extractor, s.extractor_version, s.confidence
      FROM fact_sources s WHERE s.message_id = ANY($1)";

fn statement_from_row(r: &Row) -> StatementRow {
    StatementRow {
        id: r.get(0),
        fact_id: r.get(1),
        user_id: r.get(2),
        predicate: r.get(3),
        object: r.get(4),
        kind: r.get(5),
        attributes: r.get(6),
        message_id: r.get(7),
        chat_id: r.get(8),
        said_at: r.get(9),
        ordinal: r.get(10),
        span_start: r.get(11),
        span_end: r.get(12),
        rule_id: r.get(13),
        extractor: r.get(14),
        extractor_version: r.get(15),
        confidence: r.get(16),
    }
}

/// The derived columns of a fact row: what [`rebuild`] compares and writes.
#[derive(Debug, Clone, PartialEq)]
struct FactRow {
    id: Uuid,
    user_id: String,
    predicate: String,
    object: String,
    kind: String,
    attributes: Value,
    chat_id: Uuid,
    source_message_id: Uuid,
    created_at: DateTime<Utc>,
    valid_from: DateTime<Utc>,
    valid_to: Option<DateTime<Utc>>,
    superseded_by: Option<Uuid>,
    supersede_kind: Option<String>,
    span_start: i32,
    span_end: i32,
    rule_id: String,
    extractor: String,
    extractor_version: i32,
    confidence: f32,
}

/// What to change in the statements before re-deriving.
#[derive(Debug, Default)]
pub struct Changes {
    /// New statements (their `fact_id` is ignored).
    pub added: Vec<StatementRow>,
    /// Stored statements to remove, by id.
    pub removed: Vec<Uuid>,
    /// Stored statements (by id) whose extractor metadata is rewritten.
    pub restamped: Vec<StatementRow>,
}

/// What a rebuild wrote.
#[derive(Debug, Default, Clone)]
pub struct Rebuilt {
    pub statements_added: usize,
    pub statements_removed: usize,
    /// Facts that lost a removed statement, by id.
    pub touched_by_removal: HashSet<Uuid>,
    pub facts_written: usize,
    pub facts_deleted: HashSet<Uuid>,
}

const DELETE_STATEMENTS: &str =
    "DELETE FROM fact_sources WHERE id = ANY($1) RETURNING user_id, predicate, fact_id";

const RESTAMP_STATEMENTS: &str = "
    UPDATE fact_sources s
       SET object = u.object, attributes = u.attributes, span_start = u.span_start, span_end = u.span_end,
           rule_id = u.rule_id, extractor = u.extractor, extractor_version = u.extractor_version,
           confidence = u.confidence
      FROM unnest($1::uuid[], $2::text[], $3::jsonb[], $4::int4[], $5::int4[], $6::text[], $7::text[],
                  $8::int4[], $9::float4[])
           AS u(id, object, attributes, span_start, span_end, rule_id, extractor, extractor_version, confidence)
     WHERE s.id = u.id";

const LOAD_FACTS: &str = "
    SELECT f.id, f.user_id, f.predicate, f.object, f.kind, f.attributes, f.chat_id, f.source_message_id,
           f.created_at, f.valid_from, f.valid_to, f.superseded_by, f.supersede_kind, f.span_start, f.span_end,
           f.rule_id, f.extractor, f.extractor_version, f.confidence
      FROM facts f JOIN unnest($1::text[], $2::text[]) AS p(user_id, predicate)
        ON f.user_id = p.user_id AND f.predicate = p.predicate";

const UPSERT_FACTS: &str = "
    INSERT INTO facts (id, user_id, predicate, object, kind, attributes, chat_id, source_message_id, created_at,
                       valid_from, valid_to, superseded_by, supersede_kind, span_start, span_end, rule_id,
                       extractor, extractor_version, confidence)
    SELECT u.id, u.user_id, u.predicate, u.object, u.kind, u.attributes, u.chat_id, u.source_message_id,
           u.valid_from, u.valid_from, u.valid_to, u.superseded_by, u.supersede_kind, u.span_start, u.span_end,
           u.rule_id, u.extractor, u.extractor_version, u.confidence
      FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::uuid[], $8::uuid[],
                  $9::timestamptz[], $10::timestamptz[], $11::uuid[], $12::text[], $13::int4[], $14::int4[],
                  $15::text[], $16::text[], $17::int4[], $18::float4[])
           AS u(id, user_id, predicate, object, kind, attributes, chat_id, source_message_id, valid_from,
                valid_to, superseded_by, supersede_kind, span_start, span_end, rule_id, extractor,
                extractor_version, confidence)
    ON CONFLICT (id) DO UPDATE
       SET object = EXCLUDED.object, kind = EXCLUDED.kind, attributes = EXCLUDED.attributes,
           chat_id = EXCLUDED.chat_id, source_message_id = EXCLUDED.source_message_id,
           created_at = EXCLUDED.created_at, valid_from = EXCLUDED.valid_from, valid_to = EXCLUDED.valid_to,
           superseded_by = EXCLUDED.superseded_by, supersede_kind = EXCLUDED.supersede_kind,
           span_start = EXCLUDED.span_start, span_end = EXCLUDED.span_end, rule_id = EXCLUDED.rule_id,
           extractor = EXCLUDED.extractor, extractor_version = EXCLUDED.extractor_version,
           confidence = EXCLUDED.confidence";

const INSERT_STATEMENTS: &str = "
    INSERT INTO fact_sources (id, fact_id, user_id, predicate, object, kind, attributes, message_id, chat_id,
                              said_at, ordinal, span_start, span_end, rule_id, extractor, extractor_version,
                              confidence)
    SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[],
                         $8::uuid[], $9::uuid[], $10::timestamptz[], $11::int4[], $12::int4[], $13::int4[],
                         $14::text[], $15::text[], $16::int4[], $17::float4[])
    ON CONFLICT DO NOTHING";

const MOVE_STATEMENTS: &str = "
    UPDATE fact_sources s SET fact_id = u.fact_id
      FROM unnest($1::uuid[], $2::uuid[]) AS u(id, fact_id)
     WHERE s.id = u.id";

const DELETE_FACTS: &str = "DELETE FROM facts WHERE id = ANY($1)";

/// Applies `changes` to the statements, then re-derives the facts of every (user, predicate)
/// they touch, writing only what differs. The caller holds the users' locks.
pub async fn rebuild(tx: &Transaction<'_>, changes: Changes) -> Result<Rebuilt, PortError> {
    let mut out = Rebuilt::default();
    let mut pairs: BTreeSet<(String, String)> = changes
        .added
        .iter()
        .chain(changes.restamped.iter())
        .map(|s| (s.user_id.clone(), s.predicate.clone()))
        .collect();
    if !changes.removed.is_empty() {
        for r in tx
            .query(DELETE_STATEMENTS, &[&changes.removed])
            .await
            .map_err(classify)?
        {
            pairs.insert((r.get(0), r.get(1)));
            out.touched_by_removal.insert(r.get(2));
            out.statements_removed += 1;
        }
    }
    if !changes.restamped.is_empty() {
        restamp(tx, &changes.restamped).await?;
    }
    if pairs.is_empty() {
        return Ok(out);
    }
    let (users, predicates): (Vec<String>, Vec<String>) = pairs.iter().cloned().unzip();
    let mut by_pair: BTreeMap<(String, String), Vec<StatementRow>> = BTreeMap::new();
    let mut known_keys = HashSet::new();
    for r in tx
        .query(LOAD_PAIR_STATEMENTS, &[&users, &predicates])
        .await
        .map_err(classify)?
    {
        let s = statement_from_row(&r);
        known_keys.insert(s.key());
        by_pair
            .entry((s.user_id.clone(), s.predicate.clone()))
            .or_default()
            .push(s);
    }
    let mut new_statement_ids = HashSet::new();
    for mut s in changes.added {
        // A statement already stored (or repeated within this change) is not added twice.
        if known_keys.insert(s.key()) {
            s.fact_id = None;
            new_statement_ids.insert(s.id);
            by_pair
                .entry((s.user_id.clone(), s.predicate.clone()))
                .or_default()
                .push(s);
        }
    }
    let mut stored_facts: HashMap<Uuid, FactRow> = HashMap::new();
    let mut facts_of_pair: BTreeMap<(String, String), HashSet<Uuid>> = BTreeMap::new();
    for r in tx
        .query(LOAD_FACTS, &[&users, &predicates])
        .await
        .map_err(classify)?
    {
        let f = fact_from_row(&r);
        facts_of_pair
            .entry((f.user_id.clone(), f.predicate.clone()))
            .or_default()
            .insert(f.id);
        stored_facts.insert(f.id, f);
    }

    let mut upserts: Vec<FactRow> = Vec::new();
    let mut inserts: Vec<StatementRow> = Vec::new();
    let mut moves: Vec<(Uuid, Uuid)> = Vec::new();
    let mut keep: HashSet<Uuid> = HashSet::new();
    let empty = HashSet::new();
    for pair in &pairs {
        let statements = by_pair.get(pair).map(Vec::as_slice).unwrap_or(&[]);
        let view: Vec<Statement> = statements
            .iter()
            .map(|s| Statement {
                id: s.id,
                fact_id: s.fact_id,
                object: s.object.clone(),
                kind: Kind::parse(&s.kind).unwrap_or(Kind::Assert),
                said_at: s.said_at,
                message_id: s.message_id,
                ordinal: s.ordinal,
            })
            .collect();
        let cardinality = Predicate::parse(&pair.1)
            .map(Predicate::cardinality)
            .unwrap_or(Cardinality::Many);
        let existing = facts_of_pair.get(pair).unwrap_or(&empty);
        let derived = timeline::derive(&view, cardinality, existing, &mut Uuid::new_v4);
        for d in derived {
            keep.insert(d.id);
            let o = &statements[d.opener];
            let row = FactRow {
                id: d.id,
                user_id: o.user_id.clone(),
                predicate: o.predicate.clone(),
                object: o.object.clone(),
                kind: o.kind.clone(),
                attributes: o.attributes.clone(),
                chat_id: o.chat_id,
                source_message_id: o.message_id,
                created_at: d.valid_from,
                valid_from: d.valid_from,
                valid_to: d.valid_to,
                superseded_by: d.superseded_by,
                supersede_kind: d.supersede_kind.map(|k| k.as_str().to_owned()),
                span_start: o.span_start,
                span_end: o.span_end,
                rule_id: o.rule_id.clone(),
                extractor: o.extractor.clone(),
                extractor_version: o.extractor_version,
                confidence: o.confidence,
            };
            if stored_facts.get(&d.id) != Some(&row) {
                upserts.push(row);
            }
            for &i in &d.sources {
                let s = &statements[i];
                if new_statement_ids.contains(&s.id) {
                    let mut s = s.clone();
                    s.fact_id = Some(d.id);
                    inserts.push(s);
                } else if s.fact_id != Some(d.id) {
                    moves.push((s.id, d.id));
                }
            }
        }
    }
    let doomed: Vec<Uuid> = stored_facts
        .keys()
        .filter(|id| !keep.contains(id))
        .copied()
        .collect();

    // Order matters for the foreign key: facts exist before statements point at them, and
    // no statement points at a fact when it is deleted.
    upsert_facts(tx, &upserts).await?;
    insert_statements(tx, &inserts).await?;
    if !moves.is_empty() {
        let (ids, facts): (Vec<Uuid>, Vec<Uuid>) = moves.into_iter().unzip();
        tx.execute(MOVE_STATEMENTS, &[&ids, &facts])
            .await
            .map_err(classify)?;
    }
    if !doomed.is_empty() {
        tx.execute(DELETE_FACTS, &[&doomed])
            .await
            .map_err(classify)?;
    }
    out.statements_added = inserts.len();
    out.facts_written = upserts.len();
    out.facts_deleted = doomed.into_iter().collect();
    Ok(out)
}

fn fact_from_row(r: &Row) -> FactRow {
    FactRow {
        id: r.get(0),
        user_id: r.get(1),
        predicate: r.get(2),
        object: r.get(3),
        kind: r.get(4),
        attributes: r.get(5),
        chat_id: r.get(6),
        source_message_id: r.get(7),
        created_at: r.get(8),
        valid_from: r.get(9),
        valid_to: r.get(10),
        superseded_by: r.get(11),
        supersede_kind: r.get(12),
        span_start: r.get(13),
        span_end: r.get(14),
        rule_id: r.get(15),
        extractor: r.get(16),
        extractor_version: r.get(17),
        confidence: r.get(18),
    }
}

async fn restamp(tx: &Transaction<'_>, rows: &[StatementRow]) -> Result<(), PortError> {
    let ids: Vec<Uuid> = rows.iter().map(|s| s.id).collect();
    let objects: Vec<&str> = rows.iter().map(|s| s.object.as_str()).collect();
    let attributes: Vec<&Value> = rows.iter().map(|s| &s.attributes).collect();
    let starts: Vec<i32> = rows.iter().map(|s| s.span_start).collect();
    let ends: Vec<i32> = rows.iter().map(|s| s.span_end).collect();
    let rules: Vec<&str> = rows.iter().map(|s| s.rule_id.as_str()).collect();
    let extractors: Vec<&str> = rows.iter().map(|s| s.extractor.as_str()).collect();
    let versions: Vec<i32> = rows.iter().map(|s| s.extractor_version).collect();
    let confidence: Vec<f32> = rows.iter().map(|s| s.confidence).collect();
    tx.execute(
        RESTAMP_STATEMENTS,
        &[
            &ids,
            &objects,
            &attributes,
            &starts,
            &ends,
            &rules,
            &extractors,
            &versions,
            &confidence,
        ],
    )
    .await
    .map_err(classify)?;
    Ok(())
}

async fn upsert_facts(tx: &Transaction<'_>, rows: &[FactRow]) -> Result<(), PortError> {
    if rows.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = rows.iter().map(|f| f.id).collect();
    let users: Vec<&str> = rows.iter().map(|f| f.user_id.as_str()).collect();
    let predicates: Vec<&str> = rows.iter().map(|f| f.predicate.as_str()).collect();
    let objects: Vec<&str> = rows.iter().map(|f| f.object.as_str()).collect();
    let kinds: Vec<&str> = rows.iter().map(|f| f.kind.as_str()).collect();
    let attributes: Vec<&Value> = rows.iter().map(|f| &f.attributes).collect();
    let chats: Vec<Uuid> = rows.iter().map(|f| f.chat_id).collect();
    let messages: Vec<Uuid> = rows.iter().map(|f| f.source_message_id).collect();
    let from: Vec<DateTime<Utc>> = rows.iter().map(|f| f.valid_from).collect();
    let to: Vec<Option<DateTime<Utc>>> = rows.iter().map(|f| f.valid_to).collect();
    let by: Vec<Option<Uuid>> = rows.iter().map(|f| f.superseded_by).collect();
    let how: Vec<Option<&str>> = rows.iter().map(|f| f.supersede_kind.as_deref()).collect();
    let starts: Vec<i32> = rows.iter().map(|f| f.span_start).collect();
    let ends: Vec<i32> = rows.iter().map(|f| f.span_end).collect();
    let rules: Vec<&str> = rows.iter().map(|f| f.rule_id.as_str()).collect();
    let extractors: Vec<&str> = rows.iter().map(|f| f.extractor.as_str()).collect();
    let versions: Vec<i32> = rows.iter().map(|f| f.extractor_version).collect();
    let confidence: Vec<f32> = rows.iter().map(|f| f.confidence).collect();
    tx.execute(
        UPSERT_FACTS,
        &[
            &ids,
            &users,
            &predicates,
            &objects,
            &kinds,
            &attributes,
            &chats,
            &messages,
            &from,
            &to,
            &by,
            &how,
            &starts,
            &ends,
            &rules,
            &extractors,
            &versions,
            &confidence,
        ],
    )
    .await
    .map_err(classify)?;
    Ok(())
}

async fn insert_statements(tx: &Transaction<'_>, rows: &[StatementRow]) -> Result<(), PortError> {
    if rows.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = rows.iter().map(|s| s.id).collect();
    let facts: Vec<Option<Uuid>> = rows.iter().map(|s| s.fact_id).collect();
    let users: Vec<&str> = rows.iter().map(|s| s.user_id.as_str()).collect();
    let predicates: Vec<&str> = rows.iter().map(|s| s.predicate.as_str()).collect();
    let objects: Vec<&str> = rows.iter().map(|s| s.object.as_str()).collect();
    let kinds: Vec<&str> = rows.iter().map(|s| s.kind.as_str()).collect();
    let attributes: Vec<&Value> = rows.iter().map(|s| &s.attributes).collect();
    let messages: Vec<Uuid> = rows.iter().map(|s| s.message_id).collect();
    let chats: Vec<Uuid> = rows.iter().map(|s| s.chat_id).collect();
    let said: Vec<DateTime<Utc>> = rows.iter().map(|s| s.said_at).collect();
    let ordinals: Vec<i32> = rows.iter().map(|s| s.ordinal).collect();
    let starts: Vec<i32> = rows.iter().map(|s| s.span_start).collect();
    let ends: Vec<i32> = rows.iter().map(|s| s.span_end).collect();
    let rules: Vec<&str> = rows.iter().map(|s| s.rule_id.as_str()).collect();
    let extractors: Vec<&str> = rows.iter().map(|s| s.extractor.as_str()).collect();
    let versions: Vec<i32> = rows.iter().map(|s| s.extractor_version).collect();
    let confidence: Vec<f32> = rows.iter().map(|s| s.confidence).collect();
    tx.execute(
        INSERT_STATEMENTS,
        &[
            &ids,
            &facts,
            &users,
            &predicates,
            &objects,
            &kinds,
            &attributes,
            &messages,
            &chats,
            &said,
            &ordinals,
            &starts,
            &ends,
            &rules,
            &extractors,
            &versions,
            &confidence,
        ],
    )
    .await
    .map_err(classify)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The worker's apply path
// ---------------------------------------------------------------------------------------

const TOMBSTONED_USERS: &str = "SELECT user_id FROM user_tombstones WHERE user_id = ANY($1)";
const TOMBSTONED_MESSAGES: &str =
    "SELECT message_id FROM message_tombstones WHERE message_id = ANY($1)";
/// Content that reached the store for a forgotten user or message (a producer's row, or a
/// POST racing the forget) goes too. Such a message was never processed, so never counted.
const DELETE_DROPPED_MESSAGES: &str =
    "DELETE FROM messages WHERE id = ANY($1) AND processed_at IS NULL";

/// Takes the advisory locks of the batch's users, then keeps only the messages whose user
/// and message were not forgotten. Dropped events stay recorded as processed by the caller,
/// so they are acked and never retried, but store nothing.
///
/// Holding the user lock from here to commit is what makes forgetting race-free: a forget
/// either commits first (and this sees its tombstone) or waits for this batch (and deletes
/// what it stored).
pub async fn drop_forgotten<'a>(
    tx: &Transaction<'_>,
    fresh: &[&'a PlannedMessage],
) -> Result<Vec<&'a PlannedMessage>, PortError> {
    let users: Vec<&str> = fresh.iter().map(|m| m.event.user_id.as_str()).collect();
    lock_users(tx, &users).await?;
    let gone_users: HashSet<String> = tx
        .query(TOMBSTONED_USERS, &[&users])
        .await
        .map_err(classify)?
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    let ids: Vec<Uuid> = fresh.iter().map(|m| m.event.message_id.0).collect();
    let gone_messages: HashSet<Uuid> = tx
        .query(TOMBSTONED_MESSAGES, &[&ids])
        .await
        .map_err(classify)?
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    if gone_users.is_empty() && gone_messages.is_empty() {
        return Ok(fresh.to_vec());
    }
    let mut kept = Vec::with_capacity(fresh.len());
    let mut dropped = Vec::new();
    for m in fresh {
        let user_gone = gone_users.contains(m.event.user_id.as_str());
        if user_gone || gone_messages.contains(&m.event.message_id.0) {
            let event = if user_gone {
                "forgotten_user_event_dropped"
            } else {
                "forgotten_message_event_dropped"
            };
            log::info!(target: "memlink::worker", "event={event} event_id={} message_id={} chat_id={} user_id={:?}",
                m.event.event_id, m.event.message_id, m.event.chat_id, m.event.user_id.as_str());
            dropped.push(m.event.message_id.0);
        } else {
            kept.push(*m);
        }
    }
    tx.execute(DELETE_DROPPED_MESSAGES, &[&dropped])
        .await
        .map_err(classify)?;
    Ok(kept)
}

/// Stores the statements of freshly processed messages and re-derives the touched facts.
/// The users' locks are held (taken by [`drop_forgotten`]).
pub async fn apply_facts(tx: &Transaction<'_>, owed: &[&PlannedMessage]) -> Result<(), PortError> {
    let mut added = Vec::new();
    for m in owed {
        for (ordinal, f) in m.facts.iter().enumerate() {
            added.push(StatementRow::from_extracted(
                f.id,
                &f.fact,
                m.event.user_id.as_str(),
                m.event.message_id.0,
                m.event.chat_id.0,
                m.event.created_at,
                ordinal,
            ));
        }
    }
    if added.is_empty() {
        return Ok(());
    }
    rebuild(
        tx,
        Changes {
            added,
            ..Changes::default()
        },
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------------------

/// One fact in a list. The first six fields are the original contract of
/// `GET /v1/users/{user_id}/facts`; the rest were added with history.
#[derive(Debug, Serialize)]
pub struct FactView {
    pub id: Uuid,
    pub predicate: String,
    pub object: String,
    /// The chat and message of the fact's first source (when it was first said).
    pub chat_id: Uuid,
    pub source_message_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub kind: String,
    pub status: &'static str,
    pub valid_from: DateTime<Utc>,
    pub valid_to: Option<DateTime<Utc>>,
    pub superseded_by: Option<Uuid>,
    pub supersede_kind: Option<String>,
    pub reason: Option<String>,
    pub confidence: f32,
    /// How many messages said it.
    pub sources: i64,
    pub last_said_at: Option<DateTime<Utc>>,
}

/// Current facts: not ended. The retraction guard and DISTINCT ON only matter for facts
/// stored before V3 (one row per statement); derived facts already satisfy both.
const CURRENT_FACTS: &str = "
    SELECT DISTINCT ON (f.predicate, lower(f.object))
           f.id, f.predicate, f.object, f.chat_id, f.source_message_id, f.created_at, f.kind, f.valid_from,
           f.valid_to, f.superseded_by, f.supersede_kind, f.confidence,
           (SELECT count(*) FROM fact_sources s WHERE s.fact_id = f.id),
           (SELECT max(s.said_at) FROM fact_sources s WHERE s.fact_id = f.id), n.object
      FROM facts f LEFT JOIN facts n ON n.id = f.superseded_by
     WHERE f.user_id = $1 AND f.kind <> 'retraction' AND f.valid_to IS NULL AND f.superseded_by IS NULL
       AND NOT EXISTS (SELECT 1 FROM facts r
                        WHERE r.user_id = f.user_id AND r.predicate = f.predicate AND r.kind = 'retraction'
                          AND lower(r.object) = lower(f.object) AND r.created_at > f.created_at)
     ORDER BY f.predicate, lower(f.object), f.created_at DESC, f.id";

/// Facts valid at an instant: `valid_from <= at < valid_to`; a corrected value never was.
const FACTS_AT: &str = "
    SELECT DISTINCT ON (f.predicate, lower(f.object))
           f.id, f.predicate, f.object, f.chat_id, f.source_message_id, f.created_at, f.kind, f.valid_from,
           f.valid_to, f.superseded_by, f.supersede_kind, f.confidence,
           (SELECT count(*) FROM fact_sources s WHERE s.fact_id = f.id),
           (SELECT max(s.said_at) FROM fact_sources s WHERE s.fact_id = f.id), n.object
      FROM facts f LEFT JOIN facts n ON n.id = f.superseded_by
     WHERE f.user_id = $1 AND f.kind <> 'retraction'
       AND f.valid_from <= $2 AND (f.valid_to IS NULL OR $2 < f.valid_to)
       AND f.supersede_kind IS DISTINCT FROM 'correction'
     ORDER BY f.predicate, lower(f.object), f.created_at DESC, f.id";

/// Every value the user ever had, ended or not (retraction records are reached through the
/// `superseded_by` of what they ended).
const FACT_HISTORY: &str = "
    SELECT f.id, f.predicate, f.object, f.chat_id, f.source_message_id, f.created_at, f.kind, f.valid_from,
           f.valid_to, f.superseded_by, f.supersede_kind, f.confidence,
           (SELECT count(*) FROM fact_sources s WHERE s.fact_id = f.id),
           (SELECT max(s.said_at) FROM fact_sources s WHERE s.fact_id = f.id), n.object
      FROM facts f LEFT JOIN facts n ON n.id = f.superseded_by
     WHERE f.user_id = $1 AND f.kind <> 'retraction'
     ORDER BY f.predicate, f.valid_from, f.id";

/// Which facts to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactQuery {
    Current,
    At(DateTime<Utc>),
    History,
}

pub async fn list_facts(
    pool: &PgPool,
    user_id: &str,
    query: FactQuery,
) -> Result<Vec<FactView>, PortError> {
    let conn = pool.get().await.map_err(pool_error)?;
    let rows = match query {
        FactQuery::Current => conn.query(CURRENT_FACTS, &[&user_id]).await,
        FactQuery::At(at) => conn.query(FACTS_AT, &[&user_id, &at]).await,
        FactQuery::History => conn.query(FACT_HISTORY, &[&user_id]).await,
    }
    .map_err(classify)?;
    Ok(rows.iter().map(fact_view).collect())
}

fn fact_view(r: &Row) -> FactView {
    let kind: String = r.get(6);
    let valid_to: Option<DateTime<Utc>> = r.get(8);
    let supersede_kind: Option<String> = r.get(10);
    let next_object: Option<String> = r.get(14);
    FactView {
        id: r.get(0),
        predicate: r.get(1),
        object: r.get(2),
        chat_id: r.get(3),
        source_message_id: r.get(4),
        created_at: r.get(5),
        status: status(&kind, valid_to, supersede_kind.as_deref()),
        reason: reason(
            &kind,
            valid_to,
            supersede_kind.as_deref(),
            next_object.as_deref(),
        ),
        kind,
        valid_from: r.get(7),
        valid_to,
        superseded_by: r.get(9),
        supersede_kind,
        confidence: r.get(11),
        sources: r.get(12),
        last_said_at: r.get(13),
    }
}

fn status(kind: &str, valid_to: Option<DateTime<Utc>>, how: Option<&str>) -> &'static str {
    match (kind, valid_to, how) {
        ("retraction", _, _) => "retraction",
        (_, None, _) => "current",
        (_, Some(_), Some("correction")) => "corrected",
        (_, Some(_), Some("retraction")) => "retracted",
        (_, Some(_), _) => "superseded",
    }
}

/// Why a fact ended, in words.
fn reason(
    kind: &str,
    valid_to: Option<DateTime<Utc>>,
    how: Option<&str>,
    next: Option<&str>,
) -> Option<String> {
    if kind == "retraction" {
        return None;
    }
    let at = valid_to?.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let next = next.unwrap_or("another value");
    Some(match how {
        Some("correction") => format!("corrected to {next:?}: this value was never true"),
        Some("retraction") => format!("retracted by the user at {at}"),
        _ => format!("changed to {next:?} at {at}"),
    })
}

/// A fact one hop away in the supersession chain.
#[derive(Debug, Serialize)]
pub struct FactLink {
    pub id: Uuid,
    pub predicate: String,
    pub object: String,
    pub kind: String,
    pub valid_from: DateTime<Utc>,
    pub valid_to: Option<DateTime<Utc>>,
    pub supersede_kind: Option<String>,
    pub source_message_id: Uuid,
}

#[derive(Debug, Serialize)]
pub struct SpanView {
    pub start: i32,
    pub end: i32,
    /// The clause the fact came from; `None` if the message text is gone.
    pub text: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ExtractorView {
    pub name: String,
    pub version: i32,
}

/// One message that said the fact.
#[derive(Debug, Serialize)]
pub struct SourceView {
    pub message_id: Uuid,
    pub chat_id: Uuid,
    pub said_at: DateTime<Utc>,
    /// As said in this message (casing may differ from the fact's).
    pub object: String,
    pub kind: String,
    pub message_text: Option<String>,
    pub span: SpanView,
    pub rule_id: String,
    pub extractor: ExtractorView,
    pub confidence: f32,
    pub attributes: Value,
    pub recorded_at: DateTime<Utc>,
}

/// `GET /v1/facts/{id}`: a fact with its provenance chain.
#[derive(Debug, Serialize)]
pub struct FactDetail {
    pub id: Uuid,
    pub user_id: String,
    pub predicate: String,
    pub object: String,
    pub kind: String,
    pub status: &'static str,
    pub attributes: Value,
    pub chat_id: Uuid,
    pub source_message_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub valid_from: DateTime<Utc>,
    pub valid_to: Option<DateTime<Utc>>,
    pub superseded_by: Option<Uuid>,
    pub supersede_kind: Option<String>,
    pub reason: Option<String>,
    pub rule_id: String,
    pub extractor: ExtractorView,
    pub confidence: f32,
    pub sources: Vec<SourceView>,
    /// The fact (or retraction) that ended this one.
    pub superseded_by_fact: Option<FactLink>,
    /// The facts this one ended.
    pub supersedes: Vec<FactLink>,
}

const FACT_BY_ID: &str = "
    SELECT f.id, f.user_id, f.predicate, f.object, f.kind, f.attributes, f.chat_id, f.source_message_id,
           f.created_at, f.valid_from, f.valid_to, f.superseded_by, f.supersede_kind, f.rule_id, f.extractor,
           f.extractor_version, f.confidence
      FROM facts f WHERE f.id = $1";

const FACT_SOURCES: &str = "
    SELECT s.message_id, s.chat_id, s.said_at, s.object, s.kind, m.content, s.span_start, s.span_end, s.rule_id,
           s.extractor, s.extractor_version, s.confidence, s.attributes, s.recorded_at
      FROM fact_sources s LEFT JOIN messages m ON m.id = s.message_id
     WHERE s.fact_id = $1
     ORDER BY s.said_at, s.message_id, s.ordinal";

const FACT_LINKS: &str = "
    SELECT id, predicate, object, kind, valid_from, valid_to, supersede_kind, source_message_id
      FROM facts WHERE id = $1 OR superseded_by = $2
     ORDER BY valid_from, id";

pub async fn fact_detail(pool: &PgPool, id: Uuid) -> Result<Option<FactDetail>, PortError> {
    let conn = pool.get().await.map_err(pool_error)?;
    let Some(r) = conn.query_opt(FACT_BY_ID, &[&id]).await.map_err(classify)? else {
        return Ok(None);
    };
    let sources = conn
        .query(FACT_SOURCES, &[&id])
        .await
        .map_err(classify)?
        .into_iter()
        .map(|s| {
            let content: Option<String> = s.get(5);
            let (start, end): (i32, i32) = (s.get(6), s.get(7));
            let text = content.as_deref().and_then(|c| {
                let (a, b) = (usize::try_from(start).ok()?, usize::try_from(end).ok()?);
                c.get(a..b).map(str::to_owned)
            });
            SourceView {
                message_id: s.get(0),
                chat_id: s.get(1),
                said_at: s.get(2),
                object: s.get(3),
                kind: s.get(4),
                message_text: content,
                span: SpanView { start, end, text },
                rule_id: s.get(8),
                extractor: ExtractorView {
                    name: s.get(9),
                    version: s.get(10),
                },
                confidence: s.get(11),
                attributes: s.get(12),
                recorded_at: s.get(13),
            }
        })
        .collect();
    let superseded_by: Option<Uuid> = r.get(11);
    let links = conn
        .query(FACT_LINKS, &[&superseded_by, &id])
        .await
        .map_err(classify)?;
    let mut superseded_by_fact = None;
    let mut supersedes = Vec::new();
    for l in links {
        let link = FactLink {
            id: l.get(0),
            predicate: l.get(1),
            object: l.get(2),
            kind: l.get(3),
            valid_from: l.get(4),
            valid_to: l.get(5),
            supersede_kind: l.get(6),
            source_message_id: l.get(7),
        };
        if Some(link.id) == superseded_by {
            superseded_by_fact = Some(link);
        } else {
            supersedes.push(link);
        }
    }
    let kind: String = r.get(4);
    let valid_to: Option<DateTime<Utc>> = r.get(10);
    let supersede_kind: Option<String> = r.get(12);
    let next_object = superseded_by_fact.as_ref().map(|l| l.object.clone());
    Ok(Some(FactDetail {
        id: r.get(0),
        user_id: r.get(1),
        predicate: r.get(2),
        object: r.get(3),
        status: status(&kind, valid_to, supersede_kind.as_deref()),
        reason: reason(
            &kind,
            valid_to,
            supersede_kind.as_deref(),
            next_object.as_deref(),
        ),
        kind,
        attributes: r.get(5),
        chat_id: r.get(6),
        source_message_id: r.get(7),
        created_at: r.get(8),
        valid_from: r.get(9),
        valid_to,
        superseded_by,
        supersede_kind,
        rule_id: r.get(13),
        extractor: ExtractorView {
            name: r.get(14),
            version: r.get(15),
        },
        confidence: r.get(16),
        sources,
        superseded_by_fact,
        supersedes,
    }))
}

const IS_USER_FORGOTTEN: &str = "SELECT EXISTS (SELECT 1 FROM user_tombstones WHERE user_id = $1)";

/// Whether the user was forgotten (their id is tombstoned for good).
pub async fn is_user_forgotten(pool: &PgPool, user_id: &str) -> Result<bool, PortError> {
    let conn = pool.get().await.map_err(pool_error)?;
    let r = conn
        .query_one(IS_USER_FORGOTTEN, &[&user_id])
        .await
        .map_err(classify)?;
    Ok(r.get(0))
}

// ---------------------------------------------------------------------------------------
// Forgetting
// ---------------------------------------------------------------------------------------

/// What `DELETE /v1/users/{user_id}` removed.
#[derive(Debug, Default, Serialize)]
pub struct UserForgotten {
    pub facts: u64,
    pub fact_sources: u64,
    pub messages: u64,
    pub titles_reset: u64,
    pub watermarks_removed: u64,
    pub watermarks_recomputed: u64,
}

/// What `DELETE /v1/chats/{chat_id}/messages/{message_id}` removed.
#[derive(Debug, Default, Serialize)]
pub struct MessageForgotten {
    /// Statements of this message.
    pub fact_sources: u64,
    /// Facts deleted: those only this message supported (and, rarely, a fact merged back into
    /// an equal value said before the forgotten message interrupted it).
    pub facts: u64,
    /// Facts that lost this message as a source but live on through others.
    pub facts_kept: u64,
    pub messages: u64,
    pub titles_reset: u64,
    pub watermarks_removed: u64,
    pub watermarks_recomputed: u64,
}

const UPSERT_USER_TOMBSTONE: &str = "
    INSERT INTO user_tombstones (user_id, deleted_at) VALUES ($1, now())
    ON CONFLICT (user_id) DO UPDATE SET deleted_at = EXCLUDED.deleted_at
 RETURNING deleted_at";
const DELETE_USER_SOURCES: &str = "DELETE FROM fact_sources WHERE user_id = $1";
const DELETE_USER_FACTS: &str = "DELETE FROM facts WHERE user_id = $1";
const USER_MESSAGES: &str = "SELECT id, chat_id FROM messages WHERE user_id = $1";
const DELETE_MESSAGES: &str = "DELETE FROM messages WHERE id = ANY($1)";
const INSERT_FORGET_LOG: &str = "
    INSERT INTO forget_log (id, scope, user_id, chat_id, message_id, requested_at, counts, actor, channel)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

/// Forgets a user: facts, their history and sources, the user's messages (all roles: an
/// assistant reply in the user's conversation is about them too), the fallback titles taken
/// from those messages, and the watermarks those messages were counted in. Leaves a
/// tombstone so in-flight events for the user are dropped, and an audit row.
pub async fn forget_user(
    pool: &PgPool,
    user_id: &str,
) -> Result<(DateTime<Utc>, UserForgotten), PortError> {
    forget_user_by(pool, user_id, None).await
}

/// [`forget_user`], audited with who asked (the console's signed-in operator).
pub async fn forget_user_by(
    pool: &PgPool,
    user_id: &str,
    by: Option<&Actor>,
) -> Result<(DateTime<Utc>, UserForgotten), PortError> {
    let mut conn = pool.get().await.map_err(pool_error)?;
    let tx = conn.transaction().await.map_err(classify)?;
    lock_users(&tx, &[user_id]).await?;
    let deleted_at: DateTime<Utc> = tx
        .query_one(UPSERT_USER_TOMBSTONE, &[&user_id])
        .await
        .map_err(classify)?
        .get(0);
    let mut out = UserForgotten {
        fact_sources: tx
            .execute(DELETE_USER_SOURCES, &[&user_id])
            .await
            .map_err(classify)?,
        facts: tx
            .execute(DELETE_USER_FACTS, &[&user_id])
            .await
            .map_err(classify)?,
        ..UserForgotten::default()
    };
    let rows = tx
        .query(USER_MESSAGES, &[&user_id])
        .await
        .map_err(classify)?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.get(0)).collect();
    let chats: Vec<Uuid> = rows
        .iter()
        .map(|r| r.get::<_, Uuid>(1))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let cleared = clear_titles(&tx, &ids).await?;
    out.messages = tx
        .execute(DELETE_MESSAGES, &[&ids])
        .await
        .map_err(classify)?;
    out.titles_reset = cleared.len() as u64;
    retitle(&tx, &cleared).await?;
    let (removed, recomputed) = recompute_watermarks(&tx, &chats).await?;
    out.watermarks_removed = removed;
    out.watermarks_recomputed = recomputed;
    let counts = serde_json::to_value(&out).unwrap_or(Value::Null);
    tx.execute(
        INSERT_FORGET_LOG,
        &[
            &Uuid::new_v4(),
            &"user",
            &user_id,
            &None::<Uuid>,
            &None::<Uuid>,
            &deleted_at,
            &counts,
            &by.map(Actor::name),
            &by.map(|a| a.channel().as_str()),
        ],
    )
    .await
    .map_err(classify)?;
    tx.commit().await.map_err(classify)?;
    log::info!(target: "memlink::memory", "event=user_forgotten user_id={user_id:?} facts={} fact_sources={} messages={} titles_reset={} watermarks_removed={} watermarks_recomputed={}",
        out.facts, out.fact_sources, out.messages, out.titles_reset, out.watermarks_removed, out.watermarks_recomputed);
    Ok((deleted_at, out))
}

const FIND_MESSAGE: &str = "SELECT user_id FROM messages WHERE id = $1 AND chat_id = $2";
const LOCK_MESSAGE: &str = "SELECT user_id FROM messages WHERE id = $1 AND chat_id = $2 FOR UPDATE";
const MESSAGE_STATEMENTS: &str = "SELECT id FROM fact_sources WHERE message_id = $1";
const INSERT_MESSAGE_TOMBSTONE: &str = "
    INSERT INTO message_tombstones (message_id, chat_id, deleted_at) VALUES ($1, $2, now())
    ON CONFLICT (message_id) DO UPDATE SET deleted_at = EXCLUDED.deleted_at
 RETURNING deleted_at";
const EXISTING_FACTS: &str = "SELECT id FROM facts WHERE id = ANY($1)";

/// Forgets one message: the statements it made (a fact it alone supported goes; one said
/// elsewhere too lives on minus this source, and the facts around it are re-derived), its
/// fallback title, its row, and its chat's watermark is recomputed. `None` if the chat has no
/// such message.
pub async fn forget_message(
    pool: &PgPool,
    chat_id: Uuid,
    message_id: Uuid,
) -> Result<Option<(DateTime<Utc>, MessageForgotten)>, PortError> {
    forget_message_by(pool, chat_id, message_id, None).await
}

/// [`forget_message`], audited with who asked (the console's signed-in operator).
pub async fn forget_message_by(
    pool: &PgPool,
    chat_id: Uuid,
    message_id: Uuid,
    by: Option<&Actor>,
) -> Result<Option<(DateTime<Utc>, MessageForgotten)>, PortError> {
    let mut conn = pool.get().await.map_err(pool_error)?;
    let tx = conn.transaction().await.map_err(classify)?;
    let Some(found) = tx
        .query_opt(FIND_MESSAGE, &[&message_id, &chat_id])
        .await
        .map_err(classify)?
    else {
        return Ok(None);
    };
    let user_id: String = found.get(0);
    lock_users(&tx, &[user_id.as_str()]).await?;
    // Re-read under the lock: a concurrent forget may have won.
    if tx
        .query_opt(LOCK_MESSAGE, &[&message_id, &chat_id])
        .await
        .map_err(classify)?
        .is_none()
    {
        return Ok(None);
    }
    let statements: Vec<Uuid> = tx
        .query(MESSAGE_STATEMENTS, &[&message_id])
        .await
        .map_err(classify)?
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    let rebuilt = rebuild(
        &tx,
        Changes {
            removed: statements,
            ..Changes::default()
        },
    )
    .await?;
    let touched: Vec<Uuid> = rebuilt.touched_by_removal.iter().copied().collect();
    let kept = tx
        .query(EXISTING_FACTS, &[&touched])
        .await
        .map_err(classify)?
        .len() as u64;
    let ids = vec![message_id];
    let cleared = clear_titles(&tx, &ids).await?;
    let messages = tx
        .execute(DELETE_MESSAGES, &[&ids])
        .await
        .map_err(classify)?;
    retitle(&tx, &cleared).await?;
    let (removed, recomputed) = recompute_watermarks(&tx, &[chat_id]).await?;
    let deleted_at: DateTime<Utc> = tx
        .query_one(INSERT_MESSAGE_TOMBSTONE, &[&message_id, &chat_id])
        .await
        .map_err(classify)?
        .get(0);
    let out = MessageForgotten {
        fact_sources: rebuilt.statements_removed as u64,
        facts: rebuilt.facts_deleted.len() as u64,
        facts_kept: kept,
        messages,
        titles_reset: cleared.len() as u64,
        watermarks_removed: removed,
        watermarks_recomputed: recomputed,
    };
    let counts = serde_json::to_value(&out).unwrap_or(Value::Null);
    tx.execute(
        INSERT_FORGET_LOG,
        &[
            &Uuid::new_v4(),
            &"message",
            &user_id,
            &Some(chat_id),
            &Some(message_id),
            &deleted_at,
            &counts,
            &by.map(Actor::name),
            &by.map(|a| a.channel().as_str()),
        ],
    )
    .await
    .map_err(classify)?;
    tx.commit().await.map_err(classify)?;
    log::info!(target: "memlink::memory", "event=message_forgotten chat_id={chat_id} message_id={message_id} user_id={user_id:?} fact_sources={} facts={} facts_kept={} titles_reset={} watermarks_removed={} watermarks_recomputed={}",
        out.fact_sources, out.facts, out.facts_kept, out.titles_reset, out.watermarks_removed, out.watermarks_recomputed);
    Ok(Some((deleted_at, out)))
}

/// A fallback title taken from a forgotten message is cleared (an LLM title is left alone: it
/// is not traceable to one message). Returns the chats that lost their title.
const CLEAR_TITLES: &str = "
    UPDATE chats SET title = NULL, title_source = NULL, title_message_at = NULL, title_message_id = NULL
     WHERE title_source = 'fallback' AND title_message_id = ANY($1)
 RETURNING id";

/// The earliest remaining processed user messages of a chat: the fallback title candidates,
/// in the order the worker's `OFFER_FALLBACK_TITLES` would prefer them.
const TITLE_CANDIDATES: &str = "
    SELECT id, created_at, content FROM messages
     WHERE chat_id = $1 AND role = 'user' AND processed_at IS NOT NULL
     ORDER BY created_at, id
     LIMIT 64";

const SET_TITLE: &str = "
    UPDATE chats SET title = $2, title_source = 'fallback', title_message_at = $3, title_message_id = $4
     WHERE id = $1 AND title_source IS NULL";

async fn clear_titles(tx: &Transaction<'_>, message_ids: &[Uuid]) -> Result<Vec<Uuid>, PortError> {
    Ok(tx
        .query(CLEAR_TITLES, &[&message_ids])
        .await
        .map_err(classify)?
        .into_iter()
        .map(|r| r.get(0))
        .collect())
}

/// Gives each chat the fallback title of its earliest remaining user message, if any. Runs
/// after the forgotten messages are deleted, so only other messages are candidates. A later
/// message still in flight offers itself when processed, as usual.
async fn retitle(tx: &Transaction<'_>, chats: &[Uuid]) -> Result<(), PortError> {
    for chat in chats {
        let rows = tx
            .query(TITLE_CANDIDATES, &[chat])
            .await
            .map_err(classify)?;
        for r in rows {
            let content: String = r.get(2);
            if let Some(title) = memlink_actors::title::fallback_title(&content) {
                let at: DateTime<Utc> = r.get(1);
                let id: Uuid = r.get(0);
                tx.execute(SET_TITLE, &[chat, &title, &at, &id])
                    .await
                    .map_err(classify)?;
                break;
            }
        }
    }
    Ok(())
}

const LOCK_WATERMARK_ROWS: &str =
    "SELECT chat_id FROM watermarks WHERE chat_id = ANY($1) ORDER BY chat_id FOR UPDATE";
/// Every remaining message of the chats, and whether the folder has counted it.
const REMAINING_MESSAGES: &str =
    "SELECT chat_id, id, folded_at IS NOT NULL FROM messages WHERE chat_id = ANY($1)";
const DELETE_WATERMARKS: &str = "DELETE FROM watermarks WHERE chat_id = ANY($1)";
const SET_WATERMARK: &str =
    "UPDATE watermarks SET message_count = $2, checksum = $3, updated_at = $4 WHERE chat_id = $1";

/// A watermark counts the messages the folder has folded. After messages are deleted it is
/// recomputed from the chat's remaining folded messages (count and XOR checksum); messages
/// processed but not folded yet are left for the folder, which adds them incrementally. A
/// chat with no message left loses its watermark. Returns (removed, recomputed).
///
/// The watermark rows are locked before the messages are read, so a concurrent fold either
/// committed before (its folds are seen) or waits and adds onto the recomputed value.
async fn recompute_watermarks(
    tx: &Transaction<'_>,
    chats: &[Uuid],
) -> Result<(u64, u64), PortError> {
    if chats.is_empty() {
        return Ok((0, 0));
    }
    let locked: Vec<Uuid> = tx
        .query(LOCK_WATERMARK_ROWS, &[&chats])
        .await
        .map_err(classify)?
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    if locked.is_empty() {
        return Ok((0, 0));
    }
    let mut remaining: HashMap<Uuid, Vec<MessageId>> = HashMap::new();
    for r in tx
        .query(REMAINING_MESSAGES, &[&locked])
        .await
        .map_err(classify)?
    {
        let entry = remaining.entry(r.get(0)).or_default();
        if r.get::<_, bool>(2) {
            entry.push(MessageId(r.get(1)));
        }
    }
    let empty: Vec<Uuid> = locked
        .iter()
        .filter(|c| !remaining.contains_key(c))
        .copied()
        .collect();
    if !empty.is_empty() {
        tx.execute(DELETE_WATERMARKS, &[&empty])
            .await
            .map_err(classify)?;
    }
    let now = Utc::now().timestamp();
    let mut recomputed = 0;
    for chat in locked.iter().filter(|c| remaining.contains_key(c)) {
        let folded = remaining.get(chat).map(Vec::as_slice).unwrap_or(&[]);
        let sum = Checksum::ZERO.fold(folded.iter().copied());
        tx.execute(
            SET_WATERMARK,
            &[chat, &(folded.len() as i64), &sum.0.to_vec(), &now],
        )
        .await
        .map_err(classify)?;
        recomputed += 1;
    }
    Ok((empty.len() as u64, recomputed))
}

// ---------------------------------------------------------------------------------------
// Re-extraction
// ---------------------------------------------------------------------------------------

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
        let tx = conn.transaction().await.map_err(classify)?;
        lock_users(&tx, &[user.as_str()]).await?;
        let changes = reextract_user(&tx, &user, since, &mut report).await?;
        // A dry run does the same work, so its fact counts are exact, then rolls it back.
        let rebuilt = rebuild(&tx, changes).await?;
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
    let mut stored: HashMap<Uuid, Vec<StatementRow>> = HashMap::new();
    for r in tx
        .query(LOAD_MESSAGE_STATEMENTS, &[&ids])
        .await
        .map_err(classify)?
    {
        let s = statement_from_row(&r);
        stored.entry(s.message_id).or_default().push(s);
    }
    report.users += 1;
    report.messages += messages.len() as u64;
    let mut changes = Changes::default();
    for m in &messages {
        let (id, chat, content, said_at): (Uuid, Uuid, String, DateTime<Utc>) =
            (m.get(0), m.get(1), m.get(2), m.get(3));
        let mut old: HashMap<_, StatementRow> = stored
            .remove(&id)
            .unwrap_or_default()
            .into_iter()
            .map(|s| (s.key(), s))
            .collect();
        let mut seen = HashSet::new();
        let extracted = memlink_actors::extract::extract(&content);
        for (ordinal, fact) in extracted.iter().enumerate() {
            let new = StatementRow::from_extracted(
                Uuid::new_v4(),
                fact,
                user,
                id,
                chat,
                said_at,
                ordinal,
            );
            if !seen.insert(new.key()) {
                continue;
            }
            match old.remove(&new.key()) {
                Some(prev) if prev.same_metadata(&new) => report.unchanged += 1,
                Some(prev) => {
                    report.unchanged += 1;
                    report.restamped += 1;
                    report
                        .changes
                        .push(change("restamped", &new, Some(prev.extractor_version)));
                    changes.restamped.push(StatementRow { id: prev.id, ..new });
                }
                None => {
                    report.added += 1;
                    report.changes.push(change("added", &new, None));
                    changes.added.push(new);
                }
            }
        }
        let mut gone: Vec<StatementRow> = old.into_values().collect();
        gone.sort_by_key(|s| s.ordinal);
        for s in gone {
            report.removed += 1;
            report.changes.push(change("removed", &s, None));
            changes.removed.push(s.id);
        }
    }
    Ok(changes)
}

fn change(what: &'static str, s: &StatementRow, previous_version: Option<i32>) -> StatementChange {
    StatementChange {
        change: what,
        user_id: s.user_id.clone(),
        message_id: s.message_id,
        chat_id: s.chat_id,
        predicate: s.predicate.clone(),
        object: s.object.clone(),
        kind: s.kind.clone(),
        rule_id: s.rule_id.clone(),
        extractor_version: s.extractor_version,
        previous_version,
    }
}

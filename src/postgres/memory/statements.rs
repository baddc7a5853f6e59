//! Statements and facts on PostgreSQL: the reads the engine's window planner asks for and the
//! writes it plans (`memlink_actors::memory::window`). SQL only: which statements to read,
//! and what the facts become, is decided in the engine.
//!
//! Every read and write is keyed by user (and predicate): the timeline indexes of V8 start
//! with `user_id`, so one change costs a few index lookups whatever the user's history. The
//! caller holds the users' advisory locks ([`super::lock_users`]).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use memlink_actors::memory::window::{
    self, Changes, Loaded, Neighbourhood, Outcome, Request, Writes,
};
use memlink_actors::memory::{Fact, Statement, StatementKind};
use memlink_actors::ports::PortError;
use serde_json::Value;
use tokio_postgres::{Client, Row};
use uuid::Uuid;

use crate::postgres::classify;
use crate::postgres::pool::StatementCache;

/// The statement columns every read returns, in [`statement_from_row`]'s order.
macro_rules! statement_columns {
    ($s:literal) => {
        concat!(
            $s,
            ".id, ",
            $s,
            ".fact_id, ",
            $s,
            ".user_id, ",
            $s,
            ".predicate, ",
            $s,
            ".object, ",
            $s,
            ".kind, ",
            $s,
            ".attributes, ",
            $s,
            ".message_id, ",
            $s,
            ".chat_id, ",
            $s,
            ".said_at, ",
            $s,
            ".ordinal, ",
            $s,
            ".span_start, ",
            $s,
            ".span_end, ",
            $s,
            ".rule_id, ",
            $s,
            ".extractor, ",
            $s,
            ".extractor_version, ",
            $s,
            ".confidence"
        )
    };
}

/// The fact columns, in [`fact_from_row`]'s order.
macro_rules! fact_columns {
    ($f:literal) => {
        concat!(
            $f,
            ".id, ",
            $f,
            ".user_id, ",
            $f,
            ".predicate, ",
            $f,
            ".object, ",
            $f,
            ".kind, ",
            $f,
            ".attributes, ",
            $f,
            ".chat_id, ",
            $f,
            ".source_message_id, ",
            $f,
            ".created_at, ",
            $f,
            ".valid_from, ",
            $f,
            ".valid_to, ",
            $f,
            ".superseded_by, ",
            $f,
            ".supersede_kind, ",
            $f,
            ".span_start, ",
            $f,
            ".span_end, ",
            $f,
            ".rule_id, ",
            $f,
            ".extractor, ",
            $f,
            ".extractor_version, ",
            $f,
            ".confidence"
        )
    };
}

const STATEMENT_COLUMNS: usize = 17;

/// Around each requested key of a single-valued timeline (user, predicate): the statements
/// just before it (newest first) and from it on (oldest first), each with its fact. Served by
/// `fact_sources_timeline_idx`.
///
/// Each statement's fact is fetched by its primary key in a lateral subquery that `OFFSET 0`
/// keeps from being flattened into a join: the planner cannot know how many rows `LIMIT w.nb`
/// leaves (it guesses hundreds per key), and as a plain join it hashed the whole `facts` table
/// for every batch once that looked cheaper, a cost that grew with every user's history (the
/// history benchmark's rounds fell to a third at 10,000 statements per timeline).
pub const NEIGHBOURS_ONE: &str = concat!(
    "SELECT w.n, s.dir, ",
    statement_columns!("s"),
    ", ",
    fact_columns!("f"),
    "
  FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::uuid[], $5::int4[], $6::uuid[], $7::int8[], $8::int8[])
       WITH ORDINALITY AS w(user_id, predicate, said_at, message_id, ordinal, id, nb, na, n)
 CROSS JOIN LATERAL (
       (SELECT 0 AS dir, b.* FROM fact_sources b
         WHERE b.user_id = w.user_id AND b.predicate = w.predicate
           AND (b.said_at, b.message_id, b.ordinal, b.id) < (w.said_at, w.message_id, w.ordinal, w.id)
         ORDER BY b.said_at DESC, b.message_id DESC, b.ordinal DESC, b.id DESC LIMIT w.nb)
       UNION ALL
       (SELECT 1 AS dir, a.* FROM fact_sources a
         WHERE a.user_id = w.user_id AND a.predicate = w.predicate
           AND (a.said_at, a.message_id, a.ordinal, a.id) >= (w.said_at, w.message_id, w.ordinal, w.id)
         ORDER BY a.said_at, a.message_id, a.ordinal, a.id LIMIT w.na)) s
  LEFT JOIN LATERAL (SELECT * FROM facts WHERE id = s.fact_id AND user_id = s.user_id OFFSET 0) f ON true"
);

/// The same for one value of a multi-valued timeline (user, predicate, value). Served by
/// `fact_sources_value_idx`.
pub const NEIGHBOURS_MANY: &str = concat!(
    "SELECT w.n, s.dir, ",
    statement_columns!("s"),
    ", ",
    fact_columns!("f"),
    "
  FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::uuid[], $6::int4[], $7::uuid[],
              $8::int8[], $9::int8[])
       WITH ORDINALITY AS w(user_id, predicate, value, said_at, message_id, ordinal, id, nb, na, n)
 CROSS JOIN LATERAL (
       (SELECT 0 AS dir, b.* FROM fact_sources b
         WHERE b.user_id = w.user_id AND b.predicate = w.predicate AND lower(b.object) = w.value
           AND (b.said_at, b.message_id, b.ordinal, b.id) < (w.said_at, w.message_id, w.ordinal, w.id)
         ORDER BY b.said_at DESC, b.message_id DESC, b.ordinal DESC, b.id DESC LIMIT w.nb)
       UNION ALL
       (SELECT 1 AS dir, a.* FROM fact_sources a
         WHERE a.user_id = w.user_id AND a.predicate = w.predicate AND lower(a.object) = w.value
           AND (a.said_at, a.message_id, a.ordinal, a.id) >= (w.said_at, w.message_id, w.ordinal, w.id)
         ORDER BY a.said_at, a.message_id, a.ordinal, a.id LIMIT w.na)) s
  LEFT JOIN LATERAL (SELECT * FROM facts WHERE id = s.fact_id AND user_id = s.user_id OFFSET 0) f ON true"
);

/// Which of these (user, predicate) timelines were stored before V8 and never re-derived.
const LEGACY_PAIRS: &str = "
    DELETE FROM memory_legacy_pairs l
     USING unnest($1::text[], $2::text[]) AS u(user_id, predicate)
     WHERE l.user_id = u.user_id AND l.predicate = u.predicate
 RETURNING l.user_id, l.predicate";

/// Every statement of these (user, predicate) timelines.
const PAIR_STATEMENTS: &str = concat!(
    "SELECT ",
    statement_columns!("s"),
    ", ",
    fact_columns!("f"),
    " FROM fact_sources s JOIN unnest($1::text[], $2::text[]) AS u(user_id, predicate)
        ON s.user_id = u.user_id AND s.predicate = u.predicate
      LEFT JOIN facts f ON f.id = s.fact_id"
);

/// Which of these ids stored facts use.
const TAKEN_FACT_IDS: &str = "SELECT id FROM facts WHERE id = ANY($1)";

/// The identities of the stored statements of these messages.
const MESSAGE_IDENTITIES: &str =
    "SELECT message_id, predicate, lower(object), kind FROM fact_sources WHERE message_id = ANY($1)";

/// Every statement of these messages.
pub(crate) const MESSAGE_STATEMENTS: &str = concat!(
    "SELECT ",
    statement_columns!("s"),
    " FROM fact_sources s WHERE s.message_id = ANY($1)"
);

const UPSERT_FACTS: &str = "
    INSERT INTO facts (id, user_id, predicate, object, kind, attributes, chat_id, source_message_id, created_at,
                       valid_from, valid_to, superseded_by, supersede_kind, span_start, span_end, rule_id,
                       extractor, extractor_version, confidence)
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::uuid[],
                         $8::uuid[], $9::timestamptz[], $10::timestamptz[], $11::timestamptz[], $12::uuid[],
                         $13::text[], $14::int4[], $15::int4[], $16::text[], $17::text[], $18::int4[],
                         $19::float4[])
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
                         $14::text[], $15::text[], $16::int4[], $17::float4[])";

/// Restamps are rare (re-extraction): every column a planned statement carries is written.
const RESTAMP_STATEMENTS: &str = "
    UPDATE fact_sources s
       SET fact_id = u.fact_id, object = u.object, attributes = u.attributes, span_start = u.span_start,
           span_end = u.span_end, rule_id = u.rule_id, extractor = u.extractor,
           extractor_version = u.extractor_version, confidence = u.confidence
      FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[],
                  $8::uuid[], $9::uuid[], $10::timestamptz[], $11::int4[], $12::int4[], $13::int4[],
                  $14::text[], $15::text[], $16::int4[], $17::float4[])
           AS u(id, fact_id, user_id, predicate, object, kind, attributes, message_id, chat_id, said_at,
                ordinal, span_start, span_end, rule_id, extractor, extractor_version, confidence)
     WHERE s.id = u.id";

const MOVE_STATEMENTS: &str = "
    UPDATE fact_sources s SET fact_id = u.fact_id
      FROM unnest($1::uuid[], $2::uuid[]) AS u(id, fact_id)
     WHERE s.id = u.id";

const DELETE_STATEMENTS: &str = "DELETE FROM fact_sources WHERE id = ANY($1)";
const DELETE_FACTS: &str = "DELETE FROM facts WHERE id = ANY($1)";

pub(crate) fn statement_from_row(r: &Row, at: usize) -> Statement {
    Statement {
        id: r.get(at),
        fact_id: r.get(at + 1),
        user_id: r.get(at + 2),
        predicate: r.get(at + 3),
        object: r.get(at + 4),
        kind: StatementKind::parse(r.get(at + 5)).unwrap_or(StatementKind::Assert),
        attributes: r.get(at + 6),
        message_id: r.get(at + 7),
        chat_id: r.get(at + 8),
        said_at: r.get(at + 9),
        ordinal: r.get(at + 10),
        span_start: r.get(at + 11),
        span_end: r.get(at + 12),
        rule_id: r.get(at + 13),
        extractor: r.get(at + 14),
        extractor_version: r.get(at + 15),
        confidence: r.get(at + 16),
    }
}

pub(crate) fn fact_from_row(r: &Row, at: usize) -> Fact {
    Fact {
        id: r.get(at),
        user_id: r.get(at + 1),
        predicate: r.get(at + 2),
        object: r.get(at + 3),
        kind: StatementKind::parse(r.get(at + 4)).unwrap_or(StatementKind::Assert),
        attributes: r.get(at + 5),
        chat_id: r.get(at + 6),
        source_message_id: r.get(at + 7),
        created_at: r.get(at + 8),
        valid_from: r.get(at + 9),
        valid_to: r.get(at + 10),
        superseded_by: r.get(at + 11),
        supersede_kind: r
            .get::<_, Option<&str>>(at + 12)
            .and_then(StatementKind::parse),
        span_start: r.get(at + 13),
        span_end: r.get(at + 14),
        rule_id: r.get(at + 15),
        extractor: r.get(at + 16),
        extractor_version: r.get(at + 17),
        confidence: r.get(at + 18),
    }
}

/// What applying a change wrote.
#[derive(Debug, Default, Clone)]
pub struct Rebuilt {
    pub statements_added: usize,
    pub statements_removed: usize,
    /// Facts that lost a removed statement, by id.
    pub touched_by_removal: HashSet<Uuid>,
    pub facts_written: usize,
    pub facts_deleted: HashSet<Uuid>,
}

impl Rebuilt {
    fn of(changes: &Changes, w: &Writes) -> Rebuilt {
        Rebuilt {
            statements_added: w.insert.len(),
            statements_removed: w.delete_statements.len(),
            touched_by_removal: changes.removed.iter().filter_map(|s| s.fact_id).collect(),
            facts_written: w.upsert_facts.len(),
            facts_deleted: w.delete_facts.iter().copied().collect(),
        }
    }
}

/// The statements [`first_reads`] and [`plan`] run (see [`StatementCache::ensure`]).
pub const READS: &[&str] = &[
    NEIGHBOURS_ONE,
    NEIGHBOURS_MANY,
    TAKEN_FACT_IDS,
    MESSAGE_IDENTITIES,
    LEGACY_PAIRS,
    PAIR_STATEMENTS,
];

/// The statements [`write`] runs.
pub const WRITES: &[&str] = &[
    UPSERT_FACTS,
    DELETE_STATEMENTS,
    INSERT_STATEMENTS,
    RESTAMP_STATEMENTS,
    MOVE_STATEMENTS,
    DELETE_FACTS,
];

/// Applies `changes` to the statements and the facts derived from them, reading only around
/// the changes. The caller holds the users' locks.
pub async fn rebuild(
    tx: &Client,
    st: &StatementCache,
    changes: Changes,
) -> Result<Rebuilt, PortError> {
    if changes.is_empty() {
        return Ok(Rebuilt::default());
    }
    st.ensure(tx, READS).await.map_err(classify)?;
    st.ensure(tx, WRITES).await.map_err(classify)?;
    let first = first_reads(tx, st, &changes, Identities::Check).await?;
    let writes = plan(tx, st, &changes, first).await?;
    write(tx, st, &writes).await?;
    Ok(Rebuilt::of(&changes, &writes))
}

/// What the first round trip of a change read.
pub struct FirstReads {
    loaded: Loaded,
    legacy: HashSet<(String, String)>,
}

/// Whether the added statements' messages may already have statements stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identities {
    /// They may (re-extraction, an LLM pass): read which are stored.
    Check,
    /// They cannot: messages the worker stores now have no statements yet (statements are
    /// only ever written for stored, processed messages).
    New,
}

/// The first reads a change needs, in one round trip (issued side by side with the caller's
/// own statements when it joins this future with them).
pub async fn first_reads(
    tx: &Client,
    st: &StatementCache,
    changes: &Changes,
    identities: Identities,
) -> Result<FirstReads, PortError> {
    if changes.is_empty() {
        return Ok(FirstReads {
            loaded: Loaded::default(),
            legacy: HashSet::new(),
        });
    }
    let requests = window::requests(changes);
    // New statements of the worker have fresh random ids: no fact can hold one.
    let (check, messages) = match identities {
        Identities::Check => (
            changes.added.iter().map(|s| s.id).collect(),
            window::messages_to_check(changes),
        ),
        Identities::New => (Vec::new(), Vec::new()),
    };
    let (mut loaded, legacy) = futures_util::try_join!(
        load(tx, st, &requests, &check, &messages),
        legacy_pairs(tx, st, changes)
    )?;
    if identities == Identities::New {
        loaded.free.extend(changes.added.iter().map(|s| s.id));
    }
    Ok(FirstReads { loaded, legacy })
}

/// Plans the writes of a change from its first reads, reading more where they do not settle
/// it (wider windows, derived ids, timelines stored before V8).
pub async fn plan(
    tx: &Client,
    st: &StatementCache,
    changes: &Changes,
    first: FirstReads,
) -> Result<Writes, PortError> {
    let FirstReads { mut loaded, legacy } = first;
    if changes.is_empty() {
        return Ok(Writes::default());
    }
    if !legacy.is_empty() {
        // Read whole, these replace their windows.
        loaded
            .neighbourhoods
            .retain(|scope, _| !legacy.contains(&(scope.user_id.clone(), scope.predicate.clone())));
        let (statements, facts) = pair_statements(tx, st, &legacy).await?;
        loaded.facts.extend(facts.into_iter().map(|f| (f.id, f)));
        loaded
            .neighbourhoods
            .extend(window::whole_timelines(statements, changes));
    }
    loop {
        match window::plan(changes, &loaded) {
            Outcome::Done(w) => return Ok(w),
            Outcome::More(need) => {
                let more = load(tx, st, &need.requests, &need.check, &[]).await?;
                loaded.extend(more);
            }
        }
    }
}

/// Reads the neighbourhoods, id checks and identities a plan asked for, in one round trip.
async fn load(
    tx: &Client,
    st: &StatementCache,
    requests: &[Request],
    check: &[Uuid],
    messages: &[Uuid],
) -> Result<Loaded, PortError> {
    let (one, many): (Vec<&Request>, Vec<&Request>) =
        requests.iter().partition(|r| r.scope.value.is_none());
    /// One request array per column of the neighbourhood queries.
    struct Columns<'a> {
        users: Vec<&'a str>,
        predicates: Vec<&'a str>,
        said_at: Vec<DateTime<Utc>>,
        messages: Vec<Uuid>,
        ordinals: Vec<i32>,
        ids: Vec<Uuid>,
        before: Vec<i64>,
        after: Vec<i64>,
    }
    fn col<'a>(rs: &[&'a Request]) -> Columns<'a> {
        Columns {
            users: rs.iter().map(|r| r.scope.user_id.as_str()).collect(),
            predicates: rs.iter().map(|r| r.scope.predicate.as_str()).collect(),
            said_at: rs.iter().map(|r| r.around.said_at).collect(),
            messages: rs.iter().map(|r| r.around.message_id).collect(),
            ordinals: rs.iter().map(|r| r.around.ordinal).collect(),
            ids: rs.iter().map(|r| r.around.id).collect(),
            before: rs.iter().map(|r| r.before as i64).collect(),
            after: rs.iter().map(|r| r.after as i64).collect(),
        }
    }
    let o = col(&one);
    let m = col(&many);
    let values: Vec<&str> = many
        .iter()
        .map(|r| r.scope.value.as_deref().unwrap_or(""))
        .collect();
    let (s_one, s_many, s_taken, s_ids) = (
        st.cached(NEIGHBOURS_ONE)?,
        st.cached(NEIGHBOURS_MANY)?,
        st.cached(TAKEN_FACT_IDS)?,
        st.cached(MESSAGE_IDENTITIES)?,
    );
    let one_rows = async {
        if one.is_empty() {
            return Ok(Vec::new());
        }
        tx.query(
            &s_one,
            &[
                &o.users,
                &o.predicates,
                &o.said_at,
                &o.messages,
                &o.ordinals,
                &o.ids,
                &o.before,
                &o.after,
            ],
        )
        .await
    };
    let many_rows = async {
        if many.is_empty() {
            return Ok(Vec::new());
        }
        tx.query(
            &s_many,
            &[
                &m.users,
                &m.predicates,
                &values,
                &m.said_at,
                &m.messages,
                &m.ordinals,
                &m.ids,
                &m.before,
                &m.after,
            ],
        )
        .await
    };
    let taken = async {
        if check.is_empty() {
            return Ok(Vec::new());
        }
        tx.query(&s_taken, &[&check]).await
    };
    let identities = async {
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        tx.query(&s_ids, &[&messages]).await
    };
    let (one_rows, many_rows, taken, identities) =
        futures_util::try_join!(one_rows, many_rows, taken, identities).map_err(classify)?;

    let mut loaded = Loaded::default();
    for (rows, rs) in [(one_rows, &one), (many_rows, &many)] {
        let mut by_request: Vec<Neighbourhood> = vec![Neighbourhood::default(); rs.len()];
        for r in &rows {
            let n = usize::try_from(r.get::<_, i64>(0) - 1).unwrap_or(usize::MAX);
            let Some(slot) = by_request.get_mut(n) else {
                continue;
            };
            let s = statement_from_row(r, 2);
            if r.get::<_, Option<Uuid>>(2 + STATEMENT_COLUMNS).is_some() {
                let f = fact_from_row(r, 2 + STATEMENT_COLUMNS);
                loaded.facts.insert(f.id, f);
            }
            if r.get::<_, i32>(1) == 0 {
                slot.before.push(s);
            } else {
                slot.after.push(s);
            }
        }
        for (req, mut n) in rs.iter().zip(by_request) {
            // LATERAL keeps each side's ORDER BY, but the union's rows may interleave.
            n.before.sort_by_key(|s| std::cmp::Reverse(s.said_key()));
            n.after.sort_by_key(|s| s.said_key());
            n.before_complete = n.before.len() < req.before;
            n.after_complete = n.after.len() < req.after;
            loaded.neighbourhoods.insert(req.scope.clone(), n);
        }
    }
    let taken: HashSet<Uuid> = taken.iter().map(|r| r.get(0)).collect();
    for id in check {
        if taken.contains(id) {
            loaded.taken.insert(*id);
        } else {
            loaded.free.insert(*id);
        }
    }
    loaded.stored = identities
        .iter()
        .map(|r| {
            (
                r.get(0),
                r.get(1),
                r.get(2),
                StatementKind::parse(r.get(3)).unwrap_or(StatementKind::Assert),
            )
        })
        .collect();
    Ok(loaded)
}

/// Set once `memory_legacy_pairs` was seen empty: it only ever shrinks (V8 filled it), so from
/// then on nothing is asked of it.
static LEGACY_DRAINED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

const ANY_LEGACY: &str = "SELECT EXISTS (SELECT 1 FROM memory_legacy_pairs)";

/// Notes whether any timeline stored before V8 is left to re-derive (at start; the table only
/// shrinks, so an empty one stays empty).
pub async fn note_legacy_pairs(pool: &crate::postgres::PgPool) -> Result<(), PortError> {
    let conn = pool.get().await.map_err(crate::postgres::pool_error)?;
    let any: bool = conn
        .query_one(ANY_LEGACY, &[])
        .await
        .map_err(classify)?
        .get(0);
    LEGACY_DRAINED.store(!any, std::sync::atomic::Ordering::Relaxed);
    Ok(())
}

/// The touched timelines stored before V8 and never re-derived since; claimed here (the
/// caller's transaction re-derives them whole).
async fn legacy_pairs(
    tx: &Client,
    st: &StatementCache,
    changes: &Changes,
) -> Result<HashSet<(String, String)>, PortError> {
    if LEGACY_DRAINED.load(std::sync::atomic::Ordering::Relaxed) {
        return Ok(HashSet::new());
    }
    let stmt = st.cached(LEGACY_PAIRS)?;
    let pairs: HashSet<(&str, &str)> = changes
        .added
        .iter()
        .chain(&changes.removed)
        .chain(&changes.restamped)
        .map(|s| (s.user_id.as_str(), s.predicate.as_str()))
        .collect();
    let (users, predicates): (Vec<&str>, Vec<&str>) = pairs.into_iter().unzip();
    Ok(tx
        .query(&stmt, &[&users, &predicates])
        .await
        .map_err(classify)?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}

/// Every statement of these timelines, with the facts they point at.
async fn pair_statements(
    tx: &Client,
    st: &StatementCache,
    pairs: &HashSet<(String, String)>,
) -> Result<(Vec<Statement>, Vec<Fact>), PortError> {
    let stmt = st.cached(PAIR_STATEMENTS)?;
    let (users, predicates): (Vec<&str>, Vec<&str>) =
        pairs.iter().map(|(u, p)| (u.as_str(), p.as_str())).unzip();
    let mut statements = Vec::new();
    let mut facts = Vec::new();
    for r in tx
        .query(&stmt, &[&users, &predicates])
        .await
        .map_err(classify)?
    {
        statements.push(statement_from_row(&r, 0));
        if r.get::<_, Option<Uuid>>(STATEMENT_COLUMNS).is_some() {
            facts.push(fact_from_row(&r, STATEMENT_COLUMNS));
        }
    }
    Ok((statements, facts))
}

/// Writes a plan in one round trip, in this order on the connection: facts first (statements
/// point at them), statements removed (a statement removed and said again, by re-extraction
/// or an LLM answer replacing the rules', frees its identity before it is inserted), added,
/// restamped and moved, then the facts no statement points at any more. The statements must
/// be [`StatementCache::ensure`]d ([`WRITES`]).
pub async fn write(tx: &Client, st: &StatementCache, w: &Writes) -> Result<(), PortError> {
    let facts = async {
        if w.upsert_facts.is_empty() {
            return Ok(0);
        }
        upsert_facts(tx, &st.cached(UPSERT_FACTS)?, &w.upsert_facts).await
    };
    let delete = async {
        if w.delete_statements.is_empty() {
            return Ok(0);
        }
        tx.execute(&st.cached(DELETE_STATEMENTS)?, &[&w.delete_statements])
            .await
            .map_err(classify)
    };
    let insert = async {
        if w.insert.is_empty() {
            return Ok(0);
        }
        write_statements(tx, &st.cached(INSERT_STATEMENTS)?, &w.insert).await
    };
    let restamp = async {
        if w.restamp.is_empty() {
            return Ok(0);
        }
        write_statements(tx, &st.cached(RESTAMP_STATEMENTS)?, &w.restamp).await
    };
    let moves = async {
        if w.moves.is_empty() {
            return Ok(0);
        }
        let (ids, facts): (Vec<Uuid>, Vec<Uuid>) = w.moves.iter().copied().unzip();
        tx.execute(&st.cached(MOVE_STATEMENTS)?, &[&ids, &facts])
            .await
            .map_err(classify)
    };
    let doomed = async {
        if w.delete_facts.is_empty() {
            return Ok(0);
        }
        tx.execute(&st.cached(DELETE_FACTS)?, &[&w.delete_facts])
            .await
            .map_err(classify)
    };
    futures_util::try_join!(facts, delete, insert, restamp, moves, doomed)?;
    Ok(())
}

async fn upsert_facts(
    tx: &Client,
    stmt: &tokio_postgres::Statement,
    rows: &[Fact],
) -> Result<u64, PortError> {
    let ids: Vec<Uuid> = rows.iter().map(|f| f.id).collect();
    let users: Vec<&str> = rows.iter().map(|f| f.user_id.as_str()).collect();
    let predicates: Vec<&str> = rows.iter().map(|f| f.predicate.as_str()).collect();
    let objects: Vec<&str> = rows.iter().map(|f| f.object.as_str()).collect();
    let kinds: Vec<&str> = rows.iter().map(|f| f.kind.as_str()).collect();
    let attributes: Vec<&Value> = rows.iter().map(|f| &f.attributes).collect();
    let chats: Vec<Uuid> = rows.iter().map(|f| f.chat_id).collect();
    let messages: Vec<Uuid> = rows.iter().map(|f| f.source_message_id).collect();
    let created: Vec<DateTime<Utc>> = rows.iter().map(|f| f.created_at).collect();
    let from: Vec<DateTime<Utc>> = rows.iter().map(|f| f.valid_from).collect();
    let to: Vec<Option<DateTime<Utc>>> = rows.iter().map(|f| f.valid_to).collect();
    let by: Vec<Option<Uuid>> = rows.iter().map(|f| f.superseded_by).collect();
    let how: Vec<Option<&str>> = rows
        .iter()
        .map(|f| f.supersede_kind.map(StatementKind::as_str))
        .collect();
    let starts: Vec<i32> = rows.iter().map(|f| f.span_start).collect();
    let ends: Vec<i32> = rows.iter().map(|f| f.span_end).collect();
    let rules: Vec<&str> = rows.iter().map(|f| f.rule_id.as_str()).collect();
    let extractors: Vec<&str> = rows.iter().map(|f| f.extractor.as_str()).collect();
    let versions: Vec<i32> = rows.iter().map(|f| f.extractor_version).collect();
    let confidence: Vec<f32> = rows.iter().map(|f| f.confidence).collect();
    tx.execute(
        stmt,
        &[
            &ids,
            &users,
            &predicates,
            &objects,
            &kinds,
            &attributes,
            &chats,
            &messages,
            &created,
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
    .map_err(classify)
}

/// One statement shape for inserts and restamps: every column, in table order.
async fn write_statements(
    tx: &Client,
    stmt: &tokio_postgres::Statement,
    rows: &[Statement],
) -> Result<u64, PortError> {
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
        stmt,
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
    .map_err(classify)
}

/// The stored statements of these messages, by message.
pub async fn message_statements(
    tx: &Client,
    message_ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<Statement>>, PortError> {
    let mut out: HashMap<Uuid, Vec<Statement>> = HashMap::new();
    for r in tx
        .query(MESSAGE_STATEMENTS, &[&message_ids])
        .await
        .map_err(classify)?
    {
        let s = statement_from_row(&r, 0);
        out.entry(s.message_id).or_default().push(s);
    }
    Ok(out)
}

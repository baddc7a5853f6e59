//! The read models behind the facts API: current facts, facts at an instant, history, and
//! one fact with its provenance. Reads only; never writes.

use chrono::{DateTime, Utc};
use memlink_actors::ports::PortError;
use serde::Serialize;
use serde_json::Value;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::postgres::{classify, pool_error, PgPool};

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

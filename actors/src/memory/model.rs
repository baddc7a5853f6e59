//! The memory graph's value types: statements (what one message said), facts (a value with a
//! lifetime, derived from statements) and the said order that arranges them.
//!
//! Plain data: no I/O, no clock, no ids drawn here. The store adapter maps these one to one
//! onto the `fact_sources` and `facts` tables.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::extract::{Cardinality, ExtractedFact, Predicate, EXTRACTOR_NAME, EXTRACTOR_VERSION};

/// How a statement relates to what was known before (the extractor's `FactKind`, as stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StatementKind {
    Assert,
    Correction,
    Change,
    Retraction,
}

impl StatementKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StatementKind::Assert => "assert",
            StatementKind::Correction => "correction",
            StatementKind::Change => "change",
            StatementKind::Retraction => "retraction",
        }
    }

    pub fn parse(s: &str) -> Option<StatementKind> {
        match s {
            "assert" => Some(StatementKind::Assert),
            "correction" => Some(StatementKind::Correction),
            "change" => Some(StatementKind::Change),
            "retraction" => Some(StatementKind::Retraction),
            _ => None,
        }
    }
}

/// The comparison key of a value: case-insensitive, like the store's `lower(object)`.
pub fn value_key(object: &str) -> String {
    object.to_lowercase()
}

/// The cardinality of a stored predicate name; an unknown one (a newer extractor's) is
/// treated as multi-valued, which never ends a value by saying another.
pub fn cardinality_of(predicate: &str) -> Cardinality {
    Predicate::parse(predicate)
        .map(Predicate::cardinality)
        .unwrap_or(Cardinality::Many)
}

/// Where a statement sits in said order: when its message was written, then the message id,
/// then its position in the message, then its own id. Never arrival order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SaidKey {
    pub said_at: DateTime<Utc>,
    pub message_id: Uuid,
    pub ordinal: i32,
    pub id: Uuid,
}

/// The timeline a statement belongs to: all of a (user, predicate) for single-valued
/// predicates, where a new value ends the old one; one value of it for multi-valued ones,
/// where values never interact.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope {
    pub user_id: String,
    pub predicate: String,
    /// `Some(value key)` for a multi-valued predicate.
    pub value: Option<String>,
}

/// One statement (a `fact_sources` row).
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub id: Uuid,
    /// The fact it belongs to; `None` for a statement not stored yet.
    pub fact_id: Option<Uuid>,
    pub user_id: String,
    pub predicate: String,
    /// The value as said in this message (casing may differ from the fact's).
    pub object: String,
    pub kind: StatementKind,
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

impl Statement {
    pub fn said_key(&self) -> SaidKey {
        SaidKey {
            said_at: self.said_at,
            message_id: self.message_id,
            ordinal: self.ordinal,
            id: self.id,
        }
    }

    pub fn scope(&self) -> Scope {
        let value = match cardinality_of(&self.predicate) {
            Cardinality::One => None,
            Cardinality::Many => Some(value_key(&self.object)),
        };
        Scope {
            user_id: self.user_id.clone(),
            predicate: self.predicate.clone(),
            value,
        }
    }

    /// What identifies a statement: (message, predicate, value up to case, kind).
    pub fn identity(&self) -> (Uuid, String, String, StatementKind) {
        (
            self.message_id,
            self.predicate.clone(),
            value_key(&self.object),
            self.kind,
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
    ) -> Statement {
        Statement {
            id,
            fact_id: None,
            user_id: user_id.to_owned(),
            predicate: fact.predicate.as_str().to_owned(),
            // PostgreSQL `text` cannot hold NUL.
            object: fact.object.replace('\0', "\u{fffd}"),
            kind: StatementKind::from(fact.kind),
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
    pub fn same_metadata(&self, other: &Statement) -> bool {
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

impl From<crate::extract::FactKind> for StatementKind {
    fn from(k: crate::extract::FactKind) -> StatementKind {
        use crate::extract::FactKind;
        match k {
            FactKind::Assert => StatementKind::Assert,
            FactKind::Correction => StatementKind::Correction,
            FactKind::Change => StatementKind::Change,
            FactKind::Retraction => StatementKind::Retraction,
        }
    }
}

/// Orders statements by [`SaidKey`].
pub fn by_said_order(a: &Statement, b: &Statement) -> Ordering {
    a.said_key().cmp(&b.said_key())
}

/// One fact (a `facts` row): the value of a run of statements, with its lifetime. Its value,
/// kind and provenance are those of its opener (the run's first statement).
#[derive(Debug, Clone, PartialEq)]
pub struct Fact {
    pub id: Uuid,
    pub user_id: String,
    pub predicate: String,
    pub object: String,
    pub kind: StatementKind,
    pub attributes: Value,
    pub chat_id: Uuid,
    pub source_message_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub valid_from: DateTime<Utc>,
    /// `None` while current. Equal to `valid_from` when corrected (never true) and for a
    /// retraction record, which is an instant rather than a value.
    pub valid_to: Option<DateTime<Utc>>,
    pub superseded_by: Option<Uuid>,
    pub supersede_kind: Option<StatementKind>,
    pub span_start: i32,
    pub span_end: i32,
    pub rule_id: String,
    pub extractor: String,
    pub extractor_version: i32,
    pub confidence: f32,
}

/// How a fact ended: when, by which fact, and how. `None` fields while current.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ending {
    pub valid_to: Option<DateTime<Utc>>,
    pub superseded_by: Option<Uuid>,
    pub supersede_kind: Option<StatementKind>,
}

impl Ending {
    pub const CURRENT: Ending = Ending {
        valid_to: None,
        superseded_by: None,
        supersede_kind: None,
    };
}

impl Fact {
    /// A fact opened by `opener`, ended as `ending`.
    pub fn opened_by(id: Uuid, opener: &Statement, ending: Ending) -> Fact {
        Fact {
            id,
            user_id: opener.user_id.clone(),
            predicate: opener.predicate.clone(),
            object: opener.object.clone(),
            kind: opener.kind,
            attributes: opener.attributes.clone(),
            chat_id: opener.chat_id,
            source_message_id: opener.message_id,
            created_at: opener.said_at,
            valid_from: opener.said_at,
            valid_to: ending.valid_to,
            superseded_by: ending.superseded_by,
            supersede_kind: ending.supersede_kind,
            span_start: opener.span_start,
            span_end: opener.span_end,
            rule_id: opener.rule_id.clone(),
            extractor: opener.extractor.clone(),
            extractor_version: opener.extractor_version,
            confidence: opener.confidence,
        }
    }

    pub fn ending(&self) -> Ending {
        Ending {
            valid_to: self.valid_to,
            superseded_by: self.superseded_by,
            supersede_kind: self.supersede_kind,
        }
    }

    pub fn with_ending(&self, ending: Ending) -> Fact {
        Fact {
            valid_to: ending.valid_to,
            superseded_by: ending.superseded_by,
            supersede_kind: ending.supersede_kind,
            ..self.clone()
        }
    }
}

/// The id a new fact gets when neither a statement's fact nor its opener's own id can be
/// kept (a run split off another fact): derived from the opener, so that deriving the same
/// statements twice, or incrementally and in full, gives the same ids.
pub fn derived_fact_id(opener: Uuid, attempt: u32) -> Uuid {
    Uuid::new_v5(&opener, format!("memlink:fact:{attempt}").as_bytes())
}

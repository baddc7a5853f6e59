//! The memory timeline: the pure fold from one (user, predicate)'s statements to its facts.
//!
//! A *statement* is one thing the extractor found in one message ("my name is Ana", said at
//! 10:00 in message M). A *fact* is a value with a lifetime: it opens with the first
//! statement of a run of statements saying the same value (case-insensitively), collects the
//! repeats as further sources, and is ended by the next different value (single-valued
//! predicates) or by a retraction of that value. Statements are ordered by when they were
//! said (message `created_at`, then message id, then position in the message), never by
//! arrival, so a late older message lands where it belongs and cannot override a newer value.
//!
//! Deriving facts from the full statement list (rather than patching the chain) makes every
//! change — a new message, a forgotten message, a re-extraction — the same operation, and
//! makes it idempotent: deriving again from the same statements changes nothing, ids included.
//!
//! This module never touches the database, the clock or randomness: ids for new facts come
//! from the caller.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use memlink_actors::extract::Cardinality;
use uuid::Uuid;

/// How a statement relates to what was known before (the extractor's `FactKind`, as stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Assert,
    Correction,
    Change,
    Retraction,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Assert => "assert",
            Kind::Correction => "correction",
            Kind::Change => "change",
            Kind::Retraction => "retraction",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "assert" => Some(Kind::Assert),
            "correction" => Some(Kind::Correction),
            "change" => Some(Kind::Change),
            "retraction" => Some(Kind::Retraction),
            _ => None,
        }
    }
}

/// One statement, as far as the timeline cares.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub id: Uuid,
    /// The fact it belongs to now; `None` for a statement not stored yet.
    pub fact_id: Option<Uuid>,
    pub object: String,
    pub kind: Kind,
    pub said_at: DateTime<Utc>,
    pub message_id: Uuid,
    pub ordinal: i32,
}

/// One derived fact. Indices point into the statement slice given to [`derive`].
#[derive(Debug, Clone, PartialEq)]
pub struct DerivedFact {
    pub id: Uuid,
    /// The statement that opened it: its value, kind and provenance are the fact's.
    pub opener: usize,
    /// Every statement supporting it, the opener first, in said order.
    pub sources: Vec<usize>,
    pub valid_from: DateTime<Utc>,
    /// `None` while current. Equal to `valid_from` when corrected (never true) and for a
    /// retraction, which is an instant rather than a value.
    pub valid_to: Option<DateTime<Utc>>,
    pub superseded_by: Option<Uuid>,
    pub supersede_kind: Option<Kind>,
}

/// The comparison key of a value: case-insensitive, like the store's `lower(object)`.
pub fn value_key(object: &str) -> String {
    object.to_lowercase()
}

struct Run {
    statements: Vec<usize>,
    retraction: bool,
    /// (run that ended it, how, when).
    ended: Option<(usize, Kind, DateTime<Utc>)>,
}

/// Derives the facts of one (user, predicate) from all its statements.
///
/// Fact ids are kept stable: a run keeps the id of the earliest of its statements' current
/// facts not already kept by an earlier run; a run of statements new to the store takes its
/// opener's id (unless `existing` has it); otherwise `new_id` is asked.
pub fn derive(
    statements: &[Statement],
    cardinality: Cardinality,
    existing: &HashSet<Uuid>,
    new_id: &mut dyn FnMut() -> Uuid,
) -> Vec<DerivedFact> {
    let mut order: Vec<usize> = (0..statements.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (&statements[a], &statements[b]);
        (x.said_at, x.message_id, x.ordinal, x.id).cmp(&(y.said_at, y.message_id, y.ordinal, y.id))
    });

    let mut runs: Vec<Run> = Vec::new();
    // Single-valued: the one open run. Multi-valued: the open run per value.
    let mut current: Option<usize> = None;
    let mut open: HashMap<String, usize> = HashMap::new();
    for &i in &order {
        let s = &statements[i];
        let key = value_key(&s.object);
        let open_run = match cardinality {
            Cardinality::One => current.filter(|&r| {
                let opener = &statements[runs[r].statements[0]];
                value_key(&opener.object) == key
            }),
            Cardinality::Many => open.get(&key).copied(),
        };
        if s.kind == Kind::Retraction {
            let here = runs.len();
            runs.push(Run {
                statements: vec![i],
                retraction: true,
                ended: None,
            });
            // A retraction ends the matching value if it is current; otherwise it ends nothing.
            if let Some(r) = open_run {
                runs[r].ended = Some((here, Kind::Retraction, s.said_at));
                match cardinality {
                    Cardinality::One => current = None,
                    Cardinality::Many => {
                        open.remove(&key);
                    }
                }
            }
            continue;
        }
        if let Some(r) = open_run {
            // The same value said again: one more source, not another fact.
            runs[r].statements.push(i);
            continue;
        }
        let here = runs.len();
        runs.push(Run {
            statements: vec![i],
            retraction: false,
            ended: None,
        });
        match cardinality {
            Cardinality::One => {
                if let Some(prev) = current {
                    let how = if s.kind == Kind::Correction {
                        Kind::Correction
                    } else {
                        Kind::Change
                    };
                    runs[prev].ended = Some((here, how, s.said_at));
                }
                current = Some(here);
            }
            Cardinality::Many => {
                open.insert(key, here);
            }
        }
    }

    // Ids, in said order, so the earliest run keeps a contested id.
    let mut claimed: HashSet<Uuid> = HashSet::new();
    let mut ids = Vec::with_capacity(runs.len());
    for run in &runs {
        let kept = run
            .statements
            .iter()
            .filter_map(|&i| statements[i].fact_id)
            .find(|id| !claimed.contains(id));
        let opener = &statements[run.statements[0]];
        let id = match kept {
            Some(id) => id,
            None if opener.fact_id.is_none()
                && !existing.contains(&opener.id)
                && !claimed.contains(&opener.id) =>
            {
                opener.id
            }
            None => loop {
                let id = new_id();
                if !existing.contains(&id) && !claimed.contains(&id) {
                    break id;
                }
            },
        };
        claimed.insert(id);
        ids.push(id);
    }

    runs.iter()
        .enumerate()
        .map(|(n, run)| {
            let opener = run.statements[0];
            let valid_from = statements[opener].said_at;
            let (valid_to, superseded_by, supersede_kind) = if run.retraction {
                (Some(valid_from), None, None)
            } else {
                match run.ended {
                    None => (None, None, None),
                    Some((by, Kind::Correction, _)) => {
                        (Some(valid_from), Some(ids[by]), Some(Kind::Correction))
                    }
                    Some((by, how, at)) => (Some(at), Some(ids[by]), Some(how)),
                }
            };
            DerivedFact {
                id: ids[n],
                opener,
                sources: run.statements.clone(),
                valid_from,
                valid_to,
                superseded_by,
                supersede_kind,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 10, minute, 0).unwrap()
    }

    fn st(n: u128, object: &str, kind: Kind, minute: u32) -> Statement {
        Statement {
            id: Uuid::from_u128(n),
            fact_id: None,
            object: object.into(),
            kind,
            said_at: at(minute),
            message_id: Uuid::from_u128(1000 + n),
            ordinal: 0,
        }
    }

    fn run(statements: &[Statement], c: Cardinality) -> Vec<DerivedFact> {
        let mut next = 5000u128;
        derive(statements, c, &HashSet::new(), &mut || {
            next += 1;
            Uuid::from_u128(next)
        })
    }

    /// Stores the derivation back onto the statements, as the store does.
    fn stored(statements: &[Statement], facts: &[DerivedFact]) -> Vec<Statement> {
        let mut out = statements.to_vec();
        for f in facts {
            for &i in &f.sources {
                out[i].fact_id = Some(f.id);
            }
        }
        out
    }

    #[test]
    fn a_change_ends_the_old_value_when_the_new_one_is_said() {
        let s = [
            st(1, "Porto", Kind::Assert, 0),
            st(2, "Paris", Kind::Change, 5),
        ];
        let f = run(&s, Cardinality::One);
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].valid_to, Some(at(5)));
        assert_eq!(f[0].superseded_by, Some(f[1].id));
        assert_eq!(f[0].supersede_kind, Some(Kind::Change));
        assert_eq!(f[1].valid_to, None);
    }

    #[test]
    fn a_correction_means_the_old_value_was_never_true() {
        let s = [
            st(1, "Ana", Kind::Assert, 0),
            st(2, "Anna", Kind::Correction, 5),
        ];
        let f = run(&s, Cardinality::One);
        assert_eq!(f[0].valid_to, Some(at(0)));
        assert_eq!(f[0].supersede_kind, Some(Kind::Correction));
    }

    #[test]
    fn a_repeat_is_a_source_not_a_fact() {
        let s = [st(1, "Ana", Kind::Assert, 0), st(2, "ana", Kind::Assert, 5)];
        let f = run(&s, Cardinality::One);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].sources, vec![0, 1]);
        assert_eq!(f[0].id, Uuid::from_u128(1));
    }

    #[test]
    fn a_late_older_message_does_not_override_and_ids_stay() {
        let newer = st(2, "Paris", Kind::Assert, 5);
        let first = run(std::slice::from_ref(&newer), Cardinality::One);
        let mut s = stored(&[newer], &first);
        s.push(st(1, "Porto", Kind::Assert, 0));
        let f = run(&s, Cardinality::One);
        assert_eq!(f.len(), 2);
        let current: Vec<_> = f.iter().filter(|x| x.valid_to.is_none()).collect();
        assert_eq!(current.len(), 1);
        assert_eq!(s[current[0].opener].object, "Paris");
        assert_eq!(current[0].id, first[0].id, "the current fact keeps its id");
    }

    #[test]
    fn a_late_older_repeat_moves_the_start_back() {
        let newer = st(2, "Ana", Kind::Assert, 5);
        let first = run(std::slice::from_ref(&newer), Cardinality::One);
        let mut s = stored(&[newer], &first);
        s.push(st(1, "Ana", Kind::Assert, 0));
        let f = run(&s, Cardinality::One);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].id, first[0].id);
        assert_eq!(f[0].valid_from, at(0));
        assert_eq!(f[0].opener, 1);
    }

    #[test]
    fn a_value_said_in_between_splits_a_run() {
        let s0 = [
            st(1, "Ana", Kind::Assert, 0),
            st(3, "Ana", Kind::Assert, 10),
        ];
        let first = run(&s0, Cardinality::One);
        assert_eq!(first.len(), 1);
        let mut s = stored(&s0, &first);
        s.push(st(2, "Bob", Kind::Change, 5));
        let f = run(&s, Cardinality::One);
        assert_eq!(f.len(), 3);
        assert_eq!(f[0].id, first[0].id);
        assert_ne!(f[2].id, first[0].id);
        assert_eq!(f[0].valid_to, Some(at(5)));
        assert_eq!(f[1].valid_to, Some(at(10)));
        assert_eq!(f[2].valid_to, None);
    }

    #[test]
    fn many_valued_accumulate_and_a_retraction_ends_only_its_value() {
        let s = [
            st(1, "sushi", Kind::Assert, 0),
            st(2, "hiking", Kind::Assert, 1),
            st(3, "Sushi", Kind::Assert, 2),
            st(4, "sushi", Kind::Retraction, 3),
            st(5, "chess", Kind::Retraction, 4),
        ];
        let f = run(&s, Cardinality::Many);
        assert_eq!(f.len(), 4, "{f:?}");
        let sushi = &f[0];
        assert_eq!(sushi.sources, vec![0, 2]);
        assert_eq!(sushi.valid_to, Some(at(3)));
        assert_eq!(sushi.supersede_kind, Some(Kind::Retraction));
        assert_eq!(sushi.superseded_by, Some(f[2].id));
        assert_eq!(f[1].valid_to, None, "hiking stays");
        // Retractions are instants; one ending nothing is still recorded.
        assert_eq!(f[2].valid_to, Some(at(3)));
        assert_eq!(f[3].valid_to, Some(at(4)));
    }

    #[test]
    fn a_retraction_of_a_stale_value_ends_nothing() {
        let s = [
            st(1, "Porto", Kind::Assert, 0),
            st(2, "Paris", Kind::Change, 1),
            st(3, "Porto", Kind::Retraction, 2),
        ];
        let f = run(&s, Cardinality::One);
        assert_eq!(f[1].valid_to, None);
        assert_eq!(f[0].supersede_kind, Some(Kind::Change));
    }

    #[test]
    fn deriving_again_changes_nothing() {
        let s = [
            st(1, "Ana", Kind::Assert, 0),
            st(2, "Bob", Kind::Change, 1),
            st(3, "Ana", Kind::Correction, 2),
            st(4, "Ana", Kind::Assert, 3),
        ];
        let f1 = run(&s, Cardinality::One);
        let s2 = stored(&s, &f1);
        let existing: HashSet<Uuid> = f1.iter().map(|f| f.id).collect();
        let f2 = derive(&s2, Cardinality::One, &existing, &mut || Uuid::from_u128(9));
        assert_eq!(f1, f2);
    }

    #[test]
    fn removing_a_statement_remerges_the_values_around_it() {
        let s = [
            st(1, "Ana", Kind::Assert, 0),
            st(2, "Bob", Kind::Change, 1),
            st(3, "Ana", Kind::Assert, 2),
        ];
        let f1 = run(&s, Cardinality::One);
        let s2 = stored(&s, &f1);
        let rest = [s2[0].clone(), s2[2].clone()];
        let f2 = run(&rest, Cardinality::One);
        assert_eq!(f2.len(), 1);
        assert_eq!(f2[0].id, f1[0].id);
        assert_eq!(f2[0].valid_to, None);
    }
}

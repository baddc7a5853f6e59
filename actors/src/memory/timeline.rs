//! The timeline fold: from statements in said order to runs (facts), their ids and endings.
//!
//! A fact opens with the first statement of a run of statements saying the same value
//! (case-insensitively), collects the repeats as further sources, and is ended by the next
//! different value (single-valued predicates) or by a retraction of that value. A correction
//! means the old value was never true. Statements are ordered by [`SaidKey`], never by
//! arrival, so a late older message lands where it belongs and cannot override a newer value.
//!
//! [`derive`] folds a whole (user, predicate) at once: the reference semantics.
//! [`super::window`] folds only the stretch of a timeline a change can reach, with the same
//! [`fold`] and [`assign_ids`], and must always agree with [`derive`] (a property test holds
//! them to it). Pure: ids for new facts are derived ([`derived_fact_id`]), never drawn.
//!
//! [`SaidKey`]: super::model::SaidKey

use std::collections::HashMap;
use std::collections::HashSet;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::model::{derived_fact_id, value_key, Ending, Fact, Statement, StatementKind};
use crate::extract::Cardinality;

/// A run of statements: one fact. Indices point into the ordered slice given to [`fold`].
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Every statement supporting it, the opener first, in said order.
    pub statements: Vec<usize>,
    /// A retraction record: an instant, never a value.
    pub retraction: bool,
    /// (the run that ended it, how, when).
    pub ended: Option<(usize, StatementKind, DateTime<Utc>)>,
}

/// The runs of a timeline, and which are still open after its last statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Folded {
    pub runs: Vec<Run>,
    /// Runs no statement ended (at most one for a single-valued timeline).
    pub open: Vec<usize>,
}

/// Folds statements, already in said order, into runs.
pub fn fold(ordered: &[&Statement], cardinality: Cardinality) -> Folded {
    let mut runs: Vec<Run> = Vec::new();
    // Single-valued: the one open run. Multi-valued: the open run per value.
    let mut current: Option<usize> = None;
    let mut open: HashMap<String, usize> = HashMap::new();
    for (i, s) in ordered.iter().enumerate() {
        let key = value_key(&s.object);
        let open_run = match cardinality {
            Cardinality::One => current.filter(|&r| {
                let opener = ordered[runs[r].statements[0]];
                value_key(&opener.object) == key
            }),
            Cardinality::Many => open.get(&key).copied(),
        };
        if s.kind == StatementKind::Retraction {
            let here = runs.len();
            runs.push(Run {
                statements: vec![i],
                retraction: true,
                ended: None,
            });
            // A retraction ends the matching value if it is current; otherwise it ends nothing.
            if let Some(r) = open_run {
                runs[r].ended = Some((here, StatementKind::Retraction, s.said_at));
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
                    let how = if s.kind == StatementKind::Correction {
                        StatementKind::Correction
                    } else {
                        StatementKind::Change
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
    let mut still_open: Vec<usize> = match cardinality {
        Cardinality::One => current.into_iter().collect(),
        Cardinality::Many => open.into_values().collect(),
    };
    still_open.sort_unstable();
    Folded {
        runs,
        open: still_open,
    }
}

/// Fact ids per run, in run order, so the earliest run keeps a contested id: a run keeps the
/// earliest of its statements' facts not already kept by an earlier run; a run of statements
/// new to the store takes its opener's own id (unless `taken`); otherwise its id is derived
/// from its opener. `taken` says which ids stored facts already use.
pub fn assign_ids(
    ordered: &[&Statement],
    runs: &[Run],
    taken: &dyn Fn(&Uuid) -> bool,
) -> Vec<Uuid> {
    let mut claimed: HashSet<Uuid> = HashSet::new();
    let mut ids = Vec::with_capacity(runs.len());
    for run in runs {
        let kept = run
            .statements
            .iter()
            .filter_map(|&i| ordered[i].fact_id)
            .find(|id| !claimed.contains(id));
        let opener = ordered[run.statements[0]];
        let id = match kept {
            Some(id) => id,
            None if opener.fact_id.is_none()
                && !taken(&opener.id)
                && !claimed.contains(&opener.id) =>
            {
                opener.id
            }
            None => (0..)
                .map(|attempt| derived_fact_id(opener.id, attempt))
                .find(|id| !taken(id) && !claimed.contains(id))
                .unwrap_or(opener.id),
        };
        claimed.insert(id);
        ids.push(id);
    }
    ids
}

/// How a run that began at `valid_from` ended, with the ids of the runs.
pub fn ending_of(run: &Run, valid_from: DateTime<Utc>, ids: &[Uuid]) -> Ending {
    if run.retraction {
        return Ending {
            valid_to: Some(valid_from),
            superseded_by: None,
            supersede_kind: None,
        };
    }
    match run.ended {
        None => Ending::CURRENT,
        Some((by, StatementKind::Correction, _)) => Ending {
            valid_to: Some(valid_from),
            superseded_by: Some(ids[by]),
            supersede_kind: Some(StatementKind::Correction),
        },
        Some((by, how, at)) => Ending {
            valid_to: Some(at),
            superseded_by: Some(ids[by]),
            supersede_kind: Some(how),
        },
    }
}

/// One derived fact and the ids of the statements that support it, opener first.
#[derive(Debug, Clone, PartialEq)]
pub struct Derived {
    pub fact: Fact,
    pub sources: Vec<Uuid>,
}

/// Derives every fact of one (user, predicate) from all of its statements: the reference the
/// incremental path must always agree with.
pub fn derive(
    statements: &[Statement],
    cardinality: Cardinality,
    taken: &dyn Fn(&Uuid) -> bool,
) -> Vec<Derived> {
    let mut ordered: Vec<&Statement> = statements.iter().collect();
    ordered.sort_by_key(|s| s.said_key());
    let folded = fold(&ordered, cardinality);
    let ids = assign_ids(&ordered, &folded.runs, taken);
    folded
        .runs
        .iter()
        .zip(&ids)
        .map(|(run, &id)| {
            let opener = ordered[run.statements[0]];
            Derived {
                fact: Fact::opened_by(id, opener, ending_of(run, opener.said_at, &ids)),
                sources: run.statements.iter().map(|&i| ordered[i].id).collect(),
            }
        })
        .collect()
}

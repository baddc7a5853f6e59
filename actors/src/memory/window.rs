//! Incremental derivation: the effect of a change on the facts, computed from the few
//! statements around it rather than from a user's whole history.
//!
//! A change (statements added, removed or restamped) can only alter a timeline from the
//! earliest changed statement on, and only until the fold reaches the same state it reached
//! before the change: the same run open, under the same fact id. So each touched timeline is
//! re-folded over a *window*: from the latest value statement before the change (whose run
//! continues into the window) to the first unchanged statement after the change where the
//! old and new folds agree. A new statement at the end of a timeline reads one statement
//! before it and none after; a late older message reads its neighbours. Only a change that
//! splits a long run of one value reads the rest of that run, because those statements move
//! to a new fact.
//!
//! The store reads what [`requests`] asks for and calls [`plan`], which either returns the
//! writes or asks for wider windows. The windows use the same [`fold`] and [`assign_ids`] as
//! the full [`derive`]; a property test holds the two to identical facts, ids included.
//!
//! Pure: no I/O here.
//!
//! [`derive`]: super::timeline::derive

use std::collections::{BTreeMap, HashMap, HashSet};

use uuid::Uuid;

use super::model::{cardinality_of, Ending, Fact, SaidKey, Scope, Statement, StatementKind};
use super::timeline::{assign_ids, ending_of, fold};

/// Statements read before the change at first: the latest value statement is usually the
/// very first one.
pub const FIRST_BEFORE: usize = 4;
/// Statements read from the change on at first: none, for an append.
pub const FIRST_AFTER: usize = 16;

/// A change to the statements.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    /// New statements (their `fact_id` is ignored). One already stored, or repeated within
    /// the change, is not added twice.
    pub added: Vec<Statement>,
    /// Stored statements to remove (as stored).
    pub removed: Vec<Statement>,
    /// Stored statements (same id, same identity) whose extractor metadata is rewritten.
    pub restamped: Vec<Statement>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.restamped.is_empty()
    }
}

/// What to read for one timeline: up to `before` statements said before `around` (newest
/// first) and up to `after` statements from `around` on (oldest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub scope: Scope,
    pub around: SaidKey,
    pub before: usize,
    pub after: usize,
}

/// What the store read for one [`Request`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Neighbourhood {
    /// Newest first, all said before `around`.
    pub before: Vec<Statement>,
    /// Fewer than asked: the timeline starts here.
    pub before_complete: bool,
    /// Oldest first, all said at or after `around`.
    pub after: Vec<Statement>,
    /// Fewer than asked: the timeline ends here.
    pub after_complete: bool,
    /// `before` and `after` hold the whole timeline, and nothing stored about it is to be
    /// trusted: fold it from its start (facts written before V3, one row per statement,
    /// become runs the first time their timeline changes).
    pub whole: bool,
}

/// Everything read for a [`plan`].
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    pub neighbourhoods: HashMap<Scope, Neighbourhood>,
    /// The stored facts of every statement read.
    pub facts: HashMap<Uuid, Fact>,
    /// Ids known to be used by stored facts (beyond those in `facts`).
    pub taken: HashSet<Uuid>,
    /// Ids known not to be used by any stored fact.
    pub free: HashSet<Uuid>,
    /// The identities of the stored statements of every message with added statements (see
    /// [`messages_to_check`]): an added statement already stored is not added again, wherever
    /// it sits in its timeline.
    pub stored: HashSet<Identity>,
}

/// What identifies a statement (see [`Statement::identity`]).
pub type Identity = (Uuid, String, String, StatementKind);

/// The messages whose stored statements' identities a plan needs in [`Loaded::stored`].
pub fn messages_to_check(changes: &Changes) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = changes.added.iter().map(|s| s.message_id).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

impl Loaded {
    /// Whether a stored fact uses `id`; `None` when not known yet.
    fn is_taken(&self, id: &Uuid) -> Option<bool> {
        if self.facts.contains_key(id) || self.taken.contains(id) {
            Some(true)
        } else if self.free.contains(id) {
            Some(false)
        } else {
            None
        }
    }

    /// Adds what a later read returned.
    pub fn extend(&mut self, more: Loaded) {
        self.neighbourhoods.extend(more.neighbourhoods);
        self.facts.extend(more.facts);
        self.taken.extend(more.taken);
        self.free.extend(more.free);
        self.stored.extend(more.stored);
    }
}

/// The writes that apply a change. Facts are written before statements point at them, and
/// deleted after no statement does.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Writes {
    pub upsert_facts: Vec<Fact>,
    /// Statements to insert, with their `fact_id`.
    pub insert: Vec<Statement>,
    /// Stored statements to point at another fact: (statement id, fact id).
    pub moves: Vec<(Uuid, Uuid)>,
    /// Stored statements whose metadata (and fact) is rewritten.
    pub restamp: Vec<Statement>,
    pub delete_statements: Vec<Uuid>,
    pub delete_facts: Vec<Uuid>,
}

impl Writes {
    pub fn is_empty(&self) -> bool {
        self.upsert_facts.is_empty()
            && self.insert.is_empty()
            && self.moves.is_empty()
            && self.restamp.is_empty()
            && self.delete_statements.is_empty()
            && self.delete_facts.is_empty()
    }
}

/// A plan, or what must be read first.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Done(Writes),
    More(Need),
}

/// What a plan needs read before it can settle.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Need {
    /// Wider windows.
    pub requests: Vec<Request>,
    /// Ids a new fact would take: is any used by a stored fact? (A run split off another
    /// fact gets an id derived from its opener, which an older fact may hold.)
    pub check: Vec<Uuid>,
}

/// The changes of one timeline.
#[derive(Default)]
struct ScopeChanges<'a> {
    added: Vec<&'a Statement>,
    removed: HashSet<Uuid>,
    restamped: HashMap<Uuid, &'a Statement>,
    first: Option<SaidKey>,
    last: Option<SaidKey>,
}

impl<'a> ScopeChanges<'a> {
    fn touch(&mut self, key: SaidKey) {
        self.first = Some(self.first.map_or(key, |k| k.min(key)));
        self.last = Some(self.last.map_or(key, |k| k.max(key)));
    }
}

fn by_scope(changes: &Changes) -> BTreeMap<Scope, ScopeChanges<'_>> {
    let mut out: BTreeMap<Scope, ScopeChanges<'_>> = BTreeMap::new();
    let mut seen = HashSet::new();
    for s in &changes.added {
        if seen.insert(s.identity()) {
            let c = out.entry(s.scope()).or_default();
            c.added.push(s);
            c.touch(s.said_key());
        }
    }
    for s in &changes.removed {
        let c = out.entry(s.scope()).or_default();
        c.removed.insert(s.id);
        c.touch(s.said_key());
    }
    for s in &changes.restamped {
        let c = out.entry(s.scope()).or_default();
        c.restamped.insert(s.id, s);
        c.touch(s.said_key());
    }
    out
}

/// The first reads a change needs: one window per touched timeline, around its earliest change.
pub fn requests(changes: &Changes) -> Vec<Request> {
    requests_sized(changes, FIRST_BEFORE, FIRST_AFTER)
}

/// [`requests`] with other first window sizes (tests use tiny ones to exercise widening).
pub fn requests_sized(changes: &Changes, before: usize, after: usize) -> Vec<Request> {
    by_scope(changes)
        .into_iter()
        .filter_map(|(scope, c)| {
            Some(Request {
                scope,
                around: c.first?,
                before,
                after,
            })
        })
        .collect()
}

/// Every timeline of `statements` (all of one or more (user, predicate)), read whole: for
/// [`plan`] to fold them from their start, trusting nothing stored about them.
pub fn whole_timelines(
    statements: Vec<Statement>,
    changes: &Changes,
) -> HashMap<Scope, Neighbourhood> {
    let firsts: BTreeMap<Scope, SaidKey> = by_scope(changes)
        .into_iter()
        .filter_map(|(scope, c)| Some((scope, c.first?)))
        .collect();
    let mut out: HashMap<Scope, Neighbourhood> = HashMap::new();
    for s in statements {
        let scope = s.scope();
        let n = out.entry(scope.clone()).or_insert_with(|| Neighbourhood {
            before_complete: true,
            after_complete: true,
            whole: true,
            ..Neighbourhood::default()
        });
        match firsts.get(&scope) {
            Some(first) if s.said_key() >= *first => n.after.push(s),
            _ => n.before.push(s),
        }
    }
    for n in out.values_mut() {
        n.before.sort_by_key(|s| std::cmp::Reverse(s.said_key()));
        n.after.sort_by_key(|s| s.said_key());
    }
    out
}

/// Plans the writes of `changes` from what was read; asks for wider windows where what was
/// read cannot settle a timeline.
pub fn plan(changes: &Changes, loaded: &Loaded) -> Outcome {
    let mut writes = Writes::default();
    let mut need = Need::default();
    let mut scopes = by_scope(changes);
    // A timeline read whole is folded again even where nothing changed in it.
    for (scope, n) in &loaded.neighbourhoods {
        if n.whole {
            scopes.entry(scope.clone()).or_default();
        }
    }
    for (scope, c) in scopes {
        let empty = Neighbourhood {
            before_complete: true,
            after_complete: true,
            ..Neighbourhood::default()
        };
        let n = loaded.neighbourhoods.get(&scope).unwrap_or(&empty);
        let (first, last) = match (c.first, c.last) {
            (Some(first), Some(last)) => (first, last),
            _ if n.whole => match n.before.last().or(n.after.first()) {
                Some(s) => (s.said_key(), s.said_key()),
                None => continue,
            },
            _ => continue,
        };
        match plan_scope(&scope, &c, last, n, loaded) {
            Ok(w) => {
                writes.upsert_facts.extend(w.upsert_facts);
                writes.insert.extend(w.insert);
                writes.moves.extend(w.moves);
                writes.restamp.extend(w.restamp);
                writes.delete_statements.extend(w.delete_statements);
                writes.delete_facts.extend(w.delete_facts);
            }
            Err(Unsettled::Wider { before, after }) => need.requests.push(Request {
                scope,
                around: first,
                before,
                after,
            }),
            Err(Unsettled::Check(ids)) => need.check.extend(ids),
        }
    }
    if need.requests.is_empty() && need.check.is_empty() {
        Outcome::Done(writes)
    } else {
        need.check.sort_unstable();
        need.check.dedup();
        Outcome::More(need)
    }
}

/// Why a timeline could not be settled from what was read.
enum Unsettled {
    /// The window was too narrow: read this many statements instead.
    Wider { before: usize, after: usize },
    /// A new fact's id is not known to be free.
    Check(Vec<Uuid>),
}

fn plan_scope(
    scope: &Scope,
    c: &ScopeChanges<'_>,
    last: SaidKey,
    n: &Neighbourhood,
    loaded: &Loaded,
) -> Result<Writes, Unsettled> {
    let wider = || Unsettled::Wider {
        before: n.before.len().max(1) * 4,
        after: n.after.len().max(1) * 4,
    };
    // The seed: the latest value statement before the change. Its run continues into the
    // window; the retractions after it are folded again with it.
    let seed_at = n
        .before
        .iter()
        .position(|s| s.kind != StatementKind::Retraction)
        .filter(|_| !n.whole);
    let lead: Vec<&Statement> = match seed_at {
        Some(i) => n.before[..=i].iter().rev().collect(),
        None if n.before_complete => n.before.iter().rev().collect(),
        None => return Err(wider()),
    };
    let seed = seed_at.map(|i| &n.before[i]);
    // The window must reach past the last change, to a statement the change left alone.
    let reaches = n.after.last().is_some_and(|s| {
        s.said_key() > last && !c.removed.contains(&s.id) && !c.restamped.contains_key(&s.id)
    });
    if !n.after_complete && !reaches {
        return Err(wider());
    }

    let old: Vec<&Statement> = lead.iter().copied().chain(n.after.iter()).collect();
    let removed_identities: HashSet<Identity> = old
        .iter()
        .filter(|s| c.removed.contains(&s.id))
        .map(|s| s.identity())
        .collect();
    let mut new: Vec<&Statement> = old
        .iter()
        .copied()
        .filter(|s| !c.removed.contains(&s.id))
        .map(|s| c.restamped.get(&s.id).copied().unwrap_or(s))
        .collect();
    let added: Vec<&Statement> = c
        .added
        .iter()
        .copied()
        .filter(|s| {
            let identity = s.identity();
            !loaded.stored.contains(&identity) || removed_identities.contains(&identity)
        })
        .collect();
    let added_ids: HashSet<Uuid> = added.iter().map(|s| s.id).collect();
    new.extend(added.iter().copied());
    new.sort_by_key(|s| s.said_key());

    let cardinality = cardinality_of(&scope.predicate);
    let new_fold = fold(&new, cardinality);
    let unknown = std::cell::RefCell::new(Vec::new());
    let taken = |id: &Uuid| {
        loaded.is_taken(id).unwrap_or_else(|| {
            unknown.borrow_mut().push(*id);
            false
        })
    };
    let ids = assign_ids(&new, &new_fold.runs, &taken);
    let unknown = unknown.into_inner();
    if !unknown.is_empty() {
        return Err(Unsettled::Check(unknown));
    }

    // Settled: the window reaches the end of the timeline, or the two folds agree after its
    // last statement (the same run open under the same id), so nothing later changes.
    if !n.after_complete {
        let old_fold = fold(&old, cardinality);
        let old_open = old_fold
            .open
            .first()
            .and_then(|&r| old[old_fold.runs[r].statements[0]].fact_id);
        let new_open = new_fold.open.first().map(|&r| ids[r]);
        let e = old.last().map(|s| s.id);
        let e_new = new_fold
            .runs
            .iter()
            .zip(&ids)
            .find(|(r, _)| r.statements.iter().any(|&i| Some(new[i].id) == e))
            .map(|(_, id)| *id);
        let e_old = old.last().and_then(|s| s.fact_id);
        if old_open != new_open || e_new.is_none() || e_new != e_old {
            return Err(wider());
        }
    }

    let mut writes = Writes::default();
    let mut kept: HashSet<Uuid> = HashSet::new();
    for (r, run) in new_fold.runs.iter().enumerate() {
        let id = ids[r];
        kept.insert(id);
        let opener = new[run.statements[0]];
        // The seed's run began before the window: its opener, and so its value, provenance
        // and start, are the stored fact's.
        let continued = seed
            .filter(|q| q.id == opener.id)
            .and_then(|_| loaded.facts.get(&id));
        let valid_from = continued.map_or(opener.said_at, |f| f.valid_from);
        let open_at_end = run.ended.is_none() && !run.retraction;
        let ending = if open_at_end && !n.after_complete {
            // Ended (or not) by what follows the window, as before; a corrected value was
            // never true, from wherever it now starts.
            let stored = loaded.facts.get(&id).map_or(Ending::CURRENT, Fact::ending);
            match stored.supersede_kind {
                Some(StatementKind::Correction) => Ending {
                    valid_to: Some(valid_from),
                    ..stored
                },
                _ => stored,
            }
        } else {
            ending_of(run, valid_from, &ids)
        };
        let fact = match continued {
            Some(stored) => stored.with_ending(ending),
            None => Fact::opened_by(id, opener, ending),
        };
        if loaded.facts.get(&id) != Some(&fact) {
            writes.upsert_facts.push(fact);
        }
        for &i in &run.statements {
            let s = new[i];
            if added_ids.contains(&s.id) {
                let mut s = s.clone();
                s.fact_id = Some(id);
                writes.insert.push(s);
            } else if c.restamped.contains_key(&s.id) {
                let mut s = s.clone();
                s.fact_id = Some(id);
                writes.restamp.push(s);
            } else if s.fact_id != Some(id) {
                writes.moves.push((s.id, id));
            }
        }
    }
    writes.delete_statements = old
        .iter()
        .filter(|s| c.removed.contains(&s.id))
        .map(|s| s.id)
        .collect();
    let mut doomed: Vec<Uuid> = old
        .iter()
        .filter_map(|s| s.fact_id)
        .filter(|id| !kept.contains(id))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    doomed.sort_unstable();
    writes.delete_facts = doomed;
    Ok(writes)
}

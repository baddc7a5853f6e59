//! An in-memory memory store with the semantics of the PostgreSQL one: statements and facts
//! by id, neighbourhood reads in said order, writes applied as planned. Two ways to apply a
//! change: incrementally ([`MemoryStore::apply`], through [`crate::memory::window`], as the
//! daemon does), and by re-deriving every touched (user, predicate) from all its statements
//! ([`MemoryStore::apply_by_full_derivation`], the reference).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use uuid::Uuid;

use crate::memory::model::{cardinality_of, Fact, Scope, Statement};
use crate::memory::timeline::derive;
use crate::memory::window::{self, Changes, Loaded, Neighbourhood, Outcome, Request, Writes};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemoryStore {
    pub statements: BTreeMap<Uuid, Statement>,
    pub facts: BTreeMap<Uuid, Fact>,
}

impl MemoryStore {
    fn in_scope(&self, scope: &Scope) -> Vec<&Statement> {
        let mut v: Vec<&Statement> = self
            .statements
            .values()
            .filter(|s| &s.scope() == scope)
            .collect();
        v.sort_by_key(|s| s.said_key());
        v
    }

    /// Reads what the requests ask for, as the store adapter does.
    pub fn load(&self, requests: &[Request], changes: &Changes) -> Loaded {
        let mut loaded = Loaded::default();
        for r in requests {
            let all = self.in_scope(&r.scope);
            let before: Vec<Statement> = all
                .iter()
                .rev()
                .filter(|s| s.said_key() < r.around)
                .take(r.before)
                .map(|s| (*s).clone())
                .collect();
            let after: Vec<Statement> = all
                .iter()
                .filter(|s| s.said_key() >= r.around)
                .take(r.after)
                .map(|s| (*s).clone())
                .collect();
            for s in before.iter().chain(after.iter()) {
                if let Some(f) = s.fact_id.and_then(|id| self.facts.get(&id)) {
                    loaded.facts.insert(f.id, f.clone());
                }
            }
            let n = Neighbourhood {
                before_complete: before.len() < r.before,
                after_complete: after.len() < r.after,
                before,
                after,
                whole: false,
            };
            loaded.neighbourhoods.insert(r.scope.clone(), n);
        }
        self.check(
            &changes.added.iter().map(|s| s.id).collect::<Vec<_>>(),
            &mut loaded,
        );
        let messages = window::messages_to_check(changes);
        loaded.stored = self
            .statements
            .values()
            .filter(|s| messages.contains(&s.message_id))
            .map(|s| s.identity())
            .collect();
        loaded
    }

    /// Which of `ids` stored facts use, as the adapter's id check does.
    pub fn check(&self, ids: &[Uuid], loaded: &mut Loaded) {
        for id in ids {
            if self.facts.contains_key(id) {
                loaded.taken.insert(*id);
            } else {
                loaded.free.insert(*id);
            }
        }
    }

    /// Applies planned writes.
    pub fn write(&mut self, w: &Writes) {
        for f in &w.upsert_facts {
            self.facts.insert(f.id, f.clone());
        }
        for s in w.insert.iter().chain(w.restamp.iter()) {
            self.statements.insert(s.id, s.clone());
        }
        for (id, fact) in &w.moves {
            if let Some(s) = self.statements.get_mut(id) {
                s.fact_id = Some(*fact);
            }
        }
        for id in &w.delete_statements {
            self.statements.remove(id);
        }
        for id in &w.delete_facts {
            self.facts.remove(id);
        }
    }

    /// Applies a change incrementally; returns the writes and how many read rounds it took.
    pub fn apply(&mut self, changes: &Changes) -> (Writes, usize) {
        self.apply_sized(changes, window::FIRST_BEFORE, window::FIRST_AFTER)
    }

    /// [`MemoryStore::apply`], starting from windows of the given sizes.
    pub fn apply_sized(
        &mut self,
        changes: &Changes,
        before: usize,
        after: usize,
    ) -> (Writes, usize) {
        let mut requests = window::requests_sized(changes, before, after);
        let mut rounds = 0;
        let mut loaded = Loaded::default();
        loop {
            rounds += 1;
            let more = self.load(&requests, changes);
            loaded.extend(more);
            match window::plan(changes, &loaded) {
                Outcome::Done(w) => {
                    self.write(&w);
                    return (w, rounds);
                }
                Outcome::More(need) => {
                    self.check(&need.check, &mut loaded);
                    requests = need.requests;
                }
            }
        }
    }

    /// Applies a change reading every touched (user, predicate) whole, trusting nothing stored
    /// about its facts (as the store does once for timelines written before V3).
    pub fn apply_whole(&mut self, changes: &Changes) -> Writes {
        let pairs: BTreeSet<(String, String)> = changes
            .added
            .iter()
            .chain(&changes.removed)
            .chain(&changes.restamped)
            .map(|s| (s.user_id.clone(), s.predicate.clone()))
            .collect();
        let statements: Vec<Statement> = self
            .statements
            .values()
            .filter(|s| pairs.contains(&(s.user_id.clone(), s.predicate.clone())))
            .cloned()
            .collect();
        let mut loaded = Loaded::default();
        for s in &statements {
            if let Some(f) = s.fact_id.and_then(|id| self.facts.get(&id)) {
                loaded.facts.insert(f.id, f.clone());
            }
        }
        loaded.neighbourhoods = window::whole_timelines(statements, changes);
        loop {
            let ids: Vec<Uuid> = changes.added.iter().map(|s| s.id).collect();
            self.check(&ids, &mut loaded);
            let messages = window::messages_to_check(changes);
            loaded.stored.extend(
                self.statements
                    .values()
                    .filter(|s| messages.contains(&s.message_id))
                    .map(|s| s.identity()),
            );
            match window::plan(changes, &loaded) {
                Outcome::Done(w) => {
                    self.write(&w);
                    return w;
                }
                Outcome::More(need) => self.check(&need.check, &mut loaded),
            }
        }
    }

    /// The reference: applies the change to the statements, then re-derives every touched
    /// (user, predicate) from all of its statements.
    pub fn apply_by_full_derivation(&mut self, changes: &Changes) {
        let mut pairs: BTreeSet<(String, String)> = BTreeSet::new();
        for s in changes
            .added
            .iter()
            .chain(&changes.removed)
            .chain(&changes.restamped)
        {
            pairs.insert((s.user_id.clone(), s.predicate.clone()));
        }
        let taken_before: HashSet<Uuid> = self.facts.keys().copied().collect();
        for s in &changes.removed {
            self.statements.remove(&s.id);
        }
        for s in &changes.restamped {
            if let Some(stored) = self.statements.get_mut(&s.id) {
                let fact_id = stored.fact_id;
                *stored = Statement {
                    fact_id,
                    ..s.clone()
                };
            }
        }
        let mut known: HashSet<_> = self.statements.values().map(|s| s.identity()).collect();
        for s in &changes.added {
            if known.insert(s.identity()) {
                self.statements.insert(
                    s.id,
                    Statement {
                        fact_id: None,
                        ..s.clone()
                    },
                );
            }
        }
        for (user, predicate) in pairs {
            let statements: Vec<Statement> = self
                .statements
                .values()
                .filter(|s| s.user_id == user && s.predicate == predicate)
                .cloned()
                .collect();
            let stored: Vec<Uuid> = self
                .facts
                .values()
                .filter(|f| f.user_id == user && f.predicate == predicate)
                .map(|f| f.id)
                .collect();
            let taken = |id: &Uuid| taken_before.contains(id);
            let derived = derive(&statements, cardinality_of(&predicate), &taken);
            let kept: HashSet<Uuid> = derived.iter().map(|d| d.fact.id).collect();
            let mut owner: HashMap<Uuid, Uuid> = HashMap::new();
            for d in derived {
                for s in &d.sources {
                    owner.insert(*s, d.fact.id);
                }
                self.facts.insert(d.fact.id, d.fact);
            }
            for (s, f) in owner {
                if let Some(st) = self.statements.get_mut(&s) {
                    st.fact_id = Some(f);
                }
            }
            for id in stored {
                if !kept.contains(&id) {
                    self.facts.remove(&id);
                }
            }
        }
    }
}

//! The incremental memory path against the reference: random statement sequences (late
//! arrivals, ties, duplicates, corrections, changes, retractions, forgotten messages and
//! re-extraction) applied to two stores, one through the window planner and one by
//! re-deriving each touched (user, predicate) in full. After every step both hold identical
//! statements and facts, ids included.

use chrono::{DateTime, Utc};
use memlink_actors::memory::window::Changes;
use memlink_actors::memory::{Statement, StatementKind};
use memlink_actors::testkit::memory::MemoryStore;
use proptest::prelude::*;
use serde_json::json;
use uuid::Uuid;

#[derive(Debug, Clone)]
enum Op {
    /// A message: (user, minute said, statements (single-valued?, value, upper case?, kind)).
    Say(u8, i64, Vec<(bool, u8, bool, u8)>),
    /// The message of an earlier `Say`, delivered again.
    Again(usize),
    /// Forget the n-th stored message.
    Forget(usize),
    /// Re-extract the n-th stored statement with other casing and confidence.
    Restamp(usize, bool, u8),
    /// Re-extract the n-th stored message: its first statement goes, a new one (single-valued?,
    /// value, kind) comes, the rest are restamped; one change.
    Reextract(usize, bool, u8, u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..2, 0i64..12, proptest::collection::vec((any::<bool>(), 0u8..3, any::<bool>(), 0u8..8), 1..3))
            .prop_map(|(u, t, s)| Op::Say(u, t, s)),
        1 => any::<usize>().prop_map(Op::Again),
        1 => any::<usize>().prop_map(Op::Forget),
        1 => (any::<usize>(), any::<bool>(), 0u8..4).prop_map(|(i, up, c)| Op::Restamp(i, up, c)),
        1 => (any::<usize>(), any::<bool>(), 0u8..3, 0u8..8).prop_map(|(i, one, v, k)| Op::Reextract(i, one, v, k)),
    ]
}

const VALUES: [&str; 3] = ["porto", "paris", "lima"];

fn at(minute: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_769_067_000 + minute * 60, 0).unwrap()
}

fn kind(k: u8) -> StatementKind {
    match k {
        0..=3 => StatementKind::Assert,
        4 => StatementKind::Correction,
        5 => StatementKind::Change,
        _ => StatementKind::Retraction,
    }
}

fn casing(value: &str, upper: bool) -> String {
    if upper {
        let mut c = value.chars();
        c.next()
            .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
            .unwrap_or_default()
    } else {
        value.to_owned()
    }
}

/// The statements of the `n`-th message (ids derived from `n`, so a repeat is identical).
fn message(n: usize, user: u8, minute: i64, said: &[(bool, u8, bool, u8)]) -> Vec<Statement> {
    let message_id = Uuid::from_u128(0x1000 + n as u128);
    said.iter()
        .enumerate()
        .map(|(i, &(one, value, upper, k))| Statement {
            id: Uuid::from_u128(((n as u128) << 8) + i as u128 + (1 << 64)),
            fact_id: None,
            user_id: format!("u{user}"),
            predicate: if one { "location" } else { "likes" }.to_owned(),
            object: casing(VALUES[value as usize], upper),
            kind: kind(k),
            attributes: json!({}),
            message_id,
            chat_id: Uuid::from_u128(7),
            said_at: at(minute),
            ordinal: i as i32,
            span_start: 0,
            span_end: 5,
            rule_id: "test".into(),
            extractor: "rules".into(),
            extractor_version: 1,
            confidence: 0.9,
        })
        .collect()
}

fn changes_for(store: &MemoryStore, n: usize, op: &Op, history: &[Vec<Statement>]) -> Changes {
    match op {
        Op::Say(..) => Changes {
            added: history.last().cloned().unwrap_or_default(),
            ..Changes::default()
        },
        Op::Again(i) if !history.is_empty() => Changes {
            added: history[i % history.len()].clone(),
            ..Changes::default()
        },
        Op::Forget(i) => {
            let messages: Vec<Uuid> = store
                .statements
                .values()
                .map(|s| s.message_id)
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            if messages.is_empty() {
                return Changes::default();
            }
            let m = messages[i % messages.len()];
            Changes {
                removed: store
                    .statements
                    .values()
                    .filter(|s| s.message_id == m)
                    .cloned()
                    .collect(),
                ..Changes::default()
            }
        }
        Op::Restamp(i, upper, conf) if !store.statements.is_empty() => {
            let s = store
                .statements
                .values()
                .nth(i % store.statements.len())
                .unwrap();
            Changes {
                restamped: vec![Statement {
                    object: casing(&s.object.to_lowercase(), *upper),
                    confidence: 0.5 + f32::from(*conf) / 10.0,
                    ..s.clone()
                }],
                ..Changes::default()
            }
        }
        Op::Reextract(i, one, value, k) if !store.statements.is_empty() => {
            let messages: Vec<Uuid> = store
                .statements
                .values()
                .map(|s| s.message_id)
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            let m = messages[i % messages.len()];
            let mut of_message: Vec<&Statement> = store
                .statements
                .values()
                .filter(|s| s.message_id == m)
                .collect();
            of_message.sort_by_key(|s| s.ordinal);
            let first = of_message[0];
            let fresh = Statement {
                id: Uuid::from_u128(((n as u128) << 8) + 0xee + (2 << 64)),
                fact_id: None,
                predicate: if *one { "location" } else { "likes" }.to_owned(),
                object: VALUES[*value as usize].to_owned(),
                kind: kind(*k),
                ordinal: 9,
                ..first.clone()
            };
            Changes {
                removed: vec![first.clone()],
                added: vec![fresh],
                restamped: of_message[1..]
                    .iter()
                    .map(|s| Statement {
                        confidence: 0.42,
                        ..(*s).clone()
                    })
                    .collect(),
            }
        }
        _ => Changes::default(),
    }
}

proptest! {
    // 256 cases keep a debug `cargo test` short; a deep run:
    // PROPTEST_CASES=30000 cargo test --release -p memlink-actors --test memory_incremental
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
    ))]
    #[test]
    fn incremental_equals_full_derivation(
        ops in proptest::collection::vec(op(), 1..40),
        before in 1usize..5,
        after in 1usize..5,
    ) {
        let mut incremental = MemoryStore::default();
        let mut full = MemoryStore::default();
        let mut history: Vec<Vec<Statement>> = Vec::new();
        for (n, op) in ops.iter().enumerate() {
            if let Op::Say(user, minute, said) = op {
                history.push(message(n, *user, *minute, said));
            }
            let c = changes_for(&incremental, n, op, &history);
            let r = changes_for(&full, n, op, &history);
            // Tiny first windows, so that widening is exercised as much as settling.
            incremental.apply_sized(&c, before, after);
            full.apply_by_full_derivation(&r);
            prop_assert_eq!(&incremental.statements, &full.statements, "statements after {:?}", op);
            prop_assert_eq!(&incremental.facts, &full.facts, "facts after {:?}", op);
            // Every fact has a source; every statement a fact.
            for f in incremental.facts.keys() {
                prop_assert!(incremental.statements.values().any(|s| s.fact_id == Some(*f)));
            }
        }
    }
}

/// A user who keeps moving: each new value is an append, read with one statement before it
/// and none after, however long the history.
#[test]
fn an_append_reads_one_round_whatever_the_history() {
    let mut store = MemoryStore::default();
    for n in 0..2_000usize {
        let said = [(true, (n % 3) as u8, false, 0u8)];
        let (writes, rounds) = store.apply(&Changes {
            added: message(n, 0, n as i64, &said),
            ..Changes::default()
        });
        assert_eq!(rounds, 1, "message {n}");
        // The new fact, and the end of the previous value.
        assert!(writes.upsert_facts.len() <= 2, "{writes:?}");
        assert!(writes.moves.is_empty());
    }
    let current: Vec<&_> = store
        .facts
        .values()
        .filter(|f| f.valid_to.is_none())
        .collect();
    assert_eq!(current.len(), 1);
    assert_eq!(store.facts.len(), 2_000);
}

/// Facts written before V3: one row per statement, repeats never merged. The first change to
/// such a timeline, read whole, makes it exactly what a full derivation gives.
#[test]
fn a_legacy_timeline_read_whole_becomes_the_full_derivation() {
    use memlink_actors::memory::{Ending, Fact};
    let said = [
        (true, 0u8, false, 0u8),
        (true, 0, true, 0),
        (true, 1, false, 5),
        (true, 1, false, 0),
        (false, 2, false, 0),
        (false, 2, true, 0),
        (false, 2, false, 6),
    ];
    let mut legacy = MemoryStore::default();
    for (n, s) in said.iter().enumerate() {
        for mut st in message(n, 0, n as i64, std::slice::from_ref(s)) {
            st.fact_id = Some(st.id);
            legacy
                .facts
                .insert(st.id, Fact::opened_by(st.id, &st, Ending::CURRENT));
            legacy.statements.insert(st.id, st);
        }
    }
    let mut reference = legacy.clone();
    let change = Changes {
        added: message(99, 0, 99, &[(true, 0, false, 0), (false, 2, false, 0)]),
        ..Changes::default()
    };
    legacy.apply_whole(&change);
    reference.apply_by_full_derivation(&change);
    assert_eq!(legacy, reference);
    assert!(
        legacy.facts.len() < 8,
        "repeats merged: {}",
        legacy.facts.len()
    );
}

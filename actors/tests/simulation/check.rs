//! The invariants, checked against the world after a run (and the supervisor's, at each
//! process's end): computed from the workload's ground truth and independent recomputations,
//! never from what the engine says about itself.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::time::Duration;

use memlink_actors::checksum::Checksum;
use memlink_actors::decode::Reason;
use memlink_actors::domain::MessageId;
use memlink_actors::memory::{value_key, Changes, Statement};
use memlink_actors::plan::DeadLetter;
use memlink_actors::testkit::memory::MemoryStore;
use memlink_actors::testkit::sim::{RowStatus, World};
use uuid::Uuid;

use super::workload::{Expect, Item, Via, Workload};
use super::{Live, INTENSITY};

/// Why the world is not settled yet; `None` once it is.
pub fn quiescent(w: &World) -> Option<String> {
    let pending = w
        .outbox
        .iter()
        .filter(|e| e.status == RowStatus::Pending)
        .count();
    let unconfirmed = w
        .outbox
        .iter()
        .filter(|e| e.status == RowStatus::Relayed && !w.confirmed(e.row.id))
        .count();
    let outstanding = w.stream_outstanding();
    let dead = w.procs.iter().filter(|p| !p.alive).count();
    if pending + unconfirmed + outstanding + dead == 0 {
        return None;
    }
    Some(format!(
        "{pending} outbox rows pending, {unconfirmed} relayed but unconfirmed, {outstanding} stream entries undelivered or pending, {dead} processes down"
    ))
}

/// The supervisor escalates exactly when its restart budget is exceeded (the period is longer
/// than a run, so: more than [`INTENSITY`] restarts), once it has had a check to notice.
pub fn escalation(live: &Live, now: Duration) -> Vec<String> {
    let restarts = live.status.total_restarts();
    let escalated = live.escalated.load(Ordering::SeqCst);
    let mut out = Vec::new();
    if escalated && restarts <= INTENSITY as u64 {
        out.push(format!(
            "supervisor: incarnation {} escalated after {restarts} restarts (budget {INTENSITY})",
            live.incarnation
        ));
    }
    if !escalated
        && live
            .exceeded_at
            .is_some_and(|at| now.saturating_sub(at) > Duration::from_secs(2))
    {
        out.push(format!(
            "supervisor: incarnation {} did not escalate after {restarts} restarts (budget {INTENSITY})",
            live.incarnation
        ));
    }
    out
}

fn quarantine(r: Reason) -> bool {
    matches!(r, Reason::MaxDeliveries | Reason::CrashedProcess)
}

fn entry_of(item: &Item) -> Option<String> {
    item.entry.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Every invariant over the settled world.
pub fn invariants(w: &World, workload: &Workload) -> Vec<String> {
    let mut out: Vec<String> = w
        .violations
        .iter()
        .map(|v| format!("safety: {v}"))
        .collect();
    let fx = &w.effects;
    for (m, n) in &fx.applied {
        if *n > 1 {
            out.push(format!("exactly-once: message {m} applied {n} times"));
        }
    }
    let mut by_event: BTreeMap<&str, Vec<&DeadLetter>> = BTreeMap::new();
    for d in fx.letters.values() {
        if let Some(e) = d.event_id.as_deref() {
            by_event.entry(e).or_default().push(d);
        }
    }
    let letters_of = |event: Uuid| -> Vec<&DeadLetter> {
        by_event
            .get(event.to_string().as_str())
            .cloned()
            .unwrap_or_default()
    };
    let applied = |m: Uuid| fx.applied.get(&m).copied().unwrap_or(0);
    let processed_by = |m: Uuid| fx.messages.get(&m).and_then(|(s, _)| s.processed_by);
    let mut pairs: BTreeMap<(&'static str, Uuid), Vec<&Item>> = BTreeMap::new();
    for item in &workload.items {
        match (&item.expect, &item.message, &item.via) {
            (Expect::Applied, Some(m), _) => {
                let letters = letters_of(m.event_id);
                let quarantined = letters.iter().any(|d| quarantine(d.reason));
                let done =
                    applied(m.message_id) == 1 && processed_by(m.message_id) == Some(m.event_id);
                if !done && !quarantined {
                    out.push(format!(
                        "exactly-once: valid event {} (message {}) applied {} times, letters {:?}",
                        m.event_id,
                        m.message_id,
                        applied(m.message_id),
                        letters.iter().map(|d| d.reason).collect::<Vec<_>>()
                    ));
                }
                for d in letters.iter().filter(|d| !quarantine(d.reason)) {
                    out.push(format!(
                        "valid event {} dead-lettered as {}",
                        m.event_id, d.reason
                    ));
                }
            }
            (Expect::Letter(reason), _, Via::Outbox(row, _)) if item.message.is_none() => {
                let status = w
                    .outbox
                    .iter()
                    .find(|e| e.row.id == row.id)
                    .map(|e| e.status);
                match fx.letters.get(&("outbox", row.id.to_string())) {
                    Some(d) if d.reason == *reason && status == Some(RowStatus::Dead) => {}
                    Some(d) => out.push(format!(
                        "malformed row {}: dead-lettered as {} (row {status:?}), expected {reason}",
                        row.id, d.reason
                    )),
                    None => out.push(format!(
                        "malformed row {}: no dead letter (row {status:?}), expected {reason}",
                        row.id
                    )),
                }
            }
            (Expect::Letter(reason), Some(m), _) => {
                let letters = letters_of(m.event_id);
                let right = letters
                    .iter()
                    .any(|d| d.reason == *reason || quarantine(d.reason));
                let wrong: Vec<Reason> = letters
                    .iter()
                    .map(|d| d.reason)
                    .filter(|r| r != reason && !quarantine(*r))
                    .collect();
                if !right || !wrong.is_empty() || applied(m.message_id) > 0 {
                    out.push(format!(
                        "event {}: expected one {reason} letter and no effects, got letters {:?}, applied {}",
                        m.event_id,
                        letters.iter().map(|d| d.reason).collect::<Vec<_>>(),
                        applied(m.message_id)
                    ));
                }
            }
            (Expect::Letter(reason), None, Via::Stream(_)) => {
                let Some(entry) = entry_of(item) else {
                    out.push("a stream item was never produced".into());
                    continue;
                };
                match fx.letters.get(&("stream", entry.clone())) {
                    Some(d) if d.reason == *reason || quarantine(d.reason) => {}
                    Some(d) => out.push(format!(
                        "malformed entry {entry}: dead-lettered as {}, expected {reason}",
                        d.reason
                    )),
                    None if w.stream.lost.contains(&entry) => {}
                    None => out.push(format!(
                        "malformed entry {entry}: no dead letter, expected {reason}"
                    )),
                }
            }
            (Expect::OneOf(reason), Some(m), _) => {
                let key = if *reason == Reason::MessageIdConflict {
                    m.message_id
                } else {
                    m.event_id
                };
                pairs.entry((reason.as_str(), key)).or_default().push(item);
            }
            _ => out.push(format!(
                "an item the checker does not know: {:?}",
                item.expect
            )),
        }
    }
    for ((reason, key), items) in &pairs {
        let reason = &Reason::parse(reason).unwrap_or(Reason::Panic);
        let msgs: Vec<_> = items.iter().filter_map(|i| i.message.as_ref()).collect();
        // A copy the broker lost before it was read: nothing to dead-letter (and an outbox
        // row whose event id the other copy confirmed is rightly not published again).
        let lost = items.iter().any(|i| {
            let entry = match &i.via {
                Via::Stream(_) => entry_of(i),
                Via::Outbox(row, _) => w
                    .outbox
                    .iter()
                    .find(|e| e.row.id == row.id)
                    .and_then(|e| e.stream_id.clone()),
            };
            entry.is_some_and(|e| w.stream.lost.contains(&e))
        });
        let n: u32 = if *reason == Reason::MessageIdConflict {
            applied(*key)
        } else {
            msgs.iter().map(|m| applied(m.message_id)).sum()
        };
        let events: BTreeSet<Uuid> = msgs.iter().map(|m| m.event_id).collect();
        let letters: Vec<&DeadLetter> = events.iter().flat_map(|e| letters_of(*e)).collect();
        let lettered = letters
            .iter()
            .any(|d| d.reason == *reason || quarantine(d.reason));
        let quarantined = letters.iter().any(|d| quarantine(d.reason));
        let ok = (n == 1 && (lettered || lost)) || (n == 0 && quarantined);
        if !ok {
            out.push(format!(
                "{reason} pair on {key}: applied {n} times, letters {:?}",
                letters.iter().map(|d| d.reason).collect::<Vec<_>>()
            ));
        }
    }
    out.extend(unexplained_letters(w, workload));
    out.extend(watermarks(w));
    out.extend(titles(w));
    out.extend(memory(w));
    out
}

/// Every dead letter is one the workload asked for, or a quarantine.
fn unexplained_letters(w: &World, workload: &Workload) -> Vec<String> {
    let mut out = Vec::new();
    for ((source, source_ref), d) in &w.effects.letters {
        if quarantine(d.reason) {
            continue;
        }
        let explained = workload
            .items
            .iter()
            .any(|item| match (&item.expect, &item.via) {
                (Expect::Letter(r), Via::Outbox(row, _)) if item.message.is_none() => {
                    *r == d.reason && *source == "outbox" && row.id.to_string() == *source_ref
                }
                (Expect::Letter(r), Via::Stream(_)) if item.message.is_none() => {
                    *r == d.reason && entry_of(item).as_deref() == Some(source_ref.as_str())
                }
                (Expect::Letter(r) | Expect::OneOf(r), _) => {
                    *r == d.reason
                        && item.message.as_ref().is_some_and(|m| {
                            d.event_id.as_deref() == Some(m.event_id.to_string().as_str())
                        })
                }
                _ => false,
            });
        if !explained {
            out.push(format!(
                "unexpected dead letter {} for {source}:{source_ref} (event {:?}): {}",
                d.reason, d.event_id, d.detail
            ));
        }
    }
    out
}

/// Watermarks equal a recomputation from the stored, processed messages.
fn watermarks(w: &World) -> Vec<String> {
    let mut expected: BTreeMap<Uuid, (i64, Checksum)> = BTreeMap::new();
    for (id, (m, _)) in &w.effects.messages {
        if m.processed {
            let e = expected.entry(m.chat_id).or_insert((0, Checksum::ZERO));
            e.0 += 1;
            e.1 = e.1.fold([MessageId(*id)]);
        }
    }
    let mut out = Vec::new();
    let chats: BTreeSet<Uuid> = expected
        .keys()
        .chain(w.effects.watermarks.keys())
        .copied()
        .collect();
    for chat in chats {
        let want = expected.get(&chat).copied().unwrap_or((0, Checksum::ZERO));
        let got = w
            .effects
            .watermarks
            .get(&chat)
            .copied()
            .unwrap_or((0, Checksum::ZERO));
        if want != got {
            out.push(format!(
                "watermark of chat {chat}: stored count {}, recomputed {}",
                got.0, want.0
            ));
        }
    }
    out
}

/// Each chat's fallback title comes from its earliest titled user message.
fn titles(w: &World) -> Vec<String> {
    let mut expected: BTreeMap<Uuid, (chrono::DateTime<chrono::Utc>, Uuid, String)> =
        BTreeMap::new();
    for (id, (m, _)) in &w.effects.messages {
        if m.role != "user" {
            continue;
        }
        let Some(title) = memlink_actors::title::fallback_title(&m.content) else {
            continue;
        };
        let key = (m.created_at, *id);
        let better = expected
            .get(&m.chat_id)
            .is_none_or(|(at, i, _)| key < (*at, *i));
        if better {
            expected.insert(m.chat_id, (key.0, key.1, title));
        }
    }
    if expected != w.effects.titles {
        return vec![format!(
            "titles: stored {:?}, recomputed {:?}",
            w.effects.titles.values().map(|t| &t.2).collect::<Vec<_>>(),
            expected.values().map(|t| &t.2).collect::<Vec<_>>()
        )];
    }
    Vec::new()
}

/// Facts equal a full re-derivation of the stored statements; the statements are exactly
/// what extraction says the applied messages said.
fn memory(w: &World) -> Vec<String> {
    let mut out = Vec::new();
    let store = &w.effects.memory;
    let mut expected: BTreeSet<(Uuid, String, String, memlink_actors::memory::StatementKind)> =
        BTreeSet::new();
    for (id, (m, _)) in &w.effects.messages {
        if m.role != "user" || !m.processed {
            continue;
        }
        for f in memlink_actors::extract::extract(&m.content) {
            expected.insert((
                *id,
                f.predicate.as_str().to_owned(),
                value_key(&f.object),
                f.kind.into(),
            ));
        }
    }
    let stored: BTreeSet<_> = store.statements.values().map(Statement::identity).collect();
    if stored != expected {
        out.push(format!(
            "statements: {} stored, {} expected from the applied messages",
            stored.len(),
            expected.len()
        ));
    }
    let mut reference = MemoryStore::default();
    reference.apply_by_full_derivation(&Changes {
        added: store
            .statements
            .values()
            .map(|s| Statement {
                fact_id: None,
                ..s.clone()
            })
            .collect(),
        ..Changes::default()
    });
    if canonical(store) != canonical(&reference) {
        out.push(format!(
            "facts: incremental {:?} != full re-derivation {:?}",
            canonical(store),
            canonical(&reference)
        ));
    }
    out
}

/// Facts without their ids (a re-derivation may number them otherwise).
fn canonical(store: &MemoryStore) -> Vec<String> {
    let mut v: Vec<String> = store
        .facts
        .values()
        .map(|f| {
            let by = f
                .superseded_by
                .and_then(|id| store.facts.get(&id))
                .map(|g| format!("{}:{}", g.source_message_id, g.object))
                .unwrap_or_default();
            format!(
                "{} {} {} {:?} {} {} {:?} {:?} {by}",
                f.user_id,
                f.predicate,
                f.object,
                f.kind,
                f.source_message_id,
                f.valid_from,
                f.valid_to,
                f.supersede_kind
            )
        })
        .collect();
    v.sort();
    v
}

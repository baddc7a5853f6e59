//! The worker: reads the stream through the consumer group, plans each entry behind a panic
//! boundary, commits a batch's effects and dead letters in one transaction, then acks.
//!
//! At-least-once delivery comes from the group's pending list, exactly-once effects from the
//! store; this module must never ack an entry before its effects (or its dead letter) are
//! committed, and never let one bad entry hold back the others.

pub mod actor;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use crate::decode::{RawEntry, Reason, Rejection};
use crate::pace::Pace;
use crate::plan::{
    dead_letter_for_entry, panic_message, plan_stream_entry, DeadLetter, EffectBatch, EntryPlan,
};
use crate::ports::{Ambient, EffectStore, InflightLedger, PortError, StreamBus};
use crate::status::StatusBoard;
use uuid::Uuid;

pub use actor::{WorkerActor, WorkerRounds};

/// The actor's name in logs, status and dead letters (the first worker's, when several run).
pub const NAME: &str = "worker";

/// The names of the workers of one process, in start order (`MEMLINK_WORKERS` of them).
pub const NAMES: [&str; 8] = [
    "worker", "worker-2", "worker-3", "worker-4", "worker-5", "worker-6", "worker-7", "worker-8",
];

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Entries read per round.
    pub batch_size: usize,
    /// How long one read waits for new entries.
    pub block: Duration,
    /// Entries pending this long on any consumer are taken over.
    pub reclaim_idle: Duration,
    /// How often to look for such entries.
    pub reclaim_every: Duration,
    /// An entry delivered more often than this is dead-lettered as `max_deliveries`.
    pub max_deliveries: u64,
    /// An entry found in flight after this many process deaths is quarantined as
    /// `crashed_process` instead of handled again.
    pub crash_quarantine_after: u32,
    /// A prepared batch whose commit fails transiently is retried (with backoff) this many
    /// times, then applied entry by entry; an entry that still fails is dead-lettered as
    /// `retries_exhausted` (`MEMLINK_MAX_BATCH_RETRIES`).
    pub max_batch_retries: u32,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            batch_size: 500,
            block: Duration::from_millis(250),
            reclaim_idle: Duration::from_secs(30),
            reclaim_every: Duration::from_secs(5),
            max_deliveries: 5,
            crash_quarantine_after: 2,
            max_batch_retries: 5,
        }
    }
}

#[derive(Clone)]
pub struct WorkerDeps {
    /// This worker's name (one of [`NAMES`]).
    pub name: &'static str,
    pub bus: Arc<dyn StreamBus>,
    pub store: Arc<dyn EffectStore>,
    pub ledger: Arc<dyn InflightLedger>,
    /// This process's identity in the in-flight ledger (one per process, not per actor).
    pub owner: Uuid,
    pub ambient: Ambient,
    pub status: StatusBoard,
    pub config: WorkerConfig,
}

/// A planned batch and the entry ids to ack once it is committed. Kept across a transient
/// failure so the same batch is retried, not re-read.
#[derive(Debug, Clone, Default)]
pub struct PreparedRound {
    pub batch: EffectBatch,
    pub ack_ids: Vec<String>,
    /// Whether planning caught a panic: the actor restarts after this round.
    pub panicked: bool,
    /// How often committing this batch has failed transiently so far.
    pub failures: u32,
}

/// What to do with a prepared batch whose commit just failed transiently for the
/// `failures`-th time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryStep {
    /// Retry the whole batch after a backoff: the failure is likely the store's, not an
    /// entry's (a connection lost, a serialization conflict with another transaction).
    Retry,
    /// Retried enough: apply it entry by entry, so that an entry whose effects keep failing
    /// (a misclassified deterministic error) is found and dead-lettered, and the rest move.
    Split,
}

/// The retry policy: at most `max_retries` retries of the whole batch, then split.
pub fn after_transient_failure(failures: u32, max_retries: u32) -> RetryStep {
    if failures > max_retries {
        RetryStep::Split
    } else {
        RetryStep::Retry
    }
}

/// Entries read, with their delivery counts, and whether they were taken over from another
/// consumer (rather than read fresh).
#[derive(Debug, Clone)]
pub struct ReadEntries {
    pub entries: Vec<(RawEntry, u64)>,
    pub reclaimed: bool,
}

/// Work carried into the next round.
#[derive(Debug, Clone)]
pub enum Carry {
    /// Entries read but not yet planned: suspects handled one per round, or a ledger failure.
    Read(ReadEntries),
    /// A planned batch whose commit or ack failed transiently: retried as is, not re-read.
    Prepared(PreparedRound),
}

/// What a round did.
#[derive(Debug)]
pub struct RoundReport {
    pub pace: Pace,
    pub applied: usize,
    pub duplicates: usize,
    pub dead_letters: Vec<DeadLetter>,
    /// Work for the next round (a transient failure's retry, or isolated suspects).
    pub carry: Option<Carry>,
    pub panicked: bool,
}

impl RoundReport {
    fn idle() -> RoundReport {
        RoundReport {
            pace: Pace::Idle,
            applied: 0,
            duplicates: 0,
            dead_letters: Vec::new(),
            carry: None,
            panicked: false,
        }
    }

    fn failing(error: PortError, carry: Option<Carry>) -> RoundReport {
        RoundReport {
            pace: Pace::Failing(error),
            carry,
            ..RoundReport::idle()
        }
    }
}

/// Plans each entry behind its own panic boundary.
pub fn prepare(
    entries: Vec<(RawEntry, u64)>,
    name: &'static str,
    ambient: &Ambient,
) -> PreparedRound {
    let mut round = PreparedRound::default();
    for (entry, deliveries) in entries {
        round.ack_ids.push(entry.id.clone());
        let planned = catch_unwind(AssertUnwindSafe(|| {
            plan_stream_entry(&entry, deliveries, name, ambient)
        }));
        match planned {
            Ok(EntryPlan::Apply(m)) => round.batch.messages.push(*m),
            Ok(EntryPlan::Dead(d)) => round.batch.dead_letters.push(d),
            Err(payload) => {
                round.panicked = true;
                let detail = format!(
                    "worker panicked planning entry: {}",
                    panic_message(&*payload)
                );
                round.batch.dead_letters.push(dead_letter_for_entry(
                    &entry,
                    Rejection::new(Reason::Panic, detail),
                    deliveries,
                    name,
                    ambient,
                ));
            }
        }
    }
    round
}

/// One round: take over idle entries when due, else read new ones; mark them in flight;
/// quarantine the ones that already killed processes; plan; commit; ack; unmark.
pub async fn run_round(deps: &WorkerDeps, carry: Option<Carry>, reclaim_due: bool) -> RoundReport {
    let read = match carry {
        Some(Carry::Prepared(p)) => return commit_round(deps, p, None, false).await,
        Some(Carry::Read(read)) => read,
        None => match read_entries(deps, reclaim_due).await {
            Ok(read) if read.entries.is_empty() => return RoundReport::idle(),
            Ok(read) => read,
            Err(e) => return RoundReport::failing(e, None),
        },
    };
    if !read.reclaimed {
        return fresh_round(deps, read).await;
    }
    let entries = read.entries;
    let ids: Vec<String> = entries.iter().map(|(e, _)| e.id.clone()).collect();
    let crashes = match deps.ledger.mark_in_flight(deps.owner, &ids).await {
        Ok(c) => c,
        Err(e) => {
            return RoundReport::failing(
                e,
                Some(Carry::Read(ReadEntries {
                    entries,
                    reclaimed: true,
                })),
            )
        }
    };
    let Triage {
        now,
        quarantined,
        later,
    } = triage(entries, &crashes, deps);
    if !later.is_empty() {
        let parked: Vec<String> = later.iter().map(|(e, _)| e.id.clone()).collect();
        if let Err(e) = deps.ledger.park(&parked).await {
            let mut all = now;
            all.extend(quarantined.into_iter().map(|(e, d, _)| (e, d)));
            all.extend(later);
            return RoundReport::failing(
                e,
                Some(Carry::Read(ReadEntries {
                    entries: all,
                    reclaimed: true,
                })),
            );
        }
    }
    let mut prepared = prepare(now, deps.name, &deps.ambient);
    for (entry, deliveries, why) in quarantined {
        prepared.ack_ids.push(entry.id.clone());
        prepared.batch.dead_letters.push(dead_letter_for_entry(
            &entry,
            why,
            deliveries,
            deps.name,
            &deps.ambient,
        ));
    }
    let later = (!later.is_empty()).then_some(Carry::Read(ReadEntries {
        entries: later,
        reclaimed: true,
    }));
    commit_round(deps, prepared, later, true).await
}

/// Fresh entries: one marker for the batch, committed before anything is handled; the
/// batch's effects transaction removes it.
async fn fresh_round(deps: &WorkerDeps, read: ReadEntries) -> RoundReport {
    let ids: Vec<String> = read.entries.iter().map(|(e, _)| e.id.clone()).collect();
    let marker = deps.ambient.ids.new_id();
    if let Err(e) = deps.ledger.mark_batch(deps.owner, marker, &ids).await {
        return RoundReport::failing(e, Some(Carry::Read(read)));
    }
    let mut prepared = prepare(read.entries, deps.name, &deps.ambient);
    prepared.batch.inflight = Some(marker);
    commit_round(deps, prepared, None, false).await
}

/// Whether the owner of an in-flight marker still runs, from what its heartbeat says (`host`,
/// `pid`, whether it is fresh): on this host (`here`) its process is asked directly
/// (`running`; a killed process is gone at once, long before its heartbeat goes stale);
/// elsewhere its heartbeat must be fresh. An owner without a heartbeat row is gone. Taking an
/// entry over from an owner that is alive (slow, not dead) is not a death and must not count
/// toward `crashed_process`.
pub fn marker_owner_alive(
    host: Option<&str>,
    pid: Option<i32>,
    heartbeat_fresh: bool,
    here: &str,
    running: impl Fn(i32) -> bool,
) -> bool {
    match (host, pid) {
        (Some(host), Some(pid)) if host == here => heartbeat_fresh && running(pid),
        (Some(_), Some(_)) => heartbeat_fresh,
        _ => false,
    }
}

/// Entries of a round, by what happens to them.
struct Triage {
    /// Handled this round.
    now: Vec<(RawEntry, u64)>,
    /// Not handled again: (entry, deliveries, why).
    quarantined: Vec<(RawEntry, u64, Rejection)>,
    /// Waiting for a later round (isolation of suspects).
    later: Vec<(RawEntry, u64)>,
}

/// Splits entries by how many processes died handling them: quarantined ones are not handled
/// again; if any is a suspect (one death), entries are handled one per round so that the
/// next death names the culprit instead of its batch-mates.
fn triage(entries: Vec<(RawEntry, u64)>, crashes: &[u32], deps: &WorkerDeps) -> Triage {
    let limit = deps.config.crash_quarantine_after.max(1);
    let mut quarantined = Vec::new();
    let mut keep = Vec::new();
    let mut suspects = false;
    for ((entry, deliveries), deaths) in entries
        .into_iter()
        .zip(crashes.iter().copied().chain(std::iter::repeat(0)))
    {
        if deaths >= limit {
            log::error!(target: "memlink::worker", "event=entry_quarantined reason=crashed_process entry={} deaths={deaths}", entry.id);
            let detail = format!("handling this entry killed the process {deaths} time(s); quarantined without handling it again");
            quarantined.push((
                entry,
                deliveries,
                Rejection::new(Reason::CrashedProcess, detail),
            ));
        } else if deliveries > deps.config.max_deliveries {
            // A backstop for whatever else keeps an entry from completing.
            log::error!(target: "memlink::worker", "event=entry_quarantined reason=max_deliveries entry={} deliveries={deliveries}", entry.id);
            let detail = format!(
                "delivered {deliveries} times without completing (limit {})",
                deps.config.max_deliveries
            );
            quarantined.push((
                entry,
                deliveries,
                Rejection::new(Reason::MaxDeliveries, detail),
            ));
        } else {
            suspects |= deaths > 0;
            keep.push((entry, deliveries));
        }
    }
    let later = if suspects && keep.len() > 1 {
        log::warn!(target: "memlink::worker", "event=isolating_suspects entries={}", keep.len());
        keep.split_off(1)
    } else {
        Vec::new()
    };
    Triage {
        now: keep,
        quarantined,
        later,
    }
}

/// Commits a planned round, acks it, clears its in-flight markers (taken-over entries have
/// one each; a fresh batch's marker went with its effects).
async fn commit_round(
    deps: &WorkerDeps,
    prepared: PreparedRound,
    later: Option<Carry>,
    reclaimed: bool,
) -> RoundReport {
    let full = prepared.ack_ids.len() >= deps.config.batch_size;
    // Planted bug (simulator self-test only): acknowledges before the effects are committed.
    #[cfg(feature = "sim-mutants")]
    if crate::mutants::active(crate::mutants::Mutant::AckBeforeCommit) {
        if let Err(e) = deps.bus.ack(&prepared.ack_ids).await {
            return RoundReport::failing(e, Some(Carry::Prepared(prepared)));
        }
    }
    let split = after_transient_failure(prepared.failures, deps.config.max_batch_retries)
        == RetryStep::Split;
    let applied = if split {
        apply_split(deps, &prepared.batch).await
    } else {
        match deps.store.apply_batch(&prepared.batch).await {
            Err(e) if !e.is_transient() => apply_isolating(deps, &prepared.batch, &e).await,
            other => other,
        }
    };
    let outcome = match applied {
        Ok(o) => o,
        Err(e) => {
            let mut prepared = prepared;
            prepared.failures = prepared.failures.saturating_add(1);
            let step = after_transient_failure(prepared.failures, deps.config.max_batch_retries);
            if step == RetryStep::Split && !split {
                log::warn!(target: "memlink::worker", "event=batch_retries_exhausted size={} failures={} error={:?}: applying one by one",
                    prepared.batch.len(), prepared.failures, e.message);
            }
            return RoundReport::failing(e, Some(Carry::Prepared(prepared)));
        }
    };
    if let Err(e) = deps.bus.ack(&prepared.ack_ids).await {
        // Effects are committed; only the ack is owed. Redelivery would change nothing.
        let ack_only = PreparedRound {
            ack_ids: prepared.ack_ids,
            ..PreparedRound::default()
        };
        return RoundReport::failing(e, Some(Carry::Prepared(ack_only)));
    }
    if !outcome.forgotten_entries.is_empty() {
        // Acked, so no consumer needs them; a forgotten user's text must not stay in the
        // stream. A failure leaves them for stream retention, and is no reason to retry.
        if let Err(e) = deps.bus.delete(&outcome.forgotten_entries).await {
            log::warn!(target: "memlink::worker", "event=forgotten_entries_not_deleted count={} error={:?}",
                outcome.forgotten_entries.len(), e.message);
        }
    }
    if reclaimed {
        if let Err(e) = deps.ledger.clear_in_flight(&prepared.ack_ids).await {
            // A stale marker only matters if this process dies, and the entry is acked: harmless.
            log::debug!(target: "memlink::worker", "event=inflight_clear_failed error={:?}", e.message);
        }
    }
    RoundReport {
        pace: if full || prepared.panicked || later.is_some() {
            Pace::Busy
        } else {
            Pace::Idle
        },
        applied: outcome.applied,
        duplicates: outcome.duplicates,
        dead_letters: outcome.dead_lettered,
        carry: later,
        panicked: prepared.panicked,
    }
}

async fn read_entries(deps: &WorkerDeps, reclaim_due: bool) -> Result<ReadEntries, PortError> {
    let cfg = &deps.config;
    if reclaim_due {
        let claimed = deps
            .bus
            .claim_idle(cfg.reclaim_idle, cfg.batch_size)
            .await?;
        if !claimed.is_empty() {
            return Ok(ReadEntries {
                entries: claimed
                    .into_iter()
                    .map(|r| (r.entry, r.deliveries))
                    .collect(),
                reclaimed: true,
            });
        }
    }
    let fresh = deps.bus.read_new(cfg.batch_size, cfg.block).await?;
    Ok(ReadEntries {
        entries: fresh.into_iter().map(|e| (e, 1)).collect(),
        reclaimed: false,
    })
}

/// A batch retried enough: each message alone. One refused for a permanent reason is
/// dead-lettered `store_rejected`; one failing transiently is tried once more after the store
/// has committed everything else (proving it works), and dead-lettered `retries_exhausted`
/// with the last error if it fails again. When the store does not work (an outage), nothing
/// is dead-lettered: the error comes back and the split is retried after a backoff.
async fn apply_split(
    deps: &WorkerDeps,
    batch: &EffectBatch,
) -> Result<crate::ports::ApplyOutcome, PortError> {
    let mut total = crate::ports::ApplyOutcome::default();
    let mut dead = batch.dead_letters.clone();
    let mut stuck = Vec::new();
    let add = |total: &mut crate::ports::ApplyOutcome, o: crate::ports::ApplyOutcome| {
        total.applied += o.applied;
        total.duplicates += o.duplicates;
        total.dead_lettered.extend(o.dead_lettered);
        total.forgotten_entries.extend(o.forgotten_entries);
    };
    for m in &batch.messages {
        match deps.store.apply_batch(&single(m)).await {
            Ok(o) => add(&mut total, o),
            Err(e) if e.is_transient() => stuck.push(m),
            Err(e) => dead.push(crate::plan::dead_letter_for_message(
                m,
                Rejection::new(Reason::StoreRejected, e.message),
                deps.ambient.ids.new_id(),
                deps.name,
                deps.ambient.clock.now(),
            )),
        }
    }
    // Everything but the stuck entries, committed: proof that the store works. If it does
    // not (an outage), nothing is dead-lettered: the split is retried after a backoff.
    let others = EffectBatch {
        messages: Vec::new(),
        dead_letters: std::mem::take(&mut dead),
        inflight: if stuck.is_empty() {
            batch.inflight
        } else {
            None
        },
    };
    match deps.store.apply_batch(&others).await {
        Ok(o) => add(&mut total, o),
        Err(e) if e.is_transient() => return Err(e),
        Err(e) => {
            return Err(PortError::transient(
                e.port,
                format!("dead letters refused: {}", e.message),
            ))
        }
    }
    if stuck.is_empty() {
        return Ok(total);
    }
    // Once more each, right after the store proved it works: failing again, the failure is
    // the entry's own.
    for m in stuck {
        match deps.store.apply_batch(&single(m)).await {
            Ok(o) => add(&mut total, o),
            Err(e) => {
                let reason = if e.is_transient() {
                    Reason::RetriesExhausted
                } else {
                    Reason::StoreRejected
                };
                let detail = match reason {
                    Reason::RetriesExhausted => format!(
                        "its effects failed {} time(s) in its batch and then alone, each time with an error classified transient; last error: {}",
                        deps.config.max_batch_retries.saturating_add(1),
                        e.message
                    ),
                    _ => e.message,
                };
                dead.push(crate::plan::dead_letter_for_message(
                    m,
                    Rejection::new(reason, detail),
                    deps.ambient.ids.new_id(),
                    deps.name,
                    deps.ambient.clock.now(),
                ));
            }
        }
    }
    commit_letters(deps, dead, batch.inflight, total).await
}

/// The last transaction of a batch applied piecemeal: its dead letters, with the batch's
/// in-flight marker (until then the batch is still in flight).
async fn commit_letters(
    deps: &WorkerDeps,
    dead: Vec<DeadLetter>,
    inflight: Option<Uuid>,
    mut total: crate::ports::ApplyOutcome,
) -> Result<crate::ports::ApplyOutcome, PortError> {
    let letters = EffectBatch {
        messages: Vec::new(),
        dead_letters: dead,
        inflight,
    };
    let o = deps.store.apply_batch(&letters).await.map_err(|e| {
        // A dead letter the store refuses is our bug, not the input's: keep retrying it
        // rather than lose the entry.
        PortError::transient(e.port, format!("dead letters refused: {}", e.message))
    })?;
    total.dead_lettered.extend(o.dead_lettered);
    Ok(total)
}

fn single(m: &crate::plan::PlannedMessage) -> EffectBatch {
    EffectBatch {
        messages: vec![m.clone()],
        dead_letters: Vec::new(),
        inflight: None,
    }
}

/// A batch the store refused as a whole: apply its messages one by one so that only the
/// message it refuses is dead-lettered (`store_rejected`), with the store's reason.
async fn apply_isolating(
    deps: &WorkerDeps,
    batch: &EffectBatch,
    batch_error: &PortError,
) -> Result<crate::ports::ApplyOutcome, PortError> {
    log::warn!(
        target: "memlink::worker",
        "event=batch_refused size={} error={:?}: applying one by one",
        batch.len(),
        batch_error.message
    );
    let mut total = crate::ports::ApplyOutcome::default();
    let mut dead = batch.dead_letters.clone();
    for m in &batch.messages {
        let single = EffectBatch {
            messages: vec![m.clone()],
            dead_letters: Vec::new(),
            inflight: None,
        };
        match deps.store.apply_batch(&single).await {
            Ok(o) => {
                total.applied += o.applied;
                total.duplicates += o.duplicates;
                total.dead_lettered.extend(o.dead_lettered);
                total.forgotten_entries.extend(o.forgotten_entries);
            }
            Err(e) if e.is_transient() => return Err(e),
            Err(e) => dead.push(crate::plan::dead_letter_for_message(
                m,
                Rejection::new(Reason::StoreRejected, e.message),
                deps.ambient.ids.new_id(),
                deps.name,
                deps.ambient.clock.now(),
            )),
        }
    }
    commit_letters(deps, dead, batch.inflight, total).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::ambient;

    fn entry(id: &str, payload: &str) -> RawEntry {
        RawEntry {
            id: id.into(),
            fields: vec![
                (
                    b"event_id".to_vec(),
                    b"0b6c3a43-7c4b-4bb7-9d7c-8a8a2a0c1d11".to_vec(),
                ),
                (b"event_type".to_vec(), b"message.created".to_vec()),
                (b"payload".to_vec(), payload.as_bytes().to_vec()),
            ],
        }
    }

    #[test]
    fn a_bad_entry_does_not_hold_back_the_good_ones() {
        let good = r#"{"message_id":"5d2b0b7e-3f0a-4f5e-8f1e-2b7c9d0e1f23","chat_id":"9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
                       "user_id":"u1","role":"user","content":"I live in Porto.","created_at":1769067099}"#;
        let round = prepare(
            vec![(entry("1-0", "{oops"), 1), (entry("2-0", good), 1)],
            NAME,
            &ambient(),
        );
        assert_eq!(round.ack_ids, vec!["1-0", "2-0"]);
        assert_eq!(round.batch.dead_letters.len(), 1);
        assert_eq!(round.batch.dead_letters[0].reason, Reason::InvalidJson);
        assert_eq!(round.batch.messages.len(), 1);
        assert!(!round.panicked);
    }

    #[test]
    fn a_live_but_slow_owner_is_not_dead() {
        let up = |_| true;
        let gone = |_| false;
        // Elsewhere: the heartbeat decides.
        assert!(marker_owner_alive(Some("b"), Some(7), true, "a", gone));
        assert!(!marker_owner_alive(Some("b"), Some(7), false, "a", up));
        // Here: the process itself, and a fresh heartbeat.
        assert!(marker_owner_alive(Some("a"), Some(7), true, "a", up));
        assert!(!marker_owner_alive(Some("a"), Some(7), true, "a", gone));
        assert!(!marker_owner_alive(Some("a"), Some(7), false, "a", up));
        // No heartbeat row: gone.
        assert!(!marker_owner_alive(None, None, false, "a", up));
    }

    #[test]
    fn a_batch_is_retried_at_most_n_times_then_split() {
        assert_eq!(after_transient_failure(1, 5), RetryStep::Retry);
        assert_eq!(after_transient_failure(5, 5), RetryStep::Retry);
        assert_eq!(after_transient_failure(6, 5), RetryStep::Split);
        assert_eq!(after_transient_failure(1, 0), RetryStep::Split);
    }

    use crate::plan::DeadLetter;
    use crate::ports::{ApplyOutcome, Redelivered};
    use std::sync::Mutex;

    /// A store whose commit fails transiently for a batch holding a poisoned message, and for
    /// every call while it is "down" (an outage of `down` calls).
    #[derive(Default)]
    struct FlakyStore {
        down: Mutex<u32>,
        calls: Mutex<Vec<usize>>,
        applied: Mutex<Vec<String>>,
        letters: Mutex<Vec<DeadLetter>>,
    }

    #[async_trait::async_trait]
    impl EffectStore for FlakyStore {
        async fn apply_batch(
            &self,
            batch: &EffectBatch,
        ) -> Result<crate::ports::ApplyOutcome, PortError> {
            self.calls.lock().unwrap().push(batch.messages.len());
            {
                let mut down = self.down.lock().unwrap();
                if *down > 0 {
                    *down -= 1;
                    return Err(PortError::transient("postgres", "connection refused"));
                }
            }
            if batch
                .messages
                .iter()
                .any(|m| m.event.content.as_str().contains("poison"))
            {
                return Err(PortError::transient(
                    "postgres",
                    "could not serialize access (40001)",
                ));
            }
            let mut applied = self.applied.lock().unwrap();
            applied.extend(
                batch
                    .messages
                    .iter()
                    .map(|m| m.event.content.as_str().to_owned()),
            );
            self.letters
                .lock()
                .unwrap()
                .extend(batch.dead_letters.iter().cloned());
            Ok(ApplyOutcome {
                applied: batch.messages.len(),
                dead_lettered: batch.dead_letters.clone(),
                ..ApplyOutcome::default()
            })
        }
    }

    #[derive(Default)]
    struct Bus {
        acked: Mutex<Vec<String>>,
    }

    #[async_trait::async_trait]
    impl StreamBus for Bus {
        async fn publish(
            &self,
            _: &[crate::ports::OutgoingEntry],
        ) -> Result<Vec<String>, PortError> {
            Ok(Vec::new())
        }
        async fn ensure_group(&self) -> Result<(), PortError> {
            Ok(())
        }
        async fn read_new(&self, _: usize, _: Duration) -> Result<Vec<RawEntry>, PortError> {
            Ok(Vec::new())
        }
        async fn claim_idle(&self, _: Duration, _: usize) -> Result<Vec<Redelivered>, PortError> {
            Ok(Vec::new())
        }
        async fn ack(&self, ids: &[String]) -> Result<(), PortError> {
            self.acked.lock().unwrap().extend(ids.iter().cloned());
            Ok(())
        }
        async fn missing(&self, ids: &[String]) -> Result<Vec<bool>, PortError> {
            Ok(vec![false; ids.len()])
        }
        async fn fetch(&self, ids: &[String]) -> Result<Vec<Option<RawEntry>>, PortError> {
            Ok(vec![None; ids.len()])
        }
        async fn delete(&self, _: &[String]) -> Result<u64, PortError> {
            Ok(0)
        }
    }

    struct Ledger;

    #[async_trait::async_trait]
    impl InflightLedger for Ledger {
        async fn mark_batch(&self, _: Uuid, _: Uuid, _: &[String]) -> Result<(), PortError> {
            Ok(())
        }
        async fn mark_in_flight(&self, _: Uuid, ids: &[String]) -> Result<Vec<u32>, PortError> {
            Ok(vec![0; ids.len()])
        }
        async fn clear_in_flight(&self, _: &[String]) -> Result<(), PortError> {
            Ok(())
        }
        async fn park(&self, _: &[String]) -> Result<(), PortError> {
            Ok(())
        }
    }

    fn message_entry(n: u128, content: &str) -> (RawEntry, u64) {
        let payload = serde_json::json!({"message_id": Uuid::from_u128(100 + n), "chat_id": Uuid::from_u128(7),
            "user_id": "u1", "role": "user", "content": content, "created_at": 1769067099});
        let mut e = entry(&format!("{n}-0"), &payload.to_string());
        e.fields[0].1 = Uuid::from_u128(n).to_string().into_bytes();
        (e, 1)
    }

    fn deps(store: Arc<FlakyStore>, bus: Arc<Bus>, max_batch_retries: u32) -> WorkerDeps {
        WorkerDeps {
            name: NAME,
            bus,
            store,
            ledger: Arc::new(Ledger),
            owner: Uuid::from_u128(1),
            ambient: ambient(),
            status: StatusBoard::default(),
            config: WorkerConfig {
                max_batch_retries,
                ..WorkerConfig::default()
            },
        }
    }

    /// Runs rounds from `carry` until one carries nothing; returns every report.
    async fn rounds(deps: &WorkerDeps, carry: Carry) -> Vec<RoundReport> {
        let mut reports = Vec::new();
        let mut carry = Some(carry);
        while carry.is_some() && reports.len() < 50 {
            let report = run_round(deps, carry.take(), false).await;
            carry = report.carry.clone();
            reports.push(report);
        }
        reports
    }

    #[tokio::test]
    async fn an_entry_whose_commit_keeps_failing_is_dead_lettered_and_the_rest_move() {
        let store = Arc::new(FlakyStore::default());
        let bus = Arc::new(Bus::default());
        let d = deps(store.clone(), bus.clone(), 2);
        let batch = vec![
            message_entry(1, "I live in Rome."),
            message_entry(2, "poison pill"),
            message_entry(3, "I like tea."),
        ];
        let prepared = prepare(batch, NAME, &d.ambient);
        let reports = rounds(&d, Carry::Prepared(prepared)).await;
        // The first try and two retries of the whole batch fail; the fourth round splits.
        assert_eq!(reports.len(), 4);
        assert!(reports[..3]
            .iter()
            .all(|r| matches!(r.pace, Pace::Failing(_)) && r.dead_letters.is_empty()));
        assert_eq!(store.calls.lock().unwrap()[..3], [3, 3, 3]);
        let last = &reports[3];
        assert_eq!(last.applied, 2);
        assert_eq!(last.dead_letters.len(), 1);
        let letter = &last.dead_letters[0];
        assert_eq!(letter.reason, Reason::RetriesExhausted);
        assert!(letter.detail.contains("40001"), "{}", letter.detail);
        assert!(letter.detail.contains("3 time(s)"), "{}", letter.detail);
        assert_eq!(
            *store.applied.lock().unwrap(),
            vec!["I live in Rome.", "I like tea."]
        );
        assert_eq!(store.letters.lock().unwrap().len(), 1);
        assert_eq!(*bus.acked.lock().unwrap(), vec!["1-0", "2-0", "3-0"]);
    }

    #[tokio::test]
    async fn an_outage_never_turns_entries_into_dead_letters() {
        let store = Arc::new(FlakyStore::default());
        // Down through the retries and well into the split rounds.
        *store.down.lock().unwrap() = 12;
        let bus = Arc::new(Bus::default());
        let d = deps(store.clone(), bus.clone(), 1);
        let batch = vec![
            message_entry(1, "I live in Rome."),
            message_entry(2, "I like tea."),
        ];
        let prepared = prepare(batch, NAME, &d.ambient);
        let reports = rounds(&d, Carry::Prepared(prepared)).await;
        let last = reports.last().expect("rounds ran");
        assert!(reports.len() > 3, "{}", reports.len());
        assert!(reports.iter().all(|r| r.dead_letters.is_empty()));
        assert!(store.letters.lock().unwrap().is_empty());
        assert!(matches!(last.pace, Pace::Idle | Pace::Busy));
        // The outage ended during a split (one message went through, the other had failed):
        // the one that failed is tried again, not dead-lettered.
        let mut applied = store.applied.lock().unwrap().clone();
        applied.sort();
        assert_eq!(applied, vec!["I like tea.", "I live in Rome."]);
        assert_eq!(bus.acked.lock().unwrap().len(), 2);
    }

    #[cfg(feature = "fault-injection")]
    #[test]
    fn a_panicking_entry_is_dead_lettered_alone() {
        let p = format!(
            r#"{{"message_id":"5d2b0b7e-3f0a-4f5e-8f1e-2b7c9d0e1f23","chat_id":"9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
                 "user_id":"u1","role":"user","content":"{}","created_at":1769067099}}"#,
            crate::plan::PANIC_MARKER
        );
        let round = prepare(vec![(entry("1-0", &p), 1)], NAME, &ambient());
        assert!(round.panicked);
        assert_eq!(round.batch.dead_letters[0].reason, Reason::Panic);
    }
}

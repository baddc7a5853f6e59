//! Retention: what memlink forgets on its own, and when, so that storage stays bounded over
//! years. Every round, from the injected clock:
//!
//! - **stream**: entries older than the stream retention are trimmed, but never past any
//!   consumer group's oldest pending entry nor its last-delivered id (an entry a group has not
//!   read yet is not acknowledged): [`stream_floor`]. The broker re-checks that bound in the
//!   same atomic step as the trim.
//! - **outbox and bookkeeping**: relayed outbox rows whose event a worker processed or
//!   dead-lettered, their `processed_events` rows, and expired idempotency keys, older than
//!   the retention; pending, dead and unconfirmed rows never. In batches: a full batch runs
//!   the next round at once.
//! - **dead letters**: discarded or replayed letters, and their audit rows, once nothing
//!   happened to them for the dead-letter retention; open letters never.
//! - **consumers**: a consumer of the group whose process stopped (its heartbeat says so) or
//!   died (its heartbeat went stale), or that no heartbeat names and that has been idle for a
//!   week, leaves the group once it owns no pending entry ([`removable_consumers`]); this
//!   process's own consumer leaves when it drains.
//!
//! It decides cutoffs, eligibility and pacing; the adapters only run the removals they are
//! asked for. It must never remove an open dead letter, a pending, dead or unconfirmed outbox
//! row, a stream entry some group still needs, or a consumer that owns pending entries.

pub mod actor;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::pace::Pace;
use crate::ports::{
    Ambient, ConsumerProcess, ConsumerState, GroupMark, PortError, PurgeKind, RetentionStore,
    StreamId, StreamJanitor,
};
use crate::status::StatusBoard;

pub use actor::RetentionActor;

pub const NAME: &str = "retention";

/// How long idempotency keys are honoured (the chat API's contract): never removed earlier.
pub const IDEMPOTENCY_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// Stream entries trimmed per round at most (whole radix-tree nodes: microseconds each).
pub const STREAM_TRIM_LIMIT: usize = 10_000;

/// What each removal counts under, in metrics and `/admin/status`.
pub mod kind {
    pub const STREAM_ENTRIES: &str = "stream_entries";
    pub const OUTBOX_EVENTS: &str = "outbox_events";
    pub const PROCESSED_EVENTS: &str = "processed_events";
    pub const IDEMPOTENCY_KEYS: &str = "idempotency_keys";
    pub const DEAD_LETTERS: &str = "dead_letters";
    pub const DEAD_LETTER_ACTIONS: &str = "dead_letter_actions";
    pub const CONSUMERS: &str = "consumers";
    pub const ALL: [&str; 7] = [
        STREAM_ENTRIES,
        OUTBOX_EVENTS,
        PROCESSED_EVENTS,
        IDEMPOTENCY_KEYS,
        DEAD_LETTERS,
        DEAD_LETTER_ACTIONS,
        CONSUMERS,
    ];
}

#[derive(Debug, Clone, Serialize)]
pub struct RetentionConfig {
    /// Acknowledged stream entries older than this are trimmed.
    #[serde(rename = "stream_retention_secs", serialize_with = "secs")]
    pub stream: Duration,
    /// Processed outbox rows and per-event bookkeeping older than this are removed.
    #[serde(rename = "retention_secs", serialize_with = "secs")]
    pub processed: Duration,
    /// Discarded and replayed dead letters (and their actions) idle this long are removed.
    #[serde(rename = "dead_letter_retention_secs", serialize_with = "secs")]
    pub dead_letters: Duration,
    /// Rows removed per kind per transaction.
    pub batch_size: usize,
    /// A consumer no heartbeat names is removed once idle this long (heartbeat rows are kept
    /// for a week, so an older consumer's process is long gone).
    #[serde(rename = "orphan_consumer_idle_secs", serialize_with = "secs")]
    pub orphan_consumer_idle: Duration,
    /// This process's consumer name (it leaves the group when it drains).
    pub consumer: String,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_secs())
}

impl RetentionConfig {
    /// How often a round runs while there is nothing to remove: half the shortest retention,
    /// between 1 and 30 seconds, so a row goes within max(retention, 60 s) of expiring.
    pub fn every(&self) -> Duration {
        (self.stream.min(self.processed).min(self.dead_letters) / 2)
            .clamp(Duration::from_secs(1), Duration::from_secs(30))
    }
}

#[derive(Clone)]
pub struct RetentionDeps {
    pub store: Arc<dyn RetentionStore>,
    pub stream: Arc<dyn StreamJanitor>,
    pub ambient: Ambient,
    pub status: StatusBoard,
    pub board: RetentionBoard,
    pub config: RetentionConfig,
}

/// What one round did.
#[derive(Debug, Clone, Default)]
pub struct RetentionReport {
    pub at: Option<DateTime<Utc>>,
    /// Removed, by [`kind`].
    pub removed: BTreeMap<&'static str, u64>,
    /// Consumers that left the group, with why.
    pub consumers_removed: Vec<(String, ConsumerGone)>,
    /// The id below which the stream was trimmed (none when nothing could be).
    pub stream_floor: Option<StreamId>,
    /// The first failure of the round (the other steps still ran).
    pub error: Option<PortError>,
}

impl RetentionReport {
    fn add(&mut self, kind: &'static str, n: u64) {
        if n > 0 {
            *self.removed.entry(kind).or_insert(0) += n;
        }
    }

    fn fail(&mut self, e: PortError) {
        self.error.get_or_insert(e);
    }
}

/// The lowest stream id that must be kept: the cutoff (`now` minus the stream retention), but
/// no further than any group's oldest pending entry or last-delivered id. `None` when nothing
/// lies below it.
pub fn stream_floor(cutoff: DateTime<Utc>, groups: &[GroupMark]) -> Option<StreamId> {
    let cutoff = StreamId::at_ms(u64::try_from(cutoff.timestamp_millis()).unwrap_or(0));
    let floor = groups
        .iter()
        .flat_map(|g| std::iter::once(g.last_delivered).chain(g.oldest_pending))
        .fold(cutoff, StreamId::min);
    (floor > StreamId::ZERO).then_some(floor)
}

/// Why a consumer left the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsumerGone {
    /// Its process stopped gracefully or died (its heartbeat says stopped, or went stale).
    Stopped,
    /// No heartbeat names it, and it has been idle for [`RetentionConfig::orphan_consumer_idle`].
    Orphaned,
    /// This process's own consumer, as it drains.
    Departed,
}

impl ConsumerGone {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsumerGone::Stopped => "stopped",
            ConsumerGone::Orphaned => "orphaned",
            ConsumerGone::Departed => "departed",
        }
    }
}

/// The consumers that may leave the group now: owning no pending entry (entries of a dead
/// consumer are reclaimed first, by the workers), not this process's, and either named only by
/// processes that stopped or whose heartbeats went stale, or named by none and idle long.
pub fn removable_consumers(
    consumers: &[ConsumerState],
    processes: &[ConsumerProcess],
    me: &str,
    orphan_idle: Duration,
) -> Vec<(String, ConsumerGone)> {
    let mut alive: HashMap<&str, bool> = HashMap::new();
    for p in processes {
        *alive.entry(p.consumer.as_str()).or_insert(false) |= p.alive;
    }
    consumers
        .iter()
        .filter(|c| c.pending == 0 && c.name != me)
        .filter_map(|c| match alive.get(c.name.as_str()) {
            Some(false) => Some((c.name.clone(), ConsumerGone::Stopped)),
            Some(true) => None,
            None if c.idle >= orphan_idle => Some((c.name.clone(), ConsumerGone::Orphaned)),
            None => None,
        })
        .collect()
}

/// The cutoffs of one round, per Postgres kind, from `now`.
pub fn cutoffs(config: &RetentionConfig, now: DateTime<Utc>) -> Vec<(PurgeKind, DateTime<Utc>)> {
    let ago = |d: Duration| now - chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
    let processed = ago(config.processed);
    vec![
        (PurgeKind::ProcessedOutbox, processed),
        (PurgeKind::ProcessedEvents, processed),
        // Keys are honoured for a day whatever the retention.
        (
            PurgeKind::IdempotencyKeys,
            processed.min(ago(IDEMPOTENCY_WINDOW)),
        ),
        (PurgeKind::ResolvedDeadLetters, ago(config.dead_letters)),
    ]
}

fn kinds_of(p: PurgeKind) -> (&'static str, Option<&'static str>) {
    match p {
        PurgeKind::ProcessedOutbox => (kind::OUTBOX_EVENTS, Some(kind::PROCESSED_EVENTS)),
        PurgeKind::ProcessedEvents => (kind::PROCESSED_EVENTS, None),
        PurgeKind::IdempotencyKeys => (kind::IDEMPOTENCY_KEYS, None),
        PurgeKind::ResolvedDeadLetters => (kind::DEAD_LETTERS, Some(kind::DEAD_LETTER_ACTIONS)),
    }
}

/// One round: every kind once (a batch each); busy when any batch was full.
pub async fn run_round(deps: &RetentionDeps) -> (Pace, RetentionReport) {
    let now = deps.ambient.clock.now();
    let mut report = RetentionReport {
        at: Some(now),
        ..RetentionReport::default()
    };
    let limit = deps.config.batch_size.max(1);
    let mut busy = false;
    for (purge, before) in cutoffs(&deps.config, now) {
        match deps.store.purge(purge, before, limit).await {
            Ok(purged) => {
                let (own, dependent) = kinds_of(purge);
                report.add(own, purged.rows);
                if let Some(dependent) = dependent {
                    report.add(dependent, purged.dependent);
                }
                busy |= purged.rows >= limit as u64;
            }
            Err(e) => report.fail(e),
        }
    }
    let stream_cutoff =
        now - chrono::Duration::from_std(deps.config.stream).unwrap_or(chrono::Duration::MAX);
    match trim_stream(deps, stream_cutoff, &mut report).await {
        Ok(more) => busy |= more,
        Err(e) => report.fail(e),
    }
    if let Err(e) = prune_consumers(deps, &mut report).await {
        report.fail(e);
    }
    let pace = match &report.error {
        Some(e) => Pace::Failing(e.clone()),
        None if busy => Pace::Busy,
        None => Pace::Idle,
    };
    (pace, report)
}

/// Trims below the floor; whether more may be left to trim.
async fn trim_stream(
    deps: &RetentionDeps,
    cutoff: DateTime<Utc>,
    report: &mut RetentionReport,
) -> Result<bool, PortError> {
    let groups = deps.stream.groups().await?;
    // No group at all: nothing says which entries were handled, so nothing is trimmed.
    if groups.is_empty() {
        return Ok(false);
    }
    let Some(floor) = stream_floor(cutoff, &groups) else {
        return Ok(false);
    };
    // None: a group appeared or moved back in between; the next round looks again.
    let trimmed = deps.stream.trim_below(floor, STREAM_TRIM_LIMIT).await?;
    if let Some(trimmed) = trimmed {
        report.stream_floor = Some(floor);
        report.add(kind::STREAM_ENTRIES, trimmed);
    }
    Ok(trimmed.is_some_and(|n| n >= (STREAM_TRIM_LIMIT / 2) as u64))
}

async fn prune_consumers(
    deps: &RetentionDeps,
    report: &mut RetentionReport,
) -> Result<(), PortError> {
    let consumers = deps.stream.consumers().await?;
    if consumers.iter().all(|c| c.name == deps.config.consumer) {
        return Ok(());
    }
    let processes = deps.store.consumer_processes().await?;
    for (name, why) in removable_consumers(
        &consumers,
        &processes,
        &deps.config.consumer,
        deps.config.orphan_consumer_idle,
    ) {
        if deps.stream.remove_consumer(&name).await? {
            report.add(kind::CONSUMERS, 1);
            report.consumers_removed.push((name, why));
        }
    }
    Ok(())
}

/// This process's consumer leaves the group as the process drains (after the workers
/// finished their rounds), if it owns no pending entry; else it stays for another worker to
/// reclaim them, and a later round removes it once its heartbeat says stopped.
pub async fn depart(deps: &RetentionDeps) -> Result<bool, PortError> {
    deps.stream.remove_consumer(&deps.config.consumer).await
}

/// The read model of retention for `/admin/status`: its settings, its last round, and what it
/// removed since the process started. Written by the actor only.
#[derive(Debug, Clone)]
pub struct RetentionBoard {
    inner: Arc<Mutex<BoardState>>,
}

#[derive(Debug, Clone, Serialize)]
struct BoardState {
    settings: RetentionConfig,
    /// Whether this process runs retention (its role runs the worker).
    running: bool,
    last_run: Option<LastRun>,
    removed_total: BTreeMap<&'static str, u64>,
}

#[derive(Debug, Clone, Serialize)]
struct LastRun {
    at: Option<DateTime<Utc>>,
    removed: BTreeMap<&'static str, u64>,
    stream_floor: Option<String>,
    error: Option<String>,
}

impl RetentionBoard {
    pub fn new(settings: RetentionConfig, running: bool) -> RetentionBoard {
        RetentionBoard {
            inner: Arc::new(Mutex::new(BoardState {
                settings,
                running,
                last_run: None,
                removed_total: kind::ALL.iter().map(|k| (*k, 0)).collect(),
            })),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut BoardState) -> T) -> T {
        let mut state = match self.inner.lock() {
            Ok(s) => s,
            // Plain data: still usable after a panic elsewhere.
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut state)
    }

    pub fn record(&self, report: &RetentionReport) {
        self.with(|s| {
            for (k, n) in &report.removed {
                *s.removed_total.entry(k).or_insert(0) += n;
            }
            s.last_run = Some(LastRun {
                at: report.at,
                removed: report.removed.clone(),
                stream_floor: report.stream_floor.map(|f| f.to_string()),
                error: report.error.as_ref().map(|e| e.to_string()),
            });
        });
    }

    /// Counts a consumer removed outside a round (this process's own, at drain).
    pub fn count(&self, kind: &'static str, n: u64) {
        self.with(|s| *s.removed_total.entry(kind).or_insert(0) += n);
    }

    pub fn snapshot(&self) -> serde_json::Value {
        self.with(|s| serde_json::to_value(&*s).unwrap_or(serde_json::Value::Null))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    fn group(last: StreamId, pending: Option<StreamId>) -> GroupMark {
        GroupMark {
            name: "g".into(),
            last_delivered: last,
            oldest_pending: pending,
        }
    }

    #[test]
    fn the_floor_never_passes_a_pending_or_undelivered_entry() {
        let cutoff = DateTime::from_timestamp_millis(10_000).unwrap();
        // Everything delivered and acknowledged well past the cutoff: trim to the cutoff.
        assert_eq!(
            stream_floor(cutoff, &[group(id(20_000, 0), None)]),
            Some(id(10_000, 0))
        );
        // A pending entry below the cutoff holds the floor.
        assert_eq!(
            stream_floor(cutoff, &[group(id(20_000, 0), Some(id(4_000, 2)))]),
            Some(id(4_000, 2))
        );
        // A second group that has not read past 3000-1 holds it lower still.
        assert_eq!(
            stream_floor(
                cutoff,
                &[
                    group(id(20_000, 0), Some(id(4_000, 2))),
                    group(id(3_000, 1), None)
                ]
            ),
            Some(id(3_000, 1))
        );
        // A group that read nothing: nothing may go.
        assert_eq!(stream_floor(cutoff, &[group(StreamId::ZERO, None)]), None);
        // Ids parse and print as Redis writes them.
        assert_eq!(
            "1700000000000-3".parse::<StreamId>(),
            Ok(id(1_700_000_000_000, 3))
        );
        assert_eq!(id(5, 1).to_string(), "5-1");
        assert!("x-1".parse::<StreamId>().is_err());
    }

    fn consumer(name: &str, pending: u64, idle_secs: u64) -> ConsumerState {
        ConsumerState {
            name: name.into(),
            pending,
            idle: Duration::from_secs(idle_secs),
        }
    }

    fn process(name: &str, alive: bool) -> ConsumerProcess {
        ConsumerProcess {
            consumer: name.into(),
            alive,
        }
    }

    #[test]
    fn only_idle_consumers_of_stopped_processes_leave() {
        let week = Duration::from_secs(7 * 86_400);
        let consumers = [
            consumer("me", 0, 0),
            consumer("stopped", 0, 5),
            consumer("stopped-with-pending", 2, 5),
            consumer("alive", 0, 5),
            consumer("restarted", 0, 5),
            consumer("unknown-recent", 0, 60),
            consumer("unknown-old", 0, 8 * 86_400),
        ];
        let processes = [
            process("me", true),
            process("stopped", false),
            process("stopped-with-pending", false),
            process("alive", true),
            // One stopped and one live process of the same name: it stays.
            process("restarted", false),
            process("restarted", true),
        ];
        assert_eq!(
            removable_consumers(&consumers, &processes, "me", week),
            vec![
                ("stopped".to_owned(), ConsumerGone::Stopped),
                ("unknown-old".to_owned(), ConsumerGone::Orphaned),
            ]
        );
    }

    /// A broker that fails, and a store that removes a full batch of outbox rows.
    struct DownBroker;
    #[async_trait::async_trait]
    impl StreamJanitor for DownBroker {
        async fn groups(&self) -> Result<Vec<GroupMark>, PortError> {
            Err(PortError::transient("redis", "connection refused"))
        }
        async fn trim_below(&self, _: StreamId, _: usize) -> Result<Option<u64>, PortError> {
            unreachable!("no groups were read")
        }
        async fn consumers(&self) -> Result<Vec<ConsumerState>, PortError> {
            Err(PortError::transient("redis", "connection refused"))
        }
        async fn remove_consumer(&self, _: &str) -> Result<bool, PortError> {
            unreachable!("no consumers were read")
        }
    }

    struct FullBatches(Mutex<Vec<(PurgeKind, DateTime<Utc>)>>);
    #[async_trait::async_trait]
    impl RetentionStore for FullBatches {
        async fn purge(
            &self,
            kind: PurgeKind,
            before: DateTime<Utc>,
            limit: usize,
        ) -> Result<crate::ports::Purged, PortError> {
            self.0.lock().unwrap().push((kind, before));
            let rows = if kind == PurgeKind::ProcessedOutbox {
                limit as u64
            } else {
                0
            };
            Ok(crate::ports::Purged {
                rows,
                dependent: rows / 2,
            })
        }
        async fn consumer_processes(&self) -> Result<Vec<ConsumerProcess>, PortError> {
            Ok(Vec::new())
        }
    }

    fn config() -> RetentionConfig {
        RetentionConfig {
            stream: Duration::from_secs(5),
            processed: Duration::from_secs(10),
            dead_letters: Duration::from_secs(20),
            batch_size: 100,
            orphan_consumer_idle: Duration::from_secs(60),
            consumer: "me".into(),
        }
    }

    #[tokio::test]
    async fn postgres_removals_go_on_while_the_broker_is_down() {
        let store = Arc::new(FullBatches(Mutex::new(Vec::new())));
        let deps = RetentionDeps {
            store: store.clone(),
            stream: Arc::new(DownBroker),
            ambient: crate::testkit::ambient(),
            status: StatusBoard::new(),
            board: RetentionBoard::new(config(), true),
            config: config(),
        };
        let (pace, report) = run_round(&deps).await;
        // Every Postgres kind ran, with cutoffs from the injected clock.
        let now = deps.ambient.clock.now();
        let calls = store.0.lock().unwrap().clone();
        assert_eq!(calls.len(), 4);
        assert_eq!(
            calls[0],
            (
                PurgeKind::ProcessedOutbox,
                now - chrono::Duration::seconds(10)
            )
        );
        assert_eq!(report.removed[kind::OUTBOX_EVENTS], 100);
        assert_eq!(report.removed[kind::PROCESSED_EVENTS], 50);
        // The broker's failure paces the actor (backoff) and shows on the board.
        assert!(
            matches!(pace, Pace::Failing(ref e) if e.port == "redis"),
            "{pace:?}"
        );
        deps.board.record(&report);
        let shown = deps.board.snapshot();
        assert_eq!(shown["removed_total"]["outbox_events"], 100);
        assert_eq!(shown["settings"]["retention_secs"], 10);
        assert!(shown["last_run"]["error"]
            .as_str()
            .unwrap()
            .contains("connection refused"));
    }

    #[test]
    fn idempotency_keys_outlive_a_short_retention() {
        let config = RetentionConfig {
            stream: Duration::from_secs(5),
            processed: Duration::from_secs(10),
            dead_letters: Duration::from_secs(20),
            batch_size: 100,
            orphan_consumer_idle: Duration::from_secs(60),
            consumer: "me".into(),
        };
        let now = DateTime::from_timestamp(1_000_000, 0).unwrap();
        let cut: HashMap<_, _> = cutoffs(&config, now)
            .into_iter()
            .map(|(k, t)| (format!("{k:?}"), t.timestamp()))
            .collect();
        assert_eq!(cut["ProcessedOutbox"], 1_000_000 - 10);
        assert_eq!(cut["IdempotencyKeys"], 1_000_000 - 86_400);
        assert_eq!(cut["ResolvedDeadLetters"], 1_000_000 - 20);
        assert_eq!(config.every(), Duration::from_millis(2_500));
    }
}

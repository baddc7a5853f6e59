//! Ports: the small traits through which the engine reaches storage, the broker, time, ids
//! and randomness. `src/` implements them with Postgres, Redis and the system clock; tests and
//! a future simulator implement them with deterministic fakes.
//!
//! A port must never leak an adapter type (no `tokio_postgres::Error`, no `redis::Value`):
//! failures cross as [`PortError`], which says whether retrying can help.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::batch::{DeadLetter, EffectBatch};
use crate::decode::{OutboxRow, RawEntry};
use crate::enrich::facts::LlmFact;
use crate::enrich::job::{LlmMode, MessageJob, ModelError, Outcome, Purpose, TitleJob};

/// Whether an operation may succeed if tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Connection refused or lost, timeout, serialization failure, Redis `LOADING`/`BUSY`:
    /// retry with backoff, never dead-letter for it.
    Transient,
    /// The input itself is refused (constraint violation, invalid input syntax): retrying
    /// the same input fails the same way.
    Permanent,
}

/// A failure at a port, classified by the adapter that saw it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{port}: {message}")]
pub struct PortError {
    pub port: &'static str,
    pub retry: Retry,
    /// Already redacted by the adapter: never a password.
    pub message: String,
}

impl PortError {
    pub fn transient(port: &'static str, message: impl Into<String>) -> PortError {
        PortError {
            port,
            retry: Retry::Transient,
            message: message.into(),
        }
    }

    pub fn permanent(port: &'static str, message: impl Into<String>) -> PortError {
        PortError {
            port,
            retry: Retry::Permanent,
            message: message.into(),
        }
    }

    pub fn is_transient(&self) -> bool {
        self.retry == Retry::Transient
    }
}

/// An outbox row refused at the relay, with why.
#[derive(Debug, Clone)]
pub struct RejectedRow {
    pub id: Uuid,
    pub dead_letter: DeadLetter,
}

/// A claimed outbox row whose columns the adapter could not read at all (say, text that is not
/// UTF-8 in a `SQL_ASCII` database): it is dead-lettered like any other undecodable row, and
/// must never make the claim itself fail, or one row would hold back every row behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableRow {
    pub id: Uuid,
    /// Which column and why, without the value.
    pub detail: String,
}

/// One claimed row: readable (still to be decoded), or not.
pub type ClaimedRow = Result<OutboxRow, UnreadableRow>;

/// An event ready to be appended to the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEntry {
    pub outbox_id: Uuid,
    pub event_id: String,
    pub event_type: String,
    pub payload: String,
}

/// What the relay decided for a claimed batch: the rows published (with their stream entry
/// ids) and the rows refused (with their dead letters). `relayed` rows were accepted by the
/// stream before the settlement is recorded.
#[derive(Debug, Clone, Default)]
pub struct Settlement {
    pub relayed: Vec<(Uuid, String)>,
    pub rejected: Vec<RejectedRow>,
    /// Whether deciding a row panicked (the actor restarts after the round).
    pub panicked: bool,
}

/// A boxed future, for work handed to a port.
pub type PortFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// What the relay does with the rows it claimed: decide, publish, settle.
pub type ClaimWork<'a> =
    Box<dyn FnOnce(Vec<ClaimedRow>) -> PortFuture<'a, Result<Settlement, PortError>> + Send + 'a>;

/// The transactional outbox, as the relay sees it.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Claims up to `limit` pending rows (oldest first), skipping rows another relay holds,
    /// hands them to `work`, and records its settlement (rows relayed, rows dead with their
    /// dead letters) in one transaction. The claim is that transaction's row locks: if `work`
    /// fails, or the process dies, the rows are claimable again at once and nothing is
    /// recorded. Each row is read on its own: one that cannot be read comes back as
    /// [`UnreadableRow`], never as an error of the whole claim. `None` when nothing was pending.
    async fn relay_batch<'a>(
        &'a self,
        limit: usize,
        work: ClaimWork<'a>,
    ) -> Result<Option<Settlement>, PortError>;
}

/// A stream entry handed to this consumer again, with how often it was delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redelivered {
    pub entry: RawEntry,
    pub deliveries: u64,
}

/// The Redis Stream and its consumer group.
#[async_trait]
pub trait StreamBus: Send + Sync {
    /// Appends entries in one pipelined round trip; returns their entry ids in order.
    async fn publish(&self, entries: &[OutgoingEntry]) -> Result<Vec<String>, PortError>;
    /// Creates the stream and group when missing (idempotent).
    async fn ensure_group(&self) -> Result<(), PortError>;
    /// Reads up to `count` entries never delivered to the group, waiting at most `block`.
    async fn read_new(&self, count: usize, block: Duration) -> Result<Vec<RawEntry>, PortError>;
    /// Takes over entries pending on any consumer for longer than `min_idle`.
    async fn claim_idle(
        &self,
        min_idle: Duration,
        count: usize,
    ) -> Result<Vec<Redelivered>, PortError>;
    /// Acknowledges entries: they leave the group's pending list.
    async fn ack(&self, ids: &[String]) -> Result<(), PortError>;
    /// Which of these entry ids no longer exist in the stream (trimmed, or lost with Redis).
    async fn missing(&self, ids: &[String]) -> Result<Vec<bool>, PortError>;
    /// Per id in order, the entry the stream holds under it (`None`: no such entry).
    async fn fetch(&self, ids: &[String]) -> Result<Vec<Option<RawEntry>>, PortError>;
    /// Deletes these entries (XDEL), for forgetting only: a forgotten user's text must not
    /// outlive the forget. Returns how many existed.
    async fn delete(&self, ids: &[String]) -> Result<u64, PortError>;
}

/// Which stream entries are being handled right now, by which process. An entry found in
/// flight under another process was being handled when that process died: after enough such
/// deaths it is quarantined instead of handled again (crash-loop immunity).
///
/// A fresh batch costs one marker for the whole batch ([`InflightLedger::mark_batch`]),
/// removed in the batch's own effects transaction; only entries taken over from another
/// consumer get a marker each.
#[async_trait]
pub trait InflightLedger: Send + Sync {
    /// Marks a batch of fresh entries as handled by `owner` (this process), under `marker`,
    /// before they are handled. The batch's effects transaction removes it
    /// ([`crate::batch::EffectBatch::inflight`]).
    async fn mark_batch(&self, owner: Uuid, marker: Uuid, ids: &[String]) -> Result<(), PortError>;
    /// Marks `ids` (taken over from another consumer) as handled by `owner` and returns, per
    /// id in order, how many processes have died while handling it (a marker, or a batch
    /// marker, left by another owner counts one more).
    async fn mark_in_flight(&self, owner: Uuid, ids: &[String]) -> Result<Vec<u32>, PortError>;
    /// Removes the markers of entries that are done (committed and acked).
    async fn clear_in_flight(&self, ids: &[String]) -> Result<(), PortError>;
    /// Sets entries aside (read but waiting for a later round): a process death now was not
    /// caused by them, so it must not count against them.
    async fn park(&self, ids: &[String]) -> Result<(), PortError>;
}

/// A relayed outbox row, with the stream entry id it was published as.
#[derive(Debug, Clone)]
pub struct RelayedRow {
    pub row: OutboxRow,
    pub stream_id: String,
    /// Where the row sits in the reconciler's pass (relay time, then id).
    pub position: ReconcilePosition,
    /// Whether a worker processed or dead-lettered its event.
    pub confirmed: bool,
}

/// A position in relay order: the reconciler's durable cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ReconcilePosition {
    pub relayed_at: DateTime<Utc>,
    pub id: Uuid,
}

/// The outbox, as the reconciler sees it.
#[async_trait]
pub trait ReconcileStore: Send + Sync {
    /// Up to `limit` rows relayed longer ago than `after`, past the cursor, in relay order,
    /// each saying whether a worker confirmed it (processed or dead-lettered its event).
    async fn relayed_since_cursor(
        &self,
        after: Duration,
        limit: usize,
    ) -> Result<Vec<RelayedRow>, PortError>;
    /// Records that rows were published again, under new stream entry ids (which moves them
    /// past the cursor, to be looked at again).
    async fn mark_republished(&self, republished: &[(Uuid, String)]) -> Result<(), PortError>;
    /// Moves the cursor forward to `to` (never back): rows up to it need no more looking at.
    async fn advance_cursor(&self, to: ReconcilePosition) -> Result<(), PortError>;
}

/// What applying a batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyOutcome {
    /// Events whose effects were committed now.
    pub applied: usize,
    /// Events already applied before (redelivery): nothing changed.
    pub duplicates: usize,
    /// Dead letters recorded (including ones found by the store, such as a reused event id).
    pub dead_lettered: Vec<DeadLetter>,
    /// Stream entries of events dropped for a forgotten user or message: once acked, their
    /// text is deleted from the stream too.
    pub forgotten_entries: Vec<String>,
}

/// The memory graph: where a batch's effects are committed exactly once.
#[async_trait]
pub trait EffectStore: Send + Sync {
    /// Commits the batch's effects and dead letters in one transaction. An event already
    /// recorded changes nothing, so redelivery is harmless.
    async fn apply_batch(&self, batch: &EffectBatch) -> Result<ApplyOutcome, PortError>;
}

/// What one watermark fold did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FoldOutcome {
    pub messages: usize,
    pub chats: usize,
}

/// Per-chat watermarks, folded from durable processed-message records.
#[async_trait]
pub trait WatermarkStore: Send + Sync {
    /// Folds up to `limit` processed-but-unfolded messages into their chats' watermarks
    /// (using [`crate::checksum`]), stamping `updated_at` with `now`.
    async fn fold_pending(
        &self,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<FoldOutcome, PortError>;
}

/// The time.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// Fresh ids.
pub trait IdSource: Send + Sync {
    fn new_id(&self) -> Uuid;
}

/// Randomness (for backoff jitter).
pub trait Entropy: Send + Sync {
    /// A uniformly random value in `[0, 1)`.
    fn unit(&self) -> f64;
}

/// Everything the engine takes from the world besides storage.
#[derive(Clone)]
pub struct Ambient {
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdSource>,
    pub entropy: Arc<dyn Entropy>,
}

/// A stream entry id (`<milliseconds>-<sequence>`), ordered as Redis orders them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const ZERO: StreamId = StreamId { ms: 0, seq: 0 };

    /// The first id of a millisecond.
    pub fn at_ms(ms: u64) -> StreamId {
        StreamId { ms, seq: 0 }
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

impl std::str::FromStr for StreamId {
    type Err = String;

    /// `1700000000000-3`, or `1700000000000` (sequence 0).
    fn from_str(s: &str) -> Result<StreamId, String> {
        let (ms, seq) = s.split_once('-').unwrap_or((s, "0"));
        match (ms.parse(), seq.parse()) {
            (Ok(ms), Ok(seq)) => Ok(StreamId { ms, seq }),
            _ => Err(format!("not a stream entry id: {s:?}")),
        }
    }
}

/// Where one consumer group of the stream stands: entries above `last_delivered` were never
/// delivered to it, and `oldest_pending` (if any) was delivered but not acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMark {
    pub name: String,
    pub last_delivered: StreamId,
    pub oldest_pending: Option<StreamId>,
}

/// One consumer of this process's group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerState {
    pub name: String,
    /// Entries delivered to it and not acknowledged.
    pub pending: u64,
    /// Since it last read or claimed.
    pub idle: Duration,
}

/// The stream as retention sees it: every group's position, trimming, and this group's
/// consumers.
#[async_trait]
pub trait StreamJanitor: Send + Sync {
    /// Every consumer group of the stream (not only memlink's); empty when there is no stream.
    async fn groups(&self) -> Result<Vec<GroupMark>, PortError>;
    /// Removes entries whose ids are below `min_id`, about `limit` at most (whole internal
    /// nodes first, then the rest exactly, so one call never blocks the broker for long),
    /// unless, at that moment, some group's last-delivered id or oldest pending entry is below
    /// it (a group appeared or moved since [`StreamJanitor::groups`]): then nothing, `None`.
    /// Check and trim are one atomic step. Half of `limit` or more removed: more may be left.
    async fn trim_below(&self, min_id: StreamId, limit: usize) -> Result<Option<u64>, PortError>;
    /// The consumers of this process's group.
    async fn consumers(&self) -> Result<Vec<ConsumerState>, PortError>;
    /// Removes a consumer from the group if, at that moment, it owns no pending entry
    /// (atomically: a consumer's pending entries are never dropped with it). Whether it went.
    async fn remove_consumer(&self, name: &str) -> Result<bool, PortError>;
}

/// What a [`RetentionStore::purge`] pass removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PurgeKind {
    /// Relayed outbox rows whose event a worker processed or dead-lettered (never pending,
    /// dead or unconfirmed rows), with their `processed_events` rows when those are old too.
    ProcessedOutbox,
    /// `processed_events` rows of events no outbox row holds any more.
    ProcessedEvents,
    /// Idempotency keys (expired after 24 hours anyway).
    IdempotencyKeys,
    /// Discarded or replayed dead letters with no action since the cutoff, and their
    /// actions. Open (`dead`) letters never.
    ResolvedDeadLetters,
}

/// Rows removed, by table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Rows of the kind's own table (outbox rows, processed events, keys, letters): what the
    /// batch limit counts.
    pub rows: u64,
    /// Rows of a dependent table removed with them (processed events of the outbox rows,
    /// actions of the letters).
    pub dependent: u64,
}

/// How a consumer's process looks in the heartbeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerProcess {
    pub consumer: String,
    /// Some process of this consumer name beats and has not stopped.
    pub alive: bool,
}

/// What retention removes from Postgres, and the heartbeats it reads.
#[async_trait]
pub trait RetentionStore: Send + Sync {
    /// Removes at most `limit` rows of `kind` older than `before` (oldest first where the
    /// table allows), each in its own short transaction, skipping rows another transaction
    /// holds.
    async fn purge(
        &self,
        kind: PurgeKind,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Purged, PortError>;
    /// The consumer names of this stream and group in the heartbeats, each saying whether a
    /// process of that name is alive (the database's clock: fresh within three intervals).
    async fn consumer_processes(&self) -> Result<Vec<ConsumerProcess>, PortError>;
}

/// The LLM enricher's storage (`crate::enrich`): which processed user messages and chats are
/// owed an LLM pass, their claims and outcomes, and the facts and titles the model adds.
#[async_trait]
pub trait EnrichmentStore: Send + Sync {
    /// Records when the enricher first ran (messages processed before are not enriched).
    async fn ensure_epoch(&self) -> Result<(), PortError>;
    /// Gives up on claims that expired `max_claims` times: the messages' and chats' ids.
    async fn abandon_stale(&self, max_claims: i32) -> Result<(Vec<Uuid>, Vec<Uuid>), PortError>;
    /// Claims up to `limit` messages owed a pass for `lease`.
    async fn claim_messages(
        &self,
        owner: Uuid,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<MessageJob>, PortError>;
    /// Claims up to `limit` chats owed a title (those of `messages` first) for `lease`.
    async fn claim_titles(
        &self,
        owner: Uuid,
        messages: &[MessageJob],
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<TitleJob>, PortError>;
    /// Stores a message's validated facts and marks it done: how many statements were added
    /// (`None` when another enricher already finished the message).
    async fn store_facts(
        &self,
        job: &MessageJob,
        facts: Vec<LlmFact>,
        mode: LlmMode,
        model: &str,
    ) -> Result<Option<usize>, PortError>;
    /// Ends a message's pass without facts (`reason` is kept as its last error).
    async fn finish_message(
        &self,
        message: Uuid,
        outcome: Outcome,
        reason: &str,
        model: &str,
    ) -> Result<(), PortError>;
    /// Stores a generated title; `false` when another enricher already finished this chat.
    async fn store_title(&self, chat: Uuid, title: &str, model: &str) -> Result<bool, PortError>;
    /// Ends a chat's title pass without a title (the fallback stays).
    async fn finish_title(
        &self,
        chat: Uuid,
        outcome: Outcome,
        reason: &str,
        model: &str,
    ) -> Result<(), PortError>;
    /// Hands this enricher's unfinished claims back, uncounted; answers how many.
    async fn release_claims(&self, owner: Uuid) -> Result<u64, PortError>;
}

/// A language model behind an OpenAI-compatible endpoint. The adapter retries what can be
/// retried, bounds the requests in flight and counts tokens; the answer is the model's text.
/// Local (`?Send`): it runs on the enricher's own thread.
#[async_trait(?Send)]
pub trait LanguageModel {
    /// The model's name, stored with what it produced.
    fn model(&self) -> &str;
    /// Asks the model; `subject` only labels the adapter's log lines (`message_id=...`).
    async fn complete(
        &self,
        purpose: Purpose,
        subject: &str,
        system: &str,
        user: &str,
    ) -> Result<String, ModelError>;
}

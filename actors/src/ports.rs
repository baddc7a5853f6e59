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

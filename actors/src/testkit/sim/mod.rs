//! The simulator's world: one in-memory PostgreSQL (outbox with row locks and leases, effects
//! with their idempotency records and the memory model, dead letters, the in-flight ledger,
//! the reconciler's cursor) and one in-memory Redis (a stream with one consumer group, its
//! pending entries list and delivery counts), shared by every simulated process, plus a seeded
//! fault schedule and the trace of everything that happened.
//!
//! The semantics mirror the adapters in `src/postgres` and `src/redis` where they matter to
//! the engine (SKIP LOCKED claims, `ON CONFLICT` idempotency, `NOGROUP` after a flush, XCLAIM
//! counting a delivery). This module must never be used by the daemon, read the system clock,
//! or draw randomness anywhere but from its seeded generator: a seed is a whole run.

pub mod ports;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::checksum::Checksum;
use crate::decode::{OutboxRow, RawEntry};
use crate::memory::window::Changes;
use crate::plan::{DeadLetter, EffectBatch, PlannedMessage};
use crate::ports::{ApplyOutcome, ClaimedRow, PortError, Settlement, UnreadableRow};
use crate::settle::{event_id_conflict, settle, Settle, StoredMessage};
use crate::testkit::memory::MemoryStore;

pub use ports::{SimPorts, Sleeper};

/// SplitMix64: small, fast, and the same on every platform.
#[derive(Debug, Clone)]
pub struct SimRng(u64);

impl SimRng {
    pub fn new(seed: u64) -> SimRng {
        SimRng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[0, n)`; 0 when `n` is 0.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

/// Per port call, how likely each fault is while faults are on.
#[derive(Debug, Clone, Default)]
pub struct FaultRates {
    /// Connection refused/reset: nothing happened.
    pub transient: f64,
    /// No answer in time: nothing happened, the caller waited.
    pub timeout: f64,
    /// The operation happened (a commit committed) but the reply was lost.
    pub reply_lost: f64,
    /// The calling process dies at this await point (before or after the operation).
    pub death: f64,
    /// The call takes long (longer than a lease), then succeeds.
    pub stall: f64,
    /// An XACK that never arrives (reported done, not applied).
    pub lost_ack: f64,
    /// A published entry appended twice; a read batch with one entry twice.
    pub duplicate: f64,
    /// A read batch handed out in another order.
    pub reorder: f64,
    /// Redis loses everything (FLUSHALL, failover to an empty replica).
    pub flush: f64,
    /// The oldest entries are trimmed away.
    pub trim: f64,
    /// A failover to a lagging replica: the newest entries are lost.
    pub failover: f64,
}

/// Timings of the world's own mechanisms.
#[derive(Debug, Clone)]
pub struct WorldConfig {
    /// How long an outbox claim's row locks survive a silent client (the server aborts its
    /// transaction after this: an idle-in-transaction timeout, a dead peer noticed).
    pub lease: Duration,
    /// How long a timed-out call waits before failing.
    pub timeout: Duration,
    /// How long a stalled call takes, at most (a quarter of it at least).
    pub stall: Duration,
    /// The workers' delivery limit: an entry handed out more often must be quarantined, never
    /// committed as a message by the worker holding that delivery.
    pub max_deliveries: u64,
}

impl Default for WorldConfig {
    fn default() -> Self {
        WorldConfig {
            lease: Duration::from_secs(3),
            timeout: Duration::from_millis(1_500),
            stall: Duration::from_secs(4),
            max_deliveries: 5,
        }
    }
}

/// What the schedule does to one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    Transient,
    Timeout,
    ReplyLost,
    DeathBefore,
    DeathAfter,
    Stall,
}

/// One simulated process slot: its current incarnation and whether it runs.
#[derive(Debug, Clone)]
pub struct Proc {
    pub alive: bool,
    pub incarnation: u32,
    /// This incarnation's identity in the in-flight ledger.
    pub owner: Uuid,
    /// Its consumer name in the group (the same across restarts, like a host name).
    pub consumer: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowStatus {
    Pending,
    Relayed,
    Dead,
}

/// One `outbox_events` row.
#[derive(Debug, Clone)]
pub struct OutboxEntry {
    pub row: OutboxRow,
    /// A row whose columns the adapter cannot read (`Some(detail)`).
    pub unreadable: Option<String>,
    pub created_at: DateTime<Utc>,
    pub status: RowStatus,
    /// The claiming transaction and when its lease ends.
    pub lock: Option<(u64, DateTime<Utc>)>,
    pub stream_id: Option<String>,
    pub relayed_at: Option<DateTime<Utc>>,
    /// Committed claims that settled this row (more than one is a broken lease).
    pub settlements: u32,
    pub republished: u32,
}

/// A stream entry id: (milliseconds, sequence).
pub type Sid = (u64, u64);

/// A stream entry's fields, as written.
pub type Fields = Vec<(Vec<u8>, Vec<u8>)>;

pub fn sid_text(s: Sid) -> String {
    format!("{}-{}", s.0, s.1)
}

pub fn parse_sid(s: &str) -> Option<Sid> {
    let (a, b) = s.split_once('-')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// Which actor of which process incarnation received a delivery.
pub type Holder = (usize, u32, &'static str);

/// A pending entries list item.
#[derive(Debug, Clone)]
pub struct PendingEntry {
    pub consumer: String,
    /// Which actor holds the latest delivery: (process slot, incarnation, actor name).
    pub holder: Holder,
    pub since: DateTime<Utc>,
    pub deliveries: u64,
}

#[derive(Debug, Clone, Default)]
pub struct Group {
    pub last_delivered: Sid,
    pub pel: BTreeMap<Sid, PendingEntry>,
}

/// The Redis stream and its one consumer group.
#[derive(Debug, Clone, Default)]
pub struct Stream {
    pub exists: bool,
    pub entries: BTreeMap<Sid, Fields>,
    pub last: Sid,
    pub group: Option<Group>,
    /// True delivery counts per entry id (independent of the PEL's).
    pub delivered: BTreeMap<String, u64>,
    /// Entries lost (flush, trim) before they were acknowledged.
    pub lost: BTreeSet<String>,
    pub flushes: u32,
}

/// The effects tables.
#[derive(Debug, Clone, Default)]
pub struct Effects {
    /// `processed_events`: event id → (digest, message id).
    pub processed: BTreeMap<Uuid, [u8; 32]>,
    /// `messages`, with whether each is folded into its watermark.
    pub messages: BTreeMap<Uuid, (StoredMessage, bool)>,
    /// `dead_letters`, unique by (source, source_ref).
    pub letters: BTreeMap<(&'static str, String), DeadLetter>,
    pub watermarks: BTreeMap<Uuid, (i64, Checksum)>,
    /// `chats`: the fallback title and the (said at, message id) it came from.
    pub titles: BTreeMap<Uuid, (DateTime<Utc>, Uuid, String)>,
    pub memory: MemoryStore,
    /// How often each message's effects were committed (must end at most 1).
    pub applied: BTreeMap<Uuid, u32>,
    /// Users whose messages the store refuses (a constraint the decoder does not know).
    pub refused_users: BTreeSet<String>,
    /// Users whose messages fail every commit with a transient error (a trigger raising a
    /// serialization failure for them, say): bounded retries must dead-letter them alone.
    pub flaky_users: BTreeSet<String>,
}

/// `inflight_entries` and `inflight_batches`.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    pub entries: BTreeMap<String, (Uuid, u32)>,
    pub batches: BTreeMap<Uuid, (Uuid, Vec<String>)>,
}

/// Everything durable and everything observed.
pub struct World {
    pub rng: SimRng,
    pub faults_on: bool,
    pub rates: FaultRates,
    pub config: WorldConfig,
    pub now: DateTime<Utc>,
    pub procs: Vec<Proc>,
    pub outbox: Vec<OutboxEntry>,
    live_txs: BTreeSet<u64>,
    next_tx: u64,
    pub stream: Stream,
    pub effects: Effects,
    pub ledger: Ledger,
    pub cursor: Option<crate::ports::ReconcilePosition>,
    /// Per process incarnation, the rows its reconciler's latest read said were confirmed (it
    /// must not publish them again).
    pub reported_confirmed: BTreeMap<(usize, u32), BTreeSet<Uuid>>,
    /// Safety properties broken while running.
    pub violations: Vec<String>,
    pub trace: Vec<String>,
    /// How often each kind of event happened (faults, deaths, broker losses, ...).
    pub counts: BTreeMap<&'static str, u64>,
}

impl World {
    pub fn new(seed: u64, rates: FaultRates, config: WorldConfig, now: DateTime<Utc>) -> World {
        World {
            rng: SimRng::new(seed),
            faults_on: false,
            rates,
            config,
            now,
            procs: Vec::new(),
            outbox: Vec::new(),
            live_txs: BTreeSet::new(),
            next_tx: 0,
            stream: Stream::default(),
            effects: Effects::default(),
            ledger: Ledger::default(),
            cursor: None,
            reported_confirmed: BTreeMap::new(),
            violations: Vec::new(),
            trace: Vec::new(),
            counts: BTreeMap::new(),
        }
    }

    fn ms(&self) -> i64 {
        self.now.timestamp_millis()
    }

    pub fn log(&mut self, line: impl AsRef<str>) {
        let line = format!("{} {}", self.ms(), line.as_ref());
        self.trace.push(line);
    }

    pub fn count(&mut self, what: &'static str) {
        *self.counts.entry(what).or_default() += 1;
    }

    pub fn alive(&self, slot: usize, incarnation: u32) -> bool {
        self.procs
            .get(slot)
            .is_some_and(|p| p.alive && p.incarnation == incarnation)
    }

    pub fn kill(&mut self, slot: usize, why: &str) {
        if let Some(p) = self.procs.get_mut(slot) {
            if p.alive {
                p.alive = false;
                let inc = p.incarnation;
                self.log(format!("p{slot}.{inc} dies ({why})"));
                self.count("process deaths");
            }
        }
    }

    /// Draws the fault for one call. Reads never lose a reply that matters.
    pub fn draw_fault(&mut self, mutation: bool) -> Fault {
        if !self.faults_on {
            return Fault::None;
        }
        let r = self.rates.clone();
        let x = self.rng.unit();
        let mut edge = 0.0;
        for (p, f) in [
            (r.transient, Fault::Transient),
            (r.timeout, Fault::Timeout),
            (r.death / 2.0, Fault::DeathBefore),
            (r.stall, Fault::Stall),
        ] {
            edge += p;
            if x < edge {
                return f;
            }
        }
        if mutation {
            for (p, f) in [
                (r.reply_lost, Fault::ReplyLost),
                (r.death / 2.0, Fault::DeathAfter),
            ] {
                edge += p;
                if x < edge {
                    return f;
                }
            }
        }
        Fault::None
    }

    // ---- the outbox ------------------------------------------------------------------

    /// A producer's committed insert.
    pub fn insert_outbox(&mut self, row: OutboxRow, unreadable: Option<String>) {
        let created_at = self.now;
        self.log(format!("outbox insert {}", row.id));
        self.outbox.push(OutboxEntry {
            row,
            unreadable,
            created_at,
            status: RowStatus::Pending,
            lock: None,
            stream_id: None,
            relayed_at: None,
            settlements: 0,
            republished: 0,
        });
    }

    fn lock_free(&self, lock: Option<(u64, DateTime<Utc>)>) -> bool {
        match lock {
            None => true,
            Some((tx, until)) => !self.live_txs.contains(&tx) || until < self.now,
        }
    }

    /// `SELECT ... WHERE status = 'pending' ORDER BY created_at, id LIMIT n FOR UPDATE SKIP
    /// LOCKED`: locks up to `limit` rows under a new transaction with a lease.
    pub fn claim(&mut self, limit: usize) -> Option<(u64, Vec<ClaimedRow>)> {
        // A transaction whose lease ran out was aborted by the server: its locks are gone.
        let now = self.now;
        let expired: Vec<u64> = self
            .outbox
            .iter()
            .filter_map(|e| e.lock)
            .filter(|(_, until)| *until < now)
            .map(|(tx, _)| tx)
            .collect();
        for tx in expired {
            self.live_txs.remove(&tx);
        }
        let mut order: Vec<usize> = (0..self.outbox.len())
            .filter(|&i| self.outbox[i].status == RowStatus::Pending)
            .filter(|&i| self.lock_free(self.outbox[i].lock))
            .collect();
        order.sort_by_key(|&i| (self.outbox[i].created_at, self.outbox[i].row.id));
        order.truncate(limit);
        if order.is_empty() {
            return None;
        }
        self.next_tx += 1;
        let tx = self.next_tx;
        self.live_txs.insert(tx);
        let until =
            now + chrono::Duration::from_std(self.config.lease).unwrap_or(chrono::Duration::zero());
        let mut rows = Vec::new();
        for i in order {
            let e = &mut self.outbox[i];
            e.lock = Some((tx, until));
            rows.push(match &e.unreadable {
                None => Ok(e.row.clone()),
                Some(detail) => Err(UnreadableRow {
                    id: e.row.id,
                    detail: detail.clone(),
                }),
            });
        }
        Some((tx, rows))
    }

    /// Rolls a claim back: its locks go, nothing is recorded.
    pub fn release(&mut self, tx: u64) {
        self.live_txs.remove(&tx);
        for e in &mut self.outbox {
            if e.lock.is_some_and(|(t, _)| t == tx) {
                e.lock = None;
            }
        }
    }

    /// Commits a claim's settlement: rows relayed, rows dead with their letters.
    pub fn commit_relay(&mut self, tx: u64, s: &Settlement) -> Result<(), PortError> {
        let ids: Vec<Uuid> = s
            .relayed
            .iter()
            .map(|(id, _)| *id)
            .chain(s.rejected.iter().map(|r| r.id))
            .collect();
        let now = self.now;
        let held = self.live_txs.contains(&tx)
            && ids.iter().all(|id| {
                self.outbox
                    .iter()
                    .find(|e| e.row.id == *id)
                    .and_then(|e| e.lock)
                    .is_some_and(|(t, until)| t == tx && until >= now)
            });
        #[cfg(feature = "sim-mutants")]
        let held = held || crate::mutants::active(crate::mutants::Mutant::LostLeaseCheck);
        if !held {
            self.release(tx);
            return Err(PortError::transient(
                "postgres",
                "terminating connection due to idle-in-transaction timeout",
            ));
        }
        for (id, stream_id) in &s.relayed {
            if let Some(e) = self.outbox.iter_mut().find(|e| e.row.id == *id) {
                e.status = RowStatus::Relayed;
                e.stream_id = Some(stream_id.clone());
                e.relayed_at = Some(now);
                e.settlements += 1;
            }
        }
        let mut letters = Vec::new();
        for r in &s.rejected {
            if let Some(e) = self.outbox.iter_mut().find(|e| e.row.id == r.id) {
                e.status = RowStatus::Dead;
                e.settlements += 1;
            }
            letters.push(r.dead_letter.clone());
        }
        for id in &ids {
            if let Some(e) = self.outbox.iter().find(|e| e.row.id == *id) {
                if e.settlements > 1 {
                    let v = format!("outbox row {id} settled by {} claims", e.settlements);
                    self.violations.push(v);
                }
            }
        }
        self.insert_letters(&letters)?;
        self.release(tx);
        self.log(format!(
            "outbox commit tx{tx} relayed={} dead={}",
            s.relayed.len(),
            s.rejected.len()
        ));
        Ok(())
    }

    // ---- the stream ------------------------------------------------------------------

    fn next_sid(&mut self) -> Sid {
        let ms = u64::try_from(self.ms()).unwrap_or(0);
        self.stream.last = if ms > self.stream.last.0 {
            (ms, 0)
        } else {
            (self.stream.last.0, self.stream.last.1 + 1)
        };
        self.stream.last
    }

    /// XADD (creates the stream, never the group).
    pub fn xadd(&mut self, fields: Fields) -> String {
        self.stream.exists = true;
        let sid = self.next_sid();
        self.stream.entries.insert(sid, fields);
        sid_text(sid)
    }

    /// XGROUP CREATE ... 0 MKSTREAM, when missing.
    pub fn ensure_group(&mut self) {
        self.stream.exists = true;
        if self.stream.group.is_none() {
            self.stream.group = Some(Group::default());
            self.log("group created");
        }
    }

    /// Broker data loss: the stream and its group are gone.
    pub fn flush(&mut self) {
        let lost: Vec<String> = self.unacked_ids();
        self.stream.lost.extend(lost);
        self.stream.entries.clear();
        self.stream.group = None;
        self.stream.exists = false;
        self.stream.flushes += 1;
        self.log("redis flushed");
        self.count("broker flushes");
    }

    /// The oldest half of the entries is trimmed (whether pending or not, like MAXLEN).
    pub fn trim(&mut self) {
        let n = self.stream.entries.len() / 2;
        let gone: Vec<Sid> = self.stream.entries.keys().take(n).copied().collect();
        for sid in &gone {
            self.stream.entries.remove(sid);
            let acked = self
                .stream
                .group
                .as_ref()
                .is_some_and(|g| *sid <= g.last_delivered && !g.pel.contains_key(sid));
            if !acked {
                self.stream.lost.insert(sid_text(*sid));
            }
        }
        self.log(format!("stream trimmed {n}"));
        self.count("broker trims");
    }

    /// A failover to a replica that lagged: the newest entries never made it, and neither did
    /// the group's latest deliveries and acknowledgements of them.
    pub fn failover(&mut self) {
        let n = self.stream.entries.len().div_ceil(3);
        let gone: Vec<Sid> = self.stream.entries.keys().rev().take(n).copied().collect();
        for sid in &gone {
            self.stream.entries.remove(sid);
            self.stream.lost.insert(sid_text(*sid));
        }
        if let Some(g) = self.stream.group.as_mut() {
            for sid in &gone {
                g.pel.remove(sid);
            }
            if let Some(first) = gone.last() {
                if g.last_delivered >= *first {
                    g.last_delivered = self
                        .stream
                        .entries
                        .range(..*first)
                        .next_back()
                        .map_or((0, 0), |(s, _)| *s);
                }
            }
        }
        self.log(format!("redis failover lost {n}"));
        self.count("broker failovers");
    }

    fn unacked_ids(&self) -> Vec<String> {
        let g = self.stream.group.clone().unwrap_or_default();
        self.stream
            .entries
            .keys()
            .filter(|sid| **sid > g.last_delivered || g.pel.contains_key(sid))
            .map(|s| sid_text(*s))
            .collect()
    }

    /// Entries never delivered to the group, or still pending: work outstanding in Redis.
    pub fn stream_outstanding(&self) -> usize {
        match &self.stream.group {
            None => self.stream.entries.len(),
            Some(g) => {
                self.stream
                    .entries
                    .keys()
                    .filter(|s| **s > g.last_delivered)
                    .count()
                    + g.pel.len()
            }
        }
    }

    fn entry(&self, sid: Sid) -> Option<RawEntry> {
        self.stream.entries.get(&sid).map(|f| RawEntry {
            id: sid_text(sid),
            fields: f.clone(),
        })
    }

    /// XREADGROUP ... `>`: recreates the group on NOGROUP, as the adapter does.
    pub fn read_new(&mut self, consumer: &str, holder: Holder, count: usize) -> Vec<RawEntry> {
        if self.stream.group.is_none() {
            self.log("NOGROUP on read");
            self.count("NOGROUP answers");
            self.ensure_group();
        }
        let now = self.now;
        let from = self.stream.group.as_ref().map(|g| g.last_delivered);
        let sids: Vec<Sid> = self
            .stream
            .entries
            .keys()
            .filter(|s| from.is_some_and(|f| **s > f))
            .take(count)
            .copied()
            .collect();
        let mut out = Vec::new();
        for sid in sids {
            if let Some(g) = self.stream.group.as_mut() {
                g.last_delivered = sid;
                g.pel.insert(
                    sid,
                    PendingEntry {
                        consumer: consumer.to_owned(),
                        holder,
                        since: now,
                        deliveries: 1,
                    },
                );
            }
            *self.stream.delivered.entry(sid_text(sid)).or_default() += 1;
            out.extend(self.entry(sid));
        }
        out
    }

    /// XPENDING IDLE + XCLAIM: entries idle long enough move to `consumer`, each counting one
    /// more delivery; entries no longer in the stream are acknowledged away.
    pub fn claim_idle(
        &mut self,
        consumer: &str,
        holder: Holder,
        min_idle: Duration,
        count: usize,
    ) -> Vec<crate::ports::Redelivered> {
        if self.stream.group.is_none() {
            self.log("NOGROUP on claim");
            self.count("NOGROUP answers");
            self.ensure_group();
        }
        let now = self.now;
        let idle = chrono::Duration::from_std(min_idle).unwrap_or(chrono::Duration::zero());
        let due: Vec<Sid> = self
            .stream
            .group
            .as_ref()
            .map(|g| {
                g.pel
                    .iter()
                    .filter(|(_, p)| now.signed_duration_since(p.since) >= idle)
                    .take(count)
                    .map(|(s, _)| *s)
                    .collect()
            })
            .unwrap_or_default();
        let mut out = Vec::new();
        for sid in due {
            let Some(entry) = self.entry(sid) else {
                if let Some(g) = self.stream.group.as_mut() {
                    g.pel.remove(&sid);
                }
                continue;
            };
            let Some(p) = self.stream.group.as_mut().and_then(|g| g.pel.get_mut(&sid)) else {
                continue;
            };
            p.consumer = consumer.to_owned();
            p.holder = holder;
            p.since = now;
            #[cfg(feature = "sim-mutants")]
            let count_it =
                !crate::mutants::active(crate::mutants::Mutant::ReclaimSkipsDeliveryCount);
            #[cfg(not(feature = "sim-mutants"))]
            let count_it = true;
            if count_it {
                p.deliveries += 1;
            }
            let deliveries = p.deliveries;
            *self.stream.delivered.entry(sid_text(sid)).or_default() += 1;
            out.push(crate::ports::Redelivered { entry, deliveries });
        }
        out
    }

    /// XACK (recreating the group on NOGROUP, as the adapter does).
    pub fn ack(&mut self, ids: &[String]) {
        if self.stream.group.is_none() {
            self.ensure_group();
        }
        if let Some(g) = self.stream.group.as_mut() {
            for id in ids {
                if let Some(sid) = parse_sid(id) {
                    g.pel.remove(&sid);
                }
            }
        }
    }

    /// `XRANGE id id` per id: the entry the stream holds under it.
    pub fn fetch(&self, ids: &[String]) -> Vec<Option<RawEntry>> {
        ids.iter()
            .map(|id| {
                let fields = parse_sid(id).and_then(|s| self.stream.entries.get(&s))?;
                Some(RawEntry {
                    id: id.clone(),
                    fields: fields.clone(),
                })
            })
            .collect()
    }

    /// `XDEL`: the entries go; as in Redis, a pending entry stays in the group's PEL.
    pub fn delete(&mut self, ids: &[String]) -> u64 {
        let mut n = 0;
        for s in ids.iter().filter_map(|id| parse_sid(id)) {
            n += u64::from(self.stream.entries.remove(&s).is_some());
        }
        n
    }

    pub fn missing(&self, ids: &[String]) -> Vec<bool> {
        ids.iter()
            .map(|id| parse_sid(id).is_none_or(|s| !self.stream.entries.contains_key(&s)))
            .collect()
    }

    // ---- effects ---------------------------------------------------------------------

    /// `INSERT INTO dead_letters ... ON CONFLICT (source, source_ref) DO UPDATE`, with the
    /// primary key on `id` as well: a letter whose id is taken by another source is refused.
    pub fn insert_letters(&mut self, letters: &[DeadLetter]) -> Result<(), PortError> {
        for d in letters {
            let key = (d.source.as_str(), d.source_ref.clone());
            let taken = self
                .effects
                .letters
                .iter()
                .any(|(k, l)| l.id == d.id && *k != key);
            if taken {
                return Err(PortError::permanent(
                    "postgres",
                    "duplicate key value violates unique constraint \"dead_letters_pkey\"",
                ));
            }
        }
        for d in letters {
            let key = (d.source.as_str(), d.source_ref.clone());
            match self.effects.letters.get_mut(&key) {
                Some(l) => l.delivery_count = l.delivery_count.max(d.delivery_count),
                None => {
                    self.effects.letters.insert(key, d.clone());
                }
            }
        }
        Ok(())
    }

    /// The worker's transaction, as `src/postgres/effects.rs` runs it: record the events,
    /// read what [`settle`] needs, settle, write everything or nothing.
    pub fn apply_batch(
        &mut self,
        batch: &EffectBatch,
        holder: Holder,
    ) -> Result<ApplyOutcome, PortError> {
        let messages = &batch.messages;
        let outcome = self.apply_effects(batch)?;
        // A delivery past the limit, still held by this worker, committed as a message: the
        // worker was told a wrong delivery count (or ignored it).
        for entry in messages.iter().filter_map(|m| m.stream_entry_id.as_deref()) {
            let held = parse_sid(entry)
                .and_then(|sid| self.stream.group.as_ref()?.pel.get(&sid))
                .is_some_and(|p| p.holder == holder);
            let n = self.stream.delivered.get(entry).copied().unwrap_or(0);
            if held && n > self.config.max_deliveries {
                let limit = self.config.max_deliveries;
                let v =
                    format!("entry {entry} committed as a message on delivery {n} (limit {limit})");
                self.violations.push(v);
            }
        }
        Ok(outcome)
    }

    fn apply_effects(&mut self, batch: &EffectBatch) -> Result<ApplyOutcome, PortError> {
        let messages = &batch.messages;
        if let Some(m) = messages.iter().find(|m| {
            self.effects
                .refused_users
                .contains(m.event.user_id.as_str())
        }) {
            return Err(PortError::permanent(
                "postgres",
                format!(
                    "new row for relation \"messages\" violates check constraint (message {})",
                    m.event.message_id
                ),
            ));
        }
        if let Some(m) = messages
            .iter()
            .find(|m| self.effects.flaky_users.contains(m.event.user_id.as_str()))
        {
            return Err(PortError::transient(
                "postgres",
                format!(
                    "could not serialize access due to concurrent update (message {})",
                    m.event.message_id
                ),
            ));
        }
        // `INSERT INTO processed_events ... ON CONFLICT DO NOTHING RETURNING event_id`: the
        // first copy of each event not recorded before (written only if the batch commits).
        let mut fresh = std::collections::HashSet::new();
        let mut recorded = Vec::new();
        for m in messages {
            let id = m.event.event_id.0;
            if !self.effects.processed.contains_key(&id) && fresh.insert(id) {
                recorded.push((id, m.digest));
            }
        }
        let stored: std::collections::HashMap<Uuid, StoredMessage> = messages
            .iter()
            .filter_map(|m| {
                let id = m.event.message_id.0;
                self.effects.messages.get(&id).map(|(s, _)| (id, s.clone()))
            })
            .collect();
        #[cfg(feature = "sim-mutants")]
        let (fresh, stored) =
            if crate::mutants::active(crate::mutants::Mutant::MissingIdempotencyCheck) {
                let all = messages.iter().map(|m| m.event.event_id.0).collect();
                (all, std::collections::HashMap::new())
            } else {
                (fresh, stored)
            };
        let watermarks = messages
            .iter()
            .filter_map(|m| {
                let c = m.event.chat_id.0;
                self.effects.watermarks.get(&c).map(|w| (c, *w))
            })
            .collect();
        let read = Settle {
            fresh,
            forgotten_users: Default::default(),
            forgotten_messages: Default::default(),
            stored,
            watermarks,
        };
        let now = self.now;
        let settled = settle(messages, &read, crate::worker::NAME, now);
        let mut outcome = ApplyOutcome {
            applied: settled.owed.len(),
            duplicates: settled.duplicates,
            dead_lettered: batch.dead_letters.clone(),
            // The workload forgets no one, so no event is dropped for a tombstone.
            forgotten_entries: Vec::new(),
        };
        outcome
            .dead_lettered
            .extend(settled.dead_letters.iter().cloned());
        for m in messages
            .iter()
            .filter(|m| !read.fresh.contains(&m.event.event_id.0))
        {
            if self.effects.processed.get(&m.event.event_id.0) == Some(&m.digest) {
                outcome.duplicates += 1;
            } else {
                outcome
                    .dead_lettered
                    .push(event_id_conflict(m, crate::worker::NAME, now));
            }
        }
        // Letters first: a refused letter refuses the whole transaction.
        self.insert_letters(&outcome.dead_lettered)?;
        self.effects.processed.extend(recorded);
        self.write_owed(&settled.owed, &settled.statements, &settled.titles);
        for (chat, w) in &settled.watermarks {
            self.effects.watermarks.insert(*chat, *w);
        }
        if let Some(marker) = batch.inflight {
            self.ledger.batches.remove(&marker);
        }
        Ok(outcome)
    }

    fn write_owed(
        &mut self,
        owed: &[&PlannedMessage],
        statements: &Changes,
        titles: &BTreeMap<Uuid, &PlannedMessage>,
    ) {
        for m in owed {
            let e = &m.event;
            let stored = StoredMessage {
                chat_id: e.chat_id.0,
                user_id: e.user_id.as_str().to_owned(),
                role: e.role.as_str().to_owned(),
                content: e.content.as_str().to_owned(),
                created_at: e.created_at,
                processed: true,
                processed_by: Some(e.event_id.0),
            };
            self.effects.messages.insert(e.message_id.0, (stored, true));
            *self.effects.applied.entry(e.message_id.0).or_default() += 1;
        }
        if !statements.added.is_empty() {
            self.effects.memory.apply(statements);
        }
        for (chat, m) in titles {
            let Some(title) = m.title_candidate.clone() else {
                continue;
            };
            let key = (m.event.created_at, m.event.message_id.0);
            let better = self
                .effects
                .titles
                .get(chat)
                .is_none_or(|(at, id, _)| key < (*at, *id));
            if better {
                self.effects.titles.insert(*chat, (key.0, key.1, title));
            }
        }
    }

    /// The watermark folder's transaction: messages processed but not folded yet.
    pub fn fold_pending(&mut self, limit: usize) -> crate::ports::FoldOutcome {
        let ids: Vec<Uuid> = self
            .effects
            .messages
            .iter()
            .filter(|(_, (m, folded))| m.processed && !folded)
            .map(|(id, _)| *id)
            .take(limit)
            .collect();
        let mut chats = BTreeSet::new();
        for id in &ids {
            if let Some((m, folded)) = self.effects.messages.get_mut(id) {
                *folded = true;
                chats.insert(m.chat_id);
                let w = self
                    .effects
                    .watermarks
                    .entry(m.chat_id)
                    .or_insert((0, Checksum::ZERO));
                w.0 += 1;
                w.1 = w.1.fold([crate::domain::MessageId(*id)]);
            }
        }
        crate::ports::FoldOutcome {
            messages: ids.len(),
            chats: chats.len(),
        }
    }

    // ---- the in-flight ledger ----------------------------------------------------------

    fn owner_alive(&self, owner: Uuid) -> bool {
        self.procs.iter().any(|p| p.alive && p.owner == owner)
    }

    pub fn mark_batch(&mut self, owner: Uuid, marker: Uuid, ids: &[String]) {
        self.ledger
            .batches
            .entry(marker)
            .or_insert_with(|| (owner, ids.to_vec()));
    }

    pub fn mark_in_flight(&mut self, owner: Uuid, ids: &[String]) -> Vec<u32> {
        let wanted: BTreeSet<&String> = ids.iter().collect();
        let spread: Vec<Uuid> = self
            .ledger
            .batches
            .iter()
            .filter(|(_, (_, e))| e.iter().any(|i| wanted.contains(i)))
            .map(|(m, _)| *m)
            .collect();
        for m in spread {
            if let Some((o, entries)) = self.ledger.batches.remove(&m) {
                for e in entries {
                    self.ledger.entries.entry(e).or_insert((o, 0));
                }
            }
        }
        let mut unique: Vec<&String> = wanted.into_iter().collect();
        unique.sort();
        for id in unique {
            let gone = self
                .ledger
                .entries
                .get(id)
                .map(|(o, _)| *o)
                .filter(|o| *o != owner && !o.is_nil() && !self.owner_alive(*o));
            let e = self.ledger.entries.entry(id.clone()).or_insert((owner, 0));
            if gone.is_some() {
                e.1 += 1;
            }
            e.0 = owner;
        }
        ids.iter()
            .map(|id| self.ledger.entries.get(id).map_or(0, |(_, c)| *c))
            .collect()
    }

    pub fn park(&mut self, ids: &[String]) {
        for id in ids {
            if let Some(e) = self.ledger.entries.get_mut(id) {
                e.0 = Uuid::nil();
            }
        }
    }

    pub fn clear_in_flight(&mut self, ids: &[String]) {
        for id in ids {
            self.ledger.entries.remove(id);
        }
    }

    // ---- the reconciler's outbox queries -------------------------------------------------

    pub fn confirmed(&self, id: Uuid) -> bool {
        let text = id.to_string();
        self.effects.processed.contains_key(&id)
            || self
                .effects
                .letters
                .values()
                .any(|l| l.event_id.as_deref() == Some(text.as_str()))
    }

    pub fn relayed_since_cursor(
        &mut self,
        after: Duration,
        limit: usize,
    ) -> Vec<crate::ports::RelayedRow> {
        let before =
            self.now - chrono::Duration::from_std(after).unwrap_or(chrono::Duration::zero());
        let mut rows: Vec<crate::ports::RelayedRow> = self
            .outbox
            .iter()
            .filter(|e| e.status == RowStatus::Relayed && e.unreadable.is_none())
            .filter_map(|e| {
                let at = e.relayed_at?;
                let position = crate::ports::ReconcilePosition {
                    relayed_at: at,
                    id: e.row.id,
                };
                (at < before && self.cursor.is_none_or(|c| position > c)).then(|| {
                    crate::ports::RelayedRow {
                        row: e.row.clone(),
                        stream_id: e.stream_id.clone().unwrap_or_default(),
                        position,
                        confirmed: self.confirmed(e.row.id),
                    }
                })
            })
            .collect();
        rows.sort_by_key(|r| r.position);
        rows.truncate(limit);
        rows
    }

    pub fn mark_republished(&mut self, marks: &[(Uuid, String)]) {
        let now = self.now;
        for (id, sid) in marks {
            if let Some(e) = self
                .outbox
                .iter_mut()
                .find(|e| e.row.id == *id && e.status == RowStatus::Relayed)
            {
                e.stream_id = Some(sid.clone());
                e.relayed_at = Some(now);
                e.republished += 1;
            }
        }
    }

    pub fn advance_cursor(&mut self, to: crate::ports::ReconcilePosition) {
        if self.cursor.is_none_or(|c| to > c) {
            self.cursor = Some(to);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::ReconcilePosition;

    fn world() -> World {
        let now = DateTime::from_timestamp(1_769_067_000, 0).unwrap_or_default();
        let mut w = World::new(1, FaultRates::default(), WorldConfig::default(), now);
        w.procs = (0..2)
            .map(|i| Proc {
                alive: true,
                incarnation: 1,
                owner: Uuid::from_u128(100 + i as u128),
                consumer: format!("c{i}"),
            })
            .collect();
        w
    }

    fn row(n: u128) -> OutboxRow {
        OutboxRow {
            id: Uuid::from_u128(n),
            aggregate_id: String::new(),
            event_type: "message.created".into(),
            payload: "{}".into(),
        }
    }

    fn later(w: &mut World, ms: i64) {
        w.now += chrono::Duration::milliseconds(ms);
    }

    fn relayed(ids: &[u128]) -> Settlement {
        Settlement {
            relayed: ids
                .iter()
                .map(|n| (Uuid::from_u128(*n), format!("{n}-0")))
                .collect(),
            ..Settlement::default()
        }
    }

    #[test]
    fn claims_skip_locked_rows_until_the_lease_ends() {
        let mut w = world();
        for n in 1..=3 {
            w.insert_outbox(row(n), None);
            later(&mut w, 1);
        }
        let (a, rows) = w.claim(2).unwrap_or_default();
        assert_eq!(rows.len(), 2);
        // The third row only: the first two are locked.
        let (b, rows) = w.claim(5).unwrap_or_default();
        assert_eq!(rows.len(), 1);
        assert!(w.claim(5).is_none());
        w.release(b);
        // Past the lease, the first claim's rows are free, and its commit is refused.
        later(&mut w, 3_001);
        let (c, rows) = w.claim(5).unwrap_or_default();
        assert_eq!(rows.len(), 3);
        assert!(w.commit_relay(a, &relayed(&[1, 2])).is_err());
        assert!(w.commit_relay(c, &relayed(&[1, 2, 3])).is_ok());
        assert!(w.outbox.iter().all(|e| e.status == RowStatus::Relayed));
        assert!(w.violations.is_empty());
    }

    #[test]
    fn the_group_counts_deliveries_and_comes_back_after_a_flush() {
        let mut w = world();
        w.ensure_group();
        let id = w.xadd(vec![(b"k".to_vec(), b"v".to_vec())]);
        assert_eq!(w.read_new("c0", (0, 1, "worker"), 10).len(), 1);
        assert!(w.read_new("c1", (1, 1, "worker"), 10).is_empty());
        // Not idle long enough yet.
        assert!(w
            .claim_idle("c1", (1, 1, "worker"), Duration::from_secs(2), 10)
            .is_empty());
        later(&mut w, 2_000);
        let got = w.claim_idle("c1", (1, 1, "worker"), Duration::from_secs(2), 10);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].deliveries, 2);
        w.ack(std::slice::from_ref(&id));
        assert_eq!(w.stream_outstanding(), 0);
        // A flush loses the stream and the group; the next read recreates the group.
        let lost = w.xadd(vec![(b"k".to_vec(), b"v".to_vec())]);
        w.flush();
        assert!(w.stream.lost.contains(&lost));
        assert_eq!(w.missing(&[lost]), vec![true]);
        let fresh = w.xadd(vec![(b"k".to_vec(), b"w".to_vec())]);
        let read = w.read_new("c0", (0, 1, "worker"), 10);
        assert_eq!(read.len(), 1);
        assert_eq!(read[0].id, fresh);
    }

    #[test]
    fn a_trimmed_pending_entry_is_acked_away_on_reclaim() {
        let mut w = world();
        w.ensure_group();
        w.xadd(vec![(b"k".to_vec(), b"v".to_vec())]);
        w.xadd(vec![(b"k".to_vec(), b"v".to_vec())]);
        assert_eq!(w.read_new("c0", (0, 1, "worker"), 10).len(), 2);
        w.trim();
        later(&mut w, 5_000);
        let got = w.claim_idle("c1", (1, 1, "worker"), Duration::from_secs(1), 10);
        assert_eq!(got.len(), 1);
        assert_eq!(w.stream.group.as_ref().map(|g| g.pel.len()), Some(1));
    }

    #[test]
    fn a_marker_of_a_dead_owner_counts_a_crash() {
        let mut w = world();
        let (a, b) = (w.procs[0].owner, w.procs[1].owner);
        let ids = vec!["1-0".to_owned(), "2-0".to_owned()];
        w.mark_batch(a, Uuid::from_u128(9), &ids);
        // Its owner still runs: taking the entries over is no death.
        assert_eq!(w.mark_in_flight(b, &ids[..1]), vec![0]);
        w.procs[1].alive = false;
        // The marker's owner (b) is gone now.
        assert_eq!(w.mark_in_flight(a, &ids[..1]), vec![1]);
        w.park(&ids[..1]);
        assert_eq!(w.mark_in_flight(b, &ids[..1]), vec![1]);
        w.clear_in_flight(&ids);
        assert!(w.ledger.entries.is_empty());
    }

    #[test]
    fn the_reconciler_sees_relayed_rows_in_order_past_its_cursor() {
        let mut w = world();
        for n in 1..=2 {
            w.insert_outbox(row(n), None);
        }
        let (tx, _) = w.claim(5).unwrap_or_default();
        assert!(w.commit_relay(tx, &relayed(&[1, 2])).is_ok());
        assert!(w
            .relayed_since_cursor(Duration::from_secs(2), 10)
            .is_empty());
        later(&mut w, 2_001);
        let rows = w.relayed_since_cursor(Duration::from_secs(2), 10);
        assert_eq!(rows.len(), 2);
        assert!(rows.iter().all(|r| !r.confirmed));
        w.advance_cursor(rows[0].position);
        w.advance_cursor(ReconcilePosition {
            relayed_at: rows[0].position.relayed_at - chrono::Duration::seconds(1),
            id: Uuid::nil(),
        });
        let rest = w.relayed_since_cursor(Duration::from_secs(2), 10);
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].row.id, Uuid::from_u128(2));
    }

    #[test]
    fn the_same_seed_draws_the_same_faults() {
        let rates = FaultRates {
            transient: 0.3,
            reply_lost: 0.3,
            ..FaultRates::default()
        };
        let draw = |seed| {
            let mut w = World::new(
                seed,
                rates.clone(),
                WorldConfig::default(),
                DateTime::UNIX_EPOCH,
            );
            w.faults_on = true;
            (0..64).map(|_| w.draw_fault(true)).collect::<Vec<_>>()
        };
        assert_eq!(draw(5), draw(5));
        assert_ne!(draw(5), draw(6));
        assert!(draw(5).contains(&Fault::ReplyLost));
    }
}

//! The engine's storage and broker ports over the simulated [`World`], as one process sees
//! them: every call first asks the fault schedule what happens to it (an error, a timeout, a
//! stall, a lost reply, the death of the process before or after the operation), and a
//! process that died never gets an answer again (its futures stay pending, like a killed
//! process's would: nothing after the await point runs).
//!
//! Never used by the daemon; never sleeps but through the injected [`Sleeper`] (the
//! simulator's paused clock).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Fault, World};
use crate::decode::RawEntry;
use crate::plan::EffectBatch;
use crate::ports::{
    ApplyOutcome, ClaimWork, Clock, EffectStore, FoldOutcome, InflightLedger, OutboxStore,
    OutgoingEntry, PortError, ReconcilePosition, ReconcileStore, Redelivered, RelayedRow,
    Settlement, StreamBus, WatermarkStore,
};

/// Waits on the simulator's clock.
pub type Sleeper = Arc<dyn Fn(Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// One process's handle on the world (and which actor uses it, for the trace).
#[derive(Clone)]
pub struct SimPorts {
    pub world: Arc<Mutex<World>>,
    pub slot: usize,
    pub incarnation: u32,
    pub role: &'static str,
    pub clock: Arc<dyn Clock>,
    pub sleep: Sleeper,
}

impl SimPorts {
    pub fn lock(&self) -> MutexGuard<'_, World> {
        let mut w = self.world.lock().unwrap_or_else(|p| p.into_inner());
        w.now = self.clock.now();
        w
    }

    fn alive(&self) -> bool {
        self.lock().alive(self.slot, self.incarnation)
    }

    /// The fault for this call; `None` when the process is dead.
    fn draw(&self, op: &str, mutation: bool) -> Option<Fault> {
        let mut w = self.lock();
        if !w.alive(self.slot, self.incarnation) {
            return None;
        }
        let fault = w.draw_fault(mutation);
        if fault != Fault::None {
            let line = format!(
                "p{}.{} {} {op} fault={fault:?}",
                self.slot, self.incarnation, self.role
            );
            w.log(line);
            w.count(match fault {
                Fault::Transient => "fault transient error",
                Fault::Timeout => "fault timeout",
                Fault::ReplyLost => "fault reply lost",
                Fault::DeathBefore => "fault death before the call",
                Fault::DeathAfter => "fault death after the call",
                Fault::Stall => "fault stall",
                Fault::None => "fault none",
            });
        }
        Some(fault)
    }

    /// Runs the operation; `None` when the process is dead.
    fn apply<T>(
        &self,
        op: &str,
        fault: Fault,
        f: impl FnOnce(&mut World) -> Result<T, PortError>,
    ) -> Option<Result<T, PortError>> {
        let mut w = self.lock();
        if !w.alive(self.slot, self.incarnation) {
            return None;
        }
        let r = f(&mut w);
        if fault == Fault::DeathAfter {
            w.kill(self.slot, op);
        }
        Some(r)
    }

    async fn dead<T>(&self) -> T {
        std::future::pending::<T>().await
    }

    /// Runs one port call under the fault schedule. `f` is the operation (one transaction,
    /// one Redis command); `mutation` says whether it changes anything (only then can its
    /// reply be lost after it happened).
    async fn call<T: Send>(
        &self,
        port: &'static str,
        op: &str,
        mutation: bool,
        f: impl FnOnce(&mut World) -> Result<T, PortError> + Send,
    ) -> Result<T, PortError> {
        let fault = self.draw(op, mutation);
        let Some(fault) = fault else {
            return self.dead().await;
        };
        let (stall, timeout) = {
            let mut w = self.lock();
            // A stall lasts a quarter to one and a quarter of the configured time: sometimes
            // within a lease, sometimes past it.
            let stall = if fault == Fault::Stall {
                let most = u64::try_from(w.config.stall.as_millis()).unwrap_or(0);
                w.config.stall / 4 + Duration::from_millis(w.rng.below(most))
            } else {
                Duration::ZERO
            };
            (stall, w.config.timeout)
        };
        match fault {
            Fault::Transient => {
                return Err(PortError::transient(
                    port,
                    format!("{op}: connection reset"),
                ))
            }
            Fault::Timeout => {
                (self.sleep)(timeout).await;
                if !self.alive() {
                    return self.dead().await;
                }
                return Err(PortError::transient(port, format!("{op}: timed out")));
            }
            Fault::DeathBefore => {
                self.lock().kill(self.slot, op);
                return self.dead().await;
            }
            Fault::Stall => {
                (self.sleep)(stall).await;
                if !self.alive() {
                    return self.dead().await;
                }
            }
            Fault::None | Fault::ReplyLost | Fault::DeathAfter => {}
        }
        let Some(result) = self.apply(op, fault, f) else {
            return self.dead().await;
        };
        match fault {
            Fault::DeathAfter => self.dead().await,
            Fault::ReplyLost => match result {
                Ok(_) => Err(PortError::transient(port, format!("{op}: reply lost"))),
                Err(e) => Err(e),
            },
            _ => result,
        }
    }

    /// Broker faults that are not about one call: data loss.
    fn broker_weather(w: &mut World) {
        if !w.faults_on {
            return;
        }
        let (flush, trim, failover) = (w.rates.flush, w.rates.trim, w.rates.failover);
        if w.rng.chance(flush) {
            w.flush();
        } else if w.rng.chance(trim) {
            w.trim();
        } else if w.rng.chance(failover) {
            w.failover();
        }
    }

    fn consumer(w: &World, slot: usize) -> String {
        w.procs
            .get(slot)
            .map(|p| p.consumer.clone())
            .unwrap_or_default()
    }
}

#[async_trait]
impl OutboxStore for SimPorts {
    async fn relay_batch<'a>(
        &'a self,
        limit: usize,
        work: ClaimWork<'a>,
    ) -> Result<Option<Settlement>, PortError> {
        let claimed = self
            .call("postgres", "outbox.claim", false, |w| Ok(w.claim(limit)))
            .await?;
        let Some((tx, rows)) = claimed else {
            return Ok(None);
        };
        {
            let line = format!(
                "p{}.{} relay claim tx{tx} rows={}",
                self.slot,
                self.incarnation,
                rows.len()
            );
            self.lock().log(line);
        }
        let settlement = match work(rows).await {
            Ok(s) => s,
            Err(e) => {
                self.lock().release(tx);
                return Err(e);
            }
        };
        let committed = self
            .call("postgres", "outbox.commit", true, |w| {
                w.commit_relay(tx, &settlement)
            })
            .await;
        if let Err(e) = committed {
            // Rolled back (a no-op when the commit happened and only its reply was lost).
            self.lock().release(tx);
            return Err(e);
        }
        Ok(Some(settlement))
    }
}

#[async_trait]
impl StreamBus for SimPorts {
    async fn publish(&self, entries: &[OutgoingEntry]) -> Result<Vec<String>, PortError> {
        let (slot, inc, role) = (self.slot, self.incarnation, self.role);
        self.call("redis", "xadd", true, |w| {
            Self::broker_weather(w);
            let mut ids = Vec::with_capacity(entries.len());
            for e in entries {
                let told = w
                    .reported_confirmed
                    .get(&(slot, inc))
                    .is_some_and(|c| c.contains(&e.outbox_id));
                if role == crate::reconciler::NAME && told {
                    let v = format!("reconciler republished confirmed row {}", e.outbox_id);
                    w.violations.push(v);
                }
                let fields = vec![
                    (b"event_id".to_vec(), e.event_id.as_bytes().to_vec()),
                    (b"event_type".to_vec(), e.event_type.as_bytes().to_vec()),
                    (b"payload".to_vec(), e.payload.as_bytes().to_vec()),
                ];
                let dup = w.faults_on && {
                    let p = w.rates.duplicate;
                    w.rng.chance(p)
                };
                let id = w.xadd(fields.clone());
                if dup {
                    let again = w.xadd(fields);
                    w.log(format!("xadd duplicated {again}"));
                    w.count("entries duplicated");
                }
                w.log(format!(
                    "p{slot}.{inc} {role} xadd {id} event={}",
                    e.event_id
                ));
                ids.push(id);
            }
            Ok(ids)
        })
        .await
    }

    async fn ensure_group(&self) -> Result<(), PortError> {
        self.call("redis", "xgroup.create", true, |w| {
            w.ensure_group();
            Ok(())
        })
        .await
    }

    async fn read_new(&self, count: usize, block: Duration) -> Result<Vec<RawEntry>, PortError> {
        let (slot, inc, role) = (self.slot, self.incarnation, self.role);
        let read = |w: &mut World| {
            Self::broker_weather(w);
            let consumer = Self::consumer(w, slot);
            let mut got = w.read_new(&consumer, (slot, inc, role), count);
            if w.faults_on && got.len() > 1 {
                let (reorder, dup) = (w.rates.reorder, w.rates.duplicate);
                if w.rng.chance(reorder) {
                    got.reverse();
                    w.log(format!("p{slot}.{inc} read reordered"));
                    w.count("deliveries reordered");
                }
                if w.rng.chance(dup) {
                    let i = w.rng.below(got.len() as u64) as usize;
                    let copy = got[i].clone();
                    got.push(copy);
                    w.log(format!("p{slot}.{inc} read duplicated"));
                    w.count("deliveries duplicated");
                }
            }
            if !got.is_empty() {
                let ids: Vec<&str> = got.iter().map(|e| e.id.as_str()).collect();
                w.log(format!("p{slot}.{inc} read {}", ids.join(",")));
            }
            Ok(got)
        };
        let got = self.call("redis", "xreadgroup", true, read).await?;
        if !got.is_empty() {
            return Ok(got);
        }
        // BLOCK: nothing new; wait, then look once more.
        (self.sleep)(block).await;
        self.call("redis", "xreadgroup", true, read).await
    }

    async fn claim_idle(
        &self,
        min_idle: Duration,
        count: usize,
    ) -> Result<Vec<Redelivered>, PortError> {
        let (slot, inc, role) = (self.slot, self.incarnation, self.role);
        self.call("redis", "xautoclaim", true, |w| {
            Self::broker_weather(w);
            let consumer = Self::consumer(w, slot);
            let got = w.claim_idle(&consumer, (slot, inc, role), min_idle, count);
            if !got.is_empty() {
                let ids: Vec<String> = got
                    .iter()
                    .map(|r| format!("{}x{}", r.entry.id, r.deliveries))
                    .collect();
                w.log(format!("p{slot}.{inc} reclaim {}", ids.join(",")));
                w.count("idle reclaims");
            }
            Ok(got)
        })
        .await
    }

    async fn ack(&self, ids: &[String]) -> Result<(), PortError> {
        let (slot, inc) = (self.slot, self.incarnation);
        self.call("redis", "xack", true, |w| {
            if w.faults_on && {
                let p = w.rates.lost_ack;
                w.rng.chance(p)
            } {
                w.log(format!("p{slot}.{inc} ack lost {}", ids.join(",")));
                w.count("acks lost");
                return Ok(());
            }
            w.ack(ids);
            w.log(format!("p{slot}.{inc} ack {}", ids.join(",")));
            Ok(())
        })
        .await
    }

    async fn missing(&self, ids: &[String]) -> Result<Vec<bool>, PortError> {
        self.call("redis", "xrange", false, |w| Ok(w.missing(ids)))
            .await
    }

    async fn fetch(&self, ids: &[String]) -> Result<Vec<Option<RawEntry>>, PortError> {
        self.call("redis", "xrange", false, |w| Ok(w.fetch(ids)))
            .await
    }

    async fn delete(&self, ids: &[String]) -> Result<u64, PortError> {
        self.call("redis", "xdel", true, |w| Ok(w.delete(ids)))
            .await
    }
}

#[async_trait]
impl InflightLedger for SimPorts {
    async fn mark_batch(&self, owner: Uuid, marker: Uuid, ids: &[String]) -> Result<(), PortError> {
        self.call("postgres", "inflight.mark_batch", true, |w| {
            w.mark_batch(owner, marker, ids);
            Ok(())
        })
        .await
    }

    async fn mark_in_flight(&self, owner: Uuid, ids: &[String]) -> Result<Vec<u32>, PortError> {
        self.call("postgres", "inflight.mark", true, |w| {
            let c = w.mark_in_flight(owner, ids);
            w.log(format!("inflight marked {} crashes={c:?}", ids.join(",")));
            Ok(c)
        })
        .await
    }

    async fn clear_in_flight(&self, ids: &[String]) -> Result<(), PortError> {
        self.call("postgres", "inflight.clear", true, |w| {
            w.clear_in_flight(ids);
            Ok(())
        })
        .await
    }

    async fn park(&self, ids: &[String]) -> Result<(), PortError> {
        self.call("postgres", "inflight.park", true, |w| {
            w.park(ids);
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl EffectStore for SimPorts {
    async fn apply_batch(&self, batch: &EffectBatch) -> Result<ApplyOutcome, PortError> {
        let (slot, inc, role) = (self.slot, self.incarnation, self.role);
        self.call("postgres", "effects.apply", true, |w| {
            let r = w.apply_batch(batch, (slot, inc, role));
            let line = match &r {
                Ok(o) => format!(
                    "p{slot}.{inc} apply msgs={} letters={} applied={} dups={}",
                    batch.messages.len(),
                    batch.dead_letters.len(),
                    o.applied,
                    o.duplicates
                ),
                Err(e) => format!("p{slot}.{inc} apply refused: {}", e.message),
            };
            w.log(line);
            r
        })
        .await
    }
}

#[async_trait]
impl WatermarkStore for SimPorts {
    async fn fold_pending(
        &self,
        limit: usize,
        _now: DateTime<Utc>,
    ) -> Result<FoldOutcome, PortError> {
        self.call("postgres", "watermarks.fold", true, |w| {
            Ok(w.fold_pending(limit))
        })
        .await
    }
}

#[async_trait]
impl ReconcileStore for SimPorts {
    async fn relayed_since_cursor(
        &self,
        after: Duration,
        limit: usize,
    ) -> Result<Vec<RelayedRow>, PortError> {
        let key = (self.slot, self.incarnation);
        self.call("postgres", "reconcile.read", false, |w| {
            let rows = w.relayed_since_cursor(after, limit);
            let confirmed = rows.iter().filter(|r| r.confirmed).map(|r| r.row.id);
            w.reported_confirmed.insert(key, confirmed.collect());
            Ok(rows)
        })
        .await
    }

    async fn mark_republished(&self, republished: &[(Uuid, String)]) -> Result<(), PortError> {
        self.call("postgres", "reconcile.mark", true, |w| {
            w.mark_republished(republished);
            w.log(format!("republished {}", republished.len()));
            w.count("reconciler republishes");
            Ok(())
        })
        .await
    }

    async fn advance_cursor(&self, to: ReconcilePosition) -> Result<(), PortError> {
        self.call("postgres", "reconcile.cursor", true, |w| {
            w.advance_cursor(to);
            Ok(())
        })
        .await
    }
}

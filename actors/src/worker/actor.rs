//! WorkerActor: messages and handlers only; the work is in [`super::run_round`].
//!
//! A round runs atomically (nothing else is handled meanwhile), so a `Ping` answered late
//! means a wedged round. After a round that caught a panic the actor stops itself and its
//! actix `Supervisor` restarts it after a backoff.

use actix::prelude::*;
use chrono::{DateTime, Utc};

use super::{run_round, Carry, RoundReport, WorkerDeps};
use crate::messages::{Drain, Ping, Round};
use crate::pace::{Pace, Pacer};

pub struct WorkerActor {
    deps: WorkerDeps,
    pacer: Pacer,
    restarts: u32,
    carry: Option<Carry>,
    last_reclaim: Option<DateTime<Utc>>,
    /// When the running round started (injected clock), for its duration metric.
    round_started: Option<DateTime<Utc>>,
    draining: bool,
}

impl WorkerActor {
    pub fn new(deps: WorkerDeps, pacer: Pacer, restarts: u32) -> WorkerActor {
        WorkerActor {
            deps,
            pacer,
            restarts,
            carry: None,
            last_reclaim: None,
            round_started: None,
            draining: false,
        }
    }

    fn reclaim_due(&mut self) -> bool {
        let now = self.deps.ambient.clock.now();
        let every = chrono::Duration::from_std(self.deps.config.reclaim_every)
            .unwrap_or(chrono::Duration::MAX);
        let due = self
            .last_reclaim
            .is_none_or(|last| now.signed_duration_since(last) >= every);
        if due {
            self.last_reclaim = Some(now);
        }
        due
    }

    fn after_round(&mut self, report: RoundReport, ctx: &mut Context<Self>) {
        let status = &self.deps.status;
        for d in &report.dead_letters {
            log::warn!(
                target: "memlink::worker",
                "event=dead_letter actor={} reason={} source={} source_ref={} event_id={:?} deliveries={} detail={:?}", self.deps.name,
                d.reason, d.source.as_str(), d.source_ref, d.event_id.as_deref().unwrap_or(""), d.delivery_count, d.detail
            );
            crate::observe::dead_letter(self.deps.name, d.reason);
        }
        match &report.pace {
            Pace::Failing(e) => {
                log::warn!(target: "memlink::worker", "event=worker_retry error={:?} attempt={}", e.message, self.pacer.failures() + 1);
                crate::observe::retry(self.deps.name);
                status.degraded(self.deps.name, &e.message);
            }
            _ => {
                if report.applied + report.duplicates + report.dead_letters.len() > 0 {
                    log::debug!(target: "memlink::worker", "event=batch_applied applied={} duplicates={} dead_letters={}",
                        report.applied, report.duplicates, report.dead_letters.len());
                }
                crate::observe::processed(
                    crate::domain::EventType::MessageCreated.as_str(),
                    report.applied,
                    report.duplicates,
                );
                // Each message applied was folded into its chat's watermark in the same commit.
                crate::observe::folded(report.applied);
                crate::observe::round(
                    self.deps.name,
                    report.applied + report.duplicates + report.dead_letters.len(),
                    self.round_started.take(),
                    self.deps.ambient.clock.now(),
                );
                status.progress(self.deps.name, self.deps.ambient.clock.now());
            }
        }
        self.carry = report.carry;
        if report.panicked {
            log::error!(target: "memlink::worker", "event=actor_panic actor={} action=restart", self.deps.name);
            status.restarted_after_quarantine(
                self.deps.name,
                "a message panicked the worker; it was dead-lettered",
            );
            ctx.stop();
            return;
        }
        let delay = self
            .pacer
            .next_delay(&report.pace, self.deps.ambient.entropy.unit());
        if !self.draining {
            ctx.notify_later(Round, delay);
        }
    }
}

impl Actor for WorkerActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let d = &self.deps;
        let delay = crate::lifecycle::announce_start(
            d.name,
            "memlink::worker",
            self.restarts,
            &self.pacer,
            &d.status,
            &d.ambient,
        );
        ctx.notify_later(Round, delay);
    }
}

impl Supervised for WorkerActor {
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        self.restarts = self.restarts.saturating_add(1);
        // The round that panicked was committed and acked; a carry left is entries still to
        // handle (isolated suspects), kept so the restarted worker goes on with them.
        self.last_reclaim = None;
    }
}

impl Handler<Round> for WorkerActor {
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, _: Round, _ctx: &mut Context<Self>) -> Self::Result {
        if self.draining {
            return AtomicResponse::new(Box::pin(fut::ready(())));
        }
        let deps = self.deps.clone();
        let carry = self.carry.take();
        let reclaim_due = carry.is_none() && self.reclaim_due();
        self.round_started = Some(self.deps.ambient.clock.now());
        AtomicResponse::new(Box::pin(
            async move { run_round(&deps, carry, reclaim_due).await }
                .into_actor(self)
                .map(|report, act, ctx| act.after_round(report, ctx)),
        ))
    }
}

impl Handler<Ping> for WorkerActor {
    type Result = ();
    fn handle(&mut self, _: Ping, _ctx: &mut Context<Self>) {}
}

impl Handler<Drain> for WorkerActor {
    type Result = ();
    fn handle(&mut self, _: Drain, _ctx: &mut Context<Self>) {
        // Rounds are atomic, so by the time this runs no round is in flight.
        self.draining = true;
        self.deps
            .status
            .set_state(self.deps.name, crate::status::ActorState::Stopped);
        log::info!(target: "memlink::worker", "event=actor_drained actor={}", self.deps.name);
    }
}

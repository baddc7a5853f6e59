//! RelayActor: messages and handlers only; the work is in [`super::run_round`].
//!
//! Woken by outbox NOTIFYs (through the root) and by a slow poll; wake-ups that arrive while
//! a round is queued are coalesced.

use actix::prelude::*;

use super::{run_round, RelayDeps, RelayReport, NAME};
use crate::messages::{Drain, Ping, Round, Wake};
use crate::pace::{Pace, Pacer};

pub struct RelayActor {
    deps: RelayDeps,
    pacer: Pacer,
    restarts: u32,
    /// The timer for the next round, while waiting for it. `None` means a round is running.
    next: Option<SpawnHandle>,
    /// A wake-up arrived while a round was running: go again at once.
    woken: bool,
    /// When the running round started (injected clock), for its duration metric.
    round_started: Option<chrono::DateTime<chrono::Utc>>,
    draining: bool,
}

impl RelayActor {
    pub fn new(deps: RelayDeps, pacer: Pacer, restarts: u32) -> RelayActor {
        RelayActor {
            deps,
            pacer,
            restarts,
            next: None,
            woken: false,
            round_started: None,
            draining: false,
        }
    }

    /// Keeps exactly one pending round: a new schedule replaces the old timer.
    fn schedule(&mut self, ctx: &mut Context<Self>, delay: std::time::Duration) {
        if let Some(h) = self.next.take() {
            ctx.cancel_future(h);
        }
        if !self.draining {
            self.next = Some(ctx.notify_later(Round, delay));
        }
    }

    fn after_round(&mut self, report: RelayReport, ctx: &mut Context<Self>) {
        let status = &self.deps.status;
        for r in &report.rejected {
            let d = &r.dead_letter;
            log::warn!(
                target: "memlink::relay",
                "event=dead_letter actor={NAME} reason={} source=outbox source_ref={} detail={:?}",
                d.reason, d.source_ref, d.detail
            );
            crate::observe::dead_letter(NAME, d.reason);
        }
        match &report.pace {
            Pace::Failing(e) => {
                log::warn!(target: "memlink::relay", "event=relay_retry error={:?} attempt={}", e.message, self.pacer.failures() + 1);
                crate::observe::retry(NAME);
                status.degraded(NAME, &e.message);
            }
            _ => {
                if report.relayed > 0 {
                    log::debug!(target: "memlink::relay", "event=relayed rows={}", report.relayed);
                }
                crate::observe::relayed(report.relayed);
                crate::observe::round(
                    NAME,
                    report.relayed + report.rejected.len(),
                    self.round_started.take(),
                    self.deps.ambient.clock.now(),
                );
                status.progress(NAME, self.deps.ambient.clock.now());
            }
        }
        if report.panicked {
            log::error!(target: "memlink::relay", "event=actor_panic actor={NAME} action=restart");
            status.restarted_after_quarantine(
                NAME,
                "an outbox row panicked the relay; it was dead-lettered",
            );
            ctx.stop();
            return;
        }
        let pace = match report.pace {
            Pace::Idle if std::mem::take(&mut self.woken) => Pace::Busy,
            other => other,
        };
        // Idle rounds rely on NOTIFY wake-ups; the poll is only the fallback.
        let delay = self
            .pacer
            .next_delay(&pace, self.deps.ambient.entropy.unit());
        self.schedule(ctx, delay);
    }
}

impl Actor for RelayActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let d = &self.deps;
        let delay = crate::lifecycle::announce_start(
            NAME,
            "memlink::relay",
            self.restarts,
            &self.pacer,
            &d.status,
            &d.ambient,
        );
        self.next = None;
        self.schedule(ctx, delay);
    }
}

impl Supervised for RelayActor {
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        self.restarts = self.restarts.saturating_add(1);
    }
}

impl Handler<Round> for RelayActor {
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, _: Round, _ctx: &mut Context<Self>) -> Self::Result {
        if self.draining {
            return AtomicResponse::new(Box::pin(fut::ready(())));
        }
        self.next = None;
        self.round_started = Some(self.deps.ambient.clock.now());
        let deps = self.deps.clone();
        AtomicResponse::new(Box::pin(
            async move { run_round(&deps).await }
                .into_actor(self)
                .map(|report, act, ctx| act.after_round(report, ctx)),
        ))
    }
}

impl Handler<Wake> for RelayActor {
    type Result = ();
    fn handle(&mut self, _: Wake, ctx: &mut Context<Self>) {
        if self.next.is_some() {
            self.schedule(ctx, std::time::Duration::ZERO);
        } else {
            self.woken = true;
        }
    }
}

impl Handler<Ping> for RelayActor {
    type Result = ();
    fn handle(&mut self, _: Ping, _ctx: &mut Context<Self>) {}
}

impl Handler<Drain> for RelayActor {
    type Result = ();
    fn handle(&mut self, _: Drain, ctx: &mut Context<Self>) {
        self.draining = true;
        if let Some(h) = self.next.take() {
            ctx.cancel_future(h);
        }
        self.deps
            .status
            .set_state(NAME, crate::status::ActorState::Stopped);
        log::info!(target: "memlink::relay", "event=actor_drained actor={NAME}");
    }
}

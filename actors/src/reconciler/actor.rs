//! ReconcilerActor: messages and handlers only; the work is in [`super::run_round`].

use actix::prelude::*;

use super::{run_round, ReconcileReport, ReconcilerDeps, NAME, REPUBLISHED};
use crate::messages::{Drain, Ping, Round};
use crate::pace::{Pace, Pacer};

pub struct ReconcilerActor {
    deps: ReconcilerDeps,
    pacer: Pacer,
    restarts: u32,
    draining: bool,
}

impl ReconcilerActor {
    pub fn new(deps: ReconcilerDeps, pacer: Pacer, restarts: u32) -> ReconcilerActor {
        ReconcilerActor {
            deps,
            pacer,
            restarts,
            draining: false,
        }
    }

    fn after_round(&mut self, report: ReconcileReport, ctx: &mut Context<Self>) {
        match &report.pace {
            Pace::Failing(e) => {
                log::warn!(target: "memlink::reconciler", "event=reconciler_retry error={:?} attempt={}", e.message, self.pacer.failures() + 1);
                self.deps.status.degraded(NAME, &e.message);
            }
            _ => {
                if report.republished > 0 {
                    log::warn!(target: "memlink::reconciler", "event=reconciled examined={} republished={}", report.examined, report.republished);
                    self.deps
                        .status
                        .bump(REPUBLISHED, report.republished as u64);
                }
                self.deps
                    .status
                    .progress(NAME, self.deps.ambient.clock.now());
            }
        }
        let delay = self
            .pacer
            .next_delay(&report.pace, self.deps.ambient.entropy.unit());
        if !self.draining {
            ctx.notify_later(Round, delay);
        }
    }
}

impl Actor for ReconcilerActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let d = &self.deps;
        let delay = crate::lifecycle::announce_start(
            NAME,
            "memlink::reconciler",
            self.restarts,
            &self.pacer,
            &d.status,
            &d.ambient,
        );
        // Nothing can be older than the threshold right after a start: the first pass waits.
        ctx.notify_later(Round, delay.max(d.config.every));
    }
}

impl Supervised for ReconcilerActor {
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        self.restarts = self.restarts.saturating_add(1);
    }
}

impl Handler<Round> for ReconcilerActor {
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, _: Round, _ctx: &mut Context<Self>) -> Self::Result {
        if self.draining {
            return AtomicResponse::new(Box::pin(fut::ready(())));
        }
        let deps = self.deps.clone();
        AtomicResponse::new(Box::pin(
            async move { run_round(&deps).await }
                .into_actor(self)
                .map(|report, act, ctx| act.after_round(report, ctx)),
        ))
    }
}

impl Handler<Ping> for ReconcilerActor {
    type Result = ();
    fn handle(&mut self, _: Ping, _ctx: &mut Context<Self>) {}
}

impl Handler<Drain> for ReconcilerActor {
    type Result = ();
    fn handle(&mut self, _: Drain, _ctx: &mut Context<Self>) {
        self.draining = true;
        self.deps
            .status
            .set_state(NAME, crate::status::ActorState::Stopped);
    }
}

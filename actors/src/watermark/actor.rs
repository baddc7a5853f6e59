//! WatermarkActor: messages and handlers only; the work is in [`super::run_round`].
//!
//! `Drain` runs one last fold so a graceful shutdown leaves watermarks current.

use actix::prelude::*;

use super::{run_round, WatermarkDeps, NAME};
use crate::messages::{Drain, Ping, Round};
use crate::pace::{Pace, Pacer};
use crate::ports::FoldOutcome;

pub struct WatermarkActor {
    deps: WatermarkDeps,
    pacer: Pacer,
    restarts: u32,
    /// When the running round started (injected clock), for its duration metric.
    round_started: Option<chrono::DateTime<chrono::Utc>>,
    draining: bool,
}

impl WatermarkActor {
    pub fn new(deps: WatermarkDeps, pacer: Pacer, restarts: u32) -> WatermarkActor {
        WatermarkActor {
            deps,
            pacer,
            restarts,
            round_started: None,
            draining: false,
        }
    }

    fn after_round(&mut self, pace: Pace, outcome: FoldOutcome, ctx: &mut Context<Self>) {
        match &pace {
            Pace::Failing(e) => {
                log::warn!(target: "memlink::watermark", "event=watermark_retry error={:?} attempt={}", e.message, self.pacer.failures() + 1);
                crate::observe::retry(NAME);
                self.deps.status.degraded(NAME, &e.message);
            }
            _ => {
                if outcome.messages > 0 {
                    log::debug!(target: "memlink::watermark", "event=watermarks_folded messages={} chats={}", outcome.messages, outcome.chats);
                }
                crate::observe::folded(outcome.messages);
                crate::observe::round(
                    NAME,
                    outcome.messages,
                    self.round_started.take(),
                    self.deps.ambient.clock.now(),
                );
                self.deps
                    .status
                    .progress(NAME, self.deps.ambient.clock.now());
            }
        }
        let delay = self
            .pacer
            .next_delay(&pace, self.deps.ambient.entropy.unit());
        if !self.draining {
            ctx.notify_later(Round, delay);
        }
    }
}

impl Actor for WatermarkActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let d = &self.deps;
        let delay = crate::lifecycle::announce_start(
            NAME,
            "memlink::watermark",
            self.restarts,
            &self.pacer,
            &d.status,
            &d.ambient,
        );
        ctx.notify_later(Round, delay);
    }
}

impl Supervised for WatermarkActor {
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        self.restarts = self.restarts.saturating_add(1);
    }
}

impl Handler<Round> for WatermarkActor {
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, _: Round, _ctx: &mut Context<Self>) -> Self::Result {
        if self.draining {
            return AtomicResponse::new(Box::pin(fut::ready(())));
        }
        self.round_started = Some(self.deps.ambient.clock.now());
        let deps = self.deps.clone();
        AtomicResponse::new(Box::pin(
            async move { run_round(&deps).await }
                .into_actor(self)
                .map(|(pace, outcome), act, ctx| act.after_round(pace, outcome, ctx)),
        ))
    }
}

impl Handler<Ping> for WatermarkActor {
    type Result = ();
    fn handle(&mut self, _: Ping, _ctx: &mut Context<Self>) {}
}

impl Handler<Drain> for WatermarkActor {
    type Result = AtomicResponse<Self, ()>;

    /// Folds until nothing is left (bounded), so a graceful stop leaves watermarks current.
    fn handle(&mut self, _: Drain, _ctx: &mut Context<Self>) -> Self::Result {
        self.draining = true;
        let deps = self.deps.clone();
        AtomicResponse::new(Box::pin(
            async move {
                let mut folded = 0;
                for _ in 0..100 {
                    let (pace, outcome) = run_round(&deps).await;
                    folded += outcome.messages;
                    if pace != Pace::Busy {
                        break;
                    }
                }
                folded
            }
            .into_actor(self)
            .map(|folded, act, _ctx| {
                act.deps
                    .status
                    .set_state(NAME, crate::status::ActorState::Stopped);
                log::info!(target: "memlink::watermark", "event=actor_drained actor={NAME} final_fold_messages={folded}");
            }),
        ))
    }
}

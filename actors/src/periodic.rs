//! The periodic actor: one actor type for the engine's housekeeping jobs that run a round now
//! and then (the reconciler, retention). It owns what they share: the first round's delay, the
//! pacing after each round (busy: again at once; idle: the job's interval; failing: backoff),
//! the status board, the retry metric, and the drain (finish the round, run the job's last
//! step, stop).
//!
//! It must never decide what a round does, nor log what a round found: that is the job's
//! ([`PeriodicJob`]).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use actix::prelude::*;

use crate::messages::{Drain, Ping, Round};
use crate::pace::{Pace, Pacer};
use crate::ports::{Ambient, PortError};
use crate::status::{ActorState, StatusBoard};

/// A future run on the actor's own thread.
pub type LocalFuture<T> = Pin<Box<dyn Future<Output = T>>>;

/// What a periodic actor runs.
pub trait PeriodicJob: Clone + Unpin + 'static {
    /// What a round did.
    type Report: 'static;
    /// The actor's name on the status board.
    const NAME: &'static str;
    /// Its log target (`memlink::<name>`).
    const TARGET: &'static str;

    fn status(&self) -> &StatusBoard;
    fn ambient(&self) -> &Ambient;
    /// The first round waits at least this long after a start (besides a restart's backoff).
    fn first_round_after(&self) -> Duration;
    /// One round: how to pace the next one, and what it did.
    fn round(&self) -> LocalFuture<(Pace, Self::Report)>;
    /// Logs and counts what a round did (called after every round, failed or not).
    fn record(&self, report: &Self::Report);
    /// Logs a failed round (the actor marks it degraded and backs off).
    fn failed(&self, error: &PortError, attempt: u32);
    /// The last step when the tree drains, after the round in progress; none by default.
    fn drain(&self) -> Option<LocalFuture<()>> {
        None
    }
}

pub struct PeriodicActor<J: PeriodicJob> {
    job: J,
    pacer: Pacer,
    restarts: u32,
    draining: bool,
}

impl<J: PeriodicJob> PeriodicActor<J> {
    pub fn new(job: J, pacer: Pacer, restarts: u32) -> PeriodicActor<J> {
        PeriodicActor {
            job,
            pacer,
            restarts,
            draining: false,
        }
    }

    fn after_round(&mut self, pace: Pace, report: J::Report, ctx: &mut Context<Self>) {
        self.job.record(&report);
        match &pace {
            Pace::Failing(e) => {
                self.job.failed(e, self.pacer.failures() + 1);
                crate::observe::retry(J::NAME);
                self.job.status().degraded(J::NAME, &e.message);
            }
            _ => {
                let now = self.job.ambient().clock.now();
                self.job.status().progress(J::NAME, now);
            }
        }
        let delay = self
            .pacer
            .next_delay(&pace, self.job.ambient().entropy.unit());
        if !self.draining {
            ctx.notify_later(Round, delay);
        }
    }
}

impl<J: PeriodicJob> Actor for PeriodicActor<J> {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let delay = crate::lifecycle::announce_start(
            J::NAME,
            J::TARGET,
            self.restarts,
            &self.pacer,
            self.job.status(),
            self.job.ambient(),
        );
        ctx.notify_later(Round, delay.max(self.job.first_round_after()));
    }
}

impl<J: PeriodicJob> Supervised for PeriodicActor<J> {
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        self.restarts = self.restarts.saturating_add(1);
    }
}

impl<J: PeriodicJob> Handler<Round> for PeriodicActor<J> {
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, _: Round, _ctx: &mut Context<Self>) -> Self::Result {
        if self.draining {
            return AtomicResponse::new(Box::pin(fut::ready(())));
        }
        let round = self.job.round();
        AtomicResponse::new(Box::pin(
            round
                .into_actor(self)
                .map(|(pace, report), act, ctx| act.after_round(pace, report, ctx)),
        ))
    }
}

impl<J: PeriodicJob> Handler<Ping> for PeriodicActor<J> {
    type Result = ();
    fn handle(&mut self, _: Ping, _ctx: &mut Context<Self>) {}
}

impl<J: PeriodicJob> Handler<Drain> for PeriodicActor<J> {
    type Result = ResponseActFuture<Self, ()>;

    /// Runs after the round in progress (rounds are atomic), then the job's last step.
    fn handle(&mut self, _: Drain, _ctx: &mut Context<Self>) -> Self::Result {
        self.draining = true;
        let last = self.job.drain();
        Box::pin(
            async move {
                if let Some(last) = last {
                    last.await;
                }
            }
            .into_actor(self)
            .map(|(), act, _ctx| {
                act.job.status().set_state(J::NAME, ActorState::Stopped);
            }),
        )
    }
}

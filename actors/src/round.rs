//! The round actor: the one actor type of every engine actor that works in rounds (the relay,
//! the workers, the watermark, the reconciler, retention). It owns what they all do the same
//! way:
//!
//! - **start**: the first round's delay (none on a first start, a backoff after a restart, at
//!   least the work's [`RoundWork::first_round_after`]), the status board's `running`,
//!   `event=actor_started` ([`crate::lifecycle::announce_start`]);
//! - **round**: one round at a time, atomically (nothing else is handled meanwhile, so a
//!   `Ping` answered late means a wedged round) unless the work runs its rounds beside the
//!   mailbox, timed with the injected clock;
//! - **pace**: busy rounds go again at once, idle ones after the work's interval (or sooner on
//!   a [`Wake`]: a wake-up while a round runs makes an idle round busy, one while waiting runs
//!   the next round at once), failing ones after a backoff; exactly one round is ever pending;
//! - **outcome**: a failed round is retried (`memlink_retries_total`, state `degraded`, the
//!   work's retry line); a good one marks progress and, for work that counts items, the batch
//!   metrics;
//! - **panic boundary**: a round that caught a panic (the work says so, having set the input
//!   aside) logs `event=actor_panic`, counts the restart and stops the actor, whose actix
//!   `Supervisor` restarts it after a backoff;
//! - **drain**: take no new round (the one in progress has finished: rounds are atomic), run
//!   the work's last step if it has one, mark it stopped, log `event=actor_drained`.
//!
//! What differs is the [`RoundWork`]: what a round does, what it logs and counts, what it
//! carries into the next round, its last step on drain. The actor must never decide what a
//! round does, nor log what a round found: that is the work's.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use actix::prelude::*;
use chrono::{DateTime, Utc};

use crate::messages::{Drain, Ping, Round, Wake};
use crate::pace::{Pace, Pacer};
use crate::ports::{Ambient, PortError};
use crate::status::{ActorState, StatusBoard};
use crate::supervisor::{ChildLink, ChildSpec};

/// A future run on the actor's own thread.
pub type LocalFuture<T> = Pin<Box<dyn Future<Output = T>>>;

/// How a round ended, as far as the actor is concerned.
#[derive(Debug, Clone, PartialEq)]
pub struct RoundEnd {
    /// When to run the next round.
    pub pace: Pace,
    /// Items the round handled, for the batch metrics (`memlink_batch_size`,
    /// `memlink_batch_duration_seconds`); `None` for work that keeps no such metric.
    pub items: Option<usize>,
    /// The round caught a panic: the actor restarts after it.
    pub panicked: Option<PanicRestart>,
}

impl RoundEnd {
    /// A round without batch metrics and without a panic.
    pub fn paced(pace: Pace) -> RoundEnd {
        RoundEnd {
            pace,
            items: None,
            panicked: None,
        }
    }
}

/// Why an actor restarts after a round that caught a panic (shown on the status board).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PanicRestart {
    pub note: &'static str,
    /// The input that panicked was dead-lettered: the next failure is about another input.
    pub quarantined: bool,
}

/// What a round actor runs.
pub trait RoundWork: Unpin + 'static {
    /// What a round did.
    type Report: 'static;
    /// Its log target (`memlink::<actor>`).
    const TARGET: &'static str;

    /// Who the work is and where it reports.
    fn identity(&self) -> RoundIdentity<'_>;
    /// The actor's name on the status board, in logs and metrics.
    fn name(&self) -> &'static str {
        self.identity().name
    }
    fn status(&self) -> &StatusBoard {
        self.identity().status
    }
    fn ambient(&self) -> &Ambient {
        self.identity().ambient
    }
    /// The first round waits at least this long after a start (besides a restart's backoff).
    fn first_round_after(&self) -> Duration {
        Duration::ZERO
    }
    /// One round. It takes what the previous round left for it (see [`RoundWork::record`]).
    fn round(&mut self) -> LocalFuture<Self::Report>;
    /// Logs and counts what a round did, keeps what the next round needs, and says how the
    /// round ended. Called after every round, failed or not, before the actor acts on it.
    fn record(&mut self, report: Self::Report) -> RoundEnd;
    /// Logs a failed round; `attempt` counts the consecutive failures, this one included.
    fn failed(&self, error: &PortError, attempt: u32);
    /// The actor is being restarted (after a panic): forget what must not outlive it.
    fn restarting(&mut self) {}
    /// The last step when the tree drains, after the round in progress (or beside it, see
    /// [`RoundWork::BESIDE_MAILBOX`]); it answers what the `actor_drained` line adds. None by
    /// default.
    fn drain(&mut self) -> Option<LocalFuture<Drained>> {
        None
    }

    /// Rounds run beside the mailbox instead of atomically: pings are answered while a round
    /// waits on a slow dependency (a model thinking), and a drain does not wait for the round
    /// in progress, so the work's last step must hand that round's work back.
    const BESIDE_MAILBOX: bool = false;
}

/// A round actor's name and the two things it reports through: the status board, and the
/// ambient ports (clock, ids, randomness) its rounds are paced by.
pub struct RoundIdentity<'a> {
    pub name: &'static str,
    pub status: &'a StatusBoard,
    pub ambient: &'a Ambient,
}

/// What a drain's last step adds to its `actor_drained` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drained {
    pub level: log::Level,
    /// ` key=value` each.
    pub fields: String,
}

impl Drained {
    pub fn info(fields: String) -> Drained {
        Drained {
            level: log::Level::Info,
            fields,
        }
    }

    /// The last step failed (the line says why).
    pub fn warn(fields: String) -> Drained {
        Drained {
            level: log::Level::Warn,
            fields,
        }
    }
}

/// Whether a child of the tree takes the daemon's wake-ups (the outbox's notifications) or
/// keeps to its own pace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wakes {
    OnNotify,
    Never,
}

/// A round actor's entry in the supervision tree: every start, the first and each restart,
/// builds a fresh actor from the same parts under actix's `Supervisor` (`restarts` tells it
/// how often it was restarted before). The one way a round actor joins the tree, so that the
/// simulator runs the tree the daemon runs.
pub fn child_spec<W, P>(name: &'static str, parts: P, pacer: Pacer, wakes: Wakes) -> ChildSpec
where
    W: RoundWork,
    P: Into<W> + Clone + 'static,
{
    ChildSpec {
        name,
        factory: Box::new(move |restarts| {
            let (parts, pacer) = (parts.clone(), pacer.clone());
            let addr = Supervisor::start(move |_| RoundActor::<W>::new(parts, pacer, restarts));
            ChildLink {
                name,
                ping: addr.clone().recipient(),
                drain: addr.clone().recipient(),
                wake: (wakes == Wakes::OnNotify).then(|| addr.recipient()),
            }
        }),
    }
}

pub struct RoundActor<W: RoundWork> {
    work: W,
    pacer: Pacer,
    restarts: u32,
    /// The timer of the next round, while waiting for it. `None` while a round runs.
    next: Option<SpawnHandle>,
    /// A wake-up arrived while a round was running: go again at once.
    woken: bool,
    /// When the running round started (injected clock), for its duration metric.
    round_started: Option<DateTime<Utc>>,
    /// A round runs (beside the mailbox: [`RoundWork::BESIDE_MAILBOX`]).
    busy: bool,
    draining: bool,
}

impl<W: RoundWork> RoundActor<W> {
    /// `work` is the work itself or what it is made of (e.g. its dependencies).
    pub fn new(work: impl Into<W>, pacer: Pacer, restarts: u32) -> RoundActor<W> {
        RoundActor {
            work: work.into(),
            pacer,
            restarts,
            next: None,
            woken: false,
            round_started: None,
            busy: false,
            draining: false,
        }
    }

    /// Keeps exactly one pending round: a new schedule replaces the old timer.
    ///
    /// A round due at once is spawned on the actor's own context, not put on a timer: a
    /// timer of zero fires on the runtime's next millisecond tick, and that millisecond,
    /// paid at every wake-up and every busy round, was most of a quiet pipeline's latency.
    fn schedule(&mut self, ctx: &mut Context<Self>, delay: Duration) {
        if let Some(h) = self.next.take() {
            ctx.cancel_future(h);
        }
        if self.draining {
            return;
        }
        self.next = Some(if delay.is_zero() {
            ctx.spawn(
                actix::fut::ready(())
                    .map(|(), act: &mut Self, ctx| Handler::<Round>::handle(act, Round, ctx)),
            )
        } else {
            ctx.notify_later(Round, delay)
        });
    }

    fn after_round(&mut self, report: W::Report, ctx: &mut Context<Self>) {
        self.busy = false;
        let name = self.work.name();
        let end = self.work.record(report);
        let status = self.work.status();
        // A round that ends after the drain (beside the mailbox) leaves the board at stopped.
        let mark = !self.draining;
        match &end.pace {
            Pace::Failing(e) => {
                self.work.failed(e, self.pacer.failures() + 1);
                crate::observe::retry(name);
                if mark {
                    status.degraded(name, &e.message);
                }
            }
            _ => {
                let now = self.work.ambient().clock.now();
                if let Some(items) = end.items {
                    crate::observe::round(name, items, self.round_started.take(), now);
                }
                if mark {
                    status.progress(name, now);
                }
            }
        }
        if let Some(panic) = end.panicked {
            log::error!(target: W::TARGET, "event=actor_panic actor={name} action=restart");
            if panic.quarantined {
                status.restarted_after_quarantine(name, panic.note);
            } else {
                status.restarted(name, panic.note);
            }
            ctx.stop();
            return;
        }
        let pace = match end.pace {
            Pace::Idle if std::mem::take(&mut self.woken) => Pace::Busy,
            other => other,
        };
        let delay = self
            .pacer
            .next_delay(&pace, self.work.ambient().entropy.unit());
        self.schedule(ctx, delay);
    }
}

impl<W: RoundWork> Actor for RoundActor<W> {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let delay = crate::lifecycle::announce_start(
            self.work.name(),
            W::TARGET,
            self.restarts,
            &self.pacer,
            self.work.status(),
            self.work.ambient(),
        );
        self.next = None;
        self.schedule(ctx, delay.max(self.work.first_round_after()));
    }
}

impl<W: RoundWork> Supervised for RoundActor<W> {
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        self.restarts = self.restarts.saturating_add(1);
        self.busy = false;
        self.work.restarting();
    }
}

impl<W: RoundWork> Handler<Round> for RoundActor<W> {
    type Result = ();

    fn handle(&mut self, _: Round, ctx: &mut Context<Self>) {
        if self.draining || self.busy {
            return;
        }
        self.next = None;
        self.busy = true;
        self.round_started = Some(self.work.ambient().clock.now());
        let round = self
            .work
            .round()
            .into_actor(self)
            .map(|report, act, ctx| act.after_round(report, ctx));
        if W::BESIDE_MAILBOX {
            ctx.spawn(round);
        } else {
            // The round runs atomically: the mailbox waits for it (as with `AtomicResponse`).
            ctx.wait(round);
        }
    }
}

impl<W: RoundWork> Handler<Wake> for RoundActor<W> {
    type Result = ();

    /// New work may be waiting (only the relay's link delivers these): run the next round at
    /// once, or right after the one in progress. Wake-ups coalesce.
    fn handle(&mut self, _: Wake, ctx: &mut Context<Self>) {
        if self.next.is_some() {
            self.schedule(ctx, Duration::ZERO);
        } else {
            self.woken = true;
        }
    }
}

impl<W: RoundWork> Handler<Ping> for RoundActor<W> {
    type Result = ();
    fn handle(&mut self, _: Ping, _ctx: &mut Context<Self>) {}
}

impl<W: RoundWork> Handler<Drain> for RoundActor<W> {
    type Result = ResponseActFuture<Self, ()>;

    /// Runs after the round in progress (unless rounds run beside the mailbox), then the
    /// work's last step; pings are still answered while that step runs.
    fn handle(&mut self, _: Drain, ctx: &mut Context<Self>) -> Self::Result {
        self.draining = true;
        if let Some(h) = self.next.take() {
            ctx.cancel_future(h);
        }
        let last = self.work.drain();
        Box::pin(
            async move {
                match last {
                    Some(last) => last.await,
                    None => Drained::info(String::new()),
                }
            }
            .into_actor(self)
            .map(|drained, act, _ctx| {
                let name = act.work.name();
                act.work.status().set_state(name, ActorState::Stopped);
                log::log!(target: W::TARGET, drained.level, "event=actor_drained actor={name}{}", drained.fields);
            }),
        )
    }
}

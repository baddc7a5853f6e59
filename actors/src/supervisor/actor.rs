//! RootSupervisor: messages and handlers only.

use actix::prelude::*;

use super::{ChildHealth, ChildLink, ChildSpec, Escalate, SupervisorConfig};
use crate::backoff::RestartBudget;
use crate::messages::{Drain, Ping, Wake};
use crate::ports::Ambient;
use crate::status::{ActorState, StatusBoard};

struct Child {
    spec: ChildSpec,
    /// `None` while a deferred child waits for [`StartDeferred`].
    link: Option<ChildLink>,
    relaunches: u32,
}

pub struct RootSupervisor {
    specs: Vec<ChildSpec>,
    /// Children started only on [`StartDeferred`], not with the others.
    deferred: Vec<&'static str>,
    children: Vec<Child>,
    config: SupervisorConfig,
    budget: RestartBudget,
    restarts_seen: u64,
    status: StatusBoard,
    ambient: Ambient,
    escalate: Escalate,
    escalated: bool,
    draining: bool,
}

impl RootSupervisor {
    pub fn new(
        specs: Vec<ChildSpec>,
        config: SupervisorConfig,
        status: StatusBoard,
        ambient: Ambient,
        escalate: Escalate,
    ) -> RootSupervisor {
        RootSupervisor {
            budget: RestartBudget::new(config.intensity, config.period),
            specs,
            deferred: Vec::new(),
            children: Vec::new(),
            config,
            restarts_seen: 0,
            status,
            ambient,
            escalate,
            escalated: false,
            draining: false,
        }
    }

    /// These children are registered (as waiting) but started only when [`StartDeferred`]
    /// arrives: for actors that cannot work before a dependency answers.
    pub fn with_deferred(mut self, names: &[&'static str]) -> RootSupervisor {
        self.deferred = names.to_vec();
        self
    }

    /// The started children's links, in start order.
    fn links(&self) -> impl Iterator<Item = (&'static str, &ChildLink)> {
        self.children
            .iter()
            .filter_map(|c| c.link.as_ref().map(|l| (c.spec.name, l)))
    }

    fn check_children(&mut self) {
        if self.draining || self.escalated {
            return;
        }
        for child in &mut self.children {
            let died = match &child.link {
                Some(link) => !link.ping.connected(),
                None => false,
            };
            if died {
                child.relaunches += 1;
                log::error!(target: "memlink::supervisor", "event=actor_restart actor={} cause=died_outside_boundary relaunches={}", child.spec.name, child.relaunches);
                self.status
                    .restarted(child.spec.name, "the actor died outside its panic boundary");
                child.link = Some((child.spec.factory)(child.relaunches));
            }
        }
        let total = self.status.total_restarts();
        let now = self.ambient.clock.now();
        while self.restarts_seen < total {
            self.restarts_seen += 1;
            if let Err(exceeded) = self.budget.record(now) {
                self.escalated = true;
                log::error!(target: "memlink::supervisor", "event=supervisor_escalate reason={:?}", exceeded.to_string());
                (self.escalate)(exceeded.to_string());
                return;
            }
        }
    }
}

impl Actor for RootSupervisor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        for spec in std::mem::take(&mut self.specs) {
            self.status.register(spec.name);
            let link = if self.deferred.contains(&spec.name) {
                self.status.set_state(spec.name, ActorState::Waiting);
                None
            } else {
                Some((spec.factory)(0))
            };
            self.children.push(Child {
                spec,
                link,
                relaunches: 0,
            });
        }
        let waiting = self.children.len() - self.links().count();
        log::info!(target: "memlink::supervisor", "event=supervisor_started children={} waiting={waiting}", self.children.len());
        ctx.run_interval(self.config.check_every, |act, _ctx| act.check_children());
    }
}

impl Handler<Wake> for RootSupervisor {
    type Result = ();

    fn handle(&mut self, msg: Wake, _ctx: &mut Context<Self>) {
        for (_, link) in self.links() {
            if let Some(w) = &link.wake {
                w.do_send(msg);
            }
        }
    }
}

/// Starts the deferred children that have not started yet; answers how many it started.
/// Nothing starts once the tree drains or has escalated.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "usize")]
pub struct StartDeferred;

impl Handler<StartDeferred> for RootSupervisor {
    type Result = usize;

    fn handle(&mut self, _: StartDeferred, _ctx: &mut Context<Self>) -> usize {
        if self.draining || self.escalated {
            return 0;
        }
        let mut started = 0;
        for child in self.children.iter_mut().filter(|c| c.link.is_none()) {
            self.status.set_state(child.spec.name, ActorState::Starting);
            child.link = Some((child.spec.factory)(0));
            started += 1;
        }
        started
    }
}

/// Pings every child; answers who was responsive in time.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "Vec<ChildHealth>")]
pub struct Health;

impl Handler<Health> for RootSupervisor {
    type Result = ResponseFuture<Vec<ChildHealth>>;

    fn handle(&mut self, _: Health, _ctx: &mut Context<Self>) -> Self::Result {
        let timeout = self.config.ping_timeout;
        // Sent before any is awaited, so the children are pinged concurrently.
        let pending: Vec<_> = self
            .links()
            .map(|(name, link)| (name, link.ping.send(Ping).timeout(timeout)))
            .collect();
        Box::pin(async move {
            let mut out = Vec::with_capacity(pending.len());
            for (name, request) in pending {
                out.push(ChildHealth {
                    name,
                    responsive: request.await.is_ok(),
                });
            }
            out
        })
    }
}

impl Handler<Drain> for RootSupervisor {
    type Result = ResponseFuture<()>;

    /// Drains children one after the other in start order (relay, worker, watermark, ...), so
    /// the watermark's last fold runs after the worker's last round.
    fn handle(&mut self, _: Drain, _ctx: &mut Context<Self>) -> Self::Result {
        self.draining = true;
        let timeout = self.config.ping_timeout * 2;
        let children: Vec<(&'static str, Recipient<Drain>)> = self
            .links()
            .map(|(name, link)| (name, link.drain.clone()))
            .collect();
        Box::pin(async move {
            for (name, drain) in children {
                if drain.send(Drain).timeout(timeout).await.is_err() {
                    log::warn!(target: "memlink::supervisor", "event=drain_timeout actor={name}");
                }
            }
        })
    }
}

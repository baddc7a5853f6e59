//! RootSupervisor: messages and handlers only.

use actix::prelude::*;

use super::{ChildHealth, ChildLink, ChildSpec, Escalate, SupervisorConfig};
use crate::backoff::RestartBudget;
use crate::messages::{Drain, Ping, Wake};
use crate::ports::Ambient;
use crate::status::StatusBoard;

struct Child {
    spec: ChildSpec,
    link: ChildLink,
    relaunches: u32,
}

pub struct RootSupervisor {
    specs: Vec<ChildSpec>,
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

    fn check_children(&mut self) {
        if self.draining || self.escalated {
            return;
        }
        for child in &mut self.children {
            if !child.link.ping.connected() {
                child.relaunches += 1;
                log::error!(target: "memlink::supervisor", "event=actor_restart actor={} cause=died_outside_boundary relaunches={}", child.spec.name, child.relaunches);
                self.status
                    .restarted(child.spec.name, "the actor died outside its panic boundary");
                child.link = (child.spec.factory)(child.relaunches);
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
            let link = (spec.factory)(0);
            self.children.push(Child {
                spec,
                link,
                relaunches: 0,
            });
        }
        log::info!(target: "memlink::supervisor", "event=supervisor_started children={}", self.children.len());
        ctx.run_interval(self.config.check_every, |act, _ctx| act.check_children());
    }
}

impl Handler<Wake> for RootSupervisor {
    type Result = ();

    fn handle(&mut self, msg: Wake, _ctx: &mut Context<Self>) {
        for child in &self.children {
            if let Some(w) = &child.link.wake {
                w.do_send(msg);
            }
        }
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
            .children
            .iter()
            .map(|c| (c.spec.name, c.link.ping.send(Ping).timeout(timeout)))
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
            .children
            .iter()
            .map(|c| (c.spec.name, c.link.drain.clone()))
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

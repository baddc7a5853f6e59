//! The supervision tree's root: starts Relay, Worker and Watermark one-for-one, restarts a
//! child that died outside its panic boundary, and escalates when restarts exceed the budget.
//! Children that cannot work before a dependency answers may be deferred: registered as
//! waiting, started when the daemon says so (`StartDeferred`).
//!
//! Two layers, because actix 0.13's `Supervisor` restarts an actor only when it stops itself
//! (a panic in a handler kills it for good): each child catches panics per message and stops
//! itself (its actix `Supervisor` restarts it with backoff); this root watches
//! `Recipient::connected()` to catch deaths that escaped the boundary. It must never restart
//! the process itself: escalation hands control to the daemon, which exits with code 70 for
//! systemd to act on.

pub mod actor;

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use crate::messages::{Drain, Ping, Wake};

pub use actor::{Health, RootSupervisor, StartDeferred};

/// The live handles of one started child.
#[derive(Clone)]
pub struct ChildLink {
    pub name: &'static str,
    pub ping: Recipient<Ping>,
    pub drain: Recipient<Drain>,
    pub wake: Option<Recipient<Wake>>,
}

/// Starts a child (under an actix `Supervisor`), given how often it was restarted before.
pub type ChildFactory = Box<dyn Fn(u32) -> ChildLink>;

/// Called once when the restart budget is exceeded, with a one-line reason.
pub type Escalate = Arc<dyn Fn(String) + Send + Sync>;

pub struct ChildSpec {
    pub name: &'static str,
    pub factory: ChildFactory,
}

#[derive(Debug, Clone)]
pub struct SupervisorConfig {
    /// How often children are checked for death.
    pub check_every: Duration,
    /// At most this many restarts (all children together) ...
    pub intensity: usize,
    /// ... within this period, else escalate.
    pub period: Duration,
    /// A child that does not answer a ping within this is unresponsive.
    pub ping_timeout: Duration,
}

impl Default for SupervisorConfig {
    fn default() -> Self {
        SupervisorConfig {
            check_every: Duration::from_secs(1),
            intensity: 10,
            period: Duration::from_secs(60),
            ping_timeout: Duration::from_secs(5),
        }
    }
}

/// One child's answer to a health check.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChildHealth {
    pub name: &'static str,
    pub responsive: bool,
}

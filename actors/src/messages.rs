//! Messages every supervised child answers, so the root can treat them alike.
//!
//! Plain data; no behaviour lives here.

use actix::prelude::*;

/// "Are you responsive?" A child busy in a wedged round does not answer in time.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct Ping;

/// Finish the round in progress, then take no new work (graceful shutdown).
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct Drain;

/// New work may be waiting (an outbox NOTIFY arrived).
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct Wake;

/// Run one round of work now.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct Round;

//! The memlink daemon: the thin binary's building blocks and the adapters that connect the
//! engine ([`memlink_actors`]) to Postgres, Redis, HTTP and systemd.
//!
//! # Layout
//! - [`config`], [`cli`]: the environment and the command line, validated before anything
//!   binds.
//! - [`daemon`]: builds the supervision tree and runs it until a signal or an escalation.
//! - [`postgres`]: pool, migrations, the store behind the engine's ports, the API's queries,
//!   and the outbox LISTEN.
//! - [`redis`]: the stream and consumer group behind the `StreamBus` port.
//! - [`http`]: the chat API, health and admin endpoints.
//! - [`llm`]: the optional LLM extractor and titles (off unless `MEMLINK_EXTRACTOR` says so).
//! - [`system`], [`systemd`]: the real clock and ids; readiness, status and watchdog.
#![forbid(unsafe_code)]

pub mod cli;
pub mod config;
pub mod daemon;
pub mod http;
pub mod llm;
pub mod postgres;
pub mod redis;
pub mod system;
pub mod systemd;

/// Exit codes (sysexits.h), a contract with systemd units and scripts.
pub mod exit {
    pub const OK: u8 = 0;
    pub const SOFTWARE: u8 = 70;
    pub const CONFIG: u8 = 64;
    pub const UNAVAILABLE: u8 = 69;
    pub const FAILURE: u8 = 1;
}

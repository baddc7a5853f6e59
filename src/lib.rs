//! The memlink daemon: the thin binary's building blocks and the adapters that connect the
//! engine ([`memlink_actors`]) to Postgres, Redis, HTTP and systemd.
//!
//! # Layout
//! - [`config`], [`cli`]: the environment and the command line, validated before anything
//!   binds.
//! - [`daemon`]: builds the supervision tree and runs it until a signal or an escalation.
//! - [`dlq_cmd`]: `memlink dlq ...`, the dead-letter CLI (Postgres only).
//! - [`postgres`]: pool, migrations, the store behind the engine's ports, the API's queries,
//!   and the outbox LISTEN.
//! - [`redis`]: the stream and consumer group behind the `StreamBus` port.
//! - [`redis_gate`]: starting without the broker; the relay and worker start when Redis answers.
//! - [`http`]: the chat API, health and admin endpoints.
//! - [`console`]: the admin console in a browser, at `/admin/ui` on the same server.
//! - [`reextract`]: `memlink reextract`, re-deriving facts with the current extractor.
//! - [`eval_extractor`]: `memlink eval-extractor`, scoring the extractor on labelled messages.
//! - [`llm`]: the optional LLM extractor and titles (off unless `MEMLINK_EXTRACTOR` says so).
//! - [`system`], [`systemd`]: the real clock and ids; readiness, status and watchdog.
//! - [`tls`]: the rustls client configurations for PostgreSQL, Redis and the LLM endpoint.
//! - [`error_text`]: errors with their causes and without passwords, for operators.
//! - [`role`], [`heartbeat`]: which actors a process runs, and its row in `heartbeats`.
//! - [`diagnose`], [`telemetry`], [`logging`]: self-diagnosis (findings), Prometheus
//!   metrics, one-line text or JSON logs.
//! - [`doctor`], [`verify`]: the operator's commands `memlink doctor` and `memlink verify`.
#![forbid(unsafe_code)]

pub mod cli;
pub mod config;
pub mod console;
pub mod daemon;
pub mod dlq_cmd;
pub mod eval_extractor;
pub mod http;
pub mod llm;
pub mod postgres;
pub mod redis;
pub mod redis_gate;
pub mod reextract;
pub mod system;
pub mod systemd;
pub mod tls;

// Operations: roles, heartbeats, self-diagnosis, metrics, logs, doctor and verify.
pub mod diagnose;
pub mod doctor;
pub mod error_text;
pub mod heartbeat;
pub mod logging;
pub mod role;
pub mod telemetry;
pub mod verify;

/// Exit codes (sysexits.h), a contract with systemd units and scripts.
pub mod exit {
    pub const OK: u8 = 0;
    pub const SOFTWARE: u8 = 70;
    pub const CONFIG: u8 = 64;
    pub const UNAVAILABLE: u8 = 69;
    pub const DATA: u8 = 65;
    pub const NO_INPUT: u8 = 66;
    pub const FAILURE: u8 = 1;
}

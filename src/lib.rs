//! The memlink daemon: the thin binary's building blocks and the adapters that connect the
//! engine ([`memlink_actors`]) to Postgres, Redis, HTTP and systemd.
//!
//! # Layout
//! - [`config`], [`cli`]: the environment and the command line, validated before anything
//!   binds.
//! - [`daemon`]: builds the supervision tree and runs it until a signal or an escalation.
//! - [`postgres`]: pool, migrations, the store behind the engine's ports, the API's queries,
//!   the outbox LISTEN, and the operator tools' and the bench's statements.
//! - [`redis`]: the stream and consumer group behind the `StreamBus` port, and the operator
//!   tools' and the bench's commands. No SQL or Redis command is written outside these two.
//! - [`redis_gate`]: starting without the broker; the relay and worker start when Redis answers.
//! - [`http`]: the chat API, health and admin endpoints.
//! - [`console`]: the admin console in a browser, at `/admin/ui` on the same server.
//! - [`llm`]: the optional LLM extractor and titles (off unless `MEMLINK_EXTRACTOR` says so).
//! - [`system`], [`systemd`]: the real clock and ids; readiness, status and watchdog.
//! - [`tls`]: the rustls client configurations for PostgreSQL, Redis and the LLM endpoint.
//! - [`home`]: pooled connections opened on the main runtime, so they outlive the HTTP
//!   server's threads.
//! - [`error_text`]: errors with their causes and without passwords, for operators.
//! - [`role`]: which actors a process runs.
//! - [`telemetry`], [`logging`]: Prometheus metrics (a leaf every adapter records through),
//!   one-line text or JSON logs.
//! - [`ops`]: the operator's side, apart from the adapters: the heartbeat row, the
//!   self-diagnosis (findings), and the commands `memlink doctor`, `verify`, `dlq`,
//!   `reextract` and `eval-extractor`.
#![forbid(unsafe_code)]

pub mod cli;
pub mod config;
pub mod console;
pub mod daemon;
pub mod home;
pub mod http;
pub mod llm;
pub mod ops;
pub mod postgres;
pub mod redis;
pub mod redis_gate;
pub mod system;
pub mod systemd;
pub mod tls;

// Operations: roles, metrics, logs.
pub mod error_text;
pub mod logging;
pub mod role;
pub mod telemetry;

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

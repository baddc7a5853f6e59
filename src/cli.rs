//! The command line: `memlink run`, `memlink migrate`. Parsing only; no behaviour.

use clap::{Parser, Subcommand};

/// memlink turns a chat application's messages into long-term memory, reliably.
///
/// Configuration comes from the environment: DATABASE_URL, REDIS_URL, MEMLINK_HTTP_ADDR,
/// MEMLINK_STREAM, MEMLINK_GROUP, MEMLINK_CONSUMER, MEMLINK_ADMIN_TOKEN,
/// MEMLINK_RECLAIM_IDLE_SECS, MEMLINK_MAX_DELIVERIES, MEMLINK_RESTART_INTENSITY,
/// MEMLINK_RESTART_PERIOD_SECS, RUST_LOG (see README.md).
#[derive(Debug, Parser)]
#[command(name = "memlink", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: migrate (unless --no-migrate), then relay, worker, watermark and HTTP.
    Run {
        /// Do not apply pending migrations; refuse to start if the schema is behind.
        #[arg(long)]
        no_migrate: bool,
        /// Which actors to run: all (relay, worker, watermark), relay, or worker (worker and
        /// watermark).
        #[arg(long, value_enum, default_value_t = crate::role::Role::All, env = "MEMLINK_ROLE")]
        role: crate::role::Role,
    },
    /// Diagnose the pipeline from Postgres, Redis and the heartbeats (and a daemon's admin
    /// endpoint): exit 0 healthy, 1 warnings, 2 critical findings.
    Doctor {
        /// Print the findings and the facts behind them as JSON.
        #[arg(long)]
        json: bool,
        /// A running daemon's base URL (e.g. http://127.0.0.1:8080) to check too.
        #[arg(long)]
        admin_url: Option<String>,
        /// The daemon's admin token (default: MEMLINK_ADMIN_TOKEN).
        #[arg(long, env = "MEMLINK_ADMIN_TOKEN", hide_env_values = true)]
        admin_token: Option<String>,
        /// Pending outbox events older than this many seconds are a finding.
        #[arg(long, default_value_t = 300)]
        outbox_stale_secs: u64,
    },
    /// Send one synthetic message through the pipeline and trace it stage by stage (stored,
    /// outbox, relayed, processed, fact, title, watermark); removes it afterwards. Exit 0
    /// when every stage completed, 1 naming the first one that did not.
    Verify {
        /// Insert the event straight into the outbox instead of posting through the API.
        #[arg(long)]
        outbox: bool,
        /// Print the trace as JSON.
        #[arg(long)]
        json: bool,
        /// Seconds to wait for the whole trace.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
        /// The daemon's base URL (default: http://MEMLINK_HTTP_ADDR).
        #[arg(long)]
        base_url: Option<String>,
    },
    /// Apply pending database migrations (idempotent) and exit.
    Migrate,
}

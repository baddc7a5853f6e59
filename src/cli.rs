//! The command line: `memlink run`, `memlink migrate`. Parsing only; no behaviour.

use clap::{Parser, Subcommand};

/// memlink turns a chat application's messages into long-term memory, reliably.
///
/// Configuration comes from the environment: DATABASE_URL, REDIS_URL, MEMLINK_HTTP_ADDR,
/// MEMLINK_STREAM, MEMLINK_GROUP, MEMLINK_CONSUMER, MEMLINK_ADMIN_TOKEN,
/// MEMLINK_RECLAIM_IDLE_SECS, MEMLINK_MAX_DELIVERIES, MEMLINK_RESTART_INTENSITY,
/// MEMLINK_RESTART_PERIOD_SECS, MEMLINK_EXTRACTOR and MEMLINK_LLM_* (see docs/llm.md),
/// RUST_LOG (see README.md).
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
    },
    /// Apply pending database migrations (idempotent) and exit.
    Migrate,
}

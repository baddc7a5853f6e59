//! The command line: `memlink run`, `memlink migrate`, `memlink reextract`. Parsing only; no
//! behaviour.

use chrono::{DateTime, Utc};
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
    },
    /// Apply pending database migrations (idempotent) and exit.
    Migrate,
    /// Re-run the current fact extractor over stored user messages said since a time, replace
    /// the facts other extractor versions produced for them, and report the difference.
    Reextract {
        /// Messages said (created_at) at or after this RFC 3339 instant, e.g. 2026-01-01T00:00:00Z.
        #[arg(long, value_parser = parse_rfc3339)]
        since: DateTime<Utc>,
        /// Compute and report the difference; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the report as JSON, with the list of changed statements.
        #[arg(long)]
        json: bool,
    },
}

fn parse_rfc3339(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("not an RFC 3339 timestamp (e.g. 2026-01-01T00:00:00Z): {e}"))
}

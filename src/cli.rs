//! The command line: `memlink run`, `memlink migrate`, `memlink dlq ...`,
//! `memlink reextract`, `memlink eval-extractor`. Parsing only; no behaviour.

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};

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
        /// Which actors to run: all (relay, worker, watermark), relay, or worker (worker and
        /// watermark).
        #[arg(long, value_enum, default_value_t = crate::role::ProcessRole::All, env = "MEMLINK_ROLE")]
        role: crate::role::ProcessRole,
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
    /// Score the fact extractor on labelled messages, offline (no database, no daemon): each
    /// line of FILE is {"text": ..., "expected": [{"predicate": ..., "object": ...}]}. Prints
    /// per-predicate and micro precision, recall and F1, strict and lenient, and lists misses
    /// and false positives. With MEMLINK_EXTRACTOR=llm|both the configured LLM is scored too.
    EvalExtractor {
        /// The labelled messages, one JSON object per line.
        file: std::path::PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Only the scores: do not list misses and false positives.
        #[arg(long)]
        summary: bool,
    },
    /// Inspect, replay (optionally patched) and discard dead letters. Needs only DATABASE_URL:
    /// works with the daemon stopped. See docs/dead-letters.md.
    Dlq {
        #[command(subcommand)]
        command: DlqCommand,
    },
}

/// `memlink dlq ...`
#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// List dead letters, newest first.
    List {
        /// Only this reason code (e.g. invalid_uuid).
        #[arg(long)]
        reason: Option<String>,
        /// Only letters about this chat (a UUID).
        #[arg(long)]
        chat_id: Option<String>,
        /// Only letters received at or after this RFC 3339 date-time.
        #[arg(long)]
        since: Option<String>,
        /// dead, replayed or discarded (default: all).
        #[arg(long)]
        status: Option<String>,
        /// At most this many (1 to 1000).
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// Skip this many (paging).
        #[arg(long, default_value_t = 0)]
        offset: i64,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one dead letter: its payload, whether it can be replayed, its audit history.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Replay one dead letter (optionally patched) through the outbox, or, with a filter
    /// instead of an id, every dead letter it matches (unpatched).
    Replay {
        /// The dead letter; omit it and give a filter for a bulk replay.
        id: Option<String>,
        /// A JSON merge patch (RFC 7386) applied to the stored payload, e.g.
        /// '{"created_at": 1769067099}'. Only with an id.
        #[arg(long)]
        patch: Option<String>,
        #[command(flatten)]
        bulk: DlqBulkArgs,
        #[command(flatten)]
        common: DlqActionArgs,
    },
    /// Discard one dead letter, or, with a filter instead of an id, every dead letter it
    /// matches. Discarded letters stay recorded and audited.
    Discard {
        /// The dead letter; omit it and give a filter for a bulk discard.
        id: Option<String>,
        #[command(flatten)]
        bulk: DlqBulkArgs,
        #[command(flatten)]
        common: DlqActionArgs,
    },
}

/// The filter of a bulk action (only `dead` letters are ever acted on).
#[derive(Debug, Args)]
pub struct DlqBulkArgs {
    /// Bulk: letters with this reason code.
    #[arg(long, conflicts_with = "id")]
    pub reason: Option<String>,
    /// Bulk: letters about this chat (a UUID).
    #[arg(long, conflicts_with = "id")]
    pub chat_id: Option<String>,
    /// Bulk: letters received at or after this RFC 3339 date-time.
    #[arg(long, conflicts_with = "id")]
    pub since: Option<String>,
    /// Bulk: every dead letter (required when no other filter is given).
    #[arg(long, conflicts_with = "id")]
    pub all: bool,
    /// Bulk: count what would be done, change nothing.
    #[arg(long, conflicts_with = "id")]
    pub dry_run: bool,
}

/// Who acts, why, and how to print the result.
#[derive(Debug, Args)]
pub struct DlqActionArgs {
    /// Who is acting, for the audit trail (default: $USER, else "cli").
    #[arg(long)]
    pub actor: Option<String>,
    /// A note kept in the audit trail.
    #[arg(long)]
    pub note: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

fn parse_rfc3339(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("not an RFC 3339 timestamp (e.g. 2026-01-01T00:00:00Z): {e}"))
}

//! `memlink reextract --since <RFC 3339> [--dry-run] [--json]`: re-runs the current fact
//! extractor over stored user messages and replaces what other extractor versions produced
//! (the work is [`crate::postgres::memory::reextract`]; this is the command's shell: connect,
//! check the schema, run, print, exit code).
//!
//! It never migrates (a database behind this binary's schema is refused with exit 69) and
//! never prints message content, only the extracted values.

use chrono::{DateTime, Utc};

use crate::exit;
use crate::postgres::{self, memory};

pub struct Options {
    pub since: DateTime<Utc>,
    pub dry_run: bool,
    pub json: bool,
}

/// Runs the command; returns the process exit code.
pub fn main(url: &str, opts: Options) -> u8 {
    let result = actix_web::rt::System::new().block_on(run(url, &opts));
    match result {
        Ok(report) => {
            if opts.json {
                match serde_json::to_string_pretty(&report) {
                    Ok(text) => println!("{text}"),
                    Err(e) => {
                        eprintln!("memlink: could not render the report: {e}");
                        return exit::FAILURE;
                    }
                }
            } else {
                print_summary(&report);
            }
            exit::OK
        }
        Err(e) => {
            eprintln!("memlink: reextract: {e}");
            exit::UNAVAILABLE
        }
    }
}

async fn run(url: &str, opts: &Options) -> Result<memory::ReextractReport, String> {
    let pool = postgres::build_pool(url, 2).map_err(|e| e.to_string())?;
    let found = postgres::current_schema_version(&pool)
        .await
        .map_err(|e| e.to_string())?;
    let expected = postgres::expected_schema_version();
    if found < expected {
        return Err(format!(
            "database schema is at version {found}, this binary needs {expected}: run `memlink migrate`"
        ));
    }
    memory::reextract(&pool, opts.since, opts.dry_run)
        .await
        .map_err(|e| e.to_string())
}

fn print_summary(r: &memory::ReextractReport) {
    let mode = if r.dry_run {
        " (dry run: nothing changed)"
    } else {
        ""
    };
    println!(
        "reextract since {} with extractor {} v{}{mode}",
        r.since.map(|t| t.to_rfc3339()).unwrap_or_default(),
        r.extractor,
        r.extractor_version
    );
    println!("  users:      {}", r.users);
    println!("  messages:   {}", r.messages);
    println!("  added:      {}", r.added);
    println!("  removed:    {}", r.removed);
    println!(
        "  unchanged:  {} (restamped to v{}: {})",
        r.unchanged, r.extractor_version, r.restamped
    );
    println!(
        "  facts:      {} written, {} deleted",
        r.facts_written, r.facts_deleted
    );
    for c in r.changes.iter().filter(|c| c.change != "restamped") {
        println!(
            "  {:<8} {} {} {:?} ({}) message {}",
            c.change, c.user_id, c.predicate, c.object, c.kind, c.message_id
        );
    }
}

//! memlink's entry point: config → logging → build → run → exit code. Config errors exit 64
//! before anything binds; a supervisor escalation exits 70 so systemd restarts the process.
#![forbid(unsafe_code)]

use memlink::logging::{quoted, Quoted};
use std::process::ExitCode;

use clap::Parser;
use memlink::cli::{Cli, Command};
use memlink::config::{self, Config};
use memlink::daemon::{self, DaemonError, RunOptions};
use memlink::exit;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let code = match cli.command {
        Command::Run { no_migrate, role } => match Config::from_env() {
            Ok(config) => run(config, !no_migrate, role),
            Err(e) => config_error(e),
        },
        Command::Doctor {
            json,
            admin_url,
            admin_token,
            outbox_stale_secs,
        } => match Config::from_env() {
            Ok(config) => memlink::ops::doctor::run(
                &config,
                &memlink::ops::doctor::DoctorOptions {
                    json,
                    admin_url,
                    admin_token,
                    outbox_stale: std::time::Duration::from_secs(outbox_stale_secs),
                },
            ),
            Err(e) => config_error(e),
        },
        Command::Verify {
            outbox,
            json,
            timeout,
            base_url,
        } => match Config::from_env() {
            Ok(config) => memlink::ops::verify::run(
                &config,
                &memlink::ops::verify::VerifyOptions {
                    outbox,
                    json,
                    timeout: std::time::Duration::from_secs(timeout),
                    base_url,
                },
            ),
            Err(e) => config_error(e),
        },
        Command::Migrate => match config::database_url(&|k| std::env::var(k).ok()) {
            Ok(url) => migrate(url),
            Err(e) => config_error(e),
        },
        Command::Dlq { command } => memlink::ops::dlq::run(command),
        Command::EvalExtractor {
            file,
            json,
            summary,
        } => memlink::ops::eval_extractor::run(&memlink::ops::eval_extractor::Options {
            file,
            json,
            summary,
        }),
        Command::Reextract {
            since,
            dry_run,
            json,
        } => match config::database_url(&|k| std::env::var(k).ok()) {
            Ok(url) => memlink::ops::reextract::main(
                &url,
                memlink::ops::reextract::Options {
                    since,
                    dry_run,
                    json,
                },
            ),
            Err(e) => config_error(e),
        },
    };
    ExitCode::from(code)
}

fn config_error(e: config::ConfigError) -> u8 {
    eprintln!("memlink: configuration error: {e}");
    exit::CONFIG
}

fn run(config: Config, migrate: bool, role: memlink::role::Role) -> u8 {
    let result =
        actix_web::rt::System::new().block_on(daemon::run(config, RunOptions { migrate, role }));
    match result {
        Ok(()) => exit::OK,
        Err(e @ DaemonError::Escalated(_)) => {
            log::error!(target: "memlink::daemon", "event=exit code=70 reason={}", quoted(&e));
            exit::SOFTWARE
        }
        Err(e @ (DaemonError::Unavailable(_) | DaemonError::SchemaBehind { .. })) => {
            log::error!(target: "memlink::daemon", "event=exit code=69 reason={}", quoted(&e));
            exit::UNAVAILABLE
        }
        Err(e) => {
            log::error!(target: "memlink::daemon", "event=exit code=1 reason={}", quoted(&e));
            exit::FAILURE
        }
    }
}

fn migrate(url: String) -> u8 {
    let result: anyhow::Result<usize> = actix_web::rt::System::new().block_on(async {
        let connector = memlink::postgres::PgConnector::from_url(&url)?;
        Ok(memlink::postgres::migrate(&connector).await?)
    });
    match result {
        Ok(n) => {
            log::info!(target: "memlink::daemon", "event=migrations_applied count={n}");
            exit::OK
        }
        Err(e) => {
            eprintln!("memlink: {e}");
            exit::UNAVAILABLE
        }
    }
}

/// One line per event: `<time> <LEVEL> <target> event=... key=value` (or JSON with
/// MEMLINK_LOG_FORMAT=json), for log-based alerts.
fn init_logging() {
    memlink::logging::init();
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        log::error!(target: "memlink::panic", "event=panic location={} message={}", Quoted(&location), Quoted(&message));
    }));
}

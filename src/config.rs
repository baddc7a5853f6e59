//! Configuration from the environment (12-factor), validated before anything binds.
//!
//! Every error names the variable and what is wrong with it, and never echoes a secret: URLs
//! are shown redacted. Loading must never connect anywhere.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// Environment variable names: a public contract.
pub mod vars {
    pub const DATABASE_URL: &str = "DATABASE_URL";
    pub const REDIS_URL: &str = "REDIS_URL";
    pub const REDIS_CA_FILE: &str = "MEMLINK_REDIS_CA_FILE";
    pub const HTTP_ADDR: &str = "MEMLINK_HTTP_ADDR";
    pub const HTTP_CLIENT_TIMEOUT_SECS: &str = "MEMLINK_HTTP_CLIENT_TIMEOUT_SECS";
    pub const STREAM: &str = "MEMLINK_STREAM";
    pub const GROUP: &str = "MEMLINK_GROUP";
    pub const CONSUMER: &str = "MEMLINK_CONSUMER";
    pub const ADMIN_TOKEN: &str = "MEMLINK_ADMIN_TOKEN";
    pub const RECLAIM_IDLE_SECS: &str = "MEMLINK_RECLAIM_IDLE_SECS";
    pub const MAX_DELIVERIES: &str = "MEMLINK_MAX_DELIVERIES";
    pub const MAX_BATCH_RETRIES: &str = "MEMLINK_MAX_BATCH_RETRIES";
    pub const RESTART_INTENSITY: &str = "MEMLINK_RESTART_INTENSITY";
    pub const RESTART_PERIOD_SECS: &str = "MEMLINK_RESTART_PERIOD_SECS";
    pub const RECONCILE_AFTER_SECS: &str = "MEMLINK_RECONCILE_AFTER_SECS";
    pub const CRASH_QUARANTINE_AFTER: &str = "MEMLINK_CRASH_QUARANTINE_AFTER";
    pub const HEARTBEAT_SECS: &str = "MEMLINK_HEARTBEAT_SECS";
    pub const WORKERS: &str = "MEMLINK_WORKERS";
    pub const EXTRACTOR: &str = "MEMLINK_EXTRACTOR";
    pub const LLM_BASE_URL: &str = "MEMLINK_LLM_BASE_URL";
    pub const LLM_MODEL: &str = "MEMLINK_LLM_MODEL";
    pub const LLM_API_KEY: &str = "MEMLINK_LLM_API_KEY";
    pub const LLM_TIMEOUT_SECS: &str = "MEMLINK_LLM_TIMEOUT_SECS";
    pub const LLM_CONCURRENCY: &str = "MEMLINK_LLM_CONCURRENCY";
    pub const LLM_MAX_RETRIES: &str = "MEMLINK_LLM_MAX_RETRIES";
    pub const LLM_CA_FILE: &str = "MEMLINK_LLM_CA_FILE";
    pub const CONSOLE: &str = "MEMLINK_CONSOLE";
    pub const STREAM_RETENTION_SECS: &str = "MEMLINK_STREAM_RETENTION_SECS";
    pub const RETENTION_SECS: &str = "MEMLINK_RETENTION_SECS";
    pub const DEAD_LETTER_RETENTION_SECS: &str = "MEMLINK_DEAD_LETTER_RETENTION_SECS";
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("{var} is invalid: {reason}")]
    Invalid { var: &'static str, reason: String },
}

#[derive(Clone)]
pub struct Config {
    pub database_url: String,
    pub redis_url: String,
    /// The CA that a `rediss://` server's certificate must chain to; `None`: the system's.
    pub redis_ca_file: Option<PathBuf>,
    pub http_addr: SocketAddr,
    /// An HTTP client must send its request head, and then its body, each within this.
    pub http_client_timeout: Duration,
    pub stream: String,
    pub group: String,
    pub consumer: String,
    pub admin_token: Option<String>,
    pub reclaim_idle: Duration,
    pub max_deliveries: u64,
    /// A worker batch whose commit fails transiently is retried this many times, then applied
    /// entry by entry (an entry still failing is dead-lettered `retries_exhausted`).
    pub max_batch_retries: u32,
    /// More than this many actor restarts within `restart_period` exit the process (70).
    pub restart_intensity: usize,
    pub restart_period: Duration,
    /// Relayed events unconfirmed this long, whose stream entry is gone, are re-published;
    /// `None` disables the reconciler.
    pub reconcile_after: Option<Duration>,
    /// An entry found in flight after this many process deaths is quarantined.
    pub crash_quarantine_after: u32,
    /// How often this process upserts its heartbeat row (live while younger than 3×).
    pub heartbeat_interval: Duration,
    /// Worker actors in this process, each running its own batch transaction (1 to 8).
    pub workers: usize,
    /// The optional LLM extractor and titles; `None` when `MEMLINK_EXTRACTOR=rules`.
    pub llm: Option<LlmConfig>,
    /// The browser console at `/admin/ui` (`MEMLINK_CONSOLE`).
    pub console: ConsoleMode,
    /// What retention keeps, and for how long.
    pub retention: Retention,
}

/// How long memlink keeps what it no longer needs (the retention actor's settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Acknowledged stream entries (`MEMLINK_STREAM_RETENTION_SECS`, default an hour).
    pub stream: Duration,
    /// Processed outbox rows and per-event bookkeeping (`MEMLINK_RETENTION_SECS`, a week).
    pub processed: Duration,
    /// Discarded and replayed dead letters and their audit rows
    /// (`MEMLINK_DEAD_LETTER_RETENTION_SECS`, 30 days).
    pub dead_letters: Duration,
}

/// Whole seconds, at least 1 (seconds-level settings serve tests and soak runs).
fn retention_secs(
    env: &dyn Fn(&str) -> Option<String>,
    var: &'static str,
    default: &str,
) -> Result<Duration, ConfigError> {
    parse_or(env, var, default, |s| match s.parse::<u64>() {
        Ok(n) if n > 0 => Ok(Duration::from_secs(n)),
        _ => Err("expected whole seconds, at least 1".to_owned()),
    })
}

/// What the admin console at `/admin/ui` may do (`MEMLINK_CONSOLE=off|read-only|on`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleMode {
    /// Not served: every `/admin/ui` path answers 404.
    Off,
    /// Pages only; every action is refused.
    ReadOnly,
    /// Pages and actions (replay, discard, forget), for operators signed in with the token.
    On,
}

impl ConsoleMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsoleMode::Off => "off",
            ConsoleMode::ReadOnly => "read-only",
            ConsoleMode::On => "on",
        }
    }

    /// The mode asked for, or the default: `on` with an admin token, `read-only` without one
    /// on a loopback address (only this host can reach it), `off` without one elsewhere. `on`
    /// without a token is refused: an action needs an operator who signed in with it.
    fn resolve(
        raw: Option<&str>,
        has_token: bool,
        addr: SocketAddr,
    ) -> Result<ConsoleMode, String> {
        let asked = match raw.map(|s| s.trim().to_ascii_lowercase()).as_deref() {
            None | Some("") => None,
            Some("off") => Some(ConsoleMode::Off),
            Some("read-only") | Some("readonly") => Some(ConsoleMode::ReadOnly),
            Some("on") => Some(ConsoleMode::On),
            Some(_) => return Err("expected off, read-only or on".to_owned()),
        };
        match (asked, has_token) {
            (Some(ConsoleMode::On), false) => Err(format!(
                "on needs {} (operators sign in with it); use read-only, or set a token",
                vars::ADMIN_TOKEN
            )),
            (Some(mode), _) => Ok(mode),
            (None, true) => Ok(ConsoleMode::On),
            (None, false) if addr.ip().is_loopback() => Ok(ConsoleMode::ReadOnly),
            (None, false) => Ok(ConsoleMode::Off),
        }
    }
}

/// Which extractor produces facts (`MEMLINK_EXTRACTOR`).
pub use memlink_actors::enrich::LlmMode;

/// An OpenAI-compatible chat-completions endpoint (Ollama, vLLM, llama.cpp's server).
#[derive(Clone, PartialEq)]
pub struct LlmConfig {
    pub mode: LlmMode,
    /// Without the trailing slash, e.g. `http://127.0.0.1:11434/v1`.
    pub base_url: String,
    pub model: String,
    /// Sent as a bearer token; never logged or shown.
    pub api_key: Option<String>,
    /// One request, from connecting to the last byte of the answer.
    pub timeout: Duration,
    /// At most this many requests in flight at once.
    pub concurrency: usize,
    /// Retries after a failed request (timeouts, connection errors, 429, 5xx).
    pub max_retries: u32,
    /// For an https endpoint: the trusted CA (`MEMLINK_LLM_CA_FILE`, else the system's).
    pub tls: Option<crate::tls::HttpsTrust>,
}

impl std::fmt::Debug for LlmConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmConfig")
            .field("mode", &self.mode)
            .field("base_url", &redact_url(&self.base_url))
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .field("timeout", &self.timeout)
            .field("concurrency", &self.concurrency)
            .field("max_retries", &self.max_retries)
            .field("tls", &self.tls)
            .finish()
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field("redis_url", &redact_url(&self.redis_url))
            .field("redis_ca_file", &self.redis_ca_file)
            .field("http_addr", &self.http_addr)
            .field("http_client_timeout", &self.http_client_timeout)
            .field("stream", &self.stream)
            .field("group", &self.group)
            .field("consumer", &self.consumer)
            .field("admin_token", &self.admin_token.as_ref().map(|_| "***"))
            .field("reclaim_idle", &self.reclaim_idle)
            .field("max_deliveries", &self.max_deliveries)
            .field("restart_intensity", &self.restart_intensity)
            .field("restart_period", &self.restart_period)
            .field("reconcile_after", &self.reconcile_after)
            .field("crash_quarantine_after", &self.crash_quarantine_after)
            .field("max_batch_retries", &self.max_batch_retries)
            .field("heartbeat_interval", &self.heartbeat_interval)
            .field("workers", &self.workers)
            .field("llm", &self.llm)
            .field("console", &self.console)
            .field("retention", &self.retention)
            .finish()
    }
}

/// Only the database: for `migrate` and similar commands. Checked as a connection would
/// use it (syntax, `sslmode`, a readable `sslrootcert`).
pub fn database_url(env: &dyn Fn(&str) -> Option<String>) -> Result<String, ConfigError> {
    let url = required(env, vars::DATABASE_URL)?;
    crate::postgres::connect::PgConnector::from_url(&url).map_err(|e| ConfigError::Invalid {
        var: vars::DATABASE_URL,
        reason: format!("{} {}", redact_url(&url), parser_detail(&url, &e)),
    })?;
    Ok(url)
}

/// A file path setting, if set.
fn path(env: &dyn Fn(&str) -> Option<String>, var: &'static str) -> Option<PathBuf> {
    env(var)
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(&|k| std::env::var(k).ok())
    }

    /// Reads any environment-like lookup (tests pass a map).
    pub fn from_lookup(env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let database_url = database_url(env)?;
        let redis_url = required(env, vars::REDIS_URL)?;
        let redis_ca_file = path(env, vars::REDIS_CA_FILE);
        crate::redis::connect::client(&redis_url, redis_ca_file.as_deref()).map_err(|e| {
            ConfigError::Invalid {
                var: if redis_ca_file.is_some() {
                    vars::REDIS_CA_FILE
                } else {
                    vars::REDIS_URL
                },
                reason: format!(
                    "{} {}",
                    redact_url(&redis_url),
                    parser_detail(&redis_url, &e)
                ),
            }
        })?;
        let http_addr = parse_or(env, vars::HTTP_ADDR, "127.0.0.1:8080", |s| {
            SocketAddr::from_str(s).map_err(|e| e.to_string())
        })?;
        let http_client_timeout = parse_or(env, vars::HTTP_CLIENT_TIMEOUT_SECS, "10", |s| match s
            .parse::<u64>()
        {
            Ok(n) if (1..=300).contains(&n) => Ok(Duration::from_secs(n)),
            _ => Err("expected whole seconds, 1 to 300".to_owned()),
        })?;
        let stream = name(env, vars::STREAM, "memlink:events")?;
        let group = name(env, vars::GROUP, "memlink-workers")?;
        let consumer = match env(vars::CONSUMER).filter(|s| !s.is_empty()) {
            Some(_) => name(env, vars::CONSUMER, "")?,
            None => format!("{}-{}", hostname(), std::process::id()),
        };
        let admin_token = env(vars::ADMIN_TOKEN).filter(|s| !s.is_empty());
        let reclaim_idle = parse_or(env, vars::RECLAIM_IDLE_SECS, "30", |s| {
            let n: u64 = s.parse().map_err(|_| "expected whole seconds".to_owned())?;
            if n == 0 {
                return Err("must be at least 1".to_owned());
            }
            Ok(Duration::from_secs(n))
        })?;
        let max_deliveries = parse_or(env, vars::MAX_DELIVERIES, "5", |s| {
            let n: u64 = s
                .parse()
                .map_err(|_| "expected a whole number".to_owned())?;
            if n == 0 {
                return Err("must be at least 1".to_owned());
            }
            Ok(n)
        })?;
        let max_batch_retries = parse_or(env, vars::MAX_BATCH_RETRIES, "5", |s| {
            match s.parse::<u32>() {
                Ok(n) if n <= 100 => Ok(n),
                _ => Err("expected a whole number from 0 to 100".to_owned()),
            }
        })?;
        let restart_intensity = parse_or(env, vars::RESTART_INTENSITY, "10", |s| {
            s.parse::<usize>()
                .map_err(|_| "expected a whole number".to_owned())
        })?;
        let restart_period = parse_or(env, vars::RESTART_PERIOD_SECS, "60", |s| {
            match s.parse::<u64>() {
                Ok(n) if n > 0 => Ok(Duration::from_secs(n)),
                _ => Err("expected whole seconds, at least 1".to_owned()),
            }
        })?;
        let reconcile_after = parse_or(env, vars::RECONCILE_AFTER_SECS, "30", |s| {
            let n: u64 = s
                .parse()
                .map_err(|_| "expected whole seconds (0 disables)".to_owned())?;
            Ok((n > 0).then(|| Duration::from_secs(n)))
        })?;
        let crash_quarantine_after = parse_or(env, vars::CRASH_QUARANTINE_AFTER, "2", |s| match s
            .parse::<u32>()
        {
            Ok(n) if n > 0 => Ok(n),
            _ => Err("expected a whole number, at least 1".to_owned()),
        })?;
        let heartbeat_interval =
            parse_or(env, vars::HEARTBEAT_SECS, "5", |s| match s.parse::<u64>() {
                Ok(n) if (1..=300).contains(&n) => Ok(Duration::from_secs(n)),
                _ => Err("expected whole seconds, 1 to 300".to_owned()),
            })?;
        let workers = parse_or(env, vars::WORKERS, "2", |s| match s.parse::<usize>() {
            Ok(n) if (1..=memlink_actors::worker::NAMES.len()).contains(&n) => Ok(n),
            _ => Err(format!(
                "expected a whole number from 1 to {}",
                memlink_actors::worker::NAMES.len()
            )),
        })?;
        let console = ConsoleMode::resolve(
            env(vars::CONSOLE).as_deref(),
            admin_token.is_some(),
            http_addr,
        )
        .map_err(|reason| ConfigError::Invalid {
            var: vars::CONSOLE,
            reason,
        })?;
        let retention = Retention {
            stream: retention_secs(env, vars::STREAM_RETENTION_SECS, "3600")?,
            processed: retention_secs(env, vars::RETENTION_SECS, "604800")?,
            dead_letters: retention_secs(env, vars::DEAD_LETTER_RETENTION_SECS, "2592000")?,
        };
        Ok(Config {
            console,
            retention,
            database_url,
            redis_url,
            redis_ca_file,
            http_addr,
            http_client_timeout,
            stream,
            group,
            consumer,
            admin_token,
            reclaim_idle,
            max_deliveries,
            max_batch_retries,
            restart_intensity,
            restart_period,
            reconcile_after,
            crash_quarantine_after,
            heartbeat_interval,
            workers,
            llm: llm_config(env)?,
        })
    }
}

/// `MEMLINK_EXTRACTOR` and, unless it is `rules`, the endpoint it needs.
pub fn llm_config(env: &dyn Fn(&str) -> Option<String>) -> Result<Option<LlmConfig>, ConfigError> {
    let mode = parse_or(env, vars::EXTRACTOR, "rules", |s| {
        match s.to_ascii_lowercase().as_str() {
            "rules" => Ok(None),
            "llm" => Ok(Some(LlmMode::Llm)),
            "both" => Ok(Some(LlmMode::Both)),
            _ => Err("expected rules, llm or both".to_owned()),
        }
    })?;
    let Some(mode) = mode else {
        return Ok(None);
    };
    let raw_url = required(env, vars::LLM_BASE_URL)?;
    let (base_url, https) = match url::Url::parse(raw_url.trim()) {
        Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host().is_some() => (
            u.as_str().trim_end_matches('/').to_owned(),
            u.scheme() == "https",
        ),
        _ => {
            return Err(ConfigError::Invalid {
                var: vars::LLM_BASE_URL,
                reason: format!(
                    "{}: expected an http:// or https:// URL",
                    redact_url(&raw_url)
                ),
            })
        }
    };
    let ca_file = path(env, vars::LLM_CA_FILE);
    let tls =
        match (https, &ca_file) {
            (true, ca) => Some(crate::tls::HttpsTrust::new(ca.as_deref()).map_err(|e| {
                ConfigError::Invalid {
                    var: if ca.is_some() {
                        vars::LLM_CA_FILE
                    } else {
                        vars::LLM_BASE_URL
                    },
                    reason: e.to_string(),
                }
            })?),
            (false, Some(_)) => {
                return Err(ConfigError::Invalid {
                    var: vars::LLM_CA_FILE,
                    reason: format!(
                        "is set but {} is not https:// ({})",
                        vars::LLM_BASE_URL,
                        redact_url(&raw_url)
                    ),
                })
            }
            (false, None) => None,
        };
    let model = required(env, vars::LLM_MODEL)?.trim().to_owned();
    if model.len() > 200 || model.chars().any(char::is_control) {
        return Err(ConfigError::Invalid {
            var: vars::LLM_MODEL,
            reason: "expected at most 200 printable characters".to_owned(),
        });
    }
    let api_key = env(vars::LLM_API_KEY).filter(|s| !s.trim().is_empty());
    if api_key
        .as_deref()
        .is_some_and(|k| k.chars().any(|c| c.is_control() || c == ' '))
    {
        // Never echo the key itself.
        return Err(ConfigError::Invalid {
            var: vars::LLM_API_KEY,
            reason: "contains spaces or control characters".to_owned(),
        });
    }
    let timeout = parse_or(env, vars::LLM_TIMEOUT_SECS, "20", |s| {
        match s.parse::<f64>() {
            Ok(n) if n > 0.0 && n <= 3600.0 => Ok(Duration::from_secs_f64(n)),
            _ => Err("expected seconds, more than 0 and at most 3600".to_owned()),
        }
    })?;
    let concurrency = parse_or(env, vars::LLM_CONCURRENCY, "4", |s| {
        match s.parse::<usize>() {
            Ok(n) if (1..=64).contains(&n) => Ok(n),
            _ => Err("expected a whole number from 1 to 64".to_owned()),
        }
    })?;
    let max_retries = parse_or(env, vars::LLM_MAX_RETRIES, "2", |s| {
        match s.parse::<u32>() {
            Ok(n) if n <= 10 => Ok(n),
            _ => Err("expected a whole number from 0 to 10".to_owned()),
        }
    })?;
    Ok(Some(LlmConfig {
        mode,
        base_url,
        model,
        api_key,
        timeout,
        concurrency,
        max_retries,
        tls,
    }))
}

fn required(
    env: &dyn Fn(&str) -> Option<String>,
    var: &'static str,
) -> Result<String, ConfigError> {
    env(var)
        .filter(|s| !s.trim().is_empty())
        .ok_or(ConfigError::Missing(var))
}

fn parse_or<T>(
    env: &dyn Fn(&str) -> Option<String>,
    var: &'static str,
    default: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<T, ConfigError> {
    let raw = env(var)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| default.to_owned());
    parse(raw.trim()).map_err(|reason| ConfigError::Invalid {
        var,
        reason: format!("{raw:?}: {reason}"),
    })
}

/// Stream, group and consumer names: printable, no spaces, bounded.
fn name(
    env: &dyn Fn(&str) -> Option<String>,
    var: &'static str,
    default: &str,
) -> Result<String, ConfigError> {
    parse_or(env, var, default, |s| {
        if s.is_empty() || s.len() > 200 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            Err("expected 1 to 200 printable characters without spaces".to_owned())
        } else {
            Ok(s.to_owned())
        }
    })
}

/// This host's name (for consumer names and heartbeats).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "memlink".to_owned())
}

/// A URL with its password replaced by `***`, for logs and errors. The userinfo is masked
/// as text before anything parses the URL, so a URL that does not parse (a bad port, an
/// unclosed `[`) is shown without its password too; `password=` values (a libpq
/// `key=value` string, or a `?password=` query parameter) are masked the same way.
pub fn redact_url(raw: &str) -> String {
    let masked = mask_password_params(&mask_userinfo(raw));
    match url::Url::parse(&masked) {
        Ok(u) => u.to_string(),
        Err(_) => masked,
    }
}

/// `scheme://user:secret@host...` → `scheme://user:***@host...`. Everything between `://`
/// and the last `@` is taken as userinfo (a password may hold an unencoded `/`, `?` or `@`):
/// too much hidden is better than a secret shown.
fn mask_userinfo(raw: &str) -> String {
    let Some(scheme_end) = raw.find("://").map(|i| i + 3) else {
        return raw.to_owned();
    };
    let rest = &raw[scheme_end..];
    let Some(at) = rest.rfind('@') else {
        return raw.to_owned();
    };
    let user = match rest[..at].split_once(':') {
        Some((user, _)) => format!("{user}:***"),
        None => rest[..at].to_owned(),
    };
    format!("{}{user}@{}", &raw[..scheme_end], &rest[at + 1..])
}

/// Masks the value of every `password=` key (any case) that starts the text or follows a
/// space, `?` or `&`; a value runs to the next space, `&` or `#` (or closing quote).
fn mask_password_params(s: &str) -> String {
    const KEY: &str = "password=";
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let at_key = s.is_char_boundary(i)
            && s.len() - i >= KEY.len()
            && s.as_bytes()[i..i + KEY.len()].eq_ignore_ascii_case(KEY.as_bytes())
            && (i == 0 || matches!(s.as_bytes()[i - 1], b' ' | b'?' | b'&' | b'\t'));
        if !at_key {
            let c = s[i..].chars().next().unwrap_or_default();
            out.push(c);
            i += c.len_utf8().max(1);
            continue;
        }
        out.push_str(&s[i..i + KEY.len()]);
        out.push_str("***");
        let value = &s[i + KEY.len()..];
        let len = match value.strip_prefix('\'') {
            // libpq quoting: 'a b\'c'
            Some(q) => {
                let mut end = q.len();
                let mut chars = q.char_indices();
                while let Some((j, c)) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '\'' => {
                            end = j + 1;
                            break;
                        }
                        _ => {}
                    }
                }
                1 + end
            }
            None => value.find([' ', '\t', '&', '#']).unwrap_or(value.len()),
        };
        i += KEY.len() + len;
    }
    out
}

/// A parser's error text about a URL, unless it could carry any part of the URL's secret.
fn parser_detail(raw: &str, error: &dyn std::fmt::Display) -> String {
    let text = error.to_string();
    let secret_shown = secrets(raw)
        .iter()
        .any(|secret| !secret.is_empty() && text.contains(secret.as_str()));
    if secret_shown {
        "(the parser's message is withheld: it quotes the password)".to_owned()
    } else {
        format!("({text})")
    }
}

/// The secrets a URL-like text holds: its userinfo password and `password=` values.
fn secrets(raw: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(scheme_end) = raw.find("://").map(|i| i + 3) {
        let rest = &raw[scheme_end..];
        if let Some(at) = rest.rfind('@') {
            if let Some((_, password)) = rest[..at].split_once(':') {
                out.push(password.to_owned());
            }
        }
    }
    let lower = raw.to_ascii_lowercase();
    for (i, _) in lower.match_indices("password=") {
        let value = &raw[i + "password=".len()..];
        let end = value.find([' ', '\t', '&', '#']).unwrap_or(value.len());
        out.push(value[..end].trim_matches('\'').to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    const BASE: [(&str, &str); 2] = [
        ("DATABASE_URL", "postgres://memlink:s3cret@db:5432/memlink"),
        ("REDIS_URL", "redis://:hunter2@cache:6379/0"),
    ];

    #[test]
    fn defaults() {
        let c = Config::from_lookup(&lookup(&BASE)).unwrap();
        assert_eq!(c.http_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(c.stream, "memlink:events");
        assert_eq!(c.group, "memlink-workers");
        assert_eq!(c.reclaim_idle, Duration::from_secs(30));
        assert!(c.consumer.ends_with(&format!("-{}", std::process::id())));
        assert_eq!(c.admin_token, None);
        // Two workers share the process's 500 entries in flight (src/daemon.rs).
        assert_eq!(c.workers, 2);
    }

    #[test]
    fn retentions_default_to_an_hour_a_week_and_thirty_days_and_accept_seconds() {
        let c = Config::from_lookup(&lookup(&BASE)).unwrap();
        assert_eq!(
            c.retention,
            Retention {
                stream: Duration::from_secs(3_600),
                processed: Duration::from_secs(604_800),
                dead_letters: Duration::from_secs(2_592_000),
            }
        );
        let mut env = BASE.to_vec();
        env.extend([
            (vars::STREAM_RETENTION_SECS, "2"),
            (vars::RETENTION_SECS, "5"),
            (vars::DEAD_LETTER_RETENTION_SECS, "7"),
        ]);
        let c = Config::from_lookup(&lookup(&env)).unwrap();
        assert_eq!(
            (
                c.retention.stream,
                c.retention.processed,
                c.retention.dead_letters
            ),
            (
                Duration::from_secs(2),
                Duration::from_secs(5),
                Duration::from_secs(7)
            )
        );
        for bad in ["0", "-1", "1h"] {
            let mut env = BASE.to_vec();
            env.push((vars::RETENTION_SECS, bad));
            assert!(
                matches!(
                    Config::from_lookup(&lookup(&env)),
                    Err(ConfigError::Invalid {
                        var: vars::RETENTION_SECS,
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_console_mode_defaults_by_token_and_address() {
        let mode = |extra: &[(&str, &str)]| {
            let mut env = BASE.to_vec();
            env.extend_from_slice(extra);
            Config::from_lookup(&lookup(&env)).map(|c| c.console)
        };
        assert_eq!(mode(&[]), Ok(ConsoleMode::ReadOnly));
        assert_eq!(
            mode(&[("MEMLINK_HTTP_ADDR", "[::1]:8080")]),
            Ok(ConsoleMode::ReadOnly)
        );
        assert_eq!(
            mode(&[("MEMLINK_HTTP_ADDR", "0.0.0.0:8080")]),
            Ok(ConsoleMode::Off)
        );
        assert_eq!(
            mode(&[("MEMLINK_HTTP_ADDR", "10.1.2.3:8080")]),
            Ok(ConsoleMode::Off)
        );
        assert_eq!(
            mode(&[
                ("MEMLINK_ADMIN_TOKEN", "t"),
                ("MEMLINK_HTTP_ADDR", "0.0.0.0:8080")
            ]),
            Ok(ConsoleMode::On)
        );
        assert_eq!(
            mode(&[
                ("MEMLINK_ADMIN_TOKEN", "t"),
                ("MEMLINK_CONSOLE", "read-only")
            ]),
            Ok(ConsoleMode::ReadOnly)
        );
        assert_eq!(
            mode(&[("MEMLINK_ADMIN_TOKEN", "t"), ("MEMLINK_CONSOLE", "OFF")]),
            Ok(ConsoleMode::Off)
        );
        assert_eq!(
            mode(&[
                ("MEMLINK_CONSOLE", "read-only"),
                ("MEMLINK_HTTP_ADDR", "0.0.0.0:8080")
            ]),
            Ok(ConsoleMode::ReadOnly)
        );
        let e = mode(&[("MEMLINK_CONSOLE", "on")]).unwrap_err().to_string();
        assert!(
            e.starts_with("MEMLINK_CONSOLE is invalid") && e.contains("MEMLINK_ADMIN_TOKEN"),
            "{e}"
        );
        let e = mode(&[("MEMLINK_CONSOLE", "yes")]).unwrap_err().to_string();
        assert!(e.contains("off, read-only or on"), "{e}");
    }

    #[test]
    fn errors_name_the_variable_and_hide_secrets() {
        let e = Config::from_lookup(&lookup(&[BASE[1]])).unwrap_err();
        assert_eq!(e, ConfigError::Missing("DATABASE_URL"));
        let mut bad = BASE.to_vec();
        bad.push(("MEMLINK_HTTP_ADDR", "not-an-addr"));
        let e = Config::from_lookup(&lookup(&bad)).unwrap_err().to_string();
        assert!(e.starts_with("MEMLINK_HTTP_ADDR is invalid"), "{e}");
        let mut bad = BASE.to_vec();
        bad.push(("MEMLINK_RECLAIM_IDLE_SECS", "1.5"));
        assert!(Config::from_lookup(&lookup(&bad)).is_err());
        let c = Config::from_lookup(&lookup(&BASE)).unwrap();
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("hunter2"),
            "{shown}"
        );
    }

    #[test]
    fn llm_is_off_by_default_and_needs_an_endpoint() {
        let c = Config::from_lookup(&lookup(&BASE)).unwrap();
        assert_eq!(c.llm, None);
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut v = BASE.to_vec();
            v.extend_from_slice(extra);
            Config::from_lookup(&lookup(&v))
        };
        assert_eq!(
            with(&[("MEMLINK_EXTRACTOR", "llm")]).unwrap_err(),
            ConfigError::Missing("MEMLINK_LLM_BASE_URL")
        );
        assert_eq!(
            with(&[
                ("MEMLINK_EXTRACTOR", "both"),
                ("MEMLINK_LLM_BASE_URL", "http://127.0.0.1:11434/v1")
            ])
            .unwrap_err(),
            ConfigError::Missing("MEMLINK_LLM_MODEL")
        );
        let e = with(&[("MEMLINK_EXTRACTOR", "gpt")])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("MEMLINK_EXTRACTOR is invalid"), "{e}");
        let e = with(&[
            ("MEMLINK_EXTRACTOR", "llm"),
            ("MEMLINK_LLM_BASE_URL", "ftp://u:pw@api.example/v1"),
            ("MEMLINK_LLM_MODEL", "m"),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("expected an http:// or https:// URL") && !e.contains("pw@"),
            "{e}"
        );
        let e = with(&[
            ("MEMLINK_EXTRACTOR", "llm"),
            ("MEMLINK_LLM_BASE_URL", "https://api.example/v1"),
            ("MEMLINK_LLM_MODEL", "m"),
            ("MEMLINK_LLM_CA_FILE", "/nonexistent/ca.pem"),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("MEMLINK_LLM_CA_FILE is invalid") && e.contains("/nonexistent/ca.pem"),
            "{e}"
        );
        let e = with(&[
            ("MEMLINK_EXTRACTOR", "llm"),
            ("MEMLINK_LLM_BASE_URL", "http://127.0.0.1:11434/v1"),
            ("MEMLINK_LLM_MODEL", "m"),
            ("MEMLINK_LLM_CA_FILE", "/etc/ssl/certs/ca-certificates.crt"),
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("not https://"), "{e}");
        let c = with(&[
            ("MEMLINK_EXTRACTOR", "Both"),
            ("MEMLINK_LLM_BASE_URL", "http://127.0.0.1:11434/v1/"),
            ("MEMLINK_LLM_MODEL", "llama3.2"),
            ("MEMLINK_LLM_API_KEY", "sk-very-secret"),
            ("MEMLINK_LLM_TIMEOUT_SECS", "1.5"),
        ])
        .unwrap();
        let llm = c.llm.clone().unwrap();
        assert_eq!(llm.mode, LlmMode::Both);
        assert_eq!(llm.base_url, "http://127.0.0.1:11434/v1");
        assert_eq!(llm.timeout, Duration::from_millis(1500));
        assert_eq!((llm.concurrency, llm.max_retries), (4, 2));
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("sk-very-secret") && shown.contains("***"),
            "{shown}"
        );
        assert!(with(&[
            ("MEMLINK_EXTRACTOR", "llm"),
            ("MEMLINK_LLM_BASE_URL", "http://h/v1"),
            ("MEMLINK_LLM_MODEL", "m"),
            ("MEMLINK_LLM_CONCURRENCY", "0"),
        ])
        .is_err());
    }

    #[test]
    fn tls_settings_are_checked_when_loaded() {
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut v = BASE.to_vec();
            v.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
            v.extend_from_slice(extra);
            Config::from_lookup(&lookup(&v))
        };
        let e = with(&[(
            "MEMLINK_REDIS_CA_FILE",
            "/etc/ssl/certs/ca-certificates.crt",
        )])
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("MEMLINK_REDIS_CA_FILE is invalid") && e.contains("not rediss://"),
            "{e}"
        );
        let e = with(&[
            ("REDIS_URL", "rediss://:hunter2@cache:6380/0"),
            ("MEMLINK_REDIS_CA_FILE", "/nonexistent/redis-ca.pem"),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("/nonexistent/redis-ca.pem") && !e.contains("hunter2"),
            "{e}"
        );
        let e = with(&[(
            "DATABASE_URL",
            "postgres://memlink:s3cret@db/memlink?sslmode=verify-everything",
        )])
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("DATABASE_URL is invalid")
                && e.contains("sslmode")
                && !e.contains("s3cret"),
            "{e}"
        );
        let c = with(&[(
            "DATABASE_URL",
            "postgres://memlink:s3cret@db/memlink?sslmode=require",
        )])
        .unwrap();
        assert!(c.database_url.ends_with("sslmode=require"));
    }

    #[test]
    fn redaction() {
        assert_eq!(
            redact_url("postgres://u:pw@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(
            redact_url("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
        assert_eq!(
            redact_url("host=h user=u password=pw dbname=d"),
            "host=h user=u password=*** dbname=d"
        );
        // URLs that do not parse lose their secret all the same.
        for (raw, secret, shown) in [
            (
                "postgres://u:LeakMe1@127.0.0.1:notaport/db",
                "LeakMe1",
                "postgres://u:***@127.0.0.1:notaport/db",
            ),
            (
                "redis://:LeakR1@127.0.0.1:notaport/0",
                "LeakR1",
                "redis://:***@127.0.0.1:notaport/0",
            ),
            (
                "postgres://u:pw9@[::1/db",
                "pw9",
                "postgres://u:***@[::1/db",
            ),
            ("postgres://u:a/b?c@h/db", "a/b?c", "postgres://u:***@h/db"),
            ("postgres://u:x@y@h/db", "x@y", "postgres://u:***@h/db"),
            (
                "postgres://h:bad/db?user=u&Password=Sec9&x=1",
                "Sec9",
                "postgres://h:bad/db?user=u&Password=***&x=1",
            ),
            (
                "host=h password='a b\\'c' dbname=d",
                "a b",
                "host=h password=*** dbname=d",
            ),
        ] {
            let r = redact_url(raw);
            assert_eq!(r, shown, "{raw}");
            assert!(!r.contains(secret), "{raw} -> {r}");
        }
    }

    #[test]
    fn unparsable_urls_are_refused_without_their_password() {
        for (var, url) in [
            ("DATABASE_URL", "postgres://u:LeakMe1@127.0.0.1:notaport/db"),
            ("DATABASE_URL", "postgres://u:LeakMe1@[::1/db"),
            ("REDIS_URL", "redis://:LeakMe1@127.0.0.1:notaport/0"),
        ] {
            let mut env = BASE.to_vec();
            env.retain(|(k, _)| *k != var);
            env.push((var, url));
            let e = Config::from_lookup(&lookup(&env)).unwrap_err().to_string();
            assert!(e.starts_with(&format!("{var} is invalid")), "{e}");
            assert!(!e.contains("LeakMe1"), "{e}");
        }
    }
}

//! `memlink doctor`: connects to Postgres and Redis (and, when given, a running daemon's
//! admin endpoint), runs the diagnosis ([`crate::ops::diagnose`]) and prints it for a human (or as
//! JSON). Exit 0: nothing wrong; 1: warnings; 2: at least one critical finding.
//!
//! It only reads and never needs the daemon to be up: an unreachable dependency is itself a
//! finding, named with its redacted URL. It must never print a password or a token.

use std::time::Duration;

use serde_json::{json, Value};

use crate::config::{redact_url, Config};
use crate::error_text::scrub;
use crate::ops::diagnose::{
    self, effective_reclaim_idle_secs, DaemonFacts, Finding, Severity, Snapshot, Target,
    Thresholds, Unreachable,
};
use crate::postgres;

pub struct DoctorOptions {
    pub json: bool,
    pub admin_url: Option<String>,
    pub admin_token: Option<String>,
    pub outbox_stale: Duration,
}

/// How long to wait for each dependency to answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub mod exit {
    pub const HEALTHY: u8 = 0;
    pub const WARNINGS: u8 = 1;
    pub const CRITICAL: u8 = 2;
}

pub fn target(config: &Config) -> Target {
    Target {
        database: redact_url(&config.database_url),
        redis: redact_url(&config.redis_url),
        stream: config.stream.clone(),
        group: config.group.clone(),
        reclaim_idle_secs: config.reclaim_idle.as_secs(),
        reconcile_after_secs: std::env::var("MEMLINK_RECONCILE_AFTER_SECS").ok(),
    }
}

pub fn exit_code(findings: &[Finding]) -> u8 {
    match findings.iter().map(|f| f.severity).max() {
        Some(Severity::Critical) => exit::CRITICAL,
        Some(Severity::Warning) => exit::WARNINGS,
        _ => exit::HEALTHY,
    }
}

pub fn run(config: &Config, opts: &DoctorOptions) -> u8 {
    let daemon = opts
        .admin_url
        .as_deref()
        .map(|url| probe_daemon(url, opts.admin_token.as_deref()));
    let thresholds = Thresholds {
        outbox_stale: opts.outbox_stale,
        ..Thresholds::default()
    };
    let snapshot = actix_web::rt::System::new().block_on(gather(config, daemon));
    let findings = diagnose::evaluate(&snapshot, &thresholds);
    let code = exit_code(&findings);
    if opts.json {
        let out = json!({
            "exit_code": code,
            "findings": findings,
            "snapshot": snapshot_json(&snapshot),
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&out).unwrap_or_else(|_| out.to_string())
        );
    } else {
        print!("{}", render(&snapshot, &findings, code));
    }
    code
}

/// Reads everything, each dependency probed directly first so that an unreachable one is
/// reported with its real cause (a pool would only say "timed out").
pub async fn gather(config: &Config, daemon: Option<DaemonFacts>) -> Snapshot {
    let target = target(config);
    let postgres = match probe_postgres(&config.database_url).await {
        Err(error) => Err(error),
        Ok(connector) => diagnose::gather_postgres(&connector.pool(2)).await,
    }
    .map_err(|error| Unreachable {
        url: target.database.clone(),
        error,
    });
    let reclaim = effective_reclaim_idle_secs(&target, postgres.as_ref().ok());
    let stuck_after = target.stuck_after(reclaim, Thresholds::default().stuck_factor);
    let ca_file = config.redis_ca_file.as_deref();
    let redis = match probe_redis(&config.redis_url, ca_file).await {
        Err(error) => Err(error),
        Ok(()) => match crate::redis::build_pool(&config.redis_url, ca_file, 2) {
            Ok(pool) => diagnose::gather_redis(&pool, &target, stuck_after).await,
            Err(e) => Err(e.to_string()),
        },
    }
    .map_err(|error| Unreachable {
        url: target.redis.clone(),
        error,
    });
    Snapshot {
        expected_schema: postgres::expected_schema_version(),
        target,
        postgres,
        redis,
        daemon,
    }
}

/// Connects once, for the real cause of a failure; the connector is reused for the pool.
async fn probe_postgres(url: &str) -> Result<postgres::PgConnector, String> {
    let connector = postgres::PgConnector::from_url(url).map_err(|e| scrub(e.to_string(), url))?;
    match actix_web::rt::time::timeout(CONNECT_TIMEOUT, connector.probe()).await {
        Err(_) => Err(format!("no answer within {CONNECT_TIMEOUT:?}")),
        Ok(Err(e)) => Err(scrub(e.to_string(), url)),
        Ok(Ok(())) => Ok(connector),
    }
}

async fn probe_redis(url: &str, ca_file: Option<&std::path::Path>) -> Result<(), String> {
    match actix_web::rt::time::timeout(CONNECT_TIMEOUT, crate::redis::connect::probe(url, ca_file))
        .await
    {
        Err(_) => Err(format!("no answer within {CONNECT_TIMEOUT:?}")),
        Ok(Err(e)) => Err(scrub(e.to_string(), url)),
        Ok(Ok(())) => Ok(()),
    }
}

/// Asks a running daemon whether it is ready (and whether the token is accepted).
pub fn probe_daemon(base: &str, token: Option<&str>) -> DaemonFacts {
    let base = base.trim_end_matches('/');
    let mut facts = DaemonFacts {
        url: base.to_owned(),
        unreachable: None,
        ready: None,
        reasons: Vec::new(),
        unauthorized: false,
    };
    let agent = ureq::AgentBuilder::new().timeout(CONNECT_TIMEOUT).build();
    match agent.get(&format!("{base}/readyz")).call() {
        Ok(resp) => {
            facts.ready = Some(true);
            let _ = resp.into_string();
        }
        Err(ureq::Error::Status(503, resp)) => {
            facts.ready = Some(false);
            let body: Value = resp
                .into_string()
                .ok()
                .and_then(|s| serde_json::from_str(&s).ok())
                .unwrap_or(Value::Null);
            facts.reasons = body["reasons"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|r| r.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
        }
        Err(ureq::Error::Status(code, _)) => {
            facts.unreachable = Some(format!("/readyz answered HTTP {code}"));
            return facts;
        }
        Err(e) => {
            facts.unreachable = Some(e.to_string());
            return facts;
        }
    }
    let mut status = agent.get(&format!("{base}/admin/status"));
    if let Some(t) = token {
        status = status.set("Authorization", &format!("Bearer {t}"));
    }
    if let Err(ureq::Error::Status(401, _)) = status.call() {
        facts.unauthorized = true;
    }
    facts
}

fn snapshot_json(s: &Snapshot) -> Value {
    let side = |r: Result<Value, &Unreachable>| match r {
        Ok(v) => json!({"reachable": true, "facts": v}),
        Err(u) => json!({"reachable": false, "url": u.url, "error": u.error}),
    };
    json!({
        "expected_schema": s.expected_schema,
        "target": s.target,
        "postgres": side(s.postgres.as_ref().map(|p| json!(p))),
        "redis": side(s.redis.as_ref().map(|r| json!(r))),
        "daemon": s.daemon,
    })
}

fn icon(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "❌ CRITICAL",
        Severity::Warning => "⚠️  WARNING",
        Severity::Info => "ℹ️  INFO",
    }
}

/// The human report.
pub fn render(s: &Snapshot, findings: &[Finding], code: u8) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "memlink doctor {} — stream {} group {}",
        env!("CARGO_PKG_VERSION"),
        s.target.stream,
        s.target.group
    );
    match &s.postgres {
        Ok(pg) => {
            let outbox = pg
                .outbox
                .as_ref()
                .map_or("outbox table missing".to_owned(), |o| {
                    format!(
                        "{} outbox events pending (oldest {:.0}s)",
                        o.pending, o.oldest_pending_age_s
                    )
                });
            let dead: i64 = pg.dead_letters.iter().flatten().map(|g| g.count).sum();
            let _ = writeln!(
                o,
                "  postgres   ✅ {} — schema {}/{}, {outbox}, {dead} dead letters open",
                s.target.database, pg.schema_version, s.expected_schema
            );
            match &pg.heartbeats {
                Some(hb) => {
                    let live: Vec<_> = hb.iter().filter(|h| h.live).collect();
                    let _ = writeln!(o, "  processes  {} alive", live.len());
                    for h in live {
                        let _ = writeln!(
                            o,
                            "             {} {} on {} pid {} — {} stream {} group {}, up {:.0}s",
                            h.role,
                            h.instance_id,
                            h.host,
                            h.pid,
                            h.bus,
                            h.stream,
                            h.group,
                            h.started_ago_s
                        );
                    }
                }
                None => {
                    let _ = writeln!(o, "  processes  (no heartbeats table: schema behind)");
                }
            }
        }
        Err(u) => {
            let _ = writeln!(o, "  postgres   ❌ {} — {}", u.url, u.error);
        }
    }
    match &s.redis {
        Ok(r) => {
            let persistence = match &r.persistence {
                Some(p) if p.persistent() => "persistent",
                Some(_) => "NOT persistent",
                None => "persistence unknown",
            };
            let _ = writeln!(
                o,
                "  redis      ✅ {} — length {}, pending {}, lag {}, {} consumers, {persistence}",
                s.target.redis,
                r.stream.length,
                r.stream.pending,
                r.stream.lag.map_or("unknown".to_owned(), |l| l.to_string()),
                r.stream.consumers
            );
        }
        Err(u) => {
            let _ = writeln!(o, "  redis      ❌ {} — {}", u.url, u.error);
        }
    }
    if let Some(d) = &s.daemon {
        let state = match (&d.unreachable, d.ready) {
            (Some(e), _) => format!("❌ unreachable: {e}"),
            (None, Some(true)) => "✅ ready".to_owned(),
            (None, _) => format!("❌ not ready: {}", d.reasons.join("; ")),
        };
        let _ = writeln!(o, "  daemon     {} — {state}", d.url);
    }
    let _ = writeln!(o);
    if findings.is_empty() {
        let _ = writeln!(o, "✅ no problems found");
    } else {
        let _ = writeln!(o, "Findings:");
        for f in findings {
            let _ = writeln!(o, "  {} {}: {}", icon(f.severity), f.code, f.message);
            let _ = writeln!(o, "      → {}", f.runbook);
        }
    }
    let critical = findings
        .iter()
        .filter(|f| f.severity == Severity::Critical)
        .count();
    let warnings = findings
        .iter()
        .filter(|f| f.severity == Severity::Warning)
        .count();
    let _ = writeln!(
        o,
        "\n{critical} critical, {warnings} warning(s); exit {code}. Details per code: docs/runbook.md"
    );
    o
}

//! memlink-bench: pushes events through a running daemon and prints throughput and latency.
//!
//! Three modes, each printing stable `key=value` lines:
//! - default: writes `message.created` events straight into the daemon's outbox, as a
//!   producer would (preloaded, or paced with `--rate`), waits until the worker has processed
//!   them all and reads the timings back from Postgres: latency is outbox `created_at` (the
//!   producer's transaction) → the worker's `processed_events.processed_at` (the transaction
//!   that wrote the event's effects). Paced runs add the latency to the effects' commit: from
//!   the daemon's histogram and, where the server records commit timestamps
//!   (`track_commit_timestamp = on`), exactly, from PostgreSQL's (`latency_to_commit_ts_ms`).
//! - `--history ROUNDS`: rounds of `--round` events from `--users` users, half of them saying
//!   a new liked thing (multi-valued) and half a new city (single-valued, so each one ends the
//!   last), printing events/s per round as each user's statements per (user, predicate) grow.
//! - `--ingest`: the chat API's `POST /v1/chats/{id}/messages` rate at `--connections`
//!   concurrent keep-alive connections for `--seconds`, beside pgbench running the same two
//!   inserts (message + outbox row) in one transaction at the same concurrency, while the
//!   daemon processes what arrives.
//!
//! - `--soak --minutes N`: steady traffic (`--rate` events/s, default 100, written into the
//!   outbox in ten producer transactions a second) for N minutes, printing every
//!   `--sample-secs` the stream length, the row counts of the tables retention bounds (and of
//!   those that grow with user data), Redis `used_memory` and the daemon's resident memory, then
//!   each series' first, last and highest value. Run the daemon with short retentions
//!   (`MEMLINK_STREAM_RETENTION_SECS`, `MEMLINK_RETENTION_SECS`); see docs/benchmarks.md.
//!
//! It only measures; it never changes what the daemon does. Its SQL and Redis commands are the
//! adapters' (`memlink::postgres::bench`, `memlink::redis::bench`): none is written here.
#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use memlink::postgres::bench::{self, BenchEvent, PreparedInsert};
use memlink::redis::bench::BenchRedis;
use tokio_postgres::Client;
use uuid::Uuid;

#[derive(Debug, Parser)]
#[command(
    name = "memlink-bench",
    about = "Push events through a running memlink and print events/s and latency"
)]
struct Args {
    /// Events to send.
    #[arg(long, default_value_t = 20_000)]
    events: usize,
    /// Distinct chats the events are spread over.
    #[arg(long, default_value_t = 1_000)]
    chats: usize,
    /// Events per second; 0 preloads them all at once (throughput mode).
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// The daemon's pid, to report its peak resident memory.
    #[arg(long)]
    daemon_pid: Option<u32>,
    /// Give up waiting after this many seconds.
    #[arg(long, default_value_t = 600)]
    timeout_secs: u64,
    /// History mode: this many rounds.
    #[arg(long)]
    history: Option<usize>,
    /// History mode: events per round.
    #[arg(long, default_value_t = 5_000)]
    round: usize,
    /// History mode: distinct users.
    #[arg(long, default_value_t = 5)]
    users: usize,
    /// Ingest mode: POST through the chat API and compare with pgbench.
    #[arg(long)]
    ingest: bool,
    /// Ingest mode: the daemon's HTTP address.
    #[arg(long, default_value = "127.0.0.1:8080")]
    http: String,
    /// Ingest mode: concurrent connections (and pgbench clients).
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// Ingest mode: seconds each side runs.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Throughput mode, as the peer's harness measures: preload every event first, then start
    /// this daemon binary (with the same environment) and time from its start to the last
    /// event processed.
    #[arg(long)]
    spawn_daemon: Option<String>,
    /// Soak mode: steady traffic for `--minutes`, sampling storage over time.
    #[arg(long)]
    soak: bool,
    /// Soak mode: how long.
    #[arg(long, default_value_t = 10)]
    minutes: u64,
    /// Soak mode: seconds between samples.
    #[arg(long, default_value_t = 15)]
    sample_secs: u64,
}

/// A `message.created` payload by the engine's own encoder, as the chat API writes it.
fn message_payload(chat: Uuid, user: &str, content: &str) -> serde_json::Value {
    use memlink_actors::domain::{
        ChatId, Content, EventId, MessageCreated, MessageId, Role, UserId,
    };
    let (Ok(user_id), Ok(content)) = (UserId::try_new(user), Content::try_new(content)) else {
        // The bench writes only valid messages; an invalid one here is a bench bug.
        panic!("bench message {user:?} / {content:?} is not valid");
    };
    memlink_actors::decode::encode_message_created(&MessageCreated {
        event_id: EventId(Uuid::nil()),
        message_id: MessageId(Uuid::new_v4()),
        chat_id: ChatId(chat),
        user_id,
        role: Role::User,
        content,
        created_at: chrono::Utc::now(),
    })
}

fn event(i: usize, chats: &[Uuid], run: &str) -> BenchEvent {
    let chat = chats[i % chats.len()];
    let content = match i % 4 {
        0 => format!("My name is User{run}x{i}."),
        1 => format!("I live in City{}.", i % 97),
        2 => "What a lovely day it is today, thanks for asking!".to_owned(),
        _ => format!("I work at Company{} and I like hiking.", i % 53),
    };
    let payload = message_payload(chat, &format!("bench-{run}-{}", i % 5_000), &content);
    BenchEvent {
        id: Uuid::new_v4(),
        chat: chat.to_string(),
        payload,
    }
}

/// CPU seconds (user + system) used so far by live processes, by command name.
fn cpu_by_name() -> std::collections::HashMap<String, f64> {
    let mut out = std::collections::HashMap::new();
    let ticks = 100.0; // USER_HZ on Linux
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close].to_owned();
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let (Some(u), Some(s)) = (fields.get(11), fields.get(12)) else {
            continue;
        };
        let secs = (u.parse::<f64>().unwrap_or(0.0) + s.parse::<f64>().unwrap_or(0.0)) / ticks;
        *out.entry(name).or_insert(0.0) += secs;
    }
    out
}

/// Where the CPU went between two [`cpu_by_name`] samples.
fn print_cpu(before: &std::collections::HashMap<String, f64>, wall: f64) {
    let after = cpu_by_name();
    let used = |name: &str| {
        after.get(name).copied().unwrap_or(0.0) - before.get(name).copied().unwrap_or(0.0)
    };
    println!(
        "cpu_seconds daemon={:.1} postgres={:.1} redis={:.1} wall={wall:.1}",
        used("memlink"),
        used("postgres"),
        used("redis-server")
    );
}

fn peak_rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// The daemon's `/metrics` exposition, over one plain HTTP/1.0 request.
async fn scrape_metrics(addr: &str) -> anyhow::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let request = format!("GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    match response.split_once("\r\n\r\n") {
        Some((head, body))
            if head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200") =>
        {
            Ok(body.to_owned())
        }
        _ => bail!("/metrics did not answer 200"),
    }
}

/// The q-quantile of a Prometheus histogram given as (upper bound, cumulative count) pairs in
/// ascending order, interpolated linearly within the bucket it falls in (as PromQL's
/// `histogram_quantile` does); `None` without observations or past the last finite bucket.
fn histogram_quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let (mut lower, mut below) = (0.0, 0.0);
    for &(bound, count) in buckets {
        if count >= rank {
            if !bound.is_finite() {
                return None;
            }
            let inside = count - below;
            let share = if inside > 0.0 {
                (rank - below) / inside
            } else {
                1.0
            };
            return Some(lower + (bound - lower) * share);
        }
        (lower, below) = (bound, count);
    }
    None
}

/// p50 and p99 of the daemon's `memlink_end_to_end_latency_seconds`: from each message's
/// `created_at` to the commit of its effects, which the outbox's timestamps cannot show (the
/// effects transaction's `now()` is its start).
fn commit_latency(exposition: &str) -> Option<(f64, f64)> {
    let mut buckets: Vec<(f64, f64)> = exposition
        .lines()
        .filter_map(|l| l.strip_prefix("memlink_end_to_end_latency_seconds_bucket{le=\""))
        .filter_map(|rest| {
            let (bound, count) = rest.split_once("\"} ")?;
            let bound = if bound == "+Inf" {
                f64::INFINITY
            } else {
                bound.parse().ok()?
            };
            Some((bound, count.trim().parse().ok()?))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    Some((
        histogram_quantile(0.5, &buckets)?,
        histogram_quantile(0.99, &buckets)?,
    ))
}

/// Inserts events into the outbox in chunks of 1,000 rows.
async fn preload(client: &Client, events: &[BenchEvent]) -> anyhow::Result<()> {
    for chunk in events.chunks(1_000) {
        bench::insert_events(client, chunk).await?;
    }
    Ok(())
}

/// Waits until every event is processed.
async fn wait_processed(client: &Client, ids: &[Uuid], timeout: Duration) -> anyhow::Result<i64> {
    let deadline = Instant::now() + timeout;
    // The last events inserted are usually the last processed: only when they are done is
    // the whole set counted (the count itself costs PostgreSQL time the daemon needs).
    let tail = &ids[ids.len().saturating_sub(50)..];
    loop {
        let done = bench::processed_count(client, tail).await?;
        if (done as usize) < tail.len() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        let n = bench::processed_count(client, ids).await?;
        if n as usize >= ids.len() {
            return Ok(n);
        }
        if Instant::now() > deadline {
            bail!(
                "only {n} of {} events processed after {}s",
                ids.len(),
                timeout.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Rounds of new statements from a few users: per round, events/s; at the end, the last
/// round's rate as a share of the first.
async fn history(client: &Client, args: &Args, rounds: usize) -> anyhow::Result<()> {
    let run = format!("{:08x}", rand::random::<u32>());
    let chats: Vec<Uuid> = (0..args.users.max(1)).map(|_| Uuid::new_v4()).collect();
    let mut rates: Vec<f64> = Vec::new();
    let mut said = 0usize;
    for round in 1..=rounds {
        let events: Vec<BenchEvent> = (0..args.round)
            .map(|i| {
                let n = said + i;
                let user = n % args.users.max(1);
                let k = n / args.users.max(1);
                // Half a new liked thing (multi-valued), half a new city (single-valued).
                let content = if k.is_multiple_of(2) {
                    format!("I like thing{k}.")
                } else {
                    format!("I live in City{k}.")
                };
                let payload = message_payload(chats[user], &format!("hist-{run}-{user}"), &content);
                BenchEvent {
                    id: Uuid::new_v4(),
                    chat: chats[user].to_string(),
                    payload,
                }
            })
            .collect();
        said += args.round;
        let ids: Vec<Uuid> = events.iter().map(|e| e.id).collect();
        let started = Instant::now();
        preload(client, &events).await?;
        wait_processed(client, &ids, Duration::from_secs(args.timeout_secs)).await?;
        let eps = args.round as f64 / started.elapsed().as_secs_f64();
        let per_pair = said / args.users.max(1) / 2;
        println!("round={round} statements_per_user_predicate={per_pair} events_per_sec={eps:.0}");
        rates.push(eps);
    }
    let first = rates.first().copied().unwrap_or(0.0);
    let last = rates.last().copied().unwrap_or(0.0);
    // On a noisy machine single rounds swing; the means of the first and last three say more.
    let mean = |r: &[f64]| r.iter().sum::<f64>() / r.len().max(1) as f64;
    let (head, tail) = (
        mean(&rates[..rates.len().min(3)]),
        mean(&rates[rates.len().saturating_sub(3)..]),
    );
    println!(
        "history rounds={rounds} first_round_events_per_sec={first:.0} last_round_events_per_sec={last:.0} last_over_first={:.2} first3_mean={head:.0} last3_mean={tail:.0} last3_over_first3={:.2}",
        if first > 0.0 { last / first } else { 0.0 },
        if head > 0.0 { tail / head } else { 0.0 }
    );
    Ok(())
}

/// One keep-alive connection POSTing messages until `until`; returns how many got 201.
async fn poster(
    addr: std::net::SocketAddr,
    until: Instant,
    chats: Vec<Uuid>,
) -> anyhow::Result<u64> {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let mut stream = BufReader::new(stream);
    let mut ok = 0u64;
    let mut n = 0usize;
    while Instant::now() < until {
        let chat = chats[n % chats.len()];
        n += 1;
        let body = format!(
            r#"{{"user_id": "ingest-{}", "role": "user", "content": "I live in City{}."}}"#,
            n % 97,
            n % 53
        );
        let request = format!(
            "POST /v1/chats/{chat}/messages HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.get_mut().write_all(request.as_bytes()).await?;
        let mut status = String::new();
        stream.read_line(&mut status).await?;
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            stream.read_line(&mut line).await?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut rest = vec![0u8; length];
        stream.read_exact(&mut rest).await?;
        if status.split_whitespace().nth(1) == Some("201") {
            ok += 1;
        }
    }
    Ok(ok)
}

/// The chat API's POST rate, then pgbench's producer rate, at the same concurrency.
async fn ingest(url: &str, args: &Args) -> anyhow::Result<()> {
    let addr: std::net::SocketAddr = args.http.parse().context("--http")?;
    let chats: Vec<Uuid> = (0..1_000).map(|_| Uuid::new_v4()).collect();
    let until = Instant::now() + Duration::from_secs(args.seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.connections)
        .map(|_| tokio::spawn(poster(addr, until, chats.clone())))
        .collect();
    let mut posts = 0u64;
    for t in tasks {
        posts += t.await??;
    }
    let http_rate = posts as f64 / started.elapsed().as_secs_f64();
    println!(
        "ingest connections={} http_posts_per_sec={http_rate:.0}",
        args.connections
    );
    // The same two inserts in one transaction, as the chat API does, minus HTTP and JSON.
    let script = std::env::temp_dir().join(format!("memlink-producer-{}.sql", std::process::id()));
    std::fs::write(&script, bench::PGBENCH_PRODUCER_SCRIPT)?;
    let out = std::process::Command::new("pgbench")
        .args(["-n", "-M", "prepared", "-f"])
        .arg(&script)
        .args([
            "-c",
            &args.connections.to_string(),
            "-j",
            &args.connections.min(2).to_string(),
        ])
        .args(["-T", &args.seconds.to_string(), url])
        .output()
        .context("run pgbench (Debian package postgresql-client)")?;
    let _ = std::fs::remove_file(&script);
    let text = String::from_utf8_lossy(&out.stdout);
    let tps: f64 = text
        .lines()
        .find(|l| l.starts_with("tps"))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse().ok())
        .with_context(|| {
            format!(
                "pgbench said: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
    println!("pgbench_producer_tps={tps:.0}");
    println!(
        "ingest http_over_pgbench={:.2}",
        if tps > 0.0 { http_rate / tps } else { 0.0 }
    );
    Ok(())
}

/// The daemon's resident memory now (not its peak), in MiB.
fn rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// One sample of the soak: (name, value) in print order.
async fn soak_sample(
    client: &Client,
    redis: &mut BenchRedis,
    stream: &str,
    group: &str,
    daemon_pid: Option<u32>,
) -> anyhow::Result<Vec<(&'static str, f64)>> {
    let rows = bench::table_counts(client).await?;
    let sample = redis.sample(stream, group)?;
    let mut out = vec![
        ("stream_len", sample.length as f64),
        ("consumers", sample.consumers as f64),
        ("outbox_rows", rows.outbox_rows as f64),
        ("outbox_pending", rows.outbox_pending as f64),
        ("processed_events", rows.processed_events as f64),
        ("dead_letters", rows.dead_letters as f64),
        ("messages", rows.messages as f64),
        ("facts", rows.facts as f64),
        (
            "redis_used_memory_mb",
            sample.used_memory_bytes / 1_048_576.0,
        ),
    ];
    if let Some(rss) = daemon_pid.and_then(rss_mb) {
        out.push(("daemon_rss_mb", rss));
    }
    Ok(out)
}

/// Soak mode: steady traffic, storage sampled over time.
async fn soak(client: &Client, args: &Args) -> anyhow::Result<()> {
    let redis_url = std::env::var("REDIS_URL").context("REDIS_URL is not set")?;
    let stream = std::env::var("MEMLINK_STREAM").unwrap_or_else(|_| "memlink:events".into());
    let group = std::env::var("MEMLINK_GROUP").unwrap_or_else(|_| "memlink-workers".into());
    let mut redis = BenchRedis::open(&redis_url)?;
    let mut spawned = match &args.spawn_daemon {
        Some(bin) => Some(
            std::process::Command::new(bin)
                .arg("run")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .context("start the daemon")?,
        ),
        None => None,
    };
    let daemon_pid = spawned.as_ref().map(|c| c.id()).or(args.daemon_pid);
    let run = format!("{:08x}", rand::random::<u32>());
    let chats: Vec<Uuid> = (0..args.chats.max(1)).map(|_| Uuid::new_v4()).collect();
    let rate = if args.rate == 0 { 100 } else { args.rate };
    let per_tick = (rate as usize).div_ceil(10);
    let insert = PreparedInsert::prepare(client).await?;
    println!(
        "mode=soak minutes={} rate={rate}/s sample_secs={} stream={stream}",
        args.minutes, args.sample_secs
    );
    let started = Instant::now();
    let end = started + Duration::from_secs(args.minutes * 60);
    let mut next_tick = started;
    let mut next_sample = started;
    let mut sent = 0usize;
    let mut series: Vec<(&'static str, Vec<f64>)> = Vec::new();
    loop {
        let now = Instant::now();
        if now >= next_sample {
            let sample = soak_sample(client, &mut redis, &stream, &group, daemon_pid).await?;
            let line: Vec<String> = sample
                .iter()
                .map(|(k, v)| {
                    if k.ends_with("_mb") {
                        format!("{k}={v:.1}")
                    } else {
                        format!("{k}={v:.0}")
                    }
                })
                .collect();
            println!(
                "t={:>4}s sent={sent} {}",
                started.elapsed().as_secs(),
                line.join(" ")
            );
            for (k, v) in sample {
                match series.iter_mut().find(|(name, _)| *name == k) {
                    Some((_, values)) => values.push(v),
                    None => series.push((k, vec![v])),
                }
            }
            next_sample += Duration::from_secs(args.sample_secs.max(1));
            if now >= end {
                break;
            }
        }
        if now >= next_tick && now < end {
            let events: Vec<BenchEvent> = (sent..sent + per_tick)
                .map(|i| event(i, &chats, &run))
                .collect();
            insert.insert(client, &events).await?;
            sent += per_tick;
            next_tick += Duration::from_millis(100);
        }
        let wake = if now < end {
            next_tick.min(next_sample)
        } else {
            next_sample
        };
        if let Some(wait) = wake.checked_duration_since(Instant::now()) {
            tokio::time::sleep(wait).await;
        }
    }
    println!("summary: series first / last / max");
    for (k, values) in &series {
        let first = values.first().copied().unwrap_or(0.0);
        let last = values.last().copied().unwrap_or(0.0);
        let max = values.iter().copied().fold(f64::MIN, f64::max);
        println!("{k:<22} {first:>12.1} {last:>12.1} {max:>12.1}");
    }
    if let Some(child) = spawned.as_mut() {
        let _ = child.kill();
        let _ = child.wait();
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let url = std::env::var("DATABASE_URL").context("DATABASE_URL is not set")?;
    let (client, conn) = memlink::postgres::PgConnector::from_url(&url)?
        .connect()
        .await
        .context("connect to Postgres")?;
    tokio::spawn(conn);
    if let Some(rounds) = args.history {
        return history(&client, &args, rounds).await;
    }
    if args.ingest {
        return ingest(&url, &args).await;
    }
    if args.soak {
        return soak(&client, &args).await;
    }
    let run = format!("{:08x}", rand::random::<u32>());
    let chats: Vec<Uuid> = (0..args.chats.max(1)).map(|_| Uuid::new_v4()).collect();
    let mut ids = Vec::with_capacity(args.events);
    let cpu_before = cpu_by_name();
    let started = Instant::now();

    let mut spawned: Option<std::process::Child> = None;
    if args.rate == 0 {
        for chunk_start in (0..args.events).step_by(1_000) {
            let events: Vec<BenchEvent> = (chunk_start..(chunk_start + 1_000).min(args.events))
                .map(|i| event(i, &chats, &run))
                .collect();
            bench::insert_events(&client, &events).await?;
            ids.extend(events.iter().map(|e| e.id));
        }
        if let Some(bin) = &args.spawn_daemon {
            spawned = Some(
                std::process::Command::new(bin)
                    .arg("run")
                    .stdout(std::process::Stdio::null())
                    .spawn()
                    .context("start the daemon")?,
            );
        }
    } else {
        // One producer transaction per event, paced; prepared once, as a real producer would.
        let insert = PreparedInsert::prepare(&client).await?;
        let interval = Duration::from_secs_f64(1.0 / args.rate as f64);
        let mut next = Instant::now();
        for i in 0..args.events {
            let e = event(i, &chats, &run);
            insert.insert(&client, std::slice::from_ref(&e)).await?;
            ids.push(e.id);
            next += interval;
            if let Some(wait) = next.checked_duration_since(Instant::now()) {
                tokio::time::sleep(wait).await;
            }
        }
    }
    let inserted_in = started.elapsed();
    // With a spawned daemon the clock starts when it does, after the preload.
    let (clock, daemon_pid) = match &spawned {
        Some(child) => (Instant::now(), Some(child.id())),
        None => (started, args.daemon_pid),
    };
    let spawned_at = chrono::Utc::now();
    let done = wait_processed(&client, &ids, Duration::from_secs(args.timeout_secs)).await?;
    let wall = clock.elapsed().as_secs_f64();
    let r = bench::results(&client, &ids).await?;
    let (count, span, p50, p99, max) = (r.processed, r.span_s, r.p50_s, r.p99_s, r.max_s);
    // From the daemon's start when it was spawned after the preload (the peer's method);
    // otherwise from the first outbox insert.
    let (span, span_from) = match &spawned {
        Some(_) => {
            let last = bench::last_processed_at(&client, &ids).await?;
            (
                (last - spawned_at).num_microseconds().unwrap_or(0) as f64 / 1e6,
                "daemon start",
            )
        }
        None => (span, "first outbox insert"),
    };
    let facts = bench::facts_of(&client, &ids).await?;
    println!(
        "mode={}",
        if args.rate == 0 {
            "preloaded".to_owned()
        } else {
            format!("paced rate={}/s", args.rate)
        }
    );
    println!(
        "events={} processed={done} chats={} facts={facts}",
        args.events, args.chats
    );
    println!("insert_seconds={:.2}", inserted_in.as_secs_f64());
    println!(
        "events_per_sec={:.0}  ({span_from} to last event processed: {span:.2}s)",
        count as f64 / span,
    );
    println!(
        "latency_ms p50={:.1} p99={:.1} max={:.1}",
        p50 * 1e3,
        p99 * 1e3,
        max * 1e3
    );
    let st = bench::stage_latencies(&client, &ids).await?;
    let ms = |s: Option<f64>| s.unwrap_or(0.0) * 1e3;
    println!(
        "latency_stages_ms to_relay p50={:.1} p99={:.1} relay_to_worker p50={:.1} p99={:.1}",
        ms(st.to_relay_p50_s),
        ms(st.to_relay_p99_s),
        ms(st.relay_to_worker_p50_s),
        ms(st.relay_to_worker_p99_s)
    );
    if args.rate > 0 {
        // The daemon was started for this run, so its histogram holds these events only.
        match scrape_metrics(&args.http).await.map(|m| commit_latency(&m)) {
            Ok(Some((p50, p99))) => println!(
                "latency_to_commit_ms p50={:.1} p99={:.1}  (the daemon's histogram, interpolated within its buckets)",
                p50 * 1e3,
                p99 * 1e3
            ),
            Ok(None) => eprintln!("bench: the daemon's latency histogram has no figure"),
            Err(e) => eprintln!("bench: no latency to commit: {e:#}"),
        }
        match bench::commit_latencies(&client, &ids).await {
            Ok(Some(c)) => println!(
                "latency_to_commit_ts_ms p50={:.2} p99={:.2} max={:.1} effects_tx p50={:.2} p99={:.2}  (PostgreSQL's commit timestamps)",
                c.to_commit_p50_s * 1e3,
                c.to_commit_p99_s * 1e3,
                c.to_commit_max_s * 1e3,
                c.effects_tx_p50_s * 1e3,
                c.effects_tx_p99_s * 1e3
            ),
            Ok(None) => eprintln!(
                "bench: the server does not record commit timestamps (track_commit_timestamp = off): no exact latency to the commit"
            ),
            Err(e) => eprintln!("bench: no exact latency to the commit: {e:#}"),
        }
    }
    if let Some(rss) = daemon_pid.and_then(peak_rss_mb) {
        println!("daemon_peak_rss_mb={rss:.1}");
    }
    print_cpu(&cpu_before, wall);
    if let Some(mut child) = spawned {
        let _ = child.kill();
        let _ = child.wait();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_interpolated_within_their_bucket() {
        let exposition = "\
# TYPE memlink_end_to_end_latency_seconds histogram
memlink_end_to_end_latency_seconds_bucket{le=\"0.001\"} 0
memlink_end_to_end_latency_seconds_bucket{le=\"0.002\"} 50
memlink_end_to_end_latency_seconds_bucket{le=\"0.004\"} 98
memlink_end_to_end_latency_seconds_bucket{le=\"0.01\"} 100
memlink_end_to_end_latency_seconds_bucket{le=\"+Inf\"} 100
memlink_end_to_end_latency_seconds_sum 0.2
memlink_end_to_end_latency_seconds_count 100
";
        let (p50, p99) = commit_latency(exposition).expect("quantiles");
        // Rank 50 is the top of (1 ms, 2 ms]; rank 99 is 1 of the 2 in (4 ms, 10 ms].
        assert!((p50 - 0.002).abs() < 1e-12, "{p50}");
        assert!((p99 - 0.007).abs() < 1e-12, "{p99}");
    }

    #[test]
    fn no_observations_or_only_the_infinite_bucket_give_no_quantile() {
        assert_eq!(
            histogram_quantile(0.5, &[(0.001, 0.0), (f64::INFINITY, 0.0)]),
            None
        );
        assert_eq!(
            histogram_quantile(0.5, &[(0.001, 0.0), (f64::INFINITY, 4.0)]),
            None
        );
        assert_eq!(commit_latency("memlink_batch_size_count 3\n"), None);
    }
}

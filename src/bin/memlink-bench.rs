//! memlink-bench: pushes events through a running daemon and prints throughput and latency.
//!
//! It writes `message.created` events straight into the daemon's outbox, as a producer would,
//! then waits until the worker has processed them all and reads the timings back from
//! Postgres: latency is outbox `created_at` (the producer's transaction) → the worker's
//! `processed_events.processed_at` (the transaction that wrote the event's effects).
//! It only measures; it never changes what the daemon does.
#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use serde_json::json;
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
}

const INSERT_EVENTS: &str = "
    INSERT INTO outbox_events (id, aggregate_id, event_type, payload)
    SELECT u.id, u.chat, 'message.created', u.payload
      FROM unnest($1::uuid[], $2::text[], $3::jsonb[]) AS u(id, chat, payload)";

const RESULTS: &str = "
    SELECT count(*),
           extract(epoch FROM max(p.processed_at) - min(o.created_at))::float8,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM p.processed_at - o.created_at)),
           percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM p.processed_at - o.created_at)),
           max(extract(epoch FROM p.processed_at - o.created_at))::float8
      FROM outbox_events o JOIN processed_events p ON p.event_id = o.id
     WHERE o.id = ANY($1)";

fn event(i: usize, chats: &[Uuid], run: &str) -> (Uuid, String, serde_json::Value) {
    let chat = chats[i % chats.len()];
    let content = match i % 4 {
        0 => format!("My name is User{run}x{i}."),
        1 => format!("I live in City{}.", i % 97),
        2 => "What a lovely day it is today, thanks for asking!".to_owned(),
        _ => format!("I work at Company{} and I like hiking.", i % 53),
    };
    let payload = json!({
        "message_id": Uuid::new_v4(), "chat_id": chat, "user_id": format!("bench-{run}-{}", i % 5_000),
        "role": "user", "content": content, "created_at": chrono::Utc::now().to_rfc3339(),
    });
    (Uuid::new_v4(), chat.to_string(), payload)
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

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let url = std::env::var("DATABASE_URL").context("DATABASE_URL is not set")?;
    let (client, conn) = memlink::postgres::PgConnector::from_url(&url)?
        .connect()
        .await
        .context("connect to Postgres")?;
    tokio::spawn(conn);
    let run = format!("{:08x}", rand::random::<u32>());
    let chats: Vec<Uuid> = (0..args.chats.max(1)).map(|_| Uuid::new_v4()).collect();
    let mut ids = Vec::with_capacity(args.events);
    let started = Instant::now();

    if args.rate == 0 {
        for chunk_start in (0..args.events).step_by(1_000) {
            let (mut id, mut chat, mut payload) = (Vec::new(), Vec::new(), Vec::new());
            for i in chunk_start..(chunk_start + 1_000).min(args.events) {
                let (a, b, c) = event(i, &chats, &run);
                id.push(a);
                chat.push(b);
                payload.push(c);
            }
            client
                .execute(INSERT_EVENTS, &[&id, &chat, &payload])
                .await?;
            ids.extend(id);
        }
    } else {
        // One producer transaction per event, paced.
        let interval = Duration::from_secs_f64(1.0 / args.rate as f64);
        let mut next = Instant::now();
        for i in 0..args.events {
            let (a, b, c) = event(i, &chats, &run);
            client
                .execute(INSERT_EVENTS, &[&vec![a], &vec![b], &vec![c]])
                .await?;
            ids.push(a);
            next += interval;
            if let Some(wait) = next.checked_duration_since(Instant::now()) {
                tokio::time::sleep(wait).await;
            }
        }
    }
    let inserted_in = started.elapsed();

    let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
    let done = loop {
        let n: i64 = client
            .query_one(
                "SELECT count(*) FROM processed_events WHERE event_id = ANY($1)",
                &[&ids],
            )
            .await?
            .get(0);
        if n as usize >= ids.len() {
            break n;
        }
        if Instant::now() > deadline {
            bail!(
                "only {n} of {} events processed after {}s",
                ids.len(),
                args.timeout_secs
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let r = client.query_one(RESULTS, &[&ids]).await?;
    let (count, span, p50, p99, max): (i64, f64, f64, f64, f64) =
        (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4));
    let facts: i64 = client
        .query_one("SELECT count(*) FROM facts f JOIN processed_events p ON p.message_id = f.source_message_id WHERE p.event_id = ANY($1)", &[&ids])
        .await?
        .get(0);
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
        "events_per_sec={:.0}  (first outbox insert to last event processed: {:.2}s)",
        count as f64 / span,
        span
    );
    println!(
        "latency_ms p50={:.1} p99={:.1} max={:.1}",
        p50 * 1e3,
        p99 * 1e3,
        max * 1e3
    );
    if let Some(rss) = args.daemon_pid.and_then(peak_rss_mb) {
        println!("daemon_peak_rss_mb={rss:.1}");
    }
    Ok(())
}

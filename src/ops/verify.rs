//! `memlink verify`: sends one synthetic message for a synthetic user through the real
//! pipeline (the chat API, or straight into the outbox with `--outbox`) and traces it stage by
//! stage — stored, outbox, relayed, processed, fact, title, watermark — with each stage's
//! latency from the start, then removes every trace of it (rows and stream entry).
//!
//! It writes only its own synthetic data (user `memlink-verify-<uuid>`, a fresh chat) and
//! must never touch anything else; cleanup runs whether the trace succeeded or not. Its rows
//! and its stream entry are read and removed by the adapters ([`crate::postgres::verify`],
//! [`crate::redis::verify`]): this module holds no SQL and no Redis command.

use std::time::{Duration, Instant};

use chrono::{SubsecRound, Utc};
use memlink_actors::decode::encode_message_created;
use memlink_actors::domain::{ChatId, Content, EventId, MessageCreated, MessageId, Role, UserId};
use memlink_actors::ports::PortError;
use serde::Serialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::config::Config;
use crate::postgres::{self, verify as pg_verify, PgPool};
use crate::redis::verify as redis_verify;

pub struct VerifyOptions {
    pub outbox: bool,
    pub json: bool,
    pub timeout: Duration,
    pub base_url: Option<String>,
}

/// The stages, in pipeline order.
pub const STAGES: [&str; 7] = [
    "stored",
    "outbox",
    "relayed",
    "processed",
    "fact",
    "title",
    "watermark",
];

pub mod exit {
    pub const OK: u8 = 0;
    pub const STAGE_FAILED: u8 = 1;
}

#[derive(Debug, Clone, Serialize)]
pub struct Stage {
    pub name: &'static str,
    /// `None`: not attempted (an earlier stage failed).
    pub ok: Option<bool>,
    pub latency_ms: Option<u128>,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Trace {
    pub ok: bool,
    pub failed_stage: Option<&'static str>,
    pub via: &'static str,
    pub user_id: String,
    pub chat_id: Uuid,
    pub message_id: Option<Uuid>,
    pub event_id: Option<Uuid>,
    pub stream_entry_id: Option<String>,
    pub stages: Vec<Stage>,
    pub cleanup: Value,
}

/// The synthetic message: a unique user and a name the extractor recognises.
struct Synthetic {
    user_id: String,
    chat_id: Uuid,
    name: String,
    content: String,
}

impl Synthetic {
    fn new() -> Synthetic {
        let id = Uuid::new_v4();
        // Letters only, so the extractor reads the whole word as a name.
        let short: String = id.as_bytes()[..6]
            .iter()
            .map(|b| char::from(b'a' + b % 26))
            .collect();
        let name = format!("VerifyBot{short}");
        Synthetic {
            user_id: format!("memlink-verify-{id}"),
            chat_id: Uuid::new_v4(),
            content: format!("My name is {name}."),
            name,
        }
    }
}

const POLL: Duration = Duration::from_millis(25);

pub fn run(config: &Config, opts: &VerifyOptions) -> u8 {
    let trace = actix_web::rt::System::new().block_on(trace(config, opts));
    if opts.json {
        let v = json!(trace);
        println!(
            "{}",
            serde_json::to_string_pretty(&v).unwrap_or_else(|_| v.to_string())
        );
    } else {
        print!("{}", render(&trace));
    }
    if trace.ok {
        exit::OK
    } else {
        exit::STAGE_FAILED
    }
}

fn base_url(config: &Config, opts: &VerifyOptions) -> String {
    match &opts.base_url {
        Some(u) => u.trim_end_matches('/').to_owned(),
        None => {
            let mut addr = config.http_addr;
            if addr.ip().is_unspecified() {
                addr.set_ip(std::net::IpAddr::from([127, 0, 0, 1]));
            }
            format!("http://{addr}")
        }
    }
}

/// Polls `check` until it answers `Some(detail)` or the deadline passes.
async fn wait_for<F, Fut>(deadline: Instant, mut check: F) -> Result<String, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<String>, String>>,
{
    let mut last_error = None;
    loop {
        match check().await {
            Ok(Some(detail)) => return Ok(detail),
            Ok(None) => {}
            Err(e) => last_error = Some(e),
        }
        if Instant::now() >= deadline {
            return Err(last_error.unwrap_or_else(|| "did not happen in time".to_owned()));
        }
        actix_web::rt::time::sleep(POLL).await;
    }
}

pub async fn trace(config: &Config, opts: &VerifyOptions) -> Trace {
    let s = Synthetic::new();
    let mut t = Trace {
        ok: false,
        failed_stage: None,
        via: if opts.outbox { "outbox" } else { "api" },
        user_id: s.user_id.clone(),
        chat_id: s.chat_id,
        message_id: None,
        event_id: None,
        stream_entry_id: None,
        stages: STAGES
            .iter()
            .map(|name| Stage {
                name,
                ok: None,
                latency_ms: None,
                detail: String::new(),
            })
            .collect(),
        cleanup: Value::Null,
    };
    let pg = match postgres::build_pool(&config.database_url, 2) {
        Ok(p) => p,
        Err(e) => {
            fail(&mut t, 0, None, e.to_string());
            return t;
        }
    };
    let start = Instant::now();
    let deadline = start + opts.timeout;
    let ms = |since: Instant| Some(since.elapsed().as_millis());

    // 1. stored
    let stored = if opts.outbox {
        insert_into_outbox(&pg, &s).await
    } else {
        let url = base_url(config, opts);
        post_message(&url, &s, opts.timeout).await
    };
    let (message_id, event_id) = match stored {
        Ok(ids) => ids,
        Err(e) => {
            fail(&mut t, 0, ms(start), e);
            t.cleanup = cleanup(config, &pg, &s, None).await;
            return t;
        }
    };
    t.message_id = Some(message_id);
    t.event_id = Some(event_id);
    let stored_check = if opts.outbox {
        Ok(format!("outbox row {event_id} inserted"))
    } else {
        wait_for(deadline, || async {
            let stored = pg_verify::message_stored(&pg, message_id)
                .await
                .map_err(|e| e.message)?;
            Ok(stored.then(|| format!("message {message_id} stored")))
        })
        .await
    };
    if !stage(&mut t, 0, ms(start), stored_check) {
        t.cleanup = cleanup(config, &pg, &s, Some(event_id)).await;
        return t;
    }

    // 2..7, each polled until the shared deadline.
    let mut all = true;
    for index in 1..STAGES.len() {
        let mut outcome = wait_for(deadline, || check(&pg, index, event_id, &s)).await;
        if let Err(e) = &outcome {
            outcome = Err(explain(&pg, event_id, e).await);
        }
        if index == 2 {
            if let Ok(detail) = &outcome {
                t.stream_entry_id = detail.strip_prefix("stream entry ").map(str::to_owned);
            }
        }
        if !stage(&mut t, index, ms(start), outcome) {
            all = false;
            break;
        }
    }
    t.ok = all;
    t.cleanup = cleanup(config, &pg, &s, Some(event_id)).await;
    if !all
        && t.failed_stage
            .is_some_and(|f| f != "outbox" && f != "relayed")
    {
        // The event may still be in flight (read by a worker): a late commit would re-create
        // synthetic rows. Give it a moment and sweep again.
        actix_web::rt::time::sleep(Duration::from_secs(2)).await;
        let again = cleanup(config, &pg, &s, Some(event_id)).await;
        t.cleanup["second_pass"] = again;
    }
    t
}

/// One look at stage `index` (1..): `Some(detail)` once it is complete.
async fn check(
    pg: &PgPool,
    index: usize,
    event_id: Uuid,
    s: &Synthetic,
) -> Result<Option<String>, String> {
    let m = |e: PortError| e.message;
    Ok(match STAGES[index] {
        "outbox" => pg_verify::outbox_state(pg, event_id)
            .await
            .map_err(m)?
            .map(|row| format!("event {event_id} status {}", row.status)),
        "relayed" => pg_verify::outbox_state(pg, event_id)
            .await
            .map_err(m)?
            .and_then(|row| {
                (row.status == "relayed")
                    .then(|| format!("stream entry {}", row.stream_id.unwrap_or_default()))
            }),
        "processed" => pg_verify::processed(pg, event_id)
            .await
            .map_err(m)?
            .map(|row| {
                format!(
                    "effects committed (entry {})",
                    row.stream_entry_id.unwrap_or_default()
                )
            }),
        "fact" => pg_verify::name_fact(pg, &s.user_id, &s.name)
            .await
            .map_err(m)?
            .map(|name| format!("name = {name}")),
        "title" => pg_verify::chat_title(pg, s.chat_id)
            .await
            .map_err(m)?
            .map(|title| format!("{title:?}")),
        "watermark" => pg_verify::watermark_count(pg, s.chat_id)
            .await
            .map_err(m)?
            .map(|n| format!("{n} message(s) counted")),
        _ => None,
    })
}

/// Adds what the store knows about a stage that did not complete: a dead letter's reason.
async fn explain(pg: &PgPool, event_id: Uuid, error: &str) -> String {
    match pg_verify::latest_dead_letter(pg, event_id).await {
        Ok(Some(letter)) => format!(
            "{error}; the event was dead-lettered: {} ({})",
            letter.reason, letter.detail
        ),
        _ => error.to_owned(),
    }
}

/// Records a stage's outcome; `false` when it failed.
fn stage(t: &mut Trace, i: usize, latency: Option<u128>, outcome: Result<String, String>) -> bool {
    match outcome {
        Ok(detail) => {
            t.stages[i].ok = Some(true);
            t.stages[i].latency_ms = latency;
            t.stages[i].detail = detail;
            true
        }
        Err(e) => {
            fail(t, i, latency, e);
            false
        }
    }
}

fn fail(t: &mut Trace, i: usize, latency: Option<u128>, error: String) {
    t.stages[i].ok = Some(false);
    t.stages[i].latency_ms = latency;
    t.stages[i].detail = error;
    t.failed_stage = Some(t.stages[i].name);
    t.ok = false;
}

async fn insert_into_outbox(pg: &PgPool, s: &Synthetic) -> Result<(Uuid, Uuid), String> {
    let (message_id, event_id) = (Uuid::new_v4(), Uuid::new_v4());
    let created_at = Utc::now().trunc_subsecs(6);
    let payload = encode_message_created(&MessageCreated {
        event_id: EventId(event_id),
        message_id: MessageId(message_id),
        chat_id: ChatId(s.chat_id),
        user_id: UserId::try_new(&s.user_id).map_err(|e| format!("{e:?}"))?,
        role: Role::User,
        content: Content::try_new(&s.content).map_err(|e| format!("{e:?}"))?,
        created_at,
    });
    pg_verify::insert_outbox_event(pg, event_id, s.chat_id, &payload, created_at)
        .await
        .map_err(|e| e.message)?;
    Ok((message_id, event_id))
}

async fn post_message(
    base: &str,
    s: &Synthetic,
    timeout: Duration,
) -> Result<(Uuid, Uuid), String> {
    let url = format!("{base}/v1/chats/{}/messages", s.chat_id);
    let body = json!({"user_id": s.user_id, "role": "user", "content": s.content});
    let call = move || -> Result<(Uuid, Uuid), String> {
        let agent = ureq::AgentBuilder::new().timeout(timeout).build();
        let resp = agent.post(&url).send_json(body).map_err(|e| match e {
            ureq::Error::Status(code, r) => format!(
                "POST {url} answered HTTP {code}: {}",
                r.into_string().unwrap_or_default()
            ),
            other => format!("POST {url} failed: {other}"),
        })?;
        let v: Value = resp
            .into_json()
            .map_err(|e| format!("POST {url}: unreadable answer: {e}"))?;
        let id = |k: &str| {
            v[k].as_str()
                .and_then(|s| Uuid::try_parse(s).ok())
                .ok_or_else(|| format!("POST {url}: the answer has no {k}"))
        };
        Ok((id("message_id")?, id("event_id")?))
    };
    actix_web::rt::task::spawn_blocking(call)
        .await
        .map_err(|e| format!("POST failed: {e}"))?
}

/// Removes every synthetic row and the stream entry; reports what it removed.
async fn cleanup(config: &Config, pg: &PgPool, s: &Synthetic, event_id: Option<Uuid>) -> Value {
    let mut report = serde_json::Map::new();
    let removed = pg_verify::remove_synthetic(pg, &s.user_id, s.chat_id, event_id).await;
    let stream_entry = match removed {
        Ok(removed) => {
            report.insert("facts".into(), json!(removed.facts));
            if let Some(n) = removed.processed_events {
                report.insert("processed_events".into(), json!(n));
            }
            if let Some(n) = removed.dead_letters {
                report.insert("dead_letters".into(), json!(n));
            }
            if let Some(n) = removed.outbox_events {
                report.insert("outbox_events".into(), json!(n));
            }
            report.insert("messages".into(), json!(removed.messages));
            report.insert("watermarks".into(), json!(removed.watermarks));
            report.insert("chats".into(), json!(removed.chats));
            Ok(removed.stream_entry)
        }
        Err(e) => Err(e.message),
    };
    match stream_entry {
        Ok(Some(entry)) => {
            let ca_file = config.redis_ca_file.as_deref();
            let removed = redis_verify::remove_entry(
                &config.redis_url,
                ca_file,
                &config.stream,
                &config.group,
                &entry,
            )
            .await;
            match removed {
                Ok(n) => {
                    report.insert("stream_entries".into(), json!(n));
                }
                Err(e) => {
                    report.insert("stream_entries".into(), json!(0));
                    report.insert("stream_error".into(), json!(e.to_string()));
                }
            }
        }
        Ok(None) => {
            report.insert("stream_entries".into(), json!(0));
        }
        Err(e) => {
            report.insert("error".into(), json!(e));
        }
    }
    Value::Object(report)
}

pub fn render(t: &Trace) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "memlink verify via {}: user {}, chat {}",
        t.via, t.user_id, t.chat_id
    );
    for s in &t.stages {
        let mark = match s.ok {
            Some(true) => "✅",
            Some(false) => "❌",
            None => "· ",
        };
        let latency = s
            .latency_ms
            .map_or("      ".to_owned(), |l| format!("{l:>5}ms"));
        let _ = writeln!(o, "  {mark} {:<10} {latency}  {}", s.name, s.detail);
    }
    let removed: Vec<String> = t
        .cleanup
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| k.as_str() != "second_pass")
                .map(|(k, v)| format!("{k} {v}"))
                .collect()
        })
        .unwrap_or_default();
    let _ = writeln!(o, "  cleanup: removed {}", removed.join(", "));
    match t.failed_stage {
        None => {
            let total = t
                .stages
                .iter()
                .filter_map(|s| s.latency_ms)
                .max()
                .unwrap_or(0);
            let _ = writeln!(o, "verified: every stage completed in {total} ms");
        }
        Some(stage) => {
            let _ = writeln!(
                o,
                "FAILED at stage {stage}: it did not complete (see above)"
            );
        }
    }
    o
}

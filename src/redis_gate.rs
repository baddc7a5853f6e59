//! Starting without the broker: the actors that publish to or read the Redis stream (relay,
//! reconciler, workers) wait, registered as `waiting`, until Redis first answers; then the
//! consumer group is created and they start. Meanwhile HTTP serves and messages wait safely
//! in the outbox.
//!
//! It decides only when those actors start; it never touches the stream beyond creating the
//! group, and never stops anything.

use std::time::Duration;

use actix::Addr;
use memlink_actors::ports::StreamBus;
use memlink_actors::status::StatusBoard;
use memlink_actors::supervisor::{RootSupervisor, StartDeferred};

use crate::redis::RedisBus;
use crate::role::ProcessRole;
use crate::systemd;

/// The actors that cannot work without Redis (they publish to or read the stream).
pub fn needs_redis(name: &str) -> bool {
    name == memlink_actors::relay::NAME
        || name == memlink_actors::reconciler::NAME
        || memlink_actors::worker::NAMES.contains(&name)
}

/// Creates the consumer group as soon as Redis answers, then starts the actors that need it.
/// Until then HTTP serves and messages wait in the outbox; a failure is logged when it first
/// happens and whenever its cause changes, and shown as the waiting actors' last error.
pub async fn start_when_redis_answers(gate: Gate, waiting: Vec<&'static str>) {
    if waiting.is_empty() {
        return;
    }
    let Gate {
        bus,
        root,
        status,
        redis,
        role,
        http,
    } = gate;
    let started_at = std::time::Instant::now();
    let mut delay = Duration::from_millis(100);
    let mut last_error: Option<String> = None;
    loop {
        let e = match bus.ping().await {
            Ok(()) => match bus.ensure_group().await {
                Ok(()) => break,
                Err(e) => e,
            },
            Err(e) => e,
        };
        if last_error.as_deref() != Some(e.message.as_str()) {
            log::warn!(target: "memlink::daemon", "event=redis_waiting redis={} actors={} error={}", crate::logging::Quoted(&redis), waiting.join(","), crate::logging::Quoted(&e.message));
            for name in &waiting {
                status.waiting(name, &format!("waiting for redis: {}", e.message));
            }
            last_error = Some(e.message);
        }
        actix_web::rt::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
    let started = root.send(StartDeferred).await.unwrap_or(0);
    if last_error.is_some() {
        log::info!(target: "memlink::daemon", "event=redis_connected redis={redis} waited_ms={} started={started}", started_at.elapsed().as_millis());
    }
    systemd::status(&systemd::status_line(role, &status, &http));
}

/// What the Redis gate needs to start the waiting actors and say so.
pub struct Gate {
    pub bus: RedisBus,
    pub root: Addr<RootSupervisor>,
    pub status: StatusBoard,
    /// The Redis URL, redacted.
    pub redis: String,
    pub role: ProcessRole,
    /// The bound HTTP address, for the `STATUS=` line.
    pub http: String,
}

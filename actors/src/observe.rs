//! The engine's metrics, emitted through the `metrics` facade at the places where the actors
//! already log what happened. The facade is a no-op until the binary installs a recorder.
//!
//! Names and labels are a contract with `deploy/prometheus/alerts.yml` and
//! `docs/operations.md`. This module must never do I/O, read the system clock or keep
//! state: durations are computed from the injected clock's readings.

use chrono::{DateTime, Utc};
use metrics::{counter, histogram};

use crate::decode::Reason;

/// A non-empty round: how many items it handled and how long it took.
pub fn round(
    actor: &'static str,
    items: usize,
    started: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) {
    if items == 0 {
        return;
    }
    histogram!("memlink_batch_size", "actor" => actor).record(items as f64);
    if let Some(secs) = started.and_then(|s| (now - s).to_std().ok()) {
        histogram!("memlink_batch_duration_seconds", "actor" => actor).record(secs.as_secs_f64());
    }
}

/// A round failed on a transient error and will be retried.
pub fn retry(actor: &'static str) {
    counter!("memlink_retries_total", "actor" => actor).increment(1);
}

pub fn dead_letter(actor: &'static str, reason: Reason) {
    counter!("memlink_dead_letters_total", "reason" => reason.as_str(), "actor" => actor)
        .increment(1);
}

pub fn relayed(count: usize) {
    counter!("memlink_relayed_total").increment(count as u64);
}

pub fn processed(event_type: &'static str, applied: usize, duplicates: usize) {
    counter!("memlink_processed_total", "event_type" => event_type).increment(applied as u64);
    counter!("memlink_duplicates_total").increment(duplicates as u64);
}

pub fn folded(messages: usize) {
    counter!("memlink_watermark_folded_total").increment(messages as u64);
}

pub fn restart(actor: &'static str) {
    counter!("memlink_actor_restarts_total", "actor" => actor).increment(1);
}

/// Rows or entries removed by retention, by kind (`memlink_actors::retention::kind`).
pub fn retention_removed(kind: &'static str, count: u64) {
    if count > 0 {
        counter!("memlink_retention_removed_total", "kind" => kind).increment(count);
    }
}

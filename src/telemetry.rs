//! Prometheus metrics: installs the `metrics` recorder (metrics-exporter-prometheus, no HTTP
//! listener of its own), describes every metric, and renders the exposition that
//! [`crate::http::metrics`] serves at `GET /metrics`.
//!
//! Counters and histograms are recorded where things happen (the engine's actors through the
//! `metrics` facade, the Redis and Postgres adapters through the functions here). A leaf:
//! it imports nothing of the daemon's, so every adapter can record without an import
//! circle, and it must never change pipeline state.

use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Fine below 10 ms, where a healthy pipeline's end-to-end latency lies (alert rules and the
/// benchmark's `latency_to_commit_ms` read quantiles off these buckets); coarse above, where
/// only a backlog's age matters.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0015, 0.002, 0.0025, 0.003, 0.004, 0.005, 0.006, 0.008, 0.01, 0.015, 0.025, 0.05, 0.1,
    0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 3600.0,
];
const SIZE_BUCKETS: &[f64] = &[
    1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2000.0,
];

/// Installs the global recorder once (later calls are no-ops). Without it every metric call
/// is a cheap no-op and `/metrics` answers 503.
pub fn install() {
    if installed() {
        return;
    }
    let builder = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("memlink_batch_duration_seconds".into()),
            SECONDS_BUCKETS,
        )
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Full("memlink_end_to_end_latency_seconds".into()),
                LATENCY_BUCKETS,
            )
        })
        .and_then(|b| {
            b.set_buckets_for_metric(Matcher::Full("memlink_batch_size".into()), SIZE_BUCKETS)
        });
    match builder.and_then(|b| b.install_recorder()) {
        Ok(handle) => {
            let _ = HANDLE.set(handle);
            describe();
            gauge!("memlink_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
        }
        Err(e) => {
            log::warn!(target: "memlink::metrics", "event=metrics_install_failed error={}", crate::logging::quoted(&e));
        }
    }
}

fn describe() {
    describe_gauge!(
        "memlink_build_info",
        "Always 1; the version label says which memlink runs."
    );
    describe_gauge!(
        "memlink_outbox_pending",
        "Outbox events waiting to be relayed (refreshed on scrape)."
    );
    describe_gauge!(
        "memlink_outbox_oldest_pending_age_seconds",
        "Age of the oldest pending outbox event, 0 when none (refreshed on scrape)."
    );
    describe_gauge!(
        "memlink_dead_letters_open",
        "Dead letters awaiting triage (status dead)."
    );
    describe_gauge!(
        "memlink_watermarks_pending",
        "Processed messages not yet folded into their chat's watermark."
    );
    describe_gauge!("memlink_stream_length", "XLEN of the stream.");
    describe_gauge!(
        "memlink_stream_pending",
        "Entries delivered to the group and not yet acknowledged."
    );
    describe_gauge!(
        "memlink_stream_lag",
        "Entries not yet delivered to the group (absent when Redis cannot tell)."
    );
    describe_gauge!("memlink_stream_consumers", "Consumers known to the group.");
    describe_gauge!(
        "memlink_pg_pool_connections",
        "Postgres pool connections by state (idle, in_use)."
    );
    describe_gauge!(
        "memlink_redis_pool_connections",
        "Redis pool connections by state (idle, in_use)."
    );
    describe_gauge!(
        "memlink_postgres_up",
        "1 when the last scrape reached Postgres."
    );
    describe_gauge!("memlink_redis_up", "1 when the last scrape reached Redis.");
    describe_gauge!("memlink_actor_up", "1 while this process's actor is starting, running or degraded; 0 when restarting or stopped.");
    describe_gauge!(
        "memlink_live_instances",
        "memlink processes with a fresh heartbeat, by function (relay, worker), across all hosts."
    );
    describe_gauge!(
        "memlink_finding",
        "1 while the diagnosis reports this finding code, else 0."
    );
    describe_gauge!(
        "memlink_heartbeat_last_success_timestamp_seconds",
        "Unix time of this process's last successful heartbeat."
    );
    describe_counter!(
        "memlink_relayed_total",
        "Outbox events published to the stream."
    );
    describe_counter!(
        "memlink_processed_total",
        "Events whose effects were committed for the first time, by event type."
    );
    describe_counter!(
        "memlink_duplicates_total",
        "Redelivered events that changed nothing."
    );
    describe_counter!(
        "memlink_dead_letters_total",
        "Inputs dead-lettered, by reason and actor."
    );
    describe_counter!(
        "memlink_retries_total",
        "Rounds that failed on a transient error and will be retried, by actor."
    );
    describe_counter!(
        "memlink_reclaimed_total",
        "Stream entries taken over from an idle consumer."
    );
    describe_counter!("memlink_actor_restarts_total", "Actor restarts, by actor.");
    describe_counter!(
        "memlink_retention_removed_total",
        "Rows and stream entries removed by retention, by kind (stream_entries, outbox_events, processed_events, idempotency_keys, dead_letters, dead_letter_actions, consumers)."
    );
    describe_counter!(
        "memlink_watermark_folded_total",
        "Messages folded into chat watermarks."
    );
    describe_histogram!(
        "memlink_batch_size",
        "Items handled per non-empty round, by actor."
    );
    describe_histogram!(
        "memlink_batch_duration_seconds",
        "Duration of a non-empty round, by actor."
    );
    describe_histogram!("memlink_end_to_end_latency_seconds", "From a message's created_at (for API messages, its outbox row's created_at) to the commit of its effects; first application only.");
}

/// Keeps histograms drained; run once per process.
pub async fn upkeep() {
    loop {
        actix_web::rt::time::sleep(Duration::from_secs(5)).await;
        if let Some(h) = HANDLE.get() {
            h.run_upkeep();
        }
    }
}

pub fn heartbeat_succeeded() {
    gauge!("memlink_heartbeat_last_success_timestamp_seconds").set(Utc::now().timestamp() as f64);
}

/// Entries taken over from idle consumers.
pub fn reclaimed(count: usize) {
    counter!("memlink_reclaimed_total").increment(count as u64);
}

/// End-to-end latency of messages whose effects were just committed: from the message's
/// `created_at` to now. Negative spans (a producer clock ahead of ours) are not recorded.
pub fn effects_committed(created: &[DateTime<Utc>]) {
    let now = Utc::now();
    for at in created {
        let span = (now - *at).num_microseconds().unwrap_or(i64::MAX);
        if span >= 0 {
            histogram!("memlink_end_to_end_latency_seconds").record(span as f64 / 1e6);
        }
    }
}

/// Whether [`install`] has installed the recorder.
pub fn installed() -> bool {
    HANDLE.get().is_some()
}

/// The exposition of every metric recorded so far (`None` before [`install`]).
pub fn render() -> Option<String> {
    HANDLE.get().map(|h| h.render())
}

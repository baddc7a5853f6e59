//! The reconciler: finds events the broker lost after accepting them and publishes them again.
//!
//! Redis replication is asynchronous and a Redis may run without persistence, so a restart,
//! a failover or a `FLUSHALL` can drop entries that were relayed but not yet processed. The
//! outbox stays the source of truth: a row relayed longer ago than the threshold whose event
//! no worker has processed or dead-lettered, and whose stream entry no longer exists, is
//! published again (the worker's exactly-once effects make a duplicate harmless). An entry
//! that still exists is only lagging, and is left alone. It must never re-publish a row that
//! is not `relayed`, and never delete anything.

pub mod actor;

use std::sync::Arc;
use std::time::Duration;

use crate::pace::Pace;
use crate::ports::{Ambient, OutgoingEntry, PortError, ReconcileStore, StreamBus};
use crate::status::StatusBoard;

pub use actor::ReconcilerActor;

pub const NAME: &str = "reconciler";
/// The status-board counter of re-published events.
pub const REPUBLISHED: &str = "reconciler_republished_total";

#[derive(Debug, Clone)]
pub struct ReconcilerConfig {
    /// Only rows relayed longer ago than this are looked at.
    pub after: Duration,
    /// How often to look.
    pub every: Duration,
    pub batch_size: usize,
}

#[derive(Clone)]
pub struct ReconcilerDeps {
    pub outbox: Arc<dyn ReconcileStore>,
    pub bus: Arc<dyn StreamBus>,
    pub ambient: Ambient,
    pub status: StatusBoard,
    pub config: ReconcilerConfig,
}

#[derive(Debug)]
pub struct ReconcileReport {
    pub pace: Pace,
    pub examined: usize,
    pub republished: usize,
}

/// One pass: unconfirmed relayed rows → those whose entries are gone → publish again.
pub async fn run_round(deps: &ReconcilerDeps) -> ReconcileReport {
    match reconcile(deps).await {
        Ok((examined, republished)) => ReconcileReport {
            pace: if examined >= deps.config.batch_size {
                Pace::Busy
            } else {
                Pace::Idle
            },
            examined,
            republished,
        },
        Err(e) => ReconcileReport {
            pace: Pace::Failing(e),
            examined: 0,
            republished: 0,
        },
    }
}

async fn reconcile(deps: &ReconcilerDeps) -> Result<(usize, usize), PortError> {
    let rows = deps
        .outbox
        .unconfirmed_relayed(deps.config.after, deps.config.batch_size)
        .await?;
    if rows.is_empty() {
        return Ok((0, 0));
    }
    let stream_ids: Vec<String> = rows.iter().map(|r| r.stream_id.clone()).collect();
    let missing = deps.bus.missing(&stream_ids).await?;
    let lost: Vec<OutgoingEntry> = rows
        .iter()
        .zip(missing)
        .filter(|(_, gone)| *gone)
        .map(|(r, _)| OutgoingEntry {
            outbox_id: r.row.id,
            event_id: r.row.id.to_string(),
            event_type: r.row.event_type.clone(),
            payload: r.row.payload.clone(),
        })
        .collect();
    if lost.is_empty() {
        return Ok((rows.len(), 0));
    }
    // The group may have vanished with the stream; recreate it before publishing into it.
    deps.bus.ensure_group().await?;
    let new_ids = deps.bus.publish(&lost).await?;
    let marks: Vec<_> = lost.iter().map(|o| o.outbox_id).zip(new_ids).collect();
    deps.outbox.mark_republished(&marks).await?;
    Ok((rows.len(), marks.len()))
}

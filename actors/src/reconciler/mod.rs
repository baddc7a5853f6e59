//! The reconciler: finds events the broker lost after accepting them and publishes them again.
//!
//! Redis replication is asynchronous and a Redis may run without persistence, so a restart,
//! a failover or a `FLUSHALL` can drop entries that were relayed but not yet processed. The
//! outbox stays the source of truth: a row relayed longer ago than the threshold whose event
//! no worker has processed or dead-lettered, and whose stream entry no longer exists, is
//! published again (the worker's exactly-once effects make a duplicate harmless). An entry
//! that still exists is only lagging, and is left alone. Rows are looked at in relay order
//! from a durable cursor, which moves past what is settled and stops at the first lagging
//! row, so confirming an event costs the worker no write. It must never re-publish a row that
//! is not `relayed`, and never delete anything.

pub mod actor;

use std::sync::Arc;
use std::time::Duration;

use crate::pace::Pace;
use std::collections::HashSet;

use crate::ports::{
    Ambient, OutgoingEntry, PortError, ReconcilePosition, ReconcileStore, RelayedRow, StreamBus,
};
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
        .relayed_since_cursor(deps.config.after, deps.config.batch_size)
        .await?;
    if rows.is_empty() {
        return Ok((0, 0));
    }
    let unconfirmed: Vec<&RelayedRow> = rows.iter().filter(|r| !r.confirmed).collect();
    // Planted bug (simulator self-test only): confirmed rows are looked at like the others.
    #[cfg(feature = "sim-mutants")]
    let unconfirmed: Vec<&RelayedRow> =
        if crate::mutants::active(crate::mutants::Mutant::ReconcilerRepublishesConfirmed) {
            rows.iter().collect()
        } else {
            unconfirmed
        };
    let stream_ids: Vec<String> = unconfirmed.iter().map(|r| r.stream_id.clone()).collect();
    let missing = if stream_ids.is_empty() {
        Vec::new()
    } else {
        deps.bus.missing(&stream_ids).await?
    };
    let gone: HashSet<uuid::Uuid> = unconfirmed
        .iter()
        .zip(&missing)
        .filter(|(_, gone)| **gone)
        .map(|(r, _)| r.row.id)
        .collect();
    let lost: Vec<OutgoingEntry> = unconfirmed
        .iter()
        .filter(|r| gone.contains(&r.row.id))
        .map(|r| OutgoingEntry {
            outbox_id: r.row.id,
            event_id: r.row.id.to_string(),
            event_type: r.row.event_type.clone(),
            payload: r.row.payload.clone(),
        })
        .collect();
    let mut republished = 0;
    if !lost.is_empty() {
        // The group may have vanished with the stream; recreate it before publishing into it.
        deps.bus.ensure_group().await?;
        let new_ids = deps.bus.publish(&lost).await?;
        let marks: Vec<_> = lost.iter().map(|o| o.outbox_id).zip(new_ids).collect();
        deps.outbox.mark_republished(&marks).await?;
        republished = marks.len();
    }
    if let Some(to) = settled_up_to(&rows, &gone) {
        deps.outbox.advance_cursor(to).await?;
    }
    Ok((rows.len(), republished))
}

/// How far the cursor may move: past every row confirmed or just published again, up to the
/// first row still waiting in the stream for a worker (it could yet be lost, so it must be
/// looked at again).
pub fn settled_up_to(
    rows: &[RelayedRow],
    republished: &HashSet<uuid::Uuid>,
) -> Option<ReconcilePosition> {
    rows.iter()
        .take_while(|r| r.confirmed || republished.contains(&r.row.id))
        .last()
        .map(|r| r.position)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::OutboxRow;
    use chrono::DateTime;
    use uuid::Uuid;

    fn row(n: u128, confirmed: bool) -> RelayedRow {
        RelayedRow {
            row: OutboxRow {
                id: Uuid::from_u128(n),
                aggregate_id: String::new(),
                event_type: "message.created".into(),
                payload: "{}".into(),
            },
            stream_id: format!("{n}-0"),
            position: ReconcilePosition {
                relayed_at: DateTime::from_timestamp(1_769_067_000 + n as i64, 0).unwrap(),
                id: Uuid::from_u128(n),
            },
            confirmed,
        }
    }

    #[test]
    fn the_cursor_stops_at_the_first_row_still_waiting() {
        let rows = [row(1, true), row(2, false), row(3, true), row(4, false)];
        // Row 2 was published again; row 4 still waits in the stream for a worker.
        let republished: HashSet<Uuid> = [Uuid::from_u128(2)].into();
        assert_eq!(
            settled_up_to(&rows, &republished).map(|p| p.id),
            Some(Uuid::from_u128(3))
        );
        // Nothing settled before a waiting row: the cursor stays.
        assert_eq!(settled_up_to(&rows[1..], &HashSet::new()), None);
        let all: HashSet<Uuid> = [2, 4].map(Uuid::from_u128).into();
        assert_eq!(
            settled_up_to(&rows, &all).map(|p| p.id),
            Some(Uuid::from_u128(4))
        );
    }
}

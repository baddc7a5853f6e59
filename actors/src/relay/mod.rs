//! The relay: leases pending outbox rows, validates each against the event contract,
//! dead-letters the ones that can never be decoded (marking their rows `dead`), publishes the
//! rest to the stream in one pipelined round trip and marks them relayed.
//!
//! The outbox row is the source of truth: this module must never mark a row relayed before
//! the stream has accepted it, and never drop a row it failed to publish (its lease expires
//! and it is claimed again; the worker's exactly-once effects absorb the duplicate).

pub mod actor;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use crate::decode::{decode_outbox_row, Reason, Rejection};
use crate::pace::Pace;
use crate::plan::{dead_letter_for_row, dead_letter_for_unreadable_row, panic_message};
use crate::ports::{
    Ambient, ClaimedRow, OutboxStore, OutgoingEntry, PortError, RejectedRow, StreamBus,
};
use crate::status::StatusBoard;

pub use actor::RelayActor;

pub const NAME: &str = "relay";

#[derive(Debug, Clone)]
pub struct RelayConfig {
    pub batch_size: usize,
    /// How long a claimed row stays reserved for this relay.
    pub lease: Duration,
    /// The fallback poll when no NOTIFY arrives.
    pub poll: Duration,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            batch_size: 500,
            lease: Duration::from_secs(30),
            poll: Duration::from_secs(2),
        }
    }
}

#[derive(Clone)]
pub struct RelayDeps {
    pub outbox: Arc<dyn OutboxStore>,
    pub bus: Arc<dyn StreamBus>,
    pub ambient: Ambient,
    pub status: StatusBoard,
    pub config: RelayConfig,
}

#[derive(Debug)]
pub struct RelayReport {
    pub pace: Pace,
    pub relayed: usize,
    pub rejected: Vec<RejectedRow>,
    pub panicked: bool,
}

/// One round: claim, validate, dead-letter the undecodable, publish, mark relayed.
pub async fn run_round(deps: &RelayDeps) -> RelayReport {
    let failing = |e: PortError| RelayReport {
        pace: Pace::Failing(e),
        relayed: 0,
        rejected: Vec::new(),
        panicked: false,
    };
    let rows = match deps
        .outbox
        .claim_pending_batch(deps.config.batch_size, deps.config.lease)
        .await
    {
        Ok(rows) => rows,
        Err(e) => return failing(e),
    };
    if rows.is_empty() {
        return RelayReport {
            pace: Pace::Idle,
            relayed: 0,
            rejected: Vec::new(),
            panicked: false,
        };
    }
    let full = rows.len() >= deps.config.batch_size;
    let mut outgoing = Vec::with_capacity(rows.len());
    let mut rejected = Vec::new();
    let mut panicked = false;
    for claimed in rows {
        match check_row(claimed, &deps.ambient) {
            Checked::Publish(entry) => outgoing.push(entry),
            Checked::Reject(r, row_panicked) => {
                panicked |= row_panicked;
                rejected.push(*r);
            }
        }
    }
    if !rejected.is_empty() {
        if let Err(e) = deps.outbox.reject(&rejected).await {
            release_quietly(deps, outgoing.iter().map(|o| o.outbox_id).collect()).await;
            return failing(e);
        }
    }
    let mut relayed = 0;
    if !outgoing.is_empty() {
        let ids = match deps.bus.publish(&outgoing).await {
            Ok(ids) => ids,
            Err(e) => {
                release_quietly(deps, outgoing.iter().map(|o| o.outbox_id).collect()).await;
                return failing(e);
            }
        };
        let marks: Vec<_> = outgoing.iter().map(|o| o.outbox_id).zip(ids).collect();
        // If this fails the rows stay leased, then pending again: published twice, applied once.
        if let Err(e) = deps.outbox.mark_relayed(&marks).await {
            return failing(e);
        }
        relayed = marks.len();
    }
    RelayReport {
        pace: if full { Pace::Busy } else { Pace::Idle },
        relayed,
        rejected,
        panicked,
    }
}

enum Checked {
    Publish(OutgoingEntry),
    /// The row's dead letter, and whether decoding it panicked.
    Reject(Box<RejectedRow>, bool),
}

/// Decides one claimed row on its own, behind a panic boundary: whatever one row holds, the
/// rest of the batch is relayed in the same round.
fn check_row(claimed: ClaimedRow, ambient: &Ambient) -> Checked {
    let row = match claimed {
        Ok(row) => row,
        Err(unreadable) => {
            let dead_letter = dead_letter_for_unreadable_row(&unreadable, NAME, ambient);
            return Checked::Reject(
                Box::new(RejectedRow {
                    id: unreadable.id,
                    dead_letter,
                }),
                false,
            );
        }
    };
    let verdict = catch_unwind(AssertUnwindSafe(|| decode_outbox_row(&row)));
    let (rejection, panicked) = match verdict {
        Ok(Ok(_event)) => {
            return Checked::Publish(OutgoingEntry {
                outbox_id: row.id,
                event_id: row.id.to_string(),
                event_type: row.event_type,
                payload: row.payload,
            })
        }
        Ok(Err(r)) => (r, false),
        Err(payload) => (
            Rejection::new(
                Reason::Panic,
                format!(
                    "relay panicked validating row: {}",
                    panic_message(&*payload)
                ),
            ),
            true,
        ),
    };
    let dead_letter = dead_letter_for_row(&row, rejection, NAME, ambient);
    Checked::Reject(
        Box::new(RejectedRow {
            id: row.id,
            dead_letter,
        }),
        panicked,
    )
}

async fn release_quietly(deps: &RelayDeps, ids: Vec<uuid::Uuid>) {
    if ids.is_empty() {
        return;
    }
    if let Err(e) = deps.outbox.release(&ids).await {
        // The lease expires on its own; releasing early only saves time.
        log::debug!(target: "memlink::relay", "event=release_failed rows={} error={:?}", ids.len(), e.message);
    }
}

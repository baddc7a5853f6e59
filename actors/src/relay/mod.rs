//! The relay: claims pending outbox rows, validates each against the event contract,
//! publishes the valid ones to the stream in one pipelined round trip, and has the store
//! record them relayed, and the ones that can never be decoded `dead` with their dead letters,
//! in the transaction that claimed them: one write per row.
//!
//! The outbox row is the source of truth: this module must never have a row recorded relayed
//! before the stream has accepted it, and never drop a row it failed to publish (the claim is
//! rolled back and the row is claimed again; the worker's exactly-once effects absorb a
//! duplicate).

pub mod actor;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use crate::decode::{decode_outbox_row, Reason, Rejection};
use crate::pace::Pace;
use crate::plan::{dead_letter_for_row, dead_letter_for_unreadable_row, panic_message};
use crate::ports::{
    Ambient, ClaimWork, ClaimedRow, OutboxStore, OutgoingEntry, PortError, RejectedRow, Settlement,
    StreamBus,
};
use crate::status::StatusBoard;

pub use actor::RelayActor;

pub const NAME: &str = "relay";

#[derive(Debug, Clone)]
pub struct RelayConfig {
    pub batch_size: usize,
    /// The fallback poll when no NOTIFY arrives.
    pub poll: Duration,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            batch_size: 1_000,
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

/// One round, in one outbox transaction: claim, validate, publish the valid rows, then record
/// them relayed and the undecodable ones dead with their dead letters.
pub async fn run_round(deps: &RelayDeps) -> RelayReport {
    let work: ClaimWork<'_> = Box::new(move |rows| Box::pin(settle(deps, rows)));
    match deps.outbox.relay_batch(deps.config.batch_size, work).await {
        Ok(None) => RelayReport {
            pace: Pace::Idle,
            relayed: 0,
            rejected: Vec::new(),
            panicked: false,
        },
        Ok(Some(s)) => RelayReport {
            pace: if s.relayed.len() + s.rejected.len() >= deps.config.batch_size {
                Pace::Busy
            } else {
                Pace::Idle
            },
            relayed: s.relayed.len(),
            rejected: s.rejected,
            panicked: s.panicked,
        },
        Err(e) => RelayReport {
            pace: Pace::Failing(e),
            relayed: 0,
            rejected: Vec::new(),
            panicked: false,
        },
    }
}

/// Decides each claimed row, publishes the valid ones in one pipelined round trip; the store
/// records the result only if this succeeds.
async fn settle(deps: &RelayDeps, rows: Vec<ClaimedRow>) -> Result<Settlement, PortError> {
    let mut outgoing = Vec::with_capacity(rows.len());
    let mut settlement = Settlement::default();
    for claimed in rows {
        match check_row(claimed, &deps.ambient) {
            Checked::Publish(entry) => outgoing.push(entry),
            Checked::Reject(r, row_panicked) => {
                settlement.panicked |= row_panicked;
                settlement.rejected.push(*r);
            }
        }
    }
    if !outgoing.is_empty() {
        let ids = deps.bus.publish(&outgoing).await?;
        settlement.relayed = outgoing.iter().map(|o| o.outbox_id).zip(ids).collect();
    }
    Ok(settlement)
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

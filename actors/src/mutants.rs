//! Deliberately planted bugs (feature `sim-mutants`), for proving that the simulator's
//! invariants catch the kinds of bugs that bite pipelines. Each is off unless selected, per
//! thread, by the simulator (`MEMLINK_SIM_MUTANT=<name>`); every planted line is gated by
//! `#[cfg(feature = "sim-mutants")]`, so no other build contains them.
//!
//! This module must never be compiled into the daemon, and a mutant must never be active
//! outside a simulation run.

use std::cell::Cell;

/// One planted bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutant {
    /// The worker acknowledges a batch before committing its effects.
    AckBeforeCommit,
    /// The outbox commits a claim whose lease (row locks) was lost.
    LostLeaseCheck,
    /// The effect store applies an event without looking up whether it was applied before.
    MissingIdempotencyCheck,
    /// Taking over an idle entry does not count a delivery.
    ReclaimSkipsDeliveryCount,
    /// The reconciler publishes again rows whose events were already confirmed.
    ReconcilerRepublishesConfirmed,
}

impl Mutant {
    pub const ALL: [Mutant; 5] = [
        Mutant::AckBeforeCommit,
        Mutant::LostLeaseCheck,
        Mutant::MissingIdempotencyCheck,
        Mutant::ReclaimSkipsDeliveryCount,
        Mutant::ReconcilerRepublishesConfirmed,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Mutant::AckBeforeCommit => "ack_before_commit",
            Mutant::LostLeaseCheck => "lost_lease_check",
            Mutant::MissingIdempotencyCheck => "missing_idempotency_check",
            Mutant::ReclaimSkipsDeliveryCount => "reclaim_skips_delivery_count",
            Mutant::ReconcilerRepublishesConfirmed => "reconciler_republishes_confirmed",
        }
    }

    pub fn parse(name: &str) -> Option<Mutant> {
        Mutant::ALL.into_iter().find(|m| m.name() == name)
    }
}

thread_local! {
    static ACTIVE: Cell<Option<Mutant>> = const { Cell::new(None) };
}

/// Selects the mutant of this thread's simulation (`None`: the real code).
pub fn select(m: Option<Mutant>) {
    ACTIVE.with(|a| a.set(m));
}

/// Whether `m` is the selected mutant.
pub fn active(m: Mutant) -> bool {
    ACTIVE.with(|a| a.get() == Some(m))
}

//! Deterministic implementations of the ports, for unit tests and a seeded simulator: the
//! ambient ports here, the memory store in [`memory`], the simulator's world and ports in
//! [`sim`]. Never used by the daemon itself.

pub mod memory;
pub mod sim;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::ports::{Ambient, Clock, Entropy, IdSource};

/// A clock that stands still unless advanced.
#[derive(Debug)]
pub struct FixedClock(pub AtomicU64);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        let micros = self.0.load(Ordering::Relaxed) as i64;
        DateTime::from_timestamp_micros(micros).unwrap_or_default()
    }
}

/// Sequential ids: 1, 2, 3, ...
#[derive(Debug, Default)]
pub struct SequentialIds(pub AtomicU64);

impl IdSource for SequentialIds {
    fn new_id(&self) -> Uuid {
        Uuid::from_u128(u128::from(self.0.fetch_add(1, Ordering::Relaxed) + 1))
    }
}

/// A seeded linear congruential generator.
#[derive(Debug)]
pub struct SeededEntropy(pub AtomicU64);

impl Entropy for SeededEntropy {
    fn unit(&self) -> f64 {
        let next = self
            .0
            .load(Ordering::Relaxed)
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0.store(next, Ordering::Relaxed);
        (next >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// An ambient fixed at 2026-01-22T07:31:39Z with sequential ids and seed 42.
pub fn ambient() -> Ambient {
    Ambient {
        clock: Arc::new(FixedClock(AtomicU64::new(1_769_067_099_000_000))),
        ids: Arc::new(SequentialIds::default()),
        entropy: Arc::new(SeededEntropy(AtomicU64::new(42))),
    }
}

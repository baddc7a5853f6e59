//! The watermark folder: per chat, message count, XOR-of-SHA-256 checksum and integer
//! `updated_at`, folded from the durable record of processed messages.
//!
//! It owns every watermark write, so a watermark failure never blocks extraction, and after a
//! restart it simply folds whatever is still unfolded. It must never count a message twice:
//! the store marks each message folded in the same transaction that adds it.

pub mod actor;

use std::sync::Arc;
use std::time::Duration;

use crate::pace::Pace;
use crate::ports::{Ambient, FoldOutcome, WatermarkStore};
use crate::status::StatusBoard;

pub use actor::WatermarkActor;

pub const NAME: &str = "watermark";

#[derive(Debug, Clone)]
pub struct WatermarkConfig {
    pub batch_size: usize,
    pub interval: Duration,
}

impl Default for WatermarkConfig {
    fn default() -> Self {
        WatermarkConfig {
            batch_size: 2_000,
            interval: Duration::from_millis(200),
        }
    }
}

#[derive(Clone)]
pub struct WatermarkDeps {
    pub store: Arc<dyn WatermarkStore>,
    pub ambient: Ambient,
    pub status: StatusBoard,
    pub config: WatermarkConfig,
}

/// One fold; `Busy` when the batch was full (more is waiting).
pub async fn run_round(deps: &WatermarkDeps) -> (Pace, FoldOutcome) {
    let now = deps.ambient.clock.now();
    match deps.store.fold_pending(deps.config.batch_size, now).await {
        Ok(o) if o.messages >= deps.config.batch_size => (Pace::Busy, o),
        Ok(o) => (Pace::Idle, o),
        Err(e) => (Pace::Failing(e), FoldOutcome::default()),
    }
}

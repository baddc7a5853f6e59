//! The watermark folder as a [`RoundWork`]: what it logs and counts; the rounds are
//! [`super::run_round`], the actor is the shared [`RoundActor`].
//!
//! Its last step on drain folds until nothing is left (bounded), so a graceful shutdown
//! leaves watermarks current.

use super::{run_round, WatermarkDeps, NAME};
use crate::pace::Pace;
use crate::ports::{FoldOutcome, PortError};
use crate::round::{Drained, LocalFuture, RoundActor, RoundEnd, RoundIdentity, RoundWork};

pub type WatermarkActor = RoundActor<WatermarkDeps>;

/// Folds run on drain at most (each a full batch), so a drain ends even if folding never does.
const DRAIN_FOLDS: usize = 100;

impl RoundWork for WatermarkDeps {
    type Report = (Pace, FoldOutcome);
    const TARGET: &'static str = "memlink::watermark";

    fn identity(&self) -> RoundIdentity<'_> {
        RoundIdentity {
            name: NAME,
            status: &self.status,
            ambient: &self.ambient,
        }
    }

    fn round(&mut self) -> LocalFuture<(Pace, FoldOutcome)> {
        let deps = self.clone();
        Box::pin(async move { run_round(&deps).await })
    }

    fn record(&mut self, (pace, outcome): (Pace, FoldOutcome)) -> RoundEnd {
        if !matches!(pace, Pace::Failing(_)) {
            if outcome.messages > 0 {
                log::debug!(target: "memlink::watermark", "event=watermarks_folded messages={} chats={}", outcome.messages, outcome.chats);
            }
            crate::observe::folded(outcome.messages);
        }
        RoundEnd {
            pace,
            items: Some(outcome.messages),
            panicked: None,
        }
    }

    fn failed(&self, error: &PortError, attempt: u32) {
        log::warn!(target: "memlink::watermark", "event=watermark_retry error={:?} attempt={attempt}", error.message);
    }

    /// Folds until nothing is left (bounded), so a graceful stop leaves watermarks current.
    fn drain(&mut self) -> Option<LocalFuture<Drained>> {
        let deps = self.clone();
        Some(Box::pin(async move {
            let mut folded = 0;
            for _ in 0..DRAIN_FOLDS {
                let (pace, outcome) = run_round(&deps).await;
                folded += outcome.messages;
                if pace != Pace::Busy {
                    break;
                }
            }
            Drained::info(format!(" final_fold_messages={folded}"))
        }))
    }
}

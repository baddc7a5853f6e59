//! Retention as a [`RoundWork`]: what it logs, counts and shows; the rounds are
//! [`super::run_round`], the actor is the shared [`RoundActor`].

use std::time::Duration;

use super::{depart, kind, run_round, RetentionDeps, RetentionReport, NAME};
use crate::pace::Pace;
use crate::ports::PortError;
use crate::round::{Drained, LocalFuture, RoundActor, RoundEnd, RoundIdentity, RoundWork};

pub type RetentionActor = RoundActor<RetentionDeps>;

impl RoundWork for RetentionDeps {
    type Report = (Pace, RetentionReport);
    const TARGET: &'static str = "memlink::retention";

    fn identity(&self) -> RoundIdentity<'_> {
        RoundIdentity {
            name: NAME,
            status: &self.status,
            ambient: &self.ambient,
        }
    }

    /// The first pass waits a moment: the workers reclaim a dead consumer's entries first.
    fn first_round_after(&self) -> Duration {
        Duration::from_secs(1).min(self.config.every())
    }

    fn round(&mut self) -> LocalFuture<(Pace, RetentionReport)> {
        let deps = self.clone();
        Box::pin(async move { run_round(&deps).await })
    }

    fn record(&mut self, (pace, report): (Pace, RetentionReport)) -> RoundEnd {
        for (name, why) in &report.consumers_removed {
            log::info!(target: "memlink::retention", "event=retention_consumer_removed consumer={:?} reason={}", name, why.as_str());
        }
        if !report.removed.is_empty() {
            let counts: Vec<String> = report
                .removed
                .iter()
                .map(|(k, n)| format!("{k}={n}"))
                .collect();
            log::info!(target: "memlink::retention", "event=retention_removed {} stream_floor={}",
                counts.join(" "), report.stream_floor.map(|f| f.to_string()).unwrap_or_else(|| "none".into()));
        }
        for (k, n) in &report.removed {
            crate::observe::retention_removed(k, *n);
        }
        self.board.record(&report);
        RoundEnd::paced(pace)
    }

    fn failed(&self, error: &PortError, attempt: u32) {
        log::warn!(target: "memlink::retention", "event=retention_retry error={:?} attempt={attempt}", error.message);
    }

    /// This process's consumer leaves the group, unless it still owns pending entries.
    fn drain(&mut self) -> Option<LocalFuture<Drained>> {
        let deps = self.clone();
        Some(Box::pin(async move {
            match depart(&deps).await {
                Ok(true) => {
                    log::info!(target: "memlink::retention", "event=retention_consumer_removed consumer={:?} reason=departed", deps.config.consumer);
                    crate::observe::retention_removed(kind::CONSUMERS, 1);
                    deps.board.count(kind::CONSUMERS, 1);
                }
                Ok(false) => {
                    log::info!(target: "memlink::retention", "event=retention_consumer_kept consumer={:?} reason=pending_entries", deps.config.consumer);
                }
                Err(e) => {
                    log::warn!(target: "memlink::retention", "event=retention_consumer_kept consumer={:?} error={:?}", deps.config.consumer, e.message);
                }
            }
            Drained::info(String::new())
        }))
    }
}

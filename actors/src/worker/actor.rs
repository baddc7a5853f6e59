//! The worker as a [`RoundWork`]: what it logs and counts, and what it carries from one round
//! into the next (a batch whose commit failed, suspects still to handle, when it last
//! reclaimed); the rounds are [`super::run_round`], the actor is the shared [`RoundActor`].
//!
//! After a round that caught a panic the actor stops itself and its actix `Supervisor`
//! restarts it after a backoff.

use chrono::{DateTime, Utc};

use super::{run_round, Carry, RoundReport, WorkerDeps};
use crate::pace::Pace;
use crate::ports::PortError;
use crate::round::{LocalFuture, PanicRestart, RoundActor, RoundEnd, RoundIdentity, RoundWork};

pub type WorkerActor = RoundActor<WorkerRounds>;

/// A worker's rounds: its dependencies and the state kept between rounds.
pub struct WorkerRounds {
    deps: WorkerDeps,
    /// Work for the next round (a transient failure's retry, or isolated suspects).
    carry: Option<Carry>,
    last_reclaim: Option<DateTime<Utc>>,
}

impl From<WorkerDeps> for WorkerRounds {
    fn from(deps: WorkerDeps) -> WorkerRounds {
        WorkerRounds {
            deps,
            carry: None,
            last_reclaim: None,
        }
    }
}

impl WorkerRounds {
    fn reclaim_due(&mut self) -> bool {
        let now = self.deps.ambient.clock.now();
        let every = chrono::Duration::from_std(self.deps.config.reclaim_every)
            .unwrap_or(chrono::Duration::MAX);
        let due = self
            .last_reclaim
            .is_none_or(|last| now.signed_duration_since(last) >= every);
        if due {
            self.last_reclaim = Some(now);
        }
        due
    }
}

impl RoundWork for WorkerRounds {
    type Report = RoundReport;
    const TARGET: &'static str = "memlink::worker";

    fn identity(&self) -> RoundIdentity<'_> {
        RoundIdentity {
            name: self.deps.name,
            status: &self.deps.status,
            ambient: &self.deps.ambient,
        }
    }

    fn round(&mut self) -> LocalFuture<RoundReport> {
        let deps = self.deps.clone();
        let carry = self.carry.take();
        let reclaim_due = carry.is_none() && self.reclaim_due();
        Box::pin(async move { run_round(&deps, carry, reclaim_due).await })
    }

    fn record(&mut self, report: RoundReport) -> RoundEnd {
        let name = self.deps.name;
        for d in &report.dead_letters {
            log::warn!(
                target: "memlink::worker",
                "event=dead_letter actor={} reason={} source={} source_ref={} event_id={:?} deliveries={} detail={:?}", name,
                d.reason, d.source.as_str(), d.source_ref, d.event_id.as_deref().unwrap_or(""), d.delivery_count, d.detail
            );
            crate::observe::dead_letter(name, d.reason);
        }
        let items = report.applied + report.duplicates + report.dead_letters.len();
        if !matches!(report.pace, Pace::Failing(_)) {
            if items > 0 {
                log::debug!(target: "memlink::worker", "event=batch_applied applied={} duplicates={} dead_letters={}",
                    report.applied, report.duplicates, report.dead_letters.len());
            }
            crate::observe::processed(
                crate::domain::EventType::MessageCreated.as_str(),
                report.applied,
                report.duplicates,
            );
            // Each message applied was folded into its chat's watermark in the same commit.
            crate::observe::folded(report.applied);
        }
        // A round that panicked was committed and acked; a carry left is entries still to
        // handle (isolated suspects), kept so the restarted worker goes on with them.
        self.carry = report.carry;
        RoundEnd {
            pace: report.pace,
            items: Some(items),
            panicked: report.panicked.then_some(PanicRestart {
                note: "a message panicked the worker; it was dead-lettered",
                quarantined: true,
            }),
        }
    }

    fn failed(&self, error: &PortError, attempt: u32) {
        log::warn!(target: "memlink::worker", "event=worker_retry error={:?} attempt={attempt}", error.message);
    }

    /// The carry survives the restart (see [`RoundWork::record`]); the reclaim runs at once.
    fn restarting(&mut self) {
        self.last_reclaim = None;
    }
}

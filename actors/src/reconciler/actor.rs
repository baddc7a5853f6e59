//! The reconciler as a [`RoundWork`]: what it logs and counts; the rounds are
//! [`super::run_round`], the actor is the shared [`RoundActor`].

use std::time::Duration;

use super::{run_round, ReconcileReport, ReconcilerDeps, NAME, REPUBLISHED};
use crate::ports::PortError;
use crate::round::{LocalFuture, RoundActor, RoundEnd, RoundIdentity, RoundWork};

pub type ReconcilerActor = RoundActor<ReconcilerDeps>;

impl RoundWork for ReconcilerDeps {
    type Report = ReconcileReport;
    const TARGET: &'static str = "memlink::reconciler";

    fn identity(&self) -> RoundIdentity<'_> {
        RoundIdentity {
            name: NAME,
            status: &self.status,
            ambient: &self.ambient,
        }
    }

    /// Nothing can be older than the threshold right after a start: the first pass waits.
    fn first_round_after(&self) -> Duration {
        self.config.every
    }

    fn round(&mut self) -> LocalFuture<ReconcileReport> {
        let deps = self.clone();
        Box::pin(async move { run_round(&deps).await })
    }

    fn record(&mut self, report: ReconcileReport) -> RoundEnd {
        if report.republished > 0 {
            log::warn!(target: "memlink::reconciler", "event=reconciled examined={} republished={}", report.examined, report.republished);
            self.status.bump(REPUBLISHED, report.republished as u64);
        }
        RoundEnd::paced(report.pace)
    }

    fn failed(&self, error: &PortError, attempt: u32) {
        log::warn!(target: "memlink::reconciler", "event=reconciler_retry error={:?} attempt={attempt}", error.message);
    }
}

//! The reconciler as a [`PeriodicJob`]: what it logs and counts; the rounds are
//! [`super::run_round`], the actor is the shared [`PeriodicActor`].

use std::time::Duration;

use super::{run_round, ReconcileReport, ReconcilerDeps, NAME, REPUBLISHED};
use crate::pace::Pace;
use crate::periodic::{LocalFuture, PeriodicActor, PeriodicJob};
use crate::ports::{Ambient, PortError};
use crate::status::StatusBoard;

pub type ReconcilerActor = PeriodicActor<ReconcilerDeps>;

impl PeriodicJob for ReconcilerDeps {
    type Report = ReconcileReport;
    const NAME: &'static str = NAME;
    const TARGET: &'static str = "memlink::reconciler";

    fn status(&self) -> &StatusBoard {
        &self.status
    }

    fn ambient(&self) -> &Ambient {
        &self.ambient
    }

    /// Nothing can be older than the threshold right after a start: the first pass waits.
    fn first_round_after(&self) -> Duration {
        self.config.every
    }

    fn round(&self) -> LocalFuture<(Pace, ReconcileReport)> {
        let deps = self.clone();
        Box::pin(async move {
            let report = run_round(&deps).await;
            (report.pace.clone(), report)
        })
    }

    fn record(&self, report: &ReconcileReport) {
        if report.republished > 0 {
            log::warn!(target: "memlink::reconciler", "event=reconciled examined={} republished={}", report.examined, report.republished);
            self.status.bump(REPUBLISHED, report.republished as u64);
        }
    }

    fn failed(&self, error: &PortError, attempt: u32) {
        log::warn!(target: "memlink::reconciler", "event=reconciler_retry error={:?} attempt={attempt}", error.message);
    }
}

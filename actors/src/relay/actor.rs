//! The relay as a [`RoundWork`]: what it logs and counts; the rounds are [`super::run_round`],
//! the actor is the shared [`RoundActor`].
//!
//! Woken by outbox NOTIFYs (through the root) and by a slow poll; wake-ups that arrive while
//! a round is queued are coalesced (the round actor's [`crate::messages::Wake`]).

use super::{run_round, RelayDeps, RelayReport, NAME};
use crate::pace::Pace;
use crate::ports::PortError;
use crate::round::{LocalFuture, PanicRestart, RoundActor, RoundEnd, RoundIdentity, RoundWork};

pub type RelayActor = RoundActor<RelayDeps>;

impl RoundWork for RelayDeps {
    type Report = RelayReport;
    const TARGET: &'static str = "memlink::relay";

    fn identity(&self) -> RoundIdentity<'_> {
        RoundIdentity {
            name: NAME,
            status: &self.status,
            ambient: &self.ambient,
        }
    }

    fn round(&mut self) -> LocalFuture<RelayReport> {
        let deps = self.clone();
        Box::pin(async move { run_round(&deps).await })
    }

    fn record(&mut self, report: RelayReport) -> RoundEnd {
        for r in &report.rejected {
            let d = &r.dead_letter;
            log::warn!(
                target: "memlink::relay",
                "event=dead_letter actor={NAME} reason={} source=outbox source_ref={} detail={:?}",
                d.reason, d.source_ref, d.detail
            );
            crate::observe::dead_letter(NAME, d.reason);
        }
        if !matches!(report.pace, Pace::Failing(_)) {
            if report.relayed > 0 {
                log::debug!(target: "memlink::relay", "event=relayed rows={}", report.relayed);
            }
            crate::observe::relayed(report.relayed);
        }
        RoundEnd {
            items: Some(report.relayed + report.rejected.len()),
            panicked: report.panicked.then_some(PanicRestart {
                note: "an outbox row panicked the relay; it was dead-lettered",
                quarantined: true,
            }),
            // Idle rounds rely on NOTIFY wake-ups; the poll is only the fallback.
            pace: report.pace,
        }
    }

    fn failed(&self, error: &PortError, attempt: u32) {
        log::warn!(target: "memlink::relay", "event=relay_retry error={:?} attempt={attempt}", error.message);
    }
}

//! The enricher as a [`RoundWork`]: its rounds run beside the mailbox (health pings are
//! answered while a slow model thinks), and its drain hands this enricher's claims back; the
//! rounds are [`super::run_round`], the actor is the shared [`RoundActor`].

use super::{run_round, EnricherDeps, RoundReport, NAME};
use crate::pace::Pace;
use crate::ports::PortError;
use crate::round::{
    Drained, LocalFuture, PanicRestart, RoundActor, RoundEnd, RoundIdentity, RoundWork,
};

pub type LlmEnricher = RoundActor<EnricherRounds>;

/// The enricher's rounds: its dependencies, and whether its epoch is recorded.
pub struct EnricherRounds {
    deps: EnricherDeps,
    epoch_recorded: bool,
}

impl From<EnricherDeps> for EnricherRounds {
    fn from(deps: EnricherDeps) -> EnricherRounds {
        EnricherRounds {
            deps,
            epoch_recorded: false,
        }
    }
}

impl RoundWork for EnricherRounds {
    type Report = RoundReport;
    const TARGET: &'static str = "memlink::llm";
    const BESIDE_MAILBOX: bool = true;

    fn identity(&self) -> RoundIdentity<'_> {
        RoundIdentity {
            name: NAME,
            status: &self.deps.status,
            ambient: &self.deps.ambient,
        }
    }

    fn round(&mut self) -> LocalFuture<RoundReport> {
        Box::pin(run_round(self.deps.clone(), !self.epoch_recorded))
    }

    fn record(&mut self, report: RoundReport) -> RoundEnd {
        if !matches!(report.pace, Pace::Failing(_)) {
            self.epoch_recorded = true;
        }
        RoundEnd {
            pace: report.pace,
            items: None,
            panicked: report.panicked.then_some(PanicRestart {
                note: "an LLM job panicked; its claim expires and is retried a bounded number of times",
                quarantined: false,
            }),
        }
    }

    fn failed(&self, error: &PortError, attempt: u32) {
        log::warn!(target: "memlink::llm", "event=llm_enricher_retry error={:?} attempt={attempt}", error.message);
    }

    /// Jobs in flight may not finish before the process exits: their claims are handed back
    /// so that the next enricher takes them up at once (a job that does finish still records
    /// its outcome, and a second answer for it is ignored).
    fn drain(&mut self) -> Option<LocalFuture<Drained>> {
        let (store, owner) = (self.deps.store.clone(), self.deps.owner);
        Some(Box::pin(async move {
            match store.release_claims(owner).await {
                Ok(released) => Drained::info(format!(" released={released}")),
                Err(e) => Drained::warn(format!(" released=0 error={:?}", e.message)),
            }
        }))
    }
}

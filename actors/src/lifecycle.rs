//! What every round-based actor does the same way when it (re)starts: compute the delay of its
//! first round, mark it running on the status board, log `event=actor_started`.
//!
//! Bookkeeping only: it must never decide what a round does or when later rounds run.

use std::time::Duration;

use crate::pace::Pacer;
use crate::ports::Ambient;
use crate::status::{ActorState, StatusBoard};

/// Announces a (re)started actor and returns the delay before its first round: none on a
/// first start, an exponential backoff (with jitter) after a restart.
pub fn announce_start(
    actor: &'static str,
    target: &str,
    restarts: u32,
    pacer: &Pacer,
    status: &StatusBoard,
    ambient: &Ambient,
) -> Duration {
    let delay = pacer.restart_delay(restarts, ambient.entropy.unit());
    log::info!(target: target, "event=actor_started actor={actor} restarts={restarts} delay_ms={}", delay.as_millis());
    status.set_state(actor, ActorState::Running);
    delay
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backoff::ExponentialBackoff;
    use crate::testkit::ambient;

    #[test]
    fn a_restart_waits_and_the_board_says_running() {
        let b =
            ExponentialBackoff::try_new(Duration::from_millis(100), Duration::from_secs(1), 0.0)
                .unwrap();
        let pacer = Pacer::new(b, Duration::from_secs(1));
        let status = StatusBoard::new();
        let amb = ambient();
        assert_eq!(
            announce_start("worker", "t", 0, &pacer, &status, &amb),
            Duration::ZERO
        );
        assert_eq!(
            announce_start("worker", "t", 2, &pacer, &status, &amb),
            Duration::from_millis(200)
        );
        assert_eq!(status.snapshot()[0].state, ActorState::Running);
    }
}

//! Pacing shared by the round-based actors: when to run the next round after a round's
//! outcome, and how to back off while a dependency is down.
//!
//! Pure: the caller supplies the attempt number and the random value.

use std::time::Duration;

use crate::backoff::ExponentialBackoff;
use crate::ports::PortError;

/// How a round ended, in terms of pacing.
#[derive(Debug, Clone, PartialEq)]
pub enum Pace {
    /// More work is probably waiting: go again at once.
    Busy,
    /// Nothing to do: wait for the idle interval (or a wake-up).
    Idle,
    /// A dependency failed transiently: back off.
    Failing(PortError),
}

/// Tracks consecutive transient failures.
#[derive(Debug, Clone)]
pub struct Pacer {
    backoff: ExponentialBackoff,
    idle: Duration,
    failures: u32,
}

impl Pacer {
    pub fn new(backoff: ExponentialBackoff, idle: Duration) -> Pacer {
        Pacer {
            backoff,
            idle,
            failures: 0,
        }
    }

    /// The delay before the next round; `unit` is a random value in `[0, 1)`.
    pub fn next_delay(&mut self, pace: &Pace, unit: f64) -> Duration {
        match pace {
            Pace::Busy => {
                self.failures = 0;
                Duration::ZERO
            }
            Pace::Idle => {
                self.failures = 0;
                self.idle
            }
            Pace::Failing(_) => {
                let d = self.backoff.delay(self.failures, unit);
                self.failures = self.failures.saturating_add(1);
                d
            }
        }
    }

    /// Consecutive transient failures so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The delay before a restarted actor's first round (restart number `restarts`).
    pub fn restart_delay(&self, restarts: u32, unit: f64) -> Duration {
        if restarts == 0 {
            Duration::ZERO
        } else {
            self.backoff.delay(restarts - 1, unit)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backs_off_then_resets() {
        let b = ExponentialBackoff::try_new(Duration::from_millis(10), Duration::from_secs(1), 0.0)
            .unwrap();
        let mut p = Pacer::new(b, Duration::from_millis(500));
        let fail = Pace::Failing(PortError::transient("postgres", "down"));
        assert_eq!(p.next_delay(&fail, 0.0), Duration::from_millis(10));
        assert_eq!(p.next_delay(&fail, 0.0), Duration::from_millis(20));
        assert_eq!(p.failures(), 2);
        assert_eq!(p.next_delay(&Pace::Busy, 0.0), Duration::ZERO);
        assert_eq!(p.failures(), 0);
        assert_eq!(p.next_delay(&Pace::Idle, 0.0), Duration::from_millis(500));
        assert_eq!(p.restart_delay(0, 0.0), Duration::ZERO);
        assert_eq!(p.restart_delay(3, 0.0), Duration::from_millis(40));
    }
}

//! Exponential backoff with jitter, as a validated value type, and the restart budget that
//! turns "too many restarts too fast" into an escalation (OTP's intensity/period).
//!
//! Pure: both take the time and the randomness they need as arguments, never from the system.

use std::collections::VecDeque;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// Why a backoff or budget configuration is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackoffError {
    #[error("backoff minimum must be greater than zero")]
    ZeroMin,
    #[error("backoff maximum {max:?} is below the minimum {min:?}")]
    MaxBelowMin { min: Duration, max: Duration },
    #[error("jitter must be within 0.0..=1.0, got {0}")]
    Jitter(String),
}

/// Delays of `min * 2^attempt`, capped at `max`, each reduced by up to `jitter` of itself at
/// random so that many retrying actors do not stampede a recovering server together.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExponentialBackoff {
    min: Duration,
    max: Duration,
    jitter: f64,
}

impl ExponentialBackoff {
    pub fn try_new(min: Duration, max: Duration, jitter: f64) -> Result<Self, BackoffError> {
        if min.is_zero() {
            return Err(BackoffError::ZeroMin);
        }
        if max < min {
            return Err(BackoffError::MaxBelowMin { min, max });
        }
        if !(0.0..=1.0).contains(&jitter) {
            return Err(BackoffError::Jitter(jitter.to_string()));
        }
        Ok(ExponentialBackoff { min, max, jitter })
    }

    pub fn min(&self) -> Duration {
        self.min
    }

    pub fn max(&self) -> Duration {
        self.max
    }

    /// The delay before retry number `attempt` (0-based); `unit` is a random value in `[0, 1)`.
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let factor = 2f64.powi(attempt.min(62) as i32);
        let base = (self.min.as_secs_f64() * factor).min(self.max.as_secs_f64());
        let unit = unit.clamp(0.0, 1.0);
        let jittered = base * (1.0 - self.jitter * unit);
        Duration::from_secs_f64(jittered.max(self.min.as_secs_f64() * (1.0 - self.jitter)))
    }
}

/// At most `intensity` restarts within `period`; one more is an escalation.
#[derive(Debug, Clone)]
pub struct RestartBudget {
    intensity: usize,
    period: chrono::Duration,
    recent: VecDeque<DateTime<Utc>>,
}

/// The budget was exceeded: the supervisor must escalate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{restarts} restarts within {period_secs}s exceed the budget of {intensity}")]
pub struct BudgetExceeded {
    pub restarts: usize,
    pub intensity: usize,
    pub period_secs: i64,
}

impl RestartBudget {
    pub fn new(intensity: usize, period: Duration) -> RestartBudget {
        RestartBudget {
            intensity,
            period: chrono::Duration::from_std(period).unwrap_or(chrono::Duration::MAX),
            recent: VecDeque::new(),
        }
    }

    /// Records a restart at `now`.
    pub fn record(&mut self, now: DateTime<Utc>) -> Result<(), BudgetExceeded> {
        while let Some(oldest) = self.recent.front() {
            if now.signed_duration_since(*oldest) > self.period {
                self.recent.pop_front();
            } else {
                break;
            }
        }
        self.recent.push_back(now);
        if self.recent.len() > self.intensity {
            return Err(BudgetExceeded {
                restarts: self.recent.len(),
                intensity: self.intensity,
                period_secs: self.period.num_seconds(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rejects_invalid_configs() {
        let s = Duration::from_secs;
        assert_eq!(
            ExponentialBackoff::try_new(Duration::ZERO, s(1), 0.1),
            Err(BackoffError::ZeroMin)
        );
        assert!(ExponentialBackoff::try_new(s(2), s(1), 0.1).is_err());
        assert!(ExponentialBackoff::try_new(s(1), s(2), 1.5).is_err());
        assert!(ExponentialBackoff::try_new(s(1), s(2), f64::NAN).is_err());
    }

    #[test]
    fn doubles_until_the_cap() {
        let b =
            ExponentialBackoff::try_new(Duration::from_millis(100), Duration::from_secs(1), 0.0)
                .unwrap();
        let got: Vec<u128> = (0..6).map(|a| b.delay(a, 0.5).as_millis()).collect();
        assert_eq!(got, vec![100, 200, 400, 800, 1000, 1000]);
    }

    #[test]
    fn budget_escalates_only_within_the_period() {
        let t0 = DateTime::<Utc>::from_timestamp(1_000, 0).unwrap();
        let mut b = RestartBudget::new(2, Duration::from_secs(10));
        assert!(b.record(t0).is_ok());
        assert!(b.record(t0 + chrono::Duration::seconds(1)).is_ok());
        assert!(b.record(t0 + chrono::Duration::seconds(2)).is_err());
        let mut b = RestartBudget::new(2, Duration::from_secs(10));
        for i in 0..10 {
            assert!(b.record(t0 + chrono::Duration::seconds(i * 6)).is_ok());
        }
    }

    proptest! {
        #[test]
        fn delay_stays_within_bounds(min_ms in 1u64..10_000, extra in 0u64..100_000, jitter in 0.0f64..=1.0,
                                     attempt in 0u32..200, unit in 0.0f64..1.0) {
            let min = Duration::from_millis(min_ms);
            let max = Duration::from_millis(min_ms + extra);
            let b = ExponentialBackoff::try_new(min, max, jitter).unwrap();
            let d = b.delay(attempt, unit);
            prop_assert!(d <= max + Duration::from_micros(1));
            prop_assert!(d.as_secs_f64() >= min.as_secs_f64() * (1.0 - jitter) - 1e-9);
        }

        #[test]
        fn delay_is_monotonic_without_jitter(min_ms in 1u64..1_000, attempt in 0u32..40) {
            let b = ExponentialBackoff::try_new(Duration::from_millis(min_ms), Duration::from_secs(60), 0.0).unwrap();
            prop_assert!(b.delay(attempt, 0.0) <= b.delay(attempt + 1, 0.0));
        }
    }
}

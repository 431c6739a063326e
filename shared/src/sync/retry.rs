//! Run-level retry timing: exponential backoff with jitter, never sooner than the source asked.

use std::time::Duration;

use crate::settings::RetrySettings;

/// The wait before attempt `attempt + 1` after attempt `attempt` (1-based) failed: `base × 2^(attempt-1)`
/// capped at `max`, scaled by a random factor in [0.5, 1) so retries of many runs spread out, and at
/// least `retry_after` when the source sent one.
pub fn backoff(settings: &RetrySettings, attempt: i32, retry_after: Option<Duration>) -> Duration {
    let exponent = attempt.saturating_sub(1).clamp(0, 30) as u32;
    let base = Duration::from_millis(settings.base_ms).saturating_mul(1u32 << exponent.min(20));
    let capped = base.min(Duration::from_secs(settings.max_secs));
    let jittered = capped.mul_f64(0.5 + fastrand::f64() / 2.0);
    jittered.max(retry_after.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> RetrySettings {
        RetrySettings {
            max_attempts: 5,
            base_ms: 1000,
            max_secs: 60,
        }
    }

    #[test]
    fn grows_exponentially_within_jitter_and_cap() {
        for _ in 0..100 {
            let first = backoff(&settings(), 1, None);
            assert!(first >= Duration::from_millis(500) && first < Duration::from_secs(1));
            let third = backoff(&settings(), 3, None);
            assert!(third >= Duration::from_secs(2) && third < Duration::from_secs(4));
            let late = backoff(&settings(), 20, None);
            assert!(late >= Duration::from_secs(30) && late < Duration::from_secs(60));
        }
    }

    #[test]
    fn honours_retry_after() {
        let wait = backoff(&settings(), 1, Some(Duration::from_secs(42)));
        assert_eq!(wait, Duration::from_secs(42));
    }
}

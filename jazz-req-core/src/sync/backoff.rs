//! Exponential backoff between reconnection attempts, with jitter so that many clients of
//! a restarted server do not all come back in the same instant.

use std::time::Duration;

/// Delays between reconnection attempts: `initial`, then multiplied by `factor` after each
/// failure up to `max`; each delay is spread by ±`jitter` (a fraction, 0.0–1.0).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    /// The first delay. Default 100 ms.
    pub initial: Duration,
    /// The longest delay. Default 10 s.
    pub max: Duration,
    /// The growth per failed attempt. Default 2.
    pub factor: f64,
    /// The relative spread of each delay. Default 0.2.
    pub jitter: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(10),
            factor: 2.0,
            jitter: 0.2,
        }
    }
}

impl Backoff {
    /// The delay before attempt `attempt` (0 for the first retry), with `random` (0.0–1.0)
    /// choosing where in the jitter band it falls.
    pub fn delay(&self, attempt: u32, random: f64) -> Duration {
        let base = self.initial.as_secs_f64() * self.factor.max(1.0).powi(attempt.min(64) as i32);
        let capped = base.min(self.max.as_secs_f64());
        let jitter = self.jitter.clamp(0.0, 1.0);
        let spread = 1.0 + jitter * (2.0 * random.clamp(0.0, 1.0) - 1.0);
        let seconds = (capped * spread).clamp(0.0, self.max.as_secs_f64().max(0.0));
        Duration::try_from_secs_f64(seconds).unwrap_or(self.max)
    }
}

/// A number in 0.0–1.0 from the OS random source (0.5 when it is unavailable).
pub(crate) fn random_unit() -> f64 {
    let mut bytes = [0u8; 4];
    match getrandom::fill(&mut bytes) {
        Ok(()) => f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX),
        Err(_) => 0.5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_caps() {
        let backoff = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
            factor: 2.0,
            jitter: 0.0,
        };
        let delays: Vec<_> = (0..6).map(|n| backoff.delay(n, 0.7).as_millis()).collect();
        assert_eq!(delays, vec![100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff.delay(u32::MAX, 0.0), Duration::from_secs(1));
    }

    #[test]
    fn jitter_stays_in_its_band() {
        let backoff = Backoff::default();
        let low = backoff.delay(1, 0.0).as_secs_f64();
        let high = backoff.delay(1, 1.0).as_secs_f64();
        assert!((low - 0.16).abs() < 1e-9 && (high - 0.24).abs() < 1e-9);
        assert!((0.0..=1.0).contains(&random_unit()));
    }
}

//! Run time: real time, or a rehearsal's fast clock.

use std::time::{Duration, Instant};

/// Run time as scripts see it. A rehearsal runs its waits on a fast clock (`speed` > 1) so that a
/// 15-minute `wait_until` plays out in seconds.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    speed: f64,
}

impl Default for Clock {
    fn default() -> Self {
        Clock { speed: 1.0 }
    }
}

impl Clock {
    pub fn fast(speed: f64) -> Self {
        Clock {
            speed: speed.max(1.0),
        }
    }

    /// A rehearsal's clock.
    pub fn is_fast(&self) -> bool {
        self.speed > 1.0
    }

    /// How much run time has passed since `start` (real time × speed).
    pub fn elapsed(&self, start: Instant) -> Duration {
        start.elapsed().mul_f64(self.speed)
    }

    pub fn to_real(&self, run_time: Duration) -> Duration {
        run_time.div_f64(self.speed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fast_clock_shortens_real_waits() {
        let clock = Clock::fast(60.0);
        assert_eq!(
            clock.to_real(Duration::from_secs(60)),
            Duration::from_secs(1)
        );
    }
}

//! Time scaling: every controller delay goes through a `Clock`, so `--speed 10` makes a demo ten times faster and
//! tests can run at high speed without changing what the controllers decide.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clock {
    pub speed: f64,
}

impl Default for Clock {
    fn default() -> Self {
        Clock { speed: 1.0 }
    }
}

impl Clock {
    pub fn new(speed: f64) -> Self {
        // A zero or negative speed would mean "never"; treat nonsense as real time rather than hanging.
        let speed = if speed.is_finite() && speed > 0.0 {
            speed
        } else {
            1.0
        };
        Clock { speed }
    }

    /// The wall-clock duration that stands for `real` cluster time at this speed.
    pub fn scaled(&self, real: Duration) -> Duration {
        real.div_f64(self.speed)
    }

    pub async fn sleep(&self, real: Duration) {
        tokio::time::sleep(self.scaled(real)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_down_by_speed() {
        assert_eq!(
            Clock::new(10.0).scaled(Duration::from_secs(30)),
            Duration::from_secs(3)
        );
        assert_eq!(
            Clock::new(1.0).scaled(Duration::from_secs(30)),
            Duration::from_secs(30)
        );
    }

    #[test]
    fn nonsense_speed_is_real_time() {
        assert_eq!(Clock::new(0.0).speed, 1.0);
        assert_eq!(Clock::new(f64::NAN).speed, 1.0);
    }
}

//! Injected faults for reliability tests: latency, error answers, connection resets, an API taken down.
//! All random choices come from one seeded generator per cluster, so a seed reproduces a run.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status code (500, 503, or 429 with Retry-After).
    Status(u16),
    /// Drop the connection without an answer.
    Reset,
}

pub struct Faults {
    latency_ms: AtomicU64,
    /// Probability in millionths, so it fits an atomic.
    rate_ppm: AtomicU64,
    rng: Mutex<u64>,
    down: AtomicBool,
}

impl Faults {
    pub fn new(latency: Duration, fault_rate: f64, seed: u64) -> Faults {
        Faults {
            latency_ms: AtomicU64::new(latency.as_millis() as u64),
            rate_ppm: AtomicU64::new((fault_rate.clamp(0.0, 1.0) * 1e6) as u64),
            rng: Mutex::new(seed ^ 0xD1B5_4A32_D192_ED03),
            down: AtomicBool::new(false),
        }
    }

    pub fn latency(&self) -> Duration {
        Duration::from_millis(self.latency_ms.load(Ordering::Relaxed))
    }

    pub fn set_latency(&self, latency: Duration) {
        self.latency_ms
            .store(latency.as_millis() as u64, Ordering::Relaxed);
    }

    pub fn set_fault_rate(&self, rate: f64) {
        self.rate_ppm
            .store((rate.clamp(0.0, 1.0) * 1e6) as u64, Ordering::Relaxed);
    }

    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::SeqCst)
    }

    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    fn next_random(&self) -> u64 {
        let mut state = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Decides the fate of one request.
    pub fn roll(&self) -> Option<Fault> {
        let rate = self.rate_ppm.load(Ordering::Relaxed);
        if rate == 0 {
            return None;
        }
        let r = self.next_random();
        if r % 1_000_000 >= rate {
            return None;
        }
        Some(match (r / 1_000_000) % 4 {
            0 => Fault::Status(500),
            1 => Fault::Status(503),
            2 => Fault::Status(429),
            _ => Fault::Reset,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_faults() {
        let a = Faults::new(Duration::ZERO, 0.3, 7);
        let b = Faults::new(Duration::ZERO, 0.3, 7);
        let ra: Vec<_> = (0..200).map(|_| a.roll()).collect();
        let rb: Vec<_> = (0..200).map(|_| b.roll()).collect();
        assert_eq!(ra, rb);
        let hits = ra.iter().filter(|f| f.is_some()).count();
        assert!((30..90).contains(&hits), "{hits} faults of 200 at rate 0.3");
    }
}

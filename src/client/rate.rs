//! An adaptive (AIMD) request-rate limiter every attempt passes through. In: the configured
//! ceiling in requests per second and the outcome of each attempt. Out: a wait before each
//! attempt. A throttling answer halves the rate (never below 1/s, or the ceiling if that is
//! lower); each success adds a little back, up to the ceiling. Waits use tokio's clock.
//!
//! Written here rather than taken from `governor`: governor's quota is fixed when the limiter
//! is built and cannot change at runtime, which AIMD needs on every answer.

use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// Factor applied to the rate on a throttling answer.
const DECREASE: f64 = 0.5;
/// Lowest rate a throttling answer can push us to, in requests per second.
const FLOOR_QPS: f64 = 1.0;
/// Share of the ceiling a success adds back (50 successes from the floor to the ceiling).
const INCREASE_SHARE: f64 = 0.02;

/// Spaces attempts out to at most `rate` per second (no burst beyond one request).
#[derive(Debug)]
pub struct RateLimiter {
    ceiling: f64,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    rate: f64,
    next_slot: Option<Instant>,
}

impl RateLimiter {
    /// A limiter starting at `qps`; `None` for `qps <= 0` (unlimited).
    pub fn new(qps: f64) -> Option<Self> {
        (qps > 0.0 && qps.is_finite()).then(|| Self {
            ceiling: qps,
            state: Mutex::new(State {
                rate: qps,
                next_slot: None,
            }),
        })
    }

    /// Waits until this attempt may be sent.
    pub async fn acquire(&self) {
        let slot = {
            let mut state = self.state.lock().expect("rate limiter lock");
            let now = Instant::now();
            let slot = state.next_slot.map_or(now, |next| next.max(now));
            state.next_slot = Some(slot + Duration::from_secs_f64(1.0 / state.rate));
            slot
        };
        tokio::time::sleep_until(slot).await;
    }

    /// A throttling answer: multiplicative decrease.
    pub fn on_throttled(&self) {
        let mut state = self.state.lock().expect("rate limiter lock");
        state.rate = (state.rate * DECREASE).max(FLOOR_QPS.min(self.ceiling));
    }

    /// A successful answer: additive increase up to the ceiling.
    pub fn on_success(&self) {
        let mut state = self.state.lock().expect("rate limiter lock");
        state.rate = (state.rate + self.ceiling * INCREASE_SHARE).min(self.ceiling);
    }

    /// The current rate in requests per second.
    pub fn rate(&self) -> f64 {
        self.state.lock().expect("rate limiter lock").rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_means_unlimited() {
        assert!(RateLimiter::new(0.0).is_none());
        assert!(RateLimiter::new(-3.0).is_none());
    }

    #[test]
    fn aimd_halves_to_the_floor_and_recovers_to_the_ceiling() {
        let limiter = RateLimiter::new(10.0).unwrap();
        limiter.on_throttled();
        assert_eq!(limiter.rate(), 5.0);
        for _ in 0..10 {
            limiter.on_throttled();
        }
        assert_eq!(limiter.rate(), 1.0);
        limiter.on_success();
        assert!((limiter.rate() - 1.2).abs() < 1e-9);
        for _ in 0..100 {
            limiter.on_success();
        }
        assert_eq!(limiter.rate(), 10.0);

        let slow = RateLimiter::new(0.5).unwrap();
        slow.on_throttled();
        assert_eq!(slow.rate(), 0.5);
    }

    #[tokio::test(start_paused = true)]
    async fn attempts_are_spaced_by_the_current_rate() {
        let limiter = RateLimiter::new(4.0).unwrap();
        let start = Instant::now();
        for _ in 0..5 {
            limiter.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        limiter.on_throttled();
        limiter.acquire().await; // slot already booked at the old rate
        let before = Instant::now();
        limiter.acquire().await;
        assert_eq!(before.elapsed(), Duration::from_millis(500));
    }
}

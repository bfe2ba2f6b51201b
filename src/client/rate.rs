//! An adaptive (AIMD) request-rate limiter every attempt passes through. In: the configured
//! ceiling in requests per second and the outcome of each attempt. Out: a wait before each
//! attempt. Waits use tokio's clock.
//!
//! The limiter starts at the ceiling, so an account whose quota is above `--qps` never waits
//! for it to ramp up. On a throttling answer it cuts the rate once (multiplicative decrease):
//! to 90% of the successes the service admitted in the last second when that is below the
//! current rate, which lands just under the quota in one step, else to half. Services count
//! quotas in windows of about a second, and a window that is used up refuses everything until
//! it ends, so after a cut the limiter also pauses new attempts for [`PAUSE`] and ignores the
//! throttling answers of attempts already in flight for the same time (one overload, one cut).
//! Each success adds back 3% of the rate per second of successes (at least 1 request/s per
//! second), up to the ceiling: slow enough that probing above the quota costs a throttled
//! answer every several seconds, not every window.
//!
//! Written here rather than taken from `governor`: governor's quota is fixed when the limiter
//! is built and cannot change at runtime, which AIMD needs on every answer.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// Factor applied to the rate on a throttling answer when the admitted rate says nothing.
const DECREASE: f64 = 0.5;
/// Share of the admitted rate a cut lands on.
const ADMITTED_SHARE: f64 = 0.9;
/// Lowest rate a throttling answer can push us to, in requests per second.
const FLOOR_QPS: f64 = 1.0;
/// Growth per second of successes, as a share of the current rate.
const INCREASE_SHARE: f64 = 0.03;
/// Least growth per second of successes, in requests per second.
const INCREASE_MIN_QPS: f64 = 1.0;
/// How long after a cut new attempts wait and further throttling answers are not cut again:
/// the length of the quota window the service counts in.
pub const PAUSE: Duration = Duration::from_secs(1);
/// The window over which admitted requests are counted.
const WINDOW: Duration = Duration::from_secs(1);

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
    /// No attempt starts before this, and no throttling answer cuts again (after a cut).
    calm_until: Option<Instant>,
    /// When recent successes arrived, oldest first, at most [`WINDOW`] old.
    successes: VecDeque<Instant>,
}

impl State {
    fn forget_before(&mut self, now: Instant) {
        while self
            .successes
            .front()
            .is_some_and(|t| now.duration_since(*t) > WINDOW)
        {
            self.successes.pop_front();
        }
    }
}

impl RateLimiter {
    /// A limiter starting at `qps`; `None` for `qps <= 0` (unlimited).
    pub fn new(qps: f64) -> Option<Self> {
        (qps > 0.0 && qps.is_finite()).then(|| Self {
            ceiling: qps,
            state: Mutex::new(State {
                rate: qps,
                next_slot: None,
                calm_until: None,
                successes: VecDeque::new(),
            }),
        })
    }

    /// Waits until this attempt may be sent.
    pub async fn acquire(&self) {
        let slot = {
            let mut state = self.state.lock().expect("rate limiter lock");
            let now = Instant::now();
            let earliest = state.calm_until.map_or(now, |calm| calm.max(now));
            let slot = state.next_slot.map_or(earliest, |next| next.max(earliest));
            state.next_slot = Some(slot + Duration::from_secs_f64(1.0 / state.rate));
            slot
        };
        tokio::time::sleep_until(slot).await;
    }

    /// A throttling answer: one multiplicative decrease per overload, then a pause.
    pub fn on_throttled(&self) {
        let mut state = self.state.lock().expect("rate limiter lock");
        let now = Instant::now();
        if state.calm_until.is_some_and(|calm| now < calm) {
            return;
        }
        state.forget_before(now);
        let admitted = state.successes.len() as f64 * ADMITTED_SHARE;
        let cut = if admitted >= FLOOR_QPS && admitted < state.rate {
            admitted
        } else {
            state.rate * DECREASE
        };
        state.rate = cut.max(FLOOR_QPS.min(self.ceiling));
        state.calm_until = Some(now + PAUSE);
        // Slots booked at the old rate would overrun the new one.
        state.next_slot = None;
    }

    /// A successful answer: additive increase up to the ceiling.
    pub fn on_success(&self) {
        let mut state = self.state.lock().expect("rate limiter lock");
        let now = Instant::now();
        state.forget_before(now);
        state.successes.push_back(now);
        let per_second = (state.rate * INCREASE_SHARE).max(INCREASE_MIN_QPS);
        state.rate = (state.rate + per_second / state.rate).min(self.ceiling);
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

    #[tokio::test(start_paused = true)]
    async fn a_cut_lands_under_the_admitted_rate_once_per_overload() {
        let limiter = RateLimiter::new(1000.0).unwrap();
        for _ in 0..100 {
            limiter.acquire().await;
            limiter.on_success();
        }
        limiter.on_throttled();
        assert!((limiter.rate() - 90.0).abs() < 1e-9, "{}", limiter.rate());
        // Answers to attempts already in flight do not cut again.
        limiter.on_throttled();
        limiter.on_throttled();
        assert!((limiter.rate() - 90.0).abs() < 1e-9);
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_measure_a_cut_halves_down_to_the_floor() {
        let limiter = RateLimiter::new(10.0).unwrap();
        limiter.on_throttled();
        assert_eq!(limiter.rate(), 5.0);
        for _ in 0..10 {
            tokio::time::advance(PAUSE).await;
            limiter.on_throttled();
        }
        assert_eq!(limiter.rate(), 1.0);
        let slow = RateLimiter::new(0.5).unwrap();
        slow.on_throttled();
        assert_eq!(slow.rate(), 0.5);
    }

    #[tokio::test(start_paused = true)]
    async fn after_a_cut_attempts_pause_then_follow_the_new_rate() {
        let limiter = RateLimiter::new(4.0).unwrap();
        let start = Instant::now();
        for _ in 0..5 {
            limiter.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        limiter.on_throttled();
        assert_eq!(limiter.rate(), 2.0);
        let before = Instant::now();
        limiter.acquire().await;
        assert_eq!(before.elapsed(), PAUSE);
        limiter.acquire().await;
        assert_eq!(before.elapsed(), PAUSE + Duration::from_millis(500));
    }

    #[test]
    fn successes_recover_slowly_up_to_the_ceiling() {
        let limiter = RateLimiter::new(100.0).unwrap();
        limiter.on_throttled();
        assert_eq!(limiter.rate(), 50.0);
        // One second of successes at 50/s adds max(1, 3% of 50) = 1.5 requests/s.
        for _ in 0..50 {
            limiter.on_success();
        }
        assert!((limiter.rate() - 51.5).abs() < 0.05, "{}", limiter.rate());
        for _ in 0..100_000 {
            limiter.on_success();
        }
        assert_eq!(limiter.rate(), 100.0);
    }
}

//! The client-side rate limit shared by every request of a command.
//!
//! Requests are spaced evenly at the configured rate (a GCRA limiter with a burst of one, so the first minute
//! cannot send twice the budget). When Polar still answers 429, or its rate-limit headers say the budget is
//! spent, every request pauses until the server's reset time and the rate drops by a fifth, so the connector
//! settles below whatever share of the organization's budget is left.

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::time::Instant;

pub struct AdaptiveRateLimit {
    state: Mutex<State>,
}

struct State {
    limiter: Arc<DefaultDirectRateLimiter>,
    per_minute: NonZeroU32,
    paused_until: Option<Instant>,
}

fn limiter(per_minute: NonZeroU32) -> Arc<DefaultDirectRateLimiter> {
    Arc::new(RateLimiter::direct(
        Quota::per_minute(per_minute).allow_burst(NonZeroU32::MIN),
    ))
}

impl AdaptiveRateLimit {
    pub fn new(per_minute: NonZeroU32) -> Self {
        AdaptiveRateLimit {
            state: Mutex::new(State {
                limiter: limiter(per_minute),
                per_minute,
                paused_until: None,
            }),
        }
    }

    /// Waits until one more request may be sent.
    pub async fn acquire(&self) {
        loop {
            let (limiter, paused_until) = {
                let state = self.state.lock().expect("rate limit state");
                (state.limiter.clone(), state.paused_until)
            };
            if let Some(until) = paused_until.filter(|until| *until > Instant::now()) {
                tokio::time::sleep_until(until).await;
                continue;
            }
            // Waiting on tokio's timer keeps the wait on the runtime's thread (governor's own `until_ready`
            // waits on a timer thread of its own, one cross-thread wake-up per request).
            while let Err(not_until) = limiter.check() {
                let wait = not_until.wait_time_from(governor::clock::Clock::now(limiter.clock()));
                tokio::time::sleep(wait).await;
            }
            // A pause may have begun while this request waited for its slot.
            let paused = self.state.lock().expect("rate limit state").paused_until;
            if paused.is_none_or(|until| until <= Instant::now()) {
                return;
            }
        }
    }

    /// Polar answered 429: pause every request for `retry_after` and slow down by a fifth.
    pub fn rate_limited(&self, retry_after: Duration) {
        let mut state = self.state.lock().expect("rate limit state");
        state.pause(retry_after);
        let slower = (state.per_minute.get() * 4 / 5).max(1);
        state.per_minute = NonZeroU32::new(slower).expect("at least one");
        state.limiter = limiter(state.per_minute);
    }

    /// The server says its budget is spent until `reset_after` from now: pause without slowing down.
    pub fn budget_spent(&self, reset_after: Duration) {
        self.state
            .lock()
            .expect("rate limit state")
            .pause(reset_after);
    }

    pub fn per_minute(&self) -> u32 {
        self.state
            .lock()
            .expect("rate limit state")
            .per_minute
            .get()
    }
}

impl State {
    fn pause(&mut self, duration: Duration) {
        let until = Instant::now() + duration;
        if self.paused_until.is_none_or(|current| current < until) {
            self.paused_until = Some(until);
        }
    }
}

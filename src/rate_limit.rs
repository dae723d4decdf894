//! The client-side pace shared by every request of a command, adapted to Polar's real limiter.
//!
//! Polar counts a **fixed window** per organization (500 requests a minute in production), shared with every
//! token of the organization, so the merchant's own traffic spends the same budget; over it, every request
//! gets 429 with `Retry-After` equal to the whole window, and no header says what is left. The connector
//! therefore adapts the way congestion control does ([`Pacer`], pure and unit-tested):
//!
//! - Requests are spaced evenly at the current rate (a burst of one), never above the configured
//!   `requests_per_minute` (1 % under it, so that network jitter at the server's window edges does not count
//!   one request too many), which stays the user's ceiling so the merchant keeps headroom.
//! - A 429 opens a **rate-limited episode**: every request pauses, and the rate is cut **once** for the
//!   episode however many requests saw it (answers to requests sent before the episode began change
//!   nothing). The cut goes just under what the window has been granting us: the smaller of 90 % of the rate
//!   and 95 % of our successful requests over the last window (whose length `Retry-After` gives).
//! - Since `Retry-After` is the window's length, not the time left in it, the pause re-probes with one
//!   request at a time every twelfth of it (at least one second, and all of it when it is short) until a
//!   request succeeds: the window has reset, and the episode ends.
//! - While requests succeed, the rate recovers gradually (additively, a few percent of the ceiling a minute).
//! - `RateLimit-*` / `X-RateLimit-*` headers, where a server sends them, pause until their reset without a
//!   cut.

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// The longest window our own successes are remembered over (Polar's is 60 s; its `Retry-After` says which).
const MAX_WINDOW: Duration = Duration::from_secs(120);
/// The resolution of that memory.
const TICK: Duration = Duration::from_millis(100);
/// The cut when the window has granted us more than this share of the current rate.
const CUT: f64 = 0.9;
/// The share of what the window granted that the cut aims at, so the pace settles just under it and leaves
/// the merchant's own traffic its share.
const UNDER_GRANTED: f64 = 0.95;
/// Recovery: this share of the ceiling per minute of requests succeeding.
const RECOVERY_PER_MINUTE: f64 = 0.02;
/// The rate never drops below this share of the ceiling.
const FLOOR: f64 = 0.02;
/// Requests are spaced this much wider than the ceiling: a request that reaches the server a few
/// milliseconds late must not make the next minute count one too many.
const JITTER_MARGIN: f64 = 0.99;

/// The pace of requests: when each may go, and how 429s and successes change it. No I/O: time comes in.
#[derive(Debug)]
pub struct Pacer {
    /// Requests per second.
    ceiling: f64,
    rate: f64,
    /// The earliest time the next request may go.
    next_slot: Instant,
    paused_until: Option<Instant>,
    /// When the open rate-limited episode began.
    episode: Option<Instant>,
    /// When the last episode began: answers to requests sent before it are old news.
    last_episode: Option<Instant>,
    last_recovery: Instant,
    /// Our successes over the last [`MAX_WINDOW`], one tick per entry: (tick, count).
    successes: VecDeque<(u64, u32)>,
    origin: Instant,
}

/// What a 429 changed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// When the next request may go (probe the window).
    pub resume_at: Instant,
    /// The new rate in requests per minute, when this answer opened an episode and cut it.
    pub cut_to: Option<f64>,
}

impl Pacer {
    /// A pace of at most `per_minute` requests a minute.
    pub fn new(per_minute: f64, now: Instant) -> Pacer {
        let ceiling = per_minute / 60.0;
        Pacer {
            ceiling,
            rate: ceiling,
            next_slot: now,
            paused_until: None,
            episode: None,
            last_episode: None,
            last_recovery: now,
            successes: VecDeque::new(),
            origin: now,
        }
    }

    /// Reserves the next slot: the time this request may be sent.
    pub fn reserve(&mut self, now: Instant) -> Instant {
        self.reserve_telling(now).0
    }

    /// [`Pacer::reserve`], and whether the slot waits for a pause (the budget is spent), not only the pace.
    pub fn reserve_telling(&mut self, now: Instant) -> (Instant, bool) {
        let mut at = self.next_slot.max(now);
        // A pause in force holds the slot, however the slot was pushed back (an episode also moves the pace's
        // next slot to its probe).
        let paused = self.paused_until.is_some_and(|until| until > now);
        if let Some(until) = self.paused_until.filter(|until| *until > at) {
            at = until;
        }
        self.next_slot = at + Duration::from_secs_f64(1.0 / self.rate);
        (at, paused)
    }

    /// A request sent at `sent` succeeded at `now`.
    pub fn succeeded(&mut self, sent: Instant, now: Instant) {
        let tick = self.tick(now);
        match self.successes.back_mut() {
            Some((last, count)) if *last == tick => *count += 1,
            _ => self.successes.push_back((tick, 1)),
        }
        let kept = (MAX_WINDOW.as_millis() / TICK.as_millis()) as u64;
        while self
            .successes
            .front()
            .is_some_and(|(first, _)| tick - first >= kept)
        {
            self.successes.pop_front();
        }
        if let Some(began) = self.episode {
            if sent < began {
                return;
            }
            // The window has reset: the episode is over, and recovery starts from here.
            self.episode = None;
            self.paused_until = None;
            self.last_recovery = now;
            return;
        }
        let minutes = now.duration_since(self.last_recovery).as_secs_f64() / 60.0;
        self.last_recovery = now;
        self.rate = (self.rate + self.ceiling * RECOVERY_PER_MINUTE * minutes).min(self.ceiling);
    }

    /// A request sent at `sent` was answered 429 at `now`, asking to wait `retry_after`.
    pub fn rate_limited(&mut self, sent: Instant, now: Instant, retry_after: Duration) -> Backoff {
        let unchanged = |pacer: &Pacer| Backoff {
            resume_at: pacer.paused_until.unwrap_or(now).max(now),
            cut_to: None,
        };
        if self.last_episode.is_some_and(|began| sent < began) {
            // Sent before the current (or last) episode began: it says nothing new.
            return unchanged(self);
        }
        let probe_at = now + probe_interval(retry_after);
        self.paused_until = Some(
            self.paused_until
                .map_or(probe_at, |until| until.max(probe_at)),
        );
        if self.episode.is_some() {
            return unchanged(self);
        }
        self.episode = Some(now);
        self.last_episode = Some(now);
        // Polar's `Retry-After` is its window's length: what the window granted us is our successes over it.
        let window = retry_after.clamp(TICK, MAX_WINDOW);
        let granted =
            UNDER_GRANTED * self.successes_within(now, window) as f64 / window.as_secs_f64();
        self.rate = (self.rate * CUT)
            .min(granted)
            .clamp(self.ceiling * FLOOR, self.ceiling);
        self.next_slot = self.next_slot.max(probe_at);
        Backoff {
            resume_at: probe_at,
            cut_to: Some(self.per_minute()),
        }
    }

    /// The server says its budget is spent until `now + reset_after`: pause without a cut.
    pub fn budget_spent(&mut self, now: Instant, reset_after: Duration) {
        let until = now + reset_after;
        self.paused_until = Some(
            self.paused_until
                .map_or(until, |current| current.max(until)),
        );
    }

    pub fn per_minute(&self) -> f64 {
        self.rate * 60.0
    }

    fn tick(&self, now: Instant) -> u64 {
        (now.duration_since(self.origin).as_millis() / TICK.as_millis()) as u64
    }

    fn successes_within(&self, now: Instant, window: Duration) -> u64 {
        let since = self
            .tick(now)
            .checked_sub((window.as_millis() / TICK.as_millis()) as u64);
        self.successes
            .iter()
            .filter(|(tick, _)| since.is_none_or(|since| *tick > since))
            .map(|(_, count)| u64::from(*count))
            .sum()
    }
}

/// How long a paused episode waits before the next probe: all of a short `Retry-After`, a twelfth of a long
/// one (Polar's is the whole window, and the window may reset any time within it).
pub fn probe_interval(retry_after: Duration) -> Duration {
    if retry_after <= Duration::from_secs(10) {
        retry_after
    } else {
        (retry_after / 12).max(Duration::from_secs(1))
    }
}

/// The [`Pacer`] shared by every request of a command.
pub struct AdaptiveRateLimit {
    pacer: Mutex<Pacer>,
    ceiling: NonZeroU32,
}

impl AdaptiveRateLimit {
    pub fn new(per_minute: NonZeroU32) -> Self {
        AdaptiveRateLimit {
            pacer: Mutex::new(Pacer::new(
                f64::from(per_minute.get()) * JITTER_MARGIN,
                Instant::now(),
            )),
            ceiling: per_minute,
        }
    }

    /// Reserves the next request's slot: the time it may be sent (the caller waits until then), and whether
    /// it waits for a pause (the organization's budget is spent) rather than the pace alone.
    pub fn reserve(&self) -> (Instant, bool) {
        self.lock().reserve_telling(Instant::now())
    }

    pub fn succeeded(&self, sent: Instant) {
        self.lock().succeeded(sent, Instant::now());
    }

    pub fn rate_limited(&self, sent: Instant, retry_after: Duration) -> Backoff {
        self.lock().rate_limited(sent, Instant::now(), retry_after)
    }

    pub fn budget_spent(&self, reset_after: Duration) {
        self.lock().budget_spent(Instant::now(), reset_after);
    }

    /// The user's ceiling, in requests per minute.
    pub fn ceiling(&self) -> u32 {
        self.ceiling.get()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pacer> {
        self.pacer
            .lock()
            .expect("the pacer's lock is never poisoned")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn per_minute(n: u32) -> f64 {
        f64::from(n)
    }

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    /// `count` requests that succeeded `every` seconds apart from `t0`.
    fn succeed(pacer: &mut Pacer, t0: Instant, count: u32, every: f64) {
        for i in 0..count {
            let at = t0 + secs(f64::from(i) * every);
            pacer.succeeded(at, at);
        }
    }

    #[test]
    fn a_slot_held_by_a_pause_says_so() {
        let t0 = Instant::now();
        let mut pacer = Pacer::new(per_minute(600), t0);
        let (_, paused) = pacer.reserve_telling(t0);
        assert!(!paused, "the pace alone");
        pacer.rate_limited(t0, t0, secs(60.0));
        let (at, paused) = pacer.reserve_telling(t0 + secs(1.0));
        assert!(paused && at >= t0 + secs(5.0), "{:?}", at - t0);
        pacer.budget_spent(t0 + secs(100.0), secs(2.0));
        let (_, paused) = pacer.reserve_telling(t0 + secs(100.5));
        assert!(paused);
        let (_, paused) = pacer.reserve_telling(t0 + secs(103.0));
        assert!(!paused, "the pause is over");
    }

    #[test]
    fn requests_are_spaced_evenly_at_the_ceiling_with_no_burst() {
        let t0 = Instant::now();
        let mut pacer = Pacer::new(per_minute(600), t0);
        let slots: Vec<Duration> = (0..5).map(|_| pacer.reserve(t0) - t0).collect();
        assert_eq!(
            slots,
            [0.0, 0.1, 0.2, 0.3, 0.4].map(secs).to_vec(),
            "10 per second, the first at once"
        );
    }

    #[test]
    fn one_cut_per_episode_however_many_requests_see_it() {
        let t0 = Instant::now();
        let mut pacer = Pacer::new(per_minute(600), t0);
        // 60 s of successes at 10/s: the window granted 600.
        succeed(&mut pacer, t0, 600, 0.1);
        let now = t0 + secs(60.0);
        let sent = now - secs(0.3);
        let backoff = pacer.rate_limited(sent, now, secs(60.0));
        assert_eq!(backoff.cut_to, Some(540.0), "a new episode cuts 10 %");
        assert_eq!(
            backoff.resume_at,
            now + secs(5.0),
            "a twelfth of the window"
        );
        // Eight requests in flight all come back 429: the rate is cut once.
        for k in 0..8 {
            let later = now + secs(0.01 * f64::from(k));
            assert_eq!(pacer.rate_limited(later, later, secs(60.0)).cut_to, None);
        }
        assert!((pacer.per_minute() - 540.0).abs() < 1e-6);
        // Nothing goes before the probe.
        assert!(pacer.reserve(now) >= now + secs(5.0));
    }

    #[test]
    fn the_cut_goes_to_what_the_window_granted() {
        let t0 = Instant::now();
        let mut pacer = Pacer::new(per_minute(500), t0);
        // Only 200 requests succeeded in the last minute before the window was spent.
        succeed(&mut pacer, t0, 200, 0.2);
        let now = t0 + secs(40.0);
        let cut = pacer.rate_limited(now, now, secs(60.0)).cut_to.unwrap();
        assert!(
            (cut - 190.0).abs() < 1e-6,
            "{cut}: just under the 200 granted"
        );
    }

    #[test]
    fn the_episode_ends_at_the_first_success_after_it_began_and_recovery_is_gradual() {
        let t0 = Instant::now();
        let mut pacer = Pacer::new(per_minute(600), t0);
        succeed(&mut pacer, t0, 600, 0.1);
        let now = t0 + secs(60.0);
        assert!(pacer.rate_limited(now, now, secs(60.0)).cut_to.is_some());
        // An answer to a request sent before the episode does not end it.
        pacer.succeeded(now - secs(1.0), now + secs(1.0));
        assert!(pacer.reserve(now + secs(1.0)) >= now + secs(5.0));
        // The probe succeeds: the pause is over.
        let probe = now + secs(5.0);
        pacer.succeeded(probe, probe + secs(0.2));
        let next = pacer.reserve(probe + secs(0.2));
        assert!(next < probe + secs(1.0), "no longer paused");
        // A minute of successes adds 2 % of the ceiling (12/min), and never beyond it.
        let mut at = probe + secs(0.2);
        for _ in 0..60 {
            at += secs(1.0);
            pacer.succeeded(at, at);
        }
        assert!(
            (pacer.per_minute() - 552.0).abs() < 0.5,
            "{}",
            pacer.per_minute()
        );
        for _ in 0..3600 {
            at += secs(1.0);
            pacer.succeeded(at, at);
        }
        assert!(
            (pacer.per_minute() - 600.0).abs() < 1e-6,
            "capped at the ceiling"
        );
        // A 429 for a request sent before the last episode began is old news even after it ended.
        let stale = pacer.rate_limited(now - secs(2.0), at, secs(60.0));
        assert_eq!(
            stale,
            Backoff {
                resume_at: at,
                cut_to: None
            }
        );
    }

    #[test]
    fn probes_repeat_while_the_window_stays_spent_and_short_waits_are_honoured_whole() {
        let t0 = Instant::now();
        let mut pacer = Pacer::new(per_minute(60), t0);
        assert!(pacer.rate_limited(t0, t0, secs(2.0)).cut_to.is_some());
        assert_eq!(
            pacer.reserve(t0),
            t0 + secs(2.0),
            "a short Retry-After is waited whole"
        );
        let probe = t0 + secs(2.0);
        let again = pacer.rate_limited(probe, probe + secs(0.1), secs(2.0));
        assert_eq!(again.cut_to, None);
        assert_eq!(again.resume_at, probe + secs(2.1));
        assert!(
            pacer.reserve(probe) >= probe + secs(2.1),
            "the pause is extended"
        );
        assert!(pacer.per_minute() >= 60.0 * FLOOR);
    }

    #[test]
    fn the_rate_never_drops_below_the_floor() {
        let t0 = Instant::now();
        let mut pacer = Pacer::new(per_minute(500), t0);
        let cut = pacer.rate_limited(t0, t0, secs(60.0)).cut_to.unwrap();
        assert!((cut - 10.0).abs() < 1e-6, "{cut}: 2 % of 500");
    }
}

//! Operational limits of the HTTP client and the reader: timeouts, retry budget, concurrency.
//!
//! The defaults suit a production sync; each can be changed through an environment variable (listed in the
//! README) so that operators and tests can tighten them without a config change.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Tuning {
    /// Time to establish a TCP + TLS connection.
    pub connect_timeout: Duration,
    /// Time for a whole request: status, headers and body.
    pub request_timeout: Duration,
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// The first retry's delay; later ones double, with jitter.
    pub backoff_base: Duration,
    /// Cap on one computed backoff delay.
    pub backoff_max: Duration,
    /// Cap on the total time one request may spend waiting between attempts.
    pub max_retry_wait: Duration,
    /// Streams read at the same time.
    pub concurrent_streams: usize,
    /// Pages of one stream requested ahead of the one being emitted.
    pub pages_ahead: usize,
    /// Pages fetched ahead and not yet emitted, across the whole sync: the bound on memory.
    pub pages_buffered: usize,
    /// Requests in flight across the whole sync.
    pub max_in_flight: usize,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            max_attempts: 6,
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(60),
            max_retry_wait: Duration::from_secs(600),
            concurrent_streams: 8,
            pages_ahead: 4,
            pages_buffered: 8,
            max_in_flight: 8,
        }
    }
}

impl Tuning {
    /// The defaults, overridden by any `SOURCE_POLAR_*` variable that is set to a positive number.
    pub fn from_env() -> Tuning {
        let mut tuning = Tuning::default();
        let millis = |name: &str, slot: &mut Duration| {
            if let Some(value) = positive(name) {
                *slot = Duration::from_millis(value);
            }
        };
        millis(
            "SOURCE_POLAR_CONNECT_TIMEOUT_MS",
            &mut tuning.connect_timeout,
        );
        millis(
            "SOURCE_POLAR_REQUEST_TIMEOUT_MS",
            &mut tuning.request_timeout,
        );
        millis("SOURCE_POLAR_BACKOFF_BASE_MS", &mut tuning.backoff_base);
        millis("SOURCE_POLAR_BACKOFF_MAX_MS", &mut tuning.backoff_max);
        millis("SOURCE_POLAR_MAX_RETRY_WAIT_MS", &mut tuning.max_retry_wait);
        let count = |name: &str, slot: &mut usize| {
            if let Some(value) = positive(name) {
                *slot = value.min(1024) as usize;
            }
        };
        count(
            "SOURCE_POLAR_CONCURRENT_STREAMS",
            &mut tuning.concurrent_streams,
        );
        count("SOURCE_POLAR_PAGES_AHEAD", &mut tuning.pages_ahead);
        count("SOURCE_POLAR_PAGES_BUFFERED", &mut tuning.pages_buffered);
        count("SOURCE_POLAR_MAX_IN_FLIGHT", &mut tuning.max_in_flight);
        if let Some(value) = positive("SOURCE_POLAR_MAX_ATTEMPTS") {
            tuning.max_attempts = value.min(100) as u32;
        }
        tuning
    }
}

fn positive(name: &str) -> Option<u64> {
    std::env::var(name)
        .ok()?
        .trim()
        .parse()
        .ok()
        .filter(|&n| n > 0)
}

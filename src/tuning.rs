//! Operational limits of the HTTP client and the reader: timeouts, retry budget, concurrency.
//!
//! The defaults suit a production sync; each can be changed through an environment variable (listed in
//! `docs/design.md`, "Operating limits") so that operators and tests can tighten them without a config change. Every value is checked: one
//! that is not a whole number in its range fails the command as a config error.

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
    /// The largest response body accepted: a page of 100 records is a few hundred kilobytes.
    pub max_page_bytes: usize,
    /// Bytes of response bodies being read at once, across the sync (each body reserves its
    /// `Content-Length`, or the page cap when it has none, before it is read).
    pub max_bytes_in_flight: usize,
    /// Changes (and deletions) kept per stream from Polar's change log; past it, the stream is read in full
    /// and its deletions are streamed from the log again.
    pub max_changes_per_stream: usize,
}

/// The variable that sets [`Tuning::max_page_bytes`], for messages.
pub const MAX_PAGE_BYTES_VARIABLE: &str = "SOURCE_POLAR_MAX_PAGE_BYTES";

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
            max_page_bytes: 8 << 20,
            max_bytes_in_flight: 32 << 20,
            max_changes_per_stream: 25_000,
        }
    }
}

/// A `SOURCE_POLAR_*` variable whose value cannot be used.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "the environment variable {name}={value:?} is not valid: it must be a whole number from {min} to {max} \
     ({meaning}); fix or unset it"
)]
pub struct TuningError {
    name: &'static str,
    value: String,
    min: u64,
    max: u64,
    meaning: &'static str,
}

/// Each variable: its name, what it sets, its unit and its accepted range.
struct Variable {
    name: &'static str,
    meaning: &'static str,
    min: u64,
    max: u64,
}

/// Where a variable's value goes in [`Tuning`].
type Slot<T> = fn(&mut Tuning) -> &mut T;

const MILLIS: [(Variable, Slot<Duration>); 5] = [
    (
        Variable {
            name: "SOURCE_POLAR_CONNECT_TIMEOUT_MS",
            meaning: "milliseconds to connect",
            min: 1,
            max: 600_000,
        },
        |t| &mut t.connect_timeout,
    ),
    (
        Variable {
            name: "SOURCE_POLAR_REQUEST_TIMEOUT_MS",
            meaning: "milliseconds for a whole request",
            min: 1,
            max: 3_600_000,
        },
        |t| &mut t.request_timeout,
    ),
    (
        Variable {
            name: "SOURCE_POLAR_BACKOFF_BASE_MS",
            meaning: "milliseconds before the first retry",
            min: 1,
            max: 600_000,
        },
        |t| &mut t.backoff_base,
    ),
    (
        Variable {
            name: "SOURCE_POLAR_BACKOFF_MAX_MS",
            meaning: "the longest backoff, in milliseconds",
            min: 1,
            max: 3_600_000,
        },
        |t| &mut t.backoff_max,
    ),
    (
        Variable {
            name: "SOURCE_POLAR_MAX_RETRY_WAIT_MS",
            meaning: "milliseconds one request may spend retrying",
            min: 1,
            max: 86_400_000,
        },
        |t| &mut t.max_retry_wait,
    ),
];

const COUNTS: [(Variable, Slot<usize>); 7] = [
    (
        Variable {
            name: "SOURCE_POLAR_CONCURRENT_STREAMS",
            meaning: "streams read at the same time",
            min: 1,
            max: 64,
        },
        |t| &mut t.concurrent_streams,
    ),
    (
        Variable {
            name: "SOURCE_POLAR_PAGES_AHEAD",
            meaning: "pages of a stream requested ahead",
            min: 1,
            max: 64,
        },
        |t| &mut t.pages_ahead,
    ),
    (
        Variable {
            name: "SOURCE_POLAR_PAGES_BUFFERED",
            meaning: "pages fetched ahead across the sync",
            min: 1,
            max: 1024,
        },
        |t| &mut t.pages_buffered,
    ),
    (
        Variable {
            name: "SOURCE_POLAR_MAX_IN_FLIGHT",
            meaning: "requests in flight",
            min: 1,
            max: 256,
        },
        |t| &mut t.max_in_flight,
    ),
    (
        Variable {
            name: MAX_PAGE_BYTES_VARIABLE,
            meaning: "the most bytes one response may have",
            min: 64 << 10,
            max: 1 << 30,
        },
        |t| &mut t.max_page_bytes,
    ),
    (
        Variable {
            name: "SOURCE_POLAR_MAX_BYTES_IN_FLIGHT",
            meaning: "the most response bytes being read at once",
            min: 64 << 10,
            max: 4 << 30,
        },
        |t| &mut t.max_bytes_in_flight,
    ),
    (
        Variable {
            name: "SOURCE_POLAR_MAX_CHANGES_PER_STREAM",
            meaning: "changes kept per stream from the change log",
            min: 1,
            max: 1_000_000,
        },
        |t| &mut t.max_changes_per_stream,
    ),
];

const MAX_ATTEMPTS: Variable = Variable {
    name: "SOURCE_POLAR_MAX_ATTEMPTS",
    meaning: "attempts per request",
    min: 1,
    max: 100,
};

impl Tuning {
    /// The defaults, overridden by every `SOURCE_POLAR_*` variable that is set. A value that is not a whole
    /// number in its range is an error, never silently ignored.
    pub fn from_env() -> Result<Tuning, TuningError> {
        Tuning::from_vars(|name| std::env::var(name).ok())
    }

    /// As [`from_env`](Self::from_env), with the variables read through `var`.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Tuning, TuningError> {
        let mut tuning = Tuning::default();
        for (variable, slot) in MILLIS {
            if let Some(value) = variable.read(&var)? {
                *slot(&mut tuning) = Duration::from_millis(value);
            }
        }
        for (variable, slot) in COUNTS {
            if let Some(value) = variable.read(&var)? {
                *slot(&mut tuning) = value as usize;
            }
        }
        if let Some(value) = MAX_ATTEMPTS.read(&var)? {
            tuning.max_attempts = value as u32;
        }
        Ok(tuning)
    }
}

impl Variable {
    fn read(&self, var: &impl Fn(&str) -> Option<String>) -> Result<Option<u64>, TuningError> {
        let Some(raw) = var(self.name) else {
            return Ok(None);
        };
        raw.trim()
            .parse::<u64>()
            .ok()
            .filter(|value| (self.min..=self.max).contains(value))
            .map(Some)
            .ok_or_else(|| TuningError {
                name: self.name,
                value: raw.chars().take(40).collect(),
                min: self.min,
                max: self.max,
                meaning: self.meaning,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(vars: &[(&str, &str)]) -> Result<Tuning, TuningError> {
        Tuning::from_vars(|name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        })
    }

    #[test]
    fn unset_variables_keep_the_defaults_and_set_ones_apply() {
        let tuning = with(&[]).unwrap();
        assert_eq!(tuning.max_in_flight, Tuning::default().max_in_flight);
        let tuning = with(&[
            ("SOURCE_POLAR_MAX_IN_FLIGHT", " 2 "),
            ("SOURCE_POLAR_REQUEST_TIMEOUT_MS", "1500"),
            ("SOURCE_POLAR_MAX_ATTEMPTS", "3"),
        ])
        .unwrap();
        assert_eq!(tuning.max_in_flight, 2);
        assert_eq!(tuning.request_timeout, Duration::from_millis(1500));
        assert_eq!(tuning.max_attempts, 3);
    }

    #[test]
    fn unusable_values_are_errors_that_name_the_variable_and_the_range() {
        for value in ["0", "-1", "two", "", "1e3", "100000"] {
            let error = with(&[("SOURCE_POLAR_PAGES_AHEAD", value)]).unwrap_err();
            let text = error.to_string();
            assert!(
                text.contains("SOURCE_POLAR_PAGES_AHEAD") && text.contains("from 1 to 64"),
                "{value:?}: {text}"
            );
        }
    }
}

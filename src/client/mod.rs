//! The Polar API client: one request made safely, and nothing else.
//!
//! This file owns [`PolarClient`] and its retry loop: the headers (token, API version, User-Agent), timeouts,
//! the shared pace ([`AdaptiveRateLimit`]), the cap on requests in flight and on bytes being read, and retries
//! with exponential backoff and jitter that honour `Retry-After`. What an answer means (use it, retry, wait,
//! fail) is the table in `policy`; why a request failed for good, [`ApiError`] (in `error`); which request a
//! message is about, [`RequestLabel`] (in `label`); the caps on bodies, `body`; the headers it reads,
//! `headers`. It writes nothing: what a caller may want to report (a retry, a rate-limited wait, a request in
//! debug mode) comes out as [`ClientEvent`]s (in `events`) on the channel the caller passes in, and
//! [`reporting`] is the one loop that drains them.

mod body;
mod error;
mod events;
mod headers;
mod label;
mod policy;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use backon::BackoffBuilder;
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderValue};
use secrecy::ExposeSecret;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::config::Config;
use crate::listing::Listing;
use crate::page::{Envelope, OffContract, Page};
use crate::rate_limit::AdaptiveRateLimit;
use crate::streams::StreamDef;
use crate::tuning::Tuning;

use body::{BodyError, kib, read_body, read_error_body};
pub use error::ApiError;
use error::{Unusable, describe_transport_error};
pub use events::{ClientEvent, Events, RateLimited, reporting};
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use headers::{MAX_WAIT, retry_after_value, wait_until};
use headers::{date, retry_after, spent_budget};
pub use label::RequestLabel;
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use policy::NotFoundBody;
pub(crate) use policy::not_found_body;
use policy::{Action, Answer, Shape, policy};

/// The Polar API version every request asks for.
pub const API_VERSION: &str = "2026-10";
pub const USER_AGENT: &str = concat!(
    "source-polar/",
    env!("CARGO_PKG_VERSION"),
    " (Airbyte source connector)"
);
/// The largest page Polar serves.
pub const PAGE_SIZE: u32 = 100;

/// Counters over every request of a command, for the summaries.
#[derive(Debug, Default)]
pub struct RequestStats {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub rate_limited: AtomicU64,
}

/// One attempt's outcome when it may be worth another attempt.
struct Retryable {
    /// What went wrong, phrased to follow "Polar kept ...".
    problem: String,
    /// The server's own wait, from `Retry-After`.
    retry_after: Option<Duration>,
    rate_limited: bool,
    /// When the failed attempt was sent.
    sent: Instant,
}

pub struct PolarClient {
    http: reqwest::Client,
    config: Arc<Config>,
    tuning: Tuning,
    rate_limit: AdaptiveRateLimit,
    in_flight: Semaphore,
    /// Kibibytes of response bodies being read, across the command ([`Tuning::max_bytes_in_flight`]).
    bytes_in_flight: Semaphore,
    debug: bool,
    /// Time paused because of rate-limit headers on answers that were not 429s, in milliseconds: bounded by
    /// the retry budget over the whole command, so that a server sending them on every answer cannot stall it.
    header_pauses_ms: AtomicU64,
    /// A far-off `Date` was reported.
    clock_skew_said: std::sync::atomic::AtomicBool,
    /// A rate-limit reset past the budget was reported.
    header_budget_said: std::sync::atomic::AtomicBool,
    pub stats: RequestStats,
}

impl PolarClient {
    /// `debug`: send a [`ClientEvent::Answered`] for every request.
    pub fn new(config: Arc<Config>, tuning: Tuning, debug: bool) -> anyhow::Result<Self> {
        let mut authorization =
            HeaderValue::try_from(format!("Bearer {}", config.token.expose_secret())).map_err(
                |_| anyhow::anyhow!("the access token cannot be sent in an HTTP header"),
            )?;
        authorization.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, authorization);
        headers.insert("Polar-Version", HeaderValue::from_static(API_VERSION));
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(USER_AGENT)
            .connect_timeout(tuning.connect_timeout)
            .timeout(tuning.request_timeout)
            .https_only(!crate::config::is_loopback(&config.base_url))
            // Redirects could carry the token elsewhere; Polar's list endpoints do not redirect.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| anyhow::anyhow!("cannot set up the HTTP client: {error}"))?;
        let rate_limit = AdaptiveRateLimit::new(
            config.requests_per_minute,
            config.pace_start,
            config.documented_limit,
        );
        let in_flight = Semaphore::new(tuning.max_in_flight);
        let bytes_in_flight = Semaphore::new(kib(tuning.max_bytes_in_flight) as usize);
        Ok(PolarClient {
            http,
            config,
            tuning,
            rate_limit,
            in_flight,
            bytes_in_flight,
            debug,
            header_pauses_ms: AtomicU64::new(0),
            clock_skew_said: std::sync::atomic::AtomicBool::new(false),
            header_budget_said: std::sync::atomic::AtomicBool::new(false),
            stats: RequestStats::default(),
        })
    }

    /// Fetches one page of `listing` (of the records created after `after`, through its key filter, when
    /// given), retrying what is worth retrying. Rate-limited answers are waited out within the total wait
    /// budget without using up attempts: they say "later", not "broken".
    pub async fn fetch_page(
        &self,
        listing: &Listing,
        page: u32,
        limit: u32,
        (after, until): (Option<Arc<str>>, Option<Arc<str>>),
        events: &Events,
    ) -> Result<Page, ApiError> {
        let until = listing
            .key_filter
            .and_then(crate::streams::until_filter)
            .zip(until);
        let after = match (listing.key_filter, after) {
            (Some(filter), Some(value)) => Some((filter, value)),
            _ => None,
        };
        let mut url = self.config.endpoint(listing.path);
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("page", &page.to_string())
                .append_pair("limit", &limit.to_string());
            for criterion in listing.sorting {
                query.append_pair("sorting", criterion);
            }
            if let Some((filter, value)) = &after {
                query.append_pair(filter, value);
            }
            if let Some((filter, value)) = &until {
                query.append_pair(filter, value);
            }
            for (name, value) in listing.filters.iter() {
                query.append_pair(name, value);
            }
        }
        let label = RequestLabel::Page {
            path: listing.path,
            page,
            limit,
            after,
            filter: listing.filters.first().map(|(name, _)| {
                (
                    *name,
                    listing
                        .filters
                        .iter()
                        .filter(|(other, _)| other == name)
                        .count(),
                )
            }),
        };
        let sort_fields: Vec<&str> = listing.sort_fields().collect();
        let page = self
            .get(listing.stream, &label, &url, &sort_fields, events)
            .await?;
        page.ok_or(ApiError::NotFound { request: label })
    }

    /// Fetches the metrics' limits of `stream` (`GET <path>`, one JSON object of its own) as a page holding
    /// them.
    pub async fn fetch_limits(
        &self,
        stream: &'static StreamDef,
        path: &'static str,
        events: &Events,
    ) -> Result<Page, ApiError> {
        self.fetch_other(stream, RequestLabel::Limits { path }, &[], events)
            .await
    }

    /// Fetches the metrics periods of `stream` that `query` asks for (`span` says which in messages: "2025-01-01
    /// to 2025-12-31"), one record per period.
    pub async fn fetch_metrics(
        &self,
        stream: &'static StreamDef,
        query: &[(&str, &str)],
        span: &str,
        events: &Events,
    ) -> Result<Page, ApiError> {
        let label = RequestLabel::Metrics {
            path: stream.path,
            span: Arc::from(span),
        };
        self.fetch_other(stream, label, query, events).await
    }

    /// Fetches a response of `stream` that is not a list page, `label`'s path with `query`.
    async fn fetch_other(
        &self,
        stream: &'static StreamDef,
        label: RequestLabel,
        query: &[(&str, &str)],
        events: &Events,
    ) -> Result<Page, ApiError> {
        let mut url = self.config.endpoint(label.path());
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let page = self.get(stream, &label, &url, &[], events).await?;
        page.ok_or(ApiError::NotFound { request: label })
    }

    /// Reads one record of `stream` by id (`GET <path><id>`), as a page of one item; `None` when Polar answers
    /// 404 (the record was deleted).
    pub async fn fetch_record(
        &self,
        stream: &'static StreamDef,
        id: &str,
        events: &Events,
    ) -> Result<Option<Page>, ApiError> {
        let label = RequestLabel::Record {
            path: stream.path,
            id: Arc::from(id),
        };
        let mut url = self.config.endpoint(stream.path);
        url.path_segments_mut()
            .map_err(|()| ApiError::NotFound {
                request: label.clone(),
            })?
            .pop_if_empty()
            .push(id);
        self.get(stream, &label, &url, &[], events).await
    }

    /// One request with its retries, its answer read as `label`'s kind says (a list page's items sorted by
    /// `sort_fields`); `Ok(None)`: a record read by id answered 404.
    async fn get(
        &self,
        stream: &'static StreamDef,
        label: &RequestLabel,
        url: &url::Url,
        sort_fields: &[&str],
        events: &Events,
    ) -> Result<Option<Page>, ApiError> {
        let label = label.clone();
        let mut delays = backon::ExponentialBuilder::default()
            .with_min_delay(self.tuning.backoff_base)
            .with_max_delay(self.tuning.backoff_max)
            .with_jitter()
            .without_max_times()
            .build();
        let started = Instant::now();
        let mut failed_attempts = 0;
        let mut retries = 0;
        loop {
            let (slot, paused) = self.rate_limit.reserve();
            self.wait_announced(stream, &label, slot, !paused, events)
                .await;
            let retryable = match self.attempt(stream, &label, url, sort_fields, events).await {
                Ok(outcome) => return outcome,
                Err(retryable) => retryable,
            };
            if !retryable.rate_limited {
                failed_attempts += 1;
            }
            // A rate-limited request waits in the pace (which holds every request until the window is probed);
            // any other failure waits its backoff, or the server's `Retry-After`.
            let (resume_at, rate_limited) = if retryable.rate_limited {
                // The server's `Retry-After` as given (a token bucket's "1" is one second, not the first
                // backoff's two), never below the first backoff delay or a second, whichever is shorter.
                let retry_after = retryable
                    .retry_after
                    .unwrap_or(self.tuning.backoff_max)
                    .max(self.tuning.backoff_base.min(Duration::from_secs(1)));
                // A wait past the retry budget is not waited at all: the request fails now, and the shared
                // pace is left alone, so that the other streams are not held by a wait nobody will finish.
                let pause = crate::rate_limit::probe_interval(retry_after);
                if retry_after > self.tuning.max_retry_wait
                    || started.elapsed() + pause > self.tuning.max_retry_wait
                {
                    return Err(ApiError::Exhausted {
                        request: label,
                        problem: format!(
                            "{} and asking to wait {} s, past the retry budget of {} s \
                             (SOURCE_POLAR_MAX_RETRY_WAIT_MS)",
                            retryable.problem,
                            retry_after.as_secs(),
                            self.tuning.max_retry_wait.as_secs()
                        ),
                        attempts: retries + 1,
                        waited: started.elapsed(),
                    });
                }
                let backoff = self.rate_limit.rate_limited(retryable.sent, retry_after);
                let limited = RateLimited {
                    resets_at_millis: crate::protocol::now_millis()
                        + backoff
                            .resume_at
                            .saturating_duration_since(Instant::now())
                            .as_millis() as u64,
                    cut_to: backoff.cut_to,
                };
                (backoff.resume_at, Some(limited))
            } else {
                let delay = retryable
                    .retry_after
                    .unwrap_or_else(|| delays.next().unwrap_or(self.tuning.backoff_max));
                (Instant::now() + delay, None)
            };
            let delay = resume_at.saturating_duration_since(Instant::now());
            let out_of_budget = failed_attempts >= self.tuning.max_attempts
                || started.elapsed() + delay > self.tuning.max_retry_wait;
            if out_of_budget {
                return Err(ApiError::Exhausted {
                    request: label,
                    problem: retryable.problem,
                    attempts: retries + 1,
                    waited: started.elapsed(),
                });
            }
            retries += 1;
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            let _ = events.send(ClientEvent::Retrying {
                stream: stream.name,
                request: label.clone(),
                problem: retryable.problem,
                retry: retries,
                max_retries: (!retryable.rate_limited).then(|| self.tuning.max_attempts - 1),
                delay,
                rate_limited,
            });
            // The retry's WARN said this wait already.
            self.wait_announced(stream, &label, resume_at, true, events)
                .await;
        }
    }

    /// Waits until `until`. A wait of a second or more for a pause (the organization's budget is spent) is
    /// said when it starts, unless `said` already, and every wait is said again every minute while it lasts, so
    /// that stdout never stays silent for long.
    async fn wait_announced(
        &self,
        stream: &'static StreamDef,
        label: &RequestLabel,
        until: Instant,
        mut said: bool,
        events: &Events,
    ) {
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left < ANNOUNCED_WAIT {
                tokio::time::sleep_until(until).await;
                return;
            }
            if !said {
                let _ = events.send(ClientEvent::Waiting {
                    stream: stream.name,
                    request: label.clone(),
                    left,
                });
            }
            said = false;
            tokio::time::sleep(left.min(WAIT_REPORT_EVERY)).await;
        }
    }

    /// One attempt: `Ok` when the outcome is final (a page or a non-retryable error). It gathers what the
    /// answer was and held, and does what the table ([`policy()`]) says of it.
    async fn attempt(
        &self,
        stream: &'static StreamDef,
        label: &RequestLabel,
        url: &url::Url,
        sort_fields: &[&str],
        events: &Events,
    ) -> Result<Result<Option<Page>, ApiError>, Retryable> {
        let _slot = self
            .in_flight
            .acquire()
            .await
            .expect("the semaphore is never closed");
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let sent = Instant::now();
        let sent_at = crate::time::system_micros(std::time::SystemTime::now());
        let response = self.http.get(url.clone()).send().await;
        let response = match response {
            Ok(response) => response,
            Err(error) => {
                self.answered(events, label, url, "failed", sent);
                let problem = describe_transport_error(&error, &self.tuning);
                return self.act(
                    stream,
                    label,
                    Answer::Nothing,
                    Err(Unusable::Broken(problem)),
                    None,
                    sent,
                );
            }
        };
        let status = response.status();
        if status != StatusCode::TOO_MANY_REQUESTS {
            self.observe_rate_limit_headers(stream, label, response.headers(), events);
        }
        let retry_after = retry_after(response.headers());
        let server_date = date(response.headers())
            .and_then(|date| self.trusted_date(stream, label, date, events));
        if !status.is_success() {
            let location = response
                .headers()
                .get(header::LOCATION)
                .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
            let body = read_error_body(response).await;
            self.answered(events, label, url, status.as_str(), sent);
            let answer = Answer::Status(status, not_found_body(&body));
            let held = Unusable::Error {
                status,
                body,
                location,
            };
            return self.act(stream, label, answer, Err(held), retry_after, sent);
        }
        let wrapping = match label {
            RequestLabel::Record { .. } => crate::page::RECORD_WRAPPING,
            RequestLabel::Limits { .. } => crate::page::DOCUMENT_WRAPPING,
            RequestLabel::Page { .. } | RequestLabel::Metrics { .. } => ("", ""),
        };
        let body = self.read_body(response, wrapping).await;
        self.answered(events, label, url, status.as_str(), sent);
        let parsed = match body {
            Ok(body) => match label {
                RequestLabel::Page { .. } => Page::parse(body, sort_fields),
                RequestLabel::Record { .. } => Page::parse_wrapped_record(body),
                RequestLabel::Metrics { .. } => Page::parse_envelope(body, &[], Envelope::PERIODS),
                RequestLabel::Limits { .. } => Page::parse_wrapped_document(body),
            }
            .map_err(Unusable::Problem),
            Err(BodyError::TooLarge) => Err(Unusable::Problem(OffContract::TooLarge {
                cap_bytes: self.tuning.max_page_bytes,
                variable: crate::tuning::MAX_PAGE_BYTES_VARIABLE,
            })),
            Err(BodyError::Broken(problem)) => Err(Unusable::Broken(problem)),
        };
        let shape = match &parsed {
            Ok(_) => Shape::Expected,
            Err(Unusable::Problem(problem)) => Shape::of(problem),
            Err(_) => Shape::NotJson,
        };
        let parsed = parsed.map(|mut page| {
            page.date = server_date;
            page.sent_at = sent_at;
            page.answered_at = crate::time::system_micros(std::time::SystemTime::now());
            page
        });
        self.act(
            stream,
            label,
            Answer::Success(shape),
            parsed,
            retry_after,
            sent,
        )
    }

    /// Does what the table says of `answer`, which brought `held`: the page, or what it held instead.
    fn act(
        &self,
        stream: &'static StreamDef,
        label: &RequestLabel,
        answer: Answer,
        held: Result<Page, Unusable>,
        retry_after: Option<Duration>,
        sent: Instant,
    ) -> Result<Result<Option<Page>, ApiError>, Retryable> {
        match (policy(answer, label.is_record_read()), held) {
            (Action::Use, Ok(page)) => {
                self.rate_limit.succeeded(sent);
                Ok(Ok(Some(page)))
            }
            (Action::Deleted, _) => Ok(Ok(None)),
            (
                Action::Retry {
                    retry_after: honoured,
                },
                Err(unusable),
            ) => Err(Retryable {
                problem: unusable.problem(),
                retry_after: retry_after.filter(|_| honoured),
                rate_limited: false,
                sent,
            }),
            (Action::Wait, Err(unusable)) => {
                self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                Err(Retryable {
                    problem: unusable.problem(),
                    retry_after,
                    rate_limited: true,
                    sent,
                })
            }
            (Action::Fail { failure, .. }, Err(unusable)) => Ok(Err(unusable.into_error(
                failure,
                label.clone(),
                stream.scope,
            ))),
            (action, held) => unreachable!(
                "{action:?} with {} a page: the table uses an answer exactly when its body is what was asked for",
                if held.is_ok() { "" } else { "no" }
            ),
        }
    }

    /// Reads a body within the page cap, after reserving its room in the bytes in flight (its
    /// `Content-Length`, or the whole cap when it has none): a request holds all it may need before it reads,
    /// so requests never wait on each other's half-read bodies. The room is given back once it is read.
    async fn read_body(
        &self,
        response: reqwest::Response,
        wrapping: (&str, &str),
    ) -> Result<String, BodyError> {
        let cap = self.tuning.max_page_bytes;
        let expected = response
            .content_length()
            .map_or(cap as u64, |length| length.min(cap as u64 + 1));
        let room = kib(expected as usize).clamp(1, kib(self.tuning.max_bytes_in_flight));
        let _room = self
            .bytes_in_flight
            .acquire_many(room)
            .await
            .expect("the semaphore is never closed");
        read_body(response, cap, wrapping).await
    }

    /// The server's `date` if it can be used: not more than [`crate::time::MAX_CLOCK_SKEW`] ahead of this
    /// machine's clock (a later one is dropped: the cursor then comes from this machine's clock). A `date`
    /// further behind is kept, as the earlier clock is the safe one for a cursor (it can only read again). Either
    /// way a clock that far off is said, once.
    fn trusted_date(
        &self,
        stream: &'static StreamDef,
        label: &RequestLabel,
        date: SystemTime,
        events: &Events,
    ) -> Option<SystemTime> {
        let now = SystemTime::now();
        let ahead_seconds = match date.duration_since(now) {
            Ok(ahead) => ahead.as_secs() as i64,
            Err(behind) => -(behind.duration().as_secs() as i64),
        };
        if ahead_seconds.unsigned_abs() <= crate::time::MAX_CLOCK_SKEW.as_secs() {
            return Some(date);
        }
        if !self.clock_skew_said.swap(true, Ordering::Relaxed) {
            let _ = events.send(ClientEvent::ClockSkew {
                stream: stream.name,
                request: label.clone(),
                date: httpdate::fmt_http_date(date),
                ahead_seconds,
            });
        }
        (ahead_seconds < 0).then_some(date)
    }

    fn answered(
        &self,
        events: &Events,
        label: &RequestLabel,
        url: &url::Url,
        status: &str,
        sent: Instant,
    ) {
        if self.debug {
            let _ = events.send(ClientEvent::Answered {
                request: label.clone(),
                url: url.to_string(),
                status: status.to_owned(),
                elapsed: sent.elapsed(),
            });
        }
    }

    /// Honours `RateLimit-*` / `X-RateLimit-*` headers where the server sends them: an exhausted budget pauses
    /// every request until its reset, within the retry budget (over the whole command), and says so.
    fn observe_rate_limit_headers(
        &self,
        stream: &'static StreamDef,
        label: &RequestLabel,
        headers: &HeaderMap,
        events: &Events,
    ) {
        let Some((header, reset_in)) = spent_budget(headers) else {
            return;
        };
        let budget = self.tuning.max_retry_wait.as_millis() as u64;
        // What is left of the budget is claimed in one step, so concurrent answers cannot overspend it.
        let mut pause = Duration::ZERO;
        let _ = self
            .header_pauses_ms
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |spent| {
                pause = reset_in.min(Duration::from_millis(budget.saturating_sub(spent)));
                Some(spent + pause.as_millis() as u64)
            });
        if pause < reset_in && !self.header_budget_said.swap(true, Ordering::Relaxed) {
            let _ = events.send(ClientEvent::Ignored {
                stream: stream.name,
                request: label.clone(),
                what: format!(
                    "{header}: 0 with a reset {} s away: past what is left of the retry budget of {} s \
                     (SOURCE_POLAR_MAX_RETRY_WAIT_MS), so the sync pauses {} s and goes on (such waits are \
                     bounded by that budget over the whole sync)",
                    reset_in.as_secs(),
                    self.tuning.max_retry_wait.as_secs(),
                    pause.as_secs()
                ),
            });
        }
        if pause.is_zero() {
            return;
        }
        self.rate_limit.budget_spent(pause);
        let _ = events.send(ClientEvent::Paused {
            stream: stream.name,
            request: label.clone(),
            header,
            reset_in,
            pause,
        });
    }

    pub fn base_url(&self) -> &url::Url {
        &self.config.base_url
    }

    /// The limits this client was made with.
    pub fn tuning(&self) -> &Tuning {
        &self.tuning
    }

    /// The most requests in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.tuning.max_in_flight
    }

    /// The user's ceiling on requests per minute.
    pub fn requests_per_minute(&self) -> u32 {
        self.rate_limit.ceiling()
    }
}

/// Waits from this long on are said when they start.
const ANNOUNCED_WAIT: Duration = Duration::from_secs(1);
/// How often a long wait is said again.
const WAIT_REPORT_EVERY: Duration = Duration::from_secs(60);

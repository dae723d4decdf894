//! The Polar API client: one list-page request made safely, and nothing else.
//!
//! It owns the HTTP policy between "page N of this stream" and a parsed [`Page`]: the headers (token, API
//! version, User-Agent), timeouts, the shared pace ([`AdaptiveRateLimit`]), the cap on requests in flight,
//! retries with exponential backoff and jitter that honour `Retry-After`, and the classification of every
//! failure into an [`ApiError`] that says what happened, to which request, and who has to act. It writes
//! nothing: what a caller may want to report (a retry, a rate-limited wait, a request in debug mode) comes out
//! as [`ClientEvent`]s on the channel the caller passes in.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use backon::BackoffBuilder;
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderValue};
use secrecy::ExposeSecret;
use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;

use crate::config::Config;
use crate::listing::Listing;
use crate::page::{Envelope, OffContract, Page};
use crate::protocol::FailureType;
use crate::rate_limit::AdaptiveRateLimit;
use crate::streams::StreamDef;
use crate::tuning::Tuning;

/// The Polar API version every request asks for.
pub const API_VERSION: &str = "2026-10";
pub const USER_AGENT: &str = concat!(
    "source-polar/",
    env!("CARGO_PKG_VERSION"),
    " (Airbyte source connector)"
);
/// The largest page Polar serves.
pub const PAGE_SIZE: u32 = 100;

/// What a successful response holds.
#[derive(Debug, Clone, Copy)]
pub enum Body<'a> {
    /// A list page, its items' sort keys made of these fields.
    List(&'a [&'a str]),
    /// One record read by id.
    Record,
    /// Polar's metrics periods (`{periods, ...}`).
    Periods,
    /// One JSON object of its own (the metrics' limits).
    Document,
}

/// Which page of which stream a request asked for, for messages: "GET /v1/orders/ page 7".
#[derive(Debug, Clone)]
pub struct RequestLabel {
    pub path: &'static str,
    pub page: u32,
    pub limit: u32,
    /// The creation filter and its value, when paging by key.
    pub after: Option<(&'static str, Arc<str>)>,
    /// The listing's first fixed filter and how many values it has ("customer_id x20").
    pub filter: Option<(&'static str, usize)>,
    /// For a read of one record by id: the id (`page` and `limit` then mean nothing).
    pub record: Option<Arc<str>>,
    /// For a request that is not a list page: what it asks for ("2025-01-01 to 2025-12-31"; `page` and
    /// `limit` then mean nothing).
    pub span: Option<Arc<str>>,
}

impl RequestLabel {
    /// The label of a request that is not a list page: `path`, asking for `span` (may be empty).
    pub fn other(path: &'static str, span: &str) -> RequestLabel {
        RequestLabel {
            path,
            page: 1,
            limit: 1,
            after: None,
            filter: None,
            record: None,
            span: Some(Arc::from(span)),
        }
    }
}

impl fmt::Display for RequestLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(id) = &self.record {
            return write!(f, "GET {}{id}", self.path);
        }
        if let Some(span) = &self.span {
            return match &**span {
                "" => write!(f, "GET {}", self.path),
                span => write!(f, "GET {} {span}", self.path),
            };
        }
        write!(f, "GET {} page {}", self.path, self.page)?;
        if self.limit != PAGE_SIZE {
            write!(f, " (limit {})", self.limit)?;
        }
        if let Some((filter, value)) = &self.after {
            write!(f, " ({filter} {value})")?;
        }
        if let Some((filter, count)) = &self.filter {
            write!(f, " ({filter} x{count})")?;
        }
        Ok(())
    }
}

/// Why a request failed for good.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(
        "Polar rejected the access token (401 Unauthorized) for {request}: it is invalid, expired or revoked. \
         Create a new Organization Access Token in the Polar dashboard (Settings > General > Developers) and \
         update the connector's config"
    )]
    Unauthorized { request: RequestLabel },
    #[error(
        "the access token lacks the '{scope}' scope (403 Forbidden for {request}). Create a token that has \
         '{scope}' (Polar tokens cannot gain scopes later) or deselect this stream"
    )]
    MissingScope {
        request: RequestLabel,
        scope: &'static str,
    },
    #[error(
        "Polar answered 404 Not Found for {request}, an endpoint that exists in API version {API_VERSION}: \
         the server does not accept API version {API_VERSION}, or 'base_url' does not point at Polar's API"
    )]
    NotFound { request: RequestLabel },
    #[error("Polar refused {request} with HTTP {status}: {detail}")]
    Refused {
        request: RequestLabel,
        status: u16,
        detail: String,
    },
    #[error("Polar kept {problem} for {request} after {attempts} attempts over {} s", waited.as_secs())]
    Exhausted {
        request: RequestLabel,
        problem: String,
        attempts: u32,
        waited: Duration,
    },
    #[error("Polar answered {request} with a response this connector cannot use: {problem}")]
    OffContract {
        request: RequestLabel,
        problem: OffContract,
    },
}

impl ApiError {
    pub fn failure_type(&self) -> FailureType {
        match self {
            ApiError::Unauthorized { .. } | ApiError::MissingScope { .. } => {
                FailureType::ConfigError
            }
            ApiError::Exhausted { .. } => FailureType::TransientError,
            ApiError::NotFound { .. } | ApiError::Refused { .. } | ApiError::OffContract { .. } => {
                FailureType::SystemError
            }
        }
    }
}

/// Counters over every request of a command, for the summaries.
#[derive(Debug, Default)]
pub struct RequestStats {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub rate_limited: AtomicU64,
}

/// What happened on the way to a page, for the caller to report.
#[derive(Debug)]
pub enum ClientEvent {
    /// An attempt failed and another follows after `delay`.
    Retrying {
        stream: &'static str,
        request: RequestLabel,
        /// What went wrong, phrased to follow "Polar is ...".
        problem: String,
        /// The retry's number, and the most there may be (rate-limited waits are bounded by time only).
        retry: u32,
        max_retries: Option<u32>,
        delay: Duration,
        /// Set when Polar answered 429: when the wait ends, and the pace's cut if this opened an episode.
        rate_limited: Option<RateLimited>,
    },
    /// The server said the organization's budget is spent (`X-RateLimit-Remaining: 0` on an answer that was
    /// not a 429): every request pauses for `pause`, which the retry budget bounds.
    Paused {
        stream: &'static str,
        request: RequestLabel,
        /// The header that said so, and how long until its reset (as the server put it).
        header: &'static str,
        reset_in: Duration,
        pause: Duration,
    },
    /// A header's wait was far beyond the retry budget: not waited for (said once).
    Ignored {
        stream: &'static str,
        request: RequestLabel,
        what: String,
    },
    /// A request waits `left` before it is sent (again): for the shared pace (the organization's budget is
    /// spent) or for a retry's backoff. Sent when the wait starts and every minute while it lasts.
    Waiting {
        stream: &'static str,
        request: RequestLabel,
        left: Duration,
    },
    /// The server's `Date` is far from this machine's clock: it is not used (said once).
    ClockSkew {
        stream: &'static str,
        request: RequestLabel,
        /// The `Date` as sent, and how far it is from this machine's clock (positive: ahead).
        date: String,
        ahead_seconds: i64,
    },
    /// A request was answered (sent only in debug mode).
    Answered {
        request: RequestLabel,
        /// The URL requested, exactly (URLs carry no credentials).
        url: String,
        status: String,
        elapsed: Duration,
    },
}

/// A 429's consequences.
#[derive(Debug, Clone, Copy)]
pub struct RateLimited {
    /// Unix milliseconds when the wait ends.
    pub resets_at_millis: u64,
    /// The pace's new rate (requests per minute) when this answer opened a rate-limited episode.
    pub cut_to: Option<f64>,
}

/// Where a client's events go; a closed receiver only means nobody listens.
pub type Events = mpsc::UnboundedSender<ClientEvent>;

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
        let label = RequestLabel {
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
            record: None,
            span: None,
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
            if let Some((filter, value)) = &label.after {
                query.append_pair(filter, value);
            }
            if let Some((filter, value)) = &until {
                query.append_pair(filter, value);
            }
            for (name, value) in listing.filters.iter() {
                query.append_pair(name, value);
            }
        }
        let sort_fields: Vec<&str> = listing.sort_fields().collect();
        let page = self
            .get(
                listing.stream,
                &label,
                &url,
                Body::List(&sort_fields),
                events,
            )
            .await?;
        page.ok_or(ApiError::NotFound { request: label })
    }

    /// Fetches a response of `stream` that is not a list page: `path` with `query`, its records where
    /// `body` says (`span` describes the request in messages).
    pub async fn fetch_other(
        &self,
        stream: &'static StreamDef,
        path: &'static str,
        query: &[(&str, &str)],
        span: &str,
        body: Body<'_>,
        events: &Events,
    ) -> Result<Page, ApiError> {
        let label = RequestLabel::other(path, span);
        let mut url = self.config.endpoint(path);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let page = self.get(stream, &label, &url, body, events).await?;
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
        let label = RequestLabel {
            path: stream.path,
            page: 1,
            limit: 1,
            after: None,
            filter: None,
            record: Some(Arc::from(id)),
            span: None,
        };
        let mut url = self.config.endpoint(stream.path);
        url.path_segments_mut()
            .map_err(|()| ApiError::NotFound {
                request: label.clone(),
            })?
            .pop_if_empty()
            .push(id);
        self.get(stream, &label, &url, Body::Record, events).await
    }

    /// One request with its retries; `Ok(None)`: a record read by id answered 404.
    async fn get(
        &self,
        stream: &'static StreamDef,
        label: &RequestLabel,
        url: &url::Url,
        body: Body<'_>,
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
            let retryable = match self.attempt(stream, &label, url, body, events).await {
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

    /// One attempt: `Ok` when the outcome is final (a page or a non-retryable error).
    async fn attempt(
        &self,
        stream: &'static StreamDef,
        label: &RequestLabel,
        url: &url::Url,
        expected: Body<'_>,
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
                return Err(Retryable {
                    problem: describe_transport_error(&error, &self.tuning),
                    retry_after: None,
                    rate_limited: false,
                    sent,
                });
            }
        };
        let status = response.status();
        if status != StatusCode::TOO_MANY_REQUESTS {
            self.observe_rate_limit_headers(stream, label, response.headers(), events);
        }
        let retry_after = retry_after(response.headers());
        let server_date = response
            .headers()
            .get(header::DATE)
            .and_then(|value| httpdate::parse_http_date(value.to_str().ok()?).ok())
            .and_then(|date| self.trusted_date(stream, label, date, events));
        if status.is_success() {
            let wrapping = match expected {
                Body::Record => crate::page::RECORD_WRAPPING,
                Body::Document => crate::page::DOCUMENT_WRAPPING,
                Body::List(_) | Body::Periods => ("", ""),
            };
            let body = self.read_body(response, wrapping).await;
            self.answered(events, label, url, status.as_str(), sent);
            let body = match body {
                Ok(body) => body,
                Err(BodyError::TooLarge) => {
                    return Ok(Err(ApiError::OffContract {
                        request: label.clone(),
                        problem: OffContract::TooLarge {
                            cap_bytes: self.tuning.max_page_bytes,
                            variable: crate::tuning::MAX_PAGE_BYTES_VARIABLE,
                        },
                    }));
                }
                Err(BodyError::Broken(problem)) => {
                    return Err(Retryable {
                        problem,
                        retry_after: None,
                        rate_limited: false,
                        sent,
                    });
                }
            };
            let parsed = match expected {
                Body::List(sort_fields) => Page::parse(body, sort_fields),
                Body::Record => Page::parse_wrapped_record(body),
                Body::Periods => Page::parse_envelope(body, &[], Envelope::PERIODS),
                Body::Document => Page::parse_wrapped_document(body),
            };
            return match parsed {
                Ok(mut page) => {
                    self.rate_limit.succeeded(sent);
                    page.date = server_date;
                    page.sent_at = sent_at;
                    page.answered_at = crate::time::system_micros(std::time::SystemTime::now());
                    Ok(Ok(Some(page)))
                }
                Err(OffContract::NotJson(reason)) => Err(Retryable {
                    problem: format!("sending a body that is not valid JSON ({reason})"),
                    retry_after: None,
                    rate_limited: false,
                    sent,
                }),
                Err(problem) => Ok(Err(ApiError::OffContract {
                    request: label.clone(),
                    problem,
                })),
            };
        }
        let location = response
            .headers()
            .get(header::LOCATION)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
        let body = read_error_body(response).await;
        self.answered(events, label, url, status.as_str(), sent);
        let request = label.clone();
        match answer_policy(status, label.record.is_some(), &body) {
            Policy::Retry { rate_limited } => {
                if rate_limited {
                    self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                }
                let honours_retry_after =
                    rate_limited || status == StatusCode::SERVICE_UNAVAILABLE;
                Err(Retryable {
                    problem: format!("answering {status}"),
                    retry_after: retry_after.filter(|_| honours_retry_after),
                    rate_limited,
                    sent,
                })
            }
            Policy::Deleted => Ok(Ok(None)),
            Policy::Unauthorized => Ok(Err(ApiError::Unauthorized { request })),
            Policy::MissingScope => Ok(Err(ApiError::MissingScope {
                request,
                scope: stream.scope,
            })),
            Policy::NotServed => Ok(Err(ApiError::NotFound { request })),
            Policy::NotPolarsNotFound => Ok(Err(ApiError::Refused {
                request,
                status: 404,
                detail: format!(
                    "{} (not Polar's answer for a missing record, so no deletion is inferred: a proxy or \
                     gateway may stand between the connector and Polar)",
                    excerpt(&body)
                ),
            })),
            Policy::Redirect => Ok(Err(ApiError::Refused {
                request,
                status: status.as_u16(),
                detail: match &location {
                    Some(location) => format!(
                        "a redirect to '{}', not followed (it could carry the token elsewhere): point \
                         'base_url' at the API itself",
                        excerpt(location)
                    ),
                    None => "a redirect without a Location header: 'base_url' may not point at Polar's API, \
                             or a proxy in between misbehaves"
                        .to_owned(),
                },
            })),
            Policy::Refused => Ok(Err(ApiError::Refused {
                request,
                status: status.as_u16(),
                detail: excerpt(&body),
            })),
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
        let number = |names: [&'static str; 2]| {
            names.iter().find_map(|name| {
                let value = headers
                    .get(*name)?
                    .to_str()
                    .ok()?
                    .trim()
                    .parse::<f64>()
                    .ok()?;
                (value.is_finite() && value >= 0.0).then_some((*name, value))
            })
        };
        let Some((header, remaining)) = number(["ratelimit-remaining", "x-ratelimit-remaining"])
        else {
            return;
        };
        if remaining > 0.0 {
            return;
        }
        let Some((_, reset)) = number(["ratelimit-reset", "x-ratelimit-reset"]) else {
            return;
        };
        let reset_in = wait_until(reset);
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

/// The wait a `Retry-After` header asks for: delay-seconds, an HTTP date, or (from servers that send one) a
/// Unix time in milliseconds. Never more than a day, whatever it says.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    retry_after_value(headers.get(header::RETRY_AFTER)?.to_str().ok()?)
}

/// [`retry_after`] of the header's text.
pub(crate) fn retry_after_value(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(number) = value.parse::<f64>() {
        if !(number.is_finite() && number >= 0.0) {
            return None;
        }
        // More seconds than since year 0 is no delay: it is a millisecond timestamp.
        let wait = if number >= MILLISECOND_EPOCH {
            wait_until(number)
        } else {
            Duration::from_secs_f64(number.min(MAX_WAIT.as_secs_f64()))
        };
        return Some(wait.min(MAX_WAIT));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
            .min(MAX_WAIT),
    )
}

/// Waits from this long on are said when they start.
const ANNOUNCED_WAIT: Duration = Duration::from_secs(1);
/// How often a long wait is said again.
const WAIT_REPORT_EVERY: Duration = Duration::from_secs(60);

/// The longest wait any header is taken to ask for.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(86_400);
/// Numbers from here on are Unix times in milliseconds; from [`SECOND_EPOCH`], in seconds.
const MILLISECOND_EPOCH: f64 = 1e12;
const SECOND_EPOCH: f64 = 1e9;

/// How long until a reset given as seconds from now, a Unix time in seconds, or a Unix time in milliseconds
/// (told apart by size), at most [`MAX_WAIT`].
pub(crate) fn wait_until(reset: f64) -> Duration {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    let seconds = if reset >= MILLISECOND_EPOCH {
        reset / 1000.0 - now
    } else if reset >= SECOND_EPOCH {
        reset - now
    } else {
        reset
    };
    Duration::from_secs_f64(seconds.clamp(0.0, MAX_WAIT.as_secs_f64()))
}

/// What an answer that is not a success means, whatever the request: Polar's HTTP contract as one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Policy {
    /// Worth another attempt (429: the organization's budget is spent; its wait comes from `Retry-After`,
    /// as a 503's does).
    Retry { rate_limited: bool },
    /// A record read by id is gone: Polar's own not-found answer.
    Deleted,
    /// 401: the token (`config_error`).
    Unauthorized,
    /// 403: a scope the token lacks (`config_error`).
    MissingScope,
    /// 404 on a route Polar serves: the API version is not served, or `base_url` is not Polar's API.
    NotServed,
    /// 404 on a read by id with a body that is not Polar's: no deletion follows.
    NotPolarsNotFound,
    /// 3xx: never followed (a redirect could carry the token elsewhere).
    Redirect,
    /// Anything else: refused for good, its body quoted.
    Refused,
}

/// The [`Policy`] for an answer with `status` (not a success) to a list page or, with `record_read`, to a
/// read by id, whose body starts with `body`.
pub(crate) fn answer_policy(status: StatusCode, record_read: bool, body: &str) -> Policy {
    match status {
        StatusCode::TOO_MANY_REQUESTS => Policy::Retry { rate_limited: true },
        StatusCode::REQUEST_TIMEOUT
        | StatusCode::INTERNAL_SERVER_ERROR
        | StatusCode::BAD_GATEWAY
        | StatusCode::SERVICE_UNAVAILABLE
        | StatusCode::GATEWAY_TIMEOUT => Policy::Retry {
            rate_limited: false,
        },
        StatusCode::UNAUTHORIZED => Policy::Unauthorized,
        StatusCode::FORBIDDEN => Policy::MissingScope,
        StatusCode::NOT_FOUND if record_read => match not_found_body(body) {
            NotFoundBody::ResourceNotFound => Policy::Deleted,
            NotFoundBody::UnknownRoute => Policy::NotServed,
            NotFoundBody::Other => Policy::NotPolarsNotFound,
        },
        StatusCode::NOT_FOUND => Policy::NotServed,
        status if status.is_redirection() => Policy::Redirect,
        _ => Policy::Refused,
    }
}

/// What a 404's body says.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum NotFoundBody {
    /// Polar's answer for a record that does not exist: `{"error": "ResourceNotFound", ...}`.
    ResourceNotFound,
    /// Polar's (FastAPI's) answer for a route it does not serve: `{"detail": "Not Found"}`.
    UnknownRoute,
    Other,
}

pub(crate) fn not_found_body(body: &str) -> NotFoundBody {
    let Ok(serde_json::Value::Object(fields)) = serde_json::from_str::<serde_json::Value>(body)
    else {
        return NotFoundBody::Other;
    };
    if fields.get("error").and_then(serde_json::Value::as_str) == Some("ResourceNotFound") {
        NotFoundBody::ResourceNotFound
    } else if fields.get("error").is_none()
        && fields.get("detail").and_then(serde_json::Value::as_str) == Some("Not Found")
    {
        NotFoundBody::UnknownRoute
    } else {
        NotFoundBody::Other
    }
}

fn describe_transport_error(error: &reqwest::Error, tuning: &Tuning) -> String {
    if error.is_timeout() {
        format!(
            "not answering within {} s",
            tuning.request_timeout.as_secs_f64()
        )
    } else if error.is_connect() {
        format!(
            "refusing or dropping the connection ({})",
            root_cause(error)
        )
    } else {
        format!("dropping the connection ({})", root_cause(error))
    }
}

/// The most body bytes set aside before they arrive, whatever `Content-Length` claims.
const MAX_PREALLOCATED_BODY: u64 = 4 << 20;

/// Why a body could not be read.
#[derive(Debug, PartialEq, Eq)]
enum BodyError {
    /// It is larger than the cap (reading stopped there).
    TooLarge,
    /// The connection broke, or the bytes are not text; says what Polar did, to follow "Polar kept ...".
    Broken(String),
}
/// An error body beyond this is cut: only its start is ever quoted.
const MAX_ERROR_BODY_BYTES: usize = 16 << 10;

/// Kibibytes, rounded up, as semaphore permits.
fn kib(bytes: usize) -> u32 {
    u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX)
}

/// Reads a body into one buffer sized by `Content-Length` (each byte is copied once), at most `cap` bytes
/// (stopping there, or at once when `Content-Length` says more), between `wrapping`'s two halves, and checks
/// that it is UTF-8, as JSON must be.
async fn read_body(
    mut response: reqwest::Response,
    cap: usize,
    wrapping: (&str, &str),
) -> Result<String, BodyError> {
    let expected = response.content_length().unwrap_or(0);
    if expected > cap as u64 {
        return Err(BodyError::TooLarge);
    }
    let room = expected.min(MAX_PREALLOCATED_BODY).min(cap as u64) as usize;
    let mut body = Vec::with_capacity(room + wrapping.0.len() + wrapping.1.len());
    body.extend_from_slice(wrapping.0.as_bytes());
    let cap = cap + wrapping.0.len();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > cap {
                    return Err(BodyError::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(error) => {
                return Err(BodyError::Broken(format!(
                    "cutting the response body short ({})",
                    describe_body_error(&error)
                )));
            }
        }
    }
    body.extend_from_slice(wrapping.1.as_bytes());
    // JSON is UTF-8. Checked with SIMD: a page is hundreds of kilobytes, and this is its only full pass
    // besides the JSON parse.
    if simdutf8::basic::from_utf8(&body).is_err() {
        return Err(BodyError::Broken(
            "sending a body that is not UTF-8 text".to_owned(),
        ));
    }
    // SAFETY: `body` was just checked to be valid UTF-8.
    Ok(unsafe { String::from_utf8_unchecked(body) })
}

/// The start of an error body (only its start is ever quoted), read no further than
/// [`MAX_ERROR_BODY_BYTES`] whatever the server sends.
async fn read_error_body(mut response: reqwest::Response) -> String {
    let mut body = Vec::new();
    while body.len() < MAX_ERROR_BODY_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = MAX_ERROR_BODY_BYTES - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            _ => break,
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}

fn describe_body_error(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".into()
    } else {
        root_cause(error)
    }
}

/// The innermost cause of an error, which says what actually happened ("connection refused").
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

/// The start of an error body, on one line, for messages (Polar's bodies are short JSON; a proxy's may be
/// a whole HTML page).
fn excerpt(body: &str) -> String {
    let flat: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.is_empty() {
        return "(empty body)".into();
    }
    crate::protocol::shortened(&flat, 300)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: Vec<u8>) -> reqwest::Response {
        reqwest::Response::from(
            http::Response::builder()
                .status(status)
                .body(body)
                .expect("a response"),
        )
    }

    #[tokio::test]
    async fn error_bodies_are_read_no_further_than_their_cap() {
        let huge = "x".repeat(8 << 20).into_bytes();
        let body = read_error_body(response(400, huge)).await;
        assert_eq!(body.len(), MAX_ERROR_BODY_BYTES);
        assert!(excerpt(&body).len() <= 303, "only the start is ever quoted");
    }

    #[tokio::test]
    async fn page_bodies_past_their_cap_are_refused() {
        let body = read_body(response(200, vec![b' '; 64]), 16, ("", "")).await;
        assert_eq!(body.unwrap_err(), BodyError::TooLarge);
        let body = read_body(response(200, b"{}".to_vec()), 16, ("", "")).await;
        assert_eq!(body.unwrap(), "{}");
        let body = read_body(response(200, b"{}".to_vec()), 16, ("[", "]")).await;
        assert_eq!(
            body.unwrap(),
            "[{}]",
            "written between the wrapping's halves"
        );
    }

    #[test]
    fn retry_after_takes_seconds_or_an_http_date() {
        let mut headers = HeaderMap::new();
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(60)));
        let later = SystemTime::now() + Duration::from_secs(120);
        let date = HeaderValue::from_str(&httpdate::fmt_http_date(later)).unwrap();
        headers.insert(header::RETRY_AFTER, date);
        let wait = retry_after(&headers).unwrap();
        assert!(wait > Duration::from_secs(100) && wait <= Duration::from_secs(120));
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1000000000"));
        assert_eq!(
            retry_after(&headers),
            Some(MAX_WAIT),
            "a wait is at most a day"
        );
        let in_a_minute = SystemTime::now() + Duration::from_secs(60);
        let millis = in_a_minute
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis()
            .to_string();
        headers.insert(header::RETRY_AFTER, HeaderValue::from_str(&millis).unwrap());
        let wait = retry_after(&headers).unwrap();
        assert!(
            wait > Duration::from_secs(55) && wait <= Duration::from_secs(60),
            "{wait:?}"
        );
    }

    #[test]
    fn resets_are_read_as_seconds_or_unix_times_in_seconds_or_milliseconds() {
        assert_eq!(wait_until(30.0), Duration::from_secs(30));
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let in_seconds = wait_until(now + 120.0);
        assert!(in_seconds > Duration::from_secs(115) && in_seconds <= Duration::from_secs(120));
        let in_millis = wait_until((now + 120.0) * 1000.0);
        assert!(in_millis > Duration::from_secs(115) && in_millis <= Duration::from_secs(120));
        assert_eq!(
            wait_until(now - 10.0),
            Duration::ZERO,
            "a reset in the past"
        );
        assert_eq!(wait_until(1e300), MAX_WAIT);
    }

    #[test]
    fn every_status_has_its_policy() {
        let polars_not_found = r#"{"error": "ResourceNotFound", "detail": "Not found"}"#;
        let unserved = r#"{"detail": "Not Found"}"#;
        let rows: [(u16, bool, &str, Policy); 17] = [
            (429, false, "", Policy::Retry { rate_limited: true }),
            (
                408,
                false,
                "",
                Policy::Retry {
                    rate_limited: false,
                },
            ),
            (
                500,
                false,
                "",
                Policy::Retry {
                    rate_limited: false,
                },
            ),
            (
                502,
                false,
                "<html>",
                Policy::Retry {
                    rate_limited: false,
                },
            ),
            (
                503,
                false,
                "",
                Policy::Retry {
                    rate_limited: false,
                },
            ),
            (
                504,
                false,
                "",
                Policy::Retry {
                    rate_limited: false,
                },
            ),
            (401, false, "", Policy::Unauthorized),
            (403, true, "", Policy::MissingScope),
            (404, false, polars_not_found, Policy::NotServed),
            (404, true, polars_not_found, Policy::Deleted),
            (404, true, unserved, Policy::NotServed),
            (
                404,
                true,
                "<html>Not Found</html>",
                Policy::NotPolarsNotFound,
            ),
            (301, false, "", Policy::Redirect),
            (307, true, "", Policy::Redirect),
            (400, false, "", Policy::Refused),
            (422, false, "{}", Policy::Refused),
            (501, false, "", Policy::Refused),
        ];
        for (status, record_read, body, policy) in rows {
            let status = StatusCode::from_u16(status).unwrap();
            assert_eq!(
                answer_policy(status, record_read, body),
                policy,
                "{status} {body}"
            );
        }
    }

    #[test]
    fn only_polars_not_found_body_reads_as_a_missing_record() {
        assert_eq!(
            not_found_body(r#"{"error": "ResourceNotFound", "detail": "Not found"}"#),
            NotFoundBody::ResourceNotFound
        );
        assert_eq!(
            not_found_body(r#"{"detail": "Not Found"}"#),
            NotFoundBody::UnknownRoute
        );
        for other in [
            "<html>404</html>",
            "",
            "null",
            r#"{"error": "NotFound"}"#,
            "[]",
        ] {
            assert_eq!(not_found_body(other), NotFoundBody::Other, "{other}");
        }
    }
}

//! The Polar API client: one list-page request made safely.
//!
//! It owns everything between "page N of this stream" and a parsed [`Page`]: the headers (token, API version,
//! User-Agent), timeouts, the shared rate limit, the cap on requests in flight, retries with exponential
//! backoff and jitter that honour `Retry-After`, and the classification of every failure into an [`ApiError`]
//! that says what happened, to which request, and who has to act.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use backon::BackoffBuilder;
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderValue};
use secrecy::ExposeSecret;
use tokio::sync::Semaphore;

use crate::config::Config;
use crate::output::{Output, OutputClosed};
use crate::page::{OffContract, Page};
use crate::protocol::{FailureType, LogLevel, Message, now_millis};
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

/// Which page of which stream a request asked for, for messages: "GET /v1/orders/ page 7".
#[derive(Debug, Clone)]
pub struct RequestLabel {
    pub path: &'static str,
    pub page: u32,
    pub limit: u32,
}

impl fmt::Display for RequestLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GET {} page {}", self.path, self.page)?;
        if self.limit != PAGE_SIZE {
            write!(f, " (limit {})", self.limit)?;
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
    #[error(transparent)]
    Output(#[from] OutputClosed),
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
            ApiError::Output(_) => FailureType::SystemError,
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

/// One attempt's outcome when it may be worth another attempt.
struct Retryable {
    /// What went wrong, phrased to follow "Polar kept ...".
    problem: String,
    /// The server's own wait, from `Retry-After`.
    retry_after: Option<Duration>,
    rate_limited: bool,
}

pub struct PolarClient {
    http: reqwest::Client,
    config: Arc<Config>,
    tuning: Tuning,
    rate_limit: AdaptiveRateLimit,
    in_flight: Semaphore,
    output: Output,
    pub stats: RequestStats,
}

impl PolarClient {
    pub fn new(config: Arc<Config>, tuning: Tuning, output: Output) -> anyhow::Result<Self> {
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
        let rate_limit = AdaptiveRateLimit::new(config.requests_per_minute);
        let in_flight = Semaphore::new(tuning.max_in_flight);
        Ok(PolarClient {
            http,
            config,
            tuning,
            rate_limit,
            in_flight,
            output,
            stats: RequestStats::default(),
        })
    }

    /// Fetches one page of `stream`, retrying what is worth retrying.
    pub async fn fetch_page(
        &self,
        stream: &StreamDef,
        page: u32,
        limit: u32,
    ) -> Result<Page, ApiError> {
        let label = RequestLabel {
            path: stream.path,
            page,
            limit,
        };
        let mut url = self.config.endpoint(stream.path);
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("page", &page.to_string())
                .append_pair("limit", &limit.to_string());
            for criterion in stream.sorting {
                query.append_pair("sorting", criterion);
            }
        }
        let mut delays = backon::ExponentialBuilder::default()
            .with_min_delay(self.tuning.backoff_base)
            .with_max_delay(self.tuning.backoff_max)
            .with_jitter()
            .without_max_times()
            .build();
        let started = Instant::now();
        let mut waited = Duration::ZERO;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let retryable = match self.attempt(stream, &label, &url).await {
                Ok(outcome) => return outcome,
                Err(retryable) => retryable,
            };
            let delay = retryable
                .retry_after
                .unwrap_or_else(|| delays.next().unwrap_or(self.tuning.backoff_max));
            let out_of_budget =
                attempt >= self.tuning.max_attempts || waited + delay > self.tuning.max_retry_wait;
            if out_of_budget {
                return Err(ApiError::Exhausted {
                    request: label,
                    problem: retryable.problem,
                    attempts: attempt,
                    waited: started.elapsed(),
                });
            }
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            if retryable.rate_limited {
                self.rate_limit.rate_limited(delay);
                let reset = now_millis() + delay.as_millis() as u64;
                self.output
                    .send(&Message::rate_limited(stream.name, reset))
                    .await?;
            }
            let message = format!(
                "{}: Polar is {} for {label}; retry {} of {} in {:.1} s",
                stream.name,
                retryable.problem,
                attempt,
                self.tuning.max_attempts - 1,
                delay.as_secs_f64()
            );
            self.output.log(LogLevel::Warn, message).await?;
            tokio::time::sleep(delay).await;
            waited += delay;
        }
    }

    /// One attempt: `Ok` when the outcome is final (a page or a non-retryable error).
    async fn attempt(
        &self,
        stream: &StreamDef,
        label: &RequestLabel,
        url: &url::Url,
    ) -> Result<Result<Page, ApiError>, Retryable> {
        self.rate_limit.acquire().await;
        let _slot = self
            .in_flight
            .acquire()
            .await
            .expect("the semaphore is never closed");
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let sent = Instant::now();
        let response = self.http.get(url.clone()).send().await;
        let response = match response {
            Ok(response) => response,
            Err(error) => {
                self.debug_log(label, "failed", sent).await;
                return Err(Retryable {
                    problem: describe_transport_error(&error, &self.tuning),
                    retry_after: None,
                    rate_limited: false,
                });
            }
        };
        let status = response.status();
        self.observe_rate_limit_headers(response.headers());
        let retry_after = retry_after(response.headers());
        if status.is_success() {
            let body = read_body(response).await;
            self.debug_log(label, status.as_str(), sent).await;
            let body = body.map_err(|problem| Retryable {
                problem,
                retry_after: None,
                rate_limited: false,
            })?;
            return match Page::parse(body, stream.sorting) {
                Ok(page) => Ok(Ok(page)),
                Err(OffContract::NotJson(reason)) => Err(Retryable {
                    problem: format!("sending a body that is not valid JSON ({reason})"),
                    retry_after: None,
                    rate_limited: false,
                }),
                Err(problem) => Ok(Err(ApiError::OffContract {
                    request: label.clone(),
                    problem,
                })),
            };
        }
        let body = response.text().await.unwrap_or_default();
        self.debug_log(label, status.as_str(), sent).await;
        let retryable = |problem: String| Retryable {
            problem,
            retry_after: None,
            rate_limited: false,
        };
        match status {
            StatusCode::TOO_MANY_REQUESTS => {
                self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                Err(Retryable {
                    problem: "answering 429 Too Many Requests".into(),
                    retry_after,
                    rate_limited: true,
                })
            }
            StatusCode::SERVICE_UNAVAILABLE => Err(Retryable {
                retry_after,
                ..retryable(format!("answering {status}"))
            }),
            StatusCode::REQUEST_TIMEOUT
            | StatusCode::INTERNAL_SERVER_ERROR
            | StatusCode::BAD_GATEWAY
            | StatusCode::GATEWAY_TIMEOUT => Err(retryable(format!("answering {status}"))),
            StatusCode::UNAUTHORIZED => Ok(Err(ApiError::Unauthorized {
                request: label.clone(),
            })),
            StatusCode::FORBIDDEN => Ok(Err(ApiError::MissingScope {
                request: label.clone(),
                scope: stream.scope,
            })),
            StatusCode::NOT_FOUND => Ok(Err(ApiError::NotFound {
                request: label.clone(),
            })),
            _ => Ok(Err(ApiError::Refused {
                request: label.clone(),
                status: status.as_u16(),
                detail: excerpt(&body),
            })),
        }
    }

    async fn debug_log(&self, label: &RequestLabel, status: &str, sent: Instant) {
        if self.output.debug_enabled() {
            let millis = sent.elapsed().as_millis();
            // Best effort: a closed stdout is reported by the next regular message.
            let _ = self
                .output
                .log(
                    LogLevel::Debug,
                    format!("{label} -> {status} in {millis} ms"),
                )
                .await;
        }
    }

    /// Honours `RateLimit-*` / `X-RateLimit-*` headers where the server sends them: an exhausted budget pauses
    /// every request until its reset.
    fn observe_rate_limit_headers(&self, headers: &HeaderMap) {
        let number = |names: [&str; 2]| {
            names.iter().find_map(|name| {
                headers
                    .get(*name)?
                    .to_str()
                    .ok()?
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
        };
        let Some(0) = number(["ratelimit-remaining", "x-ratelimit-remaining"]) else {
            return;
        };
        if let Some(reset) = number(["ratelimit-reset", "x-ratelimit-reset"]) {
            // Some servers send seconds until the reset, others the reset's Unix time.
            let now = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs();
            let seconds = if reset > 1_000_000_000 {
                reset.saturating_sub(now)
            } else {
                reset
            };
            self.rate_limit
                .budget_spent(Duration::from_secs(seconds.min(3600)));
        }
    }

    pub fn base_url(&self) -> &url::Url {
        &self.config.base_url
    }

    pub fn requests_per_minute(&self) -> u32 {
        self.rate_limit.per_minute()
    }
}

/// The wait a `Retry-After` header asks for: delay-seconds or an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0)
            .then(|| Duration::from_secs_f64(seconds.min(86_400.0)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
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
/// A page of 100 records is a few hundred kilobytes; a body beyond this is not a page.
const MAX_BODY_BYTES: usize = 256 << 20;

/// Reads a page's body into one buffer sized by `Content-Length` (each byte is copied once) and checks that it
/// is UTF-8, as JSON must be. The error says what Polar did, to follow "Polar kept ...".
async fn read_body(mut response: reqwest::Response) -> Result<String, String> {
    let expected = response.content_length().unwrap_or(0);
    let mut body = Vec::with_capacity(expected.min(MAX_PREALLOCATED_BODY) as usize);
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_BODY_BYTES {
                    return Err(format!(
                        "sending a body larger than {} MiB",
                        MAX_BODY_BYTES >> 20
                    ));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(error) => {
                return Err(format!(
                    "cutting the response body short ({})",
                    describe_body_error(&error)
                ));
            }
        }
    }
    // JSON is UTF-8. Checked with SIMD: a page is hundreds of kilobytes, and this is its only full pass
    // besides the JSON parse.
    if simdutf8::basic::from_utf8(&body).is_err() {
        return Err("sending a body that is not UTF-8 text".to_owned());
    }
    // SAFETY: `body` was just checked to be valid UTF-8.
    Ok(unsafe { String::from_utf8_unchecked(body) })
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
    let mut cut: String = flat.chars().take(300).collect();
    if cut.len() < flat.len() {
        cut.push_str("...");
    }
    cut
}

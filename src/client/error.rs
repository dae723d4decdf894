//! Why a request failed for good ([`ApiError`], and the failure type each case reports), and how a failure
//! is phrased in messages: a transport error's cause, an error body's start.

use std::time::Duration;

use super::{API_VERSION, RequestLabel};
use crate::page::OffContract;
use crate::protocol::FailureType;
use crate::tuning::Tuning;

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

pub(super) fn describe_transport_error(error: &reqwest::Error, tuning: &Tuning) -> String {
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

/// The innermost cause of an error, which says what actually happened ("connection refused").
pub(super) fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

/// The start of an error body, on one line, for messages (Polar's bodies are short JSON; a proxy's may be
/// a whole HTML page).
pub(super) fn excerpt(body: &str) -> String {
    let flat: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.is_empty() {
        return "(empty body)".into();
    }
    crate::protocol::shortened(&flat, 300)
}

//! Why a request failed for good ([`ApiError`], and the failure type each case reports), what an unusable
//! answer held ([`Unusable`]), and how a failure is phrased in messages: a transport error's cause, an error
//! body's start, a refusal's detail.

use std::time::Duration;

use reqwest::StatusCode;

use super::policy::Failure;
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

/// What an answer that cannot be used held instead of a page, for its retry's or its failure's message.
#[derive(Debug)]
pub(super) enum Unusable {
    /// No answer, or a success's body that could not be read whole (cut short, not text): what happened,
    /// phrased to follow "Polar is ..." and "Polar kept ...".
    Broken(String),
    /// A success's body that the page parse (or the cap) refused.
    Problem(OffContract),
    /// Any other status, the start of its body, and its `Location` header.
    Error {
        status: StatusCode,
        body: String,
        location: Option<String>,
    },
}

impl Unusable {
    /// What went wrong, phrased to follow "Polar is ..." and "Polar kept ...".
    pub(super) fn problem(&self) -> String {
        match self {
            Unusable::Broken(problem) => problem.clone(),
            Unusable::Problem(OffContract::NotJson(reason)) => {
                format!("sending a body that is not valid JSON ({reason})")
            }
            Unusable::Problem(problem) => {
                format!("sending a response this connector cannot use ({problem})")
            }
            Unusable::Error { status, .. } => format!("answering {status}"),
        }
    }

    /// The error that `failure` (the table's verdict) of `request` reports, with what the answer held
    /// (`scope`: the stream's, which a 403 names).
    pub(super) fn into_error(
        self,
        failure: Failure,
        request: RequestLabel,
        scope: &'static str,
    ) -> ApiError {
        let (status, body, location) = match (failure, self) {
            (Failure::Unauthorized, _) => return ApiError::Unauthorized { request },
            (Failure::MissingScope, _) => return ApiError::MissingScope { request, scope },
            (Failure::NotServed, _) => return ApiError::NotFound { request },
            (_, Unusable::Problem(problem)) => return ApiError::OffContract { request, problem },
            (
                _,
                Unusable::Error {
                    status,
                    body,
                    location,
                },
            ) => (status, body, location),
            // The table refuses by status only what has one, and fails a success only for its body.
            (_, unusable) => {
                return ApiError::OffContract {
                    request,
                    problem: OffContract::Unexpected(unusable.problem()),
                };
            }
        };
        let detail = match failure {
            Failure::NotPolarsNotFound => format!(
                "{} (not Polar's answer for a missing record, so no deletion is inferred: a proxy or \
                 gateway may stand between the connector and Polar)",
                excerpt(&body)
            ),
            Failure::Redirect => match &location {
                Some(location) => format!(
                    "a redirect to '{}', not followed (it could carry the token elsewhere): point \
                     'base_url' at the API itself",
                    excerpt(location)
                ),
                None => "a redirect without a Location header: 'base_url' may not point at Polar's API, \
                         or a proxy in between misbehaves"
                    .to_owned(),
            },
            _ => excerpt(&body),
        };
        ApiError::Refused {
            request,
            status: status.as_u16(),
            detail,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::policy::{Action, Answer, NotFoundBody, Shape, policy};

    /// Every answer the table can be given: no answer, a success of every shape, every status with every
    /// 404 body, each to a list page and to a read by id.
    fn every_answer() -> Vec<(Answer, bool)> {
        let shapes = [
            Shape::Expected,
            Shape::OffContract,
            Shape::NotJson,
            Shape::TooLarge,
        ];
        let bodies = [
            NotFoundBody::ResourceNotFound,
            NotFoundBody::UnknownRoute,
            NotFoundBody::Other,
        ];
        let statuses = (100..600).filter_map(|code| StatusCode::from_u16(code).ok());
        let answers = std::iter::once(Answer::Nothing)
            .chain(shapes.map(Answer::Success))
            .chain(statuses.flat_map(|status| bodies.map(|body| Answer::Status(status, body))));
        answers
            .flat_map(|answer| [(answer, false), (answer, true)])
            .collect()
    }

    /// What an `answer` held, as the client would have it.
    fn held(answer: Answer) -> Unusable {
        match answer {
            Answer::Nothing => Unusable::Broken("refusing or dropping the connection".into()),
            Answer::Success(Shape::TooLarge) => Unusable::Problem(OffContract::TooLarge {
                cap_bytes: 1 << 20,
                variable: "SOURCE_POLAR_MAX_PAGE_BYTES",
            }),
            Answer::Success(Shape::NotJson) => {
                Unusable::Problem(OffContract::NotJson("EOF".into()))
            }
            Answer::Success(_) => Unusable::Problem(OffContract::MissingItems),
            Answer::Status(status, _) => Unusable::Error {
                status,
                body: "<html>no</html>".into(),
                location: None,
            },
        }
    }

    #[test]
    fn every_failure_reports_the_failure_type_of_its_row() {
        for (answer, read_by_id) in every_answer() {
            if let Action::Fail {
                failure_type,
                failure,
            } = policy(answer, read_by_id)
            {
                let request = RequestLabel::Limits { path: "/v1/x/" };
                let error = held(answer).into_error(failure, request, "orders:read");
                assert_eq!(error.failure_type(), failure_type, "{answer:?} {error}");
                assert!(
                    !matches!(
                        error,
                        ApiError::OffContract {
                            problem: OffContract::Unexpected(_),
                            ..
                        }
                    ),
                    "{answer:?}: {error}"
                );
            }
        }
    }

    #[test]
    fn a_page_is_used_exactly_when_the_body_is_what_was_asked_for() {
        for (answer, read_by_id) in every_answer() {
            assert_eq!(
                policy(answer, read_by_id) == Action::Use,
                answer == Answer::Success(Shape::Expected),
                "{answer:?}"
            );
        }
    }
}

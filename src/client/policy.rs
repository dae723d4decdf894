//! Polar's HTTP contract as one table: what an answer means, from its status and what its body turned out to
//! be, to what the client does about it (use it, retry, wait, or fail with a failure type), as Airbyte's error
//! mapping does. Pure, with one test per row; the client gathers the facts and adds the context.

use reqwest::StatusCode;

use crate::page::OffContract;
use crate::protocol::FailureType;

/// What came back for one attempt, as far as the table cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    /// No answer: the connection failed or was refused, or the server did not answer within the timeout.
    Nothing,
    /// A success (2xx), its body as it read.
    Success(Shape),
    /// Any other status, its body (only its start is read) as a 404's reads.
    Status(StatusCode, NotFoundBody),
}

/// What a success's body turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// What the request asks for: a list page, a record, the metrics, their limits.
    Expected,
    /// Well-formed JSON that is not what Polar's contract says the answer holds: an object without `items`, an
    /// array where an object belongs, an item that is no object or has no `id`, a count that is no count.
    /// The server did answer, and asking again brings the same answer.
    OffContract,
    /// No JSON, or not all of it: malformed (a proxy's HTML page), cut short, or not UTF-8 text. A passing
    /// fault between the connector and Polar, as far as anyone can tell.
    NotJson,
    /// Larger than the cap on one response (read no further).
    TooLarge,
}

impl Shape {
    /// The shape of a body the page parse refused with `problem`.
    pub(crate) fn of(problem: &OffContract) -> Shape {
        match problem {
            OffContract::NotJson(_) => Shape::NotJson,
            OffContract::TooLarge { .. } => Shape::TooLarge,
            OffContract::MissingItems
            | OffContract::MissingArray(_)
            | OffContract::MissingPagination
            | OffContract::MissingId(_)
            | OffContract::MissingKey(..)
            | OffContract::Unexpected(_)
            | OffContract::ItemNotObject(_)
            | OffContract::BadCount { .. }
            | OffContract::DuplicateKey(..)
            | OffContract::WrongShape(_) => Shape::OffContract,
        }
    }
}

/// What the client does about an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Use it.
    Use,
    /// The record read by id is gone (Polar's own not-found answer): no page, and the caller infers a deletion.
    Deleted,
    /// Try again after the backoff, or after the server's `Retry-After` where `retry_after`. Uses up one of
    /// the attempts; once they or the time budget are spent the request fails with `transient_error`.
    Retry { retry_after: bool },
    /// The organization's rate-limit budget is spent (429): wait for its `Retry-After` in the shared pace, which
    /// holds every request until the window is probed. Uses up no attempt: bounded by the time budget only
    /// (`transient_error` past it).
    Wait,
    /// Fail for good, reported as `failure_type`.
    Fail {
        failure_type: FailureType,
        failure: Failure,
    },
}

/// Why a request fails for good, as the table sees it (the client adds the request, the scope, the body).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// 401: the token is invalid, expired or revoked.
    Unauthorized,
    /// 403: the token lacks the stream's scope.
    MissingScope,
    /// 404 on a route Polar serves: the API version is not served, or `base_url` is not Polar's API.
    NotServed,
    /// 404 on a read by id with a body that is not Polar's: no deletion follows.
    NotPolarsNotFound,
    /// 3xx: never followed (a redirect could carry the token elsewhere).
    Redirect,
    /// Any other status: refused, its body quoted.
    Refused,
    /// A success whose body is JSON but not what Polar's contract says.
    OffContract,
    /// A success whose body is past the cap.
    TooLarge,
}

/// The table: what to do about `answer` to a request (with `read_by_id`, a read of one record by id).
pub(crate) fn policy(answer: Answer, read_by_id: bool) -> Action {
    use FailureType::{ConfigError, SystemError};
    let fail = |failure_type, failure| Action::Fail {
        failure_type,
        failure,
    };
    match answer {
        Answer::Nothing => Action::Retry { retry_after: false },
        Answer::Success(Shape::Expected) => Action::Use,
        Answer::Success(Shape::NotJson) => Action::Retry { retry_after: false },
        Answer::Success(Shape::OffContract) => fail(SystemError, Failure::OffContract),
        Answer::Success(Shape::TooLarge) => fail(SystemError, Failure::TooLarge),
        Answer::Status(status, body) => match status {
            StatusCode::TOO_MANY_REQUESTS => Action::Wait,
            StatusCode::SERVICE_UNAVAILABLE => Action::Retry { retry_after: true },
            StatusCode::REQUEST_TIMEOUT
            | StatusCode::INTERNAL_SERVER_ERROR
            | StatusCode::BAD_GATEWAY
            | StatusCode::GATEWAY_TIMEOUT => Action::Retry { retry_after: false },
            StatusCode::UNAUTHORIZED => fail(ConfigError, Failure::Unauthorized),
            StatusCode::FORBIDDEN => fail(ConfigError, Failure::MissingScope),
            StatusCode::NOT_FOUND if read_by_id => match body {
                NotFoundBody::ResourceNotFound => Action::Deleted,
                NotFoundBody::UnknownRoute => fail(SystemError, Failure::NotServed),
                NotFoundBody::Other => fail(SystemError, Failure::NotPolarsNotFound),
            },
            StatusCode::NOT_FOUND => fail(SystemError, Failure::NotServed),
            status if status.is_redirection() => fail(SystemError, Failure::Redirect),
            _ => fail(SystemError, Failure::Refused),
        },
    }
}

/// What a 404's body says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

#[cfg(test)]
mod tests {
    use super::*;

    const POLARS_NOT_FOUND: &str = r#"{"error": "ResourceNotFound", "detail": "Not found"}"#;
    const UNKNOWN_ROUTE: &str = r#"{"detail": "Not Found"}"#;

    /// The action for an answer with `status` whose body is `body`, to a list page and to a read by id.
    fn actions(status: u16, body: &str) -> [Action; 2] {
        let answer = Answer::Status(StatusCode::from_u16(status).unwrap(), not_found_body(body));
        [policy(answer, false), policy(answer, true)]
    }

    fn fail(failure_type: FailureType, failure: Failure) -> Action {
        Action::Fail {
            failure_type,
            failure,
        }
    }

    fn success(shape: Shape) -> [Action; 2] {
        [
            policy(Answer::Success(shape), false),
            policy(Answer::Success(shape), true),
        ]
    }

    #[test]
    fn no_answer_is_retried() {
        for read_by_id in [false, true] {
            assert_eq!(
                policy(Answer::Nothing, read_by_id),
                Action::Retry { retry_after: false }
            );
        }
    }

    #[test]
    fn a_success_with_the_expected_body_is_used() {
        assert_eq!(success(Shape::Expected), [Action::Use; 2]);
    }

    #[test]
    fn a_success_whose_body_is_not_json_is_retried() {
        // A proxy's HTML page with a 200, a body cut short, bytes that are not UTF-8.
        assert_eq!(
            success(Shape::NotJson),
            [Action::Retry { retry_after: false }; 2]
        );
    }

    #[test]
    fn a_success_whose_json_breaks_the_contract_fails_as_a_system_error() {
        // The server answered, but not with what Polar's contract says: asking again brings the same.
        assert_eq!(
            success(Shape::OffContract),
            [fail(FailureType::SystemError, Failure::OffContract); 2]
        );
    }

    #[test]
    fn a_success_past_the_cap_fails_as_a_system_error() {
        assert_eq!(
            success(Shape::TooLarge),
            [fail(FailureType::SystemError, Failure::TooLarge); 2]
        );
    }

    #[test]
    fn a_429_waits_for_the_rate_limit_window() {
        assert_eq!(actions(429, ""), [Action::Wait; 2]);
    }

    #[test]
    fn a_503_is_retried_after_its_retry_after() {
        assert_eq!(
            actions(503, "<html>maintenance</html>"),
            [Action::Retry { retry_after: true }; 2]
        );
    }

    #[test]
    fn timeouts_and_server_errors_are_retried_after_the_backoff() {
        for status in [408, 500, 502, 504] {
            assert_eq!(
                actions(status, "<html>"),
                [Action::Retry { retry_after: false }; 2],
                "{status}"
            );
        }
    }

    #[test]
    fn a_401_is_the_token_a_config_error() {
        assert_eq!(
            actions(401, ""),
            [fail(FailureType::ConfigError, Failure::Unauthorized); 2]
        );
    }

    #[test]
    fn a_403_is_a_missing_scope_a_config_error() {
        assert_eq!(
            actions(403, ""),
            [fail(FailureType::ConfigError, Failure::MissingScope); 2]
        );
    }

    #[test]
    fn polars_404_on_a_read_by_id_is_a_deletion() {
        assert_eq!(actions(404, POLARS_NOT_FOUND)[1], Action::Deleted);
    }

    #[test]
    fn another_404_on_a_read_by_id_deletes_nothing() {
        for body in ["<html>Not Found</html>", "", r#"{"error": "NotFound"}"#] {
            assert_eq!(
                actions(404, body)[1],
                fail(FailureType::SystemError, Failure::NotPolarsNotFound),
                "{body}"
            );
        }
    }

    #[test]
    fn any_other_404_is_a_route_not_served() {
        let not_served = fail(FailureType::SystemError, Failure::NotServed);
        assert_eq!(actions(404, UNKNOWN_ROUTE), [not_served; 2]);
        for body in [POLARS_NOT_FOUND, "<html>Not Found</html>", ""] {
            assert_eq!(actions(404, body)[0], not_served, "a list page: {body}");
        }
    }

    #[test]
    fn a_redirect_is_never_followed() {
        for status in [301, 302, 307, 308] {
            assert_eq!(
                actions(status, ""),
                [fail(FailureType::SystemError, Failure::Redirect); 2],
                "{status}"
            );
        }
    }

    #[test]
    fn any_other_status_is_refused() {
        for status in [400, 405, 409, 422, 501, 505, 599] {
            assert_eq!(
                actions(status, "{}"),
                [fail(FailureType::SystemError, Failure::Refused); 2],
                "{status}"
            );
        }
    }

    #[test]
    fn only_an_unparseable_body_reads_as_not_json() {
        let shape = |body: &str| match crate::page::Page::parse(body.to_owned(), &[]) {
            Ok(_) => Shape::Expected,
            Err(problem) => Shape::of(&problem),
        };
        for body in [
            "<html>maintenance</html>",
            "",
            r#"{"items": [{"id": "a"}"#,
            r#"{"items": [], "pagination": {"total_count": 0, "max_page": 0}} trailing"#,
        ] {
            assert_eq!(shape(body), Shape::NotJson, "{body}");
        }
        for body in [
            "{}",
            "[]",
            "null",
            r#""items""#,
            r#"{"detail": "Not Found"}"#,
            r#"{"items": {}, "pagination": {"total_count": 0, "max_page": 0}}"#,
            r#"{"items": [3], "pagination": {"total_count": 1, "max_page": 1}}"#,
            r#"{"items": [{}], "pagination": {"total_count": 1, "max_page": 1}}"#,
            r#"{"items": [], "pagination": "none"}"#,
            r#"{"items": [], "pagination": {"total_count": -1, "max_page": 0}}"#,
            r#"{"items": [], "pagination": {"total_count": 1e400, "max_page": 1}}"#,
        ] {
            assert_eq!(shape(body), Shape::OffContract, "{body}");
        }
        let page = r#"{"items": [{"id": "a"}], "pagination": {"total_count": 1, "max_page": 1}}"#;
        assert_eq!(shape(page), Shape::Expected);
    }

    #[test]
    fn only_polars_not_found_body_reads_as_a_missing_record() {
        assert_eq!(
            not_found_body(POLARS_NOT_FOUND),
            NotFoundBody::ResourceNotFound
        );
        assert_eq!(not_found_body(UNKNOWN_ROUTE), NotFoundBody::UnknownRoute);
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

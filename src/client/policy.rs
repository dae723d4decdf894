//! Polar's HTTP contract as one table: what an answer means, from its status and its body, to what the client
//! does about it. Pure; the client adds the context.

use reqwest::StatusCode;

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

#[cfg(test)]
mod tests {
    use super::*;

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

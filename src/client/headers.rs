//! The headers the client reads besides the body: those that ask for a wait, `Retry-After` (seconds, an HTTP
//! date, or a Unix time in milliseconds) and the resets of `RateLimit-*` / `X-RateLimit-*`, each read as a
//! bounded wait from now; and the server's `Date`.

use std::time::{Duration, SystemTime};

use reqwest::header::{self, HeaderMap};

/// The wait a `Retry-After` header asks for: delay-seconds, an HTTP date, or (from servers that send one) a
/// Unix time in milliseconds. Never more than a day, whatever it says.
pub(super) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    retry_after_value(headers.get(header::RETRY_AFTER)?.to_str().ok()?)
}

/// When `RateLimit-Remaining` (or `X-RateLimit-Remaining`) says the budget is spent and `RateLimit-Reset` (or
/// `X-RateLimit-Reset`) says when it refills: the header that said so, and the wait until the reset.
pub(super) fn spent_budget(headers: &HeaderMap) -> Option<(&'static str, Duration)> {
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
    let (header, remaining) = number(["ratelimit-remaining", "x-ratelimit-remaining"])?;
    if remaining > 0.0 {
        return None;
    }
    let (_, reset) = number(["ratelimit-reset", "x-ratelimit-reset"])?;
    Some((header, wait_until(reset)))
}

/// The server's clock when it answered, from its `Date` header.
pub(super) fn date(headers: &HeaderMap) -> Option<SystemTime> {
    httpdate::parse_http_date(headers.get(header::DATE)?.to_str().ok()?).ok()
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

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

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
    fn a_spent_budget_is_read_from_either_header_family() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut headers = HeaderMap::new();
            for (name, value) in pairs {
                headers.insert(*name, HeaderValue::from_static(value));
            }
            headers
        };
        assert_eq!(
            spent_budget(&headers(&[
                ("ratelimit-remaining", "0"),
                ("ratelimit-reset", "30")
            ])),
            Some(("ratelimit-remaining", Duration::from_secs(30)))
        );
        assert_eq!(
            spent_budget(&headers(&[
                ("x-ratelimit-remaining", " 0 "),
                ("x-ratelimit-reset", "5")
            ])),
            Some(("x-ratelimit-remaining", Duration::from_secs(5)))
        );
        for unspent in [
            headers(&[("ratelimit-remaining", "1"), ("ratelimit-reset", "30")]),
            headers(&[("ratelimit-remaining", "0")]),
            headers(&[("ratelimit-remaining", "-1"), ("ratelimit-reset", "30")]),
            headers(&[("ratelimit-remaining", "NaN"), ("ratelimit-reset", "30")]),
            headers(&[("ratelimit-reset", "30")]),
        ] {
            assert_eq!(spent_budget(&unspent), None, "{unspent:?}");
        }
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
}

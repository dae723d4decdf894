//! Polar's timestamps (ISO 8601 / RFC 3339 strings) as Unix microseconds, and back.

use std::time::SystemTime;

use chrono::{DateTime, SecondsFormat, Utc};

/// How far apart the connector's clock and Polar's may be before one of them is taken to be wrong: a `Date`
/// further off is not used, and an input cursor further in the future is refused.
pub const MAX_CLOCK_SKEW: std::time::Duration = std::time::Duration::from_secs(300);
pub const MAX_CLOCK_SKEW_MICROS: i64 = 300_000_000;

/// The Unix microseconds of an RFC 3339 timestamp, `None` if it is not one.
pub fn micros(text: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|at| at.timestamp_micros())
}

/// Unix microseconds as an RFC 3339 timestamp in UTC with microseconds, as Polar writes them.
pub fn format(micros: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(micros)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A system time as Unix microseconds.
pub fn system_micros(at: SystemTime) -> i64 {
    match at.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_micros()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_micros()).unwrap_or(i64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_polar_timestamps_and_writes_them_back() {
        let polar = "2026-11-25T15:00:00.123456Z";
        let at = micros(polar).unwrap();
        assert_eq!(format(at), polar);
        assert_eq!(micros("2026-11-25T16:00:00.123456+01:00"), Some(at));
        assert_eq!(micros("2026-11-25T15:00:00Z"), Some(at - 123_456));
        assert_eq!(micros("yesterday"), None);
        assert_eq!(
            system_micros(SystemTime::UNIX_EPOCH + std::time::Duration::from_micros(at as u64)),
            at
        );
    }
}

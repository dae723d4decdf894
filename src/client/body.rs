//! Reading a response body within a size cap: a page's into one buffer sized once (and checked to be UTF-8),
//! an error's only as far as its start is ever quoted.

use super::error::root_cause;

/// The most body bytes set aside before they arrive, whatever `Content-Length` claims.
const MAX_PREALLOCATED_BODY: u64 = 4 << 20;

/// Why a body could not be read.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum BodyError {
    /// It is larger than the cap (reading stopped there).
    TooLarge,
    /// The connection broke, or the bytes are not text; says what Polar did, to follow "Polar kept ...".
    Broken(String),
}
/// An error body beyond this is cut: only its start is ever quoted.
const MAX_ERROR_BODY_BYTES: usize = 16 << 10;

/// Kibibytes, rounded up, as semaphore permits.
pub(super) fn kib(bytes: usize) -> u32 {
    u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX)
}

/// Reads a body into one buffer sized by `Content-Length` (each byte is copied once), at most `cap` bytes
/// (stopping there, or at once when `Content-Length` says more), between `wrapping`'s two halves, and checks
/// that it is UTF-8, as JSON must be.
pub(super) async fn read_body(
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
pub(super) async fn read_error_body(mut response: reqwest::Response) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::error::excerpt;

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
}

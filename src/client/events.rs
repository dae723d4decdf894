//! What happened on the way to an answer, for the caller to report: the client writes nothing itself, and
//! sends [`ClientEvent`]s on the channel the caller passes in.

use std::time::Duration;

use tokio::sync::mpsc;

use super::RequestLabel;

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

/// Runs `work` to its end while `report`ing the client's events from `source` as they come, then reports those
/// still in the channel when it ends (every event `work` caused is in it by then). The one loop that drains
/// client events; `report` is how the caller says them. An error of `report` (stdout is gone) ends it at once,
/// dropping `work`.
pub async fn reporting<W, R, F, E>(
    source: &mut mpsc::UnboundedReceiver<ClientEvent>,
    work: W,
    mut report: R,
) -> Result<W::Output, E>
where
    W: std::future::Future,
    R: FnMut(ClientEvent) -> F,
    F: std::future::Future<Output = Result<(), E>>,
{
    let mut work = std::pin::pin!(work);
    let outcome = loop {
        tokio::select! {
            biased;
            Some(event) = source.recv() => report(event).await?,
            outcome = &mut work => break outcome,
        }
    };
    while let Ok(event) = source.try_recv() {
        report(event).await?;
    }
    Ok(outcome)
}

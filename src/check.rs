//! The `check` command: does the token work, and which streams can it read?
//!
//! One small request per stream (`limit=1`, or the metrics' limits), all at once, and one of the change log. A
//! token that can read some streams passes, with a note naming the streams it cannot read and the scope each
//! needs (a token rarely holds every scope, and a user syncs the streams they need). Whatever stops every
//! stream (a bad token, no scope at all, an unreachable or wrong server) is a CONNECTION_STATUS FAILED whose
//! message says what to do; the protocol wants exit code 0 for those.

use futures::future::join_all;
use tokio::sync::mpsc;

use crate::client::{ApiError, ClientEvent, PolarClient, reporting};
use crate::listing::Listing;
use crate::output::{Output, OutputClosed};
use crate::protocol::LogLevel;
use crate::streams::{STREAMS, SYSTEM_EVENTS, Shape, StreamDef};

/// `Ok(Ok(note))` when the token can read at least one stream, with a note for the SUCCEEDED status naming the
/// streams it cannot read (and the scope each needs) and whether incremental syncs can track changes;
/// `Ok(Err(message))` for a FAILED status. Retries are logged.
pub async fn check(
    client: &PolarClient,
    output: &Output,
) -> Result<Result<Option<String>, String>, OutputClosed> {
    let (events, mut event_source) = mpsc::unbounded_channel();
    // A check says only its retries, in words of its own: unlike a sync's report it sends no stream statuses
    // (a check answers with logs and a connection status alone), and its waits end with its verdict.
    let say = |event| async move {
        if let ClientEvent::Retrying {
            stream,
            request,
            problem,
            ..
        } = event
        {
            output
                .log(
                    LogLevel::Warn,
                    format!("{stream}: Polar is {problem} for {request}; trying again"),
                )
                .await?;
        }
        Ok(())
    };
    reporting(&mut event_source, verdict(client, &events), say).await
}

/// The smallest request that shows whether the token can read `stream`: one record of a list, or the
/// metrics' limits.
async fn probe(
    client: &PolarClient,
    stream: &'static StreamDef,
    events: &mpsc::UnboundedSender<ClientEvent>,
) -> Result<(), ApiError> {
    match stream.shape {
        Shape::List => client
            .fetch_page(&Listing::of(stream), 1, 1, (None, None), events)
            .await
            .map(drop),
        Shape::Periods { limits, .. } => {
            client.fetch_limits(stream, limits, events).await.map(drop)
        }
    }
}

async fn verdict(
    client: &PolarClient,
    events: &mpsc::UnboundedSender<ClientEvent>,
) -> Result<Option<String>, String> {
    // One request first, so that an unreachable server or a bad token is said once, not for every stream.
    let first = probe(client, &STREAMS[0], events).await;
    if let Err(ApiError::Exhausted { problem, .. }) = &first {
        return Err(format!(
            "cannot reach Polar at {}: it kept {problem}. Check 'server' and 'base_url', and that this machine \
             can reach the address",
            client.base_url()
        ));
    }
    let rest = join_all(
        STREAMS[1..]
            .iter()
            .map(|stream| probe(client, stream, events)),
    )
    .await;
    let results = std::iter::once(first).chain(rest);
    let mut unreadable: Vec<(&str, &str)> = Vec::new();
    let mut not_found = Vec::new();
    let mut other = Vec::new();
    for (stream, result) in STREAMS.iter().zip(results) {
        match result {
            Ok(_) => {}
            Err(ApiError::Unauthorized { .. }) => {
                return Err("Polar rejected the access token (401 Unauthorized): it is invalid, expired or revoked. \
                     Create a new Organization Access Token in the Polar dashboard (Settings > General > \
                     Developers) with the read scopes listed in the connector's documentation, and check that \
                     'server' matches where the token was created (production or sandbox)."
                    .into());
            }
            Err(ApiError::MissingScope { scope, .. }) => unreadable.push((stream.name, scope)),
            Err(ApiError::NotFound { .. }) => not_found.push(stream.name),
            Err(error) => other.push(format!("{}: {error}", stream.name)),
        }
    }
    if not_found.len() == STREAMS.len() {
        return Err(format!(
            "every Polar list endpoint answered 404 Not Found: the server does not accept API version {} \
             (the Polar-Version header), or 'base_url' does not point at Polar's API",
            crate::client::API_VERSION
        ));
    }
    let cannot_read = || {
        unreadable
            .iter()
            .map(|(stream, scope)| format!("{stream} (needs {scope})"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if unreadable.len() == STREAMS.len() {
        return Err(format!(
            "the access token can read none of the streams: it lacks every read scope ({}). Polar tokens cannot \
             gain scopes: create a new Organization Access Token with the read scopes of the streams to sync and \
             update the config",
            crate::streams::scopes_text()
        ));
    }
    let mut problems: Vec<String> = not_found
        .iter()
        .map(|name| format!("{name}: 404 Not Found"))
        .collect();
    problems.extend(other);
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    let mut notes = Vec::new();
    if !unreadable.is_empty() {
        notes.push(format!(
            "The access token cannot read these streams: {}. Sync the others, or create a token that also has \
             those scopes (Polar tokens cannot gain scopes) and update the config; a sync that selects one of \
             them fails that stream with a config error.",
            cannot_read()
        ));
    }
    // Incremental syncs track changes through the system events feed: without its scope they read in full.
    let feed = Listing::of(&SYSTEM_EVENTS).filtered(vec![("source", "system".to_owned())]);
    match client.fetch_page(&feed, 1, 1, (None, None), events).await {
        Ok(_) => {}
        Err(ApiError::MissingScope { .. }) => notes.push(format!(
            "The access token lacks the '{}' scope, so {} cannot track their changes: incremental syncs of \
             these streams read them in full every time (and cannot see deletions). To sync only what changed, \
             create a token that also has '{}' and update the config.",
            SYSTEM_EVENTS.scope,
            crate::streams::change_log_names(),
            SYSTEM_EVENTS.scope
        )),
        Err(error) => notes.push(format!(
            "Polar's change log could not be read ({error}): incremental syncs may read streams in full."
        )),
    }
    Ok((!notes.is_empty()).then(|| notes.join(" ")))
}

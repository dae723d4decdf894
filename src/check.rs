//! The `check` command: does the token work, and does it hold every stream's scope?
//!
//! One small request per stream (`limit=1`), all at once. Whatever the user can fix (a bad token, missing
//! scopes, an unreachable or wrong server) is a CONNECTION_STATUS FAILED whose message says what to do;
//! the protocol wants exit code 0 for those.

use futures::future::join_all;
use tokio::sync::mpsc;

use crate::client::{ApiError, ClientEvent, PolarClient};
use crate::listing::Listing;
use crate::output::{Output, OutputClosed};
use crate::protocol::LogLevel;
use crate::streams::{STREAMS, SYSTEM_EVENTS};

/// `Ok(Ok(note))` when every stream can be read (with a note for the SUCCEEDED status when incremental syncs
/// cannot track changes); `Ok(Err(message))` for a FAILED status. Retries are logged.
pub async fn check(
    client: &PolarClient,
    output: &Output,
) -> Result<Result<Option<String>, String>, OutputClosed> {
    let (events, mut event_source) = mpsc::unbounded_channel();
    let verdict = verdict(client, &events).await;
    drop(events);
    while let Some(event) = event_source.recv().await {
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
    }
    Ok(verdict)
}

async fn verdict(
    client: &PolarClient,
    events: &mpsc::UnboundedSender<ClientEvent>,
) -> Result<Option<String>, String> {
    // One request first, so that an unreachable server or a bad token is said once, not for every stream.
    let first = client
        .fetch_page(&Listing::of(&STREAMS[0]), 1, 1, None, events)
        .await;
    if let Err(ApiError::Exhausted { problem, .. }) = &first {
        return Err(format!(
            "cannot reach Polar at {}: it kept {problem}. Check 'server' and 'base_url', and that this machine \
             can reach the address",
            client.base_url()
        ));
    }
    let rest = join_all(STREAMS[1..].iter().map(|stream| async move {
        client
            .fetch_page(&Listing::of(stream), 1, 1, None, events)
            .await
    }))
    .await;
    let results = std::iter::once(first).chain(rest);
    let mut missing_scopes = Vec::new();
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
            Err(ApiError::MissingScope { scope, .. }) => missing_scopes.push(scope),
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
    let mut problems = Vec::new();
    if !missing_scopes.is_empty() {
        problems.push(format!(
            "the access token lacks these scopes: {}. Polar tokens cannot gain scopes: create a new Organization \
             Access Token with the read scopes of the streams to sync ({}) and update the config",
            missing_scopes.join(", "),
            crate::streams::scopes_text()
        ));
    }
    problems.extend(
        not_found
            .iter()
            .map(|name| format!("{name}: 404 Not Found")),
    );
    problems.extend(other);
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    // Incremental syncs track changes through the system events feed: without its scope they read in full.
    let feed = Listing::of(&SYSTEM_EVENTS).filtered(vec![("source", "system".to_owned())]);
    Ok(match client.fetch_page(&feed, 1, 1, None, events).await {
        Ok(_) => None,
        Err(ApiError::MissingScope { .. }) => Some(format!(
            "The access token can read every stream, but lacks the '{}' scope, so {} cannot track their changes: \
             incremental syncs of these streams read them in full every time. To sync only what changed, create \
             a token that also has '{}' and update the config.",
            SYSTEM_EVENTS.scope,
            crate::streams::incremental_names(),
            SYSTEM_EVENTS.scope
        )),
        Err(error) => Some(format!(
            "The access token can read every stream, but Polar's change log could not be read ({error}): \
             incremental syncs may read streams in full."
        )),
    })
}

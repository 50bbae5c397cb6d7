//! `GET /v1/events/stream`: Server-Sent Events of committed entries.
//!
//! Each message's `id` is the entry's seq and its `data` the entry's whole stored line (hash,
//! prev, signatures), so a receiver can check the chain. `?from=SEQ` starts at a seq;
//! `Last-Event-ID: SEQ` resumes after it (and wins over `from`), with no gap and no duplicate.
//! `?kind=` and `?type=` (comma-separated) filter by stream kind and event type. Entries come
//! from a [`Follower`] of [`Line`]s (each encoded once for all subscribers), so they are sent
//! only once durable, and a slow client costs one page of memory, never an unbounded buffer.

use crate::auth::{Access, Caller};
use crate::error::{ApiError, Result};
use crate::extract::{Query, Uint};
use crate::follow::{Follower, Line};
use crate::metrics::SubscriberGuard;
use crate::AppState;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse as _, Response};
use custodia_ledger::ledger::LedgerError;
use futures_util::stream;
use serde::Deserialize;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

/// Names given in one filter at most.
const FILTER_NAMES_MAX: usize = 64;

/// `GET /v1/events/stream` query.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StreamQuery {
    /// The first seq to send (default 0); `Last-Event-ID` wins over it.
    from: Option<Uint>,
    /// Only entries of these stream kinds (comma-separated, at most 64).
    kind: Option<String>,
    /// Only entries of these event types (comma-separated, at most 64).
    #[serde(rename = "type")]
    event_type: Option<String>,
}

/// Which entries a subscriber wants.
#[derive(Debug, Default)]
struct Filter {
    kinds: Vec<String>,
    types: Vec<String>,
}

impl Filter {
    fn new(q: &StreamQuery) -> Result<Self> {
        let names = |text: &Option<String>, what: &str| -> Result<Vec<String>> {
            let names: Vec<String> = text
                .iter()
                .flat_map(|t| t.split(','))
                .filter(|n| !n.is_empty())
                .map(str::to_owned)
                .collect();
            if names.len() > FILTER_NAMES_MAX {
                return Err(ApiError::BadRequest(format!(
                    "{what}: at most {FILTER_NAMES_MAX} names"
                )));
            }
            Ok(names)
        };
        Ok(Self {
            kinds: names(&q.kind, "kind")?,
            types: names(&q.event_type, "type")?,
        })
    }

    fn admits(&self, line: &Line) -> bool {
        let kind = line.kind();
        let event_type = line.event_type.as_str();
        (self.kinds.is_empty() || self.kinds.iter().any(|k| k == kind))
            && (self.types.is_empty() || self.types.iter().any(|t| t == event_type))
    }
}

/// Where to start: after `Last-Event-ID`, else at `from`, else at 0.
fn start(headers: &HeaderMap, from: Option<Uint>) -> Result<u64> {
    match headers.get("last-event-id") {
        Some(value) => {
            let bad = |e: String| ApiError::BadRequest(format!("Last-Event-ID must be a seq: {e}"));
            let text = value.to_str().map_err(|_| bad("not ASCII".into()))?;
            let Uint(seq) = Uint::parse(text).map_err(bad)?;
            seq.checked_add(1)
                .ok_or_else(|| bad(format!("{seq} is the last seq there can be")))
        }
        None => Ok(from.map_or(0, |f| f.0)),
    }
}

/// Bytes of messages gathered into one chunk at most: a subscriber costs one write per
/// wake-up, not one per entry, and no more than this much memory beyond the socket's buffer.
const CHUNK_BYTES_MAX: usize = 128 * 1024;
/// Entries looked at for one chunk at most, so that a filter that admits few of them cannot
/// hold a worker thread through a long catch-up.
const CHUNK_ENTRIES_MAX: usize = 4096;
/// A comment is sent after this long without a message, so that proxies keep the connection.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// One subscriber's cursor, filter, and place in the gauge.
struct Subscription {
    follower: Follower<Line>,
    filter: Filter,
    _guard: SubscriberGuard,
}

impl Subscription {
    /// The next chunk of the body: waits for an admitted entry, then adds every further one
    /// already at hand (bounded), so that a burst of entries goes out in one write. `None`
    /// ends the stream (the writer stopped, or the store failed: the client resumes with
    /// Last-Event-ID and misses nothing).
    async fn chunk(&mut self) -> Option<Bytes> {
        let mut out = Vec::new();
        let mut seen = 0;
        while out.is_empty() {
            if let Some(line) = self.follower.next_ready() {
                seen += 1;
                if self.filter.admits(&line) {
                    message(&mut out, &line);
                }
                if seen >= CHUNK_ENTRIES_MAX {
                    // Nothing admitted in a long run: let other tasks in before going on.
                    tokio::task::yield_now().await;
                    seen = 0;
                }
                continue;
            }
            match tokio::time::timeout(KEEP_ALIVE, self.admitted()).await {
                Err(_) => return Some(Bytes::from_static(b":\n\n")),
                Ok(Ok(Some(line))) => message(&mut out, &line),
                Ok(Ok(None)) => return None,
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "subscription stopped reading the ledger");
                    return None;
                }
            }
        }
        seen = 0;
        while out.len() < CHUNK_BYTES_MAX && seen < CHUNK_ENTRIES_MAX {
            let Some(line) = self.follower.next_ready() else {
                break;
            };
            seen += 1;
            if self.filter.admits(&line) {
                message(&mut out, &line);
            }
        }
        Some(Bytes::from(out))
    }

    /// Waits for the next entry the filter admits; cancel-safe (the follower's position moves
    /// only past entries it returned).
    async fn admitted(&mut self) -> std::result::Result<Option<Arc<Line>>, LedgerError> {
        loop {
            match self.follower.next().await? {
                Some(line) if self.filter.admits(&line) => return Ok(Some(line)),
                Some(_) => {}
                None => return Ok(None),
            }
        }
    }
}

/// Appends one `text/event-stream` message: `id` the seq, `event: entry`, `data` the line.
fn message(out: &mut Vec<u8>, line: &Line) {
    use std::io::Write as _;
    // Writing to a Vec cannot fail.
    let _ = write!(out, "id: {}\nevent: entry\n", line.seq);
    let text = &*line.line;
    if text.contains(['\n', '\r']) {
        // A stored line is canonical JSON and has no raw line break; were there one, each
        // part would still be a data line of the same message.
        for part in text.split(['\n', '\r']) {
            out.extend_from_slice(b"data: ");
            out.extend_from_slice(part.as_bytes());
            out.push(b'\n');
        }
    } else {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(text.as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
}

pub(crate) async fn stream(
    caller: Caller,
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<StreamQuery>,
) -> Result<Response> {
    caller.require(Access::Subscribe)?;
    let filter = Filter::new(&q)?;
    let from = start(&headers, q.from)?;
    tracing::info!(from, principal = %caller.principal, "subscriber connected");
    let subscription = Subscription {
        follower: Follower::with(state.ledger.clone(), state.lines.subscribe(), from),
        filter,
        _guard: state.metrics.subscriber(),
    };
    let chunks = stream::unfold(subscription, |mut sub| async move {
        let chunk = sub.chunk().await?;
        Some((Ok::<_, Infallible>(chunk), sub))
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(chunks),
    )
        .into_response())
}

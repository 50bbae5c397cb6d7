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
use crate::extract::Query;
use crate::follow::{Follower, Line};
use crate::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use serde::Deserialize;
use std::convert::Infallible;
use std::time::Duration;

/// Names given in one filter at most.
const FILTER_NAMES_MAX: usize = 64;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StreamQuery {
    from: Option<u64>,
    kind: Option<String>,
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
fn start(headers: &HeaderMap, from: Option<u64>) -> Result<u64> {
    match headers.get("last-event-id") {
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .and_then(|seq| seq.checked_add(1))
            .ok_or_else(|| ApiError::BadRequest("Last-Event-ID must be a seq".into())),
        None => Ok(from.unwrap_or(0)),
    }
}

pub(crate) async fn stream(
    caller: Caller,
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<StreamQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    caller.require(Access::Subscribe)?;
    let filter = Filter::new(&q)?;
    let from = start(&headers, q.from)?;
    tracing::info!(from, principal = %caller.principal, "subscriber connected");
    let guard = state.metrics.subscriber();
    let follower = Follower::with(state.ledger.clone(), state.lines.subscribe(), from);
    let events = stream::unfold(
        (follower, filter, guard),
        |(mut follower, filter, guard)| async move {
            loop {
                match follower.next().await {
                    Ok(Some(line)) if filter.admits(&line) => {
                        let event = Event::default()
                            .id(line.seq.to_string())
                            .event("entry")
                            .data(&*line.line);
                        return Some((Ok(event), (follower, filter, guard)));
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => return None,
                    Err(e) => {
                        // The client reconnects with Last-Event-ID and misses nothing.
                        tracing::error!(error = %e, "subscription stopped reading the ledger");
                        return None;
                    }
                }
            }
        },
    );
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

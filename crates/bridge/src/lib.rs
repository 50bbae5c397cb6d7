//! # custodia-bridge: committed entries to a message broker
//!
//! The NATS JetStream bridge: every committed entry, published once, in seq order, to a
//! subject per stream kind; resumes after a restart without a gap or a duplicate. It reads a
//! ledger's [`Store`] and needs no key. It is **not** part of the HTTP API (which depends on no
//! broker client), and it decides nothing about entries: it publishes the stored lines as they
//! are. `custodia bridge nats` runs it.
//!
//! ## Main types
//!
//! * [`BridgeConfig`] — the server, subjects, stream and limits; [`BridgeConfig::check`] refuses
//!   unusable settings before anything is contacted.
//! * [`Bridge`] — connected to a server over a store: [`Bridge::position`] reads where the
//!   stream ends, [`Bridge::run`] publishes from there until told to stop.
//! * [`BridgeError`] — why it could not start or stopped.
//!
//! ```
//! use custodia_bridge::{BridgeConfig, BridgeError};
//!
//! let mut config = BridgeConfig::new("nats://bridge:secret@127.0.0.1:4222");
//! assert!(config.check().is_ok());
//! config.prefix = "custodia.*".into(); // subjects are <prefix>.<kind>: no wildcards
//! assert!(matches!(config.check(), Err(BridgeError::Config { setting: "--prefix", .. })));
//! assert_eq!(custodia_bridge::redact(&config.url), "nats://***@127.0.0.1:4222");
//! ```
//!
//! ## What is published
//!
//! One message per entry, in seq order:
//!
//! * **subject** `<prefix>.<kind>`, where `kind` is the part of the entry's stream before the
//!   `/` (`risk/R-1` → `custodia.risk`; the genesis and key entries, streams `ledger/…`, go to
//!   `custodia.ledger`). The default prefix is [`DEFAULT_PREFIX`].
//! * **payload** the entry's stored line, byte for byte what `GET /v1/entries` and the event
//!   stream carry: a receiver can check each line's hash and its `prev` link to the one before.
//! * **headers** `Nats-Msg-Id` = the entry hash (hex), so the server drops a republished entry
//!   within the stream's duplicate window; [`HEADER_SEQ`] (`Custodia-Seq`), [`HEADER_STREAM`]
//!   (`Custodia-Stream`) and [`HEADER_TYPE`] (`Custodia-Type`) for routing without parsing; and
//!   `Nats-Expected-Last-Sequence`, the JetStream sequence of the entry before (see below).
//!
//! The JetStream stream (default name [`DEFAULT_STREAM`], subjects `<prefix>.>`, file storage,
//! the configured duplicate window) is created when missing. An existing stream whose subjects
//! do not cover `<prefix>.>` is refused rather than changed.
//!
//! ## Where it resumes
//!
//! The stream itself is the record of what was published: the bridge keeps no other state.
//! At start (and after any NATS failure) it reads the stream's last message, takes its
//! `Custodia-Seq` header as the last entry published, checks that its `Nats-Msg-Id` is this
//! ledger's hash at that seq (a stream fed by another ledger is refused), and continues at the
//! next seq. An empty stream starts at seq 0.
//!
//! Publishing is pipelined, at most [`BridgeConfig::in_flight`] unacknowledged at once, and the
//! position advances only on acknowledgements, in seq order. Each message also carries
//! `Nats-Expected-Last-Sequence`: the server stores an entry only right after the one before
//! it, so the stream never has a hole, even when one publish of a pipelined run fails and later
//! ones arrive. A crash at any point leaves the stream holding a prefix of the ledger, and the
//! restart continues after that prefix: nothing is lost and nothing is published twice.
//!
//! Duplicates: within the stream's duplicate window (default two minutes) a republished entry
//! is acknowledged as a duplicate by its `Nats-Msg-Id` and not stored again. Beyond the window,
//! a republish of an old entry is refused by its stale `Nats-Expected-Last-Sequence` and still
//! not stored; the bridge then reads its position from the stream again. Consumers therefore
//! see each entry once, unless something other than the bridge deletes messages from the end
//! of the stream.
//!
//! ## Following the ledger
//!
//! The bridge reads the store a page at a time ([`PAGE_ROWS`]); at the end it waits for the
//! store to announce a new head (PostgreSQL's notifications), or [`BridgeConfig::poll_interval`]
//! at most, and reads again ([`Bridge::wait_for_more`] is the one place
//! that decides how to wait). It reads the store only and needs no key. A NATS failure (server
//! gone, timeout, another publisher) is logged and retried with a growing pause, from the
//! position read back from the stream; a mismatch of stream or ledger, or a store failure,
//! stops the bridge with an error.
//!
//! ## Known limits
//!
//! * Nothing else may publish to `<prefix>.>`: a foreign message at the end of the stream stops
//!   the bridge (its last message has no `Custodia-Seq`).
//! * A stream that was purged (empty, but it held messages) cannot tell where to resume; the
//!   bridge refuses it rather than republish the whole ledger. Delete the stream to start over.
//! * An existing stream's duplicate window, storage and limits are left as they are.

#![warn(missing_docs)]

use async_nats::jetstream::{self, context::PublishErrorKind, stream};
use async_nats::HeaderMap;
use custodia_ledger::entry::{check_stream, ChainHash};
use custodia_ledger::store::{Row, Store, StoreError};
use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Subjects are `<prefix>.<kind>` unless configured otherwise.
pub const DEFAULT_PREFIX: &str = "custodia";
/// The JetStream stream's name unless configured otherwise.
pub const DEFAULT_STREAM: &str = "CUSTODIA";
/// The duplicate window of a stream the bridge creates, unless configured otherwise.
pub const DEFAULT_DUPLICATE_WINDOW: Duration = Duration::from_secs(120);
/// Unacknowledged publishes at most, unless configured otherwise.
pub const DEFAULT_IN_FLIGHT: usize = 256;
/// How long the bridge waits at the end of the ledger before reading again.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(200);
/// Rows read from the store per page (at most 64 KiB each: bounds the bridge's memory).
pub const PAGE_ROWS: u32 = 512;
/// Header: the entry's seq, decimal.
pub const HEADER_SEQ: &str = "Custodia-Seq";
/// Header: the entry's stream, `<kind>/<id>`.
pub const HEADER_STREAM: &str = "Custodia-Stream";
/// Header: the entry's event type.
pub const HEADER_TYPE: &str = "Custodia-Type";
/// Header: the entry hash, hex (JetStream's deduplication id).
pub const HEADER_MSG_ID: &str = "Nats-Msg-Id";
/// The longest pause between retries after a NATS failure.
const RETRY_PAUSE_MAX: Duration = Duration::from_secs(5);
/// Progress is logged at most this often while catching up.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// Why the bridge could not start or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BridgeError {
    /// A setting is not usable; nothing was contacted.
    #[error("bridge setting {setting}: {reason}")]
    Config {
        /// The setting (as the command line names it).
        setting: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The NATS server could not be reached.
    #[error("cannot reach NATS at {url}: {reason} (is nats-server running there?)")]
    Unreachable {
        /// The server URL, without credentials.
        url: String,
        /// The client's error.
        reason: String,
    },
    /// The JetStream stream exists with subjects that do not take the bridge's messages.
    #[error(
        "JetStream stream {stream} exists with subjects {subjects:?}, which do not cover \
         {wanted}: choose another --stream or --prefix, or delete the stream"
    )]
    StreamMismatch {
        /// The stream's name.
        stream: String,
        /// Its subjects.
        subjects: Vec<String>,
        /// The subjects the bridge publishes to.
        wanted: String,
    },
    /// The stream's content does not continue this ledger (another ledger, another publisher,
    /// or a purge); nothing was published.
    #[error("JetStream stream {stream} cannot be resumed for this ledger: {reason}")]
    Foreign {
        /// The stream's name.
        stream: String,
        /// What does not match.
        reason: String,
    },
    /// A JetStream request failed (retried by [`Bridge::run`]).
    #[error("NATS, {doing}: {reason}")]
    Nats {
        /// What the bridge was doing.
        doing: String,
        /// The client's or server's error.
        reason: String,
    },
    /// Publishing an entry failed (retried by [`Bridge::run`] from the stream's position).
    #[error("publishing seq {seq}: {reason}")]
    Publish {
        /// The entry's seq.
        seq: u64,
        /// Whether the server refused it because the stream's last message was not the
        /// entry before: a republish, or another publisher.
        out_of_order: bool,
        /// The client's or server's error.
        reason: String,
    },
    /// Reading the ledger failed.
    #[error("reading the ledger: {0}")]
    Store(#[from] StoreError),
}

impl BridgeError {
    /// Whether [`Bridge::run`] retries after it (a NATS failure) rather than stopping.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Nats { .. } | Self::Publish { .. })
    }
}

/// Result of bridge calls.
pub type Result<T, E = BridgeError> = std::result::Result<T, E>;

/// Where to connect and how to publish.
#[derive(Debug, Clone)]
pub struct BridgeConfig {
    /// The NATS server, e.g. `nats://127.0.0.1:4222`.
    pub url: String,
    /// Subjects are `<prefix>.<kind>`: one or more tokens of `[A-Za-z0-9_-]`, dot-separated.
    pub prefix: String,
    /// The JetStream stream's name (`[A-Za-z0-9_-]`).
    pub stream: String,
    /// The duplicate window of a stream the bridge creates.
    pub duplicate_window: Duration,
    /// Unacknowledged publishes at most (1 to 65,536).
    pub in_flight: usize,
    /// The wait at the end of the ledger before reading again.
    pub poll_interval: Duration,
    /// How long a JetStream request or a publish acknowledgement may take.
    pub timeout: Duration,
}

impl BridgeConfig {
    /// The defaults, for the server at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: DEFAULT_PREFIX.into(),
            stream: DEFAULT_STREAM.into(),
            duplicate_window: DEFAULT_DUPLICATE_WINDOW,
            in_flight: DEFAULT_IN_FLIGHT,
            poll_interval: DEFAULT_POLL_INTERVAL,
            timeout: Duration::from_secs(5),
        }
    }

    /// The subject of entries of this stream kind.
    pub fn subject(&self, kind: &str) -> String {
        format!("{}.{kind}", self.prefix)
    }

    /// The subjects the stream must take: `<prefix>.>`.
    pub fn subjects(&self) -> String {
        format!("{}.>", self.prefix)
    }

    /// Checks every setting before anything is contacted.
    pub fn check(&self) -> Result<()> {
        let bad = |setting, reason: String| Err(BridgeError::Config { setting, reason });
        let token = |t: &str| {
            !t.is_empty()
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
        };
        if self.url.trim().is_empty() {
            return bad("--url", "is empty; give e.g. nats://127.0.0.1:4222".into());
        }
        if self.prefix.len() > 200 || !self.prefix.split('.').all(token) {
            return bad(
                "--prefix",
                format!(
                    "{:?} is not dot-separated tokens of letters, digits, '_' and '-' \
                     (no wildcards, at most 200 characters)",
                    self.prefix
                ),
            );
        }
        if self.stream.len() > 200 || !token(&self.stream) {
            return bad(
                "--stream",
                format!(
                    "{:?} is not a JetStream stream name: letters, digits, '_' and '-' \
                     (at most 200 characters)",
                    self.stream
                ),
            );
        }
        if !(1..=65_536).contains(&self.in_flight) {
            return bad(
                "--in-flight",
                format!("{} is not between 1 and 65536", self.in_flight),
            );
        }
        if self.duplicate_window < Duration::from_millis(100) {
            return bad(
                "--duplicate-window",
                "must be at least 100 ms: it is what makes a republish harmless".into(),
            );
        }
        if self.poll_interval.is_zero() || self.timeout.is_zero() {
            return bad("--poll-ms", "intervals must be positive".into());
        }
        Ok(())
    }
}

/// The URL as it may appear in a log or an error: without user or password.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}***{}", &url[..scheme + 3], &url[at..])
        }
        (None, Some(at)) => format!("***{}", &url[at..]),
        _ => url.to_owned(),
    }
}

/// Whether the subject filter `pattern` takes every subject `wanted` (`<prefix>.>`) does.
fn covers(pattern: &str, wanted: &str) -> bool {
    let mut p = pattern.split('.');
    let mut w = wanted.split('.');
    loop {
        match (p.next(), w.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(t)) if t != ">" => {}
            (Some(a), Some(b)) if a == b => {
                if a == ">" {
                    return true;
                }
            }
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// How far the stream holds the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// The next entry to publish (entries `0..next` are in the stream).
    pub next: u64,
    /// The stream's sequence of its last message (entry `next - 1`); 0 when empty.
    pub stream_last: u64,
}

/// What one [`Bridge::publish_page`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    /// Where the stream stands now.
    pub position: Position,
    /// Entries acknowledged (stored or found already stored).
    pub entries: u64,
    /// Of those, how many the server reported as duplicates (already stored).
    pub duplicates: u64,
}

/// A connection to NATS JetStream and the store whose entries it publishes.
pub struct Bridge {
    store: Arc<dyn Store>,
    js: jetstream::Context,
    config: BridgeConfig,
    /// Heads committed by any writer, where the store can tell (PostgreSQL); else polling.
    heads: tokio::sync::Mutex<Option<tokio::sync::watch::Receiver<u64>>>,
}

impl std::fmt::Debug for Bridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bridge")
            .field("url", &redact(&self.config.url))
            .field("stream", &self.config.stream)
            .field("prefix", &self.config.prefix)
            .finish_non_exhaustive()
    }
}

impl Bridge {
    /// Checks `config` and connects to its server; contacts JetStream only later.
    pub async fn connect(store: Arc<dyn Store>, config: BridgeConfig) -> Result<Self> {
        config.check()?;
        let client = async_nats::ConnectOptions::new()
            .name("custodia-bridge")
            .connection_timeout(config.timeout)
            .connect(config.url.as_str())
            .await
            .map_err(|e| BridgeError::Unreachable {
                url: redact(&config.url),
                reason: e.to_string(),
            })?;
        let js = jetstream::context::ContextBuilder::new()
            .timeout(config.timeout)
            .max_ack_inflight(config.in_flight)
            .backpressure_on_inflight(true)
            .build(client);
        let heads = match store.watch_heads().await {
            Ok(heads) => heads,
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch the ledger's head; polling instead");
                None
            }
        };
        Ok(Self {
            store,
            js,
            config,
            heads: tokio::sync::Mutex::new(heads),
        })
    }

    /// The settings.
    pub fn config(&self) -> &BridgeConfig {
        &self.config
    }

    /// The JetStream context (for inspecting the stream).
    pub fn jetstream(&self) -> &jetstream::Context {
        &self.js
    }

    /// Finds the stream, creating it when missing; refuses one whose subjects differ.
    async fn stream(&self) -> Result<stream::Stream> {
        let name = &self.config.stream;
        let wanted = self.config.subjects();
        match self.js.get_stream(name).await {
            Ok(mut found) => {
                let info = found
                    .info()
                    .await
                    .map_err(|e| nats(format!("reading stream {name}"), e))?;
                if !info.config.subjects.iter().any(|s| covers(s, &wanted)) {
                    return Err(BridgeError::StreamMismatch {
                        stream: name.clone(),
                        subjects: info.config.subjects.clone(),
                        wanted,
                    });
                }
                Ok(found)
            }
            Err(e) if is_not_found(&e) => {
                tracing::info!(stream = %name, subjects = %wanted, "creating the JetStream stream");
                let config = stream::Config {
                    name: name.clone(),
                    subjects: vec![wanted],
                    description: Some("custodia ledger entries, one message per entry".into()),
                    storage: stream::StorageType::File,
                    duplicate_window: self.config.duplicate_window,
                    ..Default::default()
                };
                self.js
                    .create_stream(config)
                    .await
                    .map_err(|e| nats(format!("creating stream {name}"), e))
            }
            Err(e) => Err(nats(format!("looking up stream {name}"), e)),
        }
    }

    /// Where to continue: after the entry in the stream's last message, once it is checked to
    /// be this ledger's. Creates the stream when missing.
    pub async fn position(&self) -> Result<Position> {
        let mut stream = self.stream().await?;
        let name = self.config.stream.clone();
        let foreign = |reason: String| BridgeError::Foreign {
            stream: name.clone(),
            reason,
        };
        let state = stream
            .info()
            .await
            .map_err(|e| nats(format!("reading stream {name}"), e))?
            .state
            .clone();
        if state.last_sequence == 0 {
            return Ok(Position {
                next: 0,
                stream_last: 0,
            });
        }
        if state.messages == 0 {
            return Err(foreign(format!(
                "it is empty but held messages up to sequence {} (purged or expired), so the \
                 last entry published is unknown; delete the stream to publish from seq 0",
                state.last_sequence
            )));
        }
        let last = stream
            .get_raw_message(state.last_sequence)
            .await
            .map_err(|e| {
                nats(
                    format!("reading message {} of stream {name}", state.last_sequence),
                    e,
                )
            })?;
        // By name as parsed: the client tells NATS's own headers from others by their name.
        let header = |key: &str| {
            let name = key.parse::<async_nats::HeaderName>().ok()?;
            last.headers.get(name).map(|v| v.as_str().to_owned())
        };
        let Some(seq) = header(HEADER_SEQ).and_then(|s| s.parse::<u64>().ok()) else {
            return Err(foreign(format!(
                "its last message (sequence {}, subject {}) has no {HEADER_SEQ} header: \
                 something other than the bridge publishes to {}",
                last.sequence,
                last.subject,
                self.config.subjects()
            )));
        };
        let hash = header(HEADER_MSG_ID).and_then(|h| ChainHash::from_hex(&h));
        let row = self.store.read(seq, 1).await?.into_iter().next();
        match (row, hash) {
            (Some(row), Some(hash)) if row.seq == seq && row.hash == hash => Ok(Position {
                next: seq + 1,
                stream_last: last.sequence,
            }),
            (Some(row), _) if row.seq == seq => Err(foreign(format!(
                "its last message is entry {seq} with {HEADER_MSG_ID} {:?}, but this ledger's \
                 entry {seq} has hash {}: it carries another ledger",
                header(HEADER_MSG_ID).unwrap_or_default(),
                row.hash.to_hex()
            ))),
            _ => Err(foreign(format!(
                "its last message is entry {seq}, which this ledger does not have: it carries \
                 another ledger, or this ledger was restored from an older backup"
            ))),
        }
    }

    /// Publishes the entries from `at.next` on, up to one page, pipelined, and waits for every
    /// acknowledgement; returns where the stream stands after them. An empty page (the ledger
    /// ends at `at.next`) publishes nothing.
    pub async fn publish_page(&self, at: Position, limit: u32) -> Result<Published> {
        let rows = self.store.read(at.next, limit).await?;
        let mut pending = VecDeque::with_capacity(self.config.in_flight);
        let mut done = Published {
            position: at,
            entries: 0,
            duplicates: 0,
        };
        for (i, row) in (0u64..).zip(rows) {
            if row.seq != at.next + i {
                return Err(StoreError::Damaged(format!(
                    "seq {}: the store returned seq {} instead",
                    at.next + i,
                    row.seq
                ))
                .into());
            }
            if pending.len() == self.config.in_flight {
                if let Some(ack) = pending.pop_front() {
                    self.acknowledged(ack, &mut done).await?;
                }
            }
            let seq = row.seq;
            let ack = self.send(row, at.stream_last + i).await?;
            pending.push_back((seq, ack));
        }
        while let Some(ack) = pending.pop_front() {
            self.acknowledged(ack, &mut done).await?;
        }
        Ok(done)
    }

    /// Sends one entry, to be stored right after stream sequence `after`.
    async fn send(&self, row: Row, after: u64) -> Result<jetstream::context::PublishAckFuture> {
        // Columns are re-checked, not trusted: the kind becomes a subject token.
        check_stream(&row.stream).map_err(|e| {
            StoreError::Damaged(format!("seq {}: stored stream column: {e}", row.seq))
        })?;
        let kind = row.stream.split('/').next().unwrap_or_default();
        let mut headers = HeaderMap::new();
        headers.insert(
            async_nats::header::NATS_MESSAGE_ID,
            row.hash.to_hex().as_str(),
        );
        headers.insert(HEADER_SEQ, row.seq.to_string().as_str());
        headers.insert(HEADER_STREAM, row.stream.as_str());
        headers.insert(HEADER_TYPE, row.event_type.as_str());
        headers.insert(
            async_nats::header::NATS_EXPECTED_LAST_SEQUENCE,
            after.to_string().as_str(),
        );
        self.js
            .publish_with_headers(
                self.config.subject(kind),
                headers,
                row.line.into_bytes().into(),
            )
            .await
            .map_err(|e| BridgeError::Publish {
                seq: row.seq,
                out_of_order: false,
                reason: hint(&e.to_string()),
            })
    }

    /// Waits for one acknowledgement and advances `done` past its entry.
    async fn acknowledged(
        &self,
        (seq, ack): (u64, jetstream::context::PublishAckFuture),
        done: &mut Published,
    ) -> Result<()> {
        let ack = ack.await.map_err(|e| {
            let out_of_order = e.kind() == PublishErrorKind::WrongLastSequence;
            BridgeError::Publish {
                seq,
                out_of_order,
                reason: if out_of_order {
                    format!(
                        "the stream's last message is not the entry before it (a republish of \
                         an old entry, or another publisher on {}): {e}",
                        self.config.subjects()
                    )
                } else {
                    hint(&e.to_string())
                },
            }
        })?;
        if ack.stream != self.config.stream {
            return Err(BridgeError::Foreign {
                stream: self.config.stream.clone(),
                reason: format!("entry {seq} was stored by stream {} instead", ack.stream),
            });
        }
        done.position = Position {
            next: seq + 1,
            stream_last: ack.sequence,
        };
        done.entries += 1;
        if ack.duplicate {
            done.duplicates += 1;
            tracing::debug!(seq, "already in the stream (duplicate)");
        }
        Ok(())
    }

    /// Waits before reading the ledger again at its end: until the store announces a new head
    /// (PostgreSQL), or [`BridgeConfig::poll_interval`] at most.
    pub async fn wait_for_more(&self) {
        let mut heads = self.heads.lock().await;
        match heads.as_mut() {
            Some(rx) => {
                if let Ok(Err(_)) =
                    tokio::time::timeout(self.config.poll_interval, rx.changed()).await
                {
                    // The watch ended: poll from now on.
                    *heads = None;
                }
            }
            None => tokio::time::sleep(self.config.poll_interval).await,
        }
    }

    /// Publishes from `start` on, following the ledger, until `shutdown` completes; returns
    /// the last position acknowledged. NATS failures are retried (the position is then read
    /// back from the stream); other errors stop it.
    ///
    /// Stopping never needs a drain: entries sent but not yet acknowledged are either in the
    /// stream or not, and the next start reads which from the stream.
    pub async fn run(
        &self,
        start: Position,
        shutdown: impl Future<Output = ()>,
    ) -> Result<Position> {
        tokio::pin!(shutdown);
        let mut at = Some(start);
        let mut known = start;
        let mut failures = 0u32;
        let mut logged = Instant::now();
        loop {
            let step = async {
                let from = match at {
                    Some(p) => p,
                    None => {
                        let p = self.position().await?;
                        tracing::info!(seq = p.next, stream_seq = p.stream_last, "resuming");
                        p
                    }
                };
                self.publish_page(from, PAGE_ROWS).await
            };
            let outcome = tokio::select! {
                () = &mut shutdown => break,
                outcome = step => outcome,
            };
            match outcome {
                Ok(page) => {
                    failures = 0;
                    at = Some(page.position);
                    known = page.position;
                    if page.entries == 0 {
                        tokio::select! {
                            () = &mut shutdown => break,
                            () = self.wait_for_more() => {}
                        }
                        continue;
                    }
                    let head = self.store.head().await?.size;
                    let lag = head.saturating_sub(page.position.next);
                    if lag == 0 || logged.elapsed() >= PROGRESS_EVERY {
                        logged = Instant::now();
                        tracing::info!(
                            published = page.position.next - 1,
                            stream_seq = page.position.stream_last,
                            lag,
                            "published"
                        );
                    }
                    if page.duplicates > 0 {
                        tracing::info!(
                            duplicates = page.duplicates,
                            "entries were already in the stream"
                        );
                    }
                }
                Err(e) if e.is_transient() => {
                    failures = failures.saturating_add(1);
                    let pause = retry_pause(failures);
                    tracing::warn!(error = %e, retry_in = ?pause, "NATS failure; will resume from the stream");
                    at = None;
                    tokio::select! {
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(pause) => {}
                    }
                }
                Err(e) => return Err(e),
            }
        }
        tracing::info!(next = known.next, "bridge stopped");
        Ok(known)
    }
}

/// 100 ms, doubling, at most [`RETRY_PAUSE_MAX`].
fn retry_pause(failures: u32) -> Duration {
    let ms = 100u64.saturating_mul(1 << failures.min(16).saturating_sub(1));
    Duration::from_millis(ms).min(RETRY_PAUSE_MAX)
}

fn is_not_found(e: &jetstream::context::GetStreamError) -> bool {
    matches!(
        e.kind(),
        jetstream::context::GetStreamErrorKind::JetStream(ref err)
            if err.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND
    )
}

fn nats(doing: String, e: impl std::fmt::Display) -> BridgeError {
    BridgeError::Nats {
        doing,
        reason: hint(&e.to_string()),
    }
}

/// The client's error, with what usually causes it when it says nobody answered.
fn hint(reason: &str) -> String {
    // A server without JetStream answers its API with "no responders" (503).
    if [
        "no responders",
        "timed out",
        "JetStream resource does not exist",
    ]
    .iter()
    .any(|cause| reason.contains(cause))
    {
        format!("{reason} (is JetStream enabled? start nats-server with -js)")
    } else {
        reason.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_cover_the_prefix() {
        assert!(covers("custodia.>", "custodia.>"));
        assert!(covers(">", "custodia.>"));
        assert!(covers("*.>", "custodia.>"));
        assert!(covers("a.>", "a.b.>"));
        assert!(!covers("custodia.*", "custodia.>"));
        assert!(!covers("custodia.risk", "custodia.>"));
        assert!(!covers("other.>", "custodia.>"));
        assert!(!covers("a.b.>", "a.>"));
    }

    #[test]
    fn settings_are_checked_before_connecting() {
        let ok = BridgeConfig::new("nats://127.0.0.1:4222");
        assert!(ok.check().is_ok());
        let setting = |c: BridgeConfig| match c.check() {
            Err(BridgeError::Config { setting, .. }) => setting,
            other => panic!("expected a config error, got {other:?}"),
        };
        for prefix in ["", "a..b", "a.*", "a.>", "a b", ".a", "a."] {
            let mut c = ok.clone();
            c.prefix = prefix.into();
            assert_eq!(setting(c), "--prefix", "{prefix:?}");
        }
        for stream in ["", "A.B", "A B", "A*", "A/B"] {
            let mut c = ok.clone();
            c.stream = stream.into();
            assert_eq!(setting(c), "--stream", "{stream:?}");
        }
        let mut c = ok.clone();
        c.in_flight = 0;
        assert_eq!(setting(c), "--in-flight");
        let mut c = ok.clone();
        c.url = " ".into();
        assert_eq!(setting(c), "--url");
        let mut c = ok;
        c.duplicate_window = Duration::ZERO;
        assert_eq!(setting(c), "--duplicate-window");
    }

    #[test]
    fn credentials_never_reach_a_message() {
        assert_eq!(redact("nats://u:secret@h:4222"), "nats://***@h:4222");
        assert_eq!(redact("u:secret@h:4222"), "***@h:4222");
        assert_eq!(redact("nats://h:4222"), "nats://h:4222");
    }

    #[test]
    fn retries_back_off_to_a_ceiling() {
        assert_eq!(retry_pause(1), Duration::from_millis(100));
        assert_eq!(retry_pause(2), Duration::from_millis(200));
        assert_eq!(retry_pause(100), RETRY_PAUSE_MAX);
    }

    #[tokio::test]
    async fn an_unreachable_server_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            custodia_ledger::store::sqlite::SqliteStore::open(&dir.path().join("l.db"), true)
                .await
                .unwrap();
        // Port 1 on loopback: nothing listens there, so the connection is refused at once.
        let config = BridgeConfig::new("nats://user:pw@127.0.0.1:1");
        let e = Bridge::connect(Arc::new(store), config).await.unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, BridgeError::Unreachable { .. }), "{text}");
        assert!(text.contains("127.0.0.1:1"), "{text}");
        assert!(!text.contains("pw"), "no password in errors: {text}");
    }
}

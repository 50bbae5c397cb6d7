//! The single writer task: takes appends from a bounded queue and group-commits them. Each batch
//! is checked (stream versions, key authority), chained, hashed, signed on every core, written
//! in one durable transaction, and only then acknowledged, each caller with its seq and hash.
//!
//! What needs no ledger state is done on the caller's task, in parallel: the attestation check
//! and the event's canonical bytes ([`PreparedEvent`]). The writer, inside the transaction, only
//! places each event, assembles the entry's bytes, hashes them along the chain and signs.

use crate::entry::{
    Attestation, ChainHash, Entry, EntryAssembler, EntryError, Event, HashedEntry, PreparedEvent,
};
use crate::keys::{KeyChange, KeyRegistry, Purpose, SecretKey, GENESIS_STREAM, KEYS_STREAM};
use crate::merkle::Frontier;
use crate::store::{
    Head, Result as StoreResult, Row, SealedBatch, Sealer, Store, StoreError, TxView,
};
use crate::time::Timestamp;
use ed25519_dalek::Signature;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, mpsc, oneshot};

/// How an append treats the event's stream version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// The event's `version` must be exactly the stream's next one (optimistic concurrency).
    Exact,
    /// Place the event at the stream's next version (server-sealed events only).
    Next,
}

/// One append.
#[derive(Debug, Clone)]
pub struct AppendRequest {
    /// The event.
    pub event: Event,
    /// The author's attestation, if the author signed the event.
    pub attestation: Option<Attestation>,
    /// Version handling.
    pub expect: Expect,
}

/// What the caller gets once the entry is durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    /// The entry's seq.
    pub seq: u64,
    /// The entry's hash.
    pub hash: ChainHash,
    /// The event's stream version.
    pub version: u64,
    /// The entry's transaction time.
    pub recorded_at: Timestamp,
}

/// Why an append was refused or failed. Nothing of a refused append is written.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum AppendError {
    /// The stream moved on: the caller must reload and decide again.
    #[error("stream {stream}: expected version {expected}, but the stream is at version {actual}")]
    Conflict {
        /// The stream.
        stream: String,
        /// The version the event claimed (its `version` − 1).
        expected: u64,
        /// The stream's current version.
        actual: u64,
    },
    /// The attestation does not verify, or its key may not attest this event.
    #[error("attestation refused: {0}")]
    Attestation(String),
    /// A key change without a valid admin attestation, or malformed.
    #[error("key change refused: {0}")]
    KeyChange(String),
    /// An attested event cannot be moved to another version; the author must sign again.
    #[error("an attested event keeps the version its author signed; use Expect::Exact")]
    AttestedNext,
    /// The node key may not seal entries (revoked or not registered for `entry`).
    #[error("the node key {0} is not active for sealing entries")]
    NodeKeyInactive(String),
    /// The event breaks a format rule.
    #[error(transparent)]
    Entry(#[from] EntryError),
    /// Storage failed; nothing was acknowledged.
    #[error("storage: {0}")]
    Store(Arc<StoreError>),
    /// The writer has stopped.
    #[error("the ledger writer has stopped")]
    Closed,
}

/// Limits of the writer.
#[derive(Debug, Clone, Copy)]
pub struct WriterConfig {
    /// Appends waiting in the queue; callers wait (back-pressure) beyond this.
    pub queue_entries_max: usize,
    /// Appends committed in one transaction at most.
    pub batch_entries_max: usize,
    /// Committed entries buffered for each live subscriber; a slower one is told it lagged.
    pub broadcast_entries_max: usize,
}

impl Default for WriterConfig {
    fn default() -> Self {
        Self {
            queue_entries_max: 8192,
            batch_entries_max: 2048,
            broadcast_entries_max: 16384,
        }
    }
}

/// An append as the writer receives it: checked and prepared on the caller's task.
struct Pending {
    event: PreparedEvent,
    attestation: Option<Attestation>,
    expect: Expect,
    reply: oneshot::Sender<Result<Receipt, AppendError>>,
}

/// A handle to the writer task; cheap to clone.
#[derive(Clone, Debug)]
pub struct Writer {
    queue: mpsc::Sender<Pending>,
    committed: broadcast::Sender<Arc<Entry>>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending").finish_non_exhaustive()
    }
}

/// What the writer task owns.
pub struct WriterState {
    /// The ledger's name.
    pub ledger: String,
    /// The key that seals entries.
    pub node_key: Arc<SecretKey>,
    /// Keys as of the head.
    pub registry: KeyRegistry,
    /// Merkle frontier as of the head.
    pub frontier: Frontier,
}

impl Writer {
    /// Starts the writer task on `store`.
    pub fn spawn(store: Arc<dyn Store>, state: WriterState, config: WriterConfig) -> Self {
        let (queue, rx) = mpsc::channel(config.queue_entries_max);
        let (committed, _) = broadcast::channel(config.broadcast_entries_max);
        let task = WriterTask {
            assembler: EntryAssembler::new(&state.ledger, state.node_key.public()),
            node_key: state.node_key,
            registry: state.registry,
            frontier: state.frontier,
            versions: VersionCache::default(),
            signers: SignPool::new(),
            batch_max: config.batch_entries_max.max(1),
        };
        tokio::spawn(run(store, task, rx, committed.clone()));
        Self { queue, committed }
    }

    /// Appends one event; returns once it is durable.
    pub async fn append(&self, request: AppendRequest) -> Result<Receipt, AppendError> {
        let event = PreparedEvent::new(request.event)?;
        precheck(&event, request.attestation.as_ref(), request.expect)?;
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            event,
            attestation: request.attestation,
            expect: request.expect,
            reply,
        };
        self.queue
            .send(pending)
            .await
            .map_err(|_| AppendError::Closed)?;
        answer.await.map_err(|_| AppendError::Closed)?
    }

    /// Entries as they are committed (after they are durable).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Entry>> {
        self.committed.subscribe()
    }
}

/// Streams' current versions as of one head, kept between batches so that a batch reads only
/// the versions of streams it has not seen. Valid only while the stored head is the one it was
/// made at: another process appending moves the head, and the cache is dropped.
#[derive(Default)]
struct VersionCache {
    head: Option<(u64, ChainHash)>,
    versions: HashMap<String, u64>,
}

/// Streams remembered at most; beyond this the cache starts over.
const CACHED_STREAMS_MAX: usize = 1 << 17;

/// The writer task's state.
struct WriterTask {
    assembler: Result<EntryAssembler, EntryError>,
    node_key: Arc<SecretKey>,
    registry: KeyRegistry,
    frontier: Frontier,
    versions: VersionCache,
    signers: SignPool,
    batch_max: usize,
}

async fn run(
    store: Arc<dyn Store>,
    mut task: WriterTask,
    mut rx: mpsc::Receiver<Pending>,
    committed: broadcast::Sender<Arc<Entry>>,
) {
    let max = task.batch_max;
    let mut batch = Vec::with_capacity(max);
    // Callers answered by the last commit, and how long it took: answered callers usually
    // append again at once, and while commits are slow it pays to wait briefly for them, so
    // that one commit serves them all instead of splitting them over two.
    let (mut answered, mut commit_time) = (0, Duration::ZERO);
    while rx.recv_many(&mut batch, max).await > 0 {
        let deadline = Instant::now() + (commit_time / 4).min(GATHER_WAIT_MAX);
        while batch.len() < answered.min(max) && Instant::now() < deadline {
            tokio::task::yield_now().await;
            while batch.len() < max {
                match rx.try_recv() {
                    Ok(p) => batch.push(p),
                    Err(_) => break,
                }
            }
        }
        let pending = std::mem::take(&mut batch);
        let started = Instant::now();
        answered = commit_batch(&*store, &mut task, &mut rx, pending, &committed).await;
        commit_time = started.elapsed();
    }
}

/// The longest a batch waits for answered callers to come back.
const GATHER_WAIT_MAX: Duration = Duration::from_millis(1);

async fn commit_batch(
    store: &dyn Store,
    task: &mut WriterTask,
    rx: &mut mpsc::Receiver<Pending>,
    pending: Vec<Pending>,
    committed: &broadcast::Sender<Arc<Entry>>,
) -> usize {
    let assembler = match &task.assembler {
        Ok(a) => a,
        Err(e) => {
            for p in pending {
                let _ = p.reply.send(Err(AppendError::Entry(e.clone())));
            }
            return 0;
        }
    };
    let mut sealer = BatchSealer {
        assembler,
        node_key: &task.node_key,
        signers: &task.signers,
        cache: &task.versions,
        cache_valid: false,
        rx,
        batch_max: task.batch_max,
        registry: task.registry.clone(),
        frontier: task.frontier.clone(),
        items: Vec::with_capacity(pending.len()),
        replies: Vec::with_capacity(pending.len()),
        placed: HashMap::new(),
        outcomes: Vec::new(),
        entries: Vec::new(),
        head: None,
    };
    for p in pending {
        sealer.take(p);
    }
    let result = store.append(&mut sealer).await;
    let answered = sealer.replies.len();
    let BatchSealer {
        registry,
        frontier,
        replies,
        outcomes,
        entries,
        placed,
        head,
        cache_valid,
        ..
    } = sealer;
    match result {
        Ok(_) => {
            task.registry = registry;
            task.frontier = frontier;
            let cache = &mut task.versions;
            if !cache_valid || cache.versions.len() + placed.len() > CACHED_STREAMS_MAX {
                cache.versions.clear();
            }
            cache.versions.extend(placed);
            cache.head = head;
            for entry in entries {
                let _ = committed.send(Arc::new(entry));
            }
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                let _ = reply.send(outcome);
            }
        }
        Err(e) => {
            task.versions = VersionCache::default();
            tracing::error!(error = %e, "append batch failed; nothing was acknowledged");
            let e = Arc::new(e);
            for reply in replies {
                let _ = reply.send(Err(AppendError::Store(e.clone())));
            }
        }
    }
    answered
}

/// Checks that need no ledger state: attestation signatures, version handling.
fn precheck(
    event: &PreparedEvent,
    attestation: Option<&Attestation>,
    expect: Expect,
) -> Result<(), AppendError> {
    let stream = event.event().stream();
    if stream == GENESIS_STREAM {
        return Err(AppendError::KeyChange(
            "ledger/genesis holds only the genesis entry".into(),
        ));
    }
    let Some(att) = attestation else {
        if stream == KEYS_STREAM {
            return Err(AppendError::KeyChange(
                "a key change must be attested by an admin key".into(),
            ));
        }
        return Ok(());
    };
    if expect == Expect::Next {
        return Err(AppendError::AttestedNext);
    }
    if !att.key.verify(&event.digest(), &att.sig) {
        return Err(AppendError::Attestation(format!(
            "signature by {} does not verify over the event",
            att.key
        )));
    }
    if stream == KEYS_STREAM {
        KeyChange::from_event(event.event()).map_err(AppendError::KeyChange)?;
    }
    Ok(())
}

/// One append inside a batch.
struct Item {
    event: PreparedEvent,
    attestation: Option<Attestation>,
    expect: Expect,
}

struct BatchSealer<'a> {
    assembler: &'a EntryAssembler,
    node_key: &'a Arc<SecretKey>,
    signers: &'a SignPool,
    cache: &'a VersionCache,
    /// Whether `cache` holds the versions as of the head read in this transaction.
    cache_valid: bool,
    rx: &'a mut mpsc::Receiver<Pending>,
    batch_max: usize,
    registry: KeyRegistry,
    frontier: Frontier,
    items: Vec<Item>,
    replies: Vec<oneshot::Sender<Result<Receipt, AppendError>>>,
    /// Versions of the batch's streams after it (read, cached, or placed by it).
    placed: HashMap<String, u64>,
    outcomes: Vec<Result<Receipt, AppendError>>,
    entries: Vec<Entry>,
    /// The head after the batch.
    head: Option<(u64, ChainHash)>,
}

impl BatchSealer<'_> {
    fn take(&mut self, p: Pending) {
        self.items.push(Item {
            event: p.event,
            attestation: p.attestation,
            expect: p.expect,
        });
        self.replies.push(p.reply);
    }

    /// Places one item at `seq`, or says why it cannot be placed.
    fn place(&mut self, item: &mut Item, seq: u64) -> Result<(), AppendError> {
        let current = (self.placed)
            .get(item.event.event().stream())
            .copied()
            .unwrap_or(0);
        match item.expect {
            Expect::Next => item.event.set_version(current + 1)?,
            Expect::Exact if item.event.event().version() == current + 1 => {}
            Expect::Exact => {
                return Err(AppendError::Conflict {
                    stream: item.event.event().stream().to_owned(),
                    expected: item.event.event().version().saturating_sub(1),
                    actual: current,
                })
            }
        }
        let event = item.event.event();
        let stream = event.stream();
        if let Some(att) = &item.attestation {
            self.check_attestation(event, att, seq)?;
        }
        let node = self.assembler.signer();
        if !self.registry.allows(&node, seq, Purpose::Entry) {
            return Err(AppendError::NodeKeyInactive(node.to_base64()));
        }
        if let Ok(Some(change)) = KeyChange::from_event(event) {
            change.apply(&mut self.registry, seq);
        }
        match self.placed.get_mut(stream) {
            Some(v) => *v = event.version(),
            None => {
                self.placed.insert(stream.to_owned(), event.version());
            }
        }
        Ok(())
    }

    fn check_attestation(
        &self,
        event: &Event,
        att: &Attestation,
        seq: u64,
    ) -> Result<(), AppendError> {
        if event.stream() == KEYS_STREAM {
            if !self.registry.allows(&att.key, seq, Purpose::Admin) {
                return Err(AppendError::KeyChange(format!(
                    "key {} is not an active admin key",
                    att.key
                )));
            }
        } else if !self.registry.may_attest(&att.key, seq, event.actor()) {
            return Err(AppendError::Attestation(format!(
                "key {} may not attest events of {}",
                att.key,
                event.actor()
            )));
        }
        Ok(())
    }
}

impl Sealer for BatchSealer<'_> {
    fn gather(&mut self, head: &Head) {
        // Callers acknowledged by the last commit usually append again at once; taking them
        // into this batch, rather than the next, lets one commit serve them all.
        while self.items.len() < self.batch_max {
            match self.rx.try_recv() {
                Ok(p) => self.take(p),
                Err(_) => break,
            }
        }
        self.cache_valid = self.cache.head == Some((head.size, head.last_hash));
    }

    fn streams(&self) -> Vec<String> {
        let mut streams: Vec<String> = self
            .items
            .iter()
            .map(|i| i.event.event().stream())
            .filter(|s| !(self.cache_valid && self.cache.versions.contains_key(*s)))
            .map(str::to_owned)
            .collect();
        streams.sort_unstable();
        streams.dedup();
        streams
    }

    fn frontier_size(&self) -> u64 {
        self.frontier.size()
    }

    fn seal(&mut self, view: TxView) -> StoreResult<SealedBatch> {
        if let Some(nodes) = view.frontier {
            let map: HashMap<_, _> = nodes.into_iter().collect();
            self.frontier = Frontier::from_nodes(view.head.size, |id| map.get(&id).copied())
                .map_err(|e| StoreError::Damaged(e.to_string()))?;
        }
        // The current version of every stream of the batch: read now, or cached at this head.
        self.placed = view.versions;
        for item in &self.items {
            let stream = item.event.event().stream();
            if !self.placed.contains_key(stream) {
                let cached = self.cache.versions.get(stream).filter(|_| self.cache_valid);
                self.placed
                    .insert(stream.to_owned(), cached.copied().unwrap_or(0));
            }
        }
        let now = Timestamp::now().max(view.head.last_recorded_at.unwrap_or(Timestamp::now()));
        let mut seq = view.head.size;
        let mut prev = view.head.last_hash;
        let mut items = std::mem::take(&mut self.items);
        let mut slots = Vec::with_capacity(items.len());
        let mut hashed: Vec<HashedEntry> = Vec::with_capacity(items.len());
        let mut preimage = Vec::with_capacity(2048);
        for item in &mut items {
            match self.place(item, seq) {
                Ok(()) => {
                    let h = self.assembler.hash(
                        seq,
                        &prev,
                        now,
                        &item.event,
                        item.attestation.as_ref(),
                        &mut preimage,
                    );
                    prev = h.hash;
                    seq += 1;
                    slots.push(Ok(hashed.len()));
                    hashed.push(h);
                }
                Err(e) => slots.push(Err(e)),
            }
        }
        let hashes: Vec<ChainHash> = hashed.iter().map(|h| h.hash).collect();
        let sigs = self.signers.sign_all(self.node_key, &hashes);
        let mut batch = SealedBatch::default();
        batch.rows.reserve(hashed.len());
        self.entries.reserve(hashed.len());
        let placed_items = items
            .into_iter()
            .zip(&slots)
            .filter(|(_, slot)| slot.is_ok())
            .map(|(item, _)| item);
        let mut entry_prev = view.head.last_hash;
        for (((item, h), sig), seq) in placed_items.zip(hashed).zip(sigs).zip(view.head.size..) {
            let hash = h.hash;
            let line = h.into_line(&sig);
            let event = item.event.into_event();
            batch.nodes.extend(self.frontier.push(hash.0));
            batch.rows.push(Row {
                seq,
                hash,
                stream: event.stream().to_owned(),
                version: event.version(),
                event_type: event.event_type().to_owned(),
                recorded_at_micros: now.micros(),
                occurred_at_micros: event.occurred_at().micros(),
                line,
            });
            self.entries.push(Entry {
                ledger: self.assembler.ledger().to_owned(),
                seq,
                prev: entry_prev,
                recorded_at: now,
                event,
                attestation: item.attestation,
                signer: self.assembler.signer(),
                hash,
                sig,
            });
            entry_prev = hash;
        }
        self.head = Some((seq, prev));
        self.outcomes = slots
            .into_iter()
            .map(|slot| {
                slot.map(|i| {
                    let e = &self.entries[i];
                    Receipt {
                        seq: e.seq,
                        hash: e.hash,
                        version: e.event.version(),
                        recorded_at: e.recorded_at,
                    }
                })
            })
            .collect();
        Ok(batch)
    }
}

/// The stored row of an entry.
pub fn row_of(entry: &Entry) -> Row {
    Row {
        seq: entry.seq,
        hash: entry.hash,
        stream: entry.event.stream().to_owned(),
        version: entry.event.version(),
        event_type: entry.event.event_type().to_owned(),
        recorded_at_micros: entry.recorded_at.micros(),
        occurred_at_micros: entry.event.occurred_at().micros(),
        line: entry.to_line(),
    }
}

/// Signing threads kept for the writer's life: signing is the costliest step of an append and
/// the only one that does not follow the chain, so a batch is split across every core.
struct SignPool {
    helpers: Vec<std::sync::mpsc::Sender<SignJob>>,
}

struct SignJob {
    key: Arc<SecretKey>,
    hashes: Vec<ChainHash>,
    done: std::sync::mpsc::Sender<Vec<Signature>>,
}

fn sign_each(key: &SecretKey, hashes: &[ChainHash]) -> Vec<Signature> {
    hashes.iter().map(|h| key.sign(&h.0)).collect()
}

impl SignPool {
    /// One helper per core beyond the caller's.
    fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let helpers = (1..cores)
            .filter_map(|i| {
                let (tx, rx) = std::sync::mpsc::channel::<SignJob>();
                std::thread::Builder::new()
                    .name(format!("custodia-sign-{i}"))
                    .spawn(move || {
                        for job in rx {
                            let _ = job.done.send(sign_each(&job.key, &job.hashes));
                        }
                    })
                    .ok()
                    .map(|_| tx)
            })
            .collect();
        Self { helpers }
    }

    /// Signs every hash, in order.
    fn sign_all(&self, key: &Arc<SecretKey>, hashes: &[ChainHash]) -> Vec<Signature> {
        const PARALLEL_FROM: usize = 8;
        if hashes.len() < PARALLEL_FROM || self.helpers.is_empty() {
            return sign_each(key, hashes);
        }
        let chunk = hashes.len().div_ceil(self.helpers.len() + 1);
        let mut parts = hashes.chunks(chunk);
        let mine = parts.next().unwrap_or_default();
        let handed: Vec<_> = self
            .helpers
            .iter()
            .zip(parts)
            .map(|(helper, part)| {
                let (done, answer) = std::sync::mpsc::channel();
                let job = SignJob {
                    key: key.clone(),
                    hashes: part.to_vec(),
                    done,
                };
                (part, helper.send(job).ok().map(|()| answer))
            })
            .collect();
        let mut sigs = sign_each(key, mine);
        for (part, answer) in handed {
            // A helper that is gone leaves its part to this thread.
            match answer.and_then(|a| a.recv().ok()) {
                Some(part_sigs) => sigs.extend(part_sigs),
                None => sigs.extend(sign_each(key, part)),
            }
        }
        sigs
    }
}

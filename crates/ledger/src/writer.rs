//! The single writer task: takes appends from a bounded queue and group-commits them. Each batch
//! is checked (stream versions, key authority), chained, hashed, signed on every core, written
//! in one durable transaction, and only then acknowledged, each caller with its seq and hash.

use crate::entry::{Attestation, ChainHash, Entry, EntryError, Event, Unsealed};
use crate::keys::{KeyChange, KeyRegistry, Purpose, SecretKey, GENESIS_STREAM, KEYS_STREAM};
use crate::merkle::Frontier;
use crate::store::{Result as StoreResult, Row, SealedBatch, Sealer, Store, StoreError, TxView};
use crate::time::Timestamp;
use std::collections::HashMap;
use std::sync::Arc;
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

struct Pending {
    request: AppendRequest,
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
        tokio::spawn(run(store, state, config, rx, committed.clone()));
        Self { queue, committed }
    }

    /// Appends one event; returns once it is durable.
    pub async fn append(&self, request: AppendRequest) -> Result<Receipt, AppendError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Pending { request, reply })
            .await
            .map_err(|_| AppendError::Closed)?;
        answer.await.map_err(|_| AppendError::Closed)?
    }

    /// Entries as they are committed (after they are durable).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Entry>> {
        self.committed.subscribe()
    }
}

async fn run(
    store: Arc<dyn Store>,
    mut state: WriterState,
    config: WriterConfig,
    mut rx: mpsc::Receiver<Pending>,
    committed: broadcast::Sender<Arc<Entry>>,
) {
    let mut batch = Vec::with_capacity(config.batch_entries_max);
    while rx.recv_many(&mut batch, config.batch_entries_max).await > 0 {
        let pending = std::mem::take(&mut batch);
        commit_batch(&*store, &mut state, pending, &committed).await;
    }
}

async fn commit_batch(
    store: &dyn Store,
    state: &mut WriterState,
    pending: Vec<Pending>,
    committed: &broadcast::Sender<Arc<Entry>>,
) {
    let mut replies = Vec::with_capacity(pending.len());
    let mut requests = Vec::with_capacity(pending.len());
    for p in pending {
        match precheck(&p.request) {
            Ok(()) => {
                requests.push(p.request);
                replies.push(p.reply);
            }
            Err(e) => {
                let _ = p.reply.send(Err(e));
            }
        }
    }
    if requests.is_empty() {
        return;
    }
    let mut sealer = BatchSealer {
        ledger: &state.ledger,
        node_key: &state.node_key,
        registry: state.registry.clone(),
        frontier: state.frontier.clone(),
        requests,
        outcomes: Vec::new(),
        entries: Vec::new(),
    };
    match store.append(&mut sealer).await {
        Ok(_) => {
            state.registry = sealer.registry;
            state.frontier = sealer.frontier;
            for entry in sealer.entries {
                let _ = committed.send(Arc::new(entry));
            }
            for (reply, outcome) in replies.into_iter().zip(sealer.outcomes) {
                let _ = reply.send(outcome);
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "append batch failed; nothing was acknowledged");
            let e = Arc::new(e);
            for reply in replies {
                let _ = reply.send(Err(AppendError::Store(e.clone())));
            }
        }
    }
}

/// Checks that need no ledger state: attestation signatures, version handling.
fn precheck(request: &AppendRequest) -> Result<(), AppendError> {
    if request.event.stream() == GENESIS_STREAM {
        return Err(AppendError::KeyChange(
            "ledger/genesis holds only the genesis entry".into(),
        ));
    }
    let Some(att) = &request.attestation else {
        if request.event.stream() == KEYS_STREAM {
            return Err(AppendError::KeyChange(
                "a key change must be attested by an admin key".into(),
            ));
        }
        return Ok(());
    };
    if request.expect == Expect::Next {
        return Err(AppendError::AttestedNext);
    }
    if !att.key.verify(&request.event.digest()?, &att.sig) {
        return Err(AppendError::Attestation(format!(
            "signature by {} does not verify over the event",
            att.key
        )));
    }
    if request.event.stream() == KEYS_STREAM {
        KeyChange::from_event(&request.event).map_err(AppendError::KeyChange)?;
    }
    Ok(())
}

struct BatchSealer<'a> {
    ledger: &'a str,
    node_key: &'a SecretKey,
    registry: KeyRegistry,
    frontier: Frontier,
    requests: Vec<AppendRequest>,
    outcomes: Vec<Result<Receipt, AppendError>>,
    entries: Vec<Entry>,
}

impl BatchSealer<'_> {
    /// Places one request at `seq`, or says why it cannot be placed.
    fn place(
        &mut self,
        request: &AppendRequest,
        seq: u64,
        versions: &mut HashMap<String, u64>,
    ) -> Result<Event, AppendError> {
        let stream = request.event.stream();
        let current = versions.get(stream).copied().unwrap_or(0);
        let event = match request.expect {
            Expect::Next => request.event.clone().at_version(current + 1)?,
            Expect::Exact if request.event.version() == current + 1 => request.event.clone(),
            Expect::Exact => {
                return Err(AppendError::Conflict {
                    stream: stream.to_owned(),
                    expected: request.event.version().saturating_sub(1),
                    actual: current,
                })
            }
        };
        if let Some(att) = &request.attestation {
            self.check_attestation(&event, att, seq)?;
        }
        if !self
            .registry
            .allows(&self.node_key.public(), seq, Purpose::Entry)
        {
            return Err(AppendError::NodeKeyInactive(
                self.node_key.public().to_base64(),
            ));
        }
        if let Ok(Some(change)) = KeyChange::from_event(&event) {
            change.apply(&mut self.registry, seq);
        }
        versions.insert(stream.to_owned(), event.version());
        Ok(event)
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
    fn streams(&self) -> Vec<String> {
        let mut streams: Vec<String> = self
            .requests
            .iter()
            .map(|r| r.event.stream().to_owned())
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
        let mut versions = view.versions;
        let now = Timestamp::now().max(view.head.last_recorded_at.unwrap_or(Timestamp::now()));
        let mut seq = view.head.size;
        let mut prev = view.head.last_hash;
        let signer = self.node_key.public();
        let mut unsealed = Vec::with_capacity(self.requests.len());
        let mut slots = Vec::with_capacity(self.requests.len());
        let requests = std::mem::take(&mut self.requests);
        for request in &requests {
            let placed = self.place(request, seq, &mut versions).and_then(|event| {
                let u = Unsealed {
                    ledger: self.ledger.to_owned(),
                    seq,
                    prev,
                    recorded_at: now,
                    event,
                    attestation: request.attestation.clone(),
                };
                let hash = u.hash_for(&signer)?;
                Ok((u, hash))
            });
            match placed {
                Ok((u, hash)) => {
                    slots.push(Ok(unsealed.len()));
                    unsealed.push((u, hash));
                    prev = hash;
                    seq += 1;
                }
                Err(e) => slots.push(Err(e)),
            }
        }
        let sigs = sign_all(self.node_key, &unsealed);
        let mut batch = SealedBatch::default();
        for ((u, hash), sig) in unsealed.into_iter().zip(sigs) {
            let entry = u.into_entry(signer, hash, sig);
            batch.nodes.extend(self.frontier.push(hash.0));
            batch.rows.push(row_of(&entry));
            self.entries.push(entry);
        }
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

/// Signs every hash, splitting large batches across the cores: signing is the costliest step
/// of an append and the only one that does not follow the chain.
fn sign_all(key: &SecretKey, items: &[(Unsealed, ChainHash)]) -> Vec<ed25519_dalek::Signature> {
    const PARALLEL_FROM: usize = 64;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if items.len() < PARALLEL_FROM || threads < 2 {
        return items.iter().map(|(_, h)| key.sign(&h.0)).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || part.iter().map(|(_, h)| key.sign(&h.0)).collect::<Vec<_>>())
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

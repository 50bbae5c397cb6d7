//! The single writer task: takes appends from a bounded queue and group-commits them. Each batch
//! is checked (stream versions, key authority), chained, hashed, signed on every core, written
//! in one durable transaction, and only then acknowledged, each caller with its seq and hash.
//!
//! What needs no ledger state is done on the caller's task, in parallel: the attestation check
//! and the event's canonical bytes ([`PreparedEvent`]). The writer only places each event,
//! assembles the entry's bytes, hashes them along the chain and signs.
//!
//! Batches are pipelined: a committer task writes one batch while the writer seals the next on
//! the head that batch will leave (the tip), so that signing overlaps the store's write and
//! sync. The store checks, under its lock, that the head is the one a batch was sealed on; when
//! it is not (a commit failed, or another process appended), the batch is sealed again there.

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
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
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
            ctx: EntryAssembler::new(&state.ledger, state.node_key.public()).map(|assembler| {
                Arc::new(SealCtx {
                    assembler,
                    node_key: state.node_key,
                    signers: SignPool::new(),
                })
            }),
            registry: state.registry,
            frontier: state.frontier,
            tip: None,
            versions: HashMap::new(),
            versions_at: None,
            settled_from: None,
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

/// What follows a head: the keys and the Merkle frontier as of it.
#[derive(Clone)]
struct Tip {
    head: Head,
    registry: KeyRegistry,
    frontier: Frontier,
}

/// Streams remembered at most; beyond this the cache starts over.
const CACHED_STREAMS_MAX: usize = 1 << 17;

/// What every sealing needs, shared by the writer and the batch it hands the store.
struct SealCtx {
    assembler: EntryAssembler,
    node_key: Arc<SecretKey>,
    signers: SignPool,
}

/// The writer task's state.
///
/// Appends are pipelined: while the store writes and syncs one batch, the writer seals the
/// next on the head that batch will leave (the tip), so that signing overlaps the disk. Inside
/// the transaction the store only checks that the head is the one expected; when it is not (a
/// commit failed, or another process appended) the batch is sealed again there, under the lock.
struct WriterTask {
    ctx: Result<Arc<SealCtx>, EntryError>,
    /// Keys as of the last commit.
    registry: KeyRegistry,
    /// Merkle frontier as of the last commit.
    frontier: Frontier,
    /// The head after everything sealed so far, committed or not; `None` when unknown.
    tip: Option<Tip>,
    /// Streams' current versions as of the head `versions_at`, kept between batches so that a
    /// batch reads only the versions of streams it has not seen.
    versions: HashMap<String, u64>,
    versions_at: Option<(u64, ChainHash)>,
    /// Every stream with an entry at or after this seq is in `versions`: the others'
    /// versions can be read from the store without its lock (see [`Store::settled_versions`]).
    settled_from: Option<u64>,
    batch_max: usize,
}

/// Batches waiting for the committer at most, beside the one it is writing: one sealed on
/// the tip while the store writes the batch before.
const COMMITS_QUEUED_MAX: usize = 1;

/// A finished commit, back from the committer.
type Finished = (Commit, StoreResult<SealedBatch>);

/// Writes each batch handed to it, in order, and hands it back: the writer meanwhile seals the
/// next, and the next is written as soon as the store is free, without waiting for the
/// writer to answer the callers of the one before.
async fn commit_each(
    store: Arc<dyn Store>,
    mut commits: mpsc::Receiver<Commit>,
    done: mpsc::UnboundedSender<Finished>,
) {
    while let Some(mut commit) = commits.recv().await {
        let result = store.append(&mut commit).await;
        if done.send((commit, result)).is_err() {
            return;
        }
    }
}

async fn run(
    store: Arc<dyn Store>,
    mut task: WriterTask,
    mut rx: mpsc::Receiver<Pending>,
    committed: broadcast::Sender<Arc<Entry>>,
) {
    let max = task.batch_max;
    let (to_commit, commits) = mpsc::channel(COMMITS_QUEUED_MAX);
    let (done_tx, mut done) = mpsc::unbounded_channel();
    tokio::spawn(commit_each(store.clone(), commits, done_tx));
    let mut queued: Vec<Pending> = Vec::with_capacity(max);
    // Batches handed to the committer and not yet back.
    let mut outstanding = 0usize;
    let mut open = true;
    // Callers the last commit answered: they usually append again at once, so the next batch
    // is sealed once they are back (or the store is free), rather than on the first of them.
    let mut answered = 0;
    loop {
        if outstanding > 0 {
            let room = max - queued.len().min(max);
            tokio::select! {
                biased;
                finished = done.recv() => {
                    let Some((commit, result)) = finished else {
                        // The committer is gone (it panicked): nothing more can be written.
                        tracing::error!("the ledger's committer stopped; appends are refused");
                        return;
                    };
                    outstanding -= 1;
                    answered = task.finish(commit, result, outstanding > 0, &committed);
                }
                n = rx.recv_many(&mut queued, room), if open && room > 0 => {
                    open = n > 0;
                }
            }
        } else if queued.is_empty() && (!open || rx.recv_many(&mut queued, max).await == 0) {
            break;
        }
        let sealing = !queued.is_empty()
            && (outstanding == 0
                || (outstanding <= COMMITS_QUEUED_MAX && queued.len() >= answered.min(max)));
        if sealing {
            task.learn_settled(&*store, &queued).await;
        }
        let seal_now = match outstanding {
            0 => !queued.is_empty(),
            // The store is busy: seal on the tip once the callers it answered last are back.
            n if n <= COMMITS_QUEUED_MAX => {
                !queued.is_empty() && queued.len() >= answered.min(max) && task.can_preseal(&queued)
            }
            _ => false,
        };
        if seal_now {
            if let Some(commit) = task.seal(std::mem::take(&mut queued)) {
                if to_commit.send(commit).await.is_err() {
                    tracing::error!("the ledger's committer stopped; appends are refused");
                    return;
                }
                outstanding += 1;
            }
        }
    }
}

impl WriterTask {
    /// Whether a batch of `pending` can be sealed before the store's lock: the tip is known
    /// and so is the version of every stream it touches.
    fn can_preseal(&self, pending: &[Pending]) -> bool {
        self.tip.as_ref().map(|t| (t.head.size, t.head.last_hash)) == self.versions_at
            && self.versions_at.is_some()
            && self.ctx.is_ok()
            && pending
                .iter()
                .all(|p| self.versions.contains_key(p.event.event().stream()))
    }

    /// Looks up, without the store's lock, the versions of streams in `pending` the cache does
    /// not know, when the store can vouch for them: their batch can then be sealed on the tip
    /// instead of under the lock, which would hold up the pipeline (every new stream is one).
    async fn learn_settled(&mut self, store: &dyn Store, pending: &[Pending]) {
        let Some(settled_from) = self.settled_from else {
            return;
        };
        let tip_head = self.tip.as_ref().map(|t| (t.head.size, t.head.last_hash));
        if tip_head.is_none() || tip_head != self.versions_at {
            return;
        }
        let mut unknown: Vec<String> = pending
            .iter()
            .map(|p| p.event.event().stream())
            .filter(|s| !self.versions.contains_key(*s))
            .map(str::to_owned)
            .collect();
        if unknown.is_empty() {
            return;
        }
        unknown.sort_unstable();
        unknown.dedup();
        match store.settled_versions(&unknown, settled_from).await {
            Ok(Some(found)) => {
                for (stream, version) in found {
                    self.versions.entry(stream).or_insert(version);
                }
            }
            Ok(None) => {}
            // Not fatal: the batch is sealed under the lock, where a real fault shows.
            Err(e) => {
                tracing::debug!(error = %e, "reading stream versions ahead of the lock failed")
            }
        }
    }

    /// Makes the commit for `pending`: sealed on the tip when it can be, otherwise left to be
    /// sealed under the store's lock.
    fn seal(&mut self, pending: Vec<Pending>) -> Option<Commit> {
        if pending.is_empty() {
            return None;
        }
        let ctx = match &self.ctx {
            Ok(ctx) => ctx.clone(),
            Err(e) => {
                for p in pending {
                    let _ = p.reply.send(Err(AppendError::Entry(e.clone())));
                }
                return None;
            }
        };
        let mut replies = Vec::with_capacity(pending.len());
        let mut items = Vec::with_capacity(pending.len());
        for p in pending {
            replies.push(p.reply);
            items.push(Ok(Item {
                event: p.event,
                attestation: p.attestation,
                expect: p.expect,
            }));
        }
        let all_known = items.iter().all(|i| {
            i.as_ref()
                .is_ok_and(|i| self.versions.contains_key(i.event.event().stream()))
        });
        let tip_head = self.tip.as_ref().map(|t| (t.head.size, t.head.last_hash));
        let plan = match &self.tip {
            Some(tip) if all_known && tip_head == self.versions_at => {
                let versions = versions_of(&items, &self.versions);
                let sealed = seal_items(&ctx, tip.clone(), versions, items);
                self.advance(&sealed);
                Plan::Ready(sealed)
            }
            _ => {
                // Sealed under the lock, on the last commit's keys and frontier (the store
                // reloads the frontier if the head moved); nothing can be sealed on the tip
                // until this batch's end is known.
                self.tip = None;
                Plan::Unsealed(Unsealed {
                    known: versions_of(&items, &self.versions),
                    known_at: self.versions_at,
                    items,
                    registry: self.registry.clone(),
                    frontier: Some(self.frontier.clone()),
                    head: None,
                })
            }
        };
        Some(Commit {
            ctx,
            replies,
            plan,
            presealed: tip_head.is_some() && all_known,
            fell_back: false,
        })
    }

    /// Moves the tip past a batch sealed on it.
    fn advance(&mut self, sealed: &Sealed) {
        self.remember(sealed);
        self.tip = Some(sealed.after.clone());
    }

    /// Counts a sealed batch's stream versions in the cache, valid at its end from now on.
    fn remember(&mut self, sealed: &Sealed) {
        if self.versions_at != Some(sealed.base)
            || self.versions.len() + sealed.placed.len() > CACHED_STREAMS_MAX
        {
            self.versions.clear();
            // What the cache holds from now on: this batch's streams and those of every batch
            // after it.
            self.settled_from = Some(sealed.base.0);
        }
        self.versions
            .extend(sealed.placed.iter().map(|(s, v)| (s.clone(), *v)));
        self.versions_at = Some((sealed.after.head.size, sealed.after.head.last_hash));
    }

    /// Answers the callers of a finished commit and moves the state on; returns how many
    /// callers were answered.
    fn finish(
        &mut self,
        commit: Commit,
        result: StoreResult<SealedBatch>,
        sealed_on_tip_waits: bool,
        committed: &broadcast::Sender<Arc<Entry>>,
    ) -> usize {
        let Commit {
            replies,
            plan,
            presealed,
            fell_back,
            ..
        } = commit;
        let answered = replies.len();
        let sealed = match (result, plan) {
            (Ok(_), Plan::Ready(sealed)) => sealed,
            (Ok(_), Plan::Unsealed(_)) => {
                // The store sealed nothing (it refused before sealing).
                let e = Arc::new(StoreError::Refused("the batch was not sealed".into()));
                self.forget();
                for reply in replies {
                    let _ = reply.send(Err(AppendError::Store(e.clone())));
                }
                return answered;
            }
            (Err(e), plan) => {
                self.forget();
                tracing::error!(error = %e, "append batch failed; nothing was acknowledged");
                let e = Arc::new(e);
                // Items refused before the store failed keep their own reason.
                let mut reasons = match plan {
                    Plan::Ready(sealed) => sealed.refusals(),
                    Plan::Unsealed(u) => u.refusals(),
                };
                for (reply, reason) in replies.into_iter().zip(reasons.iter_mut()) {
                    let outcome = reason.take().unwrap_or(AppendError::Store(e.clone()));
                    let _ = reply.send(Err(outcome));
                }
                return answered;
            }
        };
        self.registry = sealed.after.registry.clone();
        self.frontier = sealed.after.frontier.clone();
        if !presealed || fell_back {
            // Sealed under the lock: the tip is this batch's end, unless a batch sealed on the
            // old tip waits (it will be sealed again, and the tip is found after it).
            self.remember(&sealed);
            self.tip = (!sealed_on_tip_waits).then(|| sealed.after.clone());
        }
        let Sealed {
            entries, outcomes, ..
        } = sealed;
        let mut entries = entries.into_iter();
        for (reply, outcome) in replies.into_iter().zip(outcomes) {
            let answer = match outcome {
                Outcome::Placed(_) => match entries.next() {
                    Some(entry) => {
                        let receipt = Receipt {
                            seq: entry.seq,
                            hash: entry.hash,
                            version: entry.event.version(),
                            recorded_at: entry.recorded_at,
                        };
                        let _ = committed.send(Arc::new(entry));
                        Ok(receipt)
                    }
                    None => Err(AppendError::Closed),
                },
                Outcome::Refused(_, e) => Err(e),
            };
            let _ = reply.send(answer);
        }
        answered
    }

    /// Drops the tip and the cached versions: nothing sealed on them may be trusted now.
    fn forget(&mut self) {
        self.tip = None;
        self.versions.clear();
        self.versions_at = None;
        self.settled_from = None;
    }
}

/// The versions `versions` holds for the streams of `items`.
fn versions_of(
    items: &[Result<Item, AppendError>],
    versions: &HashMap<String, u64>,
) -> HashMap<String, u64> {
    items
        .iter()
        .flatten()
        .filter_map(|i| {
            let stream = i.event.event().stream();
            versions.get(stream).map(|v| (stream.to_owned(), *v))
        })
        .collect()
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

/// What became of one append of a sealed batch.
enum Outcome {
    /// Placed; its entry is the batch's next one.
    Placed(Expect),
    /// Refused, with the append kept (when it could be) in case the batch is sealed again.
    Refused(Option<Box<Item>>, AppendError),
}

/// A batch hashed, chained and signed on a known head.
struct Sealed {
    /// The head it was sealed on: (size, last hash).
    base: (u64, ChainHash),
    /// Rows and nodes for the store; taken when the store writes them.
    batch: SealedBatch,
    entries: Vec<Entry>,
    /// One per append, in order.
    outcomes: Vec<Outcome>,
    /// Versions of the batch's streams after it.
    placed: HashMap<String, u64>,
    /// The head after the batch, with its keys and frontier.
    after: Tip,
    /// The keys before the batch, for sealing it again.
    registry_before: KeyRegistry,
}

impl Sealed {
    /// The appends back, to seal again on another head.
    fn unseal(self) -> Unsealed {
        let mut entries = self.entries.into_iter();
        let items = self
            .outcomes
            .into_iter()
            .map(|outcome| match outcome {
                Outcome::Placed(expect) => {
                    let entry = entries.next().ok_or(AppendError::Closed)?;
                    Ok(Item {
                        event: PreparedEvent::new(entry.event)?,
                        attestation: entry.attestation,
                        expect,
                    })
                }
                Outcome::Refused(Some(item), _) => Ok(*item),
                Outcome::Refused(None, e) => Err(e),
            })
            .collect();
        Unsealed {
            items,
            known: HashMap::new(),
            known_at: None,
            registry: self.registry_before,
            frontier: None,
            head: None,
        }
    }

    /// Each append's refusal, if it was refused.
    fn refusals(self) -> Vec<Option<AppendError>> {
        self.outcomes
            .into_iter()
            .map(|o| match o {
                Outcome::Placed(_) => None,
                Outcome::Refused(_, e) => Some(e),
            })
            .collect()
    }
}

/// Appends to be sealed under the store's lock.
struct Unsealed {
    items: Vec<Result<Item, AppendError>>,
    /// Versions of some of the batch's streams, valid at `known_at`.
    known: HashMap<String, u64>,
    known_at: Option<(u64, ChainHash)>,
    registry: KeyRegistry,
    /// The frontier, when it is known to belong to this chain (reloaded if its size differs).
    frontier: Option<Frontier>,
    /// The head read under the lock.
    head: Option<Head>,
}

impl Unsealed {
    fn empty(items: Vec<Result<Item, AppendError>>) -> Self {
        Self {
            items,
            known: HashMap::new(),
            known_at: None,
            registry: KeyRegistry::default(),
            frontier: None,
            head: None,
        }
    }

    fn known_valid(&self) -> bool {
        self.known_at.is_some() && self.known_at == self.head.map(|h| (h.size, h.last_hash))
    }

    fn refusals(self) -> Vec<Option<AppendError>> {
        self.items.into_iter().map(Result::err).collect()
    }
}

/// How a batch reaches the store.
enum Plan {
    /// Sealed on the tip; written as it is if the head is the one it was sealed on.
    Ready(Sealed),
    /// To be sealed under the lock.
    Unsealed(Unsealed),
}

/// One batch for the store, and its callers.
struct Commit {
    ctx: Arc<SealCtx>,
    replies: Vec<oneshot::Sender<Result<Receipt, AppendError>>>,
    plan: Plan,
    /// Whether the batch was sealed on the tip before the store's lock.
    presealed: bool,
    /// Whether a batch sealed on the tip found another head and was sealed again.
    fell_back: bool,
}

impl Sealer for Commit {
    fn gather(&mut self, head: &Head) {
        match &mut self.plan {
            Plan::Ready(sealed) if sealed.base == (head.size, head.last_hash) => {}
            Plan::Ready(_) => {
                let Plan::Ready(sealed) =
                    std::mem::replace(&mut self.plan, Plan::Unsealed(Unsealed::empty(Vec::new())))
                else {
                    return;
                };
                let mut unsealed = sealed.unseal();
                unsealed.head = Some(*head);
                self.plan = Plan::Unsealed(unsealed);
                self.fell_back = true;
            }
            Plan::Unsealed(u) => u.head = Some(*head),
        }
    }

    fn streams(&self) -> Vec<String> {
        let Plan::Unsealed(u) = &self.plan else {
            return Vec::new();
        };
        let valid = u.known_valid();
        let mut streams: Vec<String> = u
            .items
            .iter()
            .flatten()
            .map(|i| i.event.event().stream())
            .filter(|s| !(valid && u.known.contains_key(*s)))
            .map(str::to_owned)
            .collect();
        streams.sort_unstable();
        streams.dedup();
        streams
    }

    fn frontier_size(&self) -> u64 {
        match &self.plan {
            Plan::Ready(sealed) => sealed.base.0,
            Plan::Unsealed(u) => u.frontier.as_ref().map_or(u64::MAX, Frontier::size),
        }
    }

    fn presealed(&self) -> Option<(u64, ChainHash, &SealedBatch)> {
        match &self.plan {
            Plan::Ready(sealed) => Some((sealed.base.0, sealed.base.1, &sealed.batch)),
            Plan::Unsealed(_) => None,
        }
    }

    fn seal(&mut self, view: TxView) -> StoreResult<SealedBatch> {
        let ctx = self.ctx.clone();
        if let Plan::Ready(sealed) = &mut self.plan {
            return Ok(std::mem::take(&mut sealed.batch));
        }
        let Plan::Unsealed(u) =
            std::mem::replace(&mut self.plan, Plan::Unsealed(Unsealed::empty(Vec::new())))
        else {
            return Err(StoreError::Refused("the batch was sealed twice".into()));
        };
        let known_valid = u.known_valid();
        let frontier = match (view.frontier, u.frontier) {
            (Some(nodes), _) => {
                let map: HashMap<_, _> = nodes.into_iter().collect();
                Frontier::from_nodes(view.head.size, |id| map.get(&id).copied())
                    .map_err(|e| StoreError::Damaged(e.to_string()))?
            }
            (None, Some(frontier)) => frontier,
            (None, None) => return Err(StoreError::Damaged("no Merkle frontier".into())),
        };
        // The current version of every stream of the batch: read now, or known at this head.
        let mut versions = view.versions;
        if known_valid {
            for (stream, v) in &u.known {
                versions.entry(stream.clone()).or_insert(*v);
            }
        }
        let tip = Tip {
            head: view.head,
            registry: u.registry,
            frontier,
        };
        let mut sealed = seal_items(&ctx, tip, versions, u.items);
        let batch = std::mem::take(&mut sealed.batch);
        self.plan = Plan::Ready(sealed);
        Ok(batch)
    }
}

/// Places, chains, hashes and signs `items` on `tip`; `versions` holds the current version of
/// the batch's streams (absent: the stream is new).
fn seal_items(
    ctx: &SealCtx,
    tip: Tip,
    mut versions: HashMap<String, u64>,
    items: Vec<Result<Item, AppendError>>,
) -> Sealed {
    let Tip {
        head,
        registry,
        mut frontier,
    } = tip;
    let registry_before = registry.clone();
    let mut registry = registry;
    let now = Timestamp::now().max(head.last_recorded_at.unwrap_or(Timestamp::now()));
    let mut seq = head.size;
    let mut prev = head.last_hash;
    let mut preimage = Vec::with_capacity(2048);
    let mut outcomes = Vec::with_capacity(items.len());
    let mut placed_items = Vec::with_capacity(items.len());
    let mut hashed: Vec<HashedEntry> = Vec::with_capacity(items.len());
    for item in items {
        let mut item = match item {
            Ok(item) => item,
            Err(e) => {
                outcomes.push(Outcome::Refused(None, e));
                continue;
            }
        };
        match place(ctx, &mut registry, &mut versions, &mut item, seq) {
            Ok(()) => {
                let h = ctx.assembler.hash(
                    seq,
                    &prev,
                    now,
                    &item.event,
                    item.attestation.as_ref(),
                    &mut preimage,
                );
                prev = h.hash;
                seq += 1;
                outcomes.push(Outcome::Placed(item.expect));
                hashed.push(h);
                placed_items.push(item);
            }
            Err(e) => outcomes.push(Outcome::Refused(Some(Box::new(item)), e)),
        }
    }
    let hashes: Vec<ChainHash> = hashed.iter().map(|h| h.hash).collect();
    let sigs = ctx.signers.sign_all(&ctx.node_key, &hashes);
    let mut batch = SealedBatch::default();
    batch.rows.reserve(hashed.len());
    let mut entries = Vec::with_capacity(hashed.len());
    let mut entry_prev = head.last_hash;
    for (((item, h), sig), seq) in placed_items
        .into_iter()
        .zip(hashed)
        .zip(sigs)
        .zip(head.size..)
    {
        let hash = h.hash;
        let line = h.into_line(&sig);
        let event = item.event.into_event();
        batch.nodes.extend(frontier.push(hash.0));
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
        entries.push(Entry {
            ledger: ctx.assembler.ledger().to_owned(),
            seq,
            prev: entry_prev,
            recorded_at: now,
            event,
            attestation: item.attestation,
            signer: ctx.assembler.signer(),
            hash,
            sig,
        });
        entry_prev = hash;
    }
    let last_recorded_at = if entries.is_empty() {
        head.last_recorded_at
    } else {
        Some(now)
    };
    Sealed {
        base: (head.size, head.last_hash),
        batch,
        entries,
        outcomes,
        placed: versions,
        after: Tip {
            head: Head {
                size: seq,
                last_hash: prev,
                last_recorded_at,
            },
            registry,
            frontier,
        },
        registry_before,
    }
}

/// Places one append at `seq`, or says why it cannot be placed.
fn place(
    ctx: &SealCtx,
    registry: &mut KeyRegistry,
    versions: &mut HashMap<String, u64>,
    item: &mut Item,
    seq: u64,
) -> Result<(), AppendError> {
    let current = versions
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
    if let Some(att) = &item.attestation {
        check_attestation(registry, event, att, seq)?;
    }
    let node = ctx.assembler.signer();
    if !registry.allows(&node, seq, Purpose::Entry) {
        return Err(AppendError::NodeKeyInactive(node.to_base64()));
    }
    if let Ok(Some(change)) = KeyChange::from_event(event) {
        change.apply(registry, seq);
    }
    match versions.get_mut(event.stream()) {
        Some(v) => *v = event.version(),
        None => {
            versions.insert(event.stream().to_owned(), event.version());
        }
    }
    Ok(())
}

fn check_attestation(
    registry: &KeyRegistry,
    event: &Event,
    att: &Attestation,
    seq: u64,
) -> Result<(), AppendError> {
    if event.stream() == KEYS_STREAM {
        if !registry.allows(&att.key, seq, Purpose::Admin) {
            return Err(AppendError::KeyChange(format!(
                "key {} is not an active admin key",
                att.key
            )));
        }
    } else if !registry.may_attest(&att.key, seq, event.actor()) {
        return Err(AppendError::Attestation(format!(
            "key {} may not attest events of {}",
            att.key,
            event.actor()
        )));
    }
    Ok(())
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
/// the only one that does not follow the chain, so a batch is signed on every core.
///
/// The signatures are not split in fixed parts: each thread takes the next few until none are
/// left. A helper woken late (the other core was busy) then signs fewer, instead of the writer
/// waiting for its half; timed in the writer, that wait was a third of a batch's signing.
struct SignPool {
    helpers: Vec<std::sync::mpsc::Sender<Arc<Signing>>>,
}

/// One batch being signed by whichever threads take part.
struct Signing {
    key: Arc<SecretKey>,
    hashes: Vec<ChainHash>,
    /// The index of the next hash no thread has taken.
    next: AtomicUsize,
    /// Signatures made so far.
    made: AtomicUsize,
    sigs: Vec<OnceLock<Signature>>,
}

/// Hashes a thread takes at a time: few, so that the last ones taken end close together.
const SIGN_STEP: usize = 2;

impl Signing {
    /// Signs hashes until none are left to take.
    fn take_part(&self) {
        loop {
            let from = self.next.fetch_add(SIGN_STEP, Ordering::Relaxed);
            if from >= self.hashes.len() {
                return;
            }
            let to = (from + SIGN_STEP).min(self.hashes.len());
            for i in from..to {
                let _ = self.sigs[i].set(self.key.sign(&self.hashes[i].0));
            }
            self.made.fetch_add(to - from, Ordering::Release);
        }
    }
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
                let (tx, rx) = std::sync::mpsc::channel::<Arc<Signing>>();
                std::thread::Builder::new()
                    .name(format!("custodia-sign-{i}"))
                    .spawn(move || {
                        for job in rx {
                            job.take_part();
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
        let job = Arc::new(Signing {
            key: key.clone(),
            hashes: hashes.to_vec(),
            next: AtomicUsize::new(0),
            made: AtomicUsize::new(0),
            sigs: (0..hashes.len()).map(|_| OnceLock::new()).collect(),
        });
        for helper in &self.helpers {
            // A helper that is gone leaves its share to the others and to this thread.
            let _ = helper.send(job.clone());
        }
        job.take_part();
        // Nothing is left to take; wait for the few a helper is still signing (at most
        // SIGN_STEP each, tens of microseconds). Should a helper never finish (it cannot
        // panic, but if), this thread signs what is missing after a while.
        let waiting = std::time::Instant::now();
        while job.made.load(Ordering::Acquire) < hashes.len()
            && waiting.elapsed() < std::time::Duration::from_millis(100)
        {
            std::thread::yield_now();
        }
        job.sigs
            .iter()
            .zip(hashes)
            .map(|(sig, h)| sig.get().copied().unwrap_or_else(|| key.sign(&h.0)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_hash_is_signed_in_order_whatever_thread_takes_it() {
        let key = Arc::new(SecretKey::generate());
        let pool = SignPool::new();
        for n in [0, 1, 7, 8, 9, 33, 100, 513] {
            let hashes: Vec<ChainHash> = (0..n as u64)
                .map(|i| ChainHash(*blake3::hash(&i.to_le_bytes()).as_bytes()))
                .collect();
            let sigs = pool.sign_all(&key, &hashes);
            assert_eq!(sigs, sign_each(&key, &hashes), "{n} hashes");
            let public = key.public();
            assert!(sigs
                .iter()
                .zip(&hashes)
                .all(|(s, h)| public.verify(&h.0, s)));
        }
    }
}

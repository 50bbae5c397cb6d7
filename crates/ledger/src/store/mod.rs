//! Storage backends. A [`Store`] keeps entry lines, the perfect Merkle subtree hashes that make
//! proofs O(log n) reads, and signed checkpoints. It does not decide what is appended: the
//! [`Sealer`] it is handed does that inside the store's write transaction, so that a backend
//! shared by several processes (PostgreSQL) can serialize appends in the database while every
//! caller stays the same.

pub mod postgres;
pub mod sqlite;

use crate::entry::ChainHash;
use crate::merkle::{Hash, NodeId};
use crate::time::Timestamp;
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Arc;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database could not be opened: missing, damaged, or not a custodia ledger.
    #[error("cannot open ledger at {location}: {reason}")]
    Open {
        /// Path or URL.
        location: String,
        /// What went wrong.
        reason: String,
    },
    /// The database answered with an error.
    #[error("database error while {doing}: {source}")]
    Database {
        /// What the store was doing.
        doing: &'static str,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// A unique key was violated: another writer appended the same seq or stream version.
    #[error("conflict while {0}: another writer appended first")]
    Conflict(&'static str),
    /// A stored row is not what the store wrote (damaged or tampered).
    #[error("stored row is damaged: {0}")]
    Damaged(String),
    /// The sealer refused the batch; nothing was written.
    #[error("batch refused: {0}")]
    Refused(String),
    /// A blocking read (see [`Scan`]) failed.
    #[error("database error while {doing}: {reason}")]
    Read {
        /// What the store was doing.
        doing: &'static str,
        /// What the database said.
        reason: String,
    },
    /// A blocking write (a batch sealed before the lock, see [`Sealer::presealed`]) failed;
    /// nothing of it was written.
    #[error("database error while {doing}: {reason}")]
    Write {
        /// What the store was doing.
        doing: &'static str,
        /// What the database said.
        reason: String,
    },
}

/// Result of storage calls.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The end of the chain as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Number of entries (the next seq).
    pub size: u64,
    /// Hash of the last entry; zeros when empty.
    pub last_hash: ChainHash,
    /// `recorded_at` of the last entry.
    pub last_recorded_at: Option<Timestamp>,
}

/// One stored entry: its line and the columns indexed beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Position.
    pub seq: u64,
    /// Entry hash (column).
    pub hash: ChainHash,
    /// `event.stream` (column).
    pub stream: String,
    /// `event.version` (column).
    pub version: u64,
    /// `event.type` (column).
    pub event_type: String,
    /// `recorded_at` in microseconds (column).
    pub recorded_at_micros: i64,
    /// `event.occurred_at` in microseconds (column).
    pub occurred_at_micros: i64,
    /// The entry line, in the stored layout.
    pub line: String,
}

/// Blocking reads of entries by position, each on a connection of its own: the verifier's
/// worker threads read their own chunks with it, instead of every row passing through an
/// async driver's thread and channel to a single reader.
pub trait Scan: Send + Sync {
    /// Opens a read-only connection for the calling thread.
    fn open(&self) -> Result<Box<dyn ScanReader>>;
}

/// One blocking read connection (see [`Scan`]). Positions below the head read once before
/// are never rewritten, so reads on separate connections agree with each other.
pub trait ScanReader {
    /// The stored rows whose seq is in `from..from + count`, in seq order; a position with no
    /// row is simply absent. The values and damage checks are those of [`Store::read`].
    fn rows(&mut self, from: u64, count: u64) -> Result<Vec<Row>>;
    /// Stored perfect subtree hashes, in the order asked (None where absent).
    fn nodes(&mut self, ids: &[NodeId]) -> Result<Vec<Option<Hash>>>;
}

/// What a sealer sees inside the write transaction.
#[derive(Debug, Clone)]
pub struct TxView {
    /// The chain's end.
    pub head: Head,
    /// Current version of each stream the sealer asked about (absent: no events yet).
    pub versions: HashMap<String, u64>,
    /// The right edge of the Merkle tree at `head.size`, when the sealer's cache was stale.
    pub frontier: Option<Vec<(NodeId, Hash)>>,
}

/// Rows and tree nodes to write in one transaction.
#[derive(Debug, Default, Clone)]
pub struct SealedBatch {
    /// New entries, contiguous from `head.size`.
    pub rows: Vec<Row>,
    /// Perfect subtree hashes completed by those entries.
    pub nodes: Vec<(NodeId, Hash)>,
}

/// Decides what to append, given the stored head; runs inside the write transaction.
pub trait Sealer: Send {
    /// Called once the write lock is held and the head read, before [`Sealer::streams`]: a
    /// last chance to take in more work (the writer takes the appends queued meanwhile).
    fn gather(&mut self, head: &Head) {
        let _ = head;
    }
    /// Streams whose current versions the sealer needs.
    fn streams(&self) -> Vec<String>;
    /// The tree size of the sealer's cached frontier; the store loads the frontier when it
    /// differs from the head.
    fn frontier_size(&self) -> u64;
    /// Builds the batch. An error aborts the transaction; nothing is written.
    fn seal(&mut self, view: TxView) -> Result<SealedBatch>;
    /// A batch the sealer sealed before the lock, with the head it was sealed on (size and
    /// last hash). A store may write it as it is, in one step, when that is still the stored
    /// head, and then calls none of the methods above; when the head is another, or the store
    /// has no such step, the sealer is used as usual.
    fn presealed(&self) -> Option<(u64, ChainHash, &SealedBatch)> {
        None
    }
}

/// The reads a backend makes inside its write transaction, once the lock is held.
#[async_trait]
pub(crate) trait TxReads: Send {
    /// Current version of each stream named (absent: no events yet).
    async fn versions(&mut self, streams: &[String]) -> Result<HashMap<String, u64>>;
    /// Stored perfect subtree hashes, in the order asked.
    async fn nodes(&mut self, ids: &[NodeId]) -> Result<Vec<Option<Hash>>>;
}

/// Runs `sealer` against the head read under the write lock: the one sequence every backend
/// follows, so that they cannot drift apart.
pub(crate) async fn seal_under_lock(
    reads: &mut dyn TxReads,
    head: Head,
    sealer: &mut dyn Sealer,
) -> Result<SealedBatch> {
    sealer.gather(&head);
    let streams = sealer.streams();
    let versions = if streams.is_empty() {
        HashMap::new()
    } else {
        reads.versions(&streams).await?
    };
    let frontier = if sealer.frontier_size() == head.size {
        None
    } else {
        let ids = crate::merkle::root_nodes(head.size);
        let hashes = reads.nodes(&ids).await?;
        let mut nodes = Vec::with_capacity(ids.len());
        for (id, hash) in ids.into_iter().zip(hashes) {
            let hash = hash.ok_or_else(|| {
                StoreError::Damaged(format!("tree node {id:?} is missing at size {}", head.size))
            })?;
            nodes.push((id, hash));
        }
        Some(nodes)
    };
    sealer.seal(TxView {
        head,
        versions,
        frontier,
    })
}

/// Ledger storage. Every backend passes the same conformance tests.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// A value from the ledger's metadata (e.g. `name`).
    async fn meta(&self, key: &str) -> Result<Option<String>>;
    /// Sets a metadata value once; an existing different value is a conflict.
    async fn init_meta(&self, key: &str, value: &str) -> Result<()>;
    /// The chain's end.
    async fn head(&self) -> Result<Head>;
    /// Runs `sealer` in one durable write transaction and returns what it wrote.
    async fn append(&self, sealer: &mut dyn Sealer) -> Result<SealedBatch>;
    /// Up to `limit` rows from `from` on, in seq order.
    async fn read(&self, from: u64, limit: u32) -> Result<Vec<Row>>;
    /// The row with this entry hash.
    async fn row_by_hash(&self, hash: &ChainHash) -> Result<Option<Row>>;
    /// Up to `limit` rows of one stream with version ≥ `from_version`, in version order.
    async fn stream_rows(&self, stream: &str, from_version: u64, limit: u32) -> Result<Vec<Row>>;
    /// Stored perfect subtree hashes, in the order asked (None where absent).
    async fn nodes(&self, ids: &[NodeId]) -> Result<Vec<Option<Hash>>>;
    /// Stores a signed checkpoint note for `size`; an existing one is kept.
    async fn put_checkpoint(&self, size: u64, note: &str) -> Result<()>;
    /// The checkpoint note for `size`.
    async fn checkpoint(&self, size: u64) -> Result<Option<String>>;
    /// All checkpoint sizes, ascending.
    async fn checkpoint_sizes(&self) -> Result<Vec<u64>>;
    /// Tree sizes committed by any writer sharing this store, other processes included, as
    /// they become known; `None` when the backend has no way to hear of them (a process then
    /// learns of its own appends from its writer). Values only grow; a missed wake-up is made
    /// good by a periodic read of the head.
    async fn watch_heads(&self) -> Result<Option<tokio::sync::watch::Receiver<u64>>> {
        Ok(None)
    }
    /// Blocking reads by position for bulk walks, where the backend has them (`None`: use
    /// [`Store::read`]).
    fn scan(&self) -> Option<Arc<dyn Scan>> {
        None
    }
    /// Current versions of `streams` (absent: no events yet), read without the write lock by
    /// a writer that knows none of them has an entry at or after seq `settled_from`, so that
    /// a read of any committed state at or past it is their current state. `None` when the
    /// store cannot vouch for its answer that way; the writer then reads them under the lock.
    async fn settled_versions(
        &self,
        streams: &[String],
        settled_from: u64,
    ) -> Result<Option<HashMap<String, u64>>> {
        let _ = (streams, settled_from);
        Ok(None)
    }
}

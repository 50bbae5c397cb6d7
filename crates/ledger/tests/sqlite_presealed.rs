//! The SQLite store's one-step write of a batch sealed before the lock: written as it is when
//! the stored head is the one it was sealed on, sealed again under the lock when it is not,
//! and never written in part.

use custodia_ledger::entry::ChainHash;
use custodia_ledger::merkle::Frontier;
use custodia_ledger::store::sqlite::SqliteStore;
use custodia_ledger::store::{Head, Result, Row, SealedBatch, Sealer, Store, StoreError, TxView};

fn hash_of(seq: u64) -> ChainHash {
    ChainHash(*blake3::hash(&seq.to_le_bytes()).as_bytes())
}

fn row(seq: u64) -> Row {
    Row {
        seq,
        hash: hash_of(seq),
        stream: format!("risk/R-{}", seq % 3),
        version: seq / 3 + 1,
        event_type: "risk.assessed".into(),
        recorded_at_micros: seq as i64,
        occurred_at_micros: seq as i64,
        line: format!("{{\"seq\":{seq}}}"),
    }
}

/// `rows` rows from `from` on, with the tree nodes they complete on `frontier`.
fn batch(frontier: &mut Frontier, from: u64, rows: u64) -> SealedBatch {
    let mut batch = SealedBatch::default();
    for seq in from..from + rows {
        batch.nodes.extend(frontier.push(hash_of(seq).0));
        batch.rows.push(row(seq));
    }
    batch
}

/// A batch sealed before the lock on `base`; if the store turns to the usual path instead, it
/// seals `rows` rows on the head it is given, and records that it was asked.
struct Presealed {
    base: (u64, ChainHash),
    batch: SealedBatch,
    rows: u64,
    frontier: Frontier,
    gathered: Option<Head>,
    sealed: bool,
}

impl Presealed {
    fn new(base: (u64, ChainHash), batch: SealedBatch, rows: u64, frontier: Frontier) -> Self {
        Self {
            base,
            batch,
            rows,
            frontier,
            gathered: None,
            sealed: false,
        }
    }
}

impl Sealer for Presealed {
    fn gather(&mut self, head: &Head) {
        self.gathered = Some(*head);
    }
    fn streams(&self) -> Vec<String> {
        Vec::new()
    }
    fn frontier_size(&self) -> u64 {
        self.frontier.size()
    }
    fn seal(&mut self, view: TxView) -> Result<SealedBatch> {
        self.sealed = true;
        Ok(batch(&mut self.frontier, view.head.size, self.rows))
    }
    fn presealed(&self) -> Option<(u64, ChainHash, &SealedBatch)> {
        Some((self.base.0, self.base.1, &self.batch))
    }
}

/// The stored head as (size, last hash).
async fn head_of(store: &SqliteStore) -> (u64, ChainHash) {
    let head = store.head().await.unwrap();
    (head.size, head.last_hash)
}

/// Appends `rows` rows presealed on the stored head; returns what the sealer was asked.
async fn append_presealed(
    store: &SqliteStore,
    frontier: &mut Frontier,
    rows: u64,
) -> (Option<Head>, bool) {
    let base = head_of(store).await;
    let sealed_frontier = frontier.clone();
    let prepared = batch(frontier, base.0, rows);
    let mut sealer = Presealed::new(base, prepared.clone(), rows, sealed_frontier);
    let written = store.append(&mut sealer).await.unwrap();
    assert_eq!(written.rows, prepared.rows);
    assert_eq!(written.nodes, prepared.nodes);
    (sealer.gathered, sealer.sealed)
}

// The multi-threaded runtime: the write runs in place on the worker, as in the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_sealed_on_the_stored_head_is_written_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.db");
    let store = SqliteStore::open(&db, true).await.unwrap();
    let mut frontier = Frontier::new();
    for rows in [1, 7, 64, 3] {
        let (gathered, sealed) = append_presealed(&store, &mut frontier, rows).await;
        assert_eq!(
            (gathered, sealed),
            (None, false),
            "the usual path was taken"
        );
    }
    let stored = store.read(0, 1000).await.unwrap();
    assert_eq!(stored, (0..75).map(row).collect::<Vec<_>>());
    // Found by hash while still in the tail the lookup tables have not reached.
    assert_eq!(
        store.row_by_hash(&hash_of(70)).await.unwrap(),
        Some(row(70))
    );
    let root = custodia_ledger::merkle::root_nodes(75);
    let nodes = store.nodes(&root).await.unwrap();
    assert!(nodes.iter().all(Option::is_some), "tree nodes missing");
    store.close().await;
    let store = SqliteStore::open(&db, false).await.unwrap();
    assert_eq!(head_of(&store).await, (75, hash_of(74)));
    store.close().await;
}

// The current-thread runtime: the write goes to the blocking pool.
#[tokio::test]
async fn a_batch_sealed_on_another_head_is_sealed_again_under_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("ledger.db"), true)
        .await
        .unwrap();
    let mut frontier = Frontier::new();
    append_presealed(&store, &mut frontier, 5).await;
    // Sealed on a head another writer moved past, on the right size with another last hash,
    // and on a head from the future.
    for base in [(3, hash_of(2)), (5, hash_of(99)), (99, hash_of(98))] {
        let size = head_of(&store).await.0;
        let mut stale = Frontier::new();
        let prepared = batch(&mut stale, base.0, 2);
        let mut sealer = Presealed::new(base, prepared, 2, frontier.clone());
        let written = store.append(&mut sealer).await.unwrap();
        assert_eq!(sealer.gathered.map(|h| h.size), Some(size), "{base:?}");
        assert!(sealer.sealed, "{base:?}: not sealed again");
        assert_eq!(written.rows, vec![row(size), row(size + 1)]);
        frontier = sealer.frontier;
    }
    let stored = store.read(0, 1000).await.unwrap();
    assert_eq!(stored, (0..11).map(row).collect::<Vec<_>>());
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_presealed_batch_that_fails_part_way_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("ledger.db"), true)
        .await
        .unwrap();
    let mut frontier = Frontier::new();
    append_presealed(&store, &mut frontier, 4).await;
    let base = head_of(&store).await;
    // The third row repeats the second's seq: the insert fails after two rows went in.
    let mut broken = batch(&mut frontier.clone(), 4, 3);
    broken.rows[2].seq = 5;
    let mut sealer = Presealed::new(base, broken, 3, frontier.clone());
    let err = store.append(&mut sealer).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    assert_eq!(head_of(&store).await, base, "part of the batch stayed");
    // A row the schema refuses (version 0) is a failed write, not a conflict.
    let mut refused = batch(&mut frontier.clone(), 4, 3);
    refused.rows[1].version = 0;
    let mut sealer = Presealed::new(base, refused, 3, frontier.clone());
    let err = store.append(&mut sealer).await.unwrap_err();
    assert!(matches!(err, StoreError::Write { .. }), "{err}");
    assert_eq!(head_of(&store).await, base, "part of the batch stayed");
    // The transaction is gone: the next append goes through.
    append_presealed(&store, &mut frontier, 2).await;
    let stored = store.read(0, 1000).await.unwrap();
    assert_eq!(stored, (0..6).map(row).collect::<Vec<_>>());
    store.close().await;
}

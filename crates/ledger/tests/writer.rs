//! The writer's fast path: events prepared on the callers' tasks, placed at their stream's next
//! version by assembling bytes, batched while the write lock is held, with stream versions
//! cached between batches; and two writers (two processes) on one database.

use custodia_ledger::bundle;
use custodia_ledger::entry::ChainHash;
use custodia_ledger::entry::{entry_hash, Entry, Event};
use custodia_ledger::keys::SecretKey;
use custodia_ledger::ledger::{InitOptions, Ledger, NODE_KEY_FILE};
use custodia_ledger::merkle::{Hash, NodeId};
use custodia_ledger::store::sqlite::SqliteStore;
use custodia_ledger::store::{
    Head, Result as StoreResult, Row, SealedBatch, Sealer, Store, StoreError, TxView,
};
use custodia_ledger::time::Timestamp;
use custodia_ledger::writer::{AppendError, AppendRequest, Expect};
use std::path::Path;
use std::sync::Arc;

fn event(stream: &str, version: u64, n: u64) -> Event {
    let data = serde_json::json!({"title": "Seal \"tampering\" at Rotterdam\n", "n": n});
    Event::new(
        stream,
        version,
        "risk.assessed",
        1,
        Timestamp::parse("2026-03-01T09:55:00.000000Z").unwrap(),
        "user:alice",
        data.as_object().unwrap().clone(),
    )
    .unwrap()
}

fn request(stream: &str, version: u64, n: u64, expect: Expect) -> AppendRequest {
    AppendRequest {
        event: event(stream, version, n),
        attestation: None,
        expect,
    }
}

async fn init(dir: &Path) {
    Ledger::init(
        dir,
        &InitOptions {
            name: "acme.example/sms".into(),
            actor: "user:ceo".into(),
            root_passphrase: None,
        },
    )
    .await
    .unwrap();
}

async fn open_second(dir: &Path) -> Ledger {
    let store = SqliteStore::open(&dir.join("ledger.db"), false)
        .await
        .unwrap();
    let node = SecretKey::read_pem(&dir.join(NODE_KEY_FILE), None).unwrap();
    Ledger::open_store(Arc::new(store), node, Default::default())
        .await
        .unwrap()
}

async fn assert_verifies(store: &dyn Store) {
    let report = bundle::verify_store(store, None, &|_| {}).await.unwrap();
    assert!(report.is_ok(), "violations: {:#?}", report.violations);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_placed_at_the_next_version_read_back_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    init(dir.path()).await;
    let ledger = Arc::new(Ledger::open(dir.path()).await.unwrap());
    let tasks: Vec<_> = (0..24u64)
        .map(|w| {
            let ledger = ledger.clone();
            tokio::spawn(async move {
                let mut receipts = Vec::new();
                for n in 0..20u64 {
                    // The claimed version is ignored: the writer places the event.
                    let stream = format!("risk/R-{}", (w + n) % 5);
                    let receipt = ledger
                        .append(request(&stream, 77, n, Expect::Next))
                        .await
                        .unwrap();
                    receipts.push((stream, receipt));
                }
                receipts
            })
        })
        .collect();
    let mut receipts = Vec::new();
    for t in tasks {
        receipts.extend(t.await.unwrap());
    }
    for (stream, receipt) in &receipts {
        let row = &ledger.store().read(receipt.seq, 1).await.unwrap()[0];
        let (entry, raw) = Entry::parse_line(&row.line).unwrap();
        assert_eq!(entry.hash, receipt.hash);
        assert_eq!(entry_hash(&raw).unwrap(), entry.hash);
        assert!(entry.signer.verify(&entry.hash.0, &entry.sig));
        assert_eq!(entry.event.stream(), stream);
        assert_eq!(entry.event.version(), receipt.version);
        assert_eq!(row.version, receipt.version);
        assert_eq!(entry.to_line(), row.line);
    }
    for s in 0..5 {
        let entries = ledger.stream(&format!("risk/R-{s}")).await.unwrap();
        let versions: Vec<u64> = entries.iter().map(|e| e.event.version()).collect();
        assert_eq!(versions, (1..=entries.len() as u64).collect::<Vec<_>>());
    }
    assert_eq!(ledger.size().await.unwrap(), 2 + 24 * 20);
    assert_verifies(&**ledger.store()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_writers_on_one_database_keep_versions_and_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    init(dir.path()).await;
    // Two writers with their own caches, as two processes would have.
    let a = Ledger::open(dir.path()).await.unwrap();
    let b = open_second(dir.path()).await;
    for round in 0..6u64 {
        // Each writer caches the stream's version; the other moves it on.
        let ra = a
            .append(request("risk/R-1", 1, round, Expect::Next))
            .await
            .unwrap();
        let rb = b
            .append(request("risk/R-1", 1, round, Expect::Next))
            .await
            .unwrap();
        assert_eq!((ra.version, rb.version), (4 * round + 1, 4 * round + 2));
        assert_eq!(rb.seq, ra.seq + 1);
        // A stale expected version is refused by either writer.
        let stale = a
            .append(request("risk/R-1", rb.version, round, Expect::Exact))
            .await;
        assert!(
            matches!(&stale, Err(AppendError::Conflict { actual, .. }) if *actual == rb.version),
            "{stale:?}"
        );
        b.append(request("risk/R-1", rb.version + 1, round, Expect::Exact))
            .await
            .unwrap();
        a.append(request("risk/R-1", rb.version + 2, round, Expect::Exact))
            .await
            .unwrap();
    }
    let entries = a.stream("risk/R-1").await.unwrap();
    let versions: Vec<u64> = entries.iter().map(|e| e.event.version()).collect();
    assert_eq!(versions, (1..=24).collect::<Vec<_>>());
    assert_verifies(&**a.store()).await;
}

/// A SQLite store whose every fifth write transaction fails after the batch is sealed, as a
/// full disk or an I/O error would make it fail.
struct FailingStore {
    inner: SqliteStore,
    appends: std::sync::atomic::AtomicU64,
}

/// Passes the sealer's batch through, then fails: the transaction rolls back.
struct FailAfterSealing<'a>(&'a mut dyn Sealer);

impl Sealer for FailAfterSealing<'_> {
    fn gather(&mut self, head: &Head) {
        self.0.gather(head)
    }
    fn streams(&self) -> Vec<String> {
        self.0.streams()
    }
    fn frontier_size(&self) -> u64 {
        self.0.frontier_size()
    }
    fn seal(&mut self, view: TxView) -> StoreResult<SealedBatch> {
        self.0.seal(view)?;
        Err(StoreError::Refused("injected write failure".into()))
    }
}

#[async_trait::async_trait]
impl Store for FailingStore {
    async fn meta(&self, key: &str) -> StoreResult<Option<String>> {
        self.inner.meta(key).await
    }
    async fn init_meta(&self, key: &str, value: &str) -> StoreResult<()> {
        self.inner.init_meta(key, value).await
    }
    async fn head(&self) -> StoreResult<Head> {
        self.inner.head().await
    }
    async fn append(&self, sealer: &mut dyn Sealer) -> StoreResult<SealedBatch> {
        let n = self
            .appends
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if n % 5 == 3 {
            self.inner.append(&mut FailAfterSealing(sealer)).await
        } else {
            self.inner.append(sealer).await
        }
    }
    async fn read(&self, from: u64, limit: u32) -> StoreResult<Vec<Row>> {
        self.inner.read(from, limit).await
    }
    async fn row_by_hash(&self, hash: &ChainHash) -> StoreResult<Option<Row>> {
        self.inner.row_by_hash(hash).await
    }
    async fn stream_rows(&self, stream: &str, from: u64, limit: u32) -> StoreResult<Vec<Row>> {
        self.inner.stream_rows(stream, from, limit).await
    }
    async fn nodes(&self, ids: &[NodeId]) -> StoreResult<Vec<Option<Hash>>> {
        self.inner.nodes(ids).await
    }
    async fn put_checkpoint(&self, size: u64, note: &str) -> StoreResult<()> {
        self.inner.put_checkpoint(size, note).await
    }
    async fn checkpoint(&self, size: u64) -> StoreResult<Option<String>> {
        self.inner.checkpoint(size).await
    }
    async fn checkpoint_sizes(&self) -> StoreResult<Vec<u64>> {
        self.inner.checkpoint_sizes().await
    }
}

/// The writer seals the next batch while the store writes the one before; when that write
/// fails, what was sealed on it must not be written as it is. Every acknowledged append is
/// stored exactly as acknowledged, every failed one is absent, and the chain, the tree and the
/// stream versions stay whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_write_never_leaves_a_gap_or_a_batch_sealed_on_it() {
    let dir = tempfile::tempdir().unwrap();
    init(dir.path()).await;
    let store = FailingStore {
        inner: SqliteStore::open(&dir.path().join("ledger.db"), false)
            .await
            .unwrap(),
        appends: Default::default(),
    };
    let node = SecretKey::read_pem(&dir.path().join(NODE_KEY_FILE), None).unwrap();
    let ledger = Arc::new(
        Ledger::open_store(Arc::new(store), node, Default::default())
            .await
            .unwrap(),
    );
    let tasks: Vec<_> = (0..32u64)
        .map(|w| {
            let ledger = ledger.clone();
            tokio::spawn(async move {
                let (mut acked, mut failed) = (Vec::new(), 0);
                for i in 0..30 {
                    let stream = format!("risk/R-{}", (w + i) % 8);
                    match ledger.append(request(&stream, 1, i, Expect::Next)).await {
                        Ok(receipt) => acked.push((stream, receipt)),
                        Err(AppendError::Store(_)) => failed += 1,
                        Err(e) => panic!("unexpected refusal: {e}"),
                    }
                }
                (acked, failed)
            })
        })
        .collect();
    let (mut acked, mut failed) = (Vec::new(), 0);
    for t in tasks {
        let (a, f) = t.await.unwrap();
        acked.extend(a);
        failed += f;
    }
    assert!(failed > 0, "no write failed");
    assert_eq!(acked.len() + failed, 32 * 30);
    let rows = ledger.store().read(0, 10_000).await.unwrap();
    // Genesis and the node key's registration, then exactly the acknowledged appends.
    assert_eq!(rows.len(), 2 + acked.len());
    for (stream, receipt) in &acked {
        let row = &rows[receipt.seq as usize];
        assert_eq!(
            (row.hash, &row.stream, row.version),
            (receipt.hash, stream, receipt.version)
        );
    }
    for s in 0..8 {
        let entries = ledger.stream(&format!("risk/R-{s}")).await.unwrap();
        let versions: Vec<u64> = entries.iter().map(|e| e.event.version()).collect();
        assert_eq!(versions, (1..=entries.len() as u64).collect::<Vec<_>>());
    }
    assert_verifies(&**ledger.store()).await;
}

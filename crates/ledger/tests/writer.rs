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

/// Appends `rounds` versions to each stream `risk/S-{s}` of `streams`, one task each, checking
/// each receipt's version against the stream's version before (`before`).
async fn append_rounds(
    ledger: &Arc<Ledger>,
    streams: std::ops::Range<u64>,
    rounds: u64,
    before: u64,
) {
    let tasks: Vec<_> = streams
        .map(|s| {
            let ledger = ledger.clone();
            tokio::spawn(async move {
                let stream = format!("risk/S-{s}");
                for n in 1..=rounds {
                    let receipt = ledger
                        .append(request(&stream, 1, n, Expect::Next))
                        .await
                        .unwrap();
                    assert_eq!(receipt.version, before + n, "{stream}");
                }
                // A stale expectation is a conflict at the version really there.
                let stale = ledger
                    .append(request(&stream, before + rounds, 0, Expect::Exact))
                    .await;
                assert!(
                    matches!(&stale, Err(AppendError::Conflict { actual, .. }) if *actual == before + rounds),
                    "{stream}: {stale:?}"
                );
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

/// A writer that has just opened a ledger knows no stream's version; it reads the versions of
/// streams it has not seen yet ahead of the store's lock where the store can vouch for them.
/// Streams written before it opened, brand-new ones, and (after a crash, with the newest
/// entries not yet in the lookup tables) streams written just before the crash all continue
/// at their right versions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_written_before_the_writer_started_continue_their_versions() {
    let dir = tempfile::tempdir().unwrap();
    init(dir.path()).await;
    let ledger = Arc::new(Ledger::open(dir.path()).await.unwrap());
    append_rounds(&ledger, 0..48, 3, 0).await;
    let head = ledger.store().head().await.unwrap().size;
    // Dropped: its store fills the lookup tables with what is left as it closes.
    drop(ledger);
    let db = dir.path().join("ledger.db");
    wait_indexed(&db, head).await;
    // Reopened: everything is in the lookup tables, and the writer knows nothing.
    let ledger = Arc::new(Ledger::open(dir.path()).await.unwrap());
    tokio::join!(
        append_rounds(&ledger, 0..48, 2, 3),
        append_rounds(&ledger, 48..96, 2, 0)
    );
    let head = ledger.store().head().await.unwrap().size;
    drop(ledger);
    wait_indexed(&db, head).await;
    // A process that dies after its appends, before it fills the lookup tables.
    let data = dir.path().to_owned();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let ledger = Arc::new(Ledger::open(&data).await.unwrap());
            append_rounds(&ledger, 0..48, 1, 5).await;
            append_rounds(&ledger, 48..96, 1, 2).await;
            // Never closed: its connections are left as a killed process leaves them.
            std::mem::forget(ledger);
        });
        rt.shutdown_background();
    })
    .join()
    .unwrap();
    let ledger = Arc::new(Ledger::open(dir.path()).await.unwrap());
    let head = ledger.store().head().await.unwrap().size;
    let indexed = lookups_indexed_size(&db).await;
    assert!(
        indexed < head,
        "the crash left a tail out of the tables: {indexed} of {head}"
    );
    tokio::join!(
        append_rounds(&ledger, 0..48, 2, 6),
        append_rounds(&ledger, 48..96, 2, 3)
    );
    assert_verifies(&**ledger.store()).await;
}

/// Waits for a dropped ledger's store to fill its lookup tables up to `head`.
async fn wait_indexed(db: &Path, head: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while lookups_indexed_size(db).await < head && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(lookups_indexed_size(db).await, head);
}

async fn lookups_indexed_size(db: &Path) -> u64 {
    use sqlx::Connection as _;
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(custodia_ledger::store::sqlite::lookups_path(db))
        .read_only(true);
    let mut conn = sqlx::SqliteConnection::connect_with(&options)
        .await
        .unwrap();
    let n: i64 = sqlx::query_scalar("SELECT indexed_size FROM lookup_state")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    u64::try_from(n).unwrap()
}

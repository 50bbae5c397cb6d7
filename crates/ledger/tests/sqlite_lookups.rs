//! The SQLite store's lookups by entry hash and by (stream, version): entries are found whether
//! they are already in the lookup tables (filled in bulk, in a file of their own) or still in
//! the tail after them; a ledger made before those tables existed keeps its lookups; a lookups
//! file that is not these entries' is rebuilt; and appends never wait for the lookups' lock.

use custodia_ledger::entry::ChainHash;
use custodia_ledger::merkle::Frontier;
use custodia_ledger::store::sqlite::{lookups_path, SqliteStore};
use custodia_ledger::store::{Result, Row, SealedBatch, Sealer, Store, TxView};
use sqlx::{Connection as _, Executor as _, SqliteConnection};
use std::collections::HashMap;
use std::path::Path;

const STREAMS: u64 = 7;

fn stream_of(seq: u64) -> String {
    format!("risk/R-{}", seq % STREAMS)
}

fn hash_of(seq: u64) -> ChainHash {
    ChainHash(*blake3::hash(&seq.to_le_bytes()).as_bytes())
}

/// Writes `rows` made-up rows per append (lookups do not read the lines) and remembers the
/// stream versions the store reported for the streams it asked about.
struct Rows {
    rows: u64,
    frontier: Frontier,
    asked: Vec<String>,
    seen: HashMap<String, u64>,
}

impl Rows {
    fn new(rows: u64, asked: &[&str]) -> Self {
        Self {
            rows,
            frontier: Frontier::new(),
            asked: asked.iter().map(|s| s.to_string()).collect(),
            seen: HashMap::new(),
        }
    }
}

impl Sealer for Rows {
    fn streams(&self) -> Vec<String> {
        self.asked.clone()
    }
    fn frontier_size(&self) -> u64 {
        self.frontier.size()
    }
    fn seal(&mut self, view: TxView) -> Result<SealedBatch> {
        if view.frontier.is_some() {
            // Reopened: this test's rows need no real tree, only contiguous node ids.
            self.frontier = Frontier::from_nodes(view.head.size, |_| Some([0; 32])).unwrap();
        }
        self.seen = view.versions;
        let mut batch = SealedBatch::default();
        for seq in view.head.size..view.head.size + self.rows {
            let hash = hash_of(seq);
            batch.nodes.extend(self.frontier.push(hash.0));
            batch.rows.push(row(seq));
        }
        Ok(batch)
    }
}

fn row(seq: u64) -> Row {
    Row {
        seq,
        hash: hash_of(seq),
        stream: stream_of(seq),
        version: seq / STREAMS + 1,
        event_type: "risk.assessed".into(),
        recorded_at_micros: seq as i64,
        occurred_at_micros: seq as i64,
        line: format!("{{\"seq\":{seq}}}"),
    }
}

/// Rows of `stream` with version ≥ `from`, as stored so far (`size` rows).
fn expected(size: u64, stream: u64, from: u64) -> Vec<Row> {
    (0..size)
        .filter(|seq| seq % STREAMS == stream && seq / STREAMS + 1 >= from)
        .map(row)
        .collect()
}

fn last_version(size: u64, stream: u64) -> u64 {
    expected(size, stream, 1).last().map_or(0, |r| r.version)
}

async fn exec(db: &Path, sql: &str) {
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    conn.execute(sql).await.unwrap();
    conn.close().await.unwrap();
}

/// The lookups' `indexed_size` of the ledger at `db`.
async fn indexed_size(db: &Path) -> i64 {
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(lookups_path(db));
    let mut conn = SqliteConnection::connect_with(&options).await.unwrap();
    let n = sqlx::query_scalar("SELECT indexed_size FROM lookup_state")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    n
}

async fn check_lookups(store: &SqliteStore, size: u64) {
    for seq in [0, 1, size / 2, size - 1] {
        let found = store.row_by_hash(&hash_of(seq)).await.unwrap();
        assert_eq!(found, Some(row(seq)), "entry {seq} by hash");
    }
    assert_eq!(store.row_by_hash(&hash_of(size)).await.unwrap(), None);
    for stream in 0..STREAMS {
        let name = stream_of(stream);
        let all = store.stream_rows(&name, 1, 10_000).await.unwrap();
        assert_eq!(all, expected(size, stream, 1), "{name}");
        // A page that starts and ends anywhere, across the indexed part and the tail.
        let page = store.stream_rows(&name, 5, 9).await.unwrap();
        let want: Vec<Row> = expected(size, stream, 5).into_iter().take(9).collect();
        assert_eq!(page, want, "{name} from version 5, 9 rows");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_are_found_before_and_after_they_are_indexed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.db");
    let store = SqliteStore::open(&db, true).await.unwrap();
    let mut sealer = Rows::new(40, &["risk/R-3", "risk/R-none"]);
    for _ in 0..3 {
        store.append(&mut sealer).await.unwrap();
    }
    // Still in the tail: nothing has been indexed yet.
    assert_eq!(indexed_size(&db).await, 0);
    check_lookups(&store, 120).await;
    // The third append saw 80 entries.
    assert_eq!(sealer.seen.get("risk/R-3"), Some(&last_version(80, 3)));
    assert_eq!(sealer.seen.get("risk/R-none"), None);
    // Closing indexes the tail.
    store.close().await;
    assert_eq!(indexed_size(&db).await, 120);

    let store = SqliteStore::open(&db, false).await.unwrap();
    check_lookups(&store, 120).await;
    // New entries are in the tail again; versions come from both parts.
    store.append(&mut sealer).await.unwrap();
    assert_eq!(sealer.seen.get("risk/R-3"), Some(&last_version(120, 3)));
    store.append(&mut sealer).await.unwrap();
    assert_eq!(sealer.seen.get("risk/R-3"), Some(&last_version(160, 3)));
    check_lookups(&store, 200).await;
    store.close().await;
    assert_eq!(indexed_size(&db).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_lookup_row_finds_nothing_rather_than_another_entry() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.db");
    let store = SqliteStore::open(&db, true).await.unwrap();
    store.append(&mut Rows::new(30, &[])).await.unwrap();
    store.close().await;
    let lookups = lookups_path(&db);
    exec(
        &lookups,
        "UPDATE entry_hashes SET seq = seq + 1 WHERE seq = 10",
    )
    .await;
    exec(
        &lookups,
        "UPDATE stream_versions SET seq = 11 WHERE stream = 'risk/R-3' AND version = 2",
    )
    .await;
    let store = SqliteStore::open(&db, false).await.unwrap();
    assert_eq!(store.row_by_hash(&hash_of(10)).await.unwrap(), None);
    assert_eq!(
        store.row_by_hash(&hash_of(11)).await.unwrap(),
        Some(row(11))
    );
    let rows = store.stream_rows("risk/R-3", 1, 100).await.unwrap();
    let versions: Vec<u64> = rows.iter().map(|r| r.version).collect();
    // Seqs 3, 10, 17, 24: version 2 now points at seq 11, which is not it.
    assert_eq!(versions, vec![1, 3, 4]);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_made_before_the_lookup_tables_keeps_its_lookups() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.db");
    // The first migration only, as an older custodia left the database.
    let mut migrator = sqlx::migrate::Migrator::new(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite"),
    )
    .await
    .unwrap();
    migrator.migrations = migrator.migrations[..1].to_vec().into();
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", db.display()))
        .await
        .unwrap();
    migrator.run_direct(&mut conn).await.unwrap();
    for seq in 0..50 {
        let r = row(seq);
        sqlx::query("INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
            .bind(r.seq as i64)
            .bind(r.hash.0.as_slice())
            .bind(&r.stream)
            .bind(r.version as i64)
            .bind(&r.event_type)
            .bind(r.recorded_at_micros)
            .bind(r.occurred_at_micros)
            .bind(&r.line)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    // The tree's nodes, in the layout of the time (keyed by level and index).
    let mut frontier = Frontier::new();
    let mut nodes = Vec::new();
    for seq in 0..50 {
        nodes.extend(frontier.push(hash_of(seq).0));
    }
    for (id, hash) in &nodes {
        sqlx::query("INSERT INTO tree_nodes (level, idx, hash) VALUES (?, ?, ?)")
            .bind(i64::from(id.level))
            .bind(id.index as i64)
            .bind(hash.as_slice())
            .execute(&mut conn)
            .await
            .unwrap();
    }
    conn.close().await.unwrap();

    let store = SqliteStore::open(&db, false).await.unwrap();
    // Found in the tail at first; in the lookup tables once the store has filled them.
    check_lookups(&store, 50).await;
    assert_eq!(
        store.read(0, 100).await.unwrap(),
        (0..50).map(row).collect::<Vec<_>>()
    );
    // Every node is found after the tree's table was re-keyed, scattered or as a span.
    let ids: Vec<_> = nodes.iter().map(|(id, _)| *id).collect();
    let want: Vec<_> = nodes.iter().map(|(_, h)| Some(*h)).collect();
    assert_eq!(store.nodes(&ids).await.unwrap(), want);
    let scattered = [ids[40], ids[3], ids[17]];
    let found = store.nodes(&scattered).await.unwrap();
    assert_eq!(found, vec![want[40], want[3], want[17]]);
    store.close().await;
    assert_eq!(indexed_size(&db).await, 50);
    let store = SqliteStore::open(&db, false).await.unwrap();
    check_lookups(&store, 50).await;
    store.close().await;
}

/// Rows of the fixed pattern `row`, but with other hashes: another ledger's entries.
struct OtherRows(Rows);

impl Sealer for OtherRows {
    fn streams(&self) -> Vec<String> {
        Vec::new()
    }
    fn frontier_size(&self) -> u64 {
        self.0.frontier_size()
    }
    fn seal(&mut self, view: TxView) -> Result<SealedBatch> {
        let mut batch = self.0.seal(view)?;
        for r in &mut batch.rows {
            r.hash = ChainHash(*blake3::hash(&(r.seq + 1_000_000).to_le_bytes()).as_bytes());
        }
        Ok(batch)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lookups_file_of_other_entries_is_rebuilt_not_believed() {
    let dir = tempfile::tempdir().unwrap();
    // A lookups file ahead of its ledger (the ledger restored from an older backup), one of
    // another ledger of the same size, and one that is not a database at all.
    let cases: [(&str, u64, bool); 3] = [
        ("ahead", 60, false),
        ("other", 40, true),
        ("garbage", 0, false),
    ];
    for (name, donor_rows, other) in cases {
        let db = dir.path().join(format!("{name}.db"));
        let store = SqliteStore::open(&db, true).await.unwrap();
        store.append(&mut Rows::new(40, &[])).await.unwrap();
        store.close().await;
        assert_eq!(indexed_size(&db).await, 40, "{name}");
        let donor = dir.path().join(format!("{name}-donor.db"));
        if donor_rows > 0 {
            let store = SqliteStore::open(&donor, true).await.unwrap();
            if other {
                store
                    .append(&mut OtherRows(Rows::new(donor_rows, &[])))
                    .await
                    .unwrap();
            } else {
                store.append(&mut Rows::new(donor_rows, &[])).await.unwrap();
            }
            store.close().await;
            // The file with its write-ahead log, which may hold its latest pages.
            for suffix in ["", "-wal", "-shm"] {
                let with = |p: &Path| format!("{}{suffix}", lookups_path(p).display());
                let _ = std::fs::remove_file(with(&db));
                if suffix != "-shm" && Path::new(&with(&donor)).exists() {
                    std::fs::copy(with(&donor), with(&db)).unwrap();
                }
            }
        } else {
            std::fs::write(lookups_path(&db), vec![0x5a; 8192]).unwrap();
        }

        let store = SqliteStore::open(&db, false).await.unwrap();
        check_lookups(&store, 40).await;
        if other {
            let stranger = ChainHash(*blake3::hash(&1_000_005u64.to_le_bytes()).as_bytes());
            assert_eq!(store.row_by_hash(&stranger).await.unwrap(), None, "{name}");
        }
        let mut asking = Rows::new(1, &["risk/R-2"]);
        store.append(&mut asking).await.unwrap();
        assert_eq!(
            asking.seen.get("risk/R-2"),
            Some(&last_version(40, 2)),
            "{name}"
        );
        store.close().await;
        assert_eq!(indexed_size(&db).await, 41, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_do_not_wait_for_the_lookups_lock() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.db");
    let store = SqliteStore::open(&db, true).await.unwrap();
    store.append(&mut Rows::new(10, &[])).await.unwrap();
    // Another connection holds the lookups' write lock, as a long fill does.
    let lookups = lookups_path(&db);
    let mut holder = SqliteConnection::connect(&format!("sqlite://{}", lookups.display()))
        .await
        .unwrap();
    holder
        .execute("BEGIN IMMEDIATE; UPDATE lookup_state SET indexed_size = indexed_size")
        .await
        .unwrap();
    for _ in 0..3 {
        let mut asking = Rows::new(5, &["risk/R-1", "risk/R-9"]);
        let appended =
            tokio::time::timeout(std::time::Duration::from_secs(5), store.append(&mut asking))
                .await;
        assert!(matches!(appended, Ok(Ok(_))), "{appended:?}");
    }
    holder.execute("ROLLBACK").await.unwrap();
    holder.close().await.unwrap();
    check_lookups(&store, 25).await;
    store.close().await;
}

/// A new ledger at `db` with 12,000 entries, well past one bulk of the lookup tables, once the
/// store (not closed) has indexed some; with the sealer and the size.
async fn past_one_bulk(db: &Path) -> (SqliteStore, Rows, u64) {
    let store = SqliteStore::open(db, true).await.unwrap();
    let mut sealer = Rows::new(500, &[]);
    let mut size = 0;
    while size < 12_000 {
        store.append(&mut sealer).await.unwrap();
        size += 500;
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while indexed_size(db).await == 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    (store, sealer, size)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tail_is_indexed_while_appends_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.db");
    let (store, _, size) = past_one_bulk(&db).await;
    let indexed = indexed_size(&db).await;
    assert!(
        (8192..=12_000).contains(&indexed),
        "indexed {indexed} of {size}"
    );
    check_lookups(&store, size).await;
    store.close().await;
}

/// One row per new stream (`risk/U-{seq}`, version 1); asks for a stream of the first row, one
/// half-way and the last one before this batch, which all exist at version 1, and for the next
/// one, which does not yet.
struct NewStreams {
    rows: u64,
    frontier: Frontier,
    size: u64,
    seen: HashMap<String, u64>,
}

impl NewStreams {
    fn asked(size: u64) -> Vec<String> {
        let mut asked = vec![format!("risk/U-{size}")];
        if size > 0 {
            asked.extend([0, size / 2, size - 1].map(|s| format!("risk/U-{s}")));
        }
        asked
    }
}

impl Sealer for NewStreams {
    fn gather(&mut self, head: &custodia_ledger::store::Head) {
        self.size = head.size;
    }
    fn streams(&self) -> Vec<String> {
        Self::asked(self.size)
    }
    fn frontier_size(&self) -> u64 {
        self.frontier.size()
    }
    fn seal(&mut self, view: TxView) -> Result<SealedBatch> {
        self.seen = view.versions;
        let mut batch = SealedBatch::default();
        for seq in view.head.size..view.head.size + self.rows {
            let hash = hash_of(seq);
            batch.nodes.extend(self.frontier.push(hash.0));
            batch.rows.push(Row {
                stream: format!("risk/U-{seq}"),
                version: 1,
                ..row(seq)
            });
        }
        Ok(batch)
    }
}

/// The writer knows the versions of the entries not yet in the lookup tables without scanning
/// them; what it knows must stay right while they are indexed, while it grows past its bound and
/// is trimmed, and when another connection appends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writer_reads_versions_right_across_indexing_and_other_writers() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.db");
    let store = SqliteStore::open(&db, true).await.unwrap();
    let mut sealer = NewStreams {
        rows: 2_000,
        frontier: Frontier::new(),
        size: 0,
        seen: HashMap::new(),
    };
    let check = |sealer: &NewStreams, size: u64| {
        let mut want: HashMap<String, u64> = NewStreams::asked(size)
            .into_iter()
            .map(|s| (s, 1))
            .collect();
        want.remove(&format!("risk/U-{size}"));
        assert_eq!(sealer.seen, want, "versions read at size {size}");
    };
    // Past the lookup tables' bulk several times and past the bound of the writer's own map.
    let mut size = 0;
    while size < 48_000 {
        store.append(&mut sealer).await.unwrap();
        check(&sealer, size);
        size += 2_000;
    }
    // The maintenance task indexes in the background: wait for it rather than race it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while indexed_size(&db).await < 8192 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(indexed_size(&db).await >= 8192, "the tail was indexed");
    // Appends after the indexing read from the tables and the trimmed map together.
    for _ in 0..2 {
        store.append(&mut sealer).await.unwrap();
        check(&sealer, size);
        size += 2_000;
    }
    // Another connection appends; the first one's next append must count those entries.
    let other = SqliteStore::open(&db, false).await.unwrap();
    let mut other_sealer = NewStreams {
        frontier: Frontier::from_nodes(size, |_| Some([0; 32])).unwrap(),
        ..sealer
    };
    other.append(&mut other_sealer).await.unwrap();
    check(&other_sealer, size);
    other.close().await;
    size += 2_000;
    let mut sealer = NewStreams {
        frontier: Frontier::from_nodes(size, |_| Some([0; 32])).unwrap(),
        ..other_sealer
    };
    store.append(&mut sealer).await.unwrap();
    check(&sealer, size);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_under_a_path_with_uri_characters_finds_its_lookups() {
    let dir = tempfile::tempdir().unwrap();
    // '?', '#' and '%' mean something in the URI the lookups file is attached by.
    let data = dir.path().join("site?a=1#b%20é");
    std::fs::create_dir_all(&data).unwrap();
    let db = data.join("ledger.db");
    let store = SqliteStore::open(&db, true).await.unwrap();
    store.append(&mut Rows::new(30, &[])).await.unwrap();
    store.close().await;
    assert_eq!(indexed_size(&db).await, 30);
    let store = SqliteStore::open(&db, false).await.unwrap();
    check_lookups(&store, 30).await;
    store.close().await;
    let names: Vec<String> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| n.starts_with("ledger.db")),
        "{names:?}"
    );
}

/// A writer asks, without the lock, for versions of streams it knows have no entry from some
/// seq on: the store answers from the lookup tables only once they hold every entry before that
/// seq, and otherwise says it cannot tell, so that no version is ever read short.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_are_read_without_the_lock_only_where_the_tables_hold_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.db");
    let (store, mut sealer, mut size) = past_one_bulk(&db).await;
    // A tail after the indexed entries, too short for the next bulk.
    store.append(&mut sealer).await.unwrap();
    size += 500;
    let indexed = u64::try_from(indexed_size(&db).await).unwrap();
    assert!(
        (8192..size).contains(&indexed),
        "indexed {indexed} of {size}"
    );
    let mut asked: Vec<String> = (0..STREAMS).map(stream_of).collect();
    asked.push("risk/R-none".into());
    let at = |n: u64| -> HashMap<String, u64> {
        let mut want: HashMap<String, u64> = (0..STREAMS)
            .map(|s| (stream_of(s), last_version(n, s)))
            .collect();
        want.insert("risk/R-none".into(), 0);
        want
    };
    let found = store.settled_versions(&asked, indexed).await.unwrap();
    assert_eq!(found, Some(at(indexed)), "settled from the indexed size");
    let found = store.settled_versions(&asked, 100).await.unwrap();
    assert_eq!(found, Some(at(indexed)), "settled from earlier");
    // Entries from `indexed` on are not in the tables: a writer that only knows its streams
    // are settled from later on gets no answer.
    assert_eq!(
        store.settled_versions(&asked, indexed + 1).await.unwrap(),
        None
    );
    assert_eq!(store.settled_versions(&asked, size).await.unwrap(), None);
    store.close().await;
    // Closing indexes the rest.
    let store = SqliteStore::open(&db, false).await.unwrap();
    let found = store.settled_versions(&asked, size).await.unwrap();
    assert_eq!(found, Some(at(size)), "after closing");
    store.close().await;
}

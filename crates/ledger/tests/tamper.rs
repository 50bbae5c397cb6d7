//! Tamper detection: any single-byte change to a bundle's entries, any change to any column of a
//! stored row, and a deleted or reordered entry make verification fail and name the entry.

use custodia_ledger::bundle;
use custodia_ledger::entry::{ChainHash, Event};
use custodia_ledger::keys::{KeyChange, Purpose, SecretKey, KEYS_STREAM};
use custodia_ledger::ledger::{InitOptions, Ledger, DB_FILE, ROOT_KEY_FILE};
use custodia_ledger::merkle::{Hash, NodeId};
use custodia_ledger::store::sqlite::SqliteStore;
use custodia_ledger::store::{self, Head, Row, SealedBatch, Sealer, Store};
use custodia_ledger::time::Timestamp;
use custodia_ledger::verify::Report;
use custodia_ledger::writer::{AppendRequest, Expect};
use proptest::prelude::*;
use sqlx::{Connection, SqliteConnection};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/vectors/ledger-v1");

fn nothing(_: u64) {}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Copies a bundle with `entries` as its entries.jsonl into a fresh directory.
fn bundle_with(src: &Path, entries: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("checkpoints")).unwrap();
    for cp in std::fs::read_dir(src.join("checkpoints")).unwrap() {
        let cp = cp.unwrap().path();
        std::fs::copy(
            &cp,
            dir.path().join("checkpoints").join(cp.file_name().unwrap()),
        )
        .unwrap();
    }
    std::fs::copy(src.join("manifest.json"), dir.path().join("manifest.json")).unwrap();
    std::fs::write(dir.path().join("entries.jsonl"), entries).unwrap();
    dir
}

/// The seq of the line that holds byte `pos`.
fn seq_of(bytes: &[u8], pos: usize) -> u64 {
    bytes[..pos].iter().filter(|&&b| b == b'\n').count() as u64
}

fn names_seq(report: &Report, seq: u64) -> bool {
    report.violations.iter().any(|v| v.seq == Some(seq))
}

fn assert_caught(src: &Path, original: &[u8], pos: usize, byte: u8) {
    let mut bytes = original.to_vec();
    bytes[pos] = byte;
    let dir = bundle_with(src, &bytes);
    let report = bundle::verify_bundle(dir.path(), None, &nothing).unwrap();
    let seq = seq_of(original, pos);
    assert!(
        !report.is_ok() && names_seq(&report, seq),
        "byte {pos} ({:?} -> {:?}) in seq {seq} not caught: {:?}",
        original[pos] as char,
        byte as char,
        report.violations
    );
}

#[test]
fn every_single_byte_change_to_the_vector_bundle_is_caught() {
    let src = Path::new(VECTORS);
    let original = std::fs::read(src.join("entries.jsonl")).unwrap();
    assert!(bundle::verify_bundle(src, None, &nothing).unwrap().is_ok());
    for pos in 0..original.len() {
        // Two replacements per position: a neighbouring value, and a space (which keeps the JSON
        // valid in many places and so tests the layout rule).
        for byte in [original[pos] ^ 0x01, b' '] {
            if byte != original[pos] {
                assert_caught(src, &original, pos, byte);
            }
        }
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    data: PathBuf,
    bundle: PathBuf,
    entries: Vec<u8>,
}

/// A small ledger with attested events, a key registration and two checkpoints.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| runtime().block_on(build_fixture()))
}

async fn build_fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let options = InitOptions {
        name: "acme.example/sms".into(),
        actor: "user:ceo".into(),
        root_passphrase: None,
    };
    Ledger::init(&data, &options).await.unwrap();
    let ledger = Ledger::open(&data).await.unwrap();
    let root = SecretKey::read_pem(&data.join(ROOT_KEY_FILE), None).unwrap();
    let alice = SecretKey::from_seed(&[3; 32]);
    let reg = KeyChange::registration_data(&alice.public(), "user:alice", &[Purpose::Attest], None);
    let reg = Event::new(
        KEYS_STREAM,
        2,
        "key.registered",
        1,
        Timestamp::now(),
        "user:ceo",
        reg,
    )
    .unwrap();
    let att = reg.attest(&root).unwrap();
    ledger
        .append(AppendRequest {
            event: reg,
            attestation: Some(att),
            expect: Expect::Exact,
        })
        .await
        .unwrap();
    for i in 0..12u64 {
        let data =
            serde_json::json!({"title": format!("Risk {i} café 🚢"), "likelihood": i % 5 + 1});
        let at = Timestamp::from_micros(1_770_000_000_000_000 + i as i64).unwrap();
        let ev = Event::new(
            &format!("risk/R-{}", i % 4),
            i / 4 + 1,
            "risk.assessed",
            1,
            at,
            "user:alice",
            data.as_object().unwrap().clone(),
        )
        .unwrap();
        let att = (i % 2 == 0).then(|| ev.attest(&alice).unwrap());
        ledger
            .append(AppendRequest {
                event: ev,
                attestation: att,
                expect: Expect::Exact,
            })
            .await
            .unwrap();
        if i == 5 {
            ledger.checkpoint().await.unwrap();
        }
    }
    ledger.checkpoint().await.unwrap();
    let bundle = dir.path().join("bundle");
    bundle::export(&**ledger.store(), &bundle, &nothing)
        .await
        .unwrap();
    let entries = std::fs::read(bundle.join("entries.jsonl")).unwrap();
    Fixture {
        _dir: dir,
        data,
        bundle,
        entries,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_single_byte_change_to_an_exported_bundle_is_caught(pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let f = fixture();
        let pos = pos.index(f.entries.len());
        prop_assume!(f.entries[pos] != byte);
        assert_caught(&f.bundle, &f.entries, pos, byte);
    }
}

/// A copy of the fixture's data directory to damage.
fn data_copy() -> tempfile::TempDir {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    for name in [DB_FILE, "ledger.db-wal", "ledger.db-shm"] {
        if f.data.join(name).exists() {
            std::fs::copy(f.data.join(name), dir.path().join(name)).unwrap();
        }
    }
    dir
}

fn tamper_and_verify(sql: &str) -> Report {
    let dir = data_copy();
    runtime().block_on(tamper_copy(dir.path(), sql))
}

async fn tamper_copy(dir: &Path, sql: &str) -> Report {
    let store = tampered(dir, sql).await;
    bundle::verify_store(&store, None, &nothing).await.unwrap()
}

async fn tampered(dir: &Path, sql: &str) -> SqliteStore {
    let path = dir.join(DB_FILE);
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let done = sqlx::query(sql).execute(&mut conn).await.unwrap();
    assert!(done.rows_affected() > 0, "{sql} changed nothing");
    conn.close().await.unwrap();
    SqliteStore::open(&path, false).await.unwrap()
}

/// The SQLite store without its blocking scan: the verifier reads through [`Store::read`], as
/// it does from PostgreSQL.
struct ReadOnly(SqliteStore);

#[async_trait::async_trait]
impl Store for ReadOnly {
    async fn meta(&self, key: &str) -> store::Result<Option<String>> {
        self.0.meta(key).await
    }
    async fn init_meta(&self, key: &str, value: &str) -> store::Result<()> {
        self.0.init_meta(key, value).await
    }
    async fn head(&self) -> store::Result<Head> {
        self.0.head().await
    }
    async fn append(&self, sealer: &mut dyn Sealer) -> store::Result<SealedBatch> {
        self.0.append(sealer).await
    }
    async fn read(&self, from: u64, limit: u32) -> store::Result<Vec<Row>> {
        self.0.read(from, limit).await
    }
    async fn row_by_hash(&self, hash: &ChainHash) -> store::Result<Option<Row>> {
        self.0.row_by_hash(hash).await
    }
    async fn stream_rows(&self, stream: &str, from: u64, limit: u32) -> store::Result<Vec<Row>> {
        self.0.stream_rows(stream, from, limit).await
    }
    async fn nodes(&self, ids: &[NodeId]) -> store::Result<Vec<Option<Hash>>> {
        self.0.nodes(ids).await
    }
    async fn put_checkpoint(&self, size: u64, note: &str) -> store::Result<()> {
        self.0.put_checkpoint(size, note).await
    }
    async fn checkpoint(&self, size: u64) -> store::Result<Option<String>> {
        self.0.checkpoint(size).await
    }
    async fn checkpoint_sizes(&self) -> store::Result<Vec<u64>> {
        self.0.checkpoint_sizes().await
    }
}

/// Everything a report says, to compare two.
fn summary(r: &Report) -> impl PartialEq + std::fmt::Debug {
    let fields = (r.ledger.clone(), r.entries, r.root, r.checkpoints_verified);
    let found = (r.trusted_consistent, r.violation_count, r.signatures);
    (fields, found, r.violations.clone())
}

/// Verifies a tampered copy through the blocking scan and through `read`.
fn both_paths(sql: &str) -> (Report, Report) {
    let dir = data_copy();
    runtime().block_on(async {
        let store = tampered(dir.path(), sql).await;
        assert!(store.scan().is_some());
        let scanned = bundle::verify_store(&store, None, &nothing).await.unwrap();
        let read = ReadOnly(store);
        assert!(read.scan().is_none());
        let read = bundle::verify_store(&read, None, &nothing).await.unwrap();
        (scanned, read)
    })
}

/// A change to each column of the entries table, as SQL on row `seq`.
fn entry_mutations(seq: u64) -> Vec<String> {
    let w = format!("WHERE seq = {seq}");
    vec![
        format!("UPDATE entries SET seq = seq + 1000 {w}"),
        format!("UPDATE entries SET hash = randomblob(32) {w}"),
        format!("UPDATE entries SET stream = stream || 'x' {w}"),
        format!("UPDATE entries SET version = version + 100 {w}"),
        format!("UPDATE entries SET type = 'risk.closed' {w}"),
        format!("UPDATE entries SET recorded_at = recorded_at + 1 {w}"),
        format!("UPDATE entries SET occurred_at = occurred_at - 1 {w}"),
        format!(
            "UPDATE entries SET line = replace(line, '\"seq\": {seq},', '\"seq\": {seq} ,') {w}"
        ),
        format!("UPDATE entries SET line = replace(line, 'user:', 'user:x') {w}"),
        // Bytes that are not UTF-8 in a text column must be named, not crash the reader.
        format!("UPDATE entries SET line = CAST(line AS BLOB) || x'ff' {w}"),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn any_change_to_a_stored_entry_column_is_caught(seq in 0u64..15, which in 0usize..10) {
        let sql = entry_mutations(seq).swap_remove(which);
        let report = tamper_and_verify(&sql);
        prop_assert!(!report.is_ok(), "{sql}");
        prop_assert!(names_seq(&report, seq), "{sql}: {:?}", report.violations);
    }

    #[test]
    fn any_change_to_a_stored_tree_node_is_caught(level in 0u8..4, index in 0u64..15) {
        // The fixture has 15 entries: level l has 15 >> l complete nodes.
        let index = index % (15u64 >> level);
        let sql = format!("UPDATE tree_nodes SET hash = randomblob(32) WHERE level = {level} AND idx = {index}");
        let report = tamper_and_verify(&sql);
        let last_leaf = ((index + 1) << level) - 1;
        prop_assert!(!report.is_ok(), "{sql}");
        prop_assert!(names_seq(&report, last_leaf), "{sql}: {:?}", report.violations);
    }
}

#[test]
fn the_scan_and_read_paths_report_alike() {
    for seq in [0, 6, 14] {
        for (which, sql) in entry_mutations(seq).into_iter().enumerate() {
            let (scanned, read) = both_paths(&sql);
            assert!(names_seq(&scanned, seq) && names_seq(&read, seq), "{sql}");
            // Moving a row's seq makes `read` hand out the next row in its place, while the
            // scan reads by position and finds none there; every other change reads alike.
            if which != 0 {
                assert_eq!(summary(&scanned), summary(&read), "{sql}");
            }
        }
    }
    for sql in [
        "UPDATE tree_nodes SET hash = randomblob(32) WHERE level = 2 AND idx = 1",
        "DELETE FROM tree_nodes WHERE level = 0 AND idx = 9",
        "UPDATE checkpoints SET note = replace(note, 'acme.example/sms', 'acme.example/smz')",
    ] {
        let (scanned, read) = both_paths(sql);
        assert_eq!(summary(&scanned), summary(&read), "{sql}");
    }
}

#[test]
fn a_row_that_cannot_be_read_is_an_error_on_both_paths() {
    for (sql, said) in [
        (
            "PRAGMA ignore_check_constraints = ON; UPDATE entries SET hash = x'00' WHERE seq = 9",
            "seq 9: hash is not 32 bytes",
        ),
        (
            "UPDATE entries SET version = 'abc' WHERE seq = 3",
            "entries.version is not an integer",
        ),
    ] {
        let dir = data_copy();
        runtime().block_on(async {
            let store = tampered(dir.path(), sql).await;
            let scanned = bundle::verify_store(&store, None, &nothing).await;
            let read = bundle::verify_store(&ReadOnly(store), None, &nothing).await;
            for result in [scanned, read] {
                let e = result.err().map(|e| e.to_string()).unwrap_or_default();
                assert!(e.contains(said), "{sql}: {e}");
            }
        });
    }
}

#[test]
fn a_changed_stored_checkpoint_is_caught() {
    for sql in [
        "UPDATE checkpoints SET note = replace(note, 'acme.example/sms', 'acme.example/smz')",
        "UPDATE checkpoints SET size = size - 1 WHERE size = (SELECT MAX(size) FROM checkpoints)",
    ] {
        let report = tamper_and_verify(sql);
        assert!(!report.is_ok(), "{sql}");
    }
}

#[test]
fn a_deleted_or_reordered_entry_is_caught() {
    let report = tamper_and_verify("DELETE FROM entries WHERE seq = 7");
    assert!(names_seq(&report, 7), "{:?}", report.violations);
    let swap = "UPDATE entries SET line = CASE seq WHEN 8 THEN (SELECT line FROM entries WHERE seq = 9) ELSE (SELECT line FROM entries WHERE seq = 8) END WHERE seq IN (8, 9)";
    let report = tamper_and_verify(swap);
    assert!(names_seq(&report, 8), "{:?}", report.violations);

    let f = fixture();
    let text = String::from_utf8(f.entries.clone()).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.remove(4);
    let dir = bundle_with(&f.bundle, (lines.join("\n") + "\n").as_bytes());
    let report = bundle::verify_bundle(dir.path(), None, &nothing).unwrap();
    assert!(names_seq(&report, 4), "{:?}", report.violations);
    let mut lines: Vec<&str> = text.lines().collect();
    lines.swap(10, 11);
    let dir = bundle_with(&f.bundle, (lines.join("\n") + "\n").as_bytes());
    let report = bundle::verify_bundle(dir.path(), None, &nothing).unwrap();
    assert!(names_seq(&report, 10), "{:?}", report.violations);
}

/// A row moved far past the head (its seq rewritten to 2^40) makes the head say 2^40 + 1
/// entries: verification must still end promptly and report the moved entry, rather than
/// walk a trillion empty positions (or read the moved row again and again).
#[test]
fn a_seq_moved_far_past_the_head_is_reported_promptly() {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(tamper_and_verify(
            "UPDATE entries SET seq = 1099511627776 WHERE seq = 6",
        ));
    });
    let report = finished
        .recv_timeout(std::time::Duration::from_secs(120))
        .expect("verification did not end within two minutes");
    assert!(!report.is_ok());
    assert!(
        names_seq(&report, 6),
        "{:?}",
        &report.violations[..report.violations.len().min(5)]
    );
}

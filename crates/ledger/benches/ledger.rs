//! Ledger benchmarks, each reported as a ratio against a baseline measured in the same run (the
//! machines are shared and noisy, so absolute figures mean little):
//!
//! - append throughput (server-signed, SQLite `synchronous=FULL`) at 1, 16 and 64 concurrent
//!   writers, against the raw Ed25519 signing rate of one core;
//! - verifying a large ledger against the raw batch signature verification rate on every core
//!   (ed25519-dalek, 64 keys, 4096 per batch: the headline ratio), and also against coalesced
//!   batch verification (ed25519-zebra, what the verifier uses) with a ledger's key mix, with the
//!   verifier's peak memory (measured in a child process);
//! - inclusion and consistency proofs from stored nodes at that size.
//!
//! `cargo bench -p custodia-ledger --bench ledger` (`CUSTODIA_BENCH_ENTRIES`, default 1,000,000,
//! sets the size of the verified ledger; `CUSTODIA_BENCH_APPEND_ONLY=1` runs only the appends;
//! `CUSTODIA_BENCH_POSTGRES_URL=postgres://…` measures PostgreSQL appends beside SQLite's;
//! `CUSTODIA_BENCH_APPEND_SECS` sets each append run's length, 4 s by default;
//! `CUSTODIA_BENCH_BATCH_SIZES=256,1024,…` prints the coalesced rate at each batch size).

use custodia_ledger::bundle;
use custodia_ledger::entry::Event;
use custodia_ledger::keys::SecretKey;
use custodia_ledger::ledger::{InitOptions, Ledger};
use custodia_ledger::time::Timestamp;
use custodia_ledger::writer::{AppendRequest, Expect};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const VERIFY_CHILD: &str = "--verify-child";
/// Signatures per batch in the coalesced baseline: as many as in the headline one, so that the
/// two differ only in the method and the key mix.
const COALESCED_BATCH: usize = 4096;

// The binary uses mimalloc too: verification and appends allocate many small JSON values.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == VERIFY_CHILD) {
        return verify_child(Path::new(&args[i + 1]));
    }
    let entries: u64 = std::env::var("CUSTODIA_BENCH_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // CUSTODIA_BENCH_DIR keeps the ledgers for inspection or profiling; by default they go.
    let kept = std::env::var_os("CUSTODIA_BENCH_DIR").map(std::path::PathBuf::from);
    let temp = tempfile::tempdir().unwrap();
    let dir = kept.as_deref().unwrap_or(temp.path());
    println!("custodia ledger benchmark ({} cores)", cores());
    let sign_rate = raw_sign_rate();
    println!("baseline  raw Ed25519 signing, one core: {sign_rate:>10.0} sig/s");
    // CUSTODIA_BENCH_WRITERS=64 (a comma-separated list) measures only those writer counts.
    let counts: Vec<usize> = std::env::var("CUSTODIA_BENCH_WRITERS")
        .ok()
        .map(|v| v.split(',').filter_map(|w| w.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 16, 64]);
    // CUSTODIA_BENCH_POSTGRES_URL adds PostgreSQL beside SQLite, on a schema of its own.
    let postgres = std::env::var("CUSTODIA_BENCH_POSTGRES_URL").ok();
    // CUSTODIA_BENCH_VERIFY_ONLY=1 skips the appends (for profiling verification).
    let counts = if std::env::var_os("CUSTODIA_BENCH_VERIFY_ONLY").is_some() {
        Vec::new()
    } else {
        counts
    };
    if !counts.is_empty() {
        append_part(&rt, dir, &counts, sign_rate, postgres.as_deref());
    }
    // CUSTODIA_BENCH_APPEND_ONLY=1 stops here (for profiling the write path).
    if std::env::var_os("CUSTODIA_BENCH_APPEND_ONLY").is_some() {
        return;
    }
    let data = dir.join("big");
    // A ledger kept in CUSTODIA_BENCH_DIR by an earlier run is verified again as it is.
    if data.join("ledger.db").exists() {
        println!("reusing {}", data.display());
    } else {
        rt.block_on(fill(&data, entries));
    }
    // The baseline is taken before and after the walk and averaged: the walk takes a minute,
    // and one short baseline on a shared machine can land in a quiet or a busy moment.
    // CUSTODIA_BENCH_BATCH_SIZES=256,1024,… first prints the coalesced rate at each batch size.
    if let Ok(sizes) = std::env::var("CUSTODIA_BENCH_BATCH_SIZES") {
        for batch in sizes.split(',').filter_map(|b| b.trim().parse().ok()) {
            let rate = raw_coalesced_verify_rate(batch);
            println!("batch     coalesced, {batch:>5} signatures per batch: {rate:>10.0} sig/s");
        }
    }
    let before = (
        raw_batch_verify_rate(),
        raw_coalesced_verify_rate(COALESCED_BATCH),
    );
    let (elapsed, peak_kib, walked, sigs) = run_verify_child(&data);
    let after = (
        raw_batch_verify_rate(),
        raw_coalesced_verify_rate(COALESCED_BATCH),
    );
    let verify_rate = (before.0 + after.0) / 2.0;
    let coalesced_rate = (before.1 + after.1) / 2.0;
    println!(
        "baseline  raw batch verification, all cores: {verify_rate:>10.0} sig/s (mean of {:.0} before and {:.0} after)",
        before.0, after.0
    );
    println!(
        "baseline  raw coalesced batch verification (ledger key mix, {COALESCED_BATCH} per batch), all cores: {coalesced_rate:>10.0} sig/s (mean of {:.0} and {:.0})",
        before.1, after.1
    );
    let sigs = sigs as f64;
    let rate = sigs / elapsed.as_secs_f64();
    println!(
        "verify    {walked} entries in {:.1}s: {rate:>10.0} sig/s = {:.2}x batch verification = {:.2}x coalesced; peak memory {} MiB",
        elapsed.as_secs_f64(),
        rate / verify_rate,
        rate / coalesced_rate,
        peak_kib / 1024
    );
    rt.block_on(proofs(&data));
}

/// Appends at each writer count, after the two baselines that bound them.
fn append_part(
    rt: &tokio::runtime::Runtime,
    dir: &Path,
    counts: &[usize],
    sign_rate: f64,
    postgres: Option<&str>,
) {
    // What bounds the appends: a writer waits for its commit, so 64 writers put at most 64
    // entries in each commit, and each commit waits for one flush of the write-ahead log.
    let flush = flush_latency(dir);
    let most = counts.iter().copied().max().unwrap_or(1);
    println!(
        "baseline  fdatasync of 4 KiB on this disk: {:.2} ms, so at most {most} / {:.2} ms = {:.0} entries/s = {:.2}x signing at {most} writers",
        flush.as_secs_f64() * 1e3,
        flush.as_secs_f64() * 1e3,
        most as f64 / flush.as_secs_f64(),
        most as f64 / flush.as_secs_f64() / sign_rate
    );
    let _ = std::fs::remove_dir_all(dir.join("store-only"));
    let bare = rt.block_on(store_only_rate(&dir.join("store-only"), most));
    println!(
        "baseline  the SQLite store alone, {most} prepared rows per commit: {bare:>10.0} rows/s = {:.2}x signing",
        bare / sign_rate
    );
    for &writers in counts {
        let at = dir.join(format!("w{writers}"));
        // Appends always start from a new ledger.
        let _ = std::fs::remove_dir_all(&at);
        // Each run is set against signing measured just before and just after it: on a shared
        // machine one core's rate moves by a third within minutes, and the run's own moment
        // is what it competed with.
        let before = raw_sign_rate();
        let rate = rt.block_on(append_rate(&at, writers));
        let after = raw_sign_rate();
        let around = (before + after) / 2.0;
        println!(
            "append    {writers:>2} writers, SQLite synchronous=FULL:  {rate:>10.0} entries/s = {:.2}x signing ({around:.0} sig/s, mean of {before:.0} before and {after:.0} after)",
            rate / around
        );
        if let Some(url) = postgres {
            let before = raw_sign_rate();
            let rate = rt.block_on(postgres_append_rate(url, writers));
            let after = raw_sign_rate();
            let around = (before + after) / 2.0;
            println!(
                "append    {writers:>2} writers, PostgreSQL:               {rate:>10.0} entries/s = {:.2}x signing ({around:.0} sig/s, mean of {before:.0} before and {after:.0} after)",
                rate / around
            );
        }
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn raw_sign_rate() -> f64 {
    let key = SecretKey::generate();
    let msg = [7u8; 32];
    let n = 40_000;
    let start = Instant::now();
    for _ in 0..n {
        std::hint::black_box(key.sign(std::hint::black_box(&msg)));
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// Mean time of writing 4 KiB in place and waiting for it to be durable, in `dir`.
fn flush_latency(dir: &Path) -> Duration {
    use std::os::unix::fs::FileExt as _;
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("flush-probe");
    let file = std::fs::File::create(&path).unwrap();
    file.write_all_at(&vec![0u8; 1 << 20], 0).unwrap();
    file.sync_all().unwrap();
    let n = 300u32;
    let start = Instant::now();
    for i in 0..n {
        let offset = u64::from(i % 256) * 4096;
        file.write_all_at(&[i as u8; 4096], offset).unwrap();
        file.sync_data().unwrap();
    }
    let mean = start.elapsed() / n;
    drop(file);
    let _ = std::fs::remove_file(path);
    mean
}

/// Rows committed per second by the SQLite store alone: batches of `rows` prepared rows of
/// the benchmark's size, with their tree nodes, and nothing hashed, signed or awaited.
async fn store_only_rate(dir: &Path, rows: usize) -> f64 {
    use custodia_ledger::entry::ChainHash;
    use custodia_ledger::merkle::Frontier;
    use custodia_ledger::store::{
        sqlite::SqliteStore, Result, Row, SealedBatch, Sealer, Store, TxView,
    };
    struct Prepared {
        rows: usize,
        frontier: Frontier,
        versions: std::collections::HashMap<String, u64>,
        line: String,
        n: u64,
    }
    impl Sealer for Prepared {
        fn streams(&self) -> Vec<String> {
            Vec::new()
        }
        fn frontier_size(&self) -> u64 {
            self.frontier.size()
        }
        fn seal(&mut self, view: TxView) -> Result<SealedBatch> {
            let mut batch = SealedBatch::default();
            for (i, seq) in (view.head.size..).take(self.rows).enumerate() {
                self.n += 1;
                let stream = format!("risk/W{i}-{}", self.n % 100);
                let version = self.versions.entry(stream.clone()).or_insert(0);
                *version += 1;
                let hash = ChainHash(*blake3::hash(&seq.to_le_bytes()).as_bytes());
                batch.nodes.extend(self.frontier.push(hash.0));
                batch.rows.push(Row {
                    seq,
                    hash,
                    stream,
                    version: *version,
                    event_type: "risk.assessed".into(),
                    recorded_at_micros: seq as i64,
                    occurred_at_micros: seq as i64,
                    line: self.line.clone(),
                });
            }
            Ok(batch)
        }
    }
    std::fs::create_dir_all(dir).unwrap();
    let store = SqliteStore::open(&dir.join("ledger.db"), true)
        .await
        .unwrap();
    // A line as long as the appended entries' lines.
    let line = "x".repeat(event("risk/W0-0".into(), 0).to_value().to_string().len() + 420);
    let mut sealer = Prepared {
        rows,
        frontier: Frontier::new(),
        versions: Default::default(),
        line,
        n: 0,
    };
    let run_for = Duration::from_secs(3);
    let start = Instant::now();
    let mut total = 0;
    while start.elapsed() < run_for {
        total += store.append(&mut sealer).await.unwrap().rows.len();
    }
    let rate = total as f64 / start.elapsed().as_secs_f64();
    store.close().await;
    rate
}

/// The headline baseline: ed25519-dalek's batch verification, 4096 signatures per batch by 64
/// distinct keys (every key's point enters the multiscalar multiplication once per signature),
/// on every core.
fn raw_batch_verify_rate() -> f64 {
    let keys: Vec<SecretKey> = (0..64).map(|_| SecretKey::generate()).collect();
    let batch = 4096;
    let items = signed(batch, |i| &keys[i % keys.len()]);
    on_all_cores(batch, || {
        let msgs: Vec<&[u8]> = items.iter().map(|i| i.0.as_slice()).collect();
        let sigs: Vec<_> = items.iter().map(|i| i.1).collect();
        let keys: Vec<_> = items.iter().map(|i| *i.2.verifying_key()).collect();
        ed25519_dalek::verify_batch(&msgs, &sigs, &keys).unwrap();
    })
}

/// The second baseline: coalesced batch verification (ed25519-zebra, the terms of each key
/// summed) with a ledger's key mix: three signatures in four by the node key, the rest by four
/// author keys; `batch` signatures per batch, on every core.
fn raw_coalesced_verify_rate(batch: usize) -> f64 {
    let node = SecretKey::generate();
    let authors: Vec<SecretKey> = (0..4).map(|_| SecretKey::generate()).collect();
    let items = signed(batch, |i| {
        if i % 4 == 3 {
            &authors[(i / 4) % authors.len()]
        } else {
            &node
        }
    });
    on_all_cores(batch, || {
        let mut verifier = ed25519_zebra::batch::Verifier::new();
        for (msg, sig, key) in &items {
            let key = ed25519_zebra::VerificationKeyBytes::from(*key.as_bytes());
            verifier.queue((key, *sig, msg.as_slice()));
        }
        verifier.verify(rand::thread_rng()).unwrap();
    })
}

type Signed = (
    Vec<u8>,
    ed25519_dalek::Signature,
    custodia_ledger::keys::PublicKey,
);

fn signed<'k>(n: usize, key: impl Fn(usize) -> &'k SecretKey) -> Vec<Signed> {
    (0..n)
        .map(|i| {
            let msg = blake3::hash(&i.to_le_bytes()).as_bytes().to_vec();
            (msg.clone(), key(i).sign(&msg), key(i).public())
        })
        .collect()
}

/// Signatures per second when every core runs `verify_one_batch` (`batch` signatures) over and
/// over, about 32,768 signatures per core.
fn on_all_cores(batch: usize, verify_one_batch: impl Fn() + Sync) -> f64 {
    let rounds = 32_768usize.div_ceil(batch);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..cores() {
            s.spawn(|| {
                for _ in 0..rounds {
                    verify_one_batch();
                }
            });
        }
    });
    (rounds * batch * cores()) as f64 / start.elapsed().as_secs_f64()
}

fn event(stream: String, i: u64) -> Event {
    let data = serde_json::json!({
        "title": "Container seal tampering at transshipment",
        "category": "cargo_tampering",
        "likelihood": i % 5 + 1,
        "impact": (i / 5) % 5 + 1,
        "owner": "user:alice@acme.example",
    });
    Event::new(
        &stream,
        1,
        "risk.assessed",
        1,
        Timestamp::now(),
        "user:alice@acme.example",
        data.as_object().unwrap().clone(),
    )
    .unwrap()
}

async fn open(dir: &Path) -> Arc<Ledger> {
    let options = InitOptions {
        name: "acme.example/bench".into(),
        actor: "user:ceo".into(),
        root_passphrase: None,
    };
    Ledger::init(dir, &options).await.unwrap();
    Arc::new(Ledger::open(dir).await.unwrap())
}

async fn append_rate(dir: &Path, writers: usize) -> f64 {
    rate_of(open(dir).await, writers).await
}

/// Appends on a fresh PostgreSQL schema (dropped afterwards) at `writers` concurrent writers.
async fn postgres_append_rate(url: &str, writers: usize) -> f64 {
    use sqlx::{Connection as _, Executor as _};
    use std::str::FromStr as _;
    let schema = format!("custodia_bench_{}_{writers}", std::process::id());
    let options = sqlx::postgres::PgConnectOptions::from_str(url)
        .unwrap()
        .options([("search_path", schema.as_str())]);
    let mut admin = sqlx::PgConnection::connect_with(&options).await.unwrap();
    admin
        .execute(format!("CREATE SCHEMA {schema}").as_str())
        .await
        .unwrap();
    let store = custodia_ledger::store::postgres::PgStore::connect(options, &schema)
        .await
        .unwrap();
    let (root, node) = (SecretKey::generate(), SecretKey::generate());
    Ledger::create_on(&store, "acme.example/bench", "user:ceo", &root, &node)
        .await
        .unwrap();
    let ledger = Ledger::open_store(Arc::new(store), node, Default::default())
        .await
        .unwrap();
    let rate = rate_of(Arc::new(ledger), writers).await;
    admin
        .execute(format!("DROP SCHEMA {schema} CASCADE").as_str())
        .await
        .unwrap();
    rate
}

async fn rate_of(ledger: Arc<Ledger>, writers: usize) -> f64 {
    // CUSTODIA_BENCH_APPEND_SECS (default 4) sets each append run's length. A new ledger's
    // WAL grows for its first 64 MiB (about 2.5 s at 64 writers here) and is then reused in
    // place, which syncs faster: a longer run weighs the sustained rate more.
    let secs = std::env::var("CUSTODIA_BENCH_APPEND_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    let run_for = Duration::from_secs(secs);
    let start = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let ledger = ledger.clone();
            tokio::spawn(async move {
                let mut n = 0u64;
                while start.elapsed() < run_for {
                    let request = AppendRequest {
                        event: event(format!("risk/W{w}-{}", n % 100), n),
                        attestation: None,
                        expect: Expect::Next,
                    };
                    ledger.append(request).await.unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    total as f64 / start.elapsed().as_secs_f64()
}

async fn fill(dir: &Path, entries: u64) {
    let ledger = open(dir).await;
    let alice = SecretKey::from_seed(&[3; 32]);
    register_alice(&ledger, &dir.join("keys/root.pem"), &alice).await;
    let start = Instant::now();
    let writers = 64u64;
    let per = entries.saturating_sub(3) / writers;
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let ledger = ledger.clone();
            let alice = alice.clone();
            tokio::spawn(async move {
                for n in 0..per {
                    let ev = event(format!("risk/F{w}-{n}"), n);
                    // Every third event is attested by its author, as client-signed events are.
                    let attestation = (n % 3 == 0).then(|| ev.attest(&alice).unwrap());
                    let expect = Expect::Exact;
                    ledger
                        .append(AppendRequest {
                            event: ev,
                            attestation,
                            expect,
                        })
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    ledger.checkpoint().await.unwrap();
    println!(
        "filled    {} entries in {:.1}s",
        ledger.size().await.unwrap(),
        start.elapsed().as_secs_f64()
    );
}

async fn register_alice(ledger: &Ledger, root_file: &Path, alice: &SecretKey) {
    use custodia_ledger::keys::{KeyChange, Purpose, KEYS_STREAM};
    let root = SecretKey::read_pem(root_file, None).unwrap();
    let data = KeyChange::registration_data(
        &alice.public(),
        "user:alice@acme.example",
        &[Purpose::Attest],
        None,
    );
    let ev = Event::new(
        KEYS_STREAM,
        2,
        "key.registered",
        1,
        Timestamp::now(),
        "user:ceo",
        data,
    )
    .unwrap();
    let attestation = Some(ev.attest(&root).unwrap());
    ledger
        .append(AppendRequest {
            event: ev,
            attestation,
            expect: Expect::Exact,
        })
        .await
        .unwrap();
}

fn run_verify_child(data: &Path) -> (Duration, u64, u64, u64) {
    let start = Instant::now();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([VERIFY_CHILD, &data.display().to_string()])
        .output()
        .unwrap();
    let elapsed = start.elapsed();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut fields = text
        .split_whitespace()
        .map(|f| f.parse::<u64>().unwrap_or(0));
    let mut next = || fields.next().unwrap_or(0);
    (elapsed, next(), next(), next())
}

/// In the child: verify the store, then print peak resident memory (KiB), entries walked and
/// signatures checked.
fn verify_child(data: &Path) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let report = rt.block_on(async {
        let store =
            custodia_ledger::store::sqlite::SqliteStore::open(&data.join("ledger.db"), false)
                .await
                .unwrap();
        bundle::verify_store(&store, None, &|_| {}).await.unwrap()
    });
    assert!(
        report.is_ok(),
        "{:?}",
        &report.violations[..report.violations.len().min(5)]
    );
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let peak = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
        .unwrap_or(0);
    println!("{peak} {} {}", report.entries, report.signatures);
}

async fn proofs(data: &Path) {
    let store = custodia_ledger::store::sqlite::SqliteStore::open(&data.join("ledger.db"), false)
        .await
        .unwrap();
    let node = SecretKey::read_pem(&data.join("keys/node.pem"), None).unwrap();
    let ledger = Ledger::open_store(Arc::new(store), node, Default::default())
        .await
        .unwrap();
    let size = ledger.size().await.unwrap();
    let n = 2000u64;
    let start = Instant::now();
    for i in 0..n {
        let index = (i * 7_919_993) % size;
        std::hint::black_box(ledger.inclusion_proof(index, size).await.unwrap());
    }
    let inclusion = start.elapsed() / n as u32;
    let start = Instant::now();
    for i in 0..n {
        let m = 1 + (i * 7_919_993) % size;
        std::hint::black_box(ledger.consistency_proof(m, size).await.unwrap());
    }
    let consistency = start.elapsed() / n as u32;
    println!("proofs    at {size} entries, from stored nodes: inclusion {inclusion:?}, consistency {consistency:?} each");
}

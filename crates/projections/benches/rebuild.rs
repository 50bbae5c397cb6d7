//! Projection benchmarks on a large SQLite ledger, reported as ratios against a baseline
//! measured in the same run (the machine is shared and noisy):
//!
//! - rebuilding every read model from the ledger, against simply reading and decoding the same
//!   entries from the store (target ≥ 0.5×);
//! - `as_of` a random transaction date, answered from the nearest snapshot, plus the KPI board
//!   at that date (target: median < 100 ms, p95 < 250 ms).
//!
//! `cargo bench -p custodia-projections --bench rebuild`
//!
//! `CUSTODIA_BENCH_ENTRIES` (default 1,000,000) sets the ledger size; `CUSTODIA_BENCH_DIR`
//! keeps the ledger there and reuses it on the next run when it is at least that large.
//! The ledger is filled with the domain's reference scenario through `Ledger::append` from 64
//! concurrent tasks; each stream goes to one task so its versions stay in order.

use custodia_domain::scenario::{generate_each, ScenarioConfig};
use custodia_domain::{Envelope, Timestamp};
use custodia_ledger::ledger::{InitOptions, Ledger};
use custodia_ledger::writer::{AppendRequest, Expect};
use custodia_projections::kpi::Board;
use custodia_projections::{Projector, ProjectorConfig, Record, SnapshotStore};
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const WRITERS: usize = 64;
/// Events the scenario adds per unit of scale (about; see the domain's crate doc).
const EVENTS_PER_SCALE: u64 = 5_300;

fn main() {
    let entries: u64 = std::env::var("CUSTODIA_BENCH_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let temp = tempfile::tempdir().unwrap();
    let kept = std::env::var_os("CUSTODIA_BENCH_DIR").map(std::path::PathBuf::from);
    let dir = kept.as_deref().unwrap_or(temp.path()).to_owned();
    rt.block_on(run(&dir, entries));
}

async fn run(dir: &Path, entries: u64) {
    let ledger = Arc::new(ensure_ledger(dir, entries).await);
    let size = ledger.size().await.unwrap();
    println!("custodia projections benchmark: {size} entries");

    let (read_seconds, decoded) = read_and_decode(&ledger).await;
    let read_rate = size as f64 / read_seconds;
    println!("baseline  read + decode from the store: {read_rate:>10.0} entries/s ({decoded} domain events)");

    if std::env::var_os("CUSTODIA_BENCH_FOLD_ONLY").is_some() {
        fold_only(&ledger).await;
    }
    let snapshot_file = tempfile::NamedTempFile::new().unwrap();
    let snapshots = SnapshotStore::open(snapshot_file.path()).await.unwrap();
    let start = Instant::now();
    let projector = Projector::open(
        ledger.store().clone(),
        snapshots,
        ProjectorConfig::default(),
    )
    .await
    .unwrap();
    let rebuild_seconds = start.elapsed().as_secs_f64();
    let rebuild_rate = size as f64 / rebuild_seconds;
    println!(
        "rebuild   every read model, snapshots kept:  {rebuild_rate:>10.0} entries/s = {:.2}x read + decode (target >= 0.5x)",
        rebuild_rate / read_rate
    );
    println!(
        "          {} risks, {} incidents, {} suppliers, {} people",
        projector.current().risks.len(),
        projector.current().incidents.len(),
        projector.current().suppliers.len(),
        projector.current().people.len()
    );
    as_of_queries(&ledger, &projector).await;
}

async fn as_of_queries(ledger: &Ledger, projector: &Projector) {
    let first = ledger.entry(0).await.unwrap().unwrap().recorded_at.micros();
    let last = ledger
        .entry(projector.size() - 1)
        .await
        .unwrap()
        .unwrap()
        .recorded_at
        .micros();
    let mut rng = custodia_domain::scenario::SplitMix64::new(2026);
    let (mut total, mut model_only) = (Vec::new(), Vec::new());
    for _ in 0..200 {
        let t = first + rng.range(0, (last - first).max(1));
        let t = Timestamp::from_micros(t).unwrap();
        let start = Instant::now();
        let model = projector.as_of(t).await.unwrap();
        model_only.push(start.elapsed());
        let board = Board::compute(&model, t);
        total.push(start.elapsed());
        std::hint::black_box(board);
    }
    let (median, p95) = percentiles(&mut total);
    println!(
        "as_of     random date + KPI board, 200 queries: median {median:.1} ms (target < 100), p95 {p95:.1} ms (target < 250)"
    );
    let (median, p95) = percentiles(&mut model_only);
    println!("          of which the model as of the date: median {median:.1} ms, p95 {p95:.1} ms");
    if std::env::var_os("CUSTODIA_BENCH_VERBOSE").is_some() {
        board_breakdown(projector.current());
    }
    valid_at_queries(projector, first, &mut rng).await;
}

/// Each KPI on the full model, to see where the board's time goes.
fn board_breakdown(m: &custodia_projections::Model) {
    use custodia_projections::kpi;
    let at = m.position().max_occurred.unwrap();
    let time = |name: &str, f: &dyn Fn()| {
        let start = Instant::now();
        f();
        println!(
            "          {name}: {:.1} ms",
            start.elapsed().as_secs_f64() * 1000.0
        );
    };
    time("incidents_per_month", &|| {
        std::hint::black_box(kpi::incidents_per_month(m, at));
    });
    time("mean_time_to_contain", &|| {
        std::hint::black_box(kpi::mean_time_to_contain(m, at));
    });
    time("capa", &|| {
        std::hint::black_box(kpi::capa(m, at));
    });
    time("supplier_screening", &|| {
        std::hint::black_box(kpi::supplier_screening(m, at));
    });
    time("training_coverage", &|| {
        std::hint::black_box(kpi::training_coverage(m, at));
    });
    time("policy_acknowledgement", &|| {
        std::hint::black_box(kpi::policy_acknowledgement(m));
    });
    time("clone", &|| {
        std::hint::black_box(m.clone());
    });
}

/// `valid_at` reads every entry after its starting snapshot (passing over, undecoded, those
/// that happened later), so it is measured on fewer queries and has no target.
async fn valid_at_queries(
    projector: &Projector,
    first: i64,
    rng: &mut custodia_domain::scenario::SplitMix64,
) {
    let occurred = projector
        .current()
        .position()
        .max_occurred
        .unwrap()
        .micros();
    // Foreign entries (genesis, keys) do not count towards max_occurred, so the first
    // thousand entries date the scenario's start.
    let earliest = projector
        .as_of_size(1000)
        .await
        .unwrap()
        .position()
        .max_occurred
        .map_or(first, |t| t.micros());
    let mut times = Vec::new();
    for _ in 0..10 {
        let t =
            Timestamp::from_micros(earliest + rng.range(0, (occurred - earliest).max(1))).unwrap();
        let start = Instant::now();
        let model = projector.valid_at(t).await.unwrap();
        times.push(start.elapsed());
        if std::env::var_os("CUSTODIA_BENCH_VERBOSE").is_some() {
            println!(
                "          valid_at {t}: {} of {} events, position {}",
                model.event_count(),
                projector.current().event_count(),
                model.position().size
            );
        }
    }
    let (median, p95) = percentiles(&mut times);
    println!("valid_at  random business date, 10 queries: median {median:.1} ms, max {p95:.1} ms");
    let peak = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(str::to_owned)
        });
    println!(
        "memory    peak resident: {}",
        peak.unwrap_or_else(|| "unknown".into())
    );
}

/// Median and 95th percentile, in milliseconds.
fn percentiles(times: &mut [Duration]) -> (f64, f64) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (
        ms(times[times.len() / 2]),
        ms(times[times.len() * 95 / 100]),
    )
}

/// Folds records held in memory: the fold's own cost, without the store.
async fn fold_only(ledger: &Ledger) {
    let rows = ledger.store().read(0, 200_000).await.unwrap();
    let records: Vec<Record> = rows.iter().map(Record::from_row).collect();
    let start = Instant::now();
    let model = custodia_projections::Model::fold(&records);
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "fold only {} records in memory: {:>10.0} entries/s",
        records.len(),
        records.len() as f64 / seconds
    );
    std::hint::black_box(model);
}

/// Reads every row and decodes it as the fold would, folding nothing: the baseline.
async fn read_and_decode(ledger: &Ledger) -> (f64, u64) {
    let store = ledger.store();
    let limit = custodia_ledger::ledger::READ_ROWS_MAX;
    let (mut from, mut events) = (0u64, 0u64);
    let start = Instant::now();
    loop {
        let rows = store.read(from, limit).await.unwrap();
        for row in &rows {
            let record = Record::from_row(row);
            events += u64::from(matches!(record.body, custodia_projections::Body::Event(_)));
        }
        from += rows.len() as u64;
        if rows.len() < limit as usize {
            return (start.elapsed().as_secs_f64(), events);
        }
    }
}

async fn ensure_ledger(dir: &Path, entries: u64) -> Ledger {
    if dir.join(custodia_ledger::ledger::DB_FILE).exists() {
        let ledger = Ledger::open(dir).await.unwrap();
        if ledger.size().await.unwrap() >= entries {
            return ledger;
        }
        panic!(
            "{} holds a smaller ledger; remove it or choose another CUSTODIA_BENCH_DIR",
            dir.display()
        );
    }
    let options = InitOptions {
        name: "acme.example/bench".into(),
        actor: "user:ceo@acme.example".into(),
        root_passphrase: None,
    };
    Ledger::init(dir, &options).await.unwrap();
    let ledger = Ledger::open(dir).await.unwrap();
    fill(&ledger, entries).await;
    ledger
}

/// Generates the scenario on a blocking thread and appends it from `WRITERS` tasks, each
/// stream always on the same task so its versions arrive in order.
async fn fill(ledger: &Ledger, entries: u64) {
    let start = Instant::now();
    let target = entries.saturating_sub(2);
    let scale = u32::try_from(target / EVENTS_PER_SCALE + 2).unwrap();
    let mut senders = Vec::new();
    let mut tasks = Vec::new();
    for _ in 0..WRITERS {
        let (tx, mut rx) = mpsc::channel::<Envelope>(1024);
        senders.push(tx);
        let writer = ledger.writer().clone();
        tasks.push(tokio::spawn(async move {
            while let Some(envelope) = rx.recv().await {
                let event = custodia_ledger::entry::Event::from_value(&envelope.to_json()).unwrap();
                let request = AppendRequest {
                    event,
                    attestation: None,
                    expect: Expect::Exact,
                };
                writer.append(request).await.unwrap();
            }
        }));
    }
    let generator = tokio::task::spawn_blocking(move || {
        let mut sent = 0u64;
        let config = ScenarioConfig { seed: 7, scale };
        generate_each(config, |envelope| {
            if sent < target {
                let mut h = std::collections::hash_map::DefaultHasher::new();
                envelope.stream.hash(&mut h);
                let lane = (h.finish() % WRITERS as u64) as usize;
                senders[lane].blocking_send(envelope.clone()).unwrap();
                sent += 1;
            }
        })
        .unwrap();
        sent
    });
    let sent = generator.await.unwrap();
    for task in tasks {
        task.await.unwrap();
    }
    println!(
        "filled    {sent} events in {:.1} s",
        start.elapsed().as_secs_f64()
    );
}

//! Crash safety: a child process appends from many tasks and is killed with SIGKILL at varied
//! moments; after each kill the ledger verifies and holds every append that was acknowledged.
//!
//! The child is this same test, re-run by the parent in a process of its own with
//! `CUSTODIA_CRASH_CHILD` naming the ledger; there it appends until it is killed. No extra
//! binary is needed, and no test function passes without checking anything.

mod crash_child;

use custodia_ledger::bundle;
use custodia_ledger::entry::{ChainHash, Event};
use custodia_ledger::ledger::{InitOptions, Ledger};
use custodia_ledger::time::Timestamp;
use custodia_ledger::writer::{AppendRequest, Expect};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const CHILD_ENV: &str = "CUSTODIA_CRASH_CHILD";
/// The test the parent re-runs as the child.
const THIS_TEST: &str = "killed_writers_lose_no_acknowledged_append";
const ROUNDS: u64 = 24;
const WRITERS: usize = 32;

/// In the child: append forever from many tasks to the ledger in `dir`, printing each
/// acknowledgement, until the parent kills the process.
fn append_until_killed(dir: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let ledger = Arc::new(Ledger::open(Path::new(&dir)).await.unwrap());
        let tasks: Vec<_> = (0..WRITERS)
            .map(|w| tokio::spawn(append_forever(ledger.clone(), w)))
            .collect();
        for t in tasks {
            let _ = t.await;
        }
    });
}

async fn append_forever(ledger: Arc<Ledger>, writer: usize) {
    let pid = std::process::id();
    for i in 0u64.. {
        let data = serde_json::json!({"writer": writer, "i": i, "pid": pid});
        let event = Event::new(
            &format!("incident/I-{}", (writer as u64 * 31 + i) % 50),
            1,
            "incident.reported",
            1,
            Timestamp::now(),
            "service:crash-test",
            data.as_object().unwrap().clone(),
        )
        .unwrap();
        let request = AppendRequest {
            event,
            attestation: None,
            expect: Expect::Next,
        };
        crash_child::acknowledge(&ledger.append(request).await.unwrap());
    }
}

#[test]
fn killed_writers_lose_no_acknowledged_append() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        return append_until_killed(&dir);
    }
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let options = InitOptions {
        name: "acme.example/crash".into(),
        actor: "user:ceo".into(),
        root_passphrase: None,
    };
    rt.block_on(Ledger::init(dir.path(), &options)).unwrap();
    let mut acked: Vec<(u64, String)> = Vec::new();
    for round in 0..ROUNDS {
        // Varied kill moments, from during start-up to well into the appends.
        let after = Duration::from_millis(20 + (round * 7919) % 220);
        let child = (CHILD_ENV, dir.path().to_str().unwrap());
        let new = crash_child::run_and_kill(THIS_TEST, false, child, after);
        acked.extend(new);
        rt.block_on(check_after_kill(dir.path(), &acked, round));
    }
    assert!(
        acked.len() > 100,
        "too few appends were acknowledged: {}",
        acked.len()
    );
    eprintln!(
        "{} acknowledged appends survived {ROUNDS} kills",
        acked.len()
    );
}

async fn check_after_kill(dir: &Path, acked: &[(u64, String)], round: u64) {
    let store = custodia_ledger::store::sqlite::SqliteStore::open(&dir.join("ledger.db"), false)
        .await
        .unwrap();
    let report = bundle::verify_store(&store, None, &|_| {}).await.unwrap();
    assert!(report.is_ok(), "round {round}: {:?}", report.violations);
    let mut stored = std::collections::HashMap::new();
    loop {
        let rows = custodia_ledger::store::Store::read(&store, stored.len() as u64, 4096)
            .await
            .unwrap();
        if rows.is_empty() {
            break;
        }
        stored.extend(rows.into_iter().map(|r| (r.seq, r.hash)));
    }
    for (seq, hash) in acked {
        assert_eq!(
            stored.get(seq).copied(),
            ChainHash::from_hex(hash),
            "round {round}: acknowledged seq {seq} is missing or changed"
        );
    }
    store.close().await;
}

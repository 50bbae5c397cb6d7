//! One conformance suite for every storage backend: appends, conflicts, reads, proofs,
//! checkpoints, several writers on one database, and tamper detection by direct SQL. Each
//! backend's test file runs every function here against its own fresh databases.

use custodia_ledger::bundle;
use custodia_ledger::entry::Event;
use custodia_ledger::keys::SecretKey;
use custodia_ledger::ledger::Ledger;
use custodia_ledger::merkle;
use custodia_ledger::store::Store;
use custodia_ledger::time::Timestamp;
use custodia_ledger::verify::Report;
use custodia_ledger::writer::{AppendError, AppendRequest, Expect};
use std::collections::HashSet;
use std::sync::Arc;

/// A fresh, empty database of one backend.
#[async_trait::async_trait]
pub(crate) trait Backend: Send + Sync {
    /// Opens a new connection to this database as a store.
    async fn store(&self) -> Arc<dyn Store>;
    /// Runs SQL directly against the tables, as an attacker with database access would;
    /// returns the rows affected.
    async fn exec(&self, sql: &str) -> u64;
    /// An SQL expression for 32 bytes that differ from `hash`.
    fn other_bytes(&self) -> &'static str;
}

pub(crate) const ROOT_SEED: [u8; 32] = [1; 32];
pub(crate) const NODE_SEED: [u8; 32] = [2; 32];

fn nothing(_: u64) {}

fn event(stream: &str, version: u64) -> Event {
    let data = serde_json::json!({"title": "Seal tampering at Rotterdam", "version": version});
    Event::new(
        stream,
        version,
        "risk.assessed",
        1,
        Timestamp::now(),
        "user:alice",
        data.as_object().unwrap().clone(),
    )
    .unwrap()
}

fn next(stream: &str) -> AppendRequest {
    AppendRequest {
        event: event(stream, 1),
        attestation: None,
        expect: Expect::Next,
    }
}

/// Creates the ledger on the backend and opens it.
pub(crate) async fn ledger(backend: &dyn Backend) -> Arc<Ledger> {
    let store = backend.store().await;
    let (root, node) = (
        SecretKey::from_seed(&ROOT_SEED),
        SecretKey::from_seed(&NODE_SEED),
    );
    Ledger::create_on(
        &*store,
        "acme.example/conformance",
        "user:ceo",
        &root,
        &node,
    )
    .await
    .unwrap();
    Arc::new(
        Ledger::open_store(store, node, Default::default())
            .await
            .unwrap(),
    )
}

async fn opened(backend: &dyn Backend) -> Arc<Ledger> {
    let node = SecretKey::from_seed(&NODE_SEED);
    Arc::new(
        Ledger::open_store(backend.store().await, node, Default::default())
            .await
            .unwrap(),
    )
}

fn assert_ok(report: &Report) {
    assert!(report.is_ok(), "violations: {:#?}", report.violations);
}

/// Concurrent appends chain, read back in order and by stream and hash, and verify.
pub(crate) async fn appends_and_reads(backend: &dyn Backend) {
    let ledger = ledger(backend).await;
    let tasks: Vec<_> = (0..8)
        .map(|w| {
            let ledger = ledger.clone();
            tokio::spawn(async move {
                let mut seqs = Vec::new();
                for i in 0..25 {
                    let stream = format!("risk/R-{}", (w * 3 + i) % 10);
                    seqs.push(ledger.append(next(&stream)).await.unwrap().seq);
                }
                seqs
            })
        })
        .collect();
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.extend(t.await.unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (2..202).collect::<Vec<u64>>());
    let store = ledger.store();
    let rows = store.read(0, 1000).await.unwrap();
    assert_eq!(
        rows.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (0..202).collect::<Vec<u64>>()
    );
    let stream = ledger.stream("risk/R-3").await.unwrap();
    let versions: Vec<u64> = stream.iter().map(|e| e.event.version()).collect();
    assert_eq!(versions, (1..=stream.len() as u64).collect::<Vec<_>>());
    let found = store.row_by_hash(&rows[57].hash).await.unwrap().unwrap();
    assert_eq!(found, rows[57]);
    assert_ok(
        &bundle::verify_store(&**store, None, &nothing)
            .await
            .unwrap(),
    );
}

/// Of two appends at one stream version exactly one wins; the loser writes nothing.
pub(crate) async fn conflicts(backend: &dyn Backend) {
    let ledger = ledger(backend).await;
    ledger.append(next("risk/R-1")).await.unwrap();
    let racers: Vec<_> = (0..2)
        .map(|_| {
            let ledger = ledger.clone();
            tokio::spawn(async move {
                let request = AppendRequest {
                    event: event("risk/R-1", 2),
                    attestation: None,
                    expect: Expect::Exact,
                };
                ledger.append(request).await
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for r in racers {
        outcomes.push(r.await.unwrap());
    }
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1);
    assert!(outcomes
        .iter()
        .any(|o| matches!(o, Err(AppendError::Conflict { actual: 2, .. }))));
    assert_eq!(ledger.size().await.unwrap(), 4);
}

/// Proofs from stored nodes verify against the root; checkpoints are stored and verify.
pub(crate) async fn proofs_and_checkpoints(backend: &dyn Backend) {
    let ledger = ledger(backend).await;
    for i in 0..29 {
        ledger.append(next(&format!("risk/R-{i}"))).await.unwrap();
    }
    let first = ledger.checkpoint().await.unwrap();
    for i in 0..6 {
        ledger
            .append(next(&format!("incident/I-{i}")))
            .await
            .unwrap();
    }
    ledger.checkpoint().await.unwrap();
    let size = ledger.size().await.unwrap();
    let root = ledger.root(size).await.unwrap();
    for index in [0, 1, 16, size - 1] {
        let entry = ledger.entry(index).await.unwrap().unwrap();
        let proof = ledger.inclusion_proof(index, size).await.unwrap();
        merkle::verify_inclusion(
            &merkle::leaf_hash(&entry.hash.0),
            index,
            size,
            &proof,
            &root,
        )
        .unwrap();
    }
    for m in [1, 7, 31, size] {
        let proof = ledger.consistency_proof(m, size).await.unwrap();
        merkle::verify_consistency(m, size, &proof, &ledger.root(m).await.unwrap(), &root).unwrap();
    }
    assert_eq!(
        ledger.store().checkpoint_sizes().await.unwrap(),
        vec![31, size]
    );
    let report = bundle::verify_store(&**ledger.store(), Some(&first), &nothing)
        .await
        .unwrap();
    assert_ok(&report);
    assert_eq!(
        (report.checkpoints_verified, report.trusted_consistent),
        (2, Some(true))
    );
}

/// Two ledgers opened on one database (as two nodes would) append concurrently: one chain, no
/// fork, no gap, every acknowledged entry present once, no stream version twice.
pub(crate) async fn two_writers_one_chain(backend: &dyn Backend) {
    let first = ledger(backend).await;
    let second = opened(backend).await;
    let mut tasks = Vec::new();
    for (n, ledger) in [first.clone(), second.clone()].into_iter().enumerate() {
        for w in 0..16 {
            let ledger = ledger.clone();
            tasks.push(tokio::spawn(async move {
                let mut acked = Vec::new();
                for i in 0..12 {
                    // Overlapping streams: both nodes write to the same ten.
                    let stream = format!("risk/R-{}", (n * 5 + w + i) % 10);
                    acked.push(ledger.append(next(&stream)).await.unwrap());
                }
                acked
            }));
        }
    }
    let mut acked = Vec::new();
    for t in tasks {
        acked.extend(t.await.unwrap());
    }
    let rows = first.store().read(0, 10_000).await.unwrap();
    assert_eq!(rows.len(), 2 + 2 * 16 * 12);
    for receipt in &acked {
        assert_eq!(
            rows[receipt.seq as usize].hash, receipt.hash,
            "seq {}",
            receipt.seq
        );
    }
    let unique: HashSet<(String, u64)> =
        rows.iter().map(|r| (r.stream.clone(), r.version)).collect();
    assert_eq!(unique.len(), rows.len());
    assert_ok(
        &bundle::verify_store(&**first.store(), None, &nothing)
            .await
            .unwrap(),
    );
}

/// A change to any column of a stored entry, a stored tree node, a checkpoint, or a deleted
/// entry, made directly in the database, fails verification and names the entry.
pub(crate) async fn tamper_is_detected(fresh: &(dyn Fn() -> Box<dyn Backend> + Sync)) {
    let other = fresh().other_bytes();
    let mutations = [
        (
            Some(5),
            "UPDATE entries SET hash = OTHER WHERE seq = 5".replace("OTHER", other),
        ),
        (
            Some(5),
            "UPDATE entries SET stream = stream || 'x' WHERE seq = 5".into(),
        ),
        (
            Some(5),
            "UPDATE entries SET version = version + 100 WHERE seq = 5".into(),
        ),
        (
            Some(5),
            "UPDATE entries SET type = 'risk.closed' WHERE seq = 5".into(),
        ),
        (
            Some(5),
            "UPDATE entries SET recorded_at = recorded_at + 1 WHERE seq = 5".into(),
        ),
        (
            Some(5),
            "UPDATE entries SET occurred_at = occurred_at - 1 WHERE seq = 5".into(),
        ),
        (
            Some(5),
            "UPDATE entries SET line = replace(line, 'user:', 'user:x') WHERE seq = 5".into(),
        ),
        (Some(5), "DELETE FROM entries WHERE seq = 5".into()),
        (
            Some(5),
            "UPDATE entries SET seq = seq + 1000 WHERE seq = 5".into(),
        ),
        (
            Some(5),
            "UPDATE tree_nodes SET hash = OTHER WHERE level = 0 AND idx = 5"
                .replace("OTHER", other),
        ),
        (
            Some(7),
            "UPDATE tree_nodes SET hash = OTHER WHERE level = 3 AND idx = 0"
                .replace("OTHER", other),
        ),
        (
            None,
            "UPDATE checkpoints SET note = replace(note, 'conformance', 'conformanse')".into(),
        ),
    ];
    for (seq, sql) in mutations {
        let backend = fresh();
        let ledger = ledger(&*backend).await;
        for i in 0..10 {
            ledger
                .append(next(&format!("risk/R-{}", i % 3)))
                .await
                .unwrap();
        }
        ledger.checkpoint().await.unwrap();
        assert_ok(
            &bundle::verify_store(&**ledger.store(), None, &nothing)
                .await
                .unwrap(),
        );
        assert!(backend.exec(&sql).await > 0, "{sql} changed nothing");
        let store = backend.store().await;
        let report = bundle::verify_store(&*store, None, &nothing).await.unwrap();
        assert!(!report.is_ok(), "{sql}: not caught");
        if let Some(seq) = seq {
            assert!(
                report.violations.iter().any(|v| v.seq == Some(seq)),
                "{sql}: {:?}",
                report.violations
            );
        }
    }
}

//! The ledger end to end on SQLite: init, concurrent appends, conflicts, proofs, checkpoints,
//! export and offline verification, key rotation, and refusals that write nothing.

use custodia_ledger::bundle;
use custodia_ledger::entry::Event;
use custodia_ledger::keys::{KeyChange, Purpose, SecretKey, KEYS_STREAM};
use custodia_ledger::ledger::{InitOptions, Ledger, ROOT_KEY_FILE};
use custodia_ledger::merkle;
use custodia_ledger::time::Timestamp;
use custodia_ledger::verify::{Report, Rule};
use custodia_ledger::writer::{AppendError, AppendRequest, Expect};
use std::path::Path;
use std::sync::Arc;

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/vectors/ledger-v1");

fn event(stream: &str, version: u64, ty: &str, actor: &str) -> Event {
    let data = serde_json::json!({"title": "Seal tampering at Rotterdam", "score": 12});
    Event::new(
        stream,
        version,
        ty,
        1,
        Timestamp::parse("2026-03-01T09:55:00.000000Z").unwrap(),
        actor,
        data.as_object().unwrap().clone(),
    )
    .unwrap()
}

fn next(stream: &str) -> AppendRequest {
    AppendRequest {
        event: event(stream, 1, "risk.identified", "user:alice"),
        attestation: None,
        expect: Expect::Next,
    }
}

async fn new_ledger(dir: &Path) -> Ledger {
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
    Ledger::open(dir).await.unwrap()
}

fn nothing(_: u64) {}

fn assert_ok(report: &Report) {
    assert!(report.is_ok(), "violations: {:#?}", report.violations);
}

#[test]
fn the_vector_bundle_verifies_with_both_checkpoints() {
    let report = bundle::verify_bundle(Path::new(VECTORS), None, &nothing).unwrap();
    assert_ok(&report);
    assert_eq!(report.entries, 5);
    assert_eq!(report.checkpoints_verified, 2);
    let trusted = std::fs::read_to_string(format!("{VECTORS}/checkpoints/3")).unwrap();
    let report = bundle::verify_bundle(Path::new(VECTORS), Some(&trusted), &nothing).unwrap();
    assert_ok(&report);
    assert_eq!(report.trusted_consistent, Some(true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_chain_verify_and_export() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Arc::new(new_ledger(dir.path()).await);
    let mut tasks = Vec::new();
    for w in 0..16 {
        let ledger = ledger.clone();
        tasks.push(tokio::spawn(async move {
            let mut receipts = Vec::new();
            for i in 0..25 {
                let stream = format!("risk/R-{:04}", (w * 7 + i) % 40);
                receipts.push(ledger.append(next(&stream)).await.unwrap());
            }
            receipts
        }));
    }
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.extend(t.await.unwrap().into_iter().map(|r| r.seq));
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (2..402).collect::<Vec<u64>>());
    assert_eq!(ledger.size().await.unwrap(), 402);

    let note = ledger.checkpoint().await.unwrap();
    assert!(note.starts_with("acme.example/sms\n402\n"));
    let report = bundle::verify_store(&**ledger.store(), Some(&note), &nothing)
        .await
        .unwrap();
    assert_ok(&report);
    assert_eq!(report.checkpoints_verified, 1);
    assert_eq!(report.root, ledger.root(402).await.unwrap());

    let out = dir.path().join("bundle");
    let summary = bundle::export(&**ledger.store(), &out, &nothing)
        .await
        .unwrap();
    assert_eq!((summary.entries, summary.checkpoints), (402, 1));
    let report = bundle::verify_bundle(&out, Some(&note), &nothing).unwrap();
    assert_ok(&report);
    assert_eq!(report.entries, 402);
    let again = bundle::export(&**ledger.store(), &out, &nothing).await;
    assert!(matches!(again, Err(bundle::BundleError::NotEmpty(_))));
}

#[tokio::test]
async fn proofs_from_stored_nodes_verify_against_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = new_ledger(dir.path()).await;
    for i in 0..37 {
        ledger.append(next(&format!("risk/R-{i}"))).await.unwrap();
    }
    let size = ledger.size().await.unwrap();
    let root = ledger.root(size).await.unwrap();
    for index in [0, 1, 17, size - 1] {
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
    for m in [1, 2, 13, size] {
        let proof = ledger.consistency_proof(m, size).await.unwrap();
        let root_m = ledger.root(m).await.unwrap();
        merkle::verify_consistency(m, size, &proof, &root_m, &root).unwrap();
    }
    assert!(ledger.inclusion_proof(0, size + 1).await.is_err());
}

#[tokio::test]
async fn of_two_appends_at_one_version_exactly_one_wins() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Arc::new(new_ledger(dir.path()).await);
    ledger.append(next("risk/R-1")).await.unwrap();
    let racers: Vec<_> = (0..2)
        .map(|_| {
            let ledger = ledger.clone();
            tokio::spawn(async move {
                ledger
                    .append(AppendRequest {
                        event: event("risk/R-1", 2, "risk.assessed", "user:alice"),
                        attestation: None,
                        expect: Expect::Exact,
                    })
                    .await
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for r in racers {
        outcomes.push(r.await.unwrap());
    }
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1);
    let err = outcomes.into_iter().find_map(Result::err).unwrap();
    assert!(
        matches!(&err, AppendError::Conflict { stream, expected: 1, actual: 2 } if stream == "risk/R-1"),
        "{err}"
    );
    assert_eq!(ledger.size().await.unwrap(), 4);
}

#[tokio::test]
async fn forged_and_unauthorized_attestations_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = new_ledger(dir.path()).await;
    let stranger = SecretKey::generate();
    let ev = event("risk/R-1", 1, "risk.identified", "user:alice");
    // A valid signature by an unregistered key.
    let att = ev.attest(&stranger).unwrap();
    let err = ledger
        .append(AppendRequest {
            event: ev.clone(),
            attestation: Some(att),
            expect: Expect::Exact,
        })
        .await
        .unwrap_err();
    assert!(matches!(err, AppendError::Attestation(_)), "{err}");
    // A signature over another event.
    let other = event("risk/R-2", 1, "risk.identified", "user:alice");
    let forged = other.attest(&stranger).unwrap();
    let err = ledger
        .append(AppendRequest {
            event: ev.clone(),
            attestation: Some(forged),
            expect: Expect::Exact,
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("does not verify"), "{err}");
    // A key change without an admin attestation.
    let data = KeyChange::registration_data(&stranger.public(), "*", &[Purpose::Entry], None);
    let change = Event::new(
        KEYS_STREAM,
        2,
        "key.registered",
        1,
        Timestamp::now(),
        "user:eve",
        data,
    )
    .unwrap();
    let err = ledger
        .append(AppendRequest {
            event: change.clone(),
            attestation: None,
            expect: Expect::Exact,
        })
        .await
        .unwrap_err();
    assert!(matches!(err, AppendError::KeyChange(_)), "{err}");
    let self_signed = change.attest(&stranger).unwrap();
    let err = ledger
        .append(AppendRequest {
            event: change,
            attestation: Some(self_signed),
            expect: Expect::Exact,
        })
        .await
        .unwrap_err();
    assert!(matches!(err, AppendError::KeyChange(_)), "{err}");
    assert_eq!(ledger.size().await.unwrap(), 2, "nothing was written");
}

#[tokio::test]
async fn key_rotation_keeps_the_ledger_verifiable() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = new_ledger(dir.path()).await;
    let root = SecretKey::read_pem(&dir.path().join(ROOT_KEY_FILE), None).unwrap();
    ledger.append(next("risk/R-1")).await.unwrap();
    let old_node = ledger.store().meta("name").await.unwrap();
    assert!(old_node.is_some());

    // Register a new node key, then revoke the old one, both attested by the root key.
    let new_node = SecretKey::generate();
    let data = KeyChange::registration_data(
        &new_node.public(),
        "*",
        &[Purpose::Entry, Purpose::Checkpoint],
        Some("node-2"),
    );
    let register = Event::new(
        KEYS_STREAM,
        2,
        "key.registered",
        1,
        Timestamp::now(),
        "user:ceo",
        data,
    )
    .unwrap();
    let att = register.attest(&root).unwrap();
    ledger
        .append(AppendRequest {
            event: register,
            attestation: Some(att),
            expect: Expect::Exact,
        })
        .await
        .unwrap();
    ledger.checkpoint().await.unwrap();
    drop(ledger);

    let store =
        custodia_ledger::store::sqlite::SqliteStore::open(&dir.path().join("ledger.db"), false)
            .await
            .unwrap();
    let ledger = Ledger::open_store(Arc::new(store), new_node.clone(), Default::default())
        .await
        .unwrap();
    let old = SecretKey::read_pem(&dir.path().join("keys/node.pem"), None).unwrap();
    let mut data = serde_json::Map::new();
    data.insert("key".into(), old.public().to_base64().into());
    data.insert("reason".into(), "rotated".into());
    let revoke = Event::new(
        KEYS_STREAM,
        3,
        "key.revoked",
        1,
        Timestamp::now(),
        "user:ceo",
        data,
    )
    .unwrap();
    let att = revoke.attest(&root).unwrap();
    ledger
        .append(AppendRequest {
            event: revoke,
            attestation: Some(att),
            expect: Expect::Exact,
        })
        .await
        .unwrap();
    ledger.append(next("risk/R-2")).await.unwrap();
    ledger.checkpoint().await.unwrap();
    let report = bundle::verify_store(&**ledger.store(), None, &nothing)
        .await
        .unwrap();
    assert_ok(&report);
    assert_eq!(report.checkpoints_verified, 2);
    drop(ledger);

    // The revoked key can no longer seal: its entries are refused, not written.
    let store =
        custodia_ledger::store::sqlite::SqliteStore::open(&dir.path().join("ledger.db"), false)
            .await
            .unwrap();
    let ledger = Ledger::open_store(Arc::new(store), old, Default::default())
        .await
        .unwrap();
    let size = ledger.size().await.unwrap();
    let err = ledger.append(next("risk/R-3")).await.unwrap_err();
    assert!(matches!(err, AppendError::NodeKeyInactive(_)), "{err}");
    assert_eq!(ledger.size().await.unwrap(), size);
}

#[tokio::test]
async fn a_rewritten_history_fails_against_the_trusted_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = new_ledger(dir.path()).await;
    for i in 0..5 {
        ledger.append(next(&format!("risk/R-{i}"))).await.unwrap();
    }
    let trusted = ledger.checkpoint().await.unwrap();
    let out = dir.path().join("honest");
    bundle::export(&**ledger.store(), &out, &nothing)
        .await
        .unwrap();

    // The attacker holds the real node key and re-seals a different history from seq 3 on.
    let node = SecretKey::read_pem(&dir.path().join("keys/node.pem"), None).unwrap();
    let lines: Vec<String> = std::fs::read_to_string(out.join("entries.jsonl"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let mut rewritten: Vec<String> = lines[..3].to_vec();
    let mut prev = custodia_ledger::entry::Entry::parse_line(&lines[2])
        .unwrap()
        .0
        .hash;
    for (seq, line) in lines.iter().enumerate().skip(3) {
        let (entry, _) = custodia_ledger::entry::Entry::parse_line(line).unwrap();
        let mut data = entry.event.data().clone();
        data.insert("title".into(), "nothing happened".into());
        let ev = Event::new(
            entry.event.stream(),
            entry.event.version(),
            entry.event.event_type(),
            1,
            entry.event.occurred_at(),
            entry.event.actor(),
            data,
        )
        .unwrap();
        let sealed = custodia_ledger::entry::Unsealed {
            ledger: entry.ledger,
            seq: seq as u64,
            prev,
            recorded_at: entry.recorded_at,
            event: ev,
            attestation: None,
        }
        .seal(&node)
        .unwrap();
        prev = sealed.hash;
        rewritten.push(sealed.to_line());
    }
    let forged = dir.path().join("forged");
    std::fs::create_dir_all(forged.join("checkpoints")).unwrap();
    std::fs::write(forged.join("entries.jsonl"), rewritten.join("\n") + "\n").unwrap();
    std::fs::copy(out.join("manifest.json"), forged.join("manifest.json")).unwrap();
    let alone = bundle::verify_bundle(&forged, None, &nothing).unwrap();
    assert_ok(&alone);
    let report = bundle::verify_bundle(&forged, Some(&trusted), &nothing).unwrap();
    assert!(!report.is_ok());
    assert_eq!(report.trusted_consistent, Some(false));
    assert!(report
        .violations
        .iter()
        .any(|v| v.rule == Rule::Consistency));
}

#[tokio::test]
async fn init_with_a_bad_actor_or_name_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    for (name, actor) in [("acme.example/sms", "root"), ("acme example", "user:ceo")] {
        let data = dir.path().join("data");
        let options = InitOptions {
            name: name.into(),
            actor: actor.into(),
            root_passphrase: None,
        };
        let err = Ledger::init(&data, &options).await.unwrap_err();
        assert!(
            err.to_string().contains(if actor == "root" {
                "event.actor"
            } else {
                "ledger"
            }),
            "{err}"
        );
        assert!(!data.exists(), "{name} {actor}: a directory was created");
    }
}

//! Shared fixtures: ledger rows made in memory (sealed for real, so hashes are real), a
//! store over them, and a real ledger in a temporary directory.
#![allow(dead_code, unreachable_pub, clippy::large_enum_variant)]

use async_trait::async_trait;
use custodia_domain::{Envelope, Timestamp};
use custodia_ledger::entry::{ChainHash, Event, Unsealed, ZERO_HASH};
use custodia_ledger::keys::SecretKey;
use custodia_ledger::merkle::{Hash, NodeId};
use custodia_ledger::store::{Head, Result, Row, SealedBatch, Sealer, Store, StoreError};
use custodia_ledger::time::Timestamp as LedgerTime;
use custodia_ledger::writer::row_of;
use std::sync::{Arc, RwLock};

/// One entry to put in a history.
pub enum Item {
    /// A domain event.
    Domain(Envelope),
    /// An entry on a stream the domain does not know.
    Foreign,
    /// A domain stream with a payload the domain cannot read.
    Broken,
}

fn ledger_event(item: &Item, n: u64) -> Event {
    let at = LedgerTime::parse("2026-01-01T00:00:00.000000Z").unwrap();
    let (stream, ty, data) = match item {
        Item::Domain(env) => return Event::from_value(&env.to_json()).unwrap(),
        Item::Foreign => (
            "ledger/keys".to_string(),
            "key.noted",
            serde_json::json!({"n": n}),
        ),
        Item::Broken => (
            format!("risk/BROKEN-{n}"),
            "risk.identified",
            serde_json::json!({"bogus": n}),
        ),
    };
    Event::new(
        &stream,
        1,
        ty,
        1,
        at,
        "user:ops",
        data.as_object().unwrap().clone(),
    )
    .unwrap()
}

/// Seals `items` into rows, entry `i` recorded at `recorded(i)` (µs since the epoch).
pub fn rows(items: &[Item], recorded: impl Fn(u64) -> i64) -> Vec<Row> {
    let key = SecretKey::from_seed(&[7; 32]);
    let mut prev = ZERO_HASH;
    let mut out = Vec::with_capacity(items.len());
    for (seq, item) in items.iter().enumerate() {
        let seq = seq as u64;
        let entry = Unsealed {
            ledger: "acme.example/sms".into(),
            seq,
            prev,
            recorded_at: LedgerTime::from_micros(recorded(seq)).unwrap(),
            event: ledger_event(item, seq),
            attestation: None,
        }
        .seal(&key)
        .unwrap();
        prev = entry.hash;
        out.push(row_of(&entry));
    }
    out
}

/// A ledger time one second per entry from 2026-01-01.
pub fn second_per_entry(seq: u64) -> i64 {
    Timestamp::from_date(2026, 1, 1).unwrap().micros() + seq as i64 * 1_000_000
}

/// A read-only store over rows held in memory; rows can be added to model a growing ledger.
#[derive(Default)]
pub struct MemStore {
    rows: RwLock<Vec<Row>>,
}

impl MemStore {
    pub fn new(rows: Vec<Row>) -> Arc<MemStore> {
        Arc::new(MemStore {
            rows: RwLock::new(rows),
        })
    }
    pub fn push(&self, more: Vec<Row>) {
        self.rows.write().unwrap().extend(more);
    }
}

fn refused() -> StoreError {
    StoreError::Refused("the test store is read-only".into())
}

#[async_trait]
impl Store for MemStore {
    async fn meta(&self, _key: &str) -> Result<Option<String>> {
        Ok(None)
    }
    async fn init_meta(&self, _key: &str, _value: &str) -> Result<()> {
        Err(refused())
    }
    async fn head(&self) -> Result<Head> {
        let rows = self.rows.read().unwrap();
        Ok(Head {
            size: rows.len() as u64,
            last_hash: rows.last().map_or(ZERO_HASH, |r| r.hash),
            last_recorded_at: None,
        })
    }
    async fn append(&self, _sealer: &mut dyn Sealer) -> Result<SealedBatch> {
        Err(refused())
    }
    async fn read(&self, from: u64, limit: u32) -> Result<Vec<Row>> {
        let rows = self.rows.read().unwrap();
        let from = (from as usize).min(rows.len());
        let to = (from + limit as usize).min(rows.len());
        Ok(rows[from..to].to_vec())
    }
    async fn row_by_hash(&self, hash: &ChainHash) -> Result<Option<Row>> {
        Ok(self
            .rows
            .read()
            .unwrap()
            .iter()
            .find(|r| r.hash == *hash)
            .cloned())
    }
    async fn stream_rows(&self, stream: &str, from_version: u64, limit: u32) -> Result<Vec<Row>> {
        let rows = self.rows.read().unwrap();
        Ok(rows
            .iter()
            .filter(|r| r.stream == stream && r.version >= from_version)
            .take(limit as usize)
            .cloned()
            .collect())
    }
    async fn nodes(&self, ids: &[NodeId]) -> Result<Vec<Option<Hash>>> {
        Ok(vec![None; ids.len()])
    }
    async fn put_checkpoint(&self, _size: u64, _note: &str) -> Result<()> {
        Err(refused())
    }
    async fn checkpoint(&self, _size: u64) -> Result<Option<String>> {
        Ok(None)
    }
    async fn checkpoint_sizes(&self) -> Result<Vec<u64>> {
        Ok(Vec::new())
    }
}

/// The demo scenario's envelopes, generated once per test binary.
pub fn scenario() -> &'static [Envelope] {
    static SCENARIO: std::sync::OnceLock<Vec<Envelope>> = std::sync::OnceLock::new();
    SCENARIO.get_or_init(|| {
        custodia_domain::scenario::generate(custodia_domain::scenario::ScenarioConfig {
            seed: 7,
            scale: 1,
        })
        .unwrap()
    })
}

/// A current-thread runtime for tests that drive async code from sync property tests.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

//! The storage conformance suite on PostgreSQL. Needs a server named by
//! `CUSTODIA_TEST_POSTGRES_URL`: the tests are ignored by default and run with `--ignored`
//! (`.ci/run` starts a server and does so). Each test works in schemas of its own, dropped at the end.

mod conformance;
mod crash_child;

use conformance::Backend;
use custodia_ledger::store::postgres::PgStore;
use custodia_ledger::store::Store;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, Executor as _, PgConnection};
use std::str::FromStr as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

fn url() -> String {
    std::env::var("CUSTODIA_TEST_POSTGRES_URL")
        .expect("CUSTODIA_TEST_POSTGRES_URL must name a PostgreSQL database for these tests")
}

struct Postgres {
    schema: String,
}

impl Postgres {
    fn new() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let schema = format!(
            "custodia_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        Self { schema }
    }

    fn fresh() -> Box<dyn Backend> {
        Box::new(Self::new())
    }

    fn options(&self) -> PgConnectOptions {
        PgConnectOptions::from_str(&url())
            .unwrap()
            .options([("search_path", self.schema.as_str())])
    }

    async fn connect(&self) -> PgConnection {
        let mut conn = PgConnection::connect_with(&self.options()).await.unwrap();
        conn.execute(format!("CREATE SCHEMA IF NOT EXISTS {}", self.schema).as_str())
            .await
            .unwrap();
        conn
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let (options, schema) = (self.options(), self.schema.clone());
        // Dropped from a blocking thread: the test's runtime may be shutting down.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async move {
                let mut conn = PgConnection::connect_with(&options).await.ok()?;
                conn.execute(format!("DROP SCHEMA IF EXISTS {schema} CASCADE").as_str())
                    .await
                    .ok()
            })
        })
        .join();
    }
}

#[async_trait::async_trait]
impl Backend for Postgres {
    async fn store(&self) -> Arc<dyn Store> {
        drop(self.connect().await);
        Arc::new(
            PgStore::connect(self.options(), &self.schema)
                .await
                .unwrap(),
        )
    }
    async fn exec(&self, sql: &str) -> u64 {
        let mut conn = self.connect().await;
        conn.execute(sql).await.unwrap().rows_affected()
    }
    fn other_bytes(&self) -> &'static str {
        "sha256(hash)"
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: CUSTODIA_TEST_POSTGRES_URL, run with --ignored (.ci/run does)"]
async fn appends_and_reads() {
    conformance::appends_and_reads(&*Postgres::fresh()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: CUSTODIA_TEST_POSTGRES_URL, run with --ignored (.ci/run does)"]
async fn conflicts() {
    conformance::conflicts(&*Postgres::fresh()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: CUSTODIA_TEST_POSTGRES_URL, run with --ignored (.ci/run does)"]
async fn proofs_and_checkpoints() {
    conformance::proofs_and_checkpoints(&*Postgres::fresh()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: CUSTODIA_TEST_POSTGRES_URL, run with --ignored (.ci/run does)"]
async fn two_writers_one_chain() {
    conformance::two_writers_one_chain(&*Postgres::fresh()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: CUSTODIA_TEST_POSTGRES_URL, run with --ignored (.ci/run does)"]
async fn tamper_is_detected() {
    conformance::tamper_is_detected(&Postgres::fresh).await;
}

/// Names the schema when the crash test runs as its own child process.
const CRASH_CHILD: &str = "CUSTODIA_PG_CRASH_CHILD";
/// The test the parent re-runs as the child.
const CRASH_TEST: &str = "killed_writers_lose_no_acknowledged_append";

/// In the crash test's child: appends forever from many tasks to `schema`, printing each
/// acknowledgement, until the parent kills the process.
async fn append_until_killed(schema: String) {
    // The schema belongs to the parent test, which drops it; the child must not.
    let backend = std::mem::ManuallyDrop::new(Postgres { schema });
    let node = custodia_ledger::keys::SecretKey::from_seed(&conformance::NODE_SEED);
    let store = backend.store().await;
    let ledger = Arc::new(
        custodia_ledger::ledger::Ledger::open_store(store, node, Default::default())
            .await
            .unwrap(),
    );
    let tasks: Vec<_> = (0..16)
        .map(|w| {
            let ledger = ledger.clone();
            tokio::spawn(async move {
                for i in 0u64.. {
                    let data = serde_json::json!({"writer": w, "i": i});
                    let event = custodia_ledger::entry::Event::new(
                        &format!("incident/I-{}", (w * 7 + i) % 20),
                        1,
                        "incident.reported",
                        1,
                        custodia_ledger::time::Timestamp::now(),
                        "service:crash-test",
                        data.as_object().unwrap().clone(),
                    )
                    .unwrap();
                    let request = custodia_ledger::writer::AppendRequest {
                        event,
                        attestation: None,
                        expect: custodia_ledger::writer::Expect::Next,
                    };
                    crash_child::acknowledge(&ledger.append(request).await.unwrap());
                }
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
}

/// A node killed with SIGKILL mid-load loses no acknowledged entry, and the ledger verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: CUSTODIA_TEST_POSTGRES_URL, run with --ignored (.ci/run does)"]
async fn killed_writers_lose_no_acknowledged_append() {
    if let Ok(schema) = std::env::var(CRASH_CHILD) {
        return append_until_killed(schema).await;
    }
    let backend = Postgres::new();
    drop(conformance::ledger(&backend).await);
    let schema = backend.schema.clone();
    let mut acked = Vec::new();
    for round in 0..12u64 {
        let after = std::time::Duration::from_millis(150 + (round * 7919) % 400);
        let schema = schema.clone();
        let new = tokio::task::spawn_blocking(move || {
            crash_child::run_and_kill(CRASH_TEST, true, (CRASH_CHILD, &schema), after)
        })
        .await
        .unwrap();
        acked.extend(new);
        let store = backend.store().await;
        let report = custodia_ledger::bundle::verify_store(&*store, None, &|_| {})
            .await
            .unwrap();
        assert!(report.is_ok(), "round {round}: {:?}", report.violations);
        let rows = store.read(0, 1_000_000).await.unwrap();
        for (seq, hash) in &acked {
            let found = rows.get(*seq as usize).map(|r| r.hash.to_hex());
            assert_eq!(
                found.as_deref(),
                Some(hash.as_str()),
                "round {round}: acknowledged seq {seq} lost"
            );
        }
    }
    assert!(
        acked.len() > 50,
        "too few appends were acknowledged: {}",
        acked.len()
    );
}

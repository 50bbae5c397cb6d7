//! The storage conformance suite on PostgreSQL. Needs a server: built only with the
//! `postgres-tests` feature, against `CUSTODIA_TEST_POSTGRES_URL` (`.ci/run` starts one and
//! sets it). Each test works in schemas of its own, dropped at the end.
#![cfg(feature = "postgres-tests")]

mod conformance;

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
    fn fresh() -> Box<dyn Backend> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let schema = format!(
            "custodia_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        Box::new(Self { schema })
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
async fn appends_and_reads() {
    conformance::appends_and_reads(&*Postgres::fresh()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts() {
    conformance::conflicts(&*Postgres::fresh()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proofs_and_checkpoints() {
    conformance::proofs_and_checkpoints(&*Postgres::fresh()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_writers_one_chain() {
    conformance::two_writers_one_chain(&*Postgres::fresh()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tamper_is_detected() {
    conformance::tamper_is_detected(&Postgres::fresh).await;
}

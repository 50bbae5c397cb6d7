//! The storage conformance suite on the embedded SQLite backend.

mod conformance;

use conformance::Backend;
use custodia_ledger::store::sqlite::SqliteStore;
use custodia_ledger::store::Store;
use sqlx::{Connection, Executor as _, SqliteConnection};
use std::sync::Arc;

struct Sqlite {
    dir: tempfile::TempDir,
}

impl Sqlite {
    fn fresh() -> Box<dyn Backend> {
        Box::new(Self {
            dir: tempfile::tempdir().unwrap(),
        })
    }
}

#[async_trait::async_trait]
impl Backend for Sqlite {
    async fn store(&self) -> Arc<dyn Store> {
        Arc::new(
            SqliteStore::open(&self.dir.path().join("ledger.db"), true)
                .await
                .unwrap(),
        )
    }
    async fn exec(&self, sql: &str) -> u64 {
        let url = format!("sqlite://{}", self.dir.path().join("ledger.db").display());
        let mut conn = SqliteConnection::connect(&url).await.unwrap();
        let done = conn.execute(sql).await.unwrap();
        conn.close().await.unwrap();
        done.rows_affected()
    }
    fn other_bytes(&self) -> &'static str {
        "randomblob(32)"
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_and_reads() {
    conformance::appends_and_reads(&*Sqlite::fresh()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts() {
    conformance::conflicts(&*Sqlite::fresh()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proofs_and_checkpoints() {
    conformance::proofs_and_checkpoints(&*Sqlite::fresh()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_writers_one_chain() {
    conformance::two_writers_one_chain(&*Sqlite::fresh()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tamper_is_detected() {
    conformance::tamper_is_detected(&Sqlite::fresh).await;
}

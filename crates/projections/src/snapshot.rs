//! Persisted snapshots of the [`Model`], in their own SQLite file.
//!
//! Why a separate file rather than a table in the ledger's database: snapshots are derived
//! and disposable (deleting the file means "rebuild"), the ledger's schema and migrations
//! belong to the ledger crate, and writing a large snapshot must never hold a lock the
//! ledger's writer waits on. Each snapshot records the tree size it reflects and the hash of
//! the entry at `size - 1`; a reader checks that hash against the ledger before trusting it.

use crate::error::{Error, Result};
use crate::model::Model;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row as _, SqlitePool};
use std::path::Path;

/// The file name in a data directory.
pub const SNAPSHOTS_FILE: &str = "projections.db";

/// The snapshot encoding; a snapshot of another format is ignored (and rebuilt).
pub const SNAPSHOT_FORMAT: i64 = 1;

/// What is known about a stored snapshot without loading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// Tree size it reflects.
    pub size: u64,
    /// Hash (hex) of entry `size - 1`.
    pub entry_hash: String,
    /// Latest `occurred_at` folded in (µs), if any event was.
    pub max_occurred_micros: Option<i64>,
}

/// The snapshot table.
#[derive(Debug, Clone)]
pub struct SnapshotStore {
    pool: SqlitePool,
}

fn db(doing: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
    move |source| Error::Snapshots { doing, source }
}

impl SnapshotStore {
    /// Opens (creating) the snapshot file at `path`.
    pub async fn open(path: &Path) -> Result<SnapshotStore> {
        // Snapshots can always be rebuilt from the ledger, so a lost tail after a power cut
        // costs time, not truth: NORMAL durability is enough here (the ledger uses FULL).
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal);
        Self::with(options, 4).await
    }

    /// A snapshot store in memory (tests, one-off tools).
    pub async fn in_memory() -> Result<SnapshotStore> {
        let options = SqliteConnectOptions::new().in_memory(true);
        // One connection: each in-memory connection would be a separate database.
        Self::with(options, 1).await
    }

    async fn with(options: SqliteConnectOptions, connections: u32) -> Result<SnapshotStore> {
        let pool = SqlitePoolOptions::new()
            .max_connections(connections)
            .connect_with(options)
            .await
            .map_err(db("opening"))?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS projection_snapshots (
                size INTEGER PRIMARY KEY,
                entry_hash TEXT NOT NULL,
                max_occurred INTEGER,
                format INTEGER NOT NULL,
                state BLOB NOT NULL
            )",
        )
        .execute(&pool)
        .await
        .map_err(db("creating the table"))?;
        Ok(SnapshotStore { pool })
    }

    /// Stores `model` at its position (replacing one at the same size).
    pub async fn put(&self, model: &Model) -> Result<()> {
        let position = model.position();
        let size = position.size;
        let state = serde_json::to_vec(model).map_err(|e| Error::SnapshotFormat {
            size,
            reason: e.to_string(),
        })?;
        sqlx::query("INSERT OR REPLACE INTO projection_snapshots VALUES (?, ?, ?, ?, ?)")
            .bind(to_i64(size))
            .bind(&position.last_hash)
            .bind(position.max_occurred.map(|t| t.micros()))
            .bind(SNAPSHOT_FORMAT)
            .bind(state)
            .execute(&self.pool)
            .await
            .map_err(db("writing a snapshot"))?;
        tracing::debug!(size, "projections: snapshot stored");
        Ok(())
    }

    /// Every snapshot of the current format, by size.
    pub async fn list(&self) -> Result<Vec<SnapshotInfo>> {
        let rows = sqlx::query(
            "SELECT size, entry_hash, max_occurred FROM projection_snapshots
             WHERE format = ? ORDER BY size",
        )
        .bind(SNAPSHOT_FORMAT)
        .fetch_all(&self.pool)
        .await
        .map_err(db("listing snapshots"))?;
        Ok(rows
            .iter()
            .map(|r| SnapshotInfo {
                size: r.get::<i64, _>(0).max(0) as u64,
                entry_hash: r.get(1),
                max_occurred_micros: r.get(2),
            })
            .collect())
    }

    /// Loads the snapshot at `size`.
    pub async fn load(&self, size: u64) -> Result<Option<Model>> {
        let row =
            sqlx::query("SELECT state FROM projection_snapshots WHERE size = ? AND format = ?")
                .bind(to_i64(size))
                .bind(SNAPSHOT_FORMAT)
                .fetch_optional(&self.pool)
                .await
                .map_err(db("reading a snapshot"))?;
        let Some(row) = row else { return Ok(None) };
        let bytes: Vec<u8> = row.get(0);
        let model: Model = serde_json::from_slice(&bytes).map_err(|e| Error::SnapshotFormat {
            size,
            reason: e.to_string(),
        })?;
        Ok(Some(model))
    }

    /// Deletes the snapshot at `size` (one found untrustworthy).
    pub async fn delete(&self, size: u64) -> Result<()> {
        sqlx::query("DELETE FROM projection_snapshots WHERE size = ?")
            .bind(to_i64(size))
            .execute(&self.pool)
            .await
            .map_err(db("deleting a snapshot"))?;
        Ok(())
    }
}

/// Tree sizes are below 2^63 in any real ledger; saturate rather than wrap.
fn to_i64(size: u64) -> i64 {
    i64::try_from(size).unwrap_or(i64::MAX)
}

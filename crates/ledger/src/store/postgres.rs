//! PostgreSQL, for firms that outgrow one machine: several nodes append to one ledger. Appends
//! serialize in the database on a transaction-scoped advisory lock, so every node's sealer sees
//! the true head inside its transaction; `synchronous_commit` is set on explicitly, so a
//! committed append is on disk before it is acknowledged.

use super::{Head, Result, Row, SealedBatch, Sealer, Store, StoreError};
use crate::entry::{ChainHash, ZERO_HASH};
use crate::merkle::{Hash, NodeId};
use crate::time::Timestamp;
use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions, PgRow};
use sqlx::{Executor as _, PgConnection, Row as _};
use std::collections::HashMap;
use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, OnceCell};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The advisory lock every node takes to append ("custodia" in ASCII).
const APPEND_LOCK: i64 = 0x6375_7374_6f64_6961;

/// The channel every append notifies when it commits; the payload is the new tree size.
const APPENDED_CHANNEL: &str = "custodia_appended";

/// How often a listening node reads the head anyway: notifications sent while its listening
/// connection was down are not replayed, so this bounds how late such an entry is seen.
const HEAD_POLL: Duration = Duration::from_secs(2);

/// A ledger in a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// Heads heard from every node, started on the first [`Store::watch_heads`].
    heads: Arc<OnceCell<watch::Receiver<u64>>>,
}

fn db(doing: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| match &source {
        sqlx::Error::Database(e) if e.is_unique_violation() => StoreError::Conflict(doing),
        _ => StoreError::Database { doing, source },
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://…`) and migrates the schema.
    pub async fn open(url: &str) -> Result<Self> {
        let options = PgConnectOptions::from_str(url).map_err(|e| StoreError::Open {
            location: redact(url),
            reason: e.to_string(),
        })?;
        Self::connect(options, &redact(url)).await
    }

    /// Connects with explicit options (e.g. a test's own `search_path`) and migrates.
    pub async fn connect(options: PgConnectOptions, location: &str) -> Result<Self> {
        let open_err = |e: String| StoreError::Open {
            location: location.to_owned(),
            reason: e,
        };
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(|conn, _| {
                Box::pin(async move {
                    // Acknowledged means on disk: never inherit a relaxed server default.
                    conn.execute("SET synchronous_commit = on").await?;
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(|e| open_err(e.to_string()))?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| open_err(format!("cannot migrate the ledger schema: {e}")))?;
        Ok(Self {
            pool,
            heads: Arc::default(),
        })
    }

    /// Closes the pool.
    pub async fn close(self) {
        self.pool.close().await;
    }

    /// The connection pool, for tests and tools that inspect the tables.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

async fn head_size(pool: &PgPool) -> Result<u64> {
    let mut conn = pool.acquire().await.map_err(db("reading the head"))?;
    Ok(read_head(&mut conn).await?.size)
}

/// Listens for every node's appends and publishes the largest size heard, reading the head
/// whenever the channel has been quiet for [`HEAD_POLL`] or the listening connection dropped.
async fn listen_for_heads(pool: &PgPool) -> Result<watch::Receiver<u64>> {
    let mut listener = PgListener::connect_with(pool)
        .await
        .map_err(db("listening for appends"))?;
    listener
        .listen(APPENDED_CHANNEL)
        .await
        .map_err(db("listening for appends"))?;
    // Read after LISTEN took effect: an append committed in between is in this size or heard.
    let (tx, rx) = watch::channel(head_size(pool).await?);
    let pool = pool.clone();
    tokio::spawn(async move {
        loop {
            let size = match tokio::time::timeout(HEAD_POLL, listener.try_recv()).await {
                Ok(Ok(Some(notification))) => notification.payload().parse::<u64>().ok(),
                // Quiet, or the connection dropped (it reconnects on the next call): ask.
                Ok(Ok(None)) | Err(_) => head_size(&pool).await.ok(),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "listening for other nodes' appends");
                    tokio::time::sleep(HEAD_POLL).await;
                    head_size(&pool).await.ok()
                }
            };
            if tx.is_closed() {
                return;
            }
            if let Some(size) = size {
                tx.send_if_modified(|known| {
                    let grew = size > *known;
                    if grew {
                        *known = size;
                    }
                    grew
                });
            }
        }
    });
    Ok(rx)
}

/// The URL without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    match url.split_once('@') {
        Some((credentials, host)) => match credentials.rsplit_once(':') {
            Some((user, _)) if user.contains("//") => format!("{user}:***@{host}"),
            _ => format!("{credentials}@{host}"),
        },
        None => url.to_owned(),
    }
}

fn to_i64(v: u64) -> i64 {
    // Seqs and versions are bounded by 2^53 by the value rules.
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn row_from(r: &PgRow) -> Result<Row> {
    let int = |name: &'static str| -> Result<i64> {
        r.try_get::<i64, _>(name)
            .map_err(|_| StoreError::Damaged(format!("entries.{name} is not an integer")))
    };
    let seq = int("seq")?;
    let damaged = |what: &str| StoreError::Damaged(format!("seq {seq}: {what}"));
    let non_negative = |name: &'static str| -> Result<u64> {
        u64::try_from(int(name)?).map_err(|_| damaged(&format!("{name} is negative")))
    };
    let hash: Vec<u8> = r
        .try_get("hash")
        .map_err(|_| damaged("hash is not bytes"))?;
    let hash =
        <[u8; 32]>::try_from(hash.as_slice()).map_err(|_| damaged("hash is not 32 bytes"))?;
    let text = |name: &'static str| -> Result<String> {
        r.try_get(name)
            .map_err(|_| damaged(&format!("{name} is not text")))
    };
    Ok(Row {
        seq: non_negative("seq")?,
        hash: ChainHash(hash),
        stream: text("stream")?,
        version: non_negative("version")?,
        event_type: text("type")?,
        recorded_at_micros: int("recorded_at")?,
        occurred_at_micros: int("occurred_at")?,
        line: text("line")?,
    })
}

async fn read_head(conn: &mut PgConnection) -> Result<Head> {
    let row = sqlx::query("SELECT seq, hash, recorded_at FROM entries ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut *conn)
        .await
        .map_err(db("reading the head"))?;
    let Some(row) = row else {
        return Ok(Head {
            size: 0,
            last_hash: ZERO_HASH,
            last_recorded_at: None,
        });
    };
    let seq: i64 = row.try_get("seq").map_err(db("reading the head"))?;
    let damaged = |what: String| StoreError::Damaged(format!("seq {seq}: {what}"));
    let hash: Vec<u8> = row.try_get("hash").map_err(db("reading the head"))?;
    let hash = <[u8; 32]>::try_from(hash.as_slice())
        .map_err(|_| damaged("hash is not 32 bytes".into()))?;
    let micros: i64 = row.try_get("recorded_at").map_err(db("reading the head"))?;
    let recorded_at = Timestamp::from_micros(micros).map_err(|e| damaged(e.to_string()))?;
    Ok(Head {
        size: u64::try_from(seq).unwrap_or(0) + 1,
        last_hash: ChainHash(hash),
        last_recorded_at: Some(recorded_at),
    })
}

async fn read_versions(
    conn: &mut PgConnection,
    streams: &[String],
) -> Result<HashMap<String, u64>> {
    let rows = sqlx::query(
        "SELECT stream, MAX(version) AS v FROM entries WHERE stream = ANY($1) GROUP BY stream",
    )
    .bind(streams)
    .fetch_all(&mut *conn)
    .await
    .map_err(db("reading stream versions"))?;
    let mut versions = HashMap::with_capacity(rows.len());
    for r in rows {
        let v: i64 = r.try_get("v").map_err(db("reading stream versions"))?;
        let stream: String = r.try_get("stream").map_err(db("reading stream versions"))?;
        versions.insert(stream, u64::try_from(v).unwrap_or(0));
    }
    Ok(versions)
}

async fn read_nodes(conn: &mut PgConnection, ids: &[NodeId]) -> Result<Vec<Option<Hash>>> {
    let levels: Vec<i32> = ids.iter().map(|id| i32::from(id.level)).collect();
    let indexes: Vec<i64> = ids.iter().map(|id| to_i64(id.index)).collect();
    let rows = sqlx::query(
        "SELECT t.level, t.idx, t.hash FROM tree_nodes t \
         JOIN UNNEST($1::int[], $2::bigint[]) AS u(level, idx) \
         ON t.level = u.level AND t.idx = u.idx",
    )
    .bind(&levels)
    .bind(&indexes)
    .fetch_all(&mut *conn)
    .await
    .map_err(db("reading tree nodes"))?;
    let mut found: HashMap<NodeId, Hash> = HashMap::with_capacity(rows.len());
    for r in rows {
        let level: i32 = r.try_get("level").map_err(db("reading tree nodes"))?;
        let idx: i64 = r.try_get("idx").map_err(db("reading tree nodes"))?;
        let hash: Vec<u8> = r.try_get("hash").map_err(db("reading tree nodes"))?;
        if let (Ok(level), Ok(index), Ok(hash)) = (
            u8::try_from(level),
            u64::try_from(idx),
            <[u8; 32]>::try_from(hash.as_slice()),
        ) {
            found.insert(NodeId { level, index }, hash);
        }
    }
    Ok(ids.iter().map(|id| found.get(id).copied()).collect())
}

/// Inserts a batch with one statement per table, the rows passed as arrays.
async fn write_batch(conn: &mut PgConnection, batch: &SealedBatch) -> Result<()> {
    let rows = &batch.rows;
    sqlx::query(
        "INSERT INTO entries (seq, hash, stream, version, type, recorded_at, occurred_at, line) \
         SELECT * FROM UNNEST($1::bigint[], $2::bytea[], $3::text[], $4::bigint[], $5::text[], \
                              $6::bigint[], $7::bigint[], $8::text[])",
    )
    .bind(rows.iter().map(|r| to_i64(r.seq)).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.hash.0.to_vec()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.stream.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| to_i64(r.version)).collect::<Vec<_>>())
    .bind(
        rows.iter()
            .map(|r| r.event_type.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.iter()
            .map(|r| r.recorded_at_micros)
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.iter()
            .map(|r| r.occurred_at_micros)
            .collect::<Vec<_>>(),
    )
    .bind(rows.iter().map(|r| r.line.as_str()).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await
    .map_err(db("writing entries"))?;
    let nodes = &batch.nodes;
    sqlx::query(
        "INSERT INTO tree_nodes (level, idx, hash) \
         SELECT * FROM UNNEST($1::int[], $2::bigint[], $3::bytea[])",
    )
    .bind(
        nodes
            .iter()
            .map(|(id, _)| i32::from(id.level))
            .collect::<Vec<_>>(),
    )
    .bind(
        nodes
            .iter()
            .map(|(id, _)| to_i64(id.index))
            .collect::<Vec<_>>(),
    )
    .bind(nodes.iter().map(|(_, h)| h.to_vec()).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await
    .map_err(db("writing tree nodes"))?;
    Ok(())
}

/// The transaction's reads inside an append.
struct Reads<'c>(&'c mut PgConnection);

#[async_trait]
impl super::TxReads for Reads<'_> {
    async fn versions(&mut self, streams: &[String]) -> Result<HashMap<String, u64>> {
        read_versions(self.0, streams).await
    }
    async fn nodes(&mut self, ids: &[NodeId]) -> Result<Vec<Option<Hash>>> {
        read_nodes(self.0, ids).await
    }
}

/// The body of one append transaction, after the lock is held.
async fn seal_locked(conn: &mut PgConnection, sealer: &mut dyn Sealer) -> Result<SealedBatch> {
    let head = read_head(conn).await?;
    let batch = super::seal_under_lock(&mut Reads(&mut *conn), head, sealer).await?;
    write_batch(conn, &batch).await?;
    if let Some(last) = batch.rows.last() {
        // Delivered to listeners only when the transaction commits.
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(APPENDED_CHANNEL)
            .bind((last.seq + 1).to_string())
            .execute(&mut *conn)
            .await
            .map_err(db("announcing an append"))?;
    }
    Ok(batch)
}

#[async_trait]
impl Store for PgStore {
    async fn meta(&self, key: &str) -> Result<Option<String>> {
        sqlx::query_scalar("SELECT value FROM ledger_meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading metadata"))
    }

    async fn init_meta(&self, key: &str, value: &str) -> Result<()> {
        sqlx::query("INSERT INTO ledger_meta (key, value) VALUES ($1, $2)")
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await
            .map_err(db("writing metadata"))?;
        Ok(())
    }

    async fn head(&self) -> Result<Head> {
        let mut conn = self.pool.acquire().await.map_err(db("reading the head"))?;
        read_head(&mut conn).await
    }

    async fn append(&self, sealer: &mut dyn Sealer) -> Result<SealedBatch> {
        let mut tx = self.pool.begin().await.map_err(db("starting an append"))?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(APPEND_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(db("taking the append lock"))?;
        // On error the transaction is dropped, which rolls it back.
        let batch = seal_locked(&mut tx, sealer).await?;
        tx.commit().await.map_err(db("committing an append"))?;
        Ok(batch)
    }

    async fn read(&self, from: u64, limit: u32) -> Result<Vec<Row>> {
        sqlx::query("SELECT * FROM entries WHERE seq >= $1 ORDER BY seq LIMIT $2")
            .bind(to_i64(from))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db("reading entries"))?
            .iter()
            .map(row_from)
            .collect()
    }

    async fn row_by_hash(&self, hash: &ChainHash) -> Result<Option<Row>> {
        sqlx::query("SELECT * FROM entries WHERE hash = $1")
            .bind(hash.0.as_slice())
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading an entry by hash"))?
            .as_ref()
            .map(row_from)
            .transpose()
    }

    async fn stream_rows(&self, stream: &str, from_version: u64, limit: u32) -> Result<Vec<Row>> {
        sqlx::query(
            "SELECT * FROM entries WHERE stream = $1 AND version >= $2 ORDER BY version LIMIT $3",
        )
        .bind(stream)
        .bind(to_i64(from_version))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading a stream"))?
        .iter()
        .map(row_from)
        .collect()
    }

    async fn nodes(&self, ids: &[NodeId]) -> Result<Vec<Option<Hash>>> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(db("reading tree nodes"))?;
        read_nodes(&mut conn, ids).await
    }

    async fn put_checkpoint(&self, size: u64, note: &str) -> Result<()> {
        sqlx::query("INSERT INTO checkpoints (size, note) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(to_i64(size))
            .bind(note)
            .execute(&self.pool)
            .await
            .map_err(db("writing a checkpoint"))?;
        Ok(())
    }

    async fn checkpoint(&self, size: u64) -> Result<Option<String>> {
        sqlx::query_scalar("SELECT note FROM checkpoints WHERE size = $1")
            .bind(to_i64(size))
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading a checkpoint"))
    }

    async fn checkpoint_sizes(&self) -> Result<Vec<u64>> {
        let sizes: Vec<i64> = sqlx::query_scalar("SELECT size FROM checkpoints ORDER BY size")
            .fetch_all(&self.pool)
            .await
            .map_err(db("listing checkpoints"))?;
        Ok(sizes
            .into_iter()
            .filter_map(|s| u64::try_from(s).ok())
            .collect())
    }

    async fn watch_heads(&self) -> Result<Option<watch::Receiver<u64>>> {
        let heads = self
            .heads
            .get_or_try_init(|| listen_for_heads(&self.pool))
            .await?;
        Ok(Some(heads.clone()))
    }
}

//! The embedded default: SQLite through sqlx, WAL journal, `synchronous=FULL` set explicitly so
//! that a committed append survives power loss, and one write connection that takes the write
//! lock with `BEGIN IMMEDIATE`.
//!
//! An append writes only the entry rows and tree nodes. The lookups by entry hash and by
//! (stream, version) live in tables the maintenance task fills in bulk (`LOOKUP_ROWS` entries
//! at a time, sorted): kept as indexes of every append, they dirtied two random pages per entry
//! and were most of a commit's cost. They are in a file of their own beside the ledger
//! ([`lookups_path`], attached as `lookups`), so that a fill takes that file's write lock and
//! appends go on meanwhile; every other connection attaches it read-only, so that not even
//! an append's `BEGIN IMMEDIATE` locks it. It only repeats the entries: a file that does not
//! match them (another ledger's, one ahead of a ledger restored from a backup, an unreadable
//! one) is emptied and filled again. Reads find entries not yet in them by scanning that short
//! tail (`seq >= indexed_size`); the writer keeps the tail's stream versions in memory instead
//! (`TailVersions`). Tree nodes are keyed by (band, pos, level) so that the nodes one commit
//! completes share pages (migration 0003).
//!
//! A batch the writer sealed before the lock ([`Sealer::presealed`]) is written in one step on
//! a blocking rusqlite connection: the head check, the inserts and the commit, with no hand-off
//! to sqlx's database thread between them (two round trips to it took about a fifth of a
//! commit). Any other batch is sealed under the lock through sqlx as before.
//!
//! A verification reads every row: [`Store::scan`] gives its worker threads blocking
//! connections of their own (rusqlite, on the same SQLite library), so that rows are not handed
//! one by one from sqlx's database thread through a channel to a single reader.

use super::{Head, Result, Row, Scan, ScanReader, SealedBatch, Sealer, Store, StoreError};
use crate::entry::{ChainHash, ZERO_HASH};
use crate::merkle::{Hash, NodeId};
use crate::time::Timestamp;
use async_trait::async_trait;
use rusqlite::types::ValueRef;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::{Connection, QueryBuilder, Row as _, Sqlite};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Mutex};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Rows per multi-row INSERT: below SQLite's bound-parameter limit with 8 columns.
const INSERT_ROWS_MAX: usize = 512;

/// Rows a reading connection's database thread may hold ready for its reader.
const READ_ROW_BUFFER: usize = 4096;

/// Rows committed between background WAL checkpoints. Rare checkpoints copy a page once for
/// many commits that changed it, and each costs a flush of the database file.
const CHECKPOINT_ROWS: u64 = 4096;

/// WAL pages at which the committing connection checkpoints by itself: a bound on the WAL
/// (64 MiB) that the background checkpoints normally keep it well below.
const WAL_AUTOCHECKPOINT_PAGES: &str = "16384";

/// Entries added to the lookup tables at a time. Larger batches touch each lookup page for
/// more entries; the tail that reads scan stays below about twice this.
const LOOKUP_ROWS: u64 = 8192;

/// Page cache of the writing connections (KiB, as SQLite's negative `cache_size`); readers
/// keep SQLite's default, so that a verification's memory stays bounded.
const WRITER_CACHE_KIB: &str = "-16384";

/// A ledger in one SQLite file.
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    pool: SqlitePool,
    writer: Arc<Mutex<WriteConn>>,
    maintenance: Maintenance,
}

/// The write connections, with what they know of the entries not yet in the lookup tables.
struct WriteConn {
    conn: SqliteConnection,
    tail: TailVersions,
    /// Writes presealed batches; used only under the writer's lock, like `conn`.
    direct: Arc<std::sync::Mutex<rusqlite::Connection>>,
}

impl std::fmt::Debug for WriteConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteConn")
            .field("tail", &self.tail)
            .finish_non_exhaustive()
    }
}

/// The newest version of every stream among the entries not yet in the lookup tables, kept
/// by the write connection: a writer placing an event on a stream it has not seen lately
/// (every new stream) would otherwise scan that whole tail inside its transaction. Valid only
/// at the head it was made at: another process appending moves the head, and one scan of the
/// tail rebuilds it.
#[derive(Debug, Default)]
struct TailVersions {
    /// The head size it is valid at; `None` when it must be rebuilt.
    at: Option<u64>,
    /// stream → (its newest version among these entries, that entry's seq). Every entry at
    /// or after the lookup tables' `indexed_size` is counted.
    streams: HashMap<String, (u64, u64)>,
}

/// Streams the tail's map holds before the ones already in the lookup tables are dropped.
const TAIL_STREAMS_MAX: usize = 4 * LOOKUP_ROWS as usize;

impl TailVersions {
    /// Makes the map valid at `head`: rebuilt by one scan when it is not, trimmed of what the
    /// lookup tables hold when it has grown large.
    async fn refresh(&mut self, conn: &mut SqliteConnection, head: u64) -> Result<()> {
        if self.at == Some(head) && self.streams.len() <= TAIL_STREAMS_MAX {
            return Ok(());
        }
        if self.at == Some(head) {
            let indexed: i64 = sqlx::query_scalar(&format!("SELECT {INDEXED_SIZE}"))
                .fetch_one(&mut *conn)
                .await
                .map_err(db("reading the lookup tables' state"))?;
            let indexed = u64::try_from(indexed).unwrap_or(0);
            self.streams.retain(|_, (_, seq)| *seq >= indexed);
            return Ok(());
        }
        self.at = None;
        self.streams.clear();
        let rows = sqlx::query(&format!(
            "SELECT stream, MAX(version) AS v, MAX(seq) AS s FROM entries
                 WHERE seq >= {INDEXED_SIZE} GROUP BY stream"
        ))
        .fetch_all(&mut *conn)
        .await
        .map_err(db("reading stream versions"))?;
        for r in rows {
            let (v, seq): (i64, i64) = (r.get("v"), r.get("s"));
            let entry = (
                u64::try_from(v).unwrap_or(0),
                u64::try_from(seq).unwrap_or(0),
            );
            self.streams.insert(r.get("stream"), entry);
        }
        self.at = Some(head);
        Ok(())
    }

    /// Counts a committed batch.
    fn committed(&mut self, batch: &SealedBatch) {
        for row in &batch.rows {
            let newest = (row.version, row.seq);
            match self.streams.get_mut(&row.stream) {
                Some(v) if v.0 >= row.version => {}
                Some(v) => *v = newest,
                None => {
                    self.streams.insert(row.stream.clone(), newest);
                }
            }
        }
        if let (Some(at), Some(last)) = (&mut self.at, batch.rows.last()) {
            *at = last.seq + 1;
        }
    }
}

/// Work done off the append path, on its own connection: filling the lookup tables in bulk,
/// and copying the WAL back into the database so that the checkpoint SQLite runs inside a
/// commit that outgrows the WAL bound finds little left to copy. Commits stay durable in the
/// WAL, which each one syncs; a checkpoint only moves pages, and the lookup tables only
/// repeat what the entries hold.
#[derive(Debug)]
struct Maintenance {
    committed: mpsc::UnboundedSender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl Maintenance {
    fn start(conn: SqliteConnection) -> Self {
        let (committed, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(maintain(conn, rx));
        Self { committed, task }
    }
}

async fn maintain(mut conn: SqliteConnection, mut committed: mpsc::UnboundedReceiver<u64>) {
    // A tail left long (by another process, or a crash before closing) is indexed first; a
    // short one waits for the next bulk, so that opening a ledger to read or verify it does
    // not take the write lock.
    if let Err(e) = index_tail(&mut conn, LOOKUP_ROWS).await {
        tracing::warn!(error = %e, "filling the lookup tables failed; will retry");
    }
    let (mut since_checkpoint, mut since_index) = (0, 0);
    while let Some(n) = committed.recv().await {
        since_checkpoint += n;
        since_index += n;
        while let Ok(n) = committed.try_recv() {
            since_checkpoint += n;
            since_index += n;
        }
        if since_index >= LOOKUP_ROWS {
            since_index = 0;
            // The lookups' own write lock: appends go on meanwhile.
            if let Err(e) = index_tail(&mut conn, LOOKUP_ROWS).await {
                tracing::warn!(error = %e, "filling the lookup tables failed; will retry");
            }
        }
        if since_checkpoint >= CHECKPOINT_ROWS {
            since_checkpoint = 0;
            // PASSIVE never waits for or blocks the writer; what it leaves, the next one takes.
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&mut conn)
                .await
            {
                tracing::warn!(error = %e, "WAL checkpoint failed; will retry");
            }
        }
    }
    // Closing: index what is left, so that the next open starts with a short tail.
    if let Err(e) = index_tail(&mut conn, 1).await {
        tracing::warn!(error = %e, "filling the lookup tables failed");
    }
    let _ = conn.close().await;
}

macro_rules! indexed_size {
    () => {
        "(SELECT indexed_size FROM lookups.lookup_state)"
    };
}
/// Entries at or after this seq are not yet in the lookup tables.
const INDEXED_SIZE: &str = indexed_size!();
/// The indexed size on its own: a statement a connection prepares once and keeps.
const INDEXED_SIZE_SQL: &str = concat!("SELECT ", indexed_size!());

/// Adds the entries not yet in the lookup tables, in key order, when there are at least `min`.
async fn index_tail(conn: &mut SqliteConnection, min: u64) -> Result<()> {
    let pending: i64 = sqlx::query_scalar(&format!(
        "SELECT (SELECT COALESCE(MAX(seq) + 1, 0) FROM main.entries) - {INDEXED_SIZE}"
    ))
    .fetch_one(&mut *conn)
    .await
    .map_err(db("reading the lookup tables' state"))?;
    if pending < i64::try_from(min).unwrap_or(i64::MAX) {
        return Ok(());
    }
    // OR IGNORE: a damaged duplicate must not stop the lookups; the verifier reports it.
    // A deferred transaction: its first statement takes the lookups' write lock and only a
    // read snapshot of the ledger, which every statement after it sees too (so the size
    // recorded is that of the entries copied), while appends go on. Another process's fill
    // may hold an older snapshot: the size only grows, since writers trust the tables for
    // every entry below a size they once read.
    let filled = sqlx::query(&format!(
        "BEGIN;
         INSERT OR IGNORE INTO lookups.entry_hashes (hash, seq)
             SELECT hash, seq FROM main.entries WHERE seq >= {INDEXED_SIZE} ORDER BY hash;
         INSERT OR IGNORE INTO lookups.stream_versions (stream, version, seq)
             SELECT stream, version, seq FROM main.entries WHERE seq >= {INDEXED_SIZE}
             ORDER BY stream, version;
         UPDATE lookups.lookup_state SET
             indexed_size = (SELECT COALESCE(MAX(seq) + 1, 0) FROM main.entries),
             indexed_hash = (SELECT hash FROM main.entries ORDER BY seq DESC LIMIT 1)
             WHERE (SELECT COALESCE(MAX(seq) + 1, 0) FROM main.entries) > indexed_size;
         COMMIT"
    ))
    .execute(&mut *conn)
    .await;
    if let Err(e) = filled {
        let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
        return Err(db("filling the lookup tables")(e));
    }
    Ok(())
}

/// The lookup tables' file, beside the ledger's.
pub fn lookups_path(ledger: &Path) -> PathBuf {
    let mut name = ledger.as_os_str().to_owned();
    name.push("-lookups");
    PathBuf::from(name)
}

/// The lookups file as an SQLite URI (so that it can be attached read-only).
fn lookups_uri(path: &Path, read_only: bool) -> String {
    let mut uri = String::from("file:");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => uri.push_str("%25"),
            '?' => uri.push_str("%3f"),
            '#' => uri.push_str("%23"),
            c => uri.push(c),
        }
    }
    uri.push_str(if read_only { "?mode=ro" } else { "?mode=rwc" });
    uri
}

async fn attach(conn: &mut SqliteConnection, uri: &str) -> std::result::Result<(), sqlx::Error> {
    sqlx::query("ATTACH DATABASE ?1 AS lookups")
        .bind(uri)
        .execute(conn)
        .await
        .map(|_| ())
}

/// The layout of the lookups file, in its `user_version`; another one is rebuilt.
const LOOKUPS_LAYOUT: i64 = 1;

/// Attaches the lookups file to the maintenance connection, creating it when it is missing,
/// and empties it when it does not belong to these entries (another ledger's, or one ahead
/// of a ledger restored from a backup): the fill then rebuilds it from the entries. A file
/// SQLite cannot read is replaced.
async fn open_lookups(conn: &mut SqliteConnection, path: &Path) -> std::result::Result<(), String> {
    match try_open_lookups(conn, path).await {
        Ok(()) => Ok(()),
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "the lookup tables cannot be read; rebuilding them");
            // The setup's transaction may be open.
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            let _ = sqlx::query("DETACH DATABASE lookups")
                .execute(&mut *conn)
                .await;
            for suffix in ["", "-wal", "-shm"] {
                let mut name = path.as_os_str().to_owned();
                name.push(suffix);
                let _ = std::fs::remove_file(PathBuf::from(name));
            }
            try_open_lookups(conn, path)
                .await
                .map_err(|e| e.to_string())
        }
    }
}

async fn try_open_lookups(
    conn: &mut SqliteConnection,
    path: &Path,
) -> std::result::Result<(), sqlx::Error> {
    attach(conn, &lookups_uri(path, false)).await?;
    // They repeat the entries: a fill lost to a power cut is only done again.
    sqlx::query("PRAGMA lookups.journal_mode = WAL; PRAGMA lookups.synchronous = NORMAL")
        .execute(&mut *conn)
        .await?;
    let layout: i64 = sqlx::query_scalar("PRAGMA lookups.user_version")
        .fetch_one(&mut *conn)
        .await?;
    let rebuild = if layout == LOOKUPS_LAYOUT {
        ""
    } else {
        "DROP TABLE IF EXISTS lookups.entry_hashes;
         DROP TABLE IF EXISTS lookups.stream_versions;
         DROP TABLE IF EXISTS lookups.lookup_state;"
    };
    sqlx::query(&format!(
        "BEGIN IMMEDIATE;
         {rebuild}
         CREATE TABLE IF NOT EXISTS lookups.entry_hashes (
             hash BLOB PRIMARY KEY NOT NULL,
             seq  INTEGER NOT NULL
         ) WITHOUT ROWID;
         CREATE TABLE IF NOT EXISTS lookups.stream_versions (
             stream  TEXT NOT NULL,
             version INTEGER NOT NULL,
             seq     INTEGER NOT NULL,
             PRIMARY KEY (stream, version)
         ) WITHOUT ROWID;
         -- Entries with seq below indexed_size are in both tables; indexed_hash is the hash
         -- of the last of them, which ties the file to these entries.
         CREATE TABLE IF NOT EXISTS lookups.lookup_state (
             id           INTEGER PRIMARY KEY NOT NULL CHECK (id = 0),
             indexed_size INTEGER NOT NULL,
             indexed_hash BLOB
         );
         INSERT OR IGNORE INTO lookups.lookup_state (id, indexed_size) VALUES (0, 0);
         PRAGMA lookups.user_version = {LOOKUPS_LAYOUT};
         DELETE FROM lookups.entry_hashes WHERE {STRANGER};
         DELETE FROM lookups.stream_versions WHERE {STRANGER};
         UPDATE lookups.lookup_state SET indexed_size = 0, indexed_hash = NULL WHERE {STRANGER};
         COMMIT"
    ))
    .execute(&mut *conn)
    .await
    .map(|_| ())
}

/// True when the lookups were filled from other entries than these.
const STRANGER: &str = "(SELECT indexed_size > 0 AND indexed_hash IS NOT
     (SELECT hash FROM main.entries WHERE seq = indexed_size - 1) FROM lookups.lookup_state)";

fn db(doing: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| match &source {
        sqlx::Error::Database(e) if e.is_unique_violation() => StoreError::Conflict(doing),
        _ => StoreError::Database { doing, source },
    }
}

impl SqliteStore {
    /// Opens (creating when `create` is true) the ledger database at `path` and migrates it.
    pub async fn open(path: &Path, create: bool) -> Result<Self> {
        let open_err = |reason: String| StoreError::Open {
            location: path.display().to_string(),
            reason,
        };
        if !create && !path.exists() {
            return Err(open_err(
                "no ledger database here (run `custodia init` first)".into(),
            ));
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(create)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30))
            .pragma("wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES);
        let writing = options.clone().pragma("cache_size", WRITER_CACHE_KIB);
        let mut writer = SqliteConnection::connect_with(&writing)
            .await
            .map_err(|e| open_err(describe_open_error(&e)))?;
        // run_direct, not run: `run(&mut conn)` goes through `Acquire`, whose future is not
        // `Send` for every lifetime, which would make `open` unusable from spawned tasks.
        MIGRATOR
            .run_direct(&mut writer)
            .await
            .map_err(|e| open_err(format!("not a custodia ledger database, or damaged: {e}")))?;
        // May create the lookups file (the ledger's exists by now: the writer opened it).
        let mut maintenance =
            SqliteConnection::connect_with(&writing.clone().create_if_missing(true))
                .await
                .map_err(|e| open_err(describe_open_error(&e)))?;
        let lookups = lookups_path(path);
        open_lookups(&mut maintenance, &lookups)
            .await
            .map_err(|e| open_err(format!("the lookup tables ({}): {e}", lookups.display())))?;
        // Everyone else reads the lookups: attached read-only, they take no write lock there,
        // not even in an append's BEGIN IMMEDIATE (which locks every database it may write).
        let read_lookups = lookups_uri(&lookups, true);
        attach(&mut writer, &read_lookups)
            .await
            .map_err(|e| open_err(e.to_string()))?;
        // Readers stream many rows (a verification reads every one): a deep row buffer lets
        // the database thread run ahead instead of waking the reader for every few rows.
        let uri = read_lookups.clone();
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .after_connect(move |conn, _| {
                let uri = uri.clone();
                Box::pin(async move { attach(conn, &uri).await })
            })
            .connect_with(options.read_only(true).row_buffer_size(READ_ROW_BUFFER))
            .await
            .map_err(|e| open_err(describe_open_error(&e)))?;
        let direct = open_direct(path, &read_lookups).map_err(|e| open_err(e.to_string()))?;
        let writer = Arc::new(Mutex::new(WriteConn {
            conn: writer,
            tail: TailVersions::default(),
            direct: Arc::new(std::sync::Mutex::new(direct)),
        }));
        Ok(Self {
            path: path.to_owned(),
            pool,
            writer,
            maintenance: Maintenance::start(maintenance),
        })
    }

    /// Closes the connections, filling the lookup tables and checkpointing the WAL.
    pub async fn close(self) {
        let Self {
            pool,
            writer,
            maintenance,
            ..
        } = self;
        drop(maintenance.committed);
        let _ = maintenance.task.await;
        // The maintenance task, which held the other handle, has ended.
        if let Ok(writer) = Arc::try_unwrap(writer) {
            let _ = writer.into_inner().conn.close().await;
        }
        pool.close().await;
    }
}

fn describe_open_error(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(d) if d.message().contains("not a database") => {
            "the file is damaged or not a SQLite database".into()
        }
        other => other.to_string(),
    }
}

/// Blocking read-only connections on the ledger file, one per verifier worker. WAL readers
/// see the last commit when their read starts, beside the writer.
#[derive(Debug)]
struct SqliteScan {
    path: PathBuf,
}

impl Scan for SqliteScan {
    fn open(&self) -> Result<Box<dyn ScanReader>> {
        use rusqlite::OpenFlags;
        // NO_MUTEX: the connection stays on the thread that opened it.
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = rusqlite::Connection::open_with_flags(&self.path, flags)
            .map_err(read_err("opening the ledger to read"))?;
        conn.busy_timeout(Duration::from_secs(30))
            .map_err(read_err("opening the ledger to read"))?;
        Ok(Box::new(ScanConn { conn }))
    }
}

/// One worker's connection; its statements stay prepared between chunks.
struct ScanConn {
    conn: rusqlite::Connection,
}

impl ScanReader for ScanConn {
    fn rows(&mut self, from: u64, count: u64) -> Result<Vec<Row>> {
        let doing = "reading entries";
        let sql =
            format!("SELECT {ROW_COLUMNS} FROM entries WHERE seq >= ?1 AND seq < ?2 ORDER BY seq");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(read_err(doing))?;
        let end = from.saturating_add(count);
        let mut rows = stmt
            .query([to_i64(from), to_i64(end)])
            .map_err(read_err(doing))?;
        let mut out = Vec::with_capacity(usize::try_from(count.min(4096)).unwrap_or(0));
        while let Some(r) = rows.next().map_err(read_err(doing))? {
            out.push(row_from(r)?);
        }
        Ok(out)
    }

    fn nodes(&mut self, ids: &[NodeId]) -> Result<Vec<Option<Hash>>> {
        let doing = "reading tree nodes";
        let mut found =
            crate::merkle::NodeMap::with_capacity_and_hasher(ids.len(), Default::default());
        for (sql, params) in node_queries(ids) {
            let mut stmt = self.conn.prepare_cached(&sql).map_err(read_err(doing))?;
            let mut rows = stmt
                .query(rusqlite::params_from_iter(params))
                .map_err(read_err(doing))?;
            while let Some(r) = rows.next().map_err(read_err(doing))? {
                found.extend(node_of(r));
            }
        }
        Ok(ids.iter().map(|id| found.get(id).copied()).collect())
    }
}

fn read_err(doing: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |e| {
        use rusqlite::ErrorCode;
        let reason = match e.sqlite_error_code() {
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
                format!("the file is damaged or not a SQLite database ({e})")
            }
            _ => e.to_string(),
        };
        StoreError::Read { doing, reason }
    }
}

/// The columns of an entry row, in the order [`row_from`] reads them.
const ROW_COLUMNS: &str = "seq, hash, stream, version, type, recorded_at, occurred_at, line";

/// [`ROW_COLUMNS`] of `entries e` in a join.
const JOINED_COLUMNS: &str =
    "e.seq, e.hash, e.stream, e.version, e.type, e.recorded_at, e.occurred_at, e.line";

/// Column access shared by sqlx's rows and the blocking scan's rusqlite rows, so that both
/// decode and check a stored row alike. It follows sqlx's decoding: a NULL reads as 0 or as
/// empty, any other type mismatch as absent.
trait Columns {
    /// An INTEGER column.
    fn int(&self, i: usize) -> Option<i64>;
    /// A BLOB or TEXT column's bytes.
    fn bytes(&self, i: usize) -> Option<&[u8]>;
    /// A text column as stored; bytes that are not UTF-8 are replaced, so that the verifier
    /// names the damaged entry instead of the read failing.
    fn text(&self, i: usize) -> String;
}

impl Columns for SqliteRow {
    fn int(&self, i: usize) -> Option<i64> {
        self.try_get::<i64, _>(i).ok()
    }
    fn bytes(&self, i: usize) -> Option<&[u8]> {
        self.try_get::<&[u8], _>(i).ok()
    }
    fn text(&self, i: usize) -> String {
        match self.try_get::<&str, _>(i) {
            Ok(text) => text.to_owned(),
            Err(_) => self
                .try_get::<&[u8], _>(i)
                .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
                .unwrap_or_default(),
        }
    }
}

impl Columns for rusqlite::Row<'_> {
    fn int(&self, i: usize) -> Option<i64> {
        match self.get_ref(i).ok()? {
            ValueRef::Integer(v) => Some(v),
            ValueRef::Null => Some(0),
            _ => None,
        }
    }
    fn bytes(&self, i: usize) -> Option<&[u8]> {
        match self.get_ref(i).ok()? {
            ValueRef::Blob(b) | ValueRef::Text(b) => Some(b),
            ValueRef::Null => Some(&[]),
            _ => None,
        }
    }
    fn text(&self, i: usize) -> String {
        match self.get_ref(i) {
            Ok(ValueRef::Text(b) | ValueRef::Blob(b)) => String::from_utf8_lossy(b).into_owned(),
            _ => String::new(),
        }
    }
}

/// An entry row of [`ROW_COLUMNS`], checked: a damaged one is an error naming its seq.
fn row_from(r: &impl Columns) -> Result<Row> {
    // By position: the verifier reads every row, and names cost a lookup per column.
    let int = |i: usize, name: &str| -> Result<i64> {
        r.int(i)
            .ok_or_else(|| StoreError::Damaged(format!("entries.{name} is not an integer")))
    };
    let seq = int(0, "seq")?;
    let damaged = |what: &str| StoreError::Damaged(format!("seq {seq}: {what}"));
    let non_negative = |i: usize, name: &str| -> Result<u64> {
        u64::try_from(int(i, name)?).map_err(|_| damaged(&format!("{name} is negative")))
    };
    let hash = r.bytes(1).ok_or_else(|| damaged("hash is not a blob"))?;
    let hash = <[u8; 32]>::try_from(hash).map_err(|_| damaged("hash is not 32 bytes"))?;
    Ok(Row {
        seq: non_negative(0, "seq")?,
        hash: ChainHash(hash),
        stream: r.text(2),
        version: non_negative(3, "version")?,
        event_type: r.text(4),
        recorded_at_micros: int(5, "recorded_at")?,
        occurred_at_micros: int(6, "occurred_at")?,
        line: r.text(7),
    })
}

fn to_i64(v: u64) -> i64 {
    // Seqs and versions are bounded by 2^53 by the value rules.
    i64::try_from(v).unwrap_or(i64::MAX)
}

const HEAD_SQL: &str = "SELECT seq, hash, recorded_at FROM entries ORDER BY seq DESC LIMIT 1";

async fn read_head(conn: &mut SqliteConnection) -> Result<Head> {
    let row = sqlx::query(HEAD_SQL)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db("reading the head"))?;
    head_from(row.as_ref())
}

fn head_from(row: Option<&SqliteRow>) -> Result<Head> {
    let Some(row) = row else {
        return Ok(Head {
            size: 0,
            last_hash: ZERO_HASH,
            last_recorded_at: None,
        });
    };
    let seq: i64 = row.get("seq");
    let hash: Vec<u8> = row.get("hash");
    let hash = <[u8; 32]>::try_from(hash.as_slice())
        .map_err(|_| StoreError::Damaged(format!("seq {seq}: hash is not 32 bytes")))?;
    let recorded_at = Timestamp::from_micros(row.get("recorded_at"))
        .map_err(|e| StoreError::Damaged(format!("seq {seq}: {e}")))?;
    Ok(Head {
        size: u64::try_from(seq).unwrap_or(0) + 1,
        last_hash: ChainHash(hash),
        last_recorded_at: Some(recorded_at),
    })
}

/// The newest version of each stream of `chunk` among the indexed entries, as a query: `wanted`
/// holds the streams; `select` is what precedes the grouped versions (each row: stream, v, and
/// a null `indexed`).
fn indexed_versions_query<'a>(chunk: &'a [String], select: &str) -> QueryBuilder<'a, Sqlite> {
    let mut q: QueryBuilder<'_, Sqlite> = QueryBuilder::new("WITH wanted (stream) AS (");
    q.push_values(chunk, |mut b, s| {
        b.push_bind(s);
    });
    q.push(format!(
        ") {select} SELECT stream, MAX(version) AS v, NULL AS indexed FROM lookups.stream_versions
             WHERE stream IN wanted AND seq < {INDEXED_SIZE} GROUP BY stream"
    ));
    q
}

/// The streams' current versions: the lookup table for the indexed entries, the write
/// connection's map for the tail.
async fn read_versions(
    conn: &mut SqliteConnection,
    tail: &TailVersions,
    streams: &[String],
) -> Result<HashMap<String, u64>> {
    let mut versions = HashMap::with_capacity(streams.len());
    for chunk in streams.chunks(INSERT_ROWS_MAX) {
        for r in indexed_versions_query(chunk, "")
            .build()
            .fetch_all(&mut *conn)
            .await
            .map_err(db("reading stream versions"))?
        {
            let v: i64 = r.get("v");
            versions.insert(r.get("stream"), u64::try_from(v).unwrap_or(0));
        }
    }
    for stream in streams {
        if let Some(&(v, _)) = tail.streams.get(stream) {
            let current = versions.entry(stream.clone()).or_insert(0);
            *current = (*current).max(v);
        }
    }
    Ok(versions)
}

/// Position ranges per query at most.
const NODE_RANGES_MAX: usize = 128;

/// Levels below this share band 0 of `tree_nodes`; each level from it has a band of its own.
const SHARED_BAND_LEVELS: u8 = 6;

/// A node's band in `tree_nodes`.
fn node_band(level: u8) -> u8 {
    if level < SHARED_BAND_LEVELS {
        0
    } else {
        level
    }
}

/// The seq of the last entry a node covers: its key in `tree_nodes` with its band and level.
fn node_pos(level: u8, index: u64) -> Option<u64> {
    index
        .checked_add(1)?
        .checked_mul(1u64.checked_shl(u32::from(level))?)?
        .checked_sub(1)
        .filter(|pos| i64::try_from(*pos).is_ok())
}

/// The queries that read `ids`: SQL with `?` parameters and their values. Nodes are read as
/// ranges of positions in a band: a verifier asks for every node a span of entries completes
/// (a range per band), a proof for O(log n) scattered ones (a point each); both take one query
/// whose every term is a search of the primary key.
fn node_queries(ids: &[NodeId]) -> Vec<(String, Vec<i64>)> {
    // A node beyond any position there can be is simply not found.
    let mut points: Vec<(u8, u64)> = ids
        .iter()
        .filter_map(|id| Some((node_band(id.level), node_pos(id.level, id.index)?)))
        .collect();
    points.sort_unstable();
    let mut ranges: Vec<(u8, u64, u64)> = Vec::new();
    for (band, pos) in points {
        // Band 0 holds a node at every position; a higher band, one level, every 2^level.
        let step = if band == 0 { 1 } else { 1u64 << band.min(63) };
        match ranges.last_mut() {
            Some((b, _, end)) if *b == band && pos <= end.saturating_add(step) => *end = pos,
            _ => ranges.push((band, pos, pos)),
        }
    }
    ranges
        .chunks(NODE_RANGES_MAX)
        .map(|chunk| {
            // UNION ALL of plain range scans: the ranges are disjoint, and an OR of them would
            // make SQLite collect and deduplicate every row's key first.
            let sql = vec![NODE_RANGE_SQL; chunk.len()].join(" UNION ALL ");
            let params = chunk
                .iter()
                .flat_map(|(band, first, last)| [i64::from(*band), to_i64(*first), to_i64(*last)])
                .collect();
            (sql, params)
        })
        .collect()
}

const NODE_RANGE_SQL: &str =
    "SELECT level, idx, hash, pos FROM tree_nodes WHERE band = ? AND pos BETWEEN ? AND ?";

/// A row of [`NODE_RANGE_SQL`]; a damaged one counts as missing, and the caller names the node.
fn node_of(r: &impl Columns) -> Option<(NodeId, Hash)> {
    let level = r.int(0).and_then(|l| u8::try_from(l).ok())?;
    let index = r.int(1).and_then(|i| u64::try_from(i).ok())?;
    let hash = r.bytes(2).and_then(|h| <[u8; 32]>::try_from(h).ok())?;
    let pos = r.int(3).and_then(|p| u64::try_from(p).ok());
    // A row whose key does not match its level and index is damaged: missing.
    (pos.is_some() && pos == node_pos(level, index)).then_some((NodeId { level, index }, hash))
}

/// Reads stored nodes (see [`node_queries`]); rows in a range that were not asked for are
/// dropped here.
async fn read_nodes(conn: &mut SqliteConnection, ids: &[NodeId]) -> Result<Vec<Option<Hash>>> {
    let mut found = crate::merkle::NodeMap::with_capacity_and_hasher(ids.len(), Default::default());
    for (sql, params) in node_queries(ids) {
        let mut q = sqlx::query(&sql);
        for p in params {
            q = q.bind(p);
        }
        let rows = q
            .fetch_all(&mut *conn)
            .await
            .map_err(db("reading tree nodes"))?;
        found.extend(rows.iter().filter_map(node_of));
    }
    Ok(ids.iter().map(|id| found.get(id).copied()).collect())
}

/// Writes the batch and commits, in one round trip to the database thread: the statements run
/// in order and stop at the first error, which leaves the transaction open to roll back.
async fn write_and_commit(conn: &mut SqliteConnection, batch: &SealedBatch) -> Result<()> {
    let mut q: QueryBuilder<'_, Sqlite> = QueryBuilder::new("");
    for chunk in batch.rows.chunks(INSERT_ROWS_MAX) {
        q.push(
            "INSERT INTO entries (seq, hash, stream, version, type, recorded_at, occurred_at, line) ",
        );
        q.push_values(chunk, |mut b, row| {
            b.push_bind(to_i64(row.seq))
                .push_bind(row.hash.0.as_slice())
                .push_bind(&row.stream)
                .push_bind(to_i64(row.version))
                .push_bind(&row.event_type)
                .push_bind(row.recorded_at_micros)
                .push_bind(row.occurred_at_micros)
                .push_bind(&row.line);
        });
        q.push("; ");
    }
    for chunk in batch.nodes.chunks(INSERT_ROWS_MAX) {
        q.push("INSERT INTO tree_nodes (band, pos, level, idx, hash) ");
        q.push_values(chunk, |mut b, (id, hash)| {
            b.push_bind(i64::from(node_band(id.level)))
                .push_bind(node_pos(id.level, id.index).map_or(-1, to_i64))
                .push_bind(i64::from(id.level))
                .push_bind(to_i64(id.index))
                .push_bind(hash.as_slice());
        });
        q.push("; ");
    }
    q.push("COMMIT");
    q.build()
        .execute(&mut *conn)
        .await
        .map_err(db("writing and committing an append"))?;
    Ok(())
}

/// Opens the blocking write connection, set up as the sqlx write connection is.
fn open_direct(path: &Path, lookups_uri: &str) -> rusqlite::Result<rusqlite::Connection> {
    use rusqlite::OpenFlags;
    let conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )?;
    conn.busy_timeout(Duration::from_secs(30))?;
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;
         PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES};
         PRAGMA cache_size = {WRITER_CACHE_KIB};"
    ))?;
    conn.execute("ATTACH DATABASE ?1 AS lookups", [lookups_uri])?;
    Ok(conn)
}

/// A unique key broken is a conflict, as in [`db`]; anything else is a failed write.
fn write_err(doing: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    use rusqlite::ffi::{SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE};
    move |e| match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(
                f.extended_code,
                SQLITE_CONSTRAINT_PRIMARYKEY | SQLITE_CONSTRAINT_UNIQUE
            ) =>
        {
            StoreError::Conflict(doing)
        }
        _ => StoreError::Write {
            doing,
            reason: e.to_string(),
        },
    }
}

/// What [`write_presealed`] did.
enum Presealed {
    /// Written and committed; the lookup tables' `indexed_size` as of the commit.
    Written { indexed: u64 },
    /// The stored head is not the one the batch was sealed on; nothing was written.
    HeadMoved,
}

/// Writes `batch`, sealed on the head (`size`, `last_hash`), in one transaction if that is the
/// stored head. On any error the transaction rolls back (when `tx` is dropped).
fn write_presealed(
    conn: &mut rusqlite::Connection,
    size: u64,
    last_hash: ChainHash,
    batch: &SealedBatch,
) -> Result<Presealed> {
    let doing = "writing and committing an append";
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(write_err(doing))?;
    let head: Option<(i64, Vec<u8>)> = {
        let mut stmt = tx.prepare_cached(HEAD_SQL).map_err(write_err(doing))?;
        let mut rows = stmt.query([]).map_err(write_err(doing))?;
        // A damaged head reads as no match; the usual path then reports it.
        rows.next().map_err(write_err(doing))?.map(|r| {
            (
                r.int(0).unwrap_or(-1),
                r.bytes(1).unwrap_or_default().to_vec(),
            )
        })
    };
    let at_head = match head {
        None => size == 0,
        Some((seq, hash)) => {
            u64::try_from(seq).ok().and_then(|s| s.checked_add(1)) == Some(size)
                && hash == last_hash.0
        }
    };
    if !at_head {
        return Ok(Presealed::HeadMoved);
    }
    {
        let mut entries = tx
            .prepare_cached(
                "INSERT INTO entries
                     (seq, hash, stream, version, type, recorded_at, occurred_at, line)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .map_err(write_err(doing))?;
        for row in &batch.rows {
            entries
                .execute(rusqlite::params![
                    to_i64(row.seq),
                    row.hash.0.as_slice(),
                    row.stream,
                    to_i64(row.version),
                    row.event_type,
                    row.recorded_at_micros,
                    row.occurred_at_micros,
                    row.line,
                ])
                .map_err(write_err(doing))?;
        }
        let mut nodes = tx
            .prepare_cached(
                "INSERT INTO tree_nodes (band, pos, level, idx, hash) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(write_err(doing))?;
        for (id, hash) in &batch.nodes {
            nodes
                .execute(rusqlite::params![
                    i64::from(node_band(id.level)),
                    node_pos(id.level, id.index).map_or(-1, to_i64),
                    i64::from(id.level),
                    to_i64(id.index),
                    hash.as_slice(),
                ])
                .map_err(write_err(doing))?;
        }
    }
    let indexed: i64 = tx
        .prepare_cached(INDEXED_SIZE_SQL)
        .and_then(|mut stmt| stmt.query_row([], |r| r.get(0)))
        .map_err(write_err(doing))?;
    tx.commit().map_err(write_err(doing))?;
    Ok(Presealed::Written {
        indexed: u64::try_from(indexed).unwrap_or(0),
    })
}

/// Runs the blocking write `job` off the async task's footing: in place on a multi-threaded
/// runtime (its other tasks move to another worker; a hand-off to another thread and back
/// cost about 0.1 ms of each commit), on the blocking pool otherwise.
async fn blocking<T: Send + 'static>(job: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => {
            Ok(tokio::task::block_in_place(job))
        }
        Ok(h) => h.spawn_blocking(job).await.map_err(|e| StoreError::Write {
            doing: "writing and committing an append",
            reason: format!("the write task failed: {e}"),
        }),
        Err(_) => Ok(job()),
    }
}

/// The write connection's reads inside an append transaction.
struct Reads<'c>(&'c mut WriteConn);

#[async_trait]
impl super::TxReads for Reads<'_> {
    async fn versions(&mut self, streams: &[String]) -> Result<HashMap<String, u64>> {
        read_versions(&mut self.0.conn, &self.0.tail, streams).await
    }
    async fn nodes(&mut self, ids: &[NodeId]) -> Result<Vec<Option<Hash>>> {
        read_nodes(&mut self.0.conn, ids).await
    }
}

/// One append transaction; on error the caller rolls back.
async fn append_in_tx(w: &mut WriteConn, sealer: &mut dyn Sealer) -> Result<SealedBatch> {
    // One round trip takes the write lock and reads the head.
    let rows = sqlx::query(&format!("BEGIN IMMEDIATE; {HEAD_SQL}"))
        .fetch_all(&mut w.conn)
        .await
        .map_err(db("starting an append"))?;
    let head = head_from(rows.first())?;
    w.tail.refresh(&mut w.conn, head.size).await?;
    let batch = super::seal_under_lock(&mut Reads(&mut *w), head, sealer).await?;
    write_and_commit(&mut w.conn, &batch).await?;
    w.tail.committed(&batch);
    Ok(batch)
}

#[async_trait]
impl Store for SqliteStore {
    async fn meta(&self, key: &str) -> Result<Option<String>> {
        sqlx::query_scalar("SELECT value FROM ledger_meta WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading metadata"))
    }

    async fn init_meta(&self, key: &str, value: &str) -> Result<()> {
        let mut w = self.writer.lock().await;
        sqlx::query("INSERT INTO ledger_meta (key, value) VALUES (?, ?)")
            .bind(key)
            .bind(value)
            .execute(&mut w.conn)
            .await
            .map_err(db("writing metadata"))?;
        Ok(())
    }

    async fn head(&self) -> Result<Head> {
        let mut conn = self.pool.acquire().await.map_err(db("reading the head"))?;
        read_head(&mut conn).await
    }

    async fn append(&self, sealer: &mut dyn Sealer) -> Result<SealedBatch> {
        let mut w = self.writer.lock().await;
        if let Some((size, last_hash, batch)) = sealer.presealed() {
            let batch = batch.clone();
            let direct = w.direct.clone();
            let (written, batch) = blocking(move || {
                let mut conn = direct.lock().unwrap_or_else(|p| p.into_inner());
                let written = write_presealed(&mut conn, size, last_hash, &batch);
                (written, batch)
            })
            .await?;
            match written {
                Ok(Presealed::Written { indexed }) => {
                    // The tail map stays valid only if it was valid at the head written on.
                    if w.tail.at != Some(size) {
                        w.tail.at = None;
                    }
                    w.tail.committed(&batch);
                    if w.tail.streams.len() > TAIL_STREAMS_MAX {
                        w.tail.streams.retain(|_, (_, seq)| *seq >= indexed);
                    }
                    let _ = self.maintenance.committed.send(batch.rows.len() as u64);
                    return Ok(batch);
                }
                // Sealed on a head that is not there: sealed again below, under the lock.
                Ok(Presealed::HeadMoved) => {}
                Err(e) => {
                    w.tail.at = None;
                    return Err(e);
                }
            }
        }
        let result = append_in_tx(&mut w, sealer).await;
        if let Ok(batch) = &result {
            let _ = self.maintenance.committed.send(batch.rows.len() as u64);
        }
        if result.is_err() {
            // Nothing of the batch stays; the rollback's own failure would only hide the cause.
            w.tail.at = None;
            let _ = sqlx::query("ROLLBACK").execute(&mut w.conn).await;
        }
        result
    }

    async fn read(&self, from: u64, limit: u32) -> Result<Vec<Row>> {
        sqlx::query(&format!(
            "SELECT {ROW_COLUMNS} FROM entries WHERE seq >= ? ORDER BY seq LIMIT ?"
        ))
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
        // The lookup table names a seq; the entry itself must carry the hash.
        sqlx::query(&format!(
            "SELECT {ROW_COLUMNS} FROM entries
                 WHERE seq = (SELECT seq FROM lookups.entry_hashes WHERE hash = ?1) AND hash = ?1
             UNION ALL
             SELECT * FROM (SELECT {ROW_COLUMNS} FROM entries
                 WHERE seq >= {INDEXED_SIZE} AND hash = ?1)
             LIMIT 1"
        ))
        .bind(hash.0.as_slice())
        .fetch_optional(&self.pool)
        .await
        .map_err(db("reading an entry by hash"))?
        .as_ref()
        .map(row_from)
        .transpose()
    }

    async fn stream_rows(&self, stream: &str, from_version: u64, limit: u32) -> Result<Vec<Row>> {
        sqlx::query(&format!(
            "SELECT {ROW_COLUMNS} FROM (
                 SELECT * FROM (SELECT {JOINED_COLUMNS}
                     FROM lookups.stream_versions sv JOIN main.entries e ON e.seq = sv.seq
                     WHERE sv.stream = ?1 AND sv.version >= ?2 AND sv.seq < {INDEXED_SIZE}
                         AND e.stream = sv.stream AND e.version = sv.version
                     ORDER BY sv.version LIMIT ?3)
                 UNION ALL
                 SELECT * FROM (SELECT {ROW_COLUMNS} FROM entries
                     WHERE seq >= {INDEXED_SIZE} AND stream = ?1 AND version >= ?2
                     ORDER BY version LIMIT ?3)
             ) ORDER BY version LIMIT ?3"
        ))
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
        let mut w = self.writer.lock().await;
        sqlx::query("INSERT INTO checkpoints (size, note) VALUES (?, ?) ON CONFLICT DO NOTHING")
            .bind(to_i64(size))
            .bind(note)
            .execute(&mut w.conn)
            .await
            .map_err(db("writing a checkpoint"))?;
        Ok(())
    }

    async fn checkpoint(&self, size: u64) -> Result<Option<String>> {
        sqlx::query_scalar("SELECT note FROM checkpoints WHERE size = ?")
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

    fn scan(&self) -> Option<Arc<dyn Scan>> {
        Some(Arc::new(SqliteScan {
            path: self.path.clone(),
        }))
    }

    async fn settled_versions(
        &self,
        streams: &[String],
        settled_from: u64,
    ) -> Result<Option<HashMap<String, u64>>> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(db("reading stream versions"))?;
        let mut versions = HashMap::with_capacity(streams.len());
        for chunk in streams.chunks(INSERT_ROWS_MAX) {
            // One statement, one snapshot: the versions are those of the indexed entries it
            // reports, which answer for a stream only if the entries it may have are all indexed.
            // The first row, with no stream, reports the indexed size.
            let select =
                format!("SELECT NULL AS stream, NULL AS v, {INDEXED_SIZE} AS indexed UNION ALL");
            let rows = indexed_versions_query(chunk, &select)
                .build()
                .fetch_all(&mut *conn)
                .await
                .map_err(db("reading stream versions"))?;
            let read = |r: &SqliteRow| -> std::result::Result<_, sqlx::Error> {
                Ok((
                    r.try_get::<Option<String>, _>("stream")?,
                    r.try_get::<Option<i64>, _>("v")?,
                    r.try_get::<Option<i64>, _>("indexed")?,
                ))
            };
            for r in &rows {
                match read(r).map_err(db("reading stream versions"))? {
                    (None, _, indexed) => {
                        let indexed = indexed.and_then(|i| u64::try_from(i).ok()).unwrap_or(0);
                        if indexed < settled_from {
                            return Ok(None);
                        }
                    }
                    (Some(stream), v, _) => {
                        let v = v.and_then(|v| u64::try_from(v).ok()).unwrap_or(0);
                        versions.insert(stream, v);
                    }
                }
            }
        }
        for stream in streams {
            versions.entry(stream.clone()).or_insert(0);
        }
        Ok(Some(versions))
    }
}

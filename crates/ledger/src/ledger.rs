//! A ledger in a data directory: creating it (keys and genesis), opening it, appending through
//! the writer, proofs and checkpoints.
//!
//! A data directory holds `ledger.db` (SQLite) and `keys/root.pem` (the root key, to be moved
//! offline) and `keys/node.pem` (the node key, registered by the root key, that seals entries
//! and checkpoints).

use crate::entry::{Entry, EntryError, Event, Unsealed, ZERO_HASH};
use crate::keys::{
    KeyChange, KeyError, KeyRegistry, Purpose, SecretKey, GENESIS_STREAM, KEYS_STREAM,
};
use crate::merkle::{self, Frontier, Hash, MerkleError, NodeId};
use crate::store::sqlite::SqliteStore;
use crate::store::{Result as StoreResult, Row, SealedBatch, Sealer, Store, StoreError, TxView};
use crate::time::Timestamp;
use crate::writer::{
    row_of, AppendError, AppendRequest, Receipt, Writer, WriterConfig, WriterState,
};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The database file in a data directory.
pub const DB_FILE: &str = "ledger.db";
/// The root key file in a data directory.
pub const ROOT_KEY_FILE: &str = "keys/root.pem";
/// The node key file in a data directory.
pub const NODE_KEY_FILE: &str = "keys/node.pem";
/// Rows read per query when scanning.
pub const READ_ROWS_MAX: u32 = 2048;

/// A ledger-level failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A key file problem.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// An entry rule was broken.
    #[error(transparent)]
    Entry(#[from] EntryError),
    /// A Merkle proof could not be made.
    #[error(transparent)]
    Merkle(#[from] MerkleError),
    /// An append failed.
    #[error(transparent)]
    Append(#[from] AppendError),
    /// The data directory is not usable.
    #[error("data directory {path}: {reason}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A stored entry does not read back (damaged or tampered): run `custodia verify`.
    #[error("seq {seq}: stored entry is unreadable: {reason}")]
    Stored {
        /// The entry's seq.
        seq: u64,
        /// What is wrong.
        reason: String,
    },
    /// Something asked of the ledger does not exist or is out of range.
    #[error("{0}")]
    Range(String),
}

/// Result of ledger calls.
pub type Result<T, E = LedgerError> = std::result::Result<T, E>;

/// Options for creating a ledger.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// The ledger's name (C2SP origin syntax).
    pub name: String,
    /// Who creates it, e.g. `user:ceo@acme.example`.
    pub actor: String,
    /// Encrypts the root key file when given.
    pub root_passphrase: Option<String>,
}

/// What `init` made.
#[derive(Debug, Clone)]
pub struct InitReport {
    /// The root key file.
    pub root_key_file: PathBuf,
    /// The node key file.
    pub node_key_file: PathBuf,
    /// The root public key.
    pub root_key: String,
    /// The node public key.
    pub node_key: String,
}

/// An open ledger.
pub struct Ledger {
    name: String,
    store: Arc<dyn Store>,
    writer: Writer,
    node_key: Arc<SecretKey>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Ledger {
    /// Creates a ledger in `dir`: root and node keys, the genesis entry and the node key's
    /// registration. Refuses a directory that already holds a ledger.
    pub async fn init(dir: &Path, options: &InitOptions) -> Result<InitReport> {
        crate::entry::check_ledger_name(&options.name)?;
        let db_path = dir.join(DB_FILE);
        if db_path.exists() {
            return Err(LedgerError::DataDir {
                path: dir.to_owned(),
                reason: "already holds a ledger".into(),
            });
        }
        let data_dir_err = |e: std::io::Error| LedgerError::DataDir {
            path: dir.to_owned(),
            reason: e.to_string(),
        };
        let root = SecretKey::generate();
        let node = SecretKey::generate();
        // Built first: it checks the name and actor, so bad options leave nothing behind.
        let mut sealer = GenesisSealer::new(&options.name, &options.actor, &root, &node)?;
        std::fs::create_dir_all(dir.join("keys")).map_err(data_dir_err)?;
        let (root_file, node_file) = (dir.join(ROOT_KEY_FILE), dir.join(NODE_KEY_FILE));
        root.write_pem(&root_file, options.root_passphrase.as_deref())?;
        node.write_pem(&node_file, None)?;
        let store = SqliteStore::open(&db_path, true).await?;
        store.init_meta("name", &options.name).await?;
        store.append(&mut sealer).await?;
        store.close().await;
        tracing::info!(ledger = %options.name, "ledger created");
        Ok(InitReport {
            root_key_file: root_file,
            node_key_file: node_file,
            root_key: root.public().to_base64(),
            node_key: node.public().to_base64(),
        })
    }

    /// Creates a ledger on an empty store of any backend: its name, the genesis entry (signed and
    /// attested by `root`) and `node`'s registration for entries and checkpoints. Key files are
    /// the caller's business.
    pub async fn create_on(
        store: &dyn Store,
        name: &str,
        actor: &str,
        root: &SecretKey,
        node: &SecretKey,
    ) -> Result<()> {
        crate::entry::check_ledger_name(name)?;
        let mut sealer = GenesisSealer::new(name, actor, root, node)?;
        if store.meta("name").await?.is_some() {
            return Err(LedgerError::Range(
                "the store already holds a ledger".into(),
            ));
        }
        store.init_meta("name", name).await?;
        store.append(&mut sealer).await?;
        Ok(())
    }

    /// Opens the ledger in `dir`, sealing with its node key file.
    pub async fn open(dir: &Path) -> Result<Self> {
        let store = SqliteStore::open(&dir.join(DB_FILE), false).await?;
        let node_key = SecretKey::read_pem(&dir.join(NODE_KEY_FILE), None)?;
        Self::open_store(Arc::new(store), node_key, WriterConfig::default()).await
    }

    /// Opens a ledger on any store, sealing with `node_key`.
    pub async fn open_store(
        store: Arc<dyn Store>,
        node_key: SecretKey,
        config: WriterConfig,
    ) -> Result<Self> {
        let name = store.meta("name").await?.ok_or_else(|| {
            LedgerError::Range("the database holds no ledger (run `custodia init`)".into())
        })?;
        let registry = load_registry(&*store).await?;
        let head = store.head().await?;
        let ids = merkle::root_nodes(head.size);
        let found: HashMap<NodeId, Hash> = ids
            .iter()
            .copied()
            .zip(store.nodes(&ids).await?)
            .filter_map(|(id, h)| h.map(|h| (id, h)))
            .collect();
        let frontier = Frontier::from_nodes(head.size, |id| found.get(&id).copied())?;
        let node_key = Arc::new(node_key);
        let writer = Writer::spawn(
            store.clone(),
            WriterState {
                ledger: name.clone(),
                node_key: node_key.clone(),
                registry,
                frontier,
            },
            config,
        );
        Ok(Self {
            name,
            store,
            writer,
            node_key,
        })
    }

    /// The ledger's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The writer (append and subscribe).
    pub fn writer(&self) -> &Writer {
        &self.writer
    }

    /// Appends one event; returns once it is durable.
    pub async fn append(&self, request: AppendRequest) -> Result<Receipt, AppendError> {
        self.writer.append(request).await
    }

    /// Number of entries.
    pub async fn size(&self) -> Result<u64> {
        Ok(self.store.head().await?.size)
    }

    /// The Merkle root over the first `size` entries.
    pub async fn root(&self, size: u64) -> Result<Hash> {
        let nodes = self.lookup(&merkle::root_nodes(size)).await?;
        Ok(merkle::root_from(size, |id| nodes.get(&id).copied())?)
    }

    /// Inclusion proof of entry `index` in the tree of `size` entries.
    pub async fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>> {
        self.check_size(size).await?;
        let nodes = self.lookup(&merkle::inclusion_nodes(index, size)?).await?;
        Ok(merkle::inclusion_proof_from(index, size, |id| {
            nodes.get(&id).copied()
        })?)
    }

    /// Consistency proof from the tree of `m` entries to the tree of `n`.
    pub async fn consistency_proof(&self, m: u64, n: u64) -> Result<Vec<Hash>> {
        self.check_size(n).await?;
        let nodes = self.lookup(&merkle::consistency_nodes(m, n)?).await?;
        Ok(merkle::consistency_proof_from(m, n, |id| {
            nodes.get(&id).copied()
        })?)
    }

    async fn check_size(&self, size: u64) -> Result<()> {
        let head = self.store.head().await?.size;
        if size > head {
            return Err(LedgerError::Range(format!(
                "tree size {size} is beyond the ledger's {head} entries"
            )));
        }
        Ok(())
    }

    async fn lookup(&self, ids: &[NodeId]) -> Result<HashMap<NodeId, Hash>> {
        let hashes = self.store.nodes(ids).await?;
        Ok(ids
            .iter()
            .copied()
            .zip(hashes)
            .filter_map(|(id, h)| h.map(|h| (id, h)))
            .collect())
    }

    /// Signs and stores a checkpoint of the current tree with the node key; returns the note.
    pub async fn checkpoint(&self) -> Result<String> {
        let size = self.size().await?;
        if let Some(note) = self.store.checkpoint(size).await? {
            return Ok(note);
        }
        let registry = load_registry(&*self.store).await?;
        if size == 0 || !registry.allows(&self.node_key.public(), size - 1, Purpose::Checkpoint) {
            return Err(LedgerError::Range(format!(
                "the node key is not active for checkpoints at seq {}",
                size.saturating_sub(1)
            )));
        }
        let root = self.root(size).await?;
        let checkpoint = crate::note::Checkpoint::new(self.name.clone(), size, root);
        let note = crate::note::SignedCheckpoint::sign(
            checkpoint,
            &self.name,
            self.node_key.signing_key(),
        )
        .map_err(|e| LedgerError::Range(e.to_string()))?
        .to_string();
        self.store.put_checkpoint(size, &note).await?;
        Ok(note)
    }

    /// Reads the entry at `seq`.
    pub async fn entry(&self, seq: u64) -> Result<Option<Entry>> {
        let rows = self.store.read(seq, 1).await?;
        match rows.into_iter().next() {
            Some(row) if row.seq == seq => Ok(Some(parse_row(&row)?)),
            _ => Ok(None),
        }
    }

    /// Every entry of one stream, in version order.
    pub async fn stream(&self, stream: &str) -> Result<Vec<Entry>> {
        read_stream(&*self.store, stream).await
    }
}

/// Parses a stored row's line.
pub fn parse_row(row: &Row) -> Result<Entry> {
    Entry::parse_line(&row.line)
        .map(|(e, _)| e)
        .map_err(|e| LedgerError::Stored {
            seq: row.seq,
            reason: e.to_string(),
        })
}

async fn read_stream(store: &dyn Store, stream: &str) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    loop {
        let from = out.len() as u64 + 1;
        let rows = store.stream_rows(stream, from, READ_ROWS_MAX).await?;
        let done = rows.len() < READ_ROWS_MAX as usize;
        for row in &rows {
            out.push(parse_row(row)?);
        }
        if done {
            return Ok(out);
        }
    }
}

/// The key registry as of the head, from the genesis and key streams.
pub async fn load_registry(store: &dyn Store) -> Result<KeyRegistry> {
    let mut entries = read_stream(store, GENESIS_STREAM).await?;
    entries.extend(read_stream(store, KEYS_STREAM).await?);
    let mut registry = KeyRegistry::default();
    for entry in entries {
        match KeyChange::from_event(&entry.event) {
            Ok(Some(change)) => change.apply(&mut registry, entry.seq),
            Ok(None) => {}
            Err(reason) => {
                return Err(LedgerError::Stored {
                    seq: entry.seq,
                    reason,
                })
            }
        }
    }
    Ok(registry)
}

/// Seals the genesis entry and the node key's registration, both attested by the root key.
struct GenesisSealer {
    entries: Vec<Unsealed>,
    root: SecretKey,
}

impl GenesisSealer {
    fn new(name: &str, actor: &str, root: &SecretKey, node: &SecretKey) -> Result<Self> {
        let now = Timestamp::now();
        let mut genesis = serde_json::Map::new();
        genesis.insert("name".into(), name.into());
        genesis.insert("root_key".into(), root.public().to_base64().into());
        genesis.insert("chain_hash".into(), "blake3".into());
        genesis.insert("tree_hash".into(), "sha256".into());
        genesis.insert("canonicalization".into(), "rfc8785".into());
        let genesis = Event::new(GENESIS_STREAM, 1, "ledger.created", 1, now, actor, genesis)?;
        let data = KeyChange::registration_data(
            &node.public(),
            "*",
            &[Purpose::Entry, Purpose::Checkpoint],
            Some("node-1"),
        );
        let register = Event::new(KEYS_STREAM, 1, "key.registered", 1, now, actor, data)?;
        let mut entries = Vec::new();
        for (seq, event) in [genesis, register].into_iter().enumerate() {
            entries.push(Unsealed {
                ledger: name.to_owned(),
                seq: seq as u64,
                prev: ZERO_HASH,
                recorded_at: now,
                attestation: Some(event.attest(root)?),
                event,
            });
        }
        Ok(Self {
            entries,
            root: root.clone(),
        })
    }
}

impl Sealer for GenesisSealer {
    fn streams(&self) -> Vec<String> {
        Vec::new()
    }
    fn frontier_size(&self) -> u64 {
        0
    }
    fn seal(&mut self, view: TxView) -> StoreResult<SealedBatch> {
        if view.head.size != 0 {
            return Err(StoreError::Refused("the ledger already has entries".into()));
        }
        let mut frontier = Frontier::new();
        let mut batch = SealedBatch::default();
        let mut prev = ZERO_HASH;
        for mut unsealed in std::mem::take(&mut self.entries) {
            unsealed.prev = prev;
            let entry = unsealed
                .seal(&self.root)
                .map_err(|e| StoreError::Refused(e.to_string()))?;
            prev = entry.hash;
            batch.nodes.extend(frontier.push(entry.hash.0));
            batch.rows.push(row_of(&entry));
        }
        Ok(batch)
    }
}

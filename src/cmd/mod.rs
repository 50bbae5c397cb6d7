//! One module per command; [`run`] dispatches and returns the exit code. This module is also
//! the one place that opens (or, on PostgreSQL, creates) a ledger's store for a command.

mod append;
mod bridge;
mod client;
mod demo;
mod init;
mod keys;
mod prove;
mod replay;
mod serve;
mod tokens;
mod verify;

use crate::cli::{
    Command, DataDir, KeysCommand, Location, ProveCommand, NODE_KEY_NAME, ROOT_KEY_NAME,
};
use crate::exit::{self, bad_input};
use anyhow::Context as _;
use custodia_ledger::keys::SecretKey;
use custodia_ledger::ledger::{InitOptions, InitReport, Ledger, DB_FILE};
use custodia_ledger::store::postgres::PgStore;
use custodia_ledger::store::sqlite::SqliteStore;
use custodia_ledger::store::Store;
use custodia_ledger::writer::WriterConfig;
use custodia_projections::{Projector, ProjectorConfig, SnapshotStore};
use std::path::Path;
use std::sync::Arc;

/// Runs one command; `Ok` carries the exit code (0, or 1 for violations).
pub(crate) async fn run(command: Command) -> anyhow::Result<u8> {
    match command {
        Command::Init(args) => init::run(args).await,
        Command::Append(args) => append::run(args).await,
        Command::Verify(args) => verify::run(args).await,
        Command::Export(args) => verify::export(args).await,
        Command::Checkpoint(data) => checkpoint(&data).await,
        Command::Prove(ProveCommand::Inclusion { data, seq, size }) => {
            prove::inclusion(&data, seq, size).await
        }
        Command::Prove(ProveCommand::Consistency { data, from, to }) => {
            prove::consistency(&data, from, to).await
        }
        Command::Keys(KeysCommand::List(data)) => keys::list(&data).await,
        Command::Keys(KeysCommand::Register(args)) => keys::register(args).await,
        Command::Keys(KeysCommand::Revoke(args)) => keys::revoke(args).await,
        Command::Keys(KeysCommand::Generate { out, encrypt }) => keys::generate(&out, encrypt),
        Command::Keys(KeysCommand::Rotate(args)) => keys::rotate(args).await,
        Command::Serve(args) => serve::run(args).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Tokens(command) => tokens::run(command).await,
        Command::Replay(args) => replay::run(args).await,
        Command::Client(command) => client::run(command).await,
        Command::Bridge(command) => bridge::run(command).await,
    }
}

async fn checkpoint(data: &DataDir) -> anyhow::Result<u8> {
    let ledger = open_ledger(data).await?;
    let note = ledger.checkpoint().await.context("signing a checkpoint")?;
    print!("{note}");
    Ok(exit::OK)
}

/// Refuses a directory that holds no ledger before the store is asked, so that a mistyped
/// `--data` is reported as the user's mistake (exit 2), not as a database failure.
fn require_ledger(dir: &Path) -> anyhow::Result<()> {
    if !dir.join(DB_FILE).is_file() {
        return Err(bad_input(format!(
            "{} holds no ledger (no {DB_FILE}); create one with `custodia init --data {}`",
            dir.display(),
            dir.display()
        )));
    }
    Ok(())
}

/// An open store of either backend; derefs to the [`Store`] trait.
pub(crate) enum AnyStore {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

impl std::ops::Deref for AnyStore {
    type Target = dyn Store;
    fn deref(&self) -> &Self::Target {
        match self {
            AnyStore::Sqlite(s) => s,
            AnyStore::Postgres(s) => s,
        }
    }
}

impl AnyStore {
    /// Closes the connections (SQLite also folds its write-ahead log back).
    pub(crate) async fn close(self) {
        match self {
            AnyStore::Sqlite(s) => s.close().await,
            AnyStore::Postgres(s) => s.close().await,
        }
    }

    pub(crate) fn into_arc(self) -> Arc<dyn Store> {
        match self {
            AnyStore::Sqlite(s) => Arc::new(s),
            AnyStore::Postgres(s) => Arc::new(s),
        }
    }
}

/// Opens the store alone: reading and verifying need no key.
pub(crate) async fn open_store(data: &DataDir) -> anyhow::Result<AnyStore> {
    match data.location() {
        Location::Dir(dir) => {
            require_ledger(&dir)?;
            let store = SqliteStore::open(&dir.join(DB_FILE), false)
                .await
                .with_context(|| format!("opening the ledger in {}", dir.display()))?;
            Ok(AnyStore::Sqlite(store))
        }
        Location::Postgres(url) => {
            let store = open_postgres(&url).await?;
            if store.meta("name").await?.is_none() {
                return Err(bad_input(format!(
                    "{} holds no ledger; create one with `custodia init --data <URL> --keys DIR`",
                    data.display()
                )));
            }
            Ok(AnyStore::Postgres(store))
        }
    }
}

/// Opens a PostgreSQL database, whether or not it holds a ledger yet.
async fn open_postgres(url: &str) -> anyhow::Result<PgStore> {
    // The store's error already names the (redacted) URL.
    Ok(PgStore::open(url).await?)
}

/// Whether `data` already holds a ledger (the data directory its database, the PostgreSQL
/// database a ledger's name).
pub(crate) async fn holds_ledger(data: &DataDir) -> anyhow::Result<bool> {
    match data.location() {
        Location::Dir(dir) => Ok(dir.join(DB_FILE).exists()),
        Location::Postgres(url) => {
            let store = open_postgres(&url)
                .await
                .with_context(|| format!("opening {}", data.display()))?;
            let named = store.meta("name").await?.is_some();
            store.close().await;
            Ok(named)
        }
    }
}

/// Opens the ledger for writing, sealing with the node key file of `data`.
pub(crate) async fn open_ledger(data: &DataDir) -> anyhow::Result<Ledger> {
    let node = data.node_key_file();
    if let Location::Dir(dir) = data.location() {
        require_ledger(&dir)?;
    }
    if !node.is_file() {
        anyhow::bail!(
            "node key file {} is missing: it seals every entry and checkpoint; restore it from \
             backup, or register a new node key with the root key (`custodia keys register`)",
            node.display()
        );
    }
    let node_key = SecretKey::read_pem(&node, None)
        .with_context(|| format!("reading the node key {}", node.display()))?;
    let store = open_store(data).await?;
    Ledger::open_store(store.into_arc(), node_key, WriterConfig::default())
        .await
        .with_context(|| format!("opening the ledger in {}", data.display()))
}

/// Opens the API's own tables (tokens, cosigned checkpoints): `DIR/api.db` beside a data
/// directory, or the same PostgreSQL database, so that every node sees every token.
pub(crate) async fn open_api_db(data: &DataDir) -> anyhow::Result<custodia_api::auth::ApiDb> {
    let db = match data.location() {
        Location::Dir(dir) => {
            require_ledger(&dir)?;
            custodia_api::auth::ApiDb::open(&dir).await
        }
        Location::Postgres(url) => custodia_api::auth::ApiDb::open_postgres(&url).await,
    };
    db.with_context(|| format!("opening the API tables of {}", data.display()))
}

/// The read models folded from the whole ledger in `store`. Snapshots stay in memory: a
/// command's projector lives only as long as the command.
pub(crate) async fn fold(store: Arc<dyn Store>) -> anyhow::Result<Projector> {
    let snapshots = SnapshotStore::in_memory()
        .await
        .context("preparing snapshots")?;
    Projector::open(store, snapshots, ProjectorConfig::default())
        .await
        .context("folding the ledger into the registers")
}

/// Checks `<class>:<name>` with the ledger's own rule, by building a throwaway event.
pub(crate) fn check_actor(actor: &str, flag: &str) -> anyhow::Result<()> {
    custodia_ledger::entry::Event::new(
        "ledger/check",
        1,
        "actor.checked",
        1,
        custodia_ledger::time::Timestamp::now(),
        actor,
        serde_json::Map::new(),
    )
    .map(drop)
    .map_err(|e| bad_input(format!("{flag}: {e}")))
}

/// A ledger in a PostgreSQL database, its key files in `--keys`. Nothing is written when the
/// database already holds a ledger or a key file is already there.
pub(crate) async fn create_on_postgres(
    url: &str,
    data: &DataDir,
    options: &InitOptions,
) -> anyhow::Result<InitReport> {
    let keys = data.key_dir();
    let (root_file, node_file) = (keys.join(ROOT_KEY_NAME), keys.join(NODE_KEY_NAME));
    for file in [&root_file, &node_file] {
        if file.exists() {
            return Err(bad_input(format!(
                "{} exists: give --keys a new directory for this ledger's keys",
                file.display()
            )));
        }
    }
    let store = open_postgres(url)
        .await
        .with_context(|| format!("opening {}", data.display()))?;
    if store.meta("name").await?.is_some() {
        return Err(bad_input(format!(
            "{} already holds a ledger",
            data.display()
        )));
    }
    let (root, node) = (SecretKey::generate(), SecretKey::generate());
    std::fs::create_dir_all(&keys)
        .with_context(|| format!("creating the key directory {}", keys.display()))?;
    // Keys first: a ledger whose keys were never written could not be used.
    root.write_pem(&root_file, options.root_passphrase.as_deref())?;
    node.write_pem(&node_file, None)?;
    Ledger::create_on(&store, &options.name, &options.actor, &root, &node)
        .await
        .with_context(|| format!("creating a ledger in {}", data.display()))?;
    store.close().await;
    Ok(InitReport {
        root_key_file: root_file,
        node_key_file: node_file,
        root_key: root.public().to_base64(),
        node_key: node.public().to_base64(),
    })
}

//! One module per command; [`run`] dispatches and returns the exit code.

mod append;
pub(crate) mod bridge;
pub(crate) mod demo;
mod init;
mod keys;
mod prove;
pub(crate) mod serve;
pub(crate) mod tokens;
mod verify;

use crate::cli::{Command, KeysCommand, ProveCommand};
use crate::exit::{self, bad_input};
use anyhow::Context as _;
use custodia_ledger::ledger::{Ledger, DB_FILE, NODE_KEY_FILE};
use custodia_ledger::store::sqlite::SqliteStore;
use std::path::Path;

/// Runs one command; `Ok` carries the exit code (0, or 1 for violations).
pub(crate) async fn run(command: Command) -> anyhow::Result<u8> {
    match command {
        Command::Init(args) => init::run(args).await,
        Command::Append(args) => append::run(args).await,
        Command::Verify(args) => verify::run(args).await,
        Command::Export(args) => verify::export(args).await,
        Command::Checkpoint(data) => checkpoint(&data.path).await,
        Command::Prove(ProveCommand::Inclusion { data, seq, size }) => {
            prove::inclusion(&data.path, seq, size).await
        }
        Command::Prove(ProveCommand::Consistency { data, from, to }) => {
            prove::consistency(&data.path, from, to).await
        }
        Command::Keys(KeysCommand::List(data)) => keys::list(&data.path).await,
        Command::Keys(KeysCommand::Register(args)) => keys::register(args).await,
        Command::Keys(KeysCommand::Revoke(args)) => keys::revoke(args).await,
        Command::Keys(KeysCommand::Generate { out, encrypt }) => keys::generate(&out, encrypt),
        Command::Keys(KeysCommand::Rotate(args)) => keys::rotate(args).await,
        Command::Serve(args) => serve::run(args).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Tokens(command) => tokens::run(command).await,
        Command::Bridge(command) => bridge::run(command).await,
    }
}

async fn checkpoint(dir: &Path) -> anyhow::Result<u8> {
    let ledger = open_ledger(dir).await?;
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

/// Opens the store alone: reading and verifying need no key.
pub(crate) async fn open_store(dir: &Path) -> anyhow::Result<SqliteStore> {
    require_ledger(dir)?;
    SqliteStore::open(&dir.join(DB_FILE), false)
        .await
        .with_context(|| format!("opening the ledger in {}", dir.display()))
}

/// Opens the ledger for writing, sealing with the data directory's node key.
pub(crate) async fn open_ledger(dir: &Path) -> anyhow::Result<Ledger> {
    require_ledger(dir)?;
    let node = dir.join(NODE_KEY_FILE);
    if !node.is_file() {
        anyhow::bail!(
            "node key file {} is missing: it seals every entry and checkpoint; restore it from \
             backup, or register a new node key with the root key (`custodia keys register`)",
            node.display()
        );
    }
    Ledger::open(dir)
        .await
        .with_context(|| format!("opening the ledger in {}", dir.display()))
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

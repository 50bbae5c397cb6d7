//! `custodia init`.

use crate::cli::InitArgs;
use crate::cli::{DataDir, Location, NODE_KEY_NAME, ROOT_KEY_NAME};
use crate::exit;
use crate::secrets::{passphrase, ROOT_PASSPHRASE_ENV};
use anyhow::Context as _;
use custodia_ledger::keys::SecretKey;
use custodia_ledger::ledger::{InitOptions, InitReport, Ledger};
use custodia_ledger::store::postgres::PgStore;
use custodia_ledger::store::Store as _;

pub(crate) async fn run(args: InitArgs) -> anyhow::Result<u8> {
    // Checked before `Ledger::init` writes key files, which it does before it checks the actor.
    super::check_actor(&args.actor, "--actor")?;
    let root_passphrase = if args.encrypt_root {
        let pass = passphrase(ROOT_PASSPHRASE_ENV, "the new root key", true)?;
        Some(pass.to_string())
    } else {
        None
    };
    let options = InitOptions {
        name: args.name,
        actor: args.actor,
        root_passphrase,
    };
    let report = match args.data.location() {
        Location::Dir(dir) => Ledger::init(&dir, &options)
            .await
            .with_context(|| format!("creating a ledger in {}", dir.display()))?,
        Location::Postgres(url) => init_postgres(&url, &args.data, &options).await?,
    };
    println!(
        "created ledger {:?} in {}",
        options.name,
        args.data.display()
    );
    println!("root key: {}", report.root_key_file.display());
    println!("  public: {}", report.root_key);
    println!("node key: {}", report.node_key_file.display());
    println!("  public: {}", report.node_key);
    println!();
    println!(
        "The root key controls every key of this ledger. Move {} offline (a vault, a hardware \
         token, paper in a safe) and keep only the node key on this machine.",
        report.root_key_file.display()
    );
    if !args.encrypt_root {
        println!("It is not encrypted: next time consider `custodia init --encrypt-root`.");
    }
    Ok(exit::OK)
}

/// A ledger in a PostgreSQL database, its key files in `--keys`. Nothing is written when the
/// database already holds a ledger or a key file is already there.
pub(crate) async fn init_postgres(
    url: &str,
    data: &DataDir,
    options: &InitOptions,
) -> anyhow::Result<InitReport> {
    let keys = data.key_dir();
    let (root_file, node_file) = (keys.join(ROOT_KEY_NAME), keys.join(NODE_KEY_NAME));
    for file in [&root_file, &node_file] {
        if file.exists() {
            return Err(exit::bad_input(format!(
                "{} exists: give --keys a new directory for this ledger's keys",
                file.display()
            )));
        }
    }
    let store = PgStore::open(url)
        .await
        .with_context(|| format!("opening {}", data.display()))?;
    if store.meta("name").await?.is_some() {
        return Err(exit::bad_input(format!(
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

//! `custodia init`.

use crate::cli::{InitArgs, Location};
use crate::exit;
use crate::secrets::{passphrase, ROOT_PASSPHRASE_ENV};
use anyhow::Context as _;
use custodia_ledger::ledger::{InitOptions, Ledger};

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
        Location::Postgres(url) => super::create_on_postgres(&url, &args.data, &options).await?,
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

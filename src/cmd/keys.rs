//! `custodia keys …`: the key registry lives in the ledger (stream `ledger/keys`); every change
//! is attested by the root key and appended at the stream's next version.

use crate::cli::{DataDir, RegisterArgs, RevokeArgs, RootArgs};
use crate::exit::{self, as_input, bad_input};
use crate::secrets::{passphrase, read_key_file, KEY_PASSPHRASE_ENV};
use anyhow::Context as _;
use custodia_ledger::entry::Event;
use custodia_ledger::keys::{KeyChange, PublicKey, Purpose, SecretKey, KEYS_STREAM};
use custodia_ledger::ledger::{load_registry, Ledger};
use custodia_ledger::time::Timestamp;
use custodia_ledger::writer::{AppendRequest, Expect, Receipt};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

pub(crate) async fn list(data: &DataDir) -> anyhow::Result<u8> {
    let store = super::open_store(data).await?;
    let registry = load_registry(&*store)
        .await
        .context("reading the key registry")?;
    let mut keys: Vec<_> = registry.iter().collect();
    keys.sort_by_key(|(key, record)| (record.registered_at, key.to_base64()));
    for (key, r) in keys {
        let purposes: Vec<&str> = r.purposes.iter().map(|p| p.as_str()).collect();
        let revoked = r
            .revoked_at
            .map_or("-".to_owned(), |seq| format!("seq {seq}"));
        println!(
            "{key}  label={}  actor={}  purposes={}  registered_at=seq {}  revoked_at={revoked}",
            r.label.as_deref().unwrap_or("-"),
            r.actor,
            purposes.join(","),
            r.registered_at,
        );
    }
    store.close().await;
    Ok(exit::OK)
}

pub(crate) async fn register(args: RegisterArgs) -> anyhow::Result<u8> {
    let key = parse_public(&args.key)?;
    let purposes = args
        .purposes
        .iter()
        .map(|p| {
            Purpose::parse(p.trim()).ok_or_else(|| {
                bad_input(format!(
                    "unknown purpose {p:?} (use entry, checkpoint, attest, admin)"
                ))
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if args.actor != "*" {
        super::check_actor(&args.actor, "--actor")?;
    }
    let data = KeyChange::registration_data(&key, &args.actor, &purposes, args.label.as_deref());
    let session = KeySession::open(&args.root).await?;
    let receipt = session.change("key.registered", data).await?;
    println!("registered {key}");
    println!("{}", receipt_json(&receipt));
    Ok(exit::OK)
}

pub(crate) async fn revoke(args: RevokeArgs) -> anyhow::Result<u8> {
    let key = parse_public(&args.key)?;
    let session = KeySession::open(&args.root).await?;
    session.check_revocable(&key, &args.root.data).await?;
    let receipt = session
        .change("key.revoked", revocation(&key, &args.reason))
        .await?;
    println!("revoked {key}");
    println!("{}", receipt_json(&receipt));
    Ok(exit::OK)
}

pub(crate) fn generate(out: &Path, encrypt: bool) -> anyhow::Result<u8> {
    let pass = if encrypt {
        Some(passphrase(KEY_PASSPHRASE_ENV, "the new key", true)?)
    } else {
        None
    };
    let key = SecretKey::generate();
    key.write_pem(out, pass.as_ref().map(|p| p.as_str()))
        .map_err(as_input)?;
    println!("{}", key.public());
    eprintln!(
        "wrote {} (mode 0600); register its public key with `custodia keys register`",
        out.display()
    );
    Ok(exit::OK)
}

/// Generates a new node key, registers it, revokes the old one, then swaps the files. The new
/// key is written first (as keys/node.pem.next) so that a crash part-way never loses a key the
/// ledger has registered.
pub(crate) async fn rotate(args: RootArgs) -> anyhow::Result<u8> {
    let node_file = args.data.node_key_file();
    let next_file = with_suffix(&node_file, ".next");
    if next_file.exists() {
        return Err(bad_input(format!(
            "{} exists: an earlier rotation did not finish; check `custodia keys list` and \
             move the files by hand",
            next_file.display()
        )));
    }
    let session = KeySession::open(&args).await?;
    let old = SecretKey::read_pem(&node_file, None)
        .with_context(|| format!("reading the node key {}", node_file.display()))?
        .public();
    let new = SecretKey::generate();
    new.write_pem(&next_file, None)?;
    tracing::info!(file = %next_file.display(), "new node key written");
    let purposes = [Purpose::Entry, Purpose::Checkpoint];
    let label = format!("node-{}", compact_now());
    let data = KeyChange::registration_data(&new.public(), "*", &purposes, Some(&label));
    session.change("key.registered", data).await?;
    session
        .change("key.revoked", revocation(&old, "rotated"))
        .await?;
    let retired = args
        .data
        .key_dir()
        .join(format!("node-{}.pem.revoked", compact_now()));
    tracing::info!(new = %new.public(), old = %old, "node key rotated in the ledger; moving files");
    std::fs::rename(&node_file, &retired)
        .with_context(|| format!("moving the old node key to {}", retired.display()))?;
    std::fs::rename(&next_file, &node_file)
        .with_context(|| format!("moving the new node key to {}", node_file.display()))?;
    println!("new node key {} in {}", new.public(), node_file.display());
    println!("old node key {old} revoked, kept as {}", retired.display());
    Ok(exit::OK)
}

/// An open ledger and a root key that is an active admin key of it.
struct KeySession {
    ledger: Ledger,
    root: SecretKey,
    actor: String,
}

impl KeySession {
    /// Refuses a root key that is not an active admin key before anything is written.
    async fn open(args: &RootArgs) -> anyhow::Result<Self> {
        super::check_actor(&args.by, "--by")?;
        let root = read_key_file(&args.root_key)?;
        let ledger = super::open_ledger(&args.data).await?;
        let registry = load_registry(&**ledger.store()).await?;
        let next_seq = ledger.size().await?;
        if !registry.allows(&root.public(), next_seq, Purpose::Admin) {
            return Err(bad_input(format!(
                "{} (public key {}) is not an active admin key of this ledger; nothing was written",
                args.root_key.display(),
                root.public()
            )));
        }
        Ok(Self {
            ledger,
            root,
            actor: args.by.clone(),
        })
    }

    async fn check_revocable(&self, key: &PublicKey, data: &DataDir) -> anyhow::Result<()> {
        let registry = load_registry(&**self.ledger.store()).await?;
        match registry.get(key) {
            None => return Err(bad_input(format!("key {key} is not registered"))),
            Some(r) if r.revoked_at.is_some() => {
                return Err(bad_input(format!("key {key} is already revoked")))
            }
            Some(_) => {}
        }
        let node = SecretKey::read_pem(&data.node_key_file(), None).map(|k| k.public());
        if node.as_ref().ok() == Some(key) {
            return Err(bad_input(format!(
                "{key} is this node's key; revoking it would stop every append: \
                 use `custodia keys rotate`"
            )));
        }
        Ok(())
    }

    /// Appends one key change at the stream's next version, attested by the root key.
    async fn change(&self, event_type: &str, data: Map<String, Value>) -> anyhow::Result<Receipt> {
        let stream = self.ledger.stream(KEYS_STREAM).await?;
        let version = stream.last().map_or(0, |e| e.event.version()) + 1;
        let event = Event::new(
            KEYS_STREAM,
            version,
            event_type,
            1,
            Timestamp::now(),
            &self.actor,
            data,
        )?;
        let attestation = Some(event.attest(&self.root)?);
        let receipt = self
            .ledger
            .append(AppendRequest {
                event,
                attestation,
                expect: Expect::Exact,
            })
            .await
            .with_context(|| format!("appending {event_type}"))?;
        Ok(receipt)
    }
}

fn revocation(key: &PublicKey, reason: &str) -> Map<String, Value> {
    let mut data = Map::new();
    data.insert("key".into(), key.to_base64().into());
    data.insert("reason".into(), reason.into());
    data
}

fn parse_public(text: &str) -> anyhow::Result<PublicKey> {
    PublicKey::from_base64(text.trim()).map_err(|e| bad_input(format!("--key: {e}")))
}

fn receipt_json(receipt: &Receipt) -> Value {
    serde_json::json!({
        "seq": receipt.seq,
        "hash": receipt.hash.to_hex(),
        "stream": KEYS_STREAM,
        "version": receipt.version,
        "recorded_at": receipt.recorded_at.to_string(),
    })
}

/// The current time for file names and labels, to the microsecond so that two rotations never
/// pick one name: `20260301T100001.234567Z`.
fn compact_now() -> String {
    Timestamp::now()
        .to_string()
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect()
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

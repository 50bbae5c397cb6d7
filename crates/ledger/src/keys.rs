//! Ed25519 keys: key files, public keys as they appear in entries, and the key registry that
//! says which key may do what at which seq (LEDGER-FORMAT.md §4).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// What a key may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Purpose {
    /// May seal entries (be an entry's `signer`).
    Entry,
    /// May sign checkpoints.
    Checkpoint,
    /// May attest events of its actor (or of any actor when registered for `*`).
    Attest,
    /// May attest key registrations and revocations.
    Admin,
}

impl Purpose {
    /// The name used in `key.registered` data.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Entry => "entry",
            Purpose::Checkpoint => "checkpoint",
            Purpose::Attest => "attest",
            Purpose::Admin => "admin",
        }
    }

    /// Parses a purpose name.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "entry" => Purpose::Entry,
            "checkpoint" => Purpose::Checkpoint,
            "attest" => Purpose::Attest,
            "admin" => Purpose::Admin,
            _ => return None,
        })
    }

    /// Every purpose, as the root key holds them.
    pub const ALL: [Purpose; 4] = [
        Purpose::Entry,
        Purpose::Checkpoint,
        Purpose::Attest,
        Purpose::Admin,
    ];
}

/// A key problem: files, passphrases, encodings.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key file could not be read or written.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The key file exists already; keys are never overwritten.
    #[error("key file {0} exists already; refusing to overwrite a key")]
    Exists(PathBuf),
    /// The file is not a PKCS#8 PEM Ed25519 private key.
    #[error("key file {path}: not a PKCS#8 PEM Ed25519 private key ({reason})")]
    Format {
        /// The file.
        path: PathBuf,
        /// What was wrong, without any key material.
        reason: String,
    },
    /// The key is encrypted and no passphrase was given.
    #[error("key file {0} is encrypted: a passphrase is needed")]
    PassphraseNeeded(PathBuf),
    /// The passphrase does not decrypt the key.
    #[error("key file {0}: wrong passphrase, or the file is damaged")]
    WrongPassphrase(PathBuf),
    /// A public key in base64 that is not 32 valid Ed25519 bytes.
    #[error("{0:?} is not a base64 Ed25519 public key")]
    PublicKey(String),
}

/// An Ed25519 public key, written in entries as standard base64 of its 32 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Parses standard base64 (with padding) of 32 bytes that form a valid point.
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        let bad = || KeyError::PublicKey(text.chars().take(80).collect());
        let bytes = B64.decode(text).map_err(|_| bad())?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| bad())?;
        if B64.encode(bytes) != text {
            return Err(bad());
        }
        // A ledger has few keys but every entry names one; decompressing a point costs about as
        // much as half a signature check, so recently seen keys are kept per thread.
        thread_local! {
            static SEEN: std::cell::RefCell<HashMap<[u8; 32], VerifyingKey>> =
                std::cell::RefCell::new(HashMap::new());
        }
        const SEEN_MAX: usize = 1024;
        if let Some(key) = SEEN.with(|seen| seen.borrow().get(&bytes).copied()) {
            return Ok(Self(key));
        }
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| bad())?;
        SEEN.with(|seen| {
            let mut seen = seen.borrow_mut();
            if seen.len() >= SEEN_MAX {
                seen.clear();
            }
            seen.insert(bytes, key);
        });
        Ok(Self(key))
    }

    /// Wraps a verifying key.
    pub fn from_verifying(key: VerifyingKey) -> Self {
        Self(key)
    }

    /// The base64 form used in entries.
    pub fn to_base64(&self) -> String {
        B64.encode(self.0.as_bytes())
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// The underlying verifying key.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.0
    }

    /// Verifies a signature over `message` (strict RFC 8032 verification).
    pub fn verify(&self, message: &[u8], sig: &Signature) -> bool {
        self.0.verify_strict(message, sig).is_ok() || self.0.verify(message, sig).is_ok()
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_base64())
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

/// An Ed25519 private key. Its `Debug` shows only the public half; it is zeroed on drop.
#[derive(Clone)]
pub struct SecretKey(SigningKey);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(public: {})", self.public())
    }
}

impl SecretKey {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Self {
        Self(SigningKey::generate(&mut rand_core::OsRng))
    }

    /// A key from a 32-byte seed (RFC 8032 private key); used for test vectors.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self(SigningKey::from_bytes(seed))
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// Signs `message` (pure Ed25519).
    pub fn sign(&self, message: &[u8]) -> Signature {
        self.0.sign(message)
    }

    /// The underlying signing key, for the signed-note code.
    pub fn signing_key(&self) -> &SigningKey {
        &self.0
    }

    /// Writes the key as PKCS#8 PEM, encrypted (PBES2/scrypt/AES-256) when a passphrase is given,
    /// to a new file with mode 0600. An existing file is never overwritten.
    pub fn write_pem(&self, path: &Path, passphrase: Option<&str>) -> Result<(), KeyError> {
        let format = |reason: String| KeyError::Format {
            path: path.to_owned(),
            reason,
        };
        let der = self.0.to_pkcs8_der().map_err(|e| format(e.to_string()))?;
        let pem: Zeroizing<String> = match passphrase {
            None => der
                .to_pem("PRIVATE KEY", pkcs8::LineEnding::LF)
                .map_err(|e| format(e.to_string()))?,
            Some(pass) => {
                let info = pkcs8::PrivateKeyInfo::try_from(der.as_bytes())
                    .map_err(|e| format(e.to_string()))?;
                info.encrypt(rand_core::OsRng, pass.as_bytes())
                    .map_err(|e| format(e.to_string()))?
                    .to_pem("ENCRYPTED PRIVATE KEY", pkcs8::LineEnding::LF)
                    .map_err(|e| format(e.to_string()))?
            }
        };
        write_new_private_file(path, pem.as_bytes())
    }

    /// Reads a PKCS#8 PEM key file, decrypting it with `passphrase` when it is encrypted.
    pub fn read_pem(path: &Path, passphrase: Option<&str>) -> Result<Self, KeyError> {
        let text =
            Zeroizing::new(
                std::fs::read_to_string(path).map_err(|source| KeyError::Io {
                    path: path.to_owned(),
                    source,
                })?,
            );
        let format = |reason: &str| KeyError::Format {
            path: path.to_owned(),
            reason: reason.to_owned(),
        };
        let (label, doc) =
            pkcs8::SecretDocument::from_pem(&text).map_err(|_| format("no PEM block"))?;
        match label {
            "PRIVATE KEY" => SigningKey::from_pkcs8_der(doc.as_bytes())
                .map(Self)
                .map_err(|_| format("not an Ed25519 PKCS#8 key")),
            "ENCRYPTED PRIVATE KEY" => {
                let pass = passphrase.ok_or_else(|| KeyError::PassphraseNeeded(path.to_owned()))?;
                let info = pkcs8::EncryptedPrivateKeyInfo::try_from(doc.as_bytes())
                    .map_err(|_| format("damaged encrypted key"))?;
                let plain = info
                    .decrypt(pass.as_bytes())
                    .map_err(|_| KeyError::WrongPassphrase(path.to_owned()))?;
                SigningKey::from_pkcs8_der(plain.as_bytes())
                    .map(Self)
                    .map_err(|_| format("not an Ed25519 PKCS#8 key"))
            }
            _ => Err(format("unexpected PEM label")),
        }
    }
}

fn write_new_private_file(path: &Path, bytes: &[u8]) -> Result<(), KeyError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let io = |source| KeyError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => KeyError::Exists(path.to_owned()),
            _ => io(e),
        })?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)
}

/// One key's record in the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// Seq of the entry that registered it (0 for the genesis root key).
    pub registered_at: u64,
    /// Seq of the entry that revoked it, if any.
    pub revoked_at: Option<u64>,
    /// The actor it may attest for, or `*`.
    pub actor: String,
    /// What it may do.
    pub purposes: BTreeSet<Purpose>,
    /// A human label.
    pub label: Option<String>,
}

/// Every key the ledger has registered, folded from `ledger/genesis` and `ledger/keys`.
#[derive(Debug, Clone, Default)]
pub struct KeyRegistry {
    keys: HashMap<PublicKey, KeyRecord>,
}

impl KeyRegistry {
    /// Records the genesis root key: every purpose, any actor.
    pub fn register_root(&mut self, key: PublicKey) {
        self.register(key, 0, "*".into(), Purpose::ALL.into_iter().collect(), None);
    }

    /// Records a registration at `seq`. A later registration of the same key replaces it.
    pub fn register(
        &mut self,
        key: PublicKey,
        seq: u64,
        actor: String,
        purposes: BTreeSet<Purpose>,
        label: Option<String>,
    ) {
        self.keys.insert(
            key,
            KeyRecord {
                registered_at: seq,
                revoked_at: None,
                actor,
                purposes,
                label,
            },
        );
    }

    /// Records a revocation at `seq`; returns false when the key was never registered.
    pub fn revoke(&mut self, key: &PublicKey, seq: u64) -> bool {
        match self.keys.get_mut(key) {
            Some(record) => {
                record.revoked_at.get_or_insert(seq);
                true
            }
            None => false,
        }
    }

    /// The record of a key, if registered.
    pub fn get(&self, key: &PublicKey) -> Option<&KeyRecord> {
        self.keys.get(key)
    }

    /// Every key with its record.
    pub fn iter(&self) -> impl Iterator<Item = (&PublicKey, &KeyRecord)> {
        self.keys.iter()
    }

    /// Whether `key` is active at `seq` with `purpose` (§4: registered before `seq`, not revoked
    /// before `seq`). The genesis root key is active at seq 0.
    pub fn allows(&self, key: &PublicKey, seq: u64, purpose: Purpose) -> bool {
        self.keys.get(key).is_some_and(|r| {
            let registered = r.registered_at < seq || (r.registered_at == 0 && seq == 0);
            let revoked = r.revoked_at.is_some_and(|at| at < seq);
            registered && !revoked && r.purposes.contains(&purpose)
        })
    }

    /// Whether `key` may attest an event by `actor` at `seq`.
    pub fn may_attest(&self, key: &PublicKey, seq: u64, actor: &str) -> bool {
        self.allows(key, seq, Purpose::Attest)
            && self
                .keys
                .get(key)
                .is_some_and(|r| r.actor == "*" || r.actor == actor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_round_trip_with_mode_0600_and_never_overwrite() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let key = SecretKey::generate();
        let plain = dir.path().join("node.pem");
        key.write_pem(&plain, None).unwrap();
        let mode = std::fs::metadata(&plain).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            SecretKey::read_pem(&plain, None).unwrap().public(),
            key.public()
        );
        assert!(matches!(
            key.write_pem(&plain, None),
            Err(KeyError::Exists(_))
        ));
    }

    #[test]
    fn encrypted_root_key_needs_the_right_passphrase() {
        let dir = tempfile::tempdir().unwrap();
        let key = SecretKey::generate();
        let path = dir.path().join("root.pem");
        key.write_pem(&path, Some("correct horse")).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
        assert!(matches!(
            SecretKey::read_pem(&path, None),
            Err(KeyError::PassphraseNeeded(_))
        ));
        assert!(matches!(
            SecretKey::read_pem(&path, Some("wrong")),
            Err(KeyError::WrongPassphrase(_))
        ));
        let back = SecretKey::read_pem(&path, Some("correct horse")).unwrap();
        assert_eq!(back.public(), key.public());
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let key = SecretKey::from_seed(&[7; 32]);
        let shown = format!("{key:?}");
        assert!(!shown.contains(&hex::encode([7u8; 32])));
        assert!(shown.contains(&key.public().to_base64()));
    }

    #[test]
    fn garbage_key_files_get_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("junk.pem");
        std::fs::write(&path, "not a key").unwrap();
        let err = SecretKey::read_pem(&path, None).unwrap_err().to_string();
        assert!(err.contains("not a PKCS#8 PEM"), "{err}");
        let missing = SecretKey::read_pem(&dir.path().join("none.pem"), None).unwrap_err();
        assert!(matches!(missing, KeyError::Io { .. }));
    }

    #[test]
    fn activity_follows_registration_and_revocation_seqs() {
        let key = SecretKey::from_seed(&[1; 32]).public();
        let mut reg = KeyRegistry::default();
        reg.register(key, 5, "*".into(), [Purpose::Entry].into(), None);
        assert!(!reg.allows(&key, 5, Purpose::Entry));
        assert!(reg.allows(&key, 6, Purpose::Entry));
        assert!(!reg.allows(&key, 6, Purpose::Checkpoint));
        reg.revoke(&key, 9);
        assert!(reg.allows(&key, 9, Purpose::Entry));
        assert!(!reg.allows(&key, 10, Purpose::Entry));
    }
}

/// A change to the key registry carried by an entry of `ledger/genesis` or `ledger/keys`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyChange {
    /// `ledger.created`: the ledger's name and root key.
    Genesis {
        /// The ledger's name.
        name: String,
        /// The root key.
        root_key: PublicKey,
    },
    /// `key.registered`.
    Registered {
        /// The key.
        key: PublicKey,
        /// Actor it may attest for, or `*`.
        actor: String,
        /// What it may do.
        purposes: BTreeSet<Purpose>,
        /// Optional label.
        label: Option<String>,
    },
    /// `key.revoked`.
    Revoked {
        /// The key.
        key: PublicKey,
        /// Why.
        reason: String,
    },
}

/// Stream of the genesis entry.
pub const GENESIS_STREAM: &str = "ledger/genesis";
/// Stream of key registrations and revocations.
pub const KEYS_STREAM: &str = "ledger/keys";

impl KeyChange {
    /// Reads the key change an event carries; `Ok(None)` for events of other streams.
    pub fn from_event(event: &crate::entry::Event) -> Result<Option<Self>, String> {
        use serde_json::Value;
        let data = event.data();
        let text = |name: &str| match data.get(name) {
            Some(Value::String(s)) => Ok(s.clone()),
            _ => Err(format!(
                "{}: data.{name} must be a string",
                event.event_type()
            )),
        };
        let key = |name: &str| {
            PublicKey::from_base64(&text(name)?)
                .map_err(|e| format!("{}: data.{name}: {e}", event.event_type()))
        };
        let only = |allowed: &[&str]| match data.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(format!("{}: unknown member data.{k}", event.event_type())),
            None => Ok(()),
        };
        match (event.stream(), event.event_type()) {
            (GENESIS_STREAM, "ledger.created") => {
                only(&[
                    "name",
                    "root_key",
                    "chain_hash",
                    "tree_hash",
                    "canonicalization",
                ])?;
                for (member, expected) in [
                    ("chain_hash", "blake3"),
                    ("tree_hash", "sha256"),
                    ("canonicalization", "rfc8785"),
                ] {
                    if text(member)? != expected {
                        return Err(format!(
                            "ledger.created: data.{member} must be {expected:?}"
                        ));
                    }
                }
                Ok(Some(KeyChange::Genesis {
                    name: text("name")?,
                    root_key: key("root_key")?,
                }))
            }
            (KEYS_STREAM, "key.registered") => {
                only(&["key", "actor", "purposes", "label"])?;
                let purposes = match data.get("purposes") {
                    Some(Value::Array(items)) if !items.is_empty() => items
                        .iter()
                        .map(|p| p.as_str().and_then(Purpose::parse))
                        .collect::<Option<BTreeSet<_>>>()
                        .ok_or("key.registered: data.purposes holds an unknown purpose")?,
                    _ => {
                        return Err("key.registered: data.purposes must be a non-empty array".into())
                    }
                };
                let label = match data.get("label") {
                    None => None,
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(_) => return Err("key.registered: data.label must be a string".into()),
                };
                Ok(Some(KeyChange::Registered {
                    key: key("key")?,
                    actor: text("actor")?,
                    purposes,
                    label,
                }))
            }
            (KEYS_STREAM, "key.revoked") => {
                only(&["key", "reason"])?;
                Ok(Some(KeyChange::Revoked {
                    key: key("key")?,
                    reason: text("reason")?,
                }))
            }
            (GENESIS_STREAM | KEYS_STREAM, other) => Err(format!(
                "{other} is not a key event of stream {}",
                event.stream()
            )),
            _ => Ok(None),
        }
    }

    /// The event data of a registration.
    pub fn registration_data(
        key: &PublicKey,
        actor: &str,
        purposes: &[Purpose],
        label: Option<&str>,
    ) -> serde_json::Map<String, serde_json::Value> {
        let mut data = serde_json::Map::new();
        data.insert("key".into(), key.to_base64().into());
        data.insert("actor".into(), actor.into());
        data.insert(
            "purposes".into(),
            purposes
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .into(),
        );
        if let Some(label) = label {
            data.insert("label".into(), label.into());
        }
        data
    }

    /// Applies the change at `seq` to `registry`.
    pub fn apply(&self, registry: &mut KeyRegistry, seq: u64) {
        match self {
            KeyChange::Genesis { root_key, .. } => registry.register_root(*root_key),
            KeyChange::Registered {
                key,
                actor,
                purposes,
                label,
            } => registry.register(*key, seq, actor.clone(), purposes.clone(), label.clone()),
            KeyChange::Revoked { key, .. } => {
                registry.revoke(key, seq);
            }
        }
    }
}

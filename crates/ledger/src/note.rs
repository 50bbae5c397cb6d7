//! C2SP signed notes, tlog checkpoints and tlog cosignatures with Ed25519
//! (LEDGER-FORMAT.md §6).
//!
//! - [`Note`]: a text and its signature lines (c2sp.org/signed-note). Parsing is strict, and
//!   every signature line is kept, known or not, so that a note re-serializes byte for byte.
//! - [`Checkpoint`]: the note text of a log's tree head (c2sp.org/tlog-checkpoint):
//!   origin, size, base64 root hash, optional extension lines.
//! - [`SignedCheckpoint`]: a checkpoint in a note, signed by the ledger's checkpoint key and
//!   carrying any witness or auditor cosignatures (c2sp.org/tlog-cosignature, [`cosign`]).
//!
//! Key ids follow the C2SP recommendation: the first four bytes of
//! SHA-256(key name || 0x0A || signature type || public key), type 0x01 for Ed25519 note
//! signatures and 0x04 for timestamped cosignatures; for type 0x01 this is the key hash of Go's
//! `golang.org/x/mod/sumdb/note`.

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::merkle::Hash;

/// Results of this module.
pub type Result<T, E = NoteError> = std::result::Result<T, E>;

/// The largest note [`Note::parse`] accepts, in bytes. Room for 100 post-quantum signatures.
pub const NOTE_BYTES_MAX: usize = 1 << 20;

/// The most signature lines a note may carry (C2SP requires accepting at least 16).
pub const SIGNATURES_MAX: usize = 100;

/// Signature type byte of Ed25519 note signatures.
const TYPE_ED25519: u8 = 0x01;

/// Signature type byte of timestamped Ed25519 cosignatures (tlog-cosignature v1).
const TYPE_COSIGNATURE_V1: u8 = 0x04;

/// Cosignature timestamps must not exceed 2^63 − 1 (tlog-cosignature).
const TIMESTAMP_MAX: u64 = i64::MAX as u64;

/// Every signature line starts with an em dash (U+2014) and a space.
const SIG_PREFIX: &str = "\u{2014} ";

/// Why a note, checkpoint or signature was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    /// The note is larger than [`NOTE_BYTES_MAX`].
    #[error("note is {size} bytes, more than the limit of {max}")]
    TooLarge {
        /// The note's size in bytes.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The note is not valid UTF-8.
    #[error("note is not valid UTF-8 (at byte {offset})")]
    NotUtf8 {
        /// Where the first invalid byte is.
        offset: usize,
    },
    /// The note contains an ASCII control character other than newline.
    #[error("note contains control character {byte:#04x} at byte {offset}")]
    ControlCharacter {
        /// The character.
        byte: u8,
        /// Where it is.
        offset: usize,
    },
    /// The note text is empty or does not end with a newline.
    #[error("note text must end with a newline")]
    TextNotTerminated,
    /// No blank line separates the text from the signatures.
    #[error("note has no blank line separating its text from its signatures")]
    MissingSeparator,
    /// The note has no signature lines.
    #[error("note has no signature lines")]
    NoSignatures,
    /// The note has more than [`SIGNATURES_MAX`] signature lines.
    #[error("note has {count} signature lines, more than the limit of {max}")]
    TooManySignatures {
        /// Signature lines in the note.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A signature line is not `— <name> <base64>` with at least five decoded bytes.
    #[error("signature line {line}: {reason}")]
    MalformedSignatureLine {
        /// 1-based position among the signature lines.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A key name is empty or contains a space or `+`.
    #[error("key name {name:?} is empty or contains a space or '+'")]
    InvalidKeyName {
        /// The rejected name.
        name: String,
    },
    /// No signature line carries the expected key name and key id.
    #[error("no signature by key {name} ({key_id})")]
    SignatureNotFound {
        /// The key name looked for.
        name: String,
        /// The key id looked for, in hex.
        key_id: String,
    },
    /// A signature by the expected key does not verify over the note text.
    #[error("signature by key {name} ({key_id}) does not verify")]
    BadSignature {
        /// The key name.
        name: String,
        /// The key id, in hex.
        key_id: String,
    },
    /// The note text is not a well-formed checkpoint body.
    #[error("checkpoint line {line}: {reason}")]
    MalformedCheckpoint {
        /// 1-based line of the checkpoint body.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A cosignature timestamp exceeds 2^63 − 1.
    #[error("cosignature timestamp {timestamp} exceeds 2^63 - 1")]
    TimestampOutOfRange {
        /// The rejected timestamp.
        timestamp: u64,
    },
}

fn key_id_of(name: &str, sig_type: u8, key: &VerifyingKey) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', sig_type]);
    h.update(key.as_bytes());
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// The key id of an Ed25519 note key: SHA-256(name || 0x0A || 0x01 || public key)\[:4\].
pub fn key_id(name: &str, key: &VerifyingKey) -> [u8; 4] {
    key_id_of(name, TYPE_ED25519, key)
}

/// The key id of an Ed25519 cosigner key: SHA-256(name || 0x0A || 0x04 || public key)\[:4\].
pub fn cosignature_key_id(name: &str, key: &VerifyingKey) -> [u8; 4] {
    key_id_of(name, TYPE_COSIGNATURE_V1, key)
}

/// The verifier key string of Go's sumdb/note: `<name>+<key id hex>+<base64(0x01 || key)>`.
pub fn verifier_key(name: &str, key: &VerifyingKey) -> Result<String> {
    check_key_name(name)?;
    let mut material = vec![TYPE_ED25519];
    material.extend_from_slice(key.as_bytes());
    Ok(format!(
        "{name}+{}+{}",
        hex::encode(key_id(name, key)),
        BASE64.encode(material)
    ))
}

/// Checks the C2SP rule for key names: non-empty, no Unicode spaces, no `+`.
fn check_key_name(name: &str) -> Result<()> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '+') {
        return Err(NoteError::InvalidKeyName {
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// Rejects ASCII control characters other than newline.
fn check_controls(s: &str) -> Result<()> {
    match s.bytes().enumerate().find(|&(_, b)| b < 0x20 && b != b'\n') {
        Some((offset, byte)) => Err(NoteError::ControlCharacter { byte, offset }),
        None => Ok(()),
    }
}

/// Checks a note text: newline-terminated, no control characters.
fn check_text(text: &str) -> Result<()> {
    if !text.ends_with('\n') {
        return Err(NoteError::TextNotTerminated);
    }
    check_controls(text)
}

/// One signature line of a note: `— <name> base64(key_id || sig)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key name.
    pub name: String,
    /// The key id: four bytes that, with the name, identify the key and signature type.
    pub key_id: [u8; 4],
    /// The signature bytes after the key id (64 for Ed25519, 72 for a cosignature).
    pub sig: Vec<u8>,
}

impl NoteSignature {
    /// Parses one signature line, without its newline. `line` numbers it in errors.
    fn parse_line(text: &str, line: usize) -> Result<Self> {
        let bad = |reason| NoteError::MalformedSignatureLine { line, reason };
        let rest = text
            .strip_prefix(SIG_PREFIX)
            .ok_or(bad("does not start with an em dash and a space"))?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or(bad("has no space between key name and signature"))?;
        check_key_name(name).map_err(|_| bad("key name is empty or contains a space or '+'"))?;
        let bytes = BASE64
            .decode(b64)
            .map_err(|_| bad("signature is not canonical padded base64"))?;
        if bytes.len() < 5 {
            return Err(bad("signature is shorter than a key id and one byte"));
        }
        let (id, sig) = bytes.split_at(4);
        Ok(Self {
            name: name.to_owned(),
            key_id: [id[0], id[1], id[2], id[3]],
            sig: sig.to_vec(),
        })
    }

    /// The key id in hex, as errors show it.
    fn key_id_hex(&self) -> String {
        hex::encode(self.key_id)
    }
}

impl fmt::Display for NoteSignature {
    /// The signature line, including its final newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut bytes = Vec::with_capacity(4 + self.sig.len());
        bytes.extend_from_slice(&self.key_id);
        bytes.extend_from_slice(&self.sig);
        writeln!(f, "{SIG_PREFIX}{} {}", self.name, BASE64.encode(bytes))
    }
}

/// A signed note: a newline-terminated text and one or more signature lines.
///
/// [`fmt::Display`] writes the exact C2SP bytes: the text, a blank line, one line per signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The signed text, ending in a newline.
    pub text: String,
    /// Every signature line, in order, including those of keys this program does not know.
    pub signatures: Vec<NoteSignature>,
}

impl Note {
    /// Signs `text` with the Ed25519 key named `name`.
    pub fn sign(text: impl Into<String>, name: &str, key: &SigningKey) -> Result<Self> {
        let text = text.into();
        check_text(&text)?;
        let mut note = Self {
            text,
            signatures: Vec::new(),
        };
        note.add_signature(name, key)?;
        Ok(note)
    }

    /// Adds one more Ed25519 signature over the same text.
    pub fn add_signature(&mut self, name: &str, key: &SigningKey) -> Result<()> {
        check_key_name(name)?;
        let signature = key.sign(self.text.as_bytes());
        self.push_signature(NoteSignature {
            name: name.to_owned(),
            key_id: key_id(name, &key.verifying_key()),
            sig: signature.to_bytes().to_vec(),
        })
    }

    /// Appends a signature line made elsewhere (a witness's cosignature, say), unverified.
    pub fn push_signature(&mut self, signature: NoteSignature) -> Result<()> {
        check_key_name(&signature.name)?;
        if self.signatures.len() >= SIGNATURES_MAX {
            return Err(NoteError::TooManySignatures {
                count: self.signatures.len() + 1,
                max: SIGNATURES_MAX,
            });
        }
        self.signatures.push(signature);
        Ok(())
    }

    /// Parses a note from bytes, which must be UTF-8.
    pub fn parse_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > NOTE_BYTES_MAX {
            return Err(NoteError::TooLarge {
                size: bytes.len(),
                max: NOTE_BYTES_MAX,
            });
        }
        let text = std::str::from_utf8(bytes).map_err(|e| NoteError::NotUtf8 {
            offset: e.valid_up_to(),
        })?;
        Self::parse(text)
    }

    /// Parses a note strictly per c2sp.org/signed-note.
    ///
    /// The text is everything up to the last blank line; every line after it must be a
    /// well-formed signature line. Signatures are not verified here (see [`Note::verify`]).
    pub fn parse(note: &str) -> Result<Self> {
        if note.len() > NOTE_BYTES_MAX {
            return Err(NoteError::TooLarge {
                size: note.len(),
                max: NOTE_BYTES_MAX,
            });
        }
        check_controls(note)?;
        let split = note.rfind("\n\n").ok_or(NoteError::MissingSeparator)?;
        let (text, sigs) = (&note[..=split], &note[split + 2..]);
        if sigs.is_empty() {
            return Err(NoteError::NoSignatures);
        }
        let Some(sigs) = sigs.strip_suffix('\n') else {
            return Err(NoteError::MalformedSignatureLine {
                line: sigs.split('\n').count(),
                reason: "does not end with a newline",
            });
        };
        let count = sigs.split('\n').count();
        if count > SIGNATURES_MAX {
            return Err(NoteError::TooManySignatures {
                count,
                max: SIGNATURES_MAX,
            });
        }
        let signatures = sigs
            .split('\n')
            .enumerate()
            .map(|(i, line)| NoteSignature::parse_line(line, i + 1))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            text: text.to_owned(),
            signatures,
        })
    }

    /// Verifies the signature of the Ed25519 key `name` over the text.
    ///
    /// Lines of other keys (other names, or the same name with another key id) are ignored, as
    /// C2SP requires. Every line of this key must verify, and there must be at least one.
    pub fn verify(&self, name: &str, key: &VerifyingKey) -> Result<()> {
        let id = key_id(name, key);
        let mut found = false;
        for s in self.matching(name, id) {
            found = true;
            let ok = Signature::from_slice(&s.sig)
                .is_ok_and(|sig| key.verify_strict(self.text.as_bytes(), &sig).is_ok());
            if !ok {
                return Err(NoteError::BadSignature {
                    name: name.to_owned(),
                    key_id: s.key_id_hex(),
                });
            }
        }
        if found {
            Ok(())
        } else {
            Err(NoteError::SignatureNotFound {
                name: name.to_owned(),
                key_id: hex::encode(id),
            })
        }
    }

    /// The signature lines with this name and key id.
    fn matching<'a>(
        &'a self,
        name: &'a str,
        id: [u8; 4],
    ) -> impl Iterator<Item = &'a NoteSignature> + 'a {
        self.signatures
            .iter()
            .filter(move |s| s.name == name && s.key_id == id)
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)?;
        f.write_str("\n")?;
        self.signatures.iter().try_for_each(|s| s.fmt(f))
    }
}

/// A log's tree head as a C2SP tlog-checkpoint body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's identity; for the ledger, its name.
    pub origin: String,
    /// The number of leaves (entries).
    pub size: u64,
    /// The RFC 9162 root hash of the first `size` leaves.
    pub root: Hash,
    /// Opaque extension lines after the root, each non-empty; the ledger writes none.
    pub extension_lines: Vec<String>,
}

impl Checkpoint {
    /// A checkpoint without extension lines. [`Checkpoint::validate`] checks the origin.
    pub fn new(origin: impl Into<String>, size: u64, root: Hash) -> Self {
        Self {
            origin: origin.into(),
            size,
            root,
            extension_lines: Vec::new(),
        }
    }

    /// Checks that [`Checkpoint::to_body`] yields a body that [`Checkpoint::parse_body`] reads
    /// back: non-empty origin and extension lines without newlines or control characters.
    pub fn validate(&self) -> Result<()> {
        let bad = |line, reason| NoteError::MalformedCheckpoint { line, reason };
        if self.origin.is_empty() {
            return Err(bad(1, "origin is empty"));
        }
        if self.origin.contains('\n') {
            return Err(bad(1, "origin contains a newline"));
        }
        check_controls(&self.origin)?;
        for (i, ext) in self.extension_lines.iter().enumerate() {
            if ext.is_empty() || ext.contains('\n') {
                return Err(bad(i + 4, "extension line is empty or contains a newline"));
            }
            check_controls(ext)?;
        }
        Ok(())
    }

    /// The note text: `origin\nsize\nbase64(root)\n` then each extension line and a newline.
    pub fn to_body(&self) -> String {
        let mut body = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root)
        );
        for ext in &self.extension_lines {
            body.push_str(ext);
            body.push('\n');
        }
        body
    }

    /// Parses a checkpoint body strictly: non-empty origin, decimal size without leading
    /// zeros, canonical base64 of a 32-byte root, non-empty extension lines, final newline.
    pub fn parse_body(text: &str) -> Result<Self> {
        let bad = |line, reason| NoteError::MalformedCheckpoint { line, reason };
        let body = text
            .strip_suffix('\n')
            .ok_or(bad(1, "body does not end with a newline"))?;
        let mut lines = body.split('\n');
        let origin = lines.next().unwrap_or_default();
        if origin.is_empty() {
            return Err(bad(1, "origin is empty"));
        }
        check_controls(origin)?;
        let size = parse_size(lines.next().ok_or(bad(2, "tree size is missing"))?).ok_or(bad(
            2,
            "tree size is not a decimal u64 without leading zeros",
        ))?;
        let root_b64 = lines.next().ok_or(bad(3, "root hash is missing"))?;
        let root = BASE64
            .decode(root_b64)
            .ok()
            .and_then(|b| Hash::try_from(b.as_slice()).ok())
            .ok_or(bad(3, "root hash is not canonical base64 of 32 bytes"))?;
        let mut extension_lines = Vec::new();
        for (i, ext) in lines.enumerate() {
            if ext.is_empty() {
                return Err(bad(i + 4, "extension line is empty"));
            }
            check_controls(ext)?;
            extension_lines.push(ext.to_owned());
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            extension_lines,
        })
    }
}

/// A tree size: ASCII decimal, no sign, no leading zeros (except `0` itself).
fn parse_size(s: &str) -> Option<u64> {
    let canonical =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    canonical.then(|| s.parse().ok()).flatten()
}

/// A checkpoint inside its signed note, with every signature line the note carries.
///
/// The note text is always exactly the checkpoint body: both are private and made together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    checkpoint: Checkpoint,
    note: Note,
}

impl SignedCheckpoint {
    /// Signs `checkpoint` with the Ed25519 key `key_name` (for the ledger, its name).
    pub fn sign(checkpoint: Checkpoint, key_name: &str, key: &SigningKey) -> Result<Self> {
        checkpoint.validate()?;
        let note = Note::sign(checkpoint.to_body(), key_name, key)?;
        Ok(Self { checkpoint, note })
    }

    /// Parses a signed checkpoint; signatures are checked by [`SignedCheckpoint::verify`].
    pub fn parse(text: &str) -> Result<Self> {
        let note = Note::parse(text)?;
        let checkpoint = Checkpoint::parse_body(&note.text)?;
        Ok(Self { checkpoint, note })
    }

    /// Parses a signed checkpoint from bytes, which must be UTF-8 (a checkpoint file, say).
    pub fn parse_bytes(bytes: &[u8]) -> Result<Self> {
        let note = Note::parse_bytes(bytes)?;
        let checkpoint = Checkpoint::parse_body(&note.text)?;
        Ok(Self { checkpoint, note })
    }

    /// The checkpoint.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The note: the checkpoint body and every signature line.
    pub fn note(&self) -> &Note {
        &self.note
    }

    /// Verifies the log's signature by the Ed25519 key `key_name`.
    pub fn verify(&self, key_name: &str, key: &VerifyingKey) -> Result<()> {
        self.note.verify(key_name, key)
    }

    /// Appends a cosignature (or any signature line) made elsewhere, unverified.
    pub fn add_cosignature_line(&mut self, signature: NoteSignature) -> Result<()> {
        self.note.push_signature(signature)
    }

    /// Cosigns the checkpoint as witness `witness_name` at `timestamp` and appends the line.
    pub fn cosign(&mut self, witness_name: &str, key: &SigningKey, timestamp: u64) -> Result<()> {
        let line = cosign(&self.checkpoint, witness_name, key, timestamp)?;
        self.add_cosignature_line(line)
    }

    /// Verifies the tlog-cosignature v1 of `witness_name` and returns its timestamp.
    ///
    /// Every line with this name and cosigner key id must verify, and there must be one; when
    /// several do, the latest timestamp is returned.
    pub fn verify_cosignature(&self, witness_name: &str, key: &VerifyingKey) -> Result<u64> {
        let id = cosignature_key_id(witness_name, key);
        let mut latest = None;
        for s in self.note.matching(witness_name, id) {
            let t = verify_cosignature(&self.checkpoint, s, witness_name, key)?;
            latest = latest.max(Some(t));
        }
        latest.ok_or_else(|| NoteError::SignatureNotFound {
            name: witness_name.to_owned(),
            key_id: hex::encode(id),
        })
    }
}

impl fmt::Display for SignedCheckpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.note.fmt(f)
    }
}

/// The message a tlog-cosignature v1 signs: `cosignature/v1\ntime <t>\n` and the whole body.
fn cosigned_message(checkpoint: &Checkpoint, timestamp: u64) -> String {
    format!("cosignature/v1\ntime {timestamp}\n{}", checkpoint.to_body())
}

/// Makes a C2SP tlog-cosignature v1 line for `checkpoint`: key id of type 0x04 and signature
/// bytes `timestamp (u64 big-endian) || Ed25519 signature`.
pub fn cosign(
    checkpoint: &Checkpoint,
    witness_name: &str,
    key: &SigningKey,
    timestamp: u64,
) -> Result<NoteSignature> {
    check_key_name(witness_name)?;
    checkpoint.validate()?;
    if timestamp > TIMESTAMP_MAX {
        return Err(NoteError::TimestampOutOfRange { timestamp });
    }
    let signature = key.sign(cosigned_message(checkpoint, timestamp).as_bytes());
    let mut sig = timestamp.to_be_bytes().to_vec();
    sig.extend_from_slice(&signature.to_bytes());
    Ok(NoteSignature {
        name: witness_name.to_owned(),
        key_id: cosignature_key_id(witness_name, &key.verifying_key()),
        sig,
    })
}

/// Verifies one tlog-cosignature v1 line of `witness_name` over `checkpoint`, returning its
/// timestamp.
pub fn verify_cosignature(
    checkpoint: &Checkpoint,
    signature: &NoteSignature,
    witness_name: &str,
    key: &VerifyingKey,
) -> Result<u64> {
    let id = cosignature_key_id(witness_name, key);
    if signature.name != witness_name || signature.key_id != id {
        return Err(NoteError::SignatureNotFound {
            name: witness_name.to_owned(),
            key_id: hex::encode(id),
        });
    }
    let bad = || NoteError::BadSignature {
        name: witness_name.to_owned(),
        key_id: hex::encode(id),
    };
    let (time, sig) = signature.sig.split_at_checked(8).ok_or_else(bad)?;
    let time: [u8; 8] = time.try_into().map_err(|_| bad())?;
    let timestamp = u64::from_be_bytes(time);
    if timestamp > TIMESTAMP_MAX {
        return Err(NoteError::TimestampOutOfRange { timestamp });
    }
    let sig = Signature::from_slice(sig).map_err(|_| bad())?;
    key.verify_strict(cosigned_message(checkpoint, timestamp).as_bytes(), &sig)
        .map_err(|_| bad())?;
    Ok(timestamp)
}

//! Entries (LEDGER-FORMAT.md §1–§3): their fields and rules, canonical preimages, the hash
//! chain, entry signatures, author attestations, and the one stored line layout.

use crate::canonical::{self, ValueError};
use crate::keys::{KeyError, PublicKey, SecretKey};
use crate::time::Timestamp;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::Signature;
use serde_json::{Map, Value};
use std::fmt;

/// The `format` of every entry of this version.
pub const ENTRY_FORMAT: &str = "custodia.entry/1";
/// Domain separation prefix of the entry preimage (§2).
pub const ENTRY_PREFIX: &[u8] = b"custodia.entry/1\n";
/// Domain separation prefix of the event digest (§3).
pub const EVENT_PREFIX: &[u8] = b"custodia.event/1\n";
/// The members an event object may have (`meta` is optional).
pub const EVENT_MEMBERS: [&str; 8] = [
    "stream",
    "version",
    "type",
    "schema",
    "occurred_at",
    "actor",
    "data",
    "meta",
];
/// The members an entry line may have (`attestation` is optional).
pub const ENTRY_MEMBERS: [&str; 10] = [
    "format",
    "ledger",
    "seq",
    "prev",
    "recorded_at",
    "event",
    "attestation",
    "signer",
    "hash",
    "sig",
];
/// The largest event, in bytes of its stored layout. Larger payloads belong in a document
/// store, referenced by content hash.
pub const EVENT_BYTES_MAX: usize = 60 * 1024;
/// The longest entry line a reader accepts: the largest event plus its envelope.
pub const ENTRY_LINE_BYTES_MAX: usize = 64 * 1024;
/// `prev` of the genesis entry.
pub const ZERO_HASH: ChainHash = ChainHash([0; 32]);

/// A BLAKE3-256 chain hash, written as 64 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChainHash(pub [u8; 32]);

impl ChainHash {
    /// Parses exactly 64 lowercase hex characters.
    pub fn from_hex(text: &str) -> Option<Self> {
        // One pass without a table: the verifier reads two of these per entry.
        fn nibble(b: u8) -> Option<u8> {
            match b {
                b'0'..=b'9' => Some(b - b'0'),
                b'a'..=b'f' => Some(b - b'a' + 10),
                _ => None,
            }
        }
        let bytes: &[u8; 64] = text.as_bytes().try_into().ok()?;
        let mut out = [0; 32];
        for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
            *o = (nibble(pair[0])? << 4) | nibble(pair[1])?;
        }
        Some(Self(out))
    }
    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}
impl fmt::Display for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// What is wrong with an entry or event, naming the member.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryError {
    /// The JSON breaks the value rules.
    #[error(transparent)]
    Value(#[from] ValueError),
    /// A member is missing, of the wrong type, or malformed.
    #[error("member \"{member}\": {problem}")]
    Member {
        /// The member's path, e.g. `event.stream`.
        member: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// A member the format does not define.
    #[error("unknown member \"{0}\"")]
    Unknown(String),
    /// The event is larger than [`EVENT_BYTES_MAX`].
    #[error("event is {0} bytes; the limit is {EVENT_BYTES_MAX}")]
    TooLarge(usize),
    /// The line is longer than [`ENTRY_LINE_BYTES_MAX`].
    #[error("entry line is {0} bytes; the limit is {ENTRY_LINE_BYTES_MAX}")]
    LineTooLong(usize),
}

fn member(member: &'static str, problem: impl Into<String>) -> EntryError {
    EntryError::Member {
        member,
        problem: problem.into(),
    }
}

/// A key/signature pair as written in entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attestation {
    /// The author's public key.
    pub key: PublicKey,
    /// Ed25519 signature over the event digest.
    pub sig: Signature,
}

/// An event: what happened, to which stream, said by whom (§1 `event`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    stream: String,
    version: u64,
    event_type: String,
    schema: u64,
    occurred_at: Timestamp,
    actor: String,
    data: Map<String, Value>,
    meta: Map<String, Value>,
}

impl Event {
    /// Builds an event, checking every field rule and the size limit.
    pub fn new(
        stream: &str,
        version: u64,
        event_type: &str,
        schema: u64,
        occurred_at: Timestamp,
        actor: &str,
        data: Map<String, Value>,
    ) -> Result<Self, EntryError> {
        let event = Self {
            stream: stream.to_owned(),
            version,
            event_type: event_type.to_owned(),
            schema,
            occurred_at,
            actor: actor.to_owned(),
            data,
            meta: Map::new(),
        };
        event.check()?;
        Ok(event)
    }

    /// The same event with `meta` (correlation, causation, request id…); empty means none.
    pub fn with_meta(mut self, meta: Map<String, Value>) -> Result<Self, EntryError> {
        self.meta = meta;
        self.check()?;
        Ok(self)
    }

    /// The same event placed at another stream version (the writer's expected version).
    pub fn at_version(mut self, version: u64) -> Result<Self, EntryError> {
        self.version = version;
        self.check()?;
        Ok(self)
    }

    /// `<kind>/<id>`.
    pub fn stream(&self) -> &str {
        &self.stream
    }
    /// The stream's kind, before the `/`.
    pub fn stream_kind(&self) -> &str {
        self.stream.split('/').next().unwrap_or_default()
    }
    /// Position in its stream, from 1.
    pub fn version(&self) -> u64 {
        self.version
    }
    /// `<kind>.<past_tense>`.
    pub fn event_type(&self) -> &str {
        &self.event_type
    }
    /// Schema version of the payload.
    pub fn schema(&self) -> u64 {
        self.schema
    }
    /// Business time.
    pub fn occurred_at(&self) -> Timestamp {
        self.occurred_at
    }
    /// Who is accountable.
    pub fn actor(&self) -> &str {
        &self.actor
    }
    /// The payload.
    pub fn data(&self) -> &Map<String, Value> {
        &self.data
    }
    /// Correlation and other metadata; empty when none.
    pub fn meta(&self) -> &Map<String, Value> {
        &self.meta
    }

    /// Every rule, including the size limit: for events about to be appended.
    fn check(&self) -> Result<(), EntryError> {
        self.check_fields()?;
        // The paths `check_values` would name on the whole event: only these members hold
        // values the field rules do not cover.
        canonical::check_object(&self.data, "$.data")?;
        canonical::check_object(&self.meta, "$.meta")?;
        let mut layout = Vec::with_capacity(512);
        self.write_layout(&mut layout)?;
        if layout.len() > EVENT_BYTES_MAX {
            return Err(EntryError::TooLarge(layout.len()));
        }
        Ok(())
    }

    /// Appends the stored layout of [`Self::to_value`], written from the fields: building the
    /// value first copied the whole payload on every append.
    fn write_layout(&self, out: &mut Vec<u8>) -> Result<(), canonical::ValueError> {
        out.extend_from_slice(b"{\"stream\": ");
        canonical::write_string(&self.stream, out);
        out.extend_from_slice(b", \"version\": ");
        push_decimal(out, self.version);
        out.extend_from_slice(b", \"type\": ");
        canonical::write_string(&self.event_type, out);
        out.extend_from_slice(b", \"schema\": ");
        push_decimal(out, self.schema);
        out.extend_from_slice(b", \"occurred_at\": ");
        self.occurred_at.write_json(out);
        out.extend_from_slice(b", \"actor\": ");
        canonical::write_string(&self.actor, out);
        out.extend_from_slice(b", \"data\": ");
        canonical::write_layout_object(&self.data, out)?;
        if !self.meta.is_empty() {
            out.extend_from_slice(b", \"meta\": ");
            canonical::write_layout_object(&self.meta, out)?;
        }
        out.push(b'}');
        Ok(())
    }

    /// Appends JCS of [`Self::to_value`], written from the fields (members in key order).
    fn write_jcs(&self, out: &mut Vec<u8>) -> Result<(), canonical::ValueError> {
        out.extend_from_slice(b"{\"actor\":");
        canonical::write_string(&self.actor, out);
        out.extend_from_slice(b",\"data\":");
        canonical::write_jcs_object_except(&self.data, &[], out)?;
        if !self.meta.is_empty() {
            out.extend_from_slice(b",\"meta\":");
            canonical::write_jcs_object_except(&self.meta, &[], out)?;
        }
        out.extend_from_slice(b",\"occurred_at\":");
        self.occurred_at.write_json(out);
        out.extend_from_slice(b",\"schema\":");
        push_decimal(out, self.schema);
        out.extend_from_slice(b",\"stream\":");
        canonical::write_string(&self.stream, out);
        out.extend_from_slice(b",\"type\":");
        canonical::write_string(&self.event_type, out);
        out.extend_from_slice(b",\"version\":");
        push_decimal(out, self.version);
        out.push(b'}');
        Ok(())
    }

    /// The field rules and value rules, without re-serializing: for events read from a line,
    /// whose length [`ENTRY_LINE_BYTES_MAX`] already bounds.
    fn check_read(&self) -> Result<(), EntryError> {
        self.check_fields()?;
        canonical::check_object(&self.data, "$.event.data")?;
        Ok(canonical::check_object(&self.meta, "$.event.meta")?)
    }

    fn check_fields(&self) -> Result<(), EntryError> {
        check_stream(&self.stream)?;
        if self.version == 0 || self.version > canonical::MAX_SAFE_INTEGER as u64 {
            return Err(member("event.version", "must be an integer from 1"));
        }
        check_type(&self.event_type)?;
        if self.schema == 0 || self.schema > u64::from(u32::MAX) {
            return Err(member("event.schema", "must be an integer from 1"));
        }
        check_actor(&self.actor)
    }

    /// The event as a JSON object, members in the order of §1.
    pub fn to_value(&self) -> Value {
        let mut map = Map::new();
        map.insert("stream".into(), Value::from(self.stream.clone()));
        map.insert("version".into(), Value::from(self.version));
        map.insert("type".into(), Value::from(self.event_type.clone()));
        map.insert("schema".into(), Value::from(self.schema));
        map.insert(
            "occurred_at".into(),
            Value::from(self.occurred_at.to_string()),
        );
        map.insert("actor".into(), Value::from(self.actor.clone()));
        map.insert("data".into(), Value::Object(self.data.clone()));
        if !self.meta.is_empty() {
            map.insert("meta".into(), Value::Object(self.meta.clone()));
        }
        Value::Object(map)
    }

    /// Reads an event object, refusing anything §1 does not allow.
    pub fn from_value(value: &Value) -> Result<Self, EntryError> {
        Self::from_owned(value.clone())
    }

    /// Reads an event object it takes ownership of, without copying the payload.
    pub fn from_owned(value: Value) -> Result<Self, EntryError> {
        let Value::Object(mut obj) = value else {
            return Err(member("event", "must be an object"));
        };
        only_members(&obj, &EVENT_MEMBERS, "event.")?;
        let meta = match obj.swap_remove("meta") {
            None => Map::new(),
            Some(Value::Object(m)) if !m.is_empty() => m,
            Some(_) => {
                return Err(member(
                    "event.meta",
                    "must be a non-empty object when present",
                ))
            }
        };
        let data = obj.swap_remove("data");
        let obj = &obj;
        let event = Self {
            stream: get_str(obj, "stream", "event.stream")?.to_owned(),
            version: get_u64(obj, "version", "event.version")?,
            event_type: get_str(obj, "type", "event.type")?.to_owned(),
            schema: get_u64(obj, "schema", "event.schema")?,
            occurred_at: get_time(obj, "occurred_at", "event.occurred_at")?,
            actor: get_str(obj, "actor", "event.actor")?.to_owned(),
            data: match data {
                Some(Value::Object(m)) => m,
                Some(_) => return Err(member("event.data", "must be an object")),
                None => return Err(member("event.data", "is missing")),
            },
            meta,
        };
        event.check_read()?;
        Ok(event)
    }

    /// BLAKE3-256("custodia.event/1\n" || JCS(event)): what an author attests (§3).
    pub fn digest(&self) -> Result<[u8; 32], EntryError> {
        event_digest(&self.to_value())
    }

    /// The author's attestation of this event with `key`.
    pub fn attest(&self, key: &SecretKey) -> Result<Attestation, EntryError> {
        Ok(Attestation {
            key: key.public(),
            sig: key.sign(&self.digest()?),
        })
    }
}

/// The event digest of an event object as it stands.
pub fn event_digest(event: &Value) -> Result<[u8; 32], EntryError> {
    let mut hasher = blake3::Hasher::new();
    hasher.update(EVENT_PREFIX);
    hasher.update(&canonical::jcs(event)?);
    Ok(*hasher.finalize().as_bytes())
}

/// One sealed line of the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The ledger's name.
    pub ledger: String,
    /// Position from 0.
    pub seq: u64,
    /// Hash of the entry before.
    pub prev: ChainHash,
    /// Transaction time.
    pub recorded_at: Timestamp,
    /// What happened.
    pub event: Event,
    /// The author's own signature over the event, if any.
    pub attestation: Option<Attestation>,
    /// The ledger key that sealed the entry.
    pub signer: PublicKey,
    /// BLAKE3 of the preimage.
    pub hash: ChainHash,
    /// The signer's signature over `hash`.
    pub sig: Signature,
}

/// The parts of an entry before it is sealed.
#[derive(Debug, Clone)]
pub struct Unsealed {
    /// The ledger's name.
    pub ledger: String,
    /// Position from 0.
    pub seq: u64,
    /// Hash of the entry before.
    pub prev: ChainHash,
    /// Transaction time.
    pub recorded_at: Timestamp,
    /// What happened.
    pub event: Event,
    /// The author's attestation, if any.
    pub attestation: Option<Attestation>,
}

impl Unsealed {
    /// The entry without `hash` and `sig`, members in the order of §1.
    fn to_value(&self, signer: &PublicKey) -> Value {
        let mut map = Map::new();
        map.insert("format".into(), Value::from(ENTRY_FORMAT));
        map.insert("ledger".into(), Value::from(self.ledger.clone()));
        map.insert("seq".into(), Value::from(self.seq));
        map.insert("prev".into(), Value::from(self.prev.to_hex()));
        map.insert(
            "recorded_at".into(),
            Value::from(self.recorded_at.to_string()),
        );
        map.insert("event".into(), self.event.to_value());
        if let Some(att) = &self.attestation {
            map.insert("attestation".into(), attestation_value(att));
        }
        map.insert("signer".into(), Value::from(signer.to_base64()));
        Value::Object(map)
    }

    /// Hashes and signs: the entry's preimage, hash and signature per §2.
    pub fn seal(self, signer: &SecretKey) -> Result<Entry, EntryError> {
        let public = signer.public();
        let hash = self.hash_for(&public)?;
        let sig = signer.sign(&hash.0);
        Ok(self.into_entry(public, hash, sig))
    }

    /// The entry hash this entry will have when sealed by `signer`. Hashing is sequential along
    /// the chain; signing the hashes is not, so the writer signs a batch on every core.
    pub fn hash_for(&self, signer: &PublicKey) -> Result<ChainHash, EntryError> {
        check_ledger_name(&self.ledger)?;
        entry_hash(&self.to_value(signer))
    }

    /// The sealed entry, given the hash from [`Unsealed::hash_for`] and its signature.
    pub fn into_entry(self, signer: PublicKey, hash: ChainHash, sig: Signature) -> Entry {
        Entry {
            ledger: self.ledger,
            seq: self.seq,
            prev: self.prev,
            recorded_at: self.recorded_at,
            event: self.event,
            attestation: self.attestation,
            signer,
            hash,
            sig,
        }
    }
}

fn attestation_value(att: &Attestation) -> Value {
    let mut map = Map::new();
    map.insert("key".into(), Value::from(att.key.to_base64()));
    map.insert("sig".into(), Value::from(B64.encode(att.sig.to_bytes())));
    Value::Object(map)
}

/// The preimage of an entry object (its `hash` and `sig` members are left out).
pub fn entry_preimage(entry: &Value) -> Result<Vec<u8>, EntryError> {
    let obj = entry
        .as_object()
        .ok_or_else(|| member("entry", "must be an object"))?;
    let mut out = Vec::with_capacity(1024);
    out.extend_from_slice(ENTRY_PREFIX);
    canonical::write_jcs_object_except(obj, &["hash", "sig"], &mut out)?;
    Ok(out)
}

/// BLAKE3 of an entry object's preimage.
pub fn entry_hash(entry: &Value) -> Result<ChainHash, EntryError> {
    Ok(ChainHash(*blake3::hash(&entry_preimage(entry)?).as_bytes()))
}

impl Entry {
    /// The whole entry as a JSON object, members in the order of §1.
    pub fn to_value(&self) -> Value {
        let unsealed = Unsealed {
            ledger: self.ledger.clone(),
            seq: self.seq,
            prev: self.prev,
            recorded_at: self.recorded_at,
            event: self.event.clone(),
            attestation: self.attestation.clone(),
        };
        let mut value = unsealed.to_value(&self.signer);
        if let Value::Object(map) = &mut value {
            map.insert("hash".into(), Value::from(self.hash.to_hex()));
            map.insert("sig".into(), Value::from(B64.encode(self.sig.to_bytes())));
        }
        value
    }

    /// The stored line (without the newline).
    pub fn to_line(&self) -> String {
        layout_line(&self.to_value())
    }

    /// Reads a stored line. Returns the entry and the object exactly as read, whose preimage a
    /// verifier recomputes and whose [`layout_line`] must equal the line.
    pub fn parse_line(line: &str) -> Result<(Entry, Value), EntryError> {
        if line.len() > ENTRY_LINE_BYTES_MAX {
            return Err(EntryError::LineTooLong(line.len()));
        }
        let value = canonical::parse_strict(line.as_bytes())?;
        let entry = Self::from_value(&value)?;
        Ok((entry, value))
    }

    /// Reads an entry object, refusing anything §1 does not allow.
    pub fn from_value(value: &Value) -> Result<Entry, EntryError> {
        Self::from_owned(value.clone())
    }

    /// Reads an entry object it takes ownership of, without copying the payload.
    pub fn from_owned(value: Value) -> Result<Entry, EntryError> {
        let Value::Object(mut obj) = value else {
            return Err(member("entry", "must be an object"));
        };
        only_members(&obj, &ENTRY_MEMBERS, "")?;
        let event = obj.swap_remove("event").unwrap_or(Value::Null);
        let obj = &obj;
        let format = get_str(obj, "format", "format")?;
        if format != ENTRY_FORMAT {
            return Err(member(
                "format",
                format!("unknown format {format:?}; expected {ENTRY_FORMAT:?}"),
            ));
        }
        let ledger = get_str(obj, "ledger", "ledger")?.to_owned();
        check_ledger_name(&ledger)?;
        let attestation = match obj.get("attestation") {
            None => None,
            Some(Value::Object(att)) => {
                only_members(att, &["key", "sig"], "attestation.")?;
                Some(Attestation {
                    key: get_key(att, "key", "attestation.key")?,
                    sig: get_sig(att, "sig", "attestation.sig")?,
                })
            }
            Some(_) => return Err(member("attestation", "must be an object when present")),
        };
        Ok(Entry {
            ledger,
            seq: get_u64(obj, "seq", "seq")?,
            prev: get_hash(obj, "prev", "prev")?,
            recorded_at: get_time(obj, "recorded_at", "recorded_at")?,
            event: Event::from_owned(event)?,
            attestation,
            signer: get_key(obj, "signer", "signer")?,
            hash: get_hash(obj, "hash", "hash")?,
            sig: get_sig(obj, "sig", "sig")?,
        })
    }
}

/// An event with its canonical bytes written ahead of sealing, on the appending caller's task,
/// split around `version` so that the writer can place it at a stream's next version by
/// assembling bytes. In JCS `version` is the event's last member (its keys sort last); in the
/// stored layout it is the second, after `stream`.
#[derive(Debug, Clone)]
pub struct PreparedEvent {
    event: Event,
    /// JCS(event) up to and including `"version":`.
    jcs_head: Vec<u8>,
    /// The event's layout up to and including `"version": `.
    layout_head: Vec<u8>,
    /// The event's layout after the version's digits.
    layout_tail: Vec<u8>,
}

impl PreparedEvent {
    /// Writes the event's canonical pieces (the event passed every rule when it was built).
    pub fn new(event: Event) -> Result<Self, EntryError> {
        let mut jcs = Vec::with_capacity(512);
        event.write_jcs(&mut jcs)?;
        let mut layout = Vec::with_capacity(jcs.len() + 64);
        event.write_layout(&mut layout)?;
        let digits = event.version.to_string();
        let jcs_tail = format!("\"version\":{digits}}}");
        let mut layout_head = Vec::with_capacity(event.stream.len() + 32);
        layout_head.extend_from_slice(b"{\"stream\": ");
        canonical::write_string(&event.stream, &mut layout_head);
        layout_head.extend_from_slice(b", \"version\": ");
        let split_ok = jcs.ends_with(jcs_tail.as_bytes())
            && layout.starts_with(&layout_head)
            && layout[layout_head.len()..].starts_with(digits.as_bytes());
        if !split_ok {
            // Unreachable for events built by `Event`: its members are fixed.
            return Err(member("event", "cannot be split around its version"));
        }
        let jcs_head = jcs[..jcs.len() - digits.len() - 1].to_vec();
        let layout_tail = layout[layout_head.len() + digits.len()..].to_vec();
        Ok(Self {
            event,
            jcs_head,
            layout_head,
            layout_tail,
        })
    }

    /// The event.
    pub fn event(&self) -> &Event {
        &self.event
    }

    /// The event, giving up the prepared bytes.
    pub fn into_event(self) -> Event {
        self.event
    }

    /// Places the event at another stream version. Only the version changes, so only its own
    /// rule and the size limit are checked again.
    pub fn set_version(&mut self, version: u64) -> Result<(), EntryError> {
        if version == 0 || version > canonical::MAX_SAFE_INTEGER as u64 {
            return Err(member("event.version", "must be an integer from 1"));
        }
        let size = self.layout_head.len() + decimal_len(version) + self.layout_tail.len();
        if size > EVENT_BYTES_MAX {
            return Err(EntryError::TooLarge(size));
        }
        self.event.version = version;
        Ok(())
    }

    /// JCS(event) as it stands.
    fn write_jcs(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.jcs_head);
        push_decimal(out, self.event.version);
        out.push(b'}');
    }

    /// The event digest (§3), as [`Event::digest`] computes it.
    pub fn digest(&self) -> [u8; 32] {
        let mut bytes = Vec::with_capacity(EVENT_PREFIX.len() + self.jcs_head.len() + 24);
        bytes.extend_from_slice(EVENT_PREFIX);
        self.write_jcs(&mut bytes);
        *blake3::hash(&bytes).as_bytes()
    }
}

fn decimal_len(mut n: u64) -> usize {
    let mut len = 1;
    while n >= 10 {
        n /= 10;
        len += 1;
    }
    len
}

fn push_decimal(out: &mut Vec<u8>, n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

fn push_hex(out: &mut Vec<u8>, bytes: &[u8; 32]) {
    let mut hex = [0u8; 64];
    // Cannot fail: the buffer is exactly twice the input.
    let _ = hex::encode_to_slice(bytes, &mut hex);
    out.extend_from_slice(&hex);
}

/// What every entry a writer seals shares: the ledger's name and the signer, written once.
#[derive(Debug, Clone)]
pub struct EntryAssembler {
    ledger: String,
    /// The ledger's name as a JSON string (the same in JCS and in the layout).
    ledger_json: Vec<u8>,
    signer: PublicKey,
    signer_b64: String,
}

/// An entry hashed from prepared bytes, its line written up to `signer`; its signature completes
/// it.
#[derive(Debug, Clone)]
pub struct HashedEntry {
    /// The entry hash.
    pub hash: ChainHash,
    line: Vec<u8>,
}

impl EntryAssembler {
    /// For entries of `ledger` sealed by `signer`.
    pub fn new(ledger: &str, signer: PublicKey) -> Result<Self, EntryError> {
        check_ledger_name(ledger)?;
        let mut ledger_json = Vec::with_capacity(ledger.len() + 2);
        canonical::write_string(ledger, &mut ledger_json);
        Ok(Self {
            ledger: ledger.to_owned(),
            ledger_json,
            signer_b64: signer.to_base64(),
            signer,
        })
    }

    /// The ledger's name.
    pub fn ledger(&self) -> &str {
        &self.ledger
    }

    /// The signer.
    pub fn signer(&self) -> PublicKey {
        self.signer
    }

    /// Hashes the entry at `seq` after `prev` (§2) and writes its line up to `signer`, both from
    /// the prepared bytes in one pass: the same bytes as [`Unsealed::hash_for`] and
    /// [`Entry::to_line`]. `preimage` is scratch space.
    pub fn hash(
        &self,
        seq: u64,
        prev: &ChainHash,
        recorded_at: Timestamp,
        event: &PreparedEvent,
        attestation: Option<&Attestation>,
        preimage: &mut Vec<u8>,
    ) -> HashedEntry {
        let recorded_at = recorded_at.to_string();
        let att = attestation.map(|a| (a.key.to_base64(), B64.encode(a.sig.to_bytes())));
        // JCS: members sorted by key.
        preimage.clear();
        preimage.extend_from_slice(ENTRY_PREFIX);
        preimage.push(b'{');
        if let Some((key, sig)) = &att {
            preimage.extend_from_slice(b"\"attestation\":{\"key\":\"");
            preimage.extend_from_slice(key.as_bytes());
            preimage.extend_from_slice(b"\",\"sig\":\"");
            preimage.extend_from_slice(sig.as_bytes());
            preimage.extend_from_slice(b"\"},");
        }
        preimage.extend_from_slice(b"\"event\":");
        event.write_jcs(preimage);
        preimage.extend_from_slice(b",\"format\":\"");
        preimage.extend_from_slice(ENTRY_FORMAT.as_bytes());
        preimage.extend_from_slice(b"\",\"ledger\":");
        preimage.extend_from_slice(&self.ledger_json);
        preimage.extend_from_slice(b",\"prev\":\"");
        push_hex(preimage, &prev.0);
        preimage.extend_from_slice(b"\",\"recorded_at\":\"");
        preimage.extend_from_slice(recorded_at.as_bytes());
        preimage.extend_from_slice(b"\",\"seq\":");
        push_decimal(preimage, seq);
        preimage.extend_from_slice(b",\"signer\":\"");
        preimage.extend_from_slice(self.signer_b64.as_bytes());
        preimage.extend_from_slice(b"\"}");
        let hash = ChainHash(*blake3::hash(preimage).as_bytes());
        // The layout: members in the order of §1.
        let mut line = Vec::with_capacity(preimage.len() + 256);
        line.extend_from_slice(b"{\"format\": \"");
        line.extend_from_slice(ENTRY_FORMAT.as_bytes());
        line.extend_from_slice(b"\", \"ledger\": ");
        line.extend_from_slice(&self.ledger_json);
        line.extend_from_slice(b", \"seq\": ");
        push_decimal(&mut line, seq);
        line.extend_from_slice(b", \"prev\": \"");
        push_hex(&mut line, &prev.0);
        line.extend_from_slice(b"\", \"recorded_at\": \"");
        line.extend_from_slice(recorded_at.as_bytes());
        line.extend_from_slice(b"\", \"event\": ");
        line.extend_from_slice(&event.layout_head);
        push_decimal(&mut line, event.event.version);
        line.extend_from_slice(&event.layout_tail);
        if let Some((key, sig)) = &att {
            line.extend_from_slice(b", \"attestation\": {\"key\": \"");
            line.extend_from_slice(key.as_bytes());
            line.extend_from_slice(b"\", \"sig\": \"");
            line.extend_from_slice(sig.as_bytes());
            line.extend_from_slice(b"\"}");
        }
        line.extend_from_slice(b", \"signer\": \"");
        line.extend_from_slice(self.signer_b64.as_bytes());
        line.extend_from_slice(b"\", \"hash\": \"");
        push_hex(&mut line, &hash.0);
        line.extend_from_slice(b"\", \"sig\": \"");
        HashedEntry { hash, line }
    }
}

impl HashedEntry {
    /// The stored line, given the signature over [`HashedEntry::hash`].
    pub fn into_line(mut self, sig: &Signature) -> String {
        self.line
            .extend_from_slice(B64.encode(sig.to_bytes()).as_bytes());
        self.line.extend_from_slice(b"\"}");
        // Every piece is UTF-8: JSON text, hex and base64.
        String::from_utf8(self.line).unwrap_or_default()
    }
}

/// The stored layout of any JSON value, as one line.
pub fn layout_line(value: &Value) -> String {
    let mut out = Vec::with_capacity(1024);
    // Values reaching here passed the value rules; a float cannot occur.
    let _ = canonical::write_layout(value, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Refuses a member the format does not define, naming it with its path.
fn only_members(obj: &Map<String, Value>, allowed: &[&str], path: &str) -> Result<(), EntryError> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => Err(EntryError::Unknown(format!("{path}{key}"))),
        None => Ok(()),
    }
}

fn get_str<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    name: &'static str,
) -> Result<&'a str, EntryError> {
    match obj.get(key) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(member(name, "must be a string")),
        None => Err(member(name, "is missing")),
    }
}

fn get_u64(obj: &Map<String, Value>, key: &str, name: &'static str) -> Result<u64, EntryError> {
    match obj.get(key) {
        Some(Value::Number(n)) => n
            .as_u64()
            .ok_or_else(|| member(name, "must be a non-negative integer")),
        Some(_) => Err(member(name, "must be an integer")),
        None => Err(member(name, "is missing")),
    }
}

fn get_time(
    obj: &Map<String, Value>,
    key: &str,
    name: &'static str,
) -> Result<Timestamp, EntryError> {
    Timestamp::parse(get_str(obj, key, name)?).map_err(|e| member(name, e.to_string()))
}

fn get_hash(
    obj: &Map<String, Value>,
    key: &str,
    name: &'static str,
) -> Result<ChainHash, EntryError> {
    ChainHash::from_hex(get_str(obj, key, name)?)
        .ok_or_else(|| member(name, "must be 64 lowercase hex characters"))
}

fn get_key(
    obj: &Map<String, Value>,
    key: &str,
    name: &'static str,
) -> Result<PublicKey, EntryError> {
    PublicKey::from_base64(get_str(obj, key, name)?)
        .map_err(|e: KeyError| member(name, e.to_string()))
}

fn get_sig(
    obj: &Map<String, Value>,
    key: &str,
    name: &'static str,
) -> Result<Signature, EntryError> {
    let text = get_str(obj, key, name)?;
    let bytes = B64
        .decode(text)
        .map_err(|_| member(name, "must be base64"))?;
    let bytes: [u8; 64] = bytes
        .try_into()
        .map_err(|_| member(name, "must be 64 bytes"))?;
    if B64.encode(bytes) != text {
        return Err(member(name, "must be canonical base64"));
    }
    Ok(Signature::from_bytes(&bytes))
}

fn is_kind(text: &str) -> bool {
    let mut bytes = text.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z'))
        && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'))
}

/// Checks `<kind>/<id>` (kind `[a-z][a-z0-9_]*`, id `[A-Za-z0-9._:-]{1,128}`).
pub fn check_stream(stream: &str) -> Result<(), EntryError> {
    let ok = stream.split_once('/').is_some_and(|(kind, id)| {
        is_kind(kind)
            && (1..=128).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
    });
    if ok {
        Ok(())
    } else {
        Err(member(
            "event.stream",
            format!(
                "{stream:?} is not <kind>/<id> (kind [a-z][a-z0-9_]*, id [A-Za-z0-9._:-]{{1,128}})"
            ),
        ))
    }
}

pub(crate) fn check_type(event_type: &str) -> Result<(), EntryError> {
    let ok = event_type
        .split_once('.')
        .is_some_and(|(kind, verb)| is_kind(kind) && is_kind(verb));
    if ok && event_type.len() <= 128 {
        Ok(())
    } else {
        Err(member(
            "event.type",
            format!("{event_type:?} is not <kind>.<past_tense> in lower snake case"),
        ))
    }
}

pub(crate) fn check_actor(actor: &str) -> Result<(), EntryError> {
    let ok = actor.split_once(':').is_some_and(|(class, name)| {
        is_kind(class)
            && !name.is_empty()
            && name.len() <= 256
            && name.chars().all(|c| !c.is_whitespace() && !c.is_control())
    });
    if ok {
        Ok(())
    } else {
        Err(member(
            "event.actor",
            format!("{actor:?} is not <class>:<name>, e.g. user:alice@acme.example"),
        ))
    }
}

/// Checks a ledger name: C2SP origin syntax, printable ASCII without spaces or `+`, 1–255 chars.
pub fn check_ledger_name(name: &str) -> Result<(), EntryError> {
    let ok = (1..=255).contains(&name.len())
        && name
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b'+');
    if ok {
        Ok(())
    } else {
        Err(member(
            "ledger",
            format!("{name:?} is not a ledger name (printable ASCII, no spaces or '+', 1-255 chars, e.g. acme.example/sms)"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> Event {
        let data = serde_json::json!({"likelihood": 4, "impact": 5});
        Event::new(
            "risk/R-0007",
            3,
            "risk.assessed",
            1,
            Timestamp::parse("2026-03-01T09:55:00.000000Z").unwrap(),
            "user:alice@acme.example",
            data.as_object().unwrap().clone(),
        )
        .unwrap()
    }

    /// Payload values within the value rules: nested, with non-ASCII and escaped text.
    fn payload_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let text = prop_oneof![
            "[a-z_]{0,8}",
            "[\\u{0}-\\u{7f}]{0,6}",
            "[é€😀\\u{1f}\"\\\\ a-z]{0,6}",
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            (-canonical::MAX_SAFE_INTEGER..=canonical::MAX_SAFE_INTEGER).prop_map(Value::from),
            text.clone().prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                proptest::collection::vec((text.clone(), inner), 0..4)
                    .prop_map(|members| Value::Object(members.into_iter().collect())),
            ]
        })
    }

    fn payload() -> impl proptest::strategy::Strategy<Value = Map<String, Value>> {
        use proptest::prelude::*;
        proptest::collection::vec(("[a-zé€😀_]{1,6}", payload_value()), 0..5)
            .prop_map(|members| members.into_iter().collect())
    }

    proptest::proptest! {
        /// The append path writes an event's canonical bytes and layout from its fields; they
        /// must be those of its JSON value, which the verifier and other languages rebuild.
        #[test]
        fn an_events_bytes_written_from_its_fields_are_those_of_its_value(
            data in payload(),
            meta in payload(),
            version in 1u64..=canonical::MAX_SAFE_INTEGER as u64,
        ) {
            let event = Event { data, meta, version, ..event() };
            let mut jcs = Vec::new();
            event.write_jcs(&mut jcs).unwrap();
            proptest::prop_assert_eq!(&jcs, &canonical::jcs(&event.to_value()).unwrap());
            let mut layout = Vec::new();
            event.write_layout(&mut layout).unwrap();
            let mut expected = Vec::new();
            canonical::write_layout(&event.to_value(), &mut expected).unwrap();
            proptest::prop_assert_eq!(layout, expected);
        }
    }

    #[test]
    fn sealed_entries_round_trip_through_their_line() {
        let key = SecretKey::from_seed(&[2; 32]);
        let entry = Unsealed {
            ledger: "acme.example/sms".into(),
            seq: 17,
            prev: ChainHash([9; 32]),
            recorded_at: Timestamp::parse("2026-03-01T10:00:01.234567Z").unwrap(),
            attestation: Some(event().attest(&key).unwrap()),
            event: event(),
        }
        .seal(&key)
        .unwrap();
        let line = entry.to_line();
        let (back, raw) = Entry::parse_line(&line).unwrap();
        assert_eq!(back, entry);
        assert_eq!(entry_hash(&raw).unwrap(), entry.hash);
        assert!(entry.signer.verify(&entry.hash.0, &entry.sig));
    }

    /// The writer's one-pass bytes must be exactly those of the reference functions.
    #[test]
    fn assembled_entries_have_the_reference_bytes() {
        let key = SecretKey::from_seed(&[2; 32]);
        let author = SecretKey::from_seed(&[5; 32]);
        let t = Timestamp::parse("2026-03-01T09:55:00.000000Z").unwrap();
        let data = serde_json::json!({
            "title": "Quote \" back\\slash \n new line \u{1} é 😀",
            "z": [1, -2, {"b": null, "a": true}],
            "\u{e000}": "private", "😀": "astral", "a": "ascii",
        });
        let meta = serde_json::json!({"correlation": "c-1", "request": "r\t2"});
        let plain = Event::new(
            "risk/R-1",
            3,
            "risk.assessed",
            1,
            t,
            "user:al ice",
            Map::new(),
        );
        assert!(plain.is_err(), "actor with a space");
        let events = [
            Event::new("risk/R-1", 1, "risk.assessed", 1, t, "user:a", Map::new()).unwrap(),
            Event::new(
                "risk/R-1",
                9,
                "risk.assessed",
                4,
                t,
                "user:a",
                data.as_object().unwrap().clone(),
            )
            .unwrap()
            .with_meta(meta.as_object().unwrap().clone())
            .unwrap(),
        ];
        for ledger in ["acme.example/sms", r#"we"ird\name"#] {
            let assembler = EntryAssembler::new(ledger, key.public()).unwrap();
            for event in &events {
                for version in [
                    event.version(),
                    1,
                    10,
                    123_456_789,
                    canonical::MAX_SAFE_INTEGER as u64,
                ] {
                    let placed = event.clone().at_version(version).unwrap();
                    let mut prepared = PreparedEvent::new(event.clone()).unwrap();
                    prepared.set_version(version).unwrap();
                    assert_eq!(prepared.event(), &placed);
                    assert_eq!(prepared.digest(), placed.digest().unwrap());
                    for attested in [false, true] {
                        let attestation = attested.then(|| placed.attest(&author).unwrap());
                        let unsealed = Unsealed {
                            ledger: ledger.into(),
                            seq: version % 1000,
                            prev: ChainHash([7; 32]),
                            recorded_at: Timestamp::parse("2026-03-01T10:00:01.234567Z").unwrap(),
                            event: placed.clone(),
                            attestation: attestation.clone(),
                        };
                        let mut scratch = Vec::new();
                        let hashed = assembler.hash(
                            unsealed.seq,
                            &unsealed.prev,
                            unsealed.recorded_at,
                            &prepared,
                            attestation.as_ref(),
                            &mut scratch,
                        );
                        let entry = unsealed.seal(&key).unwrap();
                        assert_eq!(hashed.hash, entry.hash);
                        assert_eq!(hashed.into_line(&entry.sig), entry.to_line());
                    }
                }
            }
        }
    }

    #[test]
    fn a_prepared_event_keeps_the_version_rules() {
        let t = Timestamp::parse("2026-03-01T09:55:00.000000Z").unwrap();
        let event = Event::new("risk/R-1", 1, "risk.noted", 1, t, "user:a", Map::new()).unwrap();
        let mut prepared = PreparedEvent::new(event).unwrap();
        assert!(prepared.set_version(0).is_err());
        assert!(prepared
            .set_version(canonical::MAX_SAFE_INTEGER as u64 + 1)
            .is_err());
        assert_eq!(prepared.event().version(), 1);
        // An event at the size limit cannot grow by a longer version.
        let with_text = |text: String| {
            let data = serde_json::json!({ "text": text });
            let data = data.as_object().unwrap().clone();
            Event::new("risk/R-1", 1, "risk.noted", 1, t, "user:a", data)
        };
        let mut layout = Vec::new();
        canonical::write_layout(&with_text(String::new()).unwrap().to_value(), &mut layout)
            .unwrap();
        let big = with_text("x".repeat(EVENT_BYTES_MAX - layout.len())).unwrap();
        let mut prepared = PreparedEvent::new(big.clone()).unwrap();
        assert!(matches!(
            prepared.set_version(10),
            Err(EntryError::TooLarge(_))
        ));
        assert!(matches!(big.at_version(10), Err(EntryError::TooLarge(_))));
    }

    #[test]
    fn field_rules_name_the_member() {
        let t = Timestamp::parse("2026-03-01T09:55:00.000000Z").unwrap();
        let cases: [(&str, u64, &str, &str, &str); 5] = [
            ("risk", 1, "risk.assessed", "user:a", "event.stream"),
            ("Risk/R-1", 1, "risk.assessed", "user:a", "event.stream"),
            ("risk/R 1", 1, "risk.assessed", "user:a", "event.stream"),
            ("risk/R-1", 1, "RiskAssessed", "user:a", "event.type"),
            ("risk/R-1", 1, "risk.assessed", "alice", "event.actor"),
        ];
        for (stream, version, ty, actor, expect) in cases {
            let err = Event::new(stream, version, ty, 1, t, actor, Map::new()).unwrap_err();
            assert!(
                err.to_string().contains(expect),
                "{stream} {ty} {actor}: {err}"
            );
        }
        let err = Event::new("risk/R-1", 0, "risk.assessed", 1, t, "user:a", Map::new());
        assert!(err.unwrap_err().to_string().contains("event.version"));
    }

    #[test]
    fn oversized_and_float_payloads_are_refused() {
        let t = Timestamp::parse("2026-03-01T09:55:00.000000Z").unwrap();
        let big = serde_json::json!({"text": "x".repeat(EVENT_BYTES_MAX)});
        let err = Event::new(
            "risk/R-1",
            1,
            "risk.noted",
            1,
            t,
            "user:a",
            big.as_object().unwrap().clone(),
        );
        assert!(matches!(err, Err(EntryError::TooLarge(_))));
        let float = serde_json::json!({"cost": 12.5});
        let err = Event::new(
            "risk/R-1",
            1,
            "risk.noted",
            1,
            t,
            "user:a",
            float.as_object().unwrap().clone(),
        );
        assert!(err.unwrap_err().to_string().contains("floating-point"));
    }

    #[test]
    fn ledger_names_follow_origin_syntax() {
        assert!(check_ledger_name("acme.example/sms").is_ok());
        for bad in ["", "a b", "a+b", "caf\u{e9}", &"x".repeat(256)] {
            assert!(check_ledger_name(bad).is_err(), "{bad}");
        }
    }
}

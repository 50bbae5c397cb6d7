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
        if text.len() != 64 || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return None;
        }
        let mut out = [0; 32];
        hex::decode_to_slice(text, &mut out).ok()?;
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
        let value = self.to_value();
        canonical::check_values(&value)?;
        let mut layout = Vec::new();
        canonical::write_layout(&value, &mut layout)?;
        if layout.len() > EVENT_BYTES_MAX {
            return Err(EntryError::TooLarge(layout.len()));
        }
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
        for key in obj.keys() {
            if !matches!(
                key.as_str(),
                "stream"
                    | "version"
                    | "type"
                    | "schema"
                    | "occurred_at"
                    | "actor"
                    | "data"
                    | "meta"
            ) {
                return Err(EntryError::Unknown(format!("event.{key}")));
            }
        }
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
        for key in obj.keys() {
            if !matches!(
                key.as_str(),
                "format"
                    | "ledger"
                    | "seq"
                    | "prev"
                    | "recorded_at"
                    | "event"
                    | "attestation"
                    | "signer"
                    | "hash"
                    | "sig"
            ) {
                return Err(EntryError::Unknown(key.clone()));
            }
        }
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
                if let Some(k) = att.keys().find(|k| !matches!(k.as_str(), "key" | "sig")) {
                    return Err(EntryError::Unknown(format!("attestation.{k}")));
                }
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

/// The stored layout of any JSON value, as one line.
pub fn layout_line(value: &Value) -> String {
    let mut out = Vec::with_capacity(1024);
    // Values reaching here passed the value rules; a float cannot occur.
    let _ = canonical::write_layout(value, &mut out);
    String::from_utf8(out).unwrap_or_default()
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

fn check_type(event_type: &str) -> Result<(), EntryError> {
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

fn check_actor(actor: &str) -> Result<(), EntryError> {
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

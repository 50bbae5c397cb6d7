//! The verifier's fast path for an entry line that is exactly in the stored layout, which is
//! what every intact entry is. The line is read once, in place: strings and numbers stay slices
//! of the line, and because the layout escapes strings and writes numbers exactly as RFC 8785
//! does, the canonical bytes of the preimage and of the event digest are those same slices,
//! re-joined with members sorted. Every rule the full path checks before signatures is checked
//! here too (strict JSON, value rules, layout, members, field rules, hash); at the first thing
//! out of the ordinary (a deviation, an escape in a field, a key event, a hash that does not
//! recompute) it gives up and the full path judges the entry, so that every violation is still
//! reported exactly as the full path words it.

use crate::canonical::MAX_SAFE_INTEGER;
use crate::entry::{self, ChainHash, ENTRY_FORMAT, ENTRY_PREFIX, EVENT_PREFIX};
use crate::keys::{PublicKey, GENESIS_STREAM, KEYS_STREAM};
use crate::time::Timestamp;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::Signature;

/// Deeper nesting is left to the full path (whose parser has its own limit).
const DEPTH_MAX: u32 = 100;

/// A JSON value borrowed from a line in the stored layout.
#[derive(Debug)]
enum J<'a> {
    Null,
    Bool(bool),
    /// The canonical decimal text.
    Num(&'a str),
    /// The text between the quotes, escaped as RFC 8785 escapes.
    Str(&'a str),
    Arr(Vec<J<'a>>),
    /// Members in line order; keys as escaped text.
    Obj(Vec<(&'a str, J<'a>)>),
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Parser<'a> {
    fn eat(&mut self, token: &[u8]) -> Option<()> {
        if self.bytes.get(self.at..self.at + token.len())? == token {
            self.at += token.len();
            Some(())
        } else {
            None
        }
    }

    fn value(&mut self, depth: u32) -> Option<J<'a>> {
        if depth > DEPTH_MAX {
            return None;
        }
        match *self.bytes.get(self.at)? {
            b'{' => self.object(depth),
            b'[' => self.array(depth),
            b'"' => self.string().map(J::Str),
            b'n' => self.eat(b"null").map(|()| J::Null),
            b't' => self.eat(b"true").map(|()| J::Bool(true)),
            b'f' => self.eat(b"false").map(|()| J::Bool(false)),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    /// A string escaped exactly as RFC 8785 writes it: only `"` and `\`, the five short control
    /// escapes, and `\u00xx` (lowercase) for the other control characters.
    fn string(&mut self) -> Option<&'a str> {
        let start = self.at + 1;
        let mut i = start;
        loop {
            match *self.bytes.get(i)? {
                b'"' => break,
                b'\\' => match *self.bytes.get(i + 1)? {
                    b'"' | b'\\' | b'n' | b'r' | b't' | b'b' | b'f' => i += 2,
                    b'u' => {
                        let hex = self.bytes.get(i + 2..i + 6)?;
                        let high = match hex[2] {
                            b'0' => 0,
                            b'1' => 16,
                            _ => return None,
                        };
                        let low = match hex[3] {
                            d @ b'0'..=b'9' => d - b'0',
                            d @ b'a'..=b'f' => d - b'a' + 10,
                            _ => return None,
                        };
                        if hex[..2] != *b"00" || matches!(high + low, 8 | 9 | 10 | 12 | 13) {
                            return None;
                        }
                        i += 6;
                    }
                    _ => return None,
                },
                0x00..=0x1f => return None,
                _ => i += 1,
            }
        }
        self.at = i + 1;
        // Both ends are ASCII quotes, so they are character boundaries.
        self.text.get(start..i)
    }

    /// An integer within ±(2^53−1) in its canonical form; anything else is the full path's.
    fn number(&mut self) -> Option<J<'a>> {
        let start = self.at;
        let mut i = start;
        if self.bytes[i] == b'-' {
            i += 1;
        }
        let digits = i;
        while matches!(self.bytes.get(i), Some(b'0'..=b'9')) {
            i += 1;
        }
        let count = i - digits;
        if count == 0
            || count > 16
            || (self.bytes[digits] == b'0' && (count > 1 || digits > start))
            || matches!(self.bytes.get(i), Some(b'.' | b'e' | b'E'))
        {
            return None;
        }
        let magnitude: i64 = self.text.get(digits..i)?.parse().ok()?;
        if magnitude > MAX_SAFE_INTEGER {
            return None;
        }
        self.at = i;
        self.text.get(start..i).map(J::Num)
    }

    fn array(&mut self, depth: u32) -> Option<J<'a>> {
        self.at += 1;
        let mut items = Vec::new();
        if self.eat(b"]").is_some() {
            return Some(J::Arr(items));
        }
        loop {
            items.push(self.value(depth + 1)?);
            if self.eat(b"]").is_some() {
                return Some(J::Arr(items));
            }
            self.eat(b", ")?;
        }
    }

    fn object(&mut self, depth: u32) -> Option<J<'a>> {
        self.at += 1;
        let mut members: Vec<(&'a str, J<'a>)> = Vec::new();
        if self.eat(b"}").is_some() {
            return Some(J::Obj(members));
        }
        loop {
            if self.bytes.get(self.at) != Some(&b'"') {
                return None;
            }
            let key = self.string()?;
            self.eat(b": ")?;
            let value = self.value(depth + 1)?;
            // Escaping is canonical, so equal text is an equal key.
            if members.iter().any(|(k, _)| *k == key) {
                return None;
            }
            members.push((key, value));
            if self.eat(b"}").is_some() {
                return Some(J::Obj(members));
            }
            self.eat(b", ")?;
        }
    }
}

/// Reads a whole line in the stored layout, or None.
fn parse(line: &str) -> Option<J<'_>> {
    let mut parser = Parser {
        text: line,
        bytes: line.as_bytes(),
        at: 0,
    };
    let value = parser.value(0)?;
    (parser.at == line.len()).then_some(value)
}

/// Decodes escaped string text.
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let code = u32::from_str_radix(&hex, 16).unwrap_or(0);
                out.push(char::from_u32(code).unwrap_or('\u{0}'));
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// Appends the RFC 8785 bytes of `value`, leaving out members named in `except` at this level.
fn write_jcs(value: &J<'_>, except: &[&str], out: &mut Vec<u8>) {
    match value {
        J::Null => out.extend_from_slice(b"null"),
        J::Bool(true) => out.extend_from_slice(b"true"),
        J::Bool(false) => out.extend_from_slice(b"false"),
        J::Num(text) => out.extend_from_slice(text.as_bytes()),
        J::Str(text) => {
            out.push(b'"');
            out.extend_from_slice(text.as_bytes());
            out.push(b'"');
        }
        J::Arr(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_jcs(item, &[], out);
            }
            out.push(b']');
        }
        J::Obj(members) => {
            let mut sorted: Vec<&(&str, J<'_>)> = members
                .iter()
                .filter(|(k, _)| !except.contains(k))
                .collect();
            // RFC 8785 sorts keys by UTF-16 code units of the decoded key; plain ASCII keys
            // sort the same by their bytes.
            if sorted
                .iter()
                .all(|(k, _)| k.is_ascii() && !k.contains('\\'))
            {
                sorted.sort_unstable_by_key(|(k, _)| *k);
            } else {
                sorted.sort_by_cached_key(|(k, _)| unescape(k).encode_utf16().collect::<Vec<_>>());
            }
            out.push(b'{');
            for (i, (key, item)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.push(b'"');
                out.extend_from_slice(key.as_bytes());
                out.extend_from_slice(b"\":");
                write_jcs(item, &[], out);
            }
            out.push(b'}');
        }
    }
}

fn members<'j, 'a>(value: &'j J<'a>) -> Option<&'j [(&'a str, J<'a>)]> {
    match value {
        J::Obj(members) => Some(members),
        _ => None,
    }
}

fn get<'j, 'a>(members: &'j [(&'a str, J<'a>)], name: &str) -> Option<&'j J<'a>> {
    members.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
}

/// A string member without escapes (fields with escapes are left to the full path).
fn text<'a>(members: &[(&'a str, J<'a>)], name: &str) -> Option<&'a str> {
    match get(members, name)? {
        J::Str(text) if !text.contains('\\') => Some(text),
        _ => None,
    }
}

fn count(members: &[(&str, J<'_>)], name: &str) -> Option<u64> {
    match get(members, name)? {
        J::Num(text) => text.parse().ok(),
        _ => None,
    }
}

fn hash_of(text: &str) -> Option<ChainHash> {
    ChainHash::from_hex(text)
}

fn signature(text: &str) -> Option<Signature> {
    let mut bytes = [0u8; 66];
    let n = B64.decode_slice(text, &mut bytes).ok()?;
    let bytes: [u8; 64] = bytes[..n].try_into().ok()?;
    let mut again = [0u8; 88];
    let written = B64.encode_slice(bytes, &mut again).ok()?;
    (again[..written] == *text.as_bytes()).then(|| Signature::from_bytes(&bytes))
}

/// What the fast path read from an intact line.
pub(super) struct FastEntry {
    pub(super) seq: u64,
    pub(super) ledger: String,
    pub(super) prev: ChainHash,
    pub(super) recorded_at: Timestamp,
    pub(super) stream: String,
    pub(super) version: u64,
    pub(super) event_type: String,
    pub(super) occurred_at: Timestamp,
    pub(super) actor: String,
    /// The attester's key and signature, with the event digest they sign.
    pub(super) attestation: Option<(PublicKey, Signature, [u8; 32])>,
    pub(super) signer: PublicKey,
    pub(super) hash: ChainHash,
    pub(super) sig: Signature,
}

use crate::entry::{ENTRY_MEMBERS, EVENT_MEMBERS};

/// Reads and checks an entry line; None when anything needs the full path's judgement.
/// `scratch` holds the preimages.
pub(super) fn check(line: &str, scratch: &mut Vec<u8>) -> Option<FastEntry> {
    if line.len() > entry::ENTRY_LINE_BYTES_MAX {
        return None;
    }
    let root = parse(line)?;
    let top = members(&root)?;
    if top.iter().any(|(k, _)| !ENTRY_MEMBERS.contains(k)) {
        return None;
    }
    if text(top, "format")? != ENTRY_FORMAT {
        return None;
    }
    let ledger = text(top, "ledger")?;
    entry::check_ledger_name(ledger).ok()?;
    let event = get(top, "event")?;
    let ev = members(event)?;
    if ev.iter().any(|(k, _)| !EVENT_MEMBERS.contains(k)) {
        return None;
    }
    let stream = text(ev, "stream")?;
    // Key events change the registry: the full path reads them.
    if stream == GENESIS_STREAM || stream == KEYS_STREAM {
        return None;
    }
    entry::check_stream(stream).ok()?;
    let version = count(ev, "version")?;
    let event_type = text(ev, "type")?;
    let schema = count(ev, "schema")?;
    let actor = text(ev, "actor")?;
    if version == 0 || schema == 0 || schema > u64::from(u32::MAX) {
        return None;
    }
    entry::check_type(event_type).ok()?;
    entry::check_actor(actor).ok()?;
    let occurred_at = Timestamp::parse(text(ev, "occurred_at")?).ok()?;
    match get(ev, "data")? {
        J::Obj(_) => {}
        _ => return None,
    }
    match get(ev, "meta") {
        None => {}
        Some(J::Obj(meta)) if !meta.is_empty() => {}
        Some(_) => return None,
    }
    let attestation = match get(top, "attestation") {
        None => None,
        Some(J::Obj(att)) => {
            if att.iter().any(|(k, _)| *k != "key" && *k != "sig") {
                return None;
            }
            let key = PublicKey::from_base64(text(att, "key")?).ok()?;
            let sig = signature(text(att, "sig")?)?;
            scratch.clear();
            scratch.extend_from_slice(EVENT_PREFIX);
            write_jcs(event, &[], scratch);
            Some((key, sig, *blake3::hash(scratch).as_bytes()))
        }
        Some(_) => return None,
    };
    let hash = hash_of(text(top, "hash")?)?;
    scratch.clear();
    scratch.extend_from_slice(ENTRY_PREFIX);
    write_jcs(&root, &["hash", "sig"], scratch);
    if blake3::hash(scratch).as_bytes() != &hash.0 {
        return None;
    }
    Some(FastEntry {
        seq: count(top, "seq")?,
        ledger: ledger.to_owned(),
        prev: hash_of(text(top, "prev")?)?,
        recorded_at: Timestamp::parse(text(top, "recorded_at")?).ok()?,
        stream: stream.to_owned(),
        version,
        event_type: event_type.to_owned(),
        occurred_at,
        actor: actor.to_owned(),
        attestation,
        signer: PublicKey::from_base64(text(top, "signer")?).ok()?,
        hash,
        sig: signature(text(top, "sig")?)?,
    })
}

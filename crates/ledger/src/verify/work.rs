//! The checks that need nothing from the entries before: parsing, the stored layout, the hash,
//! both signatures and the stored columns. They run on every core, a chunk of entries at a
//! time, while the walk applies the sequential rules to the chunks already checked.

use super::fast::FastEntry;
use super::Rule;
use crate::entry::{self, ChainHash, Entry};
use crate::keys::{KeyChange, PublicKey};
use crate::store::Row;
use crate::time::Timestamp;
use ed25519_dalek::{Signature, VerifyingKey};
use std::sync::{mpsc, Arc, Mutex};

/// One entry as it reaches the verifier.
#[derive(Debug)]
pub(super) enum Input {
    /// A bundle line.
    Line(String),
    /// A stored row.
    Row(Row),
    /// A line that could not even be read as text, with the reason.
    Bad(String),
}

/// What the sequential rules need of an entry: small, so that a chunk's payloads are freed on
/// the thread that parsed them.
pub(super) struct Summary {
    pub(super) seq: u64,
    pub(super) ledger: String,
    pub(super) prev: ChainHash,
    pub(super) hash: ChainHash,
    pub(super) recorded_at: Timestamp,
    pub(super) signer: PublicKey,
    pub(super) attester: Option<PublicKey>,
    pub(super) stream: String,
    pub(super) version: u64,
    pub(super) actor: String,
    /// The key change the entry carries, if it is a genesis or key event.
    pub(super) key_change: Result<Option<KeyChange>, String>,
}

impl Summary {
    fn of(entry: Entry) -> Self {
        let key_change = KeyChange::from_event(&entry.event);
        Self {
            seq: entry.seq,
            prev: entry.prev,
            hash: entry.hash,
            recorded_at: entry.recorded_at,
            signer: entry.signer,
            attester: entry.attestation.map(|a| a.key),
            stream: entry.event.stream().to_owned(),
            version: entry.event.version(),
            actor: entry.event.actor().to_owned(),
            key_change,
            ledger: entry.ledger,
        }
    }
}

/// What the per-entry checks found.
pub(super) struct Checked {
    /// The entry, when it could be read.
    pub(super) entry: Option<Summary>,
    /// Broken rules, for the entry's seq.
    pub(super) problems: Vec<(Rule, String)>,
}

/// A checked chunk.
pub(super) struct Done {
    pub(super) items: Vec<Checked>,
    pub(super) signatures: u64,
}

pub(super) struct SigCheck {
    item: usize,
    rule: Rule,
    message: [u8; 32],
    sig: Signature,
    key: VerifyingKey,
}

/// Checks a chunk whose first entry is at position `start`.
pub(super) fn check_chunk(start: u64, inputs: Vec<Input>) -> Done {
    let mut sigs = Vec::with_capacity(inputs.len() * 2);
    let mut scratch = Vec::with_capacity(4096);
    let items: Vec<Checked> = inputs
        .into_iter()
        .enumerate()
        .map(|(i, input)| check_one(start + i as u64, i, input, &mut sigs, &mut scratch))
        .collect();
    let mut done = Done {
        items,
        signatures: sigs.len() as u64,
    };
    for (item, rule) in failed_signatures(&sigs) {
        let what = if rule == Rule::Signature {
            "entry signature does not verify"
        } else {
            "attestation signature does not verify"
        };
        done.items[item].problems.push((rule, what.into()));
    }
    done
}

fn check_one(
    pos: u64,
    item: usize,
    input: Input,
    sigs: &mut Vec<SigCheck>,
    scratch: &mut Vec<u8>,
) -> Checked {
    let (line, row) = match input {
        Input::Line(line) => (line, None),
        Input::Row(mut row) => (std::mem::take(&mut row.line), Some(row)),
        Input::Bad(reason) => {
            return Checked {
                entry: None,
                problems: vec![(Rule::Format, reason)],
            }
        }
    };
    match super::fast::check(&line, scratch) {
        Some(entry) => check_fast(pos, item, entry, row.as_ref(), sigs),
        None => check_full(pos, item, line, row, sigs),
    }
}

/// An entry the fast path read: only its signatures and stored columns remain to check.
fn check_fast(
    pos: u64,
    item: usize,
    entry: FastEntry,
    row: Option<&Row>,
    sigs: &mut Vec<SigCheck>,
) -> Checked {
    let mut problems = Vec::new();
    sigs.push(SigCheck {
        item,
        rule: Rule::Signature,
        message: entry.hash.0,
        sig: entry.sig,
        key: *entry.signer.verifying_key(),
    });
    if let Some((key, sig, digest)) = &entry.attestation {
        sigs.push(SigCheck {
            item,
            rule: Rule::Attestation,
            message: *digest,
            sig: *sig,
            key: *key.verifying_key(),
        });
    }
    if let Some(row) = row {
        let columns = Columns {
            hash: entry.hash,
            stream: &entry.stream,
            version: entry.version,
            event_type: &entry.event_type,
            recorded_at: entry.recorded_at,
            occurred_at: entry.occurred_at,
        };
        check_columns(pos, row, &columns, &mut problems);
    }
    Checked {
        entry: Some(Summary {
            seq: entry.seq,
            ledger: entry.ledger,
            prev: entry.prev,
            hash: entry.hash,
            recorded_at: entry.recorded_at,
            signer: entry.signer,
            attester: entry.attestation.map(|(key, _, _)| key),
            stream: entry.stream,
            version: entry.version,
            actor: entry.actor,
            key_change: Ok(None),
        }),
        problems,
    }
}

/// The full path: every rule, each violation worded for the user.
pub(super) fn check_full(
    pos: u64,
    item: usize,
    line: String,
    row: Option<Row>,
    sigs: &mut Vec<SigCheck>,
) -> Checked {
    let mut problems = Vec::new();
    // The checks on the object as read come first; then it is taken apart, without copies,
    // for the typed fields.
    if line.len() > entry::ENTRY_LINE_BYTES_MAX {
        problems.push((
            Rule::Format,
            format!(
                "unreadable entry: {}",
                entry::EntryError::LineTooLong(line.len())
            ),
        ));
        return Checked {
            entry: None,
            problems,
        };
    }
    let raw = match crate::canonical::parse_strict(line.as_bytes()) {
        Ok(raw) => raw,
        Err(e) => {
            problems.push((Rule::Format, format!("unreadable entry: {e}")));
            return Checked {
                entry: None,
                problems,
            };
        }
    };
    if entry::layout_line(&raw) != line {
        let msg = "line differs from the stored layout of its own content";
        problems.push((Rule::Layout, msg.into()));
    }
    let digest = raw.get("event").map(entry::event_digest);
    let hash = entry::entry_hash(&raw);
    let entry = match Entry::from_owned(raw) {
        Ok(entry) => entry,
        Err(e) => {
            problems.push((Rule::Format, format!("unreadable entry: {e}")));
            return Checked {
                entry: None,
                problems,
            };
        }
    };
    match hash {
        Ok(hash) if hash == entry.hash => {}
        Ok(hash) => problems.push((
            Rule::Hash,
            format!("hash {} does not recompute (got {hash})", entry.hash),
        )),
        Err(e) => problems.push((Rule::Hash, e.to_string())),
    }
    queue_signatures(item, &entry, digest, sigs, &mut problems);
    if let Some(row) = row {
        let columns = Columns {
            hash: entry.hash,
            stream: entry.event.stream(),
            version: entry.event.version(),
            event_type: entry.event.event_type(),
            recorded_at: entry.recorded_at,
            occurred_at: entry.event.occurred_at(),
        };
        check_columns(pos, &row, &columns, &mut problems);
    }
    Checked {
        entry: Some(Summary::of(entry)),
        problems,
    }
}

fn queue_signatures(
    item: usize,
    entry: &Entry,
    digest: Option<Result<[u8; 32], entry::EntryError>>,
    sigs: &mut Vec<SigCheck>,
    problems: &mut Vec<(Rule, String)>,
) {
    sigs.push(SigCheck {
        item,
        rule: Rule::Signature,
        message: entry.hash.0,
        sig: entry.sig,
        key: *entry.signer.verifying_key(),
    });
    let Some(att) = &entry.attestation else {
        return;
    };
    match digest.unwrap_or(Err(entry::EntryError::Unknown("event".into()))) {
        Ok(digest) => sigs.push(SigCheck {
            item,
            rule: Rule::Attestation,
            message: digest,
            sig: att.sig,
            key: *att.key.verifying_key(),
        }),
        Err(e) => problems.push((Rule::Attestation, e.to_string())),
    }
}

/// What the stored columns must repeat of the entry.
struct Columns<'e> {
    hash: ChainHash,
    stream: &'e str,
    version: u64,
    event_type: &'e str,
    recorded_at: Timestamp,
    occurred_at: Timestamp,
}

fn check_columns(pos: u64, row: &Row, entry: &Columns<'_>, problems: &mut Vec<(Rule, String)>) {
    let columns = [
        ("seq", row.seq == pos),
        ("hash", row.hash == entry.hash),
        ("stream", row.stream == entry.stream),
        ("version", row.version == entry.version),
        ("type", row.event_type == entry.event_type),
        (
            "recorded_at",
            row.recorded_at_micros == entry.recorded_at.micros(),
        ),
        (
            "occurred_at",
            row.occurred_at_micros == entry.occurred_at.micros(),
        ),
    ];
    for (name, ok) in columns {
        if !ok {
            let msg = format!("column {name} disagrees with the entry");
            problems.push((Rule::Column, msg));
        }
    }
}

/// Items whose signature fails: one batch verification, and one by one only when it fails.
fn failed_signatures(sigs: &[SigCheck]) -> Vec<(usize, Rule)> {
    if sigs.is_empty() {
        return Vec::new();
    }
    let messages: Vec<&[u8]> = sigs.iter().map(|s| s.message.as_slice()).collect();
    let signatures: Vec<Signature> = sigs.iter().map(|s| s.sig).collect();
    let keys: Vec<VerifyingKey> = sigs.iter().map(|s| s.key).collect();
    if ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok() {
        return Vec::new();
    }
    sigs.iter()
        .filter(|s| {
            let key = crate::keys::PublicKey::from_verifying(s.key);
            !key.verify(&s.message, &s.sig)
        })
        .map(|s| (s.item, s.rule))
        .collect()
}

type Job = (u64, Vec<Input>, mpsc::Sender<Done>);

/// One thread per core, fed through a short queue so that memory stays bounded.
pub(super) struct Pool {
    jobs: Option<mpsc::SyncSender<Job>>,
    workers: Vec<std::thread::JoinHandle<()>>,
}

impl Pool {
    pub(super) fn start() -> Self {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let (jobs, queue) = mpsc::sync_channel::<Job>(threads);
        let queue = Arc::new(Mutex::new(queue));
        let workers = (0..threads)
            .map(|_| {
                let queue = queue.clone();
                std::thread::spawn(move || loop {
                    let job = match queue.lock() {
                        Ok(q) => q.recv(),
                        Err(_) => return,
                    };
                    let Ok((start, inputs, reply)) = job else {
                        return;
                    };
                    // The walk may have stopped listening; the result is then not needed.
                    let _ = reply.send(check_chunk(start, inputs));
                })
            })
            .collect();
        Self {
            jobs: Some(jobs),
            workers,
        }
    }

    /// Queues a chunk (waiting while the queue is full) and returns where its result arrives.
    pub(super) fn submit(&self, start: u64, inputs: Vec<Input>) -> mpsc::Receiver<Done> {
        let (reply, result) = mpsc::channel();
        let unsent = match &self.jobs {
            Some(jobs) => jobs.send((start, inputs, reply)).err().map(|e| e.0),
            None => Some((start, inputs, reply)),
        };
        // No worker left (one panicked): check here rather than lose the chunk.
        if let Some((start, inputs, reply)) = unsent {
            let _ = reply.send(check_chunk(start, inputs));
        }
        result
    }

    /// The number of worker threads.
    pub(super) fn threads(&self) -> usize {
        self.workers.len()
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        drop(self.jobs.take());
        for worker in std::mem::take(&mut self.workers) {
            let _ = worker.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{Event, Unsealed};
    use crate::keys::SecretKey;
    use proptest::prelude::*;

    const VECTORS: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/vectors/ledger-v1/entries.jsonl"
    );

    /// Sealed lines with escapes, non-ASCII keys, nesting, meta and attestations, plus the
    /// vector ledger's lines.
    fn lines() -> Vec<String> {
        let key = SecretKey::from_seed(&[2; 32]);
        let author = SecretKey::from_seed(&[5; 32]);
        let t = Timestamp::parse("2026-03-01T09:55:00.000000Z").unwrap();
        let payloads = [
            serde_json::json!({}),
            serde_json::json!({"likelihood": 4, "impact": -5, "zero": 0, "max": 9_007_199_254_740_991i64}),
            serde_json::json!({
                "title": "Quote \" back\\slash \n new line \u{1} \u{1f} é 😀 \u{7f}",
                "z": [1, -2, {"b": null, "a": true, "c": false}, [], {}],
                "\u{e000}": "private", "😀": "astral", "a": "ascii", "\n": "control key",
                "é": {"nested": {"deeper": ["x"]}},
            }),
        ];
        let mut out: Vec<String> = std::fs::read_to_string(VECTORS)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        for (i, data) in payloads.iter().enumerate() {
            for attested in [false, true] {
                let mut event = Event::new(
                    "risk/R-7",
                    i as u64 + 1,
                    "risk.assessed",
                    2,
                    t,
                    "user:alice@acme.example",
                    data.as_object().unwrap().clone(),
                )
                .unwrap();
                if i == 1 {
                    let meta = serde_json::json!({"correlation": "c-1", "request": "r\t2"});
                    event = event.with_meta(meta.as_object().unwrap().clone()).unwrap();
                }
                let attestation = attested.then(|| event.attest(&author).unwrap());
                let entry = Unsealed {
                    ledger: "acme.example/sms".into(),
                    seq: 17 + i as u64,
                    prev: ChainHash([9; 32]),
                    recorded_at: Timestamp::parse("2026-03-01T10:00:01.234567Z").unwrap(),
                    event,
                    attestation,
                }
                .seal(&key)
                .unwrap();
                out.push(entry.to_line());
            }
        }
        out
    }

    type SigKey = (usize, Rule, [u8; 32], [u8; 64], [u8; 32]);

    fn sig_keys(sigs: &[SigCheck]) -> Vec<SigKey> {
        sigs.iter()
            .map(|s| {
                (
                    s.item,
                    s.rule,
                    s.message,
                    s.sig.to_bytes(),
                    s.key.to_bytes(),
                )
            })
            .collect()
    }

    /// Whenever the fast path accepts a line, the full path finds nothing wrong with it and
    /// reads the same entry, the same signatures and the same stored columns.
    fn agrees(line: &str) -> bool {
        let row = Row {
            seq: 17,
            hash: ChainHash([1; 32]),
            stream: "risk/R-7".into(),
            version: 2,
            event_type: "risk.assessed".into(),
            recorded_at_micros: 0,
            occurred_at_micros: 0,
            line: line.to_owned(),
        };
        let Some(fast) = super::super::fast::check(line, &mut Vec::new()) else {
            return false;
        };
        let (mut fast_sigs, mut full_sigs) = (Vec::new(), Vec::new());
        let fast = check_fast(17, 3, fast, Some(&row), &mut fast_sigs);
        let full = check_full(17, 3, line.to_owned(), Some(row), &mut full_sigs);
        assert_eq!(fast.problems, full.problems, "{line}");
        assert!(
            full.problems.iter().all(|(rule, _)| *rule == Rule::Column),
            "fast path accepted what the full path refuses: {:?}\n{line}",
            full.problems
        );
        assert_eq!(sig_keys(&fast_sigs), sig_keys(&full_sigs), "{line}");
        let (a, b) = (fast.entry.unwrap(), full.entry.unwrap());
        assert!(b.key_change.is_ok_and(|k| k.is_none()), "{line}");
        assert_eq!(
            (a.seq, &a.ledger, a.prev, a.hash, a.recorded_at, a.signer),
            (b.seq, &b.ledger, b.prev, b.hash, b.recorded_at, b.signer),
            "{line}"
        );
        assert_eq!(
            (a.attester, &a.stream, a.version, &a.actor),
            (b.attester, &b.stream, b.version, &b.actor),
            "{line}"
        );
        true
    }

    #[test]
    fn intact_lines_take_the_fast_path_except_key_events() {
        for line in lines() {
            let key_event = line.contains("\"stream\": \"ledger/");
            assert_eq!(agrees(&line), !key_event, "{line}");
        }
    }

    #[test]
    fn layout_deviations_leave_the_fast_path() {
        for line in &lines()[7..10] {
            assert!(agrees(line));
            for (from, to) in [
                (", \"seq\"", ",\"seq\""),
                ("\"seq\": ", "\"seq\":  "),
                ("\\\\", "\\u005c"),
                ("\\n", "\\u000a"),
                ("\\u001f", "\\u001F"),
                ("é", "\\u00e9"),
                ("/", "\\/"),
                ("\"impact\": -5", "\"impact\": -05"),
                ("\"zero\": 0", "\"zero\": -0"),
                ("\"zero\": 0", "\"zero\": 0.0"),
                ("9007199254740991", "9007199254740992"),
                ("{\"format\"", " {\"format\""),
                ("{\"format\": ", "{\"format\": \"x\", \"format\": "),
            ] {
                let changed = line.replacen(from, to, 1);
                if changed != *line {
                    assert!(!agrees(&changed), "{from} -> {to}");
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        #[test]
        fn the_fast_path_never_accepts_what_the_full_path_refuses(
            which in any::<prop::sample::Index>(),
            pos in any::<prop::sample::Index>(),
            op in 0u8..3,
            byte in prop::sample::select(b" \",:{}[]\\-0123456789abcdefnrtuxAZ+/=\x01\x7f".to_vec()),
        ) {
            let all = lines();
            let line = all[which.index(all.len())].as_bytes();
            let at = pos.index(line.len());
            let mut bytes = line.to_vec();
            match op {
                0 => bytes[at] = byte,
                1 => bytes.insert(at, byte),
                _ => { bytes.remove(at); }
            }
            if let Ok(text) = String::from_utf8(bytes) {
                // The assertions are inside; a refusal is always allowed.
                agrees(&text);
            }
        }
    }
}

//! The checks that need nothing from the entries before: parsing, the stored layout, the hash,
//! both signatures and the stored columns. They run on every core, a chunk of entries at a
//! time, while the walk applies the sequential rules to the chunks already checked.

use super::fast::FastEntry;
use super::Rule;
use crate::entry::{self, ChainHash, Entry};
use crate::keys::{KeyChange, PublicKey};
use crate::merkle::{Hash, NodeId};
use crate::store::{Row, Scan, ScanReader, StoreError};
use crate::time::Timestamp;
use ed25519_dalek::{Signature, VerifyingKey};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
#[derive(Default)]
pub(super) struct Done {
    pub(super) items: Vec<Checked>,
    pub(super) signatures: u64,
    /// The stored tree nodes a read chunk's positions complete, as read with it.
    pub(super) nodes: StoredNodes,
    /// The read of the chunk failed; nothing of it was checked.
    pub(super) failed: Option<StoreError>,
}

/// A chunk to check: entries fed, or positions the worker reads itself.
pub(super) enum Work {
    Inputs(Vec<Input>),
    Read { count: u64, scan: Arc<Scanning> },
}

/// A store's blocking reads, shared by the workers for one walk.
pub(super) struct Scanning {
    pub(super) source: Arc<dyn Scan>,
    /// Set by the first read that fails, so that no more positions are handed out.
    pub(super) failed: AtomicBool,
    /// Positions read that held no row.
    pub(super) missing: AtomicU64,
}

/// Stored tree nodes by id, None where absent.
type StoredNodes = Vec<(NodeId, Option<Hash>)>;

/// A worker's read connection, kept for the chunks that follow, with what it reads.
type Reader = Option<(Arc<Scanning>, Box<dyn ScanReader>)>;

fn run(start: u64, work: Work, reader: &mut Reader) -> Done {
    match work {
        Work::Inputs(inputs) => check_chunk(start, inputs),
        Work::Read { count, scan } => match read_chunk(start, count, &scan, reader) {
            Ok((inputs, nodes)) => Done {
                nodes,
                ..check_chunk(start, inputs)
            },
            Err(e) => {
                scan.failed.store(true, Ordering::Relaxed);
                // The connection may be what failed: the next read opens another.
                *reader = None;
                Done {
                    failed: Some(e),
                    ..Done::default()
                }
            }
        },
    }
}

/// Reads positions `start..start + count` and the stored nodes they complete. A position with
/// no stored row still takes its seq, as an unreadable entry.
fn read_chunk(
    start: u64,
    count: u64,
    scan: &Arc<Scanning>,
    reader: &mut Reader,
) -> Result<(Vec<Input>, StoredNodes), StoreError> {
    let conn = match reader {
        Some((of, conn)) if Arc::ptr_eq(of, scan) => conn,
        slot => &mut slot.insert((scan.clone(), scan.source.open()?)).1,
    };
    let end = start.saturating_add(count);
    let rows = conn.rows(start, count)?;
    let ids = super::nodes_completed_by(start, end);
    let stored = conn.nodes(&ids)?;
    let found = rows.len() as u64;
    scan.missing
        .fetch_add(count.saturating_sub(found), Ordering::Relaxed);
    let mut rows = rows.into_iter().peekable();
    let inputs = (start..end)
        .map(|pos| match rows.next_if(|row| row.seq == pos) {
            Some(row) => Input::Row(row),
            None => Input::Bad("no entry is stored at this seq".into()),
        })
        .collect();
    Ok((inputs, ids.into_iter().zip(stored).collect()))
}

pub(super) struct SigCheck {
    item: usize,
    rule: Rule,
    message: [u8; 32],
    sig: Signature,
    key: VerifyingKey,
}

impl SigCheck {
    /// A signature of the entry at `item` to check in its chunk's batch.
    fn of(item: usize, rule: Rule, message: [u8; 32], sig: Signature, key: &PublicKey) -> Self {
        Self {
            item,
            rule,
            message,
            sig,
            key: *key.verifying_key(),
        }
    }
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
        ..Done::default()
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
    sigs.push(SigCheck::of(
        item,
        Rule::Signature,
        entry.hash.0,
        entry.sig,
        &entry.signer,
    ));
    if let Some((key, sig, digest)) = &entry.attestation {
        sigs.push(SigCheck::of(item, Rule::Attestation, *digest, *sig, key));
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
    sigs.push(SigCheck::of(
        item,
        Rule::Signature,
        entry.hash.0,
        entry.sig,
        &entry.signer,
    ));
    let Some(att) = &entry.attestation else {
        return;
    };
    match digest.unwrap_or(Err(entry::EntryError::Unknown("event".into()))) {
        Ok(digest) => sigs.push(SigCheck::of(
            item,
            Rule::Attestation,
            digest,
            att.sig,
            &att.key,
        )),
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
    if sigs.is_empty() || batch_verifies(sigs) {
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

/// Batch verification that coalesces the terms of each distinct key (ed25519-zebra): a chunk is
/// signed by the node key and a few author keys, so the multiscalar multiplication has about one
/// point per signature instead of two. Zebra follows ZIP215, which accepts encodings that strict
/// RFC 8032 verification refuses; any such signature or key fails the batch here instead, so
/// that the per-signature check judges it exactly as before. The equation is the cofactored one
/// of RFC 8032 §5.1.7.
fn batch_verifies(sigs: &[SigCheck]) -> bool {
    let mut batch = ed25519_zebra::batch::Verifier::new();
    for s in sigs {
        if !strict_signature(&s.sig) || !strict_key(&s.key) {
            return false;
        }
        let key = ed25519_zebra::VerificationKeyBytes::from(s.key.to_bytes());
        batch.queue((key, s.sig, &s.message[..]));
    }
    batch.verify(rand::thread_rng()).is_ok()
}

/// `s` below the group order; `R` a canonical encoding of a point that is not of small order
/// (byte checks: a point decompression would cost a tenth of the signature's share of the batch).
fn strict_signature(sig: &Signature) -> bool {
    let r = sig.r_bytes();
    canonical_y(r) && !small_order_y(r) && below_group_order(sig.s_bytes())
}

/// l = 2^252 + 27742317777372353535851937790883648493, little endian.
const GROUP_ORDER: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// s < l, compared from the most significant byte (a reduction would cost more).
fn below_group_order(s: &[u8; 32]) -> bool {
    s.iter().rev().cmp(GROUP_ORDER.iter().rev()) == std::cmp::Ordering::Less
}

/// A canonical encoding (y < p) of a point with no small-order component. Checking for
/// torsion costs a scalar multiplication, so each key's verdict is kept per thread: a ledger has
/// few keys.
fn strict_key(key: &VerifyingKey) -> bool {
    thread_local! {
        static JUDGED: RefCell<HashMap<[u8; 32], bool>> = RefCell::new(HashMap::new());
    }
    const JUDGED_MAX: usize = 1024;
    // Most signatures in a row are by the same key: the last one judged is checked first.
    thread_local! {
        static LAST: std::cell::Cell<Option<[u8; 32]>> = const { std::cell::Cell::new(None) };
    }
    let bytes = key.to_bytes();
    if LAST.with(|last| last.get() == Some(bytes)) {
        return true;
    }
    if let Some(ok) = JUDGED.with(|judged| judged.borrow().get(&bytes).copied()) {
        return ok;
    }
    let ok = canonical_y(&bytes) && !key.is_weak() && key.to_edwards().is_torsion_free();
    if ok {
        LAST.with(|last| last.set(Some(bytes)));
    }
    JUDGED.with(|judged| {
        let mut judged = judged.borrow_mut();
        if judged.len() >= JUDGED_MAX {
            judged.clear();
        }
        judged.insert(bytes, ok);
    });
    ok
}

/// Whether the y coordinate of a compressed Edwards point (little endian, the top bit being
/// the sign of x) is below p = 2^255 - 19.
fn canonical_y(point: &[u8; 32]) -> bool {
    let at_least_p =
        point[0] >= 0xed && point[1..31].iter().all(|&b| b == 0xff) && point[31] & 0x7f == 0x7f;
    !at_least_p
}

/// The y coordinates of the eight points of small order (0, 1, -1 and ±y of the points of order
/// 8): a canonical y among them decompresses to a small-order point whatever the sign bit.
const SMALL_ORDER_Y: [[u8; 32]; 5] = [
    [0; 32],
    {
        let mut one = [0; 32];
        one[0] = 1;
        one
    },
    {
        let mut minus_one = [0xff; 32];
        minus_one[0] = 0xec;
        minus_one[31] = 0x7f;
        minus_one
    },
    [
        0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67,
        0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac,
        0x03, 0x7a,
    ],
    [
        0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98,
        0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53,
        0xfc, 0x05,
    ],
];

/// Whether a canonically encoded point is of small order.
fn small_order_y(point: &[u8; 32]) -> bool {
    let mut y = *point;
    y[31] &= 0x7f;
    SMALL_ORDER_Y.contains(&y)
}

type Job = (u64, Work, mpsc::Sender<Done>);

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
                std::thread::spawn(move || {
                    let mut reader = None;
                    loop {
                        let job = match queue.lock() {
                            Ok(q) => q.recv(),
                            Err(_) => return,
                        };
                        let Ok((start, work, reply)) = job else {
                            return;
                        };
                        // The walk may have stopped listening; the result is then not needed.
                        let _ = reply.send(run(start, work, &mut reader));
                    }
                })
            })
            .collect();
        Self {
            jobs: Some(jobs),
            workers,
        }
    }

    /// Queues a chunk (waiting while the queue is full) and returns where its result arrives.
    pub(super) fn submit(&self, start: u64, work: Work) -> mpsc::Receiver<Done> {
        let (reply, result) = mpsc::channel();
        let unsent = match &self.jobs {
            Some(jobs) => jobs.send((start, work, reply)).err().map(|e| e.0),
            None => Some((start, work, reply)),
        };
        // No worker left (one panicked): check here rather than lose the chunk.
        if let Some((start, work, reply)) = unsent {
            let _ = reply.send(run(start, work, &mut None));
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
    use crate::keys::{PublicKey, SecretKey};
    use curve25519_dalek::edwards::EdwardsPoint;
    use curve25519_dalek::Scalar;
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

    /// Signatures made by hand, for the encodings no honest signer produces.
    mod forged {
        use super::super::*;
        use curve25519_dalek::constants::ED25519_BASEPOINT_POINT as B;
        use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
        use curve25519_dalek::Scalar;
        use sha2::{Digest as _, Sha512};

        pub(super) fn scalar(seed: u8) -> Scalar {
            let wide: [u8; 64] = Sha512::digest([seed]).into();
            Scalar::from_bytes_mod_order_wide(&wide)
        }

        /// k = H(R || A || M) mod l.
        pub(super) fn k(r: &[u8; 32], key: &[u8; 32], msg: &[u8]) -> Scalar {
            let wide: [u8; 64] = Sha512::new()
                .chain_update(r)
                .chain_update(key)
                .chain_update(msg)
                .finalize()
                .into();
            Scalar::from_bytes_mod_order_wide(&wide)
        }

        pub(super) fn point(bytes: [u8; 32]) -> EdwardsPoint {
            CompressedEdwardsY(bytes).decompress().unwrap()
        }

        pub(super) fn order8() -> EdwardsPoint {
            point(SMALL_ORDER_Y[3])
        }

        pub(super) fn key(p: &EdwardsPoint) -> VerifyingKey {
            VerifyingKey::from_bytes(&p.compress().to_bytes()).unwrap()
        }

        /// A signature with the given R encoding and s.
        pub(super) fn sig(r: [u8; 32], s: [u8; 32]) -> Signature {
            let mut bytes = [0; 64];
            bytes[..32].copy_from_slice(&r);
            bytes[32..].copy_from_slice(&s);
            Signature::from_bytes(&bytes)
        }

        /// Signs `msg` for the key `a·B + torsion`, R given as its (possibly non-canonical)
        /// encoding of the point `r·B + r_torsion`: s = r + k·a, which the cofactored equation
        /// accepts whatever the torsion.
        pub(super) fn sign(
            a: Scalar,
            torsion: EdwardsPoint,
            r: Scalar,
            r_bytes: Option<[u8; 32]>,
            msg: &[u8; 32],
        ) -> (VerifyingKey, Signature) {
            let key = key(&(B * a + torsion));
            let r_bytes = r_bytes.unwrap_or_else(|| (B * r).compress().to_bytes());
            let k = k(&r_bytes, key.as_bytes(), msg);
            (key, sig(r_bytes, (r + k * a).to_bytes()))
        }
    }

    fn check(item: usize, key: VerifyingKey, message: [u8; 32], sig: Signature) -> SigCheck {
        SigCheck {
            item,
            rule: Rule::Signature,
            message,
            sig,
            key,
        }
    }

    /// What ZIP215 batch verification alone says of the checks.
    fn zebra_accepts(sigs: &[SigCheck]) -> bool {
        let mut batch = ed25519_zebra::batch::Verifier::new();
        for s in sigs {
            let key = ed25519_zebra::VerificationKeyBytes::from(s.key.to_bytes());
            batch.queue((key, s.sig, &s.message[..]));
        }
        batch.verify(rand::thread_rng()).is_ok()
    }

    /// A chunk's worth of honest signatures by a node key and several attesters.
    fn honest(count: usize) -> Vec<SigCheck> {
        let node = SecretKey::from_seed(&[2; 32]);
        let authors: Vec<SecretKey> = (10..15).map(|s| SecretKey::from_seed(&[s; 32])).collect();
        let mut sigs = Vec::new();
        for i in 0..count {
            let message = *blake3::hash(&i.to_le_bytes()).as_bytes();
            sigs.push(check(
                i,
                *node.public().verifying_key(),
                message,
                node.sign(&message),
            ));
            if i % 3 == 0 {
                let author = &authors[i % authors.len()];
                let digest = *blake3::hash(&message).as_bytes();
                sigs.push(SigCheck {
                    item: i,
                    rule: Rule::Attestation,
                    message: digest,
                    sig: author.sign(&digest),
                    key: *author.public().verifying_key(),
                });
            }
        }
        sigs
    }

    #[test]
    fn mixed_keys_pass_the_batch() {
        let sigs = honest(300);
        assert!(batch_verifies(&sigs));
        assert!(failed_signatures(&sigs).is_empty());
    }

    #[test]
    fn a_forged_signature_names_exactly_its_item() {
        for forged in [0, 6, 150] {
            let mut sigs = honest(200);
            let at = sigs
                .iter()
                .position(|s| s.item == forged && s.rule == Rule::Attestation)
                .unwrap();
            // Signed by the right key over another message.
            let other = SecretKey::from_seed(&[10; 32]).sign(&[0xaa; 32]);
            sigs[at].sig = other;
            assert!(!zebra_accepts(&sigs));
            assert_eq!(failed_signatures(&sigs), vec![(forged, Rule::Attestation)]);
            // The entry signature of the next item, by a key that is not its signer.
            let mut sigs = honest(200);
            let at = sigs.iter().position(|s| s.item == forged + 1).unwrap();
            sigs[at].sig = SecretKey::from_seed(&[99; 32]).sign(&sigs[at].message);
            assert_eq!(
                failed_signatures(&sigs),
                vec![(forged + 1, Rule::Signature)]
            );
        }
    }

    /// Each case is accepted by ZIP215 batch verification alone; here it fails the batch, and
    /// the per-signature check (strict RFC 8032 or dalek's) then decides it as before.
    fn refused_from_the_batch(key: VerifyingKey, message: [u8; 32], sig: Signature) -> bool {
        let mut sigs = honest(40);
        sigs.push(check(99, key, message, sig));
        assert!(zebra_accepts(&sigs), "ZIP215 alone accepts the case");
        assert!(!batch_verifies(&sigs));
        let single = PublicKey::from_verifying(key).verify(&message, &sig);
        let named = failed_signatures(&sigs);
        assert_eq!(named.is_empty(), single);
        !single
    }

    #[test]
    fn non_canonical_r_is_refused() {
        // The identity encoded with y = p + 1; the point decompresses, the encoding is not RFC
        // 8032's. s = k·a makes [s]B = R + [k]A hold exactly.
        let mut r = [0xff; 32];
        r[0] = 0xee;
        r[31] = 0x7f;
        assert!(!canonical_y(&r) && !small_order_y(&r));
        let a = forged::scalar(1);
        let msg = [3; 32];
        let (key, sig) = forged::sign(a, EdwardsPoint::default(), Scalar::ZERO, Some(r), &msg);
        assert!(refused_from_the_batch(key, msg, sig));
    }

    #[test]
    fn small_order_r_is_refused() {
        // R of order 8 with an honest key: the cofactor clears it; the per-signature check
        // refuses.
        let a = forged::scalar(2);
        let msg = [4; 32];
        let r = SMALL_ORDER_Y[3];
        let (key, sig) = forged::sign(a, EdwardsPoint::default(), Scalar::ZERO, Some(r), &msg);
        assert!(refused_from_the_batch(key, msg, sig));
        // The identity as R, s = k·a: strict verification refuses it, dalek's plain
        // verification (and so the fallback, as before) accepts it.
        let mut one = [0; 32];
        one[0] = 1;
        let (key, sig) = forged::sign(a, EdwardsPoint::default(), Scalar::ZERO, Some(one), &msg);
        assert!(strict_key(&key) && !strict_signature(&sig));
        refused_from_the_batch(key, msg, sig);
    }

    #[test]
    fn s_at_or_above_the_group_order_is_refused() {
        let key = SecretKey::from_seed(&[6; 32]);
        let msg = [5; 32];
        let good = key.sign(&msg);
        // s + l still fits in 32 bytes and names the same scalar mod l.
        let l = GROUP_ORDER;
        let s = good.s_bytes();
        let mut wide = [0u8; 33];
        let mut carry = 0u16;
        for i in 0..32 {
            let sum = u16::from(s[i]) + u16::from(l[i]) + carry;
            wide[i] = sum as u8;
            carry = sum >> 8;
        }
        wide[32] = carry as u8;
        assert_eq!(wide[32], 0);
        let bad = forged::sig(*good.r_bytes(), wide[..32].try_into().unwrap());
        // The byte comparison agrees with curve25519-dalek's reduction around l.
        let mut below = l;
        below[0] -= 1;
        for s in [
            l,
            below,
            [0xff; 32],
            [0; 32],
            wide[..32].try_into().unwrap(),
            *s,
        ] {
            let canonical = bool::from(Scalar::from_canonical_bytes(s).is_some());
            assert_eq!(below_group_order(&s), canonical, "{s:?}");
        }
        assert!(!strict_signature(&bad));
        let mut sigs = honest(40);
        sigs.push(check(99, *key.public().verifying_key(), msg, bad));
        assert!(!batch_verifies(&sigs));
        assert_eq!(failed_signatures(&sigs), vec![(99, Rule::Signature)]);
    }

    #[test]
    fn weak_and_torsioned_keys_are_refused() {
        let msg = [6; 32];
        // A key of order 8 and R of order 8, s = 0: the cofactored equation holds.
        let t = forged::order8();
        let key = forged::key(&t);
        let sig = forged::sig(t.compress().to_bytes(), [0; 32]);
        assert!(!strict_key(&key));
        refused_from_the_batch(key, msg, sig);
        // An honest key plus a point of order 8, signed with its scalar: only the cofactor
        // makes it verify, so the cofactorless per-signature check refuses it unless 8 | k.
        let a = forged::scalar(3);
        let named = (0u8..8)
            .filter(|&m| {
                let msg = [m; 32];
                let (key, sig) = forged::sign(a, t, forged::scalar(4 + m), None, &msg);
                assert!(!strict_key(&key) && strict_signature(&sig));
                refused_from_the_batch(key, msg, sig)
            })
            .count();
        assert!(named >= 4, "{named}");
    }

    #[test]
    fn the_byte_checks_match_the_points() {
        use curve25519_dalek::edwards::CompressedEdwardsY;
        // Five y values, two signs each: exactly the eight points of small order, which is all
        // of them (the curve's torsion group has order 8).
        let mut points = std::collections::HashSet::new();
        for y in SMALL_ORDER_Y {
            for sign in [0, 0x80] {
                let mut bytes = y;
                bytes[31] |= sign;
                let p = CompressedEdwardsY(bytes).decompress().unwrap();
                assert!(p.is_small_order() && canonical_y(&bytes) && small_order_y(&bytes));
                points.insert(p.compress().to_bytes());
            }
        }
        assert_eq!(points.len(), 8);
        // Honest points are neither; the largest canonical y is canonical, y >= p is not.
        for seed in 0..64 {
            let p = curve25519_dalek::constants::ED25519_BASEPOINT_POINT * forged::scalar(seed);
            let bytes = p.compress().to_bytes();
            assert!(canonical_y(&bytes) && !small_order_y(&bytes));
        }
        let mut p_minus_1 = [0xff; 32];
        p_minus_1[0] = 0xec;
        p_minus_1[31] = 0x7f;
        assert!(canonical_y(&p_minus_1));
        for low in [0xed, 0xee, 0xff] {
            for sign in [0, 0x80] {
                let mut bytes = p_minus_1;
                bytes[0] = low;
                bytes[31] |= sign;
                assert!(!canonical_y(&bytes));
            }
        }
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

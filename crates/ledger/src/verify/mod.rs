//! The verifier (LEDGER-FORMAT.md §5–§7). It walks entries in seq order in bounded memory,
//! checks every rule, and reports every violation with its seq and rule, not just the first.
//! Parsing, hashes and signatures are checked a chunk at a time on every core (`work`), with
//! batch signature verification and a per-signature fallback that names the bad entry; the
//! rules that follow the chain (links, versions, which key was active when) are applied here,
//! in seq order, to chunks already checked.

mod fast;
mod work;

use crate::entry::{ChainHash, ZERO_HASH};
use crate::keys::{KeyChange, KeyRegistry, Purpose};
use crate::merkle::{self, Frontier, Hash, NodeId, NodeMap};
use crate::note::SignedCheckpoint;
use crate::store::{Row, Scan, StoreError};
use crate::time::Timestamp;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use work::{Done, Input, Pool, Scanning, Summary, Work};

/// Violations kept in a report; past this only the count grows, so that a wholly corrupt
/// ledger cannot exhaust memory.
pub const VIOLATIONS_KEPT_MAX: usize = 10_000;
/// Entries checked per chunk on a worker thread. Larger chunks make batch verification a little
/// cheaper per signature but, with 2048, a million-stream ledger's peak memory passed 256 MiB.
const CHUNK_ENTRIES: usize = 1024;

/// The rule a violation breaks (§5 numbering where there is one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    /// §5.1: unreadable line, wrong format or ledger, seq not contiguous.
    Format,
    /// §5.2: `prev` does not link.
    Chain,
    /// §5.3: `hash` does not recompute.
    Hash,
    /// §5.4: entry signature or signer.
    Signature,
    /// §5.5: `recorded_at` goes backwards.
    Time,
    /// §5.6: stream version not one more than before.
    Version,
    /// §5.7: attestation.
    Attestation,
    /// The line is not in the stored layout (a byte changed without changing the JSON).
    Layout,
    /// A stored column disagrees with the entry line.
    Column,
    /// A stored Merkle node disagrees with the entries.
    Tree,
    /// A checkpoint does not match the tree or its signature fails.
    Checkpoint,
    /// The trusted checkpoint is not consistent with this ledger.
    Consistency,
    /// The bundle's manifest or entry count is wrong.
    Bundle,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rule::Format => "format",
            Rule::Chain => "chain",
            Rule::Hash => "hash",
            Rule::Signature => "signature",
            Rule::Time => "recorded_at",
            Rule::Version => "stream version",
            Rule::Attestation => "attestation",
            Rule::Layout => "layout",
            Rule::Column => "stored column",
            Rule::Tree => "merkle tree",
            Rule::Checkpoint => "checkpoint",
            Rule::Consistency => "consistency",
            Rule::Bundle => "bundle",
        })
    }
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The entry's seq, where the violation belongs to one.
    pub seq: Option<u64>,
    /// The rule.
    pub rule: Rule,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.seq {
            Some(seq) => write!(f, "seq {seq}: {}: {}", self.rule, self.message),
            None => write!(f, "{}: {}", self.rule, self.message),
        }
    }
}

/// The outcome of a verification.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The ledger's name, from the first entry.
    pub ledger: Option<String>,
    /// Entries walked.
    pub entries: u64,
    /// Merkle root over all entries walked.
    pub root: Hash,
    /// Checkpoints whose root and signature verified.
    pub checkpoints_verified: u64,
    /// Whether a trusted checkpoint was checked and is consistent.
    pub trusted_consistent: Option<bool>,
    /// The violations kept (at most [`VIOLATIONS_KEPT_MAX`]).
    pub violations: Vec<Violation>,
    /// All violations found, kept or not.
    pub violation_count: u64,
    /// Signatures checked (entry seals and attestations).
    pub signatures: u64,
}

impl Report {
    /// True when every rule held.
    pub fn is_ok(&self) -> bool {
        self.violation_count == 0
    }
}

/// A checkpoint to check once the walk reaches its size.
struct CheckpointCheck {
    label: String,
    note: Option<SignedCheckpoint>,
    trusted: bool,
}

/// Streams entries through every rule.
///
/// The thread that feeds it only reads and hands out chunks (or, with
/// [`Verifier::feed_scan`], only positions that the workers read themselves); the workers
/// check them and a walking thread of its own applies the sequential rules in seq order, so
/// that reading and checking the next entries overlaps with walking the ones before.
pub struct Verifier {
    walk: Walking,
    /// Entries handed to the workers so far (the next position to feed).
    fed: u64,
    /// Entries fed but not yet handed to the workers.
    chunk: Vec<Input>,
    pool: Pool,
    /// The store reads of [`Verifier::feed_scan`], shared with the workers.
    scanning: Option<Arc<Scanning>>,
}

/// Where the sequential rules' state is: here until the first chunk goes to the workers, then
/// on the walking thread until [`Verifier::finish`] takes it back.
enum Walking {
    Here(Box<Walk>),
    Thread {
        to_walk: mpsc::SyncSender<ToWalk>,
        thread: std::thread::JoinHandle<Option<Box<Walk>>>,
    },
    /// Only while switching.
    Gone,
}

/// In seq order, what the walking thread is to do.
enum ToWalk {
    Start(Box<Walk>),
    /// The result of the chunk whose first entry is at this position.
    Chunk(u64, mpsc::Receiver<Done>),
    /// A call made on the verifier after the walk started (a violation, stored nodes).
    Apply(Box<dyn FnOnce(&mut Walk) + Send>),
}

/// The state of the sequential rules.
struct Walk {
    report: Report,
    next_seq: u64,
    prev: ChainHash,
    last_recorded_at: Option<Timestamp>,
    registry: KeyRegistry,
    /// Each stream's version so far, keyed by 128 bits of the stream name's BLAKE3 hash: a
    /// ledger may hold as many streams as entries, and names would cost several times more.
    /// Two u64 rather than a u128: 24 bytes a slot instead of 32 (a u128 is 16-aligned), which
    /// is what sets the peak memory when the table doubles near a million streams.
    versions: HashMap<(u64, u64), u64>,
    frontier: Frontier,
    /// Stored tree nodes to compare as the walk completes them.
    stored_nodes: NodeMap<Option<Hash>>,
    checkpoints: BTreeMap<u64, Vec<CheckpointCheck>>,
    /// Nodes to keep for the trusted checkpoint's consistency proof.
    wanted_nodes: HashSet<NodeId>,
    kept_nodes: HashMap<NodeId, Hash>,
    trusted: Option<(u64, Hash)>,
    /// The first read that failed (see [`Verifier::feed_scan`]); the walk stops there.
    read_error: Option<StoreError>,
}

impl Default for Verifier {
    fn default() -> Self {
        Self::new()
    }
}

impl Verifier {
    /// A verifier at seq 0.
    pub fn new() -> Self {
        Self {
            walk: Walking::Here(Box::new(Walk::new())),
            fed: 0,
            chunk: Vec::with_capacity(CHUNK_ENTRIES),
            pool: Pool::start(),
            scanning: None,
        }
    }

    /// Runs `f` on the walk's state, in order with the entries fed before.
    fn apply(&mut self, f: impl FnOnce(&mut Walk) + Send + 'static) {
        match &mut self.walk {
            Walking::Here(walk) => f(walk),
            // A walking thread that is gone has failed; finish reports it.
            Walking::Thread { to_walk, .. } => {
                let _ = to_walk.send(ToWalk::Apply(Box::new(f)));
            }
            Walking::Gone => {}
        }
    }

    /// Records a violation.
    pub fn violation(&mut self, seq: Option<u64>, rule: Rule, message: impl Into<String>) {
        let message = message.into();
        self.apply(move |walk| walk.violation(seq, rule, message));
    }

    /// A signed checkpoint to check when the walk reaches its size.
    pub fn expect_checkpoint(&mut self, label: &str, text: &str) {
        let (label, text) = (label.to_owned(), text.to_owned());
        self.apply(move |walk| {
            walk.add_checkpoint(&label, &text, false);
        });
    }

    /// A checkpoint the auditor already trusts; `total` is the number of entries to be walked,
    /// so that the consistency proof's nodes can be kept as they pass.
    pub fn trust_checkpoint(&mut self, label: &str, text: &str, total: u64) {
        let (label, text) = (label.to_owned(), text.to_owned());
        self.apply(move |walk| walk.trust_checkpoint(&label, &text, total));
    }

    /// Feeds one bundle line (without its newline).
    pub fn feed_line(&mut self, line: String) {
        self.feed(Input::Line(line));
    }

    /// Feeds a position whose line could not be read, with the reason; it still takes a seq.
    pub fn feed_unreadable(&mut self, reason: String) {
        self.feed(Input::Bad(reason));
    }

    /// Feeds stored rows, with the stored tree nodes that they complete (see
    /// [`nodes_completed_by`]), so that the columns and the nodes are checked too.
    pub fn feed_rows(&mut self, rows: Vec<Row>, stored_nodes: Vec<(NodeId, Option<Hash>)>) {
        self.apply(move |walk| walk.stored_nodes.extend(stored_nodes));
        for row in rows {
            self.feed(Input::Row(row));
        }
    }

    /// Feeds positions `fed()..end` from a store's blocking reads: each worker reads the rows of
    /// the chunks it checks, and the stored tree nodes they complete, on a connection of its
    /// own that it keeps for the next chunks. A position with no stored row is reported as
    /// unreadable. Returns false, handing out no more positions, once a read has failed;
    /// [`Verifier::finish_reading`] then returns that error.
    pub fn feed_scan(&mut self, scan: &Arc<dyn Scan>, end: u64) -> bool {
        self.submit();
        let scanning = match &self.scanning {
            Some(s) if Arc::ptr_eq(&s.source, scan) => s.clone(),
            _ => self
                .scanning
                .insert(Arc::new(Scanning {
                    source: scan.clone(),
                    failed: AtomicBool::new(false),
                    missing: AtomicU64::new(0),
                }))
                .clone(),
        };
        while self.fed < end {
            if scanning.failed.load(Ordering::Relaxed) {
                return false;
            }
            let (start, count) = (self.fed, (end - self.fed).min(CHUNK_ENTRIES as u64));
            self.fed += count;
            let scan = scanning.clone();
            self.submit_work(start, Work::Read { count, scan });
        }
        !scanning.failed.load(Ordering::Relaxed)
    }

    /// Positions handed out by [`Verifier::feed_scan`] that the workers found without a row,
    /// so far.
    pub fn scan_missing(&self) -> u64 {
        self.scanning
            .as_ref()
            .map_or(0, |s| s.missing.load(Ordering::Relaxed))
    }

    /// Positions fed so far: the seq the next fed entry is expected to have.
    pub fn fed(&self) -> u64 {
        self.fed
    }

    fn feed(&mut self, input: Input) {
        self.chunk.push(input);
        self.fed += 1;
        if self.chunk.len() >= CHUNK_ENTRIES {
            self.submit();
        }
    }

    fn submit(&mut self) {
        if self.chunk.is_empty() {
            return;
        }
        let start = self.fed - self.chunk.len() as u64;
        let inputs = std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK_ENTRIES));
        self.submit_work(start, Work::Inputs(inputs));
    }

    fn submit_work(&mut self, start: u64, work: Work) {
        let result = self.pool.submit(start, work);
        if let Walking::Here(_) = self.walk {
            self.start_walking();
        }
        match &mut self.walk {
            // Blocks while the walk is that many chunks behind: they hold memory.
            Walking::Thread { to_walk, .. } => {
                let _ = to_walk.send(ToWalk::Chunk(start, result));
            }
            Walking::Here(walk) => walk.walk_result(start, &result),
            Walking::Gone => {}
        }
    }

    /// Moves the walk to a thread of its own; if no thread can be had, it stays here and
    /// each chunk is walked as soon as it is submitted.
    fn start_walking(&mut self) {
        let Walking::Here(walk) = std::mem::replace(&mut self.walk, Walking::Gone) else {
            return;
        };
        // Two chunks per worker keep every core busy; more would only hold memory.
        let (to_walk, queue) = mpsc::sync_channel::<ToWalk>(2 * self.pool.threads());
        let spawned = std::thread::Builder::new()
            .name("verify-walk".into())
            .spawn(move || walk_thread(queue));
        self.walk = match spawned {
            Ok(thread) => match to_walk.send(ToWalk::Start(walk)) {
                Ok(()) => Walking::Thread { to_walk, thread },
                Err(mpsc::SendError(ToWalk::Start(walk))) => Walking::Here(walk),
                Err(_) => Walking::Gone,
            },
            Err(e) => {
                tracing::warn!(error = %e, "no thread for the verifier's walk; walking inline");
                Walking::Here(walk)
            }
        };
    }

    /// Finishes the walk: flushes signatures, checks what checkpoints remain and the trusted
    /// checkpoint's consistency, and returns the report.
    pub fn finish(self) -> Report {
        match self.finish_reading() {
            Ok(report) => report,
            // Only a scan reads; whoever fed it calls finish_reading instead.
            Err(e) => {
                let mut walk = Walk::new();
                walk.violation(None, Rule::Format, e.to_string());
                walk.report
            }
        }
    }

    /// [`Verifier::finish`], or the error of a read that failed during [`Verifier::feed_scan`].
    pub fn finish_reading(mut self) -> Result<Report, StoreError> {
        self.submit();
        let walk = match std::mem::replace(&mut self.walk, Walking::Gone) {
            Walking::Here(walk) => Some(walk),
            Walking::Thread { to_walk, thread } => {
                drop(to_walk);
                thread.join().ok().flatten()
            }
            Walking::Gone => None,
        };
        match walk {
            Some(mut walk) => match walk.read_error.take() {
                Some(e) => Err(e),
                None => Ok(walk.finish()),
            },
            None => {
                let mut walk = Walk::new();
                walk.violation(None, Rule::Format, "the verifier's walking thread failed");
                Ok(walk.report)
            }
        }
    }
}

/// The walking thread: applies the sequential rules to each chunk as its result arrives, in
/// the order the chunks were fed.
fn walk_thread(queue: mpsc::Receiver<ToWalk>) -> Option<Box<Walk>> {
    let mut walk: Option<Box<Walk>> = None;
    for message in queue {
        match (message, walk.as_mut()) {
            (ToWalk::Start(started), _) => walk = Some(started),
            (ToWalk::Chunk(start, result), Some(walk)) => walk.walk_result(start, &result),
            (ToWalk::Apply(f), Some(walk)) => f(walk),
            (_, None) => {}
        }
    }
    walk
}

impl Walk {
    fn new() -> Self {
        Self {
            report: Report {
                root: merkle::empty_root(),
                ..Report::default()
            },
            next_seq: 0,
            prev: ZERO_HASH,
            last_recorded_at: None,
            registry: KeyRegistry::default(),
            versions: HashMap::new(),
            frontier: Frontier::new(),
            stored_nodes: NodeMap::default(),
            checkpoints: BTreeMap::new(),
            wanted_nodes: HashSet::new(),
            kept_nodes: HashMap::new(),
            trusted: None,
            read_error: None,
        }
    }

    fn violation(&mut self, seq: Option<u64>, rule: Rule, message: impl Into<String>) {
        self.report.violation_count += 1;
        if self.report.violations.len() < VIOLATIONS_KEPT_MAX {
            self.report.violations.push(Violation {
                seq,
                rule,
                message: message.into(),
            });
        }
    }

    fn trust_checkpoint(&mut self, label: &str, text: &str, total: u64) {
        if let Some(size) = self.add_checkpoint(label, text, true) {
            match merkle::consistency_nodes(size, total.max(size)) {
                Ok(ids) => self.wanted_nodes.extend(ids),
                Err(e) => self.violation(None, Rule::Consistency, format!("{label}: {e}")),
            }
        }
    }

    fn add_checkpoint(&mut self, label: &str, text: &str, trusted: bool) -> Option<u64> {
        match SignedCheckpoint::parse(text) {
            Ok(note) => {
                let size = note.checkpoint().size;
                if trusted {
                    self.trusted = Some((size, note.checkpoint().root));
                }
                self.checkpoints
                    .entry(size)
                    .or_default()
                    .push(CheckpointCheck {
                        label: label.to_owned(),
                        note: Some(note),
                        trusted,
                    });
                Some(size)
            }
            Err(e) => {
                self.violation(None, Rule::Checkpoint, format!("{label}: {e}"));
                None
            }
        }
    }

    /// Waits for a chunk's checks and walks it.
    fn walk_result(&mut self, start: u64, result: &mpsc::Receiver<Done>) {
        match result.recv() {
            Ok(done) => self.walk(start, done),
            Err(_) => self.violation(Some(start), Rule::Format, "a verification thread failed"),
        }
    }

    /// Applies the sequential rules to a checked chunk.
    fn walk(&mut self, start: u64, done: Done) {
        // After a failed read the positions no longer line up; the walk's result is the error.
        if self.read_error.is_some() {
            return;
        }
        if let Some(e) = done.failed {
            self.read_error = Some(e);
            return;
        }
        // Before the chunk's leaves: they complete these nodes.
        self.stored_nodes.extend(done.nodes);
        self.report.signatures += done.signatures;
        for (i, checked) in done.items.into_iter().enumerate() {
            let seq = start + i as u64;
            for (rule, message) in checked.problems {
                self.violation(Some(seq), rule, message);
            }
            match checked.entry {
                Some(entry) => self.check_entry(&entry),
                None => self.skip_unreadable(),
            }
        }
    }

    /// An unreadable line still occupies its seq; the chain resumes after it.
    fn skip_unreadable(&mut self) {
        self.prev = ZERO_HASH;
        self.next_seq += 1;
        // No leaf can be computed; the tree and checkpoints after it cannot verify.
        self.push_leaf([0; 32]);
        self.report.entries += 1;
        self.check_due_checkpoints();
    }

    fn push_leaf(&mut self, hash: Hash) {
        for (id, node) in self.frontier.push(hash) {
            if self.wanted_nodes.contains(&id) {
                self.kept_nodes.insert(id, node);
            }
            if let Some(stored) = self.stored_nodes.remove(&id) {
                if stored != Some(node) {
                    let seq = ((id.index + 1) << id.level) - 1;
                    let msg = format!(
                        "stored tree node level {} index {} differs from the entries",
                        id.level, id.index
                    );
                    self.violation(Some(seq), Rule::Tree, msg);
                }
            }
        }
    }

    fn check_entry(&mut self, entry: &Summary) {
        let seq = self.next_seq;
        self.check_position(entry, seq);
        self.check_signer(entry, seq);
        self.check_stream(entry, seq);
        self.check_attestation(entry, seq);
        if let Ok(Some(change)) = &entry.key_change {
            change.apply(&mut self.registry, seq);
        }
        self.prev = entry.hash;
        self.next_seq += 1;
        self.report.entries += 1;
        self.push_leaf(entry.hash.0);
        self.check_due_checkpoints();
    }

    fn check_position(&mut self, entry: &Summary, seq: u64) {
        if entry.seq != seq {
            self.violation(
                Some(seq),
                Rule::Format,
                format!("entry says seq {}, expected {seq}", entry.seq),
            );
        }
        match &self.report.ledger {
            None => self.report.ledger = Some(entry.ledger.clone()),
            Some(name) if *name != entry.ledger => {
                let msg = format!("ledger {:?} differs from {name:?}", entry.ledger);
                self.violation(Some(seq), Rule::Format, msg);
            }
            Some(_) => {}
        }
        if entry.prev != self.prev {
            self.violation(
                Some(seq),
                Rule::Chain,
                "prev does not link to the previous entry's hash",
            );
        }
        if let Some(last) = self.last_recorded_at {
            if entry.recorded_at < last {
                self.violation(
                    Some(seq),
                    Rule::Time,
                    format!("recorded_at {} is before {last}", entry.recorded_at),
                );
            }
        }
        self.last_recorded_at = Some(entry.recorded_at);
    }

    fn check_signer(&mut self, entry: &Summary, seq: u64) {
        if seq == 0 {
            match &entry.key_change {
                Ok(Some(KeyChange::Genesis { name, root_key })) => {
                    if *root_key != entry.signer {
                        self.violation(
                            Some(0),
                            Rule::Signature,
                            "genesis is not signed by its root key",
                        );
                    }
                    if *name != entry.ledger {
                        self.violation(
                            Some(0),
                            Rule::Format,
                            "genesis name differs from the ledger",
                        );
                    }
                }
                Ok(_) => self.violation(
                    Some(0),
                    Rule::Format,
                    "seq 0 is not a ledger.created genesis",
                ),
                Err(e) => self.violation(Some(0), Rule::Format, e.clone()),
            }
        } else if !self.registry.allows(&entry.signer, seq, Purpose::Entry) {
            let msg = format!("signer {} is not active for entries", entry.signer);
            self.violation(Some(seq), Rule::Signature, msg);
        }
    }

    fn check_stream(&mut self, entry: &Summary, seq: u64) {
        let stream = &entry.stream;
        let digest = blake3::hash(stream.as_bytes());
        let half = |at: usize| {
            let mut word = [0u8; 8];
            word.copy_from_slice(&digest.as_bytes()[at..at + 8]);
            u64::from_le_bytes(word)
        };
        let version = self.versions.entry((half(0), half(8))).or_insert(0);
        let before = *version;
        *version = entry.version;
        if entry.version != before + 1 {
            let msg = format!(
                "{stream} version {} does not follow {before}",
                entry.version
            );
            self.violation(Some(seq), Rule::Version, msg);
        }
    }

    fn check_attestation(&mut self, entry: &Summary, seq: u64) {
        if let Err(e) = &entry.key_change {
            self.violation(Some(seq), Rule::Format, e.clone());
        }
        let is_key_change = matches!(entry.key_change, Ok(Some(_)));
        let Some(key) = &entry.attester else {
            if is_key_change {
                self.violation(
                    Some(seq),
                    Rule::Attestation,
                    "key change without an admin attestation",
                );
            }
            return;
        };
        let allowed = if is_key_change {
            seq == 0 && *key == entry.signer || self.registry.allows(key, seq, Purpose::Admin)
        } else {
            self.registry.may_attest(key, seq, &entry.actor)
        };
        if !allowed {
            let msg = format!("key {key} may not attest this event of {}", entry.actor);
            self.violation(Some(seq), Rule::Attestation, msg);
        }
    }

    fn check_due_checkpoints(&mut self) {
        let size = self.frontier.size();
        let Some(checks) = self.checkpoints.remove(&size) else {
            return;
        };
        let root = self.frontier.root();
        for check in checks {
            self.check_checkpoint(size, &root, check);
        }
    }

    fn check_checkpoint(&mut self, size: u64, root: &Hash, check: CheckpointCheck) {
        let Some(note) = check.note else { return };
        let label = check.label;
        let name = self.report.ledger.clone().unwrap_or_default();
        if note.checkpoint().origin != name {
            self.violation(
                None,
                Rule::Checkpoint,
                format!(
                    "{label}: origin {:?} is not the ledger {name:?}",
                    note.checkpoint().origin
                ),
            );
        }
        let signed = self.registry.iter().any(|(key, _)| {
            self.registry.allows(key, size - 1, Purpose::Checkpoint)
                && note.verify(&name, key.verifying_key()).is_ok()
        });
        let rule = if check.trusted {
            Rule::Consistency
        } else {
            Rule::Checkpoint
        };
        if !signed {
            self.violation(
                None,
                rule,
                format!(
                    "{label}: no signature by a checkpoint key active at seq {}",
                    size - 1
                ),
            );
        }
        if note.checkpoint().root != *root {
            self.violation(
                None,
                rule,
                format!("{label}: root for size {size} differs from the entries' tree"),
            );
        } else if signed && !check.trusted {
            self.report.checkpoints_verified += 1;
        }
    }

    /// Checks what checkpoints remain and the trusted checkpoint's consistency, once every
    /// chunk is walked.
    fn finish(mut self) -> Report {
        self.report
            .violations
            .sort_by_key(|v| (v.seq.is_none(), v.seq));
        let size = self.frontier.size();
        for (at, checks) in std::mem::take(&mut self.checkpoints) {
            for check in checks {
                let rule = if check.trusted {
                    Rule::Consistency
                } else {
                    Rule::Checkpoint
                };
                self.violation(
                    None,
                    rule,
                    format!("{}: size {at} is beyond the {size} entries", check.label),
                );
            }
        }
        self.report.root = self.frontier.root();
        if let Some((m, root_m)) = self.trusted {
            let ok = m <= size && self.consistency_holds(m, size, &root_m);
            if !ok {
                self.violation(None, Rule::Consistency, format!("the trusted checkpoint of size {m} is not consistent with this ledger of {size} entries: history was rewritten"));
            }
            self.report.trusted_consistent = Some(
                ok && self
                    .report
                    .violations
                    .iter()
                    .all(|v| v.rule != Rule::Consistency),
            );
        }
        self.report
    }

    fn consistency_holds(&self, m: u64, n: u64, root_m: &Hash) -> bool {
        let proof = merkle::consistency_proof_from(m, n, |id| self.kept_nodes.get(&id).copied());
        proof.is_ok_and(|p| {
            merkle::verify_consistency(m, n, &p, root_m, &self.frontier.root()).is_ok()
        })
    }
}

/// The perfect tree nodes that entries `start..end` complete, in order: what a store must hold
/// for them.
pub fn nodes_completed_by(start: u64, end: u64) -> Vec<NodeId> {
    let mut ids = Vec::with_capacity(((end - start) * 2) as usize);
    for leaf in start..end {
        ids.push(NodeId::new(0, leaf));
        let mut level = 1u8;
        while level < 64 && (leaf + 1) % (1u64 << level) == 0 {
            ids.push(NodeId::new(level, ((leaf + 1) >> level) - 1));
            level += 1;
        }
    }
    ids
}
